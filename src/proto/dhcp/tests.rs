//! Tests of the DHCP parsers: hand-made messages with a comment per field,
//! the boundaries of the header, options and DUIDs, and property tests that
//! nothing panics. The real capture is checked against tshark in
//! `tests/identity_parsers.rs`.

use super::*;
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// DHCPv4
// ---------------------------------------------------------------------------

/// The 236-byte BOOTP header of a client request from 02:69:64:00:00:0a,
/// then the magic cookie.
fn bootp_request() -> Vec<u8> {
    let mut m = vec![
        0x01, // op: BOOTREQUEST
        0x01, // htype: Ethernet
        0x06, // hlen
        0x00, // hops
        0x2f, 0x67, 0x96, 0x40, // xid
        0x00, 0x00, // secs
        0x00, 0x00, // flags
        0, 0, 0, 0, // ciaddr
        0, 0, 0, 0, // yiaddr
        0, 0, 0, 0, // siaddr
        0, 0, 0, 0, // giaddr
        0x02, 0x69, 0x64, 0x00, 0x00, 0x0a, // chaddr
    ];
    m.extend([0u8; 10]); // chaddr padding
    m.extend([0u8; 64]); // sname
    m.extend([0u8; 128]); // file
    assert_eq!(m.len(), 236);
    m.extend([99, 130, 83, 99]); // magic cookie
    m
}

/// A DHCPDISCOVER with every option the parser reads.
fn discover() -> Vec<u8> {
    let mut m = bootp_request();
    m.extend([53, 1, 1]); // message type: DISCOVER
    m.extend([12, 15]); // host name
    m.extend(b"infusion-pump-7");
    m.extend([50, 4, 10, 77, 0, 147]); // requested address
    m.extend([55, 9, 1, 28, 2, 3, 15, 6, 12, 42, 26]); // parameter request list
    m.extend([57, 2, 0x05, 0xdc]); // max message size 1500
    m.extend([60, 19]); // vendor class
    m.extend(b"MedTap-Infusion/4.2");
    m.extend([61, 7, 1, 0x02, 0x69, 0x64, 0x00, 0x00, 0x0a]); // client id: Ethernet MAC
    m.extend([81, 20, 0x05, 0, 0]); // FQDN: flags S|E, rcode1, rcode2
    m.extend([4, b'p', b'u', b'm', b'p', 4, b'w', b'a', b'r', b'd', 4]);
    m.extend([b't', b'e', b's', b't', 0]); // pump.ward.test in wire format
    m.push(0); // pad
    m.push(255); // end
    m
}

#[test]
fn a_discover_gives_every_identity_option() {
    let bytes = discover();
    let f = parse_dhcpv4(&bytes);
    assert!(f.anomalies.is_empty(), "{:?}", f.anomalies);
    assert_eq!(f.op, 1);
    assert_eq!(f.xid, 0x2f67_9640);
    assert_eq!(f.chaddr, Some([0x02, 0x69, 0x64, 0x00, 0x00, 0x0a]));
    assert_eq!(f.message_type, Some(MessageTypeV4::Discover));
    assert_eq!(f.host_name.as_deref(), Some("infusion-pump-7"));
    assert_eq!(f.requested_address, Some("10.77.0.147".parse().unwrap()));
    let prl = f.parameter_request_list.unwrap();
    assert_eq!(prl.fingerprint(), "1,28,2,3,15,6,12,42,26");
    assert_eq!(f.max_message_size, Some(1500));
    assert_eq!(f.vendor_class.as_deref(), Some("MedTap-Infusion/4.2"));
    let id = f.client_id.unwrap();
    assert_eq!(id.kind, 1);
    assert_eq!(id.mac(), Some([0x02, 0x69, 0x64, 0x00, 0x00, 0x0a]));
    let fqdn = f.client_fqdn.unwrap();
    assert_eq!(fqdn.flags, 0x05);
    assert_eq!(fqdn.name, "pump.ward.test");
}

#[test]
fn text_borrows_from_the_payload() {
    let bytes = discover();
    let f = parse_dhcpv4(&bytes);
    assert!(matches!(f.host_name, Some(std::borrow::Cow::Borrowed(_))));
}

