//! p0f v3's TCP signature database (`p0f.fp`, p0f 3.09b, LGPL-2.1) and its
//! matching rules, applied to a [`TcpSignature`].
//!
//! The database is data, not code: [`P0fDatabase::bundled`] parses the
//! trimmed copy shipped in `data/p0f/p0f-tcp.fp` (its `[tcp:request]` and
//! `[tcp:response]` sections; licence and regeneration note beside it), and
//! [`P0fDatabase::parse`] reads any p0f.fp text, such as a newer
//! `/etc/p0f/p0f.fp` read at start.
//!
//! Matching follows p0f 3.09b's `tcp_find_match`: the option layout, the
//! end-of-options padding and the IP options length must be equal; quirks
//! must be equal except that `df` or `id+` may be missing and `id-` or `ecn`
//! present (a fuzzy match); the TTL must be at most the signature's and
//! within [`MAX_DISTANCE`] of it (else fuzzy; a signature marked `-` for a
//! random TTL needs only the first); MSS, window scale and payload class
//! compare unless wildcards; the window compares as a number, a modulus, or
//! a multiple of the MSS or MTU. The first specific signature that fits
//! wins; else the first generic one; else the first fuzzy one, unless it
//! names a userland tool.
//!
//! # Guarantees
//!
//! Parsing refuses a damaged database with the line and the reason, never
//! panics; a database with fewer than [`MIN_BUNDLED_SIGNATURES`] signatures
//! is refused as the bundled copy. Matching allocates nothing and borrows
//! its result from the database.
use std::fmt;

use super::tcp::{
    IpVersion, MAX_DISTANCE, MAX_TCP_OPTIONS, OptionLayout, Quirks, SynKind, TcpSignature,
    WindowMultiple, option, quirk,
};

/// The shipped database: the TCP sections of p0f 3.09b's p0f.fp.
const BUNDLED: &str = include_str!("../../data/p0f/p0f-tcp.fp");

/// The bundled database has 192 TCP signatures (91 for SYNs, 101 for
/// SYN+ACKs); fewer means the file was cut short.
pub const MIN_BUNDLED_SIGNATURES: usize = 192;

/// Labels a database may hold (p0f 3.09b's TCP sections have 62).
pub const MAX_LABELS: usize = 4096;

/// Signatures a database may hold (p0f 3.09b's TCP sections have 192).
pub const MAX_SIGNATURES: usize = 16384;

/// How sure a match is, as p0f qualifies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Confidence {
    /// Only within p0f's tolerances: a quirk p0f allows to change (`df`,
    /// `id+` gone; `id-`, `ecn` added) or a TTL out of the usual range.
    Fuzzy,
    /// A generic (`g:`) signature: the family, not a version.
    Generic,
    /// A specific (`s:`) signature, exactly.
    Exact,
}

impl Confidence {
    /// p0f's word for it (`fuzzy`, `generic`, `exact`).
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Fuzzy => "fuzzy",
            Confidence::Generic => "generic",
            Confidence::Exact => "exact",
        }
    }
}

/// One `label =` line: `type:class:name:flavor`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Label {
    /// `win`, `unix`, `other`; `!` for userland tools (scanners).
    class: String,
    /// `Linux`, `Windows`, `FreeBSD`, …
    name: String,
    /// `2.2.x-3.x`, `7 or 8`, … (may be empty).
    flavor: String,
    /// `name flavor`, as p0f prints it.
    text: String,
}

/// An operating system (or userland tool) a signature names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OsMatch<'db> {
    /// The OS family (p0f's name): `Linux`, `Windows`, `Mac OS X`, …
    pub family: &'db str,
    /// The version or variant (p0f's flavor), possibly empty.
    pub flavor: &'db str,
    /// Family and flavor as p0f prints them: `Windows 7 or 8`.
    pub label: &'db str,
    /// p0f's class: `win`, `unix`, `other`; `!` for a userland tool.
    pub class: &'db str,
    /// How sure the match is.
    pub confidence: Confidence,
    /// Hops from the sender: the signature's initial TTL minus the TTL seen
    /// (or the guess from the next usual initial TTL when out of range).
    pub distance: u8,
    /// The line of the signature in the database.
    pub line: usize,
}

impl OsMatch<'_> {
    /// Whether the signature names a userland tool (a scanner's crafted
    /// SYN) rather than an operating system.
    pub fn is_userland(&self) -> bool {
        self.class == "!"
    }
}

/// How a signature constrains the window size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WindowRule {
    Any,
    Exact(u16),
    Modulo(u16),
    Mss(u16),
    Mtu(u16),
}

