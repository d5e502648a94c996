//! The scenario captures (fixtures/scenarios/): a normal phase recorded from
//! real clients and servers, then one departure per detector. Each must
//! raise its alert on the right device and peer within a minute of the
//! departure, and nothing else the manifest does not allow; the benign
//! captures must raise nothing once learned.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a test fails by panicking"
)]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::{assert_valid_events, medtap, root, timestamp_micros};
use serde_json::Value;

const MINUTE: i64 = 60_000_000;

struct Scenario {
    file: PathBuf,
    learn: String,
    /// None for a benign capture: nothing may fire once learned.
    departure_offset: Option<i64>,
    expect: Vec<Value>,
    also_allowed: BTreeSet<String>,
}

fn scenarios() -> Vec<Scenario> {
    let manifest = root().join("fixtures/scenarios/scenarios.json");
    let text = std::fs::read_to_string(&manifest).expect("scenarios.json");
    let list: Vec<Value> = serde_json::from_str(&text).expect("JSON");
    assert!(list.len() >= 20, "{} scenarios", list.len());
    list.into_iter()
        .map(|s| Scenario {
            file: root().join(s["file"].as_str().expect("file")),
            learn: s["learn"].as_str().expect("learn").to_owned(),
            departure_offset: s["departure_offset_secs"].as_i64().map(|o| o * 1_000_000),
            expect: s["expect"].as_array().expect("expect").clone(),
            also_allowed: s["also_allowed"]
                .as_array()
                .expect("also_allowed")
                .iter()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect(),
        })
        .collect()
}

/// Packet time of a capture's first packet, in microseconds.
fn first_packet(path: &Path) -> i64 {
    let mut capture = pcap::Capture::from_file(path).expect("opens");
    let packet = capture.next_packet().expect("a first packet");
    packet.header.ts.tv_sec * 1_000_000 + packet.header.ts.tv_usec
}

