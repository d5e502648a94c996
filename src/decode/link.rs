//! Link layers: where the network layer starts in a frame of each link type.
//!
//! Ethernet (with its VLAN tags) is left to etherparse. The headers etherparse
//! does not slice for the lax path — Linux cooked v1 and v2, BSD loopback — are
//! read here from their fixed layouts, each behind one length check.

use etherparse::EtherType;

use super::{DecodeFailure, Mac};

/// The capture link types medtap decodes, by their pcap `LINKTYPE_` number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    /// `LINKTYPE_ETHERNET` (1).
    Ethernet,
    /// `LINKTYPE_LINUX_SLL` (113): Linux cooked capture v1, as `tcpdump -i any`.
    LinuxSll,
    /// `LINKTYPE_LINUX_SLL2` (276): Linux cooked capture v2.
    LinuxSll2,
    /// `LINKTYPE_RAW` (101, and DLT 12/14 on some systems): IPv4 or IPv6, no link header.
    RawIp,
    /// `LINKTYPE_IPV4` (228).
    Ipv4,
    /// `LINKTYPE_IPV6` (229).
    Ipv6,
    /// `LINKTYPE_NULL` (0): BSD loopback, address family in host byte order.
    Null,
    /// `LINKTYPE_LOOP` (108): OpenBSD loopback, address family in network byte order.
    Loop,
    /// Anything else: every frame counts as `link.unsupported`.
    Unsupported(i32),
}

impl LinkType {
    /// The link type for a pcap DLT/LINKTYPE number.
    pub fn from_dlt(dlt: i32) -> LinkType {
        match dlt {
            1 => LinkType::Ethernet,
            113 => LinkType::LinuxSll,
            276 => LinkType::LinuxSll2,
            101 | 12 | 14 => LinkType::RawIp,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            0 => LinkType::Null,
            108 => LinkType::Loop,
            other => LinkType::Unsupported(other),
        }
    }

    /// A short name for logs and `stats`.
    pub fn name(self) -> &'static str {
        match self {
            LinkType::Ethernet => "ethernet",
            LinkType::LinuxSll => "linux_sll",
            LinkType::LinuxSll2 => "linux_sll2",
            LinkType::RawIp => "raw",
            LinkType::Ipv4 => "ipv4",
            LinkType::Ipv6 => "ipv6",
            LinkType::Null => "null",
            LinkType::Loop => "loop",
            LinkType::Unsupported(_) => "unsupported",
        }
    }

    /// Whether medtap decodes frames of this link type.
    pub fn is_supported(self) -> bool {
        !matches!(self, LinkType::Unsupported(_))
    }
}

/// Where a frame's link header ends.
pub(super) struct LinkStart<'a> {
    /// EtherType of what follows, or `None` for bare IP.
    pub ether_type: Option<EtherType>,
    /// The rest of the frame, from the network layer (or Ethernet header) on.
    pub rest: &'a [u8],
    pub src_mac: Option<Mac>,
    pub dst_mac: Option<Mac>,
    pub vlan: [u16; 2],
}

/// Linux cooked v1 (`pcap-linktype(7)`, LINKTYPE_LINUX_SLL): 16 bytes.
mod sll {
    pub const LEN: usize = 16;
    /// ARPHRD type, 2 bytes.
    pub const HATYPE: usize = 2;
    /// Link-layer address length, 2 bytes.
    pub const HALEN: usize = 4;
    /// Link-layer address (of the sender), 8 bytes.
    pub const ADDR: usize = 6;
    /// Protocol type: an EtherType, 2 bytes.
    pub const PROTOCOL: usize = 14;
}

/// Linux cooked v2 (LINKTYPE_LINUX_SLL2): 20 bytes.
mod sll2 {
    pub const LEN: usize = 20;
    /// Protocol type: an EtherType, 2 bytes.
    pub const PROTOCOL: usize = 0;
    /// ARPHRD type, 2 bytes.
    pub const HATYPE: usize = 8;
    /// Link-layer address length, 1 byte.
    pub const HALEN: usize = 11;
    /// Link-layer address (of the sender), 8 bytes.
    pub const ADDR: usize = 12;
}

/// ARPHRD_ETHER: the cooked header's address is a MAC.
const ARPHRD_ETHER: u16 = 1;
/// Cooked-capture protocol values below this are not EtherTypes (802.2, CAN …).
const MIN_ETHER_TYPE: u16 = 0x0600;
/// BSD loopback address-family header length.
const NULL_HEADER_LEN: usize = 4;
/// Address family values for IPv4 and (BSD variants of) IPv6 in loopback headers.
const AF_INET: u32 = 2;
const AF_INET6: [u32; 3] = [24, 28, 30];
/// Linux `AF_INET6`, seen in DLT_NULL captures written on Linux.
const AF_INET6_LINUX: u32 = 10;

