//! HL7 v2.x messages over MLLP (HL7 v2.5.1 ch. 2, MLLP release 2 framing:
//! `0x0B message 0x1C 0x0D`), parsed from the in-order bytes of one TCP
//! connection, one [`Message`] record per HL7 message.
//!
//! # How bytes flow
//!
//! Each direction has its own framing state. Outside a frame the parser
//! hunts for the start block; bytes other than CR/LF there are
//! `garbage_between_frames`. Inside a frame it walks segment by segment
//! (segments end at CR; LF and CRLF are tolerated) and looks at a segment's
//! three-letter name only:
//!
//! - `MSH`, `MSA`, `PRT`, `OBX` are read whole, in place from the input when
//!   a segment arrives in one piece, otherwise left unconsumed (the caller's
//!   [`super::Pending`] holds them, at most [`MAX_SEGMENT_LEN`] bytes); the
//!   parser remembers how far it scanned so a segment split into many TCP
//!   segments is scanned once. Longer segments are skipped
//!   (`oversized_segment`).
//! - every other segment (`PID`, `NK1`, `PV1`, `OBR`, `NTE`, …) is skipped as
//!   it streams past: its name is counted and its bytes consumed, never held.
//! - `FHS`/`BHS`/`BTS`/`FTS` (batch envelopes) end the message before them;
//!   every `MSH` starts a new message, so a batch frame gives one record per
//!   message.
//!
//! A message longer than [`MAX_MESSAGE_LEN`] stops being read at that point
//! (`oversized_message`): the rest of the frame is skipped up to its end
//! block without looking at segments. After a gap the parser resynchronises
//! at the next start block.
//!
//! # What is kept
//!
//! From MSH the sending and receiving application and facility, the message
//! type, the control, processing and version ids; from MSA the
//! acknowledgment code and the acknowledged control id; from PRT-10, PRT-16
//! and OBX-18 device identifiers. Nothing else: no patient segment
//! (PID, NK1, PV1, …), no observation value (OBX-5), no free text ever
//! enters a record. See `docs/protocols/hl7.md`.
//!
//! # Guarantees
//!
//! Never panics on any input, never holds more than one segment of one
//! direction, never buffers a frame; every limit is a `pub const` here.
mod text;

#[cfg(test)]
mod tests;

use super::{Direction, Fact, Observation, Output, OutputOf, Probe, Record, Side, StreamParser};
pub use text::{Encoding, MAX_VALUE_LEN};

/// Longest message, in bytes from its first segment to its end (the end
/// block, the next `MSH`, or a batch trailer), whose segments are looked
/// at. Past it the rest of the frame is skipped to the end block.
pub const MAX_MESSAGE_LEN: u64 = 1024 * 1024;

/// Longest MSH, MSA, PRT or OBX segment read, in bytes without its
/// terminator; a longer one is skipped. This is also the most bytes the
/// parser leaves unconsumed ([`StreamParser::MAX_PENDING`]).
pub const MAX_SEGMENT_LEN: usize = 64 * 1024;

/// Most device identifiers (PRT-10, PRT-16, OBX-18) kept per message,
/// distinct by value and source.
pub const MAX_DEVICE_IDS: usize = 16;

/// Most distinct segment names counted per message.
pub const MAX_SEGMENT_NAMES: usize = 32;

/// MLLP start block.
const START_BLOCK: u8 = 0x0B;
/// MLLP end block (followed by CR).
const END_BLOCK: u8 = 0x1C;
/// Segment terminator, and the byte after the end block.
const CR: u8 = 0x0D;
/// Tolerated as a segment terminator.
const LF: u8 = 0x0A;

/// Whether `b` ends a segment (or the frame it is in).
fn ends_segment(b: u8) -> bool {
    matches!(b, CR | LF | END_BLOCK | START_BLOCK)
}

/// The first byte of `bytes` that ends a segment ([`ends_segment`]), found
/// with vectorised searches: segments are skipped at memory speed.
fn find_segment_end(bytes: &[u8]) -> Option<usize> {
    let end = memchr::memchr3(CR, LF, END_BLOCK, bytes);
    let before = bytes.get(..end.unwrap_or(bytes.len())).unwrap_or_default();
    memchr::memchr(START_BLOCK, before).or(end)
}

