//! Writes the hostile captures in `fixtures/hostile/`: one MQTT 3.1.1 client
//! session, with packets a receiving host would drop or ignore injected
//! before its `SUBSCRIBE #`.
//!
//! ```sh
//! cargo run --example hostile -- fixtures/hostile
//! ```
//!
//! The session is an infusion pump (`pump-07`, 10.20.0.7) talking to its
//! broker (10.20.0.2:1883) over Ethernet: the three-way handshake, CONNECT,
//! CONNACK, one PUBLISH, then — four seconds after the CONNECT, so a two-second
//! learning window is over — `SUBSCRIBE #`, its SUBACK, DISCONNECT and both
//! FINs. Every checksum is correct unless the trick says otherwise. Each
//! capture adds one trick, injected half a second before the SUBSCRIBE unless
//! said otherwise:
//!
//! | file | trick |
//! | --- | --- |
//! | `control.pcap` | none |
//! | `rst-out-of-window.pcap` | an RST each way, valid checksums, sequence number 2^30 past the receiver's next expected byte (RFC 5961: ignored) |
//! | `fin-bad-checksum.pcap` | a FIN from the pump at its next sequence number, with a bad TCP checksum (the broker drops it) |
//! | `fin-valid-checksum.pcap` | the same FIN with a valid checksum; the pump's stack goes on writing at that sequence number, so the FIN was never its own |
//! | `syn-after-handshake.pcap` | a SYN from the pump's address and port with another ISN, right after the handshake and again before the SUBSCRIBE; the broker answers each with a challenge ACK (RFC 5961 §4) |
//! | `ip-length-invalid.pcap` | before the real CONNECT, two IPv4 packets carrying a CONNECT for `EVILCLIENT01` at the real CONNECT's sequence number, one with IP total length 0 and one with 10 (a host drops both) |
//! | `out-of-order-400.pcap` | the PUBLISH sent as 401 one-byte segments: the last 400 first, in reverse order, then the first |
//!
//! The same command writes the same bytes: timestamps and sequence numbers
//! are fixed. Classic pcap, microsecond timestamps, link type Ethernet.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "an example stops on bad input"
)]

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use etherparse::PacketBuilder;

/// First packet: 2026-03-02T09:00:00Z.
const START_SECS: u32 = 1_772_442_000;
const PUMP_MAC: [u8; 6] = [0x58, 0x42, 0xe4, 0x07, 0x00, 0x07];
const BROKER_MAC: [u8; 6] = [0x00, 0x06, 0x5b, 0x20, 0x00, 0x02];
const PUMP_IP: [u8; 4] = [10, 20, 0, 7];
const BROKER_IP: [u8; 4] = [10, 20, 0, 2];
const PUMP_PORT: u16 = 49_731;
const BROKER_PORT: u16 = 1883;
const PUMP_ISN: u32 = 0x3a5c_11f0;
const BROKER_ISN: u32 = 0x9e01_7a44;
/// The ISN of the stray SYNs.
const STRAY_ISN: u32 = 0x0bad_5eed;
const WINDOW: u16 = 64_240;
/// 2^30: far outside any window.
const FAR: u32 = 1 << 30;
/// One-byte segments sent ahead of the first one in `out-of-order-400.pcap`.
const OUT_OF_ORDER_SEGMENTS: usize = 400;

/// Packets of one capture, in order, with their packet times.
struct Capture {
    packets: Vec<(u64, Vec<u8>)>,
    /// Microseconds since `START_SECS`.
    now: u64,
    /// The pump's and the broker's next sequence numbers.
    pump_seq: u32,
    broker_seq: u32,
}

/// Who sends a packet.
#[derive(Clone, Copy)]
enum From {
    Pump,
    Broker,
}

/// TCP flags of a packet.
#[derive(Clone, Copy, Default)]
struct Flags {
    syn: bool,
    ack: bool,
    psh: bool,
    fin: bool,
    rst: bool,
}

const ACK: Flags = Flags {
    syn: false,
    ack: true,
    psh: false,
    fin: false,
    rst: false,
};
const PSH_ACK: Flags = Flags { psh: true, ..ACK };

