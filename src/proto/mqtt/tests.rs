//! Tests for the MQTT parser: commented byte arrays per packet kind, length
//! boundaries, detection, real captures checked against tshark's dissector
//! and the suricata-verify expectations, split invariance, and secrets.

use super::*;
use crate::proto::{
    Direction, Fact, Observation, OutputOf, Pending, Probe, Side, StreamParser, feed_all,
    observe_all,
};
use proptest::prelude::*;

const C: Direction = Direction::ToServer;
const S: Direction = Direction::ToClient;

// ---------------------------------------------------------------- helpers

/// A control packet: `first` (type << 4 | flags), the Remaining Length as a
/// Variable Byte Integer, then `body`.
fn pkt(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    out.extend(varint(body.len()));
    out.extend_from_slice(body);
    out
}

/// A UTF-8 string / binary field: two length bytes, then the bytes.
fn s(x: &[u8]) -> Vec<u8> {
    let mut out = (x.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(x);
    out
}

/// The one record a conversation gives.
fn one(parts: &[(Direction, &[u8])]) -> Connection {
    let mut recs = feed_all::<MqttParser>(parts);
    assert_eq!(recs.len(), 1, "one record per connection");
    recs.remove(0)
}

/// The identity facts of a conversation's observations.
fn facts_of(parts: &[(Direction, &[u8])]) -> Vec<Fact> {
    let mut facts = Vec::new();
    for (_, o) in observe_all::<MqttParser>(parts).observations {
        o.facts(&mut facts);
    }
    facts
}

/// A minimal 3.1.1 CONNECT from client "c".
fn connect_v4() -> Vec<u8> {
    pkt(
        0x10,
        &[
            &s(b"MQTT")[..], // protocol name
            &[0x04],         // protocol level 4
            &[0x02],         // flags: clean session
            &[0x00, 0x3c],   // keep alive 60 s
            &s(b"c"),        // client identifier
        ]
        .concat(),
    )
}

/// A minimal 5.0 CONNECT from client "c".
fn connect_v5() -> Vec<u8> {
    pkt(
        0x10,
        &[
            &s(b"MQTT")[..], // protocol name
            &[0x05],         // protocol level 5
            &[0x02],         // flags: clean start
            &[0x00, 0x3c],   // keep alive 60 s
            &[0x00],         // property length 0
            &s(b"c"),        // client identifier
        ]
        .concat(),
    )
}

/// CONNACK accepted, 3.1.1.
const CONNACK_V4: [u8; 4] = [0x20, 0x02, 0x00, 0x00];

// ----------------------------------------------------------- one per kind

#[test]
fn connect_v311_with_will_user_and_password() {
    let connect = pkt(
        0x10,
        &[
            &s(b"MQTT")[..],             // protocol name "MQTT"
            &[0x04],                     // protocol level 4 (3.1.1)
            &[0b1110_1110],              // user, password, will retain, will QoS 1, will, clean
            &[0x00, 0x1e],               // keep alive 30 s
            &s(b"pump-07"),              // client identifier
            &s(b"ward3/pump-07/status"), // will topic
            &s(b"offline"),              // will payload (never kept)
            &s(b"nurse"),                // user name
            &s(b"s3cret-pw"),            // password (never kept)
        ]
        .concat(),
    );
    let rec = one(&[(C, &connect), (S, &CONNACK_V4)]);
    assert_eq!(rec.protocol_name.as_deref(), Some("MQTT"));
    assert_eq!(rec.protocol_version, Some(4));
    assert_eq!(rec.client_id.as_deref(), Some("pump-07"));
    assert_eq!(rec.username.as_deref(), Some("nurse"));
    assert_eq!(rec.password_present, Some(true));
    assert_eq!(rec.clean_session, Some(true));
    assert_eq!(rec.keep_alive, Some(30));
    assert_eq!(
        rec.will,
        Some(Will {
            topic: "ward3/pump-07/status".into(),
            qos: 1,
            retain: true
        })
    );
    assert_eq!(rec.connack.as_ref().map(|c| c.name), Some("accepted"));
    let json = serde_json::to_string(&rec).unwrap();
    assert!(!json.contains("s3cret-pw") && !json.contains("offline"));
    assert!(rec.anomalies.is_empty());
}

#[test]
fn connect_v5_properties_are_read_and_auth_data_is_not() {
    let props = [
        &[0x11][..],               // session expiry interval
        &[0, 0, 0x0e, 0x10],       //   3600 s
        &[0x21, 0x00, 0x14],       // receive maximum 20
        &[0x27, 0x00, 0x01, 0, 0], // maximum packet size 65536
        &[0x22, 0x00, 0x0a],       // topic alias maximum 10
        &[0x19, 0x01],             // request response information 1
        &[0x17, 0x00],             // request problem information 0
        &[0x15],                   // authentication method
        &s(b"SCRAM-SHA-1"),        //   "SCRAM-SHA-1"
        &[0x16],                   // authentication data (never kept)
        &s(b"client-first-nonce"), //
        &[0x26],                   // user property (count only)
        &s(b"site"),               //   name
        &s(b"ward-3"),             //   value
    ]
    .concat();
    let connect = pkt(
        0x10,
        &[
            &s(b"MQTT")[..],      // protocol name
            &[0x05],              // protocol level 5
            &[0x00],              // flags: none (clean start 0)
            &[0x00, 0x0a],        // keep alive 10 s
            &[props.len() as u8], // property length
            &props,               // properties
            &s(b""),              // client identifier: empty
        ]
        .concat(),
    );
    let rec = one(&[(C, &connect)]);
    let p = rec.connect_properties.clone().unwrap();
    assert_eq!(p.session_expiry_interval, Some(3600));
    assert_eq!(p.receive_maximum, Some(20));
    assert_eq!(p.maximum_packet_size, Some(65536));
    assert_eq!(p.topic_alias_maximum, Some(10));
    assert_eq!(p.request_response_information, Some(1));
    assert_eq!(p.request_problem_information, Some(0));
    assert_eq!(p.authentication_method.as_deref(), Some("SCRAM-SHA-1"));
    assert_eq!(p.user_properties, 1);
    assert_eq!(rec.clean_session, Some(false));
    assert_eq!(rec.client_id.as_deref(), Some(""));
    let json = serde_json::to_string(&rec).unwrap();
    assert!(!json.contains("nonce") && !json.contains("ward-3") && !json.contains("site"));
}

#[test]
fn connect_v31_mqisdp() {
    let connect = pkt(
        0x10,
        &[
            &s(b"MQIsdp")[..], // protocol name "MQIsdp"
            &[0x03],           // protocol level 3 (3.1)
            &[0x02],           // clean session
            &[0x00, 0x3c],     // keep alive 60 s
            &s(b"infusion-1"), // client identifier
        ]
        .concat(),
    );
    let rec = one(&[(C, &connect)]);
    assert_eq!(rec.protocol_name.as_deref(), Some("MQIsdp"));
    assert_eq!(rec.protocol_version, Some(3));
    assert_eq!(rec.client_id.as_deref(), Some("infusion-1"));
}

#[test]
fn connect_reserved_flag_and_unknown_level_are_anomalies() {
    let connect = pkt(
        0x10,
        &[
            &s(b"MQTT")[..], // protocol name
            &[0x07],         // protocol level 7: unknown
            &[0x03],         // clean session + reserved bit 0
            &[0x00, 0x3c],   // keep alive
            &s(b"c"),        // client identifier
        ]
        .concat(),
    );
    let rec = one(&[(C, &connect)]);
    assert_eq!(rec.anomaly(Anomaly::InvalidConnectFlags), 1);
    assert_eq!(rec.anomaly(Anomaly::UnknownProtocol), 1);
    assert_eq!(rec.protocol_version, Some(7));
}

#[test]
fn connack_v3_refusal_is_named_and_counted() {
    // CONNACK: type 2, remaining 2, flags 0, return code 4.
    let connack = [0x20, 0x02, 0x00, 0x04];
    let rec = one(&[(C, &connect_v4()), (S, &connack)]);
    let c = rec.connack.unwrap();
    assert_eq!(
        (c.code, c.name, c.session_present),
        (4, "bad_username_or_password", false)
    );
    assert_eq!(rec.auth_failures, 1);
}

#[test]
fn connack_v5_assigned_client_id_names_the_client() {
    let props = [
        &[0x12][..],         // assigned client identifier
        &s(b"auto-7F3A"),    //   "auto-7F3A"
        &[0x22, 0x00, 0x0a], // topic alias maximum 10
        &[0x24, 0x01],       // maximum QoS 1
        &[0x1f],             // reason string (not kept)
        &s(b"welcome"),      //
    ]
    .concat();
    let connack = pkt(
        0x20,
        &[
            &[0x01][..],          // flags: session present
            &[0x00],              // reason code 0 success
            &[props.len() as u8], // property length
            &props,
        ]
        .concat(),
    );
    let connect = pkt(
        0x10,
        &[&s(b"MQTT")[..], &[5, 0x02, 0, 60, 0], &s(b""), &[]].concat(),
    );
    let rec = one(&[(C, &connect), (S, &connack)]);
    assert_eq!(rec.assigned_client_id.as_deref(), Some("auto-7F3A"));
    let c = rec.connack.clone().unwrap();
    assert!(c.session_present);
    assert_eq!(c.name, "success");
    let p = c.properties.unwrap();
    assert_eq!((p.topic_alias_maximum, p.maximum_qos), (Some(10), Some(1)));
    assert!(!serde_json::to_string(&rec).unwrap().contains("welcome"));
    let facts = facts_of(&[(C, &connect), (S, &connack)]);
    assert!(facts.contains(&Fact {
        side: Side::Client,
        name: "mqtt.client_id",
        value: "auto-7F3A".into()
    }));
}

#[test]
fn facts_name_client_user_and_roles() {
    let connect = pkt(
        0x10,
        &[
            &s(b"MQTT")[..],
            &[4, 0x82, 0, 60],
            &s(b"pump-07"),
            &s(b"nurse"),
        ]
        .concat(),
    );
    let facts = facts_of(&[(C, &connect)]);
    let f = |side, name: &'static str, value: &str| Fact {
        side,
        name,
        value: value.into(),
    };
    assert_eq!(
        facts,
        vec![
            f(Side::Client, "mqtt.client_id", "pump-07"),
            f(Side::Client, "mqtt.username", "nurse"),
            f(Side::Client, "role", "mqtt_client"),
            f(Side::Server, "role", "mqtt_broker"),
        ]
    );
}

