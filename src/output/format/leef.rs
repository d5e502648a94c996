//! IBM QRadar Log Event Extended Format 2.0 lines built from EVE events.
//!
//! `LEEF:2.0|medtap|medtap|VERSION|EventID|x09|key=value<TAB>key=value…`:
//! the event id is the one CEF carries (an alert's signature id, a
//! warning's kind, else the event type), the attributes are tab-delimited
//! (declared as `x09` in the sixth header field, LEEF 2.0's delimiter
//! field). Predefined LEEF keys carry what they can (`devTime`,
//! `devTimeFormat`, `src`, `dst`, `srcPort`, `dstPort`, `proto`, `sev`,
//! `cat`, `srcMAC`/`dstMAC`, `usrName`); the rest are custom keys
//! (`eventId`, `kind`, `sensor`, …), listed in `docs/formats.md`.
//!
//! Escaping: LEEF has no escape inside an attribute, so a value cannot carry
//! the delimiter or a line break: tabs, carriage returns and line feeds
//! become spaces; `=` needs none (QRadar splits a pair at its first `=`).
//! In the header a `|` and a `\` take a backslash, line breaks become
//! spaces. `usrName` only ever carries a login's user name, never a secret
//! (medtap never keeps one). A line is never longer than asked: attributes
//! go from the least important up, and the line says so (`truncated=true`).

use serde_json::Value;
use time::OffsetDateTime;
use time::macros::format_description;

use super::{
    Field, Fit, Level, category, epoch_ms, fit_line, signature_id, str_at, technique_line, u64_at,
};

/// LEEF version in the header.
pub const LEEF_VERSION: &str = "2.0";
/// Vendor and product in the header.
pub const VENDOR: &str = "medtap";
/// The attribute delimiter, and how the header declares it.
pub const DELIMITER: char = '\t';
/// [`DELIMITER`] as the header's sixth field.
pub const DELIMITER_FIELD: &str = "x09";
/// `devTimeFormat`: a Java `SimpleDateFormat` pattern for `devTime`.
pub const DEV_TIME_FORMAT: &str = "yyyy-MM-dd'T'HH:mm:ss.SSSX";

/// Escapes a LEEF header field: `\` and `|` get a backslash, line breaks and
/// tabs become spaces.
pub fn escape_header(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '|' => out.push_str("\\|"),
            '\r' | '\n' | '\t' => out.push(' '),
            c => out.push(c),
        }
    }
}

/// Writes an attribute value: the delimiter and line breaks, which LEEF
/// cannot escape, become spaces.
pub fn escape_value(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '\r' | '\n' | DELIMITER => out.push(' '),
            c => out.push(c),
        }
    }
}

/// The LEEF line for one event, whole.
pub fn line(eve: &Value) -> String {
    let mut out = Vec::new();
    encode_within(eve, usize::MAX, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Appends the LEEF line of `eve` in at most `max` bytes (see
/// [`super::encode_within`]).
pub fn encode_within(eve: &Value, max: usize, out: &mut Vec<u8>) -> Fit {
    let header = header(eve);
    let marks = vec![Field::new("truncated", "true", 0)];
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
    line.push_str("LEEF:");
    line.push_str(LEEF_VERSION);
    for field in [
        VENDOR,
        VENDOR,
        env!("CARGO_PKG_VERSION"),
        &signature_id(eve),
    ] {
        line.push('|');
        escape_header(field, &mut line);
    }
    line.push('|');
    line.push_str(DELIMITER_FIELD);
    line.push('|');
    line
}

fn render(header: &str, fields: &[Field]) -> String {
    let mut line = header.to_owned();
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            line.push(DELIMITER);
        }
        line.push_str(&f.key);
        line.push('=');
        escape_value(&f.value, &mut line);
    }
    line
}

/// `devTime` in [`DEV_TIME_FORMAT`]: milliseconds, UTC.
fn dev_time(ms: i64) -> Option<String> {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()?;
    t.format(format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    ))
    .ok()
}

