//! SNMP messages (RFC 1157 v1, RFC 3416 v2c PDUs, RFC 3412/3414 v3 with
//! USM), BER-encoded in one UDP datagram: the version, that a community
//! string went in the clear (its length only), the PDU type, for v3 the
//! security model, the auth/priv flags and the USM user name, and from a
//! response the values of sysDescr.0 and sysObjectID.0 — the device's own
//! words for what it is.
//!
//! # Guarantees
//!
//! - The community string is measured, never copied: no community value
//!   leaves this module. v3 authentication and privacy parameters are
//!   skipped unread.
//! - Bounded: the parser walks the message's fixed structure only and never
//!   recurses into a nesting the sender chooses, so its depth is fixed at
//!   five constructed levels (message, v3 scoped PDU, PDU, varbind list,
//!   varbind). At most [`MAX_VARBINDS`] variable
//!   bindings are looked at; texts are cut to [`MAX_TEXT_LEN`], OIDs to
//!   [`MAX_OID_ARCS`] arcs.
//!
//! # What it refuses
//!
//! Anything that is not a BER SEQUENCE holding an INTEGER version 0, 1 or 3
//! with the fields its version needs: indefinite or over-long lengths,
//! multi-byte tags, lengths past their container. Each is an
//! [`SnmpAnomaly`]. An encrypted v3 PDU is not refused: its type is unknown.
use super::printable;
use crate::proto::reader::Reader;

/// Variable bindings looked at in one PDU (an agent's response to a walk
/// carries tens).
pub const MAX_VARBINDS: usize = 64;

/// Longest text kept (sysDescr, v3 user name), in bytes.
pub const MAX_TEXT_LEN: usize = 256;

/// Most arcs of an OID read; a longer OID is not matched and not kept.
pub const MAX_OID_ARCS: usize = 128;

/// BER tags used (X.690 §8; RFC 1157 §4, RFC 3416 §3).
const TAG_INTEGER: u8 = 0x02;
const TAG_OCTET_STRING: u8 = 0x04;
const TAG_OID: u8 = 0x06;
const TAG_SEQUENCE: u8 = 0x30;

/// sysDescr.0 and sysObjectID.0 (RFC 3418), BER content bytes.
const SYS_DESCR_0: &[u8] = &[0x2b, 6, 1, 2, 1, 1, 1, 0];
const SYS_OBJECT_ID_0: &[u8] = &[0x2b, 6, 1, 2, 1, 1, 2, 0];

/// msgFlags bits (RFC 3412 §6.4).
const FLAG_AUTH: u8 = 0x01;
const FLAG_PRIV: u8 = 0x02;
const FLAG_REPORTABLE: u8 = 0x04;

/// Why a datagram is not an SNMP message medtap reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SnmpAnomaly {
    /// The datagram is not a BER SEQUENCE.
    NotSequence,
    /// A length is indefinite, longer than 4 bytes, or a tag is multi-byte.
    BadEncoding,
    /// A length runs past its container, or a field is missing.
    Truncated,
    /// The version is not 0 (v1), 1 (v2c) or 3.
    UnknownVersion,
    /// A field has the wrong tag.
    UnexpectedTag,
    /// The PDU's tag is not one of RFC 3416's.
    UnknownPdu,
}

impl SnmpAnomaly {
    /// A stable snake_case name, for counters.
    pub fn name(self) -> &'static str {
        match self {
            SnmpAnomaly::NotSequence => "not_sequence",
            SnmpAnomaly::BadEncoding => "bad_encoding",
            SnmpAnomaly::Truncated => "truncated",
            SnmpAnomaly::UnknownVersion => "unknown_version",
            SnmpAnomaly::UnexpectedTag => "unexpected_tag",
            SnmpAnomaly::UnknownPdu => "unknown_pdu",
        }
    }
}

/// The message's version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SnmpVersion {
    /// SNMPv1 (version field 0): community in the clear.
    V1,
    /// SNMPv2c (version field 1): community in the clear.
    V2c,
    /// SNMPv3 (version field 3).
    V3,
}

