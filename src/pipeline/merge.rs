//! The merge stage: observations from every worker, in packet order.
//!
//! Each worker's observations arrive in sequence order, with a watermark
//! below which that worker will send nothing more. The merge releases an
//! observation once every worker's watermark has passed it, always taking the
//! lowest sequence number first; the result is the order a single thread
//! would have produced.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};

use super::CaptureTotals;
use super::health::LossWatch;
use super::worker::{Observation, Observed, Report};
use crate::baseline::Engine;
use crate::baseline::state::{self, StateError};
use crate::device::{DeviceTable, EQUIPMENT_FACTS, EndpointKey, Equipment, Registry, Sighting};
use crate::event::PacketTuple;
use crate::event::{Body, Event, FlowStats, PipelineStats, Stats, Timestamp};
use crate::flow::FlowCounters;
use crate::flow::reassembly::ReassemblyCounters;
use crate::output::{OutputError, Outputs};
use crate::proto::Side;
use crate::proto::dicom::DicomObservation;
use crate::proto::session::{ProtocolCounters, ProtocolObservation};

/// How long the final `stats` event waits for network sinks to account for
/// the events before it.
const FINAL_SETTLE_TIMEOUT: Duration = Duration::from_secs(2);

/// Counters the capture thread publishes for live `stats` events.
#[derive(Default)]
pub(crate) struct SharedCounters {
    capture: Mutex<CaptureTotals>,
    source_names: Mutex<Vec<Arc<str>>>,
}

impl SharedCounters {
    pub(crate) fn publish_capture(&self, totals: &CaptureTotals) {
        if let Ok(mut slot) = self.capture.lock() {
            slot.clone_from(totals);
        }
    }

