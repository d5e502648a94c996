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
//! and answers rather than searches. What others say of a host (a DNS
//! server's answers, a relay's forwarding) is not its identity here.
//!
//! Guarantees: never panics (the parsers it calls never do, and this only
//! picks fields); at most [`MAX_ANNOUNCED_FACTS`] facts a datagram, each
//! value sanitised and bounded by its parser.

use std::net::IpAddr;

use super::dhcp::{parse_dhcpv4, parse_dhcpv6};
use super::lldp::{parse_cdp, parse_lldp};
use super::names::{ClaimKind, parse_dns, parse_nbns};
use super::ssdp::{SsdpKind, parse_ssdp};

/// Facts one datagram gives at most.
pub const MAX_ANNOUNCED_FACTS: usize = 16;

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
/// NetBIOS opcodes in which a host states its own names: registration (5),
/// refresh (8, 9), and positive answers (0 with the response bit).
const NBNS_OWN_OPCODES: [u16; 4] = [0, 5, 8, 9];

/// One identity fact: its dotted name and value.
pub type AnnouncedFact = (&'static str, String);

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
