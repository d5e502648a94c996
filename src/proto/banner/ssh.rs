//! The SSH identification string (RFC 4253 §4.2),
//! `SSH-protoversion-softwareversion SP comments CR LF`, the first line each
//! side sends: the protocol version, the software and its version, and the
//! comments (Debian's package revision, a vendor's build).
//!
//! Guarantees: at most [`MAX_PREAMBLE_LEN`] bytes are looked at; the line
//! is at most [`MAX_IDENT_LEN`] bytes (RFC 4253: 255 with CR LF); what is
//! returned is printable text.
//!
//! Refuses: a client whose first line is not an identification string; a
//! server whose identification string does not come within
//! [`MAX_PREAMBLE_LEN`] bytes or [`MAX_PREAMBLE_LINES`] lines; a line longer
//! than [`MAX_IDENT_LEN`]. Each is an [`SshAnomaly`].
use super::{Parsed, printable, split_line};

/// Longest identification line, in bytes with its CR LF (RFC 4253 §4.2).
pub const MAX_IDENT_LEN: usize = 255;

/// Most bytes a server may send before its identification string, in
/// bytes (RFC 4253 §4.2 lets a server send other lines first; a banner of
/// a few lines is what is seen).
pub const MAX_PREAMBLE_LEN: usize = 4 * 1024;

/// Most lines a server may send before its identification string.
pub const MAX_PREAMBLE_LINES: usize = 32;

/// Why bytes are not an SSH identification string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SshAnomaly {
    /// The line does not start with `SSH-`, or has no software version.
    NotIdentification,
    /// The line is longer than [`MAX_IDENT_LEN`].
    LineTooLong,
    /// A server sent more than [`MAX_PREAMBLE_LEN`] bytes or
    /// [`MAX_PREAMBLE_LINES`] lines without an identification string.
    PreambleTooLong,
}

impl SshAnomaly {
    /// A stable snake_case name, for counters.
    pub fn name(self) -> &'static str {
        match self {
            SshAnomaly::NotIdentification => "not_identification",
            SshAnomaly::LineTooLong => "line_too_long",
            SshAnomaly::PreambleTooLong => "preamble_too_long",
        }
    }
}

/// An identification string, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshIdent {
    /// `protoversion`: "2.0", or "1.99" for a server that also speaks SSH 1.
    pub proto_version: String,
    /// `softwareversion`: "OpenSSH_9.2p1", "dropbear_2022.83".
    pub software: String,
    /// The comments after the first space, if any ("Debian-2+deb12u3").
    pub comments: Option<String>,
    /// How many lines the server sent before it.
    pub preamble_lines: usize,
}

impl SshIdent {
    /// The line as sent, without CR LF.
    pub fn line(&self) -> String {
        let mut line = format!("SSH-{}-{}", self.proto_version, self.software);
        if let Some(comments) = &self.comments {
            line.push(' ');
            line.push_str(comments);
        }
        line
    }
}

/// Parses the identification string a client sends first.
pub fn parse_client_ident(stream: &[u8]) -> Parsed<SshIdent, SshAnomaly> {
    match split_line(stream) {
        Some((line, _)) => ident(line, 0),
        None if stream.len() >= MAX_IDENT_LEN => Parsed::NotThis(SshAnomaly::LineTooLong),
        None if !b"SSH-".starts_with(stream.get(..4).unwrap_or(stream)) => {
            Parsed::NotThis(SshAnomaly::NotIdentification)
        }
        None => Parsed::NeedMore,
    }
}

/// Parses the identification string a server sends, after any other lines.
pub fn parse_server_ident(stream: &[u8]) -> Parsed<SshIdent, SshAnomaly> {
    let window = stream.get(..MAX_PREAMBLE_LEN).unwrap_or(stream);
    let mut rest = window;
    let mut lines = 0;
    while let Some((line, next)) = split_line(rest) {
        if line.starts_with(b"SSH-") {
            return ident(line, lines);
        }
        lines += 1;
        if lines > MAX_PREAMBLE_LINES {
            return Parsed::NotThis(SshAnomaly::PreambleTooLong);
        }
        rest = next;
    }
    if rest.starts_with(b"SSH-") && rest.len() >= MAX_IDENT_LEN {
        return Parsed::NotThis(SshAnomaly::LineTooLong);
    }
    if stream.len() >= MAX_PREAMBLE_LEN {
        return Parsed::NotThis(SshAnomaly::PreambleTooLong);
    }
    Parsed::NeedMore
}

