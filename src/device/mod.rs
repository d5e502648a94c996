//! Devices: the local endpoints medtap inventories and, later, baselines.
//!
//! A device is an endpoint inside the hospital's own networks (the home
//! networks, RFC 1918 and IPv6 unique/link-local by default) that *sends*
//! something: addresses that only receive — scan targets, multicast groups —
//! are not devices. Where the sensor sees the device's own link layer, the
//! device is keyed by its MAC, so it keeps its identity across DHCP leases and
//! between IPv4 and IPv6. A MAC that sends on behalf of many addresses is a
//! router's: such a MAC is marked a gateway, and the addresses behind it
//! become devices keyed by IP (with their VLAN, since private ranges repeat
//! across VLANs).
//!
//! Deciding which key a packet's sender gets depends on what came before, so
//! the decisions are made by one [`Registry`] in the merge stage, in packet
//! order: the same capture gives the same devices for any number of workers.
//! The results live in a [`DeviceTable`] (`dashmap`: sharded locks) that the
//! workers, the inventory writer and later the baselines read and update
//! concurrently. Every set a device holds is bounded by a named limit.

pub mod kind;
pub mod oui;
pub mod posture;
pub mod risk;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher as _};
use std::net::IpAddr;

use dashmap::DashMap;
use ipnet::IpNet;
use serde::Serialize;

use crate::decode::Mac;
use crate::flow::Counts;
use crate::learned::Baseline;
use crate::time::{Micros, Timestamp};

/// Addresses one device's history keeps at most. A new address past it
/// replaces the one least recently active (DHCP lease churn and IPv6
/// privacy addresses keep coming; the ones in use stay).
pub const MAX_ADDRESSES_PER_DEVICE: usize = 32;
/// VLANs one device record keeps at most.
pub const MAX_VLANS_PER_DEVICE: usize = 8;
/// Distinct local IPv4 addresses a MAC may begin sending from within
/// [`GATEWAY_WINDOW`] before it is taken for a router's. Two covers a
/// device that changes its lease; more at once is routing.
pub const GATEWAY_MIN_IPV4_PER_MAC: usize = 3;
/// How close together (packet time) a MAC's new IPv4 addresses must appear
/// to count as sending for many: a router forwards for its hosts all the
/// time, while a device's DHCP leases change hours or days apart, and a
/// device that has had a dozen leases over months is still one device.
pub const GATEWAY_WINDOW: Micros = 3_600 * 1_000_000;
/// Devices the table holds at most when no memory budget sets it (see
/// [`DeviceLimits`]).
pub const MAX_DEVICES: usize = 200_000;
/// MACs the registry watches at most for sending for several IPv4
/// addresses (a router); past it, it forgets them all and starts again,
/// counted in `stats.device.gateway_candidates_forgotten`. About 150 bytes
/// each.
pub const MAX_GATEWAY_CANDIDATES: usize = 100_000;
/// Roles (`dicom_scu`, `hl7_sender`, `mqtt_client`, …) one device keeps at
/// most.
pub const MAX_ROLES_PER_DEVICE: usize = 16;
/// Distinct identity facts (`dicom.ae_title`, `mqtt.client_id`, …) one
/// device keeps at most.
pub const MAX_FACTS_PER_DEVICE: usize = 32;
/// Values one identity fact keeps at most (a device with many AE titles or
/// client ids keeps its first ones).
pub const MAX_VALUES_PER_FACT: usize = 8;
/// Home addresses a DNS answer named before any device sent from them,
/// kept (with at most [`MAX_VALUES_PER_FACT`] names each) until one does;
/// past it, they are all forgotten and counted in
/// `stats.device.pending_names_forgotten`.
pub const MAX_PENDING_NAMES: usize = 4_096;
/// The identity fact a DNS answer gives the device using an address.
pub const DNS_NAME_FACT: &str = "dns.name";
/// Images (SOP Instance UIDs of C-STORE data sets) remembered with the
/// device that received them, the latest this many: a device that sends an
/// image it received is a forwarder. 40 bytes each.
pub const MAX_RECEIVED_IMAGES: usize = 16_384;
/// Equipment identities a DICOM forwarder's record lists at most.
pub const MAX_RELAYED_EQUIPMENT: usize = 16;
/// The DICOM data-set equipment facts: what the modality that made the
/// images wrote into them.
pub const EQUIPMENT_FACTS: &[&str] = &[
    "dicom.modality",
    "dicom.manufacturer",
    "dicom.model",
    "dicom.station_name",
    "dicom.software_versions",
    "dicom.serial_number",
];
/// Of those, the ones that name one piece of equipment: two data sets from
/// one sender that differ in any of them came from two pieces.
const EQUIPMENT_IDENTITY_FACTS: &[&str] =
    &["dicom.manufacturer", "dicom.model", "dicom.serial_number"];
/// The role of a node that sends DICOM data sets made by other equipment
/// (a PACS, VNA or router forwarding images).
pub const FORWARDER_ROLE: &str = "dicom_forwarder";

/// Endpoint traffic records the table holds at most (peers included) when
/// no memory budget sets it.
pub const MAX_TRAFFIC_ENDPOINTS: usize = 1_000_000;

