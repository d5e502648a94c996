//! The SIEM formats, checked on real events: every EVE line medtap writes
//! for the shipped captures (ward, scenarios, side door, identity, with
//! `--log-protocols`) is encoded in every format through
//! `medtap::output::format::encode_within` and checked against the
//! published schemas committed under `schema/ecs/` (ECS 8.11.0 field
//! definitions) and `schema/ocsf/` (OCSF 1.3.0), and CEF and LEEF lines are
//! parsed back and compared with the EVE fields they carry.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a test fails by panicking"
)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::OnceLock;

use medtap::output::format::{Fit, Format, encode_within, epoch_ms};
use serde_json::{Value, json};

/// Every EVE event of the shipped captures, plus events in the newer
/// shape (sensor name, event id, flow id, Suricata severity numbers) and a
/// sensor warning, which no replay writes.
fn events() -> &'static [Value] {
    static EVENTS: OnceLock<Vec<Value>> = OnceLock::new();
    EVENTS.get_or_init(|| {
        let mut all = Vec::new();
        let mut run = |capture: &str, extra: &[&str]| {
            let mut args = vec!["-o", "-", "--log-protocols"];
            args.extend_from_slice(extra);
            let out = common::replay_ok(&common::fixture(capture), &args);
            all.extend(common::lines(&out.stdout));
        };
        run("ward.pcapng", &[]);
        run("sidedoor/sidedoor.pcap", &[]);
        run("identity/identity.pcapng", &[]);
        let dir = common::root().join("fixtures/scenarios");
        let mut scenarios: Vec<_> = std::fs::read_dir(&dir)
            .expect("scenarios")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "pcapng"))
            .collect();
        scenarios.sort();
        for p in scenarios {
            let rel = format!(
                "scenarios/{}",
                p.file_name().and_then(|n| n.to_str()).expect("name")
            );
            run(&rel, &["--learn", "10m"]);
        }
        let newer: Vec<Value> = all
            .iter()
            .filter(|e| e["event_type"] == "alert")
            .take(20)
            .enumerate()
            .map(|(i, e)| newer_shape(e, i))
            .collect();
        all.extend(newer);
        all.push(json!({"timestamp": "2026-11-29T13:52:04.101633Z", "event_type": "warning",
            "host": "sensor-1", "event_id": "00112233445566778899aabbccddeeff",
            "warning": {"kind": "capture_loss", "message": "capture lost 28327 of 47000 packets (60.27%) in the last 1.0 s, above the 1% threshold: medtap does not see all the traffic",
            "interval_secs": 1.047, "received": 47000, "dropped": 28327, "kernel_drops": 28327,
            "interface_drops": 0, "loss_percent": 60.270212765957446, "threshold_percent": 1.0}}));
        all.push(json!({"timestamp": "2026-11-29T13:52:05.101633Z", "event_type": "warning",
            "warning": {"kind": "capture_loss_recovered", "message": "recovered"}}));
        all
    })
}

/// `e` as the event model is becoming: sensor name, event id, flow id,
/// packet number, Suricata's severity number with its word, signature.
fn newer_shape(e: &Value, i: usize) -> Value {
    let mut e = e.clone();
    let word = e["alert"]["severity"]
        .as_str()
        .unwrap_or("medium")
        .to_owned();
    let number = match word.as_str() {
        "high" | "critical" => 1,
        "medium" => 2,
        "low" => 3,
        _ => 4,
    };
    e["host"] = json!("sensor|one=\\two");
    e["event_id"] = json!(format!("{:032x}", 0xfeed_0000_u64 + i as u64));
    if e.get("src_ip").is_some() {
        e["flow_id"] = json!(1_234_567_890_123_u64 + i as u64);
    }
    e["pcap_cnt"] = json!(42 + i);
    e["alert"]["severity"] = json!(number);
    e["alert"]["severity_name"] = json!(word);
    e["alert"]["signature_id"] = json!(9_000_000 + i);
    e["alert"]["signature"] = json!(format!("Title | with = signs {i}"));
    e["alert"]["category"] = json!("Potential Corporate Privacy Violation");
    e
}

