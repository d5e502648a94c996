//! The binary's contract: exit codes, one-line errors, outputs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a test fails by panicking"
)]

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Command;

use common::*;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// One line on stderr, naming the file, and exit code 1, and nothing on stdout.
fn assert_one_line_error(out: &std::process::Output, needle: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line expected: {err:?}");
    assert!(err.starts_with("medtap: error: "), "{err:?}");
    assert!(err.contains(needle), "{err:?} should mention {needle:?}");
}

/// A usage error as clap reports its own: the problem on the first line,
/// then the usage; exit code 2, nothing on stdout.
fn assert_usage_error(out: &std::process::Output, needle: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    let first = err.lines().next().unwrap_or_default();
    assert!(first.starts_with("error: "), "{err:?}");
    assert!(first.contains(needle), "{err:?} should mention {needle:?}");
    assert!(err.contains("Usage: medtap"), "{err:?}");
    assert!(out.stdout.is_empty());
}

#[test]
fn a_missing_file_is_one_line_and_exit_1() {
    let out = run(&["-r", "/nonexistent/capture.pcap"]);
    assert_one_line_error(&out, "/nonexistent/capture.pcap: No such file or directory");
    assert!(out.stdout.is_empty());
}

#[test]
fn an_empty_file_is_refused() {
    let path = fixture("bad/empty.pcap");
    let out = run(&["-r", path.to_str().expect("utf-8")]);
    assert_one_line_error(&out, "empty file");
    assert!(out.stdout.is_empty());
}

#[test]
fn a_file_that_is_not_a_capture_is_refused() {
    let path = fixture("bad/not-a-capture.pcap");
    let out = run(&["-r", path.to_str().expect("utf-8")]);
    assert_one_line_error(&out, "not a pcap or pcapng capture");
    assert!(out.stdout.is_empty());
}

#[test]
fn a_directory_is_refused() {
    let out = run(&["-r", "fixtures"]);
    assert_one_line_error(&out, "is a directory");
}

#[test]
fn an_unreadable_file_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("secret.pcap");
    std::fs::copy(fixture("ethernet.pcap"), &path).expect("copy");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    // Root reads any file, so run as nobody when we are root.
    let is_root = std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false);
    let out = if is_root {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_medtap"))
            .arg("-r")
            .arg(&path)
            .output()
            .expect("setpriv runs")
    } else {
        medtap().arg("-r").arg(&path).output().expect("runs")
    };
    assert_one_line_error(&out, "Permission denied");
}

#[test]
fn a_truncated_capture_writes_every_complete_packet_then_fails() {
    let path = fixture("bad/truncated.pcap");
    let out = run(&["-r", path.to_str().expect("utf-8")]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err:?}");
    assert!(err.contains("truncated capture after"), "{err:?}");
    let events = lines(&out.stdout);
    let stats = final_stats(&events);
    let packets = stats["stats"]["capture"]["packets"]
        .as_u64()
        .expect("count");
    assert!(
        packets > 0,
        "complete packets before the damage are processed"
    );
    assert!(
        err.contains(&format!("after {packets} complete packets")),
        "{err:?} vs {packets}"
    );
    assert!(!of_type(&events, "device").is_empty());
}

