//! The HTTP(S) sink: each batch of events is one `POST`, as newline-delimited
//! JSON, as Splunk HTTP Event Collector events, or as an Elasticsearch
//! `_bulk` request.
//!
//! The URL is `http[s]://HOST[:PORT]/PATH?format=ndjson|hec|bulk[&index=NAME][&ca=FILE]`;
//! see `docs/outputs-http.md`. HTTP/1.1 is written by hand over a blocking
//! [`TcpStream`] (inside rustls for `https`, verified against the Mozilla
//! roots or the `ca=` file): the sink sends only `POST` with a
//! `Content-Length`, and reads only a status line, headers and a body framed
//! by `Content-Length`, `chunked` or the end of the connection. The
//! connection is kept alive between batches.
//!
//! Guarantees:
//! - one [`EventSink::deliver`] call is one `POST`, or several in order when
//!   the body would pass [`MAX_BATCH_BYTES`]; events keep their order within
//!   and across calls;
//! - a 2xx answer is success (for `bulk`, only when the answer does not say
//!   `"errors": true`);
//! - 408, 429, 5xx, a broken connection or a malformed answer are
//!   [`SinkError::Io`], which the sink thread retries; any other status is
//!   [`SinkError::Refused`] with the status and the start of the body;
//! - a kept-alive connection that the server closed while idle is noticed on
//!   the next request and that request is sent once more on a new connection.
//!
//! Delivery is at least once: after a failure the receiver may hold part of
//! the batch, and a retry sends all of it again. What it refuses: user
//! information in the URL, an unknown option, and `format=hec` without the
//! token in `MEDTAP_HEC_TOKEN` — each a [`SinkError::BadUrl`].

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};
use serde::Deserialize;
use serde_json::Value;

use super::remote::{EventSink, SinkError, split_host_port, tls_config};
use super::syslog::rfc3339_epoch_ms;

/// The environment variable that holds the Splunk HEC token.
pub const HEC_TOKEN_VAR: &str = "MEDTAP_HEC_TOKEN";
/// Elasticsearch index used when a `bulk` URL names none.
pub const DEFAULT_INDEX: &str = "medtap";
/// Port of an `http` URL that names none.
pub const DEFAULT_HTTP_PORT: u16 = 80;
/// Port of an `https` URL that names none.
pub const DEFAULT_HTTPS_PORT: u16 = 443;
/// Bytes of one request body at most, before a batch is split into several
/// requests. A single event longer than this is sent alone.
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;
/// Time allowed to open the TCP connection (per resolved address) and to
/// complete the TLS handshake.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time allowed for one read or one write on the connection to block; the
/// receiver must start answering within this after the body is sent.
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// Bytes of the status line or of one header line at most.
pub const MAX_LINE_BYTES: usize = 8 * 1024;
/// Header lines in one response at most.
pub const MAX_HEADERS: usize = 100;
/// Bytes of one response body at most. An Elasticsearch `_bulk` answer
/// carries a line per event, so this is a multiple of [`MAX_BATCH_BYTES`].
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;
/// Bytes of a response body quoted in an error at most.
pub const MAX_QUOTED_BODY: usize = 512;

/// What each request body is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// One event per line, `application/x-ndjson`.
    Ndjson,
    /// Splunk HTTP Event Collector: one `{"time":…,"sourcetype":…,
    /// "source":"medtap","event":…}` object per event, one per line.
    Hec,
    /// Elasticsearch `_bulk`: `{"create":{"_index":INDEX}}` then the event,
    /// per event.
    Bulk {
        /// The index every event goes to.
        index: String,
    },
}

/// A parsed `-o http[s]://…` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    /// `https`.
    pub tls: bool,
    /// Host name or address (IPv6 without its brackets).
    pub host: String,
    /// Port.
    pub port: u16,
    /// The request target: the path, starting with `/`.
    pub path: String,
    /// The body format.
    pub format: Format,
    /// For `https`: the PEM file of the authorities to trust instead of the
    /// Mozilla roots.
    pub ca: Option<PathBuf>,
}

