//! Who a device says it is: `identity_changed` when a watched device
//! presents another software version, implementation or HL7 sending
//! application than it ever did, or when an MQTT client id learned as one
//! device's is used by another.

use std::collections::HashMap;

use serde_json::json;

use super::{Finding, quote};
use crate::alert::Kind;
use crate::device::{DeviceKey, Identity};

/// Identity facts whose change on a watched device is an `identity_changed`.
pub const WATCHED_IDENTITY_FACTS: &[&str] = &[
    "dicom.implementation_class_uid",
    "dicom.implementation_version",
    "dicom.software_versions",
    "hl7.sending_application",
];
/// MQTT client ids whose devices are remembered, at most.
pub const MAX_CLIENT_ID_OWNERS: usize = 100_000;
/// Devices remembered per MQTT client id (learned while the network was
/// learned), at most.
pub const MAX_DEVICES_PER_CLIENT_ID: usize = 4;

/// MQTT client id → the devices that used it while the network was learned
/// (or the first one after).
pub type ClientIdOwners = HashMap<String, Vec<DeviceKey>, foldhash::fast::RandomState>;

/// Device `key` connected with MQTT client id `id`. While the network is
/// learned, several devices may share an id (a spare pump); after, a device
/// not among its owners is using another device's identity.
pub fn client_id(
    owners: &mut ClientIdOwners,
    key: DeviceKey,
    id: &str,
    network_learning: bool,
) -> Option<Finding> {
    match owners.get_mut(id) {
        Some(known) if known.contains(&key) => None,
        Some(known) if network_learning => {
            if known.len() < MAX_DEVICES_PER_CLIENT_ID {
                known.push(key);
            }
            None
        }
        Some(known) => {
            let owner = known.first().map(|k| k.to_string()).unwrap_or_default();
            Some(
                Finding::new(
                    Kind::IdentityChanged,
                    format!("mqtt.client_id={id}"),
                    format!("MQTT client id {id:?} of {owner} is now used by {key}"),
                )
                .evidence("fact", json!("mqtt.client_id"))
                .evidence("value", json!(id))
                .evidence("previous_device", json!(owner)),
            )
        }
        None => {
            if owners.len() < MAX_CLIENT_ID_OWNERS {
                owners.insert(id.to_owned(), vec![key]);
            }
            None
        }
    }
}

/// A watched device presents `value` for fact `name`: news if it presented
/// other values of a watched fact before, and never this one.
pub fn judge_fact(
    identity: &Identity,
    key: &DeviceKey,
    name: &str,
    value: &str,
) -> Option<Finding> {
    if !WATCHED_IDENTITY_FACTS.contains(&name) {
        return None;
    }
    let known = identity.facts.get(name)?;
    if known.is_empty() || known.contains(value) {
        return None;
    }
    let was = known.iter().cloned().collect::<Vec<_>>().join(", ");
    Some(
        Finding::new(
            Kind::IdentityChanged,
            format!("{name}={value}"),
            format!("{key} changed {name} to {value:?} (was {was})"),
        )
        .evidence("fact", json!(name))
        .evidence("value", json!(value))
        .learned("values", quote(known.iter())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_id_shared_while_learning_is_owned_by_both() {
        let (a, b, c) = (
            DeviceKey::Mac([2, 0, 0, 0, 0, 1]),
            DeviceKey::Mac([2, 0, 0, 0, 0, 2]),
            DeviceKey::Mac([2, 0, 0, 0, 0, 3]),
        );
        let mut owners = ClientIdOwners::default();
        assert_eq!(client_id(&mut owners, a, "pump-07", true), None);
        assert_eq!(client_id(&mut owners, b, "pump-07", true), None);
        assert_eq!(client_id(&mut owners, b, "pump-07", false), None);
        let taken = client_id(&mut owners, c, "pump-07", false).unwrap();
        assert_eq!(taken.kind, Kind::IdentityChanged);
        assert_eq!(taken.evidence["previous_device"], json!(a.to_string()));
        assert_eq!(client_id(&mut owners, c, "pump-99", false), None);
    }

    #[test]
    fn only_watched_facts_with_a_history_can_change() {
        let key = DeviceKey::Mac([2, 0, 0, 0, 0, 1]);
        let mut identity = Identity::default();
        assert_eq!(
            judge_fact(&identity, &key, "dicom.software_versions", "2.0"),
            None
        );
        identity.learn("dicom.software_versions", "1.0");
        identity.learn("dicom.station_name", "CT01");
        assert!(judge_fact(&identity, &key, "dicom.software_versions", "2.0").is_some());
        assert_eq!(
            judge_fact(&identity, &key, "dicom.software_versions", "1.0"),
            None
        );
        assert_eq!(
            judge_fact(&identity, &key, "dicom.station_name", "CT02"),
            None
        );
    }
}
