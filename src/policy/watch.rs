//! Watching traffic against a policy (`--policy FILE`): which connections
//! the policy would not allow.
//!
//! The judgement is the nftables rendering's, connection by connection: a
//! connection is covered when either end is a member of a group; a covered
//! connection is allowed when an infrastructure entry (a client group's
//! member to one of the service's servers) or one of the allowed flows
//! (client end, server end, protocol, server port) matches it; anything
//! else covered is a violation. Connections between addresses of no group
//! are left alone, and so is traffic to broadcast and multicast addresses,
//! which a router's forward chain never sees. Only protocols with ports
//! are judged: baselines learn no ICMP, so the renderings let it pass.
//!
//! What a firewall cannot see is judged too: a DICOM request (C-FIND,
//! C-MOVE, …) a member sends that its group's `dicom_requests` do not hold,
//! on a connection the ports allow.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;

use serde_json::json;

use super::render::{End, flows};
use super::{MAX_POLICY_BYTES, Policy, protocol_name};
use crate::alert::Kind;
use crate::baseline::detect::Finding;
use crate::device::{DeviceKey, DeviceTable, EndpointKey};
use crate::event::PacketTuple;

/// One end of an allowed flow, resolved for matching.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Side {
    /// Members of the group with this index.
    Group(usize),
    /// Addresses in this network.
    Network(IpNet),
}

/// Allowed flows by (IP protocol, server port): (client, server).
type AllowedFlows = HashMap<(u8, Option<u16>), Vec<(Side, Side)>>;
/// Infrastructure by (IP protocol, server port): (servers, client groups).
type InfrastructureEntries = HashMap<(u8, u16), Vec<(Vec<IpAddr>, Vec<usize>)>>;

/// A policy ready to judge connections.
#[derive(Debug)]
pub struct Watch {
    /// The policy file, as given.
    path: String,
    /// SHA-256 of the policy file's bytes.
    sha256: String,
    /// Group names, by index.
    names: Vec<String>,
    /// Each member address's group.
    group_at: HashMap<IpAddr, usize>,
    /// Allowed flows by (IP protocol, server port): (client, server).
    allowed: AllowedFlows,
    /// Infrastructure by (IP protocol, server port): (servers, client
    /// groups).
    infrastructure: InfrastructureEntries,
    /// Each group's allowed DICOM requests, by group index.
    dicom_requests: Vec<BTreeSet<String>>,
}

/// A connection the policy does not allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Whether the group's member is the client (it opened the connection);
    /// otherwise it is the server and the client is the peer.
    pub member_is_client: bool,
    /// The group of the member the violation is about.
    pub group: String,
    /// The other end's group, when it has one.
    pub peer_group: Option<String>,
    /// `tcp`, `udp`, … as the policy writes it.
    pub protocol: String,
    /// The server port, for protocols with ports.
    pub port: Option<u16>,
}

impl Violation {
    /// The rule set the connection broke: the Cisco ACL's name, and what
    /// nftables' log prefix names (`medtap-drop <group>`).
    pub fn rule_set(&self) -> String {
        format!("medtap-{}", self.group)
    }

    /// The service, `tcp/104` or `icmp`.
    pub fn service(&self) -> String {
        match self.port {
            Some(port) => format!("{}/{port}", self.protocol),
            None => self.protocol.clone(),
        }
    }
}

/// The IP protocol number a policy's protocol name stands for.
fn protocol_number(name: &str) -> Option<u8> {
    match name {
        "icmp" => Some(1),
        "tcp" => Some(6),
        "udp" => Some(17),
        "icmpv6" => Some(58),
        "sctp" => Some(132),
        other => other.parse().ok(),
    }
}

/// Whether an address is one a router does not forward between segments
/// the way it forwards unicast (broadcast, multicast, unspecified).
fn not_routed(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_broadcast() || v4.is_multicast() || v4.is_unspecified(),
        IpAddr::V6(v6) => v6.is_multicast() || v6.is_unspecified(),
    }
}

/// The bytes of a policy file: a regular file (a link to one is
/// followed: a policy is often installed as a link to the week's file) of
/// at most [`MAX_POLICY_BYTES`].
fn read_policy_file(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    if meta.len() > MAX_POLICY_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!("{} bytes, larger than {MAX_POLICY_BYTES}", meta.len()),
        ));
    }
    let mut bytes = Vec::new();
    file.take(MAX_POLICY_BYTES).read_to_end(&mut bytes)?;
    Ok(bytes)
}

