//! The Redis sink against a real `redis-server`, started by each test on a
//! free port of 127.0.0.1 and killed at its end. What the sink stored is read
//! back with `LRANGE` / `XRANGE` over a separate connection (and once with
//! `redis-cli`, which shares no code with the sink).
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
use std::process::Command;

use medtap::output::redis::{MAX_EVENTS_PER_COMMAND, Reply, from_url};
use medtap::output::remote::{EventSink, SinkError};
use serde_json::json;

/// The entries of the stream at `key`, in order, each as its field/value pairs.
fn stream(server: &Server, key: &str) -> Vec<Vec<(Vec<u8>, Vec<u8>)>> {
    let bulk = |r: Reply| match r {
        Reply::Bulk(Some(bytes)) => bytes,
        other => panic!("expected a bulk string, got {other:?}"),
    };
    match server.command(&[b"XRANGE", key.as_bytes(), b"-", b"+"]) {
        Reply::Array(Some(entries)) => entries
            .into_iter()
            .map(|entry| match entry {
                Reply::Array(Some(parts)) => {
                    let mut parts = parts.into_iter();
                    let _id = bulk(parts.next().expect("entry id"));
                    match parts.next() {
                        Some(Reply::Array(Some(fields))) => fields
                            .chunks(2)
                            .map(|pair| (bulk(pair[0].clone()), bulk(pair[1].clone())))
                            .collect(),
                        other => panic!("entry fields {other:?}"),
                    }
                }
                other => panic!("stream entry {other:?}"),
            })
            .collect(),
        other => panic!("XRANGE {key}: {other:?}"),
    }
}

/// `total_connections_received` from `INFO stats`, counting this query's own.
fn connections_received(server: &Server) -> u64 {
    let Reply::Bulk(Some(info)) = server.command(&[b"INFO", b"stats"]) else {
        panic!("INFO stats");
    };
    String::from_utf8_lossy(&info)
        .lines()
        .find_map(|l| l.strip_prefix("total_connections_received:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("total_connections_received in INFO stats")
}

/// Events as medtap writes them: one JSON object each, no newline, some
/// with non-ASCII text and with CR LF inside strings (escaped by JSON).
fn events(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let value = match i % 3 {
                0 => json!({"event_type": "device", "seq": i, "device": {"id": format!("ip:10.0.0.{}", i % 250)}}),
                1 => json!({"event_type": "hl7", "seq": i, "hl7": {"sending_facility": "Kardiologie Größe ✓ 🩺 病院"}}),
                _ => json!({"event_type": "dicom", "seq": i, "note": "line one\r\nline two\r\n", "ae": "CT\u{0}01"}),
            };
            serde_json::to_vec(&value).expect("serialise")
        })
        .collect()
}

fn deliver(sink: &mut Box<dyn EventSink>, events: &[Vec<u8>]) -> Result<(), SinkError> {
    let slices: Vec<&[u8]> = events.iter().map(Vec::as_slice).collect();
    sink.deliver(&slices)
}

#[test]
fn rpush_stores_every_event_intact_and_in_order() {
    let server = Server::start();
    let mut sink = from_url(&server.url("eve", "")).expect("url");
    assert_eq!(
        sink.name(),
        format!("redis://127.0.0.1:{}/eve", server.port)
    );
    let batch1 = events(5);
    let batch2 = events(3);
    deliver(&mut sink, &batch1).expect("first batch");
    deliver(&mut sink, &batch2).expect("second batch");
    let stored = list(&server, "eve");
    let sent: Vec<Vec<u8>> = batch1.into_iter().chain(batch2).collect();
    assert_eq!(stored, sent);
    // Escaped in JSON, so no raw CR or LF reaches Redis; the text round-trips.
    let value: serde_json::Value = serde_json::from_slice(&stored[2]).expect("JSON");
    assert_eq!(value["note"], "line one\r\nline two\r\n");
    let value: serde_json::Value = serde_json::from_slice(&stored[1]).expect("JSON");
    assert_eq!(
        value["hl7"]["sending_facility"],
        "Kardiologie Größe ✓ 🩺 病院"
    );
}

