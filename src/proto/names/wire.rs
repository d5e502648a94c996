//! The bounded byte reader, the text sanitiser and the DNS name reader
//! shared by the identity parsers (DHCP, names, SSDP, LLDP/CDP): every read
//! returns `None` or an error instead of running past the end, so nothing
//! built on them can panic on a short or lying length field.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::proto::reader::trim_padding;

/// Longest DNS name on the wire, in bytes, labels and length bytes
/// included (RFC 1035 §2.3.4); a longer one is refused (`name_too_long`).
pub const MAX_NAME_WIRE_LEN: usize = 255;

/// Compression pointers followed while reading one name; more is taken for
/// a loop (`pointer_loop`). A legitimate name needs one or two.
pub const MAX_POINTER_HOPS: usize = 16;

/// Reads from a borrowed byte slice, front to back, remembering the offset
/// (DNS compression pointers are offsets into the whole message).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// A reader over `buf` that starts at `pos`.
    pub(crate) fn at(buf: &'a [u8], pos: usize) -> Self {
        Reader { buf, pos }
    }

    /// Offset of the next byte in the slice the reader was made over.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// The next `n` bytes, or `None` (and nothing consumed) if fewer remain.
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let bytes = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(bytes)
    }

    pub(crate) fn skip(&mut self, n: usize) -> Option<()> {
        self.take(n).map(|_| ())
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        let &b = self.buf.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    pub(crate) fn u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_be_bytes)
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_be_bytes)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    /// Everything not read yet.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        self.pos = self.buf.len();
        rest
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }
}

/// Network text made safe to report: at most `max` bytes, trimmed of
/// spaces and NUL padding, decoded lossily as UTF-8 with control characters
/// replaced by U+FFFD. Borrowed from `raw` when it is printable ASCII
/// already (the common case), so most text costs no allocation.
pub fn sanitize(raw: &[u8], max: usize) -> Cow<'_, str> {
    let raw = trim_padding(raw);
    let cut = raw.get(..max).unwrap_or(raw);
    if cut.iter().all(|b| (0x20..0x7F).contains(b)) {
        // Printable ASCII is valid UTF-8; the fallback is never taken.
        return std::str::from_utf8(cut).map_or(Cow::Borrowed(""), Cow::Borrowed);
    }
    let mut text = String::with_capacity(cut.len());
    for c in String::from_utf8_lossy(cut).chars() {
        let c = if c.is_control() {
            char::REPLACEMENT_CHARACTER
        } else {
            c
        };
        if text.len() + c.len_utf8() > max {
            break;
        }
        text.push(c);
    }
    Cow::Owned(text.trim_end().to_string())
}

/// Why a DNS name could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameError {
    /// A label or pointer runs past the end of the message.
    Truncated,
    /// The name is longer than [`MAX_NAME_WIRE_LEN`].
    TooLong,
    /// More than [`MAX_POINTER_HOPS`] compression pointers.
    PointerLoop,
    /// A label type other than a plain label or a pointer (0x40, 0x80).
    BadLabel,
}

/// Appends one label to a dotted presentation name: printable text as is,
/// anything else sanitised (mDNS instance names are UTF-8 with spaces).
fn push_label(out: &mut String, label: &[u8]) {
    if !out.is_empty() {
        out.push('.');
    }
    if label.iter().all(|b| (0x21..0x7F).contains(b)) {
        out.extend(label.iter().map(|&b| char::from(b)));
    } else {
        out.extend(String::from_utf8_lossy(label).chars().map(|c| {
            if c.is_control() {
                char::REPLACEMENT_CHARACTER
            } else {
                c
            }
        }));
    }
}

/// Reads the (possibly compressed) name at `start` in `message` into `out`
/// as dotted text (the root is the empty string). Returns the offset just
/// after the name where it starts, i.e. after its first pointer if any.
pub(crate) fn read_name(
    message: &[u8],
    start: usize,
    out: &mut String,
) -> Result<usize, NameError> {
    out.clear();
    let mut pos = start;
    let mut after: Option<usize> = None;
    let mut hops = 0;
    let mut wire_len = 1; // the root label's length byte
    loop {
        let &len = message.get(pos).ok_or(NameError::Truncated)?;
        match len >> 6 {
            0 if len == 0 => return Ok(after.unwrap_or(pos + 1)),
            0 => {
                let len = usize::from(len);
                wire_len += len + 1;
                if wire_len > MAX_NAME_WIRE_LEN {
                    return Err(NameError::TooLong);
                }
                let label = message
                    .get(pos + 1..pos + 1 + len)
                    .ok_or(NameError::Truncated)?;
                push_label(out, label);
                pos += 1 + len;
            }
            3 => {
                let &low = message.get(pos + 1).ok_or(NameError::Truncated)?;
                hops += 1;
                if hops > MAX_POINTER_HOPS {
                    return Err(NameError::PointerLoop);
                }
                after.get_or_insert(pos + 2);
                pos = usize::from(len & 0x3F) << 8 | usize::from(low);
            }
            _ => return Err(NameError::BadLabel),
        }
    }
}

/// Reads an uncompressed name filling all of `data` (DHCP client FQDN
/// options, RFC 4702 §2.3.1 and RFC 4704 §4.1): a name with no final root
/// label is a partial name, which is allowed; pointers are not.
pub(crate) fn read_uncompressed_name(data: &[u8]) -> Result<String, NameError> {
    let mut out = String::new();
    let mut reader = Reader::new(data);
    let mut wire_len = 1;
    while let Some(len) = reader.u8() {
        if len == 0 {
            break;
        }
        if len >> 6 != 0 {
            return Err(NameError::BadLabel);
        }
        wire_len += usize::from(len) + 1;
        if wire_len > MAX_NAME_WIRE_LEN {
            return Err(NameError::TooLong);
        }
        let label = reader.take(usize::from(len)).ok_or(NameError::Truncated)?;
        push_label(&mut out, label);
    }
    Ok(out)
}

/// Lower-case hexadecimal of at most `max_bytes` of `bytes`, for
/// identifiers that are binary (client ids, DUIDs, chassis ids).
pub fn hex(bytes: &[u8], max_bytes: usize) -> String {
    let bytes = bytes.get(..max_bytes).unwrap_or(bytes);
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// `aa:bb:cc:dd:ee:ff`, the way tshark and the inventory print a MAC.
pub fn mac_text(mac: [u8; 6]) -> String {
    let [a, b, c, d, e, f] = mac;
    format!("{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{f:02x}")
}
