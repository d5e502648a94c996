//! The head of an HTTP/1.x request or response (RFC 9112 §2–§5): from a
//! request its method, `User-Agent`, the `Authorization` scheme and — for
//! Basic (RFC 7617) — the user name; from a response its status, `Server`,
//! and the schemes its `WWW-Authenticate` headers offer.
//!
//! Guarantees: only the head is read, at most [`MAX_HEAD_LEN`] bytes; header
//! values are cut to [`MAX_VALUE_LEN`] and made printable. The Basic
//! credential is decoded four base64 characters at a time and decoding stops
//! at the colon that ends the user name: the password is never decoded
//! whole, never copied out, never returned. A credential without a colon
//! (malformed: it could be all password) gives no user name.
//!
//! Refuses: a first line that is not a request line (token, space) or a
//! status line (`HTTP/`), each an [`HttpAnomaly`].
use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use super::{Parsed, printable, split_line};

/// Most bytes of a head read, in bytes: a head not ended within them is
/// read up to its last whole line in them. Browsers send 0.5–2 kB; 8 KiB is
/// the smallest limit common servers enforce (nginx, Apache).
pub const MAX_HEAD_LEN: usize = 8 * 1024;

/// Longest header value kept, in bytes (User-Agent, Server); a longer one is
/// cut.
pub const MAX_VALUE_LEN: usize = 256;

/// Longest request method, in bytes; the longest registered one
/// (`UPDATEREDIRECTREF`) is 17.
pub const MAX_METHOD_LEN: usize = 24;

/// Longest user name kept from a Basic credential, in bytes; decoding
/// stops there.
pub const MAX_USER_LEN: usize = 64;

/// Most `WWW-Authenticate` schemes kept from one response (servers offer
/// one to three).
pub const MAX_CHALLENGES: usize = 8;

/// Why bytes are not an HTTP head medtap reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HttpAnomaly {
    /// The first line is not `METHOD SP target SP HTTP/x.y`.
    NotRequest,
    /// The first line does not start with `HTTP/` and a 3-digit status.
    NotResponse,
}

impl HttpAnomaly {
    /// A stable snake_case name, for counters.
    pub fn name(self) -> &'static str {
        match self {
            HttpAnomaly::NotRequest => "not_request",
            HttpAnomaly::NotResponse => "not_response",
        }
    }
}

/// An authentication scheme (IANA HTTP Authentication Scheme registry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthScheme {
    /// RFC 7617: the password in base64, readable by anyone on the path.
    Basic,
    /// RFC 7616.
    Digest,
    /// MS-NTHT NTLM.
    Ntlm,
    /// RFC 4559 SPNEGO (Kerberos or NTLM).
    Negotiate,
    /// RFC 6750 bearer token.
    Bearer,
    /// Any other scheme.
    Other,
}

impl AuthScheme {
    /// The scheme named by the first token of `value`.
    fn of(value: &[u8]) -> AuthScheme {
        let token = value
            .split(|&b| b == b' ' || b == b',')
            .next()
            .unwrap_or_default();
        let is = |name: &[u8]| token.eq_ignore_ascii_case(name);
        if is(b"Basic") {
            AuthScheme::Basic
        } else if is(b"Digest") {
            AuthScheme::Digest
        } else if is(b"NTLM") {
            AuthScheme::Ntlm
        } else if is(b"Negotiate") {
            AuthScheme::Negotiate
        } else if is(b"Bearer") {
            AuthScheme::Bearer
        } else {
            AuthScheme::Other
        }
    }

    /// A stable lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            AuthScheme::Basic => "basic",
            AuthScheme::Digest => "digest",
            AuthScheme::Ntlm => "ntlm",
            AuthScheme::Negotiate => "negotiate",
            AuthScheme::Bearer => "bearer",
            AuthScheme::Other => "other",
        }
    }
}

/// What a request head says about the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// The method (`GET`, `POST`, …).
    pub method: String,
    /// The `User-Agent` value.
    pub user_agent: Option<String>,
    /// The `Authorization` header's scheme.
    pub authorization: Option<AuthScheme>,
    /// For Basic: the user name, when the credential decodes and has the
    /// colon that ends it. Never the password.
    pub basic_user: Option<String>,
    /// Whether the head ran past [`MAX_HEAD_LEN`] (only its whole lines
    /// within it were read).
    pub head_truncated: bool,
}

