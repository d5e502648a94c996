//! The nftables rendering: an `inet` table `medtap` with a named set of
//! addresses per group (IPv4 and IPv6 apart), and one `forward` chain that
//! accepts replies of allowed connections, ICMP (which baselines do not
//! learn), then the infrastructure, then
//! each allowed flow once (client to server, new connections), and last
//! drops — and logs, `medtap-drop <group> ` — anything else to or from a
//! group's members. Traffic between addresses of no group is left alone:
//! the policy covers only the devices it knows.
//!
//! Every rule has a `counter` and a `comment`. The file starts by deleting
//! the table if it exists, so `nft -f FILE` replaces it whole.

use std::fmt::Write;
use std::net::IpAddr;

use super::{End, Flow, flows, group_addresses, header};
use crate::policy::Policy;

/// Longest rule comment nftables keeps, in bytes.
pub const MAX_COMMENT: usize = 127;

/// The two address families of an `inet` table.
#[derive(Clone, Copy)]
enum Family {
    V4,
    V6,
}

impl Family {
    const BOTH: [Family; 2] = [Family::V4, Family::V6];

    fn suffix(self) -> &'static str {
        match self {
            Family::V4 => "v4",
            Family::V6 => "v6",
        }
    }

    fn set_type(self) -> &'static str {
        match self {
            Family::V4 => "ipv4_addr",
            Family::V6 => "ipv6_addr",
        }
    }

    fn keyword(self) -> &'static str {
        match self {
            Family::V4 => "ip",
            Family::V6 => "ip6",
        }
    }

    fn holds(self, ip: &IpAddr) -> bool {
        matches!(
            (self, ip),
            (Family::V4, IpAddr::V4(_)) | (Family::V6, IpAddr::V6(_))
        )
    }
}

fn set_name(prefix: &str, name: &str, family: Family) -> String {
    format!("{prefix}-{name}-{}", family.suffix())
}

fn comment(text: &str) -> String {
    let mut text: String = text.chars().filter(|c| *c != '"').collect();
    while text.len() > MAX_COMMENT {
        text.pop();
    }
    format!("comment \"{text}\"")
}

fn write_set(out: &mut String, name: &str, family: Family, elements: &[String]) {
    let _ = writeln!(out, "\tset {name} {{");
    let _ = writeln!(out, "\t\ttype {}", family.set_type());
    if elements.iter().any(|e| e.contains('/')) {
        let _ = writeln!(out, "\t\tflags interval");
    }
    let _ = writeln!(out, "\t\telements = {{ {} }}", elements.join(", "));
    let _ = writeln!(out, "\t}}");
}

/// What an end is written as in a rule of `family`, or `None` when it has
/// no address of that family.
fn end_match(policy: &Policy, end: &End, family: Family) -> Option<String> {
    match end {
        End::Group(name) => group_addresses(policy, name)
            .iter()
            .any(|ip| family.holds(ip))
            .then(|| format!("@{}", set_name("g", name, family))),
        End::Network(net) => family.holds(&net.addr()).then(|| {
            if net.prefix_len() == net.max_prefix_len() {
                net.addr().to_string()
            } else {
                net.to_string()
            }
        }),
    }
}

fn service_match(protocol: &str, port: Option<u16>) -> String {
    match port {
        Some(port) => format!("{protocol} dport {port}"),
        None => format!("meta l4proto {protocol}"),
    }
}

fn service_label(protocol: &str, port: Option<u16>) -> String {
    match port {
        Some(port) => format!("{protocol}/{port}"),
        None => protocol.to_owned(),
    }
}

