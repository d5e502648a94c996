//! Tests of the DICOM parser: hand-made PDUs with a comment per field,
//! boundaries of every length field, real captures checked against
//! Wireshark's dissector (tshark 4.x, `-d tcp.port==11112,dicom`), the
//! PHI/credential guarantee, and property tests.

use super::*;
use crate::proto::{Fact, Observation, OutputOf, Pending, feed_all, observe_all};
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Reads a `.stream` file written by `testdata/extract.sh`.
fn load(name: &str) -> Vec<(Direction, Vec<u8>)> {
    let path = format!(
        "{}/src/proto/dicom/testdata/{name}.stream",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).expect(&path);
    let mut r = Reader::new(&bytes);
    let mut out = Vec::new();
    while !r.is_empty() {
        let dir = match r.u8().unwrap() {
            0 => Direction::ToServer,
            _ => Direction::ToClient,
        };
        let len = r.u32_be().unwrap() as usize;
        out.push((dir, r.take(len).unwrap().to_vec()));
    }
    out
}

fn run(segments: &[(Direction, Vec<u8>)]) -> Vec<Association> {
    let borrowed: Vec<(Direction, &[u8])> =
        segments.iter().map(|(d, b)| (*d, b.as_slice())).collect();
    feed_all::<DicomParser>(&borrowed)
}

/// The observations of a conversation, with the packet (segment index)
/// each was made at.
fn observe(segments: &[(Direction, Vec<u8>)]) -> Vec<(i64, DicomObservation)> {
    let borrowed: Vec<(Direction, &[u8])> =
        segments.iter().map(|(d, b)| (*d, b.as_slice())).collect();
    observe_all::<DicomParser>(&borrowed).observations
}

/// The identity facts a conversation's observations carry.
fn facts_of(segments: &[(Direction, Vec<u8>)]) -> Vec<Fact> {
    let mut facts = Vec::new();
    for (_, o) in observe(segments) {
        o.facts(&mut facts);
    }
    facts
}

/// Runs and also returns the parser's anomaly counts.
fn run_counting(segments: &[(Direction, Vec<u8>)]) -> (Vec<Association>, Vec<u64>) {
    let mut parser = DicomParser::default();
    let mut pending = Pending::default();
    let mut out = OutputOf::<DicomParser>::default();
    for (d, b) in segments {
        if pending.feed(&mut parser, *d, 0, b, &mut out).is_err() {
            break;
        }
    }
    parser.finish(0, &mut out);
    (out.records, parser.anomaly_counts().to_vec())
}

fn anomaly(counts: &[u64], name: &str) -> u64 {
    let i = ANOMALY_NAMES.iter().position(|n| *n == name).unwrap();
    counts[i]
}

fn one(records: Vec<Association>) -> Association {
    assert_eq!(records.len(), 1, "{records:#?}");
    records.into_iter().next().unwrap()
}

const C: Direction = Direction::ToServer;
const S: Direction = Direction::ToClient;

fn pdu(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![kind, 0];
    v.extend_from_slice(&(body.len() as u32).to_be_bytes());
    v.extend_from_slice(body);
    v
}

fn item(kind: u8, value: &[u8]) -> Vec<u8> {
    let mut v = vec![kind, 0];
    v.extend_from_slice(&(value.len() as u16).to_be_bytes());
    v.extend_from_slice(value);
    v
}

fn ae(title: &str) -> [u8; 16] {
    let mut a = [b' '; 16];
    a[..title.len()].copy_from_slice(title.as_bytes());
    a
}

fn associate(kind: u8, called: &str, calling: &str, items: &[Vec<u8>]) -> Vec<u8> {
    let mut body = vec![0, 1, 0, 0];
    body.extend_from_slice(&ae(called));
    body.extend_from_slice(&ae(calling));
    body.extend_from_slice(&[0; 32]);
    for i in items {
        body.extend_from_slice(i);
    }
    pdu(kind, &body)
}

fn rq_context(id: u8, abstract_syntax: &str, ts: &[&str]) -> Vec<u8> {
    let mut v = vec![id, 0, 0, 0];
    v.extend(item(0x30, abstract_syntax.as_bytes()));
    for t in ts {
        v.extend(item(0x40, t.as_bytes()));
    }
    item(0x20, &v)
}

fn ac_context(id: u8, result: u8, ts: &str) -> Vec<u8> {
    let mut v = vec![id, 0, result, 0];
    v.extend(item(0x40, ts.as_bytes()));
    item(0x21, &v)
}

fn app_context() -> Vec<u8> {
    item(0x10, b"1.2.840.10008.3.1.1.1")
}

fn user_info(extra: &[Vec<u8>]) -> Vec<u8> {
    let mut v = item(0x51, &16384u32.to_be_bytes());
    v.extend(item(0x52, b"1.2.3.4\0"));
    for e in extra {
        v.extend_from_slice(e);
    }
    item(0x50, &v)
}

fn pdv(context: u8, control: u8, value: &[u8]) -> Vec<u8> {
    let mut v = ((value.len() + 2) as u32).to_be_bytes().to_vec();
    v.push(context);
    v.push(control);
    v.extend_from_slice(value);
    v
}

fn pdata(pdvs: &[Vec<u8>]) -> Vec<u8> {
    pdu(0x04, &pdvs.concat())
}

/// Implicit VR little endian element.
fn el(group: u16, element: u16, value: &[u8]) -> Vec<u8> {
    let mut v = group.to_le_bytes().to_vec();
    v.extend_from_slice(&element.to_le_bytes());
    v.extend_from_slice(&(value.len() as u32).to_le_bytes());
    v.extend_from_slice(value);
    v
}

/// Explicit VR little endian element (short or long form by VR).
fn ex(group: u16, element: u16, vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
    let mut v = group.to_le_bytes().to_vec();
    v.extend_from_slice(&element.to_le_bytes());
    v.extend_from_slice(vr);
    if dimse_long(vr) {
        v.extend_from_slice(&[0, 0]);
        v.extend_from_slice(&(value.len() as u32).to_le_bytes());
    } else {
        v.extend_from_slice(&(value.len() as u16).to_le_bytes());
    }
    v.extend_from_slice(value);
    v
}

fn dimse_long(vr: &[u8; 2]) -> bool {
    matches!(vr, b"OB" | b"OW" | b"SQ" | b"UN" | b"UT")
}

fn command(field: u16, sop: &str, extra: &[Vec<u8>]) -> Vec<u8> {
    let mut v = el(0, 0x0002, sop.as_bytes());
    v.extend(el(0, 0x0100, &field.to_le_bytes()));
    for e in extra {
        v.extend_from_slice(e);
    }
    v
}

const CT: &str = "1.2.840.10008.5.1.4.1.1.2\0";
const EXPLICIT: &str = "1.2.840.10008.1.2.1\0";
const IMPLICIT: &str = "1.2.840.10008.1.2\0";

/// An accepted association on context 1 with transfer syntax `ts`, one
/// C-STORE-RQ whose data set is `data_set` split into `fragment`-byte PDVs,
/// then release.
fn store_conversation(ts: &str, data_set: &[u8], fragment: usize) -> Vec<(Direction, Vec<u8>)> {
    let rq = associate(
        0x01,
        "PACS",
        "MODALITY",
        &[app_context(), rq_context(1, CT, &[ts]), user_info(&[])],
    );
    let ac = associate(
        0x02,
        "PACS",
        "MODALITY",
        &[app_context(), ac_context(1, 0, ts), user_info(&[])],
    );
    let cmd = command(0x0001, CT, &[el(0, 0x0800, &0x0000u16.to_le_bytes())]);
    let chunks: Vec<&[u8]> = data_set.chunks(fragment.max(1)).collect();
    let mut pdvs = Vec::new();
    for (i, chunk) in chunks.iter().enumerate() {
        let last = if i + 1 == chunks.len() { 0x02 } else { 0x00 };
        pdvs.push(pdv(1, last, chunk));
    }
    vec![
        (C, rq),
        (S, ac),
        (C, pdata(&[pdv(1, 0x03, &cmd)])),
        (C, pdata(&pdvs)),
        (
            S,
            pdata(&[pdv(
                1,
                0x03,
                &command(0x8001, CT, &[el(0, 0x0900, &[0, 0])]),
            )]),
        ),
        (C, pdu(0x05, &[0; 4])),
        (S, pdu(0x06, &[0; 4])),
    ]
}

/// The six wanted elements, in implicit VR, around PHI and a sequence.
fn implicit_data_set() -> Vec<u8> {
    let mut ds = Vec::new();
    ds.extend(el(0x0008, 0x0016, CT.as_bytes()));
    ds.extend(el(0x0008, 0x0060, b"MR"));
    ds.extend(el(0x0008, 0x0070, b"Example Corp"));
    ds.extend(el(0x0008, 0x1010, b"MR7 "));
    ds.extend(el(0x0008, 0x1090, b"Magnet 3T   "));
    ds.extend(el(0x0010, 0x0010, b"SMITH^JOHN"));
    ds.extend(el(0x0010, 0x0020, b"PID-99887"));
    // (0018,1000) serial, (0018,1020) software versions (multi-valued).
    ds.extend(el(0x0018, 0x1000, b"SER42 "));
    ds.extend(el(0x0018, 0x1020, b"VE11C\\SP2 "));
    // After the last wanted tag: never read.
    ds.extend(el(0x0020, 0x0010, b"STUDYID"));
    ds.extend(el(0x7FE0, 0x0010, &[0u8; 1000]));
    ds
}

