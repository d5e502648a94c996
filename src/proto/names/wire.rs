//! The bounded byte reader, the text sanitiser and the DNS name reader
//! shared by the identity parsers (DHCP, names, SSDP, LLDP/CDP): every read
//! returns `None` or an error instead of running past the end, so nothing
//! built on them can panic on a short or lying length field.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::proto::reader::{Reader, at_most};
use crate::proto::text::{Rules, text};

/// Longest DNS name on the wire, in bytes, labels and length bytes
/// included (RFC 1035 §2.3.4); a longer one is refused (`name_too_long`).
pub const MAX_NAME_WIRE_LEN: usize = 255;

/// Compression pointers followed while reading one name; more is taken for
/// a loop (`pointer_loop`). A legitimate name needs one or two.
pub const MAX_POINTER_HOPS: usize = 16;

/// Network text made safe to report: at most `max` bytes, trimmed of
/// spaces and NUL padding, decoded lossily as UTF-8 with control characters
/// replaced by U+FFFD. Borrowed from `raw` when it is printable ASCII
/// already (the common case), so most text costs no allocation. The kit's
/// sanitiser (`proto::text`) with the identity parsers' rules.
pub fn sanitize(raw: &[u8], max: usize) -> Cow<'_, str> {
    text(raw, max, &Rules::NAME)
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
    out.push_str(&text(label, usize::MAX, &Rules::LABEL));
}

/// Reads the (possibly compressed) name where `at` stands in `message`
/// into `out` as dotted text (the root is the empty string), and moves `at`
/// just past the name where it stands: past its root label, or past its
/// first compression pointer if it has one. On an error `at` is left
/// anywhere in the name; callers read no further.
pub(crate) fn read_name<'a>(
    message: &'a [u8],
    at: &mut Reader<'a>,
    out: &mut String,
) -> Result<(), NameError> {
    out.clear();
    // Reads the labels; once a pointer is taken it runs elsewhere in the
    // message, and `at` stays just past that first pointer.
    let mut cursor = *at;
    let mut jumped = false;
    let mut hops = 0;
    let mut wire_len = 1; // the root label's length byte
    loop {
        let len = cursor.u8().ok_or(NameError::Truncated)?;
        match len >> 6 {
            0 if len == 0 => {
                if !jumped {
                    *at = cursor;
                }
                return Ok(());
            }
            0 => {
                let len = usize::from(len);
                wire_len += len + 1;
                if wire_len > MAX_NAME_WIRE_LEN {
                    return Err(NameError::TooLong);
                }
                let label = cursor.take(len).ok_or(NameError::Truncated)?;
                push_label(out, label);
            }
            3 => {
                let low = cursor.u8().ok_or(NameError::Truncated)?;
                hops += 1;
                if hops > MAX_POINTER_HOPS {
                    return Err(NameError::PointerLoop);
                }
                if !jumped {
                    *at = cursor;
                    jumped = true;
                }
                // 14-bit offset from the start of the message.
                cursor = Reader::new(message);
                cursor
                    .skip(usize::from(len & 0x3F) << 8 | usize::from(low))
                    .ok_or(NameError::Truncated)?;
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
    let bytes = at_most(bytes, max_bytes);
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
