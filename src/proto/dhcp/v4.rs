//! DHCPv4 (RFC 2131 §2, options RFC 2132): the 236-byte BOOTP header, the
//! magic cookie, then options as code, length, value; `sname` and `file`
//! carry options too when option 52 (overload) says so.

use std::borrow::Cow;
use std::net::Ipv4Addr;

use super::{
    ClientFqdn, DhcpAnomaly, MAX_CLIENT_ID_LEN, MAX_FQDN_LEN, MAX_REQUESTED_OPTIONS,
    RequestedOptions,
};
use crate::proto::names::note;
use crate::proto::names::wire::{read_uncompressed_name, sanitize};
use crate::proto::reader::{Reader, at_most};

/// Longest host name (option 12) kept, in bytes; longer ones are cut.
pub const MAX_HOST_NAME_LEN: usize = 64;

/// Longest vendor class (option 60) kept, in bytes; longer ones are cut.
pub const MAX_VENDOR_CLASS_LEN: usize = 128;

/// The magic cookie that makes a BOOTP message DHCP.
const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];

/// Option codes read.
mod opt {
    pub const PAD: u8 = 0;
    pub const HOST_NAME: u8 = 12;
    pub const REQUESTED_ADDRESS: u8 = 50;
    pub const OVERLOAD: u8 = 52;
    pub const MESSAGE_TYPE: u8 = 53;
    pub const SERVER_ID: u8 = 54;
    pub const PARAMETER_REQUEST_LIST: u8 = 55;
    pub const MAX_MESSAGE_SIZE: u8 = 57;
    pub const VENDOR_CLASS: u8 = 60;
    pub const CLIENT_ID: u8 = 61;
    pub const CLIENT_FQDN: u8 = 81;
    pub const END: u8 = 255;
}

/// The DHCPv4 message type (option 53).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageTypeV4 {
    /// 1: a client looks for servers.
    Discover,
    /// 2: a server offers an address.
    Offer,
    /// 3: a client asks for an address.
    Request,
    /// 4: a client refuses an address already in use.
    Decline,
    /// 5: a server grants.
    Ack,
    /// 6: a server refuses.
    Nak,
    /// 7: a client gives its address up.
    Release,
    /// 8: a client with an address asks for configuration only.
    Inform,
    /// Any other code.
    Other(u8),
}

impl MessageTypeV4 {
    /// The type of code `code`.
    pub fn from_code(code: u8) -> Self {
        match code {
            1 => Self::Discover,
            2 => Self::Offer,
            3 => Self::Request,
            4 => Self::Decline,
            5 => Self::Ack,
            6 => Self::Nak,
            7 => Self::Release,
            8 => Self::Inform,
            other => Self::Other(other),
        }
    }

    /// The code on the wire.
    pub fn code(self) -> u8 {
        match self {
            Self::Discover => 1,
            Self::Offer => 2,
            Self::Request => 3,
            Self::Decline => 4,
            Self::Ack => 5,
            Self::Nak => 6,
            Self::Release => 7,
            Self::Inform => 8,
            Self::Other(code) => code,
        }
    }
}

/// A client identifier (option 61, RFC 2132 §9.14, RFC 4361): a type byte
/// (1 Ethernet, 255 IAID + DUID) and the identifier, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientId<'a> {
    /// The type byte.
    pub kind: u8,
    /// The identifier after it, at most [`MAX_CLIENT_ID_LEN`] bytes.
    pub id: &'a [u8],
}

impl<'a> ClientId<'a> {
    /// The MAC of an Ethernet-type identifier.
    pub fn mac(&self) -> Option<[u8; 6]> {
        (self.kind == 1).then(|| self.id.try_into().ok()).flatten()
    }

    /// The IAID and DUID of an RFC 4361 identifier (type 255), as a
    /// DHCPv6 client would send them.
    pub fn iaid_duid(&self) -> Option<(u32, super::Duid<'a>)> {
        if self.kind != 255 {
            return None;
        }
        let mut r = Reader::new(self.id);
        let iaid = r.u32_be()?;
        Some((iaid, super::Duid::parse(r.rest()).ok()?))
    }
}