/// Renders `policy` as an nftables ruleset.
pub fn render(policy: &Policy) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "#!/usr/sbin/nft -f");
    for line in header(policy) {
        let _ = writeln!(out, "# {line}");
    }
    for d in &policy.learning {
        let _ = writeln!(out, "# still learning, not covered: {}", d.id);
    }
    for group in &policy.groups {
        if let Some(requests) = super::dicom_requests(group) {
            let _ = writeln!(out, "# {}: {requests}", group.name);
        }
    }
    // Declared then deleted, so loading replaces an earlier version whole.
    let _ = writeln!(out, "table inet medtap");
    let _ = writeln!(out, "delete table inet medtap");
    let _ = writeln!(out, "table inet medtap {{");
    for group in &policy.groups {
        let addresses = group_addresses(policy, &group.name);
        for family in Family::BOTH {
            let elements: Vec<String> = addresses
                .iter()
                .filter(|ip| family.holds(ip))
                .map(|ip| ip.to_string())
                .collect();
            if !elements.is_empty() {
                write_set(
                    &mut out,
                    &set_name("g", &group.name, family),
                    family,
                    &elements,
                );
            }
        }
    }
    let mut infra_rules = Vec::new();
    for infra in &policy.infrastructure {
        let label = format!("{}-{}-{}", infra.service, infra.protocol, infra.port);
        for family in Family::BOTH {
            let servers: Vec<String> = infra
                .servers
                .iter()
                .filter(|ip| family.holds(ip))
                .map(|ip| ip.to_string())
                .collect();
            let mut clients: Vec<String> = infra
                .clients
                .iter()
                .flat_map(|g| group_addresses(policy, g))
                .filter(|ip| family.holds(ip))
                .map(|ip| ip.to_string())
                .collect();
            clients.sort();
            clients.dedup();
            if servers.is_empty() || clients.is_empty() {
                continue;
            }
            let servers_set = set_name("infra", &format!("{label}-servers"), family);
            let clients_set = set_name("infra", &format!("{label}-clients"), family);
            write_set(&mut out, &servers_set, family, &servers);
            write_set(&mut out, &clients_set, family, &clients);
            infra_rules.push(format!(
                "{k} saddr @{clients_set} {k} daddr @{servers_set} {} ct state new counter accept {}",
                service_match(&infra.protocol, Some(infra.port)),
                comment(&format!(
                    "infrastructure {} {}/{}",
                    infra.service, infra.protocol, infra.port
                )),
                k = family.keyword(),
            ));
        }
    }
    let _ = writeln!(out, "\tchain forward {{");
    let _ = writeln!(
        out,
        "\t\ttype filter hook forward priority filter; policy accept;"
    );
    let _ = writeln!(
        out,
        "\t\tct state established,related counter accept {}",
        comment("replies and related traffic of allowed connections")
    );
    // Baselines learn no ICMP: pings, unreachables and path MTU messages
    // pass rather than being dropped unseen by any review.
    let _ = writeln!(
        out,
        "\t\tmeta l4proto {{ icmp, ipv6-icmp }} counter accept {}",
        comment("ICMP and ICMPv6: not learned, not judged")
    );
    for rule in infra_rules {
        let _ = writeln!(out, "\t\t{rule}");
    }
    for Flow {
        client,
        server,
        protocol,
        port,
    } in flows(policy)
    {
        for family in Family::BOTH {
            let (Some(from), Some(to)) = (
                end_match(policy, &client, family),
                end_match(policy, &server, family),
            ) else {
                continue;
            };
            let _ = writeln!(
                out,
                "\t\t{k} saddr {from} {k} daddr {to} {} ct state new counter accept {}",
                service_match(&protocol, port),
                comment(&format!(
                    "{} -> {} {}",
                    client.label(),
                    server.label(),
                    service_label(&protocol, port)
                )),
                k = family.keyword(),
            );
        }
    }
    for group in &policy.groups {
        for family in Family::BOTH {
            let Some(set) = end_match(policy, &End::Group(group.name.clone()), family) else {
                continue;
            };
            for (direction, words) in [("saddr", "from"), ("daddr", "to")] {
                let _ = writeln!(
                    out,
                    "\t\t{} {direction} {set} counter log prefix \"medtap-drop {} \" drop {}",
                    family.keyword(),
                    group.name,
                    comment(&format!("{}: anything else {words} it", group.name)),
                );
            }
        }
    }
    let _ = writeln!(out, "\t}}");
    let _ = writeln!(out, "}}");
    out
}
