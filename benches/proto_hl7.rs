//! HL7/MLLP parser throughput: a realistic conversation (ADT, ORM, ORU
//! messages from the tapirx captures and their ACKs, 1460-byte TCP segments)
//! and one 20 MB message carrying a base64 document in OBX-5, which the
//! parser skips by scanning, never holding it.
//!
//! Run: `cargo bench --bench proto_hl7`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a benchmark stops on bad setup"
)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use medtap::proto::hl7::Hl7Parser;
use medtap::proto::{Direction, feed_all};
use std::hint::black_box;

/// Client and server payloads of the tapirx captures (see
/// src/proto/hl7/testdata/extract.sh).
const STREAMS: [&str; 3] = [
    include_str!("../src/proto/hl7/testdata/tapirx-HL7-ADT.stream"),
    include_str!("../src/proto/hl7/testdata/tapirx-HL7-ORM.stream"),
    include_str!("../src/proto/hl7/testdata/tapirx-HL7-ORU.stream"),
];

fn chunks(text: &str) -> Vec<(Direction, Vec<u8>)> {
    text.lines()
        .filter_map(|l| {
            let (d, hex) = l.split_at_checked(2)?;
            let dir = if d == "C " {
                Direction::ToServer
            } else {
                Direction::ToClient
            };
            let bytes = (0..hex.len())
                .step_by(2)
                .filter_map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
                .collect();
            Some((dir, bytes))
        })
        .collect()
}

/// `rounds` exchanges of each capture, each direction cut into 1460-byte
/// segments.
fn conversation(rounds: usize) -> Vec<(Direction, Vec<u8>)> {
    let exchanges: Vec<_> = STREAMS.iter().map(|s| chunks(s)).collect();
    let mut out = Vec::new();
    for i in 0..rounds {
        for (d, bytes) in &exchanges[i % exchanges.len()] {
            for seg in bytes.chunks(1460) {
                out.push((*d, seg.to_vec()));
            }
        }
    }
    out
}

/// One MDM^T02 with a 20 MB base64 document in OBX-5, in 1460-byte segments,
/// and its ACK.
fn bulk() -> Vec<(Direction, Vec<u8>)> {
    let mut m = b"\x0bMSH|^~\\&|SCANNER|RAD|EMR|HOSP|20240501||MDM^T02^MDM_T02|D1|P|2.5.1\r\
PID|1||MRN1^^^H^MR||DOE^JANE\r\
TXA|1|CN|AP|20240501\r\
OBX|1|ED|PDF^Report||^AP^PDF^Base64^"
        .to_vec();
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    m.extend((0..20_000_000).map(|i| alphabet[i % 64]));
    m.extend(b"||||||F|||||||SCANNER-7\r\x1c\r");
    let mut out: Vec<_> = m
        .chunks(1460)
        .map(|c| (Direction::ToServer, c.to_vec()))
        .collect();
    out.push((
        Direction::ToClient,
        b"\x0bMSH|^~\\&|EMR|HOSP|SCANNER|RAD|20240501||ACK|A1|P|2.5.1\rMSA|AA|D1\r\x1c\r".to_vec(),
    ));
    out
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("proto_hl7");
    for (name, conv) in [
        ("conversation", conversation(300)),
        ("bulk_document", bulk()),
    ] {
        let segments: Vec<(Direction, &[u8])> =
            conv.iter().map(|(d, b)| (*d, b.as_slice())).collect();
        let bytes: usize = conv.iter().map(|(_, b)| b.len()).sum();
        let records = feed_all::<Hl7Parser>(&segments).len();
        assert!(records > 0, "{name}: no records");
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_function(name, |b| {
            b.iter(|| black_box(feed_all::<Hl7Parser>(black_box(&segments))))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
