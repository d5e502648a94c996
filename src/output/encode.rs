//! Turning the EVE bytes a sink is handed into what it sends: the event in
//! the sink's `format=`, within its largest message. Runs in the sink's own
//! thread, so a slow encoder holds up only that sink.
//!
//! Guarantees: an event for an EVE sink that fits is passed through byte for
//! byte, never parsed; any other event is parsed once and encoded through
//! [`format::encode_within`], which shortens it to fit or says it cannot.
//! Each event shortened or left out for its size is counted in a [`Tally`].

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;

use super::format::{self, Fit, Format, Level};

/// What happened to the events of one delivery because of their size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Events sent shortened to fit.
    pub shortened: u64,
    /// Events not sent: too large even shortened.
    pub oversized: u64,
}

impl Tally {
    /// Adds the outcome of one event.
    pub fn count(&mut self, fit: Fit) {
        match fit {
            Fit::Whole => {}
            Fit::Shortened => self.shortened += 1,
            Fit::TooBig => self.oversized += 1,
        }
    }
}

/// A sink's format and size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encoder {
    /// The format events are sent in.
    pub format: Format,
    /// The largest encoded event, in bytes.
    pub max_size: usize,
}

impl Encoder {
    /// `format` (EVE when `None`), at most `max_size` bytes an event.
    pub fn new(format: Option<Format>, max_size: usize) -> Encoder {
        Encoder {
            format: format.unwrap_or(Format::Eve),
            max_size,
        }
    }

    /// Whether every event goes out as handed, so nothing needs encoding
    /// as long as it fits.
    pub fn is_eve(&self) -> bool {
        self.format == Format::Eve
    }

    /// Appends `eve` (one event's EVE object, without a newline) in this
    /// format to `out`, in at most `budget` bytes (and at most
    /// `self.max_size`); what happened is counted in `tally`. Returns
    /// whether anything was written.
    pub fn encode(&self, eve: &[u8], budget: usize, out: &mut Vec<u8>, tally: &mut Tally) -> bool {
        let budget = budget.min(self.max_size);
        if self.is_eve() && eve.len() <= budget {
            out.extend_from_slice(eve);
            return true;
        }
        // Every event medtap emits is a JSON object; should one not parse,
        // it is left out like one that cannot fit.
        let fit = match serde_json::from_slice::<Value>(eve) {
            Ok(value) => format::encode_within(self.format, &value, budget, out),
            Err(_) => Fit::TooBig,
        };
        tally.count(fit);
        fit != Fit::TooBig
    }

    /// Each of `events` encoded within `self.max_size`, borrowed when passed
    /// through, with what happened; events left out are not in the list.
    pub fn encode_all<'a>(&self, events: &[&'a [u8]], tally: &mut Tally) -> Vec<Cow<'a, [u8]>> {
        let mut out = Vec::with_capacity(events.len());
        for &event in events {
            if self.is_eve() && event.len() <= self.max_size {
                out.push(Cow::Borrowed(event));
                continue;
            }
            let mut encoded = Vec::new();
            if self.encode(event, self.max_size, &mut encoded, tally) {
                out.push(Cow::Owned(encoded));
            }
        }
        out
    }
}

/// The few fields of an event a sink's envelope needs (the syslog header,
/// the HEC envelope), read without building the whole object: strings are
/// borrowed where they have no escapes, everything else is skipped.
#[derive(Debug, Default, Deserialize)]
pub struct Head<'a> {
    /// `timestamp`.
    #[serde(borrow, default)]
    pub timestamp: Option<Cow<'a, str>>,
    /// `event_type`.
    #[serde(borrow, default)]
    pub event_type: Option<Cow<'a, str>>,
    /// `alert.severity`, for alerts.
    #[serde(borrow, default)]
    pub alert: Option<AlertHead<'a>>,
    /// `warning.kind`, for warnings.
    #[serde(borrow, default)]
    pub warning: Option<WarningHead<'a>>,
}

/// The part of `alert` a header needs.
#[derive(Debug, Default, Deserialize)]
pub struct AlertHead<'a> {
    /// Suricata's number (1 high to 4 info) or, from older writers, a word.
    #[serde(borrow, default)]
    pub severity: Option<Severity<'a>>,
    /// The severity as a word (`high`), beside the number.
    #[serde(borrow, default)]
    pub severity_name: Option<Cow<'a, str>>,
}

/// An alert's severity as written.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Severity<'a> {
    /// A number.
    Number(u64),
    /// A word.
    #[serde(borrow)]
    Word(Cow<'a, str>),
    /// Anything else.
    Other(IgnoredAny),
}

/// The part of `warning` a header needs.
#[derive(Debug, Default, Deserialize)]
pub struct WarningHead<'a> {
    /// `warning.kind`.
    #[serde(borrow, default)]
    pub kind: Option<Cow<'a, str>>,
}

impl<'a> Head<'a> {
    /// How serious the event is.
    pub fn level(&self) -> Level {
        let event_type = self.event_type.as_deref();
        let warning_kind = self.warning.as_ref().and_then(|w| w.kind.as_deref());
        Level::of_non_alert(event_type, warning_kind).unwrap_or_else(|| {
            let alert = self.alert.as_ref();
            if let Some(level) = alert
                .and_then(|a| a.severity_name.as_deref())
                .and_then(Level::of_word)
            {
                return level;
            }
            match alert.and_then(|a| a.severity.as_ref()) {
                Some(Severity::Word(s)) => Level::of_word(s).unwrap_or(Level::Medium),
                Some(Severity::Number(n)) => Level::of_number(*n),
                _ => Level::Medium,
            }
        })
    }

    /// The head of `eve`; an empty head if it is not a JSON object.
    pub fn of(eve: &'a [u8]) -> Head<'a> {
        serde_json::from_slice(eve).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_eve_event_that_fits_passes_through_unparsed() {
        let enc = Encoder::new(None, 64);
        let mut tally = Tally::default();
        // Not JSON at all: only a parse would notice.
        let events: [&[u8]; 1] = [b"not json, passed as is"];
        let out = enc.encode_all(&events, &mut tally);
        assert!(matches!(out.first(), Some(Cow::Borrowed(_))));
        assert_eq!(tally, Tally::default());
    }

    #[test]
    fn an_event_over_the_limit_is_counted() {
        let enc = Encoder::new(Some(Format::Eve), 10);
        let mut tally = Tally::default();
        let events: [&[u8]; 2] = [
            br#"{"a":1}"#,
            br#"{"event_type":"device","x":"0123456789"}"#,
        ];
        let out = enc.encode_all(&events, &mut tally);
        assert_eq!(out.first().map(|e| e.as_ref()), Some(&br#"{"a":1}"#[..]));
        assert_eq!(tally.shortened + tally.oversized, 1);
        assert_eq!(out.len() as u64, 2 - tally.oversized);
    }

    #[test]
    fn the_head_is_read_without_the_rest() {
        let eve = br#"{"timestamp":"2026-11-23T10:00:01Z","event_type":"alert","alert":{"severity":1,"x":[1,2]},"big":{"a":[{"b":"c"}]}}"#;
        let head = Head::of(eve);
        assert_eq!(head.timestamp.as_deref(), Some("2026-11-23T10:00:01Z"));
        assert_eq!(head.event_type.as_deref(), Some("alert"));
        assert!(matches!(
            head.alert.and_then(|a| a.severity),
            Some(Severity::Number(1))
        ));
        assert!(Head::of(b"[1]").event_type.is_none());
    }
}
