//! Names a host gives itself or is given on the wire, from one UDP payload:
//! DNS answers (port 53), multicast DNS and DNS-SD (5353, RFC 6762/6763),
//! LLMNR (5355, RFC 4795) and the NetBIOS name service (137, RFC 1002).
//!
//! # Shape
//!
//! DNS, mDNS and LLMNR share the DNS message format, so one reader serves
//! them: [`parse_dns`] reads the header, the questions and every resource
//! record of the answer, authority and additional sections, and keeps the
//! data of the record types that name a host — A and AAAA (owner name →
//! address), PTR (reverse names, DNS-SD service instances), SRV (instance →
//! target host and port), TXT (DNS-SD keys such as `md=` or `model=`) and
//! HINFO. [`DnsMessage::name_claims`] turns those into name ↔ address
//! pairs. NBNS uses the same header and name compression but encodes its
//! names (RFC 1001 §14.1); [`parse_nbns`] decodes them to the 15-character
//! name and its suffix type.
//!
//! # Guarantees
//!
//! Never panics on any input (indexing is denied by lint; messages and
//! names are read through the crate's one bounded reader, `proto::reader`,
//! and a compression pointer is followed by a fresh reader over the whole
//! message, never by offset arithmetic). Names are assembled into owned
//! strings, since compression scatters their labels over the message; the
//! message itself is only borrowed. Names are length- and
//! loop-bounded ([`MAX_NAME_WIRE_LEN`], [`MAX_POINTER_HOPS`]); every list
//! and text has a named limit below. Malformed input yields what was read
//! before it plus a [`NameAnomaly`]; nothing is returned as an `Err`.
//!
//! # What it refuses
//!
//! Records past [`MAX_RECORDS`] are not read, nor is anything after a
//! question past [`MAX_QUESTIONS`]. Record data of other types (OPT, NSEC, CNAME, …) is skipped by
//! length and not kept. DNS over TCP (length-prefixed) is not this module's.
mod nbns;
#[cfg(test)]
mod tests;
pub(crate) mod wire;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use nbns::{
    MAX_NBNS_ADDRESSES, MAX_NBNS_NAMES, NbnsMessage, NbnsName, NetbiosName, NodeStatusName,
    parse_nbns,
};
pub use wire::{MAX_NAME_WIRE_LEN, MAX_POINTER_HOPS, hex, mac_text, sanitize};
use wire::{NameError, read_name};

use crate::proto::reader::Reader;

/// Questions read from one message; the rest are not (`too_many_questions`).
pub const MAX_QUESTIONS: usize = 16;

/// Resource records read from one message, all sections together; the rest
/// are not (`too_many_records`). An mDNS announcement of a few services
/// carries 10–20.
pub const MAX_RECORDS: usize = 64;

/// TXT strings kept per TXT record; further ones are dropped.
pub const MAX_TXT_ENTRIES: usize = 16;

/// Longest TXT key kept, in bytes (RFC 6763 §6.4 recommends 9 or fewer).
pub const MAX_TXT_KEY_LEN: usize = 32;

/// Longest TXT value kept, in bytes; longer ones are cut.
pub const MAX_TXT_VALUE_LEN: usize = 128;

/// Longest HINFO CPU or OS string kept, in bytes.
pub const MAX_HINFO_LEN: usize = 64;

/// Something malformed in a name-service message. Each is counted by the
/// caller under [`NameAnomaly::name`]; the message keeps what was read
/// before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NameAnomaly {
    /// The message ends inside its header, a question or a record.
    Truncated,
    /// A name runs past the message end.
    NameTruncated,
    /// A name longer than [`MAX_NAME_WIRE_LEN`].
    NameTooLong,
    /// A name whose compression pointers loop (more than
    /// [`MAX_POINTER_HOPS`]).
    PointerLoop,
    /// A label type that is neither a label nor a pointer.
    BadLabel,
    /// Record data whose length does not fit its type (an A record of 5
    /// bytes, an SRV target past its data).
    BadRecordData,
    /// More questions than [`MAX_QUESTIONS`].
    TooManyQuestions,
    /// More records than [`MAX_RECORDS`].
    TooManyRecords,
    /// An NBNS name that is not 32 bytes of first-level encoding.
    BadNetbiosName,
}

