//! A Telnet session (RFC 854, option negotiation RFC 855) as far as the
//! login: the server's banner text with the negotiation stripped, whether it
//! showed a login prompt (`login:`, `Username:`) and a password prompt
//! (`Password:`), and the user name the client typed at the login prompt.
//!
//! # Shape
//!
//! A [`TelnetSession`] is fed both directions in packet order and consumes
//! every byte: a small state machine per direction strips `IAC` commands
//! (`IAC WILL/WONT/DO/DONT x`, `IAC SB … IAC SE`, two-byte commands, `IAC
//! IAC` for a data 255), so any split of the bytes gives the same result.
//!
//! A prompt is recognised at its colon from the last characters of the
//! server's current line. The client's keystrokes count as a user name only
//! when the server is waiting at a login prompt — it showed the prompt and
//! sent nothing but spaces before the client typed — and until the client
//! ends the line (CR or LF). Clients send a line at once or a character per
//! packet; both read the same. Backspace and DEL remove a character.
//!
//! # Guarantees
//!
//! - Nothing typed after a password prompt is kept: those keystrokes are
//!   dropped as they arrive, up to the end of their line. Keystrokes at no
//!   recognised prompt are dropped too: they may be a password.
//! - Bounded: at most [`MAX_BYTES`] per direction are read; the banner is cut
//!   to [`MAX_BANNER_LEN`], a user name to [`MAX_USER_LEN`], and at most
//!   [`MAX_USERS`] user names are reported.
//!
//! # What it refuses
//!
//! Nothing: any bytes are text or commands. A peer that is not Telnet gives a
//! banner of its printable bytes and no prompt.
use crate::proto::Direction;

/// Bytes read per direction; a login is done in well under 1 kB. After
/// that the session reads no more: only the start is fingerprinted.
pub const MAX_BYTES: usize = 16 * 1024;

/// Longest banner kept, in bytes of text.
pub const MAX_BANNER_LEN: usize = 512;

/// Longest user name kept, in bytes; later keystrokes on the line are
/// dropped.
pub const MAX_USER_LEN: usize = 64;

/// Most user names reported for one session (a failed login prompts again).
pub const MAX_USERS: usize = 4;

/// Characters of the server's current line kept to recognise a prompt.
const PROMPT_TAIL_LEN: usize = 16;

/// RFC 854 command bytes.
const IAC: u8 = 255;
const SB: u8 = 250;
const SE: u8 = 240;
const WILL: u8 = 251;
const DONT: u8 = 254;

/// What the session saw, at the bytes that showed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TelnetEvent {
    /// The server showed a login prompt.
    LoginPrompt,
    /// The server showed a password prompt.
    PasswordPrompt,
    /// The client typed this user name at a login prompt.
    User(String),
}

/// Where a direction is in the command syntax.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Syntax {
    /// Data.
    #[default]
    Data,
    /// After IAC.
    Iac,
    /// After IAC WILL/WONT/DO/DONT: the option byte comes.
    Option,
    /// Inside IAC SB … IAC SE.
    Sub,
    /// After an IAC inside a subnegotiation.
    SubIac,
}

/// Which prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prompt {
    Login,
    Password,
}

/// What the client's keystrokes are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum Typing {
    /// Not known to be anything: dropped.
    #[default]
    Nothing,
    /// A user name at a login prompt.
    User(Vec<u8>),
    /// A password: dropped up to the end of the line.
    Password,
}

/// The login state of one Telnet connection.
#[derive(Debug, Default, Clone)]
pub struct TelnetSession {
    server_syntax: Syntax,
    client_syntax: Syntax,
    server_bytes: usize,
    client_bytes: usize,
    /// The banner text so far; closed at the first prompt.
    banner: String,
    banner_closed: bool,
    /// The last characters of the server's current line, lowercase.
    tail: Vec<u8>,
    /// A prompt the server showed and has not written past (only spaces).
    waiting_at: Option<Prompt>,
    typing: Typing,
    login_prompt: bool,
    password_prompt: bool,
    users: usize,
}

impl TelnetSession {
    /// A session at the start of a connection.
    pub fn new() -> Self {
        TelnetSession::default()
    }

    /// The server's text before its first prompt (and the prompt's line),
    /// printable, lines joined by `\n`, at most [`MAX_BANNER_LEN`] bytes.
    pub fn banner(&self) -> &str {
        self.banner.trim()
    }

    /// Whether the server showed a login prompt.
    pub fn login_prompt(&self) -> bool {
        self.login_prompt
    }

    /// Whether the server showed a password prompt.
    pub fn password_prompt(&self) -> bool {
        self.password_prompt
    }

