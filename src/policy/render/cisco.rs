//! The Cisco IOS rendering: one extended named ACL per group,
//! `medtap-<group>`, for the traffic its members send — apply it inbound
//! on the interface (or SVI) facing them. IOS ACLs keep no state, so a
//! group that serves (a clinical service or the infrastructure) gets
//! `permit` lines for its replies (TCP with `established`), and each ACL
//! ends in `permit icmp any any` (baselines learn no ICMP) and
//! `deny ip any any log`.
//!
//! A group with IPv6 members also gets an `ipv6 access-list
//! medtap-<group>-v6` of the same shape (`ipv6 traffic-filter … in`).

use std::fmt::Write;
use std::net::IpAddr;

use super::{End, Flow, flows, group_addresses, header};
use crate::policy::{Group, Policy};

/// Longest `remark` text IOS takes, in characters.
pub const MAX_REMARK: usize = 100;

fn remark(out: &mut String, text: &str) {
    let text: String = text.chars().take(MAX_REMARK).collect();
    let _ = writeln!(out, " remark {text}");
}

/// The two address families, each with its own ACLs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Family {
    V4,
    V6,
}

impl Family {
    fn holds(self, ip: &IpAddr) -> bool {
        match self {
            Family::V4 => ip.is_ipv4(),
            Family::V6 => ip.is_ipv6(),
        }
    }

    /// The ACL's first line.
    fn header(self, group: &str) -> String {
        match self {
            Family::V4 => format!("ip access-list extended medtap-{group}"),
            Family::V6 => format!("ipv6 access-list medtap-{group}-v6"),
        }
    }

    /// The last lines: ICMP (baselines learn none), then deny and log.
    fn tail(self) -> [&'static str; 2] {
        match self {
            Family::V4 => [" permit icmp any any", " deny ip any any log"],
            // ICMPv6 also carries neighbour discovery, which an IPv6 ACL's
            // own last rules would otherwise let through.
            Family::V6 => [" permit icmp any any", " deny ipv6 any any log"],
        }
    }

    /// How IOS names an IP protocol in this family's ACLs.
    fn protocol_word(self, protocol: &str) -> &str {
        match (self, protocol) {
            (_, "tcp" | "udp") => protocol,
            (Family::V4, "icmp") | (Family::V6, "icmpv6") => "icmp",
            (Family::V4, "icmpv6") => "58",
            (Family::V6, "icmp") => "1",
            (_, "sctp") => "132",
            (_, other) => other,
        }
    }

    /// The address matches an end stands for in this family (`host A`, `A
    /// WILDCARD`, `P/LEN`).
    fn matches(self, policy: &Policy, end: &End) -> Vec<String> {
        match end {
            End::Group(name) => group_addresses(policy, name)
                .into_iter()
                .filter(|ip| self.holds(ip))
                .map(|ip| format!("host {ip}"))
                .collect(),
            End::Network(net) if !self.holds(&net.addr()) => Vec::new(),
            End::Network(net) if net.prefix_len() == net.max_prefix_len() => {
                vec![format!("host {}", net.addr())]
            }
            End::Network(ipnet::IpNet::V4(net)) => {
                vec![format!("{} {}", net.network(), net.hostmask())]
            }
            End::Network(ipnet::IpNet::V6(net)) => vec![net.trunc().to_string()],
        }
    }
}

/// Writes a remark and its `permit` lines, or nothing when there are none
/// (a flow of the other address family).
fn block(out: &mut String, title: &str, lines: &[String]) {
    if lines.is_empty() {
        return;
    }
    remark(out, title);
    for line in lines {
        let _ = writeln!(out, " {line}");
    }
}

