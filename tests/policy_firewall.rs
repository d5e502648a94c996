//! The policy loaded into a real nftables router: `tests/policy_firewall.sh`
//! builds a ward behind a router in network namespaces, records its normal
//! traffic (dcmtk, python-hl7's `mllp_send`, mosquitto), has medtap learn it
//! and write the policy, loads the nftables rendering into the router, and
//! records the same traffic again followed by departures. Here: the normal
//! traffic still passes, the departures a firewall can see (new ports, new
//! hosts) are dropped and counted by the group's drop rule, and
//! `medtap --policy` on the recording raises `policy_violation` for exactly
//! those connections and for the one the firewall cannot see (a C-FIND on
//! the port the CT stores images on).
//!
//! Needs root (network namespaces, nft, tcpdump) and the packages
//! scripts/setup.sh installs; it fails, rather than skips, without them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a test fails by panicking"
)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::{lines, replay_ok, root};
use serde_json::Value;

/// The script's work directory, once per test process.
fn ward() -> &'static Path {
    static WARD: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = WARD.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let work = dir.path().join("ward");
        let out = Command::new("bash")
            .arg(root().join("tests/policy_firewall.sh"))
            .arg(&work)
            .env("MEDTAP", env!("CARGO_BIN_EXE_medtap"))
            .output()
            .expect("bash runs");
        assert!(
            out.status.success(),
            "policy_firewall.sh failed (needs root and scripts/setup.sh's packages):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (dir, work)
    });
    path
}

fn read(name: &str) -> String {
    std::fs::read_to_string(ward().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Each rule's packet counter, by its comment.
fn counters() -> BTreeMap<String, u64> {
    let listing: Value = serde_json::from_str(&read("counters.json")).expect("nft -j output");
    let mut found = BTreeMap::new();
    for item in listing["nftables"].as_array().expect("nftables array") {
        let rule = &item["rule"];
        let (Some(comment), Some(exprs)) = (rule["comment"].as_str(), rule["expr"].as_array())
        else {
            continue;
        };
        let packets = exprs
            .iter()
            .find_map(|e| e["counter"]["packets"].as_u64())
            .unwrap_or_else(|| panic!("no counter on the rule {comment}"));
        found.insert(comment.to_owned(), packets);
    }
    found
}

/// The alerts of a replay of `capture` against the learned state (a copy)
/// and the policy, every occurrence.
fn alerts(capture: &str) -> Vec<Value> {
    let state = ward().join(format!("{capture}.state.json"));
    std::fs::copy(ward().join("base.json"), &state).expect("state copied");
    let policy = ward().join("policy.json");
    let out = replay_ok(
        &ward().join(capture),
        &[
            OsStr::new("-q"),
            OsStr::new("--suppress"),
            OsStr::new("0"),
            OsStr::new("--state"),
            state.as_os_str(),
            OsStr::new("--policy"),
            policy.as_os_str(),
        ],
    );
    lines(&out.stdout)
        .into_iter()
        .filter(|e| e["event_type"] == "alert")
        .collect()
}

fn violations(alerts: &[Value]) -> BTreeSet<String> {
    alerts
        .iter()
        .filter(|a| a["alert"]["kind"] == "policy_violation")
        .map(|a| {
            format!(
                "{} {} {} {}",
                a["src_ip"].as_str().unwrap_or("?"),
                a["dest_ip"].as_str().unwrap_or("?"),
                a["proto"].as_str().unwrap_or("?").to_lowercase(),
                a["dest_port"]
            )
        })
        .collect()
}

#[test]
fn the_learned_traffic_passes_and_the_departures_are_dropped_and_counted() {
    // The script stops with the step's name if any normal step failed.
    let outcomes: BTreeMap<String, String> = read("outcomes.txt")
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(step, outcome)| (step.to_owned(), outcome.to_owned()))
        .collect();
    let expected: BTreeMap<String, String> = [
        // On the port the CT stores images on: the policy cannot see it.
        ("ct-c-find", "passed"),
        ("mon-new-hl7-destination", "blocked"),
        ("pump-external", "blocked"),
        ("pump-scan-22", "blocked"),
        ("pump-scan-445", "blocked"),
        ("pump-scan-80", "blocked"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_owned(), b.to_owned()))
    .collect();
    assert_eq!(outcomes, expected);

    let counters = counters();
    let count = |comment: &str| -> u64 {
        *counters
            .get(comment)
            .unwrap_or_else(|| panic!("no rule {comment:?} in {counters:#?}"))
    };
    // The watched round's normal traffic went through its accept rules
    // (counters start when the ruleset is loaded).
    let ct = "ct-ge-medical-systems-revolution-evo";
    assert!(
        count(&format!("{ct} -> pacs tcp/104")) >= 3,
        "{counters:#?}"
    );
    assert!(count("hl7-intellivue -> hl7-engine tcp/2575") >= 1);
    assert!(count("mqtt-pump -> mqtt-broker tcp/1883") >= 1);
    assert!(count("infrastructure dns udp/53") >= 3);
    // The pump's scan (3 ports) and its publish to the internet, the
    // monitor's message to another engine: dropped by their group's rule,
    // each attempt with its retransmissions.
    assert!(
        count("mqtt-pump: anything else from it") >= 4,
        "{counters:#?}"
    );
    assert!(count("hl7-intellivue: anything else from it") >= 1);
    // Nothing else was dropped.
    for (comment, packets) in &counters {
        if comment.contains("anything else")
            && !comment.starts_with("mqtt-pump: anything else from")
            && !comment.starts_with("hl7-intellivue: anything else from")
        {
            assert_eq!(*packets, 0, "{comment}");
        }
    }
}

#[test]
fn medtap_raises_policy_violation_for_exactly_the_departures() {
    let departures: BTreeSet<String> = read("departures.txt").lines().map(str::to_owned).collect();
    assert_eq!(departures.len(), 6, "{departures:?}");
    let watched = alerts("watch.pcap");
    assert_eq!(violations(&watched), departures);
    // The CT's C-FIND, on the port it may use: judged by the group's DICOM
    // requests, and by the detectors.
    let query = watched
        .iter()
        .find(|a| a["alert"]["kind"] == "policy_violation" && a["dest_port"] == 104)
        .expect("the C-FIND's violation");
    assert_eq!(query["device"]["id"], "mac:44:4b:5d:77:01:11");
    assert_eq!(query["app_proto"], "dicom");
    assert_eq!(query["evidence"]["dicom_request"], "C-FIND");
    assert_eq!(
        query["evidence"]["dicom_requests"],
        serde_json::json!(["C-ECHO", "C-STORE"])
    );
    assert!(
        watched.iter().any(|a| {
            a["alert"]["kind"] == "dicom_query_from_modality"
                && a["device"]["id"] == "mac:44:4b:5d:77:01:11"
        }),
        "{watched:#?}"
    );
    // The learning capture itself breaks nothing.
    assert_eq!(violations(&alerts("learn.pcap")), BTreeSet::new());
}
