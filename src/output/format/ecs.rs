//! Elastic Common Schema ([`ECS_VERSION`]) documents built from EVE events.
//!
//! Each event becomes one nested ECS document: `@timestamp`, the `event.*`
//! categorization (`kind`, `category`, `type`, `severity`, `id`, `dataset`
//! `medtap.<event_type>`, `module` `medtap`, `action`), `observer` (the
//! sensor), `source`/`destination`/`network` (the flow), `related.ip`, for
//! alerts `rule` and `threat` (MITRE ATT&CK for ICS), for the device
//! `host.*` and `device.*`, and `message`. What ECS has no field for is
//! kept under `medtap.*` as EVE has it (`medtap.<event_type>` is the
//! event's own EVE object, whole), so nothing is lost. Field by field:
//! `docs/formats.md`; every field written is checked against the ECS
//! field definitions in `schema/ecs/` by `tests/formats.rs`.
//!
//! MAC addresses are written as ECS asks (RFC 7042: upper case, hyphens).

use serde_json::{Map, Value, json};

use super::{
    Level, device_hostname, device_is_source, first_str, ics_tactic_id, str_at, summary,
    technique_reference, u64_at,
};

/// The ECS version the documents follow (`ecs.version`).
pub const ECS_VERSION: &str = "8.11.0";

/// The ECS fields shortening never cuts.
pub const HEAD: &[&[&str]] = &[
    &["@timestamp"],
    &["ecs", "version"],
    &["event", "kind"],
    &["event", "category"],
    &["event", "type"],
    &["event", "severity"],
    &["event", "id"],
    &["event", "dataset"],
    &["event", "module"],
    &["event", "action"],
    &["observer", "name"],
    &["source", "ip"],
    &["source", "port"],
    &["destination", "ip"],
    &["destination", "port"],
    &["network", "transport"],
    &["network", "protocol"],
    &["network", "community_id"],
    &["rule", "id"],
    &["rule", "name"],
    &["rule", "category"],
    &["device", "id"],
    &["tags"],
    &["medtap", "truncated"],
];

/// Marks a shortened document: `tags: ["truncated"]` and
/// `medtap.truncated: true`.
pub fn mark_truncated(doc: &mut Value) {
    let Value::Object(map) = doc else { return };
    match map.get_mut("tags") {
        Some(Value::Array(tags)) => tags.push(json!("truncated")),
        _ => {
            map.insert("tags".to_owned(), json!(["truncated"]));
        }
    }
    let medtap = map
        .entry("medtap")
        .or_insert_with(|| Value::Object(Map::new()));
    if !medtap.is_object() {
        *medtap = Value::Object(Map::new());
    }
    if let Some(m) = map.get_mut("medtap").and_then(Value::as_object_mut) {
        m.insert("truncated".to_owned(), Value::Bool(true));
    }
}

/// A MAC as ECS writes it: `00-09-5C-10-20-13`.
pub fn ecs_mac(mac: &str) -> String {
    mac.replace(':', "-").to_ascii_uppercase()
}

