//! Segmentation policy learned from the wire: what each group of devices
//! was seen to need, and nothing else.
//!
//! A [`Policy`] is made from a state file (`--state FILE`): every device
//! whose baseline is learned is put in a group ([`groups`]), and each peer
//! its baseline holds becomes an allowed flow between its group and the
//! peer's group — or the peer's address, when no learned device has it.
//! Infrastructure every device needs (DHCP, DNS, NTP) is stated once, with
//! the servers seen. Devices still learning are listed, never given rules:
//! what they need is not known yet.
//!
//! Guarantees: the same state file (and groups file) gives the same policy,
//! byte for byte, in every rendering ([`render`]) — everything is sorted and
//! no wall-clock time is used. Refuses: a damaged state file, a bad groups
//! file ([`PolicyError`]).

pub mod groups;
pub mod render;
pub mod watch;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::baseline::engine::{Engine, EngineConfig};
use crate::baseline::state::{self, StateError};
use crate::device::{Device, DeviceKey, DeviceTable, HomeNets, Registry, format_mac};
use crate::time::{Micros, Timestamp};

pub use groups::{GroupRules, GroupsError};
pub use watch::{Violation, Watch};

/// The `format` field of a policy.
pub const FORMAT: &str = "medtap-policy";
/// The version of the policy schema (`schema/policy.schema.json`) this build
/// writes.
pub const VERSION: u32 = 1;

/// Services every device may need from the network itself: name, IP
/// protocol, server port. Flows to these are stated once, in the
/// infrastructure section, not per group.
pub const INFRASTRUCTURE: &[(&str, u8, u16)] = &[
    ("dhcp", PROTO_UDP, 67),
    ("dhcpv6", PROTO_UDP, 547),
    ("dns", PROTO_TCP, 53),
    ("dns", PROTO_UDP, 53),
    ("ntp", PROTO_UDP, 123),
];

/// The client ports of DHCP and DHCPv6 (IP protocol, port): a server's
/// answers to them are the other half of the DHCP infrastructure entry,
/// never a flow of their own.
pub const DHCP_CLIENT_PORTS: &[(u8, u16)] = &[(PROTO_UDP, 68), (PROTO_UDP, 546)];

const PROTO_ICMP: u8 = 1;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const PROTO_ICMPV6: u8 = 58;
const PROTO_SCTP: u8 = 132;

/// Largest policy file read back (by the watching side), in bytes.
pub const MAX_POLICY_BYTES: u64 = 64 << 20;

/// Why no policy could be made.
#[derive(Debug, Error)]
pub enum PolicyError {
    /// The state file could not be read or was refused.
    #[error(transparent)]
    State(#[from] StateError),
    /// The groups file could not be read or was refused.
    #[error(transparent)]
    Groups(#[from] GroupsError),
}

/// A segmentation policy: groups with their members and allowed flows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Always [`FORMAT`].
    pub format: String,
    /// The schema version, [`VERSION`].
    pub version: u32,
    /// What the policy was learned from.
    pub learned_from: LearnedFrom,
    /// Services of the network itself, each stated once.
    pub infrastructure: Vec<Infrastructure>,
    /// Groups, by name.
    pub groups: Vec<Group>,
    /// Devices still learning: listed, given no rule.
    pub learning: Vec<LearningDevice>,
}

/// The state file a policy was learned from, and the learning window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LearnedFrom {
    /// The state file's path, as given.
    pub state: String,
    /// SHA-256 of the state file's bytes, lower-case hex.
    pub sha256: String,
    /// Packet time of the first packet learned from (RFC 3339).
    pub since: Option<String>,
    /// The latest packet time the state records (RFC 3339).
    pub until: Option<String>,
}

/// A service of the network itself and who used it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Infrastructure {
    /// `dhcp`, `dhcpv6`, `dns` or `ntp`.
    pub service: String,
    /// `tcp` or `udp`.
    pub protocol: String,
    /// The server port.
    pub port: u16,
    /// The servers seen.
    pub servers: Vec<IpAddr>,
    /// The groups that used them.
    pub clients: Vec<String>,
}

