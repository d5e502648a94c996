//! A worker shard: owns its flows, reports what its packets reveal.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};

use super::{Batch, PacketMeta, WorkerMsg};
use crate::baseline::engine::{BurstSample, Carried, burst_bin};
use crate::baseline::{RateSample, Rates};
use crate::decode::{Network, TcpFlags, Transport, ip_proto};
use crate::device::{DeviceTable, EndpointKey};
use crate::event::PacketTuple;
use crate::flow::{
    Counts, Flow, FlowApp, FlowConfig, FlowCounters, FlowKey, FlowTable, TcpState, flow_ports,
    rate_bin,
};
use crate::proto::session::{
    Counted, ProtocolCounters, ProtocolObservation, ProtocolRecord, Session, SessionOutput,
    TcpSegment,
};
use crate::proto::{Direction, announce};
use crate::reassembly::{Budget, ReassemblyCounters};
use crate::time::Micros;

/// Senders one worker remembers having reported; when full it forgets them
/// What the worker keeps with each flow, beside what the flow table keeps:
/// the protocol session and what has been reported of the flow.
#[derive(Default)]
pub(crate) struct FlowState {
    /// Whether each side's endpoint has been reported to the device stage.
    pub reported: [bool; 2],
    /// The application layer of a TCP flow while it is being parsed.
    pub session: Option<Box<Session>>,
    /// The application protocol, once detected.
    pub app_proto: Option<&'static str>,
    /// The input (capture file) the flow's application layer was seen in.
    pub source: u16,
    /// Whether the application layer is settled: detected and parsed to the
    /// end, or recognised as nothing medtap parses.
    pub app_done: bool,
    /// Whether the flow's first packet opened a connection (a SYN, a
    /// datagram, an echo request), so its client and server are known.
    pub opened: bool,
    /// Whether that opening waits to be reported (with the answer, or at
    /// the next synchronisation point).
    pub open_pending: bool,
}

impl FlowApp for FlowState {
    fn parsing(&self) -> bool {
        self.session.is_some() && !self.app_done
    }
}

/// A flow of the worker's table.
type WorkerFlow = Flow<FlowState>;

/// all and reports again (the merge stage ignores repeats).
pub const REPORTED_SENDERS_CAPACITY: usize = 65_536;

/// Something a worker saw, tagged with the packet that showed it.
#[derive(Debug, Clone)]
pub(crate) struct Observation {
    pub seq: u64,
    /// Orders observations made at one synchronisation point (flows ended
    /// there): packet time of the flow's end, then a hash of its key.
    /// `(Micros::MIN, 0)` for observations of a packet.
    pub sub: (Micros, u64),
    pub ts: Micros,
    pub source: u16,
    pub what: Observed,
}

impl Observation {
    /// The merge order.
    pub fn order(&self) -> (u64, Micros, u64) {
        (self.seq, self.sub.0, self.sub.1)
    }
}

/// What was seen.
#[derive(Debug, Clone)]
pub(crate) enum Observed {
    /// An endpoint sent a packet (first time this worker saw it do so).
    Sender {
        endpoint: EndpointKey,
        tuple: Option<PacketTuple>,
    },
    /// A protocol observation on a connection (client to server), at the
    /// packet that showed it.
    Protocol {
        tuple: PacketTuple,
        client: EndpointKey,
        server: EndpointKey,
        observation: Box<ProtocolObservation>,
    },
    /// What a connection's opening (or a SYN) showed about one of its
    /// ends: OS and software evidence, an exposure (client to server).
    Found {
        tuple: PacketTuple,
        endpoint: EndpointKey,
        server: bool,
        finding: Box<crate::proto::handshake::Finding>,
    },
    /// A protocol record, for `--log-protocols` (client to server).
    Record {
        tuple: PacketTuple,
        record: Box<ProtocolRecord>,
    },
    /// A connection was opened by its client, or its server answered, or
    /// both (an opening not yet reported when the answer comes); the tuple
    /// is client to server.
    Connection {
        tuple: PacketTuple,
        client: EndpointKey,
        server: EndpointKey,
        opened: bool,
        answered: bool,
    },
    /// What a host said about itself in a datagram (DHCP, mDNS, LLMNR,
    /// NetBIOS, SSDP) or a link-layer frame (LLDP, CDP: no tuple): identity
    /// facts of its sender.
    Announced {
        endpoint: EndpointKey,
        tuple: Option<PacketTuple>,
        facts: Vec<announce::AnnouncedFact>,
    },
    /// Names a DNS server's answer gave to addresses: identity facts of
    /// whichever devices use them.
    Named {
        tuple: PacketTuple,
        names: Vec<announce::NamedAddress>,
    },
    /// One endpoint's traffic in a rate bin this worker has closed.
    Rates(RateSample),
    /// Protocol traffic per sender and second, of the seconds this worker
    /// closed at one synchronisation point, in no particular order (the
    /// merge stage sums them per device).
    Seconds(Vec<BurstSample>),
    /// Every rate bin before `bin`, and every second before `second`, is
    /// closed: sent at a synchronisation point by every worker, after
    /// everything else at that point.
    Tick { bin: Micros, second: Micros },
}

