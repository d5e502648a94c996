//! Event formats: the shapes a sink can write an event in (`?format=` on
//! its `-o` target).
//!
//! Every event is first written as EVE JSON ([`crate::event::Event`]); the
//! other formats are built from that EVE object, so each one maps the same
//! fields and a new field reaches every format through one place:
//! [`ecs`] (Elastic Common Schema [`ecs::ECS_VERSION`]), [`ocsf`] (OCSF
//! [`ocsf::OCSF_VERSION`]), [`cef`] (ArcSight CEF) and [`leef`] (QRadar
//! LEEF 2.0). `docs/formats.md` has the field tables.
//!
//! Guarantees: [`encode_within`] never panics, whatever JSON it is given
//! (fields of the wrong type are left out, never unwrapped); it never splits
//! an event: what it appends is one whole JSON object or one whole line, at
//! most `max` bytes, or nothing. An event that already fits costs one
//! encoding and one length check; only a longer one pays for shortening.
//!
//! Shortening ([`Fit::Shortened`]) cuts what the SIEM can best spare and
//! never the head of the event (its time, type, ids, addresses, and an
//! alert's kind, signature and severity): in JSON formats the largest
//! arrays and strings outside the head are cut first, then whole members,
//! re-encoding until it fits; in CEF and LEEF extension fields are dropped
//! from the least important up. Each format marks a shortened event in its
//! own way (EVE `"truncated": true`, ECS `tags: ["truncated"]` and
//! `medtap.truncated`, OCSF `unmapped.truncated`, CEF `cs6Label=truncated`,
//! LEEF `truncated=true`).

pub mod cef;
pub mod ecs;
pub mod leef;
pub mod ocsf;

use serde_json::{Map, Value};

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
/// marked `truncated`), never split. On [`Fit::TooBig`] nothing is appended.
pub fn encode_within(format: Format, eve: &Value, max: usize, out: &mut Vec<u8>) -> Fit {
    match format {
        Format::Eve => {
            // The common case: one write, one length check, no copy.
            let start = out.len();
            write_json(eve, out);
            if out.len() - start <= max {
                return Fit::Whole;
            }
            out.truncate(start);
            shorten_json(eve.clone(), EVE_HEAD, mark_eve, max, out)
        }
        Format::Ecs => fit_json(ecs::encode(eve), ecs::HEAD, ecs::mark_truncated, max, out),
        Format::Ocsf => fit_json(
            ocsf::encode(eve),
            ocsf::HEAD,
            ocsf::mark_truncated,
            max,
            out,
        ),
        Format::Cef => cef::encode_within(eve, max, out),
        Format::Leef => leef::encode_within(eve, max, out),
    }
}

/// The EVE fields shortening never cuts (JSON paths from the top).
pub const EVE_HEAD: &[&[&str]] = &[
    &["timestamp"],
    &["event_type"],
    &["event_id"],
    &["flow_id"],
    &["pcap_cnt"],
    &["host"],
    &["src_ip"],
    &["src_port"],
    &["dest_ip"],
    &["dest_port"],
    &["proto"],
    &["icmp_type"],
    &["icmp_code"],
    &["community_id"],
    &["app_proto"],
    &["alert", "kind"],
    &["alert", "signature"],
    &["alert", "signature_id"],
    &["alert", "category"],
    &["alert", "severity"],
    &["alert", "severity_name"],
    &["device", "id"],
    &["device", "mac"],
    &["warning", "kind"],
    &["truncated"],
];

fn mark_eve(v: &mut Value) {
    if let Value::Object(map) = v {
        map.insert("truncated".to_owned(), Value::Bool(true));
    }
}

/// Strings no longer than this, in bytes, are never cut: the cut would save
/// too little to be worth the lost meaning.
pub const MIN_CUT_STRING: usize = 64;
/// What a cut string keeps at least, in bytes (before its ellipsis).
pub const MIN_KEPT_STRING: usize = 32;
/// Re-encodings tried before shortening falls back to the head alone: each
/// round cuts at least the excess where one array or string can, so a
/// handful suffice; the bound keeps a pathological event (thousands of
/// small members) from costing thousands of encodings.
pub const MAX_SHORTEN_ROUNDS: usize = 24;
/// What a cut string ends with.
const ELLIPSIS: &str = "…";