/// What a response head says about the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The `Server` value.
    pub server: Option<String>,
    /// The schemes of the `WWW-Authenticate` headers, in order (the first
    /// challenge of each header), at most [`MAX_CHALLENGES`].
    pub www_authenticate: Vec<AuthScheme>,
    /// Whether the head ran past [`MAX_HEAD_LEN`].
    pub head_truncated: bool,
}

/// Parses the request head at the start of `stream`, the first in-order
/// bytes a client sent.
pub fn parse_request(stream: &[u8]) -> Parsed<HttpRequest, HttpAnomaly> {
    let (head, head_truncated) = match head(stream) {
        Some(found) => found,
        // Refuse early what cannot become a request line.
        None if !could_be_request(stream) => return Parsed::NotThis(HttpAnomaly::NotRequest),
        None => return Parsed::NeedMore,
    };
    let Some((first, mut rest)) = split_line(head) else {
        return Parsed::NotThis(HttpAnomaly::NotRequest);
    };
    let Some(method) = request_method(first) else {
        return Parsed::NotThis(HttpAnomaly::NotRequest);
    };
    let mut request = HttpRequest {
        method: printable(method, MAX_METHOD_LEN),
        user_agent: None,
        authorization: None,
        basic_user: None,
        head_truncated,
    };
    while let Some((line, next)) = split_line(rest) {
        rest = next;
        let Some((name, value)) = header(line) else {
            continue;
        };
        if name.eq_ignore_ascii_case(b"User-Agent") {
            request.user_agent = Some(printable(value, MAX_VALUE_LEN));
        } else if name.eq_ignore_ascii_case(b"Authorization") {
            let scheme = AuthScheme::of(value);
            request.authorization = Some(scheme);
            request.basic_user = match scheme {
                AuthScheme::Basic => value.get(b"Basic".len()..).and_then(basic_user),
                _ => None,
            };
        }
    }
    Parsed::Done(request)
}

/// Parses the response head at the start of `stream`, the first in-order
/// bytes a server sent.
pub fn parse_response(stream: &[u8]) -> Parsed<HttpResponse, HttpAnomaly> {
    let (head, head_truncated) = match head(stream) {
        Some(found) => found,
        None if !b"HTTP/".starts_with(stream.get(..5).unwrap_or(stream)) => {
            return Parsed::NotThis(HttpAnomaly::NotResponse);
        }
        None => return Parsed::NeedMore,
    };
    let Some((first, mut rest)) = split_line(head) else {
        return Parsed::NotThis(HttpAnomaly::NotResponse);
    };
    let Some(status) = status_code(first) else {
        return Parsed::NotThis(HttpAnomaly::NotResponse);
    };
    let mut response = HttpResponse {
        status,
        server: None,
        www_authenticate: Vec::new(),
        head_truncated,
    };
    while let Some((line, next)) = split_line(rest) {
        rest = next;
        let Some((name, value)) = header(line) else {
            continue;
        };
        if name.eq_ignore_ascii_case(b"Server") {
            response.server = Some(printable(value, MAX_VALUE_LEN));
        } else if name.eq_ignore_ascii_case(b"WWW-Authenticate")
            && response.www_authenticate.len() < MAX_CHALLENGES
        {
            response.www_authenticate.push(AuthScheme::of(value));
        }
    }
    Parsed::Done(response)
}

/// The head (up to and including the empty line that ends it) and whether
/// it was cut at [`MAX_HEAD_LEN`]; `None` when it has not ended yet and
/// there is room for more.
fn head(stream: &[u8]) -> Option<(&[u8], bool)> {
    let window = stream.get(..MAX_HEAD_LEN).unwrap_or(stream);
    let mut at = 0;
    let mut rest = window;
    while let Some((line, next)) = split_line(rest) {
        // An empty first line is not the end (it is refused by the caller).
        if line.is_empty() && at > 0 {
            let end = window.len() - next.len();
            return window.get(..end).map(|h| (h, false));
        }
        at = window.len() - next.len();
        rest = next;
    }
    if stream.len() >= MAX_HEAD_LEN {
        // Read what whole lines there are.
        return window.get(..at).map(|h| (h, true));
    }
    None
}

/// Whether an unfinished first line can still become a request line: a
/// method token, then a space.
fn could_be_request(stream: &[u8]) -> bool {
    let first = match memchr::memchr(b'\n', stream) {
        Some(end) => stream.get(..end).unwrap_or(stream),
        None => stream,
    };
    match memchr::memchr(b' ', first) {
        Some(space) => first
            .get(..space)
            .is_some_and(|m| !m.is_empty() && m.len() <= MAX_METHOD_LEN && m.iter().all(is_tchar)),
        None => {
            memchr::memchr(b'\n', stream).is_none()
                && first.len() <= MAX_METHOD_LEN
                && first.iter().all(is_tchar)
        }
    }
}