    fn capture(&self) -> CaptureTotals {
        self.capture.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

/// Live periodic work.
pub(crate) struct Periodic {
    pub live: bool,
    pub interval: Duration,
    pub inventory: Option<PathBuf>,
    pub workers: usize,
    pub log_protocols: bool,
    /// Whether protocol records are written whole, not summarised.
    pub full_records: bool,
    /// Whether devices are baselined and alerts raised.
    pub baselines: bool,
    /// Where identities and baselines are saved, and how often live.
    pub state: Option<PathBuf>,
    pub state_interval: Duration,
    /// Capture loss, in percent of an interval's packets, above which a
    /// `warning` event is written (live).
    pub loss_warning_percent: f64,
    /// The policy connections are judged against, if any.
    pub policy: Option<Arc<crate::policy::Watch>>,
}

struct WorkerState {
    queue: VecDeque<Observation>,
    watermark: u64,
    flows: FlowCounters,
    reassembly: ReassemblyCounters,
    protocols: ProtocolCounters,
    active_flows: u64,
    rates_dropped: u64,
    done: bool,
}

pub(crate) struct Merger {
    workers: Vec<WorkerState>,
    table: Arc<DeviceTable>,
    registry: Registry,
    engine: Engine,
    outputs: Outputs,
    shared: Arc<SharedCounters>,
    periodic: Periodic,
    source_names: Vec<Arc<str>>,
    started: Instant,
    last_periodic: Instant,
    last_state_save: Instant,
    /// The latest rate bin every worker has closed.
    closed_bin: crate::flow::Micros,
    /// The latest second every worker has closed.
    closed_second: crate::flow::Micros,
    /// Packet time of the latest observation released.
    clock: crate::flow::Micros,
    loss: LossWatch,
    /// The final `stats`, once written (for the run's summary).
    final_stats: Option<Stats>,
    /// The source and number of the packet whose observation is being
    /// handled, if it is one packet's.
    packet: Option<(u16, u64)>,
}

impl Merger {
    pub(crate) fn new(
        workers: usize,
        table: Arc<DeviceTable>,
        registry: Registry,
        engine: Engine,
        outputs: Outputs,
        shared: Arc<SharedCounters>,
        periodic: Periodic,
    ) -> Merger {
        let now = Instant::now();
        let loss = LossWatch::new(periodic.loss_warning_percent);
        Merger {
            workers: (0..workers)
                .map(|_| WorkerState {
                    queue: VecDeque::new(),
                    watermark: 0,
                    flows: FlowCounters::default(),
                    reassembly: ReassemblyCounters::default(),
                    protocols: ProtocolCounters::default(),
                    active_flows: 0,
                    rates_dropped: 0,
                    done: false,
                })
                .collect(),
            table,
            registry,
            engine,
            outputs,
            shared,
            periodic,
            source_names: Vec::new(),
            started: now,
            last_periodic: now,
            final_stats: None,
            packet: None,
            last_state_save: now,
            closed_bin: crate::flow::Micros::MIN,
            closed_second: crate::flow::Micros::MIN,
            clock: crate::flow::Micros::MIN,
            loss,
        }
    }

    /// Runs until every worker has sent its last report; hands itself back
    /// so the caller can write the final `stats` event after the capture
    /// thread's totals are known.
    pub(crate) fn run(mut self, reports: Receiver<Report>) -> (Merger, Result<(), OutputError>) {
        let result = self.run_inner(&reports);
        if result.is_err() {
            // Nothing more can be written: the capture stops (live, it
            // would otherwise read on forever), and the run reports it.
            crate::output::stop_run();
        }
        (self, result)
    }

    fn run_inner(&mut self, reports: &Receiver<Report>) -> Result<(), OutputError> {
        let tick = if self.periodic.live {
            self.periodic.interval.min(Duration::from_secs(1))
        } else {
            Duration::from_secs(3600)
        };
        loop {
            match reports.recv_timeout(tick) {
                Ok(report) => self.accept(report),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            // Take whatever else is waiting before releasing, so releases
            // happen in larger steps.
            while let Ok(report) = reports.try_recv() {
                self.accept(report);
            }
            self.release()?;
            self.outputs.flush_pending()?;
            if self.periodic.live && self.last_periodic.elapsed() >= self.periodic.interval {
                let stats = self.stats(&self.shared.capture(), true);
                self.emit_stats(Timestamp::now(), stats)?;
                if let Some(path) = &self.periodic.inventory {
                    crate::output::write_inventory(path, &self.table)?;
                }
                self.outputs.flush_pending()?;
            }
            if self.periodic.live && self.last_state_save.elapsed() >= self.periodic.state_interval
            {
                self.last_state_save = Instant::now();
                if let Err(e) = self.save_state() {
                    tracing::warn!("{e}");
                }
            }
        }
        for worker in &mut self.workers {
            worker.done = true;
        }
        self.release()?;
        self.engine.finish(&self.table);
        self.emit_alerts()?;
        self.outputs.flush_pending()
    }

    /// Saves identities and baselines to the state file, if there is one.
    pub(crate) fn save_state(&self) -> Result<(), StateError> {
        match &self.periodic.state {
            Some(path) => state::save(path, &self.table, &self.registry, &self.engine),
            None => Ok(()),
        }
    }

    /// Writes the alerts the engine has ready.
    fn emit_alerts(&mut self) -> Result<(), OutputError> {
        for (ts, flow, alert) in self.engine.take_ready() {
            self.emit_at(ts, flow, Body::Alert(Box::new(alert)))?;
        }
        Ok(())
    }

    fn accept(&mut self, report: Report) {
        let Some(state) = self.workers.get_mut(report.worker) else {
            return;
        };
        state.queue.extend(report.observations);
        state.watermark = state.watermark.max(report.watermark);
        state.flows = report.flows;
        state.reassembly = report.reassembly;
        if let Some(protocols) = report.protocols {
            state.protocols = protocols;
        }
        state.active_flows = report.active_flows;
        state.rates_dropped = report.rates_dropped;
        state.done |= report.last;
    }

    /// Releases every observation that no worker can still precede.
    fn release(&mut self) -> Result<(), OutputError> {
        let safe = self
            .workers
            .iter()
            .map(|w| if w.done { u64::MAX } else { w.watermark })
            .min()
            .unwrap_or(u64::MAX);
        loop {
            let next = self
                .workers
                .iter()
                .enumerate()
                .filter_map(|(i, w)| w.queue.front().map(|o| (o.order(), i)))
                .filter(|((seq, _, _), _)| *seq <= safe)
                .min();
            let Some((_, index)) = next else {
                return Ok(());
            };
            let Some(observation) = self
                .workers
                .get_mut(index)
                .and_then(|w| w.queue.pop_front())
            else {
                return Ok(());
            };
            self.handle(observation)?;
        }
    }

    fn handle(&mut self, observation: Observation) -> Result<(), OutputError> {
        let ts = observation.ts;
        let of_packet = !matches!(
            observation.what,
            Observed::Tick { .. } | Observed::Rates(_) | Observed::Seconds(_)
        );
        if of_packet {
            self.clock = self.clock.max(ts);
            self.engine.clock(ts);
        }
        // Observations made where flows end (a synchronisation point) are
        // not any one packet's.
        self.packet = (of_packet && observation.sub.0 == crate::flow::Micros::MIN)
            .then_some((observation.source, observation.seq));
        match observation.what {
            Observed::Sender { endpoint, tuple } => {
                if let Sighting::New(record) = self.registry.observe(&self.table, endpoint, ts) {
                    self.emit_at(ts, tuple.map(|t| t.fields(None)), Body::Device(record))?;
                    if self.periodic.baselines
                        && let Some(key) = self.table.device_of(&endpoint)
                    {
                        let flow = tuple.map(|t| (t, None));
                        self.engine.new_device(&self.table, key, ts, flow);
                    }
                }
            }
            Observed::Named { tuple, names } => {
                for (ip, name) in &names {
                    if let Some(device) = self.registry.named(&self.table, *ip, name) {
                        self.emit_at(ts, Some(tuple.fields(None)), Body::Device(device))?;
                    }
                }
            }
            Observed::Announced {
                endpoint,
                tuple,
                facts,
            } => {
                // A DHCP client's vendor class and option list are also
                // clues to its operating system.
                let mut outdated = None;
                let mut posture_changed = false;
                for finding in facts
                    .iter()
                    .flat_map(|(name, value)| dhcp_clues(name, value))
                {
                    let seen = crate::device::posture::Seen {
                        ts,
                        port: tuple.map_or(0, |t| t.dst_port),
                        server: false,
                    };
                    if let Some((_, change)) =
                        self.registry.found(&self.table, endpoint, &finding, seen)
                    {
                        posture_changed |= change.announce;
                        outdated = outdated.or(change.outdated);
                    }
                }
                let facts = facts.iter().map(|(name, value)| (*name, value.as_str()));
                let record = self
                    .registry
                    .identify(&self.table, endpoint, facts)
                    .or_else(|| {
                        posture_changed
                            .then(|| self.table.device_of(&endpoint))
                            .flatten()
                            .and_then(|key| self.table.with_device(&key, |d| Box::new(d.record())))
                    });
                if let Some(device) = record {
                    self.emit_at(ts, tuple.map(|t| t.fields(None)), Body::Device(device))?;
                }
                if let (Some(os), Some(tuple)) = (outdated, tuple)
                    && self.periodic.baselines
                    && let Some(key) = self.table.device_of(&endpoint)
                {
                    let change = crate::device::posture::Change {
                        outdated: Some(os),
                        ..Default::default()
                    };
                    self.engine.posture(&self.table, key, ts, tuple, &change);
                }
            }
            Observed::Connection {
                tuple,
                client,
                server,
                opened,
                answered,
            } => {
                let ends = [client, server];
                if opened
                    && self.periodic.baselines
                    && let Some(watch) = &self.periodic.policy
                    && let Some((key, finding)) = watch.finding(&self.table, &tuple, ends)
                {
                    let flow = Some((tuple, None));
                    self.engine
                        .raise_finding(&self.table, &key, ts, flow, finding);
                }
                self.engine
                    .connection(&self.table, ts, tuple, ends, opened, answered);
            }
            Observed::Rates(sample) => self.engine.rates(&self.table, sample),
            Observed::Seconds(samples) => {
                for sample in samples {
                    self.engine.bursts(&self.table, sample);
                }
            }
            Observed::Tick { bin, second } => {
                // Every worker sends one; the first closes the bins.
                if second > self.closed_second {
                    self.closed_second = second;
                    self.engine.burst_tick(&self.table, second);
                }
                if bin > self.closed_bin {
                    self.closed_bin = bin;
                    self.engine.tick(&self.table, bin);
                }
            }
            Observed::Protocol {
                tuple,
                client,
                server,
                observation: what,
            } => self.protocol(observation.ts, tuple, [client, server], &what)?,
            Observed::Found {
                tuple,
                endpoint,
                server,
                finding,
            } => {
                let seen = crate::device::posture::Seen {
                    ts,
                    port: tuple.dst_port,
                    server,
                };
                if let Some((record, change)) =
                    self.registry.found(&self.table, endpoint, &finding, seen)
                {
                    if change.announce {
                        self.emit_at(ts, Some(tuple.fields(None)), Body::Device(record))?;
                    }
                    if self.periodic.baselines
                        && let Some(key) = self.table.device_of(&endpoint)
                    {
                        self.engine.posture(&self.table, key, ts, tuple, &change);
                    }
                }
            }
            Observed::Record { tuple, mut record } => {
                if self.periodic.log_protocols {
                    if !self.periodic.full_records {
                        record.summarise();
                    }
                    self.emit_at(
                        ts,
                        Some(tuple.fields(Some(record.name()))),
                        Body::Protocol(record),
                    )?;
                }
            }
        }
        self.emit_alerts()
    }

    /// A protocol observation: what it says about either endpoint goes to
    /// the device table (a `device` event for each device that learned
    /// something), then to the detectors.
    fn protocol(
        &mut self,
        ts: crate::flow::Micros,
        tuple: PacketTuple,
        [client, server]: [EndpointKey; 2],
        observation: &ProtocolObservation,
    ) -> Result<(), OutputError> {
        let mut facts = Vec::new();
        observation.facts(&mut facts);
        // A data set's equipment is its maker's: a forwarder's relays are
        // neither its identity nor a change of it.
        if let ProtocolObservation::Dicom(DicomObservation::Equipment(equipment)) = observation {
            let (sender, receiver) = match equipment.sender {
                Side::Client => (client, server),
                Side::Server => (server, client),
            };
            let mine: Vec<(&'static str, &str)> = facts
                .iter()
                .filter(|f| f.side == equipment.sender)
                .map(|f| (f.name, f.value.as_str()))
                .collect();
            let image = equipment.sop_instance_uid.as_deref();
            if let Equipment::Relayed(record) =
                self.registry
                    .equipment(&self.table, [sender, receiver], image, &mine)
            {
                facts.retain(|f| f.side != equipment.sender || !EQUIPMENT_FACTS.contains(&f.name));
                if let Some(device) = record {
                    self.emit_at(
                        ts,
                        Some(tuple.fields(Some(observation.name()))),
                        Body::Device(device),
                    )?;
                }
            }
        }
        let baselines = self.periodic.baselines;
        if baselines
            && let Some(watch) = &self.periodic.policy
            && let ProtocolObservation::Dicom(DicomObservation::Command {
                sent_by,
                command,
                sop_class_uid,
                ..
            }) = observation
        {
            let request =
                crate::baseline::detect::dicom::request_name(command, sop_class_uid.as_deref());
            let by_client = *sent_by == Side::Client;
            if let Some((key, finding)) =
                watch.dicom_finding(&self.table, &tuple, [client, server], by_client, &request)
            {
                let flow = Some((tuple, Some(observation.name())));
                self.engine
                    .raise_finding(&self.table, &key, ts, flow, finding);
            }
        }
        let devices = if baselines {
            [client, server].map(|e| self.table.device_of(&e))
        } else {
            [None; 2]
        };
        if baselines && !facts.is_empty() {
            self.engine
                .observed_facts(&self.table, ts, tuple, devices, observation, &facts);
        }
        let sides = if facts.is_empty() {
            // Nothing to learn about either end (a topic, a command).
            &[][..]
        } else {
            &[(Side::Client, client), (Side::Server, server)][..]
        };
        for &(side, endpoint) in sides {
            let mine = facts
                .iter()
                .filter(|f| f.side == side)
                .map(|f| (f.name, f.value.as_str()));
            if let Some(device) = self.registry.identify(&self.table, endpoint, mine) {
                self.emit_at(
                    ts,
                    Some(tuple.fields(Some(observation.name()))),
                    Body::Device(device),
                )?;
            }
        }
        if baselines {
            self.engine
                .observe(&self.table, ts, tuple, devices, observation);
        }
        Ok(())
    }

    /// Emits an event at packet time `ts`; while a packet's observation is
    /// handled, a replay's event names that packet (`pcap_filename`,
    /// `pcap_cnt`).
    fn emit_at(
        &mut self,
        ts: crate::flow::Micros,
        flow: Option<crate::event::FlowFields>,
        body: Body,
    ) -> Result<(), OutputError> {
        let (pcap_filename, pcap_cnt) = match self.packet {
            Some((source, seq)) if !self.periodic.live => (self.source_name(source), Some(seq)),
            _ => (None, None),
        };
        self.outputs.emit(&Event {
            timestamp: Timestamp(ts),
            pcap_filename,
            pcap_cnt,
            flow,
            body,
        })
    }

    fn source_name(&mut self, index: u16) -> Option<Arc<str>> {
        if self.periodic.live {
            return None;
        }
        if self.source_names.len() <= usize::from(index)
            && let Ok(names) = self.shared.source_names.lock()
        {
            self.source_names.clone_from(&names);
        }
        self.source_names.get(usize::from(index)).cloned()
    }

    fn emit(
        &mut self,
        timestamp: Timestamp,
        flow: Option<crate::event::FlowFields>,
        body: Body,
    ) -> Result<(), OutputError> {
        let event = Event {
            timestamp,
            pcap_filename: None,
            pcap_cnt: None,
            flow,
            body,
        };
        self.outputs.emit(&event)
    }

    fn stats(&self, totals: &CaptureTotals, live: bool) -> Stats {
        let mut flows = FlowCounters::default();
        let mut reassembly = ReassemblyCounters::default();
        let mut protocols = ProtocolCounters::default();
        let mut active = 0;
        for w in &self.workers {
            flows.merge(&w.flows);
            reassembly.merge(&w.reassembly);
            protocols.merge(&w.protocols);
            active += w.active_flows;
        }
        let mut device = self.table.stats();
        device.table_full = self.registry.table_full();
        device.evicted = self.registry.evicted();
        device.gateway_candidates_forgotten = self.registry.gateway_candidates_forgotten();
        device.pending_names_forgotten = self.registry.pending_names_forgotten();
        Stats {
            capture: totals.capture.clone(),
            decoder: (&totals.decode).into(),
            flow: FlowStats {
                total: flows.total(),
                tcp: flows.tcp,
                udp: flows.udp,
                icmp: flows.icmp,
                other: flows.other,
                active,
                timed_out: flows.timed_out,
                evicted: flows.evicted,
                rst_challenged: flows.rst_challenged,
                rst_out_of_window: flows.rst_out_of_window,
                syn_ignored: flows.syn_ignored,
                fin_ignored: flows.fin_ignored,
            },
            device,
            reassembly,
            protocols,
            pipeline: live.then(|| PipelineStats {
                workers: self.periodic.workers as u64,
                batches: totals.batches,
                batch_waits: totals.batch_waits,
                uptime_secs: self.started.elapsed().as_secs(),
            }),
            sinks: self.outputs.sink_stats(),
            alerts: self.engine.stats().clone(),
            baselines: crate::baseline::BaselineStats {
                rate_entries_dropped: self.workers.iter().map(|w| w.rates_dropped).sum(),
                ..self.engine.baseline_stats(&self.table, self.clock)
            },
            warnings: None,
        }
    }

    /// The last `stats` event: at the latest packet's time in a replay, at
    /// wall-clock time live.
    pub(crate) fn emit_final_stats(&mut self, totals: &CaptureTotals) -> Result<(), OutputError> {
        let live = self.periodic.live;
        self.outputs.settle(FINAL_SETTLE_TIMEOUT)?;
        let stats = self.stats(totals, live);
        let timestamp = if live {
            Timestamp::now()
        } else {
            Timestamp(totals.last_ts)
        };
        self.final_stats = Some(stats.clone());
        self.emit_stats(timestamp, stats)?;
        self.outputs.flush_pending()
    }

    /// The final `stats`, once written.
    pub(crate) fn final_stats(&self) -> Option<&Stats> {
        self.final_stats.as_ref()
    }

    /// A `stats` event, published to the metrics endpoint too; live, it
    /// ends an interval, and the capture-loss `warning` that interval calls
    /// for follows it at the same time.
    fn emit_stats(&mut self, timestamp: Timestamp, mut stats: Stats) -> Result<(), OutputError> {
        let warning = if self.periodic.live {
            let length = self.last_periodic.elapsed();
            self.last_periodic = Instant::now();
            self.loss.interval(&mut stats, length)
        } else {
            None
        };
        self.outputs.publish_metrics(&stats);
        self.emit(timestamp, None, Body::Stats(Box::new(stats)))?;
        match warning {
            Some(warning) => self.emit(timestamp, None, Body::Warning(Box::new(warning))),
            None => Ok(()),
        }
    }

    /// Flushes and closes every sink.
    /// Closes the outputs; returns each network sink's final counts.
    pub(crate) fn close(self) -> Result<Vec<crate::event::SinkStats>, OutputError> {
        self.outputs.close()
    }
}

/// Records the name of source `index` for `pcap_filename`.
pub(crate) fn register_source(shared: &SharedCounters, index: usize, name: &str) {
    if let Ok(mut names) = shared.source_names.lock() {
        if names.len() <= index {
            names.resize(index + 1, Arc::from(""));
        }
        if let Some(slot) = names.get_mut(index) {
            *slot = Arc::from(name);
        }
    }
}

/// The OS and software clues in a DHCP identity fact (`dhcp.vendor_class`,
/// `dhcp.fingerprint`).
fn dhcp_clues(name: &str, value: &str) -> Vec<crate::proto::handshake::Finding> {
    use crate::fingerprint::os;
    use crate::proto::handshake::Finding;
    let clues = match name {
        "dhcp.vendor_class" => os::from_dhcp_vendor_class(value),
        "dhcp.fingerprint" => os::Clues {
            os: os::from_dhcp_fingerprint_text(value),
            software: None,
        },
        _ => return Vec::new(),
    };
    clues
        .os
        .map(Finding::Os)
        .into_iter()
        .chain(clues.software.map(Finding::Software))
        .collect()
}
