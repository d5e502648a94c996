//! A fixture capture read for parser tests: each TCP direction rebuilt
//! naively (payloads appended in sequence order from the SYN, retransmitted
//! bytes dropped, anything ahead of the expected sequence number skipped —
//! the fixtures are recorded on a veth pair, where nothing is lost or
//! reordered), the new bytes of each segment in capture order, and UDP
//! datagrams with their frame numbers. The approach of
//! tests/sidedoor_parsers.rs, shared.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use etherparse::{NetSlice, SlicedPacket, TransportSlice};

/// `ip:port`, `[v6]:port`: how the manifests name an endpoint.
pub fn endpoint(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(v4) => format!("{v4}:{port}"),
        IpAddr::V6(v6) => format!("[{v6}]:{port}"),
    }
}

/// New in-order bytes of one TCP direction, as one segment brought them.
pub struct Segment {
    /// Sender endpoint.
    pub src: String,
    /// Receiver endpoint.
    pub dst: String,
    /// The bytes not seen before.
    pub bytes: Vec<u8>,
}

/// One UDP datagram.
pub struct Datagram {
    /// Its frame number in the capture, from 1 (as tshark counts).
    pub frame: u64,
    /// Sender endpoint.
    pub src: String,
    /// Receiver endpoint.
    pub dst: String,
    /// The UDP payload.
    pub payload: Vec<u8>,
}

/// What a capture holds.
pub struct Capture {
    /// Each TCP direction's bytes, keyed "src dst".
    pub streams: BTreeMap<String, Vec<u8>>,
    /// TCP payload in capture order.
    pub segments: Vec<Segment>,
    /// UDP datagrams in capture order.
    pub datagrams: Vec<Datagram>,
    /// Frames read.
    pub frames: u64,
}

impl Capture {
    /// The bytes `src` sent to `dst`; empty when it sent none.
    pub fn stream(&self, src: &str, dst: &str) -> &[u8] {
        self.streams
            .get(&format!("{src} {dst}"))
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// The segments between `a` and `b`, either way, in capture order.
    pub fn conversation<'a>(&'a self, a: &'a str, b: &'a str) -> impl Iterator<Item = &'a Segment> {
        self.segments
            .iter()
            .filter(move |s| (s.src == a && s.dst == b) || (s.src == b && s.dst == a))
    }
}

/// A packet's source and destination addresses, when it is IP.
pub fn addresses(sliced: &SlicedPacket<'_>) -> Option<(IpAddr, IpAddr)> {
    match &sliced.net {
        Some(NetSlice::Ipv4(v4)) => Some((
            IpAddr::V4(v4.header().source_addr()),
            IpAddr::V4(v4.header().destination_addr()),
        )),
        Some(NetSlice::Ipv6(v6)) => Some((
            IpAddr::V6(v6.header().source_addr()),
            IpAddr::V6(v6.header().destination_addr()),
        )),
        _ => None,
    }
}

/// Reads an Ethernet capture.
pub fn read(path: &Path) -> Capture {
    let mut pcap =
        pcap::Capture::from_file(path).unwrap_or_else(|e| panic!("{} opens: {e}", path.display()));
    let mut next_seq: BTreeMap<String, u32> = BTreeMap::new();
    let mut capture = Capture {
        streams: BTreeMap::new(),
        segments: Vec::new(),
        datagrams: Vec::new(),
        frames: 0,
    };
    while let Ok(packet) = pcap.next_packet() {
        capture.frames += 1;
        let sliced = SlicedPacket::from_ethernet(packet.data).expect("decodes");
        let Some((src_ip, dst_ip)) = addresses(&sliced) else {
            continue;
        };
        let tcp = match &sliced.transport {
            Some(TransportSlice::Tcp(tcp)) => tcp,
            Some(TransportSlice::Udp(udp)) => {
                capture.datagrams.push(Datagram {
                    frame: capture.frames,
                    src: endpoint(src_ip, udp.source_port()),
                    dst: endpoint(dst_ip, udp.destination_port()),
                    payload: udp.payload().to_vec(),
                });
                continue;
            }
            _ => continue,
        };
        let src = endpoint(src_ip, tcp.source_port());
        let dst = endpoint(dst_ip, tcp.destination_port());
        let key = format!("{src} {dst}");
        if tcp.syn() {
            next_seq.insert(key, tcp.sequence_number().wrapping_add(1));
            continue;
        }
        let payload = tcp.payload();
        let Some(expected) = next_seq.get_mut(&key) else {
            continue;
        };
        let seq = tcp.sequence_number();
        let behind = expected.wrapping_sub(seq) as usize;
        if payload.is_empty() || seq.wrapping_sub(*expected) < 0x8000_0000 && seq != *expected {
            continue; // empty, or ahead of what is expected
        }
        if behind < payload.len() {
            let new = &payload[behind..];
            capture
                .streams
                .entry(key)
                .or_default()
                .extend_from_slice(new);
            *expected = expected.wrapping_add(new.len() as u32);
            capture.segments.push(Segment {
                src,
                dst,
                bytes: new.to_vec(),
            });
        }
    }
    capture
}
