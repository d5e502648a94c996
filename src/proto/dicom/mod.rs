//! DICOM associations (upper layer PS3.8, DIMSE PS3.7) parsed from the
//! in-order bytes of one TCP connection: who talks (AE titles,
//! implementations), what they negotiated (presentation contexts, user
//! identity type), what they did (a bounded summary of DIMSE operations) and,
//! from the first C-STORE data set, which equipment sent it (modality,
//! manufacturer, model, station, serial number, software versions).
//!
//! # Shape
//!
//! Each direction is a sequence of PDUs (6-byte header: type, reserved,
//! 4-byte big-endian length). Association PDUs (A-ASSOCIATE-RQ/AC/RJ,
//! A-RELEASE, A-ABORT) are small: the parser leaves them unconsumed until the
//! caller holds all their bytes (at most [`MAX_ASSOCIATE_PDU`]) and then
//! parses them whole in `pdu.rs`. P-DATA-TF PDUs are streamed PDV by PDV
//! (4-byte length, presentation context id, message control header) and
//! never held: only a command set (at most [`MAX_COMMAND_SET`] bytes) is
//! accumulated across fragments, the first C-STORE data set is walked
//! element by element in `dimse.rs`, and every other byte is skipped by
//! length. A 500 MB image costs what a 5 kB one does.
//!
//! # Guarantees
//!
//! - Never panics: network bytes are read through the bounded
//!   `Reader` of `proto/reader.rs`; indexing that could fail is denied by lint.
//! - Bounded memory: every list and string in the record has a named limit.
//! - No PHI, no credentials: from a data set only six equipment attributes
//!   are copied, never anything of group 0010 (patient); from user identity
//!   negotiation only the identity type and two flags, never the user name,
//!   passcode, ticket, assertion, token or server response.
//!
//! # What it refuses
//!
//! An unknown PDU type, an association PDU over [`MAX_ASSOCIATE_PDU`], a PDV
//! that overruns its PDU, or lost bytes (a gap) end parsing in that
//! direction: upper-layer framing has no resynchronisation point. The bytes
//! are still counted. Deflated and big-endian data sets are not walked.
mod condense;
mod dimse;
mod observation;
mod pdu;
mod text;
pub mod uids;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

pub use condense::MAX_LONG_ASSOCIATE_PDU;
pub use observation::{DicomObservation, Presented};

use super::reader::Reader;
use super::{Direction, OutputOf, Probe, Record, Side, StreamParser};
use dimse::{Command, DataSetWalker, WalkEnd};
use pdu::{Associate, pdu_type};

/// Largest A-ASSOCIATE-RQ/AC/RJ, A-RELEASE or A-ABORT PDU body, in bytes,
/// the parser waits for; a larger one is an `oversized_pdu` anomaly. Real
/// requests are a few kB; one proposing all 128 contexts with a dozen
/// transfer syntaxes each stays under 64 KiB.
pub const MAX_ASSOCIATE_PDU: u32 = 64 * 1024;

/// Largest command set, in bytes, accumulated across PDV fragments (real
/// ones are 60–200 bytes); a larger one is skipped and counted as
/// `oversized_command_set`.
pub const MAX_COMMAND_SET: usize = 4 * 1024;

/// How many operations (DIMSE messages) the record lists one by one; the
/// rest are only counted.
pub const MAX_OPERATIONS: usize = 64;

/// Idle timeout, in seconds, of a DICOM connection: DICOM has no
/// keep-alive, and an association a modality holds open between studies
/// cannot be picked up again midstream (detection needs its
/// A-ASSOCIATE-RQ), so it is kept for an hour of silence.
pub const IDLE_TIMEOUT_SECS: i64 = 3600;

/// Distinct (sender, command, SOP class) requests observed per association;
/// further kinds are counted in the record only (`operations.counts`).
pub const MAX_OBSERVED_COMMANDS: usize = 64;

/// How many distinct failure status codes the record counts separately.
pub const MAX_FAILURE_STATUSES: usize = 16;

/// Presentation contexts kept per association: context ids are odd numbers
/// 1–255, so 128 is every context a peer can propose.
pub const MAX_PRESENTATION_CONTEXTS: usize = 128;

/// Presentation contexts a summarised `dicom` event lists: those its
/// messages used, then the other accepted ones. A storage SCU proposes a
/// context for each of dozens of SOP classes; listing them all makes one
/// event 30 KB, past what syslog receivers take.
pub const MAX_LISTED_CONTEXTS: usize = 8;

/// Proposed transfer syntaxes kept per presentation context.
pub const MAX_TRANSFER_SYNTAXES: usize = 16;

/// SCP/SCU role selection items kept per association.
pub const MAX_ROLE_SELECTIONS: usize = 16;

/// Longest UID or implementation version name kept, in bytes (PS3.5 §9.1
/// caps UIDs at 64 characters).
pub const MAX_UID_LEN: usize = 64;

/// Longest data set value kept (manufacturer, model, …), in bytes; longer
/// values are cut.
pub const MAX_VALUE_LEN: usize = 64;

/// Nesting of undefined-length sequences and items the data set walker
/// follows before it gives up on the data set.
pub const MAX_SEQUENCE_DEPTH: usize = 8;