#[test]
fn rpush_with_mode_named_is_the_default() {
    let server = Server::start();
    let mut sink = from_url(&server.url("eve", "?mode=rpush")).expect("url");
    let batch = events(2);
    deliver(&mut sink, &batch).expect("deliver");
    assert_eq!(list(&server, "eve"), batch);
}

#[test]
fn a_batch_larger_than_one_command_is_stored_whole_and_in_order() {
    let server = Server::start();
    let mut sink = from_url(&server.url("big", "")).expect("url");
    let batch = events(2 * MAX_EVENTS_PER_COMMAND + 7);
    deliver(&mut sink, &batch).expect("deliver");
    assert_eq!(list(&server, "big"), batch);
}

#[test]
fn an_empty_batch_sends_nothing() {
    let server = Server::start();
    let mut sink = from_url(&server.url("eve", "")).expect("url");
    deliver(&mut sink, &[]).expect("deliver");
    assert_eq!(server.command(&[b"EXISTS", b"eve"]), Reply::Integer(0));
}

#[test]
fn xadd_stores_each_event_as_the_field_event_in_order() {
    let server = Server::start();
    let mut sink = from_url(&server.url("eve:stream", "?mode=xadd")).expect("url");
    let batch1 = events(MAX_EVENTS_PER_COMMAND + 5);
    let batch2 = events(4);
    deliver(&mut sink, &batch1).expect("first batch");
    deliver(&mut sink, &batch2).expect("second batch");
    let stored = stream(&server, "eve:stream");
    let sent: Vec<Vec<u8>> = batch1.into_iter().chain(batch2).collect();
    assert_eq!(stored.len(), sent.len());
    for (entry, event) in stored.iter().zip(&sent) {
        assert_eq!(entry, &vec![(b"event".to_vec(), event.clone())]);
    }
}

#[test]
fn xadd_with_maxlen_trims_the_stream() {
    let server = Server::start();
    let mut sink = from_url(&server.url("trimmed", "?mode=xadd&maxlen=10")).expect("url");
    let batch = events(500);
    deliver(&mut sink, &batch).expect("deliver");
    let stored = stream(&server, "trimmed");
    // `~` lets Redis trim by whole nodes: at least 10 are kept, far fewer
    // than were sent, and what is kept is the newest, in order.
    assert!(
        stored.len() >= 10 && stored.len() < batch.len(),
        "{} entries kept",
        stored.len()
    );
    let newest = &batch[batch.len() - stored.len()..];
    for (entry, event) in stored.iter().zip(newest) {
        assert_eq!(entry, &vec![(b"event".to_vec(), event.clone())]);
    }
}

#[test]
fn redis_cli_reads_back_what_the_sink_stored() {
    let server = Server::start();
    let mut sink = from_url(&server.url("cli", "")).expect("url");
    let batch = events(6);
    deliver(&mut sink, &batch).expect("deliver");
    let out = Command::new("redis-cli")
        .args([
            "-p",
            &server.port.to_string(),
            "--raw",
            "LRANGE",
            "cli",
            "0",
            "-1",
        ])
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run redis-cli ({e}): install it with scripts/setup.sh (redis-server)")
        });
    assert!(out.status.success(), "{out:?}");
    // --raw prints each element then a newline; events hold no raw newline.
    let mut expected = Vec::new();
    for event in &batch {
        expected.extend_from_slice(event);
        expected.push(b'\n');
    }
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&expected)
    );
}

