//! The opening of an RDP connection (MS-RDPBCGR §2.2.1.1, §2.2.1.2): the
//! client's X.224 Connection Request with its `Cookie: mstshash=` user name
//! and RDP_NEG_REQ (the security protocols it asks for), and the server's
//! Connection Confirm with RDP_NEG_RSP (the one chosen) or RDP_NEG_FAILURE.
//! A server that chooses standard RDP security or plain TLS authenticates
//! no one before the session starts: RDP without Network Level
//! Authentication ([`RdpConfirm::without_nla`]).
//!
//! # Shape
//!
//! TPKT (RFC 1006 §6: version 3, reserved, 2-byte big-endian length of the
//! whole packet), X.224 (ISO 8073) fixed part: length indicator, type code
//! (0xE0 Connection Request, 0xD0 Connection Confirm), DST-REF, SRC-REF,
//! class; then the variable part this module reads.
//!
//! # Guarantees
//!
//! Never panics; reads one TPKT of at most [`MAX_PDU_LEN`] bytes; the user
//! name is cut to [`MAX_USER_LEN`] and printable; a routing token (a
//! load-balancer cookie, not a user) is noted, never kept.
//!
//! # What it refuses
//!
//! A first TPKT that is not version 3, is longer than [`MAX_PDU_LEN`] or
//! shorter than its X.224 header; an X.224 type other than the one asked
//! for; a cookie without its CR LF; negotiation data of the wrong type or
//! length. Each is an [`RdpAnomaly`].
use super::{Parsed, printable};
use crate::proto::reader::Reader;

/// Largest Connection Request or Confirm read, in bytes of TPKT. A request
/// with cookie, negotiation and correlation info is under 300 bytes.
pub const MAX_PDU_LEN: usize = 2 * 1024;

/// Longest `mstshash` user name kept, in bytes. mstsc sends at most 9
/// characters of the user name; other clients send more.
pub const MAX_USER_LEN: usize = 64;

/// requestedProtocols / selectedProtocol values (MS-RDPBCGR §2.2.1.1.1).
/// Standard RDP security (no flag set).
pub const PROTOCOL_RDP: u32 = 0x0000_0000;
/// TLS 1.0 or later.
pub const PROTOCOL_SSL: u32 = 0x0000_0001;
/// CredSSP (Network Level Authentication).
pub const PROTOCOL_HYBRID: u32 = 0x0000_0002;
/// RDSTLS.
pub const PROTOCOL_RDSTLS: u32 = 0x0000_0004;
/// CredSSP with the Early User Authorization Result PDU.
pub const PROTOCOL_HYBRID_EX: u32 = 0x0000_0008;

const TPKT_VERSION: u8 = 3;
const X224_CONNECTION_REQUEST: u8 = 0xe0;
const X224_CONNECTION_CONFIRM: u8 = 0xd0;
const TYPE_RDP_NEG_REQ: u8 = 0x01;
const TYPE_RDP_NEG_RSP: u8 = 0x02;
const TYPE_RDP_NEG_FAILURE: u8 = 0x03;
/// Length field of every negotiation structure.
const NEG_LEN: u16 = 8;
/// TPKT header plus the X.224 fixed part.
const HEADERS_LEN: usize = 4 + 7;

/// Why bytes are not an RDP connection opening medtap reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RdpAnomaly {
    /// The first byte is not TPKT version 3.
    NotTpkt,
    /// The TPKT length is shorter than its headers or longer than
    /// [`MAX_PDU_LEN`].
    BadLength,
    /// The X.224 type is not the one asked for, or its length indicator
    /// does not fit the TPKT.
    NotConnection,
    /// A `Cookie:` line without its CR LF.
    BadCookie,
    /// Negotiation data of an unknown type or a length other than 8.
    BadNegotiation,
}

impl RdpAnomaly {
    /// A stable snake_case name, for counters.
    pub fn name(self) -> &'static str {
        match self {
            RdpAnomaly::NotTpkt => "not_tpkt",
            RdpAnomaly::BadLength => "bad_length",
            RdpAnomaly::NotConnection => "not_connection",
            RdpAnomaly::BadCookie => "bad_cookie",
            RdpAnomaly::BadNegotiation => "bad_negotiation",
        }
    }
}