// ---------------------------------------------------------------------------
// The UID table
// ---------------------------------------------------------------------------

#[test]
fn uid_table_has_its_row_count_unique_sorted_well_formed_uids() {
    assert_eq!(uids::UIDS.len(), uids::UID_COUNT);
    assert_eq!(uids::UID_COUNT, 373);
    for pair in uids::UIDS.windows(2) {
        assert!(pair[0].0 < pair[1].0, "not sorted/unique: {pair:?}");
    }
    for (uid, name, _) in &uids::UIDS {
        // PS3.5 §9.1: digits and dots, no leading zero in a component, at
        // most 64 characters.
        assert!(uid.len() <= 64 && !name.is_empty(), "{uid}");
        for component in uid.split('.') {
            assert!(!component.is_empty(), "{uid}");
            assert!(component.bytes().all(|b| b.is_ascii_digit()), "{uid}");
            assert!(component == "0" || !component.starts_with('0'), "{uid}");
        }
    }
    let count = |kind| uids::UIDS.iter().filter(|r| r.2 == kind).count();
    assert!(count(uids::UidKind::SopClass) >= 150);
    assert!(count(uids::UidKind::TransferSyntax) >= 20);
    assert_eq!(
        uids::name("1.2.840.10008.1.1"),
        Some("Verification SOP Class")
    );
    assert_eq!(
        uids::name("1.2.840.10008.5.1.4.1.1.2"),
        Some("CT Image Storage")
    );
    assert_eq!(
        uids::name("1.2.840.10008.5.1.4.31"),
        Some("Modality Worklist Information Model - FIND")
    );
    assert_eq!(
        uids::name("1.2.840.10008.3.1.2.3.3"),
        Some("Modality Performed Procedure Step SOP Class")
    );
    assert_eq!(
        uids::name("1.2.840.10008.1.20.1"),
        Some("Storage Commitment Push Model SOP Class")
    );
    assert_eq!(
        uids::name("1.2.840.10008.5.1.4.1.1.88.11"),
        Some("Basic Text SR Storage")
    );
    assert_eq!(
        uids::name("1.2.840.10008.5.1.1.9"),
        Some("Basic Grayscale Print Management Meta SOP Class")
    );
    assert_eq!(
        uids::kind("1.2.840.10008.1.2.4.50"),
        Some(uids::UidKind::TransferSyntax)
    );
    assert_eq!(uids::name("1.2.3"), None);
}

// ---------------------------------------------------------------------------
// Hand-made PDUs, one field per comment
// ---------------------------------------------------------------------------

/// A whole C-ECHO association, written out byte by byte.
#[test]
fn echo_association_byte_by_byte() {
    #[rustfmt::skip]
    let rq: Vec<u8> = [
        &[0x01, 0x00][..],                // A-ASSOCIATE-RQ, reserved
        &[0x00, 0x00, 0x00, 0x9F],        // PDU length 159
        &[0x00, 0x01],                    // protocol version 1
        &[0x00, 0x00],                    // reserved
        b"ECHOSCP         ",              // called AE title
        b"ECHOSCU         ",              // calling AE title
        &[0; 32],                         // reserved
        &[0x10, 0x00, 0x00, 0x15],        // application context item, length 21
        b"1.2.840.10008.3.1.1.1",
        &[0x20, 0x00, 0x00, 0x2E],        // presentation context item, length 46
        &[0x01, 0x00, 0x00, 0x00],        // id 1, reserved x3
        &[0x30, 0x00, 0x00, 0x11],        // abstract syntax, length 17
        b"1.2.840.10008.1.1",             // Verification
        &[0x40, 0x00, 0x00, 0x11],        // transfer syntax, length 17
        b"1.2.840.10008.1.2",             // implicit VR LE
        &[0x50, 0x00, 0x00, 0x0C],        // user information, length 12
        &[0x51, 0x00, 0x00, 0x04],        // max length item
        &[0x00, 0x00, 0x40, 0x00],        // 16384
        &[0x55, 0x00, 0x00, 0x00],        // implementation version name, empty
    ].concat();
    #[rustfmt::skip]
    let ac: Vec<u8> = [
        &[0x02, 0x00][..],                // A-ASSOCIATE-AC, reserved
        &[0x00, 0x00, 0x00, 0x8A],        // PDU length 138
        &[0x00, 0x01, 0x00, 0x00],        // version 1, reserved
        b"ECHOSCP         ",              // called AE (echoed)
        b"ECHOSCU         ",              // calling AE (echoed)
        &[0; 32],                         // reserved
        &[0x10, 0x00, 0x00, 0x15],        // application context
        b"1.2.840.10008.3.1.1.1",
        &[0x21, 0x00, 0x00, 0x19],        // presentation context (AC), length 25
        &[0x01, 0x00, 0x00, 0x00],        // id 1, reserved, result 0 (acceptance), reserved
        &[0x40, 0x00, 0x00, 0x11],        // transfer syntax, length 17
        b"1.2.840.10008.1.2",
        &[0x50, 0x00, 0x00, 0x0C],        // user information
        &[0x52, 0x00, 0x00, 0x08],        // implementation class UID, length 8
        b"1.2.3.4\0",                     // NUL padded
    ].concat();
    #[rustfmt::skip]
    let echo_rq: Vec<u8> = [
        &[0x04, 0x00][..],                // P-DATA-TF, reserved
        &[0x00, 0x00, 0x00, 0x2A],        // PDU length 42
        &[0x00, 0x00, 0x00, 0x26],        // PDV length 38
        &[0x01],                          // presentation context 1
        &[0x03],                          // command, last fragment
        &[0x00, 0x00, 0x02, 0x00],        // (0000,0002) affected SOP class
        &[0x12, 0x00, 0x00, 0x00],        // length 18
        b"1.2.840.10008.1.1\0",
        &[0x00, 0x00, 0x00, 0x01],        // (0000,0100) command field
        &[0x02, 0x00, 0x00, 0x00],        // length 2
        &[0x30, 0x00],                    // C-ECHO-RQ
    ].concat();
    #[rustfmt::skip]
    let echo_rsp: Vec<u8> = [
        &[0x04, 0x00][..],                // P-DATA-TF
        &[0x00, 0x00, 0x00, 0x1A],        // PDU length 26
        &[0x00, 0x00, 0x00, 0x16],        // PDV length 22
        &[0x01, 0x03],                    // context 1, command + last
        &[0x00, 0x00, 0x00, 0x01],        // (0000,0100) command field
        &[0x02, 0x00, 0x00, 0x00],        // length 2
        &[0x30, 0x80],                    // C-ECHO-RSP
        &[0x00, 0x00, 0x00, 0x09],        // (0000,0900) status
        &[0x02, 0x00, 0x00, 0x00],        // length 2
        &[0x00, 0x00],                    // success
    ].concat();
    #[rustfmt::skip]
    let release_rq: &[u8] = &[
        0x05, 0x00,                       // A-RELEASE-RQ, reserved
        0x00, 0x00, 0x00, 0x04,           // length 4
        0x00, 0x00, 0x00, 0x00,           // reserved
    ];
    #[rustfmt::skip]
    let release_rp: &[u8] = &[
        0x06, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, // A-RELEASE-RP
    ];
    let conv = vec![
        (C, rq.clone()),
        (S, ac.clone()),
        (C, echo_rq.clone()),
        (S, echo_rsp.clone()),
        (C, release_rq.to_vec()),
        (S, release_rp.to_vec()),
    ];
    let (records, counts) = run_counting(&conv);
    assert!(counts.iter().all(|c| *c == 0), "{counts:?}");
    let a = one(records);
    assert_eq!(a.client.ae_title.as_deref(), Some("ECHOSCU"));
    assert_eq!(a.server.ae_title.as_deref(), Some("ECHOSCP"));
    assert_eq!(a.client.max_pdu_length, Some(16384));
    assert_eq!(a.client.implementation_version_name.as_deref(), Some(""));
    assert_eq!(
        a.server.implementation_class_uid.as_deref(),
        Some("1.2.3.4")
    );
    assert_eq!(a.protocol_version, Some(1));
    assert_eq!(
        a.application_context.as_deref(),
        Some("1.2.840.10008.3.1.1.1")
    );
    let pc = &a.presentation_contexts[0];
    assert_eq!(pc.id, 1);
    assert_eq!(pc.sop_class_name, Some("Verification SOP Class"));
    assert_eq!(pc.result, Some("acceptance"));
    assert_eq!(
        pc.accepted_transfer_syntax.as_deref(),
        Some("1.2.840.10008.1.2")
    );
    assert_eq!(a.result, Some("accepted"));
    assert!(a.released);
    let ops = a.operations.unwrap();
    assert_eq!(ops.total, 2);
    assert_eq!(ops.counts["C-ECHO-RQ"], 1);
    assert_eq!(ops.first[1].command, "C-ECHO-RSP");
    assert_eq!(ops.first[1].status_category, Some("success"));
    assert_eq!(a.bytes_to_server as usize, rq.len() + echo_rq.len() + 10);
    assert_eq!(a.bytes_to_client as usize, ac.len() + echo_rsp.len() + 10);
}

