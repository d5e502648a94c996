//! Alerts: what a departure from a device's baseline looks like to the SIEM,
//! and how repeats are folded into one follow-up instead of a storm.
//!
//! Every detector has a stable [`Kind`]: its name (`alert.kind`), a severity
//! and, where one fits, a MITRE ATT&CK for ICS technique. `docs/alerts.md`
//! explains each one. An [`Alert`] carries what an analyst needs to judge it
//! without opening the capture: the device, the peer, the evidence (what was
//! observed) and the baseline it broke (what was learned, since when, from
//! how many observations).

mod aggregate;

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Serialize;
use serde_json::Value;

use crate::device::DeviceRecord;
use crate::event::Timestamp;

pub use aggregate::{Aggregator, DEFAULT_SUPPRESSION_SECS, MAX_SUPPRESSED_KEYS, Verdict};

/// How serious an alert is; `alert.severity`, and the syslog and CEF
/// severities the SIEM sinks derive from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// A fact worth knowing, not a departure (cleartext clinical traffic).
    Info,
    /// Worth a look when correlated with something else.
    Low,
    /// Worth a look.
    Medium,
    /// Worth acting on.
    High,
}

impl Severity {
    /// Its name, as `alert.severity` writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
}

/// A MITRE ATT&CK for ICS technique.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Mitre {
    /// Technique id, e.g. `T0846`.
    pub technique_id: &'static str,
    /// Technique name.
    pub technique: &'static str,
    /// The tactic it serves.
    pub tactic: &'static str,
}

const fn mitre(technique_id: &'static str, technique: &'static str, tactic: &'static str) -> Mitre {
    Mitre {
        technique_id,
        technique,
        tactic,
    }
}

macro_rules! kinds {
    ($($variant:ident => $name:literal, $severity:ident, $mitre:expr;)*) => {
        /// A detector.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Kind {
            $(#[doc = concat!("`", $name, "`")] $variant,)*
        }

        impl Kind {
            /// Every detector, in the order of `docs/alerts.md`.
            pub const ALL: &'static [Kind] = &[$(Kind::$variant,)*];

            /// The stable name, `alert.kind`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Kind::$variant => $name,)*
                }
            }

            /// Its severity.
            pub fn severity(self) -> Severity {
                match self {
                    $(Kind::$variant => Severity::$severity,)*
                }
            }

            /// The ATT&CK for ICS technique, where one fits.
            pub fn mitre(self) -> Option<Mitre> {
                match self {
                    $(Kind::$variant => $mitre,)*
                }
            }
        }
    };
}

kinds! {
    NewDevice => "new_device", Medium,
        Some(mitre("T0864", "Transient Cyber Asset", "Initial Access"));
    NewPeer => "new_peer", Low,
        Some(mitre("T0886", "Remote Services", "Lateral Movement"));
    NewService => "new_service", Medium,
        Some(mitre("T0869", "Standard Application Layer Protocol", "Command and Control"));
    NewExternalPeer => "new_external_peer", High,
        Some(mitre("T0883", "Internet Accessible Device", "Initial Access"));
    VolumeSpike => "volume_spike", Medium,
        Some(mitre("T0882", "Theft of Operational Information", "Impact"));
    RateBurst => "rate_burst", Medium,
        Some(mitre("T0814", "Denial of Service", "Inhibit Response Function"));
    Fanout => "fanout", High,
        Some(mitre("T0846", "Remote System Discovery", "Discovery"));
    IdentityChanged => "identity_changed", High,
        Some(mitre("T0849", "Masquerading", "Evasion"));
    DicomNewAePair => "dicom_new_ae_pair", Low,
        Some(mitre("T0886", "Remote Services", "Lateral Movement"));
    DicomNewSopClass => "dicom_new_sop_class", Low, None;
    DicomQueryFromModality => "dicom_query_from_modality", High,
        Some(mitre("T0811", "Data from Information Repositories", "Collection"));
    DicomStoreToNewDestination => "dicom_store_to_new_destination", High,
        Some(mitre("T0882", "Theft of Operational Information", "Impact"));
    DicomAssociationRejects => "dicom_association_rejects", Medium,
        Some(mitre("T0888", "Remote System Information Discovery", "Discovery"));
    Hl7NewMessageType => "hl7_new_message_type", Medium,
        Some(mitre("T0855", "Unauthorized Command Message", "Impair Process Control"));
    Hl7NewFacility => "hl7_new_facility", Low,
        Some(mitre("T0856", "Spoof Reporting Message", "Evasion"));
    Hl7NakBurst => "hl7_nak_burst", Medium, None;
    MqttWildcardSubscribe => "mqtt_wildcard_subscribe", High,
        Some(mitre("T0861", "Point & Tag Identification", "Collection"));
    MqttNewTopic => "mqtt_new_topic", Low,
        Some(mitre("T0856", "Spoof Reporting Message", "Evasion"));
    MqttAuthFailures => "mqtt_auth_failures", High, None;
    MqttAnonymousConnect => "mqtt_anonymous_connect", Medium, None;
    CleartextClinicalProtocol => "cleartext_clinical_protocol", Info,
        Some(mitre("T0842", "Network Sniffing", "Discovery"));
    OutdatedOs => "outdated_os", High,
        Some(mitre("T0866", "Exploitation of Remote Services", "Lateral Movement"));
    InsecureService => "insecure_service", Medium,
        Some(mitre("T0866", "Exploitation of Remote Services", "Lateral Movement"));
    WeakTls => "weak_tls", Low,
        Some(mitre("T0830", "Adversary-in-the-Middle", "Collection"));
    CleartextCredentials => "cleartext_credentials", High,
        Some(mitre("T0859", "Valid Accounts", "Lateral Movement"));
}