/// RFC 9110 §5.6.2 token characters.
fn is_tchar(b: &u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b)
}

/// The method of a request line `METHOD SP target SP HTTP/x.y`.
fn request_method(line: &[u8]) -> Option<&[u8]> {
    let mut parts = line.split(|&b| b == b' ');
    let method = parts.next()?;
    let _target = parts.next()?;
    let version = parts.next()?;
    let valid = !method.is_empty()
        && method.len() <= MAX_METHOD_LEN
        && method.iter().all(is_tchar)
        && version.starts_with(b"HTTP/")
        && parts.next().is_none();
    valid.then_some(method)
}

/// The status of a status line `HTTP/x.y SP 3DIGIT SP reason`.
fn status_code(line: &[u8]) -> Option<u16> {
    let rest = line.strip_prefix(b"HTTP/")?;
    let space = memchr::memchr(b' ', rest)?;
    let code = rest.get(space + 1..space + 4)?;
    if !code.iter().all(u8::is_ascii_digit) || rest.get(space + 4).is_some_and(|&b| b != b' ') {
        return None;
    }
    std::str::from_utf8(code).ok()?.parse().ok()
}

/// A header line's name and value (value trimmed); `None` for a line that
/// is not `name: value` (an obsolete folded continuation, garbage).
fn header(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = memchr::memchr(b':', line)?;
    let (name, value) = line.split_at_checked(colon)?;
    if name.is_empty() || !name.iter().all(is_tchar) {
        return None;
    }
    Some((name, value.get(1..)?.trim_ascii()))
}

