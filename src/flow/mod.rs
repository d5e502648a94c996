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
//! a worker happens to sweep. Sweeps only free memory. The table holds at most
//! [`FlowConfig::max_flows`] flows; packets of flows that find it full are
//! counted and not tracked.

pub mod community_id;
pub mod reassembly;

use std::collections::HashMap;
use std::net::IpAddr;

use crate::decode::{Mac, TcpFlags, ip_proto};

/// Microseconds since the Unix epoch, in packet time.
pub type Micros = i64;

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
/// Flows one worker tracks at most; beyond this, new flows are counted and
/// not tracked. 1 M flows cost about 200 MB.
pub const MAX_FLOWS_PER_WORKER: usize = 1_000_000;
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
pub struct Flow {
    /// Packet time of the first packet.
    pub first_ts: Micros,
    /// Packet time of the latest packet.
    pub last_ts: Micros,
    /// Whether the originator (sender of the first packet, or of the SYN) is
    /// the key's `lo` endpoint.
    pub originator_is_lo: bool,
    /// Traffic sent by the key's `lo` and `hi` endpoints.
    pub sent: [Counts; 2],
    /// Traffic already credited to the endpoints (see [`FlowTable::sweep`]).
    pub credited: [Counts; 2],
    /// MAC of `lo` and of `hi`: the source MAC of its packets, or until it
    /// sends, the destination MAC of packets to it.
    pub macs: [Option<Mac>; 2],
    /// TCP state; `None` for other protocols.
    pub tcp: Option<TcpState>,
    fin_seen: [bool; 2],
    /// Whether each side's endpoint has been reported to the device stage.
    pub reported: [bool; 2],
    /// Initial sequence number of `lo` and of `hi`, from their SYNs.
    pub isn: [Option<u32>; 2],
    /// The application layer of a TCP flow while it is being parsed.
    pub session: Option<Box<crate::proto::session::Session>>,
    /// The application protocol, once detected.
    pub app_proto: Option<&'static str>,
    /// The input (capture file) the flow's application layer was seen in.
    pub source: u16,
    /// Whether the application layer is settled: detected and parsed to the
    /// end, or recognised as nothing medtap parses.
    pub app_done: bool,
    /// The rate bin the traffic not yet binned belongs to.
    pub bin: Micros,
    /// Traffic already attributed to a rate bin.
    binned: [Counts; 2],
    /// Whether the flow's first packet opened a connection (a SYN, a
    /// datagram, an echo request), so its client and server are known.
    pub opened: bool,
    /// Whether that opening waits to be reported (with the answer, or at
    /// the next synchronisation point).
    pub open_pending: bool,
    /// The idle timeout of an established connection, when its application
    /// protocol sets one (an MQTT keep-alive, MLLP, DICOM).
    pub app_timeout: Option<Micros>,
}

impl Flow {
    fn new(ts: Micros, originator_is_lo: bool, proto: u8) -> Flow {
        Flow {
            first_ts: ts,
            last_ts: ts,
            originator_is_lo,
            sent: [Counts::default(); 2],
            credited: [Counts::default(); 2],
            macs: [None; 2],
            tcp: (proto == ip_proto::TCP).then_some(TcpState::Established),
            fin_seen: [false; 2],
            reported: [false; 2],
            isn: [None; 2],
            session: None,
            app_proto: None,
            source: 0,
            app_done: false,
            bin: rate_bin(ts),
            binned: [Counts::default(); 2],
            opened: false,
            open_pending: false,
            app_timeout: None,
        }
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

    fn update_tcp(&mut self, from_lo: bool, flags: TcpFlags) {
        let side = usize::from(!from_lo);
        let Some(state) = self.tcp else { return };
        let next = if flags.has(TcpFlags::RST) {
            TcpState::Closed
        } else if flags.has(TcpFlags::SYN) && !flags.has(TcpFlags::ACK) {
            TcpState::SynSent
        } else if flags.has(TcpFlags::SYN | TcpFlags::ACK) {
            TcpState::SynReceived
        } else if flags.has(TcpFlags::FIN) {
            if let Some(seen) = self.fin_seen.get_mut(side) {
                *seen = true;
            }
            if self.fin_seen == [true, true] {
                TcpState::Closed
            } else {
                TcpState::Closing
            }
        } else if matches!(state, TcpState::SynSent | TcpState::SynReceived)
            && flags.has(TcpFlags::ACK)
        {
            TcpState::Established
        } else {
            state
        };
        self.tcp = Some(next);
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
    /// Packets not tracked because the table was full.
    pub table_full: u64,
    /// Flows ended by idle timeout.
    pub timed_out: u64,
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
        self.table_full += other.table_full;
        self.timed_out += other.timed_out;
    }
}

/// What [`FlowTable::track`] did with a packet.
pub struct Tracked<'a> {
    /// The flow the packet belongs to.
    pub flow: &'a mut Flow,
    /// Whether the packet started the flow.
    pub is_new: bool,
    /// Traffic of an earlier rate bin, closed by this packet's arrival in a
    /// later one: the bin's start and the flow's packets and bytes in it.
    pub closed_bin: Option<(Micros, Counts)>,
}

