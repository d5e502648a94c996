//! TCP reassembly: one direction of a connection turned back into the byte
//! stream its sender wrote, as the receiving host would hand it to its
//! application, for the protocol parsers.
//!
//! In-order segments are handed on in place, without a copy. A segment that
//! arrives ahead of a hole is copied and held until the hole fills. A hole
//! becomes a reported gap, never a silent splice, when
//!
//! - the receiver acknowledges bytes the sensor never saw (capture loss), or
//! - holding the next segment would exceed a budget, or
//! - the connection ends with segments still held.
//!
//! A connection picked up midstream (no SYN seen) starts at its first segment
//! with data. Every drop is counted.
//!
//! # The policy, rule by rule
//!
//! - **Overlaps: the first copy wins.** Bytes seen twice (retransmissions,
//!   overlaps, a copy whose data differs) are delivered once, as they first
//!   arrived: the receiving host keeps what it already queued or
//!   acknowledged, as Linux does and as Suricata's default policy. A later
//!   copy never shifts or rewrites the stream. A segment with a bad checksum
//!   is indistinguishable from a good one unless `--verify-checksums` drops
//!   it in the decoder (off by default, because of checksum offload); if it
//!   arrives first its bytes are kept — the price of reading host captures.
//! - **Out of order: held by bytes, not by count.** A direction holds at
//!   most [`MAX_HELD_BYTES_PER_DIRECTION`] bytes ahead of a hole, and a
//!   worker [`MAX_HELD_BYTES_PER_WORKER`] for all its connections. Each held
//!   segment is charged its payload plus [`HELD_SEGMENT_OVERHEAD`] bytes for
//!   its bookkeeping, so a flood of one-byte segments is bounded in memory
//!   too, yet hundreds of small segments ahead of the first one (4 032
//!   one-byte segments fit a direction) do not give up the connection. A
//!   segment that would exceed a budget gives up the hole before it: what
//!   is missing becomes a gap, what is held is delivered, and the stream
//!   goes on from that segment.
//! - **FIN: only in order, and never a byte.** A FIN takes effect when the
//!   stream reaches its sequence number (after the data it carries); one
//!   ahead of a hole waits for the hole to fill. A FIN occupies no place in
//!   the stream: data at or past a FIN's sequence number withdraws it (a
//!   sender never writes past its own FIN, so that FIN was injected, or
//!   dropped by the receiver for its checksum), and the data is delivered
//!   where it belongs. So a forged or corrupted FIN can neither end the
//!   stream nor shift it by one byte.
//! - **SYN: only the first sets the start.** A SYN sets where the stream
//!   starts only when nothing has; a later SYN with another ISN (after the
//!   handshake) changes nothing. Whether a SYN is accepted at all is the
//!   flow's decision (`crate::flow`).
//!
//! RST is not seen here: whether it ends the connection is the flow's
//! decision, by RFC 5961 (`crate::flow`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Serialize;

/// Out-of-order bytes held for one direction of one connection at most.
pub const MAX_HELD_BYTES_PER_DIRECTION: usize = 256 * 1024;
/// Bytes a held segment is charged on top of its payload, for its copy's
/// allocation and its place in the map: the memory a one-byte segment costs.
pub const HELD_SEGMENT_OVERHEAD: usize = 64;
/// Out-of-order bytes held by all the connections of one worker at most.
pub const MAX_HELD_BYTES_PER_WORKER: usize = 64 * 1024 * 1024;

/// A piece of the reassembled stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Chunk<'a> {
    /// The next bytes of the stream.
    Data(&'a [u8]),
    /// This many bytes of the stream were lost.
    Gap(u64),
}

