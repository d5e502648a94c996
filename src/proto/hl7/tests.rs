//! Tests for the HL7/MLLP parser: byte arrays with a comment per field,
//! boundaries of every limit, real captures checked against tshark's HL7
//! dissector, split invariance and no-panic properties, and the PHI rule.

use super::*;
use crate::proto::{OutputOf, Pending, feed_all};
use proptest::prelude::*;

const C: Direction = Direction::ToServer;
const S: Direction = Direction::ToClient;

/// Wraps HL7 text in an MLLP frame.
fn frame(text: &[u8]) -> Vec<u8> {
    let mut v = vec![0x0b];
    v.extend_from_slice(text);
    v.extend_from_slice(&[0x1c, 0x0d]);
    v
}

fn run(segments: &[(Direction, &[u8])]) -> Vec<Message> {
    feed_all::<Hl7Parser>(segments)
}

/// Feeds segments and returns the records and the anomaly counters by name.
fn run_counted(segments: &[(Direction, &[u8])]) -> (Vec<Message>, Vec<(&'static str, u64)>) {
    let mut parser = Hl7Parser::default();
    let mut pending = Pending::default();
    let mut out = OutputOf::<Hl7Parser>::default();
    for (ts, (d, bytes)) in (0i64..).zip(segments) {
        pending.feed(&mut parser, *d, ts, bytes, &mut out).unwrap();
    }
    parser.finish(0, &mut out);
    let out = out.records;
    let counts = Hl7Parser::ANOMALIES
        .iter()
        .copied()
        .zip(parser.anomaly_counts().iter().copied())
        .filter(|&(_, c)| c > 0)
        .collect();
    (out, counts)
}

fn one(text: &[u8]) -> Message {
    let f = frame(text);
    let mut recs = run(&[(C, &f)]);
    assert_eq!(recs.len(), 1, "{recs:?}");
    recs.remove(0)
}

fn s(v: &str) -> Option<String> {
    Some(v.to_owned())
}

fn ids(m: &Message) -> Vec<(&str, DeviceIdSource)> {
    m.device_identifiers
        .iter()
        .map(|d| (d.id.as_str(), d.source))
        .collect()
}

// ---------------------------------------------------------------------------
// Messages, field by field

/// An ADT^A01 as a device sends it (HL7 v2.5.1 §2.14.9 MSH).
const ADT_A01: &[u8] = concat!(
    "MSH",                                        // segment name
    "|",                                          // MSH-1 field separator
    "^~\\&", // MSH-2 encoding characters: component, repetition, escape, subcomponent
    "|PUMP_APP^1.2.3^ISO", // MSH-3 sending application (HD: namespace^universal id^type)
    "|ICU",  // MSH-4 sending facility
    "|EMR",  // MSH-5 receiving application
    "|HOSP", // MSH-6 receiving facility
    "|20240501120000", // MSH-7 date/time of message (not kept)
    "|",     // MSH-8 security (not kept)
    "|ADT^A01^ADT_A01", // MSH-9 message type ^ trigger event ^ structure
    "|CTRL-1", // MSH-10 message control id
    "|P^T",  // MSH-11 processing id ^ processing mode (first component kept)
    "|2.5.1", // MSH-12 version id
    "\r",    // segment terminator
    "EVN|A01|20240501120000\r", // skipped, counted
    "PID|1||MRN1^^^H^MR||DOE^JANE||19800315|F\r", // skipped: never read
    "PV1|1|I\r", // skipped, counted
)
.as_bytes();

#[test]
fn adt_message_fields() {
    let m = one(ADT_A01);
    assert_eq!(m.direction, C);
    assert_eq!(m.sending_application, s("PUMP_APP^1.2.3^ISO"));
    assert_eq!(m.sending_facility, s("ICU"));
    assert_eq!(m.receiving_application, s("EMR"));
    assert_eq!(m.receiving_facility, s("HOSP"));
    assert_eq!(m.message_type, s("ADT"));
    assert_eq!(m.trigger_event, s("A01"));
    assert_eq!(m.message_structure, s("ADT_A01"));
    assert_eq!(m.control_id, s("CTRL-1"));
    assert_eq!(m.processing_id, s("P"));
    assert_eq!(m.version, s("2.5.1"));
    assert_eq!(m.ack_code, None);
    assert!(m.device_identifiers.is_empty());
    let segs: Vec<_> = m.segments.iter().collect();
    assert_eq!(segs, [("MSH", 1), ("EVN", 1), ("PID", 1), ("PV1", 1)]);
    assert_eq!(m.segment_count, 4);
    assert_eq!(m.size, ADT_A01.len() as u64);
    assert!(!m.incomplete && !m.batch && m.anomalies.is_empty());
    let json = serde_json::to_string(&m).unwrap();
    assert!(!json.contains("DOE") && !json.contains("JANE") && !json.contains("19800315"));
    assert!(!json.contains("MRN1"));
}

/// An acknowledgment (HL7 v2.5.1 §2.14.8 MSA).
const ACK_AE: &[u8] = concat!(
    "MSH|^~\\&|EMR|HOSP|PUMP_APP|ICU|20240501120001||ACK^A01^ACK|ACK-1|P|2.5.1\r",
    "MSA",        // segment name
    "|AE",        // MSA-1 acknowledgment code
    "|CTRL-1",    // MSA-2 message control id acknowledged
    "|Bad value", // MSA-3 text message (not kept)
    "\r",
    "ERR|^^^207&Application internal error\r", // skipped, counted
)
.as_bytes();

#[test]
fn ack_fields() {
    let f = frame(ACK_AE);
    let recs = run(&[(S, &f)]);
    let m = &recs[0];
    assert_eq!(m.direction, S);
    assert_eq!(m.message_type, s("ACK"));
    assert_eq!(m.ack_code, s("AE"));
    assert_eq!(m.ack_control_id, s("CTRL-1"));
    assert_eq!(m.segments.get("MSA"), Some(1));
    assert_eq!(m.segments.get("ERR"), Some(1));
    let json = serde_json::to_string(m).unwrap();
    assert!(!json.contains("Bad value"));
}

#[test]
fn prt_device_and_udi() {
    // PRT-1..9, PRT-10 participation device (two repetitions), PRT-16 UDI.
    let text = concat!(
        "MSH|^~\\&|A|B|C|D|||ORU^R01|1|P|2.8.2\r",
        "PRT",
        "|",                             // PRT-1 participation instance id
        "|AD",                           // PRT-2 action code
        "|",                             // PRT-3 action reason
        "|EQUIP",                        // PRT-4 role of participation
        "|DR^SMITH",                     // PRT-5 person (never kept)
        "||||",                          // PRT-6..9
        "|PUMP-1^ACME^1.2.3^ISO~PUMP-2", // PRT-10 participation device (EI, repeating)
        "|||||",                         // PRT-11..15
        "|(01)00812345678901",           // PRT-16 UDI device identifier
        "|20200101",                     // PRT-17 manufacture date (not kept)
        "\r",
    );
    let m = one(text.as_bytes());
    assert_eq!(
        ids(&m),
        [
            ("PUMP-1^ACME^1.2.3^ISO", DeviceIdSource::Prt10),
            ("PUMP-2", DeviceIdSource::Prt10),
            ("(01)00812345678901", DeviceIdSource::Prt16),
        ]
    );
    let json = serde_json::to_string(&m).unwrap();
    assert!(
        json.contains(r#"{"id":"PUMP-2","source":"PRT-10"}"#),
        "{json}"
    );
    assert!(!json.contains("SMITH"));
}

#[test]
fn obx_equipment_only() {
    let text = concat!(
        "MSH|^~\\&|A|B|C|D|||ORU^R01|1|P|2.5.1\r",
        "OBX",
        "|1",                          // OBX-1 set id
        "|NM",                         // OBX-2 value type
        "|8867-4^Heart rate^LN",       // OBX-3 observation identifier
        "|",                           // OBX-4 sub-id
        "|173",                        // OBX-5 observation value: never kept
        "|/min",                       // OBX-6 units
        "|||||F|||20240501",           // OBX-7..14
        "|||",                         // OBX-15..17
        "|MON-1^ICU~MON-1^ICU~VENT-2", // OBX-18 equipment instance identifier (repeats; duplicates kept once)
        "\r",
        "OBX|2|NM|x||174|||||||||||||MON-1^ICU\r", // OBX-18 again: already known
    );
    let m = one(text.as_bytes());
    assert_eq!(
        ids(&m),
        [
            ("MON-1^ICU", DeviceIdSource::Obx18),
            ("VENT-2", DeviceIdSource::Obx18)
        ]
    );
    assert_eq!(m.segments.get("OBX"), Some(2));
    let json = serde_json::to_string(&m).unwrap();
    assert!(!json.contains("173") && !json.contains("174") && !json.contains("Heart"));
}

#[test]
fn non_default_encoding_characters() {
    // MSH-1 '$', MSH-2 "%~\&": component '%'.
    let text = concat!(
        "MSH$%~\\&$APP%1.2.3%ISO$FAC$RAPP$RFAC$2024$$ORU%R01%ORU_R01$C-9$T$2.6\r",
        "PID$1$$X%%%Y\r",
        "OBX$1$NM$$$5$$$$$$$$$$$$$DEV\\F\\1%NS~DEV\\S\\2\r",
        "MSA$CA$C-8\r",
    );
    let m = one(text.as_bytes());
    assert_eq!(m.sending_application, s("APP^1.2.3^ISO"));
    assert_eq!(m.sending_facility, s("FAC"));
    assert_eq!(m.receiving_application, s("RAPP"));
    assert_eq!(m.receiving_facility, s("RFAC"));
    assert_eq!(m.message_type, s("ORU"));
    assert_eq!(m.trigger_event, s("R01"));
    assert_eq!(m.message_structure, s("ORU_R01"));
    assert_eq!(m.control_id, s("C-9"));
    assert_eq!(m.processing_id, s("T"));
    assert_eq!(m.version, s("2.6"));
    assert_eq!(m.ack_code, s("CA"));
    assert_eq!(m.ack_control_id, s("C-8"));
    // \F\ is the field separator '$', \S\ the component separator '%'.
    assert_eq!(
        ids(&m),
        [
            ("DEV$1^NS", DeviceIdSource::Obx18),
            ("DEV%2", DeviceIdSource::Obx18)
        ]
    );
    assert!(m.anomalies.is_empty(), "{:?}", m.anomalies);
}

#[test]
fn escapes_trailing_components_and_control_characters() {
    let text = b"MSH|^~\\&|A\\E\\B\\X0D\\^^|F\x01AC^&^|  R  |||ADT^A01|1|P|2.5\r";
    let m = one(text);
    // \E\ is the escape character; \X0D\ (hex) is kept as written; trailing
    // empty components dropped.
    assert_eq!(m.sending_application, s("A\\B\\X0D\\"));
    assert_eq!(m.sending_facility, s("F\u{FFFD}AC"));
    assert_eq!(m.receiving_application, s("R"));
    assert_eq!(m.receiving_facility, None);
}

#[test]
fn bad_encoding_characters() {
    // Repeated delimiter in MSH-2: defaults used, anomaly noted.
    let m = one(b"MSH|^^\\&|APP|FAC|||||ADT^A01|1|P|2.5\r");
    assert_eq!(m.anomalies, ["bad_encoding_characters"]);
    assert_eq!(m.sending_application, s("APP"));
    assert_eq!(m.message_type, s("ADT"));
    // A letter as field separator: the header cannot be read.
    let m = one(b"MSHA^~\\&AAPPA\r");
    assert_eq!(m.anomalies, ["bad_encoding_characters"]);
    assert_eq!(m.sending_application, None);
    assert_eq!(m.segments.get("MSH"), Some(1));
    // MSH-2 empty.
    let m = one(b"MSH||APP\r");
    assert_eq!(m.anomalies, ["bad_encoding_characters"]);
    assert_eq!(m.sending_application, s("APP"));
}

#[test]
fn batch_gives_one_record_per_message() {
    let text = concat!(
        "FHS|^~\\&|BAPP|BFAC\r", // file header: ends nothing, not counted
        "BHS|^~\\&|BAPP|BFAC\r", // batch header
        "MSH|^~\\&|A1|F1|||||ORU^R01|M1|P|2.5\r",
        "PID|1||X\r",
        "OBX|1|NM|||5|||||||||||||DEV-A\r",
        "MSH|^~\\&|A2|F2|||||ADT^A08|M2|P|2.5\r",
        "PID|1||Y\r",
        "BTS|2\r", // batch trailer: ends M2
        "FTS|1\r",
    );
    let f = frame(text.as_bytes());
    let recs = run(&[(C, &f)]);
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0].control_id, s("M1"));
    assert_eq!(recs[0].sending_application, s("A1"));
    assert_eq!(ids(&recs[0]), [("DEV-A", DeviceIdSource::Obx18)]);
    assert_eq!(recs[0].segment_count, 3);
    assert_eq!(recs[1].control_id, s("M2"));
    assert_eq!(recs[1].segment_count, 2);
    assert!(recs.iter().all(|m| m.batch && m.anomalies.is_empty()));
    assert_eq!(
        recs[0].size,
        "MSH|^~\\&|A1|F1|||||ORU^R01|M1|P|2.5\rPID|1||X\rOBX|1|NM|||5|||||||||||||DEV-A\r".len()
            as u64
    );
}

