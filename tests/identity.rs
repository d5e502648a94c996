//! Identity on a real network: `fixtures/identity/identity.pcapng` (real
//! dhclient, dhcpcd, dnsmasq, avahi, nmbd, llmnrd, minidlna, lldpd on a
//! bridge, recorded from before the links came up) replayed through
//! medtap. Every host is one device keyed by its MAC, with its IPv4, ULA
//! and link-local addresses; none is taken for a router although each sent
//! DHCP from 0.0.0.0 and duplicate-address probes from ::; and what each
//! said about itself (DHCP, DHCPv6, mDNS, LLMNR, NetBIOS, SSDP, LLDP, CDP)
//! is on its own device, as tshark read it
//! (`fixtures/identity/manifest.json`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a test fails by panicking"
)]

mod common;

use std::ffi::OsStr;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use serde_json::Value;

struct Inventory {
    devices: Vec<Value>,
}

impl Inventory {
    fn replay(workers: &str) -> (Inventory, Vec<u8>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("devices.json");
        let args = [
            OsStr::new("--workers"),
            OsStr::new(workers),
            OsStr::new("--inventory"),
            path.as_os_str(),
        ];
        let out = replay_ok(&fixture("identity/identity.pcapng"), &args);
        let inventory: Value =
            serde_json::from_slice(&std::fs::read(&path).expect("inventory")).expect("json");
        let devices = inventory["devices"].as_array().expect("devices").clone();
        (Inventory { devices }, out.stdout)
    }

    fn by_mac(&self, mac: &str) -> &Value {
        self.devices
            .iter()
            .find(|d| d["mac"] == mac)
            .unwrap_or_else(|| panic!("no device with MAC {mac}"))
    }

    fn by_ip(&self, ip: &str) -> &Value {
        self.devices
            .iter()
            .find(|d| {
                d["ips"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|i| i == ip))
            })
            .unwrap_or_else(|| panic!("no device with address {ip}"))
    }
}

fn manifest() -> Value {
    let text = std::fs::read(fixture("identity/manifest.json")).expect("manifest");
    serde_json::from_slice(&text).expect("json")
}

fn fact<'a>(device: &'a Value, protocol: &str, field: &str) -> BTreeSet<&'a str> {
    device["identity"][protocol][field]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn assert_fact(device: &Value, protocol: &str, field: &str, value: &str) {
    assert!(
        fact(device, protocol, field).contains(value),
        "{}: {protocol}.{field} lacks {value:?}: {}",
        device["id"],
        device["identity"]
    );
}

#[test]
fn every_host_is_one_device_keyed_by_its_mac_and_none_is_a_router() {
    let (inventory, _) = Inventory::replay("1");
    let macs: BTreeSet<&str> = inventory
        .devices
        .iter()
        .map(|d| d["mac"].as_str().expect("keyed by MAC"))
        .collect();
    assert_eq!(
        macs,
        BTreeSet::from([
            "02:69:64:00:00:01",
            "02:69:64:00:00:0a",
            "02:69:64:00:00:0b"
        ])
    );
    for device in &inventory.devices {
        assert_eq!(device["identified_by"], "mac", "{device}");
        assert!(device.get("gateway").is_none(), "a router: {device}");
        let ips: Vec<&str> = device["ips"]
            .as_array()
            .expect("ips")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(ips.iter().any(|ip| ip.starts_with("10.77.0.")), "{ips:?}");
        assert!(ips.iter().any(|ip| ip.starts_with("fe80::")), "{ips:?}");
        assert!(!ips.contains(&"0.0.0.0") && !ips.contains(&"::"), "{ips:?}");
    }
}

