//! HTTP sink throughput: batches of EVE events `POST`ed to an in-process
//! HTTP/1.1 receiver on loopback that answers every request `200` at once,
//! so what is measured is the sink's own work (body building, the request,
//! reading the answer), per event. Run before and after a change to the
//! sink's HTTP client.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a benchmark stops on bad setup"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use medtap::output::http::HttpSink;
use medtap::output::remote::EventSink;

/// Events per delivery: about what one 64 KiB chunk of the merge stage holds.
const BATCH: usize = 100;

/// Answers every request on `stream` with `200` and `body`.
fn serve(stream: TcpStream, body: &'static str) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut writer = stream;
    let mut line = String::new();
    let mut sink = Vec::new();
    loop {
        let mut length = 0usize;
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line == "\r\n" {
                break;
            }
            let lower = line.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().expect("length");
            }
        }
        sink.resize(length, 0);
        if reader.read_exact(&mut sink).is_err() {
            return;
        }
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

fn receiver(body: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            thread::spawn(move || serve(conn, body));
        }
    });
    port
}

/// Device-like events of about 700 bytes, as a replay emits them.
fn events() -> Vec<Vec<u8>> {
    (0..BATCH)
        .map(|i| {
            format!(
                r#"{{"timestamp":"2026-11-23T10:00:{:02}.000120Z","event_type":"device","src_ip":"10.77.0.{i}","src_port":41234,"dest_ip":"10.77.0.10","dest_port":11112,"proto":"TCP","community_id":"1:abcdefghijklmnopqrstuvwxyz0=","app_proto":"dicom","device":{{"id":"mac:00:09:fb:00:00:{:02x}","identified_by":"mac","mac":"00:09:fb:00:00:{:02x}","vendor":"Philips Medizin Systeme Böblingen GmbH","ips":["10.77.0.{i}"],"dicom":{{"ae_titles":["CT_SCANNER_{i}"],"implementation_class_uid":"1.2.840.113619.6.{i}","implementation_version":"MERGECOM3_{i}","manufacturer":"GE MEDICAL SYSTEMS","model":"Revolution CT","software_versions":["revo_ct_22.{i}"]}},"first_seen":"2026-11-23T10:00:00.000120Z","last_seen":"2026-11-23T10:00:59.000120Z"}}}}"#,
                i % 60,
                i % 256,
                i % 256
            )
            .into_bytes()
        })
        .collect()
}

fn bench_http(c: &mut Criterion) {
    let events = events();
    let refs: Vec<&[u8]> = events.iter().map(Vec::as_slice).collect();
    let mut group = c.benchmark_group("http_sink");
    group.throughput(Throughput::Elements(BATCH as u64));
    for (name, query, answer) in [
        ("ndjson", "/in?format=ndjson", ""),
        (
            "bulk",
            "/_bulk?format=bulk",
            r#"{"took":1,"errors":false,"items":[]}"#,
        ),
    ] {
        let port = receiver(answer);
        let url = format!("http://127.0.0.1:{port}{query}");
        let mut sink = HttpSink::new(&url, None).expect("sink");
        group.bench_function(name, |b| {
            b.iter(|| sink.deliver(&refs).expect("delivered"));
        });
    }
    group.finish();
}

criterion_group!(benches, bench_http);
criterion_main!(benches);