impl NameAnomaly {
    /// Every anomaly, in declaration order.
    pub const ALL: &'static [NameAnomaly] = &[
        NameAnomaly::Truncated,
        NameAnomaly::NameTruncated,
        NameAnomaly::NameTooLong,
        NameAnomaly::PointerLoop,
        NameAnomaly::BadLabel,
        NameAnomaly::BadRecordData,
        NameAnomaly::TooManyQuestions,
        NameAnomaly::TooManyRecords,
        NameAnomaly::BadNetbiosName,
    ];

    /// The counter name.
    pub fn name(self) -> &'static str {
        match self {
            NameAnomaly::Truncated => "truncated",
            NameAnomaly::NameTruncated => "name_truncated",
            NameAnomaly::NameTooLong => "name_too_long",
            NameAnomaly::PointerLoop => "pointer_loop",
            NameAnomaly::BadLabel => "bad_label",
            NameAnomaly::BadRecordData => "bad_record_data",
            NameAnomaly::TooManyQuestions => "too_many_questions",
            NameAnomaly::TooManyRecords => "too_many_records",
            NameAnomaly::BadNetbiosName => "bad_netbios_name",
        }
    }
}

impl From<NameError> for NameAnomaly {
    fn from(e: NameError) -> Self {
        match e {
            NameError::Truncated => NameAnomaly::NameTruncated,
            NameError::TooLong => NameAnomaly::NameTooLong,
            NameError::PointerLoop => NameAnomaly::PointerLoop,
            NameError::BadLabel => NameAnomaly::BadLabel,
        }
    }
}

/// Adds `a` to `list` unless it is there already: each anomaly is reported
/// once per message.
pub(crate) fn note<A: PartialEq>(list: &mut Vec<A>, a: A) {
    if !list.contains(&a) {
        list.push(a);
    }
}

/// DNS record types this module keeps the data of.
pub mod rtype {
    /// IPv4 address.
    pub const A: u16 = 1;
    /// Domain name pointer.
    pub const PTR: u16 = 12;
    /// Host information.
    pub const HINFO: u16 = 13;
    /// Text strings.
    pub const TXT: u16 = 16;
    /// IPv6 address.
    pub const AAAA: u16 = 28;
    /// Service location.
    pub const SRV: u16 = 33;
    /// Any type (a question).
    pub const ANY: u16 = 255;
}

/// The fixed 12-byte header shared by DNS, mDNS, LLMNR and NBNS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    /// Transaction id (0 in mDNS announcements).
    pub id: u16,
    /// The flags word as sent (QR, opcode, AA/C, TC, RD/T, RA, Z, rcode).
    pub flags: u16,
    /// Question count.
    pub questions: u16,
    /// Answer record count.
    pub answers: u16,
    /// Authority record count.
    pub authorities: u16,
    /// Additional record count.
    pub additionals: u16,
}

impl Header {
    fn read(r: &mut Reader<'_>) -> Option<Header> {
        Some(Header {
            id: r.u16_be()?,
            flags: r.u16_be()?,
            questions: r.u16_be()?,
            answers: r.u16_be()?,
            authorities: r.u16_be()?,
            additionals: r.u16_be()?,
        })
    }

    /// Whether the message is a response (QR bit).
    pub fn is_response(&self) -> bool {
        self.flags & 0x8000 != 0
    }

    /// The opcode (0 query; NBNS: 5 registration, 6 release, 8 refresh).
    pub fn opcode(&self) -> u8 {
        // Four bits: the cast cannot truncate.
        ((self.flags >> 11) & 0x0F) as u8
    }

    /// The response code.
    pub fn rcode(&self) -> u8 {
        (self.flags & 0x0F) as u8
    }
}

