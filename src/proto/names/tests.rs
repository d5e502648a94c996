//! Tests of the name-service parsers: hand-made messages with a comment per
//! field, the bounds of the name reader (length, pointers, label types),
//! NBNS name decoding, and property tests that nothing panics and every
//! list stays within its limit. The real capture is checked against tshark
//! in `tests/identity_parsers.rs`.

use std::borrow::Cow;

use super::wire::{NameError, read_uncompressed_name};
use super::*;
use crate::proto::reader::Reader;
use proptest::prelude::*;

/// Reads the name at offset `start` of `message` with the name reader;
/// returns the offset just after the name where it starts (after its first
/// pointer, if any).
fn read_name(message: &[u8], start: usize, out: &mut String) -> Result<usize, NameError> {
    let mut at = Reader::new(message);
    at.skip(start).ok_or(NameError::Truncated)?;
    wire::read_name(message, &mut at, out)?;
    Ok(message.len() - at.remaining().len())
}

/// A name in wire format, uncompressed.
fn wire_name(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name.split('.').filter(|l| !l.is_empty()) {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

// ---------------------------------------------------------------------------
// Text and names
// ---------------------------------------------------------------------------

#[test]
fn printable_ascii_is_borrowed_and_trimmed() {
    let text = sanitize(b"  pump-7\0\0", 64);
    assert_eq!(text, "pump-7");
    assert!(matches!(text, Cow::Borrowed(_)));
}

#[test]
fn control_characters_are_replaced_and_text_is_bounded() {
    assert_eq!(sanitize(b"a\x1b[2Jb", 64), "a\u{fffd}[2Jb");
    assert_eq!(sanitize(b"abcdef", 4), "abcd");
    // "é" is two bytes: a bound of 2 keeps "a" only, never half a char.
    let cut = sanitize("aé".as_bytes(), 2);
    assert!(cut.len() <= 2);
    assert_eq!(sanitize("Büro".as_bytes(), 64), "Büro");
}

#[test]
fn a_compressed_name_follows_its_pointer() {
    // Offset 0: "ward.example"; offset 14: "pump" then a pointer to 0.
    let mut msg = wire_name("ward.example");
    assert_eq!(msg.len(), 14);
    msg.extend_from_slice(&[4, b'p', b'u', b'm', b'p', 0xC0, 0x00]);
    let mut name = String::new();
    let next = read_name(&msg, 14, &mut name).unwrap();
    assert_eq!(name, "pump.ward.example");
    assert_eq!(
        next,
        msg.len(),
        "continues after the pointer, not after its target"
    );
}

#[test]
fn a_pointer_to_itself_is_a_loop() {
    let msg = [0xC0, 0x00];
    let mut name = String::new();
    assert_eq!(read_name(&msg, 0, &mut name), Err(NameError::PointerLoop));
}

#[test]
fn pointers_that_chain_past_the_limit_are_a_loop() {
    // Each pointer points at the one before it.
    let mut msg = vec![0u8];
    for i in 0..=MAX_POINTER_HOPS {
        let target = if i == 0 { 0 } else { 1 + 2 * (i - 1) };
        msg.extend_from_slice(&[0xC0, target as u8]);
    }
    let mut name = String::new();
    let last = msg.len() - 2;
    assert_eq!(
        read_name(&msg, last, &mut name),
        Err(NameError::PointerLoop)
    );
    // One hop fewer is a (root) name.
    assert_eq!(read_name(&msg, last - 2, &mut name), Ok(last));
}

#[test]
fn a_name_of_255_bytes_is_the_longest_read() {
    // Four labels of 63 bytes and one of 1: 4 * 64 + 2 + 1 = 259 > 255;
    // three of 63 and one of 61: 3 * 64 + 62 + 1 = 255.
    let label = |n: usize| "a".repeat(n);
    let longest = format!("{}.{}.{}.{}", label(63), label(63), label(63), label(61));
    let wire = wire_name(&longest);
    assert_eq!(wire.len(), 255);
    let mut name = String::new();
    assert!(read_name(&wire, 0, &mut name).is_ok());
    assert_eq!(name, longest);
    let too_long = format!("{}.{}.{}.{}", label(63), label(63), label(63), label(62));
    assert_eq!(
        read_name(&wire_name(&too_long), 0, &mut name),
        Err(NameError::TooLong)
    );
}

#[test]
fn extended_label_types_and_short_names_are_refused() {
    let mut name = String::new();
    assert_eq!(
        read_name(&[0x41, 0], 0, &mut name),
        Err(NameError::BadLabel)
    );
    assert_eq!(
        read_name(&[5, b'a', b'b'], 0, &mut name),
        Err(NameError::Truncated)
    );
    assert_eq!(read_name(&[0xC0], 0, &mut name), Err(NameError::Truncated));
    assert_eq!(read_name(&[], 0, &mut name), Err(NameError::Truncated));
}

#[test]
fn an_uncompressed_name_may_be_partial() {
    // RFC 4704: a partial name has no root label.
    assert_eq!(read_uncompressed_name(b"\x04pump").unwrap(), "pump");
    assert_eq!(
        read_uncompressed_name(b"\x04pump\x04ward\x00").unwrap(),
        "pump.ward"
    );
    assert_eq!(
        read_uncompressed_name(b"\xC0\x0C"),
        Err(NameError::BadLabel)
    );
}

#[test]
fn reverse_names_give_their_address() {
    assert_eq!(
        reverse_address("5.0.77.10.in-addr.arpa"),
        Some("10.77.0.5".parse().unwrap())
    );
    assert_eq!(
        reverse_address("a.0.0.0.0.0.e.f.f.f.4.6.9.6.0.0.0.0.0.0.0.0.0.0.0.0.0.0.7.7.d.f.ip6.arpa"),
        Some("fd77::69:64ff:fe00:a".parse().unwrap())
    );
    assert_eq!(reverse_address("0.77.10.in-addr.arpa"), None);
    assert_eq!(reverse_address("pump.local"), None);
    assert_eq!(reverse_address("ab.0.ip6.arpa"), None);
}

// ---------------------------------------------------------------------------
// DNS, mDNS
// ---------------------------------------------------------------------------

/// An mDNS announcement of a host and one DNS-SD service.
fn announcement() -> Vec<u8> {
    let mut m = vec![
        0x00, 0x00, // id 0 (mDNS)
        0x84, 0x00, // response, authoritative
        0x00, 0x00, // no question
        0x00, 0x04, // 4 answers
        0x00, 0x00, // no authority
        0x00, 0x00, // no additional
    ];
    // Offset 12: A pump.local 10.77.0.7, cache flush, TTL 120.
    m.extend(wire_name("pump.local"));
    m.extend([0x00, 0x01, 0x80, 0x01]); // type A, class IN + cache flush
    m.extend(120u32.to_be_bytes()); // TTL
    m.extend([0x00, 0x04, 10, 77, 0, 7]); // rdlength 4, address
    // PTR _x._tcp.local → "Pump 7._x._tcp.local"; ".local" points at 17.
    let ptr_owner = m.len();
    m.extend([2, b'_', b'x', 4, b'_', b't', b'c', b'p', 0xC0, 17]);
    m.extend([0x00, 0x0C, 0x00, 0x01]); // type PTR, class IN
    m.extend(4500u32.to_be_bytes());
    m.extend([0x00, 0x09]); // rdlength 9
    let instance = m.len();
    m.extend([6, b'P', b'u', b'm', b'p', b' ', b'7']); // "Pump 7"
    m.extend([0xC0, ptr_owner as u8]); // . _x._tcp.local
    // SRV at the instance: port 8080, target pump.local (offset 12).
    m.extend([0xC0, instance as u8]);
    m.extend([0x00, 0x21, 0x80, 0x01]); // type SRV, cache flush
    m.extend(120u32.to_be_bytes());
    m.extend([0x00, 0x08]); // rdlength 8
    m.extend([0x00, 0x00, 0x00, 0x00]); // priority 0, weight 0
    m.extend(8080u16.to_be_bytes()); // port
    m.extend([0xC0, 12]); // target → pump.local
    // TXT at the instance: "md=BX 300", "secure".
    m.extend([0xC0, instance as u8]);
    m.extend([0x00, 0x10, 0x80, 0x01]); // type TXT, cache flush
    m.extend(4500u32.to_be_bytes());
    m.extend([0x00, 17]); // rdlength
    m.extend([9, b'm', b'd', b'=', b'B', b'X', b' ', b'3', b'0', b'0']);
    m.extend([6, b's', b'e', b'c', b'u', b'r', b'e']);
    m
}

#[test]
fn an_mdns_announcement_names_its_host_and_service() {
    let m = parse_dns(&announcement());
    assert!(m.anomalies.is_empty(), "{:?}", m.anomalies);
    assert!(m.header.is_response());
    assert_eq!(m.records.len(), 4);
    assert_eq!(m.records[0].name, "pump.local");
    assert_eq!(m.records[0].class, 0x8001);
    assert_eq!(
        m.records[0].data,
        RecordData::A("10.77.0.7".parse().unwrap())
    );
    assert_eq!(m.records[1].name, "_x._tcp.local");
    assert_eq!(
        m.records[1].data,
        RecordData::Ptr("Pump 7._x._tcp.local".into())
    );
    assert_eq!(
        m.records[2].data,
        RecordData::Srv {
            priority: 0,
            weight: 0,
            port: 8080,
            target: "pump.local".into()
        }
    );
    assert_eq!(
        m.records[3].data,
        RecordData::Txt(vec![
            TxtEntry {
                key: "md".into(),
                value: Some("BX 300".into())
            },
            TxtEntry {
                key: "secure".into(),
                value: None
            },
        ])
    );
    let claims: Vec<_> = m.name_claims().collect();
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].name, "pump.local");
    assert_eq!(claims[0].kind, ClaimKind::Forward);
}

