//! What an MQTT connection shows, at the packet that shows it.
//!
//! A client that stays connected for months (a pump, a monitor, a central
//! station) is identified at its CONNECT and judged at each new topic or
//! filter, never at a disconnect that may not come. Each observation is made
//! once per connection: a topic published a million times is one
//! observation, and its repeats are counted in the record.

use crate::proto::{Direction, Fact, Observation, Side};

/// One thing an MQTT connection showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MqttObservation {
    /// CONNECT: who the client says it is.
    Connect {
        /// Client identifier; `None` or empty when the broker is to assign one.
        client_id: Option<String>,
        /// User name (the password is never kept).
        username: Option<String>,
        /// Protocol level: 3, 4 or 5.
        protocol_version: u8,
    },
    /// MQTT traffic on a connection whose CONNECT was not seen (picked up
    /// midstream): only the roles are known.
    Midstream,
    /// The broker's first CONNACK.
    Connack {
        /// Return code (3.x) or reason code (5.0).
        code: u8,
        /// The code's name.
        name: &'static str,
        /// Whether it accepted the connection.
        accepted: bool,
        /// The MQTT 5 Assigned Client Identifier, when the client sent none.
        assigned_client_id: Option<String>,
        /// Whether the CONNECT carried a user name.
        username_present: bool,
    },
    /// The first PUBLISH to a topic in one direction.
    Publish {
        /// `ToServer`: the client published; `ToClient`: delivered to it.
        direction: Direction,
        /// Topic Name (empty when an MQTT 5 Topic Alias stood for it).
        topic: String,
    },
    /// A topic filter subscribed to, the first time on the connection.
    Subscribe {
        /// Topic Filter.
        filter: String,
        /// Requested QoS.
        qos: u8,
    },
    /// A topic filter unsubscribed from, the first time on the connection.
    Unsubscribe {
        /// Topic Filter.
        filter: String,
    },
    /// An MQTT 5 AUTH packet.
    Auth {
        /// Who sent it.
        direction: Direction,
        /// Reason code.
        reason_code: u8,
    },
    /// The first DISCONNECT.
    Disconnect {
        /// Who sent it.
        direction: Direction,
        /// Reason code (MQTT 5).
        reason_code: Option<u8>,
    },
}

impl Observation for MqttObservation {
    fn facts(&self, out: &mut Vec<Fact>) {
        let mut push = |side, name, value: &str| {
            out.push(Fact {
                side,
                name,
                value: value.to_owned(),
            })
        };
        match self {
            MqttObservation::Connect {
                client_id,
                username,
                ..
            } => {
                if let Some(id) = client_id.as_deref().filter(|id| !id.is_empty()) {
                    push(Side::Client, "mqtt.client_id", id);
                }
                if let Some(user) = username.as_deref().filter(|u| !u.is_empty()) {
                    push(Side::Client, "mqtt.username", user);
                }
                push(Side::Client, "role", "mqtt_client");
                push(Side::Server, "role", "mqtt_broker");
            }
            MqttObservation::Midstream => {
                push(Side::Client, "role", "mqtt_client");
                push(Side::Server, "role", "mqtt_broker");
            }
            MqttObservation::Connack {
                assigned_client_id: Some(id),
                ..
            } if !id.is_empty() => push(Side::Client, "mqtt.client_id", id),
            _ => {}
        }
    }
}