#[test]
fn what_each_host_said_of_itself_is_on_its_own_device() {
    let (inventory, _) = Inventory::replay("1");
    let manifest = manifest();

    // DHCPv4 requests (op 1): name, vendor class, option 55 in order, on
    // the device of the client hardware address.
    let mut checked = 0;
    for request in manifest["dhcp"].as_array().expect("dhcp") {
        if request["op"] != 1 {
            continue;
        }
        let device = inventory.by_mac(request["chaddr"].as_str().expect("chaddr"));
        if let Some(name) = request["host_name"].as_str() {
            assert_fact(device, "dhcp", "hostname", name);
        }
        if let Some(class) = request["vendor_class"].as_str() {
            assert_fact(device, "dhcp", "vendor_class", class);
        }
        if let Some(list) = request["parameter_request_list"].as_array() {
            let list: Vec<String> = list.iter().map(|o| o.to_string()).collect();
            assert_fact(device, "dhcp", "fingerprint", &list.join(","));
        }
        checked += 1;
    }
    assert!(checked >= 4, "{checked} DHCP requests");

    // DHCPv6 client messages: the DUID and FQDN, on the DUID's MAC.
    for message in manifest["dhcpv6"].as_array().expect("dhcpv6") {
        let Some(mac) = message["client_duid"]["mac"].as_str() else {
            continue;
        };
        if ![1, 3, 5, 6, 8, 11].contains(&message["message_type"].as_i64().unwrap_or(0)) {
            continue;
        }
        let device = inventory.by_mac(mac);
        assert_fact(
            device,
            "dhcpv6",
            "duid",
            message["client_duid"]["hex"].as_str().expect("hex"),
        );
        if let Some(name) = message["fqdn_name"].as_str() {
            assert_fact(device, "dhcpv6", "fqdn", name);
        }
    }

    // mDNS and LLMNR answers: each name on the device holding the address
    // it was bound to.
    let mut named = BTreeMap::new();
    for message in manifest["dns"].as_array().expect("dns") {
        let protocol = message["protocol"].as_str().unwrap_or("");
        if !["mdns", "llmnr"].contains(&protocol) || message["response"] != true {
            continue;
        }
        for record in message["records"].as_array().expect("records") {
            let address = record["a"].as_str().or_else(|| record["aaaa"].as_str());
            if let Some(address) = address {
                let name = record["name"].as_str().expect("name").to_owned();
                named.insert((protocol, name), address.to_owned());
            }
        }
    }
    assert!(named.len() >= 2, "{named:?}");
    for ((protocol, name), address) in &named {
        assert_fact(inventory.by_ip(address), protocol, "hostname", name);
    }

    // NetBIOS registrations: the unique names on the registering address.
    let mut registered = 0;
    for message in manifest["nbns"].as_array().expect("nbns") {
        if message["opcode"] != 5 {
            continue;
        }
        for name in message["names"].as_array().expect("names") {
            let Some(address) = name["addresses"].get(0).and_then(Value::as_str) else {
                continue;
            };
            let field = if name["group"] == true {
                "group"
            } else {
                "name"
            };
            assert_fact(
                inventory.by_ip(address),
                "netbios",
                field,
                name["name"].as_str().expect("name"),
            );
            registered += 1;
        }
    }
    assert!(registered > 0);

    // SSDP announcements and answers: the server and description URL, on
    // the device whose address the URL names.
    let mut announced = 0;
    for message in manifest["ssdp"].as_array().expect("ssdp") {
        let Some(location) = message["location"].as_str() else {
            continue;
        };
        let host = location
            .trim_start_matches("http://")
            .split([':', '/'])
            .next()
            .expect("host");
        let device = inventory.by_ip(host);
        assert_fact(device, "ssdp", "location", location);
        if let Some(server) = message["server"].as_str() {
            assert_fact(device, "ssdp", "server", server);
        }
        announced += 1;
    }
    assert!(announced > 0);

    // LLDP (chassis id a MAC) and CDP (with the sender's addresses): the
    // system's name and description on the sender's device.
    let mut described = 0;
    for frame in manifest["lldp"].as_array().expect("lldp") {
        if frame["chassis_subtype"] != 4 || frame["ttl"] == 0 {
            continue;
        }
        let device = inventory.by_mac(frame["chassis_id"].as_str().expect("chassis id"));
        assert_fact(
            device,
            "lldp",
            "system_name",
            frame["system_name"].as_str().expect("name"),
        );
        if let Some(description) = frame["system_description"].as_str() {
            assert_fact(device, "lldp", "system_description", description);
        }
        described += 1;
    }
    for frame in manifest["cdp"].as_array().expect("cdp") {
        let address = frame["addresses"][0].as_str().expect("address");
        let device = inventory.by_ip(address);
        assert_fact(
            device,
            "cdp",
            "device_id",
            frame["device_id"].as_str().expect("id"),
        );
        assert_fact(
            device,
            "cdp",
            "platform",
            frame["platform"].as_str().expect("platform"),
        );
        described += 1;
    }
    assert!(described >= 2, "{described}");

    // The DHCP and DNS server said nothing of itself but its LLDP.
    let server = inventory.by_mac("02:69:64:00:00:01");
    let protocols: Vec<&String> = server["identity"]
        .as_object()
        .expect("identity")
        .keys()
        .collect();
    assert_eq!(protocols, ["lldp"], "{server}");
}

