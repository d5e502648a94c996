//! `medtap policy`: a segmentation policy from the baseline learned on the
//! shipped benign ward scenario, in its three renderings (issue 12).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a test fails by panicking"
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use common::{fixture, medtap, schema};
use serde_json::Value;

/// The state learned from `fixtures/scenarios/benign_ward.pcapng` with
/// `--learn all`, once per test process.
fn learned_state() -> &'static Path {
    static STATE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = STATE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("base.json");
        let out = medtap()
            .arg("-r")
            .arg(fixture("scenarios/benign_ward.pcapng"))
            .args(["--learn", "all", "-q", "-o", "/dev/null", "--state"])
            .arg(&path)
            .output()
            .expect("medtap runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (dir, path)
    });
    path
}

fn policy(args: &[&str]) -> Output {
    medtap()
        .arg("policy")
        .arg("--state")
        .arg(learned_state())
        .args(args)
        .output()
        .expect("medtap runs")
}

fn policy_ok(args: &[&str]) -> String {
    let out = policy(args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

fn policy_json(args: &[&str]) -> Value {
    serde_json::from_str(&policy_ok(args)).expect("the policy is JSON")
}

fn group<'a>(policy: &'a Value, name: &str) -> &'a Value {
    policy["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| g["name"] == name)
        .unwrap_or_else(|| panic!("no group {name} in {policy:#}"))
}

/// The name of the group whose members include `id`.
fn group_of(policy: &Value, id: &str) -> String {
    policy["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| {
            g["members"]
                .as_array()
                .expect("members")
                .iter()
                .any(|m| m["id"] == id)
        })
        .and_then(|g| g["name"].as_str())
        .unwrap_or_else(|| panic!("{id} is in no group"))
        .to_owned()
}

const CT: &str = "mac:44:4b:5d:10:20:11";
const PUMP: &str = "mac:58:46:e1:10:20:21";
const PACS: &str = "ip:10.20.2.10";

fn expect_one_line_error(out: &Output, code: i32, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    if code == 1 {
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    assert!(stderr.contains(needle), "{stderr}");
}

#[test]
fn the_json_policy_validates_against_its_schema() {
    let policy = policy_json(&[]);
    let errors: Vec<String> = schema("policy.schema.json")
        .iter_errors(&policy)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(policy["format"], "medtap-policy");
    assert_eq!(policy["version"], 1);
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        &std::fs::read(learned_state()).expect("state"),
    );
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(policy["learned_from"]["sha256"], hex.as_str());
    assert!(policy["learned_from"]["since"].is_string());
    assert!(policy["learned_from"]["until"].is_string());
    assert_eq!(
        policy["learning"],
        serde_json::json!([]),
        "--learn all leaves none learning"
    );
}

#[test]
fn the_same_state_gives_the_same_bytes_in_every_format() {
    for format in ["json", "nftables", "cisco-acl"] {
        let first = policy_ok(&["--format", format]);
        let second = policy_ok(&["--format", format]);
        assert_eq!(first, second, "{format}");
        let hex_line = first.lines().take(6).any(|l| l.contains("sha256"));
        assert!(
            hex_line,
            "{format}: the source is named at the top:\n{first}"
        );
    }
}

#[test]
fn nft_accepts_the_generated_ruleset() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("ward.nft");
    let text = policy_ok(&["--format", "nftables"]);
    std::fs::write(&file, &text).expect("write");
    let out = Command::new("nft")
        .arg("-c")
        .arg("-f")
        .arg(&file)
        .output()
        .expect("nft is installed (scripts/setup.sh installs nftables)");
    assert!(
        out.status.success(),
        "nft -c refused the ruleset: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every rule in the chain counts and says what it is for.
    let rules: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("type filter"))
        .filter(|l| l.contains(" accept") || l.contains(" drop"))
        .collect();
    assert!(rules.len() > 5, "{text}");
    for rule in rules {
        assert!(
            rule.contains("counter") && rule.contains("comment \""),
            "{rule}"
        );
    }
    assert!(text.contains("table inet medtap {"));
    assert!(text.contains("type filter hook forward priority filter;"));
    assert!(text.contains("ct state established,related counter accept"));
    assert!(text.contains("log prefix \"medtap-drop mqtt-pump \" drop"));
}