/// A worker's message to the merge stage.
pub(crate) struct Report {
    pub worker: usize,
    pub observations: Vec<Observation>,
    /// Every packet up to this sequence number has been processed.
    pub watermark: u64,
    pub flows: FlowCounters,
    pub active_flows: u64,
    pub reassembly: ReassemblyCounters,
    /// Protocol counters, when they changed since the last report (they
    /// change per connection, not per batch; not cloning them keeps the
    /// steady state free of allocations).
    pub protocols: Option<ProtocolCounters>,
    /// Endpoint-minute rate entries dropped so far (see [`MAX_RATE_ENTRIES`]).
    pub rates_dropped: u64,
    /// Set on the last report, after the worker has drained its flows.
    pub last: bool,
}

pub(crate) struct Worker {
    id: usize,
    flows: FlowTable<FlowState>,
    table: Arc<DeviceTable>,
    reports: Sender<Report>,
    free: Sender<Batch>,
    reported: HashSet<EndpointKey, foldhash::fast::RandomState>,
    /// (sender, TCP signature) pairs matched against p0f already: a host's
    /// stack sends the same signature on every connection, so only a new
    /// one is matched. Each worker reports the first of each pair it sees;
    /// the earliest of all is always among them, and repeats change nothing
    /// on the device: the same clues at the same packets for any number of
    /// workers.
    fingerprinted: HashSet<(EndpointKey, u64), foldhash::fast::RandomState>,
    /// The OS clue of each p0f signature matched so far, by its line and
    /// how it matched (the database's size bounds it).
    p0f_clues: HashMap<(usize, &'static str), Option<crate::fingerprint::os::OsClue>>,
    observations: Vec<Observation>,
    clock: Micros,
    apps: Apps,
}

/// The application-layer state of a worker, apart from its flow table so
/// that it can end the flows the table hands back while the table is
/// borrowed.
struct Apps {
    budget: Budget,
    output: SessionOutput,
    counters: ProtocolCounters,
    /// `counters` as last reported.
    reported_counters: ProtocolCounters,
    /// Where the records of the packet being processed go.
    current: Vec<Observation>,
    /// Records of flows ended at a synchronisation point, sorted before they
    /// are reported.
    ended: Vec<Observation>,
    key_hasher: foldhash::fast::FixedState,
    /// Traffic per endpoint and rate bin, until the bin closes.
    rates: HashMap<(EndpointKey, Micros), Rates, foldhash::fast::RandomState>,
    /// The earliest rate bin still open; earlier ones have been reported.
    rates_bin: Micros,
    /// Endpoint-bin entries not counted because `rates` or `seconds` was
    /// full.
    rates_dropped: u64,
    /// See [`Options::rate_entries`].
    rate_entries: usize,
    /// Protocol traffic per sender, second and protocol, until the second
    /// closes.
    seconds: HashMap<(EndpointKey, Micros, &'static str), Carried, foldhash::fast::RandomState>,
    /// The earliest second still open; earlier ones have been reported.
    seconds_open: Micros,
    /// Parsed connections with traffic not yet counted into a closed
    /// second (see [`Counted`]).
    counting: Vec<FlowKey>,
    /// Whether every protocol record is wanted (`--log-protocols`).
    log_protocols: bool,
    /// Packet time between interim records of a long connection (0: none).
    record_interval: Micros,
    /// Whether baselines are kept: connections and rates are reported.
    baselines: bool,
    /// Flows opened since the last synchronisation point whose opening is
    /// not reported yet.
    pending_opens: Vec<FlowKey>,
}

/// What a worker reports beside observations.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    /// Protocol records (`--log-protocols`).
    pub log_protocols: bool,
    /// Packet time between interim records of a long connection (0: none).
    pub record_interval: Micros,
    /// Connections and rates, for the baselines.
    pub baselines: bool,
    /// Out-of-order bytes the worker holds at most, for all its connections.
    pub held_bytes: usize,
    /// Endpoint-bin rate entries the worker holds at most (at most
    /// [`MAX_RATE_ENTRIES`]).
    pub rate_entries: usize,
}

/// Endpoint-bin rate entries one worker holds at most between two rate-bin
/// closes, unless the memory budget sets fewer; past this, traffic of new
/// endpoints is not binned (and counted).
pub const MAX_RATE_ENTRIES: usize = 262_144;

/// Sender-second-protocol entries one worker holds at most between two
/// synchronisation points; past this, protocol traffic of new senders is
/// not counted into seconds (and the loss is counted with the rate entries).
pub const MAX_SECOND_ENTRIES: usize = 65_536;

impl Worker {
    pub(crate) fn new(
        id: usize,
        config: FlowConfig,
        table: Arc<DeviceTable>,
        reports: Sender<Report>,
        free: Sender<Batch>,
        options: Options,
    ) -> Worker {
        Worker {
            id,
            flows: FlowTable::new(config),
            table,
            reports,
            free,
            reported: HashSet::default(),
            fingerprinted: HashSet::default(),
            p0f_clues: HashMap::new(),
            observations: Vec::new(),
            clock: Micros::MIN,
            apps: Apps {
                budget: Budget::new(options.held_bytes),
                output: SessionOutput {
                    reported: crate::proto::session::Reported {
                        want_records: options.log_protocols,
                        ..Default::default()
                    },
                    ..Default::default()
                },
                counters: ProtocolCounters::default(),
                reported_counters: ProtocolCounters::default(),
                current: Vec::new(),
                ended: Vec::new(),
                key_hasher: foldhash::fast::FixedState::with_seed(0),
                rates: HashMap::default(),
                rates_bin: Micros::MIN,
                rates_dropped: 0,
                seconds: HashMap::default(),
                seconds_open: Micros::MIN,
                counting: Vec::new(),
                log_protocols: options.log_protocols,
                rate_entries: options.rate_entries.min(MAX_RATE_ENTRIES),
                record_interval: options.record_interval,
                baselines: options.baselines,
                pending_opens: Vec::new(),
            },
        }
    }

