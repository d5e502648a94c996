//! DIMSE (PS3.7) as far as the monitor needs it: the command set of each
//! message (always implicit VR little endian, PS3.7 §6.3.1), and a streaming
//! walk over the first C-STORE data set that copies six equipment attributes
//! and nothing else.
//!
//! The data set walker sees the data set as a stream of fragments (PDV
//! values) of any size; it keeps one element header (at most 12 bytes) and
//! one wanted value (at most [`MAX_VALUE_LEN`] bytes) between fragments and
//! skips every other value by its length, so pixel data costs nothing. It
//! stops at the first element past Software Versions (0018,1020) — the data
//! set is sorted by tag at each level (PS3.5 §7.1) — or at anything it does
//! not expect. Patient attributes (group 0010) come before the wanted tags
//! in the group 0018 and are skipped by length, never read.

use super::text::text;
use super::{MAX_SEQUENCE_DEPTH, MAX_UID_LEN, MAX_VALUE_LEN};
use crate::proto::reader::Reader;

/// Command set elements (PS3.7 §E.1).
mod tag {
    pub const AFFECTED_SOP_CLASS_UID: u16 = 0x0002;
    pub const REQUESTED_SOP_CLASS_UID: u16 = 0x0003;
    pub const COMMAND_FIELD: u16 = 0x0100;
    pub const MOVE_DESTINATION: u16 = 0x0600;
    pub const COMMAND_DATA_SET_TYPE: u16 = 0x0800;
    pub const STATUS: u16 = 0x0900;
}

/// CommandDataSetType value meaning "no data set follows" (PS3.7 §E.1).
pub(crate) const NO_DATA_SET: u16 = 0x0101;

/// CommandField of C-STORE-RQ.
pub(crate) const C_STORE_RQ: u16 = 0x0001;

/// What a command set says, as far as it is kept.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Command {
    pub field: u16,
    pub sop_class_uid: Option<String>,
    pub move_destination: Option<String>,
    pub data_set_type: Option<u16>,
    pub status: Option<u16>,
}

/// Parses a whole command set; `None` if it is malformed or has no
/// CommandField.
pub(crate) fn parse_command(bytes: &[u8]) -> Option<Command> {
    let mut r = Reader::new(bytes);
    let mut field = None;
    let mut cmd = Command::default();
    while !r.is_empty() {
        // Implicit VR LE element: group (2), element (2), length (4), value.
        let group = r.u16_le()?;
        let element = r.u16_le()?;
        let len = usize::try_from(r.u32_le()?).ok()?;
        let mut value = r.sub(len)?;
        if group != 0 {
            return None;
        }
        match element {
            tag::AFFECTED_SOP_CLASS_UID | tag::REQUESTED_SOP_CLASS_UID => {
                cmd.sop_class_uid = Some(text(value.rest(), MAX_UID_LEN));
            }
            tag::COMMAND_FIELD => field = Some(value.u16_le()?),
            tag::MOVE_DESTINATION => cmd.move_destination = Some(text(value.rest(), 16)),
            tag::COMMAND_DATA_SET_TYPE => cmd.data_set_type = Some(value.u16_le()?),
            tag::STATUS => cmd.status = Some(value.u16_le()?),
            _ => {}
        }
    }
    cmd.field = field?;
    Some(cmd)
}

/// PS3.7 §9.3 and §10.3: the name of a CommandField value.
pub(crate) fn command_name(field: u16) -> &'static str {
    match field {
        0x0001 => "C-STORE-RQ",
        0x8001 => "C-STORE-RSP",
        0x0010 => "C-GET-RQ",
        0x8010 => "C-GET-RSP",
        0x0020 => "C-FIND-RQ",
        0x8020 => "C-FIND-RSP",
        0x0021 => "C-MOVE-RQ",
        0x8021 => "C-MOVE-RSP",
        0x0030 => "C-ECHO-RQ",
        0x8030 => "C-ECHO-RSP",
        0x0100 => "N-EVENT-REPORT-RQ",
        0x8100 => "N-EVENT-REPORT-RSP",
        0x0110 => "N-GET-RQ",
        0x8110 => "N-GET-RSP",
        0x0120 => "N-SET-RQ",
        0x8120 => "N-SET-RSP",
        0x0130 => "N-ACTION-RQ",
        0x8130 => "N-ACTION-RSP",
        0x0140 => "N-CREATE-RQ",
        0x8140 => "N-CREATE-RSP",
        0x0150 => "N-DELETE-RQ",
        0x8150 => "N-DELETE-RSP",
        0x0FFF => "C-CANCEL-RQ",
        _ => "unknown",
    }
}

