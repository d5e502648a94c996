//! Capture-loss watch: a `warning` event when live capture loses more than
//! `--loss-warning` percent of the packets over a stats interval.
//!
//! At the end of each live stats interval (and once more when the capture
//! stops) the merge stage hands [`LossWatch::interval`] the cumulative
//! libpcap counters the `stats` event carries. The watch takes their
//! differences since the interval before and computes
//!
//! ```text
//! dropped = kernel_drops + interface_drops
//! loss    = dropped / (max(received, kernel_drops) + interface_drops)
//! ```
//!
//! `received` (`ps_recv`) already counts the packets the kernel then dropped
//! for lack of buffer space on Linux and the BSDs; packets the interface
//! dropped never reached the socket, so they are added. The `max` keeps the
//! share at 100 % or below on a platform that counts otherwise.
//!
//! Loss above the threshold gives a `capture_loss` warning for every such
//! interval; the first interval at or below it after one gives a single
//! `capture_loss_recovered`. An interval in which nothing arrived has no loss.
//! A counter lower than the interval before (a counter restarted from zero)
//! counts from zero. The numbers in a warning are exactly the differences
//! between the `stats` event it follows and the `stats` event before that.

use std::time::Duration;

use crate::event::{CaptureLoss, CaptureStats, Stats, Warning, WarningCounts, WarningKind};

/// Default `--loss-warning`: a warning when more than 1 % of the packets of
/// an interval were lost.
pub const DEFAULT_LOSS_WARNING_PERCENT: f64 = 1.0;

/// libpcap's cumulative counters at the end of an interval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counters {
    received: u64,
    kernel_drops: u64,
    interface_drops: u64,
}

impl Counters {
    /// The live counters of a `stats` event; `None` before libpcap was first
    /// asked (and in a replay).
    fn of(capture: &CaptureStats) -> Option<Counters> {
        Some(Counters {
            received: capture.kernel_received?,
            kernel_drops: capture.kernel_drops.unwrap_or(0),
            interface_drops: capture.interface_drops.unwrap_or(0),
        })
    }
}

/// The difference of a cumulative counter over one interval. A counter that
/// went down was restarted from zero; everything it holds is new.
fn delta(now: u64, before: u64) -> u64 {
    now.checked_sub(before).unwrap_or(now)
}

/// Watches capture loss interval by interval (one per live run, in the merge
/// stage).
#[derive(Debug)]
pub(crate) struct LossWatch {
    threshold_percent: f64,
    previous: Counters,
    above: bool,
    counts: WarningCounts,
}

impl LossWatch {
    /// A watch that warns above `threshold_percent` (0 to 100).
    pub(crate) fn new(threshold_percent: f64) -> LossWatch {
        LossWatch {
            threshold_percent,
            previous: Counters::default(),
            above: false,
            counts: WarningCounts::default(),
        }
    }

    /// An interval of length `length` ends with the counters of `stats`: the
    /// warning it calls for, if any. Sets `stats.warnings` to the warnings
    /// emitted so far, this one included.
    pub(crate) fn interval(&mut self, stats: &mut Stats, length: Duration) -> Option<Warning> {
        let warning = self.check(&stats.capture, length);
        if let Some(w) = &warning {
            self.counts.count(w.kind);
        }
        stats.warnings = Some(self.counts);
        warning
    }

    fn check(&mut self, capture: &CaptureStats, length: Duration) -> Option<Warning> {
        let now = Counters::of(capture)?;
        let received = delta(now.received, self.previous.received);
        let kernel_drops = delta(now.kernel_drops, self.previous.kernel_drops);
        let interface_drops = delta(now.interface_drops, self.previous.interface_drops);
        self.previous = now;
        let dropped = kernel_drops.saturating_add(interface_drops);
        let arrived = received.max(kernel_drops).saturating_add(interface_drops);
        let loss_percent = if arrived == 0 {
            0.0
        } else {
            dropped as f64 * 100.0 / arrived as f64
        };
        let above = loss_percent > self.threshold_percent;
        let kind = match (self.above, above) {
            (_, true) => WarningKind::CaptureLoss,
            (true, false) => WarningKind::CaptureLossRecovered,
            (false, false) => return None,
        };
        self.above = above;
        let loss = CaptureLoss {
            interval_secs: (length.as_secs_f64() * 1000.0).round() / 1000.0,
            received,
            dropped,
            kernel_drops,
            interface_drops,
            loss_percent,
            threshold_percent: self.threshold_percent,
        };
        Some(Warning {
            kind,
            message: message(kind, &loss),
            loss: Some(loss),
            output: None,
        })
    }
}

