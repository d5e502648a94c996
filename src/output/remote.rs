//! The seam for sinks that deliver events over the network (syslog, HTTP,
//! Redis): each is an [`EventSink`] built from its `-o` URL, driven by its own
//! thread, one call per batch of events in order; what cannot be delivered
//! yet waits in the sink's disk spool ([`super::spool`]).

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, TryRecvError, bounded};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};
use thiserror::Error;

use super::spool::{SinkCounters, Spool, SpoolConfig};
use super::{OutputError, SINK_QUEUE_CHUNKS, SinkHandle};

/// Wait before the first retry after a failed delivery; doubled after each
/// failed attempt, up to [`MAX_RETRY_DELAY`].
pub const FIRST_RETRY_DELAY: Duration = Duration::from_millis(250);
/// The longest wait between two delivery attempts.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(30);

/// Why a remote sink could not deliver.
#[derive(Debug, Error)]
pub enum SinkError {
    /// The `-o` URL is not one this sink understands.
    #[error("bad output URL {url}: {reason}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The receiver could not be reached, or the connection broke.
    #[error("{target}: {source}")]
    Io {
        /// The receiver.
        target: String,
        /// Why.
        source: io::Error,
    },
    /// The receiver answered, and refused.
    #[error("{target}: {reason}")]
    Refused {
        /// The receiver.
        target: String,
        /// Its answer.
        reason: String,
    },
}

/// A sink that delivers events to a receiver over the network.
pub trait EventSink: Send {
    /// The receiver, for logs and errors (never with credentials).
    fn name(&self) -> &str;

    /// Delivers `events` in order: each is one event as a JSON object, without
    /// a newline. Returns once the receiver has them (as far as its protocol
    /// tells), or with the error that stopped delivery.
    fn deliver(&mut self, events: &[&[u8]]) -> Result<(), SinkError>;
}

/// Builds the sink an `-o` URL names.
pub fn open(url: &str) -> Result<Box<dyn EventSink>, SinkError> {
    let scheme = url.split_once("://").map(|(s, _)| s).unwrap_or_default();
    match scheme {
        "syslog+udp" | "syslog+tcp" | "syslog+tls" => super::syslog::from_url(url),
        "redis" => super::redis::from_url(url),
        "http" | "https" => super::http::from_url(url),
        _ => Err(SinkError::BadUrl {
            url: redacted(url),
            reason: format!(
                "unknown scheme {scheme:?} (syslog+udp, syslog+tcp, syslog+tls, redis)"
            ),
        }),
    }
}

/// The host and the port text of a URL's authority (`host`, `host:port`,
/// `[v6]`, `[v6]:port`); the reason when it is malformed.
pub(super) fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), &'static str> {
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').ok_or("unclosed [ in host")?;
        match after {
            "" => (host, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return Err("expected :PORT after ]"),
            },
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("no host");
    }
    Ok((host, port))
}

/// `url` without any user information (`user:password@`), for logs.
pub fn redacted(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split_once('@').map_or(rest, |(_, host)| host);
            format!("{scheme}://{host}")
        }
        None => url.to_owned(),
    }
}

/// Backoff between delivery attempts while the receiver is down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// See [`FIRST_RETRY_DELAY`].
    pub first: Duration,
    /// See [`MAX_RETRY_DELAY`].
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            first: FIRST_RETRY_DELAY,
            max: MAX_RETRY_DELAY,
        }
    }
}

/// A network sink running on its own thread, with its spool.
pub struct RemoteSink {
    handle: SinkHandle,
    counters: Arc<SinkCounters>,
    spool_dir: std::path::PathBuf,
}

impl RemoteSink {
    /// This sink's counters.
    pub fn counters(&self) -> &Arc<SinkCounters> {
        &self.counters
    }

    /// This sink's own spool directory.
    pub fn spool_dir(&self) -> &std::path::Path {
        &self.spool_dir
    }

    /// Queues a chunk of JSON lines (each ending in a newline); waits while
    /// the queue is full. False if the sink's thread has ended.
    pub fn send(&self, chunk: &[u8]) -> bool {
        self.handle
            .tx
            .as_ref()
            .is_some_and(|tx| tx.send(Arc::from(chunk)).is_ok())
    }

    /// Closes the queue and waits for the thread: it tries once more to
    /// deliver what is spooled, then leaves the rest on disk.
    pub fn close(mut self) -> Result<(), OutputError> {
        self.handle.tx = None;
        match self.handle.thread.take() {
            Some(thread) => thread
                .join()
                .unwrap_or_else(|_| Err(OutputError::Panicked(self.handle.name.clone()))),
            None => Ok(()),
        }
    }

    pub(super) fn into_handle(self) -> SinkHandle {
        self.handle
    }
}

/// Starts the thread that feeds `sink`, spooling to disk what it cannot
/// deliver (see [`super::spool`]).
///
/// While the spool is empty, each chunk from the queue is delivered as it
/// comes. When a delivery fails, the chunk's events go to the spool, and so
/// does every chunk after them while anything is spooled, so order is kept
/// and the queue never stops moving. Delivery from the spool, oldest first,
/// is retried with exponential backoff (from `backoff.first`, doubling, at
/// most `backoff.max`). A spool left by an earlier run is delivered before
/// anything new. When the queue closes, the thread tries once more to
/// deliver the spool, then flushes what remains to disk and returns.
pub fn spawn(
    sink: Box<dyn EventSink>,
    spool: &SpoolConfig,
    backoff: Backoff,
) -> Result<RemoteSink, OutputError> {
    let name = sink.name().to_owned();
    let counters = Arc::new(SinkCounters::default());
    let spool =
        Spool::open(spool, &name, Arc::clone(&counters)).map_err(|source| OutputError::Open {
            target: format!("{name} (spool)"),
            source,
        })?;
    let spool_dir = spool.dir().to_owned();
    let (tx, rx) = bounded::<Arc<[u8]>>(SINK_QUEUE_CHUNKS);
    let thread = thread::Builder::new()
        .name("medtap-sink".into())
        .spawn(move || run(sink, spool, rx, backoff))
        .map_err(|source| OutputError::Open {
            target: name.clone(),
            source,
        })?;
    Ok(RemoteSink {
        handle: SinkHandle::new(name, tx, thread),
        counters,
        spool_dir,
    })
}

