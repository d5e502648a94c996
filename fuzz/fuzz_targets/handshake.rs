//! Any bytes into the side-door opening reader: detection on either
//! direction, every service fed the bytes as both directions in pieces the
//! first bytes choose, and the SNMP/TFTP datagram reader. Each returns, keeps
//! no more than its bound, and reports findings within their limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medtap::proto::Direction;
use medtap::proto::handshake::{self, HANDSHAKE_BYTES, Handshake, Service};

const SERVICES: [Service; 8] = [
    Service::Tls("tls"),
    Service::Smb,
    Service::Http,
    Service::Ssh,
    Service::Ftp,
    Service::Telnet,
    Service::Rdp,
    Service::Vnc,
];

fuzz_target!(|data: &[u8]| {
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    for direction in [Direction::ToServer, Direction::ToClient] {
        let _ = Service::detect(direction, rest, u16::from(choice), "tls");
    }
    let _ = handshake::may_open(rest);
    let service = SERVICES[usize::from(choice) % SERVICES.len()];
    let piece = usize::from(choice >> 3).max(1);
    let mut opening = Handshake::new(service);
    let mut found = Vec::new();
    for (i, chunk) in rest.chunks(piece).enumerate() {
        let direction = if i % 2 == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        opening.feed(direction, chunk, &mut found);
        assert!(opening.footprint() <= 4 * HANDSHAKE_BYTES);
    }
    let mut datagram = Vec::new();
    for (src, dst) in [(40_000, 161), (161, 40_000), (40_000, 162), (40_000, 69)] {
        handshake::datagram(src, dst, rest, &mut datagram);
    }
    assert!(datagram.len() <= 8);
});
