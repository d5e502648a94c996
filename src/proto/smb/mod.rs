//! SMB negotiation and NTLMSSP, read from one direction of a TCP connection
//! (port 445, or 139 after the NetBIOS session request): which SMB dialects
//! a client offers and a server chooses — SMB1 at all is a finding — and
//! the NTLMSSP VERSION (Windows major, minor, build) and, from an
//! AUTHENTICATE message, the user, domain and workstation names.
//!
//! # Shape
//!
//! Each message travels in a 4-byte NetBIOS session service header (type,
//! 3-byte length; RFC 1002 §4.3, MS-SMB2 §2.1). [`next_frame`] splits the
//! stream into messages; [`parse_message`] reads one: the SMB1 header
//! (MS-CIFS §2.2.3.1) or SMB2 header (MS-SMB2 §2.2.1), then a NEGOTIATE
//! (dialect strings, or dialect revisions) or a SESSION_SETUP, whose
//! security blob (GSS-API/SPNEGO, or bare NTLMSSP) is searched, within its
//! bounds, for the `NTLMSSP\0` signature of an MS-NLMP message. Every
//! other command is passed over by length.
//!
//! # Guarantees
//!
//! - Never panics: every read goes through a bounded reader; indexing that
//!   could fail is denied by lint.
//! - Bounded: a message longer than [`MAX_MESSAGE_LEN`] is skipped unread;
//!   dialect lists stop at [`MAX_DIALECTS`], names at [`MAX_NAME_LEN`].
//! - No credentials: from an AUTHENTICATE only the user, domain and
//!   workstation names and the version are read. The LM and NT challenge
//!   responses (the hashes an attacker would crack), the session key and
//!   the MIC are never read, copied or kept.
//!
//! # What it refuses
//!
//! Messages that are not SMB1 or SMB2 (encrypted and compressed SMB3
//! messages are passed over, not refused), headers or bodies shorter than
//! their structure, and lengths or offsets that point outside their
//! message: each is an [`SmbAnomaly`].
mod ntlmssp;

#[cfg(test)]
mod tests;

use super::reader::Reader;
pub use ntlmssp::{NtlmMessage, NtlmMessageType, NtlmVersion, parse_ntlmssp};

/// Largest message, in bytes after the NetBIOS header, that is parsed; a
/// longer one (a READ or WRITE carrying data) is skipped by length. A
/// negotiate or session setup is under 2 kB; a Kerberos ticket in a
/// session setup can reach 12 kB.
pub const MAX_MESSAGE_LEN: usize = 64 * 1024;

/// Dialects kept from one NEGOTIATE request; more are counted in
/// [`SmbNegotiate::dialect_count`] only. Windows offers at most 6 SMB2
/// dialects and 12 SMB1 strings.
pub const MAX_DIALECTS: usize = 64;

/// Longest SMB1 dialect string kept, in bytes ("NT LM 0.12" is 10); a
/// longer one is [`SmbAnomaly::BadDialectString`].
pub const MAX_DIALECT_NAME_LEN: usize = 64;

/// Longest user, domain or workstation name kept, in characters; a longer
/// one is cut.
pub const MAX_NAME_LEN: usize = 256;

/// The NetBIOS session service message type of a session message; 0x85 is
/// a keep-alive, 0x81–0x83 the session request and its answers (port 139).
const NBSS_MESSAGE: u8 = 0x00;

const SMB1_MAGIC: [u8; 4] = [0xff, b'S', b'M', b'B'];
const SMB2_MAGIC: [u8; 4] = [0xfe, b'S', b'M', b'B'];
/// SMB3 transform (encrypted) and compression headers: passed over.
const SMB3_TRANSFORM_MAGIC: [u8; 4] = [0xfd, b'S', b'M', b'B'];
const SMB3_COMPRESSED_MAGIC: [u8; 4] = [0xfc, b'S', b'M', b'B'];

const SMB1_HEADER_LEN: usize = 32;
const SMB1_NEGOTIATE: u8 = 0x72;
const SMB1_SESSION_SETUP_ANDX: u8 = 0x73;
/// SMB1 header Flags: the message is a reply.
const SMB1_FLAGS_REPLY: u8 = 0x80;

const SMB2_HEADER_LEN: usize = 64;
const SMB2_NEGOTIATE: u16 = 0x0000;
const SMB2_SESSION_SETUP: u16 = 0x0001;
/// SMB2 header Flags: SMB2_FLAGS_SERVER_TO_REDIR.
const SMB2_FLAGS_RESPONSE: u32 = 0x0000_0001;

