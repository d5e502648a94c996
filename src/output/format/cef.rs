//! ArcSight Common Event Format (CEF:0) lines built from EVE events.
//!
//! `CEF:0|medtap|medtap|VERSION|SignatureID|Name|Severity|Extension`: the
//! signature id is an alert's `alert.signature_id` (its kind before
//! signature ids), a warning's kind or the event type; the name is the
//! alert's signature or a fixed phrase; the severity follows
//! [`Level::cef_severity`]. The extension maps the flow, the sensor
//! (`dvchost`), the event id (`externalId`), the category (`cat`), the
//! ATT&CK technique and a one-line `msg`; `docs/formats.md` has the table.
//!
//! Escaping (ArcSight CEF rules): in the header `\` and `|` take a
//! backslash and a line break, which the header cannot carry, becomes a
//! space; in an extension value `\` and `=` take a backslash, a line feed is
//! written `\n` and a carriage return `\r`. A line is never longer than
//! asked: extension fields go from the least important up, and the line
//! says so (`cs6Label=truncated cs6=true`).

use std::fmt::Write as _;

use serde_json::Value;

use super::{
    Field, Fit, Level, category, epoch_ms, event_name, fit_line, signature_id, str_at,
    technique_line, u64_at,
};

/// CEF format version in the header.
pub const CEF_VERSION: &str = "0";
/// Device vendor and product in the header.
pub const VENDOR: &str = "medtap";

/// Escapes a CEF header field: `\` and `|` get a backslash; a line break,
/// which the header cannot carry, becomes a space.
pub fn escape_header(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '|' => out.push_str("\\|"),
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
}

