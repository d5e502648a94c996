//! The syslog sink: events as RFC 5424 messages over UDP (RFC 5426), TCP or TLS
//! (RFC 5425) with octet-counting framing (RFC 6587 §3.4.1), the body being the
//! event in the sink's format (EVE JSON by default, or ECS, OCSF, CEF, LEEF).
//!
//! Built from an `-o` URL: `syslog+udp://HOST[:PORT]`,
//! `syslog+tcp://HOST[:PORT]` (port 514 by default) or
//! `syslog+tls://HOST[:PORT]` (RFC 5425, port 6514 by default; rustls,
//! verified against the Mozilla roots or the CA file given as `?ca=PATH`),
//! with the parameters every sink takes, `format=` and `max_size=`.
//!
//! Each event becomes one message
//! `<PRI>1 TIMESTAMP HOSTNAME medtap PROCID MSGID - MSG`: facility
//! [`FACILITY`], severity from the event (see [`super::format::Level`]), TIMESTAMP the
//! event's own `timestamp` (packet time, not the time of sending), MSGID its
//! `event_type`, no structured data. MSG carries no byte-order mark, so
//! receivers take it as octets (RFC 5424 `MSG-ANY`); it is UTF-8. The header
//! comes from the event's head, built with the event by the merge stage
//! ([`super::encode::EventHead`]; read back from just those fields for an
//! event from the spool); an EVE body that fits is the event's bytes as
//! handed, never parsed.
//!
//! Guarantees: a batch is delivered in order, over one connection (TCP) or one
//! socket (UDP). A failed send drops the connection and returns the error; the
//! next [`EventSink::deliver`] reconnects. Delivery is at least once: a batch
//! retried after an error may repeat the events sent before it failed.
//!
//! Size: a message (header included) is at most `max_size=` bytes,
//! [`DEFAULT_MAX_MESSAGE`] (rsyslog's default `maxMessageSize`) by default,
//! over every transport: a receiver cuts a longer one, handing the SIEM a
//! broken JSON object or CEF line. An event longer than that is shortened to
//! fit (counted as `shortened`), or, when even that cannot fit, not sent
//! (counted as `oversized`); see [`super::encode`].

use std::io::{self, Write};
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::path::PathBuf;
use std::time::Duration;

use super::encode::{Encoder, Head, Outgoing, Tally};
use super::format::Format;
use super::net::{self, Endpoint, Stream, Timeouts};
use super::sink::{EventSink, SinkError};
use super::target::{SinkUrl, UrlError};

/// Syslog facility `local0` (RFC 5424 table 1).
pub const FACILITY_LOCAL0: u8 = 16;
/// The facility of every message medtap sends.
pub const FACILITY: u8 = FACILITY_LOCAL0;
/// APP-NAME of every message.
pub const APP_NAME: &str = "medtap";
/// Port when the URL names none, for UDP and TCP (RFC 5426, RFC 6587).
pub const DEFAULT_PORT: u16 = 514;
/// Port when a `syslog+tls` URL names none (RFC 5425).
pub const DEFAULT_TLS_PORT: u16 = 6514;
/// Largest syslog message sent, in bytes (header and MSG), unless the URL
/// says `max_size=`: rsyslog's default `maxMessageSize`, which it applies to
/// UDP and TCP alike.
pub const DEFAULT_MAX_MESSAGE: usize = 8192;
/// The largest `max_size=` over UDP: the largest UDP payload over IPv4
/// (65535 − 20 bytes of IP header − 8 of UDP header).
pub const MAX_UDP_PAYLOAD: usize = 65_507;
/// How long a TCP connection attempt may take, per address.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one TCP write may block before the receiver counts as stuck.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest MSGID (RFC 5424 §6.2.7), in bytes.
const MAX_MSGID: usize = 32;

/// The transport named by the URL scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `syslog+udp`: one datagram per message.
    Udp,
    /// `syslog+tcp`: octet-counted messages on one persistent connection.
    Tcp,
    /// `syslog+tls`: the same as TCP, inside TLS (RFC 5425).
    Tls,
}

/// A parsed `-o syslog+…` URL.
#[derive(Debug, Clone)]
pub struct SyslogUrl {
    /// UDP, TCP or TLS.
    pub transport: Transport,
    /// Host name or address (IPv6 without its brackets).
    pub host: String,
    /// Port.
    pub port: u16,
    /// Body format.
    pub format: Format,
    /// Largest message, header included.
    pub max_size: usize,
    /// For TLS: the PEM file of the certificate authorities to trust instead
    /// of the Mozilla roots.
    pub ca: Option<PathBuf>,
    /// The URL as shown.
    pub target: SinkUrl,
}

