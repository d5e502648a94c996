//! The Redis sink, as Suricata's EVE `redis` output: each event is pushed onto
//! a list (`RPUSH`) or appended to a stream (`XADD`), over TCP (`redis://`)
//! or TLS (`rediss://`) speaking RESP2.
//!
//! The URL is `redis[s]://[USER[:PASSWORD]@]HOST[:PORT]/KEY[?mode=rpush|xadd]
//! [&maxlen=N][&password_file=PATH][&ca=PATH]`; see `docs/outputs-redis.md`.
//! The protocol is small enough to speak by hand: commands go out as arrays
//! of bulk strings ([`encode_command`]), replies come back as simple strings,
//! errors, integers, bulk strings or arrays ([`parse_reply`]). A blocking
//! stream with timeouts ([`super::net`]) is all the sink needs, since it runs
//! on its own thread.
//!
//! Guarantees:
//! - with a password, `AUTH` is the first command of every connection, and
//!   nothing else is sent on it until the server has accepted it;
//! - one [`EventSink::deliver`] call is one write: every command of the batch
//!   is pipelined, then every reply is read, so a batch costs one round trip;
//! - events arrive in order, byte for byte (bulk strings are binary safe);
//! - a refused `AUTH`, or a command refused for want of it (`NOAUTH`,
//!   `NOPERM`, `WRONGPASS`), is [`SinkError::Auth`]: a setup error;
//! - any other error reply from the server is [`SinkError::Refused`]; the
//!   connection stays usable, since every reply of the batch is still read;
//! - any I/O or protocol error is [`SinkError::Io`] and drops the connection;
//!   the next call connects again.
//!
//! What it refuses: `SELECT` is not spoken, so a database number is a
//! [`SinkError::BadUrl`], as is a password given two ways. Delivery is at
//! least once: after an I/O error the server may hold part of the batch,
//! and a retry sends all of it again.

use std::borrow::Cow;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use super::encode::{Encoder, Outgoing, Tally};
use super::net::{self, Endpoint, Stream, Timeouts};
use super::secret::{self, Secret};
use super::sink::{EventSink, SinkError};
use super::target::{SinkUrl, UrlError};

/// The environment variable a Redis password is taken from when the URL
/// gives none (in the URL or as `password_file=`).
pub const PASSWORD_VAR: &str = "MEDTAP_REDIS_PASSWORD";
/// Port used when the URL names none.
pub const DEFAULT_PORT: u16 = 6379;
/// Events in one `RPUSH` command at most; a larger batch is sent as several
/// commands, still in one write.
pub const MAX_EVENTS_PER_COMMAND: usize = 1000;
/// Time allowed to open the TCP connection, per resolved address.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time allowed for one read or one write on the connection to block.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes of replies buffered at most while waiting for one reply to complete.
/// The sink's replies are an integer or a stream id; anything near this size
/// is a server speaking something else.
pub const MAX_REPLY_BYTES: usize = 64 * 1024;
/// Bytes of one simple string, error or length line at most (RESP2 has no
/// limit; this bounds what a broken peer can make the parser scan).
pub const MAX_LINE_BYTES: usize = 64 * 1024;
/// Bytes of one bulk string at most: Redis's own `proto-max-bulk-len` default.
pub const MAX_BULK_BYTES: i64 = 512 * 1024 * 1024;
/// Nesting of arrays at most in one reply.
pub const MAX_REPLY_DEPTH: usize = 8;

const CRLF: &[u8] = b"\r\n";

/// One RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK\r\n`
    Simple(String),
    /// `-ERR message\r\n`
    Error(String),
    /// `:1000\r\n`
    Integer(i64),
    /// `$5\r\nhello\r\n`; `None` is the null bulk string `$-1\r\n`.
    Bulk(Option<Vec<u8>>),
    /// `*2\r\n…`; `None` is the null array `*-1\r\n`.
    Array(Option<Vec<Reply>>),
}

/// The outcome of parsing the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed<T> {
    /// A whole item, and the bytes it took.
    Done {
        /// The item.
        item: T,
        /// Bytes consumed from the start of the buffer.
        consumed: usize,
    },
    /// The buffer ends before the item does: read more and parse again.
    Incomplete,
}