/// How much a device table holds (the memory budget's device share).
///
/// A table at its device limit makes room for a new device by evicting
/// transient devices — those no protocol has identified (no role, no
/// identity fact) and that are not routers — least recently active first
/// (by the latest traffic of their addresses), a tenth of the limit at a
/// time; a flood of random senders so costs its own devices, not the
/// identified ones. When every device is identified, new ones are refused.
/// Both are counted (`stats.device.evicted`, `stats.device.table_full`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceLimits {
    /// Devices at most.
    pub devices: usize,
    /// Endpoint traffic records at most; past it, new endpoints' traffic
    /// is not counted.
    pub traffic_entries: usize,
    /// MACs the registry watches for routing at most (see
    /// [`MAX_GATEWAY_CANDIDATES`]).
    pub gateway_candidates: usize,
}

impl Default for DeviceLimits {
    fn default() -> Self {
        DeviceLimits {
            devices: MAX_DEVICES,
            traffic_entries: MAX_TRAFFIC_ENDPOINTS,
            gateway_candidates: MAX_GATEWAY_CANDIDATES,
        }
    }
}

/// The home networks used when none are configured: RFC 1918, RFC 6598
/// shared space, IPv4 link-local and loopback, IPv6 ULA, link-local and
/// loopback.
pub const DEFAULT_HOME_NETS: &[&str] = &[
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "169.254.0.0/16",
    "127.0.0.0/8",
    "fc00::/7",
    "fe80::/10",
    "::1/128",
];

/// The networks whose senders are devices.
#[derive(Debug, Clone)]
pub struct HomeNets(Vec<IpNet>);

impl HomeNets {
    /// Parses CIDR strings such as `10.0.0.0/8`.
    pub fn parse<S: AsRef<str>>(nets: &[S]) -> Result<HomeNets, ipnet::AddrParseError> {
        nets.iter()
            .map(|n| n.as_ref().trim().parse::<IpNet>())
            .collect::<Result<Vec<_>, _>>()
            .map(HomeNets)
    }

    /// Whether `addr` is inside a home network.
    pub fn contains(&self, addr: &IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(addr))
    }
}

impl Default for HomeNets {
    fn default() -> Self {
        HomeNets::parse(DEFAULT_HOME_NETS).unwrap_or(HomeNets(Vec::new()))
    }
}

/// What a sender was seen as: its MAC where the link layer shows it, its
/// address, and its outer VLAN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EndpointKey {
    /// Source MAC, where the link layer carries one.
    pub mac: Option<Mac>,
    /// Source IP address.
    pub ip: IpAddr,
    /// Outer VLAN id, 0 where untagged.
    pub vlan: u16,
}

/// How a device is identified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeviceKey {
    /// By its own MAC.
    Mac(Mac),
    /// By address (and VLAN), where its MAC is not visible or is a router's.
    Ip(u16, IpAddr),
}

/// A MAC as lower-case colon-separated hex.
pub fn format_mac(mac: &Mac) -> String {
    mac_text(mac).as_str().to_owned()
}

/// A MAC as text, on the stack (device ids are written for every event).
struct MacText([u8; 17]);

impl MacText {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("00:00:00:00:00:00")
    }
}

fn mac_text(mac: &Mac) -> MacText {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = *b"00:00:00:00:00:00";
    for (i, byte) in mac.iter().enumerate() {
        if let Some([hi, lo]) = out.get_mut(i * 3..i * 3 + 2) {
            *hi = HEX.get(usize::from(byte >> 4)).copied().unwrap_or(b'0');
            *lo = HEX.get(usize::from(byte & 0x0f)).copied().unwrap_or(b'0');
        }
    }
    MacText(out)
}

/// Parses a MAC written as six colon-separated hex bytes.
pub fn parse_mac(text: &str) -> Option<Mac> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for byte in &mut mac {
        let part = parts.next()?;
        if part.len() != 2 {
            return None;
        }
        *byte = u8::from_str_radix(part, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

impl DeviceKey {
    /// Parses the form [`fmt::Display`] writes: `mac:…`, `ip:ADDR` or
    /// `ip:ADDR@vlanN`.
    pub fn parse(text: &str) -> Option<DeviceKey> {
        if let Some(mac) = text.strip_prefix("mac:") {
            return parse_mac(mac).map(DeviceKey::Mac);
        }
        let ip = text.strip_prefix("ip:")?;
        let (ip, vlan) = match ip.split_once("@vlan") {
            Some((ip, vlan)) => (ip, vlan.parse().ok().filter(|v| *v != 0)?),
            None => (ip, 0),
        };
        Some(DeviceKey::Ip(vlan, ip.parse().ok()?))
    }
}

impl fmt::Display for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceKey::Mac(mac) => {
                f.write_str("mac:")?;
                f.write_str(mac_text(mac).as_str())
            }
            DeviceKey::Ip(0, ip) => write!(f, "ip:{ip}"),
            DeviceKey::Ip(vlan, ip) => write!(f, "ip:{ip}@vlan{vlan}"),
        }
    }
}

/// One device, as the table keeps it.
#[derive(Debug, Clone)]
pub struct Device {
    /// Its key.
    pub key: DeviceKey,
    /// Its MAC, where known.
    pub mac: Option<Mac>,
    /// Vendor from the IEEE registry, by MAC prefix.
    pub vendor: Option<&'static str>,
    /// Addresses it sent from, each with the packet time it was first
    /// seen; at most [`MAX_ADDRESSES_PER_DEVICE`].
    pub addresses: BTreeMap<IpAddr, Micros>,
    /// VLANs it was seen on.
    pub vlans: BTreeSet<u16>,
    /// Packet time of its first packet.
    pub first_seen: Micros,
    /// Whether its MAC forwards traffic for other addresses.
    pub gateway: bool,
    /// What its protocols say it is: roles and identity facts.
    pub identity: Identity,
    /// What it normally does.
    pub baseline: Box<Baseline>,
    /// Equipment found in the DICOM data sets it forwards (see
    /// [`Registry::equipment`]), at most [`MAX_RELAYED_EQUIPMENT`].
    pub relayed: Vec<BTreeMap<&'static str, String>>,
    /// What its side-door traffic showed (OS, software, exposures), once
    /// something did.
    pub posture: Option<Box<posture::Posture>>,
}

