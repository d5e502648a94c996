//! Tests of the LLDP and CDP parsers: hand-made frames with a comment per
//! TLV, the mandatory order, length and count bounds, and property tests
//! that nothing panics. The real capture is checked against tshark in
//! `tests/identity_parsers.rs`.

use super::*;
use proptest::prelude::*;

/// An LLDP TLV: 7-bit type, 9-bit length, value.
fn tlv(kind: u8, value: &[u8]) -> Vec<u8> {
    let header = (u16::from(kind) << 9) | value.len() as u16;
    let mut out = header.to_be_bytes().to_vec();
    out.extend_from_slice(value);
    out
}

/// An LLDPDU as a switch sends it.
fn lldpdu() -> Vec<u8> {
    [
        tlv(1, &[4, 0x02, 0x69, 0x64, 0x00, 0x00, 0x01]), // chassis: MAC
        tlv(2, b"\x05ge-0/0/7"),                          // port: interface name
        tlv(3, &[0x00, 0x78]),                            // TTL 120
        tlv(4, b"Bed 12 monitor"),                        // port description
        tlv(5, b"ward-switch-1"),                         // system name
        tlv(6, b"MedTap ward switch, release 1.0"),       // system description
        tlv(7, &[0x00, 0x14, 0x00, 0x04]),                // caps: bridge+router; bridge on
        tlv(8, &[5, 1, 10, 77, 0, 1, 2, 0, 0, 0, 2, 0]),  // management: IPv4, ifIndex 2
        tlv(127, &[0x00, 0x12, 0x0f, 0x01, 0, 0, 0, 0, 0]), // 802.3 MAC/PHY: skipped
        tlv(0, &[]),                                      // end
    ]
    .concat()
}

#[test]
fn an_lldpdu_gives_names_ids_and_addresses() {
    let bytes = lldpdu();
    let f = parse_lldp(&bytes);
    assert!(f.anomalies.is_empty(), "{:?}", f.anomalies);
    let chassis = f.chassis_id.unwrap();
    assert_eq!((chassis.subtype, &*chassis.value), (4, "02:69:64:00:00:01"));
    let port = f.port_id.unwrap();
    assert_eq!((port.subtype, &*port.value), (5, "ge-0/0/7"));
    assert_eq!(f.ttl, Some(120));
    assert_eq!(f.port_description.as_deref(), Some("Bed 12 monitor"));
    assert_eq!(f.system_name.as_deref(), Some("ward-switch-1"));
    assert_eq!(
        f.system_description.as_deref(),
        Some("MedTap ward switch, release 1.0")
    );
    assert_eq!(
        f.capabilities,
        Some(Capabilities {
            available: 0x14,
            enabled: 0x04
        })
    );
    assert_eq!(
        f.management_addresses,
        vec![ManagementAddress::Ip("10.77.0.1".parse().unwrap())]
    );
}

#[test]
fn management_addresses_of_every_family() {
    let mut ipv6 = vec![17, 2];
    ipv6.extend("fd77::1".parse::<std::net::Ipv6Addr>().unwrap().octets());
    ipv6.extend([2, 0, 0, 0, 2, 0]);
    let bytes = [
        tlv(1, &[7, b'x']),
        tlv(2, &[7, b'y']),
        tlv(3, &[0, 0]),
        tlv(8, &ipv6),
        tlv(8, &[7, 6, 2, 0x69, 0x64, 0, 0, 1, 1, 0, 0, 0, 0, 0]), // MAC
        tlv(8, &[3, 99, 0xAB, 0xCD, 1, 0, 0, 0, 0, 0]),            // family 99
        tlv(0, &[]),
    ]
    .concat();
    let f = parse_lldp(&bytes);
    assert!(f.anomalies.is_empty(), "{:?}", f.anomalies);
    assert_eq!(
        f.management_addresses,
        vec![
            ManagementAddress::Ip("fd77::1".parse().unwrap()),
            ManagementAddress::Mac([2, 0x69, 0x64, 0, 0, 1]),
            ManagementAddress::Other(99, "abcd".into()),
        ]
    );
    assert_eq!(f.ttl, Some(0), "a shutdown LLDPDU");
}

#[test]
fn max_addresses_is_the_most_kept() {
    let address = tlv(8, &[5, 1, 10, 0, 0, 1, 1, 0, 0, 0, 0, 0]);
    let with = |n: usize| {
        let mut bytes = [tlv(1, &[7, b'x']), tlv(2, &[7, b'y']), tlv(3, &[0, 9])].concat();
        for _ in 0..n {
            bytes.extend(&address);
        }
        bytes.extend(tlv(0, &[]));
        bytes
    };
    let bytes = with(MAX_ADDRESSES);
    let f = parse_lldp(&bytes);
    assert_eq!(f.management_addresses.len(), MAX_ADDRESSES);
    assert!(f.anomalies.is_empty());
    let bytes = with(MAX_ADDRESSES + 1);
    let f = parse_lldp(&bytes);
    assert_eq!(f.management_addresses.len(), MAX_ADDRESSES);
    assert_eq!(f.anomalies, vec![LldpAnomaly::TooManyAddresses]);
}

