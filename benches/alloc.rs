//! Heap allocations per packet in the steady state, counted by a global
//! allocator: the same flows are fed twice and only the second pass counts,
//! when every flow, device and batch buffer already exists.
//!
//! Run: `cargo bench --bench alloc`. Fails (non-zero exit) above the limit.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a benchmark stops on bad setup"
)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use medtap::capture::{CapturedPacket, PacketHandler};
use medtap::decode::LinkType;
use medtap::output::{Outputs, SinkSpec};
use medtap::pipeline::{Pipeline, PipelineConfig};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts.
#[allow(unsafe_code, reason = "a global allocator is an unsafe trait")]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations per packet allowed in the steady state. What remains are
/// per-batch costs (the report channel's blocks), amortised over 256 packets.
const MAX_ALLOCATIONS_PER_PACKET: f64 = 0.01;

fn main() {
    let frames = common::packet_mix(300_000, 4_000, 3);
    let flag = Arc::new(AtomicBool::new(false));
    let outputs = Outputs::open(
        &[SinkSpec::File("/dev/null".into())],
        None,
        Arc::clone(&flag),
        Arc::clone(&flag),
    )
    .expect("sink opens");
    let config = PipelineConfig {
        workers: 2,
        decode: Default::default(),
        flow: Default::default(),
        home_nets: Default::default(),
        stats_interval: std::time::Duration::from_secs(60),
        inventory: None,
        filter: None,
        log_protocols: false,
        full_records: false,
        record_interval: medtap::pipeline::DEFAULT_RECORD_INTERVAL,
        baselines: true,
        baseline: Default::default(),
        state: None,
        state_interval: std::time::Duration::from_secs(300),
        loss_warning_percent: medtap::pipeline::DEFAULT_LOSS_WARNING_PERCENT,
        memcap: medtap::pipeline::budget::DEFAULT_MEMCAP,
        policy: None,
    };
    let mut pipeline = Pipeline::start(&config, outputs, false).expect("starts");
    let dispatcher = pipeline.dispatcher();
    dispatcher.source_started(0, "bench", LinkType::Ethernet);
    let last_ts = frames.last().map(|f| f.ts).unwrap_or(0);
    let mut feed = |shift: i64| {
        for frame in &frames {
            dispatcher.packet(&CapturedPacket {
                ts: frame.ts + shift,
                wire_len: frame.data.len() as u32,
                data: &frame.data,
            });
        }
    };
    feed(0);
    // Let the workers catch up with the warm-up pass before counting.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    // Same flows again, shortly after: no flow has timed out.
    feed(last_ts - frames.first().map(|f| f.ts).unwrap_or(0) + 1);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let after = ALLOCATIONS.load(Ordering::Relaxed);
    pipeline.finish().expect("finishes");
    let per_packet = (after - before) as f64 / frames.len() as f64;
    println!(
        "steady state: {} allocations for {} packets = {per_packet:.5} per packet (limit {MAX_ALLOCATIONS_PER_PACKET})",
        after - before,
        frames.len()
    );
    if per_packet > MAX_ALLOCATIONS_PER_PACKET {
        eprintln!("alloc bench: too many allocations per packet");
        std::process::exit(1);
    }
}