#[test]
fn publish_topics_aggregate_by_direction_with_qos_retain_and_sizes() {
    // PUBLISH QoS 0: type 3, flags 0.
    let p0 = pkt(0x30, &[&s(b"ward3/bed-4/hr")[..], b"72"].concat());
    // PUBLISH QoS 1, retain: flags 0b0011, packet id 7.
    let p1 = pkt(
        0x33,
        &[&s(b"ward3/bed-4/hr")[..], &[0, 7], b"75bpm"].concat(),
    );
    // PUBACK: packet id 7.
    let ack = [0x40, 0x02, 0x00, 0x07];
    // PUBLISH QoS 2 to the client, DUP set: flags 0b1100, packet id 9.
    let p2 = pkt(0x3c, &[&s(b"ward3/cmd")[..], &[0, 9], b"stop"].concat());
    let rec = one(&[
        (C, &connect_v4()),
        (S, &CONNACK_V4),
        (C, &p0),
        (C, &p1),
        (S, &ack),
        (S, &p2),
    ]);
    assert_eq!(
        rec.publish_topics,
        vec![
            TopicStats {
                topic: "ward3/bed-4/hr".into(),
                direction: "to_server",
                count: 2,
                qos: vec![0, 1],
                retain: true,
                payload_bytes: 7,
            },
            TopicStats {
                topic: "ward3/cmd".into(),
                direction: "to_client",
                count: 1,
                qos: vec![2],
                retain: false,
                payload_bytes: 4,
            },
        ]
    );
    assert_eq!(rec.packets.to_server.get("publish"), Some(&2));
    assert_eq!(rec.packets.to_client.get("puback"), Some(&1));
    let json = serde_json::to_string(&rec).unwrap();
    assert!(!json.contains("75bpm") && !json.contains("stop"));
}

#[test]
fn publish_v5_properties_are_skipped_with_the_payload() {
    let props = [
        &[0x01, 0x01][..], // payload format indicator: UTF-8
        &[0x03],           // content type
        &s(b"application/json"),
        &[0x09], // correlation data (never kept)
        &s(b"corr-1"),
    ]
    .concat();
    let publish = pkt(
        0x32, // PUBLISH QoS 1
        &[
            &s(b"ward3/pump/rate")[..], // topic
            &[0x00, 0x01],              // packet identifier 1
            &[props.len() as u8],       // property length
            &props,
            b"{\"rate\":5}", // payload, 10 bytes
        ]
        .concat(),
    );
    let rec = one(&[(C, &connect_v5()), (C, &publish)]);
    assert_eq!(rec.publish_topics.len(), 1);
    assert_eq!(rec.publish_topics[0].payload_bytes, 10);
    assert!(!serde_json::to_string(&rec).unwrap().contains("corr-1"));
}

#[test]
fn publish_qos_3_is_an_invalid_qos_level() {
    // PUBLISH with flags 0b0110: QoS 3.
    let publish = pkt(0x36, &[&s(b"t")[..], &[0, 1], b"x"].concat());
    let rec = one(&[(C, &connect_v4()), (S, &CONNACK_V4), (C, &publish)]);
    assert_eq!(rec.anomaly(Anomaly::InvalidQosLevel), 1);
    assert!(rec.publish_topics.is_empty());
}

#[test]
fn subscribe_and_suback_v311() {
    let subscribe = pkt(
        0x82, // SUBSCRIBE, flags 0b0010
        &[
            &[0x00, 0x05][..],     // packet identifier 5
            &s(b"#"),              // topic filter "#"
            &[0x01],               // requested QoS 1
            &s(b"ward3/+/status"), // topic filter
            &[0x02],               // requested QoS 2
        ]
        .concat(),
    );
    // SUBACK: packet id 5, codes: granted QoS 1, failure.
    let suback = [0x90, 0x04, 0x00, 0x05, 0x01, 0x80];
    let rec = one(&[
        (C, &connect_v4()),
        (S, &CONNACK_V4),
        (C, &subscribe),
        (S, &suback),
    ]);
    let got: Vec<_> = rec
        .subscriptions
        .iter()
        .map(|s| (s.filter.as_str(), s.qos, s.granted_code, s.granted))
        .collect();
    assert_eq!(
        got,
        vec![
            ("#", 1, Some(1), Some("granted_qos_1")),
            ("ward3/+/status", 2, Some(0x80), Some("failure")),
        ]
    );
}

/// A conversation on a connection that stays open: what each packet shows is
/// observed at that packet, once, and the connection's end adds nothing the
/// packets did not.
#[test]
fn observations_come_at_the_packet_that_carries_them_once_per_connection() {
    let connect = pkt(
        0x10,
        &[
            &s(b"MQTT")[..],   // protocol name
            &[4, 0x82, 0, 60], // level 4, user name + clean session, keep alive 60
            &s(b"pump-07"),    // client identifier
            &s(b"nurse"),      // user name
        ]
        .concat(),
    );
    // PUBLISH QoS 0 to ward3/pump-07/rate, payload "5".
    let status = pkt(0x30, &[&s(b"ward3/pump-07/rate")[..], b"5"].concat());
    let config = pkt(0x30, &[&s(b"ward3/pump-07/config")[..], b"x"].concat());
    // SUBSCRIBE packet id 1, "#" QoS 0.
    let wildcard = pkt(0x82, &[&[0x00, 0x01][..], &s(b"#"), &[0x00]].concat());
    let segments: Vec<(Direction, &[u8])> = vec![
        (C, &connect),    // 0
        (S, &CONNACK_V4), // 1
        (C, &status),     // 2
        (C, &status),     // 3: a repeat
        (C, &[0xc0, 0]),  // 4: PINGREQ
        (C, &wildcard),   // 5
        (C, &wildcard),   // 6: the same filter again
        (C, &config),     // 7
        (C, &status),     // 8
    ];
    let out = observe_all::<MqttParser>(&segments);
    let at: Vec<(i64, &str)> = out
        .observations
        .iter()
        .map(|(ts, o)| {
            let what = match o {
                MqttObservation::Connect { .. } => "connect",
                MqttObservation::Connack { .. } => "connack",
                MqttObservation::Publish { topic, .. } if topic.ends_with("rate") => "rate",
                MqttObservation::Publish { .. } => "config",
                MqttObservation::Subscribe { .. } => "subscribe",
                _ => "other",
            };
            (*ts, what)
        })
        .collect();
    assert_eq!(
        at,
        [
            (0, "connect"),
            (1, "connack"),
            (2, "rate"),
            (5, "subscribe"),
            (7, "config")
        ]
    );
    assert_eq!(
        out.observations[0].1,
        MqttObservation::Connect {
            client_id: Some("pump-07".into()),
            username: Some("nurse".into()),
            protocol_version: 4,
        }
    );
    // The one record, at the end, still counts every packet.
    assert_eq!(out.records.len(), 1);
    assert_eq!(out.records[0].publish_topics[0].count, 3);
    assert_eq!(out.records[0].subscriptions.len(), 2);
}

#[test]
fn an_interim_record_is_the_connection_so_far_and_marked() {
    let mut parser = MqttParser::default();
    let mut out = OutputOf::<MqttParser>::default();
    assert!(
        parser.interim().is_none(),
        "nothing seen, nothing to record"
    );
    parser.feed(C, 0, &connect_v4(), &mut out);
    let status = pkt(0x30, &[&s(b"a/b")[..], b"1"].concat());
    parser.feed(C, 1, &status, &mut out);
    let mut interim = parser.interim().unwrap();
    crate::proto::Record::mark_interim(&mut interim, vec!["packets".into()]);
    assert!(interim.interim);
    assert_eq!(interim.publish_topics[0].count, 1);
    let json = serde_json::to_value(&interim).unwrap();
    assert_eq!(json["interim"], true);
    assert_eq!(json["changed"], serde_json::json!(["packets"]));
    parser.finish(2, &mut out);
    assert!(parser.interim().is_none(), "ended");
    assert!(!out.records[0].interim);
    assert!(
        serde_json::to_value(&out.records[0])
            .unwrap()
            .get("interim")
            .is_none()
    );
}

#[test]
fn the_idle_timeout_is_one_and_a_half_keep_alives() {
    let mut parser = MqttParser::default();
    let mut out = OutputOf::<MqttParser>::default();
    assert_eq!(parser.idle_timeout(), None, "no CONNECT, no keep-alive");
    parser.feed(C, 0, &connect_v4(), &mut out); // keep alive 60 s
    assert_eq!(parser.idle_timeout(), Some(90_000_000));
    // Keep Alive 0: the client owes nothing; an interface's hour.
    let mut quiet = MqttParser::default();
    let connect = pkt(
        0x10,
        &[&s(b"MQTT")[..], &[4, 0x02, 0, 0], &s(b"q")].concat(),
    );
    quiet.feed(C, 0, &connect, &mut out);
    assert_eq!(
        quiet.idle_timeout(),
        Some(NO_KEEP_ALIVE_IDLE_TIMEOUT_SECS * 1_000_000)
    );
    // MQTT 5: the broker's Server Keep Alive (property 0x13) replaces it.
    let mut v5 = MqttParser::default();
    let connect = pkt(
        0x10,
        &[&s(b"MQTT")[..], &[5, 0x02, 0, 60, 0], &s(b"m")].concat(),
    );
    let connack = pkt(0x20, &[0x00, 0x00, 0x03, 0x13, 0x00, 0x14]);
    v5.feed(C, 0, &connect, &mut out);
    v5.feed(S, 1, &connack, &mut out);
    assert_eq!(v5.idle_timeout(), Some(30_000_000));
}