impl HttpUrl {
    /// Parses `http[s]://HOST[:PORT][/PATH]?format=ndjson|hec|bulk`, with
    /// `index=NAME` for `bulk` and `ca=FILE` for `https` (taken literally).
    /// IPv6 hosts are bracketed. The query names medtap's options only; it
    /// is not sent.
    pub fn parse(url: &str) -> Result<HttpUrl, SinkError> {
        let bad = |reason: &str| SinkError::BadUrl {
            url: super::remote::redacted(url),
            reason: reason.to_owned(),
        };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("expected http://HOST[:PORT]/PATH?format=…"))?;
        let tls = match scheme.to_ascii_lowercase().as_str() {
            "http" => false,
            "https" => true,
            _ => return Err(bad("scheme must be http or https")),
        };
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (
                rest.get(..i).unwrap_or_default(),
                rest.get(i..).unwrap_or("/"),
            ),
            None => (rest, "/"),
        };
        if authority.contains('@') {
            return Err(bad(
                "credentials in the URL are not supported (the HEC token comes from MEDTAP_HEC_TOKEN)",
            ));
        }
        if path.bytes().any(|b| !(33..=126).contains(&b)) {
            return Err(bad(
                "the path must be printable ASCII without spaces (use %-escapes)",
            ));
        }
        let (host, port) = split_host_port(authority).map_err(bad)?;
        let port = match port {
            None if tls => DEFAULT_HTTPS_PORT,
            None => DEFAULT_HTTP_PORT,
            Some(p) => match p.parse::<u16>() {
                Ok(p) if p != 0 => p,
                _ => return Err(bad("port must be a number from 1 to 65535")),
            },
        };
        let mut format = None;
        let mut index = None;
        let mut ca = None;
        for pair in query.into_iter().flat_map(|q| q.split('&')) {
            if pair.is_empty() {
                continue;
            }
            match pair.split_once('=') {
                Some(("format", f)) => format = Some(f),
                Some(("index", name)) => {
                    if !valid_index(name) {
                        return Err(bad("index must be a lowercase Elasticsearch index name \
                             (no \\ / * ? \" < > | , # : or spaces, not starting with - _ +)"));
                    }
                    index = Some(name.to_owned());
                }
                Some(("ca", path)) if tls && !path.is_empty() => ca = Some(PathBuf::from(path)),
                Some(("ca", _)) => return Err(bad("ca=FILE is for https only")),
                _ => return Err(bad(&format!("unknown parameter {pair:?}"))),
            }
        }
        let format = match (format, index) {
            (Some("ndjson"), None) => Format::Ndjson,
            (Some("hec"), None) => Format::Hec,
            (Some("bulk"), index) => Format::Bulk {
                index: index.unwrap_or_else(|| DEFAULT_INDEX.to_owned()),
            },
            (Some("ndjson" | "hec"), Some(_)) => {
                return Err(bad("index= applies only to format=bulk"));
            }
            (Some(_), _) => return Err(bad("format must be ndjson, hec or bulk")),
            (None, _) => return Err(bad("missing format=ndjson, format=hec or format=bulk")),
        };
        Ok(HttpUrl {
            tls,
            host: host.to_owned(),
            port,
            path: path.to_owned(),
            format,
            ca,
        })
    }

    /// The URL without its query, for logs.
    fn name(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}{}", self.authority(), self.path)
    }

    /// `HOST:PORT`, bracketed for IPv6: the `Host` header.
    fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// An Elasticsearch index name: lowercase, none of `\ / * ? " < > | , # :`
/// or whitespace, not `.`/`..`, not starting with `-`, `_` or `+`.
fn valid_index(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name != "."
        && name != ".."
        && !name.starts_with(['-', '_', '+'])
        && name.chars().all(|c| {
            !c.is_uppercase()
                && !c.is_whitespace()
                && !c.is_control()
                && !matches!(
                    c,
                    '\\' | '/' | '*' | '?' | '"' | '<' | '>' | '|' | ',' | '#' | ':'
                )
        })
}

