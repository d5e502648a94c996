//! The engine: every observation the merge stage releases, in packet order,
//! goes to the device it is about and to the detector family it concerns
//! ([`super::detect`]), which learns it (the device is still learned) or
//! judges it (the device is watched). The engine keeps what spans devices
//! and connections — the network's learning window, the refusal-burst and
//! fan-out trackers, MQTT client-id owners, the cleartext pairs already
//! told — and turns findings into alerts through the suppression windows.
//!
//! Every observation is judged at its own packet time: a fact first seen
//! while its device learns is learned, however long its connection lasts
//! afterwards; a fact learned is never "new" again.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::IpAddr;

use serde_json::json;

use super::detect::network::{self, Contact};
use super::detect::{self, Finding, dicom::DicomFact, mqtt::MqttFact, quote};
use super::{Baseline, BaselineStats, Learn, PeerKey, Thresholds, micros};
use crate::alert::{Aggregator, Alert, AlertInfo, AlertStats, BaselineRef, Kind, Verdict};
use crate::decode::ip_proto;
use crate::device::{DeviceKey, DeviceTable, EndpointKey, HomeNets};
use crate::flow::fields::{FlowFields, PacketTuple};
use crate::proto::Side;
use crate::proto::dicom::DicomObservation;
use crate::proto::exposure::Exposure;
use crate::proto::mqtt::MqttObservation;
use crate::proto::session::ProtocolObservation;
use crate::time::{Micros, Timestamp};

pub use super::detect::MAX_QUOTED_VALUES;
pub use super::detect::identity::{
    MAX_CLIENT_ID_OWNERS, MAX_DEVICES_PER_CLIENT_ID, WATCHED_IDENTITY_FACTS,
};
pub use super::detect::rates::{BURST_BIN, Carried, Rates, burst_bin};
use super::detect::rates::{Metric, Recent};

/// Device pairs remembered as having been told about cleartext clinical
/// traffic, at most.
pub const MAX_CLEARTEXT_PAIRS: usize = 100_000;
/// Burst and fan-out trackers kept at most; past this, new ones are not
/// started until stale ones are dropped at the next minute.
pub const MAX_TRACKERS: usize = 65_536;
/// The length of a rate bin.
pub const RATE_BIN: Micros = 60_000_000;

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

/// What one endpoint sent over one clinical protocol in the second starting
/// at `bin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BurstSample {
    /// The sender.
    pub endpoint: EndpointKey,
    /// Packet time the second starts.
    pub bin: Micros,
    /// `dicom`, `hl7` or `mqtt`.
    pub protocol: &'static str,
    /// What it carried.
    pub carried: Carried,
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