/// Feeds `segments` whole and one byte at a time; both must give the same
/// observations, which are returned with the anomalies counted.
fn observed_both_ways(
    segments: &[(Direction, &[u8])],
) -> (Vec<MqttObservation>, Vec<(&'static str, u64)>) {
    let run = |segments: &[(Direction, &[u8])]| {
        let mut parser = MqttParser::default();
        let mut pending = Pending::default();
        let mut out = OutputOf::<MqttParser>::default();
        for (d, bytes) in segments {
            pending.feed(&mut parser, *d, 0, bytes, &mut out).unwrap();
        }
        parser.finish(1, &mut out);
        let anomalies: Vec<(&'static str, u64)> = Anomaly::NAMES
            .iter()
            .copied()
            .zip(parser.anomaly_counts().iter().copied())
            .filter(|(_, n)| *n > 0)
            .collect();
        (out.observations, anomalies)
    };
    let whole = run(segments);
    let bytes: Vec<(Direction, Vec<u8>)> = segments
        .iter()
        .flat_map(|(d, b)| b.iter().map(move |x| (*d, vec![*x])))
        .collect();
    let bytes: Vec<(Direction, &[u8])> = bytes.iter().map(|(d, b)| (*d, &b[..])).collect();
    assert_eq!(run(&bytes), whole, "one byte at a time");
    whole
}

/// Issue 14: a CONNECT made long by a 9 KiB password still names its
/// client and user, read as it streams by, the password skipped unread.
#[test]
fn a_long_connect_still_names_its_client() {
    let password = vec![b'p'; 9 * 1024];
    let connect = pkt(
        0x10,
        &[
            &s(b"MQTT")[..],
            &[4, 0xc2, 0, 60], // level 4; user name, password, clean session; keep alive 60
            &s(b"pump-07"),
            &s(b"nurse"),
            &s(&password),
        ]
        .concat(),
    );
    assert!(connect.len() > MAX_PACKET_LEN);
    let (observed, anomalies) = observed_both_ways(&[(C, &connect), (S, &CONNACK_V4)]);
    assert_eq!(
        observed[0],
        MqttObservation::Connect {
            client_id: Some("pump-07".into()),
            username: Some("nurse".into()),
            protocol_version: 4,
        }
    );
    assert_eq!(anomalies, [("oversized_packet", 1)]);
}

/// MQTT 5: kilobytes of user properties and a large will payload before
/// the user name hide nothing.
#[test]
fn a_long_v5_connect_with_properties_and_a_will_names_its_client() {
    let mut properties = Vec::new();
    for i in 0..100u8 {
        // User Property (0x26): name and value strings.
        properties.push(0x26);
        properties.extend(s(format!("key-{i}").as_bytes()));
        properties.extend(s(&[b'v'; 90]));
    }
    let mut body = [&s(b"MQTT")[..], &[5, 0x86, 0, 30]].concat(); // user name, will, clean start
    body.extend(varint(properties.len()));
    body.extend(&properties);
    body.extend(s(b"monitor-12"));
    body.push(0); // will properties: none
    body.extend(s(b"ward5/monitor-12/gone"));
    body.extend(s(&[b'w'; 2000])); // will payload
    body.extend(s(b"icu"));
    let connect = pkt(0x10, &body);
    assert!(connect.len() > MAX_PACKET_LEN);
    let (observed, _) = observed_both_ways(&[(C, &connect)]);
    assert_eq!(
        observed[0],
        MqttObservation::Connect {
            client_id: Some("monitor-12".into()),
            username: Some("icu".into()),
            protocol_version: 5,
        }
    );
}

/// A Variable Byte Integer (MQTT 3.1.1 §2.2.3).
fn varint(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let mut b = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            b |= 0x80;
        }
        out.push(b);
        if n == 0 {
            return out;
        }
    }
}