    pub(crate) fn run(mut self, rx: Receiver<WorkerMsg>) {
        for msg in rx {
            let watermark = match msg {
                WorkerMsg::Batch(mut batch) => {
                    for meta in &batch.packets {
                        let frame = batch
                            .arena
                            .get(meta.offset as usize..(meta.offset + meta.caplen) as usize)
                            .unwrap_or(&[]);
                        self.packet(meta, frame);
                    }
                    let watermark = batch.watermark;
                    if batch.sync {
                        self.sync(watermark, batch.clock);
                    }
                    batch.clear();
                    // The pool is sized for every batch; if the capture side
                    // has gone, the batch is simply dropped.
                    let _ = self.free.try_send(batch);
                    watermark
                }
                WorkerMsg::Watermark { seq, clock } => {
                    self.sync(seq, clock);
                    seq
                }
            };
            self.report(watermark, false);
        }
        let (active, ended) = self.flows.finish(self.clock);
        self.apps.flows_ended(&self.table, u64::MAX, ended);
        self.apps.close_rate_bins(u64::MAX, Micros::MAX);
        self.apps.close_seconds(u64::MAX, Micros::MAX);
        self.take_ended();
        self.send(u64::MAX, active, true);
    }

    fn report(&mut self, watermark: u64, last: bool) {
        let active = self.flows.len() as u64;
        self.send(watermark, active, last);
    }

    fn send(&mut self, watermark: u64, active_flows: u64, last: bool) {
        let report = Report {
            worker: self.id,
            observations: std::mem::take(&mut self.observations),
            watermark,
            flows: self.flows.counters().clone(),
            active_flows,
            reassembly: self.apps.output.reassembly.clone(),
            rates_dropped: self.apps.rates_dropped,
            protocols: (self.apps.counters != self.apps.reported_counters).then(|| {
                self.apps.reported_counters.clone_from(&self.apps.counters);
                self.apps.counters.clone()
            }),
            last,
        };
        let _ = self.reports.send(report);
    }

    /// A synchronisation point at sequence number `seq`: ends idle flows.
    fn sync(&mut self, seq: u64, now: Micros) {
        self.clock = self.clock.max(now);
        if self.flows.sweep_due(self.clock) {
            let ended = self.flows.sweep(self.clock);
            self.apps.flows_ended(&self.table, seq, ended);
            // The flows that stay are active: their traffic is credited
            // while they last. Crediting only adds to the device table's
            // totals, so it may come after the ended flows' own (and the
            // order of the flows was the hash table's anyway).
            for (key, flow) in self.flows.flows_mut() {
                credit(&self.table, key, flow);
            }
        }
        // Openings still unanswered are reported here, at the same point in
        // every worker.
        let mut pending = std::mem::take(&mut self.apps.pending_opens);
        for key in pending.drain(..) {
            if let Some(flow) = self.flows.get_mut(&key) {
                self.apps.report_open(seq, &key, flow);
            }
        }
        self.apps.pending_opens = pending;
        // Rate bins close once the capture's clock has left them: the same
        // bins at the same point in every worker.
        let bin = rate_bin(self.clock);
        let ticked = self.apps.baselines && bin > self.apps.rates_bin;
        if ticked {
            for (key, flow) in self.flows.flows_mut() {
                if flow.bin < bin {
                    let (flow_bin, counts) = flow.take_unbinned();
                    flow.bin = bin;
                    self.apps.add_rates(key, flow, flow_bin, counts);
                }
            }
            self.apps.close_rate_bins(seq, bin);
        }
        // Seconds close the same way, for the short-window rates; the
        // connections that carried something since the last point tally
        // their parsers' anomalies.
        let second = burst_bin(self.clock);
        let second_ticked = self.apps.baselines && second > self.apps.seconds_open;
        let mut counting = std::mem::take(&mut self.apps.counting);
        counting.retain(|key| {
            let Some(flow) = self.flows.get_mut(key) else {
                return false;
            };
            let Some(session) = flow.app.session.as_mut() else {
                return false;
            };
            session.tally(&mut self.apps.counters);
            if !self.apps.baselines {
                session.counted.listed = false;
                return false;
            }
            if session.counted.second >= second {
                return true;
            }
            self.apps.count_second(key, flow, second);
            if let Some(session) = flow.app.session.as_mut() {
                session.counted.listed = false;
            }
            false
        });
        self.apps.counting = counting;
        if second_ticked {
            self.apps.close_seconds(seq, second);
        }
        self.take_ended();
        if ticked || second_ticked {
            self.observations.push(Observation {
                seq,
                sub: (Micros::MAX, u64::MAX),
                ts: self.clock,
                source: 0,
                what: Observed::Tick {
                    bin: self.apps.rates_bin,
                    second: self.apps.seconds_open,
                },
            });
        }
    }