/// A group of devices that share one set of allowed flows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// Stable, lower case, `[a-z0-9_-]`.
    pub name: String,
    /// Its devices.
    pub members: Vec<Member>,
    /// What it may do; everything else is denied.
    pub allow: Vec<Allow>,
    /// The DICOM requests its members sent (`C-STORE`, `C-ECHO`,
    /// `C-FIND-WORKLIST`, …), sorted; any other is denied. Empty: none.
    /// Only `--policy` judges them: a firewall sees ports, not commands.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dicom_requests: Vec<String>,
}

impl Policy {
    /// Reads a policy back from its JSON, as written: of this format and
    /// version, every group name valid and unique, and every group a rule
    /// or the infrastructure names defined. The problem, in words, when not.
    pub fn parse(bytes: &[u8]) -> Result<Policy, String> {
        let policy: Policy =
            serde_json::from_slice(bytes).map_err(|e| format!("not a medtap policy ({e})"))?;
        if policy.format != FORMAT {
            return Err(format!("not a medtap policy (format {:?})", policy.format));
        }
        if policy.version != VERSION {
            return Err(format!(
                "policy version {}; this medtap reads version {VERSION}",
                policy.version
            ));
        }
        let mut names = BTreeSet::new();
        for group in &policy.groups {
            if !groups::valid_name(&group.name) {
                return Err(format!("bad group name {:?}", group.name));
            }
            if !names.insert(group.name.as_str()) {
                return Err(format!("group {} is defined twice", group.name));
            }
        }
        let known = |name: &str, user: &str| {
            if names.contains(name) {
                Ok(())
            } else {
                Err(format!("{user} names unknown group {name:?}"))
            }
        };
        for group in &policy.groups {
            for allow in &group.allow {
                if let Peer::Group(name) = &allow.peer {
                    known(name, &format!("group {}", group.name))?;
                }
            }
        }
        for infra in &policy.infrastructure {
            for client in &infra.clients {
                known(client, &format!("infrastructure {}", infra.service))?;
            }
        }
        Ok(policy)
    }
}

impl Group {
    /// Every member address.
    pub fn addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.members
            .iter()
            .flat_map(|m| m.addresses.iter().copied())
    }
}

/// A device in a group, and why it is there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// The device id (`mac:…` or `ip:…`).
    pub id: String,
    /// Its MAC, when the sensor saw its L2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// Its addresses.
    pub addresses: Vec<IpAddr>,
    /// The facts that put it in the group.
    pub because: Vec<String>,
}

/// Who opens the connections of an allowed flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Initiator {
    /// The group's members open them (they are the clients).
    Group,
    /// The peer opens them (the group's members are the servers).
    Peer,
}

/// The other end of an allowed flow.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Peer {
    /// A group of this policy.
    Group(String),
    /// Addresses no learned device has: a host (`/32`, `/128`) or a
    /// network of the groups file's `external` list.
    Network(IpNet),
}

/// One allowed flow of a group.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allow {
    /// The other end.
    pub peer: Peer,
    /// `tcp`, `udp`, `sctp`, `icmp`, `icmpv6`, or the IP protocol number.
    pub protocol: String,
    /// The server's port; absent for protocols without ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Who opens the connections.
    pub initiator: Initiator,
}

/// A device whose baseline is not complete yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LearningDevice {
    /// The device id.
    pub id: String,
    /// Its addresses.
    pub addresses: Vec<IpAddr>,
    /// Packet time its learning ends (RFC 3339).
    pub learning_until: String,
}

/// The name of an IP protocol, as policies write it.
pub fn protocol_name(proto: u8) -> String {
    match proto {
        PROTO_ICMP => "icmp".to_owned(),
        PROTO_TCP => "tcp".to_owned(),
        PROTO_UDP => "udp".to_owned(),
        PROTO_ICMPV6 => "icmpv6".to_owned(),
        PROTO_SCTP => "sctp".to_owned(),
        other => other.to_string(),
    }
}

/// Whether a protocol has ports.
fn has_ports(proto: u8) -> bool {
    matches!(proto, PROTO_TCP | PROTO_UDP | PROTO_SCTP)
}

/// A state file read and loaded, with its digest.
pub struct LoadedState {
    /// The path, as given.
    pub path: PathBuf,
    /// SHA-256 of its bytes.
    pub sha256: String,
    /// Its devices, sorted by id.
    pub devices: Vec<Device>,
    /// Packet time of the network's first packet.
    pub since: Option<Micros>,
}

