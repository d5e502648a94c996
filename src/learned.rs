//! What one device was learned to do: its [`Baseline`], the bounded sets
//! and running statistics it is made of, and how long learning lasts
//! ([`Learn`]).
//!
//! The device table carries each device's baseline, while the
//! [`Engine`](crate::baseline::Engine) that fills and watches it works on the
//! device table: kept apart from the engine, the baseline lives in the device
//! table without the device table importing the engine.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::proto::Side;
use crate::time::Micros;

/// Peers one baseline keeps at most.
pub const MAX_PEERS: usize = 512;
/// Services used, and services offered, one baseline keeps at most each.
pub const MAX_SERVICES: usize = 128;
/// Values of one protocol fact (AE-title pairs, SOP classes, message types,
/// topics, …) one baseline keeps at most.
pub const MAX_PROTOCOL_VALUES: usize = 256;

/// The learning window live, when none is given: a full day, so the
/// device's daily rhythm (day and night shifts, backups) is seen.
pub const DEFAULT_LEARN_LIVE: Duration = Duration::from_secs(24 * 3600);
/// The learning window in a replay, when none is given and no state is
/// loaded: one hour of packet time.
pub const DEFAULT_LEARN_REPLAY: Duration = Duration::from_secs(3600);

/// How long to learn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Learn {
    /// Each device for this long from its first packet; the network for this
    /// long from the first packet of all.
    For(Duration),
    /// From the whole input; no alert is raised.
    All,
}

impl Learn {
    /// Parses `all` or a duration such as `90s`, `30m`, `24h`, `7d` (a bare
    /// number is seconds).
    pub fn parse(text: &str) -> Result<Learn, String> {
        if text.trim().eq_ignore_ascii_case("all") {
            return Ok(Learn::All);
        }
        parse_duration(text).map(Learn::For)
    }
}

/// Parses a duration: a number followed by `s`, `m`, `h` or `d` (seconds
/// when there is no unit).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("bad duration {text:?}: use e.g. 90s, 30m, 24h, 7d")),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("bad duration {text:?}: use e.g. 90s, 30m, 24h, 7d"))?;
    n.checked_mul(scale)
        .filter(|secs| *secs <= 10 * 365 * 86_400)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("duration {text:?} is too long"))
}

/// A set that keeps at most `limit` values and counts what it turned away.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bounded<T: Ord> {
    /// The values.
    pub values: BTreeSet<T>,
    /// Values turned away because the set was full.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub overflow: u64,
}

impl<T: Ord> Default for Bounded<T> {
    fn default() -> Self {
        Bounded {
            values: BTreeSet::new(),
            overflow: 0,
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl<T: Ord> Bounded<T> {
    /// Adds `value` unless the set holds `limit` values; true if it is new.
    pub fn learn(&mut self, value: T, limit: usize) -> bool {
        if self.values.contains(&value) {
            return false;
        }
        if self.values.len() >= limit {
            self.overflow += 1;
            return false;
        }
        self.values.insert(value)
    }

    /// Whether `value` is known, or the set is too broad to tell (it
    /// overflowed while learning).
    pub fn covers<Q>(&self, value: &Q) -> bool
    where
        T: std::borrow::Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.overflow > 0 || self.values.contains(value)
    }

    /// [`Bounded::learn`] from a borrowed value, copied only when new.
    pub fn learn_ref<Q>(&mut self, value: &Q, limit: usize) -> bool
    where
        T: std::borrow::Borrow<Q>,
        Q: Ord + ToOwned<Owned = T> + ?Sized,
    {
        if self.values.contains(value) {
            return false;
        }
        self.learn(value.to_owned(), limit)
    }

    /// Whether nothing was learned.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// A running mean and variance (Welford), over the minutes a device was
/// active.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Running {
    /// Minutes observed.
    pub n: u64,
    /// Mean per minute.
    pub mean: f64,
    /// Sum of squared deviations from the mean.
    pub m2: f64,
}

impl Running {
    /// Adds one minute's value.
    pub fn push(&mut self, x: f64) {
        self.n += 1;
        let delta = x - self.mean;
        self.mean += delta / self.n as f64;
        self.m2 += delta * (x - self.mean);
    }

    /// The sample standard deviation.
    pub fn stddev(&self) -> f64 {
        if self.n < 2 {
            0.0
        } else {
            (self.m2 / (self.n - 1) as f64).sqrt()
        }
    }
}

/// A device's peer: address, service port, IP protocol, and whether the
/// device opened the connection (`out`) or accepted it (`in`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PeerKey {
    /// The peer's address.
    pub ip: std::net::IpAddr,
    /// The service port (the server's).
    pub port: u16,
    /// IP protocol number.
    pub proto: u8,
    /// True when the device opened the connection.
    pub out: bool,
}

/// A service: IP protocol and port.
pub type Service = (u8, u16);

/// A value a baseline keeps in its text form (`scu:C-STORE`,
/// `10.20.2.10/PACS`) in the state file and in alerts, typed in memory.
macro_rules! text_form {
    ($t:ty) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

/// The role a device had in an association.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// The acceptor (service class provider).
    Scp,
    /// The requester (service class user).
    Scu,
}

impl Role {
    /// The role of the connection's `side`: its client requested.
    pub fn of(side: Side) -> Role {
        match side {
            Side::Client => Role::Scu,
            Side::Server => Role::Scp,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Role::Scp => "scp",
            Role::Scu => "scu",
        }
    }