#[test]
fn a_message_cut_anywhere_keeps_what_came_before() {
    let whole = announcement();
    for cut in 0..whole.len() {
        let m = parse_dns(&whole[..cut]);
        assert!(!m.anomalies.is_empty(), "cut at {cut}");
        assert!(m.records.len() < 4);
    }
}

#[test]
fn an_a_record_of_five_bytes_is_bad_data() {
    let mut m = vec![0, 1, 0x81, 0x80, 0, 0, 0, 1, 0, 0, 0, 0];
    m.extend(wire_name("pacs.ward.example"));
    m.extend([0, 1, 0, 1, 0, 0, 0, 60, 0, 5, 10, 77, 0, 5, 0]);
    let parsed = parse_dns(&m);
    assert_eq!(parsed.records.len(), 1);
    assert_eq!(parsed.records[0].data, RecordData::Other);
    assert_eq!(parsed.anomalies, vec![NameAnomaly::BadRecordData]);
}

/// A response with one PTR record for "x" whose data is `rdata` with
/// an rdlength of `rdlength`, followed by `tail`.
fn with_ptr(rdlength: u16, rdata: &[u8], tail: &[u8]) -> Vec<u8> {
    let mut m = vec![0, 1, 0x81, 0x80, 0, 0, 0, 1, 0, 0, 0, 0];
    m.extend(wire_name("x")); // owner "x"
    m.extend([0, 12, 0, 1, 0, 0, 0, 60]); // type PTR, class IN, TTL 60
    m.extend(rdlength.to_be_bytes());
    m.extend_from_slice(rdata);
    m.extend_from_slice(tail);
    m
}