/// What a device's own protocols say about it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// Roles, such as `dicom_scu` or `mqtt_client`.
    pub roles: BTreeSet<String>,
    /// Facts by dotted name (`dicom.ae_title`), each with its values.
    pub facts: BTreeMap<&'static str, BTreeSet<String>>,
}

impl Identity {
    /// Adds a fact; true if it was new. `role` facts are roles.
    pub fn learn(&mut self, name: &'static str, value: &str) -> bool {
        if value.is_empty() {
            return false;
        }
        if name == "role" {
            if self.roles.contains(value) || self.roles.len() >= MAX_ROLES_PER_DEVICE {
                return false;
            }
            return self.roles.insert(value.to_owned());
        }
        if !self.facts.contains_key(name) && self.facts.len() >= MAX_FACTS_PER_DEVICE {
            return false;
        }
        let values = self.facts.entry(name).or_default();
        if values.contains(value) || values.len() >= MAX_VALUES_PER_FACT {
            return false;
        }
        values.insert(value.to_owned())
    }

    /// The facts grouped by protocol: `dicom.ae_title` under `dicom`.
    fn grouped(&self) -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
        let mut out: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
        for (name, values) in &self.facts {
            let (protocol, field) = name.split_once('.').unwrap_or(("other", name));
            out.entry(protocol.to_owned())
                .or_default()
                .insert(field.to_owned(), values.iter().cloned().collect());
        }
        out
    }
}

/// A device as `device` events and the inventory show it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DeviceRecord {
    /// Stable identifier: `mac:…` or `ip:…[@vlanN]`.
    pub id: String,
    /// Whether the device is keyed by `mac` or by `ip`.
    pub identified_by: &'static str,
    /// MAC address, where known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// Vendor from the IEEE OUI registry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor: Option<&'static str>,
    /// Addresses the device sent from.
    pub ips: Vec<IpAddr>,
    /// The same addresses with when each was first and last active
    /// (inventory only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<AddressRecord>,
    /// VLANs the device was seen on.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vlans: Vec<u16>,
    /// Packet time of its first packet.
    pub first_seen: Timestamp,
    /// Whether its MAC forwards traffic for other addresses (a router).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub gateway: bool,
    /// What kind of device it is, how sure, and why.
    #[serde(rename = "type")]
    pub device_type: kind::DeviceType,
    /// Roles in the protocols it speaks (`dicom_scu`, `hl7_sender`, …).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Identity facts by protocol, from the device's own traffic.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub identity: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    /// For a DICOM forwarder: the equipment of the data sets it relays,
    /// each as `dicom` identity facts (`modality`, `manufacturer`, …);
    /// never its own identity.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub relayed_equipment: Vec<BTreeMap<String, String>>,
    /// The operating system its traffic reveals, with confidence, evidence
    /// and end of life.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os: Option<crate::fingerprint::os::Os>,
    /// Software its traffic names, with versions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub software: Vec<crate::fingerprint::os::SoftwareClue>,
    /// Insecure services it offers or uses.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exposures: Vec<posture::ExposureSeen>,
    /// Its risk score with the reasons (`docs/risk.md`).
    pub risk: risk::Risk,
    /// Traffic totals (inventory only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traffic: Option<TrafficRecord>,
}

/// One address of a device, in the inventory.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AddressRecord {
    /// The address.
    pub ip: IpAddr,
    /// Packet time the device first sent from it.
    pub first_seen: Timestamp,
    /// Packet time of the latest traffic to or from it (at least
    /// `first_seen`).
    pub last_seen: Timestamp,
}

/// Traffic a device sent and received, in the inventory.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct TrafficRecord {
    /// Packets sent.
    pub packets_sent: u64,
    /// Bytes sent.
    pub bytes_sent: u64,
    /// Packets received.
    pub packets_received: u64,
    /// Bytes received.
    pub bytes_received: u64,
    /// Packet time of its latest packet.
    pub last_seen: Timestamp,
}

impl Device {
    /// The device's risk (`docs/risk.md`), given its type and operating
    /// system. A DICOM, HL7 or MQTT role is a clinical protocol in the
    /// clear: medtap reads those only where they are not encrypted.
    pub fn risk(&self, device_type: &str, os: Option<&crate::fingerprint::os::Os>) -> risk::Risk {
        let mut exposures: Vec<risk::Exposure> = self
            .posture
            .iter()
            .flat_map(|p| p.exposures.iter().map(|e| e.kind))
            .collect();
        for (prefix, protocol) in [
            ("dicom_", risk::ClinicalProtocol::Dicom),
            ("hl7_", risk::ClinicalProtocol::Hl7),
            ("mqtt_", risk::ClinicalProtocol::Mqtt),
        ] {
            if self.identity.roles.iter().any(|r| r.starts_with(prefix)) {
                exposures.push(risk::Exposure::CleartextClinical { protocol });
            }
        }
        risk::assess(&risk::RiskInputs {
            os_end_of_life: os.and_then(|o| o.end_of_life.as_ref()),
            exposures: &exposures,
            external_peers: usize::from(self.baseline.external_peers),
            serves_external: false,
            clinical_role: Some(device_type),
        })
    }

