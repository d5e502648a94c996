//! Live capture end to end: the ward capture replayed by `tcpreplay` onto one
//! end of a veth pair, captured by the real binary on the other end, gives the
//! same devices and protocol records as reading the file.
//!
//! The veth's far end lives in a network namespace made for the test, so the
//! replayed traffic never leaves it and no other interface is touched. A real
//! MQTT client in such a namespace, connected to mosquitto on the test's end,
//! shows what medtap makes of a connection that stays open. Needs root
//! (CAP_NET_ADMIN, CAP_NET_RAW), `ip` (iproute2), `tcpreplay`, `mosquitto` and
//! `python3-paho-mqtt` (scripts/setup.sh installs them); the tests fail,
//! rather than skip, without them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a test fails by panicking"
)]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
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

impl Medtap {
    /// `medtap -i IFACE -o OUT ARGS…`, its stderr piped.
    fn start(interface: &str, out: &Path, args: &[&str]) -> Medtap {
        Medtap(
            medtap()
                .args(["-i", interface, "-o"])
                .arg(out)
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("medtap starts"),
        )
    }

    /// SIGTERM, then waits for medtap to exit 0 (panics with its stderr,
    /// when piped, otherwise); returns its stderr.
    fn terminate(&mut self) -> String {
        must("kill", &["-TERM", &self.0.id().to_string()]);
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.0.try_wait().expect("wait") {
                break status;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "medtap did not exit on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let stderr = self
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
        stderr
    }
}

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
    wait_until(path, event_type, |e| e["event_type"] == event_type, limit);
}

