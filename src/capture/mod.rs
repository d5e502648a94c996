//! Capture: packets from libpcap, from capture files or a live interface.
//!
//! Files (pcap and pcapng) are read in the order given, as one stream of
//! packets numbered across files. `-` is standard input, read by libpcap
//! itself, so the capture's first bytes are never consumed before it sees
//! them; a pipe, a FIFO or `/dev/stdin` works the same way. A live interface is opened in promiscuous
//! mode with the snap length, kernel buffer and read timeout configured; the
//! timeout lets the pipeline flush partial batches on a quiet network. A BPF
//! filter applies to both.
//!
//! Packets are handed to a [`PacketHandler`] borrowed from libpcap's buffer;
//! nothing is copied here. What goes wrong with a file — missing, unreadable,
//! empty, not a capture, truncated — is a [`CaptureError`] naming the file,
//! returned after every complete packet before the damage has been handed on.
//!
//! [`prepare`] opens every input and compiles the filter before the run
//! starts, so that a source that cannot be read at all fails before anything
//! is written. A stream (standard input, a FIFO) and a live interface are
//! kept open from there for the run; a regular file is opened again.

use std::fs::File;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use thiserror::Error;

use crate::decode::LinkType;
use crate::service::PrivilegeError;
use crate::time::Micros;

/// Default snap length for live capture, in bytes: whole frames, GRO
/// super-frames included.
pub const DEFAULT_SNAPLEN: i32 = 262_144;
/// Default kernel capture buffer for live capture, in bytes.
pub const DEFAULT_BUFFER_BYTES: i32 = 64 * 1024 * 1024;
/// Live read timeout, in milliseconds: the longest a partial batch waits.
pub const LIVE_READ_TIMEOUT_MS: i32 = 100;
/// How often, in packets, the stop flag is checked during a replay.
const STOP_CHECK_PACKETS: u64 = 1024;
/// How often the progress bar is redrawn.
const PROGRESS_REDRAW: Duration = Duration::from_millis(200);

/// Why a capture could not be read.
#[derive(Debug, Error)]
pub enum CaptureError {
    /// What had to happen once the capture was open (the switch to
    /// `--user`) failed; medtap does not go on as root.
    #[error(transparent)]
    AfterOpen(#[from] PrivilegeError),
    /// The file could not be opened.
    #[error("{path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is empty.
    #[error("{path}: empty file, not a capture")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The file is a directory.
    #[error("{path}: is a directory, not a capture file")]
    Directory {
        /// The file.
        path: PathBuf,
    },
    /// libpcap does not recognise the file.
    #[error("{path}: not a pcap or pcapng capture ({detail})")]
    NotACapture {
        /// The file.
        path: PathBuf,
        /// libpcap's words.
        detail: String,
    },
    /// The file ends in the middle of a packet or block.
    #[error("{path}: truncated capture after {packets} complete packets ({detail})")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Packets read from this file before the damage.
        packets: u64,
        /// libpcap's words.
        detail: String,
    },
    /// Reading failed for another reason.
    #[error("{path}: read error after {packets} packets ({detail})")]
    Read {
        /// The file.
        path: PathBuf,
        /// Packets read from this file before the error.
        packets: u64,
        /// libpcap's words.
        detail: String,
    },
    /// The interface could not be opened for capture.
    #[error("cannot capture on {interface}: {detail}")]
    Interface {
        /// The interface.
        interface: String,
        /// libpcap's words.
        detail: String,
    },
    /// The BPF filter does not compile.
    #[error("bad capture filter {filter:?}: {detail}")]
    Filter {
        /// The filter expression.
        filter: String,
        /// libpcap's words.
        detail: String,
    },
    /// Listing interfaces failed.
    #[error("cannot list interfaces: {0}")]
    List(String),
}

/// One packet as libpcap delivered it.
#[derive(Debug, Clone, Copy)]
pub struct CapturedPacket<'a> {
    /// Packet time, microseconds since the Unix epoch.
    pub ts: Micros,
    /// Length on the wire.
    pub wire_len: u32,
    /// Captured bytes (at most the snap length).
    pub data: &'a [u8],
}

/// Receives packets from a capture source.
pub trait PacketHandler {
    /// A new file (or the interface) starts; packets that follow use `link`.
    fn source_started(&mut self, index: usize, name: &str, link: LinkType);
    /// One packet.
    fn packet(&mut self, packet: &CapturedPacket<'_>);
    /// A live read timed out with no packet, or a file ended: a good moment
    /// to flush partial batches.
    fn idle(&mut self);
    /// Live kernel counters, read after each idle period and at the end.
    fn kernel_stats(&mut self, _stats: KernelStats) {}
}

/// libpcap's counters for a live capture.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KernelStats {
    /// Packets received.
    pub received: u64,
    /// Packets dropped for lack of buffer space.
    pub dropped: u64,
    /// Packets dropped by the interface or driver.
    pub if_dropped: u64,
}

