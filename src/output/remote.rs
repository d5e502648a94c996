//! The seam for sinks that deliver events over the network (syslog, HTTP,
//! Redis): each is an [`EventSink`] built from its `-o` URL, driven by its own
//! thread, one call per batch of events in order; what cannot be delivered
//! yet waits in the sink's disk spool ([`super::spool`]).

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, TryRecvError, bounded};

// Kept here too, where the sinks are built and driven.
use super::encode::{Chunk, Outgoing};
pub use super::sink::{EventSink, SinkError};
use super::spool::{SinkCounters, Spool, SpoolConfig};
use super::target::SinkUrl;
use super::{OutputError, SINK_QUEUE_CHUNKS, SinkHandle};

/// Wait before the first retry after a failed delivery; doubled after each
/// failed attempt, up to [`MAX_RETRY_DELAY`].
pub const FIRST_RETRY_DELAY: Duration = Duration::from_millis(250);
/// The longest wait between two delivery attempts.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(30);

/// Builds the sink an `-o` URL names. Secret files named in it are read
/// now; nothing is resolved or connected.
pub fn open(url: &str) -> Result<Box<dyn EventSink>, SinkError> {
    let target = SinkUrl::parse(url)?;
    match target.scheme() {
        "syslog+udp" | "syslog+tcp" | "syslog+tls" => super::syslog::from_target(target),
        "redis" | "rediss" => super::redis::from_target(target),
        "http" | "https" => super::http::from_target(target),
        scheme => Err(target
            .error(format!(
                "unknown scheme {scheme:?} (syslog+udp, syslog+tcp, syslog+tls, redis, rediss, \
                 http, https)"
            ))
            .into()),
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
            .is_some_and(|tx| tx.send(Arc::new(Chunk::lines_only(chunk))).is_ok())
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

/// What a sink's thread calls when its sink has met an error it cannot get
/// past (refused credentials): given the sink's name and the error, it
/// returns the error the thread ends with (see [`super::Outputs`], which
/// tells the other sinks, or stops the run when none is left).
pub type FatalHook = Box<dyn FnOnce(&str, io::Error) -> OutputError + Send>;

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
///
/// Refused credentials ([`SinkError::Auth`]) end the thread at once: the
/// batch and what is queued go to the spool, the spool is flushed, and the
/// thread returns the error (through `fatal`, when given).
pub fn spawn(
    sink: Box<dyn EventSink>,
    spool: &SpoolConfig,
    backoff: Backoff,
) -> Result<RemoteSink, OutputError> {
    spawn_with(sink, spool, backoff, None)
}

/// [`spawn`], with what to do when the sink cannot go on.
pub fn spawn_with(
    sink: Box<dyn EventSink>,
    spool: &SpoolConfig,
    backoff: Backoff,
    fatal: Option<FatalHook>,
) -> Result<RemoteSink, OutputError> {
    let name = sink.name().to_owned();
    let counters = Arc::new(SinkCounters::default());
    let spool =
        Spool::open(spool, &name, Arc::clone(&counters)).map_err(|source| OutputError::Open {
            target: format!("{name} (spool)"),
            source,
        })?;
    let spool_dir = spool.dir().to_owned();
    let (tx, rx) = bounded::<Arc<Chunk>>(SINK_QUEUE_CHUNKS);
    let thread_name = name.clone();
    let thread = thread::Builder::new()
        .name("medtap-sink".into())
        .spawn(move || {
            let name = thread_name;
            let mut spool = spool;
            let ended = run(sink, &mut spool, &rx, backoff);
            let synced = spool.sync().map_err(|source| OutputError::Write {
                target: format!("{name} (spool)"),
                source,
                logged: false,
            });
            match ended {
                Ok(()) => synced,
                Err(e) => {
                    // Keep what is still queued for the next run.
                    for chunk in rx.try_iter() {
                        spool_chunk(&mut spool, &chunk);
                    }
                    let _ = spool.sync();
                    let message = match &e {
                        SinkError::Auth { reason, .. } => {
                            format!("authentication refused: {reason}")
                        }
                        other => other.to_string(),
                    };
                    match fatal {
                        Some(fatal) => Err(fatal(
                            &name,
                            io::Error::new(io::ErrorKind::PermissionDenied, message),
                        )),
                        None => Err(OutputError::Remote(e)),
                    }
                }
            }
        })
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

/// Spools a chunk's events (without their heads, which are read back from
/// the JSON when they are delivered); what the spool cannot take is counted
/// and logged there.
fn spool_chunk(spool: &mut Spool, chunk: &Chunk) {
    let lines: Vec<&[u8]> = chunk.events().iter().map(|e| e.eve).collect();
    spool.append(&lines);
}

/// The sink thread's loop; `Err` only for an error the sink cannot get past
/// ([`SinkError::Auth`]), after spooling the batch it met it with.
fn run(
    mut sink: Box<dyn EventSink>,
    spool: &mut Spool,
    rx: &Receiver<Arc<Chunk>>,
    backoff: Backoff,
) -> Result<(), SinkError> {
    let name = sink.name().to_owned();
    let counters = Arc::clone(spool.counters());
    let mut delay = backoff.first;
    // When to try the spool next; now, for a spool left by an earlier run.
    let mut next_attempt = Instant::now();
    let mut closed = false;
    while !closed {
        if spool.is_empty() {
            let Ok(chunk) = rx.recv() else { break };
            let events = chunk.events();
            if events.is_empty() {
                continue;
            }
            match deliver_or_refuse(sink.as_mut(), &events, &counters, &name) {
                Ok(()) => delay = backoff.first,
                Err(e @ SinkError::Auth { .. }) => {
                    spool_chunk(spool, &chunk);
                    // Told once, by whoever ends the sink (see `spawn_with`).
                    tracing::debug!(sink = %name, events = events.len(), "receiver refused the credentials; the sink stops, its events stay in the spool: {e}");
                    return Err(e);
                }
                Err(e) => {
                    tracing::warn!(sink = %name, events = events.len(), retry_in = ?delay, "delivery failed, spooling: {e}");
                    spool_chunk(spool, &chunk);
                    next_attempt = Instant::now() + delay;
                }
            }
            continue;
        }
        let now = Instant::now();
        if now < next_attempt {
            match rx.recv_timeout(next_attempt - now) {
                Ok(chunk) => spool_chunk(spool, &chunk),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => closed = true,
            }
            continue;
        }
        let result = spool.drain(
            |events| deliver_bare(sink.as_mut(), events, &counters, &name),
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
            Err(e @ SinkError::Auth { .. }) => {
                tracing::debug!(sink = %name, "receiver refused the credentials; the sink stops, its events stay in the spool: {e}");
                return Err(e);
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
        spool_chunk(spool, &chunk);
    }
    if !spool.is_empty() {
        match spool.drain(
            |events| deliver_bare(sink.as_mut(), events, &counters, &name),
            |_| {},
        ) {
            Ok(()) => {}
            Err(e @ SinkError::Auth { .. }) => {
                tracing::debug!(sink = %name, "receiver refused the credentials; events stay in the spool: {e}");
                return Err(e);
            }
            Err(e) => {
                tracing::warn!(sink = %name, spooled_bytes = counters.spool_bytes.load(Ordering::Relaxed), spool = %spool.dir().display(), "receiver unreachable at shutdown; events stay in the spool for the next run: {e}");
            }
        }
    }
    if spool.is_empty() {
        // Nothing left: do not leave an empty directory behind (fails, and
        // is left, if anything else is in it, such as a damaged segment).
        let _ = std::fs::remove_dir(spool.dir());
    }
    Ok(())
}

/// [`deliver_or_refuse`] for events read back from the spool, without
/// their heads.
fn deliver_bare(
    sink: &mut dyn EventSink,
    events: &[&[u8]],
    counters: &SinkCounters,
    name: &str,
) -> Result<(), SinkError> {
    let events: Vec<Outgoing<'_>> = events.iter().map(|e| Outgoing::bare(e)).collect();
    deliver_or_refuse(sink, &events, counters, name)
}

/// Delivers `events` and counts what became of them: delivered, shortened
/// or left out for size ([`EventSink::take_tally`]), or dropped. A batch the
/// receiver refuses (it answered, and said no: a wrong key type, a 400, a
/// rejected `_bulk` item) is given up and counted as dropped rather than
/// retried, since retrying cannot change the answer and would hold back
/// everything behind it.
fn deliver_or_refuse(
    sink: &mut dyn EventSink,
    events: &[Outgoing<'_>],
    counters: &SinkCounters,
    name: &str,
) -> Result<(), SinkError> {
    match sink.deliver_events(events) {
        Ok(()) => {
            let tally = sink.take_tally();
            let sent = (events.len() as u64).saturating_sub(tally.oversized);
            counters.delivered.fetch_add(sent, Ordering::Relaxed);
            counters
                .shortened
                .fetch_add(tally.shortened, Ordering::Relaxed);
            counters
                .oversized
                .fetch_add(tally.oversized, Ordering::Relaxed);
            Ok(())
        }
        Err(SinkError::Refused { reason, .. }) => {
            let _ = sink.take_tally();
            counters
                .dropped
                .fetch_add(events.len() as u64, Ordering::Relaxed);
            tracing::error!(sink = %name, events = events.len(), "receiver refused the events, dropped: {reason}");
            Ok(())
        }
        Err(e) => {
            let _ = sink.take_tally();
            Err(e)
        }
    }
}