anomalies! {
    /// The protocol anomalies this parser counts.
    pub enum Anomaly {
        /// Bytes other than CR/LF outside a frame, before a start block.
        GarbageBetweenFrames = "garbage_between_frames",
        /// A start block inside a frame: the previous frame had no end block.
        UnterminatedFrame = "unterminated_frame",
        /// The end block was not followed by CR.
        MalformedEndBlock = "malformed_end_block",
        /// A frame without any segment.
        EmptyFrame = "empty_frame",
        /// A message longer than [`MAX_MESSAGE_LEN`].
        OversizedMessage = "oversized_message",
        /// An MSH/MSA/PRT/OBX segment longer than [`MAX_SEGMENT_LEN`].
        OversizedSegment = "oversized_segment",
        /// A segment whose name is not three upper-case letters or digits.
        MalformedSegment = "malformed_segment",
        /// Segments of a message before (or without) its MSH.
        MissingMsh = "missing_msh",
        /// An unusable field separator (MSH-1) or encoding characters (MSH-2).
        BadEncodingCharacters = "bad_encoding_characters",
        /// A kept value longer than [`MAX_VALUE_LEN`] was cut.
        ValueTruncated = "value_truncated",
        /// More than [`MAX_DEVICE_IDS`] device identifiers in one message.
        TooManyDeviceIds = "too_many_device_ids",
        /// More than [`MAX_SEGMENT_NAMES`] distinct segment names in one message.
        TooManySegmentNames = "too_many_segment_names",
        /// Bytes of the direction were lost.
        Gap = "gap",
        /// The connection ended inside a message.
        IncompleteMessage = "incomplete_message",
    }
}

/// Where a device identifier was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum DeviceIdSource {
    /// PRT-10 Participation Device (EI, repeating; HL7 v2.7+).
    #[serde(rename = "PRT-10")]
    Prt10,
    /// PRT-16 UDI Device Identifier (EI; HL7 v2.8.2+).
    #[serde(rename = "PRT-16")]
    Prt16,
    /// OBX-18 Equipment Instance Identifier (EI, repeating).
    #[serde(rename = "OBX-18")]
    Obx18,
}

/// One device identifier (an HL7 EI: entity identifier, namespace id,
/// universal id, universal id type, written joined with `^`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeviceIdentifier {
    /// The identifier's text.
    pub id: String,
    /// The field it came from.
    pub source: DeviceIdSource,
}

/// How many segments of each name a message had, in order of first
/// appearance; serialised as a JSON object `{"PID": 1, "OBX": 14}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SegmentCounts(Vec<([u8; 3], u64)>);

impl SegmentCounts {
    /// Whether no segment was counted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The count for `name`, if that name was seen.
    pub fn get(&self, name: &str) -> Option<u64> {
        self.0
            .iter()
            .find(|(n, _)| n.as_slice() == name.as_bytes())
            .map(|&(_, c)| c)
    }

    /// The names and counts, in order of first appearance.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.0
            .iter()
            .map(|(n, c)| (std::str::from_utf8(n).unwrap_or("???"), *c))
    }

    /// Counts one segment; false when the name is new and the table is full.
    fn add(&mut self, name: [u8; 3]) -> bool {
        if let Some((_, c)) = self.0.iter_mut().find(|(n, _)| *n == name) {
            *c = c.saturating_add(1);
            return true;
        }
        if self.0.len() >= MAX_SEGMENT_NAMES {
            return false;
        }
        self.0.push((name, 1));
        true
    }
}

impl serde::Serialize for SegmentCounts {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, count) in self.iter() {
            map.serialize_entry(name, &count)?;
        }
        map.end()
    }
}