/// Why bytes that should be an SMB message are not one medtap reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SmbAnomaly {
    /// The NetBIOS session header's type is not one used on port 445/139.
    BadNetbiosType,
    /// The message starts with neither the SMB1 nor the SMB2 protocol id.
    NotSmb,
    /// The message is shorter than its header.
    TruncatedHeader,
    /// A command's body is shorter than its structure.
    TruncatedBody,
    /// An SMB2 body's StructureSize is not the command's.
    BadStructureSize,
    /// An SMB1 dialect string lacks its 0x02 marker or terminator, is not
    /// ASCII, or is longer than [`MAX_DIALECT_NAME_LEN`].
    BadDialectString,
    /// A security buffer's offset or length points outside its message.
    BadSecurityBuffer,
    /// An NTLMSSP message is shorter than its fixed part, or of an unknown
    /// type.
    BadNtlmssp,
    /// An NTLMSSP field's offset or length points outside its message.
    BadNtlmsspField,
}

impl SmbAnomaly {
    /// A stable snake_case name, for counters.
    pub fn name(self) -> &'static str {
        match self {
            SmbAnomaly::BadNetbiosType => "bad_netbios_type",
            SmbAnomaly::NotSmb => "not_smb",
            SmbAnomaly::TruncatedHeader => "truncated_header",
            SmbAnomaly::TruncatedBody => "truncated_body",
            SmbAnomaly::BadStructureSize => "bad_structure_size",
            SmbAnomaly::BadDialectString => "bad_dialect_string",
            SmbAnomaly::BadSecurityBuffer => "bad_security_buffer",
            SmbAnomaly::BadNtlmssp => "bad_ntlmssp",
            SmbAnomaly::BadNtlmsspField => "bad_ntlmssp_field",
        }
    }
}

/// One step of splitting a stream into NetBIOS session messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A whole session message: its payload, and the bytes it took from
    /// the stream (header included).
    Message {
        /// The SMB message.
        payload: &'a [u8],
        /// Bytes consumed.
        consumed: usize,
    },
    /// A message longer than [`MAX_MESSAGE_LEN`], or a keep-alive or
    /// session control message: skip `consumed` bytes (which may run past
    /// the bytes at hand).
    Skip {
        /// Bytes to skip, header included.
        consumed: usize,
    },
    /// At least `needed` more bytes are needed.
    Incomplete {
        /// Bytes still missing, at least.
        needed: usize,
    },
    /// The stream is not NetBIOS-framed SMB.
    Invalid(SmbAnomaly),
}

/// Splits the next NetBIOS session message from the front of `stream`.
pub fn next_frame(stream: &[u8]) -> Frame<'_> {
    let mut r = Reader::new(stream);
    let (Some(kind), Some(length)) = (r.u8(), r.u24_be()) else {
        return Frame::Incomplete {
            needed: 4 - stream.len().min(4),
        };
    };
    let consumed = 4 + length;
    match kind {
        NBSS_MESSAGE => {}
        0x81..=0x85 => return Frame::Skip { consumed },
        _ => return Frame::Invalid(SmbAnomaly::BadNetbiosType),
    }
    if length > MAX_MESSAGE_LEN {
        return Frame::Skip { consumed };
    }
    match r.take(length) {
        Some(payload) => Frame::Message { payload, consumed },
        None => Frame::Incomplete {
            needed: consumed - stream.len(),
        },
    }
}

/// What a NEGOTIATE says: the dialects a client offers, or the one a
/// server chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmbNegotiate {
    /// Whether the message is SMB1 (a client that still offers SMB1, or a
    /// server that still answers in it).
    pub smb1: bool,
    /// Whether it is the server's response.
    pub response: bool,
    /// SMB1 request: the dialect strings offered ("NT LM 0.12", "SMB
    /// 2.002", …), in order, at most [`MAX_DIALECTS`].
    pub dialect_names: Vec<String>,
    /// SMB1 response: the index of the chosen dialect string in the
    /// request (0xffff: none).
    pub dialect_index: Option<u16>,
    /// SMB2 request: the dialect revisions offered (0x0202 … 0x0311), at
    /// most [`MAX_DIALECTS`]; SMB2 response: the one chosen (0x02ff when
    /// answering an SMB1 negotiate that offered SMB2).
    pub dialects: Vec<u16>,
    /// How many dialects the request offered, kept or not.
    pub dialect_count: usize,
}

/// One SMB message medtap reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmbMessage {
    /// An SMB1 or SMB2 NEGOTIATE request or response.
    Negotiate(SmbNegotiate),
    /// An SMB1 or SMB2 SESSION_SETUP request or response; `ntlm` is its
    /// NTLMSSP message, when its security blob carries one (not with
    /// Kerberos).
    SessionSetup {
        /// Whether the message is SMB1.
        smb1: bool,
        /// Whether it is the server's response.
        response: bool,
        /// The NTLMSSP message in its security blob.
        ntlm: Option<NtlmMessage>,
    },
}

