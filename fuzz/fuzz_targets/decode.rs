//! Any bytes, under any link type, with and without checksum checks: the
//! decoder returns, and a payload range it gives lies inside the frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medtap::decode::{DecodeOptions, LinkType, decode};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, frame)) = data.split_first() else {
        return;
    };
    let link = LinkType::from_dlt([1, 113, 276, 101, 228, 229, 0, 108][usize::from(selector % 8)]);
    let options = DecodeOptions {
        verify_checksums: selector & 0x80 != 0,
    };
    if let Ok(decoded) = decode(link, frame, &options) {
        let end = decoded.payload_offset as usize + decoded.payload_len as usize;
        assert!(end <= frame.len());
    }
});
