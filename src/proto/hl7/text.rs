//! The inside of one HL7 v2 segment (HL7 v2.5.1 ch. 2.5–2.7): delimiters from
//! MSH-1/MSH-2, fields, repetitions and components of a borrowed segment, and
//! the conversion of one kept value into bounded, printable text.
//!
//! Nothing here allocates except [`text`], which is only called for the
//! handful of fields the parser keeps, and nothing indexes network bytes
//! without a bound check.

use crate::proto::text::Rules;

/// Longest text kept for one value (an application name, a control id, a
/// device identifier), in bytes of UTF-8 after decoding. Longer values are
/// cut at a character boundary and the message notes `value_truncated`.
pub const MAX_VALUE_LEN: usize = 256;

/// The delimiters of one message: MSH-1 and the characters of MSH-2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encoding {
    /// Field separator, MSH-1 (the byte after "MSH").
    pub field: u8,
    /// Component separator, MSH-2 position 1.
    pub component: u8,
    /// Repetition separator, MSH-2 position 2.
    pub repetition: Option<u8>,
    /// Escape character, MSH-2 position 3.
    pub escape: Option<u8>,
    /// Subcomponent separator, MSH-2 position 4.
    pub subcomponent: Option<u8>,
}

impl Encoding {
    /// The delimiters HL7 recommends: `|^~\&`.
    pub const DEFAULT: Encoding = Encoding {
        field: b'|',
        component: b'^',
        repetition: Some(b'~'),
        escape: Some(b'\\'),
        subcomponent: Some(b'&'),
    };

    /// The default delimiters with another field separator, used when MSH-2
    /// is unusable.
    pub fn default_with_field(field: u8) -> Encoding {
        Encoding {
            field,
            ..Encoding::DEFAULT
        }
    }
}

impl Default for Encoding {
    fn default() -> Self {
        Encoding::DEFAULT
    }
}

/// Whether `b` may serve as a delimiter: printable ASCII, not a letter or
/// digit (HL7 v2.5.1 §2.5.4), and not a space.
pub fn is_delimiter(b: u8) -> bool {
    b.is_ascii_graphic() && !b.is_ascii_alphanumeric()
}

/// Reads MSH-2 given the field separator MSH-1. MSH-2 holds 1 to 5 distinct
/// delimiters (the fifth, the truncation character of v2.7, is accepted and
/// ignored); each must differ from the field separator.
pub fn parse_encoding(field: u8, msh2: &[u8]) -> Option<Encoding> {
    if !is_delimiter(field) || msh2.is_empty() || msh2.len() > 5 {
        return None;
    }
    for (i, &c) in msh2.iter().enumerate() {
        if !is_delimiter(c) || c == field || msh2.get(..i)?.contains(&c) {
            return None;
        }
    }
    Some(Encoding {
        field,
        component: *msh2.first()?,
        repetition: msh2.get(1).copied(),
        escape: msh2.get(2).copied(),
        subcomponent: msh2.get(3).copied(),
    })
}

/// Field `n` of a segment as the raw bytes between field separators, where
/// field 0 is the segment name. For MSH, field `n` of this numbering is
/// MSH-(n+1), since MSH-1 is the separator itself.
pub fn field(segment: &[u8], separator: u8, n: usize) -> &[u8] {
    segment
        .split(move |&b| b == separator)
        .nth(n)
        .unwrap_or_default()
}

/// The repetitions of a field (only the first when the message declares no
/// repetition separator).
pub fn repetitions<'a>(field: &'a [u8], enc: &Encoding) -> impl Iterator<Item = &'a [u8]> {
    let rep = enc.repetition;
    field.split(move |&b| Some(b) == rep)
}

/// The first repetition of a field.
pub fn first_repetition<'a>(field: &'a [u8], enc: &Encoding) -> &'a [u8] {
    repetitions(field, enc).next().unwrap_or_default()
}

/// Component `n` (1-based) of one repetition.
pub fn component<'a>(value: &'a [u8], enc: &Encoding, n: usize) -> &'a [u8] {
    let sep = enc.component;
    value
        .split(move |&b| b == sep)
        .nth(n.saturating_sub(1))
        .unwrap_or_default()
}

