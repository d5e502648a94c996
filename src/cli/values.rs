//! What each option accepts: the value parsers of [`Args`](super::Args),
//! which check a value the same way whether it comes from the command line
//! or from the configuration file, and the limits they check against.

use std::fmt::Display;
use std::str::FromStr;

use crate::capture::DEFAULT_SNAPLEN;
use crate::device::HomeNets;
use crate::output::MAX_SENSOR_NAME;

/// Worker threads at most.
pub const MAX_WORKERS: u16 = 256;
/// Largest snap length, in bytes: libpcap's own maximum.
pub const MAX_SNAPLEN: i32 = DEFAULT_SNAPLEN;
/// Longest stats or state interval, in seconds (one day).
pub const MAX_STATS_INTERVAL_SECS: u64 = 86_400;
/// The lowest `--rate-burst-ratio`: below a doubling, the ward's own
/// texture would be alerted.
pub const MIN_RATE_BURST_RATIO: f64 = 2.0;
/// The highest `--rate-burst-ratio`.
pub const MAX_RATE_BURST_RATIO: f64 = 10_000.0;
/// The lowest `--fanout-threshold` and `--burst-threshold`: one event is
/// not a burst.
pub const MIN_BURST: u32 = 2;

/// Why a number was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NumberError {
    /// The text is not a number of the option's kind.
    #[error("{0:?} is not a number")]
    NotANumber(String),
    /// A number outside the option's limits.
    #[error("{value} is out of range ({min} to {max})")]
    OutOfRange {
        /// The number as given.
        value: String,
        /// The lowest accepted.
        min: String,
        /// The highest accepted.
        max: String,
    },
}

/// A parser for numbers of type `T` from `min` to `max`, both included.
pub fn within<T>(
    min: T,
    max: T,
) -> impl Fn(&str) -> Result<T, NumberError> + Clone + Send + Sync + 'static
where
    T: FromStr + PartialOrd + Display + Copy + Send + Sync + 'static,
{
    move |text: &str| {
        let text = text.trim();
        let out_of_range = || NumberError::OutOfRange {
            value: text.to_owned(),
            min: min.to_string(),
            max: max.to_string(),
        };
        match text.parse::<T>() {
            // A NaN is in no range.
            Ok(value) if min <= value && value <= max => Ok(value),
            Ok(_) => Err(out_of_range()),
            // A whole number beyond what the type holds is out of range too.
            Err(_) if text.parse::<i128>().is_ok() => Err(out_of_range()),
            Err(_) => Err(NumberError::NotANumber(text.to_owned())),
        }
    }
}

/// Text that must not be empty (an interface name).
pub fn not_empty(text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        Err("must not be empty".to_owned())
    } else {
        Ok(text.to_owned())
    }
}

/// A sensor name (`--sensor-name`): printable ASCII without spaces, as a
/// syslog HOSTNAME must be, at most [`MAX_SENSOR_NAME`] bytes.
pub fn sensor_name(name: &str) -> Result<String, String> {
    if name.is_empty() || name.len() > MAX_SENSOR_NAME {
        return Err(format!("must be 1 to {MAX_SENSOR_NAME} characters"));
    }
    if !name.bytes().all(|b| (33..=126).contains(&b)) {
        return Err("must be printable ASCII without spaces".to_owned());
    }
    Ok(name.to_owned())
}

/// `ADDR:PORT` to serve metrics at, kept as written.
pub fn socket_address(text: &str) -> Result<String, String> {
    match text.parse::<std::net::SocketAddr>() {
        Ok(_) => Ok(text.to_owned()),
        Err(_) => Err(format!("expected ADDR:PORT, got {text:?}")),
    }
}

/// One home network, a CIDR, kept as written.
pub fn cidr(text: &str) -> Result<String, String> {
    match HomeNets::parse(&[text]) {
        Ok(_) => Ok(text.to_owned()),
        Err(e) => Err(format!("bad CIDR {text:?}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_checked_against_both_limits() {
        let workers = within(1u16, MAX_WORKERS);
        assert_eq!(workers("1"), Ok(1));
        assert_eq!(workers(" 256 "), Ok(256));
        assert_eq!(
            workers("0").map_err(|e| e.to_string()),
            Err("0 is out of range (1 to 256)".to_owned())
        );
        assert_eq!(
            workers("four").map_err(|e| e.to_string()),
            Err("\"four\" is not a number".to_owned())
        );
        // Beyond what the type holds is out of range, not a type error.
        assert_eq!(
            workers("70000").map_err(|e| e.to_string()),
            Err("70000 is out of range (1 to 256)".to_owned())
        );
        assert!(matches!(workers("1.5"), Err(NumberError::NotANumber(_))));
    }

    #[test]
    fn a_percentage_refuses_nan_and_infinity() {
        let percent = within(0.0, 100.0);
        assert_eq!(percent("2.5"), Ok(2.5));
        assert_eq!(percent("0"), Ok(0.0));
        assert_eq!(percent("100"), Ok(100.0));
        for bad in ["-1", "100.1", "NaN", "inf", "one"] {
            assert!(percent(bad).is_err(), "{bad}");
        }
        assert_eq!(
            percent("101").map_err(|e| e.to_string()),
            Err("101 is out of range (0 to 100)".to_owned())
        );
    }

    #[test]
    fn texts_are_checked() {
        assert!(not_empty(" ").is_err());
        assert_eq!(not_empty("eth1").as_deref(), Ok("eth1"));
        assert!(sensor_name("icu span").is_err());
        assert!(sensor_name("").is_err());
        assert!(sensor_name(&"a".repeat(MAX_SENSOR_NAME + 1)).is_err());
        assert_eq!(sensor_name("icu-span-1").as_deref(), Ok("icu-span-1"));
        assert_eq!(
            socket_address("localhost"),
            Err("expected ADDR:PORT, got \"localhost\"".to_owned())
        );
        assert!(socket_address("[::1]:9911").is_ok());
        assert!(cidr("10.0.0.0/33").is_err());
        assert!(cidr("fd00::/8").is_ok());
    }
}
