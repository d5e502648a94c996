//! NTLMSSP messages (MS-NLMP §2.2.1): the message type, the VERSION
//! structure (§2.2.2.10) that names the sender's Windows major, minor and
//! build, and from an AUTHENTICATE the user, domain and workstation names.
//!
//! The LM and NT challenge responses, the encrypted session key and the
//! MIC are never read: their field descriptors are skipped by position.

use super::{MAX_NAME_LEN, Reader, SmbAnomaly};

/// The signature every NTLMSSP message starts with.
const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";

/// NegotiateFlags: strings are UTF-16LE (else OEM code page).
const NEGOTIATE_UNICODE: u32 = 0x0000_0001;
/// NegotiateFlags: the VERSION field is present.
const NEGOTIATE_VERSION: u32 = 0x0200_0000;

/// Which of the three NTLM messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NtlmMessageType {
    /// NEGOTIATE_MESSAGE (1), client to server.
    Negotiate,
    /// CHALLENGE_MESSAGE (2), server to client.
    Challenge,
    /// AUTHENTICATE_MESSAGE (3), client to server.
    Authenticate,
}

/// The VERSION structure: the operating system that sent the message
/// (Windows 10 is 10.0 with its build; Samba says 6.1 build 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NtlmVersion {
    /// ProductMajorVersion.
    pub major: u8,
    /// ProductMinorVersion.
    pub minor: u8,
    /// ProductBuild.
    pub build: u16,
}

/// What one NTLMSSP message says about its sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NtlmMessage {
    /// The message type.
    pub kind: NtlmMessageType,
    /// The VERSION field, when the sender set NTLMSSP_NEGOTIATE_VERSION.
    pub version: Option<NtlmVersion>,
    /// AUTHENTICATE: the user name (empty for an anonymous login).
    pub user: Option<String>,
    /// AUTHENTICATE: the user's domain.
    pub domain: Option<String>,
    /// AUTHENTICATE: the client's workstation name.
    pub workstation: Option<String>,
}

/// Finds the NTLMSSP message in a security blob (SPNEGO-wrapped or bare)
/// by its signature, and parses it. `Ok(None)` when there is none (a
/// Kerberos or empty blob).
pub(super) fn find_in_blob(blob: &[u8]) -> Result<Option<NtlmMessage>, SmbAnomaly> {
    match memchr::memmem::find(blob, SIGNATURE) {
        Some(start) => parse_ntlmssp(blob.get(start..).unwrap_or_default()).map(Some),
        None => Ok(None),
    }
}

/// Parses an NTLMSSP message starting at its signature. Bytes after the
/// message (the rest of an SPNEGO token) are ignored.
pub fn parse_ntlmssp(message: &[u8]) -> Result<NtlmMessage, SmbAnomaly> {
    let mut r = Reader::new(message);
    if r.take(8) != Some(SIGNATURE.as_slice()) {
        return Err(SmbAnomaly::BadNtlmssp);
    }
    let kind = match r.u32_le().ok_or(SmbAnomaly::BadNtlmssp)? {
        1 => NtlmMessageType::Negotiate,
        2 => NtlmMessageType::Challenge,
        3 => NtlmMessageType::Authenticate,
        _ => return Err(SmbAnomaly::BadNtlmssp),
    };
    let mut out = NtlmMessage {
        kind,
        version: None,
        user: None,
        domain: None,
        workstation: None,
    };
    let flags;
    match kind {
        NtlmMessageType::Negotiate => {
            // NegotiateFlags, DomainNameFields, WorkstationFields, Version.
            flags = r.u32_le().ok_or(SmbAnomaly::BadNtlmssp)?;
            r.take(16).ok_or(SmbAnomaly::BadNtlmssp)?;
        }
        NtlmMessageType::Challenge => {
            // TargetNameFields, NegotiateFlags, ServerChallenge, Reserved,
            // TargetInfoFields, Version.
            r.take(8).ok_or(SmbAnomaly::BadNtlmssp)?;
            flags = r.u32_le().ok_or(SmbAnomaly::BadNtlmssp)?;
            r.take(8 + 8 + 8).ok_or(SmbAnomaly::BadNtlmssp)?;
        }
        NtlmMessageType::Authenticate => {
            // LmChallengeResponseFields and NtChallengeResponseFields are
            // skipped unread: they are the secret.
            r.take(16).ok_or(SmbAnomaly::BadNtlmssp)?;
            let domain = field(&mut r)?;
            let user = field(&mut r)?;
            let workstation = field(&mut r)?;
            r.take(8).ok_or(SmbAnomaly::BadNtlmssp)?; // EncryptedRandomSessionKeyFields
            flags = r.u32_le().ok_or(SmbAnomaly::BadNtlmssp)?;
            let unicode = flags & NEGOTIATE_UNICODE != 0;
            out.domain = Some(text(message, domain, unicode)?);
            out.user = Some(text(message, user, unicode)?);
            out.workstation = Some(text(message, workstation, unicode)?);
        }
    }
    if flags & NEGOTIATE_VERSION != 0 {
        // A sender that sets the flag but leaves no room is tolerated:
        // some clients send the NTLMv1 fixed part only.
        if let Some(bytes) = r.take(8) {
            let mut v = Reader::new(bytes);
            if let (Some(major), Some(minor), Some(build)) = (v.u8(), v.u8(), v.u16_le()) {
                out.version = Some(NtlmVersion {
                    major,
                    minor,
                    build,
                });
            }
        }
    }
    Ok(out)
}

/// A field descriptor: Len, MaxLen, BufferOffset (from the signature).
fn field(r: &mut Reader<'_>) -> Result<(usize, usize), SmbAnomaly> {
    let len = r.u16_le().ok_or(SmbAnomaly::BadNtlmssp)?;
    r.u16_le().ok_or(SmbAnomaly::BadNtlmssp)?;
    let offset = r.u32_le().ok_or(SmbAnomaly::BadNtlmssp)?;
    let offset = usize::try_from(offset).map_err(|_| SmbAnomaly::BadNtlmsspField)?;
    Ok((offset, usize::from(len)))
}

/// The text a field points at, cut to [`MAX_NAME_LEN`] characters.
fn text(
    message: &[u8],
    (offset, len): (usize, usize),
    unicode: bool,
) -> Result<String, SmbAnomaly> {
    if len == 0 {
        return Ok(String::new());
    }
    let bytes = offset
        .checked_add(len)
        .and_then(|end| message.get(offset..end))
        .ok_or(SmbAnomaly::BadNtlmsspField)?;
    let name: String = if unicode {
        let units = bytes
            .chunks_exact(2)
            .filter_map(|pair| pair.try_into().ok().map(u16::from_le_bytes));
        char::decode_utf16(units)
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .take(MAX_NAME_LEN)
            .collect()
    } else {
        bytes
            .iter()
            .take(MAX_NAME_LEN)
            .map(|&b| {
                if b.is_ascii() {
                    char::from(b)
                } else {
                    char::REPLACEMENT_CHARACTER
                }
            })
            .collect()
    };
    Ok(name)
}
