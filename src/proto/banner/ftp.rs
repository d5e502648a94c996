//! The FTP control connection (RFC 959 §4, RFC 4217 for `AUTH TLS`) as far
//! as the login: the server's 220 greeting, the client's `USER` name, that a
//! `PASS` was sent, an `AUTH TLS` request, and the server's verdict (230
//! logged in, 530 refused).
//!
//! # Shape
//!
//! An [`FtpSession`] is fed the in-order bytes of both directions in packet
//! order and consumes whole lines only, in the contract of the other stream
//! parsers (`feed → consumed`; the caller holds and presents again what was
//! not consumed). It reports [`FtpEvent`]s at the line that carries them.
//!
//! # Guarantees
//!
//! - The `PASS` argument is never read: the event says only that one was
//!   sent.
//! - Bounded: a line is at most [`MAX_LINE_LEN`] bytes; after
//!   [`MAX_LINES`] lines in a direction, or once TLS starts (234), the
//!   session reads no more; texts are cut to [`MAX_TEXT_LEN`], the user name
//!   to [`MAX_USER_LEN`].
//!
//! # What it refuses
//!
//! A server whose first line is not a reply (`NNN` then space or hyphen), a
//! client whose first line is not a command word, and a line longer than
//! [`MAX_LINE_LEN`]: the session stops with an [`FtpAnomaly`].
use super::{printable, split_line, starts_with_ignore_case};
use crate::proto::Direction;

/// Longest control line, in bytes with its CR LF. RFC 959 sets no limit;
/// servers accept 512 (vsftpd 4096 for paths).
pub const MAX_LINE_LEN: usize = 4 * 1024;

/// Lines read per direction; a login is done in a dozen. After that the
/// session stops: only the start of a connection is fingerprinted.
pub const MAX_LINES: usize = 64;

/// Longest greeting text kept, in bytes.
pub const MAX_TEXT_LEN: usize = 256;

/// Longest user name kept, in bytes.
pub const MAX_USER_LEN: usize = 64;

/// Why a session stopped reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FtpAnomaly {
    /// The server's first line is not a reply.
    NotReply,
    /// The client's first line is not a command.
    NotCommand,
    /// A line is longer than [`MAX_LINE_LEN`].
    LineTooLong,
}

impl FtpAnomaly {
    /// A stable snake_case name, for counters.
    pub fn name(self) -> &'static str {
        match self {
            FtpAnomaly::NotReply => "not_reply",
            FtpAnomaly::NotCommand => "not_command",
            FtpAnomaly::LineTooLong => "line_too_long",
        }
    }
}

/// What a line showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FtpEvent {
    /// The server's first reply, when it is 220: its text (of its first
    /// line, for a multi-line reply).
    Greeting(String),
    /// The client sent `USER name`.
    User(String),
    /// The client sent `PASS` (its argument is never read).
    Pass,
    /// The client asked for TLS (`AUTH TLS` or `AUTH SSL`).
    AuthTls,
    /// The server accepted TLS (234); nothing after it is read.
    TlsStarted,
    /// The server said 230: logged in.
    LoginSucceeded,
    /// The server said 530: not logged in.
    LoginFailed,
}

/// The login state of one FTP control connection.
#[derive(Debug, Default, Clone)]
pub struct FtpSession {
    /// Lines read from the client.
    client_lines: usize,
    /// Lines read from the server.
    server_lines: usize,
    /// The code of a multi-line reply still open (RFC 959 §4.2: `NNN-`
    /// until `NNN `).
    open_reply: Option<u16>,
    /// Whether the server's first reply has been read.
    greeted: bool,
    /// Why the session stopped, if it did for a reason.
    anomaly: Option<FtpAnomaly>,
    /// Whether TLS started, after which nothing is read.
    tls: bool,
}

impl FtpSession {
    /// A session at the start of a connection.
    pub fn new() -> Self {
        FtpSession::default()
    }

    /// Why the session stopped reading, if it stopped for an anomaly.
    pub fn anomaly(&self) -> Option<FtpAnomaly> {
        self.anomaly
    }

    /// Whether the session reads no more (anomaly, TLS, or line limit
    /// reached in both directions).
    pub fn finished(&self) -> bool {
        self.anomaly.is_some()
            || self.tls
            || (self.client_lines >= MAX_LINES && self.server_lines >= MAX_LINES)
    }

