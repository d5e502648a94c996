//! What a DICOM association shows, at the PDU that shows it.
//!
//! A modality may hold one association open for a whole shift and send
//! hundreds of C-STOREs on it; an archive may forward for hours. Who the
//! peers are is known at the A-ASSOCIATE-AC, what they do at each command
//! set, and the equipment at the first data set: each is observed there, not
//! when the association is released. A command is observed once per
//! association for each sender, command and SOP class; repeats are counted
//! in the record.

use super::{Device, Reject};
use crate::proto::{Fact, Observation, Side};

/// The AE title and implementation an end of an association presents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Presented {
    /// Calling (client) or called (server) AE title.
    pub ae_title: Option<String>,
    /// Implementation class UID.
    pub implementation_class_uid: Option<String>,
    /// Implementation version name.
    pub implementation_version: Option<String>,
}

/// One thing a DICOM association showed.
#[derive(Debug, Clone, PartialEq)]
pub enum DicomObservation {
    /// The association was accepted (A-ASSOCIATE-AC), or is in use, or ended,
    /// without an answer seen: who the two ends are.
    Associated {
        /// The requester.
        client: Presented,
        /// The acceptor.
        server: Presented,
    },
    /// The association was rejected (A-ASSOCIATE-RJ).
    Rejected {
        /// The requester.
        client: Presented,
        /// The acceptor (its AE title is the one the requester called).
        server: Presented,
        /// Why.
        reject: Reject,
    },
    /// A DIMSE request, the first of its sender, command and SOP class on
    /// the association.
    Command {
        /// Which end sent it.
        sent_by: Side,
        /// Its command, e.g. "C-FIND-RQ".
        command: &'static str,
        /// Affected or requested SOP class UID.
        sop_class_uid: Option<String>,
        /// Its name from PS3.6 Annex A.
        sop_class_name: Option<&'static str>,
        /// The AE title the association called.
        called_ae: Option<String>,
    },
    /// Equipment attributes of the association's first C-STORE data set.
    Equipment(Device),
}

impl Observation for DicomObservation {
    fn facts(&self, out: &mut Vec<Fact>) {
        let mut push = |side, name, value: &Option<String>| {
            if let Some(value) = value.as_ref().filter(|v| !v.is_empty()) {
                out.push(Fact {
                    side,
                    name,
                    value: value.clone(),
                });
            }
        };
        let mut presented = |client: &Presented, server: &Presented, server_title: bool| {
            push(Side::Client, "dicom.ae_title", &client.ae_title);
            push(
                Side::Client,
                "dicom.implementation_class_uid",
                &client.implementation_class_uid,
            );
            push(
                Side::Client,
                "dicom.implementation_version",
                &client.implementation_version,
            );
            if server_title {
                push(Side::Server, "dicom.ae_title", &server.ae_title);
            }
            push(
                Side::Server,
                "dicom.implementation_class_uid",
                &server.implementation_class_uid,
            );
            push(
                Side::Server,
                "dicom.implementation_version",
                &server.implementation_version,
            );
            push(Side::Client, "role", &Some("dicom_scu".to_owned()));
            push(Side::Server, "role", &Some("dicom_scp".to_owned()));
        };
        match self {
            DicomObservation::Associated { client, server } => presented(client, server, true),
            DicomObservation::Rejected {
                client,
                server,
                reject,
            } => {
                // A called AE title the server refused is not the server's name.
                let refused_title = reject.reason == "called-AE-title-not-recognized";
                presented(client, server, !refused_title)
            }
            DicomObservation::Command { .. } => {}
            DicomObservation::Equipment(d) => {
                push(d.sender, "dicom.modality", &d.modality);
                push(d.sender, "dicom.manufacturer", &d.manufacturer);
                push(d.sender, "dicom.model", &d.model);
                push(d.sender, "dicom.station_name", &d.station_name);
                push(d.sender, "dicom.software_versions", &d.software_versions);
                push(d.sender, "dicom.serial_number", &d.serial_number);
            }
        }
    }
}
