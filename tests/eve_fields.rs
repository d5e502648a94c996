//! The fields a SIEM stores and pivots on without parsing an event further:
//! `host`, `event_id`, `flow_id`, `pcap_cnt`, and Suricata's `alert` fields.
//! Each is checked against something the code does not produce itself: the
//! packet `pcap_cnt` names is read back from the capture, the id is
//! recomputed from the line, the flow's id is compared with its Community ID.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a test fails by panicking"
)]

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::path::Path;

use common::{fixture, lines, replay_ok};
use etherparse::SlicedPacket;
use serde_json::Value;

/// The ward, learned for two seconds so alerts of every timing come out.
fn ward_events(extra: &[&str]) -> (Vec<u8>, Vec<Value>) {
    let mut args = vec!["--log-protocols", "--learn", "2s", "-q"];
    args.extend_from_slice(extra);
    let out = replay_ok(&fixture("ward.pcapng"), &args);
    let events = lines(&out.stdout);
    (out.stdout, events)
}

/// The addresses of every packet of `capture`, by packet number from 1.
fn packet_addresses(capture: &Path) -> Vec<Option<(IpAddr, IpAddr)>> {
    let mut cap = pcap::Capture::from_file(capture).expect("opens");
    let mut out = Vec::new();
    while let Ok(packet) = cap.next_packet() {
        let ips = SlicedPacket::from_ethernet(packet.data)
            .ok()
            .and_then(|p| common::capture::addresses(&p));
        out.push(ips);
    }
    out
}

#[test]
fn every_event_names_the_sensor_given_or_the_host_name() {
    let (_, events) = ward_events(&["--sensor-name", "icu-span-1"]);
    assert!(events.len() > 50);
    assert!(events.iter().all(|e| e["host"] == "icu-span-1"));

    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("host name");
    let (_, events) = ward_events(&[]);
    assert!(events.iter().all(|e| e["host"] == hostname.trim()));

    let out = common::run(&["-r", "fixtures/ward.pcapng", "--sensor-name", "two words"]);
    assert_eq!(out.status.code(), Some(2), "a usage error");
    assert!(String::from_utf8_lossy(&out.stderr).contains("printable ASCII"));
}

#[test]
fn event_id_is_the_digest_of_the_event_without_it_and_the_same_in_every_run() {
    let (stdout, events) = ward_events(&["--sensor-name", "s1"]);
    let mut ids = BTreeSet::new();
    for line in stdout.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let text = std::str::from_utf8(line).expect("UTF-8");
        let value: Value = serde_json::from_str(text).expect("JSON");
        let id = value["event_id"].as_str().expect("every event has an id");
        assert_eq!(id.len(), 32);
        let mut without = text.replacen(&format!("\"event_id\":\"{id}\","), "", 1);
        if let Some(name) = value["pcap_filename"].as_str() {
            let field = format!(",\"pcap_filename\":{}}}", Value::from(name));
            assert!(without.ends_with(&field), "pcap_filename comes last");
            without = without.replace(&field, "}");
        }
        let digest = blake3::hash(without.as_bytes());
        let expected: String = digest.as_bytes()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(id, expected, "{text}");
        ids.insert(id.to_owned());
    }
    assert_eq!(ids.len(), events.len(), "distinct events have distinct ids");

    let (again, _) = ward_events(&["--sensor-name", "s1"]);
    assert_eq!(stdout, again, "a replay gives the same bytes, ids included");
    let (other, _) = ward_events(&["--sensor-name", "s2"]);
    let other_ids: BTreeSet<String> = lines(&other)
        .iter()
        .map(|e| e["event_id"].as_str().expect("id").to_owned())
        .collect();
    assert!(ids.is_disjoint(&other_ids), "another sensor, other ids");
}

#[test]
fn flow_id_follows_the_community_id() {
    let (_, events) = ward_events(&[]);
    let mut by_community: HashMap<String, BTreeSet<u64>> = HashMap::new();
    let mut kinds: HashMap<u64, BTreeSet<String>> = HashMap::new();
    for event in &events {
        match (event["community_id"].as_str(), event["flow_id"].as_u64()) {
            (Some(community), Some(flow_id)) => {
                assert!(flow_id < 1 << 53);
                by_community
                    .entry(community.to_owned())
                    .or_default()
                    .insert(flow_id);
                kinds
                    .entry(flow_id)
                    .or_default()
                    .insert(event["event_type"].as_str().unwrap_or_default().to_owned());
            }
            (None, None) => {}
            _ => panic!("flow_id comes with the flow fields: {event}"),
        }
    }
    assert!(by_community.len() > 10);
    assert!(
        by_community.values().all(|ids| ids.len() == 1),
        "one id per flow (the ward is untagged)"
    );
    let distinct: BTreeSet<u64> = by_community.values().flatten().copied().collect();
    assert_eq!(distinct.len(), by_community.len(), "one flow per id");
    assert!(
        kinds
            .values()
            .any(|k| k.contains("dicom") && k.contains("alert")),
        "an alert and the protocol record of its connection share the id: {kinds:?}"
    );

    // A tagged flow has its id too (the VLAN mixed in: unit-tested).
    let vlan = replay_ok(&fixture("vlan.pcap"), &["-q"]);
    assert!(
        lines(&vlan.stdout)
            .iter()
            .any(|e| e["vlan"].is_array() && e["flow_id"].is_u64())
    );
}

