//! Baselines, alerts and the state file, through the real binary.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a test fails by panicking"
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{all_captures, fixture, medtap};
use serde_json::Value;

fn events(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

fn alerts(out: &Output) -> Vec<Value> {
    events(out)
        .into_iter()
        .filter(|e| e["event_type"] == "alert")
        .collect()
}

fn replay(captures: &[&Path], extra: &[&str]) -> Output {
    let mut cmd = medtap();
    for c in captures {
        cmd.arg("-r").arg(c);
    }
    let out = cmd.args(extra).output().expect("medtap runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The captures whose devices speak the clinical protocols.
fn clinical_captures() -> Vec<PathBuf> {
    all_captures()
        .into_iter()
        .filter(|p| {
            let s = p.to_string_lossy();
            !s.contains("/resegmented/")
                && !s.contains("/scenarios/")
                && (s.ends_with("ward.pcapng")
                    || s.contains("/proto/")
                    || s.contains("tapirx")
                    || s.contains("mqtt"))
        })
        .collect()
}

#[test]
fn learning_from_everything_raises_no_alert_and_a_replay_against_it_raises_none() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("base.json");
    let state_arg = state.to_str().expect("utf-8");
    let captures = clinical_captures();
    assert!(captures.len() >= 5, "{captures:?}");
    let refs: Vec<&Path> = captures.iter().map(PathBuf::as_path).collect();
    let learned = replay(&refs, &["--learn", "all", "--state", state_arg]);
    assert_eq!(alerts(&learned), Vec::<Value>::new());
    let saved: Value =
        serde_json::from_slice(&std::fs::read(&state).expect("state")).expect("JSON");
    assert_eq!(saved["format"], "medtap-state");
    assert_eq!(saved["version"], 1);
    let devices = saved["devices"].as_array().expect("devices");
    assert!(devices.len() > 10, "{} devices", devices.len());
    assert!(devices.iter().all(|d| d["baseline"]["complete"] == true));
    // Nothing beside the state file: the temporary file was renamed.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("base.json")]);

    // The same traffic against its own baseline: every device, peer,
    // service and protocol fact is known, and watched, so nothing fires.
    let again = replay(&refs, &["--state", state_arg, "--learn", "1s"]);
    assert_eq!(alerts(&again), Vec::<Value>::new());
    // No device is new to the table either, nor learns anything new.
    let announced: Vec<Value> = events(&again)
        .into_iter()
        .filter(|e| e["event_type"] == "device")
        .collect();
    assert_eq!(announced, Vec::<Value>::new());
}

#[test]
fn a_short_learning_window_raises_explained_alerts_the_same_for_any_worker_count() {
    let captures = clinical_captures();
    let refs: Vec<&Path> = captures.iter().map(PathBuf::as_path).collect();
    let one = replay(&refs, &["--learn", "2s", "--workers", "1"]);
    let three = replay(&refs, &["--learn", "2s", "--workers", "3"]);
    assert_eq!(
        String::from_utf8_lossy(&one.stdout),
        String::from_utf8_lossy(&three.stdout)
    );
    let alerts = alerts(&one);
    assert!(alerts.len() > 20, "{} alerts", alerts.len());
    // Writing the protocol records too changes no alert.
    let logged = replay(&refs, &["--learn", "2s", "--log-protocols"]);
    assert_eq!(self::alerts(&logged), alerts);
    for alert in &alerts {
        let a = &alert["alert"];
        for key in ["kind", "severity_name", "message", "subject"] {
            assert!(a[key].is_string(), "alert.{key} in {alert}");
        }
        assert!(a["severity"].is_u64(), "{alert}");
        assert!(alert["device"]["id"].is_string(), "{alert}");
        assert!(!a["message"].as_str().unwrap_or("").is_empty());
        // A departure names what was learned; a first sighting or a posture
        // finding need not.
        let kind = a["kind"].as_str().unwrap_or("");
        if kind.starts_with("dicom_new") || kind.starts_with("hl7_new") || kind == "new_service" {
            let b = &alert["baseline"];
            assert!(b["since"].is_string() && b["until"].is_string(), "{alert}");
            assert!(b["observations"].as_u64().is_some(), "{alert}");
        }
        if alert["src_ip"].is_string() {
            assert!(
                alert["community_id"]
                    .as_str()
                    .is_some_and(|c| c.starts_with("1:")),
                "{alert}"
            );
        }
    }
    let stats = events(&one)
        .into_iter()
        .rev()
        .find(|e| e["event_type"] == "stats")
        .expect("final stats");
    let by_kind = stats["stats"]["alerts"]["by_kind"]
        .as_object()
        .expect("by_kind");
    let counted: u64 = by_kind.values().filter_map(Value::as_u64).sum();
    assert_eq!(counted, alerts.len() as u64);
}

fn run_with_state(state: &Path) -> Output {
    medtap()
        .arg("-r")
        .arg(fixture("ward.pcapng"))
        .arg("--state")
        .arg(state)
        .output()
        .expect("medtap runs")
}

#[test]
fn a_damaged_truncated_or_foreign_state_file_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("good.json");
    assert!(run_with_state(&good).status.success());
    let valid = std::fs::read(&good).expect("state written");
    let mut newer: Value = serde_json::from_slice(&valid).expect("JSON");
    newer["version"] = Value::from(99);
    let mut bad_binding: Value = serde_json::from_slice(&valid).expect("JSON");
    bad_binding["bindings"][0][1] = Value::from("mac:not-a-mac");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("truncated", valid[..valid.len() / 2].to_vec(), "truncated"),
        ("empty", Vec::new(), "truncated"),
        (
            "garbage",
            b"\x00\x01PK\x03\x04 not json".to_vec(),
            "not a medtap state file",
        ),
        (
            "foreign",
            br#"{"devices": [], "hello": 1}"#.to_vec(),
            "not a medtap state file",
        ),
        ("newer", newer.to_string().into_bytes(), "version 99"),
        (
            "damaged",
            bad_binding.to_string().into_bytes(),
            "bad device id",
        ),
    ];
    for (name, bytes, problem) in cases {
        let path = dir.path().join(format!("{name}.json"));
        std::fs::write(&path, &bytes).expect("write");
        let out = run_with_state(&path);
        assert_eq!(out.status.code(), Some(1), "{name}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{name}: {stderr}");
        assert!(
            stderr.contains(&path.display().to_string()) && stderr.contains(problem),
            "{name}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{name}: events were written");
        assert_eq!(std::fs::read(&path).expect("still there"), bytes, "{name}");
    }
}

#[test]
fn a_state_file_that_cannot_be_written_is_refused_before_anything_is_written() {
    let out = run_with_state(Path::new("/nonexistent-dir/state.json"));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("state file /nonexistent-dir/state.json: cannot write it"),
        "{stderr}"
    );
    // Checked at start: a long replay does not fail at its end, and
    // nothing was written.
    assert!(events(&out).is_empty());
}