#[test]
fn a_key_of_another_type_is_refused_and_the_connection_stays_usable() {
    let server = Server::start();
    assert_eq!(
        server.command(&[b"SET", b"taken", b"a string"]),
        Reply::Simple("OK".into())
    );
    for query in ["", "?mode=xadd"] {
        let mut sink = from_url(&server.url("taken", query)).expect("url");
        match deliver(&mut sink, &events(MAX_EVENTS_PER_COMMAND + 1)) {
            Err(SinkError::Refused { target, reason }) => {
                assert_eq!(target, sink.name());
                assert!(reason.starts_with("WRONGTYPE"), "{reason}");
            }
            other => panic!("{query}: expected Refused, got {other:?}"),
        }
        assert_eq!(
            server.command(&[b"DEL", b"taken"]),
            Reply::Integer(1),
            "{query}"
        );
        // Every reply was read, so the sink goes on over the same connection:
        // the only new one is our own INFO.
        let before = connections_received(&server);
        let batch = events(3);
        deliver(&mut sink, &batch).expect("deliver after the key is free");
        assert_eq!(connections_received(&server), before + 1, "{query}");
        let stored = if query.is_empty() {
            list(&server, "taken")
        } else {
            stream(&server, "taken")
                .into_iter()
                .map(|mut fields| fields.remove(0).1)
                .collect()
        };
        assert_eq!(stored, batch, "{query}");
        server.command(&[b"SET", b"taken", b"a string"]);
    }
}

#[test]
fn a_stopped_server_is_an_io_error_and_delivery_resumes_after_restart() {
    let server = Server::start();
    let mut sink = from_url(&server.url("eve", "")).expect("url");
    let before = events(3);
    deliver(&mut sink, &before).expect("deliver");
    assert_eq!(list(&server, "eve"), before);

    let port = server.stop();
    // The first call finds its connection broken, the second cannot connect.
    for attempt in 0..2 {
        match deliver(&mut sink, &events(2)) {
            Err(SinkError::Io { target, .. }) => assert_eq!(target, sink.name()),
            other => panic!("attempt {attempt}: expected Io, got {other:?}"),
        }
    }

    // The restarted server is empty (nothing is saved); the sink connects
    // again by itself.
    let server = Server::start_on(port).expect("restart on the same port");
    let after = events(4);
    deliver(&mut sink, &after).expect("deliver after restart");
    assert_eq!(list(&server, "eve"), after);
}

#[test]
fn a_server_that_is_down_at_the_first_delivery_is_an_io_error() {
    let port = free_port();
    let mut sink = from_url(&format!("redis://127.0.0.1:{port}/eve")).expect("url");
    match deliver(&mut sink, &events(1)) {
        Err(SinkError::Io { .. }) => {}
        other => panic!("expected Io, got {other:?}"),
    }
}

#[test]
fn a_bad_url_is_refused_before_any_connection() {
    match from_url("redis://127.0.0.1:6379/") {
        Err(SinkError::BadUrl { reason, .. }) => assert!(reason.contains("KEY"), "{reason}"),
        Err(other) => panic!("expected BadUrl, got {other:?}"),
        Ok(_) => panic!("expected BadUrl, got a sink"),
    }
}

#[test]
fn medtap_o_redis_delivers_a_replay_whole_and_in_order() {
    // The real binary, two sinks at once: the file is the reference.
    let server = Server::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("events.json");
    let capture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/ward.pcapng");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_medtap"))
        .arg("-r")
        .arg(&capture)
        .args(["--log-protocols", "-o"])
        .arg(format!("redis://127.0.0.1:{}/medtap", server.port))
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
    let expected: Vec<Vec<u8>> = std::fs::read(&file)
        .expect("file sink")
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    assert!(expected.len() > 20);
    assert_eq!(list(&server, "medtap"), expected);
    // The final stats event counts every event before it as delivered (it
    // cannot count itself: it is written after its counters are read).
    let last: serde_json::Value =
        serde_json::from_slice(expected.last().expect("a last line")).expect("JSON");
    assert_eq!(last["event_type"], "stats");
    let events: Vec<serde_json::Value> = expected
        .iter()
        .map(|line| serde_json::from_slice(line).expect("JSON"))
        .collect();
    common::assert_valid_events(&events);
    let sinks = last["stats"]["sinks"].as_array().expect("stats.sinks");
    assert_eq!(sinks.len(), 1, "{sinks:?}");
    let sink = &sinks[0];
    assert_eq!(
        sink["name"],
        format!("redis://127.0.0.1:{}/medtap", server.port)
    );
    assert!(
        sink["delivered"].as_u64().expect("delivered") >= expected.len() as u64 - 1,
        "{sink} for {} lines",
        expected.len()
    );
    assert_eq!(sink["dropped"], 0);
    assert_eq!(sink["spooled"], 0);
    assert_eq!(sink["spool_bytes"], 0);
}

