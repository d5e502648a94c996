//! The configuration file (`--config FILE`): TOML, one key per command-line
//! option, for running medtap as a service.
//!
//! Keys mirror the options of [`Args`](crate::cli::Args) (see
//! `docs/configuration.md`). A value given on the command line wins over the
//! file's. The file is checked whole before anything starts, and every
//! problem found is reported as one line naming the file (and line, where the
//! TOML parser knows it): unknown keys, values of the wrong type, numbers out
//! of range, bad CIDRs, sink URLs that do not parse, CA files and capture
//! files that cannot be read, a BPF filter that does not compile.
//!
//! Checking never touches the network: network sinks are built from their
//! URLs exactly as at start, and building one neither resolves nor connects
//! (the first delivery does).

use std::fs::File;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::capture::DEFAULT_SNAPLEN;
use crate::device::HomeNets;
use crate::output::{SinkSpec, remote};

/// Worker threads at most, as on the command line.
pub const MAX_WORKERS: i64 = 256;
/// Largest snap length, in bytes: libpcap's own maximum.
pub const MAX_SNAPLEN: i64 = DEFAULT_SNAPLEN as i64;
/// Longest stats interval, in seconds (one day).
pub const MAX_STATS_INTERVAL_SECS: i64 = 86_400;

/// Every key the file may hold, in the order of `docs/configuration.md`.
pub const KEYS: &[&str] = &[
    "interface",
    "read",
    "outputs",
    "sensor_name",
    "inventory",
    "spool",
    "user",
    "metrics",
    "workers",
    "home_nets",
    "verify_checksums",
    "log_protocols",
    "full_records",
    "snaplen",
    "buffer_size",
    "promisc",
    "stats_interval",
    "max_flows",
    "memcap",
    "filter",
    "loss_warning",
    "learn",
    "state",
    "state_interval",
    "suppress",
    "fanout_threshold",
    "burst_threshold",
    "rate_burst_ratio",
    "record_interval",
    "policy",
];

/// The configuration file's contents. A key left out leaves the command
/// line's value (or its default) alone.
///
/// Numbers are read as `i64` so that a negative or huge value is reported as
/// out of range with its limits, not as a type error.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `-i`: capture live from this interface.
    pub interface: Option<String>,
    /// `-r`: read these capture files, in order.
    pub read: Option<Vec<PathBuf>>,
    /// `-o`: sinks (`-`, a file path, or a network URL).
    pub outputs: Option<Vec<String>>,
    /// `--inventory`: the device inventory file.
    pub inventory: Option<PathBuf>,
    /// `--spool`: where network sinks keep what they cannot deliver yet.
    pub spool: Option<PathBuf>,
    /// `--sensor-name`: every event's `host`.
    pub sensor_name: Option<String>,
    /// `--user`: the user to switch to once the live capture is open.
    pub user: Option<String>,
    /// `--metrics`: ADDR:PORT of the Prometheus endpoint.
    pub metrics: Option<String>,
    /// `--workers`.
    pub workers: Option<i64>,
    /// `--home-net`: CIDRs whose senders are devices.
    pub home_nets: Option<Vec<String>>,
    /// `--verify-checksums`.
    pub verify_checksums: Option<bool>,
    /// `--log-protocols`.
    pub log_protocols: Option<bool>,
    /// `--full-records`.
    pub full_records: Option<bool>,
    /// `--snaplen`, in bytes.
    pub snaplen: Option<i64>,
    /// `--buffer-size`, in bytes.
    pub buffer_size: Option<i64>,
    /// Promiscuous mode; `false` is `--no-promisc`.
    pub promisc: Option<bool>,
    /// `--stats-interval`, in seconds.
    pub stats_interval: Option<i64>,
    /// `--max-flows`, per worker.
    pub max_flows: Option<i64>,
    /// `--memcap`: the memory budget, a size (`1G`, `256M`).
    pub memcap: Option<String>,
    /// The BPF filter (the command line's trailing words).
    pub filter: Option<String>,
    /// `--loss-warning`, in percent.
    pub loss_warning: Option<f64>,
    /// `--learn`: a duration (`24h`) or `all`.
    pub learn: Option<String>,
    /// `--state`: the identities-and-baselines file.
    pub state: Option<PathBuf>,
    /// `--state-interval`, in seconds.
    pub state_interval: Option<i64>,
    /// `--suppress`: the alert suppression window, a duration (`1h`).
    pub suppress: Option<String>,
    /// `--fanout-threshold`.
    pub fanout_threshold: Option<i64>,
    /// `--burst-threshold`.
    pub burst_threshold: Option<i64>,
    /// `--rate-burst-ratio`.
    pub rate_burst_ratio: Option<f64>,
    /// `--record-interval`: a duration (`5m`), `0` for none.
    pub record_interval: Option<String>,
    /// `--policy`: the segmentation policy to judge connections against.
    pub policy: Option<PathBuf>,
}

