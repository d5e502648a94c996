//! MQTT 3.1 ("MQIsdp", level 3), 3.1.1 ("MQTT", level 4) and 5.0 ("MQTT",
//! level 5) control packets, parsed from the in-order bytes of one TCP
//! connection into one [`Connection`] record.
//!
//! **Framing.** Every packet starts with a fixed header: the type and flags
//! byte and the Remaining Length, a Variable Byte Integer of one to four
//! bytes ([`wire::fixed_header`]). A fifth continuation byte cannot be framed
//! past, so it stops the direction. Any other fault inside a packet is
//! counted and the packet skipped by its length: the framing survives it.
//!
//! **Memory.** A packet other than PUBLISH is parsed once all of it is
//! there, so it must fit in [`MAX_PACKET_LEN`]; a longer one is counted
//! (`oversized_packet`). A long CONNECT, SUBSCRIBE or UNSUBSCRIBE is read as
//! it streams by: the fields medtap keeps are copied, cut to
//! their limits, the rest (passwords, will payloads, properties) skipped by
//! length, so a 9 KiB password hides no client id and padding hides no `#`.
//! Any other long packet is skipped by length. A PUBLISH is parsed as soon
//! as its fixed header, topic, packet identifier and property length are
//! there, and its payload is then consumed by a skip counter without being
//! held: a 100 MB PUBLISH costs what a 10-byte one does. The caller never
//! holds more than [`MqttParser::MAX_PENDING`] bytes.
//!
//! **Version.** The CONNECT's protocol level decides whether MQTT 5
//! properties follow the variable headers. A connection picked up without
//! its CONNECT is parsed as 3.1.1 until a packet only MQTT 5 could send (a
//! CONNACK or acknowledgement with properties, a DISCONNECT with a reason,
//! an AUTH) shows it is 5.0.
//!
//! **Secrets and payloads.** Passwords, will payloads, PUBLISH payloads,
//! authentication data and user property values are never copied; every
//! string that is copied is bounded ([`MAX_STRING_LEN`], [`MAX_TOPIC_LEN`]),
//! decoded lossily and stripped of control characters.
//!
//! **Output.** Observations ([`MqttObservation`]) at the packet that shows
//! them: the CONNECT and CONNACK, each new topic, filter, AUTH and the
//! DISCONNECT, once per connection. One record per connection, pushed by
//! `finish` (the connection ended) if any MQTT packet was seen, and on
//! request an interim record of a connection still open.

mod condense;
mod observation;
mod record;
pub mod wire;

#[cfg(test)]
mod tests;

pub use condense::MAX_CONDENSED_LEN;
pub use observation::MqttObservation;
pub use record::{
    AuthExchange, Connack, ConnackProperties, ConnectProperties, Connection, Disconnect,
    PacketCounts, Subscription, TopicStats, Unsubscription, Will,
};

use crate::proto::{Direction, OutputOf, Probe, StreamParser};
use condense::{Condensed, Condenser};
use record::direction_name;
use wire::{Header, Malformed, Reader, Value, prop};

/// The longest packet other than PUBLISH that is parsed, in bytes including
/// the fixed header. Longer ones are counted as `oversized_packet` and
/// skipped by length. Also the most bytes left pending for the caller.
pub const MAX_PACKET_LEN: usize = 8 * 1024;

/// The longest topic name or topic filter kept, in bytes; longer ones are
/// cut to this length and counted as `oversized_topic`.
pub const MAX_TOPIC_LEN: usize = 512;

/// The longest other string kept (client identifier, user name, will topic,
/// protocol name, authentication method), in bytes; longer ones are cut to
/// this length and counted as `oversized_string`.
pub const MAX_STRING_LEN: usize = 256;

/// Distinct (direction, topic) pairs kept in `publish_topics` per
/// connection; PUBLISHes to further topics are counted as `too_many_topics`.
pub const MAX_TOPICS: usize = 64;

/// Topic filters kept in `subscriptions` and in `unsubscriptions`, each, per
/// connection; further ones are counted as `too_many_filters`.
pub const MAX_FILTERS: usize = 64;

/// SUBSCRIBE / UNSUBSCRIBE packets awaiting their acknowledgement that are
/// remembered, to pair the acknowledgement's codes with the filters.
pub const MAX_INFLIGHT: usize = 16;

/// MQTT 5 AUTH packets kept in `auth`; further ones are counted as
/// `too_many_auth_exchanges`.
pub const MAX_AUTH_EXCHANGES: usize = 8;

/// Idle timeout, in seconds, of a connection whose client turned the
/// keep-alive off (Keep Alive 0): it owes no packet, so it is kept as long
/// as an interface connection. With a keep-alive, the connection is over
/// after one and a half keep-alives without a packet (3.1.1 §3.1.2.10).
pub const NO_KEEP_ALIVE_IDLE_TIMEOUT_SECS: i64 = 3600;