#[test]
fn command_set_without_command_field_is_malformed() {
    // A status without (0000,0100): no way to tell what the message is.
    let cmd = el(0, 0x0900, &[0, 0]);
    let (_, counts) = run_counting(&[(S, pdata(&[pdv(1, 0x03, &cmd)]))]);
    assert_eq!(anomaly(&counts, "malformed_command_set"), 1);
}

#[test]
fn reject_byte_by_byte() {
    let rq = associate(0x01, "WRONG", "SCU", &[app_context(), user_info(&[])]);
    #[rustfmt::skip]
    let rj: &[u8] = &[
        0x03, 0x00,                       // A-ASSOCIATE-RJ, reserved
        0x00, 0x00, 0x00, 0x04,           // length 4
        0x00,                             // reserved
        0x01,                             // result: rejected-permanent
        0x01,                             // source: service-user
        0x07,                             // reason: called-AE-title-not-recognized
    ];
    let conversation = [(C, rq), (S, rj.to_vec())];
    let a = one(run(&conversation));
    assert_eq!(a.result, Some("rejected"));
    let r = a.reject.clone().unwrap();
    assert_eq!(
        (r.result, r.source, r.reason),
        (
            "rejected-permanent",
            "service-user",
            "called-AE-title-not-recognized"
        )
    );
    assert_eq!(a.bytes_to_client, 10);
    // The refused called AE title is not reported as the server's name.
    let facts = facts_of(&conversation);
    assert!(
        !facts
            .iter()
            .any(|f| f.side == Side::Server && f.name == "dicom.ae_title")
    );
    assert!(
        facts
            .iter()
            .any(|f| f.side == Side::Client && f.value == "SCU")
    );
}

#[test]
fn reject_reasons_by_source() {
    let cases = [
        (
            2,
            3,
            1,
            "rejected-transient",
            "service-provider-presentation",
            "temporary-congestion",
        ),
        (
            1,
            2,
            2,
            "rejected-permanent",
            "service-provider-acse",
            "protocol-version-not-supported",
        ),
        (
            1,
            1,
            3,
            "rejected-permanent",
            "service-user",
            "calling-AE-title-not-recognized",
        ),
        (
            1,
            1,
            2,
            "rejected-permanent",
            "service-user",
            "application-context-name-not-supported",
        ),
        (9, 9, 9, "reserved", "reserved", "reserved"),
    ];
    for (result, source, reason, r, s, why) in cases {
        let a = one(run(&[(S, pdu(0x03, &[0, result, source, reason]))]));
        let rj = a.reject.unwrap();
        assert_eq!((rj.result, rj.source, rj.reason), (r, s, why));
    }
}

#[test]
fn abort_byte_by_byte() {
    #[rustfmt::skip]
    let abort: &[u8] = &[
        0x07, 0x00,                       // A-ABORT, reserved
        0x00, 0x00, 0x00, 0x04,           // length 4
        0x00, 0x00,                       // reserved, reserved
        0x02,                             // source: service-provider
        0x02,                             // reason: unexpected-PDU
    ];
    let a = one(run(&[(S, abort.to_vec())]));
    assert_eq!(a.result, Some("aborted"));
    let ab = a.abort.unwrap();
    assert_eq!(ab.sent_by, Side::Server);
    assert_eq!(
        (ab.source, ab.reason),
        ("service-provider", Some("unexpected-PDU"))
    );
    // A service-user abort carries no significant reason.
    let a = one(run(&[(C, pdu(0x07, &[0, 0, 0, 5]))]));
    let ab = a.abort.unwrap();
    assert_eq!(
        (ab.sent_by, ab.source, ab.reason),
        (Side::Client, "service-user", None)
    );
}

