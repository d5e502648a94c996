//! TLS ClientHello and ServerHello, read from the first bytes of one
//! direction of a TCP connection: the versions offered and chosen, cipher
//! suites, extensions, server name (SNI), ALPN, signature algorithms, and
//! the [JA4](ja4) client fingerprint.
//!
//! # Shape
//!
//! A hello is one handshake message carried in TLSPlaintext records
//! (RFC 8446 §5.1, RFC 5246 §6.2.1): 5-byte record header (content type 22,
//! version, length), then the handshake header (type, 3-byte length) and
//! body. A hello in one record, the usual case, is parsed in place from the
//! caller's bytes. One split across records (large key shares, or a middlebox
//! that cuts records small) is joined into one buffer of at most
//! [`MAX_HELLO_LEN`] bytes from at most [`MAX_HELLO_RECORDS`] records.
//!
//! # Guarantees
//!
//! - Never panics: every read goes through a bounded reader; indexing that
//!   could fail is denied by lint.
//! - Bounded: at most [`MAX_HELLO_LEN`] bytes are looked at or copied; the
//!   lists returned are bounded by that length, the server name by
//!   [`MAX_SERVER_NAME_LEN`], the ALPN list by [`MAX_ALPN_PROTOCOLS`].
//! - Only the handshake's own fields are kept: nothing of key shares, session
//!   tickets, early data or application data.
//!
//! # What it refuses
//!
//! SSLv2-format hellos, records that are not handshake records before the
//! hello is complete, a record longer than TLS allows, a hello longer than
//! [`MAX_HELLO_LEN`], and any length field that runs past its container:
//! each is a [`TlsAnomaly`]. Bytes that end before the hello does are
//! [`Parsed::Incomplete`], so the caller can try again with more.
pub mod ja4;

use super::reader::Reader;

pub use ja4::{Ja4Input, is_grease};

/// Largest hello, in bytes of handshake message (header included), joined
/// across records; a longer one is [`TlsAnomaly::HelloTooLong`]. Real
/// ClientHellos are 200 bytes to 2 kB (a post-quantum key share adds about
/// 1.2 kB); RFC 8446 allows up to 2^24, which nothing sends.
pub const MAX_HELLO_LEN: usize = 32 * 1024;

/// Most records a hello may be split across before it is refused
/// ([`TlsAnomaly::TooManyRecords`]).
pub const MAX_HELLO_RECORDS: usize = 8;

/// Largest TLSPlaintext record body, in bytes (RFC 8446 §5.1: 2^14).
pub const MAX_RECORD_LEN: usize = 16 * 1024;

/// Longest server name kept, in bytes (a DNS name is at most 253); a longer
/// or non-text one is dropped and [`TlsAnomaly::BadServerName`] noted.
pub const MAX_SERVER_NAME_LEN: usize = 253;

/// ALPN protocol names kept from a ClientHello; later ones are not kept
/// (JA4 reads only the first). Clients offer two or three.
pub const MAX_ALPN_PROTOCOLS: usize = 16;

/// Record content type of handshake records.
const CONTENT_HANDSHAKE: u8 = 22;
/// Handshake message types (RFC 8446 §4).
const CLIENT_HELLO: u8 = 1;
const SERVER_HELLO: u8 = 2;
/// Extension types (IANA TLS ExtensionType registry).
const EXT_SERVER_NAME: u16 = 0;
const EXT_SIGNATURE_ALGORITHMS: u16 = 13;
const EXT_ALPN: u16 = 16;
const EXT_SUPPORTED_VERSIONS: u16 = 43;

/// The ServerHello random that marks a HelloRetryRequest (RFC 8446 §4.1.3):
/// SHA-256 of "HelloRetryRequest".
const HELLO_RETRY_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// Why bytes that began like TLS are not a hello medtap reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TlsAnomaly {
    /// A record before the hello was complete is not a handshake record
    /// (or the stream does not start with a TLS record at all).
    NotHandshake,
    /// An SSL 2.0-format hello (first byte with the high bit set).
    Sslv2Hello,
    /// The record version's major byte is not 3.
    BadRecordVersion,
    /// A record is longer than [`MAX_RECORD_LEN`].
    RecordTooLong,
    /// A record of length zero inside the hello.
    EmptyRecord,
    /// The hello spans more than [`MAX_HELLO_RECORDS`] records.
    TooManyRecords,
    /// The hello is longer than [`MAX_HELLO_LEN`].
    HelloTooLong,
    /// The first handshake message is not the hello asked for.
    UnexpectedHandshake,
    /// A length field runs past its container, or a list has an odd number
    /// of bytes.
    Truncated,
    /// Bytes follow the last extension inside the hello.
    TrailingBytes,
    /// The server name is not printable ASCII or is longer than
    /// [`MAX_SERVER_NAME_LEN`] (the hello is still returned, without it).
    BadServerName,
}