anomalies! {
    /// The protocol anomalies counted, named as in [`MqttParser::ANOMALIES`].
    #[repr(usize)]
    pub enum Anomaly {
        /// A Remaining Length with a fifth continuation byte; the direction is
        /// no longer parsed.
        MalformedRemainingLength = "malformed_remaining_length",
        /// Packet type 0, or 15 (AUTH) before MQTT 5.
        UnassignedMsgType = "unassigned_msg_type",
        /// Fixed-header flags other than the type requires.
        InvalidFixedHeaderFlags = "invalid_fixed_header_flags",
        /// QoS 3 in a PUBLISH, a will, or a subscription.
        InvalidQosLevel = "invalid_qos_level",
        /// A field runs past its packet, or holds a forbidden value.
        MalformedPdu = "malformed_pdu",
        /// MQTT 5 properties that do not parse (a length past the packet, an
        /// unknown identifier).
        MalformedProperties = "malformed_properties",
        /// A packet other than PUBLISH longer than [`MAX_PACKET_LEN`].
        OversizedPacket = "oversized_packet",
        /// A topic name or filter longer than [`MAX_TOPIC_LEN`].
        OversizedTopic = "oversized_topic",
        /// A kept string longer than [`MAX_STRING_LEN`].
        OversizedString = "oversized_string",
        /// More than [`MAX_TOPICS`] distinct publish topics.
        TooManyTopics = "too_many_topics",
        /// More than [`MAX_FILTERS`] subscribe or unsubscribe filters.
        TooManyFilters = "too_many_filters",
        /// More than [`MAX_AUTH_EXCHANGES`] AUTH packets.
        TooManyAuthExchanges = "too_many_auth_exchanges",
        /// The connection's first packet is not a CONNECT (picked up midstream,
        /// or a client that never connected).
        MissingConnect = "missing_connect",
        /// A client packet after its CONNECT but before a CONNACK accepted it,
        /// or after one refused it.
        UnintroducedMessage = "unintroduced_message",
        /// A second CONNECT on the connection.
        DuplicateConnect = "duplicate_connect",
        /// A packet type the other side sends (a CONNACK from the client …).
        WrongDirection = "wrong_direction",
        /// CONNECT flags: the reserved bit, will QoS or retain without a will,
        /// or a password without a user name before MQTT 5.
        InvalidConnectFlags = "invalid_connect_flags",
        /// A CONNECT protocol name and level other than "MQIsdp" 3, "MQTT" 4
        /// or "MQTT" 5.
        UnknownProtocol = "unknown_protocol",
        /// Bytes were lost outside a skipped payload; the direction is no
        /// longer parsed.
        Gap = "gap",
        /// The connection ended inside a packet.
        TruncatedPacket = "truncated_packet",
    }
}

/// Per-direction framing state.
#[derive(Debug, Default, Clone, Copy)]
struct DirState {
    /// Bytes of the current packet still to be consumed unread.
    skip: u64,
    /// The direction can no longer be framed (bad length, gap).
    dead: bool,
    /// The last feed ended inside a packet (bytes left to the caller).
    partial: bool,
}

/// Publish traffic on one topic, keyed by the raw topic bytes so that a
/// repeat PUBLISH costs no allocation.
#[derive(Debug, Clone)]
struct TopicState {
    direction: Direction,
    raw: Vec<u8>,
    count: u64,
    qos_mask: u8,
    retain: bool,
    payload_bytes: u64,
}

/// A SUBSCRIBE or UNSUBSCRIBE awaiting its acknowledgement: its packet
/// identifier and the filters it added to the record.
#[derive(Debug, Clone, Copy)]
struct Inflight {
    packet_id: u16,
    start: usize,
    len: usize,
}

/// The MQTT stream parser for one TCP connection; see the module docs.
#[derive(Debug, Default)]
pub struct MqttParser {
    record: Connection,
    topics: Vec<TopicState>,
    inflight_sub: Vec<Inflight>,
    inflight_unsub: Vec<Inflight>,
    /// The protocol level governing parsing: 3, 4 or 5 (0 until known).
    level: u8,
    connect_seen: bool,
    /// A CONNACK accepted the connection.
    accepted: bool,
    /// A CONNACK was seen (accepting or not).
    connack_seen: bool,
    any_packet: bool,
    /// Client packets sent after the CONNECT before any CONNACK.
    early: u64,
    dirs: [DirState; 2],
    counts: [[u64; 16]; 2],
    anomalies: [u64; 20],
    finished: bool,
    /// Observations made since the last feed returned.
    observed: Vec<MqttObservation>,
    /// A long CONNECT, SUBSCRIBE or UNSUBSCRIBE being read, per direction.
    long: [Option<Box<Condenser>>; 2],
}

/// Bytes as display text: cut to `max` bytes, decoded lossily, trimmed,
/// control characters replaced with U+FFFD: the kit's sanitiser
/// (`proto::text`) with MQTT's rules.
pub fn text(bytes: &[u8], max: usize) -> String {
    crate::proto::text::text(bytes, max, &crate::proto::text::Rules::MQTT).into_owned()
}

/// The Remaining Length bytes of the CONNECT probe's shortest plausible
/// packet: protocol name (2 + 4), level, flags, keep alive, client id length.
const MIN_CONNECT_REMAINING: u32 = 12;

impl MqttParser {
    fn count(&mut self, anomaly: Anomaly) {
        if let Some(n) = self.anomalies.get_mut(anomaly as usize) {
            *n = n.saturating_add(1);
        }
    }

    fn v5(&self) -> bool {
        self.level == 5
    }

    /// A string kept in the record, bounded by [`MAX_STRING_LEN`].
    fn string(&mut self, bytes: &[u8]) -> String {
        if bytes.len() > MAX_STRING_LEN {
            self.count(Anomaly::OversizedString);
        }
        text(bytes, MAX_STRING_LEN)
    }