/// Reassembly counters of one worker, summed into `stats` events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReassemblyCounters {
    /// Segments with data.
    pub segments: u64,
    /// Segments that arrived ahead of a hole and were held.
    pub out_of_order: u64,
    /// Segments wholly seen before (retransmissions).
    pub retransmitted: u64,
    /// Segments partly seen before; the part seen is dropped.
    pub overlaps: u64,
    /// Holes reported to the parsers as gaps.
    pub gaps: u64,
    /// Bytes lost in those holes.
    pub gap_bytes: u64,
    /// Directions picked up without their SYN.
    pub midstream: u64,
    /// Holes given up because a direction's budget was exhausted.
    pub flow_budget_exhausted: u64,
    /// Holes given up because the worker's budget was exhausted.
    pub worker_budget_exhausted: u64,
}

impl ReassemblyCounters {
    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &ReassemblyCounters) {
        self.segments += other.segments;
        self.out_of_order += other.out_of_order;
        self.retransmitted += other.retransmitted;
        self.overlaps += other.overlaps;
        self.gaps += other.gaps;
        self.gap_bytes += other.gap_bytes;
        self.midstream += other.midstream;
        self.flow_budget_exhausted += other.flow_budget_exhausted;
        self.worker_budget_exhausted += other.worker_budget_exhausted;
    }
}

/// The out-of-order bytes one worker holds, shared by its connections.
#[derive(Debug, Clone)]
pub struct Budget {
    used: Arc<AtomicUsize>,
    limit: usize,
}

impl Budget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Budget {
        Budget {
            used: Arc::new(AtomicUsize::new(0)),
            limit,
        }
    }

    /// Bytes held now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    fn try_take(&self, bytes: usize) -> bool {
        if self.used().saturating_add(bytes) > self.limit {
            return false;
        }
        self.used.fetch_add(bytes, Ordering::Relaxed);
        true
    }

    fn give_back(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::Relaxed);
    }
}

impl Default for Budget {
    fn default() -> Self {
        Budget::new(MAX_HELD_BYTES_PER_WORKER)
    }
}

/// What one TCP segment carries, for [`Stream::segment`].
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    /// Sequence number of its first byte (of the SYN, for a SYN).
    pub seq: u32,
    /// SYN flag.
    pub syn: bool,
    /// FIN flag.
    pub fin: bool,
    /// The payload as captured.
    pub payload: &'a [u8],
    /// Payload bytes on the wire that the capture cut off (snaplen).
    pub missing: u32,
}

/// One direction of a connection.
#[derive(Debug)]
pub struct Stream {
    /// Sequence number of the next byte expected, once known.
    next: Option<u32>,
    /// Segments ahead of a hole, by stream offset (counted like `delivered`).
    held: BTreeMap<u64, Vec<u8>>,
    held_bytes: usize,
    /// Stream offset of `next`: bytes delivered plus gap bytes.
    delivered: u64,
    /// Stream offset of the sender's FIN, once one is seen and not withdrawn.
    fin_at: Option<u64>,
    /// The stream has reached the sender's FIN.
    finished: bool,
    budget: Budget,
}

impl Stream {
    /// A stream drawing on `budget` for held segments.
    pub fn new(budget: Budget) -> Stream {
        Stream {
            next: None,
            held: BTreeMap::new(),
            held_bytes: 0,
            delivered: 0,
            fin_at: None,
            finished: false,
            budget,
        }
    }

    /// Payload bytes held out of order now.
    pub fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    /// What the held segments are charged against the budgets: their
    /// payload and [`HELD_SEGMENT_OVERHEAD`] each.
    pub fn charged(&self) -> usize {
        self.held_bytes + self.held.len() * HELD_SEGMENT_OVERHEAD
    }

    /// Whether the stream has reached the sender's FIN, in order.
    pub fn finished(&self) -> bool {
        self.finished
    }

