//! `--policy FILE`: replays of the shipped scenarios judged against the
//! policy learned from the benign ward. The ground truth is read from the
//! captures themselves (with libpcap): every connection opening the
//! learning capture never had.
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
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::{assert_valid_events, fixture, lines, medtap, replay_ok};
use etherparse::{SlicedPacket, TransportSlice};
use serde_json::Value;

/// A connection's opening: client, server, IP protocol, server port.
type Opening = (IpAddr, IpAddr, u8, u16);

/// The state learned from the benign ward with `--learn all` and the
/// policy made from it, once per test process.
fn learned() -> &'static (tempfile::TempDir, PathBuf, PathBuf) {
    static LEARNED: OnceLock<(tempfile::TempDir, PathBuf, PathBuf)> = OnceLock::new();
    LEARNED.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let state = dir.path().join("base.json");
        let learn = ["--learn", "all", "-q", "-o", "/dev/null", "--state"];
        replay_ok(
            &fixture("scenarios/benign_ward.pcapng"),
            &[learn.map(OsStr::new).as_slice(), &[state.as_os_str()]].concat(),
        );
        let out = medtap()
            .arg("policy")
            .arg("--state")
            .arg(&state)
            .output()
            .expect("medtap runs");
        assert!(out.status.success(), "{out:?}");
        let policy = dir.path().join("policy.json");
        std::fs::write(&policy, &out.stdout).expect("policy written");
        (dir, state, policy)
    })
}

/// Every TCP SYN (without ACK) and every UDP flow's first datagram in a
/// capture, to unicast addresses.
fn openings(path: &Path) -> BTreeSet<Opening> {
    let mut pcap =
        pcap::Capture::from_file(path).unwrap_or_else(|e| panic!("{} opens: {e}", path.display()));
    let mut udp_flows = BTreeSet::new();
    let mut found = BTreeSet::new();
    while let Ok(packet) = pcap.next_packet() {
        let Ok(sliced) = SlicedPacket::from_ethernet(packet.data) else {
            continue;
        };
        let Some((src, dst)) = common::capture::addresses(&sliced) else {
            continue;
        };
        let unicast = match dst {
            IpAddr::V4(v4) => !v4.is_broadcast() && !v4.is_multicast() && !src.is_unspecified(),
            IpAddr::V6(v6) => !v6.is_multicast(),
        };
        if !unicast {
            continue;
        }
        match &sliced.transport {
            Some(TransportSlice::Tcp(tcp)) if tcp.syn() && !tcp.ack() => {
                found.insert((src, dst, 6, tcp.destination_port()));
            }
            Some(TransportSlice::Udp(udp)) => {
                let (sp, dp) = (udp.source_port(), udp.destination_port());
                let key = if (src, sp) < (dst, dp) {
                    (src, sp, dst, dp)
                } else {
                    (dst, dp, src, sp)
                };
                if udp_flows.insert(key) {
                    found.insert((src, dst, 17, dp));
                }
            }
            _ => {}
        }
    }
    found
}

/// Every `policy_violation` of a replay of `capture` against the learned
/// state and policy, each occurrence (`--suppress 0`).
fn violations(capture: &Path) -> Vec<Value> {
    let (dir, state, policy) = learned();
    let copy = dir.path().join(format!(
        "{}.state.json",
        capture.file_stem().and_then(|s| s.to_str()).unwrap_or("x")
    ));
    std::fs::copy(state, &copy).expect("state copied");
    let out = replay_ok(
        capture,
        &[
            OsStr::new("-q"),
            OsStr::new("--suppress"),
            OsStr::new("0"),
            OsStr::new("--state"),
            copy.as_os_str(),
            OsStr::new("--policy"),
            policy.as_os_str(),
        ],
    );
    lines(&out.stdout)
        .into_iter()
        .filter(|e| e["alert"]["kind"] == "policy_violation")
        .collect()
}

fn opening_of(alert: &Value) -> Opening {
    let ip = |key: &str| -> IpAddr {
        alert[key]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{key} in {alert}"))
    };
    let proto = match alert["proto"].as_str() {
        Some("TCP") => 6,
        Some("UDP") => 17,
        other => panic!("proto {other:?}"),
    };
    let port = alert["dest_port"].as_u64().expect("dest_port");
    (
        ip("src_ip"),
        ip("dest_ip"),
        proto,
        u16::try_from(port).expect("a port"),
    )
}