/// The fields of an event the HEC envelope needs.
#[derive(Deserialize)]
struct Head<'a> {
    #[serde(borrow)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(borrow)]
    event_type: Option<Cow<'a, str>>,
}

/// Seconds since the Unix epoch, with the fraction digits of `timestamp`
/// kept exactly (`2024-05-01T10:00:00.123456Z` → `1714557600.123456`);
/// `None` if it is not an RFC 3339 UTC time as medtap writes.
pub fn epoch_seconds(timestamp: &str) -> Option<String> {
    let ms = rfc3339_epoch_ms(timestamp)?;
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

/// Appends the HEC envelope of one event (its JSON object) to `out`, without
/// a newline. `time` is left out when the event has no usable timestamp (the
/// collector then uses its receipt time).
pub fn write_hec_event(out: &mut Vec<u8>, event: &[u8]) {
    let head: Option<Head<'_>> = serde_json::from_slice(event).ok();
    let time = head
        .as_ref()
        .and_then(|h| h.timestamp.as_deref())
        .and_then(epoch_seconds);
    let event_type = head
        .as_ref()
        .and_then(|h| h.event_type.as_deref())
        .unwrap_or("unknown");
    out.push(b'{');
    if let Some(time) = time {
        out.extend_from_slice(b"\"time\":");
        out.extend_from_slice(time.as_bytes());
        out.push(b',');
    }
    out.extend_from_slice(b"\"sourcetype\":");
    // A string always serialises.
    let _ = serde_json::to_writer(&mut *out, &format!("medtap:{event_type}"));
    out.extend_from_slice(b",\"source\":\"medtap\",\"event\":");
    out.extend_from_slice(event);
    out.push(b'}');
}

/// Appends one event's part of a request body to `out`, with its newline.
fn write_event(out: &mut Vec<u8>, format: &Format, bulk_action: &[u8], event: &[u8]) {
    match format {
        Format::Ndjson => out.extend_from_slice(event),
        Format::Hec => write_hec_event(out, event),
        Format::Bulk { .. } => {
            out.extend_from_slice(bulk_action);
            out.push(b'\n');
            out.extend_from_slice(event);
        }
    }
    out.push(b'\n');
}

/// The answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The reason phrase.
    pub reason: String,
    /// The body, de-chunked.
    pub body: Vec<u8>,
    /// The server closes the connection after this answer.
    pub close: bool,
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Reads one line (up to LF) into `line`, without its CRLF; a line longer
/// than [`MAX_LINE_BYTES`] or the end of the stream is an error.
fn read_line<R: BufRead>(reader: &mut R, line: &mut Vec<u8>) -> io::Result<()> {
    line.clear();
    let n = reader
        .take(MAX_LINE_BYTES as u64 + 1)
        .read_until(b'\n', line)?;
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed before the response",
        ));
    }
    if line.last() != Some(&b'\n') {
        return Err(if n > MAX_LINE_BYTES {
            invalid(format!("response line longer than {MAX_LINE_BYTES} bytes"))
        } else {
            io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed mid-line")
        });
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(())
}

/// Reads exactly `len` body bytes onto `body`, within [`MAX_RESPONSE_BYTES`].
fn read_body_part<R: Read>(reader: &mut R, body: &mut Vec<u8>, len: u64) -> io::Result<()> {
    if body.len() as u64 + len > MAX_RESPONSE_BYTES as u64 {
        return Err(invalid(format!(
            "response body longer than {MAX_RESPONSE_BYTES} bytes"
        )));
    }
    let got = reader.take(len).read_to_end(body)?;
    if (got as u64) < len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed mid-body",
        ));
    }
    Ok(())
}