/// libpcap's counters are 32 bits (`struct pcap_stat`) and wrap: at a
/// million packets a second, `ps_recv` does so every 72 minutes. These are
/// kept as 64-bit totals by adding the difference of each reading, modulo
/// 2^32, to the last (as Suricata does), so they never go backwards.
#[derive(Debug, Clone, Copy, Default)]
struct WideCounters {
    raw: [u32; 3],
    totals: KernelStats,
}

impl WideCounters {
    fn update(&mut self, received: u32, dropped: u32, if_dropped: u32) -> KernelStats {
        let [raw_r, raw_d, raw_i] = self.raw;
        let [r, d, i] = [
            received.wrapping_sub(raw_r),
            dropped.wrapping_sub(raw_d),
            if_dropped.wrapping_sub(raw_i),
        ]
        .map(u64::from);
        self.raw = [received, dropped, if_dropped];
        self.totals.received += r;
        self.totals.dropped += d;
        self.totals.if_dropped += i;
        self.totals
    }
}

/// A capture opened by [`prepare`], taken by the run; clones share it.
pub struct Opened<T: pcap::State>(Arc<Mutex<Option<pcap::Capture<T>>>>);

impl<T: pcap::State> Opened<T> {
    fn put(&self, capture: pcap::Capture<T>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(capture);
    }

    fn take(&self) -> Option<pcap::Capture<T>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

impl<T: pcap::State> Default for Opened<T> {
    fn default() -> Opened<T> {
        Opened(Arc::new(Mutex::new(None)))
    }
}

impl<T: pcap::State> Clone for Opened<T> {
    fn clone(&self) -> Opened<T> {
        Opened(Arc::clone(&self.0))
    }
}

impl<T: pcap::State> std::fmt::Debug for Opened<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let open = self.0.lock().map(|slot| slot.is_some()).unwrap_or_default();
        f.write_str(if open { "Opened(open)" } else { "Opened(none)" })
    }
}

/// The path that means standard input.
pub const STDIN: &str = "-";

/// Capture files, read in order: paths as given, [`STDIN`] for standard
/// input.
#[derive(Debug, Clone, Default)]
pub struct Files {
    /// The paths, in reading order.
    pub paths: Vec<PathBuf>,
    /// Streams [`prepare`] opened, by index in `paths`: they cannot be
    /// opened a second time.
    streams: Vec<Opened<pcap::Offline>>,
}

impl Files {
    /// The files at `paths`, not opened yet.
    pub fn new(paths: Vec<PathBuf>) -> Files {
        let streams = paths.iter().map(|_| Opened::default()).collect();
        Files { paths, streams }
    }
}

/// Settings for a live capture.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    /// Interface name.
    pub interface: String,
    /// Promiscuous mode (default on: a SPAN port delivers frames for others).
    pub promiscuous: bool,
    /// Snap length, in bytes.
    pub snaplen: i32,
    /// Kernel buffer size, in bytes.
    pub buffer_bytes: i32,
    /// Called once the capture is open, before its first packet: the
    /// switch to `--user` ([`crate::service::drop_privileges`]).
    pub after_open: Option<AfterOpen>,
    /// The interface as [`prepare`] opened it.
    pub opened: Opened<pcap::Active>,
}

/// What a live capture calls once it is open (it needs root to open; what
/// comes after does not).
#[derive(Clone)]
pub struct AfterOpen(Arc<dyn Fn() -> Result<(), PrivilegeError> + Send + Sync>);

impl AfterOpen {
    /// Wraps `hook`.
    pub fn new(hook: impl Fn() -> Result<(), PrivilegeError> + Send + Sync + 'static) -> AfterOpen {
        AfterOpen(Arc::new(hook))
    }
}

impl std::fmt::Debug for AfterOpen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AfterOpen")
    }
}

/// Where packets come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// Capture files, read in order.
    Files(Files),
    /// A live interface.
    Live(LiveConfig),
}