/// Replays `fixtures/ward.pcapng` to `url` and to a file; returns medtap's
/// output and the file's events (the reference).
fn replay_to(
    url: &str,
    dir: &std::path::Path,
    env: &[(&str, &str)],
) -> (std::process::Output, Vec<Vec<u8>>) {
    let file = dir.join("events.json");
    let capture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/ward.pcapng");
    let out = Command::new(env!("CARGO_BIN_EXE_medtap"))
        .arg("-r")
        .arg(&capture)
        .args(["--log-protocols", "-o", url, "-o"])
        .arg(&file)
        .arg("--spool")
        .arg(dir.join("spool"))
        .envs(env.iter().copied())
        .output()
        .expect("medtap runs");
    let events = std::fs::read(&file)
        .unwrap_or_default()
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    (out, events)
}

const PASSWORD: &str = "correct horse/battery@staple";
const ACL_USER: &str = "medtap-writer";
const ACL_PASSWORD: &str = "acl-pw-4b1e";

/// A server that wants `PASSWORD` for the default user, and knows the ACL
/// user `ACL_USER`, who may only `RPUSH`/`XADD` to keys `eve*`.
fn server_with_auth() -> Server {
    let acl_password = format!(">{ACL_PASSWORD}");
    let extra = [
        "--requirepass",
        PASSWORD,
        "--user",
        ACL_USER,
        "on",
        &acl_password,
        "~eve*",
        "-@all",
        "+rpush",
        "+xadd",
    ]
    .map(str::to_owned);
    Server::start_with(&extra, &[PASSWORD])
}