    /// Takes one segment of this direction; hands on what is now in order.
    pub fn segment(
        &mut self,
        segment: Segment<'_>,
        counters: &mut ReassemblyCounters,
        deliver: &mut impl FnMut(Chunk<'_>),
    ) {
        if segment.syn {
            if self.next.is_none() {
                self.next = Some(segment.seq.wrapping_add(1));
            }
            return;
        }
        let len = segment.payload.len() as u64 + u64::from(segment.missing);
        if len == 0 && !segment.fin {
            return;
        }
        let next = match self.next {
            Some(next) => next,
            None => {
                counters.midstream += 1;
                self.next = Some(segment.seq);
                segment.seq
            }
        };
        if len > 0 {
            counters.segments += 1;
        }
        // Offset of the segment from the next expected byte; sequence
        // numbers wrap, and a window is far below 2 GiB.
        let ahead = i64::from(segment.seq.wrapping_sub(next) as i32);
        // Stream offset just past the segment's data: where a FIN it
        // carries sits.
        let end = self.delivered as i64 + ahead + len as i64;
        if len > 0 && self.fin_at.is_some_and(|fin| end > fin as i64) {
            // Data past a FIN: the sender never sent that FIN.
            self.fin_at = None;
            self.finished = false;
        }
        if segment.fin {
            self.fin(end);
        }
        if ahead > 0 {
            if len > 0 {
                self.hold(ahead as u64, segment, counters, deliver);
            }
            self.reach_fin();
            return;
        }
        let behind = ahead.unsigned_abs();
        if behind >= len && len > 0 {
            counters.retransmitted += 1;
            return;
        }
        if behind > 0 && len > 0 {
            counters.overlaps += 1;
        }
        self.deliver_from(behind, segment, counters, deliver);
        self.drain(counters, deliver);
        self.reach_fin();
    }

    /// The sender's FIN at stream offset `at`: it waits there, unless the
    /// stream is already past it or data held goes past it.
    fn fin(&mut self, at: i64) {
        let Ok(at) = u64::try_from(at) else { return };
        let held_past = self
            .held
            .last_key_value()
            .is_some_and(|(offset, bytes)| offset + bytes.len() as u64 > at);
        if at < self.delivered || held_past {
            return;
        }
        self.fin_at = Some(at);
    }

    /// Marks the stream finished when it has reached its FIN; a FIN it went
    /// past (through a gap) is withdrawn.
    fn reach_fin(&mut self) {
        match self.fin_at {
            Some(at) if at == self.delivered => self.finished = true,
            Some(at) if at < self.delivered => {
                self.fin_at = None;
                self.finished = false;
            }
            _ => {}
        }
    }

    /// The other side acknowledged up to `ack`: bytes before it that were
    /// never seen are lost, and what was held past them can go on.
    pub fn acknowledged(
        &mut self,
        ack: u32,
        counters: &mut ReassemblyCounters,
        deliver: &mut impl FnMut(Chunk<'_>),
    ) {
        let Some(next) = self.next else { return };
        if self.finished {
            return;
        }
        let missing = i64::from(ack.wrapping_sub(next) as i32);
        if missing <= 0 {
            return;
        }
        // The FIN's sequence number is not a byte: an acknowledgment of it
        // reaches the FIN, not past it.
        let mut missing = missing as u64;
        if let Some(fin) = self.fin_at {
            missing = missing.min(fin.saturating_sub(self.delivered));
        }
        // Stop at the first held segment: it is present, not lost.
        let gap = match self.held.keys().next() {
            Some(first) => (first - self.delivered).min(missing),
            None => missing,
        };
        if gap > 0 {
            self.skip(gap, counters, deliver);
        }
        self.drain(counters, deliver);
        self.reach_fin();
    }

    /// The connection is over: whatever is held goes on, holes as gaps.
    pub fn flush(
        &mut self,
        counters: &mut ReassemblyCounters,
        deliver: &mut impl FnMut(Chunk<'_>),
    ) {
        while let Some(first) = self.held.keys().next().copied() {
            let gap = first.saturating_sub(self.delivered);
            if gap > 0 {
                self.skip(gap, counters, deliver);
            }
            self.drain(counters, deliver);
        }
        self.reach_fin();
    }

    fn hold(
        &mut self,
        ahead: u64,
        segment: Segment<'_>,
        counters: &mut ReassemblyCounters,
        deliver: &mut impl FnMut(Chunk<'_>),
    ) {
        let offset = self.delivered + ahead;
        if self.held.contains_key(&offset) {
            counters.retransmitted += 1;
            return;
        }
        let size = segment.payload.len();
        let charge = size + HELD_SEGMENT_OVERHEAD;
        let over_flow = self.charged() + charge > MAX_HELD_BYTES_PER_DIRECTION;
        if over_flow || !self.budget.try_take(charge) {
            // Give up the hole: what is missing before this segment is lost.
            if over_flow {
                counters.flow_budget_exhausted += 1;
            } else {
                counters.worker_budget_exhausted += 1;
            }
            self.flush_before(offset, counters, deliver);
            self.deliver_from(0, segment, counters, deliver);
            self.drain(counters, deliver);
            return;
        }
        counters.out_of_order += 1;
        // A cut-off tail stays a hole, reported when acknowledged or flushed.
        self.held_bytes += size;
        self.held.insert(offset, segment.payload.to_vec());
    }

    /// Delivers held segments and gaps up to stream offset `offset`.
    fn flush_before(
        &mut self,
        offset: u64,
        counters: &mut ReassemblyCounters,
        deliver: &mut impl FnMut(Chunk<'_>),
    ) {
        while self.delivered < offset {
            let first = self.held.keys().next().copied().filter(|f| *f < offset);
            let until = first.unwrap_or(offset);
            if until > self.delivered {
                self.skip(until - self.delivered, counters, deliver);
            }
            self.drain(counters, deliver);
            if first.is_none() {
                break;
            }
        }
    }

    /// Delivers `segment` from `skip` bytes into it (the part not seen yet).
    fn deliver_from(
        &mut self,
        skip: u64,
        segment: Segment<'_>,
        counters: &mut ReassemblyCounters,
        deliver: &mut impl FnMut(Chunk<'_>),
    ) {
        let captured = segment.payload.len() as u64;
        if skip < captured {
            let data = segment.payload.get(skip as usize..).unwrap_or_default();
            self.advance(data.len() as u64);
            deliver(Chunk::Data(data));
        }
        let missing = u64::from(segment.missing).saturating_sub(skip.saturating_sub(captured));
        if missing > 0 {
            self.skip(missing, counters, deliver);
        }
    }

    /// Delivers held segments that are now in order.
    fn drain(&mut self, counters: &mut ReassemblyCounters, deliver: &mut impl FnMut(Chunk<'_>)) {
        while let Some(entry) = self.held.first_entry() {
            let offset = *entry.key();
            if offset > self.delivered {
                return;
            }
            let bytes = entry.remove();
            self.held_bytes -= bytes.len();
            self.budget.give_back(bytes.len() + HELD_SEGMENT_OVERHEAD);
            let end = offset + bytes.len() as u64;
            if end <= self.delivered {
                counters.retransmitted += 1;
                continue;
            }
            if offset < self.delivered {
                counters.overlaps += 1;
            }
            let skip = (self.delivered - offset) as usize;
            let data = bytes.get(skip..).unwrap_or_default();
            self.advance(data.len() as u64);
            deliver(Chunk::Data(data));
        }
    }

    fn skip(
        &mut self,
        len: u64,
        counters: &mut ReassemblyCounters,
        deliver: &mut impl FnMut(Chunk<'_>),
    ) {
        counters.gaps += 1;
        counters.gap_bytes += len;
        self.advance(len);
        deliver(Chunk::Gap(len));
    }

    fn advance(&mut self, len: u64) {
        self.delivered += len;
        // Sequence numbers are 32 bits and wrap: only the low bits matter.
        self.next = self.next.map(|n| n.wrapping_add(len as u32));
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.budget.give_back(self.charged());
    }
}

#[cfg(test)]
mod tests;
