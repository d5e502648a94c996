//! Which group each device belongs to.
//!
//! By default a device's group follows what it is, so that a replaced
//! device lands where its predecessor was: servers by role (PACS/VNA, HL7
//! interface engine, MQTT broker), gateways together, then clinical
//! identity — DICOM modality with manufacturer and model, HL7 sending
//! application, MQTT client-id pattern (trailing digits folded, `pump-07`
//! and `pump-12` are `pump-*`) — then device type with MAC vendor, and last
//! the device alone. A groups file (`--groups FILE.toml`) names groups by
//! MAC, CIDR, OUI, AE title or identity pattern; its groups are tried in
//! file order before the defaults, and the first that matches wins.
//!
//! Group names are lower case `[a-z0-9_-]`, at most [`MAX_GROUP_NAME`]
//! characters, so a diff of two policies stays readable.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::Deserialize;
use thiserror::Error;

use crate::device::{Device, format_mac, kind};

/// Longest group name, in characters.
pub const MAX_GROUP_NAME: usize = 48;
/// Largest groups file read, in bytes.
pub const MAX_GROUPS_FILE_BYTES: u64 = 1 << 20;
/// Groups a groups file may name, at most.
pub const MAX_GROUPS: usize = 1024;

/// Why a groups file was refused.
#[derive(Debug, Error)]
pub enum GroupsError {
    /// The file could not be read.
    #[error("groups file {path}: cannot read it: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a valid groups file.
    #[error("groups file {path}: {problem}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
}

/// The groups file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupsFile {
    #[serde(default)]
    external: Vec<String>,
    #[serde(default)]
    group: Vec<GroupSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupSpec {
    name: String,
    #[serde(default)]
    mac: Vec<String>,
    #[serde(default)]
    cidr: Vec<String>,
    #[serde(default)]
    oui: Vec<String>,
    #[serde(default)]
    ae_title: Vec<String>,
    #[serde(default)]
    identity: Vec<String>,
}

/// A configured group: a device that matches any criterion is a member.
#[derive(Debug, Clone, Default)]
struct Configured {
    name: String,
    macs: Vec<[u8; 6]>,
    nets: Vec<IpNet>,
    ouis: Vec<[u8; 3]>,
    ae_titles: Vec<String>,
    /// (fact name, value pattern with `*`).
    identity: Vec<(String, String)>,
}

/// How devices are grouped: configured groups first, then the defaults;
/// and which external networks fold peer addresses.
#[derive(Debug, Clone, Default)]
pub struct GroupRules {
    configured: Vec<Configured>,
    external: Vec<IpNet>,
}

