//! SSDP, the discovery half of UPnP (UPnP Device Architecture 2.0 §1), from
//! one UDP payload (port 1900): a device's `NOTIFY` announcements, a
//! control point's `M-SEARCH` and the devices' unicast `HTTP/1.1 200 OK`
//! answers. What identifies a device: `SERVER` (OS, UPnP version and
//! product), `LOCATION` (its device-description URL), `NT`/`ST` (what it
//! is) and `USN` (its unique service name, with its UUID).
//!
//! # Guarantees
//!
//! Never panics on any input (indexing is denied by lint). Every header
//! value kept is sanitised text of at most [`MAX_HEADER_VALUE_LEN`] bytes,
//! borrowed from the payload when it is plain ASCII; at most
//! [`MAX_HEADERS`] header lines are looked at.
//!
//! # What it refuses
//!
//! A payload whose first line is not one of the three SSDP start lines is
//! [`SsdpAnomaly::NotSsdp`] and nothing else is read. Header lines without a
//! colon are counted and skipped. Bodies (SSDP has none) are ignored.
use std::borrow::Cow;

use crate::proto::names::note;
use crate::proto::names::sanitize;
use crate::proto::reader::Reader;

/// Header lines looked at; the rest are not (`too_many_headers`). Real
/// announcements carry 6–12.
pub const MAX_HEADERS: usize = 32;

/// Longest header value kept, in bytes; longer ones are cut
/// (`long_header`). Real `SERVER` and `LOCATION` values are under 120.
pub const MAX_HEADER_VALUE_LEN: usize = 256;

/// Which of the three SSDP messages it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SsdpKind {
    /// `NOTIFY * HTTP/1.1`: an announcement (`ssdp:alive`, `ssdp:byebye`,
    /// `ssdp:update` in `NTS`).
    Notify,
    /// `M-SEARCH * HTTP/1.1`: a control point looking for devices.
    Search,
    /// `HTTP/1.1 <status>`: a device answering a search.
    Response {
        /// The status code.
        status: u16,
    },
}

/// Something malformed in an SSDP message, counted by the caller under
/// [`SsdpAnomaly::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SsdpAnomaly {
    /// The first line is not an SSDP start line.
    NotSsdp,
    /// A header line without a colon.
    MalformedHeader,
    /// A header value longer than [`MAX_HEADER_VALUE_LEN`], cut.
    LongHeader,
    /// More than [`MAX_HEADERS`] header lines.
    TooManyHeaders,
    /// The same header twice; the first is kept.
    RepeatedHeader,
}

impl SsdpAnomaly {
    /// Every anomaly, in declaration order.
    pub const ALL: &'static [SsdpAnomaly] = &[
        SsdpAnomaly::NotSsdp,
        SsdpAnomaly::MalformedHeader,
        SsdpAnomaly::LongHeader,
        SsdpAnomaly::TooManyHeaders,
        SsdpAnomaly::RepeatedHeader,
    ];

    /// The counter name.
    pub fn name(self) -> &'static str {
        match self {
            SsdpAnomaly::NotSsdp => "not_ssdp",
            SsdpAnomaly::MalformedHeader => "malformed_header",
            SsdpAnomaly::LongHeader => "long_header",
            SsdpAnomaly::TooManyHeaders => "too_many_headers",
            SsdpAnomaly::RepeatedHeader => "repeated_header",
        }
    }
}

