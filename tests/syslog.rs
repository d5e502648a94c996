//! The syslog sink against a real rsyslogd: each test starts its own
//! rsyslogd in the foreground on free loopback ports, with a generated
//! configuration that writes the fields rsyslog parsed from every message
//! (PRI, timestamp, hostname, app name, proc id, msg id, MSG) to a file, and
//! kills it by PID at the end. For TLS the test makes its own CA and server
//! certificate with the `openssl` command and loads rsyslog's openssl
//! driver. rsyslogd (or openssl, or rsyslog-openssl) missing is a failure,
//! not a skip: `scripts/setup.sh` installs them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a test fails by panicking"
)]

mod common;

use common::tools::{TestCerts, free_tcp_port, free_udp_port, make_test_certs};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::thread::sleep;
use std::time::{Duration, Instant};

use medtap::output::remote::EventSink;
use medtap::output::syslog::{self, DEFAULT_MAX_MESSAGE, SyslogSink};
use serde_json::{Value, json};

/// How long the tests wait for rsyslogd to start or to write what it got.
const PATIENCE: Duration = Duration::from_secs(20);

/// One rsyslogd, its directory and ports; killed when dropped.
struct Rsyslog {
    child: Child,
    dir: tempfile::TempDir,
    udp_port: u16,
    tcp_port: u16,
}

impl Rsyslog {
    fn start() -> Rsyslog {
        Rsyslog::start_on(free_udp_port(), free_tcp_port())
    }

    fn start_on(udp_port: u16, tcp_port: u16) -> Rsyslog {
        Rsyslog::start_with(udp_port, tcp_port, false)
    }

    /// An rsyslogd whose TCP input speaks TLS, with a certificate from the
    /// test's own CA (`ca_file()`).
    fn start_tls() -> Rsyslog {
        Rsyslog::start_with(free_udp_port(), free_tcp_port(), true)
    }

    fn ca_file(&self) -> PathBuf {
        TestCerts::in_dir(self.dir.path()).ca
    }

    fn start_with(udp_port: u16, tcp_port: u16, tls: bool) -> Rsyslog {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().display();
        let (tls_global, tls_module) = if tls {
            let TestCerts { ca, cert, key } = make_test_certs(dir.path());
            let [ca, cert, key] = [ca, cert, key].map(|p| p.display().to_string());
            (
                format!(
                    r#" DefaultNetstreamDriverCAFile="{ca}" DefaultNetstreamDriverCertFile="{cert}" DefaultNetstreamDriverKeyFile="{key}""#
                ),
                r#" StreamDriver.Name="ossl" StreamDriver.Mode="1" StreamDriver.AuthMode="anon""#,
            )
        } else {
            (String::new(), "")
        };
        let conf = format!(
            r#"global(workDirectory="{d}" maxMessageSize="64k"{tls_global})
module(load="imudp")
module(load="imtcp"{tls_module})
template(name="fields" type="string"
  string="%pri%|%timereported:::date-rfc3339%|%hostname%|%app-name%|%procid%|%msgid%|%msg%\n")
ruleset(name="capture") {{
  action(type="omfile" file="{d}/out.log" template="fields")
}}
input(type="imudp" address="127.0.0.1" port="{udp_port}" ruleset="capture")
input(type="imtcp" address="127.0.0.1" port="{tcp_port}" ruleset="capture")
"#
        );
        let child = common::tools::spawn_rsyslogd(dir.path(), &conf);
        let mut rsyslog = Rsyslog {
            child,
            dir,
            udp_port,
            tcp_port,
        };
        rsyslog.wait_for_tcp();
        rsyslog
    }

