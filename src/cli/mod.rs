//! The command line: parse arguments, set up logging, run, and turn the
//! outcome into one line on stderr and an exit code.
//!
//! Exit codes: 0 when the input was read to its end (or a live capture was
//! stopped by SIGINT/SIGTERM), 1 on any error — after everything that could
//! be processed has been written — 2 on a usage error, 130 when a replay was
//! interrupted.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser};

use crate::baseline::engine::EngineConfig;
use crate::baseline::{
    DEFAULT_BURST_COUNT, DEFAULT_FANOUT_DESTINATIONS, DEFAULT_LEARN_LIVE, DEFAULT_LEARN_REPLAY,
    DEFAULT_RATE_BURST_RATIO, Learn, Thresholds, parse_duration,
};
use crate::capture::{self, DEFAULT_BUFFER_BYTES, DEFAULT_SNAPLEN, LiveConfig, Source};
use crate::decode::DecodeOptions;
use crate::device::{DEFAULT_HOME_NETS, HomeNets};
use crate::flow::{FlowConfig, MAX_FLOWS_PER_WORKER};
use crate::output::{Outputs, SinkSpec};
mod config_file;
mod policy;
pub mod values;

use crate::pipeline::{
    self, DEFAULT_LOSS_WARNING_PERCENT, DEFAULT_STATE_INTERVAL_SECS, DEFAULT_STATS_INTERVAL_SECS,
    Ending, PipelineConfig, RunError, budget,
};

/// Passive medical-device traffic monitor: reads a capture file or a SPAN
/// port, inventories the devices it sees and writes events as JSON lines.
#[derive(Debug, Parser)]
#[command(name = "medtap", version, about, long_about = None)]
#[command(after_help = "Examples:
  medtap -r capture.pcapng
  medtap -r capture.pcap -o events.json --inventory devices.json
  medtap -r capture.pcap 'tcp port 104 or port 2575'
  medtap -i eth1 -o /var/log/medtap/eve.json
  medtap --config /etc/medtap/medtap.toml
  medtap --list-interfaces
  medtap policy --state base.json --format nftables")]