    /// The record of this device.
    pub fn record(&self) -> DeviceRecord {
        let device_type = kind::classify(self);
        let os = self.posture.as_ref().and_then(|p| p.os());
        let risk = self.risk(device_type.name, os.as_ref());
        DeviceRecord {
            id: self.key.to_string(),
            identified_by: match self.key {
                DeviceKey::Mac(_) => "mac",
                DeviceKey::Ip(..) => "ip",
            },
            mac: self.mac.as_ref().map(format_mac),
            vendor: self.vendor,
            ips: self.addresses.keys().copied().collect(),
            addresses: Vec::new(),
            vlans: self.vlans.iter().copied().filter(|v| *v != 0).collect(),
            first_seen: Timestamp(self.first_seen),
            gateway: self.gateway,
            device_type,
            roles: self.identity.roles.iter().cloned().collect(),
            identity: self.identity.grouped(),
            relayed_equipment: self
                .relayed
                .iter()
                .map(|equipment| {
                    equipment
                        .iter()
                        .map(|(name, value)| {
                            (name.trim_start_matches("dicom.").to_owned(), value.clone())
                        })
                        .collect()
                })
                .collect(),
            os,
            software: self
                .posture
                .as_ref()
                .map(|p| p.software.clone())
                .unwrap_or_default(),
            exposures: self
                .posture
                .as_ref()
                .map(|p| p.exposures.clone())
                .unwrap_or_default(),
            risk,
            traffic: None,
        }
    }
}

/// Device counters in `stats` events.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct DeviceStats {
    /// Devices known.
    pub total: u64,
    /// Devices keyed by MAC.
    pub by_mac: u64,
    /// Devices keyed by IP.
    pub by_ip: u64,
    /// MACs found to be routers'.
    pub gateways: u64,
    /// Devices not recorded because the table was full of identified
    /// devices.
    pub table_full: u64,
    /// Transient devices evicted to make room (see [`DeviceLimits`]).
    pub evicted: u64,
    /// Times the router candidates (MACs seen sending for an address or
    /// two) were forgotten because [`MAX_GATEWAY_CANDIDATES`] was reached:
    /// a flood of random MACs costs bounded memory, and a router is found
    /// again after it.
    pub gateway_candidates_forgotten: u64,
    /// Times the DNS names waiting for their address's first sender were
    /// forgotten because [`MAX_PENDING_NAMES`] addresses were waiting.
    pub pending_names_forgotten: u64,
    /// Devices by risk level (`low`, `medium`, `high`, `critical`).
    pub risk: BTreeMap<&'static str, u64>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Traffic {
    sent: Counts,
    received: Counts,
    last_seen: Micros,
}

/// Keys come from the sensor's own decoding and the maps are never exposed
/// to a peer's choice of keys in bulk beyond the table limits, so a fast
/// hash (randomly seeded per process) serves better than SipHash.
type Hasher = foldhash::fast::RandomState;

/// The shared device table.
#[derive(Default)]
pub struct DeviceTable {
    devices: DashMap<DeviceKey, Device, Hasher>,
    bindings: DashMap<EndpointKey, DeviceKey, Hasher>,
    /// The device first bound to each address, to name alert peers.
    by_ip: DashMap<IpAddr, DeviceKey, Hasher>,
    traffic: DashMap<EndpointKey, Traffic, Hasher>,
    limits: DeviceLimits,
}

impl DeviceTable {
    /// An empty table with the default limits.
    pub fn new() -> DeviceTable {
        DeviceTable::default()
    }

    /// An empty table holding at most `limits`.
    pub fn with_limits(limits: DeviceLimits) -> DeviceTable {
        DeviceTable {
            limits,
            ..DeviceTable::default()
        }
    }

    /// Evicts up to a tenth of the device limit of transient devices, least
    /// recently active first (see [`DeviceLimits`]), with their bindings
    /// and traffic records. Returns how many went.
    fn evict_transient(&self) -> u64 {
        let mut last: HashMap<DeviceKey, Micros> = self
            .devices
            .iter()
            .filter(|d| !d.gateway && d.identity.roles.is_empty() && d.identity.facts.is_empty())
            .map(|d| (d.key, d.first_seen))
            .collect();
        if last.is_empty() {
            return 0;
        }
        for binding in self.bindings.iter() {
            if let Some(active) = last.get_mut(binding.value())
                && let Some(traffic) = self.traffic.get(binding.key())
            {
                *active = (*active).max(traffic.last_seen);
            }
        }
        let mut order: Vec<(Micros, DeviceKey)> = last.into_iter().map(|(k, t)| (t, k)).collect();
        let count = (self.limits.devices / 10).clamp(1, order.len());
        if count < order.len() {
            order.select_nth_unstable(count - 1);
            order.truncate(count);
        }
        let gone: HashSet<DeviceKey> = order.into_iter().map(|(_, key)| key).collect();
        for key in &gone {
            self.devices.remove(key);
        }
        self.bindings.retain(|endpoint, key| {
            if gone.contains(key) {
                self.traffic.remove(endpoint);
                return false;
            }
            true
        });
        self.by_ip.retain(|_, key| !gone.contains(key));
        // Removed entries leave tombstones that would make the tables grow
        // under churn; rehashing drops them.
        self.devices.shrink_to_fit();
        self.bindings.shrink_to_fit();
        self.by_ip.shrink_to_fit();
        self.traffic.shrink_to_fit();
        gone.len() as u64
    }