/// Writes `v` as compact JSON. Serializing a `Value` into a `Vec` cannot
/// fail (its keys are strings, its numbers finite).
pub(crate) fn write_json(v: &Value, out: &mut Vec<u8>) {
    let _ = serde_json::to_writer(&mut *out, v);
}

/// Appends `v`, shortened if it is longer than `max`.
fn fit_json(
    v: Value,
    head: &[&[&str]],
    mark: fn(&mut Value),
    max: usize,
    out: &mut Vec<u8>,
) -> Fit {
    let start = out.len();
    write_json(&v, out);
    if out.len() - start <= max {
        return Fit::Whole;
    }
    out.truncate(start);
    shorten_json(v, head, mark, max, out)
}

/// Cuts `v` until it fits `max`, keeping the `head` paths whole, marks it,
/// and appends it; nothing is appended when even the head does not fit.
fn shorten_json(
    mut v: Value,
    head: &[&[&str]],
    mark: fn(&mut Value),
    max: usize,
    out: &mut Vec<u8>,
) -> Fit {
    let start = out.len();
    mark(&mut v);
    for _ in 0..MAX_SHORTEN_ROUNDS {
        out.truncate(start);
        write_json(&v, out);
        let len = out.len() - start;
        if len <= max {
            return Fit::Shortened;
        }
        if !cut_once(&mut v, head, len - max) {
            break;
        }
    }
    // The last resort: the head alone, still marked.
    let mut h = head_only(&v, head);
    mark(&mut h);
    out.truncate(start);
    write_json(&h, out);
    if out.len() - start <= max {
        Fit::Shortened
    } else {
        out.truncate(start);
        Fit::TooBig
    }
}

/// One step of a path inside a JSON value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// What a cut can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cut {
    /// Trailing elements of an array.
    Array,
    /// The tail of a string.
    Str,
    /// A whole object member.
    Member,
}

struct Candidate {
    path: Vec<Seg>,
    size: usize,
    cut: Cut,
}

fn path_is(path: &[Seg], head: &[&str]) -> bool {
    path.len() == head.len()
        && path
            .iter()
            .zip(head)
            .all(|(s, h)| matches!(s, Seg::Key(k) if k == h))
}

/// Whether `path` is a head path or holds one (so cannot go as a whole).
fn holds_head(path: &[Seg], heads: &[&[&str]]) -> bool {
    heads.iter().any(|h| {
        path.len() <= h.len()
            && path
                .iter()
                .zip(h.iter())
                .all(|(s, h)| matches!(s, Seg::Key(k) if k == h))
    })
}

/// Serialized length of a string with its quotes, as serde_json escapes it.
fn json_str_len(s: &str) -> usize {
    2 + s
        .bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0..=0x1f => 6,
            _ => 1,
        })
        .sum::<usize>()
}

/// Serialized length of `v`; records the cuttable parts in `found`.
fn survey(v: &Value, path: &mut Vec<Seg>, heads: &[&[&str]], found: &mut Vec<Candidate>) -> usize {
    match v {
        Value::Null => 4,
        Value::Bool(b) => {
            if *b {
                4
            } else {
                5
            }
        }
        Value::Number(n) => n.to_string().len(),
        Value::String(s) => {
            let size = json_str_len(s);
            if s.len() > MIN_CUT_STRING && !heads.iter().any(|h| path_is(path, h)) {
                found.push(Candidate {
                    path: path.clone(),
                    size,
                    cut: Cut::Str,
                });
            }
            size
        }
        Value::Array(items) => {
            let mut size = 2 + items.len().saturating_sub(1);
            for (i, item) in items.iter().enumerate() {
                path.push(Seg::Index(i));
                size += survey(item, path, heads, found);
                path.pop();
            }
            if !items.is_empty() && !heads.iter().any(|h| path_is(path, h)) {
                found.push(Candidate {
                    path: path.clone(),
                    size,
                    cut: Cut::Array,
                });
            }
            size
        }
        Value::Object(map) => {
            let mut size = 2 + map.len().saturating_sub(1);
            for (k, item) in map {
                path.push(Seg::Key(k.clone()));
                let inner = survey(item, path, heads, found);
                // A member of the top object is an event's section: cut
                // inside it, and drop it whole only as the last resort.
                if path.len() > 1 && !holds_head(path, heads) {
                    found.push(Candidate {
                        path: path.clone(),
                        size: inner + json_str_len(k) + 1,
                        cut: Cut::Member,
                    });
                }
                path.pop();
                size += json_str_len(k) + 1 + inner;
            }
            size
        }
    }
}

