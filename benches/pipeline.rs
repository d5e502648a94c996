//! Dispatch throughput: frames through decode, hashing, batching, the worker
//! shards and the merge, as the capture thread would hand them over.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a benchmark stops on bad setup"
)]

mod common;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use medtap::capture::{CapturedPacket, PacketHandler};
use medtap::decode::LinkType;
use medtap::output::{Outputs, SinkSpec};
use medtap::pipeline::{Pipeline, PipelineConfig};

pub fn config(workers: usize, baselines: bool) -> PipelineConfig {
    PipelineConfig {
        workers,
        decode: Default::default(),
        flow: Default::default(),
        home_nets: Default::default(),
        stats_interval: std::time::Duration::from_secs(60),
        inventory: None,
        filter: None,
        log_protocols: false,
        full_records: false,
        record_interval: medtap::pipeline::DEFAULT_RECORD_INTERVAL,
        baselines,
        baseline: Default::default(),
        state: None,
        state_interval: std::time::Duration::from_secs(300),
        loss_warning_percent: medtap::pipeline::DEFAULT_LOSS_WARNING_PERCENT,
        memcap: medtap::pipeline::budget::DEFAULT_MEMCAP,
        policy: None,
    }
}

fn feed(workers: usize, baselines: bool, frames: &[common::Frame]) {
    let flag = Arc::new(AtomicBool::new(false));
    let outputs = Outputs::open(
        &[SinkSpec::File("/dev/null".into())],
        None,
        Arc::clone(&flag),
        Arc::clone(&flag),
    )
    .expect("sink opens");
    let mut pipeline =
        Pipeline::start(&config(workers, baselines), outputs, false).expect("starts");
    let dispatcher = pipeline.dispatcher();
    dispatcher.source_started(0, "bench", LinkType::Ethernet);
    for frame in frames {
        dispatcher.packet(&CapturedPacket {
            ts: frame.ts,
            wire_len: frame.data.len() as u32,
            data: &frame.data,
        });
    }
    pipeline.finish().expect("finishes");
}

fn bench_dispatch(c: &mut Criterion) {
    let frames = common::packet_mix(200_000, 4_000, 11);
    let mut group = c.benchmark_group("dispatch");
    group.sample_size(10);
    group.throughput(Throughput::Elements(frames.len() as u64));
    for workers in [1usize, 2] {
        group.bench_function(format!("{workers}_workers"), |b| {
            b.iter_batched(
                || (),
                |()| feed(workers, true, &frames),
                BatchSize::PerIteration,
            )
        });
    }
    // Inventory and protocol records alone, for the cost of baselines.
    group.bench_function("1_worker_no_baselines", |b| {
        b.iter_batched(|| (), |()| feed(1, false, &frames), BatchSize::PerIteration)
    });
    group.finish();
}

criterion_group!(benches, bench_dispatch);
criterion_main!(benches);
