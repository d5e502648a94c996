//! Renderings of a [`Policy`]: canonical JSON, an nftables ruleset and
//! Cisco IOS extended ACLs.
//!
//! Each starts with what the policy was learned from (state file path, its
//! SHA-256, the learning window in packet time) and nothing that changes
//! from run to run, so the same state gives the same bytes.

pub mod cisco;
pub mod json;
pub mod nftables;

use std::net::IpAddr;

use super::{Allow, Group, Initiator, Peer, Policy};

/// A rendering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// The canonical policy (`schema/policy.schema.json`).
    #[default]
    Json,
    /// An nftables ruleset: `nft -f FILE`.
    Nftables,
    /// Cisco IOS extended named ACLs.
    CiscoAcl,
}

/// Renders `policy` as `format`.
pub fn render(policy: &Policy, format: Format) -> String {
    match format {
        Format::Json => json::render(policy),
        Format::Nftables => nftables::render(policy),
        Format::CiscoAcl => cisco::render(policy),
    }
}

/// The header lines, without a comment marker.
pub(crate) fn header(policy: &Policy) -> Vec<String> {
    let from = &policy.learned_from;
    vec![
        format!(
            "medtap policy (format {} version {})",
            policy.format, policy.version
        ),
        format!("learned from state file {}", from.state),
        format!("state sha256 {}", from.sha256),
        format!(
            "learning window (packet time) {} to {}",
            from.since.as_deref().unwrap_or("-"),
            from.until.as_deref().unwrap_or("-")
        ),
        format!(
            "{} groups, {} devices still learning (given no rule)",
            policy.groups.len(),
            policy.learning.len()
        ),
    ]
}

/// One flow between two ends, as a stateful firewall needs it once: the
/// client's and the server's addresses.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Flow {
    /// The client end.
    pub client: End,
    /// The server end.
    pub server: End,
    /// `tcp`, `udp`, …
    pub protocol: String,
    /// The server port.
    pub port: Option<u16>,
}

/// One end of a flow.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum End {
    Group(String),
    Network(ipnet::IpNet),
}

impl End {
    pub fn label(&self) -> String {
        match self {
            End::Group(name) => name.clone(),
            End::Network(net) => net.to_string(),
        }
    }
}

/// Every allowed flow once, client to server, sorted.
pub(crate) fn flows(policy: &Policy) -> Vec<Flow> {
    let mut flows = std::collections::BTreeSet::new();
    for group in &policy.groups {
        for Allow {
            peer,
            protocol,
            port,
            initiator,
        } in &group.allow
        {
            let me = End::Group(group.name.clone());
            let other = match peer {
                Peer::Group(name) => End::Group(name.clone()),
                Peer::Network(net) => End::Network(*net),
            };
            let (client, server) = match initiator {
                Initiator::Group => (me, other),
                Initiator::Peer => (other, me),
            };
            flows.insert(Flow {
                client,
                server,
                protocol: protocol.clone(),
                port: *port,
            });
        }
    }
    flows.into_iter().collect()
}

/// What a rendering says of a group's DICOM requests, which only
/// `medtap --policy` judges; `None` when it sent none.
pub(crate) fn dicom_requests(group: &Group) -> Option<String> {
    (!group.dicom_requests.is_empty()).then(|| {
        format!(
            "DICOM requests {} only (watched by medtap --policy, not enforced here)",
            group.dicom_requests.join(", ")
        )
    })
}

/// The addresses of a group, by name.
pub(crate) fn group_addresses(policy: &Policy, name: &str) -> Vec<IpAddr> {
    let mut all: Vec<IpAddr> = policy
        .groups
        .iter()
        .filter(|g| g.name == name)
        .flat_map(|g| g.addresses())
        .collect();
    all.sort();
    all.dedup();
    all
}
