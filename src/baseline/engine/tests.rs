use std::net::IpAddr;
use std::time::Duration;

use super::*;
use crate::baseline::{DEFAULT_BURST_COUNT, DEFAULT_FANOUT_DESTINATIONS};
use crate::device::{Registry, Sighting};

const S: Micros = 1_000_000;
const LEARN: Duration = Duration::from_secs(60);

struct Net {
    table: DeviceTable,
    registry: Registry,
    engine: Engine,
}

fn endpoint(ip: &str) -> EndpointKey {
    let ip: IpAddr = ip.parse().unwrap();
    let last = match ip {
        IpAddr::V4(v4) => v4.octets()[3],
        IpAddr::V6(_) => 0,
    };
    EndpointKey {
        mac: Some([0x02, 0, 0, 0, 0, last]),
        ip,
        vlan: 0,
    }
}

fn tuple(src: &str, dst: &str, dst_port: u16) -> PacketTuple {
    PacketTuple {
        src: src.parse().unwrap(),
        dst: dst.parse().unwrap(),
        src_port: 40000,
        dst_port,
        proto: ip_proto::TCP,
        vlan: [0; 2],
        has_ports: true,
        is_icmp: false,
    }
}

impl Net {
    fn new() -> Net {
        Net {
            table: DeviceTable::new(),
            registry: Registry::new(HomeNets::default()),
            engine: Engine::new(EngineConfig {
                learn: Learn::For(LEARN),
                ..EngineConfig::default()
            }),
        }
    }

    fn send(&mut self, ip: &str, ts: Micros) {
        let e = endpoint(ip);
        if let Sighting::New(_) = self.registry.observe(&self.table, e, ts) {
            let key = self.table.device_of(&e).unwrap();
            self.engine.new_device(&self.table, key, ts, None);
        }
    }

    /// A TCP connection from `client` to `server:port`, answered.
    fn connect(&mut self, client: &str, server: &str, port: u16, ts: Micros) {
        self.send(client, ts);
        let t = tuple(client, server, port);
        let ends = [endpoint(client), endpoint(server)];
        self.engine
            .connection(&self.table, ts, t, ends, true, false);
        self.send(server, ts);
        self.engine
            .connection(&self.table, ts, t, ends, false, true);
    }

    fn kinds(&mut self) -> Vec<(&'static str, String, String)> {
        self.engine
            .take_ready()
            .into_iter()
            .map(|(_, _, a)| (a.alert.kind, a.device.id, a.alert.subject))
            .collect()
    }
}

#[test]
fn nothing_fires_while_learning_and_known_traffic_stays_quiet() {
    let mut net = Net::new();
    for minute in 0..3 {
        net.connect("10.0.0.1", "10.0.0.2", 104, minute * 30 * S);
    }
    assert_eq!(net.kinds(), vec![]);
    net.connect("10.0.0.1", "10.0.0.2", 104, 70 * S);
    assert_eq!(net.kinds(), vec![]);
}

#[test]
fn the_most_telling_of_external_service_and_peer_is_alerted() {
    let mut net = Net::new();
    net.connect("10.0.0.1", "10.0.0.2", 104, 0);
    net.connect("10.0.0.1", "10.0.0.3", 443, S);
    net.kinds();
    // After learning: a known service on a new host; a new service; an
    // external host on a known service.
    net.connect("10.0.0.1", "10.0.0.4", 104, 61 * S);
    net.connect("10.0.0.1", "10.0.0.2", 22, 62 * S);
    net.connect("10.0.0.1", "203.0.113.7", 443, 63 * S);
    let d = "mac:02:00:00:00:00:01".to_owned();
    // (The servers have their own alerts: a new device, a new service.)
    let mine: Vec<_> = net.kinds().into_iter().filter(|k| k.1 == d).collect();
    assert_eq!(
        mine,
        vec![
            ("new_peer", d.clone(), "out 10.0.0.4 tcp/104".to_owned()),
            ("new_service", d.clone(), "uses tcp/22".to_owned()),
            ("new_external_peer", d, String::new()),
        ]
    );
}

#[test]
fn a_server_answering_on_a_new_port_offers_a_new_service() {
    let mut net = Net::new();
    net.connect("10.0.0.1", "10.0.0.2", 104, 0);
    net.kinds();
    net.connect("10.0.0.1", "10.0.0.2", 23, 61 * S);
    let kinds = net.kinds();
    assert!(
        kinds.contains(&(
            "new_service",
            "mac:02:00:00:00:00:02".to_owned(),
            "offers tcp/23".to_owned()
        )),
        "{kinds:?}"
    );
}

