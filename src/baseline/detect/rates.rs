//! How much a device sends and receives: `volume_spike` per minute of
//! packet time, judged when the minute closes.

use serde_json::json;

use super::Finding;
use crate::alert::Kind;
use crate::baseline::{BurstStat, ProtocolBursts, RateBaseline, Thresholds};
use crate::device::DeviceKey;
use crate::time::{Micros, Timestamp};

/// Traffic of one endpoint (or device) in one rate bin.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rates {
    /// Packets sent and received.
    pub packets: u64,
    /// Bytes sent and received.
    pub bytes: u64,
    /// Connections it opened.
    pub connections: u64,
}

impl Rates {
    /// Adds `other`.
    pub fn add(&mut self, other: &Rates) {
        self.packets += other.packets;
        self.bytes += other.bytes;
        self.connections += other.connections;
    }
}

/// Learns one active minute.
pub fn learn_minute(r: &mut RateBaseline, rates: &Rates) {
    r.bytes.push(rates.bytes as f64);
    r.packets.push(rates.packets as f64);
    r.connections.push(rates.connections as f64);
}

/// Judges the minute starting at `start` of a watched device: a metric far
/// above its learned mean (by deviations and by ratio) and above its floor.
pub fn judge_minute(
    r: &RateBaseline,
    t: &Thresholds,
    key: &DeviceKey,
    start: Micros,
    rates: &Rates,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for (metric, value, learned, floor) in [
        ("bytes", rates.bytes, r.bytes, t.volume_min_bytes),
        ("packets", rates.packets, r.packets, t.volume_min_packets),
        (
            "connections",
            rates.connections,
            r.connections,
            t.volume_min_connections,
        ),
    ] {
        if learned.n < t.volume_min_minutes {
            continue;
        }
        let limit = (learned.mean + t.volume_sigma * learned.stddev())
            .max(learned.mean * t.volume_ratio)
            .max(floor as f64);
        if (value as f64) <= limit {
            continue;
        }
        out.push(
            Finding::new(
                Kind::VolumeSpike,
                metric,
                format!(
                    "{key} had {value} {metric} in one minute; it learned {:.0} ± {:.0} per active minute",
                    learned.mean,
                    learned.stddev()
                ),
            )
            .evidence("metric", json!(metric))
            .evidence("observed", json!(value))
            .evidence("minute", json!(Timestamp(start)))
            .evidence("limit", json!(limit.round()))
            .learned("mean", json!(learned.mean.round()))
            .learned("stddev", json!(learned.stddev().round()))
            .learned("minutes", json!(learned.n)),
        );
    }
    out
}

/// The length of a short-window bin: one second of packet time.
pub const BURST_BIN: Micros = 1_000_000;

/// The start of the short-window bin holding packet time `ts`.
pub fn burst_bin(ts: Micros) -> Micros {
    ts - ts.rem_euclid(BURST_BIN)
}

/// What one protocol carried for one device in one second.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Carried {
    /// Protocol messages it sent: MQTT PUBLISH packets, HL7 messages,
    /// DICOM requests.
    pub messages: u64,
    /// Application payload bytes it sent on the protocol's connections.
    pub bytes: u64,
}

impl Carried {
    /// Adds `other`.
    pub fn add(&mut self, other: &Carried) {
        self.messages += other.messages;
        self.bytes += other.bytes;
    }

    /// Whether nothing was carried.
    pub fn is_empty(&self) -> bool {
        self.messages == 0 && self.bytes == 0
    }
}

/// The two short-window metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    /// Protocol messages per second.
    Messages,
    /// Payload bytes per second.
    Bytes,
}

impl Metric {
    /// Both, in order.
    pub const ALL: [Metric; 2] = [Metric::Messages, Metric::Bytes];

    /// Its name in alerts.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Messages => "messages",
            Metric::Bytes => "bytes",
        }
    }

    /// Its value in `carried`.
    pub fn of(self, carried: &Carried) -> u64 {
        match self {
            Metric::Messages => carried.messages,
            Metric::Bytes => carried.bytes,
        }
    }

    fn floor(self, t: &Thresholds) -> u64 {
        match self {
            Metric::Messages => t.rate_burst_min_messages,
            Metric::Bytes => t.rate_burst_min_bytes,
        }
    }
}

// Indexed here, beside the metrics, so that the baseline itself (a leaf
// module) needs nothing from the detectors.
impl ProtocolBursts {
    /// The statistic of `metric`.
    pub fn stat(&mut self, metric: Metric) -> &mut BurstStat {
        match metric {
            Metric::Messages => &mut self.messages,
            Metric::Bytes => &mut self.bytes,
        }
    }
}

/// The last seconds of one device, protocol and metric, while they are
/// consecutive: what a sustained rate is judged over.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recent {
    seconds: std::collections::VecDeque<(Micros, u64)>,
    /// The run was alerted: it is one burst however long it lasts.
    alerted: bool,
}

impl Recent {
    /// Adds second `bin` with `value`, forgetting a run it does not extend
    /// and seconds older than `keep`; returns the lowest value of the last
    /// `keep` seconds when there are that many in a row: the rate sustained
    /// over them.
    pub fn push(&mut self, bin: Micros, value: u64, keep: usize) -> Option<u64> {
        if self
            .seconds
            .back()
            .is_some_and(|(last, _)| *last != bin - BURST_BIN)
        {
            self.seconds.clear();
            self.alerted = false;
        }
        self.seconds.push_back((bin, value));
        while self.seconds.len() > keep.max(1) {
            self.seconds.pop_front();
        }
        (self.seconds.len() >= keep.max(1))
            .then(|| self.seconds.iter().map(|(_, v)| *v).min().unwrap_or(0))
    }

