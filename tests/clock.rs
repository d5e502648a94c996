//! Packet time that one packet cannot move: a single packet stamped two
//! hours ahead (a broken stack, a forged timestamp) must not end every flow
//! and close every rate bin, while a real step of the clock — here the
//! second half of a capture moved two hours on — is followed.
//!
//! The captures are the ward's own packets (fixtures/ward.pcapng) rewritten
//! with their times changed, as a classic pcap file.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a test fails by panicking"
)]

mod common;

use std::path::Path;

use common::{final_stats, fixture, lines, medtap, timestamp_micros};
use serde_json::Value;

const TWO_HOURS_MICROS: i64 = 2 * 3600 * 1_000_000;

/// The ward's packets: (time in microseconds, original length, bytes).
fn ward() -> Vec<(i64, u32, Vec<u8>)> {
    let mut capture = pcap::Capture::from_file(fixture("ward.pcapng")).expect("opens");
    let mut packets = Vec::new();
    while let Ok(p) = capture.next_packet() {
        let ts = p.header.ts.tv_sec * 1_000_000 + p.header.ts.tv_usec;
        packets.push((ts, p.header.len, p.data.to_vec()));
    }
    assert!(packets.len() > 200, "the ward capture");
    packets
}

/// Writes `packets` as a classic pcap file (microsecond times, Ethernet).
fn write_pcap(path: &Path, packets: &[(i64, u32, Vec<u8>)]) {
    let mut out = Vec::new();
    out.extend(0xa1b2_c3d4u32.to_le_bytes()); // magic: microseconds
    out.extend(2u16.to_le_bytes()); // version 2.4
    out.extend(4u16.to_le_bytes());
    out.extend(0i32.to_le_bytes()); // this zone
    out.extend(0u32.to_le_bytes()); // sigfigs
    out.extend(262_144u32.to_le_bytes()); // snap length
    out.extend(1u32.to_le_bytes()); // LINKTYPE_ETHERNET
    for (ts, len, data) in packets {
        out.extend(
            u32::try_from(ts / 1_000_000)
                .expect("seconds")
                .to_le_bytes(),
        );
        out.extend(u32::try_from(ts % 1_000_000).expect("micros").to_le_bytes());
        out.extend(u32::try_from(data.len()).expect("caplen").to_le_bytes());
        out.extend(len.to_le_bytes());
        out.extend(data);
    }
    std::fs::write(path, out).expect("write the capture");
}

fn run(path: &Path) -> Vec<Value> {
    let out = medtap()
        .arg("-r")
        .arg(path)
        .args(["--log-protocols", "--learn", "2s"])
        .output()
        .expect("medtap runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    lines(&out.stdout)
}

fn records(events: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = events
        .iter()
        .filter(|e| matches!(e["event_type"].as_str(), Some("dicom" | "hl7" | "mqtt")))
        .map(|e| {
            format!(
                "{} {}",
                e["event_type"],
                e[e["event_type"].as_str().unwrap_or("")]
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn one_packet_stamped_hours_ahead_moves_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let packets = ward();
    let original = dir.path().join("ward.pcap");
    write_pcap(&original, &packets);
    // In the middle of the capture, an ARP request (a copy of the ward's
    // first) stamped two hours ahead: unrelated to any flow.
    let mut stray = packets.clone();
    let middle = stray.len() / 2;
    let arp = packets
        .iter()
        .find(|(_, _, data)| data.get(12..14) == Some(&[0x08, 0x06]))
        .expect("an ARP packet")
        .clone();
    let ts = stray[middle].0 + TWO_HOURS_MICROS;
    stray.insert(middle + 1, (ts, arp.1, arp.2));
    let strayed = dir.path().join("stray.pcap");
    write_pcap(&strayed, &stray);

    let before = run(&original);
    let after = run(&strayed);
    let (b, a) = (final_stats(&before), final_stats(&after));
    assert_eq!(a["stats"]["capture"]["clock_outliers"], 1);
    assert_eq!(a["stats"]["capture"]["clock_jumps"], 0);
    assert_eq!(b["stats"]["capture"]["clock_outliers"], 0);
    // No flow ended early, nothing was recorded differently, and the run
    // ends at the ward's own last packet time.
    assert_eq!(
        a["stats"]["flow"]["timed_out"],
        b["stats"]["flow"]["timed_out"]
    );
    assert_eq!(records(&after), records(&before));
    assert_eq!(a["timestamp"], b["timestamp"]);
}

#[test]
fn a_real_step_of_the_clock_is_followed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut packets = ward();
    let half = packets.len() / 2;
    for p in packets.iter_mut().skip(half) {
        p.0 += TWO_HOURS_MICROS;
    }
    let stepped = dir.path().join("stepped.pcap");
    write_pcap(&stepped, &packets);
    let events = run(&stepped);
    let stats = &final_stats(&events)["stats"];
    assert_eq!(stats["capture"]["clock_jumps"], 1);
    assert_eq!(stats["capture"]["clock_outliers"], 0);
    // The flows of the first hour were idle for two hours: they ended.
    assert!(stats["flow"]["timed_out"].as_u64() > Some(0), "{stats}");
    // The run ends at the last packet's time, two hours on.
    let last = packets.last().map(|p| p.0).unwrap_or_default();
    let end = timestamp_micros(&final_stats(&events)["timestamp"]);
    assert_eq!(end, last, "the final stats event's time");
}
