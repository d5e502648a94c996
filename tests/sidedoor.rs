//! The side door end to end: what devices expose under their clinical
//! protocols, replayed from real traffic and checked against other tools'
//! reading of it.
//!
//! - `fixtures/banner/banner.pcap` (curl, OpenSSH, pyftpdlib, inetutils
//!   telnet/telnetd, net-snmp, tftp-hpa, TigerVNC and xrdp answering
//!   crafted clients) with tshark's manifest;
//! - `fixtures/sidedoor/sidedoor.pcap` (openssl, curl, Samba, Linux and
//!   crafted SYNs) with tshark's and p0f's manifest;
//! - `fixtures/public/legacy-services/` (suricata-verify: real Windows
//!   hosts' NTLMSSP versions, a 1999 Telnet login, an FTP login, SNMP v2c),
//!   whose README states what tshark reads in each.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a test fails by panicking"
)]

mod common;

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

fn replay_devices(capture: &Path, extra: &[&OsStr]) -> (Vec<Value>, Vec<Value>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("devices.json");
    let mut args = vec![OsStr::new("--inventory"), path.as_os_str()];
    args.extend_from_slice(extra);
    let out = replay_ok(capture, &args);
    let inventory: Value =
        serde_json::from_slice(&std::fs::read(&path).expect("inventory")).expect("json");
    let devices = inventory["devices"].as_array().expect("devices").clone();
    (devices, lines(&out.stdout))
}

fn manifest(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(fixture(name)).expect("manifest")).expect("json")
}

/// The device that sent from `ip`.
fn at<'a>(devices: &'a [Value], ip: &str) -> &'a Value {
    devices
        .iter()
        .find(|d| {
            d["ips"]
                .as_array()
                .is_some_and(|ips| ips.iter().any(|i| i == ip))
        })
        .unwrap_or_else(|| panic!("no device at {ip}"))
}

/// `exposure/role` of each of a device's exposures.
fn exposures(device: &Value) -> BTreeSet<String> {
    device["exposures"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            format!(
                "{}/{}",
                e["exposure"].as_str().unwrap_or(""),
                e["role"].as_str().unwrap_or("")
            )
        })
        .collect()
}