/// The detectors' working state across devices.
pub struct Engine {
    config: EngineConfig,
    pub(super) network: NetworkLearning,
    aggregator: Aggregator,
    stats: AlertStats,
    /// MQTT client id → the devices that used it while the network was
    /// learned (or the first one after).
    pub(super) client_id_owners: detect::identity::ClientIdOwners,
    /// (device, peer, protocol) told about cleartext already.
    pub(super) cleartext_pairs: HashSet<CleartextPair, FastHash>,
    fanout: HashMap<DeviceKey, VecDeque<(Micros, IpAddr, u16)>, FastHash>,
    bursts: HashMap<(Kind, DeviceKey, IpAddr), VecDeque<Micros>, FastHash>,
    pending_rates: BTreeMap<(Micros, DeviceKey), Rates>,
    /// Seconds of protocol traffic per device, until the second closes.
    pending_bursts: HashMap<(Micros, DeviceKey, &'static str), Carried, FastHash>,
    /// The seconds closing at a tick, reused.
    closing: Vec<((Micros, DeviceKey, &'static str), Carried)>,
    /// The latest seconds of each device and protocol, per metric
    /// ([`Metric`] order).
    recent: HashMap<(DeviceKey, &'static str), [Recent; 2], FastHash>,
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
            pending_bursts: HashMap::default(),
            closing: Vec::new(),
            recent: HashMap::default(),
            ready: Vec::new(),
            clock: Micros::MIN,
        }
    }

    /// When the network was learned (packet time).
    pub fn network(&self) -> NetworkLearning {
        self.network
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
            *device.baseline = Baseline::new(ts, learn);
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

    /// Runs `detector` on device `key`'s baseline at packet time `ts`,
    /// telling it whether the device is still learned (then the observation
    /// counts toward its baseline), and raises what it finds, about `peer`.
    #[allow(clippy::too_many_arguments)]
    fn detect<F>(
        &mut self,
        table: &DeviceTable,
        key: DeviceKey,
        ts: Micros,
        flow: FlowRef,
        peer: (IpAddr, Option<u16>),
        detector: F,
    ) where
        F: FnOnce(&mut crate::device::Device, bool) -> Vec<Finding>,
    {
        let learn_all = self.learn_all();
        let findings = table.with_device(&key, |device| {
            let learning = learn_all || device.baseline.learning(ts);
            if learning {
                device.baseline.observations += 1;
            }
            detector(device, learning)
        });
        for finding in findings.into_iter().flatten() {
            let finding = finding.peer(peer.0, peer.1, table);
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

    /// Raises a finding made outside the detectors (a policy violation)
    /// about device `key`, aggregated like the detectors' own.
    pub fn raise_finding(
        &mut self,
        table: &DeviceTable,
        key: &DeviceKey,
        ts: Micros,
        flow: FlowRef,
        finding: Finding,
    ) {
        self.raise(table, key, ts, flow, finding);
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
        let contact = Contact {
            peer: PeerKey {
                ip: peer_ip,
                port: tuple.dst_port,
                proto: tuple.proto,
                out: true,
            },
            external: !self.config.internal.contains(&peer_ip) && !network::is_group(&peer_ip),
        };
        let learn_all = self.learn_all();
        let mut fanout_candidate = false;
        let finding = table
            .with_device(&key, |device| {
                let b = &mut device.baseline;
                if learn_all || b.learning(ts) {
                    if with_ports && opened {
                        b.observations += 1;
                        network::learn_opened(b, &contact);
                    }
                    return None;
                }
                if opened {
                    fanout_candidate = !b.peers.covers(&contact.peer);
                    if with_ports && let Some(f) = network::judge_opened(b, &device.key, &contact) {
                        return Some(f);
                    }
                }
                if !answered || !with_ports || contact.external {
                    return None;
                }
                network::judge_answered(b, &device.key, &contact)
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
        let contact = Contact {
            peer: PeerKey {
                ip: tuple.src,
                port: tuple.dst_port,
                proto: tuple.proto,
                out: false,
            },
            external: false,
        };
        self.detect(
            table,
            key,
            ts,
            flow,
            (tuple.src, Some(tuple.dst_port)),
            |device, learning| {
                if learning {
                    network::learn_answered(&mut device.baseline, &contact);
                    return Vec::new();
                }
                network::judge_answered(&device.baseline, &device.key, &contact)
                    .into_iter()
                    .collect()
            },
        );
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

    /// Counts one occurrence toward a burst; the count when it completes one.
    fn burst(&mut self, kind: Kind, key: DeviceKey, peer: IpAddr, ts: Micros) -> Option<usize> {
        if self.learn_all() {
            return None;
        }
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

    /// The identity facts of an observation (about the devices of its
    /// client and server, where they are devices), checked before they
    /// reach the device identity.
    pub fn observed_facts(
        &mut self,
        table: &DeviceTable,
        ts: Micros,
        tuple: PacketTuple,
        [client, server]: [Option<DeviceKey>; 2],
        observation: &ProtocolObservation,
        facts: &[crate::proto::Fact],
    ) {
        let network_learning = self.network_learning(ts);
        let flow = Some((tuple, Some(observation.name())));
        let learn_all = self.learn_all();
        for (side, key) in [(Side::Client, client), (Side::Server, server)] {
            let Some(key) = key else { continue };
            let peer_ip = if side == Side::Client {
                tuple.dst
            } else {
                tuple.src
            };
            let mut findings = Vec::new();
            for fact in facts.iter().filter(|f| f.side == side) {
                if fact.name == "mqtt.client_id" {
                    findings.extend(detect::identity::client_id(
                        &mut self.client_id_owners,
                        key,
                        &fact.value,
                        network_learning,
                    ));
                    continue;
                }
                if !detect::identity::WATCHED_IDENTITY_FACTS.contains(&fact.name) {
                    continue;
                }
                let found = table.with_device(&key, |device| {
                    if learn_all || device.baseline.learning(ts) {
                        return None;
                    }
                    detect::identity::judge_fact(
                        &device.identity,
                        &device.key,
                        fact.name,
                        &fact.value,
                    )
                });
                findings.extend(found.flatten());
            }
            for finding in findings {
                let finding = finding.peer(peer_ip, Some(tuple.dst_port), table);
                self.raise(table, &key, ts, flow, finding);
            }
        }
    }

    /// A protocol observation, after its facts reached the device identity.
    pub fn observe(
        &mut self,
        table: &DeviceTable,
        ts: Micros,
        tuple: PacketTuple,
        devices: [Option<DeviceKey>; 2],
        observation: &ProtocolObservation,
    ) {
        self.network_learning(ts);
        let flow = Some((tuple, Some(observation.name())));
        match observation {
            ProtocolObservation::Dicom(o) => {
                self.cleartext(table, ts, &tuple, devices, "dicom", flow);
                self.dicom(table, ts, &tuple, devices, o, flow);
            }
            ProtocolObservation::Hl7(m) => {
                self.cleartext(table, ts, &tuple, devices, "hl7", flow);
                self.hl7(table, ts, &tuple, devices, m, flow);
            }
            ProtocolObservation::Mqtt(o) => self.mqtt(table, ts, &tuple, devices[0], o, flow),
        }
    }

    /// A clinical protocol in the clear between a device and a peer: told
    /// once per pair and protocol.
    fn cleartext(
        &mut self,
        table: &DeviceTable,
        ts: Micros,
        tuple: &PacketTuple,
        [client, server]: [Option<DeviceKey>; 2],
        protocol: &'static str,
        flow: FlowRef,
    ) {
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

    /// What a device's side-door traffic changed: a new exposure is an
    /// `insecure_service`, `weak_tls` or `cleartext_credentials` alert, an
    /// operating system first seen past its end of support an
    /// `outdated_os`; each whether the device is learning or not (no
    /// baseline makes them true).
    pub fn posture(
        &mut self,
        table: &DeviceTable,
        key: DeviceKey,
        ts: Micros,
        tuple: PacketTuple,
        change: &crate::device::posture::Change,
    ) {
        let flow = Some((tuple, None));
        if let Some(exposure) = &change.exposure {
            let (kind, message) = match exposure.kind {
                Exposure::WeakTls { version } => (
                    Kind::WeakTls,
                    format!(
                        "{key} {} {} on port {}: traffic can be decrypted or altered on the path",
                        if exposure.role == "server" {
                            "accepts"
                        } else {
                            "uses"
                        },
                        version.as_str(),
                        exposure.port
                    ),
                ),
                Exposure::CleartextCredentials { service } => (
                    Kind::CleartextCredentials,
                    format!(
                        "{key} {} a {} login in the clear on port {}{}: whoever sees the traffic has the account",
                        if exposure.role == "server" {
                            "accepted"
                        } else {
                            "sent"
                        },
                        service.as_str(),
                        exposure.port,
                        exposure
                            .user
                            .as_deref()
                            .map(|u| format!(" (user {u:?})"))
                            .unwrap_or_default()
                    ),
                ),
                other => (
                    Kind::InsecureService,
                    format!(
                        "{key} {} {} on port {}: {}",
                        if exposure.role == "server" {
                            "offers"
                        } else {
                            "uses"
                        },
                        other.name(),
                        exposure.port,
                        exposure.detail
                    ),
                ),
            };
            let peer_ip = if exposure.role == "server" {
                tuple.src
            } else {
                tuple.dst
            };
            let mut finding = Finding::new(
                kind,
                format!(
                    "{} {}/{} {}",
                    exposure.exposure, exposure.service, exposure.port, exposure.role
                ),
                message,
            )
            .evidence("exposure", json!(exposure.exposure))
            .evidence("service", json!(exposure.service))
            .evidence("role", json!(exposure.role))
            .evidence("detail", json!(exposure.detail))
            .peer(peer_ip, Some(tuple.dst_port), table);
            if let Some(user) = &exposure.user {
                finding = finding.evidence("user_name", json!(user));
            }
            self.raise(table, &key, ts, flow, finding);
        }
        if let Some(os) = &change.outdated
            && let Some(eol) = &os.end_of_life
        {
            let name = match &os.version {
                Some(version) => format!("{} {version}", os.family.as_str()),
                None => os.family.as_str().to_owned(),
            };
            let finding = Finding::new(
                Kind::OutdatedOs,
                name.clone(),
                format!(
                    "{key} runs {name}, out of support since {}: its flaws stay open",
                    eol.date
                ),
            )
            .evidence("os", json!(name))
            .evidence("end_of_life", json!(eol.date.to_string()))
            .evidence("confidence", json!(os.confidence.as_str()))
            .evidence(
                "sources",
                json!(
                    os.evidence
                        .iter()
                        .map(|e| e.source.as_str())
                        .collect::<Vec<_>>()
                ),
            );
            self.raise(table, &key, ts, flow, finding);
        }
    }

    fn dicom(
        &mut self,
        table: &DeviceTable,
        ts: Micros,
        tuple: &PacketTuple,
        [client, server]: [Option<DeviceKey>; 2],
        o: &DicomObservation,
        flow: FlowRef,
    ) {
        let title = |p: &crate::proto::dicom::Presented| p.ae_title.clone().unwrap_or_default();
        match o {
            DicomObservation::Rejected {
                client: calling,
                server: called,
                reject,
            } => {
                let (key, peer) = match (client, server) {
                    (Some(c), _) => (c, tuple.dst),
                    (None, Some(s)) => (s, tuple.src),
                    (None, None) => return,
                };
                let Some(n) = self.burst(Kind::DicomAssociationRejects, key, peer, ts) else {
                    return;
                };
                let (calling, called) = (title(calling), title(called));
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
                .evidence("reject", json!(reject))
                .peer(peer, Some(tuple.dst_port), table);
                self.raise(table, &key, ts, flow, finding);
            }
            DicomObservation::Associated {
                client: calling,
                server: called,
            } => {
                let calling = calling.ae_title.as_deref().unwrap_or_default();
                let called = called.ae_title.as_deref().unwrap_or_default();
                for (side, key) in [(Side::Client, client), (Side::Server, server)] {
                    let Some(key) = key else { continue };
                    let fact = DicomFact::Associated {
                        calling,
                        called,
                        role: detect::dicom::Role::of(side),
                    };
                    self.dicom_fact(table, ts, tuple, side, key, &fact, flow);
                }
            }
            DicomObservation::Command {
                sent_by,
                command,
                sop_class_uid,
                sop_class_name,
                called_ae,
            } => {
                let called = called_ae.as_deref().unwrap_or_default();
                let command = command.trim_end_matches("-RQ");
                for (side, key) in [(Side::Client, client), (Side::Server, server)] {
                    let Some(key) = key else { continue };
                    let sent = *sent_by == side;
                    let stores = sent && side == Side::Client && command == "C-STORE";
                    let fact = DicomFact::Request {
                        role: detect::dicom::Role::of(side),
                        sent,
                        command,
                        sop_class: sop_class_uid.as_deref().map(|uid| (uid, *sop_class_name)),
                        destination: stores.then(|| detect::dicom::StoreDestination {
                            ip: tuple.dst,
                            called_ae: called.to_owned(),
                        }),
                        called,
                        peer: if side == Side::Client {
                            tuple.dst
                        } else {
                            tuple.src
                        },
                    };
                    self.dicom_fact(table, ts, tuple, side, key, &fact, flow);
                }
            }
            DicomObservation::Equipment(_) => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn dicom_fact(
        &mut self,
        table: &DeviceTable,
        ts: Micros,
        tuple: &PacketTuple,
        side: Side,
        key: DeviceKey,
        fact: &DicomFact<'_>,
        flow: FlowRef,
    ) {
        let peer_ip = if side == Side::Client {
            tuple.dst
        } else {
            tuple.src
        };
        self.detect(
            table,
            key,
            ts,
            flow,
            (peer_ip, Some(tuple.dst_port)),
            |device, learning| {
                let d = &mut device.baseline.dicom;
                if learning {
                    detect::dicom::learn(d, fact);
                    return Vec::new();
                }
                detect::dicom::judge(d, &device.key, fact)
            },
        );
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
        let (sender, receiver, sender_ip, receiver_ip) = if m.direction.sender() == Side::Client {
            (client, server, tuple.src, tuple.dst)
        } else {
            (server, client, tuple.dst, tuple.src)
        };
        if let Some(code) = m.ack_code.as_deref()
            && detect::hl7::is_nak(code)
        {
            // The device whose messages are refused.
            if let Some(key) = receiver
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
        let Some(message_type) = detect::hl7::message_type(m) else {
            return;
        };
        self.detect(
            table,
            key,
            ts,
            flow,
            (receiver_ip, Some(tuple.dst_port)),
            |device, learning| {
                let h = &mut device.baseline.hl7;
                if learning {
                    detect::hl7::learn(h, m, &message_type);
                    return Vec::new();
                }
                detect::hl7::judge(h, &device.key, m, &message_type, receiver_ip)
            },
        );
    }

    fn mqtt(
        &mut self,
        table: &DeviceTable,
        ts: Micros,
        tuple: &PacketTuple,
        client: Option<DeviceKey>,
        o: &MqttObservation,
        flow: FlowRef,
    ) {
        let Some(key) = client else { return };
        let fact = match o {
            MqttObservation::Connect {
                client_id,
                username,
                ..
            } => MqttFact::Connected {
                client_id: client_id.as_deref().filter(|id| !id.is_empty()),
                authenticated: username.is_some(),
            },
            MqttObservation::Connack {
                code,
                username_present,
                accepted: false,
                ..
            } if detect::mqtt::auth_refused(*code) => {
                self.mqtt_refused(table, ts, tuple, key, *code, *username_present, flow);
                return;
            }
            MqttObservation::Publish {
                direction: crate::proto::Direction::ToServer,
                topic,
            } if !topic.is_empty() => MqttFact::Published(topic),
            MqttObservation::Subscribe { filter, .. } => MqttFact::Subscribed(filter),
            _ => return,
        };
        self.detect(
            table,
            key,
            ts,
            flow,
            (tuple.dst, Some(tuple.dst_port)),
            |device, learning| {
                let q = &mut device.baseline.mqtt;
                if learning {
                    detect::mqtt::learn(q, fact);
                    return Vec::new();
                }
                // The client id it is known by, for the analyst.
                let client_id = device.identity.facts.get("mqtt.client_id");
                let client_id = client_id.and_then(|ids| ids.iter().next()).cloned();
                let broker = tuple.dst.to_string();
                detect::mqtt::judge(q, &device.key, fact, client_id.as_deref(), &broker)
                    .into_iter()
                    .collect()
            },
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn mqtt_refused(
        &mut self,
        table: &DeviceTable,
        ts: Micros,
        tuple: &PacketTuple,
        key: DeviceKey,
        code: u8,
        username_present: bool,
        flow: FlowRef,
    ) {
        let Some(n) = self.burst(Kind::MqttAuthFailures, key, tuple.dst, ts) else {
            return;
        };
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
        .evidence("connack_code", json!(code))
        .evidence("username_present", json!(username_present))
        .peer(tuple.dst, Some(tuple.dst_port), table);
        self.raise(table, &key, ts, flow, finding);
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

    /// One endpoint's protocol traffic in a second, summed per device
    /// until the second closes.
    pub fn bursts(&mut self, table: &DeviceTable, sample: BurstSample) {
        let Some(key) = table.device_of(&sample.endpoint) else {
            return;
        };
        self.pending_bursts
            .entry((sample.bin, key, sample.protocol))
            .or_default()
            .add(&sample.carried);
    }

    /// Every second before `bin` is complete: learn each, or judge the run
    /// of seconds it ends, in (second, device, protocol) order.
    pub fn burst_tick(&mut self, table: &DeviceTable, bin: Micros) {
        let mut closing = std::mem::take(&mut self.closing);
        self.pending_bursts.retain(|id, carried| {
            if id.0 >= bin {
                return true;
            }
            closing.push((*id, *carried));
            false
        });
        closing.sort_unstable_by_key(|(id, _)| *id);
        for ((start, key, protocol), carried) in closing.drain(..) {
            self.judge_second(table, start, key, protocol, carried);
        }
        self.closing = closing;
    }

    /// One second of a device's protocol traffic: both metrics learned, or
    /// the runs they extend judged.
    fn judge_second(
        &mut self,
        table: &DeviceTable,
        start: Micros,
        key: DeviceKey,
        protocol: &'static str,
        carried: Carried,
    ) {
        let t = &self.config.thresholds;
        let learn_all = self.config.learn == Learn::All;
        let id = (key, protocol);
        if !self.recent.contains_key(&id) && self.recent.len() >= MAX_TRACKERS {
            return;
        }
        let recent = self.recent.entry(id).or_default();
        let runs = Metric::ALL.map(|metric| {
            let run = recent.get_mut(metric as usize);
            run.and_then(|r| r.push(start, metric.of(&carried), t.rate_burst_seconds))
        });
        let found = table.with_device(&key, |device| {
            let learning = learn_all || device.baseline.learning(start);
            let bursts = &mut device.baseline.bursts;
            if !bursts.contains_key(protocol) {
                bursts.insert(protocol.to_owned(), Default::default());
            }
            let stats = bursts.get_mut(protocol)?;
            let mut found = [None, None];
            for ((metric, sustained), (slot, run)) in Metric::ALL
                .into_iter()
                .zip(runs)
                .zip(found.iter_mut().zip(recent.iter()))
            {
                let stat = stats.stat(metric);
                if learning {
                    detect::rates::learn_second(stat, metric.of(&carried), sustained);
                } else if let Some(sustained) = sustained
                    && !run.alerted()
                {
                    let since = run.since().unwrap_or(start);
                    *slot = detect::rates::judge_run(
                        stat,
                        t,
                        &device.key,
                        protocol,
                        metric,
                        sustained,
                        since,
                    );
                }
            }
            Some(found)
        });
        let Some(Some(found)) = found else { return };
        for (run, finding) in recent.iter_mut().zip(&found) {
            if finding.is_some() {
                run.alert();
            }
        }
        let end = start.saturating_add(BURST_BIN).saturating_sub(1);
        for finding in found.into_iter().flatten() {
            self.raise(table, &key, end, None, finding);
        }
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
        // Runs broken for a minute are over.
        self.recent.retain(|_, runs| {
            runs.iter()
                .any(|r| r.last().is_some_and(|t| now - t <= RATE_BIN))
        });
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
        let t = &self.config.thresholds;
        let end = start.saturating_add(RATE_BIN);
        let learn_all = self.learn_all();
        let findings = table.with_device(&key, |device| {
            let learning = learn_all || device.baseline.learning(start);
            let r = &mut device.baseline.rates;
            if learning {
                detect::rates::learn_minute(r, &rates);
                return Vec::new();
            }
            detect::rates::judge_minute(r, t, &device.key, start, &rates)
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
        self.burst_tick(table, Micros::MAX);
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
            alert: AlertInfo::new(finding.kind, finding.message, finding.subject),
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

#[cfg(test)]
mod tests;
