//! Live capture end to end: the ward capture replayed by `tcpreplay` onto one
//! end of a veth pair, captured by the real binary on the other end, gives the
//! same devices and protocol records as reading the file.
//!
//! The veth's far end lives in a network namespace made for the test, so the
//! replayed traffic never leaves it and no other interface is touched. Needs
//! root (CAP_NET_ADMIN, CAP_NET_RAW), `ip` (iproute2) and `tcpreplay`; the test
//! fails, rather than skips, without them.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// Runs a command that must succeed; panics with its stderr otherwise.
fn must(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e} (run scripts/setup.sh)"));
    assert!(
        out.status.success(),
        "{program} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A network namespace holding one end of a veth pair whose other end stays in
/// the test's namespace. Both are deleted when dropped.
struct VethPair {
    netns: String,
    host: String,
    inner: String,
}

impl VethPair {
    fn new(tag: &str) -> VethPair {
        // Interface names are at most 15 bytes: "mt" + tag + PID fits.
        let id = std::process::id();
        let pair = VethPair {
            netns: format!("medtap-{tag}-{id}"),
            host: format!("mt{tag}h{id}"),
            inner: format!("mt{tag}n{id}"),
        };
        assert!(
            pair.host.len() <= 15,
            "interface name {} too long",
            pair.host
        );
        must("ip", &["netns", "add", &pair.netns]);
        must(
            "ip",
            &[
                "link",
                "add",
                &pair.host,
                "type",
                "veth",
                "peer",
                "name",
                &pair.inner,
            ],
        );
        must("ip", &["link", "set", &pair.inner, "netns", &pair.netns]);
        // No IPv6 on either end: router solicitations and MLD reports would
        // otherwise show up as a device the file does not have.
        for (netns, iface) in [(None, &pair.host), (Some(&pair.netns), &pair.inner)] {
            let key = format!("net.ipv6.conf.{iface}.disable_ipv6=1");
            match netns {
                None => must("sysctl", &["-qw", &key]),
                Some(ns) => must("ip", &["netns", "exec", ns, "sysctl", "-qw", &key]),
            }
        }
        must("ip", &["link", "set", &pair.host, "up"]);
        must("ip", &["-n", &pair.netns, "link", "set", &pair.inner, "up"]);
        pair
    }
}

impl Drop for VethPair {
    fn drop(&mut self) {
        // Deleting one end deletes its peer; the namespace goes with its end.
        let _ = Command::new("ip")
            .args(["link", "del", &self.host])
            .output();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.netns])
            .output();
    }
}

/// The medtap child, killed (by its PID) if the test ends before it exits.
struct Medtap(Child);

impl Drop for Medtap {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn read_events(path: &Path) -> Vec<Value> {
    lines(&std::fs::read(path).unwrap_or_default())
}

/// Waits until `path` holds an event of `event_type`, or panics after `limit`.
fn wait_for(path: &Path, event_type: &str, limit: Duration) {
    let start = Instant::now();
    while start.elapsed() < limit {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        // Only whole lines: the writer may be mid-line.
        if text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .any(|e| e["event_type"] == event_type)
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "no {event_type} event in {} after {limit:?}",
        path.display()
    );
}

fn device_ids(events: &[Value]) -> BTreeSet<String> {
    of_type(events, "device")
        .iter()
        .map(|e| e["device"]["id"].as_str().expect("device.id").to_owned())
        .collect()
}

/// The protocol records (the `dicom`, `hl7` or `mqtt` object of each event),
/// sorted so the order workers emit them in does not matter.
fn protocol_records(events: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = ["dicom", "hl7", "mqtt"]
        .iter()
        .flat_map(|kind| {
            of_type(events, kind)
                .into_iter()
                .map(move |e| format!("{kind} {}", e[kind]))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn live_capture_on_a_veth_matches_reading_the_file() {
    let ward = fixture("ward.pcapng");
    let pair = VethPair::new("l");
    let dir = tempfile::tempdir().expect("tempdir");
    let out_path = dir.path().join("events.json");

    let mut medtap = Medtap(
        medtap()
            .args(["-i", &pair.host, "-o"])
            .arg(&out_path)
            .args(["--log-protocols", "--stats-interval", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("medtap starts"),
    );
    // The first stats event comes a second after the capture is open.
    wait_for(&out_path, "stats", Duration::from_secs(20));

    must(
        "ip",
        &[
            "netns",
            "exec",
            &pair.netns,
            "tcpreplay",
            "-q",
            "-i",
            &pair.inner,
            "--pps",
            "2000",
            ward.to_str().expect("UTF-8 path"),
        ],
    );
    // Let at least one more stats interval pass so the capture has been read.
    std::thread::sleep(Duration::from_millis(1500));

    must("kill", &["-TERM", &medtap.0.id().to_string()]);
    let start = Instant::now();
    let status = loop {
        if let Some(status) = medtap.0.try_wait().expect("wait") {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "medtap did not exit on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = medtap
        .0
        .stderr
        .take()
        .map(|mut s| {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut s, &mut text);
            text
        })
        .unwrap_or_default();
    assert_eq!(status.code(), Some(0), "medtap: {stderr}");

    let live = read_events(&out_path);
    let file = lines(&run(&["-r", ward.to_str().expect("UTF-8 path"), "--log-protocols"]).stdout);

    assert_eq!(device_ids(&live), device_ids(&file), "device ids differ");
    let records = protocol_records(&file);
    assert_eq!(
        records.len(),
        13,
        "ward has 3 DICOM, 6 HL7 and 4 MQTT records"
    );
    assert_eq!(protocol_records(&live), records, "protocol records differ");

    let capture = &final_stats(&live)["stats"]["capture"];
    assert_eq!(
        capture["kernel_drops"].as_u64(),
        Some(0),
        "kernel_drops missing or not 0: {capture}"
    );
    assert!(
        capture["packets"].as_u64() >= Some(235),
        "ward has 235 packets: {capture}"
    );
}

/// The `Uid:` line of /proc/PID/status: real, effective, saved, filesystem.
fn uids(pid: u32) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .map(|u| u.split_whitespace().collect::<Vec<_>>().join(" "))
}

#[test]
fn user_option_drops_root_once_the_capture_is_open() {
    let mut medtap = Medtap(
        medtap()
            .args(["-i", "lo", "--user", "nobody", "-o", "/dev/null"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("medtap starts"),
    );
    let pid = medtap.0.id();
    let start = Instant::now();
    let mut seen = None;
    while start.elapsed() < Duration::from_secs(20) {
        assert!(
            medtap.0.try_wait().expect("wait").is_none(),
            "medtap exited early"
        );
        seen = uids(pid);
        if seen.as_deref() == Some("65534 65534 65534 65534") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(seen.as_deref(), Some("65534 65534 65534 65534"));
    // Every thread, not only the main one.
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).expect("tasks") {
        let task = task.expect("task").path();
        let status = std::fs::read_to_string(task.join("status")).unwrap_or_default();
        let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap_or("");
        assert!(
            uid.split_whitespace().skip(1).all(|u| u == "65534"),
            "{}: {uid}",
            task.display()
        );
    }
    must("kill", &["-TERM", &pid.to_string()]);
    let status = medtap.0.wait().expect("wait");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn unknown_user_is_an_error_before_any_packet() {
    let out = run(&[
        "-i",
        "lo",
        "--user",
        "medtap-no-such-user",
        "-o",
        "/dev/null",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot switch to user medtap-no-such-user: no such user"),
        "{stderr}"
    );
}
