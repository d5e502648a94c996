//! What a device does over DICOM: the AE titles it associates under, the
//! SOP classes and commands it uses in each role, and where it stores.
//! `dicom_new_ae_pair`, `dicom_new_sop_class`, `dicom_query_from_modality`,
//! `dicom_store_to_new_destination`.
//!
//! Each is judged at the PDU that shows it: the AE pair at the
//! A-ASSOCIATE-AC, a command at its command set, so a query sent on an
//! association a modality has held open all day is seen at once.

use std::net::IpAddr;

use serde_json::json;

use super::{Finding, quote};
use crate::alert::Kind;
use crate::baseline::{DicomBaseline, MAX_PROTOCOL_VALUES};
use crate::device::DeviceKey;
// The values a DICOM baseline keeps are the baseline's own types; named here
// too, beside the facts they are learned from.
pub use crate::learned::{BadForm, Role, RoleCommand, RoleSopClass, StoreDestination};

/// What a modality that "only stores" may send as a DICOM client: images
/// and echoes, its worklist query, MPPS (N-CREATE, N-SET) and storage
/// commitment (N-ACTION, N-EVENT-REPORT).
pub const MODALITY_COMMANDS: &[&str] = &[
    "C-STORE",
    "C-ECHO",
    "C-FIND-WORKLIST",
    "N-CREATE",
    "N-SET",
    "N-ACTION",
    "N-EVENT-REPORT",
];

/// Commands that read from an archive.
const QUERIES: &[&str] = &["C-FIND", "C-MOVE", "C-GET"];

/// Modality Worklist (1.2.840.10008.5.1.4.31) and Unified Procedure Step
/// (1.2.840.10008.5.1.4.34.6…) SOP classes.
pub fn is_worklist(uid: &str) -> bool {
    uid == "1.2.840.10008.5.1.4.31" || uid.starts_with("1.2.840.10008.5.1.4.34.6")
}

/// A request's name as baselines and policies keep it: the command without
/// `-RQ`, a worklist or procedure-step query as `C-FIND-WORKLIST`.
pub fn request_name(command: &str, sop_class_uid: Option<&str>) -> String {
    let command = command.trim_end_matches("-RQ");
    if command == "C-FIND" && sop_class_uid.is_some_and(is_worklist) {
        "C-FIND-WORKLIST".to_owned()
    } else {
        command.to_owned()
    }
}

/// One DICOM fact about one device.
#[derive(Debug, Clone, PartialEq)]
pub enum DicomFact<'a> {
    /// It was in an association with these AE titles.
    Associated {
        /// Calling AE title.
        calling: &'a str,
        /// Called AE title.
        called: &'a str,
        /// Its role.
        role: Role,
    },
    /// A request on one of its associations.
    Request {
        /// Its role in the association.
        role: Role,
        /// Whether the device sent it.
        sent: bool,
        /// The command, without `-RQ`.
        command: &'a str,
        /// The SOP class, and its name.
        sop_class: Option<(&'a str, Option<&'static str>)>,
        /// Where it stores, for a C-STORE the device sent as requester.
        destination: Option<StoreDestination>,
        /// The called AE title.
        called: &'a str,
        /// The peer's address.
        peer: IpAddr,
    },
}

impl DicomFact<'_> {
    /// The command as the baseline keeps it, for a request the device sent.
    fn command(&self) -> Option<RoleCommand> {
        let DicomFact::Request {
            role,
            sent: true,
            command,
            sop_class,
            ..
        } = self
        else {
            return None;
        };
        Some(RoleCommand {
            role: *role,
            command: request_name(command, sop_class.map(|(uid, _)| uid)),
        })
    }

    fn sop_class(&self) -> Option<RoleSopClass> {
        match self {
            DicomFact::Request {
                role,
                sop_class: Some((uid, _)),
                ..
            } => Some(RoleSopClass {
                role: *role,
                uid: (*uid).to_owned(),
            }),
            _ => None,
        }
    }
}

