//! Decoding: one captured frame → the few facts the rest of medtap needs.
//!
//! The frame is sliced in place with `etherparse`'s lax slicer, so a frame cut
//! short by the snap length or a GRO frame larger than the MTU still decodes:
//! what a host capture produces is normal, not an error. Checksums are not
//! verified unless [`DecodeOptions::verify_checksums`] asks for it, because a
//! capture taken on a host with checksum offload carries checksums the NIC has
//! not filled in yet.
//!
//! IP lengths are checked as the receiving host checks them, because a packet
//! the host drops must neither blind nor fool what follows its connection: an
//! IPv4 total length smaller than the header (0 included), or an IPv6 payload
//! length of 0 in front of a transport header (a jumbogram needs a hop-by-hop
//! header), is `ipv4.bad_total_length` / `ipv6.bad_payload_length`. So is a
//! length larger than the frame on the wire, which only [`decode_frame`] can
//! tell, from the frame's wire length: a frame cut by the snap length is
//! shorter than its IP length and still decodes. A sending host's TSO
//! super-frame with total length 0 (Windows, Linux BIG TCP) is therefore
//! counted, not decoded: no receiver ever sees one.
//!
//! The result, [`Decoded`], is a small `Copy` value: addresses, ports, TCP
//! flags and the byte range of the transport payload inside the frame. Nothing
//! is copied out of the frame. A frame that does not decode gives a
//! [`DecodeFailure`], a closed set of reasons that [`DecodeCounters`] counts;
//! no input can make this module panic.

mod link;

use std::net::{IpAddr, Ipv4Addr};

use etherparse::{
    EtherType, LaxIpPayloadSlice, LaxLinkExtSlice, LaxNetSlice, LaxSlicedPacket, TransportSlice,
    err::Layer, err::packet::SliceError,
};
use serde::Serialize;

pub use link::LinkType;

/// A MAC address.
pub type Mac = [u8; 6];

/// IANA protocol numbers medtap names.
pub mod ip_proto {
    /// ICMP for IPv4.
    pub const ICMP: u8 = 1;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// ICMP for IPv6.
    pub const ICMPV6: u8 = 58;
    /// SCTP, whose ports sit where TCP's and UDP's do.
    pub const SCTP: u8 = 132;
}

/// How strictly frames are checked.
#[derive(Debug, Clone, Copy, Default)]
pub struct DecodeOptions {
    /// Verify IPv4 header, TCP, UDP and ICMPv6 checksums and count failures.
    /// Off by default, as Suricata's `-k none` and Zeek's `-C`: host captures
    /// carry offloaded checksums that were never filled in.
    pub verify_checksums: bool,
}

/// TCP header flags, as the low byte of the flags field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// FIN: the sender has finished sending.
    pub const FIN: u8 = 0x01;
    /// SYN: synchronise sequence numbers.
    pub const SYN: u8 = 0x02;
    /// RST: reset the connection.
    pub const RST: u8 = 0x04;
    /// PSH: push buffered data.
    pub const PSH: u8 = 0x08;
    /// ACK: the acknowledgment field is significant.
    pub const ACK: u8 = 0x10;

    /// Whether every bit of `mask` is set.
    pub fn has(self, mask: u8) -> bool {
        self.0 & mask == mask
    }
}

/// The network layer of a decoded frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// An IPv4 or IPv6 packet.
    Ip {
        /// Source address.
        src: IpAddr,
        /// Destination address.
        dst: IpAddr,
        /// Transport protocol number (after IPv6 extension headers).
        proto: u8,
        /// Part of a fragmented datagram; the transport header is not decoded.
        fragment: bool,
    },
    /// An ARP packet for IPv4 over Ethernet: who claims which address.
    Arp {
        /// Sender hardware address.
        sender_mac: Mac,
        /// Sender protocol address.
        sender_ip: Ipv4Addr,
    },
    /// Another EtherType (LLDP, STP, …): counted, not tracked.
    Other(u16),
}