/// The user name of a Basic credential (`value` is what follows the word
/// `Basic`), decoded four base64 characters at a time until the colon that
/// ends it. Decoded bytes after the colon are never kept.
fn basic_user(value: &[u8]) -> Option<String> {
    const ENGINE: GeneralPurpose = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let token = value.trim_ascii();
    let token = token
        .split(|&b| b == b' ' || b == b',')
        .next()
        .unwrap_or_default();
    let mut user = Vec::new();
    for quad in token.chunks(4) {
        let mut decoded = [0u8; 3];
        let n = ENGINE.decode_slice(quad, &mut decoded).ok()?;
        for &b in decoded.get(..n).unwrap_or_default() {
            if b == b':' {
                return Some(printable(&user, MAX_USER_LEN));
            }
            if user.len() >= MAX_USER_LEN {
                // A user name this long is cut; the rest is not decoded.
                return Some(printable(&user, MAX_USER_LEN));
            }
            user.push(b);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// curl -u biomed:s3cret -A "Infusion/2.1" http://10.0.0.2/
    const REQUEST: &[u8] = b"GET /status HTTP/1.1\r\n\
        Host: 10.0.0.2\r\n\
        Authorization: Basic YmlvbWVkOnMzY3JldA==\r\n\
        User-Agent: Infusion/2.1\r\n\
        Accept: */*\r\n\r\n";

    const RESPONSE: &[u8] = b"HTTP/1.0 401 Unauthorized\r\n\
        Server: BaseHTTP/0.6 Python/3.11.2\r\n\
        WWW-Authenticate: Negotiate\r\n\
        WWW-Authenticate: NTLM\r\n\
        www-authenticate: Basic realm=\"ward\", charset=\"UTF-8\"\r\n\
        Content-Length: 0\r\n\r\nbody";

    #[test]
    fn a_request_gives_method_agent_and_basic_user_only() {
        let request = parse_request(REQUEST).done().unwrap();
        assert_eq!(request.method, "GET");
        assert_eq!(request.user_agent.as_deref(), Some("Infusion/2.1"));
        assert_eq!(request.authorization, Some(AuthScheme::Basic));
        assert_eq!(request.basic_user.as_deref(), Some("biomed"));
        assert!(!format!("{request:?}").contains("s3cret"));
    }

    #[test]
    fn a_response_gives_status_server_and_schemes() {
        let response = parse_response(RESPONSE).done().unwrap();
        assert_eq!(response.status, 401);
        assert_eq!(
            response.server.as_deref(),
            Some("BaseHTTP/0.6 Python/3.11.2")
        );
        assert_eq!(
            response.www_authenticate,
            vec![AuthScheme::Negotiate, AuthScheme::Ntlm, AuthScheme::Basic]
        );
    }

    #[test]
    fn a_basic_credential_without_colon_gives_no_user() {
        // base64("onlysecret"): no colon, so it may be all password.
        let request = b"GET / HTTP/1.1\r\nAuthorization: Basic b25seXNlY3JldA==\r\n\r\n";
        let request = parse_request(request).done().unwrap();
        assert_eq!(request.authorization, Some(AuthScheme::Basic));
        assert_eq!(request.basic_user, None);
    }

    #[test]
    fn basic_user_decoding_stops_at_the_colon() {
        // base64("ab:") is "YWI6"; garbage after it is never decoded.
        assert_eq!(basic_user(b" YWI6!!!!").as_deref(), Some("ab"));
        // Unpadded credentials decode too.
        assert_eq!(basic_user(b"YWJjOmQ").as_deref(), Some("abc"));
        // An empty user name is a user name.
        assert_eq!(basic_user(b"OnNlY3JldA==").as_deref(), Some(""));
        assert_eq!(basic_user(b"not base64!"), None);
    }

    #[test]
    fn a_user_name_longer_than_the_limit_is_cut() {
        use base64::engine::general_purpose::STANDARD;
        let long = format!("{}:pw", "u".repeat(MAX_USER_LEN + 10));
        let user = basic_user(STANDARD.encode(long).as_bytes()).unwrap();
        assert_eq!(user.len(), MAX_USER_LEN);
    }

    #[test]
    fn header_values_are_cut_and_made_printable() {
        let agent = "A".repeat(MAX_VALUE_LEN + 1);
        let request = format!("GET / HTTP/1.1\r\nUser-Agent: {agent}\x07\r\n\r\n");
        let request = parse_request(request.as_bytes()).done().unwrap();
        assert_eq!(request.user_agent.unwrap().len(), MAX_VALUE_LEN);
        let request = b"GET / HTTP/1.1\r\nUser-Agent: a\x1bb\r\n\r\n";
        let request = parse_request(request).done().unwrap();
        assert_eq!(request.user_agent.as_deref(), Some("a?b"));
    }

    #[test]
    fn a_head_that_has_not_ended_needs_more() {
        assert_eq!(parse_request(b""), Parsed::NeedMore);
        assert_eq!(parse_request(b"GE"), Parsed::NeedMore);
        assert_eq!(
            parse_request(b"GET / HTTP/1.1\r\nHost: a\r\n"),
            Parsed::NeedMore
        );
        assert_eq!(parse_response(b"HTT"), Parsed::NeedMore);
    }

    #[test]
    fn other_protocols_are_refused_early() {
        assert_eq!(
            parse_request(b"SSH-2.0-OpenSSH_9.2p1\r\n"),
            Parsed::NotThis(HttpAnomaly::NotRequest)
        );
        assert_eq!(
            parse_request(b"\x16\x03\x01\x02\x00"),
            Parsed::NotThis(HttpAnomaly::NotRequest)
        );
        assert_eq!(
            parse_response(b"220 ftp ready\r\n"),
            Parsed::NotThis(HttpAnomaly::NotResponse)
        );
        assert_eq!(
            parse_response(b"HTTP/1.1 2x0 OK\r\n\r\n"),
            Parsed::NotThis(HttpAnomaly::NotResponse)
        );
    }

    #[test]
    fn a_head_longer_than_the_limit_is_read_to_its_last_whole_line() {
        let mut request = b"GET / HTTP/1.1\r\nUser-Agent: x\r\n".to_vec();
        while request.len() < MAX_HEAD_LEN + 100 {
            request.extend_from_slice(b"Cookie: aaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        let request = parse_request(&request).done().unwrap();
        assert!(request.head_truncated);
        assert_eq!(request.user_agent.as_deref(), Some("x"));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = parse_request(&bytes);
            let _ = parse_response(&bytes);
            let _ = basic_user(&bytes);
        }

        #[test]
        fn every_prefix_needs_more_or_gives_the_whole_answer(cut in 0usize..REQUEST.len()) {
            let whole = parse_request(REQUEST);
            let part = parse_request(&REQUEST[..cut]);
            prop_assert!(part == Parsed::NeedMore || part == whole);
            let whole = parse_response(RESPONSE);
            let part = parse_response(&RESPONSE[..cut.min(RESPONSE.len())]);
            prop_assert!(part == Parsed::NeedMore || part == whole);
        }
    }
}