/// Reads and loads a state file, refusing what `--state` refuses.
pub fn load_state(path: &Path) -> Result<LoadedState, PolicyError> {
    let bytes = state::read(path)?;
    let table = DeviceTable::new();
    let mut registry = Registry::new(HomeNets::default());
    let mut engine = Engine::new(EngineConfig::default());
    state::load_bytes(&bytes, &table, &mut registry, &mut engine).map_err(|problem| {
        StateError::Refused {
            path: path.to_owned(),
            problem,
        }
    })?;
    let mut devices = Vec::new();
    table.for_each_device(|d| devices.push(d.clone()));
    devices.sort_by_key(|d| d.key.to_string());
    let digest = ring::digest::digest(&ring::digest::SHA256, &bytes);
    let sha256 = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    Ok(LoadedState {
        path: path.to_owned(),
        sha256,
        devices,
        since: engine.network().since,
    })
}

/// The latest packet time a state records: its devices' first packets,
/// addresses, last side-door packets and finished learning windows.
fn latest_packet_time(devices: &[Device]) -> Option<Micros> {
    devices
        .iter()
        .flat_map(|d| {
            let until = (d.baseline.complete && d.baseline.until != Micros::MAX)
                .then_some(d.baseline.until);
            [
                Some(d.first_seen),
                Some(d.baseline.since),
                d.addresses.values().copied().max(),
                d.posture.as_ref().map(|p| p.latest),
                until,
            ]
        })
        .flatten()
        .max()
}

/// Whether a device's baseline is learned at packet time `now`.
fn learned(d: &Device, now: Option<Micros>) -> bool {
    d.baseline.complete || now.is_some_and(|now| d.baseline.until <= now)
}

/// Where a peer address lands in a policy.
enum Landing<'a> {
    Group(&'a str),
    Network(IpNet),
}