fn encode(format: Format, eve: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    assert_eq!(
        encode_within(format, eve, usize::MAX, &mut out),
        Fit::Whole,
        "{}",
        format.name()
    );
    out
}

// ---- ECS ----------------------------------------------------------------

fn ecs_fields() -> &'static Value {
    static F: OnceLock<Value> = OnceLock::new();
    F.get_or_init(|| {
        let text = std::fs::read_to_string(common::root().join("schema/ecs/fields.json"))
            .expect("schema/ecs/fields.json (schema/ecs/make.sh makes it)");
        let v: Value = serde_json::from_str(&text).expect("ECS fields JSON");
        assert_eq!(v["version"], "8.11.0");
        v["fields"].clone()
    })
}

/// The leaves of an ECS document as dotted names (arrays are leaves).
fn flatten(v: &Value, prefix: &str, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(v, &name, out);
            }
        }
        other => {
            out.insert(prefix.to_owned(), other.clone());
        }
    }
}

fn ecs_type_fits(ty: &str, v: &Value) -> bool {
    match ty {
        "keyword" | "constant_keyword" | "wildcard" | "text" | "match_only_text" => v.is_string(),
        "long" | "integer" | "short" | "byte" | "unsigned_long" => v.is_i64() || v.is_u64(),
        "float" | "double" | "scaled_float" | "half_float" => v.is_number(),
        "boolean" => v.is_boolean(),
        "date" => v.as_str().is_some_and(|s| epoch_ms(s).is_some()),
        "ip" => v.as_str().is_some_and(|s| s.parse::<IpAddr>().is_ok()),
        _ => false,
    }
}

/// Checks an ECS document against the ECS field definitions; returns its
/// ECS leaves (without the `medtap.*` custom ones).
fn check_ecs(doc: &Value, what: &str) -> BTreeMap<String, Value> {
    let fields = ecs_fields();
    let mut leaves = BTreeMap::new();
    flatten(doc, "", &mut leaves);
    leaves.retain(|name, _| !name.starts_with("medtap.") && name != "medtap");
    for (name, value) in &leaves {
        let def = &fields[name.as_str()];
        assert!(def.is_object(), "{what}: {name} is not an ECS field");
        let ty = def["type"].as_str().expect("type");
        let values: Vec<&Value> = match value {
            Value::Array(items) => {
                assert!(
                    def["array"] == true,
                    "{what}: {name} is an array, ECS expects one value"
                );
                items.iter().collect()
            }
            v => vec![v],
        };
        for v in &values {
            assert!(ecs_type_fits(ty, v), "{what}: {name} = {v} is not {ty}");
            if let Some(allowed) = def["allowed"].as_array() {
                assert!(
                    allowed.contains(v),
                    "{what}: {name} = {v} is not an allowed value"
                );
            }
        }
    }
    for required in ["@timestamp", "ecs.version", "event.kind", "message"] {
        assert!(leaves.contains_key(required), "{what}: no {required}");
    }
    // Each event.type is one its categories expect.
    if let (Some(Value::Array(cats)), Some(Value::Array(types))) =
        (leaves.get("event.category"), leaves.get("event.type"))
    {
        let expected = &fields["event.category"]["expected_event_types"];
        for t in types {
            assert!(
                cats.iter().any(|c| expected[c.as_str().unwrap_or("")]
                    .as_array()
                    .is_some_and(|a| a.contains(t))),
                "{what}: event.type {t} is expected by none of {cats:?}"
            );
        }
    }
    leaves
}