fn get_mut<'a>(v: &'a mut Value, path: &[Seg]) -> Option<&'a mut Value> {
    path.iter().try_fold(v, |v, seg| match seg {
        Seg::Key(k) => v.get_mut(k.as_str()),
        Seg::Index(i) => v.get_mut(*i),
    })
}

/// Cuts the largest cuttable part of `v` by about `excess` bytes; false
/// when nothing outside the head is left to cut.
fn cut_once(v: &mut Value, heads: &[&[&str]], excess: usize) -> bool {
    let mut found = Vec::new();
    survey(v, &mut Vec::new(), heads, &mut found);
    let Some(largest) = found.iter().max_by_key(|c| c.size) else {
        return false;
    };
    // Prefer cutting inside a member to dropping it, when an array or a
    // string in it holds at least half of it.
    let chosen = if largest.cut == Cut::Member {
        found
            .iter()
            .filter(|c| {
                c.cut != Cut::Member
                    && c.path.starts_with(&largest.path)
                    && c.size * 2 >= largest.size
            })
            .max_by_key(|c| c.size)
            .unwrap_or(largest)
    } else {
        largest
    };
    let need = excess + ELLIPSIS.len() + 2;
    match chosen.cut {
        Cut::Member => {
            let Some((Seg::Key(key), parent)) = chosen.path.split_last() else {
                return false;
            };
            match get_mut(v, parent) {
                Some(Value::Object(map)) => map.remove(key.as_str()).is_some(),
                _ => false,
            }
        }
        Cut::Array => {
            let Some(Value::Array(items)) = get_mut(v, &chosen.path) else {
                return false;
            };
            let mut removed = 0;
            while let Some(item) = items.pop() {
                removed += survey(&item, &mut Vec::new(), &[], &mut Vec::new()) + 1;
                if removed >= need {
                    break;
                }
            }
            true
        }
        Cut::Str => {
            let Some(Value::String(s)) = get_mut(v, &chosen.path) else {
                return false;
            };
            let keep = s
                .len()
                .saturating_sub(need)
                .max(MIN_KEPT_STRING)
                .min(s.len() / 2);
            let mut at = keep;
            while !s.is_char_boundary(at) {
                at -= 1;
            }
            s.truncate(at);
            s.push_str(ELLIPSIS);
            true
        }
    }
}

/// A copy of `v` with only its `heads` paths.
fn head_only(v: &Value, heads: &[&[&str]]) -> Value {
    let mut out = Value::Object(Map::new());
    for head in heads {
        let Some(found) = head.iter().try_fold(v, |v, k| v.get(*k)) else {
            continue;
        };
        let Some((last, parents)) = head.split_last() else {
            continue;
        };
        let mut at = &mut out;
        for p in parents {
            let Value::Object(map) = at else { break };
            at = map
                .entry((*p).to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
        }
        if let Value::Object(map) = at {
            map.insert((*last).to_owned(), found.clone());
        }
    }
    out
}

/// How serious an event is, the one scale every format maps from.
///
/// Alerts carry `alert.severity`, either a word (`critical`, `high`,
/// `medium`, `low`, `info`) or Suricata's number (1 high, 2 medium, 3 low,
/// 4 info, with the word in `alert.severity_name`); an alert without one
/// counts as medium. A `warning` event is `Warning`, or `Notice` when its
/// kind reports a recovery (`…_recovered`). Every other event is `Info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// device, stats and protocol events; informational alerts.
    Info,
    /// A sensor warning's end (`capture_loss_recovered`).
    Notice,
    /// A sensor warning (`capture_loss`): medtap does not see all the traffic.
    Warning,
    /// A low-severity alert.
    Low,
    /// A medium-severity alert.
    Medium,
    /// A high-severity alert.
    High,
    /// A critical alert.
    Critical,
}