#[test]
fn a_name_in_record_data_must_end_within_it() {
    // "pump" and its root label: 6 bytes, exactly the data.
    let exact = parse_dns(&with_ptr(6, b"\x04pump\x00", b""));
    assert!(exact.anomalies.is_empty(), "{:?}", exact.anomalies);
    assert_eq!(exact.records[0].data, RecordData::Ptr("pump".into()));
    // An rdlength of 5: the root label is the message's next byte, past the
    // data, though within the message.
    let over = parse_dns(&with_ptr(5, b"\x04pump", b"\x00"));
    assert_eq!(over.records[0].data, RecordData::Other);
    assert_eq!(over.anomalies, vec![NameAnomaly::BadRecordData]);
    // A pointer ends the name where it stands, whatever it points at.
    let pointer = parse_dns(&with_ptr(2, &[0xC0, 12], b""));
    assert!(pointer.anomalies.is_empty(), "{:?}", pointer.anomalies);
    assert_eq!(pointer.records[0].data, RecordData::Ptr("x".into()));
    // A name that runs past the message is cut short, not bad data.
    let cut = parse_dns(&with_ptr(5, b"\x04pump", b""));
    assert_eq!(cut.anomalies, vec![NameAnomaly::NameTruncated]);
}

#[test]
fn an_srv_target_past_its_data_is_bad_data() {
    let mut m = vec![0, 1, 0x81, 0x80, 0, 0, 0, 1, 0, 0, 0, 0];
    m.extend(wire_name("x")); // owner "x"
    m.extend([0, 33, 0, 1, 0, 0, 0, 60]); // type SRV, class IN, TTL 60
    m.extend([0, 7]); // rdlength 7: the fields and one byte of target
    m.extend([0, 0, 0, 0, 0x1F, 0x90]); // priority 0, weight 0, port 8080
    m.extend([0xC0, 12]); // target → "x", its second byte past the data
    let parsed = parse_dns(&m);
    assert_eq!(parsed.records[0].data, RecordData::Other);
    assert_eq!(parsed.anomalies, vec![NameAnomaly::BadRecordData]);
}