/// Reads every packet of `source`, in order, into `handler`, until the end or
/// until `stop` is set. Returns whether it was stopped early.
pub fn run(
    source: &Source,
    filter: Option<&str>,
    stop: &AtomicBool,
    handler: &mut impl PacketHandler,
) -> Result<bool, CaptureError> {
    match source {
        Source::Files(files) => {
            let progress = Progress::new(&files.paths);
            for (index, path) in files.paths.iter().enumerate() {
                let opened = files.streams.get(index).and_then(Opened::take);
                if read_file(index, path, opened, filter, stop, handler, &progress)? {
                    progress.finish();
                    return Ok(true);
                }
                handler.idle();
            }
            progress.finish();
            Ok(false)
        }
        Source::Live(config) => read_live(config, filter, stop, handler),
    }
}

/// Opens every input of `source` and compiles `filter` for it, so that a
/// missing, unreadable, empty or foreign file, an interface that cannot be
/// opened or a filter that does not compile is reported before anything is
/// written. Streams and the live interface stay open for [`run`].
pub fn prepare(source: &Source, filter: Option<&str>) -> Result<(), CaptureError> {
    match source {
        Source::Files(files) => {
            for (path, slot) in files.paths.iter().zip(&files.streams) {
                if is_stream(path) {
                    let mut capture = open_stream(path)?;
                    apply_filter(&mut capture, filter)?;
                    slot.put(capture);
                } else {
                    let (mut capture, _) = open_file(path)?;
                    apply_filter(&mut capture, filter)?;
                }
            }
            Ok(())
        }
        Source::Live(config) => {
            config.opened.put(open_live(config, filter)?);
            Ok(())
        }
    }
}

/// Whether `path` is read as a stream, once: standard input, a FIFO, a
/// character device such as `/dev/stdin` on a pipe.
fn is_stream(path: &Path) -> bool {
    path.as_os_str() == STDIN || std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir())
}

/// How `path` is named in errors.
fn shown(path: &Path) -> PathBuf {
    if path.as_os_str() == STDIN {
        PathBuf::from("standard input")
    } else {
        path.to_owned()
    }
}

/// Opens a stream through libpcap alone, which reads its header from the
/// very first byte (`-` is standard input to `pcap_open_offline`).
fn open_stream(path: &Path) -> Result<pcap::Capture<pcap::Offline>, CaptureError> {
    pcap::Capture::from_file(path).map_err(|e| {
        let detail = pcap_detail(&e);
        if detail.contains("only got 0") {
            CaptureError::Empty { path: shown(path) }
        } else if detail.contains("No such file") || detail.contains("ermission denied") {
            CaptureError::Open {
                path: shown(path),
                source: std::io::Error::other(detail),
            }
        } else {
            CaptureError::NotACapture {
                path: shown(path),
                detail,
            }
        }
    })
}

fn apply_filter<T: pcap::Activated + ?Sized>(
    capture: &mut pcap::Capture<T>,
    filter: Option<&str>,
) -> Result<(), CaptureError> {
    if let Some(expr) = filter {
        capture
            .filter(expr, true)
            .map_err(|e| CaptureError::Filter {
                filter: expr.to_owned(),
                detail: pcap_detail(&e),
            })?;
    }
    Ok(())
}

// `time_t` and `suseconds_t` are 32 bits on some targets.
#[allow(clippy::useless_conversion)]
fn timestamp(header: &pcap::PacketHeader) -> Micros {
    i64::from(header.ts.tv_sec) * 1_000_000 + i64::from(header.ts.tv_usec)
}

/// Opens a capture file, with errors a user can act on.
fn open_file(path: &Path) -> Result<(pcap::Capture<pcap::Offline>, u64), CaptureError> {
    let mut file = File::open(path).map_err(|source| CaptureError::Open {
        path: path.to_owned(),
        source,
    })?;
    let meta = file.metadata().map_err(|source| CaptureError::Open {
        path: path.to_owned(),
        source,
    })?;
    if meta.is_dir() {
        return Err(CaptureError::Directory {
            path: path.to_owned(),
        });
    }
    // A FIFO or process substitution has no length; let libpcap try it.
    if meta.is_file() && meta.len() == 0 {
        return Err(CaptureError::Empty {
            path: path.to_owned(),
        });
    }
    // Reading the first byte proves the file is readable before libpcap
    // (whose message for a permission error is less clear) opens it.
    if meta.is_file() {
        let mut first = [0u8; 1];
        file.read(&mut first).map_err(|source| CaptureError::Open {
            path: path.to_owned(),
            source,
        })?;
    }
    let capture = pcap::Capture::from_file(path).map_err(|e| CaptureError::NotACapture {
        path: path.to_owned(),
        detail: pcap_detail(&e),
    })?;
    Ok((capture, meta.len()))
}

fn pcap_detail(e: &pcap::Error) -> String {
    match e {
        pcap::Error::PcapError(msg) => msg.clone(),
        other => other.to_string(),
    }
}