/// What a Connection Request says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdpRequest {
    /// The user name of `Cookie: mstshash=NAME`.
    pub cookie_user: Option<String>,
    /// Whether a routing token (another `Cookie:`) was sent.
    pub routing_token: bool,
    /// RDP_NEG_REQ requestedProtocols; `None` when the client sent no
    /// negotiation (it speaks standard RDP security only).
    pub requested_protocols: Option<u32>,
    /// RDP_NEG_REQ flags.
    pub flags: Option<u8>,
}

/// The server's answer in a Connection Confirm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RdpNegotiation {
    /// RDP_NEG_RSP: the protocol chosen, and the flags.
    Selected {
        /// selectedProtocol.
        protocol: u32,
        /// flags.
        flags: u8,
    },
    /// RDP_NEG_FAILURE: why the server refused the request.
    Failure {
        /// failureCode (1 SSL_REQUIRED_BY_SERVER, 2 SSL_NOT_ALLOWED_BY_SERVER,
        /// 3 SSL_CERT_NOT_ON_SERVER, 4 INCONSISTENT_FLAGS,
        /// 5 HYBRID_REQUIRED_BY_SERVER, 6 SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER).
        code: u32,
    },
    /// No negotiation data: standard RDP security.
    None,
}

/// What a Connection Confirm says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RdpConfirm {
    /// The negotiation result.
    pub negotiation: RdpNegotiation,
}

impl RdpConfirm {
    /// The protocol the connection goes on with: the one selected, or
    /// standard RDP security without negotiation; `None` after a failure.
    pub fn selected_protocol(&self) -> Option<u32> {
        match self.negotiation {
            RdpNegotiation::Selected { protocol, .. } => Some(protocol),
            RdpNegotiation::None => Some(PROTOCOL_RDP),
            RdpNegotiation::Failure { .. } => None,
        }
    }

    /// Whether the connection goes on without Network Level Authentication:
    /// standard RDP security or plain TLS, neither CredSSP (HYBRID,
    /// HYBRID_EX) nor RDSTLS. `None` after a failure.
    pub fn without_nla(&self) -> Option<bool> {
        self.selected_protocol()
            .map(|p| p == PROTOCOL_RDP || p == PROTOCOL_SSL)
    }
}

/// Parses the Connection Request at the start of a client's bytes.
pub fn parse_request(stream: &[u8]) -> Parsed<RdpRequest, RdpAnomaly> {
    let mut variable = match x224(stream, X224_CONNECTION_REQUEST) {
        Parsed::Done(variable) => variable,
        Parsed::NeedMore => return Parsed::NeedMore,
        Parsed::NotThis(anomaly) => return Parsed::NotThis(anomaly),
    };
    let mut request = RdpRequest {
        cookie_user: None,
        routing_token: false,
        requested_protocols: None,
        flags: None,
    };
    // §2.2.1.1: a routingToken or a cookie, each a line ended by CR LF.
    if variable.starts_with(b"Cookie: ") {
        let Some(end) = memchr::memmem::find(variable, b"\r\n") else {
            return Parsed::NotThis(RdpAnomaly::BadCookie);
        };
        let line = variable.get(..end).unwrap_or_default();
        match line.strip_prefix(b"Cookie: mstshash=") {
            Some(user) => request.cookie_user = Some(printable(user, MAX_USER_LEN)),
            None => request.routing_token = true,
        }
        variable = variable.get(end + 2..).unwrap_or_default();
    }
    if variable.is_empty() {
        return Parsed::Done(request);
    }
    let mut r = Reader::new(variable);
    match negotiation(&mut r) {
        Some((TYPE_RDP_NEG_REQ, flags, protocols)) => {
            request.flags = Some(flags);
            request.requested_protocols = Some(protocols);
            // An rdpCorrelationInfo may follow; it says nothing of security.
            Parsed::Done(request)
        }
        _ => Parsed::NotThis(RdpAnomaly::BadNegotiation),
    }
}

