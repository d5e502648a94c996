//! The upper-layer PDUs of PS3.8 §9.3 that set up and tear down an
//! association: A-ASSOCIATE-RQ/AC/RJ, A-RELEASE-RQ/RP and A-ABORT. These are
//! small and parsed whole once the caller holds all their bytes; P-DATA-TF is
//! streamed by the parser in `mod.rs` and never reaches this module.
//!
//! Every function here takes the PDU body (the bytes after the 6-byte PDU
//! header) and reads it with a bounded [`Reader`]: an item that claims more
//! bytes than its parent holds makes the PDU malformed. Copied values are
//! bounded by the limits in `mod.rs`; the user identity fields (user name,
//! passcode, Kerberos ticket, SAML assertion, JWT) and the server's identity
//! response are never read, only their presence and type.

use super::text::text;
use super::{
    Anomaly, MAX_PRESENTATION_CONTEXTS, MAX_ROLE_SELECTIONS, MAX_TRANSFER_SYNTAXES, MAX_UID_LEN,
};
use crate::proto::reader::Reader;

/// PDU types (PS3.8 §9.3.1).
pub(crate) mod pdu_type {
    pub const ASSOCIATE_RQ: u8 = 0x01;
    pub const ASSOCIATE_AC: u8 = 0x02;
    pub const ASSOCIATE_RJ: u8 = 0x03;
    pub const P_DATA_TF: u8 = 0x04;
    pub const RELEASE_RQ: u8 = 0x05;
    pub const RELEASE_RP: u8 = 0x06;
    pub const ABORT: u8 = 0x07;
}

/// Item types of A-ASSOCIATE-RQ/AC (PS3.8 §9.3.2, §9.3.3, Annex D).
pub(crate) mod item {
    pub const APPLICATION_CONTEXT: u8 = 0x10;
    pub const PRESENTATION_CONTEXT_RQ: u8 = 0x20;
    pub const PRESENTATION_CONTEXT_AC: u8 = 0x21;
    pub const ABSTRACT_SYNTAX: u8 = 0x30;
    pub const TRANSFER_SYNTAX: u8 = 0x40;
    pub const USER_INFORMATION: u8 = 0x50;
    pub const MAX_LENGTH: u8 = 0x51;
    pub const IMPLEMENTATION_CLASS_UID: u8 = 0x52;
    pub const ROLE_SELECTION: u8 = 0x54;
    pub const IMPLEMENTATION_VERSION_NAME: u8 = 0x55;
    pub const USER_IDENTITY_RQ: u8 = 0x58;
    pub const USER_IDENTITY_AC: u8 = 0x59;
}

/// Bytes of the fixed part of an A-ASSOCIATE-RQ/AC body before its items:
/// protocol version (2), reserved (2), called AE (16), calling AE (16),
/// reserved (32).
pub(crate) const ASSOCIATE_FIXED_LEN: usize = 68;

/// A presentation context item, from the request (0x20) or the accept (0x21).
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct ContextItem {
    pub id: u8,
    pub abstract_syntax: Option<String>,
    pub transfer_syntaxes: Vec<String>,
    /// AC only: result/reason byte.
    pub result: Option<u8>,
}

/// SCP/SCU role selection sub-item (PS3.7 D.3.3.4).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RoleItem {
    pub sop_class_uid: String,
    pub scu_role: u8,
    pub scp_role: u8,
}

/// What an A-ASSOCIATE-RQ or -AC says.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Associate {
    pub protocol_version: u16,
    pub called_ae_title: String,
    pub calling_ae_title: String,
    pub application_context: Option<String>,
    pub contexts: Vec<ContextItem>,
    pub max_pdu_length: Option<u32>,
    pub implementation_class_uid: Option<String>,
    pub implementation_version_name: Option<String>,
    pub roles: Vec<RoleItem>,
    /// RQ: (user identity type, positive response requested).
    pub user_identity: Option<(u8, bool)>,
    /// AC: a user identity server response item was present.
    pub user_identity_response: bool,
}