impl TlsAnomaly {
    /// A stable snake_case name, for counters.
    pub fn name(self) -> &'static str {
        match self {
            TlsAnomaly::NotHandshake => "not_handshake",
            TlsAnomaly::Sslv2Hello => "sslv2_hello",
            TlsAnomaly::BadRecordVersion => "bad_record_version",
            TlsAnomaly::RecordTooLong => "record_too_long",
            TlsAnomaly::EmptyRecord => "empty_record",
            TlsAnomaly::TooManyRecords => "too_many_records",
            TlsAnomaly::HelloTooLong => "hello_too_long",
            TlsAnomaly::UnexpectedHandshake => "unexpected_handshake",
            TlsAnomaly::Truncated => "truncated",
            TlsAnomaly::TrailingBytes => "trailing_bytes",
            TlsAnomaly::BadServerName => "bad_server_name",
        }
    }
}

/// The outcome of parsing the first bytes of a direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<T> {
    /// The hello, complete.
    Done(T),
    /// The bytes end before the hello does: at least `needed` more are
    /// needed.
    Incomplete {
        /// Bytes still missing, at least.
        needed: usize,
    },
    /// The bytes are not a hello medtap reads.
    Invalid(TlsAnomaly),
}

impl<T> Parsed<T> {
    /// The hello, if complete.
    pub fn done(self) -> Option<T> {
        match self {
            Parsed::Done(hello) => Some(hello),
            _ => None,
        }
    }
}

/// What a ClientHello says about the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsClientHello {
    /// `legacy_version` (`client_version` before TLS 1.3).
    pub legacy_version: u16,
    /// The supported_versions extension's list, in order (GREASE kept);
    /// empty when absent.
    pub supported_versions: Vec<u16>,
    /// Cipher suites, in order (GREASE and SCSVs kept).
    pub ciphers: Vec<u16>,
    /// Extension types, in order (GREASE kept).
    pub extensions: Vec<u16>,
    /// The first host_name of the server_name extension.
    pub sni: Option<String>,
    /// ALPN protocol names, in order (at most [`MAX_ALPN_PROTOCOLS`]; bytes
    /// that are not UTF-8 replaced).
    pub alpn: Vec<String>,
    /// The signature_algorithms extension's list, in order.
    pub signature_algorithms: Vec<u16>,
    /// The JA4 fingerprint.
    pub ja4: String,
    /// Non-fatal problems (a server name dropped).
    pub anomalies: Vec<TlsAnomaly>,
}

impl TlsClientHello {
    /// The highest version offered: the largest non-GREASE value of
    /// supported_versions, else `legacy_version`.
    pub fn max_version(&self) -> u16 {
        self.supported_versions
            .iter()
            .copied()
            .filter(|v| !is_grease(*v))
            .max()
            .unwrap_or(self.legacy_version)
    }
}

/// What a ServerHello says about the server's choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsServerHello {
    /// `legacy_version` (`server_version` before TLS 1.3).
    pub legacy_version: u16,
    /// The supported_versions extension's selected version (TLS 1.3).
    pub selected_version: Option<u16>,
    /// The chosen cipher suite.
    pub cipher: u16,
    /// Extension types, in order.
    pub extensions: Vec<u16>,
    /// The ALPN protocol chosen.
    pub alpn: Option<String>,
    /// Whether this is a HelloRetryRequest (RFC 8446 §4.1.3) rather than a
    /// final choice.
    pub hello_retry_request: bool,
}

impl TlsServerHello {
    /// The version negotiated: supported_versions' selection, else
    /// `legacy_version`.
    pub fn version(&self) -> u16 {
        self.selected_version.unwrap_or(self.legacy_version)
    }
}

/// Whether `bytes`, the first of a direction, start like a TLS handshake
/// record: `Some(true)` yes, `Some(false)` no, `None` too few to tell.
pub fn looks_like_tls(bytes: &[u8]) -> Option<bool> {
    match bytes {
        [] => None,
        [CONTENT_HANDSHAKE] => None,
        [CONTENT_HANDSHAKE, 3] => None,
        [CONTENT_HANDSHAKE, 3, minor, ..] => Some(*minor <= 4),
        _ => Some(false),
    }
}

/// Parses the ClientHello at the start of `stream`, the first in-order bytes
/// the client sent.
pub fn parse_client_hello(stream: &[u8]) -> Parsed<TlsClientHello> {
    with_handshake(stream, CLIENT_HELLO, client_hello_body)
}