#[test]
fn garbage_packets_are_counted_not_fatal() {
    let path = fixture("bad/garbage-packets.pcap");
    let out = run(&["-r", path.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let events = lines(&out.stdout);
    let stats = &final_stats(&events)["stats"];
    assert!(stats["decoder"]["invalid"].as_u64().expect("count") > 0);
    let reasons = stats["decoder"]["invalid_by_reason"]
        .as_object()
        .expect("reasons");
    let sum: u64 = reasons.values().filter_map(|v| v.as_u64()).sum();
    assert_eq!(Some(sum), stats["decoder"]["invalid"].as_u64());
}

#[test]
fn nothing_to_read_is_a_usage_error() {
    let out = run(&[]);
    assert_usage_error(&out, "nothing to read");
    let out = run(&["--workers", "0", "-r", "x.pcap"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn several_files_are_read_in_order_and_named() {
    let a = fixture("ethernet.pcap");
    let b = fixture("vlan.pcap");
    let out = medtap()
        .arg("-r")
        .arg(&a)
        .arg("-r")
        .arg(&b)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let events = lines(&out.stdout);
    let names: Vec<&str> = of_type(&events, "device")
        .iter()
        .filter_map(|e| e["pcap_filename"].as_str())
        .collect();
    let first_b = names.iter().position(|n| n.ends_with("vlan.pcap"));
    let last_a = names.iter().rposition(|n| n.ends_with("ethernet.pcap"));
    assert!(last_a.is_some() && first_b.is_some(), "{names:?}");
    assert!(last_a < first_b, "files are read in order: {names:?}");
    // Timestamps never go backwards within the device events of one file.
    let single = lines(&run(&["-r", a.to_str().expect("utf-8")]).stdout);
    let stamps: Vec<&str> = single
        .iter()
        .filter_map(|e| e["timestamp"].as_str())
        .collect();
    let mut sorted = stamps.clone();
    sorted.sort();
    assert_eq!(stamps, sorted);
}

#[test]
fn a_trailing_bpf_filter_applies_like_tcpdump() {
    let path = fixture("ethernet.pcap");
    let all = lines(&run(&["-r", path.to_str().expect("utf-8")]).stdout);
    let icmp = lines(&run(&["-r", path.to_str().expect("utf-8"), "icmp", "or", "icmp6"]).stdout);
    let all_packets = final_stats(&all)["stats"]["capture"]["packets"].as_u64();
    let icmp_stats = &final_stats(&icmp)["stats"];
    let icmp_packets = icmp_stats["capture"]["packets"].as_u64();
    assert!(icmp_packets > Some(0) && icmp_packets < all_packets);
    assert_eq!(icmp_stats["decoder"]["tcp"], 0);
    assert_eq!(icmp_stats["decoder"]["udp"], 0);

    let out = run(&["-r", path.to_str().expect("utf-8"), "port", "not-a-port"]);
    assert_one_line_error(&out, "bad capture filter");
    // Refused before the run starts: not even a `stats` event.
    assert!(out.stdout.is_empty());
}

#[test]
fn a_replay_ends_with_a_summary_on_stderr_unless_quiet() {
    let path = fixture("ward.pcapng");
    let path = path.to_str().expect("utf-8");
    let out = run(&["-r", path, "--learn", "2s"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let events = lines(&out.stdout);
    let stats = &final_stats(&events)["stats"];
    let err = stderr(&out);
    // The summary says what the final stats event says.
    let packets = stats["capture"]["packets"].as_u64().expect("packets");
    assert!(err.contains(&format!("read {packets} packets")), "{err}");
    let devices = stats["device"]["total"].as_u64().expect("devices");
    assert!(err.contains(&format!("{devices} devices")), "{err}");
    let alerts = of_type(&events, "alert").len();
    assert!(alerts > 0);
    assert!(err.contains(&format!("{alerts} alerts")), "{err}");
    let high = of_type(&events, "alert")
        .iter()
        .filter(|a| a["alert"]["severity_name"] == "medium")
        .count();
    assert!(err.contains(&format!("{high} medium")), "{err}");
    // Nothing of it on standard output, and nothing with -q.
    assert!(events.iter().all(|e| e["event_type"].is_string()));
    let quiet = run(&["-r", path, "--learn", "2s", "-q"]);
    assert!(quiet.status.success());
    assert!(stderr(&quiet).is_empty(), "{}", stderr(&quiet));
    assert_eq!(quiet.stdout, out.stdout);
}

#[test]
fn options_after_the_filter_are_options() {
    let path = fixture("ethernet.pcap");
    let path = path.to_str().expect("utf-8");
    let dir = tempfile::tempdir().expect("tempdir");
    let events = dir.path().join("events.json");
    let events_arg = events.to_str().expect("utf-8");
    let before = run(&["-r", path, "-o", events_arg, "icmp", "or", "icmp6"]);
    assert!(before.status.success(), "{}", stderr(&before));
    let expected = std::fs::read(&events).expect("events");
    std::fs::remove_file(&events).expect("rm");
    // The same words with the option after them: the option is an option,
    // not part of the filter.
    let after = run(&["-r", path, "icmp", "or", "icmp6", "-o", events_arg]);
    assert!(after.status.success(), "{}", stderr(&after));
    assert!(after.stdout.is_empty());
    let written = std::fs::read(&events).expect("events");
    let stats = |bytes: &[u8]| final_stats(&lines(bytes))["stats"]["capture"]["packets"].clone();
    assert_eq!(stats(&written), stats(&expected));
    assert_eq!(final_stats(&lines(&written))["stats"]["decoder"]["tcp"], 0);
}

#[test]
fn the_same_output_twice_is_a_usage_error_that_names_it_without_its_password() {
    let path = fixture("ethernet.pcap");
    let path = path.to_str().expect("utf-8");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("events.json");
    let same = dir.path().join("sub/../events.json");
    std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
    let out = run(&[
        "-r",
        path,
        "-o",
        file.to_str().expect("utf-8"),
        "-o",
        same.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("given twice"), "{}", stderr(&out));
    assert!(!file.exists(), "nothing written");
    let url = "redis://:Cli-Secret-9@127.0.0.1:1/key";
    let out = run(&["-r", path, "-o", url, "-o", url]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("redis://127.0.0.1:1/key"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("Cli-Secret-9"), "{}", stderr(&out));
}

#[test]
fn output_goes_to_a_file_and_logs_never_to_stdout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let events = dir.path().join("events.json");
    let path = fixture("ethernet.pcap");
    let out = medtap()
        .args(["-vv", "-r"])
        .arg(&path)
        .arg("-o")
        .arg(&events)
        .output()
        .expect("runs");
    assert!(out.status.success());
    assert!(out.stdout.is_empty(), "nothing on stdout with -o FILE");
    let written = std::fs::read(&events).expect("events written");
    assert!(!lines(&written).is_empty());
    // `-o -` is stdout.
    let out = medtap()
        .arg("-r")
        .arg(&path)
        .args(["-o", "-"])
        .output()
        .expect("runs");
    assert_eq!(out.stdout, written);
}

#[test]
fn inventory_is_replaced_atomically() {
    let dir = tempfile::tempdir().expect("tempdir");
    let inventory = dir.path().join("devices.json");
    std::fs::write(&inventory, b"old contents").expect("write");
    let old_inode = std::fs::metadata(&inventory).expect("meta").ino();
    let path = fixture("ward.pcapng");
    let out = medtap()
        .arg("-r")
        .arg(&path)
        .arg("--inventory")
        .arg(&inventory)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    // Renamed into place, not rewritten: a reader never sees half a file.
    assert_ne!(
        std::fs::metadata(&inventory).expect("meta").ino(),
        old_inode
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .flatten()
        .filter(|e| e.file_name() != "devices.json")
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    let inv: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&inventory).expect("read")).expect("JSON");
    let devices = inv["devices"].as_array().expect("devices");
    assert_eq!(inv["device_count"].as_u64(), Some(devices.len() as u64));
    let events = lines(&out.stdout);
    // A device has one event when it appears and one more each time its
    // protocols reveal something new about it.
    let ids: std::collections::BTreeSet<&str> = of_type(&events, "device")
        .iter()
        .filter_map(|e| e["device"]["id"].as_str())
        .collect();
    assert_eq!(devices.len(), ids.len());
    assert!(
        devices.iter().any(|d| d["vendor"].is_string()),
        "a vendor from the OUI registry"
    );
    assert!(
        devices
            .iter()
            .all(|d| d["traffic"]["packets_sent"].as_u64() > Some(0)),
        "every device sent something"
    );
}

#[test]
fn an_inventory_in_a_missing_directory_is_an_error() {
    let path = fixture("ethernet.pcap");
    let out = medtap()
        .arg("-r")
        .arg(&path)
        .args(["--inventory", "/nonexistent/dir/devices.json"])
        .output()
        .expect("runs");
    assert_one_line_error(&out, "cannot write inventory");
}

#[test]
fn a_bad_output_is_refused_before_any_output_is_created() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = dir.path().join("events.json");
    let spool = dir.path().join("spool");
    for bad in [
        "/nonexistent/dir/events.json".to_owned(),
        dir.path().display().to_string(),
        "redis://:s3cret@127.0.0.1/key?mode=bogus".to_owned(),
    ] {
        let out = medtap()
            .arg("-r")
            .arg(fixture("ethernet.pcap"))
            .arg("-o")
            .arg(&first)
            .args(["-o", "syslog+tcp://127.0.0.1:9"])
            .args(["-o", &bad])
            .arg("--spool")
            .arg(&spool)
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(1), "{bad}: {}", stderr(&out));
        assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
        assert!(!stderr(&out).contains("s3cret"));
        assert!(out.stdout.is_empty());
        assert!(!first.exists(), "{bad}: the first output was created");
        assert!(!spool.exists(), "{bad}: a spool was made");
    }
}

#[test]
fn a_closed_stdout_is_a_normal_end() {
    let path = fixture("ward.pcapng");
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "'{}' -r '{}' | head -c 1 >/dev/null; echo \"${{PIPESTATUS[0]}}\"",
            env!("CARGO_BIN_EXE_medtap"),
            path.display()
        ))
        .output()
        .expect("bash runs");
    let err = stderr(&out);
    assert!(!err.contains("error"), "{err:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "0",
        "exit status of medtap"
    );
}

#[test]
fn list_interfaces_includes_loopback() {
    let out = run(&["--list-interfaces"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().any(|l| l.starts_with("lo\t")), "{text}");
}

#[test]
fn a_missing_interface_is_one_line() {
    let out = run(&["-i", "no-such-if0"]);
    assert_one_line_error(&out, "no-such-if0");
    assert!(
        out.stdout.is_empty(),
        "nothing written by a run that never started"
    );
}

#[test]
fn standard_input_is_read_once_at_most() {
    let out = run(&["-r", "-", "-r", "-"]);
    assert_usage_error(&out, "standard input (-r -) can be read only once");
    assert!(out.stdout.is_empty());
}

#[test]
fn a_loss_warning_outside_0_to_100_is_a_usage_error() {
    let ward = fixture("ward.pcapng");
    let ward = ward.to_str().expect("UTF-8 path");
    for bad in ["100.5", "-1", "NaN", "much"] {
        let out = run(&["-r", ward, &format!("--loss-warning={bad}")]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(stderr(&out).contains("--loss-warning"), "{}", stderr(&out));
    }
    // In a replay there are no kernel counters, so no warning.
    let out = run(&["-r", ward, "--loss-warning", "0"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(of_type(&lines(&out.stdout), "warning").is_empty());
}
