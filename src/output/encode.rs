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

use std::io::Write as _;

use super::format::{self, Fit, Format, Level};
use crate::event::{Body, Event};
use crate::time::Timestamp;

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
/// the HEC envelope), read back from its EVE object for an event that comes
/// without its [`EventHead`] (from the spool, or handed to a sink directly):
/// strings are borrowed where they have no escapes, everything else is
/// skipped.
#[derive(Debug, Default, Deserialize)]
pub struct ReadHead<'a> {
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

impl<'a> ReadHead<'a> {
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
    pub fn of(eve: &'a [u8]) -> ReadHead<'a> {
        serde_json::from_slice(eve).unwrap_or_default()
    }
}

/// What a sink's envelope (the syslog header, the HEC wrapper) needs of an
/// event, taken from the event itself when the merge stage writes it, once
/// for every sink: no sink reads it back from the JSON, and the time stays
/// a number until a sink writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventHead {
    /// `timestamp`.
    pub timestamp: Timestamp,
    /// `event_type`.
    pub event_type: &'static str,
    /// How serious the event is.
    pub level: Level,
}

impl EventHead {
    /// The head of `event`, as its EVE object would be read.
    pub fn of(event: &Event) -> EventHead {
        let event_type = event.body.event_type();
        let level = match &event.body {
            Body::Alert(alert) => {
                Level::of_word(alert.alert.severity_name).unwrap_or(Level::Medium)
            }
            Body::Warning(warning) => {
                Level::of_non_alert(Some(event_type), Some(warning.kind.name()))
                    .unwrap_or(Level::Warning)
            }
            _ => Level::of_non_alert(Some(event_type), None).unwrap_or(Level::Info),
        };
        EventHead {
            timestamp: event.timestamp,
            event_type,
            level,
        }
    }
}

/// Events as the merge stage hands them to every sink: JSON lines, each
/// ending in a newline, with the head of each (none for lines handed over
/// without, which a sink then reads back when it needs them).
#[derive(Debug, Default)]
pub struct Chunk {
    /// The events' EVE lines.
    pub lines: Vec<u8>,
    /// One per line, in order; empty when not known.
    pub heads: Vec<EventHead>,
}

impl Chunk {
    /// Lines without their heads.
    pub fn lines_only(lines: &[u8]) -> Chunk {
        Chunk {
            lines: lines.to_vec(),
            heads: Vec::new(),
        }
    }

    /// Each event, without its newline, with its head when known (and
    /// every event without one should the heads not match the lines).
    pub fn events(&self) -> Vec<Outgoing<'_>> {
        let mut events: Vec<Outgoing<'_>> = self
            .lines
            .split(|b| *b == b'\n')
            .filter(|line| !line.is_empty())
            .map(Outgoing::bare)
            .collect();
        if self.heads.len() == events.len() {
            for (event, head) in events.iter_mut().zip(&self.heads) {
                event.head = Some(head);
            }
        }
        events
    }
}

/// One event handed to a sink: its EVE object, without a newline, and its
/// head when the merge stage gave it.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    /// The EVE object.
    pub eve: &'a [u8],
    /// Its head, when known.
    pub head: Option<&'a EventHead>,
}

impl<'a> Outgoing<'a> {
    /// An event without its head.
    pub fn bare(eve: &'a [u8]) -> Outgoing<'a> {
        Outgoing { eve, head: None }
    }

    /// Its head: the one given, else read from the EVE object.
    pub fn head(&self) -> Head<'a> {
        match self.head {
            Some(head) => Head::Given(*head),
            None => Head::Read(ReadHead::of(self.eve)),
        }
    }
}

/// An event's head, given or read back.
#[derive(Debug)]
pub enum Head<'a> {
    /// Built with the event.
    Given(EventHead),
    /// Read from its EVE object.
    Read(ReadHead<'a>),
}