/// The PDU type (RFC 3416 §3, RFC 1157 for Trap).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PduType {
    /// GetRequest-PDU.
    Get,
    /// GetNextRequest-PDU.
    GetNext,
    /// Response-PDU (GetResponse in v1).
    Response,
    /// SetRequest-PDU.
    Set,
    /// v1 Trap-PDU.
    Trap,
    /// GetBulkRequest-PDU.
    GetBulk,
    /// InformRequest-PDU.
    Inform,
    /// SNMPv2-Trap-PDU.
    TrapV2,
    /// Report-PDU.
    Report,
}

impl PduType {
    fn from_tag(tag: u8) -> Option<PduType> {
        Some(match tag {
            0xa0 => PduType::Get,
            0xa1 => PduType::GetNext,
            0xa2 => PduType::Response,
            0xa3 => PduType::Set,
            0xa4 => PduType::Trap,
            0xa5 => PduType::GetBulk,
            0xa6 => PduType::Inform,
            0xa7 => PduType::TrapV2,
            0xa8 => PduType::Report,
            _ => return None,
        })
    }

    /// The context-specific tag number (0 get … 8 report), as tshark's
    /// `snmp.data` numbers the choice.
    pub fn number(self) -> u8 {
        match self {
            PduType::Get => 0,
            PduType::GetNext => 1,
            PduType::Response => 2,
            PduType::Set => 3,
            PduType::Trap => 4,
            PduType::GetBulk => 5,
            PduType::Inform => 6,
            PduType::TrapV2 => 7,
            PduType::Report => 8,
        }
    }
}

/// An SNMPv3 message's header and USM parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnmpV3 {
    /// msgSecurityModel (3 = USM).
    pub security_model: u32,
    /// msgFlags authFlag.
    pub auth: bool,
    /// msgFlags privFlag: the PDU is encrypted.
    pub privacy: bool,
    /// msgFlags reportableFlag.
    pub reportable: bool,
    /// USM msgUserName (empty in engine discovery), printable.
    pub user: Option<String>,
}

/// What a message says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnmpMessage {
    /// The version.
    pub version: SnmpVersion,
    /// v1/v2c: the community string's length in bytes. Never its value.
    pub community_len: Option<usize>,
    /// The PDU type; `None` for an encrypted v3 PDU.
    pub pdu: Option<PduType>,
    /// v3: header and USM parameters.
    pub v3: Option<SnmpV3>,
    /// From a Response: sysDescr.0, printable, cut to [`MAX_TEXT_LEN`].
    pub sys_descr: Option<String>,
    /// From a Response: sysObjectID.0, dotted.
    pub sys_object_id: Option<String>,
}

/// Parses one SNMP message, the payload of one UDP datagram.
pub fn parse_message(datagram: &[u8]) -> Result<SnmpMessage, SnmpAnomaly> {
    let mut outer = Reader::new(datagram);
    let (tag, mut message) = tlv(&mut outer)?;
    if tag != TAG_SEQUENCE {
        return Err(SnmpAnomaly::NotSequence);
    }
    let version = match integer(&mut message)? {
        0 => SnmpVersion::V1,
        1 => SnmpVersion::V2c,
        3 => SnmpVersion::V3,
        _ => return Err(SnmpAnomaly::UnknownVersion),
    };
    let mut found = SnmpMessage {
        version,
        community_len: None,
        pdu: None,
        v3: None,
        sys_descr: None,
        sys_object_id: None,
    };
    if version == SnmpVersion::V3 {
        let (v3, scoped) = v3_header(&mut message)?;
        let encrypted = v3.privacy;
        found.v3 = Some(v3);
        if encrypted {
            return Ok(found);
        }
        // ScopedPDU: contextEngineID, contextName, PDU.
        let mut scoped = scoped;
        expect(&mut scoped, TAG_OCTET_STRING)?;
        expect(&mut scoped, TAG_OCTET_STRING)?;
        message = scoped;
    } else {
        let mut community = expect(&mut message, TAG_OCTET_STRING)?;
        found.community_len = Some(community.rest().len());
    }
    let (tag, pdu) = tlv(&mut message)?;
    let kind = PduType::from_tag(tag).ok_or(SnmpAnomaly::UnknownPdu)?;
    found.pdu = Some(kind);
    if kind == PduType::Response {
        varbinds(pdu, &mut found)?;
    }
    Ok(found)
}