/// PDU header: type (1), reserved (1), length (4, big endian).
const PDU_HEADER_LEN: usize = 6;

/// PDV item header: length (4), presentation context id (1), message control
/// header (1).
const PDV_HEADER_LEN: usize = 6;

/// Transfer syntaxes whose data sets the walker reads.
const IMPLICIT_VR_LE: &str = "1.2.840.10008.1.2";
/// Transfer syntaxes whose data sets are not explicit VR little endian
/// (big endian, deflated) and are therefore not walked.
const NOT_WALKED: &[&str] = &[
    "1.2.840.10008.1.2.2",
    "1.2.840.10008.1.2.1.99",
    "1.2.840.10008.1.2.4.95",
];

anomalies! {
    /// The anomalies the parser counts (a closed set; see [`ANOMALY_NAMES`]).
    pub(crate) enum Anomaly {
        UnknownPduType = "unknown_pdu_type",
        OversizedPdu = "oversized_pdu",
        MalformedPdu = "malformed_pdu",
        MalformedPdv = "malformed_pdv",
        UnexpectedPdu = "unexpected_pdu",
        TooManyItems = "too_many_items",
        OversizedCommandSet = "oversized_command_set",
        MalformedCommandSet = "malformed_command_set",
        MalformedDataSet = "malformed_data_set",
        StreamGap = "stream_gap",
    }
}

/// Names of [`DicomParser`]'s anomalies, in [`StreamParser::anomaly_counts`]
/// order.
pub const ANOMALY_NAMES: &[&str] = &Anomaly::NAMES;

const ANOMALY_COUNT: usize = Anomaly::ALL.len();

/// One DICOM association: the record of the `dicom` protocol event.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Association {
    /// The requester (TCP client).
    pub client: Peer,
    /// The acceptor (TCP server).
    pub server: Peer,
    /// Protocol version of the A-ASSOCIATE-RQ (bit 0 = version 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<u16>,
    /// Application context name UID (item 0x10).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_context: Option<String>,
    /// How many presentation contexts were proposed, accepted and rejected,
    /// and how many `presentation_contexts` lists (see [`Record::summarise`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_counts: Option<ContextCounts>,
    /// Presentation contexts, as proposed and answered: all of them, or
    /// once summarised those used and the first accepted (at most
    /// [`MAX_LISTED_CONTEXTS`]), without the proposed transfer syntaxes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub presentation_contexts: Vec<PresentationContext>,
    /// SCP/SCU role selections the requester proposed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub role_selections: Vec<RoleSelection>,
    /// User identity negotiation: type and flags only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_identity: Option<UserIdentity>,
    /// "accepted", "rejected" or "aborted" (an accepted association later
    /// aborted is "aborted").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<&'static str>,
    /// The A-ASSOCIATE-RJ, when rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reject: Option<Reject>,
    /// The A-ABORT, when aborted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abort: Option<Abort>,
    /// Whether an A-RELEASE-RP was seen.
    pub released: bool,
    /// What the DIMSE messages did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operations: Option<Operations>,
    /// Equipment attributes from the first C-STORE data set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<Device>,
    /// Bytes the client sent during this association.
    pub bytes_to_server: u64,
    /// Bytes the server sent during this association.
    pub bytes_to_client: u64,
    /// Names of the anomalies seen during this association.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub anomalies: Vec<&'static str>,
    /// A summary of an association still open (`--record-interval`), not
    /// its end: the counts so far.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub interim: bool,
    /// In an interim record, the fields that changed since the previous
    /// interim record of the connection (all of them in the first).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<String>,
    /// Whether who the two ends are was observed.
    #[serde(skip)]
    announced: bool,
    /// The (sender, command, SOP class) requests observed.
    #[serde(skip)]
    observed_commands: Vec<(Side, &'static str, Option<String>)>,
    /// Whether any PDU of this association was seen.
    #[serde(skip)]
    seen: bool,
    /// Whether the first C-STORE data set was already chosen.
    #[serde(skip)]
    device_chosen: bool,
}

/// One end of the association.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Peer {
    /// Client: calling AE title; server: called AE title (both from the
    /// A-ASSOCIATE-RQ, trimmed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ae_title: Option<String>,
    /// Implementation class UID (user information sub-item 0x52).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub implementation_class_uid: Option<String>,
    /// Implementation version name (sub-item 0x55).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub implementation_version_name: Option<String>,
    /// Maximum PDU length this end receives (sub-item 0x51; 0 = unlimited).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_pdu_length: Option<u32>,
}

/// A presentation context: RQ item 0x20 merged with AC item 0x21 by id.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct PresentationContext {
    /// Presentation context id (odd, 1–255).
    pub id: u8,
    /// Abstract syntax (SOP class) UID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abstract_syntax: Option<String>,
    /// Its name from PS3.6 Annex A.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sop_class_name: Option<&'static str>,
    /// Transfer syntaxes proposed (at most [`MAX_TRANSFER_SYNTAXES`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub transfer_syntaxes: Vec<String>,
    /// The acceptor's answer: "acceptance", "user-rejection", …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<&'static str>,
    /// The transfer syntax accepted (only when the result is acceptance).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted_transfer_syntax: Option<String>,
}

