//! A syslog receiver outage, end to end over TCP: a real rsyslogd (started
//! by each test in the foreground on a free loopback port, with a generated
//! configuration that writes the MSG of every message it gets to a file, and
//! stopped or killed by its PID) goes away while medtap is sending and comes
//! back later on the same port; or medtap itself is restarted in between,
//! leaving its events in the disk spool. Every event must reach rsyslog
//! exactly once, in order.
//!
//! rsyslogd missing is a failure, not a skip: `scripts/setup.sh` installs it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a test fails by panicking"
)]

mod common;

use common::tools::free_tcp_port;
use std::fs;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, sleep};
use std::time::{Duration, Instant};

use medtap::output::remote::{self, Backoff};
use medtap::output::spool::{HEADER, SpoolConfig};
use medtap::output::syslog;

/// How long a test waits for rsyslogd to start, to write what it got, or for
/// the sink to get somewhere.
const PATIENCE: Duration = Duration::from_secs(20);
/// Short waits between retries, so that the tests are quick.
const FAST: Backoff = Backoff {
    first: Duration::from_millis(10),
    max: Duration::from_millis(100),
};

/// One rsyslogd with a TCP input, its directory (configuration, log, and
/// `out.log`: one MSG a line); killed when dropped.
struct Rsyslog {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Rsyslog {
    fn start_on(port: u16) -> Rsyslog {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().display();
        let conf = format!(
            r#"global(workDirectory="{d}" maxMessageSize="64k")
module(load="imtcp")
template(name="msg" type="string" string="%msg%\n")
ruleset(name="capture") {{
  action(type="omfile" file="{d}/out.log" template="msg")
}}
input(type="imtcp" address="127.0.0.1" port="{port}" ruleset="capture")
"#
        );
        let child = common::tools::spawn_rsyslogd(dir.path(), &conf);
        let mut rsyslog = Rsyslog { child, dir, port };
        let deadline = Instant::now() + PATIENCE;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = rsyslog.child.try_wait() {
                panic!("rsyslogd exited with {status}:\n{}", rsyslog.log());
            }
            assert!(
                Instant::now() < deadline,
                "rsyslogd did not listen on TCP {port}:\n{}",
                rsyslog.log()
            );
            sleep(Duration::from_millis(50));
        }
        rsyslog
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("rsyslogd.log")).unwrap_or_default()
    }

    fn url(&self) -> String {
        url(self.port)
    }

    /// The messages written so far.
    fn lines(&self) -> Vec<String> {
        read_lines(&self.dir.path().join("out.log"))
    }

    /// Waits until at least `n` messages have been written, and returns
    /// them (after a moment more, for a stray extra one to show).
    fn wait_lines(&self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let lines = self.lines();
            if lines.len() >= n {
                sleep(Duration::from_millis(200));
                return self.lines();
            }
            assert!(
                Instant::now() < deadline,
                "rsyslogd wrote {} of {n} messages:\n{}\nrsyslogd log:\n{}",
                lines.len(),
                lines.join("\n"),
                self.log()
            );
            sleep(Duration::from_millis(20));
        }
    }

    /// Stops rsyslogd the way a service manager does (SIGTERM, by PID),
    /// waits for it to exit, and returns what it wrote.
    fn stop(mut self) -> Vec<String> {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM rsyslogd");
        let _ = self.child.wait();
        self.lines()
    }

    /// Kills rsyslogd at once (SIGKILL, by PID) and returns what it wrote.
    fn kill(mut self) -> Vec<String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.lines()
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn url(port: u16) -> String {
    // This rsyslogd takes up to 64 KiB (maxMessageSize="64k").
    format!("syslog+tcp://127.0.0.1:{port}?format=json&max_size=65536")
}

/// The complete lines of `path`: a line without its newline is one rsyslogd
/// is still writing, or was killed while writing, not a message received.
fn read_lines(path: &Path) -> Vec<String> {
    let text = fs::read_to_string(path).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    complete.lines().map(str::to_owned).collect()
}