fn read_file(
    index: usize,
    path: &Path,
    opened: Option<pcap::Capture<pcap::Offline>>,
    filter: Option<&str>,
    stop: &AtomicBool,
    handler: &mut impl PacketHandler,
    progress: &Progress,
) -> Result<bool, CaptureError> {
    let mut capture = match opened {
        Some(capture) => capture,
        None => {
            let mut capture = if is_stream(path) {
                open_stream(path)?
            } else {
                open_file(path)?.0
            };
            apply_filter(&mut capture, filter)?;
            capture
        }
    };
    let link = LinkType::from_dlt(capture.get_datalink().0);
    if !link.is_supported() {
        tracing::warn!(file = %path.display(), dlt = capture.get_datalink().0, "link type not supported; its packets are counted as link.unsupported");
    }
    let name = path.display().to_string();
    handler.source_started(index, &name, link);
    let record_overhead = progress.record_overhead(index);
    let mut packets: u64 = 0;
    loop {
        match capture.next_packet() {
            Ok(packet) => {
                packets += 1;
                let captured = CapturedPacket {
                    ts: timestamp(packet.header),
                    wire_len: packet.header.len,
                    data: packet.data,
                };
                handler.packet(&captured);
                progress.advance(packet.data.len() as u64 + record_overhead);
                if packets.is_multiple_of(STOP_CHECK_PACKETS) && stop.load(Ordering::Relaxed) {
                    return Ok(true);
                }
            }
            Err(pcap::Error::NoMorePackets) => return Ok(false),
            Err(e) => {
                let detail = pcap_detail(&e);
                let path = shown(path);
                return Err(if detail.contains("truncated") {
                    CaptureError::Truncated {
                        path,
                        packets,
                        detail,
                    }
                } else {
                    CaptureError::Read {
                        path,
                        packets,
                        detail,
                    }
                });
            }
        }
    }
}

/// Opens the interface of `config`, with `filter`.
fn open_live(
    config: &LiveConfig,
    filter: Option<&str>,
) -> Result<pcap::Capture<pcap::Active>, CaptureError> {
    let interface_error = |e: pcap::Error| CaptureError::Interface {
        interface: config.interface.clone(),
        detail: pcap_detail(&e),
    };
    // Non-blocking, with our own poll below: a blocked read would not see
    // SIGTERM on a quiet network, nor give the pipeline its idle flushes.
    let mut capture = pcap::Capture::from_device(config.interface.as_str())
        .map_err(interface_error)?
        .promisc(config.promiscuous)
        .snaplen(config.snaplen)
        .buffer_size(config.buffer_bytes)
        .timeout(LIVE_READ_TIMEOUT_MS)
        .open()
        .and_then(|c| c.setnonblock())
        .map_err(interface_error)?;
    apply_filter(&mut capture, filter)?;
    Ok(capture)
}

fn read_live(
    config: &LiveConfig,
    filter: Option<&str>,
    stop: &AtomicBool,
    handler: &mut impl PacketHandler,
) -> Result<bool, CaptureError> {
    let mut capture = match config.opened.take() {
        Some(capture) => capture,
        None => open_live(config, filter)?,
    };
    if let Some(hook) = &config.after_open {
        (hook.0)()?;
    }
    let link = LinkType::from_dlt(capture.get_datalink().0);
    tracing::info!(interface = %config.interface, link = link.name(), snaplen = config.snaplen, "live capture started");
    handler.source_started(0, &config.interface, link);
    let mut last_stats = Instant::now();
    let mut wide = WideCounters::default();
    let mut read_stats = |capture: &mut pcap::Capture<pcap::Active>| {
        capture
            .stats()
            .ok()
            .map(|s| wide.update(s.received, s.dropped, s.if_dropped))
    };
    loop {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        match capture.next_packet() {
            Ok(packet) => {
                let captured = CapturedPacket {
                    ts: timestamp(packet.header),
                    wire_len: packet.header.len,
                    data: packet.data,
                };
                handler.packet(&captured);
            }
            Err(pcap::Error::TimeoutExpired) => {
                handler.idle();
                wait_readable(&capture);
            }
            Err(pcap::Error::NoMorePackets) => break,
            Err(e) => {
                return Err(CaptureError::Interface {
                    interface: config.interface.clone(),
                    detail: pcap_detail(&e),
                });
            }
        }
        if last_stats.elapsed() >= Duration::from_secs(1) {
            last_stats = Instant::now();
            if let Some(stats) = read_stats(&mut capture) {
                handler.kernel_stats(stats);
            }
        }
    }
    if let Some(stats) = read_stats(&mut capture) {
        handler.kernel_stats(stats);
    }
    handler.idle();
    Ok(true)
}

