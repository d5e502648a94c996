//! Equipment credited to the device that made it:
//! `fixtures/forwarder/forwarder.pcapng` (real dcmtk: a CT and an MR store
//! their images on a router that forwards each to a PACS) replayed with a
//! one-second learning window, so the router is watched by the time it
//! forwards the MR's images after the CT's. The router is a forwarder and
//! carries neither modality's identity; each modality carries its own, as
//! tshark read the data sets (`fixtures/forwarder/manifest.json`); nothing
//! raises `identity_changed`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a test fails by panicking"
)]

mod common;

use std::ffi::OsStr;

use common::*;
use serde_json::Value;

/// `manifest.json`'s names of the data-set attributes, and medtap's.
const ATTRIBUTES: &[(&str, &str)] = &[
    ("Modality", "modality"),
    ("Manufacturer", "manufacturer"),
    ("ManufacturerModelName", "model"),
    ("StationName", "station_name"),
    ("SoftwareVersions", "software_versions"),
    ("DeviceSerialNumber", "serial_number"),
];

fn manifest() -> Value {
    serde_json::from_slice(&std::fs::read(fixture("forwarder/manifest.json")).expect("manifest"))
        .expect("json")
}

fn replay(workers: &str) -> (Vec<Value>, Vec<Value>, Vec<u8>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("devices.json");
    let args = [
        OsStr::new("--learn"),
        OsStr::new("1s"),
        OsStr::new("--workers"),
        OsStr::new(workers),
        OsStr::new("--inventory"),
        path.as_os_str(),
    ];
    let out = replay_ok(&fixture("forwarder/forwarder.pcapng"), &args);
    let inventory: Value =
        serde_json::from_slice(&std::fs::read(&path).expect("inventory")).expect("json");
    let devices = inventory["devices"].as_array().expect("devices").clone();
    (devices, lines(&out.stdout), out.stdout)
}

fn host<'a>(manifest: &'a Value, ae: &str) -> &'a Value {
    manifest["hosts"]
        .as_array()
        .expect("hosts")
        .iter()
        .find(|h| h["ae"] == ae)
        .unwrap_or_else(|| panic!("no host {ae}"))
}

fn device<'a>(devices: &'a [Value], mac: &Value) -> &'a Value {
    devices
        .iter()
        .find(|d| d["mac"] == *mac)
        .unwrap_or_else(|| panic!("no device {mac}"))
}

#[test]
fn the_router_relays_both_modalities_and_is_neither() {
    let manifest = manifest();
    let (devices, events, _) = replay("1");
    let router = device(&devices, &host(&manifest, "ROUTER")["mac"]);
    assert!(
        router["roles"]
            .as_array()
            .expect("roles")
            .iter()
            .any(|r| r == "dicom_forwarder"),
        "{router}"
    );
    assert_eq!(router["type"]["name"], "pacs_vna", "{router}");
    for (_, ours) in ATTRIBUTES {
        assert!(
            router["identity"]["dicom"].get(*ours).is_none(),
            "the router has {ours}: {router}"
        );
    }
    // Its relayed equipment is the two modalities', attribute by attribute.
    let relayed = router["relayed_equipment"]
        .as_array()
        .expect("relayed_equipment");
    assert_eq!(relayed.len(), 2, "{router}");
    for ae in ["CT01", "MR01"] {
        let equipment = &manifest["equipment"][ae];
        assert!(
            relayed.iter().any(|r| ATTRIBUTES
                .iter()
                .all(|(theirs, ours)| r[*ours] == equipment[*theirs])),
            "{ae}'s equipment not relayed as tshark read it: {relayed:?}"
        );
    }
    // It sends on the very images it received, so it is known for a
    // forwarder at its first one: no device event ever credits it with a
    // modality's equipment, not even before the second modality's images.
    for event in of_type(&events, "device") {
        if event["device"]["mac"] == router["mac"] {
            for (_, ours) in ATTRIBUTES {
                assert!(
                    event["device"]["identity"]["dicom"].get(*ours).is_none(),
                    "the router was credited with {ours}: {event}"
                );
            }
        }
    }
    let changed: Vec<&Value> = of_type(&events, "alert")
        .into_iter()
        .filter(|a| a["alert"]["kind"] == "identity_changed")
        .collect();
    assert!(changed.is_empty(), "{changed:?}");
    // The router was watched when the MR's images came: other alerts say so.
    assert!(of_type(&events, "alert").iter().any(|a| {
        a["alert"]["kind"] == "dicom_new_ae_pair" && a["device"]["mac"] == router["mac"]
    }));
}

#[test]
fn each_modality_carries_its_own_equipment() {
    let manifest = manifest();
    let (devices, _, _) = replay("1");
    for ae in ["CT01", "MR01"] {
        let modality = device(&devices, &host(&manifest, ae)["mac"]);
        let equipment = &manifest["equipment"][ae];
        for (theirs, ours) in ATTRIBUTES {
            assert_eq!(
                modality["identity"]["dicom"][*ours][0], equipment[*theirs],
                "{ae} {ours}: {modality}"
            );
        }
        assert_eq!(modality["type"]["name"], "imaging_modality");
        assert_eq!(modality["type"]["modality"], equipment["Modality"]);
        assert!(modality.get("relayed_equipment").is_none());
    }
}

#[test]
fn the_output_is_the_same_for_any_number_of_workers() {
    let (_, _, one) = replay("1");
    let (_, _, three) = replay("3");
    assert_eq!(
        String::from_utf8_lossy(&one),
        String::from_utf8_lossy(&three)
    );
}
