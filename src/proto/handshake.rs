//! The opening of connections that are not clinical protocols — TLS, SMB,
//! HTTP, SSH, FTP, Telnet, RDP, VNC — and the datagrams of SNMP and TFTP,
//! read for what they say about the software and operating system at each
//! end and what the service exposes: the side door of a device that
//! carries no endpoint agent.
//!
//! A session hands a connection here when no clinical parser recognised
//! it. The first [`HANDSHAKE_BYTES`] of each direction are kept and read
//! again as they grow (the pure parsers of [`super::tls`], [`super::smb`]
//! and [`super::banner`] take a stream's start, or are fed in order); once
//! the opening is read, or the bytes run out, the connection is let go and
//! costs no more than flow accounting. Nothing past the opening is read: no
//! file, no page, no payload; from a login only the user name, never the
//! secret.
use super::banner::ftp::{FtpEvent, FtpSession};
use super::banner::snmp::{PduType, SnmpVersion};
use super::banner::telnet::{TelnetEvent, TelnetSession};
use super::banner::vnc::RfbVersion;
use super::banner::{self, http, rdp, snmp, ssh, tftp, vnc};
use super::exposure::{CleartextService, Exposure, WeakTlsVersion};
use super::reader::{Reader, at_most};
use super::smb::{self, NtlmMessageType, SmbMessage};
use super::tls::{self, Parsed};
use super::{Direction, Side};
use crate::fingerprint::os::{self, BannerService, Clues};

/// The FTP control port.
pub const FTP_PORT: u16 = 21;
/// The Telnet port.
pub const TELNET_PORT: u16 = 23;
/// The SNMP agent port.
pub const SNMP_PORT: u16 = 161;
/// The SNMP trap port.
pub const SNMP_TRAP_PORT: u16 = 162;
/// The TFTP server port.
pub const TFTP_PORT: u16 = 69;

/// HTTP methods a request may open with, each with its space.
const HTTP_METHODS: &[&[u8]] = &[
    b"GET ",
    b"POST ",
    b"HEAD ",
    b"PUT ",
    b"DELETE ",
    b"OPTIONS ",
    b"PATCH ",
    b"CONNECT ",
];
/// Telnet's IAC and the first negotiation command (WILL).
const IAC: u8 = 0xFF;
const WILL: u8 = 251;

/// Bytes of each direction's start kept for reading an opening at most:
/// a ClientHello with a long extension list, an SMB negotiation and
/// session setup fit.
pub const HANDSHAKE_BYTES: usize = 16 * 1024;

/// One thing an opening says about one of its ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// A clue to the end's operating system (a SYN's TCP signature, a
    /// banner that names a system).
    Os(crate::fingerprint::os::OsClue),
    /// A piece of software the end named (a banner, a User-Agent).
    Software(crate::fingerprint::os::SoftwareClue),
    /// The Windows version stated in an NTLMSSP message the end sent.
    NtlmVersion {
        /// ProductMajorVersion.
        major: u8,
        /// ProductMinorVersion.
        minor: u8,
        /// ProductBuild.
        build: u16,
    },
    /// A TLS client's JA4 fingerprint and the server name it asked for.
    TlsClient {
        /// JA4 (the TLS-client method).
        ja4: String,
        /// SNI host name.
        sni: Option<String>,
    },
    /// Something insecure the end exposes (a server) or uses (a client).
    Exposure {
        /// What.
        exposure: Exposure,
        /// The protocol it was seen in (`smb`, `tls`, `ftp`, …).
        service: &'static str,
        /// One line on what showed it, e.g. `SMB1 negotiated`.
        detail: String,
        /// For a login in the clear: the user name (never the secret).
        user: Option<String>,
    },
}

impl Finding {
    fn exposure(exposure: Exposure, service: &'static str, detail: &str) -> Finding {
        Finding::Exposure {
            exposure,
            service,
            detail: detail.to_owned(),
            user: None,
        }
    }
}

/// A finding about one end of the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Which end.
    pub side: Side,
    /// What.
    pub finding: Finding,
}

/// The service whose opening is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// TLS, named for `app_proto` (`tls`, `dicom-tls`, `mqtt-tls`).
    Tls(&'static str),
    /// SMB over TCP (NetBIOS session framing).
    Smb,
    /// HTTP/1.x in the clear.
    Http,
    /// SSH.
    Ssh,
    /// FTP's control connection.
    Ftp,
    /// Telnet.
    Telnet,
    /// RDP (X.224 over TPKT).
    Rdp,
    /// VNC (RFB).
    Vnc,
}

