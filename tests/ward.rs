//! The ward on a real network: `fixtures/ward.pcapng` now has what a live
//! ward has before any clinical traffic — DHCP clients asking from
//! 0.0.0.0, dual-stack hosts soliciting a router, probing for duplicate
//! addresses from :: and taking SLAAC addresses, and a DNS server naming
//! hosts. Ground truth from tshark (`fixtures/ward.hosts.json`, written by
//! `fixtures/tools/ward_hosts.py`): every host is one device keyed by its
//! MAC with its vendor and every address it sent from, each first seen at
//! its first frame; only the router is a router; DHCP host names and DNS
//! answers are on the right devices.
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

use common::*;
use medtap::event::Timestamp;
use serde_json::Value;

/// The router's MAC: the one that sends for the data-centre subnet.
const ROUTER: &str = "f4:bd:9e:10:20:01";

fn truth() -> Value {
    let text = std::fs::read(fixture("ward.hosts.json")).expect("ward.hosts.json");
    serde_json::from_slice(&text).expect("json")
}

fn inventory(workers: &str) -> (Vec<Value>, Vec<u8>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("devices.json");
    let args = [
        OsStr::new("--workers"),
        OsStr::new(workers),
        OsStr::new("--inventory"),
        path.as_os_str(),
    ];
    let out = replay_ok(&fixture("ward.pcapng"), &args);
    let inventory: Value =
        serde_json::from_slice(&std::fs::read(&path).expect("inventory")).expect("json");
    let devices = inventory["devices"].as_array().expect("devices").clone();
    (devices, out.stdout)
}

fn device<'a>(devices: &'a [Value], id: &str) -> &'a Value {
    devices
        .iter()
        .find(|d| d["id"] == id)
        .unwrap_or_else(|| panic!("no device {id}"))
}

fn strings(value: &Value) -> BTreeSet<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

#[test]
fn every_host_is_one_device_with_its_whole_address_life() {
    let truth = truth();
    let (devices, _) = inventory("1");
    let senders = truth["senders"].as_object().expect("senders");
    let mut hosts = 0;
    for (mac, addresses) in senders {
        if mac == ROUTER {
            continue;
        }
        hosts += 1;
        let d = device(&devices, &format!("mac:{mac}"));
        assert!(d["vendor"].is_string(), "{mac}: no vendor");
        assert!(d.get("gateway").is_none(), "{mac} taken for a router");
        let expected: BTreeMap<String, String> = addresses
            .as_object()
            .expect("addresses")
            .iter()
            .map(|(ip, first)| {
                let micros = first.as_i64().expect("micros");
                (ip.clone(), Timestamp(micros).to_string())
            })
            .collect();
        assert_eq!(
            strings(&d["ips"]),
            expected.keys().cloned().collect(),
            "{mac}"
        );
        let history: BTreeMap<String, String> = d["addresses"]
            .as_array()
            .expect("address history")
            .iter()
            .map(|a| {
                assert!(a["first_seen"].as_str() <= a["last_seen"].as_str(), "{a}");
                let ip = a["ip"].as_str().expect("ip").to_owned();
                (ip, a["first_seen"].as_str().expect("time").to_owned())
            })
            .collect();
        assert_eq!(
            history, expected,
            "{mac}: each address first seen at its first frame"
        );
    }
    assert_eq!(hosts, 7);
    // Dual stack: an IPv4, a SLAAC and a link-local address on one device.
    for mac in ["00:09:5c:10:20:13", "98:e7:43:10:20:50"] {
        let ips = strings(&device(&devices, &format!("mac:{mac}"))["ips"]);
        assert!(
            ips.iter().any(|ip| ip.starts_with("10.20.1.")),
            "{mac}: {ips:?}"
        );
        assert!(
            ips.iter().any(|ip| ip.starts_with("fd20:1::")),
            "{mac}: {ips:?}"
        );
        assert!(
            ips.iter().any(|ip| ip.starts_with("fe80::")),
            "{mac}: {ips:?}"
        );
    }
    // The router: a gateway, its own link-local address (its router
    // advertisements) its own; the hosts behind it keyed by address.
    let router = device(&devices, &format!("mac:{ROUTER}"));
    assert_eq!(router["gateway"], true);
    assert!(strings(&router["ips"]).contains("fe80::f6bd:9eff:fe10:2001"));
    assert_eq!(
        devices
            .iter()
            .filter(|d| d.get("gateway").is_some())
            .count(),
        1
    );
    for ip in ["10.20.2.10", "10.20.2.20", "10.20.2.30"] {
        device(&devices, &format!("ip:{ip}"));
    }
}

#[test]
fn dhcp_host_names_and_dns_answers_name_the_right_devices() {
    let truth = truth();
    let (devices, _) = inventory("1");
    let hostnames = truth["dhcp_hostnames"].as_object().expect("hostnames");
    assert_eq!(hostnames.len(), 3);
    for (mac, name) in hostnames {
        let d = device(&devices, &format!("mac:{mac}"));
        assert_eq!(
            strings(&d["identity"]["dhcp"]["hostname"]),
            BTreeSet::from([name.as_str().expect("name").to_owned()]),
            "{mac}"
        );
    }
    let named = truth["dns_names"].as_object().expect("dns names");
    assert_eq!(named.len(), 3);
    for (ip, names) in named {
        let d = devices
            .iter()
            .find(|d| strings(&d["ips"]).contains(ip))
            .unwrap_or_else(|| panic!("no device at {ip}"));
        assert_eq!(
            strings(&d["identity"]["dns"]["name"]),
            strings(names),
            "{ip}"
        );
    }
    // A DNS server's answers name others, never itself.
    let router = device(&devices, &format!("mac:{ROUTER}"));
    assert!(router["identity"]["dns"].is_null(), "{router}");
    // The names reach the CSV's hostname column.
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = dir.path().join("devices.csv");
    replay_ok(
        &fixture("ward.pcapng"),
        &[OsStr::new("--inventory"), csv.as_os_str()],
    );
    let text = std::fs::read_to_string(&csv).expect("csv");
    assert!(text.contains(",pump07,"), "{text}");
    assert!(
        text.contains(",ws01.ward3.general-hospital.example,"),
        "{text}"
    );
}

#[test]
fn the_ward_gives_the_same_output_for_any_number_of_workers() {
    let (one, out_one) = inventory("1");
    let (three, out_three) = inventory("3");
    assert_eq!(one, three);
    assert_eq!(out_one, out_three);
}