impl SyslogUrl {
    /// Parses `syslog+udp://HOST[:PORT][/][?format=…][&max_size=N]`, the
    /// same with `syslog+tcp`, and with `syslog+tls` also `ca=PATH`
    /// (%-decoded). IPv6 hosts are bracketed: `syslog+udp://[::1]:514`.
    pub fn parse(url: &str) -> Result<SyslogUrl, SinkError> {
        Ok(SyslogUrl::from_target(SinkUrl::parse(url)?)?)
    }

    /// The same, from a parsed URL.
    pub fn from_target(mut target: SinkUrl) -> Result<SyslogUrl, UrlError> {
        let transport = match target.scheme() {
            "syslog+udp" => Transport::Udp,
            "syslog+tcp" => Transport::Tcp,
            "syslog+tls" => Transport::Tls,
            _ => return Err(target.error("scheme must be syslog+udp, syslog+tcp or syslog+tls")),
        };
        if target.host().is_empty() {
            return Err(target.error("no host"));
        }
        if !matches!(target.path(), "" | "/") {
            return Err(target.error("a syslog URL has no path"));
        }
        target.refuse_credentials("syslog has no authentication")?;
        target.default_port(match transport {
            Transport::Tls => DEFAULT_TLS_PORT,
            _ => DEFAULT_PORT,
        });
        let ca = match target.take("ca") {
            Some(path) if transport == Transport::Tls && !path.is_empty() => {
                Some(PathBuf::from(path))
            }
            Some(_) => return Err(target.error("ca=PATH is for syslog+tls only")),
            None => None,
        };
        target.finish()?;
        let max_size = target.max_size().unwrap_or(DEFAULT_MAX_MESSAGE);
        if transport == Transport::Udp && max_size > MAX_UDP_PAYLOAD {
            return Err(target.error(format!(
                "max_size over UDP is at most {MAX_UDP_PAYLOAD} bytes (one datagram)"
            )));
        }
        Ok(SyslogUrl {
            transport,
            host: target.host().to_owned(),
            port: target.port().unwrap_or(DEFAULT_PORT),
            format: target.format().unwrap_or(Format::Eve),
            max_size,
            ca,
            target,
        })
    }
}

/// Builds the syslog sink for `url`. Nothing is resolved or connected until
/// the first delivery, so an absent receiver does not stop medtap starting.
pub fn from_url(url: &str) -> Result<Box<dyn EventSink>, SinkError> {
    Ok(Box::new(SyslogSink::from_url(url)?))
}

/// The same, from a parsed URL.
pub fn from_target(target: SinkUrl) -> Result<Box<dyn EventSink>, SinkError> {
    Ok(Box::new(SyslogSink::new(SyslogUrl::from_target(target)?)?))
}

/// Writes the RFC 5424 header of the event whose head is `head`, up to and
/// including the space before MSG.
pub fn write_header(out: &mut Vec<u8>, hostname: &str, procid: &str, head: &Head<'_>) {
    let level = head.level();
    let pri = u16::from(FACILITY) * 8 + u16::from(level.syslog_severity());
    let msgid = head
        .event_type()
        .filter(|m| !m.is_empty() && m.len() <= MAX_MSGID && is_printusascii(m))
        .unwrap_or("-");
    // Writing to a Vec cannot fail.
    let _ = write!(out, "<{pri}>1 ");
    // RFC 5424 §6.2.3 takes what it reads: no leap seconds, at most six
    // fractional digits.
    head.write_syslog_timestamp(out);
    let _ = write!(out, " {hostname} {APP_NAME} {procid} {msgid} - ");
}

/// Writes one RFC 5424 message for `event` (its EVE object, and its head
/// when known) to `out`, without framing, in at most `encoder.max_size`
/// bytes, header included; what its size made of it is counted in `tally`.
/// Returns false, with `out` as it was, when the event is not sent.
pub fn write_message_within(
    out: &mut Vec<u8>,
    hostname: &str,
    procid: &str,
    encoder: &Encoder,
    event: &Outgoing<'_>,
    tally: &mut Tally,
) -> bool {
    let event_json = trim_newline(event.eve);
    let start = out.len();
    write_header(out, hostname, procid, &event.head());
    let header = out.len() - start;
    let Some(budget) = encoder.max_size.checked_sub(header) else {
        out.truncate(start);
        tally.oversized += 1;
        return false;
    };
    if encoder.encode(event_json, budget, out, tally) {
        true
    } else {
        out.truncate(start);
        false
    }
}

