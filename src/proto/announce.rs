//! What a host says about itself in one datagram or link-layer frame: the
//! DHCP and DHCPv6 requests it sends, the names it answers for in mDNS,
//! LLMNR and NetBIOS, the server it announces in SSDP, the system it
//! describes in LLDP and CDP. Each becomes identity facts of the sender
//! (`dhcp.hostname`, `mdns.hostname`, `lldp.system_name`, …), which the
//! device table keeps beside what the clinical protocols say.
//!
//! Only a host's own words count: a DHCP request from a client's port (a
//! relay forwards from the server port, and its address is not the
//! client's), names bound to the sender's own address, SSDP announcements
//! and answers rather than searches. What a DNS server's answers say of
//! other hosts is read apart ([`named_addresses`]): a name for an address,
//! kept as `dns.name` of whichever device uses it.
//!
//! Guarantees: never panics (the parsers it calls never do, and this only
//! picks fields); at most [`MAX_ANNOUNCED_FACTS`] facts a datagram, each
//! value sanitised and bounded by its parser.

use std::net::IpAddr;

use super::dhcp::{parse_dhcpv4, parse_dhcpv6};
use super::lldp::{parse_cdp, parse_lldp};
use super::names::{ClaimKind, Section, parse_dns, parse_nbns};
use super::ssdp::{SsdpKind, parse_ssdp};

/// Facts one datagram gives at most.
pub const MAX_ANNOUNCED_FACTS: usize = 16;
/// Names one DNS answer gives to addresses at most.
pub const MAX_NAMED_ADDRESSES: usize = 8;

const DNS_PORT: u16 = 53;

const DHCP_SERVER_PORT: u16 = 67;
const DHCP_CLIENT_PORT: u16 = 68;
const DHCPV6_CLIENT_PORT: u16 = 546;
const DHCPV6_SERVER_PORT: u16 = 547;
const NETBIOS_NAME_PORT: u16 = 137;
const SSDP_PORT: u16 = 1900;
const MDNS_PORT: u16 = 5353;
const LLMNR_PORT: u16 = 5355;

/// LLDP's EtherType.
const ETHERTYPE_LLDP: u16 = 0x88cc;
/// The largest value of the EtherType field that is an 802.3 length (CDP
/// travels in 802.3 frames with LLC/SNAP).
const MAX_8023_LENGTH: u16 = 1500;

/// The DNS header's response bit.
const DNS_RESPONSE: u16 = 0x8000;
/// The DNS header's response code bits.
const DNS_RCODE: u16 = 0x000f;
/// NetBIOS opcodes in which a host states its own names: registration (5),
/// refresh (8, 9), and positive answers (0 with the response bit).
const NBNS_OWN_OPCODES: [u16; 4] = [0, 5, 8, 9];