/// PS3.7 Annex C: the category of a status code.
pub(crate) fn status_category(status: u16) -> &'static str {
    match status {
        0x0000 => "success",
        0xFF00 | 0xFF01 => "pending",
        0xFE00 => "cancel",
        0x0001 | 0x0107 | 0x0116 | 0xB000..=0xBFFF => "warning",
        _ => "failure",
    }
}

/// The equipment attributes copied from a data set.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct DeviceFields {
    pub sop_instance_uid: Option<String>,
    pub modality: Option<String>,
    pub manufacturer: Option<String>,
    pub station_name: Option<String>,
    pub model: Option<String>,
    pub serial_number: Option<String>,
    pub software_versions: Option<String>,
}

/// The only data set elements ever copied, as (group << 16 | element).
mod wanted {
    /// Not equipment: which image it is, to tell a forwarder that sends
    /// what it received.
    pub const SOP_INSTANCE_UID: u32 = 0x0008_0018;
    pub const MODALITY: u32 = 0x0008_0060;
    pub const MANUFACTURER: u32 = 0x0008_0070;
    pub const STATION_NAME: u32 = 0x0008_1010;
    pub const MODEL: u32 = 0x0008_1090;
    pub const SERIAL_NUMBER: u32 = 0x0018_1000;
    /// The last wanted tag: the walk stops after it.
    pub const SOFTWARE_VERSIONS: u32 = 0x0018_1020;
}

const ITEM: u32 = 0xFFFE_E000;
const ITEM_DELIMITATION: u32 = 0xFFFE_E00D;
const SEQUENCE_DELIMITATION: u32 = 0xFFFE_E0DD;
const UNDEFINED_LENGTH: u32 = 0xFFFF_FFFF;

/// Why a data set walk ended early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WalkEnd {
    /// Past the last wanted tag: the normal end.
    Done,
    /// Something the walker does not follow (undefined-length UN): it
    /// stops, keeping what it found, without calling the data malformed.
    Unsupported,
    /// Out-of-order tags, a bad VR, a stray delimiter, nesting too deep.
    Malformed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Walk {
    /// Collecting an element header into `head`.
    Header,
    /// Inside a value: `left` bytes to go; `want` if it is copied.
    Value {
        tag: u32,
        left: u32,
        want: bool,
    },
    Ended(WalkEnd),
}

/// A streaming walk over one data set in implicit or explicit VR little
/// endian.
#[derive(Debug, Clone)]
pub(crate) struct DataSetWalker {
    explicit: bool,
    head: [u8; 12],
    head_len: usize,
    state: Walk,
    /// Undefined-length sequences and items we are inside.
    depth: usize,
    last_top_tag: u32,
    value: Vec<u8>,
    pub fields: DeviceFields,
}

impl DataSetWalker {
    pub(crate) fn new(explicit: bool) -> Self {
        DataSetWalker {
            explicit,
            head: [0; 12],
            head_len: 0,
            state: Walk::Header,
            depth: 0,
            last_top_tag: 0,
            value: Vec::new(),
            fields: DeviceFields::default(),
        }
    }

    /// How the walk ended, if it did.
    pub(crate) fn ended(&self) -> Option<WalkEnd> {
        match self.state {
            Walk::Ended(end) => Some(end),
            _ => None,
        }
    }

    /// Feeds the next bytes of the data set; always takes all of them.
    pub(crate) fn feed(&mut self, mut input: &[u8]) {
        while !input.is_empty() {
            match self.state {
                Walk::Ended(_) => return,
                Walk::Value { tag, left, want } => {
                    let n = input.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    let (chunk, rest) = input.split_at_checked(n).unwrap_or((input, &[]));
                    if want {
                        let room = MAX_VALUE_LEN.saturating_sub(self.value.len());
                        self.value
                            .extend_from_slice(chunk.get(..room).unwrap_or(chunk));
                    }
                    input = rest;
                    // n <= left, and n fits in u32 because left does.
                    let left = left.saturating_sub(u32::try_from(n).unwrap_or(u32::MAX));
                    if left == 0 {
                        self.value_done(tag, want);
                    } else {
                        self.state = Walk::Value { tag, left, want };
                    }
                }
                Walk::Header => {
                    let need = self.header_len();
                    let have = self.head_len;
                    let take = need.saturating_sub(have).min(input.len());
                    let (chunk, rest) = input.split_at_checked(take).unwrap_or((input, &[]));
                    if let Some(dst) = self.head.get_mut(have..have + take) {
                        dst.copy_from_slice(chunk);
                    }
                    self.head_len += take;
                    input = rest;
                    if self.head_len == self.header_len() {
                        self.head_len = 0;
                        self.element();
                    }
                }
            }
        }
    }

    fn tag(&self) -> u32 {
        let mut r = Reader::new(&self.head);
        let group = r.u16_le().unwrap_or(0);
        let element = r.u16_le().unwrap_or(0);
        u32::from(group) << 16 | u32::from(element)
    }

