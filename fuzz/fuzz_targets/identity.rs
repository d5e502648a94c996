//! Any bytes, given to every identity parser as one datagram or frame
//! payload, and to the announcement reader on every port and EtherType it
//! reads: each returns, and what it reports stays within its limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medtap::proto::{announce, dhcp, lldp, names, ssdp};

fuzz_target!(|data: &[u8]| {
    let v4 = dhcp::parse_dhcpv4(data);
    assert!(
        v4.host_name
            .is_none_or(|h| h.len() <= dhcp::MAX_HOST_NAME_LEN)
    );
    let v6 = dhcp::parse_dhcpv6(data);
    assert!(
        v6.client_duid
            .is_none_or(|d| d.raw.len() <= dhcp::MAX_CLIENT_ID_LEN)
    );
    let dns = names::parse_dns(data);
    assert!(
        dns.records.len() <= names::MAX_RECORDS && dns.name_claims().count() <= names::MAX_RECORDS
    );
    assert!(names::parse_nbns(data).names.len() <= names::MAX_NBNS_NAMES);
    assert!(
        ssdp::parse_ssdp(data)
            .server
            .is_none_or(|s| s.len() <= ssdp::MAX_HEADER_VALUE_LEN)
    );
    assert!(lldp::parse_lldp(data).management_addresses.len() <= lldp::MAX_ADDRESSES);
    assert!(lldp::parse_cdp(data).addresses.len() <= lldp::MAX_ADDRESSES);
    let mut facts = Vec::new();
    let sender = std::net::Ipv4Addr::new(10, 0, 0, 1).into();
    for (src, dst) in [
        (68, 67),
        (546, 547),
        (137, 137),
        (5353, 5353),
        (5355, 5355),
        (1900, 1900),
    ] {
        announce::announced(sender, src, dst, data, &mut facts);
        assert!(facts.len() <= announce::MAX_ANNOUNCED_FACTS);
        facts.clear();
    }
    for ether_type in [0x88cc, 0x0100] {
        announce::link_announced(ether_type, data, &mut facts);
        assert!(facts.len() <= announce::MAX_ANNOUNCED_FACTS);
        facts.clear();
    }
    let mut names = Vec::new();
    announce::named_addresses(data, &mut names);
    assert!(names.len() <= announce::MAX_NAMED_ADDRESSES);
});