/// The section a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// Answer section (mDNS announcements put their records here).
    Answer,
    /// Authority section (mDNS probes put the records they claim here).
    Authority,
    /// Additional section.
    Additional,
}

/// One question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// The name asked about, dotted.
    pub name: String,
    /// Its type.
    pub qtype: u16,
    /// Its class; in mDNS the top bit asks for a unicast response.
    pub qclass: u16,
}

/// One resource record, with the data of the types that name a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Which section it was in.
    pub section: Section,
    /// Owner name, dotted.
    pub name: String,
    /// Record type ([`rtype`]).
    pub rtype: u16,
    /// Class; in mDNS the top bit is the cache-flush bit.
    pub class: u16,
    /// Time to live, seconds (0 in an mDNS goodbye).
    pub ttl: u32,
    /// The data, when its type is one kept.
    pub data: RecordData,
}

/// The data of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordData {
    /// An A record's address.
    A(Ipv4Addr),
    /// An AAAA record's address.
    Aaaa(Ipv6Addr),
    /// A PTR record's target: a host name (reverse lookups) or a DNS-SD
    /// service instance name.
    Ptr(String),
    /// An SRV record: where a service instance runs.
    Srv {
        /// Priority.
        priority: u16,
        /// Weight.
        weight: u16,
        /// Port.
        port: u16,
        /// Target host name.
        target: String,
    },
    /// A TXT record's strings, at most [`MAX_TXT_ENTRIES`].
    Txt(Vec<TxtEntry>),
    /// HINFO: CPU and OS text.
    Hinfo {
        /// CPU.
        cpu: String,
        /// Operating system.
        os: String,
    },
    /// A type whose data is not kept.
    Other,
}

/// One TXT string: DNS-SD `key=value` (RFC 6763 §6.3), or a key alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxtEntry {
    /// The key, at most [`MAX_TXT_KEY_LEN`] bytes.
    pub key: String,
    /// The value, at most [`MAX_TXT_VALUE_LEN`] bytes; `None` for a key
    /// with no `=`.
    pub value: Option<String>,
}

/// A DNS, mDNS or LLMNR message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DnsMessage {
    /// The header.
    pub header: Header,
    /// Questions, at most [`MAX_QUESTIONS`].
    pub questions: Vec<Question>,
    /// Records of all three sections, at most [`MAX_RECORDS`].
    pub records: Vec<Record>,
    /// What was malformed, each once.
    pub anomalies: Vec<NameAnomaly>,
}

/// Whether a name ↔ address pair came from a forward or a reverse record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimKind {
    /// A or AAAA: the owner name has this address.
    Forward,
    /// PTR under `in-addr.arpa` / `ip6.arpa`: the address has this name.
    Reverse,
}

/// A name bound to an address by one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameClaim<'m> {
    /// The host name.
    pub name: &'m str,
    /// The address.
    pub address: IpAddr,
    /// Which kind of record said so.
    pub kind: ClaimKind,
    /// Its section.
    pub section: Section,
}

impl DnsMessage {
    /// Every name ↔ address pair the message's records state: A and AAAA
    /// owner names, and PTR records of reverse names.
    pub fn name_claims(&self) -> impl Iterator<Item = NameClaim<'_>> {
        self.records.iter().filter_map(|r| {
            let (name, address, kind) = match &r.data {
                RecordData::A(a) => (r.name.as_str(), IpAddr::V4(*a), ClaimKind::Forward),
                RecordData::Aaaa(a) => (r.name.as_str(), IpAddr::V6(*a), ClaimKind::Forward),
                RecordData::Ptr(target) => (
                    target.as_str(),
                    reverse_address(&r.name)?,
                    ClaimKind::Reverse,
                ),
                _ => return None,
            };
            Some(NameClaim {
                name,
                address,
                kind,
                section: r.section,
            })
        })
    }

    /// The records of one type.
    pub fn records_of(&self, rtype: u16) -> impl Iterator<Item = &Record> {
        self.records.iter().filter(move |r| r.rtype == rtype)
    }
}

