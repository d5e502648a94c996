//! TFTP read and write requests (RFC 1350 §5, options RFC 2347), one UDP
//! datagram to port 69: the opcode, the file name and the transfer mode. A
//! device fetching its firmware or configuration by TFTP names it here, in
//! the clear and without authentication.
//!
//! Guarantees: never panics; the file name is cut to
//! [`MAX_FILENAME_LEN`] and made printable; options after the mode are not
//! read.
//!
//! Refuses: an opcode other than RRQ (1) or WRQ (2), and a file name or
//! mode without its NUL terminator or empty; each a [`TftpAnomaly`].
use super::printable;
use crate::proto::reader::Reader;

/// Longest file name kept, in bytes; a longer one is cut. RFC 1350 sets
/// none; a request must fit a 512-byte datagram in practice.
pub const MAX_FILENAME_LEN: usize = 256;

/// Longest mode, in bytes ("netascii", the longest RFC 1350 mode, is 8).
pub const MAX_MODE_LEN: usize = 16;

const OPCODE_RRQ: u16 = 1;
const OPCODE_WRQ: u16 = 2;

/// Why a datagram is not a TFTP request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TftpAnomaly {
    /// Shorter than an opcode.
    Truncated,
    /// The opcode is not RRQ or WRQ (DATA, ACK, ERROR, OACK, or not TFTP).
    NotRequest,
    /// The file name is empty or has no NUL terminator.
    BadFilename,
    /// The mode is empty, too long, not ASCII letters, or has no NUL.
    BadMode,
}

impl TftpAnomaly {
    /// A stable snake_case name, for counters.
    pub fn name(self) -> &'static str {
        match self {
            TftpAnomaly::Truncated => "truncated",
            TftpAnomaly::NotRequest => "not_request",
            TftpAnomaly::BadFilename => "bad_filename",
            TftpAnomaly::BadMode => "bad_mode",
        }
    }
}

/// Read or write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TftpOpcode {
    /// RRQ: the client fetches a file.
    Read,
    /// WRQ: the client sends a file.
    Write,
}

/// A read or write request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TftpRequest {
    /// RRQ or WRQ.
    pub opcode: TftpOpcode,
    /// The file name, printable, cut to [`MAX_FILENAME_LEN`].
    pub filename: String,
    /// The mode, lowercase ("netascii", "octet", "mail").
    pub mode: String,
}

/// Parses a TFTP request, the payload of one UDP datagram.
pub fn parse_request(datagram: &[u8]) -> Result<TftpRequest, TftpAnomaly> {
    let mut r = Reader::new(datagram);
    let opcode = match r.u16_be().ok_or(TftpAnomaly::Truncated)? {
        OPCODE_RRQ => TftpOpcode::Read,
        OPCODE_WRQ => TftpOpcode::Write,
        _ => return Err(TftpAnomaly::NotRequest),
    };
    let filename = r.until_nul().ok_or(TftpAnomaly::BadFilename)?;
    if filename.is_empty() {
        return Err(TftpAnomaly::BadFilename);
    }
    let mode = r.until_nul().ok_or(TftpAnomaly::BadMode)?;
    if mode.is_empty() || mode.len() > MAX_MODE_LEN || !mode.iter().all(u8::is_ascii_alphabetic) {
        return Err(TftpAnomaly::BadMode);
    }
    Ok(TftpRequest {
        opcode,
        filename: printable(filename, MAX_FILENAME_LEN),
        mode: String::from_utf8_lossy(mode).to_ascii_lowercase(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_read_request_with_options() {
        // RRQ "pump.cfg" octet, blksize 1428 (RFC 2348).
        let request = parse_request(b"\x00\x01pump.cfg\x00OCTET\x00blksize\x001428\x00").unwrap();
        assert_eq!(request.opcode, TftpOpcode::Read);
        assert_eq!(request.filename, "pump.cfg");
        assert_eq!(request.mode, "octet");
    }

    #[test]
    fn a_write_request() {
        let request = parse_request(b"\x00\x02logs/ward 3.txt\x00netascii\x00").unwrap();
        assert_eq!(request.opcode, TftpOpcode::Write);
        assert_eq!(request.filename, "logs/ward 3.txt");
    }

    #[test]
    fn other_packets_are_refused() {
        assert_eq!(parse_request(b"\x00"), Err(TftpAnomaly::Truncated));
        assert_eq!(
            parse_request(b"\x00\x03\x00\x01data"),
            Err(TftpAnomaly::NotRequest)
        );
        assert_eq!(
            parse_request(b"\x00\x01\x00octet\x00"),
            Err(TftpAnomaly::BadFilename)
        );
        assert_eq!(
            parse_request(b"\x00\x01name"),
            Err(TftpAnomaly::BadFilename)
        );
        assert_eq!(
            parse_request(b"\x00\x01name\x00oc"),
            Err(TftpAnomaly::BadMode)
        );
        assert_eq!(
            parse_request(b"\x00\x01name\x00\x00"),
            Err(TftpAnomaly::BadMode)
        );
        assert_eq!(
            parse_request(b"\x00\x01name\x00oc-t\x00"),
            Err(TftpAnomaly::BadMode)
        );
    }

    #[test]
    fn a_long_file_name_is_cut() {
        let mut bytes = b"\x00\x01".to_vec();
        bytes.extend(vec![b'f'; MAX_FILENAME_LEN + 1]);
        bytes.extend_from_slice(b"\x00octet\x00");
        assert_eq!(
            parse_request(&bytes).unwrap().filename.len(),
            MAX_FILENAME_LEN
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse_request(&bytes);
        }
    }
}