fn serialize_direction<S: serde::Serializer>(d: &Direction, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(match d {
        Direction::ToServer => "to_server",
        Direction::ToClient => "to_client",
    })
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One HL7 v2 message, as seen in one direction of an MLLP connection.
/// Application and facility names (HD) and identifiers (EI) are written with
/// their components joined by `^` and subcomponents by `&`, whatever
/// delimiters the message declared.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Message {
    /// Which way the message went: `to_server` (client to server) or
    /// `to_client`.
    #[serde(serialize_with = "serialize_direction")]
    pub direction: Direction,
    /// MSH-3 Sending Application (HD).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sending_application: Option<String>,
    /// MSH-4 Sending Facility (HD).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sending_facility: Option<String>,
    /// MSH-5 Receiving Application (HD).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receiving_application: Option<String>,
    /// MSH-6 Receiving Facility (HD).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receiving_facility: Option<String>,
    /// MSH-9.1 Message Code (`ADT`, `ORU`, `ACK`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_type: Option<String>,
    /// MSH-9.2 Trigger Event (`A01`, `R01`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger_event: Option<String>,
    /// MSH-9.3 Message Structure (`ADT_A01`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_structure: Option<String>,
    /// MSH-10 Message Control ID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub control_id: Option<String>,
    /// MSH-11.1 Processing ID (`P`, `T`, `D`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processing_id: Option<String>,
    /// MSH-12.1 Version ID (`2.3`, `2.5.1`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// MSA-1 Acknowledgment Code (`AA`, `AE`, `AR`, `CA`, `CE`, `CR`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ack_code: Option<String>,
    /// MSA-2 Message Control ID of the acknowledged message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ack_control_id: Option<String>,
    /// Device identifiers from PRT-10, PRT-16 and OBX-18 (all repetitions),
    /// distinct, at most [`MAX_DEVICE_IDS`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub device_identifiers: Vec<DeviceIdentifier>,
    /// Segments by name (names only), at most [`MAX_SEGMENT_NAMES`] names.
    #[serde(skip_serializing_if = "SegmentCounts::is_empty")]
    pub segments: SegmentCounts,
    /// All segments of the message, including those past the name limit.
    pub segment_count: u64,
    /// Bytes of the message, from its first segment to its end, without
    /// MLLP framing.
    pub size: u64,
    /// The message came inside an HL7 batch (FHS/BHS … BTS/FTS).
    #[serde(skip_serializing_if = "is_false")]
    pub batch: bool,
    /// The message did not end: the connection closed or bytes were lost
    /// inside it.
    #[serde(skip_serializing_if = "is_false")]
    pub incomplete: bool,
    /// Anomalies seen in this message (names from
    /// [`Hl7Parser::ANOMALIES`]), each once.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub anomalies: Vec<&'static str>,
}

impl Message {
    /// What the device table and the baselines learn from this message, as
    /// a hash: equal for two messages that teach the same (same direction,
    /// header fields, acknowledgement, device identifiers, anomalies). `None`
    /// for a negative acknowledgement, which counts every time.
    pub fn learning_signature(&self, hasher: &impl std::hash::BuildHasher) -> Option<u64> {
        if self
            .ack_code
            .as_deref()
            .is_some_and(|c| matches!(c, "AE" | "AR" | "CE" | "CR"))
        {
            return None;
        }
        use std::hash::{Hash, Hasher};
        let mut state = hasher.build_hasher();
        self.direction.hash(&mut state);
        for field in [
            &self.sending_application,
            &self.sending_facility,
            &self.receiving_application,
            &self.receiving_facility,
            &self.message_type,
            &self.trigger_event,
            &self.ack_code,
        ] {
            field.hash(&mut state);
        }
        for id in &self.device_identifiers {
            id.id.hash(&mut state);
        }
        self.anomalies.hash(&mut state);
        self.incomplete.hash(&mut state);
        Some(state.finish())
    }

    pub(crate) fn new(direction: Direction, batch: bool) -> Message {
        Message {
            direction,
            sending_application: None,
            sending_facility: None,
            receiving_application: None,
            receiving_facility: None,
            message_type: None,
            trigger_event: None,
            message_structure: None,
            control_id: None,
            processing_id: None,
            version: None,
            ack_code: None,
            ack_control_id: None,
            device_identifiers: Vec::new(),
            segments: SegmentCounts::default(),
            segment_count: 0,
            size: 0,
            batch,
            incomplete: false,
            anomalies: Vec::new(),
        }
    }

    /// Whether this is an acknowledgment (MSH-9.1 `ACK`).
    pub fn is_ack(&self) -> bool {
        self.message_type.as_deref() == Some("ACK")
    }
}

impl Record for Message {
    /// A message is complete when it is reported: there is nothing interim.
    fn mark_interim(&mut self, _changed: Vec<String>) {}
}