/// The presentation contexts of an association, counted.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ContextCounts {
    /// Proposed by the requester.
    pub proposed: u32,
    /// Accepted by the acceptor.
    pub accepted: u32,
    /// Answered with any other result.
    pub rejected: u32,
    /// Rejections by result (`abstract-syntax-not-supported` → 3).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub rejections: BTreeMap<&'static str, u32>,
    /// How many `presentation_contexts` lists.
    pub listed: u32,
}

/// The result of an accepted presentation context (PS3.8 9.3.3.2).
const ACCEPTANCE: &str = "acceptance";

/// An SCP/SCU role selection item (PS3.7 D.3.3.4).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RoleSelection {
    /// The SOP class the roles are for.
    pub sop_class_uid: String,
    /// Whether the requester offers the SCU role.
    pub scu_role: bool,
    /// Whether the requester offers the SCP role.
    pub scp_role: bool,
}

/// User identity negotiation (PS3.7 D.3.3.7), without the identity.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct UserIdentity {
    /// User identity type (1–5).
    #[serde(rename = "type")]
    pub kind: u8,
    /// "username", "username_and_passcode", "kerberos", "saml", "jwt".
    pub type_name: &'static str,
    /// Whether the requester asked for a positive response.
    pub positive_response_requested: bool,
    /// Whether the acceptor answered with a server response item (0x59).
    pub server_response: bool,
}

/// An A-ASSOCIATE-RJ (PS3.8 §9.3.4).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Reject {
    /// "rejected-permanent" or "rejected-transient".
    pub result: &'static str,
    /// "service-user", "service-provider-acse", "service-provider-presentation".
    pub source: &'static str,
    /// The reason, e.g. "called-AE-title-not-recognized".
    pub reason: &'static str,
}

/// An A-ABORT (PS3.8 §9.3.8).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Abort {
    /// Which end sent it.
    pub sent_by: Side,
    /// "service-user" or "service-provider".
    pub source: &'static str,
    /// The reason, given only when the source is the service provider.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

/// A bounded summary of the DIMSE messages of an association.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Operations {
    /// Messages seen.
    pub total: u64,
    /// Messages per command ("C-STORE-RQ" → 3).
    pub counts: BTreeMap<&'static str, u64>,
    /// The first [`MAX_OPERATIONS`] messages.
    pub first: Vec<Operation>,
    /// Responses with a failure status.
    pub failures: u64,
    /// Failure responses per status code ("0xA801" → 1), at most
    /// [`MAX_FAILURE_STATUSES`] codes.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub failure_statuses: BTreeMap<String, u64>,
}

/// One DIMSE message.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Operation {
    /// Its command, e.g. "C-STORE-RQ" (CommandField (0000,0100)).
    pub command: &'static str,
    /// Which end sent it.
    pub sent_by: Side,
    /// Presentation context it was sent on.
    pub presentation_context_id: u8,
    /// Affected (0000,0002) or requested (0000,0003) SOP class UID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sop_class_uid: Option<String>,
    /// Its name from PS3.6 Annex A.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sop_class_name: Option<&'static str>,
    /// Status (0000,0900) of a response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// "success", "pending", "warning", "failure" or "cancel".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_category: Option<&'static str>,
    /// Move destination AE title (0000,0600) of a C-MOVE-RQ.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub move_destination: Option<String>,
}

/// Equipment attributes of the first C-STORE data set of the association.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Device {
    /// Which end sent the data set (the client for a C-STORE, the server for
    /// the C-STORE sub-operations of a C-GET).
    pub sender: Side,
    /// The transfer syntax accepted for its presentation context.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfer_syntax: Option<String>,
    /// "parsed", "not_parsed" (deflated, big endian, or no accepted
    /// transfer syntax seen) or "malformed".
    pub status: &'static str,
    /// SOP Instance UID (0008,0018): which image, so that a node sending
    /// an image it received is known for a forwarder. Never in a record.
    #[serde(skip)]
    pub sop_instance_uid: Option<String>,
    /// Modality (0008,0060).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modality: Option<String>,
    /// Manufacturer (0008,0070).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manufacturer: Option<String>,
    /// Station Name (0008,1010).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub station_name: Option<String>,
    /// Manufacturer's Model Name (0008,1090).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Device Serial Number (0018,1000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    /// Software Versions (0018,1020), multiple values joined by '\'.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software_versions: Option<String>,
}

impl Record for Association {
    fn mark_interim(&mut self, changed: Vec<String>) {
        self.interim = true;
        self.changed = changed;
    }

