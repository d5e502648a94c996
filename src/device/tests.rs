use super::*;

const PHILIPS: Mac = [0x00, 0x09, 0xfb, 0x00, 0x00, 0x01];
const ROUTER: Mac = [0x00, 0x11, 0x22, 0x33, 0x44, 0x55];

fn ep(mac: Option<Mac>, ip: &str) -> EndpointKey {
    EndpointKey {
        mac,
        ip: ip.parse().expect("ip"),
        vlan: 0,
    }
}

fn new_id(s: Sighting) -> Option<String> {
    match s {
        Sighting::New(r) => Some(r.id),
        Sighting::Known => None,
    }
}

#[test]
fn a_local_sender_with_a_mac_is_keyed_by_mac_once() {
    let table = DeviceTable::new();
    let mut registry = Registry::new(HomeNets::default());
    let first = registry.observe(&table, ep(Some(PHILIPS), "10.1.0.5"), 10);
    assert_eq!(new_id(first).as_deref(), Some("mac:00:09:fb:00:00:01"));
    // The same MAC with its IPv6 link-local address is the same device.
    assert_eq!(
        new_id(registry.observe(&table, ep(Some(PHILIPS), "fe80::1"), 11)),
        None
    );
    assert_eq!(table.len(), 1);
    let inventory = table.inventory();
    assert_eq!(inventory.len(), 1);
    assert_eq!(inventory[0].ips.len(), 2);
}

#[test]
fn a_dhcp_client_and_duplicate_address_detection_keep_the_device_keyed_by_its_mac() {
    let table = DeviceTable::new();
    let mut registry = Registry::new(HomeNets::parse(&["10.99.0.0/16"]).expect("cidr"));
    // DHCPDISCOVER from 0.0.0.0, DAD from ::, then link-local and the lease,
    // with home networks that name neither the unspecified nor the
    // link-local addresses.
    let first = registry.observe(&table, ep(Some(PHILIPS), "0.0.0.0"), 1);
    assert_eq!(new_id(first).as_deref(), Some("mac:00:09:fb:00:00:01"));
    for (ts, ip) in [
        (2, "::"),
        (3, "fe80::209:fbff:fe00:1"),
        (4, "169.254.7.7"),
        (5, "10.99.0.10"),
    ] {
        assert_eq!(
            new_id(registry.observe(&table, ep(Some(PHILIPS), ip), ts)),
            None,
            "{ip}"
        );
    }
    assert_eq!(registry.gateways().count(), 0);
    let inventory = table.inventory();
    assert_eq!(inventory.len(), 1);
    assert_eq!(inventory[0].vendor, Some("Philips Patient Monitoring"));
    assert_eq!(inventory[0].ips.len(), 3, "{:?}", inventory[0].ips);
}

#[test]
fn broadcast_multicast_and_bare_unspecified_sources_are_no_device_and_no_router() {
    let table = DeviceTable::new();
    let mut registry = Registry::new(HomeNets::default());
    for ip in ["255.255.255.255", "224.0.0.251", "ff02::1"] {
        assert_eq!(
            new_id(registry.observe(&table, ep(Some(ROUTER), ip), 1)),
            None
        );
    }
    assert_eq!(
        new_id(registry.observe(&table, ep(None, "0.0.0.0"), 1)),
        None
    );
    assert!(table.is_empty());
    assert_eq!(registry.gateways().count(), 0);
}

#[test]
fn public_senders_are_peers_and_mark_their_mac_a_gateway() {
    let table = DeviceTable::new();
    let mut registry = Registry::new(HomeNets::default());
    assert_eq!(
        new_id(registry.observe(&table, ep(Some(ROUTER), "8.8.8.8"), 1)),
        None
    );
    assert!(table.is_empty());
    // A local address behind the gateway MAC is keyed by IP.
    let id = new_id(registry.observe(&table, ep(Some(ROUTER), "10.2.0.9"), 2));
    assert_eq!(id.as_deref(), Some("ip:10.2.0.9"));
}

