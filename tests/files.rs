//! What medtap writes to disk, when the disk or the path is hostile: a full
//! filesystem ends the run loudly; the inventory, the state file and the
//! spool are only ever regular files, never a device, a FIFO or a symbolic
//! link's target.
//!
//! The full-filesystem tests mount a 64 KiB tmpfs (root, as the live tests
//! need); they fail, rather than skip, without it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a test fails by panicking"
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::*;
use medtap::output::spool::{SinkCounters, Spool, SpoolConfig, sink_dir_name};
use serde_json::Value;

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// One line on stderr, `medtap: error: …` naming `needle`, exit code 1.
fn assert_one_line_error(out: &Output, needle: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line expected: {err:?}");
    assert!(err.starts_with("medtap: error: "), "{err:?}");
    assert!(err.contains(needle), "{err:?} should mention {needle:?}");
}

/// A 64 KiB tmpfs on a temporary directory, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn new() -> Tmpfs {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
            .arg(dir.path())
            .output()
            .expect("mount runs");
        assert!(
            out.status.success(),
            "cannot mount a tmpfs (these tests need root): {}",
            stderr(&out)
        );
        Tmpfs { dir }
    }

    /// The same, already full.
    fn full() -> Tmpfs {
        let fs = Tmpfs::new();
        let _ = std::fs::write(fs.path().join("filler"), vec![0u8; 128 * 1024]);
        fs
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).output();
    }
}

fn ward() -> PathBuf {
    fixture("ward.pcapng")
}

