//! DICOM parser throughput over real conversations captured on loopback
//! (src/proto/dicom/testdata): a C-STORE of a 2 MiB image followed by a small
//! one (pixel data skipped by PDV length), a small C-STORE with a large
//! association request, and a C-FIND/C-MOVE exchange.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a benchmark stops on bad setup"
)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use medtap::proto::dicom::DicomParser;
use medtap::proto::{Direction, feed_all};
use std::hint::black_box;

/// Reads a `.stream` file: (direction byte, u32 BE length, bytes)*.
fn load(name: &str) -> Vec<(Direction, Vec<u8>)> {
    let path = format!(
        "{}/src/proto/dicom/testdata/{name}.stream",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut out = Vec::new();
    let mut rest = bytes.as_slice();
    while let [direction, a, b, c, d, tail @ ..] = rest {
        let len = u32::from_be_bytes([*a, *b, *c, *d]) as usize;
        let (segment, tail) = tail.split_at(len);
        let direction = if *direction == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        out.push((direction, segment.to_vec()));
        rest = tail;
    }
    out
}

fn bench_dicom(c: &mut Criterion) {
    let mut group = c.benchmark_group("proto_dicom");
    for name in ["store_two", "store_ct", "find_move"] {
        let conversation = load(name);
        let segments: Vec<(Direction, &[u8])> = conversation
            .iter()
            .map(|(d, b)| (*d, b.as_slice()))
            .collect();
        let bytes: usize = segments.iter().map(|s| s.1.len()).sum();
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_function(name, |b| {
            b.iter(|| black_box(feed_all::<DicomParser>(black_box(&segments))))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_dicom);
criterion_main!(benches);
