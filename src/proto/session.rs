//! One TCP connection's application layer: both directions reassembled,
//! the protocol detected from content, and its parser fed.
//!
//! A worker creates a [`Session`] for a TCP flow when the flow first carries
//! data. Detection looks at the first bytes of whichever direction speaks
//! first, on any port: a probe per parser, plus the services whose opening
//! is read for the side door ([`super::handshake`]: TLS, recorded as DICOM
//! or MQTT over TLS on their registered ports since the content is not
//! readable, and SMB). A connection nothing recognises stops being
//! reassembled at once, and one whose opening was read stops then, so
//! unknown and encrypted traffic costs no more than flow accounting.

use super::handshake::{self, Found, Handshake, Service};
use super::{Direction, Fact, Observation, OutputOf, Pending, Probe, Record, StreamParser};
use crate::reassembly::{Budget, Chunk, ReassemblyCounters, Segment, Stream};
use crate::time::Micros;

/// Bytes of a direction's start held for detection at most; every probe
/// decides within this many.
pub const PROBE_BYTES: usize = 128;

/// DICOM over TLS (PS3.15 Annex B), IANA port 2762.
pub const DICOM_TLS_PORT: u16 = 2762;
/// MQTT over TLS, IANA port 8883.
pub const MQTT_TLS_PORT: u16 = 8883;

macro_rules! parsers {
    ($($variant:ident => $module:ident :: $parser:ident),* $(,)?) => {
        /// The parser a session drives, with the buffer it reports into
        /// (kept, so a long connection allocates it once).
        #[derive(Debug)]
        #[allow(clippy::large_enum_variant)]
        enum Parser {
            $($variant(super::$module::$parser, OutputOf<super::$module::$parser>),)*
        }

        /// A record from any parser, as a protocol event carries it.
        #[derive(Debug, Clone)]
        pub enum ProtocolRecord {
            $(
                #[doc = concat!("A `", stringify!($module), "` record.")]
                $variant(Box<<super::$module::$parser as StreamParser>::Record>),
            )*
        }

        impl ProtocolRecord {
            /// The protocol's name: the event type and the record's key.
            pub fn name(&self) -> &'static str {
                match self {
                    $(ProtocolRecord::$variant(_) => <super::$module::$parser as StreamParser>::NAME,)*
                }
            }

            fn mark_interim(&mut self, changed: Vec<String>) {
                match self {
                    $(ProtocolRecord::$variant(r) => r.mark_interim(changed),)*
                }
            }

            /// See [`crate::proto::Record::summarise`].
            pub fn summarise(&mut self) {
                match self {
                    $(ProtocolRecord::$variant(r) => r.summarise(),)*
                }
            }
        }

        /// An observation from any parser, made at the packet that showed it.
        #[derive(Debug, Clone)]
        pub enum ProtocolObservation {
            $(
                #[doc = concat!("A `", stringify!($module), "` observation.")]
                $variant(<super::$module::$parser as StreamParser>::Observation),
            )*
        }

        impl ProtocolObservation {
            /// The protocol's name.
            pub fn name(&self) -> &'static str {
                match self {
                    $(ProtocolObservation::$variant(_) => <super::$module::$parser as StreamParser>::NAME,)*
                }
            }

            /// The identity facts the observation carries.
            pub fn facts(&self, out: &mut Vec<Fact>) {
                match self {
                    $(ProtocolObservation::$variant(o) => o.facts(out),)*
                }
            }
        }

        impl serde::Serialize for ProtocolRecord {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self {
                    $(ProtocolRecord::$variant(r) => r.serialize(s),)*
                }
            }
        }

        impl Parser {
            /// Runs every probe on a direction's first bytes.
            fn detect(direction: Direction, bytes: &[u8]) -> Detection {
                let mut undecided = false;
                $(
                    match <super::$module::$parser as StreamParser>::probe(direction, bytes) {
                        Probe::Match => {
                            return Detection::Found(Parser::$variant(Default::default(), Default::default()));
                        }
                        Probe::NeedMore => undecided = true,
                        Probe::NoMatch => {}
                    }
                )*
                if undecided { Detection::NeedMore } else { Detection::None }
            }

            fn name(&self) -> &'static str {
                match self {
                    $(Parser::$variant(..) => <super::$module::$parser as StreamParser>::NAME,)*
                }
            }

            fn messages(&self) -> [u64; 2] {
                match self {
                    $(Parser::$variant(p, _) => p.messages(),)*
                }
            }

            fn idle_timeout(&self) -> Option<Micros> {
                match self {
                    $(Parser::$variant(p, _) => p.idle_timeout(),)*
                }
            }

            fn anomalies(&self) -> (&'static [&'static str], &[u64]) {
                match self {
                    $(Parser::$variant(p, _) => (<super::$module::$parser as StreamParser>::ANOMALIES, p.anomaly_counts()),)*
                }
            }

            /// Feeds `data`; false when the parser has to be given up.
            fn feed(
                &mut self,
                pending: &mut Pending,
                direction: Direction,
                ts: Micros,
                data: &[u8],
                out: &mut Reported,
            ) -> bool {
                match self {
                    $(Parser::$variant(p, o) => {
                        o.want_records = out.want_records;
                        let fed = pending.feed(p, direction, ts, data, o);
                        out.take(o, ProtocolObservation::$variant, |r| ProtocolRecord::$variant(Box::new(r)));
                        fed.is_ok()
                    })*
                }
            }

            fn gap(&mut self, direction: Direction, len: u64) -> bool {
                match self {
                    $(Parser::$variant(p, _) => p.gap(direction, len),)*
                }
            }

            fn finish(&mut self, ts: Micros, out: &mut Reported) {
                match self {
                    $(Parser::$variant(p, o) => {
                        o.want_records = out.want_records;
                        p.finish(ts, o);
                        out.take(o, ProtocolObservation::$variant, |r| ProtocolRecord::$variant(Box::new(r)));
                    })*
                }
            }

            fn interim(&self) -> Option<ProtocolRecord> {
                match self {
                    $(Parser::$variant(p, _) => p.interim().map(|r| ProtocolRecord::$variant(Box::new(r))),)*
                }
            }
        }

        /// The protocols medtap parses, by name.
        pub const PROTOCOLS: &[&str] = &[$(<super::$module::$parser as StreamParser>::NAME,)*];
    };
}