/// Parses the Connection Confirm at the start of a server's bytes.
pub fn parse_confirm(stream: &[u8]) -> Parsed<RdpConfirm, RdpAnomaly> {
    let variable = match x224(stream, X224_CONNECTION_CONFIRM) {
        Parsed::Done(variable) => variable,
        Parsed::NeedMore => return Parsed::NeedMore,
        Parsed::NotThis(anomaly) => return Parsed::NotThis(anomaly),
    };
    if variable.is_empty() {
        return Parsed::Done(RdpConfirm {
            negotiation: RdpNegotiation::None,
        });
    }
    let mut r = Reader::new(variable);
    let negotiation = match negotiation(&mut r) {
        Some((TYPE_RDP_NEG_RSP, flags, protocol)) => RdpNegotiation::Selected { protocol, flags },
        Some((TYPE_RDP_NEG_FAILURE, _, code)) => RdpNegotiation::Failure { code },
        _ => return Parsed::NotThis(RdpAnomaly::BadNegotiation),
    };
    Parsed::Done(RdpConfirm { negotiation })
}

/// A negotiation structure: type, flags, length 8, a 32-bit value.
fn negotiation(r: &mut Reader<'_>) -> Option<(u8, u8, u32)> {
    let kind = r.u8()?;
    let flags = r.u8()?;
    if r.u16_le()? != NEG_LEN {
        return None;
    }
    Some((kind, flags, r.u32_le()?))
}