/// Parses an A-ASSOCIATE-RQ (`request`) or -AC body. Bounds that only trim
/// the record (too many contexts, transfer syntaxes, roles) are reported
/// through `note`; a structural error makes the whole PDU malformed.
pub(crate) fn parse_associate(
    body: &[u8],
    request: bool,
    note: &mut impl FnMut(Anomaly),
) -> Option<Associate> {
    let mut r = Reader::new(body);
    let mut a = Associate {
        // PS3.8 §9.3.2: bytes 7-8 protocol version, 9-10 reserved.
        protocol_version: r.u16_be()?,
        ..Associate::default()
    };
    r.skip(2)?;
    // Bytes 11-26 called AE title, 27-42 calling AE title, 16 bytes each,
    // space padded; bytes 43-74 reserved.
    a.called_ae_title = text(r.take(16)?, 16);
    a.calling_ae_title = text(r.take(16)?, 16);
    r.skip(32)?;
    while !r.is_empty() {
        let (kind, mut value) = next_item(&mut r)?;
        match kind {
            item::APPLICATION_CONTEXT => {
                a.application_context = Some(text(value.rest(), MAX_UID_LEN));
            }
            item::PRESENTATION_CONTEXT_RQ if request => {
                let ctx = parse_context(&mut value, false, note)?;
                push_bounded(&mut a.contexts, ctx, MAX_PRESENTATION_CONTEXTS, note);
            }
            item::PRESENTATION_CONTEXT_AC if !request => {
                let ctx = parse_context(&mut value, true, note)?;
                push_bounded(&mut a.contexts, ctx, MAX_PRESENTATION_CONTEXTS, note);
            }
            item::USER_INFORMATION => parse_user_information(&mut value, &mut a, note)?,
            // Items of the other direction's PDU, or unknown item types:
            // PS3.8 §9.3.1 says to ignore what is not recognised.
            _ => {}
        }
    }
    Some(a)
}

/// Reads one item header (type, reserved, 2-byte length) and its value.
fn next_item<'a>(r: &mut Reader<'a>) -> Option<(u8, Reader<'a>)> {
    let kind = r.u8()?;
    r.skip(1)?;
    let len = r.u16_be()?;
    Some((kind, r.sub(usize::from(len))?))
}

fn push_bounded<T>(list: &mut Vec<T>, value: T, max: usize, note: &mut impl FnMut(Anomaly)) {
    if list.len() < max {
        list.push(value);
    } else {
        note(Anomaly::TooManyItems);
    }
}

/// PS3.8 §9.3.2.2 (RQ, item 0x20) and §9.3.3.2 (AC, item 0x21): context id,
/// reserved, result/reason (AC) or reserved (RQ), reserved, then sub-items.
fn parse_context(
    r: &mut Reader<'_>,
    accept: bool,
    note: &mut impl FnMut(Anomaly),
) -> Option<ContextItem> {
    let mut ctx = ContextItem {
        id: r.u8()?,
        ..ContextItem::default()
    };
    r.skip(1)?;
    let result = r.u8()?;
    r.skip(1)?;
    if accept {
        ctx.result = Some(result);
    }
    while !r.is_empty() {
        let (kind, mut value) = next_item(r)?;
        let uid = text(value.rest(), MAX_UID_LEN);
        match kind {
            item::ABSTRACT_SYNTAX if !accept => ctx.abstract_syntax = Some(uid),
            item::TRANSFER_SYNTAX => {
                push_bounded(&mut ctx.transfer_syntaxes, uid, MAX_TRANSFER_SYNTAXES, note);
            }
            _ => {}
        }
    }
    Some(ctx)
}