/// Waits for `child` at most `limit`; kills it and panics if it is still running.
fn wait_within(mut child: std::process::Child, limit: Duration) -> Output {
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("medtap still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

// Issue: "When the output fails mid-run (disk full), medtap keeps reading
// with no output and no log line until the input ends."
#[test]
fn an_output_on_a_full_disk_ends_the_run_with_one_error_line() {
    let fs = Tmpfs::new();
    let events = fs.path().join("eve.json");
    let out = medtap()
        .arg("-r")
        .arg(fixture("scenarios/benign_ward.pcapng"))
        .arg("--log-protocols")
        .arg("-o")
        .arg(&events)
        .output()
        .expect("runs");
    assert_one_line_error(&out, "No space left on device");
    assert!(stderr(&out).contains(&events.display().to_string()));
}

#[test]
fn a_live_output_on_a_full_disk_ends_the_run_within_seconds() {
    let fs = Tmpfs::full();
    let child = medtap()
        .args(["-i", "lo", "--stats-interval", "1", "-o"])
        .arg(fs.path().join("eve.json"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let out = wait_within(child, Duration::from_secs(15));
    assert_one_line_error(&out, "No space left on device");
}

#[test]
fn a_live_inventory_on_a_full_disk_ends_the_run_within_seconds() {
    let fs = Tmpfs::full();
    let inventory = fs.path().join("devices.json");
    let child = medtap()
        .args(["-i", "lo", "--stats-interval", "1", "-o", "/dev/null"])
        .arg("--inventory")
        .arg(&inventory)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let out = wait_within(child, Duration::from_secs(15));
    assert_one_line_error(&out, "cannot write inventory");
    assert!(!inventory.exists());
    let leftovers: Vec<_> = std::fs::read_dir(fs.path())
        .expect("dir")
        .flatten()
        .filter(|e| e.file_name() != "filler")
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn one_full_output_is_logged_at_once_and_the_others_get_every_event() {
    let fs = Tmpfs::new();
    let events = fs.path().join("eve.json");
    let capture = fixture("scenarios/benign_ward.pcapng");
    let alone = run(&[
        "-r",
        capture.to_str().expect("utf-8"),
        "--log-protocols",
        "-w",
        "1",
    ]);
    assert!(alone.status.success(), "{}", stderr(&alone));
    let out = medtap()
        .arg("-r")
        .arg(&capture)
        .args(["--log-protocols", "-w", "1", "-o", "-", "-o"])
        .arg(&events)
        .output()
        .expect("runs");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "one line expected: {err:?}");
    assert!(err.contains("ERROR"), "{err:?}");
    assert!(err.contains("No space left on device"), "{err:?}");
    assert!(err.contains(&events.display().to_string()), "{err:?}");
    // Standard output got every event, and one warning that the file
    // output failed, naming it.
    let (warnings, rest): (Vec<Value>, Vec<Value>) = lines(&out.stdout)
        .into_iter()
        .partition(|e| e["event_type"] == "warning");
    assert_eq!(rest, lines(&alone.stdout));
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let warning = &warnings[0]["warning"];
    assert_eq!(warning["kind"], "output_failed");
    assert_eq!(warning["output"], events.display().to_string());
    assert_eq!(warning["outputs_left"], 1);
    assert!(
        warning["error"]
            .as_str()
            .is_some_and(|e| e.contains("No space left on device"))
    );
    assert_valid_events(&warnings);
}

// Issue: "`--inventory` and the state save replace a device node with a
// regular file … `--state` on a device reads until the kernel kills medtap;
// on a FIFO it blocks and ignores SIGTERM."
#[test]
fn a_device_is_refused_as_the_inventory_and_as_the_state() {
    let ward = ward();
    let ward = ward.to_str().expect("utf-8");
    let out = run(&["-r", ward, "--inventory", "/dev/null"]);
    assert_one_line_error(&out, "/dev/null: not a regular file (a character device)");
    assert!(out.stdout.is_empty());
    let out = run(&["-r", ward, "--state", "/dev/zero"]);
    assert_one_line_error(
        &out,
        "/dev/zero: refused, left untouched: not a regular file",
    );
    assert!(out.stdout.is_empty());
    let meta = std::fs::metadata("/dev/null").expect("/dev/null");
    assert!(std::os::unix::fs::FileTypeExt::is_char_device(
        &meta.file_type()
    ));
}

#[test]
fn a_fifo_is_refused_as_the_state_without_blocking_and_as_the_inventory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("state.json");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    for option in ["--state", "--inventory"] {
        let child = medtap()
            .arg("-r")
            .arg(ward())
            .arg(option)
            .arg(&fifo)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starts");
        let out = wait_within(child, Duration::from_secs(10));
        assert_one_line_error(&out, "not a regular file (a FIFO)");
        assert!(out.stdout.is_empty(), "{option}");
    }
    let meta = std::fs::symlink_metadata(&fifo).expect("still there");
    assert!(std::os::unix::fs::FileTypeExt::is_fifo(&meta.file_type()));
}

#[test]
fn a_symbolic_link_is_refused_and_its_target_left_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("passwd");
    std::fs::write(&target, b"root:x:0:0\n").expect("write");
    for (option, name) in [("--inventory", "devices.json"), ("--state", "state.json")] {
        let link = dir.path().join(name);
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        let out = medtap()
            .arg("-r")
            .arg(ward())
            .arg(option)
            .arg(&link)
            .output()
            .expect("runs");
        assert_one_line_error(&out, "not a regular file (a symbolic link)");
        assert!(out.stdout.is_empty(), "{option}");
        assert_eq!(std::fs::read(&target).expect("read"), b"root:x:0:0\n");
        assert!(std::fs::symlink_metadata(&link).expect("link").is_symlink());
    }
}

#[test]
fn a_state_file_over_the_limit_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state.json");
    // Sparse: the size is in the metadata, not on the disk.
    let file = std::fs::File::create(&state).expect("create");
    file.set_len(medtap::baseline::state::MAX_STATE_BYTES + 1)
        .expect("set_len");
    drop(file);
    let start = Instant::now();
    let out = medtap()
        .arg("-r")
        .arg(ward())
        .arg("--state")
        .arg(&state)
        .output()
        .expect("runs");
    assert_one_line_error(&out, "larger than");
    assert!(out.stdout.is_empty());
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "it read the file"
    );
}

#[test]
fn the_state_and_the_inventory_are_written_as_new_regular_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state.json");
    let inventory = dir.path().join("devices.json");
    for _ in 0..2 {
        let out = medtap()
            .arg("-r")
            .arg(ward())
            .arg("--state")
            .arg(&state)
            .arg("--inventory")
            .arg(&inventory)
            .output()
            .expect("runs");
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["devices.json", "state.json"], "no temporary left");
    for path in [&state, &inventory] {
        assert!(std::fs::symlink_metadata(path).expect("meta").is_file());
    }
}

// Issue: "`-r` from a pipe or `/dev/stdin` fails (the first 4 bytes are
// consumed), after writing a `stats` event dated 1970."
#[test]
fn a_capture_piped_in_gives_the_same_events_as_the_file() {
    let ward = ward();
    let from_file = run(&["-r", ward.to_str().expect("utf-8"), "--log-protocols"]);
    assert!(from_file.status.success(), "{}", stderr(&from_file));
    let mut expected = lines(&from_file.stdout);
    for event in &mut expected {
        if let Some(name) = event.get_mut("pcap_filename") {
            *name = serde_json::Value::from("-");
        }
    }
    assert!(!expected.is_empty());
    for (arg, how) in [("-", "pipe"), ("-", "redirect"), ("/dev/stdin", "pipe")] {
        let script = match how {
            "pipe" => format!(
                "cat '{}' | '{}' -r {arg} --log-protocols",
                ward.display(),
                env!("CARGO_BIN_EXE_medtap")
            ),
            _ => format!(
                "'{}' -r {arg} --log-protocols < '{}'",
                env!("CARGO_BIN_EXE_medtap"),
                ward.display()
            ),
        };
        let out = Command::new("bash")
            .arg("-c")
            .arg(&script)
            .output()
            .expect("bash runs");
        assert!(out.status.success(), "{script}: {}", stderr(&out));
        let mut got = lines(&out.stdout);
        if arg != "-" {
            for event in &mut got {
                if let Some(name) = event.get_mut("pcap_filename") {
                    *name = serde_json::Value::from("-");
                }
            }
        }
        assert_eq!(got, expected, "{script}");
    }
}

