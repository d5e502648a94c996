//! What network gear and many modalities announce about themselves on
//! their link: LLDP (IEEE 802.1AB, ethertype 0x88cc) in this file and CDP
//! (Cisco Discovery Protocol, LLC/SNAP protocol id 0x2000) in `cdp.rs`,
//! each parsed from the frame's payload after the Ethernet header.
//!
//! # What is kept
//!
//! LLDP: chassis id, port id, TTL, port description, system name, system
//! description, capabilities and management addresses. CDP: device id,
//! port id, addresses, capabilities, software version, platform, native
//! VLAN and management addresses.
//!
//! # Guarantees
//!
//! Never panics on any input (indexing is denied by lint). Every text is
//! sanitised and at most [`MAX_TEXT_LEN`] bytes, borrowed from the frame
//! when it is plain ASCII; address lists hold at most [`MAX_ADDRESSES`].
//! Malformed input yields what was read before it plus [`LldpAnomaly`]s.
//!
//! # What it refuses
//!
//! Organisationally specific TLVs (LLDP-MED inventory, 802.1/802.3
//! extensions) and unknown CDP TLVs are skipped by length. A TLV that runs
//! past the frame ends the parse.
mod cdp;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use cdp::{CdpFacts, parse_cdp};

use crate::proto::names::note;
use crate::proto::names::wire::{hex, mac_text, sanitize};
use crate::proto::reader::Reader;

/// Longest text kept from a TLV (names, descriptions, ids, versions), in
/// bytes; longer ones are cut. An LLDP TLV holds at most 511 bytes.
pub const MAX_TEXT_LEN: usize = 256;

/// Addresses kept per frame (LLDP management addresses; CDP addresses and
/// management addresses, each); the rest are counted and dropped.
pub const MAX_ADDRESSES: usize = 8;

/// Something malformed in an LLDP or CDP frame, counted by the caller
/// under [`LldpAnomaly::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LldpAnomaly {
    /// A TLV header or value runs past the end of the frame.
    Truncated,
    /// LLDP: the frame does not start with chassis id, port id and TTL.
    MissingMandatory,
    /// LLDP: no End TLV.
    NoEnd,
    /// A TLV whose length does not fit its type (a TTL of 3 bytes).
    BadTlvLength,
    /// The same TLV twice; the first is kept.
    RepeatedTlv,
    /// More than [`MAX_ADDRESSES`] addresses.
    TooManyAddresses,
    /// CDP: not LLC/SNAP with Cisco's OUI and protocol id 0x2000.
    NotCdp,
}

impl LldpAnomaly {
    /// Every anomaly, in declaration order.
    pub const ALL: &'static [LldpAnomaly] = &[
        LldpAnomaly::Truncated,
        LldpAnomaly::MissingMandatory,
        LldpAnomaly::NoEnd,
        LldpAnomaly::BadTlvLength,
        LldpAnomaly::RepeatedTlv,
        LldpAnomaly::TooManyAddresses,
        LldpAnomaly::NotCdp,
    ];

    /// The counter name.
    pub fn name(self) -> &'static str {
        match self {
            LldpAnomaly::Truncated => "truncated",
            LldpAnomaly::MissingMandatory => "missing_mandatory",
            LldpAnomaly::NoEnd => "no_end",
            LldpAnomaly::BadTlvLength => "bad_tlv_length",
            LldpAnomaly::RepeatedTlv => "repeated_tlv",
            LldpAnomaly::TooManyAddresses => "too_many_addresses",
            LldpAnomaly::NotCdp => "not_cdp",
        }
    }
}

/// TLV types read (IEEE 802.1AB-2016 §8.5).
mod tlv {
    pub const END: u8 = 0;
    pub const CHASSIS_ID: u8 = 1;
    pub const PORT_ID: u8 = 2;
    pub const TTL: u8 = 3;
    pub const PORT_DESCRIPTION: u8 = 4;
    pub const SYSTEM_NAME: u8 = 5;
    pub const SYSTEM_DESCRIPTION: u8 = 6;
    pub const CAPABILITIES: u8 = 7;
    pub const MANAGEMENT_ADDRESS: u8 = 8;
}