/// Reads one response to a `POST`: the status line, the headers, and the
/// body framed by `Transfer-Encoding: chunked`, `Content-Length` or the end
/// of the connection. Interim (1xx) answers are skipped. `Err` with
/// [`io::ErrorKind::UnexpectedEof`] before any byte means the server had
/// closed the connection.
pub fn read_response<R: BufRead>(reader: &mut R) -> io::Result<Response> {
    let mut line = Vec::new();
    loop {
        read_line(reader, &mut line)?;
        let text = String::from_utf8_lossy(&line);
        let mut parts = text.splitn(3, ' ');
        let version = parts.next().unwrap_or_default();
        let status = parts.next().unwrap_or_default();
        let reason = parts.next().unwrap_or_default().to_owned();
        let http10 = match version {
            "HTTP/1.1" => false,
            "HTTP/1.0" => true,
            _ => return Err(invalid(format!("not an HTTP/1.x status line: {text:?}"))),
        };
        let status: u16 = status
            .parse()
            .ok()
            .filter(|s| (100..=999).contains(s))
            .ok_or_else(|| invalid(format!("bad status in {text:?}")))?;
        let mut content_length: Option<u64> = None;
        let mut chunked = false;
        let mut close = http10;
        let mut headers = 0;
        loop {
            read_line(reader, &mut line)?;
            if line.is_empty() {
                break;
            }
            headers += 1;
            if headers > MAX_HEADERS {
                return Err(invalid(format!("more than {MAX_HEADERS} response headers")));
            }
            let text = String::from_utf8_lossy(&line);
            let Some((name, value)) = text.split_once(':') else {
                return Err(invalid(format!("bad header line {text:?}")));
            };
            let value = value.trim();
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => {
                    let len = value
                        .parse()
                        .map_err(|_| invalid(format!("bad Content-Length {value:?}")))?;
                    if content_length.is_some_and(|l| l != len) {
                        return Err(invalid("conflicting Content-Length headers"));
                    }
                    content_length = Some(len);
                }
                "transfer-encoding" => {
                    let last = value.rsplit(',').next().unwrap_or_default().trim();
                    if last.eq_ignore_ascii_case("chunked") {
                        chunked = true;
                    } else {
                        return Err(invalid(format!("unsupported Transfer-Encoding {value:?}")));
                    }
                }
                "connection" => {
                    for token in value.split(',') {
                        let token = token.trim();
                        if token.eq_ignore_ascii_case("close") {
                            close = true;
                        } else if token.eq_ignore_ascii_case("keep-alive") && http10 {
                            close = false;
                        }
                    }
                }
                _ => {}
            }
        }
        if (100..200).contains(&status) {
            continue;
        }
        let mut body = Vec::new();
        if status == 204 || status == 304 {
            // No body, whatever the headers say (RFC 9112 §6.3).
        } else if chunked {
            loop {
                read_line(reader, &mut line)?;
                let text = String::from_utf8_lossy(&line);
                let size = text.split(';').next().unwrap_or_default().trim();
                let size = u64::from_str_radix(size, 16)
                    .map_err(|_| invalid(format!("bad chunk size {text:?}")))?;
                if size == 0 {
                    // Trailers, up to the empty line.
                    let mut trailers = 0;
                    loop {
                        read_line(reader, &mut line)?;
                        if line.is_empty() {
                            break;
                        }
                        trailers += 1;
                        if trailers > MAX_HEADERS {
                            return Err(invalid("too many trailers"));
                        }
                    }
                    break;
                }
                read_body_part(reader, &mut body, size)?;
                read_line(reader, &mut line)?;
                if !line.is_empty() {
                    return Err(invalid("chunk not followed by CRLF"));
                }
            }
        } else if let Some(len) = content_length {
            read_body_part(reader, &mut body, len)?;
        } else {
            // Delimited by the end of the connection.
            close = true;
            let got = reader
                .take(MAX_RESPONSE_BYTES as u64 + 1)
                .read_to_end(&mut body)?;
            if got > MAX_RESPONSE_BYTES {
                return Err(invalid(format!(
                    "response body longer than {MAX_RESPONSE_BYTES} bytes"
                )));
            }
        }
        return Ok(Response {
            status,
            reason,
            body,
            close,
        });
    }
}