#[test]
fn the_mandatory_tlvs_come_first() {
    let bytes = [
        tlv(5, b"early"),
        tlv(1, &[7, b'x']),
        tlv(2, &[7, b'y']),
        tlv(3, &[0, 9]),
        tlv(0, &[]),
    ]
    .concat();
    let f = parse_lldp(&bytes);
    assert_eq!(f.system_name.as_deref(), Some("early"), "still read");
    assert_eq!(f.anomalies, vec![LldpAnomaly::MissingMandatory]);
    assert_eq!(
        parse_lldp(&tlv(0, &[])).anomalies,
        vec![LldpAnomaly::MissingMandatory]
    );
}

#[test]
fn a_frame_without_end_or_cut_short_is_counted() {
    let mut bytes = lldpdu();
    bytes.truncate(bytes.len() - 2);
    assert_eq!(parse_lldp(&bytes).anomalies, vec![LldpAnomaly::NoEnd]);
    let bytes = lldpdu();
    // Cut inside the port description: what came before is kept.
    let cut = &bytes[..30];
    let f = parse_lldp(cut);
    assert_eq!(f.ttl, Some(120));
    assert_eq!(f.port_description, None);
    assert_eq!(
        f.anomalies,
        vec![LldpAnomaly::Truncated, LldpAnomaly::NoEnd]
    );
}

#[test]
fn wrong_lengths_and_repeats_are_counted() {
    let bytes = [
        tlv(1, &[4]), // chassis id with no id
        tlv(2, &[7, b'y']),
        tlv(3, &[0, 9, 9]), // TTL of three bytes
        tlv(5, b"one"),
        tlv(5, b"two"),     // system name again
        tlv(7, &[0, 4, 0]), // capabilities of three bytes
        tlv(0, &[]),
    ]
    .concat();
    let f = parse_lldp(&bytes);
    assert_eq!(f.chassis_id, None);
    assert_eq!(f.ttl, None);
    assert_eq!(f.system_name.as_deref(), Some("one"));
    assert_eq!(f.capabilities, None);
    assert_eq!(
        f.anomalies,
        vec![LldpAnomaly::BadTlvLength, LldpAnomaly::RepeatedTlv]
    );
}

#[test]
fn text_is_bounded_and_sanitised() {
    let long = vec![b'd'; 511]; // the longest TLV value
    let bytes = [
        tlv(1, &[7, b'x']),
        tlv(2, &[7, b'y']),
        tlv(3, &[0, 9]),
        tlv(6, &long),
        tlv(5, b"pump\x1b[0m"),
        tlv(0, &[]),
    ]
    .concat();
    let f = parse_lldp(&bytes);
    assert_eq!(f.system_description.unwrap().len(), MAX_TEXT_LEN);
    assert_eq!(f.system_name.as_deref(), Some("pump\u{fffd}[0m"));
}

// ---------------------------------------------------------------------------
// CDP
// ---------------------------------------------------------------------------

/// A CDP TLV: 2-byte type, 2-byte length counting the header, value.
fn cdp_tlv(kind: u16, value: &[u8]) -> Vec<u8> {
    let mut out = kind.to_be_bytes().to_vec();
    out.extend((value.len() as u16 + 4).to_be_bytes());
    out.extend_from_slice(value);
    out
}

fn cdp_frame() -> Vec<u8> {
    let mut addresses = 2u32.to_be_bytes().to_vec(); // two addresses
    addresses.extend([1, 1, 0xCC, 0, 4, 10, 77, 0, 147]); // NLPID IP, 10.77.0.147
    addresses.extend([2, 8, 0xAA, 0xAA, 3, 0, 0, 0, 0x86, 0xDD, 0, 16]); // 802.2 IPv6
    addresses.extend("fd77::a".parse::<std::net::Ipv6Addr>().unwrap().octets());
    [
        vec![0xAA, 0xAA, 0x03, 0x00, 0x00, 0x0C, 0x20, 0x00], // LLC, SNAP: Cisco, CDP
        vec![0x02, 0xB4, 0x12, 0x34],                         // version 2, TTL 180, checksum
        cdp_tlv(0x0001, b"infusion-pump-7"),                  // device id
        cdp_tlv(0x0002, &addresses),                          // addresses
        cdp_tlv(0x0003, b"eth0"),                             // port id
        cdp_tlv(0x0004, &[0, 0, 0, 0x10]),                    // capabilities: host
        cdp_tlv(0x0005, b"MedTap BX-300, firmware 4.2.1"),    // software version
        cdp_tlv(0x0006, b"BX-300"),                           // platform
        cdp_tlv(0x000A, &[0x00, 0x0C]),                       // native VLAN 12
        cdp_tlv(0x0011, &[0, 0, 5, 0xDC]),                    // MTU: skipped
    ]
    .concat()
}

