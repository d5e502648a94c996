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
use crate::time::Timestamp;

pub use aggregate::{Aggregator, DEFAULT_SUPPRESSION_SECS, MAX_SUPPRESSED_KEYS, Verdict};

/// How serious an alert is: `alert.severity` (Suricata's integer) and
/// `alert.severity_name`, and the syslog and CEF severities the SIEM sinks
/// derive from them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
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

impl Serialize for Severity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.priority())
    }
}

impl Severity {
    /// Suricata's integer severity (a rule's priority), `alert.severity`:
    /// 1 the most serious, so EVE dashboards and parsers read it as they
    /// read Suricata's own alerts.
    pub fn priority(self) -> u8 {
        match self {
            Severity::High => 1,
            Severity::Medium => 2,
            Severity::Low => 3,
            Severity::Info => 4,
        }
    }

    /// Its name, as `alert.severity_name` writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
}

/// `alert.category`: the classification of Suricata's `classification.config`
/// an alert belongs to, written as Suricata writes it (its description), so
/// a dashboard that groups Suricata's alerts by category groups medtap's
/// with them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// `bad-unknown`.
    BadUnknown,
    /// `policy-violation`.
    PolicyViolation,
    /// `successful-recon-largescale`.
    LargeScaleLeak,
    /// `successful-recon-limited`.
    InformationLeak,
    /// `attempted-recon`.
    AttemptedRecon,
    /// `attempted-dos`.
    DenialOfService,
    /// `network-scan`.
    NetworkScan,
    /// `misc-activity`.
    MiscActivity,
    /// `protocol-command-decode`.
    ProtocolCommand,
    /// `attempted-user`.
    AttemptedUser,
}

impl Category {
    /// The description Suricata writes as `alert.category`.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::BadUnknown => "Potentially Bad Traffic",
            Category::PolicyViolation => "Potential Corporate Privacy Violation",
            Category::LargeScaleLeak => "Large Scale Information Leak",
            Category::InformationLeak => "Information Leak",
            Category::AttemptedRecon => "Attempted Information Leak",
            Category::DenialOfService => "Attempted Denial of Service",
            Category::NetworkScan => "Detection of a Network Scan",
            Category::MiscActivity => "Misc activity",
            Category::ProtocolCommand => "Generic Protocol Command Decode",
            Category::AttemptedUser => "Attempted User Privilege Gain",
        }
    }
}

impl Serialize for Category {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
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
    ($($variant:ident => $name:literal, $severity:ident, $sid:literal, $category:ident,
        $signature:literal, $mitre:expr;)*) => {
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

            /// `alert.signature_id`: fixed for the kind, never reused.
            pub fn signature_id(self) -> u32 {
                match self {
                    $(Kind::$variant => $sid,)*
                }
            }

            /// `alert.signature`: the kind's title for a human.
            pub fn signature(self) -> &'static str {
                match self {
                    $(Kind::$variant => $signature,)*
                }
            }

