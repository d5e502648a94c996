//! The one borrowed byte reader of the binary protocols (TLS, SMB, DICOM,
//! MQTT, the banner protocols SNMP, RDP, VNC, TFTP, and the identity
//! protocols DHCP, DNS/mDNS/NBNS, LLDP and CDP): every read returns `None`
//! instead of running past the end, and the `sub` readers cannot run past a
//! length-prefixed item. Multi-byte reads name their byte order (TLS, DNS,
//! DHCP and DICOM's PDU headers are big-endian, SMB and DICOM's data sets
//! little-endian). A parser that names what went wrong (MQTT's anomalies,
//! DHCP's and LLDP's) maps the `None` to its own error at the call. Also
//! here: [`at_most`], the cut of a field to a bound, and [`trim_padding`],
//! the trim of the padding around fixed-width text fields, which DICOM and
//! NetBIOS share.

/// The first `max` bytes of `bytes`, or all of them when there are fewer:
/// the cut of a field to the length kept of it.
pub(crate) fn at_most(bytes: &[u8], max: usize) -> &[u8] {
    bytes.split_at_checked(max).map_or(bytes, |(head, _)| head)
}

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

    /// The bytes of an item prefixed by a one-byte length (a DHCPv4
    /// option's value, a DNS character-string); [`Reader::sub_u8`] when the
    /// item is read further. `None` when the length or the item runs past
    /// the end (the length byte is consumed then).
    pub(crate) fn prefixed_u8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }

    /// The bytes of an item prefixed by a big-endian two-byte length (a
    /// DHCPv6 option's value, a DNS record's data, an NBNS record's data);
    /// `None` when the length or the item runs past the end.
    pub(crate) fn prefixed_u16_be(&mut self) -> Option<&'a [u8]> {
        let n = self.u16_be()?;
        self.take(usize::from(n))
    }

    /// A type-length-value item of a big-endian two-byte type and two-byte
    /// length (a TLS extension, a DHCPv6 option): its type and a child
    /// reader over its value. `None` when the header or the value runs past
    /// the end.
    pub(crate) fn tlv_u16_be(&mut self) -> Option<(u16, Reader<'a>)> {
        let kind = self.u16_be()?;
        Some((kind, self.sub_u16_be()?))
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

    /// The next `N` bytes as an array (an IPv4 address, a MAC, a header of
    /// single-byte fields to destructure); `None` (and nothing consumed) if
    /// fewer remain.
    pub(crate) fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    /// The remaining bytes as big-endian 16-bit values; `None` if their
    /// number is odd.
    pub(crate) fn u16_be_list(&mut self) -> Option<Vec<u16>> {
        let rest = self.rest();
        if !rest.len().is_multiple_of(2) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_cuts_to_the_bound_or_keeps_all() {
        assert_eq!(at_most(b"abcdef", 3), b"abc");
        assert_eq!(at_most(b"ab", 3), b"ab");
        assert_eq!(at_most(b"abc", 3), b"abc");
        assert_eq!(at_most(b"", 0), b"");
        assert_eq!(at_most(b"abc", 0), b"");
    }

    #[test]
    fn prefixed_items_stop_at_their_length() {
        // A one-byte length 2, "ab", then a one-byte length 5 with 1 byte.
        let mut r = Reader::new(b"\x02ab\x05c");
        assert_eq!(r.prefixed_u8(), Some(&b"ab"[..]));
        assert_eq!(r.prefixed_u8(), None);
        assert_eq!(
            r.remaining(),
            b"c",
            "the length byte is consumed, not the item"
        );
        assert_eq!(Reader::new(b"").prefixed_u8(), None);
        assert_eq!(Reader::new(b"\x00").prefixed_u8(), Some(&b""[..]));

        // A two-byte big-endian length 3, "xyz"; then a length 0x0100 with 1 byte.
        let mut r = Reader::new(b"\x00\x03xyz\x01\x00q");
        assert_eq!(r.prefixed_u16_be(), Some(&b"xyz"[..]));
        assert_eq!(r.prefixed_u16_be(), None);
        assert_eq!(
            Reader::new(b"\x00").prefixed_u16_be(),
            None,
            "half a length"
        );
    }

    #[test]
    fn a_tlv_gives_its_type_and_a_reader_bounded_to_its_value() {
        // Type 0x002b, length 3, value 02 03 04; then a byte after it.
        let mut r = Reader::new(&[0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04, 0xff]);
        let (kind, mut value) = r.tlv_u16_be().unwrap();
        assert_eq!(kind, 0x002b);
        assert_eq!(value.u16_be(), Some(0x0203));
        assert_eq!(value.u16_be(), None, "the value ends before the next item");
        assert_eq!(r.remaining(), &[0xff]);
        // A value longer than what remains, and a header cut short.
        assert!(Reader::new(&[0, 1, 0, 2, 9]).tlv_u16_be().is_none());
        assert!(Reader::new(&[0, 1, 0]).tlv_u16_be().is_none());
        // An empty value is an item.
        let (kind, value) = Reader::new(&[0, 7, 0, 0]).tlv_u16_be().unwrap();
        assert_eq!((kind, value.is_empty()), (7, true));
    }

    #[test]
    fn arrays_take_exactly_n_bytes_or_nothing() {
        let mut r = Reader::new(&[192, 0, 2, 1, 9]);
        assert_eq!(r.array::<4>(), Some([192, 0, 2, 1]));
        assert_eq!(r.array::<2>(), None);
        assert_eq!(r.remaining(), &[9]);
        assert_eq!(r.array::<0>(), Some([]));
    }
}
