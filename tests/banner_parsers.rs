//! The banner parsers against real traffic: fixtures/banner/banner.pcap
//! (curl and a Python http.server with Basic auth, OpenSSH, curl and
//! pyftpdlib, telnet and inetutils telnetd, net-snmp, tftp-hpa, Xvnc and
//! xrdp — the VNC and RDP clients crafted — recorded by
//! fixtures/banner/make.sh) read field by field and compared with
//! fixtures/banner/manifest.json, which tshark's dissection wrote.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a test fails by panicking"
)]

mod common;

use std::path::PathBuf;

use common::capture::{self, Capture};
use medtap::proto::Direction;
use medtap::proto::banner::{Parsed, ftp, http, rdp, snmp, ssh, telnet, tftp, vnc};
use serde_json::Value;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/banner")
}

fn manifest() -> Value {
    let text = std::fs::read_to_string(dir().join("manifest.json")).expect("manifest.json");
    serde_json::from_str(&text).expect("manifest.json is JSON")
}

fn read_capture() -> Capture {
    let capture = capture::read(&dir().join("banner.pcap"));
    assert!(
        capture.frames > 250,
        "the capture has {} frames",
        capture.frames
    );
    capture
}

fn text(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{value} is not text"))
}

fn items<'a>(manifest: &'a Value, key: &str) -> &'a Vec<Value> {
    manifest[key]
        .as_array()
        .unwrap_or_else(|| panic!("manifest has no {key}"))
}

/// The bytes an item's `src` sent to its `dst`.
fn stream<'a>(capture: &'a Capture, item: &Value) -> &'a [u8] {
    let bytes = capture.stream(text(&item["src"]), text(&item["dst"]));
    assert!(!bytes.is_empty(), "no bytes for {item}");
    bytes
}

#[test]
fn http_requests_match_tshark() {
    let capture = read_capture();
    let manifest = manifest();
    let truths = items(&manifest, "http_requests");
    assert_eq!(
        truths.len(),
        3,
        "Basic right and wrong, a User-Agent over IPv6"
    );
    for truth in truths {
        let request = http::parse_request(stream(&capture, truth))
            .done()
            .unwrap_or_else(|| panic!("{truth}: not parsed"));
        assert_eq!(request.method, text(&truth["method"]), "{truth}");
        assert_eq!(
            request.user_agent.as_deref(),
            truth["user_agent"].as_str(),
            "{truth}"
        );
        assert_eq!(
            request.authorization.map(http::AuthScheme::name),
            truth["authorization"].as_str(),
            "{truth}"
        );
        assert_eq!(
            request.basic_user.as_deref(),
            truth["basic_user"].as_str(),
            "{truth}"
        );
        assert!(!request.head_truncated);
    }
}

#[test]
fn http_responses_match_tshark() {
    let capture = read_capture();
    let manifest = manifest();
    let truths = items(&manifest, "http_responses");
    assert_eq!(truths.len(), 3);
    for truth in truths {
        let response = http::parse_response(stream(&capture, truth))
            .done()
            .unwrap_or_else(|| panic!("{truth}: not parsed"));
        assert_eq!(u64::from(response.status), truth["status"], "{truth}");
        assert_eq!(
            response.server.as_deref(),
            truth["server"].as_str(),
            "{truth}"
        );
        let schemes: Vec<&str> = response.www_authenticate.iter().map(|s| s.name()).collect();
        let expected: Vec<&str> = truth["www_authenticate"]
            .as_array()
            .unwrap()
            .iter()
            .map(text)
            .collect();
        assert_eq!(schemes, expected, "{truth}");
    }
}

