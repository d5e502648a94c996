//! The opening of an RFB (VNC) connection (RFC 6143 §7.1): the
//! ProtocolVersion each side sends (`RFB 003.008\n`), the security types
//! the server offers (3.7 and later: a count and a list; 3.3: one 32-bit
//! type the server decides) and the one the client chooses. Security type 1
//! (None) offered or chosen is a VNC server that lets anyone in.
//!
//! Guarantees: never panics; reads at most 12 bytes of version, 256 types,
//! and a failure reason cut to [`MAX_REASON_LEN`], printable.
//!
//! Refuses: bytes that are not `RFB nnn.nnn\n` ([`VncAnomaly::NotRfb`]).
use super::{Parsed, printable};
use crate::proto::reader::Reader;

/// Longest failure reason kept, in bytes; a longer one is cut (and only
/// that much of it waited for).
pub const MAX_REASON_LEN: usize = 256;

/// Length of a ProtocolVersion message, `RFB xxx.yyy\n`.
const VERSION_LEN: usize = 12;

/// Security types (RFC 6143 §7.1.2; IANA RFB registry).
/// Invalid: the server refuses the connection.
pub const SECURITY_INVALID: u32 = 0;
/// None: no authentication.
pub const SECURITY_NONE: u32 = 1;
/// VNC Authentication (DES challenge).
pub const SECURITY_VNC_AUTH: u32 = 2;

/// Why bytes are not an RFB opening.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VncAnomaly {
    /// The bytes are not `RFB nnn.nnn\n`.
    NotRfb,
}

impl VncAnomaly {
    /// A stable snake_case name, for counters.
    pub fn name(self) -> &'static str {
        match self {
            VncAnomaly::NotRfb => "not_rfb",
        }
    }
}

/// A ProtocolVersion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RfbVersion {
    /// Major version (3).
    pub major: u16,
    /// Minor version (3, 7, 8; others are read as RFC 6143 §7.1.1 says).
    pub minor: u16,
}

impl RfbVersion {
    /// Whether the security handshake is the 3.7+ one (a list of types the
    /// client chooses from) rather than 3.3's (the server decides).
    /// RFC 6143 §7.1.1: other versions below 3.7 are read as 3.3.
    pub fn lists_security_types(self) -> bool {
        self.major > 3 || self.minor >= 7
    }
}

/// What the server's security handshake says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VncSecurity {
    /// 3.7+: the types offered, in the server's order of preference.
    Offered(Vec<u8>),
    /// 3.3: the type the server decided.
    Decided(u32),
    /// The server refused the connection (no types, or type 0), with its
    /// reason.
    Refused(String),
}

/// What a server's first bytes say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VncServer {
    /// The server's ProtocolVersion.
    pub version: RfbVersion,
    /// Its security types, read in the form its version implies. A 3.7+
    /// server answers the client's version, so when the client asked for
    /// 3.3 the list form is wrong: [`parse_server`] takes the client's
    /// version when known.
    pub security: VncSecurity,
}

impl VncServer {
    /// Whether the server lets a client in without authentication: it
    /// offers or decides security type None.
    pub fn no_auth(&self) -> bool {
        match &self.security {
            VncSecurity::Offered(types) => types.iter().any(|&t| u32::from(t) == SECURITY_NONE),
            VncSecurity::Decided(t) => *t == SECURITY_NONE,
            VncSecurity::Refused(_) => false,
        }
    }
}

/// What a client's first bytes say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VncClient {
    /// The client's ProtocolVersion.
    pub version: RfbVersion,
    /// 3.7+: the security type chosen.
    pub chosen: Option<u8>,
}

/// Parses the server's ProtocolVersion and security handshake. `client`
/// is the version the client sent, when known: the server speaks the lower
/// of the two.
pub fn parse_server(stream: &[u8], client: Option<RfbVersion>) -> Parsed<VncServer, VncAnomaly> {
    let mut r = Reader::new(stream);
    let version = match version(&mut r) {
        Parsed::Done(version) => version,
        Parsed::NeedMore => return Parsed::NeedMore,
        Parsed::NotThis(anomaly) => return Parsed::NotThis(anomaly),
    };
    let spoken = match client {
        Some(client) if !client.lists_security_types() => client,
        _ => version,
    };
    let security = if spoken.lists_security_types() {
        let Some(count) = r.u8() else {
            return Parsed::NeedMore;
        };
        if count == 0 {
            match reason(&mut r) {
                Some(reason) => VncSecurity::Refused(reason),
                None => return Parsed::NeedMore,
            }
        } else {
            match r.take(usize::from(count)) {
                Some(types) => VncSecurity::Offered(types.to_vec()),
                None => return Parsed::NeedMore,
            }
        }
    } else {
        match r.u32_be() {
            None => return Parsed::NeedMore,
            Some(SECURITY_INVALID) => match reason(&mut r) {
                Some(reason) => VncSecurity::Refused(reason),
                None => return Parsed::NeedMore,
            },
            Some(decided) => VncSecurity::Decided(decided),
        }
    };
    Parsed::Done(VncServer { version, security })
}

/// Parses the client's ProtocolVersion and, for 3.7+, its chosen security
/// type.
pub fn parse_client(stream: &[u8]) -> Parsed<VncClient, VncAnomaly> {
    let mut r = Reader::new(stream);
    let version = match version(&mut r) {
        Parsed::Done(version) => version,
        Parsed::NeedMore => return Parsed::NeedMore,
        Parsed::NotThis(anomaly) => return Parsed::NotThis(anomaly),
    };
    if !version.lists_security_types() {
        return Parsed::Done(VncClient {
            version,
            chosen: None,
        });
    }
    match r.u8() {
        Some(chosen) => Parsed::Done(VncClient {
            version,
            chosen: Some(chosen),
        }),
        None => Parsed::NeedMore,
    }
}

