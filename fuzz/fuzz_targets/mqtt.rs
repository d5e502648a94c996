//! Any bytes, cut into segments of either direction: the MQTT parser never
//! panics, never leaves more than its MAX_PENDING bytes to the caller, gives
//! at most one record per connection, and observes each subscribed filter
//! at most once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medtap::proto::mqtt::MqttParser;
use medtap::proto::mqtt::MqttObservation;
use medtap::proto::{Direction, Observation, StreamParser, observe_all};

fuzz_target!(|data: &[u8]| {
    // Each segment: one header byte (bit 7 direction, bits 0-6 length), then
    // that many bytes.
    let mut segments = Vec::new();
    let mut rest = data;
    while let Some((&head, tail)) = rest.split_first() {
        let direction = if head & 0x80 == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let n = usize::from(head & 0x7f).min(tail.len());
        let (segment, tail) = tail.split_at(n);
        segments.push((direction, segment));
        rest = tail;
    }
    let _ = MqttParser::probe(Direction::ToServer, data);
    let out = observe_all::<MqttParser>(&segments);
    assert!(out.records.len() <= 1);
    let mut facts = Vec::new();
    let mut seen = Vec::new();
    for (_, observation) in &out.observations {
        observation.facts(&mut facts);
        if let MqttObservation::Subscribe { .. } = observation {
            assert!(!seen.contains(&observation), "observed twice: {observation:?}");
            seen.push(observation);
        }
    }
});