#[test]
fn the_groups_hold_what_the_baseline_says() {
    let policy = policy_json(&[]);
    let ct = group_of(&policy, CT);
    let pump = group_of(&policy, PUMP);
    let pacs = group_of(&policy, PACS);
    assert_eq!(pacs, "pacs");
    assert_eq!(pump, "mqtt-pump");
    assert_eq!(
        group(&policy, &pump)["members"].as_array().map(Vec::len),
        Some(2)
    );
    // The CT opens DICOM associations to the PACS on tcp/104; the PACS
    // lists the same flow as opened by its peer.
    let ct_allow = &group(&policy, &ct)["allow"];
    assert_eq!(
        ct_allow,
        &serde_json::json!([{"peer": {"group": "pacs"}, "protocol": "tcp", "port": 104, "initiator": "group"}])
    );
    // What the CT sent over it, and nothing for the pumps; the PACS
    // (dcmqrscp) sends the workstation's retrieved study on.
    assert_eq!(
        group(&policy, &ct)["dicom_requests"],
        serde_json::json!(["C-ECHO", "C-STORE"])
    );
    assert_eq!(group(&policy, &pump)["dicom_requests"], Value::Null);
    assert_eq!(
        group(&policy, &pacs)["dicom_requests"],
        serde_json::json!(["C-STORE"])
    );
    let pacs_allow = group(&policy, &pacs)["allow"].as_array().expect("allow");
    assert!(pacs_allow.contains(&serde_json::json!(
        {"peer": {"group": ct}, "protocol": "tcp", "port": 104, "initiator": "peer"}
    )));
    // Nothing lets the pumps reach the PACS, in any rendering.
    for a in group(&policy, &pump)["allow"].as_array().expect("allow") {
        assert_ne!(a["peer"]["group"], "pacs", "{a}");
    }
    assert!(
        !pacs_allow
            .iter()
            .any(|a| a["peer"]["group"] == pump.as_str())
    );
    let nft = policy_ok(&["--format", "nftables"]);
    assert!(nft.contains(&format!(
        "ip saddr @g-{ct}-v4 ip daddr @g-pacs-v4 tcp dport 104 ct state new counter accept"
    )));
    assert!(
        !nft.lines()
            .any(|l| l.contains("saddr @g-mqtt-pump-v4") && l.contains("@g-pacs-v4"))
    );
    let acl = policy_ok(&["--format", "cisco-acl"]);
    let pump_acl: String = acl
        .split("!\n")
        .find(|block| block.starts_with("ip access-list extended medtap-mqtt-pump\n"))
        .expect("the pumps' ACL")
        .to_owned();
    assert!(!pump_acl.contains("10.20.2.10"), "{pump_acl}");
    assert!(pump_acl.contains(" permit tcp host 10.20.1.21 host 10.20.2.30 eq 1883\n"));
    assert!(pump_acl.ends_with(" deny ip any any log\n"), "{pump_acl}");
    // The router answers DNS: its ACL lets the answers back to the clients.
    assert!(
        acl.contains(" permit udp host 10.20.2.53 eq 53 host 10.20.1.21\n"),
        "{acl}"
    );
    // DNS is infrastructure, stated once, not a rule of each group.
    let infra = policy["infrastructure"].as_array().expect("infrastructure");
    assert!(
        infra
            .iter()
            .any(|i| i["service"] == "dns" && i["servers"] == serde_json::json!(["10.20.2.53"]))
    );
    for g in policy["groups"].as_array().expect("groups") {
        for a in g["allow"].as_array().expect("allow") {
            assert_ne!(a["port"], 53, "{a}");
        }
    }
}

#[test]
fn a_groups_file_overrides_a_default_group() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("groups.toml");
    std::fs::write(
        &file,
        "[[group]]\nname = \"imaging\"\nae_title = [\"CT*\"]\n\
         [[group]]\nname = \"pumps-ward3\"\nidentity = [\"mqtt.client_id=pump-*\"]\n",
    )
    .expect("write");
    let policy = policy_json(&["--groups", file.to_str().expect("path")]);
    assert_eq!(group_of(&policy, CT), "imaging");
    assert_eq!(group_of(&policy, PUMP), "pumps-ward3");
    let because = &group(&policy, "imaging")["members"][0]["because"];
    assert_eq!(
        because,
        &serde_json::json!(["groups file: ae_title CT01 matches CT*"])
    );
    assert_eq!(
        group(&policy, "imaging")["allow"][0]["peer"]["group"],
        "pacs"
    );
}

#[test]
fn a_damaged_state_file_is_one_line_and_exit_1() {
    let dir = tempfile::tempdir().expect("temp dir");
    let damaged = dir.path().join("damaged.json");
    let bytes = std::fs::read(learned_state()).expect("state");
    std::fs::write(&damaged, &bytes[..bytes.len() / 2]).expect("write");
    let out = medtap()
        .args(["policy", "--state"])
        .arg(&damaged)
        .output()
        .expect("medtap runs");
    expect_one_line_error(&out, 1, "truncated");
    let missing = dir.path().join("missing.json");
    let out = medtap()
        .args(["policy", "--state"])
        .arg(&missing)
        .output()
        .expect("medtap runs");
    expect_one_line_error(&out, 1, "missing.json");
}