/// `RFB xxx.yyy\n`.
fn version(r: &mut Reader<'_>) -> Parsed<RfbVersion, VncAnomaly> {
    const SHAPE: &[u8; VERSION_LEN] = b"RFB 000.000\n";
    let Some(bytes) = r.take(VERSION_LEN) else {
        let have = r.rest();
        let fits = have.iter().zip(SHAPE).all(|(&b, &shape)| {
            if shape == b'0' {
                b.is_ascii_digit()
            } else {
                b == shape
            }
        });
        return if fits {
            Parsed::NeedMore
        } else {
            Parsed::NotThis(VncAnomaly::NotRfb)
        };
    };
    let number = |digits: Option<&[u8]>| -> Option<u16> {
        let digits = digits?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(digits).ok()?.parse().ok()
    };
    let shape_ok = bytes.get(..4) == Some(b"RFB ")
        && bytes.get(7) == Some(&b'.')
        && bytes.get(11) == Some(&b'\n');
    match (shape_ok, number(bytes.get(4..7)), number(bytes.get(8..11))) {
        (true, Some(major), Some(minor)) => Parsed::Done(RfbVersion { major, minor }),
        _ => Parsed::NotThis(VncAnomaly::NotRfb),
    }
}

/// A failure reason: a 32-bit length and text; `None` until the text (or
/// its first [`MAX_REASON_LEN`] bytes) has arrived.
fn reason(r: &mut Reader<'_>) -> Option<String> {
    let length = usize::try_from(r.u32_be()?).ok()?;
    let text = r.take(length.min(MAX_REASON_LEN))?;
    Some(printable(text, MAX_REASON_LEN))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A 3.8 server offering None and VNC Authentication.
    const SERVER_38: &[u8] = b"RFB 003.008\n\x02\x01\x02";

    #[test]
    fn a_38_server_offering_none_is_without_auth() {
        let server = parse_server(SERVER_38, None).done().unwrap();
        assert_eq!(server.version, RfbVersion { major: 3, minor: 8 });
        assert_eq!(server.security, VncSecurity::Offered(vec![1, 2]));
        assert!(server.no_auth());
    }

    #[test]
    fn a_33_server_decides() {
        let server = parse_server(b"RFB 003.003\n\x00\x00\x00\x02", None)
            .done()
            .unwrap();
        assert_eq!(server.security, VncSecurity::Decided(SECURITY_VNC_AUTH));
        assert!(!server.no_auth());
        // A 3.8 server talking to a 3.3 client uses the 3.3 form.
        let client = Some(RfbVersion { major: 3, minor: 3 });
        let server = parse_server(b"RFB 003.008\n\x00\x00\x00\x01", client)
            .done()
            .unwrap();
        assert_eq!(server.security, VncSecurity::Decided(SECURITY_NONE));
        assert!(server.no_auth());
    }

    #[test]
    fn a_refusal_gives_its_reason() {
        let server = parse_server(b"RFB 003.008\n\x00\x00\x00\x00\x0aToo many\x07!", None)
            .done()
            .unwrap();
        assert_eq!(server.security, VncSecurity::Refused("Too many?!".into()));
        let mut long = b"RFB 003.003\n\0\0\0\0\xff\xff\xff\xff".to_vec();
        assert_eq!(parse_server(&long, None), Parsed::NeedMore);
        long.extend(vec![b'x'; MAX_REASON_LEN]);
        let server = parse_server(&long, None).done().unwrap();
        assert_eq!(
            server.security,
            VncSecurity::Refused("x".repeat(MAX_REASON_LEN))
        );
    }

    #[test]
    fn a_client_gives_version_and_choice() {
        let client = parse_client(b"RFB 003.008\n\x01").done().unwrap();
        assert_eq!(client.chosen, Some(1));
        assert_eq!(parse_client(b"RFB 003.008\n"), Parsed::NeedMore);
        let client = parse_client(b"RFB 003.003\n").done().unwrap();
        assert_eq!(client.chosen, None);
        // Apple's 3.889 lists types.
        let client = parse_client(b"RFB 003.889\n\x1e").done().unwrap();
        assert_eq!(client.chosen, Some(30));
    }

    #[test]
    fn other_bytes_are_refused_early() {
        assert_eq!(
            parse_client(b"RFB 00x"),
            Parsed::NotThis(VncAnomaly::NotRfb)
        );
        assert_eq!(parse_client(b"GET "), Parsed::NotThis(VncAnomaly::NotRfb));
        assert_eq!(
            parse_client(b"RFB 003.008\r"),
            Parsed::NotThis(VncAnomaly::NotRfb)
        );
        assert_eq!(parse_client(b"RFB 0"), Parsed::NeedMore);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_client(&bytes);
            let _ = parse_server(&bytes, None);
            let mut rfb = b"RFB 003.008\n".to_vec();
            rfb.extend_from_slice(&bytes);
            let _ = parse_server(&rfb, None);
            let _ = parse_server(&rfb, Some(RfbVersion { major: 3, minor: 3 }));
        }

        #[test]
        fn every_prefix_needs_more(cut in 0usize..SERVER_38.len()) {
            prop_assert_eq!(parse_server(&SERVER_38[..cut], None), Parsed::NeedMore);
        }
    }
}
