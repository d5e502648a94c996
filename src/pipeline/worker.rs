//! A worker shard: owns its flows, reports what its packets reveal.

use std::collections::HashSet;
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};

use super::{Batch, PacketMeta, WorkerMsg};
use crate::decode::{Network, Transport};
use crate::device::{DeviceTable, EndpointKey};
use crate::event::PacketTuple;
use crate::flow::{
    Endpoint, Flow, FlowConfig, FlowCounters, FlowKey, FlowTable, Micros, flow_ports,
};

/// Senders one worker remembers having reported; when full it forgets them
/// all and reports again (the merge stage ignores repeats).
pub const REPORTED_SENDERS_CAPACITY: usize = 65_536;

/// Something a worker saw, tagged with the packet that showed it.
#[derive(Debug, Clone)]
pub(crate) struct Observation {
    pub seq: u64,
    pub ts: Micros,
    pub source: u16,
    pub what: Observed,
}

/// What was seen.
#[derive(Debug, Clone)]
pub(crate) enum Observed {
    /// An endpoint sent a packet (first time this worker saw it do so).
    Sender {
        endpoint: EndpointKey,
        tuple: Option<PacketTuple>,
    },
}

/// A worker's message to the merge stage.
pub(crate) struct Report {
    pub worker: usize,
    pub observations: Vec<Observation>,
    /// Every packet up to this sequence number has been processed.
    pub watermark: u64,
    pub flows: FlowCounters,
    pub active_flows: u64,
    /// Set on the last report, after the worker has drained its flows.
    pub last: bool,
}

pub(crate) struct Worker {
    id: usize,
    flows: FlowTable,
    table: Arc<DeviceTable>,
    reports: Sender<Report>,
    free: Sender<Batch>,
    reported: HashSet<EndpointKey, foldhash::fast::RandomState>,
    observations: Vec<Observation>,
    clock: Micros,
}

impl Worker {
    pub(crate) fn new(
        id: usize,
        config: FlowConfig,
        table: Arc<DeviceTable>,
        reports: Sender<Report>,
        free: Sender<Batch>,
    ) -> Worker {
        Worker {
            id,
            flows: FlowTable::new(config),
            table,
            reports,
            free,
            reported: HashSet::default(),
            observations: Vec::new(),
            clock: Micros::MIN,
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
                    self.advance_clock(batch.clock);
                    let watermark = batch.watermark;
                    batch.clear();
                    // The pool is sized for every batch; if the capture side
                    // has gone, the batch is simply dropped.
                    let _ = self.free.try_send(batch);
                    watermark
                }
                WorkerMsg::Watermark { seq, clock } => {
                    self.advance_clock(clock);
                    seq
                }
            };
            self.report(watermark, false);
        }
        let table = Arc::clone(&self.table);
        let clock = self.clock;
        let active = self
            .flows
            .finish(clock, &mut |key, flow| credit(&table, key, flow));
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
            last,
        };
        let _ = self.reports.send(report);
    }

    fn advance_clock(&mut self, now: Micros) {
        self.clock = self.clock.max(now);
        if self.flows.sweep_due(self.clock) {
            let table = Arc::clone(&self.table);
            self.flows.sweep(
                self.clock,
                &mut |key, flow| credit(&table, key, flow),
                &mut |key, flow| credit(&table, key, flow),
            );
        }
    }

    fn packet(&mut self, meta: &PacketMeta, _frame: &[u8]) {
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
                let (key, from_lo) = FlowKey::new(
                    Endpoint {
                        addr: src,
                        port: src_port,
                    },
                    Endpoint {
                        addr: dst,
                        port: dst_port,
                    },
                    proto,
                    decoded.vlan,
                );
                self.clock = self.clock.max(meta.ts);
                if self.flows.sweep_due(self.clock) {
                    self.advance_clock(self.clock);
                }
                let table = Arc::clone(&self.table);
                let tcp_flags = match decoded.transport {
                    Transport::Tcp { flags, .. } => Some(flags),
                    _ => None,
                };
                let tracked = self.flows.track(
                    &key,
                    from_lo,
                    meta.ts,
                    meta.wire_len,
                    [decoded.src_mac, decoded.dst_mac],
                    tcp_flags,
                    &mut |key, flow| credit(&table, key, flow),
                );
                let side = usize::from(!from_lo);
                let first_from_side = match tracked {
                    Some(t) => match t.flow.reported.get_mut(side) {
                        Some(reported) if !*reported => {
                            *reported = true;
                            true
                        }
                        _ => false,
                    },
                    None => true,
                };
                if first_from_side {
                    self.sender(meta, endpoint, Some(tuple));
                }
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
            Network::Other(_) => {}
        }
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
            ts: meta.ts,
            source: meta.source,
            what: Observed::Sender { endpoint, tuple },
        });
    }
}

/// Credits a flow's uncredited traffic to its two endpoints.
fn credit(table: &DeviceTable, key: &FlowKey, flow: &mut Flow) {
    let delta = flow.take_uncredited();
    let endpoint = |lo: bool| {
        let (ep, mac) = if lo {
            (key.lo, flow.macs[0])
        } else {
            (key.hi, flow.macs[1])
        };
        EndpointKey {
            mac,
            ip: ep.addr,
            vlan: key.vlan[0],
        }
    };
    let (lo, hi) = (endpoint(true), endpoint(false));
    table.credit(lo, hi, delta[0], flow.last_ts);
    table.credit(hi, lo, delta[1], flow.last_ts);
}
