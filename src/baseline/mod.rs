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

use std::time::Duration;

use serde::Serialize;

pub use engine::{Engine, RateSample, Rates};
// The baseline itself is a leaf module (the device table carries it);
// re-exported so the engine's users find it here.
pub use crate::learned::*;

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