/// Issue 14: a SUBSCRIBE padded past the packet limit — by a huge first
/// filter, or by MQTT 5 user properties — still shows its `#`.
#[test]
fn a_long_subscribe_still_shows_its_wildcard() {
    let huge = vec![b'a'; 9 * 1024];
    let padded = pkt(
        0x82,
        &[&[0x00, 0x07][..], &s(&huge), &[0x00], &s(b"#"), &[0x01]].concat(),
    );
    let (observed, anomalies) =
        observed_both_ways(&[(C, &connect_v4()), (S, &CONNACK_V4), (C, &padded)]);
    let filters: Vec<&str> = observed
        .iter()
        .filter_map(|o| match o {
            MqttObservation::Subscribe { filter, .. } => Some(filter.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(filters.len(), 2);
    assert_eq!(filters[0].len(), MAX_TOPIC_LEN, "the huge filter, cut");
    assert_eq!(filters[1], "#");
    assert_eq!(anomalies, [("oversized_packet", 1), ("oversized_topic", 1)]);

    // MQTT 5: 9 KiB of user properties before the filters.
    let connect = pkt(
        0x10,
        &[&s(b"MQTT")[..], &[5, 0x02, 0, 60, 0], &s(b"station-01")].concat(),
    );
    let connack = pkt(0x20, &[0x00, 0x00, 0x00]);
    let property = [&[0x26][..], &s(b"pad"), &s(&[b'x'; 9 * 1024])].concat();
    let subscribe = pkt(
        0x82,
        &[
            &[0x00, 0x01][..],
            &varint(property.len()),
            &property,
            &s(b"#"),
            &[0x00],
        ]
        .concat(),
    );
    let (observed, _) = observed_both_ways(&[(C, &connect), (S, &connack), (C, &subscribe)]);
    assert!(observed.contains(&MqttObservation::Subscribe {
        filter: "#".into(),
        qos: 0
    }));
}

/// Filters past the limit in one long SUBSCRIBE are counted, not kept:
/// the parser's memory stays bounded however many there are.
#[test]
fn a_subscribe_with_too_many_filters_keeps_the_first_and_counts_the_rest() {
    let mut body = vec![0x00, 0x02];
    for i in 0..200 {
        body.extend(s(format!("ward/{i:03}/{}", "x".repeat(40)).as_bytes()));
        body.push(0);
    }
    let subscribe = pkt(0x82, &body);
    assert!(subscribe.len() > MAX_PACKET_LEN);
    let (observed, anomalies) =
        observed_both_ways(&[(C, &connect_v4()), (S, &CONNACK_V4), (C, &subscribe)]);
    let filters = observed
        .iter()
        .filter(|o| matches!(o, MqttObservation::Subscribe { .. }))
        .count();
    assert_eq!(filters, MAX_FILTERS);
    assert!(anomalies.contains(&("too_many_filters", 200 - MAX_FILTERS as u64)));
    let rec = one(&[(C, &connect_v4()), (S, &CONNACK_V4), (C, &subscribe)]);
    assert_eq!(rec.subscriptions.len(), MAX_FILTERS);
}

#[test]
fn a_connection_picked_up_midstream_names_its_roles() {
    let status = pkt(0x30, &[&s(b"a/b")[..], b"1"].concat());
    let out = observe_all::<MqttParser>(&[(C, &status)]);
    let observed: Vec<_> = out.observations.iter().map(|(_, o)| o.clone()).collect();
    assert_eq!(
        observed,
        [
            MqttObservation::Midstream,
            MqttObservation::Publish {
                direction: C,
                topic: "a/b".into()
            }
        ]
    );
}

#[test]
fn subscribe_v5_options_and_suback_reason() {
    let subscribe = pkt(
        0x82,
        &[
            &[0x00, 0x01][..],   // packet identifier 1
            &[0x02, 0x0b, 0x07], // properties: subscription identifier 7
            &s(b"alarms/#"),     // topic filter
            &[0b0010_1101],      // retain handling 2, retain as published, no local, QoS 1
        ]
        .concat(),
    );
    // SUBACK: packet id 1, no properties, reason 0x87 not authorized.
    let suback = [0x90, 0x04, 0x00, 0x01, 0x00, 0x87];
    let rec = one(&[(C, &connect_v5()), (C, &subscribe), (S, &suback)]);
    let sub = &rec.subscriptions[0];
    assert_eq!(sub.filter, "alarms/#");
    assert_eq!(sub.qos, 1);
    assert_eq!(sub.no_local, Some(true));
    assert_eq!(sub.retain_as_published, Some(true));
    assert_eq!(sub.retain_handling, Some(2));
    assert_eq!(sub.granted, Some("not_authorized"));
}

#[test]
fn subscribe_without_its_required_flags_is_an_anomaly() {
    // SUBSCRIBE with flags 0b0000 instead of 0b0010.
    let subscribe = pkt(0x80, &[&[0, 1][..], &s(b"a"), &[0]].concat());
    let rec = one(&[(C, &connect_v4()), (S, &CONNACK_V4), (C, &subscribe)]);
    assert_eq!(rec.anomaly(Anomaly::InvalidFixedHeaderFlags), 1);
}

#[test]
fn unsubscribe_and_unsuback_v5() {
    let unsubscribe = pkt(
        0xa2, // UNSUBSCRIBE, flags 0b0010
        &[
            &[0x00, 0x02][..], // packet identifier 2
            &[0x00],           // property length 0
            &s(b"topicX"),     // filter
            &s(b"topicY"),     // filter
        ]
        .concat(),
    );
    // UNSUBACK: packet id 2, no properties, reasons success, no subscription existed.
    let unsuback = [0xb0, 0x05, 0x00, 0x02, 0x00, 0x00, 0x11];
    let rec = one(&[(C, &connect_v5()), (C, &unsubscribe), (S, &unsuback)]);
    let got: Vec<_> = rec
        .unsubscriptions
        .iter()
        .map(|u| (u.filter.as_str(), u.reason_code, u.reason))
        .collect();
    assert_eq!(
        got,
        vec![
            ("topicX", Some(0), Some("success")),
            ("topicY", Some(0x11), Some("no_subscription_existed"))
        ]
    );
}

#[test]
fn ping_and_v5_disconnect_reason() {
    let pingreq = [0xc0, 0x00]; // PINGREQ
    let pingresp = [0xd0, 0x00]; // PINGRESP
    // DISCONNECT: reason 0x04 disconnect with will message, property length 0.
    let disconnect = [0xe0, 0x02, 0x04, 0x00];
    let rec = one(&[
        (C, &connect_v5()),
        (C, &pingreq),
        (S, &pingresp),
        (C, &disconnect),
    ]);
    assert_eq!(rec.packets.to_server.get("pingreq"), Some(&1));
    assert_eq!(rec.packets.to_client.get("pingresp"), Some(&1));
    assert_eq!(
        rec.disconnect,
        Some(Disconnect {
            direction: "to_server",
            reason_code: Some(4),
            reason: Some("disconnect_with_will_message")
        })
    );
}

#[test]
fn auth_v5_keeps_the_method_not_the_data() {
    let auth = pkt(
        0xf0, // AUTH
        &[
            &[0x18][..],   // reason: continue authentication
            &[0x10],       // property length 16
            &[0x15],       // authentication method
            &s(b"SCRAM"),  //   "SCRAM"
            &[0x16],       // authentication data (never kept)
            &s(b"n,,n=u"), //
        ]
        .concat(),
    );
    let rec = one(&[(C, &connect_v5()), (S, &auth)]);
    assert_eq!(
        rec.auth,
        vec![AuthExchange {
            direction: "to_client",
            reason_code: 0x18,
            reason: "continue_authentication",
            method: Some("SCRAM".into())
        }]
    );
    assert!(!serde_json::to_string(&rec).unwrap().contains("n=u"));
}

#[test]
fn reserved_type_and_auth_before_v5_are_unassigned() {
    let reserved = pkt(0x00, b"abc"); // type 0
    let auth = [0xf0, 0x00]; // AUTH in a 3.1.1 connection
    let rec = one(&[
        (C, &connect_v4()),
        (S, &CONNACK_V4),
        (C, &reserved),
        (C, &auth),
        (C, &[0xc0, 0]),
    ]);
    assert_eq!(rec.anomaly(Anomaly::UnassignedMsgType), 2);
    // Framing survived: the PINGREQ after them was counted.
    assert_eq!(rec.packets.to_server.get("pingreq"), Some(&1));
}

#[test]
fn wrong_direction_and_duplicate_connect() {
    let rec = one(&[
        (C, &connect_v4()),
        (S, &CONNACK_V4),
        (C, &CONNACK_V4),   // CONNACK from the client
        (S, &connect_v4()), // CONNECT from the broker
        (C, &connect_v4()), // second CONNECT
    ]);
    assert_eq!(rec.anomaly(Anomaly::WrongDirection), 2);
    assert_eq!(rec.anomaly(Anomaly::DuplicateConnect), 1);
}

#[test]
fn missing_connect_midstream_infers_v5() {
    // CONNACK with a property block (remaining 3): only MQTT 5 sends that.
    let connack = [0x20, 0x03, 0x00, 0x00, 0x00];
    // PUBLISH with a v5 property length byte before the payload.
    let publish = pkt(0x30, &[&s(b"topicX")[..], &[0x00], b"abcd"].concat());
    let rec = one(&[(S, &connack), (C, &publish)]);
    assert_eq!(rec.anomaly(Anomaly::MissingConnect), 1);
    assert_eq!(rec.protocol_version, None);
    assert_eq!(
        rec.publish_topics[0].payload_bytes, 4,
        "v5 property length not counted"
    );
}

#[test]
fn client_packets_before_a_connack_count_only_without_acceptance() {
    let publish = pkt(0x30, &[&s(b"t")[..], b"x"].concat());
    // Pipelined before the CONNACK, then accepted: fine (3.1.1 §3.1.4).
    let ok = one(&[(C, &connect_v4()), (C, &publish), (S, &CONNACK_V4)]);
    assert_eq!(ok.anomaly(Anomaly::UnintroducedMessage), 0);
    // Never accepted.
    let never = one(&[(C, &connect_v4()), (C, &publish)]);
    assert_eq!(never.anomaly(Anomaly::UnintroducedMessage), 1);
    // After a refusal.
    let refused = one(&[(C, &connect_v4()), (S, &[0x20, 2, 0, 5]), (C, &publish)]);
    assert_eq!(refused.anomaly(Anomaly::UnintroducedMessage), 1);
}

// -------------------------------------------------------------- boundaries

#[test]
fn remaining_length_of_one_byte_max_127() {
    // PUBLISH, remaining 127 = 0x7f: topic "t" (3 bytes) + 124 payload.
    let mut p = vec![0x30, 0x7f];
    p.extend(s(b"t"));
    p.extend([b'x'; 124]);
    let rec = one(&[(C, &connect_v4()), (C, &p)]);
    assert_eq!(rec.publish_topics[0].payload_bytes, 124);
}

#[test]
fn remaining_length_of_two_bytes_min_128() {
    // Remaining 128 = 0x80 0x01.
    let mut p = vec![0x30, 0x80, 0x01];
    p.extend(s(b"t"));
    p.extend([b'x'; 125]);
    p.extend([0xc0, 0x00]); // a PINGREQ after it proves the framing
    let rec = one(&[(C, &connect_v4()), (C, &p)]);
    assert_eq!(rec.publish_topics[0].payload_bytes, 125);
    assert_eq!(rec.packets.to_server.get("pingreq"), Some(&1));
}

#[test]
fn remaining_length_of_four_bytes_is_the_largest_valid() {
    // Remaining 268,435,455 = 0xff 0xff 0xff 0x7f; only the header is fed,
    // then the payload in 1 MiB steps without any being held.
    let mut head = vec![0x30, 0xff, 0xff, 0xff, 0x7f];
    head.extend(s(b"bulk"));
    let mut parser = MqttParser::default();
    let mut pending = Pending::default();
    let mut out = OutputOf::<MqttParser>::default();
    pending
        .feed(&mut parser, C, 0, &connect_v4(), &mut out)
        .unwrap();
    pending
        .feed(&mut parser, S, 0, &CONNACK_V4, &mut out)
        .unwrap();
    pending.feed(&mut parser, C, 0, &head, &mut out).unwrap();
    let chunk = vec![0u8; 1 << 20];
    let mut left: u64 = 268_435_455 - 6;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        pending
            .feed(&mut parser, C, 0, &chunk[..n], &mut out)
            .unwrap();
        assert!(pending.is_empty(), "payload bytes are never held");
        left -= n as u64;
    }
    pending
        .feed(&mut parser, C, 0, &[0xc0, 0x00], &mut out)
        .unwrap();
    parser.finish(1, &mut out);
    let rec = &out.records[0];
    assert_eq!(rec.publish_topics[0].payload_bytes, 268_435_455 - 6);
    assert_eq!(rec.packets.to_server.get("pingreq"), Some(&1));
    assert!(rec.anomalies.is_empty());
}

#[test]
fn remaining_length_with_a_fifth_byte_is_malformed() {
    let bad = [0x30, 0xff, 0xff, 0xff, 0xff, 0x01];
    let rec = one(&[(C, &connect_v4()), (C, &bad), (C, &[0xc0, 0x00])]);
    assert_eq!(rec.anomaly(Anomaly::MalformedRemainingLength), 1);
    // The direction is no longer framed: the PINGREQ is not seen.
    assert_eq!(rec.packets.to_server.get("pingreq"), None);
    assert_eq!(wire::fixed_header(&bad), wire::Header::BadLength);
    assert_eq!(wire::fixed_header(&bad[..4]), wire::Header::Incomplete);
}

#[test]
fn packet_of_max_packet_len_is_parsed_and_one_more_is_read_as_it_streams() {
    fn subscribe_of_total(total: usize) -> Vec<u8> {
        // 0x82, 2 length bytes, packet id 2, filter (2 + n), QoS 1.
        let n = total - 3 - 2 - 2 - 1;
        let filter = vec![b'a'; n];
        let p = pkt(0x82, &[&[0, 1][..], &s(&filter), &[0]].concat());
        assert_eq!(p.len(), total);
        p
    }
    let ok = subscribe_of_total(MAX_PACKET_LEN);
    let rec = one(&[(C, &connect_v4()), (S, &CONNACK_V4), (C, &ok)]);
    assert_eq!(rec.subscriptions.len(), 1);
    assert_eq!(rec.anomaly(Anomaly::OversizedPacket), 0);
    let big = subscribe_of_total(MAX_PACKET_LEN + 1);
    let rec = one(&[
        (C, &connect_v4()),
        (S, &CONNACK_V4),
        (C, &big),
        (C, &[0xc0, 0]),
    ]);
    // A SUBSCRIBE keeps its filter (cut to the topic limit); the framing
    // goes on after it.
    assert_eq!(rec.subscriptions.len(), 1);
    assert_eq!(rec.subscriptions[0].filter.len(), MAX_TOPIC_LEN);
    assert_eq!(rec.anomaly(Anomaly::OversizedPacket), 1);
    assert_eq!(rec.packets.to_server.get("pingreq"), Some(&1));
    // Any other long packet (a SUBACK of 9 000 codes) is skipped by length.
    let suback = pkt(0x90, &[&[0, 1][..], &vec![0u8; MAX_PACKET_LEN]].concat());
    let rec = one(&[
        (C, &connect_v4()),
        (S, &CONNACK_V4),
        (S, &suback),
        (S, &[0xd0, 0]),
    ]);
    assert_eq!(rec.anomaly(Anomaly::OversizedPacket), 1);
    assert_eq!(rec.packets.to_client.get("suback"), Some(&1));
    assert_eq!(rec.packets.to_client.get("pingresp"), Some(&1));
}

#[test]
fn topic_of_max_topic_len_is_kept_and_one_more_is_cut() {
    let exact = vec![b'a'; MAX_TOPIC_LEN];
    let p = pkt(0x30, &[&s(&exact)[..], b"xyz"].concat());
    let rec = one(&[(C, &connect_v4()), (C, &p)]);
    assert_eq!(rec.publish_topics[0].topic.len(), MAX_TOPIC_LEN);
    assert_eq!(rec.anomaly(Anomaly::OversizedTopic), 0);
    let long = vec![b'a'; MAX_TOPIC_LEN + 1];
    let p = pkt(0x30, &[&s(&long)[..], b"xyz"].concat());
    let rec = one(&[(C, &connect_v4()), (C, &p)]);
    assert_eq!(rec.publish_topics[0].topic.len(), MAX_TOPIC_LEN);
    assert_eq!(rec.publish_topics[0].payload_bytes, 3);
    assert_eq!(rec.anomaly(Anomaly::OversizedTopic), 1);
}

#[test]
fn client_id_of_max_string_len_is_kept_and_one_more_is_cut() {
    for (len, cut) in [(MAX_STRING_LEN, 0), (MAX_STRING_LEN + 1, 1)] {
        let id = vec![b'p'; len];
        let connect = pkt(0x10, &[&s(b"MQTT")[..], &[4, 2, 0, 60], &s(&id)].concat());
        let rec = one(&[(C, &connect)]);
        assert_eq!(rec.client_id.unwrap().len(), MAX_STRING_LEN);
        assert_eq!(
            rec.anomalies.get("oversized_string").copied().unwrap_or(0),
            cut
        );
    }
}

#[test]
fn max_topics_are_kept_and_one_more_is_counted() {
    let mut parts = vec![connect_v4()];
    for i in 0..=MAX_TOPICS {
        parts.push(pkt(
            0x30,
            &[&s(format!("t/{i}").as_bytes())[..], b"x"].concat(),
        ));
    }
    let segs: Vec<_> = parts.iter().map(|p| (C, &p[..])).collect();
    let rec = one(&segs);
    assert_eq!(rec.publish_topics.len(), MAX_TOPICS);
    assert_eq!(rec.anomaly(Anomaly::TooManyTopics), 1);
}

#[test]
fn property_length_past_the_packet_is_malformed_properties() {
    // CONNECT v5 whose property length (0xff 0x21 = 4351) exceeds the packet
    // (suricata-verify mqtt5-excessiveproplen).
    let connect = pkt(
        0x10,
        &[
            &s(b"MQTT")[..],
            &[5, 0xc2, 0, 60],
            &[0xff, 0x21],
            &[0x00, 0x14],
            &s(b"c"),
        ]
        .concat(),
    );
    let rec = one(&[(C, &connect), (C, &[0xc0, 0x00])]);
    assert_eq!(rec.anomaly(Anomaly::MalformedProperties), 1);
    assert_eq!(rec.client_id, None);
    assert_eq!(rec.packets.to_server.get("pingreq"), Some(&1));
}

#[test]
fn truncated_field_is_malformed_pdu_and_framing_survives() {
    // CONNACK remaining 1: the return code is missing.
    let rec = one(&[
        (C, &connect_v4()),
        (S, &[0x20, 0x01, 0x00]),
        (S, &[0xd0, 0x00]),
    ]);
    assert_eq!(rec.anomaly(Anomaly::MalformedPdu), 1);
    assert_eq!(rec.packets.to_client.get("pingresp"), Some(&1));
}

#[test]
fn connection_ending_inside_a_packet_is_truncated() {
    let publish = pkt(0x30, &[&s(b"t")[..], &[b'x'; 100]].concat());
    let rec = one(&[(C, &connect_v4()), (C, &publish[..50])]);
    assert_eq!(rec.anomaly(Anomaly::TruncatedPacket), 1);
    // Nothing whole was seen: no record at all.
    assert!(feed_all::<MqttParser>(&[(C, &connect_v4()[..5])]).is_empty());
}

#[test]
fn gap_inside_a_skipped_payload_is_harmless_and_elsewhere_stops_the_direction() {
    let publish = pkt(0x30, &[&s(b"t")[..], &[b'x'; 1000]].concat());
    let mut parser = MqttParser::default();
    let mut out = OutputOf::<MqttParser>::default();
    parser.feed(C, 0, &connect_v4(), &mut out);
    assert_eq!(parser.feed(C, 0, &publish[..100], &mut out), 100);
    assert!(parser.gap(C, 500), "inside the payload");
    assert_eq!(
        parser.feed(C, 0, &publish[600..], &mut out),
        publish.len() - 600
    );
    parser.feed(C, 0, &[0xc0, 0x00], &mut out);
    assert!(parser.gap(C, 10), "the other direction still parses");
    parser.feed(C, 0, &[0xc0, 0x00], &mut out);
    assert!(!parser.gap(S, 1), "both directions stopped");
    parser.finish(0, &mut out);
    let rec = &out.records[0];
    assert_eq!(rec.packets.to_server.get("pingreq"), Some(&1));
    assert_eq!(rec.anomaly(Anomaly::Gap), 2);
}

#[test]
fn no_record_without_a_whole_packet_and_finish_is_idempotent() {
    let mut parser = MqttParser::default();
    let mut out = OutputOf::<MqttParser>::default();
    assert_eq!(parser.feed(C, 0, &[0x10, 0x0c, 0x00], &mut out), 0);
    parser.finish(0, &mut out);
    assert!(out.records.is_empty());
    let mut parser = MqttParser::default();
    parser.feed(C, 0, &connect_v4(), &mut out);
    parser.finish(0, &mut out);
    parser.finish(0, &mut out);
    assert_eq!(out.records.len(), 1);
}

#[test]
fn hundred_megabyte_publish_holds_nothing() {
    // 100 MB of payload fed in 64 KiB segments: nothing is pending after any.
    let total: usize = 100 * 1024 * 1024;
    let mut head = pkt(0x30, &[]);
    head.truncate(1);
    let mut n = 2 + 5 + total;
    while n > 0 {
        let b = (n % 128) as u8;
        n /= 128;
        head.push(if n > 0 { b | 0x80 } else { b });
    }
    head.extend(s(b"image"));
    let chunk = vec![0x5au8; 64 * 1024];
    let mut parser = MqttParser::default();
    let mut pending = Pending::default();
    let mut out = OutputOf::<MqttParser>::default();
    pending
        .feed(&mut parser, C, 0, &connect_v4(), &mut out)
        .unwrap();
    pending.feed(&mut parser, C, 0, &head, &mut out).unwrap();
    let mut left = total;
    while left > 0 {
        let n = left.min(chunk.len());
        pending
            .feed(&mut parser, C, 0, &chunk[..n], &mut out)
            .unwrap();
        assert!(pending.is_empty());
        left -= n;
    }
    parser.finish(0, &mut out);
    assert_eq!(out.records[0].publish_topics[0].payload_bytes, total as u64);
}

#[test]
fn text_is_bounded_lossy_and_without_controls() {
    assert_eq!(text(b"  pump\x00-7\n ", 64), "pump\u{fffd}-7");
    assert_eq!(text(b"\xff\xfeab", 64), "\u{fffd}\u{fffd}ab");
    assert_eq!(text(b"abcdef", 3), "abc");
}

#[test]
fn anomaly_names_match_the_enum() {
    assert_eq!(MqttParser::ANOMALIES.len(), 20);
    assert_eq!(Anomaly::MissingConnect.name(), "missing_connect");
    assert_eq!(Anomaly::TruncatedPacket.name(), "truncated_packet");
    let parser = MqttParser::default();
    assert_eq!(parser.anomaly_counts().len(), MqttParser::ANOMALIES.len());
}

// -------------------------------------------------------------- detection

#[test]
fn probe_matches_connect_of_each_version() {
    for connect in [
        connect_v4(),
        connect_v5(),
        pkt(
            0x10,
            &[&s(b"MQIsdp")[..], &[3, 2, 0, 60], &s(b"c")].concat(),
        ),
    ] {
        assert_eq!(MqttParser::probe(C, &connect), Probe::Match);
        // Enough to decide: header, name, level.
        let name_len = connect[3] as usize;
        assert_eq!(MqttParser::probe(C, &connect[..5 + name_len]), Probe::Match);
        for n in 0..(4 + name_len) {
            assert_eq!(
                MqttParser::probe(C, &connect[..n]),
                Probe::NeedMore,
                "{n} bytes"
            );
        }
        assert_eq!(MqttParser::probe(S, &connect), Probe::NoMatch);
    }
}

#[test]
fn probe_rejects_other_protocols() {
    let tls = [
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    let http = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    let ssh = b"SSH-2.0-OpenSSH_9.2p1\r\n";
    let zeros = [0u8; 32];
    // Byte 0x10 but not MQTT: a DICOM-like or random header.
    let fake = [
        0x10, 0x0c, 0x00, 0x04, b'H', b'T', b'T', b'P', 0x04, 0x02, 0, 60, 0, 0,
    ];
    // CONNECT with level 9.
    let level9 = pkt(0x10, &[&s(b"MQTT")[..], &[9, 2, 0, 60], &s(b"c")].concat());
    // CONNECT flags byte 0x11 (flags must be 0).
    let mut flags = connect_v4();
    flags[0] = 0x11;
    for bytes in [&tls[..], http, ssh, &zeros, &fake, &level9, &flags] {
        assert_eq!(MqttParser::probe(C, bytes), Probe::NoMatch, "{bytes:02x?}");
    }
    // Too short to be a CONNECT.
    assert_eq!(
        MqttParser::probe(C, &[0x10, 0x02, 0x00, 0x04]),
        Probe::NoMatch
    );
}

#[test]
fn probe_on_real_first_client_bytes() {
    // MQTT on ports 17500/17501 (ndpi coap_mqtt.pcap) and 1883.
    for name in [
        "ndpi-coap_mqtt.2.bin",
        "ndpi-mqtt.0.bin",
        "ndpi-mqtt.1.bin",
        "sv-mqtt5-pub-mosquittoprops.0.bin",
    ] {
        let first = first_client_bytes(name);
        assert_eq!(MqttParser::probe(C, &first), Probe::Match, "{name}");
    }
    // TLS and other traffic in suricata-verify's missing-connect capture.
    for name in [
        "sv-mqtt-events-missing-connect.0.bin",
        "sv-mqtt-events-missing-connect.3.bin",
    ] {
        let first = first_client_bytes(name);
        assert_eq!(MqttParser::probe(C, &first), Probe::NoMatch, "{name}");
    }
}

// ----------------------------------------------------------- real streams

/// One chunk of a stream file written by testdata/extract.sh.
#[derive(Debug, Clone)]
enum Chunk {
    Data(Direction, Vec<u8>),
    Gap(Direction, u64),
}

fn load(name: &str) -> Vec<Chunk> {
    let path = format!(
        "{}/src/proto/mqtt/testdata/streams/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut out = Vec::new();
    let mut rest = &data[..];
    while let [d, a, b, c, e, tail @ ..] = rest {
        let n = u32::from_be_bytes([*a, *b, *c, *e]) as usize;
        match d {
            b'>' | b'<' => {
                let dir = if *d == b'>' { C } else { S };
                out.push(Chunk::Data(dir, tail[..n].to_vec()));
                rest = &tail[n..];
            }
            _ => {
                let dir = if *d == b'}' { C } else { S };
                out.push(Chunk::Gap(dir, n as u64));
                rest = tail;
            }
        }
    }
    out
}

fn first_client_bytes(name: &str) -> Vec<u8> {
    load(name)
        .into_iter()
        .find_map(|c| match c {
            Chunk::Data(C, b) => Some(b),
            _ => None,
        })
        .unwrap()
}

/// Feeds a stream file as the worker would (gaps included).
fn replay_chunks(chunks: &[Chunk]) -> Vec<Connection> {
    if chunks.iter().all(|c| matches!(c, Chunk::Data(..))) {
        let segs: Vec<(Direction, &[u8])> = chunks
            .iter()
            .filter_map(|c| match c {
                Chunk::Data(d, b) => Some((*d, &b[..])),
                Chunk::Gap(..) => None,
            })
            .collect();
        return feed_all::<MqttParser>(&segs);
    }
    let mut parser = MqttParser::default();
    let mut pending = Pending::default();
    let mut out = OutputOf::<MqttParser>::default();
    for c in chunks {
        match c {
            Chunk::Data(d, b) => pending.feed(&mut parser, *d, 0, b, &mut out).unwrap(),
            Chunk::Gap(d, n) => {
                pending.clear(*d);
                parser.gap(*d, *n);
            }
        }
    }
    parser.finish(0, &mut out);
    out.records
}

fn replay(name: &str) -> Connection {
    let mut recs = replay_chunks(&load(name));
    assert_eq!(recs.len(), 1, "{name}");
    recs.remove(0)
}

fn all_stream_names() -> Vec<String> {
    let dir = format!(
        "{}/src/proto/mqtt/testdata/streams",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// What suricata-verify's test.yaml (and tshark where noted) say about one
/// capture.
struct Expect {
    stream: &'static str,
    /// mqtt.connect.protocol_string / tshark mqtt.protoname
    proto: Option<&'static str>,
    /// mqtt.connect.protocol_version / tshark mqtt.ver
    version: Option<u8>,
    /// mqtt.connect.client_id / tshark mqtt.clientid
    client_id: Option<&'static str>,
    /// mqtt.connect.username / tshark mqtt.username
    username: Option<&'static str>,
    /// mqtt.connect.flags.password / tshark mqtt.conflag.passwd
    password: Option<bool>,
    /// mqtt.connack.return_code / tshark mqtt.conack.val, mqtt.connack.reason_code
    connack: Option<u8>,
    /// mqtt.publish.topic, qos, retain / tshark mqtt.topic, mqtt.qos, mqtt.retain
    publish: &'static [(&'static str, u8, bool)],
    /// mqtt.subscribe.topics / mqtt.suback.qos_granted
    subscribe: &'static [(&'static str, u8, u8)],
    /// mqtt.unsubscribe.topics
    unsubscribe: &'static [&'static str],
    /// mqtt.disconnect.reason_code (MQTT 5) / tshark mqtt.disconnect.reason_code
    disconnect: Option<Option<u8>>,
    /// anomaly.event, mapped to medtap's names
    anomaly: Option<&'static str>,
}

const NONE: Expect = Expect {
    stream: "",
    proto: None,
    version: None,
    client_id: None,
    username: None,
    password: None,
    connack: None,
    publish: &[],
    subscribe: &[],
    unsubscribe: &[],
    disconnect: None,
    anomaly: None,
};

const MYVOICE: &str = "myvoiceismypassport";

/// The suricata-verify MQTT folders, one row each. Where the expectation
/// differs from Suricata's, the row says why.
fn suricata_verify_table() -> Vec<Expect> {
    let v31 = Expect {
        proto: Some("MQIsdp"),
        version: Some(3),
        client_id: Some(MYVOICE),
        username: Some("user"),
        password: Some(true),
        connack: Some(0),
        disconnect: Some(None),
        ..NONE
    };
    let v311 = Expect {
        proto: Some("MQTT"),
        version: Some(4),
        ..v31
    };
    let v5 = Expect {
        proto: Some("MQTT"),
        version: Some(5),
        disconnect: Some(Some(0)),
        ..v31
    };
    // tshark mqtt.disconnect.reason_code is 4 in these captures ("e0 01 04");
    // the test.yaml filters that say 0 do not match those packets.
    let v5_will = Expect {
        disconnect: Some(Some(4)),
        ..v5
    };
    let pub_x0 = &[("topicX", 0, false)][..];
    let sub_xy = &[("topicX", 0, 0), ("topicY", 0, 0)][..];
    vec![
        Expect {
            stream: "sv-mqtt31-pub-qos1.0.bin",
            publish: &[("topicX", 1, false)],
            ..v31
        },
        Expect {
            stream: "sv-mqtt31-pub-qos2.0.bin",
            publish: &[("topicX", 2, false)],
            ..v31
        },
        Expect {
            stream: "sv-mqtt31-pub-userpass.0.bin",
            publish: pub_x0,
            ..v31
        },
        Expect {
            stream: "sv-mqtt31-pub-userpass-auto-clientid.0.bin",
            client_id: Some("mosq-dRkAMvJQvimi16jz72"),
            publish: pub_x0,
            ..v31
        },
        Expect {
            stream: "sv-mqtt31-sub-userpass.0.bin",
            subscribe: sub_xy,
            ..v31
        },
        Expect {
            stream: "sv-mqtt31-unsub-qos1.0.bin",
            subscribe: &[("topicX", 1, 1)],
            unsubscribe: &["topicX", "topicY"],
            ..v31
        },
        Expect {
            stream: "sv-mqtt31-unsub-qos2.0.bin",
            subscribe: &[("topicX", 2, 2)],
            unsubscribe: &["topicX", "topicY"],
            ..v31
        },
        Expect {
            stream: "sv-mqtt31-unsub-userpass.0.bin",
            subscribe: &[("topicX", 0, 0)],
            unsubscribe: &["topicX", "topicY"],
            ..v31
        },
        Expect {
            stream: "sv-mqtt311-pub-qos1.0.bin",
            publish: &[("topicX", 1, false)],
            ..v311
        },
        Expect {
            stream: "sv-mqtt311-pub-qos2.0.bin",
            publish: &[("topicX", 2, false)],
            ..v311
        },
        Expect {
            stream: "sv-mqtt311-pub-userpass.0.bin",
            publish: pub_x0,
            ..v311
        },
        Expect {
            stream: "sv-mqtt311-pub-userpass-auto-clientid.0.bin",
            client_id: Some("mosq-aGMiV6nelbCb00tvAY"),
            publish: pub_x0,
            ..v311
        },
        Expect {
            stream: "sv-mqtt311-sub-userpass.0.bin",
            subscribe: sub_xy,
            ..v311
        },
        Expect {
            stream: "sv-mqtt311-unsub-qos1.0.bin",
            subscribe: &[("topicX", 1, 1)],
            unsubscribe: &["topicX", "topicY"],
            ..v311
        },
        Expect {
            stream: "sv-mqtt311-unsub-qos2.0.bin",
            subscribe: &[("topicX", 2, 2)],
            unsubscribe: &["topicX", "topicY"],
            ..v311
        },
        Expect {
            stream: "sv-mqtt311-unsub-userpass.0.bin",
            subscribe: &[("topicX", 0, 0)],
            unsubscribe: &["topicX", "topicY"],
            ..v311
        },
        Expect {
            stream: "sv-mqtt5-pub-qos1.0.bin",
            publish: &[("topicX", 1, false)],
            ..v5
        },
        Expect {
            stream: "sv-mqtt5-pub-qos2.0.bin",
            publish: &[("topicX", 2, false)],
            ..v5
        },
        Expect {
            stream: "sv-mqtt5-pub-userpass.0.bin",
            publish: pub_x0,
            ..v5
        },
        Expect {
            stream: "sv-mqtt5-pub-userpass-auto-clientid.0.bin",
            client_id: Some(""),
            publish: pub_x0,
            ..v5
        },
        Expect {
            stream: "sv-mqtt5-pub-mosquittoprops.0.bin",
            publish: &[("topicX", 1, false)],
            ..v5
        },
        Expect {
            stream: "sv-mqtt5-sub-userpass.0.bin",
            subscribe: sub_xy,
            ..v5_will
        },
        Expect {
            stream: "sv-mqtt5-sub-mosquittoprops.0.bin",
            subscribe: sub_xy,
            ..v5_will
        },
        Expect {
            stream: "sv-mqtt5-unsub-qos1.0.bin",
            subscribe: &[("topicX", 1, 1)],
            unsubscribe: &["topicX", "topicY"],
            ..v5_will
        },
        Expect {
            stream: "sv-mqtt5-unsub-qos2.0.bin",
            subscribe: &[("topicX", 2, 2)],
            unsubscribe: &["topicX", "topicY"],
            ..v5_will
        },
        Expect {
            stream: "sv-mqtt5-unsub-userpass.0.bin",
            subscribe: &[("topicX", 0, 0)],
            unsubscribe: &["topicX", "topicY"],
            ..v5_will
        },
        Expect {
            stream: "sv-mqtt5-sub-customauth.0.bin",
            username: None,
            password: Some(false),
            connack: Some(140),
            disconnect: None,
            ..v5
        },
        Expect {
            stream: "sv-mqtt-pub-rules.0.bin",
            client_id: Some(""),
            publish: pub_x0,
            ..v5
        },
        Expect {
            stream: "sv-mqtt-connect-rules.0.bin",
            client_id: Some(""),
            publish: pub_x0,
            ..v5
        },
        // "MQTT CONNACK reason code 134" alert.
        Expect {
            stream: "sv-mqtt-connect-rules-2.0.bin",
            client_id: Some(""),
            connack: Some(134),
            publish: pub_x0,
            anomaly: Some("unintroduced_message"),
            ..v5
        },
        Expect {
            stream: "sv-mqtt-limit-2.0.bin",
            client_id: Some("P1"),
            username: None,
            password: Some(false),
            publish: &[
                ("foo", 1, false),
                ("foo", 0, false),
                ("bar", 1, false),
                ("baz", 1, false),
            ],
            subscribe: &[("foo", 0, 0)],
            ..v311
        },
        // anomaly.event invalid_qos_level; the PUBLISH is not recorded.
        Expect {
            stream: "sv-mqtt-events-invalid-qos.0.bin",
            anomaly: Some("invalid_qos_level"),
            ..v311
        },
        // anomaly.event unassigned_msg_type.
        Expect {
            stream: "sv-mqtt-events-unassigned-msgtype.0.bin",
            anomaly: Some("unassigned_msg_type"),
            ..v311
        },
        // anomaly.event unintroduced_message: a PUBLISH, never a CONNACK.
        Expect {
            stream: "sv-mqtt-events-unintroduced.0.bin",
            connack: None,
            disconnect: None,
            publish: pub_x0,
            anomaly: Some("unintroduced_message"),
            ..v31
        },
        // anomaly.event missing_connect: the CONNECT was lost (a 16-byte gap).
        Expect {
            stream: "sv-mqtt-events-missing-connect.2.bin",
            connack: Some(0),
            // tshark frame 41: "Publish Message (id=1) [house/bulbs/bulb1]", QoS 1, from the broker.
            publish: &[("house/bulbs/bulb1", 1, false)],
            anomaly: Some("missing_connect"),
            ..NONE
        },
        Expect {
            stream: "sv-mqtt-events-missing-connect.5.bin",
            proto: Some("MQTT"),
            version: Some(4),
            client_id: Some("P1"),
            password: Some(false),
            connack: Some(0),
            subscribe: &[("house/bulbs/bulb2", 1, 1)],
            disconnect: Some(None),
            ..NONE
        },
        // Suricata counts each of PINGREQ and PINGRESP as unintroduced_message;
        // medtap reports the connection's missing CONNECT once.
        Expect {
            stream: "sv-mqtt-ping.0.bin",
            anomaly: Some("missing_connect"),
            ..NONE
        },
        // Picked up midstream: CONNACK with properties, so MQTT 5.
        Expect {
            stream: "sv-mqtt-midstream-split.0.bin",
            connack: Some(0),
            publish: pub_x0,
            disconnect: Some(Some(0)),
            anomaly: Some("missing_connect"),
            ..NONE
        },
        // anomaly.event malformed_traffic: property length 4351 in a CONNECT
        // of 47 bytes; what follows it is not read.
        Expect {
            stream: "sv-mqtt5-excessiveproplen.0.bin",
            client_id: None,
            username: None,
            publish: pub_x0,
            anomaly: Some("malformed_properties"),
            ..v5
        },
        Expect {
            stream: "sv-mqtt-frames-truncated.0.bin",
            client_id: Some(""),
            disconnect: None,
            ..v5
        },
    ]
}

fn check(e: &Expect) {
    let rec = replay(e.stream);
    let n = e.stream;
    assert_eq!(rec.protocol_name.as_deref(), e.proto, "{n} protocol_name");
    assert_eq!(rec.protocol_version, e.version, "{n} protocol_version");
    assert_eq!(rec.client_id.as_deref(), e.client_id, "{n} client_id");
    assert_eq!(rec.username.as_deref(), e.username, "{n} username");
    assert_eq!(rec.password_present, e.password, "{n} password_present");
    assert_eq!(
        rec.connack.as_ref().map(|c| c.code),
        e.connack,
        "{n} connack"
    );
    let publish: Vec<_> = rec
        .publish_topics
        .iter()
        .map(|t| (t.topic.as_str(), t.qos.clone(), t.retain))
        .collect();
    let want: Vec<_> = e
        .publish
        .iter()
        .map(|(t, q, r)| (*t, vec![*q], *r))
        .collect();
    assert_eq!(publish, want, "{n} publish");
    let subs: Vec<_> = rec
        .subscriptions
        .iter()
        .map(|s| (s.filter.as_str(), s.qos, s.granted_code.unwrap_or(0xff)))
        .collect();
    assert_eq!(subs, e.subscribe.to_vec(), "{n} subscribe");
    let unsubs: Vec<_> = rec
        .unsubscriptions
        .iter()
        .map(|u| u.filter.as_str())
        .collect();
    assert_eq!(unsubs, e.unsubscribe.to_vec(), "{n} unsubscribe");
    assert_eq!(
        rec.disconnect.as_ref().map(|d| d.reason_code),
        e.disconnect,
        "{n} disconnect"
    );
    match e.anomaly {
        Some(a) => assert!(
            rec.anomalies.get(a).copied().unwrap_or(0) >= 1,
            "{n}: {:?}",
            rec.anomalies
        ),
        None => assert!(rec.anomalies.is_empty(), "{n}: {:?}", rec.anomalies),
    }
}

#[test]
fn suricata_verify_captures_agree_with_their_expectations() {
    let table = suricata_verify_table();
    for e in &table {
        check(e);
    }
    // Every MQTT stream of the suricata-verify folders is in the table
    // (missing-connect streams 0, 1, 3 and 4 are TLS and other traffic).
    let covered: Vec<_> = table.iter().map(|e| e.stream).collect();
    for name in all_stream_names() {
        let other = name.starts_with("sv-mqtt-events-missing-connect.")
            && !name.ends_with(".2.bin")
            && !name.ends_with(".5.bin");
        if name.starts_with("sv-") && !other {
            assert!(covered.contains(&name.as_str()), "{name} not in the table");
        }
    }
}

#[test]
fn suricata_verify_property_values() {
    // mqtt5-pub-mosquittoprops test.yaml: mqtt.connect.properties.* and
    // mqtt.connect.will.topic; the will message is never kept.
    let rec = replay("sv-mqtt5-pub-mosquittoprops.0.bin");
    let p = rec.connect_properties.clone().unwrap();
    assert_eq!(p.maximum_packet_size, Some(11111));
    assert_eq!(p.receive_maximum, Some(222));
    assert_eq!(p.session_expiry_interval, Some(555));
    assert_eq!(p.topic_alias_maximum, Some(666));
    assert_eq!(p.user_properties, 2); // userprop1, userprop2
    assert_eq!(
        rec.will.as_ref().map(|w| w.topic.as_str()),
        Some("willtopic")
    );
    let json = serde_json::to_string(&rec).unwrap();
    for secret in [
        "willmessage",
        "userval",
        "userprop",
        "1234567",
        "mywilltype",
    ] {
        assert!(!json.contains(secret), "{secret}");
    }
    // mqtt.connack.properties.topic_alias_maximum: 10
    let c = rec.connack.unwrap();
    assert_eq!(c.properties.unwrap().topic_alias_maximum, Some(10));
    // mqtt5-pub-userpass-auto-clientid: assigned_client_identifier.
    let rec = replay("sv-mqtt5-pub-userpass-auto-clientid.0.bin");
    assert_eq!(
        rec.assigned_client_id.as_deref(),
        Some("auto-6F78CADB-9176-19F4-B5F5-101745377C35")
    );
    assert_eq!(
        rec.client_identity(),
        Some("auto-6F78CADB-9176-19F4-B5F5-101745377C35")
    );
    // mqtt5-sub-customauth: authentication_method foo; data "1234" never kept.
    let rec = replay("sv-mqtt5-sub-customauth.0.bin");
    let p = rec.connect_properties.clone().unwrap();
    assert_eq!(p.authentication_method.as_deref(), Some("foo"));
    assert!(!serde_json::to_string(&rec).unwrap().contains("1234"));
    // mqtt5-unsub-*: mqtt.unsuback.reason_codes [0] and [17].
    let rec = replay("sv-mqtt5-unsub-qos1.0.bin");
    let codes: Vec<_> = rec.unsubscriptions.iter().map(|u| u.reason_code).collect();
    assert_eq!(codes, vec![Some(0), Some(17)]);
    // mqtt-limit-2: skipped_length 100011 / 100009 / 1010 are the whole
    // PUBLISH bodies; the payloads are 100000, 100000, 1000 and 100 bytes.
    let rec = replay("sv-mqtt-limit-2.0.bin");
    let sizes: Vec<_> = rec.publish_topics.iter().map(|t| t.payload_bytes).collect();
    assert_eq!(sizes, vec![100_000, 100_000, 1000, 100]);
}

#[test]
fn ndpi_captures_agree_with_tshark() {
    // ndpi/mqtt.pcap stream 0 (tshark -T fields):
    let rec = replay("ndpi-mqtt.0.bin");
    assert_eq!(rec.protocol_version, Some(3)); // mqtt.ver 3
    assert_eq!(rec.client_id.as_deref(), Some("cbaabcbabacbbbbbaaaaab")); // mqtt.clientid
    assert_eq!(rec.username.as_deref(), Some("02D5050223D3")); // mqtt.username
    assert_eq!(rec.keep_alive, Some(20)); // mqtt.kalive
    let topics: Vec<_> = rec
        .publish_topics
        .iter()
        .map(|t| (t.topic.as_str(), t.direction))
        .collect();
    // mqtt.topic with tcp.srcport 41892 (client) / 1883 (broker)
    assert_eq!(
        topics,
        vec![
            ("astr/admin/otaupd8", "to_server"),
            ("astr/s720/02D5050223D3/99", "to_client")
        ]
    );
    assert_eq!(rec.subscriptions[0].filter, "astr/s720/02D5050223D3/99");
    // ndpi/mqtt.pcap stream 1: a CONNECT alone (capture ends).
    let rec = replay("ndpi-mqtt.1.bin");
    assert_eq!(rec.protocol_version, Some(4));
    assert_eq!(rec.client_id.as_deref(), Some("P47775ID170W2120"));
    assert_eq!(
        rec.username.as_deref(),
        Some("iotazewpmlithub.azure-devices.net/P47775ID170W2120/?api-version=2018-06-30")
    );
    assert_eq!(rec.keep_alive, Some(600));
    // ndpi/coap_mqtt.pcap stream 2 on port 17501 (-d tcp.port==17501,mqtt):
    let rec = replay("ndpi-coap_mqtt.2.bin");
    assert_eq!(rec.client_id.as_deref(), Some("Bus41")); // mqtt.clientid
    assert_eq!(rec.protocol_version, Some(4)); // mqtt.ver
    let topics: Vec<_> = rec
        .publish_topics
        .iter()
        .map(|t| {
            (
                t.topic.as_str(),
                t.direction,
                t.count,
                t.qos.clone(),
                t.retain,
            )
        })
        .collect();
    // 11 "Publish Message [Bus17Info]" from 53528 (QoS 1, retain 1); 10
    // [Bus17Cmd] to it (one QoS 0, nine QoS 1, retain 0).
    assert_eq!(
        topics,
        vec![
            ("Bus17Info", "to_server", 11, vec![1], true),
            ("Bus17Cmd", "to_client", 10, vec![0, 1], false)
        ]
    );
    assert_eq!(rec.subscriptions[0].filter, "Bus17Cmd");
    // Streams 1 and 3: picked up after their CONNECT.
    for name in ["ndpi-coap_mqtt.1.bin", "ndpi-coap_mqtt.3.bin"] {
        let rec = replay(name);
        assert_eq!(rec.anomaly(Anomaly::MissingConnect), 1, "{name}");
        assert_eq!(rec.packets.to_server.get("publish"), Some(&9), "{name}");
    }
}

#[test]
fn own_mosquitto_captures_agree_with_tshark() {
    // testdata/v311-pub-will.pcap (tshark -d tcp.port==1884,mqtt):
    let rec = replay("own-v311-pub-will.0.bin");
    assert_eq!(rec.client_id.as_deref(), Some("pump-07")); // mqtt.clientid
    assert_eq!(rec.protocol_version, Some(4)); // mqtt.ver
    assert_eq!(rec.username.as_deref(), Some("nurse")); // mqtt.username
    assert_eq!(rec.keep_alive, Some(30)); // mqtt.kalive
    // mqtt.willtopic, mqtt.conflag.qos 1, mqtt.conflag.retain 1
    assert_eq!(
        rec.will,
        Some(Will {
            topic: "ward3/pump-07/status".into(),
            qos: 1,
            retain: true
        })
    );
    // mqtt.topic, mqtt.qos 1, mqtt.len 44 = 2 + 23 + 2 + 17
    assert_eq!(rec.publish_topics[0].topic, "ward3/pump-07/telemetry");
    assert_eq!(rec.publish_topics[0].payload_bytes, 17);
    // v5-pub-bulk.pcap: mqtt.len 3000022 = 2 + 17 + 2 + 1 + 3,000,000.
    let rec = replay("own-v5-pub-bulk.0.bin");
    assert_eq!(rec.protocol_version, Some(5));
    let t = &rec.publish_topics[0];
    assert_eq!(
        (t.topic.as_str(), t.payload_bytes, t.qos.clone()),
        ("ward3/pump-07/log", 3_000_000, vec![1])
    );
    // mqtt.prop_number 60, 20: session expiry 60, receive maximum 20.
    let p = rec.connect_properties.clone().unwrap();
    assert_eq!(
        (p.session_expiry_interval, p.receive_maximum),
        (Some(60), Some(20))
    );
    // CONNACK mqtt.prop_number 10, 20.
    let cp = rec.connack.clone().unwrap().properties.unwrap();
    assert_eq!(
        (cp.topic_alias_maximum, cp.receive_maximum),
        (Some(10), Some(20))
    );
    assert_eq!(rec.packets.to_client.get("puback"), Some(&1));
    // v5-sub-wildcard.pcap stream 1: subscribe "#" QoS 2
    // (mqtt.subscription_options_qos 2, mqtt.suback.reason_code 2), then
    // the retained message (mqtt.retain 1).
    let rec = replay("own-v5-sub-wildcard.1.bin");
    assert_eq!(rec.client_id.as_deref(), Some("monitor-01"));
    let s = &rec.subscriptions[0];
    assert_eq!(
        (s.filter.as_str(), s.qos, s.granted_code),
        ("#", 2, Some(2))
    );
    let t = &rec.publish_topics[0];
    assert_eq!(
        (t.topic.as_str(), t.direction, t.retain),
        ("ward3/monitor-01/alarm", "to_client", true)
    );
    // v311-sub-wildcard.pcap stream 0: "#" and "ward3/+/status" at QoS 1
    // (mqtt.sub.qos 1,1; mqtt.suback.qos 1,1), two deliveries (QoS 1, 0).
    let rec = replay("own-v311-sub-wildcard.0.bin");
    let subs: Vec<_> = rec
        .subscriptions
        .iter()
        .map(|s| (s.filter.as_str(), s.qos, s.granted_code))
        .collect();
    assert_eq!(
        subs,
        vec![("#", 1, Some(1)), ("ward3/+/status", 1, Some(1))]
    );
    assert_eq!(rec.publish_topics[0].count, 2);
    assert_eq!(rec.publish_topics[0].qos, vec![0, 1]);
    // Stream 3: subscribe then unsubscribe "ward3/#".
    let rec = replay("own-v311-sub-wildcard.3.bin");
    assert_eq!(rec.unsubscriptions[0].filter, "ward3/#");
    // refused-login.pcap: mqtt.conack.val 5 (3.1.1), mqtt.connack.reason_code 135 (5.0).
    let rec = replay("own-refused-login.0.bin");
    let c = rec.connack.clone().unwrap();
    assert_eq!(
        (c.code, c.name, rec.auth_failures),
        (5, "not_authorized", 1)
    );
    let rec = replay("own-refused-login.1.bin");
    let c = rec.connack.clone().unwrap();
    assert_eq!(
        (c.code, c.name, rec.auth_failures),
        (135, "not_authorized", 1)
    );
}

#[test]
fn an_example_record_serialises_as_documented() {
    let rec = replay("own-v311-pub-will.0.bin");
    let json = serde_json::to_value(&rec).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "protocol_name": "MQTT",
            "protocol_version": 4,
            "client_id": "pump-07",
            "username": "nurse",
            "password_present": true,
            "clean_session": true,
            "keep_alive": 30,
            "will": {"topic": "ward3/pump-07/status", "qos": 1, "retain": true},
            "connack": {"session_present": false, "code": 0, "name": "accepted"},
            "packets": {
                "to_server": {"connect": 1, "disconnect": 1, "publish": 1},
                "to_client": {"connack": 1, "puback": 1}
            },
            "publish_topics": [{
                "topic": "ward3/pump-07/telemetry", "direction": "to_server", "count": 1,
                "qos": [1], "retain": false, "payload_bytes": 17
            }],
            "disconnect": {"direction": "to_server"},
            "auth_failures": 0
        })
    );
}