    /// A topic name or filter kept in the record, bounded by [`MAX_TOPIC_LEN`].
    fn topic(&mut self, bytes: &[u8]) -> String {
        if bytes.len() > MAX_TOPIC_LEN {
            self.count(Anomaly::OversizedTopic);
        }
        text(bytes, MAX_TOPIC_LEN)
    }

    /// Parses one direction's bytes; see [`StreamParser::feed`].
    fn feed_direction(&mut self, direction: Direction, input: &[u8]) -> usize {
        let d = direction.index();
        let mut pos = 0usize;
        loop {
            let Some(st) = self.dirs.get_mut(d) else {
                return input.len();
            };
            st.partial = false;
            if st.dead {
                return input.len();
            }
            let rest = input.get(pos..).unwrap_or_default();
            if let Some(condenser) = self.long.get_mut(d).and_then(Option::as_mut) {
                match condenser.feed(rest) {
                    Condensed::More(n) => return pos + n,
                    Condensed::Done {
                        consumed,
                        header,
                        body,
                        extra_filters,
                    } => {
                        pos += consumed;
                        if let Some(slot) = self.long.get_mut(d) {
                            *slot = None;
                        }
                        self.packet(direction, header, &body);
                        for _ in 0..extra_filters {
                            self.count(Anomaly::TooManyFilters);
                        }
                        continue;
                    }
                }
            }
            if st.skip > 0 {
                let n = usize::try_from(st.skip)
                    .unwrap_or(usize::MAX)
                    .min(rest.len());
                st.skip -= n as u64;
                pos += n;
                if st.skip > 0 {
                    return pos;
                }
                continue;
            }
            if rest.is_empty() {
                return pos;
            }
            let header = match wire::fixed_header(rest) {
                Header::Complete(h) => h,
                Header::Incomplete => {
                    st.partial = true;
                    return pos;
                }
                Header::BadLength => {
                    st.dead = true;
                    self.count(Anomaly::MalformedRemainingLength);
                    return input.len();
                }
            };
            let total = header.header_len as u64 + u64::from(header.remaining);
            let step = if header.packet_type == wire::PUBLISH {
                self.publish_step(direction, header, rest)
            } else if total > MAX_PACKET_LEN as u64 {
                self.count(Anomaly::OversizedPacket);
                if matches!(
                    header.packet_type,
                    wire::CONNECT | wire::SUBSCRIBE | wire::UNSUBSCRIBE
                ) {
                    Step::Condense
                } else {
                    self.packet_seen(direction, header.packet_type);
                    Step::Skip
                }
            } else {
                match rest.get(header.header_len..total as usize) {
                    Some(body) => {
                        self.packet(direction, header, body);
                        Step::Done
                    }
                    None => Step::NeedMore,
                }
            };
            let Some(st) = self.dirs.get_mut(d) else {
                return input.len();
            };
            match step {
                Step::NeedMore => {
                    st.partial = true;
                    return pos;
                }
                Step::Done => pos += total as usize,
                Step::Skip => {
                    pos += header.header_len;
                    st.skip = u64::from(header.remaining);
                }
                Step::Condense => {
                    pos += header.header_len;
                    let condenser = Condenser::new(header, self.v5());
                    if let Some(slot) = self.long.get_mut(d) {
                        *slot = Some(Box::new(condenser));
                    }
                }
            }
        }
    }

    /// Counts a packet of `packet_type` and applies the checks every packet
    /// gets: connection state, and for those without a CONNECT yet, the
    /// missing-connect anomaly.
    fn packet_seen(&mut self, direction: Direction, packet_type: u8) {
        if let Some(n) = self
            .counts
            .get_mut(direction.index())
            .and_then(|c| c.get_mut(usize::from(packet_type)))
        {
            *n = n.saturating_add(1);
        }
        let first = !self.any_packet;
        self.any_packet = true;
        if packet_type == wire::CONNECT {
            return;
        }
        if first {
            self.count(Anomaly::MissingConnect);
            self.observed.push(MqttObservation::Midstream);
        }
        if self.connect_seen
            && direction == Direction::ToServer
            && !self.accepted
            && !matches!(packet_type, wire::AUTH | wire::DISCONNECT)
        {
            if self.connack_seen {
                // After a refusal.
                self.count(Anomaly::UnintroducedMessage);
            } else {
                // Clients may send before the CONNACK (3.1.1 §3.1.4); these
                // count only if no CONNACK ever accepts the connection.
                self.early = self.early.saturating_add(1);
            }
        }
    }

    /// Decides what to do with a PUBLISH whose first bytes are `rest`.
    fn publish_step(&mut self, direction: Direction, h: wire::FixedHeader, rest: &[u8]) -> Step {
        let body_len = h.remaining as usize;
        let avail = rest.get(h.header_len..).unwrap_or_default();
        let avail = avail.get(..body_len).unwrap_or(avail);
        // The topic length first.
        if body_len >= 2 && avail.len() < 2 {
            return Step::NeedMore;
        }
        let qos = (h.flags >> 1) & 0b11;
        let topic_len = match avail {
            [a, b, ..] => usize::from(u16::from_be_bytes([*a, *b])),
            _ => 0,
        };
        let id_len = if qos > 0 { 2 } else { 0 };
        let need = if topic_len > MAX_TOPIC_LEN {
            2 + MAX_TOPIC_LEN
        } else {
            2 + topic_len + id_len + if self.v5() { wire::MAX_VARINT_LEN } else { 0 }
        }
        .min(body_len);
        let Some(head) = avail.get(..need) else {
            return Step::NeedMore;
        };
        self.packet_seen(direction, wire::PUBLISH);
        self.publish(direction, h, head, topic_len);
        Step::Skip
    }

