//! Baselines: what each device normally does, learned for a window from its
//! first packet (in packet time), then watched.
//!
//! A [`Baseline`] holds the device's peers, the services it uses and offers,
//! the facts of its clinical protocols (DICOM AE-title pairs, SOP classes and
//! commands; HL7 message types, applications and facilities; MQTT client ids,
//! topics and how it authenticates) and its rates per minute as running mean
//! and variance. Every set is bounded; a set that filled up while learning
//! marks that aspect of the device as too broad to baseline, so it raises no
//! "new …" alert, and the overflow is counted.
//!
//! Baselines live in the device table beside the identity, and are changed
//! only by the [`Engine`] in the merge stage, in packet order: the alerts of
//! a replay are the same for any number of workers.

pub mod detect;
pub mod engine;
pub mod state;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::time::Micros;

pub use engine::{Engine, RateSample, Rates};

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

/// Detector thresholds; every one documented in `docs/alerts.md`.
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    /// Distinct destinations outside the baseline, within
    /// [`Thresholds::fanout_window`], that make a `fanout`.
    pub fanout_destinations: usize,
    /// The `fanout` window.
    pub fanout_window: Duration,
    /// Rejects, NAKs or authentication failures within
    /// [`Thresholds::burst_window`] that make a burst.
    pub burst_count: usize,
    /// The burst window.
    pub burst_window: Duration,
    /// Standard deviations above the learned mean a minute's rate must
    /// exceed for a `volume_spike`.
    pub volume_sigma: f64,
    /// And times the learned mean.
    pub volume_ratio: f64,
    /// And at least these many bytes in the minute.
    pub volume_min_bytes: u64,
    /// Or, for packets, at least these many.
    pub volume_min_packets: u64,
    /// Or, for new connections, at least these many.
    pub volume_min_connections: u64,
    /// Active minutes learned before rates are judged.
    pub volume_min_minutes: u64,
    /// Times the learned messages (or bytes) per active second a device
    /// must sustain for a `rate_burst`.
    pub rate_burst_ratio: f64,
    /// Seconds in a row the rate must be above its limit.
    pub rate_burst_seconds: usize,
    /// And at least these many messages a second.
    pub rate_burst_min_messages: u64,
    /// Or, for bytes, at least these many a second.
    pub rate_burst_min_bytes: u64,
    /// Active seconds learned before a protocol's rate is judged.
    pub rate_burst_min_seconds: u64,
}

/// Default `fanout` destinations.
pub const DEFAULT_FANOUT_DESTINATIONS: usize = 20;
/// Default `fanout` window.
pub const DEFAULT_FANOUT_WINDOW: Duration = Duration::from_secs(60);
/// Default burst size.
pub const DEFAULT_BURST_COUNT: usize = 5;
/// Default burst window.
pub const DEFAULT_BURST_WINDOW: Duration = Duration::from_secs(60);
/// Default standard deviations above the learned mean for a
/// `volume_spike`: far outside a device's normal minute-to-minute variation.
pub const DEFAULT_VOLUME_SIGMA: f64 = 6.0;
/// Default multiple of the learned mean for a `volume_spike`, so a device
/// with nearly constant traffic (deviation near zero) needs a real jump.
pub const DEFAULT_VOLUME_RATIO: f64 = 4.0;
/// Default floor of bytes in a minute for a `volume_spike`: 1 MiB.
pub const DEFAULT_VOLUME_MIN_BYTES: u64 = 1 << 20;
/// Default floor of packets in a minute for a `volume_spike`.
pub const DEFAULT_VOLUME_MIN_PACKETS: u64 = 2_000;
/// Default floor of new connections in a minute for a `volume_spike`.
pub const DEFAULT_VOLUME_MIN_CONNECTIONS: u64 = 60;
/// Default active minutes learned before a device's rates are judged.
pub const DEFAULT_VOLUME_MIN_MINUTES: u64 = 5;
/// Default multiple of the learned rate per active second for a
/// `rate_burst`: a tenfold rate is no ward's texture, a doubling is.
pub const DEFAULT_RATE_BURST_RATIO: f64 = 10.0;
/// Default seconds in a row above the limit for a `rate_burst`: long enough
/// that a reconnecting client flushing its queue, or one odd second, is not
/// one.
pub const DEFAULT_RATE_BURST_SECONDS: usize = 5;
/// Default floor of messages a second for a `rate_burst`.
pub const DEFAULT_RATE_BURST_MIN_MESSAGES: u64 = 10;
/// Default floor of payload bytes a second for a `rate_burst`: 1 MiB.
pub const DEFAULT_RATE_BURST_MIN_BYTES: u64 = 1 << 20;
/// Default active seconds learned before a protocol's rate is judged.
pub const DEFAULT_RATE_BURST_MIN_SECONDS: u64 = 30;

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            fanout_destinations: DEFAULT_FANOUT_DESTINATIONS,
            fanout_window: DEFAULT_FANOUT_WINDOW,
            burst_count: DEFAULT_BURST_COUNT,
            burst_window: DEFAULT_BURST_WINDOW,
            volume_sigma: DEFAULT_VOLUME_SIGMA,
            volume_ratio: DEFAULT_VOLUME_RATIO,
            volume_min_bytes: DEFAULT_VOLUME_MIN_BYTES,
            volume_min_packets: DEFAULT_VOLUME_MIN_PACKETS,
            volume_min_connections: DEFAULT_VOLUME_MIN_CONNECTIONS,
            volume_min_minutes: DEFAULT_VOLUME_MIN_MINUTES,
            rate_burst_ratio: DEFAULT_RATE_BURST_RATIO,
            rate_burst_seconds: DEFAULT_RATE_BURST_SECONDS,
            rate_burst_min_messages: DEFAULT_RATE_BURST_MIN_MESSAGES,
            rate_burst_min_bytes: DEFAULT_RATE_BURST_MIN_BYTES,
            rate_burst_min_seconds: DEFAULT_RATE_BURST_MIN_SECONDS,
        }
    }
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

/// What a device's DICOM traffic normally is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DicomBaseline {
    /// (calling AE, called AE) pairs, either role.
    pub ae_pairs: Bounded<(String, String)>,
    /// SOP classes used, as `role:uid` (`scu:1.2.840.10008.5.1.4.1.1.2`).
    pub sop_classes: Bounded<detect::dicom::RoleSopClass>,
    /// DIMSE requests sent, as `role:command` (`scu:C-STORE`).
    pub commands: Bounded<detect::dicom::RoleCommand>,
    /// Where it stored: `ip/called AE`.
    pub store_destinations: Bounded<detect::dicom::StoreDestination>,
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
    /// [`Thresholds::rate_burst_seconds`].
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

impl ProtocolBursts {
    /// The statistic of `metric`.
    pub fn stat(&mut self, metric: detect::rates::Metric) -> &mut BurstStat {
        match metric {
            detect::rates::Metric::Messages => &mut self.messages,
            detect::rates::Metric::Bytes => &mut self.bytes,
        }
    }
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

/// Baseline counters in `stats` events.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct BaselineStats {
    /// Devices still learning.
    pub learning: u64,
    /// Devices watched.
    pub watching: u64,
    /// Values turned away by full baseline sets, over all devices.
    pub overflow: u64,
    /// Endpoint-minute rate entries and sender-second protocol entries the
    /// workers could not hold (traffic of new endpoints past the workers'
    /// limits goes uncounted).
    pub rate_entries_dropped: u64,
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
