//! Flows: one conversation between two endpoints, in both directions.
//!
//! A [`FlowKey`] is symmetric: the two endpoints are stored in a fixed order,
//! so a packet and its reply find the same entry, and hashing the key gives
//! the same worker for both directions. The key holds the VLAN ids, so the
//! same addresses on two VLANs are two flows, as in Zeek and Suricata.
//!
//! A [`FlowTable`] belongs to one worker and is never shared: no locks on the
//! per-packet path. Time is packet time. A flow idle for longer than its
//! timeout is over; the next packet with the same key starts a new flow, which
//! is decided when that packet arrives, so the outcome does not depend on when
//! a worker happens to sweep. Sweeps only free memory.
//!
//! # Ended flows are handed back
//!
//! The table never calls into its user. Every call that can end flows gives
//! them back, by value and in the order it ended them, for the user to end
//! as it likes (credit their traffic, finish their sessions) before it goes
//! on:
//!
//! - [`FlowTable::track`]: the flows a packet's arrival ends — the stale
//!   flow of its key, flows evicted to make room — in [`Tracked::ended`],
//!   to be ended before the packet counts in its own flow;
//! - [`FlowTable::relieve`]: the flows evicted to bring the table back
//!   within its bytes;
//! - [`FlowTable::sweep`] and [`FlowTable::finish`]: the flows idle past
//!   their timeout, and at the end every flow.
//!
//! Evicted flows must all be out of the table before a packet's new flow
//! goes in, so they wait in a buffer the table keeps from packet to packet:
//! the per-packet path allocates nothing, and after a large eviction the
//! buffer is trimmed again at the next new flow. A sweep or the end of a
//! capture may end the whole table at once, so those flows are not
//! buffered: they are taken out of the table one by one as the user reads
//! them.
//!
//! # A bounded table
//!
//! The table holds at most [`FlowConfig::max_flows`] flows, and their
//! application layers at most [`FlowConfig::max_bytes`] (what the caller
//! says each holds, [`Tracked::recharge`]). A new flow that finds the table
//! full, or a packet that leaves it over its bytes, makes room: flows are evicted, each
//! ended as if it had timed out and counted in
//! [`FlowCounters::evicted`], until a tenth of the table is free again. The
//! order is cheapest to lose first: flows that are not an established TCP
//! connection (half-open handshakes, closed connections, datagrams), then
//! established connections nothing is parsed on, then connections being
//! parsed; within each, the least recently seen first. A SYN flood so
//! costs its own half-open flows, not the clinical connections under way,
//! and a new connection is always tracked.
//!
//! # TCP as the receiving host sees it
//!
//! A packet a receiving host would ignore must not end or reset what medtap
//! follows. Given a segment's numbers ([`TcpSeen`]), each side's next
//! sequence number (`snd_next`: past its SYN, data and FIN) and the last
//! acknowledgment it sent (`rcv_acked`: its own RCV.NXT of the other side)
//! are kept, and:
//!
//! - **RST** (RFC 5961 §3): it ends the connection only when its sequence
//!   number is exactly the receiver's next expected one — the sender's
//!   `snd_next`, or the receiver's last acknowledgment. Any other RST is
//!   ignored: within the largest window TCP can advertise
//!   ([`MAX_TCP_WINDOW`]) it is what RFC 5961 answers with a challenge ACK,
//!   and beyond it a host drops it silently; both are counted. In SYN-SENT
//!   an RST counts when it acknowledges the SYN (RFC 793). Picked up
//!   midstream, the window is unknown and the rule stays the same: only an
//!   exact match ends the connection, so a real RST the sensor cannot match
//!   (its sender's last packets lost) leaves the connection to its idle
//!   timeout — the cost of never being blinded. With no reference at all
//!   (the RST's sender has sent nothing and its peer acknowledged nothing,
//!   so there is no stream of it to blind) the RST is accepted.
//! - **SYN**: a side's first SYN sets its ISN; a retransmission of it (same
//!   ISN) changes nothing; a SYN or SYN-ACK with another ISN once the side
//!   has an ISN or has sent anything is a stray (RFC 5961 §4: the host
//!   answers with a challenge ACK) and is ignored: it neither changes the
//!   state nor re-seeds the stream. A new connection on the same ports
//!   starts only after the old one closed or timed out.
//! - **FIN** counts only at the sender's next sequence number (after the
//!   data it carries); one ahead of it waits until the data before it has
//!   been seen. Data at or past a counted FIN withdraws it (a sender never
//!   writes past its FIN: the receiver dropped it for its checksum, or it
//!   was injected), unless the connection is already closed both ways.
//! - An acknowledgment is taken as the receiver's RCV.NXT only when it does
//!   not acknowledge data never sent (RFC 793), so a forged ACK cannot
//!   prepare the match of a forged RST.
//!
//! A caller that passes only flags ([`TcpFlags`] converts into a
//! [`TcpSeen`] without numbers) gets the flag-only state machine: every RST
//! closes, every SYN restarts the handshake. A FIN with a bad checksum is
//! indistinguishable without `--verify-checksums`: at the exact next
//! sequence number from both sides, such FINs close the connection.

pub mod community_id;
pub mod fields;

use std::collections::HashMap;
use std::net::IpAddr;