#[test]
fn an_ascii_fqdn_is_read_as_text() {
    let mut m = bootp_request();
    m.extend([53, 1, 3]);
    m.extend([81, 12, 0x01, 0, 0]); // flags: S only, so the name is ASCII
    m.extend(b"pump.ward");
    m.push(255);
    assert_eq!(parse_dhcpv4(&m).client_fqdn.unwrap().name, "pump.ward");
}

#[test]
fn the_header_and_cookie_are_the_smallest_message() {
    let mut m = bootp_request();
    let f = parse_dhcpv4(&m);
    assert_eq!(f.anomalies, vec![DhcpAnomaly::NoMessageType]);
    m.pop();
    assert_eq!(parse_dhcpv4(&m).anomalies, vec![DhcpAnomaly::Truncated]);
}

#[test]
fn plain_bootp_has_no_magic_cookie() {
    let mut m = bootp_request();
    let len = m.len();
    m[len - 1] = 0;
    let f = parse_dhcpv4(&m);
    assert_eq!(f.anomalies, vec![DhcpAnomaly::NoMagicCookie]);
    assert_eq!(f.chaddr, Some([0x02, 0x69, 0x64, 0x00, 0x00, 0x0a]));
}

#[test]
fn an_option_past_the_end_is_an_overrun() {
    let mut m = bootp_request();
    m.extend([53, 1, 1]);
    m.extend([12, 20, b'p', b'u']); // host name says 20 bytes, has 2
    let f = parse_dhcpv4(&m);
    assert_eq!(f.message_type, Some(MessageTypeV4::Discover));
    assert_eq!(f.host_name, None);
    assert_eq!(f.anomalies, vec![DhcpAnomaly::OptionOverrun]);
}

#[test]
fn wrong_lengths_and_repeats_are_counted() {
    let mut m = bootp_request();
    m.extend([53, 2, 1, 1]); // message type of two bytes
    m.extend([50, 3, 10, 0, 0]); // requested address of three
    m.extend([12, 1, b'a']);
    m.extend([12, 1, b'b']); // host name again
    m.push(255);
    let f = parse_dhcpv4(&m);
    assert_eq!(f.message_type, None);
    assert_eq!(f.requested_address, None);
    assert_eq!(f.host_name.as_deref(), Some("a"), "the first is kept");
    assert_eq!(
        f.anomalies,
        vec![
            DhcpAnomaly::BadOptionLength,
            DhcpAnomaly::RepeatedOption,
            DhcpAnomaly::NoMessageType
        ]
    );
}

#[test]
fn overloaded_file_and_sname_carry_options() {
    let mut m = bootp_request();
    // sname (offset 44) holds the host name, file (offset 108) the vendor class.
    m[44..49].copy_from_slice(&[12, 3, b'm', b'o', b'n']);
    m[49] = 255;
    m[108..114].copy_from_slice(&[60, 3, b'v', b'n', b'd', 255]);
    m.extend([53, 1, 1, 52, 1, 3, 255]); // message type, overload: both
    let f = parse_dhcpv4(&m);
    assert!(f.anomalies.is_empty(), "{:?}", f.anomalies);
    assert_eq!(f.host_name.as_deref(), Some("mon"));
    assert_eq!(f.vendor_class.as_deref(), Some("vnd"));
}

#[test]
fn a_host_name_is_bounded_and_sanitised() {
    let mut m = bootp_request();
    m.extend([53, 1, 1, 12, 255]);
    m.extend([b'x'; 254]);
    m.push(0x07); // a bell at the end
    let f = parse_dhcpv4(&m);
    assert_eq!(f.host_name.unwrap().len(), MAX_HOST_NAME_LEN);
    let mut m = bootp_request();
    m.extend([53, 1, 1, 12, 3, b'a', 0x1b, b'b', 255]);
    assert_eq!(parse_dhcpv4(&m).host_name.as_deref(), Some("a\u{fffd}b"));
}

#[test]
fn a_client_id_of_type_255_carries_a_duid() {
    let mut m = bootp_request();
    m.extend([53, 1, 1]);
    m.extend([61, 15, 255]); // RFC 4361 client id
    m.extend([0x64, 0x00, 0x00, 0x0b]); // IAID
    m.extend([0x00, 0x03, 0x00, 0x01]); // DUID-LL, Ethernet
    m.extend([0x02, 0x69, 0x64, 0x00, 0x00, 0x0b]); // MAC
    m.push(255);
    let f = parse_dhcpv4(&m);
    let (iaid, duid) = f.client_id.unwrap().iaid_duid().unwrap();
    assert_eq!(iaid, 0x6400_000b);
    assert_eq!(duid.kind, DuidKind::Ll);
    assert_eq!(duid.hardware_type(), Some(1));
}