    /// Feeds the next in-order bytes of `direction`; all are consumed.
    pub fn feed(&mut self, direction: Direction, input: &[u8], out: &mut Vec<TelnetEvent>) {
        let seen = match direction {
            Direction::ToClient => &mut self.server_bytes,
            Direction::ToServer => &mut self.client_bytes,
        };
        let room = MAX_BYTES.saturating_sub(*seen);
        let input = input.get(..room).unwrap_or(input);
        *seen += input.len();
        for &b in input {
            let syntax = match direction {
                Direction::ToClient => &mut self.server_syntax,
                Direction::ToServer => &mut self.client_syntax,
            };
            let data = match (*syntax, b) {
                (Syntax::Data, IAC) => {
                    *syntax = Syntax::Iac;
                    None
                }
                (Syntax::Data, _) => Some(b),
                (Syntax::Iac, IAC) => {
                    *syntax = Syntax::Data;
                    Some(IAC)
                }
                (Syntax::Iac, WILL..=DONT) => {
                    *syntax = Syntax::Option;
                    None
                }
                (Syntax::Iac, SB) => {
                    *syntax = Syntax::Sub;
                    None
                }
                // A two-byte command (NOP, GA, AYT, …), or SE out of place.
                (Syntax::Iac, _) | (Syntax::Option, _) => {
                    *syntax = Syntax::Data;
                    None
                }
                (Syntax::Sub, IAC) => {
                    *syntax = Syntax::SubIac;
                    None
                }
                (Syntax::Sub, _) => None,
                (Syntax::SubIac, SE) => {
                    *syntax = Syntax::Data;
                    None
                }
                // IAC IAC inside a subnegotiation is a data 255 of it.
                (Syntax::SubIac, _) => {
                    *syntax = Syntax::Sub;
                    None
                }
            };
            if let Some(b) = data {
                match direction {
                    Direction::ToClient => self.server_data(b, out),
                    Direction::ToServer => self.client_data(b, out),
                }
            }
        }
    }

    fn server_data(&mut self, b: u8, out: &mut Vec<TelnetEvent>) {
        let printable = (0x20..0x7f).contains(&b);
        if !self.banner_closed && self.banner.len() < MAX_BANNER_LEN {
            if printable {
                self.banner.push(char::from(b));
            } else if (b == b'\r' || b == b'\n') && !self.banner.ends_with('\n') {
                self.banner.push('\n');
            }
        }
        if b == b'\r' || b == b'\n' {
            self.tail.clear();
            self.waiting_at = None;
            return;
        }
        if !printable {
            return;
        }
        if b != b' ' {
            // The server wrote past its prompt: it was not waiting there.
            self.waiting_at = None;
        }
        if self.tail.len() >= PROMPT_TAIL_LEN {
            self.tail.remove(0);
        }
        self.tail.push(b.to_ascii_lowercase());
        if b != b':' {
            return;
        }
        let tail = self.tail.as_slice();
        let prompt = if tail.ends_with(b"password:") {
            Some(Prompt::Password)
        } else if (tail.ends_with(b"login:") && !tail.ends_with(b"last login:"))
            || tail.ends_with(b"username:")
            || tail.ends_with(b"user name:")
        {
            Some(Prompt::Login)
        } else {
            None
        };
        let Some(prompt) = prompt else {
            return;
        };
        self.waiting_at = Some(prompt);
        self.banner_closed = true;
        match prompt {
            Prompt::Login => {
                self.login_prompt = true;
                out.push(TelnetEvent::LoginPrompt);
            }
            Prompt::Password => {
                self.password_prompt = true;
                out.push(TelnetEvent::PasswordPrompt);
            }
        }
    }