/// The attributes of `eve`, most important first (see `cef::fields`).
fn fields(eve: &Value) -> Vec<Field> {
    let mut f = Vec::with_capacity(24);
    if let Some(t) = str_at(eve, "/timestamp")
        .and_then(epoch_ms)
        .and_then(dev_time)
    {
        f.push(Field::new("devTime", t, 0));
        f.push(Field::new("devTimeFormat", DEV_TIME_FORMAT, 0));
    }
    if let Some(src) = str_at(eve, "/src_ip") {
        f.push(Field::new("src", src, 0));
    }
    if let Some(dst) = str_at(eve, "/dest_ip") {
        f.push(Field::new("dst", dst, 0));
    }
    for (key, field) in [("srcPort", "/src_port"), ("dstPort", "/dest_port")] {
        if let Some(port) = u64_at(eve, field) {
            f.push(Field::new(key, port.to_string(), 0));
        }
    }
    if let Some(proto) = str_at(eve, "/proto") {
        f.push(Field::new("proto", proto, 0));
    }
    f.push(Field::new(
        "sev",
        Level::of(eve).cef_severity().to_string(),
        0,
    ));
    f.push(Field::new("cat", category(eve), 0));
    if let Some(id) = str_at(eve, "/event_id") {
        f.push(Field::new("eventId", id, 0));
    }
    if let Some(kind) = str_at(eve, "/alert/kind").or_else(|| str_at(eve, "/warning/kind")) {
        f.push(Field::new("kind", kind, 0));
    }
    if let Some(sig) = str_at(eve, "/alert/signature") {
        f.push(Field::new("signature", sig, 0));
    }
    if let Some(host) = str_at(eve, "/host") {
        f.push(Field::new("sensor", host, 1));
    }
    if let Some(mac) = str_at(eve, "/device/mac") {
        let key = match super::device_is_source(eve) {
            Some(false) => "dstMAC",
            _ => "srcMAC",
        };
        f.push(Field::new(key, mac, 1));
    }
    if let Some(id) = str_at(eve, "/device/id") {
        f.push(Field::new("deviceId", id, 1));
    }
    if let Some(cid) = str_at(eve, "/community_id") {
        f.push(Field::new("communityId", cid, 1));
    }
    if let Some(flow) = u64_at(eve, "/flow_id") {
        f.push(Field::new("flowId", flow.to_string(), 1));
    }
    // A login's user name (cleartext_credentials): never a secret.
    if let Some(user) = str_at(eve, "/evidence/user_name") {
        f.push(Field::new("usrName", user, 2));
    }
    if let Some(technique) = technique_line(eve) {
        f.push(Field::new("technique", technique, 2));
    }
    if let Some(app) = str_at(eve, "/app_proto") {
        f.push(Field::new("appProto", app, 2));
    }
    if let Some(vendor) = str_at(eve, "/device/vendor") {
        f.push(Field::new("vendor", vendor, 3));
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
        let mut out = String::new();
        escape_header("a|b\\c\td\ne", &mut out);
        assert_eq!(out, r"a\|b\\c d e");
    }

    #[test]
    fn values_cannot_carry_the_delimiter_or_line_breaks() {
        let mut out = String::new();
        escape_value("a\tb=c\r\nd|e", &mut out);
        assert_eq!(out, "a b=c  d|e");
    }

    #[test]
    fn dev_time_is_utc_milliseconds() {
        let ms = epoch_ms("2026-12-03T06:11:13.665457Z").expect("time");
        assert_eq!(dev_time(ms).as_deref(), Some("2026-12-03T06:11:13.665Z"));
    }

    #[test]
    fn a_device_line() {
        let eve = json!({
            "timestamp": "2026-12-03T06:11:11.158338Z", "event_type": "device",
            "src_ip": "10.20.1.11", "dest_ip": "10.20.2.10", "src_port": 1, "dest_port": 104,
            "proto": "TCP", "device": {"id": "mac:00:09:5c:10:20:13", "mac": "00:09:5c:10:20:13",
            "vendor": "Philips\tMedical", "ips": ["10.20.1.11"]}
        });
        let l = line(&eve);
        let (head, attrs) = l.split_at(l.find("|x09|").expect("delimiter field") + 5);
        assert_eq!(
            head,
            format!(
                "LEEF:2.0|medtap|medtap|{}|device|x09|",
                env!("CARGO_PKG_VERSION")
            )
        );
        let pairs: Vec<(&str, &str)> = attrs
            .split('\t')
            .map(|p| p.split_once('=').expect("key=value"))
            .collect();
        assert!(pairs.contains(&("srcMAC", "00:09:5c:10:20:13")));
        assert!(pairs.contains(&("vendor", "Philips Medical")));
        assert!(pairs.contains(&("sev", "1")));
        assert!(pairs.contains(&("devTime", "2026-12-03T06:11:11.158Z")));
    }
}