/// PS3.8 §9.3.2.3 and PS3.7 Annex D.3.3: the user information sub-items.
fn parse_user_information(
    r: &mut Reader<'_>,
    a: &mut Associate,
    note: &mut impl FnMut(Anomaly),
) -> Option<()> {
    while !r.is_empty() {
        let (kind, mut value) = next_item(r)?;
        match kind {
            // PS3.8 D.1: maximum length received, 4 bytes.
            item::MAX_LENGTH => a.max_pdu_length = Some(value.u32_be()?),
            item::IMPLEMENTATION_CLASS_UID => {
                a.implementation_class_uid = Some(text(value.rest(), MAX_UID_LEN));
            }
            item::IMPLEMENTATION_VERSION_NAME => {
                a.implementation_version_name = Some(text(value.rest(), MAX_UID_LEN));
            }
            // PS3.7 D.3.3.4: UID length (2), SOP class UID, SCU role, SCP role.
            item::ROLE_SELECTION => {
                let uid_len = value.u16_be()?;
                let uid = text(value.take(usize::from(uid_len))?, MAX_UID_LEN);
                let role = RoleItem {
                    sop_class_uid: uid,
                    scu_role: value.u8()?,
                    scp_role: value.u8()?,
                };
                push_bounded(&mut a.roles, role, MAX_ROLE_SELECTIONS, note);
            }
            // PS3.7 D.3.3.7.1: user identity type (1), positive response
            // requested (1), then the primary field (user name, Kerberos
            // ticket, SAML assertion or JWT) and the secondary field
            // (passcode). Only the first two bytes are read: the fields are
            // credentials and never leave this function.
            item::USER_IDENTITY_RQ => {
                let kind = value.u8()?;
                let positive = value.u8()? == 1;
                a.user_identity = Some((kind, positive));
            }
            // PS3.7 D.3.3.7.2: server response; its content is a credential
            // too, only its presence is kept.
            item::USER_IDENTITY_AC => a.user_identity_response = true,
            _ => {}
        }
    }
    Some(())
}

/// A-ASSOCIATE-RJ (PS3.8 §9.3.4): reserved, result, source, reason/diag.
/// A-ABORT (§9.3.8): reserved, reserved, source, reason/diag.
/// Both have a 4-byte body; returns its last three bytes.
pub(crate) fn parse_short(body: &[u8]) -> Option<(u8, u8, u8)> {
    let mut r = Reader::new(body);
    r.skip(1)?;
    Some((r.u8()?, r.u8()?, r.u8()?))
}

/// PS3.8 Table 9-21: A-ASSOCIATE-RJ result.
pub(crate) fn reject_result_name(result: u8) -> &'static str {
    match result {
        1 => "rejected-permanent",
        2 => "rejected-transient",
        _ => "reserved",
    }
}

/// PS3.8 Table 9-21: A-ASSOCIATE-RJ source.
pub(crate) fn reject_source_name(source: u8) -> &'static str {
    match source {
        1 => "service-user",
        2 => "service-provider-acse",
        3 => "service-provider-presentation",
        _ => "reserved",
    }
}

/// PS3.8 Table 9-21: A-ASSOCIATE-RJ reason/diag., which depends on source.
pub(crate) fn reject_reason_name(source: u8, reason: u8) -> &'static str {
    match (source, reason) {
        (1, 1) | (2, 1) => "no-reason-given",
        (1, 2) => "application-context-name-not-supported",
        (1, 3) => "calling-AE-title-not-recognized",
        (1, 7) => "called-AE-title-not-recognized",
        (2, 2) => "protocol-version-not-supported",
        (3, 1) => "temporary-congestion",
        (3, 2) => "local-limit-exceeded",
        _ => "reserved",
    }
}

/// PS3.8 Table 9-26: A-ABORT source.
pub(crate) fn abort_source_name(source: u8) -> &'static str {
    match source {
        0 => "service-user",
        2 => "service-provider",
        _ => "reserved",
    }
}

/// PS3.8 Table 9-26: A-ABORT reason/diag. (significant only when the
/// source is the service provider).
pub(crate) fn abort_reason_name(reason: u8) -> &'static str {
    match reason {
        0 => "reason-not-specified",
        1 => "unrecognized-PDU",
        2 => "unexpected-PDU",
        4 => "unrecognized-PDU-parameter",
        5 => "unexpected-PDU-parameter",
        6 => "invalid-PDU-parameter-value",
        _ => "reserved",
    }
}

/// PS3.8 Table 9-18: presentation context result/reason in an AC.
pub(crate) fn context_result_name(result: u8) -> &'static str {
    match result {
        0 => "acceptance",
        1 => "user-rejection",
        2 => "no-reason",
        3 => "abstract-syntax-not-supported",
        4 => "transfer-syntaxes-not-supported",
        _ => "reserved",
    }
}

/// PS3.7 Table D.3-14: user identity type.
pub(crate) fn user_identity_type_name(kind: u8) -> &'static str {
    match kind {
        1 => "username",
        2 => "username_and_passcode",
        3 => "kerberos",
        4 => "saml",
        5 => "jwt",
        _ => "reserved",
    }
}
