//! The MQTT connection record: what one MQTT connection said about its
//! client and broker, bounded, with no payloads and no secrets.
//!
//! The record never carries a PUBLISH payload, a will payload, a password,
//! MQTT 5 authentication data, correlation data or user property values:
//! the parser does not copy them. Of a password it keeps only that one was
//! sent (`password_present`); of payloads, only their size.

use super::Anomaly;
use crate::proto::{Direction, Record};
use std::collections::BTreeMap;

/// The JSON name of a direction.
pub fn direction_name(direction: Direction) -> &'static str {
    match direction {
        Direction::ToServer => "to_server",
        Direction::ToClient => "to_client",
    }
}

/// One MQTT connection (one TCP connection carrying MQTT).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Connection {
    /// CONNECT protocol name: "MQTT" (3.1.1, 5.0) or "MQIsdp" (3.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_name: Option<String>,
    /// CONNECT protocol level: 3 (3.1), 4 (3.1.1), 5 (5.0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<u8>,
    /// CONNECT client identifier (may be empty: the broker assigns one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// CONNACK Assigned Client Identifier property (MQTT 5).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_client_id: Option<String>,
    /// CONNECT user name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Whether the CONNECT carried a password (its value is never kept).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_present: Option<bool>,
    /// CONNECT Clean Session (3.x) / Clean Start (5.0) flag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clean_session: Option<bool>,
    /// CONNECT Keep Alive, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_alive: Option<u16>,
    /// The CONNECT's will (its payload is never kept).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub will: Option<Will>,
    /// CONNECT properties (MQTT 5).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_properties: Option<ConnectProperties>,
    /// The broker's CONNACK.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connack: Option<Connack>,
    /// Control packets seen, by type, per direction.
    pub packets: PacketCounts,
    /// PUBLISH topics, per direction.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub publish_topics: Vec<TopicStats>,
    /// SUBSCRIBE topic filters and what the broker granted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subscriptions: Vec<Subscription>,
    /// UNSUBSCRIBE topic filters.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unsubscriptions: Vec<Unsubscription>,
    /// The first DISCONNECT.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disconnect: Option<Disconnect>,
    /// MQTT 5 AUTH exchanges.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub auth: Vec<AuthExchange>,
    /// CONNACKs that refused the connection.
    pub auth_failures: u64,
    /// Protocol anomalies by name, with counts.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub anomalies: BTreeMap<&'static str, u64>,
    /// A summary of a connection still open (`--record-interval`), not its
    /// end: the counts so far.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub interim: bool,
    /// In an interim record, the fields that changed since the previous
    /// interim record of the connection (all of them in the first).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<String>,
}

/// CONNECT will (3.1.1 §3.1.2.5–3.1.2.7, §3.1.3.2).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Will {
    /// Will Topic.
    pub topic: String,
    /// Will QoS.
    pub qos: u8,
    /// Will Retain.
    pub retain: bool,
}

/// MQTT 5 CONNECT properties (5.0 §3.1.2.11). Authentication data and user
/// property names and values are never kept.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ConnectProperties {
    /// Session Expiry Interval, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_expiry_interval: Option<u32>,
    /// Receive Maximum.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receive_maximum: Option<u16>,
    /// Maximum Packet Size, bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_packet_size: Option<u32>,
    /// Topic Alias Maximum.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_alias_maximum: Option<u16>,
    /// Request Response Information.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_response_information: Option<u8>,
    /// Request Problem Information.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_problem_information: Option<u8>,
    /// Authentication Method (its name; the data is never kept).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authentication_method: Option<String>,
    /// How many User Properties were sent.
    #[serde(skip_serializing_if = "is_zero")]
    pub user_properties: u32,
}

/// The broker's CONNACK (3.1.1 §3.2, 5.0 §3.2).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Connack {
    /// Session Present flag.
    pub session_present: bool,
    /// Return code (3.x) or reason code (5.0).
    pub code: u8,
    /// The code's name ("accepted", "bad_username_or_password", …).
    pub name: &'static str,
    /// CONNACK properties (MQTT 5).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub properties: Option<ConnackProperties>,
}

