//! The shape of the DICOM forwarder capture (fixtures/forwarder/): two
//! modalities (CT01, MR01) store their images on a DICOM router (ROUTER),
//! which forwards each one to a PACS on an association of its own. These
//! tests read the capture with the `pcap` crate and check it against its
//! manifest, which tshark wrote (fixtures/forwarder/manifest.py): the hosts
//! and their MACs, the associations per pair of hosts and their AE titles,
//! and where each C-STORE and its data set's equipment are. They guard the
//! fixture, not medtap.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a test fails by panicking"
)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::fixture;
use serde_json::Value;

const MAX_CAPTURE_BYTES: u64 = 1_572_864;

fn manifest() -> Value {
    let text = std::fs::read_to_string(fixture("forwarder/manifest.json")).expect("manifest");
    serde_json::from_str(&text).expect("JSON")
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("a string, not {v}"))
}

/// One frame: its number (from 1, as tshark counts), MACs, and, for IPv4
/// TCP, addresses, ports, flags and payload.
struct Frame {
    number: u64,
    src_mac: String,
    dst_mac: String,
    tcp: Option<Tcp>,
    ipv4_src: Option<String>,
}

struct Tcp {
    src: String,
    dst: String,
    sport: u16,
    dport: u16,
    syn: bool,
    ack: bool,
    payload: Vec<u8>,
}

fn mac(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn ipv4(b: &[u8]) -> String {
    format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3])
}

fn frames() -> Vec<Frame> {
    let mut capture =
        pcap::Capture::from_file(fixture("forwarder/forwarder.pcapng")).expect("opens");
    assert_eq!(capture.get_datalink(), pcap::Linktype::ETHERNET);
    let mut out = Vec::new();
    let mut number = 0;
    while let Ok(p) = capture.next_packet() {
        number += 1;
        let d = p.data;
        assert!(d.len() >= 14, "frame {number} is short");
        let mut frame = Frame {
            number,
            dst_mac: mac(&d[0..6]),
            src_mac: mac(&d[6..12]),
            tcp: None,
            ipv4_src: None,
        };
        if d[12..14] == [0x08, 0x00] {
            let ip = &d[14..];
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
            frame.ipv4_src = Some(ipv4(&ip[12..16]));
            if ip[9] == 6 {
                let t = &ip[ihl..total];
                let off = usize::from(t[12] >> 4) * 4;
                frame.tcp = Some(Tcp {
                    src: ipv4(&ip[12..16]),
                    dst: ipv4(&ip[16..20]),
                    sport: u16::from_be_bytes([t[0], t[1]]),
                    dport: u16::from_be_bytes([t[2], t[3]]),
                    syn: t[13] & 0x02 != 0,
                    ack: t[13] & 0x10 != 0,
                    payload: t[off..].to_vec(),
                });
            }
        }
        out.push(frame);
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn the_capture_is_small_and_holds_what_the_manifest_counts() {
    let m = manifest();
    let path = fixture("forwarder/forwarder.pcapng");
    let size = std::fs::metadata(&path).expect("metadata").len();
    assert!(size < MAX_CAPTURE_BYTES, "{size} bytes");
    let frames = frames();
    assert_eq!(frames.len() as u64, m["packets"].as_u64().expect("packets"));
    // The capture runs before the links come up: ARP precedes the first
    // connection.
    let first_syn = frames
        .iter()
        .position(|f| f.tcp.as_ref().is_some_and(|t| t.syn))
        .expect("a SYN");
    assert!(
        frames[..first_syn]
            .iter()
            .any(|f| f.tcp.is_none() && f.ipv4_src.is_none()),
        "no ARP before the first SYN"
    );
}

#[test]
fn every_host_is_seen_with_its_own_mac() {
    let m = manifest();
    let hosts: BTreeMap<&str, &str> = m["hosts"]
        .as_array()
        .expect("hosts")
        .iter()
        .map(|h| (s(&h["ip"]), s(&h["mac"])))
        .collect();
    assert_eq!(hosts.len(), 4);
    let mut seen = BTreeSet::new();
    for f in frames() {
        if let Some(src) = &f.ipv4_src {
            let want = hosts
                .get(src.as_str())
                .unwrap_or_else(|| panic!("frame {}: unknown host {src}", f.number));
            assert_eq!(&f.src_mac, want, "frame {}: {src}", f.number);
            seen.insert(src.clone());
        }
    }
    assert_eq!(
        seen,
        hosts.keys().map(|k| k.to_string()).collect::<BTreeSet<_>>()
    );
}

#[test]
fn associations_per_pair_of_hosts_are_those_tshark_saw() {
    let m = manifest();
    let port = m["dicom_port"].as_u64().expect("port") as u16;
    let frames = frames();
    // Connections opened to the DICOM port, per source and destination.
    let mut syns: BTreeMap<String, u64> = BTreeMap::new();
    for f in &frames {
        if let Some(t) = &f.tcp
            && t.syn
            && !t.ack
        {
            assert_eq!(t.dport, port, "frame {}", f.number);
            *syns.entry(format!("{}->{}", t.src, t.dst)).or_default() += 1;
        }
    }
    let by_pair: BTreeMap<String, u64> = m["summary"]["associations_by_pair"]
        .as_object()
        .expect("associations_by_pair")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().expect("count")))
        .collect();
    assert_eq!(syns, by_pair);

    // The topology: each modality calls the router once; the router calls
    // the PACS once per image it forwards.
    let hosts: BTreeMap<&str, &Value> = m["hosts"]
        .as_array()
        .expect("hosts")
        .iter()
        .map(|h| (s(&h["name"]), h))
        .collect();
    let ip = |name: &str| s(&hosts[name]["ip"]).to_owned();
    let router = ip("router");
    let pacs = ip("pacs");
    for modality in ["ct", "mr"] {
        assert_eq!(by_pair[&format!("{}->{router}", ip(modality))], 1);
    }
    let stores: BTreeMap<String, u64> = m["summary"]["c_stores_by_pair"]
        .as_object()
        .expect("c_stores_by_pair")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().expect("count")))
        .collect();
    let received =
        stores[&format!("{}->{router}", ip("ct"))] + stores[&format!("{}->{router}", ip("mr"))];
    assert!(received >= 4, "{received} images received");
    assert_eq!(by_pair[&format!("{router}->{pacs}")], received);
    assert_eq!(stores[&format!("{router}->{pacs}")], received);
    assert_eq!(by_pair.len(), 3, "{by_pair:?}");
    assert_eq!(stores.len(), 3, "{stores:?}");

    // Each association's A-ASSOCIATE-RQ, the first PDU its SCU sends,
    // names the AE titles the manifest gives; tshark shows it on the frame
    // that completes it, in the same connection.
    for a in m["associations"].as_array().expect("associations") {
        let sport = a["src_port"].as_u64().expect("src_port") as u16;
        let from_scu = |f: &&Frame| {
            f.tcp
                .as_ref()
                .is_some_and(|t| t.src == s(&a["src_ip"]) && t.sport == sport)
        };
        let first = frames
            .iter()
            .filter(from_scu)
            .find(|f| f.tcp.as_ref().is_some_and(|t| !t.payload.is_empty()))
            .expect("the association's first PDU");
        let pdu = &first.tcp.as_ref().expect("TCP").payload;
        let number = first.number;
        assert_eq!(pdu[0], 0x01, "frame {number}: not an A-ASSOCIATE-RQ");
        let called = String::from_utf8_lossy(&pdu[10..26]).trim().to_owned();
        let calling = String::from_utf8_lossy(&pdu[26..42]).trim().to_owned();
        assert_eq!(called, s(&a["called_ae"]), "frame {number}");
        assert_eq!(calling, s(&a["calling_ae"]), "frame {number}");
        assert_eq!(first.src_mac, s(&a["src_mac"]));
        assert_eq!(first.dst_mac, s(&a["dst_mac"]));
        let shown = a["frame"].as_u64().expect("frame");
        assert!(shown >= number, "frame {shown} before {number}");
        assert!(
            frames.iter().filter(from_scu).any(|f| f.number == shown),
            "frame {shown} is not in the association of frame {number}"
        );
    }
}