/// Reads and checks the file at `path`. On failure, returns every problem
/// found, one line each, each starting with the path.
pub fn load(path: &Path) -> Result<Config, Vec<String>> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| vec![format!("{shown}: {e}")])?;
    let config = parse(&text).map_err(|problems| {
        problems
            .into_iter()
            .map(|p| format!("{shown}:{p}"))
            .collect::<Vec<_>>()
    })?;
    let problems = config.problems();
    if problems.is_empty() {
        Ok(config)
    } else {
        Err(problems
            .into_iter()
            .map(|p| format!("{shown}: {p}"))
            .collect())
    }
}

/// Parses TOML text; problems are `LINE: message`.
fn parse(text: &str) -> Result<Config, Vec<String>> {
    let at = |span: Option<std::ops::Range<usize>>| {
        let line = span.map_or(1, |s| {
            text.get(..s.start)
                .map_or(1, |before| before.matches('\n').count() + 1)
        });
        format!("{line}")
    };
    let one_line = |message: &str| message.trim().replace('\n', "; ");
    // First as a plain table, to name every unknown key at once (serde stops
    // at the first).
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        vec![format!("{}: {}", at(e.span()), one_line(e.message()))]
    })?;
    let mut unknown: Vec<(usize, &String)> = table
        .keys()
        .filter(|k| !KEYS.contains(&k.as_str()))
        .map(|k| (line_of_key(text, k), k))
        .collect();
    if !unknown.is_empty() {
        unknown.sort();
        return Err(unknown
            .into_iter()
            .map(|(line, k)| {
                format!(
                    "{line}: unknown key {k:?} (known keys: {})",
                    KEYS.join(", ")
                )
            })
            .collect());
    }
    toml::from_str(text).map_err(|e| vec![format!("{}: {}", at(e.span()), one_line(e.message()))])
}

/// The line where top-level key `key` is set, best effort (1 if not found).
fn line_of_key(text: &str, key: &str) -> usize {
    text.lines()
        .position(|line| {
            let line = line.trim_start();
            let name = line.split('=').next().unwrap_or_default().trim();
            name == key || name.trim_matches(['"', '\'']) == key
        })
        .map_or(1, |i| i + 1)
}

/// Parses `--rate-burst-ratio`: a number from 2 to 10 000.
pub fn parse_ratio(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if (MIN_RATE_BURST_RATIO..=MAX_RATE_BURST_RATIO).contains(&value) {
        Ok(value)
    } else {
        Err(format!(
            "{text} is out of range ({MIN_RATE_BURST_RATIO} to {MAX_RATE_BURST_RATIO})"
        ))
    }
}

/// The lowest `--rate-burst-ratio`: below a doubling, the ward's own
/// texture would be alerted.
pub const MIN_RATE_BURST_RATIO: f64 = 2.0;
/// The highest `--rate-burst-ratio`.
pub const MAX_RATE_BURST_RATIO: f64 = 10_000.0;

// The outputs name the sensor, so the limit on its name is theirs.
pub use crate::output::MAX_SENSOR_NAME;