/// Learns a fact.
pub fn learn(d: &mut DicomBaseline, fact: &DicomFact<'_>) {
    let limit = MAX_PROTOCOL_VALUES;
    match fact {
        DicomFact::Associated {
            calling, called, ..
        } => {
            d.ae_pairs
                .learn(((*calling).to_owned(), (*called).to_owned()), limit);
        }
        DicomFact::Request { destination, .. } => {
            if let Some(command) = fact.command() {
                d.commands.learn(command, limit);
            }
            if let Some(sop) = fact.sop_class() {
                d.sop_classes.learn(sop, limit);
            }
            if let Some(dest) = destination {
                d.store_destinations.learn_ref(dest, limit);
            }
        }
    }
}

/// Judges a fact about a watched device.
pub fn judge(d: &DicomBaseline, key: &DeviceKey, fact: &DicomFact<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    match fact {
        DicomFact::Associated {
            calling,
            called,
            role,
        } => {
            let pair = ((*calling).to_owned(), (*called).to_owned());
            if !d.ae_pairs.covers(&pair) {
                out.push(
                    Finding::new(
                        Kind::DicomNewAePair,
                        format!("{calling}->{called}"),
                        format!(
                            "{key} in a new DICOM AE-title pair: calling {calling:?}, called {called:?}"
                        ),
                    )
                    .evidence("calling_ae", json!(calling))
                    .evidence("called_ae", json!(called))
                    .evidence("role", json!(role.name()))
                    .learned(
                        "ae_pairs",
                        quote(d.ae_pairs.values.iter().map(|(a, b)| format!("{a}->{b}"))),
                    ),
                );
            }
        }
        DicomFact::Request {
            role,
            called,
            peer,
            sop_class,
            destination,
            ..
        } => {
            if let Some(command) = fact.command()
                && let Some(finding) = query_from_modality(d, key, &command, called, *peer)
            {
                out.push(finding);
            }
            if let (Some(sop), Some((uid, name))) = (fact.sop_class(), sop_class)
                && !d.sop_classes.covers(&sop)
            {
                out.push(
                    Finding::new(
                        Kind::DicomNewSopClass,
                        sop.to_string(),
                        format!(
                            "{key} used a new DICOM SOP class as {}: {}",
                            role.name(),
                            name.unwrap_or(uid)
                        ),
                    )
                    .evidence("sop_class_uid", json!(uid))
                    .evidence("sop_class_name", json!(name))
                    .evidence("role", json!(role.name()))
                    .learned("sop_classes", quote(d.sop_classes.values.iter())),
                );
            }
            if let Some(dest) = destination
                && !d.store_destinations.covers(dest)
            {
                out.push(
                    Finding::new(
                        Kind::DicomStoreToNewDestination,
                        dest.to_string(),
                        format!("{key} stored DICOM objects to a new destination {dest}"),
                    )
                    .evidence("destination", json!(dest.to_string()))
                    .evidence("called_ae", json!(called))
                    .learned(
                        "store_destinations",
                        quote(d.store_destinations.values.iter()),
                    ),
                );
            }
        }
    }
    out
}

