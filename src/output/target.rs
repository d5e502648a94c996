//! The `-o` target of a network sink, parsed once: scheme, host, port, user,
//! password, path and query parameters, and the two parameters every sink
//! takes, `format=` and `max_size=`.
//!
//! What it guarantees: a [`SinkUrl`] never shows its user information nor a
//! secret-looking query value. Its [`Display`](fmt::Display) is the form
//! every log line, error, `stats.sinks[].name`, metrics label and spool
//! directory name uses; a URL that does not even parse is shown through
//! [`redact`], which removes the same parts from the raw text. The password
//! is held as a [`Secret`], which prints as `***` however it is formatted.
//!
//! What it refuses: a URL the `url` crate does not parse, a port of 0, a
//! fragment, a parameter given twice, and (through [`SinkUrl::finish`]) any
//! parameter the sink did not take.

use std::fmt;

use percent_encoding::percent_decode_str;
use thiserror::Error;

use super::format::Format;
use super::secret::Secret;

/// Query parameter names whose value is never shown: a parameter is secret
/// when its lowercased name contains one of these (and does not end in
/// `_file`, which names a file, not its content).
pub const SECRET_PARAM_WORDS: [&str; 6] = ["pass", "pwd", "token", "secret", "auth", "key"];

/// What a secret value is shown as.
pub const REDACTED: &str = "***";

/// Why an `-o` URL is refused. `url` is already redacted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("bad output URL {url}: {reason}")]
pub struct UrlError {
    /// The URL, without user information or secret values.
    pub url: String,
    /// What is wrong with it.
    pub reason: String,
}

/// A parsed `-o` URL.
#[derive(Clone)]
pub struct SinkUrl {
    scheme: String,
    /// Host name or address; IPv6 without its brackets.
    host: String,
    port: Option<u16>,
    user: Option<String>,
    password: Option<Secret>,
    /// The path as written (still %-encoded), `""` or starting with `/`.
    path: String,
    /// Query parameters, %-decoded, in order; taken ones are removed.
    params: Vec<(String, String)>,
    /// Every query parameter as given, for [`Display`](fmt::Display).
    shown_params: Vec<(String, String)>,
    format: Option<Format>,
    max_size: Option<usize>,
}

impl fmt::Debug for SinkUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SinkUrl({self})")
    }
}

/// Whether the value of query parameter `name` is never shown.
pub fn is_secret_param(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    !name.ends_with("_file") && SECRET_PARAM_WORDS.iter().any(|w| name.contains(w))
}

/// `raw` (an `-o` argument that may not parse) without what could be a
/// credential: everything between `://` and the last `@` before the query,
/// secret-looking query values, and any fragment.
pub fn redact(raw: &str) -> String {
    let raw = raw.split_once('#').map_or(raw, |(before, _)| before);
    let (before_query, query) = match raw.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (raw, None),
    };
    let mut out = match before_query.split_once("://") {
        Some((scheme, rest)) => {
            let rest = rest.rsplit_once('@').map_or(rest, |(_, after)| after);
            format!("{scheme}://{rest}")
        }
        // No authority: only an opaque `user:pass@` could hide here.
        None => before_query
            .rsplit_once('@')
            .map_or(before_query, |(_, after)| after)
            .to_owned(),
    };
    if let Some(query) = query {
        out.push('?');
        for (i, pair) in query.split('&').enumerate() {
            if i > 0 {
                out.push('&');
            }
            match pair.split_once('=') {
                Some((name, _)) if is_secret_param(name) => {
                    out.push_str(name);
                    out.push('=');
                    out.push_str(REDACTED);
                }
                _ => out.push_str(pair),
            }
        }
    }
    out
}

