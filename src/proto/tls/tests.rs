//! Tests of the TLS hello parser: hand-made records with a comment per
//! field, the boundaries of every limit, the refusals, and property tests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use super::*;
use proptest::prelude::*;

/// A TLS 1.3 ClientHello in one record, every field commented.
#[rustfmt::skip]
const CLIENT_HELLO_13: &[u8] = &[
    // record: handshake (22), version 3.1, length 0x0065 (101)
    0x16, 0x03, 0x01, 0x00, 0x65,
    // handshake: ClientHello (1), length 0x000061 (97)
    0x01, 0x00, 0x00, 0x61,
    // legacy_version 3.3
    0x03, 0x03,
    // random, 32 bytes
    0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
    0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
    // legacy_session_id: empty
    0x00,
    // cipher_suites: 6 bytes: GREASE 0x2a2a, TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384
    0x00, 0x06, 0x2a, 0x2a, 0x13, 0x01, 0x13, 0x02,
    // legacy_compression_methods: 1 byte, null
    0x01, 0x00,
    // extensions: 0x0032 (50) bytes
    0x00, 0x32,
    //   server_name (0), 14 bytes: list of 12: host_name (0), 9 bytes "pump.ward"
    0x00, 0x00, 0x00, 0x0e, 0x00, 0x0c, 0x00, 0x00, 0x09,
    b'p', b'u', b'm', b'p', b'.', b'w', b'a', b'r', b'd',
    //   ALPN (16), 5 bytes: list of 3: "h2"
    0x00, 0x10, 0x00, 0x05, 0x00, 0x03, 0x02, b'h', b'2',
    //   signature_algorithms (13), 6 bytes: list of 4: ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256
    0x00, 0x0d, 0x00, 0x06, 0x00, 0x04, 0x04, 0x03, 0x08, 0x04,
    //   supported_versions (43), 5 bytes: list of 4: GREASE 0x3a3a, TLS 1.3
    0x00, 0x2b, 0x00, 0x05, 0x04, 0x3a, 0x3a, 0x03, 0x04,
    //   GREASE extension 0x0a0a, empty
    0x0a, 0x0a, 0x00, 0x00,
];

/// A TLS 1.3 ServerHello: legacy 3.3, supported_versions selecting 3.4.
#[rustfmt::skip]
const SERVER_HELLO_13: &[u8] = &[
    // record: handshake, 3.3, length 0x0032 (50)
    0x16, 0x03, 0x03, 0x00, 0x32,
    // handshake: ServerHello (2), length 0x00002e (46)
    0x02, 0x00, 0x00, 0x2e,
    // legacy_version 3.3
    0x03, 0x03,
    // random, 32 bytes
    0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
    0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
    // legacy_session_id_echo: empty
    0x00,
    // cipher_suite TLS_AES_256_GCM_SHA384
    0x13, 0x02,
    // legacy_compression_method null
    0x00,
    // extensions: 6 bytes: supported_versions (43), 2 bytes: TLS 1.3
    0x00, 0x06, 0x00, 0x2b, 0x00, 0x02, 0x03, 0x04,
];

#[test]
fn a_client_hello_gives_every_field() {
    let hello = parse_client_hello(CLIENT_HELLO_13).done().expect("parses");
    assert_eq!(hello.legacy_version, 0x0303);
    assert_eq!(hello.supported_versions, vec![0x3a3a, 0x0304]);
    assert_eq!(hello.max_version(), 0x0304);
    assert_eq!(hello.ciphers, vec![0x2a2a, 0x1301, 0x1302]);
    assert_eq!(hello.extensions, vec![0, 16, 13, 43, 0x0a0a]);
    assert_eq!(hello.sni.as_deref(), Some("pump.ward"));
    assert_eq!(hello.alpn, vec!["h2".to_string()]);
    assert_eq!(hello.signature_algorithms, vec![0x0403, 0x0804]);
    // 2 ciphers and 4 extensions without GREASE; the extension hash is of
    // "000d,002b_0403,0804".
    assert!(hello.ja4.starts_with("t13d0204h2_"), "{}", hello.ja4);
    assert!(hello.anomalies.is_empty());
}

