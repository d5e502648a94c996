//! Writes the flood captures of `bench/memory.sh`: traffic made to grow
//! medtap's tables, streamed to a pcap file so a capture of millions of
//! packets never sits in memory.
//!
//! ```sh
//! cargo run --release --example flood -- KIND COUNT OUT.pcap
//! ```
//!
//! | kind | what each of COUNT units is |
//! | --- | --- |
//! | `mac-flood` | one TCP SYN from a random unicast MAC and a random address in 10.0.0.0/8 to 10.255.0.1:443 (a MAC-randomising SYN flood: a new flow, a new sender, a new device candidate each packet) |
//! | `arp-flood` | one gratuitous ARP from a random MAC for a random address in 10.0.0.0/8 |
//! | `dicom-halfopen` | a TCP connection to port 104 whose client sends 60 000 bytes of an A-ASSOCIATE-RQ announcing 65 000, then nothing |
//! | `mqtt-halfopen` | a TCP connection to port 1883 whose client sends 7 600 bytes of a CONNECT announcing 8 000, then nothing |
//!
//! Packets are 1 µs apart, so no flow reaches a timeout within the capture:
//! every unit is held at once, the worst case for memory. The random
//! generator is seeded, so the same command writes the same bytes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "an example stops on bad input"
)]

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use etherparse::PacketBuilder;

/// First packet: 2026-03-02T09:00:00Z.
const START_MICROS: u64 = 1_772_442_000 * 1_000_000;
const SERVER_MAC: [u8; 6] = [0x00, 0x06, 0x5b, 0x20, 0x00, 0x02];
const SERVER_IP: [u8; 4] = [10, 255, 0, 1];
/// TCP payload per segment (an Ethernet MSS).
const SEGMENT: usize = 1460;
const WINDOW: u16 = 64_240;
/// Bytes the half-open DICOM clients send, of the PDU length they announce.
const DICOM_SENT: usize = 60_000;
const DICOM_ANNOUNCED: u32 = 65_000;
/// Bytes the half-open MQTT clients send, of the remaining length they announce.
const MQTT_SENT: usize = 7_600;
const MQTT_ANNOUNCED: u32 = 8_000;

/// xorshift64*: enough randomness for addresses, and reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A unicast, globally administered MAC.
    fn mac(&mut self) -> [u8; 6] {
        let b = self.next().to_be_bytes();
        [b[0] & 0xfc, b[1], b[2], b[3], b[4], b[5]]
    }

    /// An address in 10.0.0.0/8 other than the server's.
    fn ip(&mut self) -> [u8; 4] {
        let b = self.next().to_be_bytes();
        [10, b[0] % 255, b[1], b[2].max(1)]
    }
}

struct Writer {
    out: BufWriter<File>,
    micros: u64,
    packets: u64,
}

impl Writer {
    fn create(path: &str) -> io::Result<Writer> {
        let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
        // Classic pcap, microseconds, snaplen 262144, Ethernet.
        out.write_all(&0xa1b2_c3d4u32.to_le_bytes())?;
        out.write_all(&2u16.to_le_bytes())?;
        out.write_all(&4u16.to_le_bytes())?;
        out.write_all(&0i32.to_le_bytes())?;
        out.write_all(&0u32.to_le_bytes())?;
        out.write_all(&262_144u32.to_le_bytes())?;
        out.write_all(&1u32.to_le_bytes())?;
        Ok(Writer {
            out,
            micros: START_MICROS,
            packets: 0,
        })
    }

    fn frame(&mut self, frame: &[u8]) -> io::Result<()> {
        self.micros += 1;
        self.packets += 1;
        let len = frame.len() as u32;
        self.out
            .write_all(&((self.micros / 1_000_000) as u32).to_le_bytes())?;
        self.out
            .write_all(&((self.micros % 1_000_000) as u32).to_le_bytes())?;
        self.out.write_all(&len.to_le_bytes())?;
        self.out.write_all(&len.to_le_bytes())?;
        self.out.write_all(frame)
    }
}

/// One TCP client of the server: its addresses and next sequence numbers.
struct Client {
    mac: [u8; 6],
    ip: [u8; 4],
    port: u16,
    seq: u32,
    server_seq: u32,
}

impl Client {
    fn segment(&mut self, to_server: bool, syn: bool, payload: &[u8], server_port: u16) -> Vec<u8> {
        let (src_mac, dst_mac, src_ip, dst_ip, sport, dport, seq, ack) = if to_server {
            let ack = self.server_seq;
            (
                self.mac,
                SERVER_MAC,
                self.ip,
                SERVER_IP,
                self.port,
                server_port,
                self.seq,
                ack,
            )
        } else {
            (
                SERVER_MAC,
                self.mac,
                SERVER_IP,
                self.ip,
                server_port,
                self.port,
                self.server_seq,
                self.seq,
            )
        };
        let mut builder = PacketBuilder::ethernet2(src_mac, dst_mac)
            .ipv4(src_ip, dst_ip, 64)
            .tcp(sport, dport, seq, WINDOW);
        if syn {
            builder = builder.syn();
        }
        if !(syn && to_server) {
            builder = builder.ack(ack);
        }
        let mut frame = Vec::with_capacity(builder.size(payload.len()));
        // Writing into a Vec cannot fail; the sizes here are far below limits.
        let _ = builder.write(&mut frame, payload);
        let used = payload.len() as u32 + u32::from(syn);
        if to_server {
            self.seq = self.seq.wrapping_add(used);
        } else {
            self.server_seq = self.server_seq.wrapping_add(used);
        }
        frame
    }
}

