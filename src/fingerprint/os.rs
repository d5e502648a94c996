//! The operating system and software under a device, from what it says of
//! itself: each observed piece of evidence becomes a clue with its source and
//! a confidence, and [`combine`] makes one verdict of a device's clues.
//!
//! The functions here take strings and numbers that other parsers have
//! already read off the wire (a p0f label, an NTLMSSP VERSION, a DHCP vendor
//! class or parameter request list, an HTTP User-Agent or Server header, an
//! SSH banner, an SNMP sysDescr, an FTP or Telnet greeting) and return typed
//! clues. They keep no state, send nothing and allocate only what they
//! return.
//!
//! # Confidence
//!
//! - `high`: the evidence is the operating system reporting itself by number
//!   (an NTLMSSP VERSION with a build, a Windows or Linux SNMP sysDescr, a
//!   Cisco IOS version string).
//! - `medium`: a token the software writes from the system it runs on (a
//!   `Windows NT 6.1` User-Agent, an IIS version, a `deb9u` package tag in an
//!   SSH banner, a DHCP vendor class, an exact p0f signature with a version).
//! - `low`: what a behaviour suggests (a DHCP parameter request list, a
//!   generic or fuzzy p0f match, a bare `Linux` in a User-Agent).
//!
//! # End of life
//!
//! [`eol_of`] looks a verdict up in the shipped table `data/eol/os-eol.csv`
//! (data, not code; sources and regeneration note in `data/eol/README.md`),
//! only when the verdict pins a release: a Windows build or NT version other
//! than 10.0, a Windows CE version, or a Debian, Ubuntu, RHEL or CentOS
//! release. Where one build is shared by several editions (7601 is Windows 7
//! SP1, Server 2008 R2 SP1, Embedded Standard 7 and POSReady 7), the latest
//! end date of them all is reported, so a device is never called out of
//! support unless every edition it could be is.
//!
//! # Guarantees
//!
//! Never panics; every text kept is stripped of control characters and
//! bounded ([`MAX_EVIDENCE_TEXT`], [`MAX_FIELD_LEN`]); inputs longer than
//! [`MAX_INPUT_LEN`] are read only to that length. The shipped tables are
//! parsed once and refused whole if a row is damaged (the tests check that
//! every row parses and names its source).
use std::cmp::Ordering;
use std::fmt;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize, Serializer};
use time::{Date, Month, OffsetDateTime};

use super::p0f::{Confidence as P0fConfidence, OsMatch};

/// Bytes of an input string read at most (a header or banner longer than
/// this is read to here; no OS token sits further in).
pub const MAX_INPUT_LEN: usize = 1024;

/// Characters of one evidence text kept at most.
pub const MAX_EVIDENCE_TEXT: usize = 160;

/// Characters of a product name, version or kernel string kept at most.
pub const MAX_FIELD_LEN: usize = 64;

/// Evidence items a combined verdict lists at most (the strongest first).
pub const MAX_EVIDENCE_ITEMS: usize = 8;

/// Software items [`software_list`] keeps at most for one device.
pub const MAX_SOFTWARE_ITEMS: usize = 16;

/// Option codes of a DHCP parameter request list read at most (option 55
/// holds at most 255 one-byte codes).
pub const MAX_PRL_CODES: usize = 255;

/// Rows of `data/eol/os-eol.csv`; a different count means the file was cut
/// short or edited without updating this (and the tests fail).
pub const EOL_TABLE_ROWS: usize = 83;

/// Rows of `data/fingerprint/dhcp-option55.tsv`.
pub const DHCP_PRL_ROWS: usize = 10;

const EOL_CSV: &str = include_str!("../../data/eol/os-eol.csv");
const DHCP_PRL_TSV: &str = include_str!("../../data/fingerprint/dhcp-option55.tsv");

/// How sure a clue or a verdict is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// A behaviour suggests it.
    Low,
    /// Software wrote it from the system it runs on.
    Medium,
    /// The operating system reported itself by number.
    High,
}

impl Confidence {
    /// One step more sure, at most `High`.
    pub fn raised(self) -> Confidence {
        match self {
            Confidence::Low => Confidence::Medium,
            _ => Confidence::High,
        }
    }

    /// One step less sure, at least `Low`.
    pub fn lowered(self) -> Confidence {
        match self {
            Confidence::High => Confidence::Medium,
            _ => Confidence::Low,
        }
    }

    /// `low`, `medium` or `high`.
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

/// An operating system family. Linux distributions (and Android, RouterOS)
/// are families of their own whose parent is [`OsFamily::Linux`]: a clue
/// saying `linux` agrees with one saying `debian`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum OsFamily {
    /// Microsoft Windows (NT line, desktop, server and embedded editions).
    #[serde(rename = "windows")]
    Windows,
    /// Windows CE / Windows Embedded Compact.
    #[serde(rename = "windows_ce")]
    WindowsCe,
    /// Linux, distribution unknown.
    #[serde(rename = "linux")]
    Linux,
    /// Android.
    #[serde(rename = "android")]
    Android,
    /// Debian (and Raspbian, which carries Debian's release numbers).
    #[serde(rename = "debian")]
    Debian,
    /// Ubuntu.
    #[serde(rename = "ubuntu")]
    Ubuntu,
    /// Red Hat Enterprise Linux (an `el7` kernel may also be a rebuild).
    #[serde(rename = "rhel")]
    Rhel,
    /// CentOS Linux.
    #[serde(rename = "centos")]
    Centos,
    /// MikroTik RouterOS.
    #[serde(rename = "routeros")]
    RouterOs,
    /// Apple macOS.
    #[serde(rename = "macos")]
    Macos,
    /// Apple iOS / iPadOS.
    #[serde(rename = "ios")]
    Ios,
    /// FreeBSD.
    #[serde(rename = "freebsd")]
    FreeBsd,
    /// OpenBSD.
    #[serde(rename = "openbsd")]
    OpenBsd,
    /// Oracle (Sun) Solaris.
    #[serde(rename = "solaris")]
    Solaris,
    /// Cisco IOS and IOS XE.
    #[serde(rename = "cisco_ios")]
    CiscoIos,
    /// Wind River VxWorks.
    #[serde(rename = "vxworks")]
    Vxworks,
    /// BlackBerry QNX.
    #[serde(rename = "qnx")]
    Qnx,
}

/// Every family, for name lookups.
const FAMILIES: &[OsFamily] = &[
    OsFamily::Windows,
    OsFamily::WindowsCe,
    OsFamily::Linux,
    OsFamily::Android,
    OsFamily::Debian,
    OsFamily::Ubuntu,
    OsFamily::Rhel,
    OsFamily::Centos,
    OsFamily::RouterOs,
    OsFamily::Macos,
    OsFamily::Ios,
    OsFamily::FreeBsd,
    OsFamily::OpenBsd,
    OsFamily::Solaris,
    OsFamily::CiscoIos,
    OsFamily::Vxworks,
    OsFamily::Qnx,
];

