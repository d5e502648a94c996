//! Output: event sinks and the device inventory file.
//!
//! Each sink has its own thread and a bounded queue of serialised chunks, so
//! a slow sink holds up only its own queue. The merge stage serialises every
//! event once and hands the same bytes to every sink, in chunks (one per
//! merge step, not per event).
//!
//! Sinks here are the local ones: standard output and files. A file is opened
//! for appending, as SIEM shippers expect of an EVE-style log, and written
//! through whenever its queue runs dry. A closed pipe
//! on standard output (`medtap -r big.pcap | head`) is a normal end: the
//! capture is asked to stop and medtap exits cleanly.
//!
//! Files are reopened on request ([`request_reopen`], which SIGHUP calls), so
//! logrotate can rename a file and signal medtap: each file sink notices the
//! request before its next write, flushes what it holds to the old file and
//! goes on in a new one at the same path. Nothing is lost or written twice;
//! if the reopen fails, the sink logs why and keeps writing to the old file.
//!
//! A file or standard output that cannot be written (a full disk, a
//! permission taken away) ends its sink: nothing more goes to it. While
//! other sinks can still take events, the failure is logged at once as an
//! error and the run goes on with them; when it was the last, the capture is
//! asked to stop, so medtap ends within seconds — the failure its one error
//! line, the exit status 1 — rather than read on with nowhere to write. A
//! network sink does not fail this way: what it cannot deliver it spools
//! ([`remote`]).
//!
//! The inventory is replaced through a temporary file, and only ever as a
//! regular file ([`files`]); one that cannot be written also stops the run.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::thread::{self, JoinHandle};

use crossbeam_channel::{Sender, bounded};
use serde::Serialize;
use thiserror::Error;

pub mod csv;
pub mod encode;
pub mod format;
pub mod http;
pub mod metrics;
pub mod net;
pub mod redis;
pub mod remote;
pub mod secret;
pub mod sink;
pub mod spool;
pub mod syslog;
pub mod target;

use crate::device::{DeviceRecord, DeviceTable};
use crate::event::{Body, Event, OutputFailure, SinkStats, Warning, WarningKind};
use crate::time::Timestamp;
use encode::{Chunk, EventHead};

// Kept under its old path for the sinks and their callers; the module itself
// is a leaf, so the baseline keeps its state file without importing output.
pub use crate::files;

/// Chunks queued to one sink at most before the merge stage waits.
pub const SINK_QUEUE_CHUNKS: usize = 256;
/// Serialised bytes the merge stage gathers before handing them on.
pub const CHUNK_BYTES: usize = 64 * 1024;

/// Bumped by each request to reopen the output files; a process-wide
/// counter, as the signal that asks for it is process-wide.
static REOPEN_GENERATION: AtomicU64 = AtomicU64::new(0);

