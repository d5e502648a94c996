//! Running as a service: the configuration file (`--config`,
//! `--check-config`), SIGHUP reopening output files, and the systemd unit in
//! `packaging/`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a test fails by panicking"
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::{fixture, lines, medtap, of_type, root, run};

/// How long a live medtap is given to write what is expected of it.
const PATIENCE: Duration = Duration::from_secs(15);

fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("medtap.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

fn stderr_lines(out: &std::process::Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_packaged_example_passes_check_config() {
    let example = root().join("packaging/medtap.toml");
    let out = run(&["--check-config", example.to_str().expect("utf-8 path")]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "config OK\n",
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stderr.is_empty());
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn check_config_gives_one_line_per_problem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(
        dir.path(),
        r#"interface = "eth1"
outputs = ["syslog+tls://siem.example:6514?ca=/nonexistent/ca.pem", "smtp://mail.example"]
home_nets = ["10.0.0.0/8", "10.1.0.0/40"]
workers = 0
stats_interval = 100000
"#,
    );
    let out = run(&["--check-config", config.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let problems = stderr_lines(&out);
    assert_eq!(problems.len(), 5, "{problems:#?}");
    let shown = config.display().to_string();
    for problem in &problems {
        assert!(
            problem.starts_with(&format!("medtap: error: {shown}: ")),
            "{problem}"
        );
    }
    assert!(problems[0].contains("/nonexistent/ca.pem"), "{problems:#?}");
    assert!(problems[1].contains("smtp"), "{problems:#?}");
    assert!(
        problems[2].contains("bad CIDR \"10.1.0.0/40\""),
        "{problems:#?}"
    );
    assert!(problems[3].contains("workers = 0 is out of range (1 to 256)"));
    assert!(problems[4].contains("stats_interval = 100000 is out of range"));
}

#[test]
fn unknown_keys_are_each_named_with_their_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(
        dir.path(),
        "interface = \"eth1\"\noutput = [\"-\"]\nhome-net = [\"10.0.0.0/8\"]\n",
    );
    let out = run(&["--check-config", config.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(1));
    let problems = stderr_lines(&out);
    assert_eq!(problems.len(), 2, "{problems:#?}");
    let shown = config.display().to_string();
    assert!(
        problems[0].starts_with(&format!(
            "medtap: error: {shown}:2: unknown key \"output\" (known keys: interface, read, outputs,"
        )),
        "{problems:#?}"
    );
    assert!(
        problems[1].starts_with(&format!(
            "medtap: error: {shown}:3: unknown key \"home-net\""
        )),
        "{problems:#?}"
    );
}

#[test]
fn a_toml_syntax_error_is_one_line_with_its_line_number() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), "workers = 2\nsnaplen = = 3\n");
    let out = run(&["--check-config", config.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(1));
    let problems = stderr_lines(&out);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(
        problems[0].starts_with(&format!("medtap: error: {}:2: ", config.display())),
        "{problems:#?}"
    );
}

#[test]
fn a_missing_config_file_is_one_line() {
    let out = run(&["--config", "/nonexistent/medtap.toml", "-r", "x.pcap"]);
    assert_eq!(out.status.code(), Some(1));
    let problems = stderr_lines(&out);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(problems[0].starts_with("medtap: error: /nonexistent/medtap.toml: "));
}

#[test]
fn a_bad_config_stops_medtap_before_it_reads_anything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), "max_flows = -5\n");
    let capture = fixture("ethernet.pcap");
    let out = run(&[
        "--config",
        config.to_str().expect("utf-8 path"),
        "-r",
        capture.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(stderr_lines(&out).len(), 1);
}

#[test]
fn the_config_file_is_used_and_the_command_line_wins() {
    let dir = tempfile::tempdir().expect("tempdir");
    let events = dir.path().join("eve.json");
    let capture = fixture("ethernet.pcap");
    let config = write_config(
        dir.path(),
        &format!(
            "read = [{:?}]\noutputs = [{:?}]\nworkers = 2\n",
            capture.display().to_string(),
            events.display().to_string()
        ),
    );
    let config = config.to_str().expect("utf-8 path");

    // From the file alone: the capture is read and the events go to the file.
    let out = run(&["--config", config]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    let from_file = lines(&std::fs::read(&events).expect("events file written"));
    assert!(!of_type(&from_file, "stats").is_empty());

    // `-o -` on the command line replaces the file's outputs.
    std::fs::remove_file(&events).expect("remove");
    let out = run(&["--config", config, "-o", "-"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(!events.exists(), "the file's outputs were not set aside");
    assert_eq!(lines(&out.stdout), from_file);
}

fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{name} {pid} failed");
}

/// Waits until `path` holds at least one `stats` event, and returns its events.
fn wait_for_stats(path: &Path, child: &mut std::process::Child) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Ok(bytes) = std::fs::read(path) {
            // Only whole lines: the sink may be mid-write.
            let whole = bytes
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(&[][..], |end| &bytes[..=end]);
            let events = lines(whole);
            if !of_type(&events, "stats").is_empty() {
                return events;
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("medtap exited early with {status}");
        }
        assert!(
            Instant::now() < deadline,
            "no stats event in {} after {PATIENCE:?}",
            path.display()
        );
        sleep(Duration::from_millis(100));
    }
}

/// Ends the medtap it holds by PID (SIGKILL) if the test fails before the
/// test has ended it itself.
struct Running(Option<std::process::Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// logrotate's way: rename the file, send SIGHUP, and medtap writes on in a
/// new file at the old path. Live capture on `lo` needs root (CI runs as
/// root); the stats events every second are the traffic.
#[test]
fn sighup_reopens_output_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let events = dir.path().join("eve.json");
    let rotated = dir.path().join("eve.json.1");
    let mut running = Running(Some(
        medtap()
            .args(["-i", "lo", "--stats-interval", "1", "-o"])
            .arg(&events)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("medtap starts"),
    ));
    let child = running.0.as_mut().expect("running");
    let pid = child.id();

    wait_for_stats(&events, child);
    std::fs::rename(&events, &rotated).expect("rotate");
    signal(pid, "HUP");
    let after = wait_for_stats(&events, child);
    assert!(
        !of_type(&after, "stats").is_empty(),
        "the new file has stats events"
    );
    let rotated_len = std::fs::metadata(&rotated).expect("rotated file").len();

    signal(pid, "TERM");
    let out = running
        .0
        .take()
        .expect("running")
        .wait_with_output()
        .expect("medtap ends");
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Nothing more went to the renamed file once the new one was open.
    assert_eq!(
        std::fs::metadata(&rotated).expect("rotated file").len(),
        rotated_len
    );
    let rotated_events = lines(&std::fs::read(&rotated).expect("rotated file"));
    assert!(!of_type(&rotated_events, "stats").is_empty());
}

/// `[Section]` → `Key=Value` lines of a unit file, in order.
fn unit_entries(text: &str) -> Vec<(String, String, String)> {
    let mut section = String::new();
    let mut entries = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("not a key=value line: {line}"));
        entries.push((
            section.clone(),
            key.trim().to_owned(),
            value.trim().to_owned(),
        ));
    }
    entries
}

