//! The disk spool of network sinks, against a real `redis-server` started by
//! each test on a free port of 127.0.0.1 and killed (by its PID) when the
//! test is done with it: a receiver down at the start, one that goes away and
//! comes back in the middle of a sink's life, a full spool, and a damaged
//! one. What reached the server is read back with `LRANGE` over a separate
//! connection.
//!
//! `redis-server` must be installed (`scripts/setup.sh` installs it); without
//! it these tests fail, saying so.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a test fails by panicking"
)]

mod common;

use common::redis_server::{Server, free_port, list};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use medtap::output::redis::from_url;
use medtap::output::remote::{self, Backoff};
use medtap::output::spool::{HEADER, SpoolConfig, sink_dir_name};

/// How long a test waits for the sink to get somewhere.
const WAIT: Duration = Duration::from_secs(20);
/// Short waits between retries, so that the tests are quick.
const FAST: Backoff = Backoff {
    first: Duration::from_millis(10),
    max: Duration::from_millis(100),
};

/// The lines of a file, without their newlines.
fn lines(path: &Path) -> Vec<Vec<u8>> {
    fs::read(path)
        .expect("read file")
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// Segment files (`*.seg`) in every sink directory under `spool`, with the
/// bytes of events they hold.
fn spooled(spool: &Path) -> (usize, u64) {
    let mut segments = 0;
    let mut bytes = 0;
    let Ok(sinks) = fs::read_dir(spool) else {
        return (0, 0);
    };
    for sink in sinks {
        for entry in fs::read_dir(sink.expect("entry").path()).expect("sink dir") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "seg") {
                segments += 1;
                bytes += fs::metadata(&path).expect("metadata").len() - HEADER.len() as u64;
            }
        }
    }
    (segments, bytes)
}

/// `n` events numbered from `from`, as one chunk of JSON lines.
fn chunk(from: usize, n: usize) -> Vec<u8> {
    (from..from + n)
        .flat_map(|i| format!("{{\"event_type\":\"test\",\"seq\":{i}}}\n").into_bytes())
        .collect()
}

fn event(i: usize) -> Vec<u8> {
    format!("{{\"event_type\":\"test\",\"seq\":{i}}}").into_bytes()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(10));
    }
}

/// Runs medtap; it must read everything and exit with `code` (3 when
/// events were left in the spool).
fn medtap(capture: &Path, url: &str, spool: &Path, file: &Path, code: i32) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_medtap"))
        .arg("-r")
        .arg(capture)
        .args(["--log-protocols", "-o", url, "--spool"])
        .arg(spool)
        .arg("-o")
        .arg(file)
        .output()
        .expect("medtap runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "medtap: {stderr}");
    stderr
}

#[test]
fn medtap_spools_while_the_server_is_down_and_delivers_the_spool_first_on_the_next_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = dir.path().join("spool");
    let first_file = dir.path().join("first.json");
    let second_file = dir.path().join("second.json");
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}/medtap");

    // No server: the run reads everything, its events kept in the spool;
    // exit code 3 and the summary say so.
    let summary = medtap(&fixtures.join("ward.pcapng"), &url, &spool, &first_file, 3);
    let first = lines(&first_file);
    assert!(first.len() > 20);
    let (segments, bytes) = spooled(&spool);
    assert!(segments > 0, "nothing spooled");
    let first_bytes: u64 = first.iter().map(|e| e.len() as u64 + 1).sum();
    assert_eq!(bytes, first_bytes, "the spool holds the first run's events");
    assert!(
        summary.contains(&format!("0 delivered, {} spooled", first.len())),
        "{summary}"
    );

    // The server is up for the second run: the spool goes first.
    let server = Server::start_on(port).expect("redis-server on the same port");
    let summary = medtap(&fixtures.join("vlan.pcap"), &url, &spool, &second_file, 0);
    assert!(
        summary.contains("(0 bytes still in the spool), 0 dropped"),
        "{summary}"
    );
    let second = lines(&second_file);
    assert!(!second.is_empty());
    let expected: Vec<Vec<u8>> = first.iter().chain(&second).cloned().collect();
    assert_eq!(list(&server, "medtap"), expected);
    assert_eq!(spooled(&spool), (0, 0), "the spool is empty");
}