/// A device that only ever stored (its requests were all modality
/// commands, C-STORE among them) now queries or retrieves.
fn query_from_modality(
    d: &DicomBaseline,
    key: &DeviceKey,
    command: &RoleCommand,
    called: &str,
    peer: IpAddr,
) -> Option<Finding> {
    if command.role != Role::Scu || !QUERIES.contains(&command.command.as_str()) {
        return None;
    }
    if d.commands.covers(command) {
        return None;
    }
    let learned: Vec<&RoleCommand> = d
        .commands
        .values
        .iter()
        .filter(|c| c.role == Role::Scu)
        .collect();
    let only_stored = learned.iter().any(|c| c.command == "C-STORE")
        && learned
            .iter()
            .all(|c| MODALITY_COMMANDS.contains(&c.command.as_str()));
    if !only_stored {
        return None;
    }
    let name = &command.command;
    Some(
        Finding::new(
            Kind::DicomQueryFromModality,
            name.clone(),
            format!("{key}, which only ever stored, sent {name} to {peer} (called AE {called:?})"),
        )
        .evidence("command", json!(name))
        .evidence("called_ae", json!(called))
        .learned("commands", quote(learned)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const CT: &str = "1.2.840.10008.5.1.4.1.1.2";
    const STUDY_FIND: &str = "1.2.840.10008.5.1.4.1.2.2.1";
    const WORKLIST: &str = "1.2.840.10008.5.1.4.31";

    fn key() -> DeviceKey {
        DeviceKey::Mac([2, 0, 0, 0, 0, 11])
    }

    fn request<'a>(command: &'a str, uid: &'a str) -> DicomFact<'a> {
        DicomFact::Request {
            role: Role::Scu,
            sent: true,
            command,
            sop_class: Some((uid, None)),
            destination: (command == "C-STORE").then(|| StoreDestination {
                ip: "10.20.2.10".parse().unwrap(),
                called_ae: "PACS".to_owned(),
            }),
            called: "PACS",
            peer: "10.20.2.10".parse().unwrap(),
        }
    }

    fn kinds(findings: Vec<Finding>) -> Vec<Kind> {
        findings.into_iter().map(|f| f.kind).collect()
    }

    #[test]
    fn a_modality_that_only_stored_is_alerted_when_it_queries() {
        let mut d = DicomBaseline::default();
        learn(&mut d, &request("C-STORE", CT));
        learn(&mut d, &request("C-ECHO", "1.2.840.10008.1.1"));
        learn(&mut d, &request("C-FIND", WORKLIST));
        assert!(judge(&d, &key(), &request("C-STORE", CT)).is_empty());
        assert!(judge(&d, &key(), &request("C-FIND", WORKLIST)).is_empty());
        assert_eq!(
            kinds(judge(&d, &key(), &request("C-FIND", STUDY_FIND))),
            [Kind::DicomQueryFromModality, Kind::DicomNewSopClass]
        );
    }

    #[test]
    fn a_workstation_that_queried_while_learned_is_not_a_modality() {
        let mut d = DicomBaseline::default();
        learn(&mut d, &request("C-STORE", CT));
        learn(&mut d, &request("C-MOVE", STUDY_FIND));
        assert_eq!(
            kinds(judge(&d, &key(), &request("C-FIND", STUDY_FIND))),
            Vec::<Kind>::new()
        );
    }

    #[test]
    fn a_store_to_another_archive_is_a_new_destination() {
        let mut d = DicomBaseline::default();
        learn(&mut d, &request("C-STORE", CT));
        let DicomFact::Request {
            destination: Some(dest),
            ..
        } = request("C-STORE", CT)
        else {
            unreachable!()
        };
        let elsewhere = DicomFact::Request {
            role: Role::Scu,
            sent: true,
            command: "C-STORE",
            sop_class: Some((CT, None)),
            destination: Some(StoreDestination {
                ip: "198.51.100.7".parse().unwrap(),
                ..dest
            }),
            called: "PACS",
            peer: "198.51.100.7".parse().unwrap(),
        };
        assert_eq!(
            kinds(judge(&d, &key(), &elsewhere)),
            [Kind::DicomStoreToNewDestination]
        );
    }

    #[test]
    fn an_ae_pair_is_learned_once_and_then_known() {
        let mut d = DicomBaseline::default();
        let pair = DicomFact::Associated {
            calling: "CT01",
            called: "PACS",
            role: Role::Scu,
        };
        learn(&mut d, &pair);
        assert!(judge(&d, &key(), &pair).is_empty());
        let other = DicomFact::Associated {
            calling: "CT01",
            called: "RESEARCH",
            role: Role::Scu,
        };
        assert_eq!(kinds(judge(&d, &key(), &other)), [Kind::DicomNewAePair]);
    }

    #[test]
    fn typed_values_keep_their_text_form() {
        for text in ["scu:C-FIND-WORKLIST", "scp:N-EVENT-REPORT"] {
            let c: RoleCommand = text.parse().unwrap();
            assert_eq!(c.to_string(), text);
        }
        let s: RoleSopClass = format!("scp:{CT}").parse().unwrap();
        assert_eq!(s.role, Role::Scp);
        let d: StoreDestination = "fd00::10/PACS".parse().unwrap();
        assert_eq!(d.to_string(), "fd00::10/PACS");
        assert!("xyz:C-STORE".parse::<RoleCommand>().is_err());
        assert!("PACS".parse::<StoreDestination>().is_err());
        let json = serde_json::to_string(&c_store()).unwrap();
        assert_eq!(json, "\"scu:C-STORE\"");
        assert_eq!(
            serde_json::from_str::<RoleCommand>(&json).unwrap(),
            c_store()
        );
    }

    fn c_store() -> RoleCommand {
        RoleCommand {
            role: Role::Scu,
            command: "C-STORE".to_owned(),
        }
    }
}