#[test]
fn a_pipe_that_is_not_a_capture_writes_nothing() {
    for input in ["", "hello, not a capture\n"] {
        let mut child = medtap()
            .args(["-r", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starts");
        let mut stdin = child.stdin.take().expect("stdin");
        std::io::Write::write_all(&mut stdin, input.as_bytes()).expect("write");
        drop(stdin);
        let out = wait_within(child, Duration::from_secs(10));
        assert_one_line_error(&out, "standard input");
        assert!(
            out.stdout.is_empty(),
            "{:?}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

#[test]
fn a_filter_that_does_not_compile_writes_nothing() {
    let out = medtap()
        .args(["-r", "-", "tcp", "port", "((("])
        .stdin(std::fs::File::open(ward()).expect("open"))
        .output()
        .expect("runs");
    assert_one_line_error(&out, "bad capture filter");
    assert!(out.stdout.is_empty());
}

fn spool_in(dir: &Path, max_bytes: u64) -> std::io::Result<Spool> {
    let config = SpoolConfig {
        dir: dir.to_owned(),
        max_bytes,
        segment_bytes: 1 << 20,
    };
    Spool::open(&config, "redis://h/k", Arc::new(SinkCounters::default()))
}

#[test]
fn a_spool_that_fills_the_disk_keeps_what_it_holds_whole() {
    let fs = Tmpfs::new();
    let mut spool = spool_in(fs.path(), 1 << 30).expect("open");
    let event = |i: usize| format!("{{\"seq\":{i},\"pad\":\"{}\"}}", "x".repeat(900));
    let mut kept = Vec::new();
    let mut dropped = 0;
    for i in 0..200 {
        let e = event(i);
        if spool.append(&[e.as_bytes()]) == 0 {
            kept.push(e.into_bytes());
        } else {
            dropped += 1;
        }
    }
    assert!(dropped > 0, "the 64 KiB disk should have filled");
    assert_eq!(
        spool.counters().dropped.load(Ordering::Relaxed),
        dropped as u64
    );
    spool.sync().expect("sync");
    drop(spool);
    // What was spooled comes back whole, and nothing is taken as damage.
    let mut spool = spool_in(fs.path(), 1 << 30).expect("reopen");
    assert_eq!(spool.counters().damaged_segments.load(Ordering::Relaxed), 0);
    let mut got = Vec::new();
    spool
        .drain::<()>(
            |events| {
                got.extend(events.iter().map(|e| e.to_vec()));
                Ok(())
            },
            |_| {},
        )
        .expect("drain");
    assert_eq!(got, kept);
}

#[test]
fn a_fifo_under_a_segment_name_is_left_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sink = dir.path().join(sink_dir_name("redis://h/k"));
    std::fs::create_dir(&sink).expect("mkdir");
    let fifo = sink.join("00000000000000000000.seg");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    // Would block for ever if the FIFO were opened.
    let mut spool = spool_in(dir.path(), 1 << 20).expect("open");
    assert!(spool.is_empty());
    assert_eq!(spool.append(&[b"{\"a\":1}"]), 0);
    spool.sync().expect("sync");
    assert!(sink.join("00000000000000000001.seg").is_file());
    let meta = std::fs::symlink_metadata(&fifo).expect("fifo");
    assert!(std::os::unix::fs::FileTypeExt::is_fifo(&meta.file_type()));
}

#[test]
fn a_sink_spool_directory_that_is_a_symbolic_link_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let elsewhere = tempfile::tempdir().expect("tempdir");
    std::os::unix::fs::symlink(
        elsewhere.path(),
        dir.path().join(sink_dir_name("redis://h/k")),
    )
    .expect("symlink");
    let e = spool_in(dir.path(), 1 << 20).err().expect("refused");
    assert!(e.to_string().contains("not a directory"), "{e}");
    assert_eq!(std::fs::read_dir(elsewhere.path()).expect("dir").count(), 0);
}