/// A handshake, then `payload` from the client in full-size segments.
fn half_open(w: &mut Writer, rng: &mut Rng, port: u16, payload: &[u8]) -> io::Result<()> {
    let mut client = Client {
        mac: rng.mac(),
        ip: rng.ip(),
        port: 1024 + (rng.next() % 60_000) as u16,
        seq: rng.next() as u32,
        server_seq: rng.next() as u32,
    };
    w.frame(&client.segment(true, true, &[], port))?;
    w.frame(&client.segment(false, true, &[], port))?;
    w.frame(&client.segment(true, false, &[], port))?;
    for chunk in payload.chunks(SEGMENT) {
        w.frame(&client.segment(true, false, chunk, port))?;
    }
    Ok(())
}

/// The first `DICOM_SENT` bytes of an A-ASSOCIATE-RQ of `DICOM_ANNOUNCED`:
/// a valid fixed part, then one application context item padded out.
fn dicom_prefix() -> Vec<u8> {
    let mut pdu = vec![0x01, 0x00];
    pdu.extend_from_slice(&DICOM_ANNOUNCED.to_be_bytes());
    pdu.extend_from_slice(&[0x00, 0x01, 0x00, 0x00]);
    pdu.extend_from_slice(b"STORESCP        ");
    pdu.extend_from_slice(b"FLOODSCU        ");
    pdu.extend_from_slice(&[0; 32]);
    // An unknown item type (0x55) of nearly all the rest: legal to skip.
    let item_len = (DICOM_ANNOUNCED as usize - 68 - 4) as u16;
    pdu.extend_from_slice(&[0x55, 0x00]);
    pdu.extend_from_slice(&item_len.to_be_bytes());
    pdu.resize(DICOM_SENT, 0x20);
    pdu
}

/// The first `MQTT_SENT` bytes of a CONNECT with `MQTT_ANNOUNCED` bytes of
/// body: protocol name and level, then a client id that runs on.
fn mqtt_prefix() -> Vec<u8> {
    let mut packet = vec![0x10];
    let mut len = MQTT_ANNOUNCED;
    loop {
        let byte = (len % 128) as u8;
        len /= 128;
        packet.push(if len > 0 { byte | 0x80 } else { byte });
        if len == 0 {
            break;
        }
    }
    packet.extend_from_slice(&[0x00, 0x04]);
    packet.extend_from_slice(b"MQTT");
    packet.extend_from_slice(&[0x04, 0x02, 0x00, 0x3c]);
    let id_len = (MQTT_ANNOUNCED - 12) as u16;
    packet.extend_from_slice(&id_len.to_be_bytes());
    packet.resize(MQTT_SENT, b'x');
    packet
}

fn arp(rng: &mut Rng) -> Vec<u8> {
    let mac = rng.mac();
    let ip = rng.ip();
    let mut frame = Vec::with_capacity(42);
    frame.extend_from_slice(&[0xff; 6]);
    frame.extend_from_slice(&mac);
    frame.extend_from_slice(&[0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01]);
    frame.extend_from_slice(&mac);
    frame.extend_from_slice(&ip);
    frame.extend_from_slice(&[0; 6]);
    frame.extend_from_slice(&ip);
    frame
}

fn syn(rng: &mut Rng) -> Vec<u8> {
    let mut client = Client {
        mac: rng.mac(),
        ip: rng.ip(),
        port: 1024 + (rng.next() % 60_000) as u16,
        seq: rng.next() as u32,
        server_seq: 0,
    };
    client.segment(true, true, &[], 443)
}

fn write(kind: &str, count: u64, path: &str) -> io::Result<u64> {
    let mut w = Writer::create(path)?;
    let mut rng = Rng(0x6d65_6474_6170_0001);
    let dicom = dicom_prefix();
    let mqtt = mqtt_prefix();
    for _ in 0..count {
        match kind {
            "mac-flood" => w.frame(&syn(&mut rng))?,
            "arp-flood" => w.frame(&arp(&mut rng))?,
            "dicom-halfopen" => half_open(&mut w, &mut rng, 104, &dicom)?,
            "mqtt-halfopen" => half_open(&mut w, &mut rng, 1883, &mqtt)?,
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("unknown kind {kind:?}"),
                ));
            }
        }
    }
    w.out.flush()?;
    Ok(w.packets)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [kind, count, path] = args.as_slice() else {
        eprintln!("usage: flood mac-flood|arp-flood|dicom-halfopen|mqtt-halfopen COUNT OUT.pcap");
        return ExitCode::from(2);
    };
    let Ok(count) = count.parse::<u64>() else {
        eprintln!("flood: COUNT must be a number, not {count:?}");
        return ExitCode::from(2);
    };
    match write(kind, count, path) {
        Ok(packets) => {
            println!("{path}: {packets} packets");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("flood: {path}: {e}");
            ExitCode::FAILURE
        }
    }
}