/// The user names of a device's cleartext logins, by service.
fn logins(device: &Value) -> BTreeSet<(String, String)> {
    device["exposures"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["exposure"] == "cleartext_credentials")
        .map(|e| {
            (
                e["service"].as_str().unwrap_or("").to_owned(),
                e["user_name"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

fn alert_kinds(events: &[Value]) -> BTreeSet<String> {
    of_type(events, "alert")
        .iter()
        .filter_map(|a| a["alert"]["kind"].as_str().map(str::to_owned))
        .collect()
}

fn host(addr: &Value) -> String {
    let text = addr.as_str().expect("address");
    let host = text.rsplit_once(':').map_or(text, |(h, _)| h);
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned()
}

#[test]
fn cleartext_services_and_logins_are_the_servers_exposures_with_user_names_only() {
    let m = manifest("banner/manifest.json");
    let (devices, events) = replay_devices(&fixture("banner/banner.pcap"), &[]);
    let server_ip = host(&m["ftp"][0]["server"]);
    let client_ip = host(&m["ftp"][0]["client"]);
    let server = at(&devices, &server_ip);
    let client = at(&devices, &client_ip);
    // What tshark saw, service by service, is what the server exposes.
    let mut expected: BTreeSet<String> = BTreeSet::new();
    if !m["telnet"].as_array().expect("telnet").is_empty() {
        expected.insert("telnet/server".into());
    }
    if m["ftp"][0]["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .any(|l| l["code"] == 220)
    {
        expected.insert("ftp/server".into());
    }
    if m["snmp"]
        .as_array()
        .expect("snmp")
        .iter()
        .any(|s| s["version"] != 3 && !s["community_len"].is_null())
    {
        expected.insert("snmp_v1_v2c/server".into());
    }
    if m["vnc"].as_array().expect("vnc").iter().any(|v| {
        v["offered"]
            .as_array()
            .is_some_and(|o| o.iter().any(|t| t == 1))
            || v["decided"] == 1
    }) {
        expected.insert("vnc_no_auth/server".into());
    }
    // Standard RDP security (0) or TLS alone (1): no NLA.
    if m["rdp_confirms"]
        .as_array()
        .expect("rdp")
        .iter()
        .any(|c| c["selected_protocol"] == 0 || c["selected_protocol"] == 1)
    {
        expected.insert("rdp_without_nla/server".into());
    }
    if m["http_requests"]
        .as_array()
        .expect("http")
        .iter()
        .any(|r| r["authorization"] == "basic")
    {
        expected.insert("http_basic_cleartext/server".into());
        expected.insert("cleartext_credentials/server".into());
    }
    assert_eq!(exposures(server), expected, "{server}");
    // The logins' user names, as tshark read them; never anything else.
    let mut users: BTreeSet<(String, String)> = BTreeSet::new();
    for r in m["http_requests"].as_array().expect("http") {
        if let Some(user) = r["basic_user"].as_str() {
            users.insert(("http".into(), user.into()));
        }
    }
    for line in m["ftp"][0]["lines"].as_array().expect("lines") {
        if line["command"] == "USER" {
            users.insert(("ftp".into(), line["arg"].as_str().expect("user").into()));
        }
    }
    for user in m["telnet"][0]["users"].as_array().expect("users") {
        users.insert(("telnet".into(), user.as_str().expect("user").into()));
    }
    assert_eq!(logins(server), users);
    assert_eq!(logins(client), users);
    // The client uses what it was seen using.
    for uses in [
        "cleartext_credentials/client",
        "snmp_v1_v2c/client",
        "tftp/client",
    ] {
        assert!(exposures(client).contains(uses), "{uses}: {client}");
    }
    // The server's system, from its SSH banner and SNMP sysDescr.
    assert_eq!(server["os"]["family"], "debian", "{}", server["os"]);
    let sources: BTreeSet<&str> = server["os"]["evidence"]
        .as_array()
        .expect("evidence")
        .iter()
        .filter_map(|e| e["source"].as_str())
        .collect();
    assert!(
        sources.contains("ssh.banner") && sources.contains("snmp.sysdescr"),
        "{sources:?}"
    );
    assert!(
        server["risk"]["score"].as_u64() >= Some(70),
        "{}",
        server["risk"]
    );
    assert_eq!(server["risk"]["level"], "critical");
    assert_eq!(
        alert_kinds(&events),
        BTreeSet::from(["insecure_service".into(), "cleartext_credentials".into()])
    );
}

#[test]
fn weak_tls_and_smb1_from_real_openssl_and_samba() {
    let m = manifest("sidedoor/manifest.json");
    let (devices, events) = replay_devices(&fixture("sidedoor/sidedoor.pcap"), &[]);
    let weak: Vec<&Value> = m["tls_server_hellos"]
        .as_array()
        .expect("hellos")
        .iter()
        .filter(|h| {
            let version = h["supported_version"].as_u64().or(h["version"].as_u64());
            version.is_some_and(|v| v < 0x0303)
        })
        .collect();
    assert!(!weak.is_empty(), "the fixture negotiates TLS 1.0 and 1.1");
    let server = at(&devices, &host(&weak[0]["src"]));
    let client = at(&devices, &host(&weak[0]["dst"]));
    assert!(exposures(server).contains("weak_tls/server"), "{server}");
    assert!(exposures(client).contains("weak_tls/client"), "{client}");
    // SMB1: the server answered an SMB1 negotiate (tshark's dialect index).
    assert!(
        !m["smb1_negotiate_responses"]
            .as_array()
            .expect("smb1")
            .is_empty()
    );
    assert!(exposures(server).contains("smb1/server"), "{server}");
    assert!(exposures(client).contains("smb1/client"), "{client}");
    let kinds = alert_kinds(&events);
    assert!(
        kinds.contains("weak_tls") && kinds.contains("insecure_service"),
        "{kinds:?}"
    );
    // Samba's NTLMSSP version (6.1 build 0) names no Windows.
    assert_ne!(server["os"]["family"], "windows");
    // Every p0f reading on a device is one p0f itself made of its SYNs.
    let labels: BTreeSet<String> = m["tcp_syns"]
        .as_array()
        .expect("syns")
        .iter()
        .filter_map(|s| s["os"].as_str().map(|os| format!("p0f {os:?}")))
        .collect();
    for device in &devices {
        for evidence in device["os"]["evidence"].as_array().into_iter().flatten() {
            if evidence["source"] == "tcp.p0f" {
                let text = evidence["text"].as_str().expect("text");
                assert!(labels.contains(text), "{text} not among p0f's {labels:?}");
            }
        }
    }
}

fn legacy(name: &str) -> PathBuf {
    fixture(&format!("public/legacy-services/{name}"))
}

#[test]
fn real_windows_hosts_are_known_by_their_ntlmssp_versions() {
    // The corpus README, from tshark: 10.0.10586 from .132 and .133, 6.3.9600
    // from .1; 6.1.7600 from 192.168.1.10.
    let (devices, _) = replay_devices(&legacy("smb2-ntlmssp-negotiateflags_input.pcap"), &[]);
    for (ip, build, version) in [
        ("192.168.199.132", 10586, "10 1511"),
        ("192.168.199.133", 10586, "10 1511"),
        ("192.168.199.1", 9600, "8.1 or Server 2012 R2"),
    ] {
        let os = &at(&devices, ip)["os"];
        assert_eq!(os["family"], "windows", "{ip}: {os}");
        assert_eq!(os["build"], build, "{ip}: {os}");
        assert_eq!(os["version"], version, "{ip}: {os}");
        assert_eq!(os["confidence"], "high", "{ip}: {os}");
    }
    let (devices, _) = replay_devices(&legacy("smb1-02_smb1_osx.pcap"), &[]);
    let windows = at(&devices, "192.168.1.10");
    assert_eq!(windows["os"]["build"], 7600, "{windows}");
    assert!(exposures(windows).contains("smb1/client"), "{windows}");
}

/// A copy of a classic pcap with every packet `seconds` later.
fn shifted(capture: &Path, seconds: u32, to: &Path) {
    let mut bytes = std::fs::read(capture).expect("capture");
    assert_eq!(
        bytes.get(..4),
        Some(&[0xd4, 0xc3, 0xb2, 0xa1][..]),
        "little-endian pcap"
    );
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let ts = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        bytes[at..at + 4].copy_from_slice(&(ts + seconds).to_le_bytes());
        let caplen = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().expect("4 bytes"));
        at += 16 + caplen as usize;
    }
    std::fs::write(to, bytes).expect("write");
}

#[test]
fn an_os_past_its_end_of_support_raises_outdated_os_once() {
    // Windows 7 RTM (build 7600): free support ended 2020-10-13 for the
    // last of its editions (Embedded Standard 7). In 2018, when the
    // capture was taken, it was still supported; the same traffic eight
    // years later is not.
    let original = legacy("smb1-02_smb1_osx.pcap");
    let (_, events) = replay_devices(&original, &[]);
    assert!(!alert_kinds(&events).contains("outdated_os"));
    let dir = tempfile::tempdir().expect("tempdir");
    let later = dir.path().join("smb1-2026.pcap");
    shifted(&original, 8 * 365 * 86_400, &later);
    let (devices, events) = replay_devices(&later, &[]);
    let windows = at(&devices, "192.168.1.10");
    let eol = &windows["os"]["end_of_life"];
    assert_eq!(eol["date"], "2020-10-13", "{eol}");
    assert_eq!(eol["past"], true, "{eol}");
    let outdated: Vec<&Value> = of_type(&events, "alert")
        .into_iter()
        .filter(|a| a["alert"]["kind"] == "outdated_os")
        .collect();
    assert_eq!(outdated.len(), 1, "{outdated:?}");
    assert_eq!(outdated[0]["device"]["id"], windows["id"]);
    assert_eq!(outdated[0]["evidence"]["end_of_life"], "2020-10-13");
    let reasons: Vec<&str> = windows["risk"]["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .filter_map(|r| r["reason_code"].as_str())
        .collect();
    assert!(
        reasons.iter().any(|r| r.starts_with("os_end_of_life")),
        "{reasons:?}"
    );
}

#[test]
fn logins_of_old_telnet_and_ftp_captures_keep_their_user_names() {
    // tshark: user "fake" at the OpenBSD 2.6 login prompt; FTP USER bob.
    let (devices, events) = replay_devices(&legacy("telnet_telnet-01_telnet.pcap"), &[]);
    let server = at(&devices, "192.168.0.1");
    assert!(exposures(server).contains("telnet/server"), "{server}");
    assert_eq!(
        logins(server),
        BTreeSet::from([("telnet".into(), "fake".into())])
    );
    assert!(alert_kinds(&events).contains("cleartext_credentials"));
    let (devices, _) = replay_devices(&legacy("ftp_ftp-download-active_input.pcap"), &[]);
    let users: BTreeSet<(String, String)> = devices.iter().flat_map(logins).collect();
    assert_eq!(users, BTreeSet::from([("ftp".into(), "bob".into())]));
}

#[test]
fn what_was_found_is_kept_in_the_state_file_and_not_told_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state.json");
    let capture = fixture("banner/banner.pcap");
    let (_, first) = replay_devices(&capture, &[OsStr::new("--state"), state.as_os_str()]);
    assert!(!of_type(&first, "alert").is_empty());
    let (devices, again) = replay_devices(&capture, &[OsStr::new("--state"), state.as_os_str()]);
    let side_door = [
        "outdated_os",
        "insecure_service",
        "weak_tls",
        "cleartext_credentials",
    ];
    let repeated: Vec<&Value> = of_type(&again, "alert")
        .into_iter()
        .filter(|a| side_door.iter().any(|k| a["alert"]["kind"] == *k))
        .collect();
    assert!(repeated.is_empty(), "{repeated:?}");
    assert!(devices.iter().any(|d| !exposures(d).is_empty()));
}

#[test]
fn the_output_is_the_same_for_any_number_of_workers() {
    for capture in [
        fixture("banner/banner.pcap"),
        fixture("sidedoor/sidedoor.pcap"),
    ] {
        let one = replay_ok(&capture, &["--workers", "1"]).stdout;
        let three = replay_ok(&capture, &["--workers", "3"]).stdout;
        assert_eq!(one, three, "{}", capture.display());
    }
}

#[test]
fn a_dhcp_clients_option_list_is_a_clue_to_its_system() {
    // fixtures/identity: dhclient and dhcpcd, both on Linux, ask for their
    // leases; their parameter request lists are in the shipped table.
    let (devices, _) = replay_devices(&fixture("identity/identity.pcapng"), &[]);
    let clients: Vec<&Value> = devices
        .iter()
        .filter(|d| !d["identity"]["dhcp"]["fingerprint"].is_null())
        .collect();
    assert_eq!(clients.len(), 2);
    for client in clients {
        let os = &client["os"];
        assert_eq!(os["family"], "linux", "{client}");
        assert!(
            os["evidence"]
                .as_array()
                .expect("evidence")
                .iter()
                .any(|e| e["source"] == "dhcp.fingerprint"),
            "{os}"
        );
    }
}