/// The start of `body` as text, at most [`MAX_QUOTED_BODY`] bytes, on one line.
pub fn quote_body(body: &[u8]) -> String {
    let cut = body.get(..MAX_QUOTED_BODY).unwrap_or(body);
    let mut text: String = String::from_utf8_lossy(cut)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let trimmed = text.trim_end().len();
    text.truncate(trimmed);
    if body.len() > MAX_QUOTED_BODY {
        text.push('…');
    }
    text
}

/// The first item error of an Elasticsearch `_bulk` answer that says
/// `"errors": true`, as `status type: reason`; `None` if it says no errors.
/// An answer that is not JSON is an error of its own.
pub fn bulk_error(body: &[u8]) -> Result<Option<String>, String> {
    let answer: Value = serde_json::from_slice(body)
        .map_err(|e| format!("_bulk answer is not JSON ({e}): {}", quote_body(body)))?;
    if answer.get("errors").and_then(Value::as_bool) != Some(true) {
        return Ok(None);
    }
    let items = answer.get("items").and_then(Value::as_array);
    let failed = items
        .into_iter()
        .flatten()
        .enumerate()
        .find_map(|(i, item)| {
            let result = item.as_object()?.values().next()?;
            let error = result.get("error")?;
            Some((i, result.get("status").and_then(Value::as_u64), error))
        });
    let Some((i, status, error)) = failed else {
        return Ok(Some(
            "_bulk answer says errors: true but names no item".to_owned(),
        ));
    };
    let mut text = format!("_bulk item {i}");
    if let Some(status) = status {
        let _ = write!(text, " status {status}");
    }
    match error {
        Value::Object(e) => {
            let field = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("");
            let _ = write!(text, ": {}: {}", field("type"), field("reason"));
        }
        other => {
            let _ = write!(text, ": {}", quote_body(other.to_string().as_bytes()));
        }
    }
    Ok(Some(text))
}

/// A plain or TLS connection.
enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => match s.read(buf) {
                // A server that closes without close_notify, after a
                // complete answer, is common; rustls reports it as
                // UnexpectedEof, which the framing already handles.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                other => other,
            },
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// Builds the HTTP sink for `url`. The HEC token is read now, from
/// [`HEC_TOKEN_VAR`]; nothing is connected until the first delivery.
pub fn from_url(url: &str) -> Result<Box<dyn EventSink>, SinkError> {
    Ok(Box::new(HttpSink::from_url(url)?))
}

/// The HTTP [`EventSink`].
pub struct HttpSink {
    name: String,
    url: HttpUrl,
    tls: Option<Arc<ClientConfig>>,
    /// `Authorization` header value, for HEC.
    authorization: Option<String>,
    content_type: &'static str,
    /// `{"create":{"_index":…}}`, for bulk.
    bulk_action: Vec<u8>,
    connection: Option<BufReader<Stream>>,
    request: Vec<u8>,
    body: Vec<u8>,
    connections: u64,
}

impl HttpSink {
    /// Parses `url` (see [`HttpUrl::parse`]), with the HEC token from
    /// [`HEC_TOKEN_VAR`]; connects on first delivery.
    pub fn from_url(url: &str) -> Result<HttpSink, SinkError> {
        let token = std::env::var(HEC_TOKEN_VAR).ok();
        HttpSink::new(url, token.as_deref())
    }