    /// Waits until the TCP input accepts connections (the UDP input is
    /// probed by the tests that use it).
    fn wait_for_tcp(&mut self) {
        let deadline = Instant::now() + PATIENCE;
        while TcpStream::connect(("127.0.0.1", self.tcp_port)).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("rsyslogd exited with {status}:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "rsyslogd did not listen on TCP {}:\n{}",
                self.tcp_port,
                self.log()
            );
            sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("rsyslogd.log")).unwrap_or_default()
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("out.log")
    }

    fn url(&self, transport: &str, format: &str) -> String {
        let port = match transport {
            "udp" => self.udp_port,
            _ => self.tcp_port,
        };
        let ca = match transport {
            "tls" => format!("&ca={}", self.ca_file().display()),
            _ => String::new(),
        };
        format!("syslog+{transport}://127.0.0.1:{port}?format={format}{ca}")
    }

    /// Waits until at least `n` lines have been written, and returns them.
    fn wait_lines(&self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let lines = read_lines(&self.out());
            if lines.len() >= n {
                // Give a stray extra message the chance to show.
                sleep(Duration::from_millis(200));
                return read_lines(&self.out());
            }
            assert!(
                Instant::now() < deadline,
                "rsyslogd wrote {} of {n} messages:\n{}\nrsyslogd log:\n{}",
                lines.len(),
                lines.join("\n"),
                self.log()
            );
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

/// The complete lines of `path`: a line without its newline is one rsyslogd
/// is still writing, not a message received.
fn read_lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    complete.lines().map(str::to_owned).collect()
}

/// What rsyslog parsed from one message.
#[derive(Debug, PartialEq)]
struct Received {
    pri: String,
    timestamp: String,
    hostname: String,
    app_name: String,
    procid: String,
    msgid: String,
    msg: String,
}

fn parse_line(line: &str) -> Received {
    let f: Vec<&str> = line.splitn(7, '|').collect();
    assert_eq!(f.len(), 7, "unexpected line {line:?}");
    Received {
        pri: f[0].to_owned(),
        timestamp: f[1].to_owned(),
        hostname: f[2].to_owned(),
        app_name: f[3].to_owned(),
        procid: f[4].to_owned(),
        msgid: f[5].to_owned(),
        msg: f[6].to_owned(),
    }
}

/// Events of every kind, with the characters each format must escape or
/// carry through: non-ASCII, `=`, `|`, `\`, a JSON-escaped line break.
fn events(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let ts = format!("2026-11-23T10:00:{:02}.{:06}Z", i % 60, i * 7);
            let event = match i % 4 {
                0 => json!({
                    "timestamp": ts, "event_type": "device",
                    "src_ip": "10.77.0.21", "src_port": 41234 + i, "dest_ip": "10.77.0.10",
                    "dest_port": 11112, "proto": "TCP", "community_id": "1:Zx9/k+Q=",
                    "app_proto": "dicom",
                    "device": {"id": "mac:00:09:fb:00:00:21", "identified_by": "mac",
                        "mac": "00:09:fb:00:00:21",
                        "vendor": "Philips Medizin Systeme Böblingen GmbH",
                        "ips": ["10.77.0.21"], "seq": i}
                }),
                1 => json!({
                    "timestamp": ts, "event_type": "hl7",
                    "src_ip": "10.1.2.3", "src_port": 5000, "dest_ip": "10.1.2.4",
                    "dest_port": 2575, "proto": "TCP", "app_proto": "hl7",
                    "hl7": {"sending_application": "LAB|A=B\\C\nD", "seq": i}
                }),
                2 => json!({
                    "timestamp": ts, "event_type": "alert",
                    "src_ip": "10.1.2.3", "dest_ip": "203.0.113.9", "proto": "UDP",
                    "alert": {"kind": "new_peer", "severity": "high",
                        "signature": "Device talks to a new peer | first time", "seq": i},
                    "device": {"id": "ip:10.1.2.3", "identified_by": "ip", "ips": ["10.1.2.3"]}
                }),
                _ => json!({
                    "timestamp": ts, "event_type": "stats",
                    "stats": {"capture": {"packets": i, "bytes": i * 60}}
                }),
            };
            event.to_string()
        })
        .collect()
}