    fn vr(&self) -> [u8; 2] {
        [self.head[4], self.head[5]]
    }

    /// Bytes of the element header being collected: 8 until the tag (and in
    /// explicit VR the VR) says it needs 12.
    fn header_len(&self) -> usize {
        if self.head_len < 8 || !self.explicit || self.tag() >> 16 == 0xFFFE {
            return 8;
        }
        if long_vr(self.vr()) { 12 } else { 8 }
    }

    /// A complete element header is in `head`.
    fn element(&mut self) {
        let tag = self.tag();
        let mut r = Reader::new(&self.head);
        r.skip(4);
        if tag >> 16 == 0xFFFE {
            let len = r.u32_le().unwrap_or(0);
            return self.delimiter(tag, len);
        }
        let len = if self.explicit {
            let vr = self.vr();
            if !vr.iter().all(u8::is_ascii_uppercase) {
                return self.end(WalkEnd::Malformed);
            }
            r.skip(2);
            if long_vr(vr) {
                r.skip(2);
                r.u32_le().unwrap_or(0)
            } else {
                u32::from(r.u16_le().unwrap_or(0))
            }
        } else {
            r.u32_le().unwrap_or(0)
        };
        if self.depth == 0 {
            if tag < self.last_top_tag {
                return self.end(WalkEnd::Malformed);
            }
            if tag > wanted::SOFTWARE_VERSIONS {
                return self.end(WalkEnd::Done);
            }
            self.last_top_tag = tag;
        }
        if len == UNDEFINED_LENGTH {
            // An undefined-length sequence: implicit VR knows no VR, and only
            // SQ (or encapsulated pixel data, past our last tag) may have one.
            let sequence = !self.explicit || self.vr() == *b"SQ";
            if !sequence {
                let end = if self.vr() == *b"UN" {
                    WalkEnd::Unsupported
                } else {
                    WalkEnd::Malformed
                };
                return self.end(end);
            }
            return self.descend();
        }
        let want = self.depth == 0 && is_wanted(tag);
        self.value.clear();
        if len == 0 {
            self.value_done(tag, want);
        } else {
            self.state = Walk::Value {
                tag,
                left: len,
                want,
            };
        }
    }

    /// Item and delimitation elements (group FFFE, PS3.5 §7.5).
    fn delimiter(&mut self, tag: u32, len: u32) {
        match tag {
            ITEM if self.depth > 0 => {
                if len == UNDEFINED_LENGTH {
                    self.descend();
                } else if len > 0 {
                    self.state = Walk::Value {
                        tag,
                        left: len,
                        want: false,
                    };
                }
            }
            ITEM_DELIMITATION | SEQUENCE_DELIMITATION if self.depth > 0 && len == 0 => {
                self.depth -= 1;
            }
            _ => self.end(WalkEnd::Malformed),
        }
    }

    fn descend(&mut self) {
        if self.depth >= MAX_SEQUENCE_DEPTH {
            return self.end(WalkEnd::Malformed);
        }
        self.depth += 1;
        self.state = Walk::Header;
    }

    fn value_done(&mut self, tag: u32, want: bool) {
        self.state = Walk::Header;
        if !want {
            return;
        }
        let value = Some(text(&self.value, MAX_VALUE_LEN));
        self.value.clear();
        let f = &mut self.fields;
        match tag {
            wanted::SOP_INSTANCE_UID => f.sop_instance_uid = value,
            wanted::MODALITY => f.modality = value,
            wanted::MANUFACTURER => f.manufacturer = value,
            wanted::STATION_NAME => f.station_name = value,
            wanted::MODEL => f.model = value,
            wanted::SERIAL_NUMBER => f.serial_number = value,
            wanted::SOFTWARE_VERSIONS => {
                f.software_versions = value;
                self.end(WalkEnd::Done);
            }
            _ => {}
        }
    }

    fn end(&mut self, end: WalkEnd) {
        self.state = Walk::Ended(end);
    }
}

fn is_wanted(tag: u32) -> bool {
    matches!(
        tag,
        wanted::SOP_INSTANCE_UID
            | wanted::MODALITY
            | wanted::MANUFACTURER
            | wanted::STATION_NAME
            | wanted::MODEL
            | wanted::SERIAL_NUMBER
            | wanted::SOFTWARE_VERSIONS
    )
}

/// Explicit VRs with a 2-byte reserved field and a 4-byte length
/// (PS3.5 §7.1.2, Table 7.1-1).
fn long_vr(vr: [u8; 2]) -> bool {
    matches!(
        &vr,
        b"OB"
            | b"OD"
            | b"OF"
            | b"OL"
            | b"OV"
            | b"OW"
            | b"SQ"
            | b"SV"
            | b"UC"
            | b"UN"
            | b"UR"
            | b"UT"
            | b"UV"
    )
}