parsers! {
    Dicom => dicom::DicomParser,
    Hl7 => hl7::Hl7Parser,
    Mqtt => mqtt::MqttParser,
}

// One parser per connection, inside a boxed session: boxing the parser
// again would cost a second allocation per connection for nothing.
#[allow(clippy::large_enum_variant)]
enum Detection {
    Found(Parser),
    /// A side-door service, by name.
    Opening(Box<Handshake>, &'static str),
    NeedMore,
    None,
}

/// Where a connection's application layer stands.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
enum App {
    /// Waiting for enough bytes to tell.
    Detecting,
    /// Parsing.
    Parsing(Parser),
    /// Parsing ended: the parser gave up, or a gap came before detection.
    Stopped,
    /// A service whose opening is being read (TLS, SMB).
    Handshake(Box<Handshake>),
    /// A service whose opening was read (or TLS, not readable): named, not
    /// parsed.
    Known(&'static str),
    /// No parser recognised the connection.
    Unknown,
}

/// What one TCP segment of a session carries.
#[derive(Debug, Clone, Copy)]
pub struct TcpSegment<'a> {
    /// Who sent it.
    pub direction: Direction,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number, when the ACK flag is set.
    pub ack: Option<u32>,
    /// SYN flag.
    pub syn: bool,
    /// FIN flag.
    pub fin: bool,
    /// Payload as captured.
    pub payload: &'a [u8],
    /// Payload bytes the capture cut off.
    pub missing: u32,
}

/// What sessions produced, collected by the worker.
#[derive(Debug, Default)]
pub struct SessionOutput {
    /// Observations and records.
    pub reported: Reported,
    /// Reassembly counters.
    pub reassembly: ReassemblyCounters,
}

/// What the parsers reported, until the worker takes it.
#[derive(Debug)]
pub struct Reported {
    /// Observations made.
    pub observations: Vec<ProtocolObservation>,
    /// Records completed.
    pub records: Vec<ProtocolRecord>,
    /// What openings said about their ends.
    pub found: Vec<Found>,
    /// Whether records are wanted (`--log-protocols`).
    pub want_records: bool,
}

impl Default for Reported {
    fn default() -> Self {
        Reported {
            observations: Vec::new(),
            records: Vec::new(),
            found: Vec::new(),
            want_records: true,
        }
    }
}

impl Reported {
    /// Takes one parser's output, leaving its buffers empty for reuse.
    fn take<R, O>(
        &mut self,
        output: &mut super::Output<R, O>,
        observation: impl Fn(O) -> ProtocolObservation,
        record: impl Fn(R) -> ProtocolRecord,
    ) {
        if output.is_empty() {
            return;
        }
        self.observations
            .extend(output.observations.drain(..).map(observation));
        if self.want_records {
            self.records.extend(output.records.drain(..).map(record));
        } else {
            output.records.clear();
        }
    }