    /// Lines read so far from the sender of `direction`.
    fn lines_mut(&mut self, direction: Direction) -> &mut usize {
        match direction {
            Direction::ToServer => &mut self.client_lines,
            Direction::ToClient => &mut self.server_lines,
        }
    }

    /// Feeds the next in-order bytes of `direction`; returns how many were
    /// consumed (whole lines; the caller presents the rest again with the
    /// next bytes). Once finished, everything is consumed unread.
    pub fn feed(&mut self, direction: Direction, input: &[u8], out: &mut Vec<FtpEvent>) -> usize {
        let mut rest = input;
        loop {
            if self.anomaly.is_some() || self.tls || *self.lines_mut(direction) >= MAX_LINES {
                return input.len();
            }
            let Some((line, next)) = split_line(rest) else {
                if rest.len() >= MAX_LINE_LEN {
                    self.anomaly = Some(FtpAnomaly::LineTooLong);
                    return input.len();
                }
                return input.len() - rest.len();
            };
            if line.len() + 2 > MAX_LINE_LEN {
                self.anomaly = Some(FtpAnomaly::LineTooLong);
                return input.len();
            }
            rest = next;
            *self.lines_mut(direction) += 1;
            match direction {
                Direction::ToServer => self.command(line, out),
                Direction::ToClient => self.reply(line, out),
            }
        }
    }

    fn command(&mut self, line: &[u8], out: &mut Vec<FtpEvent>) {
        let word_end = memchr::memchr(b' ', line).unwrap_or(line.len());
        let word = line.get(..word_end).unwrap_or_default();
        let argument = line.get(word_end + 1..).unwrap_or_default();
        if word.is_empty() || word.len() > 4 || !word.iter().all(u8::is_ascii_alphabetic) {
            if self.client_lines == 1 {
                self.anomaly = Some(FtpAnomaly::NotCommand);
            }
            return;
        }
        if word.eq_ignore_ascii_case(b"USER") {
            out.push(FtpEvent::User(printable(argument, MAX_USER_LEN)));
        } else if word.eq_ignore_ascii_case(b"PASS") {
            out.push(FtpEvent::Pass);
        } else if word.eq_ignore_ascii_case(b"AUTH")
            && (starts_with_ignore_case(argument, b"TLS")
                || starts_with_ignore_case(argument, b"SSL"))
        {
            out.push(FtpEvent::AuthTls);
        }
    }