/// Asks every file sink to reopen its file (append) before its next write.
pub fn request_reopen() {
    REOPEN_GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// The stop flag of the run whose outputs are open, for failures outside a
/// sink's thread (the inventory, the merge stage) that must end the run as
/// well.
static RUN_STOP: Mutex<Option<Arc<AtomicBool>>> = Mutex::new(None);

/// Asks the capture to stop, so that the run ends and reports its error.
pub(crate) fn stop_run() {
    let slot = RUN_STOP.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(stop) = slot.as_ref() {
        stop.store(true, Ordering::Relaxed);
    }
}

/// The sinks that can still take events.
struct Liveness {
    /// Sinks whose thread has not failed.
    alive: AtomicUsize,
    /// Set when none is left, to end the run.
    stop: Arc<AtomicBool>,
    /// Failures not yet told to the other sinks: sink, error, sinks left.
    untold: Mutex<Vec<(String, String, usize)>>,
}

impl Liveness {
    /// A sink could not write: its error, logged at once when other sinks
    /// go on; when it was the last, the run is stopped and the error left
    /// for the exit line.
    fn failed(&self, target: &str, source: io::Error) -> OutputError {
        let left = self.alive.fetch_sub(1, Ordering::SeqCst).saturating_sub(1);
        let logged = if left == 0 {
            self.stop.store(true, Ordering::Relaxed);
            false
        } else {
            if let Ok(mut untold) = self.untold.lock() {
                untold.push((target.to_owned(), source.to_string(), left));
            }
            let logged = tracing::enabled!(tracing::Level::ERROR);
            tracing::error!(
                sink = %target,
                outputs_left = left,
                "cannot write to {target}, events go on to the other outputs only: {source}"
            );
            logged
        };
        OutputError::Write {
            target: target.to_owned(),
            source,
            logged,
        }
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// Why output failed.
#[derive(Debug, Error)]
pub enum OutputError {
    /// A sink could not be opened.
    #[error("cannot open output {target}: {source}")]
    Open {
        /// The sink.
        target: String,
        /// Why.
        source: io::Error,
    },
    /// A sink failed while writing.
    #[error("cannot write to {target}: {source}")]
    Write {
        /// The sink.
        target: String,
        /// Why.
        source: io::Error,
        /// Whether it was logged when it happened (other sinks went on).
        logged: bool,
    },
    /// An event could not be serialised.
    #[error("cannot serialise event: {0}")]
    Serialize(#[from] serde_json::Error),
    /// The inventory could not be written.
    #[error("cannot write inventory {path}: {source}")]
    Inventory {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A sink thread panicked.
    #[error("output thread for {0} panicked")]
    Panicked(String),
    /// A network sink could not be set up, or gave up delivering.
    #[error(transparent)]
    Remote(#[from] remote::SinkError),
}

impl OutputError {
    /// Whether this error was logged when it happened, so that the line
    /// medtap exits with need not repeat it.
    pub fn was_logged(&self) -> bool {
        matches!(self, OutputError::Write { logged: true, .. })
    }
}

/// Where events go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkSpec {
    /// Standard output.
    Stdout,
    /// A file, appended to.
    File(PathBuf),
    /// A network receiver, by URL (`syslog+udp://…`, `redis://…`).
    Remote(String),
    /// A file (`file:///PATH?…`) or standard output (`stdout:?…`) named by
    /// a URL, for its `format=` and `max_size=`.
    Local(String),
}

/// Where a [`SinkSpec::Local`] writes, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalTarget {
    /// The file; `None` for standard output.
    pub path: Option<PathBuf>,
    /// The format and largest event.
    pub encoder: encode::Encoder,
}

/// Parses `file:///PATH[?format=…][&max_size=N]` or
/// `stdout:[?format=…][&max_size=N]`. The path is %-decoded.
pub fn local_target(url: &str) -> Result<LocalTarget, target::UrlError> {
    use std::os::unix::ffi::OsStrExt;
    let parsed = target::SinkUrl::parse(url)?;
    let path = match parsed.scheme() {
        "stdout" => {
            if !parsed.host().is_empty() || !parsed.path().is_empty() {
                return Err(parsed.error("stdout: takes no host or path"));
            }
            None
        }
        "file" => {
            if !matches!(parsed.host(), "" | "localhost") {
                return Err(parsed.error("a file URL names a local file: file:///PATH"));
            }
            let bytes: Vec<u8> = percent_encoding::percent_decode_str(parsed.path()).collect();
            if bytes.is_empty() || bytes == b"/" {
                return Err(parsed.error("no file path"));
            }
            Some(PathBuf::from(std::ffi::OsStr::from_bytes(&bytes)))
        }
        _ => return Err(parsed.error("expected file:///PATH or stdout:")),
    };
    parsed.finish()?;
    Ok(LocalTarget {
        path,
        encoder: encode::Encoder::new(parsed.format(), parsed.max_size().unwrap_or(usize::MAX)),
    })
}

/// The first output that names the same target as an earlier one (the
/// same file, however written, URL or standard output): two sinks writing
/// one target would interleave or duplicate every event.
pub fn given_twice(outputs: &[String]) -> Option<String> {
    let file_key = |path: PathBuf| {
        // The directory resolved (`..`, links), the file as named: the
        // file itself need not exist yet.
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => std::path::Path::new("."),
        };
        match (std::fs::canonicalize(dir), path.file_name()) {
            (Ok(dir), Some(name)) => dir.join(name),
            _ => path.clone(),
        }
        .display()
        .to_string()
    };
    let target = |arg: &String| match SinkSpec::parse(arg) {
        SinkSpec::Local(url) => match local_target(&url) {
            Ok(LocalTarget {
                path: Some(path), ..
            }) => file_key(path),
            Ok(LocalTarget { path: None, .. }) => "-".to_owned(),
            Err(_) => url,
        },
        SinkSpec::File(path) => file_key(path),
        SinkSpec::Remote(url) => url,
        SinkSpec::Stdout => "-".to_owned(),
    };
    let mut seen = std::collections::HashSet::new();
    outputs
        .iter()
        .find(|arg| !seen.insert(target(arg)))
        .map(|arg| match SinkSpec::parse(arg) {
            SinkSpec::Remote(url) | SinkSpec::Local(url) => target::redact(&url),
            _ => arg.clone(),
        })
}

impl SinkSpec {
    /// Parses an `-o` argument: `-` is standard output, `file:…` and
    /// `stdout:…` a file or standard output named by a URL, `SCHEME://…` a
    /// network receiver, anything else a file.
    pub fn parse(arg: &str) -> SinkSpec {
        let lower = arg.get(..7).unwrap_or(arg).to_ascii_lowercase();
        if arg == "-" {
            SinkSpec::Stdout
        } else if lower.starts_with("file:") || lower.starts_with("stdout:") {
            SinkSpec::Local(arg.to_owned())
        } else if arg.contains("://") {
            SinkSpec::Remote(arg.to_owned())
        } else {
            SinkSpec::File(PathBuf::from(arg))
        }
    }

    fn name(&self) -> String {
        match self {
            SinkSpec::Stdout => "stdout".to_owned(),
            SinkSpec::File(path) => path.display().to_string(),
            SinkSpec::Remote(url) | SinkSpec::Local(url) => {
                target::SinkUrl::parse(url).map_or_else(|_| target::redact(url), |u| u.to_string())
            }
        }
    }
}

struct SinkHandle {
    name: String,
    tx: Option<Sender<Arc<Chunk>>>,
    thread: Option<JoinHandle<Result<(), OutputError>>>,
}

impl SinkHandle {
    /// A sink named `name`, fed through `tx`, run by `thread`.
    fn new(
        name: String,
        tx: Sender<Arc<Chunk>>,
        thread: JoinHandle<Result<(), OutputError>>,
    ) -> SinkHandle {
        SinkHandle {
            name,
            tx: Some(tx),
            thread: Some(thread),
        }
    }
}

/// Every configured sink.
pub struct Outputs {
    sinks: Vec<SinkHandle>,
    pending: Vec<u8>,
    /// The head of each event in `pending`, in order.
    pending_heads: Vec<EventHead>,
    /// Each network sink's name and counters, in `-o` order.
    remote_counters: Vec<(String, Arc<spool::SinkCounters>)>,
    /// Events emitted so far.
    emitted: u64,
    /// Where `stats` counters are published for `--metrics`, if anywhere.
    metrics: Option<metrics::MetricsText>,
    /// The output files and spool directories opened, for `--user`.
    handover: crate::service::Handover,
    /// Which sinks can still take events.
    liveness: Arc<Liveness>,
    /// The sensor's name, every event's `host`.
    sensor: &'static str,
}

impl Outputs {
    /// Opens every sink and starts its thread. `pipe_closed` and `stop` are
    /// set when standard output is closed by its reader. Network sinks spool
    /// to `spool` ([`spool::default_dir`] if `None`).
    pub fn open(
        specs: &[SinkSpec],
        spool: Option<&Path>,
        stop: Arc<AtomicBool>,
        pipe_closed: Arc<AtomicBool>,
    ) -> Result<Outputs, OutputError> {
        let mut sinks = Vec::with_capacity(specs.len());
        let mut remote_counters = Vec::new();
        let mut handover = crate::service::Handover::default();
        *RUN_STOP.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&stop));
        let liveness = Arc::new(Liveness {
            alive: AtomicUsize::new(specs.len()),
            stop: Arc::clone(&stop),
            untold: Mutex::new(Vec::new()),
        });
        // Every target is checked, and every network sink built, before any
        // file is created: a mistake in the last `-o` leaves nothing behind.
        let mut built = Vec::with_capacity(specs.len());
        for spec in specs {
            let path = match spec {
                SinkSpec::Remote(url) => {
                    built.push(Some(remote::open(url).map_err(OutputError::Remote)?));
                    continue;
                }
                SinkSpec::Stdout => None,
                SinkSpec::File(path) => Some(path.clone()),
                SinkSpec::Local(url) => {
                    local_target(url)
                        .map_err(|e| OutputError::Remote(remote::SinkError::from(e)))?
                        .path
                }
            };
            built.push(None);
            if let Some(path) = path {
                files::check_writable_target(&path).map_err(|source| OutputError::Open {
                    target: spec.name(),
                    source,
                })?;
            }
        }
        for (spec, sink) in specs.iter().zip(built) {
            let name = spec.name();
            if let (SinkSpec::Remote(_), Some(sink)) = (spec, sink) {
                let dir = spool.map_or_else(spool::default_dir, Path::to_owned);
                let config = spool::SpoolConfig::new(dir);
                // Refused credentials end the sink like a write error ends a
                // file's: told to the other sinks, or the run's end.
                let fatal_liveness = Arc::clone(&liveness);
                let fatal: remote::FatalHook = Box::new(move |name: &str, source: io::Error| {
                    fatal_liveness.failed(name, source)
                });
                let remote =
                    remote::spawn_with(sink, &config, remote::Backoff::default(), Some(fatal))?;
                remote_counters.push((name, Arc::clone(remote.counters())));
                handover.spools.push(remote.spool_dir().to_owned());
                sinks.push(remote.into_handle());
                continue;
            }
            let (path, encoder) = match spec {
                SinkSpec::Stdout => (None, None),
                SinkSpec::File(path) => (Some(path.clone()), None),
                SinkSpec::Local(url) => {
                    let local = local_target(url)
                        .map_err(|e| OutputError::Remote(remote::SinkError::from(e)))?;
                    (local.path, Some(local.encoder))
                }
                SinkSpec::Remote(_) => continue,
            };
            let writer: Box<dyn Write + Send> = match &path {
                None => Box::new(io::stdout()),
                Some(path) => Box::new(open_append(path).map_err(|source| OutputError::Open {
                    target: name.clone(),
                    source,
                })?),
            };
            // An EVE sink with no size limit writes the chunks as they come.
            let encoder = encoder.filter(|e| !e.is_eve() || e.max_size != usize::MAX);
            let reopen_path = path;
            handover.outputs.extend(reopen_path.clone());
            let mut generation = REOPEN_GENERATION.load(Ordering::Relaxed);
            let (tx, rx) = bounded::<Arc<Chunk>>(SINK_QUEUE_CHUNKS);
            let is_stdout = reopen_path.is_none();
            let thread_name = name.clone();
            let stop = Arc::clone(&stop);
            let pipe_closed = Arc::clone(&pipe_closed);
            let liveness = Arc::clone(&liveness);
            let thread = thread::Builder::new()
                .name("medtap-sink".into())
                .spawn(move || {
                    let mut out = io::BufWriter::with_capacity(CHUNK_BYTES, writer);
                    let write_error = |source: io::Error| liveness.failed(&thread_name, source);
                    let mut encoded = Vec::new();
                    for chunk in &rx {
                        let chunk: &[u8] = match &encoder {
                            None => &chunk.lines,
                            Some(encoder) => {
                                encode_chunk(encoder, &chunk.lines, &mut encoded, &thread_name);
                                &encoded
                            }
                        };
                        if let Some(path) = &reopen_path {
                            let now = REOPEN_GENERATION.load(Ordering::Relaxed);
                            if now != generation {
                                generation = now;
                                out.flush().map_err(write_error)?;
                                match open_append(path) {
                                    Ok(file) => *out.get_mut() = Box::new(file),
                                    Err(e) => tracing::error!(
                                        sink = %thread_name,
                                        "cannot reopen, still writing to the old file: {e}"
                                    ),
                                }
                            }
                        }
                        // Flushed whenever the queue runs dry, so a live
                        // capture's events reach the file within a stats
                        // interval, not when 64 KiB have gathered.
                        let written = out
                            .write_all(chunk)
                            .and_then(|()| if rx.is_empty() { out.flush() } else { Ok(()) });
                        match written {
                            Ok(()) => {}
                            Err(e) if is_stdout && e.kind() == io::ErrorKind::BrokenPipe => {
                                pipe_closed.store(true, Ordering::Relaxed);
                                stop.store(true, Ordering::Relaxed);
                                return Ok(());
                            }
                            Err(e) => return Err(write_error(e)),
                        }
                    }
                    match out.flush() {
                        Err(e) if is_stdout && e.kind() == io::ErrorKind::BrokenPipe => {
                            pipe_closed.store(true, Ordering::Relaxed);
                            Ok(())
                        }
                        other => other.map_err(write_error),
                    }
                })
                .map_err(|source| OutputError::Open {
                    target: name.clone(),
                    source,
                })?;
            sinks.push(SinkHandle::new(name, tx, thread));
        }
        Ok(Outputs {
            sinks,
            pending: Vec::with_capacity(CHUNK_BYTES),
            pending_heads: Vec::new(),
            remote_counters,
            emitted: 0,
            metrics: None,
            handover,
            liveness,
            sensor: sensor_name(),
        })
    }

    /// What a live run hands to `--user` before switching to it: the output
    /// files and spool directories opened here, and `inventory`.
    pub fn handover(&self, inventory: Option<PathBuf>) -> crate::service::Handover {
        crate::service::Handover {
            inventory,
            state: None,
            ..self.handover.clone()
        }
    }

    /// Publishes the counters of every `stats` event to `slot` (served by
    /// [`metrics::serve`]).
    pub fn set_metrics(&mut self, slot: metrics::MetricsText) {
        self.metrics = Some(slot);
    }

    /// Renders `stats` for the metrics endpoint, if there is one.
    pub fn publish_metrics(&self, stats: &crate::event::Stats) {
        if let Some(slot) = &self.metrics {
            let text = metrics::render(stats);
            if let Ok(mut current) = slot.lock() {
                *current = text;
            }
        }
    }

    /// Hands on what has gathered and waits, at most `timeout`, until every
    /// network sink has delivered, spooled or dropped each event emitted so
    /// far, so the final `stats` event counts them all.
    pub fn settle(&mut self, timeout: std::time::Duration) -> Result<(), OutputError> {
        self.flush_pending()?;
        let deadline = std::time::Instant::now() + timeout;
        let settled = |c: &spool::SinkCounters| {
            c.delivered.load(Ordering::Relaxed)
                + c.spooled.load(Ordering::Relaxed)
                + c.dropped.load(Ordering::Relaxed)
                + c.oversized.load(Ordering::Relaxed)
                >= self.emitted
        };
        while !self.remote_counters.iter().all(|(_, c)| settled(c))
            && std::time::Instant::now() < deadline
        {
            thread::sleep(std::time::Duration::from_millis(5));
        }
        Ok(())
    }

    /// The counters of each network sink now, in `-o` order.
    pub fn sink_stats(&self) -> Vec<SinkStats> {
        self.remote_counters
            .iter()
            .map(|(name, c)| SinkStats {
                name: name.clone(),
                delivered: c.delivered.load(Ordering::Relaxed),
                spooled: c.spooled.load(Ordering::Relaxed),
                dropped: c.dropped.load(Ordering::Relaxed),
                spool_bytes: c.spool_bytes.load(Ordering::Relaxed),
                shortened: c.shortened.load(Ordering::Relaxed),
                oversized: c.oversized.load(Ordering::Relaxed),
            })
            .collect()
    }

    /// Serialises one event; it is handed on at the next flush (or when
    /// enough has gathered).
    pub fn emit(&mut self, event: &Event) -> Result<(), OutputError> {
        event.write_json_line(self.sensor, &mut self.pending)?;
        self.pending_heads.push(EventHead::of(event));
        self.emitted += 1;
        if self.pending.len() >= CHUNK_BYTES {
            self.flush_pending()?;
        }
        Ok(())
    }

    /// Hands what has gathered to every sink.
    pub fn flush_pending(&mut self) -> Result<(), OutputError> {
        self.tell_failures()?;
        if self.pending.is_empty() {
            return Ok(());
        }
        let chunk = Arc::new(Chunk {
            lines: self.pending.clone(),
            heads: self.pending_heads.clone(),
        });
        self.pending.clear();
        self.pending_heads.clear();
        for sink in &mut self.sinks {
            // A sink whose thread has ended has either failed (reported at
            // close) or met a closed pipe: nothing more goes to it.
            if let Some(tx) = &sink.tx
                && tx.send(Arc::clone(&chunk)).is_err()
            {
                sink.tx = None;
            }
        }
        Ok(())
    }

    /// An `output_failed` warning, on the sinks still working, for each
    /// sink that could no longer be written since the last flush.
    fn tell_failures(&mut self) -> Result<(), OutputError> {
        let untold = match self.liveness.untold.lock() {
            Ok(mut untold) if !untold.is_empty() => std::mem::take(&mut *untold),
            _ => return Ok(()),
        };
        for (output, error, left) in untold {
            let warning = Warning {
                kind: WarningKind::OutputFailed,
                message: format!(
                    "cannot write to {output}: {error}; events go on to the {left} other output(s) only"
                ),
                loss: None,
                output: Some(OutputFailure {
                    output,
                    error,
                    outputs_left: left as u64,
                }),
            };
            let event = Event {
                timestamp: Timestamp::now(),
                pcap_filename: None,
                pcap_cnt: None,
                flow: None,
                body: Body::Warning(Box::new(warning)),
            };
            event.write_json_line(self.sensor, &mut self.pending)?;
            self.pending_heads.push(EventHead::of(&event));
            self.emitted += 1;
        }
        Ok(())
    }

    /// Flushes, closes every sink and waits for its thread. The first error
    /// not yet logged wins, else the first.
    pub fn close(mut self) -> Result<Vec<SinkStats>, OutputError> {
        self.flush_pending()?;
        let mut first_error: Option<OutputError> = None;
        for sink in &mut self.sinks {
            sink.tx = None;
            if let Some(thread) = sink.thread.take() {
                let result = thread
                    .join()
                    .unwrap_or_else(|_| Err(OutputError::Panicked(sink.name.clone())));
                if let Err(e) = result
                    && first_error
                        .as_ref()
                        .is_none_or(|first| first.was_logged() && !e.was_logged())
                {
                    first_error = Some(e);
                }
            }
        }
        // Every sink has delivered, spooled or dropped all it was given.
        first_error.map_or_else(|| Ok(self.sink_stats()), Err)
    }
}

/// The sensor's name, once known (see [`sensor_name`]).
static SENSOR_NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The longest sensor name (`--sensor-name`): a DNS name's limit, which is
/// also what a syslog HOSTNAME may hold.
pub const MAX_SENSOR_NAME: usize = 253;

/// Names the sensor for the whole process (`--sensor-name`): every event's
/// `host` and the syslog HOSTNAME. Set before the outputs open; once the
/// name has been read, later calls change nothing.
pub fn set_sensor_name(name: &str) {
    let _ = SENSOR_NAME.set(name.to_owned());
}

/// The sensor's name: as set, else the machine's host name cut to
/// printable ASCII (what a syslog HOSTNAME may hold) and
/// [`MAX_SENSOR_NAME`] bytes, else `medtap`.
pub fn sensor_name() -> &'static str {
    SENSOR_NAME.get_or_init(|| {
        let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        let name: String = name
            .chars()
            .filter(char::is_ascii_graphic)
            .take(MAX_SENSOR_NAME)
            .collect();
        if name.is_empty() {
            "medtap".to_owned()
        } else {
            name
        }
    })
}