/// Reads one SMB message (the payload of a [`Frame::Message`]). `Ok(None)`
/// for commands medtap does not read and for encrypted or compressed SMB3.
pub fn parse_message(message: &[u8]) -> Result<Option<SmbMessage>, SmbAnomaly> {
    match message.get(..4) {
        Some(magic) if magic == SMB1_MAGIC => smb1(message),
        Some(magic) if magic == SMB2_MAGIC => smb2(message),
        Some(magic) if magic == SMB3_TRANSFORM_MAGIC || magic == SMB3_COMPRESSED_MAGIC => Ok(None),
        Some(_) => Err(SmbAnomaly::NotSmb),
        None => Err(SmbAnomaly::TruncatedHeader),
    }
}

fn smb1(message: &[u8]) -> Result<Option<SmbMessage>, SmbAnomaly> {
    let mut r = Reader::new(message);
    let header = r.take(SMB1_HEADER_LEN).ok_or(SmbAnomaly::TruncatedHeader)?;
    let mut h = Reader::new(header);
    h.take(4).ok_or(SmbAnomaly::TruncatedHeader)?; // protocol id
    let command = h.u8().ok_or(SmbAnomaly::TruncatedHeader)?;
    h.take(4).ok_or(SmbAnomaly::TruncatedHeader)?; // status
    let flags = h.u8().ok_or(SmbAnomaly::TruncatedHeader)?;
    let response = flags & SMB1_FLAGS_REPLY != 0;
    if command != SMB1_NEGOTIATE && command != SMB1_SESSION_SETUP_ANDX {
        return Ok(None);
    }
    // Parameter words, then data bytes (MS-CIFS §2.2.3.2, §2.2.3.3).
    let word_count = r.u8().ok_or(SmbAnomaly::TruncatedBody)?;
    let mut words = r
        .sub(usize::from(word_count) * 2)
        .ok_or(SmbAnomaly::TruncatedBody)?;
    let byte_count = r.u16_le().ok_or(SmbAnomaly::TruncatedBody)?;
    let mut bytes = r
        .sub(usize::from(byte_count))
        .ok_or(SmbAnomaly::TruncatedBody)?;
    if command == SMB1_NEGOTIATE {
        let mut negotiate = SmbNegotiate {
            smb1: true,
            response,
            dialect_names: Vec::new(),
            dialect_index: None,
            dialects: Vec::new(),
            dialect_count: 0,
        };
        if response {
            negotiate.dialect_index = Some(words.u16_le().ok_or(SmbAnomaly::TruncatedBody)?);
        } else {
            // Each dialect: 0x02, then an ASCII string ended by 0x00.
            while !bytes.is_empty() {
                if bytes.u8() != Some(0x02) {
                    return Err(SmbAnomaly::BadDialectString);
                }
                let name = bytes.until_nul().ok_or(SmbAnomaly::BadDialectString)?;
                if name.len() > MAX_DIALECT_NAME_LEN || !name.iter().all(|b| b.is_ascii()) {
                    return Err(SmbAnomaly::BadDialectString);
                }
                negotiate.dialect_count += 1;
                if negotiate.dialect_names.len() < MAX_DIALECTS {
                    negotiate
                        .dialect_names
                        .push(String::from_utf8_lossy(name).into_owned());
                }
            }
        }
        return Ok(Some(SmbMessage::Negotiate(negotiate)));
    }
    // SESSION_SETUP_ANDX with extended security: the blob length is word 7
    // of a 12-word request, word 3 of a 4-word response; the blob starts
    // the data bytes. Other word counts carry passwords, not a blob.
    let blob_len_word = match (response, word_count) {
        (false, 12) => 7,
        (true, 4) => 3,
        _ => {
            return Ok(Some(SmbMessage::SessionSetup {
                smb1: true,
                response,
                ntlm: None,
            }));
        }
    };
    words
        .take(blob_len_word * 2)
        .ok_or(SmbAnomaly::TruncatedBody)?;
    let blob_len = words.u16_le().ok_or(SmbAnomaly::TruncatedBody)?;
    let blob = bytes
        .take(usize::from(blob_len))
        .ok_or(SmbAnomaly::BadSecurityBuffer)?;
    Ok(Some(SmbMessage::SessionSetup {
        smb1: true,
        response,
        ntlm: ntlmssp::find_in_blob(blob)?,
    }))
}