use crate::decode::{Mac, TcpFlags, ip_proto};
// Kept under its old path for the flow's users; reassembly is a module of its
// own so that protocol sessions reassemble without importing flow.
pub use crate::reassembly;
// Flows are timed in it; re-exported so flow users need not know where
// packet time lives.
pub use crate::time::Micros;

const SECOND: Micros = 1_000_000;

/// Idle timeout of a TCP flow that completed its handshake, in seconds.
pub const TCP_ESTABLISHED_TIMEOUT_SECS: i64 = 600;
/// Idle timeout of a TCP flow still in its handshake, in seconds.
pub const TCP_HANDSHAKE_TIMEOUT_SECS: i64 = 60;
/// Idle timeout of a TCP flow after FIN from both sides or RST, in seconds.
pub const TCP_CLOSED_TIMEOUT_SECS: i64 = 30;
/// Idle timeout of a UDP flow, in seconds.
pub const UDP_TIMEOUT_SECS: i64 = 120;
/// Idle timeout of ICMP and other flows, in seconds.
pub const OTHER_TIMEOUT_SECS: i64 = 60;
/// Flows one worker tracks at most, unless `--max-flows` or the memory
/// budget sets fewer.
pub const MAX_FLOWS_PER_WORKER: usize = 1_000_000;
/// What one flow takes in a table whose user keeps `A` with each flow, in
/// bytes: its key, the flow and the hash table's control byte.
pub const fn slot_bytes<A>() -> usize {
    size_of::<FlowKey>() + size_of::<Flow<A>>() + 1
}
/// Bytes the flows' application layers may be charged at most when no
/// memory budget sets it.
pub const MAX_FLOW_BYTES_PER_WORKER: usize = 512 << 20;

/// The most flows a table whose slots may take `bytes` holds, so that it
/// never takes more: the hash table doubles its slots when they are seven
/// eighths full, and, with flows evicted and replaced, rehashes in place
/// only while at most half of that is used. So the table is a power of two
/// of slots and holds at most seven sixteenths of it.
pub fn flows_within(bytes: usize, slot_bytes: usize) -> usize {
    let slots = bytes / slot_bytes.max(1);
    if slots < 16 {
        return 1;
    }
    let power = 1usize << (usize::BITS - 1 - slots.leading_zeros());
    power / 16 * 7
}

/// Rank of a flow for eviction: the class (what losing it costs) in the
/// top bits, packet time below.
const EVICTION_CLASS_SHIFT: u32 = 56;
/// The largest window TCP can advertise (65 535 shifted by the largest
/// window scale, 14; RFC 7323), in bytes: an RST further than this from the
/// receiver's next expected sequence number is outside any window.
pub const MAX_TCP_WINDOW: u32 = 65_535 << 14;
/// How often, in packet time, a worker sweeps its table for idle flows.
pub const SWEEP_INTERVAL_SECS: i64 = 5;

/// Flow-tracking settings.
#[derive(Debug, Clone)]
pub struct FlowConfig {
    /// See [`TCP_ESTABLISHED_TIMEOUT_SECS`].
    pub tcp_established_timeout: Micros,
    /// See [`TCP_HANDSHAKE_TIMEOUT_SECS`].
    pub tcp_handshake_timeout: Micros,
    /// See [`TCP_CLOSED_TIMEOUT_SECS`].
    pub tcp_closed_timeout: Micros,
    /// See [`UDP_TIMEOUT_SECS`].
    pub udp_timeout: Micros,
    /// See [`OTHER_TIMEOUT_SECS`].
    pub other_timeout: Micros,
    /// See [`MAX_FLOWS_PER_WORKER`].
    pub max_flows: usize,
    /// Bytes the flows may be charged at most (see the module docs).
    pub max_bytes: usize,
    /// See [`SWEEP_INTERVAL_SECS`].
    pub sweep_interval: Micros,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            tcp_established_timeout: TCP_ESTABLISHED_TIMEOUT_SECS * SECOND,
            tcp_handshake_timeout: TCP_HANDSHAKE_TIMEOUT_SECS * SECOND,
            tcp_closed_timeout: TCP_CLOSED_TIMEOUT_SECS * SECOND,
            udp_timeout: UDP_TIMEOUT_SECS * SECOND,
            other_timeout: OTHER_TIMEOUT_SECS * SECOND,
            max_flows: MAX_FLOWS_PER_WORKER,
            max_bytes: MAX_FLOW_BYTES_PER_WORKER,
            sweep_interval: SWEEP_INTERVAL_SECS * SECOND,
        }
    }
}

/// One side of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    /// IP address.
    pub addr: IpAddr,
    /// Port; for ICMP the Community ID port equivalent of type and code.
    pub port: u16,
}

/// The symmetric identity of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    /// The lower endpoint.
    pub lo: Endpoint,
    /// The higher endpoint.
    pub hi: Endpoint,
    /// IP protocol number.
    pub proto: u8,
    /// VLAN ids, outermost first; 0 where absent.
    pub vlan: [u16; 2],
}

impl FlowKey {
    /// The key of a packet from `src` to `dst`, and whether the packet was
    /// sent by the key's `lo` endpoint.
    pub fn new(src: Endpoint, dst: Endpoint, proto: u8, vlan: [u16; 2]) -> (FlowKey, bool) {
        let from_lo = src <= dst;
        let (lo, hi) = if from_lo { (src, dst) } else { (dst, src) };
        (
            FlowKey {
                lo,
                hi,
                proto,
                vlan,
            },
            from_lo,
        )
    }