/// A sensor name (`--sensor-name`): printable ASCII without spaces, as a
/// syslog HOSTNAME must be, at most [`MAX_SENSOR_NAME`] bytes.
pub fn parse_sensor_name(name: &str) -> Result<String, String> {
    if name.is_empty() || name.len() > MAX_SENSOR_NAME {
        return Err(format!("must be 1 to {MAX_SENSOR_NAME} characters"));
    }
    if !name.bytes().all(|b| (33..=126).contains(&b)) {
        return Err("must be printable ASCII without spaces".to_owned());
    }
    Ok(name.to_owned())
}

/// A percentage from 0 to 100 (`--loss-warning`).
pub fn parse_percent(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if (0.0..=100.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{text} is out of range (0 to 100)"))
    }
}

/// `Some(problem)` when `value` is set and outside `min..=max`.
fn out_of_range(key: &str, value: Option<i64>, min: i64, max: i64) -> Option<String> {
    value
        .filter(|v| !(min..=max).contains(v))
        .map(|v| format!("{key} = {v} is out of range ({min} to {max})"))
}

impl Config {
    /// Everything wrong with the values, one line each; empty when none.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.interface.is_some() && self.read.as_ref().is_some_and(|r| !r.is_empty()) {
            problems.push("interface and read: give one or the other, not both".to_owned());
        }
        if let Some(addr) = &self.metrics
            && addr.parse::<std::net::SocketAddr>().is_err()
        {
            problems.push(format!("metrics: expected ADDR:PORT, got {addr:?}"));
        }
        if self.interface.as_ref().is_some_and(|i| i.trim().is_empty()) {
            problems.push("interface is empty".to_owned());
        }
        for path in self.read.iter().flatten() {
            // `-` is standard input, opened when medtap runs.
            if path.as_os_str() == crate::capture::STDIN {
                continue;
            }
            if let Err(e) = File::open(path) {
                problems.push(format!("read: cannot open {}: {e}", path.display()));
            }
        }
        if let Some(twice) = self.outputs.as_deref().and_then(crate::output::given_twice) {
            problems.push(format!("outputs: {twice} is given twice"));
        }
        for output in self.outputs.iter().flatten() {
            match SinkSpec::parse(output) {
                SinkSpec::Remote(url) => {
                    // Builds the sink as at start, which reads a CA file but
                    // neither resolves nor connects.
                    if let Err(e) = remote::open(&url) {
                        problems.push(format!("outputs: {e}"));
                    }
                }
                SinkSpec::Local(url) => {
                    if let Err(e) = crate::output::local_target(&url) {
                        problems.push(format!("outputs: {e}"));
                    }
                }
                SinkSpec::File(path) if path.as_os_str().is_empty() => {
                    problems.push("outputs: an empty path".to_owned());
                }
                SinkSpec::File(_) | SinkSpec::Stdout => {}
            }
        }
        for net in self.home_nets.iter().flatten() {
            if let Err(e) = HomeNets::parse(&[net]) {
                problems.push(format!("home_nets: bad CIDR {net:?}: {e}"));
            }
        }
        problems.extend(out_of_range("workers", self.workers, 1, MAX_WORKERS));
        problems.extend(out_of_range("snaplen", self.snaplen, 1, MAX_SNAPLEN));
        problems.extend(out_of_range(
            "buffer_size",
            self.buffer_size,
            1,
            i64::from(i32::MAX),
        ));
        problems.extend(out_of_range(
            "stats_interval",
            self.stats_interval,
            1,
            MAX_STATS_INTERVAL_SECS,
        ));
        problems.extend(out_of_range(
            "max_flows",
            self.max_flows,
            1,
            i64::try_from(usize::MAX).unwrap_or(i64::MAX),
        ));
        if let Some(memcap) = &self.memcap
            && let Err(e) = crate::pipeline::budget::parse_memcap(memcap)
        {
            problems.push(format!("memcap: {e}"));
        }
        if let Some(filter) = &self.filter
            && !filter.trim().is_empty()
            && let Err(e) = check_filter(filter)
        {
            problems.push(format!("filter {filter:?} does not compile: {e}"));
        }
        if let Some(name) = &self.sensor_name
            && let Err(e) = parse_sensor_name(name)
        {
            problems.push(format!("sensor_name {name:?} {e}"));
        }
        if let Some(learn) = &self.learn
            && let Err(e) = crate::baseline::Learn::parse(learn)
        {
            problems.push(format!("learn: {e}"));
        }
        if let Some(window) = &self.suppress
            && let Err(e) = crate::baseline::parse_duration(window)
        {
            problems.push(format!("suppress: {e}"));
        }
        problems.extend(out_of_range(
            "state_interval",
            self.state_interval,
            1,
            MAX_STATS_INTERVAL_SECS,
        ));
        problems.extend(out_of_range(
            "fanout_threshold",
            self.fanout_threshold,
            2,
            i64::from(u32::MAX),
        ));
        problems.extend(out_of_range(
            "burst_threshold",
            self.burst_threshold,
            2,
            i64::from(u32::MAX),
        ));
        if let Some(percent) = self.loss_warning
            && !(0.0..=100.0).contains(&percent)
        {
            problems.push(format!(
                "loss_warning = {percent} is out of range (0 to 100)"
            ));
        }
        if let Some(ratio) = self.rate_burst_ratio
            && let Err(e) = parse_ratio(&ratio.to_string())
        {
            problems.push(format!("rate_burst_ratio: {e}"));
        }
        if let Some(interval) = &self.record_interval
            && let Err(e) = crate::baseline::parse_duration(interval)
        {
            problems.push(format!("record_interval: {e}"));
        }
        problems
    }
}