    /// Parses a PUBLISH's variable header from `head` (its first bytes, up
    /// to the property length); the payload is skipped by the caller.
    fn publish(
        &mut self,
        direction: Direction,
        h: wire::FixedHeader,
        head: &[u8],
        topic_len: usize,
    ) {
        let dup = h.flags & 0b1000 != 0;
        let qos = (h.flags >> 1) & 0b11;
        let retain = h.flags & 1 != 0;
        if qos == 3 {
            self.count(Anomaly::InvalidQosLevel);
            return;
        }
        if dup && qos == 0 {
            self.count(Anomaly::InvalidFixedHeaderFlags);
        }
        let body_len = u64::from(h.remaining);
        let id_len: u64 = if qos > 0 { 2 } else { 0 };
        let mut r = Reader::new(head);
        let payload_bytes = if topic_len > MAX_TOPIC_LEN {
            // Only the topic's first bytes were waited for: the payload size
            // counts everything after the topic and packet identifier.
            if body_len < 2 + topic_len as u64 + id_len {
                self.count(Anomaly::MalformedPdu);
                return;
            }
            body_len - 2 - topic_len as u64 - id_len
        } else {
            let parsed = (|| -> Result<u64, Malformed> {
                r.prefixed("topic name")?;
                if qos > 0 {
                    r.u16("packet identifier")?;
                }
                let mut used = 2 + topic_len as u64 + id_len;
                if self.v5() {
                    let before = r.left();
                    let n = r
                        .varint("property length")
                        .map_err(|e| Malformed::Properties(e.what()))?;
                    used += (before - r.left()) as u64 + u64::from(n);
                }
                body_len
                    .checked_sub(used)
                    .ok_or(Malformed::Properties("property length exceeds packet"))
            })();
            match parsed {
                Ok(n) => n,
                Err(Malformed::Properties(_)) => {
                    self.count(Anomaly::MalformedProperties);
                    return;
                }
                Err(_) => {
                    self.count(Anomaly::MalformedPdu);
                    return;
                }
            }
        };
        let raw = head.get(2..).unwrap_or_default();
        let raw = raw.get(..topic_len.min(MAX_TOPIC_LEN)).unwrap_or(raw);
        if topic_len > MAX_TOPIC_LEN {
            self.count(Anomaly::OversizedTopic);
        }
        let qos_bit = 1u8 << qos;
        if let Some(t) = self
            .topics
            .iter_mut()
            .find(|t| t.direction == direction && t.raw == raw)
        {
            t.count = t.count.saturating_add(1);
            t.qos_mask |= qos_bit;
            t.retain |= retain;
            t.payload_bytes = t.payload_bytes.saturating_add(payload_bytes);
        } else if self.topics.len() < MAX_TOPICS {
            self.topics.push(TopicState {
                direction,
                raw: raw.to_vec(),
                count: 1,
                qos_mask: qos_bit,
                retain,
                payload_bytes,
            });
            self.observed.push(MqttObservation::Publish {
                direction,
                topic: text(raw, MAX_TOPIC_LEN),
            });
        } else {
            self.count(Anomaly::TooManyTopics);
        }
    }

    /// Handles one whole packet other than PUBLISH; `body` is its variable
    /// header and payload.
    fn packet(&mut self, direction: Direction, h: wire::FixedHeader, body: &[u8]) {
        let t = h.packet_type;
        self.packet_seen(direction, t);
        if t == 0 || (t == wire::AUTH && self.connect_seen && !self.v5()) {
            self.count(Anomaly::UnassignedMsgType);
            return;
        }
        if wire::required_flags(t).is_some_and(|f| f != h.flags) {
            self.count(Anomaly::InvalidFixedHeaderFlags);
        }
        let from_client = direction == Direction::ToServer;
        let wrong_direction = match t {
            wire::CONNECT | wire::SUBSCRIBE | wire::UNSUBSCRIBE | wire::PINGREQ => !from_client,
            wire::CONNACK | wire::SUBACK | wire::UNSUBACK | wire::PINGRESP => from_client,
            wire::DISCONNECT => !from_client && self.connect_seen && !self.v5(),
            _ => false,
        };
        if wrong_direction {
            self.count(Anomaly::WrongDirection);
            return;
        }
        if !self.connect_seen && self.level != 5 && self.implies_v5(t, body.len()) {
            self.level = 5;
        }
        let first_connect = t == wire::CONNECT && !self.connect_seen;
        let first_connack = t == wire::CONNACK && !self.connack_seen;
        let result = match t {
            wire::CONNECT => self.connect(body),
            wire::CONNACK => self.connack(body),
            wire::SUBSCRIBE => self.subscribe(body),
            wire::SUBACK => self.suback(body),
            wire::UNSUBSCRIBE => self.unsubscribe(body),
            wire::UNSUBACK => self.unsuback(body),
            wire::DISCONNECT => self.disconnect(direction, body),
            wire::AUTH => self.auth(direction, body),
            wire::PUBACK | wire::PUBREC | wire::PUBREL | wire::PUBCOMP => {
                Reader::new(body).u16("packet identifier").map(|_| ())
            }
            _ => Ok(()),
        };
        match result {
            Ok(()) => {}
            Err(Malformed::Properties(_)) => self.count(Anomaly::MalformedProperties),
            Err(_) => self.count(Anomaly::MalformedPdu),
        }
        // What a CONNECT or CONNACK gave, even cut short by a fault.
        if first_connect && self.record.protocol_version.is_some() {
            self.observed.push(MqttObservation::Connect {
                client_id: self.record.client_id.clone(),
                username: self.record.username.clone(),
                protocol_version: self.record.protocol_version.unwrap_or_default(),
            });
        }
        if first_connack && let Some(connack) = &self.record.connack {
            let sent_none = self.record.client_id.as_deref().is_none_or(str::is_empty);
            self.observed.push(MqttObservation::Connack {
                code: connack.code,
                name: connack.name,
                accepted: self.accepted,
                assigned_client_id: self.record.assigned_client_id.clone().filter(|_| sent_none),
                username_present: self.record.username.is_some(),
            });
        }
    }