impl GroupRules {
    /// Reads a groups file.
    pub fn load(path: &Path) -> Result<GroupRules, GroupsError> {
        let bytes = crate::output::files::read_regular(path, MAX_GROUPS_FILE_BYTES)
            .and_then(|b| b.ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound)))
            .map_err(|source| GroupsError::Read {
                path: path.to_owned(),
                source,
            })?;
        let invalid = |problem: String| GroupsError::Invalid {
            path: path.to_owned(),
            problem,
        };
        let text = std::str::from_utf8(&bytes).map_err(|_| invalid("not UTF-8".to_owned()))?;
        GroupRules::parse(text).map_err(invalid)
    }

    /// Parses a groups file's text.
    pub fn parse(text: &str) -> Result<GroupRules, String> {
        let file: GroupsFile = toml::from_str(text).map_err(|e| {
            // toml's own rendering spans several lines; one is enough.
            match e.span() {
                Some(span) => {
                    let line = text
                        .get(..span.start)
                        .map_or(0, |before| before.matches('\n').count())
                        + 1;
                    format!("line {line}: {}", e.message().trim())
                }
                None => e.message().trim().to_owned(),
            }
        })?;
        if file.group.len() > MAX_GROUPS {
            return Err(format!("more than {MAX_GROUPS} groups"));
        }
        let mut rules = GroupRules::default();
        for text in &file.external {
            let net = parse_net(text).ok_or_else(|| format!("external: bad CIDR {text:?}"))?;
            rules.external.push(net);
        }
        for spec in file.group {
            let name = &spec.name;
            if !valid_name(name) {
                return Err(format!(
                    "group name {name:?}: use 1 to {MAX_GROUP_NAME} characters of a-z, 0-9, _ and -"
                ));
            }
            if rules.configured.iter().any(|c| c.name == *name) {
                return Err(format!("group {name:?} is named twice"));
            }
            let mut c = Configured {
                name: name.clone(),
                ..Configured::default()
            };
            for text in &spec.mac {
                c.macs.push(
                    crate::device::parse_mac(&text.to_ascii_lowercase())
                        .ok_or_else(|| format!("group {name}: bad MAC {text:?}"))?,
                );
            }
            for text in &spec.cidr {
                c.nets.push(
                    parse_net(text).ok_or_else(|| format!("group {name}: bad CIDR {text:?}"))?,
                );
            }
            for text in &spec.oui {
                c.ouis.push(
                    parse_oui(text).ok_or_else(|| format!("group {name}: bad OUI {text:?}"))?,
                );
            }
            c.ae_titles.clone_from(&spec.ae_title);
            for text in &spec.identity {
                let (fact, pattern) = text.split_once('=').ok_or_else(|| {
                    format!("group {name}: identity {text:?}: use fact=pattern, e.g. mqtt.client_id=pump-*")
                })?;
                c.identity
                    .push((fact.trim().to_owned(), pattern.trim().to_owned()));
            }
            if c.macs.is_empty()
                && c.nets.is_empty()
                && c.ouis.is_empty()
                && c.ae_titles.is_empty()
                && c.identity.is_empty()
            {
                return Err(format!(
                    "group {name}: matches nothing (give mac, cidr, oui, ae_title or identity)"
                ));
            }
            rules.configured.push(c);
        }
        Ok(rules)
    }

    /// The group of `device` and the facts that put it there.
    pub fn group_of(&self, device: &Device) -> (String, Vec<String>) {
        for c in &self.configured {
            if let Some(why) = c.matches(device) {
                return (c.name.clone(), vec![format!("groups file: {why}")]);
            }
        }
        default_group(device)
    }

    /// The network an address outside every learned device is written as:
    /// the first `external` network holding it, or the address alone.
    pub fn external_network(&self, ip: IpAddr) -> IpNet {
        self.external
            .iter()
            .find(|net| net.contains(&ip))
            .copied()
            .unwrap_or_else(|| IpNet::from(ip))
    }
}

impl Configured {
    /// What matched, in words, or `None`.
    fn matches(&self, d: &Device) -> Option<String> {
        if let Some(mac) = d.mac {
            if self.macs.contains(&mac) {
                return Some(format!("mac {}", format_mac(&mac)));
            }
            if let Some(oui) = self.ouis.iter().find(|o| mac.starts_with(&o[..])) {
                return Some(format!("oui {:02x}:{:02x}:{:02x}", oui[0], oui[1], oui[2]));
            }
        }
        for ip in d.addresses.keys() {
            if let Some(net) = self.nets.iter().find(|n| n.contains(ip)) {
                return Some(format!("address {ip} in {net}"));
            }
        }
        let facts = |name: &str| d.identity.facts.get(name).into_iter().flatten();
        for title in facts("dicom.ae_title") {
            if let Some(p) = self.ae_titles.iter().find(|p| glob(p, title)) {
                return Some(format!("ae_title {title} matches {p}"));
            }
        }
        for (fact, pattern) in &self.identity {
            if let Some(value) = facts(fact).find(|v| glob(pattern, v)) {
                return Some(format!("{fact}={value} matches {pattern}"));
            }
        }
        None
    }
}

fn parse_net(text: &str) -> Option<IpNet> {
    let text = text.trim();
    text.parse::<IpNet>()
        .ok()
        .or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
        .map(|n| n.trunc())
}

fn parse_oui(text: &str) -> Option<[u8; 3]> {
    let mut oui = [0u8; 3];
    let mut parts = text.trim().split([':', '-']);
    for byte in &mut oui {
        let part = parts.next()?;
        if part.len() != 2 {
            return None;
        }
        *byte = u8::from_str_radix(part, 16).ok()?;
    }
    parts.next().is_none().then_some(oui)
}