#[test]
fn ecs_documents_use_ecs_fields_with_their_types() {
    let mut seen = BTreeSet::new();
    for eve in events() {
        let doc: Value = serde_json::from_slice(&encode(Format::Ecs, eve)).expect("ECS JSON");
        let what = format!("ECS of {eve}");
        let leaves = check_ecs(&doc, &what);
        seen.extend(leaves.keys().cloned());
        let event_type = eve["event_type"].as_str().expect("type");
        assert_eq!(doc["event"]["dataset"], format!("medtap.{event_type}"));
        assert_eq!(doc["@timestamp"], eve["timestamp"]);
        assert_eq!(doc["ecs"]["version"], "8.11.0");
        // Nothing lost: the event's own object is kept whole.
        if eve.get(event_type).is_some() {
            assert_eq!(doc["medtap"][event_type], eve[event_type], "{what}");
        }
        for (ecs, eve_field) in [
            ("/source/ip", "/src_ip"),
            ("/source/port", "/src_port"),
            ("/destination/ip", "/dest_ip"),
            ("/destination/port", "/dest_port"),
            ("/network/community_id", "/community_id"),
            ("/network/protocol", "/app_proto"),
            ("/event/id", "/event_id"),
            ("/observer/name", "/host"),
            ("/device/id", "/device/id"),
        ] {
            assert_eq!(doc.pointer(ecs), eve.pointer(eve_field), "{what}: {ecs}");
        }
        if event_type == "alert" {
            assert_eq!(doc["event"]["kind"], "alert");
            let rule = eve["alert"]["signature_id"]
                .as_u64()
                .map(|n| json!(n.to_string()))
                .unwrap_or_else(|| eve["alert"]["kind"].clone());
            assert_eq!(doc["rule"]["id"], rule);
            if let Some(t) = eve.pointer("/alert/mitre/technique_id") {
                assert_eq!(doc["threat"]["technique"]["id"][0], *t);
            }
        }
    }
    for must in [
        "rule.id",
        "threat.technique.id",
        "threat.tactic.id",
        "host.mac",
        "host.os.family",
        "device.manufacturer",
        "related.ip",
        "observer.name",
        "event.id",
    ] {
        assert!(seen.contains(must), "no event mapped {must}");
    }
}

// ---- OCSF ---------------------------------------------------------------

fn ocsf() -> &'static Value {
    static S: OnceLock<Value> = OnceLock::new();
    S.get_or_init(|| {
        let text = std::fs::read_to_string(common::root().join("schema/ocsf/ocsf-1.3.0.json"))
            .expect("schema/ocsf/ocsf-1.3.0.json");
        let v: Value = serde_json::from_str(&text).expect("OCSF JSON");
        assert_eq!(v["version"], "1.3.0");
        v
    })
}

/// The base JSON type an OCSF type stands for.
fn ocsf_base(ty: &str) -> &str {
    let types = &ocsf()["types"];
    match types[ty]["type"].as_str() {
        Some(base) => base,
        None => ty,
    }
}

fn ocsf_value_fits(base: &str, v: &Value) -> bool {
    match base {
        "string_t" => v.is_string(),
        "integer_t" | "long_t" => v.is_i64() || v.is_u64(),
        "float_t" => v.is_number(),
        "boolean_t" => v.is_boolean(),
        "json_t" => true,
        _ => false,
    }
}

/// Checks `obj` against the attribute table `attrs` (a class's or an
/// object's) and the object's `constraints`, recursively.
fn check_ocsf_attrs(obj: &Value, attrs: &Value, constraints: &Value, path: &str) {
    let map = obj
        .as_object()
        .unwrap_or_else(|| panic!("{path} is not an object"));
    for (name, def) in attrs.as_object().expect("attributes") {
        let required =
            def["requirement"] == "required" && def.get("profile").is_none_or(Value::is_null);
        if required {
            assert!(map.contains_key(name), "{path}: required {name} missing");
        }
    }
    if let Some(one_of) = constraints["at_least_one"].as_array() {
        assert!(
            one_of
                .iter()
                .any(|k| map.contains_key(k.as_str().unwrap_or(""))),
            "{path}: none of {one_of:?}"
        );
    }
    for (name, value) in map {
        let def = &attrs[name.as_str()];
        assert!(def.is_object(), "{path}.{name} is not an OCSF attribute");
        let ty = def["type"].as_str().expect("type");
        let items: Vec<&Value> = if def["is_array"] == true {
            value
                .as_array()
                .unwrap_or_else(|| panic!("{path}.{name} must be an array"))
                .iter()
                .collect()
        } else {
            vec![value]
        };
        for item in items {
            let at = format!("{path}.{name}");
            if ty == "object_t" {
                let object_type = def["object_type"].as_str().expect("object_type");
                if object_type == "object" {
                    // `unmapped`: any object.
                    assert!(item.is_object(), "{at} is not an object");
                    continue;
                }
                let o = &ocsf()["objects"][object_type];
                check_ocsf_attrs(item, &o["attributes"], &o["constraints"], &at);
            } else {
                let base = ocsf_base(ty);
                assert!(ocsf_value_fits(base, item), "{at} = {item} is not {ty}");
                if let Some(en) = def["enum"].as_object() {
                    let key = item.to_string();
                    assert!(en.contains_key(&key), "{at} = {item} is not in its enum");
                }
                if ty == "ip_t" {
                    let ip = item.as_str().unwrap_or("");
                    assert!(ip.parse::<IpAddr>().is_ok(), "{at} = {ip} is not an IP");
                }
            }
        }
    }
}