#[test]
fn a_server_hello_gives_the_chosen_version_and_cipher() {
    let hello = parse_server_hello(SERVER_HELLO_13).done().expect("parses");
    assert_eq!(hello.legacy_version, 0x0303);
    assert_eq!(hello.selected_version, Some(0x0304));
    assert_eq!(hello.version(), 0x0304);
    assert_eq!(hello.cipher, 0x1302);
    assert_eq!(hello.extensions, vec![43]);
    assert!(!hello.hello_retry_request);
}

#[test]
fn a_hello_retry_request_is_marked() {
    let mut bytes = SERVER_HELLO_13.to_vec();
    bytes.splice(11..43, HELLO_RETRY_RANDOM);
    let hello = parse_server_hello(&bytes).done().expect("parses");
    assert!(hello.hello_retry_request);
}

#[test]
fn every_cut_of_a_hello_is_incomplete_and_says_what_is_missing() {
    for cut in 0..CLIENT_HELLO_13.len() {
        match parse_client_hello(&CLIENT_HELLO_13[..cut]) {
            Parsed::Incomplete { needed } => assert!(needed >= 1, "cut {cut}"),
            other => panic!("cut {cut}: {other:?}"),
        }
    }
}

/// Re-frames one handshake message into records of at most `size` bytes.
fn split_records(hello: &[u8], size: usize) -> Vec<u8> {
    let message = &hello[5..];
    let mut out = Vec::new();
    for chunk in message.chunks(size) {
        out.extend_from_slice(&[0x16, 0x03, 0x01]);
        out.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
        out.extend_from_slice(chunk);
    }
    out
}

#[test]
fn a_hello_split_across_records_is_joined() {
    let whole = parse_client_hello(CLIENT_HELLO_13).done().expect("parses");
    // 101 bytes in records of 20: 6 records, the handshake header included.
    let split = split_records(CLIENT_HELLO_13, 20);
    assert_eq!(parse_client_hello(&split).done(), Some(whole.clone()));
    // Cut so the first record holds only 2 bytes of the handshake header.
    let split = split_records(CLIENT_HELLO_13, 2);
    assert_eq!(
        parse_client_hello(&split),
        Parsed::Invalid(TlsAnomaly::TooManyRecords)
    );
}

#[test]
fn eight_records_are_the_most_a_hello_may_span() {
    // 101 bytes of message: 13 bytes a record makes 8 records, 12 makes 9.
    let split = split_records(CLIENT_HELLO_13, 13);
    assert!(matches!(parse_client_hello(&split), Parsed::Done(_)));
    let split = split_records(CLIENT_HELLO_13, 12);
    assert_eq!(
        parse_client_hello(&split),
        Parsed::Invalid(TlsAnomaly::TooManyRecords)
    );
}

#[test]
fn records_longer_than_tls_allows_are_refused() {
    let mut bytes = vec![0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0x00, 0x3f, 0xfc];
    // 0x4000 is exactly 2^14: accepted as a record (then incomplete).
    assert!(matches!(
        parse_client_hello(&bytes),
        Parsed::Incomplete { .. }
    ));
    bytes[3..5].copy_from_slice(&0x4001u16.to_be_bytes());
    assert_eq!(
        parse_client_hello(&bytes),
        Parsed::Invalid(TlsAnomaly::RecordTooLong)
    );
}

#[test]
fn a_hello_longer_than_the_limit_is_refused() {
    // Handshake header announcing MAX_HELLO_LEN - 3 body bytes: one too many.
    let body = (MAX_HELLO_LEN - 3) as u32;
    let mut bytes = vec![0x16, 0x03, 0x01, 0x00, 0x04, 0x01];
    bytes.extend_from_slice(&body.to_be_bytes()[1..]);
    assert_eq!(
        parse_client_hello(&bytes),
        Parsed::Invalid(TlsAnomaly::HelloTooLong)
    );
    let body = (MAX_HELLO_LEN - 4) as u32;
    bytes.truncate(6);
    bytes.extend_from_slice(&body.to_be_bytes()[1..]);
    assert!(matches!(
        parse_client_hello(&bytes),
        Parsed::Incomplete { .. }
    ));
}