    /// Reports the records of flows ended at a synchronisation point, in an
    /// order that does not depend on the hash table's.
    fn take_ended(&mut self) {
        if self.apps.ended.is_empty() {
            return;
        }
        self.apps.ended.sort_by_key(Observation::order);
        self.observations.append(&mut self.apps.ended);
    }

    fn packet(&mut self, meta: &PacketMeta, frame: &[u8]) {
        let decoded = &meta.decoded;
        let outer_vlan = decoded.vlan[0];
        match decoded.network {
            Network::Ip {
                src,
                dst,
                proto,
                fragment,
            } => {
                let (src_port, dst_port) = flow_ports(&decoded.transport, src.is_ipv6());
                let tuple = PacketTuple {
                    src,
                    dst,
                    src_port,
                    dst_port,
                    proto,
                    vlan: decoded.vlan,
                    has_ports: decoded.transport.ports().is_some(),
                    is_icmp: matches!(decoded.transport, Transport::Icmp { .. }),
                };
                let tuple = match decoded.transport {
                    Transport::Icmp { icmp_type, code } => PacketTuple {
                        src_port: u16::from(icmp_type),
                        dst_port: u16::from(code),
                        ..tuple
                    },
                    _ => tuple,
                };
                let endpoint = EndpointKey {
                    mac: decoded.src_mac,
                    ip: src,
                    vlan: outer_vlan,
                };
                if fragment {
                    // Fragments are not reassembled: the sender is a fact, the
                    // flow is not.
                    self.sender(meta, endpoint, None);
                    return;
                }
                // Made by the dispatcher for every IP packet.
                let Some((key, from_lo)) = meta.flow else {
                    return;
                };
                // The worker's clock is the capture's (`sync`), which one
                // stray timestamp cannot move: not this packet's own time.
                let apps = &mut self.apps;
                // Flags and numbers, so TCP state follows what the
                // receiving host accepts (an RST in its window, a SYN with
                // the connection's own ISN, a FIN in order).
                let tcp_flags = match decoded.transport {
                    Transport::Tcp {
                        flags, seq, ack, ..
                    } => Some(crate::flow::TcpSeen::new(
                        flags,
                        seq,
                        ack,
                        decoded
                            .payload_len
                            .saturating_add(meta.wire_len.saturating_sub(meta.caplen)),
                    )),
                    _ => None,
                };
                let tracked = self.flows.track(
                    &key,
                    from_lo,
                    meta.ts,
                    meta.wire_len,
                    [decoded.src_mac, decoded.dst_mac],
                    tcp_flags,
                );
                let side = usize::from(!from_lo);
                let mut connection = None;
                let first_from_side = match tracked {
                    Some(mut t) => {
                        // Flows the packet's arrival ended are ended before
                        // it counts.
                        apps.flows_ended(&self.table, meta.seq, t.ended());
                        if let Some((bin, counts)) = t.closed_bin {
                            apps.add_rates(&key, t.flow, bin, counts);
                        }
                        let first = match t.flow.app.reported.get_mut(side) {
                            Some(reported) if !*reported => {
                                *reported = true;
                                true
                            }
                            _ => false,
                        };
                        let from_originator = from_lo == t.flow.originator_is_lo;
                        let opened =
                            apps.baselines && t.is_new && opens_connection(&decoded.transport);
                        if opened {
                            t.flow.app.opened = true;
                            t.flow.app.open_pending = true;
                            apps.pending_opens.push(key);
                        }
                        // Only a connection seen opening has a known client,
                        // and a reset is a refusal, not an answer.
                        let refused = matches!(decoded.transport, Transport::Tcp { flags, .. } if flags.has(TcpFlags::RST));
                        let answered = t.flow.app.opened && first && !from_originator && !refused;
                        if opened || answered {
                            let (tuple, client, server) = oriented(&key, t.flow);
                            if opened {
                                apps.count_connection(client, meta.ts);
                            }
                            // The opening waits for its answer, or for the
                            // next synchronisation point: most connections
                            // are then one observation, not two.
                            if answered {
                                let opened = std::mem::take(&mut t.flow.app.open_pending);
                                connection = Some((tuple, client, server, opened));
                            }
                        }
                        if let Transport::Tcp {
                            seq, ack, flags, ..
                        } = decoded.transport
                        {
                            let segment = SegmentInfo {
                                seq,
                                ack,
                                flags,
                                payload: decoded.payload(frame),
                                missing: meta
                                    .wire_len
                                    .saturating_sub(meta.caplen)
                                    .min(u32::from(u16::MAX)),
                            };
                            apps.tcp(meta, &key, from_lo, t.flow, segment);
                            let held = t.flow.app.session.as_ref().map_or(0, |s| s.footprint());
                            t.recharge(held);
                        }
                        first
                    }
                    None => true,
                };
                apps.flows_ended(&self.table, meta.seq, self.flows.relieve());
                if first_from_side {
                    self.sender(meta, endpoint, Some(tuple));
                }
                if let Transport::Tcp { flags, .. } = decoded.transport
                    && flags.has(TcpFlags::SYN)
                    && !flags.has(TcpFlags::RST)
                {
                    self.syn_signature(meta, frame, endpoint, tuple, flags.has(TcpFlags::ACK));
                }
                if let Transport::Udp { src_port, dst_port } = decoded.transport
                    && announce::may_announce(src_port, dst_port)
                {
                    let mut facts = Vec::new();
                    announce::announced(
                        src,
                        src_port,
                        dst_port,
                        decoded.payload(frame),
                        &mut facts,
                    );
                    self.announced(meta, endpoint, Some(tuple), facts);
                }
                if let Transport::Udp { src_port, dst_port } = decoded.transport
                    && crate::proto::handshake::datagram_ports(src_port, dst_port)
                {
                    self.datagram(
                        meta,
                        decoded.payload(frame),
                        endpoint,
                        tuple,
                        src_port,
                        dst_port,
                    );
                }
                if let Transport::Udp { src_port, .. } = decoded.transport
                    && announce::may_name_others(src_port)
                {
                    let mut names = Vec::new();
                    announce::named_addresses(decoded.payload(frame), &mut names);
                    if !names.is_empty() {
                        self.observations.push(Observation {
                            seq: meta.seq,
                            sub: (Micros::MIN, 2),
                            ts: meta.ts,
                            source: meta.source,
                            what: Observed::Named { tuple, names },
                        });
                    }
                }
                if let Some((tuple, client, server, opened)) = connection {
                    self.observations.push(Observation {
                        seq: meta.seq,
                        sub: (Micros::MIN, 0),
                        ts: meta.ts,
                        source: meta.source,
                        what: Observed::Connection {
                            tuple,
                            client,
                            server,
                            opened,
                            answered: true,
                        },
                    });
                }
                // Records come after the packet's own sightings, as one
                // thread would have made them.
                self.observations.append(&mut self.apps.current);
            }
            Network::Arp {
                sender_mac,
                sender_ip,
            } => {
                let endpoint = EndpointKey {
                    mac: Some(sender_mac),
                    ip: sender_ip.into(),
                    vlan: outer_vlan,
                };
                self.sender(meta, endpoint, None);
            }
            Network::Other(ether_type) => {
                // LLDP and CDP: a station describing itself, with no address.
                if announce::link_may_announce(ether_type)
                    && let Some(mac) = decoded.src_mac
                {
                    let mut facts = Vec::new();
                    announce::link_announced(ether_type, decoded.payload(frame), &mut facts);
                    let endpoint = EndpointKey {
                        mac: Some(mac),
                        ip: std::net::Ipv4Addr::UNSPECIFIED.into(),
                        vlan: outer_vlan,
                    };
                    self.announced(meta, endpoint, None, facts);
                }
            }
        }
    }

