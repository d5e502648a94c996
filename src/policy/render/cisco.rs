//! The Cisco IOS rendering: one extended named ACL per group,
//! `medtap-<group>`, for the traffic its members send — apply it inbound
//! on the interface (or SVI) facing them. IOS ACLs keep no state, so a
//! group that serves (a clinical service or the infrastructure) gets
//! `permit` lines for its replies (TCP with `established`), and each ACL
//! ends in `permit icmp any any` (baselines learn no ICMP) and
//! `deny ip any any log`.
//!
//! IPv4 only: a group's IPv6 addresses are named in a `remark`, to be
//! covered by an `ipv6 access-list` of the network team's own.

use std::fmt::Write;
use std::net::IpAddr;

use super::{End, Flow, flows, group_addresses, header};
use crate::policy::Policy;

/// Longest `remark` text IOS takes, in characters.
pub const MAX_REMARK: usize = 100;

fn remark(out: &mut String, text: &str) {
    let text: String = text.chars().take(MAX_REMARK).collect();
    let _ = writeln!(out, " remark {text}");
}

/// The IPv4 address matches an end stands for (`host A`, `A WILDCARD`).
fn v4_matches(policy: &Policy, end: &End) -> Vec<String> {
    match end {
        End::Group(name) => group_addresses(policy, name)
            .into_iter()
            .filter(IpAddr::is_ipv4)
            .map(|ip| format!("host {ip}"))
            .collect(),
        End::Network(ipnet::IpNet::V4(net)) if net.prefix_len() == 32 => {
            vec![format!("host {}", net.addr())]
        }
        End::Network(ipnet::IpNet::V4(net)) => {
            vec![format!("{} {}", net.network(), net.hostmask())]
        }
        End::Network(ipnet::IpNet::V6(_)) => Vec::new(),
    }
}

fn protocol_word(protocol: &str) -> &str {
    match protocol {
        // IOS names these; any other is given by number.
        "tcp" | "udp" | "icmp" => protocol,
        "sctp" => "132",
        other => other,
    }
}

/// Renders `policy` as IOS extended named ACLs.
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
        let me = End::Group(group.name.clone());
        let mine = v4_matches(policy, &me);
        let _ = writeln!(out, "!");
        let _ = writeln!(out, "ip access-list extended medtap-{}", group.name);
        remark(
            &mut out,
            &format!(
                "medtap group {}: from its members; apply inbound",
                group.name
            ),
        );
        let v6: Vec<String> = group_addresses(policy, &group.name)
            .into_iter()
            .filter(IpAddr::is_ipv6)
            .map(|ip| ip.to_string())
            .collect();
        if !v6.is_empty() {
            remark(
                &mut out,
                &format!("IPv6 members not covered here: {}", v6.join(" ")),
            );
        }
        if let Some(requests) = super::dicom_requests(group) {
            remark(&mut out, &requests);
        }
        let own: Vec<IpAddr> = group_addresses(policy, &group.name);
        for infra in &policy.infrastructure {
            // A group that is the infrastructure's server answers its
            // clients; IOS ACLs keep no state.
            let served: Vec<&IpAddr> = infra
                .servers
                .iter()
                .filter(|ip| ip.is_ipv4() && own.contains(ip))
                .collect();
            if !served.is_empty() {
                remark(
                    &mut out,
                    &format!(
                        "replies: infrastructure {} {}/{}",
                        infra.service, infra.protocol, infra.port
                    ),
                );
                let clients: Vec<String> = infra
                    .clients
                    .iter()
                    .flat_map(|g| v4_matches(policy, &End::Group(g.clone())))
                    .collect();
                let established = if infra.protocol == "tcp" {
                    " established"
                } else {
                    ""
                };
                for server in &served {
                    for dst in &clients {
                        let _ = writeln!(
                            out,
                            " permit {} host {server} eq {} {dst}{established}",
                            protocol_word(&infra.protocol),
                            infra.port
                        );
                    }
                }
            }
            if !infra.clients.contains(&group.name) {
                continue;
            }
            remark(
                &mut out,
                &format!(
                    "infrastructure {} {}/{}",
                    infra.service, infra.protocol, infra.port
                ),
            );
            for server in infra.servers.iter().filter(|ip| ip.is_ipv4()) {
                for src in &mine {
                    let _ = writeln!(
                        out,
                        " permit {} {src} host {server} eq {}",
                        protocol_word(&infra.protocol),
                        infra.port
                    );
                }
            }
        }
        for Flow {
            client,
            server,
            protocol,
            port,
        } in &flows
        {
            let service = match port {
                Some(port) => format!("{protocol}/{port}"),
                None => protocol.clone(),
            };
            let proto = protocol_word(protocol);
            if *client == me {
                remark(
                    &mut out,
                    &format!("{} -> {} {service}", group.name, server.label()),
                );
                for dst in v4_matches(policy, server) {
                    for src in &mine {
                        let eq = port.map(|p| format!(" eq {p}")).unwrap_or_default();
                        let _ = writeln!(out, " permit {proto} {src} {dst}{eq}");
                    }
                }
            }
            if *server == me {
                remark(
                    &mut out,
                    &format!("replies: {} -> {} {service}", client.label(), group.name),
                );
                for dst in v4_matches(policy, client) {
                    for src in &mine {
                        let eq = port.map(|p| format!(" eq {p}")).unwrap_or_default();
                        let established = if protocol == "tcp" {
                            " established"
                        } else {
                            ""
                        };
                        let _ = writeln!(out, " permit {proto} {src}{eq} {dst}{established}");
                    }
                }
            }
        }
        // Baselines learn no ICMP: pings, unreachables and path MTU
        // messages pass.
        remark(&mut out, "ICMP: not learned, not judged");
        let _ = writeln!(out, " permit icmp any any");
        let _ = writeln!(out, " deny ip any any log");
    }
    let _ = writeln!(out, "!");
    let _ = writeln!(out, "end");
    out
}