/// Escapes a CEF extension value: `\` and `=` get a backslash, a line feed
/// becomes `\n` and a carriage return `\r`.
pub fn escape_value(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '=' => out.push_str("\\="),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

/// The CEF line for one event, whole.
pub fn line(eve: &Value) -> String {
    let mut out = Vec::new();
    encode_within(eve, usize::MAX, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Appends the CEF line of `eve` in at most `max` bytes (see
/// [`super::encode_within`]).
pub fn encode_within(eve: &Value, max: usize, out: &mut Vec<u8>) -> Fit {
    let header = header(eve);
    let marks = vec![Field::labelled("cs6", "truncated", "true", 0)];
    fit_line(
        fields(eve),
        marks,
        |fields| render(&header, fields),
        max,
        out,
    )
}

fn header(eve: &Value) -> String {
    let mut line = String::with_capacity(256);
    line.push_str("CEF:");
    line.push_str(CEF_VERSION);
    for field in [
        VENDOR,
        VENDOR,
        env!("CARGO_PKG_VERSION"),
        &signature_id(eve),
        &event_name(eve),
    ] {
        line.push('|');
        escape_header(field, &mut line);
    }
    let _ = write!(line, "|{}|", Level::of(eve).cef_severity());
    line
}

fn render(header: &str, fields: &[Field]) -> String {
    let mut line = header.to_owned();
    let mut first = true;
    let mut pair = |key: &str, value: &str| {
        if !first {
            line.push(' ');
        }
        first = false;
        line.push_str(key);
        line.push('=');
        escape_value(value, &mut line);
    };
    for f in fields {
        if let Some((k, v)) = &f.label {
            pair(k, v);
        }
        pair(&f.key, &f.value);
    }
    line
}

/// The extension fields of `eve`, most important first. Rank 0 is the
/// head (time, addresses, ids, the alert's kind); rank 3 goes first.
fn fields(eve: &Value) -> Vec<Field> {
    let mut f = Vec::with_capacity(24);
    if let Some(rt) = str_at(eve, "/timestamp").and_then(epoch_ms) {
        f.push(Field::new("rt", rt.to_string(), 0));
    }
    if let Some(src) = str_at(eve, "/src_ip") {
        f.push(Field::new("src", src, 0));
    }
    if let Some(dst) = str_at(eve, "/dest_ip") {
        f.push(Field::new("dst", dst, 0));
    }
    for (key, field) in [("spt", "/src_port"), ("dpt", "/dest_port")] {
        if let Some(port) = u64_at(eve, field) {
            f.push(Field::new(key, port.to_string(), 0));
        }
    }
    if let Some(proto) = str_at(eve, "/proto") {
        f.push(Field::new("proto", proto, 0));
    }
    if let Some(id) = str_at(eve, "/event_id") {
        f.push(Field::new("externalId", id, 0));
    }
    if let Some(kind) = str_at(eve, "/alert/kind") {
        f.push(Field::labelled("flexString1", "kind", kind, 0));
    }
    f.push(Field::new("cat", category(eve), 1));
    if let Some(host) = str_at(eve, "/host") {
        f.push(Field::new("dvchost", host, 1));
    }
    if let Some(mac) = str_at(eve, "/device/mac") {
        let key = match super::device_is_source(eve) {
            Some(false) => "dmac",
            _ => "smac",
        };
        f.push(Field::new(key, mac, 1));
    }
    if let Some(id) = str_at(eve, "/device/id") {
        f.push(Field::labelled("cs1", "deviceId", id, 1));
    }
    if let Some(cid) = str_at(eve, "/community_id") {
        f.push(Field::labelled("cs3", "communityId", cid, 1));
    }
    if let Some(flow) = u64_at(eve, "/flow_id") {
        f.push(Field::labelled("cn1", "flowId", flow.to_string(), 1));
    }
    if let Some(technique) = technique_line(eve) {
        f.push(Field::labelled("cs5", "mitreTechnique", technique, 2));
    }
    if let Some(app) = str_at(eve, "/app_proto") {
        f.push(Field::labelled("cs4", "appProto", app, 2));
    }
    if let Some(count) = u64_at(eve, "/alert/repeats/count") {
        f.push(Field::new("cnt", count.to_string(), 2));
    }
    if let Some(vendor) = str_at(eve, "/device/vendor") {
        f.push(Field::labelled("cs2", "vendor", vendor, 3));
    }
    f.push(Field::new("msg", super::summary(eve), 3));
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn header_escapes_pipe_and_backslash() {
        // ArcSight CEF: "|" and "\" in a prefix field are escaped with "\".
        let mut out = String::new();
        escape_header(r"a|b\c=d", &mut out);
        assert_eq!(out, r"a\|b\\c=d");
    }

    #[test]
    fn header_turns_line_breaks_into_spaces() {
        let mut out = String::new();
        escape_header("a\r\nb", &mut out);
        assert_eq!(out, "a  b");
    }

    #[test]
    fn extension_escapes_equals_backslash_and_line_breaks() {
        // ArcSight CEF: "=" and "\" escaped with "\", LF as \n, CR as \r;
        // a pipe needs no escape in an extension value.
        let mut out = String::new();
        escape_value("x=42\\y|z\r\nw", &mut out);
        assert_eq!(out, r"x\=42\\y|z\r\nw");
    }

    fn alert() -> Value {
        json!({
            "timestamp": "2026-12-03T06:11:13.665457Z", "event_type": "alert",
            "host": "sensor-1", "event_id": "0123456789abcdef0123456789abcdef",
            "src_ip": "10.20.1.11", "src_port": 36720, "dest_ip": "10.20.2.10",
            "dest_port": 104, "proto": "TCP", "app_proto": "dicom",
            "alert": {"kind": "cleartext_clinical_protocol", "signature_id": 9000021,
                      "signature": "Clinical protocol | in the clear", "severity": 4,
                      "severity_name": "info", "category": "policy-violation",
                      "message": "a=b\nc",
                      "mitre": {"technique_id": "T0842", "technique": "Network Sniffing", "tactic": "Discovery"}},
            "device": {"id": "mac:44:4b:5d:10:20:11", "mac": "44:4b:5d:10:20:11", "ips": ["10.20.1.11"]}
        })
    }

    #[test]
    fn an_alert_line_carries_signature_id_sensor_and_technique() {
        let l = line(&alert());
        assert!(
            l.starts_with(&format!(
                "CEF:0|medtap|medtap|{}|9000021|Clinical protocol \\| in the clear|1|rt=1796278273665 ",
                env!("CARGO_PKG_VERSION")
            )),
            "{l}"
        );
        for part in [
            "externalId=0123456789abcdef0123456789abcdef",
            "cat=policy-violation",
            "dvchost=sensor-1",
            "smac=44:4b:5d:10:20:11",
            "cs5Label=mitreTechnique cs5=T0842 Network Sniffing (Discovery)",
            r"msg=a\=b\nc",
        ] {
            assert!(l.contains(part), "{part} in {l}");
        }
    }

    #[test]
    fn a_short_limit_drops_the_least_important_first() {
        let eve = alert();
        let whole = line(&eve);
        let mut out = Vec::new();
        let max = whole.len() - 10;
        assert_eq!(encode_within(&eve, max, &mut out), Fit::Shortened);
        let l = String::from_utf8(out).expect("utf-8");
        assert!(l.len() <= max);
        assert!(!l.contains("msg="), "{l}");
        assert!(l.contains("cs6Label=truncated cs6=true"));
        assert!(l.contains("externalId=") && l.contains("dpt=104"));
        let mut out = Vec::new();
        assert_eq!(encode_within(&eve, 50, &mut out), Fit::TooBig);
        assert!(out.is_empty());
    }
}
