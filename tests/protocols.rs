//! Protocol parsing end to end: what the parsers find reaches the device
//! table and the protocol events, the same whatever the TCP segmentation, and
//! no patient data or secret ever leaves.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a test fails by panicking"
)]

mod common;

use common::*;
use serde_json::Value;

fn replay(path: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let out = medtap()
        .arg("-r")
        .arg(path)
        .args(extra)
        .output()
        .expect("medtap runs");
    assert!(
        out.status.success(),
        "{}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The last `device` event of the device with `id`.
fn device<'a>(events: &'a [Value], id: &str) -> &'a Value {
    of_type(events, "device")
        .into_iter()
        .rev()
        .find(|e| e["device"]["id"] == id)
        .unwrap_or_else(|| panic!("no device {id}"))
}

#[test]
fn hl7_device_identifiers_reach_the_device() {
    // Tapirx's pump sends ADT^A01 with the device in PRT-16 (UDI) in one
    // capture and OBX-18 in the other; tshark shows "Hospira Plum A+" in both.
    for (name, source) in [
        ("HL7-ADT-UDI-PRT.pcap", "PRT-16"),
        ("HL7-ADT-UDI-OBX.pcap", "OBX-18"),
    ] {
        let out = replay(
            &fixture(&format!("public/tapirx/{name}")),
            &["--log-protocols"],
        );
        let events = lines(&out.stdout);
        let pump = device(&events, "mac:00:03:b1:b5:b6:48");
        assert_eq!(
            pump["device"]["identity"]["hl7"]["device_id"],
            serde_json::json!(["Hospira Plum A+"]),
            "{name}"
        );
        assert_eq!(pump["device"]["roles"], serde_json::json!(["hl7_sender"]));
        let hl7 = of_type(&events, "hl7");
        // The ADT^A01 and its ACK.
        assert_eq!(hl7.len(), 2, "{name}: two messages");
        assert_eq!(hl7[1]["hl7"]["ack_code"], "AA", "{name}");
        let message = &hl7[0]["hl7"];
        assert_eq!(message["message_type"], "ADT");
        assert_eq!(message["trigger_event"], "A01");
        assert_eq!(message["device_identifiers"][0]["source"], source);
        // Flow fields are client to server, with the protocol named.
        assert_eq!(hl7[0]["src_ip"], "10.0.0.155");
        assert_eq!(hl7[0]["dest_port"], 6661);
        assert_eq!(hl7[0]["app_proto"], "hl7");
    }
}

#[test]
fn dicom_association_identifies_both_ends() {
    // The calling and called AE titles tshark shows in Tapirx's
    // A-ASSOCIATE-RQ (dicom.assoc.item... "testclient" to "testserver").
    let out = replay(
        &fixture("public/tapirx/dicom_arq_1_find_testclient.pcap"),
        &["--log-protocols"],
    );
    let events = lines(&out.stdout);
    let dicom = of_type(&events, "dicom");
    assert_eq!(dicom.len(), 1);
    assert_eq!(dicom[0]["dicom"]["client"]["ae_title"], "testclient");
    assert_eq!(dicom[0]["dicom"]["server"]["ae_title"], "testserver");
    assert_eq!(dicom[0]["dest_port"], 104);
}

#[test]
fn dicom_store_reveals_the_modality() {
    // storescu sending a synthetic CT made by src/proto/dicom/testdata/make.sh
    // (Manufacturer "ACME Medical", model "ScanMaster 9").
    let path = root().join("src/proto/dicom/testdata/store_ct.pcap");
    let out = replay(&path, &["--log-protocols"]);
    let events = lines(&out.stdout);
    let with_identity = of_type(&events, "device")
        .into_iter()
        .rev()
        .find(|e| e["device"]["identity"]["dicom"]["manufacturer"].is_array())
        .expect("a device learned its manufacturer");
    let dicom = &with_identity["device"]["identity"]["dicom"];
    assert_eq!(dicom["manufacturer"], serde_json::json!(["ACME Medical"]));
    assert_eq!(dicom["modality"], serde_json::json!(["CT"]));
    assert_eq!(dicom["model"], serde_json::json!(["ScanMaster 9"]));
    let roles = with_identity["device"]["roles"].as_array().expect("roles");
    assert!(roles.contains(&serde_json::json!("dicom_scu")));
}

