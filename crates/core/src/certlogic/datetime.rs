//! CertLogic date-times: parsing the allowed formats, offsetting with the
//! JavaScript `Date` semantics the specification pins down, and formatting.
//!
//! A date-time is held as milliseconds since the Unix epoch, UTC, which is
//! exactly what a JavaScript `Date` holds: the specification defines
//! `plusTime` through `Date.setUTC*`, so mirroring that representation keeps
//! leap-day and month-end behaviour identical to the reference implementation.

use std::fmt;

use time::OffsetDateTime;

const MS_PER_SECOND: i64 = 1_000;
const MS_PER_MINUTE: i64 = 60 * MS_PER_SECOND;
const MS_PER_HOUR: i64 = 60 * MS_PER_MINUTE;
const MS_PER_DAY: i64 = 24 * MS_PER_HOUR;
/// The range of a JavaScript `Date`: ±100,000,000 days around the epoch.
const MAX_ABS_MS: i64 = 8_640_000_000_000_000;

/// A point in time with millisecond precision, as CertLogic sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CertDateTime {
    millis: i64,
}

/// The time units `plusTime` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeUnit {
    Year,
    Month,
    Day,
    Hour,
}

impl TimeUnit {
    pub fn parse(s: &str) -> Option<TimeUnit> {
        match s {
            "year" => Some(TimeUnit::Year),
            "month" => Some(TimeUnit::Month),
            "day" => Some(TimeUnit::Day),
            "hour" => Some(TimeUnit::Hour),
            _ => None,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            TimeUnit::Year => "year",
            TimeUnit::Month => "month",
            TimeUnit::Day => "day",
            TimeUnit::Hour => "hour",
        }
    }
}

impl CertDateTime {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    pub const fn unix_millis(self) -> i64 {
        self.millis
    }

    /// Builds a date-time from milliseconds since the epoch, if a JavaScript
    /// `Date` could hold it.
    pub const fn from_unix_millis(millis: i64) -> Option<CertDateTime> {
        if millis.unsigned_abs() <= MAX_ABS_MS.unsigned_abs() {
            Some(CertDateTime { millis })
        } else {
            None
        }
    }

    /// Converts an `OffsetDateTime`, dropping sub-millisecond precision
    /// (rounding down, as the specification does for extra decimals).
    pub fn from_offset_date_time(t: OffsetDateTime) -> CertDateTime {
        let nanos = t.unix_timestamp_nanos();
        let millis = nanos.div_euclid(1_000_000);
        // `time` without large dates spans years ±9999, well inside a JS Date.
        CertDateTime {
            millis: i64::try_from(millis).unwrap_or(if millis < 0 {
                -MAX_ABS_MS
            } else {
                MAX_ABS_MS
            }),
        }
    }

