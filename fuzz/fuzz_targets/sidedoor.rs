//! Any bytes into the side-door parsers: the TLS hello parsers, the SMB
//! stream and message parsers, the NTLMSSP parser, and the p0f signature
//! reader and matcher (the bytes as an IP packet, and as the options of a
//! well-formed SYN). None may panic; what they return must hold together.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use medtap::fingerprint::p0f::P0fDatabase;
use medtap::fingerprint::tcp::{MAX_TCP_OPTIONS, TcpSignature};
use medtap::proto::smb::{MAX_DIALECTS, SmbMessage, parse_ntlmssp, parse_stream};
use medtap::proto::tls::{MAX_ALPN_PROTOCOLS, Parsed, parse_client_hello, parse_server_hello};

fn db() -> &'static P0fDatabase {
    static DB: OnceLock<P0fDatabase> = OnceLock::new();
    DB.get_or_init(|| P0fDatabase::bundled().expect("bundled p0f database"))
}

/// A SYN whose TCP options are `options` (cut to 40 bytes, padded to 4).
fn syn_with_options(options: &[u8]) -> Vec<u8> {
    let mut options = options[..options.len().min(40)].to_vec();
    options.resize(options.len().div_ceil(4) * 4, 0);
    let tcp_len = 20 + options.len();
    let mut p = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
    p[2..4].copy_from_slice(&((20 + tcp_len) as u16).to_be_bytes());
    p.extend_from_slice(&[0xc3, 0x50, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0]);
    p.push(((tcp_len / 4) as u8) << 4);
    p.extend_from_slice(&[0x02, 0xfa, 0xf0, 0, 0, 0, 0]);
    p.extend_from_slice(&options);
    p
}

fuzz_target!(|data: &[u8]| {
    if let Parsed::Done(hello) = parse_client_hello(data) {
        assert!(hello.alpn.len() <= MAX_ALPN_PROTOCOLS);
        assert_eq!(hello.ja4.len(), 36, "{}", hello.ja4);
        assert!(hello.ja4.is_ascii());
    }
    let _ = parse_server_hello(data);

    let (messages, _) = parse_stream(data);
    for message in &messages {
        if let SmbMessage::Negotiate(n) = message {
            assert!(n.dialects.len() <= MAX_DIALECTS && n.dialect_names.len() <= MAX_DIALECTS);
        }
    }
    let _ = medtap::proto::smb::parse_message(data);
    let _ = parse_ntlmssp(data);

    for packet in [data.to_vec(), syn_with_options(data)] {
        if let Ok(signature) = TcpSignature::from_ip_packet(&packet) {
            assert!(signature.options.kinds().len() <= MAX_TCP_OPTIONS);
            let _ = signature.p0f_string(Some(1460));
            if let Some(os) = db().find(&signature, Some(1460)) {
                assert!(!os.label.is_empty());
            }
        }
    }
});
