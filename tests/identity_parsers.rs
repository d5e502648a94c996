//! The identity parsers against another implementation: every DHCPv4,
//! DHCPv6, DNS, mDNS, LLMNR, NBNS, SSDP, LLDP and CDP frame of
//! `fixtures/identity/identity.pcapng` (real software on a bridge, see its
//! README) is found here by ethertype and UDP port, parsed, and compared
//! field by field with what tshark read in the same frame
//! (`fixtures/identity/manifest.json`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a test fails by panicking"
)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use medtap::proto::dhcp::{Dhcpv6Facts, Duid, parse_dhcpv4, parse_dhcpv6};
use medtap::proto::lldp::{ManagementAddress, parse_cdp, parse_lldp};
use medtap::proto::names::{DnsMessage, RecordData, Section, hex, mac_text, parse_dns, parse_nbns};
use medtap::proto::ssdp::{SsdpKind, parse_ssdp};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/identity")
        .join(name)
}

fn manifest() -> Value {
    let text = std::fs::read_to_string(fixture("manifest.json")).expect("manifest.json");
    serde_json::from_str(&text).expect("manifest.json is JSON")
}

/// Which parser a frame is for, decided from its headers alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Dhcp,
    Dhcpv6,
    Dns,
    Mdns,
    Llmnr,
    Nbns,
    Ssdp,
    Lldp,
    Cdp,
}

/// The frames of the capture, numbered from 1 as tshark numbers them, with
/// the kind and the payload each identity parser takes.
fn frames() -> BTreeMap<u64, (Kind, Vec<u8>)> {
    let mut capture =
        pcap::Capture::from_file(fixture("identity.pcapng")).expect("opens the capture");
    let mut out = BTreeMap::new();
    let mut number = 0;
    while let Ok(packet) = capture.next_packet() {
        number += 1;
        if let Some((kind, payload)) = classify(packet.data) {
            out.insert(number, (kind, payload.to_vec()));
        }
    }
    assert!(number > 200, "the capture has its frames ({number})");
    out
}

fn classify(frame: &[u8]) -> Option<(Kind, &[u8])> {
    let ethertype = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
    let payload = frame.get(14..)?;
    match ethertype {
        0x88cc => return Some((Kind::Lldp, payload)),
        // 802.3: the field is a length; CDP is LLC/SNAP with Cisco's OUI.
        len if len <= 1500 => {
            let payload = payload.get(..usize::from(len))?;
            return payload
                .starts_with(&[0xAA, 0xAA, 0x03, 0x00, 0x00, 0x0C, 0x20, 0x00])
                .then_some((Kind::Cdp, payload));
        }
        _ => {}
    }
    let udp = match ethertype {
        0x0800 => {
            let header_len = usize::from(payload.first()? & 0x0F) * 4;
            let total = usize::from(u16::from_be_bytes([*payload.get(2)?, *payload.get(3)?]));
            (*payload.get(9)? == 17).then_some(())?;
            payload.get(header_len..total)?
        }
        0x86dd => {
            let len = usize::from(u16::from_be_bytes([*payload.get(4)?, *payload.get(5)?]));
            (*payload.get(6)? == 17).then_some(())?;
            payload.get(40..40 + len)?
        }
        _ => return None,
    };
    let source = u16::from_be_bytes([*udp.first()?, *udp.get(1)?]);
    let destination = u16::from_be_bytes([*udp.get(2)?, *udp.get(3)?]);
    let len = usize::from(u16::from_be_bytes([*udp.get(4)?, *udp.get(5)?]));
    let data = udp.get(8..len)?;
    let kind = [source, destination].iter().find_map(|port| match port {
        67 | 68 => Some(Kind::Dhcp),
        546 | 547 => Some(Kind::Dhcpv6),
        53 => Some(Kind::Dns),
        5353 => Some(Kind::Mdns),
        5355 => Some(Kind::Llmnr),
        137 => Some(Kind::Nbns),
        1900 => Some(Kind::Ssdp),
        _ => None,
    })?;
    Some((kind, data))
}

