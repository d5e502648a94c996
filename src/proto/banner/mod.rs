//! The cleartext "side door" services a medical device may still expose —
//! HTTP, SSH, FTP, Telnet, SNMP, RDP, VNC, TFTP — read from the first bytes
//! of one direction of a TCP connection (or one UDP datagram): the software
//! banners that say what runs there, whether a login crossed the wire in the
//! clear, and whether the service asks for authentication at all.
//!
//! # Shape
//!
//! One module per protocol, each a set of pure functions over borrowed bytes
//! (the in-order bytes of a direction from its first byte, or a datagram),
//! except where a login spans both directions (FTP, Telnet): those keep a
//! small session state fed in packet order.
//!
//! - [`http`]: request method, User-Agent, Basic user name; response status,
//!   Server, WWW-Authenticate schemes.
//! - [`ssh`]: the identification string (RFC 4253 §4.2).
//! - [`ftp`]: greeting, `USER` name, `PASS` seen, `AUTH TLS`, login result.
//! - [`telnet`]: server banner and prompts, the user name typed at the login
//!   prompt.
//! - [`snmp`]: version, community length, PDU type, v3 flags and user,
//!   sysDescr.0 and sysObjectID.0.
//! - [`rdp`]: X.224 Connection Request and Confirm with RDP negotiation.
//! - [`vnc`]: RFB version and security types.
//! - [`tftp`]: read and write requests.
//!
//! # Guarantees
//!
//! - Never panics: reads go through bounded readers or `get`; indexing that
//!   could fail is denied by lint in every module.
//! - Bounded: each parser looks at a named number of bytes at most, and every
//!   text it returns is cut to a named length and made printable
//!   ([`printable`]).
//! - No secrets: no password, community string value or typed password is
//!   read into a result. The HTTP Basic credential is decoded only up to the
//!   colon that ends the user name; a Telnet client's keystrokes after a
//!   password prompt are dropped as they arrive; SNMP community strings are
//!   measured, never copied.
//!
//! # What it refuses
//!
//! Bytes that are not the protocol asked for are [`Parsed::NotThis`] with a
//! typed reason (each module's anomaly enum, whose `name()` is a stable
//! counter name); bytes that end too soon are [`Parsed::NeedMore`].
pub mod ftp;
pub mod http;
pub mod rdp;
pub mod snmp;
pub mod ssh;
pub mod telnet;
pub mod tftp;
pub mod vnc;

use crate::proto::text::{Rules, text};

/// The outcome of reading the first bytes of a direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<T, A> {
    /// What the bytes say, complete.
    Done(T),
    /// The bytes end before the item does; ask again with more.
    NeedMore,
    /// The bytes are not this protocol, or not a form of it medtap reads.
    NotThis(A),
}

impl<T, A> Parsed<T, A> {
    /// The item, if complete.
    pub fn done(self) -> Option<T> {
        match self {
            Parsed::Done(item) => Some(item),
            _ => None,
        }
    }
}

/// `bytes` as printable text of at most `max` bytes: every byte outside
/// printable ASCII (controls, tabs, UTF-8 sequences) becomes `?`, and
/// leading and trailing spaces are trimmed. What an event carries must not
/// break a log line or a terminal.
/// The kit's sanitiser (`proto::text`) with the banner rules.
pub fn printable(bytes: &[u8], max: usize) -> String {
    text(bytes, max, &Rules::BANNER).into_owned()
}

/// The first line of `bytes` without its end (LF, or CR LF), and the bytes
/// after it; `None` when no LF has arrived yet.
pub(crate) fn split_line(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = memchr::memchr(b'\n', bytes)?;
    let (line, rest) = bytes.split_at_checked(end)?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Some((line, rest.get(1..).unwrap_or_default()))
}

/// Whether `line` starts with `prefix`, ignoring ASCII case.
pub(crate) fn starts_with_ignore_case(line: &[u8], prefix: &[u8]) -> bool {
    line.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_replaces_controls_and_cuts() {
        assert_eq!(printable(b" a\x1b[2Jb\xc3\xa9 ", 64), "a?[2Jb??");
        assert_eq!(printable(b"abcdef", 3), "abc");
        assert_eq!(printable(b"", 3), "");
    }

    #[test]
    fn lines_end_at_lf_with_or_without_cr() {
        assert_eq!(split_line(b"a\r\nb"), Some((&b"a"[..], &b"b"[..])));
        assert_eq!(split_line(b"a\nb"), Some((&b"a"[..], &b"b"[..])));
        assert_eq!(split_line(b"a\r"), None);
    }
}
