//! A Prometheus text endpoint (`--metrics ADDR:PORT`).
//!
//! The merge thread renders the counters of each `stats` event (live, every
//! `--stats-interval`) into the text exposition format and publishes the
//! text; a small thread answers `GET /metrics` with the latest text. The
//! numbers are the ones the `stats` event carries, so the two never disagree.

use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use crate::event::Stats;

/// The text published before the first `stats` tick.
const NOT_YET: &str = "# medtap: no stats yet\n";

/// How long one client may take to send its request.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);

/// The latest rendered metrics, shared with the HTTP thread.
pub type MetricsText = Arc<Mutex<String>>;

/// Binds `addr` and starts the thread that serves `GET /metrics` from the
/// returned slot.
pub fn serve(addr: &str) -> io::Result<MetricsText> {
    let listener = TcpListener::bind(addr)?;
    let text: MetricsText = Arc::new(Mutex::new(NOT_YET.to_owned()));
    let shared = Arc::clone(&text);
    thread::Builder::new()
        .name("medtap-metrics".into())
        .spawn(move || {
            for conn in listener.incoming() {
                match conn {
                    Ok(conn) => {
                        if let Err(e) = answer(conn, &shared) {
                            tracing::debug!("metrics client: {e}");
                        }
                    }
                    Err(e) => tracing::debug!("metrics accept: {e}"),
                }
            }
        })?;
    Ok(text)
}

fn answer(conn: TcpStream, text: &Mutex<String>) -> io::Result<()> {
    conn.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    conn.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // Read (and ignore) the headers, up to the empty line.
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, content_type, body) = if method != "GET" {
        (
            "405 Method Not Allowed",
            "text/plain",
            "GET only\n".to_owned(),
        )
    } else if path != "/metrics" {
        ("404 Not Found", "text/plain", "see /metrics\n".to_owned())
    } else {
        let body = text.lock().map(|t| t.clone()).unwrap_or_default();
        ("200 OK", "text/plain; version=0.0.4", body)
    };
    let mut conn = conn;
    write!(
        conn,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    conn.flush()
}

