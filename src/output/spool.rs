//! The disk spool of a network sink: events it could not deliver yet, kept
//! on disk in order until the receiver takes them.
//!
//! Each network sink has its own directory under the spool directory, named
//! from its redacted URL ([`sink_dir_name`]). In it, segment files
//! `NNNNNNNNNNNNNNNNNNNN.seg` (a sequence number, zero padded, so that names
//! sort in order) hold events as JSON lines after a one-line header
//! ([`HEADER`], which carries the format version). Events are appended to the
//! newest segment; a segment is closed and flushed to disk (`fsync`) when it
//! reaches [`SEGMENT_BYTES`], when delivery starts reading it, and at
//! shutdown. Delivery reads the oldest closed segment, in order, and deletes
//! it only once every event in it has been delivered.
//!
//! Guarantees: spooled events are never dropped to make room — when the
//! spool holds [`SPOOL_MAX_BYTES`], *new* events are dropped and counted.
//! A damaged segment (a bad header, a line that is not a JSON object) is
//! renamed with `.damaged` and reported, never deleted. A last line without
//! its newline (a crash in the middle of a write) is cut off and counted.
//!
//! Delivery is at least once: if medtap stops after delivering part of a
//! segment, that part is delivered again after the restart.
//!
//! Only regular files are spool segments: a sink's directory must be a
//! directory (not a symbolic link to one), a segment is created with
//! `O_EXCL | O_NOFOLLOW` and read without following a link or blocking on a
//! FIFO; anything else found under a segment's name is left alone and
//! reported. A write that fails (a full disk) is cut back off the segment,
//! so what was spooled before stays whole; the events it carried are
//! dropped and counted. Such failures, and a full spool, are logged once
//! when they start and once when they end, not for every event.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha1::{Digest, Sha1};

/// Bytes the spool of one sink holds at most (segment headers included);
/// beyond it new events are dropped and counted.
pub const SPOOL_MAX_BYTES: u64 = 1 << 30;
/// Bytes after which a segment is closed and the next one started.
pub const SEGMENT_BYTES: u64 = 16 << 20;
/// The first line of every segment: the format and its version.
pub const HEADER: &[u8] = b"medtap-spool 1\n";
/// Events handed to the sink per delivery call when reading the spool.
pub const DELIVERY_BATCH_EVENTS: usize = 1000;
/// Suffix of a segment moved aside as damaged.
pub const DAMAGED_SUFFIX: &str = ".damaged";
/// Suffix of a segment file.
const SEGMENT_SUFFIX: &str = ".seg";

/// Counters of one network sink, readable from any thread.
#[derive(Debug, Default)]
pub struct SinkCounters {
    /// Events the receiver has taken (counted by the sink's thread, not
    /// here).
    pub delivered: AtomicU64,
    /// Events written to the spool (a spooled event counts again when it is delivered).
    pub spooled: AtomicU64,
    /// New events dropped because the spool was full or could not be written.
    pub dropped: AtomicU64,
    /// Bytes in the spool now.
    pub spool_bytes: AtomicU64,
    /// Events delivered shortened to fit the sink's `max_size`.
    pub shortened: AtomicU64,
    /// Events not sent: larger than the sink's `max_size` even shortened.
    pub oversized: AtomicU64,
    /// Partial last lines cut off when a segment was recovered after a crash.
    pub truncated: AtomicU64,
    /// Segments moved aside as damaged.
    pub damaged_segments: AtomicU64,
}

impl SinkCounters {
    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// Where a sink's spool lives and how large it may grow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolConfig {
    /// The spool directory; each sink gets a directory inside it.
    pub dir: PathBuf,
    /// See [`SPOOL_MAX_BYTES`].
    pub max_bytes: u64,
    /// See [`SEGMENT_BYTES`].
    pub segment_bytes: u64,
}

impl SpoolConfig {
    /// The defaults, in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> SpoolConfig {
        SpoolConfig {
            dir: dir.into(),
            max_bytes: SPOOL_MAX_BYTES,
            segment_bytes: SEGMENT_BYTES,
        }
    }
}

