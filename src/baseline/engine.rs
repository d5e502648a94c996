//! The detectors: every observation the merge stage releases, in packet
//! order, either teaches a device's baseline (while it learns) or is checked
//! against it (once it is watched).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::IpAddr;

use serde_json::{Value, json};

use super::{Baseline, BaselineStats, Learn, PeerKey, Service, Thresholds, micros};
use crate::alert::{Aggregator, Alert, AlertInfo, AlertStats, BaselineRef, Kind, Peer, Verdict};
use crate::decode::ip_proto;
use crate::device::{Device, DeviceKey, DeviceTable, EndpointKey, HomeNets};
use crate::event::{FlowFields, PacketTuple, Timestamp};
use crate::flow::Micros;
use crate::proto::Side;
use crate::proto::session::ProtocolRecord;

/// Identity facts whose change on a watched device is an `identity_changed`.
pub const WATCHED_IDENTITY_FACTS: &[&str] = &[
    "dicom.implementation_class_uid",
    "dicom.implementation_version",
    "dicom.software_versions",
    "hl7.sending_application",
];
/// MQTT client ids whose devices are remembered, at most.
pub const MAX_CLIENT_ID_OWNERS: usize = 100_000;
/// Devices remembered per MQTT client id (learned while the network was
/// learned), at most.
pub const MAX_DEVICES_PER_CLIENT_ID: usize = 4;
/// Device pairs remembered as having been told about cleartext clinical
/// traffic, at most.
pub const MAX_CLEARTEXT_PAIRS: usize = 100_000;
/// Burst and fan-out trackers kept at most; past this, new ones are not
/// started until stale ones are dropped at the next minute.
pub const MAX_TRACKERS: usize = 65_536;
/// Learned values an alert quotes from its baseline, at most.
pub const MAX_QUOTED_VALUES: usize = 16;
/// The length of a rate bin.
pub const RATE_BIN: Micros = 60_000_000;

/// Traffic of one endpoint in one rate bin.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rates {
    /// Packets sent and received.
    pub packets: u64,
    /// Bytes sent and received.
    pub bytes: u64,
    /// Connections it opened.
    pub connections: u64,
}

impl Rates {
    /// Adds `other`.
    pub fn add(&mut self, other: &Rates) {
        self.packets += other.packets;
        self.bytes += other.bytes;
        self.connections += other.connections;
    }
}

/// One endpoint's traffic in the bin starting at `bin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateSample {
    /// The endpoint.
    pub endpoint: EndpointKey,
    /// Packet time the bin starts.
    pub bin: Micros,
    /// What it did.
    pub rates: Rates,
}

/// An alert ready to be written: packet time, flow fields, the alert.
pub type Ready = (Micros, Option<FlowFields>, Alert);

/// The flow an alert is about: its tuple (client to server) and application
/// protocol. The event fields, with the Community ID, are computed only for
/// an alert that is written.
pub type FlowRef = Option<(PacketTuple, Option<&'static str>)>;

/// What the engine needs to know.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// How long to learn.
    pub learn: Learn,
    /// Networks inside the hospital; a peer outside is external.
    pub internal: HomeNets,
    /// Suppression window, seconds.
    pub suppression_secs: u64,
    /// Detector thresholds.
    pub thresholds: Thresholds,
}

impl Default for EngineConfig {
    /// The replay defaults: learn an hour, home networks internal, an hour's
    /// suppression.
    fn default() -> Self {
        EngineConfig {
            learn: Learn::For(super::DEFAULT_LEARN_REPLAY),
            internal: HomeNets::default(),
            suppression_secs: crate::alert::DEFAULT_SUPPRESSION_SECS,
            thresholds: Thresholds::default(),
        }
    }
}

/// Network-wide learning: from the first packet of all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NetworkLearning {
    /// Packet time of the first packet.
    pub since: Option<Micros>,
    /// Packet time learning ends.
    pub until: Micros,
    /// Whether learning is over whatever the time.
    #[serde(default)]
    pub complete: bool,
}

/// The detectors and their working state.
pub struct Engine {
    config: EngineConfig,
    pub(super) network: NetworkLearning,
    aggregator: Aggregator,
    stats: AlertStats,
    /// MQTT client id → the devices that used it while the network was
    /// learned (or the first one after).
    pub(super) client_id_owners: HashMap<String, Vec<DeviceKey>, FastHash>,
    /// (device, peer, protocol) told about cleartext already.
    pub(super) cleartext_pairs: HashSet<CleartextPair, FastHash>,
    fanout: HashMap<DeviceKey, VecDeque<(Micros, IpAddr, u16)>, FastHash>,
    bursts: HashMap<(Kind, DeviceKey, IpAddr), VecDeque<Micros>, FastHash>,
    pending_rates: BTreeMap<(Micros, DeviceKey), Rates>,
    ready: Vec<Ready>,
    /// Packet time of the latest observation.
    clock: Micros,
}

/// Maps keyed by what the sensor decoded itself: a fast hash, randomly
/// seeded per process, serves better than SipHash.
type FastHash = foldhash::fast::RandomState;

/// The far end of a cleartext pair: a device, or an address that is none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PairEnd {
    /// A device.
    Device(DeviceKey),
    /// An address outside the device table.
    Address(IpAddr),
}

impl std::fmt::Display for PairEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PairEnd::Device(key) => key.fmt(f),
            PairEnd::Address(ip) => ip.fmt(f),
        }
    }
}

impl PairEnd {
    /// Parses what [`std::fmt::Display`] wrote.
    pub fn parse(text: &str) -> Option<PairEnd> {
        DeviceKey::parse(text)
            .map(PairEnd::Device)
            .or_else(|| text.parse().ok().map(PairEnd::Address))
    }
}