    /// The endpoint that sent a packet, given which side sent it.
    pub fn sender(&self, from_lo: bool) -> Endpoint {
        if from_lo { self.lo } else { self.hi }
    }

    /// The endpoint that received a packet, given which side sent it.
    pub fn receiver(&self, from_lo: bool) -> Endpoint {
        if from_lo { self.hi } else { self.lo }
    }
}

/// TCP connection state, as far as flags seen from the wire tell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpState {
    /// SYN seen, no SYN-ACK yet.
    SynSent,
    /// SYN-ACK seen.
    SynReceived,
    /// Handshake completed, or picked up midstream.
    Established,
    /// One side has sent FIN.
    Closing,
    /// Both sides have sent FIN, or one sent RST.
    Closed,
}

/// A TCP segment's numbers, for [`TcpSeen`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpNumbers {
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number (meaningful with the ACK flag).
    pub ack: u32,
    /// Payload bytes on the wire (sequence space used, SYN and FIN apart).
    pub len: u32,
}

/// What flow tracking reads of a TCP segment: its flags and, when the
/// caller has them, its numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpSeen {
    /// Header flags.
    pub flags: TcpFlags,
    /// Sequence and acknowledgment numbers and length; `None` for the
    /// flag-only state machine.
    pub numbers: Option<TcpNumbers>,
}

impl TcpSeen {
    /// A segment with flags `flags`, sequence number `seq`, acknowledgment
    /// `ack` and `len` payload bytes on the wire.
    pub fn new(flags: TcpFlags, seq: u32, ack: u32, len: u32) -> TcpSeen {
        TcpSeen {
            flags,
            numbers: Some(TcpNumbers { seq, ack, len }),
        }
    }
}

impl From<TcpFlags> for TcpSeen {
    fn from(flags: TcpFlags) -> TcpSeen {
        TcpSeen {
            flags,
            numbers: None,
        }
    }
}

/// Whether `a` is after `b` by less than [`MAX_TCP_WINDOW`] (sequence
/// numbers wrap).
fn within_window_after(a: u32, b: u32) -> bool {
    let d = a.wrapping_sub(b);
    d > 0 && d < MAX_TCP_WINDOW
}

/// Whether `a` is at or after `b`, by sequence-number arithmetic.
fn at_or_after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) >= 0
}

/// Packets and bytes in one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Packets.
    pub packets: u64,
    /// Bytes on the wire (original length, not captured length).
    pub bytes: u64,
}

/// The length of a rate bin: per-device rates are counted per minute of
/// packet time.
pub const RATE_BIN_MICROS: Micros = 60 * SECOND;

/// The start of the rate bin holding packet time `ts`.
pub fn rate_bin(ts: Micros) -> Micros {
    ts - ts.rem_euclid(RATE_BIN_MICROS)
}

/// One tracked flow.
#[derive(Debug)]
pub struct Flow<A = ()> {
    /// Packet time of the first packet.
    pub first_ts: Micros,
    /// Packet time of the latest packet.
    pub last_ts: Micros,
    /// Whether the originator (sender of the first packet, or of the SYN) is
    /// the key's `lo` endpoint.
    pub originator_is_lo: bool,
    /// Traffic sent by the key's `lo` and `hi` endpoints.
    pub sent: [Counts; 2],
    /// Traffic already credited to the endpoints ([`Flow::take_uncredited`]).
    pub credited: [Counts; 2],
    /// MAC of `lo` and of `hi`: the source MAC of its packets, or until it
    /// sends, the destination MAC of packets to it.
    pub macs: [Option<Mac>; 2],
    /// TCP state; `None` for other protocols.
    pub tcp: Option<TcpState>,
    fin_seen: [bool; 2],
    /// Sequence number of each side's FIN, counted or waiting.
    fin_at: [Option<u32>; 2],
    /// Each side's next sequence number: past what it sent with no hole
    /// before it (or what its peer acknowledged).
    snd_next: [Option<u32>; 2],
    /// Past the furthest a side sent, holes or not.
    snd_max: [Option<u32>; 2],
    /// The last acknowledgment each side sent: its RCV.NXT of the other.
    rcv_acked: [Option<u32>; 2],
    /// Initial sequence number of `lo` and of `hi`, from their SYNs.
    pub isn: [Option<u32>; 2],
    /// The rate bin the traffic not yet binned belongs to.
    pub bin: Micros,
    /// Traffic already attributed to a rate bin.
    binned: [Counts; 2],
    /// The idle timeout of an established connection, when its application
    /// protocol sets one (an MQTT keep-alive, MLLP, DICOM).
    pub app_timeout: Option<Micros>,
    /// Bytes charged for the application layer (see [`Tracked::recharge`]).
    charge: usize,
    /// What the table's user keeps with the flow.
    pub app: A,
}

/// What a flow table's user keeps with each flow — the worker: its
/// protocol session and what it has reported — so the table itself knows
/// nothing of protocols.
pub trait FlowApp: Default {
    /// Whether losing the flow would lose a parser's work under way: such
    /// an established flow is evicted after the others.
    fn parsing(&self) -> bool {
        false
    }
}

