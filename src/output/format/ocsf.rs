//! Open Cybersecurity Schema Framework ([`OCSF_VERSION`]) events built from
//! EVE events.
//!
//! | EVE `event_type` | OCSF class | activity |
//! | --- | --- | --- |
//! | `alert` | Detection Finding (2004, Findings) | 1 Create |
//! | `device` | Device Inventory Info (5001, Discovery) | 2 Collect |
//! | `dicom`, `hl7`, `mqtt`, any other with a flow | Network Activity (4001) | 6 Traffic |
//! | `stats`, `warning`, anything else | Base Event (0, Uncategorized) | 99 Other |
//!
//! OCSF 1.3.0 has no class for a sensor's own health (counters, capture
//! loss): its Base Event is concrete and meant for what no class fits, so
//! `stats` and `warning` events are Base Events whose `activity_name` says
//! which (`stats`, `capture_loss`, …) and whose numbers are in `unmapped`.
//!
//! Every event carries the required attributes of its class (`class_uid`,
//! `category_uid`, `activity_id`, `type_uid` = class × 100 + activity,
//! `severity_id`, `time` in ms, `metadata.product`, `metadata.version`);
//! `metadata.uid` is the EVE `event_id`, `metadata.correlation_uid` the
//! Community ID. What OCSF has no attribute for is kept under `unmapped` as
//! EVE has it (`unmapped.<event_type>` is the event's own EVE object), so
//! nothing is lost. `tests/formats.rs` checks every attribute written
//! against the published schema in `schema/ocsf/`.

use serde_json::{Map, Value, json};

use super::{
    Level, device_hostname, epoch_ms, event_name, first_str, ics_tactic_id, str_at, summary, u64_at,
};

/// The OCSF schema version the events follow (`metadata.version`).
pub const OCSF_VERSION: &str = "1.3.0";

/// The OCSF attributes shortening never cuts: the required ones and the
/// flow's addresses.
pub const HEAD: &[&[&str]] = &[
    &["time"],
    &["class_uid"],
    &["class_name"],
    &["category_uid"],
    &["category_name"],
    &["activity_id"],
    &["activity_name"],
    &["type_uid"],
    &["severity_id"],
    &["severity"],
    &["metadata", "version"],
    &["metadata", "uid"],
    &["metadata", "correlation_uid"],
    &["metadata", "product", "name"],
    &["metadata", "product", "vendor_name"],
    &["metadata", "product", "version"],
    &["finding_info", "uid"],
    &["finding_info", "title"],
    &["finding_info", "analytic", "uid"],
    &["finding_info", "analytic", "type_id"],
    &["device", "type_id"],
    &["device", "uid"],
    &["src_endpoint", "ip"],
    &["src_endpoint", "port"],
    &["dst_endpoint", "ip"],
    &["dst_endpoint", "port"],
    &["connection_info", "direction_id"],
    &["unmapped", "truncated"],
];

/// Marks a shortened event: `unmapped.truncated: true`.
pub fn mark_truncated(ev: &mut Value) {
    let Value::Object(map) = ev else { return };
    let unmapped = map
        .entry("unmapped")
        .or_insert_with(|| Value::Object(Map::new()));
    if !unmapped.is_object() {
        *unmapped = Value::Object(Map::new());
    }
    if let Some(m) = unmapped.as_object_mut() {
        m.insert("truncated".to_owned(), Value::Bool(true));
    }
}

/// The OCSF class of an EVE event: (class_uid, class_name, category_uid,
/// category_name, activity_id, activity_name).
fn class_of(eve: &Value, event_type: &str) -> (u32, &'static str, u32, &'static str, u32) {
    match event_type {
        "alert" => (2004, "Detection Finding", 2, "Findings", 1),
        "device" => (5001, "Device Inventory Info", 5, "Discovery", 2),
        "stats" | "warning" => (0, "Base Event", 0, "Uncategorized", 99),
        _ if eve.get("dest_ip").and_then(Value::as_str).is_some() => {
            (4001, "Network Activity", 4, "Network Activity", 6)
        }
        _ => (0, "Base Event", 0, "Uncategorized", 99),
    }
}

fn activity_name(class_uid: u32, activity_id: u32, eve: &Value, event_type: &str) -> String {
    match (class_uid, activity_id) {
        (2004, 1) => "Create".to_owned(),
        (5001, 2) => "Collect".to_owned(),
        (4001, 6) => "Traffic".to_owned(),
        _ => str_at(eve, "/warning/kind")
            .unwrap_or(event_type)
            .to_owned(),
    }
}

fn severity_caption(id: u8) -> &'static str {
    match id {
        1 => "Informational",
        2 => "Low",
        3 => "Medium",
        4 => "High",
        5 => "Critical",
        _ => "Unknown",
    }
}