/// One `sig =` line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Signature {
    label: usize,
    generic: bool,
    line: usize,
    version: Option<IpVersion>,
    ttl: u8,
    bad_ttl: bool,
    ip_options_len: u8,
    mss: Option<u16>,
    window: WindowRule,
    window_scale: Option<u8>,
    options: OptionLayout,
    eol_padding: u8,
    quirks: u32,
    payload: Option<bool>,
}

/// Why a p0f.fp text was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct P0fDbError {
    /// 1-based line number (0 for the whole file).
    pub line: usize,
    /// What is wrong.
    pub reason: &'static str,
}

impl fmt::Display for P0fDbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "p0f.fp line {}: {}", self.line, self.reason)
    }
}

impl std::error::Error for P0fDbError {}

/// p0f's TCP signatures, for SYNs and for SYN+ACKs.
#[derive(Debug, Clone)]
pub struct P0fDatabase {
    labels: Vec<Label>,
    requests: Vec<Signature>,
    responses: Vec<Signature>,
}

/// The shipped database, parsed once for the whole process; `None` only if
/// the shipped copy failed to parse (a test guards against it).
pub fn shared() -> Option<&'static P0fDatabase> {
    static SHARED: std::sync::LazyLock<Option<P0fDatabase>> =
        std::sync::LazyLock::new(|| P0fDatabase::bundled().ok());
    SHARED.as_ref()
}

impl P0fDatabase {
    /// The shipped copy of p0f 3.09b's TCP signatures.
    pub fn bundled() -> Result<P0fDatabase, P0fDbError> {
        let db = P0fDatabase::parse(BUNDLED)?;
        if db.signature_count() < MIN_BUNDLED_SIGNATURES {
            return Err(P0fDbError {
                line: 0,
                reason: "fewer signatures than the bundled database has",
            });
        }
        Ok(db)
    }

    /// Parses p0f.fp text; sections other than `[tcp:request]` and
    /// `[tcp:response]` are skipped.
    pub fn parse(text: &str) -> Result<P0fDatabase, P0fDbError> {
        let mut db = P0fDatabase {
            labels: Vec::new(),
            requests: Vec::new(),
            responses: Vec::new(),
        };
        let mut section: Option<SynKind> = None;
        let mut current: Option<(usize, bool)> = None;
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let err = |reason| P0fDbError { line, reason };
            let content = raw.trim();
            if content.is_empty() || content.starts_with(';') {
                continue;
            }
            if let Some(name) = content.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
                section = match name {
                    "tcp:request" => Some(SynKind::Syn),
                    "tcp:response" => Some(SynKind::SynAck),
                    _ => None,
                };
                current = None;
                continue;
            }
            let Some(kind) = section else { continue };
            let (key, value) = content
                .split_once('=')
                .map(|(k, v)| (k.trim(), v.trim()))
                .ok_or_else(|| err("expected key = value"))?;
            match key {
                "label" => {
                    let mut parts = value.splitn(4, ':');
                    let (Some(kind_text), Some(class), Some(name), Some(flavor)) =
                        (parts.next(), parts.next(), parts.next(), parts.next())
                    else {
                        return Err(err("label is not type:class:name:flavor"));
                    };
                    let generic = match kind_text {
                        "s" => false,
                        "g" => true,
                        _ => return Err(err("label type is neither s nor g")),
                    };
                    if db.labels.len() >= MAX_LABELS {
                        return Err(err("too many labels"));
                    }
                    let text = if flavor.is_empty() {
                        name.to_string()
                    } else {
                        format!("{name} {flavor}")
                    };
                    db.labels.push(Label {
                        class: class.to_string(),
                        name: name.to_string(),
                        flavor: flavor.to_string(),
                        text,
                    });
                    current = Some((db.labels.len() - 1, generic));
                }
                "sig" => {
                    let (label, generic) = current.ok_or_else(|| err("sig before any label"))?;
                    if db.requests.len() + db.responses.len() >= MAX_SIGNATURES {
                        return Err(err("too many signatures"));
                    }
                    let signature = parse_signature(value, label, generic, line).map_err(err)?;
                    match kind {
                        SynKind::Syn => db.requests.push(signature),
                        SynKind::SynAck => db.responses.push(signature),
                    }
                }
                // Which OSes a userland tool runs on: not needed to match.
                "sys" => {}
                _ => return Err(err("unknown key")),
            }
        }
        Ok(db)
    }

    /// Signatures for SYNs plus signatures for SYN+ACKs.
    pub fn signature_count(&self) -> usize {
        self.requests.len() + self.responses.len()
    }

    /// The best match for `observed`, as p0f chooses it; `syn_mss` is the
    /// MSS of the SYN a SYN+ACK answers, when known. `None`: no signature
    /// fits (p0f's `???`).
    pub fn find(&self, observed: &TcpSignature, syn_mss: Option<u16>) -> Option<OsMatch<'_>> {
        let candidates = match observed.kind {
            SynKind::Syn => &self.requests,
            SynKind::SynAck => &self.responses,
        };
        let multiple = observed.window_multiple(syn_mss);
        let mut generic: Option<&Signature> = None;
        let mut fuzzy: Option<&Signature> = None;
        for candidate in candidates {
            let Some(is_fuzzy) = fits(candidate, observed, multiple, fuzzy.is_some()) else {
                continue;
            };
            if is_fuzzy {
                fuzzy.get_or_insert(candidate);
            } else if !candidate.generic {
                return Some(self.report(candidate, observed, Confidence::Exact));
            } else {
                generic.get_or_insert(candidate);
            }
        }
        if let Some(candidate) = generic {
            return Some(self.report(candidate, observed, Confidence::Generic));
        }
        let candidate = fuzzy?;
        let label = self.labels.get(candidate.label)?;
        // No fuzzy matching for userland tools, as p0f.
        if label.class == "!" {
            return None;
        }
        Some(self.report(candidate, observed, Confidence::Fuzzy))
    }

    fn report<'db>(
        &'db self,
        signature: &'db Signature,
        observed: &TcpSignature,
        confidence: Confidence,
    ) -> OsMatch<'db> {
        let in_range = signature.ttl >= observed.ttl
            && (signature.bad_ttl || signature.ttl - observed.ttl <= MAX_DISTANCE);
        let distance = if in_range {
            signature.ttl - observed.ttl
        } else {
            observed.distance_guess()
        };
        let label = self.labels.get(signature.label);
        let field = |f: fn(&Label) -> &str| label.map(f).unwrap_or_default();
        OsMatch {
            family: field(|l| &l.name),
            flavor: field(|l| &l.flavor),
            label: field(|l| &l.text),
            class: field(|l| &l.class),
            confidence,
            distance,
            line: signature.line,
        }
    }
}