impl OsFamily {
    /// The name records use (as serialised).
    pub fn as_str(self) -> &'static str {
        match self {
            OsFamily::Windows => "windows",
            OsFamily::WindowsCe => "windows_ce",
            OsFamily::Linux => "linux",
            OsFamily::Android => "android",
            OsFamily::Debian => "debian",
            OsFamily::Ubuntu => "ubuntu",
            OsFamily::Rhel => "rhel",
            OsFamily::Centos => "centos",
            OsFamily::RouterOs => "routeros",
            OsFamily::Macos => "macos",
            OsFamily::Ios => "ios",
            OsFamily::FreeBsd => "freebsd",
            OsFamily::OpenBsd => "openbsd",
            OsFamily::Solaris => "solaris",
            OsFamily::CiscoIos => "cisco_ios",
            OsFamily::Vxworks => "vxworks",
            OsFamily::Qnx => "qnx",
        }
    }

    /// The family named `name` (as [`OsFamily::as_str`] writes it).
    pub fn from_name(name: &str) -> Option<OsFamily> {
        FAMILIES.iter().copied().find(|f| f.as_str() == name)
    }

    /// The family this one is a kind of: Linux for the distributions.
    pub fn parent(self) -> Option<OsFamily> {
        match self {
            OsFamily::Android
            | OsFamily::Debian
            | OsFamily::Ubuntu
            | OsFamily::Rhel
            | OsFamily::Centos
            | OsFamily::RouterOs => Some(OsFamily::Linux),
            _ => None,
        }
    }

    /// Whether two clues naming these families can be about the same
    /// system: the same family, or one the parent of the other.
    pub fn agrees_with(self, other: OsFamily) -> bool {
        self == other || self.parent() == Some(other) || other.parent() == Some(self)
    }

    /// 1 for a family with a parent (more specific), else 0.
    fn depth(self) -> u8 {
        u8::from(self.parent().is_some())
    }
}

impl fmt::Display for OsFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a clue was read. The declaration order is the tie-break order of
/// [`combine`]: a system's own report before what its software says, before
/// what its behaviour suggests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ClueSource {
    /// The NTLMSSP VERSION structure in an SMB session setup.
    #[serde(rename = "smb.ntlmssp")]
    SmbNtlmssp,
    /// An SNMP sysDescr in a response.
    #[serde(rename = "snmp.sysdescr")]
    SnmpSysdescr,
    /// An SSH identification string.
    #[serde(rename = "ssh.banner")]
    SshBanner,
    /// An HTTP `Server` header.
    #[serde(rename = "http.server")]
    HttpServer,
    /// An HTTP `User-Agent` header.
    #[serde(rename = "http.user_agent")]
    HttpUserAgent,
    /// A Telnet greeting.
    #[serde(rename = "telnet.banner")]
    TelnetBanner,
    /// An FTP greeting.
    #[serde(rename = "ftp.banner")]
    FtpBanner,
    /// DHCP option 60, the vendor class identifier.
    #[serde(rename = "dhcp.vendor_class")]
    DhcpVendorClass,
    /// DHCP option 55, the parameter request list.
    #[serde(rename = "dhcp.fingerprint")]
    DhcpFingerprint,
    /// A TCP SYN or SYN+ACK matched against p0f's signatures.
    #[serde(rename = "tcp.p0f")]
    TcpP0f,
}

impl ClueSource {
    /// The name records use (as serialised).
    pub fn as_str(self) -> &'static str {
        match self {
            ClueSource::SmbNtlmssp => "smb.ntlmssp",
            ClueSource::SnmpSysdescr => "snmp.sysdescr",
            ClueSource::SshBanner => "ssh.banner",
            ClueSource::HttpServer => "http.server",
            ClueSource::HttpUserAgent => "http.user_agent",
            ClueSource::TelnetBanner => "telnet.banner",
            ClueSource::FtpBanner => "ftp.banner",
            ClueSource::DhcpVendorClass => "dhcp.vendor_class",
            ClueSource::DhcpFingerprint => "dhcp.fingerprint",
            ClueSource::TcpP0f => "tcp.p0f",
        }
    }
}

/// One piece of evidence about a device's operating system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsClue {
    /// The family it names.
    pub family: OsFamily,
    /// The release, as precise as the evidence is: `7 SP1 or Server 2008 R2
    /// SP1`, `9` (Debian), `15.2(4)E` (Cisco IOS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The kernel version: the NT version (`6.1`) for Windows, the kernel
    /// release (`4.19.0`) or p0f's range (`3.11 and newer`) for Linux.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
    /// The Windows build number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build: Option<u32>,
    /// How sure the clue is.
    pub confidence: Confidence,
    /// Where it was read.
    pub source: ClueSource,
    /// What was read, short and sanitised.
    pub evidence: String,
}

/// A piece of software a device runs, with its version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SoftwareClue {
    /// The product: `OpenSSH`, `Microsoft-IIS`, `curl`, `vsFTPd`.
    pub product: String,
    /// Its version, as the product wrote it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Where it was read.
    pub source: ClueSource,
}

/// What one header, banner or description says: an OS clue, a software
/// clue, both or neither.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Clues {
    /// About the operating system.
    pub os: Option<OsClue>,
    /// About the software that answered.
    pub software: Option<SoftwareClue>,
}

/// One clue as a verdict lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// Where it was read.
    pub source: ClueSource,
    /// The family it named.
    pub family: OsFamily,
    /// How sure it was.
    pub confidence: Confidence,
    /// What was read.
    pub text: String,
    /// Whether it names a family the verdict does not agree with.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub conflicting: bool,
}

/// A device's operating system, as [`combine`] decides it from its clues.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Os {
    /// The family.
    pub family: OsFamily,
    /// The release, when a clue of this family named one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The kernel version, when a clue named one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
    /// The Windows build number, when a clue named one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build: Option<u32>,
    /// How sure the family is (see [`combine`]).
    pub confidence: Confidence,
    /// The clues, strongest first, at most [`MAX_EVIDENCE_ITEMS`].
    pub evidence: Vec<Evidence>,
    /// Clues left out of `evidence` for its bound.
    #[serde(skip_serializing_if = "is_zero")]
    pub evidence_omitted: usize,
    /// The end of support, when the verdict pins a release (see [`eol_of`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_of_life: Option<EolStatus>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Os {
    /// This verdict with its end of life looked up as of `today`.
    pub fn with_end_of_life(mut self, today: Date) -> Os {
        self.end_of_life = eol_of(&self, today);
        self
    }
}

/// The support phase an end date closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EolKind {
    /// Microsoft Fixed Lifecycle Policy: the end of extended support.
    Extended,
    /// Windows 10/11 Modern Lifecycle: the end of servicing of a release.
    Servicing,
    /// Debian Long Term Support.
    Lts,
    /// Ubuntu standard security maintenance.
    Standard,
    /// Red Hat Enterprise Linux (and CentOS) maintenance support.
    Maintenance,
}

impl EolKind {
    fn from_name(name: &str) -> Option<EolKind> {
        match name {
            "extended" => Some(EolKind::Extended),
            "servicing" => Some(EolKind::Servicing),
            "lts" => Some(EolKind::Lts),
            "standard" => Some(EolKind::Standard),
            "maintenance" => Some(EolKind::Maintenance),
            _ => None,
        }
    }
}

/// The end of support of a device's operating system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EolStatus {
    /// The last day of free public security updates (ISO 8601): the latest
    /// of the candidate editions' dates.
    #[serde(serialize_with = "iso_date")]
    pub date: Date,
    /// The support phase that ends then.
    pub kind: EolKind,
    /// The public page the date comes from.
    pub source: &'static str,
    /// Every edition the evidence fits, from the table.
    pub editions: Vec<&'static str>,
    /// The last day of paid Extended Security Updates for the edition with
    /// the latest date, where they exist: a device past `date` may still be
    /// patched under such a contract, which the wire cannot show.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "iso_date_opt"
    )]
    pub esu_end: Option<Date>,
    /// Whether `date` is before the day the verdict was made.
    pub past: bool,
    /// Whether that day is still within `esu_end`: past free support, a
    /// paid contract could still be patching it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub esu_open: bool,
}