/// The OCSF event of one EVE event.
pub fn encode(eve: &Value) -> Value {
    let event_type = str_at(eve, "/event_type").unwrap_or("unknown");
    let (class_uid, class_name, category_uid, category_name, activity_id) =
        class_of(eve, event_type);
    let severity_id = Level::of(eve).ocsf_severity_id();
    let time = str_at(eve, "/timestamp").and_then(epoch_ms).unwrap_or(0);

    let mut e = Map::new();
    e.insert("class_uid".into(), json!(class_uid));
    e.insert("class_name".into(), json!(class_name));
    e.insert("category_uid".into(), json!(category_uid));
    e.insert("category_name".into(), json!(category_name));
    e.insert("activity_id".into(), json!(activity_id));
    e.insert(
        "activity_name".into(),
        json!(activity_name(class_uid, activity_id, eve, event_type)),
    );
    e.insert(
        "type_uid".into(),
        json!(u64::from(class_uid) * 100 + u64::from(activity_id)),
    );
    e.insert("severity_id".into(), json!(severity_id));
    e.insert("severity".into(), json!(severity_caption(severity_id)));
    e.insert("time".into(), json!(time));
    e.insert("message".into(), json!(summary(eve)));

    let mut metadata = Map::new();
    metadata.insert("version".into(), json!(OCSF_VERSION));
    metadata.insert(
        "product".into(),
        json!({"name": "medtap", "vendor_name": "medtap", "version": env!("CARGO_PKG_VERSION")}),
    );
    if let Some(id) = str_at(eve, "/event_id") {
        metadata.insert("uid".into(), json!(id));
    }
    if let Some(cid) = str_at(eve, "/community_id") {
        metadata.insert("correlation_uid".into(), json!(cid));
    }
    metadata.insert("log_name".into(), json!(event_type));
    if let Some(ts) = str_at(eve, "/timestamp") {
        metadata.insert("original_time".into(), json!(ts));
    }
    if let Some(n) = u64_at(eve, "/pcap_cnt") {
        metadata.insert("sequence".into(), json!(n));
    }
    e.insert("metadata".into(), Value::Object(metadata));

    match class_uid {
        2004 => finding(eve, &mut e),
        5001 => {
            e.insert("device".into(), device(eve.get("device")));
        }
        4001 => {
            network(eve, &mut e);
            if let Some(app) = str_at(eve, "/app_proto") {
                e.insert("app_name".into(), json!(app));
            }
        }
        _ => {}
    }
    if event_type == "warning" {
        let recovered = str_at(eve, "/warning/kind").is_some_and(|k| k.ends_with("_recovered"));
        e.insert("status_id".into(), json!(if recovered { 1 } else { 2 }));
        e.insert(
            "status".into(),
            json!(if recovered { "Success" } else { "Failure" }),
        );
    }

    // Everything OCSF has no attribute for, as EVE has it.
    let mut unmapped = Map::new();
    if let Value::Object(top) = eve {
        for (k, v) in top {
            let keep = !matches!(
                k.as_str(),
                "timestamp"
                    | "event_type"
                    | "event_id"
                    | "src_ip"
                    | "src_port"
                    | "dest_ip"
                    | "dest_port"
                    | "community_id"
                    | "app_proto"
            );
            if keep {
                unmapped.insert(k.clone(), v.clone());
            }
        }
    }
    if !unmapped.is_empty() {
        e.insert("unmapped".into(), Value::Object(unmapped));
    }
    Value::Object(e)
}

/// OCSF `device.type_id` of a medtap device type: clinical devices are
/// IOT (7), servers of clinical data Server (1).
fn device_type(name: Option<&str>) -> (u32, String) {
    match name {
        Some(
            n @ ("imaging_modality" | "infusion_pump" | "patient_monitor" | "ventilator"
            | "lab_analyser" | "printer"),
        ) => (7, n.to_owned()),
        Some(n @ ("pacs_vna" | "hl7_interface_engine" | "mqtt_broker")) => (1, n.to_owned()),
        Some(n @ "network_device") => (12, n.to_owned()),
        None | Some("unknown") => (0, "Unknown".to_owned()),
        Some(other) => (99, other.to_owned()),
    }
}

