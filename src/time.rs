//! Packet time: microseconds since the Unix epoch, and the RFC 3339 form
//! every event carries. It depends on nothing else in the crate, so every
//! module that stamps or compares times can use it without reaching into the
//! modules that produce events.

use serde::{Serialize, Serializer};
use time::OffsetDateTime;
use time::macros::format_description;

/// Microseconds since the Unix epoch, in packet time.
pub type Micros = i64;

/// A packet-time instant, serialised as RFC 3339 UTC with microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub Micros);

impl Timestamp {
    /// The current wall-clock time (for live `stats`).
    pub fn now() -> Timestamp {
        let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
        Timestamp((nanos / 1_000) as Micros)
    }

    /// Whether the time falls in the years 0 to 9999, all of which RFC 3339
    /// writes with a four-digit year.
    pub fn in_rfc3339_years(self) -> bool {
        // 0000-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z.
        (-62_167_219_200_000_000..=253_402_300_799_999_999).contains(&self.0)
    }

    /// RFC 3339, e.g. `2024-05-01T12:00:00.000123Z`.
    pub fn to_rfc3339(self) -> String {
        let mut buf = [0u8; RFC3339_LEN];
        match self.write_rfc3339(&mut buf) {
            Some(text) => text.to_owned(),
            None => self.to_rfc3339_slow(),
        }
    }

    /// Writes the RFC 3339 form into `buf` without allocating (every event
    /// has a timestamp); `None` outside the years 0 to 9999.
    fn write_rfc3339(self, buf: &mut [u8; RFC3339_LEN]) -> Option<&str> {
        const DAY: i64 = 86_400_000_000;
        let days = self.0.div_euclid(DAY);
        let in_day = self.0.rem_euclid(DAY);
        // Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        if !(0..=9999).contains(&year) {
            return None;
        }
        let secs = in_day / 1_000_000;
        let fields: [(usize, i64, usize); 7] = [
            (0, year, 4),
            (5, month, 2),
            (8, day, 2),
            (11, secs / 3600, 2),
            (14, secs / 60 % 60, 2),
            (17, secs % 60, 2),
            (20, in_day % 1_000_000, 6),
        ];
        *buf = *b"0000-00-00T00:00:00.000000Z";
        for (at, mut value, width) in fields {
            for slot in buf.get_mut(at..at + width)?.iter_mut().rev() {
                *slot = b'0' + (value % 10) as u8;
                value /= 10;
            }
        }
        std::str::from_utf8(buf).ok()
    }

    fn to_rfc3339_slow(self) -> String {
        let format = format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
        );
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000)
            .ok()
            .and_then(|t| t.format(format).ok())
            .unwrap_or_else(|| "1970-01-01T00:00:00.000000Z".to_owned())
    }
}

/// Characters in `2024-05-01T12:00:00.000123Z`.
const RFC3339_LEN: usize = 27;

impl std::fmt::Display for Timestamp {
    /// RFC 3339 UTC with microseconds, as serialised.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut buf = [0u8; RFC3339_LEN];
        match self.write_rfc3339(&mut buf) {
            Some(text) => f.write_str(text),
            None => f.write_str(&self.to_rfc3339_slow()),
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; RFC3339_LEN];
        match self.write_rfc3339(&mut buf) {
            Some(text) => s.serialize_str(text),
            None => s.serialize_str(&self.to_rfc3339_slow()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn timestamps_format_as_the_time_crate_does(micros in -62_135_596_800_000_000i64..253_402_300_799_999_999) {
            let t = Timestamp(micros);
            proptest::prop_assert_eq!(t.to_rfc3339(), t.to_rfc3339_slow());
        }
    }

    #[test]
    fn the_four_digit_years_are_those_the_fast_form_writes() {
        let mut buf = [0u8; RFC3339_LEN];
        for micros in [
            -62_167_219_200_000_001,
            -62_167_219_200_000_000,
            0,
            253_402_300_799_999_999,
            253_402_300_800_000_000,
        ] {
            let t = Timestamp(micros);
            assert_eq!(
                t.in_rfc3339_years(),
                t.write_rfc3339(&mut buf).is_some(),
                "{micros}"
            );
        }
        assert!(!Timestamp(i64::MIN).in_rfc3339_years());
    }

    #[test]
    fn timestamps_at_the_edges() {
        assert_eq!(Timestamp(0).to_rfc3339(), "1970-01-01T00:00:00.000000Z");
        assert_eq!(Timestamp(-1).to_rfc3339(), "1969-12-31T23:59:59.999999Z");
        assert_eq!(
            Timestamp(951_782_400_000_000).to_rfc3339(),
            "2000-02-29T00:00:00.000000Z"
        );
        assert_eq!(
            serde_json::to_string(&Timestamp(1_714_564_800_000_123)).unwrap(),
            "\"2024-05-01T12:00:00.000123Z\""
        );
    }
}