impl FlowApp for () {}

impl<A: FlowApp> Flow<A> {
    fn new(ts: Micros, originator_is_lo: bool, proto: u8) -> Flow<A> {
        Flow {
            first_ts: ts,
            last_ts: ts,
            originator_is_lo,
            sent: [Counts::default(); 2],
            credited: [Counts::default(); 2],
            macs: [None; 2],
            tcp: (proto == ip_proto::TCP).then_some(TcpState::Established),
            fin_seen: [false; 2],
            fin_at: [None; 2],
            snd_next: [None; 2],
            snd_max: [None; 2],
            rcv_acked: [None; 2],
            isn: [None; 2],
            bin: rate_bin(ts),
            binned: [Counts::default(); 2],
            app_timeout: None,
            charge: 0,
            app: A::default(),
        }
    }

    /// Where the flow stands in the eviction order: lower goes first.
    fn eviction_rank(&self) -> u64 {
        let class: u64 = match self.tcp {
            Some(TcpState::Established) if self.app.parsing() => 2,
            Some(TcpState::Established) => 1,
            _ => 0,
        };
        let time =
            u64::try_from(self.last_ts.max(0)).unwrap_or(0) & ((1 << EVICTION_CLASS_SHIFT) - 1);
        (class << EVICTION_CLASS_SHIFT) | time
    }

    /// Takes the traffic not yet attributed to a rate bin, with its bin.
    pub fn take_unbinned(&mut self) -> (Micros, Counts) {
        let mut total = Counts::default();
        for (sent, binned) in self.sent.iter().zip(self.binned.iter_mut()) {
            total.packets += sent.packets - binned.packets;
            total.bytes += sent.bytes - binned.bytes;
            *binned = *sent;
        }
        (self.bin, total)
    }

    fn update_tcp(&mut self, from_lo: bool, seen: TcpSeen, counters: &mut FlowCounters) {
        let Some(numbers) = seen.numbers else {
            self.update_tcp_flags(from_lo, seen.flags);
            return;
        };
        let Some(state) = self.tcp else { return };
        let flags = seen.flags;
        let (s, r) = (usize::from(!from_lo), usize::from(from_lo));
        let TcpNumbers { seq, ack, len } = numbers;
        if flags.has(TcpFlags::RST) {
            if self.rst_acceptable(s, r, state, flags, seq, ack) {
                self.tcp = Some(TcpState::Closed);
            } else if self.rst_in_window(s, r, seq) {
                counters.rst_challenged += 1;
            } else {
                counters.rst_out_of_window += 1;
            }
            return;
        }
        if flags.has(TcpFlags::SYN) {
            let isn = self.isn.get(s).copied().flatten();
            let seen_before = self.snd_next.get(s).copied().flatten().is_some()
                || self.rcv_acked.get(r).copied().flatten().is_some();
            match isn {
                // A retransmitted SYN: nothing new once the handshake is over.
                Some(isn) if isn == seq => {
                    if !matches!(state, TcpState::SynSent | TcpState::SynReceived) {
                        return;
                    }
                }
                Some(_) => {
                    counters.syn_ignored += 1;
                    return;
                }
                None if seen_before => {
                    counters.syn_ignored += 1;
                    return;
                }
                None => {
                    set(&mut self.isn, s, seq);
                    set(&mut self.snd_next, s, seq.wrapping_add(1));
                }
            }
        }
        if flags.has(TcpFlags::ACK) {
            self.acknowledged(s, r, ack);
        }
        // Where the segment's data ends: where a FIN it carries sits.
        let start = if flags.has(TcpFlags::SYN) {
            seq.wrapping_add(1)
        } else {
            seq
        };
        let end = start.wrapping_add(len);
        let fin_at = self.fin_at.get(s).copied().flatten();
        if len > 0
            && let Some(fin) = fin_at
            && within_window_after(end, fin)
        {
            // Data past the FIN: the sender never sent it.
            if let Some(seen) = self.fin_seen.get_mut(s) {
                *seen = false;
            }
            if let Some(at) = self.fin_at.get_mut(s) {
                *at = None;
            }
            if state == TcpState::Closing && self.fin_seen == [false, false] {
                self.tcp = Some(TcpState::Established);
            }
        }
        self.advance(s, start, end);
        if flags.has(TcpFlags::FIN) {
            let next = self.snd_next.get(s).copied().flatten();
            match next {
                Some(next) if at_or_after(next, end) && end != next => {
                    // Behind the stream: a retransmission, or stale.
                    counters.fin_ignored += 1;
                }
                _ => set(&mut self.fin_at, s, end),
            }
        }
        self.reach_fin(s);
        let state = self.tcp.unwrap_or(state);
        self.tcp = Some(self.next_state(state, flags));
    }

    /// The state a segment with `flags` leads to from `state`, once
    /// `fin_seen` holds the FINs that count.
    fn next_state(&self, state: TcpState, flags: TcpFlags) -> TcpState {
        if flags.has(TcpFlags::SYN) && !flags.has(TcpFlags::ACK) {
            TcpState::SynSent
        } else if flags.has(TcpFlags::SYN | TcpFlags::ACK) {
            TcpState::SynReceived
        } else if state == TcpState::Closed || self.fin_seen == [true, true] {
            TcpState::Closed
        } else if self.fin_seen != [false, false] {
            TcpState::Closing
        } else if matches!(state, TcpState::SynSent | TcpState::SynReceived)
            && flags.has(TcpFlags::ACK)
        {
            TcpState::Established
        } else {
            state
        }
    }

