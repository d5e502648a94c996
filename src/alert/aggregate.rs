//! Suppression: the first occurrence of a (kind, device, subject) is alerted
//! at once; repeats inside the window are counted and reported in one
//! follow-up alert when the window closes or the input ends.

use std::collections::{BTreeMap, HashMap};

use super::{Alert, Kind, Repeats};
use crate::time::{Micros, Timestamp};

/// The suppression window when none is configured: one hour.
pub const DEFAULT_SUPPRESSION_SECS: u64 = 3600;
/// Open (kind, device, subject) windows kept at most; past this an
/// occurrence is written as it is, and counted as unaggregated.
pub const MAX_SUPPRESSED_KEYS: usize = 100_000;

type Key = (Kind, String, String);

struct Window {
    opened: Micros,
    first_repeat: Micros,
    last_repeat: Micros,
    repeats: u64,
    /// The last repeat's alert, for the follow-up's flow and evidence.
    latest: Option<Box<Alert>>,
}

/// What to do with an occurrence.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Write it: the first in its window.
    Emit,
    /// Fold it into the window's follow-up.
    Suppressed,
    /// Write it: too many windows are open to track another.
    Untracked,
}

/// The open suppression windows.
pub struct Aggregator {
    window: Micros,
    open: HashMap<Key, Window>,
    /// Window end → keys closing then, so expiry visits only what closes.
    closing: BTreeMap<(Micros, Key), ()>,
}

impl Aggregator {
    /// Windows of `window_secs` seconds (0 disables aggregation).
    pub fn new(window_secs: u64) -> Aggregator {
        Aggregator {
            window: i64::try_from(window_secs.saturating_mul(1_000_000)).unwrap_or(i64::MAX),
            open: HashMap::new(),
            closing: BTreeMap::new(),
        }
    }

    /// Decides about an occurrence at packet time `ts`; the caller passes
    /// the alert it would write so a follow-up can show the latest repeat.
    pub fn occur(&mut self, alert: &Alert, kind: Kind, ts: Micros) -> Verdict {
        if self.window == 0 {
            return Verdict::Emit;
        }
        let key = (kind, alert.device.id.clone(), alert.alert.subject.clone());
        if let Some(open) = self.open.get_mut(&key) {
            if open.repeats == 0 {
                open.first_repeat = ts;
            }
            open.repeats += 1;
            open.last_repeat = open.last_repeat.max(ts);
            open.latest = Some(Box::new(alert.clone()));
            return Verdict::Suppressed;
        }
        if self.open.len() >= MAX_SUPPRESSED_KEYS {
            return Verdict::Untracked;
        }
        self.closing
            .insert((ts.saturating_add(self.window), key.clone()), ());
        self.open.insert(
            key,
            Window {
                opened: ts,
                first_repeat: ts,
                last_repeat: ts,
                repeats: 0,
                latest: None,
            },
        );
        Verdict::Emit
    }

    /// The open windows: kind, device id, subject and packet time opened,
    /// to be saved with the state so suppression carries across runs.
    pub fn open_windows(&self) -> Vec<(Kind, String, String, Micros)> {
        let mut out: Vec<_> = self
            .open
            .iter()
            .map(|((kind, device, subject), w)| (*kind, device.clone(), subject.clone(), w.opened))
            .collect();
        out.sort();
        out
    }

    /// Reopens a window saved with the state; its repeats were reported.
    pub fn reopen(&mut self, kind: Kind, device: String, subject: String, opened: Micros) {
        if self.window == 0 || self.open.len() >= MAX_SUPPRESSED_KEYS {
            return;
        }
        let key = (kind, device, subject);
        self.closing
            .insert((opened.saturating_add(self.window), key.clone()), ());
        self.open.insert(
            key,
            Window {
                opened,
                first_repeat: opened,
                last_repeat: opened,
                repeats: 0,
                latest: None,
            },
        );
    }

    /// Reports the repeats counted so far as follow-ups (at the end of the
    /// input), each due at its last repeat, keeping the windows open for a
    /// later run.
    pub fn report_repeats(&mut self) -> Vec<(Micros, Alert)> {
        let mut keys: Vec<Key> = self.open.keys().cloned().collect();
        keys.sort();
        let mut out = Vec::new();
        for key in keys {
            let Some(mut window) = self.open.remove(&key) else {
                continue;
            };
            let span = format!("more since {}", Timestamp(window.opened).to_rfc3339());
            let due = window.last_repeat;
            if let Some(alert) = self.follow_up(&mut window, &span) {
                out.push((due, alert));
            }
            self.open.insert(key, window);
        }
        out.sort_by_key(|(due, _)| *due);
        out
    }

    /// Closes every window that ended by packet time `now`, returning the
    /// follow-ups of those that saw repeats, in window-end order, each due
    /// at its window's end.
    pub fn expire(&mut self, now: Micros) -> Vec<(Micros, Alert)> {
        let mut out = Vec::new();
        while let Some(((end, _), ())) = self.closing.first_key_value() {
            if *end > now {
                break;
            }
            let Some(((end, key), ())) = self.closing.pop_first() else {
                break;
            };
            let Some(mut window) = self.open.remove(&key) else {
                continue;
            };
            let seconds = (end - window.opened) / 1_000_000;
            if let Some(alert) = self.follow_up(&mut window, &format!("more in {seconds} s")) {
                out.push((end, alert));
            }
        }
        out
    }