#[test]
fn segment_terminators_cr_lf_crlf() {
    for sep in ["\r", "\n", "\r\n"] {
        let text = [
            "MSH|^~\\&|A|B|C|D|||ADT^A01|1|P|2.5",
            "PID|1",
            "MSA|AA|9",
            "",
        ]
        .join(sep);
        let m = one(text.as_bytes());
        assert_eq!(m.receiving_facility, s("D"), "{sep:?}");
        assert_eq!(m.ack_code, s("AA"));
        assert_eq!(m.segment_count, 3);
        assert!(m.anomalies.is_empty());
    }
    // No terminator before the end block.
    let m = one(b"MSH|^~\\&|A|B|C|D|||ADT^A01|1|P|2.5\rMSA|AA|9");
    assert_eq!(m.ack_control_id, s("9"));
}

#[test]
fn many_messages_in_one_segment_and_both_directions() {
    let mut c = frame(b"MSH|^~\\&|A|B|C|D|||ADT^A01|1|P|2.5\r");
    c.extend(frame(b"MSH|^~\\&|A|B|C|D|||ADT^A02|2|P|2.5\r"));
    c.extend(b"\r\n"); // CR/LF between frames is tolerated
    c.extend(frame(b"MSH|^~\\&|A|B|C|D|||ADT^A03|3|P|2.5\r"));
    let a = frame(b"MSH|^~\\&|C|D|A|B|||ACK|9|P|2.5\rMSA|AA|1\r");
    let (recs, counts) = run_counted(&[(C, &c), (S, &a)]);
    let ctl: Vec<_> = recs.iter().map(|m| m.control_id.clone().unwrap()).collect();
    assert_eq!(ctl, ["1", "2", "3", "9"]);
    assert!(counts.is_empty(), "{counts:?}");
}

