//! The pipeline: capture thread → worker shards → merge → sinks.
//!
//! ```text
//!  capture thread            workers (N)                 merge thread        sinks
//!  libpcap → decode ─hash─► [batch] ─bounded chan─► flows, endpoints ─► order by seq ─► JSON lines
//!         ▲                    │                          device registry
//!         └── free batches ◄───┘                           device table (dashmap)
//! ```
//!
//! * The capture thread decodes each frame once, hashes its flow key (the key
//!   is symmetric, so both directions reach the same worker) and copies the
//!   frame into that worker's `Batch`: one copy into a pooled arena. Full
//!   batches go over a bounded channel; processed batches come back through a
//!   free list, so the steady state allocates nothing per packet. When the
//!   free list is empty the capture thread waits: backpressure, not loss, in a
//!   replay (live, the kernel buffer absorbs it and libpcap counts the drops).
//! * Every packet has a sequence number. Each batch, and every
//!   [`WATERMARK_INTERVAL_PACKETS`] a bare watermark, tells a worker how far
//!   the capture has read; the worker passes it on with its observations.
//! * A bare watermark, or a batch flushed with one, reaches every worker at
//!   the same sequence number: a synchronisation point. Workers end idle
//!   flows (and report the protocol records those flows complete) only
//!   there, ordered by packet time and flow, never at a moment that depends
//!   on how packets were spread over workers.
//! * The merge thread releases observations only up to the lowest watermark
//!   of all workers, in sequence order, and makes every order-dependent
//!   decision (which device a sender is) there. So the output is the same,
//!   byte for byte, for any number of workers.

pub mod budget;
mod dispatch;
mod health;
mod merge;
mod worker;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::thread;
use std::time::Duration;

use crossbeam_channel::bounded;
use thiserror::Error;

use crate::baseline::Engine;
use crate::baseline::engine::EngineConfig;
use crate::baseline::state::StateError;
use crate::capture::{self, CaptureError, Source};
use crate::decode::DecodeOptions;
use crate::device::{DeviceLimits, DeviceTable, HomeNets, Registry};
use crate::flow::FlowConfig;
use crate::output::{OutputError, Outputs};

pub use dispatch::Dispatcher;
pub use health::DEFAULT_LOSS_WARNING_PERCENT;

/// What one flow takes in a worker's table, in bytes (see
/// [`crate::flow::slot_bytes`]).
pub const FLOW_SLOT_BYTES: usize = crate::flow::slot_bytes::<worker::FlowState>();

/// Packets in one batch at most.
pub const BATCH_PACKETS: usize = 256;
/// Bytes of frames in one batch before it is sent, whatever its packet count.
pub const BATCH_BYTES: usize = 256 * 1024;
/// Batches queued to one worker at most (the bounded channel's capacity).
pub const WORKER_QUEUE_BATCHES: usize = 8;
/// Reports (one per batch or watermark a worker has handled) queued to the
/// merge stage per worker at most. A worker that finds the queue full waits:
/// in a replay the wait reaches the capture thread, which reads no faster
/// than the merge stage writes; live, the kernel's capture buffer absorbs
/// it and libpcap counts what it drops (`stats.capture`). Without the bound
/// a merge stage slower than the workers would queue without limit.
pub const REPORT_QUEUE_PER_WORKER: usize = 64;
/// Packets between watermarks sent to every worker, so the merge stage can
/// release events even from workers that receive little traffic.
pub const WATERMARK_INTERVAL_PACKETS: u64 = 8192;
/// Packet time between synchronisation points at most (while packets
/// arrive), so idle flows end and rate bins close on time: one second, the
/// short-window rates' bin, so a burst is judged at the first packet after
/// each of its seconds.
pub const SYNC_INTERVAL_MICROS: crate::time::Micros = 1_000_000;
/// Default `--record-interval`: a connection open five minutes is in the
/// SIEM, not only when it ends, which may be months away.
pub const DEFAULT_RECORD_INTERVAL: Duration = Duration::from_secs(300);
/// Default seconds between `stats` events (and inventory writes) live.
pub const DEFAULT_STATS_INTERVAL_SECS: u64 = 60;