/// Escapes a label value for the text format.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Renders `stats` in the Prometheus text exposition format (0.0.4).
pub fn render(stats: &Stats) -> String {
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    };
    metric(
        "medtap_packets_total",
        "counter",
        "Packets read.",
        stats.capture.packets,
    );
    metric(
        "medtap_bytes_total",
        "counter",
        "Bytes on the wire of the packets read.",
        stats.capture.bytes,
    );
    metric(
        "medtap_capture_kernel_received_total",
        "counter",
        "Packets the kernel received for the capture (libpcap ps_recv).",
        stats.capture.kernel_received.unwrap_or(0),
    );
    metric(
        "medtap_capture_kernel_drops_total",
        "counter",
        "Packets dropped because the kernel buffer was full.",
        stats.capture.kernel_drops.unwrap_or(0),
    );
    metric(
        "medtap_capture_interface_drops_total",
        "counter",
        "Packets dropped by the interface or its driver.",
        stats.capture.interface_drops.unwrap_or(0),
    );
    metric(
        "medtap_flows_active",
        "gauge",
        "Flows not yet idle past their timeout.",
        stats.flow.active,
    );
    metric(
        "medtap_devices",
        "gauge",
        "Devices known.",
        stats.device.total,
    );
    metric(
        "medtap_alerts_suppressed_total",
        "counter",
        "Alert occurrences folded into follow-ups.",
        stats.alerts.suppressed,
    );
    metric(
        "medtap_devices_learning",
        "gauge",
        "Devices whose baseline is still being learned.",
        stats.baselines.learning,
    );
    {
        let name = "medtap_devices_by_risk";
        let _ = writeln!(
            out,
            "# HELP {name} Devices by risk level (docs/risk.md).\n# TYPE {name} gauge"
        );
        for level in ["low", "medium", "high", "critical"] {
            let value = stats.device.risk.get(level).copied().unwrap_or(0);
            let _ = writeln!(out, "{name}{{level=\"{level}\"}} {value}");
        }
    }
    {
        let name = "medtap_evicted_total";
        let _ = writeln!(
            out,
            "# HELP {name} Entries evicted to stay within the memory budget, by table.\n# TYPE {name} counter"
        );
        for (table, value) in [
            ("flows", stats.flow.evicted),
            ("devices", stats.device.evicted),
        ] {
            let _ = writeln!(out, "{name}{{table=\"{table}\"}} {value}");
        }
    }
    if let Some(warnings) = &stats.warnings {
        let name = "medtap_warnings_total";
        let _ = writeln!(
            out,
            "# HELP {name} Warning events by kind.\n# TYPE {name} counter"
        );
        for (kind, value) in warnings.by_kind() {
            let _ = writeln!(out, "{name}{{kind=\"{}\"}} {value}", kind.name());
        }
    }
    {
        let name = "medtap_alerts_total";
        let _ = writeln!(
            out,
            "# HELP {name} Alerts written, follow-ups included, by kind.\n# TYPE {name} counter"
        );
        for kind in crate::alert::Kind::ALL {
            let value = stats.alerts.by_kind.get(kind.name()).copied().unwrap_or(0);
            let _ = writeln!(out, "{name}{{kind=\"{}\"}} {value}", kind.name());
        }
    }
    if !stats.sinks.is_empty() {
        let name = "medtap_sink_events_total";
        let _ = writeln!(
            out,
            "# HELP {name} Events by network sink and what became of them.\n# TYPE {name} counter"
        );
        for sink in &stats.sinks {
            let sink_name = label(&sink.name);
            for (state, value) in [
                ("delivered", sink.delivered),
                ("spooled", sink.spooled),
                ("dropped", sink.dropped),
                ("shortened", sink.shortened),
                ("oversized", sink.oversized),
            ] {
                let _ = writeln!(
                    out,
                    "{name}{{sink=\"{sink_name}\",state=\"{state}\"}} {value}"
                );
            }
        }
        let name = "medtap_sink_spool_bytes";
        let _ = writeln!(
            out,
            "# HELP {name} Bytes in a network sink's disk spool now.\n# TYPE {name} gauge"
        );
        for sink in &stats.sinks {
            let _ = writeln!(
                out,
                "{name}{{sink=\"{}\"}} {}",
                label(&sink.name),
                sink.spool_bytes
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{SinkStats, WarningCounts};

    #[test]
    fn renders_every_metric_with_help_and_type() {
        let mut stats = Stats::default();
        stats.capture.packets = 7;
        stats.capture.bytes = 700;
        stats.capture.kernel_received = Some(9);
        stats.capture.kernel_drops = Some(2);
        stats.capture.interface_drops = Some(1);
        stats.warnings = Some(WarningCounts {
            capture_loss: 4,
            capture_loss_recovered: 1,
        });
        stats.flow.active = 3;
        stats.flow.evicted = 11;
        stats.device.evicted = 6;
        stats.alerts.by_kind.insert("fanout", 2);
        stats.alerts.suppressed = 5;
        stats.baselines.learning = 3;
        stats.sinks.push(SinkStats {
            name: "redis://h:1/k\"".into(),
            delivered: 5,
            spooled: 1,
            dropped: 0,
            spool_bytes: 10,
            shortened: 2,
            oversized: 1,
        });
        let text = render(&stats);
        for line in [
            "# TYPE medtap_packets_total counter",
            "medtap_packets_total 7",
            "medtap_bytes_total 700",
            "medtap_capture_kernel_received_total 9",
            "medtap_capture_kernel_drops_total 2",
            "medtap_capture_interface_drops_total 1",
            "# TYPE medtap_warnings_total counter",
            "medtap_warnings_total{kind=\"capture_loss\"} 4",
            "medtap_warnings_total{kind=\"capture_loss_recovered\"} 1",
            "# TYPE medtap_flows_active gauge",
            "medtap_flows_active 3",
            "medtap_devices 0",
            "# TYPE medtap_evicted_total counter",
            "medtap_evicted_total{table=\"flows\"} 11",
            "medtap_evicted_total{table=\"devices\"} 6",
            "# TYPE medtap_alerts_total counter",
            "medtap_alerts_total{kind=\"fanout\"} 2",
            "medtap_alerts_total{kind=\"new_peer\"} 0",
            "medtap_alerts_suppressed_total 5",
            "medtap_devices_learning 3",
            "medtap_sink_events_total{sink=\"redis://h:1/k\\\"\",state=\"delivered\"} 5",
            "medtap_sink_events_total{sink=\"redis://h:1/k\\\"\",state=\"spooled\"} 1",
            "medtap_sink_events_total{sink=\"redis://h:1/k\\\"\",state=\"dropped\"} 0",
            "medtap_sink_events_total{sink=\"redis://h:1/k\\\"\",state=\"shortened\"} 2",
            "medtap_sink_events_total{sink=\"redis://h:1/k\\\"\",state=\"oversized\"} 1",
            "# TYPE medtap_sink_spool_bytes gauge",
            "medtap_sink_spool_bytes{sink=\"redis://h:1/k\\\"\"} 10",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
    }
}