fn check_ocsf(ev: &Value, what: &str) {
    let class_uid = ev["class_uid"].as_u64().expect("class_uid");
    let schema = ocsf();
    let class = if class_uid == 0 {
        &schema["base_event"]
    } else {
        schema["classes"]
            .as_object()
            .expect("classes")
            .values()
            .find(|c| c["uid"] == class_uid)
            .unwrap_or_else(|| panic!("{what}: no class {class_uid}"))
    };
    assert_eq!(ev["category_uid"], class["category_uid"], "{what}");
    check_ocsf_attrs(ev, &class["attributes"], &class["constraints"], what);
    let activity = ev["activity_id"].as_u64().expect("activity_id");
    assert_eq!(ev["type_uid"], class_uid * 100 + activity, "{what}");
}

#[test]
fn ocsf_events_carry_their_class_required_attributes() {
    let mut classes = BTreeSet::new();
    for eve in events() {
        let ev: Value = serde_json::from_slice(&encode(Format::Ocsf, eve)).expect("OCSF JSON");
        let what = format!("OCSF of {eve}");
        check_ocsf(&ev, &what);
        let event_type = eve["event_type"].as_str().expect("type");
        let expected = match event_type {
            "alert" => 2004,
            "device" => 5001,
            "dicom" | "hl7" | "mqtt" => 4001,
            _ => 0,
        };
        assert_eq!(ev["class_uid"], expected, "{what}");
        classes.insert(expected);
        assert_eq!(
            ev["time"].as_i64(),
            eve["timestamp"].as_str().and_then(epoch_ms)
        );
        assert_eq!(ev["metadata"]["version"], "1.3.0");
        assert_eq!(ev.pointer("/metadata/uid"), eve.pointer("/event_id"));
        if eve.get(event_type).is_some() {
            assert_eq!(ev["unmapped"][event_type], eve[event_type], "{what}");
        }
        if expected == 4001 {
            assert_eq!(ev["dst_endpoint"]["ip"], eve["dest_ip"]);
            assert_eq!(ev["src_endpoint"]["port"], eve["src_port"]);
        }
    }
    assert_eq!(classes, BTreeSet::from([0, 2004, 4001, 5001]));
}

// ---- CEF and LEEF -------------------------------------------------------

/// Splits a CEF header at unescaped `|`, unescaping; returns the header
/// fields and the extension.
fn cef_split(line: &str) -> (Vec<String>, &str) {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut chars = line.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                if let Some((_, n)) = chars.next() {
                    cur.push(n);
                }
            }
            '|' => {
                fields.push(std::mem::take(&mut cur));
                if fields.len() == 7 {
                    return (fields, &line[i + 1..]);
                }
            }
            c => cur.push(c),
        }
    }
    panic!("CEF header of fewer than 7 fields: {line}");
}

