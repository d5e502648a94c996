//! Tests of the p0f signatures and matching: hand-made SYNs with a comment
//! per field, each of p0f's matching tiers, the refusals, and property
//! tests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use super::*;
use crate::fingerprint::tcp::TcpAnomaly;
use proptest::prelude::*;

/// An IPv4 SYN: `ttl`, DF and IP id as given, window, and TCP options.
fn syn_v4(ttl: u8, df: bool, id: u16, window: u16, options: &[u8]) -> Vec<u8> {
    let tcp_len = 20 + options.len();
    let total = 20 + tcp_len;
    let mut p = vec![
        0x45, 0x00, // version 4, IHL 5; TOS 0
    ];
    p.extend_from_slice(&(total as u16).to_be_bytes()); // total length
    p.extend_from_slice(&id.to_be_bytes()); // identification
    p.extend_from_slice(if df { &[0x40, 0x00] } else { &[0x00, 0x00] }); // flags, fragment offset
    p.extend_from_slice(&[ttl, 6, 0, 0]); // TTL, protocol TCP, checksum
    p.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]); // source, destination
    p.extend_from_slice(&[0xc3, 0x50, 0x1f, 0x90]); // ports 50000 -> 8080
    p.extend_from_slice(&[0x12, 0x34, 0x56, 0x78]); // sequence number
    p.extend_from_slice(&[0, 0, 0, 0]); // acknowledgment number
    p.push(((tcp_len / 4) as u8) << 4); // data offset
    p.push(0x02); // flags: SYN
    p.extend_from_slice(&window.to_be_bytes()); // window
    p.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
    p.extend_from_slice(options);
    p
}

/// Linux's SYN options: mss 1460, sok, ts (ts1 1, ts2 0), nop, ws 7.
const LINUX_OPTIONS: [u8; 20] = [
    2, 4, 0x05, 0xb4, // MSS 1460
    4, 2, // SACK permitted
    8, 10, 0, 0, 0, 1, 0, 0, 0, 0, // timestamps 1, 0
    1, // NOP
    3, 3, 7, // window scale 7
];

/// Windows 7's: mss 1460, nop, ws 8, nop, nop, sok.
const WINDOWS_OPTIONS: [u8; 12] = [2, 4, 0x05, 0xb4, 1, 3, 3, 8, 1, 1, 4, 2];

fn db() -> &'static P0fDatabase {
    static DB: std::sync::OnceLock<P0fDatabase> = std::sync::OnceLock::new();
    DB.get_or_init(|| P0fDatabase::bundled().unwrap())
}

#[test]
fn the_bundled_database_has_every_tcp_signature() {
    let db = db();
    assert_eq!(db.signature_count(), 192);
    assert_eq!((db.requests.len(), db.responses.len()), (91, 101));
    assert_eq!(db.labels.len(), 62);
}

#[test]
fn a_linux_3_11_syn_matches_exactly_and_prints_as_p0f() {
    // window 29200 = 1460 × 20, scale 7: "Linux 3.11 and newer".
    let packet = syn_v4(64, true, 0x1234, 29200, &LINUX_OPTIONS);
    let signature = TcpSignature::from_ip_packet(&packet).unwrap();
    assert_eq!(
        signature.p0f_string(None),
        "4:64+0:0:1460:mss*20,7:mss,sok,ts,nop,ws:df,id+:0"
    );
    let os = db().find(&signature, None).unwrap();
    assert_eq!((os.family, os.flavor), ("Linux", "3.11 and newer"));
    assert_eq!(os.label, "Linux 3.11 and newer");
    assert_eq!(
        (os.class, os.confidence, os.distance),
        ("unix", Confidence::Exact, 0)
    );
}

#[test]
fn an_unlisted_linux_window_falls_to_the_generic_signature() {
    // window 64240 = 1460 × 44: no specific Linux signature.
    let packet = syn_v4(61, true, 1, 64240, &LINUX_OPTIONS);
    let os = db()
        .find(&TcpSignature::from_ip_packet(&packet).unwrap(), None)
        .unwrap();
    assert_eq!(os.label, "Linux 2.2.x-3.x");
    assert_eq!((os.confidence, os.distance), (Confidence::Generic, 3));
}

#[test]
fn windows_without_df_is_a_fuzzy_match() {
    // DF and id+ gone (a NAT rewrote the IP header): p0f allows that fuzzily.
    let packet = syn_v4(128, false, 0x0101, 8192, &WINDOWS_OPTIONS);
    let os = db()
        .find(&TcpSignature::from_ip_packet(&packet).unwrap(), None)
        .unwrap();
    assert_eq!(os.label, "Windows 7 or 8");
    assert_eq!(os.confidence, Confidence::Fuzzy);
    let packet = syn_v4(128, true, 0x0101, 8192, &WINDOWS_OPTIONS);
    let os = db()
        .find(&TcpSignature::from_ip_packet(&packet).unwrap(), None)
        .unwrap();
    assert_eq!(os.confidence, Confidence::Exact);
}