/// Renders `policy` as IOS ACLs: per group, an IPv4 extended named ACL,
/// and an IPv6 one when the group has IPv6 members.
pub fn render(policy: &Policy) -> String {
    let mut out = String::new();
    for line in header(policy) {
        let _ = writeln!(out, "! {line}");
    }
    for d in &policy.learning {
        let _ = writeln!(out, "! still learning, not covered: {}", d.id);
    }
    let flows = flows(policy);
    for group in &policy.groups {
        let has_v6 = group_addresses(policy, &group.name)
            .iter()
            .any(IpAddr::is_ipv6);
        render_acl(&mut out, policy, &flows, group, Family::V4);
        if has_v6 {
            render_acl(&mut out, policy, &flows, group, Family::V6);
        }
    }
    let _ = writeln!(out, "!");
    let _ = writeln!(out, "end");
    out
}

/// One group's ACL of one address family.
fn render_acl(out: &mut String, policy: &Policy, flows: &[Flow], group: &Group, family: Family) {
    let me = End::Group(group.name.clone());
    let mine = family.matches(policy, &me);
    let _ = writeln!(out, "!");
    let _ = writeln!(out, "{}", family.header(&group.name));
    remark(
        out,
        &format!(
            "medtap group {}: from its members; apply inbound",
            group.name
        ),
    );
    if let Some(requests) = super::dicom_requests(group) {
        remark(out, &requests);
    }
    let own: Vec<IpAddr> = group_addresses(policy, &group.name);
    for infra in &policy.infrastructure {
        let proto = family.protocol_word(&infra.protocol);
        let label = format!("{} {}/{}", infra.service, infra.protocol, infra.port);
        // A group that is the infrastructure's server answers its clients;
        // IOS ACLs keep no state.
        let established = if infra.protocol == "tcp" {
            " established"
        } else {
            ""
        };
        let clients: Vec<String> = infra
            .clients
            .iter()
            .flat_map(|g| family.matches(policy, &End::Group(g.clone())))
            .collect();
        let replies: Vec<String> = infra
            .servers
            .iter()
            .filter(|ip| family.holds(ip) && own.contains(ip))
            .flat_map(|server| {
                clients.iter().map(move |dst| {
                    format!(
                        "permit {proto} host {server} eq {} {dst}{established}",
                        infra.port
                    )
                })
            })
            .collect();
        block(out, &format!("replies: infrastructure {label}"), &replies);
        if !infra.clients.contains(&group.name) {
            continue;
        }
        let requests: Vec<String> = infra
            .servers
            .iter()
            .filter(|ip| family.holds(ip))
            .flat_map(|server| {
                mine.iter()
                    .map(move |src| format!("permit {proto} {src} host {server} eq {}", infra.port))
            })
            .collect();
        block(out, &format!("infrastructure {label}"), &requests);
    }
    for Flow {
        client,
        server,
        protocol,
        port,
    } in flows
    {
        let service = match port {
            Some(port) => format!("{protocol}/{port}"),
            None => protocol.clone(),
        };
        let proto = family.protocol_word(protocol);
        let eq_text = port.map(|p| format!(" eq {p}")).unwrap_or_default();
        let eq = eq_text.as_str();
        if *client == me {
            let lines: Vec<String> = family
                .matches(policy, server)
                .iter()
                .flat_map(|dst| {
                    mine.iter()
                        .map(move |src| format!("permit {proto} {src} {dst}{eq}"))
                })
                .collect();
            block(
                out,
                &format!("{} -> {} {service}", group.name, server.label()),
                &lines,
            );
        }
        if *server == me {
            let established = if protocol == "tcp" {
                " established"
            } else {
                ""
            };
            let lines: Vec<String> = family
                .matches(policy, client)
                .iter()
                .flat_map(|dst| {
                    mine.iter()
                        .map(move |src| format!("permit {proto} {src}{eq} {dst}{established}"))
                })
                .collect();
            block(
                out,
                &format!("replies: {} -> {} {service}", client.label(), group.name),
                &lines,
            );
        }
    }
    // Baselines learn no ICMP: pings, unreachables and path MTU messages
    // pass.
    remark(out, "ICMP: not learned, not judged");
    for line in family.tail() {
        let _ = writeln!(out, "{line}");
    }
}
