//! Writes a large, deterministic, synthetic Ethernet capture for the
//! whole-process throughput bench (`bench/throughput.sh`).
//!
//! ```sh
//! cargo run --release --example synth_capture -- OUT.pcap [--packets N] [--devices D] [--seed S]
//! ```
//!
//! The capture is what a sensor on a hospital core switch's SPAN port would
//! see. `--devices` medical devices in 10.0.0.0/8 — imaging modalities,
//! infusion pumps, patient monitors, lab analysers, each with a distinct MAC
//! under its vendor's OUI — of which a seventh sit in another subnet behind a
//! router (their frames carry the router's MAC), a tenth of the rest on
//! tagged VLANs, and an eighth also have IPv6 (ULA) addresses. They talk to
//! servers (PACS, HL7 engine, MQTT broker, DNS, syslog, monitoring, device
//! management) and to external peers behind a firewall.
//!
//! Every flow is a whole conversation with encoded application data: DICOM
//! C-STORE associations on TCP 104 and 11112 (A-ASSOCIATE, P-DATA-TF
//! commands and data sets, release), HL7 v2 ORU/ACK over MLLP on TCP 2575,
//! MQTT 3.1.1 on TCP 1883, TLS on TCP 443, DNS on UDP 53, syslog on UDP 514
//! and ICMP/ICMPv6 echo. TCP flows have handshakes, consistent sequence and
//! acknowledgement numbers, delayed ACKs, and end with FIN (or sometimes
//! RST). Frames range from 60 bytes (padded ACKs) to 1514 bytes (full
//! segments). Around a hundred flows are interleaved at a time; packet time
//! advances by 600 µs per packet on average, so a million packets span about
//! ten minutes.
//!
//! The same arguments give the same bytes: all choices come from a
//! SplitMix64 generator seeded with `--seed`. The file is classic pcap
//! (microsecond timestamps, link type Ethernet). A summary of the mix goes
//! to stderr, and one `key=value` line to stdout.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "an example stops on bad input"
)]

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use etherparse::{
    IpHeaders, IpNumber, Ipv4Header, Ipv6Header, PacketBuilder, TcpHeader, TcpOptionElement, VlanId,
};

/// First packet: 2026-11-29T08:00:00Z.
const START_SECS: u64 = 1_795_939_200;
/// Mean packet-time gap between packets, in microseconds.
const MEAN_GAP_US: u64 = 600;
/// Flows interleaved at any time.
const CONCURRENT_FLOWS: usize = 128;
/// Most packets a flow sends back to back before another flow's turn.
const MAX_BURST: u64 = 6;
/// TCP maximum segment size: full segments make 1514-byte frames.
const MSS: usize = 1460;
/// Shortest Ethernet frame without FCS; shorter frames are padded, as on the wire.
const MIN_FRAME: usize = 60;
/// Maximum data bytes of one DICOM P-DATA-TF PDU (max PDU length 16384).
const DICOM_MAX_PDV_DATA: usize = 16_378;
const SNAPLEN: u32 = 65_535;
const LINKTYPE_ETHERNET: u32 = 1;
/// Devices get host numbers within a /16 per segment.
const MAX_DEVICES: u32 = 65_000;

/// A first-hop router (Cisco HSRP virtual MAC): devices in other subnets.
const ROUTER_MAC: [u8; 6] = [0x00, 0x00, 0x0c, 0x07, 0xac, 0x01];
/// The perimeter firewall: external peers.
const FIREWALL_MAC: [u8; 6] = [0x00, 0x1b, 0x17, 0x00, 0x01, 0x01];
/// Servers' NIC vendor (Dell).
const SERVER_OUI: [u8; 3] = [0x00, 0x06, 0x5b];

const MODALITY_OUIS: [[u8; 3]; 2] = [[0x44, 0x4b, 0x5d], [0x00, 0x0f, 0x14]];
const PUMP_OUIS: [[u8; 3]; 3] = [[0x58, 0x42, 0xe4], [0x9c, 0xc8, 0xae], [0x00, 0x13, 0x38]];
const MONITOR_OUIS: [[u8; 3]; 4] = [
    [0x00, 0x09, 0xfb],
    [0x00, 0x30, 0xe6],
    [0x00, 0xa0, 0x37],
    [0x00, 0xa0, 0x9a],
];
const LAB_OUIS: [[u8; 3]; 2] = [[0x20, 0xe7, 0x91], [0x00, 0x18, 0x65]];

/// Writes a deterministic synthetic hospital-network capture (classic pcap, Ethernet).
#[derive(Debug, Parser)]
#[command(name = "synth_capture")]
struct Args {
    /// The pcap file to write (replaced).
    out: PathBuf,
    /// Packets to write.
    #[arg(long, default_value_t = 1_000_000)]
    packets: u64,
    /// Medical devices on the network.
    #[arg(long, default_value_t = 4_000, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_DEVICES)))]
    devices: u32,
    /// Seed of the generator; the same seed gives the same bytes.
    #[arg(long, default_value_t = 0x6d65_6474_6170)]
    seed: u64,
}

/// SplitMix64: tiny, fast, and the same on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }

    fn pick<T: Copy>(&mut self, weighted: &[(T, u64)]) -> T {
        let total: u64 = weighted.iter().map(|(_, w)| w).sum();
        let mut x = self.below(total);
        for (value, weight) in weighted {
            if x < *weight {
                return *value;
            }
            x -= weight;
        }
        weighted[weighted.len() - 1].0
    }
}

/// Random bytes to stand for pixel data, ciphertext and the like.
struct Filler(Vec<u8>);

impl Filler {
    const LEN: usize = 1 << 16;

    fn new(rng: &mut Rng) -> Filler {
        Filler(
            (0..Self::LEN / 8)
                .flat_map(|_| rng.next().to_le_bytes())
                .collect(),
        )
    }