#[test]
fn a_ttl_too_far_below_the_signature_is_fuzzy_and_one_above_is_too() {
    // 128 - 36 hops: past MAX_DISTANCE.
    let packet = syn_v4(92, true, 1, 8192, &WINDOWS_OPTIONS);
    let os = db()
        .find(&TcpSignature::from_ip_packet(&packet).unwrap(), None)
        .unwrap();
    assert_eq!(os.confidence, Confidence::Fuzzy);
    // 128 - 35 hops: the farthest exact match.
    let packet = syn_v4(93, true, 1, 8192, &WINDOWS_OPTIONS);
    let os = db()
        .find(&TcpSignature::from_ip_packet(&packet).unwrap(), None)
        .unwrap();
    assert_eq!((os.confidence, os.distance), (Confidence::Exact, 35));
}

#[test]
fn an_unknown_layout_matches_nothing() {
    let packet = syn_v4(64, true, 1, 1000, &[1, 1, 1, 1]);
    let signature = TcpSignature::from_ip_packet(&packet).unwrap();
    assert_eq!(db().find(&signature, None), None);
    assert_eq!(
        signature.p0f_string(None),
        "4:64+0:0:0:1000,0:nop,nop,nop,nop:df,id+:0"
    );
}

#[test]
fn quirks_are_read_as_p0f_reads_them() {
    // Zero sequence number, an odd ACK number without ACK, URG pointer
    // without URG, PUSH, ECE+CWR.
    let mut packet = syn_v4(64, false, 0, 512, &[]);
    packet[24..28].copy_from_slice(&[0, 0, 0, 0]); // sequence 0
    packet[28..32].copy_from_slice(&[0, 0, 0, 3]); // acknowledgment 3
    packet[33] = 0x02 | 0x08 | 0x40 | 0x80; // SYN, PSH, ECE, CWR
    packet[38..40].copy_from_slice(&[0, 1]); // urgent pointer 1
    let signature = TcpSignature::from_ip_packet(&packet).unwrap();
    assert_eq!(
        signature.quirks.to_string(),
        "id-,ecn,seq-,ack+,uptr+,pushf+"
    );
    // An even ACK number is not noted (p0f 3.09b's test is of its low bit).
    packet[31] = 2;
    let signature = TcpSignature::from_ip_packet(&packet).unwrap();
    assert!(!signature.quirks.has(quirk::NONZERO_ACK));
}

#[test]
fn malformed_options_are_the_bad_quirk() {
    // MSS with length 5; window scale 15; a truncated timestamp.
    let s = TcpSignature::from_ip_packet(&syn_v4(64, true, 1, 1, &[2, 5, 5, 0xb4, 3, 3, 15, 0]))
        .unwrap();
    assert!(s.quirks.has(quirk::BAD_OPTIONS) && s.quirks.has(quirk::EXCESSIVE_WS));
    let s = TcpSignature::from_ip_packet(&syn_v4(64, true, 1, 1, &[8, 10, 0, 0])).unwrap();
    assert!(s.quirks.has(quirk::BAD_OPTIONS));
    // EOL followed by non-zero padding.
    let s = TcpSignature::from_ip_packet(&syn_v4(64, true, 1, 1, &[1, 0, 0, 7])).unwrap();
    assert_eq!(s.p0f_string(None), "4:64+0:0:0:1,0:nop,eol+2:df,id+,opt+:0");
}

#[test]
fn layouts_stop_at_24_options() {
    let packet = syn_v4(64, true, 1, 1, &[1; 28]);
    let s = TcpSignature::from_ip_packet(&packet).unwrap();
    assert_eq!(s.options.kinds().len(), MAX_TCP_OPTIONS);
}