// ----------------------------------------------------------------- secrets

/// Every string value in a JSON document (keys excluded).
fn string_values(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| string_values(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| string_values(x, out)),
        _ => {}
    }
}

#[test]
fn no_password_from_any_capture_reaches_a_record() {
    // tshark -e mqtt.passwd over every capture: "pass" (33 CONNECTs in the
    // suricata-verify captures), an Azure IoT Hub SAS token (ndpi mqtt.pcap
    // stream 1), "02D5050223D3" (ndpi stream 0, equal to its user name,
    // which is kept as a user name), and the mosquitto captures' password.
    let long = [
        "SharedAccessSignature",
        "KU4UiBTfWe",
        "Infus1on-Secret-77",
        "wrong-Infus1on",
    ];
    for name in all_stream_names() {
        for rec in replay_chunks(&load(&name)) {
            let json = serde_json::to_string(&rec).unwrap();
            for secret in long {
                assert!(!json.contains(secret), "{name}: {secret}");
            }
            let mut values = Vec::new();
            string_values(&serde_json::to_value(&rec).unwrap(), &mut values);
            assert!(!values.iter().any(|v| v == "pass"), "{name}");
            // The PUBLISH payloads of these captures never appear either.
            for payload in [
                "baabaablacksheep",
                "rate_ml_h",
                "low-battery",
                "willmessage",
            ] {
                assert!(!json.contains(payload), "{name}: {payload}");
            }
        }
    }
}