/// Whether `name` is a valid group name.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_GROUP_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// Matches `text` against `pattern`, where `*` stands for any run of
/// characters (none included); case-sensitive, as AE titles and client ids
/// are.
pub fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        // No `*`: the whole text must be the pattern.
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

/// Lower case, runs of anything but `[a-z0-9]` as one `-`, trimmed, cut to
/// fit [`MAX_GROUP_NAME`].
pub fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.truncate(MAX_GROUP_NAME);
    out.trim_end_matches('-').to_owned()
}

/// A client-id pattern: trailing digits and the separators before them
/// folded into `*` (`pump-07` → `pump-*`).
pub fn client_id_pattern(id: &str) -> String {
    let stem = id.trim_end_matches(|c: char| c.is_ascii_digit());
    if stem.len() == id.len() || stem.is_empty() {
        return id.to_owned();
    }
    format!("{stem}*")
}

/// Device types that are servers, grouped by role: type, group, role.
const SERVER_TYPES: &[(&str, &str)] = &[
    ("pacs_vna", "pacs"),
    ("hl7_interface_engine", "hl7-engine"),
    ("mqtt_broker", "mqtt-broker"),
];

/// Roles that make a server of a device whatever its type: role, group.
/// (`dicom_scp` is not one: a workstation that takes C-MOVE results is a
/// DICOM SCP too.)
const SERVER_ROLES: &[(&str, &str)] = &[
    ("hl7_receiver", "hl7-engine"),
    ("mqtt_broker", "mqtt-broker"),
];

fn first_fact<'a>(d: &'a Device, name: &str) -> Option<&'a String> {
    d.identity.facts.get(name).and_then(|v| v.iter().next())
}

/// The default group of a device and why.
pub fn default_group(d: &Device) -> (String, Vec<String>) {
    let device_type = kind::classify(d);
    let type_reason = format!("type {} ({})", device_type.name, device_type.confidence);
    let roles = d
        .identity
        .roles
        .iter()
        .cloned()
        .collect::<Vec<_>>()
        .join(",");
    if d.gateway {
        return (
            "gateway".to_owned(),
            vec!["gateway: routes for other addresses".to_owned()],
        );
    }
    if let Some((_, group)) = SERVER_TYPES.iter().find(|(t, _)| *t == device_type.name) {
        return (
            (*group).to_owned(),
            vec![type_reason, format!("roles {roles}")],
        );
    }
    // A server the type rules did not call one (no name or banner said
    // it) is still known by the role its traffic showed.
    if let Some((role, group)) = SERVER_ROLES
        .iter()
        .find(|(role, _)| d.identity.roles.contains(*role))
    {
        return (
            (*group).to_owned(),
            vec![type_reason, format!("role {role}")],
        );
    }
    let modality = device_type
        .modality
        .clone()
        .or_else(|| first_fact(d, "dicom.modality").cloned());
    if let Some(modality) = modality {
        let mut parts = vec![modality.clone()];
        let mut because = vec![format!("dicom.modality={modality}")];
        for fact in ["dicom.manufacturer", "dicom.model"] {
            if let Some(value) = first_fact(d, fact) {
                parts.push(value.clone());
                because.push(format!("{fact}={value}"));
            }
        }
        return (slug(&parts.join("-")), because);
    }
    if let Some(app) = first_fact(d, "hl7.sending_application") {
        return (
            slug(&format!("hl7-{app}")),
            vec![type_reason, format!("hl7.sending_application={app}")],
        );
    }
    if let Some(id) = first_fact(d, "mqtt.client_id") {
        let pattern = client_id_pattern(id);
        return (
            slug(&format!("mqtt-{pattern}")),
            vec![
                type_reason,
                format!("mqtt.client_id={id} (pattern {pattern})"),
            ],
        );
    }
    if let Some(vendor) = d.vendor {
        let name = if device_type.name == "unknown" {
            format!("vendor-{vendor}")
        } else {
            format!("{}-{vendor}", device_type.name)
        };
        return (slug(&name), vec![type_reason, format!("vendor {vendor}")]);
    }
    // Nothing says what it is: it stands alone rather than widen a group.
    (
        slug(&format!("host-{}", d.key)),
        vec![type_reason, "no identity to group by".to_owned()],
    )
}
