//! DHCPv6 (RFC 8415 §8, §21): a message type, a 3-byte transaction id,
//! then options as 2-byte code, 2-byte length, value.

use std::borrow::Cow;

use super::{ClientFqdn, DhcpAnomaly, MAX_CLIENT_ID_LEN, MAX_REQUESTED_OPTIONS, RequestedOptions};
use crate::proto::names::note;
use crate::proto::names::wire::{hex, read_uncompressed_name, sanitize};
use crate::proto::reader::{Reader, at_most};

/// Vendor class data strings kept from option 16; the rest are dropped.
pub const MAX_VENDOR_CLASS_STRINGS: usize = 8;

/// Longest vendor class data string kept, in bytes; longer ones are cut.
pub const MAX_VENDOR_CLASS_DATA_LEN: usize = 128;

/// Option codes read.
mod opt {
    pub const CLIENT_ID: u16 = 1;
    pub const SERVER_ID: u16 = 2;
    pub const ORO: u16 = 6;
    pub const VENDOR_CLASS: u16 = 16;
    pub const CLIENT_FQDN: u16 = 39;
}

/// The DHCPv6 message type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageTypeV6 {
    /// 1
    Solicit,
    /// 2
    Advertise,
    /// 3
    Request,
    /// 4
    Confirm,
    /// 5
    Renew,
    /// 6
    Rebind,
    /// 7
    Reply,
    /// 8
    Release,
    /// 9
    Decline,
    /// 10
    Reconfigure,
    /// 11
    InformationRequest,
    /// 12: a relay's wrapper around a client message (not unwrapped).
    RelayForward,
    /// 13: a relay's wrapper around a server message (not unwrapped).
    RelayReply,
    /// Any other code.
    Other(u8),
}

impl MessageTypeV6 {
    /// The type of code `code`.
    pub fn from_code(code: u8) -> Self {
        match code {
            1 => Self::Solicit,
            2 => Self::Advertise,
            3 => Self::Request,
            4 => Self::Confirm,
            5 => Self::Renew,
            6 => Self::Rebind,
            7 => Self::Reply,
            8 => Self::Release,
            9 => Self::Decline,
            10 => Self::Reconfigure,
            11 => Self::InformationRequest,
            12 => Self::RelayForward,
            13 => Self::RelayReply,
            other => Self::Other(other),
        }
    }

    /// The code on the wire.
    pub fn code(self) -> u8 {
        match self {
            Self::Solicit => 1,
            Self::Advertise => 2,
            Self::Request => 3,
            Self::Confirm => 4,
            Self::Renew => 5,
            Self::Rebind => 6,
            Self::Reply => 7,
            Self::Release => 8,
            Self::Decline => 9,
            Self::Reconfigure => 10,
            Self::InformationRequest => 11,
            Self::RelayForward => 12,
            Self::RelayReply => 13,
            Self::Other(code) => code,
        }
    }
}

/// The kind of a DUID (RFC 8415 §11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DuidKind {
    /// 1: link-layer address plus time.
    Llt,
    /// 2: enterprise number plus identifier.
    En,
    /// 3: link-layer address.
    Ll,
    /// 4: UUID (RFC 6355).
    Uuid,
    /// Any other type.
    Other(u16),
}

impl DuidKind {
    /// The type code on the wire.
    pub fn code(self) -> u16 {
        match self {
            DuidKind::Llt => 1,
            DuidKind::En => 2,
            DuidKind::Ll => 3,
            DuidKind::Uuid => 4,
            DuidKind::Other(code) => code,
        }
    }
}

/// A DHCP unique identifier, borrowed, with its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duid<'a> {
    /// Its type.
    pub kind: DuidKind,
    /// The whole DUID, type included, at most [`MAX_CLIENT_ID_LEN`] bytes.
    pub raw: &'a [u8],
}

