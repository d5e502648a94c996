//! The configuration file (`--config FILE`, `--check-config FILE`): TOML,
//! one key per command-line option, for running medtap as a service (see
//! `docs/configuration.md`).
//!
//! Each option is declared once, as an argument of [`Args`]: its flag, its
//! default, the check of its value and its help come from there. A key is
//! the option's name (a few are [`RENAMED`]); its value is turned into the
//! words of a command line and parsed by the option's own parser, so the
//! file and the command line accept exactly the same values, and the file
//! is merged by parsing the command line again with the file's words added
//! where the command line leaves an option alone.
//!
//! The file is checked whole before anything starts, and every problem is
//! one line naming the file (and the line, where the TOML parser or the key
//! tells it): unknown keys, values of the wrong type, values their option
//! refuses, capture files that cannot be opened, sink URLs that do not
//! build, a BPF filter that does not compile. Checking never touches the
//! network: network sinks are built from their URLs exactly as at start,
//! and building one neither resolves nor connects (the first delivery does).

use std::ffi::OsString;
use std::fmt;
use std::fs::File;
use std::path::Path;

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, CommandFactory, FromArgMatches};

use super::Args;
use super::values::NumberError;
use crate::output::{SinkSpec, remote};

/// Options a file does not set, each for a reason.
pub const WITHOUT_KEY: &[&str] = &[
    // About the file itself.
    "config",
    "check_config",
    // Actions, not settings.
    "list_interfaces",
    // A terminal's concerns.
    "verbose",
    "quiet",
    // A one-off inventory run, never a service's.
    "no_baselines",
    "help",
    "version",
];

/// Keys named otherwise than their option: (key, option).
pub const RENAMED: &[(&str, &str)] = &[
    ("outputs", "output"),
    ("home_nets", "home_net"),
    ("promisc", "no_promisc"),
];

/// Boolean keys that say the opposite of their switch.
const INVERTED: &[&str] = &["promisc"];

/// The key of an option, by its id.
fn key_of(id: &str) -> &str {
    RENAMED
        .iter()
        .find(|(_, option)| *option == id)
        .map_or(id, |(key, _)| key)
}

/// Every key the file may hold, in the order of the options (and of
/// `docs/configuration.md`).
pub fn keys() -> Vec<String> {
    Args::command()
        .get_arguments()
        .map(|arg| arg.get_id().as_str())
        .filter(|id| !WITHOUT_KEY.contains(id))
        .map(|id| key_of(id).to_owned())
        .collect()
}

/// What is wrong with a file.
#[derive(Debug, Clone, PartialEq)]
enum Problem {
    /// At a line: the TOML syntax, an unknown key, a value's type.
    At { line: usize, message: String },
    /// About a key's value.
    Value(String),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::At { line, message } => write!(f, "{line}: {message}"),
            Problem::Value(message) => f.write_str(message),
        }
    }
}

/// One key of the file: its option and the words that give it.
#[derive(Debug, Clone)]
struct Entry {
    id: String,
    /// `--long=value` for each value, `--long` for a switch turned on,
    /// nothing for one left off; the value itself for the filter.
    words: Vec<OsString>,
    positional: bool,
}

/// A checked configuration file.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    /// In the order of the options.
    entries: Vec<Entry>,
}

/// Reads and checks the file at `path`. On failure, returns every problem
/// found, one line each, each starting with the path.
pub fn load(path: &Path) -> Result<ConfigFile, Vec<String>> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| vec![format!("{shown}: {e}")])?;
    check(&text).map_err(|problems| {
        problems
            .into_iter()
            .map(|p| match p {
                Problem::At { .. } => format!("{shown}:{p}"),
                Problem::Value(_) => format!("{shown}: {p}"),
            })
            .collect()
    })
}