/// Asserts that `lines` are exactly `sent`, in order, each whole.
fn assert_received(lines: &[String], sent: &[String], format: &str) {
    assert_eq!(lines.len(), sent.len(), "message count: {lines:#?}");
    let hostname = medtap::output::sensor_name();
    let procid = std::process::id().to_string();
    for (line, json) in lines.iter().zip(sent) {
        let event: Value = serde_json::from_str(json).unwrap();
        let event_type = event["event_type"].as_str().unwrap();
        let pri = if event_type == "alert" { "131" } else { "134" };
        let msg = match format {
            "json" => json.clone(),
            _ => medtap::output::format::cef::line(&event),
        };
        assert_eq!(
            parse_line(line),
            Received {
                pri: pri.to_owned(),
                timestamp: event["timestamp"].as_str().unwrap().to_owned(),
                hostname: hostname.to_owned(),
                app_name: "medtap".to_owned(),
                procid: procid.clone(),
                msgid: event_type.to_owned(),
                msg,
            }
        );
    }
}

fn deliver_all(sink: &mut dyn EventSink, events: &[String], batch: usize) {
    for chunk in events.chunks(batch) {
        let refs: Vec<&[u8]> = chunk.iter().map(|e| e.as_bytes()).collect();
        sink.deliver(&refs).expect("deliver");
    }
}

/// UDP has no handshake: sends probe events until one is written, so the
/// events under test are not sent before the UDP input is listening.
/// Returns the number of lines the probes took.
fn probe_udp(rsyslog: &Rsyslog, sink: &mut dyn EventSink) -> usize {
    let probe = br#"{"timestamp":"2026-11-23T09:00:00.000000Z","event_type":"probe"}"#;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let _ = sink.deliver(&[probe]);
        sleep(Duration::from_millis(100));
        let lines = read_lines(&rsyslog.out());
        if !lines.is_empty() {
            assert!(lines.iter().all(|l| l.contains("|probe|")), "{lines:?}");
            return lines.len();
        }
        assert!(
            Instant::now() < deadline,
            "rsyslogd never received a UDP probe:\n{}",
            rsyslog.log()
        );
    }
}

fn udp_round_trip(format: &str) {
    let rsyslog = Rsyslog::start();
    let mut sink = syslog::from_url(&rsyslog.url("udp", format)).expect("sink");
    let probes = probe_udp(&rsyslog, sink.as_mut());
    let sent = events(40);
    deliver_all(sink.as_mut(), &sent, 8);
    let lines = rsyslog.wait_lines(probes + sent.len());
    assert_received(&lines[probes..], &sent, format);
}

fn tcp_round_trip(format: &str) {
    let rsyslog = Rsyslog::start();
    let mut sink = syslog::from_url(&rsyslog.url("tcp", format)).expect("sink");
    let sent = events(500);
    deliver_all(sink.as_mut(), &sent, 64);
    let lines = rsyslog.wait_lines(sent.len());
    assert_received(&lines, &sent, format);
}

#[test]
fn udp_json_events_arrive_whole_and_in_order() {
    udp_round_trip("json");
}

#[test]
fn udp_cef_events_arrive_whole_and_in_order() {
    udp_round_trip("cef");
}

#[test]
fn tcp_json_events_arrive_whole_and_in_order() {
    tcp_round_trip("json");
}

#[test]
fn tcp_cef_events_arrive_whole_and_in_order() {
    tcp_round_trip("cef");
}