/// Parses the ServerHello at the start of `stream`, the first in-order bytes
/// the server sent.
pub fn parse_server_hello(stream: &[u8]) -> Parsed<TlsServerHello> {
    with_handshake(stream, SERVER_HELLO, server_hello_body)
}

/// Finds the first handshake message of `stream`, joining records when it
/// spans more than one, checks its type, and hands its body to `parse`.
fn with_handshake<T>(
    stream: &[u8],
    wanted: u8,
    parse: fn(&[u8]) -> Result<T, TlsAnomaly>,
) -> Parsed<T> {
    let mut records = Reader::new(stream);
    let mut joined: Vec<u8> = Vec::new();
    let mut in_place: Option<&[u8]> = None;
    let mut count = 0usize;
    loop {
        let Some(header) = records.take(5) else {
            if let Some(&first) = stream.first()
                && first & 0x80 != 0
            {
                return Parsed::Invalid(TlsAnomaly::Sslv2Hello);
            }
            return Parsed::Incomplete {
                needed: 5 - records.rest().len(),
            };
        };
        let mut header = Reader::new(header);
        let (Some(content), Some(major), Some(_minor), Some(length)) =
            (header.u8(), header.u8(), header.u8(), header.u16_be())
        else {
            return Parsed::Invalid(TlsAnomaly::Truncated);
        };
        if content != CONTENT_HANDSHAKE {
            return Parsed::Invalid(if count == 0 && content & 0x80 != 0 {
                TlsAnomaly::Sslv2Hello
            } else {
                TlsAnomaly::NotHandshake
            });
        }
        if major != 3 {
            return Parsed::Invalid(TlsAnomaly::BadRecordVersion);
        }
        let length = usize::from(length);
        if length > MAX_RECORD_LEN {
            return Parsed::Invalid(TlsAnomaly::RecordTooLong);
        }
        if length == 0 {
            return Parsed::Invalid(TlsAnomaly::EmptyRecord);
        }
        count += 1;
        if count > MAX_HELLO_RECORDS {
            return Parsed::Invalid(TlsAnomaly::TooManyRecords);
        }
        let Some(fragment) = records.take(length) else {
            let have = records.rest().len();
            return Parsed::Incomplete {
                needed: length - have,
            };
        };
        // The usual case: the whole message in the first record, read in
        // place. Otherwise join fragments, bounded.
        let message: &[u8] = if count == 1 {
            in_place = Some(fragment);
            fragment
        } else {
            if let Some(first) = in_place.take() {
                joined.extend_from_slice(first);
            }
            if joined.len() + fragment.len() > MAX_HELLO_LEN + 4 {
                return Parsed::Invalid(TlsAnomaly::HelloTooLong);
            }
            joined.extend_from_slice(fragment);
            &joined
        };
        let mut handshake = Reader::new(message);
        let (Some(kind), Some(body_len)) = (handshake.u8(), handshake.u24_be()) else {
            continue; // the 4-byte handshake header itself is split
        };
        if kind != wanted {
            return Parsed::Invalid(TlsAnomaly::UnexpectedHandshake);
        }
        if body_len + 4 > MAX_HELLO_LEN {
            return Parsed::Invalid(TlsAnomaly::HelloTooLong);
        }
        match handshake.take(body_len) {
            Some(body) => {
                return match parse(body) {
                    Ok(hello) => Parsed::Done(hello),
                    Err(anomaly) => Parsed::Invalid(anomaly),
                };
            }
            None => {
                let missing = body_len - handshake.rest().len();
                // More records must follow; if the stream has ended, say
                // how much of the message is missing (records add headers).
                if records.is_empty() {
                    return Parsed::Incomplete {
                        needed: missing + 5,
                    };
                }
            }
        }
    }
}