#[test]
fn a_cdp_frame_gives_device_software_and_addresses() {
    let bytes = cdp_frame();
    let f = parse_cdp(&bytes);
    assert!(f.anomalies.is_empty(), "{:?}", f.anomalies);
    assert_eq!((f.version, f.ttl), (2, 180));
    assert_eq!(f.device_id.as_deref(), Some("infusion-pump-7"));
    assert_eq!(f.port_id.as_deref(), Some("eth0"));
    assert_eq!(f.capabilities, Some(0x10));
    assert_eq!(
        f.software_version.as_deref(),
        Some("MedTap BX-300, firmware 4.2.1")
    );
    assert_eq!(f.platform.as_deref(), Some("BX-300"));
    assert_eq!(f.native_vlan, Some(12));
    assert_eq!(
        f.addresses,
        vec![
            "10.77.0.147".parse::<IpAddr>().unwrap(),
            "fd77::a".parse().unwrap()
        ]
    );
}

#[test]
fn other_llc_is_not_cdp() {
    let mut bytes = cdp_frame();
    bytes[7] = 0x04; // SNAP protocol 0x2004: DTP
    assert_eq!(parse_cdp(&bytes).anomalies, vec![LldpAnomaly::NotCdp]);
    assert_eq!(
        parse_cdp(&[0x42, 0x42, 0x03]).anomalies,
        vec![LldpAnomaly::NotCdp]
    );
}

#[test]
fn cdp_tlv_lengths_are_checked() {
    let header = [0xAA, 0xAA, 0x03, 0x00, 0x00, 0x0C, 0x20, 0x00, 2, 180, 0, 0];
    // A length below the 4-byte TLV header.
    let bytes = [&header[..], &[0, 1, 0, 3, b'x']].concat();
    assert_eq!(parse_cdp(&bytes).anomalies, vec![LldpAnomaly::Truncated]);
    // A length past the frame.
    let bytes = [&header[..], &[0, 1, 0, 40, b'x']].concat();
    assert_eq!(parse_cdp(&bytes).anomalies, vec![LldpAnomaly::Truncated]);
    // A 4-byte header with no value is an empty device id.
    let bytes = [&header[..], &[0, 1, 0, 4]].concat();
    let f = parse_cdp(&bytes);
    assert_eq!(f.device_id.as_deref(), Some(""));
    assert!(f.anomalies.is_empty());
    // Capabilities of two bytes.
    let bytes = [&header[..], &cdp_tlv(4, &[0, 1])].concat();
    assert_eq!(parse_cdp(&bytes).anomalies, vec![LldpAnomaly::BadTlvLength]);
    // The header alone.
    assert_eq!(
        parse_cdp(&header[..11]).anomalies,
        vec![LldpAnomaly::Truncated]
    );
    assert!(parse_cdp(&header).anomalies.is_empty());
}

proptest! {
    #[test]
    fn lldp_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..1500)) {
        let f = parse_lldp(&bytes);
        prop_assert!(f.management_addresses.len() <= MAX_ADDRESSES);
        for t in [&f.system_name, &f.system_description, &f.port_description].into_iter().flatten() {
            prop_assert!(t.len() <= MAX_TEXT_LEN);
        }
    }

    #[test]
    fn lldp_tlvs_never_panic(tlvs in proptest::collection::vec((0u8..128, proptest::collection::vec(any::<u8>(), 0..40)), 0..30)) {
        let bytes: Vec<u8> = tlvs.iter().flat_map(|(k, v)| tlv(*k, v)).collect();
        let _ = parse_lldp(&bytes);
    }

    #[test]
    fn cdp_never_panics(body in proptest::collection::vec(any::<u8>(), 0..1500)) {
        let mut bytes = vec![0xAA, 0xAA, 0x03, 0x00, 0x00, 0x0C, 0x20, 0x00];
        bytes.extend(body);
        let f = parse_cdp(&bytes);
        prop_assert!(f.addresses.len() <= MAX_ADDRESSES);
        prop_assert!(f.management_addresses.len() <= MAX_ADDRESSES);
    }
}
