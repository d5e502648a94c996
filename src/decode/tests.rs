use super::*;
use etherparse::PacketBuilder;
use proptest::prelude::*;

const MAC_A: Mac = [0x00, 0x09, 0xfb, 0x01, 0x02, 0x03];
const MAC_B: Mac = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02];
const OPTS: DecodeOptions = DecodeOptions {
    verify_checksums: false,
};

fn tcp_frame(payload: &[u8]) -> Vec<u8> {
    let builder = PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .tcp(40000, 104, 1000, 64240)
        .syn();
    let mut out = Vec::new();
    builder.write(&mut out, payload).expect("build");
    out
}

#[test]
fn ethernet_ipv4_tcp_gives_addresses_ports_flags_and_payload() {
    let frame = tcp_frame(b"hello");
    let d = decode(LinkType::Ethernet, &frame, &OPTS).expect("decodes");
    assert_eq!(d.src_mac, Some(MAC_A));
    assert_eq!(d.dst_mac, Some(MAC_B));
    assert_eq!(d.vlan, [0, 0]);
    assert_eq!(
        d.network,
        Network::Ip {
            src: "10.0.0.1".parse().expect("ip"),
            dst: "10.0.0.2".parse().expect("ip"),
            proto: ip_proto::TCP,
            fragment: false
        }
    );
    match d.transport {
        Transport::Tcp {
            src_port,
            dst_port,
            seq,
            flags,
            ..
        } => {
            assert_eq!((src_port, dst_port, seq), (40000, 104, 1000));
            assert!(flags.has(TcpFlags::SYN));
            assert!(!flags.has(TcpFlags::ACK));
        }
        other => panic!("not TCP: {other:?}"),
    }
    assert_eq!(d.payload(&frame), b"hello");
}

#[test]
fn single_and_double_vlan_tags_are_unwrapped() {
    let mut out = Vec::new();
    PacketBuilder::ethernet2(MAC_A, MAC_B)
        .single_vlan(100.try_into().expect("vlan"))
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .udp(5000, 2575)
        .write(&mut out, b"x")
        .expect("build");
    let d = decode(LinkType::Ethernet, &out, &OPTS).expect("decodes");
    assert_eq!(d.vlan, [100, 0]);
    assert!(matches!(d.transport, Transport::Udp { dst_port: 2575, .. }));

    let mut out = Vec::new();
    PacketBuilder::ethernet2(MAC_A, MAC_B)
        .double_vlan(200.try_into().expect("vlan"), 300.try_into().expect("vlan"))
        .ipv6([0xfd; 16], [0xfe; 16], 64)
        .udp(5000, 1883)
        .write(&mut out, b"x")
        .expect("build");
    let d = decode(LinkType::Ethernet, &out, &OPTS).expect("decodes");
    assert_eq!(d.vlan, [200, 300]);
    let mut counters = DecodeCounters::default();
    counters.count(&d);
    assert_eq!((counters.vlan, counters.qinq, counters.ipv6), (1, 1, 1));
}

fn ip_packet() -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4([192, 168, 1, 5], [192, 168, 1, 6], 64)
        .udp(123, 123)
        .write(&mut out, b"ntp")
        .expect("build");
    out
}

#[test]
fn raw_ip_and_ipv4_link_types_start_at_the_ip_header() {
    let packet = ip_packet();
    for link in [LinkType::RawIp, LinkType::Ipv4] {
        let d = decode(link, &packet, &OPTS).expect("decodes");
        assert!(matches!(d.transport, Transport::Udp { src_port: 123, .. }));
        assert_eq!(d.src_mac, None);
        assert_eq!(d.payload(&packet), b"ntp");
    }
}

#[test]
fn bsd_loopback_in_either_byte_order() {
    let packet = ip_packet();
    let mut null_le = vec![2, 0, 0, 0];
    null_le.extend_from_slice(&packet);
    let mut null_be = vec![0, 0, 0, 2];
    null_be.extend_from_slice(&packet);
    let d = decode(LinkType::Null, &null_le, &OPTS).expect("little-endian AF");
    assert!(matches!(d.network, Network::Ip { .. }));
    let d = decode(LinkType::Null, &null_be, &OPTS).expect("big-endian AF");
    assert!(matches!(d.network, Network::Ip { .. }));
    let d = decode(LinkType::Loop, &null_be, &OPTS).expect("loop AF");
    assert!(matches!(d.network, Network::Ip { .. }));
    assert_eq!(
        decode(LinkType::Null, &[2, 0], &OPTS),
        Err(DecodeFailure::LinkTruncated)
    );
}