/// The address a reverse name (`4.3.2.1.in-addr.arpa`, nibbles under
/// `ip6.arpa`) stands for, if it is one.
pub fn reverse_address(name: &str) -> Option<IpAddr> {
    let lower = name.to_ascii_lowercase();
    let lower = lower.strip_suffix('.').unwrap_or(&lower);
    if let Some(v4) = lower.strip_suffix(".in-addr.arpa") {
        let mut octets = [0u8; 4];
        let mut parts = v4.split('.');
        for octet in octets.iter_mut().rev() {
            *octet = parts.next()?.parse().ok()?;
        }
        return parts
            .next()
            .is_none()
            .then_some(IpAddr::V4(Ipv4Addr::from(octets)));
    }
    let v6 = lower.strip_suffix(".ip6.arpa")?;
    let mut value: u128 = 0;
    let mut count = 0;
    for (i, nibble) in v6.split('.').enumerate() {
        let digit = u128::from(u8::from_str_radix(nibble, 16).ok()?);
        if nibble.len() != 1 || i >= 32 {
            return None;
        }
        value |= digit << (4 * i);
        count += 1;
    }
    (count == 32).then_some(IpAddr::V6(Ipv6Addr::from(value)))
}

/// Parses a DNS, mDNS or LLMNR message from one UDP payload.
pub fn parse_dns(payload: &[u8]) -> DnsMessage {
    let mut msg = DnsMessage::default();
    let mut r = Reader::new(payload);
    let Some(header) = Header::read(&mut r) else {
        msg.anomalies.push(NameAnomaly::Truncated);
        return msg;
    };
    msg.header = header;
    if read_questions(
        payload,
        &mut r,
        header.questions,
        &mut msg.questions,
        &mut msg.anomalies,
    )
    .is_none()
    {
        return msg;
    }
    let sections = [
        (Section::Answer, header.answers),
        (Section::Authority, header.authorities),
        (Section::Additional, header.additionals),
    ];
    for (section, count) in sections {
        for _ in 0..count {
            if msg.records.len() >= MAX_RECORDS {
                note(&mut msg.anomalies, NameAnomaly::TooManyRecords);
                return msg;
            }
            match read_record(payload, &mut r, section, &mut msg.anomalies) {
                Some(record) => msg.records.push(record),
                None => return msg,
            }
        }
    }
    msg
}

/// Reads `count` questions where `r` stands in `payload`, keeping at most
/// [`MAX_QUESTIONS`]. `None` when the message cannot be read past them.
fn read_questions<'a>(
    payload: &'a [u8],
    r: &mut Reader<'a>,
    count: u16,
    out: &mut Vec<Question>,
    anomalies: &mut Vec<NameAnomaly>,
) -> Option<()> {
    for _ in 0..count {
        if out.len() >= MAX_QUESTIONS {
            note(anomalies, NameAnomaly::TooManyQuestions);
            return None;
        }
        let mut name = String::new();
        read_name(payload, r, &mut name)
            .map_err(|e| note(anomalies, e.into()))
            .ok()?;
        let (Some(qtype), Some(qclass)) = (r.u16_be(), r.u16_be()) else {
            note(anomalies, NameAnomaly::Truncated);
            return None;
        };
        out.push(Question {
            name,
            qtype,
            qclass,
        });
    }
    Some(())
}

/// Reads one resource record where `r` stands in `payload`; `None` when
/// the message cannot be read past it.
fn read_record<'a>(
    payload: &'a [u8],
    r: &mut Reader<'a>,
    section: Section,
    anomalies: &mut Vec<NameAnomaly>,
) -> Option<Record> {
    let mut name = String::new();
    read_name(payload, r, &mut name)
        .map_err(|e| note(anomalies, e.into()))
        .ok()?;
    let fixed = (|| Some((r.u16_be()?, r.u16_be()?, r.u32_be()?, r.u16_be()?)))();
    let Some((rtype, class, ttl, rdlength)) = fixed else {
        note(anomalies, NameAnomaly::Truncated);
        return None;
    };
    let data_start = *r;
    let Some(rdata) = r.take(usize::from(rdlength)) else {
        note(anomalies, NameAnomaly::Truncated);
        return None;
    };
    let data = read_data(payload, data_start, *r, rtype, rdata).unwrap_or_else(|a| {
        note(anomalies, a);
        RecordData::Other
    });
    Some(Record {
        section,
        name,
        rtype,
        class,
        ttl,
        data,
    })
}