#[test]
fn other_first_bytes_are_refused_with_their_reason() {
    // An application-data record.
    assert_eq!(
        parse_client_hello(&[0x17, 0x03, 0x03, 0x00, 0x01, 0x00]),
        Parsed::Invalid(TlsAnomaly::NotHandshake)
    );
    // SSLv2 hello: 2-byte length with the high bit, then type 1.
    assert_eq!(
        parse_client_hello(&[0x80, 0x2e, 0x01, 0x00, 0x02, 0x00]),
        Parsed::Invalid(TlsAnomaly::Sslv2Hello)
    );
    // Record version 2.0.
    assert_eq!(
        parse_client_hello(&[0x16, 0x02, 0x00, 0x00, 0x01, 0x01]),
        Parsed::Invalid(TlsAnomaly::BadRecordVersion)
    );
    // A ServerHello where a ClientHello was expected.
    assert_eq!(
        parse_client_hello(SERVER_HELLO_13),
        Parsed::Invalid(TlsAnomaly::UnexpectedHandshake)
    );
    // A zero-length record.
    assert_eq!(
        parse_client_hello(&[0x16, 0x03, 0x01, 0x00, 0x00]),
        Parsed::Invalid(TlsAnomaly::EmptyRecord)
    );
}

#[test]
fn a_length_that_overruns_its_container_is_truncated() {
    let mut bytes = CLIENT_HELLO_13.to_vec();
    // The cipher_suites length (offsets 44-45) claims 0x4006 bytes.
    bytes[44] = 0x40;
    assert_eq!(
        parse_client_hello(&bytes),
        Parsed::Invalid(TlsAnomaly::Truncated)
    );
}

#[test]
fn an_odd_cipher_list_is_truncated() {
    let mut bytes = CLIENT_HELLO_13.to_vec();
    // The cipher_suites length (offsets 44-45) becomes 5.
    bytes[45] = 0x05;
    assert_eq!(
        parse_client_hello(&bytes),
        Parsed::Invalid(TlsAnomaly::Truncated)
    );
}

#[test]
fn a_hello_without_extensions_is_a_tls_1_0_hello() {
    #[rustfmt::skip]
    let bytes = [
        // record, length 0x2d (45); ClientHello, length 0x29 (41)
        0x16, 0x03, 0x01, 0x00, 0x2d, 0x01, 0x00, 0x00, 0x29,
        // legacy_version 3.1, random (32 bytes)
        0x03, 0x01,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        // session id empty; one cipher TLS_RSA_WITH_AES_128_CBC_SHA; null compression
        0x00, 0x00, 0x02, 0x00, 0x2f, 0x01, 0x00,
    ];
    let hello = parse_client_hello(&bytes).done().expect("parses");
    assert_eq!(hello.max_version(), 0x0301);
    assert!(hello.extensions.is_empty());
    assert!(hello.ja4.starts_with("t10i010000_"));
    assert!(hello.ja4.ends_with("_000000000000"));
}

#[test]
fn a_server_name_that_is_not_text_is_dropped_and_noted() {
    let mut bytes = CLIENT_HELLO_13.to_vec();
    // The first byte of "pump.ward" (offset 65) becomes a control byte.
    bytes[65] = 0x07;
    let hello = parse_client_hello(&bytes).done().expect("parses");
    assert_eq!(hello.sni, None);
    assert_eq!(hello.anomalies, vec![TlsAnomaly::BadServerName]);
    // JA4 still says a server name was sent.
    assert!(hello.ja4.starts_with("t13d"));
}

#[test]
fn probing_tells_tls_from_other_bytes() {
    assert_eq!(looks_like_tls(&[]), None);
    assert_eq!(looks_like_tls(&[0x16, 0x03]), None);
    assert_eq!(looks_like_tls(&[0x16, 0x03, 0x01]), Some(true));
    assert_eq!(looks_like_tls(b"GET / HTTP/1.1"), Some(false));
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse_client_hello(&bytes);
        let _ = parse_server_hello(&bytes);
        let _ = looks_like_tls(&bytes);
    }

    #[test]
    fn arbitrary_bytes_after_a_record_header_never_panic(
        body in proptest::collection::vec(any::<u8>(), 0..600),
        kind in 1u8..3,
    ) {
        let mut bytes = vec![0x16, 0x03, 0x01];
        bytes.extend_from_slice(&((body.len() + 4) as u16).to_be_bytes());
        bytes.push(kind);
        bytes.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        bytes.extend_from_slice(&body);
        let _ = parse_client_hello(&bytes);
        let _ = parse_server_hello(&bytes);
    }

    #[test]
    fn any_record_split_gives_the_same_hello(size in 13usize..120) {
        let whole = parse_client_hello(CLIENT_HELLO_13);
        prop_assert_eq!(parse_client_hello(&split_records(CLIENT_HELLO_13, size)), whole);
    }
}