/// What the capture thread counted, handed to the final `stats` event; kept
/// here, between the capture thread that counts and the merge stage that
/// reports, so that neither stage imports the other for it.
#[derive(Debug, Clone, Default)]
pub struct CaptureTotals {
    /// Capture counters.
    pub capture: crate::event::CaptureStats,
    /// Decoder counters.
    pub decode: crate::decode::DecodeCounters,
    /// The capture's clock: packet time as the packets agree on it (see
    /// `CLOCK_STEP_MICROS` in the dispatcher).
    pub last_ts: crate::time::Micros,
    /// Batches sent.
    pub batches: u64,
    /// Times the capture thread waited for a free batch.
    pub batch_waits: u64,
}

/// Everything the pipeline needs to know.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Worker threads.
    pub workers: usize,
    /// Decoder options.
    pub decode: DecodeOptions,
    /// Flow-table settings.
    pub flow: FlowConfig,
    /// Networks whose senders are devices.
    pub home_nets: HomeNets,
    /// Interval for live `stats` events and inventory writes.
    pub stats_interval: Duration,
    /// Where to write the inventory, if anywhere.
    pub inventory: Option<PathBuf>,
    /// BPF filter.
    pub filter: Option<String>,
    /// Whether to write one protocol event per DICOM association, HL7
    /// message and MQTT connection.
    pub log_protocols: bool,
    /// With `log_protocols`: records list everything at length rather than
    /// a summary ([`crate::proto::Record::summarise`]).
    pub full_records: bool,
    /// With `log_protocols`: an MQTT connection or DICOM association open
    /// this long (packet time) gets an interim record, and another every
    /// interval; zero writes records only at the end.
    pub record_interval: Duration,
    /// Whether devices are baselined and alerts raised at all.
    pub baselines: bool,
    /// Learning, detectors and aggregation.
    pub baseline: EngineConfig,
    /// The state file: loaded at start when it exists, saved at the end and
    /// every `state_interval` live.
    pub state: Option<PathBuf>,
    /// How often the state is saved live.
    pub state_interval: Duration,
    /// Live capture loss, in percent of an interval's packets, above which a
    /// `warning` event is written.
    pub loss_warning_percent: f64,
    /// The memory budget in bytes (`--memcap`), shared out by
    /// [`budget::Shares`].
    pub memcap: u64,
    /// The segmentation policy connections are judged against
    /// (`--policy`): each one it would not allow is a `policy_violation`.
    pub policy: Option<Arc<crate::policy::Watch>>,
}

/// Default seconds between state saves live.
pub const DEFAULT_STATE_INTERVAL_SECS: u64 = 300;

/// The default worker count: one per core beyond the one the capture thread
/// needs, at least one.
pub fn default_workers() -> usize {
    thread::available_parallelism()
        .map(|n| n.get().saturating_sub(1))
        .unwrap_or(1)
        .max(1)
}