fn iso_date<S: Serializer>(date: &Date, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(date)
}

fn iso_date_opt<S: Serializer>(date: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
    match date {
        Some(date) => s.collect_str(date),
        None => s.serialize_none(),
    }
}

/// The UTC calendar day of a packet time (microseconds since the Unix
/// epoch), for [`eol_of`].
pub fn date_of_micros(micros: i64) -> Option<Date> {
    OffsetDateTime::from_unix_timestamp(micros.div_euclid(1_000_000))
        .ok()
        .map(OffsetDateTime::date)
}

// ---------------------------------------------------------------------------
// Text helpers
// ---------------------------------------------------------------------------

/// `text` cut to at most [`MAX_INPUT_LEN`] bytes at a character boundary.
fn bounded(text: &str) -> &str {
    if text.len() <= MAX_INPUT_LEN {
        return text;
    }
    let mut end = MAX_INPUT_LEN;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default()
}

/// `text` without control characters, trimmed, at most `max` characters.
fn clean(text: &str, max: usize) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .chars()
        .take(max)
        .collect()
}

/// Evidence text: a label and the value read, bounded.
fn evidence(label: &str, value: &str) -> String {
    clean(
        &format!("{label} {:?}", clean(value, MAX_EVIDENCE_TEXT)),
        MAX_EVIDENCE_TEXT,
    )
}

/// The version at the start of `text`: a digit, then digits, letters and
/// `. _ - + ~ ( )`; an unbalanced closing parenthesis at its end is left
/// out (`(vsFTPd 3.0.3)`), a balanced one kept (`15.2(4)E`).
fn leading_version(text: &str) -> Option<&str> {
    let text = text.trim_start();
    if !text.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || "._-+~()".contains(c)))
        .unwrap_or(text.len());
    let mut version = text.get(..end)?;
    while version.ends_with(')') && version.matches(')').count() > version.matches('(').count() {
        version = version.get(..version.len() - 1)?;
    }
    let version = version.trim_end_matches(['.', '-', ',']);
    (!version.is_empty()).then_some(version)
}

/// The version that follows the first case-insensitive occurrence of
/// `marker` in `text` (after spaces, `v`, or a `/`).
fn version_after<'t>(text: &'t str, marker: &str) -> Option<&'t str> {
    let at = find_ci(text, marker)?;
    let rest = text.get(at + marker.len()..)?;
    let rest = rest.trim_start_matches([' ', '/', ':']);
    let rest = rest.strip_prefix(['v', 'V']).unwrap_or(rest);
    let rest = rest.strip_prefix('(').unwrap_or(rest);
    leading_version(rest)
}

/// Byte offset of the first ASCII-case-insensitive occurrence of `needle`.
fn find_ci(haystack: &str, needle: &str) -> Option<usize> {
    let needle = needle.as_bytes();
    if needle.is_empty() {
        return Some(0);
    }
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

fn contains_ci(haystack: &str, needle: &str) -> bool {
    find_ci(haystack, needle).is_some()
}

fn field(text: &str) -> String {
    clean(text, MAX_FIELD_LEN)
}

fn software(product: &str, version: Option<&str>, source: ClueSource) -> Option<SoftwareClue> {
    let product = field(product);
    if product.is_empty() {
        return None;
    }
    Some(SoftwareClue {
        product,
        version: version.map(field).filter(|v| !v.is_empty()),
        source,
    })
}

/// A clue with its strings bounded.
fn clue(
    family: OsFamily,
    version: Option<&str>,
    confidence: Confidence,
    source: ClueSource,
    evidence: String,
) -> OsClue {
    OsClue {
        family,
        version: version.map(field).filter(|v| !v.is_empty()),
        kernel: None,
        build: None,
        confidence,
        source,
        evidence,
    }
}

// ---------------------------------------------------------------------------
// Windows versions
// ---------------------------------------------------------------------------

/// Windows builds and the releases that report them. Where client and
/// server editions share a build, both are named: the build alone cannot
/// tell them apart.
const WINDOWS_BUILDS: &[(u8, u8, u32, &str)] = &[
    (5, 0, 2195, "2000"),
    (5, 1, 2600, "XP"),
    (5, 2, 3790, "Server 2003 or XP x64"),
    (6, 0, 6000, "Vista"),
    (6, 0, 6001, "Vista SP1 or Server 2008"),
    (6, 0, 6002, "Vista SP2 or Server 2008 SP2"),
    (6, 0, 6003, "Server 2008 SP2"),
    (6, 1, 7600, "7 or Server 2008 R2"),
    (6, 1, 7601, "7 SP1 or Server 2008 R2 SP1"),
    (6, 2, 9200, "8 or Server 2012"),
    (6, 3, 9600, "8.1 or Server 2012 R2"),
    (10, 0, 10240, "10 1507 or LTSB 2015"),
    (10, 0, 10586, "10 1511"),
    (10, 0, 14393, "10 1607, LTSB 2016 or Server 2016"),
    (10, 0, 15063, "10 1703"),
    (10, 0, 16299, "10 1709"),
    (10, 0, 17134, "10 1803"),
    (10, 0, 17763, "10 1809, LTSC 2019 or Server 2019"),
    (10, 0, 18362, "10 1903"),
    (10, 0, 18363, "10 1909"),
    (10, 0, 19041, "10 2004"),
    (10, 0, 19042, "10 20H2"),
    (10, 0, 19043, "10 21H1"),
    (10, 0, 19044, "10 21H2 or LTSC 2021"),
    (10, 0, 19045, "10 22H2"),
    (10, 0, 20348, "Server 2022"),
    (10, 0, 22000, "11 21H2"),
    (10, 0, 22621, "11 22H2"),
    (10, 0, 22631, "11 23H2"),
    (10, 0, 26100, "11 24H2, LTSC 2024 or Server 2025"),
    (10, 0, 26200, "11 25H2"),
];

/// NT versions and the releases that carry them, for evidence without a
/// build (a User-Agent, an IIS version).
const NT_VERSIONS: &[(u8, u8, &str)] = &[
    (5, 0, "2000"),
    (5, 1, "XP"),
    (5, 2, "XP x64 or Server 2003"),
    (6, 0, "Vista or Server 2008"),
    (6, 1, "7 or Server 2008 R2"),
    (6, 2, "8 or Server 2012"),
    (6, 3, "8.1 or Server 2012 R2"),
    (10, 0, "10, 11 or Server 2016 and later"),
];

fn nt_release(major: u8, minor: u8) -> Option<&'static str> {
    NT_VERSIONS
        .iter()
        .find(|(a, b, _)| (*a, *b) == (major, minor))
        .map(|(_, _, name)| *name)
}

/// The Windows release a version and build name.
fn windows_release(major: u8, minor: u8, build: u32) -> Option<String> {
    if let Some((_, _, _, name)) = WINDOWS_BUILDS
        .iter()
        .find(|(a, b, c, _)| (*a, *b, *c) == (major, minor, build))
    {
        return Some((*name).to_owned());
    }
    if (major, minor) == (10, 0) {
        // Builds from 22000 on are Windows 11 (or a Server of the same
        // code base); before, Windows 10 or a Server.
        return Some(if build >= 22000 {
            format!("11 or Server (build {build})")
        } else {
            format!("10 or Server (build {build})")
        });
    }
    nt_release(major, minor).map(|name| format!("{name} (build {build})"))
}