    fn summarise(&mut self) {
        if self.presentation_contexts.is_empty() {
            return;
        }
        let mut counts = ContextCounts {
            proposed: self.presentation_contexts.len() as u32,
            ..ContextCounts::default()
        };
        for context in &self.presentation_contexts {
            match context.result {
                Some(ACCEPTANCE) => counts.accepted += 1,
                Some(other) => {
                    counts.rejected += 1;
                    *counts.rejections.entry(other).or_default() += 1;
                }
                None => {}
            }
        }
        let used: Vec<u8> = self
            .operations
            .iter()
            .flat_map(|ops| &ops.first)
            .map(|op| op.presentation_context_id)
            .collect();
        let all = std::mem::take(&mut self.presentation_contexts);
        // Those used, then the accepted, then the rest (an association
        // rejected whole shows what it proposed).
        let (mut listed, rest): (Vec<_>, Vec<_>) =
            all.into_iter().partition(|c| used.contains(&c.id));
        let (accepted, others): (Vec<_>, Vec<_>) =
            rest.into_iter().partition(|c| c.result == Some(ACCEPTANCE));
        listed.extend(accepted);
        listed.extend(others);
        listed.truncate(MAX_LISTED_CONTEXTS);
        for context in &mut listed {
            if context.accepted_transfer_syntax.is_some() {
                context.transfer_syntaxes.clear();
            }
        }
        counts.listed = listed.len() as u32;
        self.presentation_contexts = listed;
        self.context_counts = Some(counts);
    }
}

impl Association {
    /// What the two ends presented.
    fn presented(&self) -> [Presented; 2] {
        [&self.client, &self.server].map(|peer| Presented {
            ae_title: peer.ae_title.clone(),
            implementation_class_uid: peer.implementation_class_uid.clone(),
            implementation_version: peer.implementation_version_name.clone(),
        })
    }
}

/// The PDV being read in one direction.
#[derive(Debug, Clone, Copy, Default)]
struct Pdv {
    context_id: u8,
    command: bool,
    last: bool,
}

/// Upper-layer framing and message assembly of one direction.
#[derive(Debug, Default)]
struct Flow {
    /// Parsing gave up in this direction; bytes are only counted.
    stopped: bool,
    /// Bytes of the current P-DATA-TF body not yet read (0: between PDUs).
    pdata_left: u64,
    /// Bytes of the current PDV value not yet read.
    pdv_left: u64,
    pdv: Pdv,
    /// Command set fragments of the current message.
    command: Vec<u8>,
    /// The current command set outgrew [`MAX_COMMAND_SET`].
    command_overflow: bool,
    /// Walking the data set of the current message.
    walker: Option<DataSetWalker>,
    /// A long A-ASSOCIATE-RQ or -AC being read item by item.
    long: Option<Box<condense::LongAssociate>>,
}

/// Streaming DICOM parser for one TCP connection.
#[derive(Debug, Default)]
pub struct DicomParser {
    to_server: Flow,
    to_client: Flow,
    assoc: Association,
    anomalies: [u64; ANOMALY_COUNT],
    /// Observations made since the last feed returned.
    observed: Vec<DicomObservation>,
    /// DIMSE requests sent in each direction, over every association.
    requests: [u64; 2],
}

impl StreamParser for DicomParser {
    type Record = Association;
    type Observation = DicomObservation;
    const NAME: &'static str = "dicom";
    const MAX_PENDING: usize = PDU_HEADER_LEN + MAX_ASSOCIATE_PDU as usize;
    const ANOMALIES: &'static [&'static str] = ANOMALY_NAMES;

    fn probe(direction: Direction, bytes: &[u8]) -> Probe {
        probe(direction, bytes)
    }

    fn feed(
        &mut self,
        direction: Direction,
        _ts: i64,
        input: &[u8],
        out: &mut OutputOf<Self>,
    ) -> usize {
        let mut pos = 0;
        while let Some(rest) = input.get(pos..).filter(|r| !r.is_empty()) {
            let step = self.step(direction, rest, &mut out.records);
            if step == 0 {
                break;
            }
            pos += step;
        }
        out.observations.append(&mut self.observed);
        pos
    }

    fn gap(&mut self, direction: Direction, _len: u64) -> bool {
        let flow = self.flow(direction);
        if !flow.stopped {
            flow.stopped = true;
            flow.walker = None;
            self.note(Anomaly::StreamGap);
        }
        !self.to_server.stopped || !self.to_client.stopped
    }

    fn finish(&mut self, _ts: i64, out: &mut OutputOf<Self>) {
        self.finish_walkers();
        if self.assoc.seen {
            self.emit(&mut out.records);
        }
        out.observations.append(&mut self.observed);
    }

    fn interim(&self) -> Option<Association> {
        self.assoc.seen.then(|| self.assoc.clone())
    }

    fn anomaly_counts(&self) -> &[u64] {
        &self.anomalies
    }

    fn idle_timeout(&self) -> Option<i64> {
        Some(IDLE_TIMEOUT_SECS * 1_000_000)
    }

    fn messages(&self) -> [u64; 2] {
        self.requests
    }
}

impl DicomParser {
    fn flow(&mut self, direction: Direction) -> &mut Flow {
        match direction {
            Direction::ToServer => &mut self.to_server,
            Direction::ToClient => &mut self.to_client,
        }
    }

    /// Consumes one piece of `input` (a PDU, a PDU or PDV header, or PDV
    /// bytes) and counts it; 0 when it needs more bytes.
    fn step(&mut self, direction: Direction, input: &[u8], out: &mut Vec<Association>) -> usize {
        let (n, counted) = self.step_inner(direction, input, out);
        if !counted {
            self.count(direction, n);
        }
        n
    }