#[test]
fn a_bad_groups_file_is_one_line_and_exit_1() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text, needle) in [
        (
            "name.toml",
            "[[group]]\nname = \"CT Scanners\"\nae_title = [\"CT*\"]\n",
            "group name",
        ),
        (
            "cidr.toml",
            "[[group]]\nname = \"x\"\ncidr = [\"10.0.0.0/99\"]\n",
            "bad CIDR",
        ),
        ("toml.toml", "[[group]\n", "groups file"),
    ] {
        let file = dir.path().join(name);
        std::fs::write(&file, text).expect("write");
        let out = policy(&["--groups", file.to_str().expect("path")]);
        expect_one_line_error(&out, 1, needle);
    }
}

#[test]
fn policy_without_state_is_a_usage_error() {
    let out = medtap().arg("policy").output().expect("medtap runs");
    expect_one_line_error(&out, 2, "--state");
    let out = medtap()
        .args(["policy", "--state", "x.json", "--format", "pf"])
        .output()
        .expect("medtap runs");
    expect_one_line_error(&out, 2, "pf");
}

#[test]
fn capture_invocations_are_unchanged_by_the_subcommand() {
    // A BPF filter after the options is still a filter, and -r still reads.
    let out = medtap()
        .arg("-r")
        .arg(fixture("ward.pcapng"))
        .args(["-q", "-o", "/dev/null", "tcp", "port", "104"])
        .output()
        .expect("medtap runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // After a top-level option, `policy` is a filter word, never the
    // subcommand: capture options and the subcommand do not mix (here a
    // capture with nothing to read, a usage error).
    let out = medtap()
        .args(["-q", "policy", "--state", "x.json"])
        .output()
        .expect("medtap runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to read"));
    assert!(out.stdout.is_empty());
}

#[test]
fn nft_accepts_the_ruleset_of_every_shipped_scenario() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut captures: Vec<PathBuf> = std::fs::read_dir(common::root().join("fixtures/scenarios"))
        .expect("scenarios")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcapng"))
        .collect();
    captures.push(fixture("ward.pcapng"));
    captures.push(fixture("identity/identity.pcapng"));
    captures.sort();
    assert!(captures.len() >= 20, "{captures:?}");
    let schema = schema("policy.schema.json");
    for capture in captures {
        let state = dir.path().join("state.json");
        let _ = std::fs::remove_file(&state);
        let out = medtap()
            .arg("-r")
            .arg(&capture)
            .args(["--learn", "all", "-q", "-o", "/dev/null", "--state"])
            .arg(&state)
            .output()
            .expect("medtap runs");
        assert!(out.status.success(), "{}", capture.display());
        let run = |format: &str| -> String {
            let out = medtap()
                .args(["policy", "--format", format, "--state"])
                .arg(&state)
                .output()
                .expect("medtap runs");
            assert!(
                out.status.success(),
                "{}: {}",
                capture.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).expect("UTF-8")
        };
        let json: Value = serde_json::from_str(&run("json")).expect("JSON");
        assert!(schema.is_valid(&json), "{}: {json:#}", capture.display());
        let file = dir.path().join("rules.nft");
        std::fs::write(&file, run("nftables")).expect("write");
        let out = Command::new("nft")
            .arg("-c")
            .arg("-f")
            .arg(&file)
            .output()
            .expect("nft runs");
        assert!(
            out.status.success(),
            "{}: {}",
            capture.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let acl = run("cisco-acl");
        assert!(acl.ends_with("!\nend\n"));
        check_acl_families(&capture, &json, &acl);
    }
}

/// Each ACL holds addresses of its own family only, and a group with IPv6
/// members has an IPv6 ACL.
fn check_acl_families(capture: &Path, policy: &Value, acl: &str) {
    let mut v6_acls = std::collections::BTreeSet::new();
    let mut family = None;
    for line in acl.lines() {
        if let Some(name) = line.strip_prefix("ip access-list extended ") {
            family = Some(4);
            assert!(!name.ends_with("-v6"), "{line}");
        } else if let Some(name) = line.strip_prefix("ipv6 access-list ") {
            family = Some(6);
            v6_acls.insert(name.trim_end_matches("-v6").to_owned());
        } else if line.starts_with(" permit") || line.starts_with(" deny") {
            let v6_address = line.split(' ').any(|w| w.contains(':'));
            match family {
                Some(4) => assert!(!v6_address, "{}: {line}", capture.display()),
                Some(6) => assert!(
                    v6_address || line.contains(" any any"),
                    "{}: {line}",
                    capture.display()
                ),
                _ => panic!("{}: {line} outside an ACL", capture.display()),
            }
        }
    }
    for group in policy["groups"].as_array().expect("groups") {
        let has_v6 = group["members"]
            .as_array()
            .expect("members")
            .iter()
            .flat_map(|m| m["addresses"].as_array().cloned().unwrap_or_default())
            .any(|a| a.as_str().is_some_and(|a| a.contains(':')));
        let name = format!("medtap-{}", group["name"].as_str().expect("name"));
        assert_eq!(
            v6_acls.contains(&name),
            has_v6,
            "{}: {name}",
            capture.display()
        );
    }
}