/// Waits until `path` holds an event for which `test` holds, or panics
/// after `limit` saying that no `what` came.
fn wait_until(path: &Path, what: &str, test: impl Fn(&Value) -> bool, limit: Duration) {
    let start = Instant::now();
    while start.elapsed() < limit {
        if events_so_far(path).iter().any(&test) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no {what} event in {} after {limit:?}", path.display());
}

/// The events `path` holds now, in whole lines only: the writer may be
/// mid-line.
fn events_so_far(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect()
}

/// Replays the ward capture from the namespace's end of `pair`, with
/// tcpreplay's rate options `rate`; returns tcpreplay's summary.
fn replay_ward(pair: &VethPair, rate: &[&str]) -> String {
    let ward = fixture("ward.pcapng");
    let out = Command::new("ip")
        .args(["netns", "exec", &pair.netns, "tcpreplay", "-q", "-i"])
        .arg(&pair.inner)
        .args(rate)
        .arg(&ward)
        .output()
        .expect("tcpreplay runs (run scripts/setup.sh)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "tcpreplay: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
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
    let state = dir.path().join("state.json");

    let mut medtap = Medtap::start(
        &pair.host,
        &out_path,
        &[
            "--log-protocols",
            "--stats-interval",
            "1",
            "--state",
            state.to_str().expect("UTF-8 path"),
        ],
    );
    // The first stats event comes a second after the capture is open.
    wait_for(&out_path, "stats", Duration::from_secs(20));

    replay_ward(&pair, &["--pps", "2000"]);
    // Let at least one more stats interval pass so the capture has been read.
    std::thread::sleep(Duration::from_millis(1500));

    medtap.terminate();

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
    // SIGTERM saved the state: every device, with its identity, learning.
    let saved: Value =
        serde_json::from_slice(&std::fs::read(&state).expect("state saved")).expect("JSON");
    let saved_ids: BTreeSet<String> = saved["devices"]
        .as_array()
        .expect("devices")
        .iter()
        .filter_map(|d| d["id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(saved_ids, device_ids(&file));
    // The cleartext alerts of the ward are the file's, the same ones live.
    let cleartext = |events: &[Value]| -> BTreeSet<String> {
        events
            .iter()
            .filter(|e| e["event_type"] == "alert")
            .map(|e| format!("{} {}", e["device"]["id"], e["alert"]["subject"]))
            .collect()
    };
    assert_eq!(cleartext(&live), cleartext(&file));
    assert_eq!(cleartext(&file).len(), 4);
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

/// Packets of the ward capture replayed this many times at tcpreplay's top
/// speed: 235 × 200 = 47 000 packets in about a tenth of a second.
const BURST_LOOPS: &str = "200";

/// A kernel buffer so small that a burst at top speed overflows it: libpcap
/// makes its smallest ring, one block of 256 KiB.
const TINY_BUFFER: &str = "1";

/// libpcap's counters in a `stats` event: (received, kernel drops, interface
/// drops), `None` before libpcap was first asked.
fn kernel_counters(stats: &Value) -> Option<(u64, u64, u64)> {
    let capture = &stats["stats"]["capture"];
    Some((
        capture["kernel_received"].as_u64()?,
        capture["kernel_drops"].as_u64()?,
        capture["interface_drops"].as_u64()?,
    ))
}

/// Checks every `warning` event against the `stats` events: each comes right
/// after a `stats` event with the same timestamp, and its numbers are the
/// differences between that event's counters and the previous `stats`
/// event's (zero for the first), the loss computed from them as
/// docs/events.md says. Returns the warnings.
fn warnings_agree_with_stats(events: &[Value], threshold: f64) -> Vec<&Value> {
    let mut warnings = Vec::new();
    // The counters of the latest stats event that has them, and of the one before.
    let mut latest = (0, 0, 0);
    let mut before = (0, 0, 0);
    for (i, event) in events.iter().enumerate() {
        if event["event_type"] == "stats" {
            if let Some(counters) = kernel_counters(event) {
                before = latest;
                latest = counters;
            }
            continue;
        }
        if event["event_type"] != "warning" {
            continue;
        }
        let stats = &events[i - 1];
        assert_eq!(stats["event_type"], "stats", "{event} follows {stats}");
        assert_eq!(event["timestamp"], stats["timestamp"]);
        let w = &event["warning"];
        let number = |key: &str| w[key].as_u64().unwrap_or_else(|| panic!("{key}: {w}"));
        let (received, kernel, interface) = (
            latest.0 - before.0,
            latest.1 - before.1,
            latest.2 - before.2,
        );
        assert_eq!(number("received"), received, "{w}");
        assert_eq!(number("kernel_drops"), kernel, "{w}");
        assert_eq!(number("interface_drops"), interface, "{w}");
        assert_eq!(number("dropped"), kernel + interface, "{w}");
        let arrived = received.max(kernel) + interface;
        let loss = if arrived == 0 {
            0.0
        } else {
            (kernel + interface) as f64 * 100.0 / arrived as f64
        };
        let reported = w["loss_percent"].as_f64().expect("loss_percent");
        assert!((reported - loss).abs() < 1e-9, "{w}: expected {loss}");
        assert_eq!(w["threshold_percent"].as_f64(), Some(threshold), "{w}");
        match w["kind"].as_str() {
            Some("capture_loss") => assert!(loss > threshold, "{w}"),
            Some("capture_loss_recovered") => assert!(loss <= threshold, "{w}"),
            other => panic!("unexpected warning kind {other:?}"),
        }
        warnings.push(event);
    }
    warnings
}

/// Issue 5: "a warning event when capture loss exceeds a threshold". Real
/// kernel drops: a burst at top speed into the smallest kernel buffer. The
/// interval of the burst gives a `capture_loss` warning whose numbers are
/// those of the `stats` events around it; the quiet interval after gives
/// `capture_loss_recovered`.
#[test]
fn capture_loss_above_the_threshold_gives_a_warning_then_its_recovery() {
    let pair = VethPair::new("w");
    let dir = tempfile::tempdir().expect("tempdir");
    let out_path = dir.path().join("events.json");
    let mut medtap = Medtap::start(
        &pair.host,
        &out_path,
        &["--stats-interval", "1", "--buffer-size", TINY_BUFFER],
    );
    wait_for(&out_path, "stats", Duration::from_secs(20));
    let sent = replay_ward(&pair, &["--topspeed", "--loop", BURST_LOOPS]);
    let kind = |kind: &'static str| move |e: &Value| e["warning"]["kind"] == kind;
    wait_until(
        &out_path,
        "capture_loss",
        kind("capture_loss"),
        Duration::from_secs(20),
    );
    wait_until(
        &out_path,
        "capture_loss_recovered",
        kind("capture_loss_recovered"),
        Duration::from_secs(20),
    );
    medtap.terminate();

    let events = read_events(&out_path);
    assert_valid_events(&events);
    let warnings = warnings_agree_with_stats(&events, 1.0);
    let kinds: Vec<&str> = warnings
        .iter()
        .map(|w| w["warning"]["kind"].as_str().unwrap_or_default())
        .collect();
    // Each interval above the threshold warns; the first below recovers.
    assert_eq!(kinds.last(), Some(&"capture_loss_recovered"), "{kinds:?}");
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == "capture_loss_recovered")
            .count(),
        1,
        "{kinds:?}"
    );
    let loss = &warnings[0]["warning"];
    assert!(loss["dropped"].as_u64() > Some(0), "{loss}");
    // The stats events count the same warnings.
    let last = &final_stats(&events)["stats"]["warnings"];
    assert_eq!(last["capture_loss"], kinds.len() as u64 - 1, "{last}");
    assert_eq!(last["capture_loss_recovered"], 1, "{last}");
    eprintln!("tcpreplay: {}", sent.trim());
    for w in &warnings {
        eprintln!("{}", w["warning"]);
    }
}

/// The last interval of a live run is checked too: a burst, then SIGTERM
/// before any periodic `stats` event, gives the final `stats` event and a
/// `capture_loss` warning after it, over the whole run.
#[test]
fn capture_loss_in_the_last_interval_is_reported_at_the_end() {
    let pair = VethPair::new("e");
    let dir = tempfile::tempdir().expect("tempdir");
    let out_path = dir.path().join("events.json");
    let log = dir.path().join("stderr.log");
    let started = Instant::now();
    let mut medtap = Medtap(
        medtap()
            .args(["-v", "-i", &pair.host, "-o"])
            .arg(&out_path)
            .args(["--stats-interval", "3600", "--buffer-size", TINY_BUFFER])
            .args(["--loss-warning", "2.5"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("medtap starts"),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("live capture started")
    {
        assert!(Instant::now() < deadline, "the capture did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    replay_ward(&pair, &["--topspeed", "--loop", BURST_LOOPS]);
    medtap.terminate();
    let run_secs = started.elapsed().as_secs_f64();

    let events = read_events(&out_path);
    assert_valid_events(&events);
    let types: Vec<&str> = events
        .iter()
        .map(|e| e["event_type"].as_str().unwrap_or_default())
        .filter(|t| *t != "device" && *t != "alert")
        .collect();
    assert_eq!(types, ["stats", "warning"]);
    let warnings = warnings_agree_with_stats(&events, 2.5);
    let w = &warnings[0]["warning"];
    assert_eq!(w["kind"], "capture_loss");
    assert!(w["dropped"].as_u64() > Some(0), "{w}");
    // The interval is the whole run: from the start to SIGTERM.
    let interval = w["interval_secs"].as_f64().expect("interval_secs");
    assert!(
        interval > 0.0 && interval <= run_secs,
        "{interval} of {run_secs}"
    );
    eprintln!("{w}");
}

/// Owner and group of `path` (not following a link).
fn owner(path: &Path) -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let meta =
        std::fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (meta.uid(), meta.gid())
}

/// `nobody` and `nogroup` on Debian.
const NOBODY: (u32, u32) = (65534, 65534);

/// Waits until medtap has switched to `nobody`.
fn wait_for_nobody(medtap: &mut Medtap) {
    let start = Instant::now();
    while uids(medtap.0.id()).as_deref() != Some("65534 65534 65534 65534") {
        assert!(
            medtap.0.try_wait().expect("wait").is_none(),
            "medtap exited early"
        );
        assert!(start.elapsed() < Duration::from_secs(20), "no switch");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A temporary directory of root's that other users may pass through but
/// not write to (mode 755).
fn passable_tempdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let mode = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(dir.path(), mode).expect("chmod");
    dir
}

/// A directory made for the service user, as systemd's `LogsDirectory=` and
/// `StateDirectory=` make them.
fn users_dir(path: PathBuf) -> PathBuf {
    std::fs::create_dir(&path).expect("mkdir");
    std::os::unix::fs::chown(&path, Some(NOBODY.0), Some(NOBODY.1)).expect("chown");
    path
}

/// `--user` and files (issue 5): outputs, spool and inventory are opened as
/// root, then handed to the user before the switch, so that logrotate's
/// rename and SIGHUP, a reload without a rename, new spool segments and the
/// inventory all work as the user.
#[test]
fn user_option_hands_over_outputs_spool_and_inventory() {
    use common::tools::free_tcp_port;
    use medtap::output::spool::{HEADER, sink_dir_name};

    let dir = passable_tempdir();
    let logs = users_dir(dir.path().join("log"));
    let state = users_dir(dir.path().join("lib"));
    let events = logs.join("eve.json");
    let rotated = logs.join("eve.json.1");
    // Left by an earlier run as root: the inventory, and a spool directory
    // (made by root) holding a sink's segment that was never delivered.
    let inventory = state.join("devices.json");
    std::fs::write(&inventory, "{}\n").expect("inventory");
    let spool = state.join("spool");
    let url = format!("redis://127.0.0.1:{}/medtap", free_tcp_port());
    let sink_dir = spool.join(sink_dir_name(&url));
    std::fs::create_dir_all(&sink_dir).expect("sink spool");
    let old_segment = sink_dir.join("00000000000000000000.seg");
    let mut old = HEADER.to_vec();
    old.extend_from_slice(b"{\"event_type\":\"stats\"}\n");
    std::fs::write(&old_segment, old).expect("segment");
    assert_eq!(owner(&old_segment), (0, 0));

    let utf8 = |path: &Path| path.to_str().expect("UTF-8 path").to_owned();
    let mut medtap = Medtap::start(
        "lo",
        &events,
        &[
            "--user",
            "nobody",
            "--stats-interval",
            "1",
            "-o",
            &url,
            "--spool",
            &utf8(&spool),
            "--inventory",
            &utf8(&inventory),
        ],
    );
    wait_for_nobody(&mut medtap);
    wait_for(&events, "stats", Duration::from_secs(20));
    // Handed over before the switch; the spool directory itself, which may
    // be shared, is left as it was.
    assert_eq!(owner(&events), NOBODY);
    assert_eq!(owner(&inventory), NOBODY);
    assert_eq!(owner(&sink_dir), NOBODY);
    assert_eq!(owner(&old_segment), NOBODY);
    assert_eq!(owner(&spool), (0, 0));

    // A reload without a rename reopens the same file, now the user's, and
    // the events go on in it.
    let stats_before = of_type(&events_so_far(&events), "stats").len();
    must("kill", &["-HUP", &medtap.0.id().to_string()]);
    let start = Instant::now();
    while of_type(&events_so_far(&events), "stats").len() < stats_before + 2 {
        assert!(start.elapsed() < Duration::from_secs(20), "no more events");
        std::thread::sleep(Duration::from_millis(50));
    }
    // logrotate: rename, then SIGHUP; the new file is created by the user.
    std::fs::rename(&events, &rotated).expect("rotate");
    must("kill", &["-HUP", &medtap.0.id().to_string()]);
    wait_for(&events, "stats", Duration::from_secs(20));
    assert_eq!(owner(&events), NOBODY);
    // One more interval, so the inventory is replaced as the user.
    std::thread::sleep(Duration::from_millis(1500));
    let stderr = medtap.terminate();
    for failure in ["cannot reopen", "cannot hand", "cannot write", "spool full"] {
        assert!(!stderr.contains(failure), "{stderr}");
    }

    let after = read_events(&events);
    assert!(!of_type(&after, "stats").is_empty());
    assert_eq!(owner(&inventory), NOBODY);
    let written: Value =
        serde_json::from_slice(&std::fs::read(&inventory).expect("inventory")).expect("JSON");
    assert!(written["device_count"].is_u64(), "{written}");
    // The receiver was never there: the events are in new segments, the
    // user's, beside the old one.
    let segments: Vec<_> = std::fs::read_dir(&sink_dir)
        .expect("spool")
        .map(|e| e.expect("entry").path())
        .collect();
    assert!(segments.len() >= 2, "{segments:?}");
    for segment in &segments {
        assert_eq!(owner(segment), NOBODY, "{}", segment.display());
    }
    let sinks = &final_stats(&after)["stats"]["sinks"][0];
    assert!(sinks["spooled"].as_u64() > Some(0), "{sinks}");
    assert_eq!(sinks["dropped"], 0, "{sinks}");
}

/// With `--user`, an inventory in a directory the user cannot write to would
/// fail at its first write; medtap refuses to start instead.
#[test]
fn user_option_refuses_an_inventory_the_user_cannot_replace() {
    let dir = passable_tempdir();
    let inventory = dir.path().join("devices.json");
    let out = medtap()
        .args([
            "-i",
            "lo",
            "--user",
            "nobody",
            "-o",
            "/dev/null",
            "--inventory",
        ])
        .arg(&inventory)
        .output()
        .expect("medtap runs");
    assert_eq!(out.status.code(), Some(1));
    // The last line; the final inventory write, which fails as well, is
    // logged before it.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.lines().last().unwrap_or_default(),
        format!(
            "medtap: error: user nobody cannot create files in {} for the inventory {}: \
             Permission denied (os error 13)",
            dir.path().display(),
            inventory.display()
        )
    );
}

/// A helper process (broker, client), killed by its PID when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Debian's mosquitto.
const MOSQUITTO: &str = "/usr/sbin/mosquitto";
/// Debian's python3: `python3-paho-mqtt` is installed for it, not for one
/// that may come earlier on PATH (pyenv, a virtualenv).
const PYTHON: &str = "/usr/bin/python3";

/// Starts mosquitto listening on `ip`, anonymous, nothing kept on disk, its
/// log in `dir`; returns it and its port once it accepts connections.
fn start_mosquitto(dir: &Path, ip: std::net::Ipv4Addr) -> (Killed, u16) {
    assert!(
        Path::new(MOSQUITTO).is_file(),
        "{MOSQUITTO} not found: install mosquitto (run scripts/setup.sh as root)"
    );
    let port = std::net::TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .expect("a free TCP port")
        .port();
    let config = dir.join("mosquitto.conf");
    std::fs::write(
        &config,
        format!(
            "listener {port} {ip}\nallow_anonymous true\npersistence false\n\
             log_dest stderr\nlog_type all\n"
        ),
    )
    .expect("mosquitto.conf");
    let log = dir.join("mosquitto.log");
    let mut broker = Killed(
        Command::new(MOSQUITTO)
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("mosquitto.log"))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {MOSQUITTO}: {e} (run scripts/setup.sh)")),
    );
    let start = Instant::now();
    let address = std::net::SocketAddr::from((ip, port));
    while std::net::TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
        let log = || std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(status) = broker.0.try_wait().expect("wait") {
            panic!("mosquitto exited ({status}): {}", log());
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "mosquitto does not accept connections on {address}: {}",
            log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (broker, port)
}

/// The lines a child prints, read on a thread so that waiting for one can
/// time out.
fn line_reader(stdout: std::process::ChildStdout) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits until the client prints `want`; panics with its stderr (in
/// `stderr_log`) if it ends or `limit` passes first.
fn expect_line(
    lines: &std::sync::mpsc::Receiver<String>,
    want: &str,
    limit: Duration,
    stderr_log: &Path,
) {
    let start = Instant::now();
    loop {
        let left = limit.saturating_sub(start.elapsed());
        match lines.recv_timeout(left) {
            Ok(line) if line == want => return,
            Ok(_) => {}
            Err(e) => panic!(
                "the MQTT client did not print {want:?} ({e}): {}",
                std::fs::read_to_string(stderr_log).unwrap_or_default()
            ),
        }
    }
}

/// Whether `event`'s device has sent the MQTT client id `id`.
fn has_client_id(event: &Value, id: &str) -> bool {
    event["device"]["identity"]["mqtt"]["client_id"]
        .as_array()
        .is_some_and(|ids| ids.iter().any(|v| v == id))
}

/// A ward client that holds one MQTT connection open, as a pump or nurse
/// station does for weeks: medtap must not wait for the connection to end.
/// Its client id is in a `device` event within 5 s of its CONNECT, and the
/// `#` filter it subscribes to once learned is alerted within 5 s of the
/// SUBSCRIBE; what it did while learning raises nothing.
#[test]
fn a_client_that_stays_connected_is_identified_and_alerted_within_5_s() {
    const CLIENT: &str = "nurse-live-01";
    const LIMIT: Duration = Duration::from_secs(5);
    let python_has_paho = Command::new(PYTHON)
        .args(["-c", "import paho.mqtt.client"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        python_has_paho,
        "{PYTHON} cannot import paho.mqtt: install python3-paho-mqtt (run scripts/setup.sh as root)"
    );

    let pair = VethPair::new("m");
    // A /24 of its own per run, so that parallel runs do not share routes.
    let net = std::process::id() % 250 + 1;
    let broker_ip = std::net::Ipv4Addr::new(10, 213, net as u8, 1);
    let client_ip = std::net::Ipv4Addr::new(10, 213, net as u8, 2);
    must(
        "ip",
        &["addr", "add", &format!("{broker_ip}/24"), "dev", &pair.host],
    );
    must(
        "ip",
        &[
            "-n",
            &pair.netns,
            "addr",
            "add",
            &format!("{client_ip}/24"),
            "dev",
            &pair.inner,
        ],
    );

    // Paho 1.6 wakes its network loop through a socket pair on 127.0.0.1.
    must("ip", &["-n", &pair.netns, "link", "set", "lo", "up"]);

    let dir = tempfile::tempdir().expect("tempdir");
    let out_path = dir.path().join("events.json");
    let mut medtap = Medtap::start(
        &pair.host,
        &out_path,
        &["--learn", "3s", "--stats-interval", "1"],
    );
    wait_for(&out_path, "stats", Duration::from_secs(20));
    let (_broker, port) = start_mosquitto(dir.path(), broker_ip);

    let script = root().join("tests/tools/mqtt_live_client.py");
    let client_log = dir.path().join("client.log");
    let mut client = Killed(
        Command::new("ip")
            .args(["netns", "exec", &pair.netns, PYTHON])
            .arg(&script)
            .args([&broker_ip.to_string(), &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&client_log).expect("client.log"))
            .spawn()
            .expect("ip netns exec runs (run scripts/setup.sh)"),
    );
    let lines = line_reader(client.0.stdout.take().expect("client stdout"));
    let mut stdin = client.0.stdin.take().expect("client stdin");

    expect_line(&lines, "connected", Duration::from_secs(10), &client_log);
    let connected = Instant::now();
    let identified = |e: &Value| e["event_type"] == "device" && has_client_id(e, CLIENT);
    wait_until(
        &out_path,
        "device with the client id",
        identified,
        LIMIT.saturating_sub(connected.elapsed()),
    );
    let device_delay = connected.elapsed();

    // Past the client's 3 s of learning, with `ward/+/status` learned.
    std::thread::sleep(Duration::from_secs(4).saturating_sub(connected.elapsed()));
    std::io::Write::write_all(&mut stdin, b"wildcard\n").expect("write to the client");
    std::io::Write::flush(&mut stdin).expect("flush to the client");
    expect_line(&lines, "subscribed", LIMIT, &client_log);
    let subscribed = Instant::now();
    let wildcard = |e: &Value| {
        e["event_type"] == "alert"
            && e["alert"]["kind"] == "mqtt_wildcard_subscribe"
            && has_client_id(e, CLIENT)
    };
    wait_until(
        &out_path,
        "mqtt_wildcard_subscribe alert",
        wildcard,
        LIMIT.saturating_sub(subscribed.elapsed()),
    );
    let alert_delay = subscribed.elapsed();
    eprintln!("device event {device_delay:?} after CONNECT, alert {alert_delay:?} after SUBSCRIBE");

    medtap.terminate();
    drop(stdin);
    let events = read_events(&out_path);
    let alerts = of_type(&events, "alert");
    for alert in &alerts {
        eprintln!("{} {}", alert["alert"]["kind"], alert["alert"]["subject"]);
    }
    // Learned while the client learned: never new, however long it goes on.
    // (The wildcard alert quotes `ward/+/status` as its baseline, so only
    // what an alert is about counts here.)
    for alert in alerts
        .iter()
        .filter(|a| a["alert"]["kind"] == "mqtt_new_topic")
    {
        let about = [
            &alert["alert"]["subject"],
            &alert["evidence"]["topic"],
            &alert["evidence"]["filter"],
        ];
        for learned in ["ward/+/status", "ward/nurse-live-01/status"] {
            assert!(
                about
                    .iter()
                    .all(|v| v.as_str().is_none_or(|s| !s.contains(learned))),
                "{learned} was learned: {alert}"
            );
        }
    }
}