    /// Adds `n` consumed bytes to the current association's counters.
    fn count(&mut self, direction: Direction, n: usize) {
        let n = u64::try_from(n).unwrap_or(u64::MAX);
        match direction {
            Direction::ToServer => self.assoc.bytes_to_server += n,
            Direction::ToClient => self.assoc.bytes_to_client += n,
        }
    }

    fn step_inner(
        &mut self,
        direction: Direction,
        input: &[u8],
        out: &mut Vec<Association>,
    ) -> (usize, bool) {
        let flow = self.flow(direction);
        if flow.stopped {
            return (input.len(), false);
        }
        // Inside a long association PDU: its next item.
        if let Some(long) = flow.long.as_mut() {
            return match long.step(input) {
                condense::Walk::NeedMore => (0, false),
                condense::Walk::Consumed(n) => (n, false),
                condense::Walk::Done(n, body) => {
                    let (kind, dropped) = (long.kind, long.dropped);
                    flow.long = None;
                    for _ in 0..dropped {
                        self.note(Anomaly::TooManyItems);
                    }
                    // Counted before the PDU can complete (and emit) a record.
                    self.count(direction, n);
                    self.association_pdu(direction, kind, &body, out);
                    (n, true)
                }
                condense::Walk::Malformed => (
                    self.stop(direction, Anomaly::MalformedPdu, input.len()),
                    false,
                ),
            };
        }
        // Inside a PDV value: hand over what is there.
        if flow.pdv_left > 0 {
            let n = input
                .len()
                .min(usize::try_from(flow.pdv_left).unwrap_or(usize::MAX));
            let chunk = input.get(..n).unwrap_or_default();
            let taken = u64::try_from(n).unwrap_or(u64::MAX);
            flow.pdv_left -= taken;
            flow.pdata_left = flow.pdata_left.saturating_sub(taken);
            self.pdv_bytes(direction, chunk);
            if self.flow(direction).pdv_left == 0 {
                self.pdv_end(direction);
            }
            return (n, false);
        }
        // Inside a P-DATA-TF body: the next PDV header.
        if flow.pdata_left > 0 {
            let mut r = Reader::new(input);
            let (Some(len), Some(context_id), Some(control)) = (r.u32_be(), r.u8(), r.u8()) else {
                return (0, false);
            };
            // PS3.8 §9.3.5.1: the length counts the context id and the
            // control header; the PDV must fit in what is left of its PDU.
            let len = u64::from(len);
            if len < 2 || len + 4 > flow.pdata_left {
                return (
                    self.stop(direction, Anomaly::MalformedPdv, input.len()),
                    false,
                );
            }
            flow.pdata_left -= PDV_HEADER_LEN as u64;
            flow.pdv_left = len - 2;
            flow.pdv = Pdv {
                context_id,
                command: control & 0x01 != 0,
                last: control & 0x02 != 0,
            };
            if flow.pdv_left == 0 {
                self.pdv_end(direction);
            }
            return (PDV_HEADER_LEN, false);
        }
        // Between PDUs.
        let mut r = Reader::new(input);
        let (Some(kind), Some(_), Some(len)) = (r.u8(), r.u8(), r.u32_be()) else {
            return (0, false);
        };
        match kind {
            pdu_type::P_DATA_TF => {
                self.assoc.seen = true;
                // PS3.8 §9.3.5: at least one PDV, whose header is 6 bytes.
                if u64::from(len) < PDV_HEADER_LEN as u64 {
                    return (
                        self.stop(direction, Anomaly::MalformedPdu, input.len()),
                        false,
                    );
                }
                self.flow(direction).pdata_left = u64::from(len);
                (PDU_HEADER_LEN, false)
            }
            pdu_type::ASSOCIATE_RQ | pdu_type::ASSOCIATE_AC if condense::is_long(len) => {
                // Not held whole: read item by item, what is kept copied.
                self.note(Anomaly::OversizedPdu);
                self.flow(direction).long = Some(Box::new(condense::LongAssociate::new(kind, len)));
                (PDU_HEADER_LEN, false)
            }
            pdu_type::ASSOCIATE_RQ..=pdu_type::ABORT => {
                if len > MAX_ASSOCIATE_PDU {
                    return (
                        self.stop(direction, Anomaly::OversizedPdu, input.len()),
                        false,
                    );
                }
                let total = PDU_HEADER_LEN + len as usize;
                let Some(body) = input.get(PDU_HEADER_LEN..total) else {
                    return (0, false);
                };
                // Counted before the PDU can complete (and emit) the record.
                self.count(direction, total);
                self.association_pdu(direction, kind, body, out);
                (total, true)
            }
            _ => (
                self.stop(direction, Anomaly::UnknownPduType, input.len()),
                false,
            ),
        }
    }

    /// Gives up parsing `direction`; returns `consumed` for the caller.
    fn stop(&mut self, direction: Direction, anomaly: Anomaly, consumed: usize) -> usize {
        self.note(anomaly);
        let flow = self.flow(direction);
        flow.stopped = true;
        flow.walker = None;
        flow.command.clear();
        consumed
    }

    fn note(&mut self, anomaly: Anomaly) {
        // An association that only produced anomalies is still reported.
        self.assoc.seen = true;
        if let Some(count) = self.anomalies.get_mut(anomaly.index()) {
            *count += 1;
        }
        let name = anomaly.name();
        if !self.assoc.anomalies.contains(&name) {
            self.assoc.anomalies.push(name);
        }
    }