#[test]
fn ssh_identification_strings_match_tshark() {
    let capture = read_capture();
    let manifest = manifest();
    let truths = items(&manifest, "ssh");
    assert_eq!(truths.len(), 2, "client and server");
    for truth in truths {
        let bytes = stream(&capture, truth);
        let ident = if truth["server"].as_bool().unwrap() {
            ssh::parse_server_ident(bytes)
        } else {
            ssh::parse_client_ident(bytes)
        }
        .done()
        .unwrap_or_else(|| panic!("{truth}: not parsed"));
        assert_eq!(ident.line(), text(&truth["protocol"]), "{truth}");
        assert_eq!(ident.proto_version, "2.0");
        assert!(ident.software.starts_with("OpenSSH_"), "{ident:?}");
        assert!(ident.comments.is_some(), "Debian's revision");
    }
}

/// What an FTP session should report, from tshark's lines: the first
/// reply's text when it is 220, USER's argument, PASS, AUTH TLS/SSL, and the
/// 230/530/234 verdicts.
fn ftp_expected(lines: &[Value]) -> Vec<ftp::FtpEvent> {
    let mut events = Vec::new();
    let mut greeted = false;
    for line in lines {
        if let Some(command) = line["command"].as_str() {
            match command.to_ascii_uppercase().as_str() {
                "USER" => events.push(ftp::FtpEvent::User(text(&line["arg"]).to_string())),
                "PASS" => events.push(ftp::FtpEvent::Pass),
                "AUTH" => events.push(ftp::FtpEvent::AuthTls),
                _ => {}
            }
            continue;
        }
        let code = line["code"].as_u64().unwrap();
        if !greeted {
            greeted = true;
            if code == 220 {
                events.push(ftp::FtpEvent::Greeting(text(&line["arg"]).to_string()));
            }
            continue;
        }
        match code {
            230 => events.push(ftp::FtpEvent::LoginSucceeded),
            530 => events.push(ftp::FtpEvent::LoginFailed),
            234 => events.push(ftp::FtpEvent::TlsStarted),
            _ => {}
        }
    }
    events
}

#[test]
fn ftp_sessions_match_tshark() {
    let capture = read_capture();
    let manifest = manifest();
    let truths = items(&manifest, "ftp");
    assert_eq!(
        truths.len(),
        3,
        "a login, a refused one, one asking for TLS"
    );
    let mut seen = Vec::new();
    for truth in truths {
        let (client, server) = (text(&truth["client"]), text(&truth["server"]));
        let mut session = ftp::FtpSession::new();
        let mut held: [Vec<u8>; 2] = Default::default();
        let mut events = Vec::new();
        for segment in capture.conversation(client, server) {
            let direction = if segment.src == client {
                Direction::ToServer
            } else {
                Direction::ToClient
            };
            let held = &mut held[direction.index()];
            held.extend_from_slice(&segment.bytes);
            let consumed = session.feed(direction, held, &mut events);
            held.drain(..consumed);
        }
        assert_eq!(session.anomaly(), None, "{client}");
        assert!(held.iter().all(Vec::is_empty), "{client}: a line left over");
        assert_eq!(
            events,
            ftp_expected(truth["lines"].as_array().unwrap()),
            "{client}"
        );
        seen.extend(events);
    }
    // What the fixture is for: each verdict and TLS request occurs.
    for event in [
        ftp::FtpEvent::LoginSucceeded,
        ftp::FtpEvent::LoginFailed,
        ftp::FtpEvent::AuthTls,
        ftp::FtpEvent::Pass,
    ] {
        assert!(seen.contains(&event), "{event:?}");
    }
}