#[test]
fn garbage_between_frames_is_counted_once_per_run() {
    let mut c = b"JUNK".to_vec();
    c.extend(frame(b"MSH|^~\\&|A|B|C|D|||ADT^A01|1|P|2.5\r"));
    c.extend(b"\x00\x00more junk");
    c.extend(frame(b"MSH|^~\\&|A|B|C|D|||ADT^A01|2|P|2.5\r"));
    let (recs, counts) = run_counted(&[(C, &c)]);
    assert_eq!(recs.len(), 2);
    assert_eq!(counts, [("garbage_between_frames", 2)]);
}

#[test]
fn start_block_inside_a_frame_ends_the_previous_one() {
    let mut c = b"\x0bMSH|^~\\&|A|B|C|D|||ADT^A01|1|P|2.5\rPID|1".to_vec();
    c.extend(frame(b"MSH|^~\\&|A|B|C|D|||ADT^A01|2|P|2.5\r"));
    let recs = run(&[(C, &c)]);
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0].anomalies, ["unterminated_frame"]);
    assert_eq!(recs[1].control_id, s("2"));
    assert!(recs[1].anomalies.is_empty());
}

#[test]
fn end_block_without_cr() {
    let mut c = b"\x0bMSH|^~\\&|A|B|C|D|||ADT^A01|1|P|2.5\r\x1c".to_vec();
    c.extend(frame(b"MSH|^~\\&|A|B|C|D|||ADT^A01|2|P|2.5\r"));
    let recs = run(&[(C, &c)]);
    assert_eq!(recs[0].anomalies, ["malformed_end_block"]);
    assert_eq!(recs[1].control_id, s("2"));
}

#[test]
fn missing_msh() {
    let m = one(b"PID|1||X\rOBX|1|NM|||5|||||||||||||DEV-Z\r");
    assert_eq!(m.anomalies, ["missing_msh"]);
    assert_eq!(m.message_type, None);
    assert_eq!(ids(&m), [("DEV-Z", DeviceIdSource::Obx18)]);
    assert_eq!(m.segment_count, 2);
}

#[test]
fn malformed_segment_names() {
    let m = one(b"MSH|^~\\&|A|B|C|D|||ADT^A01|1|P|2.5\rpid|1\rPI\rPIDX|1\r");
    assert_eq!(m.anomalies, ["malformed_segment"]);
    assert_eq!(m.segment_count, 1);
    assert_eq!(m.segments.iter().count(), 1);
}

#[test]
fn empty_frame() {
    let (recs, counts) = run_counted(&[(C, b"\x0b\x1c\x0d")]);
    assert!(recs.is_empty());
    assert_eq!(counts, [("empty_frame", 1)]);
}

#[test]
fn finish_inside_a_message_reports_it_incomplete() {
    let recs = run(&[(C, b"\x0bMSH|^~\\&|A|B|C|D|||ADT^A01|1|P|2.5\rPID|1||")]);
    assert_eq!(recs.len(), 1);
    assert!(recs[0].incomplete);
    assert_eq!(recs[0].control_id, s("1"));
    assert_eq!(recs[0].anomalies, ["incomplete_message"]);
    // The end block arrived, its CR not yet: complete.
    let recs = run(&[(C, b"\x0bMSH|^~\\&|A|B|C|D|||ADT^A01|1|P|2.5\r\x1c")]);
    assert!(!recs[0].incomplete && recs[0].anomalies.is_empty());
}

#[test]
fn gap_ends_the_message_and_resyncs_at_the_next_start_block() {
    let mut parser = Hl7Parser::default();
    let mut out = OutputOf::<Hl7Parser>::default();
    let first = b"\x0bMSH|^~\\&|A|B|C|D|||ADT^A01|1|P|2.5\rPID|1||";
    assert_eq!(parser.feed(C, 0, first, &mut out), first.len());
    assert!(parser.gap(C, 100));
    // The rest of the lost frame, then a new frame: not garbage.
    let mut next = b"rest of PID\rPV1|1\r\x1c\r".to_vec();
    next.extend(frame(b"MSH|^~\\&|A|B|C|D|||ADT^A01|2|P|2.5\r"));
    let n = parser.feed(C, 1, &next, &mut out);
    assert_eq!(n, next.len());
    parser.finish(2, &mut out);
    let out = out.records;
    assert_eq!(out.len(), 2);
    assert!(out[0].incomplete);
    assert_eq!(out[0].anomalies, ["gap"]);
    assert_eq!(out[1].control_id, s("2"));
    assert!(out[1].anomalies.is_empty());
    let gaps = parser.anomaly_counts()[Anomaly::Gap as usize];
    assert_eq!(gaps, 1);
    assert_eq!(parser.anomaly_counts().iter().sum::<u64>(), 1);
}