    /// What `endpoint` said about itself, after its sighting: DHCP clients
    /// share the flow 0.0.0.0:68 → 255.255.255.255:67, so the flow's first
    /// sender need not be this one.
    fn announced(
        &mut self,
        meta: &PacketMeta,
        endpoint: EndpointKey,
        tuple: Option<PacketTuple>,
        facts: Vec<announce::AnnouncedFact>,
    ) {
        if facts.is_empty() {
            return;
        }
        self.sender(meta, endpoint, tuple);
        self.observations.push(Observation {
            seq: meta.seq,
            sub: (Micros::MIN, 1),
            ts: meta.ts,
            source: meta.source,
            what: Observed::Announced {
                endpoint,
                tuple,
                facts,
            },
        });
    }

    /// An SNMP or TFTP datagram from `endpoint`: what it says of its sender
    /// (an exposure, an SNMP agent's sysDescr).
    fn datagram(
        &mut self,
        meta: &PacketMeta,
        payload: &[u8],
        endpoint: EndpointKey,
        tuple: PacketTuple,
        src_port: u16,
        dst_port: u16,
    ) {
        let mut found = Vec::new();
        crate::proto::handshake::datagram(src_port, dst_port, payload, &mut found);
        // Client to server: an agent's answer comes from the service port.
        let tuple = if src_port == crate::proto::handshake::SNMP_PORT {
            tuple.reversed()
        } else {
            tuple
        };
        for (server, finding) in found {
            self.observations.push(Observation {
                seq: meta.seq,
                sub: (Micros::MIN, 3),
                ts: meta.ts,
                source: meta.source,
                what: Observed::Found {
                    tuple,
                    endpoint,
                    server,
                    finding: Box::new(finding),
                },
            });
        }
    }

    /// A SYN (or SYN+ACK, `answer`) from `endpoint`: its TCP signature
    /// matched against p0f's is a clue to the sender's operating system.
    fn syn_signature(
        &mut self,
        meta: &PacketMeta,
        frame: &[u8],
        endpoint: EndpointKey,
        tuple: PacketTuple,
        answer: bool,
    ) {
        let Some(db) = crate::fingerprint::p0f::shared() else {
            return;
        };
        let packet = frame
            .get(meta.decoded.network_offset as usize..)
            .unwrap_or_default();
        let Ok(signature) = crate::fingerprint::tcp::TcpSignature::from_ip_packet(packet) else {
            return;
        };
        // The signature without its TCP timestamp's value, which every SYN
        // changes (matching asks only whether it is zero).
        let shape = std::hash::BuildHasher::hash_one(
            &foldhash::fast::FixedState::with_seed(0),
            crate::fingerprint::tcp::TcpSignature {
                timestamp: u32::from(signature.timestamp != 0),
                ..signature
            },
        );
        if self.fingerprinted.contains(&(endpoint, shape)) {
            return;
        }
        if self.fingerprinted.len() >= REPORTED_SENDERS_CAPACITY {
            self.fingerprinted.clear();
        }
        self.fingerprinted.insert((endpoint, shape));
        let Some(found) = db.find(&signature, None) else {
            return;
        };
        let clue = self
            .p0f_clues
            .entry((found.line, found.confidence.as_str()))
            .or_insert_with(|| crate::fingerprint::os::from_p0f_match(&found));
        let Some(clue) = clue.clone() else {
            return;
        };
        // Client to server, as every connection's observations are.
        let tuple = if answer { tuple.reversed() } else { tuple };
        self.observations.push(Observation {
            seq: meta.seq,
            sub: (Micros::MIN, 3),
            ts: meta.ts,
            source: meta.source,
            what: Observed::Found {
                tuple,
                endpoint,
                server: answer,
                finding: Box::new(crate::proto::handshake::Finding::Os(clue)),
            },
        });
    }