// ---------------------------------------------------------------- proptest

fn data_segments(chunks: &[Chunk]) -> Vec<(Direction, Vec<u8>)> {
    chunks
        .iter()
        .filter_map(|c| match c {
            Chunk::Data(d, b) => Some((*d, b.clone())),
            Chunk::Gap(..) => None,
        })
        .collect()
}

/// Re-splits each segment at the given fractions.
fn resplit(segs: &[(Direction, Vec<u8>)], cuts: &[u16]) -> Vec<(Direction, Vec<u8>)> {
    let mut out = Vec::new();
    let mut k = 0usize;
    for (d, b) in segs {
        let mut start = 0;
        while start < b.len() {
            let cut = cuts.get(k % cuts.len().max(1)).copied().unwrap_or(u16::MAX) as usize;
            k += 1;
            let n = (cut % (b.len() - start)).max(1);
            out.push((*d, b[start..start + n].to_vec()));
            start += n;
        }
    }
    out
}

fn records_of(segs: &[(Direction, Vec<u8>)]) -> Vec<Connection> {
    let v: Vec<(Direction, &[u8])> = segs.iter().map(|(d, b)| (*d, &b[..])).collect();
    feed_all::<MqttParser>(&v)
}

fn observations_of(segs: &[(Direction, Vec<u8>)]) -> Vec<MqttObservation> {
    let v: Vec<(Direction, &[u8])> = segs.iter().map(|(d, b)| (*d, &b[..])).collect();
    observe_all::<MqttParser>(&v)
        .observations
        .into_iter()
        .map(|(_, o)| o)
        .collect()
}

