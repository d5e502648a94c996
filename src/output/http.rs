//! The HTTP(S) sink: each batch of events is one `POST`, as newline-delimited
//! events, as Splunk HTTP Event Collector events, or as an Elasticsearch
//! `_bulk` request.
//!
//! The URL is `http[s]://HOST[:PORT]/PATH?api=ndjson|hec|bulk[&index=NAME]
//! [&ca=FILE][&token_file=PATH][&format=…][&max_size=N]`; see
//! `docs/outputs-http.md` (`format=ndjson|hec|bulk`, the older spelling of
//! `api=`, is still understood). HTTP/1.1 is written by hand over a blocking
//! connection from [`super::net`] (inside rustls for `https`): the sink
//! sends only `POST` with a `Content-Length`, and reads only a status line,
//! headers and a body framed by `Content-Length`, `chunked` or the end of
//! the connection. The connection is kept alive between batches.
//!
//! Guarantees:
//! - one [`EventSink::deliver`] call is one `POST`, or several in order when
//!   the body would pass [`MAX_BATCH_BYTES`]; events keep their order within
//!   and across calls;
//! - a 2xx answer is success (for `bulk`, only when the answer does not say
//!   `"errors": true`);
//! - 408, 429, 5xx, a broken connection or a malformed answer are
//!   [`SinkError::Io`], which the sink thread retries (spooling meanwhile);
//!   401 and 403 are [`SinkError::Auth`] (a wrong or missing token: a setup
//!   error); any other status is [`SinkError::Refused`] with the status and
//!   the start of the body;
//! - a kept-alive connection that the server closed while idle is noticed on
//!   the next request and that request is sent once more on a new connection.
//!
//! Delivery is at least once: after a failure the receiver may hold part of
//! the batch, and a retry sends all of it again. What it refuses: user
//! information in the URL, an unknown option, `api=hec` without a token
//! (`token_file=` or `MEDTAP_HEC_TOKEN`), `api=bulk` with a format that is
//! not JSON — each a [`SinkError::BadUrl`].

use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use super::encode::{Encoder, Head, Outgoing, Tally};
use super::net::{self, Endpoint, Stream, Timeouts};
use super::secret::{self, Secret};
use super::sink::{EventSink, SinkError};
use super::target::{SinkUrl, UrlError};

/// The environment variable that holds the Splunk HEC token when the URL
/// names no `token_file=`.
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

/// What each request body is (`api=`).
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
#[derive(Debug, Clone)]
pub struct HttpUrl {
    /// `https`.
    pub tls: bool,
    /// Host name or address (IPv6 without its brackets).
    pub host: String,
    /// Port.
    pub port: u16,
    /// The request target: the path, starting with `/`.
    pub path: String,
    /// The body shape.
    pub format: Format,
    /// The event format and size limit.
    pub encoder: Encoder,
    /// For `https`: the PEM file of the authorities to trust instead of the
    /// Mozilla roots.
    pub ca: Option<PathBuf>,
    /// `token_file=`: where the HEC token is.
    pub token_file: Option<PathBuf>,
    /// The URL as shown.
    pub target: SinkUrl,
}

impl HttpUrl {
    /// Parses `http[s]://HOST[:PORT][/PATH]?api=ndjson|hec|bulk`, with
    /// `index=NAME` for `bulk`, `ca=FILE` for `https`, `token_file=PATH` for
    /// `hec`, and every sink's `format=` and `max_size=`. IPv6 hosts are
    /// bracketed. The query names medtap's options only; it is not sent.
    pub fn parse(url: &str) -> Result<HttpUrl, SinkError> {
        Ok(HttpUrl::from_target(SinkUrl::parse(url)?)?)
    }

    /// The same, from a parsed URL.
    pub fn from_target(mut target: SinkUrl) -> Result<HttpUrl, UrlError> {
        let tls = match target.scheme() {
            "http" => false,
            "https" => true,
            _ => return Err(target.error("scheme must be http or https")),
        };
        if target.host().is_empty() {
            return Err(target.error("no host"));
        }
        target.refuse_credentials(
            "credentials in the URL are not supported (the HEC token comes from token_file= or MEDTAP_HEC_TOKEN)",
        )?;
        target.default_port(if tls {
            DEFAULT_HTTPS_PORT
        } else {
            DEFAULT_HTTP_PORT
        });
        let path = match target.path() {
            "" => "/".to_owned(),
            p => p.to_owned(),
        };
        let api = match (target.take("api"), target.take("format")) {
            (Some(_), Some(_)) => {
                return Err(
                    target.error("api= and the older format=ndjson|hec|bulk are both given")
                );
            }
            (api, old) => api.or(old),
        };
        let index = target.take("index");
        if let Some(name) = &index
            && !valid_index(name)
        {
            return Err(target.error(
                "index must be a lowercase Elasticsearch index name \
                 (no \\ / * ? \" < > | , # : or spaces, not starting with - _ +)",
            ));
        }
        let ca = match target.take("ca") {
            Some(path) if tls && !path.is_empty() => Some(PathBuf::from(path)),
            Some(_) => return Err(target.error("ca=FILE is for https only")),
            None => None,
        };
        let token_file = target.take("token_file").map(PathBuf::from);
        target.finish()?;
        let format = match (api.as_deref(), index) {
            (Some("ndjson"), None) => Format::Ndjson,
            (Some("hec"), None) => Format::Hec,
            (Some("bulk"), index) => Format::Bulk {
                index: index.unwrap_or_else(|| DEFAULT_INDEX.to_owned()),
            },
            (Some("ndjson" | "hec"), Some(_)) => {
                return Err(target.error("index= applies only to api=bulk"));
            }
            (Some(_), _) => return Err(target.error("api must be ndjson, hec or bulk")),
            (None, _) => return Err(target.error("missing api=ndjson, api=hec or api=bulk")),
        };
        if token_file.is_some() && format != Format::Hec {
            return Err(target.error("token_file= applies only to api=hec"));
        }
        let encoder = Encoder::new(target.format(), target.max_size().unwrap_or(usize::MAX));
        if matches!(format, Format::Bulk { .. }) && !encoder.format.is_json() {
            return Err(target.error(format!(
                "Elasticsearch _bulk takes JSON documents: format={} is not JSON",
                encoder.format.name()
            )));
        }
        Ok(HttpUrl {
            tls,
            host: target.host().to_owned(),
            port: target.port().unwrap_or(DEFAULT_HTTP_PORT),
            path,
            format,
            encoder,
            ca,
            token_file,
            target,
        })
    }