    /// Pushes the current association and starts a new one.
    fn emit(&mut self, out: &mut Vec<Association>) {
        self.announce();
        out.push(std::mem::take(&mut self.assoc));
    }

    /// Observes who the two ends are, once per association, as soon as the
    /// association is known to exist (requested or accepted).
    fn announce(&mut self) {
        let a = &mut self.assoc;
        if a.announced || (a.protocol_version.is_none() && a.result.is_none()) {
            return;
        }
        a.announced = true;
        let [client, server] = a.presented();
        let observation = match &a.reject {
            Some(reject) => DicomObservation::Rejected {
                client,
                server,
                reject: reject.clone(),
            },
            None => DicomObservation::Associated { client, server },
        };
        self.observed.push(observation);
    }

    fn finish_walkers(&mut self) {
        for walker in [self.to_server.walker.take(), self.to_client.walker.take()]
            .into_iter()
            .flatten()
        {
            self.store_walk(walker);
        }
    }

    fn association_pdu(
        &mut self,
        direction: Direction,
        kind: u8,
        body: &[u8],
        out: &mut Vec<Association>,
    ) {
        let from_client = direction == Direction::ToServer;
        let expected = match kind {
            pdu_type::ASSOCIATE_RQ => from_client,
            pdu_type::ASSOCIATE_AC | pdu_type::ASSOCIATE_RJ => !from_client,
            _ => true,
        };
        if !expected {
            self.assoc.seen = true;
            self.note(Anomaly::UnexpectedPdu);
            return;
        }
        match kind {
            pdu_type::ASSOCIATE_RQ => {
                // A new association on a connection that already had one.
                if self.assoc.protocol_version.is_some() {
                    self.finish_walkers();
                    self.emit(out);
                }
                self.assoc.seen = true;
                let mut notes = Vec::new();
                let parsed = pdu::parse_associate(body, true, &mut |a| notes.push(a));
                notes.into_iter().for_each(|a| self.note(a));
                match parsed {
                    Some(rq) => self.apply_request(rq),
                    None => self.note(Anomaly::MalformedPdu),
                }
            }
            pdu_type::ASSOCIATE_AC => {
                self.assoc.seen = true;
                let mut notes = Vec::new();
                let parsed = pdu::parse_associate(body, false, &mut |a| notes.push(a));
                notes.into_iter().for_each(|a| self.note(a));
                match parsed {
                    Some(ac) => {
                        self.apply_accept(ac);
                        self.announce();
                    }
                    None => self.note(Anomaly::MalformedPdu),
                }
            }
            pdu_type::ASSOCIATE_RJ => {
                self.assoc.seen = true;
                let Some((result, source, reason)) = pdu::parse_short(body) else {
                    self.note(Anomaly::MalformedPdu);
                    return;
                };
                self.assoc.result = Some("rejected");
                self.assoc.reject = Some(Reject {
                    result: pdu::reject_result_name(result),
                    source: pdu::reject_source_name(source),
                    reason: pdu::reject_reason_name(source, reason),
                });
                // A rejection is observed as such, even after an earlier
                // observation of the request.
                self.assoc.announced = false;
                self.emit(out);
            }
            pdu_type::RELEASE_RQ => self.assoc.seen = true,
            pdu_type::RELEASE_RP => {
                self.assoc.seen = true;
                self.assoc.released = true;
                self.finish_walkers();
                self.emit(out);
            }
            _ => {
                // A-ABORT
                self.assoc.seen = true;
                let Some((_, source, reason)) = pdu::parse_short(body) else {
                    self.note(Anomaly::MalformedPdu);
                    return;
                };
                self.assoc.result = Some("aborted");
                self.assoc.abort = Some(Abort {
                    sent_by: direction.sender(),
                    source: pdu::abort_source_name(source),
                    reason: (source == 2).then(|| pdu::abort_reason_name(reason)),
                });
                self.finish_walkers();
                self.emit(out);
            }
        }
    }

    fn apply_request(&mut self, rq: Associate) {
        let a = &mut self.assoc;
        a.protocol_version = Some(rq.protocol_version);
        a.application_context = rq.application_context;
        a.client.ae_title = Some(rq.calling_ae_title);
        a.server.ae_title = Some(rq.called_ae_title);
        a.client.implementation_class_uid = rq.implementation_class_uid;
        a.client.implementation_version_name = rq.implementation_version_name;
        a.client.max_pdu_length = rq.max_pdu_length;
        a.presentation_contexts = rq
            .contexts
            .into_iter()
            .map(|c| PresentationContext {
                id: c.id,
                sop_class_name: c.abstract_syntax.as_deref().and_then(uids::name),
                abstract_syntax: c.abstract_syntax,
                transfer_syntaxes: c.transfer_syntaxes,
                result: None,
                accepted_transfer_syntax: None,
            })
            .collect();
        a.role_selections = rq
            .roles
            .into_iter()
            .map(|r| RoleSelection {
                sop_class_uid: r.sop_class_uid,
                scu_role: r.scu_role == 1,
                scp_role: r.scp_role == 1,
            })
            .collect();
        a.user_identity = rq.user_identity.map(|(kind, positive)| UserIdentity {
            kind,
            type_name: pdu::user_identity_type_name(kind),
            positive_response_requested: positive,
            server_response: false,
        });
    }

