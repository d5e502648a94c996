//! Tests of the SMB and NTLMSSP parser: hand-made messages with a comment
//! per field, the limits, the refusals, and property tests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use super::*;
use proptest::prelude::*;

/// Wraps an SMB message in its NetBIOS session header.
fn nbss(message: &[u8]) -> Vec<u8> {
    let mut out = vec![0x00];
    out.extend_from_slice(&(message.len() as u32).to_be_bytes()[1..]);
    out.extend_from_slice(message);
    out
}

/// An SMB1 NEGOTIATE request offering two dialects.
#[rustfmt::skip]
const SMB1_NEGOTIATE_REQUEST: &[u8] = &[
    // protocol id 0xff 'SMB', command NEGOTIATE (0x72), status 0
    0xff, b'S', b'M', b'B', 0x72, 0x00, 0x00, 0x00, 0x00,
    // flags 0x18 (request), flags2 0xc853
    0x18, 0x53, 0xc8,
    // pid high, security features (8), reserved
    0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x00,
    // tid 0xffff, pid 0xfeff, uid 0, mid 0
    0xff, 0xff, 0xff, 0xfe, 0x00, 0x00, 0x00, 0x00,
    // word count 0; byte count 0x0017 (23)
    0x00, 0x17, 0x00,
    // 0x02 "NT LM 0.12" 0x00
    0x02, b'N', b'T', b' ', b'L', b'M', b' ', b'0', b'.', b'1', b'2', 0x00,
    // 0x02 "SMB 2.002" 0x00
    0x02, b'S', b'M', b'B', b' ', b'2', b'.', b'0', b'0', b'2', 0x00,
];

/// The 64-byte SMB2 header of a command, request or response.
fn smb2_header(command: u16, response: bool) -> Vec<u8> {
    let mut h = vec![0xfe, b'S', b'M', b'B'];
    h.extend_from_slice(&64u16.to_le_bytes()); // StructureSize
    h.extend_from_slice(&[0, 0]); // CreditCharge
    h.extend_from_slice(&[0, 0, 0, 0]); // Status
    h.extend_from_slice(&command.to_le_bytes());
    h.extend_from_slice(&[1, 0]); // Credits
    h.extend_from_slice(&u32::from(response).to_le_bytes()); // Flags
    h.resize(64, 0); // NextCommand, MessageId, Reserved, TreeId, SessionId, Signature
    h
}

fn smb2_negotiate_request(dialects: &[u16]) -> Vec<u8> {
    let mut m = smb2_header(0, false);
    m.extend_from_slice(&36u16.to_le_bytes()); // StructureSize
    m.extend_from_slice(&(dialects.len() as u16).to_le_bytes()); // DialectCount
    m.extend_from_slice(&[1, 0, 0, 0]); // SecurityMode, Reserved
    m.extend_from_slice(&[0x7f, 0, 0, 0]); // Capabilities
    m.extend_from_slice(&[0xaa; 16]); // ClientGuid
    m.extend_from_slice(&[0; 8]); // NegotiateContextOffset/Count, Reserved2
    for d in dialects {
        m.extend_from_slice(&d.to_le_bytes());
    }
    m
}

/// An NTLMSSP AUTHENTICATE: Unicode, with VERSION 10.0 build 19041, user
/// "nurse", domain "WARD", workstation "PUMP7", and an NT response that
/// must never be read.
fn ntlm_authenticate() -> Vec<u8> {
    let domain: Vec<u8> = "WARD".encode_utf16().flat_map(u16::to_le_bytes).collect();
    let user: Vec<u8> = "nurse".encode_utf16().flat_map(u16::to_le_bytes).collect();
    let station: Vec<u8> = "PUMP7".encode_utf16().flat_map(u16::to_le_bytes).collect();
    let nt_response = [0x5e; 24];
    let mut m = b"NTLMSSP\0".to_vec();
    m.extend_from_slice(&3u32.to_le_bytes()); // MessageType
    let payload_start = 88u32; // fixed part 64 + Version 8 + MIC 16
    let fields = |len: usize, offset: u32| {
        let mut f = (len as u16).to_le_bytes().to_vec();
        f.extend_from_slice(&(len as u16).to_le_bytes());
        f.extend_from_slice(&offset.to_le_bytes());
        f
    };
    let nt_at = payload_start;
    let domain_at = nt_at + nt_response.len() as u32;
    let user_at = domain_at + domain.len() as u32;
    let station_at = user_at + user.len() as u32;
    m.extend(fields(0, nt_at)); // LmChallengeResponseFields (empty)
    m.extend(fields(nt_response.len(), nt_at)); // NtChallengeResponseFields
    m.extend(fields(domain.len(), domain_at)); // DomainNameFields
    m.extend(fields(user.len(), user_at)); // UserNameFields
    m.extend(fields(station.len(), station_at)); // WorkstationFields
    m.extend(fields(0, station_at + station.len() as u32)); // EncryptedRandomSessionKeyFields
    m.extend_from_slice(&(0x0200_0001u32 | 0x0008_0000).to_le_bytes()); // flags: VERSION, UNICODE
    m.extend_from_slice(&[10, 0, 0x61, 0x4a, 0, 0, 0, 0x0f]); // Version 10.0.19041, revision 15
    m.extend_from_slice(&[0x33; 16]); // MIC
    m.extend_from_slice(&nt_response);
    m.extend_from_slice(&domain);
    m.extend_from_slice(&user);
    m.extend_from_slice(&station);
    m
}