impl Capture {
    fn new() -> Capture {
        Capture {
            packets: Vec::new(),
            now: 0,
            pump_seq: PUMP_ISN,
            broker_seq: BROKER_ISN,
        }
    }

    fn wait(&mut self, micros: u64) {
        self.now += micros;
    }

    /// A TCP packet with explicit numbers, correct checksums.
    fn frame(&self, from: From, seq: u32, ack: u32, flags: Flags, payload: &[u8]) -> Vec<u8> {
        let (src_mac, dst_mac, src, dst, sport, dport) = match from {
            From::Pump => (
                PUMP_MAC,
                BROKER_MAC,
                PUMP_IP,
                BROKER_IP,
                PUMP_PORT,
                BROKER_PORT,
            ),
            From::Broker => (
                BROKER_MAC,
                PUMP_MAC,
                BROKER_IP,
                PUMP_IP,
                BROKER_PORT,
                PUMP_PORT,
            ),
        };
        let mut builder = PacketBuilder::ethernet2(src_mac, dst_mac)
            .ipv4(src, dst, 64)
            .tcp(sport, dport, seq, WINDOW);
        if flags.syn {
            builder = builder.syn();
        }
        if flags.ack {
            builder = builder.ack(ack);
        }
        if flags.psh {
            builder = builder.psh();
        }
        if flags.fin {
            builder = builder.fin();
        }
        if flags.rst {
            builder = builder.rst();
        }
        let mut out = Vec::with_capacity(builder.size(payload.len()));
        builder
            .write(&mut out, payload)
            .expect("writing to a Vec cannot fail");
        out
    }

    fn push(&mut self, frame: Vec<u8>) {
        self.packets.push((self.now, frame));
        self.wait(150);
    }

    /// The next in-sequence packet of `from`, acknowledging everything the
    /// other side sent; its sequence numbers advance.
    fn send(&mut self, from: From, flags: Flags, payload: &[u8]) {
        let (seq, ack) = self.numbers(from);
        let frame = self.frame(from, seq, ack, flags, payload);
        self.push(frame);
        let used = payload.len() as u32 + u32::from(flags.syn) + u32::from(flags.fin);
        match from {
            From::Pump => self.pump_seq = self.pump_seq.wrapping_add(used),
            From::Broker => self.broker_seq = self.broker_seq.wrapping_add(used),
        }
    }

    /// `from`'s next sequence number and what it acknowledges.
    fn numbers(&self, from: From) -> (u32, u32) {
        match from {
            From::Pump => (self.pump_seq, self.broker_seq),
            From::Broker => (self.broker_seq, self.pump_seq),
        }
    }

    fn handshake(&mut self) {
        let syn = Flags {
            syn: true,
            ..Flags::default()
        };
        self.send(From::Pump, syn, &[]);
        self.send(From::Broker, Flags { syn: true, ..ACK }, &[]);
        self.send(From::Pump, ACK, &[]);
    }

    fn write(&self, path: &Path) -> io::Result<()> {
        let mut out = BufWriter::new(File::create(path)?);
        // Classic pcap header: magic, version 2.4, zone, sigfigs, snaplen,
        // link type Ethernet.
        out.write_all(&0xa1b2_c3d4u32.to_le_bytes())?;
        out.write_all(&2u16.to_le_bytes())?;
        out.write_all(&4u16.to_le_bytes())?;
        out.write_all(&0i32.to_le_bytes())?;
        out.write_all(&0u32.to_le_bytes())?;
        out.write_all(&65_535u32.to_le_bytes())?;
        out.write_all(&1u32.to_le_bytes())?;
        for (at, frame) in &self.packets {
            let secs = START_SECS + (at / 1_000_000) as u32;
            let micros = (at % 1_000_000) as u32;
            let len = frame.len() as u32;
            for field in [secs, micros, len, len] {
                out.write_all(&field.to_le_bytes())?;
            }
            out.write_all(frame)?;
        }
        out.flush()
    }
}