/// Makes the policy of a loaded state, grouping by `rules`.
pub fn build(state: &LoadedState, rules: &GroupRules) -> Policy {
    let now = latest_packet_time(&state.devices);
    // Each address's device: of several that held it (a DHCP lease passed
    // on), the one that took it last, so an address is in one group only.
    let mut holder: BTreeMap<IpAddr, (Micros, DeviceKey)> = BTreeMap::new();
    for d in &state.devices {
        for (ip, since) in &d.addresses {
            let entry = holder.entry(*ip).or_insert((*since, d.key));
            if *since > entry.0 {
                *entry = (*since, d.key);
            }
        }
    }
    let held = |d: &Device| -> Vec<IpAddr> {
        d.addresses
            .keys()
            .filter(|ip| holder.get(ip).is_some_and(|(_, key)| *key == d.key))
            .copied()
            .collect()
    };
    let device_at: BTreeMap<IpAddr, DeviceKey> =
        holder.iter().map(|(ip, (_, key))| (*ip, *key)).collect();
    // Each learned device's group.
    let mut group_of: BTreeMap<DeviceKey, (String, Vec<String>)> = BTreeMap::new();
    let mut learning = Vec::new();
    for d in &state.devices {
        if learned(d, now) {
            group_of.insert(d.key, rules.group_of(d));
        } else {
            learning.push(LearningDevice {
                id: d.key.to_string(),
                addresses: held(d),
                learning_until: Timestamp(d.baseline.until).to_rfc3339(),
            });
        }
    }
    let landing = |ip: IpAddr| -> Landing<'_> {
        if let Some(key) = device_at.get(&ip)
            && let Some((name, _)) = group_of.get(key)
        {
            return Landing::Group(name);
        }
        Landing::Network(rules.external_network(ip))
    };

    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    let mut allows: BTreeMap<String, BTreeSet<Allow>> = BTreeMap::new();
    let mut dicom_requests: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    // (service, proto, port) → servers, clients
    // (service, proto, port) → servers its clients named, clients, the
    // servers' own addresses (used only when no client named one: a
    // server with several addresses serves on one of them).
    type InfraEntry = (BTreeSet<IpAddr>, BTreeSet<String>, BTreeSet<IpAddr>);
    let mut infra: BTreeMap<(&'static str, u8, u16), InfraEntry> = BTreeMap::new();
    for d in &state.devices {
        let Some((name, because)) = group_of.get(&d.key) else {
            continue;
        };
        let group = groups.entry(name.clone()).or_insert_with(|| Group {
            name: name.clone(),
            members: Vec::new(),
            allow: Vec::new(),
            dicom_requests: Vec::new(),
        });
        dicom_requests.entry(name.clone()).or_default().extend(
            d.baseline
                .dicom
                .commands
                .values
                .iter()
                .map(|c| c.command.clone()),
        );
        group.members.push(Member {
            id: d.key.to_string(),
            mac: d.mac.as_ref().map(format_mac),
            addresses: held(d),
            because: because.clone(),
        });
        for peer in &d.baseline.peers.values {
            if DHCP_CLIENT_PORTS.contains(&(peer.proto, peer.port)) {
                continue;
            }
            let service = INFRASTRUCTURE
                .iter()
                .find(|(_, proto, port)| *proto == peer.proto && *port == peer.port);
            if let Some((service, proto, port)) = service {
                let entry = infra.entry((service, *proto, *port)).or_default();
                if peer.out {
                    entry.0.insert(peer.ip);
                    entry.1.insert(name.clone());
                } else {
                    // The server's side of the same service: its clients'
                    // groups, when they are learned devices.
                    entry.2.extend(d.addresses.keys().copied());
                    if let Landing::Group(client) = landing(peer.ip) {
                        entry.1.insert(client.to_owned());
                    }
                }
                continue;
            }
            let (peer_end, mirrored) = match landing(peer.ip) {
                Landing::Group(other) => (Peer::Group(other.to_owned()), Some(other.to_owned())),
                Landing::Network(net) => (Peer::Network(net), None),
            };
            let port = has_ports(peer.proto).then_some(peer.port);
            let protocol = protocol_name(peer.proto);
            let initiator = if peer.out {
                Initiator::Group
            } else {
                Initiator::Peer
            };
            // The same flow, seen from the peer group's side, so each
            // group lists everything it takes part in.
            if let Some(other) = mirrored {
                allows.entry(other).or_default().insert(Allow {
                    peer: Peer::Group(name.clone()),
                    protocol: protocol.clone(),
                    port,
                    initiator: match initiator {
                        Initiator::Group => Initiator::Peer,
                        Initiator::Peer => Initiator::Group,
                    },
                });
            }
            allows.entry(name.clone()).or_default().insert(Allow {
                peer: peer_end,
                protocol,
                port,
                initiator,
            });
        }
    }
    for (name, set) in allows {
        if let Some(group) = groups.get_mut(&name) {
            group.allow = set.into_iter().collect();
        }
    }
    for (name, set) in dicom_requests {
        if let Some(group) = groups.get_mut(&name) {
            group.dicom_requests = set.into_iter().collect();
        }
    }
    let infrastructure = infra
        .into_iter()
        .map(
            |((service, proto, port), (named, clients, own))| Infrastructure {
                service: service.to_owned(),
                protocol: protocol_name(proto),
                port,
                servers: if named.is_empty() { own } else { named }
                    .into_iter()
                    .collect(),
                clients: clients.into_iter().collect(),
            },
        )
        .collect();
    learning.sort_by(|a: &LearningDevice, b| a.id.cmp(&b.id));
    Policy {
        format: FORMAT.to_owned(),
        version: VERSION,
        learned_from: LearnedFrom {
            state: state.path.display().to_string(),
            sha256: state.sha256.clone(),
            since: state
                .since
                .or_else(|| state.devices.iter().map(|d| d.baseline.since).min())
                .map(|t| Timestamp(t).to_rfc3339()),
            until: now.map(|t| Timestamp(t).to_rfc3339()),
        },
        infrastructure,
        groups: groups.into_values().collect(),
        learning,
    }
}

/// Loads the state at `state_path`, the groups file at `groups_path` if
/// any, and makes their policy.
pub fn from_files(state_path: &Path, groups_path: Option<&Path>) -> Result<Policy, PolicyError> {
    let rules = match groups_path {
        Some(path) => GroupRules::load(path)?,
        None => GroupRules::default(),
    };
    let state = load_state(state_path)?;
    Ok(build(&state, &rules))
}

#[cfg(test)]
mod tests;
