//! What kind of device a device is, with how sure medtap is and why.
//!
//! The type is worked out from what the device's own traffic said — its
//! protocol roles, its DICOM modality, the equipment it relays, its names
//! and identifiers — and, least of all, from its MAC vendor. Rules are
//! tried strongest first; the first that matches gives the type and its
//! confidence, and every rule that matched adds its evidence, so an
//! analyst sees what the call rests on and can overrule it. Nothing here
//! is stored: the type follows the identity each time a record is made.

use serde::Serialize;

use super::{Device, FORWARDER_ROLE};

/// A device's type as records show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceType {
    /// `imaging_modality`, `infusion_pump`, `patient_monitor`, `ventilator`,
    /// `lab_analyser`, `pacs_vna`, `hl7_interface_engine`, `mqtt_broker`,
    /// `network_device`, `printer`, or `unknown`.
    pub name: &'static str,
    /// The DICOM modality (`CT`, `MR`, …) of an imaging modality.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modality: Option<String>,
    /// `high` (a protocol says it), `medium` (names and identifiers say
    /// it), `low` (only the MAC vendor says it).
    pub confidence: &'static str,
    /// Why, one line a rule.
    pub evidence: Vec<String>,
}

/// Name fragments (in host names, client ids, sending applications,
/// system names) that say what a device is, lower case; each counts at the
/// start of a word only (`vent-01`, not `eventlog`).
const NAME_HINTS: &[(&str, &str)] = &[
    ("pump", "infusion_pump"),
    ("infus", "infusion_pump"),
    ("monitor", "patient_monitor"),
    ("vitals", "patient_monitor"),
    ("vent", "ventilator"),
    ("analy", "lab_analyser"),
    ("printer", "printer"),
    ("switch", "network_device"),
    ("router", "network_device"),
];

/// MAC vendors (the start of the IEEE registry's name) that make one kind
/// of clinical device, or network equipment.
const VENDOR_HINTS: &[(&str, &str)] = &[
    ("Baxter", "infusion_pump"),
    ("B.Braun", "infusion_pump"),
    ("B. Braun", "infusion_pump"),
    ("Carefusion", "infusion_pump"),
    ("Hospira", "infusion_pump"),
    ("ICU Medical", "infusion_pump"),
    ("Philips Patient Monitoring", "patient_monitor"),
    (
        "Philips Medical Systems - Cardiac and Monitoring",
        "patient_monitor",
    ),
    ("Masimo", "patient_monitor"),
    ("Spacelabs", "patient_monitor"),
    ("Hamilton Medical", "ventilator"),
    ("Beckman Coulter", "lab_analyser"),
    ("Sysmex", "lab_analyser"),
    ("Abbott Diagnostics", "lab_analyser"),
    ("Cisco", "network_device"),
    ("Juniper", "network_device"),
    ("Aruba", "network_device"),
];

/// Identity facts whose values name the device.
const NAMING_FACTS: &[&str] = &[
    "mqtt.client_id",
    "hl7.sending_application",
    "dhcp.hostname",
    "dhcpv6.fqdn",
    "mdns.hostname",
    "llmnr.hostname",
    "netbios.name",
    "lldp.system_name",
    "cdp.device_id",
    "cdp.platform",
    "dns.name",
];