#[test]
fn each_host_has_the_type_its_own_words_give_with_the_evidence() {
    let (inventory, _) = Inventory::replay("1");
    for (mac, expected) in [
        ("02:69:64:00:00:01", "network_device"),
        ("02:69:64:00:00:0a", "infusion_pump"),
        ("02:69:64:00:00:0b", "patient_monitor"),
    ] {
        let device_type = &inventory.by_mac(mac)["type"];
        assert_eq!(device_type["name"], expected, "{mac}: {device_type}");
        assert_eq!(device_type["confidence"], "medium", "{mac}: {device_type}");
        assert!(
            device_type["evidence"]
                .as_array()
                .is_some_and(|e| !e.is_empty()),
            "{mac}: {device_type}"
        );
    }
}

#[test]
fn the_output_is_the_same_for_any_number_of_workers() {
    let (_, one) = Inventory::replay("1");
    let (_, three) = Inventory::replay("3");
    assert_eq!(
        String::from_utf8_lossy(&one),
        String::from_utf8_lossy(&three)
    );
}

#[test]
fn the_csv_inventory_parses_with_pythons_csv_module_and_matches_the_json() {
    let (json, _) = Inventory::replay("1");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("devices.csv");
    let args = [
        OsStr::new("-o"),
        OsStr::new("/dev/null"),
        OsStr::new("--inventory"),
        path.as_os_str(),
    ];
    replay_ok(&fixture("identity/identity.pcapng"), &args);
    // Python's csv module reads it, as a spreadsheet would, into one JSON
    // object a row.
    let parsed = std::process::Command::new("python3")
        .args([
            "-c",
            "import csv, json, sys\n\
             rows = list(csv.DictReader(open(sys.argv[1], newline='')))\n\
             json.dump(rows, sys.stdout)",
        ])
        .arg(&path)
        .output()
        .expect("python3 runs");
    assert!(
        parsed.status.success(),
        "{}",
        String::from_utf8_lossy(&parsed.stderr)
    );
    let rows: Vec<Value> = serde_json::from_slice(&parsed.stdout).expect("rows");
    assert_eq!(rows.len(), json.devices.len());
    for (row, device) in rows.iter().zip(&json.devices) {
        assert_eq!(row["id"], device["id"]);
        assert_eq!(row["mac"], device["mac"]);
        assert_eq!(row["type"], device["type"]["name"]);
        let ips: BTreeSet<&str> = device["ips"]
            .as_array()
            .expect("ips")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let in_row: BTreeSet<&str> = [&row["ipv4"], &row["ipv6"]]
            .iter()
            .filter_map(|v| v.as_str())
            .flat_map(str::split_whitespace)
            .collect();
        assert_eq!(in_row, ips, "{}", device["id"]);
        let protocols: Vec<&String> = device["identity"]
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        let protocols: Vec<&str> = protocols.iter().map(|s| s.as_str()).collect();
        assert_eq!(row["protocols"], protocols.join(" "), "{}", device["id"]);
    }
    let pump = rows
        .iter()
        .find(|r| r["mac"] == "02:69:64:00:00:0a")
        .expect("pump row");
    assert_eq!(pump["hostname"], "infusion-pump-7");
    assert_eq!(pump["type"], "infusion_pump");
}