    fn apply_accept(&mut self, ac: Associate) {
        let a = &mut self.assoc;
        a.result = Some("accepted");
        if a.application_context.is_none() {
            a.application_context = ac.application_context;
        }
        // Picked up after the request: the AC echoes both AE titles.
        if a.protocol_version.is_none() {
            a.client.ae_title = Some(ac.calling_ae_title);
            a.server.ae_title = Some(ac.called_ae_title);
        }
        a.server.implementation_class_uid = ac.implementation_class_uid;
        a.server.implementation_version_name = ac.implementation_version_name;
        a.server.max_pdu_length = ac.max_pdu_length;
        if let Some(identity) = &mut a.user_identity {
            identity.server_response = ac.user_identity_response;
        }
        for ctx in ac.contexts {
            let result = ctx.result.unwrap_or(u8::MAX);
            let accepted = (result == 0)
                .then(|| ctx.transfer_syntaxes.into_iter().next())
                .flatten();
            let index = a.presentation_contexts.iter().position(|p| p.id == ctx.id);
            let entry = match index {
                Some(i) => a.presentation_contexts.get_mut(i),
                None if a.presentation_contexts.len() < MAX_PRESENTATION_CONTEXTS => {
                    a.presentation_contexts.push(PresentationContext {
                        id: ctx.id,
                        ..PresentationContext::default()
                    });
                    a.presentation_contexts.last_mut()
                }
                None => None,
            };
            if let Some(entry) = entry {
                entry.result = Some(pdu::context_result_name(result));
                entry.accepted_transfer_syntax = accepted;
            }
        }
    }

    /// Bytes of the current PDV value of `direction`.
    fn pdv_bytes(&mut self, direction: Direction, chunk: &[u8]) {
        let flow = self.flow(direction);
        if flow.pdv.command {
            if flow.command_overflow {
                return;
            }
            if flow.command.len() + chunk.len() > MAX_COMMAND_SET {
                flow.command_overflow = true;
                flow.command.clear();
                self.note(Anomaly::OversizedCommandSet);
                return;
            }
            flow.command.extend_from_slice(chunk);
        } else if let Some(walker) = &mut flow.walker {
            walker.feed(chunk);
        }
    }

    /// The current PDV of `direction` ended.
    fn pdv_end(&mut self, direction: Direction) {
        let flow = self.flow(direction);
        let pdv = flow.pdv;
        if !pdv.last {
            return;
        }
        if !pdv.command {
            if let Some(walker) = flow.walker.take() {
                self.store_walk(walker);
            }
            return;
        }
        let overflow = std::mem::take(&mut flow.command_overflow);
        let bytes = std::mem::take(&mut flow.command);
        if overflow {
            return;
        }
        match dimse::parse_command(&bytes) {
            Some(command) => self.operation(direction, pdv.context_id, command),
            None => self.note(Anomaly::MalformedCommandSet),
        }
        // Reuse the allocation for the next command set.
        let flow = self.flow(direction);
        if flow.command.capacity() == 0 {
            flow.command = bytes;
            flow.command.clear();
        }
    }

    fn operation(&mut self, direction: Direction, context_id: u8, command: Command) {
        let name = dimse::command_name(command.field);
        let status_category = command.status.map(dimse::status_category);
        let ops = self
            .assoc
            .operations
            .get_or_insert_with(Operations::default);
        ops.total += 1;
        *ops.counts.entry(name).or_insert(0) += 1;
        if status_category == Some("failure") {
            ops.failures += 1;
            let key = format!("0x{:04X}", command.status.unwrap_or_default());
            if ops.failure_statuses.len() < MAX_FAILURE_STATUSES
                || ops.failure_statuses.contains_key(&key)
            {
                *ops.failure_statuses.entry(key).or_insert(0) += 1;
            }
        }
        if name.ends_with("-RQ") {
            if let Some(n) = self.requests.get_mut(direction.index()) {
                *n += 1;
            }
            self.observe_command(direction.sender(), name, &command);
        }
        let has_data_set = command
            .data_set_type
            .is_some_and(|t| t != dimse::NO_DATA_SET);
        if command.field == dimse::C_STORE_RQ && has_data_set && !self.assoc.device_chosen {
            self.assoc.device_chosen = true;
            self.start_walk(direction, context_id);
        }
        let ops = self
            .assoc
            .operations
            .get_or_insert_with(Operations::default);
        if ops.first.len() < MAX_OPERATIONS {
            ops.first.push(Operation {
                command: name,
                sent_by: direction.sender(),
                presentation_context_id: context_id,
                sop_class_name: command.sop_class_uid.as_deref().and_then(uids::name),
                sop_class_uid: command.sop_class_uid,
                status: command.status,
                status_category,
                move_destination: command.move_destination,
            });
        }
    }

