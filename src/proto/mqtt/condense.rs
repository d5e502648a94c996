//! CONNECT, SUBSCRIBE and UNSUBSCRIBE packets longer than
//! [`MAX_PACKET_LEN`](super::MAX_PACKET_LEN), read as they stream by.
//!
//! A legal packet may be long for reasons medtap does not care about — a
//! 9 KiB password or JWT, a large will payload, kilobytes of MQTT 5 user
//! properties, a padded filter list — and an attacker may make it long to
//! hide the fields it does care about (the client id, a `#` filter). Such a
//! packet is not buffered whole: a [`Condenser`] walks its fields as the
//! bytes arrive, copies the ones the parser keeps, cut to their limits, and
//! skips the rest by length (passwords, will payloads and properties become
//! empty). The condensed packet, at most [`MAX_CONDENSED_LEN`] bytes, is then
//! parsed like any other: the parser sees the client id and every filter it
//! would have seen in a short packet.

use super::{MAX_FILTERS, MAX_STRING_LEN, MAX_TOPIC_LEN, wire};

/// The largest condensed packet body: a CONNECT's kept strings, or
/// [`MAX_FILTERS`] + 1 filters cut to [`MAX_TOPIC_LEN`] + 1 bytes with their
/// options.
pub const MAX_CONDENSED_LEN: usize = (MAX_FILTERS + 1) * (2 + MAX_TOPIC_LEN + 1 + 1) + 16;

/// What the walk reads next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    /// `n` (at most 4) bytes, copied.
    Fixed(usize),
    /// A Variable Byte Integer (a property length): its properties are
    /// skipped and an empty property list is written.
    Properties,
    /// A two-byte length, then a string or binary field of which the first
    /// `keep` bytes are copied (with the length cut to match).
    Field { keep: usize },
    /// The field's bytes: `left` still to read, `keep` still to copy.
    FieldBody { left: u64, keep: usize },
    /// Bytes skipped unread.
    Skip(u64),
}

/// Where the walk is in the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    ProtocolName,
    Level,
    ConnectFlags,
    KeepAlive,
    ConnectProperties,
    ClientId,
    WillProperties,
    WillTopic,
    WillPayload,
    Username,
    Password,
    PacketId,
    Properties,
    Filter,
    Options,
    Rest,
}

/// One long packet being condensed; see the module docs.
#[derive(Debug)]
pub struct Condenser {
    header: wire::FixedHeader,
    /// Body bytes not yet read.
    left: u64,
    out: Vec<u8>,
    stage: Stage,
    want: Want,
    /// The bytes of a fixed field or length read so far.
    scratch: [u8; 4],
    have: usize,
    /// MQTT 5 (properties follow the variable header).
    v5: bool,
    connect_flags: u8,
    /// Filters begun.
    filters: usize,
    /// The current filter (and its options) is past the limit: skipped.
    dropping: bool,
    /// Filters past [`MAX_FILTERS`] + 1, skipped unread.
    extra_filters: u64,
}

/// What feeding a [`Condenser`] gave.
#[derive(Debug)]
pub enum Condensed {
    /// The packet goes on: this many bytes were consumed.
    More(usize),
    /// The packet ended after this many bytes: here is its fixed header
    /// (with the condensed length) and condensed body, and how many filters
    /// were skipped unread past the limit.
    Done {
        consumed: usize,
        header: wire::FixedHeader,
        body: Vec<u8>,
        extra_filters: u64,
    },
}

impl Condenser {
    /// A condenser for the packet with fixed header `header`; `v5` when the
    /// connection speaks MQTT 5 (for a CONNECT, its level decides).
    pub fn new(header: wire::FixedHeader, v5: bool) -> Condenser {
        let stage = match header.packet_type {
            wire::CONNECT => Stage::ProtocolName,
            wire::SUBSCRIBE | wire::UNSUBSCRIBE => Stage::PacketId,
            _ => Stage::Rest,
        };
        let mut condenser = Condenser {
            header,
            left: u64::from(header.remaining),
            out: Vec::new(),
            stage,
            want: Want::Skip(0),
            scratch: [0; 4],
            have: 0,
            v5,
            connect_flags: 0,
            filters: 0,
            dropping: false,
            extra_filters: 0,
        };
        condenser.want = condenser.want_for(stage);
        condenser
    }

    fn want_for(&self, stage: Stage) -> Want {
        match stage {
            Stage::ProtocolName => Want::Field { keep: 16 },
            Stage::Level | Stage::ConnectFlags | Stage::Options => Want::Fixed(1),
            Stage::KeepAlive | Stage::PacketId => Want::Fixed(2),
            Stage::ConnectProperties | Stage::WillProperties | Stage::Properties => {
                Want::Properties
            }
            Stage::ClientId | Stage::WillTopic | Stage::Username => Want::Field {
                keep: MAX_STRING_LEN + 1,
            },
            Stage::WillPayload | Stage::Password => Want::Field { keep: 0 },
            Stage::Filter if self.dropping => Want::Field { keep: 0 },
            Stage::Filter => Want::Field {
                keep: MAX_TOPIC_LEN + 1,
            },
            // Whatever follows the last field the walk knows, to the end.
            Stage::Rest => Want::Skip(u64::MAX),
        }
    }