    /// Whether an RST from side `s` ends the connection (RFC 5961 §3, RFC
    /// 793 for SYN-SENT).
    fn rst_acceptable(
        &self,
        s: usize,
        r: usize,
        state: TcpState,
        flags: TcpFlags,
        seq: u32,
        ack: u32,
    ) -> bool {
        if state == TcpState::SynSent
            && flags.has(TcpFlags::ACK)
            && self.sent(s).is_none()
            && let Some(isn) = self.isn.get(r).copied().flatten()
        {
            // A refused SYN: the RST acknowledges it; its seq is free.
            return ack == isn.wrapping_add(1);
        }
        let refs = self.references(s, r);
        refs.iter().all(Option::is_none) || refs.contains(&Some(seq))
    }

    /// What an RST or SYN from side `s` is measured against: its next and
    /// furthest sequence numbers, and the last acknowledgment of side `r`.
    fn references(&self, s: usize, r: usize) -> [Option<u32>; 3] {
        [
            self.snd_next.get(s).copied().flatten(),
            self.snd_max.get(s).copied().flatten(),
            self.rcv_acked.get(r).copied().flatten(),
        ]
    }

    /// How far side `s` has sent, if anything.
    fn sent(&self, s: usize) -> Option<u32> {
        self.snd_max.get(s).copied().flatten()
    }

    /// Whether an RST from side `s` falls within the largest window after
    /// the receiver's next expected sequence number.
    fn rst_in_window(&self, s: usize, r: usize, seq: u32) -> bool {
        self.references(s, r)
            .into_iter()
            .flatten()
            .any(|next| within_window_after(seq, next))
    }

    /// Side `s` acknowledged `ack` of side `r`'s stream: kept as its
    /// RCV.NXT unless it acknowledges what `r` never sent.
    fn acknowledged(&mut self, s: usize, r: usize, ack: u32) {
        let plausible = match self.sent(r) {
            Some(sent) => at_or_after(sent, ack) && sent.wrapping_sub(ack) < MAX_TCP_WINDOW,
            None => true,
        };
        if !plausible {
            return;
        }
        set(&mut self.rcv_acked, s, ack);
        // The receiver has what it acknowledges: `r`'s stream has no hole
        // before it, seen or not.
        match self.snd_next.get(r).copied().flatten() {
            Some(next) if !within_window_after(ack, next) => {}
            _ => set(&mut self.snd_next, r, ack),
        }
        self.reach_fin(r);
    }

    /// Side `s` sent sequence space from `start` to `end`: its next
    /// sequence number moves when nothing is missing before `start`, its
    /// furthest one in any case; neither by more than a window.
    fn advance(&mut self, s: usize, start: u32, end: u32) {
        match self.snd_next.get(s).copied().flatten() {
            None => set(&mut self.snd_next, s, end),
            Some(next) if at_or_after(next, start) && within_window_after(end, next) => {
                set(&mut self.snd_next, s, end)
            }
            Some(_) => {}
        }
        match self.sent(s) {
            Some(max) if !within_window_after(end, max) => {}
            _ => set(&mut self.snd_max, s, end),
        }
    }

    /// Counts side `s`'s FIN once its next sequence number reaches it (or
    /// its peer acknowledges it).
    fn reach_fin(&mut self, s: usize) {
        let (Some(fin), Some(next)) = (
            self.fin_at.get(s).copied().flatten(),
            self.snd_next.get(s).copied().flatten(),
        ) else {
            return;
        };
        let seen = self.fin_seen.get(s).copied().unwrap_or(false);
        if !seen && (next == fin || next == fin.wrapping_add(1)) {
            if let Some(flag) = self.fin_seen.get_mut(s) {
                *flag = true;
            }
            set(&mut self.snd_next, s, fin.wrapping_add(1));
            if let Some(max) = self.sent(s)
                && !within_window_after(max, fin)
            {
                set(&mut self.snd_max, s, fin.wrapping_add(1));
            }
        }
    }

    /// The flag-only state machine, for callers without the numbers: an
    /// RST closes, a FIN counts wherever it is.
    fn update_tcp_flags(&mut self, from_lo: bool, flags: TcpFlags) {
        let Some(state) = self.tcp else { return };
        if flags.has(TcpFlags::RST) {
            self.tcp = Some(TcpState::Closed);
            return;
        }
        if flags.has(TcpFlags::FIN)
            && let Some(seen) = self.fin_seen.get_mut(usize::from(!from_lo))
        {
            *seen = true;
        }
        self.tcp = Some(self.next_state(state, flags));
    }

    /// The idle timeout that applies to this flow now.
    pub fn timeout(&self, proto: u8, config: &FlowConfig) -> Micros {
        match (proto, self.tcp) {
            (_, Some(TcpState::SynSent | TcpState::SynReceived)) => config.tcp_handshake_timeout,
            (_, Some(TcpState::Closed)) => config.tcp_closed_timeout,
            (_, Some(_)) => self.app_timeout.unwrap_or(config.tcp_established_timeout),
            (ip_proto::UDP, None) => config.udp_timeout,
            _ => config.other_timeout,
        }
    }