/// Sets `map[a][b]…` = `value`, making the objects on the way.
fn put(map: &mut Map<String, Value>, path: &[&str], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut at = map;
    for p in parents {
        let entry = at
            .entry((*p).to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        let Value::Object(next) = entry else { return };
        at = next;
    }
    at.insert((*last).to_owned(), value);
}

/// `event.kind`, `event.category`, `event.type` of an event type.
fn categorization(
    eve: &Value,
    event_type: &str,
) -> (&'static str, Vec<&'static str>, Vec<&'static str>) {
    let flow = eve.get("src_ip").is_some();
    match event_type {
        "alert" => {
            let mut cat = vec!["intrusion_detection"];
            if flow {
                cat.push("network");
            }
            ("alert", cat, vec!["info"])
        }
        "device" => ("asset", vec!["host"], vec!["info"]),
        "stats" => ("metric", vec!["host"], vec!["info"]),
        "warning" => {
            let kind = str_at(eve, "/warning/kind").unwrap_or("");
            let ty = if kind.ends_with("_recovered") {
                "info"
            } else {
                "error"
            };
            // `host` admits no "error" type; a sensor warning is about the
            // sensor's own host all the same, so it is left uncategorized
            // but for its type.
            ("event", vec![], vec![ty])
        }
        "dicom" | "hl7" | "mqtt" => ("event", vec!["network"], vec!["connection", "protocol"]),
        _ if flow => ("event", vec!["network"], vec!["info"]),
        _ => ("event", vec![], vec![]),
    }
}

/// The ECS document of one EVE event.
pub fn encode(eve: &Value) -> Value {
    let mut d = Map::new();
    let event_type = str_at(eve, "/event_type").unwrap_or("unknown");
    if let Some(ts) = str_at(eve, "/timestamp") {
        d.insert("@timestamp".to_owned(), json!(ts));
    }
    put(&mut d, &["ecs", "version"], json!(ECS_VERSION));
    let (kind, category, ty) = categorization(eve, event_type);
    put(&mut d, &["event", "kind"], json!(kind));
    if !category.is_empty() {
        put(&mut d, &["event", "category"], json!(category));
    }
    if !ty.is_empty() {
        put(&mut d, &["event", "type"], json!(ty));
    }
    let level = Level::of(eve);
    put(
        &mut d,
        &["event", "severity"],
        json!(level.suricata_severity()),
    );
    if let Some(id) = str_at(eve, "/event_id") {
        put(&mut d, &["event", "id"], json!(id));
    }
    put(
        &mut d,
        &["event", "dataset"],
        json!(format!("medtap.{event_type}")),
    );
    put(&mut d, &["event", "module"], json!("medtap"));
    let action = str_at(eve, "/alert/kind")
        .or_else(|| str_at(eve, "/warning/kind"))
        .unwrap_or(event_type);
    put(&mut d, &["event", "action"], json!(action));
    if let Some(first) = str_at(eve, "/alert/repeats/first_seen") {
        put(&mut d, &["event", "start"], json!(first));
    }
    if let Some(last) = str_at(eve, "/alert/repeats/last_seen") {
        put(&mut d, &["event", "end"], json!(last));
    }

    // The sensor.
    if let Some(host) = str_at(eve, "/host") {
        put(&mut d, &["observer", "name"], json!(host));
    }
    put(&mut d, &["observer", "type"], json!("sensor"));
    put(&mut d, &["observer", "vendor"], json!("medtap"));
    put(&mut d, &["observer", "product"], json!("medtap"));
    put(
        &mut d,
        &["observer", "version"],
        json!(env!("CARGO_PKG_VERSION")),
    );

    flow(eve, &mut d);
    if event_type == "alert" {
        alert(eve, &mut d);
    }
    if eve.get("device").is_some_and(Value::is_object) {
        device(eve, &mut d);
    }
    related(eve, &mut d);
    // A login's user name (never a secret: medtap keeps none).
    if let Some(user) = str_at(eve, "/evidence/user_name") {
        put(&mut d, &["user", "name"], json!(user));
    }
    d.insert("message".to_owned(), json!(summary(eve)));

    // Everything ECS has no field for, as EVE has it.
    let mut m = Map::new();
    if let Value::Object(top) = eve {
        for (k, v) in top {
            let keep = !matches!(
                k.as_str(),
                "timestamp"
                    | "event_type"
                    | "event_id"
                    | "host"
                    | "src_ip"
                    | "src_port"
                    | "dest_ip"
                    | "dest_port"
                    | "proto"
                    | "community_id"
                    | "app_proto"
            );
            if keep {
                m.insert(k.clone(), v.clone());
            }
        }
    }
    if !m.is_empty() {
        d.insert("medtap".to_owned(), Value::Object(m));
    }
    Value::Object(d)
}

fn flow(eve: &Value, d: &mut Map<String, Value>) {
    let device_side = device_is_source(eve);
    let mac = str_at(eve, "/device/mac").map(ecs_mac);
    for (side, ip, port, is_device) in [
        ("source", "/src_ip", "/src_port", device_side == Some(true)),
        (
            "destination",
            "/dest_ip",
            "/dest_port",
            device_side == Some(false),
        ),
    ] {
        if let Some(ip) = str_at(eve, ip) {
            put(d, &[side, "ip"], json!(ip));
            if let Some(port) = u64_at(eve, port) {
                put(d, &[side, "port"], json!(port));
            }
            if let (true, Some(mac)) = (is_device, &mac) {
                put(d, &[side, "mac"], json!(mac));
            }
        }
    }
    if let Some(proto) = str_at(eve, "/proto") {
        if proto.bytes().all(|b| b.is_ascii_digit()) {
            put(d, &["network", "iana_number"], json!(proto));
        } else {
            put(
                d,
                &["network", "transport"],
                json!(proto.to_ascii_lowercase()),
            );
            let number = match proto {
                "TCP" => Some("6"),
                "UDP" => Some("17"),
                "ICMP" => Some("1"),
                "IPv6-ICMP" => Some("58"),
                "SCTP" => Some("132"),
                _ => None,
            };
            if let Some(n) = number {
                put(d, &["network", "iana_number"], json!(n));
            }
        }
        if let Some(src) = str_at(eve, "/src_ip") {
            let ty = if src.contains(':') { "ipv6" } else { "ipv4" };
            put(d, &["network", "type"], json!(ty));
        }
    }
    if let Some(app) = str_at(eve, "/app_proto") {
        put(d, &["network", "protocol"], json!(app));
    }
    if let Some(cid) = str_at(eve, "/community_id") {
        put(d, &["network", "community_id"], json!(cid));
    }
    if let Some(vlans) = eve.get("vlan").and_then(Value::as_array) {
        let mut ids = vlans.iter().filter_map(Value::as_u64);
        if let Some(outer) = ids.next() {
            put(d, &["network", "vlan", "id"], json!(outer.to_string()));
        }
        if let Some(inner) = ids.next() {
            put(
                d,
                &["network", "inner", "vlan", "id"],
                json!(inner.to_string()),
            );
        }
    }
}

fn alert(eve: &Value, d: &mut Map<String, Value>) {
    let kind = str_at(eve, "/alert/kind");
    let rule_id = u64_at(eve, "/alert/signature_id")
        .map(|id| id.to_string())
        .or_else(|| kind.map(str::to_owned));
    if let Some(id) = rule_id {
        put(d, &["rule", "id"], json!(id));
    }
    if let Some(name) = str_at(eve, "/alert/signature").or(kind) {
        put(d, &["rule", "name"], json!(name));
    }
    if let Some(cat) = str_at(eve, "/alert/category") {
        put(d, &["rule", "category"], json!(cat));
    }
    put(d, &["rule", "ruleset"], json!("medtap"));
    put(d, &["rule", "version"], json!(env!("CARGO_PKG_VERSION")));
    if let Some(message) = str_at(eve, "/alert/message") {
        put(d, &["rule", "description"], json!(message));
    }
    if let Some(id) = str_at(eve, "/alert/mitre/technique_id") {
        put(d, &["threat", "framework"], json!("MITRE ATT&CK"));
        put(d, &["threat", "technique", "id"], json!([id]));
        if let Some(name) = str_at(eve, "/alert/mitre/technique") {
            put(d, &["threat", "technique", "name"], json!([name]));
        }
        if let Some(reference) = technique_reference(id) {
            put(d, &["threat", "technique", "reference"], json!([reference]));
        }
    }
    if let Some(tactic) = str_at(eve, "/alert/mitre/tactic") {
        put(d, &["threat", "tactic", "name"], json!([tactic]));
        if let Some(id) = ics_tactic_id(tactic) {
            put(d, &["threat", "tactic", "id"], json!([id]));
            put(
                d,
                &["threat", "tactic", "reference"],
                json!([format!("https://attack.mitre.org/tactics/{id}/")]),
            );
        }
    }
}

fn device(eve: &Value, d: &mut Map<String, Value>) {
    let Some(dev) = eve.get("device") else { return };
    if let Some(id) = str_at(dev, "/id") {
        put(d, &["device", "id"], json!(id));
        put(d, &["host", "id"], json!(id));
    }
    if let Some(mac) = str_at(dev, "/mac") {
        put(d, &["host", "mac"], json!([ecs_mac(mac)]));
    }
    let ips: Vec<&str> = dev
        .get("ips")
        .and_then(Value::as_array)
        .map(|ips| ips.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !ips.is_empty() {
        put(d, &["host", "ip"], json!(ips));
    }
    if let Some(name) = device_hostname(dev) {
        put(d, &["host", "hostname"], json!(name));
        put(d, &["host", "name"], json!(name));
    }
    if let Some(ty) = str_at(dev, "/type/name") {
        put(d, &["host", "type"], json!(ty));
    }
    if let Some(family) = str_at(dev, "/os/family") {
        put(d, &["host", "os", "family"], json!(family));
        let os_type = match family {
            "windows" => Some("windows"),
            "macos" => Some("macos"),
            "ios" => Some("ios"),
            "android" => Some("android"),
            "linux" | "debian" | "ubuntu" | "redhat" | "centos" | "rhel" | "suse" | "alpine" => {
                Some("linux")
            }
            "freebsd" | "openbsd" | "netbsd" | "solaris" | "aix" | "hpux" => Some("unix"),
            _ => None,
        };
        if let Some(t) = os_type {
            put(d, &["host", "os", "type"], json!(t));
        }
        let version = str_at(dev, "/os/version");
        if let Some(v) = version {
            put(d, &["host", "os", "version"], json!(v));
        }
        let full = match version {
            Some(v) => format!("{family} {v}"),
            None => family.to_owned(),
        };
        put(d, &["host", "os", "full"], json!(full));
    }
    if let Some(kernel) = str_at(dev, "/os/kernel") {
        put(d, &["host", "os", "kernel"], json!(kernel));
    }
    if let Some(score) = dev.pointer("/risk/score").and_then(Value::as_f64) {
        put(d, &["host", "risk", "static_score_norm"], json!(score));
    }
    if let Some(level) = str_at(dev, "/risk/level") {
        put(d, &["host", "risk", "static_level"], json!(level));
    }
    let manufacturer =
        first_str(dev, "/identity/dicom/manufacturer").or_else(|| str_at(dev, "/vendor"));
    if let Some(m) = manufacturer {
        put(d, &["device", "manufacturer"], json!(m));
    }
    if let Some(model) = first_str(dev, "/identity/dicom/model") {
        put(d, &["device", "model", "name"], json!(model));
    }
    if let Some(udi) = first_str(dev, "/identity/hl7/device_id") {
        put(d, &["device", "model", "identifier"], json!(udi));
    }
}

fn related(eve: &Value, d: &mut Map<String, Value>) {
    let mut ips: Vec<&str> = Vec::new();
    for p in ["/src_ip", "/dest_ip", "/peer/ip"] {
        if let Some(ip) = str_at(eve, p)
            && !ips.contains(&ip)
        {
            ips.push(ip);
        }
    }
    if let Some(list) = eve.pointer("/device/ips").and_then(Value::as_array) {
        for ip in list.iter().filter_map(Value::as_str) {
            if !ips.contains(&ip) {
                ips.push(ip);
            }
        }
    }
    // `related.ip` is of type ip: what does not parse as one stays out.
    ips.retain(|ip| ip.parse::<std::net::IpAddr>().is_ok());
    if !ips.is_empty() {
        put(d, &["related", "ip"], json!(ips));
    }
    if let Some(Value::Object(host)) = d.get("host")
        && let Some(name) = host.get("hostname").cloned()
    {
        put(d, &["related", "hosts"], json!([name]));
    }
    if let Some(user) = str_at(eve, "/evidence/user_name") {
        put(d, &["related", "user"], json!([user]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_are_written_as_ecs_asks() {
        assert_eq!(ecs_mac("00:09:5c:10:20:13"), "00-09-5C-10-20-13");
    }

    #[test]
    fn an_alert_maps_rule_threat_and_host() {
        let eve = json!({
            "timestamp": "2026-12-03T06:11:13.665457Z", "event_type": "alert", "host": "s1",
            "event_id": "0123456789abcdef0123456789abcdef",
            "src_ip": "10.20.1.11", "src_port": 36720, "dest_ip": "10.20.2.10", "dest_port": 104,
            "proto": "TCP", "app_proto": "dicom", "community_id": "1:xd5ELBygATLxUDReeQC8Ce+Otd4=",
            "alert": {"kind": "new_peer", "signature_id": 9000002, "signature": "New peer",
                      "category": "anomaly", "severity": 2, "severity_name": "medium",
                      "message": "m", "mitre": {"technique_id": "T0846",
                      "technique": "Remote System Discovery", "tactic": "Discovery"}},
            "device": {"id": "mac:44:4b:5d:10:20:11", "mac": "44:4b:5d:10:20:11",
                       "ips": ["10.20.1.11"], "os": {"family": "linux", "kernel": "3.x"},
                       "identity": {"dicom": {"manufacturer": ["GE"], "model": ["Revolution"]}}},
            "peer": {"ip": "10.20.2.10", "port": 104}
        });
        let d = encode(&eve);
        assert_eq!(d["event"]["kind"], "alert");
        assert_eq!(d["event"]["severity"], 2);
        assert_eq!(d["event"]["id"], "0123456789abcdef0123456789abcdef");
        assert_eq!(d["rule"]["id"], "9000002");
        assert_eq!(d["threat"]["technique"]["id"], json!(["T0846"]));
        assert_eq!(d["threat"]["tactic"]["id"], json!(["TA0102"]));
        assert_eq!(d["source"]["mac"], "44-4B-5D-10-20-11");
        assert_eq!(d["host"]["os"]["type"], "linux");
        assert_eq!(d["device"]["model"]["name"], "Revolution");
        assert_eq!(d["related"]["ip"], json!(["10.20.1.11", "10.20.2.10"]));
        assert_eq!(d["observer"]["name"], "s1");
        assert_eq!(d["medtap"]["alert"]["kind"], "new_peer");
        assert_eq!(d["medtap"]["peer"]["port"], 104);
    }
}