/// Writes one RFC 5424 message for `event_json` in `format`, whatever its
/// size (unless the format's encoder refuses it).
pub fn write_message(
    out: &mut Vec<u8>,
    hostname: &str,
    procid: &str,
    format: Format,
    event_json: &[u8],
) {
    let encoder = Encoder::new(Some(format), usize::MAX);
    write_message_within(
        out,
        hostname,
        procid,
        &encoder,
        &Outgoing::bare(event_json),
        &mut Tally::default(),
    );
}

fn trim_newline(bytes: &[u8]) -> &[u8] {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    bytes.strip_suffix(b"\r").unwrap_or(bytes)
}

/// RFC 5424 PRINTUSASCII: `%d33-126`, no spaces.
fn is_printusascii(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| (33..=126).contains(&b))
}

enum Connection {
    Udp(UdpSocket),
    Stream(Stream),
}

/// The syslog [`EventSink`].
pub struct SyslogSink {
    name: String,
    url: SyslogUrl,
    endpoint: Endpoint,
    encoder: Encoder,
    hostname: String,
    procid: String,
    connection: Option<Connection>,
    message: Vec<u8>,
    batch: Vec<u8>,
    tally: Tally,
    oversized: u64,
}

impl SyslogSink {
    /// Parses `url` (see [`SyslogUrl::parse`]); connects on first delivery.
    pub fn from_url(url: &str) -> Result<SyslogSink, SinkError> {
        SyslogSink::new(SyslogUrl::parse(url)?)
    }

    /// The sink for a parsed URL; reads the CA file, connects on first
    /// delivery.
    pub fn new(url: SyslogUrl) -> Result<SyslogSink, SinkError> {
        let tls = match url.transport {
            Transport::Tls => Some(
                net::tls_config(url.ca.as_deref())
                    .map_err(|e| SinkError::from(url.target.error(e.to_string())))?,
            ),
            _ => None,
        };
        let endpoint = Endpoint {
            host: url.host.clone(),
            port: url.port,
            tls,
            timeouts: Timeouts {
                connect: CONNECT_TIMEOUT,
                // A syslog receiver never answers.
                read: None,
                write: WRITE_TIMEOUT,
            },
        };
        Ok(SyslogSink {
            name: url.target.to_string(),
            encoder: Encoder::new(Some(url.format), url.max_size),
            url,
            endpoint,
            hostname: super::sensor_name().to_owned(),
            procid: std::process::id().to_string(),
            connection: None,
            message: Vec::new(),
            batch: Vec::new(),
            tally: Tally::default(),
            oversized: 0,
        })
    }

    /// Messages not sent because they did not fit `max_size` even
    /// shortened, since the sink was built.
    pub fn oversized(&self) -> u64 {
        self.oversized
    }

    fn io_error(&self, source: io::Error) -> SinkError {
        SinkError::Io {
            target: self.name.clone(),
            source,
        }
    }