fn lines(chunk: &[u8]) -> Vec<&[u8]> {
    chunk
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .collect()
}

/// Spools a chunk; what the spool cannot take is counted and logged there.
fn spool_chunk(spool: &mut Spool, chunk: &[u8]) {
    spool.append(&lines(chunk));
}

/// The sink thread.
fn run(
    mut sink: Box<dyn EventSink>,
    mut spool: Spool,
    rx: Receiver<Arc<[u8]>>,
    backoff: Backoff,
) -> Result<(), OutputError> {
    let name = sink.name().to_owned();
    let counters = Arc::clone(spool.counters());
    let mut delay = backoff.first;
    // When to try the spool next; now, for a spool left by an earlier run.
    let mut next_attempt = Instant::now();
    let mut closed = false;
    while !closed {
        if spool.is_empty() {
            let Ok(chunk) = rx.recv() else { break };
            let events = lines(&chunk);
            if events.is_empty() {
                continue;
            }
            match deliver_or_refuse(sink.as_mut(), &events, &counters, &name) {
                Ok(()) => {
                    counters
                        .delivered
                        .fetch_add(events.len() as u64, Ordering::Relaxed);
                    delay = backoff.first;
                }
                Err(e) => {
                    tracing::warn!(sink = %name, events = events.len(), retry_in = ?delay, "delivery failed, spooling: {e}");
                    spool_chunk(&mut spool, &chunk);
                    next_attempt = Instant::now() + delay;
                }
            }
            continue;
        }
        let now = Instant::now();
        if now < next_attempt {
            match rx.recv_timeout(next_attempt - now) {
                Ok(chunk) => spool_chunk(&mut spool, &chunk),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => closed = true,
            }
            continue;
        }
        let result = spool.drain(
            |events| deliver_or_refuse(sink.as_mut(), events, &counters, &name),
            |spool| {
                // Take in what has queued meanwhile, behind the spool.
                loop {
                    match rx.try_recv() {
                        Ok(chunk) => spool_chunk(spool, &chunk),
                        Err(TryRecvError::Empty) => break,
                        Err(TryRecvError::Disconnected) => {
                            closed = true;
                            break;
                        }
                    }
                }
            },
        );
        match result {
            Ok(()) => {
                tracing::info!(sink = %name, "spool delivered");
                delay = backoff.first;
            }
            Err(e) => {
                delay = delay.saturating_mul(2).min(backoff.max);
                tracing::warn!(sink = %name, spooled_bytes = counters.spool_bytes.load(Ordering::Relaxed), retry_in = ?delay, "delivery from the spool failed: {e}");
                next_attempt = Instant::now() + delay;
            }
        }
    }
    // The queue is closed: take what is left in it, try once more, keep the rest.
    for chunk in rx.try_iter() {
        spool_chunk(&mut spool, &chunk);
    }
    if !spool.is_empty()
        && let Err(e) = spool.drain(
            |events| deliver_or_refuse(sink.as_mut(), events, &counters, &name),
            |_| {},
        )
    {
        tracing::warn!(sink = %name, spooled_bytes = counters.spool_bytes.load(Ordering::Relaxed), spool = %spool.dir().display(), "receiver unreachable at shutdown; events stay in the spool for the next run: {e}");
    }
    spool.sync().map_err(|source| OutputError::Write {
        target: format!("{name} (spool)"),
        source,
        logged: false,
    })?;
    if spool.is_empty() {
        // Nothing left: do not leave an empty directory behind (fails, and
        // is left, if anything else is in it, such as a damaged segment).
        let _ = std::fs::remove_dir(spool.dir());
    }
    Ok(())
}

/// Delivers `events`; a batch the receiver refuses (it answered, and said
/// no: a wrong key type, a 400, a rejected `_bulk` item) is given up and
/// counted as dropped rather than retried, since retrying cannot change the
/// answer and would hold back everything behind it.
fn deliver_or_refuse(
    sink: &mut dyn EventSink,
    events: &[&[u8]],
    counters: &SinkCounters,
    name: &str,
) -> Result<(), SinkError> {
    match sink.deliver(events) {
        Err(SinkError::Refused { reason, .. }) => {
            counters
                .dropped
                .fetch_add(events.len() as u64, Ordering::Relaxed);
            tracing::error!(sink = %name, events = events.len(), "receiver refused the events, dropped: {reason}");
            Ok(())
        }
        other => other,
    }
}

/// The TLS client configuration of the syslog and HTTPS sinks: the CA file's certificates, or the Mozilla
/// roots; TLS 1.2 and 1.3 with the ring provider's safe defaults.
pub(super) fn tls_config(ca: Option<&Path>) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    match ca {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("cannot read CA file {}: {e}", path.display()))?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(format!(
                    "no usable certificate in CA file {}",
                    path.display()
                ));
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(Arc::new(config))
}