impl Watch {
    /// Reads and checks a policy file: one line saying what is wrong when
    /// it cannot be used.
    pub fn load(path: &Path) -> Result<Watch, String> {
        let shown = path.display();
        let bytes = read_policy_file(path).map_err(|e| format!("policy file {shown}: {e}"))?;
        let policy = Policy::parse(&bytes).map_err(|e| format!("policy file {shown}: {e}"))?;
        let digest = ring::digest::digest(&ring::digest::SHA256, &bytes);
        let sha256 = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        Watch::new(&policy, shown.to_string(), sha256)
            .map_err(|e| format!("policy file {shown}: {e}"))
    }

    /// Prepares `policy` for matching; `path` and `sha256` name it in
    /// alerts.
    pub fn new(policy: &Policy, path: String, sha256: String) -> Result<Watch, String> {
        let names: Vec<String> = policy.groups.iter().map(|g| g.name.clone()).collect();
        let index = |name: &str| names.iter().position(|n| n == name);
        let mut group_at = HashMap::new();
        for (i, group) in policy.groups.iter().enumerate() {
            for ip in group.addresses() {
                if let Some(other) = group_at.insert(ip, i)
                    && other != i
                {
                    return Err(format!(
                        "address {ip} is in two groups ({} and {})",
                        names.get(other).map_or("?", String::as_str),
                        group.name
                    ));
                }
            }
        }
        let side = |end: &End| -> Option<Side> {
            match end {
                End::Group(name) => index(name).map(Side::Group),
                End::Network(net) => Some(Side::Network(*net)),
            }
        };
        let mut allowed = AllowedFlows::new();
        for flow in flows(policy) {
            let proto = protocol_number(&flow.protocol)
                .ok_or_else(|| format!("unknown protocol {:?}", flow.protocol))?;
            // `Policy::parse` has checked every group a flow names.
            if let (Some(client), Some(server)) = (side(&flow.client), side(&flow.server)) {
                allowed
                    .entry((proto, flow.port))
                    .or_default()
                    .push((client, server));
            }
        }
        let mut infrastructure = InfrastructureEntries::new();
        for infra in &policy.infrastructure {
            let proto = protocol_number(&infra.protocol)
                .ok_or_else(|| format!("unknown protocol {:?}", infra.protocol))?;
            let clients = infra.clients.iter().filter_map(|c| index(c)).collect();
            infrastructure
                .entry((proto, infra.port))
                .or_default()
                .push((infra.servers.clone(), clients));
        }
        let dicom_requests = policy
            .groups
            .iter()
            .map(|g| g.dicom_requests.iter().cloned().collect())
            .collect();
        Ok(Watch {
            path,
            sha256,
            names,
            group_at,
            allowed,
            infrastructure,
            dicom_requests,
        })
    }