    fn append(&self, out: &mut Vec<u8>, mut len: usize, rng: &mut Rng) {
        let mut at = rng.index(Self::LEN);
        while len > 0 {
            let n = len.min(Self::LEN - at);
            out.extend_from_slice(&self.0[at..at + n]);
            len -= n;
            at = 0;
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Modality,
    Pump,
    Monitor,
    Lab,
}

#[derive(Clone, Copy, Debug)]
struct Host {
    /// The MAC its frames carry on the monitored segment (a router's when routed).
    mac: [u8; 6],
    v4: [u8; 4],
    v6: Option<[u8; 16]>,
    vlan: Option<u16>,
    ttl: u8,
}

struct Device {
    host: Host,
    role: Role,
    id: u32,
    /// Index into the role's vendor table.
    vendor: usize,
}

struct Pacs {
    host: Host,
    port: u16,
    ae: &'static str,
}

struct Network {
    devices: Vec<Device>,
    pacs: Vec<Pacs>,
    hl7: Vec<Host>,
    mqtt: Vec<Host>,
    dns: Vec<Host>,
    syslog: Host,
    monitoring: Host,
    management: Host,
    external: Vec<Host>,
}

fn ula(segment: u8, host: u32) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[0] = 0xfd;
    a[7] = segment;
    a[12..].copy_from_slice(&host.to_be_bytes());
    a
}

impl Network {
    fn new(devices: u32, rng: &mut Rng) -> Network {
        let server = |n: u8, v4: [u8; 4], v6: bool| Host {
            mac: [SERVER_OUI[0], SERVER_OUI[1], SERVER_OUI[2], 0x10, 0x00, n],
            v4,
            v6: v6.then(|| ula(10, u32::from(v4[2]) << 8 | u32::from(v4[3]))),
            vlan: None,
            ttl: 64,
        };
        let devices = (0..devices)
            .map(|id| {
                let role = match id % 20 {
                    0 | 1 => Role::Modality,
                    2..=11 => Role::Pump,
                    12..=17 => Role::Monitor,
                    _ => Role::Lab,
                };
                let ouis: &[[u8; 3]] = match role {
                    Role::Modality => &MODALITY_OUIS,
                    Role::Pump => &PUMP_OUIS,
                    Role::Monitor => &MONITOR_OUIS,
                    Role::Lab => &LAB_OUIS,
                };
                let vendor = (id as usize / 20) % ouis.len();
                let oui = ouis[vendor];
                // An odd multiplier is a bijection modulo 2^24: distinct NIC parts.
                let nic = id.wrapping_mul(0x9e37_79b1).to_be_bytes();
                let own_mac = [oui[0], oui[1], oui[2], nic[1], nic[2], nic[3]];
                let number = id + 16;
                let (hi, lo) = ((number >> 8) as u8, number as u8);
                let ttl = if role == Role::Modality { 128 } else { 64 };
                let (segment, mac, vlan, ttl) = if id % 7 == 0 {
                    (40, ROUTER_MAC, None, ttl - 1)
                } else if id % 10 == 3 {
                    (30, own_mac, Some(30 + (id % 3) as u16), ttl)
                } else {
                    (20, own_mac, None, ttl)
                };
                Device {
                    host: Host {
                        mac,
                        v4: [10, segment, hi, lo],
                        v6: (id % 8 == 1).then(|| ula(segment, number)),
                        vlan,
                        ttl,
                    },
                    role,
                    id,
                    vendor,
                }
            })
            .collect();
        let pacs = [
            (104, "PACS_A"),
            (104, "PACS_B"),
            (11112, "VNA"),
            (11112, "AI_NODE"),
        ]
        .into_iter()
        .enumerate()
        .map(|(i, (port, ae))| Pacs {
            host: server(1 + i as u8, [10, 10, 1, 10 + i as u8], false),
            port,
            ae,
        })
        .collect();
        const PREFIXES: [[u8; 2]; 5] = [[20, 50], [52, 28], [18, 194], [104, 18], [34, 107]];
        let external = (0..200u32)
            .map(|i| {
                let prefix = PREFIXES[i as usize % PREFIXES.len()];
                let (c, d) = (rng.below(256) as u8, 1 + rng.below(254) as u8);
                let v6 = (i % 4 == 0).then(|| {
                    let mut a = [0u8; 16];
                    a[..4].copy_from_slice(&[0x2a, 0x05, 0xd0, 0x14]);
                    a[12..].copy_from_slice(&rng.next().to_be_bytes()[..4]);
                    a
                });
                Host {
                    mac: FIREWALL_MAC,
                    v4: [prefix[0], prefix[1], c, d],
                    v6,
                    vlan: None,
                    ttl: 49,
                }
            })
            .collect();
        Network {
            devices,
            pacs,
            hl7: vec![
                server(5, [10, 10, 2, 10], false),
                server(6, [10, 10, 2, 11], false),
            ],
            mqtt: vec![
                server(7, [10, 10, 3, 10], true),
                server(8, [10, 10, 3, 11], true),
            ],
            dns: vec![
                server(9, [10, 10, 0, 53], true),
                server(10, [10, 10, 0, 54], true),
            ],
            syslog: server(11, [10, 10, 0, 14], false),
            monitoring: server(12, [10, 10, 0, 20], true),
            management: server(13, [10, 10, 4, 10], true),
            external,
        }
    }
}

/// What a flow carries; also the rows of the summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Dicom,
    Hl7,
    Mqtt,
    Https,
    Dns,
    Syslog,
    Icmp,
}