/// Parses a CEF extension: a key is the word before an unescaped `=`.
fn cef_extension(ext: &str) -> BTreeMap<String, String> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut token = String::new();
    let mut chars = ext.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('n') => token.push('\n'),
                Some('r') => token.push('\r'),
                Some(n) => token.push(n),
                None => {}
            },
            '=' => {
                // The key is the last word of what came before.
                let (value, key) = match token.rfind(' ') {
                    Some(i) => (token[..i].to_owned(), token[i + 1..].to_owned()),
                    None => (String::new(), token.clone()),
                };
                if let Some(last) = pairs.last_mut() {
                    last.1 = value;
                }
                pairs.push((key, String::new()));
                token.clear();
            }
            c => token.push(c),
        }
    }
    if let Some(last) = pairs.last_mut() {
        last.1 = token;
    }
    pairs.into_iter().collect()
}

fn summary_of(eve: &Value) -> Option<String> {
    eve.pointer("/alert/message")
        .or_else(|| eve.pointer("/warning/message"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The EVE values a CEF or LEEF line must carry back, by key.
fn expected_pairs(eve: &Value, keys: &[(&str, &str)]) -> Vec<(String, String)> {
    keys.iter()
        .filter_map(|(key, ptr)| {
            let v = eve.pointer(ptr)?;
            let s = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return None,
            };
            Some(((*key).to_owned(), s))
        })
        .collect()
}

#[test]
fn cef_lines_parse_back_to_the_eve_fields() {
    for eve in events() {
        let line = String::from_utf8(encode(Format::Cef, eve)).expect("UTF-8");
        assert!(!line.contains('\n') && !line.contains('\r'), "{line}");
        let (header, ext) = cef_split(&line);
        assert_eq!(header[0], "CEF:0");
        assert_eq!((&*header[1], &*header[2]), ("medtap", "medtap"));
        assert_eq!(header[3], env!("CARGO_PKG_VERSION"));
        let sev: u8 = header[6].parse().expect("severity");
        assert!(sev <= 10);
        let ext = cef_extension(ext);
        let event_type = eve["event_type"].as_str().expect("type");
        let sig = match event_type {
            "alert" => eve["alert"]["signature_id"]
                .as_u64()
                .map(|n| n.to_string())
                .or_else(|| eve["alert"]["kind"].as_str().map(str::to_owned)),
            "warning" => eve["warning"]["kind"].as_str().map(str::to_owned),
            other => Some(other.to_owned()),
        };
        assert_eq!(Some(&header[4]), sig.as_ref(), "{line}");
        if let Some(s) = eve.pointer("/alert/signature").and_then(Value::as_str) {
            assert_eq!(header[5], s);
        }
        for (k, v) in expected_pairs(
            eve,
            &[
                ("src", "/src_ip"),
                ("dst", "/dest_ip"),
                ("spt", "/src_port"),
                ("dpt", "/dest_port"),
                ("proto", "/proto"),
                ("externalId", "/event_id"),
                ("dvchost", "/host"),
                ("cs1", "/device/id"),
                ("cs2", "/device/vendor"),
                ("cs3", "/community_id"),
                ("cs4", "/app_proto"),
                ("flexString1", "/alert/kind"),
                ("cat", "/alert/category"),
                ("cn1", "/flow_id"),
            ],
        ) {
            assert_eq!(ext.get(&k), Some(&v), "{k} in {line}");
        }
        let rt = eve["timestamp"]
            .as_str()
            .and_then(epoch_ms)
            .map(|n| n.to_string());
        assert_eq!(ext.get("rt"), rt.as_ref());
        if let Some(m) = summary_of(eve) {
            assert_eq!(ext.get("msg"), Some(&m), "{line}");
        }
        if eve.pointer("/alert/mitre/technique_id").is_some() {
            assert_eq!(ext["cs5Label"], "mitreTechnique");
        }
    }
}

#[test]
fn leef_lines_parse_back_to_the_eve_fields() {
    for eve in events() {
        let line = String::from_utf8(encode(Format::Leef, eve)).expect("UTF-8");
        assert!(!line.contains('\n') && !line.contains('\r'), "{line}");
        let prefix = format!("LEEF:2.0|medtap|medtap|{}|", env!("CARGO_PKG_VERSION"));
        let rest = line.strip_prefix(&prefix).expect("LEEF 2.0 header");
        let (event_id, rest) = rest.split_once('|').expect("event id");
        assert!(!event_id.is_empty());
        let attrs = rest.strip_prefix("x09|").expect("tab declared as x09");
        let pairs: BTreeMap<&str, &str> = attrs
            .split('\t')
            .map(|p| p.split_once('=').expect("key=value"))
            .collect();
        let clean = |s: String| s.replace(['\t', '\n', '\r'], " ");
        for (k, v) in expected_pairs(
            eve,
            &[
                ("src", "/src_ip"),
                ("dst", "/dest_ip"),
                ("srcPort", "/src_port"),
                ("dstPort", "/dest_port"),
                ("proto", "/proto"),
                ("eventId", "/event_id"),
                ("sensor", "/host"),
                ("deviceId", "/device/id"),
                ("communityId", "/community_id"),
                ("kind", "/alert/kind"),
                ("signature", "/alert/signature"),
                ("cat", "/alert/category"),
                ("usrName", "/evidence/user_name"),
            ],
        ) {
            assert_eq!(
                pairs.get(k.as_str()).copied(),
                Some(&*clean(v)),
                "{k} in {line}"
            );
        }
        let sev: u8 = pairs["sev"].parse().expect("sev");
        assert!((1..=10).contains(&sev));
        assert_eq!(pairs["devTimeFormat"], "yyyy-MM-dd'T'HH:mm:ss.SSSX");
        let ms = eve["timestamp"].as_str().and_then(epoch_ms).expect("time");
        assert_eq!(epoch_ms(pairs["devTime"]), Some(ms), "{line}");
        if let Some(m) = summary_of(eve) {
            assert_eq!(pairs.get("msg").copied(), Some(&*clean(m)));
        }
    }
}

// ---- Shortening ---------------------------------------------------------

/// A real alert blown up: a long message, thousands of addresses, a long
/// baseline list.
fn huge_alert() -> Value {
    let base = events()
        .iter()
        .find(|e| e["event_type"] == "alert" && e.get("event_id").is_some())
        .expect("a newer-shape alert")
        .clone();
    let mut e = base;
    e["alert"]["message"] = json!("x".repeat(80_000));
    e["device"]["ips"] = json!(
        (0..4000)
            .map(|i| format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256))
            .collect::<Vec<_>>()
    );
    e["baseline"] =
        json!({"peers": (0..3000).map(|i| format!("out 10.0.0.{i} tcp/104")).collect::<Vec<_>>()});
    e["evidence"]["sample"] = json!("é".repeat(10_000));
    e
}

#[test]
fn a_huge_event_is_shortened_valid_marked_and_keeps_its_head() {
    let eve = huge_alert();
    for format in Format::ALL {
        for max in [1_500, 8_192, 65_000] {
            let mut out = b">".to_vec();
            let fit = encode_within(format, &eve, max, &mut out);
            let what = format!("{} within {max}", format.name());
            assert_eq!(fit, Fit::Shortened, "{what}");
            let body = &out[1..];
            assert!(body.len() <= max, "{what}: {} bytes", body.len());
            let text = std::str::from_utf8(body).expect("UTF-8");
            match format {
                Format::Eve => {
                    let v: Value = serde_json::from_str(text).expect("JSON");
                    assert_eq!(v["truncated"], true);
                    for head in [
                        "/timestamp",
                        "/event_type",
                        "/event_id",
                        "/flow_id",
                        "/src_ip",
                        "/dest_port",
                        "/community_id",
                        "/alert/kind",
                        "/alert/signature",
                        "/alert/signature_id",
                        "/alert/severity",
                        "/device/id",
                    ] {
                        assert_eq!(v.pointer(head), eve.pointer(head), "{what}: {head}");
                    }
                }
                Format::Ecs => {
                    let v: Value = serde_json::from_str(text).expect("JSON");
                    check_ecs(&v, &what);
                    assert_eq!(v["tags"], json!(["truncated"]));
                    assert_eq!(v["medtap"]["truncated"], true);
                    assert_eq!(v["event"]["id"], eve["event_id"]);
                    assert_eq!(v["rule"]["id"], eve["alert"]["signature_id"].to_string());
                    assert_eq!(v["source"]["ip"], eve["src_ip"]);
                }
                Format::Ocsf => {
                    let v: Value = serde_json::from_str(text).expect("JSON");
                    check_ocsf(&v, &what);
                    assert_eq!(v["unmapped"]["truncated"], true);
                    assert_eq!(v["metadata"]["uid"], eve["event_id"]);
                    assert_eq!(v["finding_info"]["uid"], eve["event_id"]);
                }
                Format::Cef => {
                    let (header, ext) = cef_split(text);
                    let ext = cef_extension(ext);
                    assert_eq!(header[4], eve["alert"]["signature_id"].to_string());
                    assert_eq!(ext["cs6Label"], "truncated");
                    assert_eq!(
                        ext.get("externalId"),
                        eve["event_id"].as_str().map(str::to_owned).as_ref()
                    );
                    assert_eq!(
                        ext.get("src"),
                        eve["src_ip"].as_str().map(str::to_owned).as_ref()
                    );
                }
                Format::Leef => {
                    assert!(text.contains("\ttruncated=true"), "{what}");
                    assert!(text.contains(&format!(
                        "eventId={}",
                        eve["event_id"].as_str().expect("id")
                    )));
                }
            }
        }
        let mut out = b">".to_vec();
        assert_eq!(encode_within(format, &eve, 80, &mut out), Fit::TooBig);
        assert_eq!(out, b">", "{}: nothing appended", format.name());
    }
}

// ---- Elasticsearch packaging --------------------------------------------

fn packaging(name: &str) -> Value {
    let path = common::root().join("packaging/elasticsearch").join(name);
    let text = std::fs::read_to_string(&path).expect("packaging file");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The mapping type of a dotted field in the template, `None` when it is
/// not mapped; a `flattened` or non-dynamic parent covers what is below it.
fn mapped_type<'a>(mappings: &'a Value, name: &str) -> Option<&'a str> {
    let mut at = mappings;
    for part in name.split('.') {
        at = &at["properties"][part];
        if !at.is_object() {
            return None;
        }
        if at["type"] == "flattened" {
            return Some("flattened");
        }
    }
    at["type"].as_str().or(Some("object"))
}