    /// The follow-up of a window's repeats so far (none without repeats):
    /// the latest repeat's alert, its message prefixed with the count and
    /// `span`, and `alert.repeats`. The window's count starts again.
    fn follow_up(&self, window: &mut Window, span: &str) -> Option<Alert> {
        let mut alert = window.latest.take().map(|a| *a)?;
        alert.alert.message = format!("{} {span}: {}", window.repeats, alert.alert.message);
        alert.alert.repeats = Some(Repeats {
            count: window.repeats,
            first_seen: Timestamp(window.first_repeat),
            last_seen: Timestamp(window.last_repeat),
            window_secs: u64::try_from(self.window / 1_000_000).unwrap_or(0),
        });
        window.repeats = 0;
        Some(alert)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::AlertInfo;
    use crate::device::DeviceRecord;

    fn alert(device: &str, subject: &str) -> Alert {
        Alert {
            alert: AlertInfo::new(Kind::NewPeer, "new peer".into(), subject.into()),
            device: DeviceRecord {
                id: device.into(),
                identified_by: "ip",
                mac: None,
                vendor: None,
                ips: Vec::new(),
                addresses: Vec::new(),
                os: None,
                software: Vec::new(),
                exposures: Vec::new(),
                risk: crate::device::risk::assess(&Default::default()),
                vlans: Vec::new(),
                first_seen: Timestamp(0),
                gateway: false,
                device_type: crate::device::kind::DeviceType {
                    name: "unknown",
                    modality: None,
                    confidence: "low",
                    evidence: Vec::new(),
                },
                roles: Vec::new(),
                identity: BTreeMap::new(),
                relayed_equipment: Vec::new(),
                traffic: None,
            },
            peer: None,
            evidence: BTreeMap::new(),
            baseline: None,
        }
    }

    const S: Micros = 1_000_000;

    #[test]
    fn repeats_in_the_window_become_one_follow_up() {
        let mut agg = Aggregator::new(60);
        let a = alert("ip:10.0.0.1", "10.0.0.9");
        assert_eq!(agg.occur(&a, Kind::NewPeer, 0), Verdict::Emit);
        for t in 1..=5 {
            assert_eq!(agg.occur(&a, Kind::NewPeer, t * S), Verdict::Suppressed);
        }
        assert!(agg.expire(59 * S).is_empty());
        let out = agg.expire(60 * S);
        assert_eq!(out.len(), 1);
        let (due, follow_up) = &out[0];
        assert_eq!(*due, 60 * S);
        let repeats = follow_up.alert.repeats.as_ref().unwrap();
        assert_eq!(repeats.count, 5);
        assert_eq!(repeats.first_seen, Timestamp(S));
        assert_eq!(repeats.last_seen, Timestamp(5 * S));
        // The window is closed: the next occurrence is alerted again.
        assert_eq!(agg.occur(&a, Kind::NewPeer, 61 * S), Verdict::Emit);
    }

    #[test]
    fn a_window_without_repeats_closes_silently() {
        let mut agg = Aggregator::new(60);
        agg.occur(&alert("d", "s"), Kind::NewPeer, 0);
        assert!(agg.report_repeats().is_empty());
        assert!(agg.expire(60 * S).is_empty());
    }

    #[test]
    fn keys_differ_by_kind_device_and_subject() {
        let mut agg = Aggregator::new(60);
        assert_eq!(agg.occur(&alert("d", "s"), Kind::NewPeer, 0), Verdict::Emit);
        assert_eq!(agg.occur(&alert("e", "s"), Kind::NewPeer, 0), Verdict::Emit);
        assert_eq!(agg.occur(&alert("d", "t"), Kind::NewPeer, 0), Verdict::Emit);
        assert_eq!(
            agg.occur(&alert("d", "s"), Kind::NewService, 0),
            Verdict::Emit
        );
        assert_eq!(
            agg.occur(&alert("d", "s"), Kind::NewPeer, 0),
            Verdict::Suppressed
        );
    }

    #[test]
    fn at_the_end_follow_ups_are_due_at_their_last_repeat() {
        let mut agg = Aggregator::new(3600);
        let a = alert("d", "s");
        agg.occur(&a, Kind::NewPeer, 0);
        agg.occur(&a, Kind::NewPeer, 10 * S);
        let out = agg.report_repeats();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, 10 * S);
        // The window stays open: a later repeat is still suppressed.
        assert_eq!(agg.occur(&a, Kind::NewPeer, 20 * S), Verdict::Suppressed);
    }

    #[test]
    fn a_zero_window_never_suppresses() {
        let mut agg = Aggregator::new(0);
        let a = alert("d", "s");
        assert_eq!(agg.occur(&a, Kind::NewPeer, 0), Verdict::Emit);
        assert_eq!(agg.occur(&a, Kind::NewPeer, 0), Verdict::Emit);
    }
}