/// A chassis or port id: its subtype and its value as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LldpId<'a> {
    /// The subtype (chassis: 4 MAC, 5 network address, 7 local; port: 3
    /// MAC, 4 network address, 5 interface name, 7 local, …).
    pub subtype: u8,
    /// A MAC as `aa:bb:cc:dd:ee:ff`, an IP address in its usual form,
    /// anything else as sanitised text.
    pub value: Cow<'a, str>,
}

/// System capabilities (IEEE 802.1AB §8.5.8): bit 0x0004 bridge, 0x0010
/// router, 0x0080 station only, …
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// What the system can do.
    pub available: u16,
    /// What it has turned on.
    pub enabled: u16,
}

/// A management address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManagementAddress {
    /// IPv4 or IPv6.
    Ip(IpAddr),
    /// An IEEE 802 MAC.
    Mac([u8; 6]),
    /// Another address family (IANA number) and the address in hex.
    Other(u8, String),
}

/// What one LLDP frame says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LldpFacts<'a> {
    /// Chassis id.
    pub chassis_id: Option<LldpId<'a>>,
    /// Port id.
    pub port_id: Option<LldpId<'a>>,
    /// Seconds the information stays valid (0: the sender is leaving).
    pub ttl: Option<u16>,
    /// Port description.
    pub port_description: Option<Cow<'a, str>>,
    /// System name, usually the host name.
    pub system_name: Option<Cow<'a, str>>,
    /// System description: vendor, product, OS and version.
    pub system_description: Option<Cow<'a, str>>,
    /// System capabilities.
    pub capabilities: Option<Capabilities>,
    /// Management addresses, at most [`MAX_ADDRESSES`].
    pub management_addresses: Vec<ManagementAddress>,
    /// What was malformed, each once.
    pub anomalies: Vec<LldpAnomaly>,
}

/// IANA address family numbers used by LLDP and CDP.
const FAMILY_IPV4: u8 = 1;
const FAMILY_IPV6: u8 = 2;
const FAMILY_802: u8 = 6;

/// An address of IANA family `family`.
fn address(family: u8, raw: &[u8]) -> ManagementAddress {
    match family {
        FAMILY_IPV4 => <[u8; 4]>::try_from(raw)
            .map(|a| ManagementAddress::Ip(IpAddr::V4(Ipv4Addr::from(a))))
            .unwrap_or_else(|_| ManagementAddress::Other(family, hex(raw, 32))),
        FAMILY_IPV6 => <[u8; 16]>::try_from(raw)
            .map(|a| ManagementAddress::Ip(IpAddr::V6(Ipv6Addr::from(a))))
            .unwrap_or_else(|_| ManagementAddress::Other(family, hex(raw, 32))),
        FAMILY_802 => <[u8; 6]>::try_from(raw)
            .map(ManagementAddress::Mac)
            .unwrap_or_else(|_| ManagementAddress::Other(family, hex(raw, 32))),
        _ => ManagementAddress::Other(family, hex(raw, 32)),
    }
}

/// A chassis or port id value as text.
fn id_value(subtype: u8, raw: &[u8], mac_subtype: u8, address_subtype: u8) -> Cow<'_, str> {
    if subtype == mac_subtype
        && let Ok(mac) = <[u8; 6]>::try_from(raw)
    {
        return Cow::Owned(mac_text(mac));
    }
    if subtype == address_subtype
        && let Some((&family, raw)) = raw.split_first()
    {
        return Cow::Owned(match address(family, raw) {
            ManagementAddress::Ip(ip) => ip.to_string(),
            ManagementAddress::Mac(mac) => mac_text(mac),
            ManagementAddress::Other(_, hex) => hex,
        });
    }
    sanitize(raw, MAX_TEXT_LEN)
}

