//! A borrowed reader over SMB bytes (little-endian, but for the NetBIOS
//! length): every read returns `None` instead of running past the end.

/// Reads from the front of a borrowed byte slice.
#[derive(Debug, Clone, Copy)]
pub(super) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(super) fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    /// The next `n` bytes, or `None` (and nothing consumed) if fewer remain.
    pub(super) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.buf.split_at_checked(n)?;
        self.buf = rest;
        Some(head)
    }

    /// A child reader over the next `n` bytes.
    pub(super) fn sub(&mut self, n: usize) -> Option<Reader<'a>> {
        self.take(n).map(Reader::new)
    }

    pub(super) fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.buf.split_first()?;
        self.buf = rest;
        Some(b)
    }

    pub(super) fn u16_le(&mut self) -> Option<u16> {
        let bytes: [u8; 2] = self.take(2)?.try_into().ok()?;
        Some(u16::from_le_bytes(bytes))
    }

    pub(super) fn u32_le(&mut self) -> Option<u32> {
        let bytes: [u8; 4] = self.take(4)?.try_into().ok()?;
        Some(u32::from_le_bytes(bytes))
    }

    /// The NetBIOS session header's 3-byte big-endian length.
    pub(super) fn u24_be(&mut self) -> Option<usize> {
        let [a, b, c]: [u8; 3] = self.take(3)?.try_into().ok()?;
        Some(usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c))
    }

    /// The bytes up to the next 0x00, which is consumed too; `None` (and
    /// nothing consumed) if there is none.
    pub(super) fn until_nul(&mut self) -> Option<&'a [u8]> {
        let end = memchr::memchr(0, self.buf)?;
        let text = self.take(end)?;
        self.take(1)?;
        Some(text)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}