fn smb2(message: &[u8]) -> Result<Option<SmbMessage>, SmbAnomaly> {
    let mut r = Reader::new(message);
    let header = r.take(SMB2_HEADER_LEN).ok_or(SmbAnomaly::TruncatedHeader)?;
    let mut h = Reader::new(header);
    h.take(12).ok_or(SmbAnomaly::TruncatedHeader)?; // id, size, credit charge, status
    let command = h.u16_le().ok_or(SmbAnomaly::TruncatedHeader)?;
    h.take(2).ok_or(SmbAnomaly::TruncatedHeader)?; // credits
    let flags = h.u32_le().ok_or(SmbAnomaly::TruncatedHeader)?;
    let response = flags & SMB2_FLAGS_RESPONSE != 0;
    // A compound request's later commands (NextCommand) are not read: a
    // NEGOTIATE or the first SESSION_SETUP is never compounded.
    let mut body = r;
    let structure_size = body.u16_le().ok_or(SmbAnomaly::TruncatedBody)?;
    match command {
        SMB2_NEGOTIATE if !response => {
            // MS-SMB2 §2.2.3: StructureSize 36, DialectCount, SecurityMode,
            // Reserved, Capabilities, ClientGuid (16), 8 bytes, Dialects.
            if structure_size != 36 {
                return Err(SmbAnomaly::BadStructureSize);
            }
            let count = body.u16_le().ok_or(SmbAnomaly::TruncatedBody)?;
            body.take(2 + 2 + 4 + 16 + 8)
                .ok_or(SmbAnomaly::TruncatedBody)?;
            let mut dialects = Vec::new();
            for _ in 0..count {
                let dialect = body.u16_le().ok_or(SmbAnomaly::TruncatedBody)?;
                if dialects.len() < MAX_DIALECTS {
                    dialects.push(dialect);
                }
            }
            Ok(Some(SmbMessage::Negotiate(SmbNegotiate {
                smb1: false,
                response,
                dialect_names: Vec::new(),
                dialect_index: None,
                dialects,
                dialect_count: usize::from(count),
            })))
        }
        SMB2_NEGOTIATE => {
            // MS-SMB2 §2.2.4: StructureSize 65, SecurityMode, DialectRevision.
            // An error response (StructureSize 9) chose nothing.
            if structure_size == 9 {
                return Ok(None);
            }
            if structure_size != 65 {
                return Err(SmbAnomaly::BadStructureSize);
            }
            body.take(2).ok_or(SmbAnomaly::TruncatedBody)?;
            let dialect = body.u16_le().ok_or(SmbAnomaly::TruncatedBody)?;
            Ok(Some(SmbMessage::Negotiate(SmbNegotiate {
                smb1: false,
                response,
                dialect_names: Vec::new(),
                dialect_index: None,
                dialects: vec![dialect],
                dialect_count: 1,
            })))
        }
        SMB2_SESSION_SETUP => {
            // Request (§2.2.5): StructureSize 25, Flags, SecurityMode,
            // Capabilities, Channel, SecurityBufferOffset, …Length.
            // Response (§2.2.6): StructureSize 9, SessionFlags,
            // SecurityBufferOffset, …Length. Offsets count from the header.
            let skip = match (response, structure_size) {
                (false, 25) => 1 + 1 + 4 + 4,
                (true, 9) => 2,
                _ => return Err(SmbAnomaly::BadStructureSize),
            };
            body.take(skip).ok_or(SmbAnomaly::TruncatedBody)?;
            let offset = body.u16_le().ok_or(SmbAnomaly::TruncatedBody)?;
            let length = body.u16_le().ok_or(SmbAnomaly::TruncatedBody)?;
            let start = usize::from(offset);
            let blob = message
                .get(start..start + usize::from(length))
                .ok_or(SmbAnomaly::BadSecurityBuffer)?;
            Ok(Some(SmbMessage::SessionSetup {
                smb1: false,
                response,
                ntlm: ntlmssp::find_in_blob(blob)?,
            }))
        }
        _ => Ok(None),
    }
}

/// Everything [`parse_message`] finds in a whole direction of a
/// conversation, message by message, with the first anomaly met (after
/// which the direction is not read further). For tests, fuzzing and
/// offline tools; a live parser feeds [`next_frame`] itself.
pub fn parse_stream(stream: &[u8]) -> (Vec<SmbMessage>, Option<SmbAnomaly>) {
    let mut found = Vec::new();
    let mut rest = stream;
    loop {
        match next_frame(rest) {
            Frame::Message { payload, consumed } => {
                match parse_message(payload) {
                    Ok(Some(message)) => found.push(message),
                    Ok(None) => {}
                    Err(anomaly) => return (found, Some(anomaly)),
                }
                rest = rest.get(consumed..).unwrap_or_default();
            }
            Frame::Skip { consumed } => rest = rest.get(consumed..).unwrap_or_default(),
            Frame::Incomplete { .. } => return (found, None),
            Frame::Invalid(anomaly) => return (found, Some(anomaly)),
        }
    }
}