/// Parses and checks TOML text.
fn check(text: &str) -> Result<ConfigFile, Vec<Problem>> {
    let line_at = |span: Option<std::ops::Range<usize>>| {
        span.map_or(1, |s| {
            text.get(..s.start)
                .map_or(1, |before| before.matches('\n').count() + 1)
        })
    };
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        vec![Problem::At {
            line: line_at(e.span()),
            message: e.message().trim().replace('\n', "; "),
        }]
    })?;
    let keys = keys();
    // Every unknown key at once.
    let mut unknown: Vec<Problem> = table
        .keys()
        .filter(|k| !keys.contains(k))
        .map(|k| Problem::At {
            line: line_of_key(text, k),
            message: format!("unknown key {k:?} (known keys: {})", keys.join(", ")),
        })
        .collect();
    if !unknown.is_empty() {
        unknown.sort_by_key(|p| match p {
            Problem::At { line, .. } => *line,
            Problem::Value(_) => 0,
        });
        return Err(unknown);
    }
    let command = Args::command();
    let mut entries = Vec::new();
    let mut wrong_types = Vec::new();
    for arg in command.get_arguments() {
        let id = arg.get_id().as_str();
        let Some(value) = table.get(key_of(id)) else {
            continue;
        };
        match words(arg, key_of(id), value) {
            Ok(words) => entries.push(Entry {
                id: id.to_owned(),
                words,
                positional: arg.is_positional(),
            }),
            Err(message) => wrong_types.push(Problem::At {
                line: line_of_key(text, key_of(id)),
                message,
            }),
        }
    }
    if !wrong_types.is_empty() {
        return Err(wrong_types);
    }
    let mut problems = Vec::new();
    let has = |key: &str| {
        table
            .get(key)
            .is_some_and(|v| v.as_array().is_none_or(|a| !a.is_empty()))
    };
    if has("interface") && has("read") {
        problems.push(Problem::Value(
            "interface and read: give one or the other, not both".to_owned(),
        ));
    }
    for entry in &entries {
        problems.extend(entry_problems(entry).into_iter().map(Problem::Value));
    }
    if problems.is_empty() {
        Ok(ConfigFile { entries })
    } else {
        Err(problems)
    }
}

/// The words of a command line that give `value` to the option `arg`, or
/// why the value cannot be one: a switch takes `true` or `false`, a
/// repeatable option a list, the others one string or number, which the
/// option's parser then reads as it reads the command line's.
fn words(arg: &Arg, key: &str, value: &toml::Value) -> Result<Vec<OsString>, String> {
    let wrong = |expected: &str| {
        let shown = match value {
            toml::Value::String(text) => format!(" {text:?}"),
            toml::Value::Boolean(b) => format!(" {b}"),
            other => scalar(other).map_or_else(String::new, |text| format!(" {text}")),
        };
        Err(format!(
            "{key}: expected {expected}, got {}{shown}",
            value.type_str()
        ))
    };
    let long = arg.get_long().unwrap_or_default();
    match arg.get_action() {
        ArgAction::SetTrue => match value.as_bool() {
            Some(on) if on != INVERTED.contains(&key) => Ok(vec![format!("--{long}").into()]),
            Some(_) => Ok(Vec::new()),
            None => wrong("true or false"),
        },
        ArgAction::Append if arg.is_positional() => match value.as_str() {
            Some(text) => Ok(vec![text.into()]),
            None => wrong("a string"),
        },
        ArgAction::Append => {
            let Some(items) = value.as_array() else {
                return wrong("a list");
            };
            items
                .iter()
                .map(|item| scalar(item).map(|text| format!("--{long}={text}").into()))
                .collect::<Option<Vec<_>>>()
                .map_or_else(|| wrong("a list of strings"), Ok)
        }
        _ => match scalar(value) {
            Some(text) => Ok(vec![format!("--{long}={text}").into()]),
            None => wrong("a string or a number"),
        },
    }
}

/// A string or number as the command line would give it.
fn scalar(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(text) => Some(text.clone()),
        toml::Value::Integer(n) => Some(n.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        _ => None,
    }
}

