//! The NetBIOS name service (RFC 1002 §4.2, UDP 137): name queries,
//! registrations, refreshes and releases, and node status answers. Names on
//! the wire are first-level encoded (RFC 1001 §14.1): 16 bytes, each split
//! in two nibbles written as `'A' + nibble`, so a 32-byte label; the 16th
//! byte is the suffix naming the service (0x00 workstation, 0x20 file
//! server, 0x1D master browser, …).

use std::fmt;
use std::net::Ipv4Addr;

use super::wire::{read_name, sanitize};
use super::{Header, NameAnomaly, Section, note};
use crate::proto::reader::Reader;

/// Names read from one message (questions, records and the entries of a
/// node status answer together); the rest are not (`too_many_records`).
pub const MAX_NBNS_NAMES: usize = 64;

/// Addresses kept per NB record (a multihomed host or a group lists
/// several); the rest are dropped.
pub const MAX_NBNS_ADDRESSES: usize = 8;

/// NB: general name service resource record.
const RR_NB: u16 = 0x0020;
/// NBSTAT: node status resource record.
const RR_NBSTAT: u16 = 0x0021;

/// A decoded NetBIOS name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetbiosName {
    /// The name, at most 15 characters, padding trimmed.
    pub name: String,
    /// The 16th byte: what the name stands for (0x00 workstation, 0x20 file
    /// server, 0x1B/0x1D browsers, …).
    pub suffix: u8,
    /// The NetBIOS scope, dotted; empty when none (the usual case).
    pub scope: String,
}

impl fmt::Display for NetbiosName {
    /// `NAME<20>`, as Wireshark and nbtstat show it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}<{:02x}>", self.name, self.suffix)
    }
}

/// One name in an NBNS message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NbnsName {
    /// Where it came from: `None` for a question.
    pub section: Option<Section>,
    /// The name.
    pub name: NetbiosName,
    /// Question or record type: 0x20 NB, 0x21 NBSTAT.
    pub rtype: u16,
    /// Time to live of a record, seconds (0 for a question).
    pub ttl: u32,
    /// Whether it is a group name (NB flags G bit), when a record says.
    pub group: Option<bool>,
    /// Addresses of an NB record, at most [`MAX_NBNS_ADDRESSES`].
    pub addresses: Vec<Ipv4Addr>,
}

/// One name of a node status answer (NBSTAT): every name the answering
/// host holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeStatusName {
    /// The name (its scope is the record's).
    pub name: NetbiosName,
    /// Whether it is a group name.
    pub group: bool,
}

/// An NBNS message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NbnsMessage {
    /// The header (opcode 0 query, 5 registration, 6 release, 7 WACK, 8/9
    /// refresh).
    pub header: Header,
    /// Questions and records, at most [`MAX_NBNS_NAMES`].
    pub names: Vec<NbnsName>,
    /// The names listed by node status answers, at most
    /// [`MAX_NBNS_NAMES`].
    pub node_status: Vec<NodeStatusName>,
    /// What was malformed, each once.
    pub anomalies: Vec<NameAnomaly>,
}

/// Decodes a first-level encoded name: the dotted name read from the wire
/// is the 32-character encoded label, then the scope.
fn decode(dotted: &str) -> Option<NetbiosName> {
    let (label, scope) = dotted.split_once('.').unwrap_or((dotted, ""));
    let label = label.as_bytes();
    if label.len() != 32 {
        return None;
    }
    let mut raw = [0u8; 16];
    for (byte, pair) in raw.iter_mut().zip(label.chunks_exact(2)) {
        let nibble = |c: u8| (b'A'..=b'P').contains(&c).then(|| c - b'A');
        let &[hi, lo] = pair else {
            return None;
        };
        *byte = nibble(hi)? << 4 | nibble(lo)?;
    }
    let [name @ .., suffix] = raw;
    Some(NetbiosName {
        name: sanitize(&name, 15).into_owned(),
        suffix,
        scope: scope.to_string(),
    })
}