impl Level {
    /// The level of an event.
    pub fn of(event: &Value) -> Level {
        let event_type = str_at(event, "/event_type");
        let warning_kind = str_at(event, "/warning/kind");
        Level::of_non_alert(event_type, warning_kind).unwrap_or_else(|| {
            // The word, where there is one, says "critical" too, which
            // Suricata's numbers cannot.
            if let Some(level) = str_at(event, "/alert/severity_name").and_then(Level::of_word) {
                return level;
            }
            match event.pointer("/alert/severity") {
                Some(Value::String(s)) => Level::of_word(s).unwrap_or(Level::Medium),
                Some(Value::Number(n)) => n.as_u64().map_or(Level::Medium, Level::of_number),
                _ => Level::Medium,
            }
        })
    }

    /// The level of an event that is not an alert, from its `event_type`
    /// and `warning.kind`; `None` for an alert, whose severity decides.
    pub fn of_non_alert(event_type: Option<&str>, warning_kind: Option<&str>) -> Option<Level> {
        match event_type {
            Some("alert") => None,
            Some("warning") if warning_kind.is_some_and(|k| k.ends_with("_recovered")) => {
                Some(Level::Notice)
            }
            Some("warning") => Some(Level::Warning),
            _ => Some(Level::Info),
        }
    }

    /// The level a severity word names (`high`, `informational`, …).
    pub fn of_word(word: &str) -> Option<Level> {
        match word.to_ascii_lowercase().as_str() {
            "critical" => Some(Level::Critical),
            "high" => Some(Level::High),
            "medium" => Some(Level::Medium),
            "low" => Some(Level::Low),
            "info" | "informational" => Some(Level::Info),
            _ => None,
        }
    }

    /// The level of Suricata's integer severity (1 high to 4 info).
    pub fn of_number(severity: u64) -> Level {
        match severity {
            1 => Level::High,
            3 => Level::Low,
            4 => Level::Info,
            _ => Level::Medium,
        }
    }

    /// RFC 5424 severity: 6 informational, 5 notice, 4 warning, 3 error,
    /// 2 critical.
    pub fn syslog_severity(self) -> u8 {
        match self {
            Level::Info => 6,
            Level::Notice | Level::Low => 5,
            Level::Warning | Level::Medium => 4,
            Level::High => 3,
            Level::Critical => 2,
        }
    }

    /// Its name: `info`, `notice`, `warning`, `low`, `medium`, `high`,
    /// `critical`.
    pub fn name(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Notice => "notice",
            Level::Warning => "warning",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }

    /// CEF severity, 0 to 10 (ArcSight: 0-3 low, 4-6 medium, 7-8 high,
    /// 9-10 very high); LEEF `sev` (1 to 10) takes the same.
    pub fn cef_severity(self) -> u8 {
        match self {
            Level::Info | Level::Notice => 1,
            Level::Low => 3,
            Level::Warning => 5,
            Level::Medium => 5,
            Level::High => 8,
            Level::Critical => 10,
        }
    }

    /// Suricata's alert severity, which ECS `event.severity` carries (as
    /// Elastic's Suricata integration does): 1 high (and critical), 2
    /// medium (and sensor warnings), 3 low, 4 informational.
    pub fn suricata_severity(self) -> u8 {
        match self {
            Level::Critical | Level::High => 1,
            Level::Medium | Level::Warning => 2,
            Level::Low => 3,
            Level::Info | Level::Notice => 4,
        }
    }

    /// OCSF `severity_id`: 1 informational, 2 low, 3 medium, 4 high, 5
    /// critical.
    pub fn ocsf_severity_id(self) -> u8 {
        match self {
            Level::Info | Level::Notice => 1,
            Level::Low => 2,
            Level::Medium | Level::Warning => 3,
            Level::High => 4,
            Level::Critical => 5,
        }
    }
}

/// One extension field of a CEF or LEEF line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Field {
    /// Its key.
    pub key: String,
    /// Its value, unescaped.
    pub value: String,
    /// A `csNLabel=…` pair written just before it (CEF custom fields).
    pub label: Option<(String, String)>,
    /// How readily shortening drops it: 0 never (the head), then the
    /// highest rank first.
    pub rank: u8,
}

impl Field {
    pub(crate) fn new(key: &str, value: impl Into<String>, rank: u8) -> Field {
        Field {
            key: key.to_owned(),
            value: value.into(),
            label: None,
            rank,
        }
    }

