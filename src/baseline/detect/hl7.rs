//! What a device sends over HL7: message types, applications and
//! facilities. `hl7_new_message_type`, `hl7_new_facility`.
//!
//! Judged at each message: an interface keeps one MLLP connection for
//! months, and the parser observes a header once per connection.

use serde_json::json;

use super::{Finding, quote};
use crate::alert::Kind;
use crate::baseline::{Bounded, Hl7Baseline, MAX_PROTOCOL_VALUES};
use crate::device::DeviceKey;
use crate::proto::hl7::Message;

/// `ORU^R01`, or the type alone when there is no trigger event. An
/// acknowledgment is `ACK` whatever its trigger event: it echoes the
/// message it answers (`ACK^A08` for an `ADT^A08`), and its sender did
/// nothing new by answering a new kind of message.
pub fn message_type(m: &Message) -> Option<String> {
    if m.is_ack() {
        return Some("ACK".to_owned());
    }
    match (&m.message_type, &m.trigger_event) {
        (Some(t), Some(e)) => Some(format!("{t}^{e}")),
        (Some(t), None) => Some(t.clone()),
        _ => None,
    }
}

/// Negative acknowledgment codes: application and commit errors and
/// rejects.
pub fn is_nak(code: &str) -> bool {
    matches!(code, "AE" | "AR" | "CE" | "CR")
}

/// A message's facilities with the baseline sets they belong to.
fn facilities<'a>(
    m: &'a Message,
    h: &'a Hl7Baseline,
) -> [(&'static str, &'a Option<String>, &'a Bounded<String>); 2] {
    [
        ("sending", &m.sending_facility, &h.sending_facilities),
        ("receiving", &m.receiving_facility, &h.receiving_facilities),
    ]
}

/// Learns a message the device sent (`message_type` is its type).
pub fn learn(h: &mut Hl7Baseline, m: &Message, message_type: &str) {
    let limit = MAX_PROTOCOL_VALUES;
    h.message_types.learn_ref(message_type, limit);
    for (value, set) in [
        (&m.sending_application, &mut h.sending_applications),
        (&m.receiving_application, &mut h.receiving_applications),
        (&m.sending_facility, &mut h.sending_facilities),
        (&m.receiving_facility, &mut h.receiving_facilities),
    ] {
        if let Some(v) = value {
            set.learn_ref(v.as_str(), limit);
        }
    }
}

/// Judges a message a watched device sent to `receiver`.
pub fn judge(
    h: &Hl7Baseline,
    key: &DeviceKey,
    m: &Message,
    message_type: &str,
    receiver: std::net::IpAddr,
) -> Vec<Finding> {
    let mut out = Vec::new();
    if !h.message_types.covers(message_type) {
        out.push(
            Finding::new(
                Kind::Hl7NewMessageType,
                message_type,
                format!("{key} sent a new HL7 message type {message_type} to {receiver}"),
            )
            .evidence("message_type", json!(message_type))
            .evidence("sending_application", json!(m.sending_application))
            .learned("message_types", quote(h.message_types.values.iter())),
        );
    }
    for (role, value, set) in facilities(m, h) {
        let Some(facility) = value else { continue };
        if set.covers(facility.as_str()) {
            continue;
        }
        out.push(
            Finding::new(
                Kind::Hl7NewFacility,
                format!("{role}:{facility}"),
                format!("{key} sent HL7 with a new {role} facility {facility:?}"),
            )
            .evidence("facility", json!(facility))
            .evidence("role", json!(role))
            .evidence("message_type", json!(message_type))
            .learned(
                if role == "sending" {
                    "sending_facilities"
                } else {
                    "receiving_facilities"
                },
                quote(set.values.iter()),
            ),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::Direction;

    fn message(kind: &str, trigger: &str, facility: &str) -> Message {
        let mut m = Message::new(Direction::ToServer, false);
        m.message_type = Some(kind.to_owned());
        m.trigger_event = Some(trigger.to_owned());
        m.sending_application = Some("LAB_ANALYZER".to_owned());
        m.sending_facility = Some(facility.to_owned());
        m
    }

    #[test]
    fn a_new_type_and_a_new_facility_are_each_alerted() {
        let key = DeviceKey::Mac([2, 0, 0, 0, 0, 12]);
        let receiver = "10.20.2.20".parse().unwrap();
        let mut h = Hl7Baseline::default();
        let oru = message("ORU", "R01", "LAB");
        learn(&mut h, &oru, "ORU^R01");
        assert!(judge(&h, &key, &oru, "ORU^R01", receiver).is_empty());
        let adt = message("ADT", "A08", "LAB");
        let found: Vec<Kind> = judge(&h, &key, &adt, "ADT^A08", receiver)
            .into_iter()
            .map(|f| f.kind)
            .collect();
        assert_eq!(found, [Kind::Hl7NewMessageType]);
        let elsewhere = message("ORU", "R01", "OTHER_HOSPITAL");
        let found = judge(&h, &key, &elsewhere, "ORU^R01", receiver);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].subject, "sending:OTHER_HOSPITAL");
    }

    #[test]
    fn naks_are_the_error_and_reject_codes() {
        assert!(["AE", "AR", "CE", "CR"].iter().all(|c| is_nak(c)));
        assert!(!is_nak("AA") && !is_nak("CA"));
    }
}