/// Why bytes are not a RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RespError {
    /// The first byte of a reply is not `+ - : $ *`.
    #[error("unknown reply type byte 0x{0:02x}")]
    UnknownType(u8),
    /// A `\r` not followed by `\n`, or a bulk string not followed by `\r\n`.
    #[error("missing CRLF at offset {0}")]
    MissingCrlf(usize),
    /// A line longer than [`MAX_LINE_BYTES`].
    #[error("line longer than {MAX_LINE_BYTES} bytes")]
    LineTooLong,
    /// An integer or length that is not a decimal `i64`.
    #[error("bad integer {0:?}")]
    BadInteger(String),
    /// A length below -1, or a bulk string longer than [`MAX_BULK_BYTES`].
    #[error("bad length {0}")]
    BadLength(i64),
    /// Arrays nested deeper than [`MAX_REPLY_DEPTH`].
    #[error("arrays nested deeper than {MAX_REPLY_DEPTH}")]
    TooDeep,
}

/// Appends one command to `out` as a RESP2 array of bulk strings:
/// `*<count>\r\n` then `$<len>\r\n<bytes>\r\n` per argument.
pub fn encode_command(out: &mut Vec<u8>, args: &[&[u8]]) {
    push_header(out, b'*', args.len());
    for arg in args {
        push_bulk(out, arg);
    }
}

fn push_header(out: &mut Vec<u8>, kind: u8, n: usize) {
    out.push(kind);
    out.extend_from_slice(n.to_string().as_bytes());
    out.extend_from_slice(CRLF);
}

fn push_bulk(out: &mut Vec<u8>, arg: &[u8]) {
    push_header(out, b'$', arg.len());
    out.extend_from_slice(arg);
    out.extend_from_slice(CRLF);
}

/// Parses one reply from the start of `input`. Never panics; never trusts a
/// length before the bytes it announces are there.
pub fn parse_reply(input: &[u8]) -> Result<Parsed<Reply>, RespError> {
    parse_at(input, 0, 0)
}

/// Parses the reply starting at `pos`; `consumed` is counted from 0.
fn parse_at(input: &[u8], pos: usize, depth: usize) -> Result<Parsed<Reply>, RespError> {
    let Some(&kind) = input.get(pos) else {
        return Ok(Parsed::Incomplete);
    };
    if !matches!(kind, b'+' | b'-' | b':' | b'$' | b'*') {
        return Err(RespError::UnknownType(kind));
    }
    let Some((line, after_line)) = line_at(input, pos + 1)? else {
        return Ok(Parsed::Incomplete);
    };
    let text = || String::from_utf8_lossy(line).into_owned();
    let done = |item, end: usize| {
        Ok(Parsed::Done {
            item,
            consumed: end,
        })
    };
    match kind {
        b'+' => done(Reply::Simple(text()), after_line),
        b'-' => done(Reply::Error(text()), after_line),
        b':' => done(Reply::Integer(integer(line)?), after_line),
        b'$' => {
            let len = integer(line)?;
            if len == -1 {
                return done(Reply::Bulk(None), after_line);
            }
            if !(0..=MAX_BULK_BYTES).contains(&len) {
                return Err(RespError::BadLength(len));
            }
            // Bounded by MAX_BULK_BYTES above, so this fits a usize.
            let end = after_line + len as usize;
            let Some(rest) = input.get(end..end + 2) else {
                return Ok(Parsed::Incomplete);
            };
            if rest != CRLF {
                return Err(RespError::MissingCrlf(end));
            }
            let bytes = input.get(after_line..end).unwrap_or_default().to_vec();
            done(Reply::Bulk(Some(bytes)), end + 2)
        }
        _ => {
            let count = integer(line)?;
            if count == -1 {
                return done(Reply::Array(None), after_line);
            }
            if count < 0 {
                return Err(RespError::BadLength(count));
            }
            if depth >= MAX_REPLY_DEPTH {
                return Err(RespError::TooDeep);
            }
            // Every element takes at least 3 bytes (`+\r\n`), so a count
            // larger than what is buffered cannot be complete yet; this also
            // keeps a hostile count from reserving memory.
            let remaining = input.len().saturating_sub(after_line);
            if count as u64 > (remaining / 3) as u64 {
                return Ok(Parsed::Incomplete);
            }
            let mut items = Vec::with_capacity(count as usize);
            let mut at = after_line;
            for _ in 0..count {
                match parse_at(input, at, depth + 1)? {
                    Parsed::Done { item, consumed } => {
                        items.push(item);
                        at = consumed;
                    }
                    Parsed::Incomplete => return Ok(Parsed::Incomplete),
                }
            }
            done(Reply::Array(Some(items)), at)
        }
    }
}