const KINDS: [Kind; 7] = [
    Kind::Dicom,
    Kind::Hl7,
    Kind::Mqtt,
    Kind::Https,
    Kind::Dns,
    Kind::Syslog,
    Kind::Icmp,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transport {
    Tcp,
    Udp,
    Icmp,
}

const SYN: u8 = 1;
const ACK: u8 = 2;
const PSH: u8 = 4;
const FIN: u8 = 8;
const RST: u8 = 16;

/// One packet of a flow's script: who sends it, TCP flags, and its payload
/// as a range of the sender's stream.
#[derive(Clone, Copy, Debug)]
struct Step {
    from_server: bool,
    flags: u8,
    off: u32,
    len: u32,
}

#[derive(Clone, Copy, Debug)]
struct End {
    mac: [u8; 6],
    v4: [u8; 4],
    v6: [u8; 16],
    port: u16,
    ttl: u8,
}

/// A conversation, scripted in full when it starts, emitted step by step.
struct Flow {
    kind: Kind,
    transport: Transport,
    ends: [End; 2],
    v6: bool,
    vlan: Option<u16>,
    /// Application bytes each side sends: client, server.
    streams: [Vec<u8>; 2],
    steps: Vec<Step>,
    next: usize,
    isn: [u32; 2],
    /// Sequence space used so far (data, SYN and FIN).
    sent: [u32; 2],
    ip_id: [u16; 2],
    icmp_id: u16,
}

impl Flow {
    fn new(
        kind: Kind,
        transport: Transport,
        (client, client_port): (&Host, u16),
        (server, server_port): (&Host, u16),
        try_v6: bool,
        rng: &mut Rng,
    ) -> Flow {
        let v6 = try_v6 && client.v6.is_some() && server.v6.is_some();
        let end = |h: &Host, port| End {
            mac: h.mac,
            v4: h.v4,
            v6: h.v6.unwrap_or_default(),
            port,
            ttl: h.ttl,
        };
        Flow {
            kind,
            transport,
            ends: [end(client, client_port), end(server, server_port)],
            v6,
            vlan: client.vlan.or(server.vlan),
            streams: [Vec::new(), Vec::new()],
            steps: Vec::new(),
            next: 0,
            isn: [rng.next() as u32, rng.next() as u32],
            sent: [0, 0],
            ip_id: [rng.next() as u16, rng.next() as u16],
            icmp_id: rng.next() as u16,
        }
    }

    fn done(&self) -> bool {
        self.next >= self.steps.len()
    }

    fn push(&mut self, from_server: bool, flags: u8, off: usize, len: usize) {
        self.steps.push(Step {
            from_server,
            flags,
            off: off as u32,
            len: len as u32,
        });
    }

    fn handshake(&mut self) {
        self.push(false, SYN, 0, 0);
        self.push(true, SYN | ACK, 0, 0);
        self.push(false, ACK, 0, 0);
    }

    fn ack(&mut self, from_server: bool) {
        self.push(from_server, ACK, 0, 0);
    }

    /// Segments what was appended to a side's stream since `start`, with the
    /// receiver's ACK after every second full segment.
    fn segment_from(&mut self, from_server: bool, start: usize) {
        let end = self.streams[usize::from(from_server)].len();
        let mut off = start;
        let mut segments = 0;
        while off < end {
            let len = MSS.min(end - off);
            let last = off + len == end;
            self.push(from_server, ACK | if last { PSH } else { 0 }, off, len);
            off += len;
            segments += 1;
            if segments % 2 == 0 && !last {
                self.ack(!from_server);
            }
        }
    }

    /// One application message over TCP.
    fn message(&mut self, from_server: bool, bytes: &[u8]) {
        let stream = &mut self.streams[usize::from(from_server)];
        let start = stream.len();
        stream.extend_from_slice(bytes);
        self.segment_from(from_server, start);
    }

    /// One UDP datagram or ICMP echo.
    fn datagram(&mut self, from_server: bool, bytes: &[u8]) {
        let stream = &mut self.streams[usize::from(from_server)];
        let start = stream.len();
        stream.extend_from_slice(bytes);
        self.push(from_server, 0, start, bytes.len());
    }

    fn close(&mut self, rng: &mut Rng) {
        if rng.percent(4) {
            self.push(false, RST | ACK, 0, 0);
            return;
        }
        let first = rng.percent(30);
        self.push(first, FIN | ACK, 0, 0);
        self.push(!first, FIN | ACK, 0, 0);
        self.push(first, ACK, 0, 0);
    }

    /// Writes the next packet's frame into `out`.
    fn emit(&mut self, out: &mut Vec<u8>) -> io::Result<Step> {
        let step = self.steps[self.next];
        self.next += 1;
        let d = usize::from(step.from_server);
        let (src, dst) = (self.ends[d], self.ends[1 - d]);
        let ip = if self.v6 {
            IpHeaders::Ipv6(
                Ipv6Header {
                    hop_limit: src.ttl,
                    source: src.v6,
                    destination: dst.v6,
                    ..Default::default()
                },
                Default::default(),
            )
        } else {
            let mut header = Ipv4Header::new(0, src.ttl, IpNumber::TCP, src.v4, dst.v4)
                .map_err(io::Error::other)?;
            header.identification = self.ip_id[d];
            header.dont_fragment = self.transport == Transport::Tcp;
            self.ip_id[d] = self.ip_id[d].wrapping_add(1);
            IpHeaders::Ipv4(header, Default::default())
        };
        let eth = PacketBuilder::ethernet2(src.mac, dst.mac);
        let builder = match self.vlan {
            Some(vid) => eth
                .single_vlan(VlanId::try_new(vid).map_err(io::Error::other)?)
                .ip(ip),
            None => eth.ip(ip),
        };
        let start = step.off as usize;
        let payload = &self.streams[d][start..start + step.len as usize];
        out.clear();
        match self.transport {
            Transport::Tcp => {
                let o = 1 - d;
                let mut tcp = TcpHeader::new(
                    src.port,
                    dst.port,
                    self.isn[d].wrapping_add(self.sent[d]),
                    if step.from_server { 65_160 } else { 64_240 },
                );
                tcp.syn = step.flags & SYN != 0;
                tcp.fin = step.flags & FIN != 0;
                tcp.rst = step.flags & RST != 0;
                tcp.psh = step.flags & PSH != 0;
                tcp.ack = step.flags & ACK != 0;
                if tcp.ack {
                    tcp.acknowledgment_number = self.isn[o].wrapping_add(self.sent[o]);
                }
                if tcp.syn {
                    tcp.set_options(&[
                        TcpOptionElement::MaximumSegmentSize(MSS as u16),
                        TcpOptionElement::Noop,
                        TcpOptionElement::Noop,
                        TcpOptionElement::SelectiveAcknowledgementPermitted,
                    ])
                    .map_err(io::Error::other)?;
                }
                self.sent[d] = self.sent[d]
                    .wrapping_add(step.len)
                    .wrapping_add(u32::from(tcp.syn) + u32::from(tcp.fin));
                builder.tcp_header(tcp).write(out, payload)
            }
            Transport::Udp => builder.udp(src.port, dst.port).write(out, payload),
            Transport::Icmp => {
                let seq = (self.next / 2) as u16;
                match (self.v6, step.from_server) {
                    (false, false) => builder
                        .icmpv4_echo_request(self.icmp_id, seq)
                        .write(out, payload),
                    (false, true) => builder
                        .icmpv4_echo_reply(self.icmp_id, seq)
                        .write(out, payload),
                    (true, false) => builder
                        .icmpv6_echo_request(self.icmp_id, seq)
                        .write(out, payload),
                    (true, true) => builder
                        .icmpv6_echo_reply(self.icmp_id, seq)
                        .write(out, payload),
                }
            }
        }
        .map_err(io::Error::other)?;
        if out.len() < MIN_FRAME {
            out.resize(MIN_FRAME, 0);
        }
        Ok(step)
    }
}

fn ephemeral(rng: &mut Rng) -> u16 {
    32_768 + rng.below(28_232) as u16
}

// ---- DICOM upper layer (PS3.8) and data sets (PS3.5, implicit VR little endian) ----

const TS_EXPLICIT_LE: &[u8] = b"1.2.840.10008.1.2.1";
const TS_IMPLICIT_LE: &[u8] = b"1.2.840.10008.1.2";

fn pdu(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 6);
    out.extend_from_slice(&[kind, 0]);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

fn item(out: &mut Vec<u8>, kind: u8, value: &[u8]) {
    out.extend_from_slice(&[kind, 0]);
    out.extend_from_slice(&(value.len() as u16).to_be_bytes());
    out.extend_from_slice(value);
}

fn ae_title(title: &str) -> [u8; 16] {
    let mut out = [b' '; 16];
    let n = title.len().min(16);
    out[..n].copy_from_slice(&title.as_bytes()[..n]);
    out
}

/// A-ASSOCIATE-RQ (`accept` false) or A-ASSOCIATE-AC for one presentation context.
fn association(
    accept: bool,
    called: &str,
    calling: &str,
    sop_class: &str,
    implementation: (&str, &str),
) -> Vec<u8> {
    let mut body = vec![0, 1, 0, 0];
    body.extend_from_slice(&ae_title(called));
    body.extend_from_slice(&ae_title(calling));
    body.extend_from_slice(&[0; 32]);
    item(&mut body, 0x10, b"1.2.840.10008.3.1.1.1");
    let mut context = vec![1, 0, 0, 0];
    if accept {
        // The data sets below are implicit VR little endian.
        item(&mut context, 0x40, TS_IMPLICIT_LE);
    } else {
        item(&mut context, 0x30, sop_class.as_bytes());
        item(&mut context, 0x40, TS_EXPLICIT_LE);
        item(&mut context, 0x40, TS_IMPLICIT_LE);
    }
    item(&mut body, if accept { 0x21 } else { 0x20 }, &context);
    let mut user = Vec::new();
    item(&mut user, 0x51, &16_384u32.to_be_bytes());
    item(&mut user, 0x52, implementation.0.as_bytes());
    item(&mut user, 0x55, implementation.1.as_bytes());
    item(&mut body, 0x50, &user);
    pdu(if accept { 0x02 } else { 0x01 }, &body)
}

/// One data element, implicit VR little endian, padded to even length.
fn element(out: &mut Vec<u8>, group: u16, elem: u16, value: &[u8], pad: u8) {
    out.extend_from_slice(&group.to_le_bytes());
    out.extend_from_slice(&elem.to_le_bytes());
    let odd = value.len() % 2;
    out.extend_from_slice(&((value.len() + odd) as u32).to_le_bytes());
    out.extend_from_slice(value);
    if odd == 1 {
        out.push(pad);
    }
}

/// A command set (group 0000 with its group length) in one P-DATA-TF PDU.
fn command_pdu(elements: &[(u16, &[u8])]) -> Vec<u8> {
    let mut set = Vec::new();
    for (elem, value) in elements {
        element(&mut set, 0, *elem, value, 0);
    }
    let mut command = Vec::with_capacity(set.len() + 12);
    element(&mut command, 0, 0, &(set.len() as u32).to_le_bytes(), 0);
    command.extend_from_slice(&set);
    let mut body = Vec::with_capacity(command.len() + 6);
    body.extend_from_slice(&(command.len() as u32 + 2).to_be_bytes());
    body.extend_from_slice(&[1, 0x03]);
    body.extend_from_slice(&command);
    pdu(0x04, &body)
}

struct Modality {
    sop_class: &'static str,
    code: &'static [u8],
    manufacturer: &'static [u8],
    model: &'static [u8],
    software: &'static [u8],
    implementation: (&'static str, &'static str),
    /// Rows, columns, bytes per pixel.
    matrix: (u16, u16, u16),
}

const MODALITIES: [Modality; 3] = [
    Modality {
        sop_class: "1.2.840.10008.5.1.4.1.1.2",
        code: b"CT",
        manufacturer: b"GE MEDICAL SYSTEMS",
        model: b"Revolution CT",
        software: b"revo_ct_22mw.42",
        implementation: ("1.2.840.113619.6.374", "GE_RCT_22"),
        matrix: (512, 512, 2),
    },
    Modality {
        sop_class: "1.2.840.10008.5.1.4.1.1.4",
        code: b"MR",
        manufacturer: b"GE MEDICAL SYSTEMS",
        model: b"SIGNA Premier",
        software: b"30\\LX\\MR Software release:RX30.1",
        implementation: ("1.2.840.113619.6.374", "GE_MR_30"),
        matrix: (256, 256, 2),
    },
    Modality {
        sop_class: "1.2.840.10008.5.1.4.1.1.6.1",
        code: b"US",
        manufacturer: b"Mindray",
        model: b"Resona 7",
        software: b"V2.0.1",
        implementation: ("1.2.156.112536.1.2.1", "MINDRAY_V2"),
        matrix: (480, 640, 1),
    },
];

/// One image's data set, as a run of P-DATA-TF PDUs, appended to `out`.
fn image_pdus(
    out: &mut Vec<u8>,
    m: &Modality,
    sop_instance: &[u8],
    filler: &Filler,
    rng: &mut Rng,
) {
    let (rows, cols, bytes) = m.matrix;
    let pixels = usize::from(rows) * usize::from(cols) * usize::from(bytes);
    let mut header = Vec::with_capacity(512);
    element(&mut header, 0x0008, 0x0016, m.sop_class.as_bytes(), 0);
    element(&mut header, 0x0008, 0x0018, sop_instance, 0);
    element(&mut header, 0x0008, 0x0060, m.code, b' ');
    element(&mut header, 0x0008, 0x0070, m.manufacturer, b' ');
    element(&mut header, 0x0008, 0x1090, m.model, b' ');
    element(&mut header, 0x0010, 0x0010, b"SYNTHETIC^TEST", b' ');
    element(&mut header, 0x0010, 0x0020, b"SYN0000001", b' ');
    element(&mut header, 0x0018, 0x1020, m.software, b' ');
    element(&mut header, 0x0028, 0x0010, &rows.to_le_bytes(), 0);
    element(&mut header, 0x0028, 0x0011, &cols.to_le_bytes(), 0);
    element(&mut header, 0x0028, 0x0100, &(bytes * 8).to_le_bytes(), 0);
    header.extend_from_slice(&0x7fe0u16.to_le_bytes());
    header.extend_from_slice(&0x0010u16.to_le_bytes());
    header.extend_from_slice(&(pixels as u32).to_le_bytes());
    let total = header.len() + pixels;
    let mut done = 0;
    while done < total {
        let n = DICOM_MAX_PDV_DATA.min(total - done);
        let last = done + n == total;
        out.extend_from_slice(&[0x04, 0]);
        out.extend_from_slice(&(n as u32 + 6).to_be_bytes());
        out.extend_from_slice(&(n as u32 + 2).to_be_bytes());
        out.extend_from_slice(&[1, if last { 0x02 } else { 0x00 }]);
        let from_header = header.len().saturating_sub(done).min(n);
        if from_header > 0 {
            out.extend_from_slice(&header[done..done + from_header]);
        }
        filler.append(out, n - from_header, rng);
        done += n;
    }
}

fn dicom_flow(net: &Network, dev: &Device, filler: &Filler, rng: &mut Rng) -> Flow {
    let pacs = &net.pacs[rng.index(net.pacs.len())];
    let m = &MODALITIES[if dev.vendor == 0 { rng.index(2) } else { 2 }];
    let mut flow = Flow::new(
        Kind::Dicom,
        Transport::Tcp,
        (&dev.host, ephemeral(rng)),
        (&pacs.host, pacs.port),
        false,
        rng,
    );
    let calling = format!(
        "{}{:05}",
        std::str::from_utf8(m.code).unwrap_or("OT"),
        dev.id
    );
    flow.handshake();
    flow.message(
        false,
        &association(false, pacs.ae, &calling, m.sop_class, m.implementation),
    );
    flow.message(
        true,
        &association(
            true,
            pacs.ae,
            &calling,
            m.sop_class,
            ("1.2.826.0.1.3680043.9.7433.1", "PACS_1.0"),
        ),
    );
    for message_id in 1..=rng.range(1, 2) as u16 {
        let instance = format!("2.25.{}", rng.next());
        flow.message(
            false,
            &command_pdu(&[
                (0x0002, m.sop_class.as_bytes()),
                (0x0100, &1u16.to_le_bytes()),
                (0x0110, &message_id.to_le_bytes()),
                (0x0700, &0u16.to_le_bytes()),
                (0x0800, &0u16.to_le_bytes()),
                (0x1000, instance.as_bytes()),
            ]),
        );
        let start = flow.streams[0].len();
        image_pdus(&mut flow.streams[0], m, instance.as_bytes(), filler, rng);
        flow.segment_from(false, start);
        flow.message(
            true,
            &command_pdu(&[
                (0x0002, m.sop_class.as_bytes()),
                (0x0100, &0x8001u16.to_le_bytes()),
                (0x0120, &message_id.to_le_bytes()),
                (0x0800, &0x0101u16.to_le_bytes()),
                (0x0900, &0u16.to_le_bytes()),
                (0x1000, instance.as_bytes()),
            ]),
        );
    }
    flow.message(false, &pdu(0x05, &[0; 4]));
    flow.message(true, &pdu(0x06, &[0; 4]));
    flow.close(rng);
    flow
}

// ---- HL7 v2 over MLLP ----

const OBSERVATIONS: [(&str, &str, &str, u64, u64); 6] = [
    ("150456", "MDC_PULS_OXIM_SAT_O2", "%", 88, 100),
    ("147842", "MDC_ECG_HEART_RATE", "/min", 45, 140),
    ("150033", "MDC_PRESS_BLD_ART_SYS", "mm[Hg]", 90, 170),
    ("150034", "MDC_PRESS_BLD_ART_DIA", "mm[Hg]", 50, 100),
    ("151562", "MDC_RESP_RATE", "/min", 8, 30),
    ("150344", "MDC_TEMP", "Cel", 35, 40),
];

fn mllp(message: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 3);
    out.push(0x0b);
    out.extend_from_slice(message.as_bytes());
    out.extend_from_slice(&[0x1c, 0x0d]);
    out
}