impl Service {
    /// The name for `app_proto` and the connection counters.
    pub fn name(self) -> &'static str {
        match self {
            Service::Tls(name) => name,
            Service::Smb => "smb",
            Service::Http => "http",
            Service::Ssh => "ssh",
            Service::Ftp => "ftp",
            Service::Telnet => "telnet",
            Service::Rdp => "rdp",
            Service::Vnc => "vnc",
        }
    }

    /// The service the first bytes of `direction` open, if any (`port`:
    /// the connection's server port); `None` also when too few bytes were
    /// seen to tell (see [`may_open`]).
    pub fn detect(
        direction: Direction,
        bytes: &[u8],
        port: u16,
        tls_name: &'static str,
    ) -> Option<Service> {
        let to_server = direction == Direction::ToServer;
        if matches!(bytes, [22, 3, minor, _, _, 1, ..] if *minor <= 4) && to_server {
            return Some(Service::Tls(tls_name));
        }
        if is_smb_start(bytes) {
            return Some(Service::Smb);
        }
        if bytes.starts_with(b"SSH-") {
            return Some(Service::Ssh);
        }
        if to_server && HTTP_METHODS.iter().any(|m| bytes.starts_with(m)) {
            return Some(Service::Http);
        }
        if !to_server && bytes.starts_with(b"RFB 0") {
            return Some(Service::Vnc);
        }
        // X.224 Connection Request in a TPKT (MS-RDPBCGR 2.2.1.1).
        if to_server && matches!(bytes, [3, 0, _, _, _, 0xE0, ..]) {
            return Some(Service::Rdp);
        }
        if matches!(bytes, [IAC, WILL..=IAC, ..]) || (port == TELNET_PORT && !to_server) {
            return Some(Service::Telnet);
        }
        if !to_server && bytes.starts_with(b"220") {
            let text = String::from_utf8_lossy(bytes).to_ascii_lowercase();
            if port == FTP_PORT || text.contains("ftp") {
                return Some(Service::Ftp);
            }
        }
        None
    }
}

/// Openings that may still follow `bytes`, too short to decide: detection
/// waits for more.
const OPENING_PREFIXES: &[&[u8]] = &[
    &[22, 3, 0, 0, 0],
    b"SSH-",
    b"RFB 0",
    b"220 ",
    b"OPTIONS ",
    b"CONNECT ",
    b"DELETE ",
];

/// Whether `bytes`, too short to decide, may still open a service read
/// here (so detection waits for more).
pub fn may_open(bytes: &[u8]) -> bool {
    let smb = bytes.len() < 8 && bytes.first().is_none_or(|b| *b == 0);
    let tls = bytes.len() < 6 && bytes.first().is_none_or(|b| *b == 22);
    let prefix = |pattern: &&[u8]| bytes.len() < pattern.len() && pattern.starts_with(bytes);
    smb || tls || OPENING_PREFIXES.iter().any(prefix) || HTTP_METHODS.iter().any(prefix)
}

/// A NetBIOS session message (type 0) holding an SMB1 or SMB2 header, or
/// a NetBIOS session request (type 0x81, two encoded names of 32
/// characters each) that opens SMB over port 139.
fn is_smb_start(bytes: &[u8]) -> bool {
    matches!(
        bytes,
        [0, _, _, _, 0xFF | 0xFE, b'S', b'M', b'B', ..] | [0x81, 0, _, _, 0x20, ..]
    )
}

/// What reading an opening keeps between bytes, for the services read
/// line by line.
#[derive(Debug, Default)]
struct Dialogue {
    ftp: Option<FtpSession>,
    telnet: Option<TelnetSession>,
    /// Bytes of each direction given to the line reader so far.
    fed: [usize; 2],
    /// The user name sent, until its password shows a login.
    user: Option<String>,
    /// A VNC client's version.
    rfb: Option<RfbVersion>,
}

/// One connection's opening, being read.
#[derive(Debug)]
pub struct Handshake {
    service: Service,
    streams: [Vec<u8>; 2],
    done: [bool; 2],
    dialogue: Box<Dialogue>,
    /// Findings already reported, so a re-read reports each once.
    reported: Vec<Found>,
}