    /// Whether a packet of type `t` with a body of `len` bytes can only be
    /// MQTT 5 (used while no CONNECT has set the level).
    fn implies_v5(&self, t: u8, len: usize) -> bool {
        match t {
            wire::CONNACK => len > 2,
            wire::PUBACK | wire::PUBREC | wire::PUBREL | wire::PUBCOMP => len > 2,
            wire::DISCONNECT => len > 0,
            wire::AUTH => true,
            _ => false,
        }
    }

    /// CONNECT (3.1.1 §3.1, 5.0 §3.1).
    fn connect(&mut self, body: &[u8]) -> Result<(), Malformed> {
        if self.connect_seen {
            self.count(Anomaly::DuplicateConnect);
            return Ok(());
        }
        self.connect_seen = true;
        let mut r = Reader::new(body);
        let name = r.prefixed("protocol name")?;
        let level = r.u8("protocol level")?;
        let known = matches!((name, level), (b"MQIsdp", 3) | (b"MQTT", 4) | (b"MQTT", 5));
        if !known {
            self.count(Anomaly::UnknownProtocol);
        }
        self.record.protocol_name = Some(self.string(name));
        self.record.protocol_version = Some(level);
        self.level = if level == 5 { 5 } else { 4 };
        let flags = r.u8("connect flags")?;
        let will = flags & 0x04 != 0;
        let will_qos = (flags >> 3) & 0b11;
        let will_retain = flags & 0x20 != 0;
        let password = flags & 0x40 != 0;
        let username = flags & 0x80 != 0;
        if flags & 0x01 != 0
            || (!will && (will_qos != 0 || will_retain))
            || (password && !username && level < 5)
        {
            self.count(Anomaly::InvalidConnectFlags);
        }
        if will && will_qos == 3 {
            self.count(Anomaly::InvalidQosLevel);
        }
        self.record.clean_session = Some(flags & 0x02 != 0);
        self.record.password_present = Some(password);
        self.record.keep_alive = Some(r.u16("keep alive")?);
        if self.v5() {
            let mut p = ConnectProperties::default();
            for item in r.properties()? {
                match item? {
                    (prop::SESSION_EXPIRY_INTERVAL, Value::U32(v)) => {
                        p.session_expiry_interval = Some(v)
                    }
                    (prop::RECEIVE_MAXIMUM, Value::U16(v)) => p.receive_maximum = Some(v),
                    (prop::MAXIMUM_PACKET_SIZE, Value::U32(v)) => p.maximum_packet_size = Some(v),
                    (prop::TOPIC_ALIAS_MAXIMUM, Value::U16(v)) => p.topic_alias_maximum = Some(v),
                    (prop::REQUEST_RESPONSE_INFORMATION, Value::Byte(v)) => {
                        p.request_response_information = Some(v)
                    }
                    (prop::REQUEST_PROBLEM_INFORMATION, Value::Byte(v)) => {
                        p.request_problem_information = Some(v)
                    }
                    (prop::AUTHENTICATION_METHOD, Value::Str(s)) => {
                        p.authentication_method = Some(self.string(s))
                    }
                    (prop::USER_PROPERTY, _) => {
                        p.user_properties = p.user_properties.saturating_add(1)
                    }
                    _ => {}
                }
            }
            self.record.connect_properties = Some(p);
        }
        let client_id = r.prefixed("client identifier")?;
        self.record.client_id = Some(self.string(client_id));
        if will {
            if self.v5() {
                // Will properties: parsed for their length only.
                for item in r.properties()? {
                    item?;
                }
            }
            let topic = r.prefixed("will topic")?;
            let topic = self.string(topic);
            self.record.will = Some(Will {
                topic,
                qos: will_qos,
                retain: will_retain,
            });
            // Will payload: skipped, never kept.
            r.prefixed("will payload")?;
        }
        if username {
            let user = r.prefixed("user name")?;
            self.record.username = Some(self.string(user));
        }
        if password {
            // Password: skipped, never kept.
            r.prefixed("password")?;
        }
        Ok(())
    }