#[test]
fn each_c_store_carries_its_modalitys_equipment_where_the_manifest_says() {
    let m = manifest();
    let frames = frames();
    let equipment = m["equipment"].as_object().expect("equipment");
    assert_eq!(
        equipment.keys().map(String::as_str).collect::<Vec<_>>(),
        ["CT01", "MR01"]
    );
    let stores = m["c_stores"].as_array().expect("c_stores");
    let mut per_modality: BTreeMap<&str, u64> = BTreeMap::new();
    for st in stores {
        let number = st["frame"].as_u64().expect("frame");
        let last = st["dataset_frame"].as_u64().expect("dataset_frame");
        assert!(last >= number, "frame {number}: data set at {last}");
        let f = &frames[number as usize - 1];
        let t = f.tcp.as_ref().expect("TCP");
        assert_eq!(t.src, s(&st["src_ip"]), "frame {number}");
        assert_eq!(t.dst, s(&st["dst_ip"]), "frame {number}");
        assert_eq!(f.src_mac, s(&st["src_mac"]), "frame {number}");
        assert_eq!(f.dst_mac, s(&st["dst_mac"]), "frame {number}");
        // What the SCU sent on this connection from the command to the end
        // of the data set.
        let sent: Vec<u8> = frames[number as usize - 1..last as usize]
            .iter()
            .filter_map(|g| g.tcp.as_ref())
            .filter(|u| {
                u.src == t.src && u.sport == t.sport && u.dst == t.dst && u.dport == t.dport
            })
            .flat_map(|u| u.payload.iter().copied())
            .collect();
        let ds = &st["dataset"];
        let sop = s(&ds["SOPInstanceUID"]);
        assert_eq!(sop, s(&st["affected_sop_instance_uid"]));
        assert!(contains(&sent, sop), "frame {number}: {sop}");
        // Forwarded or not, the data set names the modality that made it.
        let station = s(&ds["StationName"]);
        let made_by = &equipment[station];
        for (key, value) in made_by.as_object().expect("equipment") {
            assert_eq!(&ds[key], value, "frame {number}: {key}");
            assert!(
                contains(&sent, s(value)),
                "frames {number}..={last}: {key} {value} not sent"
            );
        }
        if s(&st["calling_ae"]) != "ROUTER" {
            assert_eq!(s(&st["calling_ae"]), station, "frame {number}");
        }
        *per_modality.entry(station).or_default() += 1;
    }
    // Every image twice: once from its modality, once from the router.
    assert!(
        per_modality.values().all(|n| n % 2 == 0),
        "{per_modality:?}"
    );
    assert_eq!(
        m["forwarded"].as_array().expect("forwarded").len() * 2,
        stores.len()
    );
}