impl SinkUrl {
    /// Parses `raw`. `format=` with an event format name (see
    /// [`Format::parse`]) and `max_size=` are taken here; every other
    /// parameter is left for the sink ([`SinkUrl::take`]).
    pub fn parse(raw: &str) -> Result<SinkUrl, UrlError> {
        let bad = |reason: String| UrlError {
            url: redact(raw),
            reason,
        };
        let url = url::Url::parse(raw).map_err(|e| {
            bad(match e {
                url::ParseError::InvalidPort => "port must be a number from 1 to 65535".to_owned(),
                url::ParseError::RelativeUrlWithoutBase => "expected SCHEME://…".to_owned(),
                other => other.to_string(),
            })
        })?;
        if url.fragment().is_some() {
            return Err(bad("a fragment (#…) has no meaning here".to_owned()));
        }
        let host = match url.host() {
            Some(url::Host::Ipv6(addr)) => addr.to_string(),
            Some(url::Host::Ipv4(addr)) => addr.to_string(),
            Some(url::Host::Domain(name)) => {
                // Opaque hosts of non-special schemes stay %-encoded.
                percent_decode_str(name).decode_utf8_lossy().into_owned()
            }
            None => String::new(),
        };
        let port = url.port();
        if port == Some(0) {
            return Err(bad("port must be a number from 1 to 65535".to_owned()));
        }
        let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
        let user = Some(url.username()).filter(|u| !u.is_empty()).map(decode);
        let password = url.password().map(|p| Secret::new(decode(p)));
        let mut params: Vec<(String, String)> = Vec::new();
        for (name, value) in url.query_pairs() {
            if name.is_empty() && value.is_empty() {
                continue;
            }
            if params.iter().any(|(n, _)| *n == name) && name != "format" {
                return Err(bad(format!("{name}= is given twice")));
            }
            params.push((name.into_owned(), value.into_owned()));
        }
        let mut parsed = SinkUrl {
            scheme: url.scheme().to_owned(),
            host,
            port,
            user,
            password,
            path: url.path().to_owned(),
            shown_params: params.clone(),
            params,
            format: None,
            max_size: None,
        };
        // `format=` may name an event format, and (for HTTP, whose body
        // shape had that name first) also a request shape; take the former.
        let mut format = None;
        let mut kept = Vec::with_capacity(parsed.params.len());
        for (name, value) in std::mem::take(&mut parsed.params) {
            if name == "format"
                && let Some(f) = Format::parse(&value)
            {
                if format.is_some() {
                    return Err(parsed.error("an event format= is given twice"));
                }
                format = Some(f);
                continue;
            }
            kept.push((name, value));
        }
        parsed.params = kept;
        parsed.format = format;
        if let Some(value) = parsed.take("max_size") {
            let max = value
                .parse::<usize>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| parsed.error("max_size must be a positive number of bytes"))?;
            parsed.max_size = Some(max);
        }
        Ok(parsed)
    }

    /// An error about this URL.
    pub fn error(&self, reason: impl Into<String>) -> UrlError {
        UrlError {
            url: self.to_string(),
            reason: reason.into(),
        }
    }

    /// The scheme, lowercase.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The host (IPv6 without brackets); empty when the URL has none.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The host as a URL writes it: IPv6 bracketed.
    pub fn host_for_url(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }

    /// The port as written, or the one set by [`SinkUrl::default_port`].
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// Uses `port` when the URL names none (shown from then on).
    pub fn default_port(&mut self, port: u16) {
        self.port.get_or_insert(port);
    }

    /// `host:port` (IPv6 bracketed), as an HTTP `Host` header.
    pub fn authority(&self) -> String {
        match self.port {
            Some(port) => format!("{}:{port}", self.host_for_url()),
            None => self.host_for_url(),
        }
    }

    /// The user name, %-decoded.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The password, %-decoded.
    pub fn password(&self) -> Option<&Secret> {
        self.password.as_ref()
    }

    /// The path as written (%-encoded).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The event format `format=` names, if it names one.
    pub fn format(&self) -> Option<Format> {
        self.format
    }

    /// The `max_size=` in bytes, if given.
    pub fn max_size(&self) -> Option<usize> {
        self.max_size
    }

    /// Takes parameter `name` (%-decoded), if given.
    pub fn take(&mut self, name: &str) -> Option<String> {
        let at = self.params.iter().position(|(n, _)| n == name)?;
        Some(self.params.remove(at).1)
    }

    /// Refuses user information, for sinks that have no use for it.
    pub fn refuse_credentials(&self, why: &str) -> Result<(), UrlError> {
        if self.user.is_some() || self.password.is_some() {
            return Err(self.error(format!("no user name or password here: {why}")));
        }
        Ok(())
    }

    /// Refuses any parameter the sink did not take.
    pub fn finish(&self) -> Result<(), UrlError> {
        match self.params.first() {
            None => Ok(()),
            Some((name, _)) => {
                let mut reason = format!("unknown parameter {name}=");
                if name == "format" {
                    reason = format!(
                        "format must be one of {}",
                        Format::ALL.map(Format::name).join(", ")
                    );
                }
                Err(self.error(reason))
            }
        }
    }
}