    fn parse(text: &str) -> Option<Role> {
        match text {
            "scp" => Some(Role::Scp),
            "scu" => Some(Role::Scu),
            _ => None,
        }
    }
}

/// A DIMSE request a device sent, in a role: `scu:C-STORE`. A Modality
/// Worklist or Unified Procedure Step query is `C-FIND-WORKLIST`: a modality
/// asking for its work, not a query of the archive.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RoleCommand {
    /// Sent as requester or acceptor.
    pub role: Role,
    /// The command without its `-RQ`.
    pub command: String,
}

/// A SOP class used in a role: `scu:1.2.840.10008.5.1.4.1.1.2`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RoleSopClass {
    /// As requester or acceptor.
    pub role: Role,
    /// The SOP class UID.
    pub uid: String,
}

/// Where a device stored: the acceptor's address and the AE title it
/// called, `10.20.2.10/PACS`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StoreDestination {
    /// The acceptor's address.
    pub ip: IpAddr,
    /// The called AE title.
    pub called_ae: String,
}

/// A text form that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadForm(&'static str);

impl fmt::Display for BadForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a {}", self.0)
    }
}

impl fmt::Display for RoleCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.role.name(), self.command)
    }
}

impl FromStr for RoleCommand {
    type Err = BadForm;
    fn from_str(text: &str) -> Result<Self, BadForm> {
        let (role, command) = text.split_once(':').ok_or(BadForm("role:command"))?;
        Ok(RoleCommand {
            role: Role::parse(role).ok_or(BadForm("role:command"))?,
            command: command.to_owned(),
        })
    }
}

impl fmt::Display for RoleSopClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.role.name(), self.uid)
    }
}

impl FromStr for RoleSopClass {
    type Err = BadForm;
    fn from_str(text: &str) -> Result<Self, BadForm> {
        let (role, uid) = text.split_once(':').ok_or(BadForm("role:uid"))?;
        Ok(RoleSopClass {
            role: Role::parse(role).ok_or(BadForm("role:uid"))?,
            uid: uid.to_owned(),
        })
    }
}

impl fmt::Display for StoreDestination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.ip, self.called_ae)
    }
}

impl FromStr for StoreDestination {
    type Err = BadForm;
    fn from_str(text: &str) -> Result<Self, BadForm> {
        let (ip, called_ae) = text.split_once('/').ok_or(BadForm("address/AE"))?;
        Ok(StoreDestination {
            ip: ip.parse().map_err(|_| BadForm("address/AE"))?,
            called_ae: called_ae.to_owned(),
        })
    }
}

text_form!(RoleCommand);
text_form!(RoleSopClass);
text_form!(StoreDestination);

/// What a device's DICOM traffic normally is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DicomBaseline {
    /// (calling AE, called AE) pairs, either role.
    pub ae_pairs: Bounded<(String, String)>,
    /// SOP classes used, as `role:uid` (`scu:1.2.840.10008.5.1.4.1.1.2`).
    pub sop_classes: Bounded<RoleSopClass>,
    /// DIMSE requests sent, as `role:command` (`scu:C-STORE`).
    pub commands: Bounded<RoleCommand>,
    /// Where it stored: `ip/called AE`.
    pub store_destinations: Bounded<StoreDestination>,
}

/// What a device's HL7 traffic normally is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hl7Baseline {
    /// Message types sent (`ORU^R01`).
    pub message_types: Bounded<String>,
    /// Sending applications (MSH-3) of the messages it sent.
    pub sending_applications: Bounded<String>,
    /// Receiving applications (MSH-5) of the messages it sent.
    pub receiving_applications: Bounded<String>,
    /// Sending facilities (MSH-4) of the messages it sent.
    pub sending_facilities: Bounded<String>,
    /// Receiving facilities (MSH-6) of the messages it sent.
    pub receiving_facilities: Bounded<String>,
}

/// What a device's MQTT traffic normally is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MqttBaseline {
    /// Client ids it connected with.
    pub client_ids: Bounded<String>,
    /// Topics it published to.
    pub published: Bounded<String>,
    /// Topic filters it subscribed to.
    pub subscribed: Bounded<String>,
    /// Connects with a user name.
    pub authenticated_connects: u64,
    /// Connects without one.
    pub anonymous_connects: u64,
}