impl Handshake {
    /// Reading the opening of `service`.
    pub fn new(service: Service) -> Handshake {
        let mut dialogue = Box::<Dialogue>::default();
        match service {
            Service::Ftp => dialogue.ftp = Some(FtpSession::new()),
            Service::Telnet => dialogue.telnet = Some(TelnetSession::new()),
            _ => {}
        }
        Handshake {
            service,
            streams: Default::default(),
            done: [false; 2],
            dialogue,
            reported: Vec::new(),
        }
    }

    /// The service.
    pub fn service(&self) -> Service {
        self.service
    }

    /// Bytes held.
    pub fn footprint(&self) -> usize {
        self.streams.iter().map(Vec::capacity).sum()
    }

    /// Takes the next in-order bytes of `direction`; new findings go to
    /// `out`. Returns whether the opening is still being read.
    pub fn feed(&mut self, direction: Direction, data: &[u8], out: &mut Vec<Found>) -> bool {
        let slot = direction.index();
        let (Some(stream), Some(done)) = (self.streams.get_mut(slot), self.done.get_mut(slot))
        else {
            return false;
        };
        if !*done {
            let room = HANDSHAKE_BYTES.saturating_sub(stream.len());
            stream.extend_from_slice(at_most(data, room));
            let full = stream.len() >= HANDSHAKE_BYTES;
            let mut found = Vec::new();
            let finished = match self.service {
                Service::Tls(_) => read_tls(direction, stream, &mut found),
                Service::Smb => read_smb(direction, stream, &mut found),
                Service::Http => read_http(direction, stream, &mut found),
                Service::Ssh => read_ssh(direction, stream, &mut found),
                Service::Rdp => read_rdp(direction, stream, &mut found),
                Service::Vnc => read_vnc(direction, stream, &mut self.dialogue, &mut found),
                Service::Ftp => read_ftp(direction, stream, &mut self.dialogue, &mut found),
                Service::Telnet => read_telnet(direction, data, &mut self.dialogue, &mut found),
            };
            *done = finished || full;
            for f in found {
                if !self.reported.contains(&f) {
                    self.reported.push(f.clone());
                    out.push(f);
                }
            }
        }
        !self.done.iter().all(|d| *d)
    }

    /// A gap: what was lost cannot be read; the opening is over.
    pub fn gap(&mut self) {
        self.done = [true; 2];
    }
}

/// Reads a TLS hello from `stream`; true once it is read or unreadable.
fn read_tls(direction: Direction, stream: &[u8], out: &mut Vec<Found>) -> bool {
    match direction {
        Direction::ToServer => match tls::parse_client_hello(stream) {
            Parsed::Done(hello) => {
                out.push(Found {
                    side: Side::Client,
                    finding: Finding::TlsClient {
                        ja4: hello.ja4,
                        sni: hello.sni,
                    },
                });
                true
            }
            Parsed::Incomplete { .. } => false,
            Parsed::Invalid(_) => true,
        },
        Direction::ToClient => match tls::parse_server_hello(stream) {
            Parsed::Done(hello) if hello.hello_retry_request => true,
            Parsed::Done(hello) => {
                let version = hello.version();
                if let Some(weak) = WeakTlsVersion::of(version) {
                    let detail = format!("{} negotiated", weak.as_str());
                    for side in [Side::Server, Side::Client] {
                        out.push(Found {
                            side,
                            finding: Finding::exposure(
                                Exposure::WeakTls { version: weak },
                                "tls",
                                &detail,
                            ),
                        });
                    }
                }
                true
            }
            Parsed::Incomplete { .. } => false,
            Parsed::Invalid(_) => true,
        },
    }
}

/// Reads SMB messages from `stream`; true once a session setup answer was
/// read, or the stream is not SMB.
fn read_smb(direction: Direction, stream: &[u8], out: &mut Vec<Found>) -> bool {
    let (messages, anomaly) = smb::parse_stream(stream);
    let sender = direction.sender();
    let mut finished = anomaly.is_some();
    for message in messages {
        match message {
            SmbMessage::Negotiate(negotiate) if negotiate.response && negotiate.smb1 => {
                // The server answered in SMB1: the session is SMB1.
                if negotiate.dialect_index.is_some_and(|i| i != u16::MAX) {
                    for side in [Side::Server, Side::Client] {
                        out.push(Found {
                            side,
                            finding: Finding::exposure(Exposure::Smb1, "smb", "SMB1 negotiated"),
                        });
                    }
                }
            }
            SmbMessage::SessionSetup { response, ntlm, .. } => {
                if let Some(version) = ntlm.as_ref().and_then(|m| m.version) {
                    out.push(Found {
                        side: sender,
                        finding: Finding::NtlmVersion {
                            major: version.major,
                            minor: version.minor,
                            build: version.build,
                        },
                    });
                }
                let authenticated = ntlm
                    .as_ref()
                    .is_some_and(|m| m.kind == NtlmMessageType::Authenticate);
                finished |= authenticated || (response && ntlm.is_none());
            }
            SmbMessage::Negotiate(_) => {}
        }
    }
    finished
}