/// MQTT 3.1.1 CONNECT, clean session, keep-alive 60 s, for `client_id`.
fn connect(client_id: &str) -> Vec<u8> {
    let mut body = vec![0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3c];
    body.extend_from_slice(&(client_id.len() as u16).to_be_bytes());
    body.extend_from_slice(client_id.as_bytes());
    let mut packet = vec![0x10, body.len() as u8];
    packet.extend_from_slice(&body);
    packet
}

/// CONNACK: session not present, accepted.
const CONNACK: [u8; 4] = [0x20, 0x02, 0x00, 0x00];

/// PUBLISH at QoS 0 of a pump's status: 440 bytes of payload, so it can be
/// sent as more than 400 one-byte segments.
fn publish() -> Vec<u8> {
    let topic = b"ward3/pump-07/status";
    let mut payload = br#"{"rate_ml_h":12.5,"vtbi_ml":250,"drug":"heparin","log":""#.to_vec();
    payload.resize(440 - 2, b'.');
    payload.extend_from_slice(br#""}"#);
    let remaining = 2 + topic.len() + payload.len();
    // Remaining length as two bytes of MQTT's variable-length integer.
    assert!((128..16_384).contains(&remaining));
    let mut packet = vec![
        0x30,
        (remaining % 128) as u8 | 0x80,
        (remaining / 128) as u8,
    ];
    packet.extend_from_slice(&(topic.len() as u16).to_be_bytes());
    packet.extend_from_slice(topic);
    packet.extend_from_slice(&payload);
    packet
}

/// SUBSCRIBE, packet id 1, to `#` at QoS 0.
const SUBSCRIBE_ALL: [u8; 8] = [0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b'#', 0x00];
/// SUBACK for packet id 1, granted QoS 0.
const SUBACK: [u8; 5] = [0x90, 0x03, 0x00, 0x01, 0x00];
const DISCONNECT: [u8; 2] = [0xe0, 0x00];

/// Where a trick goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Trick {
    None,
    RstOutOfWindow,
    FinBadChecksum,
    FinValidChecksum,
    SynAfterHandshake,
    IpLengthInvalid,
    OutOfOrder400,
}

fn session(trick: Trick) -> Capture {
    let mut c = Capture::new();
    c.handshake();
    c.wait(2_000);
    if trick == Trick::SynAfterHandshake {
        stray_syn(&mut c);
    }
    if trick == Trick::IpLengthInvalid {
        let evil = connect("EVILCLIENT01");
        for total_len in [0u16, 10] {
            let (seq, ack) = c.numbers(From::Pump);
            let mut frame = c.frame(From::Pump, seq, ack, PSH_ACK, &evil);
            set_ipv4_total_length(&mut frame, total_len);
            c.push(frame);
        }
    }
    c.send(From::Pump, PSH_ACK, &connect("pump-07"));
    c.send(From::Broker, PSH_ACK, &CONNACK);
    c.wait(500_000);
    if trick == Trick::OutOfOrder400 {
        // The PUBLISH as one-byte segments, all but the first ahead of it.
        let message = publish();
        assert!(message.len() > OUT_OF_ORDER_SEGMENTS);
        let (seq, ack) = c.numbers(From::Pump);
        for i in (1..=OUT_OF_ORDER_SEGMENTS).rev() {
            let frame = c.frame(
                From::Pump,
                seq.wrapping_add(i as u32),
                ack,
                ACK,
                &[message[i]],
            );
            c.push(frame);
        }
        let frame = c.frame(From::Pump, seq, ack, ACK, &message[..1]);
        c.push(frame);
        let rest = c.frame(
            From::Pump,
            seq.wrapping_add(OUT_OF_ORDER_SEGMENTS as u32 + 1),
            ack,
            PSH_ACK,
            &message[OUT_OF_ORDER_SEGMENTS + 1..],
        );
        c.push(rest);
        c.pump_seq = c.pump_seq.wrapping_add(message.len() as u32);
    } else {
        c.send(From::Pump, PSH_ACK, &publish());
    }
    c.send(From::Broker, ACK, &[]);
    c.wait(3_000_000);
    match trick {
        Trick::RstOutOfWindow => {
            let rst = Flags {
                rst: true,
                ..Flags::default()
            };
            let (seq, ack) = c.numbers(From::Pump);
            let frame = c.frame(From::Pump, seq.wrapping_add(FAR), ack, rst, &[]);
            c.push(frame);
            let (seq, ack) = c.numbers(From::Broker);
            let frame = c.frame(From::Broker, seq.wrapping_add(FAR), ack, rst, &[]);
            c.push(frame);
        }
        Trick::FinBadChecksum | Trick::FinValidChecksum => {
            let (seq, ack) = c.numbers(From::Pump);
            let mut frame = c.frame(From::Pump, seq, ack, Flags { fin: true, ..ACK }, &[]);
            if trick == Trick::FinBadChecksum {
                corrupt_tcp_checksum(&mut frame);
            }
            c.push(frame);
        }
        Trick::SynAfterHandshake => stray_syn(&mut c),
        _ => {}
    }
    c.wait(500_000);
    c.send(From::Pump, PSH_ACK, &SUBSCRIBE_ALL);
    c.send(From::Broker, PSH_ACK, &SUBACK);
    c.wait(1_000_000);
    c.send(From::Pump, PSH_ACK, &DISCONNECT);
    c.send(From::Pump, Flags { fin: true, ..ACK }, &[]);
    c.send(From::Broker, Flags { fin: true, ..ACK }, &[]);
    c.send(From::Pump, ACK, &[]);
    c
}

