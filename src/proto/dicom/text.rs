//! DICOM text fields as record text: AE titles and UIDs come padded with
//! spaces or a NUL, which this trims.

use crate::proto::text::Rules;

/// Network text made safe for a record: at most `max` bytes of `raw`,
/// decoded lossily as UTF-8, control characters replaced by U+FFFD, and
/// trimmed of spaces and NUL padding (DICOM pads AE titles with spaces and
/// UIDs with a NUL): the kit's sanitiser with [`Rules::DICOM`].
pub(crate) fn text(raw: &[u8], max: usize) -> String {
    crate::proto::text::text(raw, max, &Rules::DICOM).into_owned()
}