fn hl7_flow(net: &Network, dev: &Device, rng: &mut Rng) -> Flow {
    let server = &net.hl7[rng.index(net.hl7.len())];
    let mut flow = Flow::new(
        Kind::Hl7,
        Transport::Tcp,
        (&dev.host, ephemeral(rng)),
        (server, 2575),
        false,
        rng,
    );
    let app = match (dev.role, dev.vendor) {
        (Role::Lab, _) => "ATELLICA",
        (_, 0) => "PHILIPS_PIC",
        (_, 1) => "DRAEGER_ICS",
        (_, 2) => "MINDRAY_EGW",
        _ => "NK_PRIMEGW",
    };
    let facility = format!("WARD{}", dev.id % 40);
    flow.handshake();
    for _ in 0..rng.range(1, 6) {
        let control = format!("{}{:08}", dev.id, rng.below(100_000_000));
        let minute = rng.below(60);
        let mut msg = format!(
            "MSH|^~\\&|{app}|{facility}|HIS|HOSP|202611290{}{minute:02}00||ORU^R01^ORU_R01|{control}|P|2.5.1\r\
             PID|1||SYN{:06}^^^HOSP^MR||SYNTHETIC^PATIENT||19700101|U\r\
             OBR|1||{control}|0002-4182^MDC_DEV_MON_PHYSIO^MDC|||202611290800\r",
            8 + rng.below(2),
            dev.id
        );
        for i in 1..=rng.range(3, 30) {
            let (code, name, unit, lo, hi) = OBSERVATIONS[rng.index(OBSERVATIONS.len())];
            msg.push_str(&format!(
                "OBX|{i}|NM|{code}^{name}^MDC|1.{i}|{}|{unit}^{unit}^UCUM|||||F\r",
                rng.range(lo, hi)
            ));
        }
        flow.message(false, &mllp(&msg));
        let ack = format!(
            "MSH|^~\\&|HIS|HOSP|{app}|{facility}|202611290800||ACK^R01^ACK|A{control}|P|2.5.1\r\
             MSA|AA|{control}\r"
        );
        flow.message(true, &mllp(&ack));
        flow.ack(false);
    }
    flow.close(rng);
    flow
}