impl Observation for Message {
    /// The message's sender is the `hl7_sender` and carries the sending
    /// application, facility and device ids; the other endpoint is the
    /// `hl7_receiver` with the receiving application and facility. An
    /// acknowledgment reverses that: its sender is the `hl7_receiver` of the
    /// exchange (its MSH-3/4 name the receiving side) and its addressee the
    /// `hl7_sender` (MSH-5/6).
    fn facts(&self, out: &mut Vec<Fact>) {
        let from = self.direction.sender();
        let to = self.direction.reverse().sender();
        let (sender, receiver) = if self.is_ack() {
            (to, from)
        } else {
            (from, to)
        };
        let mut push = |side: Side, name: &'static str, value: &Option<String>| {
            if let Some(v) = value {
                out.push(Fact {
                    side,
                    name,
                    value: v.clone(),
                });
            }
        };
        let role = |r: &str| Some(r.to_owned());
        if self.is_ack() {
            push(from, "hl7.receiving_application", &self.sending_application);
            push(from, "hl7.receiving_facility", &self.sending_facility);
            push(to, "hl7.sending_application", &self.receiving_application);
            push(to, "hl7.sending_facility", &self.receiving_facility);
        } else {
            push(from, "hl7.sending_application", &self.sending_application);
            push(from, "hl7.sending_facility", &self.sending_facility);
            push(to, "hl7.receiving_application", &self.receiving_application);
            push(to, "hl7.receiving_facility", &self.receiving_facility);
        }
        for d in &self.device_identifiers {
            push(from, "hl7.device_id", &Some(d.id.clone()));
        }
        push(sender, "role", &role("hl7_sender"));
        push(receiver, "role", &role("hl7_receiver"));
    }
}

/// Segment types read whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Msh,
    Msa,
    Prt,
    Obx,
}

/// Where one direction is in the byte stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum State {
    /// Outside a frame, looking for a start block.
    #[default]
    Hunting,
    /// Inside a frame, at the start of a segment (or between segments).
    LineStart,
    /// Inside a segment of `kind` that is read whole; `scanned` bytes of it
    /// (from the first byte of the input) hold no terminator.
    Hold { kind: Kind, scanned: usize },
    /// Inside a segment that is skipped.
    Skip,
    /// Skipping the rest of an oversized message up to the end block.
    SkipToEnd,
    /// After the end block, expecting CR.
    AfterEnd,
}

/// One direction's state.
#[derive(Debug, Default)]
struct Half {
    state: State,
    /// Stream offset of the first byte of the current input.
    base: u64,
    /// The message being read.
    msg: Option<Building>,
    /// Delimiters of the current message.
    enc: Encoding,
    /// The current frame is a batch.
    in_batch: bool,
    /// The current frame has had a segment.
    frame_has_segment: bool,
    /// Garbage was already counted since the last frame.
    garbage_counted: bool,
    /// After a gap: bytes before the next start block are not garbage.
    resyncing: bool,
}

#[derive(Debug)]
struct Building {
    rec: Message,
    /// Stream offset of the message's first byte.
    start: u64,
}

/// Per-connection HL7/MLLP parser.
#[derive(Debug, Default)]
pub struct Hl7Parser {
    halves: [Half; 2],
    counts: [u64; Anomaly::ALL.len()],
    /// Messages ended by a gap, reported by the next feed or finish.
    deferred: Vec<Message>,
    /// Learning signatures of the messages observed on this connection.
    observed: Vec<u64>,
    /// Messages reported in each direction.
    messages: [u64; 2],
}

/// Idle timeout, in seconds, of an MLLP connection: an interface holds its
/// connection for months and may be silent overnight; MLLP has no
/// keep-alive, so an hour of silence is allowed before it is over.
pub const IDLE_TIMEOUT_SECS: i64 = 3600;

/// Distinct message signatures (header fields, acknowledgment code, device
/// ids) a connection observes; past this, every further message is
/// observed. An interface engine's connection repeats a handful.
pub const MAX_OBSERVED_SIGNATURES: usize = 16;

/// The anomaly counters and the output, borrowed together while one half
/// works.
struct Sink<'a> {
    direction: Direction,
    counts: &'a mut [u64; Anomaly::ALL.len()],
    out: &'a mut Vec<Message>,
}

impl Half {
    /// Notes an anomaly: once per message in the message's list and the
    /// counters, or in the counters alone outside a message.
    fn note(&mut self, sink: &mut Sink<'_>, a: Anomaly) {
        if let Some(b) = self.msg.as_mut() {
            if b.rec.anomalies.contains(&a.name()) {
                return;
            }
            b.rec.anomalies.push(a.name());
        }
        if let Some(c) = sink.counts.get_mut(a.index()) {
            *c = c.saturating_add(1);
        }
    }

