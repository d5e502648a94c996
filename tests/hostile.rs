//! Packets a receiving host would drop or ignore neither blind nor fool
//! medtap. Each capture in `fixtures/hostile/` (written by `cargo run
//! --example hostile -- fixtures/hostile`) is one MQTT session of the pump
//! `pump-07` with one trick injected before its `SUBSCRIBE #`; the control
//! capture has none. Each must give what the control gives: the pump
//! identified by its own client id, and the `mqtt_wildcard_subscribe` alert
//! at the SUBSCRIBE.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a test fails by panicking"
)]

mod common;

use common::*;
use serde_json::{Value, json};

/// Runs medtap on `fixtures/hostile/NAME`, learning for two seconds (the
/// SUBSCRIBE comes four seconds after the CONNECT).
fn replay(name: &str, extra: &[&str]) -> (String, Vec<Value>) {
    let path = fixture(&format!("hostile/{name}"));
    let out = medtap()
        .arg("-r")
        .arg(&path)
        .args(["--learn", "2s"])
        .args(extra)
        .output()
        .expect("medtap runs");
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let events = lines(&out.stdout);
    (text, events)
}

/// What an alert says, without its packet time (the tricks shift it).
fn essence(alert: &Value) -> Value {
    json!({
        "kind": alert["alert"]["kind"],
        "subject": alert["alert"]["subject"],
        "device": alert["device"]["id"],
        "identity": alert["device"]["identity"],
        "community_id": alert["community_id"],
        "evidence": alert["evidence"],
    })
}

fn wildcard_alerts(events: &[Value]) -> Vec<Value> {
    of_type(events, "alert")
        .into_iter()
        .filter(|a| a["alert"]["kind"] == "mqtt_wildcard_subscribe")
        .map(essence)
        .collect()
}

/// Checks `name` against the control capture; `invalid` is the decoder's
/// `invalid_by_reason` expected in the final stats event.
fn behaves_as_control(name: &str, extra: &[&str], invalid: Value) {
    let (_, control) = replay("control.pcap", extra);
    let expected = wildcard_alerts(&control);
    assert_eq!(expected.len(), 1, "control: {expected:#?}");

    let (text, events) = replay(name, extra);
    assert!(
        !text.contains("EVILCLIENT01"),
        "{name}: a packet the host drops named the device"
    );
    let client_ids: Vec<&Value> = of_type(&events, "device")
        .into_iter()
        .filter_map(|e| e["device"]["identity"]["mqtt"]["client_id"].as_array())
        .flatten()
        .collect();
    assert!(
        client_ids.iter().any(|id| *id == "pump-07"),
        "{name}: pump-07 not identified: {client_ids:?}"
    );
    assert!(
        client_ids.iter().all(|id| *id == "pump-07"),
        "{name}: {client_ids:?}"
    );
    assert_eq!(wildcard_alerts(&events), expected, "{name}");
    let stats = &final_stats(&events)["stats"];
    assert_eq!(
        stats["decoder"]["invalid_by_reason"], invalid,
        "{name}: {}",
        stats["decoder"]
    );
    assert_valid_events(&events);
}

#[test]
fn the_control_capture_identifies_the_pump_and_alerts_once() {
    behaves_as_control("control.pcap", &[], json!({}));
}

#[test]
fn an_rst_2_pow_30_outside_the_window_does_not_end_parsing() {
    // Issue: one RST with a valid checksum, 2^30 outside the window (which
    // every real stack ignores, RFC 5961), ended parsing of the connection.
    behaves_as_control("rst-out-of-window.pcap", &[], json!({}));
}

#[test]
fn a_fin_with_a_bad_checksum_does_not_shift_the_stream() {
    // Issue: a FIN with a bad checksum shifted the stream by one byte and
    // produced MQTT packets that were never sent.
    behaves_as_control("fin-bad-checksum.pcap", &[], json!({}));
}

#[test]
fn a_fin_with_a_bad_checksum_is_counted_when_checksums_are_verified() {
    behaves_as_control(
        "fin-bad-checksum.pcap",
        &["--verify-checksums"],
        json!({"tcp.bad_checksum": 1}),
    );
}

#[test]
fn a_fin_the_sender_writes_past_does_not_end_or_shift_the_stream() {
    behaves_as_control("fin-valid-checksum.pcap", &[], json!({}));
}

#[test]
fn a_syn_with_another_isn_after_the_handshake_does_not_lose_the_connection() {
    // Issue: a stray SYN with another ISN after the handshake lost the
    // whole connection.
    behaves_as_control("syn-after-handshake.pcap", &[], json!({}));
}

#[test]
fn ipv4_total_lengths_of_0_and_10_are_counted_and_never_name_the_device() {
    // Issue: an IPv4 packet with total length 0 or 10, which a host drops,
    // carried a CONNECT for EVILCLIENT01 at the real CONNECT's sequence
    // number, and medtap reported EVILCLIENT01.
    behaves_as_control(
        "ip-length-invalid.pcap",
        &[],
        json!({"ipv4.bad_total_length": 2}),
    );
}

#[test]
fn four_hundred_out_of_order_segments_before_the_first_keep_the_connection() {
    // Issue: more than 256 out-of-order segments before the first one
    // dropped the connection.
    behaves_as_control("out-of-order-400.pcap", &[], json!({}));
    let (_, events) = replay("out-of-order-400.pcap", &[]);
    let reassembly = &final_stats(&events)["stats"]["reassembly"];
    assert_eq!(reassembly["out_of_order"], 400);
    assert_eq!(reassembly["gaps"], 0);
    assert_eq!(reassembly["flow_budget_exhausted"], 0);
}