    /// Whether nothing was produced since the worker last took it.
    pub fn is_empty(&self) -> bool {
        self.observations.is_empty() && self.records.is_empty() && self.found.is_empty()
    }
}

/// Per-protocol counters of one worker.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ProtocolCounters {
    /// Connections detected, by application protocol (including TLS ones).
    pub connections: std::collections::BTreeMap<&'static str, u64>,
    /// Connections whose parser stopped early (gap, stall), by protocol.
    pub stopped: std::collections::BTreeMap<&'static str, u64>,
    /// Anomalies, by protocol and name.
    pub anomalies:
        std::collections::BTreeMap<&'static str, std::collections::BTreeMap<&'static str, u64>>,
}

impl ProtocolCounters {
    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &ProtocolCounters) {
        for (k, v) in &other.connections {
            *self.connections.entry(k).or_default() += v;
        }
        for (k, v) in &other.stopped {
            *self.stopped.entry(k).or_default() += v;
        }
        for (proto, counts) in &other.anomalies {
            let mine = self.anomalies.entry(proto).or_default();
            for (k, v) in counts {
                *mine.entry(k).or_default() += v;
            }
        }
    }
}

/// The first bytes of a direction, for detection.
#[derive(Debug)]
struct ProbeBuffer {
    bytes: [u8; PROBE_BYTES],
    len: usize,
}

impl Default for ProbeBuffer {
    fn default() -> Self {
        ProbeBuffer {
            bytes: [0; PROBE_BYTES],
            len: 0,
        }
    }
}

/// What a connection carried so far, per direction (indexed by
/// [`Direction::index`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Protocol messages ([`StreamParser::messages`]).
    pub messages: [u64; 2],
    /// TCP payload bytes.
    pub bytes: [u64; 2],
}

impl Traffic {
    /// What was carried since `earlier`.
    pub fn since(&self, earlier: &Traffic) -> Traffic {
        let sub = |a: [u64; 2], b: [u64; 2]| [a[0].saturating_sub(b[0]), a[1].saturating_sub(b[1])];
        Traffic {
            messages: sub(self.messages, earlier.messages),
            bytes: sub(self.bytes, earlier.bytes),
        }
    }

    /// Whether nothing was carried.
    pub fn is_empty(&self) -> bool {
        *self == Traffic::default()
    }
}

/// How far the worker has counted a connection's traffic into per-second
/// rates: the second it is counting, and the traffic when that began.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counted {
    /// Packet time of the second being counted (0: none yet).
    pub second: Micros,
    /// The connection's traffic when it began.
    pub traffic: Traffic,
    /// Whether the worker is to look at the connection at its next
    /// synchronisation point.
    pub listed: bool,
}

/// What a session costs before anything is pending or held, in bytes: the
/// boxed session with its parser, and an allowance for the parser's own
/// bounded records (AE titles, presentation contexts, topics, counters).
pub const SESSION_BYTES: usize = std::mem::size_of::<Session>() + 2048;