/// What one DHCPv4 message says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dhcpv4Facts<'a> {
    /// 1 BOOTREQUEST (client), 2 BOOTREPLY (server).
    pub op: u8,
    /// Transaction id.
    pub xid: u32,
    /// The client hardware address, when it is a 6-byte Ethernet one.
    pub chaddr: Option<[u8; 6]>,
    /// The client's own address (renewing, informing).
    pub ciaddr: Ipv4Addr,
    /// The address the server gives ("your" address).
    pub yiaddr: Ipv4Addr,
    /// Option 53.
    pub message_type: Option<MessageTypeV4>,
    /// Option 12, at most [`MAX_HOST_NAME_LEN`] bytes.
    pub host_name: Option<Cow<'a, str>>,
    /// Option 50.
    pub requested_address: Option<Ipv4Addr>,
    /// Option 54.
    pub server_id: Option<Ipv4Addr>,
    /// Option 55, in order.
    pub parameter_request_list: Option<RequestedOptions<'a>>,
    /// Option 57.
    pub max_message_size: Option<u16>,
    /// Option 60, at most [`MAX_VENDOR_CLASS_LEN`] bytes.
    pub vendor_class: Option<Cow<'a, str>>,
    /// Option 61.
    pub client_id: Option<ClientId<'a>>,
    /// Option 81.
    pub client_fqdn: Option<ClientFqdn>,
    /// What was malformed, each once.
    pub anomalies: Vec<DhcpAnomaly>,
}

impl Dhcpv4Facts<'_> {
    fn empty() -> Self {
        Dhcpv4Facts {
            op: 0,
            xid: 0,
            chaddr: None,
            ciaddr: Ipv4Addr::UNSPECIFIED,
            yiaddr: Ipv4Addr::UNSPECIFIED,
            message_type: None,
            host_name: None,
            requested_address: None,
            server_id: None,
            parameter_request_list: None,
            max_message_size: None,
            vendor_class: None,
            client_id: None,
            client_fqdn: None,
            anomalies: Vec::new(),
        }
    }
}

/// Parses a DHCPv4 message from one UDP payload (port 67 or 68).
pub fn parse_dhcpv4(payload: &[u8]) -> Dhcpv4Facts<'_> {
    let mut facts = Dhcpv4Facts::empty();
    let mut r = Reader::new(payload);
    let header = (|| {
        let [op, htype, hlen, _hops] = r.array::<4>()?;
        let xid = r.u32_be()?;
        r.skip(4)?; // secs, flags
        let ciaddr = Ipv4Addr::from(r.array::<4>()?);
        let yiaddr = Ipv4Addr::from(r.array::<4>()?);
        r.skip(8)?; // siaddr, giaddr
        let chaddr = r.take(16)?;
        let sname = r.take(64)?;
        let file = r.take(128)?;
        let cookie = r.array::<4>()?;
        Some((
            op, htype, hlen, xid, ciaddr, yiaddr, chaddr, sname, file, cookie,
        ))
    })();
    let Some((op, htype, hlen, xid, ciaddr, yiaddr, chaddr, sname, file, cookie)) = header else {
        facts.anomalies.push(DhcpAnomaly::Truncated);
        return facts;
    };
    facts.op = op;
    facts.xid = xid;
    facts.ciaddr = ciaddr;
    facts.yiaddr = yiaddr;
    if htype == 1 && hlen == 6 {
        facts.chaddr = Reader::new(chaddr).array::<6>();
    }
    if cookie != MAGIC_COOKIE {
        facts.anomalies.push(DhcpAnomaly::NoMagicCookie);
        return facts;
    }
    let mut seen = [false; 256];
    let overload = read_options(r.rest(), &mut facts, &mut seen);
    // Option 52: 1 the file field, 2 sname, 3 both, read in that order
    // (RFC 2131 §4.1).
    if overload & 1 != 0 {
        read_options(file, &mut facts, &mut seen);
    }
    if overload & 2 != 0 {
        read_options(sname, &mut facts, &mut seen);
    }
    if facts.message_type.is_none() {
        note(&mut facts.anomalies, DhcpAnomaly::NoMessageType);
    }
    facts
}