// ---------------------------------------------------------------------------
// DHCPv6
// ---------------------------------------------------------------------------

/// A SOLICIT with a DUID-LLT, an option request, a vendor class and an FQDN.
fn solicit() -> Vec<u8> {
    let mut m = vec![
        0x01, // SOLICIT
        0x16, 0x4b, 0xac, // transaction id
    ];
    m.extend([0x00, 0x01, 0x00, 0x0e]); // client id, 14 bytes
    m.extend([0x00, 0x01, 0x00, 0x01]); // DUID-LLT, Ethernet
    m.extend([0x32, 0xa3, 0x9c, 0x6e]); // time
    m.extend([0x02, 0x69, 0x64, 0x00, 0x00, 0x0b]); // MAC
    m.extend([0x00, 0x06, 0x00, 0x06, 0x00, 0x17, 0x00, 0x18, 0x00, 0x27]); // ORO 23,24,39
    m.extend([0x00, 0x08, 0x00, 0x02, 0x00, 0x00]); // elapsed time, not read
    m.extend([0x00, 0x10, 0x00, 0x0c]); // vendor class, 12 bytes
    m.extend(40712u32.to_be_bytes()); // enterprise number
    m.extend([0x00, 0x06]); // one string of 6
    m.extend(b"dhcpcd");
    m.extend([0x00, 0x27, 0x00, 0x13, 0x01]); // FQDN, 19 bytes, flag S
    m.extend([17]); // one label, no root: a partial name
    m.extend(b"patient-monitor-3");
    m
}

#[test]
fn a_solicit_gives_duid_options_vendor_and_fqdn() {
    let bytes = solicit();
    let f = parse_dhcpv6(&bytes);
    assert!(f.anomalies.is_empty(), "{:?}", f.anomalies);
    assert_eq!(f.message_type, Some(MessageTypeV6::Solicit));
    assert_eq!(f.transaction_id, 0x16_4bac);
    let duid = f.client_duid.unwrap();
    assert_eq!(duid.kind, DuidKind::Llt);
    assert_eq!(duid.kind.code(), 1);
    assert_eq!(duid.mac(), Some([0x02, 0x69, 0x64, 0x00, 0x00, 0x0b]));
    assert_eq!(duid.time(), Some(0x32a3_9c6e));
    assert_eq!(duid.hex(), "0001000132a39c6e02696400000b");
    assert_eq!(f.server_duid, None);
    assert_eq!(f.option_request.unwrap().fingerprint(), "23,24,39");
    let vendor = f.vendor_class.unwrap();
    assert_eq!(vendor.enterprise, 40712);
    assert_eq!(vendor.data, vec!["dhcpcd"]);
    let fqdn = f.client_fqdn.unwrap();
    assert_eq!(fqdn.flags, 1);
    assert_eq!(fqdn.name, "patient-monitor-3");
}

#[test]
fn duid_types_give_their_parts() {
    let en = Duid::parse(&[0, 2, 0, 0, 0x9f, 0x08, 0xAA]).unwrap(); // DUID-EN 40712
    assert_eq!(en.enterprise(), Some(40712));
    assert_eq!(en.mac(), None);
    let ll = Duid::parse(&[0, 3, 0, 1, 2, 0x69, 0x64, 0, 0, 1]).unwrap();
    assert_eq!(ll.mac(), Some([2, 0x69, 0x64, 0, 0, 1]));
    let raw = [[0, 4].as_slice(), &[7; 16]].concat();
    let uuid = Duid::parse(&raw).unwrap();
    assert_eq!(uuid.kind, DuidKind::Uuid);
    // Each one byte too short for its type.
    assert_eq!(
        Duid::parse(&[0, 1, 0, 1, 0, 0, 0]),
        Err(DhcpAnomaly::BadDuid)
    );
    assert_eq!(Duid::parse(&[0, 2, 0, 0, 0]), Err(DhcpAnomaly::BadDuid));
    assert_eq!(Duid::parse(&[0, 3, 0]), Err(DhcpAnomaly::BadDuid));
    assert_eq!(Duid::parse(&[0, 4, 1]), Err(DhcpAnomaly::BadDuid));
    assert_eq!(Duid::parse(&[0]), Err(DhcpAnomaly::BadDuid));
    // A DUID-LL of a non-Ethernet link has no MAC.
    assert_eq!(
        Duid::parse(&[0, 3, 0, 6, 1, 2, 3, 4, 5, 6]).unwrap().mac(),
        None
    );
}