/// A Windows clue from an NT version and, if known, a build.
fn windows_clue(
    major: u8,
    minor: u8,
    build: Option<u32>,
    confidence: Confidence,
    source: ClueSource,
    evidence: String,
) -> OsClue {
    let version = match build {
        Some(build) => windows_release(major, minor, build),
        None => nt_release(major, minor).map(str::to_owned),
    };
    OsClue {
        family: OsFamily::Windows,
        version: version.map(|v| field(&v)),
        kernel: Some(format!("{major}.{minor}")),
        build,
        confidence,
        source,
        evidence,
    }
}

/// Parses `major.minor` with small numbers.
fn nt_version(text: &str) -> Option<(u8, u8)> {
    let (major, rest) = text.split_once('.')?;
    let minor: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((major.trim().parse().ok()?, minor.parse().ok()?))
}

// ---------------------------------------------------------------------------
// Clue makers
// ---------------------------------------------------------------------------

/// A clue from a p0f label (`class:name:flavor`, as in `OsMatch`):
/// medium confidence when the flavor names a version, low when it names
/// only the family or a kernel generation. `None` for userland tools
/// (`!`, a scanner's crafted SYN) and families medtap does not track
/// (HP-UX, OpenVMS, game consoles).
pub fn from_p0f(class: &str, name: &str, flavor: &str) -> Option<OsClue> {
    if class == "!" {
        return None;
    }
    let text = evidence("p0f", &format!("{name} {flavor}"));
    let flavor = flavor.trim();
    let generic = flavor.is_empty()
        || flavor.starts_with("NT kernel")
        || flavor.ends_with(".x")
        || flavor.contains("-3.x");
    let confidence = if generic {
        Confidence::Low
    } else {
        Confidence::Medium
    };
    let version = (!flavor.is_empty()).then_some(flavor);
    let found = match name {
        "Windows" => {
            let mut found = clue(
                OsFamily::Windows,
                version,
                confidence,
                ClueSource::TcpP0f,
                text,
            );
            if flavor.starts_with("NT kernel") {
                // `NT kernel 6.x` names the kernel generation, not a release.
                found.version = None;
                found.kernel = flavor.strip_prefix("NT kernel").map(|k| field(k.trim()));
                found.kernel = found.kernel.filter(|k| !k.is_empty());
            }
            found
        }
        "Linux" if flavor.contains("Android") => clue(
            OsFamily::Android,
            None,
            Confidence::Medium,
            ClueSource::TcpP0f,
            text,
        ),
        "Linux" => {
            let mut found = clue(OsFamily::Linux, None, confidence, ClueSource::TcpP0f, text);
            found.kernel = version.map(field);
            found
        }
        "Mac OS X" | "MacOS X" => clue(
            OsFamily::Macos,
            version,
            confidence,
            ClueSource::TcpP0f,
            text,
        ),
        "iOS" => clue(OsFamily::Ios, None, confidence, ClueSource::TcpP0f, text),
        "FreeBSD" => clue(
            OsFamily::FreeBsd,
            version,
            confidence,
            ClueSource::TcpP0f,
            text,
        ),
        "OpenBSD" => clue(
            OsFamily::OpenBsd,
            version,
            confidence,
            ClueSource::TcpP0f,
            text,
        ),
        "Solaris" => clue(
            OsFamily::Solaris,
            version,
            confidence,
            ClueSource::TcpP0f,
            text,
        ),
        _ => return None,
    };
    Some(found)
}

/// A clue from a p0f match: as [`from_p0f`], at low confidence unless p0f
/// matched a specific signature exactly.
pub fn from_p0f_match(found: &OsMatch<'_>) -> Option<OsClue> {
    let mut clue = from_p0f(found.class, found.family, found.flavor)?;
    if found.confidence != P0fConfidence::Exact {
        clue.confidence = Confidence::Low;
    }
    Some(clue)
}

/// A clue from the NTLMSSP VERSION structure: Windows, with the release the
/// build names, at high confidence. `None` for build 0: Samba and other
/// non-Windows NTLM implementations send a fixed version (6.1, build 0).
pub fn from_ntlm_version(major: u8, minor: u8, build: u16) -> Option<OsClue> {
    if build == 0 {
        return None;
    }
    Some(windows_clue(
        major,
        minor,
        Some(u32::from(build)),
        Confidence::High,
        ClueSource::SmbNtlmssp,
        format!("NTLMSSP version {major}.{minor} build {build}"),
    ))
}

/// Clues from a DHCP vendor class identifier (option 60): `MSFT 5.0`
/// (Windows 2000 and later), `dhcpcd-9.4.1:Linux-6.1.0:x86_64:…`,
/// `android-dhcp-13`, `udhcp 1.36.1` (BusyBox, embedded Linux).
pub fn from_dhcp_vendor_class(vendor_class: &str) -> Clues {
    let text = bounded(vendor_class).trim();
    let source = ClueSource::DhcpVendorClass;
    let ev = || evidence("vendor class", text);
    let mut out = Clues::default();
    if text.starts_with("MSFT") {
        out.os = Some(clue(
            OsFamily::Windows,
            None,
            Confidence::Medium,
            source,
            ev(),
        ));
    } else if let Some(version) = text.strip_prefix("android-dhcp-") {
        out.os = Some(clue(
            OsFamily::Android,
            leading_version(version),
            Confidence::Medium,
            source,
            ev(),
        ));
    } else if let Some(rest) = text.strip_prefix("dhcpcd-") {
        // dhcpcd-<version>:<sysname>-<release>:<machine>:<platform>
        let mut parts = rest.split(':');
        let version = parts.next().and_then(leading_version);
        out.software = software("dhcpcd", version, source);
        if let Some((sysname, release)) = parts.next().and_then(|s| s.split_once('-')) {
            let family = match sysname {
                "Linux" => Some(OsFamily::Linux),
                "FreeBSD" => Some(OsFamily::FreeBsd),
                "OpenBSD" => Some(OsFamily::OpenBsd),
                _ => None,
            };
            if let Some(family) = family {
                let mut found = clue(family, None, Confidence::Medium, source, ev());
                found.kernel = leading_version(release).map(field);
                out.os = Some(found);
            }
        }
    } else if let Some(rest) = text.strip_prefix("udhcp") {
        out.software = software("udhcp", leading_version(rest), source);
        out.os = Some(clue(
            OsFamily::Linux,
            None,
            Confidence::Medium,
            source,
            ev(),
        ));
    }
    out
}

/// A row of the DHCP parameter request list table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrlRow {
    /// The codes, in order.
    pub codes: Vec<u8>,
    /// Whether a list must equal `codes` (else start with them).
    pub exact: bool,
    /// The family.
    pub family: OsFamily,
    /// The release, if the list names one.
    pub version: Option<&'static str>,
    /// The DHCP client.
    pub client: &'static str,
    /// Where the list is documented.
    pub source: &'static str,
}

/// Why a shipped table was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub reason: &'static str,
}

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

impl std::error::Error for TableError {}

static DHCP_PRL_TABLE: LazyLock<Result<Vec<PrlRow>, TableError>> =
    LazyLock::new(|| parse_prl_table(DHCP_PRL_TSV));

/// The shipped DHCP parameter request list table.
pub fn dhcp_prl_table() -> Result<&'static [PrlRow], &'static TableError> {
    DHCP_PRL_TABLE.as_deref()
}

