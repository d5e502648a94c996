//! The one borrowed byte reader of the binary protocols (TLS, SMB, DICOM,
//! MQTT, and the banner protocols SNMP, RDP, VNC, TFTP): every read returns
//! `None` instead of running past the end, and the `sub` readers cannot run
//! past a length-prefixed item. Multi-byte reads name their byte order (TLS
//! and DICOM's PDU headers are big-endian, SMB and DICOM's data sets
//! little-endian). A parser that names what went wrong (MQTT's anomalies)
//! maps the `None` to its own error at the call. Also here: the trim of
//! the padding around fixed-width text fields, which DICOM and NetBIOS share.

/// `raw` without the NUL and ASCII white space around it: the padding of
/// fixed-width text fields (DICOM AE titles and UIDs, NetBIOS names).
pub(crate) fn trim_padding(raw: &[u8]) -> &[u8] {
    let padding = |b: &u8| *b == 0 || b.is_ascii_whitespace();
    let start = raw.iter().position(|b| !padding(b)).unwrap_or(raw.len());
    let end = raw
        .iter()
        .rposition(|b| !padding(b))
        .map_or(start, |i| i + 1);
    raw.get(start..end).unwrap_or_default()
}

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

    /// A child reader over the next `n` bytes.
    pub(crate) fn sub(&mut self, n: usize) -> Option<Reader<'a>> {
        self.take(n).map(Reader::new)
    }

    /// Steps over the next `n` bytes; `None` (and nothing consumed) if fewer
    /// remain.
    pub(crate) fn skip(&mut self, n: usize) -> Option<()> {
        self.take(n).map(|_| ())
    }

    /// The bytes not read yet, left in place.
    pub(crate) fn remaining(&self) -> &'a [u8] {
        self.buf
    }

    /// A child reader over an item prefixed by a one-byte length.
    pub(crate) fn sub_u8(&mut self) -> Option<Reader<'a>> {
        let n = self.u8()?;
        self.sub(usize::from(n))
    }

    /// A child reader over an item prefixed by a big-endian two-byte length.
    pub(crate) fn sub_u16_be(&mut self) -> Option<Reader<'a>> {
        let n = self.u16_be()?;
        self.sub(usize::from(n))
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.buf.split_first()?;
        self.buf = rest;
        Some(b)
    }

    pub(crate) fn u16_be(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.array()?))
    }

    pub(crate) fn u16_le(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.array()?))
    }

    pub(crate) fn u24_be(&mut self) -> Option<usize> {
        let [a, b, c]: [u8; 3] = self.array()?;
        Some(usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c))
    }

    pub(crate) fn u32_be(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.array()?))
    }

    pub(crate) fn u32_le(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.array()?))
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    /// The remaining bytes as big-endian 16-bit values; `None` if their
    /// number is odd.
    pub(crate) fn u16_be_list(&mut self) -> Option<Vec<u16>> {
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

    /// The bytes up to the next 0x00, which is consumed too; `None` (and
    /// nothing consumed) if there is none.
    pub(crate) fn until_nul(&mut self) -> Option<&'a [u8]> {
        let end = memchr::memchr(0, self.buf)?;
        let text = self.take(end)?;
        self.take(1)?;
        Some(text)
    }

    /// Everything not read yet.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}