    /// Ends the current message at stream offset `at` and reports it.
    fn end_message(&mut self, sink: &mut Sink<'_>, at: u64) {
        if let Some(b) = self.msg.take() {
            let mut rec = b.rec;
            rec.size = at.saturating_sub(b.start);
            sink.out.push(rec);
        }
    }

    fn open_frame(&mut self) {
        self.state = State::LineStart;
        self.in_batch = false;
        self.frame_has_segment = false;
        self.garbage_counted = false;
        self.resyncing = false;
    }

    /// Starts a message at stream offset `at` if none is open.
    fn ensure_message(&mut self, sink: &mut Sink<'_>, at: u64) {
        if self.msg.is_none() {
            self.msg = Some(Building {
                rec: Message::new(sink.direction, self.in_batch),
                start: at,
            });
            self.enc = Encoding::DEFAULT;
            self.note(sink, Anomaly::MissingMsh);
        }
    }

    fn count_segment(&mut self, sink: &mut Sink<'_>, name: [u8; 3]) {
        let Some(b) = self.msg.as_mut() else { return };
        b.rec.segment_count = b.rec.segment_count.saturating_add(1);
        if !b.rec.segments.add(name) {
            self.note(sink, Anomaly::TooManySegmentNames);
        }
    }

    /// Whether a segment byte at stream offset `at` lies past the message
    /// limit.
    fn past_limit(&self, at: u64) -> bool {
        self.msg
            .as_ref()
            .is_some_and(|b| at.saturating_sub(b.start) >= MAX_MESSAGE_LEN)
    }

    fn feed(&mut self, input: &[u8], sink: &mut Sink<'_>) -> usize {
        let mut pos = 0usize;
        while let Some(rest) = input.get(pos..).filter(|r| !r.is_empty()) {
            let at = self.base.saturating_add(pos as u64);
            match self.state {
                State::Hunting => {
                    let found = rest.iter().position(|&b| b == START_BLOCK);
                    let skipped = rest.get(..found.unwrap_or(rest.len())).unwrap_or_default();
                    if !self.resyncing
                        && !self.garbage_counted
                        && skipped.iter().any(|&b| b != CR && b != LF)
                    {
                        self.garbage_counted = true;
                        self.note(sink, Anomaly::GarbageBetweenFrames);
                    }
                    match found {
                        Some(i) => {
                            pos += i + 1;
                            self.open_frame();
                        }
                        None => pos = input.len(),
                    }
                }
                State::AfterEnd => {
                    if rest.first() == Some(&CR) {
                        pos += 1;
                    } else {
                        self.note(sink, Anomaly::MalformedEndBlock);
                    }
                    self.finish_frame(sink);
                    self.state = State::Hunting;
                }
                State::LineStart => match rest.first().copied().unwrap_or(CR) {
                    END_BLOCK => {
                        if !self.frame_has_segment {
                            self.note(sink, Anomaly::EmptyFrame);
                        }
                        // Remember where the message ended for AfterEnd.
                        if let Some(b) = self.msg.as_mut() {
                            b.rec.size = at.saturating_sub(b.start);
                        }
                        pos += 1;
                        self.state = State::AfterEnd;
                    }
                    CR | LF => pos += 1,
                    START_BLOCK => {
                        self.note(sink, Anomaly::UnterminatedFrame);
                        self.end_message(sink, at);
                        pos += 1;
                        self.open_frame();
                    }
                    _ => {
                        if self.past_limit(at) {
                            self.note(sink, Anomaly::OversizedMessage);
                            self.state = State::SkipToEnd;
                            continue;
                        }
                        let head = rest.get(..rest.len().min(4)).unwrap_or_default();
                        let term = head.iter().position(|&b| ends_segment(b));
                        if term.is_none() && head.len() < 4 {
                            break; // need the name and the byte after it
                        }
                        self.frame_has_segment = true;
                        self.state = self.classify(head, term, sink, at);
                    }
                },
                State::Hold { kind, scanned } => {
                    let from = scanned.min(rest.len());
                    let found = rest
                        .get(from..)
                        .and_then(find_segment_end)
                        .map(|i| from + i);
                    match found {
                        Some(end) if end <= MAX_SEGMENT_LEN => {
                            let segment = rest.get(..end).unwrap_or_default();
                            self.segment(kind, segment, sink);
                            pos += end;
                            self.state = State::LineStart;
                        }
                        Some(_) => {
                            self.note(sink, Anomaly::OversizedSegment);
                            self.state = State::Skip;
                        }
                        None if rest.len() > MAX_SEGMENT_LEN => {
                            self.note(sink, Anomaly::OversizedSegment);
                            self.state = State::Skip;
                        }
                        None => {
                            self.state = State::Hold {
                                kind,
                                scanned: rest.len(),
                            };
                            break;
                        }
                    }
                }
                State::Skip => {
                    let found = find_segment_end(rest);
                    let end = found.unwrap_or(rest.len());
                    // The last skipped segment byte is at `at + end - 1`.
                    if end > 0 && self.past_limit(at.saturating_add(end as u64 - 1)) {
                        self.note(sink, Anomaly::OversizedMessage);
                        self.state = State::SkipToEnd;
                        continue;
                    }
                    pos += end;
                    if found.is_some() {
                        self.state = State::LineStart;
                    }
                }
                State::SkipToEnd => match memchr::memchr2(END_BLOCK, START_BLOCK, rest) {
                    Some(i) => {
                        pos += i;
                        self.state = State::LineStart;
                    }
                    None => pos = input.len(),
                },
            }
        }
        self.base = self.base.saturating_add(pos as u64);
        pos
    }