/// The default spool directory: `/var/lib/medtap/spool` when it exists or
/// can be created and written (medtap running as root, or as a user that
/// owns `/var/lib/medtap`), else `$XDG_STATE_HOME/medtap/spool`, else
/// `~/.local/state/medtap/spool`, else `medtap-spool` in the working
/// directory.
pub fn default_dir() -> PathBuf {
    let system = PathBuf::from("/var/lib/medtap/spool");
    if fs::create_dir_all(&system).is_ok()
        && fs::metadata(&system).is_ok_and(|m| !m.permissions().readonly())
        && tempfile_probe(&system)
    {
        return system;
    }
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|s| !s.is_empty())
                .map(|h| PathBuf::from(h).join(".local/state"))
        });
    match state {
        Some(state) => state.join("medtap/spool"),
        None => PathBuf::from("medtap-spool"),
    }
}

/// Whether a file can be created in `dir`.
fn tempfile_probe(dir: &Path) -> bool {
    let probe = dir.join(format!(".probe.{}", std::process::id()));
    let ok = File::create(&probe).is_ok();
    let _ = fs::remove_file(&probe);
    ok
}

/// The directory name of the spool for the sink at `redacted_url`: the URL
/// with every character other than ASCII letters, digits, `.` and `-` made
/// `_` (at most 48 of them), then `-` and the first 16 hex digits of its
/// SHA-1, so that two URLs never share a spool.
pub fn sink_dir_name(redacted_url: &str) -> String {
    let readable: String = redacted_url
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(48)
        .collect();
    let digest = Sha1::digest(redacted_url.as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("{readable}-{hex}")
}

/// What recovering one segment found.
#[derive(Debug, PartialEq, Eq)]
pub enum Recovered {
    /// The segment is sound: its first `len` bytes are to be kept, and
    /// `truncated` says whether a partial last line follows them.
    Sound {
        /// Bytes to keep.
        len: u64,
        /// Whether a partial last line was found.
        truncated: bool,
    },
    /// The segment cannot be read as a spool segment.
    Damaged(&'static str),
}

/// Checks the bytes of a segment file.
pub fn check_segment(bytes: &[u8]) -> Recovered {
    let Some(body) = bytes.strip_prefix(HEADER) else {
        // A crash right after creating the file can leave a partial header.
        if HEADER.starts_with(bytes) {
            return Recovered::Sound {
                len: 0,
                truncated: !bytes.is_empty(),
            };
        }
        return Recovered::Damaged("bad header");
    };
    let complete = body.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let (lines, rest) = body.split_at(complete);
    for line in lines.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        if !(line.starts_with(b"{") && line.ends_with(b"}")) {
            return Recovered::Damaged("a line is not a JSON object");
        }
    }
    Recovered::Sound {
        len: (HEADER.len() + complete) as u64,
        truncated: !rest.is_empty(),
    }
}

/// The events (JSON lines without their newlines) of a sound segment.
pub fn segment_events(bytes: &[u8]) -> Vec<&[u8]> {
    bytes
        .strip_prefix(HEADER)
        .unwrap_or_default()
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect()
}

struct Segment {
    seq: u64,
    bytes: u64,
}

struct Writer {
    file: File,
    seq: u64,
    bytes: u64,
}

/// The oldest closed segment, read into memory, and how far it has been delivered.
struct Reading {
    seq: u64,
    data: Vec<u8>,
    /// Byte offset of the next undelivered event.
    pos: usize,
}

/// The spool of one sink.
pub struct Spool {
    dir: PathBuf,
    config: SpoolConfig,
    /// Closed segments, oldest first.
    closed: VecDeque<Segment>,
    writer: Option<Writer>,
    reading: Option<Reading>,
    next_seq: u64,
    counters: std::sync::Arc<SinkCounters>,
    /// Events dropped since appending last succeeded, while it fails.
    failing: Option<u64>,
}

impl Spool {
    /// Opens (creating it if need be) the spool of the sink named
    /// `redacted_url`, recovering what an earlier run left in it.
    pub fn open(
        config: &SpoolConfig,
        redacted_url: &str,
        counters: std::sync::Arc<SinkCounters>,
    ) -> io::Result<Spool> {
        let dir = config.dir.join(sink_dir_name(redacted_url));
        fs::create_dir_all(&dir)?;
        let meta = fs::symlink_metadata(&dir)?;
        if !meta.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: not a directory", dir.display()),
            ));
        }
        let mut seqs = Vec::new();
        let mut names_taken = Vec::new();
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if let Some(seq) = name
                .strip_suffix(SEGMENT_SUFFIX)
                .and_then(|n| n.parse::<u64>().ok())
            {
                if entry.file_type()?.is_file() {
                    seqs.push(seq);
                } else {
                    tracing::error!(sink = %redacted_url, path = %entry.path().display(), "not a regular file under a spool segment's name, left alone");
                    names_taken.push(seq);
                }
            }
        }
        seqs.sort_unstable();
        let mut closed = VecDeque::new();
        for seq in &seqs {
            let path = segment_path(&dir, *seq);
            let Some(bytes) = crate::files::read_regular(&path, u64::MAX)? else {
                continue;
            };
            match check_segment(&bytes) {
                Recovered::Damaged(why) => {
                    let aside = dir.join(format!("{seq:020}{SEGMENT_SUFFIX}{DAMAGED_SUFFIX}"));
                    fs::rename(&path, &aside)?;
                    SinkCounters::add(&counters.damaged_segments, 1);
                    tracing::error!(sink = %redacted_url, segment = %aside.display(), "damaged spool segment moved aside: {why}");
                }
                Recovered::Sound { len, truncated } => {
                    if truncated {
                        OpenOptions::new()
                            .write(true)
                            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
                            .open(&path)?
                            .set_len(len)?;
                        SinkCounters::add(&counters.truncated, 1);
                        tracing::warn!(sink = %redacted_url, segment = %path.display(), "cut off a partial last line left by a crash");
                    }
                    if len <= HEADER.len() as u64 {
                        fs::remove_file(&path)?;
                    } else {
                        closed.push_back(Segment {
                            seq: *seq,
                            bytes: len,
                        });
                    }
                }
            }
        }
        let next_seq = seqs.iter().chain(&names_taken).max().map_or(0, |s| s + 1);
        let total: u64 = closed.iter().map(|s| s.bytes).sum();
        counters.spool_bytes.store(total, Ordering::Relaxed);
        if total > 0 {
            tracing::info!(sink = %redacted_url, bytes = total, segments = closed.len(), "spool from an earlier run: delivering it first");
        }
        Ok(Spool {
            dir,
            config: config.clone(),
            closed,
            writer: None,
            reading: None,
            next_seq,
            counters,
            failing: None,
        })
    }

    /// This sink's counters.
    pub fn counters(&self) -> &std::sync::Arc<SinkCounters> {
        &self.counters
    }

    /// This spool's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether no event is waiting in the spool.
    pub fn is_empty(&self) -> bool {
        self.closed.is_empty()
            && self
                .writer
                .as_ref()
                .is_none_or(|w| w.bytes <= HEADER.len() as u64)
    }

    fn bytes(&self) -> u64 {
        self.counters.spool_bytes.load(Ordering::Relaxed)
    }

    /// Appends `events` (each a JSON object without newline). Returns how
    /// many were dropped: all of them when they do not fit under the size
    /// cap or cannot be written.
    pub fn append(&mut self, events: &[&[u8]]) -> u64 {
        let n = events.len() as u64;
        if n == 0 {
            return 0;
        }
        let mut buf = Vec::with_capacity(events.iter().map(|e| e.len() + 1).sum());
        for event in events {
            buf.extend_from_slice(event);
            buf.push(b'\n');
        }
        let header = if self.writer.is_none() {
            HEADER.len()
        } else {
            0
        };
        let need = (buf.len() + header) as u64;
        if self.bytes() + need > self.config.max_bytes {
            let max = self.config.max_bytes;
            self.drop_events(n, &format_args!("spool full ({max} bytes)"));
            return n;
        }
        match self.write(&buf) {
            Ok(()) => {
                SinkCounters::add(&self.counters.spooled, n);
                if let Some(dropped) = self.failing.take() {
                    tracing::warn!(spool = %self.dir.display(), dropped, "the spool takes events again");
                }
                0
            }
            Err(e) => {
                self.drop_events(n, &format_args!("cannot write to the spool: {e}"));
                n
            }
        }
    }

    /// Counts `n` new events dropped; the first of a run of drops is logged.
    fn drop_events(&mut self, n: u64, why: &dyn std::fmt::Display) {
        SinkCounters::add(&self.counters.dropped, n);
        match &mut self.failing {
            Some(dropped) => *dropped += n,
            None => {
                tracing::error!(spool = %self.dir.display(), events = n, "{why}; new events are dropped until it takes them again");
                self.failing = Some(n);
            }
        }
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<()> {
        if self.writer.is_none() {
            let seq = self.next_seq;
            self.next_seq += 1;
            let path = segment_path(&self.dir, seq);
            let mut file = OpenOptions::new()
                .create_new(true)
                .append(true)
                .custom_flags(
                    (rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::CLOEXEC).bits() as i32,
                )
                .open(&path)?;
            if let Err(e) = file.write_all(HEADER) {
                drop(file);
                let _ = fs::remove_file(&path);
                return Err(e);
            }
            self.counters
                .spool_bytes
                .fetch_add(HEADER.len() as u64, Ordering::Relaxed);
            self.writer = Some(Writer {
                file,
                seq,
                bytes: HEADER.len() as u64,
            });
        }
        if let Some(w) = &mut self.writer {
            if let Err(e) = w.file.write_all(buf) {
                // Cut off what part of it was written, so the segment ends
                // with a whole event; should even that fail, start anew.
                if w.file.set_len(w.bytes).is_err() {
                    self.rotate_after_failure();
                }
                return Err(e);
            }
            w.bytes += buf.len() as u64;
            self.counters
                .spool_bytes
                .fetch_add(buf.len() as u64, Ordering::Relaxed);
            if w.bytes >= self.config.segment_bytes {
                self.rotate()?;
            }
        }
        Ok(())
    }

    /// Closes the segment being written, flushed to disk.
    pub fn rotate(&mut self) -> io::Result<()> {
        if let Some(w) = self.writer.take() {
            w.file.sync_all()?;
            if w.bytes > HEADER.len() as u64 {
                self.closed.push_back(Segment {
                    seq: w.seq,
                    bytes: w.bytes,
                });
            } else {
                fs::remove_file(segment_path(&self.dir, w.seq))?;
                self.counters
                    .spool_bytes
                    .fetch_sub(w.bytes, Ordering::Relaxed);
            }
            sync_dir(&self.dir)?;
        }
        Ok(())
    }

    /// Closes the segment being written after a write to it failed and could
    /// not be cut back: what it holds is recovered (its partial last line cut
    /// off) by the next run, and the next event starts a new segment.
    fn rotate_after_failure(&mut self) {
        if let Some(w) = self.writer.take() {
            let _ = w.file.sync_all();
            self.closed.push_back(Segment {
                seq: w.seq,
                bytes: w.bytes,
            });
        }
    }

    /// Flushes everything to disk; what is left stays for the next run.
    pub fn sync(&mut self) -> io::Result<()> {
        self.rotate()
    }

    /// Delivers spooled events, oldest first, through `deliver`, in batches
    /// of at most [`DELIVERY_BATCH_EVENTS`], until the spool is empty or a
    /// delivery fails. `between` is called between batches (to take in new
    /// events). A segment is deleted once all of it has been delivered.
    pub fn drain<E>(
        &mut self,
        mut deliver: impl FnMut(&[&[u8]]) -> Result<(), E>,
        mut between: impl FnMut(&mut Spool),
    ) -> Result<(), E> {
        loop {
            if self.reading.is_none() {
                if self.closed.is_empty()
                    && let Err(e) = self.rotate()
                {
                    tracing::error!(spool = %self.dir.display(), "cannot close a spool segment: {e}");
                }
                let Some(front) = self.closed.front() else {
                    return Ok(());
                };
                let seq = front.seq;
                let read = crate::files::read_regular(&segment_path(&self.dir, seq), u64::MAX)
                    .and_then(|data| data.ok_or_else(|| io::Error::from(io::ErrorKind::NotFound)));
                let good = usize::try_from(front.bytes).unwrap_or(usize::MAX);
                match read {
                    Ok(mut data) => {
                        // Only what was written whole counts (see
                        // `rotate_after_failure`).
                        data.truncate(good);
                        self.reading = Some(Reading {
                            seq,
                            data,
                            pos: HEADER.len(),
                        })
                    }
                    Err(e) => {
                        // Not readable now: leave it, and report.
                        tracing::error!(spool = %self.dir.display(), "cannot read a spool segment: {e}");
                        return Ok(());
                    }
                }
            }
            let Some(reading) = &mut self.reading else {
                return Ok(());
            };
            let start = reading.pos.min(reading.data.len());
            let rest = reading.data.get(start..).unwrap_or_default();
            let mut events = Vec::with_capacity(DELIVERY_BATCH_EVENTS);
            let mut consumed = 0;
            for line in rest.split_inclusive(|b| *b == b'\n') {
                if events.len() == DELIVERY_BATCH_EVENTS {
                    break;
                }
                consumed += line.len();
                let line = line.strip_suffix(b"\n").unwrap_or(line);
                if !line.is_empty() {
                    events.push(line);
                }
            }
            if !events.is_empty() {
                // The caller counts what became of them.
                deliver(&events)?;
            }
            reading.pos = start + consumed;
            if reading.pos >= reading.data.len() {
                let seq = reading.seq;
                self.reading = None;
                if let Some(front) = self.closed.pop_front() {
                    self.counters
                        .spool_bytes
                        .fetch_sub(front.bytes, Ordering::Relaxed);
                }
                if let Err(e) = fs::remove_file(segment_path(&self.dir, seq)) {
                    tracing::error!(spool = %self.dir.display(), "cannot delete a delivered spool segment: {e}");
                }
            }
            between(self);
        }
    }
}

fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:020}{SEGMENT_SUFFIX}"))
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn spool(dir: &Path, max_bytes: u64, segment_bytes: u64) -> Spool {
        let config = SpoolConfig {
            dir: dir.to_owned(),
            max_bytes,
            segment_bytes,
        };
        Spool::open(&config, "redis://h/k", Arc::new(SinkCounters::default())).expect("open")
    }

    fn drain_all(s: &mut Spool) -> Vec<Vec<u8>> {
        let mut got = Vec::new();
        s.drain::<()>(
            |events| {
                got.extend(events.iter().map(|e| e.to_vec()));
                Ok(())
            },
            |_| {},
        )
        .expect("drain");
        got
    }

    #[test]
    fn a_segment_is_its_header_then_one_event_per_line() {
        let bytes = b"medtap-spool 1\n{\"a\":1}\n{\"b\":2}\n";
        assert_eq!(
            check_segment(bytes),
            Recovered::Sound {
                len: bytes.len() as u64,
                truncated: false
            }
        );
        assert_eq!(segment_events(bytes), vec![&b"{\"a\":1}"[..], b"{\"b\":2}"]);
    }

    #[test]
    fn a_partial_last_line_is_cut_off() {
        let bytes = b"medtap-spool 1\n{\"a\":1}\n{\"b\":";
        assert_eq!(
            check_segment(bytes),
            Recovered::Sound {
                len: (HEADER.len() + 8) as u64,
                truncated: true
            }
        );
    }

    #[test]
    fn another_version_or_a_non_json_line_is_damage() {
        assert_eq!(
            check_segment(b"medtap-spool 2\n{}\n"),
            Recovered::Damaged("bad header")
        );
        assert_eq!(
            check_segment(b"medtap-spool 1\n{}\ngarbage\n"),
            Recovered::Damaged("a line is not a JSON object")
        );
    }

    #[test]
    fn a_partial_header_is_an_empty_segment() {
        assert_eq!(
            check_segment(b"medtap-sp"),
            Recovered::Sound {
                len: 0,
                truncated: true
            }
        );
        assert_eq!(
            check_segment(b""),
            Recovered::Sound {
                len: 0,
                truncated: false
            }
        );
    }

    #[test]
    fn sink_dir_names_are_safe_and_distinct() {
        let a = sink_dir_name("redis://127.0.0.1:6379/k");
        let b = sink_dir_name("redis://127.0.0.1:6379/k2");
        assert_ne!(a, b);
        assert!(a.starts_with("redis___127.0.0.1_6379_k-"));
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        );
        assert!(sink_dir_name(&"x/".repeat(500)).len() <= 48 + 17);
    }

    #[test]
    fn events_come_back_in_order_across_segments_and_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = spool(dir.path(), 1 << 20, 64);
        let all: Vec<Vec<u8>> = (0..50)
            .map(|i| format!("{{\"seq\":{i}}}").into_bytes())
            .collect();
        for chunk in all.chunks(3) {
            let refs: Vec<&[u8]> = chunk.iter().map(|e| e.as_slice()).collect();
            assert_eq!(s.append(&refs), 0);
        }
        s.sync().expect("sync");
        drop(s);
        let mut s = spool(dir.path(), 1 << 20, 64);
        assert!(!s.is_empty());
        assert_eq!(drain_all(&mut s), all);
        assert!(s.is_empty());
        assert_eq!(s.counters.spool_bytes.load(Ordering::Relaxed), 0);
        assert_eq!(fs::read_dir(s.dir()).expect("dir").count(), 0);
    }

    #[test]
    fn a_failed_delivery_keeps_the_segment_and_resumes_where_it_stopped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = spool(dir.path(), 1 << 20, 1 << 20);
        let all: Vec<Vec<u8>> = (0..2500)
            .map(|i| format!("{{\"seq\":{i}}}").into_bytes())
            .collect();
        let refs: Vec<&[u8]> = all.iter().map(|e| e.as_slice()).collect();
        s.append(&refs);
        let mut got = Vec::new();
        let mut calls = 0;
        let r = s.drain(
            |events| {
                calls += 1;
                if calls == 2 {
                    return Err(());
                }
                got.extend(events.iter().map(|e| e.to_vec()));
                Ok(())
            },
            |_| {},
        );
        assert_eq!(r, Err(()));
        assert_eq!(got.len(), DELIVERY_BATCH_EVENTS);
        got.extend(drain_all(&mut s));
        assert_eq!(got, all);
    }

    #[test]
    fn a_full_spool_drops_new_events_and_keeps_old_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = spool(dir.path(), 100, 1 << 20);
        assert_eq!(s.append(&[b"{\"old\":1}"]), 0);
        let big = [b'x'; 100];
        assert_eq!(s.append(&[&big[..], b"{}"]), 2);
        assert_eq!(s.counters.dropped.load(Ordering::Relaxed), 2);
        assert_eq!(drain_all(&mut s), vec![b"{\"old\":1}".to_vec()]);
    }

    #[test]
    fn recovery_moves_damage_aside_and_cuts_partial_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sink = dir.path().join(sink_dir_name("redis://h/k"));
        fs::create_dir_all(&sink).expect("mkdir");
        fs::write(sink.join("00000000000000000001.seg"), b"not a spool\n").expect("write");
        fs::write(
            sink.join("00000000000000000002.seg"),
            b"medtap-spool 1\n{\"a\":1}\n{\"b\"",
        )
        .expect("write");
        let mut s = spool(dir.path(), 1 << 20, 1 << 20);
        assert_eq!(s.counters.damaged_segments.load(Ordering::Relaxed), 1);
        assert_eq!(s.counters.truncated.load(Ordering::Relaxed), 1);
        assert!(sink.join("00000000000000000001.seg.damaged").exists());
        s.append(&[b"{\"c\":3}"]);
        assert_eq!(
            drain_all(&mut s),
            vec![b"{\"a\":1}".to_vec(), b"{\"c\":3}".to_vec()]
        );
        assert_eq!(
            fs::read(sink.join("00000000000000000001.seg.damaged")).expect("kept"),
            b"not a spool\n"
        );
    }
}
