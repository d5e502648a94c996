//! Connections that never end (fixtures/longlived/): real mosquitto, Paho
//! 3.1.1 and 5.0, python-hl7 and pynetdicom clients hold one connection
//! each for the whole capture, and depart from what they did on those same
//! connections after the learning window. In `open.pcapng` every connection
//! is still open when the capture stops, as a live sensor sees them; in
//! `closed.pcapng` the clients disconnect at the end.
//!
//! The ground truth is the manifest, read from the captures with tshark
//! (fixtures/longlived/manifest.py), never from medtap's output: when each
//! client connected and when each departure's first packet was.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a test fails by panicking"
)]

mod common;

use std::collections::BTreeSet;

use common::{assert_valid_events, fixture, medtap, timestamp_micros};
use serde_json::Value;

const SECOND: i64 = 1_000_000;
/// How soon after its packet a client must be identified, and a departure
/// alerted.
const PROMPT: i64 = 5 * SECOND;
/// How soon after its start a burst must be alerted.
const BURST_PROMPT: i64 = 10 * SECOND;

fn manifest() -> Value {
    let text = std::fs::read_to_string(fixture("longlived/manifest.json")).expect("manifest");
    serde_json::from_str(&text).expect("JSON")
}

fn capture(name: &str) -> Value {
    manifest()["captures"]
        .as_array()
        .expect("captures")
        .iter()
        .find(|c| c["file"] == name)
        .unwrap_or_else(|| panic!("{name} in the manifest"))
        .clone()
}

/// Epoch seconds (as tshark gives them) to microseconds.
fn epoch(v: &Value) -> i64 {
    (v.as_f64().expect("a time") * 1e6).round() as i64
}