// ---------------------------------------------------------------------------
// Limits: smallest, largest valid, first invalid

#[test]
fn smallest_valid_message() {
    let m = one(b"MSH|^");
    assert_eq!(m.segment_count, 1);
    assert!(m.anomalies.is_empty());
    assert_eq!(m.size, 5);
}

/// A frame whose MSH segment is `len` bytes long, MSH-3 filling the rest.
fn msh_of_len(len: usize) -> Vec<u8> {
    let head = b"MSH|^~\\&|";
    let tail = b"|B|C|D|||ADT^A01|1|P|2.5";
    let mut t = head.to_vec();
    t.resize(len - tail.len(), b'A');
    t.extend_from_slice(tail);
    assert_eq!(t.len(), len);
    t.push(b'\r');
    frame(&t)
}

#[test]
fn msh_of_max_segment_len_is_read_and_one_more_is_skipped() {
    for split in [false, true] {
        let f = msh_of_len(MAX_SEGMENT_LEN);
        let parts: Vec<(Direction, &[u8])> = if split {
            f.chunks(1000).map(|c| (C, c)).collect()
        } else {
            vec![(C, &f)]
        };
        let m = &run(&parts)[0];
        assert_eq!(m.receiving_facility, s("D"));
        assert_eq!(m.anomalies, ["value_truncated"]); // MSH-3 is long
        assert_eq!(m.sending_application.as_ref().unwrap().len(), MAX_VALUE_LEN);

        let f = msh_of_len(MAX_SEGMENT_LEN + 1);
        let parts: Vec<(Direction, &[u8])> = if split {
            f.chunks(1000).map(|c| (C, c)).collect()
        } else {
            vec![(C, &f)]
        };
        let m = &run(&parts)[0];
        assert_eq!(m.receiving_facility, None);
        assert_eq!(m.anomalies, ["oversized_segment"]);
        assert_eq!(m.segments.get("MSH"), Some(1));
    }
}

#[test]
fn value_of_max_value_len_is_kept_and_one_more_is_cut() {
    let at = |n: usize| {
        let app = "x".repeat(n);
        one(format!("MSH|^~\\&|{app}|F|||||ADT^A01|1|P|2.5\r").as_bytes())
    };
    let m = at(MAX_VALUE_LEN);
    assert_eq!(m.sending_application.unwrap().len(), MAX_VALUE_LEN);
    assert!(m.anomalies.is_empty());
    let m = at(MAX_VALUE_LEN + 1);
    assert_eq!(m.sending_application.unwrap().len(), MAX_VALUE_LEN);
    assert_eq!(m.anomalies, ["value_truncated"]);
    // Cut on a character boundary.
    let app = format!("{}é", "x".repeat(MAX_VALUE_LEN - 1));
    let m = one(format!("MSH|^~\\&|{app}|F\r").as_bytes());
    assert_eq!(m.sending_application.unwrap().len(), MAX_VALUE_LEN - 1);
}

#[test]
fn device_ids_up_to_max_and_one_more() {
    let at = |n: usize| {
        let reps: Vec<String> = (0..n).map(|i| format!("D{i}")).collect();
        let text = format!(
            "MSH|^~\\&|A|B|||||ORU^R01|1|P|2.5\rOBX|1|NM|||5|||||||||||||{}\r",
            reps.join("~")
        );
        one(text.as_bytes())
    };
    let m = at(MAX_DEVICE_IDS);
    assert_eq!(m.device_identifiers.len(), MAX_DEVICE_IDS);
    assert!(m.anomalies.is_empty());
    let m = at(MAX_DEVICE_IDS + 1);
    assert_eq!(m.device_identifiers.len(), MAX_DEVICE_IDS);
    assert_eq!(m.anomalies, ["too_many_device_ids"]);
}

#[test]
fn segment_names_up_to_max_and_one_more() {
    let at = |n: usize| {
        let mut text = b"MSH|^~\\&|A|B\r".to_vec();
        for i in 1..n {
            text.extend(format!("Z{:02}|x\r", i).as_bytes());
        }
        one(&text)
    };
    let m = at(MAX_SEGMENT_NAMES);
    assert_eq!(m.segments.iter().count(), MAX_SEGMENT_NAMES);
    assert!(m.anomalies.is_empty());
    let m = at(MAX_SEGMENT_NAMES + 1);
    assert_eq!(m.segments.iter().count(), MAX_SEGMENT_NAMES);
    assert_eq!(m.segment_count, MAX_SEGMENT_NAMES as u64 + 1);
    assert_eq!(m.anomalies, ["too_many_segment_names"]);
}

/// A message of exactly `len` bytes: MSH, then one NTE filling the rest.
fn message_of_len(len: u64) -> Vec<u8> {
    let mut t = b"MSH|^~\\&|A|B|C|D|||ORU^R01|1|P|2.5\rNTE|".to_vec();
    t.resize(len as usize, b'n');
    frame(&t)
}

#[test]
fn message_of_max_len_is_read_and_one_more_is_oversized() {
    let f = message_of_len(MAX_MESSAGE_LEN);
    let (recs, counts) = run_counted(&[(C, &f)]);
    assert_eq!(recs[0].size, MAX_MESSAGE_LEN);
    assert!(counts.is_empty(), "{counts:?}");
    assert_eq!(recs[0].segment_count, 2);

    let mut f = message_of_len(MAX_MESSAGE_LEN + 1);
    // A segment after the limit is not looked at.
    f.truncate(f.len() - 2);
    f.extend(b"\rOBX|1|||||||||||||||||DEV\r\x1c\r");
    for parts in [vec![&f[..]], f.chunks(4096).collect()] {
        let segs: Vec<(Direction, &[u8])> = parts.iter().map(|p| (C, *p)).collect();
        let recs = run(&segs);
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].anomalies, ["oversized_message"]);
        assert_eq!(recs[0].control_id, s("1"));
        assert!(recs[0].device_identifiers.is_empty());
        assert_eq!(recs[0].segment_count, 2);
    }
}

