//! Helpers shared by the integration tests: run the real binary on fixtures.
#![allow(dead_code)]

pub mod capture;
pub mod redis_server;
pub mod tools;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(rel: &str) -> PathBuf {
    let path = root().join("fixtures").join(rel);
    assert!(path.exists(), "fixture {} is missing", path.display());
    path
}

pub fn medtap() -> Command {
    Command::new(env!("CARGO_BIN_EXE_medtap"))
}

/// Runs medtap with `args` and returns its output.
pub fn run(args: &[&str]) -> Output {
    medtap().args(args).output().expect("medtap runs")
}

/// Replays `capture` with `args` (any `OsStr`: paths too), checks that
/// medtap succeeded, and returns its output.
pub fn replay_ok<A: AsRef<std::ffi::OsStr>>(capture: &Path, args: &[A]) -> Output {
    let out = medtap()
        .arg("-r")
        .arg(capture)
        .args(args)
        .output()
        .expect("medtap runs");
    assert!(
        out.status.success(),
        "{}: {}",
        capture.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Every capture under `fixtures/` (not `fixtures/bad/`) and the parsers'
/// own captures under `src/proto/*/testdata/`, sorted.
pub fn all_captures() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n == "bad") {
                    continue;
                }
                walk(&path, out);
            } else if path
                .extension()
                .is_some_and(|e| e == "pcap" || e == "pcapng")
            {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&root().join("fixtures"), &mut out);
    walk(&root().join("src/proto"), &mut out);
    out.sort();
    assert!(
        out.len() >= 20,
        "expected the fixture captures, found {}",
        out.len()
    );
    out
}

/// Parses JSON lines.
pub fn lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

pub fn of_type<'a>(events: &'a [Value], event_type: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["event_type"] == event_type)
        .collect()
}

/// The JSON Schema `schema/NAME`, compiled, with `events.schema.json` known
/// to it (the inventory schema refers to it).
pub fn schema(name: &str) -> jsonschema::Validator {
    let read = |name: &str| -> Value {
        serde_json::from_str(
            &std::fs::read_to_string(root().join("schema").join(name)).expect("schema"),
        )
        .expect("schema is JSON")
    };
    let resource =
        jsonschema::Resource::from_contents(read("events.schema.json")).expect("resource");
    jsonschema::options()
        .should_validate_formats(true)
        .with_resource("https://medtap.invalid/schema/events.schema.json", resource)
        .build(&read(name))
        .expect("schema compiles")
}

/// Panics, naming each problem, unless every event conforms to
/// `schema/events.schema.json`.
pub fn assert_valid_events<'a>(events: impl IntoIterator<Item = &'a Value>) {
    let schema = schema("events.schema.json");
    for event in events {
        let errors: Vec<String> = schema
            .iter_errors(event)
            .map(|e| format!("{e} at {}", e.instance_path))
            .collect();
        assert!(errors.is_empty(), "{event}\n{errors:#?}");
    }
}

/// The last `stats` event.
pub fn final_stats(events: &[Value]) -> &Value {
    events
        .iter()
        .rev()
        .find(|e| e["event_type"] == "stats")
        .expect("a stats event")
}

/// An event's `timestamp` (`2026-11-29T14:25:19.123456Z`, as medtap writes
/// it) in microseconds since the epoch.
pub fn timestamp_micros(timestamp: &Value) -> i64 {
    let text = timestamp.as_str().unwrap_or_default();
    let n = |range: std::ops::Range<usize>| -> i64 {
        text.get(range)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad timestamp {text:?}"))
    };
    let month = time::Month::try_from(n(5..7) as u8).expect("month");
    let date = time::Date::from_calendar_date(n(0..4) as i32, month, n(8..10) as u8).expect("date");
    let days = i64::from(date.to_julian_day()) - 2_440_588; // 1970-01-01
    ((days * 24 + n(11..13)) * 60 + n(14..16)) * 60_000_000 + n(17..19) * 1_000_000 + n(20..26)
}