/// Splits `line` (without CR LF) into its parts.
fn ident(line: &[u8], preamble_lines: usize) -> Parsed<SshIdent, SshAnomaly> {
    // The line with its CR LF must fit.
    if line.len() + 2 > MAX_IDENT_LEN {
        return Parsed::NotThis(SshAnomaly::LineTooLong);
    }
    let Some(rest) = line.strip_prefix(b"SSH-") else {
        return Parsed::NotThis(SshAnomaly::NotIdentification);
    };
    let Some(dash) = memchr::memchr(b'-', rest) else {
        return Parsed::NotThis(SshAnomaly::NotIdentification);
    };
    let (proto, rest) = (
        rest.get(..dash).unwrap_or_default(),
        rest.get(dash + 1..).unwrap_or_default(),
    );
    let (software, comments) = match memchr::memchr(b' ', rest) {
        Some(space) => (rest.get(..space).unwrap_or_default(), rest.get(space + 1..)),
        None => (rest, None),
    };
    if proto.is_empty() || software.is_empty() {
        return Parsed::NotThis(SshAnomaly::NotIdentification);
    }
    Parsed::Done(SshIdent {
        proto_version: printable(proto, MAX_IDENT_LEN),
        software: printable(software, MAX_IDENT_LEN),
        comments: comments.map(|c| printable(c, MAX_IDENT_LEN)),
        preamble_lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SERVER: &[u8] = b"Authorised use only\r\nward 3\r\n\
        SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n\x00\x00\x04\x3c\x0a\x14";

    #[test]
    fn a_server_ident_after_other_lines_is_split() {
        let ident = parse_server_ident(SERVER).done().unwrap();
        assert_eq!(ident.proto_version, "2.0");
        assert_eq!(ident.software, "OpenSSH_9.2p1");
        assert_eq!(ident.comments.as_deref(), Some("Debian-2+deb12u3"));
        assert_eq!(ident.preamble_lines, 2);
        assert_eq!(ident.line(), "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3");
    }

    #[test]
    fn a_client_ident_with_lf_only_and_no_comments() {
        let ident = parse_client_ident(b"SSH-1.99-Cisco-1.25\n").done().unwrap();
        assert_eq!(ident.proto_version, "1.99");
        assert_eq!(ident.software, "Cisco-1.25");
        assert_eq!(ident.comments, None);
    }

    #[test]
    fn a_client_must_start_with_its_ident() {
        assert_eq!(
            parse_client_ident(b"GET / HTTP/1.1\r\n"),
            Parsed::NotThis(SshAnomaly::NotIdentification)
        );
        assert_eq!(
            parse_client_ident(b"GET"),
            Parsed::NotThis(SshAnomaly::NotIdentification)
        );
        assert_eq!(parse_client_ident(b"SS"), Parsed::NeedMore);
        assert_eq!(
            parse_client_ident(b"SSH-2.0\r\n"),
            Parsed::NotThis(SshAnomaly::NotIdentification)
        );
    }

    #[test]
    fn the_longest_line_is_253_bytes_before_cr_lf() {
        let mut line = b"SSH-2.0-".to_vec();
        line.resize(MAX_IDENT_LEN - 2, b'a');
        let mut ok = line.clone();
        ok.extend_from_slice(b"\r\n");
        assert!(parse_client_ident(&ok).done().is_some());
        line.push(b'a');
        line.extend_from_slice(b"\r\n");
        assert_eq!(
            parse_client_ident(&line),
            Parsed::NotThis(SshAnomaly::LineTooLong)
        );
    }

    #[test]
    fn a_server_preamble_is_bounded() {
        let many = b"x\r\n".repeat(MAX_PREAMBLE_LINES + 1);
        assert_eq!(
            parse_server_ident(&many),
            Parsed::NotThis(SshAnomaly::PreambleTooLong)
        );
        let long = vec![b'x'; MAX_PREAMBLE_LEN];
        assert_eq!(
            parse_server_ident(&long),
            Parsed::NotThis(SshAnomaly::PreambleTooLong)
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
            let _ = parse_client_ident(&bytes);
            let _ = parse_server_ident(&bytes);
        }

        #[test]
        fn every_prefix_needs_more_or_gives_the_whole_answer(cut in 0usize..SERVER.len()) {
            let part = parse_server_ident(&SERVER[..cut]);
            prop_assert!(part == Parsed::NeedMore || part == parse_server_ident(SERVER));
        }
    }
}