    /// Observes a request, the first of its sender, command and SOP class on
    /// the association.
    fn observe_command(&mut self, sent_by: Side, name: &'static str, command: &Command) {
        self.announce();
        let a = &mut self.assoc;
        let seen = a
            .observed_commands
            .iter()
            .any(|(s, n, uid)| *s == sent_by && *n == name && *uid == command.sop_class_uid);
        if seen || a.observed_commands.len() >= MAX_OBSERVED_COMMANDS {
            return;
        }
        a.observed_commands
            .push((sent_by, name, command.sop_class_uid.clone()));
        self.observed.push(DicomObservation::Command {
            sent_by,
            command: name,
            sop_class_uid: command.sop_class_uid.clone(),
            sop_class_name: command.sop_class_uid.as_deref().and_then(uids::name),
            called_ae: a.server.ae_title.clone(),
        });
    }

    /// Prepares the walk over the first C-STORE data set, sent in
    /// `direction` on presentation context `context_id`.
    fn start_walk(&mut self, direction: Direction, context_id: u8) {
        let transfer_syntax = self
            .assoc
            .presentation_contexts
            .iter()
            .find(|p| p.id == context_id)
            .and_then(|p| p.accepted_transfer_syntax.clone());
        let walker = match transfer_syntax.as_deref() {
            None => None,
            Some(ts) if NOT_WALKED.contains(&ts) => None,
            Some(ts) => Some(DataSetWalker::new(ts != IMPLICIT_VR_LE)),
        };
        self.assoc.device = Some(Device {
            sender: direction.sender(),
            transfer_syntax,
            status: if walker.is_some() {
                "parsed"
            } else {
                "not_parsed"
            },
            sop_instance_uid: None,
            modality: None,
            manufacturer: None,
            station_name: None,
            model: None,
            serial_number: None,
            software_versions: None,
        });
        self.flow(direction).walker = walker;
    }

    /// Copies what a finished walk found into the record.
    fn store_walk(&mut self, walker: DataSetWalker) {
        if walker.ended() == Some(WalkEnd::Malformed) {
            self.note(Anomaly::MalformedDataSet);
        }
        let Some(device) = &mut self.assoc.device else {
            return;
        };
        if walker.ended() == Some(WalkEnd::Malformed) {
            device.status = "malformed";
        }
        let f = walker.fields;
        device.sop_instance_uid = f.sop_instance_uid;
        device.modality = f.modality;
        device.manufacturer = f.manufacturer;
        device.station_name = f.station_name;
        device.model = f.model;
        device.serial_number = f.serial_number;
        device.software_versions = f.software_versions;
        let device = device.clone();
        self.observed.push(DicomObservation::Equipment(device));
    }
}

/// Recognises an association request from the client's first bytes (or an
/// accept/reject from the server's): PDU type and reserved byte, a plausible
/// length, protocol version 1, printable AE titles and the application
/// context item first (PS3.8 §9.3.2).
fn probe(direction: Direction, bytes: &[u8]) -> Probe {
    let want_type = match direction {
        Direction::ToServer => pdu_type::ASSOCIATE_RQ,
        Direction::ToClient => match bytes.first() {
            Some(&pdu_type::ASSOCIATE_RJ) => return probe_reject(bytes),
            _ => pdu_type::ASSOCIATE_AC,
        },
    };
    // Each check looks at bytes that may not have arrived yet: `None` means
    // "not yet", which turns into NeedMore if nothing fails.
    let byte = |i: usize| bytes.get(i).copied();
    let mut need_more = false;
    let mut check = |ok: Option<bool>| match ok {
        Some(ok) => ok,
        None => {
            need_more = true;
            true
        }
    };
    let length = bytes
        .get(2..6)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_be_bytes);
    let min_len = pdu::ASSOCIATE_FIXED_LEN as u32 + 4;
    let fixed = [
        check(byte(0).map(|b| b == want_type)),
        check(byte(1).map(|b| b == 0)),
        check(length.map(|l| (min_len..=MAX_LONG_ASSOCIATE_PDU).contains(&l))),
        check(byte(6).map(|b| b == 0)),
        check(byte(7).map(|b| b & 1 == 1)),
    ];
    if fixed.contains(&false) {
        return Probe::NoMatch;
    }
    for i in 10..42 {
        if !check(byte(i).map(|b| (0x20..=0x7E).contains(&b))) {
            return Probe::NoMatch;
        }
    }
    // The first item after the fixed part is the application context.
    if !check(byte(74).map(|b| b == 0x10)) || !check(byte(75).map(|b| b == 0)) {
        return Probe::NoMatch;
    }
    if need_more {
        Probe::NeedMore
    } else {
        Probe::Match
    }
}

/// An A-ASSOCIATE-RJ: type 3, length 4, result 1–2, source 1–3.
fn probe_reject(bytes: &[u8]) -> Probe {
    let expected: [fn(u8) -> bool; 10] = [
        |b| b == pdu_type::ASSOCIATE_RJ,
        |b| b == 0,
        |b| b == 0,
        |b| b == 0,
        |b| b == 0,
        |b| b == 4,
        |_| true,
        |b| (1..=2).contains(&b),
        |b| (1..=3).contains(&b),
        |_| true,
    ];
    for (b, ok) in bytes.iter().zip(expected) {
        if !ok(*b) {
            return Probe::NoMatch;
        }
    }
    if bytes.len() < expected.len() {
        Probe::NeedMore
    } else {
        Probe::Match
    }
}