#[test]
fn linux_cooked_v1_and_v2_carry_the_sender_mac() {
    let packet = ip_packet();
    // SLL: packet type 0 (to us), ARPHRD_ETHER, address length 6, MAC + 2
    // pad bytes, protocol 0x0800.
    let mut sll = vec![0, 0, 0, 1, 0, 6];
    sll.extend_from_slice(&MAC_A);
    sll.extend_from_slice(&[0, 0, 0x08, 0x00]);
    sll.extend_from_slice(&packet);
    let d = decode(LinkType::LinuxSll, &sll, &OPTS).expect("sll");
    assert_eq!(d.src_mac, Some(MAC_A));
    assert!(matches!(d.transport, Transport::Udp { .. }));

    // SLL2: protocol 0x0800, reserved, ifindex 2, ARPHRD_ETHER, packet type
    // 4 (outgoing), address length 6, MAC + 2 pad bytes.
    let mut sll2 = vec![0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 4, 6];
    sll2.extend_from_slice(&MAC_B);
    sll2.extend_from_slice(&[0, 0]);
    sll2.extend_from_slice(&packet);
    let d = decode(LinkType::LinuxSll2, &sll2, &OPTS).expect("sll2");
    assert_eq!(d.src_mac, Some(MAC_B));
    assert_eq!(d.payload(&sll2), b"ntp");
    assert_eq!(
        decode(LinkType::LinuxSll2, &sll2[..19], &OPTS),
        Err(DecodeFailure::LinkTruncated)
    );
}

#[test]
fn ipv6_extension_headers_are_walked_to_the_transport() {
    // IPv6 with a hop-by-hop options header (8 bytes) before UDP.
    let mut packet = vec![
        0x60,
        0,
        0,
        0, // version 6, traffic class, flow label
        0,
        8 + 8 + 1, // payload length: ext header + UDP header + 1 byte
        0,         // next header: hop-by-hop
        64,        // hop limit
    ];
    packet.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    packet.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    packet.extend_from_slice(&[17, 0, 1, 4, 0, 0, 0, 0]); // next: UDP, len 0, PadN
    packet.extend_from_slice(&[0x13, 0x88, 0x00, 0x35, 0, 9, 0, 0, b'q']);
    let d = decode(LinkType::RawIp, &packet, &OPTS).expect("decodes");
    assert!(matches!(
        d.network,
        Network::Ip {
            proto: ip_proto::UDP,
            ..
        }
    ));
    assert!(matches!(
        d.transport,
        Transport::Udp {
            src_port: 5000,
            dst_port: 53
        }
    ));
}

#[test]
fn ipv4_fragments_are_counted_and_not_given_ports() {
    let mut packet = ip_packet();
    // More-fragments flag set, offset 0; fix the header checksum is not
    // needed since checksums are not verified.
    packet[6] = 0x20;
    let d = decode(LinkType::RawIp, &packet, &OPTS).expect("decodes");
    assert!(matches!(d.network, Network::Ip { fragment: true, .. }));
    assert_eq!(d.transport, Transport::None);
    let mut counters = DecodeCounters::default();
    counters.count(&d);
    assert_eq!(counters.ipv4_fragments, 1);
}

#[test]
fn arp_gives_the_sender_binding() {
    let mut frame = Vec::new();
    frame.extend_from_slice(&[0xff; 6]);
    frame.extend_from_slice(&MAC_A);
    frame.extend_from_slice(&[0x08, 0x06]);
    // Ethernet/IPv4, request, sender MAC A / 10.0.0.7, target 10.0.0.1.
    frame.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    frame.extend_from_slice(&MAC_A);
    frame.extend_from_slice(&[10, 0, 0, 7]);
    frame.extend_from_slice(&[0; 6]);
    frame.extend_from_slice(&[10, 0, 0, 1]);
    let d = decode(LinkType::Ethernet, &frame, &OPTS).expect("decodes");
    assert_eq!(
        d.network,
        Network::Arp {
            sender_mac: MAC_A,
            sender_ip: Ipv4Addr::new(10, 0, 0, 7)
        }
    );
}

