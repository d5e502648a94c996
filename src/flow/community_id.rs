//! Community ID v1: the flow hash that Zeek, Suricata and most SIEMs share, so
//! an analyst can pivot from a medtap event to the same flow in other tools.
//!
//! The hash is SHA-1 over the seed, the ordered endpoint addresses, the IP
//! protocol and (for protocols with ports) the ordered ports; the result is
//! `1:` followed by its base64 encoding. ICMP has no ports: its type and code
//! stand in for them, with request and reply types mapped onto each other so
//! both directions of an exchange get the same ID.

use std::net::IpAddr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha1::{Digest, Sha1};

/// IP protocol numbers that Community ID treats specially.
const PROTO_ICMP: u8 = 1;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const PROTO_ICMPV6: u8 = 58;
const PROTO_SCTP: u8 = 132;

/// ICMPv4 request/reply type pairs (RFC 792, 950, 1256).
const ICMPV4_PAIRS: &[(u8, u8)] = &[
    (8, 0),   // echo, echo reply
    (13, 14), // timestamp, timestamp reply
    (15, 16), // information request, reply
    (10, 9),  // router solicitation, advertisement
    (17, 18), // address mask request, reply
];

/// ICMPv6 request/reply type pairs (RFC 4443, 4861, 2710, 4620, 6275).
const ICMPV6_PAIRS: &[(u8, u8)] = &[
    (128, 129), // echo request, reply
    (130, 131), // multicast listener query, report
    (133, 134), // router solicitation, advertisement
    (135, 136), // neighbour solicitation, advertisement
    (139, 140), // node information query, response
    (144, 145), // home agent address discovery request, reply
];

/// The port equivalents of an ICMP message: `(type, counterpart, one_way)`.
///
/// For a type with a request/reply counterpart, the second port is the
/// counterpart's type, so that a request and its reply order the same way.
/// Other types are one-way: the second port is the code, and the tuple keeps
/// its direction instead of being ordered.
pub fn icmp_port_equivalents(icmp_type: u8, code: u8, is_v6: bool) -> (u16, u16, bool) {
    let pairs = if is_v6 { ICMPV6_PAIRS } else { ICMPV4_PAIRS };
    let counterpart = pairs.iter().find_map(|&(a, b)| {
        if a == icmp_type {
            Some(b)
        } else if b == icmp_type {
            Some(a)
        } else {
            None
        }
    });
    match counterpart {
        Some(other) => (icmp_type.into(), other.into(), false),
        None => (icmp_type.into(), code.into(), true),
    }
}

/// The Community ID v1 of a packet's tuple, as `1:<base64 sha1>`.
///
/// For ICMP and ICMPv6, `src_port` is the type and `dst_port` the code; the
/// type mapping is applied here. For protocols without ports, the ports are
/// ignored.
pub fn community_id_v1(
    seed: u16,
    proto: u8,
    src: IpAddr,
    dst: IpAddr,
    src_port: u16,
    dst_port: u16,
) -> String {
    community_id_text(&community_id_v1_digest(
        seed, proto, src, dst, src_port, dst_port,
    ))
}

/// The Community ID v1 text of a digest from [`community_id_v1_digest`].
pub fn community_id_text(digest: &[u8; 20]) -> String {
    let mut out = String::with_capacity(30);
    out.push_str("1:");
    BASE64.encode_string(digest, &mut out);
    out
}

