//! The detectors, one module per family. Each is a pure learn/judge over its
//! own part of a device's baseline: `learn` adds what an observation shows
//! while the device is learned, `judge` returns what a watched device did
//! outside it, as [`Finding`]s. Neither touches the device table, the clock
//! or the alert stream: the [`Engine`](super::Engine) decides which device
//! and phase an observation belongs to, and turns findings into alerts.
//!
//! | module | baseline part | alert kinds |
//! | --- | --- | --- |
//! | [`network`] | peers, services, external peers | `new_peer`, `new_service`, `new_external_peer` |
//! | [`identity`] | the device identity, MQTT client-id owners | `identity_changed` |
//! | [`dicom`] | AE pairs, SOP classes, commands, store destinations | `dicom_*` |
//! | [`hl7`] | message types, applications, facilities | `hl7_new_message_type`, `hl7_new_facility` |
//! | [`mqtt`] | client ids, topics, filters, authentication | `mqtt_*` but `mqtt_auth_failures` |
//! | [`rates`] | per-minute and short-window rates | `volume_spike`, `rate_burst` |
//!
//! Bursts of refusals (`dicom_association_rejects`, `hl7_nak_burst`,
//! `mqtt_auth_failures`), `fanout`, `new_device` and
//! `cleartext_clinical_protocol` count across connections, not against a
//! baseline, and live in the engine.

pub mod dicom;
pub mod hl7;
pub mod identity;
pub mod mqtt;
pub mod network;
pub mod rates;

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::Value;

use crate::alert::{Kind, Peer};
use crate::decode::ip_proto;
use crate::device::DeviceTable;

/// Learned values an alert quotes from its baseline, at most.
pub const MAX_QUOTED_VALUES: usize = 16;

/// What an occurrence is about, before it becomes an alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The alert kind.
    pub kind: Kind,
    /// What repeats are aggregated by, beside the kind and device.
    pub subject: String,
    /// One sentence for a person.
    pub message: String,
    /// The peer involved, if one is.
    pub peer: Option<Peer>,
    /// What was seen.
    pub evidence: BTreeMap<&'static str, Value>,
    /// What the baseline held, for alerts judged against one.
    pub learned: Option<BTreeMap<&'static str, Value>>,
}

impl Finding {
    /// A finding of `kind` about `subject`.
    pub fn new(kind: Kind, subject: impl Into<String>, message: impl Into<String>) -> Finding {
        Finding {
            kind,
            subject: subject.into(),
            message: message.into(),
            peer: None,
            evidence: BTreeMap::new(),
            learned: None,
        }
    }

    /// Names the peer, with its device id when it is a device.
    pub fn peer(mut self, ip: IpAddr, port: Option<u16>, table: &DeviceTable) -> Finding {
        let device_id = table.device_at(ip).map(|k| k.to_string());
        self.peer = Some(Peer {
            ip,
            port,
            device_id,
        });
        self
    }

    /// Adds evidence.
    pub fn evidence(mut self, key: &'static str, value: Value) -> Finding {
        self.evidence.insert(key, value);
        self
    }

    /// Quotes the baseline.
    pub fn learned(mut self, key: &'static str, value: Value) -> Finding {
        self.learned
            .get_or_insert_with(BTreeMap::new)
            .insert(key, value);
        self
    }
}

/// Up to [`MAX_QUOTED_VALUES`] values of a learned set, as JSON.
pub fn quote<T: ToString>(values: impl IntoIterator<Item = T>) -> Value {
    Value::from(
        values
            .into_iter()
            .take(MAX_QUOTED_VALUES)
            .map(|v| Value::from(v.to_string()))
            .collect::<Vec<_>>(),
    )
}

/// `tcp/104`, `udp/53`.
pub fn service_name(proto: u8, port: u16) -> String {
    let p = match proto {
        ip_proto::TCP => "tcp",
        ip_proto::UDP => "udp",
        ip_proto::SCTP => "sctp",
        _ => "ip",
    };
    format!("{p}/{port}")
}