fn message(kind: WarningKind, loss: &CaptureLoss) -> String {
    let CaptureLoss {
        interval_secs,
        dropped,
        loss_percent,
        threshold_percent,
        ..
    } = loss;
    let arrived = loss.received.max(loss.kernel_drops) + loss.interface_drops;
    match kind {
        WarningKind::CaptureLoss => format!(
            "capture lost {dropped} of {arrived} packets ({loss_percent:.2}%) in the last \
             {interval_secs:.1} s, above the {threshold_percent}% threshold: \
             medtap does not see all the traffic"
        ),
        // Loss is only ever one of the two above.
        WarningKind::CaptureLossRecovered | WarningKind::OutputFailed => format!(
            "capture loss back to {loss_percent:.2}% ({dropped} of {arrived} packets) in the \
             last {interval_secs:.1} s, within the {threshold_percent}% threshold"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn capture(received: u64, kernel_drops: u64, interface_drops: u64) -> CaptureStats {
        CaptureStats {
            kernel_received: Some(received),
            kernel_drops: Some(kernel_drops),
            interface_drops: Some(interface_drops),
            ..CaptureStats::default()
        }
    }

    /// Feeds cumulative counters interval after interval; the kind of each
    /// interval's warning (`None` for no warning).
    fn kinds(threshold: f64, intervals: &[(u64, u64, u64)]) -> Vec<Option<&'static str>> {
        let mut watch = LossWatch::new(threshold);
        intervals
            .iter()
            .map(|&(r, k, i)| {
                let mut stats = Stats {
                    capture: capture(r, k, i),
                    ..Stats::default()
                };
                watch.interval(&mut stats, MINUTE).map(|w| w.kind.name())
            })
            .collect()
    }

    /// A 1 % watch past a first interval that ended with these counters
    /// and gave no warning, and the stats it was handed.
    fn after_first(received: u64, kernel: u64, interface: u64) -> (LossWatch, Stats) {
        let mut watch = LossWatch::new(1.0);
        let mut stats = Stats {
            capture: capture(received, kernel, interface),
            ..Stats::default()
        };
        assert_eq!(watch.interval(&mut stats, MINUTE), None);
        (watch, stats)
    }

    fn one(threshold: f64, received: u64, kernel: u64, interface: u64) -> Option<Warning> {
        LossWatch::new(threshold).check(&capture(received, kernel, interface), MINUTE)
    }

    #[test]
    fn loss_exactly_at_the_threshold_is_no_warning() {
        // 10 of 1000 is 1 %: not above 1 %.
        assert_eq!(one(1.0, 1000, 10, 0), None);
        // 11 of 1000 is 1.1 %: above.
        let w = one(1.0, 1000, 11, 0).expect("a warning");
        assert_eq!(w.kind, WarningKind::CaptureLoss);
        assert_eq!(
            (
                w.loss.as_ref().unwrap().received,
                w.loss.as_ref().unwrap().dropped,
                w.loss.as_ref().unwrap().kernel_drops
            ),
            (1000, 11, 11)
        );
        assert!(
            (w.loss.as_ref().unwrap().loss_percent - 1.1).abs() < 1e-9,
            "{w:?}"
        );
        assert_eq!(w.loss.as_ref().unwrap().threshold_percent, 1.0);
        assert_eq!(w.loss.as_ref().unwrap().interval_secs, 60.0);
        assert!(
            w.message
                .starts_with("capture lost 11 of 1000 packets (1.10%)"),
            "{}",
            w.message
        );
    }

    #[test]
    fn a_zero_threshold_warns_on_one_drop_and_never_on_none() {
        assert_eq!(one(0.0, 1_000_000, 0, 0), None);
        assert!(one(0.0, 1_000_000, 1, 0).is_some());
    }

    #[test]
    fn a_threshold_of_100_never_warns() {
        assert_eq!(one(100.0, 10, 10, 0), None);
        assert_eq!(one(100.0, 0, 0, 5), None);
    }

    #[test]
    fn nothing_received_is_no_loss() {
        assert_eq!(one(0.0, 0, 0, 0), None);
    }

    #[test]
    fn interface_drops_alone_are_all_loss() {
        // Nothing reached the socket, 5 packets were dropped by the driver.
        let w = one(1.0, 0, 0, 5).expect("a warning");
        assert_eq!(
            (
                w.loss.as_ref().unwrap().received,
                w.loss.as_ref().unwrap().dropped
            ),
            (0, 5)
        );
        assert_eq!(w.loss.as_ref().unwrap().interface_drops, 5);
        assert_eq!(w.loss.as_ref().unwrap().loss_percent, 100.0);
    }

    #[test]
    fn interface_drops_add_to_what_arrived() {
        // 90 received (10 of them dropped by the kernel), 10 dropped by the
        // interface: 20 of 100 lost.
        let w = one(1.0, 90, 10, 10).expect("a warning");
        assert_eq!(w.loss.as_ref().unwrap().dropped, 20);
        assert_eq!(w.loss.as_ref().unwrap().loss_percent, 20.0);
    }

    #[test]
    fn loss_is_never_above_100_percent() {
        // A platform whose ps_recv leaves out the kernel's drops.
        let w = one(1.0, 10, 30, 0).expect("a warning");
        assert_eq!(w.loss.as_ref().unwrap().loss_percent, 100.0);
    }

    #[test]
    fn without_kernel_counters_nothing_is_said() {
        let mut watch = LossWatch::new(0.0);
        let mut stats = Stats::default();
        assert_eq!(watch.interval(&mut stats, MINUTE), None);
        assert_eq!(stats.warnings, Some(WarningCounts::default()));
    }

    #[test]
    fn each_interval_above_warns_and_the_first_below_recovers_once() {
        assert_eq!(
            kinds(
                1.0,
                &[
                    (1000, 0, 0),    // 0 %
                    (2000, 50, 0),   // 5 %
                    (3000, 100, 0),  // 5 %
                    (4000, 100, 0),  // 0 %
                    (5000, 100, 0),  // 0 %
                    (5000, 100, 0),  // nothing received
                    (6000, 200, 0),  // 10 %
                    (6000, 200, 0),  // nothing received: recovered
                    (7000, 200, 20), // 20 of 1020
                ]
            ),
            [
                None,
                Some("capture_loss"),
                Some("capture_loss"),
                Some("capture_loss_recovered"),
                None,
                None,
                Some("capture_loss"),
                Some("capture_loss_recovered"),
                Some("capture_loss"),
            ]
        );
    }

    #[test]
    fn differences_are_taken_from_the_interval_before() {
        let (mut watch, mut stats) = after_first(1000, 5, 1);
        stats.capture = capture(1500, 105, 3);
        let w = watch
            .interval(&mut stats, Duration::from_millis(61_234))
            .expect("a warning");
        assert_eq!(
            (
                w.loss.as_ref().unwrap().received,
                w.loss.as_ref().unwrap().kernel_drops,
                w.loss.as_ref().unwrap().interface_drops,
                w.loss.as_ref().unwrap().dropped
            ),
            (500, 100, 2, 102)
        );
        assert_eq!(w.loss.as_ref().unwrap().interval_secs, 61.234);
        assert_eq!(
            stats.warnings,
            Some(WarningCounts {
                capture_loss: 1,
                capture_loss_recovered: 0
            })
        );
    }

    #[test]
    fn a_counter_that_went_down_restarted_from_zero() {
        let (mut watch, mut stats) = after_first(1_000_000, 10, 0);
        // Both restarted: 400 received since, 8 of them dropped (2 %).
        stats.capture = capture(400, 8, 0);
        let w = watch.interval(&mut stats, MINUTE).expect("a warning");
        assert_eq!(
            (
                w.loss.as_ref().unwrap().received,
                w.loss.as_ref().unwrap().dropped
            ),
            (400, 8)
        );
        // And the next interval counts from the restarted values.
        stats.capture = capture(1400, 8, 0);
        let w = watch.interval(&mut stats, MINUTE).expect("recovered");
        assert_eq!(w.kind, WarningKind::CaptureLossRecovered);
        assert_eq!(
            (
                w.loss.as_ref().unwrap().received,
                w.loss.as_ref().unwrap().dropped
            ),
            (1000, 0)
        );
        assert!(w.message.starts_with("capture loss back to 0.00%"));
    }

    #[test]
    fn the_warning_serialises_flat() {
        let w = one(1.0, 200, 100, 0).expect("a warning");
        let json = serde_json::to_value(&w).expect("JSON");
        assert_eq!(json["kind"], "capture_loss");
        assert_eq!(json["received"], 200);
        assert_eq!(json["dropped"], 100);
        assert_eq!(json["loss_percent"], 50.0);
        assert_eq!(json["threshold_percent"], 1.0);
        assert_eq!(json["interval_secs"], 60.0);
    }
}
