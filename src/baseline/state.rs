//! The state file (`--state FILE`): identities and baselines, saved at exit
//! and periodically live, loaded at start.
//!
//! It is JSON with a format name and version. It is written atomically: a
//! temporary file with a random name beside it, fsynced, renamed over it, the
//! directory fsynced; a crash leaves the old file or the new one, never half
//! of one. Only a regular file is read or replaced: a symbolic link, a FIFO
//! or a device at the path is refused, and so is a file larger than
//! [`MAX_STATE_BYTES`], before a byte is read. A file that
//! cannot be read, is damaged, truncated, of another format or version, is
//! refused with an error naming the file and the problem, and is left as it
//! is: medtap does not start rather than replace a baseline an analyst may
//! need.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::Baseline;
use super::engine::{Engine, NetworkLearning, PairEnd};
use crate::alert::Kind;
use crate::device::posture::{self, ExposureSeen, Posture};
use crate::device::{Device, DeviceKey, DeviceTable, EndpointKey, Identity, Registry, format_mac};
use crate::time::{Micros, Timestamp};

/// The `format` field of a state file.
pub const FORMAT: &str = "medtap-state";
/// The version this build writes and reads.
pub const VERSION: u32 = 1;
/// Distinct identity-fact names a state file may introduce, at most.
pub const MAX_FACT_NAMES: usize = 256;
/// Largest state file read, in bytes.
pub const MAX_STATE_BYTES: u64 = 4 << 30;

