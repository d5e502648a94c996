//! MQTT wire format: the fixed header (MQTT 3.1.1 §2.2, 5.0 §2.1), a
//! borrowed reader for the variable header and payload, MQTT 5 properties
//! (5.0 §2.2.2) and the names of return and reason codes.
//!
//! Everything here works on borrowed byte slices and returns `Option` or
//! [`Malformed`]; nothing can panic on any input, and nothing allocates.

/// Control packet types (MQTT 3.1.1 §2.2.1, 5.0 §2.1.2), indexed by the
/// upper four bits of the first byte. Type 0 is reserved; 15 is AUTH in
/// MQTT 5 and reserved before it.
pub const PACKET_NAMES: [&str; 16] = [
    "reserved",
    "connect",
    "connack",
    "publish",
    "puback",
    "pubrec",
    "pubrel",
    "pubcomp",
    "subscribe",
    "suback",
    "unsubscribe",
    "unsuback",
    "pingreq",
    "pingresp",
    "disconnect",
    "auth",
];

pub const CONNECT: u8 = 1;
pub const CONNACK: u8 = 2;
pub const PUBLISH: u8 = 3;
pub const PUBACK: u8 = 4;
pub const PUBREC: u8 = 5;
pub const PUBREL: u8 = 6;
pub const PUBCOMP: u8 = 7;
pub const SUBSCRIBE: u8 = 8;
pub const SUBACK: u8 = 9;
pub const UNSUBSCRIBE: u8 = 10;
pub const UNSUBACK: u8 = 11;
pub const PINGREQ: u8 = 12;
pub const PINGRESP: u8 = 13;
pub const DISCONNECT: u8 = 14;
pub const AUTH: u8 = 15;

/// The fixed-header flags a packet type must carry (3.1.1 §2.2.2, 5.0
/// §2.1.3): 0b0010 for PUBREL, SUBSCRIBE and UNSUBSCRIBE, 0 for the rest;
/// `None` for PUBLISH, whose flags are DUP, QoS and RETAIN.
pub fn required_flags(packet_type: u8) -> Option<u8> {
    match packet_type {
        PUBLISH => None,
        PUBREL | SUBSCRIBE | UNSUBSCRIBE => Some(0b0010),
        _ => Some(0),
    }
}

/// The most bytes a Variable Byte Integer may take (3.1.1 §2.2.3, 5.0
/// §1.5.5); a fifth continuation byte is malformed.
pub const MAX_VARINT_LEN: usize = 4;

/// A decoded fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedHeader {
    /// Upper four bits of byte 1.
    pub packet_type: u8,
    /// Lower four bits of byte 1.
    pub flags: u8,
    /// Bytes the fixed header takes: 1 + the Remaining Length's 1–4 bytes.
    pub header_len: usize,
    /// The Remaining Length: bytes of variable header and payload.
    pub remaining: u32,
}

/// What the first bytes of a packet say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    /// A complete fixed header.
    Complete(FixedHeader),
    /// Too few bytes to finish the fixed header.
    Incomplete,
    /// The Remaining Length has a fifth continuation byte.
    BadLength,
}

/// Decodes a Variable Byte Integer from the start of `bytes`: the value and
/// the bytes it took, `Ok(None)` when `bytes` ends first, `Err(())` when it
/// runs past [`MAX_VARINT_LEN`] bytes.
#[allow(clippy::result_unit_err)]
pub fn varint(bytes: &[u8]) -> Result<Option<(u32, usize)>, ()> {
    let mut value: u32 = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if i >= MAX_VARINT_LEN {
            return Err(());
        }
        value |= u32::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(Some((value, i + 1)));
        }
    }
    if bytes.len() >= MAX_VARINT_LEN {
        Err(())
    } else {
        Ok(None)
    }
}

/// Decodes the fixed header at the start of `bytes`.
pub fn fixed_header(bytes: &[u8]) -> Header {
    let Some((&first, rest)) = bytes.split_first() else {
        return Header::Incomplete;
    };
    match varint(rest) {
        Ok(Some((remaining, n))) => Header::Complete(FixedHeader {
            packet_type: first >> 4,
            flags: first & 0x0f,
            header_len: 1 + n,
            remaining,
        }),
        Ok(None) => Header::Incomplete,
        Err(()) => Header::BadLength,
    }
}

/// Why a packet's body did not parse; each maps to one anomaly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// A field runs past the end of the packet; names the field.
    Truncated(&'static str),
    /// A field holds a value the standard forbids; names the field.
    Invalid(&'static str),
    /// MQTT 5 properties: a length past the packet, an unknown identifier,
    /// or a value running past the property block.
    Properties(&'static str),
}

impl Malformed {
    /// The field the error names.
    pub fn what(self) -> &'static str {
        match self {
            Malformed::Truncated(w) | Malformed::Invalid(w) | Malformed::Properties(w) => w,
        }
    }
}

/// A borrowed reader over one packet's bytes: the shared bounded reader,
/// with the field a read was for named in its error, as the anomalies
/// report it. [`Reader::sub`] gives a child that cannot run past a
/// length-prefixed item.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    inner: crate::proto::reader::Reader<'a>,
}

