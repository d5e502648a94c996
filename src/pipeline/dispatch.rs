//! The capture thread's half: decode, hash, batch, send.

use std::hash::BuildHasher;
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};

use super::WATERMARK_INTERVAL_PACKETS;
use super::merge::SharedCounters;
use super::{
    BATCH_BYTES, BATCH_PACKETS, Batch, CaptureTotals, PacketMeta, PipelineConfig, WorkerMsg,
};
use crate::capture::{CapturedPacket, KernelStats, PacketHandler};
use crate::decode::{self, DecodeOptions, LinkType, Network};
use crate::event::CaptureStats;
use crate::flow::FlowKey;
use crate::time::Micros;

/// Fixed seed for the dispatch hash: which worker a flow lands on never
/// changes the output, and a fixed seed makes runs easy to compare.
const DISPATCH_SEED: u64 = 0x6d65_6474_6170;

/// Packet time more than this ahead of the capture's clock, or behind it,
/// is a jump, not the passing of time: a forward jump is followed only once
/// [`CLOCK_CONFIRMATIONS`] packets confirm it. The TCP idle timeout: a
/// quiet network may be silent that long.
pub const CLOCK_STEP_MICROS: Micros = 600_000_000;
/// Packets (the jumping one included) within [`CLOCK_STEP_MICROS`] of a
/// forward jump that make the clock follow it.
pub const CLOCK_CONFIRMATIONS: u32 = 8;

/// The capture's clock: packet time as the packets agree on it. One packet
/// stamped hours ahead cannot move it (it would end every flow at the next
/// sweep and close every rate bin); a real step of the clock, or the next
/// file of a replay, is followed once the packets after it confirm it.
#[derive(Debug, Clone, Copy)]
struct Clock {
    now: Micros,
    /// A forward jump waiting for confirmation: its time and how many
    /// packets confirmed it.
    jump: Option<(Micros, u32)>,
}

impl Default for Clock {
    fn default() -> Self {
        Clock {
            now: Micros::MIN,
            jump: None,
        }
    }
}

impl Clock {
    /// A packet at `ts`; counts jumps and outliers in `stats`.
    fn packet(&mut self, ts: Micros, stats: &mut CaptureStats) {
        if self.now == Micros::MIN {
            self.now = ts;
            return;
        }
        if ts <= self.now.saturating_add(CLOCK_STEP_MICROS) {
            self.jump = None;
            if ts < self.now.saturating_sub(CLOCK_STEP_MICROS) {
                stats.clock_outliers += 1;
            }
            self.now = self.now.max(ts);
            return;
        }
        let confirmed = match self.jump {
            Some((at, n)) if (ts - at).abs() <= CLOCK_STEP_MICROS => n + 1,
            _ => 1,
        };
        if confirmed >= CLOCK_CONFIRMATIONS {
            stats.clock_jumps += 1;
            // The packets that waited for confirmation were counted as
            // outliers; they were the new time after all.
            stats.clock_outliers = stats
                .clock_outliers
                .saturating_sub(u64::from(CLOCK_CONFIRMATIONS - 1));
            self.now = ts;
            self.jump = None;
        } else {
            stats.clock_outliers += 1;
            self.jump = Some((
                self.jump.filter(|_| confirmed > 1).map_or(ts, |(at, _)| at),
                confirmed,
            ));
        }
    }
}

/// Decodes packets and hands them to the worker that owns their flow.
pub struct Dispatcher {
    options: DecodeOptions,
    link: LinkType,
    source: u16,
    workers: Vec<Sender<WorkerMsg>>,
    batches: Vec<Option<Batch>>,
    free: Receiver<Batch>,
    allocated: usize,
    pool_size: usize,
    hasher: foldhash::fast::FixedState,
    seq: u64,
    last_watermark: u64,
    /// Packet time at which the next synchronisation point is due.
    next_sync_ts: Micros,
    totals: CaptureTotals,
    clock: Clock,
    shared: Arc<SharedCounters>,
    workers_gone: bool,
}