    /// Traffic not yet credited to the endpoints, per side; marks it credited.
    pub fn take_uncredited(&mut self) -> [Counts; 2] {
        let mut delta = [Counts::default(); 2];
        for ((d, sent), credited) in delta
            .iter_mut()
            .zip(self.sent.iter())
            .zip(self.credited.iter_mut())
        {
            d.packets = sent.packets - credited.packets;
            d.bytes = sent.bytes - credited.bytes;
            *credited = *sent;
        }
        delta
    }
}

/// Sets `slots[side]`.
fn set(slots: &mut [Option<u32>; 2], side: usize, value: u32) {
    if let Some(slot) = slots.get_mut(side) {
        *slot = Some(value);
    }
}

/// Counters a flow table keeps; summed over workers for `stats` events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlowCounters {
    /// Flows started, by protocol.
    pub tcp: u64,
    /// UDP flows started.
    pub udp: u64,
    /// ICMP and ICMPv6 flows started.
    pub icmp: u64,
    /// SCTP and other flows started.
    pub other: u64,
    /// Flows evicted to keep the table within its flows or bytes (see the
    /// module docs).
    pub evicted: u64,
    /// Flows ended by idle timeout.
    pub timed_out: u64,
    /// RSTs ignored within the window of the receiver (RFC 5961 challenge).
    pub rst_challenged: u64,
    /// RSTs ignored outside any window.
    pub rst_out_of_window: u64,
    /// SYNs with another ISN on a connection under way, ignored.
    pub syn_ignored: u64,
    /// FINs behind the sender's stream, ignored.
    pub fin_ignored: u64,
}

impl FlowCounters {
    /// Flows started, all protocols.
    pub fn total(&self) -> u64 {
        self.tcp + self.udp + self.icmp + self.other
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &FlowCounters) {
        self.tcp += other.tcp;
        self.udp += other.udp;
        self.icmp += other.icmp;
        self.other += other.other;
        self.evicted += other.evicted;
        self.timed_out += other.timed_out;
        self.rst_challenged += other.rst_challenged;
        self.rst_out_of_window += other.rst_out_of_window;
        self.syn_ignored += other.syn_ignored;
        self.fin_ignored += other.fin_ignored;
    }
}

/// What [`FlowTable::track`] did with a packet.
pub struct Tracked<'a, A = ()> {
    /// The flow the packet belongs to.
    pub flow: &'a mut Flow<A>,
    /// Whether the packet started the flow.
    pub is_new: bool,
    /// Traffic of an earlier rate bin, closed by this packet's arrival in a
    /// later one: the bin's start and the flow's packets and bytes in it.
    pub closed_bin: Option<(Micros, Counts)>,
    /// The table's charged bytes.
    charged: &'a mut usize,
    /// The table's ended flows not yet handed back.
    ended: &'a mut Vec<Option<(FlowKey, Flow<A>)>>,
}

impl<A> Tracked<'_, A> {
    /// Sets what the flow's application layer holds now, in bytes; the
    /// table evicts flows when this leaves it over its bytes
    /// ([`FlowTable::relieve`]).
    pub fn recharge(&mut self, bytes: usize) {
        *self.charged = self.charged.saturating_sub(self.flow.charge) + bytes;
        self.flow.charge = bytes;
    }

    /// The flows this packet's arrival ended, in the order they ended: the
    /// earlier flow of the packet's key (idle past its timeout, or a closed
    /// TCP connection whose ports a new SYN reuses), then those evicted to
    /// make room for the packet's new flow. They ended before the packet
    /// arrived, so they are to be ended before the packet counts in
    /// [`Tracked::flow`]. Flows not read are handed back by the next call
    /// that hands back evicted flows.
    pub fn ended(&mut self) -> Ended<'_, A> {
        Ended::new(self.ended)
    }
}

/// Flows a table hands back ended, by value, in the order it ended them.
/// Flows not read are handed back again by the next call that hands back
/// evicted flows.
#[must_use = "flows not read are not ended yet"]
pub struct Ended<'a, A> {
    /// The table's buffer: each flow is taken out of its slot as it is
    /// read, and the slots are cleared once all are read.
    buffer: &'a mut Vec<Option<(FlowKey, Flow<A>)>>,
    /// The slot read next.
    next: usize,
}

impl<'a, A> Ended<'a, A> {
    fn new(buffer: &'a mut Vec<Option<(FlowKey, Flow<A>)>>) -> Ended<'a, A> {
        Ended { buffer, next: 0 }
    }
}

impl<A> Iterator for Ended<'_, A> {
    type Item = (FlowKey, Flow<A>);

    // Inlined, with no `Drop`: most packets end no flow, and then reading
    // this is one check.
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        while let Some(slot) = self.buffer.get_mut(self.next) {
            self.next += 1;
            if let Some(ended) = slot.take() {
                return Some(ended);
            }
        }
        if !self.buffer.is_empty() {
            self.buffer.clear();
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, self.buffer.len().checked_sub(self.next))
    }
}

/// Ended flows the table's buffer keeps room for from one packet to the
/// next; after a larger eviction it gives the rest of its memory back.
const ENDED_KEPT: usize = 64;