/// Text kept from one value: the escape sequences `\F\ \S\ \T\ \R\ \E\`
/// (HL7 v2.5.1 §2.7.1) replaced by the delimiter they stand for, other escape
/// sequences kept as written, component separators written as `^` and
/// subcomponent separators as `&` whatever the message uses (trailing empty
/// components dropped), control characters replaced by U+FFFD, surrounding
/// whitespace trimmed, at most [`MAX_VALUE_LEN`] bytes. Returns the text
/// (`None` when empty) and whether it was cut.
///
/// The unescaping and the mapping of delimiters make this more than the
/// kit's sanitiser (`proto::text`), which does only its decoding step
/// (lossy UTF-8, controls made U+FFFD, trimmed). The cut to
/// [`MAX_VALUE_LEN`] stays here: it falls after the leading trim, at a
/// character boundary, and says whether anything was cut, which HL7's
/// `value_truncated` needs and no other caller does.
pub fn text(raw: &[u8], enc: &Encoding) -> (Option<String>, bool) {
    let mut end = raw.len();
    while end > 0 {
        match raw.get(end - 1) {
            Some(&b) if b == enc.component || Some(b) == enc.subcomponent => end -= 1,
            _ => break,
        }
    }
    let raw = raw.get(..end).unwrap_or_default();
    // Most values are short printable ASCII with nothing to unescape or map:
    // those need only the one allocation of the value itself.
    let plain = raw.len() <= MAX_VALUE_LEN
        && raw.iter().all(|&b| {
            (0x20..0x7F).contains(&b)
                && Some(b) != enc.escape
                && (b != enc.component || b == b'^')
                && (Some(b) != enc.subcomponent || b == b'&')
        });
    if plain && let Ok(ascii) = std::str::from_utf8(raw) {
        let trimmed = ascii.trim();
        return ((!trimmed.is_empty()).then(|| trimmed.to_owned()), false);
    }
    // Work on a bounded prefix: the output is never longer than the input
    // (every escape sequence is at least as long as what replaces it), so a
    // prefix a little past MAX_VALUE_LEN decides the kept text.
    let limit = MAX_VALUE_LEN.saturating_mul(4);
    let mut bytes = Vec::with_capacity(raw.len().min(limit));
    let mut i = 0;
    while i < raw.len() && bytes.len() < limit {
        let Some(&b) = raw.get(i) else { break };
        if Some(b) == enc.escape {
            let close = raw
                .get(i + 1..)
                .and_then(|r| r.iter().position(|&c| Some(c) == enc.escape));
            if let Some(len) = close {
                let seq = raw.get(i + 1..i + 1 + len).unwrap_or_default();
                let plain = match seq {
                    b"F" => Some(enc.field),
                    b"S" => Some(enc.component),
                    b"T" => enc.subcomponent,
                    b"R" => enc.repetition,
                    b"E" => enc.escape,
                    _ => None,
                };
                match plain {
                    Some(p) => bytes.push(p),
                    None => bytes.extend_from_slice(raw.get(i..i + len + 2).unwrap_or_default()),
                }
                i += len + 2;
                continue;
            }
        }
        bytes.push(if b == enc.component {
            b'^'
        } else if Some(b) == enc.subcomponent {
            b'&'
        } else {
            b
        });
        i += 1;
    }
    let cut_input = i < raw.len();
    let cleaned = crate::proto::text::text(&bytes, usize::MAX, &Rules::DECODED);
    let (kept, cut) = bound(&cleaned);
    let kept = kept.trim_end();
    let value = (!kept.is_empty()).then(|| kept.to_owned());
    (value, cut || cut_input)
}

/// The longest prefix of `s` of at most [`MAX_VALUE_LEN`] bytes that ends on
/// a character boundary, and whether anything was cut.
fn bound(s: &str) -> (&str, bool) {
    if s.len() <= MAX_VALUE_LEN {
        return (s, false);
    }
    let mut end = MAX_VALUE_LEN;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    (s.get(..end).unwrap_or_default(), true)
}
