//! A deterministic in-memory packet mix for the benches: many devices, TCP
//! conversations on the clinical ports and others, UDP, some VLAN tags and
//! IPv6, sizes from bare ACKs to full frames.
#![allow(dead_code)]

use etherparse::PacketBuilder;

/// One frame with its packet time.
pub struct Frame {
    pub ts: i64,
    pub data: Vec<u8>,
}

/// Services the mix talks to: (port, is_tcp).
const SERVICES: [(u16, bool); 8] = [
    (104, true),
    (11112, true),
    (2575, true),
    (1883, true),
    (443, true),
    (53, false),
    (123, false),
    (8080, true),
];

/// A tiny deterministic generator (xorshift), so the mix is the same every run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// `count` frames among `devices` devices.
pub fn packet_mix(count: usize, devices: u32, seed: u64) -> Vec<Frame> {
    let mut rng = Rng::new(seed);
    let mut frames = Vec::with_capacity(count);
    let mut ts: i64 = 1_700_000_000_000_000;
    let payload = vec![0x5au8; 1460];
    while frames.len() < count {
        let device = rng.below(u64::from(devices)) as u32;
        let server = 1000 + rng.below(16) as u32;
        let (port, tcp) = SERVICES[rng.below(SERVICES.len() as u64) as usize];
        let client_port = 20000 + (device % 40000) as u16;
        let mac = |id: u32| {
            [
                0x00,
                0x09,
                0xfb,
                (id >> 16) as u8,
                (id >> 8) as u8,
                id as u8,
            ]
        };
        let ip = |id: u32| [10, (id >> 16) as u8, (id >> 8) as u8, id as u8];
        let vlan = device.is_multiple_of(10).then_some(100u16);
        // A short exchange: request, response, then ACK.
        let sizes = [rng.below(600) as usize, rng.below(1460) as usize, 0];
        for (i, size) in sizes.into_iter().enumerate() {
            let to_server = i != 1;
            let (smac, dmac, sip, dip, sp, dp) = if to_server {
                (
                    mac(device),
                    mac(server),
                    ip(device),
                    ip(server),
                    client_port,
                    port,
                )
            } else {
                (
                    mac(server),
                    mac(device),
                    ip(server),
                    ip(device),
                    port,
                    client_port,
                )
            };
            let base = PacketBuilder::ethernet2(smac, dmac);
            let mut data = Vec::with_capacity(size + 64);
            let body = &payload[..size];
            let written = match (vlan, tcp) {
                (Some(v), true) => base
                    .single_vlan(v.try_into().expect("vlan"))
                    .ipv4(sip, dip, 64)
                    .tcp(sp, dp, 1, 64240)
                    .ack(1)
                    .write(&mut data, body),
                (Some(v), false) => base
                    .single_vlan(v.try_into().expect("vlan"))
                    .ipv4(sip, dip, 64)
                    .udp(sp, dp)
                    .write(&mut data, body),
                (None, true) => base
                    .ipv4(sip, dip, 64)
                    .tcp(sp, dp, 1, 64240)
                    .ack(1)
                    .write(&mut data, body),
                (None, false) => base.ipv4(sip, dip, 64).udp(sp, dp).write(&mut data, body),
            };
            written.expect("frame builds");
            ts += 1 + rng.below(200) as i64;
            frames.push(Frame { ts, data });
        }
    }
    frames.truncate(count);
    frames
}

/// Bytes in all frames.
pub fn total_bytes(frames: &[Frame]) -> u64 {
    frames.iter().map(|f| f.data.len() as u64).sum()
}