#[test]
fn a_mac_sending_for_many_addresses_becomes_a_gateway() {
    let table = DeviceTable::new();
    let mut registry = Registry::new(HomeNets::default());
    let ids: Vec<_> = ["10.3.0.1", "10.3.0.2", "10.3.0.3", "10.3.0.4"]
        .iter()
        .enumerate()
        .filter_map(|(i, ip)| new_id(registry.observe(&table, ep(Some(ROUTER), ip), i as i64)))
        .collect();
    assert_eq!(
        ids,
        vec!["mac:00:11:22:33:44:55", "ip:10.3.0.3", "ip:10.3.0.4"]
    );
    assert_eq!(table.stats().gateways, 1);
}

#[test]
fn without_l2_a_sender_is_keyed_by_ip_and_vlan() {
    let table = DeviceTable::new();
    let mut registry = Registry::new(HomeNets::default());
    let mut key = ep(None, "192.168.1.10");
    key.vlan = 20;
    let id = new_id(registry.observe(&table, key, 0));
    assert_eq!(id.as_deref(), Some("ip:192.168.1.10@vlan20"));
}

#[test]
fn home_nets_are_configurable() {
    let table = DeviceTable::new();
    let mut registry = Registry::new(HomeNets::parse(&["203.0.113.0/24"]).expect("cidr"));
    assert!(new_id(registry.observe(&table, ep(None, "203.0.113.7"), 0)).is_some());
    assert!(new_id(registry.observe(&table, ep(None, "10.0.0.1"), 0)).is_none());
    assert!(HomeNets::parse(&["10.0.0.0/33"]).is_err());
}

#[test]
fn traffic_is_credited_to_the_bound_device() {
    let table = DeviceTable::new();
    let mut registry = Registry::new(HomeNets::default());
    let a = ep(Some(PHILIPS), "10.1.0.5");
    let peer = ep(None, "93.184.216.34");
    registry.observe(&table, a, 5);
    table.credit(
        a,
        peer,
        Counts {
            packets: 3,
            bytes: 300,
        },
        9_000_000,
    );
    table.credit(
        peer,
        a,
        Counts {
            packets: 2,
            bytes: 1000,
        },
        10_000_000,
    );
    let inv = table.inventory();
    let t = inv[0].traffic.as_ref().expect("traffic");
    assert_eq!((t.packets_sent, t.bytes_sent), (3, 300));
    assert_eq!((t.packets_received, t.bytes_received), (2, 1000));
    assert_eq!(t.last_seen, Timestamp(10_000_000));
}

/// Issue 14: a flood of random source MACs grows no map without bound; the
/// router candidates are forgotten, counted, and a router is found again.
#[test]
fn a_flood_of_random_macs_is_forgotten_and_counted() {
    let mut registry = Registry::new(HomeNets::default());
    let ip: IpAddr = "10.9.0.1".parse().unwrap();
    for i in 0..=MAX_GATEWAY_CANDIDATES as u32 {
        let b = i.to_be_bytes();
        let mac = [0x02, 0x00, b[0], b[1], b[2], b[3]];
        assert!(!registry.sends_for_many(&mac, ip, 0, MAX_GATEWAY_CANDIDATES));
    }
    assert_eq!(registry.gateway_candidates_forgotten(), 1);
    assert_eq!(registry.ipv4_per_mac.len(), 1);
    let found = ["10.9.0.1", "10.9.0.2", "10.9.0.3"]
        .iter()
        .map(|a| registry.sends_for_many(&ROUTER, a.parse().unwrap(), 0, MAX_GATEWAY_CANDIDATES))
        .collect::<Vec<_>>();
    assert_eq!(found, [false, false, true]);
}

fn equipment_of(
    manufacturer: &str,
    model: &str,
    serial: &str,
    software: &str,
) -> Vec<(&'static str, String)> {
    vec![
        (
            "dicom.modality",
            if manufacturer == "GE" { "CT" } else { "MR" }.to_owned(),
        ),
        ("dicom.manufacturer", manufacturer.to_owned()),
        ("dicom.model", model.to_owned()),
        ("dicom.serial_number", serial.to_owned()),
        ("dicom.software_versions", software.to_owned()),
    ]
}