/// A response with `n` A records, all for the root name.
fn with_records(n: u16) -> Vec<u8> {
    let mut m = vec![0, 1, 0x81, 0x80, 0, 0];
    m.extend(n.to_be_bytes());
    m.extend([0, 0, 0, 0]);
    for _ in 0..n {
        m.extend([0, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 1]);
    }
    m
}

#[test]
fn max_records_is_the_most_read() {
    let m = parse_dns(&with_records(MAX_RECORDS as u16));
    assert_eq!(m.records.len(), MAX_RECORDS);
    assert!(m.anomalies.is_empty());
    let m = parse_dns(&with_records(MAX_RECORDS as u16 + 1));
    assert_eq!(m.records.len(), MAX_RECORDS);
    assert_eq!(m.anomalies, vec![NameAnomaly::TooManyRecords]);
}

#[test]
fn a_reverse_answer_names_an_address() {
    let mut m = vec![0x37, 0xef, 0x85, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
    m.extend(wire_name("5.0.77.10.in-addr.arpa")); // question at 12
    m.extend([0, 12, 0, 1]); // PTR, IN
    m.extend([0xC0, 12, 0, 12, 0, 1, 0, 0, 0, 0]); // answer: same name, PTR, IN, TTL 0
    let target = wire_name("pacs.ward.example");
    m.extend((target.len() as u16).to_be_bytes());
    m.extend(target);
    let parsed = parse_dns(&m);
    assert!(parsed.anomalies.is_empty());
    let claims: Vec<_> = parsed.name_claims().collect();
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].name, "pacs.ward.example");
    assert_eq!(claims[0].address.to_string(), "10.77.0.5");
    assert_eq!(claims[0].kind, ClaimKind::Reverse);
}

// ---------------------------------------------------------------------------
// NBNS
// ---------------------------------------------------------------------------

/// First-level encoding of a 15-character name and its suffix.
fn encode_netbios(name: &str, suffix: u8) -> Vec<u8> {
    let mut raw = [b' '; 16];
    raw[..name.len()].copy_from_slice(name.as_bytes());
    raw[15] = suffix;
    let mut out = vec![32];
    for b in raw {
        out.push(b'A' + (b >> 4));
        out.push(b'A' + (b & 0x0F));
    }
    out.push(0);
    out
}

#[test]
fn an_nbns_registration_gives_name_suffix_and_address() {
    let mut m = vec![
        0x36, 0x1a, // transaction id
        0x29, 0x10, // registration (opcode 5), recursion desired, broadcast
        0x00, 0x01, // one question
        0x00, 0x00, // no answer
        0x00, 0x00, // no authority
        0x00, 0x01, // one additional
    ];
    m.extend(encode_netbios("INFPUMP7", 0x20)); // question name at 12
    m.extend([0x00, 0x20, 0x00, 0x01]); // NB, IN
    m.extend([0xC0, 12]); // additional: pointer to the question's name
    m.extend([0x00, 0x20, 0x00, 0x01]); // NB, IN
    m.extend(300_000u32.to_be_bytes()); // TTL
    m.extend([0x00, 0x06]); // rdlength
    m.extend([0x00, 0x00, 10, 77, 0, 147]); // unique name, B node; address
    let parsed = parse_nbns(&m);
    assert!(parsed.anomalies.is_empty(), "{:?}", parsed.anomalies);
    assert_eq!(parsed.header.opcode(), 5);
    assert_eq!(parsed.names.len(), 2);
    assert_eq!(parsed.names[0].section, None);
    assert_eq!(parsed.names[0].name.to_string(), "INFPUMP7<20>");
    let record = &parsed.names[1];
    assert_eq!(record.section, Some(Section::Additional));
    assert_eq!(record.name.name, "INFPUMP7");
    assert_eq!(record.name.suffix, 0x20);
    assert_eq!(record.ttl, 300_000);
    assert_eq!(record.group, Some(false));
    assert_eq!(
        record.addresses,
        vec!["10.77.0.147".parse::<std::net::Ipv4Addr>().unwrap()]
    );
}