/// The transport layer of a decoded IP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// TCP segment.
    Tcp {
        /// Source port.
        src_port: u16,
        /// Destination port.
        dst_port: u16,
        /// Sequence number.
        seq: u32,
        /// Acknowledgment number.
        ack: u32,
        /// Header flags.
        flags: TcpFlags,
    },
    /// UDP datagram.
    Udp {
        /// Source port.
        src_port: u16,
        /// Destination port.
        dst_port: u16,
    },
    /// SCTP packet (ports only).
    Sctp {
        /// Source port.
        src_port: u16,
        /// Destination port.
        dst_port: u16,
    },
    /// ICMP or ICMPv6 message.
    Icmp {
        /// Message type.
        icmp_type: u8,
        /// Message code.
        code: u8,
    },
    /// No transport header decoded (fragment, unknown protocol).
    None,
}

impl Transport {
    /// Source and destination ports, where the protocol has them.
    pub fn ports(&self) -> Option<(u16, u16)> {
        match *self {
            Transport::Tcp {
                src_port, dst_port, ..
            }
            | Transport::Udp { src_port, dst_port }
            | Transport::Sctp { src_port, dst_port } => Some((src_port, dst_port)),
            Transport::Icmp { .. } | Transport::None => None,
        }
    }
}

/// What one frame says, borrowed from nothing: every field is a copy of a
/// few header bytes, and `payload` indexes the frame it was decoded from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoded {
    /// Source MAC, where the link layer carries one.
    pub src_mac: Option<Mac>,
    /// Destination MAC, where the link layer carries one.
    pub dst_mac: Option<Mac>,
    /// VLAN ids, outermost first; 0 where absent.
    pub vlan: [u16; 2],
    /// Network layer.
    pub network: Network,
    /// Transport layer.
    pub transport: Transport,
    /// Offset of the IP header inside the frame (0 without one): where a
    /// SYN's signature is read from.
    pub network_offset: u32,
    /// Offset of the transport payload (TCP/UDP data) inside the frame.
    pub payload_offset: u32,
    /// Length of the transport payload as captured.
    pub payload_len: u32,
}

impl Decoded {
    /// The transport payload of `frame`, the bytes this value was decoded from.
    pub fn payload<'a>(&self, frame: &'a [u8]) -> &'a [u8] {
        let start = self.payload_offset as usize;
        frame
            .get(start..start + self.payload_len as usize)
            .unwrap_or(&[])
    }
}

macro_rules! reasons {
    ($( $variant:ident => $name:literal, $doc:literal; )*) => {
        /// Why a frame did not decode. Each reason is counted under its name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum DecodeFailure {
            $( #[doc = $doc] $variant, )*
        }

        impl DecodeFailure {
            /// Every reason, in counter order.
            pub const ALL: &'static [DecodeFailure] = &[$(DecodeFailure::$variant),*];

            /// The counter name, `layer.reason`.
            pub fn name(self) -> &'static str {
                match self { $( DecodeFailure::$variant => $name, )* }
            }
        }
    };
}

reasons! {
    LinkUnsupported => "link.unsupported", "The capture's link type is not one medtap decodes.";
    LinkTruncated => "link.truncated", "The frame is shorter than its link-layer header.";
    VlanTruncated => "vlan.truncated", "A VLAN tag is cut short.";
    VlanTooDeep => "vlan.too_deep", "More VLAN tags than medtap unwraps.";
    MacsecMalformed => "macsec.malformed", "A MACsec header that does not decode.";
    ArpMalformed => "arp.malformed", "An ARP packet that is cut short or not Ethernet/IPv4.";
    IpVersionUnknown => "ip.bad_version", "An IP header whose version is neither 4 nor 6.";
    Ipv4Truncated => "ipv4.truncated", "An IPv4 header cut short.";
    Ipv4BadHeader => "ipv4.bad_header", "An IPv4 header with an impossible header length.";
    Ipv4BadTotalLength => "ipv4.bad_total_length", "An IPv4 total length smaller than the header, or larger than the frame on the wire.";
    Ipv4BadChecksum => "ipv4.bad_checksum", "An IPv4 header checksum mismatch (only when checksums are verified).";
    Ipv4ExtMalformed => "ipv4.bad_extension", "An IPv4 authentication header that does not decode.";
    Ipv6Truncated => "ipv6.truncated", "An IPv6 header cut short.";
    Ipv6BadPayloadLength => "ipv6.bad_payload_length", "An IPv6 payload length of 0 before a transport header, or larger than the frame on the wire.";
    Ipv6ExtMalformed => "ipv6.bad_extension", "An IPv6 extension header cut short or malformed.";
    TcpTruncated => "tcp.truncated", "A TCP header cut short.";
    TcpBadHeader => "tcp.bad_header", "A TCP data offset smaller than the header.";
    TcpBadChecksum => "tcp.bad_checksum", "A TCP checksum mismatch (only when checksums are verified).";
    UdpTruncated => "udp.truncated", "A UDP header cut short.";
    UdpBadChecksum => "udp.bad_checksum", "A UDP checksum mismatch (only when checksums are verified).";
    IcmpTruncated => "icmp.truncated", "An ICMP or ICMPv6 header cut short.";
    Icmpv6BadChecksum => "icmpv6.bad_checksum", "An ICMPv6 checksum mismatch (only when checksums are verified).";
    SctpTruncated => "sctp.truncated", "An SCTP common header cut short.";
}