/// Pushes what `clues` say about `side`.
fn push_clues(side: Side, clues: Clues, out: &mut Vec<Found>) {
    if let Some(clue) = clues.os {
        out.push(Found {
            side,
            finding: Finding::Os(clue),
        });
    }
    if let Some(software) = clues.software {
        out.push(Found {
            side,
            finding: Finding::Software(software),
        });
    }
}

/// A login in the clear: the credential exposure of both ends.
fn login(service: CleartextService, name: &'static str, user: Option<&str>, out: &mut Vec<Found>) {
    for side in [Side::Client, Side::Server] {
        out.push(Found {
            side,
            finding: Finding::Exposure {
                exposure: Exposure::CleartextCredentials { service },
                service: name,
                detail: format!("{} login in the clear", service.as_str()),
                user: user.map(str::to_owned),
            },
        });
    }
}

/// Reads an HTTP request head (User-Agent, Basic login) or response head
/// (Server, Basic challenge); true once read.
fn read_http(direction: Direction, stream: &[u8], out: &mut Vec<Found>) -> bool {
    match direction {
        Direction::ToServer => match http::parse_request(stream) {
            banner::Parsed::Done(request) => {
                if let Some(agent) = &request.user_agent {
                    push_clues(Side::Client, os::from_user_agent(agent), out);
                }
                if request.authorization == Some(http::AuthScheme::Basic) {
                    for side in [Side::Client, Side::Server] {
                        out.push(Found {
                            side,
                            finding: Finding::exposure(
                                Exposure::HttpBasicCleartext,
                                "http",
                                "HTTP Basic authentication in the clear",
                            ),
                        });
                    }
                    login(
                        CleartextService::Http,
                        "http",
                        request.basic_user.as_deref(),
                        out,
                    );
                }
                true
            }
            banner::Parsed::NeedMore => false,
            banner::Parsed::NotThis(_) => true,
        },
        Direction::ToClient => match http::parse_response(stream) {
            banner::Parsed::Done(response) => {
                if let Some(server) = &response.server {
                    push_clues(Side::Server, os::from_http_server(server), out);
                }
                if response.www_authenticate.contains(&http::AuthScheme::Basic) {
                    out.push(Found {
                        side: Side::Server,
                        finding: Finding::exposure(
                            Exposure::HttpBasicCleartext,
                            "http",
                            "asks for HTTP Basic authentication in the clear",
                        ),
                    });
                }
                true
            }
            banner::Parsed::NeedMore => false,
            banner::Parsed::NotThis(_) => true,
        },
    }
}

/// Reads an SSH identification string; true once read.
fn read_ssh(direction: Direction, stream: &[u8], out: &mut Vec<Found>) -> bool {
    let parsed = match direction {
        Direction::ToServer => ssh::parse_client_ident(stream),
        Direction::ToClient => ssh::parse_server_ident(stream),
    };
    match parsed {
        banner::Parsed::Done(ident) => {
            push_clues(direction.sender(), os::from_ssh_banner(&ident.line()), out);
            true
        }
        banner::Parsed::NeedMore => false,
        banner::Parsed::NotThis(_) => true,
    }
}

/// Reads an RDP connection confirm: a server that goes on without Network
/// Level Authentication; true once read.
fn read_rdp(direction: Direction, stream: &[u8], out: &mut Vec<Found>) -> bool {
    match direction {
        Direction::ToServer => !matches!(rdp::parse_request(stream), banner::Parsed::NeedMore),
        Direction::ToClient => match rdp::parse_confirm(stream) {
            banner::Parsed::Done(confirm) => {
                if confirm.without_nla() == Some(true) {
                    out.push(Found {
                        side: Side::Server,
                        finding: Finding::exposure(
                            Exposure::RdpWithoutNla,
                            "rdp",
                            "RDP without Network Level Authentication",
                        ),
                    });
                }
                true
            }
            banner::Parsed::NeedMore => false,
            banner::Parsed::NotThis(_) => true,
        },
    }
}

