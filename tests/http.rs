//! The HTTP sink against a real HTTP/1.1 receiver written here: a thread on a
//! free loopback port that accepts connections (each on its own thread),
//! parses every request — request line, headers, a body framed by
//! `Content-Length` or `chunked` — records it with the number of the
//! connection it came on, and answers with the next scripted status and body
//! (200 `{}` when the script is empty). For HTTPS the receiver wraps each
//! connection in rustls with a certificate from a CA the test makes with the
//! `openssl` command; openssl missing is a failure, not a skip.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a test fails by panicking"
)]

mod common;

use common::tools::{TestCerts, make_test_certs};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use medtap::output::http::{HEC_TOKEN_VAR, HttpSink, MAX_BATCH_BYTES, from_url};
use medtap::output::remote::{EventSink, SinkError};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};

/// How long the tests wait for the receiver to record what it got.
const PATIENCE: Duration = Duration::from_secs(20);

/// One request as the receiver parsed it.
#[derive(Debug, Clone)]
struct Request {
    method: String,
    target: String,
    version: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Which connection (0, 1, …) it came on.
    connection: usize,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn lines(&self) -> Vec<&[u8]> {
        let body = self.body.strip_suffix(b"\n").unwrap_or(&self.body);
        body.split(|b| *b == b'\n').collect()
    }
}

/// One scripted answer.
#[derive(Debug, Clone)]
struct Reply {
    status: u16,
    body: String,
    /// Send the body `chunked` rather than with `Content-Length`.
    chunked: bool,
    /// Close the connection after answering, without saying so.
    hang_up: bool,
    /// Send these bytes as they are instead, then close the connection.
    raw: Option<String>,
}

impl Reply {
    fn new(status: u16, body: &str) -> Reply {
        Reply {
            status,
            body: body.to_owned(),
            chunked: false,
            hang_up: false,
            raw: None,
        }
    }

    fn raw(bytes: &str) -> Reply {
        Reply {
            raw: Some(bytes.to_owned()),
            ..Reply::new(0, "")
        }
    }

    fn chunked(mut self) -> Reply {
        self.chunked = true;
        self
    }

    fn hang_up(mut self) -> Reply {
        self.hang_up = true;
        self
    }
}

#[derive(Default)]
struct Shared {
    requests: Mutex<Vec<Request>>,
    script: Mutex<VecDeque<Reply>>,
    connections: AtomicUsize,
}

/// A receiver on 127.0.0.1; its threads end with the test process.
struct Receiver {
    port: u16,
    shared: Arc<Shared>,
    /// Holds the certificates of an HTTPS receiver.
    dir: Option<tempfile::TempDir>,
}

impl Receiver {
    fn start() -> Receiver {
        Receiver::start_with(None)
    }

    fn start_tls() -> Receiver {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = make_test_certs(dir.path());
        let certs = CertificateDer::pem_file_iter(&files.cert)
            .expect("server.pem")
            .collect::<Result<Vec<_>, _>>()
            .expect("certificates");
        let key = PrivateKeyDer::from_pem_file(&files.key).expect("server.key");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server certificate");
        let mut receiver = Receiver::start_with(Some(Arc::new(config)));
        receiver.dir = Some(dir);
        receiver
    }

    fn start_with(tls: Option<Arc<rustls::ServerConfig>>) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let shared = Arc::new(Shared::default());
        let accept_shared = Arc::clone(&shared);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let shared = Arc::clone(&accept_shared);
                let id = shared.connections.fetch_add(1, Ordering::SeqCst);
                let tls = tls.clone();
                thread::spawn(move || match tls {
                    None => serve(stream, id, &shared),
                    Some(config) => {
                        let conn = rustls::ServerConnection::new(config).expect("tls session");
                        serve(rustls::StreamOwned::new(conn, stream), id, &shared);
                    }
                });
            }
        });
        Receiver {
            port,
            shared,
            dir: None,
        }
    }

    fn url(&self, path_and_query: &str) -> String {
        format!("http://127.0.0.1:{}{path_and_query}", self.port)
    }

    fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.shared.script.lock().expect("script").extend(replies);
    }

    fn requests(&self) -> Vec<Request> {
        self.shared.requests.lock().expect("requests").clone()
    }

    fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    fn ca_file(&self) -> std::path::PathBuf {
        TestCerts::in_dir(self.dir.as_ref().expect("an HTTPS receiver").path()).ca
    }
}