fn run(name: &str, extra: &[&str]) -> (Vec<u8>, Vec<Value>) {
    let path = fixture(&format!("longlived/{name}"));
    let learn = capture(name)["learn"].as_str().expect("learn").to_owned();
    let out = medtap()
        .arg("-r")
        .arg(&path)
        .args(["--learn", &learn])
        .args(extra)
        .output()
        .expect("medtap runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_valid_events(&events);
    (out.stdout, events)
}

fn device_id(mac: &Value) -> String {
    format!("mac:{}", mac.as_str().expect("mac"))
}

fn alerts(events: &[Value]) -> Vec<&Value> {
    events
        .iter()
        .filter(|e| e["event_type"] == "alert" && e["alert"]["repeats"].is_null())
        .collect()
}

fn describe(a: &Value) -> String {
    format!(
        "{} {} {} {:?}",
        a["timestamp"], a["alert"]["kind"], a["device"]["id"], a["alert"]["subject"]
    )
}

/// Each client is identified by its own protocol within [`PROMPT`] of the
/// packet that connected it, however long the connection goes on.
fn check_identified(name: &str, events: &[Value]) {
    for client in capture(name)["clients"].as_array().expect("clients") {
        let id = device_id(&client["mac"]);
        let (fact, value) = match client["protocol"].as_str() {
            Some("mqtt") => (("mqtt", "client_id"), &client["client_id"]),
            Some("hl7") => (
                ("hl7", "sending_application"),
                &client["sending_application"],
            ),
            Some("dicom") => (("dicom", "ae_title"), &client["calling_ae"]),
            other => panic!("protocol {other:?}"),
        };
        let connected = epoch(&client["connected"]);
        let identified = events.iter().find(|e| {
            e["event_type"] == "device"
                && e["device"]["id"] == id.as_str()
                && e["device"]["identity"][fact.0][fact.1]
                    .as_array()
                    .is_some_and(|values| values.contains(value))
        });
        let Some(identified) = identified else {
            panic!("{name}: {} never identified as {value}", client["name"]);
        };
        let delay = timestamp_micros(&identified["timestamp"]) - connected;
        assert!(
            (0..=PROMPT).contains(&delay),
            "{name}: {} identified {delay} µs after it connected",
            client["name"]
        );
    }
}

/// Each departure is alerted on its device within [`PROMPT`] of its first
/// packet ([`BURST_PROMPT`] for the burst); nothing else is alerted but
/// what needs no baseline (cleartext) and the new SOP class a C-FIND
/// necessarily uses, on either end, at the C-FIND. Returns the alerts as
/// (kind, device, subject).
fn check_departures(name: &str, events: &[Value]) -> BTreeSet<(String, String, String)> {
    let capture = capture(name);
    let departures = capture["departures"].as_array().expect("departures");
    let mut unexplained: Vec<&Value> = alerts(events)
        .into_iter()
        .filter(|a| a["alert"]["kind"] != "cleartext_clinical_protocol")
        .collect();
    for departure in departures {
        let kind = departure["expected_alert"].as_str().expect("kind");
        let id = device_id(&departure["mac"]);
        let at = epoch(&departure["at"]);
        let prompt = if kind == "rate_burst" {
            BURST_PROMPT
        } else {
            PROMPT
        };
        let found = unexplained
            .iter()
            .position(|a| a["alert"]["kind"] == kind && a["device"]["id"] == id.as_str());
        let Some(found) = found else {
            panic!(
                "{name}: no {kind} on {id} for {}; alerts: {:#?}",
                departure["what"],
                alerts(events)
                    .iter()
                    .map(|a| describe(a))
                    .collect::<Vec<_>>()
            );
        };
        let alert = unexplained.remove(found);
        let delay = timestamp_micros(&alert["timestamp"]) - at;
        assert!(
            (0..=prompt).contains(&delay),
            "{name}: {kind} on {id} {delay} µs after its first packet"
        );
        if kind == "dicom_query_from_modality" {
            unexplained.retain(|a| {
                let sop_class = a["alert"]["kind"] == "dicom_new_sop_class"
                    && (timestamp_micros(&a["timestamp"]) - at).abs() <= PROMPT;
                !sop_class
            });
        }
    }
    assert!(
        unexplained.is_empty(),
        "{name}: unexplained alerts: {:#?}",
        unexplained.iter().map(|a| describe(a)).collect::<Vec<_>>()
    );
    alerts(events)
        .iter()
        .map(|a| {
            (
                a["alert"]["kind"].as_str().unwrap_or_default().to_owned(),
                a["device"]["id"].as_str().unwrap_or_default().to_owned(),
                a["alert"]["subject"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect()
}

#[test]
fn clients_on_open_connections_are_identified_and_judged_at_the_packet() {
    let capture = capture("open.pcapng");
    assert_eq!(
        capture["open_at_end"], true,
        "the capture ends with every connection open"
    );
    let (_, events) = run("open.pcapng", &[]);
    check_identified("open.pcapng", &events);
    check_departures("open.pcapng", &events);
}

#[test]
fn the_end_of_the_connections_adds_no_alert() {
    let capture = capture("closed.pcapng");
    assert_eq!(capture["open_at_end"], false);
    let (_, events) = run("closed.pcapng", &[]);
    check_identified("closed.pcapng", &events);
    let closed = check_departures("closed.pcapng", &events);
    let (_, open) = run("open.pcapng", &[]);
    let open = check_departures("open.pcapng", &open);
    assert_eq!(closed, open, "closing the connections changed the alerts");
}

#[test]
fn the_output_is_the_same_for_any_number_of_workers() {
    let (one, _) = run("open.pcapng", &["--workers", "1"]);
    let (three, _) = run("open.pcapng", &["--workers", "3"]);
    assert!(one == three, "one worker and three disagree");
}

/// With --log-protocols, a connection open longer than --record-interval is
/// in the SIEM before it ends: an interim record each interval, marked and
/// naming what changed; the alerts do not depend on the option.
#[test]
fn long_connections_get_interim_records_and_the_alerts_do_not_change() {
    let name = "open.pcapng";
    let (_, plain) = run(name, &[]);
    let (_, logged) = run(name, &["--log-protocols", "--record-interval", "30s"]);
    let without: Vec<String> = alerts(&plain).iter().map(|a| describe(a)).collect();
    let with: Vec<String> = alerts(&logged).iter().map(|a| describe(a)).collect();
    assert_eq!(with, without);
    let capture = capture(name);
    for client in capture["clients"].as_array().expect("clients") {
        let protocol = client["protocol"].as_str().expect("protocol");
        if protocol == "hl7" {
            continue; // every HL7 message is its own record
        }
        let ip = client["ip"].as_str().expect("ip");
        let records: Vec<&Value> = logged
            .iter()
            .filter(|e| e["event_type"] == protocol && e["src_ip"] == ip)
            .collect();
        let interim: Vec<&Value> = records
            .iter()
            .copied()
            .filter(|e| e[protocol]["interim"] == true)
            .collect();
        let connected = epoch(&client["connected"]);
        let last = epoch(&capture["last_packet"]);
        // One every 30 s of a connection that lasts ~110 s: at least 3.
        assert!(
            interim.len() >= ((last - connected) / (30 * SECOND)) as usize,
            "{}: {} interim records",
            client["name"],
            interim.len()
        );
        let mut previous = connected;
        for (i, record) in interim.iter().enumerate() {
            let at = timestamp_micros(&record["timestamp"]);
            assert!(
                at - previous >= 30 * SECOND && at - previous <= 30 * SECOND + PROMPT,
                "{}: interim record {i} {} µs after the previous",
                client["name"],
                at - previous
            );
            previous = at;
            let changed = record[protocol]["changed"].as_array().expect("changed");
            assert!(
                !changed.is_empty(),
                "{}: an interim record names what changed",
                client["name"]
            );
        }
        // The connections are still open at the end: their last record is
        // the final one, unmarked.
        let final_record = records.last().expect("a final record");
        assert!(final_record[protocol]["interim"].is_null());
    }
}