/// Why a state file was refused or could not be written.
#[derive(Debug, Error)]
pub enum StateError {
    /// The file could not be read.
    #[error("state file {path}: cannot read it: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The file is not a medtap state file, or is damaged.
    #[error("state file {path}: refused, left untouched: {problem}")]
    Refused {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// The file could not be written.
    #[error("state file {path}: cannot write it: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

#[derive(Serialize, Deserialize)]
struct StoredEndpoint {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mac: Option<String>,
    ip: IpAddr,
    #[serde(default)]
    vlan: u16,
}

#[derive(Serialize, Deserialize)]
struct StoredDevice {
    id: String,
    addresses: StoredAddresses,
    vlans: BTreeSet<u16>,
    first_seen: Micros,
    #[serde(default)]
    gateway: bool,
    #[serde(default)]
    roles: BTreeSet<String>,
    #[serde(default)]
    facts: BTreeMap<String, BTreeSet<String>>,
    baseline: Baseline,
    /// What its side-door traffic showed, so a later run neither repeats
    /// its alerts nor announces it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    posture: Option<StoredPosture>,
}

#[derive(Serialize, Deserialize)]
struct StoredPosture {
    #[serde(default)]
    clues: Vec<crate::fingerprint::os::OsClue>,
    #[serde(default)]
    software: Vec<crate::fingerprint::os::SoftwareClue>,
    #[serde(default)]
    exposures: Vec<StoredExposure>,
    #[serde(default)]
    tls_clients: Vec<(String, Option<String>)>,
    latest: Micros,
    #[serde(default)]
    outdated_told: bool,
}

#[derive(Serialize, Deserialize)]
struct StoredExposure {
    kind: crate::proto::exposure::Exposure,
    service: String,
    port: u16,
    role: String,
    detail: String,
    #[serde(default, rename = "user_name", skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    first_seen: Micros,
}

/// The services an exposure may name, to give a stored one its static name
/// back.
const EXPOSURE_SERVICES: &[&str] = &[
    "tls", "smb", "http", "ssh", "ftp", "telnet", "rdp", "vnc", "snmp", "tftp",
];

fn store_posture(p: &Posture) -> StoredPosture {
    StoredPosture {
        clues: p.clues.clone(),
        software: p.software.clone(),
        exposures: p
            .exposures
            .iter()
            .map(|e| StoredExposure {
                kind: e.kind,
                service: e.service.to_owned(),
                port: e.port,
                role: e.role.to_owned(),
                detail: e.detail.clone(),
                user: e.user.clone(),
                first_seen: e.first_seen.0,
            })
            .collect(),
        tls_clients: p.tls_clients.clone(),
        latest: p.latest,
        outdated_told: p.outdated_told,
    }
}

fn restore_posture(stored: StoredPosture) -> Result<Posture, String> {
    let mut exposures = Vec::new();
    for e in stored.exposures.into_iter().take(posture::MAX_EXPOSURES) {
        let service = EXPOSURE_SERVICES
            .iter()
            .find(|s| **s == e.service)
            .ok_or_else(|| format!("exposure of unknown service {:?}", e.service))?;
        let role = match e.role.as_str() {
            "server" => "server",
            "client" => "client",
            other => return Err(format!("exposure of unknown role {other:?}")),
        };
        exposures.push(ExposureSeen {
            kind: e.kind,
            exposure: e.kind.name(),
            service,
            port: e.port,
            role,
            detail: e.detail,
            user: e.user,
            first_seen: Timestamp(e.first_seen),
        });
    }
    let mut clues = stored.clues;
    clues.truncate(posture::MAX_OS_CLUES);
    let mut software = stored.software;
    software.truncate(posture::MAX_SOFTWARE);
    let mut tls_clients = stored.tls_clients;
    tls_clients.truncate(posture::MAX_TLS_CLIENTS);
    Ok(Posture::restore(
        clues,
        software,
        exposures,
        tls_clients,
        stored.latest,
        stored.outdated_told,
    ))
}

/// A device's addresses: each with when it was first seen; a plain list
/// (earlier files) is read as first seen with the device.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum StoredAddresses {
    Seen(BTreeMap<IpAddr, Micros>),
    Plain(BTreeSet<IpAddr>),
}

#[derive(Serialize, Deserialize)]
struct StateFile {
    format: String,
    version: u32,
    network: NetworkLearning,
    devices: Vec<StoredDevice>,
    bindings: Vec<(StoredEndpoint, String)>,
    #[serde(default)]
    gateways: Vec<String>,
    #[serde(default)]
    mqtt_client_ids: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    cleartext_pairs: BTreeSet<(String, String, String)>,
    /// Open suppression windows: kind, device, subject, packet time opened.
    #[serde(default)]
    suppression: Vec<(String, String, String, Micros)>,
}

/// Writes the state of `table`, `registry` and `engine` to `path`,
/// atomically.
pub fn save(
    path: &Path,
    table: &DeviceTable,
    registry: &Registry,
    engine: &Engine,
) -> Result<(), StateError> {
    let mut devices = Vec::new();
    table.for_each_device(|d| devices.push(store_device(d)));
    devices.sort_by(|a, b| a.id.cmp(&b.id));
    let mut bindings: Vec<(StoredEndpoint, String)> = table
        .bindings()
        .into_iter()
        .map(|(e, k)| {
            (
                StoredEndpoint {
                    mac: e.mac.as_ref().map(format_mac),
                    ip: e.ip,
                    vlan: e.vlan,
                },
                k.to_string(),
            )
        })
        .collect();
    bindings.sort_by(|a, b| (&a.1, a.0.ip, a.0.vlan).cmp(&(&b.1, b.0.ip, b.0.vlan)));
    let mut gateways: Vec<String> = registry.gateways().map(|m| format_mac(&m)).collect();
    gateways.sort();
    let state = StateFile {
        format: FORMAT.to_owned(),
        version: VERSION,
        network: engine.network,
        devices,
        bindings,
        gateways,
        mqtt_client_ids: engine
            .client_id_owners
            .iter()
            .map(|(id, keys)| (id.clone(), keys.iter().map(|k| k.to_string()).collect()))
            .collect(),
        cleartext_pairs: engine
            .cleartext_pairs
            .iter()
            .map(|(key, peer, protocol)| {
                (key.to_string(), peer.to_string(), (*protocol).to_owned())
            })
            .collect(),
        suppression: engine
            .suppression_windows()
            .into_iter()
            .map(|(kind, device, subject, opened)| {
                (kind.name().to_owned(), device, subject, opened)
            })
            .collect(),
    };
    let write_error = |source| StateError::Write {
        path: path.to_owned(),
        source,
    };
    let bytes = serde_json::to_vec(&state).map_err(|e| write_error(io::Error::other(e)))?;
    write_atomically(path, &bytes).map_err(write_error)
}

fn store_device(d: &Device) -> StoredDevice {
    StoredDevice {
        id: d.key.to_string(),
        addresses: StoredAddresses::Seen(d.addresses.clone()),
        vlans: d.vlans.clone(),
        first_seen: d.first_seen,
        gateway: d.gateway,
        roles: d.identity.roles.clone(),
        facts: d
            .identity
            .facts
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
        baseline: (*d.baseline).clone(),
        posture: d.posture.as_deref().map(store_posture),
    }
}

/// Writes `bytes` to a temporary file with a random name beside `path`,
/// fsyncs it, renames it over `path` and fsyncs the directory. A `path`
/// that is a symbolic link, a FIFO, a device or anything but a regular file
/// is refused (see [`crate::files`]).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    crate::files::replace_with(path, bytes)
}

