//! CDP (Cisco Discovery Protocol, versions 1 and 2): after the 802.3
//! header, LLC (`AA AA 03`) and SNAP (OUI `00 00 0C`, protocol id 0x2000),
//! a 4-byte header (version, TTL, checksum), then TLVs of 2-byte type and
//! 2-byte length counting the 4-byte TLV header.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{LldpAnomaly, MAX_ADDRESSES, MAX_TEXT_LEN};
use crate::proto::names::note;
use crate::proto::names::wire::sanitize;
use crate::proto::reader::Reader;

/// LLC and SNAP header of a CDP frame.
const LLC_SNAP_CDP: [u8; 8] = [0xAA, 0xAA, 0x03, 0x00, 0x00, 0x0C, 0x20, 0x00];

/// TLV types read.
mod tlv {
    pub const DEVICE_ID: u16 = 0x0001;
    pub const ADDRESSES: u16 = 0x0002;
    pub const PORT_ID: u16 = 0x0003;
    pub const CAPABILITIES: u16 = 0x0004;
    pub const SOFTWARE_VERSION: u16 = 0x0005;
    pub const PLATFORM: u16 = 0x0006;
    pub const NATIVE_VLAN: u16 = 0x000A;
    pub const MANAGEMENT_ADDRESSES: u16 = 0x0016;
}

/// The 802.2 protocol id of IPv6 in a CDP address.
const PROTOCOL_IPV6: [u8; 8] = [0xAA, 0xAA, 0x03, 0x00, 0x00, 0x00, 0x86, 0xDD];

/// What one CDP frame says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CdpFacts<'a> {
    /// CDP version (1 or 2).
    pub version: u8,
    /// Seconds the information stays valid.
    pub ttl: u8,
    /// Device id, usually the host name.
    pub device_id: Option<Cow<'a, str>>,
    /// The sending port.
    pub port_id: Option<Cow<'a, str>>,
    /// Software version (Cisco: the IOS banner; lldpd: the uname line).
    pub software_version: Option<Cow<'a, str>>,
    /// Platform (hardware model).
    pub platform: Option<Cow<'a, str>>,
    /// Capability bits (0x01 router, 0x08 switch, 0x10 host, …).
    pub capabilities: Option<u32>,
    /// Native VLAN of the port (CDPv2).
    pub native_vlan: Option<u16>,
    /// Addresses (TLV 0x0002), at most [`MAX_ADDRESSES`].
    pub addresses: Vec<IpAddr>,
    /// Management addresses (TLV 0x0016), at most [`MAX_ADDRESSES`].
    pub management_addresses: Vec<IpAddr>,
    /// What was malformed, each once.
    pub anomalies: Vec<LldpAnomaly>,
}

/// Parses a CDP frame: the payload of an 802.3 frame after its 14-byte
/// header, starting with the LLC/SNAP header.
pub fn parse_cdp(payload: &[u8]) -> CdpFacts<'_> {
    let mut facts = CdpFacts::default();
    let mut r = Reader::new(payload);
    if r.take(LLC_SNAP_CDP.len()) != Some(&LLC_SNAP_CDP[..]) {
        facts.anomalies.push(LldpAnomaly::NotCdp);
        return facts;
    }
    let Some([version, ttl, _checksum @ ..]) = r.array::<4>() else {
        facts.anomalies.push(LldpAnomaly::Truncated);
        return facts;
    };
    facts.version = version;
    facts.ttl = ttl;
    let mut seen: Vec<u16> = Vec::new();
    while !r.is_empty() {
        let tlv = (|| {
            let kind = r.u16_be()?;
            let len = usize::from(r.u16_be()?);
            Some((kind, len.checked_sub(4).and_then(|len| r.take(len))))
        })();
        let Some((kind, Some(value))) = tlv else {
            note(&mut facts.anomalies, LldpAnomaly::Truncated);
            break;
        };
        if seen.contains(&kind) {
            note(&mut facts.anomalies, LldpAnomaly::RepeatedTlv);
            continue;
        }
        if seen.len() < 64 {
            seen.push(kind);
        }
        let text = || Some(sanitize(value, MAX_TEXT_LEN));
        let ok = match kind {
            tlv::DEVICE_ID => text().map(|t| facts.device_id = Some(t)),
            tlv::PORT_ID => text().map(|t| facts.port_id = Some(t)),
            tlv::SOFTWARE_VERSION => text().map(|t| facts.software_version = Some(t)),
            tlv::PLATFORM => text().map(|t| facts.platform = Some(t)),
            tlv::CAPABILITIES => <[u8; 4]>::try_from(value)
                .ok()
                .map(|c| facts.capabilities = Some(u32::from_be_bytes(c))),
            tlv::NATIVE_VLAN => <[u8; 2]>::try_from(value)
                .ok()
                .map(|v| facts.native_vlan = Some(u16::from_be_bytes(v))),
            tlv::ADDRESSES => read_addresses(value, &mut facts.addresses, &mut facts.anomalies),
            tlv::MANAGEMENT_ADDRESSES => {
                read_addresses(value, &mut facts.management_addresses, &mut facts.anomalies)
            }
            _ => Some(()),
        };
        if ok.is_none() {
            note(&mut facts.anomalies, LldpAnomaly::BadTlvLength);
        }
    }
    facts
}

/// An address list (count, then protocol type, protocol length, protocol,
/// address length, address); IPv4 (NLPID 0xCC) and IPv6 are kept.
fn read_addresses(
    value: &[u8],
    out: &mut Vec<IpAddr>,
    anomalies: &mut Vec<LldpAnomaly>,
) -> Option<()> {
    let mut r = Reader::new(value);
    let count = r.u32_be()?;
    for _ in 0..count {
        let _protocol_type = r.u8()?;
        let protocol = r.prefixed_u8()?;
        let raw = r.prefixed_u16_be()?;
        let address = match (protocol, raw.len()) {
            ([0xCC], 4) => <[u8; 4]>::try_from(raw)
                .ok()
                .map(|a| IpAddr::V4(Ipv4Addr::from(a))),
            (p, 16) if p == PROTOCOL_IPV6 => <[u8; 16]>::try_from(raw)
                .ok()
                .map(|a| IpAddr::V6(Ipv6Addr::from(a))),
            _ => None,
        };
        let Some(address) = address else { continue };
        if out.len() >= MAX_ADDRESSES {
            note(anomalies, LldpAnomaly::TooManyAddresses);
            break;
        }
        out.push(address);
    }
    Some(())
}