#[test]
fn a_name_not_first_level_encoded_is_refused() {
    let mut m = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    m.extend(wire_name("pump.local")); // not 32 bytes of A-P
    m.extend([0, 0x20, 0, 1]);
    let parsed = parse_nbns(&m);
    assert!(parsed.names.is_empty());
    assert_eq!(parsed.anomalies, vec![NameAnomaly::BadNetbiosName]);
    // 32 bytes, but a 'Z' is no nibble.
    let mut bad = encode_netbios("PUMP", 0);
    bad[1] = b'Z';
    let mut m = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    m.extend(bad);
    m.extend([0, 0x20, 0, 1]);
    assert_eq!(parse_nbns(&m).anomalies, vec![NameAnomaly::BadNetbiosName]);
}

#[test]
fn a_node_status_answer_lists_every_name() {
    let mut m = vec![0x6b, 0x9a, 0x84, 0x00, 0, 0, 0, 1, 0, 0, 0, 0];
    let mut wildcard = vec![32];
    wildcard.extend([b'C', b'K']); // '*'
    wildcard.extend([b'A'; 30]); // then NULs
    wildcard.push(0);
    m.extend(wildcard);
    m.extend([0x00, 0x21, 0x00, 0x01, 0, 0, 0, 0]); // NBSTAT, IN, TTL 0
    let mut data = vec![2u8]; // two names
    data.extend(b"INFPUMP7       \x00\x04\x00"); // unique, active
    data.extend(b"WARD           \x1e\x84\x00"); // group, active
    data.extend([0u8; 46]); // statistics, ignored
    m.extend((data.len() as u16).to_be_bytes());
    m.extend(data);
    let parsed = parse_nbns(&m);
    assert!(parsed.anomalies.is_empty(), "{:?}", parsed.anomalies);
    assert_eq!(parsed.names[0].name.to_string(), "*<00>");
    assert_eq!(parsed.node_status.len(), 2);
    assert_eq!(parsed.node_status[0].name.to_string(), "INFPUMP7<00>");
    assert!(!parsed.node_status[0].group);
    assert_eq!(parsed.node_status[1].name.to_string(), "WARD<1e>");
    assert!(parsed.node_status[1].group);
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

fn check_dns_bounds(m: &DnsMessage) {
    assert!(m.questions.len() <= MAX_QUESTIONS);
    assert!(m.records.len() <= MAX_RECORDS);
    for r in &m.records {
        if let RecordData::Txt(entries) = &r.data {
            assert!(entries.len() <= MAX_TXT_ENTRIES);
            for e in entries {
                assert!(e.key.len() <= MAX_TXT_KEY_LEN);
                assert!(
                    e.value
                        .as_ref()
                        .is_none_or(|v| v.len() <= MAX_TXT_VALUE_LEN)
                );
            }
        }
    }
}

proptest! {
    #[test]
    fn dns_never_panics_and_stays_bounded(bytes in proptest::collection::vec(any::<u8>(), 0..1500)) {
        let m = parse_dns(&bytes);
        check_dns_bounds(&m);
        let _ = m.name_claims().count();
    }

    #[test]
    fn dns_with_a_valid_header_never_panics(
        counts in proptest::array::uniform4(0u16..100),
        body in proptest::collection::vec(any::<u8>(), 0..1500),
    ) {
        let mut bytes = vec![0, 0, 0x84, 0];
        for c in counts {
            bytes.extend(c.to_be_bytes());
        }
        bytes.extend(body);
        check_dns_bounds(&parse_dns(&bytes));
    }

    #[test]
    fn nbns_never_panics_and_stays_bounded(bytes in proptest::collection::vec(any::<u8>(), 0..1500)) {
        let m = parse_nbns(&bytes);
        prop_assert!(m.names.len() <= MAX_NBNS_NAMES);
        prop_assert!(m.node_status.len() <= MAX_NBNS_NAMES);
        for n in &m.names {
            prop_assert!(n.addresses.len() <= MAX_NBNS_ADDRESSES);
            prop_assert!(n.name.name.len() <= 15);
        }
    }
}