// Each option is declared here once: its flag, default, help and the check
// of its value (`values`); its configuration-file key is its name, read by
// the same parser (`config_file`), and docs/configuration.md's row is held
// to it by a test.
// The top-level options and the subcommands never mix: `medtap policy …`
// is its own command, and every `medtap -r …` reads as before.
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    /// Capture live from an interface (a SPAN or TAP port).
    #[arg(short = 'i', long = "interface", value_name = "IFACE", value_parser = values::not_empty)]
    pub interface: Option<String>,

    /// Read packets from a pcap or pcapng file (`-` for standard input);
    /// repeat to read several in order.
    #[arg(
        short = 'r',
        long = "read",
        value_name = "FILE",
        conflicts_with = "interface"
    )]
    pub read: Vec<PathBuf>,

    /// Write events to PATH (`-` for standard output, the default); a file is appended to.
    #[arg(short = 'o', long = "output", value_name = "PATH")]
    pub output: Vec<String>,

    /// The sensor's name, every event's `host` [default: the host name].
    #[arg(long, value_name = "NAME", value_parser = values::sensor_name)]
    pub sensor_name: Option<String>,

    /// Write the device inventory to FILE as JSON: at the end of a replay,
    /// and every stats interval live. Replaced atomically.
    #[arg(long, value_name = "FILE")]
    pub inventory: Option<PathBuf>,

    /// Keep events a network sink cannot deliver yet in DIR, one directory
    /// per sink [default: /var/lib/medtap/spool if it can be created and
    /// written, else $XDG_STATE_HOME/medtap/spool or ~/.local/state/medtap/spool].
    #[arg(long, value_name = "DIR")]
    pub spool: Option<PathBuf>,

    /// After opening the live capture, switch to this user and its group (e.g. `nobody`); medtap exits if the switch fails
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,

    /// Serve Prometheus metrics (the `stats` counters, updated every
    /// `--stats-interval`) at http://ADDR:PORT/metrics.
    #[arg(long, value_name = "ADDR:PORT", value_parser = values::socket_address)]
    pub metrics: Option<String>,

    /// Read options from a TOML file (see docs/configuration.md); options
    /// given on the command line win.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Check a configuration file, print `config OK` or each problem, and exit.
    #[arg(long, value_name = "FILE")]
    pub check_config: Option<PathBuf>,

    /// List the interfaces libpcap can capture on, and exit.
    #[arg(long)]
    pub list_interfaces: bool,

    /// Networks whose senders are devices, comma-separated CIDRs (repeatable).
    #[arg(long = "home-net", value_name = "CIDR[,CIDR…]", value_delimiter = ',',
          value_parser = values::cidr)]
    pub home_net: Vec<String>,

    /// Worker threads [default: one per core beyond the first, at least one].
    #[arg(short = 'w', long, value_name = "N", value_parser = values::within(1, values::MAX_WORKERS))]
    pub workers: Option<u16>,

    /// Verify IPv4, TCP, UDP and ICMPv6 checksums and count failures as
    /// invalid. Off by default: host captures carry offloaded checksums.
    #[arg(long)]
    pub verify_checksums: bool,

    /// Write one event per DICOM association (`dicom`), HL7 message (`hl7`)
    /// and MQTT connection (`mqtt`), for forensics.
    #[arg(long)]
    pub log_protocols: bool,

    /// With --log-protocols: list everything a record holds at length
    /// (every DICOM presentation context) instead of a summary with counts.
    #[arg(long)]
    pub full_records: bool,

    /// Snap length for live capture, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_SNAPLEN,
          value_parser = values::within(1, values::MAX_SNAPLEN))]
    pub snaplen: i32,

    /// Kernel capture buffer for live capture, in bytes.
    #[arg(long = "buffer-size", value_name = "BYTES", default_value_t = DEFAULT_BUFFER_BYTES,
          value_parser = values::within(1, i32::MAX))]
    pub buffer_size: i32,

    /// Do not put the interface into promiscuous mode.
    #[arg(long)]
    pub no_promisc: bool,

    /// Seconds between `stats` events and inventory writes in live capture.
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_STATS_INTERVAL_SECS,
          value_parser = values::within(1, values::MAX_STATS_INTERVAL_SECS))]
    pub stats_interval: u64,

    /// Flows each worker tracks at most (the memory budget may allow
    /// fewer).
    #[arg(long, value_name = "N", default_value_t = MAX_FLOWS_PER_WORKER,
          value_parser = values::within(1, usize::MAX))]
    pub max_flows: usize,

    /// The memory budget for everything that grows with traffic (flows,
    /// reassembly, parsers, devices), e.g. `512M`, `2G`; at it, flows and
    /// then unidentified devices are evicted, and counted (see
    /// docs/performance.md) [default: 1G]
    #[arg(long, value_name = "SIZE", default_value = "1G", hide_default_value = true,
          value_parser = budget::parse_memcap)]
    pub memcap: u64,

    /// BPF filter, as in tcpdump (e.g. `tcp port 104 or port 2575`); its
    /// words may come before or after the options.
    #[arg(value_name = "FILTER")]
    pub filter: Vec<String>,

    /// Live: write a `warning` event when capture loses more than PERCENT
    /// of a stats interval's packets (0 to 100).
    #[arg(long, value_name = "PERCENT", default_value_t = DEFAULT_LOSS_WARNING_PERCENT, value_parser = values::within(0.0, 100.0))]
    pub loss_warning: f64,

    /// Learn each device for this long from its first packet (packet time),
    /// then alert on departures: e.g. `30m`, `24h`, `7d`; `all` learns from
    /// the whole input and raises no alert [default: 24h live, 1h replay].
    #[arg(long, value_name = "DURATION|all", value_parser = parse_learn)]
    pub learn: Option<Learn>,

    /// Inventory and protocol records only: learn no baseline, raise no
    /// alert.
    #[arg(long, conflicts_with_all = ["learn", "state", "policy"])]
    pub no_baselines: bool,

    /// Load identities and baselines from FILE when it exists; save them at
    /// exit (and every --state-interval live), atomically.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,

    /// Seconds between state saves in live capture.
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_STATE_INTERVAL_SECS,
          value_parser = values::within(1, values::MAX_STATS_INTERVAL_SECS))]
    pub state_interval: u64,

    /// Repeats of an alert (same kind, device and subject) within this
    /// window are folded into one follow-up alert; `0` alerts every one.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    pub suppress: Duration,

    /// Distinct destinations outside a device's baseline within a minute
    /// that make a `fanout` alert.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_FANOUT_DESTINATIONS as u32,
          value_parser = values::within(values::MIN_BURST, u32::MAX))]
    pub fanout_threshold: u32,

    /// DICOM rejects, HL7 NAKs or MQTT authentication failures within a
    /// minute that make a burst alert.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_BURST_COUNT as u32,
          value_parser = values::within(values::MIN_BURST, u32::MAX))]
    pub burst_threshold: u32,

    /// Times its learned rate per active second a device must send a
    /// clinical protocol's messages (or bytes) at, for 5 seconds in a row,
    /// for a `rate_burst` alert.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_RATE_BURST_RATIO,
          value_parser = values::within(values::MIN_RATE_BURST_RATIO, values::MAX_RATE_BURST_RATIO))]
    pub rate_burst_ratio: f64,

    /// With --log-protocols: an MQTT connection or DICOM association open
    /// this long (packet time) gets an interim record, and another every
    /// interval; `0` writes records only when connections end.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub record_interval: Duration,

    /// Judge every connection against the segmentation policy in FILE
    /// (made by `medtap policy`): each one it would not allow, and each
    /// DICOM request its group never sent, raises a `policy_violation`
    /// alert. A file that does not parse is refused at start.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,

    /// More log output on stderr (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// No summary on stderr at the end of a replay.
    #[arg(short, long)]
    pub quiet: bool,

    /// A command other than capture.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Commands other than capture.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Write the segmentation policy learned in a state file to standard
    /// output (see docs/policy.md).
    Policy(policy::PolicyArgs),
}

