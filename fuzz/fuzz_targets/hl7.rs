//! Any bytes, cut into segments of either direction, fed to the HL7/MLLP
//! parser as a worker would: it returns, and what it reports stays within
//! its limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medtap::proto::hl7::{Hl7Parser, MAX_DEVICE_IDS, MAX_SEGMENT_NAMES, MAX_VALUE_LEN};
use medtap::proto::{Direction, feed_all};

fuzz_target!(|data: &[u8]| {
    // Each segment: one control byte (bit 0: direction, bits 1-7: length - 1),
    // then up to that many bytes.
    let mut segments = Vec::new();
    let mut rest = data;
    while let Some((&ctl, tail)) = rest.split_first() {
        let len = usize::from(ctl >> 1) + 1;
        let (seg, next) = tail.split_at(len.min(tail.len()));
        let direction = if ctl & 1 == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        segments.push((direction, seg));
        rest = next;
    }
    for m in feed_all::<Hl7Parser>(&segments) {
        assert!(m.device_identifiers.len() <= MAX_DEVICE_IDS);
        assert!(m.segments.iter().count() <= MAX_SEGMENT_NAMES);
        for v in [
            &m.sending_application,
            &m.sending_facility,
            &m.receiving_application,
            &m.receiving_facility,
            &m.control_id,
            &m.ack_control_id,
        ]
        .into_iter()
        .flatten()
        {
            assert!(v.len() <= MAX_VALUE_LEN);
        }
    }
});