    /// The frame ended: reports its open message, whose size was set when
    /// the end block was seen.
    fn finish_frame(&mut self, sink: &mut Sink<'_>) {
        if let Some(b) = self.msg.take() {
            sink.out.push(b.rec);
        }
        self.in_batch = false;
    }

    /// Decides what to do with the segment starting with `head` (up to four
    /// bytes; `term` is the index of a terminator among them) at offset `at`.
    fn classify(
        &mut self,
        head: &[u8],
        term: Option<usize>,
        sink: &mut Sink<'_>,
        at: u64,
    ) -> State {
        let name = match (head, term) {
            ([a, b, c, ..], None | Some(3)) => [*a, *b, *c],
            _ => {
                self.ensure_message(sink, at);
                self.note(sink, Anomaly::MalformedSegment);
                return State::Skip;
            }
        };
        if &name == b"MSH" {
            let fs = head.get(3).copied();
            self.end_message(sink, at);
            self.start_message(sink, at);
            if fs.is_some_and(text::is_delimiter) {
                return State::Hold {
                    kind: Kind::Msh,
                    scanned: 0,
                };
            }
            // No usable field separator (MSH-1) to read the header by.
            self.note(sink, Anomaly::BadEncodingCharacters);
            return State::Skip;
        }
        let valid_name = name[0].is_ascii_uppercase()
            && name[1..]
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        let next = head.get(3).copied();
        let valid_next = next.is_some_and(|b| ends_segment(b) || text::is_delimiter(b));
        if !valid_name || !valid_next {
            self.ensure_message(sink, at);
            self.note(sink, Anomaly::MalformedSegment);
            return State::Skip;
        }
        let kind = match &name {
            b"MSA" => Kind::Msa,
            b"PRT" => Kind::Prt,
            b"OBX" => Kind::Obx,
            b"FHS" | b"BHS" | b"BTS" | b"FTS" => {
                self.end_message(sink, at);
                self.in_batch = true;
                return State::Skip;
            }
            _ => {
                self.ensure_message(sink, at);
                self.count_segment(sink, name);
                return State::Skip;
            }
        };
        self.ensure_message(sink, at);
        self.count_segment(sink, name);
        State::Hold { kind, scanned: 0 }
    }

    fn start_message(&mut self, sink: &mut Sink<'_>, at: u64) {
        self.msg = Some(Building {
            rec: Message::new(sink.direction, self.in_batch),
            start: at,
        });
        self.enc = Encoding::DEFAULT;
        self.count_segment(sink, *b"MSH");
    }