/// Reads one line without its CRLF; `None` at the end of the stream.
fn read_line<R: BufRead>(reader: &mut R) -> Option<String> {
    let mut line = String::new();
    match reader.read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim_end_matches(['\r', '\n']).to_owned()),
    }
}

/// Parses requests off one connection and answers each.
fn serve<S: Read + Write>(stream: S, connection: usize, shared: &Shared) {
    let mut reader = BufReader::new(stream);
    loop {
        let Some(request_line) = read_line(&mut reader) else {
            return;
        };
        let mut parts = request_line.splitn(3, ' ');
        let method = parts.next().unwrap_or_default().to_owned();
        let target = parts.next().unwrap_or_default().to_owned();
        let version = parts.next().unwrap_or_default().to_owned();
        let mut headers = Vec::new();
        loop {
            let line = read_line(&mut reader).expect("header line");
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').expect("name: value");
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _): &&(String, String)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let mut body = Vec::new();
        if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            loop {
                let size = read_line(&mut reader).expect("chunk size");
                let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
                    .expect("hex chunk size");
                if size == 0 {
                    while !read_line(&mut reader).expect("trailer").is_empty() {}
                    break;
                }
                let start = body.len();
                body.resize(start + size, 0);
                reader.read_exact(&mut body[start..]).expect("chunk");
                assert!(read_line(&mut reader).expect("CRLF").is_empty());
            }
        } else if let Some(len) = header("content-length") {
            let len: usize = len.parse().expect("Content-Length");
            body.resize(len, 0);
            reader.read_exact(&mut body).expect("body");
        }
        shared.requests.lock().expect("requests").push(Request {
            method,
            target,
            version,
            headers,
            body,
            connection,
        });
        let reply = shared
            .script
            .lock()
            .expect("script")
            .pop_front()
            .unwrap_or_else(|| Reply::new(200, "{}"));
        let mut out = format!("HTTP/1.1 {} Scripted\r\nServer: test\r\n", reply.status);
        if let Some(raw) = &reply.raw {
            let stream = reader.get_mut();
            let _ = stream
                .write_all(raw.as_bytes())
                .and_then(|()| stream.flush());
            return;
        } else if reply.chunked {
            out.push_str("Transfer-Encoding: chunked\r\n\r\n");
            for piece in reply.body.as_bytes().chunks(7) {
                out.push_str(&format!("{:x};ext=1\r\n", piece.len()));
                out.push_str(std::str::from_utf8(piece).expect("ASCII body"));
                out.push_str("\r\n");
            }
            out.push_str("0\r\n\r\n");
        } else {
            out.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
                reply.body.len(),
                reply.body
            ));
        }
        let stream = reader.get_mut();
        if stream
            .write_all(out.as_bytes())
            .and_then(|()| stream.flush())
            .is_err()
        {
            return;
        }
        if reply.hang_up {
            return;
        }
    }
}

/// `n` events, each with its own timestamp (2024-05-01T10:00:00Z + i s,
/// fraction .123456) and an `event_type` that cycles.
fn events(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let kinds = ["device", "hl7", "alert"];
            json!({
                "timestamp": format!("2024-05-01T10:{:02}:{:02}.123456Z", i / 60, i % 60),
                "event_type": kinds[i % kinds.len()],
                "seq": i,
                "note": "quote \" backslash \\ unicode é",
            })
            .to_string()
        })
        .collect()
}

fn deliver(sink: &mut dyn EventSink, events: &[String]) -> Result<(), SinkError> {
    let refs: Vec<&[u8]> = events.iter().map(String::as_bytes).collect();
    sink.deliver(&refs)
}

fn ndjson_sink(receiver: &Receiver) -> Box<dyn EventSink> {
    from_url(&receiver.url("/ingest?format=ndjson")).expect("url")
}

