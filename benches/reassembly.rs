//! TCP reassembly throughput: a 1.4 MB stream in 1448-byte segments, in
//! order (handed on in place) and with every pair of segments swapped (each
//! second segment held, copied once, then drained).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a benchmark stops on bad setup"
)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use medtap::reassembly::{Budget, Chunk, ReassemblyCounters, Segment, Stream};
use std::hint::black_box;

const SEGMENT: usize = 1448;
const SEGMENTS: usize = 1000;
const ISN: u32 = 0xFFFF_0000; // wraps inside the stream

fn run(order: &[usize], payload: &[u8]) -> u64 {
    let mut stream = Stream::new(Budget::default());
    let mut counters = ReassemblyCounters::default();
    let mut delivered = 0u64;
    let mut deliver = |chunk: Chunk<'_>| {
        if let Chunk::Data(d) = chunk {
            delivered += d.len() as u64;
        }
    };
    let syn = Segment {
        seq: ISN,
        syn: true,
        fin: false,
        payload: &[],
        missing: 0,
    };
    stream.segment(syn, &mut counters, &mut deliver);
    for &i in order {
        let segment = Segment {
            seq: ISN.wrapping_add(1).wrapping_add((i * SEGMENT) as u32),
            syn: false,
            fin: false,
            payload: &payload[i * SEGMENT..(i + 1) * SEGMENT],
            missing: 0,
        };
        stream.segment(segment, &mut counters, &mut deliver);
    }
    delivered
}

fn bench_reassembly(c: &mut Criterion) {
    let payload: Vec<u8> = (0..SEGMENT * SEGMENTS).map(|i| i as u8).collect();
    let in_order: Vec<usize> = (0..SEGMENTS).collect();
    let swapped: Vec<usize> = (0..SEGMENTS).map(|i| i ^ 1).collect();
    assert_eq!(run(&swapped, &payload), payload.len() as u64);
    let mut group = c.benchmark_group("reassembly");
    group.throughput(Throughput::Bytes(payload.len() as u64));
    group.bench_function("in_order", |b| {
        b.iter(|| black_box(run(black_box(&in_order), &payload)))
    });
    group.bench_function("pairs_swapped", |b| {
        b.iter(|| black_box(run(black_box(&swapped), &payload)))
    });
    group.finish();
}

criterion_group!(benches, bench_reassembly);
criterion_main!(benches);