impl<'a> Reader<'a> {
    /// A reader over `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader {
            inner: crate::proto::reader::Reader::new(buf),
        }
    }

    /// Bytes not yet read.
    pub fn left(&self) -> usize {
        self.inner.remaining().len()
    }

    /// Whether everything was read.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], Malformed> {
        self.inner.take(n).ok_or(Malformed::Truncated(what))
    }

    /// A child reader over the next `n` bytes.
    pub fn sub(&mut self, n: usize, what: &'static str) -> Result<Reader<'a>, Malformed> {
        self.inner
            .sub(n)
            .map(|inner| Reader { inner })
            .ok_or(Malformed::Truncated(what))
    }

    /// One byte.
    pub fn u8(&mut self, what: &'static str) -> Result<u8, Malformed> {
        self.inner.u8().ok_or(Malformed::Truncated(what))
    }

    /// A big-endian Two Byte Integer.
    pub fn u16(&mut self, what: &'static str) -> Result<u16, Malformed> {
        self.inner.u16_be().ok_or(Malformed::Truncated(what))
    }

    /// A big-endian Four Byte Integer.
    pub fn u32(&mut self, what: &'static str) -> Result<u32, Malformed> {
        self.inner.u32_be().ok_or(Malformed::Truncated(what))
    }

    /// A Variable Byte Integer.
    pub fn varint(&mut self, what: &'static str) -> Result<u32, Malformed> {
        match varint(self.inner.remaining()) {
            Ok(Some((v, n))) => {
                self.take(n, what)?;
                Ok(v)
            }
            Ok(None) => Err(Malformed::Truncated(what)),
            Err(()) => Err(Malformed::Invalid(what)),
        }
    }

    /// A UTF-8 string or binary data: two length bytes, then the bytes.
    pub fn prefixed(&mut self, what: &'static str) -> Result<&'a [u8], Malformed> {
        let n = self.u16(what)?;
        self.take(usize::from(n), what)
    }

    /// The MQTT 5 property block (5.0 §2.2.2): its length, then a reader
    /// over it. A length past the packet is [`Malformed::Properties`].
    pub fn properties(&mut self) -> Result<Properties<'a>, Malformed> {
        let n = match varint(self.inner.remaining()) {
            Ok(Some((v, n))) => {
                self.take(n, "property length")?;
                v
            }
            Ok(None) => return Err(Malformed::Truncated("property length")),
            Err(()) => return Err(Malformed::Properties("property length")),
        };
        let n = usize::try_from(n).map_err(|_| Malformed::Properties("property length"))?;
        if n > self.left() {
            return Err(Malformed::Properties("property length exceeds packet"));
        }
        self.sub(n, "properties").map(|r| Properties { reader: r })
    }
}

/// One MQTT 5 property value (5.0 §2.2.2.2), borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    /// Byte.
    Byte(u8),
    /// Two Byte Integer.
    U16(u16),
    /// Four Byte Integer.
    U32(u32),
    /// Variable Byte Integer.
    VarInt(u32),
    /// UTF-8 Encoded String.
    Str(&'a [u8]),
    /// Binary Data. Never copied into a record.
    Binary,
    /// UTF-8 String Pair (user property). Never copied into a record.
    Pair,
}

/// Property identifiers medtap reads (5.0 §2.2.2.2, Table 2-4).
pub mod prop {
    pub const SESSION_EXPIRY_INTERVAL: u32 = 0x11;
    pub const ASSIGNED_CLIENT_IDENTIFIER: u32 = 0x12;
    pub const SERVER_KEEP_ALIVE: u32 = 0x13;
    pub const AUTHENTICATION_METHOD: u32 = 0x15;
    pub const REQUEST_PROBLEM_INFORMATION: u32 = 0x17;
    pub const REQUEST_RESPONSE_INFORMATION: u32 = 0x19;
    pub const RECEIVE_MAXIMUM: u32 = 0x21;
    pub const TOPIC_ALIAS_MAXIMUM: u32 = 0x22;
    pub const MAXIMUM_QOS: u32 = 0x24;
    pub const RETAIN_AVAILABLE: u32 = 0x25;
    pub const USER_PROPERTY: u32 = 0x26;
    pub const MAXIMUM_PACKET_SIZE: u32 = 0x27;
}

/// An iterator over an MQTT 5 property block. Yields `Err` once and stops
/// on an unknown identifier or a value that runs past the block.
#[derive(Debug, Clone, Copy)]
pub struct Properties<'a> {
    reader: Reader<'a>,
}

