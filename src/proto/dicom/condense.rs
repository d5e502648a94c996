//! A-ASSOCIATE-RQ and -AC PDUs longer than [`MAX_ASSOCIATE_PDU`], read item
//! by item.
//!
//! A legal request may be long: a JSON Web Token or SAML assertion as user
//! identity (PS3.7 D.3.3.7) runs to tens of kilobytes, and a request may
//! propose hundreds of presentation contexts. Such a PDU is not held whole.
//! Its items are: each top-level item is at most 65 539 bytes (its length
//! field has two bytes), so the parser holds one item at a time and copies
//! what it keeps into a condensed PDU — the fixed part, the application
//! context, the first [`MAX_PRESENTATION_CONTEXTS`] + 1 presentation
//! contexts with their first [`MAX_TRANSFER_SYNTAXES`] + 1 transfer
//! syntaxes, and the user information sub-items it reads, the user identity
//! cut to its type and flag (the credential itself is never copied). The
//! condensed PDU is then parsed like a short one.

use super::pdu::{ASSOCIATE_FIXED_LEN, item};
use super::{MAX_ASSOCIATE_PDU, MAX_PRESENTATION_CONTEXTS, MAX_TRANSFER_SYNTAXES, MAX_UID_LEN};

/// The longest A-ASSOCIATE-RQ/AC body read item by item, in bytes; a longer
/// one stops the direction (`oversized_pdu`). A request with a 64 KiB token
/// and 128 contexts stays far below it.
pub const MAX_LONG_ASSOCIATE_PDU: u32 = 4 << 20;

/// A sub-item value longer than this in the user information item is not
/// one the parser reads (they are a few bytes to a UID): it is left out.
const MAX_KEPT_SUB_ITEM: usize = 1024;

/// One long A-ASSOCIATE-RQ or -AC being read; see the module docs.
#[derive(Debug)]
pub struct LongAssociate {
    /// Its PDU type.
    pub kind: u8,
    /// Body bytes not yet read.
    left: u64,
    /// The condensed body so far.
    body: Vec<u8>,
    contexts: usize,
    /// Items left out past the limits.
    pub dropped: u64,
}

/// What one step of the walk did.
#[derive(Debug, PartialEq, Eq)]
pub enum Walk {
    /// More bytes are needed before anything can be consumed.
    NeedMore,
    /// This many bytes were consumed; the PDU goes on.
    Consumed(usize),
    /// The PDU is complete after this many bytes: its condensed body.
    Done(usize, Vec<u8>),
    /// An item runs past the PDU: it is malformed.
    Malformed,
}

impl LongAssociate {
    /// A walk over a body of `len` bytes of PDU type `kind`.
    pub fn new(kind: u8, len: u32) -> LongAssociate {
        LongAssociate {
            kind,
            left: u64::from(len),
            body: Vec::with_capacity(ASSOCIATE_FIXED_LEN),
            contexts: 0,
            dropped: 0,
        }
    }

    /// Reads the next piece (the fixed part, or one item) from `input`.
    pub fn step(&mut self, input: &[u8]) -> Walk {
        let (used, piece) = if self.body.is_empty() {
            match input.get(..ASSOCIATE_FIXED_LEN) {
                Some(fixed) => (ASSOCIATE_FIXED_LEN, fixed),
                None => return Walk::NeedMore,
            }
        } else {
            let Some(&[kind, _, hi, lo]) = input.get(..4) else {
                return Walk::NeedMore;
            };
            let total = 4 + usize::from(u16::from_be_bytes([hi, lo]));
            match input.get(..total) {
                Some(item) => {
                    self.item(kind, item.get(4..).unwrap_or_default());
                    (total, &[][..])
                }
                None if total as u64 > self.left => return Walk::Malformed,
                None => return Walk::NeedMore,
            }
        };
        if used as u64 > self.left {
            return Walk::Malformed;
        }
        self.body.extend_from_slice(piece);
        self.left -= used as u64;
        if self.left == 0 {
            Walk::Done(used, std::mem::take(&mut self.body))
        } else {
            Walk::Consumed(used)
        }
    }

    /// Copies what the parser reads of one top-level item.
    fn item(&mut self, kind: u8, value: &[u8]) {
        match kind {
            item::APPLICATION_CONTEXT => {
                let kept = value.get(..MAX_UID_LEN + 1).unwrap_or(value);
                push_item(&mut self.body, kind, kept);
            }
            item::PRESENTATION_CONTEXT_RQ | item::PRESENTATION_CONTEXT_AC => {
                self.contexts += 1;
                if self.contexts > MAX_PRESENTATION_CONTEXTS + 1 {
                    self.dropped += 1;
                    return;
                }
                // Context id, reserved, result, reserved; then sub-items.
                let (head, subs) = value.split_at(value.len().min(4));
                let mut kept = head.to_vec();
                let mut syntaxes = 0;
                for (sub, sub_value) in sub_items(subs) {
                    if sub == item::TRANSFER_SYNTAX {
                        syntaxes += 1;
                        if syntaxes > MAX_TRANSFER_SYNTAXES + 1 {
                            self.dropped += 1;
                            continue;
                        }
                    }
                    let sub_value = sub_value.get(..MAX_UID_LEN + 1).unwrap_or(sub_value);
                    push_item(&mut kept, sub, sub_value);
                }
                push_item(&mut self.body, kind, &kept);
            }
            item::USER_INFORMATION => {
                let mut kept = Vec::new();
                for (sub, sub_value) in sub_items(value) {
                    match sub {
                        // Type and positive-response flag: the credential
                        // that follows is never copied.
                        item::USER_IDENTITY_RQ => {
                            push_item(&mut kept, sub, sub_value.get(..2).unwrap_or(sub_value));
                        }
                        item::USER_IDENTITY_AC => push_item(&mut kept, sub, &[]),
                        _ if sub_value.len() <= MAX_KEPT_SUB_ITEM => {
                            push_item(&mut kept, sub, sub_value);
                        }
                        _ => self.dropped += 1,
                    }
                }
                push_item(&mut self.body, kind, &kept);
            }
            // PS3.8 §9.3.1: what is not recognised is ignored.
            _ => {}
        }
    }
}

/// The sub-items of an item value, as (type, value); a sub-item that runs
/// past its parent ends the list.
fn sub_items(mut rest: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    std::iter::from_fn(move || {
        let &[kind, _, hi, lo] = rest.get(..4)? else {
            return None;
        };
        let total = 4 + usize::from(u16::from_be_bytes([hi, lo]));
        let value = rest.get(4..total)?;
        rest = rest.get(total..).unwrap_or_default();
        Some((kind, value))
    })
}

/// Appends an item (type, reserved, two-byte length, value).
fn push_item(out: &mut Vec<u8>, kind: u8, value: &[u8]) {
    let len = u16::try_from(value.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&[kind, 0]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(value.get(..usize::from(len)).unwrap_or(value));
}

/// Whether a PDU of `len` body bytes is read item by item rather than whole.
pub fn is_long(len: u32) -> bool {
    len > MAX_ASSOCIATE_PDU && len <= MAX_LONG_ASSOCIATE_PDU
}