/// Writes `text` %-escaping what would change how the query reads.
fn push_escaped(out: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    for c in text.chars() {
        match c {
            '&' | '#' | '%' | '=' | '+' => write!(out, "%{:02X}", c as u32)?,
            c if c.is_control() || c == ' ' => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    write!(out, "%{b:02X}")?;
                }
            }
            c => write!(out, "{c}")?,
        }
    }
    Ok(())
}

impl fmt::Display for SinkUrl {
    /// `scheme://host:port/path?params`: no user information, secret values
    /// as [`REDACTED`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.authority())?;
        f.write_str(&self.path)?;
        for (i, (name, value)) in self.shown_params.iter().enumerate() {
            f.write_str(if i == 0 { "?" } else { "&" })?;
            push_escaped(f, name)?;
            f.write_str("=")?;
            if is_secret_param(name) {
                f.write_str(REDACTED)?;
            } else {
                push_escaped(f, value)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_information_and_secret_values_are_never_shown() {
        let u = SinkUrl::parse("redis://alice:s3cret@cache.example:6380/eve?mode=xadd&token=t0k")
            .expect("parses");
        assert_eq!(u.user(), Some("alice"));
        assert_eq!(u.password().map(Secret::expose), Some("s3cret"));
        let shown = u.to_string();
        assert_eq!(shown, "redis://cache.example:6380/eve?mode=xadd&token=***");
        assert!(!format!("{u:?}").contains("s3cret"));
    }

    #[test]
    fn an_unparsable_url_is_redacted_from_its_text() {
        assert_eq!(
            redact("redis://u:pa/ss@h:99999/k?password=x&mode=y#frag"),
            "redis://h:99999/k?password=***&mode=y"
        );
        assert_eq!(redact("syslog+tcp://h"), "syslog+tcp://h");
        let e = SinkUrl::parse("redis://:s3cret@h:99999/k").expect_err("bad port");
        assert!(!e.to_string().contains("s3cret"), "{e}");
        assert!(e.to_string().contains("port"), "{e}");
    }

    #[test]
    fn ipv6_hosts_are_bracketed_when_shown() {
        let mut u = SinkUrl::parse("syslog+tcp://[::1]/").expect("parses");
        assert_eq!(u.host(), "::1");
        u.default_port(514);
        assert_eq!(u.to_string(), "syslog+tcp://[::1]:514/");
    }

    #[test]
    fn format_and_max_size_are_taken_by_every_sink() {
        let mut u = SinkUrl::parse("http://h/x?format=hec&format=ecs&max_size=4096&index=a")
            .expect("parses");
        assert_eq!(u.format(), Some(Format::Ecs));
        assert_eq!(u.max_size(), Some(4096));
        assert_eq!(u.take("format").as_deref(), Some("hec"));
        assert!(u.finish().is_err());
        assert_eq!(u.take("index").as_deref(), Some("a"));
        assert!(u.finish().is_ok());
        assert_eq!(
            SinkUrl::parse("redis://h/k?format=json")
                .expect("parses")
                .format(),
            Some(Format::Eve)
        );
        for bad in [
            "redis://h/k?max_size=0",
            "redis://h/k?max_size=-1",
            "redis://h/k?mode=a&mode=b",
            "redis://h/k?format=cef&format=leef",
            "redis://h:0/k",
            "redis://h/k#x",
            "no scheme",
        ] {
            assert!(SinkUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn secret_parameter_names() {
        for name in ["password", "token", "api_key", "Secret", "auth"] {
            assert!(is_secret_param(name), "{name}");
        }
        for name in ["password_file", "token_file", "mode", "index", "ca"] {
            assert!(!is_secret_param(name), "{name}");
        }
    }
}