/// A device, its peer and the clinical protocol between them.
pub type CleartextPair = (DeviceKey, PairEnd, &'static str);

/// What an occurrence is about, before it becomes an [`Alert`].
struct Finding {
    kind: Kind,
    subject: String,
    message: String,
    peer: Option<Peer>,
    evidence: BTreeMap<&'static str, Value>,
    learned: Option<BTreeMap<&'static str, Value>>,
}

impl Finding {
    fn new(kind: Kind, subject: impl Into<String>, message: impl Into<String>) -> Finding {
        Finding {
            kind,
            subject: subject.into(),
            message: message.into(),
            peer: None,
            evidence: BTreeMap::new(),
            learned: None,
        }
    }

    fn peer(mut self, ip: IpAddr, port: Option<u16>, table: &DeviceTable) -> Finding {
        let device_id = table.device_at(ip).map(|k| k.to_string());
        self.peer = Some(Peer {
            ip,
            port,
            device_id,
        });
        self
    }

    fn evidence(mut self, key: &'static str, value: Value) -> Finding {
        self.evidence.insert(key, value);
        self
    }

    fn learned(mut self, key: &'static str, value: Value) -> Finding {
        self.learned
            .get_or_insert_with(BTreeMap::new)
            .insert(key, value);
        self
    }
}

/// Up to [`MAX_QUOTED_VALUES`] values of a learned set, as JSON.
fn quote<T: ToString>(values: impl IntoIterator<Item = T>) -> Value {
    Value::from(
        values
            .into_iter()
            .take(MAX_QUOTED_VALUES)
            .map(|v| Value::from(v.to_string()))
            .collect::<Vec<_>>(),
    )
}

fn service_name(proto: u8, port: u16) -> String {
    let p = match proto {
        ip_proto::TCP => "tcp",
        ip_proto::UDP => "udp",
        ip_proto::SCTP => "sctp",
        _ => "ip",
    };
    format!("{p}/{port}")
}

/// What a modality that "only stores" may send as a DICOM client: images
/// and echoes, its worklist query, MPPS (N-CREATE, N-SET) and storage
/// commitment (N-ACTION, N-EVENT-REPORT).
pub const MODALITY_COMMANDS: &[&str] = &[
    "scu:C-STORE",
    "scu:C-ECHO",
    "scu:C-FIND-WORKLIST",
    "scu:N-CREATE",
    "scu:N-SET",
    "scu:N-ACTION",
    "scu:N-EVENT-REPORT",
];

/// Modality Worklist (1.2.840.10008.5.1.4.31) and Unified Procedure Step
/// (1.2.840.10008.5.1.4.34.6…) SOP classes.
fn is_worklist(uid: &str) -> bool {
    uid == "1.2.840.10008.5.1.4.31" || uid.starts_with("1.2.840.10008.5.1.4.34.6")
}

/// A broad MQTT filter: its first level is a wildcard (`#`, `+/…`), or it
/// reaches into the broker's own `$SYS` tree.
pub fn broad_filter(filter: &str) -> bool {
    let first = filter.split('/').next().unwrap_or("");
    first == "#" || first == "+" || filter.starts_with("$SYS")
}

fn is_nak(code: &str) -> bool {
    matches!(code, "AE" | "AR" | "CE" | "CR")
}

/// CONNACK codes that refuse a connection for its credentials: 3.1.1 `4`
/// (bad user name or password), `5` (not authorised); 5.0 `0x86`, `0x87`,
/// `0x8C` (bad authentication method).
fn auth_refused(code: u8) -> bool {
    matches!(code, 4 | 5 | 0x86 | 0x87 | 0x8c)
}

impl Engine {
    /// An engine with nothing learned.
    pub fn new(config: EngineConfig) -> Engine {
        Engine {
            aggregator: Aggregator::new(config.suppression_secs),
            config,
            network: NetworkLearning::default(),
            stats: AlertStats::default(),
            client_id_owners: HashMap::default(),
            cleartext_pairs: HashSet::default(),
            fanout: HashMap::default(),
            bursts: HashMap::default(),
            pending_rates: BTreeMap::new(),
            ready: Vec::new(),
            clock: Micros::MIN,
        }
    }

    /// The open suppression windows, for the state file.
    pub fn suppression_windows(&self) -> Vec<(Kind, String, String, Micros)> {
        self.aggregator.open_windows()
    }

    /// Reopens a suppression window read from the state file.
    pub fn reopen_window(&mut self, kind: Kind, device: String, subject: String, opened: Micros) {
        self.aggregator.reopen(kind, device, subject, opened);
    }

    /// Alert counters.
    pub fn stats(&self) -> &AlertStats {
        &self.stats
    }

    /// Learning and watching counts over the table.
    pub fn baseline_stats(&self, table: &DeviceTable, now: Micros) -> BaselineStats {
        let mut stats = BaselineStats::default();
        table.for_each_device(|d| {
            if d.baseline.learning(now) {
                stats.learning += 1;
            } else {
                stats.watching += 1;
            }
            stats.overflow += d.baseline.overflow();
        });
        stats
    }

    /// Alerts ready to be written, in packet order.
    pub fn take_ready(&mut self) -> Vec<Ready> {
        std::mem::take(&mut self.ready)
    }

    fn learn_all(&self) -> bool {
        self.config.learn == Learn::All
    }

    fn network_learning(&mut self, ts: Micros) -> bool {
        self.clock = self.clock.max(ts);
        let since = *self.network.since.get_or_insert(ts);
        if self.network.until == 0 && !self.network.complete {
            self.network.until = match self.config.learn {
                Learn::For(d) => since.saturating_add(micros(d)),
                Learn::All => Micros::MAX,
            };
        }
        !self.network.complete && ts < self.network.until
    }

    /// Something happened at packet time `ts` (keeps the network clock).
    pub fn clock(&mut self, ts: Micros) {
        self.network_learning(ts);
    }

    /// A device was seen for the first time: its learning starts, and past
    /// the network's learning period it is itself an alert.
    pub fn new_device(&mut self, table: &DeviceTable, key: DeviceKey, ts: Micros, flow: FlowRef) {
        let learning = self.network_learning(ts);
        let learn = self.config.learn;
        let network_since = self.network.since.unwrap_or(ts);
        let finding = table.with_device(&key, |device| {
            device.baseline = Baseline::new(ts, learn);
            (!learning && !self.learn_all()).then(|| {
                Finding::new(
                    Kind::NewDevice,
                    "",
                    format!(
                        "new device {} appeared after the network was learned",
                        device.key
                    ),
                )
                .learned("network_since", json!(Timestamp(network_since)))
            })
        });
        if let Some(Some(finding)) = finding {
            self.raise(table, &key, ts, flow, finding);
        }
    }

    /// A connection was opened (`answered` false: by the client, whether or
    /// not anyone answers) or answered (`answered` true: the server replied).
    ///
    /// The client learns its peers and services from every attempt; once
    /// watched, an attempt toward an external address, or toward too many
    /// new destinations at once (`fanout`), is alerted at once, while a new
    /// internal peer or service is alerted only when it answers: a scan of
    /// closed ports or absent hosts is one `fanout`, not one alert per probe.
    pub fn connection(
        &mut self,
        table: &DeviceTable,
        ts: Micros,
        tuple: PacketTuple,
        [client, server]: [EndpointKey; 2],
        opened: bool,
        answered: bool,
    ) {
        self.network_learning(ts);
        let flow = Some((tuple, None));
        if let Some(key) = table.device_of(&client) {
            self.client_side(table, ts, tuple, key, [opened, answered], flow);
        }
        if answered && let Some(key) = table.device_of(&server) {
            self.server_side(table, ts, tuple, key, flow);
        }
    }

    fn client_side(
        &mut self,
        table: &DeviceTable,
        ts: Micros,
        tuple: PacketTuple,
        key: DeviceKey,
        [opened, answered]: [bool; 2],
        flow: FlowRef,
    ) {
        let with_ports = matches!(tuple.proto, ip_proto::TCP | ip_proto::UDP | ip_proto::SCTP);
        let peer_ip = tuple.dst;
        let external = !self.config.internal.contains(&peer_ip) && !is_group(&peer_ip);
        let service = (tuple.proto, tuple.dst_port);
        let peer = PeerKey {
            ip: peer_ip,
            port: tuple.dst_port,
            proto: tuple.proto,
            out: true,
        };
        let learn_all = self.learn_all();
        let mut fanout_candidate = false;
        let finding = table
            .with_device(&key, |device| {
                let b = &mut device.baseline;
                if learn_all || b.learning(ts) {
                    if with_ports && opened {
                        b.observations += 1;
                        b.peers.learn(peer, super::MAX_PEERS);
                        b.services_used.learn(service, super::MAX_SERVICES);
                        b.external_peers |= external;
                    }
                    return None;
                }
                if opened {
                    fanout_candidate = !b.peers.covers(&peer);
                    if with_ports && external && !b.external_peers {
                        let name = service_name(tuple.proto, tuple.dst_port);
                        // Every external address is the same news: one
                        // alert per device and window, the rest counted.
                        return Some(
                        Finding::new(
                            Kind::NewExternalPeer,
                            "",
                            format!(
                                "{} connected to external address {peer_ip} ({name}); it never left the internal networks before",
                                device.key
                            ),
                        )
                        .evidence("service", json!(name))
                        .learned("external_peers", json!(false))
                        .learned("peers", quote(b.peers.values.iter().map(peer_label))),
                        );
                    }
                }
                if !answered || !with_ports || external {
                    return None;
                }
                service_or_peer(device, service, peer)
            })
            .flatten();
        let port = with_ports.then_some(tuple.dst_port);
        if let Some(finding) = finding {
            let finding = finding.peer(peer_ip, port, table);
            self.raise(table, &key, ts, flow, finding);
        }
        if fanout_candidate {
            self.fanout(table, key, ts, peer_ip, tuple.dst_port, flow);
        }
    }

    fn server_side(
        &mut self,
        table: &DeviceTable,
        ts: Micros,
        tuple: PacketTuple,
        key: DeviceKey,
        flow: FlowRef,
    ) {
        if !matches!(tuple.proto, ip_proto::TCP | ip_proto::UDP | ip_proto::SCTP) {
            return;
        }
        let peer_ip = tuple.src;
        let service = (tuple.proto, tuple.dst_port);
        let peer = PeerKey {
            ip: peer_ip,
            port: tuple.dst_port,
            proto: tuple.proto,
            out: false,
        };
        let learn_all = self.learn_all();
        let finding = table
            .with_device(&key, |device| {
                let b = &mut device.baseline;
                if learn_all || b.learning(ts) {
                    b.observations += 1;
                    b.peers.learn(peer, super::MAX_PEERS);
                    b.services_offered.learn(service, super::MAX_SERVICES);
                    return None;
                }
                service_or_peer(device, service, peer)
            })
            .flatten();
        if let Some(finding) = finding {
            let finding = finding.peer(peer_ip, Some(tuple.dst_port), table);
            self.raise(table, &key, ts, flow, finding);
        }
    }

    fn fanout(
        &mut self,
        table: &DeviceTable,
        key: DeviceKey,
        ts: Micros,
        ip: IpAddr,
        port: u16,
        flow: FlowRef,
    ) {
        let t = &self.config.thresholds;
        let window = micros(t.fanout_window);
        let threshold = t.fanout_destinations.max(1);
        if !self.fanout.contains_key(&key) && self.fanout.len() >= MAX_TRACKERS {
            return;
        }
        let recent = self.fanout.entry(key).or_default();
        while recent.front().is_some_and(|(t0, ..)| ts - *t0 > window) {
            recent.pop_front();
        }
        if recent.iter().any(|(_, i, p)| *i == ip && *p == port) {
            return;
        }
        recent.push_back((ts, ip, port));
        if recent.len() < threshold {
            return;
        }
        let destinations: Vec<(Micros, IpAddr, u16)> = recent.drain(..).collect();
        let peers: HashSet<IpAddr> = destinations.iter().map(|(_, i, _)| *i).collect();
        let ports: HashSet<u16> = destinations.iter().map(|(_, _, p)| *p).collect();
        let first = destinations.first().map_or(ts, |d| d.0);
        let finding = Finding::new(
            Kind::Fanout,
            "",
            format!(
                "{key} reached {} destinations outside its baseline ({} addresses, {} ports) in {} s",
                destinations.len(),
                peers.len(),
                ports.len(),
                (ts - first) / 1_000_000
            ),
        )
        .evidence("destinations", json!(destinations.len()))
        .evidence("addresses", json!(peers.len()))
        .evidence("ports", json!(ports.len()))
        .evidence("since", json!(Timestamp(first)))
        .evidence(
            "sample",
            quote(destinations.iter().map(|(_, i, p)| format!("{i}:{p}"))),
        )
        .evidence("threshold", json!(threshold));
        self.raise(table, &key, ts, flow, finding);
    }

    /// Counts one occurrence toward a burst; true when it completes one.
    fn burst(&mut self, kind: Kind, key: DeviceKey, peer: IpAddr, ts: Micros) -> Option<usize> {
        let t = &self.config.thresholds;
        let window = micros(t.burst_window);
        let threshold = t.burst_count.max(1);
        let id = (kind, key, peer);
        if !self.bursts.contains_key(&id) && self.bursts.len() >= MAX_TRACKERS {
            return None;
        }
        let recent = self.bursts.entry(id).or_default();
        while recent.front().is_some_and(|t0| ts - *t0 > window) {
            recent.pop_front();
        }
        recent.push_back(ts);
        if recent.len() < threshold {
            return None;
        }
        let n = recent.len();
        recent.clear();
        Some(n)
    }

    /// The identity facts of a protocol record (between the devices of its
    /// client and server, where they are devices), checked before they
    /// reach the device identity.
    pub fn record_facts(
        &mut self,
        table: &DeviceTable,
        ts: Micros,
        tuple: PacketTuple,
        [client, server]: [Option<DeviceKey>; 2],
        record: &ProtocolRecord,
        facts: &[crate::proto::Fact],
    ) {
        self.network_learning(ts);
        let flow = Some((tuple, Some(record.name())));
        for (side, key) in [(Side::Client, client), (Side::Server, server)] {
            let Some(key) = key else { continue };
            let mine = facts.iter().filter(|f| f.side == side);
            self.identity(table, ts, key, mine, &tuple, side, flow);
        }
    }

    /// A protocol record, after its facts reached the device identity.
    pub fn record(
        &mut self,
        table: &DeviceTable,
        ts: Micros,
        tuple: PacketTuple,
        [client, server]: [Option<DeviceKey>; 2],
        record: &ProtocolRecord,
    ) {
        let flow = Some((tuple, Some(record.name())));
        self.cleartext(table, ts, &tuple, [client, server], record, flow);
        match record {
            ProtocolRecord::Dicom(a) => self.dicom(table, ts, &tuple, [client, server], a, flow),
            ProtocolRecord::Hl7(m) => self.hl7(table, ts, &tuple, [client, server], m, flow),
            ProtocolRecord::Mqtt(c) => self.mqtt(table, ts, &tuple, client, c, flow),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn identity<'f>(
        &mut self,
        table: &DeviceTable,
        ts: Micros,
        key: DeviceKey,
        facts: impl Iterator<Item = &'f crate::proto::Fact>,
        tuple: &PacketTuple,
        side: Side,
        flow: FlowRef,
    ) {
        let network_learning = self.network_learning(ts);
        let peer_ip = if side == Side::Client {
            tuple.dst
        } else {
            tuple.src
        };
        let mut findings = Vec::new();
        for fact in facts {
            if fact.name == "mqtt.client_id" {
                let owners = self.client_id_owners.get(&fact.value);
                let known = owners.is_some_and(|o| o.contains(&key));
                match owners {
                    Some(owners) if !known && !network_learning => {
                        let owner = owners.first().map(|k| k.to_string()).unwrap_or_default();
                        findings.push(
                            Finding::new(
                                Kind::IdentityChanged,
                                format!("mqtt.client_id={}", fact.value),
                                format!(
                                    "MQTT client id {:?} of {owner} is now used by {key}",
                                    fact.value
                                ),
                            )
                            .evidence("fact", json!(fact.name))
                            .evidence("value", json!(fact.value))
                            .evidence("previous_device", json!(owner)),
                        );
                    }
                    Some(_) if known => {}
                    Some(_) => {
                        // Learning: several devices may share a client id.
                        if let Some(owners) = self.client_id_owners.get_mut(&fact.value)
                            && owners.len() < MAX_DEVICES_PER_CLIENT_ID
                        {
                            owners.push(key);
                        }
                    }
                    None => {
                        if self.client_id_owners.len() < MAX_CLIENT_ID_OWNERS {
                            self.client_id_owners.insert(fact.value.clone(), vec![key]);
                        }
                    }
                }
                continue;
            }
            if !WATCHED_IDENTITY_FACTS.contains(&fact.name) {
                continue;
            }
            let learn_all = self.learn_all();
            let found = table.with_device(&key, |device| {
                if learn_all || device.baseline.learning(ts) {
                    return None;
                }
                let known = device.identity.facts.get(fact.name)?;
                if known.is_empty() || known.contains(&fact.value) {
                    return None;
                }
                Some(
                    Finding::new(
                        Kind::IdentityChanged,
                        format!("{}={}", fact.name, fact.value),
                        format!(
                            "{} changed {} to {:?} (was {})",
                            device.key,
                            fact.name,
                            fact.value,
                            known.iter().cloned().collect::<Vec<_>>().join(", ")
                        ),
                    )
                    .evidence("fact", json!(fact.name))
                    .evidence("value", json!(fact.value))
                    .learned("values", quote(known.iter())),
                )
            });
            if let Some(Some(f)) = found {
                findings.push(f);
            }
        }
        for finding in findings {
            let finding = finding.peer(peer_ip, Some(tuple.dst_port), table);
            self.raise(table, &key, ts, flow, finding);
        }
    }

    fn cleartext(
        &mut self,
        table: &DeviceTable,
        ts: Micros,
        tuple: &PacketTuple,
        [client, server]: [Option<DeviceKey>; 2],
        record: &ProtocolRecord,
        flow: FlowRef,
    ) {
        let protocol = match record {
            ProtocolRecord::Dicom(_) => "dicom",
            ProtocolRecord::Hl7(_) => "hl7",
            ProtocolRecord::Mqtt(_) => return,
        };
        let (key, peer_ip, peer) = match (client, server) {
            (Some(c), s) => (
                c,
                tuple.dst,
                s.map_or(PairEnd::Address(tuple.dst), PairEnd::Device),
            ),
            (None, Some(s)) => (s, tuple.src, PairEnd::Address(tuple.src)),
            (None, None) => return,
        };
        let pair = (key, peer, protocol);
        if self.cleartext_pairs.contains(&pair) || self.cleartext_pairs.len() >= MAX_CLEARTEXT_PAIRS
        {
            return;
        }
        let finding = Finding::new(
            Kind::CleartextClinicalProtocol,
            format!("{protocol} {}", pair.1),
            format!(
                "{} carries {} in the clear with {}: patient data can be read on the wire",
                pair.0,
                protocol.to_ascii_uppercase(),
                pair.1
            ),
        )
        .evidence("protocol", json!(protocol))
        .evidence("tls", json!(false))
        .peer(peer_ip, Some(tuple.dst_port), table);
        self.cleartext_pairs.insert(pair);
        if !self.learn_all() {
            self.raise(table, &key, ts, flow, finding);
        }
    }

    fn dicom(
        &mut self,
        table: &DeviceTable,
        ts: Micros,
        tuple: &PacketTuple,
        [client, server]: [Option<DeviceKey>; 2],
        a: &crate::proto::dicom::Association,
        flow: FlowRef,
    ) {
        let calling = a.client.ae_title.clone().unwrap_or_default();
        let called = a.server.ae_title.clone().unwrap_or_default();
        if a.reject.is_some() {
            let (key, peer) = match (client, server) {
                (Some(c), _) => (c, tuple.dst),
                (None, Some(s)) => (s, tuple.src),
                (None, None) => return,
            };
            if !self.learn_all()
                && let Some(n) = self.burst(Kind::DicomAssociationRejects, key, peer, ts)
            {
                let finding = Finding::new(
                    Kind::DicomAssociationRejects,
                    peer.to_string(),
                    format!(
                        "{n} DICOM associations between {key} and {peer} rejected within {} s (last: calling {calling:?}, called {called:?})",
                        self.config.thresholds.burst_window.as_secs()
                    ),
                )
                .evidence("rejects", json!(n))
                .evidence("calling_ae", json!(calling))
                .evidence("called_ae", json!(called))
                .evidence("reject", json!(a.reject))
                .peer(peer, Some(tuple.dst_port), table);
                self.raise(table, &key, ts, flow, finding);
            }
            return;
        }
        let ops = a
            .operations
            .as_ref()
            .map(|o| o.first.as_slice())
            .unwrap_or(&[]);
        for (side, key) in [(Side::Client, client), (Side::Server, server)] {
            let Some(key) = key else { continue };
            let role = if side == Side::Client { "scu" } else { "scp" };
            let peer_ip = if side == Side::Client {
                tuple.dst
            } else {
                tuple.src
            };
            let commands: Vec<String> = ops
                .iter()
                .filter(|o| o.sent_by == side && o.command.ends_with("-RQ"))
                .map(|o| {
                    let command = o.command.trim_end_matches("-RQ");
                    // A modality asks for its worklist: not a query of the
                    // archive.
                    let worklist = o.sop_class_uid.as_deref().is_some_and(is_worklist);
                    if command == "C-FIND" && worklist {
                        format!("{role}:C-FIND-WORKLIST")
                    } else {
                        format!("{role}:{command}")
                    }
                })
                .collect();
            let sop_classes: Vec<(String, Option<&'static str>)> = ops
                .iter()
                .filter_map(|o| {
                    Some((
                        format!("{role}:{}", o.sop_class_uid.clone()?),
                        o.sop_class_name,
                    ))
                })
                .collect();
            let stores: Vec<String> = if side == Side::Client {
                ops.iter()
                    .filter(|o| o.sent_by == Side::Client && o.command == "C-STORE-RQ")
                    .map(|_| format!("{}/{called}", tuple.dst))
                    .collect()
            } else {
                Vec::new()
            };
            let pair = (calling.clone(), called.clone());
            let learn_all = self.learn_all();
            let findings = table.with_device(&key, |device| {
                let b = &mut device.baseline;
                let learning = learn_all || b.learning(ts);
                let d = &mut b.dicom;
                let limit = super::MAX_PROTOCOL_VALUES;
                if learning {
                    b.observations += 1;
                    d.ae_pairs.learn(pair.clone(), limit);
                    commands.iter().for_each(|c| {
                        d.commands.learn(c.clone(), limit);
                    });
                    sop_classes.iter().for_each(|(s, _)| {
                        d.sop_classes.learn(s.clone(), limit);
                    });
                    stores.iter().for_each(|s| {
                        d.store_destinations.learn(s.clone(), limit);
                    });
                    return Vec::new();
                }
                let mut out = Vec::new();
                if !d.ae_pairs.covers(&pair) {
                    out.push(
                        Finding::new(
                            Kind::DicomNewAePair,
                            format!("{calling}->{called}"),
                            format!(
                                "{} in a new DICOM AE-title pair: calling {calling:?}, called {called:?}",
                                device.key
                            ),
                        )
                        .evidence("calling_ae", json!(calling))
                        .evidence("called_ae", json!(called))
                        .evidence("role", json!(role))
                        .learned(
                            "ae_pairs",
                            quote(d.ae_pairs.values.iter().map(|(a, b)| format!("{a}->{b}"))),
                        ),
                    );
                }
                let queries: Vec<&String> = commands
                    .iter()
                    .filter(|c| matches!(c.as_str(), "scu:C-FIND" | "scu:C-MOVE" | "scu:C-GET"))
                    .collect();
                let learned_scu: Vec<&String> =
                    d.commands.values.iter().filter(|c| c.starts_with("scu:")).collect();
                let only_stored = d.commands.overflow == 0
                    && learned_scu.iter().any(|c| *c == "scu:C-STORE")
                    && learned_scu
                        .iter()
                        .all(|c| MODALITY_COMMANDS.contains(&c.as_str()));
                if only_stored {
                    for q in &queries {
                        if d.commands.covers(q.as_str()) {
                            continue;
                        }
                        let command = q.trim_start_matches("scu:");
                        out.push(
                            Finding::new(
                                Kind::DicomQueryFromModality,
                                command.to_owned(),
                                format!(
                                    "{}, which only ever stored, sent {command} to {peer_ip} (called AE {called:?})",
                                    device.key
                                ),
                            )
                            .evidence("command", json!(command))
                            .evidence("called_ae", json!(called))
                            .learned("commands", quote(learned_scu.iter())),
                        );
                    }
                }
                for (sop, name) in &sop_classes {
                    if d.sop_classes.covers(sop) {
                        continue;
                    }
                    let uid = sop.split_once(':').map_or(sop.as_str(), |(_, u)| u);
                    out.push(
                        Finding::new(
                            Kind::DicomNewSopClass,
                            sop.clone(),
                            format!(
                                "{} used a new DICOM SOP class as {role}: {}",
                                device.key,
                                name.unwrap_or(uid)
                            ),
                        )
                        .evidence("sop_class_uid", json!(uid))
                        .evidence("sop_class_name", json!(name))
                        .evidence("role", json!(role))
                        .learned("sop_classes", quote(d.sop_classes.values.iter())),
                    );
                }
                for dest in &stores {
                    if d.store_destinations.covers(dest) {
                        continue;
                    }
                    out.push(
                        Finding::new(
                            Kind::DicomStoreToNewDestination,
                            dest.clone(),
                            format!("{} stored DICOM objects to a new destination {dest}", device.key),
                        )
                        .evidence("destination", json!(dest))
                        .evidence("called_ae", json!(called))
                        .learned("store_destinations", quote(d.store_destinations.values.iter())),
                    );
                }
                out.sort_by(|a, b| (a.kind, &a.subject).cmp(&(b.kind, &b.subject)));
                out.dedup_by(|a, b| a.kind == b.kind && a.subject == b.subject);
                out
            });
            for finding in findings.into_iter().flatten() {
                let finding = finding.peer(peer_ip, Some(tuple.dst_port), table);
                self.raise(table, &key, ts, flow, finding);
            }
        }
    }

    fn hl7(
        &mut self,
        table: &DeviceTable,
        ts: Micros,
        tuple: &PacketTuple,
        [client, server]: [Option<DeviceKey>; 2],
        m: &crate::proto::hl7::Message,
        flow: FlowRef,
    ) {
        let sender_side = m.direction.sender();
        let (sender, receiver, sender_ip, receiver_ip) = if sender_side == Side::Client {
            (client, server, tuple.src, tuple.dst)
        } else {
            (server, client, tuple.dst, tuple.src)
        };
        if let Some(code) = m.ack_code.as_deref()
            && is_nak(code)
        {
            // The device whose messages are refused.
            if let Some(key) = receiver
                && !self.learn_all()
                && let Some(n) = self.burst(Kind::Hl7NakBurst, key, sender_ip, ts)
            {
                let finding = Finding::new(
                    Kind::Hl7NakBurst,
                    sender_ip.to_string(),
                    format!(
                        "{n} HL7 negative acknowledgements from {sender_ip} to {key} within {} s (last: {code})",
                        self.config.thresholds.burst_window.as_secs()
                    ),
                )
                .evidence("naks", json!(n))
                .evidence("ack_code", json!(code))
                .peer(sender_ip, Some(tuple.dst_port), table);
                self.raise(table, &key, ts, flow, finding);
            }
        }
        let Some(key) = sender else { return };
        let message_type = match (&m.message_type, &m.trigger_event) {
            (Some(t), Some(e)) => format!("{t}^{e}"),
            (Some(t), None) => t.clone(),
            _ => return,
        };
        let learn_all = self.learn_all();
        let findings = table.with_device(&key, |device| {
            let b = &mut device.baseline;
            let learning = learn_all || b.learning(ts);
            let h = &mut b.hl7;
            let limit = super::MAX_PROTOCOL_VALUES;
            if learning {
                b.observations += 1;
                h.message_types.learn_ref(message_type.as_str(), limit);
                for (value, set) in [
                    (&m.sending_application, &mut h.sending_applications),
                    (&m.receiving_application, &mut h.receiving_applications),
                ] {
                    if let Some(v) = value {
                        set.learn_ref(v.as_str(), limit);
                    }
                }
                for (_, value, set) in facility_sets(m, h) {
                    if let Some(v) = value {
                        set.learn_ref(v.as_str(), limit);
                    }
                }
                return Vec::new();
            }
            let mut out = Vec::new();
            if !h.message_types.covers(message_type.as_str()) {
                out.push(
                    Finding::new(
                        Kind::Hl7NewMessageType,
                        message_type.clone(),
                        format!(
                            "{} sent a new HL7 message type {message_type} to {receiver_ip}",
                            device.key
                        ),
                    )
                    .evidence("message_type", json!(message_type))
                    .evidence("sending_application", json!(m.sending_application))
                    .learned("message_types", quote(h.message_types.values.iter())),
                );
            }
            for (role, value, set) in facility_sets(m, h) {
                let Some(facility) = value else { continue };
                if set.covers(facility.as_str()) {
                    continue;
                }
                out.push(
                    Finding::new(
                        Kind::Hl7NewFacility,
                        format!("{role}:{facility}"),
                        format!(
                            "{} sent HL7 with a new {role} facility {facility:?}",
                            device.key
                        ),
                    )
                    .evidence("facility", json!(facility))
                    .evidence("role", json!(role))
                    .evidence("message_type", json!(message_type))
                    .learned(
                        if role == "sending" {
                            "sending_facilities"
                        } else {
                            "receiving_facilities"
                        },
                        quote(set.values.iter()),
                    ),
                );
            }
            out
        });
        for finding in findings.into_iter().flatten() {
            let finding = finding.peer(receiver_ip, Some(tuple.dst_port), table);
            self.raise(table, &key, ts, flow, finding);
        }
    }

    fn mqtt(
        &mut self,
        table: &DeviceTable,
        ts: Micros,
        tuple: &PacketTuple,
        client: Option<DeviceKey>,
        c: &crate::proto::mqtt::Connection,
        flow: FlowRef,
    ) {
        let Some(key) = client else { return };
        let refused = c.connack.as_ref().is_some_and(|a| auth_refused(a.code));
        if refused
            && !self.learn_all()
            && let Some(n) = self.burst(Kind::MqttAuthFailures, key, tuple.dst, ts)
        {
            let finding = Finding::new(
                Kind::MqttAuthFailures,
                tuple.dst.to_string(),
                format!(
                    "{n} MQTT connections from {key} to {} refused for their credentials within {} s",
                    tuple.dst,
                    self.config.thresholds.burst_window.as_secs()
                ),
            )
            .evidence("failures", json!(n))
            .evidence("connack_code", json!(c.connack.as_ref().map(|a| a.code)))
            .evidence("username_present", json!(c.username.is_some()))
            .peer(tuple.dst, Some(tuple.dst_port), table);
            self.raise(table, &key, ts, flow, finding);
        }
        let published: Vec<&str> = c
            .publish_topics
            .iter()
            .filter(|t| t.direction == "to_server" && !t.topic.is_empty())
            .map(|t| t.topic.as_str())
            .collect();
        let subscribed: Vec<&str> = c.subscriptions.iter().map(|s| s.filter.as_str()).collect();
        let anonymous = c.username.is_none();
        let client_id = c.client_id.as_deref().filter(|id| !id.is_empty());
        let connected = c.protocol_name.is_some();
        let learn_all = self.learn_all();
        let findings = table.with_device(&key, |device| {
            let b = &mut device.baseline;
            let learning = learn_all || b.learning(ts);
            let q = &mut b.mqtt;
            let limit = super::MAX_PROTOCOL_VALUES;
            if learning {
                b.observations += 1;
                if let Some(id) = client_id {
                    q.client_ids.learn_ref(id, limit);
                }
                for topic in &published {
                    q.published.learn_ref(*topic, limit);
                }
                for filter in &subscribed {
                    q.subscribed.learn_ref(*filter, limit);
                }
                if connected {
                    if anonymous {
                        q.anonymous_connects += 1;
                    } else {
                        q.authenticated_connects += 1;
                    }
                }
                return Vec::new();
            }
            let mut out = Vec::new();
            if connected && anonymous && q.authenticated_connects > 0 && q.anonymous_connects == 0 {
                out.push(
                    Finding::new(
                        Kind::MqttAnonymousConnect,
                        tuple.dst.to_string(),
                        format!(
                            "{} connected to the MQTT broker {} without credentials; it always authenticated before",
                            device.key, tuple.dst
                        ),
                    )
                    .evidence("client_id", json!(client_id))
                    .learned("authenticated_connects", json!(q.authenticated_connects))
                    .learned("anonymous_connects", json!(q.anonymous_connects)),
                );
            }
            for filter in &subscribed {
                if q.subscribed.covers(*filter) {
                    continue;
                }
                let broad = broad_filter(filter);
                let kind = if broad {
                    Kind::MqttWildcardSubscribe
                } else {
                    Kind::MqttNewTopic
                };
                let message = if broad {
                    format!("{} subscribed to the broad filter {filter:?}", device.key)
                } else {
                    format!("{} subscribed to a new topic filter {filter:?}", device.key)
                };
                out.push(
                    Finding::new(kind, format!("subscribe {filter}"), message)
                        .evidence("filter", json!(filter))
                        .evidence("client_id", json!(client_id))
                        .learned("subscribed", quote(q.subscribed.values.iter())),
                );
            }
            for topic in &published {
                if q.published.covers(*topic) {
                    continue;
                }
                out.push(
                    Finding::new(
                        Kind::MqttNewTopic,
                        format!("publish {topic}"),
                        format!("{} published to a new topic {topic:?}", device.key),
                    )
                    .evidence("topic", json!(topic))
                    .evidence("client_id", json!(client_id))
                    .learned("published", quote(q.published.values.iter())),
                );
            }
            out
        });
        for finding in findings.into_iter().flatten() {
            let finding = finding.peer(tuple.dst, Some(tuple.dst_port), table);
            self.raise(table, &key, ts, flow, finding);
        }
    }

    /// One endpoint's traffic in a rate bin, summed per device until the
    /// bin closes.
    pub fn rates(&mut self, table: &DeviceTable, sample: RateSample) {
        let Some(key) = table.device_of(&sample.endpoint) else {
            return;
        };
        self.pending_rates
            .entry((sample.bin, key))
            .or_default()
            .add(&sample.rates);
    }

    /// Every bin before `bin` is complete: judge or learn each, and close
    /// suppression windows that ended.
    pub fn tick(&mut self, table: &DeviceTable, bin: Micros) {
        self.close_bins(table, Some(bin));
        let now = bin.saturating_sub(1);
        // Trackers idle for a window are dropped.
        let fanout_window = micros(self.config.thresholds.fanout_window);
        let burst_window = micros(self.config.thresholds.burst_window);
        self.fanout
            .retain(|_, q| q.back().is_some_and(|(t, ..)| now - *t <= fanout_window));
        self.bursts
            .retain(|_, q| q.back().is_some_and(|t| now - *t <= burst_window));
        self.expire(now);
    }

    fn close_bins(&mut self, table: &DeviceTable, before: Option<Micros>) {
        while let Some(((start, _), _)) = self.pending_rates.first_key_value() {
            if before.is_some_and(|bin| *start >= bin) {
                break;
            }
            let Some(((start, key), rates)) = self.pending_rates.pop_first() else {
                break;
            };
            self.judge_rates(table, start, key, rates);
        }
    }

    fn expire(&mut self, now: Micros) {
        for (due, alert) in self.aggregator.expire(now) {
            self.follow_up(due, alert);
        }
    }

    fn follow_up(&mut self, due: Micros, alert: Alert) {
        *self.stats.by_kind.entry(alert.alert.kind).or_default() += 1;
        self.ready.push((due, None, alert));
    }

    fn judge_rates(&mut self, table: &DeviceTable, start: Micros, key: DeviceKey, rates: Rates) {
        let t = self.config.thresholds.clone();
        let end = start.saturating_add(RATE_BIN);
        let learn_all = self.learn_all();
        let findings = table.with_device(&key, |device| {
            let b = &mut device.baseline;
            let learning = learn_all || b.learning(start);
            let r = &mut b.rates;
            if learning {
                r.bytes.push(rates.bytes as f64);
                r.packets.push(rates.packets as f64);
                r.connections.push(rates.connections as f64);
                return Vec::new();
            }
            let mut out = Vec::new();
            for (metric, value, learned, floor) in [
                ("bytes", rates.bytes, r.bytes, t.volume_min_bytes),
                ("packets", rates.packets, r.packets, t.volume_min_packets),
                ("connections", rates.connections, r.connections, t.volume_min_connections),
            ] {
                if learned.n < t.volume_min_minutes {
                    continue;
                }
                let limit = (learned.mean + t.volume_sigma * learned.stddev())
                    .max(learned.mean * t.volume_ratio)
                    .max(floor as f64);
                if (value as f64) <= limit {
                    continue;
                }
                out.push(
                    Finding::new(
                        Kind::VolumeSpike,
                        metric,
                        format!(
                            "{} had {value} {metric} in one minute; it learned {:.0} ± {:.0} per active minute",
                            device.key,
                            learned.mean,
                            learned.stddev()
                        ),
                    )
                    .evidence("metric", json!(metric))
                    .evidence("value", json!(value))
                    .evidence("minute", json!(Timestamp(start)))
                    .evidence("limit", json!(limit.round()))
                    .learned("mean", json!(learned.mean.round()))
                    .learned("stddev", json!(learned.stddev().round()))
                    .learned("minutes", json!(learned.n)),
                );
            }
            out
        });
        for finding in findings.into_iter().flatten() {
            self.raise(table, &key, end.saturating_sub(1), None, finding);
        }
    }

    /// Closes every open bin and window: the input ended. With `--learn
    /// all`, every baseline and the network are marked learned.
    /// Repeats still counting are reported; their windows stay open, and
    /// are saved with the state so a later run goes on suppressing.
    pub fn finish(&mut self, table: &DeviceTable) {
        self.close_bins(table, None);
        self.expire(self.clock);
        for (due, alert) in self.aggregator.report_repeats() {
            self.follow_up(due, alert);
        }
        if self.learn_all() {
            self.network.complete = true;
            let end = self.clock;
            table.for_each_device_mut(|d| {
                d.baseline.complete = true;
                d.baseline.until = d.baseline.until.min(end.max(d.baseline.since));
            });
        }
    }

    /// Builds the alert for `finding` about device `key` and writes it, or
    /// folds it into its suppression window.
    fn raise(
        &mut self,
        table: &DeviceTable,
        key: &DeviceKey,
        ts: Micros,
        flow: FlowRef,
        finding: Finding,
    ) {
        if self.learn_all() {
            return;
        }
        let Some((record, since, until, observations)) = table.with_device(key, |d| {
            (
                d.record(),
                d.baseline.since,
                d.baseline.until,
                d.baseline.observations,
            )
        }) else {
            return;
        };
        let baseline = finding.learned.map(|learned| BaselineRef {
            since: Timestamp(since),
            until: Timestamp(until),
            observations,
            learned,
        });
        let alert = Alert {
            alert: AlertInfo {
                kind: finding.kind.name(),
                severity: finding.kind.severity(),
                message: finding.message,
                mitre: finding.kind.mitre(),
                subject: finding.subject,
                repeats: None,
            },
            device: record,
            peer: finding.peer,
            evidence: finding.evidence,
            baseline,
        };
        match self.aggregator.occur(&alert, finding.kind, ts) {
            verdict @ (Verdict::Emit | Verdict::Untracked) => {
                if verdict == Verdict::Untracked {
                    self.stats.unaggregated += 1;
                }
                *self.stats.by_kind.entry(alert.alert.kind).or_default() += 1;
                let fields = flow.map(|(tuple, app)| tuple.fields(app));
                self.ready.push((ts, fields, alert));
            }
            Verdict::Suppressed => self.stats.suppressed += 1,
        }
    }
}

/// A message's facilities with the baseline sets they belong to.
fn facility_sets<'a>(
    m: &'a crate::proto::hl7::Message,
    h: &'a mut super::Hl7Baseline,
) -> [(
    &'static str,
    &'a Option<String>,
    &'a mut super::Bounded<String>,
); 2] {
    [
        ("sending", &m.sending_facility, &mut h.sending_facilities),
        (
            "receiving",
            &m.receiving_facility,
            &mut h.receiving_facilities,
        ),
    ]
}

/// For a connection a watched device made (`peer.out`) or answered:
/// `new_service` if the service is new to it in that role, else `new_peer`
/// if the peer is, else nothing.
fn service_or_peer(device: &Device, service: Service, peer: PeerKey) -> Option<Finding> {
    let b = &device.baseline;
    let peer_ip = peer.ip;
    let (verb, role, services, learned, direction, preposition) = if peer.out {
        (
            "uses",
            "client",
            &b.services_used,
            "services_used",
            "out",
            "to",
        )
    } else {
        (
            "offers",
            "server",
            &b.services_offered,
            "services_offered",
            "in",
            "from",
        )
    };
    let name = || service_name(service.0, service.1);
    if !services.covers(&service) {
        let name = name();
        let known = services
            .values
            .iter()
            .map(|(p, port)| service_name(*p, *port));
        return Some(
            Finding::new(
                Kind::NewService,
                format!("{verb} {name}"),
                format!(
                    "{} {verb} a new service {name} (peer {peer_ip})",
                    device.key
                ),
            )
            .evidence("service", json!(name))
            .evidence("role", json!(role))
            .learned(learned, quote(known)),
        );
    }
    if !b.peers.covers(&peer) {
        let name = name();
        return Some(
            Finding::new(
                Kind::NewPeer,
                format!("{direction} {peer_ip} {name}"),
                format!(
                    "{} has a new peer: {preposition} {peer_ip} on {name}",
                    device.key
                ),
            )
            .evidence("service", json!(name))
            .evidence("direction", json!(direction))
            .learned("peers", quote(b.peers.values.iter().map(peer_label))),
        );
    }
    None
}

fn peer_label(p: &PeerKey) -> String {
    let dir = if p.out { "out" } else { "in" };
    format!("{dir} {} {}", p.ip, service_name(p.proto, p.port))
}

/// Multicast and broadcast destinations are groups, not peers outside.
fn is_group(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_multicast() || v4.is_broadcast() || v4.is_unspecified(),
        IpAddr::V6(v6) => v6.is_multicast() || v6.is_unspecified(),
    }
}

#[cfg(test)]
mod tests;