#[test]
fn packets_that_are_not_syns_are_refused_with_their_reason() {
    let syn = syn_v4(64, true, 1, 1, &[]);
    let mut p = syn.clone();
    p[33] = 0x10; // ACK
    assert_eq!(TcpSignature::from_ip_packet(&p), Err(TcpAnomaly::NotSyn));
    p[33] = 0x03; // SYN+FIN
    assert_eq!(
        TcpSignature::from_ip_packet(&p),
        Err(TcpAnomaly::ImpossibleFlags)
    );
    let mut p = syn.clone();
    p[6] = 0x20; // more fragments
    assert_eq!(TcpSignature::from_ip_packet(&p), Err(TcpAnomaly::Fragment));
    let mut p = syn.clone();
    p[9] = 17; // UDP
    assert_eq!(TcpSignature::from_ip_packet(&p), Err(TcpAnomaly::NotTcp));
    assert_eq!(
        TcpSignature::from_ip_packet(&syn[..39]),
        Err(TcpAnomaly::Truncated)
    );
    let mut p = syn.clone();
    p[32] = 0x40; // data offset 16 bytes
    assert_eq!(
        TcpSignature::from_ip_packet(&p),
        Err(TcpAnomaly::BadTcpHeaderLength)
    );
    assert_eq!(
        TcpSignature::from_ip_packet(&[0x55; 60]),
        Err(TcpAnomaly::BadIpVersion)
    );
    assert_eq!(TcpSignature::from_ip_packet(&[]), Err(TcpAnomaly::TooShort));
}

#[test]
fn an_ipv6_syn_with_a_flow_label_is_read() {
    let v4 = syn_v4(64, true, 1, 64800, &LINUX_OPTIONS);
    let tcp = &v4[20..];
    let mut p = vec![0x60, 0x0a, 0xbc, 0xde]; // version 6, traffic class 0, flow 0xabcde
    p.extend_from_slice(&(tcp.len() as u16).to_be_bytes()); // payload length
    p.extend_from_slice(&[6, 64]); // next header TCP, hop limit 64
    p.extend_from_slice(&[0; 32]); // addresses
    p.extend_from_slice(tcp);
    let s = TcpSignature::from_ip_packet(&p).unwrap();
    assert_eq!(s.ip_version, IpVersion::V6);
    assert_eq!(s.quirks.to_string(), "flow");
    // 64800 = (1500 - 60) × 45 for IPv6: p0f's usual-MTU rule.
    assert!(s.p0f_string(None).starts_with("6:64+0:0:1460:mss*45,7:"));
    p[6] = 0; // hop-by-hop options header first
    assert_eq!(TcpSignature::from_ip_packet(&p), Err(TcpAnomaly::NotTcp));
}

#[test]
fn a_damaged_database_is_refused_with_its_line() {
    let text = "[tcp:request]\nlabel = s:unix:Linux:3.x\nsig = *:64:0:*:mss*20,7:mss,bogus:df:0\n";
    assert_eq!(
        P0fDatabase::parse(text).unwrap_err(),
        P0fDbError {
            line: 3,
            reason: "unknown TCP option"
        }
    );
    let text = "[tcp:request]\nsig = *:64:0:*:*,*::df:0\n";
    assert_eq!(P0fDatabase::parse(text).unwrap_err().line, 2);
    let text = "[tcp:request]\nlabel = x:unix:Linux:3.x\n";
    assert!(P0fDatabase::parse(text).is_err());
    // Other sections are not read.
    let text = "[http:request]\nlabel = s:!:curl:\nsig = anything\n";
    assert_eq!(P0fDatabase::parse(text).unwrap().signature_count(), 0);
}

#[test]
fn userland_tools_never_match_fuzzily() {
    let text = "[tcp:request]\nlabel = s:!:scanner:\nsig = *:64:0:*:1024,0::df:0\n";
    let db = P0fDatabase::parse(text).unwrap();
    let packet = syn_v4(64, true, 0, 1024, &[]);
    // df with id 0: quirks "df", exactly as listed.
    let os = db
        .find(&TcpSignature::from_ip_packet(&packet).unwrap(), None)
        .unwrap();
    assert!(os.is_userland());
    // Without df: only a fuzzy fit, which a userland tool never gets.
    let packet = syn_v4(64, false, 1, 1024, &[]);
    assert_eq!(
        db.find(&TcpSignature::from_ip_packet(&packet).unwrap(), None),
        None
    );
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(signature) = TcpSignature::from_ip_packet(&bytes) {
            let _ = signature.p0f_string(Some(1460));
            let _ = db().find(&signature, Some(1460));
        }
    }

    #[test]
    fn arbitrary_options_never_panic(
        options in proptest::collection::vec(any::<u8>(), 0..40),
        window in any::<u16>(),
        ttl in any::<u8>(),
    ) {
        let mut options = options;
        options.truncate(options.len() / 4 * 4);
        let packet = syn_v4(ttl, true, 1, window, &options);
        let signature = TcpSignature::from_ip_packet(&packet).unwrap();
        let _ = signature.p0f_string(None);
        let _ = db().find(&signature, None);
    }

    #[test]
    fn arbitrary_database_lines_never_panic(line in "[ -~]{0,80}") {
        let _ = P0fDatabase::parse(&format!("[tcp:request]\nlabel = s:unix:X:1\nsig = {line}\n"));
        let _ = P0fDatabase::parse(&format!("[tcp:response]\n{line}\n"));
    }
}