#[test]
fn unknown_ethertypes_are_other_not_failures() {
    let mut frame = Vec::new();
    frame.extend_from_slice(&[0x01, 0x80, 0xc2, 0, 0, 0x0e]);
    frame.extend_from_slice(&MAC_A);
    frame.extend_from_slice(&[0x88, 0xcc]); // LLDP
    frame.extend_from_slice(&[0; 20]);
    let d = decode(LinkType::Ethernet, &frame, &OPTS).expect("decodes");
    assert_eq!(d.network, Network::Other(0x88cc));
}

#[test]
fn truncated_headers_fail_with_their_layer() {
    let frame = tcp_frame(b"");
    assert_eq!(
        decode(LinkType::Ethernet, &frame[..10], &OPTS),
        Err(DecodeFailure::LinkTruncated)
    );
    assert_eq!(
        decode(LinkType::Ethernet, &frame[..14 + 12], &OPTS),
        Err(DecodeFailure::Ipv4Truncated)
    );
    assert_eq!(
        decode(LinkType::Ethernet, &frame[..14 + 20 + 10], &OPTS),
        Err(DecodeFailure::TcpTruncated)
    );
    assert_eq!(
        decode(LinkType::Unsupported(147), &frame, &OPTS),
        Err(DecodeFailure::LinkUnsupported)
    );
}

#[test]
fn a_snaplen_cut_payload_still_decodes() {
    let frame = tcp_frame(&[7u8; 1000]);
    let d = decode(LinkType::Ethernet, &frame[..100], &OPTS).expect("decodes");
    assert!(matches!(d.transport, Transport::Tcp { .. }));
    assert_eq!(d.payload(&frame[..100]).len(), 100 - 14 - 20 - 20);
}

/// Sets the IPv4 total length of an Ethernet frame (checksums are not
/// verified here).
fn with_total_length(mut frame: Vec<u8>, total_len: u16) -> Vec<u8> {
    frame[16..18].copy_from_slice(&total_len.to_be_bytes());
    frame
}

#[test]
fn an_ipv4_total_length_smaller_than_the_header_is_counted_not_decoded() {
    // Zero (what a sending host's TSO super-frame shows: no receiver sees
    // one), 10, and 19: one byte short of the 20-byte header.
    for total_len in [0, 10, 19] {
        let frame = with_total_length(tcp_frame(b"CONNECT"), total_len);
        assert_eq!(
            decode(LinkType::Ethernet, &frame, &OPTS),
            Err(DecodeFailure::Ipv4BadTotalLength),
            "total length {total_len}"
        );
    }
}

#[test]
fn an_ipv4_total_length_of_the_header_alone_is_the_smallest_valid() {
    // 20: the header and nothing else; the TCP header is then missing.
    let frame = with_total_length(tcp_frame(b""), 20);
    assert_eq!(
        decode(LinkType::Ethernet, &frame, &OPTS),
        Err(DecodeFailure::TcpTruncated)
    );
    // 40: header and TCP header; the payload bytes beyond it are padding.
    let frame = with_total_length(tcp_frame(b"pad"), 40);
    let d = decode(LinkType::Ethernet, &frame, &OPTS).expect("decodes");
    assert_eq!(d.payload(&frame), b"");
}

#[test]
fn an_ip_length_larger_than_the_frame_on_the_wire_is_counted() {
    let frame = tcp_frame(&[7u8; 100]);
    let ip_len = (frame.len() - 14) as u16;
    let wire = frame.len() as u32;
    // Exactly the frame: valid.
    let exact = with_total_length(frame.clone(), ip_len);
    assert!(decode_frame(LinkType::Ethernet, &exact, wire, &OPTS).is_ok());
    // One byte more than the wire carried: the host drops it.
    let longer = with_total_length(frame.clone(), ip_len + 1);
    assert_eq!(
        decode_frame(LinkType::Ethernet, &longer, wire, &OPTS),
        Err(DecodeFailure::Ipv4BadTotalLength)
    );
    // The same frame cut by the snap length: longer on the wire, decodes.
    assert!(decode_frame(LinkType::Ethernet, &longer[..70], wire + 1, &OPTS).is_ok());
    // Without the wire length, a longer IP length is taken for a cut.
    assert!(decode(LinkType::Ethernet, &longer, &OPTS).is_ok());
}