/// Reads the RFB versions and the server's security types: a server that
/// lets clients in without authentication; true once read.
fn read_vnc(
    direction: Direction,
    stream: &[u8],
    dialogue: &mut Dialogue,
    out: &mut Vec<Found>,
) -> bool {
    match direction {
        Direction::ToServer => match vnc::parse_client(stream) {
            banner::Parsed::Done(client) => {
                dialogue.rfb = Some(client.version);
                true
            }
            banner::Parsed::NeedMore => {
                // The version alone is enough for the server's answer.
                if let banner::Parsed::Done(client) = vnc::parse_client(at_most(stream, 12)) {
                    dialogue.rfb = Some(client.version);
                }
                false
            }
            banner::Parsed::NotThis(_) => true,
        },
        Direction::ToClient => match vnc::parse_server(stream, dialogue.rfb) {
            banner::Parsed::Done(server) => {
                if server.no_auth() {
                    out.push(Found {
                        side: Side::Server,
                        finding: Finding::exposure(
                            Exposure::VncNoAuth,
                            "vnc",
                            "VNC without authentication",
                        ),
                    });
                }
                true
            }
            banner::Parsed::NeedMore => false,
            banner::Parsed::NotThis(_) => true,
        },
    }
}

/// Reads FTP control lines: the greeting, and a login (user name, and
/// that a password followed); true once TLS starts or the lines run out.
fn read_ftp(
    direction: Direction,
    stream: &[u8],
    dialogue: &mut Dialogue,
    out: &mut Vec<Found>,
) -> bool {
    let slot = direction.index();
    let Dialogue { ftp, fed, user, .. } = dialogue;
    let (Some(session), Some(fed)) = (ftp.as_mut(), fed.get_mut(slot)) else {
        return true;
    };
    // The bytes after those the line reader was given already.
    let mut unread = Reader::new(stream);
    let fresh = match unread.skip(*fed) {
        Some(()) => unread.rest(),
        None => &[],
    };
    let mut events = Vec::new();
    *fed += session.feed(direction, fresh, &mut events);
    for event in events {
        match event {
            FtpEvent::Greeting(text) => {
                out.push(Found {
                    side: Side::Server,
                    finding: Finding::exposure(Exposure::Ftp, "ftp", "FTP service"),
                });
                push_clues(
                    Side::Server,
                    os::from_banner_text(BannerService::Ftp, &text),
                    out,
                );
            }
            FtpEvent::User(name) => *user = Some(name),
            FtpEvent::Pass => login(CleartextService::Ftp, "ftp", user.as_deref(), out),
            _ => {}
        }
    }
    session.finished()
}

/// Reads a Telnet exchange: the service, its banner, and a login (the user
/// name typed at the login prompt, then a password prompt); true once the
/// password prompt came.
fn read_telnet(
    direction: Direction,
    data: &[u8],
    dialogue: &mut Dialogue,
    out: &mut Vec<Found>,
) -> bool {
    let Dialogue { telnet, user, .. } = dialogue;
    let Some(session) = telnet.as_mut() else {
        return true;
    };
    if direction == Direction::ToClient {
        out.push(Found {
            side: Side::Server,
            finding: Finding::exposure(Exposure::Telnet, "telnet", "Telnet service"),
        });
    }
    let mut events = Vec::new();
    session.feed(direction, data, &mut events);
    let mut finished = false;
    for event in events {
        match event {
            TelnetEvent::LoginPrompt => {
                push_clues(
                    Side::Server,
                    os::from_banner_text(BannerService::Telnet, session.banner()),
                    out,
                );
            }
            TelnetEvent::User(name) => *user = Some(name),
            TelnetEvent::PasswordPrompt => {
                login(CleartextService::Telnet, "telnet", user.as_deref(), out);
                finished = true;
            }
        }
    }
    finished
}