fn parse_learn(text: &str) -> Result<Learn, String> {
    Learn::parse(text)
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "medtap: error: {message}");
    ExitCode::from(1)
}

/// A usage error found after parsing, said as clap says its own (the
/// problem, the usage line, where to find help), with clap's exit code 2.
fn usage_error(kind: clap::error::ErrorKind, message: impl std::fmt::Display) -> ExitCode {
    let _ = Args::command().error(kind, message).print();
    ExitCode::from(2)
}

/// Runs medtap with the process's arguments.
pub fn main() -> ExitCode {
    let command_line: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let parsed = Args::command()
        .try_get_matches_from(&command_line)
        .and_then(|matches| Args::from_arg_matches(&matches).map(|args| (matches, args)));
    let (matches, mut args) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    if let Some(Command::Policy(policy_args)) = &args.command {
        return policy::run(policy_args);
    }
    if let Some(twice) = crate::output::given_twice(&args.output) {
        return usage_error(
            clap::error::ErrorKind::ArgumentConflict,
            format!("the output {twice} is given twice"),
        );
    }
    init_logging(args.verbose);
    if let Some(path) = &args.check_config {
        return check_config(path);
    }
    if let Some(path) = args.config.clone() {
        let file = match config_file::load(&path) {
            Ok(file) => file,
            Err(problems) => return fail_all(&problems),
        };
        let merged = file.under(&command_line, &matches);
        args = match Args::command()
            .try_get_matches_from(merged)
            .and_then(|matches| Args::from_arg_matches(&matches))
        {
            Ok(args) => args,
            Err(e) => {
                let _ = e.print();
                return ExitCode::from(2);
            }
        };
    }
    run(args)
}

/// `--check-config FILE`: `config OK` on standard output and 0, or one line
/// per problem on standard error and 1.
fn check_config(path: &std::path::Path) -> ExitCode {
    match config_file::load(path) {
        Ok(file) => {
            // The policy file it names is read as a start would read it.
            let policy = file.alone().ok().and_then(|args| args.policy);
            if let Some(Err(e)) = policy.as_deref().map(crate::policy::Watch::load) {
                return fail_all(&[e]);
            }
            let _ = writeln!(std::io::stdout(), "config OK");
            ExitCode::SUCCESS
        }
        Err(problems) => fail_all(&problems),
    }
}

fn fail_all(problems: &[String]) -> ExitCode {
    let mut stderr = std::io::stderr().lock();
    for problem in problems {
        let _ = writeln!(stderr, "medtap: error: {problem}");
    }
    ExitCode::from(1)
}

