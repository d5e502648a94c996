//! `warning` events: the sensor's own health, for the SOC to see beside the
//! alerts.
//!
//! A warning says that medtap's view of the network is worse than it should
//! be, not that a device misbehaves. Each kind that reports a bad state has a
//! `…_recovered` kind for its end, so a SIEM can open an incident on the
//! first and close it on the second. The states watched are capture loss
//! (see `pipeline::health`) and an output that can no longer be written
//! (`output_failed`, on the outputs still working; it has no recovery: the
//! output is not written again in the run).

use serde::Serialize;

/// What a warning is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    /// Live capture lost more packets over a stats interval than the
    /// threshold allows (`--loss-warning`).
    CaptureLoss,
    /// Capture loss fell back to the threshold or below, after a
    /// `capture_loss` warning.
    CaptureLossRecovered,
    /// An output could not be written (disk full, permission): nothing
    /// more goes to it; the others go on.
    OutputFailed,
}

impl WarningKind {
    /// The name in `warning.kind`.
    pub fn name(self) -> &'static str {
        match self {
            WarningKind::CaptureLoss => "capture_loss",
            WarningKind::CaptureLossRecovered => "capture_loss_recovered",
            WarningKind::OutputFailed => "output_failed",
        }
    }
}

/// The body of a `warning` event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Warning {
    /// What it is about.
    pub kind: WarningKind,
    /// One sentence for a person, with the numbers.
    pub message: String,
    /// The measurement behind a capture-loss warning.
    #[serde(flatten)]
    pub loss: Option<CaptureLoss>,
    /// The output behind an `output_failed` warning.
    #[serde(flatten)]
    pub output: Option<OutputFailure>,
}

/// An output that could no longer be written.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutputFailure {
    /// The output, as given to `-o`.
    pub output: String,
    /// Why it could not be written.
    pub error: String,
    /// Outputs still working.
    pub outputs_left: u64,
}

/// Capture loss over one live stats interval, from libpcap's counters as
/// differences since the interval before.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaptureLoss {
    /// Length of the interval, in seconds.
    pub interval_secs: f64,
    /// Packets the kernel received for the capture (`ps_recv`; on Linux
    /// this counts the packets it then dropped for lack of buffer space).
    pub received: u64,
    /// Packets lost: `kernel_drops` + `interface_drops`.
    pub dropped: u64,
    /// Packets dropped because the kernel buffer was full (`ps_drop`).
    pub kernel_drops: u64,
    /// Packets dropped by the interface or its driver (`ps_ifdrop`).
    pub interface_drops: u64,
    /// `dropped` as a share of the packets that reached the interface, in
    /// percent (0 to 100).
    pub loss_percent: f64,
    /// The threshold it was compared with (`--loss-warning`), in percent.
    pub threshold_percent: f64,
}

/// Warnings emitted so far, by kind (live `stats` events only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct WarningCounts {
    /// `capture_loss` warnings.
    pub capture_loss: u64,
    /// `capture_loss_recovered` warnings.
    pub capture_loss_recovered: u64,
}

impl WarningCounts {
    /// Counts one warning of `kind`.
    pub fn count(&mut self, kind: WarningKind) {
        match kind {
            WarningKind::CaptureLoss => self.capture_loss += 1,
            WarningKind::CaptureLossRecovered => self.capture_loss_recovered += 1,
            // Counted by the outputs, not the capture's health watch.
            WarningKind::OutputFailed => {}
        }
    }

    /// Each kind with its count, in a fixed order.
    pub fn by_kind(&self) -> [(WarningKind, u64); 2] {
        [
            (WarningKind::CaptureLoss, self.capture_loss),
            (
                WarningKind::CaptureLossRecovered,
                self.capture_loss_recovered,
            ),
        ]
    }
}