/// Loads `path` into an empty `table`, `registry` and `engine`. Returns
/// false when the file does not exist (a first run); any other problem is an
/// error and nothing is changed on disk.
pub fn load(
    path: &Path,
    table: &DeviceTable,
    registry: &mut Registry,
    engine: &mut Engine,
) -> Result<bool, StateError> {
    let Some(bytes) = read_optional(path)? else {
        return Ok(false);
    };
    load_bytes(&bytes, table, registry, engine).map_err(|problem| refused(path, problem))?;
    Ok(true)
}

/// Reads a state file's bytes, refusing what [`load`] refuses before a byte
/// is read (a link, a FIFO, a device, a file too large); a file that does
/// not exist is an error here.
pub fn read(path: &Path) -> Result<Vec<u8>, StateError> {
    read_optional(path)?.ok_or_else(|| StateError::Read {
        path: path.to_owned(),
        source: io::Error::from(io::ErrorKind::NotFound),
    })
}

/// The bytes of `path`, or `None` when it does not exist.
fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, StateError> {
    // Opened without following a link or blocking on a FIFO; its type and
    // size are checked on the open file before anything is read.
    match crate::files::read_regular(path, MAX_STATE_BYTES) {
        Ok(bytes) => Ok(bytes),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::InvalidInput | io::ErrorKind::FileTooLarge
            ) =>
        {
            Err(refused(path, e.to_string()))
        }
        Err(source) => Err(StateError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Loads a state file's bytes into an empty `table`, `registry` and
/// `engine`; the problem, in words, when they are refused.
pub fn load_bytes(
    bytes: &[u8],
    table: &DeviceTable,
    registry: &mut Registry,
    engine: &mut Engine,
) -> Result<(), String> {
    let state = parse(bytes)?;
    restore(state, table, registry, engine)
}

fn refused(path: &Path, problem: String) -> StateError {
    StateError::Refused {
        path: path.to_owned(),
        problem,
    }
}

fn parse(bytes: &[u8]) -> Result<StateFile, String> {
    // The format and version first, so a foreign or newer file is named as
    // such rather than as a field it lacks.
    #[derive(Deserialize)]
    struct Header {
        format: Option<String>,
        version: Option<u32>,
    }
    let header: Header = serde_json::from_slice(bytes).map_err(|e| {
        if e.is_eof() {
            format!("truncated ({e})")
        } else {
            format!("not a medtap state file ({e})")
        }
    })?;
    match (header.format.as_deref(), header.version) {
        (Some(FORMAT), Some(VERSION)) => {}
        (Some(FORMAT), Some(v)) => {
            return Err(format!(
                "format version {v}; this medtap reads version {VERSION}"
            ));
        }
        _ => {
            return Err(format!(
                "not a medtap state file (no \"format\": \"{FORMAT}\")"
            ));
        }
    }
    serde_json::from_slice(bytes).map_err(|e| format!("damaged: {e}"))
}

fn restore(
    state: StateFile,
    table: &DeviceTable,
    registry: &mut Registry,
    engine: &mut Engine,
) -> Result<(), String> {
    let mut keys = HashSet::new();
    for stored in state.devices {
        let key =
            DeviceKey::parse(&stored.id).ok_or_else(|| format!("bad device id {:?}", stored.id))?;
        let mut identity = Identity {
            roles: stored.roles,
            facts: BTreeMap::new(),
        };
        for (name, values) in stored.facts {
            identity.facts.insert(intern(&name)?, values);
        }
        let mac = match key {
            DeviceKey::Mac(mac) => Some(mac),
            DeviceKey::Ip(..) => None,
        };
        if stored.baseline.since > stored.baseline.until {
            return Err(format!(
                "device {}: learning ends before it starts",
                stored.id
            ));
        }
        table.restore_device(Device {
            key,
            mac,
            vendor: mac.and_then(crate::device::oui::vendor),
            addresses: match stored.addresses {
                StoredAddresses::Seen(seen) => seen,
                StoredAddresses::Plain(ips) => {
                    ips.into_iter().map(|ip| (ip, stored.first_seen)).collect()
                }
            },
            vlans: stored.vlans,
            first_seen: stored.first_seen,
            gateway: stored.gateway,
            identity,
            baseline: Box::new(stored.baseline),
            // A forwarder keeps its role; what it relays is listed again as
            // it is relayed.
            relayed: Vec::new(),
            posture: match stored.posture {
                Some(p) => Some(Box::new(
                    restore_posture(p).map_err(|e| format!("device {}: {e}", stored.id))?,
                )),
                None => None,
            },
        });
        keys.insert(key);
    }
    for (endpoint, id) in state.bindings {
        let key = DeviceKey::parse(&id).ok_or_else(|| format!("bad device id {id:?}"))?;
        if !keys.contains(&key) {
            return Err(format!("binding to unknown device {id}"));
        }
        let mac = match endpoint.mac.as_deref() {
            Some(text) => {
                Some(crate::device::parse_mac(text).ok_or_else(|| format!("bad MAC {text:?}"))?)
            }
            None => None,
        };
        table.restore_binding(
            EndpointKey {
                mac,
                ip: endpoint.ip,
                vlan: endpoint.vlan,
            },
            key,
        );
    }
    for text in state.gateways {
        let mac = crate::device::parse_mac(&text).ok_or_else(|| format!("bad MAC {text:?}"))?;
        registry.restore_gateway(mac);
    }
    let mut owners = HashMap::default();
    for (client_id, ids) in state.mqtt_client_ids {
        let keys = ids
            .iter()
            .map(|id| DeviceKey::parse(id).ok_or_else(|| format!("bad device id {id:?}")))
            .collect::<Result<Vec<_>, _>>()?;
        owners.insert(client_id, keys);
    }
    engine.client_id_owners = owners;
    for (device, peer, protocol) in state.cleartext_pairs {
        let key = DeviceKey::parse(&device).ok_or_else(|| format!("bad device id {device:?}"))?;
        let peer = PairEnd::parse(&peer).ok_or_else(|| format!("bad peer {peer:?}"))?;
        let protocol = match protocol.as_str() {
            "dicom" => "dicom",
            "hl7" => "hl7",
            other => return Err(format!("unknown clinical protocol {other:?}")),
        };
        engine.cleartext_pairs.insert((key, peer, protocol));
    }
    engine.network = state.network;
    for (name, device, subject, opened) in state.suppression {
        let kind = Kind::ALL
            .iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| format!("unknown alert kind {name:?}"))?;
        engine.reopen_window(*kind, device, subject, opened);
    }
    Ok(())
}

/// Identity-fact names are `&'static str` in the device table (the parsers
/// name them with literals); names read from a state file are interned once
/// each, up to [`MAX_FACT_NAMES`].
fn intern(name: &str) -> Result<&'static str, String> {
    static NAMES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut names = NAMES.lock().map_err(|_| "internal error".to_owned())?;
    if let Some(known) = names.iter().find(|n| **n == name) {
        return Ok(known);
    }
    if names.len() >= MAX_FACT_NAMES || name.len() > 64 {
        return Err(format!(
            "too many or too long identity-fact names ({name:?})"
        ));
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.push(leaked);
    Ok(leaked)
}