/// A SYN from the pump's address and port with another ISN, and the
/// broker's challenge ACK (its next sequence number, acknowledging the
/// pump's next byte).
fn stray_syn(c: &mut Capture) {
    let syn = Flags {
        syn: true,
        ..Flags::default()
    };
    let frame = c.frame(From::Pump, STRAY_ISN, 0, syn, &[]);
    c.push(frame);
    let (seq, ack) = c.numbers(From::Broker);
    let frame = c.frame(From::Broker, seq, ack, ACK, &[]);
    c.push(frame);
}

const ETHERNET_HEADER: usize = 14;

/// Sets the IPv4 total length and recomputes the header checksum, so only
/// the length is wrong.
fn set_ipv4_total_length(frame: &mut [u8], total_len: u16) {
    let ip = &mut frame[ETHERNET_HEADER..ETHERNET_HEADER + 20];
    ip[2..4].copy_from_slice(&total_len.to_be_bytes());
    ip[10..12].copy_from_slice(&[0, 0]);
    let mut sum = 0u32;
    for pair in ip.chunks(2) {
        sum += u32::from(u16::from_be_bytes([pair[0], pair[1]]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
}

/// Flips the TCP checksum's bits: wrong whatever the segment holds.
fn corrupt_tcp_checksum(frame: &mut [u8]) {
    let at = ETHERNET_HEADER + 20 + 16;
    frame[at] ^= 0xff;
    frame[at + 1] ^= 0xff;
}

fn main() -> ExitCode {
    let dir: PathBuf = match std::env::args_os().nth(1) {
        Some(dir) => dir.into(),
        None => {
            eprintln!("usage: hostile OUT_DIR");
            return ExitCode::from(2);
        }
    };
    let captures = [
        ("control.pcap", Trick::None),
        ("rst-out-of-window.pcap", Trick::RstOutOfWindow),
        ("fin-bad-checksum.pcap", Trick::FinBadChecksum),
        ("fin-valid-checksum.pcap", Trick::FinValidChecksum),
        ("syn-after-handshake.pcap", Trick::SynAfterHandshake),
        ("ip-length-invalid.pcap", Trick::IpLengthInvalid),
        ("out-of-order-400.pcap", Trick::OutOfOrder400),
    ];
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("hostile: {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    for (name, trick) in captures {
        let path = dir.join(name);
        let capture = session(trick);
        if let Err(e) = capture.write(&path) {
            eprintln!("hostile: {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        eprintln!("{}: {} packets", path.display(), capture.packets.len());
    }
    ExitCode::SUCCESS
}