impl<'a> Properties<'a> {
    fn value(&mut self, id: u32) -> Result<Value<'a>, Malformed> {
        const WHAT: &str = "property value";
        let r = &mut self.reader;
        let v = match id {
            // Payload Format Indicator, Request Problem / Response
            // Information, Maximum QoS, Retain / Wildcard / Subscription
            // Identifier / Shared Subscription Available.
            0x01 | 0x17 | 0x19 | 0x24 | 0x25 | 0x28 | 0x29 | 0x2a => Value::Byte(r.u8(WHAT)?),
            // Server Keep Alive, Receive Maximum, Topic Alias Maximum, Topic Alias.
            0x13 | 0x21 | 0x22 | 0x23 => Value::U16(r.u16(WHAT)?),
            // Message Expiry, Session Expiry, Will Delay, Maximum Packet Size.
            0x02 | 0x11 | 0x18 | 0x27 => Value::U32(r.u32(WHAT)?),
            // Subscription Identifier.
            0x0b => Value::VarInt(r.varint(WHAT)?),
            // Content Type, Response Topic, Assigned Client Identifier,
            // Authentication Method, Response Information, Server Reference,
            // Reason String.
            0x03 | 0x08 | 0x12 | 0x15 | 0x1a | 0x1c | 0x1f => Value::Str(r.prefixed(WHAT)?),
            // Correlation Data, Authentication Data.
            0x09 | 0x16 => {
                r.prefixed(WHAT)?;
                Value::Binary
            }
            // User Property: name, value.
            0x26 => {
                r.prefixed(WHAT)?;
                r.prefixed(WHAT)?;
                Value::Pair
            }
            _ => return Err(Malformed::Properties("unknown property identifier")),
        };
        Ok(v)
    }
}

impl<'a> Iterator for Properties<'a> {
    type Item = Result<(u32, Value<'a>), Malformed>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.reader.is_empty() {
            return None;
        }
        let item = self
            .reader
            .varint("property identifier")
            .and_then(|id| self.value(id).map(|v| (id, v)));
        match item {
            Ok(v) => Some(Ok(v)),
            Err(e) => {
                // Stop: nothing after a bad property can be trusted.
                self.reader = Reader::new(&[]);
                Some(Err(Malformed::Properties(e.what())))
            }
        }
    }
}

/// CONNACK return codes of MQTT 3.1 and 3.1.1 (3.1.1 §3.2.2.3).
pub fn connack_v3_name(code: u8) -> &'static str {
    match code {
        0 => "accepted",
        1 => "unacceptable_protocol_version",
        2 => "identifier_rejected",
        3 => "server_unavailable",
        4 => "bad_username_or_password",
        5 => "not_authorized",
        _ => "reserved",
    }
}

/// SUBACK return codes of MQTT 3.1.1 (§3.9.3).
pub fn suback_v3_name(code: u8) -> &'static str {
    match code {
        0 => "granted_qos_0",
        1 => "granted_qos_1",
        2 => "granted_qos_2",
        0x80 => "failure",
        _ => "reserved",
    }
}

/// MQTT 5 reason codes (5.0 §2.4, Table 2-6). Code 0 is named after the
/// packet it is in: "success", "normal_disconnection" or "granted_qos_0".
pub fn reason_name(packet_type: u8, code: u8) -> &'static str {
    match code {
        0x00 => match packet_type {
            DISCONNECT => "normal_disconnection",
            SUBACK => "granted_qos_0",
            _ => "success",
        },
        0x01 => "granted_qos_1",
        0x02 => "granted_qos_2",
        0x04 => "disconnect_with_will_message",
        0x10 => "no_matching_subscribers",
        0x11 => "no_subscription_existed",
        0x18 => "continue_authentication",
        0x19 => "re_authenticate",
        0x80 => "unspecified_error",
        0x81 => "malformed_packet",
        0x82 => "protocol_error",
        0x83 => "implementation_specific_error",
        0x84 => "unsupported_protocol_version",
        0x85 => "client_identifier_not_valid",
        0x86 => "bad_username_or_password",
        0x87 => "not_authorized",
        0x88 => "server_unavailable",
        0x89 => "server_busy",
        0x8a => "banned",
        0x8b => "server_shutting_down",
        0x8c => "bad_authentication_method",
        0x8d => "keep_alive_timeout",
        0x8e => "session_taken_over",
        0x8f => "topic_filter_invalid",
        0x90 => "topic_name_invalid",
        0x91 => "packet_identifier_in_use",
        0x92 => "packet_identifier_not_found",
        0x93 => "receive_maximum_exceeded",
        0x94 => "topic_alias_invalid",
        0x95 => "packet_too_large",
        0x96 => "message_rate_too_high",
        0x97 => "quota_exceeded",
        0x98 => "administrative_action",
        0x99 => "payload_format_invalid",
        0x9a => "retain_not_supported",
        0x9b => "qos_not_supported",
        0x9c => "use_another_server",
        0x9d => "server_moved",
        0x9e => "shared_subscriptions_not_supported",
        0x9f => "connection_rate_exceeded",
        0xa0 => "maximum_connect_time",
        0xa1 => "subscription_identifiers_not_supported",
        0xa2 => "wildcard_subscriptions_not_supported",
        _ => "unknown",
    }
}