/// Counters for what the decoder saw: frames by layer, and failures by reason.
/// Kept per capture thread and summed for `stats` events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecodeCounters {
    /// IPv4 packets.
    pub ipv4: u64,
    /// IPv6 packets.
    pub ipv6: u64,
    /// TCP segments.
    pub tcp: u64,
    /// UDP datagrams.
    pub udp: u64,
    /// SCTP packets.
    pub sctp: u64,
    /// ICMP and ICMPv6 messages.
    pub icmp: u64,
    /// IP packets of another transport protocol.
    pub other_ip: u64,
    /// Frames carrying at least one VLAN tag.
    pub vlan: u64,
    /// Frames carrying two VLAN tags (QinQ).
    pub qinq: u64,
    /// IPv4 fragments (first and later).
    pub ipv4_fragments: u64,
    /// IPv6 fragments (first and later).
    pub ipv6_fragments: u64,
    /// ARP packets.
    pub arp: u64,
    /// Frames of another EtherType (LLDP, STP, …).
    pub other_ethertype: u64,
    /// Failures, indexed as [`DecodeFailure::ALL`].
    pub failures: [u64; DecodeFailure::ALL.len()],
}

impl DecodeCounters {
    /// Counts one decoded frame by its layers.
    pub fn count(&mut self, decoded: &Decoded) {
        if decoded.vlan[0] != 0 {
            self.vlan += 1;
        }
        if decoded.vlan[1] != 0 {
            self.qinq += 1;
        }
        match decoded.network {
            Network::Ip {
                src,
                proto,
                fragment,
                ..
            } => {
                match (src, fragment) {
                    (IpAddr::V4(_), false) => self.ipv4 += 1,
                    (IpAddr::V4(_), true) => {
                        self.ipv4 += 1;
                        self.ipv4_fragments += 1;
                    }
                    (IpAddr::V6(_), false) => self.ipv6 += 1,
                    (IpAddr::V6(_), true) => {
                        self.ipv6 += 1;
                        self.ipv6_fragments += 1;
                    }
                }
                match decoded.transport {
                    Transport::Tcp { .. } => self.tcp += 1,
                    Transport::Udp { .. } => self.udp += 1,
                    Transport::Sctp { .. } => self.sctp += 1,
                    Transport::Icmp { .. } => self.icmp += 1,
                    Transport::None if !fragment && proto != ip_proto::TCP => self.other_ip += 1,
                    Transport::None => {}
                }
            }
            Network::Arp { .. } => self.arp += 1,
            Network::Other(_) => self.other_ethertype += 1,
        }
    }

    /// Counts one failure.
    pub fn fail(&mut self, reason: DecodeFailure) {
        if let Some(slot) = DecodeFailure::ALL
            .iter()
            .position(|r| *r == reason)
            .and_then(|i| self.failures.get_mut(i))
        {
            *slot += 1;
        }
    }

