//! medtap's decoder counters against tshark's ground truth on the project's
//! own captures (`fixtures/make.sh`): every link type, VLAN tags, fragments,
//! offloaded checksums and super-frames. `fixtures/expected.json` is written by
//! `fixtures/tools/expected.py` from tshark's dissection, never from medtap;
//! its counting rules are in `fixtures/README.md`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a test fails by panicking"
)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;
use serde_json::{Value, json};

/// Counters that `expected.json` and `stats.decoder` share, by the same name.
const DECODER_COUNTERS: [&str; 13] = [
    "ipv4",
    "ipv6",
    "tcp",
    "udp",
    "sctp",
    "icmp",
    "other_ip",
    "vlan",
    "vlan_qinq",
    "ipv4_fragments",
    "ipv6_fragments",
    "arp",
    "other_ethertype",
];

/// The captures `fixtures/make.sh` makes, each with its tshark ground truth.
fn ground_truth() -> BTreeMap<String, Value> {
    let text = std::fs::read_to_string(fixture("expected.json")).expect("expected.json");
    let doc: Value = serde_json::from_str(&text).expect("expected.json is JSON");
    let entries: BTreeMap<String, Value> = doc
        .as_object()
        .expect("an object")
        .iter()
        .filter(|(name, _)| !name.starts_with('_'))
        .map(|(name, entry)| (name.clone(), entry.clone()))
        .collect();
    assert!(entries.len() >= 11, "only {} captures", entries.len());
    entries
}

fn truth<'a>(all: &'a BTreeMap<String, Value>, name: &str) -> &'a Value {
    all.get(name)
        .unwrap_or_else(|| panic!("{name} is not in expected.json"))
}

fn count(entry: &Value, key: &str) -> u64 {
    entry[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} missing in {entry}"))
}

