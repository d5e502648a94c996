//! A borrowed reader over network bytes: every read returns `None` instead of
//! running past the end, so the parsers built on it cannot panic on a short
//! or lying length field.

/// Reads from the front of a borrowed byte slice.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    /// The next `n` bytes, or `None` (and nothing consumed) if fewer remain.
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.buf.split_at_checked(n)?;
        self.buf = rest;
        Some(head)
    }

    /// A child reader over the next `n` bytes, which cannot read past them.
    pub(crate) fn sub(&mut self, n: usize) -> Option<Reader<'a>> {
        self.take(n).map(Reader::new)
    }

    pub(crate) fn skip(&mut self, n: usize) -> Option<()> {
        self.take(n).map(|_| ())
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.buf.split_first()?;
        self.buf = rest;
        Some(b)
    }

    pub(crate) fn u16_be(&mut self) -> Option<u16> {
        self.array().map(u16::from_be_bytes)
    }

    pub(crate) fn u32_be(&mut self) -> Option<u32> {
        self.array().map(u32::from_be_bytes)
    }

    pub(crate) fn u16_le(&mut self) -> Option<u16> {
        self.array().map(u16::from_le_bytes)
    }

    pub(crate) fn u32_le(&mut self) -> Option<u32> {
        self.array().map(u32::from_le_bytes)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    /// Everything not read yet.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

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