#[test]
fn a_server_that_goes_away_and_comes_back_gets_every_event_once_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start();
    let url = server.url("k", "");
    let config = SpoolConfig::new(dir.path());
    let sink = remote::spawn(from_url(&url).expect("url"), &config, FAST).expect("spawn");
    let counters = sink.counters().clone();

    for i in 0..10 {
        assert!(sink.send(&chunk(i * 10, 10)));
    }
    wait_for("the first 100 events", || list(&server, "k").len() == 100);
    let before = list(&server, "k");

    let port = server.stop();
    for i in 10..20 {
        assert!(sink.send(&chunk(i * 10, 10)));
    }
    wait_for("100 events spooled", || {
        counters.spooled.load(Ordering::Relaxed) == 100
    });
    assert!(counters.spool_bytes.load(Ordering::Relaxed) > 0);

    let server = Server::start_on(port).expect("restart on the same port");
    for i in 20..30 {
        assert!(sink.send(&chunk(i * 10, 10)));
    }
    wait_for("the spool to be delivered", || {
        list(&server, "k").len() == 200
    });
    sink.close().expect("close");

    let after = list(&server, "k");
    let got: Vec<Vec<u8>> = before.into_iter().chain(after).collect();
    let expected: Vec<Vec<u8>> = (0..300).map(event).collect();
    assert_eq!(got, expected);
    assert_eq!(counters.dropped.load(Ordering::Relaxed), 0);
    assert_eq!(counters.spool_bytes.load(Ordering::Relaxed), 0);
    assert!(counters.delivered.load(Ordering::Relaxed) >= 300);
    assert_eq!(spooled(dir.path()), (0, 0));
}

#[test]
fn a_full_spool_drops_new_events_counted_and_keeps_the_old_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}/k");
    let config = SpoolConfig {
        max_bytes: 4096,
        segment_bytes: 1024,
        ..SpoolConfig::new(dir.path())
    };
    // Each event is about 34 bytes: 200 of them do not fit in 4 KiB.
    let sink = remote::spawn(from_url(&url).expect("url"), &config, FAST).expect("spawn");
    let counters = sink.counters().clone();
    for i in 0..20 {
        assert!(sink.send(&chunk(i * 10, 10)));
    }
    wait_for("every event spooled or dropped", || {
        counters.spooled.load(Ordering::Relaxed) + counters.dropped.load(Ordering::Relaxed) == 200
    });
    let kept = counters.spooled.load(Ordering::Relaxed) as usize;
    assert!(kept > 0 && kept < 200, "{kept} spooled");
    assert_eq!(
        counters.dropped.load(Ordering::Relaxed) as usize,
        200 - kept
    );
    assert!(counters.spool_bytes.load(Ordering::Relaxed) <= 4096);

    let server = Server::start_on(port).expect("redis-server");
    sink.close().expect("close");
    let expected: Vec<Vec<u8>> = (0..kept).map(event).collect();
    assert_eq!(list(&server, "k"), expected, "the oldest events, in order");
}

#[test]
fn a_damaged_segment_is_moved_aside_and_a_partial_last_line_cut_off() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start();
    let url = server.url("k", "");
    let sink_dir = dir.path().join(sink_dir_name(&url));
    fs::create_dir_all(&sink_dir).expect("mkdir");
    let damaged = b"medtap-spool 99\n{\"seq\":-1}\n";
    fs::write(sink_dir.join("00000000000000000000.seg"), damaged).expect("write");
    let mut crashed = HEADER.to_vec();
    crashed.extend_from_slice(b"{\"seq\":0}\n{\"seq\":1}\n{\"seq\":");
    fs::write(sink_dir.join("00000000000000000001.seg"), &crashed).expect("write");

    let config = SpoolConfig::new(dir.path());
    let sink = remote::spawn(from_url(&url).expect("url"), &config, FAST).expect("spawn");
    let counters = sink.counters().clone();
    assert_eq!(counters.damaged_segments.load(Ordering::Relaxed), 1);
    assert_eq!(counters.truncated.load(Ordering::Relaxed), 1);
    assert!(sink.send(b"{\"seq\":2}\n"));
    sink.close().expect("close");

    assert_eq!(
        list(&server, "k"),
        vec![
            b"{\"seq\":0}".to_vec(),
            b"{\"seq\":1}".to_vec(),
            b"{\"seq\":2}".to_vec()
        ]
    );
    assert_eq!(
        fs::read(sink_dir.join("00000000000000000000.seg.damaged")).expect("moved aside"),
        damaged
    );
    assert!(!sink_dir.join("00000000000000000000.seg").exists());
}