fn run(paths: &[&Path], extra: &[&str]) -> Vec<Value> {
    let mut cmd = medtap();
    for p in paths {
        cmd.arg("-r").arg(p);
    }
    let out = cmd.args(extra).output().expect("medtap runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect()
}

/// First occurrences only: follow-ups carry `alert.repeats`.
fn first_alerts(events: &[Value]) -> Vec<&Value> {
    events
        .iter()
        .filter(|e| e["event_type"] == "alert" && e["alert"]["repeats"].is_null())
        .collect()
}

fn describe(a: &Value) -> String {
    format!(
        "{} {} {} peer {} ({})",
        a["timestamp"],
        a["alert"]["kind"],
        a["device"]["id"],
        a["peer"]["ip"],
        a["alert"]["message"]
    )
}

#[test]
fn every_detector_fires_on_its_scenario_and_nothing_unexplained_fires() {
    let mut failures = Vec::new();
    for s in scenarios() {
        let name = s
            .file
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let events = run(&[&s.file], &["--learn", &s.learn, "--workers", "2"]);
        // Every alert kind, with its evidence and baseline, as the schema
        // pins them.
        assert_valid_events(&events);
        let start = first_packet(&s.file);
        let learned = start + 10 * MINUTE;
        let departure = s.departure_offset.map_or(i64::MAX, |offset| start + offset);
        let alerts = first_alerts(&events);
        // Expected: the right kind, device and peer, within a minute.
        for e in &s.expect {
            let found = alerts.iter().any(|a| {
                let ts = timestamp_micros(&a["timestamp"]);
                a["alert"]["kind"] == e["kind"]
                    && a["device"]["id"] == e["device"]
                    && (e["peer"].is_null() || a["peer"]["ip"] == e["peer"])
                    && (departure..=departure.saturating_add(MINUTE)).contains(&ts)
            });
            if !found {
                failures.push(format!(
                    "{name}: no {} on {} (peer {}) within a minute of the departure; got {:#?}",
                    e["kind"],
                    e["device"],
                    e["peer"],
                    alerts.iter().map(|a| describe(a)).collect::<Vec<_>>()
                ));
            }
        }
        for a in &alerts {
            let ts = timestamp_micros(&a["timestamp"]);
            let kind = a["alert"]["kind"].as_str().unwrap_or("");
            if ts < learned {
                // While learning only the posture finding is written.
                if kind != "cleartext_clinical_protocol" {
                    failures.push(format!("{name}: while learning: {}", describe(a)));
                }
                continue;
            }
            if ts < departure {
                failures.push(format!("{name}: normal traffic alerted: {}", describe(a)));
                continue;
            }
            let expected_kind = s.expect.iter().any(|e| e["kind"] == kind);
            // The other end of an expected departure may see it too: the
            // server of a new peer, the broker of a volume spike.
            let mirror = s.expect.iter().any(|e| {
                e["kind"] == kind
                    && (a["peer"]["device_id"] == e["device"]
                        || e["peer"].as_str().is_some_and(|p| {
                            a["device"]["ips"]
                                .as_array()
                                .is_some_and(|ips| ips.iter().any(|ip| ip == p))
                        }))
            });
            let on_expected_device = s.expect.iter().any(|e| e["device"] == a["device"]["id"]);
            if !(expected_kind && (on_expected_device || mirror)) && !s.also_allowed.contains(kind)
            {
                failures.push(format!("{name}: unexplained: {}", describe(a)));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn scenario_alerts_are_the_same_for_any_worker_count() {
    let all = scenarios();
    let paths: Vec<&Path> = all.iter().map(|s| s.file.as_path()).collect();
    let one = run(&paths, &["--learn", "10m", "--workers", "1"]);
    let four = run(&paths, &["--learn", "10m", "--workers", "4"]);
    assert!(first_alerts(&one).len() >= 20);
    assert_eq!(one, four);
}

/// Writes the packets of `capture` before (`before` true) or from `cut` on.
fn split(capture: &Path, cut: i64, before: bool, out: &Path) {
    let mut input = pcap::Capture::from_file(capture).expect("opens");
    let mut output = pcap::Capture::dead(input.get_datalink())
        .expect("dead capture")
        .savefile(out)
        .expect("savefile");
    while let Ok(packet) = input.next_packet() {
        let ts = packet.header.ts.tv_sec * 1_000_000 + packet.header.ts.tv_usec;
        if (ts < cut) == before {
            output.write(&packet);
        }
    }
    output.flush().expect("flush");
}

/// (timestamp, kind, device, subject) of first occurrences.
fn keys(events: &[Value]) -> Vec<(String, String, String, String)> {
    first_alerts(events)
        .into_iter()
        .map(|a| {
            (
                a["timestamp"].as_str().unwrap_or("").to_owned(),
                a["alert"]["kind"].as_str().unwrap_or("").to_owned(),
                a["device"]["id"].as_str().unwrap_or("").to_owned(),
                a["alert"]["subject"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_run_split_in_two_through_the_state_file_alerts_as_one_long_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in [
        "volume_spike",
        "hl7_nak_burst",
        "identity_changed_mqtt",
        "new_device",
    ] {
        let capture = root().join(format!("fixtures/scenarios/{name}.pcapng"));
        let whole = run(&[&capture], &["--learn", "10m"]);
        // Cut after learning, before the departure.
        let cut = first_packet(&capture) + 12 * MINUTE + 30_000_000;
        let (first, second) = (
            dir.path().join("first.pcap"),
            dir.path().join("second.pcap"),
        );
        split(&capture, cut, true, &first);
        split(&capture, cut, false, &second);
        let state = dir.path().join(format!("{name}.json"));
        let state_arg = state.to_str().expect("utf-8");
        let mut halves = run(&[&first], &["--learn", "10m", "--state", state_arg]);
        halves.extend(run(&[&second], &["--learn", "10m", "--state", state_arg]));
        let (whole, halves) = (keys(&whole), keys(&halves));
        assert!(!whole.is_empty(), "{name}");
        assert_eq!(whole, halves, "{name}");
    }
}

/// The forensics workflow: a baseline learned from one clean capture
/// (`--learn all --state`), then each incident replayed against a copy of
/// it. The departures are found, and the incidents' normal traffic, known
/// from the other capture, raises nothing.
#[test]
fn incidents_replayed_against_a_baseline_learned_elsewhere_show_their_departures() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = dir.path().join("base.json");
    let benign = root().join("fixtures/scenarios/benign_ward.pcapng");
    let learned = run(
        &[&benign],
        &["--learn", "all", "--state", base.to_str().expect("utf-8")],
    );
    assert!(first_alerts(&learned).is_empty());
    let mut failures = Vec::new();
    for s in scenarios() {
        let Some(offset) = s.departure_offset else {
            continue;
        };
        let name = s
            .file
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let state = dir.path().join("incident.json");
        std::fs::copy(&base, &state).expect("copy");
        let events = run(&[&s.file], &["--state", state.to_str().expect("utf-8")]);
        let departure = first_packet(&s.file) + offset;
        let alerts = first_alerts(&events);
        // The volume scenario's normal phase is its own (jumbo-frame
        // telemetry on a topic the benign ward never uses): only its
        // departure is checked.
        let own_normal = name == "volume_spike.pcapng";
        for a in alerts.iter().filter(|_| !own_normal) {
            if timestamp_micros(&a["timestamp"]) < departure {
                failures.push(format!("{name}: before the departure: {}", describe(a)));
            }
        }
        for e in &s.expect {
            let found = alerts.iter().any(|a| {
                let ts = timestamp_micros(&a["timestamp"]);
                a["alert"]["kind"] == e["kind"]
                    && a["device"]["id"] == e["device"]
                    && (departure..=departure + MINUTE).contains(&ts)
            });
            if !found {
                failures.push(format!("{name}: no {} on {}", e["kind"], e["device"]));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