#[test]
fn the_index_template_maps_every_ecs_field_with_a_compatible_type() {
    let template = packaging("medtap-template.json");
    assert_eq!(template["index_patterns"], json!(["logs-medtap-*"]));
    assert!(template["data_stream"].is_object());
    let mappings = &template["template"]["mappings"];
    let fields = ecs_fields();
    let mut checked = 0;
    for eve in events().iter().chain([&huge_alert()]) {
        for shortened in [usize::MAX, 4_000] {
            let mut out = Vec::new();
            encode_within(Format::Ecs, eve, shortened, &mut out);
            let doc: Value = serde_json::from_slice(&out).expect("ECS JSON");
            let mut leaves = BTreeMap::new();
            flatten(&doc, "", &mut leaves);
            for name in leaves.keys() {
                let ty = mapped_type(mappings, name)
                    .unwrap_or_else(|| panic!("{name} is not in the index template"));
                if let Some(ecs) = fields[name.as_str()]["type"].as_str() {
                    assert_eq!(ty, ecs, "{name}: template {ty}, ECS {ecs}");
                } else if ty != "flattened" {
                    let v = &leaves[name];
                    assert!(
                        ecs_type_fits(ty, v)
                            || v.as_array()
                                .is_some_and(|a| a.iter().all(|x| ecs_type_fits(ty, x))),
                        "{name} = {v} does not fit {ty}"
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 1000);
    let pipeline = packaging("medtap-pipeline.json");
    let processors = pipeline["processors"].as_array().expect("processors");
    let text = serde_json::to_string(processors).expect("JSON");
    assert!(text.contains("event.ingested") && text.contains("_id"));
}