#[test]
fn violations_are_exactly_the_openings_the_learning_never_had() {
    let learned_openings = openings(&fixture("scenarios/benign_ward.pcapng"));
    let mut scenarios: Vec<PathBuf> = std::fs::read_dir(fixture("scenarios"))
        .expect("scenarios")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcapng"))
        .collect();
    scenarios.sort();
    assert!(scenarios.len() >= 20, "{scenarios:?}");
    for capture in &scenarios {
        let name = capture.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        let unlearned: BTreeSet<Opening> = openings(capture)
            .difference(&learned_openings)
            .copied()
            .collect();
        let alerts = violations(capture);
        assert_valid_events(&alerts);
        // Judged by the DICOM requests, on a connection the ports allow.
        let (requests, alerts): (Vec<Value>, Vec<Value>) = alerts
            .into_iter()
            .partition(|a| a["evidence"]["dicom_request"].is_string());
        let requests: Vec<(String, String)> = requests
            .iter()
            .map(|a| {
                (
                    a["device"]["id"].as_str().unwrap_or("?").to_owned(),
                    a["evidence"]["dicom_request"]
                        .as_str()
                        .unwrap_or("?")
                        .to_owned(),
                )
            })
            .collect();
        if name == "dicom_query_from_modality" {
            let ct = ("mac:44:4b:5d:10:20:11".to_owned(), "C-FIND".to_owned());
            assert_eq!(requests, [ct], "{name}");
        } else {
            assert_eq!(requests, [], "{name}");
        }
        let judged: BTreeSet<Opening> = alerts.iter().map(opening_of).collect();
        // Nothing learned is ever a violation.
        let learned_but_flagged: Vec<&Opening> = judged.difference(&unlearned).collect();
        assert!(
            learned_but_flagged.is_empty(),
            "{name}: {learned_but_flagged:?}"
        );
        match name {
            // The learning capture itself. (benign_varied has pumps the
            // benign ward never had: their openings are violations.)
            "benign_ward" => assert!(judged.is_empty(), "{name}: {judged:?}"),
            // A new server port, a new external host, a scan: every
            // opening the learning never had.
            "new_service" | "new_external_peer" | "fanout" => {
                assert!(!unlearned.is_empty(), "{name}");
                assert_eq!(judged, unlearned, "{name}");
            }
            _ => {}
        }
    }
}

#[test]
fn a_violation_names_the_device_its_group_the_flow_and_the_rule_set() {
    let alerts = violations(&fixture("scenarios/new_external_peer.pcapng"));
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let alert = &alerts[0];
    assert_eq!(alert["device"]["id"], "mac:9c:c8:ae:10:20:22");
    assert_eq!(alert["dest_ip"], "203.0.113.50");
    assert_eq!(alert["dest_port"], 1883);
    assert_eq!(alert["alert"]["subject"], "to 203.0.113.50 tcp/1883");
    assert_eq!(alert["peer"]["ip"], "203.0.113.50");
    let evidence = &alert["evidence"];
    assert_eq!(evidence["group"], "mqtt-pump");
    assert_eq!(evidence["rule_set"], "medtap-mqtt-pump");
    assert_eq!(evidence["protocol"], "tcp");
    assert_eq!(evidence["port"], 1883);
    assert_eq!(evidence["initiator"], "group");
    let (_, _, policy) = learned();
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        &std::fs::read(policy).expect("policy"),
    );
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(evidence["policy_sha256"], hex.as_str());
    assert_eq!(evidence["policy"], policy.display().to_string().as_str());
    assert!(alert["pcap_cnt"].is_u64(), "answered: at its packet");
}

#[test]
fn a_policy_that_cannot_be_used_is_refused_at_start() {
    let (dir, _, policy) = learned();
    let text = std::fs::read_to_string(policy).expect("policy");
    let cases = [
        (
            "garbage.json",
            "{not json".to_owned(),
            "not a medtap policy",
        ),
        (
            "unknown-group.json",
            text.replacen("\"group\": \"pacs\"", "\"group\": \"nowhere\"", 1),
            "unknown group \"nowhere\"",
        ),
        (
            "newer.json",
            text.replacen("\"version\": 1", "\"version\": 9", 1),
            "policy version 9",
        ),
    ];
    for (name, body, needle) in cases {
        assert_ne!(body, text, "{name}: the damage took");
        let path = dir.path().join(name);
        std::fs::write(&path, body).expect("written");
        let events = dir.path().join(format!("{name}.events"));
        let out = medtap()
            .arg("-r")
            .arg(fixture("scenarios/fanout.pcapng"))
            .arg("--policy")
            .arg(&path)
            .arg("-o")
            .arg(&events)
            .output()
            .expect("medtap runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{name}: {stderr}");
        assert!(stderr.contains(needle), "{name}: {stderr}");
        assert!(stderr.contains(name), "{name}: the file is named: {stderr}");
        assert!(!events.exists(), "{name}: nothing written");
        // A configuration naming it is refused by --check-config too.
        let config = dir.path().join(format!("{name}.toml"));
        std::fs::write(
            &config,
            format!("policy = {:?}\n", path.display().to_string()),
        )
        .expect("written");
        let out = medtap()
            .arg("--check-config")
            .arg(&config)
            .output()
            .expect("medtap runs");
        assert_eq!(out.status.code(), Some(1), "{name}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(needle));
    }
    let missing = medtap()
        .args(["-r", "x.pcap", "--policy"])
        .arg(dir.path().join("absent.json"))
        .output()
        .expect("medtap runs");
    assert_eq!(missing.status.code(), Some(1));
    let conflict = medtap()
        .args(["-r", "x.pcap", "--no-baselines", "--policy"])
        .arg(policy)
        .output()
        .expect("medtap runs");
    assert_eq!(conflict.status.code(), Some(2), "a usage error");
}