#[test]
fn a_password_in_the_url_authenticates_every_event_of_a_replay() {
    let server = server_with_auth();
    let dir = tempfile::tempdir().expect("tempdir");
    // The password %-encoded, as a URL must carry "/" and "@".
    let url = format!(
        "redis://:correct%20horse%2Fbattery%40staple@127.0.0.1:{}/medtap",
        server.port
    );
    let (out, expected) = replay_to(&url, dir.path(), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(expected.len() > 20);
    assert_eq!(list(&server, "medtap"), expected);
}

#[test]
fn an_acl_user_with_its_password_from_a_file_delivers_every_event() {
    let server = server_with_auth();
    let dir = tempfile::tempdir().expect("tempdir");
    let pw = dir.path().join("redis.pw");
    std::fs::write(&pw, format!("{ACL_PASSWORD}\n")).expect("password file");
    let url = format!(
        "redis://{ACL_USER}@127.0.0.1:{}/eve-acl?mode=xadd&password_file={}",
        server.port,
        pw.display()
    );
    let (out, expected) = replay_to(&url, dir.path(), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stored: Vec<Vec<u8>> = stream(&server, "eve-acl")
        .into_iter()
        .map(|fields| fields.into_iter().next().expect("one field").1)
        .collect();
    assert_eq!(stored, expected);
}

#[test]
fn the_password_from_the_environment_authenticates() {
    let server = server_with_auth();
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("redis://127.0.0.1:{}/medtap", server.port);
    let (out, expected) = replay_to(&url, dir.path(), &[("MEDTAP_REDIS_PASSWORD", PASSWORD)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(list(&server, "medtap"), expected);
}

#[test]
fn a_wrong_password_is_one_clear_error_and_the_events_stay_spooled() {
    let server = server_with_auth();
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("redis://:not-the-password@127.0.0.1:{}/medtap", server.port);
    let (out, _) = replay_to(&url, dir.path(), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    // One line says it, naming the sink; the file sink went on meanwhile.
    let refusals: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("authentication refused: WRONGPASS"))
        .collect();
    assert_eq!(refusals.len(), 1, "{stderr}");
    assert!(
        refusals[0].contains(&format!(
            "cannot write to redis://127.0.0.1:{}/medtap",
            server.port
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("not-the-password"), "{stderr}");
    assert_eq!(list(&server, "medtap"), Vec::<Vec<u8>>::new());
    // Nothing lost: what the sink was given waits in its spool.
    let spooled: usize = walk_files(&dir.path().join("spool"))
        .iter()
        .map(|f| {
            std::fs::read(f)
                .expect("segment")
                .split(|b| *b == b'\n')
                .count()
        })
        .sum();
    assert!(spooled > 0, "nothing spooled");
}

#[test]
fn no_password_for_a_server_that_wants_one_is_an_auth_error() {
    let server = server_with_auth();
    let mut sink = from_url(&format!("redis://127.0.0.1:{}/k", server.port)).expect("sink");
    match deliver(&mut sink, &events(3)) {
        Err(SinkError::Auth { reason, .. }) => assert!(reason.starts_with("NOAUTH"), "{reason}"),
        other => panic!("expected Auth, got {other:?}"),
    }
}

#[test]
fn a_missing_password_file_is_refused_at_start_naming_the_file() {
    let out = Command::new(env!("CARGO_BIN_EXE_medtap"))
        .arg("-r")
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/ward.pcapng"))
        .args(["-o", "redis://127.0.0.1:1/k?password_file=/nonexistent/pw"])
        .output()
        .expect("medtap runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot read password file /nonexistent/pw"),
        "{stderr}"
    );
}

fn walk_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk_files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn rediss_with_a_private_ca_receives_every_event_of_a_replay() {
    // The Debian redis-server is built with TLS (it links libssl): it serves
    // TLS on --tls-port and plain TCP on --port, which the test reads from.
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = common::tools::make_test_certs(dir.path());
    let tls_port = free_port();
    let extra = [
        "--tls-port".to_owned(),
        tls_port.to_string(),
        "--tls-cert-file".to_owned(),
        certs.cert.display().to_string(),
        "--tls-key-file".to_owned(),
        certs.key.display().to_string(),
        "--tls-ca-cert-file".to_owned(),
        certs.ca.display().to_string(),
        "--tls-auth-clients".to_owned(),
        "no".to_owned(),
        "--requirepass".to_owned(),
        PASSWORD.to_owned(),
    ];
    let server = Server::start_with(&extra, &[PASSWORD]);
    let pw = dir.path().join("redis.pw");
    std::fs::write(&pw, PASSWORD).expect("password file");
    let url = format!(
        "rediss://127.0.0.1:{tls_port}/medtap?password_file={}&ca={}",
        pw.display(),
        certs.ca.display()
    );
    let (out, expected) = replay_to(&url, dir.path(), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(expected.len() > 20);
    assert_eq!(list(&server, "medtap"), expected);
}

#[test]
fn rediss_refuses_a_server_outside_the_trusted_roots() {
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = common::tools::make_test_certs(dir.path());
    let tls_port = free_port();
    let extra = [
        "--tls-port".to_owned(),
        tls_port.to_string(),
        "--tls-cert-file".to_owned(),
        certs.cert.display().to_string(),
        "--tls-key-file".to_owned(),
        certs.key.display().to_string(),
        "--tls-ca-cert-file".to_owned(),
        certs.ca.display().to_string(),
        "--tls-auth-clients".to_owned(),
        "no".to_owned(),
    ];
    let _server = Server::start_with(&extra, &[]);
    // The Mozilla roots do not know the test CA.
    let mut sink = from_url(&format!("rediss://127.0.0.1:{tls_port}/k")).expect("sink");
    match deliver(&mut sink, &events(1)) {
        Err(SinkError::Io { source, .. }) => {
            assert!(source.to_string().contains("certificate"), "{source}");
        }
        other => panic!("expected an I/O error, got {other:?}"),
    }
}