/// Event number `i`.
fn event(i: usize) -> String {
    format!(
        r#"{{"timestamp":"2026-11-23T10:{:02}:{:02}.000000Z","event_type":"test","seq":{i}}}"#,
        i / 60 % 60,
        i % 60
    )
}

/// Events `from..from + n`, as one chunk of JSON lines.
fn chunk(from: usize, n: usize) -> Vec<u8> {
    (from..from + n)
        .flat_map(|i| format!("{}\n", event(i)).into_bytes())
        .collect()
}

/// The number of an event as rsyslog wrote it.
fn seq(line: &str) -> usize {
    let value: serde_json::Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("not an event: {line:?}: {e}"));
    value["seq"].as_u64().expect("seq") as usize
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        sleep(Duration::from_millis(10));
    }
}

/// Spooled bytes of events (`*.seg` files less their headers) under `spool`.
fn spooled_bytes(spool: &Path) -> u64 {
    let Ok(sinks) = fs::read_dir(spool) else {
        return 0;
    };
    let mut bytes = 0;
    for sink in sinks {
        for entry in fs::read_dir(sink.expect("entry").path()).expect("sink dir") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "seg") {
                bytes += fs::metadata(&path).expect("metadata").len() - HEADER.len() as u64;
            }
        }
    }
    bytes
}

#[test]
fn rsyslogd_stopped_and_started_again_gets_every_event_once_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = Rsyslog::start_on(free_tcp_port());
    let port = first.port;
    let sink_impl = syslog::from_url(&first.url()).expect("url");
    let sink = remote::spawn(sink_impl, &SpoolConfig::new(dir.path()), FAST).expect("spawn");
    let counters = sink.counters().clone();

    for i in 0..10 {
        assert!(sink.send(&chunk(i * 10, 10)));
    }
    first.wait_lines(100);
    let before = first.stop();

    // Nothing listens: the sink finds its connection closed, cannot
    // reconnect, and spools.
    for i in 10..20 {
        assert!(sink.send(&chunk(i * 10, 10)));
    }
    wait_for("100 events spooled", || {
        counters.spooled.load(Ordering::Relaxed) == 100
    });

    let second = Rsyslog::start_on(port);
    for i in 20..30 {
        assert!(sink.send(&chunk(i * 10, 10)));
    }
    let after = second.wait_lines(200);
    sink.close().expect("close");

    let got: Vec<String> = before.into_iter().chain(after).collect();
    let expected: Vec<String> = (0..300).map(event).collect();
    assert_eq!(got, expected);
    assert_eq!(counters.dropped.load(Ordering::Relaxed), 0);
    assert_eq!(counters.delivered.load(Ordering::Relaxed), 300);
    assert_eq!(counters.spool_bytes.load(Ordering::Relaxed), 0);
    assert_eq!(spooled_bytes(dir.path()), 0);
}