/// One TCP connection's application layer.
#[derive(Debug)]
pub struct Session {
    streams: [Stream; 2],
    probes: [ProbeBuffer; 2],
    app: App,
    pending: Pending,
    server_port: u16,
    traffic: Traffic,
    /// The worker's per-second accounting of [`Session::traffic`].
    pub counted: Counted,
    /// Packet time of the last record written for this connection (its
    /// start, until an interim record is).
    pub recorded: Micros,
    /// The fields of the last interim record.
    written: Written,
    /// The parser's anomalies already added to the worker's counters.
    tallied: Tally,
}

/// The anomalies of a connection's parser already counted in the worker's
/// counters: counted while the connection lasts (see [`Session::tally`]),
/// so a connection open for a month shows its anomalies in `stats` before
/// it ends.
#[derive(Debug, Default)]
struct Tally {
    total: u64,
    counts: Vec<u64>,
}

impl Tally {
    /// Adds what `parser` counted since the last call to `counters`.
    fn report(&mut self, parser: &Parser, counters: &mut ProtocolCounters) {
        let (names, counts) = parser.anomalies();
        let total: u64 = counts.iter().sum();
        if total == self.total {
            return;
        }
        self.total = total;
        self.counts.resize(counts.len(), 0);
        let protocol = parser.name();
        for ((name, now), before) in names.iter().zip(counts).zip(self.counts.iter_mut()) {
            if *now > *before {
                *counters
                    .anomalies
                    .entry(protocol)
                    .or_default()
                    .entry(name)
                    .or_default() += *now - *before;
                *before = *now;
            }
        }
    }
}

/// The top-level fields of the last interim record of a connection, as
/// hashes of name and value: enough to say what changed, small enough to
/// keep for every long connection.
#[derive(Debug, Default)]
struct Written(Vec<(u64, u64)>);

impl Written {
    /// The names of the fields of `record` that differ from the last one,
    /// which `record` replaces.
    fn changed(&mut self, record: &ProtocolRecord) -> Vec<String> {
        use std::hash::BuildHasher;
        let hasher = foldhash::fast::FixedState::with_seed(0);
        let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(record) else {
            return Vec::new();
        };
        let mut changed = Vec::new();
        let mut now = Vec::with_capacity(fields.len());
        for (name, value) in &fields {
            let name_hash = hasher.hash_one(name);
            let value_hash = hasher.hash_one(value.to_string());
            now.push((name_hash, value_hash));
            if !self.0.contains(&(name_hash, value_hash)) {
                changed.push(name.clone());
            }
        }
        self.0 = now;
        changed
    }
}

impl Session {
    /// A session for a connection to `server_port`, holding out-of-order
    /// bytes against `budget`.
    pub fn new(server_port: u16, budget: Budget) -> Session {
        Session {
            streams: [Stream::new(budget.clone()), Stream::new(budget)],
            probes: Default::default(),
            app: App::Detecting,
            pending: Pending::default(),
            server_port,
            traffic: Traffic::default(),
            counted: Counted::default(),
            recorded: Micros::MIN,
            written: Written::default(),
            tallied: Tally::default(),
        }
    }

    /// The bytes this connection's application layer holds: the session
    /// itself with an allowance for its parser's own small records
    /// ([`SESSION_BYTES`]), what its parser left unconsumed and the segments
    /// held out of order. What a worker's memory budget charges it.
    pub fn footprint(&self) -> usize {
        let opening = match &self.app {
            App::Handshake(h) => h.footprint(),
            _ => 0,
        };
        SESSION_BYTES
            + opening
            + self.pending.capacity()
            + self.streams.iter().map(Stream::charged).sum::<usize>()
    }

    /// What the connection carried so far.
    pub fn traffic(&self) -> Traffic {
        self.traffic
    }