    /// Failures so far, summed over every reason.
    pub fn failures_total(&self) -> u64 {
        self.failures.iter().sum()
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &DecodeCounters) {
        self.ipv4 += other.ipv4;
        self.ipv6 += other.ipv6;
        self.tcp += other.tcp;
        self.udp += other.udp;
        self.sctp += other.sctp;
        self.icmp += other.icmp;
        self.other_ip += other.other_ip;
        self.vlan += other.vlan;
        self.qinq += other.qinq;
        self.ipv4_fragments += other.ipv4_fragments;
        self.ipv6_fragments += other.ipv6_fragments;
        self.arp += other.arp;
        self.other_ethertype += other.other_ethertype;
        for (a, b) in self.failures.iter_mut().zip(other.failures.iter()) {
            *a += b;
        }
    }

    /// The failure counters by name, only those that are not zero.
    pub fn failures_by_name(&self) -> Vec<(&'static str, u64)> {
        DecodeFailure::ALL
            .iter()
            .zip(self.failures.iter())
            .filter(|(_, n)| **n > 0)
            .map(|(r, n)| (r.name(), *n))
            .collect()
    }
}

/// The decoder counters as they appear in `stats` events.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct DecodeStats {
    /// IPv4 packets.
    pub ipv4: u64,
    /// IPv6 packets.
    pub ipv6: u64,
    /// TCP segments.
    pub tcp: u64,
    /// UDP datagrams.
    pub udp: u64,
    /// SCTP packets.
    pub sctp: u64,
    /// ICMP and ICMPv6 messages.
    pub icmp: u64,
    /// IP packets of other protocols.
    pub other_ip: u64,
    /// Frames with a VLAN tag.
    pub vlan: u64,
    /// Frames with two VLAN tags.
    pub vlan_qinq: u64,
    /// IPv4 fragments.
    pub ipv4_fragments: u64,
    /// IPv6 fragments.
    pub ipv6_fragments: u64,
    /// ARP packets.
    pub arp: u64,
    /// Frames of other EtherTypes.
    pub other_ethertype: u64,
    /// Frames that did not decode, in all.
    pub invalid: u64,
    /// Frames that did not decode, by reason.
    pub invalid_by_reason: std::collections::BTreeMap<&'static str, u64>,
}

impl From<&DecodeCounters> for DecodeStats {
    fn from(c: &DecodeCounters) -> Self {
        DecodeStats {
            ipv4: c.ipv4,
            ipv6: c.ipv6,
            tcp: c.tcp,
            udp: c.udp,
            sctp: c.sctp,
            icmp: c.icmp,
            other_ip: c.other_ip,
            vlan: c.vlan,
            vlan_qinq: c.qinq,
            ipv4_fragments: c.ipv4_fragments,
            ipv6_fragments: c.ipv6_fragments,
            arp: c.arp,
            other_ethertype: c.other_ethertype,
            invalid: c.failures_total(),
            invalid_by_reason: c.failures_by_name().into_iter().collect(),
        }
    }
}

/// Decodes one frame captured with link type `link`, its length on the wire
/// unknown: an IP length larger than the captured bytes is taken for a cut by
/// the snap length (see [`decode_frame`]).
pub fn decode(
    link: LinkType,
    frame: &[u8],
    options: &DecodeOptions,
) -> Result<Decoded, DecodeFailure> {
    decode_frame(link, frame, u32::MAX, options)
}