/// Parses the tab-separated DHCP table: `match codes family version client
/// source`, `#` comments, one header row.
fn parse_prl_table(text: &'static str) -> Result<Vec<PrlRow>, TableError> {
    let mut rows = Vec::new();
    let mut header = false;
    for (index, line) in text.lines().enumerate() {
        let err = |reason| TableError {
            line: index + 1,
            reason,
        };
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if !header {
            header = true;
            if !line.starts_with("match\tcodes\t") {
                return Err(err("the header row is missing"));
            }
            continue;
        }
        let cols: Vec<&'static str> = line.split('\t').collect();
        let [kind, codes, family, version, client, source] = cols.as_slice() else {
            return Err(err("a row needs 6 tab-separated columns"));
        };
        let exact = match *kind {
            "exact" => true,
            "prefix" => false,
            _ => return Err(err("match must be exact or prefix")),
        };
        let codes = codes
            .split(',')
            .map(|c| c.trim().parse::<u8>())
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|_| err("codes must be decimal bytes separated by commas"))?;
        let family = OsFamily::from_name(family).ok_or_else(|| err("unknown family"))?;
        if source.trim().is_empty() {
            return Err(err("a row needs a source"));
        }
        rows.push(PrlRow {
            codes,
            exact,
            family,
            version: (!version.is_empty()).then_some(*version),
            client,
            source,
        });
    }
    Ok(rows)
}

/// A clue from a DHCP parameter request list (option 55, the codes in the
/// order sent), matched against the shipped table: the longest row that
/// fits wins. Low confidence: a list names the DHCP client, which many
/// systems share.
pub fn from_dhcp_fingerprint(codes: &[u8]) -> Option<OsClue> {
    let codes = codes.get(..MAX_PRL_CODES).unwrap_or(codes);
    let rows = dhcp_prl_table().ok()?;
    let row = rows
        .iter()
        .filter(|row| {
            if row.exact {
                row.codes == codes
            } else {
                codes.starts_with(&row.codes)
            }
        })
        .max_by_key(|row| (row.codes.len(), row.exact))?;
    let list: Vec<String> = codes.iter().map(u8::to_string).collect();
    let text = evidence(&format!("option 55 of {}", row.client), &list.join(","));
    Some(clue(
        row.family,
        row.version,
        Confidence::Low,
        ClueSource::DhcpFingerprint,
        text,
    ))
}

/// [`from_dhcp_fingerprint`] for the text form device records keep
/// (`"1,3,6,15"`); `None` if it is not such a list.
pub fn from_dhcp_fingerprint_text(list: &str) -> Option<OsClue> {
    let codes = bounded(list)
        .split(',')
        .take(MAX_PRL_CODES)
        .map(|c| c.trim().parse::<u8>().ok())
        .collect::<Option<Vec<u8>>>()?;
    from_dhcp_fingerprint(&codes)
}

/// Clues from an HTTP `User-Agent`: the OS from its platform tokens
/// (`Windows NT 6.1`, `Windows CE`, `Android 13`, `iPhone OS 16_5`,
/// `Mac OS X 10_15_7`, `Linux`) and the software from its first product
/// token unless that is `Mozilla` (`curl/7.88.1`).
pub fn from_user_agent(user_agent: &str) -> Clues {
    let ua = bounded(user_agent).trim();
    let source = ClueSource::HttpUserAgent;
    let ev = || evidence("User-Agent", ua);
    let mut out = Clues::default();
    if let Some(token) = ua.split_whitespace().next()
        && let Some((product, version)) = token.split_once('/')
        && product != "Mozilla"
    {
        out.software = software(product, leading_version(version), source);
    }
    out.os = if let Some(at) = find_ci(ua, "Windows NT ") {
        let rest = ua.get(at + "Windows NT ".len()..).unwrap_or_default();
        nt_version(rest).map(|(major, minor)| {
            windows_clue(major, minor, None, Confidence::Medium, source, ev())
        })
    } else if contains_ci(ua, "Windows CE") {
        let version = version_after(ua, "Windows CE");
        Some(clue(
            OsFamily::WindowsCe,
            version,
            Confidence::Medium,
            source,
            ev(),
        ))
    } else if contains_ci(ua, "Android") {
        let version = version_after(ua, "Android");
        Some(clue(
            OsFamily::Android,
            version,
            Confidence::Medium,
            source,
            ev(),
        ))
    } else if let Some(version) =
        version_after(ua, "iPhone OS").or_else(|| version_after(ua, "CPU OS"))
    {
        let version = version.replace('_', ".");
        Some(clue(
            OsFamily::Ios,
            Some(&version),
            Confidence::Medium,
            source,
            ev(),
        ))
    } else if contains_ci(ua, "Mac OS X") {
        // Browsers freeze this at 10_15_7: the version says little.
        let version = version_after(ua, "Mac OS X").map(|v| v.replace('_', "."));
        Some(clue(
            OsFamily::Macos,
            version.as_deref(),
            Confidence::Low,
            source,
            ev(),
        ))
    } else if contains_ci(ua, "Ubuntu") {
        Some(clue(OsFamily::Ubuntu, None, Confidence::Low, source, ev()))
    } else if contains_ci(ua, "Linux") {
        Some(clue(OsFamily::Linux, None, Confidence::Low, source, ev()))
    } else {
        None
    };
    out
}

/// IIS versions and the NT version that ships each (IIS is part of
/// Windows, so its version names the system).
const IIS_VERSIONS: &[(&str, u8, u8)] = &[
    ("5.0", 5, 0),
    ("5.1", 5, 1),
    ("6.0", 5, 2),
    ("7.0", 6, 0),
    ("7.5", 6, 1),
    ("8.0", 6, 2),
    ("8.5", 6, 3),
    ("10.0", 10, 0),
];

/// Clues from an HTTP `Server` header: the software from its first token
/// (`Apache/2.4.38`, `nginx/1.18.0`, `lighttpd/1.4.59`); the OS from an IIS
/// version (which ships with one Windows release) or a platform comment
/// (`(Debian)`, `(Ubuntu)`, `(CentOS)`, `(Red Hat)`, `(Win64)`).
pub fn from_http_server(server: &str) -> Clues {
    let header = bounded(server).trim();
    let source = ClueSource::HttpServer;
    let ev = || evidence("Server", header);
    let mut out = Clues::default();
    let first = header.split_whitespace().next().unwrap_or_default();
    let (product, version) = match first.split_once('/') {
        Some((product, version)) => (product, leading_version(version)),
        None => (first, None),
    };
    out.software = software(product, version, source);
    out.os = if product.eq_ignore_ascii_case("Microsoft-IIS") {
        let nt = version.and_then(|v| IIS_VERSIONS.iter().find(|(iis, _, _)| *iis == v));
        Some(match nt {
            Some((_, major, minor)) => {
                windows_clue(*major, *minor, None, Confidence::Medium, source, ev())
            }
            None => clue(OsFamily::Windows, None, Confidence::Medium, source, ev()),
        })
    } else if product.eq_ignore_ascii_case("Microsoft-HTTPAPI") {
        Some(clue(OsFamily::Windows, None, Confidence::Low, source, ev()))
    } else if contains_ci(header, "(Debian)") || contains_ci(header, "(Raspbian)") {
        Some(clue(OsFamily::Debian, None, Confidence::Low, source, ev()))
    } else if contains_ci(header, "(Ubuntu)") {
        Some(clue(OsFamily::Ubuntu, None, Confidence::Low, source, ev()))
    } else if contains_ci(header, "(CentOS)") {
        Some(clue(OsFamily::Centos, None, Confidence::Low, source, ev()))
    } else if contains_ci(header, "(Red Hat") {
        Some(clue(OsFamily::Rhel, None, Confidence::Low, source, ev()))
    } else if contains_ci(header, "(Win32)") || contains_ci(header, "(Win64)") {
        Some(clue(OsFamily::Windows, None, Confidence::Low, source, ev()))
    } else {
        None
    };
    out
}