    /// Parses `url` (see [`HttpUrl::parse`]); `hec_token` is the token for
    /// `format=hec` (required there, unused otherwise). Connects on first
    /// delivery.
    pub fn new(url: &str, hec_token: Option<&str>) -> Result<HttpSink, SinkError> {
        let parsed = HttpUrl::parse(url)?;
        let bad = |reason: String| SinkError::BadUrl {
            url: super::remote::redacted(url),
            reason,
        };
        let tls = if parsed.tls {
            Some(tls_config(parsed.ca.as_deref()).map_err(bad)?)
        } else {
            None
        };
        let authorization = match parsed.format {
            Format::Hec => {
                let token = hec_token.unwrap_or_default().trim();
                if token.is_empty() {
                    return Err(bad(format!(
                        "format=hec needs the Splunk HEC token in the environment variable {HEC_TOKEN_VAR}"
                    )));
                }
                if token.bytes().any(|b| !(33..=126).contains(&b)) {
                    return Err(bad(format!(
                        "{HEC_TOKEN_VAR} must be printable ASCII without spaces"
                    )));
                }
                Some(format!("Splunk {token}"))
            }
            _ => None,
        };
        let content_type = match parsed.format {
            Format::Hec => "application/json",
            _ => "application/x-ndjson",
        };
        let bulk_action = match &parsed.format {
            Format::Bulk { index } => {
                serde_json::to_vec(&serde_json::json!({"create": {"_index": index}}))
                    .unwrap_or_default()
            }
            _ => Vec::new(),
        };
        Ok(HttpSink {
            name: parsed.name(),
            url: parsed,
            tls,
            authorization,
            content_type,
            bulk_action,
            connection: None,
            request: Vec::new(),
            body: Vec::new(),
            connections: 0,
        })
    }

    /// Connections opened since the sink was built.
    pub fn connections(&self) -> u64 {
        self.connections
    }

    fn io_error(&self, source: io::Error) -> SinkError {
        SinkError::Io {
            target: self.name.clone(),
            source,
        }
    }

