//! What a device does over MQTT: the client ids it connects with, the
//! topics it publishes to and subscribes to, and whether it authenticates.
//! `mqtt_new_topic`, `mqtt_wildcard_subscribe`, `mqtt_anonymous_connect`.
//!
//! Judged at the packet: a CONNECT, the first PUBLISH to a topic, a
//! SUBSCRIBE. A pump stays connected for weeks; its `#` subscription is
//! news when it is made, not when the pump disconnects.

use serde_json::json;

use super::{Finding, quote};
use crate::alert::Kind;
use crate::baseline::{MAX_PROTOCOL_VALUES, MqttBaseline};
use crate::device::DeviceKey;

/// One MQTT fact about a client device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MqttFact<'a> {
    /// It connected, with this client id (if it sent one), with or without
    /// a user name.
    Connected {
        /// The client id it sent.
        client_id: Option<&'a str>,
        /// Whether it sent a user name.
        authenticated: bool,
    },
    /// It published to a topic (first time on its connection).
    Published(&'a str),
    /// It subscribed to a filter (first time on its connection).
    Subscribed(&'a str),
}

/// A broad MQTT filter: its first level is a wildcard (`#`, `+/…`), or it
/// reaches into the broker's own `$SYS` tree.
pub fn broad_filter(filter: &str) -> bool {
    let first = filter.split('/').next().unwrap_or("");
    first == "#" || first == "+" || filter.starts_with("$SYS")
}

/// CONNACK codes that refuse a connection for its credentials: 3.1.1 `4`
/// (bad user name or password), `5` (not authorised); 5.0 `0x86`, `0x87`,
/// `0x8C` (bad authentication method).
pub fn auth_refused(code: u8) -> bool {
    matches!(code, 4 | 5 | 0x86 | 0x87 | 0x8c)
}

/// Learns a fact.
pub fn learn(q: &mut MqttBaseline, fact: MqttFact<'_>) {
    let limit = MAX_PROTOCOL_VALUES;
    match fact {
        MqttFact::Connected {
            client_id,
            authenticated,
        } => {
            if let Some(id) = client_id {
                q.client_ids.learn_ref(id, limit);
            }
            if authenticated {
                q.authenticated_connects += 1;
            } else {
                q.anonymous_connects += 1;
            }
        }
        MqttFact::Published(topic) => {
            q.published.learn_ref(topic, limit);
        }
        MqttFact::Subscribed(filter) => {
            q.subscribed.learn_ref(filter, limit);
        }
    }
}

/// Judges a fact about a watched device; `broker` names the broker.
pub fn judge(
    q: &MqttBaseline,
    key: &DeviceKey,
    fact: MqttFact<'_>,
    client_id: Option<&str>,
    broker: &str,
) -> Option<Finding> {
    match fact {
        MqttFact::Connected { authenticated, .. } => {
            let always_authenticated = q.authenticated_connects > 0 && q.anonymous_connects == 0;
            (!authenticated && always_authenticated).then(|| {
                Finding::new(
                    Kind::MqttAnonymousConnect,
                    broker,
                    format!(
                        "{key} connected to the MQTT broker {broker} without credentials; it always authenticated before"
                    ),
                )
                .evidence("client_id", json!(client_id))
                .learned("authenticated_connects", json!(q.authenticated_connects))
                .learned("anonymous_connects", json!(q.anonymous_connects))
            })
        }
        MqttFact::Subscribed(filter) => {
            if q.subscribed.covers(filter) {
                return None;
            }
            let broad = broad_filter(filter);
            let (kind, message) = if broad {
                (
                    Kind::MqttWildcardSubscribe,
                    format!("{key} subscribed to the broad filter {filter:?}"),
                )
            } else {
                (
                    Kind::MqttNewTopic,
                    format!("{key} subscribed to a new topic filter {filter:?}"),
                )
            };
            Some(
                Finding::new(kind, format!("subscribe {filter}"), message)
                    .evidence("filter", json!(filter))
                    .evidence("client_id", json!(client_id))
                    .learned("subscribed", quote(q.subscribed.values.iter())),
            )
        }
        MqttFact::Published(topic) => {
            if q.published.covers(topic) {
                return None;
            }
            Some(
                Finding::new(
                    Kind::MqttNewTopic,
                    format!("publish {topic}"),
                    format!("{key} published to a new topic {topic:?}"),
                )
                .evidence("topic", json!(topic))
                .evidence("client_id", json!(client_id))
                .learned("published", quote(q.published.values.iter())),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> DeviceKey {
        DeviceKey::Mac([2, 0, 0, 0, 0, 21])
    }

    fn kind(f: Option<Finding>) -> Option<Kind> {
        f.map(|f| f.kind)
    }

    #[test]
    fn broad_mqtt_filters() {
        for broad in ["#", "+/vitals", "$SYS/broker/clients", "+"] {
            assert!(broad_filter(broad), "{broad}");
        }
        for narrow in ["ward3/#", "ward3/+/status", "a/b"] {
            assert!(!broad_filter(narrow), "{narrow}");
        }
    }

    #[test]
    fn what_was_learned_is_never_new_and_a_wildcard_is_named_as_such() {
        let mut q = MqttBaseline::default();
        learn(&mut q, MqttFact::Published("ward5/pump-11/status"));
        learn(&mut q, MqttFact::Subscribed("ward5/+/alarm"));
        let judge = |fact| judge(&q, &key(), fact, Some("pump-11"), "10.30.1.2");
        assert_eq!(
            kind(judge(MqttFact::Published("ward5/pump-11/status"))),
            None
        );
        assert_eq!(kind(judge(MqttFact::Subscribed("ward5/+/alarm"))), None);
        assert_eq!(
            kind(judge(MqttFact::Published("ward5/pump-11/config"))),
            Some(Kind::MqttNewTopic)
        );
        assert_eq!(
            kind(judge(MqttFact::Subscribed("#"))),
            Some(Kind::MqttWildcardSubscribe)
        );
    }

    #[test]
    fn an_anonymous_connect_is_news_only_from_a_client_that_always_authenticated() {
        let mut q = MqttBaseline::default();
        let anonymous = MqttFact::Connected {
            client_id: Some("pump-11"),
            authenticated: false,
        };
        assert_eq!(kind(judge(&q, &key(), anonymous, None, "b")), None);
        learn(
            &mut q,
            MqttFact::Connected {
                client_id: Some("pump-11"),
                authenticated: true,
            },
        );
        assert_eq!(
            kind(judge(&q, &key(), anonymous, None, "b")),
            Some(Kind::MqttAnonymousConnect)
        );
        learn(&mut q, anonymous);
        assert_eq!(kind(judge(&q, &key(), anonymous, None, "b")), None);
    }

    #[test]
    fn refusals_for_credentials() {
        for code in [4, 5, 0x86, 0x87, 0x8c] {
            assert!(auth_refused(code));
        }
        for code in [0, 1, 2, 3, 0x80, 0x88] {
            assert!(!auth_refused(code));
        }
    }
}