            /// `alert.category`.
            pub fn category(self) -> Category {
                match self {
                    $(Kind::$variant => Category::$category,)*
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
    NewDevice => "new_device", Medium, 8_810_001, BadUnknown,
        "MEDTAP New device on the network",
        Some(mitre("T0864", "Transient Cyber Asset", "Initial Access"));
    NewPeer => "new_peer", Low, 8_810_002, BadUnknown,
        "MEDTAP Device talked to a peer it never talked to",
        Some(mitre("T0886", "Remote Services", "Lateral Movement"));
    NewService => "new_service", Medium, 8_810_003, BadUnknown,
        "MEDTAP Device used or offered a service it never did",
        Some(mitre("T0869", "Standard Application Layer Protocol", "Command and Control"));
    NewExternalPeer => "new_external_peer", High, 8_810_004, PolicyViolation,
        "MEDTAP Device talked to an address outside the hospital",
        Some(mitre("T0883", "Internet Accessible Device", "Initial Access"));
    VolumeSpike => "volume_spike", Medium, 8_810_005, LargeScaleLeak,
        "MEDTAP Device sent far more than it ever did in a minute",
        Some(mitre("T0882", "Theft of Operational Information", "Impact"));
    RateBurst => "rate_burst", Medium, 8_810_006, DenialOfService,
        "MEDTAP Burst of packets or connections from a device",
        Some(mitre("T0814", "Denial of Service", "Inhibit Response Function"));
    Fanout => "fanout", High, 8_810_007, NetworkScan,
        "MEDTAP Device reached many hosts or ports: a scan",
        Some(mitre("T0846", "Remote System Discovery", "Discovery"));
    IdentityChanged => "identity_changed", High, 8_810_008, BadUnknown,
        "MEDTAP Device identity changed",
        Some(mitre("T0849", "Masquerading", "Evasion"));
    DicomNewAePair => "dicom_new_ae_pair", Low, 8_810_101, BadUnknown,
        "MEDTAP DICOM association between AE titles never paired",
        Some(mitre("T0886", "Remote Services", "Lateral Movement"));
    DicomNewSopClass => "dicom_new_sop_class", Low, 8_810_102, MiscActivity,
        "MEDTAP DICOM SOP class the device never used",
        None;
    DicomQueryFromModality => "dicom_query_from_modality", High, 8_810_103, AttemptedRecon,
        "MEDTAP DICOM query from an imaging modality",
        Some(mitre("T0811", "Data from Information Repositories", "Collection"));
    DicomStoreToNewDestination => "dicom_store_to_new_destination", High, 8_810_104, InformationLeak,
        "MEDTAP DICOM images sent to a new destination",
        Some(mitre("T0882", "Theft of Operational Information", "Impact"));
    DicomAssociationRejects => "dicom_association_rejects", Medium, 8_810_105, AttemptedRecon,
        "MEDTAP Many rejected DICOM associations",
        Some(mitre("T0888", "Remote System Information Discovery", "Discovery"));
    Hl7NewMessageType => "hl7_new_message_type", Medium, 8_810_201, ProtocolCommand,
        "MEDTAP HL7 message type the device never sent",
        Some(mitre("T0855", "Unauthorized Command Message", "Impair Process Control"));
    Hl7NewFacility => "hl7_new_facility", Low, 8_810_202, BadUnknown,
        "MEDTAP HL7 facility the device never named",
        Some(mitre("T0856", "Spoof Reporting Message", "Evasion"));
    Hl7NakBurst => "hl7_nak_burst", Medium, 8_810_203, ProtocolCommand,
        "MEDTAP Burst of HL7 negative acknowledgements",
        None;
    MqttWildcardSubscribe => "mqtt_wildcard_subscribe", High, 8_810_301, AttemptedRecon,
        "MEDTAP MQTT wildcard subscription",
        Some(mitre("T0861", "Point & Tag Identification", "Collection"));
    MqttNewTopic => "mqtt_new_topic", Low, 8_810_302, MiscActivity,
        "MEDTAP MQTT topic the device never used",
        Some(mitre("T0856", "Spoof Reporting Message", "Evasion"));
    MqttAuthFailures => "mqtt_auth_failures", High, 8_810_303, AttemptedUser,
        "MEDTAP Repeated MQTT login failures",
        None;
    MqttAnonymousConnect => "mqtt_anonymous_connect", Medium, 8_810_304, PolicyViolation,
        "MEDTAP MQTT connection without credentials",
        None;
    CleartextClinicalProtocol => "cleartext_clinical_protocol", Info, 8_810_401, PolicyViolation,
        "MEDTAP Clinical data sent in clear text",
        Some(mitre("T0842", "Network Sniffing", "Discovery"));
    OutdatedOs => "outdated_os", High, 8_810_501, PolicyViolation,
        "MEDTAP Device runs an operating system past its end of life",
        Some(mitre("T0866", "Exploitation of Remote Services", "Lateral Movement"));
    InsecureService => "insecure_service", Medium, 8_810_502, PolicyViolation,
        "MEDTAP Device offers an insecure remote service",
        Some(mitre("T0866", "Exploitation of Remote Services", "Lateral Movement"));
    WeakTls => "weak_tls", Low, 8_810_503, PolicyViolation,
        "MEDTAP Device uses an outdated TLS or SMB version",
        Some(mitre("T0830", "Adversary-in-the-Middle", "Collection"));
    CleartextCredentials => "cleartext_credentials", High, 8_810_504, PolicyViolation,
        "MEDTAP Credentials sent in clear text",
        Some(mitre("T0859", "Valid Accounts", "Lateral Movement"));
    PolicyViolation => "policy_violation", Medium, 8_810_601, PolicyViolation,
        "MEDTAP Connection the segmentation policy does not allow",
        Some(mitre("T0886", "Remote Services", "Lateral Movement"));
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

/// What a passive sensor did with the traffic: `alert.action`, as
/// Suricata writes it for a rule that only alerts.
pub const ACTION_ALLOWED: &str = "allowed";

/// The `alert` object.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AlertInfo {
    /// Detector name.
    pub kind: &'static str,
    /// Always [`ACTION_ALLOWED`]: medtap only watches.
    pub action: &'static str,
    /// Stable per kind (Suricata's rule id field).
    pub signature_id: u32,
    /// The kind's title.
    pub signature: &'static str,
    /// Suricata classification.
    pub category: Category,
    /// Suricata's integer severity (1 high, 2 medium, 3 low, 4 info).
    pub severity: Severity,
    /// The same severity as a word: `high`, `medium`, `low`, `info`.
    pub severity_name: &'static str,
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

impl AlertInfo {
    /// The `alert` object of a first occurrence of `kind`.
    pub fn new(kind: Kind, message: String, subject: String) -> AlertInfo {
        let severity = kind.severity();
        AlertInfo {
            kind: kind.name(),
            action: ACTION_ALLOWED,
            signature_id: kind.signature_id(),
            signature: kind.signature(),
            category: kind.category(),
            severity,
            severity_name: severity.as_str(),
            message,
            mitre: kind.mitre(),
            subject,
            repeats: None,
        }
    }
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
    fn signature_ids_are_unique_and_titles_name_medtap() {
        let mut ids: Vec<u32> = Kind::ALL.iter().map(|k| k.signature_id()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), Kind::ALL.len());
        for kind in Kind::ALL {
            assert!(kind.signature().starts_with("MEDTAP "), "{kind:?}");
            assert!(
                kind.signature().len() <= 80,
                "{kind:?}: a title, not a sentence"
            );
        }
    }

    #[test]
    fn severity_is_suricatas_integer_with_the_word_beside_it() {
        let info = AlertInfo::new(Kind::Fanout, "m".into(), "s".into());
        let json = serde_json::to_value(&info).unwrap();
        assert_eq!(json["severity"], 1);
        assert_eq!(json["severity_name"], "high");
        assert_eq!(json["category"], "Detection of a Network Scan");
        assert_eq!(json["signature_id"], Kind::Fanout.signature_id());
        assert_eq!(json["action"], "allowed");
        let order: Vec<u8> = [
            Severity::High,
            Severity::Medium,
            Severity::Low,
            Severity::Info,
        ]
        .map(Severity::priority)
        .to_vec();
        assert_eq!(order, [1, 2, 3, 4]);
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
            let row = format!(
                "| [`{0}`](#{0}) | {1} | {2} | {3} |",
                kind.name(),
                kind.signature_id(),
                kind.severity().as_str(),
                kind.category().as_str()
            );
            assert!(doc.contains(&row), "docs/alerts.md lacks the row {row}");
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