/// Parses an LLDPDU: the payload of an Ethernet frame of type 0x88cc.
pub fn parse_lldp(payload: &[u8]) -> LldpFacts<'_> {
    let mut facts = LldpFacts::default();
    let mut r = Reader::new(payload);
    let mut index = 0usize;
    let mut seen = [false; 128];
    let mut ended = false;
    while !r.is_empty() {
        let Some(header) = r.u16_be() else {
            note(&mut facts.anomalies, LldpAnomaly::Truncated);
            break;
        };
        // 7-bit type, 9-bit length: the cast keeps the top 7 bits.
        let kind = (header >> 9) as u8;
        let Some(value) = r.take(usize::from(header & 0x01FF)) else {
            note(&mut facts.anomalies, LldpAnomaly::Truncated);
            break;
        };
        let expected = [tlv::CHASSIS_ID, tlv::PORT_ID, tlv::TTL];
        if let Some(&want) = expected.get(index)
            && kind != want
        {
            note(&mut facts.anomalies, LldpAnomaly::MissingMandatory);
        }
        index += 1;
        if kind == tlv::END {
            ended = true;
            break;
        }
        let repeatable = kind == tlv::MANAGEMENT_ADDRESS || kind == 127;
        if let Some(seen) = seen.get_mut(usize::from(kind)) {
            if *seen && !repeatable {
                note(&mut facts.anomalies, LldpAnomaly::RepeatedTlv);
                continue;
            }
            *seen = true;
        }
        let ok = read_tlv(&mut facts, kind, value);
        if ok.is_none() {
            note(&mut facts.anomalies, LldpAnomaly::BadTlvLength);
        }
    }
    if index < 3 && !facts.anomalies.contains(&LldpAnomaly::Truncated) {
        note(&mut facts.anomalies, LldpAnomaly::MissingMandatory);
    }
    if !ended {
        note(&mut facts.anomalies, LldpAnomaly::NoEnd);
    }
    facts
}

/// Reads one TLV's value into `facts`; `None` when its length is wrong.
fn read_tlv<'a>(facts: &mut LldpFacts<'a>, kind: u8, value: &'a [u8]) -> Option<()> {
    match kind {
        tlv::CHASSIS_ID => {
            let (&subtype, raw) = value.split_first().filter(|(_, raw)| !raw.is_empty())?;
            facts.chassis_id = Some(LldpId {
                subtype,
                value: id_value(subtype, raw, 4, 5),
            });
        }
        tlv::PORT_ID => {
            let (&subtype, raw) = value.split_first().filter(|(_, raw)| !raw.is_empty())?;
            facts.port_id = Some(LldpId {
                subtype,
                value: id_value(subtype, raw, 3, 4),
            });
        }
        tlv::TTL => facts.ttl = Some(u16::from_be_bytes(value.try_into().ok()?)),
        tlv::PORT_DESCRIPTION => facts.port_description = Some(sanitize(value, MAX_TEXT_LEN)),
        tlv::SYSTEM_NAME => facts.system_name = Some(sanitize(value, MAX_TEXT_LEN)),
        tlv::SYSTEM_DESCRIPTION => {
            facts.system_description = Some(sanitize(value, MAX_TEXT_LEN));
        }
        tlv::CAPABILITIES => {
            let mut r = Reader::new(value);
            facts.capabilities = Some(Capabilities {
                available: r.u16_be()?,
                enabled: r.u16_be()?,
            });
            if !r.is_empty() {
                return None;
            }
        }
        tlv::MANAGEMENT_ADDRESS => {
            // Address string length (family byte + address), family,
            // address; then interface numbering and OID, not kept.
            let mut r = Reader::new(value);
            let len = usize::from(r.u8()?);
            let family = r.u8()?;
            let raw = r.take(len.checked_sub(1)?)?;
            if facts.management_addresses.len() >= MAX_ADDRESSES {
                note(&mut facts.anomalies, LldpAnomaly::TooManyAddresses);
            } else {
                facts.management_addresses.push(address(family, raw));
            }
        }
        _ => {}
    }
    Some(())
}