#[test]
fn bulk_is_skipped_without_holding_bytes() {
    // A 20 MB message (an embedded document in OBX-5, and a long NTE),
    // arriving in 1460-byte segments: the caller never holds more than a
    // segment header, the record still comes.
    let mut t = b"MSH|^~\\&|A|B|C|D|||MDM^T02|1|P|2.5\rOBX|1|ED|||^AP^PDF^Base64^".to_vec();
    t.resize(10_000_000, b'Q');
    t.extend(b"\rNTE|");
    t.resize(20_000_000, b'n');
    t.extend(b"\r");
    let f = frame(&t);
    let mut parser = Hl7Parser::default();
    let mut pending = Pending::default();
    let mut out = OutputOf::<Hl7Parser>::default();
    let mut most = 0;
    for chunk in f.chunks(1460) {
        pending.feed(&mut parser, C, 0, chunk, &mut out).unwrap();
        most = most.max(pending.len());
    }
    parser.finish(0, &mut out);
    let out = out.records;
    assert!(most <= MAX_SEGMENT_LEN, "held {most}");
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].message_type, s("MDM"));
    assert_eq!(out[0].size, t.len() as u64);
    assert_eq!(out[0].anomalies, ["oversized_segment", "oversized_message"]);
}

// ---------------------------------------------------------------------------
// Probe

#[test]
fn probe_recognises_mllp_starts_only() {
    use Probe::*;
    let p = |b: &[u8]| Hl7Parser::probe(C, b);
    assert_eq!(p(b"\x0bMSH|^~\\&|"), Match);
    assert_eq!(p(b"\x0bMSH"), Match);
    assert_eq!(p(b"\x0bFHS|^~\\&"), Match);
    assert_eq!(p(b"\x0bBHS|^~\\&"), Match);
    assert_eq!(p(b""), NeedMore);
    assert_eq!(p(b"\x0b"), NeedMore);
    assert_eq!(p(b"\x0bMS"), NeedMore);
    assert_eq!(p(b"\x0bPID|"), NoMatch);
    assert_eq!(p(b"MSH|^~\\&|"), NoMatch); // no start block
    assert_eq!(p(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), NoMatch); // TLS ClientHello
    assert_eq!(p(b"GET / HTTP/1.1\r\n"), NoMatch);
    assert_eq!(p(b"SSH-2.0-OpenSSH_9.6\r\n"), NoMatch);
    assert_eq!(p(&[0u8; 16]), NoMatch);
    assert_eq!(p(b"\x10\x14\x00\x04MQTT"), NoMatch); // MQTT CONNECT
    assert_eq!(p(b"\x01\x00\x00\x00\x00\xcd\x00\x01"), NoMatch); // DICOM A-ASSOCIATE-RQ
}

// ---------------------------------------------------------------------------
// Facts

fn facts(m: &Message) -> Vec<(Side, &'static str, String)> {
    let mut out = Vec::new();
    m.facts(&mut out);
    out.into_iter().map(|f| (f.side, f.name, f.value)).collect()
}

#[test]
fn facts_of_a_message_and_of_its_ack() {
    let text = "MSH|^~\\&|PUMP|ICU|EMR|HOSP|||ORU^R01|1|P|2.5\rOBX|1|NM|||5|||||||||||||DEV-1\r";
    let m = one(text.as_bytes());
    let f = |side, name: &'static str, v: &str| (side, name, v.to_owned());
    assert_eq!(
        facts(&m),
        [
            f(Side::Client, "hl7.sending_application", "PUMP"),
            f(Side::Client, "hl7.sending_facility", "ICU"),
            f(Side::Server, "hl7.receiving_application", "EMR"),
            f(Side::Server, "hl7.receiving_facility", "HOSP"),
            f(Side::Client, "hl7.device_id", "DEV-1"),
            f(Side::Client, "role", "hl7_sender"),
            f(Side::Server, "role", "hl7_receiver"),
        ]
    );
    // The server's ACK names itself in MSH-3/4: it stays the receiver.
    let a = frame(b"MSH|^~\\&|EMR|HOSP|PUMP|ICU|||ACK|2|P|2.5\rMSA|AA|1\r");
    let ack = &run(&[(S, &a)])[0];
    assert_eq!(
        facts(ack),
        [
            f(Side::Server, "hl7.receiving_application", "EMR"),
            f(Side::Server, "hl7.receiving_facility", "HOSP"),
            f(Side::Client, "hl7.sending_application", "PUMP"),
            f(Side::Client, "hl7.sending_facility", "ICU"),
            f(Side::Client, "role", "hl7_sender"),
            f(Side::Server, "role", "hl7_receiver"),
        ]
    );
    // A server that sends messages of its own is a sender.
    let o = frame(b"MSH|^~\\&|EMR|HOSP|||||ORM^O01|3|P|2.5\r");
    let orm = &run(&[(S, &o)])[0];
    assert!(facts(orm).contains(&f(Side::Server, "role", "hl7_sender")));
}

// ---------------------------------------------------------------------------
// Real captures

/// One capture's TCP payload, as extract.sh wrote it.
fn stream(text: &str) -> Vec<(Direction, Vec<u8>)> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (d, hex) = l.split_at(2);
            let dir = if d == "C " { C } else { S };
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            (dir, bytes)
        })
        .collect()
}

fn replay(chunks: &[(Direction, Vec<u8>)]) -> Vec<Message> {
    let segs: Vec<(Direction, &[u8])> = chunks.iter().map(|(d, b)| (*d, b.as_slice())).collect();
    run(&segs)
}

/// One message as tshark's HL7 dissector showed it (extract.sh).
#[derive(Debug, Default)]
struct Truth {
    src_port: u16,
    segments: Vec<String>,
    fields: Vec<(String, String)>,
}