fn smb2_session_setup_request(blob: &[u8]) -> Vec<u8> {
    let mut m = smb2_header(1, false);
    m.extend_from_slice(&25u16.to_le_bytes()); // StructureSize
    m.extend_from_slice(&[0, 1]); // Flags, SecurityMode
    m.extend_from_slice(&[0; 8]); // Capabilities, Channel
    m.extend_from_slice(&88u16.to_le_bytes()); // SecurityBufferOffset: 64 + 24
    m.extend_from_slice(&(blob.len() as u16).to_le_bytes()); // SecurityBufferLength
    m.extend_from_slice(&[0; 8]); // PreviousSessionId
    m.extend_from_slice(blob);
    m
}

#[test]
fn an_smb1_negotiate_gives_its_dialect_strings() {
    let (found, anomaly) = parse_stream(&nbss(SMB1_NEGOTIATE_REQUEST));
    assert_eq!(anomaly, None);
    let [SmbMessage::Negotiate(n)] = found.as_slice() else {
        panic!("{found:?}")
    };
    assert!(n.smb1 && !n.response);
    assert_eq!(n.dialect_names, vec!["NT LM 0.12", "SMB 2.002"]);
    assert_eq!(n.dialect_count, 2);
}

#[test]
fn an_smb1_negotiate_response_gives_the_chosen_index() {
    let mut m = SMB1_NEGOTIATE_REQUEST[..32].to_vec();
    m[9] = 0x98; // flags: reply
    m.extend_from_slice(&[1, 0x05, 0x00, 0x00, 0x00]); // 1 word: index 5; byte count 0
    let found = parse_message(&m).unwrap();
    let Some(SmbMessage::Negotiate(n)) = found else {
        panic!("{found:?}")
    };
    assert!(n.smb1 && n.response);
    assert_eq!(n.dialect_index, Some(5));
}

#[test]
fn an_smb2_negotiate_gives_its_dialects_and_the_choice() {
    let request = smb2_negotiate_request(&[0x0202, 0x0210, 0x0300, 0x0302, 0x0311]);
    let Some(SmbMessage::Negotiate(n)) = parse_message(&request).unwrap() else {
        panic!()
    };
    assert!(!n.smb1 && !n.response);
    assert_eq!(n.dialects, vec![0x0202, 0x0210, 0x0300, 0x0302, 0x0311]);

    let mut response = smb2_header(0, true);
    response.extend_from_slice(&65u16.to_le_bytes()); // StructureSize
    response.extend_from_slice(&[1, 0]); // SecurityMode
    response.extend_from_slice(&0x0311u16.to_le_bytes()); // DialectRevision
    response.extend_from_slice(&[0; 58]);
    let Some(SmbMessage::Negotiate(n)) = parse_message(&response).unwrap() else {
        panic!()
    };
    assert!(n.response);
    assert_eq!(n.dialects, vec![0x0311]);
}

#[test]
fn dialects_past_the_limit_are_counted_not_kept() {
    let offered: Vec<u16> = (0..MAX_DIALECTS as u16 + 1).collect();
    let Some(SmbMessage::Negotiate(n)) = parse_message(&smb2_negotiate_request(&offered)).unwrap()
    else {
        panic!()
    };
    assert_eq!(n.dialects.len(), MAX_DIALECTS);
    assert_eq!(n.dialect_count, MAX_DIALECTS + 1);
}

#[test]
fn an_authenticate_in_spnego_gives_version_and_names_never_the_response() {
    // A GSS-API/SPNEGO prefix (NegTokenResp, responseToken) before it.
    let mut blob = vec![
        0xa1, 0x81, 0xa0, 0x30, 0x81, 0x9d, 0xa2, 0x81, 0x9a, 0x04, 0x81, 0x97,
    ];
    blob.extend(ntlm_authenticate());
    let Some(SmbMessage::SessionSetup {
        smb1: false,
        response: false,
        ntlm: Some(ntlm),
    }) = parse_message(&smb2_session_setup_request(&blob)).unwrap()
    else {
        panic!()
    };
    assert_eq!(ntlm.kind, NtlmMessageType::Authenticate);
    assert_eq!(
        ntlm.version,
        Some(NtlmVersion {
            major: 10,
            minor: 0,
            build: 19041
        })
    );
    assert_eq!(ntlm.user.as_deref(), Some("nurse"));
    assert_eq!(ntlm.domain.as_deref(), Some("WARD"));
    assert_eq!(ntlm.workstation.as_deref(), Some("PUMP7"));
    let shown = format!("{ntlm:?}");
    assert!(
        !shown.contains("94"),
        "0x5e bytes of the response leaked: {shown}"
    );
}