/// One worker's flows, each with what the worker keeps with it (`A`).
pub struct FlowTable<A = ()> {
    flows: HashMap<FlowKey, Flow<A>, foldhash::fast::RandomState>,
    config: FlowConfig,
    next_sweep: Micros,
    counters: FlowCounters,
    /// Bytes charged for the flows: entries and application layers.
    charged: usize,
    /// Flows ended by a packet's arrival or an eviction, until the user
    /// takes them ([`Tracked::ended`], [`FlowTable::relieve`]).
    ended: Vec<Option<(FlowKey, Flow<A>)>>,
}

impl<A: FlowApp> FlowTable<A> {
    /// An empty table.
    pub fn new(config: FlowConfig) -> FlowTable<A> {
        FlowTable {
            flows: HashMap::default(),
            config,
            next_sweep: Micros::MIN,
            counters: FlowCounters::default(),
            charged: 0,
            ended: Vec::new(),
        }
    }

    /// Counters so far.
    pub fn counters(&self) -> &FlowCounters {
        &self.counters
    }

    /// Bytes charged for the flows now.
    pub fn charged(&self) -> usize {
        self.charged
    }

    /// Flows in the table.
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    /// Whether the table holds no flow.
    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    /// Accounts one packet to its flow; `macs` are the packet's source and
    /// destination MACs. `tcp` is the TCP segment, with its numbers
    /// ([`TcpSeen::new`]) for the rules in the module docs, or only its
    /// flags. The flows the packet's arrival ends (idle past their timeout,
    /// a closed TCP flow whose ports a new SYN reuses, flows evicted to make
    /// room) are in [`Tracked::ended`].
    /// Returns `None` when the flow is not tracked because the table is full.
    #[allow(clippy::too_many_arguments)]
    pub fn track(
        &mut self,
        key: &FlowKey,
        from_lo: bool,
        ts: Micros,
        wire_len: u32,
        macs: [Option<Mac>; 2],
        tcp: Option<impl Into<TcpSeen>>,
    ) -> Option<Tracked<'_, A>> {
        let tcp: Option<TcpSeen> = tcp.map(Into::into);
        let tcp_flags = tcp.map(|t| t.flags);
        let config = &self.config;
        // Known and current, stale, or new: one lookup decides.
        let stale = self.flows.get(key).map(|flow| {
            let idle = ts - flow.last_ts > flow.timeout(key.proto, config);
            let reused = flow.tcp == Some(TcpState::Closed)
                && tcp_flags.is_some_and(|f| f.has(TcpFlags::SYN) && !f.has(TcpFlags::ACK));
            idle || reused
        });
        if stale != Some(false) {
            self.make_room(key, stale == Some(true));
        }
        let mut is_new = false;
        let counters = &mut self.counters;
        let flow = self.flows.entry(*key).or_insert_with(|| {
            is_new = true;
            match key.proto {
                ip_proto::TCP => counters.tcp += 1,
                ip_proto::UDP => counters.udp += 1,
                ip_proto::ICMP | ip_proto::ICMPV6 => counters.icmp += 1,
                _ => counters.other += 1,
            }
            // The originator is the sender of the first packet, unless that
            // packet is a SYN-ACK: then the SYN was missed and the receiver
            // opened the connection.
            let synack = tcp_flags.is_some_and(|f| f.has(TcpFlags::SYN | TcpFlags::ACK));
            Flow::new(ts, from_lo != synack, key.proto)
        });
        let mut closed_bin = None;
        if ts >= flow.bin + RATE_BIN_MICROS {
            let (bin, counts) = flow.take_unbinned();
            flow.bin = rate_bin(ts);
            closed_bin = (counts.packets > 0).then_some((bin, counts));
        }
        let side = usize::from(!from_lo);
        if let Some(sent) = flow.sent.get_mut(side) {
            sent.packets += 1;
            sent.bytes += u64::from(wire_len);
        }
        // The sender's MAC is the packet's source; the receiver's, until it
        // sends itself, the packet's destination.
        let [src_mac, dst_mac] = macs;
        if let Some(mac) = flow.macs.get_mut(side)
            && src_mac.is_some()
        {
            *mac = src_mac;
        }
        if let Some(mac) = flow.macs.get_mut(1 - side)
            && mac.is_none()
        {
            *mac = dst_mac;
        }
        flow.last_ts = flow.last_ts.max(ts);
        if let Some(seen) = tcp {
            flow.update_tcp(from_lo, seen, &mut self.counters);
        }
        Some(Tracked {
            flow,
            is_new,
            closed_bin,
            charged: &mut self.charged,
            ended: &mut self.ended,
        })
    }

    /// Before a new flow of `key` goes in: ends the flow it replaces, if
    /// `stale`, and evicts flows if the table is full or over its bytes,
    /// into the ended flows. Out of line: most packets belong to a flow
    /// the table holds.
    #[inline(never)]
    fn make_room(&mut self, key: &FlowKey, stale: bool) {
        // The room the buffer kept after a large eviction is given back.
        self.ended.shrink_to(ENDED_KEPT);
        if stale && let Some(old) = self.flows.remove(key) {
            self.charged = self.charged.saturating_sub(old.charge);
            self.counters.timed_out += 1;
            self.ended.push(Some((*key, old)));
        }
        if self.flows.len() >= self.config.max_flows || self.charged > self.config.max_bytes {
            self.evict();
        }
    }

    /// Evicts flows if the table is over its bytes (after
    /// [`Tracked::recharge`]); returns the flows evicted, and any ended
    /// earlier and not yet read.
    pub fn relieve(&mut self) -> Ended<'_, A> {
        if self.charged > self.config.max_bytes {
            self.evict();
        }
        Ended::new(&mut self.ended)
    }

    /// Evicts flows, cheapest to lose first (see the module docs), until a
    /// tenth of the table's flows, or of its bytes, is free, into the ended
    /// flows.
    fn evict(&mut self) {
        let max_flows = self.config.max_flows;
        if self.flows.len() >= max_flows {
            let target = max_flows.saturating_sub((max_flows / 10).max(1));
            self.evict_lowest(self.flows.len().saturating_sub(target), |_| true);
        }
        // Bytes are freed only by flows that hold some; the averages say how
        // many, and flows of uneven size may need another round.
        let target_bytes = self.config.max_bytes - self.config.max_bytes / 10;
        while self.charged > target_bytes {
            let holding = self.flows.values().filter(|f| f.charge > 0).count();
            if holding == 0 {
                break;
            }
            let average = (self.charged / holding).max(1);
            let count = (self.charged - target_bytes).div_ceil(average);
            self.evict_lowest(count, |f| f.charge > 0);
        }
    }

    /// Evicts the `count` flows of lowest rank among those `eligible` (more
    /// on equal ranks), into the ended flows in the table's order.
    fn evict_lowest(&mut self, count: usize, eligible: impl Fn(&Flow<A>) -> bool) {
        let mut ranks: Vec<u64> = self
            .flows
            .values()
            .filter(|f| eligible(f))
            .map(Flow::eviction_rank)
            .collect();
        if count == 0 || ranks.is_empty() {
            return;
        }
        let nth = count.min(ranks.len()) - 1;
        let (_, &mut threshold, _) = ranks.select_nth_unstable(nth);
        let counters = &mut self.counters;
        let charged = &mut self.charged;
        let evicted = self.flows.extract_if(|_, flow| {
            if !eligible(flow) || flow.eviction_rank() > threshold {
                return false;
            }
            *charged = charged.saturating_sub(flow.charge);
            counters.evicted += 1;
            true
        });
        self.ended.extend(evicted.map(Some));
    }

    /// The flow of `key`, if tracked.
    pub fn get_mut(&mut self, key: &FlowKey) -> Option<&mut Flow<A>> {
        self.flows.get_mut(key)
    }

    /// Every flow, to close their rate bins or credit their traffic.
    pub fn flows_mut(&mut self) -> impl Iterator<Item = (&FlowKey, &mut Flow<A>)> {
        self.flows.iter_mut()
    }

    /// Whether a sweep is due at packet time `now`.
    pub fn sweep_due(&self, now: Micros) -> bool {
        now >= self.next_sweep
    }

    /// Removes the flows idle past their timeout at `now` and returns them,
    /// in the table's order. Each is taken out of the table (and counted)
    /// as it is read, so a sweep that ends the whole table holds no copy of
    /// it; flows not read stay, to be ended by a later call. The flows that
    /// stay are then all still active ([`FlowTable::flows_mut`]), their
    /// traffic to be credited while they last.
    pub fn sweep(&mut self, now: Micros) -> impl Iterator<Item = (FlowKey, Flow<A>)> + '_ {
        self.next_sweep = now.saturating_add(self.config.sweep_interval);
        let config = &self.config;
        let counters = &mut self.counters;
        let charged = &mut self.charged;
        self.flows.extract_if(move |key, flow| {
            if now - flow.last_ts <= flow.timeout(key.proto, config) {
                return false;
            }
            *charged = charged.saturating_sub(flow.charge);
            counters.timed_out += 1;
            true
        })
    }

    /// Ends every flow at packet time `now` (the end of a replay or
    /// capture), counting those already idle past their timeout as timed
    /// out, so the count does not depend on when sweeps happened to run.
    /// Returns how many flows were still active, and every flow, in the
    /// table's order, taken out of the table as it is read.
    pub fn finish(&mut self, now: Micros) -> (u64, impl Iterator<Item = (FlowKey, Flow<A>)> + '_) {
        let config = &self.config;
        let idle = self
            .flows
            .iter()
            .filter(|(key, flow)| now - flow.last_ts > flow.timeout(key.proto, config))
            .count() as u64;
        self.counters.timed_out += idle;
        self.charged = 0;
        (self.flows.len() as u64 - idle, self.flows.drain())
    }
}

/// Ports for a flow key: real ports, or ICMP's Community ID equivalents, so
/// that an echo request and its reply share a flow.
pub fn flow_ports(transport: &crate::decode::Transport, is_v6: bool) -> (u16, u16) {
    match *transport {
        crate::decode::Transport::Icmp { icmp_type, code } => {
            let (src, dst, _) = community_id::icmp_port_equivalents(icmp_type, code, is_v6);
            (src, dst)
        }
        ref other => other.ports().unwrap_or((0, 0)),
    }
}

#[cfg(test)]
mod tests;