    /// Drops from `device`'s history the address with the oldest latest
    /// traffic (by its endpoints' traffic records; first seen where it has
    /// none). Its binding stays, so its traffic still counts for the device.
    fn forget_idlest_address(&self, device: &mut Device) {
        let mac = device.mac;
        let last_active = |ip: IpAddr, first: Micros| {
            device
                .vlans
                .iter()
                .filter_map(|&vlan| {
                    let endpoint = EndpointKey { mac, vlan, ip };
                    self.traffic.get(&endpoint).map(|t| t.last_seen)
                })
                .fold(first, Micros::max)
        };
        let idlest = device
            .addresses
            .iter()
            .map(|(ip, first)| (last_active(*ip, *first), *ip))
            .min();
        if let Some((_, ip)) = idlest {
            device.addresses.remove(&ip);
        }
    }

    /// Devices known.
    pub fn len(&self) -> usize {
        self.devices.len()
    }

    /// Whether no device is known.
    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }

    /// The device an endpoint is bound to.
    pub fn device_of(&self, endpoint: &EndpointKey) -> Option<DeviceKey> {
        self.bindings.get(endpoint).map(|k| *k)
    }

    /// The device first seen sending from `ip`.
    pub fn device_at(&self, ip: IpAddr) -> Option<DeviceKey> {
        self.by_ip.get(&ip).map(|k| *k)
    }

    /// Runs `f` on a device, holding its shard's lock for the duration.
    pub fn with_device<R>(&self, key: &DeviceKey, f: impl FnOnce(&mut Device) -> R) -> Option<R> {
        self.devices.get_mut(key).map(|mut d| f(&mut d))
    }

    /// Every endpoint binding.
    pub fn bindings(&self) -> Vec<(EndpointKey, DeviceKey)> {
        self.bindings
            .iter()
            .map(|b| (*b.key(), *b.value()))
            .collect()
    }

    /// Puts back a device read from a state file.
    pub fn restore_device(&self, device: Device) {
        for ip in device.addresses.keys() {
            self.by_ip.entry(*ip).or_insert(device.key);
        }
        self.devices.insert(device.key, device);
    }

    /// Puts back an endpoint binding read from a state file.
    pub fn restore_binding(&self, endpoint: EndpointKey, key: DeviceKey) {
        self.bindings.insert(endpoint, key);
    }

    /// Runs `f` on every device.
    pub fn for_each_device(&self, mut f: impl FnMut(&Device)) {
        self.devices.iter().for_each(|d| f(&d));
    }

    /// Runs `f` on every device, mutably.
    pub fn for_each_device_mut(&self, mut f: impl FnMut(&mut Device)) {
        self.devices.iter_mut().for_each(|mut d| f(&mut d));
    }

    /// Credits traffic between two endpoints (from a worker, once per flow
    /// and sweep, never per packet). The order of calls does not matter.
    pub fn credit(&self, from: EndpointKey, to: EndpointKey, counts: Counts, last_seen: Micros) {
        if counts.packets == 0 {
            return;
        }
        let add = |traffic: &mut Traffic, sent: bool| {
            let side = if sent {
                &mut traffic.sent
            } else {
                &mut traffic.received
            };
            side.packets += counts.packets;
            side.bytes += counts.bytes;
            traffic.last_seen = traffic.last_seen.max(last_seen);
        };
        for (endpoint, sent) in [(from, true), (to, false)] {
            // One lookup for an endpoint already known, the common case.
            if let Some(mut known) = self.traffic.get_mut(&endpoint) {
                add(&mut known, sent);
            } else if self.traffic.len() < self.limits.traffic_entries {
                add(&mut self.traffic.entry(endpoint).or_default(), sent);
            }
        }
    }

    /// Every device with its traffic totals, sorted by id.
    pub fn inventory(&self) -> Vec<DeviceRecord> {
        let mut totals: HashMap<DeviceKey, TrafficRecord> = HashMap::new();
        let mut address_last: HashMap<(DeviceKey, IpAddr), Micros> = HashMap::new();
        for item in self.traffic.iter() {
            let Some(key) = self.bindings.get(item.key()).map(|k| *k) else {
                continue;
            };
            let t = totals.entry(key).or_default();
            let traffic = item.value();
            let last = address_last.entry((key, item.key().ip)).or_default();
            *last = (*last).max(traffic.last_seen);
            t.packets_sent += traffic.sent.packets;
            t.bytes_sent += traffic.sent.bytes;
            t.packets_received += traffic.received.packets;
            t.bytes_received += traffic.received.bytes;
            t.last_seen = t.last_seen.max(Timestamp(traffic.last_seen));
        }
        let mut records: Vec<(DeviceKey, DeviceRecord)> = self
            .devices
            .iter()
            .map(|d| {
                let mut record = d.record();
                record.addresses = d
                    .addresses
                    .iter()
                    .map(|(ip, first)| {
                        let last = address_last.get(&(d.key, *ip)).copied().unwrap_or(0);
                        AddressRecord {
                            ip: *ip,
                            first_seen: Timestamp(*first),
                            last_seen: Timestamp(last.max(*first)),
                        }
                    })
                    .collect();
                let mut traffic = totals.remove(d.key()).unwrap_or_default();
                traffic.last_seen = traffic.last_seen.max(record.first_seen);
                record.traffic = Some(traffic);
                (*d.key(), record)
            })
            .collect();
        records.sort_by_key(|a| a.0);
        records.into_iter().map(|(_, r)| r).collect()
    }

    /// Device counters.
    pub fn stats(&self) -> DeviceStats {
        let mut stats = DeviceStats::default();
        for d in self.devices.iter() {
            stats.total += 1;
            match d.key {
                DeviceKey::Mac(_) => stats.by_mac += 1,
                DeviceKey::Ip(..) => stats.by_ip += 1,
            }
            if d.gateway {
                stats.gateways += 1;
            }
            // Without side-door evidence, clinical roles or outside peers
            // nothing scores: no need to classify.
            let plain = d.posture.is_none()
                && !d.baseline.external_peers
                && !d.identity.roles.iter().any(|r| {
                    r.starts_with("dicom_") || r.starts_with("hl7_") || r.starts_with("mqtt_")
                });
            let level = if plain {
                risk::RiskLevel::Low
            } else {
                let os = d.posture.as_ref().and_then(|p| p.os());
                d.risk(kind::classify(&d).name, os.as_ref()).level
            };
            *stats.risk.entry(level.as_str()).or_default() += 1;
        }
        stats
    }
}

