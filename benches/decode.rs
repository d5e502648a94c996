//! Decoder throughput over the bench packet mix and over the shipped ward capture.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a benchmark stops on bad setup"
)]

mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use medtap::decode::{DecodeOptions, LinkType, decode};
use std::hint::black_box;

fn bench_decode(c: &mut Criterion) {
    let frames = common::packet_mix(20_000, 2_000, 7);
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Bytes(common::total_bytes(&frames)));
    for verify in [false, true] {
        let options = DecodeOptions {
            verify_checksums: verify,
        };
        let name = if verify {
            "mix_verify_checksums"
        } else {
            "mix"
        };
        group.bench_function(name, |b| {
            b.iter(|| {
                for frame in &frames {
                    let _ = black_box(decode(LinkType::Ethernet, black_box(&frame.data), &options));
                }
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("decode_packets");
    group.throughput(Throughput::Elements(frames.len() as u64));
    group.bench_function("mix", |b| {
        b.iter(|| {
            for frame in &frames {
                let _ = black_box(decode(
                    LinkType::Ethernet,
                    black_box(&frame.data),
                    &DecodeOptions::default(),
                ));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench_decode);
criterion_main!(benches);
