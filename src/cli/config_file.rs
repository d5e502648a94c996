//! The configuration file (`--config FILE`) filling the options the command
//! line left alone. It lives here, not with the file's reader, so that
//! reading and checking a file needs nothing from the command line.

use super::Args;
use crate::baseline::{Learn, parse_duration};
use crate::config::Config;
use crate::pipeline::budget;

/// Fills `args` from the file, except where `given(id)` says the option (by
/// its `Args` field name) was given on the command line. The source is taken
/// whole: `-r` or `-i` on the command line sets aside both `read` and
/// `interface` from the file.
pub(super) fn apply(config: Config, args: &mut Args, given: impl Fn(&str) -> bool) {
    if !given("read") && !given("interface") {
        if let Some(read) = config.read {
            args.read = read;
        }
        if config.interface.is_some() {
            args.interface = config.interface;
        }
    }
    if !given("output")
        && let Some(outputs) = config.outputs
    {
        args.output = outputs;
    }
    if !given("inventory") && config.inventory.is_some() {
        args.inventory = config.inventory;
    }
    if !given("workers")
        && let Some(n) = config.workers.and_then(|n| u16::try_from(n).ok())
    {
        args.workers = Some(n);
    }
    if !given("home_net")
        && let Some(nets) = config.home_nets
    {
        args.home_net = nets;
    }
    if !given("verify_checksums")
        && let Some(on) = config.verify_checksums
    {
        args.verify_checksums = on;
    }
    if !given("log_protocols")
        && let Some(on) = config.log_protocols
    {
        args.log_protocols = on;
    }
    if !given("full_records")
        && let Some(on) = config.full_records
    {
        args.full_records = on;
    }
    if !given("snaplen")
        && let Some(n) = config.snaplen.and_then(|n| i32::try_from(n).ok())
    {
        args.snaplen = n;
    }
    if !given("buffer_size")
        && let Some(n) = config.buffer_size.and_then(|n| i32::try_from(n).ok())
    {
        args.buffer_size = n;
    }
    if !given("no_promisc")
        && let Some(on) = config.promisc
    {
        args.no_promisc = !on;
    }
    if !given("stats_interval")
        && let Some(n) = config.stats_interval.and_then(|n| u64::try_from(n).ok())
    {
        args.stats_interval = n;
    }
    if !given("max_flows")
        && let Some(n) = config.max_flows.and_then(|n| usize::try_from(n).ok())
    {
        args.max_flows = n;
    }
    if !given("memcap")
        && let Some(bytes) = config
            .memcap
            .as_deref()
            .and_then(|m| budget::parse_memcap(m).ok())
    {
        args.memcap = bytes;
    }
    if !given("user")
        && let Some(user) = config.user
    {
        args.user = Some(user);
    }
    if !given("metrics")
        && let Some(addr) = config.metrics
    {
        args.metrics = Some(addr);
    }
    if !given("spool")
        && let Some(dir) = config.spool
    {
        args.spool = Some(dir);
    }
    if !given("sensor_name")
        && let Some(name) = config.sensor_name
    {
        args.sensor_name = Some(name);
    }
    if !given("filter")
        && let Some(filter) = config.filter
    {
        args.filter = vec![filter];
    }
    if !given("loss_warning")
        && let Some(percent) = config.loss_warning
    {
        args.loss_warning = percent;
    }
    if !given("learn")
        && let Some(learn) = config.learn.and_then(|l| Learn::parse(&l).ok())
    {
        args.learn = Some(learn);
    }
    if !given("state") && config.state.is_some() {
        args.state = config.state;
    }
    if !given("policy") && config.policy.is_some() {
        args.policy = config.policy;
    }
    if !given("state_interval")
        && let Some(n) = config.state_interval.and_then(|n| u64::try_from(n).ok())
    {
        args.state_interval = n;
    }
    if !given("suppress")
        && let Some(window) = config.suppress.and_then(|w| parse_duration(&w).ok())
    {
        args.suppress = window;
    }
    if !given("fanout_threshold")
        && let Some(n) = config.fanout_threshold.and_then(|n| u32::try_from(n).ok())
    {
        args.fanout_threshold = n;
    }
    if !given("burst_threshold")
        && let Some(n) = config.burst_threshold.and_then(|n| u32::try_from(n).ok())
    {
        args.burst_threshold = n;
    }
    if !given("rate_burst_ratio")
        && let Some(ratio) = config.rate_burst_ratio
    {
        args.rate_burst_ratio = ratio;
    }
    if !given("record_interval")
        && let Some(interval) = config.record_interval.and_then(|w| parse_duration(&w).ok())
    {
        args.record_interval = interval;
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

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
"#;

    #[test]
    fn the_command_line_wins() {
        use clap::Parser;
        let mut args = Args::parse_from(["medtap", "--snaplen", "1500", "-r", "x.pcap"]);
        let config: Config = toml::from_str(FILE).expect("parses");
        let given = ["snaplen", "read"];
        apply(config, &mut args, |id| given.contains(&id));
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
}

#[cfg(test)]
mod declared {
    //! Each option is declared by its command-line argument; its
    //! configuration key and its row in `docs/configuration.md` must follow
    //! it, in name, flag and default.

    use clap::CommandFactory;

    use super::Args;
    use crate::config::KEYS;

    /// Options without a configuration key, each for a reason.
    const WITHOUT_KEY: &[&str] = &[
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

    /// Keys named otherwise than their argument's id: (key, id).
    const RENAMED: &[(&str, &str)] = &[
        ("outputs", "output"),
        ("home_nets", "home_net"),
        ("promisc", "no_promisc"),
    ];

    fn id_of(key: &str) -> &str {
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
    fn every_option_has_a_key_or_a_reason() {
        let command = Args::command();
        for arg in command.get_arguments() {
            let id = arg.get_id().as_str();
            if WITHOUT_KEY.contains(&id) {
                continue;
            }
            assert!(
                KEYS.iter().any(|k| id_of(k) == id),
                "--{id} has no configuration key (add one, or a reason to WITHOUT_KEY)"
            );
        }
        for key in KEYS {
            assert!(
                command
                    .get_arguments()
                    .any(|a| a.get_id().as_str() == id_of(key)),
                "key {key} has no command-line option"
            );
        }
    }

    #[test]
    fn the_documented_keys_are_the_keys_with_their_flags_and_defaults() {
        let rows = documented();
        let keys: Vec<&str> = rows.iter().map(|(k, _, _)| k.as_str()).collect();
        assert_eq!(keys, KEYS, "docs/configuration.md's rows, in KEYS' order");
        let command = Args::command();
        for (key, flag, default) in &rows {
            let arg = command
                .get_arguments()
                .find(|a| a.get_id().as_str() == id_of(key))
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