    /// Reads one whole MSH/MSA/PRT/OBX segment (without its terminator)
    /// that starts at stream offset `at`.
    fn segment(&mut self, kind: Kind, segment: &[u8], sink: &mut Sink<'_>) {
        if kind == Kind::Msh {
            self.msh(segment, sink);
            return;
        }
        let enc = self.enc;
        let field = |n| text::field(segment, enc.field, n);
        match kind {
            Kind::Msh => {}
            Kind::Msa => {
                let code = self.value(
                    text::component(text::first_repetition(field(1), &enc), &enc, 1),
                    sink,
                );
                let id = self.value(text::first_repetition(field(2), &enc), sink);
                if let Some(b) = self.msg.as_mut()
                    && b.rec.ack_code.is_none()
                    && b.rec.ack_control_id.is_none()
                {
                    b.rec.ack_code = code;
                    b.rec.ack_control_id = id;
                }
            }
            Kind::Prt => {
                self.device_ids(field(10), DeviceIdSource::Prt10, sink);
                self.device_ids(field(16), DeviceIdSource::Prt16, sink);
            }
            Kind::Obx => self.device_ids(field(18), DeviceIdSource::Obx18, sink),
        }
    }

    fn msh(&mut self, segment: &[u8], sink: &mut Sink<'_>) {
        let Some(&fs) = segment.get(3) else { return };
        if !text::is_delimiter(fs) {
            self.note(sink, Anomaly::BadEncodingCharacters);
            return;
        }
        let msh = |n: usize| text::field(segment, fs, n - 1);
        self.enc = match text::parse_encoding(fs, msh(2)) {
            Some(enc) => enc,
            None => {
                self.note(sink, Anomaly::BadEncodingCharacters);
                Encoding::default_with_field(fs)
            }
        };
        let enc = self.enc;
        let hd = |n: usize| text::first_repetition(msh(n), &enc);
        let sending_application = self.value(hd(3), sink);
        let sending_facility = self.value(hd(4), sink);
        let receiving_application = self.value(hd(5), sink);
        let receiving_facility = self.value(hd(6), sink);
        let msg_type = hd(9);
        let message_type = self.value(text::component(msg_type, &enc, 1), sink);
        let trigger_event = self.value(text::component(msg_type, &enc, 2), sink);
        let message_structure = self.value(text::component(msg_type, &enc, 3), sink);
        let control_id = self.value(hd(10), sink);
        let processing_id = self.value(text::component(hd(11), &enc, 1), sink);
        let version = self.value(text::component(hd(12), &enc, 1), sink);
        if let Some(b) = self.msg.as_mut() {
            let r = &mut b.rec;
            r.sending_application = sending_application;
            r.sending_facility = sending_facility;
            r.receiving_application = receiving_application;
            r.receiving_facility = receiving_facility;
            r.message_type = message_type;
            r.trigger_event = trigger_event;
            r.message_structure = message_structure;
            r.control_id = control_id;
            r.processing_id = processing_id;
            r.version = version;
        }
    }

    fn device_ids(&mut self, field: &[u8], source: DeviceIdSource, sink: &mut Sink<'_>) {
        let enc = self.enc;
        for rep in text::repetitions(field, &enc) {
            let Some(id) = self.value(rep, sink) else {
                continue;
            };
            let Some(b) = self.msg.as_mut() else { return };
            let ids = &mut b.rec.device_identifiers;
            if ids.iter().any(|d| d.id == id && d.source == source) {
                continue;
            }
            if ids.len() >= MAX_DEVICE_IDS {
                self.note(sink, Anomaly::TooManyDeviceIds);
                return;
            }
            ids.push(DeviceIdentifier { id, source });
        }
    }

    /// The kept text of one value, noting a cut.
    fn value(&mut self, raw: &[u8], sink: &mut Sink<'_>) -> Option<String> {
        if raw.is_empty() {
            return None;
        }
        let (value, cut) = text::text(raw, &self.enc);
        if cut {
            self.note(sink, Anomaly::ValueTruncated);
        }
        value
    }

    /// Bytes of this direction were lost: the open message ends incomplete
    /// (returned), and the parser waits for the next start block.
    fn gap(&mut self, sink: &mut Sink<'_>) {
        self.note(sink, Anomaly::Gap);
        if let Some(b) = self.msg.as_mut()
            && self.state != State::AfterEnd
        {
            b.rec.incomplete = true;
        }
        let at = self.base;
        if self.state == State::AfterEnd {
            self.finish_frame(sink);
        } else {
            self.end_message(sink, at);
        }
        self.state = State::Hunting;
        self.in_batch = false;
        self.resyncing = true;
    }