/// The X.224 variable part of the first TPKT of `stream`, when it is a
/// TPDU of type `code`.
fn x224(stream: &[u8], code: u8) -> Parsed<&[u8], RdpAnomaly> {
    match stream.first() {
        None => return Parsed::NeedMore,
        Some(&TPKT_VERSION) => {}
        Some(_) => return Parsed::NotThis(RdpAnomaly::NotTpkt),
    }
    let mut r = Reader::new(stream);
    let (Some(_version), Some(_reserved), Some(length)) = (r.u8(), r.u8(), r.u16_be()) else {
        return Parsed::NeedMore;
    };
    let length = usize::from(length);
    if !(HEADERS_LEN..=MAX_PDU_LEN).contains(&length) {
        return Parsed::NotThis(RdpAnomaly::BadLength);
    }
    let Some(mut tpdu) = r.sub(length - 4) else {
        return Parsed::NeedMore;
    };
    let (Some(indicator), Some(kind)) = (tpdu.u8(), tpdu.u8()) else {
        return Parsed::NotThis(RdpAnomaly::BadLength);
    };
    // The type code's low nibble is the credit (CDT), zero here.
    if kind & 0xf0 != code {
        return Parsed::NotThis(RdpAnomaly::NotConnection);
    }
    // The length indicator counts the X.224 header after itself, variable
    // part included; it cannot run past the TPKT.
    let indicator = usize::from(indicator);
    if indicator < 6 || indicator + 5 > length {
        return Parsed::NotThis(RdpAnomaly::NotConnection);
    }
    if tpdu.take(5).is_none() {
        return Parsed::NotThis(RdpAnomaly::BadLength);
    }
    match tpdu.take(indicator - 6) {
        Some(variable) => Parsed::Done(variable),
        None => Parsed::NotThis(RdpAnomaly::NotConnection),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// xfreerdp /u:biomed: cookie, then RDP_NEG_REQ for TLS | CredSSP | HYBRID_EX.
    #[rustfmt::skip]
    const REQUEST: &[u8] = &[
        0x03, 0x00, 0x00, 0x2c,       // TPKT v3, length 44
        0x27, 0xe0,                   // X.224 LI 39, Connection Request
        0x00, 0x00, 0x00, 0x00, 0x00, // DST-REF, SRC-REF, class 0
        b'C', b'o', b'o', b'k', b'i', b'e', b':', b' ',
        b'm', b's', b't', b's', b'h', b'a', b's', b'h', b'=',
        b'b', b'i', b'o', b'm', b'e', b'd', b'\r', b'\n',
        0x01, 0x00, 0x08, 0x00,       // RDP_NEG_REQ, flags 0, length 8
        0x0b, 0x00, 0x00, 0x00,       // SSL | HYBRID | HYBRID_EX
    ];

    /// The server chooses TLS: no NLA.
    #[rustfmt::skip]
    const CONFIRM_TLS: &[u8] = &[
        0x03, 0x00, 0x00, 0x13,       // TPKT v3, length 19
        0x0e, 0xd0,                   // X.224 LI 14, Connection Confirm
        0x00, 0x00, 0x12, 0x34, 0x00, // DST-REF, SRC-REF, class 0
        0x02, 0x1f, 0x08, 0x00,       // RDP_NEG_RSP, flags, length 8
        0x01, 0x00, 0x00, 0x00,       // PROTOCOL_SSL
    ];

    #[test]
    fn a_request_gives_the_cookie_user_and_protocols() {
        let request = parse_request(REQUEST).done().unwrap();
        assert_eq!(request.cookie_user.as_deref(), Some("biomed"));
        assert!(!request.routing_token);
        assert_eq!(
            request.requested_protocols,
            Some(PROTOCOL_SSL | PROTOCOL_HYBRID | PROTOCOL_HYBRID_EX)
        );
    }

    #[test]
    fn a_confirm_choosing_tls_is_without_nla() {
        let confirm = parse_confirm(CONFIRM_TLS).done().unwrap();
        assert_eq!(confirm.selected_protocol(), Some(PROTOCOL_SSL));
        assert_eq!(confirm.without_nla(), Some(true));
        let mut hybrid = CONFIRM_TLS.to_vec();
        hybrid[15] = 0x02;
        let confirm = parse_confirm(&hybrid).done().unwrap();
        assert_eq!(confirm.without_nla(), Some(false));
    }

    #[test]
    fn a_failure_and_a_bare_confirm() {
        let mut failure = CONFIRM_TLS.to_vec();
        failure[11] = 0x03;
        failure[15] = 0x05; // HYBRID_REQUIRED_BY_SERVER
        let confirm = parse_confirm(&failure).done().unwrap();
        assert_eq!(confirm.negotiation, RdpNegotiation::Failure { code: 5 });
        assert_eq!(confirm.without_nla(), None);
        // An old server: no negotiation, standard RDP security.
        let bare = [0x03, 0x00, 0x00, 0x0b, 0x06, 0xd0, 0, 0, 0x12, 0x34, 0];
        let confirm = parse_confirm(&bare).done().unwrap();
        assert_eq!(confirm.selected_protocol(), Some(PROTOCOL_RDP));
        assert_eq!(confirm.without_nla(), Some(true));
    }

    #[test]
    fn a_routing_token_is_noted_not_kept() {
        let mut bytes = vec![0x03, 0x00, 0x00, 0x00, 0x00, 0xe0, 0, 0, 0, 0, 0];
        bytes.extend_from_slice(b"Cookie: msts=3640205228.15629.0000\r\n");
        let length = bytes.len();
        bytes[3] = length as u8;
        bytes[4] = (length - 5) as u8;
        let request = parse_request(&bytes).done().unwrap();
        assert!(request.routing_token);
        assert_eq!(request.cookie_user, None);
        assert_eq!(request.requested_protocols, None);
        assert!(!format!("{request:?}").contains("3640205228"));
    }

    #[test]
    fn other_bytes_are_refused() {
        assert_eq!(
            parse_request(b"GET /"),
            Parsed::NotThis(RdpAnomaly::NotTpkt)
        );
        assert_eq!(
            parse_request(CONFIRM_TLS),
            Parsed::NotThis(RdpAnomaly::NotConnection)
        );
        assert_eq!(
            parse_request(&[0x03, 0x00, 0x00, 0x05, 0x00]),
            Parsed::NotThis(RdpAnomaly::BadLength)
        );
        assert_eq!(
            parse_request(&[0x03, 0x00, 0xff, 0xff]),
            Parsed::NotThis(RdpAnomaly::BadLength)
        );
        let mut cookie_without_end = REQUEST.to_vec();
        cookie_without_end[34] = b'x';
        cookie_without_end[35] = b'x';
        assert_eq!(
            parse_request(&cookie_without_end),
            Parsed::NotThis(RdpAnomaly::BadCookie)
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_request(&bytes);
            let _ = parse_confirm(&bytes);
        }

        #[test]
        fn every_prefix_needs_more(cut in 0usize..REQUEST.len()) {
            prop_assert_eq!(parse_request(&REQUEST[..cut]), Parsed::NeedMore);
            let cut = cut.min(CONFIRM_TLS.len() - 1);
            prop_assert_eq!(parse_confirm(&CONFIRM_TLS[..cut]), Parsed::NeedMore);
        }
    }
}