/// Runs medtap with parsed arguments.
pub fn run(args: Args) -> ExitCode {
    if args.list_interfaces {
        return list_interfaces();
    }
    let mut source = match (&args.interface, args.read.is_empty()) {
        (Some(interface), true) => Source::Live(LiveConfig {
            interface: interface.clone(),
            promiscuous: !args.no_promisc,
            after_open: None,
            opened: Default::default(),
            snaplen: args.snaplen,
            buffer_bytes: args.buffer_size,
        }),
        (None, false) => Source::Files(capture::Files::new(args.read.clone())),
        // Only a configuration file can give both (the command line's
        // own are in conflict); the command line's source wins whole.
        (Some(_), false) => {
            return usage_error(
                clap::error::ErrorKind::ArgumentConflict,
                "read and interface cannot both be given",
            );
        }
        (None, true) => {
            return usage_error(
                clap::error::ErrorKind::MissingRequiredArgument,
                "nothing to read: give -r FILE or -i IFACE",
            );
        }
    };
    if args
        .read
        .iter()
        .filter(|p| p.as_os_str() == capture::STDIN)
        .count()
        > 1
    {
        return usage_error(
            clap::error::ErrorKind::ArgumentConflict,
            "standard input (-r -) can be read only once",
        );
    }
    let home_nets = if args.home_net.is_empty() {
        HomeNets::parse(DEFAULT_HOME_NETS)
    } else {
        HomeNets::parse(&args.home_net)
    };
    let home_nets = match home_nets {
        Ok(nets) => nets,
        Err(e) => return fail(format_args!("bad --home-net: {e}")),
    };
    let filter = (!args.filter.is_empty()).then(|| args.filter.join(" "));
    // Everything that can be refused is, before anything is written.
    if let Some(path) = &args.inventory
        && let Err(e) = crate::output::check_inventory(path)
    {
        return fail(e);
    }
    // What a state file that exists may be is checked as it is read.
    if let Some(path) = &args.state
        && let Err(e) = crate::output::files::check_directory(path)
    {
        return fail(format_args!(
            "state file {}: cannot write it: {e}",
            path.display()
        ));
    }
    let policy = match &args.policy {
        Some(path) => match crate::policy::Watch::load(path) {
            Ok(watch) => Some(Arc::new(watch)),
            Err(e) => return fail(e),
        },
        None => None,
    };
    if let Err(e) = capture::prepare(&source, filter.as_deref()) {
        return fail(e);
    }
    let learn = args.learn.unwrap_or(Learn::For(match source {
        Source::Live(_) => DEFAULT_LEARN_LIVE,
        Source::Files(_) => DEFAULT_LEARN_REPLAY,
    }));
    let baseline = EngineConfig {
        learn,
        internal: home_nets.clone(),
        suppression_secs: args.suppress.as_secs(),
        thresholds: Thresholds {
            fanout_destinations: args.fanout_threshold as usize,
            burst_count: args.burst_threshold as usize,
            rate_burst_ratio: args.rate_burst_ratio,
            ..Thresholds::default()
        },
    };
    let config = PipelineConfig {
        workers: args
            .workers
            .map(usize::from)
            .unwrap_or_else(pipeline::default_workers),
        decode: DecodeOptions {
            verify_checksums: args.verify_checksums,
        },
        flow: FlowConfig {
            max_flows: args.max_flows,
            ..FlowConfig::default()
        },
        home_nets,
        stats_interval: Duration::from_secs(args.stats_interval.max(1)),
        inventory: args.inventory.clone(),
        filter,
        log_protocols: args.log_protocols,
        full_records: args.full_records,
        record_interval: args.record_interval,
        baselines: !args.no_baselines,
        baseline,
        state: args.state.clone(),
        state_interval: Duration::from_secs(args.state_interval.max(1)),
        loss_warning_percent: args.loss_warning,
        memcap: args.memcap,
        policy,
    };
    let stop = match crate::service::stop_on_signals() {
        Ok(stop) => stop,
        Err(e) => return fail(format_args!("cannot install signal handlers: {e}")),
    };
    if let Err(e) = crate::service::reopen_on_sighup(crate::output::request_reopen) {
        return fail(format_args!("cannot install the SIGHUP handler: {e}"));
    }
    let specs: Vec<SinkSpec> = if args.output.is_empty() {
        vec![SinkSpec::Stdout]
    } else {
        args.output.iter().map(|o| SinkSpec::parse(o)).collect()
    };
    if let Some(name) = &args.sensor_name {
        crate::output::set_sensor_name(name);
    }
    let pipe_closed = Arc::new(AtomicBool::new(false));
    let mut outputs = match Outputs::open(
        &specs,
        args.spool.as_deref(),
        Arc::clone(&stop),
        Arc::clone(&pipe_closed),
    ) {
        Ok(outputs) => outputs,
        Err(e) => return fail(e),
    };
    if let Source::Live(live) = &mut source
        && let Some(user) = args.user.clone()
    {
        let mut handover = outputs.handover(args.inventory.clone());
        handover.state = args.state.clone();
        live.after_open = Some(capture::AfterOpen::new(move || {
            crate::service::drop_privileges(&user, &handover)
        }));
    }
    if let Some(addr) = &args.metrics {
        match crate::output::metrics::serve(addr) {
            Ok(slot) => outputs.set_metrics(slot),
            Err(e) => return fail(format_args!("cannot serve metrics on {addr}: {e}")),
        }
    }
    tracing::info!(workers = config.workers, "starting");
    let started = std::time::Instant::now();
    let replay = matches!(source, Source::Files(_));
    let ended = pipeline::run(&source, &config, outputs, &stop);
    // A reader that closed our standard output has all it wanted.
    if pipe_closed.load(Ordering::Relaxed) {
        return ExitCode::SUCCESS;
    }
    if let Ok((_, summary)) = &ended
        && replay
        && !args.quiet
    {
        let files = args.read.len();
        print_summary(summary, files, started.elapsed());
    }
    // A replay whose events did not all reach their receivers is not a
    // success a script may take for one.
    let undelivered = match &ended {
        Ok((_, summary)) if replay => summary
            .sinks
            .iter()
            .any(|s| s.dropped > 0 || s.spool_bytes > 0 || s.oversized > 0),
        _ => false,
    };
    match ended.map(|(ending, _)| ending) {
        Ok(Ending::Complete) if undelivered => ExitCode::from(EXIT_UNDELIVERED),
        Ok(Ending::Complete) => ExitCode::SUCCESS,
        Ok(Ending::Stopped) => {
            let _ = writeln!(std::io::stderr(), "medtap: interrupted");
            ExitCode::from(130)
        }
        // Logged when it happened, while other outputs went on.
        Err(RunError::Output(e)) if e.was_logged() => ExitCode::from(1),
        Err(e) => fail(e),
    }
}