/// Makes the device decisions, in packet order, for the merge stage.
pub struct Registry {
    home: HomeNets,
    gateways: HashSet<Mac>,
    /// New IPv4 addresses per MAC, each with when it was first seen,
    /// within [`GATEWAY_WINDOW`] of the latest.
    ipv4_per_mac: HashMap<Mac, Vec<(IpAddr, Micros)>>,
    /// Names DNS answers gave home addresses no device has sent from yet.
    pending_names: HashMap<IpAddr, Vec<String>>,
    /// Who received each of the latest images (by a hash of its SOP
    /// Instance UID), and their order, oldest first.
    received_images: HashMap<u64, DeviceKey>,
    received_order: VecDeque<u64>,
    table_full: u64,
    evicted: u64,
    candidates_forgotten: u64,
    pending_names_forgotten: u64,
}

/// Whose equipment a data set's facts are (see [`Registry::equipment`]).
#[derive(Debug, PartialEq, Eq)]
pub enum Equipment {
    /// The sender's own: learn and judge them as its identity.
    Own,
    /// Relayed by a forwarder: with its record when that changed.
    Relayed(Option<Box<DeviceRecord>>),
}

/// What [`Registry::observe`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Sighting {
    /// A device seen for the first time: its record.
    New(Box<DeviceRecord>),
    /// A known device, or a sender that is not a device.
    Known,
}

impl Registry {
    /// A registry for the given home networks.
    pub fn new(home: HomeNets) -> Registry {
        Registry {
            home,
            gateways: HashSet::new(),
            ipv4_per_mac: HashMap::new(),
            pending_names: HashMap::new(),
            received_images: HashMap::new(),
            received_order: VecDeque::new(),
            table_full: 0,
            evicted: 0,
            candidates_forgotten: 0,
            pending_names_forgotten: 0,
        }
    }