    /// CONNACK (3.1.1 §3.2, 5.0 §3.2).
    fn connack(&mut self, body: &[u8]) -> Result<(), Malformed> {
        let mut r = Reader::new(body);
        let ack_flags = r.u8("connect acknowledge flags")?;
        let code = r.u8("connect return code")?;
        let (name, refused) = if self.v5() {
            (wire::reason_name(wire::CONNACK, code), code >= 0x80)
        } else {
            (wire::connack_v3_name(code), code != 0)
        };
        let first = !self.connack_seen;
        self.connack_seen = true;
        if refused {
            self.record.auth_failures = self.record.auth_failures.saturating_add(1);
        } else {
            self.accepted = true;
        }
        if !first {
            return Ok(());
        }
        let mut connack = Connack {
            session_present: ack_flags & 1 != 0,
            code,
            name,
            properties: None,
        };
        let mut result = Ok(());
        if self.v5() && !r.is_empty() {
            let mut p = ConnackProperties::default();
            result = (|| -> Result<(), Malformed> {
                for item in r.properties()? {
                    match item? {
                        (prop::SESSION_EXPIRY_INTERVAL, Value::U32(v)) => {
                            p.session_expiry_interval = Some(v)
                        }
                        (prop::RECEIVE_MAXIMUM, Value::U16(v)) => p.receive_maximum = Some(v),
                        (prop::MAXIMUM_QOS, Value::Byte(v)) => p.maximum_qos = Some(v),
                        (prop::RETAIN_AVAILABLE, Value::Byte(v)) => p.retain_available = Some(v),
                        (prop::MAXIMUM_PACKET_SIZE, Value::U32(v)) => {
                            p.maximum_packet_size = Some(v)
                        }
                        (prop::TOPIC_ALIAS_MAXIMUM, Value::U16(v)) => {
                            p.topic_alias_maximum = Some(v)
                        }
                        (prop::SERVER_KEEP_ALIVE, Value::U16(v)) => p.server_keep_alive = Some(v),
                        (prop::ASSIGNED_CLIENT_IDENTIFIER, Value::Str(s)) => {
                            if s.len() > MAX_STRING_LEN {
                                self.count(Anomaly::OversizedString);
                            }
                            self.record.assigned_client_id = Some(text(s, MAX_STRING_LEN));
                        }
                        (prop::AUTHENTICATION_METHOD, Value::Str(s)) => {
                            if s.len() > MAX_STRING_LEN {
                                self.count(Anomaly::OversizedString);
                            }
                            p.authentication_method = Some(text(s, MAX_STRING_LEN));
                        }
                        (prop::USER_PROPERTY, _) => {
                            p.user_properties = p.user_properties.saturating_add(1)
                        }
                        _ => {}
                    }
                }
                Ok(())
            })();
            connack.properties = Some(p);
        }
        self.record.connack = Some(connack);
        result
    }