/// Events other than `stats`, which count packets.
fn non_stats(out: &std::process::Output) -> Vec<Value> {
    lines(&out.stdout)
        .into_iter()
        .filter(|e| e["event_type"] != "stats")
        .map(|mut e| {
            // The file name and the packet numbers differ (and so the
            // event's digest), nothing else may.
            if let Some(o) = e.as_object_mut() {
                for key in ["pcap_filename", "pcap_cnt", "event_id"] {
                    o.remove(key);
                }
            }
            e
        })
        .collect()
}

#[test]
fn one_byte_segments_give_the_same_events() {
    // fixtures/resegmented/ holds captures rewritten by
    // fixtures/tools/resegment.py so that each TCP segment carries one byte.
    let dir = root().join("fixtures/resegmented");
    let mut compared = 0;
    for entry in std::fs::read_dir(&dir).expect("fixtures/resegmented") {
        let path = entry.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).expect("name");
        let original = original_of(name);
        let whole = replay(&original, &["--log-protocols"]);
        let split = replay(&path, &["--log-protocols"]);
        let segments = |out: &std::process::Output| {
            final_stats(&lines(&out.stdout))["stats"]["reassembly"]["segments"].as_u64()
        };
        assert!(
            segments(&split) > segments(&whole),
            "{name}: not resegmented"
        );
        let (whole, split) = (non_stats(&whole), non_stats(&split));
        assert!(
            whole.iter().any(|e| e["app_proto"].is_string()),
            "{name}: no protocol event to compare"
        );
        assert_eq!(whole, split, "{name}");
        compared += 1;
    }
    assert!(compared >= 4, "only {compared} resegmented captures");
}

/// The capture a resegmented one was made from: `dir__name.pcap`.
fn original_of(name: &str) -> std::path::PathBuf {
    let (dir, file) = name.split_once("__").expect("dir__file name");
    let dir = dir.replace('+', "/");
    let candidate = root().join(&dir).join(file);
    if candidate.exists() {
        return candidate;
    }
    // pcapng originals were converted; the name keeps their own extension.
    panic!("no original for {name} at {}", candidate.display())
}

#[test]
fn no_patient_data_or_secret_reaches_the_output_or_the_logs() {
    // fixtures/secrets.json: the PID/NK1/PV1/AL1 fields and OBX-5 values of
    // every HL7 message, and every MQTT password and payload text, in the
    // captures, listed by fixtures/tools/secrets.py with tshark; and the
    // passwords and community strings of the side-door captures. Checked
    // in the events, the logs, the inventory and the state file.
    let secrets: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(fixture("secrets.json")).expect("read"))
            .expect("JSON");
    assert!(secrets.len() >= 20, "the secrets list looks empty");
    let mut by_capture: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for s in &secrets {
        by_capture
            .entry(s["capture"].as_str().expect("capture").to_owned())
            .or_default()
            .push(s["value"].as_str().expect("value").to_owned());
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let inventory = dir.path().join("inventory.json");
    let state = dir.path().join("state.json");
    for (capture, values) in by_capture {
        let _ = std::fs::remove_file(&state);
        let out = medtap()
            .arg("-r")
            .arg(root().join(&capture))
            .arg("--log-protocols")
            // A short learning window, so alerts (with their evidence and
            // baselines) are written and checked too.
            .args(["--learn", "2s"])
            .arg("--inventory")
            .arg(&inventory)
            .arg("--state")
            .arg(&state)
            .arg("-vv")
            .env("RUST_LOG", "trace")
            .output()
            .expect("runs");
        assert!(out.status.success(), "{capture}");
        let written = std::fs::read(&inventory).expect("inventory");
        let saved = std::fs::read(&state).expect("state file");
        let text = [out.stdout, out.stderr, written, saved].concat();
        let text = String::from_utf8_lossy(&text);
        for value in values {
            // A short value ("pass") occurs inside field names by chance:
            // look for it as a whole JSON string.
            let needle = if value.chars().count() < 8 {
                serde_json::to_string(&value).expect("JSON string")
            } else {
                value.clone()
            };
            assert!(
                !text.contains(&needle),
                "{capture}: {value:?} appears in the output"
            );
        }
    }
}