    fn connect(&self) -> io::Result<Connection> {
        if self.url.transport != Transport::Udp {
            return self.endpoint.connect().map(Connection::Stream);
        }
        let addrs: Vec<SocketAddr> = (self.url.host.as_str(), self.url.port)
            .to_socket_addrs()?
            .collect();
        let mut last = io::Error::new(io::ErrorKind::NotFound, "host has no address");
        for addr in addrs {
            let local: SocketAddr = if addr.is_ipv4() {
                ([0, 0, 0, 0], 0).into()
            } else {
                ([0u16; 8], 0).into()
            };
            match UdpSocket::bind(local).and_then(|s| s.connect(addr).map(|()| s)) {
                Ok(socket) => return Ok(Connection::Udp(socket)),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn send(&mut self, events: &[Outgoing<'_>]) -> io::Result<()> {
        self.tally = Tally::default();
        if let Some(Connection::Stream(stream)) = &mut self.connection
            && stream.closed_by_peer()
        {
            self.connection = None;
        }
        if self.connection.is_none() {
            self.connection = Some(self.connect()?);
        }
        let mut tally = Tally::default();
        self.batch.clear();
        for event in events {
            self.message.clear();
            if !write_message_within(
                &mut self.message,
                &self.hostname,
                &self.procid,
                &self.encoder,
                event,
                &mut tally,
            ) {
                continue;
            }
            match &self.connection {
                Some(Connection::Udp(socket)) => {
                    socket.send(&self.message)?;
                }
                Some(Connection::Stream(_)) => {
                    // RFC 6587 §3.4.1: MSG-LEN SP SYSLOG-MSG.
                    let _ = write!(self.batch, "{} ", self.message.len());
                    self.batch.extend_from_slice(&self.message);
                }
                None => {}
            }
        }
        if let Some(Connection::Stream(stream)) = &mut self.connection {
            stream.write_all(&self.batch)?;
            stream.flush()?;
        }
        if tally.oversized > 0 {
            self.oversized += tally.oversized;
            tracing::warn!(
                sink = %self.name,
                dropped = tally.oversized,
                limit = self.encoder.max_size,
                "syslog messages longer than max_size even shortened were not sent"
            );
        }
        self.tally = tally;
        Ok(())
    }
}

impl EventSink for SyslogSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn deliver_events(&mut self, events: &[Outgoing<'_>]) -> Result<(), SinkError> {
        self.send(events).map_err(|e| {
            self.connection = None;
            self.io_error(e)
        })
    }

    fn take_tally(&mut self) -> Tally {
        std::mem::take(&mut self.tally)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::format::Level;
    use serde_json::Value;

    #[test]
    fn epoch_ms_of_rfc3339() {
        assert_eq!(
            super::super::format::epoch_ms("1970-01-01T00:00:00Z"),
            Some(0)
        );
        assert_eq!(
            super::super::format::epoch_ms("1970-01-01T00:00:00.000999Z"),
            Some(0)
        );
        assert_eq!(
            super::super::format::epoch_ms("2026-11-23T10:00:01.000120Z"),
            Some(1_795_428_001_000)
        );
        assert_eq!(
            super::super::format::epoch_ms("2000-02-29T23:59:59.5Z"),
            Some(951_868_799_500)
        );
        assert_eq!(super::super::format::epoch_ms("2000-02-29T23:59:60Z"), None);
        assert_eq!(
            super::super::format::epoch_ms("2000-02-29T23:59:59.1234567Z"),
            None
        );
        assert_eq!(
            super::super::format::epoch_ms("2000-02-29T23:59:59+01:00"),
            None
        );
        assert_eq!(super::super::format::epoch_ms("2000-02-29"), None);
    }

    const DEVICE: &str = r#"{"timestamp":"2026-11-23T10:00:01.000120Z","event_type":"device","src_ip":"10.77.0.21","src_port":41234,"dest_ip":"10.77.0.10","dest_port":11112,"proto":"TCP","community_id":"1:abc=","app_proto":"dicom","device":{"id":"mac:00:09:fb:00:00:21","identified_by":"mac","mac":"00:09:fb:00:00:21","vendor":"Philips Medizin Systeme Böblingen GmbH","ips":["10.77.0.21"]}}"#;

    #[test]
    fn rfc5424_json_message_is_byte_exact() {
        // RFC 5424 §6: <PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP
        // PROCID SP MSGID SP STRUCTURED-DATA SP MSG; local0 (16) * 8 +
        // informational (6) = 134; "-" is the NILVALUE for no SD.
        let mut out = Vec::new();
        write_message(
            &mut out,
            "sensor1",
            "4242",
            Format::Eve,
            format!("{DEVICE}\n").as_bytes(),
        );
        let expected =
            format!("<134>1 2026-11-23T10:00:01.000120Z sensor1 medtap 4242 device - {DEVICE}");
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    #[test]
    fn rfc5424_uses_nilvalue_for_a_bad_timestamp_and_msgid() {
        let mut out = Vec::new();
        write_message(
            &mut out,
            "h",
            "1",
            Format::Eve,
            br#"{"timestamp":"yesterday","event_type":"has space"}"#,
        );
        assert_eq!(
            out,
            br#"<134>1 - h medtap 1 - - {"timestamp":"yesterday","event_type":"has space"}"#
        );
    }

    /// The RFC 5424 message for `event` with host `h` and process id 1.
    fn message_of(event: &Value, format: Format) -> String {
        let mut out = Vec::new();
        write_message(&mut out, "h", "1", format, event.to_string().as_bytes());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn alert_severity_sets_pri() {
        // local0 * 8 + error (3) = 131; CEF 8.
        let alert: Value = serde_json::from_str(
            r#"{"event_type":"alert","alert":{"kind":"new_peer","severity":"high"}}"#,
        )
        .unwrap();
        assert_eq!(Level::of(&alert), Level::High);
        let message = message_of(&alert, Format::Cef);
        assert!(
            message.starts_with("<131>1 - h medtap 1 alert - CEF:0|medtap|medtap|"),
            "{message}"
        );
        assert!(message.contains("|new_peer|8|"), "{message}");
        // Suricata's integer, the word beside it, and an older writer's word
        // alone: each sets the same PRI.
        for alert in [
            r#"{"event_type":"alert","alert":{"severity":1,"severity_name":"high"}}"#,
            r#"{"event_type":"alert","alert":{"severity":1}}"#,
        ] {
            let alert: Value = serde_json::from_str(alert).unwrap();
            assert!(message_of(&alert, Format::Eve).starts_with("<131>1 "));
        }
        let info: Value =
            serde_json::from_str(r#"{"event_type":"alert","alert":{"severity":4}}"#).unwrap();
        // local0 * 8 + informational (6) = 134.
        assert!(message_of(&info, Format::Eve).starts_with("<134>1 "));
    }

    #[test]
    fn warnings_are_syslog_warning_and_their_recovery_notice() {
        let warning = |kind: &str| -> Value {
            serde_json::from_str(&format!(
                r#"{{"timestamp":"2026-11-23T10:00:01.000120Z","event_type":"warning","warning":{{"kind":"{kind}","message":"lost 5 of 100 = 5%"}}}}"#
            ))
            .unwrap()
        };
        let loss = warning("capture_loss");
        assert_eq!(Level::of(&loss), Level::Warning);
        // local0 * 8 + warning (4) = 132; CEF 5; the message as `msg`.
        let message = message_of(&loss, Format::Cef);
        assert!(
            message.starts_with("<132>1 2026-11-23T10:00:01.000120Z h medtap 1 warning - CEF:0|"),
            "{message}"
        );
        assert!(
            message.contains("|Capture loss above threshold|5|"),
            "{message}"
        );
        assert!(message.contains("msg=lost 5 of 100 \\= 5%"), "{message}");

        let recovered = warning("capture_loss_recovered");
        assert_eq!(Level::of(&recovered), Level::Notice);
        // local0 * 8 + notice (5) = 133.
        assert!(message_of(&recovered, Format::Eve).starts_with("<133>1 "));
        assert_eq!(Level::Notice.cef_severity(), 1);
    }

    #[test]
    fn url_forms() {
        let u = SyslogUrl::parse("syslog+udp://siem.example").unwrap();
        assert_eq!(
            (u.transport, u.host.as_str(), u.port, u.format),
            (Transport::Udp, "siem.example", 514, Format::Eve)
        );
        let u = SyslogUrl::parse("syslog+tcp://[::1]:1514/?format=cef").unwrap();
        assert_eq!(
            (u.transport, u.host.as_str(), u.port, u.format),
            (Transport::Tcp, "::1", 1514, Format::Cef)
        );
        let u =
            SyslogUrl::parse("syslog+tls://siem.example?ca=/etc/medtap/ca.pem&format=cef").unwrap();
        assert_eq!(
            (u.transport, u.port, u.format),
            (Transport::Tls, 6514, Format::Cef)
        );
        assert_eq!(u.ca, Some(PathBuf::from("/etc/medtap/ca.pem")));
        for bad in [
            "syslog://h",
            "syslog+udp://",
            "syslog+udp://h:0",
            "syslog+udp://h:99999",
            "syslog+udp://h/path",
            "syslog+udp://u:p@h",
            "syslog+udp://h?format=xml",
            "syslog+udp://h?colour=red",
            "syslog+tcp://h?ca=/etc/ca.pem",
            "syslog+tls://h?ca=",
        ] {
            assert!(SyslogUrl::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn hostname_is_the_sensor_name_and_printusascii() {
        let name = crate::output::sensor_name();
        // RFC 5424 §6.2.4 allows 255 bytes.
        assert!(is_printusascii(name) && name.len() <= 255, "{name:?}");
    }
}