/// What one SSDP message says. Each header is `None` when absent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SsdpMessage<'a> {
    /// Which message; `None` when the payload is not SSDP.
    pub kind: Option<SsdpKind>,
    /// `SERVER`: `OS/version UPnP/2.0 product/version`.
    pub server: Option<Cow<'a, str>>,
    /// `LOCATION`: the URL of the device description.
    pub location: Option<Cow<'a, str>>,
    /// `NT` (notification type) of a `NOTIFY`.
    pub nt: Option<Cow<'a, str>>,
    /// `NTS` (`ssdp:alive`, `ssdp:byebye`, `ssdp:update`).
    pub nts: Option<Cow<'a, str>>,
    /// `ST` (search target) of an `M-SEARCH` or its answer.
    pub st: Option<Cow<'a, str>>,
    /// `USN`: `uuid:…` and the type.
    pub usn: Option<Cow<'a, str>>,
    /// `USER-AGENT` of an `M-SEARCH`.
    pub user_agent: Option<Cow<'a, str>>,
    /// `CACHE-CONTROL` (`max-age=1800`).
    pub cache_control: Option<Cow<'a, str>>,
    /// What was malformed, each once.
    pub anomalies: Vec<SsdpAnomaly>,
}

impl SsdpMessage<'_> {
    /// The device UUID from `USN` (`uuid:<this>::…`).
    pub fn uuid(&self) -> Option<&str> {
        let usn = self.usn.as_deref()?;
        let (scheme, rest) = usn.split_at_checked("uuid:".len())?;
        if !scheme.eq_ignore_ascii_case("uuid:") {
            return None;
        }
        Some(rest.split("::").next().unwrap_or(rest))
    }
}

/// The start line's kind, if it is one of SSDP's.
fn start_line(line: &[u8]) -> Option<SsdpKind> {
    let line = line.trim_ascii();
    if line.eq_ignore_ascii_case(b"NOTIFY * HTTP/1.1") {
        return Some(SsdpKind::Notify);
    }
    if line.eq_ignore_ascii_case(b"M-SEARCH * HTTP/1.1") {
        return Some(SsdpKind::Search);
    }
    // `HTTP/1.x`, a space, then the three-digit status.
    let mut r = Reader::new(line.strip_prefix(b"HTTP/1.")?);
    r.skip(1)?;
    if r.u8()? != b' ' {
        return None;
    }
    let status = r.take(3)?;
    let status = std::str::from_utf8(status).ok()?.parse().ok()?;
    Some(SsdpKind::Response { status })
}

/// Parses an SSDP message from one UDP payload.
pub fn parse_ssdp(payload: &[u8]) -> SsdpMessage<'_> {
    let mut msg = SsdpMessage::default();
    let mut lines = payload.split(|&b| b == b'\n');
    let Some(kind) = lines.next().and_then(start_line) else {
        msg.anomalies.push(SsdpAnomaly::NotSsdp);
        return msg;
    };
    msg.kind = Some(kind);
    for (i, line) in lines.enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break; // end of headers
        }
        if i >= MAX_HEADERS {
            note(&mut msg.anomalies, SsdpAnomaly::TooManyHeaders);
            break;
        }
        let mut parts = line.splitn(2, |&b| b == b':');
        let (Some(name), Some(value)) = (parts.next(), parts.next()) else {
            note(&mut msg.anomalies, SsdpAnomaly::MalformedHeader);
            continue;
        };
        let (name, value) = (name.trim_ascii(), value.trim_ascii());
        let is = |header: &[u8]| name.eq_ignore_ascii_case(header);
        let slot = if is(b"SERVER") {
            &mut msg.server
        } else if is(b"LOCATION") {
            &mut msg.location
        } else if is(b"NT") {
            &mut msg.nt
        } else if is(b"NTS") {
            &mut msg.nts
        } else if is(b"ST") {
            &mut msg.st
        } else if is(b"USN") {
            &mut msg.usn
        } else if is(b"USER-AGENT") {
            &mut msg.user_agent
        } else if is(b"CACHE-CONTROL") {
            &mut msg.cache_control
        } else {
            continue;
        };
        if slot.is_some() {
            note(&mut msg.anomalies, SsdpAnomaly::RepeatedHeader);
            continue;
        }
        if value.len() > MAX_HEADER_VALUE_LEN {
            note(&mut msg.anomalies, SsdpAnomaly::LongHeader);
        }
        *slot = Some(sanitize(value, MAX_HEADER_VALUE_LEN));
    }
    msg
}

#[cfg(test)]
#[path = "ssdp_tests.rs"]
mod tests;
