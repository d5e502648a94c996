//! Replays of every fixture: determinism, schema, Community ID, link types.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a test fails by panicking"
)]

mod common;

use std::collections::BTreeSet;

use common::*;
use serde_json::Value;

fn replay(path: &std::path::Path, extra: &[&str]) -> std::process::Output {
    medtap()
        .arg("-r")
        .arg(path)
        .args(extra)
        .output()
        .expect("medtap runs")
}

#[test]
fn every_fixture_replays_without_error() {
    for path in all_captures() {
        let out = replay(&path, &[]);
        assert!(
            out.status.success(),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let events = lines(&out.stdout);
        let stats = &final_stats(&events)["stats"];
        assert!(
            stats["capture"]["packets"].as_u64() > Some(0),
            "{}: no packets",
            path.display()
        );
    }
}

#[test]
fn output_is_byte_identical_for_one_and_four_workers() {
    for path in all_captures() {
        let one = replay(&path, &["--workers", "1"]);
        let four = replay(&path, &["--workers", "4"]);
        assert!(one.status.success() && four.status.success());
        assert!(
            one.stdout == four.stdout,
            "{}: output differs between 1 and 4 workers",
            path.display()
        );
    }
    // The ward capture through 3 workers and all files at once.
    let mut args: Vec<String> = Vec::new();
    for path in all_captures() {
        args.push("-r".into());
        args.push(path.display().to_string());
    }
    let run_with = |workers: &str| {
        medtap()
            .args(&args)
            .args(["--workers", workers])
            .output()
            .expect("runs")
            .stdout
    };
    assert_eq!(run_with("1"), run_with("3"));
}

#[test]
fn all_output_validates_against_the_json_schema() {
    let events_schema = schema("events.schema.json");
    let inventory_schema = schema("inventory.schema.json");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut checked = 0;
    let mut protocol_events = 0;
    for path in all_captures() {
        let inventory = dir.path().join("inv.json");
        let out = replay(
            &path,
            &[
                "--log-protocols",
                "--inventory",
                inventory.to_str().expect("utf-8"),
            ],
        );
        for event in lines(&out.stdout) {
            if ["dicom", "hl7", "mqtt"].contains(&event["event_type"].as_str().unwrap_or("")) {
                protocol_events += 1;
            }
            let errors: Vec<String> = events_schema
                .iter_errors(&event)
                .map(|e| format!("{e} at {}", e.instance_path))
                .collect();
            assert!(
                errors.is_empty(),
                "{}: {event}\n{errors:#?}",
                path.display()
            );
            checked += 1;
        }
        let inv: Value =
            serde_json::from_slice(&std::fs::read(&inventory).expect("inventory")).expect("JSON");
        let errors: Vec<String> = inventory_schema
            .iter_errors(&inv)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
    }
    assert!(checked > 50, "only {checked} events checked");
    assert!(
        protocol_events > 30,
        "only {protocol_events} protocol events checked"
    );
    // The schema is not a rubber stamp.
    let bad = serde_json::json!({"timestamp": "yesterday", "event_type": "device"});
    assert!(!events_schema.is_valid(&bad));
}

/// (saddr, daddr, sport, dport, proto) of a Community ID baseline entry.
type BaselineTuple = (String, String, u64, u64, u64);

/// The Community ID baseline entries of the spec: (saddr, daddr, sport,
/// dport, proto) and the ID. For ICMP, sport is the type and dport the type's
/// counterpart (or the code, for one-way types).
fn community_id_baseline() -> Vec<(BaselineTuple, String)> {
    let text = std::fs::read_to_string(fixture("public/community-id/baseline_deflt.json"))
        .expect("baseline");
    let entries: Vec<Value> = serde_json::from_str(&text).expect("JSON");
    entries
        .iter()
        .map(|e| {
            (
                (
                    e["saddr"].as_str().unwrap_or_default().to_owned(),
                    e["daddr"].as_str().unwrap_or_default().to_owned(),
                    e["sport"].as_u64().unwrap_or(0),
                    e["dport"].as_u64().unwrap_or(0),
                    e["proto"].as_u64().unwrap_or(0),
                ),
                e["communityid"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn community_ids_in_events_match_the_spec_baselines() {
    let baseline = community_id_baseline();
    let mut matched = BTreeSet::new();
    for name in ["tcp", "udp", "icmp", "icmp6", "ipv6", "sctp"] {
        let path = fixture(&format!("public/community-id/{name}.pcap"));
        // Every sender a device, so every sender's first packet yields an event.
        let out = replay(&path, &["--home-net", "0.0.0.0/0,::/0"]);
        assert!(out.status.success());
        for event in of_type(&lines(&out.stdout), "device") {
            let is_icmp = event["icmp_type"].is_u64();
            let (sport, dport) = if is_icmp {
                (event["icmp_type"].as_u64(), event["icmp_code"].as_u64())
            } else {
                (event["src_port"].as_u64(), event["dest_port"].as_u64())
            };
            let proto = match event["proto"].as_str().unwrap_or_default() {
                "TCP" => 6,
                "UDP" => 17,
                "ICMP" => 1,
                "IPv6-ICMP" => 58,
                "SCTP" => 132,
                other => other.parse().unwrap_or(0),
            };
            let src = event["src_ip"].as_str().unwrap_or_default();
            let dst = event["dest_ip"].as_str().unwrap_or_default();
            let candidates: Vec<&String> = baseline
                .iter()
                .filter(|((s, d, sp, dp, p), _)| {
                    s == src
                        && d == dst
                        && *p == proto
                        && Some(*sp) == sport
                        && (is_icmp || Some(*dp) == dport)
                })
                .map(|(_, id)| id)
                .collect();
            assert!(
                !candidates.is_empty(),
                "{name}: flow {src} -> {dst} {proto} {sport:?} {dport:?} not in the baseline"
            );
            let id = event["community_id"].as_str().unwrap_or_default();
            assert!(
                candidates.iter().any(|c| c.as_str() == id),
                "{name}: {src} -> {dst}: {id} not among {candidates:?}"
            );
            matched.insert((src.to_owned(), dst.to_owned(), proto, sport));
        }
    }
    assert!(matched.len() >= 10, "only {} flows checked", matched.len());
}

#[test]
fn public_vlan_capture_keeps_its_vlan() {
    let out = replay(&fixture("public/ndpi/mqtt.pcap"), &[]);
    let events = lines(&out.stdout);
    assert!(
        of_type(&events, "device")
            .iter()
            .any(|e| e["vlan"] == serde_json::json!([1008])),
        "nDPI's MQTT flow is on VLAN 1008"
    );
}

#[test]
fn devices_are_named_by_their_mac_vendor() {
    // The infusion pump in Tapirx's capture has an ICU Medical address.
    let out = replay(&fixture("public/tapirx/HL7-ADT-UDI-PRT.pcap"), &[]);
    let events = lines(&out.stdout);
    let pump = of_type(&events, "device")
        .into_iter()
        .find(|e| e["device"]["mac"] == "00:03:b1:b5:b6:48")
        .expect("the pump is a device");
    assert_eq!(pump["device"]["vendor"], "ICU Medical, Inc.");
    assert_eq!(pump["device"]["identified_by"], "mac");
}