    /// MACs found to be routers'.
    pub fn gateways(&self) -> impl Iterator<Item = Mac> + '_ {
        self.gateways.iter().copied()
    }

    /// Puts back a router's MAC read from a state file.
    pub fn restore_gateway(&mut self, mac: Mac) {
        self.gateways.insert(mac);
    }

    /// Devices not recorded because the table was full.
    pub fn table_full(&self) -> u64 {
        self.table_full
    }

    /// Transient devices evicted to make room.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Times the router candidates were forgotten (see
    /// [`MAX_GATEWAY_CANDIDATES`]).
    pub fn gateway_candidates_forgotten(&self) -> u64 {
        self.candidates_forgotten
    }

    /// Times the names waiting for their address's device were forgotten
    /// (see [`MAX_PENDING_NAMES`]).
    pub fn pending_names_forgotten(&self) -> u64 {
        self.pending_names_forgotten
    }

    /// Gives `name`, from a DNS answer, to the device using `ip` as its
    /// [`DNS_NAME_FACT`]; returns the device's record when it is new to it.
    /// A home address no device has sent from yet keeps the name until one
    /// does.
    pub fn named(
        &mut self,
        table: &DeviceTable,
        ip: IpAddr,
        name: &str,
    ) -> Option<Box<DeviceRecord>> {
        if let Some(key) = table.device_at(ip) {
            let mut device = table.devices.get_mut(&key)?;
            return device
                .identity
                .learn(DNS_NAME_FACT, name)
                .then(|| Box::new(device.record()));
        }
        if !self.home.contains(&ip) || ip.is_multicast() || is_broadcast(&ip) {
            return None;
        }
        if !self.pending_names.contains_key(&ip) && self.pending_names.len() >= MAX_PENDING_NAMES {
            self.pending_names.clear();
            self.pending_names_forgotten += 1;
        }
        let names = self.pending_names.entry(ip).or_default();
        if names.len() < MAX_VALUES_PER_FACT && !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
        None
    }

    /// Records that `endpoint` sent a packet at `ts`.
    pub fn observe(&mut self, table: &DeviceTable, endpoint: EndpointKey, ts: Micros) -> Sighting {
        // A binding, once made, stays: addresses first seen behind a MAC
        // before it turned out to be a gateway's remain with that MAC.
        if table.bindings.contains_key(&endpoint) {
            return Sighting::Known;
        }
        let ip = endpoint.ip;
        // A multicast or broadcast source is no station's. An address a
        // station uses only for itself — unspecified (a DHCP client before
        // its lease, IPv6 duplicate address detection) or link-local —
        // never comes through a router: it says nothing of routing and is
        // the sender's own, whatever the home networks.
        if ip.is_multicast() || is_broadcast(&ip) {
            return Sighting::Known;
        }
        let own_only = ip.is_unspecified() || is_link_local(&ip);
        let local = own_only || self.home.contains(&ip);
        if let Some(mac) = endpoint.mac
            && is_unicast(&mac)
            && !own_only
            && (!local || self.sends_for_many(&mac, ip, ts, table.limits.gateway_candidates))
        {
            self.mark_gateway(table, mac);
        }
        if !local {
            return Sighting::Known;
        }
        let key = match endpoint.mac {
            // A router's own link-local address (its router advertisements)
            // is the router's, not a host behind it.
            Some(mac) if is_unicast(&mac) && (own_only || !self.gateways.contains(&mac)) => {
                DeviceKey::Mac(mac)
            }
            // Without its own MAC, an unspecified source names nobody.
            _ if ip.is_unspecified() => return Sighting::Known,
            _ => DeviceKey::Ip(endpoint.vlan, ip),
        };
        let mut new_record = None;
        if !table.devices.contains_key(&key) && table.devices.len() >= table.limits.devices {
            let evicted = table.evict_transient();
            self.evicted += evicted;
            if evicted == 0 {
                self.table_full += 1;
                return Sighting::Known;
            }
        }
        table
            .devices
            .entry(key)
            .and_modify(|d| {
                if !ip.is_unspecified() && !d.addresses.contains_key(&ip) {
                    if d.addresses.len() >= MAX_ADDRESSES_PER_DEVICE {
                        table.forget_idlest_address(d);
                    }
                    d.addresses.insert(ip, ts);
                }
                if d.vlans.len() < MAX_VLANS_PER_DEVICE {
                    d.vlans.insert(endpoint.vlan);
                }
            })
            .or_insert_with(|| {
                let mac = match key {
                    DeviceKey::Mac(mac) => Some(mac),
                    DeviceKey::Ip(..) => None,
                };
                let device = Device {
                    key,
                    mac,
                    vendor: mac.and_then(oui::vendor),
                    addresses: BTreeMap::from_iter((!ip.is_unspecified()).then_some((ip, ts))),
                    vlans: BTreeSet::from([endpoint.vlan]),
                    first_seen: ts,
                    gateway: false,
                    identity: Identity::default(),
                    baseline: Box::default(),
                    relayed: Vec::new(),
                    posture: None,
                };
                new_record = Some(device.record());
                device
            });
        table.bindings.insert(endpoint, key);
        if !ip.is_unspecified() {
            table.by_ip.entry(ip).or_insert(key);
        }
        if let Some(names) = self.pending_names.remove(&ip)
            && let Some(mut device) = table.devices.get_mut(&key)
        {
            for name in &names {
                device.identity.learn(DNS_NAME_FACT, name);
            }
            if new_record.is_some() {
                new_record = Some(device.record());
            }
        }
        match new_record {
            Some(record) => Sighting::New(Box::new(record)),
            None => Sighting::Known,
        }
    }

    /// Adds identity facts to the device `endpoint` is bound to. Returns the
    /// device's record when it learned something new.
    pub fn identify<'f>(
        &mut self,
        table: &DeviceTable,
        endpoint: EndpointKey,
        facts: impl IntoIterator<Item = (&'static str, &'f str)>,
    ) -> Option<Box<DeviceRecord>> {
        let key = *table.bindings.get(&endpoint)?;
        let mut device = table.devices.get_mut(&key)?;
        let mut changed = false;
        for (name, value) in facts {
            changed |= device.identity.learn(name, value);
        }
        changed.then(|| Box::new(device.record()))
    }

    /// Decides whose DICOM equipment `facts` (one data set's, `image` its
    /// SOP Instance UID, sent by `endpoint` to `receiver`) are. A sender
    /// that sends an image it received earlier, or whose data sets carry a
    /// second piece of equipment (another manufacturer, model or serial
    /// number), forwards images it did not make: it takes the role
    /// [`FORWARDER_ROLE`], the equipment facts it was credited with move to
    /// its relayed equipment, and so do all it sends after. Returns
    /// [`Equipment::Relayed`] with the device's record when the facts were
    /// relayed (its record changed or not), [`Equipment::Own`] when they
    /// are the sender's own, to be learned and judged as identity.
    pub fn equipment(
        &mut self,
        table: &DeviceTable,
        [endpoint, receiver]: [EndpointKey; 2],
        image: Option<&str>,
        facts: &[(&'static str, &str)],
    ) -> Equipment {
        let image = image.filter(|uid| !uid.is_empty()).map(image_key);
        let key = table.bindings.get(&endpoint).map(|k| *k);
        let sends_what_it_received = image
            .zip(key)
            .is_some_and(|(image, key)| self.received_images.get(&image) == Some(&key));
        if let Some(image) = image
            && let Some(receiver) = table.device_of(&receiver)
        {
            self.remember_received(image, receiver);
        }
        let Some(key) = key else {
            return Equipment::Own;
        };
        let Some(mut device) = table.devices.get_mut(&key) else {
            return Equipment::Own;
        };
        let forwarder = device.identity.roles.contains(FORWARDER_ROLE);
        let another = !forwarder
            && (sends_what_it_received
                || facts.iter().any(|(name, value)| {
                    EQUIPMENT_IDENTITY_FACTS.contains(name)
                        && device
                            .identity
                            .facts
                            .get(name)
                            .is_some_and(|known| !known.is_empty() && !known.contains(*value))
                }));
        if !forwarder && !another {
            return Equipment::Own;
        }
        let mut changed = false;
        if another {
            // What it was credited with was relayed too.
            let credited: BTreeMap<&'static str, String> = EQUIPMENT_FACTS
                .iter()
                .filter_map(|name| {
                    let values = device.identity.facts.remove(name)?;
                    let value = values.into_iter().collect::<Vec<_>>().join(", ");
                    Some((*name, value))
                })
                .collect();
            if !credited.is_empty() {
                device.relayed.push(credited);
            }
            device.identity.learn("role", FORWARDER_ROLE);
            changed = true;
        }
        let relayed: BTreeMap<&'static str, String> = facts
            .iter()
            .filter(|(name, value)| EQUIPMENT_FACTS.contains(name) && !value.is_empty())
            .map(|(name, value)| (*name, (*value).to_owned()))
            .collect();
        if !relayed.is_empty()
            && !device.relayed.contains(&relayed)
            && device.relayed.len() < MAX_RELAYED_EQUIPMENT
        {
            device.relayed.push(relayed);
            changed = true;
        }
        Equipment::Relayed(changed.then(|| Box::new(device.record())))
    }

    /// Remembers that `receiver` received `image`, forgetting the oldest
    /// past [`MAX_RECEIVED_IMAGES`].
    fn remember_received(&mut self, image: u64, receiver: DeviceKey) {
        if self.received_images.insert(image, receiver).is_none() {
            self.received_order.push_back(image);
            if self.received_order.len() > MAX_RECEIVED_IMAGES
                && let Some(oldest) = self.received_order.pop_front()
            {
                self.received_images.remove(&oldest);
            }
        }
    }

    /// Adds what a connection's opening or a SYN showed about the device
    /// `endpoint` is bound to; returns its record and what changed when
    /// something did.
    pub fn found(
        &mut self,
        table: &DeviceTable,
        endpoint: EndpointKey,
        finding: &crate::proto::handshake::Finding,
        seen: posture::Seen,
    ) -> Option<(Box<DeviceRecord>, posture::Change)> {
        let key = *table.bindings.get(&endpoint)?;
        let mut device = table.devices.get_mut(&key)?;
        let verdict = |os: Option<&crate::fingerprint::os::Os>| {
            os.map(|os| {
                (
                    os.family,
                    os.version.clone(),
                    os.build,
                    os.confidence,
                    os.end_of_life.as_ref().map(|eol| eol.past),
                )
            })
        };
        let before = verdict(device.posture.as_ref().and_then(|p| p.os()).as_ref());
        let mut change = device
            .posture
            .get_or_insert_with(Box::default)
            .add(finding, seen);
        if !change.changed {
            return None;
        }
        let record = device.record();
        let after = verdict(record.os.as_ref());
        change.announce |= after != before
            && record
                .os
                .as_ref()
                .is_some_and(|os| os.confidence >= crate::fingerprint::os::Confidence::Medium);
        if let (Some(os), Some(posture)) = (&record.os, device.posture.as_mut())
            && os.end_of_life.as_ref().is_some_and(|eol| eol.past)
            && !posture.outdated_told
        {
            posture.outdated_told = true;
            change.outdated = Some(os.clone());
        }
        Some((Box::new(record), change))
    }

    /// Counts `ip`, first seen at `ts`, against `mac`; true once the MAC
    /// sends for too many within [`GATEWAY_WINDOW`].
    fn sends_for_many(&mut self, mac: &Mac, ip: IpAddr, ts: Micros, candidates: usize) -> bool {
        if self.gateways.contains(mac) {
            return true;
        }
        if !ip.is_ipv4() || ip.is_unspecified() {
            return false;
        }
        if !self.ipv4_per_mac.contains_key(mac) && self.ipv4_per_mac.len() >= candidates {
            // A flood of random MACs: forget them all rather than grow.
            self.ipv4_per_mac.clear();
            self.candidates_forgotten += 1;
        }
        let seen = self.ipv4_per_mac.entry(*mac).or_default();
        seen.retain(|(_, first)| ts.saturating_sub(*first) < GATEWAY_WINDOW);
        if !seen.iter().any(|(known, _)| *known == ip) {
            seen.push((ip, ts));
        }
        seen.len() >= GATEWAY_MIN_IPV4_PER_MAC
    }

    fn mark_gateway(&mut self, table: &DeviceTable, mac: Mac) {
        if self.gateways.insert(mac) {
            self.ipv4_per_mac.remove(&mac);
            if let Some(mut device) = table.devices.get_mut(&DeviceKey::Mac(mac)) {
                device.gateway = true;
            }
        }
    }
}

/// An image's key: a hash of its SOP Instance UID (fixed keys, so the
/// same in every run).
fn image_key(uid: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    uid.trim_end_matches(['\0', ' ']).hash(&mut hasher);
    hasher.finish()
}

/// Whether a MAC names one station (not multicast or broadcast, not zero).
fn is_unicast(mac: &Mac) -> bool {
    mac[0] & 0x01 == 0 && *mac != [0; 6]
}

/// The IPv4 limited broadcast address.
fn is_broadcast(ip: &IpAddr) -> bool {
    matches!(ip, IpAddr::V4(v4) if v4.is_broadcast())
}

/// IPv4 169.254.0.0/16 or IPv6 fe80::/10: addresses no router forwards.
fn is_link_local(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => v6.is_unicast_link_local(),
    }
}

#[cfg(test)]
mod tests;