#[test]
fn a_name_pointing_outside_the_message_is_refused() {
    let mut m = ntlm_authenticate();
    m[40..44].copy_from_slice(&0xffffu32.to_le_bytes()); // UserNameFields offset
    assert_eq!(parse_ntlmssp(&m), Err(SmbAnomaly::BadNtlmsspField));
}

#[test]
fn without_the_version_flag_there_is_no_version() {
    let mut m = ntlm_authenticate();
    m[60..64].copy_from_slice(&1u32.to_le_bytes()); // flags: UNICODE only
    assert_eq!(parse_ntlmssp(&m).unwrap().version, None);
}

#[test]
fn a_blob_without_ntlmssp_is_no_ntlm_message() {
    let Some(SmbMessage::SessionSetup { ntlm: None, .. }) =
        parse_message(&smb2_session_setup_request(&[0x60, 0x03, 0x06, 0x01, 0x00])).unwrap()
    else {
        panic!()
    };
}

#[test]
fn a_security_buffer_past_the_message_is_refused() {
    let mut m = smb2_session_setup_request(&ntlm_authenticate());
    let len = m.len();
    m.truncate(len - 10);
    assert_eq!(parse_message(&m), Err(SmbAnomaly::BadSecurityBuffer));
}

#[test]
fn the_largest_message_is_parsed_and_a_longer_one_skipped() {
    let mut big = smb2_header(8, false); // READ: not read, passed over
    big.resize(MAX_MESSAGE_LEN, 0);
    let framed = nbss(&big);
    assert!(matches!(next_frame(&framed), Frame::Message { .. }));
    big.push(0);
    let framed = nbss(&big);
    assert_eq!(
        next_frame(&framed),
        Frame::Skip {
            consumed: MAX_MESSAGE_LEN + 5
        }
    );
}

#[test]
fn framing_says_what_is_missing_and_refuses_other_types() {
    assert_eq!(next_frame(&[0x00, 0x00]), Frame::Incomplete { needed: 2 });
    assert_eq!(
        next_frame(&[0x00, 0x00, 0x00, 0x10, 0xff]),
        Frame::Incomplete { needed: 15 }
    );
    assert_eq!(
        next_frame(&[0x85, 0x00, 0x00, 0x00]),
        Frame::Skip { consumed: 4 }
    );
    assert_eq!(
        next_frame(&[0x47, 0x45, 0x54, 0x20]),
        Frame::Invalid(SmbAnomaly::BadNetbiosType)
    );
}

#[test]
fn malformed_messages_name_their_fault() {
    assert_eq!(parse_message(b"\xffSM"), Err(SmbAnomaly::TruncatedHeader));
    assert_eq!(parse_message(b"HTTP/1.1"), Err(SmbAnomaly::NotSmb));
    assert_eq!(
        parse_message(&SMB1_NEGOTIATE_REQUEST[..40]),
        Err(SmbAnomaly::TruncatedBody)
    );
    let mut bad = SMB1_NEGOTIATE_REQUEST.to_vec();
    bad[35] = 0x03; // the first dialect's 0x02 marker
    assert_eq!(parse_message(&bad), Err(SmbAnomaly::BadDialectString));
    let mut request = smb2_negotiate_request(&[0x0202]);
    request[64] = 35; // StructureSize
    assert_eq!(parse_message(&request), Err(SmbAnomaly::BadStructureSize));
    // Encrypted SMB3 is passed over.
    assert_eq!(parse_message(b"\xfdSMB\0\0\0\0"), Ok(None));
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
        let _ = parse_stream(&bytes);
        let _ = parse_message(&bytes);
        let _ = parse_ntlmssp(&bytes);
    }

    #[test]
    fn arbitrary_bodies_after_real_headers_never_panic(
        body in proptest::collection::vec(any::<u8>(), 0..512),
        command in 0u16..2,
        response in any::<bool>(),
    ) {
        let mut m = smb2_header(command, response);
        m.extend_from_slice(&body);
        let _ = parse_message(&m);
        let mut n = b"NTLMSSP\0".to_vec();
        n.extend_from_slice(&body);
        let _ = parse_ntlmssp(&n);
    }
}
