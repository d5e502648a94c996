//! Any sequence of TCP segments — out of order, overlapping, retransmitted,
//! with gaps, acknowledgments past data never seen, cut-off tails — through
//! one connection's session: reassembly, detection and whichever parser the
//! bytes select. Nothing panics, the held bytes stay within their bound and
//! are all given back when the session ends.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medtap::flow::reassembly::{Budget, MAX_HELD_BYTES_PER_DIRECTION};
use medtap::proto::Direction;
use medtap::proto::session::{ProtocolCounters, Session, SessionOutput, TcpSegment};

/// Bytes of the first segments' payloads are taken from this prefix, so the
/// fuzzer can reach every parser through detection quickly.
const STARTS: [&[u8]; 4] = [
    b"",
    b"\x0bMSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5\r",
    b"\x10\x10\x00\x04MQTT\x04\x02\x00\x3c\x00\x04pump",
    b"\x01\x00\x00\x00\x00\x44\x00\x01\x00\x00CALLED          CALLING         ",
];

fuzz_target!(|data: &[u8]| {
    let Some((&head, mut rest)) = data.split_first() else {
        return;
    };
    let budget = Budget::new(1 << 20);
    let mut session = Session::new(u16::from(head), budget.clone());
    let mut counters = ProtocolCounters::default();
    let mut out = SessionOutput::default();
    let start = STARTS[usize::from(head % 4)];
    let mut first = true;
    // Each segment: flags byte, 2-byte sequence offset, 1-byte length.
    while let [flags, hi, lo, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (body, tail) = tail.split_at(n);
        rest = tail;
        let direction = if flags & 1 == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let mut payload = body.to_vec();
        if first && direction == Direction::ToServer {
            payload.splice(0..0, start.iter().copied());
            first = false;
        }
        let segment = TcpSegment {
            direction,
            seq: u32::from(u16::from_be_bytes([*hi, *lo])).wrapping_mul(7),
            ack: (flags & 2 != 0).then(|| u32::from(*lo) << 8),
            syn: flags & 4 != 0,
            fin: flags & 8 != 0,
            payload: &payload,
            missing: u32::from(flags >> 5),
        };
        session.segment(segment, 0, &mut counters, &mut out);
        assert!(budget.used() <= 2 * MAX_HELD_BYTES_PER_DIRECTION);
    }
    session.finish(1, &mut counters, &mut out);
    let mut facts = Vec::new();
    for observation in &out.reported.observations {
        observation.facts(&mut facts);
    }
    drop(session);
    assert_eq!(budget.used(), 0);
});