/// What the merge stage does with one data set's equipment facts.
fn send_data_set(
    registry: &mut Registry,
    table: &DeviceTable,
    endpoint: EndpointKey,
    facts: &[(&'static str, String)],
) -> Equipment {
    send_image(
        registry,
        table,
        [endpoint, ep(None, "10.9.9.9")],
        None,
        facts,
    )
}

/// The same, for an image (`uid`) sent from one endpoint to another.
fn send_image(
    registry: &mut Registry,
    table: &DeviceTable,
    [from, to]: [EndpointKey; 2],
    uid: Option<&str>,
    facts: &[(&'static str, String)],
) -> Equipment {
    let facts: Vec<(&'static str, &str)> = facts.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let verdict = registry.equipment(table, [from, to], uid, &facts);
    if verdict == Equipment::Own {
        registry.identify(table, from, facts.iter().copied());
    }
    verdict
}

#[test]
fn a_modality_keeps_its_own_equipment_and_a_firmware_update_is_still_its_own() {
    let table = DeviceTable::new();
    let mut registry = Registry::new(HomeNets::default());
    let ct = ep(Some(PHILIPS), "10.4.0.10");
    registry.observe(&table, ct, 1);
    let v1 = equipment_of("GE", "Revolution", "CT-1234", "1.0");
    assert_eq!(
        send_data_set(&mut registry, &table, ct, &v1),
        Equipment::Own
    );
    assert_eq!(
        send_data_set(&mut registry, &table, ct, &v1),
        Equipment::Own
    );
    let v2 = equipment_of("GE", "Revolution", "CT-1234", "2.0");
    assert_eq!(
        send_data_set(&mut registry, &table, ct, &v2),
        Equipment::Own
    );
    let record = &table.inventory()[0];
    assert!(record.relayed_equipment.is_empty());
    assert_eq!(record.identity["dicom"]["manufacturer"], ["GE"]);
}

#[test]
fn a_sender_of_a_second_pieces_equipment_is_a_forwarder_and_relays_it_all() {
    let table = DeviceTable::new();
    let mut registry = Registry::new(HomeNets::default());
    let router = ep(Some(ROUTER), "10.4.0.2");
    registry.observe(&table, router, 1);
    let ct = equipment_of("GE", "Revolution", "CT-1234", "1.0");
    let mr = equipment_of("Siemens", "Skyra", "MR-77", "VE11");
    // The first data set is credited to it: nothing says otherwise yet.
    assert_eq!(
        send_data_set(&mut registry, &table, router, &ct),
        Equipment::Own
    );
    // The second piece of equipment shows it forwards.
    let Equipment::Relayed(Some(record)) = send_data_set(&mut registry, &table, router, &mr) else {
        panic!("the MR's data set is not relayed");
    };
    assert!(record.roles.contains(&FORWARDER_ROLE.to_owned()));
    assert!(
        !record.identity.contains_key("dicom"),
        "{:?}",
        record.identity
    );
    let makers: Vec<&str> = record
        .relayed_equipment
        .iter()
        .map(|e| e["manufacturer"].as_str())
        .collect();
    assert_eq!(makers, ["GE", "Siemens"]);
    // The CT again: relayed, nothing new to say.
    assert_eq!(
        send_data_set(&mut registry, &table, router, &ct),
        Equipment::Relayed(None)
    );
    assert_eq!(table.inventory()[0].relayed_equipment.len(), 2);
}

#[test]
fn dhcp_leases_hours_apart_are_one_device_with_an_address_history() {
    let table = DeviceTable::new();
    let mut registry = Registry::new(HomeNets::default());
    let hour = 3_600 * 1_000_000;
    // A new lease every two hours, each used for a while.
    for lease in 0..5 {
        let ip = format!("10.99.0.{}", 10 + lease);
        let first = lease * 2 * hour;
        let endpoint = ep(Some(PHILIPS), &ip);
        let sighting = registry.observe(&table, endpoint, first);
        assert_eq!(new_id(sighting).is_some(), lease == 0, "{ip}");
        let peer = ep(None, "10.99.0.1");
        table.credit(
            endpoint,
            peer,
            Counts {
                packets: 1,
                bytes: 60,
            },
            first + hour,
        );
    }
    assert_eq!(registry.gateways().count(), 0);
    let inventory = table.inventory();
    assert_eq!(inventory.len(), 1, "the peer only received");
    let pump = &inventory[0];
    assert_eq!(pump.id, "mac:00:09:fb:00:00:01");
    let history: Vec<(String, i64, i64)> = pump
        .addresses
        .iter()
        .map(|a| (a.ip.to_string(), a.first_seen.0, a.last_seen.0))
        .collect();
    assert_eq!(history.len(), 5);
    assert_eq!(history[0], ("10.99.0.10".into(), 0, hour));
    assert_eq!(history[4], ("10.99.0.14".into(), 8 * hour, 9 * hour));
}

#[test]
fn three_new_addresses_within_the_window_are_routing() {
    let table = DeviceTable::new();
    let mut registry = Registry::new(HomeNets::default());
    let minute = 60 * 1_000_000;
    for (i, ip) in ["10.3.0.1", "10.3.0.2", "10.3.0.3"].iter().enumerate() {
        registry.observe(&table, ep(Some(ROUTER), ip), i as i64 * 20 * minute);
    }
    assert_eq!(registry.gateways().count(), 1);
}

#[test]
fn the_address_history_is_bounded_and_keeps_the_active_addresses() {
    let table = DeviceTable::new();
    let mut registry = Registry::new(HomeNets::default());
    let stable = ep(Some(PHILIPS), "10.99.0.10");
    registry.observe(&table, stable, 0);
    // IPv6 privacy addresses keep coming while the IPv4 lease stays in use.
    for i in 1..=(MAX_ADDRESSES_PER_DEVICE as i64 + 10) {
        let privacy = ep(Some(PHILIPS), &format!("fd00::{i:x}"));
        registry.observe(&table, privacy, i * 1_000);
        table.credit(
            privacy,
            stable,
            Counts {
                packets: 1,
                bytes: 60,
            },
            i * 1_000,
        );
        table.credit(
            stable,
            privacy,
            Counts {
                packets: 1,
                bytes: 60,
            },
            i * 1_000 + 1,
        );
    }
    let inventory = table.inventory();
    let pump = &inventory[0];
    assert_eq!(pump.addresses.len(), MAX_ADDRESSES_PER_DEVICE);
    let ips: Vec<String> = pump.addresses.iter().map(|a| a.ip.to_string()).collect();
    assert!(ips.contains(&"10.99.0.10".to_owned()), "{ips:?}");
    assert!(ips.contains(&"fd00::2a".to_owned()), "{ips:?}");
    assert!(!ips.contains(&"fd00::1".to_owned()), "{ips:?}");
}

#[test]
fn a_routers_own_link_local_address_is_the_router() {
    let table = DeviceTable::new();
    let mut registry = Registry::new(HomeNets::default());
    for (i, ip) in ["10.3.0.1", "10.3.0.2", "10.3.0.3"].iter().enumerate() {
        registry.observe(&table, ep(Some(ROUTER), ip), i as i64);
    }
    assert_eq!(registry.gateways().count(), 1);
    // Its router advertisements come from its link-local address.
    let ra = registry.observe(&table, ep(Some(ROUTER), "fe80::f6bd:9eff:fe10:2001"), 10);
    assert_eq!(new_id(ra), None);
    assert_eq!(
        table.device_of(&ep(Some(ROUTER), "fe80::f6bd:9eff:fe10:2001")),
        Some(DeviceKey::Mac(ROUTER))
    );
}

#[test]
fn dns_answers_name_the_device_using_an_address_even_before_it_sends() {
    let table = DeviceTable::new();
    let mut registry = Registry::new(HomeNets::default());
    registry.observe(&table, ep(Some(PHILIPS), "10.20.1.13"), 1);
    // An address in use: the device is named at once.
    let named = registry.named(&table, "10.20.1.13".parse().unwrap(), "mon01.ward3.example");
    assert_eq!(
        named.map(|r| r.identity["dns"]["name"].clone()),
        Some(vec!["mon01.ward3.example".to_owned()])
    );
    // Told again: nothing new.
    assert!(
        registry
            .named(&table, "10.20.1.13".parse().unwrap(), "mon01.ward3.example")
            .is_none()
    );
    // An address no device has sent from yet: the name waits for it.
    assert!(
        registry
            .named(&table, "10.20.2.10".parse().unwrap(), "pacs.example")
            .is_none()
    );
    let pacs = registry.observe(&table, ep(Some(ROUTER), "10.20.2.10"), 5);
    let Sighting::New(record) = pacs else {
        panic!("a new device");
    };
    assert_eq!(
        record.identity["dns"]["name"],
        vec!["pacs.example".to_owned()]
    );
    // Public addresses are not devices; their names are not kept.
    assert!(
        registry
            .named(&table, "8.8.8.8".parse().unwrap(), "dns.google")
            .is_none()
    );
    assert!(registry.pending_names.is_empty());
}

#[test]
fn names_waiting_for_their_devices_are_bounded() {
    let table = DeviceTable::new();
    let mut registry = Registry::new(HomeNets::default());
    for i in 0..=MAX_PENDING_NAMES as u32 {
        let ip = std::net::Ipv4Addr::from(0x0a00_0000 + i);
        registry.named(&table, ip.into(), "host.example");
    }
    assert_eq!(registry.pending_names_forgotten(), 1);
    assert_eq!(registry.pending_names.len(), 1);
}

#[test]
fn a_node_that_sends_an_image_it_received_is_a_forwarder_from_the_first() {
    let table = DeviceTable::new();
    let mut registry = Registry::new(HomeNets::default());
    let ct = ep(Some([0x44, 0x4b, 0x5d, 0, 0, 0x11]), "10.20.1.11");
    let router = ep(Some([0x02, 0, 0, 0, 0, 0x05]), "10.20.1.5");
    let pacs = ep(Some([0x02, 0, 0, 0, 0, 0x10]), "10.20.2.10");
    for (i, e) in [ct, router, pacs].into_iter().enumerate() {
        registry.observe(&table, e, i as i64);
    }
    let ge = equipment_of("GE", "Revolution", "SN1", "1.0");
    // The CT stores an image on the router: the CT's own.
    let uid = Some("1.2.840.99.1.1");
    assert_eq!(
        send_image(&mut registry, &table, [ct, router], uid, &ge),
        Equipment::Own
    );
    // The router sends the same image on, one modality only so far: relayed.
    let Equipment::Relayed(Some(record)) =
        send_image(&mut registry, &table, [router, pacs], uid, &ge)
    else {
        panic!("relayed, with the router's new record");
    };
    assert!(record.roles.contains(&FORWARDER_ROLE.to_owned()));
    assert!(
        !record.identity.contains_key("dicom"),
        "{:?}",
        record.identity
    );
    assert_eq!(record.relayed_equipment.len(), 1);
    assert_eq!(record.relayed_equipment[0]["manufacturer"], "GE");
    // The CT keeps its own; a second image of its own is still its own.
    let ct_record = table.with_device(&DeviceKey::Mac([0x44, 0x4b, 0x5d, 0, 0, 0x11]), |d| {
        d.record()
    });
    assert_eq!(
        ct_record.expect("ct").identity["dicom"]["manufacturer"],
        vec!["GE".to_owned()]
    );
    assert_eq!(
        send_image(
            &mut registry,
            &table,
            [ct, pacs],
            Some("1.2.840.99.1.2"),
            &ge
        ),
        Equipment::Own
    );
}

#[test]
fn received_images_are_bounded() {
    let table = DeviceTable::new();
    let mut registry = Registry::new(HomeNets::default());
    let a = ep(Some(PHILIPS), "10.0.0.1");
    let b = ep(Some(ROUTER), "10.0.0.2");
    registry.observe(&table, a, 0);
    registry.observe(&table, b, 0);
    for i in 0..MAX_RECEIVED_IMAGES + 10 {
        let uid = format!("1.2.3.{i}");
        send_image(&mut registry, &table, [a, b], Some(&uid), &[]);
    }
    assert_eq!(registry.received_images.len(), MAX_RECEIVED_IMAGES);
    assert_eq!(registry.received_order.len(), MAX_RECEIVED_IMAGES);
    // The oldest was forgotten: sending it back is not taken for relaying.
    assert_eq!(
        send_image(&mut registry, &table, [b, a], Some("1.2.3.0"), &[]),
        Equipment::Own
    );
    assert_eq!(
        send_image(&mut registry, &table, [b, a], Some("1.2.3.20"), &[]),
        Equipment::Relayed(Some(Box::new(
            table
                .with_device(&DeviceKey::Mac(ROUTER), |d| d.record())
                .expect("router")
        )))
    );
}