/// The type of `device`, with its evidence.
pub fn classify(device: &Device) -> DeviceType {
    let roles = &device.identity.roles;
    let facts = &device.identity.facts;
    let first = |name: &str| facts.get(name).and_then(|v| v.iter().next()).cloned();
    let mut found: Option<(&'static str, &'static str)> = None;
    let mut evidence = Vec::new();
    let mut decide = |name: &'static str, confidence: &'static str, why: String| {
        if found.is_none() {
            found = Some((name, confidence));
        }
        evidence.push(why);
    };

    if roles.contains(FORWARDER_ROLE) {
        decide(
            "pacs_vna",
            "high",
            format!(
                "forwards DICOM data sets made by {} pieces of equipment",
                device.relayed.len()
            ),
        );
    }
    let modality = first("dicom.modality");
    if let Some(modality) = &modality {
        decide(
            "imaging_modality",
            "high",
            format!("sends DICOM data sets of modality {modality}"),
        );
    }
    if roles.contains("mqtt_broker") {
        decide("mqtt_broker", "high", "answers MQTT clients".to_owned());
    }
    if roles.contains("hl7_sender") && roles.contains("hl7_receiver") {
        decide(
            "hl7_interface_engine",
            "medium",
            "both sends and receives HL7 messages".to_owned(),
        );
    }
    if roles.contains("dicom_scp") && !roles.contains("dicom_scu") {
        decide(
            "pacs_vna",
            "medium",
            "accepts DICOM associations and opens none".to_owned(),
        );
    }
    if device.gateway {
        decide(
            "network_device",
            "high",
            "forwards traffic for other addresses".to_owned(),
        );
    }
    for name in NAMING_FACTS {
        for value in facts.get(name).into_iter().flatten() {
            let lower = value.to_ascii_lowercase();
            if let Some((_, kind)) = NAME_HINTS
                .iter()
                .find(|(hint, _)| starts_a_word(&lower, hint))
            {
                decide(kind, "medium", format!("{name} {value:?}"));
            }
        }
    }
    if let Some(vendor) = device.vendor
        && let Some((_, kind)) = VENDOR_HINTS.iter().find(|(v, _)| vendor.starts_with(v))
    {
        decide(kind, "low", format!("MAC vendor {vendor:?}"));
    }
    let (name, confidence) = found.unwrap_or(("unknown", "low"));
    DeviceType {
        name,
        modality: (name == "imaging_modality").then_some(modality).flatten(),
        confidence,
        evidence,
    }
}

/// Whether `hint` occurs in `text` at the start of a word.
fn starts_a_word(text: &str, hint: &str) -> bool {
    text.match_indices(hint).any(|(at, _)| {
        text[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_ascii_alphanumeric())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{Device, DeviceKey, Identity};

    fn device(
        roles: &[&str],
        facts: &[(&'static str, &str)],
        vendor: Option<&'static str>,
    ) -> Device {
        let mut identity = Identity::default();
        for role in roles {
            identity.learn("role", role);
        }
        for (name, value) in facts {
            identity.learn(name, value);
        }
        Device {
            key: DeviceKey::Mac([2, 0, 0, 0, 0, 1]),
            mac: Some([2, 0, 0, 0, 0, 1]),
            vendor,
            addresses: Default::default(),
            vlans: Default::default(),
            first_seen: 0,
            gateway: false,
            identity,
            baseline: Box::default(),
            relayed: Vec::new(),
            posture: None,
        }
    }

    #[test]
    fn a_protocol_outweighs_names_and_names_outweigh_the_vendor() {
        let ct = device(&["dicom_scu"], &[("dicom.modality", "CT")], None);
        let t = classify(&ct);
        assert_eq!(
            (t.name, t.confidence, t.modality.as_deref()),
            ("imaging_modality", "high", Some("CT"))
        );

        let pump = device(
            &["mqtt_client"],
            &[("mqtt.client_id", "pump-07")],
            Some("Philips Patient Monitoring"),
        );
        let t = classify(&pump);
        assert_eq!((t.name, t.confidence), ("infusion_pump", "medium"));
        assert_eq!(t.evidence.len(), 2, "{:?}", t.evidence);

        let monitor = device(&[], &[], Some("Philips Patient Monitoring"));
        assert_eq!(classify(&monitor).name, "patient_monitor");
        assert_eq!(classify(&monitor).confidence, "low");

        assert_eq!(
            classify(&device(&["mqtt_broker"], &[], None)).name,
            "mqtt_broker"
        );
        let log = classify(&device(&[], &[("dhcp.hostname", "eventlog-2")], None));
        assert_eq!(log.name, "unknown", "a hint counts at a word's start only");
        let vent = classify(&device(&[], &[("dhcp.hostname", "icu-vent-01")], None));
        assert_eq!(vent.name, "ventilator");
        let unknown = classify(&device(&[], &[], None));
        assert_eq!((unknown.name, unknown.evidence.len()), ("unknown", 0));
    }

    #[test]
    fn a_forwarder_is_a_pacs_whatever_it_relays() {
        let mut router = device(&["dicom_scu", "dicom_scp", FORWARDER_ROLE], &[], None);
        router.relayed = vec![Default::default(), Default::default()];
        let t = classify(&router);
        assert_eq!((t.name, t.confidence), ("pacs_vna", "high"));
        assert!(t.evidence[0].contains("2 pieces"), "{:?}", t.evidence);
    }
}
