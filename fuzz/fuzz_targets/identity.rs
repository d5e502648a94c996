//! Any bytes, given to every identity parser as one datagram or frame
//! payload: each returns, and what it reports stays within its limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medtap::proto::{dhcp, lldp, names, ssdp};

fuzz_target!(|data: &[u8]| {
    let v4 = dhcp::parse_dhcpv4(data);
    assert!(v4.host_name.is_none_or(|h| h.len() <= dhcp::MAX_HOST_NAME_LEN));
    let v6 = dhcp::parse_dhcpv6(data);
    assert!(v6.client_duid.is_none_or(|d| d.raw.len() <= dhcp::MAX_CLIENT_ID_LEN));
    let dns = names::parse_dns(data);
    assert!(dns.records.len() <= names::MAX_RECORDS && dns.name_claims().count() <= names::MAX_RECORDS);
    assert!(names::parse_nbns(data).names.len() <= names::MAX_NBNS_NAMES);
    assert!(ssdp::parse_ssdp(data).server.is_none_or(|s| s.len() <= ssdp::MAX_HEADER_VALUE_LEN));
    assert!(lldp::parse_lldp(data).management_addresses.len() <= lldp::MAX_ADDRESSES);
    assert!(lldp::parse_cdp(data).addresses.len() <= lldp::MAX_ADDRESSES);
});