/// Re-encodes a chunk of EVE lines for a local sink with a format or a
/// size limit, into `out`, one event a line; events too large even
/// shortened are left out and logged once per chunk.
fn encode_chunk(encoder: &encode::Encoder, chunk: &[u8], out: &mut Vec<u8>, name: &str) {
    out.clear();
    let mut tally = encode::Tally::default();
    for line in chunk.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        if encoder.encode(line, usize::MAX, out, &mut tally) {
            out.push(b'\n');
        }
    }
    if tally.oversized > 0 {
        tracing::warn!(sink = %name, events = tally.oversized, limit = encoder.max_size, "events larger than max_size even shortened were not written");
    }
}

#[derive(Serialize)]
struct Inventory<'a> {
    generated: Timestamp,
    device_count: usize,
    devices: &'a [DeviceRecord],
}

/// Whether `path` can take the inventory: its directory exists, and it does
/// not exist yet or is a regular file (see [`files::check_target`]). Checked
/// before a run starts.
pub fn check_inventory(path: &Path) -> Result<(), OutputError> {
    files::check_replaceable(path).map_err(|source| OutputError::Inventory {
        path: path.to_owned(),
        source,
    })
}

/// Writes the inventory of `table` to `path` atomically: a temporary file
/// with a random name in the same directory, flushed to disk, then renamed
/// over the old one, so a reader never sees half a file (see [`files`]). A
/// `path` that is not a regular file is refused. A failure also asks the
/// capture to stop: live, the run ends with this error rather than go on
/// without its inventory.
pub fn write_inventory(path: &Path, table: &DeviceTable) -> Result<(), OutputError> {
    let devices = table.inventory();
    let generated = devices
        .iter()
        .filter_map(|d| d.traffic.as_ref().map(|t| t.last_seen))
        .max()
        .unwrap_or(Timestamp(0));
    let inventory = Inventory {
        generated,
        device_count: devices.len(),
        devices: &devices,
    };
    // `--inventory devices.csv`: a spreadsheet's rows; anything else JSON.
    let as_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    files::replace(path, |file| {
        let mut out = io::BufWriter::new(file);
        if as_csv {
            csv::write(&mut out, &devices)?;
        } else {
            serde_json::to_writer_pretty(&mut out, &inventory).map_err(io::Error::other)?;
            out.write_all(b"\n")?;
        }
        out.flush()
    })
    .map_err(|source| {
        stop_run();
        OutputError::Inventory {
            path: path.to_owned(),
            source,
        }
    })
}