/// Decodes one frame captured with link type `link` that was `wire_len`
/// bytes long on the wire: an IP length larger than that is counted, as the
/// host that received the frame would drop the packet.
pub fn decode_frame(
    link: LinkType,
    frame: &[u8],
    wire_len: u32,
    options: &DecodeOptions,
) -> Result<Decoded, DecodeFailure> {
    let start = link::slice(link, frame)?;
    let sliced = match start.ether_type {
        Some(ether_type) => LaxSlicedPacket::from_ether_type(ether_type, start.rest),
        None => LaxSlicedPacket::from_ip(start.rest).map_err(ip_header_failure)?,
    };
    let (src_mac, dst_mac) = (start.src_mac, start.dst_mac);
    let mut vlan = start.vlan;
    let mut depth = vlan.iter().filter(|v| **v != 0).count();
    for ext in &sliced.link_exts {
        if let LaxLinkExtSlice::Vlan(tag) = ext {
            match vlan.get_mut(depth) {
                Some(slot) => *slot = tag.vlan_identifier().value(),
                None => return Err(DecodeFailure::VlanTooDeep),
            }
            depth += 1;
        }
    }
    if let Some((err, layer)) = &sliced.stop_err {
        return Err(stop_failure(err, *layer));
    }

    let frame_start = frame.as_ptr() as usize;
    let offset_of = |bytes: &[u8]| (bytes.as_ptr() as usize).saturating_sub(frame_start) as u32;
    // Bytes from `at` to the end of the frame as it was on the wire.
    let wire_len = wire_len.max(frame.len() as u32);
    let on_wire_from = |at: &[u8]| u64::from(wire_len.saturating_sub(offset_of(at)));

    let Some(net) = &sliced.net else {
        let ether_type = match start.ether_type {
            Some(t) => innermost_ether_type(&sliced, t),
            None => EtherType(0),
        };
        // The link layer's payload (after any VLAN tags), for link-layer
        // protocols read elsewhere (LLDP, CDP).
        let payload = sliced.ether_payload().map_or(start.rest, |p| p.payload);
        return Ok(Decoded {
            src_mac,
            dst_mac,
            vlan,
            network: Network::Other(ether_type.0),
            transport: Transport::None,
            network_offset: 0,
            payload_offset: offset_of(payload),
            payload_len: payload.len() as u32,
        });
    };

    let (src, dst, ip_payload, network_offset): (IpAddr, IpAddr, &LaxIpPayloadSlice, u32) =
        match net {
            LaxNetSlice::Ipv4(v4) => {
                let header = v4.header();
                let total_len = usize::from(header.total_len());
                if total_len < header.slice().len()
                    || total_len as u64 > on_wire_from(header.slice())
                {
                    return Err(DecodeFailure::Ipv4BadTotalLength);
                }
                if options.verify_checksums {
                    let computed = header.to_header().calc_header_checksum();
                    if computed != header.header_checksum() {
                        return Err(DecodeFailure::Ipv4BadChecksum);
                    }
                }
                (
                    IpAddr::V4(header.source_addr()),
                    IpAddr::V4(header.destination_addr()),
                    v4.payload(),
                    offset_of(header.slice()),
                )
            }
            LaxNetSlice::Ipv6(v6) => {
                let header = v6.header();
                let payload_len = header.payload_length();
                // Hop-by-hop (a jumbogram's) and "no next header" may follow a
                // payload length of 0; a transport header may not.
                let jumbo_or_empty = matches!(header.next_header().0, 0 | 59);
                if (payload_len == 0 && !jumbo_or_empty)
                    || 40 + u64::from(payload_len) > on_wire_from(header.slice())
                {
                    return Err(DecodeFailure::Ipv6BadPayloadLength);
                }
                (
                    IpAddr::V6(header.source_addr()),
                    IpAddr::V6(header.destination_addr()),
                    v6.payload(),
                    offset_of(header.slice()),
                )
            }
            LaxNetSlice::Arp(arp) => return decode_arp(arp, src_mac, dst_mac, vlan),
        };
    let proto = ip_payload.ip_number.0;
    let fragment = ip_payload.fragmented;
    let network = Network::Ip {
        src,
        dst,
        proto,
        fragment,
    };
    let whole = !ip_payload.incomplete && ip_payload.len_source != etherparse::LenSource::Slice;

    let (transport, (payload_offset, payload_len)) = match &sliced.transport {
        Some(TransportSlice::Tcp(tcp)) => {
            if options.verify_checksums && whole && !tcp_checksum_ok(tcp, src, dst) {
                return Err(DecodeFailure::TcpBadChecksum);
            }
            let body = tcp.payload();
            (
                Transport::Tcp {
                    src_port: tcp.source_port(),
                    dst_port: tcp.destination_port(),
                    seq: tcp.sequence_number(),
                    ack: tcp.acknowledgment_number(),
                    flags: TcpFlags(tcp.header_slice().get(13).copied().unwrap_or(0)),
                },
                (offset_of(body), body.len() as u32),
            )
        }
        Some(TransportSlice::Udp(udp)) => {
            if options.verify_checksums && whole && !udp_checksum_ok(udp, src, dst) {
                return Err(DecodeFailure::UdpBadChecksum);
            }
            let body = udp.payload();
            (
                Transport::Udp {
                    src_port: udp.source_port(),
                    dst_port: udp.destination_port(),
                },
                (offset_of(body), body.len() as u32),
            )
        }
        Some(TransportSlice::Icmpv4(icmp)) => (
            Transport::Icmp {
                icmp_type: icmp.type_u8(),
                code: icmp.code_u8(),
            },
            (0, 0),
        ),
        Some(TransportSlice::Icmpv6(icmp)) => {
            if options.verify_checksums
                && whole
                && let (IpAddr::V6(s), IpAddr::V6(d)) = (src, dst)
                && !icmp.is_checksum_valid(s.octets(), d.octets())
            {
                return Err(DecodeFailure::Icmpv6BadChecksum);
            }
            (
                Transport::Icmp {
                    icmp_type: icmp.type_u8(),
                    code: icmp.code_u8(),
                },
                (0, 0),
            )
        }
        None => transport_by_hand(proto, fragment, ip_payload.payload)?,
    };

    Ok(Decoded {
        src_mac,
        dst_mac,
        vlan,
        network,
        transport,
        network_offset,
        payload_offset,
        payload_len,
    })
}