    /// The stage after `stage` completed.
    fn next(&self, stage: Stage) -> Stage {
        let flag = |bit: u8| self.connect_flags & bit != 0;
        let v5 = |then: Stage, otherwise: Stage| if self.v5 { then } else { otherwise };
        let after_will = || {
            if flag(0x80) {
                Stage::Username
            } else if flag(0x40) {
                Stage::Password
            } else {
                Stage::Rest
            }
        };
        match stage {
            Stage::ProtocolName => Stage::Level,
            Stage::Level => Stage::ConnectFlags,
            Stage::ConnectFlags => Stage::KeepAlive,
            Stage::KeepAlive => v5(Stage::ConnectProperties, Stage::ClientId),
            Stage::ConnectProperties => Stage::ClientId,
            Stage::ClientId if flag(0x04) => v5(Stage::WillProperties, Stage::WillTopic),
            Stage::ClientId | Stage::WillPayload => after_will(),
            Stage::WillProperties => Stage::WillTopic,
            Stage::WillTopic => Stage::WillPayload,
            Stage::Username if flag(0x40) => Stage::Password,
            Stage::Username | Stage::Password | Stage::Rest => Stage::Rest,
            Stage::PacketId => v5(Stage::Properties, Stage::Filter),
            Stage::Properties => Stage::Filter,
            Stage::Filter if self.header.packet_type == wire::SUBSCRIBE => Stage::Options,
            Stage::Filter | Stage::Options => Stage::Filter,
        }
    }

    /// A field of the current stage is complete: remember what the walk
    /// needs of it, and move on.
    fn complete(&mut self) {
        match self.stage {
            Stage::Level if self.header.packet_type == wire::CONNECT => {
                self.v5 = self.scratch.first() == Some(&5);
            }
            Stage::ConnectFlags => self.connect_flags = self.scratch.first().copied().unwrap_or(0),
            Stage::Filter if self.dropping => self.extra_filters += 1,
            _ => {}
        }
        self.stage = self.next(self.stage);
        if self.stage == Stage::Filter {
            // The parser is shown one filter past its limit, so it counts
            // `too_many_filters`; the rest are counted here.
            self.filters += 1;
            self.dropping = self.filters > MAX_FILTERS + 1;
        }
        self.want = self.want_for(self.stage);
        self.have = 0;
    }

    fn copy(&mut self, bytes: &[u8]) {
        let dropped = self.dropping && matches!(self.stage, Stage::Filter | Stage::Options);
        if !dropped {
            self.out.extend_from_slice(bytes);
        }
    }

    /// Feeds the next bytes of the packet's body.
    pub fn feed(&mut self, input: &[u8]) -> Condensed {
        let mut pos = 0;
        while self.left > 0 {
            let rest = input.get(pos..).unwrap_or_default();
            if rest.is_empty() {
                return Condensed::More(pos);
            }
            let budget = usize::try_from(self.left).unwrap_or(usize::MAX);
            let rest = rest.get(..budget.min(rest.len())).unwrap_or(rest);
            let used = self.step(rest);
            pos += used;
            self.left -= used as u64;
            if used == 0 {
                break;
            }
        }
        // A field cut by the end of the packet leaves the condensed packet
        // short too, and the parser counts it as malformed, as it would the
        // packet itself.
        let body = std::mem::take(&mut self.out);
        let header = wire::FixedHeader {
            remaining: u32::try_from(body.len()).unwrap_or(u32::MAX),
            ..self.header
        };
        Condensed::Done {
            consumed: pos,
            header,
            body,
            extra_filters: self.extra_filters,
        }
    }

    /// Reads what the current field wants from `rest` (not past the
    /// packet); returns how many bytes it used.
    fn step(&mut self, rest: &[u8]) -> usize {
        match self.want {
            Want::Fixed(n) => {
                let take = (n - self.have).min(rest.len());
                let bytes = rest.get(..take).unwrap_or_default();
                if let Some(room) = self.scratch.get_mut(self.have..self.have + take) {
                    room.copy_from_slice(bytes);
                }
                self.have += take;
                if self.have == n {
                    let field = self.scratch;
                    self.copy(field.get(..n).unwrap_or_default());
                    self.complete();
                }
                take
            }
            Want::Properties => {
                let Some(&byte) = rest.first() else { return 0 };
                if let Some(slot) = self.scratch.get_mut(self.have) {
                    *slot = byte;
                }
                self.have += 1;
                if byte & 0x80 != 0 && self.have < wire::MAX_VARINT_LEN {
                    return 1;
                }
                let mut len = 0u64;
                for (i, b) in self.scratch.iter().take(self.have).enumerate() {
                    len |= u64::from(b & 0x7f) << (7 * i);
                }
                // An empty property list stands for what is skipped.
                self.copy(&[0]);
                self.have = 0;
                self.want = Want::Skip(len);
                if len == 0 {
                    self.complete();
                }
                1
            }
            Want::Field { keep } => {
                let take = (2 - self.have).min(rest.len());
                let bytes = rest.get(..take).unwrap_or_default();
                if let Some(room) = self.scratch.get_mut(self.have..self.have + take) {
                    room.copy_from_slice(bytes);
                }
                self.have += take;
                if self.have == 2 {
                    let len = u16::from_be_bytes([self.scratch[0], self.scratch[1]]);
                    let kept = usize::from(len).min(keep);
                    self.copy(&(kept as u16).to_be_bytes());
                    self.want = Want::FieldBody {
                        left: u64::from(len),
                        keep: kept,
                    };
                    if len == 0 {
                        self.complete();
                    }
                }
                take
            }
            Want::FieldBody { left, keep } => {
                let take = usize::try_from(left).unwrap_or(usize::MAX).min(rest.len());
                let kept = keep.min(take);
                self.copy(rest.get(..kept).unwrap_or_default());
                let left = left - take as u64;
                self.want = Want::FieldBody {
                    left,
                    keep: keep - kept,
                };
                if left == 0 {
                    self.complete();
                }
                take
            }
            Want::Skip(n) => {
                let take = usize::try_from(n).unwrap_or(usize::MAX).min(rest.len());
                let left = n - take as u64;
                self.want = Want::Skip(left);
                if left == 0 {
                    self.complete();
                }
                take
            }
        }
    }
}
