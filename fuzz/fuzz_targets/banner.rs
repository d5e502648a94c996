//! Any bytes into every banner parser: the one-direction readers (HTTP, SSH,
//! RDP, VNC) as a stream's first bytes, SNMP and TFTP as a datagram, and
//! the FTP and Telnet sessions fed the bytes as both directions, cut at a
//! point the first byte chooses. Each returns, what it reports stays within
//! its limits, and a session gives the same events for the cut bytes as for
//! the whole.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medtap::proto::Direction;
use medtap::proto::banner::{Parsed, ftp, http, rdp, snmp, ssh, telnet, tftp, vnc};

/// FTP events for `segments`, holding what a call leaves unconsumed.
fn ftp_events(segments: &[(Direction, &[u8])]) -> Vec<ftp::FtpEvent> {
    let mut session = ftp::FtpSession::new();
    let mut held: [Vec<u8>; 2] = Default::default();
    let mut out = Vec::new();
    for (direction, bytes) in segments {
        let held = &mut held[direction.index()];
        held.extend_from_slice(bytes);
        let consumed = session.feed(*direction, held, &mut out);
        assert!(consumed <= held.len());
        held.drain(..consumed);
        assert!(held.len() < ftp::MAX_LINE_LEN);
    }
    out
}

fn telnet_events(segments: &[(Direction, &[u8])]) -> (Vec<telnet::TelnetEvent>, String) {
    let mut session = telnet::TelnetSession::new();
    let mut out = Vec::new();
    for (direction, bytes) in segments {
        session.feed(*direction, bytes, &mut out);
    }
    assert!(session.banner().len() <= telnet::MAX_BANNER_LEN);
    (out, session.banner().to_owned())
}

fuzz_target!(|data: &[u8]| {
    if let Parsed::Done(request) = http::parse_request(data) {
        assert!(
            request
                .user_agent
                .is_none_or(|a| a.len() <= http::MAX_VALUE_LEN)
        );
        assert!(
            request
                .basic_user
                .is_none_or(|u| u.len() <= http::MAX_USER_LEN)
        );
    }
    if let Parsed::Done(response) = http::parse_response(data) {
        assert!(
            response
                .server
                .is_none_or(|s| s.len() <= http::MAX_VALUE_LEN)
        );
        assert!(response.www_authenticate.len() <= http::MAX_CHALLENGES);
    }
    for ident in [ssh::parse_client_ident(data), ssh::parse_server_ident(data)] {
        if let Parsed::Done(ident) = ident {
            assert!(ident.line().len() <= ssh::MAX_IDENT_LEN);
        }
    }
    if let Parsed::Done(request) = rdp::parse_request(data) {
        assert!(
            request
                .cookie_user
                .is_none_or(|u| u.len() <= rdp::MAX_USER_LEN)
        );
    }
    let _ = rdp::parse_confirm(data);
    let client = vnc::parse_client(data).done();
    let _ = vnc::parse_server(data, client.map(|c| c.version));
    let _ = vnc::parse_server(data, None);
    if let Ok(message) = snmp::parse_message(data) {
        assert!(
            message
                .sys_descr
                .is_none_or(|d| d.len() <= snmp::MAX_TEXT_LEN)
        );
    }
    if let Ok(request) = tftp::parse_request(data) {
        assert!(request.filename.len() <= tftp::MAX_FILENAME_LEN);
    }

    // The sessions: the first byte picks a cut; the bytes before it are the
    // server's, the rest the client's, then the server's again.
    let Some((&cut, rest)) = data.split_first() else {
        return;
    };
    let cut = usize::from(cut).min(rest.len());
    let (server, client) = rest.split_at(cut);
    let whole = [
        (Direction::ToClient, server),
        (Direction::ToServer, client),
        (Direction::ToClient, client),
    ];
    let (client_a, client_b) = client.split_at(client.len() / 2);
    let (server_a, server_b) = server.split_at(server.len() / 3);
    let split = [
        (Direction::ToClient, server_a),
        (Direction::ToClient, server_b),
        (Direction::ToServer, client_a),
        (Direction::ToServer, client_b),
        (Direction::ToClient, client_a),
        (Direction::ToClient, client_b),
    ];
    assert_eq!(ftp_events(&whole), ftp_events(&split));
    assert_eq!(telnet_events(&whole), telnet_events(&split));
});