fn client_hello_body(body: &[u8]) -> Result<TlsClientHello, TlsAnomaly> {
    let truncated = || TlsAnomaly::Truncated;
    let mut r = Reader::new(body);
    let legacy_version = r.u16_be().ok_or_else(truncated)?;
    r.take(32).ok_or_else(truncated)?; // random
    r.sub_u8().ok_or_else(truncated)?; // legacy_session_id
    let ciphers = r
        .sub_u16_be()
        .and_then(|mut list| list.u16_be_list())
        .ok_or_else(truncated)?;
    r.sub_u8().ok_or_else(truncated)?; // legacy_compression_methods

    let mut hello = TlsClientHello {
        legacy_version,
        supported_versions: Vec::new(),
        ciphers,
        extensions: Vec::new(),
        sni: None,
        alpn: Vec::new(),
        signature_algorithms: Vec::new(),
        ja4: String::new(),
        anomalies: Vec::new(),
    };
    let mut first_alpn: Option<&[u8]> = None;
    // Extensions are optional before TLS 1.3 (a bare TLS 1.0 hello ends here).
    if !r.is_empty() {
        let mut extensions = r.sub_u16_be().ok_or_else(truncated)?;
        if !r.is_empty() {
            return Err(TlsAnomaly::TrailingBytes);
        }
        while !extensions.is_empty() {
            let (kind, mut data) = extensions.tlv_u16_be().ok_or_else(truncated)?;
            hello.extensions.push(kind);
            match kind {
                EXT_SERVER_NAME => server_name(&mut data, &mut hello)?,
                EXT_ALPN => {
                    let mut list = data.sub_u16_be().ok_or_else(truncated)?;
                    while !list.is_empty() {
                        let name = list.sub_u8().ok_or_else(truncated)?.rest();
                        first_alpn.get_or_insert(name);
                        if hello.alpn.len() < MAX_ALPN_PROTOCOLS {
                            hello.alpn.push(String::from_utf8_lossy(name).into_owned());
                        }
                    }
                }
                EXT_SIGNATURE_ALGORITHMS => {
                    hello.signature_algorithms = data
                        .sub_u16_be()
                        .and_then(|mut list| list.u16_be_list())
                        .ok_or_else(truncated)?;
                }
                EXT_SUPPORTED_VERSIONS => {
                    hello.supported_versions = data
                        .sub_u8()
                        .and_then(|mut list| list.u16_be_list())
                        .ok_or_else(truncated)?;
                }
                _ => {}
            }
        }
    }
    hello.ja4 = ja4::ja4(&Ja4Input {
        legacy_version: hello.legacy_version,
        supported_versions: &hello.supported_versions,
        ciphers: &hello.ciphers,
        extensions: &hello.extensions,
        first_alpn,
        signature_algorithms: &hello.signature_algorithms,
    });
    Ok(hello)
}

/// The server_name extension (RFC 6066 §3): a list of (type, name); the
/// first host_name (type 0) is kept when it is printable ASCII.
fn server_name(data: &mut Reader<'_>, hello: &mut TlsClientHello) -> Result<(), TlsAnomaly> {
    // A server's empty acknowledgement never reaches here; a client's empty
    // extension carries no name.
    if data.is_empty() {
        return Ok(());
    }
    let mut list = data.sub_u16_be().ok_or(TlsAnomaly::Truncated)?;
    while !list.is_empty() {
        let kind = list.u8().ok_or(TlsAnomaly::Truncated)?;
        let name = list.sub_u16_be().ok_or(TlsAnomaly::Truncated)?.rest();
        if kind != 0 || hello.sni.is_some() {
            continue;
        }
        let printable = name.iter().all(|b| b.is_ascii_graphic());
        if printable && !name.is_empty() && name.len() <= MAX_SERVER_NAME_LEN {
            hello.sni = Some(String::from_utf8_lossy(name).into_owned());
        } else if !hello.anomalies.contains(&TlsAnomaly::BadServerName) {
            hello.anomalies.push(TlsAnomaly::BadServerName);
        }
    }
    Ok(())
}

fn server_hello_body(body: &[u8]) -> Result<TlsServerHello, TlsAnomaly> {
    let truncated = || TlsAnomaly::Truncated;
    let mut r = Reader::new(body);
    let legacy_version = r.u16_be().ok_or_else(truncated)?;
    let random = r.take(32).ok_or_else(truncated)?;
    r.sub_u8().ok_or_else(truncated)?; // legacy_session_id_echo
    let cipher = r.u16_be().ok_or_else(truncated)?;
    r.u8().ok_or_else(truncated)?; // legacy_compression_method
    let mut hello = TlsServerHello {
        legacy_version,
        selected_version: None,
        cipher,
        extensions: Vec::new(),
        alpn: None,
        hello_retry_request: random == HELLO_RETRY_RANDOM,
    };
    if !r.is_empty() {
        let mut extensions = r.sub_u16_be().ok_or_else(truncated)?;
        if !r.is_empty() {
            return Err(TlsAnomaly::TrailingBytes);
        }
        while !extensions.is_empty() {
            let (kind, mut data) = extensions.tlv_u16_be().ok_or_else(truncated)?;
            hello.extensions.push(kind);
            match kind {
                EXT_SUPPORTED_VERSIONS => {
                    hello.selected_version = Some(data.u16_be().ok_or_else(truncated)?);
                }
                EXT_ALPN => {
                    let mut list = data.sub_u16_be().ok_or_else(truncated)?;
                    let name = list.sub_u8().ok_or_else(truncated)?.rest();
                    hello.alpn = Some(String::from_utf8_lossy(name).into_owned());
                }
                _ => {}
            }
        }
    }
    Ok(hello)
}

#[cfg(test)]
mod tests;