/// msgGlobalData and msgSecurityParameters; returns the header and a
/// reader over msgData's plaintext ScopedPDU (empty when encrypted).
fn v3_header<'a>(message: &mut Reader<'a>) -> Result<(SnmpV3, Reader<'a>), SnmpAnomaly> {
    let mut global = expect(message, TAG_SEQUENCE)?;
    integer(&mut global)?; // msgID
    integer(&mut global)?; // msgMaxSize
    let flags = expect(&mut global, TAG_OCTET_STRING)?
        .u8()
        .ok_or(SnmpAnomaly::Truncated)?;
    let security_model = integer(&mut global)?;
    let mut v3 = SnmpV3 {
        security_model,
        auth: flags & FLAG_AUTH != 0,
        privacy: flags & FLAG_PRIV != 0,
        reportable: flags & FLAG_REPORTABLE != 0,
        user: None,
    };
    let mut parameters = expect(message, TAG_OCTET_STRING)?;
    // USM (RFC 3414 §2.4): SEQUENCE { engineID, boots, time, userName,
    // authenticationParameters, privacyParameters }.
    if security_model == 3 && !parameters.is_empty() {
        let mut usm = expect(&mut parameters, TAG_SEQUENCE)?;
        expect(&mut usm, TAG_OCTET_STRING)?; // msgAuthoritativeEngineID
        integer(&mut usm)?; // boots
        integer(&mut usm)?; // time
        let user = expect(&mut usm, TAG_OCTET_STRING)?.rest();
        v3.user = Some(printable(user, MAX_TEXT_LEN));
    }
    let scoped = if v3.privacy {
        Reader::new(&[])
    } else {
        expect(message, TAG_SEQUENCE)?
    };
    Ok((v3, scoped))
}

/// Reads a Response PDU's varbinds for sysDescr.0 and sysObjectID.0.
fn varbinds(mut pdu: Reader<'_>, found: &mut SnmpMessage) -> Result<(), SnmpAnomaly> {
    integer(&mut pdu)?; // request-id
    integer(&mut pdu)?; // error-status
    integer(&mut pdu)?; // error-index
    let mut list = expect(&mut pdu, TAG_SEQUENCE)?;
    for _ in 0..MAX_VARBINDS {
        if list.is_empty() {
            break;
        }
        let mut varbind = expect(&mut list, TAG_SEQUENCE)?;
        let name = expect(&mut varbind, TAG_OID)?.rest();
        let (tag, mut value) = tlv(&mut varbind)?;
        if name == SYS_DESCR_0 && tag == TAG_OCTET_STRING {
            found.sys_descr = Some(printable(value.rest(), MAX_TEXT_LEN));
        } else if name == SYS_OBJECT_ID_0 && tag == TAG_OID {
            found.sys_object_id = oid_text(value.rest());
        }
    }
    Ok(())
}

/// The next TLV of `r`: its tag and a reader over its contents.
fn tlv<'a>(r: &mut Reader<'a>) -> Result<(u8, Reader<'a>), SnmpAnomaly> {
    let tag = r.u8().ok_or(SnmpAnomaly::Truncated)?;
    if tag & 0x1f == 0x1f {
        return Err(SnmpAnomaly::BadEncoding); // high tag number form
    }
    let first = r.u8().ok_or(SnmpAnomaly::Truncated)?;
    let length = if first & 0x80 == 0 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7f);
        // 0x80 is the indefinite form, which SNMP does not use; more than
        // four length bytes cannot fit a datagram.
        if count == 0 || count > 4 {
            return Err(SnmpAnomaly::BadEncoding);
        }
        let bytes = r.take(count).ok_or(SnmpAnomaly::Truncated)?;
        bytes.iter().fold(0usize, |n, &b| (n << 8) | usize::from(b))
    };
    let contents = r.sub(length).ok_or(SnmpAnomaly::Truncated)?;
    Ok((tag, contents))
}

/// The next TLV, which must have `tag`.
fn expect<'a>(r: &mut Reader<'a>, tag: u8) -> Result<Reader<'a>, SnmpAnomaly> {
    let (found, contents) = tlv(r)?;
    if found != tag {
        return Err(SnmpAnomaly::UnexpectedTag);
    }
    Ok(contents)
}