impl Truth {
    fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    fn all(&self, name: &str) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// tshark's messages; every MSH starts a new one (tshark shows a batch
/// frame as one PDU).
fn truth(text: &str) -> Vec<Truth> {
    let mut out: Vec<Truth> = Vec::new();
    let mut port = 0;
    for line in text.lines() {
        if let Some(p) = line.strip_prefix("message ") {
            port = p.parse().unwrap();
        } else if let Some(seg) = line.strip_prefix("segment ") {
            if seg == "MSH" {
                out.push(Truth {
                    src_port: port,
                    ..Truth::default()
                });
            }
            out.last_mut().unwrap().segments.push(seg.to_owned());
        } else if let Some((name, value)) = line.split_once('\t') {
            out.last_mut()
                .unwrap()
                .fields
                .push((name.to_owned(), value.to_owned()));
        }
    }
    out
}

/// Checks every message tshark dissected against the record with the same
/// direction and control id (MSH-10), field by field. Values are compared
/// as tshark prints them after `decode` (which writes the message's
/// component separator as `^` and resolves the escape sequences a capture
/// uses).
fn assert_matches_tshark(
    recs: &[Message],
    truths: &[Truth],
    server_port: u16,
    decode: &dyn Fn(&str) -> String,
) {
    assert!(!truths.is_empty());
    for t in truths {
        let norm: Vec<(String, String)> = t
            .fields
            .iter()
            .map(|(n, v)| (n.clone(), decode(v)))
            .collect();
        let t = &Truth {
            src_port: t.src_port,
            segments: t.segments.clone(),
            fields: norm,
        };
        let dir = if t.src_port == server_port { S } else { C };
        let ctl = t.get("MSH-10");
        let m = recs
            .iter()
            .find(|m| m.direction == dir && m.control_id.as_deref() == ctl)
            .unwrap_or_else(|| panic!("no record for {t:?} in {recs:#?}"));
        let opt = |v: Option<&str>| v.map(str::to_owned);
        assert_eq!(m.sending_application, opt(t.get("MSH-3")));
        assert_eq!(m.sending_facility, opt(t.get("MSH-4")));
        assert_eq!(m.receiving_application, opt(t.get("MSH-5")));
        assert_eq!(m.receiving_facility, opt(t.get("MSH-6")));
        let msh9: Vec<&str> = t.get("MSH-9").unwrap_or("").split('^').collect();
        assert_eq!(m.message_type, opt(msh9.first().copied()));
        assert_eq!(m.trigger_event, opt(msh9.get(1).copied()));
        assert_eq!(m.message_structure, opt(msh9.get(2).copied()));
        let first = |v: Option<&str>| v.map(|v| v.split('^').next().unwrap().to_owned());
        assert_eq!(m.processing_id, first(t.get("MSH-11")));
        assert_eq!(m.version, first(t.get("MSH-12")));
        assert_eq!(m.ack_code, opt(t.get("MSA-1")));
        assert_eq!(m.ack_control_id, opt(t.get("MSA-2")));
        let mut expected: Vec<(String, DeviceIdSource)> = Vec::new();
        for (field, source) in [
            ("PRT-10", DeviceIdSource::Prt10),
            ("PRT-16", DeviceIdSource::Prt16),
            ("OBX-18", DeviceIdSource::Obx18),
        ] {
            for v in t.all(field) {
                for rep in v.split('~') {
                    if !expected.contains(&(rep.to_owned(), source)) {
                        expected.push((rep.to_owned(), source));
                    }
                }
            }
        }
        let mut got: Vec<(String, DeviceIdSource)> = m
            .device_identifiers
            .iter()
            .map(|d| (d.id.clone(), d.source))
            .collect();
        got.sort_by_key(|(_, s)| *s as u8);
        assert_eq!(got, expected);
        let mut names: Vec<(String, u64)> = Vec::new();
        for seg in &t.segments {
            match names.iter_mut().find(|(n, _)| n == seg) {
                Some((_, c)) => *c += 1,
                None => names.push((seg.clone(), 1)),
            }
        }
        let ours: Vec<(String, u64)> = m.segments.iter().map(|(n, c)| (n.to_owned(), c)).collect();
        assert_eq!(ours, names);
        assert!(!m.incomplete);
    }
}

macro_rules! capture {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!("testdata/", $name, ".stream")),
            include_str!(concat!("testdata/", $name, ".tshark")),
        )
    };
}