    /// The URL as shown in logs: no credentials, no secret values.
    fn name(&self) -> String {
        self.target.to_string()
    }

    /// `HOST:PORT`, bracketed for IPv6: the `Host` header.
    fn authority(&self) -> String {
        self.target.authority()
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

/// Appends the HEC envelope of one event (its EVE JSON object) to `out`,
/// without a newline. `time` is left out when the event has no usable
/// timestamp (the collector then uses its receipt time).
pub fn write_hec_event(out: &mut Vec<u8>, event: &[u8]) {
    write_hec_envelope(out, &Outgoing::bare(event).head(), event, true);
}

/// The same, with `body` (the event in the sink's format) as the `event`
/// member: as is when `json`, as a JSON string otherwise.
fn write_hec_envelope(out: &mut Vec<u8>, head: &Head<'_>, body: &[u8], json: bool) {
    let time = head.epoch_seconds();
    let event_type = head.event_type().unwrap_or("unknown");
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
    if json {
        out.extend_from_slice(body);
    } else {
        // A string always serialises.
        let _ = serde_json::to_writer(&mut *out, &String::from_utf8_lossy(body));
    }
    out.push(b'}');
}

/// Appends one event's part of a request body to `out`, with its newline;
/// nothing when the event is left out for its size.
fn write_event(
    out: &mut Vec<u8>,
    format: &Format,
    encoder: &Encoder,
    bulk_action: &[u8],
    outgoing: &Outgoing<'_>,
    tally: &mut Tally,
) {
    let event = outgoing.eve;
    let start = out.len();
    match format {
        Format::Ndjson => {
            if !encoder.encode(event, usize::MAX, out, tally) {
                return;
            }
        }
        Format::Hec => {
            if encoder.is_eve() && event.len() <= encoder.max_size {
                write_hec_envelope(out, &outgoing.head(), event, true);
            } else {
                let mut body = Vec::new();
                if !encoder.encode(event, usize::MAX, &mut body, tally) {
                    return;
                }
                write_hec_envelope(out, &outgoing.head(), &body, encoder.format.is_json());
            }
        }
        Format::Bulk { .. } => {
            out.extend_from_slice(bulk_action);
            out.push(b'\n');
            if !encoder.encode(event, usize::MAX, out, tally) {
                out.truncate(start);
                return;
            }
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

/// Builds the HTTP sink for `url`. The HEC token is read now, from
/// `token_file=` or [`HEC_TOKEN_VAR`]; nothing is connected until the first
/// delivery.
pub fn from_url(url: &str) -> Result<Box<dyn EventSink>, SinkError> {
    Ok(Box::new(HttpSink::from_url(url)?))
}

/// The same, from a parsed URL.
pub fn from_target(target: SinkUrl) -> Result<Box<dyn EventSink>, SinkError> {
    let url = HttpUrl::from_target(target)?;
    let token = hec_token(&url)?;
    Ok(Box::new(HttpSink::with_url(url, token)?))
}

/// The HEC token of `url`: from its `token_file=`, else from
/// [`HEC_TOKEN_VAR`]; `None` for other APIs.
fn hec_token(url: &HttpUrl) -> Result<Option<Secret>, SinkError> {
    if url.format != Format::Hec {
        return Ok(None);
    }
    match &url.token_file {
        Some(path) => secret::read_file("token", path)
            .map(Some)
            .map_err(|e| url.target.error(e.to_string()).into()),
        None => Ok(secret::from_env(HEC_TOKEN_VAR)),
    }
}

/// The HTTP [`EventSink`].
pub struct HttpSink {
    name: String,
    url: HttpUrl,
    endpoint: Endpoint,
    /// `Authorization` header value, for HEC.
    authorization: Option<Secret>,
    content_type: &'static str,
    /// `{"create":{"_index":…}}`, for bulk.
    bulk_action: Vec<u8>,
    connection: Option<BufReader<Stream>>,
    request: Vec<u8>,
    body: Vec<u8>,
    connections: u64,
    tally: Tally,
}

impl HttpSink {
    /// Parses `url` (see [`HttpUrl::parse`]), with the HEC token from
    /// `token_file=` or [`HEC_TOKEN_VAR`]; connects on first delivery.
    pub fn from_url(url: &str) -> Result<HttpSink, SinkError> {
        let parsed = HttpUrl::parse(url)?;
        let token = hec_token(&parsed)?;
        HttpSink::with_url(parsed, token)
    }

    /// Parses `url` (see [`HttpUrl::parse`]); `hec_token` is the token for
    /// `api=hec` (required there, unused otherwise). Connects on first
    /// delivery.
    pub fn new(url: &str, hec_token: Option<&str>) -> Result<HttpSink, SinkError> {
        let parsed = HttpUrl::parse(url)?;
        HttpSink::with_url(parsed, hec_token.map(|t| Secret::new(t.to_owned())))
    }

    fn with_url(parsed: HttpUrl, hec_token: Option<Secret>) -> Result<HttpSink, SinkError> {
        let bad = |reason: String| SinkError::from(parsed.target.error(reason));
        let tls = if parsed.tls {
            Some(net::tls_config(parsed.ca.as_deref()).map_err(|e| bad(e.to_string()))?)
        } else {
            None
        };
        let authorization = match parsed.format {
            Format::Hec => {
                let token = hec_token.as_ref().map_or("", |t| t.expose().trim());
                if token.is_empty() {
                    return Err(bad(format!(
                        "api=hec needs the Splunk HEC token, in token_file= or the environment variable {HEC_TOKEN_VAR}"
                    )));
                }
                if token.bytes().any(|b| !(33..=126).contains(&b)) {
                    return Err(bad(
                        "the HEC token must be printable ASCII without spaces".to_owned()
                    ));
                }
                Some(Secret::new(format!("Splunk {token}")))
            }
            _ => None,
        };
        let content_type = match (&parsed.format, parsed.encoder.format.is_json()) {
            (Format::Hec, _) => "application/json",
            (_, true) => "application/x-ndjson",
            (_, false) => "text/plain; charset=utf-8",
        };
        let bulk_action = match &parsed.format {
            Format::Bulk { index } => {
                serde_json::to_vec(&serde_json::json!({"create": {"_index": index}}))
                    .unwrap_or_default()
            }
            _ => Vec::new(),
        };
        let endpoint = Endpoint {
            host: parsed.host.clone(),
            port: parsed.port,
            tls,
            timeouts: Timeouts {
                connect: CONNECT_TIMEOUT,
                read: Some(IO_TIMEOUT),
                write: IO_TIMEOUT,
            },
        };
        Ok(HttpSink {
            name: parsed.name(),
            url: parsed,
            endpoint,
            authorization,
            content_type,
            bulk_action,
            connection: None,
            request: Vec::new(),
            body: Vec::new(),
            connections: 0,
            tally: Tally::default(),
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
        let stream = self.endpoint.connect()?;
        self.connections += 1;
        Ok(BufReader::new(stream))
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
            let _ = write!(head, "Authorization: {}\r\n", auth.expose());
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
            401 | 403 => {
                return Err(SinkError::Auth {
                    target: self.name.clone(),
                    reason: what(),
                });
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

    fn deliver_events(&mut self, events: &[Outgoing<'_>]) -> Result<(), SinkError> {
        let format = self.url.format.clone();
        let encoder = self.url.encoder;
        let mut tally = Tally::default();
        let mut body = std::mem::take(&mut self.body);
        body.clear();
        let mut result = Ok(());
        for event in events {
            let before = body.len();
            write_event(
                &mut body,
                &format,
                &encoder,
                &self.bulk_action,
                event,
                &mut tally,
            );
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
        self.tally = tally;
        result
    }

    fn take_tally(&mut self) -> Tally {
        std::mem::take(&mut self.tally)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::format::epoch_seconds;

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
        assert_eq!(u.name(), "http://[::1]:9200/_bulk?format=bulk&index=eve-1");
        let u = HttpUrl::parse("http://h/in?api=ndjson&format=cef&max_size=1000").expect("url");
        assert_eq!(u.format, Format::Ndjson);
        assert_eq!(
            (u.encoder.format, u.encoder.max_size),
            (crate::output::format::Format::Cef, 1000)
        );
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
            ("http://h/x", "missing api"),
            ("http://h/_bulk?api=bulk&format=cef", "not JSON"),
            ("http://h/x?api=ndjson&format=hec", "both given"),
            ("http://h/x?api=ndjson&token_file=/t", "only to api=hec"),
            ("http://h/x?format=xml", "ndjson, hec or bulk"),
            ("http://u:p@h/x?format=ndjson", "credentials"),
            ("http://h:0/x?format=ndjson", "port"),
            ("http://h/x?format=ndjson&index=a", "only to api=bulk"),
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
