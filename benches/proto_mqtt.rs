//! MQTT parser throughput over real conversations: the mosquitto captures
//! in src/proto/mqtt/testdata (a 3 MB PUBLISH skipped by length, a will,
//! wildcard subscriptions) and a synthetic telemetry session of many small
//! PUBLISHes, fed segment by segment through `feed_all` as a worker would.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a benchmark stops on bad setup"
)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use medtap::proto::mqtt::MqttParser;
use medtap::proto::{Direction, feed_all};
use std::hint::black_box;

/// Reads a stream file written by testdata/extract.sh.
fn load(name: &str) -> Vec<(Direction, Vec<u8>)> {
    let path = format!(
        "{}/src/proto/mqtt/testdata/streams/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut out = Vec::new();
    let mut rest = &data[..];
    while let [d, a, b, c, e, tail @ ..] = rest {
        let n = u32::from_be_bytes([*a, *b, *c, *e]) as usize;
        let direction = if *d == b'<' {
            Direction::ToClient
        } else {
            Direction::ToServer
        };
        out.push((direction, tail[..n].to_vec()));
        rest = &tail[n..];
    }
    out
}

/// A control packet with its Remaining Length.
fn pkt(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    let mut n = body.len();
    loop {
        let b = (n % 128) as u8;
        n /= 128;
        out.push(if n > 0 { b | 0x80 } else { b });
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(body);
    out
}

/// A 3.1.1 session: CONNECT, CONNACK, then 10,000 QoS 1 PUBLISHes of about
/// 100 bytes on 20 topics, each acknowledged, in 1,448-byte segments.
fn telemetry() -> Vec<(Direction, Vec<u8>)> {
    let mut up = pkt(
        0x10,
        &[
            &[0, 4][..],
            b"MQTT",
            &[4, 0xc2, 0, 60],
            &[0, 7],
            b"pump-07",
            &[0, 5],
            b"nurse",
            &[0, 6],
            b"secret",
        ]
        .concat(),
    );
    let mut down = vec![0x20, 0x02, 0x00, 0x00];
    for i in 0..10_000u32 {
        let topic = format!("ward3/pump-07/channel-{}", i % 20);
        let id = ((i % 65_535) + 1) as u16;
        let body = [
            &(topic.len() as u16).to_be_bytes()[..],
            topic.as_bytes(),
            &id.to_be_bytes(),
            &[b'x'; 80],
        ]
        .concat();
        up.extend(pkt(0x32, &body));
        down.extend([0x40, 0x02]);
        down.extend(id.to_be_bytes());
    }
    let mut segs = Vec::new();
    for (d, bytes) in [(Direction::ToServer, up), (Direction::ToClient, down)] {
        for chunk in bytes.chunks(1448) {
            segs.push((d, chunk.to_vec()));
        }
    }
    segs
}

fn bench(c: &mut Criterion) {
    let cases = [
        ("bulk_publish_3mb", load("own-v5-pub-bulk.0.bin")),
        ("will_and_publish", load("own-v311-pub-will.0.bin")),
        ("wildcard_subscriber", load("own-v311-sub-wildcard.0.bin")),
        ("telemetry_10k_publishes", telemetry()),
    ];
    let mut group = c.benchmark_group("proto_mqtt");
    for (name, segs) in &cases {
        let segments: Vec<(Direction, &[u8])> = segs.iter().map(|(d, b)| (*d, &b[..])).collect();
        let bytes: usize = segs.iter().map(|(_, b)| b.len()).sum();
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_function(*name, |b| {
            b.iter(|| black_box(feed_all::<MqttParser>(black_box(&segments))))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