/// One worker's flows.
pub struct FlowTable {
    flows: HashMap<FlowKey, Flow, foldhash::fast::RandomState>,
    config: FlowConfig,
    next_sweep: Micros,
    counters: FlowCounters,
}

impl FlowTable {
    /// An empty table.
    pub fn new(config: FlowConfig) -> FlowTable {
        FlowTable {
            flows: HashMap::default(),
            config,
            next_sweep: Micros::MIN,
            counters: FlowCounters::default(),
        }
    }

    /// Counters so far.
    pub fn counters(&self) -> &FlowCounters {
        &self.counters
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
    /// destination MACs. `ended` is called with a flow that
    /// this packet's arrival ends (idle past its timeout, or a closed TCP flow
    /// whose ports are reused by a new SYN) before the new one starts.
    /// Returns `None` when the flow is not tracked because the table is full.
    #[allow(clippy::too_many_arguments)]
    pub fn track(
        &mut self,
        key: &FlowKey,
        from_lo: bool,
        ts: Micros,
        wire_len: u32,
        macs: [Option<Mac>; 2],
        tcp_flags: Option<TcpFlags>,
        ended: &mut impl FnMut(&FlowKey, &mut Flow),
    ) -> Option<Tracked<'_>> {
        let config = &self.config;
        let stale = self.flows.get(key).is_some_and(|flow| {
            let idle = ts - flow.last_ts > flow.timeout(key.proto, config);
            let reused = flow.tcp == Some(TcpState::Closed)
                && tcp_flags.is_some_and(|f| f.has(TcpFlags::SYN) && !f.has(TcpFlags::ACK));
            idle || reused
        });
        if stale && let Some(mut old) = self.flows.remove(key) {
            self.counters.timed_out += 1;
            ended(key, &mut old);
        }
        if !self.flows.contains_key(key) && self.flows.len() >= self.config.max_flows {
            self.counters.table_full += 1;
            return None;
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
        if let Some(flags) = tcp_flags {
            flow.update_tcp(from_lo, flags);
        }
        Some(Tracked {
            flow,
            is_new,
            closed_bin,
        })
    }

    /// The flow of `key`, if tracked.
    pub fn get_mut(&mut self, key: &FlowKey) -> Option<&mut Flow> {
        self.flows.get_mut(key)
    }

    /// Every flow, to close their rate bins.
    pub fn flows_mut(&mut self) -> impl Iterator<Item = (&FlowKey, &mut Flow)> {
        self.flows.iter_mut()
    }

    /// Whether a sweep is due at packet time `now`.
    pub fn sweep_due(&self, now: Micros) -> bool {
        now >= self.next_sweep
    }

    /// Removes flows idle past their timeout at `now`, calling `ended` on
    /// each, and calls `active` on every flow that stays so its traffic can
    /// be credited while it lasts.
    pub fn sweep(
        &mut self,
        now: Micros,
        ended: &mut impl FnMut(&FlowKey, &mut Flow),
        active: &mut impl FnMut(&FlowKey, &mut Flow),
    ) {
        self.next_sweep = now.saturating_add(self.config.sweep_interval);
        let config = &self.config;
        let counters = &mut self.counters;
        self.flows.retain(|key, flow| {
            if now - flow.last_ts > flow.timeout(key.proto, config) {
                counters.timed_out += 1;
                ended(key, flow);
                false
            } else {
                active(key, flow);
                true
            }
        });
    }

    /// Ends every flow at packet time `now` (the end of a replay or
    /// capture), counting those already idle past their timeout as timed
    /// out, so the count does not depend on when sweeps happened to run.
    /// Returns how many flows were still active.
    pub fn finish(&mut self, now: Micros, ended: &mut impl FnMut(&FlowKey, &mut Flow)) -> u64 {
        let mut active = 0;
        for (key, mut flow) in self.flows.drain() {
            if now - flow.last_ts > flow.timeout(key.proto, &self.config) {
                self.counters.timed_out += 1;
            } else {
                active += 1;
            }
            ended(&key, &mut flow);
        }
        active
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