#[test]
fn pcap_cnt_names_the_packet_that_caused_the_event() {
    let capture = fixture("ward.pcapng");
    let packets = packet_addresses(&capture);
    let (_, events) = ward_events(&[]);
    let mut checked = BTreeMap::<String, usize>::new();
    for event in &events {
        let Some(count) = event["pcap_cnt"].as_u64() else {
            assert!(event.get("pcap_filename").is_none(), "{event}");
            continue;
        };
        assert!(event["pcap_filename"].is_string(), "{event}");
        let packet = packets
            .get(count as usize - 1)
            .unwrap_or_else(|| panic!("no packet {count}"));
        let (Some(src), Some(dst)) = (event["src_ip"].as_str(), event["dest_ip"].as_str()) else {
            continue;
        };
        let pair: (IpAddr, IpAddr) = (src.parse().expect("ip"), dst.parse().expect("ip"));
        let (a, b) = packet.unwrap_or_else(|| panic!("packet {count} is IP: {event}"));
        assert!(
            (a, b) == pair || (b, a) == pair,
            "packet {count} is {a} -> {b}, the event says {src} -> {dst}"
        );
        *checked
            .entry(event["event_type"].as_str().unwrap_or_default().to_owned())
            .or_default() += 1;
    }
    for kind in ["device", "alert", "dicom", "hl7", "mqtt"] {
        assert!(
            checked.get(kind).is_some_and(|n| *n > 0),
            "{kind}: {checked:?}"
        );
    }
    // Events no single packet caused carry neither.
    for event in common::of_type(&events, "stats") {
        assert!(event.get("pcap_cnt").is_none());
    }
}

#[test]
fn alerts_carry_suricatas_fields() {
    let (_, events) = ward_events(&[]);
    let alerts = common::of_type(&events, "alert");
    assert!(!alerts.is_empty());
    let mut sids = HashMap::new();
    for alert in alerts {
        let a = &alert["alert"];
        assert_eq!(a["action"], "allowed");
        let severity = a["severity"].as_u64().expect("integer severity");
        let word = a["severity_name"].as_str().expect("severity word");
        let expected = match word {
            "high" => 1,
            "medium" => 2,
            "low" => 3,
            "info" => 4,
            other => panic!("severity {other}"),
        };
        assert_eq!(severity, expected);
        assert!(
            a["signature"]
                .as_str()
                .is_some_and(|s| s.starts_with("MEDTAP "))
        );
        assert!(a["category"].as_str().is_some_and(|c| !c.is_empty()));
        let sid = a["signature_id"].as_u64().expect("signature id");
        let kind = a["kind"].as_str().expect("kind").to_owned();
        assert_eq!(*sids.entry(kind).or_insert(sid), sid, "one id per kind");
    }
}

#[test]
fn a_storage_association_is_summarised_and_whole_with_full_records() {
    let dicom = |extra: &[&str]| -> Vec<(usize, Value)> {
        let mut args = vec!["--log-protocols", "-q"];
        args.extend_from_slice(extra);
        let out = replay_ok(&fixture("ward.pcapng"), &args);
        out.stdout
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| (l.len(), serde_json::from_slice::<Value>(l).expect("JSON")))
            .filter(|(_, e)| e["event_type"] == "dicom")
            .collect()
    };
    let full = dicom(&["--full-records"]);
    let summary = dicom(&[]);
    assert_eq!(full.len(), summary.len());
    let mut big = 0;
    for ((full_len, whole), (len, short)) in full.iter().zip(&summary) {
        assert!(*len < 4096, "{len} bytes: {short}");
        let contexts = whole["dicom"]["presentation_contexts"]
            .as_array()
            .expect("list");
        let counts = &short["dicom"]["context_counts"];
        assert_eq!(counts["proposed"], contexts.len());
        let accepted = contexts
            .iter()
            .filter(|c| c["result"] == "acceptance")
            .count();
        assert_eq!(counts["accepted"], accepted);
        let listed = short["dicom"]["presentation_contexts"]
            .as_array()
            .expect("list");
        assert_eq!(counts["listed"], listed.len());
        assert!(listed.len() <= 8);
        // The contexts the association's messages used come first, whole.
        for op in short["dicom"]["operations"]["first"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let id = &op["presentation_context_id"];
            let used = listed
                .iter()
                .find(|c| c["id"] == *id)
                .expect("used context listed");
            assert!(used["sop_class_name"].is_string());
            assert!(used["accepted_transfer_syntax"].is_string());
        }
        // Nothing else differs.
        let strip = |e: &Value| {
            let mut e = e.clone();
            let d = e["dicom"].as_object_mut().expect("dicom");
            d.remove("presentation_contexts");
            d.remove("context_counts");
            e.as_object_mut().expect("event").remove("event_id");
            e
        };
        assert_eq!(strip(whole), strip(short));
        if *full_len > 8192 {
            big += 1;
            assert!(contexts.len() > 100, "a storage SCU proposes every class");
        }
    }
    assert!(big > 0, "the ward's storescu association is the long one");
}