    fn reply(&mut self, line: &[u8], out: &mut Vec<FtpEvent>) {
        let code = line
            .get(..3)
            .filter(|digits| digits.iter().all(u8::is_ascii_digit))
            .and_then(|digits| std::str::from_utf8(digits).ok())
            .and_then(|digits| digits.parse::<u16>().ok());
        let separator = line.get(3).copied();
        let text = line.get(4..).unwrap_or_default();
        if let Some(open) = self.open_reply {
            // Inside a multi-line reply only `NNN ` with its code ends it.
            if code == Some(open) && separator == Some(b' ') {
                self.open_reply = None;
            }
            return;
        }
        let (Some(code), Some(separator @ (b' ' | b'-'))) = (code, separator) else {
            if !self.greeted {
                self.anomaly = Some(FtpAnomaly::NotReply);
            }
            return;
        };
        if separator == b'-' {
            self.open_reply = Some(code);
        }
        if !self.greeted {
            self.greeted = true;
            if code == 220 {
                out.push(FtpEvent::Greeting(printable(text, MAX_TEXT_LEN)));
            }
            return;
        }
        match code {
            230 => out.push(FtpEvent::LoginSucceeded),
            530 => out.push(FtpEvent::LoginFailed),
            234 => {
                out.push(FtpEvent::TlsStarted);
                self.tls = true;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    use Direction::{ToClient, ToServer};

    /// A login that fails, then one that succeeds (vsftpd's texts).
    const CONVERSATION: &[(Direction, &[u8])] = &[
        (
            ToClient,
            b"220-Ward FTP\r\n220-authorised use only\r\n220 (vsFTPd 3.0.3)\r\n",
        ),
        (ToServer, b"USER biomed\r\n"),
        (ToClient, b"331 Please specify the password.\r\n"),
        (ToServer, b"PASS wrong-Secret\r\n"),
        (ToClient, b"530 Login incorrect.\r\n"),
        (ToServer, b"USER biomed\r\nPASS right-Secret\r\n"),
        (
            ToClient,
            b"331 Please specify the password.\r\n230-Welcome\r\n230 Login successful.\r\n",
        ),
        (ToServer, b"PWD\r\n"),
    ];

    /// Feeds `segments` as the worker would: what a call leaves unconsumed
    /// is presented again before the next bytes of its direction.
    fn feed_all(segments: &[(Direction, Vec<u8>)]) -> (Vec<FtpEvent>, Option<FtpAnomaly>) {
        let mut session = FtpSession::new();
        let mut held: [Vec<u8>; 2] = Default::default();
        let mut out = Vec::new();
        for (direction, bytes) in segments {
            let held = &mut held[direction.index()];
            held.extend_from_slice(bytes);
            let consumed = session.feed(*direction, held, &mut out);
            held.drain(..consumed);
        }
        (out, session.anomaly())
    }

    fn whole() -> Vec<(Direction, Vec<u8>)> {
        CONVERSATION.iter().map(|(d, b)| (*d, b.to_vec())).collect()
    }

    #[test]
    fn a_login_gives_greeting_user_pass_and_verdicts() {
        let (events, anomaly) = feed_all(&whole());
        assert_eq!(anomaly, None);
        assert_eq!(
            events,
            vec![
                FtpEvent::Greeting("Ward FTP".into()),
                FtpEvent::User("biomed".into()),
                FtpEvent::Pass,
                FtpEvent::LoginFailed,
                FtpEvent::User("biomed".into()),
                FtpEvent::Pass,
                FtpEvent::LoginSucceeded,
            ]
        );
        assert!(!format!("{events:?}").contains("Secret"));
    }

    #[test]
    fn auth_tls_stops_the_session_at_234() {
        let segments = vec![
            (ToClient, b"220 ready\r\n".to_vec()),
            (ToServer, b"AUTH TLS\r\n".to_vec()),
            (ToClient, b"234 Proceed with negotiation.\r\n".to_vec()),
            (
                ToServer,
                b"\x16\x03\x01\x02\x00\x01\x00\x01\xfcUSER x\r\n".to_vec(),
            ),
        ];
        let (events, anomaly) = feed_all(&segments);
        assert_eq!(anomaly, None);
        assert_eq!(
            events,
            vec![
                FtpEvent::Greeting("ready".into()),
                FtpEvent::AuthTls,
                FtpEvent::TlsStarted
            ]
        );
    }

    #[test]
    fn other_protocols_stop_the_session() {
        let (_, anomaly) = feed_all(&[(ToClient, b"SSH-2.0-OpenSSH_9.2\r\n".to_vec())]);
        assert_eq!(anomaly, Some(FtpAnomaly::NotReply));
        let (_, anomaly) = feed_all(&[(ToServer, b"\x16\x03\x01\x00\x05\n".to_vec())]);
        assert_eq!(anomaly, Some(FtpAnomaly::NotCommand));
        let (_, anomaly) = feed_all(&[(ToServer, vec![b'A'; MAX_LINE_LEN])]);
        assert_eq!(anomaly, Some(FtpAnomaly::LineTooLong));
    }

    #[test]
    fn a_greeting_other_than_220_is_no_greeting() {
        let (events, _) = feed_all(&[(ToClient, b"421 Too many users\r\n".to_vec())]);
        assert!(events.is_empty());
    }

    #[test]
    fn lines_past_the_limit_are_not_read() {
        let mut segments = vec![(ToClient, b"220 ready\r\n".to_vec())];
        segments.push((ToServer, b"NOOP\r\n".repeat(MAX_LINES)));
        segments.push((ToServer, b"USER late\r\n".to_vec()));
        let (events, _) = feed_all(&segments);
        assert_eq!(events, vec![FtpEvent::Greeting("ready".into())]);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(
            server in proptest::collection::vec(any::<u8>(), 0..1024),
            client in proptest::collection::vec(any::<u8>(), 0..1024),
        ) {
            let _ = feed_all(&[(ToClient, server), (ToServer, client)]);
        }

        #[test]
        fn any_split_gives_the_same_events(cuts in proptest::collection::vec(0usize..80, 8)) {
            let mut split = Vec::new();
            for ((direction, bytes), cut) in CONVERSATION.iter().zip(&cuts) {
                let cut = (*cut).min(bytes.len());
                split.push((*direction, bytes[..cut].to_vec()));
                split.push((*direction, bytes[cut..].to_vec()));
            }
            prop_assert_eq!(feed_all(&split), feed_all(&whole()));
        }
    }
}