    /// A reader past the packet identifier and, in MQTT 5, the properties
    /// (checked, not kept) that open SUBSCRIBE, SUBACK and UNSUBSCRIBE.
    fn after_packet_id<'b>(&self, body: &'b [u8]) -> Result<(Reader<'b>, u16), Malformed> {
        let mut r = Reader::new(body);
        let packet_id = r.u16("packet identifier")?;
        if self.v5() {
            for item in r.properties()? {
                item?;
            }
        }
        Ok((r, packet_id))
    }

    /// SUBSCRIBE (3.1.1 §3.8, 5.0 §3.8).
    fn subscribe(&mut self, body: &[u8]) -> Result<(), Malformed> {
        let (mut r, packet_id) = self.after_packet_id(body)?;
        let start = self.record.subscriptions.len();
        let mut result = Ok(());
        while !r.is_empty() {
            let filter = match r.prefixed("topic filter") {
                Ok(f) => f,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            };
            let options = match r.u8("subscription options") {
                Ok(o) => o,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            };
            let qos = options & 0b11;
            if qos == 3 {
                self.count(Anomaly::InvalidQosLevel);
            }
            let reserved = if self.v5() { 0xc0 } else { 0xfc };
            if options & reserved != 0 {
                result = Err(Malformed::Invalid("subscription options"));
            }
            if self.record.subscriptions.len() >= MAX_FILTERS {
                self.count(Anomaly::TooManyFilters);
                continue;
            }
            let filter = self.topic(filter);
            if !self.record.subscriptions.iter().any(|s| s.filter == filter) {
                self.observed.push(MqttObservation::Subscribe {
                    filter: filter.clone(),
                    qos,
                });
            }
            let v5 = self.v5();
            self.record.subscriptions.push(Subscription {
                filter,
                qos,
                no_local: v5.then_some(options & 0x04 != 0),
                retain_as_published: v5.then_some(options & 0x08 != 0),
                retain_handling: v5.then_some((options >> 4) & 0b11),
                granted_code: None,
                granted: None,
            });
        }
        remember(
            &mut self.inflight_sub,
            Inflight {
                packet_id,
                start,
                len: self.record.subscriptions.len() - start,
            },
        );
        result
    }

    /// SUBACK (3.1.1 §3.9, 5.0 §3.9).
    fn suback(&mut self, body: &[u8]) -> Result<(), Malformed> {
        let (mut r, packet_id) = self.after_packet_id(body)?;
        let Some(i) = self
            .inflight_sub
            .iter()
            .position(|f| f.packet_id == packet_id)
        else {
            return Ok(());
        };
        let f = self.inflight_sub.remove(i);
        let v5 = self.v5();
        let subs = self
            .record
            .subscriptions
            .get_mut(f.start..f.start + f.len)
            .unwrap_or_default();
        for (sub, &code) in subs.iter_mut().zip(r.take(r.left(), "return codes")?) {
            sub.granted_code = Some(code);
            sub.granted = Some(if v5 {
                wire::reason_name(wire::SUBACK, code)
            } else {
                wire::suback_v3_name(code)
            });
        }
        Ok(())
    }

    /// UNSUBSCRIBE (3.1.1 §3.10, 5.0 §3.10).
    fn unsubscribe(&mut self, body: &[u8]) -> Result<(), Malformed> {
        let (mut r, packet_id) = self.after_packet_id(body)?;
        let start = self.record.unsubscriptions.len();
        let mut result = Ok(());
        while !r.is_empty() {
            let filter = match r.prefixed("topic filter") {
                Ok(f) => f,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            };
            if self.record.unsubscriptions.len() >= MAX_FILTERS {
                self.count(Anomaly::TooManyFilters);
                continue;
            }
            let filter = self.topic(filter);
            if !self
                .record
                .unsubscriptions
                .iter()
                .any(|u| u.filter == filter)
            {
                self.observed.push(MqttObservation::Unsubscribe {
                    filter: filter.clone(),
                });
            }
            self.record.unsubscriptions.push(Unsubscription {
                filter,
                reason_code: None,
                reason: None,
            });
        }
        remember(
            &mut self.inflight_unsub,
            Inflight {
                packet_id,
                start,
                len: self.record.unsubscriptions.len() - start,
            },
        );
        result
    }

    /// UNSUBACK (3.1.1 §3.11, 5.0 §3.11): reason codes in MQTT 5 only.
    fn unsuback(&mut self, body: &[u8]) -> Result<(), Malformed> {
        let mut r = Reader::new(body);
        let packet_id = r.u16("packet identifier")?;
        let Some(i) = self
            .inflight_unsub
            .iter()
            .position(|f| f.packet_id == packet_id)
        else {
            return Ok(());
        };
        let f = self.inflight_unsub.remove(i);
        if !self.v5() {
            return Ok(());
        }
        for item in r.properties()? {
            item?;
        }
        let unsubs = self
            .record
            .unsubscriptions
            .get_mut(f.start..f.start + f.len)
            .unwrap_or_default();
        for (u, &code) in unsubs.iter_mut().zip(r.take(r.left(), "reason codes")?) {
            u.reason_code = Some(code);
            u.reason = Some(wire::reason_name(wire::UNSUBACK, code));
        }
        Ok(())
    }

    /// DISCONNECT (3.1.1 §3.14, 5.0 §3.14).
    fn disconnect(&mut self, direction: Direction, body: &[u8]) -> Result<(), Malformed> {
        let mut r = Reader::new(body);
        let code = if self.v5() {
            let code = if r.is_empty() {
                0
            } else {
                r.u8("reason code")?
            };
            if !r.is_empty() {
                for item in r.properties()? {
                    item?;
                }
            }
            Some(code)
        } else {
            None
        };
        if self.record.disconnect.is_none() {
            self.observed.push(MqttObservation::Disconnect {
                direction,
                reason_code: code,
            });
            self.record.disconnect = Some(Disconnect {
                direction: direction_name(direction),
                reason_code: code,
                reason: code.map(|c| wire::reason_name(wire::DISCONNECT, c)),
            });
        }
        Ok(())
    }

    /// AUTH (5.0 §3.15).
    fn auth(&mut self, direction: Direction, body: &[u8]) -> Result<(), Malformed> {
        let mut r = Reader::new(body);
        let code = if r.is_empty() {
            0
        } else {
            r.u8("reason code")?
        };
        let mut method = None;
        let mut result = Ok(());
        if !r.is_empty() {
            result = (|| -> Result<(), Malformed> {
                for item in r.properties()? {
                    if let (prop::AUTHENTICATION_METHOD, Value::Str(s)) = item? {
                        method = Some(s);
                    }
                }
                Ok(())
            })();
        }
        if self.record.auth.len() >= MAX_AUTH_EXCHANGES {
            self.count(Anomaly::TooManyAuthExchanges);
            return result;
        }
        let method = method.map(|m| self.string(m));
        self.observed.push(MqttObservation::Auth {
            direction,
            reason_code: code,
        });
        self.record.auth.push(AuthExchange {
            direction: direction_name(direction),
            reason_code: code,
            reason: wire::reason_name(wire::AUTH, code),
            method,
        });
        result
    }

    /// The record as it stands.
    fn build(&self) -> Connection {
        let mut rec = self.record.clone();
        for (d, map) in [
            (Direction::ToServer, &mut rec.packets.to_server),
            (Direction::ToClient, &mut rec.packets.to_client),
        ] {
            if let Some(counts) = self.counts.get(d.index()) {
                for (name, &n) in wire::PACKET_NAMES.iter().zip(counts) {
                    if n > 0 {
                        map.insert(name, n);
                    }
                }
            }
        }
        rec.publish_topics = self
            .topics
            .iter()
            .map(|t| TopicStats {
                topic: text(&t.raw, MAX_TOPIC_LEN),
                direction: direction_name(t.direction),
                count: t.count,
                qos: (0u8..3).filter(|q| t.qos_mask & (1 << *q) != 0).collect(),
                retain: t.retain,
                payload_bytes: t.payload_bytes,
            })
            .collect();
        for (a, &n) in Anomaly::ALL.iter().zip(&self.anomalies) {
            if n > 0 {
                rec.anomalies.insert(a.name(), n);
            }
        }
        rec
    }
}