/// Replays `name` from fixtures/ and returns its events; the replay must succeed.
fn replay(name: &str, extra: &[&str]) -> Vec<Value> {
    let path = fixture(name);
    let out = medtap()
        .arg("-r")
        .arg(&path)
        .args(extra)
        .output()
        .expect("medtap runs");
    assert!(
        out.status.success(),
        "{name} {extra:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    lines(&out.stdout)
}

fn stats_of(events: &[Value]) -> Value {
    final_stats(events)["stats"].clone()
}

#[test]
fn decoder_counters_match_tshark_on_every_capture() {
    let mut mismatches = Vec::new();
    for (name, expected) in ground_truth() {
        let stats = stats_of(&replay(&name, &[]));
        let capture = &stats["capture"];
        let decoder = &stats["decoder"];
        for (what, got, want) in [
            ("packets", &capture["packets"], &expected["packets"]),
            ("bytes", &capture["bytes"], &expected["bytes"]),
        ] {
            if got != want {
                mismatches.push(format!("{name}: {what}: tshark {want}, medtap {got}"));
            }
        }
        for key in DECODER_COUNTERS {
            if decoder[key] != expected[key] {
                mismatches.push(format!(
                    "{name}: {key}: tshark {}, medtap {}",
                    expected[key], decoder[key]
                ));
            }
        }
        if decoder["invalid"] != 0 || decoder["invalid_by_reason"] != json!({}) {
            mismatches.push(format!(
                "{name}: invalid {} {}",
                decoder["invalid"], decoder["invalid_by_reason"]
            ));
        }
    }
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

#[test]
fn checksum_verification_flags_what_tshark_flags() {
    // With --verify-checksums a frame with a bad checksum is counted under its
    // reason instead of being decoded. The captures taken with offloads off
    // have none (a control); offload.pcap has many.
    let mut mismatches = Vec::new();
    for (name, expected) in ground_truth() {
        let stats = stats_of(&replay(&name, &["--verify-checksums"]));
        let decoder = &stats["decoder"];
        let bad = &expected["bad_checksums"];
        let total: u64 = bad
            .as_object()
            .expect("bad_checksums")
            .values()
            .filter_map(Value::as_u64)
            .sum();
        if &decoder["invalid_by_reason"] != bad || decoder["invalid"].as_u64() != Some(total) {
            mismatches.push(format!(
                "{name}: tshark {bad}, medtap {} ({})",
                decoder["invalid_by_reason"], decoder["invalid"]
            ));
        }
        if stats["capture"]["packets"] != expected["packets"] {
            mismatches.push(format!("{name}: packets differ with --verify-checksums"));
        }
    }
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

#[test]
fn the_captures_cover_what_they_are_for() {
    // Guards the fixtures themselves: a regenerated capture that lost its
    // point (no tags, no fragments, no super-frames) fails here.
    let all = ground_truth();
    let linktypes: Vec<u64> = all.values().map(|e| count(e, "linktype")).collect();
    for dlt in [1, 113, 276, 101, 0, 108] {
        assert!(linktypes.contains(&dlt), "no capture of LINKTYPE {dlt}");
    }
    let ethernet = truth(&all, "ethernet.pcap");
    for key in ["ipv4", "ipv6", "tcp", "udp", "icmp", "arp"] {
        assert!(count(ethernet, key) > 0, "ethernet.pcap has no {key}");
    }
    for name in ["vlan.pcap", "qinq.pcap"] {
        let e = truth(&all, name);
        assert_eq!(
            count(e, "vlan"),
            count(e, "packets"),
            "{name}: every frame tagged"
        );
    }
    let qinq = truth(&all, "qinq.pcap");
    assert_eq!(count(qinq, "vlan_qinq"), count(qinq, "packets"));
    let fragments = truth(&all, "fragments.pcap");
    assert!(count(fragments, "ipv4_fragments") > 0 && count(fragments, "ipv6_fragments") > 0);
    let offload = truth(&all, "offload.pcap");
    assert!(count(offload, "oversize_frames") > 0);
    assert!(offload["bad_checksums"]["tcp.bad_checksum"].as_u64() > Some(0));
    for name in ["null.pcap", "loop.pcap"] {
        // The Ethernet capture's IP packets, re-framed byte for byte.
        let e = truth(&all, name);
        assert_eq!(
            count(e, "packets"),
            count(ethernet, "ipv4") + count(ethernet, "ipv6"),
            "{name}"
        );
        for key in ["ipv4", "ipv6", "tcp", "udp", "icmp"] {
            assert_eq!(count(e, key), count(ethernet, key), "{name}: {key}");
        }
    }
}

#[test]
fn device_events_carry_the_captures_vlan_tags() {
    let all = ground_truth();
    for (name, stack) in [("vlan.pcap", vec![100]), ("qinq.pcap", vec![200, 100])] {
        let stacks = &truth(&all, name)["vlan_stacks"];
        assert_eq!(stacks, &json!([stack]), "{name}: tshark's tag stack");
        let events = replay(name, &[]);
        let devices = of_type(&events, "device");
        // A device event when a device appears, and again when it learns
        // something (here its SYN's p0f signature).
        let ids: std::collections::BTreeSet<&str> = devices
            .iter()
            .filter_map(|e| e["device"]["id"].as_str())
            .collect();
        assert_eq!(ids.len(), 2, "{name}: both ends of the link");
        let mut with_flow = 0;
        for event in &devices {
            // A flow's `vlan`: every tag, outermost first.
            if !event["vlan"].is_null() {
                assert_eq!(event["vlan"], json!(stack), "{name}: {event}");
                with_flow += 1;
            }
            // `device.vlans`: the VLANs the device was seen on, which medtap
            // keys by the outermost tag (docs/events.md).
            assert_eq!(
                event["device"]["vlans"],
                json!([stack[0]]),
                "{name}: {event}"
            );
        }
        // make.sh gives one end a static ARP entry, so its first frame is IP.
        assert!(with_flow >= 1, "{name}: no device event from a flow");
    }
    for (name, expected) in &all {
        if count(expected, "vlan") == 0 {
            for event in of_type(&replay(name, &[]), "device") {
                assert!(
                    event["vlan"].is_null() && event["device"]["vlans"].is_null(),
                    "{name}: untagged capture, tagged event {event}"
                );
            }
        }
    }
}

/// Original (wire) lengths of the records of a little-endian classic pcap.
fn wire_lengths(path: &Path) -> Vec<u32> {
    let data = std::fs::read(path).expect("read");
    assert_eq!(&data[..4], &[0xd4, 0xc3, 0xb2, 0xa1], "little-endian pcap");
    let mut lengths = Vec::new();
    let mut at = 24;
    while at + 16 <= data.len() {
        let field =
            |i: usize| u32::from_le_bytes(data[at + i..at + i + 4].try_into().expect("4 bytes"));
        let (incl, orig) = (field(8), field(12));
        lengths.push(orig);
        at += 16 + incl as usize;
    }
    lengths
}

#[test]
fn offload_super_frames_and_bad_checksums_are_counted_not_dropped() {
    let all = ground_truth();
    let expected = truth(&all, "offload.pcap");
    let lengths = wire_lengths(&fixture("offload.pcap"));
    let oversize = lengths.iter().filter(|l| **l > 1514).count() as u64;
    assert_eq!(oversize, count(expected, "oversize_frames"));
    assert!(
        lengths.iter().any(|l| *l > 9000),
        "GRO/TSO frames beyond jumbo size"
    );
    let bad_tcp = expected["bad_checksums"]["tcp.bad_checksum"]
        .as_u64()
        .expect("bad TCP checksums");
    let bad_udp = expected["bad_checksums"]["udp.bad_checksum"]
        .as_u64()
        .unwrap_or(0);

    // By default (as Suricata -k none, Zeek -C) every frame decodes.
    let stats = stats_of(&replay("offload.pcap", &[]));
    assert_eq!(
        stats["capture"]["packets"].as_u64(),
        Some(lengths.len() as u64)
    );
    assert_eq!(stats["decoder"]["tcp"], expected["tcp"]);
    assert_eq!(stats["decoder"]["udp"], expected["udp"]);
    assert_eq!(stats["decoder"]["invalid"], 0);
    assert_eq!(
        stats["capture"]["bytes"].as_u64(),
        Some(lengths.iter().map(|l| u64::from(*l)).sum::<u64>())
    );

    // With --verify-checksums the same frames are still counted, as invalid
    // by reason, and are no longer decoded as TCP/UDP.
    let stats = stats_of(&replay("offload.pcap", &["--verify-checksums"]));
    let decoder = &stats["decoder"];
    assert_eq!(
        stats["capture"]["packets"].as_u64(),
        Some(lengths.len() as u64)
    );
    assert_eq!(
        decoder["invalid_by_reason"]["tcp.bad_checksum"].as_u64(),
        Some(bad_tcp)
    );
    if bad_udp > 0 {
        assert_eq!(
            decoder["invalid_by_reason"]["udp.bad_checksum"].as_u64(),
            Some(bad_udp)
        );
    }
    assert_eq!(decoder["invalid"].as_u64(), Some(bad_tcp + bad_udp));
    assert_eq!(
        decoder["tcp"].as_u64(),
        Some(count(expected, "tcp") - bad_tcp)
    );
    assert_eq!(
        decoder["udp"].as_u64(),
        Some(count(expected, "udp") - bad_udp)
    );
}
