//! Events: what medtap tells its sinks, one JSON object per line.
//!
//! The shape follows Suricata's EVE so that SIEM parsers and analysts' habits
//! carry over: `timestamp`, `event_type`, the flow fields `src_ip`, `src_port`,
//! `dest_ip`, `dest_port`, `proto`, `app_proto`, `community_id`, and one
//! object named after the event type. `docs/events.md` documents every field
//! and `schema/events.schema.json` is the contract the tests hold output to.
//!
//! Every event also carries what a SIEM needs to store and pivot on it
//! without parsing it further: `host` (the sensor's name), `event_id` (a
//! BLAKE3 digest of the event's own content, so a replay indexed twice is stored
//! once), `flow_id` on events of a flow (shared by the flow's protocol
//! records and alerts) and, in replays, `pcap_cnt` (the number of the
//! packet that caused it, counted from 1 over the whole replay).
//!
//! Timestamps are packet time, RFC 3339 in UTC with microseconds, so a replay
//! gives the same bytes every time and lines up with Zeek and Suricata logs
//! of the same capture.

use std::sync::Arc;

use serde::Serialize;

use crate::device::{DeviceRecord, DeviceStats};
use crate::proto::session::ProtocolRecord;

mod warning;
pub use warning::{CaptureLoss, OutputFailure, Warning, WarningCounts, WarningKind};
// Events carry these; re-exported so event users need not know where packet
// time and flow identity live.
pub use crate::flow::fields::{
    FlowFields, MAX_FLOW_ID, PacketTuple, ProtoName, flow_id, proto_name,
};
pub use crate::time::Timestamp;

/// Counters of the capture source.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct CaptureStats {
    /// Packets read.
    pub packets: u64,
    /// Bytes on the wire of the packets read (original lengths).
    pub bytes: u64,
    /// Bytes captured (after the snap length).
    pub captured_bytes: u64,
    /// Packets the kernel received (live capture only, from libpcap).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_received: Option<u64>,
    /// Packets dropped because the kernel buffer was full (live only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_drops: Option<u64>,
    /// Packets dropped by the interface or its driver (live only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface_drops: Option<u64>,
    /// Forward jumps of packet time the capture's clock followed, once
    /// confirmed by the packets after them (a clock step, the next file of
    /// a replay).
    pub clock_jumps: u64,
    /// Packets whose time was too far from the capture's clock to move it:
    /// a stray timestamp ahead, or one from long before.
    pub clock_outliers: u64,
}

/// Flow counters in `stats` events.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct FlowStats {
    /// Flows started.
    pub total: u64,
    /// TCP flows started.
    pub tcp: u64,
    /// UDP flows started.
    pub udp: u64,
    /// ICMP and ICMPv6 flows started.
    pub icmp: u64,
    /// Other flows started.
    pub other: u64,
    /// Flows not yet idle past their timeout.
    pub active: u64,
    /// Flows ended by idle timeout or port reuse.
    pub timed_out: u64,
    /// Flows evicted to keep the flow tables within `--max-flows` and the
    /// memory budget (`--memcap`).
    pub evicted: u64,
    /// RSTs inside the receiver's window but not at its next expected
    /// sequence number: ignored, as RFC 5961 has the host challenge them.
    pub rst_challenged: u64,
    /// RSTs outside the receiver's window: ignored, as the host does.
    pub rst_out_of_window: u64,
    /// SYNs with another ISN on a connection under way: ignored.
    pub syn_ignored: u64,
    /// FINs behind the stream: ignored.
    pub fin_ignored: u64,
}

/// Pipeline counters (live `stats` only: they depend on scheduling).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct PipelineStats {
    /// Worker threads.
    pub workers: u64,
    /// Batches handed to workers.
    pub batches: u64,
    /// Times the capture thread waited for a free batch buffer.
    pub batch_waits: u64,
    /// Seconds since start.
    pub uptime_secs: u64,
}

/// The body of a `stats` event.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Stats {
    /// Capture source counters.
    pub capture: CaptureStats,
    /// Decoder counters.
    pub decoder: crate::decode::DecodeStats,
    /// Flow counters.
    pub flow: FlowStats,
    /// Device counters.
    pub device: DeviceStats,
    /// TCP reassembly counters.
    pub reassembly: crate::reassembly::ReassemblyCounters,
    /// Application protocol counters.
    pub protocols: crate::proto::session::ProtocolCounters,
    /// Pipeline counters (live only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<PipelineStats>,
    /// Counters of each network sink, in `-o` order (absent without one).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sinks: Vec<SinkStats>,
    /// Alert counters.
    pub alerts: crate::alert::AlertStats,
    /// Baseline counters.
    pub baselines: crate::baseline::BaselineStats,
    /// `warning` events emitted so far, by kind (live only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warnings: Option<WarningCounts>,
}