    /// The parsed protocol's name, while it is being parsed.
    pub fn parsing(&self) -> Option<&'static str> {
        match &self.app {
            App::Parsing(p) => Some(p.name()),
            _ => None,
        }
    }

    /// The application protocol, once known.
    pub fn app_proto(&self) -> Option<&'static str> {
        match &self.app {
            App::Parsing(p) => Some(p.name()),
            App::Handshake(h) => Some(h.service().name()),
            App::Known(name) => Some(name),
            _ => None,
        }
    }

    /// Whether the session has nothing more to do (nothing recognised, or
    /// its parser stopped): the worker may drop it.
    pub fn is_idle(&self) -> bool {
        matches!(self.app, App::Unknown | App::Stopped | App::Known(_))
    }

    /// Takes one TCP segment.
    pub fn segment(
        &mut self,
        segment: TcpSegment<'_>,
        ts: Micros,
        counters: &mut ProtocolCounters,
        out: &mut SessionOutput,
    ) {
        let (streams, mut ctx) = self.split(ts, counters, &mut out.reported);
        let [to_server, to_client] = streams;
        let (this, other) = match segment.direction {
            Direction::ToServer => (to_server, to_client),
            Direction::ToClient => (to_client, to_server),
        };
        if let Some(ack) = segment.ack {
            let reverse = segment.direction.reverse();
            other.acknowledged(ack, &mut out.reassembly, &mut |c| ctx.chunk(reverse, c));
        }
        let tcp = Segment {
            seq: segment.seq,
            syn: segment.syn,
            fin: segment.fin,
            payload: segment.payload,
            missing: segment.missing,
        };
        this.segment(tcp, &mut out.reassembly, &mut |c| {
            ctx.chunk(segment.direction, c)
        });
        if let App::Parsing(parser) = &self.app {
            self.traffic.messages = parser.messages();
            if let Some(bytes) = self.traffic.bytes.get_mut(segment.direction.index()) {
                *bytes += segment.payload.len() as u64;
            }
        }
    }

    /// Adds the anomalies the parser counted since the last call to
    /// `counters`: called by the worker at each synchronisation point for
    /// the connections that carried something since the previous one, so a
    /// connection open for a month shows its anomalies while it lasts.
    pub fn tally(&mut self, counters: &mut ProtocolCounters) {
        if let App::Parsing(parser) = &self.app {
            self.tallied.report(parser, counters);
        }
    }

    /// How long the connection may stay silent before it is over, when its
    /// protocol says (an MQTT keep-alive); `None` leaves the TCP default.
    pub fn idle_timeout(&self) -> Option<Micros> {
        match &self.app {
            App::Parsing(parser) => parser.idle_timeout(),
            _ => None,
        }
    }

    /// The streams, and the delivery of their chunks to the rest.
    fn split<'a>(
        &'a mut self,
        ts: Micros,
        counters: &'a mut ProtocolCounters,
        reported: &'a mut Reported,
    ) -> (&'a mut [Stream; 2], Deliver<'a>) {
        let Session {
            streams,
            probes,
            app,
            pending,
            server_port,
            tallied,
            ..
        } = self;
        let deliver = Deliver {
            app,
            probes,
            pending,
            server_port: *server_port,
            ts,
            counters,
            reported,
            tallied,
        };
        (streams, deliver)
    }

    /// A record of the connection as it stands, marked interim, with the
    /// fields that changed since the previous interim one (all of them for
    /// the first): for a connection still open after `--record-interval`.
    pub fn interim(&mut self) -> Option<ProtocolRecord> {
        let App::Parsing(parser) = &self.app else {
            return None;
        };
        let mut record = parser.interim()?;
        let changed = self.written.changed(&record);
        record.mark_interim(changed);
        Some(record)
    }

    /// The connection ended: flush what is held and let the parser report.
    pub fn finish(&mut self, ts: Micros, counters: &mut ProtocolCounters, out: &mut SessionOutput) {
        let (streams, mut ctx) = self.split(ts, counters, &mut out.reported);
        for (stream, direction) in streams
            .iter_mut()
            .zip([Direction::ToServer, Direction::ToClient])
        {
            stream.flush(&mut out.reassembly, &mut |c| ctx.chunk(direction, c));
        }
        if let App::Parsing(parser) = &mut self.app {
            parser.finish(ts, &mut out.reported);
            self.traffic.messages = parser.messages();
            self.tallied.report(parser, counters);
        }
        self.app = App::Stopped;
    }
}

/// Delivery of reassembled chunks to detection or the parser.
struct Deliver<'a> {
    app: &'a mut App,
    probes: &'a mut [ProbeBuffer; 2],
    pending: &'a mut Pending,
    server_port: u16,
    ts: Micros,
    counters: &'a mut ProtocolCounters,
    reported: &'a mut Reported,
    tallied: &'a mut Tally,
}