    /// The policy file, as given.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// SHA-256 of the policy file.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    fn name(&self, group: usize) -> String {
        self.names.get(group).cloned().unwrap_or_default()
    }

    /// Judges a connection opened from `client` to `server` (`port` the
    /// server's, `None` for protocols without ports, which are not judged):
    /// the violation, or `None` when it is allowed or not covered.
    pub fn judge(
        &self,
        client: IpAddr,
        server: IpAddr,
        proto: u8,
        port: Option<u16>,
    ) -> Option<Violation> {
        if port.is_none() || not_routed(&server) || client.is_unspecified() {
            return None;
        }
        let client_group = self.group_at.get(&client).copied();
        let server_group = self.group_at.get(&server).copied();
        if client_group.is_none() && server_group.is_none() {
            return None;
        }
        if let (Some(group), Some(port)) = (client_group, port)
            && let Some(entries) = self.infrastructure.get(&(proto, port))
            && entries
                .iter()
                .any(|(servers, clients)| servers.contains(&server) && clients.contains(&group))
        {
            return None;
        }
        let matches = |side: &Side, ip: &IpAddr, group: Option<usize>| match side {
            Side::Group(g) => group == Some(*g),
            Side::Network(net) => net.contains(ip),
        };
        if let Some(flows) = self.allowed.get(&(proto, port))
            && flows.iter().any(|(c, s)| {
                matches(c, &client, client_group) && matches(s, &server, server_group)
            })
        {
            return None;
        }
        let (member_is_client, group, peer_group) = match (client_group, server_group) {
            (Some(group), peer) => (true, group, peer),
            (None, Some(group)) => (false, group, None),
            (None, None) => return None,
        };
        Some(Violation {
            member_is_client,
            group: self.name(group),
            peer_group: peer_group.map(|g| self.name(g)),
            protocol: protocol_name(proto),
            port,
        })
    }

    /// The `policy_violation` finding for a connection opened on `tuple`
    /// (client to server), about the device of the group member at either
    /// end (the client when both are members); `None` when the policy
    /// allows it, does not cover it, or the member is no device yet.
    pub fn finding(
        &self,
        table: &DeviceTable,
        tuple: &PacketTuple,
        [client, server]: [EndpointKey; 2],
    ) -> Option<(DeviceKey, Finding)> {
        let port = tuple.has_ports.then_some(tuple.dst_port);
        let violation = self.judge(tuple.src, tuple.dst, tuple.proto, port)?;
        let (member, peer_ip) = if violation.member_is_client {
            (client, tuple.dst)
        } else {
            (server, tuple.src)
        };
        let key = table.device_of(&member)?;
        let service = violation.service();
        let peer_label = match &violation.peer_group {
            Some(group) => format!("{peer_ip} ({group})"),
            None => peer_ip.to_string(),
        };
        let group = &violation.group;
        let (subject, message, initiator) = if violation.member_is_client {
            (
                format!("to {peer_ip} {service}"),
                format!(
                    "{key} ({group}) opened {service} to {peer_label}, which the policy does not allow"
                ),
                "group",
            )
        } else {
            (
                format!("from {peer_ip} {service}"),
                format!(
                    "{peer_label} opened {service} to {key} ({group}), which the policy does not allow"
                ),
                "peer",
            )
        };
        let finding = self.violation_finding(subject, message, &violation, initiator);
        Some((key, finding.peer(peer_ip, port, table)))
    }

    /// The finding of `violation`, with the evidence every
    /// `policy_violation` carries.
    fn violation_finding(
        &self,
        subject: String,
        message: String,
        violation: &Violation,
        initiator: &str,
    ) -> Finding {
        let mut finding = Finding::new(Kind::PolicyViolation, subject, message)
            .evidence("group", json!(violation.group))
            .evidence("rule_set", json!(violation.rule_set()))
            .evidence("protocol", json!(violation.protocol))
            .evidence("initiator", json!(initiator))
            .evidence("policy", json!(self.path))
            .evidence("policy_sha256", json!(self.sha256));
        if let Some(port) = violation.port {
            finding = finding.evidence("port", json!(port));
        }
        if let Some(peer_group) = &violation.peer_group {
            finding = finding.evidence("peer_group", json!(peer_group));
        }
        finding
    }

    /// The `policy_violation` finding for a DICOM request (`request` as
    /// [`crate::baseline::detect::dicom::request_name`] names it) sent on
    /// the association on `tuple` (client to server) by its client
    /// (`by_client`) or server, when the sender is a member of a group whose
    /// allowed requests do not hold it; about the sender.
    pub fn dicom_finding(
        &self,
        table: &DeviceTable,
        tuple: &PacketTuple,
        [client, server]: [EndpointKey; 2],
        by_client: bool,
        request: &str,
    ) -> Option<(DeviceKey, Finding)> {
        let (sender, sender_ip, peer_ip) = if by_client {
            (client, tuple.src, tuple.dst)
        } else {
            (server, tuple.dst, tuple.src)
        };
        let group = *self.group_at.get(&sender_ip)?;
        let allowed = self.dicom_requests.get(group)?;
        if allowed.contains(request) {
            return None;
        }
        let key = table.device_of(&sender)?;
        let violation = Violation {
            member_is_client: by_client,
            group: self.name(group),
            peer_group: self.group_at.get(&peer_ip).map(|g| self.name(*g)),
            protocol: protocol_name(tuple.proto),
            port: Some(tuple.dst_port),
        };
        let peer_label = match &violation.peer_group {
            Some(peer_group) => format!("{peer_ip} ({peer_group})"),
            None => peer_ip.to_string(),
        };
        let allowed_text = if allowed.is_empty() {
            "none".to_owned()
        } else {
            allowed.iter().cloned().collect::<Vec<_>>().join(", ")
        };
        let message = format!(
            "{key} ({}) sent DICOM {request} to {peer_label}, a request the policy does not allow it (allowed: {allowed_text})",
            violation.group
        );
        let initiator = if by_client { "group" } else { "peer" };
        let finding = self
            .violation_finding(
                format!("dicom {request} to {peer_ip}"),
                message,
                &violation,
                initiator,
            )
            .evidence("dicom_request", json!(request))
            .evidence("dicom_requests", json!(allowed));
        Some((key, finding.peer(peer_ip, Some(tuple.dst_port), table)))
    }
}