/// (name, stream, tshark ground truth, server port)
const CAPTURES: [(&str, &str, &str, u16); 12] = {
    const fn with_port(
        c: (&'static str, &'static str, &'static str),
        port: u16,
    ) -> (&'static str, &'static str, &'static str, u16) {
        (c.0, c.1, c.2, port)
    }
    [
        with_port(capture!("tapirx-HL7-ADT"), 6661),
        with_port(capture!("tapirx-HL7-ORM"), 6661),
        with_port(capture!("tapirx-HL7-ORU"), 6661),
        with_port(capture!("tapirx-HL7-ADT-UDI-PRT"), 6661),
        with_port(capture!("tapirx-HL7-ADT-UDI-OBX"), 6661),
        with_port(capture!("ndpi-hl7"), 6661),
        with_port(capture!("adt_a01"), 2575),
        with_port(capture!("oru_r01"), 2575),
        with_port(capture!("batch"), 2575),
        with_port(capture!("alt_encoding"), 2575),
        with_port(capture!("split"), 2575),
        with_port(capture!("garbage"), 2575),
    ]
};

#[test]
fn every_capture_matches_tshark() {
    for (name, st, tr, port) in CAPTURES {
        let mut recs = replay(&stream(st));
        assert!(recs.iter().all(|m| !m.incomplete), "{name}");
        if name == "adt_a01" {
            // mllp_send strips the CR after the last segment (PRT), and
            // tshark's dissector does not show a segment without its CR:
            // the PRT is checked against what mllp_scenarios.py sent.
            let adt = &mut recs[0];
            assert_eq!(
                ids(adt),
                [
                    (
                        "INFUSION-PUMP-17^BIOMED^1.2.840.10004.1^ISO",
                        DeviceIdSource::Prt10
                    ),
                    ("(01)00812345678901(21)SN4711", DeviceIdSource::Prt16),
                ]
            );
            assert_eq!(adt.segments.iter().last(), Some(("PRT", 1)));
            adt.device_identifiers.clear();
            adt.segments.0.pop();
        }
        // alt_encoding: MSH-1 '$', component '%', and one \F\ escape.
        let decode = |v: &str| match name {
            "alt_encoding" => v.replace('%', "^").replace("\\F\\", "$"),
            _ => v.to_owned(),
        };
        assert_matches_tshark(&recs, &truth(tr), port, &decode);
    }
}

#[test]
fn tapirx_udi_captures_identify_the_pump() {
    // tshark -d tcp.port==6661,hl7 -V: PRT "field 17" (= PRT-16, UDI Device
    // Identifier) and OBX "field 19" (= OBX-18, Equipment Instance
    // Identifier) both read "Hospira Plum A+".
    for (name, source) in [
        ("tapirx-HL7-ADT-UDI-PRT", DeviceIdSource::Prt16),
        ("tapirx-HL7-ADT-UDI-OBX", DeviceIdSource::Obx18),
    ] {
        let (_, st, _, _) = CAPTURES.iter().find(|c| c.0 == name).unwrap();
        let recs = replay(&stream(st));
        assert_eq!(recs.len(), 2);
        let adt = &recs[0];
        assert_eq!(adt.direction, C);
        assert_eq!(adt.sending_application, s("SENDING_APPLICATION")); // hl7 MSH field 3
        assert_eq!(adt.sending_facility, s("SENDING_FACILITY")); // MSH field 4
        assert_eq!(adt.receiving_application, s("RECEIVING_APPLICATION")); // MSH field 5
        assert_eq!(adt.receiving_facility, s("RECEIVING_FACILITY")); // MSH field 6
        assert_eq!(adt.message_type, s("ADT")); // hl7.message.type
        assert_eq!(adt.trigger_event, s("A01")); // hl7.event.type
        assert_eq!(adt.control_id, s("934576120110613083617")); // MSH field 10
        assert_eq!(adt.processing_id, s("P")); // MSH field 11
        assert_eq!(adt.version, s("2.3")); // MSH field 12
        assert_eq!(ids(adt), [("Hospira Plum A+", source)]);
        let ack = &recs[1];
        assert_eq!(ack.direction, S);
        assert_eq!(ack.message_type, s("ACK"));
        assert_eq!(ack.ack_code, s("AA")); // MSA field 2 (= MSA-1)
        assert_eq!(ack.ack_control_id, s("934576120110613083617")); // MSA field 3
        let mut fs = Vec::new();
        adt.facts(&mut fs);
        ack.facts(&mut fs);
        assert!(fs.iter().any(|f| f.side == Side::Client
            && f.name == "hl7.device_id"
            && f.value == "Hospira Plum A+"));
        assert!(
            !fs.iter()
                .any(|f| f.side == Side::Server && f.value == "hl7_sender")
        );
    }
}

#[test]
fn tapirx_oru_spans_two_tcp_segments() {
    let (_, st, _, _) = CAPTURES.iter().find(|c| c.0 == "tapirx-HL7-ORU").unwrap();
    let chunks = stream(st);
    assert_eq!(chunks.len(), 3); // 1460 + 319 bytes from the client, then the ACK
    let recs = replay(&chunks);
    assert_eq!(recs[0].message_type, s("ORU")); // hl7.message.type
    assert_eq!(recs[0].trigger_event, s("R01")); // hl7.event.type
    assert_eq!(recs[0].segments.get("OBX"), Some(14)); // 14 hl7.segment OBX
    assert_eq!(recs[0].size, 1460 + 319 - 3);
}

#[test]
fn alt_encoding_capture() {
    // tshark -V: MSH field 2 "%~\&", field 3 "ALT_APP%NS1", field 9
    // "ORU%R01%ORU_R01", OBX field 19 (OBX-18) "ALT\F\DEV-9~SPARE-DEV".
    // every_capture_matches_tshark checks the rest; here the escape.
    let (_, st, tr, _) = CAPTURES.iter().find(|c| c.0 == "alt_encoding").unwrap();
    let t = truth(tr);
    assert_eq!(t[0].get("MSH-3"), Some("ALT_APP%NS1"));
    assert_eq!(t[0].get("OBX-18"), Some("ALT\\F\\DEV-9~SPARE-DEV"));
    let recs = replay(&stream(st));
    let m = &recs[0];
    assert_eq!(m.sending_application, s("ALT_APP^NS1")); // '%' components written '^'
    assert_eq!(m.message_type, s("ORU"));
    assert_eq!(m.trigger_event, s("R01"));
    assert_eq!(m.message_structure, s("ORU_R01"));
    assert_eq!(m.control_id, s("ENC0001"));
    assert_eq!(
        ids(m),
        [
            ("ALT$DEV-9", DeviceIdSource::Obx18), // \F\ is MSH-1, '$'
            ("SPARE-DEV", DeviceIdSource::Obx18)
        ]
    );
    assert!(m.anomalies.is_empty());
}

#[test]
fn batch_capture() {
    // tshark's dissector does not decode a frame that starts with FHS: the
    // client side is checked against what mllp_scenarios.py sent.
    let (_, st, _, _) = CAPTURES.iter().find(|c| c.0 == "batch").unwrap();
    let recs = replay(&stream(st));
    let client: Vec<_> = recs.iter().filter(|m| m.direction == C).collect();
    assert_eq!(client.len(), 2);
    assert_eq!(client[0].control_id, s("B0001"));
    assert_eq!(client[0].message_type, s("ORU"));
    assert_eq!(ids(client[0]), [("ANALYZER-3", DeviceIdSource::Obx18)]);
    assert_eq!(client[1].control_id, s("B0002"));
    assert_eq!(client[1].trigger_event, s("A08"));
    assert!(client.iter().all(|m| m.batch && m.anomalies.is_empty()));
}

#[test]
fn garbage_capture() {
    // tshark dissects the first message and the ACKs, but not the frame
    // after the noise; the parser resyncs at its start block.
    let (_, st, _, _) = CAPTURES.iter().find(|c| c.0 == "garbage").unwrap();
    let chunks = stream(st);
    let segs: Vec<(Direction, &[u8])> = chunks.iter().map(|(d, b)| (*d, b.as_slice())).collect();
    let (recs, counts) = run_counted(&segs);
    let ctl: Vec<_> = recs
        .iter()
        .filter(|m| m.direction == C)
        .map(|m| m.control_id.clone().unwrap())
        .collect();
    assert_eq!(ctl, ["GARB0001", "GARB0002"]);
    assert_eq!(counts, [("garbage_between_frames", 1)]);
}

#[test]
fn oru_capture_acks_aa_then_ae() {
    let (_, st, _, _) = CAPTURES.iter().find(|c| c.0 == "oru_r01").unwrap();
    let recs = replay(&stream(st));
    let acks: Vec<_> = recs.iter().filter(|m| m.direction == S).collect();
    assert_eq!(acks[0].ack_code, s("AA")); // MSA field 2
    assert_eq!(acks[1].ack_code, s("AE"));
    assert_eq!(acks[1].ack_control_id, s("ORU0002AE")); // MSA field 3
}

/// Patient data and observation values the captures carry (PID, NK1, OBX-5,
/// NTE), none of which may appear in a record.
const NEVER: &[&str] = &[
    "MOUSE",
    "MICKEY",
    "MINNIE",
    "19281118",
    "19240101",
    "135769",
    "12345^",
    "Main St",
    "Lake Buena",
    "MOUSEHOLE",
    "FORT WAYNE",
    "(407)939",
    "ohtoodles",
    "999999999",
    "1719",
    "MOUSETOWN",
    "Penicillin",
    "DUCK",
    "GOOF",
    "DASIY",
    "CREATININE",
    "Disney",
    "DOE",
    "JANE",
    "JOHN",
    "19800315",
    "MRN778899",
    "ELM STREET",
    "SPRINGFIELD",
    "555-0142",
    "dizziness",
    "Heart rate",
    "Glucose",
    "Simulated",
];

/// OBX-5 values of the captures: no string in a record may equal them.
const OBX5: &[&str] = &[
    "173", "174", "5.4", "7.0", "68", "20", "16", "3", "0", "4.02", "13.7", "40", "80", "30", "32",
    "221",
];

fn strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        serde_json::Value::Object(o) => o.iter().for_each(|(k, x)| {
            out.push(k.clone());
            strings(x, out)
        }),
        _ => {}
    }
}