/// The SHA-1 digest a Community ID v1 encodes (see [`community_id_v1`]).
pub fn community_id_v1_digest(
    seed: u16,
    proto: u8,
    src: IpAddr,
    dst: IpAddr,
    src_port: u16,
    dst_port: u16,
) -> [u8; 20] {
    let (ports, one_way) = match proto {
        PROTO_ICMP | PROTO_ICMPV6 => {
            let (a, b, one_way) =
                icmp_port_equivalents(src_port as u8, dst_port as u8, proto == PROTO_ICMPV6);
            (Some((a, b)), one_way)
        }
        PROTO_TCP | PROTO_UDP | PROTO_SCTP => (Some((src_port, dst_port)), false),
        _ => (None, false),
    };
    let (sp, dp) = ports.unwrap_or((0, 0));
    let keep = one_way || (src, sp) <= (dst, dp);
    let ((a, a_port), (b, b_port)) = if keep {
        ((src, sp), (dst, dp))
    } else {
        ((dst, dp), (src, sp))
    };

    let mut hasher = Sha1::new();
    hasher.update(seed.to_be_bytes());
    update_addr(&mut hasher, a);
    update_addr(&mut hasher, b);
    hasher.update([proto, 0]);
    if ports.is_some() {
        hasher.update(a_port.to_be_bytes());
        hasher.update(b_port.to_be_bytes());
    }
    hasher.finalize().into()
}

fn update_addr(hasher: &mut Sha1, addr: IpAddr) {
    match addr {
        IpAddr::V4(v4) => hasher.update(v4.octets()),
        IpAddr::V6(v6) => hasher.update(v6.octets()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    // Vectors from the Community ID specification's baseline (seed 0).
    #[test]
    fn tcp_vector_from_the_spec() {
        assert_eq!(
            community_id_v1(0, 6, ip("128.232.110.120"), ip("66.35.250.204"), 34855, 80),
            "1:LQU9qZlK+B5F3KDmev6m5PMibrg="
        );
        // Either direction.
        assert_eq!(
            community_id_v1(0, 6, ip("66.35.250.204"), ip("128.232.110.120"), 80, 34855),
            "1:LQU9qZlK+B5F3KDmev6m5PMibrg="
        );
    }

    #[test]
    fn udp_vector_from_the_spec() {
        assert_eq!(
            community_id_v1(0, 17, ip("192.168.1.52"), ip("8.8.8.8"), 54585, 53),
            "1:d/FP5EW3wiY1vCndhwleRRKHowQ="
        );
    }

    #[test]
    fn icmp_echo_and_reply_share_an_id() {
        let request = community_id_v1(0, 1, ip("192.168.0.89"), ip("192.168.0.1"), 8, 0);
        let reply = community_id_v1(0, 1, ip("192.168.0.1"), ip("192.168.0.89"), 0, 0);
        assert_eq!(request, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=");
        assert_eq!(request, reply);
    }

    #[test]
    fn one_way_icmp_keeps_its_direction() {
        let (t, c, one_way) = icmp_port_equivalents(3, 3, false);
        assert_eq!((t, c, one_way), (3, 3, true));
        let there = community_id_v1(0, 1, ip("10.0.0.2"), ip("10.0.0.1"), 3, 3);
        let back = community_id_v1(0, 1, ip("10.0.0.1"), ip("10.0.0.2"), 3, 3);
        assert_ne!(there, back);
    }

    #[test]
    fn icmpv6_neighbour_discovery_pairs() {
        assert_eq!(icmp_port_equivalents(135, 0, true), (135, 136, false));
        assert_eq!(icmp_port_equivalents(136, 0, true), (136, 135, false));
        // Type 135 means nothing special in ICMPv4.
        assert_eq!(icmp_port_equivalents(135, 0, false), (135, 0, true));
    }

    #[test]
    fn protocols_without_ports_hash_addresses_only() {
        // RSVP (46) from the spec's baseline; the ports given are ignored.
        let id = community_id_v1(0, 46, ip("10.1.12.1"), ip("10.1.12.2"), 7, 9);
        assert_eq!(id, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=");
        assert_eq!(
            id,
            community_id_v1(0, 46, ip("10.1.12.2"), ip("10.1.12.1"), 0, 0)
        );
    }

    #[test]
    fn seed_changes_the_id() {
        let a = community_id_v1(0, 6, ip("10.0.0.1"), ip("10.0.0.2"), 1, 2);
        let b = community_id_v1(1, 6, ip("10.0.0.1"), ip("10.0.0.2"), 1, 2);
        assert_ne!(a, b);
    }
}