/// The payload of frame `number`, which must be of `kind`.
fn payload(frames: &BTreeMap<u64, (Kind, Vec<u8>)>, number: u64, kind: Kind) -> &[u8] {
    let (found, bytes) = frames
        .get(&number)
        .unwrap_or_else(|| panic!("frame {number} ({kind:?}) not found by port/ethertype"));
    assert_eq!(*found, kind, "frame {number}");
    bytes
}

fn number(entry: &Value) -> u64 {
    entry["frame"].as_u64().expect("frame number")
}

fn entries<'m>(manifest: &'m Value, key: &str) -> &'m [Value] {
    let list = manifest[key].as_array().expect(key);
    assert!(!list.is_empty(), "the manifest has {key} frames");
    list
}

fn int(v: &Value) -> Option<u64> {
    v.as_u64()
}

fn text(v: &Value) -> Option<&str> {
    v.as_str()
}

fn ints(v: &Value) -> Option<Vec<u64>> {
    v.as_array()
        .map(|list| list.iter().filter_map(Value::as_u64).collect())
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|list| {
            list.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_identity_frame_tshark_saw_is_found_by_port_and_ethertype() {
    let manifest = manifest();
    let frames = frames();
    let mut expected: BTreeMap<u64, Kind> = BTreeMap::new();
    for (key, kind) in [
        ("dhcp", Kind::Dhcp),
        ("dhcpv6", Kind::Dhcpv6),
        ("nbns", Kind::Nbns),
        ("ssdp", Kind::Ssdp),
        ("lldp", Kind::Lldp),
        ("cdp", Kind::Cdp),
    ] {
        for e in entries(&manifest, key) {
            expected.insert(number(e), kind);
        }
    }
    for e in entries(&manifest, "dns") {
        let kind = match text(&e["protocol"]) {
            Some("dns") => Kind::Dns,
            Some("mdns") => Kind::Mdns,
            Some("llmnr") => Kind::Llmnr,
            other => panic!("protocol {other:?}"),
        };
        expected.insert(number(e), kind);
    }
    let found: BTreeMap<u64, Kind> = frames.iter().map(|(n, (k, _))| (*n, *k)).collect();
    assert_eq!(found, expected);
}

#[test]
fn dhcpv4_matches_tshark() {
    let manifest = manifest();
    let frames = frames();
    for e in entries(&manifest, "dhcp") {
        let n = number(e);
        let f = parse_dhcpv4(payload(&frames, n, Kind::Dhcp));
        assert!(f.anomalies.is_empty(), "frame {n}: {:?}", f.anomalies);
        assert_eq!(Some(u64::from(f.op)), int(&e["op"]), "frame {n} op");
        assert_eq!(Some(u64::from(f.xid)), int(&e["xid"]), "frame {n} xid");
        assert_eq!(
            f.chaddr.map(mac_text).as_deref(),
            text(&e["chaddr"]),
            "frame {n}"
        );
        assert_eq!(
            Some(f.ciaddr.to_string().as_str()),
            text(&e["ciaddr"]),
            "frame {n}"
        );
        assert_eq!(
            Some(f.yiaddr.to_string().as_str()),
            text(&e["yiaddr"]),
            "frame {n}"
        );
        assert_eq!(
            f.message_type.map(|t| u64::from(t.code())),
            int(&e["message_type"]),
            "frame {n} message type"
        );
        assert_eq!(f.host_name.as_deref(), text(&e["host_name"]), "frame {n}");
        assert_eq!(
            f.requested_address.map(|a| a.to_string()).as_deref(),
            text(&e["requested_address"]),
            "frame {n}"
        );
        assert_eq!(
            f.server_id.map(|a| a.to_string()).as_deref(),
            text(&e["server_id"]),
            "frame {n}"
        );
        assert_eq!(
            f.parameter_request_list
                .map(|l| l.codes().map(u64::from).collect::<Vec<_>>()),
            ints(&e["parameter_request_list"]),
            "frame {n} parameter request list"
        );
        if let Some(list) = ints(&e["parameter_request_list"]) {
            let joined: Vec<String> = list.iter().map(u64::to_string).collect();
            assert_eq!(
                f.parameter_request_list.map(|l| l.fingerprint()),
                Some(joined.join(",")),
                "frame {n} fingerprint"
            );
        }
        assert_eq!(
            f.max_message_size.map(u64::from),
            int(&e["max_message_size"]),
            "frame {n}"
        );
        assert_eq!(
            f.vendor_class.as_deref(),
            text(&e["vendor_class"]),
            "frame {n}"
        );
        assert_eq!(
            f.client_id
                .map(|c| format!("{:02x}{}", c.kind, hex(c.id, usize::MAX))),
            text(&e["client_id"]).map(str::to_string),
            "frame {n} client id"
        );
        assert_eq!(
            f.client_fqdn.as_ref().map(|q| u64::from(q.flags)),
            int(&e["fqdn_flags"]),
            "frame {n}"
        );
        assert_eq!(
            f.client_fqdn.as_ref().map(|q| q.name.as_str()),
            text(&e["fqdn_name"]),
            "frame {n} FQDN"
        );
    }
}

fn check_duid(n: u64, what: &str, duid: Option<Duid<'_>>, expected: &Value) {
    if expected.is_null() {
        assert!(duid.is_none(), "frame {n}: no {what}");
        return;
    }
    let duid = duid.unwrap_or_else(|| panic!("frame {n}: {what}"));
    assert_eq!(
        Some(duid.hex().as_str()),
        text(&expected["hex"]),
        "frame {n} {what}"
    );
    assert_eq!(
        Some(u64::from(duid.kind.code())),
        int(&expected["type"]),
        "frame {n} {what} type"
    );
    assert_eq!(
        duid.mac().map(mac_text).as_deref(),
        text(&expected["mac"]),
        "frame {n} {what} MAC"
    );
}

#[test]
fn dhcpv6_matches_tshark() {
    let manifest = manifest();
    let frames = frames();
    for e in entries(&manifest, "dhcpv6") {
        let n = number(e);
        let f: Dhcpv6Facts<'_> = parse_dhcpv6(payload(&frames, n, Kind::Dhcpv6));
        assert!(f.anomalies.is_empty(), "frame {n}: {:?}", f.anomalies);
        assert_eq!(
            f.message_type.map(|t| u64::from(t.code())),
            int(&e["message_type"]),
            "frame {n}"
        );
        assert_eq!(
            Some(u64::from(f.transaction_id)),
            int(&e["xid"]),
            "frame {n}"
        );
        check_duid(n, "client DUID", f.client_duid, &e["client_duid"]);
        check_duid(n, "server DUID", f.server_duid, &e["server_duid"]);
        assert_eq!(
            f.option_request
                .map(|l| l.codes().map(u64::from).collect::<Vec<_>>()),
            ints(&e["option_request"]),
            "frame {n} option request"
        );
        assert_eq!(
            f.vendor_class.as_ref().map(|v| u64::from(v.enterprise)),
            int(&e["vendor_enterprise"]),
            "frame {n}"
        );
        assert_eq!(
            f.vendor_class
                .as_ref()
                .map(|v| v.data.iter().map(|d| d.to_string()).collect::<Vec<_>>())
                .unwrap_or_default(),
            strings(&e["vendor_data"]),
            "frame {n} vendor class"
        );
        assert_eq!(
            f.client_fqdn.as_ref().map(|q| u64::from(q.flags)),
            int(&e["fqdn_flags"]),
            "frame {n}"
        );
        assert_eq!(
            f.client_fqdn.as_ref().map(|q| q.name.as_str()),
            text(&e["fqdn_name"]),
            "frame {n} FQDN"
        );
    }
}

fn section_name(section: Section) -> &'static str {
    match section {
        Section::Answer => "answer",
        Section::Authority => "authority",
        Section::Additional => "additional",
    }
}

fn check_dns(n: u64, m: &DnsMessage, e: &Value) {
    assert!(m.anomalies.is_empty(), "frame {n}: {:?}", m.anomalies);
    assert_eq!(Some(u64::from(m.header.id)), int(&e["id"]), "frame {n}");
    assert_eq!(
        Some(m.header.is_response()),
        e["response"].as_bool(),
        "frame {n}"
    );
    assert_eq!(
        Some(u64::from(m.header.opcode())),
        int(&e["opcode"]),
        "frame {n}"
    );
    let questions: Vec<(String, u64)> = m
        .questions
        .iter()
        .map(|q| (q.name.clone(), u64::from(q.qtype)))
        .collect();
    let expected: Vec<(String, u64)> = e["questions"]
        .as_array()
        .expect("questions")
        .iter()
        .map(|q| {
            (
                q["name"].as_str().unwrap_or_default().to_string(),
                int(&q["type"]).unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(questions, expected, "frame {n} questions");
    let records = e["records"].as_array().expect("records");
    assert_eq!(m.records.len(), records.len(), "frame {n} record count");
    for (i, (r, x)) in m.records.iter().zip(records).enumerate() {
        let at = format!("frame {n} record {i}");
        assert_eq!(Some(section_name(r.section)), text(&x["section"]), "{at}");
        assert_eq!(Some(r.name.as_str()), text(&x["name"]), "{at} name");
        assert_eq!(Some(u64::from(r.rtype)), int(&x["type"]), "{at} type");
        if let Some(ttl) = int(&x["ttl"]) {
            assert_eq!(u64::from(r.ttl), ttl, "{at} ttl");
        }
        match &r.data {
            RecordData::A(a) => assert_eq!(Some(a.to_string().as_str()), text(&x["a"]), "{at}"),
            RecordData::Aaaa(a) => {
                assert_eq!(Some(a.to_string().as_str()), text(&x["aaaa"]), "{at}")
            }
            RecordData::Ptr(p) => assert_eq!(Some(p.as_str()), text(&x["ptr"]), "{at}"),
            RecordData::Srv { port, target, .. } => {
                assert_eq!(Some(target.as_str()), text(&x["srv_target"]), "{at}");
                assert_eq!(Some(u64::from(*port)), int(&x["srv_port"]), "{at}");
            }
            RecordData::Txt(entries) => {
                let ours: Vec<String> = entries
                    .iter()
                    .map(|t| match &t.value {
                        Some(v) => format!("{}={v}", t.key),
                        None => t.key.clone(),
                    })
                    .collect();
                assert_eq!(ours, strings(&x["txt"]), "{at} TXT");
            }
            RecordData::Hinfo { cpu, os } => {
                assert_eq!(vec![cpu.clone(), os.clone()], strings(&x["hinfo"]), "{at}")
            }
            RecordData::Other => {
                for key in ["a", "aaaa", "ptr", "srv_target", "txt", "hinfo"] {
                    assert!(x[key].is_null(), "{at}: tshark read {key}");
                }
            }
        }
    }
}

#[test]
fn dns_mdns_and_llmnr_match_tshark() {
    let manifest = manifest();
    let frames = frames();
    let mut seen = BTreeMap::new();
    for e in entries(&manifest, "dns") {
        let n = number(e);
        let kind = match text(&e["protocol"]) {
            Some("mdns") => Kind::Mdns,
            Some("llmnr") => Kind::Llmnr,
            _ => Kind::Dns,
        };
        *seen.entry(kind).or_insert(0) += 1;
        let message = parse_dns(payload(&frames, n, kind));
        check_dns(n, &message, e);
    }
    assert_eq!(seen.len(), 3, "DNS, mDNS and LLMNR frames: {seen:?}");
}

#[test]
fn dns_answers_and_mdns_announcements_name_addresses() {
    let manifest = manifest();
    let frames = frames();
    let mut claims = Vec::new();
    for e in entries(&manifest, "dns") {
        let kind = match text(&e["protocol"]) {
            Some("mdns") => Kind::Mdns,
            Some("llmnr") => Kind::Llmnr,
            _ => Kind::Dns,
        };
        let message = parse_dns(payload(&frames, number(e), kind));
        claims.extend(
            message
                .name_claims()
                .map(|c| (c.name.to_string(), c.address.to_string())),
        );
    }
    for (name, address) in [
        ("pacs.ward.example", "10.77.0.5"),
        ("pacs.ward.example", "fd77::5"),
        ("infusion-pump-7.local", "fd77::69:64ff:fe00:a"),
        ("patient-monitor-3", "fd77::69:64ff:fe00:b"),
    ] {
        assert!(
            claims.iter().any(|c| c.0 == name && c.1 == address),
            "{name} → {address} in {claims:?}"
        );
    }
}

#[test]
fn nbns_matches_tshark() {
    let manifest = manifest();
    let frames = frames();
    for e in entries(&manifest, "nbns") {
        let n = number(e);
        let m = parse_nbns(payload(&frames, n, Kind::Nbns));
        assert!(m.anomalies.is_empty(), "frame {n}: {:?}", m.anomalies);
        assert_eq!(Some(u64::from(m.header.id)), int(&e["id"]), "frame {n}");
        assert_eq!(
            Some(m.header.is_response()),
            e["response"].as_bool(),
            "frame {n}"
        );
        assert_eq!(
            Some(u64::from(m.header.opcode())),
            int(&e["opcode"]),
            "frame {n}"
        );
        let names = e["names"].as_array().expect("names");
        assert_eq!(m.names.len(), names.len(), "frame {n}");
        for (ours, x) in m.names.iter().zip(names) {
            let section = ours.section.map_or("question", section_name);
            assert_eq!(Some(section), text(&x["section"]), "frame {n}");
            let tshark = text(&x["name"]).expect("name");
            // tshark writes every NUL of the wildcard name `*` as <00>; the
            // parser trims the padding.
            let tshark = if tshark.starts_with('*') {
                "*<00>".to_string()
            } else {
                tshark.to_string()
            };
            assert_eq!(ours.name.to_string(), tshark, "frame {n}");
            assert_eq!(Some(u64::from(ours.rtype)), int(&x["type"]), "frame {n}");
            if let Some(ttl) = int(&x["ttl"]) {
                assert_eq!(u64::from(ours.ttl), ttl, "frame {n}");
            }
            let addresses: Vec<String> = ours.addresses.iter().map(|a| a.to_string()).collect();
            assert_eq!(addresses, strings(&x["addresses"]), "frame {n}");
            assert_eq!(ours.group, x["group"].as_bool(), "frame {n}");
        }
        let status = e["node_status"].as_array().expect("node_status");
        assert_eq!(m.node_status.len(), status.len(), "frame {n}");
        for (ours, x) in m.node_status.iter().zip(status) {
            assert_eq!(Some(ours.name.name.as_str()), text(&x["name"]), "frame {n}");
            assert_eq!(Some(ours.group), x["group"].as_bool(), "frame {n}");
        }
    }
}

#[test]
fn ssdp_matches_tshark() {
    let manifest = manifest();
    let frames = frames();
    for e in entries(&manifest, "ssdp") {
        let n = number(e);
        let m = parse_ssdp(payload(&frames, n, Kind::Ssdp));
        assert!(m.anomalies.is_empty(), "frame {n}: {:?}", m.anomalies);
        let kind = match (text(&e["method"]), int(&e["status"])) {
            (Some("NOTIFY"), _) => SsdpKind::Notify,
            (Some("M-SEARCH"), _) => SsdpKind::Search,
            (None, Some(status)) => SsdpKind::Response {
                status: u16::try_from(status).expect("status"),
            },
            other => panic!("frame {n}: {other:?}"),
        };
        assert_eq!(m.kind, Some(kind), "frame {n}");
        let headers = &e["headers"];
        for (ours, name) in [
            (&m.server, "SERVER"),
            (&m.location, "LOCATION"),
            (&m.nt, "NT"),
            (&m.nts, "NTS"),
            (&m.st, "ST"),
            (&m.usn, "USN"),
            (&m.user_agent, "USER-AGENT"),
            (&m.cache_control, "CACHE-CONTROL"),
        ] {
            assert_eq!(ours.as_deref(), text(&headers[name]), "frame {n} {name}");
        }
        assert_eq!(m.server.as_deref(), text(&e["server"]), "frame {n}");
        assert_eq!(m.location.as_deref(), text(&e["location"]), "frame {n}");
    }
}

#[test]
fn lldp_matches_tshark() {
    let manifest = manifest();
    let frames = frames();
    for e in entries(&manifest, "lldp") {
        let n = number(e);
        let f = parse_lldp(payload(&frames, n, Kind::Lldp));
        assert!(f.anomalies.is_empty(), "frame {n}: {:?}", f.anomalies);
        let chassis = f.chassis_id.as_ref().expect("chassis id");
        assert_eq!(
            Some(u64::from(chassis.subtype)),
            int(&e["chassis_subtype"]),
            "frame {n}"
        );
        assert_eq!(Some(&*chassis.value), text(&e["chassis_id"]), "frame {n}");
        let port = f.port_id.as_ref().expect("port id");
        assert_eq!(
            Some(u64::from(port.subtype)),
            int(&e["port_subtype"]),
            "frame {n}"
        );
        assert_eq!(Some(&*port.value), text(&e["port_id"]), "frame {n}");
        assert_eq!(f.ttl.map(u64::from), int(&e["ttl"]), "frame {n}");
        assert_eq!(
            f.port_description.as_deref(),
            text(&e["port_description"]),
            "frame {n}"
        );
        assert_eq!(
            f.system_name.as_deref(),
            text(&e["system_name"]),
            "frame {n}"
        );
        assert_eq!(
            f.system_description.as_deref(),
            text(&e["system_description"]),
            "frame {n}"
        );
        assert_eq!(
            f.capabilities.map(|c| u64::from(c.available)),
            int(&e["capabilities"]),
            "frame {n}"
        );
        assert_eq!(
            f.capabilities.map(|c| u64::from(c.enabled)),
            int(&e["enabled_capabilities"]),
            "frame {n}"
        );
        let management: Vec<String> = f
            .management_addresses
            .iter()
            .map(|a| match a {
                ManagementAddress::Ip(ip) => ip.to_string(),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(management, strings(&e["management_addresses"]), "frame {n}");
    }
}

#[test]
fn cdp_matches_tshark() {
    let manifest = manifest();
    let frames = frames();
    for e in entries(&manifest, "cdp") {
        let n = number(e);
        let f = parse_cdp(payload(&frames, n, Kind::Cdp));
        assert!(f.anomalies.is_empty(), "frame {n}: {:?}", f.anomalies);
        assert_eq!(Some(u64::from(f.version)), int(&e["version"]), "frame {n}");
        assert_eq!(Some(u64::from(f.ttl)), int(&e["ttl"]), "frame {n}");
        assert_eq!(f.device_id.as_deref(), text(&e["device_id"]), "frame {n}");
        assert_eq!(f.port_id.as_deref(), text(&e["port_id"]), "frame {n}");
        assert_eq!(
            f.software_version.as_deref(),
            text(&e["software_version"]),
            "frame {n}"
        );
        assert_eq!(f.platform.as_deref(), text(&e["platform"]), "frame {n}");
        assert_eq!(
            f.capabilities.map(u64::from),
            int(&e["capabilities"]),
            "frame {n}"
        );
        let addresses: Vec<String> = f.addresses.iter().map(|a| a.to_string()).collect();
        assert_eq!(addresses, strings(&e["addresses"]), "frame {n}");
    }
}
