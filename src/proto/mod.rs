//! Application protocols (DICOM, HL7 v2 over MLLP, MQTT), parsed from the
//! in-order bytes of one TCP connection.
//!
//! Every parser here follows one contract, so the worker that owns a flow can
//! drive any of them the same way:
//!
//! - **Detection** by content, on any port: [`Probe`] from the first bytes a
//!   client sends. Well-known ports are only a hint for ordering the probes.
//! - **Feeding**: `feed(direction, bytes, out) -> consumed`. The parser
//!   consumes what it can. Bytes it does not consume (an incomplete header)
//!   are kept by the caller and presented again, followed by the next bytes of
//!   that direction; a parser never needs more than its declared maximum of
//!   pending bytes before it consumes something. Bulk payload (DICOM pixel
//!   data, MQTT PUBLISH bodies) is consumed and skipped by length, never
//!   held.
//! - **Gaps**: `gap(direction, len)` says `len` bytes of that direction were
//!   lost. The parser resynchronises where the protocol allows (MLLP at the
//!   next start block) or stops parsing the flow.
//! - **Observations** at the packet that carries them: what the parser
//!   learns (an MQTT client id at its CONNECT, a topic at its first PUBLISH,
//!   a DICOM command at its command set, an HL7 message type at its
//!   message), each reported once per connection, with the identity facts
//!   it carries. Repeats are counted, not reported again. Nothing waits for
//!   the connection to end: on a ward, clinical connections last for days.
//! - **Records**: the forensic summary of the conversation (one per DICOM
//!   association, HL7 message, MQTT connection, plus interim ones for long
//!   connections), for `--log-protocols`; the detectors never read them.
//!   Patient data and credentials never enter an observation or a record:
//!   the parsers copy only the fields they name, never whole segments or
//!   payloads.
//! - Parsers never panic on any input; malformed input is a counted anomaly.

/// Declares a stream parser's anomalies: the enum, and from one list of
/// `Variant = "name"` pairs its `ALL` (counter order), `NAMES` (the parser's
/// `ANOMALIES`), `name()` and `index()`, so a name cannot drift from its
/// counter.
macro_rules! anomalies {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        #[allow(dead_code, reason = "not every parser reads every table")]
        impl $name {
            /// Every anomaly, in counter order.
            $vis const ALL: [$name; [$($text),+].len()] = [$($name::$variant),+];
            /// Every anomaly's name, in counter order.
            $vis const NAMES: [&'static str; [$($text),+].len()] = [$($text),+];
            /// The anomaly's name, as counted and as listed in a record.
            $vis const fn name(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }
            /// The anomaly's place in the counters.
            $vis const fn index(self) -> usize {
                self as usize
            }
        }
    };
}

pub mod announce;
pub mod banner;
pub mod dhcp;
pub mod dicom;
pub mod exposure;
pub mod handshake;
pub mod hl7;
pub mod lldp;
pub mod mqtt;
pub mod names;
mod reader;
pub mod session;
pub mod smb;
pub mod ssdp;
mod text;
pub mod tls;

/// Which side of a TCP connection sent the bytes: the client opened it (sent
/// the SYN, or for a connection picked up midstream, the side that looks like
/// a client to the detecting probe).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the connection's client (initiator) to its server.
    ToServer,
    /// From the server back to the client.
    ToClient,
}

impl Direction {
    /// The other direction.
    pub fn reverse(self) -> Direction {
        match self {
            Direction::ToServer => Direction::ToClient,
            Direction::ToClient => Direction::ToServer,
        }
    }

    /// 0 for [`Direction::ToServer`], 1 for [`Direction::ToClient`]: the
    /// index of per-direction arrays.
    pub fn index(self) -> usize {
        match self {
            Direction::ToServer => 0,
            Direction::ToClient => 1,
        }
    }

    /// This direction's half of a per-direction pair (`[to_server,
    /// to_client]`): [`Direction::index`] without an index that could
    /// fall outside the array.
    pub fn pick<T>(self, pair: &[T; 2]) -> &T {
        let [to_server, to_client] = pair;
        match self {
            Direction::ToServer => to_server,
            Direction::ToClient => to_client,
        }
    }

    /// [`Direction::pick`] for a pair to change.
    pub fn pick_mut<T>(self, pair: &mut [T; 2]) -> &mut T {
        let [to_server, to_client] = pair;
        match self {
            Direction::ToServer => to_server,
            Direction::ToClient => to_client,
        }
    }
}