impl Head<'_> {
    /// How serious the event is.
    pub fn level(&self) -> Level {
        match self {
            Head::Given(head) => head.level,
            Head::Read(head) => head.level(),
        }
    }

    /// `event_type`, if any.
    pub fn event_type(&self) -> Option<&str> {
        match self {
            Head::Given(head) => Some(head.event_type),
            Head::Read(head) => head.event_type.as_deref(),
        }
    }

    /// Writes the event's time as RFC 3339 to `out` when it is one RFC 5424
    /// takes (no leap second, at most six fractional digits), else `-`.
    pub fn write_syslog_timestamp(&self, out: &mut Vec<u8>) {
        match self {
            // Every time in the years 0 to 9999 is written so.
            Head::Given(head) if head.timestamp.in_rfc3339_years() => {
                let _ = write!(out, "{}", head.timestamp);
            }
            Head::Given(head) => write_checked(out, &head.timestamp.to_string()),
            Head::Read(head) => write_checked(out, head.timestamp.as_deref().unwrap_or("-")),
        }
    }

    /// Seconds since the Unix epoch with the time's fraction digits kept
    /// (`1714557600.123456`), for an HTTP Event Collector; `None` when the
    /// time is not an RFC 3339 UTC time as medtap writes.
    pub fn epoch_seconds(&self) -> Option<String> {
        match self {
            Head::Given(head) if head.timestamp.in_rfc3339_years() => {
                let micros = head.timestamp.0;
                Some(format!(
                    "{}.{:06}",
                    micros.div_euclid(1_000_000),
                    micros.rem_euclid(1_000_000)
                ))
            }
            Head::Given(head) => format::epoch_seconds(&head.timestamp.to_string()),
            Head::Read(head) => head.timestamp.as_deref().and_then(format::epoch_seconds),
        }
    }
}

/// `timestamp` if RFC 5424 takes it, else `-`.
fn write_checked(out: &mut Vec<u8>, timestamp: &str) {
    let taken = format::epoch_ms(timestamp).is_some();
    out.extend_from_slice(if taken { timestamp } else { "-" }.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Warning, WarningKind};

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

    /// The same event's head, given and read back from its EVE object.
    fn both(timestamp: Timestamp, event_type: &'static str, level: Level, eve: &[u8]) {
        let given = Head::Given(EventHead {
            timestamp,
            event_type,
            level,
        });
        let read = Outgoing::bare(eve).head();
        assert_eq!(given.level(), read.level(), "{eve:?}");
        assert_eq!(given.event_type(), read.event_type());
        assert_eq!(given.epoch_seconds(), read.epoch_seconds());
        let (mut a, mut b) = (Vec::new(), Vec::new());
        given.write_syslog_timestamp(&mut a);
        read.write_syslog_timestamp(&mut b);
        assert_eq!(a, b);
    }

    proptest::proptest! {
        #[test]
        fn a_given_head_is_the_head_read_back(micros in proptest::num::i64::ANY) {
            let timestamp = Timestamp(micros);
            let eve = format!(r#"{{"timestamp":"{timestamp}","event_type":"device"}}"#);
            both(timestamp, "device", Level::Info, eve.as_bytes());
        }
    }

    #[test]
    fn a_given_head_is_the_head_read_back_for_every_kind_of_event() {
        let at = Timestamp(1_714_557_600_123_456);
        let warning = |kind: WarningKind| Event {
            timestamp: at,
            pcap_filename: None,
            pcap_cnt: None,
            flow: None,
            body: Body::Warning(Box::new(Warning {
                kind,
                message: String::new(),
                loss: None,
                output: None,
            })),
        };
        for kind in [
            WarningKind::CaptureLoss,
            WarningKind::CaptureLossRecovered,
            WarningKind::OutputFailed,
        ] {
            let event = warning(kind);
            let mut line = Vec::new();
            event
                .write_json_line("sensor", &mut line)
                .expect("serialises");
            let head = EventHead::of(&event);
            both(head.timestamp, head.event_type, head.level, &line);
        }
        for (name, level) in [
            ("high", Level::High),
            ("medium", Level::Medium),
            ("low", Level::Low),
            ("info", Level::Info),
        ] {
            let eve = format!(
                r#"{{"timestamp":"{at}","event_type":"alert","alert":{{"severity":2,"severity_name":"{name}"}}}}"#
            );
            both(at, "alert", level, eve.as_bytes());
        }
        for event_type in ["device", "stats", "dicom", "hl7", "mqtt"] {
            let eve = format!(r#"{{"timestamp":"{at}","event_type":"{event_type}"}}"#);
            both(at, event_type, Level::Info, eve.as_bytes());
        }
    }

    #[test]
    fn the_head_is_read_without_the_rest() {
        let eve = br#"{"timestamp":"2026-11-23T10:00:01Z","event_type":"alert","alert":{"severity":1,"x":[1,2]},"big":{"a":[{"b":"c"}]}}"#;
        let head = ReadHead::of(eve);
        assert_eq!(head.timestamp.as_deref(), Some("2026-11-23T10:00:01Z"));
        assert_eq!(head.event_type.as_deref(), Some("alert"));
        assert!(matches!(
            head.alert.and_then(|a| a.severity),
            Some(Severity::Number(1))
        ));
        assert!(ReadHead::of(b"[1]").event_type.is_none());
    }
}