/// Why a run failed.
#[derive(Debug, Error)]
pub enum RunError {
    /// The capture could not be read (events up to the damage were written).
    #[error(transparent)]
    Capture(#[from] CaptureError),
    /// A sink or the inventory could not be written.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// The state file was refused or could not be written.
    #[error(transparent)]
    State(#[from] StateError),
    /// A pipeline thread panicked.
    #[error("internal error: {0} thread panicked")]
    Panicked(&'static str),
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Every packet was read.
    Complete,
    /// A signal stopped it.
    Stopped,
}

/// How a run ended, for the operator: the final `stats` and each network
/// sink's counts once it had delivered, spooled or dropped everything.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// The final `stats` event's content.
    pub stats: Option<crate::event::Stats>,
    /// Network sinks, after closing.
    pub sinks: Vec<crate::event::SinkStats>,
}

/// A frame's place in the batch and what the decoder found in it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PacketMeta {
    pub seq: u64,
    pub ts: crate::time::Micros,
    pub source: u16,
    pub wire_len: u32,
    pub offset: u32,
    pub caplen: u32,
    pub decoded: crate::decode::Decoded,
    /// An IP packet's flow key and whether the key's `lo` end sent it,
    /// made once by the dispatcher (which hashes it to pick the worker)
    /// and used as is by the worker's flow table.
    pub flow: Option<(crate::flow::FlowKey, bool)>,
}

/// The flow key of a decoded IP packet, and whether the key's `lo` end
/// sent it; `None` for anything but IP.
pub(crate) fn flow_key(decoded: &crate::decode::Decoded) -> Option<(crate::flow::FlowKey, bool)> {
    let crate::decode::Network::Ip {
        src, dst, proto, ..
    } = decoded.network
    else {
        return None;
    };
    let (src_port, dst_port) = crate::flow::flow_ports(&decoded.transport, src.is_ipv6());
    Some(crate::flow::FlowKey::new(
        crate::flow::Endpoint {
            addr: src,
            port: src_port,
        },
        crate::flow::Endpoint {
            addr: dst,
            port: dst_port,
        },
        proto,
        decoded.vlan,
    ))
}

/// Frames for one worker, in one pooled arena.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub arena: Vec<u8>,
    pub packets: Vec<PacketMeta>,
    /// Sequence number of the latest packet read when the batch was sent.
    pub watermark: u64,
    /// Packet time of that packet.
    pub clock: crate::time::Micros,
    /// Whether every worker gets a message at this sequence number: a
    /// synchronisation point, where workers end idle flows. Only there, so
    /// which flows end when does not depend on the number of workers.
    pub sync: bool,
}

impl Batch {
    fn with_capacity() -> Batch {
        Batch {
            arena: Vec::with_capacity(BATCH_BYTES + crate::capture::DEFAULT_SNAPLEN as usize),
            packets: Vec::with_capacity(BATCH_PACKETS),
            watermark: 0,
            clock: 0,
            sync: false,
        }
    }

    fn clear(&mut self) {
        self.arena.clear();
        self.packets.clear();
    }
}

/// What the capture thread sends a worker.
pub(crate) enum WorkerMsg {
    Batch(Batch),
    Watermark {
        seq: u64,
        clock: crate::time::Micros,
    },
}

/// A started pipeline: worker and merge threads running, waiting for
/// packets through [`Pipeline::dispatcher`].
pub struct Pipeline {
    dispatcher: Dispatcher,
    worker_handles: Vec<thread::JoinHandle<()>>,
    merge_handle: thread::JoinHandle<(merge::Merger, Result<(), OutputError>)>,
    table: Arc<DeviceTable>,
    inventory: Option<PathBuf>,
}