/// Remembers an in-flight SUBSCRIBE or UNSUBSCRIBE, forgetting the oldest
/// beyond [`MAX_INFLIGHT`].
fn remember(list: &mut Vec<Inflight>, item: Inflight) {
    if list.len() >= MAX_INFLIGHT {
        list.remove(0);
    }
    list.push(item);
}

/// What the framing loop does after looking at a packet.
enum Step {
    /// Wait for more bytes.
    NeedMore,
    /// The whole packet was handled.
    Done,
    /// The header was handled; skip the body by length.
    Skip,
    /// The header was handled; read the long body's kept fields as it
    /// streams by.
    Condense,
}

impl StreamParser for MqttParser {
    type Record = Connection;
    type Observation = MqttObservation;
    const NAME: &'static str = "mqtt";
    const MAX_PENDING: usize = MAX_PACKET_LEN;
    const ANOMALIES: &'static [&'static str] = &Anomaly::NAMES;

    /// Matches a CONNECT from the client: byte 0x10, a valid Remaining
    /// Length, protocol name "MQTT" or "MQIsdp" and level 3, 4 or 5.
    fn probe(direction: Direction, bytes: &[u8]) -> Probe {
        if direction != Direction::ToServer {
            return Probe::NoMatch;
        }
        let Some(&first) = bytes.first() else {
            return Probe::NeedMore;
        };
        if first != 0x10 {
            return Probe::NoMatch;
        }
        let h = match wire::fixed_header(bytes) {
            Header::Complete(h) => h,
            Header::Incomplete => return Probe::NeedMore,
            Header::BadLength => return Probe::NoMatch,
        };
        if h.remaining < MIN_CONNECT_REMAINING {
            return Probe::NoMatch;
        }
        let body = bytes.get(h.header_len..).unwrap_or_default();
        // Compare what is there against the two possible name prefixes.
        const NAMES: [&[u8]; 2] = [b"\x00\x04MQTT", b"\x00\x06MQIsdp"];
        let mut need_more = false;
        for name in NAMES {
            let n = body.len().min(name.len());
            if body.get(..n) != name.get(..n) {
                continue;
            }
            match body.get(name.len()) {
                Some(&(3..=5)) => return Probe::Match,
                Some(_) => {}
                None => need_more = true,
            }
        }
        if need_more {
            Probe::NeedMore
        } else {
            Probe::NoMatch
        }
    }

    fn feed(
        &mut self,
        direction: Direction,
        _ts: i64,
        input: &[u8],
        out: &mut OutputOf<Self>,
    ) -> usize {
        if self.finished {
            return input.len();
        }
        let consumed = self.feed_direction(direction, input);
        out.observations.append(&mut self.observed);
        consumed
    }

    fn gap(&mut self, direction: Direction, len: u64) -> bool {
        let d = direction.index();
        let mut lost = false;
        // Bytes lost inside a long packet being read: its fields are lost.
        let condensing = self.long.get_mut(d).and_then(Option::take).is_some();
        if let Some(st) = self.dirs.get_mut(d).filter(|s| !s.dead) {
            if st.skip >= len && !st.partial && !condensing {
                // Lost inside a payload being skipped: nothing is missed.
                st.skip -= len;
            } else {
                st.dead = true;
                st.partial = false;
                lost = true;
            }
        }
        if lost {
            self.count(Anomaly::Gap);
        }
        self.dirs.iter().any(|s| !s.dead)
    }

    fn finish(&mut self, _ts: i64, out: &mut OutputOf<Self>) {
        if self.finished {
            return;
        }
        self.finished = true;
        for i in 0..self.dirs.len() {
            let truncated = self
                .dirs
                .get(i)
                .is_some_and(|s| !s.dead && (s.partial || s.skip > 0));
            let condensing = self.long.get(i).is_some_and(Option::is_some);
            if truncated || condensing {
                self.count(Anomaly::TruncatedPacket);
            }
        }
        if !self.accepted {
            let early = self.early;
            if let Some(n) = self
                .anomalies
                .get_mut(Anomaly::UnintroducedMessage as usize)
            {
                *n = n.saturating_add(early);
            }
        }
        out.observations.append(&mut self.observed);
        if self.any_packet && out.want_records {
            out.records.push(self.build());
        }
    }

    fn interim(&self) -> Option<Connection> {
        (self.any_packet && !self.finished).then(|| self.build())
    }

    fn anomaly_counts(&self) -> &[u64] {
        &self.anomalies
    }

    fn idle_timeout(&self) -> Option<i64> {
        // MQTT 5's Server Keep Alive replaces the client's (5.0 §3.2.2.3.14).
        let server = self
            .record
            .connack
            .as_ref()
            .and_then(|c| c.properties.as_ref())
            .and_then(|p| p.server_keep_alive);
        let keep_alive = server.or(self.record.keep_alive)?;
        Some(match keep_alive {
            // No keep-alive: the client may stay silent as long as it likes.
            0 => NO_KEEP_ALIVE_IDLE_TIMEOUT_SECS * 1_000_000,
            secs => i64::from(secs) * 1_500_000,
        })
    }

    /// PUBLISH packets the client sent: what it originates. A broker's
    /// deliveries relay other clients' messages and are not its own.
    fn messages(&self) -> [u64; 2] {
        let published = self
            .counts
            .first()
            .and_then(|c| c.get(usize::from(wire::PUBLISH)))
            .copied()
            .unwrap_or(0);
        [published, 0]
    }
}