/// One identity fact: its dotted name and value.
pub type AnnouncedFact = (&'static str, String);

/// A host name a DNS server gave for an address.
pub type NamedAddress = (IpAddr, String);

/// Whether a UDP datagram from this port may be a DNS server's answer.
pub fn may_name_others(src_port: u16) -> bool {
    src_port == DNS_PORT
}

/// The names a DNS server's successful answer (`payload`) binds to
/// addresses in its answer section — A and AAAA records, and PTR records of
/// reverse lookups — into `out`, at most [`MAX_NAMED_ADDRESSES`]. What a
/// resolver is told is what the network calls a host: not what the host
/// says of itself, but often the only name a device that never announces
/// itself has.
pub fn named_addresses(payload: &[u8], out: &mut Vec<NamedAddress>) {
    // The header says whether there is anything to read (a successful
    // response with answers) before the message is parsed and allocated.
    let [_, _, f0, f1, _, _, a0, a1, ..] = *payload else {
        return;
    };
    let flags = u16::from_be_bytes([f0, f1]);
    if flags & DNS_RESPONSE == 0 || flags & DNS_RCODE != 0 || u16::from_be_bytes([a0, a1]) == 0 {
        return;
    }
    let message = parse_dns(payload);
    if !message.header.is_response() || message.header.rcode() != 0 {
        return;
    }
    for claim in message.name_claims() {
        if out.len() >= MAX_NAMED_ADDRESSES {
            break;
        }
        let name = claim.name.trim_end_matches('.').trim();
        if claim.section != Section::Answer
            || name.is_empty()
            || claim.address.is_unspecified()
            || out.iter().any(|(a, n)| *a == claim.address && n == name)
        {
            continue;
        }
        out.push((claim.address, name.to_owned()));
    }
}

/// Whether a UDP datagram between these ports may announce something:
/// a cheap test before any parsing.
pub fn may_announce(src_port: u16, dst_port: u16) -> bool {
    matches!(
        (src_port, dst_port),
        (DHCP_CLIENT_PORT, DHCP_SERVER_PORT)
            | (DHCPV6_CLIENT_PORT, DHCPV6_SERVER_PORT)
            | (NETBIOS_NAME_PORT, _)
            | (MDNS_PORT, _)
            | (LLMNR_PORT, _)
            | (SSDP_PORT, _)
            | (_, SSDP_PORT)
    )
}

/// The facts a UDP datagram from `sender` (ports `src_port` → `dst_port`,
/// `payload` its data) gives about its sender, into `out`.
pub fn announced(
    sender: IpAddr,
    src_port: u16,
    dst_port: u16,
    payload: &[u8],
    out: &mut Vec<AnnouncedFact>,
) {
    match (src_port, dst_port) {
        (DHCP_CLIENT_PORT, DHCP_SERVER_PORT) => dhcpv4(payload, out),
        (DHCPV6_CLIENT_PORT, DHCPV6_SERVER_PORT) => dhcpv6(payload, out),
        (NETBIOS_NAME_PORT, _) => netbios(sender, payload, out),
        (MDNS_PORT, _) => dns_names(sender, payload, "mdns.hostname", out),
        (LLMNR_PORT, _) => dns_names(sender, payload, "llmnr.hostname", out),
        (SSDP_PORT, _) | (_, SSDP_PORT) => ssdp(payload, out),
        _ => {}
    }
    out.truncate(MAX_ANNOUNCED_FACTS);
}

/// Whether a non-IP frame of this EtherType may announce something.
pub fn link_may_announce(ether_type: u16) -> bool {
    ether_type == ETHERTYPE_LLDP || ether_type <= MAX_8023_LENGTH
}

/// The facts an LLDP frame or a CDP frame (`payload`: the link layer's
/// payload) gives about its sender, into `out`.
pub fn link_announced(ether_type: u16, payload: &[u8], out: &mut Vec<AnnouncedFact>) {
    if ether_type == ETHERTYPE_LLDP {
        let facts = parse_lldp(payload);
        if let Some(name) = &facts.system_name {
            push(out, "lldp.system_name", name);
        }
        if let Some(description) = &facts.system_description {
            push(out, "lldp.system_description", description);
        }
    } else if ether_type <= MAX_8023_LENGTH {
        let facts = parse_cdp(payload);
        if let Some(id) = &facts.device_id {
            push(out, "cdp.device_id", id);
        }
        if let Some(platform) = &facts.platform {
            push(out, "cdp.platform", platform);
        }
        if let Some(software) = &facts.software_version {
            push(out, "cdp.software_version", software);
        }
    }
    out.truncate(MAX_ANNOUNCED_FACTS);
}

fn push(out: &mut Vec<AnnouncedFact>, name: &'static str, value: &str) {
    let value = value.trim();
    if !value.is_empty() && !out.iter().any(|(n, v)| *n == name && v == value) {
        out.push((name, value.to_owned()));
    }
}

fn dhcpv4(payload: &[u8], out: &mut Vec<AnnouncedFact>) {
    let facts = parse_dhcpv4(payload);
    // BOOTREQUEST: the client speaking.
    if facts.op != 1 {
        return;
    }
    if let Some(name) = &facts.host_name {
        push(out, "dhcp.hostname", name);
    }
    if let Some(fqdn) = &facts.client_fqdn {
        push(out, "dhcp.fqdn", &fqdn.name);
    }
    if let Some(class) = &facts.vendor_class {
        push(out, "dhcp.vendor_class", class);
    }
    if let Some(list) = &facts.parameter_request_list {
        push(out, "dhcp.fingerprint", &list.fingerprint());
    }
}

fn dhcpv6(payload: &[u8], out: &mut Vec<AnnouncedFact>) {
    let facts = parse_dhcpv6(payload);
    if let Some(fqdn) = &facts.client_fqdn {
        push(out, "dhcpv6.fqdn", &fqdn.name);
    }
    if let Some(class) = &facts.vendor_class {
        let data: Vec<&str> = class.data.iter().map(|d| d.as_ref()).collect();
        push(
            out,
            "dhcpv6.vendor_class",
            &format!("{}:{}", class.enterprise, data.join(",")),
        );
    }
    if let Some(duid) = &facts.client_duid {
        push(out, "dhcpv6.duid", &duid.hex());
    }
    if let Some(list) = &facts.option_request {
        push(out, "dhcpv6.fingerprint", &list.fingerprint());
    }
}

/// Names a DNS-format answer (mDNS, LLMNR) binds to the sender's own
/// address.
fn dns_names(sender: IpAddr, payload: &[u8], fact: &'static str, out: &mut Vec<AnnouncedFact>) {
    let message = parse_dns(payload);
    if message.header.flags & DNS_RESPONSE == 0 {
        return;
    }
    for claim in message.name_claims() {
        if claim.kind == ClaimKind::Forward && claim.address == sender {
            push(out, fact, claim.name.trim_end_matches('.'));
        }
    }
}

fn netbios(sender: IpAddr, payload: &[u8], out: &mut Vec<AnnouncedFact>) {
    let IpAddr::V4(sender) = sender else {
        return;
    };
    let message = parse_nbns(payload);
    let opcode = (message.header.flags >> 11) & 0x0f;
    if !NBNS_OWN_OPCODES.contains(&opcode)
        || (opcode == 0 && message.header.flags & DNS_RESPONSE == 0)
    {
        return;
    }
    for name in &message.names {
        if name.section.is_none() || !name.addresses.contains(&sender) {
            continue;
        }
        let fact = if name.group == Some(true) {
            "netbios.group"
        } else {
            "netbios.name"
        };
        push(out, fact, &name.name.to_string());
    }
}

fn ssdp(payload: &[u8], out: &mut Vec<AnnouncedFact>) {
    let message = parse_ssdp(payload);
    if !matches!(
        message.kind,
        Some(SsdpKind::Notify | SsdpKind::Response { .. })
    ) {
        return;
    }
    if let Some(server) = &message.server {
        push(out, "ssdp.server", server);
    }
    if let Some(location) = &message.location {
        push(out, "ssdp.location", location);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_clients_and_announcers_ports_are_looked_at() {
        assert!(may_announce(68, 67));
        assert!(!may_announce(67, 68), "a server's or relay's DHCP");
        assert!(may_announce(546, 547));
        assert!(may_announce(5353, 5353));
        assert!(may_announce(49_152, 1900));
        assert!(!may_announce(40_000, 53));
    }

    /// A DNS response: one question, then `answers` (name, type, data).
    fn dns_response(rcode: u16, answers: &[(&str, u16, Vec<u8>)]) -> Vec<u8> {
        let name = |n: &str| {
            let mut out = Vec::new();
            for label in n.split('.').filter(|l| !l.is_empty()) {
                out.push(label.len() as u8);
                out.extend(label.as_bytes());
            }
            out.push(0);
            out
        };
        let mut m = vec![0x12, 0x34];
        m.extend((0x8180u16 | rcode).to_be_bytes());
        m.extend([0, 1]);
        m.extend((answers.len() as u16).to_be_bytes());
        m.extend([0, 0, 0, 0]);
        m.extend(name("pacs.example"));
        m.extend([0, 1, 0, 1]);
        for (owner, rtype, data) in answers {
            m.extend(name(owner));
            m.extend(rtype.to_be_bytes());
            m.extend([0, 1, 0, 0, 0x0e, 0x10]);
            m.extend((data.len() as u16).to_be_bytes());
            m.extend(data);
        }
        m
    }

    #[test]
    fn a_dns_servers_answers_name_addresses() {
        let mut ptr_target = Vec::new();
        for label in ["ws01", "ward3", "example"] {
            ptr_target.push(label.len() as u8);
            ptr_target.extend(label.as_bytes());
        }
        ptr_target.push(0);
        let answer = dns_response(
            0,
            &[
                ("pacs.example", 1, vec![10, 20, 2, 10]),
                (
                    "pacs.example",
                    28,
                    "fd20::10"
                        .parse::<std::net::Ipv6Addr>()
                        .unwrap()
                        .octets()
                        .to_vec(),
                ),
                ("50.1.20.10.in-addr.arpa", 12, ptr_target),
                ("pacs.example", 16, b"\x03txt".to_vec()),
            ],
        );
        assert!(may_name_others(53));
        assert!(!may_name_others(5353));
        let mut out = Vec::new();
        named_addresses(&answer, &mut out);
        assert_eq!(
            out,
            vec![
                ("10.20.2.10".parse().unwrap(), "pacs.example".to_owned()),
                ("fd20::10".parse().unwrap(), "pacs.example".to_owned()),
                (
                    "10.20.1.50".parse().unwrap(),
                    "ws01.ward3.example".to_owned()
                ),
            ]
        );
        // NXDOMAIN, and a query, name nothing.
        let mut out = Vec::new();
        named_addresses(
            &dns_response(3, &[("pacs.example", 1, vec![10, 20, 2, 10])]),
            &mut out,
        );
        let mut query = answer.clone();
        query[2] &= 0x7f;
        named_addresses(&query, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn garbage_gives_no_fact_and_no_panic() {
        let mut out = Vec::new();
        for (src, dst) in [
            (68, 67),
            (546, 547),
            (137, 137),
            (5353, 5353),
            (5355, 50_000),
            (1900, 1900),
        ] {
            announced(
                "10.0.0.1".parse().unwrap(),
                src,
                dst,
                &[0xff; 300],
                &mut out,
            );
            announced("10.0.0.1".parse().unwrap(), src, dst, &[], &mut out);
        }
        assert!(out.is_empty(), "{out:?}");
        for ether_type in [0x88cc, 0x0100, 0x05dc] {
            link_announced(ether_type, &[0xaa; 64], &mut out);
        }
        assert!(out.is_empty(), "{out:?}");
        assert!(!link_may_announce(0x0800));
    }
}