    /// Converts to an `OffsetDateTime` in UTC, if `time` can represent it
    /// (years -9999 to 9999).
    pub fn to_offset_date_time(self) -> Option<OffsetDateTime> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.millis) * 1_000_000).ok()
    }

    /// Parses one of the date and date-time formats the specification allows
    /// for `plusTime`. Partial dates follow `dccDateOfBirth`: `YYYY` is the
    /// last day of the year, `YYYY-MM` the last day of the month.
    pub fn parse(s: &str) -> Option<CertDateTime> {
        let mut p = Cursor::new(s);
        let year = p.digits_exact(4)?;
        let (month, day, date_is_full) = if p.eat(b'-') {
            let month = p.digits_exact(2)?;
            if !(1..=12).contains(&month) {
                return None;
            }
            if p.eat(b'-') {
                let day = p.digits_exact(2)?;
                if day < 1 || day > days_in_month(year, month) {
                    return None;
                }
                (month, day, true)
            } else {
                (month, days_in_month(year, month), false)
            }
        } else {
            (12, 31, false)
        };
        let mut ms_of_day = 0;
        let mut offset_ms = 0;
        if p.eat(b'T') {
            if !date_is_full {
                return None;
            }
            let hour = p.digits_exact(2)?;
            if !p.eat(b':') {
                return None;
            }
            let minute = p.digits_exact(2)?;
            if !p.eat(b':') {
                return None;
            }
            let second = p.digits_exact(2)?;
            if hour > 23 || minute > 59 || second > 59 {
                return None;
            }
            let mut millis = 0;
            if p.eat(b'.') {
                let fraction = p.take_digits();
                if fraction.is_empty() {
                    return None;
                }
                // Only the first three decimals count: round down to the millisecond.
                let mut scale = 100;
                for digit in fraction.iter().take(3) {
                    millis += i64::from(digit - b'0') * scale;
                    scale /= 10;
                }
            }
            ms_of_day =
                hour * MS_PER_HOUR + minute * MS_PER_MINUTE + second * MS_PER_SECOND + millis;
            offset_ms = p.offset()?;
        }
        if !p.at_end() {
            return None;
        }
        let days = days_from_civil(year, month, day);
        let millis = days
            .checked_mul(MS_PER_DAY)?
            .checked_add(ms_of_day)?
            .checked_sub(offset_ms)?;
        CertDateTime::from_unix_millis(millis)
    }

    /// Parses a DCC date of birth (`YYYY`, `YYYY-MM` or `YYYY-MM-DD`) as its
    /// latest consistent day, at midnight UTC.
    pub fn parse_date_of_birth(s: &str) -> Option<CertDateTime> {
        if s.contains('T') {
            return None;
        }
        CertDateTime::parse(s)
    }

    /// Adds an amount of a unit the way `Date.setUTC<unit>(getUTC<unit>() + amount)`
    /// does: days and hours are fixed lengths in UTC; months and years keep the
    /// day of the month and let it overflow into the next month
    /// (2020-02-29 + 1 year = 2021-03-01).
    pub fn plus(self, amount: i64, unit: TimeUnit) -> Option<CertDateTime> {
        let millis = match unit {
            TimeUnit::Hour => self.millis.checked_add(amount.checked_mul(MS_PER_HOUR)?)?,
            TimeUnit::Day => self.millis.checked_add(amount.checked_mul(MS_PER_DAY)?)?,
            TimeUnit::Month | TimeUnit::Year => {
                let days = self.millis.div_euclid(MS_PER_DAY);
                let ms_of_day = self.millis.rem_euclid(MS_PER_DAY);
                let (year, month, day) = civil_from_days(days);
                let months = match unit {
                    TimeUnit::Year => amount.checked_mul(12)?,
                    _ => amount,
                };
                let total = year
                    .checked_mul(12)?
                    .checked_add(month - 1)?
                    .checked_add(months)?;
                let (new_year, new_month) = (total.div_euclid(12), total.rem_euclid(12) + 1);
                // Keep the new year inside what the day arithmetic can hold.
                if new_year.abs() > 1_000_000 {
                    return None;
                }
                let new_days = days_from_civil(new_year, new_month, 1) + day - 1;
                new_days.checked_mul(MS_PER_DAY)?.checked_add(ms_of_day)?
            }
        };
        CertDateTime::from_unix_millis(millis)
    }
}

/// Formats as JavaScript's `Date.toISOString()`: `YYYY-MM-DDTHH:MM:SS.mmmZ`.
impl fmt::Display for CertDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.millis.div_euclid(MS_PER_DAY);
        let ms = self.millis.rem_euclid(MS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        if (0..=9999).contains(&year) {
            write!(f, "{year:04}")?;
        } else if year < 0 {
            write!(f, "-{:06}", -year)?;
        } else {
            write!(f, "+{year:06}")?;
        }
        write!(
            f,
            "-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
            ms / MS_PER_HOUR,
            ms % MS_PER_HOUR / MS_PER_MINUTE,
            ms % MS_PER_MINUTE / MS_PER_SECOND,
            ms % MS_PER_SECOND
        )
    }
}

fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap_year(year) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let shifted_month = (month + 9) % 12;
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A byte cursor over an ASCII date-time string.
struct Cursor<'s> {
    bytes: &'s [u8],
    pos: usize,
}