/// Transports etherparse leaves alone: SCTP's ports, and headers etherparse
/// gave up on because they were too short to hold.
fn transport_by_hand(
    proto: u8,
    fragment: bool,
    payload: &[u8],
) -> Result<(Transport, (u32, u32)), DecodeFailure> {
    if fragment {
        return Ok((Transport::None, (0, 0)));
    }
    match proto {
        ip_proto::SCTP => match payload.get(..4) {
            Some(&[a, b, c, d]) => Ok((
                Transport::Sctp {
                    src_port: u16::from_be_bytes([a, b]),
                    dst_port: u16::from_be_bytes([c, d]),
                },
                (0, 0),
            )),
            _ => Err(DecodeFailure::SctpTruncated),
        },
        ip_proto::TCP => Err(DecodeFailure::TcpTruncated),
        ip_proto::UDP => Err(DecodeFailure::UdpTruncated),
        ip_proto::ICMP | ip_proto::ICMPV6 => Err(DecodeFailure::IcmpTruncated),
        _ => Ok((Transport::None, (0, 0))),
    }
}

fn decode_arp(
    arp: &etherparse::ArpPacketSlice,
    src_mac: Option<Mac>,
    dst_mac: Option<Mac>,
    vlan: [u16; 2],
) -> Result<Decoded, DecodeFailure> {
    let sender_mac: Mac = arp
        .sender_hw_addr()
        .try_into()
        .map_err(|_| DecodeFailure::ArpMalformed)?;
    let sender_ip: [u8; 4] = arp
        .sender_protocol_addr()
        .try_into()
        .map_err(|_| DecodeFailure::ArpMalformed)?;
    Ok(Decoded {
        src_mac,
        dst_mac,
        vlan,
        network: Network::Arp {
            sender_mac,
            sender_ip: Ipv4Addr::from(sender_ip),
        },
        transport: Transport::None,
        network_offset: 0,
        payload_offset: 0,
        payload_len: 0,
    })
}

fn innermost_ether_type(sliced: &LaxSlicedPacket, outer: EtherType) -> EtherType {
    sliced
        .link_exts
        .iter()
        .rev()
        .find_map(|ext| match ext {
            LaxLinkExtSlice::Vlan(tag) => Some(tag.ether_type()),
            LaxLinkExtSlice::Macsec(_) => None,
        })
        .unwrap_or(outer)
}