    pub(crate) fn labelled(key: &str, label: &str, value: impl Into<String>, rank: u8) -> Field {
        Field {
            key: key.to_owned(),
            value: value.into(),
            label: Some((format!("{key}Label"), label.to_owned())),
            rank,
        }
    }
}

/// Appends the line `render` makes of `fields`; when it is longer than
/// `max`, adds the `marks` and drops fields from the highest rank down (the
/// last written first) until it fits.
pub(crate) fn fit_line(
    mut fields: Vec<Field>,
    marks: Vec<Field>,
    render: impl Fn(&[Field]) -> String,
    max: usize,
    out: &mut Vec<u8>,
) -> Fit {
    let line = render(&fields);
    if line.len() <= max {
        out.extend_from_slice(line.as_bytes());
        return Fit::Whole;
    }
    fields.extend(marks);
    loop {
        let Some(drop) = fields
            .iter()
            .enumerate()
            .filter(|(_, f)| f.rank > 0)
            .max_by_key(|(i, f)| (f.rank, *i))
            .map(|(i, _)| i)
        else {
            return Fit::TooBig;
        };
        fields.remove(drop);
        let line = render(&fields);
        if line.len() <= max {
            out.extend_from_slice(line.as_bytes());
            return Fit::Shortened;
        }
    }
}

/// Seconds since the Unix epoch, with the fraction digits of `timestamp`
/// kept exactly (`2024-05-01T10:00:00.123456Z` → `1714557600.123456`);
/// `None` if it is not an RFC 3339 UTC time as medtap writes.
pub fn epoch_seconds(timestamp: &str) -> Option<String> {
    let ms = epoch_ms(timestamp)?;
    let secs = ms.div_euclid(1000);
    let frac = timestamp
        .get(19..)
        .and_then(|rest| rest.strip_prefix('.'))
        .and_then(|rest| rest.strip_suffix('Z'))
        .unwrap_or("");
    Some(if frac.is_empty() {
        secs.to_string()
    } else {
        format!("{secs}.{frac}")
    })
}

/// Milliseconds since the Unix epoch of an RFC 3339 UTC time of the form
/// medtap writes, `YYYY-MM-DDTHH:MM:SS[.F{1,6}]Z`; `None` for anything else
/// (leap seconds, more than six fractional digits, other offsets).
pub fn epoch_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = b.get(range)?;
        if digits.iter().all(u8::is_ascii_digit) {
            Some(
                digits
                    .iter()
                    .fold(0i64, |n, d| n * 10 + i64::from(d - b'0')),
            )
        } else {
            None
        }
    };
    let sep = |i: usize, c: u8| b.get(i) == Some(&c);
    if !(sep(4, b'-') && sep(7, b'-') && sep(10, b'T') && sep(13, b':') && sep(16, b':')) {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut millis = 0;
    let rest = match b.get(19) {
        Some(b'.') => {
            let frac_len = b
                .get(20..)?
                .iter()
                .take_while(|d| d.is_ascii_digit())
                .count();
            if !(1..=6).contains(&frac_len) {
                return None;
            }
            let frac = num(20..20 + frac_len)?;
            millis = frac * 1_000_000 / 10i64.pow(frac_len as u32) / 1_000;
            b.get(20 + frac_len..)?
        }
        _ => b.get(19..)?,
    };
    if rest != b"Z"
        || !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    // Days from civil (H. Hinnant), proleptic Gregorian.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1_000 + millis)
}

/// The header's event id of CEF and LEEF: an alert's signature id (its
/// kind before signature ids existed), a warning's kind, else the event
/// type.
pub(crate) fn signature_id(eve: &Value) -> String {
    let event_type = str_at(eve, "/event_type").unwrap_or("unknown");
    match event_type {
        "alert" => match u64_at(eve, "/alert/signature_id") {
            Some(id) => id.to_string(),
            None => str_at(eve, "/alert/kind").unwrap_or(event_type).to_owned(),
        },
        "warning" => str_at(eve, "/warning/kind")
            .unwrap_or(event_type)
            .to_owned(),
        other => other.to_owned(),
    }
}

