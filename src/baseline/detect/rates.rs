//! How much a device sends and receives: `volume_spike` per minute of
//! packet time, judged when the minute closes.

use serde_json::json;

use super::Finding;
use crate::alert::Kind;
use crate::baseline::{RateBaseline, Thresholds};
use crate::device::DeviceKey;
use crate::event::Timestamp;
use crate::flow::Micros;

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
            .evidence("value", json!(value))
            .evidence("minute", json!(Timestamp(start)))
            .evidence("limit", json!(limit.round()))
            .learned("mean", json!(learned.mean.round()))
            .learned("stddev", json!(learned.stddev().round()))
            .learned("minutes", json!(learned.n)),
        );
    }
    out
}