impl Deliver<'_> {
    fn chunk(&mut self, direction: Direction, chunk: Chunk<'_>) {
        match (&mut *self.app, chunk) {
            (App::Detecting, Chunk::Data(data)) => self.detect(direction, data),
            (App::Detecting, Chunk::Gap(_)) => *self.app = App::Unknown,
            (App::Parsing(parser), Chunk::Data(data)) => {
                let fed = parser.feed(self.pending, direction, self.ts, data, self.reported);
                if !fed {
                    self.stop();
                }
            }
            (App::Parsing(parser), Chunk::Gap(len)) => {
                self.pending.clear(direction);
                if !parser.gap(direction, len) {
                    self.stop();
                }
            }
            (App::Handshake(opening), Chunk::Data(data)) => {
                let reading = opening.feed(direction, data, &mut self.reported.found);
                let name = opening.service().name();
                if !reading {
                    *self.app = App::Known(name);
                }
            }
            (App::Handshake(opening), Chunk::Gap(_)) => {
                opening.gap();
                *self.app = App::Known(opening.service().name());
            }
            _ => {}
        }
    }

    fn stop(&mut self) {
        if let App::Parsing(parser) = &mut *self.app {
            parser.finish(self.ts, self.reported);
            *self.counters.stopped.entry(parser.name()).or_default() += 1;
            self.tallied.report(parser, self.counters);
        }
        *self.app = App::Stopped;
    }

    fn detect(&mut self, direction: Direction, data: &[u8]) {
        let probe = direction.pick_mut(self.probes);
        // The common case: the first segment alone decides, read in place.
        let from_buffer = probe.len > 0 || data.len() < PROBE_BYTES;
        let taken = if from_buffer {
            let take = (PROBE_BYTES - probe.len).min(data.len());
            if let (Some(room), Some(bytes)) = (
                probe.bytes.get_mut(probe.len..probe.len + take),
                data.get(..take),
            ) {
                room.copy_from_slice(bytes);
                probe.len += take;
            }
            take
        } else {
            0
        };
        let start = if from_buffer {
            probe.bytes.get(..probe.len).unwrap_or_default()
        } else {
            data
        };
        let tls_name = match self.server_port {
            DICOM_TLS_PORT => "dicom-tls",
            MQTT_TLS_PORT => "mqtt-tls",
            _ => "tls",
        };
        let detection = match Service::detect(direction, start, self.server_port, tls_name) {
            Some(service) => Detection::Opening(Box::new(Handshake::new(service)), service.name()),
            None => match Parser::detect(direction, start) {
                // An opening cut short (a ClientHello before its message
                // type): wait for it.
                Detection::None if handshake::may_open(start) => Detection::NeedMore,
                detection => detection,
            },
        };
        let app = match detection {
            Detection::Found(parser) => {
                *self.counters.connections.entry(parser.name()).or_default() += 1;
                Some(App::Parsing(parser))
            }
            Detection::Opening(opening, name) => {
                *self.counters.connections.entry(name).or_default() += 1;
                Some(App::Handshake(opening))
            }
            Detection::NeedMore if from_buffer && probe.len < PROBE_BYTES => return,
            _ => None,
        };
        match app {
            Some(app) => {
                *self.app = app;
                if from_buffer {
                    let (buffered, len) = (probe.bytes, probe.len);
                    self.chunk(
                        direction,
                        Chunk::Data(buffered.get(..len).unwrap_or_default()),
                    );
                    let rest = data.get(taken..).unwrap_or_default();
                    if !rest.is_empty() {
                        self.chunk(direction, Chunk::Data(rest));
                    }
                } else {
                    self.chunk(direction, Chunk::Data(data));
                }
            }
            None => *self.app = App::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TLS 1.2 ClientHello's first bytes: handshake record, version 3.1,
    /// length, then message type 1 (ClientHello).
    const CLIENT_HELLO: &[u8] = &[22, 3, 1, 0, 200, 1, 0, 0, 196, 3, 3];

    fn first_segment(port: u16, payload: &[u8]) -> Session {
        let mut session = Session::new(port, Budget::new(1 << 20));
        let segment = TcpSegment {
            direction: Direction::ToServer,
            seq: 1000,
            ack: None,
            syn: false,
            fin: false,
            payload,
            missing: 0,
        };
        let mut counters = ProtocolCounters::default();
        session.segment(segment, 0, &mut counters, &mut SessionOutput::default());
        session
    }

    #[test]
    fn tls_is_named_after_the_registered_port() {
        for (port, name) in [
            (DICOM_TLS_PORT, "dicom-tls"),
            (MQTT_TLS_PORT, "mqtt-tls"),
            (443, "tls"),
        ] {
            let session = first_segment(port, CLIENT_HELLO);
            assert_eq!(session.app_proto(), Some(name));
            assert!(!session.is_idle(), "the hellos are read");
        }
    }

    #[test]
    fn a_client_hello_cut_short_waits_for_its_message_type() {
        let session = first_segment(MQTT_TLS_PORT, &CLIENT_HELLO[..3]);
        assert_eq!(session.app_proto(), None);
        assert!(!session.is_idle());
    }

    #[test]
    fn unknown_bytes_stop_the_session() {
        let session = first_segment(2575, b"HELLO pacs, here is a protocol nobody reads\r\n");
        assert_eq!(session.app_proto(), None);
        assert!(session.is_idle());
    }

    /// A connection open for a month shows its anomalies in `stats` while
    /// it lasts (the worker tallies at its synchronisation points), once.
    #[test]
    fn anomalies_are_counted_before_the_connection_ends() {
        let mut session = Session::new(1883, Budget::new(1 << 20));
        let mut counters = ProtocolCounters::default();
        let mut out = SessionOutput::default();
        let mut seq = 1000u32;
        let mut send = |session: &mut Session, counters: &mut ProtocolCounters, bytes: &[u8]| {
            let segment = TcpSegment {
                direction: Direction::ToServer,
                seq,
                ack: None,
                syn: false,
                fin: false,
                payload: bytes,
                missing: 0,
            };
            seq = seq.wrapping_add(bytes.len() as u32);
            session.segment(segment, 0, counters, &mut out);
        };
        send(
            &mut session,
            &mut counters,
            b"\x10\x10\x00\x04MQTT\x04\x02\x00\x3c\x00\x04pump",
        );
        // PUBLISH QoS 0 to 65 topics "t00" … "t64": one past the cap.
        for i in 0..=crate::proto::mqtt::MAX_TOPICS {
            let topic = format!("t{i:02}");
            let mut publish = vec![0x30, 2 + topic.len() as u8 + 1, 0, topic.len() as u8];
            publish.extend(topic.as_bytes());
            publish.push(b'1');
            send(&mut session, &mut counters, &publish);
        }
        let too_many = |c: &ProtocolCounters| {
            c.anomalies
                .get("mqtt")
                .and_then(|a| a.get("too_many_topics"))
                .copied()
        };
        assert_eq!(too_many(&counters), None, "not before a tally");
        session.tally(&mut counters);
        assert_eq!(too_many(&counters), Some(1), "counted while open");
        session.tally(&mut counters);
        assert_eq!(too_many(&counters), Some(1), "once");
        session.finish(1, &mut counters, &mut out);
        assert_eq!(too_many(&counters), Some(1), "and not again at the end");
        let topics = out
            .reported
            .observations
            .iter()
            .filter(|o| {
                matches!(
                    o,
                    ProtocolObservation::Mqtt(crate::proto::mqtt::MqttObservation::Publish { .. })
                )
            })
            .count();
        assert_eq!(topics, crate::proto::mqtt::MAX_TOPICS);
    }

    #[test]
    fn mqtt_is_detected_on_any_port() {
        // CONNECT, remaining length 16, "MQTT", level 4, clean session,
        // keep-alive 60, client id "pump".
        let connect = b"\x10\x10\x00\x04MQTT\x04\x02\x00\x3c\x00\x04pump";
        let session = first_segment(40_000, connect);
        assert_eq!(session.app_proto(), Some("mqtt"));
        assert!(!session.is_idle());
    }
}
