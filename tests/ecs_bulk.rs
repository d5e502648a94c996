//! ECS documents through the HTTP sink into a receiver that, like an
//! Elasticsearch `logs-*` data stream, refuses every document without
//! `@timestamp`: each ECS event of the shipped captures is taken, and the
//! same events as EVE are all refused (so the receiver's check is real).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a test fails by panicking"
)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

use common::{fixture, lines, medtap};
use serde_json::{Value, json};

/// Documents taken and refused, over every request.
#[derive(Default)]
struct Tally {
    taken: Vec<Value>,
    refused: usize,
}

/// A `_bulk` endpoint on loopback: action and document line pairs; a
/// document without `@timestamp` is an item error, as a data stream answers.
fn start_bulk_receiver() -> (String, Arc<Mutex<Tally>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let shared = Arc::clone(&tally);
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let shared = Arc::clone(&shared);
            thread::spawn(move || serve(stream, &shared));
        }
    });
    (url, tally)
}

fn serve(stream: TcpStream, tally: &Mutex<Tally>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut writer = stream;
    loop {
        let mut head = Vec::new();
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) if line == "\r\n" => break,
                Ok(_) => head.push(line.trim_end().to_ascii_lowercase()),
            }
        }
        let header = |name: &str| {
            head.iter().find_map(|h| {
                h.strip_prefix(&format!("{name}:"))
                    .map(|v| v.trim().to_owned())
            })
        };
        let body = if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            read_chunked(&mut reader)
        } else {
            let length: usize = header("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
            body
        };
        let text = String::from_utf8(body).expect("UTF-8 body");
        let docs: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
        let mut items = Vec::new();
        let mut errors = false;
        for pair in docs.chunks(2) {
            let doc: Value = pair
                .get(1)
                .and_then(|d| serde_json::from_str(d).ok())
                .unwrap_or(Value::Null);
            let mut tally = tally.lock().expect("tally");
            if doc.get("@timestamp").is_some_and(Value::is_string) {
                tally.taken.push(doc);
                items.push(json!({"create": {"status": 201, "result": "created"}}));
            } else {
                tally.refused += 1;
                errors = true;
                items.push(json!({"create": {"status": 400, "error": {
                    "type": "document_parsing_exception",
                    "reason": "data stream timestamp field [@timestamp] is missing"}}}));
            }
        }
        let reply = json!({"took": 1, "errors": errors, "items": items}).to_string();
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{reply}",
            reply.len()
        );
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

fn read_chunked<R: BufRead>(reader: &mut R) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        if reader.read_line(&mut size).unwrap_or(0) == 0 {
            return body;
        }
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        let mut chunk = vec![0; size + 2];
        if reader.read_exact(&mut chunk).is_err() || size == 0 {
            return body;
        }
        chunk.truncate(size);
        body.extend(chunk);
    }
}

/// Replays the shipped captures to the receiver in `format`, with the EVE
/// events also written to a file; the run's exit code and its EVE events.
fn replay_to(url: &str, format: &str, spool: &std::path::Path) -> (Option<i32>, Vec<Value>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let eve = dir.path().join("eve.json");
    let mut cmd = medtap();
    for capture in [
        "ward.pcapng",
        "scenarios/benign_ward.pcapng",
        "sidedoor/sidedoor.pcap",
    ] {
        cmd.arg("-r").arg(fixture(capture));
    }
    let out = cmd
        .args(["--log-protocols", "--learn", "10s", "-q"])
        .arg("-o")
        .arg(format!("{url}/_bulk?api=bulk&format={format}"))
        .arg("-o")
        .arg(&eve)
        .arg("--spool")
        .arg(spool)
        .output()
        .expect("medtap runs");
    let events = lines(&std::fs::read(&eve).expect("EVE file"));
    (out.status.code(), events)
}

#[test]
fn every_ecs_event_is_taken_by_a_receiver_that_requires_timestamp() {
    let spool = tempfile::tempdir().expect("spool");
    let (url, tally) = start_bulk_receiver();
    let (code, events) = replay_to(&url, "ecs", spool.path());
    assert_eq!(code, Some(0), "every event delivered");
    let tally = tally.lock().expect("tally");
    assert_eq!(tally.refused, 0);
    assert!(events.len() > 500, "{} events", events.len());
    assert_eq!(tally.taken.len(), events.len(), "the final stats too");
    let ids: std::collections::BTreeSet<&str> = tally
        .taken
        .iter()
        .filter_map(|d| d.pointer("/event/id").and_then(Value::as_str))
        .collect();
    assert_eq!(
        ids.len(),
        tally.taken.len(),
        "each document carries its event id"
    );
    for (doc, eve) in tally.taken.iter().zip(&events) {
        assert_eq!(doc["event"]["id"], eve["event_id"]);
    }
}

#[test]
fn the_same_events_as_eve_are_refused_and_the_replay_says_so() {
    let spool = tempfile::tempdir().expect("spool");
    let (url, tally) = start_bulk_receiver();
    let (code, events) = replay_to(&url, "eve", spool.path());
    assert_eq!(code, Some(3), "refused events make a replay exit 3");
    let tally = tally.lock().expect("tally");
    assert!(tally.taken.is_empty());
    assert_eq!(tally.refused, events.len());
}