    fn client_data(&mut self, b: u8, out: &mut Vec<TelnetEvent>) {
        let line_end = b == b'\r' || b == b'\n';
        if self.typing == Typing::Nothing && !line_end && b != 0 {
            // The first keystroke at a prompt the server waits at says what
            // the line is.
            self.typing = match self.waiting_at.take() {
                Some(Prompt::Login) if self.users < MAX_USERS => Typing::User(Vec::new()),
                Some(Prompt::Password) => Typing::Password,
                _ => Typing::Nothing,
            };
        }
        if line_end {
            if let Typing::User(name) = std::mem::take(&mut self.typing)
                && !name.is_empty()
            {
                self.users += 1;
                out.push(TelnetEvent::User(super::printable(&name, MAX_USER_LEN)));
            }
            self.typing = Typing::Nothing;
            return;
        }
        if let Typing::User(name) = &mut self.typing {
            match b {
                0x08 | 0x7f => {
                    name.pop();
                }
                0x20..0x7f if name.len() < MAX_USER_LEN => name.push(b),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    use Direction::{ToClient, ToServer};

    /// inetutils telnetd and a client in character mode: negotiation, the
    /// banner, the user name typed a key at a time and echoed, a password.
    const CONVERSATION: &[(Direction, &[u8])] = &[
        // DO TERMINAL-TYPE, WILL ECHO, WILL SUPPRESS-GO-AHEAD
        (ToClient, &[IAC, 253, 24, IAC, 251, 1, IAC, 251, 3]),
        // WILL TERMINAL-TYPE; SB TERMINAL-TYPE IS "XTERM" SE
        (
            ToServer,
            &[
                IAC, 251, 24, IAC, SB, 24, 0, b'X', b'T', b'E', b'R', b'M', IAC, SE,
            ],
        ),
        (ToClient, b"\r\nDebian GNU/Linux 12\r\nward-pump login: "),
        (ToServer, b"b"),
        (ToClient, b"b"),
        (ToServer, b"ix"),
        (ToClient, b"ix"),
        (ToServer, &[0x7f]),
        (ToClient, b"\x08 \x08"),
        (ToServer, b"omed\r\0"),
        (ToClient, b"omed\r\nPassword: "),
        (ToServer, b"Secret-1\r\n"),
        (ToClient, b"\r\nLogin incorrect\r\nward-pump login: "),
        (ToServer, b"nurse\r\n"),
        (ToClient, b"nurse\r\nPassword:"),
        (ToServer, b"Secret-2\r"),
    ];

    fn feed_all(segments: &[(Direction, Vec<u8>)]) -> (Vec<TelnetEvent>, String, bool, bool) {
        let mut session = TelnetSession::new();
        let mut out = Vec::new();
        for (direction, bytes) in segments {
            session.feed(*direction, bytes, &mut out);
        }
        (
            out,
            session.banner().to_owned(),
            session.login_prompt(),
            session.password_prompt(),
        )
    }

    fn whole() -> Vec<(Direction, Vec<u8>)> {
        CONVERSATION.iter().map(|(d, b)| (*d, b.to_vec())).collect()
    }

    #[test]
    fn a_login_gives_banner_prompts_and_user_names_only() {
        let (events, banner, login, password) = feed_all(&whole());
        assert_eq!(banner, "Debian GNU/Linux 12\nward-pump login:");
        assert!(login && password);
        assert_eq!(
            events,
            vec![
                TelnetEvent::LoginPrompt,
                TelnetEvent::User("biomed".into()),
                TelnetEvent::PasswordPrompt,
                TelnetEvent::LoginPrompt,
                TelnetEvent::User("nurse".into()),
                TelnetEvent::PasswordPrompt,
            ]
        );
        assert!(!format!("{events:?}").contains("Secret"));
    }

    #[test]
    fn last_login_is_no_prompt() {
        let (events, ..) = feed_all(&[(ToClient, b"Last login: Mon Jan 1\r\n$ ".to_vec())]);
        assert!(events.is_empty());
    }

    #[test]
    fn keystrokes_at_no_prompt_are_dropped() {
        // A password-only device: the first line typed is the password.
        let (events, ..) = feed_all(&[
            (ToClient, b"Ward switch\r\nEnter code: ".to_vec()),
            (ToServer, b"Secret\r\n".to_vec()),
        ]);
        assert!(events.is_empty());
        // Typed ahead of the prompt: not known to be a user name.
        let (events, ..) = feed_all(&[
            (ToServer, b"biomed\r\n".to_vec()),
            (ToClient, b"login: ".to_vec()),
        ]);
        assert_eq!(events, vec![TelnetEvent::LoginPrompt]);
    }

    #[test]
    fn a_server_that_writes_past_the_prompt_was_not_waiting() {
        let (events, ..) = feed_all(&[
            (ToClient, b"Username: see the manual\r\n".to_vec()),
            (ToServer, b"Secret\r\n".to_vec()),
        ]);
        assert_eq!(events, vec![TelnetEvent::LoginPrompt]);
    }

    #[test]
    fn a_user_name_is_cut_and_the_banner_bounded() {
        let long = vec![b'u'; MAX_USER_LEN + 5];
        let (events, ..) = feed_all(&[
            (ToClient, b"Username:".to_vec()),
            (ToServer, [long, b"\r".to_vec()].concat()),
        ]);
        assert_eq!(events[1], TelnetEvent::User("u".repeat(MAX_USER_LEN)));
        let (_, banner, ..) = feed_all(&[(ToClient, vec![b'x'; MAX_BANNER_LEN * 2])]);
        assert_eq!(banner.len(), MAX_BANNER_LEN);
    }

    #[test]
    fn iac_iac_is_a_data_byte_and_subnegotiation_is_stripped() {
        let (_, banner, ..) = feed_all(&[(
            ToClient,
            vec![
                b'a', IAC, IAC, b'b', IAC, SB, 1, b'z', IAC, IAC, b'z', IAC, SE, b'c', IAC, 241,
                b'd',
            ],
        )]);
        assert_eq!(banner, "abcd");
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(
            server in proptest::collection::vec(any::<u8>(), 0..1024),
            client in proptest::collection::vec(any::<u8>(), 0..1024),
        ) {
            let _ = feed_all(&[(ToClient, server.clone()), (ToServer, client), (ToClient, server)]);
        }

        #[test]
        fn any_split_gives_the_same_result(cuts in proptest::collection::vec(0usize..40, 16)) {
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