/// The next INTEGER, which must fit in 32 bits unsigned (versions, msgID,
/// flags, request ids are all in 0..2^31).
fn integer(r: &mut Reader<'_>) -> Result<u32, SnmpAnomaly> {
    let mut contents = expect(r, TAG_INTEGER)?;
    let bytes = contents.rest();
    if bytes.is_empty() || bytes.len() > 5 {
        return Err(SnmpAnomaly::BadEncoding);
    }
    let value = bytes.iter().fold(0u64, |n, &b| (n << 8) | u64::from(b));
    // A negative number (high bit of the first byte) is none of these.
    if bytes.first().is_some_and(|&b| b & 0x80 != 0) {
        return Err(SnmpAnomaly::BadEncoding);
    }
    u32::try_from(value).map_err(|_| SnmpAnomaly::BadEncoding)
}

/// An OID's contents as dotted text (X.690 §8.19); `None` when malformed
/// or longer than [`MAX_OID_ARCS`].
fn oid_text(bytes: &[u8]) -> Option<String> {
    let mut arcs: Vec<u64> = Vec::new();
    let mut value: u64 = 0;
    let mut pending = false;
    for &b in bytes {
        // Seven bits a byte; more than 63 bits is not an arc anyone uses.
        if value > (u64::MAX >> 7) {
            return None;
        }
        value = (value << 7) | u64::from(b & 0x7f);
        pending = b & 0x80 != 0;
        if !pending {
            if arcs.is_empty() {
                // The first subidentifier holds the first two arcs.
                let first = (value / 40).min(2);
                arcs.push(first);
                arcs.push(value - first * 40);
            } else {
                arcs.push(value);
            }
            if arcs.len() > MAX_OID_ARCS {
                return None;
            }
            value = 0;
        }
    }
    if pending || arcs.is_empty() {
        return None;
    }
    let text: Vec<String> = arcs.iter().map(u64::to_string).collect();
    Some(text.join("."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// snmpget -v2c -c public … sysDescr.0
    #[rustfmt::skip]
    const GET_V2C: &[u8] = &[
        0x30, 0x29,                   // SEQUENCE, 41
        0x02, 0x01, 0x01,             //   version 1 (v2c)
        0x04, 0x06, b'p', b'u', b'b', b'l', b'i', b'c', // community "public"
        0xa0, 0x1c,                   //   GetRequest, 28
        0x02, 0x04, 0x12, 0x34, 0x56, 0x78, // request-id
        0x02, 0x01, 0x00,             //     error-status
        0x02, 0x01, 0x00,             //     error-index
        0x30, 0x0e,                   //     varbinds, 14
        0x30, 0x0c,                   //       varbind, 12
        0x06, 0x08, 0x2b, 6, 1, 2, 1, 1, 1, 0, // sysDescr.0
        0x05, 0x00,                   //         NULL
    ];

    /// An agent's v1 answer: sysDescr.0 "Linux pump" and sysObjectID.0.
    #[rustfmt::skip]
    const RESPONSE_V1: &[u8] = &[
        0x30, 0x45,
        0x02, 0x01, 0x00,             // version 0 (v1)
        0x04, 0x04, b'w', b'a', b'r', b'd',
        0xa2, 0x3a,                   // GetResponse, 58
        0x02, 0x01, 0x07,
        0x02, 0x01, 0x00,
        0x02, 0x01, 0x00,
        0x30, 0x2f,                   // varbinds, 47
        0x30, 0x16,                   //   varbind, 22
        0x06, 0x08, 0x2b, 6, 1, 2, 1, 1, 1, 0,
        0x04, 0x0a, b'L', b'i', b'n', b'u', b'x', b' ', b'p', b'u', b'm', b'p',
        0x30, 0x15,                   //   varbind, 21
        0x06, 0x08, 0x2b, 6, 1, 2, 1, 1, 2, 0,
        0x06, 0x09, 0x2b, 6, 1, 4, 1, 0xbf, 0x08, 3, 2, // 1.3.6.1.4.1.8072.3.2
    ];

    #[test]
    fn a_v2c_get_gives_version_community_length_and_type() {
        let message = parse_message(GET_V2C).unwrap();
        assert_eq!(message.version, SnmpVersion::V2c);
        assert_eq!(message.community_len, Some(6));
        assert_eq!(message.pdu, Some(PduType::Get));
        assert_eq!(message.sys_descr, None);
        assert!(!format!("{message:?}").contains("public"));
    }

    #[test]
    fn a_response_gives_sys_descr_and_sys_object_id() {
        let message = parse_message(RESPONSE_V1).unwrap();
        assert_eq!(message.version, SnmpVersion::V1);
        assert_eq!(message.pdu, Some(PduType::Response));
        assert_eq!(message.sys_descr.as_deref(), Some("Linux pump"));
        assert_eq!(
            message.sys_object_id.as_deref(),
            Some("1.3.6.1.4.1.8072.3.2")
        );
    }

    /// An SNMPv3 engine discovery request (net-snmp): noAuthNoPriv,
    /// reportable, empty user.
    #[rustfmt::skip]
    const DISCOVERY_V3: &[u8] = &[
        0x30, 0x3a,
        0x02, 0x01, 0x03,                         // version 3
        0x30, 0x0f,                               // msgGlobalData
        0x02, 0x03, 0x01, 0x02, 0x03,             //   msgID
        0x02, 0x02, 0x05, 0xdc,                   //   msgMaxSize 1500
        0x04, 0x01, 0x04,                         //   msgFlags: reportable
        0x02, 0x01, 0x03,                         //   msgSecurityModel USM
        0x04, 0x10,                               // msgSecurityParameters
        0x30, 0x0e,
        0x04, 0x00, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00,
        0x04, 0x00, 0x04, 0x00, 0x04, 0x00,
        0x30, 0x12,                               // ScopedPDU
        0x04, 0x00, 0x04, 0x00,
        0xa0, 0x0c,
        0x02, 0x02, 0x2a, 0x2a, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x00,
    ];

    #[test]
    fn a_v3_discovery_gives_flags_and_empty_user() {
        let message = parse_message(DISCOVERY_V3).unwrap();
        assert_eq!(message.version, SnmpVersion::V3);
        assert_eq!(message.community_len, None);
        assert_eq!(message.pdu, Some(PduType::Get));
        let v3 = message.v3.unwrap();
        assert_eq!(v3.security_model, 3);
        assert!(!v3.auth && !v3.privacy && v3.reportable);
        assert_eq!(v3.user.as_deref(), Some(""));
    }

    #[test]
    fn encodings_snmp_does_not_use_are_refused() {
        // Indefinite length.
        assert_eq!(
            parse_message(&[0x30, 0x80, 0, 0]),
            Err(SnmpAnomaly::BadEncoding)
        );
        // High tag number form.
        assert_eq!(
            parse_message(&[0x3f, 0x01, 0x00]),
            Err(SnmpAnomaly::BadEncoding)
        );
        // Version 2 does not exist on the wire.
        assert_eq!(
            parse_message(&[0x30, 0x03, 0x02, 0x01, 0x02]),
            Err(SnmpAnomaly::UnknownVersion)
        );
        assert_eq!(parse_message(b"GET /"), Err(SnmpAnomaly::Truncated));
        assert_eq!(parse_message(&[0x04, 0x00]), Err(SnmpAnomaly::NotSequence));
        let mut cut = GET_V2C.to_vec();
        cut.pop();
        assert_eq!(parse_message(&cut), Err(SnmpAnomaly::Truncated));
    }

    #[test]
    fn oids_are_dotted_and_bounded() {
        assert_eq!(oid_text(SYS_DESCR_0).as_deref(), Some("1.3.6.1.2.1.1.1.0"));
        assert_eq!(oid_text(&[0x88, 0x37]).as_deref(), Some("2.999"));
        assert_eq!(oid_text(&[0x2b, 0x86]), None);
        assert_eq!(oid_text(&[0x2b; MAX_OID_ARCS]), None);
        assert_eq!(oid_text(&[0xff; 12]), None);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1500)) {
            let _ = parse_message(&bytes);
            let _ = oid_text(&bytes);
        }

        #[test]
        fn a_damaged_message_never_panics(at in 0usize..RESPONSE_V1.len(), byte in any::<u8>()) {
            let mut bytes = RESPONSE_V1.to_vec();
            bytes[at] = byte;
            let _ = parse_message(&bytes);
        }
    }
}
