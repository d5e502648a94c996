use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::groups::{GroupRules, client_id_pattern, glob, slug, valid_name};
use super::*;
use crate::baseline::{Baseline, PeerKey};
use crate::device::Identity;

fn ip(text: &str) -> IpAddr {
    text.parse().expect("test address")
}

fn device(mac: u8, addr: &str, facts: &[(&'static str, &str)], peers: &[PeerKey]) -> Device {
    let mut baseline = Baseline {
        since: 0,
        until: 10,
        complete: true,
        ..Baseline::default()
    };
    for p in peers {
        baseline.peers.learn(*p, 16);
    }
    let mac = [0x02, 0, 0, 0, 0, mac];
    Device {
        key: DeviceKey::Mac(mac),
        mac: Some(mac),
        vendor: None,
        addresses: BTreeMap::from([(ip(addr), 0)]),
        vlans: BTreeSet::new(),
        first_seen: 0,
        gateway: false,
        identity: Identity {
            roles: BTreeSet::new(),
            facts: facts
                .iter()
                .map(|(k, v)| (*k, BTreeSet::from([(*v).to_owned()])))
                .collect(),
        },
        baseline: Box::new(baseline),
        relayed: Vec::new(),
        posture: None,
    }
}

fn peer(addr: &str, port: u16, out: bool) -> PeerKey {
    PeerKey {
        ip: ip(addr),
        port,
        proto: 6,
        out,
    }
}

fn state(devices: Vec<Device>) -> LoadedState {
    LoadedState {
        path: "state.json".into(),
        sha256: "0".repeat(64),
        devices,
        since: Some(0),
    }
}

#[test]
fn glob_matches_runs_and_whole_text() {
    assert!(glob("pump-*", "pump-07"));
    assert!(glob("pump-*", "pump-"));
    assert!(!glob("pump-*", "vent-01"));
    assert!(glob("CT*", "CT01"));
    assert!(glob("a*b*c", "axxbyyc"));
    assert!(!glob("a*a", "a"));
    assert!(glob("CT01", "CT01"));
    assert!(!glob("CT01", "CT012"));
}

#[test]
fn names_are_lower_case_and_bounded() {
    assert_eq!(
        slug("CT-GE MEDICAL SYSTEMS-Revolution EVO"),
        "ct-ge-medical-systems-revolution-evo"
    );
    assert_eq!(slug("  __x__ "), "x");
    assert!(slug(&"a".repeat(100)).len() <= groups::MAX_GROUP_NAME);
    assert!(valid_name("mqtt-pump_2"));
    assert!(!valid_name("Pump"));
    assert!(!valid_name(""));
    assert!(!valid_name("a b"));
}

#[test]
fn trailing_digits_of_a_client_id_are_folded() {
    assert_eq!(client_id_pattern("pump-07"), "pump-*");
    assert_eq!(client_id_pattern("nurse-station-01"), "nurse-station-*");
    assert_eq!(client_id_pattern("gateway"), "gateway");
    assert_eq!(client_id_pattern("1234"), "1234");
}

#[test]
fn a_bad_groups_file_is_refused_with_the_reason() {
    assert!(
        GroupRules::parse("[[group]]\nname = \"Bad Name\"\nmac = [\"02:00:00:00:00:01\"]").is_err()
    );
    assert!(GroupRules::parse("[[group]]\nname = \"x\"").is_err());
    assert!(GroupRules::parse("[[group]]\nname = \"x\"\ncidr = [\"10.0.0.0/33\"]").is_err());
    assert!(GroupRules::parse("[[group]]\nname = \"x\"\nmac = [\"nope\"]").is_err());
    assert!(GroupRules::parse("[[group]]\nname = \"x\"\nidentity = [\"no-equals\"]").is_err());
    assert!(GroupRules::parse("bogus = 1").is_err());
    let twice = "[[group]]\nname = \"x\"\noui = [\"02:00:00\"]\n[[group]]\nname = \"x\"\noui = [\"02:00:00\"]";
    assert!(GroupRules::parse(twice).is_err());
}

#[test]
fn the_first_configured_group_that_matches_wins() {
    let rules = GroupRules::parse(
        "[[group]]\nname = \"first\"\ncidr = [\"10.0.0.0/24\"]\n\
         [[group]]\nname = \"second\"\nmac = [\"02:00:00:00:00:01\"]",
    )
    .expect("valid");
    let d = device(1, "10.0.0.5", &[("mqtt.client_id", "pump-01")], &[]);
    assert_eq!(rules.group_of(&d).0, "first");
    let d = device(1, "10.9.0.5", &[("mqtt.client_id", "pump-01")], &[]);
    assert_eq!(rules.group_of(&d).0, "second");
    let d = device(2, "10.9.0.6", &[("mqtt.client_id", "pump-01")], &[]);
    assert_eq!(rules.group_of(&d).0, "mqtt-pump");
}

#[test]
fn external_peers_are_hosts_or_folded_networks() {
    let pump = device(
        1,
        "10.0.0.5",
        &[("mqtt.client_id", "pump-01")],
        &[
            peer("203.0.113.9", 443, true),
            peer("198.51.100.7", 443, true),
        ],
    );
    let rules = GroupRules::parse("external = [\"203.0.113.0/24\"]").expect("valid");
    let policy = build(&state(vec![pump]), &rules);
    let peers: Vec<String> = policy.groups[0]
        .allow
        .iter()
        .map(|a| match &a.peer {
            Peer::Network(net) => net.to_string(),
            Peer::Group(g) => g.clone(),
        })
        .collect();
    assert_eq!(peers, ["198.51.100.7/32", "203.0.113.0/24"]);
}

#[test]
fn devices_still_learning_get_no_group_and_no_rule() {
    let done = device(
        1,
        "10.0.0.5",
        &[("mqtt.client_id", "pump-01")],
        &[peer("10.0.0.6", 1883, true)],
    );
    let mut fresh = device(2, "10.0.0.6", &[], &[peer("10.0.0.5", 1883, false)]);
    fresh.baseline.complete = false;
    fresh.baseline.until = 1_000;
    let policy = build(&state(vec![done, fresh]), &GroupRules::default());
    assert_eq!(policy.learning.len(), 1);
    assert_eq!(policy.learning[0].id, "mac:02:00:00:00:00:02");
    assert_eq!(policy.groups.len(), 1);
    // Its address is a plain host to the learned device's group.
    assert_eq!(
        policy.groups[0].allow[0].peer,
        Peer::Network("10.0.0.6/32".parse().expect("net"))
    );
}

#[test]
fn infrastructure_is_stated_once_not_per_group() {
    let a = device(
        1,
        "10.0.0.5",
        &[("mqtt.client_id", "pump-01")],
        &[PeerKey {
            ip: ip("10.0.0.53"),
            port: 53,
            proto: 17,
            out: true,
        }],
    );
    let policy = build(&state(vec![a]), &GroupRules::default());
    assert!(policy.groups[0].allow.is_empty());
    assert_eq!(policy.infrastructure.len(), 1);
    assert_eq!(policy.infrastructure[0].servers, [ip("10.0.0.53")]);
    assert_eq!(policy.infrastructure[0].clients, ["mqtt-pump"]);
}

#[test]
fn dhcp_answers_to_a_client_are_no_flow_of_their_own() {
    let server = device(
        1,
        "10.0.0.1",
        &[],
        &[PeerKey {
            ip: ip("10.0.0.7"),
            port: 68,
            proto: 17,
            out: true,
        }],
    );
    let policy = build(&state(vec![server]), &GroupRules::default());
    assert!(policy.groups[0].allow.is_empty(), "{policy:?}");
}

#[test]
fn a_policy_reads_back_as_written_and_unknown_groups_are_refused() {
    let pump = device(
        1,
        "10.0.0.5",
        &[("mqtt.client_id", "pump-01")],
        &[peer("10.0.0.9", 1883, true)],
    );
    let broker = device(2, "10.0.0.9", &[], &[peer("10.0.0.5", 1883, false)]);
    let policy = build(&state(vec![pump, broker]), &GroupRules::default());
    let text = render::json::render(&policy);
    assert_eq!(Policy::parse(text.as_bytes()), Ok(policy.clone()));
    let renamed = text.replace("\"group\": \"mqtt-pump\"", "\"group\": \"nowhere\"");
    assert_ne!(renamed, text);
    let refused = Policy::parse(renamed.as_bytes()).expect_err("unknown group");
    assert!(refused.contains("unknown group \"nowhere\""), "{refused}");
    let newer = text.replace("\"version\": 1", "\"version\": 2");
    assert!(Policy::parse(newer.as_bytes()).is_err());
    assert!(Policy::parse(b"{}").is_err());
}

/// A pump group that publishes to a broker (10.0.0.9:1883), resolves
/// names at 10.0.0.53 and reaches one external host on 443; a broker the
/// pumps reach.
fn watched_ward() -> Watch {
    let dns = PeerKey {
        ip: ip("10.0.0.53"),
        port: 53,
        proto: 17,
        out: true,
    };
    let pump = device(
        1,
        "10.0.0.5",
        &[("mqtt.client_id", "pump-01")],
        &[
            peer("10.0.0.9", 1883, true),
            peer("203.0.113.9", 443, true),
            dns,
        ],
    );
    let other_pump = device(3, "10.0.0.6", &[("mqtt.client_id", "pump-02")], &[]);
    let mut broker = device(2, "10.0.0.9", &[], &[peer("10.0.0.5", 1883, false)]);
    broker.identity.roles.insert("mqtt_broker".to_owned());
    let policy = build(
        &state(vec![pump, other_pump, broker]),
        &GroupRules::default(),
    );
    Watch::new(&policy, "policy.json".into(), "0".repeat(64)).expect("a usable policy")
}

const TCP: u8 = 6;
const UDP: u8 = 17;

#[test]
fn the_watch_allows_exactly_the_learned_flows() {
    let watch = watched_ward();
    let judge = |c: &str, s: &str, proto, port| watch.judge(ip(c), ip(s), proto, Some(port));
    // Learned: a pump to the broker, by either member of the group; the
    // infrastructure; the external host.
    assert_eq!(judge("10.0.0.5", "10.0.0.9", TCP, 1883), None);
    assert_eq!(judge("10.0.0.6", "10.0.0.9", TCP, 1883), None);
    assert_eq!(judge("10.0.0.6", "10.0.0.53", UDP, 53), None);
    assert_eq!(judge("10.0.0.5", "203.0.113.9", TCP, 443), None);
    // Another port, the other direction, another external host.
    let v = judge("10.0.0.5", "10.0.0.9", TCP, 22).expect("a new port");
    assert!(v.member_is_client);
    assert_eq!(v.group, "mqtt-pump");
    assert_eq!(v.peer_group.as_deref(), Some("mqtt-broker"));
    assert_eq!(v.service(), "tcp/22");
    assert_eq!(v.rule_set(), "medtap-mqtt-pump");
    let v = judge("10.0.0.9", "10.0.0.5", TCP, 1883).expect("the broker is no client");
    assert_eq!(v.group, "mqtt-broker");
    assert!(judge("10.0.0.5", "198.51.100.1", TCP, 443).is_some());
    // DNS to a server nobody used is no infrastructure.
    assert!(judge("10.0.0.5", "10.0.0.54", UDP, 53).is_some());
    // From outside to a member: about the member, as the server.
    let v = judge("198.51.100.1", "10.0.0.9", TCP, 1883).expect("an outsider");
    assert!(!v.member_is_client);
    assert_eq!(v.group, "mqtt-broker");
    assert_eq!(v.peer_group, None);
}

#[test]
fn the_watch_leaves_alone_what_a_forward_chain_does_not_judge() {
    let watch = watched_ward();
    // Neither end a member.
    assert_eq!(
        watch.judge(ip("10.0.0.77"), ip("10.0.0.78"), TCP, Some(80)),
        None
    );
    // Broadcast, multicast, DHCP from nowhere, ICMP.
    assert_eq!(
        watch.judge(ip("10.0.0.5"), ip("255.255.255.255"), UDP, Some(67)),
        None
    );
    assert_eq!(
        watch.judge(ip("10.0.0.5"), ip("224.0.0.251"), UDP, Some(5353)),
        None
    );
    assert_eq!(
        watch.judge(ip("0.0.0.0"), ip("10.0.0.9"), UDP, Some(67)),
        None
    );
    assert_eq!(watch.judge(ip("10.0.0.5"), ip("10.0.0.77"), 1, None), None);
}

#[test]
fn an_address_passed_on_belongs_to_its_last_holder_only() {
    let old = device(1, "10.0.0.5", &[("mqtt.client_id", "pump-01")], &[]);
    let mut new = device(2, "10.0.0.5", &[("mqtt.client_id", "vent-01")], &[]);
    new.addresses.insert(ip("10.0.0.5"), 7);
    let policy = build(&state(vec![old, new]), &GroupRules::default());
    let holders: Vec<(&str, usize)> = policy
        .groups
        .iter()
        .map(|g| (g.name.as_str(), g.addresses().count()))
        .collect();
    assert_eq!(holders, [("mqtt-pump", 0), ("mqtt-vent", 1)]);
    assert!(Watch::new(&policy, "p".into(), String::new()).is_ok());
}

#[test]
fn a_policy_with_an_address_in_two_groups_is_refused() {
    let a = device(1, "10.0.0.5", &[("mqtt.client_id", "pump-01")], &[]);
    let b = device(2, "10.0.0.6", &[("mqtt.client_id", "vent-01")], &[]);
    let mut policy = build(&state(vec![a, b]), &GroupRules::default());
    assert_eq!(policy.groups.len(), 2);
    policy.groups[1].members[0].addresses = vec![ip("10.0.0.5")];
    let refused = Watch::new(&policy, "p".into(), String::new()).expect_err("refused");
    assert!(refused.contains("10.0.0.5 is in two groups"), "{refused}");
}
