use super::*;
use proptest::prelude::*;

const ISN: u32 = 1000;

/// Feeds segments `(offset, bytes)` after a SYN and collects the stream.
struct Harness {
    stream: Stream,
    counters: ReassemblyCounters,
    out: Vec<u8>,
    gaps: Vec<u64>,
}

impl Harness {
    fn new() -> Harness {
        Harness::with_budget(Budget::default())
    }

    fn with_budget(budget: Budget) -> Harness {
        let mut h = Harness {
            stream: Stream::new(budget),
            counters: ReassemblyCounters::default(),
            out: Vec::new(),
            gaps: Vec::new(),
        };
        h.raw(Segment {
            seq: ISN,
            syn: true,
            fin: false,
            payload: &[],
            missing: 0,
        });
        h
    }

    fn raw(&mut self, segment: Segment<'_>) {
        let (out, gaps) = (&mut self.out, &mut self.gaps);
        self.stream
            .segment(segment, &mut self.counters, &mut |c| collect(out, gaps, c));
    }

    /// A data segment at stream offset `offset`.
    fn data(&mut self, offset: u32, payload: &[u8]) {
        self.raw(Segment {
            seq: ISN.wrapping_add(1).wrapping_add(offset),
            syn: false,
            fin: false,
            payload,
            missing: 0,
        });
    }

    fn ack(&mut self, offset: u32) {
        let (out, gaps) = (&mut self.out, &mut self.gaps);
        self.stream.acknowledged(
            ISN.wrapping_add(1).wrapping_add(offset),
            &mut self.counters,
            &mut |c| collect(out, gaps, c),
        );
    }

    fn flush(&mut self) {
        let (out, gaps) = (&mut self.out, &mut self.gaps);
        self.stream
            .flush(&mut self.counters, &mut |c| collect(out, gaps, c));
    }
}

/// Gap bytes show as `#` in the output, so tests can see where they fell.
fn collect(out: &mut Vec<u8>, gaps: &mut Vec<u64>, chunk: Chunk<'_>) {
    match chunk {
        Chunk::Data(d) => out.extend_from_slice(d),
        Chunk::Gap(n) => {
            gaps.push(n);
            out.extend(std::iter::repeat_n(b'#', n as usize));
        }
    }
}

#[test]
fn in_order_segments_pass_through() {
    let mut h = Harness::new();
    h.data(0, b"hello ");
    h.data(6, b"world");
    assert_eq!(h.out, b"hello world");
    assert_eq!(h.counters.segments, 2);
    assert_eq!(h.stream.held_bytes(), 0);
}

#[test]
fn out_of_order_segments_wait_for_the_hole() {
    let mut h = Harness::new();
    h.data(6, b"world");
    assert!(h.out.is_empty());
    assert_eq!(h.stream.held_bytes(), 5);
    h.data(0, b"hello ");
    assert_eq!(h.out, b"hello world");
    assert_eq!(h.counters.out_of_order, 1);
    assert_eq!(h.stream.held_bytes(), 0);
}

#[test]
fn retransmissions_are_delivered_once() {
    let mut h = Harness::new();
    h.data(0, b"abcdef");
    h.data(0, b"abcdef");
    h.data(2, b"cd");
    assert_eq!(h.out, b"abcdef");
    assert_eq!(h.counters.retransmitted, 2);
}

#[test]
fn overlaps_keep_the_first_copy() {
    let mut h = Harness::new();
    h.data(0, b"abcd");
    // Overlaps "cd" with different bytes: the first copy wins.
    h.data(2, b"XYef");
    assert_eq!(h.out, b"abcdef");
    assert_eq!(h.counters.overlaps, 1);
}

#[test]
fn an_acknowledged_hole_is_a_gap() {
    let mut h = Harness::new();
    h.data(0, b"abc");
    h.data(6, b"ghi");
    // The receiver acknowledged past "def", which the sensor never saw.
    h.ack(9);
    assert_eq!(h.out, b"abc###ghi");
    assert_eq!(h.gaps, vec![3]);
    assert_eq!(h.counters.gap_bytes, 3);
}

#[test]
fn a_lost_tail_is_a_gap_when_acknowledged() {
    let mut h = Harness::new();
    h.data(0, b"abc");
    h.ack(7);
    h.data(7, b"h");
    assert_eq!(h.out, b"abc####h");
}

#[test]
fn acknowledgments_behind_the_stream_change_nothing() {
    let mut h = Harness::new();
    h.data(0, b"abc");
    h.ack(2);
    h.ack(3);
    assert_eq!(h.out, b"abc");
    assert!(h.gaps.is_empty());
}