/// Counters of one network sink in `stats` events.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct SinkStats {
    /// The sink's URL, without credentials.
    pub name: String,
    /// Events the receiver has taken.
    pub delivered: u64,
    /// Events written to the spool (a spooled event counts again when delivered).
    pub spooled: u64,
    /// New events dropped because the spool was full or could not be written.
    pub dropped: u64,
    /// Bytes in the spool now.
    pub spool_bytes: u64,
    /// Events delivered shortened to fit the sink's `max_size`.
    pub shortened: u64,
    /// Events not sent: larger than the sink's `max_size` even shortened.
    pub oversized: u64,
}

/// What an event is about.
#[derive(Debug, Clone)]
pub enum Body {
    /// A device appeared, or learned more about who it is.
    Device(Box<DeviceRecord>),
    /// Periodic or final counters.
    Stats(Box<Stats>),
    /// A DICOM association, HL7 message or MQTT connection.
    Protocol(Box<ProtocolRecord>),
    /// A departure from a device's baseline.
    Alert(Box<crate::alert::Alert>),
    /// The sensor's own health (live capture loss).
    Warning(Box<Warning>),
}

impl Body {
    /// The `event_type` of this body, also the key of its object.
    pub fn event_type(&self) -> &'static str {
        match self {
            Body::Device(_) => "device",
            Body::Stats(_) => "stats",
            Body::Protocol(record) => record.name(),
            Body::Alert(_) => "alert",
            Body::Warning(_) => "warning",
        }
    }
}

impl Serialize for Body {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        if let Body::Alert(alert) = self {
            // `alert`, `device`, `peer`, `evidence` and `baseline` sit at the
            // top level, as Suricata's `alert` beside its flow fields.
            return alert.serialize(s);
        }
        let mut map = s.serialize_map(Some(1))?;
        match self {
            Body::Device(device) => map.serialize_entry("device", device)?,
            Body::Stats(stats) => map.serialize_entry("stats", stats)?,
            Body::Protocol(record) => map.serialize_entry(record.name(), record)?,
            Body::Alert(_) => {}
            Body::Warning(warning) => map.serialize_entry("warning", warning)?,
        }
        map.end()
    }
}

/// One event, ready to serialise.
#[derive(Debug, Clone)]
pub struct Event {
    /// Packet time (or wall time for live `stats` and `warning`).
    pub timestamp: Timestamp,
    /// The capture file the packet came from, in a replay.
    pub pcap_filename: Option<Arc<str>>,
    /// The number of the packet that caused the event, in a replay.
    pub pcap_cnt: Option<u64>,
    /// The flow, for packet-bound events.
    pub flow: Option<FlowFields>,
    /// The event's own object.
    pub body: Body,
}

#[derive(Serialize)]
struct Wire<'a> {
    timestamp: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    flow_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pcap_cnt: Option<u64>,
    event_type: &'static str,
    host: &'a str,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    flow: Option<&'a FlowFields>,
    #[serde(flatten)]
    body: &'a Body,
}

/// Hex digits of `event_id`: 128 bits of BLAKE3, plenty to keep the ids
/// of distinct events apart, short enough for a document id.
pub const EVENT_ID_HEX: usize = 32;

impl Event {
    /// Appends this event as one JSON line (with the newline) to `out`;
    /// `host` is the sensor's name.
    ///
    /// `event_id` is the BLAKE3 digest of the line written without it and without
    /// `pcap_filename`, so the same event from the same sensor always has the
    /// same id, whatever path the capture was replayed from; it goes right
    /// after `timestamp`. `pcap_filename` comes last, as in Suricata's EVE.
    pub fn write_json_line(&self, host: &str, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        let wire = Wire {
            timestamp: self.timestamp,
            flow_id: self.flow.as_ref().map(|f| f.flow_id),
            pcap_cnt: self.pcap_cnt,
            event_type: self.body.event_type(),
            host,
            flow: self.flow.as_ref(),
            body: &self.body,
        };
        let start = out.len();
        serde_json::to_writer(&mut *out, &wire)?;
        let line = out.get(start..).unwrap_or_default();
        // BLAKE3: a cryptographic digest (an id no one can choose for an
        // event to come), and several times faster than SHA-256 on a CPU
        // without SHA extensions, as a sensor's may be.
        let digest = blake3::hash(line);
        // The timestamp is the first field and its text holds no `",`.
        let after_timestamp = memchr::memmem::find(line, b"\",").map_or(line.len(), |at| at + 2);
        let hex = |nibble: u8| HEX.get(usize::from(nibble)).copied().unwrap_or(b'0');
        let digits = digest
            .as_bytes()
            .iter()
            .flat_map(|byte| [hex(byte >> 4), hex(byte & 0xf)])
            .take(EVENT_ID_HEX);
        let text = b"\"event_id\":\""
            .iter()
            .copied()
            .chain(digits)
            .chain(*b"\",");
        let mut id = [0u8; 14 + EVENT_ID_HEX];
        for (slot, b) in id.iter_mut().zip(text) {
            *slot = b;
        }
        let at = start + after_timestamp;
        out.splice(at..at, id);
        if let Some(name) = self.pcap_filename.as_deref() {
            out.pop();
            out.extend_from_slice(b",\"pcap_filename\":");
            serde_json::to_writer(&mut *out, name)?;
            out.push(b'}');
        }
        out.push(b'\n');
        Ok(())
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";