#[test]
fn ndjson_request_shape() {
    let receiver = Receiver::start();
    let mut sink = ndjson_sink(&receiver);
    let batch = events(3);
    deliver(sink.as_mut(), &batch).expect("deliver");
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(
        (r.method.as_str(), r.target.as_str(), r.version.as_str()),
        ("POST", "/ingest", "HTTP/1.1")
    );
    assert_eq!(
        r.header("host"),
        Some(format!("127.0.0.1:{}", receiver.port).as_str())
    );
    assert_eq!(r.header("content-type"), Some("application/x-ndjson"));
    assert_eq!(
        r.header("content-length"),
        Some(r.body.len().to_string().as_str())
    );
    assert_eq!(r.header("authorization"), None);
    assert_eq!(r.body, format!("{}\n", batch.join("\n")).into_bytes());
}

#[test]
fn hec_request_shape_with_token_and_event_time() {
    let receiver = Receiver::start();
    let mut sink = HttpSink::new(
        &receiver.url("/services/collector/event?format=hec"),
        Some("t0k-3n"),
    )
    .expect("url");
    let batch = events(4);
    deliver(&mut sink, &batch).expect("deliver");
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.target, "/services/collector/event");
    assert_eq!(r.header("authorization"), Some("Splunk t0k-3n"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    let lines = r.lines();
    assert_eq!(lines.len(), batch.len());
    for (i, (line, sent)) in lines.iter().zip(&batch).enumerate() {
        let text = std::str::from_utf8(line).expect("UTF-8");
        // The time as written: 2024-05-01T10:00:00Z is 1714557600 (date -u -d @1714557600),
        // the fraction kept digit for digit.
        let expected_time = format!("{}.123456", 1_714_557_600 + i);
        assert!(
            text.starts_with(&format!("{{\"time\":{expected_time},")),
            "{text}"
        );
        let envelope: Value = serde_json::from_str(text).expect("JSON");
        let event: Value = serde_json::from_str(sent).expect("JSON");
        assert_eq!(envelope["event"], event);
        assert_eq!(envelope["source"], "medtap");
        assert_eq!(
            envelope["sourcetype"],
            format!("medtap:{}", event["event_type"].as_str().expect("type"))
        );
        assert_eq!(envelope.as_object().expect("object").len(), 4, "{text}");
    }
}

#[test]
fn hec_without_token_is_a_bad_url() {
    match HttpSink::new("http://127.0.0.1:8088/services/collector?format=hec", None) {
        Err(SinkError::BadUrl { reason, .. }) => {
            assert!(reason.contains(HEC_TOKEN_VAR), "{reason}")
        }
        other => panic!("expected BadUrl, got {:?}", other.err()),
    }
    // This test process never sets the variable; from_url reads it.
    assert!(
        std::env::var_os(HEC_TOKEN_VAR).is_none(),
        "unset {HEC_TOKEN_VAR} to run these tests"
    );
    match from_url("http://127.0.0.1:8088/services/collector?format=hec") {
        Err(SinkError::BadUrl { reason, .. }) => {
            assert!(reason.contains(HEC_TOKEN_VAR), "{reason}")
        }
        other => panic!("expected BadUrl, got {:?}", other.err()),
    }
}

#[test]
fn bulk_request_is_action_and_event_pairs() {
    let receiver = Receiver::start();
    receiver.script([Reply::new(200, r#"{"took":1,"errors":false,"items":[]}"#).chunked()]);
    let mut sink = from_url(&receiver.url("/_bulk?format=bulk&index=eve-ward")).expect("url");
    let batch = events(3);
    deliver(sink.as_mut(), &batch).expect("deliver");
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.target, "/_bulk");
    assert_eq!(r.header("content-type"), Some("application/x-ndjson"));
    let mut expected = Vec::new();
    for event in &batch {
        expected.push(r#"{"create":{"_index":"eve-ward"}}"#.as_bytes());
        expected.push(event.as_bytes());
    }
    assert_eq!(r.lines(), expected);
    assert!(r.body.ends_with(b"\n"), "_bulk needs the final newline");
}

#[test]
fn bulk_index_defaults_to_medtap() {
    let receiver = Receiver::start();
    let mut sink = from_url(&receiver.url("/_bulk?format=bulk")).expect("url");
    deliver(sink.as_mut(), &events(1)).expect("deliver");
    assert_eq!(
        receiver.requests()[0].lines()[0],
        br#"{"create":{"_index":"medtap"}}"#
    );
}

#[test]
fn bulk_errors_true_is_refused_with_the_first_item_error() {
    let receiver = Receiver::start();
    receiver.script([Reply::new(
        200,
        r#"{"took":2,"errors":true,"items":[{"create":{"_index":"medtap","status":201}},{"create":{"_index":"medtap","status":400,"error":{"type":"document_parsing_exception","reason":"failed to parse field [seq]"}}}]}"#,
    )
    .chunked()]);
    let mut sink = from_url(&receiver.url("/_bulk?format=bulk")).expect("url");
    match deliver(sink.as_mut(), &events(2)) {
        Err(SinkError::Refused { target, reason }) => {
            assert_eq!(target, sink.name());
            assert_eq!(
                reason,
                "_bulk item 1 status 400: document_parsing_exception: failed to parse field [seq]"
            );
        }
        other => panic!("expected Refused, got {other:?}"),
    }
}

#[test]
fn batches_arrive_in_order_and_a_large_one_is_split() {
    let receiver = Receiver::start();
    let mut sink = ndjson_sink(&receiver);
    let mut sent = Vec::new();
    for n in [1, 5, 2] {
        let batch: Vec<String> = events(n)
            .into_iter()
            .map(|e| e.replace("\"seq\":", &format!("\"batch\":{},\"seq\":", sent.len())))
            .collect();
        deliver(sink.as_mut(), &batch).expect("deliver");
        sent.extend(batch);
    }
    // Events of 100 KiB each: more than MAX_BATCH_BYTES in one call.
    let padding = "x".repeat(100 * 1024);
    let large: Vec<String> = (0..(MAX_BATCH_BYTES / (100 * 1024)) + 5)
        .map(|i| json!({"event_type": "stats", "seq": i, "pad": padding}).to_string())
        .collect();
    deliver(sink.as_mut(), &large).expect("deliver large");
    sent.extend(large);

    let requests = receiver.requests();
    assert_eq!(
        requests.len(),
        5,
        "3 small batches, the large one split in two"
    );
    for r in &requests {
        assert!(r.body.len() <= MAX_BATCH_BYTES, "{}", r.body.len());
    }
    let received: Vec<String> = requests
        .iter()
        .flat_map(|r| r.lines())
        .map(|l| String::from_utf8(l.to_vec()).expect("UTF-8"))
        .collect();
    assert_eq!(received, sent);
}

#[test]
fn keep_alive_reuses_one_connection() {
    let receiver = Receiver::start();
    let mut sink = HttpSink::new(&receiver.url("/ingest?format=ndjson"), None).expect("url");
    for _ in 0..4 {
        deliver(&mut sink, &events(2)).expect("deliver");
    }
    assert_eq!(sink.connections(), 1);
    assert_eq!(receiver.connections(), 1);
    assert!(receiver.requests().iter().all(|r| r.connection == 0));
    assert!(
        receiver
            .requests()
            .iter()
            .all(|r| r.header("connection") == Some("keep-alive"))
    );
}

#[test]
fn a_connection_the_server_dropped_while_idle_is_replaced_without_error() {
    let receiver = Receiver::start();
    receiver.script([Reply::new(200, "{}").hang_up()]);
    let mut sink = HttpSink::new(&receiver.url("/ingest?format=ndjson"), None).expect("url");
    let first = events(1);
    deliver(&mut sink, &first).expect("first");
    // Let the hang-up reach the client.
    thread::sleep(Duration::from_millis(100));
    let second = events(2);
    deliver(&mut sink, &second).expect("second, on a new connection");
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests.iter().map(|r| r.connection).collect::<Vec<_>>(),
        [0, 1]
    );
    assert_eq!(sink.connections(), 2);
}

#[test]
fn a_kept_alive_connection_closed_without_an_answer_is_retried_once_on_a_new_one() {
    let receiver = Receiver::start();
    // The second request is read, then the connection closes with no answer:
    // what a receiver that closed an idle connection as it came looks like.
    receiver.script([Reply::new(200, "{}"), Reply::raw("")]);
    let mut sink = HttpSink::new(&receiver.url("/ingest?format=ndjson"), None).expect("url");
    deliver(&mut sink, &events(1)).expect("first");
    deliver(&mut sink, &events(2)).expect("second, sent again on a new connection");
    let requests = receiver.requests();
    assert_eq!(
        requests.iter().map(|r| r.connection).collect::<Vec<_>>(),
        [0, 0, 1]
    );
    assert_eq!(requests[1].body, requests[2].body);
    assert_eq!(sink.connections(), 2);
}

#[test]
fn a_new_connection_closed_without_an_answer_is_an_io_error() {
    let receiver = Receiver::start();
    receiver.script([Reply::raw("")]);
    let mut sink = ndjson_sink(&receiver);
    match deliver(sink.as_mut(), &events(1)) {
        Err(SinkError::Io { .. }) => {}
        other => panic!("expected Io, got {other:?}"),
    }
    assert_eq!(receiver.requests().len(), 1, "not sent again");
}

#[test]
fn status_503_and_429_are_io_errors_and_the_retry_succeeds() {
    let receiver = Receiver::start();
    receiver.script([
        Reply::new(503, "busy"),
        Reply::new(429, "slow down").chunked(),
    ]);
    let mut sink = ndjson_sink(&receiver);
    let batch = events(2);
    for status in ["503", "429"] {
        match deliver(sink.as_mut(), &batch) {
            Err(SinkError::Io { target, source }) => {
                assert_eq!(target, sink.name());
                assert!(
                    source.to_string().contains(&format!("HTTP {status}")),
                    "{source}"
                );
            }
            other => panic!("expected Io for {status}, got {other:?}"),
        }
    }
    deliver(sink.as_mut(), &batch).expect("third attempt");
    let requests = receiver.requests();
    assert_eq!(requests.len(), 3);
    assert!(requests.iter().all(|r| r.body == requests[0].body));
    // The connection survives an error status.
    assert_eq!(receiver.connections(), 1);
}

#[test]
fn status_400_is_refused_with_status_and_bounded_body() {
    let receiver = Receiver::start();
    let long = format!("invalid data: {}", "y".repeat(10_000));
    receiver.script([Reply::new(400, &long)]);
    let mut sink = ndjson_sink(&receiver);
    match deliver(sink.as_mut(), &events(1)) {
        Err(SinkError::Refused { target, reason }) => {
            assert_eq!(target, sink.name());
            assert!(
                reason.starts_with("HTTP 400 Scripted: invalid data: yyy"),
                "{reason}"
            );
            assert!(reason.len() < 700, "{}", reason.len());
        }
        other => panic!("expected Refused, got {other:?}"),
    }
}

#[test]
fn a_body_delimited_by_the_end_of_the_connection_is_read_whole() {
    let receiver = Receiver::start();
    receiver.script([Reply::raw("HTTP/1.0 404 Not Found\r\n\r\nno such index")]);
    let mut sink = ndjson_sink(&receiver);
    match deliver(sink.as_mut(), &events(1)) {
        Err(SinkError::Refused { reason, .. }) => {
            assert_eq!(reason, "HTTP 404 Not Found: no such index");
        }
        other => panic!("expected Refused, got {other:?}"),
    }
    // The connection ended with that answer: the next batch opens another.
    deliver(sink.as_mut(), &events(1)).expect("deliver");
    assert_eq!(receiver.connections(), 2);
}

#[test]
fn a_body_cut_short_is_an_io_error_and_the_retry_reconnects() {
    let receiver = Receiver::start();
    receiver.script([Reply::raw(
        "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"took\":1",
    )]);
    let mut sink = ndjson_sink(&receiver);
    let batch = events(2);
    match deliver(sink.as_mut(), &batch) {
        Err(SinkError::Io { target, .. }) => assert_eq!(target, sink.name()),
        other => panic!("expected Io, got {other:?}"),
    }
    deliver(sink.as_mut(), &batch).expect("retry");
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].body, requests[1].body);
    assert_eq!(receiver.connections(), 2);
}

#[test]
fn a_redirect_is_refused_not_followed() {
    let receiver = Receiver::start();
    receiver.script([Reply::raw(
        "HTTP/1.1 301 Moved Permanently\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n",
    )]);
    let mut sink = ndjson_sink(&receiver);
    match deliver(sink.as_mut(), &events(1)) {
        Err(SinkError::Refused { reason, .. }) => {
            assert!(reason.starts_with("HTTP 301 Moved Permanently"), "{reason}");
        }
        other => panic!("expected Refused, got {other:?}"),
    }
    assert_eq!(receiver.requests().len(), 1, "no request to the Location");
}

#[test]
fn a_receiver_that_is_down_is_an_io_error() {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut sink = from_url(&format!("http://127.0.0.1:{port}/x?format=ndjson")).expect("url");
    match deliver(sink.as_mut(), &events(1)) {
        Err(SinkError::Io { .. }) => {}
        other => panic!("expected Io, got {other:?}"),
    }
}

#[test]
fn https_with_a_private_ca_delivers_ndjson() {
    let receiver = Receiver::start_tls();
    let url = format!(
        "https://127.0.0.1:{}/ingest?format=ndjson&ca={}",
        receiver.port,
        receiver.ca_file().display()
    );
    let mut sink = HttpSink::new(&url, None).expect("url");
    let mut sent = Vec::new();
    for n in [3, 4] {
        let batch = events(n);
        deliver(&mut sink, &batch).expect("deliver over TLS");
        sent.extend(batch);
    }
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    let received: Vec<&[u8]> = requests.iter().flat_map(|r| r.lines()).collect();
    let sent: Vec<&[u8]> = sent.iter().map(String::as_bytes).collect();
    assert_eq!(received, sent);
    assert_eq!(sink.connections(), 1, "TLS connection kept alive");
}

#[test]
fn https_refuses_a_server_outside_the_trusted_roots() {
    let receiver = Receiver::start_tls();
    let mut sink = from_url(&format!(
        "https://127.0.0.1:{}/ingest?format=ndjson",
        receiver.port
    ))
    .expect("url");
    match deliver(sink.as_mut(), &events(1)) {
        Err(SinkError::Io { source, .. }) => {
            assert!(
                source.to_string().to_lowercase().contains("certificate"),
                "{source}"
            );
        }
        other => panic!("expected Io, got {other:?}"),
    }
    assert!(receiver.requests().is_empty());
}

#[test]
fn medtap_refuses_format_hec_without_the_token() {
    let out = Command::new(env!("CARGO_BIN_EXE_medtap"))
        .env_remove(HEC_TOKEN_VAR)
        .arg("-r")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/ward.pcapng"))
        .args(["-o", "http://127.0.0.1:1/services/collector?format=hec"])
        .output()
        .expect("medtap runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(HEC_TOKEN_VAR), "{stderr}");
}

#[test]
fn medtap_o_http_delivers_a_replay_whole_and_in_order() {
    // The real binary, two sinks at once: the file is the reference.
    let receiver = Receiver::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("events.json");
    let capture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/ward.pcapng");
    let out = Command::new(env!("CARGO_BIN_EXE_medtap"))
        .arg("-r")
        .arg(&capture)
        .args(["--log-protocols", "-o"])
        .arg(receiver.url("/ingest?format=ndjson"))
        .arg("-o")
        .arg(&file)
        .output()
        .expect("medtap runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected: Vec<Vec<u8>> = std::fs::read(&file)
        .expect("file sink")
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    assert!(expected.len() > 20);
    // medtap waits for its sinks before exiting, so everything is recorded;
    // the deadline only guards against a hang.
    let deadline = Instant::now() + PATIENCE;
    let received = loop {
        let received: Vec<Vec<u8>> = receiver
            .requests()
            .iter()
            .flat_map(|r| {
                r.lines()
                    .into_iter()
                    .map(<[u8]>::to_vec)
                    .collect::<Vec<_>>()
            })
            .collect();
        if received.len() >= expected.len() || Instant::now() > deadline {
            break received;
        }
        thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(received, expected);
}