/// Whether `signature` fits `observed`: `Some(false)` exactly, `Some(true)`
/// only fuzzily, `None` not at all. Once a fuzzy candidate is held, quirk
/// differences no longer fit (as p0f).
fn fits(
    signature: &Signature,
    observed: &TcpSignature,
    multiple: Option<WindowMultiple>,
    have_fuzzy: bool,
) -> Option<bool> {
    if signature.options != observed.options {
        return None;
    }
    let mut fuzzy = false;
    // A signature for either IP version drops the other's quirks.
    let mut quirks = signature.quirks;
    if signature.version.is_none() {
        quirks &= match observed.ip_version {
            IpVersion::V4 => !quirk::FLOW,
            IpVersion::V6 => !(quirk::DF | quirk::NONZERO_ID | quirk::ZERO_ID),
        };
    }
    let seen = observed.quirks.0;
    if quirks != seen {
        let missing = quirks & !seen;
        let added = seen & !quirks;
        if have_fuzzy
            || missing & !(quirk::DF | quirk::NONZERO_ID) != 0
            || added & !(quirk::ZERO_ID | quirk::ECN) != 0
        {
            return None;
        }
        fuzzy = true;
    }
    if signature.eol_padding != observed.eol_padding
        || signature.ip_options_len != observed.ip_options_len
    {
        return None;
    }
    if signature.bad_ttl {
        if signature.ttl < observed.ttl {
            return None;
        }
    } else if signature.ttl < observed.ttl || signature.ttl - observed.ttl > MAX_DISTANCE {
        fuzzy = true;
    }
    if signature.mss.is_some_and(|m| m != observed.mss)
        || signature
            .window_scale
            .is_some_and(|s| s != observed.window_scale)
        || signature.payload.is_some_and(|p| p != observed.payload)
    {
        return None;
    }
    let window_fits = match signature.window {
        WindowRule::Any => true,
        WindowRule::Exact(w) => w == observed.window,
        WindowRule::Modulo(m) => m != 0 && observed.window.is_multiple_of(m),
        WindowRule::Mss(n) => multiple == Some(WindowMultiple::Mss(n)),
        WindowRule::Mtu(n) => multiple == Some(WindowMultiple::Mtu(n)),
    };
    window_fits.then_some(fuzzy)
}