/// The line starting at `start` (without its CRLF) and the offset after the
/// CRLF, or `None` if the CRLF is not buffered yet.
fn line_at(input: &[u8], start: usize) -> Result<Option<(&[u8], usize)>, RespError> {
    let rest = input.get(start..).unwrap_or_default();
    let Some(cr) = memchr::memchr(b'\r', rest) else {
        if rest.len() > MAX_LINE_BYTES {
            return Err(RespError::LineTooLong);
        }
        return Ok(None);
    };
    if cr > MAX_LINE_BYTES {
        return Err(RespError::LineTooLong);
    }
    match rest.get(cr + 1) {
        None => Ok(None),
        Some(b'\n') => Ok(Some((rest.get(..cr).unwrap_or_default(), start + cr + 2))),
        Some(_) => Err(RespError::MissingCrlf(start + cr)),
    }
}

fn integer(line: &[u8]) -> Result<i64, RespError> {
    let bad = || RespError::BadInteger(String::from_utf8_lossy(line).into_owned());
    let text = std::str::from_utf8(line).map_err(|_| bad())?;
    // `i64::from_str` accepts a leading `+`, which RESP does not.
    if text.starts_with('+') {
        return Err(bad());
    }
    text.parse().map_err(|_| bad())
}

/// How events are stored under the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `RPUSH key event…`: each event is one list element.
    Rpush,
    /// `XADD key [MAXLEN ~ n] * event <json>`: each event is one stream entry
    /// with the single field `event`.
    Xadd {
        /// Trim the stream to about this many entries.
        maxlen: Option<u64>,
    },
}

/// A parsed `redis://` or `rediss://` URL.
#[derive(Debug, Clone)]
struct Target {
    host: String,
    port: u16,
    key: Vec<u8>,
    mode: Mode,
    tls: bool,
    ca: Option<PathBuf>,
    user: Option<String>,
    /// `password_file=`, read when the sink is built.
    password_file: Option<PathBuf>,
    url: SinkUrl,
}

impl Target {
    fn name(&self) -> String {
        self.url.to_string()
    }
}

#[cfg(test)]
fn parse_url(url: &str) -> Result<Target, SinkError> {
    Ok(target_of(SinkUrl::parse(url)?)?)
}

fn target_of(mut url: SinkUrl) -> Result<Target, UrlError> {
    let tls = match url.scheme() {
        "redis" => false,
        "rediss" => true,
        _ => return Err(url.error("expected redis:// or rediss://HOST[:PORT]/KEY")),
    };
    if url.host().is_empty() {
        return Err(url.error("missing host"));
    }
    url.default_port(DEFAULT_PORT);
    let path = url.path().strip_prefix('/').unwrap_or_default().to_owned();
    let key = percent_decode(&path).ok_or_else(|| url.error("bad %-escape in KEY"))?;
    if key.is_empty() {
        return Err(url.error("missing /KEY after the host"));
    }
    let mut xadd = false;
    let mut maxlen = None;
    match url.take("mode").as_deref() {
        None | Some("rpush") => {}
        Some("xadd") => xadd = true,
        Some(_) => return Err(url.error("mode is rpush or xadd")),
    }
    if let Some(n) = url.take("maxlen") {
        maxlen = Some(
            n.parse::<u64>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| url.error("maxlen is a positive integer"))?,
        );
    }
    let ca = match url.take("ca") {
        Some(path) if tls && !path.is_empty() => Some(PathBuf::from(path)),
        Some(_) => return Err(url.error("ca=PATH is for rediss only")),
        None => None,
    };
    let password_file = url.take("password_file").map(PathBuf::from);
    if password_file.is_some() && url.password().is_some() {
        return Err(url.error("the password is given twice (in the URL and as password_file=)"));
    }
    if url.take("db").is_some() {
        return Err(url.error("db= is not supported (SELECT is not spoken)"));
    }
    url.finish()?;
    let mode = match (xadd, maxlen) {
        (true, maxlen) => Mode::Xadd { maxlen },
        (false, None) => Mode::Rpush,
        (false, Some(_)) => return Err(url.error("maxlen applies only to mode=xadd")),
    };
    Ok(Target {
        host: url.host().to_owned(),
        port: url.port().unwrap_or(DEFAULT_PORT),
        key,
        mode,
        tls,
        ca,
        user: url.user().map(str::to_owned),
        password_file,
        url,
    })
}

fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Some(out)
}

/// Builds a Redis sink from its `-o` URL. The password file and the CA
/// file are read now; nothing is connected until the first delivery, so a
/// server that is down at start is an error of that delivery, like any
/// later outage.
pub fn from_url(url: &str) -> Result<Box<dyn EventSink>, SinkError> {
    from_target(SinkUrl::parse(url)?)
}

/// The same, from a parsed URL.
pub fn from_target(url: SinkUrl) -> Result<Box<dyn EventSink>, SinkError> {
    let target = target_of(url)?;
    let password = match (&target.password_file, target.url.password()) {
        (Some(path), _) => Some(
            secret::read_file("password", path)
                .map_err(|e| SinkError::from(target.url.error(e.to_string())))?,
        ),
        (None, Some(password)) => Some(password.clone()),
        (None, None) => secret::from_env(PASSWORD_VAR),
    };
    if target.user.is_some() && password.is_none() {
        return Err(target
            .url
            .error(format!(
                "a user name needs a password (in the URL, password_file= or {PASSWORD_VAR})"
            ))
            .into());
    }
    let tls = if target.tls {
        Some(
            net::tls_config(target.ca.as_deref())
                .map_err(|e| SinkError::from(target.url.error(e.to_string())))?,
        )
    } else {
        None
    };
    let encoder = Encoder::new(
        target.url.format(),
        target
            .url
            .max_size()
            .unwrap_or(usize::try_from(MAX_BULK_BYTES).unwrap_or(usize::MAX)),
    );
    Ok(Box::new(RedisSink {
        name: target.name(),
        endpoint: Endpoint {
            host: target.host.clone(),
            port: target.port,
            tls,
            timeouts: Timeouts {
                connect: CONNECT_TIMEOUT,
                read: Some(IO_TIMEOUT),
                write: IO_TIMEOUT,
            },
        },
        target,
        password,
        encoder,
        tally: Tally::default(),
        conn: None,
        out: Vec::new(),
        inbuf: Vec::new(),
    }))
}

/// Delivers events to one Redis key.
struct RedisSink {
    name: String,
    target: Target,
    endpoint: Endpoint,
    password: Option<Secret>,
    encoder: Encoder,
    tally: Tally,
    conn: Option<Stream>,
    /// The commands of one batch, reused between calls.
    out: Vec<u8>,
    /// Replies read but not yet parsed.
    inbuf: Vec<u8>,
}

/// What the sink expects each reply of a batch to be.
#[derive(Clone, Copy)]
enum Expect {
    /// `RPUSH` answers with the list's new length.
    Integer,
    /// `XADD` answers with the entry's id.
    Bulk,
}

/// Whether an error reply says the client's credentials do not allow it:
/// `NOAUTH` (no `AUTH` given), `WRONGPASS` (Redis 6+), `NOPERM` (an ACL user
/// without the command or key), or the older `ERR invalid password`.
fn is_auth_error(message: &str) -> bool {
    message.starts_with("NOAUTH")
        || message.starts_with("WRONGPASS")
        || message.starts_with("NOPERM")
        || message.starts_with("ERR invalid password")
        || message.starts_with("ERR AUTH")
}