fn tcp_checksum_ok(tcp: &etherparse::TcpSlice, src: IpAddr, dst: IpAddr) -> bool {
    let computed = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => tcp.calc_checksum_ipv4(s.octets(), d.octets()),
        (IpAddr::V6(s), IpAddr::V6(d)) => tcp.calc_checksum_ipv6(s.octets(), d.octets()),
        _ => return true,
    };
    computed.map(|c| c == tcp.checksum()).unwrap_or(true)
}

fn udp_checksum_ok(udp: &etherparse::UdpSlice, src: IpAddr, dst: IpAddr) -> bool {
    // An IPv4 UDP checksum of zero means the sender did not compute one.
    if udp.checksum() == 0 && src.is_ipv4() {
        return true;
    }
    let header = udp.to_header();
    let computed = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            header.calc_checksum_ipv4_raw(s.octets(), d.octets(), udp.payload())
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            header.calc_checksum_ipv6_raw(s.octets(), d.octets(), udp.payload())
        }
        _ => return true,
    };
    computed.map(|c| c == udp.checksum()).unwrap_or(true)
}

fn ip_header_failure(err: etherparse::err::ip::LaxHeaderSliceError) -> DecodeFailure {
    use etherparse::err::ip::{HeaderError, LaxHeaderSliceError};
    match err {
        LaxHeaderSliceError::Len(_) => DecodeFailure::Ipv4Truncated,
        LaxHeaderSliceError::Content(HeaderError::UnsupportedIpVersion { .. }) => {
            DecodeFailure::IpVersionUnknown
        }
        LaxHeaderSliceError::Content(HeaderError::Ipv4HeaderLengthSmallerThanHeader { .. }) => {
            DecodeFailure::Ipv4BadHeader
        }
    }
}

fn stop_failure(err: &SliceError, layer: Layer) -> DecodeFailure {
    match (err, layer) {
        (SliceError::Ip(e), _) => match e {
            etherparse::err::ip::HeaderError::UnsupportedIpVersion { .. } => {
                DecodeFailure::IpVersionUnknown
            }
            etherparse::err::ip::HeaderError::Ipv4HeaderLengthSmallerThanHeader { .. } => {
                DecodeFailure::Ipv4BadHeader
            }
        },
        (SliceError::Ipv4(_), _) => DecodeFailure::Ipv4BadHeader,
        (SliceError::Ipv6(_), _) => DecodeFailure::Ipv6Truncated,
        (SliceError::Ipv4Exts(_), _) => DecodeFailure::Ipv4ExtMalformed,
        (SliceError::Ipv6Exts(_), _) => DecodeFailure::Ipv6ExtMalformed,
        (SliceError::Tcp(_), _) => DecodeFailure::TcpBadHeader,
        (SliceError::Macsec(_), _) => DecodeFailure::MacsecMalformed,
        (SliceError::LinuxSll(_), _) => DecodeFailure::LinkTruncated,
        (SliceError::Len(_), layer) => match layer {
            Layer::VlanHeader => DecodeFailure::VlanTruncated,
            Layer::MacsecHeader | Layer::MacsecPacket => DecodeFailure::MacsecMalformed,
            Layer::Ipv4Header | Layer::Ipv4Packet | Layer::IpHeader | Layer::IpAuthHeader => {
                DecodeFailure::Ipv4Truncated
            }
            Layer::Ipv6Header | Layer::Ipv6Packet => DecodeFailure::Ipv6Truncated,
            Layer::Ipv6ExtHeader
            | Layer::Ipv6HopByHopHeader
            | Layer::Ipv6DestOptionsHeader
            | Layer::Ipv6RouteHeader
            | Layer::Ipv6FragHeader => DecodeFailure::Ipv6ExtMalformed,
            Layer::TcpHeader => DecodeFailure::TcpTruncated,
            Layer::UdpHeader | Layer::UdpPayload => DecodeFailure::UdpTruncated,
            Layer::Icmpv4
            | Layer::Icmpv4Timestamp
            | Layer::Icmpv4TimestampReply
            | Layer::Icmpv6 => DecodeFailure::IcmpTruncated,
            Layer::Arp => DecodeFailure::ArpMalformed,
            _ => DecodeFailure::LinkTruncated,
        },
    }
}

#[cfg(test)]
mod tests;
