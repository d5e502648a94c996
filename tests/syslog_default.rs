//! Every event of the shipped captures, through rsyslogd in its default
//! configuration: default `maxMessageSize` (8 KiB), imudp and imtcp on
//! loopback ports, each writing MSG alone (`%msg%\n`) to its own file — what
//! a SIEM team gets when it points a stock rsyslog at medtap.
//!
//! Over TCP every event must arrive as exactly one valid JSON message; over
//! UDP too, unless the sink counted it. An event that does not fit 8 KiB is
//! shortened to fit (`shortened`) or, when even that cannot be, left out and
//! counted (`oversized`): never cut by the receiver, never lost unseen.
//!
//! Needs rsyslogd (scripts/setup.sh installs it).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a test fails by panicking"
)]

mod common;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::tools::{free_tcp_port, free_udp_port};

/// How long rsyslogd may take to start or to write what it was sent.
const PATIENCE: Duration = Duration::from_secs(20);

struct Rsyslog {
    child: Child,
    dir: tempfile::TempDir,
    udp_port: u16,
    tcp_port: u16,
}

impl Rsyslog {
    /// rsyslogd with nothing but the inputs and the two files: no
    /// `maxMessageSize`, so its default. The UDP input asks for a 16 MiB
    /// socket buffer (rsyslog's `rcvbufSize`, as a busy receiver is tuned):
    /// a replay sends faster than a loaded machine lets rsyslogd read, and
    /// the default buffer then drops datagrams on loopback too.
    fn start() -> Rsyslog {
        let (udp_port, tcp_port) = (free_udp_port(), free_tcp_port());
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().display();
        let conf = format!(
            r#"global(workDirectory="{d}")
module(load="imudp")
module(load="imtcp")
template(name="msg_only" type="string" string="%msg%\n")
ruleset(name="udp") {{ action(type="omfile" file="{d}/udp.log" template="msg_only") }}
ruleset(name="tcp") {{ action(type="omfile" file="{d}/tcp.log" template="msg_only") }}
input(type="imudp" address="127.0.0.1" port="{udp_port}" ruleset="udp" rcvbufSize="16m")
input(type="imtcp" address="127.0.0.1" port="{tcp_port}" ruleset="tcp")
"#
        );
        let child = common::tools::spawn_rsyslogd(dir.path(), &conf);
        let mut rsyslog = Rsyslog {
            child,
            dir,
            udp_port,
            tcp_port,
        };
        let deadline = Instant::now() + PATIENCE;
        while TcpStream::connect(("127.0.0.1", tcp_port)).is_err() {
            if let Ok(Some(status)) = rsyslog.child.try_wait() {
                panic!("rsyslogd exited with {status}:\n{}", rsyslog.log());
            }
            assert!(Instant::now() < deadline, "rsyslogd did not listen");
            sleep(Duration::from_millis(50));
        }
        rsyslog
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("rsyslogd.log")).unwrap_or_default()
    }

    fn lines(&self, name: &str) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join(name))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Waits until `name` has `n` lines (or the patience runs out, for UDP
    /// datagrams that never came), and returns its lines.
    fn wait_lines(&self, name: &str, n: usize) -> Vec<String> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let lines = self.lines(name);
            if lines.len() >= n || Instant::now() > deadline {
                // Give a stray extra message the chance to show.
                sleep(Duration::from_millis(200));
                return self.lines(name);
            }
            sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The shipped captures this test replays.
fn captures() -> Vec<PathBuf> {
    let root = common::root().join("fixtures");
    let mut out = vec![root.join("ward.pcapng")];
    for dir in ["scenarios", "sidedoor", "identity"] {
        let mut found: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
            .expect("fixture directory")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
            .collect();
        found.sort();
        out.extend(found);
    }
    assert!(out.len() >= 20, "expected the shipped captures: {out:?}");
    out
}

/// What the replay summary on stderr says of the sink whose name starts
/// with `prefix`: (delivered, shortened, oversized).
fn summary_of(stderr: &str, prefix: &str) -> (u64, u64, u64) {
    let line = stderr
        .lines()
        .find(|l| l.starts_with(&format!("medtap: {prefix}")))
        .unwrap_or_else(|| panic!("no summary line for {prefix}:\n{stderr}"));
    let number_before = |word: &str| -> u64 {
        line.split(", ")
            .flat_map(|part| part.split(" and "))
            .find_map(|part| {
                let part = part.rsplit(": ").next().unwrap_or(part);
                part.strip_suffix(word)
                    .or_else(|| part.split_once(&format!(" {word}")).map(|(n, _)| n))
                    .and_then(|n| n.trim().parse().ok())
            })
            .unwrap_or(0)
    };
    (
        number_before(" delivered"),
        number_before(" shortened"),
        number_before(" not sent to fit max_size"),
    )
}

fn replay(capture: &Path, rsyslog: &Rsyslog, file: &Path, spool: &Path) -> (u64, String) {
    let _ = std::fs::remove_file(file);
    let out = common::medtap()
        .arg("-r")
        .arg(capture)
        .arg("--log-protocols")
        .arg("-o")
        .arg(file)
        .arg("-o")
        .arg(format!("syslog+tcp://127.0.0.1:{}", rsyslog.tcp_port))
        .arg("-o")
        .arg(format!("syslog+udp://127.0.0.1:{}", rsyslog.udp_port))
        .arg("--spool")
        .arg(spool)
        .output()
        .expect("medtap runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{}: {stderr}", capture.display());
    let emitted = std::fs::read_to_string(file)
        .expect("file sink")
        .lines()
        .count() as u64;
    (emitted, stderr)
}

#[test]
fn every_shipped_event_reaches_a_default_rsyslog_whole_or_counted() {
    let rsyslog = Rsyslog::start();
    let work = tempfile::tempdir().expect("tempdir");
    let file = work.path().join("events.json");
    let spool = work.path().join("spool");
    let (mut tcp_expected, mut udp_expected) = (0usize, 0usize);
    let (mut emitted_all, mut oversized_all, mut shortened_all) = (0u64, 0u64, 0u64);
    for capture in captures() {
        let (emitted, stderr) = replay(&capture, &rsyslog, &file, &spool);
        let (tcp_delivered, tcp_shortened, tcp_oversized) = summary_of(&stderr, "syslog+tcp://");
        let (udp_delivered, _, udp_oversized) = summary_of(&stderr, "syslog+udp://");
        assert_eq!(
            tcp_delivered + tcp_oversized,
            emitted,
            "{}: TCP delivered + oversized is every event emitted\n{stderr}",
            capture.display()
        );
        assert_eq!(
            udp_delivered + udp_oversized,
            emitted,
            "{}: UDP sent + oversized is every event emitted\n{stderr}",
            capture.display()
        );
        tcp_expected += tcp_delivered as usize;
        udp_expected += udp_delivered as usize;
        emitted_all += emitted;
        oversized_all += tcp_oversized;
        shortened_all += tcp_shortened;

        let tcp = rsyslog.wait_lines("tcp.log", tcp_expected);
        assert_eq!(
            tcp.len(),
            tcp_expected,
            "{}: over TCP each delivered event is exactly one message\n{}",
            capture.display(),
            rsyslog.log()
        );
        let udp = rsyslog.wait_lines("udp.log", udp_expected);
        assert_eq!(
            udp.len(),
            udp_expected,
            "{}: over UDP each datagram sent arrives (loopback)\n{}",
            capture.display(),
            rsyslog.log()
        );
    }
    for (name, lines) in [
        ("tcp", rsyslog.lines("tcp.log")),
        ("udp", rsyslog.lines("udp.log")),
    ] {
        for line in &lines {
            let value: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| {
                panic!(
                    "{name}: a message that is not one JSON object ({e}): {}…",
                    line.chars().take(200).collect::<String>()
                )
            });
            assert!(value.is_object(), "{name}: {line}");
        }
    }
    assert!(emitted_all > 100, "only {emitted_all} events emitted");
    eprintln!(
        "{emitted_all} events emitted; over TCP {shortened_all} shortened, {oversized_all} oversized"
    );
    // With shortening in place (crate::output::format::encode_within cutting
    // an event's longest parts), no event is too large for 8 KiB: this
    // fails for as long as encode_within answers TooBig instead.
    assert_eq!(
        oversized_all, 0,
        "{oversized_all} events were left out for their size instead of shortened"
    );
}