/// MQTT 5 CONNACK properties (5.0 §3.2.2.3). Reason String, Response
/// Information, Server Reference and user properties are not kept.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ConnackProperties {
    /// Session Expiry Interval, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_expiry_interval: Option<u32>,
    /// Receive Maximum.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receive_maximum: Option<u16>,
    /// Maximum QoS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_qos: Option<u8>,
    /// Retain Available.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retain_available: Option<u8>,
    /// Maximum Packet Size, bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_packet_size: Option<u32>,
    /// Topic Alias Maximum.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_alias_maximum: Option<u16>,
    /// Server Keep Alive, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_keep_alive: Option<u16>,
    /// Authentication Method.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authentication_method: Option<String>,
    /// How many User Properties were sent.
    #[serde(skip_serializing_if = "is_zero")]
    pub user_properties: u32,
}

/// Control packets per type name ("connect", "publish", …), per direction.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct PacketCounts {
    /// Sent by the client.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub to_server: BTreeMap<&'static str, u64>,
    /// Sent by the broker.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub to_client: BTreeMap<&'static str, u64>,
}

/// PUBLISH traffic on one topic in one direction.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TopicStats {
    /// Topic Name (empty when an MQTT 5 Topic Alias stood for it).
    pub topic: String,
    /// "to_server" (the client published) or "to_client" (delivered to it).
    pub direction: &'static str,
    /// PUBLISH packets.
    pub count: u64,
    /// QoS levels seen, ascending.
    pub qos: Vec<u8>,
    /// Whether any had RETAIN set.
    pub retain: bool,
    /// Payload bytes, summed (the payloads themselves are never kept).
    pub payload_bytes: u64,
}

/// One SUBSCRIBE topic filter (3.1.1 §3.8.3, 5.0 §3.8.3).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Subscription {
    /// Topic Filter.
    pub filter: String,
    /// Requested QoS.
    pub qos: u8,
    /// No Local option (MQTT 5).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_local: Option<bool>,
    /// Retain As Published option (MQTT 5).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retain_as_published: Option<bool>,
    /// Retain Handling option (MQTT 5).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retain_handling: Option<u8>,
    /// The SUBACK return / reason code for this filter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub granted_code: Option<u8>,
    /// That code's name ("granted_qos_1", "not_authorized", …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub granted: Option<&'static str>,
}

/// One UNSUBSCRIBE topic filter (3.1.1 §3.10.3, 5.0 §3.10.3).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Unsubscription {
    /// Topic Filter.
    pub filter: String,
    /// The UNSUBACK reason code for this filter (MQTT 5).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<u8>,
    /// That code's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

/// A DISCONNECT (3.1.1 §3.14, 5.0 §3.14).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Disconnect {
    /// Who sent it ("to_server": the client).
    pub direction: &'static str,
    /// Reason code (MQTT 5; absent means 0, normal disconnection).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<u8>,
    /// That code's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

/// An MQTT 5 AUTH packet (5.0 §3.15). Authentication data is never kept.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AuthExchange {
    /// Who sent it.
    pub direction: &'static str,
    /// Reason code.
    pub reason_code: u8,
    /// That code's name.
    pub reason: &'static str,
    /// Authentication Method.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Connection {
    /// The identifier that names the client: the one it sent, or, when it
    /// sent none, the one the broker assigned.
    pub fn client_identity(&self) -> Option<&str> {
        match self.client_id.as_deref() {
            Some(id) if !id.is_empty() => Some(id),
            _ => self
                .assigned_client_id
                .as_deref()
                .filter(|id| !id.is_empty()),
        }
    }

    /// How often the anomaly occurred in this connection.
    pub fn anomaly(&self, anomaly: Anomaly) -> u64 {
        self.anomalies.get(anomaly.name()).copied().unwrap_or(0)
    }
}

impl Record for Connection {
    fn mark_interim(&mut self, changed: Vec<String>) {
        self.interim = true;
        self.changed = changed;
    }
}