#[test]
fn the_systemd_unit_has_what_a_service_needs() {
    let text = std::fs::read_to_string(root().join("packaging/medtap.service")).expect("unit");
    let entries = unit_entries(&text);
    let get = |section: &str, key: &str| {
        entries
            .iter()
            .find(|(s, k, _)| s == section && k == key)
            .map(|(_, _, v)| v.as_str())
            .unwrap_or_else(|| panic!("[{section}] {key}= is missing"))
    };
    assert_eq!(get("Service", "Type"), "simple");
    assert_eq!(
        get("Service", "ExecStart"),
        "/usr/local/bin/medtap --config /etc/medtap/medtap.toml"
    );
    assert_eq!(get("Service", "ExecReload"), "/bin/kill -HUP $MAINPID");
    assert_eq!(get("Service", "User"), "medtap");
    assert_eq!(
        get("Service", "AmbientCapabilities"),
        "CAP_NET_RAW CAP_NET_ADMIN"
    );
    assert_eq!(
        get("Service", "CapabilityBoundingSet"),
        "CAP_NET_RAW CAP_NET_ADMIN"
    );
    assert_eq!(get("Service", "NoNewPrivileges"), "yes");
    assert_eq!(get("Service", "ProtectSystem"), "strict");
    assert_eq!(get("Service", "ProtectHome"), "yes");
    assert_eq!(get("Service", "PrivateTmp"), "yes");
    assert_eq!(get("Service", "StateDirectory"), "medtap");
    assert_eq!(get("Service", "LogsDirectory"), "medtap");
    assert_eq!(get("Service", "Restart"), "on-failure");
    assert_eq!(get("Install", "WantedBy"), "multi-user.target");
}

/// `systemd-analyze verify` on the unit, with ExecStart pointed at the
/// binary just built (verify refuses a command that does not exist). Unknown
/// keys are only warnings to it, so its output must be empty too. Where
/// systemd is not installed this test fails, rather than pass untested; the
/// key test above does not need systemd.
#[test]
fn systemd_analyze_verifies_the_unit() {
    let found = Command::new("sh")
        .args(["-c", "command -v systemd-analyze"])
        .output()
        .expect("sh runs");
    assert!(
        found.status.success(),
        "systemd-analyze is not installed: cannot verify packaging/medtap.service"
    );
    let text = std::fs::read_to_string(root().join("packaging/medtap.service")).expect("unit");
    let text = text.replace("/usr/local/bin/medtap", env!("CARGO_BIN_EXE_medtap"));
    let dir = tempfile::tempdir().expect("tempdir");
    let unit = dir.path().join("medtap.service");
    std::fs::write(&unit, text).expect("write unit");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .expect("systemd-analyze runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "systemd-analyze verify failed:\n{said}"
    );
    assert!(
        said.trim().is_empty(),
        "systemd-analyze verify warned:\n{said}"
    );
}