// ---- MQTT 3.1.1 ----

fn mqtt_packet(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    let mut len = body.len();
    loop {
        let mut byte = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if len == 0 {
            break;
        }
    }
    out.extend_from_slice(body);
    out
}

fn mqtt_string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn mqtt_flow(net: &Network, dev: &Device, rng: &mut Rng) -> Flow {
    let broker = &net.mqtt[rng.index(net.mqtt.len())];
    let mut flow = Flow::new(
        Kind::Mqtt,
        Transport::Tcp,
        (&dev.host, ephemeral(rng)),
        (broker, 1883),
        rng.percent(50),
        rng,
    );
    let client_id = format!("pump-{:05}", dev.id);
    let topic = format!("ward/{}/pump/{}/status", dev.id % 40, dev.id);
    flow.handshake();
    let mut connect = Vec::new();
    mqtt_string(&mut connect, "MQTT");
    connect.extend_from_slice(&[4, 0xc2, 0, 60]);
    mqtt_string(&mut connect, &client_id);
    mqtt_string(&mut connect, "pump");
    mqtt_string(&mut connect, &format!("synthetic-{:016x}", rng.next()));
    flow.message(false, &mqtt_packet(0x10, &connect));
    flow.message(true, &mqtt_packet(0x20, &[0, 0]));
    let mut subscribe = vec![0, 1];
    mqtt_string(
        &mut subscribe,
        &format!("ward/{}/pump/{}/cmd", dev.id % 40, dev.id),
    );
    subscribe.push(1);
    flow.message(false, &mqtt_packet(0x82, &subscribe));
    flow.message(true, &mqtt_packet(0x90, &[0, 1, 1]));
    let mut packet_id = 2u16;
    for _ in 0..rng.range(2, 24) {
        match rng.below(20) {
            0 => {
                flow.message(false, &mqtt_packet(0xc0, &[]));
                flow.message(true, &mqtt_packet(0xd0, &[]));
            }
            1 => {
                let mut publish = Vec::new();
                mqtt_string(
                    &mut publish,
                    &format!("ward/{}/pump/{}/cmd", dev.id % 40, dev.id),
                );
                publish.extend_from_slice(br#"{"cmd":"get_status"}"#);
                flow.message(true, &mqtt_packet(0x30, &publish));
                flow.ack(false);
            }
            n => {
                let qos1 = n < 8;
                let mut publish = Vec::new();
                mqtt_string(&mut publish, &topic);
                if qos1 {
                    publish.extend_from_slice(&packet_id.to_be_bytes());
                }
                let state = ["infusing", "paused", "kvo", "complete"][rng.index(4)];
                let body = format!(
                    r#"{{"ch":"{}","state":"{state}","rate_ml_h":{}.{},"vtbi_ml":{},"drug":"SYN-{:03}","seq":{}}}"#,
                    ["A", "B"][rng.index(2)],
                    rng.range(1, 999),
                    rng.below(10),
                    rng.range(10, 1000),
                    rng.below(200),
                    rng.next() % 100_000
                );
                publish.extend_from_slice(body.as_bytes());
                flow.message(
                    false,
                    &mqtt_packet(if qos1 { 0x32 } else { 0x30 }, &publish),
                );
                if qos1 {
                    flow.message(true, &mqtt_packet(0x40, &packet_id.to_be_bytes()));
                    packet_id = packet_id.wrapping_add(1).max(1);
                } else if rng.percent(50) {
                    flow.ack(true);
                }
            }
        }
    }
    flow.message(false, &mqtt_packet(0xe0, &[]));
    flow.close(rng);
    flow
}

// ---- TLS on 443 ----

fn tls_record(out: &mut Vec<u8>, kind: u8, len: usize, filler: &Filler, rng: &mut Rng) {
    out.extend_from_slice(&[kind, 3, 3]);
    out.extend_from_slice(&(len as u16).to_be_bytes());
    filler.append(out, len, rng);
}

/// Application data of `len` bytes in records of at most 16 KiB.
fn tls_data(len: usize, filler: &Filler, rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 64);
    let mut left = len;
    while left > 0 {
        let n = left.min(16_384);
        tls_record(&mut out, 0x17, n, filler, rng);
        left -= n;
    }
    out
}