fn be16(frame: &[u8], at: usize) -> Option<u16> {
    frame
        .get(at..at + 2)
        .and_then(|b| b.try_into().ok())
        .map(u16::from_be_bytes)
}

fn cooked_mac(frame: &[u8], hatype: usize, halen: u16, addr: usize) -> Option<Mac> {
    if be16(frame, hatype)? != ARPHRD_ETHER || halen != 6 {
        return None;
    }
    frame.get(addr..addr + 6)?.try_into().ok()
}

/// Finds where the network layer starts.
pub(super) fn slice(link: LinkType, frame: &[u8]) -> Result<LinkStart<'_>, DecodeFailure> {
    let bare = |rest| LinkStart {
        ether_type: None,
        rest,
        src_mac: None,
        dst_mac: None,
        vlan: [0; 2],
    };
    match link {
        LinkType::Ethernet => {
            // etherparse slices the Ethernet header and its tags itself.
            if frame.len() < 14 {
                return Err(DecodeFailure::LinkTruncated);
            }
            let dst: Mac = frame
                .get(0..6)
                .and_then(|b| b.try_into().ok())
                .unwrap_or_default();
            let src: Mac = frame
                .get(6..12)
                .and_then(|b| b.try_into().ok())
                .unwrap_or_default();
            let ether_type = be16(frame, 12).unwrap_or(0);
            Ok(LinkStart {
                ether_type: Some(EtherType(ether_type)),
                rest: frame.get(14..).unwrap_or(&[]),
                src_mac: Some(src),
                dst_mac: Some(dst),
                vlan: [0; 2],
            })
        }
        LinkType::LinuxSll => {
            let rest = frame.get(sll::LEN..).ok_or(DecodeFailure::LinkTruncated)?;
            let halen = be16(frame, sll::HALEN).unwrap_or(0);
            let protocol = be16(frame, sll::PROTOCOL).unwrap_or(0);
            Ok(LinkStart {
                ether_type: Some(EtherType(protocol)).filter(|_| protocol >= MIN_ETHER_TYPE),
                rest,
                src_mac: cooked_mac(frame, sll::HATYPE, halen, sll::ADDR),
                dst_mac: None,
                vlan: [0; 2],
            })
            .and_then(non_ether_payload)
        }
        LinkType::LinuxSll2 => {
            let rest = frame.get(sll2::LEN..).ok_or(DecodeFailure::LinkTruncated)?;
            let halen = frame.get(sll2::HALEN).copied().unwrap_or(0) as u16;
            let protocol = be16(frame, sll2::PROTOCOL).unwrap_or(0);
            Ok(LinkStart {
                ether_type: Some(EtherType(protocol)).filter(|_| protocol >= MIN_ETHER_TYPE),
                rest,
                src_mac: cooked_mac(frame, sll2::HATYPE, halen, sll2::ADDR),
                dst_mac: None,
                vlan: [0; 2],
            })
            .and_then(non_ether_payload)
        }
        LinkType::RawIp => Ok(bare(frame)),
        LinkType::Ipv4 => Ok(LinkStart {
            ether_type: Some(EtherType::IPV4),
            ..bare(frame)
        }),
        LinkType::Ipv6 => Ok(LinkStart {
            ether_type: Some(EtherType::IPV6),
            ..bare(frame)
        }),
        LinkType::Null | LinkType::Loop => {
            let header: [u8; NULL_HEADER_LEN] = frame
                .get(..NULL_HEADER_LEN)
                .and_then(|b| b.try_into().ok())
                .ok_or(DecodeFailure::LinkTruncated)?;
            let family = if link == LinkType::Loop {
                u32::from_be_bytes(header)
            } else {
                // Host byte order of the machine that wrote the file: a family
                // number is small, so whichever order gives one is right.
                let le = u32::from_le_bytes(header);
                if le <= 0xffff {
                    le
                } else {
                    u32::from_be_bytes(header)
                }
            };
            let ether_type = match family {
                AF_INET => EtherType::IPV4,
                f if AF_INET6.contains(&f) || f == AF_INET6_LINUX => EtherType::IPV6,
                _ => EtherType(0),
            };
            Ok(LinkStart {
                ether_type: Some(ether_type),
                ..bare(frame.get(NULL_HEADER_LEN..).unwrap_or(&[]))
            })
        }
        LinkType::Unsupported(_) => Err(DecodeFailure::LinkUnsupported),
    }
}

/// A cooked frame whose protocol is not an EtherType carries no IP.
fn non_ether_payload(start: LinkStart<'_>) -> Result<LinkStart<'_>, DecodeFailure> {
    Ok(LinkStart {
        ether_type: Some(start.ether_type.unwrap_or(EtherType(0))),
        ..start
    })
}