/// Waits until the capture has packets, the read timeout passes, or a
/// signal arrives (which interrupts the poll, so the stop flag is seen).
fn wait_readable(capture: &pcap::Capture<pcap::Active>) {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    let timeout = Timespec {
        tv_sec: 0,
        tv_nsec: i64::from(LIVE_READ_TIMEOUT_MS) * 1_000_000,
    };
    let mut fds = [PollFd::new(capture, PollFlags::IN)];
    // Any outcome — readable, timed out, interrupted — sends the loop round.
    let _ = poll(&mut fds, Some(&timeout));
}

/// An interface libpcap can capture on.
#[derive(Debug, Clone)]
pub struct Interface {
    /// Name, as `-i` takes it.
    pub name: String,
    /// Description, where the system has one.
    pub description: Option<String>,
    /// Addresses.
    pub addresses: Vec<std::net::IpAddr>,
    /// Whether it is up.
    pub up: bool,
    /// Whether it is a loopback interface.
    pub loopback: bool,
}

/// Interfaces libpcap can capture on.
pub fn list_interfaces() -> Result<Vec<Interface>, CaptureError> {
    let devices = pcap::Device::list().map_err(|e| CaptureError::List(pcap_detail(&e)))?;
    Ok(devices
        .into_iter()
        .map(|d| Interface {
            up: d.flags.is_up(),
            loopback: d.flags.is_loopback(),
            addresses: d.addresses.iter().map(|a| a.addr).collect(),
            description: d.desc,
            name: d.name,
        })
        .collect())
}

/// A progress bar on stderr for replays, drawn only when stderr is a terminal.
struct Progress {
    bar: Option<ProgressBar>,
    overheads: Vec<u64>,
    started: Instant,
    last_draw: std::cell::Cell<Instant>,
    packets: std::cell::Cell<u64>,
}

/// Per-record framing bytes, used to estimate how far into a file we are:
/// pcap has a 16-byte record header; pcapng an enhanced packet block of 32
/// bytes plus padding.
const PCAP_RECORD_OVERHEAD: u64 = 16;
const PCAPNG_RECORD_OVERHEAD: u64 = 34;
const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

impl Progress {
    fn new(paths: &[PathBuf]) -> Progress {
        let overheads = paths
            .iter()
            .map(|p| {
                let mut magic = [0u8; 4];
                // Only a regular file is peeked at: a stream's first bytes
                // are libpcap's to read.
                let is_ng = !is_stream(p)
                    && File::open(p)
                        .and_then(|mut f| f.read_exact(&mut magic))
                        .is_ok()
                    && magic == PCAPNG_MAGIC;
                if is_ng {
                    PCAPNG_RECORD_OVERHEAD
                } else {
                    PCAP_RECORD_OVERHEAD
                }
            })
            .collect();
        let now = Instant::now();
        let bar = std::io::stderr().is_terminal().then(|| {
            let total: u64 = paths
                .iter()
                .filter_map(|p| std::fs::metadata(p).ok())
                .map(|m| m.len())
                .sum();
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        });
        Progress {
            bar,
            overheads,
            started: now,
            last_draw: std::cell::Cell::new(now),
            packets: std::cell::Cell::new(0),
        }
    }

    fn record_overhead(&self, index: usize) -> u64 {
        self.overheads
            .get(index)
            .copied()
            .unwrap_or(PCAP_RECORD_OVERHEAD)
    }

    fn advance(&self, bytes: u64) {
        let Some(bar) = &self.bar else { return };
        bar.inc(bytes);
        self.packets.set(self.packets.get() + 1);
        if self.last_draw.get().elapsed() >= PROGRESS_REDRAW {
            self.last_draw.set(Instant::now());
            let secs = self.started.elapsed().as_secs_f64().max(1e-3);
            bar.set_message(format!(
                "{} packets, {:.0} packets/s",
                self.packets.get(),
                self.packets.get() as f64 / secs
            ));
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_counters_keep_counting_past_32_bits() {
        let mut wide = WideCounters::default();
        assert_eq!(
            wide.update(10, 2, 1),
            KernelStats {
                received: 10,
                dropped: 2,
                if_dropped: 1
            }
        );
        let near = u32::MAX - 5;
        assert_eq!(wide.update(near, 2, 1).received, u64::from(near));
        // ps_recv wraps: 6 packets to u32::MAX + 1, then 10 more.
        let after = wide.update(10, 3, 1);
        assert_eq!(after.received, u64::from(u32::MAX) + 11);
        assert_eq!((after.dropped, after.if_dropped), (3, 1));
    }
}