impl<'s> Cursor<'s> {
    fn new(s: &'s str) -> Self {
        Cursor {
            bytes: s.as_bytes(),
            pos: 0,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn take_digits(&mut self) -> &'s [u8] {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        self.bytes.get(start..self.pos).unwrap_or(&[])
    }

    /// Exactly `n` digits, not followed by another digit.
    fn digits_exact(&mut self, n: usize) -> Option<i64> {
        let digits = self.take_digits();
        if digits.len() != n {
            return None;
        }
        Some(
            digits
                .iter()
                .fold(0, |acc, d| acc * 10 + i64::from(d - b'0')),
        )
    }

    /// An optional offset: `Z`, or `[+-]` followed by `h`, `hh`, `hmm`,
    /// `hhmm`, `h:mm` or `hh:mm`. Returns the offset in milliseconds; a
    /// missing offset means UTC.
    fn offset(&mut self) -> Option<i64> {
        if self.at_end() {
            return Some(0);
        }
        if self.eat(b'Z') {
            return Some(0);
        }
        let sign = if self.eat(b'+') {
            1
        } else if self.eat(b'-') {
            -1
        } else {
            return None;
        };
        let first = self.take_digits();
        let value = |ds: &[u8]| {
            ds.iter()
                .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'))
        };
        let (hours, minutes) = if self.eat(b':') {
            if first.is_empty() || first.len() > 2 {
                return None;
            }
            let minutes = self.digits_exact(2)?;
            (value(first), minutes)
        } else {
            match first.len() {
                1 | 2 => (value(first), 0),
                3 | 4 => {
                    let split = first.len() - 2;
                    (value(first.get(..split)?), value(first.get(split..)?))
                }
                _ => return None,
            }
        };
        if hours > 23 || minutes > 59 {
            return None;
        }
        Some(sign * (hours * MS_PER_HOUR + minutes * MS_PER_MINUTE))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn p(s: &str) -> String {
        CertDateTime::parse(s)
            .map(|d| d.to_string())
            .unwrap_or_else(|| "invalid".into())
    }

    #[test]
    fn parses_every_allowed_format() {
        assert_eq!(p("2021"), "2021-12-31T00:00:00.000Z");
        assert_eq!(p("2020-02"), "2020-02-29T00:00:00.000Z");
        assert_eq!(p("2021-06-01"), "2021-06-01T00:00:00.000Z");
        assert_eq!(p("2021-06-01T12:30:15"), "2021-06-01T12:30:15.000Z");
        assert_eq!(p("2021-06-01T12:30:15Z"), "2021-06-01T12:30:15.000Z");
        assert_eq!(p("2021-06-01T12:30:15+2"), "2021-06-01T10:30:15.000Z");
        assert_eq!(p("2021-06-01T12:30:15-02"), "2021-06-01T14:30:15.000Z");
        assert_eq!(p("2021-06-01T12:30:15+530"), "2021-06-01T07:00:15.000Z");
        assert_eq!(p("2021-06-01T12:30:15+0530"), "2021-06-01T07:00:15.000Z");
        assert_eq!(p("2021-06-01T12:30:15+5:30"), "2021-06-01T07:00:15.000Z");
        assert_eq!(p("2021-06-01T12:30:15+05:30"), "2021-06-01T07:00:15.000Z");
        assert_eq!(p("2021-06-01T12:30:15.1"), "2021-06-01T12:30:15.100Z");
        assert_eq!(p("2021-06-01T12:30:15.123987Z"), "2021-06-01T12:30:15.123Z");
        assert_eq!(
            p("2021-06-01T12:30:15.12+08:00"),
            "2021-06-01T04:30:15.120Z"
        );
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "21",
            "2021-13",
            "2021-02-30",
            "2021-09-99",
            "2021-06-01T",
            "2021-06-01T12:30",
            "2021-06T12:30:15",
            "2021-06-01T12:30:15.",
            "2021-06-01T12:30:15+123456",
            "2021-06-01 12:30:15",
            "2021-06-01T24:00:00",
            "2021-06-01T12:30:15+24",
            "２０２１",
        ] {
            assert_eq!(p(bad), "invalid", "{bad:?}");
        }
    }

    #[test]
    fn offsets_like_javascript_dates() {
        let d = |s: &str| CertDateTime::parse(s).unwrap();
        assert_eq!(
            d("2020-02-29").plus(1, TimeUnit::Day).unwrap().to_string(),
            "2020-03-01T00:00:00.000Z"
        );
        assert_eq!(
            d("2020-02-29")
                .plus(1, TimeUnit::Month)
                .unwrap()
                .to_string(),
            "2020-03-29T00:00:00.000Z"
        );
        assert_eq!(
            d("2020-02-29").plus(1, TimeUnit::Year).unwrap().to_string(),
            "2021-03-01T00:00:00.000Z"
        );
        assert_eq!(
            d("2020-01-31")
                .plus(1, TimeUnit::Month)
                .unwrap()
                .to_string(),
            "2020-03-02T00:00:00.000Z"
        );
        assert_eq!(
            d("2021-03-31")
                .plus(-1, TimeUnit::Month)
                .unwrap()
                .to_string(),
            "2021-03-03T00:00:00.000Z"
        );
        assert_eq!(
            d("2021-01-01T23:00:00Z")
                .plus(2, TimeUnit::Hour)
                .unwrap()
                .to_string(),
            "2021-01-02T01:00:00.000Z"
        );
        assert_eq!(
            d("2021-01-15")
                .plus(-25, TimeUnit::Month)
                .unwrap()
                .to_string(),
            "2018-12-15T00:00:00.000Z"
        );
        assert!(d("2021-01-01").plus(i64::MAX, TimeUnit::Year).is_none());
        assert!(d("2021-01-01").plus(i64::MIN, TimeUnit::Hour).is_none());
    }

    #[test]
    fn civil_round_trip() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn converts_to_and_from_time() {
        let t = time::macros::datetime!(2022-05-01 08:00:00.123456 +08:00);
        let c = CertDateTime::from_offset_date_time(t);
        assert_eq!(c.to_string(), "2022-05-01T00:00:00.123Z");
        assert_eq!(
            c.to_offset_date_time().unwrap().unix_timestamp(),
            t.unix_timestamp()
        );
    }
}