impl Dispatcher {
    pub(crate) fn new(
        config: &PipelineConfig,
        workers: Vec<Sender<WorkerMsg>>,
        free: Receiver<Batch>,
        pool_size: usize,
        shared: Arc<SharedCounters>,
    ) -> Dispatcher {
        let batches = workers.iter().map(|_| None).collect();
        Dispatcher {
            options: config.decode,
            link: LinkType::Ethernet,
            source: 0,
            workers,
            batches,
            free,
            allocated: 0,
            pool_size,
            hasher: foldhash::fast::FixedState::with_seed(DISPATCH_SEED),
            seq: 0,
            last_watermark: 0,
            next_sync_ts: Micros::MIN,
            totals: CaptureTotals::default(),
            clock: Clock::default(),
            shared,
            workers_gone: false,
        }
    }

    /// Sends what is left and returns the totals; the workers' channels
    /// close when the dispatcher is dropped.
    pub fn finish(&mut self) -> CaptureTotals {
        self.flush_all();
        self.publish();
        self.totals.clone()
    }

    /// The worker a packet goes to; `flow` is its flow key, for IP.
    fn worker_for(
        &self,
        decoded: &decode::Decoded,
        flow: Option<&(FlowKey, bool)>,
    ) -> Option<usize> {
        let hash = match decoded.network {
            Network::Ip { .. } => self.hasher.hash_one(flow.map(|(key, _)| key)?),
            Network::Arp { sender_ip, .. } => self.hasher.hash_one(sender_ip),
            // Link-layer announcements (LLDP, CDP) go to the worker of
            // their sender; other frames to none.
            Network::Other(ether_type) => match decoded.src_mac {
                // Hashed as ARP's sender is (the MAC's last four bytes), so
                // the hot IP path keeps its one hash function.
                Some([_, _, a, b, c, d])
                    if crate::proto::announce::link_may_announce(ether_type) =>
                {
                    self.hasher.hash_one(std::net::Ipv4Addr::new(a, b, c, d))
                }
                _ => return None,
            },
        };
        // Multiply-shift maps the hash evenly onto the workers.
        Some(((u128::from(hash) * self.workers.len() as u128) >> 64) as usize)
    }

    fn take_batch(&mut self) -> Batch {
        if let Ok(batch) = self.free.try_recv() {
            return batch;
        }
        if self.allocated < self.pool_size {
            self.allocated += 1;
            return Batch::with_capacity();
        }
        self.totals.batch_waits += 1;
        self.free.recv().unwrap_or_else(|_| Batch::with_capacity())
    }

    fn send(&mut self, worker: usize, msg: WorkerMsg) {
        let Some(tx) = self.workers.get(worker) else {
            return;
        };
        if tx.send(msg).is_err() {
            self.workers_gone = true;
        }
    }

    fn flush(&mut self, worker: usize, sync: bool) {
        let Some(mut batch) = self.batches.get_mut(worker).and_then(Option::take) else {
            return;
        };
        batch.watermark = self.seq;
        batch.clock = self.totals.last_ts;
        batch.sync = sync;
        self.totals.batches += 1;
        self.send(worker, WorkerMsg::Batch(batch));
    }

    /// Flushes every partial batch and tells idle workers how far we are.
    fn flush_all(&mut self) {
        for worker in 0..self.workers.len() {
            let has_batch = self.batches.get(worker).is_some_and(Option::is_some);
            if has_batch {
                self.flush(worker, true);
            } else {
                let msg = WorkerMsg::Watermark {
                    seq: self.seq,
                    clock: self.totals.last_ts,
                };
                self.send(worker, msg);
            }
        }
        self.last_watermark = self.seq;
        // On whole intervals of packet time, so a second (or a minute)
        // closes at the first packet after it, the same in every run.
        let interval = super::SYNC_INTERVAL_MICROS;
        let last = self.totals.last_ts;
        self.next_sync_ts = last
            .saturating_sub(last.rem_euclid(interval))
            .saturating_add(interval);
    }

    fn publish(&self) {
        self.shared.publish_capture(&self.totals);
    }
}

impl PacketHandler for Dispatcher {
    fn source_started(&mut self, index: usize, name: &str, link: LinkType) {
        super::merge::register_source(&self.shared, index, name);
        self.link = link;
        self.source = u16::try_from(index).unwrap_or(u16::MAX);
    }