#[test]
fn cef_line_as_received_is_byte_exact() {
    // Checked by hand against the ArcSight CEF rules: "|" and "\" escaped in
    // header fields, "=" escaped in extension values.
    let rsyslog = Rsyslog::start();
    let mut sink = syslog::from_url(&rsyslog.url("tcp", "cef")).expect("sink");
    let event = &events(3)[2];
    sink.deliver(&[event.as_bytes()]).expect("deliver");
    let lines = rsyslog.wait_lines(1);
    assert_eq!(
        parse_line(&lines[0]).msg,
        format!(
            "CEF:0|medtap|medtap|{}|new_peer|Device talks to a new peer \\| first time|8|\
             rt=1795428002000 src=10.1.2.3 dst=203.0.113.9 proto=UDP \
             flexString1Label=kind flexString1=new_peer cat=alert \
             cs1Label=deviceId cs1=ip:10.1.2.3 msg=alert 10.1.2.3 -> 203.0.113.9",
            env!("CARGO_PKG_VERSION")
        )
    );
}

#[test]
fn udp_message_over_the_limit_is_counted_not_sent() {
    let rsyslog = Rsyslog::start();
    let mut sink = SyslogSink::from_url(&rsyslog.url("udp", "json")).expect("sink");
    let probes = probe_udp(&rsyslog, &mut sink);
    let sent = events(4);
    let big = json!({
        "timestamp": "2026-11-23T10:00:00.000000Z", "event_type": "stats",
        "stats": {"pad": "x".repeat(DEFAULT_MAX_MESSAGE)}
    })
    .to_string();
    let batch: Vec<&[u8]> = [&sent[0], &sent[1], &big, &sent[2], &sent[3]]
        .iter()
        .map(|e| e.as_bytes())
        .collect();
    sink.deliver(&batch).expect("deliver");
    let lines = rsyslog.wait_lines(probes + 4 + shortened(&mut sink));
    assert_received_but_big(&lines[probes..], &sent, 2);
}

/// Events the sink shortened in its last delivery, after checking that the
/// one large event was either shortened or left out and counted.
fn shortened(sink: &mut SyslogSink) -> usize {
    let tally = sink.take_tally();
    assert_eq!(tally.shortened + sink.oversized(), 1, "{tally:?}");
    tally.shortened as usize
}

/// `lines` are `sent` in order, with (when it was shortened rather than
/// left out) the large event at `big_at`: one valid JSON object of at most
/// the default size.
fn assert_received_but_big(lines: &[String], sent: &[String], big_at: usize) {
    let mut lines = lines.to_vec();
    if lines.len() == sent.len() + 1 {
        let big = lines.remove(big_at);
        assert!(big.len() <= DEFAULT_MAX_MESSAGE, "{} bytes", big.len());
        let msg = parse_line(&big).msg;
        let value: Value = serde_json::from_str(&msg).expect("the shortened event is JSON");
        assert!(value.is_object());
    }
    assert_received(&lines, sent, "json");
}

#[test]
fn tcp_message_over_the_default_limit_is_counted_not_sent() {
    let rsyslog = Rsyslog::start();
    let mut sink = SyslogSink::from_url(&rsyslog.url("tcp", "json")).expect("sink");
    let sent = events(2);
    let big = json!({
        "timestamp": "2026-11-23T10:00:00.000000Z", "event_type": "stats",
        "stats": {"pad": "x".repeat(DEFAULT_MAX_MESSAGE)}
    })
    .to_string();
    let batch: Vec<&[u8]> = [&sent[0], &big, &sent[1]]
        .iter()
        .map(|e| e.as_bytes())
        .collect();
    sink.deliver(&batch).expect("deliver");
    let lines = rsyslog.wait_lines(2 + shortened(&mut sink));
    assert_received_but_big(&lines, &sent, 1);
}

#[test]
fn tcp_carries_a_large_message_when_max_size_allows_it() {
    let rsyslog = Rsyslog::start();
    // This rsyslogd takes up to 64 KiB (maxMessageSize="64k").
    let url = format!("{}&max_size=65536", rsyslog.url("tcp", "json"));
    let mut sink = syslog::from_url(&url).expect("sink");
    let big = json!({
        "timestamp": "2026-11-23T10:00:00.000000Z", "event_type": "stats",
        "stats": {"pad": "é".repeat(2 * DEFAULT_MAX_MESSAGE)}
    })
    .to_string();
    let sent = vec![big, events(1).remove(0)];
    deliver_all(sink.as_mut(), &sent, 2);
    let lines = rsyslog.wait_lines(2);
    assert_received(&lines, &sent, "json");
}