/// The exit code of a replay that read everything but whose events did not
/// all reach a network sink's receiver (some were dropped, too large to
/// send even shortened, or wait in the spool for the next run).
pub const EXIT_UNDELIVERED: u8 = 3;

/// What a replay did, on stderr: packets read, devices, alerts by severity,
/// and what became of the events each network sink was given.
fn print_summary(summary: &pipeline::Summary, files: usize, took: std::time::Duration) {
    let Some(stats) = &summary.stats else {
        return;
    };
    let mut lines = Vec::new();
    let captures = if files == 1 { "capture" } else { "captures" };
    lines.push(format!(
        "read {} packets ({} bytes) from {files} {captures} in {:.1} s",
        stats.capture.packets,
        stats.capture.bytes,
        took.as_secs_f64()
    ));
    let mut by_severity: std::collections::BTreeMap<crate::alert::Severity, u64> =
        Default::default();
    for (name, count) in &stats.alerts.by_kind {
        if let Some(kind) = crate::alert::Kind::ALL.iter().find(|k| k.name() == *name) {
            *by_severity.entry(kind.severity()).or_default() += count;
        }
    }
    let severities: Vec<String> = by_severity
        .iter()
        .rev()
        .map(|(severity, count)| format!("{count} {}", severity.as_str()))
        .collect();
    lines.push(format!(
        "{} devices ({} learning, {} watched); {} alerts{}",
        stats.device.total,
        stats.baselines.learning,
        stats.baselines.watching,
        stats.alerts.total(),
        if severities.is_empty() {
            String::new()
        } else {
            format!(": {}", severities.join(", "))
        }
    ));
    for sink in &summary.sinks {
        let mut line = format!(
            "{}: {} delivered, {} spooled ({} bytes still in the spool), {} dropped",
            sink.name, sink.delivered, sink.spooled, sink.spool_bytes, sink.dropped
        );
        if sink.shortened > 0 || sink.oversized > 0 {
            line.push_str(&format!(
                ", {} shortened and {} not sent to fit max_size",
                sink.shortened, sink.oversized
            ));
        }
        lines.push(line);
    }
    let mut err = std::io::stderr().lock();
    for line in lines {
        let _ = writeln!(err, "medtap: {line}");
    }
}

fn list_interfaces() -> ExitCode {
    match capture::list_interfaces() {
        Ok(interfaces) => {
            let mut out = std::io::stdout().lock();
            for i in interfaces {
                let addresses: Vec<String> = i.addresses.iter().map(|a| a.to_string()).collect();
                let state = if i.up { "up" } else { "down" };
                let kind = if i.loopback { " loopback" } else { "" };
                let line = format!(
                    "{}\t{state}{kind}\t{}\t{}",
                    i.name,
                    addresses.join(","),
                    i.description.unwrap_or_default()
                );
                if writeln!(out, "{}", line.trim_end()).is_err() {
                    break;
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}