/// What the option's parser says of each of the entry's values, then what
/// is wrong with what they name (files that cannot be opened, sinks that do
/// not build, a filter that does not compile).
fn entry_problems(entry: &Entry) -> Vec<String> {
    let key = key_of(&entry.id);
    let mut command = Args::command();
    let mut problems = Vec::new();
    // Each value alone, so that every bad one is named.
    for word in &entry.words {
        let mut line = vec![OsString::from("medtap")];
        if entry.positional {
            line.push("--".into());
        }
        line.push(word.clone());
        if let Err(e) = command.try_get_matches_from_mut(line) {
            problems.push(refusal(key, &e));
        }
    }
    if !problems.is_empty() {
        return problems;
    }
    let Ok(args) = parse(entry_line(entry)) else {
        return problems;
    };
    match key {
        "read" => {
            for path in &args.read {
                // `-` is standard input, opened when medtap runs.
                if path.as_os_str() == crate::capture::STDIN {
                    continue;
                }
                if let Err(e) = File::open(path) {
                    problems.push(format!("read: cannot open {}: {e}", path.display()));
                }
            }
        }
        "outputs" => {
            if let Some(twice) = crate::output::given_twice(&args.output) {
                problems.push(format!("outputs: {twice} is given twice"));
            }
            for output in &args.output {
                match SinkSpec::parse(output) {
                    SinkSpec::Remote(url) => {
                        // Builds the sink as at start, which reads a CA
                        // file but neither resolves nor connects.
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
        }
        "filter" => {
            let filter = args.filter.join(" ");
            if !filter.trim().is_empty()
                && let Err(e) = check_filter(&filter)
            {
                problems.push(format!("filter {filter:?} does not compile: {e}"));
            }
        }
        _ => {}
    }
    problems
}

/// One line for an option's refusal of a value: `key = 0 is out of range
/// (1 to 256)`, or `key: why`.
fn refusal(key: &str, error: &clap::Error) -> String {
    let source = std::error::Error::source(error);
    if let Some(out @ NumberError::OutOfRange { .. }) =
        source.and_then(|s| s.downcast_ref::<NumberError>())
    {
        return format!("{key} = {out}");
    }
    match source {
        Some(why) => format!("{key}: {why}"),
        None => {
            let text = error.to_string();
            let first = text.lines().next().unwrap_or_default();
            format!("{key}: {}", first.trim_start_matches("error: "))
        }
    }
}

/// The command line of one entry alone.
fn entry_line(entry: &Entry) -> Vec<OsString> {
    let mut line = vec![OsString::from("medtap")];
    if entry.positional {
        line.push("--".into());
    }
    line.extend(entry.words.iter().cloned());
    line
}

fn parse(line: Vec<OsString>) -> Result<Args, clap::Error> {
    Args::command()
        .try_get_matches_from(line)
        .and_then(|matches| Args::from_arg_matches(&matches))
}

impl ConfigFile {
    /// The options of the file alone, on top of the defaults.
    pub fn alone(&self) -> Result<Args, clap::Error> {
        let mut line = vec![OsString::from("medtap")];
        let mut positional = Vec::new();
        for entry in &self.entries {
            if entry.positional {
                positional.extend(entry.words.iter().cloned());
            } else {
                line.extend(entry.words.iter().cloned());
            }
        }
        if !positional.is_empty() {
            line.push("--".into());
            line.extend(positional);
        }
        parse(line)
    }

    /// `command_line` (the program's words, parsed into `matches`) with the
    /// file's options added where it leaves them alone: an option of the
    /// file is set aside when the command line gives it or an option it
    /// conflicts with. So `-r` sets aside both the file's `read` and its
    /// `interface`, and `--no-baselines` its `learn`, `state` and `policy`.
    pub fn under(&self, command_line: &[OsString], matches: &ArgMatches) -> Vec<OsString> {
        let command = Args::command();
        let given: Vec<&Arg> = command
            .get_arguments()
            .filter(|arg| {
                matches.value_source(arg.get_id().as_str()) == Some(ValueSource::CommandLine)
            })
            .collect();
        let set_aside = |entry: &Entry| {
            let Some(arg) = command
                .get_arguments()
                .find(|a| a.get_id() == entry.id.as_str())
            else {
                return true;
            };
            given.iter().any(|other| {
                other.get_id() == arg.get_id()
                    || command
                        .get_arg_conflicts_with(other)
                        .iter()
                        .any(|c| c.get_id() == arg.get_id())
                    || command
                        .get_arg_conflicts_with(arg)
                        .iter()
                        .any(|c| c.get_id() == other.get_id())
            })
        };
        let kept: Vec<&Entry> = self.entries.iter().filter(|e| !set_aside(e)).collect();
        let mut line: Vec<OsString> = command_line.iter().take(1).cloned().collect();
        // Options before the command line's own words, where a `--` of
        // the command line cannot make them filter words.
        for entry in kept.iter().filter(|e| !e.positional) {
            line.extend(entry.words.iter().cloned());
        }
        line.extend(command_line.iter().skip(1).cloned());
        let filter: Vec<OsString> = kept
            .iter()
            .filter(|e| e.positional)
            .flat_map(|e| e.words.iter().cloned())
            .collect();
        if !filter.is_empty() {
            if !command_line.iter().skip(1).any(|w| w == "--") {
                line.push("--".into());
            }
            line.extend(filter);
        }
        line
    }
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

/// Compiles `filter` for Ethernet without opening any device.
fn check_filter(filter: &str) -> Result<(), pcap::Error> {
    pcap::Capture::dead(pcap::Linktype::ETHERNET)?
        .compile(filter, true)
        .map(drop)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn problems(text: &str) -> Vec<String> {
        match check(text) {
            Ok(_) => Vec::new(),
            Err(problems) => problems.iter().map(ToString::to_string).collect(),
        }
    }

    fn alone(text: &str) -> Args {
        check(text).expect("checks").alone().expect("parses")
    }

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
        assert_eq!(problems(EVERY_KEY), Vec::<String>::new());
        let args = alone(EVERY_KEY);
        assert_eq!(args.workers, Some(4));
        assert!(args.no_promisc);
        // `read` is the one key left out above (it excludes `interface`).
        let read = alone("read = [\"-\", \"-\"]");
        assert_eq!(read.read.len(), 2);
        assert_eq!(keys().len(), 30);
        assert_eq!(args.interface.as_deref(), Some("lo"));
        assert_eq!(args.output.len(), 4);
        assert_eq!(args.home_net, ["10.0.0.0/8", "fd00::/8"]);
        assert!(args.verify_checksums && args.log_protocols && !args.full_records);
        assert_eq!((args.snaplen, args.buffer_size), (65535, 33_554_432));
        assert_eq!((args.stats_interval, args.state_interval), (30, 300));
        assert_eq!(args.max_flows, 100_000);
        assert_eq!(args.sensor_name.as_deref(), Some("icu-span-1"));
        assert_eq!(args.memcap, 2 << 30);
        assert_eq!(args.learn, crate::baseline::Learn::parse("24h").ok());
        assert_eq!(args.loss_warning, 0.5);
        assert_eq!(args.user.as_deref(), Some("medtap"));
        assert_eq!(args.metrics.as_deref(), Some("127.0.0.1:9911"));
        assert_eq!(args.spool, Some(PathBuf::from("/var/lib/medtap/spool")));
        assert_eq!(args.filter, ["tcp port 104 or port 2575"]);
        assert_eq!(args.policy, Some(PathBuf::from("/etc/medtap/policy.json")));
        assert_eq!((args.fanout_threshold, args.burst_threshold), (20, 5));
        assert_eq!(args.rate_burst_ratio, 10.0);
        assert_eq!(args.record_interval, std::time::Duration::from_secs(300));
        assert_eq!(args.suppress, std::time::Duration::from_secs(3600));
    }

    #[test]
    fn a_metrics_address_must_be_addr_and_port() {
        assert_eq!(
            problems("metrics = \"localhost\"\n"),
            vec!["metrics: expected ADDR:PORT, got \"localhost\"".to_owned()]
        );
    }

    #[test]
    fn the_same_output_twice_is_a_problem() {
        assert_eq!(
            problems("outputs = [\"-\", \"syslog+udp://127.0.0.1\", \"-\"]\n"),
            vec!["outputs: - is given twice".to_owned()]
        );
    }

    #[test]
    fn every_unknown_key_is_named_with_its_line() {
        let problems = problems("workers = 2\noutput = [\"-\"]\n\nhome_net = []\n");
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
        let found = problems("\n\nworkers = true\n");
        assert_eq!(
            found,
            vec!["3: workers: expected a string or a number, got boolean true".to_owned()]
        );
        // A switch takes a boolean, a repeatable option a list.
        for (text, expected) in [
            ("verify_checksums = \"yes\"", "true or false"),
            ("outputs = \"-\"", "a list"),
            ("home_nets = [[\"10.0.0.0/8\"]]", "a list of strings"),
            ("filter = [\"tcp\"]", "a string"),
            ("memcap = [1024]", "a string or a number"),
        ] {
            let found = problems(text);
            assert_eq!(found.len(), 1, "{text}: {found:?}");
            assert!(found[0].starts_with("1: "), "{found:?}");
            assert!(
                found[0].contains(&format!("expected {expected},")),
                "{found:?}"
            );
        }
    }

    #[test]
    fn a_value_is_read_by_its_option_as_on_the_command_line() {
        // A string for a number, a number for a string: the option's own
        // parser decides, as it does for the command line's words.
        assert_eq!(
            problems("workers = \"four\"\n"),
            vec!["workers: \"four\" is not a number".to_owned()]
        );
        assert_eq!(alone("workers = \"4\"\n").workers, Some(4));
        assert_eq!(
            problems("snaplen = 1.5\n"),
            vec!["snaplen: \"1.5\" is not a number".to_owned()]
        );
        assert_eq!(alone("memcap = 268435456\n").memcap, 256 << 20);
    }

    #[test]
    fn numbers_are_checked_against_their_limits() {
        let problems_found = problems(
            "workers = 0\nsnaplen = 262145\nbuffer_size = -1\nstats_interval = 0\nmax_flows = 0\n",
        );
        assert_eq!(problems_found.len(), 5, "{problems_found:?}");
        assert_eq!(problems_found[0], "workers = 0 is out of range (1 to 256)");
        assert_eq!(
            problems_found[1],
            "snaplen = 262145 is out of range (1 to 262144)"
        );
        assert_eq!(
            problems("workers = 256\nsnaplen = 262144\nstats_interval = 86400\n"),
            Vec::<String>::new()
        );
        assert_eq!(
            problems("workers = 99999999999\n"),
            vec!["workers = 99999999999 is out of range (1 to 256)".to_owned()]
        );
    }

    #[test]
    fn bad_cidrs_urls_and_filters_are_each_reported() {
        let problems = problems(
            r#"
home_nets = ["10.0.0.0/8", "10.0.0.0/33", "nonsense"]
outputs = ["gopher://x", "syslog+tls://siem:6514?ca=/nonexistent/ca.pem", "syslog+udp://siem"]
filter = "tcp port"
"#,
        );
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
            problems("rate_burst_ratio = 1.5\nrecord_interval = \"soon\"\n"),
            vec![
                "rate_burst_ratio = 1.5 is out of range (2 to 10000)".to_owned(),
                "record_interval: bad duration \"soon\": use e.g. 90s, 30m, 24h, 7d".to_owned(),
            ]
        );
        assert!(problems("rate_burst_ratio = 25\n").is_empty());
    }

    #[test]
    fn loss_warning_is_a_percentage() {
        // A whole number is taken as well as a fraction.
        assert_eq!(alone("loss_warning = 5\n").loss_warning, 5.0);
        for edge in ["0", "100", "0.01"] {
            assert_eq!(
                problems(&format!("loss_warning = {edge}\n")),
                Vec::<String>::new(),
                "{edge}"
            );
        }
        for bad in ["-0.5", "100.1", "nan", "inf"] {
            assert_eq!(
                problems(&format!("loss_warning = {bad}\n")).len(),
                1,
                "{bad}"
            );
        }
        assert_eq!(
            problems("loss_warning = 101\n"),
            vec!["loss_warning = 101 is out of range (0 to 100)".to_owned()]
        );
    }

    #[test]
    fn interface_and_read_together_and_an_empty_interface_are_problems() {
        assert_eq!(
            problems("interface = \" \"\n"),
            vec!["interface: must not be empty".to_owned()]
        );
        assert_eq!(
            problems("interface = \"lo\"\nread = [\"-\"]\n"),
            vec!["interface and read: give one or the other, not both".to_owned()]
        );
        let missing = problems("read = [\"/nonexistent/a.pcap\"]\n");
        assert_eq!(missing.len(), 1);
        assert!(
            missing[0].starts_with("read: cannot open /nonexistent/a.pcap: "),
            "{missing:?}"
        );
    }

    const FILE: &str = r#"
interface = "lo"
user = "medtap"
workers = 4
snaplen = 65535
promisc = false
stats_interval = 30
filter = "tcp port 104 or port 2575"
loss_warning = 0.5
rate_burst_ratio = 10.0
record_interval = "5m"
learn = "2h"
"#;

    fn merged(file: &str, command_line: &[&str]) -> Args {
        let file = check(file).expect("checks");
        let command_line: Vec<OsString> = command_line.iter().map(OsString::from).collect();
        let matches = Args::command()
            .try_get_matches_from(&command_line)
            .expect("the command line parses");
        parse(file.under(&command_line, &matches)).expect("the merged line parses")
    }

    #[test]
    fn the_command_line_wins() {
        let args = merged(FILE, &["medtap", "--snaplen", "1500", "-r", "x.pcap"]);
        assert_eq!(args.snaplen, 1500);
        assert_eq!(args.interface, None, "-r sets aside the file's interface");
        assert_eq!(args.read, vec![PathBuf::from("x.pcap")]);
        assert_eq!(args.workers, Some(4));
        assert_eq!(args.stats_interval, 30);
        assert!(args.no_promisc);
        assert_eq!(args.filter, vec!["tcp port 104 or port 2575".to_owned()]);
        assert_eq!(args.user.as_deref(), Some("medtap"));
        assert_eq!(args.loss_warning, 0.5);
        assert_eq!(args.rate_burst_ratio, 10.0);
        assert_eq!(args.record_interval, std::time::Duration::from_secs(300));
    }

    #[test]
    fn the_command_line_sets_aside_what_conflicts_with_it() {
        // `--no-baselines` conflicts with `learn`: the file's is set aside,
        // not refused.
        let args = merged(FILE, &["medtap", "--no-baselines"]);
        assert!(args.no_baselines);
        assert_eq!(args.learn, None);
        assert_eq!(args.interface.as_deref(), Some("lo"));
        // The command line's filter words, even after `--`, replace the
        // file's; the file's options still come in.
        let args = merged(FILE, &["medtap", "-r", "x.pcap", "--", "udp"]);
        assert_eq!(args.filter, ["udp"]);
        assert_eq!(args.workers, Some(4));
        // A `--` with no words after it leaves the file's filter.
        let args = merged(FILE, &["medtap", "-r", "x.pcap", "--"]);
        assert_eq!(args.filter, ["tcp port 104 or port 2575"]);
        // A list is replaced, not added to.
        let args = merged(
            "outputs = [\"a.json\", \"b.json\"]\n",
            &["medtap", "-r", "x.pcap", "-o", "-"],
        );
        assert_eq!(args.output, ["-"]);
        // A switch turned on by the file and not by the command line.
        let args = merged("log_protocols = true\n", &["medtap", "-r", "x.pcap"]);
        assert!(args.log_protocols);
    }
}

#[cfg(test)]
mod declared {
    //! The keys come from the options; `docs/configuration.md`'s rows must
    //! follow them, in name, order, flag and default.

    use clap::CommandFactory;

    use super::{Args, RENAMED, WITHOUT_KEY, keys};

    fn option_of(key: &str) -> &str {
        RENAMED
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(key, |(_, id)| id)
    }

    /// The documented keys' rows, in order: (key, command-line column,
    /// default column).
    fn documented() -> Vec<(String, String, String)> {
        let doc = include_str!("../../docs/configuration.md");
        let table = doc
            .split("## Keys")
            .nth(1)
            .expect("a Keys section")
            .split("\n\n")
            .find(|block| block.trim_start().starts_with("| key"))
            .expect("the keys' table");
        table
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .map(|l| {
                let cells: Vec<&str> = l.split(" | ").collect();
                let key = cells[0].trim_end_matches('`').to_owned();
                (key, cells[2].to_owned(), cells[4].to_owned())
            })
            .collect()
    }

    #[test]
    fn the_exceptions_name_real_options() {
        let command = Args::command();
        let ids: Vec<&str> = command
            .get_arguments()
            .map(|a| a.get_id().as_str())
            .chain(["help", "version"])
            .collect();
        for id in WITHOUT_KEY.iter().chain(RENAMED.iter().map(|(_, id)| id)) {
            assert!(ids.contains(id), "{id} is not an option");
        }
        for (key, _) in RENAMED {
            assert!(!ids.contains(key), "{key} is an option's own name");
        }
        assert!(keys().iter().all(|k| !WITHOUT_KEY.contains(&k.as_str())));
    }

    #[test]
    fn the_documented_keys_are_the_keys_with_their_flags_and_defaults() {
        let rows = documented();
        let documented_keys: Vec<&str> = rows.iter().map(|(k, _, _)| k.as_str()).collect();
        assert_eq!(
            documented_keys,
            keys(),
            "docs/configuration.md's rows, in the options' order"
        );
        let command = Args::command();
        for (key, flag, default) in &rows {
            let arg = command
                .get_arguments()
                .find(|a| a.get_id().as_str() == option_of(key))
                .expect("an argument");
            if let Some(long) = arg.get_long() {
                let named = flag.contains(&format!("--{long}"))
                    || arg
                        .get_short()
                        .is_some_and(|s| flag.contains(&format!("`-{s} ")));
                assert!(named, "{key}: {flag:?} does not name --{long}");
            }
            let takes_value = arg.get_action().takes_values();
            for value in arg.get_default_values() {
                let value = value.to_string_lossy();
                if takes_value && !arg.is_hide_default_value_set() {
                    assert!(
                        default.contains(value.as_ref()),
                        "{key}: documented default {default:?}, the option's is {value}"
                    );
                }
            }
        }
    }
}