/// What a protocol probe concluded from the first bytes of a direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// The bytes are this protocol.
    Match,
    /// The bytes are not this protocol.
    NoMatch,
    /// Too few bytes to tell; ask again with more.
    NeedMore,
}

/// The endpoint of a connection a fact describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The endpoint that opened the connection.
    Client,
    /// The endpoint that accepted it.
    Server,
}

impl Direction {
    /// The endpoint that sends bytes in this direction.
    pub fn sender(self) -> Side {
        match self {
            Direction::ToServer => Side::Client,
            Direction::ToClient => Side::Server,
        }
    }
}

/// One thing a record says about who an endpoint is, for the device table:
/// `name` is a stable dotted key (`dicom.ae_title`, `hl7.sending_application`,
/// `mqtt.client_id`, `role`, …) and `value` the text seen on the wire,
/// already trimmed and bounded by the parser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fact {
    /// Which endpoint of the connection the fact is about.
    pub side: Side,
    /// The fact's key.
    pub name: &'static str,
    /// Its value.
    pub value: String,
}

/// A protocol record: one DICOM association, HL7 message or MQTT connection,
/// serialised under its protocol's key in a protocol event.
pub trait Record: serde::Serialize {
    /// Marks the record as an interim one: a summary of a connection still
    /// open, written every `--record-interval`, naming the fields that
    /// `changed` since the previous one.
    fn mark_interim(&mut self, changed: Vec<String>);

    /// Shortens what the record lists at length to what an analyst reads
    /// first, with counts of the rest, so a protocol event stays well within
    /// a SIEM pipe's message size. Records that list nothing long keep all.
    fn summarise(&mut self) {}
}

/// Something a parser learned at one packet.
pub trait Observation {
    /// The identity facts it carries about either endpoint.
    fn facts(&self, out: &mut Vec<Fact>);
}

/// What a parser reports: observations as they happen, records as they
/// complete.
#[derive(Debug)]
pub struct Output<R, O> {
    /// Observations, in the order they were made.
    pub observations: Vec<O>,
    /// Records completed.
    pub records: Vec<R>,
    /// Whether records are wanted (`--log-protocols`): when not, a parser
    /// may leave out records it would have to build or copy.
    pub want_records: bool,
}

impl<R, O> Default for Output<R, O> {
    fn default() -> Self {
        Output {
            observations: Vec::new(),
            records: Vec::new(),
            want_records: true,
        }
    }
}

impl<R, O> Output<R, O> {
    /// Whether nothing was reported.
    pub fn is_empty(&self) -> bool {
        self.observations.is_empty() && self.records.is_empty()
    }
}

/// The output type of parser `P`.
pub type OutputOf<P> = Output<<P as StreamParser>::Record, <P as StreamParser>::Observation>;

/// A streaming parser for one TCP connection (both directions).
pub trait StreamParser: Default {
    /// The forensic summary the parser reports.
    type Record: Record;
    /// What the parser learns, at the packet that shows it.
    type Observation: Observation;
    /// The protocol's name in `app_proto` and as the protocol event's type.
    const NAME: &'static str;
    /// The most bytes the parser may leave unconsumed (an incomplete header)
    /// before it must make progress; a caller holding more gives up the flow.
    const MAX_PENDING: usize;
    /// The names of the anomalies the parser counts, indexing
    /// [`StreamParser::anomaly_counts`].
    const ANOMALIES: &'static [&'static str];

    /// Whether `bytes`, the first bytes seen in `direction`, are this protocol.
    fn probe(direction: Direction, bytes: &[u8]) -> Probe;

    /// Parses the next in-order bytes of `direction` (packet time `ts`, in
    /// microseconds since the epoch); returns how many were consumed. What
    /// the bytes showed, and records that complete, are pushed to `out`.
    fn feed(
        &mut self,
        direction: Direction,
        ts: i64,
        input: &[u8],
        out: &mut OutputOf<Self>,
    ) -> usize;

    /// `len` bytes of `direction` were lost. Returns whether parsing goes on.
    fn gap(&mut self, direction: Direction, len: u64) -> bool;

    /// The connection ended (closed, timed out, or the capture ended): push
    /// what was learned and not yet reported.
    fn finish(&mut self, ts: i64, out: &mut OutputOf<Self>);

    /// The record of what is still open (an MQTT connection, a DICOM
    /// association), for an interim record; `None` when nothing is open.
    fn interim(&self) -> Option<Self::Record>;

    /// How often each anomaly of [`StreamParser::ANOMALIES`] occurred.
    fn anomaly_counts(&self) -> &[u64];

    /// How long (microseconds of packet time) the connection may stay
    /// silent before it is over, when the protocol says: an MQTT client
    /// that negotiated a keep-alive sends something within it, so one and a
    /// half times it without a packet means it is gone. `None` leaves the
    /// TCP default.
    fn idle_timeout(&self) -> Option<i64> {
        None
    }

    /// Protocol messages each end originated so far, indexed by the
    /// [`Direction::index`] they travelled in: PUBLISH packets a client
    /// sent, HL7 messages other than acknowledgments, DICOM requests. What
    /// short-window rates count.
    fn messages(&self) -> [u64; 2];
}

