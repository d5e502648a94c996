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
//! - **Output**: records that describe the conversation (one per DICOM
//!   association, HL7 message, MQTT connection) and the identity facts they
//!   carry. Patient data and credentials never enter a record: the parsers
//!   copy only the fields they name, never whole segments or payloads.
//! - Parsers never panic on any input; malformed input is a counted anomaly.

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