/// The human-readable name of an event: an alert's signature (its kind
/// before signatures existed), a warning's meaning, else its type's.
pub(crate) fn event_name(eve: &Value) -> String {
    let event_type = str_at(eve, "/event_type").unwrap_or("unknown");
    if event_type == "alert"
        && let Some(name) = str_at(eve, "/alert/signature").or_else(|| str_at(eve, "/alert/kind"))
    {
        return name.to_owned();
    }
    if event_type == "warning" {
        return match str_at(eve, "/warning/kind") {
            Some("capture_loss") => "Capture loss above threshold",
            Some("capture_loss_recovered") => "Capture loss recovered",
            Some("output_failed") => "Output failed",
            _ => "Sensor warning",
        }
        .to_owned();
    }
    match event_type {
        "device" => "Device observed",
        "stats" => "Sensor statistics",
        "dicom" => "DICOM association",
        "hl7" => "HL7 message",
        "mqtt" => "MQTT connection",
        "alert" => "Baseline alert",
        other => other,
    }
    .to_owned()
}

/// The category of an event: an alert's `alert.category`, else its type.
pub(crate) fn category(eve: &Value) -> &str {
    str_at(eve, "/alert/category")
        .or_else(|| str_at(eve, "/event_type"))
        .unwrap_or("unknown")
}

/// The ATT&CK technique of an alert as one line: `T0842 Network Sniffing
/// (Discovery)`.
pub(crate) fn technique_line(eve: &Value) -> Option<String> {
    let id = str_at(eve, "/alert/mitre/technique_id")?;
    let mut s = id.to_owned();
    if let Some(name) = str_at(eve, "/alert/mitre/technique") {
        s.push(' ');
        s.push_str(name);
    }
    if let Some(tactic) = str_at(eve, "/alert/mitre/tactic") {
        s.push_str(&format!(" ({tactic})"));
    }
    Some(s)
}

/// The string at a JSON pointer of `v`, if it is one.
pub(crate) fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

/// The unsigned integer at a JSON pointer of `v`, if it is one.
pub(crate) fn u64_at(v: &Value, pointer: &str) -> Option<u64> {
    v.pointer(pointer).and_then(Value::as_u64)
}

/// The first string of the array at a JSON pointer (or the string itself).
pub(crate) fn first_str<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    match v.pointer(pointer)? {
        Value::String(s) => Some(s),
        Value::Array(items) => items.iter().find_map(Value::as_str),
        _ => None,
    }
}

/// The host name a device gave itself, first by its most direct source.
pub(crate) fn device_hostname(device: &Value) -> Option<&str> {
    [
        "/identity/dhcp/hostname",
        "/identity/dhcp/fqdn",
        "/identity/dhcpv6/fqdn",
        "/identity/mdns/hostname",
        "/identity/llmnr/hostname",
        "/identity/netbios/name",
        "/identity/lldp/system_name",
        "/identity/dns/name",
    ]
    .iter()
    .find_map(|p| first_str(device, p))
}

/// Which side of the flow the event's device is: `Some(true)` the source,
/// `Some(false)` the destination. It is the packet's sender unless the flow
/// names it only as the destination (a device revealed by what a peer sent
/// to it).
pub(crate) fn device_is_source(eve: &Value) -> Option<bool> {
    let ips = eve.pointer("/device/ips").and_then(Value::as_array)?;
    let has = |ip: Option<&str>| ip.is_some_and(|ip| ips.iter().any(|v| v.as_str() == Some(ip)));
    let (src, dst) = (str_at(eve, "/src_ip"), str_at(eve, "/dest_ip"));
    if has(dst) && !has(src) {
        Some(false)
    } else if src.is_some() {
        Some(true)
    } else {
        None
    }
}

/// MITRE ATT&CK for ICS tactic ids by name (attack.mitre.org/tactics/ics).
pub(crate) fn ics_tactic_id(name: &str) -> Option<&'static str> {
    Some(match name {
        "Collection" => "TA0100",
        "Command and Control" => "TA0101",
        "Discovery" => "TA0102",
        "Evasion" => "TA0103",
        "Execution" => "TA0104",
        "Impact" => "TA0105",
        "Impair Process Control" => "TA0106",
        "Inhibit Response Function" => "TA0107",
        "Initial Access" => "TA0108",
        "Lateral Movement" => "TA0109",
        "Persistence" => "TA0110",
        "Privilege Escalation" => "TA0111",
        _ => return None,
    })
}

