//! Any bytes, cut into segments of either direction, fed to the DICOM parser
//! the way a worker feeds it: it returns, and keeps within its pending bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medtap::proto::dicom::DicomParser;
use medtap::proto::{Direction, StreamParser, feed_all};

fuzz_target!(|data: &[u8]| {
    // Each segment: a control byte (bit 0: direction, bits 1-7: length - 1
    // in units of 1 byte, or of 512 bytes when the length bits are all set),
    // then its bytes.
    let mut segments = Vec::new();
    let mut rest = data;
    while let Some((&control, tail)) = rest.split_first() {
        let direction = if control & 1 == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let len = match usize::from(control >> 1) {
            127 => 512 * 64,
            n => n + 1,
        };
        let (segment, tail) = tail.split_at(len.min(tail.len()));
        segments.push((direction, segment));
        rest = tail;
    }
    let _ = DicomParser::probe(Direction::ToServer, data);
    std::hint::black_box(feed_all::<DicomParser>(&segments));
});