impl Pipeline {
    /// Starts the worker and merge threads. `live` selects periodic `stats`
    /// and inventory writes and wall-clock `stats` timestamps.
    pub fn start(
        config: &PipelineConfig,
        outputs: Outputs,
        live: bool,
    ) -> Result<Pipeline, RunError> {
        let workers = config.workers.max(1);
        let shares = budget::Shares::of(config.memcap, workers, config.flow.max_flows);
        let flow_config = FlowConfig {
            max_flows: shares.flows_per_worker,
            max_bytes: shares.flow_bytes_per_worker,
            ..config.flow.clone()
        };
        let table = Arc::new(DeviceTable::with_limits(DeviceLimits {
            devices: shares.devices,
            traffic_entries: shares.traffic_entries,
            gateway_candidates: shares.gateway_candidates,
        }));
        let mut registry = Registry::new(config.home_nets.clone());
        let mut engine = Engine::new(config.baseline.clone());
        if let Some(path) = &config.state {
            crate::baseline::state::load(path, &table, &mut registry, &mut engine)?;
        }
        let (report_tx, report_rx) = bounded::<worker::Report>(workers * REPORT_QUEUE_PER_WORKER);
        let pool_size = workers * (WORKER_QUEUE_BATCHES + 2);
        let (free_tx, free_rx) = bounded::<Batch>(pool_size);

        let mut worker_txs = Vec::with_capacity(workers);
        let mut worker_handles = Vec::with_capacity(workers);
        for id in 0..workers {
            let (tx, rx) = bounded::<WorkerMsg>(WORKER_QUEUE_BATCHES);
            worker_txs.push(tx);
            let worker = worker::Worker::new(
                id,
                flow_config.clone(),
                Arc::clone(&table),
                report_tx.clone(),
                free_tx.clone(),
                worker::Options {
                    log_protocols: config.log_protocols,
                    record_interval: crate::baseline::micros(config.record_interval),
                    baselines: config.baselines,
                    held_bytes: shares.held_bytes_per_worker,
                    rate_entries: shares.rate_entries_per_worker,
                },
            );
            let handle = thread::Builder::new()
                .name(format!("medtap-worker-{id}"))
                .spawn(move || worker.run(rx))
                .map_err(|_| RunError::Panicked("worker"))?;
            worker_handles.push(handle);
        }
        drop(report_tx);
        drop(free_tx);

        let shared = Arc::new(merge::SharedCounters::default());
        let merger = merge::Merger::new(
            workers,
            Arc::clone(&table),
            registry,
            engine,
            outputs,
            Arc::clone(&shared),
            merge::Periodic {
                live,
                interval: config.stats_interval,
                inventory: config.inventory.clone(),
                workers,
                log_protocols: config.log_protocols,
                full_records: config.full_records,
                baselines: config.baselines,
                state: config.state.clone(),
                state_interval: config.state_interval,
                loss_warning_percent: config.loss_warning_percent,
                policy: config.policy.clone(),
            },
        );
        let merge_handle = thread::Builder::new()
            .name("medtap-merge".into())
            .spawn(move || merger.run(report_rx))
            .map_err(|_| RunError::Panicked("merge"))?;
        let dispatcher = Dispatcher::new(config, worker_txs, free_rx, pool_size, shared);
        Ok(Pipeline {
            dispatcher,
            worker_handles,
            merge_handle,
            table,
            inventory: config.inventory.clone(),
        })
    }

    /// The packet handler to feed (the capture thread's side).
    pub fn dispatcher(&mut self) -> &mut Dispatcher {
        &mut self.dispatcher
    }

    /// The device table.
    pub fn devices(&self) -> &Arc<DeviceTable> {
        &self.table
    }

    /// Drains the workers, writes the final `stats` event and the inventory,
    /// and closes the sinks.
    pub fn finish(self) -> Result<Summary, RunError> {
        let Pipeline {
            mut dispatcher,
            worker_handles,
            merge_handle,
            table,
            inventory,
        } = self;
        let totals = dispatcher.finish();
        drop(dispatcher);
        for handle in worker_handles {
            handle.join().map_err(|_| RunError::Panicked("worker"))?;
        }
        let (mut merger, merged) = merge_handle
            .join()
            .map_err(|_| RunError::Panicked("merge"))?;
        merged?;
        merger.emit_final_stats(&totals)?;
        if let Some(path) = &inventory {
            crate::output::write_inventory(path, &table)?;
        }
        let saved = merger.save_state();
        let stats = merger.final_stats().cloned();
        let sinks = merger.close()?;
        saved?;
        Ok(Summary { stats, sinks })
    }
}

/// Runs the whole pipeline on `source` and writes events to `outputs`.
/// A damaged capture still has every packet before the damage processed and
/// its events written before the error is returned.
pub fn run(
    source: &Source,
    config: &PipelineConfig,
    outputs: Outputs,
    stop: &AtomicBool,
) -> Result<(Ending, Summary), RunError> {
    let live = matches!(source, Source::Live(_));
    let mut pipeline = Pipeline::start(config, outputs, live)?;
    let captured = capture::run(
        source,
        config.filter.as_deref(),
        stop,
        pipeline.dispatcher(),
    );
    // The capture's error is the cause of anything that fails after it
    // (after a refused switch to `--user`, the final inventory write).
    let finished = pipeline.finish();
    let stopped = captured.inspect_err(|_| {
        if let Err(also) = &finished {
            tracing::error!("{also}");
        }
    })?;
    let summary = finished?;
    let ending = if stopped && !live {
        Ending::Stopped
    } else {
        Ending::Complete
    };
    Ok((ending, summary))
}