    fn packet(&mut self, packet: &CapturedPacket<'_>) {
        self.seq += 1;
        let totals = &mut self.totals;
        totals.capture.packets += 1;
        totals.capture.bytes += u64::from(packet.wire_len);
        totals.capture.captured_bytes += packet.data.len() as u64;
        self.clock.packet(packet.ts, &mut totals.capture);
        totals.last_ts = self.clock.now;

        // With the length on the wire, an IP length past the frame is told
        // apart from a frame cut by the snap length.
        let decoded =
            match decode::decode_frame(self.link, packet.data, packet.wire_len, &self.options) {
                Ok(decoded) => decoded,
                Err(reason) => {
                    self.totals.decode.fail(reason);
                    return;
                }
            };
        self.totals.decode.count(&decoded);
        let flow = super::flow_key(&decoded);
        if let Some(worker) = self.worker_for(&decoded, flow.as_ref()) {
            if self.batches.get(worker).is_some_and(Option::is_none) {
                let fresh = self.take_batch();
                if let Some(slot) = self.batches.get_mut(worker) {
                    *slot = Some(fresh);
                }
            }
            // Filled in place: a batch is a few hundred bytes of bookkeeping,
            // not worth moving out and back for every packet.
            let full = match self.batches.get_mut(worker).and_then(Option::as_mut) {
                Some(batch) => {
                    let offset = batch.arena.len() as u32;
                    batch.arena.extend_from_slice(packet.data);
                    batch.packets.push(PacketMeta {
                        seq: self.seq,
                        ts: packet.ts,
                        source: self.source,
                        wire_len: packet.wire_len,
                        offset,
                        caplen: packet.data.len() as u32,
                        decoded,
                        flow,
                    });
                    batch.packets.len() >= BATCH_PACKETS || batch.arena.len() >= BATCH_BYTES
                }
                None => false,
            };
            if full {
                self.flush(worker, false);
            }
        }
        // Synchronisation points every so many packets, and every so much
        // packet time, so flows end and rate bins close on time in sparse
        // traffic too.
        if self.seq - self.last_watermark >= WATERMARK_INTERVAL_PACKETS
            || self.totals.last_ts >= self.next_sync_ts
        {
            self.flush_all();
            self.publish();
        }
    }

    fn idle(&mut self) {
        self.flush_all();
        self.publish();
    }

    fn kernel_stats(&mut self, stats: KernelStats) {
        self.totals.capture.kernel_received = Some(stats.received);
        self.totals.capture.kernel_drops = Some(stats.dropped);
        self.totals.capture.interface_drops = Some(stats.if_dropped);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Micros = 1_000_000;

    fn feed(clock: &mut Clock, times: &[Micros]) -> CaptureStats {
        let mut stats = CaptureStats::default();
        for ts in times {
            clock.packet(*ts, &mut stats);
        }
        stats
    }

    #[test]
    fn one_stray_packet_ahead_moves_nothing() {
        let mut clock = Clock::default();
        let stats = feed(&mut clock, &[100 * S, 101 * S, 7300 * S, 102 * S, 103 * S]);
        assert_eq!(clock.now, 103 * S);
        assert_eq!((stats.clock_jumps, stats.clock_outliers), (0, 1));
    }

    #[test]
    fn a_jump_the_next_packets_confirm_is_followed() {
        let mut clock = Clock::default();
        let mut times = vec![100 * S, 101 * S];
        times.extend((0..CLOCK_CONFIRMATIONS).map(|i| 7300 * S + Micros::from(i) * S));
        let stats = feed(&mut clock, &times);
        assert_eq!(
            clock.now,
            7300 * S + Micros::from(CLOCK_CONFIRMATIONS - 1) * S
        );
        assert_eq!((stats.clock_jumps, stats.clock_outliers), (1, 0));
    }

    #[test]
    fn a_quiet_spell_within_the_step_is_time_passing_and_the_past_is_an_outlier() {
        let mut clock = Clock::default();
        let stats = feed(&mut clock, &[100 * S, 650 * S, 10 * S, 651 * S]);
        assert_eq!(clock.now, 651 * S);
        assert_eq!((stats.clock_jumps, stats.clock_outliers), (0, 1));
    }
}