impl<'a> Duid<'a> {
    /// Reads a DUID; too short for its type is [`DhcpAnomaly::BadDuid`].
    pub fn parse(raw: &'a [u8]) -> Result<Self, DhcpAnomaly> {
        let mut r = Reader::new(raw);
        let kind = match r.u16_be().ok_or(DhcpAnomaly::BadDuid)? {
            1 => DuidKind::Llt,
            2 => DuidKind::En,
            3 => DuidKind::Ll,
            4 => DuidKind::Uuid,
            other => DuidKind::Other(other),
        };
        let least = match kind {
            DuidKind::Llt => 8,
            DuidKind::En => 6,
            DuidKind::Ll => 4,
            DuidKind::Uuid => 18,
            DuidKind::Other(_) => 2,
        };
        if raw.len() < least {
            return Err(DhcpAnomaly::BadDuid);
        }
        Ok(Duid {
            kind,
            raw: at_most(raw, MAX_CLIENT_ID_LEN),
        })
    }

    /// A reader over what follows the 2-byte type.
    fn body(&self) -> Reader<'a> {
        let mut r = Reader::new(self.raw);
        match r.skip(2) {
            Some(()) => r,
            None => Reader::new(&[]),
        }
    }

    /// The hardware type of a DUID-LLT or DUID-LL (1 is Ethernet).
    pub fn hardware_type(&self) -> Option<u16> {
        match self.kind {
            DuidKind::Llt | DuidKind::Ll => self.body().u16_be(),
            _ => None,
        }
    }

    /// The link-layer address of a DUID-LLT or DUID-LL, as bytes.
    pub fn link_layer_address(&self) -> Option<&'a [u8]> {
        let skip = match self.kind {
            DuidKind::Llt => 6,
            DuidKind::Ll => 2,
            _ => return None,
        };
        let mut r = self.body();
        r.skip(skip)?;
        Some(r.rest())
    }

    /// The MAC of an Ethernet DUID-LLT or DUID-LL.
    pub fn mac(&self) -> Option<[u8; 6]> {
        if self.hardware_type()? != 1 {
            return None;
        }
        self.link_layer_address()?.try_into().ok()
    }

    /// The time of a DUID-LLT: seconds since 2000-01-01 UTC.
    pub fn time(&self) -> Option<u32> {
        let mut r = self.body();
        r.skip(2)?;
        (self.kind == DuidKind::Llt).then(|| r.u32_be()).flatten()
    }

    /// The enterprise number of a DUID-EN.
    pub fn enterprise(&self) -> Option<u32> {
        (self.kind == DuidKind::En)
            .then(|| self.body().u32_be())
            .flatten()
    }

    /// The whole DUID in lower-case hex.
    pub fn hex(&self) -> String {
        hex(self.raw, MAX_CLIENT_ID_LEN)
    }
}

/// A vendor class (option 16): an enterprise number and its strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorClassV6<'a> {
    /// The IANA enterprise number.
    pub enterprise: u32,
    /// The data strings, at most [`MAX_VENDOR_CLASS_STRINGS`], each at most
    /// [`MAX_VENDOR_CLASS_DATA_LEN`] bytes.
    pub data: Vec<Cow<'a, str>>,
}

/// What one DHCPv6 message says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dhcpv6Facts<'a> {
    /// The message type.
    pub message_type: Option<MessageTypeV6>,
    /// The 24-bit transaction id (0 for relay messages).
    pub transaction_id: u32,
    /// Option 1.
    pub client_duid: Option<Duid<'a>>,
    /// Option 2.
    pub server_duid: Option<Duid<'a>>,
    /// Option 6, in order.
    pub option_request: Option<RequestedOptions<'a>>,
    /// Option 16.
    pub vendor_class: Option<VendorClassV6<'a>>,
    /// Option 39.
    pub client_fqdn: Option<ClientFqdn>,
    /// What was malformed, each once.
    pub anomalies: Vec<DhcpAnomaly>,
}