/// What one SNMP or TFTP datagram (between `src_port` and `dst_port`)
/// says about its sender, each with whether the sender is the service's
/// server (an SNMP agent) rather than its client.
pub fn datagram(src_port: u16, dst_port: u16, payload: &[u8], out: &mut Vec<(bool, Finding)>) {
    match (src_port, dst_port) {
        (SNMP_PORT, _) | (_, SNMP_PORT) | (_, SNMP_TRAP_PORT) => {
            let Ok(message) = snmp::parse_message(payload) else {
                return;
            };
            // An agent answers from 161 and sends traps to 162.
            let agent = src_port == SNMP_PORT
                || matches!(
                    message.pdu,
                    Some(PduType::Trap | PduType::TrapV2 | PduType::Inform)
                );
            if matches!(message.version, SnmpVersion::V1 | SnmpVersion::V2c)
                && message.community_len.is_some()
            {
                let version = match message.version {
                    SnmpVersion::V1 => "SNMPv1",
                    _ => "SNMPv2c",
                };
                out.push((
                    agent,
                    Finding::exposure(
                        Exposure::SnmpV1V2c,
                        "snmp",
                        &format!("{version}: a community string in the clear"),
                    ),
                ));
            }
            if agent
                && let Some(description) = &message.sys_descr
                && let Some(clue) = os::from_snmp_sysdescr(description)
            {
                out.push((true, Finding::Os(clue)));
            }
        }
        (_, TFTP_PORT) => {
            if let Ok(request) = tftp::parse_request(payload) {
                out.push((
                    false,
                    Finding::exposure(
                        Exposure::Tftp,
                        "tftp",
                        &format!("TFTP {:?} of a file", request.opcode),
                    ),
                ));
            }
        }
        _ => {}
    }
}

/// Whether a UDP datagram between these ports may be read by [`datagram`].
pub fn datagram_ports(src_port: u16, dst_port: u16) -> bool {
    src_port == SNMP_PORT || matches!(dst_port, SNMP_PORT | SNMP_TRAP_PORT | TFTP_PORT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_by_first_bytes() {
        let up = Direction::ToServer;
        let down = Direction::ToClient;
        assert_eq!(
            Service::detect(up, &[22, 3, 1, 0, 200, 1, 0], 443, "tls"),
            Some(Service::Tls("tls"))
        );
        assert_eq!(
            Service::detect(up, b"\x00\x00\x00\x85\xffSMBr", 445, "tls"),
            Some(Service::Smb)
        );
        assert_eq!(
            Service::detect(up, b"GET / HTTP/1.1\r\n", 80, "tls"),
            Some(Service::Http)
        );
        assert_eq!(
            Service::detect(down, b"SSH-2.0-OpenSSH_9.2\r\n", 22, "tls"),
            Some(Service::Ssh)
        );
        assert_eq!(
            Service::detect(down, b"220 (vsFTPd 3.0.3)\r\n", 21, "tls"),
            Some(Service::Ftp)
        );
        assert_eq!(
            Service::detect(down, b"220 mail ESMTP\r\n", 25, "tls"),
            None
        );
        assert_eq!(
            Service::detect(down, b"RFB 003.008\n", 5900, "tls"),
            Some(Service::Vnc)
        );
        assert_eq!(
            Service::detect(down, &[IAC, 253, 24], 23, "tls"),
            Some(Service::Telnet)
        );
        assert_eq!(Service::detect(up, b"MQTT", 1883, "tls"), None);
        // SMB over NetBIOS (port 139) opens with a session request.
        assert_eq!(
            Service::detect(
                up,
                b"\x81\x00\x00\x44\x20CKFDENECFDEFFCFGEFFCCACACACACACA",
                139,
                "tls"
            ),
            Some(Service::Smb)
        );
        assert!(may_open(&[22, 3]));
        assert!(may_open(&[0, 0, 0]));
        assert!(may_open(b"GE"));
        assert!(may_open(b"SS"));
        assert!(!may_open(b"HELLO"));
    }

    #[test]
    fn garbage_never_panics_and_the_bytes_kept_are_bounded() {
        for service in [
            Service::Tls("tls"),
            Service::Smb,
            Service::Http,
            Service::Ssh,
            Service::Ftp,
            Service::Telnet,
            Service::Rdp,
            Service::Vnc,
        ] {
            let mut handshake = Handshake::new(service);
            let mut out = Vec::new();
            let junk: Vec<u8> = (0..40_000u32).map(|i| (i * 7 % 251) as u8).collect();
            for chunk in junk.chunks(1000) {
                handshake.feed(Direction::ToServer, chunk, &mut out);
                handshake.feed(Direction::ToClient, chunk, &mut out);
            }
            assert!(handshake.footprint() <= 2 * HANDSHAKE_BYTES * 2);
            assert!(!handshake.feed(Direction::ToServer, b"x", &mut out));
        }
    }
}