#[test]
fn protocol_events_are_only_added_by_log_protocols() {
    // Without --log-protocols workers drop records whose facts are already
    // known; the other events must not change because of it.
    let mut compared = 0;
    for path in all_captures() {
        let with = lines(&replay(&path, &["--log-protocols"]).stdout);
        let without = lines(&replay(&path, &[]).stdout);
        let protocol =
            |e: &Value| ["dicom", "hl7", "mqtt"].contains(&e["event_type"].as_str().unwrap_or(""));
        if with.iter().any(protocol) {
            compared += 1;
        }
        let kept: Vec<&Value> = with.iter().filter(|e| !protocol(e)).collect();
        let without: Vec<&Value> = without.iter().collect();
        assert_eq!(kept, without, "{}", path.display());
    }
    assert!(
        compared >= 30,
        "only {compared} captures with protocol events"
    );
}

#[test]
fn the_ward_inventory_names_every_device_by_its_protocols() {
    // fixtures/make.sh drives these clients in the ward: dcmtk's storescu as
    // CT01 with a data set from GE MEDICAL SYSTEMS, mosquitto_pub as pump-07,
    // an MLLP sender as INTELLIVUE of WARD3, and a mosquitto broker. tshark
    // (dicom.userinfo.version) shows dcmtk's OFFIS_DCMTK_367 on both ends.
    let dir = tempfile::tempdir().expect("tempdir");
    let inventory = dir.path().join("devices.json");
    replay(
        &fixture("ward.pcapng"),
        &["--inventory", inventory.to_str().expect("utf-8")],
    );
    let inv: Value =
        serde_json::from_slice(&std::fs::read(&inventory).expect("inventory")).expect("JSON");
    let devices = inv["devices"].as_array().expect("devices");
    let by_id = |id: &str| {
        devices
            .iter()
            .find(|d| d["id"] == id)
            .unwrap_or_else(|| panic!("no device {id}"))
    };
    let ct = by_id("mac:44:4b:5d:10:20:11");
    assert_eq!(ct["vendor"], "GE Healthcare");
    assert_eq!(ct["roles"], serde_json::json!(["dicom_scu"]));
    assert_eq!(
        ct["identity"]["dicom"]["ae_title"],
        serde_json::json!(["CT01"])
    );
    assert_eq!(
        ct["identity"]["dicom"]["modality"],
        serde_json::json!(["CT"])
    );
    assert_eq!(
        ct["identity"]["dicom"]["manufacturer"],
        serde_json::json!(["GE MEDICAL SYSTEMS"])
    );
    let pump = by_id("mac:58:46:e1:10:20:21");
    assert_eq!(
        pump["identity"]["mqtt"]["client_id"],
        serde_json::json!(["pump-07"])
    );
    let monitor = by_id("mac:00:09:5c:10:20:13");
    assert_eq!(
        monitor["identity"]["hl7"]["sending_application"],
        serde_json::json!(["INTELLIVUE"])
    );
    assert_eq!(
        by_id("ip:10.20.2.30")["roles"],
        serde_json::json!(["mqtt_broker"])
    );
}

#[test]
fn mqtt_is_found_on_unusual_ports() {
    // nDPI's capture runs MQTT on 17500/17501; nDPI's own output names it.
    let out = replay(&fixture("public/ndpi/coap_mqtt.pcap"), &["--log-protocols"]);
    let events = lines(&out.stdout);
    let mqtt = of_type(&events, "mqtt");
    assert!(!mqtt.is_empty());
    assert!(mqtt.iter().all(|e| {
        let port = e["dest_port"].as_u64().unwrap_or(0);
        port == 17500 || port == 17501
    }));
}