    fn connect(&mut self) -> io::Result<BufReader<Stream>> {
        let addrs: Vec<SocketAddr> = (self.url.host.as_str(), self.url.port)
            .to_socket_addrs()?
            .collect();
        let mut last = io::Error::new(io::ErrorKind::NotFound, "host has no address");
        for addr in addrs {
            let attempt = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).and_then(|sock| {
                sock.set_read_timeout(Some(IO_TIMEOUT))?;
                sock.set_write_timeout(Some(IO_TIMEOUT))?;
                sock.set_nodelay(true)?;
                match &self.tls {
                    None => Ok(Stream::Plain(sock)),
                    Some(config) => self.tls_handshake(Arc::clone(config), sock),
                }
            });
            match attempt {
                Ok(stream) => {
                    self.connections += 1;
                    return Ok(BufReader::new(stream));
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Completes the TLS handshake on `sock`, within [`CONNECT_TIMEOUT`] per read.
    fn tls_handshake(&self, config: Arc<ClientConfig>, mut sock: TcpStream) -> io::Result<Stream> {
        let server_name = ServerName::try_from(self.url.host.clone())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let mut conn = ClientConnection::new(config, server_name).map_err(io::Error::other)?;
        sock.set_read_timeout(Some(CONNECT_TIMEOUT))?;
        while conn.is_handshaking() {
            conn.complete_io(&mut sock)?;
        }
        sock.set_read_timeout(Some(IO_TIMEOUT))?;
        Ok(Stream::Tls(Box::new(StreamOwned::new(conn, sock))))
    }

    /// Builds the request for `self.body` into `self.request`.
    fn build_request(&mut self) {
        let req = &mut self.request;
        req.clear();
        let mut head = String::with_capacity(256);
        let _ = write!(
            head,
            "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: medtap/{}\r\n\
             Content-Type: {}\r\nContent-Length: {}\r\nConnection: keep-alive\r\n",
            self.url.path,
            self.url.authority(),
            env!("CARGO_PKG_VERSION"),
            self.content_type,
            self.body.len()
        );
        if let Some(auth) = &self.authorization {
            let _ = write!(head, "Authorization: {auth}\r\n");
        }
        head.push_str("\r\n");
        req.extend_from_slice(head.as_bytes());
        req.extend_from_slice(&self.body);
    }

    /// Sends the built request and reads the answer, on the kept-alive
    /// connection if there is one. If that connection turns out to have been
    /// closed by the server before any answer, the request goes once more on
    /// a new connection.
    fn exchange(&mut self) -> io::Result<Response> {
        let reused = self.connection.is_some();
        match self.exchange_once() {
            Err(Failure { error, stale: true }) if reused => {
                tracing::debug!(sink = %self.name, "kept-alive connection was closed, reconnecting: {error}");
                self.exchange_once().map_err(|f| f.error)
            }
            other => other.map_err(|f| f.error),
        }
    }

    fn exchange_once(&mut self) -> Result<Response, Failure> {
        let early = |error: io::Error| Failure { error, stale: true };
        let mut conn = match self.connection.take() {
            Some(conn) => conn,
            None => self.connect().map_err(|error| Failure {
                error,
                stale: false,
            })?,
        };
        conn.get_mut().write_all(&self.request).map_err(early)?;
        conn.get_mut().flush().map_err(early)?;
        // Nothing at all before the end or a reset: the server had closed.
        if conn.fill_buf().map_err(early)?.is_empty() {
            return Err(early(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed before the response",
            )));
        }
        let response = read_response(&mut conn).map_err(|error| Failure {
            error,
            stale: false,
        })?;
        if !response.close && conn.buffer().is_empty() {
            self.connection = Some(conn);
        }
        Ok(response)
    }

    /// One `POST` of `self.body`, and what its answer means.
    fn post(&mut self) -> Result<(), SinkError> {
        self.build_request();
        let response = self.exchange().map_err(|e| {
            self.connection = None;
            self.io_error(e)
        })?;
        let status = response.status;
        let what = || {
            format!(
                "HTTP {status} {}: {}",
                response.reason.trim(),
                quote_body(&response.body)
            )
        };
        match status {
            200..=299 => {}
            408 | 429 | 500..=599 => {
                return Err(self.io_error(io::Error::other(what())));
            }
            _ => {
                return Err(SinkError::Refused {
                    target: self.name.clone(),
                    reason: what(),
                });
            }
        }
        if let Format::Bulk { .. } = self.url.format {
            match bulk_error(&response.body) {
                Ok(None) => {}
                Ok(Some(reason)) | Err(reason) => {
                    return Err(SinkError::Refused {
                        target: self.name.clone(),
                        reason,
                    });
                }
            }
        }
        Ok(())
    }
}

/// A failed exchange; `stale` when it failed before any byte of an answer
/// (the server may have closed a kept-alive connection while it was idle).
struct Failure {
    error: io::Error,
    stale: bool,
}

impl EventSink for HttpSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn deliver(&mut self, events: &[&[u8]]) -> Result<(), SinkError> {
        let format = self.url.format.clone();
        let mut body = std::mem::take(&mut self.body);
        body.clear();
        let mut result = Ok(());
        for event in events {
            let before = body.len();
            write_event(&mut body, &format, &self.bulk_action, event);
            if body.len() > MAX_BATCH_BYTES && before > 0 {
                // Send what came before this event; it starts the next body.
                let tail = body.split_off(before);
                self.body = body;
                result = self.post();
                body = std::mem::take(&mut self.body);
                body.clear();
                body.extend_from_slice(&tail);
                if result.is_err() {
                    break;
                }
            }
        }
        if result.is_ok() && !body.is_empty() {
            self.body = body;
            result = self.post();
        } else {
            self.body = body;
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_defaults_and_options() {
        let u = HttpUrl::parse("https://siem.example/services/collector?format=hec").expect("url");
        assert!(u.tls);
        assert_eq!((u.host.as_str(), u.port), ("siem.example", 443));
        assert_eq!(u.path, "/services/collector");
        assert_eq!(u.format, Format::Hec);
        let u = HttpUrl::parse("http://[::1]:9200/_bulk?format=bulk&index=eve-1").expect("url");
        assert_eq!((u.host.as_str(), u.port), ("::1", 9200));
        assert_eq!(
            u.format,
            Format::Bulk {
                index: "eve-1".into()
            }
        );
        assert_eq!(u.name(), "http://[::1]:9200/_bulk");
        let u = HttpUrl::parse("http://h?format=ndjson").expect("url");
        assert_eq!((u.port, u.path.as_str()), (80, "/"));
        let u = HttpUrl::parse("http://h/_bulk?format=bulk").expect("url");
        assert_eq!(
            u.format,
            Format::Bulk {
                index: DEFAULT_INDEX.into()
            }
        );
    }

    #[test]
    fn bad_urls_say_why() {
        for (url, needle) in [
            ("http://h/x", "missing format"),
            ("http://h/x?format=xml", "ndjson, hec or bulk"),
            ("http://u:p@h/x?format=ndjson", "credentials"),
            ("http://h:0/x?format=ndjson", "port"),
            ("http://h/x?format=ndjson&index=a", "only to format=bulk"),
            ("http://h/x?format=bulk&index=Upper", "index"),
            ("http://h/x?format=ndjson&ca=/tmp/ca.pem", "https only"),
            ("http://h/x?format=ndjson&retries=3", "unknown parameter"),
            ("ftp://h/x?format=ndjson", "http or https"),
        ] {
            match HttpUrl::parse(url) {
                Err(SinkError::BadUrl { reason, url: shown }) => {
                    assert!(reason.contains(needle), "{url}: {reason}");
                    assert!(!shown.contains("u:p"), "{shown}");
                }
                other => panic!("{url}: {other:?}"),
            }
        }
    }

    #[test]
    fn epoch_seconds_keep_the_fraction_exactly() {
        assert_eq!(epoch_seconds("1970-01-01T00:00:01Z").as_deref(), Some("1"));
        assert_eq!(
            epoch_seconds("2024-05-01T10:00:00.123456Z").as_deref(),
            Some("1714557600.123456")
        );
        assert_eq!(epoch_seconds("2024-05-01 10:00:00Z"), None);
    }

    #[test]
    fn hec_envelope_without_timestamp_has_no_time() {
        let mut out = Vec::new();
        write_hec_event(&mut out, br#"{"event_type":"stats"}"#);
        assert_eq!(
            out,
            br#"{"sourcetype":"medtap:stats","source":"medtap","event":{"event_type":"stats"}}"#
        );
    }

    #[test]
    fn chunked_response_with_extension_and_trailer() {
        let raw =
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                    4;x=y\r\nWiki\r\n5\r\npedia\r\n0\r\nX-T: 1\r\n\r\n";
        let mut reader = &raw[..];
        let r = read_response(&mut reader).expect("parses");
        assert_eq!(
            (r.status, r.body.as_slice(), r.close),
            (200, &b"Wikipedia"[..], false)
        );
        assert!(reader.is_empty());
    }

    #[test]
    fn response_without_length_ends_with_the_connection() {
        let mut reader = &b"HTTP/1.0 400 Bad\r\n\r\nno"[..];
        let r = read_response(&mut reader).expect("parses");
        assert_eq!(
            (r.status, r.body.as_slice(), r.close),
            (400, &b"no"[..], true)
        );
    }

    #[test]
    fn truncated_body_is_an_error() {
        let mut reader = &b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"[..];
        assert!(read_response(&mut reader).is_err());
    }

    #[test]
    fn bulk_error_names_the_first_failed_item() {
        let body = br#"{"took":3,"errors":true,"items":[
            {"create":{"_index":"m","status":201}},
            {"create":{"_index":"m","status":400,"error":{"type":"mapper_parsing_exception","reason":"bad field"}}}]}"#;
        assert_eq!(
            bulk_error(body).expect("json").as_deref(),
            Some("_bulk item 1 status 400: mapper_parsing_exception: bad field")
        );
        assert_eq!(bulk_error(br#"{"errors":false,"items":[]}"#), Ok(None));
        assert!(bulk_error(b"<html>").is_err());
    }

    #[test]
    fn quoted_body_is_bounded_and_on_one_line() {
        let long = vec![b'a'; MAX_QUOTED_BODY * 2];
        let q = quote_body(&long);
        assert_eq!(q.chars().count(), MAX_QUOTED_BODY + 1);
        assert_eq!(quote_body(b"a\nb\n"), "a b");
    }
}
