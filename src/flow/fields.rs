//! The flow a packet belongs to as events name it: the 5-tuple, and the
//! fields (`src_ip`, ..., `community_id`, `flow_id`) derived from it.

use std::net::IpAddr;

use serde::{Serialize, Serializer};

use super::community_id::{community_id_text, community_id_v1_digest};
use crate::decode::ip_proto;

/// Suricata's name for an IP protocol number.
pub fn proto_name(proto: u8) -> ProtoName {
    ProtoName(proto)
}

/// An IP protocol, serialised as Suricata names it ("TCP", "UDP", "ICMP",
/// "IPv6-ICMP", "SCTP", or the number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtoName(pub u8);

impl Serialize for ProtoName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            ip_proto::TCP => s.serialize_str("TCP"),
            ip_proto::UDP => s.serialize_str("UDP"),
            ip_proto::ICMP => s.serialize_str("ICMP"),
            ip_proto::ICMPV6 => s.serialize_str("IPv6-ICMP"),
            ip_proto::SCTP => s.serialize_str("SCTP"),
            other => s.serialize_str(&other.to_string()),
        }
    }
}

/// The flow a packet-bound event belongs to, in the direction of its packet.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FlowFields {
    /// Source address of the packet.
    pub src_ip: IpAddr,
    /// Source port (ICMP: absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_port: Option<u16>,
    /// Destination address of the packet.
    pub dest_ip: IpAddr,
    /// Destination port (ICMP: absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dest_port: Option<u16>,
    /// IP protocol.
    pub proto: ProtoName,
    /// ICMP type and code, where the packet is ICMP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_type: Option<u8>,
    /// ICMP code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_code: Option<u8>,
    /// VLAN ids, outermost first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vlan: Vec<u16>,
    /// Application protocol detected on the flow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_proto: Option<&'static str>,
    /// Community ID v1 (seed 0) of the flow.
    pub community_id: String,
    /// `flow_id`, written at the head of the event (see [`flow_id`]).
    #[serde(skip)]
    pub flow_id: u64,
}

/// The largest `flow_id`: 53 bits, so that a JSON reader that holds numbers
/// as doubles (JavaScript, a SIEM's JSON parser) reads it exactly.
pub const MAX_FLOW_ID: u64 = (1 << 53) - 1;

/// A flow's `flow_id`: the first 8 bytes of its Community ID digest, with
/// its VLAN ids mixed in (the Community ID leaves them out), kept to 53 bits.
/// The same for every packet of the flow in either direction, and in every
/// run; like the Community ID, a 5-tuple reused later gets the same id.
pub fn flow_id(community_digest: &[u8; 20], vlan: [u16; 2]) -> u64 {
    let mut head = [0u8; 8];
    head.copy_from_slice(&community_digest[..8]);
    let vlans = (u64::from(vlan[0]) << 16) | u64::from(vlan[1]);
    (u64::from_be_bytes(head) ^ vlans.rotate_left(32)) & MAX_FLOW_ID
}

/// The 5-tuple of a packet, kept compact until an event needs its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketTuple {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Source port, or ICMP type.
    pub src_port: u16,
    /// Destination port, or ICMP code.
    pub dst_port: u16,
    /// IP protocol.
    pub proto: u8,
    /// VLAN ids.
    pub vlan: [u16; 2],
    /// Whether the protocol carries ports (TCP, UDP, SCTP).
    pub has_ports: bool,
    /// Whether the ports are ICMP type and code.
    pub is_icmp: bool,
}

impl PacketTuple {
    /// The same packet's tuple seen from the other end (sources and
    /// destinations swapped).
    pub fn reversed(self) -> PacketTuple {
        PacketTuple {
            src: self.dst,
            dst: self.src,
            src_port: self.dst_port,
            dst_port: self.src_port,
            ..self
        }
    }

    /// The event fields, with the Community ID computed.
    pub fn fields(&self, app_proto: Option<&'static str>) -> FlowFields {
        let digest = community_id_v1_digest(
            0,
            self.proto,
            self.src,
            self.dst,
            self.src_port,
            self.dst_port,
        );
        FlowFields {
            src_ip: self.src,
            src_port: self.has_ports.then_some(self.src_port),
            dest_ip: self.dst,
            dest_port: self.has_ports.then_some(self.dst_port),
            proto: ProtoName(self.proto),
            icmp_type: self.is_icmp.then_some(self.src_port as u8),
            icmp_code: self.is_icmp.then_some(self.dst_port as u8),
            vlan: self.vlan.iter().copied().filter(|v| *v != 0).collect(),
            app_proto,
            community_id: community_id_text(&digest),
            flow_id: flow_id(&digest, self.vlan),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_id_is_one_per_flow_and_vlan_in_both_directions() {
        let tuple = PacketTuple {
            src: "10.0.0.1".parse().unwrap(),
            dst: "10.0.0.2".parse().unwrap(),
            src_port: 40000,
            dst_port: 104,
            proto: ip_proto::TCP,
            vlan: [0, 0],
            has_ports: true,
            is_icmp: false,
        };
        let id = tuple.fields(None).flow_id;
        assert_eq!(tuple.reversed().fields(None).flow_id, id);
        let tagged = PacketTuple {
            vlan: [20, 0],
            ..tuple
        };
        assert_ne!(tagged.fields(None).flow_id, id);
        assert_ne!(
            PacketTuple {
                vlan: [0, 20],
                ..tuple
            }
            .fields(None)
            .flow_id,
            tagged.fields(None).flow_id
        );
        assert_eq!(
            tagged.fields(None).community_id,
            tuple.fields(None).community_id
        );
        assert!(id <= MAX_FLOW_ID);
    }
}