    /// The first second of the run.
    pub fn since(&self) -> Option<Micros> {
        self.seconds.front().map(|(bin, _)| *bin)
    }

    /// Marks the run alerted.
    pub fn alert(&mut self) {
        self.alerted = true;
    }

    /// Whether the run was alerted.
    pub fn alerted(&self) -> bool {
        self.alerted
    }

    /// The latest second.
    pub fn last(&self) -> Option<Micros> {
        self.seconds.back().map(|(bin, _)| *bin)
    }
}

/// Learns one active second of one metric; `sustained` is the rate
/// sustained over the run it ends, if it ends one.
pub fn learn_second(stat: &mut crate::baseline::BurstStat, value: u64, sustained: Option<u64>) {
    stat.seconds.push(value as f64);
    if let Some(rate) = sustained {
        stat.sustained = stat.sustained.max(rate);
    }
}

/// Judges a run of seconds of a watched device: a burst when every second
/// of the run is above the limit — `ratio` times the learned mean per
/// active second, what the device itself sustained while learned, and the
/// metric's floor.
#[allow(clippy::too_many_arguments)]
pub fn judge_run(
    stat: &crate::baseline::BurstStat,
    t: &Thresholds,
    key: &DeviceKey,
    protocol: &str,
    metric: Metric,
    sustained: u64,
    since: Micros,
) -> Option<Finding> {
    if stat.seconds.n < t.rate_burst_min_seconds {
        return None;
    }
    let limit = (stat.seconds.mean * t.rate_burst_ratio)
        .max(stat.sustained as f64)
        .max(metric.floor(t) as f64);
    if (sustained as f64) <= limit {
        return None;
    }
    let name = metric.name();
    let seconds = t.rate_burst_seconds;
    Some(
        Finding::new(
            Kind::RateBurst,
            format!("{protocol} {name}"),
            format!(
                "{key} sent at least {sustained} {protocol} {name} per second for {seconds} s; it learned {:.1} per active second",
                stat.seconds.mean
            ),
        )
        .evidence("protocol", json!(protocol))
        .evidence("metric", json!(name))
        .evidence("rate", json!(sustained))
        .evidence("seconds", json!(seconds))
        .evidence("since", json!(Timestamp(since)))
        .evidence("limit", json!(limit.round()))
        .learned("mean", json!((stat.seconds.mean * 10.0).round() / 10.0))
        .learned("sustained", json!(stat.sustained))
        .learned("seconds", json!(stat.seconds.n)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::BurstStat;

    const S: Micros = BURST_BIN;

    #[test]
    fn a_run_needs_its_seconds_in_a_row() {
        let mut recent = Recent::default();
        assert_eq!(recent.push(10 * S, 50, 3), None);
        assert_eq!(recent.push(11 * S, 40, 3), None);
        assert_eq!(recent.push(12 * S, 60, 3), Some(40));
        assert_eq!(recent.since(), Some(10 * S));
        assert_eq!(recent.push(13 * S, 70, 3), Some(40));
        // A silent second breaks the run.
        recent.alert();
        assert_eq!(recent.push(15 * S, 70, 3), None);
        assert_eq!(recent.since(), Some(15 * S));
        assert!(!recent.alerted(), "a new run");
    }

    fn learned(per_second: u64, seconds: u64) -> BurstStat {
        let mut stat = BurstStat::default();
        let mut recent = Recent::default();
        for i in 0..seconds {
            let sustained = recent.push(i as Micros * S, per_second, 5);
            learn_second(&mut stat, per_second, sustained);
        }
        stat
    }

    #[test]
    fn ten_times_the_learned_rate_sustained_is_a_burst_and_twice_is_not() {
        let t = Thresholds::default();
        let key = DeviceKey::Mac([2, 0, 0, 0, 0, 11]);
        let stat = learned(2, 120);
        assert_eq!(stat.sustained, 2);
        let judge = |rate| judge_run(&stat, &t, &key, "mqtt", Metric::Messages, rate, 0);
        assert_eq!(judge(4), None, "twice the rate is the ward's texture");
        assert_eq!(judge(20), None, "ten times is not above ten times");
        let burst = judge(100).unwrap();
        assert_eq!(burst.kind, Kind::RateBurst);
        assert_eq!(burst.subject, "mqtt messages");
        assert_eq!(burst.evidence["limit"], json!(20.0));
    }

    #[test]
    fn what_the_device_sustained_while_learned_is_never_a_burst() {
        let t = Thresholds::default();
        let key = DeviceKey::Mac([2, 0, 0, 0, 0, 11]);
        let mut stat = learned(1, 100);
        // A study transfer while learned: 40 requests a second for 30 s.
        let mut recent = Recent::default();
        for i in 200..230 {
            let sustained = recent.push(i * S, 40, 5);
            learn_second(&mut stat, 40, sustained);
        }
        assert_eq!(stat.sustained, 40);
        assert_eq!(
            judge_run(&stat, &t, &key, "dicom", Metric::Messages, 40, 0),
            None
        );
        assert!(judge_run(&stat, &t, &key, "dicom", Metric::Messages, 400, 0).is_some());
    }

    #[test]
    fn a_device_learned_too_briefly_is_not_judged_and_floors_hold() {
        let t = Thresholds::default();
        let key = DeviceKey::Mac([2, 0, 0, 0, 0, 11]);
        let brief = learned(1, t.rate_burst_min_seconds - 1);
        assert_eq!(
            judge_run(&brief, &t, &key, "hl7", Metric::Messages, 1000, 0),
            None
        );
        let quiet = learned(1, 100);
        let below_floor = t.rate_burst_min_bytes;
        assert_eq!(
            judge_run(&quiet, &t, &key, "hl7", Metric::Bytes, below_floor, 0),
            None
        );
    }
}