/// Parses a DHCPv6 message from one UDP payload (port 546 or 547).
pub fn parse_dhcpv6(payload: &[u8]) -> Dhcpv6Facts<'_> {
    let mut facts = Dhcpv6Facts {
        message_type: None,
        transaction_id: 0,
        client_duid: None,
        server_duid: None,
        option_request: None,
        vendor_class: None,
        client_fqdn: None,
        anomalies: Vec::new(),
    };
    let mut r = Reader::new(payload);
    let Some([kind, a, b, c]) = r.array::<4>() else {
        facts.anomalies.push(DhcpAnomaly::Truncated);
        return facts;
    };
    let message_type = MessageTypeV6::from_code(kind);
    facts.message_type = Some(message_type);
    if matches!(
        message_type,
        MessageTypeV6::RelayForward | MessageTypeV6::RelayReply
    ) {
        return facts;
    }
    facts.transaction_id = u32::from_be_bytes([0, a, b, c]);
    let mut seen: Vec<u16> = Vec::new();
    while !r.is_empty() {
        let Some((code, value)) = r
            .tlv_u16_be()
            .map(|(code, value)| (code, value.remaining()))
        else {
            note(&mut facts.anomalies, DhcpAnomaly::OptionOverrun);
            break;
        };
        let wanted = matches!(
            code,
            opt::CLIENT_ID | opt::SERVER_ID | opt::ORO | opt::VENDOR_CLASS | opt::CLIENT_FQDN
        );
        if !wanted {
            continue;
        }
        if seen.contains(&code) {
            note(&mut facts.anomalies, DhcpAnomaly::RepeatedOption);
            continue;
        }
        seen.push(code);
        match code {
            opt::CLIENT_ID | opt::SERVER_ID => match Duid::parse(value) {
                Ok(duid) if code == opt::CLIENT_ID => facts.client_duid = Some(duid),
                Ok(duid) => facts.server_duid = Some(duid),
                Err(a) => note(&mut facts.anomalies, a),
            },
            opt::ORO => {
                if value.len() % 2 != 0 {
                    note(&mut facts.anomalies, DhcpAnomaly::BadOptionLength);
                }
                if value.len() / 2 > MAX_REQUESTED_OPTIONS {
                    note(&mut facts.anomalies, DhcpAnomaly::TooManyRequestedOptions);
                }
                facts.option_request = Some(RequestedOptions {
                    raw: value,
                    wide: true,
                });
            }
            opt::VENDOR_CLASS => match vendor_class(value) {
                Some(class) => facts.vendor_class = Some(class),
                None => note(&mut facts.anomalies, DhcpAnomaly::BadOptionLength),
            },
            _ => match client_fqdn(value) {
                Some(fqdn) => facts.client_fqdn = Some(fqdn),
                None => note(&mut facts.anomalies, DhcpAnomaly::BadFqdn),
            },
        }
    }
    facts
}

/// Option 16 (RFC 8415 §21.16): enterprise number, then strings each
/// prefixed by a 2-byte length.
fn vendor_class(value: &[u8]) -> Option<VendorClassV6<'_>> {
    let mut r = Reader::new(value);
    let enterprise = r.u32_be()?;
    let mut data = Vec::new();
    while !r.is_empty() {
        let string = r.prefixed_u16_be()?;
        if data.len() < MAX_VENDOR_CLASS_STRINGS {
            data.push(sanitize(string, MAX_VENDOR_CLASS_DATA_LEN));
        }
    }
    Some(VendorClassV6 { enterprise, data })
}

/// Option 39 (RFC 4704 §4): flags, then the name in DNS wire format,
/// possibly partial.
fn client_fqdn(value: &[u8]) -> Option<ClientFqdn> {
    let mut r = Reader::new(value);
    let flags = r.u8()?;
    let name = read_uncompressed_name(r.rest()).ok()?;
    Some(ClientFqdn::new(flags, name))
}
