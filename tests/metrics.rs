//! The Prometheus endpoint of a live capture on `lo` (needs root; CI runs as
//! root): `/metrics` answers with the `stats` counters, other paths 404, and
//! SIGTERM still ends medtap cleanly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a test fails by panicking"
)]

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::medtap;

/// Kills the child (by its PID) if the test did not end it.
struct Running(Option<std::process::Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// One GET; the whole response, or None if nothing listens yet.
fn get(port: u16, path: &str) -> Option<String> {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(conn, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").expect("send request");
    let mut response = String::new();
    conn.read_to_string(&mut response).expect("read response");
    Some(response)
}

#[test]
fn metrics_endpoint_serves_the_stats_counters() {
    let port = free_port();
    let mut running = Running(Some(
        medtap()
            .args(["-i", "lo", "--stats-interval", "1", "-o", "/dev/null"])
            .arg("--metrics")
            .arg(format!("127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("medtap starts"),
    ));
    let child = running.0.as_mut().expect("running");
    let pid = child.id();

    // Wait for the first stats tick to be published.
    let deadline = Instant::now() + Duration::from_secs(20);
    let response = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            panic!("medtap exited early: {status}");
        }
        if let Some(r) = get(port, "/metrics")
            && r.contains("medtap_packets_total")
        {
            break r;
        }
        assert!(Instant::now() < deadline, "no metrics within 20 s");
        sleep(Duration::from_millis(100));
    };
    let (head, body) = response.split_once("\r\n\r\n").expect("headers end");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4"),
        "{head}"
    );
    for name in [
        "medtap_packets_total",
        "medtap_bytes_total",
        "medtap_capture_kernel_received_total",
        "medtap_capture_kernel_drops_total",
        "medtap_capture_interface_drops_total",
        "medtap_flows_active",
        "medtap_devices",
    ] {
        assert!(
            body.lines().any(|l| l
                .strip_prefix(name)
                .and_then(|v| v.strip_prefix(' '))
                .is_some_and(|v| v.parse::<u64>().is_ok())),
            "{name} with a value not in\n{body}"
        );
        assert!(body.contains(&format!("# TYPE {name} ")), "{name} type");
    }
    // Live, the warning counters exist from the first tick, at 0 on a quiet
    // loopback.
    for kind in ["capture_loss", "capture_loss_recovered"] {
        let line = format!("medtap_warnings_total{{kind=\"{kind}\"}} ");
        assert!(
            body.lines().any(|l| l.starts_with(&line)),
            "{line} not in\n{body}"
        );
    }
    let missing = get(port, "/nope").expect("still listening");
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");

    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
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
}
