//! Event formats: the shapes a sink can write an event in (`?format=` on
//! its `-o` target).
//!
//! Every event is first written as EVE JSON ([`crate::event::Event`]); the
//! other formats are built from that EVE object, so each one maps the same
//! fields and a new field reaches every format through one place.

use serde_json::Value;

/// The shape an event is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    /// medtap's own EVE JSON, field-compatible with Suricata's EVE log.
    Eve,
    /// Elastic Common Schema JSON.
    Ecs,
    /// Open Cybersecurity Schema Framework JSON.
    Ocsf,
    /// ArcSight Common Event Format line.
    Cef,
    /// IBM QRadar Log Event Extended Format 2.0 line.
    Leef,
}

impl Format {
    /// Every format, in the order the docs list them.
    pub const ALL: [Format; 5] = [
        Format::Eve,
        Format::Ecs,
        Format::Ocsf,
        Format::Cef,
        Format::Leef,
    ];

    /// Its name in `?format=`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Eve => "eve",
            Format::Ecs => "ecs",
            Format::Ocsf => "ocsf",
            Format::Cef => "cef",
            Format::Leef => "leef",
        }
    }

    /// The format `?format=NAME` names; `json` is the EVE format's older name.
    pub fn parse(name: &str) -> Option<Format> {
        match name.to_ascii_lowercase().as_str() {
            "json" => Some(Format::Eve),
            other => Format::ALL.into_iter().find(|f| f.name() == other),
        }
    }

    /// Whether an event in this format is a JSON object.
    pub fn is_json(self) -> bool {
        matches!(self, Format::Eve | Format::Ecs | Format::Ocsf)
    }
}

/// How an event fitted a sink's largest message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// Written whole.
    Whole,
    /// Written shortened, marked as such.
    Shortened,
    /// Not written: even shortened it does not fit.
    TooBig,
}

/// Appends `eve` (one event's EVE object) in `format` to `out`, without a
/// newline, in at most `max` bytes: an event that is longer is shortened
/// (its longest parts cut, the result still one valid object or line, and
/// marked `truncated`), never split.
pub fn encode_within(format: Format, eve: &Value, max: usize, out: &mut Vec<u8>) -> Fit {
    let start = out.len();
    match format {
        Format::Cef => out.extend_from_slice(super::syslog::cef_line(eve).as_bytes()),
        // The other formats are built in their own modules.
        _ => {
            let _ = serde_json::to_writer(&mut *out, eve);
        }
    }
    if out.len() - start <= max {
        Fit::Whole
    } else {
        out.truncate(start);
        Fit::TooBig
    }
}