/// The data of a record of type `rtype`, `rdata` being its bytes, which
/// `start` reads in `payload` from their first byte and `end` from just
/// after their last (names in it may point anywhere before).
fn read_data<'a>(
    payload: &'a [u8],
    start: Reader<'a>,
    end: Reader<'a>,
    rtype: u16,
    rdata: &[u8],
) -> Result<RecordData, NameAnomaly> {
    // A name in record data must end within the data: where the name ends,
    // at least as much of the message must remain as after the data.
    let name_at = |mut at: Reader<'a>| -> Result<String, NameAnomaly> {
        let mut name = String::new();
        read_name(payload, &mut at, &mut name)?;
        if at.remaining().len() < end.remaining().len() {
            return Err(NameAnomaly::BadRecordData);
        }
        Ok(name)
    };
    match rtype {
        rtype::A => <[u8; 4]>::try_from(rdata)
            .map(|a| RecordData::A(Ipv4Addr::from(a)))
            .map_err(|_| NameAnomaly::BadRecordData),
        rtype::AAAA => <[u8; 16]>::try_from(rdata)
            .map(|a| RecordData::Aaaa(Ipv6Addr::from(a)))
            .map_err(|_| NameAnomaly::BadRecordData),
        rtype::PTR => name_at(start).map(RecordData::Ptr),
        rtype::SRV => {
            let mut r = Reader::new(rdata);
            let (Some(priority), Some(weight), Some(port)) = (r.u16_be(), r.u16_be(), r.u16_be())
            else {
                return Err(NameAnomaly::BadRecordData);
            };
            // The target follows the three fields just read.
            let mut target = start;
            target.skip(6).ok_or(NameAnomaly::BadRecordData)?;
            let target = name_at(target)?;
            Ok(RecordData::Srv {
                priority,
                weight,
                port,
                target,
            })
        }
        rtype::TXT => Ok(RecordData::Txt(read_txt(rdata)?)),
        rtype::HINFO => {
            let mut r = Reader::new(rdata);
            let (Some(cpu), Some(os)) = (r.prefixed_u8(), r.prefixed_u8()) else {
                return Err(NameAnomaly::BadRecordData);
            };
            Ok(RecordData::Hinfo {
                cpu: sanitize(cpu, MAX_HINFO_LEN).into_owned(),
                os: sanitize(os, MAX_HINFO_LEN).into_owned(),
            })
        }
        _ => Ok(RecordData::Other),
    }
}

/// The strings of a TXT record as DNS-SD keys and values.
fn read_txt(rdata: &[u8]) -> Result<Vec<TxtEntry>, NameAnomaly> {
    let mut r = Reader::new(rdata);
    let mut entries = Vec::new();
    while !r.is_empty() {
        let string = r.prefixed_u8().ok_or(NameAnomaly::BadRecordData)?;
        // An empty TXT record is one empty string (RFC 6763 §6.1).
        if string.is_empty() || entries.len() >= MAX_TXT_ENTRIES {
            continue;
        }
        let mut parts = string.splitn(2, |&b| b == b'=');
        let key = parts.next().unwrap_or_default();
        let value = parts.next();
        entries.push(TxtEntry {
            key: sanitize(key, MAX_TXT_KEY_LEN).into_owned(),
            value: value.map(|v| sanitize(v, MAX_TXT_VALUE_LEN).into_owned()),
        });
    }
    Ok(entries)
}