#[test]
fn fanout_fires_once_the_threshold_of_new_destinations_is_reached_in_the_window() {
    let mut net = Net::new();
    net.connect("10.0.0.1", "10.0.0.2", 104, 0);
    net.kinds();
    let threshold = DEFAULT_FANOUT_DESTINATIONS as u16;
    // Spread over more than the window: no fanout.
    for i in 0..threshold {
        let t = tuple("10.0.0.1", "10.0.0.9", 1000 + i);
        net.engine.connection(
            &net.table,
            61 * S + i64::from(i) * 10 * S,
            t,
            [endpoint("10.0.0.1"), endpoint("10.0.0.9")],
            true,
            false,
        );
    }
    assert!(!net.kinds().iter().any(|k| k.0 == "fanout"));
    // Within it: one fanout alert.
    let start = 1000 * S;
    for i in 0..threshold {
        let t = tuple("10.0.0.1", "10.0.0.10", 2000 + i);
        net.engine.connection(
            &net.table,
            start + i64::from(i) * S,
            t,
            [endpoint("10.0.0.1"), endpoint("10.0.0.10")],
            true,
            false,
        );
    }
    let fanouts: Vec<_> = net
        .kinds()
        .into_iter()
        .filter(|k| k.0 == "fanout")
        .collect();
    assert_eq!(fanouts.len(), 1, "{fanouts:?}");
}

#[test]
fn a_volume_spike_needs_the_deviation_the_ratio_and_the_floor() {
    let mut net = Net::new();
    net.send("10.0.0.1", 0);
    let e = endpoint("10.0.0.1");
    let minute = |n: i64| n * RATE_BIN;
    // Learned: ten minutes at about 100 kB, in a long learning window.
    net.engine = Engine::new(EngineConfig {
        learn: Learn::For(Duration::from_secs(600)),
        ..EngineConfig::default()
    });
    let key = net.table.device_of(&e).unwrap();
    net.engine.new_device(&net.table, key, 0, None);
    for n in 0..10 {
        let bytes = 100_000 + (n as u64 % 3) * 5_000;
        net.engine.rates(
            &net.table,
            RateSample {
                endpoint: e,
                bin: minute(n),
                rates: Rates {
                    packets: 100,
                    bytes,
                    connections: 1,
                },
            },
        );
        net.engine.tick(&net.table, minute(n + 1));
    }
    // Ten times the mean, but under the 1 MiB floor: quiet.
    let sample = |n, bytes| RateSample {
        endpoint: e,
        bin: minute(n),
        rates: Rates {
            packets: 100,
            bytes,
            connections: 1,
        },
    };
    net.engine.rates(&net.table, sample(10, 1_000_000));
    net.engine.tick(&net.table, minute(11));
    assert_eq!(net.kinds(), vec![]);
    // Twenty megabytes: a spike, timed at the end of its minute.
    net.engine.rates(&net.table, sample(11, 20_000_000));
    net.engine.tick(&net.table, minute(12));
    let ready = net.engine.take_ready();
    assert_eq!(ready.len(), 1);
    let (ts, _, alert) = &ready[0];
    assert_eq!(alert.alert.kind, "volume_spike");
    assert_eq!(alert.alert.subject, "bytes");
    assert_eq!(*ts, minute(12) - 1);
    let learned = &alert.baseline.as_ref().unwrap().learned;
    assert_eq!(learned["minutes"], json!(10));
}

#[test]
fn bursts_need_the_count_within_the_window() {
    let mut net = Net::new();
    net.send("10.0.0.1", 0);
    let key = net.table.device_of(&endpoint("10.0.0.1")).unwrap();
    let peer: IpAddr = "10.0.0.2".parse().unwrap();
    let kind = Kind::Hl7NakBurst;
    let n = DEFAULT_BURST_COUNT as i64;
    // Spaced wider than the window: never a burst.
    for i in 0..n * 2 {
        assert_eq!(net.engine.burst(kind, key, peer, i * 61 * S), None);
    }
    // Within it: the n-th completes one, and the count starts again.
    let t0 = 10_000 * S;
    for i in 0..n - 1 {
        assert_eq!(net.engine.burst(kind, key, peer, t0 + i * S), None);
    }
    assert_eq!(
        net.engine.burst(kind, key, peer, t0 + n * S),
        Some(n as usize)
    );
    assert_eq!(net.engine.burst(kind, key, peer, t0 + n * S + 1), None);
}

#[test]
fn a_device_appearing_after_the_network_was_learned_is_new() {
    let mut net = Net::new();
    net.send("10.0.0.1", 0);
    net.send("10.0.0.2", 59 * S);
    assert_eq!(net.kinds(), vec![]);
    net.send("10.0.0.3", 60 * S);
    assert_eq!(
        net.kinds(),
        vec![(
            "new_device",
            "mac:02:00:00:00:00:03".to_owned(),
            String::new()
        )]
    );
}