/// The OCSF `device` object of an EVE device record.
fn device(dev: Option<&Value>) -> Value {
    let empty = Value::Null;
    let dev = dev.unwrap_or(&empty);
    let (type_id, type_name) = device_type(str_at(dev, "/type/name"));
    let mut d = Map::new();
    d.insert("type_id".into(), json!(type_id));
    d.insert("type".into(), json!(type_name));
    if let Some(id) = str_at(dev, "/id") {
        d.insert("uid".into(), json!(id));
    }
    if let Some(mac) = str_at(dev, "/mac") {
        d.insert("mac".into(), json!(mac));
    }
    if let Some(ip) = first_str(dev, "/ips") {
        d.insert("ip".into(), json!(ip));
    }
    if let Some(name) = device_hostname(dev) {
        d.insert("hostname".into(), json!(name));
        d.insert("name".into(), json!(name));
    }
    // OCSF 1.3.0's device has no vendor or model: those stay in
    // `unmapped.device`; the serial number has a place.
    if let Some(serial) = first_str(dev, "/identity/dicom/serial_number") {
        d.insert("hw_info".into(), json!({"serial_number": serial}));
    }
    if let Some(first) = str_at(dev, "/first_seen").and_then(epoch_ms) {
        d.insert("first_seen_time".into(), json!(first));
    }
    if let Some(family) = str_at(dev, "/os/family") {
        let type_id = match family {
            "windows" => 100,
            "linux" | "debian" | "ubuntu" | "redhat" | "centos" | "rhel" | "suse" | "alpine" => 200,
            "android" => 201,
            "macos" => 300,
            "ios" => 301,
            "solaris" => 400,
            "aix" => 401,
            _ => 99,
        };
        let mut os = Map::new();
        os.insert("name".into(), json!(family));
        os.insert("type_id".into(), json!(type_id));
        if let Some(v) = str_at(dev, "/os/version") {
            os.insert("version".into(), json!(v));
        }
        if let Some(b) = str_at(dev, "/os/build") {
            os.insert("build".into(), json!(b));
        }
        d.insert("os".into(), Value::Object(os));
    }
    if let Some(score) = u64_at(dev, "/risk/score") {
        d.insert("risk_score".into(), json!(score));
    }
    if let Some(level) = str_at(dev, "/risk/level") {
        let id = match level {
            "low" => 1,
            "medium" => 2,
            "high" => 3,
            "critical" => 4,
            _ => 99,
        };
        d.insert("risk_level_id".into(), json!(id));
        d.insert("risk_level".into(), json!(level));
    }
    Value::Object(d)
}

fn endpoint(eve: &Value, ip: &str, port: &str) -> Option<Value> {
    let mut ep = Map::new();
    ep.insert("ip".into(), json!(str_at(eve, ip)?));
    if let Some(p) = u64_at(eve, port) {
        ep.insert("port".into(), json!(p));
    }
    Some(Value::Object(ep))
}

fn connection_info(eve: &Value) -> Option<Value> {
    let proto = str_at(eve, "/proto")?;
    let mut c = Map::new();
    // A passive sensor cannot tell inbound from outbound reliably.
    c.insert("direction_id".into(), json!(0));
    c.insert("direction".into(), json!("Unknown"));
    let number = match proto {
        "TCP" => Some(6),
        "UDP" => Some(17),
        "ICMP" => Some(1),
        "IPv6-ICMP" => Some(58),
        "SCTP" => Some(132),
        n => n.parse::<u8>().ok().map(u32::from),
    };
    c.insert("protocol_name".into(), json!(proto.to_ascii_lowercase()));
    if let Some(n) = number {
        c.insert("protocol_num".into(), json!(n));
    }
    if let Some(src) = str_at(eve, "/src_ip") {
        let (id, ver) = if src.contains(':') {
            (6, "Internet Protocol version 6 (IPv6)")
        } else {
            (4, "Internet Protocol version 4 (IPv4)")
        };
        c.insert("protocol_ver_id".into(), json!(id));
        c.insert("protocol_ver".into(), json!(ver));
    }
    if let Some(flow) = u64_at(eve, "/flow_id") {
        c.insert("uid".into(), json!(flow.to_string()));
    }
    Some(Value::Object(c))
}

fn network(eve: &Value, e: &mut Map<String, Value>) {
    if let Some(src) = endpoint(eve, "/src_ip", "/src_port") {
        e.insert("src_endpoint".into(), src);
    }
    // dst_endpoint is required by Network Activity: a flow always has one.
    let dst = endpoint(eve, "/dest_ip", "/dest_port").unwrap_or_else(|| json!({}));
    e.insert("dst_endpoint".into(), dst);
    if let Some(c) = connection_info(eve) {
        e.insert("connection_info".into(), c);
    }
}