fn https_flow(net: &Network, dev: &Device, filler: &Filler, rng: &mut Rng) -> Flow {
    let internal = dev.role == Role::Pump && rng.percent(70);
    let server = if internal {
        &net.management
    } else {
        &net.external[rng.index(net.external.len())]
    };
    let mut flow = Flow::new(
        Kind::Https,
        Transport::Tcp,
        (&dev.host, ephemeral(rng)),
        (server, 443),
        rng.percent(50),
        rng,
    );
    flow.handshake();
    let mut hello = Vec::with_capacity(517);
    hello.extend_from_slice(&[0x16, 3, 1, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 3, 3]);
    let rest = 517 - hello.len();
    filler.append(&mut hello, rest, rng);
    flow.message(false, &hello);
    let mut server_hello = Vec::new();
    tls_record(
        &mut server_hello,
        0x16,
        rng.range(2_800, 4_500) as usize,
        filler,
        rng,
    );
    flow.message(true, &server_hello);
    flow.ack(false);
    let mut finished = Vec::new();
    tls_record(&mut finished, 0x16, 70, filler, rng);
    finished.extend_from_slice(&[0x14, 3, 3, 0, 1, 1]);
    tls_record(&mut finished, 0x16, 40, filler, rng);
    flow.message(false, &finished);
    let mut finished = vec![0x14, 3, 3, 0, 1, 1];
    tls_record(&mut finished, 0x16, 40, filler, rng);
    flow.message(true, &finished);
    for _ in 0..rng.range(1, 6) {
        flow.message(false, &tls_data(rng.range(100, 800) as usize, filler, rng));
        let response = if rng.percent(70) {
            rng.range(200, 1_500)
        } else {
            rng.range(5_000, 60_000)
        };
        flow.message(true, &tls_data(response as usize, filler, rng));
        flow.ack(false);
    }
    let mut alert = Vec::new();
    tls_record(&mut alert, 0x15, 26, filler, rng);
    flow.message(false, &alert);
    flow.close(rng);
    flow
}