/// The small real streams (the large ones are covered by the byte-by-byte test).
fn small_streams() -> Vec<String> {
    all_stream_names()
        .into_iter()
        .filter(|n| {
            let chunks = load(n);
            chunks.iter().all(|c| matches!(c, Chunk::Data(..)))
                && data_segments(&chunks)
                    .iter()
                    .map(|(_, b)| b.len())
                    .sum::<usize>()
                    < 40_000
        })
        .collect()
}

#[test]
fn one_byte_segments_give_the_same_records_for_every_capture() {
    for name in all_stream_names() {
        let chunks = load(&name);
        if chunks.iter().any(|c| matches!(c, Chunk::Gap(..))) {
            continue;
        }
        let segs = data_segments(&chunks);
        if segs.iter().map(|(_, b)| b.len()).sum::<usize>() > 300_000 {
            continue;
        }
        let whole = records_of(&segs);
        let bytes: Vec<(Direction, Vec<u8>)> = segs
            .iter()
            .flat_map(|(d, b)| b.iter().map(move |x| (*d, vec![*x])))
            .collect();
        assert_eq!(records_of(&bytes), whole, "{name}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn any_split_gives_the_same_records(which in 0usize..64, cuts in proptest::collection::vec(any::<u16>(), 1..32)) {
        let names = small_streams();
        let name = &names[which % names.len()];
        let segs = data_segments(&load(name));
        let whole = records_of(&segs);
        prop_assert_eq!(records_of(&resplit(&segs, &cuts)), whole, "{}", name);
        let observed = observations_of(&segs);
        prop_assert_eq!(observations_of(&resplit(&segs, &cuts)), observed, "{}", name);
    }

    /// A long CONNECT, SUBSCRIBE or UNSUBSCRIBE of random content, cut
    /// anywhere: the condensing walk never panics and gives the same
    /// observations however the bytes arrive.
    #[test]
    fn long_packets_of_any_content_condense_the_same_in_any_split(
        kind in proptest::sample::select(vec![0x10u8, 0x82, 0xa2]),
        body in proptest::collection::vec(any::<u8>(), MAX_PACKET_LEN..MAX_PACKET_LEN + 3000),
        cuts in proptest::collection::vec(any::<u16>(), 1..16),
    ) {
        let packet = pkt(kind, &body);
        let whole = vec![(C, connect_v4()), (S, CONNACK_V4.to_vec()), (C, packet)];
        let observed = observations_of(&whole);
        prop_assert_eq!(observations_of(&resplit(&whole, &cuts)), observed);
    }

    #[test]
    fn arbitrary_bytes_never_panic(parts in proptest::collection::vec((any::<bool>(), proptest::collection::vec(any::<u8>(), 0..300)), 0..12)) {
        let segs: Vec<(Direction, Vec<u8>)> = parts
            .into_iter()
            .map(|(c, b)| (if c { C } else { S }, b))
            .collect();
        let recs = records_of(&segs);
        prop_assert!(recs.len() <= 1);
        let _ = MqttParser::probe(C, segs.first().map(|s| &s.1[..]).unwrap_or(&[]));
    }

    #[test]
    fn mutated_real_streams_never_panic(which in 0usize..64, flips in proptest::collection::vec((any::<u16>(), any::<u8>()), 1..16)) {
        let names = small_streams();
        let name = &names[which % names.len()];
        let mut segs = data_segments(&load(name));
        for (i, (pos, byte)) in flips.into_iter().enumerate() {
            let k = i % segs.len();
            let seg = &mut segs[k].1;
            if !seg.is_empty() {
                let p = pos as usize % seg.len();
                seg[p] = byte;
            }
        }
        let recs = records_of(&segs);
        prop_assert!(recs.len() <= 1);
    }
}
