//! The memory budget under floods: what medtap evicts to stay within
//! `--memcap`, and what it keeps. The pump session of
//! `fixtures/hostile/control.pcap` (its CONNECT at 0.0 s, `SUBSCRIBE #` at
//! 4 s) is replayed with a flood merged into it between the two: a SYN
//! flood from random MACs (a new flow and a new sender each packet) and a
//! gratuitous-ARP flood (a new sender each packet), each larger than the
//! smallest budget holds.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a test fails by panicking"
)]

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

/// The smallest budget: about 14 000 flows for one worker and 6 000
/// devices (see `src/pipeline/budget.rs`).
const MEMCAP: &str = "64M";
/// Flood packets: more than the budget's flows and devices.
const FLOOD_PACKETS: u32 = 30_000;
/// The flood runs from 1 s to 3.5 s after the first packet of the control
/// capture.
const FLOOD_START_MICROS: u64 = 1_000_000;
const FLOOD_SPAN_MICROS: u64 = 2_500_000;

/// Reads a classic little-endian pcap with microsecond timestamps.
fn read_pcap(path: &Path) -> Vec<(u64, Vec<u8>)> {
    let bytes = std::fs::read(path).expect("fixture");
    assert_eq!(
        bytes.get(..4),
        Some(&[0xd4, 0xc3, 0xb2, 0xa1][..]),
        "classic pcap"
    );
    let mut packets = Vec::new();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let word = |i: usize| u32::from_le_bytes(bytes[at + i..at + i + 4].try_into().unwrap());
        let micros = u64::from(word(0)) * 1_000_000 + u64::from(word(4));
        let len = word(8) as usize;
        packets.push((micros, bytes[at + 16..at + 16 + len].to_vec()));
        at += 16 + len;
    }
    packets
}

fn write_pcap(path: &Path, packets: &[(u64, Vec<u8>)]) {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65_535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for (micros, frame) in packets {
        out.extend_from_slice(&((micros / 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&((micros % 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(frame);
    }
    std::fs::write(path, out).expect("write capture");
}

/// A unicast MAC and an address in 10.77.0.0/16, both from `i`.
fn sender(i: u32) -> ([u8; 6], [u8; 4]) {
    let b = i.to_be_bytes();
    ([0x02, 0x5a, b[0], b[1], b[2], b[3]], [10, 77, b[2], b[3]])
}

fn syn(i: u32) -> Vec<u8> {
    let (mac, ip) = sender(i);
    let builder = etherparse::PacketBuilder::ethernet2(mac, [0x00, 0x06, 0x5b, 0x20, 0x00, 0xc8])
        .ipv4(ip, [10, 20, 0, 200], 64)
        .tcp(
            1024 + (i % 60_000) as u16,
            443,
            i.wrapping_mul(2_654_435_761),
            64_240,
        )
        .syn();
    let mut frame = Vec::new();
    builder.write(&mut frame, &[]).expect("frame");
    frame
}

fn gratuitous_arp(i: u32) -> Vec<u8> {
    let (mac, ip) = sender(i);
    let mut frame = vec![0xff; 6];
    frame.extend_from_slice(&mac);
    frame.extend_from_slice(&[0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01]);
    frame.extend_from_slice(&mac);
    frame.extend_from_slice(&ip);
    frame.extend_from_slice(&[0; 6]);
    frame.extend_from_slice(&ip);
    frame
}

/// The control session with `flood` merged into it; returns the path.
fn flooded(dir: &Path, flood: fn(u32) -> Vec<u8>) -> std::path::PathBuf {
    let mut packets = read_pcap(&fixture("hostile/control.pcap"));
    let start = packets.first().map(|p| p.0).expect("packets");
    for i in 0..FLOOD_PACKETS {
        let at = start
            + FLOOD_START_MICROS
            + u64::from(i) * FLOOD_SPAN_MICROS / u64::from(FLOOD_PACKETS);
        packets.push((at, flood(i)));
    }
    packets.sort_by_key(|p| p.0);
    let path = dir.join("flooded.pcap");
    write_pcap(&path, &packets);
    path
}

fn replay(path: &Path, extra: &[&str]) -> Vec<Value> {
    let args: Vec<&str> = ["--learn", "2s", "--workers", "1"]
        .iter()
        .chain(extra)
        .copied()
        .collect();
    lines(&replay_ok(path, &args).stdout)
}

fn wildcard_alerts(events: &[Value]) -> usize {
    of_type(events, "alert")
        .into_iter()
        .filter(|a| {
            a["alert"]["kind"] == "mqtt_wildcard_subscribe"
                && a["device"]["identity"]["mqtt"]["client_id"][0] == "pump-07"
        })
        .count()
}

#[test]
fn a_syn_flood_past_the_budget_evicts_its_own_flows_not_the_clinical_connection() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = flooded(dir.path(), syn);
    let events = replay(&path, &["--memcap", MEMCAP]);
    let stats = final_stats(&events);
    let evicted = stats["stats"]["flow"]["evicted"].as_u64().expect("evicted");
    assert!(evicted > 0, "the flood did not reach the budget: {stats}");
    assert!(
        stats["stats"]["flow"]["total"].as_u64() > Some(u64::from(FLOOD_PACKETS)),
        "every flood packet's flow was tracked: {stats}"
    );
    // The pump's connection, established and parsed, outlived every
    // half-open flow: its SUBSCRIBE # is still seen.
    assert_eq!(wildcard_alerts(&events), 1);

    // With the default budget nothing is evicted.
    let events = replay(&path, &[]);
    assert_eq!(final_stats(&events)["stats"]["flow"]["evicted"], 0);
    assert_eq!(wildcard_alerts(&events), 1);
}

#[test]
fn an_arp_flood_past_the_budget_evicts_transient_devices_not_identified_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = flooded(dir.path(), gratuitous_arp);
    let inventory = dir.path().join("devices.json");
    let events = replay(
        &path,
        &[
            "--memcap",
            MEMCAP,
            "--inventory",
            inventory.to_str().expect("utf-8"),
        ],
    );
    let stats = &final_stats(&events)["stats"]["device"];
    let evicted = stats["evicted"].as_u64().expect("evicted");
    let total = stats["total"].as_u64().expect("total");
    assert!(evicted > 0, "the flood did not reach the budget: {stats}");
    assert!(total < u64::from(FLOOD_PACKETS), "{stats}");
    assert_eq!(total + evicted, u64::from(FLOOD_PACKETS) + 2, "{stats}");
    assert_eq!(stats["table_full"], 0);
    // The pump and its broker, identified by their protocol, are kept.
    let inventory: Value =
        serde_json::from_slice(&std::fs::read(&inventory).expect("inventory")).expect("json");
    let devices = inventory["devices"].as_array().expect("devices");
    let pump = devices
        .iter()
        .find(|d| d["identity"]["mqtt"]["client_id"][0] == "pump-07");
    assert!(pump.is_some(), "the pump was evicted");
    assert!(devices.iter().any(|d| {
        d["roles"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r == "mqtt_broker"))
    }));
    assert_eq!(wildcard_alerts(&events), 1);
}

#[test]
fn a_memcap_below_the_smallest_budget_is_a_usage_error() {
    let out = run(&["-r", "fixtures/hostile/control.pcap", "--memcap", "10M"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--memcap"), "{stderr}");
    assert!(out.stdout.is_empty());
}