    /// The connection ended.
    fn finish(&mut self, sink: &mut Sink<'_>) {
        if self.state == State::AfterEnd {
            self.finish_frame(sink);
        } else if self.msg.is_some() {
            self.note(sink, Anomaly::IncompleteMessage);
            if let Some(b) = self.msg.as_mut() {
                b.rec.incomplete = true;
            }
            let at = self.base;
            self.end_message(sink, at);
        }
        self.state = State::Hunting;
    }
}

impl Hl7Parser {
    fn half(&mut self, direction: Direction) -> (&mut Half, Sink<'_>) {
        (
            direction.pick_mut(&mut self.halves),
            Sink {
                direction,
                counts: &mut self.counts,
                out: &mut self.deferred,
            },
        )
    }
}

impl Hl7Parser {
    /// Observes the messages reported from index `from` on whose learning
    /// signature is new on this connection: an interface repeats the same
    /// header in every message, and one observation teaches all of it.
    /// Negative acknowledgments are all observed (they are counted).
    fn observe(&mut self, from: usize, out: &mut OutputOf<Self>) {
        if out.want_records {
            for message in out.records.get(from..).unwrap_or_default() {
                if self.is_news(message) {
                    out.observations.push(message.clone());
                }
            }
        } else if out.records.len() > from {
            // No records wanted: what is observed moves, the rest is dropped.
            let Output {
                records,
                observations,
                ..
            } = out;
            for message in records.drain(from..) {
                if self.is_news(&message) {
                    observations.push(message);
                }
            }
        }
    }

    /// Counts a message, and says whether it is to be observed: its
    /// learning signature is new on this connection (or it has none).
    fn is_news(&mut self, message: &Message) -> bool {
        // Acknowledgments answer the other side's messages: only what an
        // end originates counts toward its rate.
        if !message.is_ack()
            && let Some(n) = self.messages.get_mut(message.direction.index())
        {
            *n += 1;
        }
        let hasher = foldhash::fast::FixedState::with_seed(0);
        let Some(signature) = message.learning_signature(&hasher) else {
            return true;
        };
        if self.observed.contains(&signature) {
            return false;
        }
        if self.observed.len() < MAX_OBSERVED_SIGNATURES {
            self.observed.push(signature);
        }
        true
    }
}

impl StreamParser for Hl7Parser {
    type Record = Message;
    type Observation = Message;
    const NAME: &'static str = "hl7";
    const MAX_PENDING: usize = MAX_SEGMENT_LEN;
    const ANOMALIES: &'static [&'static str] = &Anomaly::NAMES;

    /// A client's first bytes: the start block and `MSH`, `FHS` or `BHS`.
    fn probe(_direction: Direction, bytes: &[u8]) -> Probe {
        const STARTS: [&[u8; 4]; 3] = [b"\x0bMSH", b"\x0bFHS", b"\x0bBHS"];
        let n = bytes.len().min(4);
        let head = bytes.get(..n).unwrap_or_default();
        if !STARTS.iter().any(|s| s.starts_with(head)) {
            Probe::NoMatch
        } else if n < 4 {
            Probe::NeedMore
        } else {
            Probe::Match
        }
    }

    fn feed(
        &mut self,
        direction: Direction,
        _ts: i64,
        input: &[u8],
        out: &mut OutputOf<Self>,
    ) -> usize {
        let from = out.records.len();
        out.records.append(&mut self.deferred);
        let (half, mut sink) = self.half(direction);
        sink.out = &mut out.records;
        let consumed = half.feed(input, &mut sink);
        self.observe(from, out);
        consumed
    }

    fn gap(&mut self, direction: Direction, len: u64) -> bool {
        let (half, mut sink) = self.half(direction);
        half.base = half.base.saturating_add(len);
        half.gap(&mut sink);
        true
    }

    fn finish(&mut self, _ts: i64, out: &mut OutputOf<Self>) {
        let from = out.records.len();
        out.records.append(&mut self.deferred);
        for direction in [Direction::ToServer, Direction::ToClient] {
            let (half, mut sink) = self.half(direction);
            sink.out = &mut out.records;
            half.finish(&mut sink);
        }
        self.observe(from, out);
    }

    fn interim(&self) -> Option<Message> {
        None
    }

    fn idle_timeout(&self) -> Option<i64> {
        Some(IDLE_TIMEOUT_SECS * 1_000_000)
    }

    fn messages(&self) -> [u64; 2] {
        self.messages
    }

    fn anomaly_counts(&self) -> &[u64] {
        &self.counts
    }
}