#[test]
fn flush_delivers_what_is_held_with_its_holes() {
    let mut h = Harness::new();
    h.data(4, b"ef");
    h.data(8, b"ij");
    h.flush();
    assert_eq!(h.out, b"####ef##ij");
    assert_eq!(h.gaps, vec![4, 2]);
}

#[test]
fn midstream_pickup_starts_at_the_first_data() {
    let mut stream = Stream::new(Budget::default());
    let mut counters = ReassemblyCounters::default();
    let mut out = Vec::new();
    let mut gaps = Vec::new();
    for (seq, payload) in [(5000u32, &b"mid"[..]), (5003, b"dle")] {
        let segment = Segment {
            seq,
            syn: false,
            fin: false,
            payload,
            missing: 0,
        };
        stream.segment(segment, &mut counters, &mut |c| {
            collect(&mut out, &mut gaps, c)
        });
    }
    assert_eq!(out, b"middle");
    assert_eq!(counters.midstream, 1);
}

#[test]
fn sequence_numbers_wrap() {
    let mut stream = Stream::new(Budget::default());
    let mut counters = ReassemblyCounters::default();
    let mut out = Vec::new();
    let mut gaps = Vec::new();
    let mut feed = |seq: u32, syn: bool, payload: &[u8]| {
        let segment = Segment {
            seq,
            syn,
            fin: false,
            payload,
            missing: 0,
        };
        stream.segment(segment, &mut counters, &mut |c| {
            collect(&mut out, &mut gaps, c)
        });
    };
    feed(u32::MAX - 2, true, b"");
    feed(u32::MAX - 1, false, b"ab");
    // Out of order across the wrap.
    feed(2, false, b"ef");
    feed(0, false, b"cd");
    assert_eq!(out, b"abcdef");
}

#[test]
fn a_cut_off_tail_is_a_gap() {
    let mut h = Harness::new();
    h.raw(Segment {
        seq: ISN + 1,
        syn: false,
        fin: false,
        payload: b"abc",
        missing: 2,
    });
    h.data(5, b"f");
    assert_eq!(h.out, b"abc##f");
}

#[test]
fn a_full_direction_gives_up_its_hole() {
    let mut h = Harness::new();
    let chunk = vec![b'x'; 1024];
    let mut offset = 10u32;
    // Fill the direction's budget with segments after a 10-byte hole.
    let fits = MAX_HELD_BYTES_PER_DIRECTION / (chunk.len() + HELD_SEGMENT_OVERHEAD);
    for _ in 0..fits {
        h.data(offset, &chunk);
        offset += 1024;
    }
    assert!(h.out.is_empty());
    h.data(offset, &chunk);
    assert_eq!(h.counters.flow_budget_exhausted, 1);
    assert_eq!(h.gaps, vec![10]);
    assert_eq!(h.out.len() as u32, offset + 1024);
    assert_eq!(h.stream.held_bytes(), 0);
}

#[test]
fn the_worker_budget_is_shared_and_given_back() {
    let budget = Budget::new(10 + HELD_SEGMENT_OVERHEAD);
    let mut a = Harness::with_budget(budget.clone());
    let mut b = Harness::with_budget(budget.clone());
    a.data(5, b"12345678");
    assert_eq!(budget.used(), 8 + HELD_SEGMENT_OVERHEAD);
    // b cannot hold 8 more: it gives up its hole instead.
    b.data(5, b"abcdefgh");
    assert_eq!(b.counters.worker_budget_exhausted, 1);
    assert_eq!(b.out, b"#####abcdefgh");
    drop(a);
    assert_eq!(budget.used(), 0);
}

impl Harness {
    /// A FIN at stream offset `offset`, carrying `payload` before it.
    fn fin(&mut self, offset: u32, payload: &[u8]) {
        self.raw(Segment {
            seq: ISN.wrapping_add(1).wrapping_add(offset),
            syn: false,
            fin: true,
            payload,
            missing: 0,
        });
    }
}

#[test]
fn a_fin_in_order_finishes_the_stream_after_its_data() {
    let mut h = Harness::new();
    h.data(0, b"abc");
    h.fin(3, b"de");
    assert_eq!(h.out, b"abcde");
    assert!(h.stream.finished());
    // The receiver acknowledging the FIN is no loss.
    h.ack(6);
    assert!(h.gaps.is_empty());
}

#[test]
fn data_at_a_fins_sequence_number_withdraws_it_and_is_not_shifted() {
    // Issue: a FIN with a bad checksum shifted the stream by one byte. The
    // receiver dropped it; the sender goes on writing at that number.
    let mut h = Harness::new();
    h.data(0, b"abc");
    h.fin(3, b"");
    assert!(h.stream.finished());
    h.data(3, b"SUBSCRIBE");
    assert!(!h.stream.finished());
    assert_eq!(h.out, b"abcSUBSCRIBE");
    assert_eq!(h.counters.overlaps, 0);
    // The real FIN, at the real end.
    h.fin(12, b"");
    assert!(h.stream.finished());
}