#[test]
fn telnet_sessions_match_tshark() {
    let capture = read_capture();
    let manifest = manifest();
    let truths = items(&manifest, "telnet");
    assert_eq!(truths.len(), 1);
    for truth in truths {
        let (client, server) = (text(&truth["client"]), text(&truth["server"]));
        let mut session = telnet::TelnetSession::new();
        let mut events = Vec::new();
        for segment in capture.conversation(client, server) {
            let direction = if segment.src == client {
                Direction::ToServer
            } else {
                Direction::ToClient
            };
            session.feed(direction, &segment.bytes, &mut events);
        }
        let lines: Vec<&str> = session
            .banner()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let expected: Vec<&str> = truth["banner_lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(text)
            .collect();
        assert_eq!(lines, expected, "{client}");
        assert_eq!(session.login_prompt(), truth["login_prompt"], "{client}");
        assert_eq!(
            session.password_prompt(),
            truth["password_prompt"],
            "{client}"
        );
        let users: Vec<String> = events
            .iter()
            .filter_map(|e| match e {
                telnet::TelnetEvent::User(name) => Some(name.clone()),
                _ => None,
            })
            .collect();
        let expected: Vec<String> = truth["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| text(u).to_string())
            .collect();
        assert_eq!(users, expected, "{client}");
        assert!(events.contains(&telnet::TelnetEvent::PasswordPrompt));
    }
}

#[test]
fn snmp_messages_match_tshark() {
    let capture = read_capture();
    let manifest = manifest();
    let truths = items(&manifest, "snmp");
    assert_eq!(truths.len(), 14, "v2c, v1, v2c over IPv6, v3 auth, v3 priv");
    for truth in truths {
        let frame = truth["frame"].as_u64().unwrap();
        let datagram = capture
            .datagrams
            .iter()
            .find(|d| d.frame == frame)
            .unwrap_or_else(|| panic!("no datagram at frame {frame}"));
        assert_eq!(datagram.src, text(&truth["src"]));
        let message = snmp::parse_message(&datagram.payload)
            .unwrap_or_else(|e| panic!("frame {frame}: {}", e.name()));
        let version = match message.version {
            snmp::SnmpVersion::V1 => 0,
            snmp::SnmpVersion::V2c => 1,
            snmp::SnmpVersion::V3 => 3,
        };
        assert_eq!(version, truth["version"], "frame {frame}");
        assert_eq!(
            message.community_len.map(|l| l as u64),
            truth["community_len"].as_u64(),
            "frame {frame}"
        );
        assert_eq!(
            message.pdu.map(|p| u64::from(p.number())),
            truth["pdu"].as_u64(),
            "frame {frame}"
        );
        assert_eq!(
            message.sys_descr.as_deref(),
            truth["sys_descr"].as_str(),
            "frame {frame}"
        );
        assert_eq!(
            message.sys_object_id.as_deref(),
            truth["sys_object_id"].as_str(),
            "frame {frame}"
        );
        match (&message.v3, truth["v3"].as_object()) {
            (None, None) => {}
            (Some(v3), Some(expected)) => {
                assert_eq!(u64::from(v3.security_model), expected["security_model"]);
                assert_eq!(v3.auth, expected["auth"], "frame {frame}");
                assert_eq!(v3.privacy, expected["privacy"], "frame {frame}");
                assert_eq!(v3.reportable, expected["reportable"], "frame {frame}");
                assert_eq!(
                    v3.user.as_deref(),
                    expected["user"].as_str(),
                    "frame {frame}"
                );
            }
            (mine, theirs) => panic!("frame {frame}: {mine:?} vs {theirs:?}"),
        }
    }
}

#[test]
fn tftp_requests_match_tshark() {
    let capture = read_capture();
    let manifest = manifest();
    let truths = items(&manifest, "tftp_requests");
    assert_eq!(truths.len(), 2, "a get and a put");
    for truth in truths {
        let frame = truth["frame"].as_u64().unwrap();
        let datagram = capture
            .datagrams
            .iter()
            .find(|d| d.frame == frame)
            .unwrap_or_else(|| panic!("no datagram at frame {frame}"));
        let request = tftp::parse_request(&datagram.payload)
            .unwrap_or_else(|e| panic!("frame {frame}: {}", e.name()));
        let opcode = match request.opcode {
            tftp::TftpOpcode::Read => 1,
            tftp::TftpOpcode::Write => 2,
        };
        assert_eq!(opcode, truth["opcode"], "frame {frame}");
        assert_eq!(request.filename, text(&truth["filename"]), "frame {frame}");
        assert_eq!(request.mode, text(&truth["mode"]), "frame {frame}");
    }
    // Every other TFTP datagram (DATA, ACK) is refused as a request.
    let others = capture
        .datagrams
        .iter()
        .filter(|d| d.src.ends_with(":69") || d.dst.ends_with(":69"))
        .count();
    assert_eq!(
        others, 2,
        "requests go to port 69; transfers use other ports"
    );
}

/// "003.008" as tshark writes a version.
fn rfb_version(version: vnc::RfbVersion) -> String {
    format!("{:03}.{:03}", version.major, version.minor)
}

#[test]
fn vnc_openings_match_tshark() {
    let capture = read_capture();
    let manifest = manifest();
    let truths = items(&manifest, "vnc");
    assert_eq!(truths.len(), 3, "None as 3.8 and 3.3, VncAuth as 3.8");
    for truth in truths {
        let (client_end, server_end) = (text(&truth["client"]), text(&truth["server"]));
        let client = vnc::parse_client(capture.stream(client_end, server_end))
            .done()
            .unwrap_or_else(|| panic!("{truth}: client not parsed"));
        let server =
            vnc::parse_server(capture.stream(server_end, client_end), Some(client.version))
                .done()
                .unwrap_or_else(|| panic!("{truth}: server not parsed"));
        assert_eq!(rfb_version(client.version), text(&truth["client_version"]));
        assert_eq!(rfb_version(server.version), text(&truth["server_version"]));
        assert_eq!(
            client.chosen.map(u64::from),
            truth["chosen"].as_u64(),
            "{truth}"
        );
        let expected = match (truth["offered"].as_array(), truth["decided"].as_u64()) {
            (Some(types), None) => {
                vnc::VncSecurity::Offered(types.iter().map(|t| t.as_u64().unwrap() as u8).collect())
            }
            (None, Some(decided)) => vnc::VncSecurity::Decided(decided as u32),
            _ => panic!("{truth}: neither offered nor decided"),
        };
        assert_eq!(server.security, expected, "{truth}");
        let none_offered = match &expected {
            vnc::VncSecurity::Offered(types) => types.contains(&1),
            vnc::VncSecurity::Decided(t) => *t == 1,
            vnc::VncSecurity::Refused(_) => false,
        };
        assert_eq!(server.no_auth(), none_offered, "{truth}");
    }
}

#[test]
fn rdp_requests_match_tshark() {
    let capture = read_capture();
    let manifest = manifest();
    let truths = items(&manifest, "rdp_requests");
    assert_eq!(truths.len(), 5);
    for truth in truths {
        let request = rdp::parse_request(stream(&capture, truth))
            .done()
            .unwrap_or_else(|| panic!("{truth}: not parsed"));
        assert_eq!(
            request.cookie_user.as_deref(),
            truth["cookie_user"].as_str(),
            "{truth}"
        );
        assert_eq!(request.routing_token, truth["routing_token"], "{truth}");
        assert_eq!(
            request.requested_protocols.map(u64::from),
            truth["requested_protocols"].as_u64(),
            "{truth}"
        );
        assert_eq!(
            request.flags.map(u64::from),
            truth["flags"].as_u64(),
            "{truth}"
        );
    }
}

#[test]
fn rdp_confirms_match_tshark() {
    let capture = read_capture();
    let manifest = manifest();
    let truths = items(&manifest, "rdp_confirms");
    assert_eq!(truths.len(), 5);
    let mut without_nla = 0;
    for truth in truths {
        let confirm = rdp::parse_confirm(stream(&capture, truth))
            .done()
            .unwrap_or_else(|| panic!("{truth}: not parsed"));
        match (confirm.negotiation, truth["neg_type"].as_u64()) {
            (rdp::RdpNegotiation::Selected { protocol, flags }, Some(2)) => {
                assert_eq!(u64::from(protocol), truth["selected_protocol"], "{truth}");
                assert_eq!(u64::from(flags), truth["flags"], "{truth}");
            }
            (rdp::RdpNegotiation::Failure { code }, Some(3)) => {
                assert_eq!(u64::from(code), truth["failure_code"], "{truth}");
            }
            (rdp::RdpNegotiation::None, None) => {}
            (mine, theirs) => panic!("{truth}: {mine:?} vs neg_type {theirs:?}"),
        }
        // xrdp speaks no CredSSP: every connection it accepts is without NLA.
        if confirm.without_nla() == Some(true) {
            without_nla += 1;
        }
    }
    assert_eq!(without_nla, 5);
}

/// Every parser's output over the whole capture, as text.
fn everything_reported(capture: &Capture) -> String {
    let mut shown = String::new();
    for bytes in capture.streams.values() {
        shown += &format!(
            "{:?}{:?}{:?}{:?}{:?}{:?}{:?}{:?}",
            http::parse_request(bytes),
            http::parse_response(bytes),
            ssh::parse_client_ident(bytes),
            ssh::parse_server_ident(bytes),
            rdp::parse_request(bytes),
            rdp::parse_confirm(bytes),
            vnc::parse_client(bytes),
            vnc::parse_server(bytes, None),
        );
    }
    for datagram in &capture.datagrams {
        shown += &format!(
            "{:?}{:?}",
            snmp::parse_message(&datagram.payload),
            tftp::parse_request(&datagram.payload)
        );
    }
    // The sessions, fed every conversation in capture order.
    let mut ftp_session = ftp::FtpSession::new();
    let mut telnet_session = telnet::TelnetSession::new();
    let (mut ftp_events, mut telnet_events) = (Vec::new(), Vec::new());
    for segment in &capture.segments {
        let direction = if segment.dst.ends_with(":21") || segment.dst.ends_with(":23") {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        if segment.src.ends_with(":21") || segment.dst.ends_with(":21") {
            // Whole lines only in this fixture's segments.
            ftp_session.feed(direction, &segment.bytes, &mut ftp_events);
        }
        if segment.src.ends_with(":23") || segment.dst.ends_with(":23") {
            telnet_session.feed(direction, &segment.bytes, &mut telnet_events);
        }
    }
    shown += &format!("{ftp_events:?}{telnet_events:?}{}", telnet_session.banner());
    shown
}

#[test]
fn no_password_or_community_is_kept() {
    let capture = read_capture();
    let shown = everything_reported(&capture);
    for user in ["biomed", "nurse", "biomedv3"] {
        assert!(shown.contains(user), "the user name {user} is kept");
    }
    let secrets: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(dir().join("../secrets.json")).expect("secrets.json"),
    )
    .expect("JSON");
    let ours: Vec<&str> = secrets
        .iter()
        .filter(|s| s["capture"] == "fixtures/banner/banner.pcap")
        .map(|s| text(&s["value"]))
        .collect();
    assert!(ours.len() >= 8, "the banner secrets are listed");
    for secret in ours {
        assert!(!shown.contains(secret), "{secret} is reported");
    }
}

#[test]
fn every_prefix_of_a_real_opening_needs_more_or_gives_the_whole() {
    // What a live caller sees as segments arrive: never a wrong answer.
    let capture = read_capture();
    let manifest = manifest();
    for truth in items(&manifest, "http_requests")
        .iter()
        .chain(items(&manifest, "rdp_requests"))
    {
        let bytes = stream(&capture, truth);
        let http_whole = http::parse_request(bytes);
        let rdp_whole = rdp::parse_request(bytes);
        for cut in 0..bytes.len() {
            let http_part = http::parse_request(&bytes[..cut]);
            assert!(
                http_part == Parsed::NeedMore
                    || http_part == http_whole
                    || matches!(http_part, Parsed::NotThis(_))
                        && matches!(http_whole, Parsed::NotThis(_)),
                "{truth} cut at {cut}"
            );
            let rdp_part = rdp::parse_request(&bytes[..cut]);
            assert!(
                rdp_part == Parsed::NeedMore || rdp_part == rdp_whole,
                "{truth} cut at {cut}"
            );
        }
    }
}