/// Parses an NBNS message from one UDP payload.
pub fn parse_nbns(payload: &[u8]) -> NbnsMessage {
    let mut msg = NbnsMessage::default();
    let mut r = Reader::new(payload);
    let Some(header) = Header::read(&mut r) else {
        msg.anomalies.push(NameAnomaly::Truncated);
        return msg;
    };
    msg.header = header;
    let sections = [
        (None, header.questions),
        (Some(Section::Answer), header.answers),
        (Some(Section::Authority), header.authorities),
        (Some(Section::Additional), header.additionals),
    ];
    let mut dotted = String::new();
    for (section, count) in sections {
        for _ in 0..count {
            if msg.names.len() >= MAX_NBNS_NAMES {
                note(&mut msg.anomalies, NameAnomaly::TooManyRecords);
                return msg;
            }
            if let Err(e) = read_name(payload, &mut r, &mut dotted) {
                note(&mut msg.anomalies, e.into());
                return msg;
            }
            let (Some(rtype), Some(_class)) = (r.u16_be(), r.u16_be()) else {
                note(&mut msg.anomalies, NameAnomaly::Truncated);
                return msg;
            };
            let mut entry = NbnsName {
                section,
                name: NetbiosName {
                    name: String::new(),
                    suffix: 0,
                    scope: String::new(),
                },
                rtype,
                ttl: 0,
                group: None,
                addresses: Vec::new(),
            };
            let mut rdata = None;
            if section.is_some() {
                let Some(ttl) = r.u32_be() else {
                    note(&mut msg.anomalies, NameAnomaly::Truncated);
                    return msg;
                };
                entry.ttl = ttl;
                let Some(data) = r.prefixed_u16_be() else {
                    note(&mut msg.anomalies, NameAnomaly::Truncated);
                    return msg;
                };
                rdata = Some(data);
            }
            match decode(&dotted) {
                Some(name) => entry.name = name,
                None => {
                    note(&mut msg.anomalies, NameAnomaly::BadNetbiosName);
                    continue;
                }
            }
            match (rtype, rdata) {
                (RR_NB, Some(data)) => read_nb(&mut entry, data, &mut msg.anomalies),
                (RR_NBSTAT, Some(data)) => {
                    read_node_status(&mut msg, data, &entry.name.scope);
                }
                _ => {}
            }
            msg.names.push(entry);
        }
    }
    msg
}

/// NB record data: (flags, address) pairs, 6 bytes each.
fn read_nb(entry: &mut NbnsName, data: &[u8], anomalies: &mut Vec<NameAnomaly>) {
    if !data.len().is_multiple_of(6) {
        note(anomalies, NameAnomaly::BadRecordData);
    }
    for pair in data.chunks_exact(6).take(MAX_NBNS_ADDRESSES) {
        let mut r = Reader::new(pair);
        if let (Some(flags), Some(address)) = (r.u16_be(), r.array::<4>()) {
            entry.group.get_or_insert(flags & 0x8000 != 0);
            entry.addresses.push(Ipv4Addr::from(address));
        }
    }
}

/// NBSTAT record data (RFC 1002 §4.2.18): a count, then 18-byte entries of
/// 15-byte name, suffix and flags; the statistics after them are ignored.
fn read_node_status(msg: &mut NbnsMessage, data: &[u8], scope: &str) {
    let mut r = Reader::new(data);
    let Some(count) = r.u8() else {
        note(&mut msg.anomalies, NameAnomaly::BadRecordData);
        return;
    };
    for _ in 0..count {
        if msg.node_status.len() >= MAX_NBNS_NAMES {
            note(&mut msg.anomalies, NameAnomaly::TooManyRecords);
            return;
        }
        let (Some(name), Some(suffix), Some(flags)) = (r.take(15), r.u8(), r.u16_be()) else {
            note(&mut msg.anomalies, NameAnomaly::BadRecordData);
            return;
        };
        msg.node_status.push(NodeStatusName {
            name: NetbiosName {
                name: sanitize(name, 15).into_owned(),
                suffix,
                scope: scope.to_string(),
            },
            group: flags & 0x8000 != 0,
        });
    }
}