#[test]
fn a_fin_ahead_of_a_hole_waits_for_the_hole() {
    let mut h = Harness::new();
    h.data(0, b"ab");
    h.fin(4, b"");
    assert!(!h.stream.finished());
    h.data(2, b"cd");
    assert_eq!(h.out, b"abcd");
    assert!(h.stream.finished());
}

#[test]
fn a_fin_ahead_of_data_already_held_is_ignored() {
    let mut h = Harness::new();
    h.data(5, b"fgh");
    h.fin(2, b"");
    h.data(0, b"abcde");
    assert_eq!(h.out, b"abcdefgh");
    assert!(!h.stream.finished());
}

#[test]
fn a_fin_the_stream_passed_through_a_gap_is_withdrawn() {
    let mut h = Harness::new();
    h.data(0, b"ab");
    h.fin(4, b"");
    h.data(6, b"gh");
    // The receiver acknowledges past the FIN: it was never the end.
    h.ack(8);
    assert!(!h.stream.finished());
    assert_eq!(h.out, b"ab####gh");
}

#[test]
fn a_later_syn_with_another_isn_does_not_reseed_the_stream() {
    let mut h = Harness::new();
    h.data(0, b"abc");
    h.raw(Segment {
        seq: 0x0bad_5eed,
        syn: true,
        fin: false,
        payload: &[],
        missing: 0,
    });
    h.data(3, b"def");
    assert_eq!(h.out, b"abcdef");
    assert!(h.gaps.is_empty());
}

#[test]
fn a_different_copy_of_delivered_bytes_does_not_replace_them() {
    // First copy wins: the receiver keeps what it already queued.
    let mut h = Harness::new();
    h.data(0, b"good");
    h.data(0, b"evil!!");
    assert_eq!(h.out, b"good!!");
    assert_eq!(h.counters.overlaps, 1);
}

#[test]
fn four_hundred_one_byte_segments_before_the_first_are_held() {
    // Issue: more than 256 out-of-order segments before the first one
    // dropped the connection. The limit is bytes, not segments.
    let data: Vec<u8> = (0..401u32).map(|i| b'a' + (i % 26) as u8).collect();
    let mut h = Harness::new();
    for i in (1..data.len()).rev() {
        h.data(i as u32, &data[i..=i]);
    }
    assert!(h.out.is_empty());
    assert_eq!(h.counters.out_of_order, 400);
    h.data(0, &data[..1]);
    assert_eq!(h.out, data);
    assert_eq!(h.counters.flow_budget_exhausted, 0);
    assert!(h.gaps.is_empty());
    assert_eq!(h.stream.held_bytes(), 0);
}

#[test]
fn one_byte_segments_are_charged_their_overhead() {
    let fits = MAX_HELD_BYTES_PER_DIRECTION / (1 + HELD_SEGMENT_OVERHEAD);
    assert_eq!(fits, 4032);
    let mut h = Harness::new();
    for i in 0..fits as u32 {
        h.data(1 + i, b"x");
    }
    assert_eq!(h.counters.flow_budget_exhausted, 0);
    // The first one more gives up the one-byte hole.
    h.data(1 + fits as u32, b"x");
    assert_eq!(h.counters.flow_budget_exhausted, 1);
    assert_eq!(h.gaps, vec![1]);
    assert_eq!(h.out.len(), fits + 2);
}

proptest! {
    /// Any order and duplication of a stream's segments, followed by a flush,
    /// gives back the stream.
    #[test]
    fn any_arrival_order_gives_the_stream(
        data in proptest::collection::vec(any::<u8>(), 1..2000),
        cuts in proptest::collection::vec(0usize..2000, 0..20),
        order in proptest::collection::vec(any::<u16>(), 0..40),
    ) {
        let mut points: Vec<usize> = cuts.into_iter().map(|c| c % data.len()).collect();
        points.push(0);
        points.push(data.len());
        points.sort_unstable();
        points.dedup();
        let mut segments: Vec<(usize, usize)> = points.windows(2).map(|w| (w[0], w[1])).collect();
        // Shuffle deterministically from `order`, and duplicate some.
        for (i, o) in order.iter().enumerate() {
            let n = segments.len();
            segments.swap(i % n, *o as usize % n);
            if o % 5 == 0 {
                let dup = segments[*o as usize % n];
                segments.push(dup);
            }
        }
        let mut h = Harness::new();
        for (start, end) in segments {
            h.data(start as u32, &data[start..end]);
        }
        h.flush();
        prop_assert_eq!(h.out, data);
        prop_assert!(h.gaps.is_empty());
        prop_assert_eq!(h.stream.held_bytes(), 0);
    }
}