#[test]
fn user_identity_keeps_type_and_flags_never_the_credentials() {
    #[rustfmt::skip]
    let identity: Vec<u8> = [
        &[0x58, 0x00, 0x00, 0x18][..],    // user identity negotiation, length 24
        &[0x02],                          // type 2: username and passcode
        &[0x01],                          // positive response requested
        &[0x00, 0x09], b"alice-doc",      // primary field (user name)
        &[0x00, 0x09], b"hunter2!!",      // secondary field (passcode)
    ].concat();
    let rq = associate(
        0x01,
        "PACS",
        "SCU",
        &[app_context(), user_info(&[identity])],
    );
    let response = item(0x59, b"\0\x0Ekerberos-token");
    let ac = associate(
        0x02,
        "PACS",
        "SCU",
        &[app_context(), user_info(&[response])],
    );
    let a = one(run(&[(C, rq), (S, ac)]));
    let id = a.user_identity.clone().unwrap();
    assert_eq!(id.kind, 2);
    assert_eq!(id.type_name, "username_and_passcode");
    assert!(id.positive_response_requested);
    assert!(id.server_response);
    let json = serde_json::to_string(&a).unwrap();
    for secret in ["alice", "hunter2", "kerberos-token"] {
        assert!(!json.contains(secret), "{json}");
    }
    assert!(json.contains(r#""user_identity":{"type":2,"type_name":"username_and_passcode""#));
    for (kind, name) in [
        (1, "username"),
        (3, "kerberos"),
        (4, "saml"),
        (5, "jwt"),
        (6, "reserved"),
    ] {
        let ui = user_info(&[item(0x58, &[kind, 0, 0, 1, b'x', 0, 0])]);
        let a = one(run(&[(C, associate(0x01, "P", "S", &[ui]))]));
        let id = a.user_identity.unwrap();
        assert_eq!(
            (id.type_name, id.positive_response_requested),
            (name, false)
        );
    }
}

#[test]
fn role_selection_and_implementation_version() {
    let mut role = 27u16.to_be_bytes().to_vec();
    role.extend_from_slice(b"1.2.840.10008.5.1.4.1.1.2.1"); // 27 bytes
    role.extend_from_slice(&[0, 1]); // SCU role no, SCP role yes
    let ui = user_info(&[item(0x54, &role), item(0x55, b"MEDTAP_1")]);
    let a = one(run(&[(C, associate(0x01, "P", "S", &[app_context(), ui]))]));
    assert_eq!(
        a.role_selections,
        vec![RoleSelection {
            sop_class_uid: "1.2.840.10008.5.1.4.1.1.2.1".into(),
            scu_role: false,
            scp_role: true
        }]
    );
    assert_eq!(
        a.client.implementation_version_name.as_deref(),
        Some("MEDTAP_1")
    );
}

#[test]
fn rejected_presentation_context_has_no_accepted_transfer_syntax() {
    let rq = associate(
        0x01,
        "P",
        "S",
        &[
            rq_context(1, CT, &[EXPLICIT]),
            rq_context(3, CT, &[IMPLICIT]),
        ],
    );
    let ac = associate(
        0x02,
        "P",
        "S",
        &[
            ac_context(1, 4, EXPLICIT),
            ac_context(3, 3, IMPLICIT),
            ac_context(5, 0, IMPLICIT),
        ],
    );
    let a = one(run(&[(C, rq), (S, ac)]));
    let pcs = &a.presentation_contexts;
    assert_eq!(pcs[0].result, Some("transfer-syntaxes-not-supported"));
    assert_eq!(pcs[0].accepted_transfer_syntax, None);
    assert_eq!(pcs[1].result, Some("abstract-syntax-not-supported"));
    // An accepted context the request did not propose is still listed.
    assert_eq!((pcs[2].id, pcs[2].result), (5, Some("acceptance")));
    assert_eq!(pcs[2].abstract_syntax, None);
}

// ---------------------------------------------------------------------------
// DIMSE: operations and the data set walk
// ---------------------------------------------------------------------------

#[test]
fn implicit_data_set_gives_the_six_fields_and_nothing_of_group_0010() {
    let a = one(run(&store_conversation(
        IMPLICIT,
        &implicit_data_set(),
        16384,
    )));
    let d = a.device.clone().unwrap();
    assert_eq!(d.sender, Side::Client);
    assert_eq!(d.status, "parsed");
    assert_eq!(d.transfer_syntax.as_deref(), Some("1.2.840.10008.1.2"));
    assert_eq!(d.modality.as_deref(), Some("MR"));
    assert_eq!(d.manufacturer.as_deref(), Some("Example Corp"));
    assert_eq!(d.station_name.as_deref(), Some("MR7"));
    assert_eq!(d.model.as_deref(), Some("Magnet 3T"));
    assert_eq!(d.serial_number.as_deref(), Some("SER42"));
    assert_eq!(d.software_versions.as_deref(), Some("VE11C\\SP2"));
    let json = serde_json::to_string(&a).unwrap();
    assert!(!json.contains("SMITH") && !json.contains("PID-99887") && !json.contains("STUDYID"));
    let ops = a.operations.unwrap();
    assert_eq!(ops.counts["C-STORE-RQ"], 1);
    assert_eq!(ops.counts["C-STORE-RSP"], 1);
    assert_eq!(ops.first[0].sop_class_name, Some("CT Image Storage"));
}

#[test]
fn data_set_split_into_one_byte_pdvs_gives_the_same_fields() {
    let whole = one(run(&store_conversation(
        IMPLICIT,
        &implicit_data_set(),
        16384,
    )));
    let split = one(run(&store_conversation(IMPLICIT, &implicit_data_set(), 1)));
    assert_eq!(whole.device, split.device);
}

#[test]
fn explicit_data_set_with_sequences_of_both_lengths() {
    let mut item_value = ex(0x0008, 0x0100, b"SH", b"CODE");
    item_value.extend(ex(0x0010, 0x0010, b"PN", b"NESTED^PHI"));
    // (0008,1032) SQ of defined length holding one defined-length item.
    let mut defined_item = vec![0xFE, 0xFF, 0x00, 0xE0];
    defined_item.extend_from_slice(&(item_value.len() as u32).to_le_bytes());
    defined_item.extend_from_slice(&item_value);
    // (0008,1110) SQ of undefined length, one undefined-length item holding
    // a nested undefined-length SQ, then delimiters.
    let undefined = |tag: [u8; 4]| {
        let mut v = tag.to_vec();
        v.extend_from_slice(b"SQ\0\0\xFF\xFF\xFF\xFF");
        v
    };
    let mut ds = ex(0x0008, 0x0060, b"CS", b"US");
    ds.extend(ex(0x0008, 0x0070, b"LO", b"Sono Inc"));
    ds.extend(ex(0x0008, 0x1032, b"SQ", &defined_item));
    ds.extend(undefined([0x08, 0x00, 0x84, 0x10]));
    ds.extend([0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]); // item, undefined
    ds.extend(ex(0x0008, 0x1150, b"UI", b"1.2.3\0"));
    ds.extend(undefined([0x08, 0x00, 0x00, 0x12]));
    ds.extend([
        0xFE, 0xFF, 0x00, 0xE0, 0x04, 0x00, 0x00, 0x00, b'a', b'b', b'c', b'd',
    ]);
    ds.extend([0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]); // sequence delimiter
    // A "Manufacturer" inside an item must not be taken.
    ds.extend(ex(0x0008, 0x0070, b"LO", b"NOT THIS"));
    ds.extend([0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0]); // item delimiter
    ds.extend([0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]); // sequence delimiter
    ds.extend(ex(0x0008, 0x1090, b"LO", b"Echo 5"));
    ds.extend(ex(0x0010, 0x0010, b"PN", b"DOE^JANE"));
    ds.extend(ex(0x0018, 0x1020, b"LO", b"1.0"));
    ds.extend(ex(0x7FE0, 0x0010, b"OW", &[7u8; 4096]));
    for fragment in [1, 3, 7, 100_000] {
        let a = one(run(&store_conversation(EXPLICIT, &ds, fragment)));
        let d = a.device.unwrap();
        assert_eq!(d.status, "parsed", "fragment {fragment}");
        assert_eq!(d.modality.as_deref(), Some("US"));
        assert_eq!(d.manufacturer.as_deref(), Some("Sono Inc"));
        assert_eq!(d.model.as_deref(), Some("Echo 5"));
        assert_eq!(d.software_versions.as_deref(), Some("1.0"));
        assert!(a.anomalies.is_empty());
    }
}

#[test]
fn sequence_depth_limit_is_the_last_followed() {
    let nest = |depth: usize| {
        let mut ds = ex(0x0008, 0x0060, b"CS", b"CT");
        ds.extend([0x08, 0x00, 0x84, 0x10]);
        ds.extend(b"SQ\0\0\xFF\xFF\xFF\xFF");
        // depth = sequences + items entered; first SQ counts 1.
        for _ in 1..depth {
            ds.extend([0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
        }
        for _ in 1..depth {
            ds.extend([0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0]);
        }
        ds.extend([0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        ds.extend(ex(0x0008, 0x1090, b"LO", b"Deep"));
        ds
    };
    let a = one(run(&store_conversation(
        EXPLICIT,
        &nest(MAX_SEQUENCE_DEPTH),
        64,
    )));
    assert_eq!(a.device.unwrap().model.as_deref(), Some("Deep"));
    let a = one(run(&store_conversation(
        EXPLICIT,
        &nest(MAX_SEQUENCE_DEPTH + 1),
        64,
    )));
    let d = a.device.unwrap();
    assert_eq!(
        (d.status, d.modality.as_deref(), d.model),
        ("malformed", Some("CT"), None)
    );
    assert_eq!(a.anomalies, vec!["malformed_data_set"]);
}

#[test]
fn odd_data_sets_stop_the_walk() {
    // Tags out of order at the top level.
    let mut ds = el(0x0008, 0x0070, b"First");
    ds.extend(el(0x0008, 0x0060, b"CT"));
    let d = one(run(&store_conversation(IMPLICIT, &ds, 64)))
        .device
        .unwrap();
    assert_eq!(
        (d.status, d.manufacturer.as_deref(), d.modality),
        ("malformed", Some("First"), None)
    );
    // A VR that is not two capital letters.
    let mut ds = ex(0x0008, 0x0060, b"CS", b"CT");
    ds.extend(ex(0x0008, 0x0070, b"l0", b"X"));
    let d = one(run(&store_conversation(EXPLICIT, &ds, 64)))
        .device
        .unwrap();
    assert_eq!((d.status, d.modality.as_deref()), ("malformed", Some("CT")));
    // An item outside any sequence.
    let ds = [0xFE, 0xFF, 0x00, 0xE0, 0, 0, 0, 0].to_vec();
    assert_eq!(
        one(run(&store_conversation(IMPLICIT, &ds, 64)))
            .device
            .unwrap()
            .status,
        "malformed"
    );
    // Undefined length on a non-sequence VR; on UN the walk just stops.
    let mut ds = ex(0x0008, 0x0060, b"CS", b"CT");
    ds.extend([
        0x08, 0x00, 0x10, 0x11, b'U', b'N', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
    ]);
    let a = one(run(&store_conversation(EXPLICIT, &ds, 64)));
    assert_eq!(a.device.unwrap().status, "parsed");
    assert!(a.anomalies.is_empty());
}

#[test]
fn big_endian_and_deflated_data_sets_are_not_parsed() {
    for ts in ["1.2.840.10008.1.2.2\0", "1.2.840.10008.1.2.1.99"] {
        let a = one(run(&store_conversation(ts, &implicit_data_set(), 64)));
        let d = a.device.unwrap();
        assert_eq!(d.status, "not_parsed");
        assert_eq!(d.modality, None);
    }
}

#[test]
fn value_length_boundaries() {
    let exact = "M".repeat(MAX_VALUE_LEN);
    let longer = "N".repeat(MAX_VALUE_LEN + 1);
    let mut ds = el(0x0008, 0x0070, exact.as_bytes());
    ds.extend(el(0x0008, 0x1090, longer.as_bytes()));
    ds.extend(el(0x0008, 0x1091, &[]));
    let d = one(run(&store_conversation(IMPLICIT, &ds, 5)))
        .device
        .unwrap();
    assert_eq!(d.manufacturer.as_deref(), Some(exact.as_str()));
    assert_eq!(d.model.as_deref(), Some(&longer[..MAX_VALUE_LEN]));
}

#[test]
fn only_the_first_c_store_data_set_is_read() {
    let mut conv = store_conversation(IMPLICIT, &implicit_data_set(), 64);
    let release = conv.split_off(5);
    let cmd = command(0x0001, CT, &[el(0, 0x0800, &[0, 0])]);
    conv.push((C, pdata(&[pdv(1, 0x03, &cmd)])));
    conv.push((
        C,
        pdata(&[pdv(1, 0x02, &el(0x0008, 0x0070, b"Second Corp"))]),
    ));
    conv.extend(release);
    let a = one(run(&conv));
    assert_eq!(
        a.device.unwrap().manufacturer.as_deref(),
        Some("Example Corp")
    );
    assert_eq!(a.operations.unwrap().counts["C-STORE-RQ"], 2);
}

#[test]
fn statuses_are_categorised_and_failures_counted() {
    let mut conv = Vec::new();
    let statuses = [
        0x0000u16, 0xFF00, 0xFF01, 0xFE00, 0xB000, 0x0107, 0xA700, 0xA700, 0xC123, 0x0122,
    ];
    for status in statuses {
        let cmd = command(
            0x8020,
            "1.2.840.10008.5.1.4.31",
            &[el(0, 0x0900, &status.to_le_bytes())],
        );
        conv.push((S, pdata(&[pdv(1, 0x03, &cmd)])));
    }
    let ops = one(run(&conv)).operations.unwrap();
    let cats: Vec<_> = ops
        .first
        .iter()
        .map(|o| o.status_category.unwrap())
        .collect();
    assert_eq!(
        cats,
        [
            "success", "pending", "pending", "cancel", "warning", "warning", "failure", "failure",
            "failure", "failure"
        ]
    );
    assert_eq!(ops.failures, 4);
    assert_eq!(ops.failure_statuses["0xA700"], 2);
    assert_eq!(ops.failure_statuses.len(), 3);
    assert_eq!(
        ops.first[0].sop_class_name,
        Some("Modality Worklist Information Model - FIND")
    );
}

#[test]
fn every_command_field_has_its_name() {
    let fields = [
        (0x0001, "C-STORE-RQ"),
        (0x8001, "C-STORE-RSP"),
        (0x0010, "C-GET-RQ"),
        (0x8010, "C-GET-RSP"),
        (0x0020, "C-FIND-RQ"),
        (0x8020, "C-FIND-RSP"),
        (0x0021, "C-MOVE-RQ"),
        (0x8021, "C-MOVE-RSP"),
        (0x0030, "C-ECHO-RQ"),
        (0x8030, "C-ECHO-RSP"),
        (0x0100, "N-EVENT-REPORT-RQ"),
        (0x8100, "N-EVENT-REPORT-RSP"),
        (0x0110, "N-GET-RQ"),
        (0x8110, "N-GET-RSP"),
        (0x0120, "N-SET-RQ"),
        (0x8120, "N-SET-RSP"),
        (0x0130, "N-ACTION-RQ"),
        (0x8130, "N-ACTION-RSP"),
        (0x0140, "N-CREATE-RQ"),
        (0x8140, "N-CREATE-RSP"),
        (0x0150, "N-DELETE-RQ"),
        (0x8150, "N-DELETE-RSP"),
        (0x0FFF, "C-CANCEL-RQ"),
        (0x1234, "unknown"),
    ];
    let mut conv = Vec::new();
    for (field, _) in fields {
        // N-services name the class in RequestedSOPClassUID (0000,0003).
        let mut cmd = el(0, 0x0003, b"1.2.840.10008.3.1.2.3.3\0");
        cmd.extend(el(0, 0x0100, &u16::to_le_bytes(field)));
        conv.push((C, pdata(&[pdv(1, 0x03, &cmd)])));
    }
    let ops = one(run(&conv)).operations.unwrap();
    let names: Vec<_> = ops.first.iter().map(|o| o.command).collect();
    let expected: Vec<_> = fields.iter().map(|f| f.1).collect();
    assert_eq!(names, expected);
    assert_eq!(
        ops.first[0].sop_class_name,
        Some("Modality Performed Procedure Step SOP Class")
    );
}

#[test]
fn operations_list_stops_at_its_limit_counts_do_not() {
    let cmd = command(0x0030, "1.2.840.10008.1.1\0", &[]);
    let conv: Vec<_> = (0..MAX_OPERATIONS + 1)
        .map(|_| (C, pdata(&[pdv(1, 0x03, &cmd)])))
        .collect();
    let ops = one(run(&conv)).operations.unwrap();
    assert_eq!(ops.first.len(), MAX_OPERATIONS);
    assert_eq!(ops.total, MAX_OPERATIONS as u64 + 1);
    assert_eq!(ops.counts["C-ECHO-RQ"], MAX_OPERATIONS as u64 + 1);
}

#[test]
fn command_set_spanning_pdvs_and_pdus() {
    let cmd = command(
        0x0021,
        "1.2.840.10008.5.1.4.1.2.2.2\0",
        &[el(0, 0x0600, b"ARCHIVE ")],
    );
    let (a, b) = cmd.split_at(10);
    let conv = vec![
        (C, pdata(&[pdv(1, 0x01, &a[..4]), pdv(1, 0x01, &a[4..])])), // command, not last
        (C, pdata(&[pdv(1, 0x03, b)])),                              // command, last
    ];
    let op = one(run(&conv)).operations.unwrap().first[0].clone();
    assert_eq!(op.command, "C-MOVE-RQ");
    assert_eq!(op.move_destination.as_deref(), Some("ARCHIVE"));
    assert_eq!(
        op.sop_class_name,
        Some("Study Root Query/Retrieve Information Model - MOVE")
    );
}

// ---------------------------------------------------------------------------
// Length-field boundaries
// ---------------------------------------------------------------------------

/// An A-ASSOCIATE-RQ whose PDU body is exactly `body_len` bytes, padded
/// with unknown items (ignored per PS3.8 §9.3.1).
fn rq_of_length(body_len: usize) -> Vec<u8> {
    let mut items = vec![app_context()];
    let mut len = 68 + items[0].len();
    while len < body_len {
        let pad = (body_len - len - 4).min(60_000);
        items.push(item(0x7F, &vec![0; pad]));
        len += pad + 4;
    }
    let pdu = associate(0x01, "P", "S", &items);
    assert_eq!(pdu.len(), body_len + 6);
    pdu
}

#[test]
fn associate_pdu_of_max_length_is_the_largest_valid() {
    let (records, counts) = run_counting(&[(C, rq_of_length(MAX_ASSOCIATE_PDU as usize))]);
    assert_eq!(counts.iter().sum::<u64>(), 0);
    assert_eq!(one(records).client.ae_title.as_deref(), Some("S"));
    // One byte more is read item by item: counted, and still seen.
    let (records, counts) = run_counting(&[(C, rq_of_length(MAX_ASSOCIATE_PDU as usize + 1))]);
    assert_eq!(anomaly(&counts, "oversized_pdu"), 1);
    assert_eq!(one(records).client.ae_title.as_deref(), Some("S"));
    // Past the item-by-item limit the direction stops.
    let (records, counts) = run_counting(&[(C, rq_of_length(MAX_LONG_ASSOCIATE_PDU as usize + 1))]);
    assert_eq!(anomaly(&counts, "oversized_pdu"), 1);
    assert_eq!(one(records).client.ae_title, None);
}

/// Issue 14: a legal A-ASSOCIATE-RQ past 64 KiB — a JSON Web Token as user
/// identity — is seen: its AE titles, contexts and identity type, read item
/// by item, the token never copied; the association goes on as usual.
#[test]
fn a_long_request_with_a_token_is_seen_and_the_token_is_not_kept() {
    let token = vec![b'J'; 50_000];
    let identity = [
        &[5u8, 1][..],
        &(token.len() as u16).to_be_bytes(),
        &token,
        &[0, 0],
    ]
    .concat();
    let contexts: Vec<Vec<u8>> = (0..120)
        .map(|i| {
            rq_context(
                2 * i + 1,
                "1.2.840.10008.5.1.4.1.1.2",
                &["1.2.840.10008.1.2"],
            )
        })
        .collect();
    let mut items = vec![app_context()];
    items.extend(contexts);
    // A second long sub-item past the kept size (an extended negotiation).
    items.push(user_info(&[
        item(0x58, &identity),
        item(0x56, &vec![0; 9_000]),
    ]));
    let rq = associate(0x01, "PACS", "CT05", &items);
    assert!(rq.len() > MAX_ASSOCIATE_PDU as usize + 6);
    let conversation = vec![(C, rq)];
    let (records, counts) = run_counting(&conversation);
    assert_eq!(anomaly(&counts, "oversized_pdu"), 1);
    let a = one(records);
    assert_eq!(a.client.ae_title.as_deref(), Some("CT05"));
    assert_eq!(a.server.ae_title.as_deref(), Some("PACS"));
    assert_eq!(a.presentation_contexts.len(), 120);
    let identity = a.user_identity.clone().unwrap();
    assert_eq!((identity.kind, identity.type_name), (5, "jwt"));
    assert!(identity.positive_response_requested);
    assert!(!serde_json::to_string(&a).unwrap().contains("JJJJ"));
    // The same one byte at a time.
    let bytes: Vec<(Direction, Vec<u8>)> =
        conversation[0].1.iter().map(|b| (C, vec![*b])).collect();
    assert_eq!(one(run(&bytes)), a);
    // Observed as requested when the association ends unanswered.
    let observed = observe(&conversation);
    assert!(
        observed.iter().any(|(_, o)| matches!(o,
        DicomObservation::Associated { client, .. } if client.ae_title.as_deref() == Some("CT05")))
    );
}

#[test]
fn associate_pdu_fixed_part_boundaries() {
    // Smallest valid: the 68-byte fixed part, no items.
    let a = one(run(&[(C, associate(0x01, "P", "S", &[]))]));
    assert_eq!(a.server.ae_title.as_deref(), Some("P"));
    // One byte short of the fixed part: malformed.
    let mut short = associate(0x01, "P", "S", &[]);
    short.pop();
    short[5] -= 1;
    let (_, counts) = run_counting(&[(C, short)]);
    assert_eq!(anomaly(&counts, "malformed_pdu"), 1);
    // A full 16-byte AE title is kept whole.
    let a = one(run(&[(C, associate(0x01, "ABCDEFGHIJKLMNOP", "S", &[]))]));
    assert_eq!(a.server.ae_title.as_deref(), Some("ABCDEFGHIJKLMNOP"));
}

#[test]
fn item_length_boundaries() {
    // An item that ends exactly at the PDU end is valid; one byte more is not.
    let ok = associate(0x01, "P", "S", &[app_context()]);
    assert_eq!(run_counting(&[(C, ok.clone())]).1.iter().sum::<u64>(), 0);
    let mut bad = ok;
    let at = 6 + 68 + 3; // low byte of the application context item length
    bad[at] += 1;
    let (records, counts) = run_counting(&[(C, bad)]);
    assert_eq!(anomaly(&counts, "malformed_pdu"), 1);
    assert_eq!(one(records).anomalies, vec!["malformed_pdu"]);
}

#[test]
fn presentation_context_and_transfer_syntax_limits() {
    let ts: Vec<&str> = vec![IMPLICIT; MAX_TRANSFER_SYNTAXES];
    let contexts: Vec<Vec<u8>> = (0..MAX_PRESENTATION_CONTEXTS)
        .map(|i| rq_context((2 * i + 1) as u8, CT, &ts))
        .collect();
    let (records, counts) = run_counting(&[(C, associate(0x01, "P", "S", &contexts))]);
    assert_eq!(counts.iter().sum::<u64>(), 0);
    let a = one(records);
    assert_eq!(a.presentation_contexts.len(), MAX_PRESENTATION_CONTEXTS);
    assert_eq!(
        a.presentation_contexts[0].transfer_syntaxes.len(),
        MAX_TRANSFER_SYNTAXES
    );

    let mut more = contexts.clone();
    more.push(rq_context(1, CT, &[IMPLICIT]));
    let (records, counts) = run_counting(&[(C, associate(0x01, "P", "S", &more))]);
    assert_eq!(anomaly(&counts, "too_many_items"), 1);
    assert_eq!(
        one(records).presentation_contexts.len(),
        MAX_PRESENTATION_CONTEXTS
    );
    let (_, counts) = run_counting(&[(
        C,
        associate(
            0x01,
            "P",
            "S",
            &[rq_context(1, CT, &[IMPLICIT; MAX_TRANSFER_SYNTAXES + 1])],
        ),
    )]);
    assert_eq!(anomaly(&counts, "too_many_items"), 1);
}

#[test]
fn pdata_length_boundaries() {
    // Smallest valid P-DATA-TF: one PDV of length 2 (an empty fragment).
    let (records, counts) = run_counting(&[(C, pdata(&[pdv(1, 0x00, &[])]))]);
    assert_eq!(counts.iter().sum::<u64>(), 0);
    assert_eq!(one(records).bytes_to_server, 12);
    // A P-DATA-TF too short for a PDV header.
    let (_, counts) = run_counting(&[(C, pdu(0x04, &[0, 0, 0, 1, 1]))]);
    assert_eq!(anomaly(&counts, "malformed_pdu"), 1);
}

#[test]
fn pdv_length_boundaries() {
    // PDV length 1 cannot hold the context id and control header.
    let (_, counts) = run_counting(&[(C, pdu(0x04, &[0, 0, 0, 1, 1, 3]))]);
    assert_eq!(anomaly(&counts, "malformed_pdv"), 1);
    // A PDV filling its PDU exactly is the largest valid …
    let cmd = command(0x0030, "1.2.840.10008.1.1\0", &[]);
    let (records, counts) = run_counting(&[(C, pdata(&[pdv(1, 0x03, &cmd)]))]);
    assert_eq!(counts.iter().sum::<u64>(), 0);
    assert_eq!(one(records).operations.unwrap().total, 1);
    // … one byte longer overruns it.
    let mut bad = pdata(&[pdv(1, 0x03, &cmd)]);
    bad[9] += 1;
    let (records, counts) = run_counting(&[(C, bad)]);
    assert_eq!(anomaly(&counts, "malformed_pdv"), 1);
    assert!(one(records).operations.is_none());
}

#[test]
fn command_set_length_boundaries() {
    let base = command(0x0030, "1.2.840.10008.1.1\0", &[]);
    let pad = |total: usize| {
        let mut c = base.clone();
        c.extend(el(0, 0x1234, &vec![0; total - base.len() - 8]));
        assert_eq!(c.len(), total);
        c
    };
    let (records, counts) = run_counting(&[(C, pdata(&[pdv(1, 0x03, &pad(MAX_COMMAND_SET))]))]);
    assert_eq!(counts.iter().sum::<u64>(), 0);
    assert_eq!(one(records).operations.unwrap().total, 1);
    let big = pad(MAX_COMMAND_SET + 1);
    let (records, counts) = run_counting(&[(
        C,
        pdata(&[pdv(1, 0x01, &big[..100]), pdv(1, 0x03, &big[100..])]),
    )]);
    assert_eq!(anomaly(&counts, "oversized_command_set"), 1);
    assert!(one(records).operations.is_none());
}

#[test]
fn unknown_pdu_type_stops_the_direction() {
    let (records, counts) = run_counting(&[
        (C, vec![0x08, 0, 0, 0, 0, 4, 0, 0, 0, 0]),
        (C, pdu(0x05, &[0; 4])),
        (S, pdu(0x06, &[0; 4])),
    ]);
    assert_eq!(anomaly(&counts, "unknown_pdu_type"), 1);
    // The other direction still completes the association.
    let a = one(records);
    assert!(a.released);
    assert_eq!(a.bytes_to_server, 20);
}

#[test]
fn unexpected_pdu_direction_is_counted() {
    let (_, counts) = run_counting(&[(S, associate(0x01, "P", "S", &[]))]);
    assert_eq!(anomaly(&counts, "unexpected_pdu"), 1);
}

#[test]
fn gap_stops_one_direction() {
    let mut p = DicomParser::default();
    let mut out = OutputOf::<DicomParser>::default();
    assert!(p.gap(C, 100));
    assert_eq!(p.feed(C, 0, &pdu(0x05, &[0; 4]), &mut out), 10);
    assert!(!p.gap(S, 1));
    p.finish(0, &mut out);
    let a = one(out.records);
    assert_eq!(a.anomalies, vec!["stream_gap"]);
    assert!(!a.released);
}

// ---------------------------------------------------------------------------
// Detection
// ---------------------------------------------------------------------------

#[test]
fn probe_recognises_requests_and_answers() {
    for name in [
        "echo",
        "find_move",
        "store_ct",
        "tapirx_dicom_arq_1_find_testclient",
    ] {
        let conv = load(name);
        let first_client = &conv.iter().find(|s| s.0 == C).unwrap().1;
        assert_eq!(DicomParser::probe(C, first_client), Probe::Match, "{name}");
        assert_eq!(DicomParser::probe(C, &first_client[..75]), Probe::NeedMore);
        assert_eq!(DicomParser::probe(C, &first_client[..1]), Probe::NeedMore);
        assert_eq!(DicomParser::probe(C, &[]), Probe::NeedMore);
        if let Some((_, first_server)) = conv.iter().find(|s| s.0 == S) {
            assert_eq!(DicomParser::probe(S, first_server), Probe::Match, "{name}");
        }
    }
    let rj = &load("reject")[1].1;
    assert_eq!(DicomParser::probe(S, rj), Probe::Match);
    assert_eq!(DicomParser::probe(S, &rj[..5]), Probe::NeedMore);
}

#[test]
fn probe_rejects_other_protocols() {
    let tls = [
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    let mut hello = tls.to_vec();
    hello.resize(200, 0x41);
    let others: [&[u8]; 7] = [
        &hello,
        b"GET / HTTP/1.1\r\nHost: example\r\n\r\n",
        b"SSH-2.0-OpenSSH_9.6\r\n",
        &[0u8; 128],
        b"\x0bMSH|^~\\&|LAB|HOSP|",
        b"\x10\x12\x00\x04MQTT\x04\x02\x00\x3c",
        &[0xFF; 128],
    ];
    for bytes in others {
        assert_eq!(DicomParser::probe(C, bytes), Probe::NoMatch, "{bytes:?}");
        assert_eq!(DicomParser::probe(S, bytes), Probe::NoMatch, "{bytes:?}");
    }
    // The right first byte but an absurd length, or a non-printable title.
    let mut rq = load("echo")[0].1.clone();
    rq[2] = 0x7F;
    assert_eq!(DicomParser::probe(C, &rq), Probe::NoMatch);
    let mut rq = load("echo")[0].1.clone();
    rq[12] = 0x01;
    assert_eq!(DicomParser::probe(C, &rq), Probe::NoMatch);
}

// ---------------------------------------------------------------------------
// Real captures, checked against tshark's dissector
// ---------------------------------------------------------------------------

const PYNETDICOM_UID: &str = "1.2.826.0.1.3680043.9.3811.3.0.4";

#[test]
fn real_echo_association() {
    let conversation = load("echo");
    let a = one(run(&conversation));
    // dicom.assoc.ae.calling "ECHOSCU", dicom.assoc.ae.called "STORESCP"
    assert_eq!(a.client.ae_title.as_deref(), Some("ECHOSCU"));
    assert_eq!(a.server.ae_title.as_deref(), Some("STORESCP"));
    // dicom.userinfo.uid / dicom.userinfo.version / dicom.max_pdu_len, RQ and AC
    for peer in [&a.client, &a.server] {
        assert_eq!(
            peer.implementation_class_uid.as_deref(),
            Some(PYNETDICOM_UID)
        );
        assert_eq!(
            peer.implementation_version_name.as_deref(),
            Some("PYNETDICOM_304")
        );
        assert_eq!(peer.max_pdu_length, Some(16382));
    }
    // dicom.actx: DICOM Application Context Name (1.2.840.10008.3.1.1.1)
    assert_eq!(
        a.application_context.as_deref(),
        Some("1.2.840.10008.3.1.1.1")
    );
    // dicom.pctx.id 0x01, dicom.pctx.abss.syntax Verification, dicom.pctx.xfer.syntax
    // (RQ) 1.2.840.10008.1.2.1, 1.2.840.10008.1.2, …1.2.1.99, …1.2.2;
    // dicom.pctx.result 0x00 with 1.2.840.10008.1.2 (AC)
    let pc = &a.presentation_contexts[0];
    assert_eq!(pc.abstract_syntax.as_deref(), Some("1.2.840.10008.1.1"));
    assert_eq!(
        pc.transfer_syntaxes,
        [
            "1.2.840.10008.1.2.1",
            "1.2.840.10008.1.2",
            "1.2.840.10008.1.2.1.99",
            "1.2.840.10008.1.2.2"
        ]
    );
    assert_eq!(pc.result, Some("acceptance"));
    assert_eq!(
        pc.accepted_transfer_syntax.as_deref(),
        Some("1.2.840.10008.1.2")
    );
    // Info column: C-ECHO-RQ ID=1, C-ECHO-RSP ID=1 (Success), A-RELEASE request/response
    let ops = a.operations.clone().unwrap();
    assert_eq!(
        ops.first.iter().map(|o| o.command).collect::<Vec<_>>(),
        ["C-ECHO-RQ", "C-ECHO-RSP"]
    );
    assert_eq!(ops.first[1].status, Some(0));
    assert_eq!(a.result, Some("accepted"));
    assert!(a.released);
    // tcp.len summed per tcp.srcport: 32807 → 377, 11112 → 294.
    assert_eq!((a.bytes_to_server, a.bytes_to_client), (377, 294));
    let facts = facts_of(&conversation);
    let has = |side, name, value: &str| {
        facts
            .iter()
            .any(|f| f.side == side && f.name == name && f.value == value)
    };
    assert!(has(Side::Client, "dicom.ae_title", "ECHOSCU"));
    assert!(has(Side::Server, "dicom.ae_title", "STORESCP"));
    assert!(has(
        Side::Client,
        "dicom.implementation_class_uid",
        PYNETDICOM_UID
    ));
    assert!(has(
        Side::Server,
        "dicom.implementation_version",
        "PYNETDICOM_304"
    ));
    assert!(has(Side::Client, "role", "dicom_scu"));
    assert!(has(Side::Server, "role", "dicom_scp"));
}

#[test]
fn real_abort() {
    let a = one(run(&load("echo_abort")));
    // dicom.pdu.type 0x07 from the client, dicom.assoc.abort.source 0, reason 0
    assert_eq!(a.result, Some("aborted"));
    let ab = a.abort.unwrap();
    assert_eq!(
        (ab.sent_by, ab.source, ab.reason),
        (Side::Client, "service-user", None)
    );
    assert!(!a.released);
    assert_eq!(a.operations.unwrap().total, 2);
}

#[test]
fn real_reject() {
    let a = one(run(&load("reject")));
    // dicom.assoc.ae.called "WRONGAE"; dicom.assoc.reject.result 1, source 1, reason 7
    assert_eq!(a.server.ae_title.as_deref(), Some("WRONGAE"));
    assert_eq!(a.client.ae_title.as_deref(), Some("WORKSTATION1"));
    assert_eq!(a.result, Some("rejected"));
    let r = a.reject.unwrap();
    assert_eq!(
        (r.result, r.source, r.reason),
        (
            "rejected-permanent",
            "service-user",
            "called-AE-title-not-recognized"
        )
    );
    assert_eq!(a.bytes_to_client, 10);
}

#[test]
fn real_find_and_move_with_user_identity() {
    let a = one(run(&load("find_move")));
    // dicom.userinfo.user_identify.type 2, .response_requested 1; the AC's
    // items (dicom.assoc.item.type) hold no 0x59.
    let id = a.user_identity.clone().unwrap();
    assert_eq!(
        (id.kind, id.positive_response_requested, id.server_response),
        (2, true, false)
    );
    // dicom.pctx.id 1 and 3: Patient Root Q/R FIND and MOVE, accepted with implicit VR LE.
    let pcs = &a.presentation_contexts;
    assert_eq!(pcs.len(), 2);
    assert_eq!(
        pcs[0].sop_class_name,
        Some("Patient Root Query/Retrieve Information Model - FIND")
    );
    assert_eq!(
        pcs[1].sop_class_name,
        Some("Patient Root Query/Retrieve Information Model - MOVE")
    );
    assert!(
        pcs.iter()
            .all(|p| p.accepted_transfer_syntax.as_deref() == Some("1.2.840.10008.1.2"))
    );
    // (0000,0100) C-FIND-RQ, C-FIND-RSP (0000,0900) 0xff00, C-FIND-RSP 0x0000,
    // C-MOVE-RQ (0000,0600) "NOWHERE", C-MOVE-RSP 0xa801 (Move Destination unknown)
    let ops = a.operations.unwrap();
    let seen: Vec<_> = ops
        .first
        .iter()
        .map(|o| (o.command, o.status, o.sent_by))
        .collect();
    assert_eq!(
        seen,
        [
            ("C-FIND-RQ", None, Side::Client),
            ("C-FIND-RSP", Some(0xFF00), Side::Server),
            ("C-FIND-RSP", Some(0x0000), Side::Server),
            ("C-MOVE-RQ", None, Side::Client),
            ("C-MOVE-RSP", Some(0xA801), Side::Server),
        ]
    );
    assert_eq!(ops.first[3].move_destination.as_deref(), Some("NOWHERE"));
    assert_eq!(ops.first[3].presentation_context_id, 3);
    assert_eq!(ops.failures, 1);
    assert_eq!(ops.failure_statuses["0xA801"], 1);
    assert!(a.device.is_none());
    assert!(a.released);
}

/// On a real C-FIND / C-MOVE association: who the ends are is observed at
/// the A-ASSOCIATE-AC, each request at its own command set, once per
/// command and SOP class, and nothing waits for the release.
#[test]
fn observations_come_at_their_pdus() {
    let conversation = load("find_move");
    let observed = observe(&conversation);
    let first_of = |pdu_type: u8, direction: Direction| {
        conversation
            .iter()
            .position(|(d, b)| *d == direction && b.first() == Some(&pdu_type))
            .unwrap() as i64
    };
    let (at, associated) = &observed[0];
    assert_eq!(*at, first_of(0x02, S), "at the A-ASSOCIATE-AC");
    let DicomObservation::Associated { client, server } = associated else {
        panic!("{associated:?}");
    };
    assert!(client.ae_title.is_some() && server.ae_title.is_some());
    let commands: Vec<(i64, &str)> = observed
        .iter()
        .filter_map(|(at, o)| match o {
            DicomObservation::Command { command, .. } => Some((*at, *command)),
            _ => None,
        })
        .collect();
    assert!(!commands.is_empty());
    let release = first_of(0x05, C);
    for (at, command) in &commands {
        assert!(*at < release, "{command} observed before the release");
        assert!(command.ends_with("-RQ"));
    }
    let a = one(run(&conversation));
    let requests = a
        .operations
        .unwrap()
        .first
        .iter()
        .filter(|o| o.command.ends_with("-RQ"))
        .map(|o| {
            (
                o.sent_by == Side::Client,
                o.command,
                o.sop_class_uid.clone(),
            )
        })
        .collect::<std::collections::BTreeSet<_>>();
    assert_eq!(commands.len(), requests.len(), "one per distinct request");
}

#[test]
fn real_store_implicit() {
    let conversation = load("store_ct");
    let a = one(run(&conversation));
    assert_eq!(a.client.ae_title.as_deref(), Some("MODALITY1"));
    // The C-STORE runs on dicom.pdv.ctx 69 (0x45), which the AC accepts
    // (dicom.pctx.result 0x0) with Implicit VR Little Endian.
    let op = &a.operations.as_ref().unwrap().first[0];
    assert_eq!((op.command, op.presentation_context_id), ("C-STORE-RQ", 69));
    let pc = a.presentation_contexts.iter().find(|p| p.id == 69).unwrap();
    assert_eq!(
        pc.abstract_syntax.as_deref(),
        Some("1.2.840.10008.5.1.4.1.1.2")
    );
    assert_eq!(
        pc.accepted_transfer_syntax.as_deref(),
        Some("1.2.840.10008.1.2")
    );
    // tshark -V: (0008,0060) CT, (0008,0070) ACME Medical, (0008,1010) CT01,
    // (0008,1090) ScanMaster 9, (0018,1000) "SN-000123 ", (0018,1020) "4.2.1 "
    let d = a.device.clone().unwrap();
    assert_eq!(d.sender, Side::Client);
    assert_eq!(d.status, "parsed");
    assert_eq!(d.modality.as_deref(), Some("CT"));
    assert_eq!(d.manufacturer.as_deref(), Some("ACME Medical"));
    assert_eq!(d.station_name.as_deref(), Some("CT01"));
    assert_eq!(d.model.as_deref(), Some("ScanMaster 9"));
    assert_eq!(d.serial_number.as_deref(), Some("SN-000123"));
    assert_eq!(d.software_versions.as_deref(), Some("4.2.1"));
    // C-STORE-RSP (0000,0900) Success
    assert_eq!(
        a.operations.clone().unwrap().first[1].status_category,
        Some("success")
    );
    let facts = facts_of(&conversation);
    for (name, value) in [
        ("dicom.modality", "CT"),
        ("dicom.manufacturer", "ACME Medical"),
        ("dicom.model", "ScanMaster 9"),
        ("dicom.station_name", "CT01"),
        ("dicom.software_versions", "4.2.1"),
        ("dicom.serial_number", "SN-000123"),
    ] {
        assert!(
            facts
                .iter()
                .any(|f| f.side == Side::Client && f.name == name && f.value == value),
            "{name}"
        );
    }
}

#[test]
fn real_two_megabyte_store_is_skipped_by_length() {
    let conv = load("store_two");
    // Held bytes stay at a PDU/PDV header once the association is set up.
    let mut parser = DicomParser::default();
    let mut pending = Pending::default();
    let mut out = OutputOf::<DicomParser>::default();
    let mut most_held = 0;
    for (i, (d, b)) in conv.iter().enumerate() {
        pending.feed(&mut parser, *d, 0, b, &mut out).unwrap();
        if i >= 2 {
            most_held = most_held.max(pending.len());
        }
    }
    parser.finish(0, &mut out);
    assert!(most_held < PDU_HEADER_LEN + PDV_HEADER_LEN, "{most_held}");
    let a = one(out.records);
    // tshark: two C-STORE-RQ / C-STORE-RSP (Success) on context 1, explicit VR LE.
    let ops = a.operations.clone().unwrap();
    assert_eq!(
        (ops.counts["C-STORE-RQ"], ops.counts["C-STORE-RSP"]),
        (2, 2)
    );
    // The first data set (the 2 MiB image, (0008,1010) [SH] CT02) is the one read.
    let d = a.device.unwrap();
    assert_eq!(d.transfer_syntax.as_deref(), Some("1.2.840.10008.1.2.1"));
    assert_eq!(d.station_name.as_deref(), Some("CT02"));
    assert_eq!(d.software_versions.as_deref(), Some("4.2.1"));
    assert!(a.bytes_to_server > 2 * 1024 * 1024);
    assert!(a.released);
}

#[test]
fn real_store_picked_up_midstream() {
    // Without the association setup the data set's transfer syntax is unknown.
    let conv: Vec<_> = load("store_two").into_iter().skip(2).collect();
    let a = one(run(&conv));
    assert_eq!(a.client.ae_title, None);
    assert_eq!(a.operations.unwrap().counts["C-STORE-RQ"], 2);
    assert_eq!(a.device.unwrap().status, "not_parsed");
    assert!(a.released);
}

#[test]
fn tapirx_requests() {
    for (name, called, calling, contexts) in [
        // dicom.assoc.ae.called / .calling; number of dicom.pctx.id values
        (
            "tapirx_dicom_arq_1_find_testclient",
            "testserver",
            "testclient",
            4,
        ),
        (
            "tapirx_dicom_arq_2_get_testclient",
            "testserver",
            "testclient",
            123,
        ),
        (
            "tapirx_dicom_arq_3_find_bogus_local",
            "bogus_remote",
            "bogus_local",
            4,
        ),
        (
            "tapirx_dicom_arq_4_get_bogus_local",
            "testserver",
            "testclient",
            123,
        ),
    ] {
        let a = one(run(&load(name)));
        assert_eq!(a.server.ae_title.as_deref(), Some(called), "{name}");
        assert_eq!(a.client.ae_title.as_deref(), Some(calling), "{name}");
        // dicom.userinfo.uid, dicom.userinfo.version, dicom.max_pdu_len
        assert_eq!(
            a.client.implementation_class_uid.as_deref(),
            Some("1.2.826.0.1.3680043.9.7133.1.1")
        );
        assert_eq!(
            a.client.implementation_version_name.as_deref(),
            Some("GODICOM_1_1")
        );
        assert_eq!(a.client.max_pdu_length, Some(4_194_304));
        assert_eq!(a.presentation_contexts.len(), contexts, "{name}");
        // dicom.pctx.xfer.syntax: four per context, implicit first.
        assert_eq!(a.presentation_contexts[0].transfer_syntaxes.len(), 4);
        assert!(a.result.is_none() && a.anomalies.is_empty());
    }
    let a = one(run(&load("tapirx_dicom_arq_1_find_testclient")));
    // dicom.pctx.abss.syntax of context 7: Modality Worklist Information Model - FIND
    assert_eq!(a.presentation_contexts[3].id, 7);
    assert_eq!(
        a.presentation_contexts[3].sop_class_name,
        Some("Modality Worklist Information Model - FIND")
    );
}

#[test]
fn no_phi_or_credentials_in_any_record() {
    let forbidden = [
        "DOE^JANE",
        "DOE",
        "MRN-0042-PHI",
        "19700101",
        "General Hospital",
        "jdoe-tech",
        "s3cret-pass",
        "server-identity-token",
        "HEAD ROUTINE",
        "CTHEAD",
    ];
    for name in [
        "echo",
        "echo_abort",
        "find_move",
        "reject",
        "store_ct",
        "store_two",
    ] {
        let conv = load(name);
        let all: Vec<u8> = conv.iter().flat_map(|s| s.1.clone()).collect();
        let json = serde_json::to_string(&run(&conv)).unwrap();
        for word in forbidden {
            assert!(!json.contains(word), "{name}: {word} in {json}");
        }
        // The captures really carry it, so the test can fail.
        if name.starts_with("store") || name == "find_move" {
            assert!(all.windows(8).any(|w| w == b"DOE^JANE"), "{name}");
        }
    }
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

/// Re-splits each segment of a conversation at the given cut points.
fn resplit(conv: &[(Direction, Vec<u8>)], cuts: &[usize]) -> Vec<(Direction, Vec<u8>)> {
    let mut out = Vec::new();
    let mut k = 0;
    for (d, bytes) in conv {
        let mut rest = bytes.as_slice();
        while !rest.is_empty() {
            let n = (cuts[k % cuts.len()] % rest.len()).max(1);
            k += 1;
            out.push((*d, rest[..n].to_vec()));
            rest = &rest[n..];
        }
    }
    out
}

#[test]
fn one_byte_segments_give_the_same_records() {
    for name in ["echo", "find_move", "store_ct", "reject", "echo_abort"] {
        let conv = load(name);
        assert_eq!(run(&resplit(&conv, &[1])), run(&conv), "{name}");
    }
    let conv = store_conversation(EXPLICIT, &implicit_data_set(), 50);
    assert_eq!(run(&resplit(&conv, &[1])), run(&conv));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_split_gives_the_same_records(cuts in prop::collection::vec(1usize..5000, 1..40)) {
        for name in ["find_move", "store_ct"] {
            let conv = load(name);
            prop_assert_eq!(run(&resplit(&conv, &cuts)), run(&conv));
            let kinds = |c: &[(Direction, Vec<u8>)]| -> Vec<DicomObservation> {
                observe(c).into_iter().map(|(_, o)| o).collect()
            };
            prop_assert_eq!(kinds(&resplit(&conv, &cuts)), kinds(&conv));
        }
    }

    /// A long request whose items are of any content, cut anywhere: the
    /// item-by-item walk never panics and gives the same record whatever
    /// the split.
    #[test]
    fn long_requests_of_any_items_give_the_same_record_in_any_split(
        items in prop::collection::vec((any::<u8>(), prop::collection::vec(any::<u8>(), 0..3000)), 20..40),
        cuts in prop::collection::vec(1usize..5000, 1..20),
    ) {
        let mut items: Vec<Vec<u8>> = items.into_iter().map(|(kind, value)| item(kind, &value)).collect();
        items.insert(0, app_context());
        items.push(item(0x7F, &vec![0; 60_000]));
        let conv = vec![(C, associate(0x01, "P", "S", &items))];
        prop_assert_eq!(run(&resplit(&conv, &cuts)), run(&conv));
    }

    #[test]
    fn arbitrary_bytes_never_panic(segments in prop::collection::vec((any::<bool>(), prop::collection::vec(any::<u8>(), 0..300)), 0..20)) {
        let conv: Vec<_> = segments.into_iter().map(|(c, b)| (if c { C } else { S }, b)).collect();
        let _ = run(&conv);
        let _ = DicomParser::probe(C, conv.first().map_or(&[][..], |s| &s.1));
    }

    #[test]
    fn mutated_captures_never_panic(seed in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16)) {
        let mut conv = load("store_ct");
        conv.extend(load("find_move"));
        for (index, byte) in seed {
            let seg = index.index(conv.len());
            let len = conv[seg].1.len();
            if len > 0 {
                conv[seg].1[index.index(len)] = byte;
            }
        }
        let _ = run(&conv);
    }

    #[test]
    fn data_set_walk_of_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..600), explicit in any::<bool>()) {
        let ts = if explicit { EXPLICIT } else { IMPLICIT };
        let _ = run(&store_conversation(ts, &bytes, 7));
    }
}