/// Rates per active minute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct RateBaseline {
    /// Bytes sent and received.
    pub bytes: Running,
    /// Packets sent and received.
    pub packets: Running,
    /// Connections opened.
    pub connections: Running,
}

/// One short-window metric of one protocol: its rate per active second,
/// and the highest rate it sustained for the burst rule's seconds in a row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct BurstStat {
    /// Per active second.
    pub seconds: Running,
    /// The highest rate sustained over a run of
    /// [`Thresholds::rate_burst_seconds`](crate::baseline::Thresholds::rate_burst_seconds).
    pub sustained: u64,
}

/// A protocol's short-window rates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ProtocolBursts {
    /// Messages per second.
    pub messages: BurstStat,
    /// Payload bytes per second.
    pub bytes: BurstStat,
}

/// What one device normally does.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// Packet time learning started.
    pub since: Micros,
    /// Packet time learning ends.
    pub until: Micros,
    /// Whether learning is over whatever the time (after `--learn all`).
    #[serde(default)]
    pub complete: bool,
    /// Observations learned from.
    pub observations: u64,
    /// Peers.
    pub peers: Bounded<PeerKey>,
    /// Services it used as a client.
    pub services_used: Bounded<Service>,
    /// Services it offered (answered) as a server.
    pub services_offered: Bounded<Service>,
    /// Whether it had a peer outside the internal networks.
    pub external_peers: bool,
    /// DICOM.
    pub dicom: DicomBaseline,
    /// HL7.
    pub hl7: Hl7Baseline,
    /// MQTT.
    pub mqtt: MqttBaseline,
    /// Rates per minute.
    pub rates: RateBaseline,
    /// Short-window rates per clinical protocol (`dicom`, `hl7`, `mqtt`).
    #[serde(default)]
    pub bursts: BTreeMap<String, ProtocolBursts>,
}

impl Baseline {
    /// A baseline that learns from `since` for `learn`.
    pub fn new(since: Micros, learn: Learn) -> Baseline {
        let until = match learn {
            Learn::For(d) => since.saturating_add(micros(d)),
            Learn::All => Micros::MAX,
        };
        Baseline {
            since,
            until,
            ..Baseline::default()
        }
    }

    /// Whether the device is still being learned at packet time `ts`.
    pub fn learning(&self, ts: Micros) -> bool {
        !self.complete && ts < self.until
    }

    /// Values turned away by full sets.
    pub fn overflow(&self) -> u64 {
        self.peers.overflow
            + self.services_used.overflow
            + self.services_offered.overflow
            + self.dicom.ae_pairs.overflow
            + self.dicom.sop_classes.overflow
            + self.dicom.commands.overflow
            + self.dicom.store_destinations.overflow
            + self.hl7.message_types.overflow
            + self.hl7.sending_applications.overflow
            + self.hl7.receiving_applications.overflow
            + self.hl7.sending_facilities.overflow
            + self.hl7.receiving_facilities.overflow
            + self.mqtt.client_ids.overflow
            + self.mqtt.published.overflow
            + self.mqtt.subscribed.overflow
    }
}

/// A duration in microseconds, saturating.
pub fn micros(d: Duration) -> Micros {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("10x").is_err());
        assert!(parse_duration("-5m").is_err());
        assert!(parse_duration("99999999999d").is_err());
        assert_eq!(Learn::parse("ALL"), Ok(Learn::All));
    }

    #[test]
    fn a_full_set_counts_and_then_covers_everything() {
        let mut set = Bounded::default();
        assert!(set.learn(1, 2));
        assert!(!set.learn(1, 2));
        assert!(set.learn(2, 2));
        assert!(!set.covers(&3));
        assert!(!set.learn(3, 2));
        assert_eq!(set.overflow, 1);
        assert!(set.covers(&3));
    }

    #[test]
    fn running_matches_the_two_pass_formula() {
        let xs = [3.0, 5.0, 4.0, 10.0, 6.0];
        let mut r = Running::default();
        xs.iter().for_each(|x| r.push(*x));
        let mean = xs.iter().sum::<f64>() / 5.0;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 4.0;
        assert!((r.mean - mean).abs() < 1e-9);
        assert!((r.stddev() - var.sqrt()).abs() < 1e-9);
    }

    #[test]
    fn learning_ends_with_the_window_or_never_for_all() {
        let b = Baseline::new(0, Learn::For(Duration::from_secs(60)));
        assert!(b.learning(59_999_999));
        assert!(!b.learning(60_000_000));
        assert!(Baseline::new(0, Learn::All).learning(i64::MAX - 1));
    }
}