    fn sender(&mut self, meta: &PacketMeta, endpoint: EndpointKey, tuple: Option<PacketTuple>) {
        if self.reported.contains(&endpoint) {
            return;
        }
        if self.reported.len() >= REPORTED_SENDERS_CAPACITY {
            self.reported.clear();
        }
        self.reported.insert(endpoint);
        self.observations.push(Observation {
            seq: meta.seq,
            sub: (Micros::MIN, 0),
            ts: meta.ts,
            source: meta.source,
            what: Observed::Sender { endpoint, tuple },
        });
    }
}

/// The endpoints of a flow: its key's `lo` and `hi`, with their MACs.
fn flow_endpoints(key: &FlowKey, flow: &WorkerFlow) -> [EndpointKey; 2] {
    [(key.lo, flow.macs[0]), (key.hi, flow.macs[1])].map(|(ep, mac)| EndpointKey {
        mac,
        ip: ep.addr,
        vlan: key.vlan[0],
    })
}

/// Credits a flow's uncredited traffic to its two endpoints.
fn credit(table: &DeviceTable, key: &FlowKey, flow: &mut WorkerFlow) {
    let delta = flow.take_uncredited();
    let [lo, hi] = flow_endpoints(key, flow);
    table.credit(lo, hi, delta[0], flow.last_ts);
    table.credit(hi, lo, delta[1], flow.last_ts);
}

/// Whether a flow's first packet opens a connection: a TCP SYN (or the
/// SYN-ACK of one missed), any UDP datagram, an ICMP echo request. A TCP
/// flow picked up midstream does not: which end is the client is a guess.
fn opens_connection(transport: &Transport) -> bool {
    match *transport {
        Transport::Tcp { flags, .. } => flags.has(TcpFlags::SYN),
        Transport::Udp { .. } => true,
        Transport::Icmp { icmp_type, .. } => icmp_type == 8 || icmp_type == 128,
        _ => false,
    }
}

/// A flow's tuple from its client to its server, and the two endpoints.
fn oriented(key: &FlowKey, flow: &WorkerFlow) -> (PacketTuple, EndpointKey, EndpointKey) {
    let [lo, hi] = flow_endpoints(key, flow);
    let (client, server, client_key, server_key) = if flow.originator_is_lo {
        (key.lo, key.hi, lo, hi)
    } else {
        (key.hi, key.lo, hi, lo)
    };
    let is_icmp = matches!(key.proto, ip_proto::ICMP | ip_proto::ICMPV6);
    let tuple = PacketTuple {
        src: client.addr,
        dst: server.addr,
        src_port: client.port,
        dst_port: server.port,
        proto: key.proto,
        vlan: key.vlan,
        has_ports: !is_icmp && (client.port != 0 || server.port != 0),
        is_icmp,
    };
    (tuple, client_key, server_key)
}

/// What the worker passes on of a TCP segment.
struct SegmentInfo<'a> {
    seq: u32,
    ack: u32,
    flags: TcpFlags,
    payload: &'a [u8],
    /// Payload bytes the capture cut off.
    missing: u32,
}