#[test]
fn no_patient_data_or_observation_value_in_any_record() {
    for (name, st, _, _) in CAPTURES {
        let recs = replay(&stream(st));
        assert!(!recs.is_empty());
        for m in &recs {
            let json = serde_json::to_string(m).unwrap();
            let mut all = Vec::new();
            strings(&serde_json::to_value(m).unwrap(), &mut all);
            for v in &all {
                for word in NEVER {
                    assert!(!v.contains(word), "{name}: {word} in {json}");
                }
                assert!(!OBX5.contains(&v.as_str()), "{name}: {v} in {json}");
            }
        }
    }
}

#[test]
fn record_json_shape() {
    let (_, st, _, _) = CAPTURES
        .iter()
        .find(|c| c.0 == "tapirx-HL7-ADT-UDI-PRT")
        .unwrap();
    let recs = replay(&stream(st));
    let v = serde_json::to_value(&recs[0]).unwrap();
    assert_eq!(
        v,
        serde_json::json!({
            "direction": "to_server",
            "sending_application": "SENDING_APPLICATION",
            "sending_facility": "SENDING_FACILITY",
            "receiving_application": "RECEIVING_APPLICATION",
            "receiving_facility": "RECEIVING_FACILITY",
            "message_type": "ADT",
            "trigger_event": "A01",
            "control_id": "934576120110613083617",
            "processing_id": "P",
            "version": "2.3",
            "device_identifiers": [{"id": "Hospira Plum A+", "source": "PRT-16"}],
            "segments": {"MSH": 1, "EVN": 1, "PID": 1, "PRT": 1},
            "segment_count": 4,
            "size": 474
        })
    );
}

// ---------------------------------------------------------------------------
// Properties

/// A conversation split at the given points (fractions of each chunk).
fn resplit(chunks: &[(Direction, Vec<u8>)], cuts: &[usize]) -> Vec<(Direction, Vec<u8>)> {
    let mut out = Vec::new();
    let mut k = 0;
    for (d, bytes) in chunks {
        let mut start = 0;
        while start < bytes.len() {
            let step = 1 + cuts.get(k).copied().unwrap_or(bytes.len()) % (bytes.len() - start);
            k += 1;
            out.push((*d, bytes[start..start + step].to_vec()));
            start += step;
        }
    }
    out
}

#[test]
fn one_byte_per_segment_gives_the_same_records() {
    for (name, st, _, _) in CAPTURES {
        let chunks = stream(st);
        let whole = replay(&chunks);
        let bytes: Vec<(Direction, Vec<u8>)> = chunks
            .iter()
            .flat_map(|(d, b)| b.iter().map(move |x| (*d, vec![*x])))
            .collect();
        assert_eq!(replay(&bytes), whole, "{name}");
    }
}

/// Synthetic conversation with every message kind, for the properties.
fn synthetic() -> Vec<(Direction, Vec<u8>)> {
    let mut c = frame(ADT_A01);
    c.extend(b"xx");
    c.extend(frame(
        b"FHS|^~\\&\rMSH|^~\\&|A|B|||||ORU^R01|M1|P|2.5\rOBX|1|||||||||||||||||D1~D2\rBTS|1\r",
    ));
    c.extend(frame(
        b"MSH$%~\\&$X%Y$Z$$$$$ORU%R01$E1$P$2.6\rPRT$$$$$$$$$$P%1$$$$$$U\r",
    ));
    vec![(C, c), (S, frame(ACK_AE))]
}

proptest! {
    #[test]
    fn any_split_gives_the_same_records(
        which in 0usize..13,
        cuts in proptest::collection::vec(0usize..4000, 0..64),
    ) {
        let chunks = match CAPTURES.get(which) {
            Some((_, st, _, _)) => stream(st),
            None => synthetic(),
        };
        let whole = replay(&chunks);
        prop_assert_eq!(replay(&resplit(&chunks, &cuts)), whole);
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        segs in proptest::collection::vec((any::<bool>(), proptest::collection::vec(any::<u8>(), 0..300)), 0..16),
    ) {
        let segs: Vec<(Direction, &[u8])> = segs
            .iter()
            .map(|(d, b)| (if *d { C } else { S }, b.as_slice()))
            .collect();
        let _ = run(&segs);
    }

    #[test]
    fn mutated_messages_never_panic_and_stay_bounded(
        edits in proptest::collection::vec((0usize..2000, prop_oneof![
            Just(0x0bu8), Just(0x1c), Just(0x0d), Just(b'|'), Just(b'^'), Just(b'~'),
            Just(b'\\'), Just(b'&'), any::<u8>()]), 1..20),
    ) {
        let mut chunks = synthetic();
        for (at, b) in edits {
            let c = &mut chunks[at % 2].1;
            let i = at % c.len();
            c[i] = b;
        }
        for m in replay(&chunks) {
            prop_assert!(m.device_identifiers.len() <= MAX_DEVICE_IDS);
            prop_assert!(m.segments.iter().count() <= MAX_SEGMENT_NAMES);
            for v in [&m.sending_application, &m.control_id, &m.ack_control_id].into_iter().flatten() {
                prop_assert!(v.len() <= MAX_VALUE_LEN);
                prop_assert!(!v.chars().any(char::is_control));
            }
        }
    }
}

#[test]
fn anomaly_table_is_indexed_by_the_enum() {
    assert_eq!(Hl7Parser::ANOMALIES.len(), Anomaly::ALL.len());
    for a in Anomaly::ALL {
        assert_eq!(Hl7Parser::ANOMALIES[a as usize], a.name());
    }
}
