//! DICOM text fields as record text: AE titles and UIDs come padded with
//! spaces or a NUL, which this trims.

/// Network text made safe for a record: at most `max` bytes of `raw`,
/// decoded lossily as UTF-8, control characters replaced by U+FFFD, and
/// trimmed of spaces and NUL padding (DICOM pads AE titles with spaces and
/// UIDs with a NUL).
pub(crate) fn text(raw: &[u8], max: usize) -> String {
    let raw = raw.get(..max).unwrap_or(raw);
    let padding = |b: &u8| *b == 0 || b.is_ascii_whitespace();
    let start = raw.iter().position(|b| !padding(b)).unwrap_or(raw.len());
    let end = raw
        .iter()
        .rposition(|b| !padding(b))
        .map_or(start, |i| i + 1);
    let raw = raw.get(start..end).unwrap_or_default();
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