/// The ATT&CK page of a technique id (`T0842`, `T1046.001`).
pub(crate) fn technique_reference(id: &str) -> Option<String> {
    let valid = id.len() <= 16
        && id.starts_with('T')
        && id.bytes().skip(1).all(|b| b.is_ascii_digit() || b == b'.');
    valid.then(|| {
        format!(
            "https://attack.mitre.org/techniques/{}/",
            id.replace('.', "/")
        )
    })
}

/// A one-line summary of an event for a human: the alert's or warning's
/// own message, else a sentence built from the event's key facts.
pub(crate) fn summary(eve: &Value) -> String {
    let event_type = str_at(eve, "/event_type").unwrap_or("event");
    if let Some(m) = str_at(eve, "/alert/message").or_else(|| str_at(eve, "/warning/message")) {
        return m.to_owned();
    }
    let flow = match (str_at(eve, "/src_ip"), str_at(eve, "/dest_ip")) {
        (Some(s), Some(d)) => format!(" {s} -> {d}"),
        _ => String::new(),
    };
    match event_type {
        "device" => {
            let id = str_at(eve, "/device/id").unwrap_or("unknown");
            let kind = str_at(eve, "/device/type/name").filter(|k| *k != "unknown");
            let vendor = str_at(eve, "/device/vendor");
            let mut s = format!("device {id}");
            if let Some(kind) = kind {
                s.push_str(&format!(" ({kind})"));
            }
            if let Some(vendor) = vendor {
                s.push_str(&format!(", {vendor}"));
            }
            s
        }
        "dicom" => {
            let calling = str_at(eve, "/dicom/client/ae_title").unwrap_or("?");
            let called = str_at(eve, "/dicom/server/ae_title").unwrap_or("?");
            let result = str_at(eve, "/dicom/result").unwrap_or("seen");
            format!("DICOM association {calling} -> {called} {result}{flow}")
        }
        "hl7" => {
            let ty = str_at(eve, "/hl7/message_type").unwrap_or("?");
            let tr = str_at(eve, "/hl7/trigger_event").map(|t| format!("^{t}"));
            let app = str_at(eve, "/hl7/sending_application").unwrap_or("?");
            format!("HL7 {ty}{} from {app}{flow}", tr.unwrap_or_default())
        }
        "mqtt" => {
            let client = str_at(eve, "/mqtt/client_id").unwrap_or("?");
            format!("MQTT connection of client {client}{flow}")
        }
        "stats" => "sensor statistics".to_owned(),
        other => format!("{other}{flow}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn big_device() -> Value {
        json!({
            "timestamp": "2026-12-03T06:11:11.158338Z",
            "event_type": "alert",
            "event_id": "0123456789abcdef0123456789abcdef",
            "src_ip": "10.20.1.11", "src_port": 36720,
            "dest_ip": "10.20.2.10", "dest_port": 104, "proto": "TCP",
            "community_id": "1:xd5ELBygATLxUDReeQC8Ce+Otd4=",
            "alert": {"kind": "new_peer", "severity": 2, "severity_name": "medium",
                      "signature": "New peer", "signature_id": 9000002,
                      "message": "m".repeat(5000)},
            "device": {"id": "mac:44:4b:5d:10:20:11",
                       "ips": (0..500).map(|i| format!("10.0.{}.{}", i / 250, i % 250)).collect::<Vec<_>>()},
            "baseline": {"peers": (0..300).map(|i| format!("out 10.0.0.{i} tcp/104")).collect::<Vec<_>>()},
        })
    }

    #[test]
    fn a_fitting_eve_event_is_written_as_is() {
        let eve = json!({"event_type": "stats"});
        let mut out = b"x".to_vec();
        assert_eq!(encode_within(Format::Eve, &eve, 22, &mut out), Fit::Whole);
        assert_eq!(out, br#"x{"event_type":"stats"}"#);
    }

    #[test]
    fn shortening_keeps_the_head_and_marks_it() {
        let eve = big_device();
        for max in [600, 2000, 9000] {
            let mut out = Vec::new();
            assert_eq!(
                encode_within(Format::Eve, &eve, max, &mut out),
                Fit::Shortened,
                "{max}"
            );
            assert!(out.len() <= max);
            let v: Value = serde_json::from_slice(&out).expect("valid JSON");
            assert_eq!(v["truncated"], true);
            for head in EVE_HEAD {
                let ptr: String = head.iter().map(|k| format!("/{k}")).collect();
                if let Some(want) = eve.pointer(&ptr) {
                    assert_eq!(v.pointer(&ptr), Some(want), "{ptr}");
                }
            }
            assert_eq!(v["alert"]["signature_id"], 9000002);
        }
    }

    #[test]
    fn a_head_too_big_is_not_written() {
        let eve = big_device();
        let mut out = b"keep".to_vec();
        assert_eq!(encode_within(Format::Eve, &eve, 100, &mut out), Fit::TooBig);
        assert_eq!(out, b"keep");
    }

    #[test]
    fn a_cut_string_ends_on_a_char_boundary() {
        let mut v = json!({"a": {"s": "é".repeat(200)}});
        assert!(cut_once(&mut v, &[], 101));
        let s = v["a"]["s"].as_str().expect("string");
        assert!(s.ends_with(ELLIPSIS) && s.len() < 400);
    }

    #[test]
    fn suricata_numbers_and_words_give_the_same_level() {
        let alert = |sev: Value| json!({"event_type": "alert", "alert": {"severity": sev}});
        assert_eq!(Level::of(&alert(json!(1))), Level::High);
        assert_eq!(Level::of(&alert(json!("high"))), Level::High);
        assert_eq!(Level::of(&alert(json!(4))), Level::Info);
        assert_eq!(Level::of(&alert(json!("info"))), Level::Info);
        assert_eq!(Level::of(&alert(json!(3))), Level::Low);
        assert_eq!(Level::of(&alert(json!(null))), Level::Medium);
        let crit =
            json!({"event_type": "alert", "alert": {"severity": 1, "severity_name": "critical"}});
        assert_eq!(Level::of(&crit), Level::Critical);
    }

    #[test]
    fn technique_references() {
        assert_eq!(
            technique_reference("T0842").as_deref(),
            Some("https://attack.mitre.org/techniques/T0842/")
        );
        assert_eq!(
            technique_reference("T1046.001").as_deref(),
            Some("https://attack.mitre.org/techniques/T1046/001/")
        );
        assert_eq!(technique_reference("../x"), None);
    }

    mod arbitrary {
        use super::*;
        use proptest::prelude::*;

        fn arb_json() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(|n| json!(n)),
                any::<f64>().prop_map(|f| json!(f)),
                ".{0,80}".prop_map(Value::String),
                prop_oneof![
                    Just("alert"),
                    Just("device"),
                    Just("stats"),
                    Just("warning"),
                    Just("dicom"),
                    Just("hl7"),
                    Just("mqtt"),
                    Just("2026-12-03T06:11:11.158338Z"),
                    Just("10.0.0.1"),
                    Just("TCP"),
                    Just("mac:00:11:22:33:44:55")
                ]
                .prop_map(|s| Value::String(s.to_owned())),
            ];
            leaf.prop_recursive(5, 96, 8, |inner| {
                prop_oneof![
                    proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                    proptest::collection::vec(
                        (
                            prop_oneof![
                                Just("timestamp".to_owned()),
                                Just("event_type".to_owned()),
                                Just("alert".to_owned()),
                                Just("device".to_owned()),
                                Just("severity".to_owned()),
                                Just("src_ip".to_owned()),
                                Just("ips".to_owned()),
                                Just("mitre".to_owned()),
                                Just("warning".to_owned()),
                                Just("kind".to_owned()),
                                "[a-z_]{1,10}",
                            ],
                            inner
                        ),
                        0..8
                    )
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
                ]
            })
        }

        proptest! {
            #[test]
            fn never_panics_and_never_overflows(eve in arb_json(), max in 0usize..2000) {
                for format in Format::ALL {
                    let mut out = b"prefix".to_vec();
                    let fit = encode_within(format, &eve, max, &mut out);
                    let body = &out[6..];
                    prop_assert_eq!(&out[..6], b"prefix");
                    match fit {
                        Fit::TooBig => prop_assert!(body.is_empty()),
                        _ => {
                            prop_assert!(body.len() <= max, "{} {} > {}", format.name(), body.len(), max);
                            if format.is_json() {
                                prop_assert!(serde_json::from_slice::<Value>(body).is_ok());
                            } else {
                                prop_assert!(!body.contains(&b'\n') && !body.contains(&b'\r'));
                            }
                        }
                    }
                }
            }
        }
    }
}