/// OpenSSH versions each Debian release ships, for a banner without a
/// `debNu` security-update tag.
const OPENSSH_DEBIAN: &[(&str, &str)] = &[
    ("6.0p1", "7"),
    ("6.7p1", "8"),
    ("7.4p1", "9"),
    ("7.9p1", "10"),
    ("8.4p1", "11"),
    ("9.2p1", "12"),
    ("10.0p1", "13"),
];

/// OpenSSH versions each Ubuntu LTS release ships (Ubuntu's banner names no
/// release).
const OPENSSH_UBUNTU: &[(&str, &str)] = &[
    ("6.6.1p1", "14.04"),
    ("7.2p2", "16.04"),
    ("7.6p1", "18.04"),
    ("8.2p1", "20.04"),
    ("8.9p1", "22.04"),
    ("9.6p1", "24.04"),
];

fn lookup<'a>(table: &'a [(&str, &'a str)], key: Option<&str>) -> Option<&'a str> {
    let key = key?;
    table.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// Clues from an SSH identification string (`SSH-2.0-OpenSSH_7.4p1
/// Debian-10+deb9u7`): the software from its software version, the OS from
/// its comments (`Debian-… +debNu…` names the Debian release; `Ubuntu-…`
/// the distribution, its release from the OpenSSH version Ubuntu ships) or
/// from the software (`dropbear` is embedded Linux, `ROSSSH` MikroTik
/// RouterOS, `Cisco-1.25` Cisco IOS, `OpenSSH_for_Windows` Windows).
pub fn from_ssh_banner(banner: &str) -> Clues {
    let line = bounded(banner).trim();
    let source = ClueSource::SshBanner;
    let ev = || evidence("SSH banner", line);
    let mut out = Clues::default();
    let Some(rest) = line.strip_prefix("SSH-") else {
        return out;
    };
    // protoversion-softwareversion SP comments
    let Some((_proto, rest)) = rest.split_once('-') else {
        return out;
    };
    let (soft, comments) = rest.split_once(' ').unwrap_or((rest, ""));

    let (product, version) = if let Some(version) = soft.strip_prefix("OpenSSH_for_Windows_") {
        ("OpenSSH for Windows", leading_version(version))
    } else if let Some((product, version)) = soft.split_once('_') {
        (product, leading_version(version))
    } else if let Some((product, version)) = soft
        .rsplit_once('-')
        .filter(|(_, v)| v.starts_with(|c: char| c.is_ascii_digit()))
    {
        (product, leading_version(version))
    } else {
        (soft, None)
    };
    let product_name = if product == "Cisco" {
        "Cisco SSH"
    } else {
        product
    };
    out.software = software(product_name, version, source);

    let is_openssh = product == "OpenSSH";
    out.os = if contains_ci(comments, "Debian") || contains_ci(comments, "Raspbian") {
        // `+deb9u7`: the 7th security update for Debian 9.
        let release = find_ci(comments, "deb")
            .and_then(|at| comments.get(at + 3..))
            .and_then(|r| {
                let digits: String = r.chars().take_while(char::is_ascii_digit).collect();
                (!digits.is_empty() && r.get(digits.len()..)?.starts_with('u')).then_some(digits)
            });
        let release = release.or_else(|| {
            is_openssh
                .then(|| lookup(OPENSSH_DEBIAN, version))
                .flatten()
                .map(str::to_owned)
        });
        Some(clue(
            OsFamily::Debian,
            release.as_deref(),
            Confidence::Medium,
            source,
            ev(),
        ))
    } else if contains_ci(comments, "Ubuntu") {
        let release = if is_openssh {
            lookup(OPENSSH_UBUNTU, version)
        } else {
            None
        };
        Some(clue(
            OsFamily::Ubuntu,
            release,
            Confidence::Medium,
            source,
            ev(),
        ))
    } else if contains_ci(comments, "FreeBSD") {
        Some(clue(
            OsFamily::FreeBsd,
            None,
            Confidence::Medium,
            source,
            ev(),
        ))
    } else if soft.starts_with("OpenSSH_for_Windows") {
        Some(clue(
            OsFamily::Windows,
            None,
            Confidence::Medium,
            source,
            ev(),
        ))
    } else if product.eq_ignore_ascii_case("dropbear") {
        Some(clue(OsFamily::Linux, None, Confidence::Low, source, ev()))
    } else if product == "ROSSSH" {
        Some(clue(
            OsFamily::RouterOs,
            None,
            Confidence::Medium,
            source,
            ev(),
        ))
    } else if product == "Cisco" {
        Some(clue(
            OsFamily::CiscoIos,
            None,
            Confidence::Low,
            source,
            ev(),
        ))
    } else {
        None
    };
    out
}

/// A Linux distribution and release named in free text (`/etc/issue` in a
/// Telnet greeting, a sysDescr): `Ubuntu 18.04.6 LTS`, `Debian GNU/Linux
/// 10`, `CentOS Linux release 7.9.2009`, `Red Hat Enterprise Linux Server
/// release 7.9`.
fn distribution_in(text: &str) -> Option<(OsFamily, Option<String>)> {
    let major = |v: &str| v.split('.').next().map(str::to_owned);
    if let Some(version) = version_after(text, "Ubuntu") {
        // Ubuntu releases are YY.MM: keep two parts.
        let release: Vec<&str> = version.split('.').take(2).collect();
        return Some((OsFamily::Ubuntu, Some(release.join("."))));
    }
    if contains_ci(text, "Debian") {
        return Some((
            OsFamily::Debian,
            version_after(text, "Debian GNU/Linux").and_then(major),
        ));
    }
    if contains_ci(text, "CentOS") {
        let version = version_after(text, "CentOS Linux release")
            .or_else(|| version_after(text, "CentOS release"))
            .or_else(|| version_after(text, "CentOS Linux"));
        return Some((OsFamily::Centos, version.and_then(major)));
    }
    if contains_ci(text, "Red Hat Enterprise Linux") {
        return Some((
            OsFamily::Rhel,
            version_after(text, "release").and_then(major),
        ));
    }
    None
}

/// A clue from an SNMP sysDescr: Windows (`Hardware: … Software: Windows
/// Version 6.1 (Build 7601 …)`), Linux (`Linux host 4.19.0-18-amd64 #1 SMP
/// Debian …`; an `el7` kernel names RHEL 7 or a rebuild), Cisco IOS
/// (`Cisco IOS Software, … Version 15.2(4)E, …`), VxWorks, QNX.
pub fn from_snmp_sysdescr(sysdescr: &str) -> Option<OsClue> {
    let text = bounded(sysdescr).trim();
    let source = ClueSource::SnmpSysdescr;
    let ev = || evidence("sysDescr", text);
    if let Some(at) = find_ci(text, "Software: Windows") {
        let rest = text.get(at..).unwrap_or_default();
        let nt = version_after(rest, "Version").and_then(nt_version);
        let build = version_after(rest, "Build").and_then(|b| {
            b.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse::<u32>()
                .ok()
        });
        return Some(match nt {
            Some((major, minor)) => {
                let confidence = if build.is_some() {
                    Confidence::High
                } else {
                    Confidence::Medium
                };
                windows_clue(major, minor, build, confidence, source, ev())
            }
            None => clue(OsFamily::Windows, None, Confidence::Medium, source, ev()),
        });
    }
    if let Some(rest) = text.strip_prefix("Linux ") {
        // uname -a: sysname nodename release version machine
        let release = rest.split_whitespace().nth(1).unwrap_or_default();
        let kernel = leading_version(release)
            .map(|k| k.split('-').next().unwrap_or(k))
            .map(field);
        let el = find_ci(release, ".el").and_then(|at| {
            release
                .get(at + 3..)
                .and_then(|r| r.chars().next())
                .filter(char::is_ascii_digit)
        });
        let mut found = if let Some(el) = el {
            clue(
                OsFamily::Rhel,
                Some(&el.to_string()),
                Confidence::Medium,
                source,
                ev(),
            )
        } else if let Some((family, version)) = distribution_in(rest) {
            clue(family, version.as_deref(), Confidence::Medium, source, ev())
        } else {
            clue(OsFamily::Linux, None, Confidence::High, source, ev())
        };
        found.kernel = kernel;
        return Some(found);
    }
    if contains_ci(text, "Cisco IOS")
        || contains_ci(text, "Cisco Internetwork Operating System")
        || contains_ci(text, "IOS (tm)")
    {
        let version = version_after(text, "Version");
        let confidence = if version.is_some() {
            Confidence::High
        } else {
            Confidence::Medium
        };
        return Some(clue(OsFamily::CiscoIos, version, confidence, source, ev()));
    }
    if contains_ci(text, "VxWorks") {
        let version = version_after(text, "VxWorks");
        return Some(clue(
            OsFamily::Vxworks,
            version,
            Confidence::Medium,
            source,
            ev(),
        ));
    }
    if contains_ci(text, "QNX") {
        let version = version_after(text, "QNX");
        return Some(clue(
            OsFamily::Qnx,
            version,
            Confidence::Medium,
            source,
            ev(),
        ));
    }
    None
}

/// Which greeting a banner is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BannerService {
    /// An FTP server's 220 greeting.
    Ftp,
    /// What a Telnet server prints before the login prompt.
    Telnet,
}

/// The OS a product implies, with how sure that is.
type Implied = Option<(OsFamily, Confidence)>;

/// FTP and Telnet servers that name themselves in their greeting, and the
/// OS each implies.
const BANNER_PRODUCTS: &[(&str, Implied)] = &[
    (
        "Microsoft FTP Service",
        Some((OsFamily::Windows, Confidence::Medium)),
    ),
    (
        "Microsoft Telnet Service",
        Some((OsFamily::Windows, Confidence::Medium)),
    ),
    ("vsFTPd", Some((OsFamily::Linux, Confidence::Low))),
    ("ProFTPD", None),
    ("Pure-FTPd", None),
    (
        "FileZilla Server",
        Some((OsFamily::Windows, Confidence::Low)),
    ),
    ("BusyBox", Some((OsFamily::Linux, Confidence::Low))),
    ("VxWorks", Some((OsFamily::Vxworks, Confidence::Medium))),
    ("QNX", Some((OsFamily::Qnx, Confidence::Medium))),
];

/// Clues from an FTP or Telnet greeting: `Microsoft FTP Service`, `(vsFTPd
/// 3.0.3)`, `ProFTPD 1.3.5 Server`, `Welcome to Microsoft Telnet Service`,
/// `BusyBox v1.31.1`, `VxWorks (5.4.2)`; a Linux distribution and release
/// printed from `/etc/issue` (`Ubuntu 18.04.6 LTS`, `Debian GNU/Linux 10`).
pub fn from_banner_text(service: BannerService, banner: &str) -> Clues {
    let text = bounded(banner).trim();
    let source = match service {
        BannerService::Ftp => ClueSource::FtpBanner,
        BannerService::Telnet => ClueSource::TelnetBanner,
    };
    let label = match service {
        BannerService::Ftp => "FTP banner",
        BannerService::Telnet => "Telnet banner",
    };
    let mut out = Clues::default();
    if let Some((product, os)) = BANNER_PRODUCTS
        .iter()
        .find(|(product, _)| contains_ci(text, product))
    {
        let version = version_after(text, product);
        out.software = software(product, version, source);
        if let Some((family, confidence)) = os {
            let os_version = matches!(family, OsFamily::Vxworks | OsFamily::Qnx)
                .then_some(version)
                .flatten();
            out.os = Some(clue(
                *family,
                os_version,
                *confidence,
                source,
                evidence(label, text),
            ));
        }
    }
    if let Some((family, version)) = distribution_in(text) {
        // A distribution and release from /etc/issue outweighs a server's
        // generic hint.
        out.os = Some(clue(
            family,
            version.as_deref(),
            Confidence::Medium,
            source,
            evidence(label, text),
        ));
    }
    out
}

// ---------------------------------------------------------------------------
// Combining
// ---------------------------------------------------------------------------

/// How specific a clue is: a more specific family, a version, a build, a
/// kernel each count one.
fn specificity(clue: &OsClue) -> u8 {
    clue.family.depth()
        + u8::from(clue.version.is_some())
        + u8::from(clue.build.is_some())
        + u8::from(clue.kernel.is_some())
}

/// The order [`combine`] reads clues in: higher confidence, then more
/// specific, then the preferred source, then by content (so the result does
/// not depend on the order clues were gathered in).
fn rank(a: &OsClue, b: &OsClue) -> Ordering {
    b.confidence
        .cmp(&a.confidence)
        .then_with(|| specificity(b).cmp(&specificity(a)))
        .then_with(|| a.source.cmp(&b.source))
        .then_with(|| a.family.cmp(&b.family))
        .then_with(|| a.version.cmp(&b.version))
        .then_with(|| a.build.cmp(&b.build))
        .then_with(|| a.kernel.cmp(&b.kernel))
        .then_with(|| a.evidence.cmp(&b.evidence))
}

/// One verdict from a device's clues; `None` without clues.
///
/// The rule, in order:
///
/// 1. Clues are ranked: higher confidence first, then more specific (a
///    distribution over plain Linux, a version, a build, a kernel each
///    count), then by source (NTLMSSP, SNMP, SSH, HTTP Server, User-Agent,
///    Telnet, FTP, DHCP vendor class, DHCP fingerprint, p0f), then by
///    content. The first clue names the family.
/// 2. Each further clue either agrees (the same family, or one the parent
///    of the other: `linux` and `debian`) or conflicts. An agreeing clue of
///    a more specific family refines the verdict's family (`linux` →
///    `debian`) and brings its version and build; one of the same family
///    fills a version or build still missing; an agreeing clue of medium
///    confidence or more (or as sure as the first) fills a missing kernel.
/// 3. The confidence is that of the clue that named the final family, one
///    step higher when a clue from another source agrees, one step lower
///    when a conflicting clue is at least as confident.
/// 4. Every clue is listed as evidence in rank order (conflicting ones
///    marked), at most [`MAX_EVIDENCE_ITEMS`].
///
/// The end of life is not set here: see [`Os::with_end_of_life`].
pub fn combine(clues: &[OsClue]) -> Option<Os> {
    let mut order: Vec<&OsClue> = clues.iter().collect();
    order.sort_by(|a, b| rank(a, b));
    let (first, rest) = order.split_first()?;
    let mut os = Os {
        family: first.family,
        version: first.version.clone(),
        kernel: first.kernel.clone(),
        build: first.build,
        confidence: first.confidence,
        evidence: Vec::new(),
        evidence_omitted: 0,
        end_of_life: None,
    };
    let mut namer: &OsClue = first;
    let mut conflicts: Vec<&OsClue> = Vec::new();
    let mut agreeing: Vec<&OsClue> = vec![first];
    for clue in rest.iter().copied() {
        if !clue.family.agrees_with(os.family) {
            conflicts.push(clue);
            continue;
        }
        agreeing.push(clue);
        if clue.family.parent() == Some(os.family) {
            os.family = clue.family;
            os.version = clue.version.clone();
            os.build = clue.build;
            namer = clue;
        } else if clue.family == os.family {
            if os.version.is_none() {
                os.version = clue.version.clone();
            }
            if os.build.is_none() {
                os.build = clue.build;
            }
        }
        // A guess's kernel range ("2.2.x-3.x" from p0f) does not describe
        // a system a surer clue named.
        if os.kernel.is_none()
            && (clue.confidence >= Confidence::Medium || clue.confidence >= first.confidence)
        {
            os.kernel = clue.kernel.clone();
        }
    }
    let mut confidence = namer.confidence;
    if agreeing.iter().any(|c| c.source != namer.source) {
        confidence = confidence.raised();
    }
    if conflicts.iter().any(|c| c.confidence >= namer.confidence) {
        confidence = confidence.lowered();
    }
    os.confidence = confidence;
    for clue in &order {
        if os.evidence.len() == MAX_EVIDENCE_ITEMS {
            os.evidence_omitted += 1;
            continue;
        }
        os.evidence.push(Evidence {
            source: clue.source,
            family: clue.family,
            confidence: clue.confidence,
            text: clue.evidence.clone(),
            conflicting: !clue.family.agrees_with(os.family),
        });
    }
    Some(os)
}

/// A device's software from its clues: one entry per product and version,
/// sorted, at most [`MAX_SOFTWARE_ITEMS`].
pub fn software_list(clues: &[SoftwareClue]) -> Vec<SoftwareClue> {
    let mut list: Vec<SoftwareClue> = clues.to_vec();
    list.sort();
    list.dedup_by(|a, b| a.product == b.product && a.version == b.version);
    list.truncate(MAX_SOFTWARE_ITEMS);
    list
}

// ---------------------------------------------------------------------------
// End of life
// ---------------------------------------------------------------------------

/// A row of the end-of-life table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EolRow {
    /// The family.
    pub family: OsFamily,
    /// The NT version (Windows), CE version (Windows CE) or release number.
    pub version: &'static str,
    /// The Windows builds the edition reports (empty elsewhere).
    pub builds: Vec<u32>,
    /// The edition, as the vendor names it.
    pub edition: &'static str,
    /// The last day of free public security updates.
    pub end: Date,
    /// The phase that ends then.
    pub kind: EolKind,
    /// The last day of paid Extended Security Updates, if any.
    pub esu_end: Option<Date>,
    /// The public page the date comes from.
    pub source: &'static str,
    /// A remark (may be empty).
    pub note: &'static str,
}

static EOL_TABLE: LazyLock<Result<Vec<EolRow>, TableError>> =
    LazyLock::new(|| parse_eol_table(EOL_CSV));

/// The shipped end-of-life table.
pub fn eol_table() -> Result<&'static [EolRow], &'static TableError> {
    EOL_TABLE.as_deref()
}

/// Parses `YYYY-MM-DD`.
fn parse_date(text: &str) -> Option<Date> {
    let mut parts = text.trim().split('-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month: u8 = parts.next()?.parse().ok()?;
    let day: u8 = parts.next()?.parse().ok()?;
    if parts.next().is_some() {
        return None;
    }
    Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()
}

/// Parses the end-of-life CSV: `family,version,build,edition,
/// end_of_support,kind,esu_end,source,note`; no field holds a comma; `#`
/// comments; one header row.
fn parse_eol_table(text: &'static str) -> Result<Vec<EolRow>, TableError> {
    let mut rows = Vec::new();
    let mut header = false;
    for (index, line) in text.lines().enumerate() {
        let err = |reason| TableError {
            line: index + 1,
            reason,
        };
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if !header {
            header = true;
            if line != "family,version,build,edition,end_of_support,kind,esu_end,source,note" {
                return Err(err("the header row is missing or changed"));
            }
            continue;
        }
        let cols: Vec<&'static str> = line.split(',').collect();
        let [
            family,
            version,
            builds,
            edition,
            end,
            kind,
            esu_end,
            source,
            note,
        ] = cols.as_slice()
        else {
            return Err(err("a row needs 9 comma-separated columns"));
        };
        let family = OsFamily::from_name(family).ok_or_else(|| err("unknown family"))?;
        let builds = builds
            .split_whitespace()
            .map(str::parse::<u32>)
            .collect::<Result<Vec<u32>, _>>()
            .map_err(|_| err("builds must be numbers separated by spaces"))?;
        if family == OsFamily::Windows && builds.is_empty() {
            return Err(err("a Windows row needs its builds"));
        }
        if version.is_empty() || edition.is_empty() {
            return Err(err("a row needs a version and an edition"));
        }
        let end = parse_date(end).ok_or_else(|| err("end_of_support must be YYYY-MM-DD"))?;
        let kind = EolKind::from_name(kind).ok_or_else(|| err("unknown kind"))?;
        let esu_end = if esu_end.is_empty() {
            None
        } else {
            Some(parse_date(esu_end).ok_or_else(|| err("esu_end must be YYYY-MM-DD"))?)
        };
        if !source.starts_with("https://") {
            return Err(err("a row needs a source URL"));
        }
        rows.push(EolRow {
            family,
            version,
            builds,
            edition,
            end,
            kind,
            esu_end,
            source,
            note,
        });
    }
    Ok(rows)
}

/// The release key of a distribution version: Debian, RHEL and CentOS
/// count their major number (`9.13` → `9`), Ubuntu its `YY.MM`.
fn release_key(family: OsFamily, version: &str) -> Option<String> {
    let version = leading_version(version)?;
    let mut parts = version.split(['.', ' ', '-']);
    let major = parts.next()?;
    Some(match family {
        OsFamily::Ubuntu => format!("{major}.{}", parts.next()?),
        OsFamily::WindowsCe => format!("{major}.{}", parts.next().unwrap_or("0")),
        _ => major.to_owned(),
    })
}

/// The end of support of `os` as of `today`, when the verdict pins a
/// release: a Windows build, or an NT version other than 10.0 (10.0 spans
/// releases from long unsupported to supported into the 2030s); a Windows
/// CE version; a Debian, Ubuntu, RHEL or CentOS release. Where several
/// editions fit, the latest of their dates is reported (never out of
/// support unless every candidate is). `None` when nothing in the table
/// fits.
pub fn eol_of(os: &Os, today: Date) -> Option<EolStatus> {
    let table = eol_table().ok()?;
    let candidates: Vec<&EolRow> = match os.family {
        OsFamily::Windows => {
            if let Some(build) = os.build {
                table
                    .iter()
                    .filter(|r| r.family == OsFamily::Windows && r.builds.contains(&build))
                    .collect()
            } else {
                let kernel = os.kernel.as_deref().filter(|k| *k != "10.0")?;
                table
                    .iter()
                    .filter(|r| r.family == OsFamily::Windows && r.version == kernel)
                    .collect()
            }
        }
        OsFamily::WindowsCe
        | OsFamily::Debian
        | OsFamily::Ubuntu
        | OsFamily::Rhel
        | OsFamily::Centos => {
            let key = release_key(os.family, os.version.as_deref()?)?;
            table
                .iter()
                .filter(|r| r.family == os.family && r.version == key)
                .collect()
        }
        _ => return None,
    };
    let latest = candidates.iter().max_by_key(|r| r.end)?;
    Some(EolStatus {
        date: latest.end,
        kind: latest.kind,
        source: latest.source,
        editions: candidates.iter().map(|r| r.edition).collect(),
        esu_end: latest.esu_end,
        past: today > latest.end,
        esu_open: latest.esu_end.is_some_and(|esu| today <= esu),
    })
}

#[cfg(test)]
#[path = "os_tests.rs"]
mod tests;