#[test]
fn tcp_reconnects_after_the_receiver_restarts() {
    let first = Rsyslog::start();
    let (udp_port, tcp_port) = (first.udp_port, first.tcp_port);
    let mut sink = syslog::from_url(&first.url("tcp", "json")).expect("sink");
    let sent = events(20);
    deliver_all(sink.as_mut(), &sent[..10], 10);
    assert_received(&first.wait_lines(10), &sent[..10], "json");
    drop(first);

    // While nothing listens, delivery fails; the caller retries.
    let refs: Vec<&[u8]> = sent[10..].iter().map(|e| e.as_bytes()).collect();
    assert!(sink.deliver(&refs).is_err(), "delivery to a closed port");
    let second = Rsyslog::start_on(udp_port, tcp_port);
    let deadline = Instant::now() + PATIENCE;
    while let Err(e) = sink.deliver(&refs) {
        assert!(Instant::now() < deadline, "no reconnection: {e}");
        sleep(Duration::from_millis(100));
    }
    assert_received(&second.wait_lines(10), &sent[10..], "json");
}

fn tls_round_trip(format: &str) {
    let rsyslog = Rsyslog::start_tls();
    let mut sink = syslog::from_url(&rsyslog.url("tls", format)).expect("sink");
    let sent = events(200);
    deliver_all(sink.as_mut(), &sent, 50);
    let lines = rsyslog.wait_lines(sent.len());
    assert_received(&lines, &sent, format);
}

#[test]
fn tls_json_events_arrive_whole_and_in_order() {
    tls_round_trip("json");
}

#[test]
fn tls_cef_events_arrive_whole_and_in_order() {
    tls_round_trip("cef");
}

#[test]
fn tls_refuses_a_server_outside_the_trusted_roots() {
    // Without ?ca= the sink trusts the Mozilla roots, which did not sign the
    // test server's certificate: nothing may be sent.
    let rsyslog = Rsyslog::start_tls();
    let url = format!("syslog+tls://127.0.0.1:{}", rsyslog.tcp_port);
    let mut sink = syslog::from_url(&url).expect("sink");
    let event = &events(1)[0];
    let err = sink
        .deliver(&[event.as_bytes()])
        .expect_err("untrusted server");
    assert!(err.to_string().contains("certificate"), "{err}");
    sleep(Duration::from_millis(300));
    assert!(read_lines(&rsyslog.out()).is_empty());
}

#[test]
fn tls_ca_file_that_does_not_exist_is_a_bad_url() {
    let err = syslog::from_url("syslog+tls://127.0.0.1?ca=/nonexistent/ca.pem")
        .err()
        .expect("refused");
    assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
}

#[test]
fn medtap_o_syslog_tcp_delivers_a_replay_whole_and_in_order() {
    // The real binary, two sinks at once: the file is the reference.
    let rsyslog = Rsyslog::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("events.json");
    let capture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/ward.pcapng");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_medtap"))
        .arg("-r")
        .arg(&capture)
        .args(["--log-protocols", "-o"])
        // This rsyslogd takes up to 64 KiB (maxMessageSize="64k").
        .arg(format!("{}&max_size=65536", rsyslog.url("tcp", "json")))
        .arg("-o")
        .arg(&file)
        .arg("--spool")
        .arg(dir.path().join("spool"))
        .output()
        .expect("medtap runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = read_lines(&file);
    assert!(expected.len() > 20);
    let lines = rsyslog.wait_lines(expected.len());
    let messages: Vec<String> = lines.iter().map(|l| parse_line(l).msg).collect();
    assert_eq!(messages, expected);
}