/// Runs the real binary on `capture`, to the syslog sink at `port` and to
/// `file`, spooling under `spool`; it must read everything and exit with
/// `code` (3 when events were left in the spool).
fn medtap(capture: &Path, port: u16, spool: &Path, file: &Path, code: i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_medtap"))
        .arg("-r")
        .arg(capture)
        .args(["--log-protocols", "-o", &url(port), "--spool"])
        .arg(spool)
        .arg("-o")
        .arg(file)
        .output()
        .expect("medtap runs");
    assert_eq!(
        out.status.code(),
        Some(code),
        "medtap: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn medtap_restarted_during_the_outage_delivers_its_spool_first_then_its_own_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = dir.path().join("spool");
    let first_file = dir.path().join("first.json");
    let second_file = dir.path().join("second.json");
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let port = free_tcp_port();

    // rsyslogd is down: the run reads everything, its events kept in the
    // spool, and says so with exit code 3.
    medtap(&fixtures.join("ward.pcapng"), port, &spool, &first_file, 3);
    let first = read_lines(&first_file);
    assert!(first.len() > 20, "{} events", first.len());
    let first_bytes: u64 = first.iter().map(|e| e.len() as u64 + 1).sum();
    assert_eq!(
        spooled_bytes(&spool),
        first_bytes,
        "the spool holds the first run's events"
    );

    // rsyslogd is back on the same port for the second run: the spool goes
    // first, then the run's own events.
    let rsyslog = Rsyslog::start_on(port);
    medtap(&fixtures.join("vlan.pcap"), port, &spool, &second_file, 0);
    let second = read_lines(&second_file);
    assert!(!second.is_empty());
    let expected: Vec<String> = first.iter().chain(&second).cloned().collect();
    assert_eq!(rsyslog.wait_lines(expected.len()), expected);
    assert_eq!(spooled_bytes(&spool), 0, "the spool is empty");
}

#[test]
fn rsyslogd_killed_mid_stream_loses_at_most_what_it_had_taken_and_nothing_after() {
    // SIGKILL while events flow: what rsyslogd had read (or the kernel had
    // taken for it) but not yet written is lost with it, and the sink cannot
    // know, since syslog over TCP has no acknowledgement. What must hold:
    // no duplicate, the order kept, and from the first delivery that fails
    // on, nothing lost.
    let dir = tempfile::tempdir().expect("tempdir");
    let first = Rsyslog::start_on(free_tcp_port());
    let port = first.port;
    let sink_impl = syslog::from_url(&first.url()).expect("url");
    let sink = remote::spawn(sink_impl, &SpoolConfig::new(dir.path()), FAST).expect("spawn");
    let counters = sink.counters().clone();

    // Sends chunks of 10 events until told to stop, then returns the sink
    // and the number of events sent.
    let stop = Arc::new(AtomicBool::new(false));
    let sender = thread::spawn({
        let stop = Arc::clone(&stop);
        move || {
            let mut sent = 0;
            while !stop.load(Ordering::Relaxed) {
                assert!(sink.send(&chunk(sent, 10)));
                sent += 10;
                sleep(Duration::from_millis(1));
            }
            (sink, sent)
        }
    });
    first.wait_lines(300);
    let before = first.kill();
    wait_for("events spooled", || {
        counters.spooled.load(Ordering::Relaxed) > 0
    });
    let second = Rsyslog::start_on(port);
    second.wait_lines(1);
    stop.store(true, Ordering::Relaxed);
    let (sink, sent) = sender.join().expect("sender");
    wait_for("the last event", || {
        second.lines().last().is_some_and(|l| seq(l) == sent - 1)
    });
    sink.close().expect("close");
    let after = second.wait_lines(1);

    let before: Vec<usize> = before.iter().map(|l| seq(l)).collect();
    let after: Vec<usize> = after.iter().map(|l| seq(l)).collect();
    let k = before.len();
    assert_eq!(before, (0..k).collect::<Vec<_>>(), "before the kill");
    let m = after.first().copied().expect("events after the restart");
    assert_eq!(after, (m..sent).collect::<Vec<_>>(), "after the restart");
    // Delivery is at least once: a chunk cut by the kill mid-write is sent
    // again whole, so at most that one chunk (10 events) can repeat.
    assert!(m + 10 >= k, "events {m}..{k} written twice");
    eprintln!(
        "killed after {k} events written; {} lost with rsyslogd; {} spooled",
        m.saturating_sub(k),
        counters.spooled.load(Ordering::Relaxed)
    );
    // The lost events count as delivered: the sink handed them to a live
    // connection.
    let delivered = counters.delivered.load(Ordering::Relaxed);
    assert!(
        (sent as u64..=sent as u64 + 10).contains(&delivered),
        "{delivered} delivered for {sent} sent"
    );
    assert_eq!(counters.dropped.load(Ordering::Relaxed), 0);
    assert_eq!(spooled_bytes(dir.path()), 0);
}