// ---- UDP and ICMP ----

fn dns_name(out: &mut Vec<u8>, name: &str) {
    for label in name.split('.') {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
}

fn dns_flow(net: &Network, dev: &Device, rng: &mut Rng) -> Flow {
    let server = &net.dns[rng.index(net.dns.len())];
    let mut flow = Flow::new(
        Kind::Dns,
        Transport::Udp,
        (&dev.host, ephemeral(rng)),
        (server, 53),
        rng.percent(50),
        rng,
    );
    let names: &[&str] = match dev.role {
        Role::Modality => &[
            "pacs.hosp.example",
            "update.vendor.example",
            "ntp.hosp.example",
        ],
        Role::Pump => &["mqtt.hosp.example", "mgmt.hosp.example", "ntp.hosp.example"],
        Role::Monitor | Role::Lab => &["hl7.hosp.example", "ntp.hosp.example"],
    };
    let name = names[rng.index(names.len())];
    let qtypes: &[u16] = if dev.host.v6.is_some() {
        &[1, 28]
    } else {
        &[1]
    };
    for &qtype in qtypes {
        let id = rng.next() as u16;
        let mut query = Vec::with_capacity(64);
        query.extend_from_slice(&id.to_be_bytes());
        query.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
        dns_name(&mut query, name);
        query.extend_from_slice(&qtype.to_be_bytes());
        query.extend_from_slice(&[0, 1]);
        flow.datagram(false, &query);
        let mut answer = query.clone();
        let nxdomain = rng.percent(3);
        answer[2..4].copy_from_slice(if nxdomain {
            &[0x81, 0x83]
        } else {
            &[0x81, 0x80]
        });
        if !nxdomain {
            answer[7] = 1;
            answer.extend_from_slice(&[0xc0, 0x0c]);
            answer.extend_from_slice(&qtype.to_be_bytes());
            answer.extend_from_slice(&[0, 1, 0, 0, 0x0e, 0x10]);
            if qtype == 1 {
                answer.extend_from_slice(&[0, 4, 10, 10, rng.below(5) as u8, 10]);
            } else {
                answer.extend_from_slice(&[0, 16]);
                answer.extend_from_slice(&ula(10, rng.below(1 << 16) as u32));
            }
        }
        flow.datagram(true, &answer);
    }
    flow
}

fn syslog_flow(net: &Network, dev: &Device, rng: &mut Rng) -> Flow {
    let mut flow = Flow::new(
        Kind::Syslog,
        Transport::Udp,
        (&dev.host, 514),
        (&net.syslog, 514),
        false,
        rng,
    );
    let (host, app) = match dev.role {
        Role::Modality => ("mod", "acqsvc"),
        Role::Pump => ("pump", "infusiond"),
        Role::Monitor => ("mon", "alarmmgr"),
        Role::Lab => ("lab", "analyzer"),
    };
    const TEXTS: [&str; 5] = [
        "service heartbeat ok",
        "configuration check passed",
        "user session opened for service account",
        "network link state up speed 100Mb/s full duplex",
        "battery charge level reported",
    ];
    for _ in 0..rng.range(1, 4) {
        let mut msg = format!(
            "<{}>Nov 29 08:{:02}:{:02} {host}-{:05} {app}[{}]: {}",
            [134, 133, 131, 14][rng.index(4)],
            rng.below(10),
            rng.below(60),
            dev.id,
            rng.range(100, 9_999),
            TEXTS[rng.index(TEXTS.len())]
        );
        let target = rng.range(60, 600) as usize;
        let mut k = 0;
        while msg.len() < target {
            msg.push_str(&format!(" k{k}={}", rng.below(1_000_000)));
            k += 1;
        }
        flow.datagram(false, msg.as_bytes());
    }
    flow
}

fn icmp_flow(net: &Network, dev: &Device, rng: &mut Rng) -> Flow {
    let mut flow = Flow::new(
        Kind::Icmp,
        Transport::Icmp,
        (&net.monitoring, 0),
        (&dev.host, 0),
        rng.percent(30),
        rng,
    );
    // As Linux ping: 8 bytes of time, then 0x10, 0x11, …
    let mut payload = [0u8; 56];
    for (i, b) in payload.iter_mut().enumerate().skip(8) {
        *b = i as u8 + 8;
    }
    for _ in 0..rng.range(1, 3) {
        payload[..8].copy_from_slice(&rng.next().to_le_bytes());
        flow.datagram(false, &payload);
        flow.datagram(true, &payload);
    }
    flow
}

fn new_flow(net: &Network, filler: &Filler, rng: &mut Rng) -> Flow {
    let dev = &net.devices[rng.index(net.devices.len())];
    let kinds: &[(Kind, u64)] = match dev.role {
        Role::Modality => &[
            (Kind::Dicom, 10),
            (Kind::Dns, 30),
            (Kind::Https, 20),
            (Kind::Syslog, 20),
            (Kind::Icmp, 20),
        ],
        Role::Pump => &[
            (Kind::Mqtt, 40),
            (Kind::Dns, 25),
            (Kind::Https, 15),
            (Kind::Syslog, 5),
            (Kind::Icmp, 15),
        ],
        Role::Monitor => &[
            (Kind::Hl7, 40),
            (Kind::Dns, 25),
            (Kind::Syslog, 15),
            (Kind::Icmp, 20),
        ],
        Role::Lab => &[
            (Kind::Hl7, 50),
            (Kind::Dns, 25),
            (Kind::Syslog, 10),
            (Kind::Icmp, 15),
        ],
    };
    match rng.pick(kinds) {
        Kind::Dicom => dicom_flow(net, dev, filler, rng),
        Kind::Hl7 => hl7_flow(net, dev, rng),
        Kind::Mqtt => mqtt_flow(net, dev, rng),
        Kind::Https => https_flow(net, dev, filler, rng),
        Kind::Dns => dns_flow(net, dev, rng),
        Kind::Syslog => syslog_flow(net, dev, rng),
        Kind::Icmp => icmp_flow(net, dev, rng),
    }
}

#[derive(Default)]
struct Tally {
    packets: u64,
    bytes: u64,
    flows: u64,
}

#[derive(Default)]
struct Summary {
    by_kind: [Tally; KINDS.len()],
    ipv6: u64,
    vlan: u64,
    /// Frames of up to 64, 128, 512, 1023 and 1514 bytes.
    sizes: [u64; 5],
}

fn write_global_header(out: &mut impl Write) -> io::Result<()> {
    out.write_all(&0xa1b2_c3d4u32.to_le_bytes())?;
    out.write_all(&2u16.to_le_bytes())?;
    out.write_all(&4u16.to_le_bytes())?;
    out.write_all(&0i32.to_le_bytes())?;
    out.write_all(&0u32.to_le_bytes())?;
    out.write_all(&SNAPLEN.to_le_bytes())?;
    out.write_all(&LINKTYPE_ETHERNET.to_le_bytes())
}

fn write_record(out: &mut impl Write, ts_us: u64, frame: &[u8]) -> io::Result<()> {
    let len = frame.len() as u32;
    out.write_all(&((ts_us / 1_000_000) as u32).to_le_bytes())?;
    out.write_all(&((ts_us % 1_000_000) as u32).to_le_bytes())?;
    out.write_all(&len.to_le_bytes())?;
    out.write_all(&len.to_le_bytes())?;
    out.write_all(frame)
}

fn generate(args: &Args, out: &mut impl Write) -> io::Result<Summary> {
    let mut rng = Rng(args.seed);
    let filler = Filler::new(&mut rng);
    let net = Network::new(args.devices, &mut rng);
    let mut summary = Summary::default();
    let mut flows: Vec<Flow> = Vec::with_capacity(CONCURRENT_FLOWS);
    for _ in 0..CONCURRENT_FLOWS {
        let flow = new_flow(&net, &filler, &mut rng);
        summary.by_kind[flow.kind as usize].flows += 1;
        flows.push(flow);
    }
    write_global_header(out)?;
    let mut frame = Vec::with_capacity(2048);
    let mut ts_us = START_SECS * 1_000_000;
    let mut written = 0u64;
    while written < args.packets {
        let slot = rng.index(flows.len());
        let left = (flows[slot].steps.len() - flows[slot].next) as u64;
        let burst = rng
            .range(1, MAX_BURST)
            .min(left)
            .min(args.packets - written);
        // The time of `burst` packets passes before this flow's turn.
        ts_us += rng.range(1, 2 * MEAN_GAP_US * burst - 1);
        for _ in 0..burst {
            let step = flows[slot].emit(&mut frame)?;
            write_record(out, ts_us, &frame)?;
            written += 1;
            let flow = &flows[slot];
            let tally = &mut summary.by_kind[flow.kind as usize];
            tally.packets += 1;
            tally.bytes += frame.len() as u64;
            summary.ipv6 += u64::from(flow.v6);
            summary.vlan += u64::from(flow.vlan.is_some());
            let bucket = [64, 128, 512, 1023, usize::MAX]
                .iter()
                .position(|&max| frame.len() <= max)
                .unwrap_or(4);
            summary.sizes[bucket] += 1;
            // Back-to-back segments follow at 1 Gbit/s line rate or so.
            ts_us += 1 + u64::from(step.len) / 125;
        }
        if flows[slot].done() {
            flows[slot] = new_flow(&net, &filler, &mut rng);
            summary.by_kind[flows[slot].kind as usize].flows += 1;
        }
    }
    out.flush()?;
    Ok(summary)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = File::create(&args.out).and_then(|file| {
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let summary = generate(&args, &mut out)?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok((summary, file.metadata()?.len()))
    });
    let (summary, file_bytes) = match result {
        Ok(done) => done,
        Err(e) => {
            eprintln!("synth_capture: {}: {e}", args.out.display());
            return ExitCode::FAILURE;
        }
    };
    let packets: u64 = summary.by_kind.iter().map(|t| t.packets).sum();
    let bytes: u64 = summary.by_kind.iter().map(|t| t.bytes).sum();
    let pct = |n: u64| 100.0 * n as f64 / packets.max(1) as f64;
    eprintln!(
        "{:<8} {:>10} {:>7} {:>14} {:>7} {:>8}",
        "kind", "packets", "%", "bytes", "%", "flows"
    );
    for (kind, t) in KINDS.iter().zip(&summary.by_kind) {
        eprintln!(
            "{:<8} {:>10} {:>6.1}% {:>14} {:>6.1}% {:>8}",
            format!("{kind:?}").to_lowercase(),
            t.packets,
            pct(t.packets),
            t.bytes,
            100.0 * t.bytes as f64 / bytes.max(1) as f64,
            t.flows
        );
    }
    eprintln!(
        "ipv6 {:.1}%, vlan-tagged {:.1}%; frames ≤64 B {:.1}%, ≤128 B {:.1}%, ≤512 B {:.1}%, ≤1023 B {:.1}%, ≤1514 B {:.1}%",
        pct(summary.ipv6),
        pct(summary.vlan),
        pct(summary.sizes[0]),
        pct(summary.sizes[1]),
        pct(summary.sizes[2]),
        pct(summary.sizes[3]),
        pct(summary.sizes[4]),
    );
    println!(
        "packets={packets} wire_bytes={bytes} file_bytes={file_bytes} devices={} seed={}",
        args.devices, args.seed
    );
    ExitCode::SUCCESS
}