fn finding(eve: &Value, e: &mut Map<String, Value>) {
    let kind = str_at(eve, "/alert/kind").unwrap_or("alert");
    let uid = match str_at(eve, "/event_id") {
        Some(id) => id.to_owned(),
        // Before event ids: the aggregation key and time name it.
        None => format!(
            "{kind}|{}|{}",
            str_at(eve, "/device/id").unwrap_or("-"),
            str_at(eve, "/timestamp").unwrap_or("-")
        ),
    };
    let mut info = Map::new();
    info.insert("uid".into(), json!(uid));
    info.insert("title".into(), json!(event_name(eve)));
    if let Some(m) = str_at(eve, "/alert/message") {
        info.insert("desc".into(), json!(m));
    }
    if let Some(cat) = str_at(eve, "/alert/category") {
        info.insert("types".into(), json!([cat]));
    }
    let mut analytic = Map::new();
    analytic.insert("type_id".into(), json!(2));
    analytic.insert("type".into(), json!("Behavioral"));
    analytic.insert("name".into(), json!(kind));
    let rule_uid = u64_at(eve, "/alert/signature_id")
        .map(|id| id.to_string())
        .unwrap_or_else(|| kind.to_owned());
    analytic.insert("uid".into(), json!(rule_uid));
    info.insert("analytic".into(), Value::Object(analytic));
    if let Some(first) = str_at(eve, "/alert/repeats/first_seen").and_then(epoch_ms) {
        info.insert("first_seen_time".into(), json!(first));
    }
    if let Some(last) = str_at(eve, "/alert/repeats/last_seen").and_then(epoch_ms) {
        info.insert("last_seen_time".into(), json!(last));
    }
    if let Some(id) = str_at(eve, "/alert/mitre/technique_id") {
        let mut attack = Map::new();
        let mut technique = Map::new();
        technique.insert("uid".into(), json!(id));
        if let Some(name) = str_at(eve, "/alert/mitre/technique") {
            technique.insert("name".into(), json!(name));
        }
        attack.insert("technique".into(), Value::Object(technique));
        if let Some(tactic) = str_at(eve, "/alert/mitre/tactic") {
            let mut t = Map::new();
            t.insert("name".into(), json!(tactic));
            if let Some(tid) = ics_tactic_id(tactic) {
                t.insert("uid".into(), json!(tid));
            }
            attack.insert("tactic".into(), Value::Object(t));
        }
        info.insert("attacks".into(), json!([Value::Object(attack)]));
    }
    e.insert("finding_info".into(), Value::Object(info));
    // A finding is new when written; medtap does not track its handling.
    e.insert("status_id".into(), json!(1));
    e.insert("status".into(), json!("New"));
    if let Some(count) = u64_at(eve, "/alert/repeats/count") {
        e.insert("count".into(), json!(count));
    }
    if eve.get("device").is_some_and(Value::is_object) {
        e.insert("device".into(), device(eve.get("device")));
    }
    let mut evidence = Map::new();
    if let Some(src) = endpoint(eve, "/src_ip", "/src_port") {
        evidence.insert("src_endpoint".into(), src);
    }
    if let Some(dst) = endpoint(eve, "/dest_ip", "/dest_port") {
        evidence.insert("dst_endpoint".into(), dst);
    }
    if let Some(c) = connection_info(eve) {
        evidence.insert("connection_info".into(), c);
    }
    if !evidence.is_empty() {
        e.insert("evidences".into(), json!([Value::Object(evidence)]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_uid_is_class_times_100_plus_activity() {
        let eve = json!({"timestamp": "2026-12-03T06:11:13.665457Z", "event_type": "hl7",
            "src_ip": "10.0.0.1", "src_port": 5, "dest_ip": "10.0.0.2", "dest_port": 2575,
            "proto": "TCP", "app_proto": "hl7", "hl7": {"message_type": "ORU"}});
        let e = encode(&eve);
        assert_eq!(e["class_uid"], 4001);
        assert_eq!(e["type_uid"], 400106);
        assert_eq!(e["dst_endpoint"]["port"], 2575);
        assert_eq!(e["connection_info"]["protocol_num"], 6);
        assert_eq!(e["unmapped"]["hl7"]["message_type"], "ORU");
        assert_eq!(e["time"], 1_796_278_273_665_i64);
    }

    #[test]
    fn an_alert_is_a_detection_finding() {
        let eve = json!({"timestamp": "2026-12-03T06:11:13.665457Z", "event_type": "alert",
            "alert": {"kind": "hl7_nak_burst", "severity": "high", "message": "m",
                      "mitre": {"technique_id": "T0814", "technique": "Denial of Service", "tactic": "Inhibit Response Function"}},
            "device": {"id": "ip:10.0.0.1", "ips": ["10.0.0.1"], "type": {"name": "lab_analyser"}}});
        let e = encode(&eve);
        assert_eq!(e["class_uid"], 2004);
        assert_eq!(e["type_uid"], 200401);
        assert_eq!(e["severity_id"], 4);
        assert_eq!(e["device"]["type_id"], 7);
        assert_eq!(e["finding_info"]["attacks"][0]["tactic"]["uid"], "TA0107");
        assert!(
            e["finding_info"]["uid"]
                .as_str()
                .is_some_and(|u| u.starts_with("hl7_nak_burst|"))
        );
    }
}