/// The largest buffer [`Pending`] keeps allocated for a direction with
/// nothing held, in bytes; a larger one is freed once emptied.
pub const PENDING_KEPT_CAPACITY: usize = 4 * 1024;

/// The caller's half of the feed contract for one connection: holds the bytes
/// a parser left unconsumed in each direction and presents them again with
/// the next bytes. In the common case (nothing pending) the parser reads the
/// packet's bytes in place, without a copy.
#[derive(Debug, Default)]
pub struct Pending {
    /// Unconsumed bytes, to server then to client ([`Direction::pick`]).
    held: [Vec<u8>; 2],
}

/// Why a connection's parser was given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stalled {
    /// The parser left more than its `MAX_PENDING` bytes unconsumed.
    TooMuchPending,
}

impl Pending {
    /// Feeds `bytes`, the next in-order bytes of `direction`, to `parser`
    /// after whatever it left unconsumed before.
    pub fn feed<P: StreamParser>(
        &mut self,
        parser: &mut P,
        direction: Direction,
        ts: i64,
        bytes: &[u8],
        out: &mut OutputOf<P>,
    ) -> Result<(), Stalled> {
        let held = direction.pick_mut(&mut self.held);
        let rest = if held.is_empty() {
            let consumed = parser.feed(direction, ts, bytes, out);
            bytes.get(consumed..).unwrap_or_default()
        } else {
            held.extend_from_slice(bytes);
            let consumed = parser.feed(direction, ts, held, out).min(held.len());
            held.drain(..consumed);
            &[]
        };
        held.extend_from_slice(rest);
        if held.len() > P::MAX_PENDING {
            *held = Vec::new();
            return Err(Stalled::TooMuchPending);
        }
        // A connection that once held a large message keeps no memory for
        // it while it idles for days.
        if held.is_empty() && held.capacity() > PENDING_KEPT_CAPACITY {
            *held = Vec::new();
        }
        Ok(())
    }

    /// Drops what is held for `direction` (after a gap).
    pub fn clear(&mut self, direction: Direction) {
        direction.pick_mut(&mut self.held).clear();
    }

    /// Bytes allocated for what is held, in both directions: what a memory
    /// budget charges.
    pub fn capacity(&self) -> usize {
        self.held.iter().map(Vec::capacity).sum()
    }

    /// Bytes held in both directions.
    pub fn len(&self) -> usize {
        self.held.iter().map(Vec::len).sum()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Feeds a whole conversation, segment by segment, as the worker would; for
/// tests, fuzz targets and benches. Stops at the first stall. Returns the
/// records.
pub fn feed_all<P: StreamParser>(segments: &[(Direction, &[u8])]) -> Vec<P::Record> {
    observe_all::<P>(segments).records
}

/// As [`feed_all`], with the observations too. Segment `i` is fed at packet
/// time `i`; the end comes at packet time `segments.len()`. Each
/// observation is returned with the packet time it was made at.
pub fn observe_all<P: StreamParser>(
    segments: &[(Direction, &[u8])],
) -> Output<P::Record, (i64, P::Observation)> {
    let mut parser = P::default();
    let mut pending = Pending::default();
    let mut out = OutputOf::<P>::default();
    let mut timed = Output::default();
    let take = |ts: i64, out: &mut OutputOf<P>, timed: &mut Output<_, _>| {
        timed
            .observations
            .extend(out.observations.drain(..).map(|o| (ts, o)));
        timed.records.append(&mut out.records);
    };
    for (ts, (direction, bytes)) in (0i64..).zip(segments) {
        let fed = pending.feed(&mut parser, *direction, ts, bytes, &mut out);
        take(ts, &mut out, &mut timed);
        if fed.is_err() {
            break;
        }
    }
    let end = segments.len() as i64;
    parser.finish(end, &mut out);
    take(end, &mut out, &mut timed);
    timed
}