fn ipv6_tcp_frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv6([0xfd; 16], [0xfe; 16], 64)
        .tcp(40000, 1883, 1000, 64240)
        .write(&mut out, payload)
        .expect("build");
    out
}

#[test]
fn an_ipv6_payload_length_of_zero_before_tcp_or_beyond_the_wire_is_counted() {
    let frame = ipv6_tcp_frame(b"CONNECT");
    let wire = frame.len() as u32;
    assert!(decode_frame(LinkType::Ethernet, &frame, wire, &OPTS).is_ok());
    let mut zero = frame.clone();
    zero[18..20].copy_from_slice(&[0, 0]);
    assert_eq!(
        decode(LinkType::Ethernet, &zero, &OPTS),
        Err(DecodeFailure::Ipv6BadPayloadLength)
    );
    let mut longer = frame.clone();
    let plen = u16::from_be_bytes([frame[18], frame[19]]) + 1;
    longer[18..20].copy_from_slice(&plen.to_be_bytes());
    assert_eq!(
        decode_frame(LinkType::Ethernet, &longer, wire, &OPTS),
        Err(DecodeFailure::Ipv6BadPayloadLength)
    );
    let mut counters = DecodeCounters::default();
    counters.fail(DecodeFailure::Ipv6BadPayloadLength);
    counters.fail(DecodeFailure::Ipv4BadTotalLength);
    assert_eq!(
        counters.failures_by_name(),
        vec![("ipv4.bad_total_length", 1), ("ipv6.bad_payload_length", 1)]
    );
}

#[test]
fn checksums_are_ignored_unless_asked() {
    let mut frame = tcp_frame(b"data");
    let last = frame.len() - 1;
    frame[last] ^= 0xff; // payload changed, TCP checksum now wrong
    assert!(decode(LinkType::Ethernet, &frame, &OPTS).is_ok());
    let strict = DecodeOptions {
        verify_checksums: true,
    };
    assert_eq!(
        decode(LinkType::Ethernet, &frame, &strict),
        Err(DecodeFailure::TcpBadChecksum)
    );
    let good = tcp_frame(b"data");
    assert!(decode(LinkType::Ethernet, &good, &strict).is_ok());
    let mut bad_ip = tcp_frame(b"data");
    bad_ip[14 + 10] ^= 0xff; // IPv4 header checksum
    assert_eq!(
        decode(LinkType::Ethernet, &bad_ip, &strict),
        Err(DecodeFailure::Ipv4BadChecksum)
    );
}

#[test]
fn failure_names_are_unique_and_counted() {
    let mut names: Vec<_> = DecodeFailure::ALL.iter().map(|r| r.name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), DecodeFailure::ALL.len());
    let mut counters = DecodeCounters::default();
    counters.fail(DecodeFailure::TcpTruncated);
    counters.fail(DecodeFailure::TcpTruncated);
    assert_eq!(counters.failures_by_name(), vec![("tcp.truncated", 2)]);
}

const ALL_LINKS: [LinkType; 8] = [
    LinkType::Ethernet,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
    LinkType::RawIp,
    LinkType::Ipv4,
    LinkType::Ipv6,
    LinkType::Null,
    LinkType::Loop,
];

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        for link in ALL_LINKS {
            for verify in [false, true] {
                let options = DecodeOptions { verify_checksums: verify };
                if let Ok(d) = decode(link, &bytes, &options) {
                    // The payload range always lies inside the frame.
                    prop_assert!(d.payload_offset as usize + d.payload_len as usize <= bytes.len());
                }
            }
        }
    }

    #[test]
    fn corrupting_a_real_frame_never_panics(
        at in 0usize..80, value in any::<u8>(), cut in 0usize..80
    ) {
        let mut frame = tcp_frame(b"0123456789");
        if let Some(b) = frame.get_mut(at) { *b = value; }
        frame.truncate(frame.len().saturating_sub(cut));
        let _ = decode(LinkType::Ethernet, &frame, &OPTS);
    }
}