impl RedisSink {
    /// Connects and, with a password, authenticates.
    fn connect(&mut self) -> Result<Stream, SinkError> {
        let mut stream = self.endpoint.connect().map_err(|e| self.io_error(e))?;
        let Some(password) = &self.password else {
            return Ok(stream);
        };
        let mut auth = Vec::new();
        let mut args: Vec<&[u8]> = vec![b"AUTH"];
        if let Some(user) = &self.target.user {
            args.push(user.as_bytes());
        }
        args.push(password.expose().as_bytes());
        encode_command(&mut auth, &args);
        if let Err(e) = stream.write_all(&auth).and_then(|()| stream.flush()) {
            return Err(self.io_error(e));
        }
        self.inbuf.clear();
        let mut start = 0;
        let reply = match read_reply(&mut stream, &mut self.inbuf, &mut start) {
            Ok(reply) => reply,
            Err(e) => return Err(self.io_error(e)),
        };
        self.inbuf.drain(..start);
        match reply {
            Reply::Simple(ok) if ok == "OK" => Ok(stream),
            Reply::Error(message) => Err(SinkError::Auth {
                target: self.name.clone(),
                reason: message,
            }),
            other => Err(self.io_error(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unexpected answer to AUTH: {other:?}"),
            ))),
        }
    }

    /// Encodes every command of the batch into `self.out`; returns what each
    /// reply should be, in order.
    fn encode_batch(&mut self, events: &[&[u8]]) -> Vec<Expect> {
        self.out.clear();
        let mut tally = Tally::default();
        let events: Vec<Cow<'_, [u8]>> = self.encoder.encode_all(events, &mut tally);
        self.tally = tally;
        let key = self.target.key.as_slice();
        match self.target.mode {
            Mode::Rpush => {
                let mut args: Vec<&[u8]> = Vec::with_capacity(2 + MAX_EVENTS_PER_COMMAND);
                for chunk in events.chunks(MAX_EVENTS_PER_COMMAND) {
                    args.clear();
                    args.push(b"RPUSH");
                    args.push(key);
                    args.extend(chunk.iter().map(|e| e.as_ref()));
                    encode_command(&mut self.out, &args);
                }
                vec![Expect::Integer; events.len().div_ceil(MAX_EVENTS_PER_COMMAND)]
            }
            Mode::Xadd { maxlen } => {
                let maxlen = maxlen.map(|n| n.to_string());
                for event in &events {
                    let mut args: Vec<&[u8]> = vec![b"XADD", key];
                    if let Some(n) = &maxlen {
                        args.extend_from_slice(&[b"MAXLEN", b"~", n.as_bytes()]);
                    }
                    args.extend_from_slice(&[b"*", b"event", event.as_ref()]);
                    encode_command(&mut self.out, &args);
                }
                vec![Expect::Bulk; events.len()]
            }
        }
    }

    fn io_error(&mut self, source: io::Error) -> SinkError {
        self.conn = None;
        self.inbuf.clear();
        SinkError::Io {
            target: self.name.clone(),
            source,
        }
    }
}

/// Reads one reply from `stream`, buffering in `inbuf` from `*start`.
fn read_reply<S: Read>(
    stream: &mut S,
    inbuf: &mut Vec<u8>,
    start: &mut usize,
) -> io::Result<Reply> {
    let mut chunk = [0u8; 4096];
    loop {
        let pending = inbuf.get(*start..).unwrap_or_default();
        match parse_reply(pending) {
            Ok(Parsed::Done { item, consumed }) => {
                *start += consumed;
                return Ok(item);
            }
            Ok(Parsed::Incomplete) => {
                if pending.len() > MAX_REPLY_BYTES {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("reply longer than {MAX_REPLY_BYTES} bytes"),
                    ));
                }
            }
            Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
        }
        // Keep the buffer from growing with replies already parsed.
        inbuf.drain(..*start);
        *start = 0;
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "server closed the connection",
            ));
        }
        inbuf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
}