/// Reads the options in `area` into `facts`; returns the overload value
/// (option 52) when it is found there.
fn read_options<'a>(area: &'a [u8], facts: &mut Dhcpv4Facts<'a>, seen: &mut [bool; 256]) -> u8 {
    let mut overload = 0;
    let mut r = Reader::new(area);
    while let Some(code) = r.u8() {
        match code {
            opt::PAD => continue,
            opt::END => break,
            _ => {}
        }
        let Some(value) = r.prefixed_u8() else {
            note(&mut facts.anomalies, DhcpAnomaly::OptionOverrun);
            break;
        };
        if let Some(seen) = seen.get_mut(usize::from(code)) {
            if *seen {
                note(&mut facts.anomalies, DhcpAnomaly::RepeatedOption);
                continue;
            }
            *seen = true;
        }
        let fixed = |len: usize| (value.len() == len).then_some(value);
        let ok = match code {
            opt::MESSAGE_TYPE => fixed(1)
                .and_then(|v| v.first())
                .map(|&t| facts.message_type = Some(MessageTypeV4::from_code(t))),
            opt::OVERLOAD => fixed(1).and_then(|v| v.first()).map(|&o| overload = o),
            opt::HOST_NAME => {
                facts.host_name = Some(sanitize(value, MAX_HOST_NAME_LEN));
                Some(())
            }
            opt::REQUESTED_ADDRESS => ipv4(value).map(|a| facts.requested_address = Some(a)),
            opt::SERVER_ID => ipv4(value).map(|a| facts.server_id = Some(a)),
            opt::PARAMETER_REQUEST_LIST => {
                if value.len() > MAX_REQUESTED_OPTIONS {
                    note(&mut facts.anomalies, DhcpAnomaly::TooManyRequestedOptions);
                }
                facts.parameter_request_list = Some(RequestedOptions {
                    raw: value,
                    wide: false,
                });
                Some(())
            }
            opt::MAX_MESSAGE_SIZE => <[u8; 2]>::try_from(value)
                .ok()
                .map(|s| facts.max_message_size = Some(u16::from_be_bytes(s))),
            opt::VENDOR_CLASS => {
                facts.vendor_class = Some(sanitize(value, MAX_VENDOR_CLASS_LEN));
                Some(())
            }
            opt::CLIENT_ID => value.split_first().map(|(&kind, id)| {
                facts.client_id = Some(ClientId {
                    kind,
                    id: at_most(id, MAX_CLIENT_ID_LEN),
                });
            }),
            opt::CLIENT_FQDN => {
                match client_fqdn(value) {
                    Some(fqdn) => facts.client_fqdn = Some(fqdn),
                    None => note(&mut facts.anomalies, DhcpAnomaly::BadFqdn),
                }
                Some(())
            }
            _ => Some(()),
        };
        if ok.is_none() {
            note(&mut facts.anomalies, DhcpAnomaly::BadOptionLength);
        }
    }
    overload
}

fn ipv4(value: &[u8]) -> Option<Ipv4Addr> {
    <[u8; 4]>::try_from(value).ok().map(Ipv4Addr::from)
}

/// Option 81 (RFC 4702 §2): flags, two obsolete rcodes, then the name, in
/// DNS wire format when the E flag (0x04) is set, else ASCII.
fn client_fqdn(value: &[u8]) -> Option<ClientFqdn> {
    let mut r = Reader::new(value);
    let flags = r.u8()?;
    r.skip(2)?;
    let raw = r.rest();
    let name = if flags & 0x04 != 0 {
        read_uncompressed_name(raw).ok()?
    } else {
        sanitize(raw, MAX_FQDN_LEN).into_owned()
    };
    Some(ClientFqdn::new(flags, name))
}
