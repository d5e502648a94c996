//! DICOM text fields as record text: AE titles and UIDs come padded with
//! spaces or a NUL, which this trims.

use crate::proto::reader::trim_padding;

/// Network text made safe for a record: at most `max` bytes of `raw`,
/// decoded lossily as UTF-8, control characters replaced by U+FFFD, and
/// trimmed of spaces and NUL padding (DICOM pads AE titles with spaces and
/// UIDs with a NUL).
pub(crate) fn text(raw: &[u8], max: usize) -> String {
    let raw = raw.get(..max).unwrap_or(raw);
    let raw = trim_padding(raw);
    // Common case (UIDs, AE titles): printable ASCII, one allocation.
    if raw.iter().all(|b| (0x20..0x7F).contains(b)) {
        return String::from_utf8_lossy(raw).into_owned();
    }
    String::from_utf8_lossy(raw)
        .chars()
        .map(|c| {
            if c.is_control() {
                char::REPLACEMENT_CHARACTER
            } else {
                c
            }
        })
        .collect::<String>()
        .trim()
        .to_string()
}
