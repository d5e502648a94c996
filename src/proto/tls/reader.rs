//! A borrowed big-endian reader over TLS bytes: every read returns `None`
//! instead of running past the end, and `sub` gives a child reader that
//! cannot run past a length-prefixed item.

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

    pub(super) fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.buf.split_first()?;
        self.buf = rest;
        Some(b)
    }

    pub(super) fn u16(&mut self) -> Option<u16> {
        let bytes: [u8; 2] = self.take(2)?.try_into().ok()?;
        Some(u16::from_be_bytes(bytes))
    }

    pub(super) fn u24(&mut self) -> Option<usize> {
        let bytes: [u8; 3] = self.take(3)?.try_into().ok()?;
        Some(usize::from(bytes[0]) << 16 | usize::from(bytes[1]) << 8 | usize::from(bytes[2]))
    }

    /// A child reader over an item prefixed by a one-byte length.
    pub(super) fn sub_u8(&mut self) -> Option<Reader<'a>> {
        let n = self.u8()?;
        self.take(usize::from(n)).map(Reader::new)
    }

    /// A child reader over an item prefixed by a two-byte length.
    pub(super) fn sub_u16(&mut self) -> Option<Reader<'a>> {
        let n = self.u16()?;
        self.take(usize::from(n)).map(Reader::new)
    }

    /// The remaining bytes as big-endian 16-bit values; `None` if their
    /// number is odd.
    pub(super) fn u16_list(&mut self) -> Option<Vec<u16>> {
        let rest = self.rest();
        if rest.len() % 2 != 0 {
            return None;
        }
        Some(
            rest.chunks_exact(2)
                .filter_map(|pair| pair.try_into().ok().map(u16::from_be_bytes))
                .collect(),
        )
    }

    /// Everything not read yet.
    pub(super) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}