/// The other end of what an alert is about.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Peer {
    /// Its address.
    pub ip: IpAddr,
    /// The service port, where the alert is about a service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// The device id, where the peer is itself a device.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
}

/// Repeats folded into a follow-up alert.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Repeats {
    /// Occurrences after the first, inside the window.
    pub count: u64,
    /// Packet time of the first of them.
    pub first_seen: Timestamp,
    /// Packet time of the last of them.
    pub last_seen: Timestamp,
    /// The suppression window, in seconds.
    pub window_secs: u64,
}

/// The `alert` object.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AlertInfo {
    /// Detector name.
    pub kind: &'static str,
    /// Severity.
    pub severity: Severity,
    /// One line an analyst can read.
    pub message: String,
    /// ATT&CK for ICS technique.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mitre: Option<Mitre>,
    /// What the alert is about besides the device (a peer, a topic, a
    /// message type); with kind and device, the aggregation key.
    pub subject: String,
    /// On a follow-up alert: the repeats it stands for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeats: Option<Repeats>,
}

/// What was learned: the part of the baseline the alert departs from.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BaselineRef {
    /// Packet time learning started (the device's first packet).
    pub since: Timestamp,
    /// Packet time learning ended.
    pub until: Timestamp,
    /// Observations learned from.
    pub observations: u64,
    /// Kind-specific: the learned values nearest to the departure (bounded),
    /// or the rate's mean and deviation.
    #[serde(flatten)]
    pub learned: BTreeMap<&'static str, Value>,
}

/// An alert, before it becomes an event.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Alert {
    /// The `alert` object.
    pub alert: AlertInfo,
    /// The device it is about.
    pub device: DeviceRecord,
    /// The peer, where there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<Peer>,
    /// What was observed.
    pub evidence: BTreeMap<&'static str, Value>,
    /// What was learned, where a baseline was broken.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineRef>,
}

/// Alert counters in `stats` events.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct AlertStats {
    /// Alerts written, follow-ups included, by kind.
    pub by_kind: BTreeMap<&'static str, u64>,
    /// Occurrences folded into follow-ups instead of written.
    pub suppressed: u64,
    /// Occurrences written without aggregation because the aggregation
    /// table was full.
    pub unaggregated: u64,
}

impl AlertStats {
    /// Alerts written.
    pub fn total(&self) -> u64 {
        self.by_kind.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_are_unique_snake_case() {
        let mut names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
        assert!(names.iter().all(|n| {
            n.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        }));
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Kind::ALL.len());
    }

    #[test]
    fn every_kind_is_documented() {
        let doc = include_str!("../../docs/alerts.md");
        for kind in Kind::ALL {
            assert!(
                doc.contains(&format!("### `{}`", kind.name())),
                "docs/alerts.md lacks a section for {}",
                kind.name()
            );
            if let Some(m) = kind.mitre() {
                assert!(
                    doc.contains(m.technique_id),
                    "{}: {}",
                    kind.name(),
                    m.technique_id
                );
            }
        }
    }
}