impl EventSink for RedisSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn deliver_events(&mut self, events: &[Outgoing<'_>]) -> Result<(), SinkError> {
        if events.is_empty() {
            return Ok(());
        }
        // A command holds the events alone: no envelope, so no head.
        let events: Vec<&[u8]> = events.iter().map(|e| e.eve).collect();
        let expected = self.encode_batch(&events);
        if expected.is_empty() {
            // Every event was left out for its size.
            return Ok(());
        }
        let mut stream = match self.conn.take() {
            Some(stream) => stream,
            None => {
                self.inbuf.clear();
                self.connect()?
            }
        };
        if let Err(e) = stream.write_all(&self.out).and_then(|()| stream.flush()) {
            return Err(self.io_error(e));
        }
        // Every reply is read, even after an error reply, so the connection
        // stays in step with the commands sent.
        let mut refused = None;
        let mut start = 0;
        for expect in expected {
            let reply = match read_reply(&mut stream, &mut self.inbuf, &mut start) {
                Ok(reply) => reply,
                Err(e) => return Err(self.io_error(e)),
            };
            let problem = match (reply, expect) {
                (Reply::Integer(_), Expect::Integer) | (Reply::Bulk(Some(_)), Expect::Bulk) => {
                    continue;
                }
                (Reply::Error(message), _) => message,
                (other, _) => format!("unexpected reply {other:?}"),
            };
            refused.get_or_insert(problem);
        }
        self.inbuf.drain(..start);
        self.conn = Some(stream);
        match refused {
            None => Ok(()),
            Some(reason) if is_auth_error(&reason) => Err(SinkError::Auth {
                target: self.name.clone(),
                reason,
            }),
            Some(reason) => Err(SinkError::Refused {
                target: self.name.clone(),
                reason,
            }),
        }
    }

    fn take_tally(&mut self) -> Tally {
        std::mem::take(&mut self.tally)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(args: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_command(&mut out, args);
        out
    }

    fn done(input: &[u8]) -> (Reply, usize) {
        match parse_reply(input) {
            Ok(Parsed::Done { item, consumed }) => (item, consumed),
            other => panic!("{input:?}: {other:?}"),
        }
    }

    /// The whole of `input` parses to `want`, and every proper prefix of it is
    /// incomplete, not an error.
    fn parses_whole(input: &[u8], want: Reply) {
        assert_eq!(done(input), (want, input.len()));
        for cut in 0..input.len() {
            assert_eq!(
                parse_reply(&input[..cut]),
                Ok(Parsed::Incomplete),
                "prefix of {cut} bytes of {input:?}"
            );
        }
    }

    // RESP spec, "Sending commands to a Redis server": the client sends
    // `LLEN mylist` as an array of bulk strings.
    #[test]
    fn a_command_is_an_array_of_bulk_strings() {
        assert_eq!(
            encoded(&[b"LLEN", b"mylist"]),
            b"*2\r\n$4\r\nLLEN\r\n$6\r\nmylist\r\n"
        );
    }

    #[test]
    fn an_empty_argument_is_an_empty_bulk_string() {
        assert_eq!(encoded(&[b"ECHO", b""]), b"*2\r\n$4\r\nECHO\r\n$0\r\n\r\n");
    }

    #[test]
    fn arguments_are_binary_safe_and_counted_in_bytes() {
        // "é" is two bytes in UTF-8; a raw CRLF inside is data, not framing.
        assert_eq!(
            encoded(&["é".as_bytes(), b"a\r\nb"]),
            b"*2\r\n$2\r\n\xc3\xa9\r\n$4\r\na\r\nb\r\n"
        );
    }

    #[test]
    fn an_rpush_batch_is_chunked_and_an_xadd_batch_is_one_command_per_event() {
        let target = parse_url("redis://h/k").unwrap();
        let mut sink = RedisSink {
            name: String::new(),
            endpoint: Endpoint {
                host: target.host.clone(),
                port: target.port,
                tls: None,
                timeouts: Timeouts {
                    connect: CONNECT_TIMEOUT,
                    read: None,
                    write: IO_TIMEOUT,
                },
            },
            target,
            password: None,
            encoder: Encoder::new(None, usize::MAX),
            tally: Tally::default(),
            conn: None,
            out: Vec::new(),
            inbuf: Vec::new(),
        };
        let events = vec![&b"{}"[..]; MAX_EVENTS_PER_COMMAND + 1];
        assert_eq!(sink.encode_batch(&events).len(), 2);
        let head = format!(
            "*{}\r\n$5\r\nRPUSH\r\n$1\r\nk\r\n",
            MAX_EVENTS_PER_COMMAND + 2
        );
        assert!(sink.out.starts_with(head.as_bytes()));
        assert!(
            sink.out
                .ends_with(b"*3\r\n$5\r\nRPUSH\r\n$1\r\nk\r\n$2\r\n{}\r\n")
        );

        sink.target = parse_url("redis://h/k?mode=xadd&maxlen=100").unwrap();
        assert_eq!(sink.encode_batch(&[b"{\"a\":1}", b"{}"]).len(), 2);
        assert_eq!(
            sink.out,
            b"*8\r\n$4\r\nXADD\r\n$1\r\nk\r\n$6\r\nMAXLEN\r\n$1\r\n~\r\n$3\r\n100\r\n\
              $1\r\n*\r\n$5\r\nevent\r\n$7\r\n{\"a\":1}\r\n\
              *8\r\n$4\r\nXADD\r\n$1\r\nk\r\n$6\r\nMAXLEN\r\n$1\r\n~\r\n$3\r\n100\r\n\
              $1\r\n*\r\n$5\r\nevent\r\n$2\r\n{}\r\n"
        );
    }

    // The examples below are the RESP2 spec's own.
    #[test]
    fn simple_string() {
        parses_whole(b"+OK\r\n", Reply::Simple("OK".into()));
    }

    #[test]
    fn error() {
        parses_whole(
            b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
            Reply::Error(
                "WRONGTYPE Operation against a key holding the wrong kind of value".into(),
            ),
        );
    }

    #[test]
    fn integers() {
        parses_whole(b":1000\r\n", Reply::Integer(1000));
        parses_whole(b":0\r\n", Reply::Integer(0));
        parses_whole(b":-1\r\n", Reply::Integer(-1));
    }

    #[test]
    fn bulk_strings() {
        parses_whole(b"$5\r\nhello\r\n", Reply::Bulk(Some(b"hello".to_vec())));
        parses_whole(b"$0\r\n\r\n", Reply::Bulk(Some(Vec::new())));
        parses_whole(b"$-1\r\n", Reply::Bulk(None));
        // A stream id, as XADD answers.
        parses_whole(
            b"$15\r\n1526919030474-0\r\n",
            Reply::Bulk(Some(b"1526919030474-0".to_vec())),
        );
        // Binary safe: CRLF inside the announced length is data.
        parses_whole(b"$4\r\na\r\nb\r\n", Reply::Bulk(Some(b"a\r\nb".to_vec())));
    }

    #[test]
    fn arrays() {
        parses_whole(b"*0\r\n", Reply::Array(Some(Vec::new())));
        parses_whole(b"*-1\r\n", Reply::Array(None));
        parses_whole(
            b"*2\r\n$5\r\nhello\r\n$5\r\nworld\r\n",
            Reply::Array(Some(vec![
                Reply::Bulk(Some(b"hello".to_vec())),
                Reply::Bulk(Some(b"world".to_vec())),
            ])),
        );
        parses_whole(
            b"*2\r\n*3\r\n:1\r\n:2\r\n:3\r\n*2\r\n+Hello\r\n-World\r\n",
            Reply::Array(Some(vec![
                Reply::Array(Some(vec![
                    Reply::Integer(1),
                    Reply::Integer(2),
                    Reply::Integer(3),
                ])),
                Reply::Array(Some(vec![
                    Reply::Simple("Hello".into()),
                    Reply::Error("World".into()),
                ])),
            ])),
        );
    }

    #[test]
    fn one_reply_is_consumed_and_the_next_left() {
        assert_eq!(done(b":1\r\n:2\r\n"), (Reply::Integer(1), 4));
    }

    #[test]
    fn malformed_replies_are_errors() {
        assert_eq!(parse_reply(b"!3\r\n"), Err(RespError::UnknownType(b'!')));
        assert_eq!(parse_reply(b"+OK\rX"), Err(RespError::MissingCrlf(3)));
        assert_eq!(
            parse_reply(b"$2\r\nabcd\r\n"),
            Err(RespError::MissingCrlf(6))
        );
        assert_eq!(parse_reply(b"$-2\r\n"), Err(RespError::BadLength(-2)));
        assert_eq!(parse_reply(b"*-2\r\n"), Err(RespError::BadLength(-2)));
        assert_eq!(
            parse_reply(b":+1\r\n"),
            Err(RespError::BadInteger("+1".into()))
        );
        assert_eq!(
            parse_reply(b":1x\r\n"),
            Err(RespError::BadInteger("1x".into()))
        );
        assert_eq!(
            parse_reply(b"$536870913\r\n"),
            Err(RespError::BadLength(MAX_BULK_BYTES + 1))
        );
    }

    #[test]
    fn the_largest_bulk_length_is_incomplete_not_an_error() {
        assert_eq!(parse_reply(b"$536870912\r\n"), Ok(Parsed::Incomplete));
    }

    #[test]
    fn a_huge_array_count_reserves_nothing_and_waits() {
        assert_eq!(
            parse_reply(b"*9223372036854775807\r\n"),
            Ok(Parsed::Incomplete)
        );
    }

    #[test]
    fn nesting_is_bounded() {
        let mut deep = b"*1\r\n".repeat(MAX_REPLY_DEPTH);
        deep.extend_from_slice(b":1\r\n");
        assert!(matches!(parse_reply(&deep), Ok(Parsed::Done { .. })));
        let mut deeper = b"*1\r\n".repeat(MAX_REPLY_DEPTH + 1);
        deeper.extend_from_slice(b":1\r\n");
        assert_eq!(parse_reply(&deeper), Err(RespError::TooDeep));
    }

    #[test]
    fn an_endless_line_is_an_error() {
        let mut line = b"+".to_vec();
        line.resize(MAX_LINE_BYTES + 2, b'a');
        assert_eq!(parse_reply(&line), Err(RespError::LineTooLong));
    }

    #[test]
    fn url_defaults() {
        let t = parse_url("redis://localhost/medtap").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.key.as_slice(), t.mode, t.tls),
            (
                "localhost",
                DEFAULT_PORT,
                &b"medtap"[..],
                Mode::Rpush,
                false
            )
        );
        assert_eq!(t.name(), "redis://localhost:6379/medtap");
    }

    #[test]
    fn url_with_port_mode_and_maxlen() {
        let t = parse_url("redis://10.0.0.5:6380/eve%3Aevents?mode=xadd&maxlen=10000").unwrap();
        assert_eq!(t.host, "10.0.0.5");
        assert_eq!(t.port, 6380);
        assert_eq!(t.key, b"eve:events");
        assert_eq!(
            t.mode,
            Mode::Xadd {
                maxlen: Some(10000)
            }
        );
        assert_eq!(
            t.name(),
            "redis://10.0.0.5:6380/eve%3Aevents?mode=xadd&maxlen=10000"
        );
        assert_eq!(
            parse_url("redis://h/k?mode=xadd").unwrap().mode,
            Mode::Xadd { maxlen: None }
        );
        assert_eq!(
            parse_url("redis://h/k?mode=rpush").unwrap().mode,
            Mode::Rpush
        );
    }

    #[test]
    fn url_with_ipv6_host() {
        let t = parse_url("redis://[::1]:7000/k").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 7000));
        assert_eq!(t.name(), "redis://[::1]:7000/k");
        assert_eq!(parse_url("redis://[::1]/k").unwrap().port, DEFAULT_PORT);
    }

    #[test]
    fn credentials_and_tls_forms() {
        let t = parse_url("rediss://medtap:s3cret@cache/k?ca=/etc/medtap/ca.pem").unwrap();
        assert!(t.tls);
        assert_eq!(t.user.as_deref(), Some("medtap"));
        assert_eq!(t.ca, Some(PathBuf::from("/etc/medtap/ca.pem")));
        assert_eq!(t.name(), "rediss://cache:6379/k?ca=/etc/medtap/ca.pem");
        let t = parse_url("redis://h/k?password_file=/run/pw").unwrap();
        assert_eq!(t.password_file, Some(PathBuf::from("/run/pw")));
    }

    #[test]
    fn bad_urls_are_refused_with_a_reason_and_without_the_password() {
        for url in [
            "http://h/k",
            "redis://h",
            "redis://h/",
            "redis:///k",
            "redis://h:0/k",
            "redis://h:65536/k",
            "redis://h:x/k",
            "redis://[::1/k",
            "redis://h/k?mode=lpush",
            "redis://h/k?maxlen=10",
            "redis://h/k?mode=xadd&maxlen=0",
            "redis://h/k?mode=xadd&maxlen=-1",
            "redis://h/k?db=2",
            "redis://h/k%zz",
            "redis://h/k?ca=/x",
            "redis://:pw@h/k?password_file=/x",
            "redis://:pw@h/k?mode=bogus",
        ] {
            match parse_url(url) {
                Err(SinkError::BadUrl { url: shown, reason }) => {
                    assert!(!shown.contains("pw"), "{shown}");
                    assert!(!reason.is_empty());
                }
                other => panic!("{url}: {other:?}"),
            }
        }
    }

    #[test]
    fn auth_errors_are_told_apart() {
        assert!(is_auth_error("WRONGPASS invalid username-password pair"));
        assert!(is_auth_error("NOAUTH Authentication required."));
        assert!(is_auth_error("NOPERM this user has no permissions"));
        assert!(!is_auth_error("WRONGTYPE Operation against a key"));
    }
}