impl Apps {
    /// One TCP segment of a tracked flow: feeds its session, creating it
    /// when the flow first carries data, and ends it when the connection
    /// closes.
    fn tcp(
        &mut self,
        meta: &PacketMeta,
        key: &FlowKey,
        from_lo: bool,
        flow: &mut WorkerFlow,
        segment: SegmentInfo<'_>,
    ) {
        let SegmentInfo {
            seq,
            ack,
            flags,
            payload,
            missing,
        } = segment;
        // The flow table keeps each side's ISN from the SYN it accepted.
        if flow.app.app_done {
            return;
        }
        if flow.app.session.is_none() {
            if payload.is_empty() && missing == 0 {
                return;
            }
            let server = key.receiver(flow.originator_is_lo);
            let mut session = Session::new(server.port, self.budget.clone());
            // Segments already seen (SYNs) start the streams where they began.
            let (client_isn, server_isn) = if flow.originator_is_lo {
                (flow.isn[0], flow.isn[1])
            } else {
                (flow.isn[1], flow.isn[0])
            };
            for (direction, isn) in [
                (Direction::ToServer, client_isn),
                (Direction::ToClient, server_isn),
            ] {
                if let Some(isn) = isn {
                    let syn = TcpSegment {
                        direction,
                        seq: isn,
                        ack: None,
                        syn: true,
                        fin: false,
                        payload: &[],
                        missing: 0,
                    };
                    session.segment(syn, meta.ts, &mut self.counters, &mut self.output);
                }
            }
            flow.app.session = Some(Box::new(session));
            flow.app.source = meta.source;
        }
        self.count_packet(meta.ts, key, flow);
        let Some(session) = flow.app.session.as_mut() else {
            return;
        };
        let direction = if from_lo == flow.originator_is_lo {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let segment = TcpSegment {
            direction,
            seq,
            ack: flags.has(TcpFlags::ACK).then_some(ack),
            syn: flags.has(TcpFlags::SYN),
            fin: flags.has(TcpFlags::FIN),
            payload,
            missing,
        };
        session.segment(segment, meta.ts, &mut self.counters, &mut self.output);
        flow.app.app_proto = flow.app.app_proto.or(session.app_proto());
        // A protocol's timeout is known once it observed something (an MQTT
        // keep-alive at the CONNECT, a Server Keep Alive at the CONNACK).
        if !self.output.reported.observations.is_empty() {
            flow.app_timeout = session.idle_timeout().or(flow.app_timeout);
        }
        if self.log_protocols && self.record_interval > 0 {
            if session.recorded == Micros::MIN {
                session.recorded = meta.ts;
            } else if meta.ts - session.recorded >= self.record_interval {
                session.recorded = meta.ts;
                if let Some(record) = session.interim() {
                    self.output.reported.records.push(record);
                }
            }
        }
        let closed = flow.tcp == Some(TcpState::Closed);
        if closed {
            session.finish(meta.ts, &mut self.counters, &mut self.output);
        }
        if closed || session.is_idle() {
            if self.baselines {
                self.count_second(key, flow, Micros::MAX);
            }
            flow.app.session = None;
            flow.app.app_done = true;
        }
        self.report(
            meta.seq,
            (Micros::MIN, 0),
            meta.ts,
            meta.source,
            key,
            flow,
            false,
        );
    }

    /// Flows the table ended at sequence number `seq`, in the order it
    /// ended them. Inlined: on most packets there are none, and the check
    /// is all it costs.
    #[inline(always)]
    fn flows_ended(
        &mut self,
        table: &DeviceTable,
        seq: u64,
        ended: impl Iterator<Item = (FlowKey, WorkerFlow)>,
    ) {
        for (key, mut flow) in ended {
            self.flow_ended(table, seq, &key, &mut flow);
        }
    }

    /// A flow ended at sequence number `seq`: its traffic is credited and
    /// binned, and its session reports what it still holds.
    fn flow_ended(&mut self, table: &DeviceTable, seq: u64, key: &FlowKey, flow: &mut WorkerFlow) {
        self.report_open(seq, key, flow);
        credit(table, key, flow);
        let (bin, counts) = flow.take_unbinned();
        self.add_rates(key, flow, bin, counts);
        self.end_flow(seq, key, flow);
    }

    /// A packet of a parsed connection at packet time `ts`, before its
    /// bytes are parsed: the connection is listed for the next
    /// synchronisation point; with baselines, when the packet opens a new
    /// second, what the connection carried in the second it was counting
    /// is counted there.
    fn count_packet(&mut self, ts: Micros, key: &FlowKey, flow: &mut WorkerFlow) {
        let second = burst_bin(ts);
        let Some(session) = flow.app.session.as_mut() else {
            return;
        };
        if !session.counted.listed {
            session.counted.listed = true;
            self.counting.push(*key);
        }
        if self.baselines && session.counted.second < second {
            self.count_second(key, flow, second);
        }
    }

    /// Counts what a parsed connection carried since it was last counted
    /// into the second it was counting (or the earliest still open), for
    /// its senders; it goes on counting from `next`.
    fn count_second(&mut self, key: &FlowKey, flow: &mut WorkerFlow, next: Micros) {
        let Some(session) = flow.app.session.as_mut() else {
            return;
        };
        let counted = session.counted;
        let traffic = session.traffic();
        session.counted = Counted {
            second: next,
            traffic,
            ..counted
        };
        let Some(protocol) = session.parsing() else {
            return;
        };
        let carried = traffic.since(&counted.traffic);
        if carried.is_empty() {
            return;
        }
        let [lo, hi] = flow_endpoints(key, flow);
        let (client, server) = if flow.originator_is_lo {
            (lo, hi)
        } else {
            (hi, lo)
        };
        let second = counted.second.max(self.seconds_open);
        for (i, endpoint) in [client, server].into_iter().enumerate() {
            let sent = Carried {
                messages: carried.messages.get(i).copied().unwrap_or(0),
                bytes: carried.bytes.get(i).copied().unwrap_or(0),
            };
            if sent.is_empty() {
                continue;
            }
            let id = (endpoint, second, protocol);
            if let Some(entry) = self.seconds.get_mut(&id) {
                entry.add(&sent);
            } else if self.seconds.len() < MAX_SECOND_ENTRIES {
                self.seconds.insert(id, sent);
            } else {
                self.rates_dropped += 1;
            }
        }
    }

    /// Reports every second before `second` at sequence number `seq`, in
    /// one observation: the merge stage sums the samples per device, so
    /// their order does not matter and they need no sorting.
    fn close_seconds(&mut self, seq: u64, second: Micros) {
        let mut samples = Vec::new();
        self.seconds.retain(|(endpoint, start, protocol), carried| {
            if *start >= second {
                return true;
            }
            samples.push(BurstSample {
                endpoint: *endpoint,
                bin: *start,
                protocol,
                carried: *carried,
            });
            false
        });
        self.seconds_open = self.seconds_open.max(second);
        if !samples.is_empty() {
            self.ended.push(Observation {
                seq,
                // After the flows ended at this point, before the tick.
                sub: (Micros::MAX, u64::MAX - 1),
                ts: second,
                source: 0,
                what: Observed::Seconds(samples),
            });
        }
    }

    /// Reports the opening of `flow` if it is still pending, at sequence
    /// number `seq` (a synchronisation point, or where the flow ended),
    /// ordered by the packet time it opened.
    fn report_open(&mut self, seq: u64, key: &FlowKey, flow: &mut WorkerFlow) {
        if !std::mem::take(&mut flow.app.open_pending) {
            return;
        }
        let (tuple, client, server) = oriented(key, flow);
        self.ended.push(Observation {
            seq,
            sub: (
                flow.first_ts,
                std::hash::BuildHasher::hash_one(&self.key_hasher, key),
            ),
            ts: flow.first_ts,
            source: flow.app.source,
            what: Observed::Connection {
                tuple,
                client,
                server,
                opened: true,
                answered: false,
            },
        });
    }

    /// Adds a flow's traffic in rate bin `bin` to both of its endpoints.
    fn add_rates(&mut self, key: &FlowKey, flow: &WorkerFlow, bin: Micros, counts: Counts) {
        if counts.packets == 0 || !self.baselines {
            return;
        }
        let rates = Rates {
            packets: counts.packets,
            bytes: counts.bytes,
            connections: 0,
        };
        // A bin already reported takes no more: late traffic counts in the
        // earliest open one.
        let bin = bin.max(self.rates_bin);
        for endpoint in flow_endpoints(key, flow) {
            self.bin_entry(endpoint, bin, &rates);
        }
    }

    /// Counts a connection opened by `client` at packet time `ts`.
    fn count_connection(&mut self, client: EndpointKey, ts: Micros) {
        let rates = Rates {
            connections: 1,
            ..Rates::default()
        };
        self.bin_entry(client, rate_bin(ts).max(self.rates_bin), &rates);
    }

    fn bin_entry(&mut self, endpoint: EndpointKey, bin: Micros, rates: &Rates) {
        if let Some(entry) = self.rates.get_mut(&(endpoint, bin)) {
            entry.add(rates);
        } else if self.rates.len() < self.rate_entries {
            self.rates.insert((endpoint, bin), *rates);
        } else {
            self.rates_dropped += 1;
        }
    }

    /// Reports every rate bin before `bin` at sequence number `seq`.
    fn close_rate_bins(&mut self, seq: u64, bin: Micros) {
        let hasher = &self.key_hasher;
        let closed = &mut self.ended;
        self.rates.retain(|(endpoint, start), rates| {
            if *start >= bin {
                return true;
            }
            closed.push(Observation {
                seq,
                sub: (*start, std::hash::BuildHasher::hash_one(hasher, endpoint)),
                ts: *start,
                source: 0,
                what: Observed::Rates(RateSample {
                    endpoint: *endpoint,
                    bin: *start,
                    rates: *rates,
                }),
            });
            false
        });
        self.rates_bin = self.rates_bin.max(bin);
    }

    /// A flow ended (timed out, or the capture ended) at sequence number
    /// `seq`: its session reports what it still holds.
    fn end_flow(&mut self, seq: u64, key: &FlowKey, flow: &mut WorkerFlow) {
        if self.baselines {
            self.count_second(key, flow, Micros::MAX);
        }
        let Some(mut session) = flow.app.session.take() else {
            return;
        };
        session.finish(flow.last_ts, &mut self.counters, &mut self.output);
        flow.app.app_done = true;
        let sub = (
            flow.last_ts,
            std::hash::BuildHasher::hash_one(&self.key_hasher, key),
        );
        self.report(seq, sub, flow.last_ts, flow.app.source, key, flow, true);
    }

    /// Passes on what the sessions reported: every observation, and the
    /// records when they are wanted (`--log-protocols`; the detectors never
    /// read them, so alerts do not depend on that option).
    #[allow(clippy::too_many_arguments)]
    fn report(
        &mut self,
        seq: u64,
        sub: (Micros, u64),
        ts: Micros,
        source: u16,
        key: &FlowKey,
        flow: &mut WorkerFlow,
        at_sync: bool,
    ) {
        let reported = &mut self.output.reported;
        if reported.is_empty() {
            return;
        }
        let (tuple, client, server) = oriented(key, flow);
        let target = if at_sync {
            &mut self.ended
        } else {
            &mut self.current
        };
        let observed = reported
            .observations
            .drain(..)
            .map(|observation| Observed::Protocol {
                tuple,
                client,
                server,
                observation: Box::new(observation),
            });
        let found = reported.found.drain(..).map(|found| {
            let of_server = found.side == crate::proto::Side::Server;
            Observed::Found {
                tuple,
                endpoint: if of_server { server } else { client },
                server: of_server,
                finding: Box::new(found.finding),
            }
        });
        let recorded = reported.records.drain(..).map(|record| Observed::Record {
            tuple,
            record: Box::new(record),
        });
        target.extend(
            observed
                .chain(found)
                .chain(recorded)
                .map(|what| Observation {
                    seq,
                    sub,
                    ts,
                    source,
                    what,
                }),
        );
    }
}