/// Parses `ver:ittl:olen:mss:wsize,scale:olayout:quirks:pclass`.
fn parse_signature(
    text: &str,
    label: usize,
    generic: bool,
    line: usize,
) -> Result<Signature, &'static str> {
    let fields: Vec<&str> = text.split(':').collect();
    let [version, ttl, olen, mss, window, layout, quirks, payload] = fields.as_slice() else {
        return Err("signature does not have 8 fields");
    };
    let version = match *version {
        "4" => Some(IpVersion::V4),
        "6" => Some(IpVersion::V6),
        "*" => None,
        _ => return Err("IP version is not 4, 6 or *"),
    };
    // ittl, ittl+dist, or ittl- (random TTL).
    let (ttl, bad_ttl) = if let Some(base) = ttl.strip_suffix('-') {
        (number::<u8>(base)?, true)
    } else if let Some((base, plus)) = ttl.split_once('+') {
        let sum = u16::from(number::<u8>(base)?) + u16::from(number::<u8>(plus)?);
        (
            u8::try_from(sum).map_err(|_| "initial TTL over 255")?,
            false,
        )
    } else {
        (number::<u8>(ttl)?, false)
    };
    if ttl == 0 {
        return Err("initial TTL 0");
    }
    let ip_options_len = number::<u8>(olen)?;
    let mss = wildcard(mss, number::<u16>)?;
    let (window, scale) = window.split_once(',').ok_or("window without scale")?;
    let window = if window == "*" {
        WindowRule::Any
    } else if let Some(m) = window.strip_prefix('%') {
        WindowRule::Modulo(number::<u16>(m).and_then(|m| {
            if m < 2 {
                Err("window modulus under 2")
            } else {
                Ok(m)
            }
        })?)
    } else if let Some(n) = window.strip_prefix("mss*") {
        WindowRule::Mss(number::<u16>(n)?)
    } else if let Some(n) = window.strip_prefix("mtu*") {
        WindowRule::Mtu(number::<u16>(n)?)
    } else {
        WindowRule::Exact(number::<u16>(window)?)
    };
    let window_scale = wildcard(scale, number::<u8>)?;
    let mut options = OptionLayout::default();
    let mut eol_padding = 0u8;
    if !layout.is_empty() {
        let items: Vec<&str> = layout.split(',').collect();
        if items.len() > MAX_TCP_OPTIONS {
            return Err("too many TCP options");
        }
        for (i, item) in items.iter().enumerate() {
            let kind = match *item {
                "nop" => option::NOP,
                "mss" => option::MSS,
                "ws" => option::WS,
                "sok" => option::SACK_OK,
                "sack" => option::SACK,
                "ts" => option::TIMESTAMP,
                other => {
                    if let Some(pad) = other.strip_prefix("eol+") {
                        if i + 1 != items.len() {
                            return Err("eol is not the last option");
                        }
                        eol_padding = number::<u8>(pad)?;
                        option::EOL
                    } else if let Some(n) = other.strip_prefix('?') {
                        number::<u8>(n)?
                    } else {
                        return Err("unknown TCP option");
                    }
                }
            };
            options.push(kind);
        }
    }
    let mut quirk_bits = 0u32;
    if !quirks.is_empty() {
        for name in quirks.split(',') {
            let (bit, _) = quirk::NAMES
                .iter()
                .find(|(_, n)| *n == name)
                .ok_or("unknown quirk")?;
            quirk_bits |= bit;
        }
    }
    let payload = match *payload {
        "*" => None,
        "0" => Some(false),
        "+" => Some(true),
        _ => return Err("payload class is not 0, + or *"),
    };
    Ok(Signature {
        label,
        generic,
        line,
        version,
        ttl,
        bad_ttl,
        ip_options_len,
        mss,
        window,
        window_scale,
        options,
        eol_padding,
        quirks: quirk_bits,
        payload,
    })
}

fn number<T: std::str::FromStr>(text: &str) -> Result<T, &'static str> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err("expected a number");
    }
    text.parse().map_err(|_| "number out of range")
}

fn wildcard<T>(
    text: &str,
    parse: fn(&str) -> Result<T, &'static str>,
) -> Result<Option<T>, &'static str> {
    if text == "*" {
        Ok(None)
    } else {
        parse(text).map(Some)
    }
}

impl Quirks {
    /// The quirks a database signature lists, by p0f name; `None` if one is
    /// unknown.
    pub fn from_p0f(text: &str) -> Option<Quirks> {
        let mut bits = 0;
        for name in text.split(',').filter(|n| !n.is_empty()) {
            bits |= quirk::NAMES.iter().find(|(_, n)| *n == name)?.0;
        }
        Some(Quirks(bits))
    }
}

#[cfg(test)]
mod tests;