/// Compiles `filter` for Ethernet without opening any device.
fn check_filter(filter: &str) -> Result<(), pcap::Error> {
    pcap::Capture::dead(pcap::Linktype::ETHERNET)?
        .compile(filter, true)
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVERY_KEY: &str = r#"
interface = "lo"
outputs = ["-", "/var/log/medtap/eve.json", "syslog+tcp://siem.example:514?format=cef", "redis://127.0.0.1:6379/medtap?mode=xadd"]
inventory = "/var/lib/medtap/devices.json"
spool = "/var/lib/medtap/spool"
user = "medtap"
metrics = "127.0.0.1:9911"
workers = 4
home_nets = ["10.0.0.0/8", "fd00::/8"]
verify_checksums = true
log_protocols = true
snaplen = 65535
buffer_size = 33554432
promisc = false
stats_interval = 30
max_flows = 100000
memcap = "2G"
filter = "tcp port 104 or port 2575"
loss_warning = 0.5
learn = "24h"
state = "/var/lib/medtap/state.json"
state_interval = 300
suppress = "1h"
fanout_threshold = 20
burst_threshold = 5
rate_burst_ratio = 10.0
record_interval = "5m"
sensor_name = "icu-span-1"
full_records = false
policy = "/etc/medtap/policy.json"
"#;

    #[test]
    fn every_key_is_accepted() {
        let config = parse(EVERY_KEY).expect("parses");
        assert_eq!(config.problems(), Vec::<String>::new());
        assert_eq!(config.workers, Some(4));
        assert_eq!(config.promisc, Some(false));
        // `read` is the one key left out above (it excludes `interface`).
        let read = parse("read = [\"a.pcap\", \"b.pcap\"]").expect("parses");
        assert_eq!(read.read.map(|r| r.len()), Some(2));
        assert_eq!(KEYS.len(), 30);
        assert_eq!(config.sensor_name.as_deref(), Some("icu-span-1"));
        assert_eq!(config.full_records, Some(false));
        assert_eq!(config.memcap.as_deref(), Some("2G"));
        assert_eq!(config.learn.as_deref(), Some("24h"));
        assert_eq!(config.loss_warning, Some(0.5));
        assert_eq!(config.user.as_deref(), Some("medtap"));
        assert_eq!(config.metrics.as_deref(), Some("127.0.0.1:9911"));
        assert_eq!(config.spool, Some(PathBuf::from("/var/lib/medtap/spool")));
    }

    #[test]
    fn a_metrics_address_must_be_addr_and_port() {
        let config = parse("metrics = \"localhost\"\n").expect("parses");
        assert_eq!(
            config.problems(),
            vec!["metrics: expected ADDR:PORT, got \"localhost\"".to_owned()]
        );
    }

    #[test]
    fn the_same_output_twice_is_a_problem() {
        let config =
            parse("outputs = [\"-\", \"syslog+udp://127.0.0.1\", \"-\"]\n").expect("parses");
        assert_eq!(
            config.problems(),
            vec!["outputs: - is given twice".to_owned()]
        );
    }

    #[test]
    fn every_unknown_key_is_named_with_its_line() {
        let problems = parse("workers = 2\noutput = [\"-\"]\n\nhome_net = []\n").unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].starts_with("2: unknown key \"output\""),
            "{problems:?}"
        );
        assert!(
            problems[1].starts_with("4: unknown key \"home_net\""),
            "{problems:?}"
        );
    }

    #[test]
    fn a_wrong_type_is_one_line_with_its_line() {
        let problems = parse("\n\nworkers = \"four\"\n").unwrap_err();
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("3: "), "{problems:?}");
        assert!(!problems[0].contains('\n'));
    }

    #[test]
    fn numbers_are_checked_against_their_limits() {
        let config = parse(
            "workers = 0\nsnaplen = 262145\nbuffer_size = -1\nstats_interval = 0\nmax_flows = 0\n",
        )
        .expect("parses");
        let problems = config.problems();
        assert_eq!(problems.len(), 5, "{problems:?}");
        assert_eq!(problems[0], "workers = 0 is out of range (1 to 256)");
        let ok =
            parse("workers = 256\nsnaplen = 262144\nstats_interval = 86400\n").expect("parses");
        assert_eq!(ok.problems(), Vec::<String>::new());
    }

    #[test]
    fn bad_cidrs_urls_and_filters_are_each_reported() {
        let config = parse(
            r#"
home_nets = ["10.0.0.0/8", "10.0.0.0/33", "nonsense"]
outputs = ["gopher://x", "syslog+tls://siem:6514?ca=/nonexistent/ca.pem", "syslog+udp://siem"]
filter = "tcp port"
"#,
        )
        .expect("parses");
        let problems = config.problems();
        assert_eq!(problems.len(), 5, "{problems:?}");
        assert!(problems[0].contains("gopher"));
        assert!(problems[1].contains("/nonexistent/ca.pem"));
        assert!(problems[2].contains("10.0.0.0/33"));
        assert!(problems[3].contains("nonsense"));
        assert!(problems[4].starts_with("filter"));
    }

    #[test]
    fn rate_burst_ratio_and_record_interval_are_checked() {
        assert_eq!(
            parse("rate_burst_ratio = 1.5\nrecord_interval = \"soon\"\n")
                .expect("parses")
                .problems(),
            vec![
                "rate_burst_ratio: 1.5 is out of range (2 to 10000)".to_owned(),
                "record_interval: bad duration \"soon\": use e.g. 90s, 30m, 24h, 7d".to_owned(),
            ]
        );
        assert!(
            parse("rate_burst_ratio = 25\n")
                .expect("parses")
                .problems()
                .is_empty()
        );
    }

    #[test]
    fn loss_warning_is_a_percentage() {
        // A whole number is taken as well as a fraction.
        assert_eq!(
            parse("loss_warning = 5\n").expect("parses").loss_warning,
            Some(5.0)
        );
        for edge in ["0", "100", "0.01"] {
            let config = parse(&format!("loss_warning = {edge}\n")).expect("parses");
            assert_eq!(config.problems(), Vec::<String>::new(), "{edge}");
        }
        for bad in ["-0.5", "100.1", "nan", "inf"] {
            let config = parse(&format!("loss_warning = {bad}\n")).expect("parses");
            assert_eq!(config.problems().len(), 1, "{bad}");
        }
        assert_eq!(
            parse("loss_warning = 101\n").expect("parses").problems(),
            vec!["loss_warning = 101 is out of range (0 to 100)".to_owned()]
        );
        assert_eq!(parse_percent("2.5"), Ok(2.5));
        assert!(parse_percent("-1").is_err());
        assert!(parse_percent("NaN").is_err());
        assert!(parse_percent("one").is_err());
    }
}