#[test]
fn a_duid_longer_than_the_limit_is_cut() {
    let mut raw = vec![0, 2, 0, 0, 0, 1];
    raw.extend([0xAB; 200]);
    assert_eq!(Duid::parse(&raw).unwrap().raw.len(), MAX_CLIENT_ID_LEN);
}

#[test]
fn the_smallest_dhcpv6_message_is_four_bytes() {
    let f = parse_dhcpv6(&[11, 0, 0, 1]);
    assert_eq!(f.message_type, Some(MessageTypeV6::InformationRequest));
    assert!(f.anomalies.is_empty());
    assert_eq!(
        parse_dhcpv6(&[11, 0, 0]).anomalies,
        vec![DhcpAnomaly::Truncated]
    );
}

#[test]
fn dhcpv6_option_overrun_and_repeat_are_counted() {
    let mut m = solicit();
    m.extend([0x00, 0x01, 0x00, 0x04, 0, 3, 0, 1]); // a second client id
    m.extend([0x00, 0x10, 0x00, 0x40, 0, 0]); // vendor class of 64, 2 present
    let f = parse_dhcpv6(&m);
    assert_eq!(
        f.anomalies,
        vec![DhcpAnomaly::RepeatedOption, DhcpAnomaly::OptionOverrun]
    );
    assert_eq!(
        f.client_duid.unwrap().kind,
        DuidKind::Llt,
        "the first is kept"
    );
}

#[test]
fn relay_messages_are_reported_by_type_only() {
    let mut m = vec![12, 0]; // RELAY-FORW, hop count
    m.extend([0u8; 32]); // link and peer addresses
    m.extend([0, 9, 0, 4, 1, 0, 0, 1]); // relay message option
    let f = parse_dhcpv6(&m);
    assert_eq!(f.message_type, Some(MessageTypeV6::RelayForward));
    assert_eq!(f.client_duid, None);
    assert!(f.anomalies.is_empty());
}

#[test]
fn a_bad_fqdn_label_is_counted() {
    let mut m = vec![1, 0, 0, 1];
    m.extend([0x00, 0x27, 0x00, 0x03, 0x00, 0xC0, 0x0C]); // a pointer: not allowed
    assert_eq!(parse_dhcpv6(&m).anomalies, vec![DhcpAnomaly::BadFqdn]);
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

proptest! {
    #[test]
    fn dhcpv4_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..700)) {
        let f = parse_dhcpv4(&bytes);
        prop_assert!(f.host_name.as_ref().is_none_or(|h| h.len() <= MAX_HOST_NAME_LEN));
        prop_assert!(f.vendor_class.as_ref().is_none_or(|v| v.len() <= MAX_VENDOR_CLASS_LEN));
        prop_assert!(f.client_fqdn.as_ref().is_none_or(|q| q.name.len() <= MAX_FQDN_LEN));
        prop_assert!(f.client_id.is_none_or(|c| c.id.len() <= MAX_CLIENT_ID_LEN));
        if let Some(prl) = f.parameter_request_list {
            prop_assert!(prl.codes().count() <= MAX_REQUESTED_OPTIONS);
        }
    }

    #[test]
    fn dhcpv4_options_after_a_valid_header_never_panic(
        options in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let mut bytes = bootp_request();
        bytes.extend(options);
        let _ = parse_dhcpv4(&bytes);
    }

    #[test]
    fn dhcpv6_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..700)) {
        let f = parse_dhcpv6(&bytes);
        if let Some(d) = f.client_duid {
            prop_assert!(d.raw.len() <= MAX_CLIENT_ID_LEN);
            let _ = (d.mac(), d.time(), d.enterprise(), d.hex());
        }
        if let Some(v) = &f.vendor_class {
            prop_assert!(v.data.len() <= MAX_VENDOR_CLASS_STRINGS);
        }
        prop_assert!(f.client_fqdn.as_ref().is_none_or(|q| q.name.len() <= MAX_FQDN_LEN));
    }
}
