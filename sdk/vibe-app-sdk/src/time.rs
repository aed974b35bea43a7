//! Calendar dates and instants, as forms, the database and JSON carry them: a [`Date`] is
//! `YYYY-MM-DD` (what `<input type="date">` sends), a [`Timestamp`] is microseconds since the Unix
//! epoch in UTC (what `vibe:app/db` returns for `timestamptz`, `timestamp` and `date` columns),
//! shown as RFC 3339.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

/// A calendar date (proleptic Gregorian, years 1 to 9999).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

impl Date {
    /// The date, if it exists.
    pub fn new(year: u16, month: u8, day: u8) -> Option<Date> {
        let valid = (1..=9999).contains(&year) && (1..=12).contains(&month) && day >= 1;
        (valid && day <= days_in_month(year, month)).then_some(Date { year, month, day })
    }

    /// The year.
    pub fn year(self) -> u16 {
        self.year
    }

    /// The month, 1 to 12.
    pub fn month(self) -> u8 {
        self.month
    }

    /// The day of the month, from 1.
    pub fn day(self) -> u8 {
        self.day
    }

    /// Days since 1970-01-01 (negative before).
    pub fn days_since_epoch(self) -> i64 {
        // Howard Hinnant's days_from_civil.
        let (month, day) = (i64::from(self.month), i64::from(self.day));
        let year = i64::from(self.year) - i64::from(month <= 2);
        let era = year.div_euclid(400);
        let year_of_era = year - era * 400;
        let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        era * 146_097 + day_of_era - 719_468
    }

    /// The date `days` after 1970-01-01, if it is within years 1 to 9999.
    pub fn from_days_since_epoch(days: i64) -> Option<Date> {
        // Howard Hinnant's civil_from_days.
        let z = days.checked_add(719_468)?;
        let era = z.div_euclid(146_097);
        let day_of_era = z - era * 146_097;
        let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let mp = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        Date::new(u16::try_from(year).ok()?, u8::try_from(month).ok()?, u8::try_from(day).ok()?)
    }
}

/// 1970-01-01 (the stand-in value of a date field that failed validation).
impl Default for Date {
    fn default() -> Date {
        Date { year: 1970, month: 1, day: 1 }
    }
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => 29,
        2 => 28,
        _ => 31,
    }
}

/// Parses `YYYY-MM-DD`.
impl FromStr for Date {
    type Err = String;

    fn from_str(text: &str) -> Result<Date, String> {
        let invalid = || format!("`{text}` is not a date (YYYY-MM-DD)");
        let bytes = text.as_bytes();
        if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
            return Err(invalid());
        }
        let number = |range: std::ops::Range<usize>| {
            let part = text.get(range).filter(|part| part.bytes().all(|b| b.is_ascii_digit()))?;
            part.parse::<u16>().ok()
        };
        let (year, month, day) = (number(0..4), number(5..7), number(8..10));
        match (year, month, day) {
            (Some(year), Some(month), Some(day)) => Date::new(
                year,
                u8::try_from(month).map_err(|_| invalid())?,
                u8::try_from(day).map_err(|_| invalid())?,
            )
            .ok_or_else(invalid),
            _ => Err(invalid()),
        }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// An instant: microseconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Now, from the system clock.
    pub fn now() -> Timestamp {
        let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        Timestamp(since.map_or(0, |since| i64::try_from(since.as_micros()).unwrap_or(i64::MAX)))
    }

    /// Microseconds since the Unix epoch.
    pub fn micros(self) -> i64 {
        self.0
    }

    /// The (UTC) date of this instant, if it is within years 1 to 9999.
    pub fn date(self) -> Option<Date> {
        Date::from_days_since_epoch(self.0.div_euclid(MICROS_PER_DAY))
    }
}

/// Parses RFC 3339 (`2027-01-14T19:00:00+01:00`, `2027-01-14T18:00:00.5Z`), and also what a
/// `datetime-local` input sends (`2027-01-14T19:00`, seconds optional, no offset: read as UTC).
/// A space may stand for the `T`.
impl FromStr for Timestamp {
    type Err = String;

    fn from_str(text: &str) -> Result<Timestamp, String> {
        let invalid =
            || format!("`{text}` is not a date and time (RFC 3339, such as 2027-01-14T19:00:00+01:00)");
        let date: Date = text.get(..10).ok_or_else(invalid)?.parse().map_err(|_| invalid())?;
        let rest = text.get(10..).ok_or_else(invalid)?;
        let rest = rest.strip_prefix(['T', 't', ' ']).ok_or_else(invalid)?;
        let digits = |part: Option<&str>| {
            part.filter(|part| part.len() == 2 && part.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|part| part.parse::<i64>().ok())
        };
        let hour = digits(rest.get(..2)).filter(|hour| *hour < 24).ok_or_else(invalid)?;
        let rest = rest.get(2..).and_then(|rest| rest.strip_prefix(':')).ok_or_else(invalid)?;
        let minute = digits(rest.get(..2)).filter(|minute| *minute < 60).ok_or_else(invalid)?;
        let mut rest = rest.get(2..).ok_or_else(invalid)?;
        let (mut second, mut micros) = (0, 0);
        if let Some(after) = rest.strip_prefix(':') {
            second = digits(after.get(..2)).filter(|second| *second < 60).ok_or_else(invalid)?;
            rest = after.get(2..).ok_or_else(invalid)?;
            if let Some(after) = rest.strip_prefix('.') {
                let end = after.find(|c: char| !c.is_ascii_digit()).unwrap_or(after.len());
                if end == 0 {
                    return Err(invalid());
                }
                let fraction = &after[..end.min(6)];
                micros = format!("{fraction:0<6}").parse::<i64>().map_err(|_| invalid())?;
                rest = &after[end..];
            }
        }
        let offset_minutes = match rest {
            "" | "Z" | "z" => 0,
            _ => {
                let sign = match rest.as_bytes()[0] {
                    b'+' => 1,
                    b'-' => -1,
                    _ => return Err(invalid()),
                };
                let hours = digits(rest.get(1..3)).filter(|hours| *hours < 24).ok_or_else(invalid)?;
                let minutes = rest
                    .get(3..)
                    .and_then(|rest| rest.strip_prefix(':'))
                    .and_then(|rest| digits(Some(rest)))
                    .filter(|minutes| *minutes < 60)
                    .ok_or_else(invalid)?;
                sign * (hours * 60 + minutes)
            }
        };
        let seconds =
            date.days_since_epoch() * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
        Ok(Timestamp(seconds * MICROS_PER_SECOND + micros))
    }
}

/// RFC 3339 in UTC, with microseconds only when there are any: `2024-05-01T12:30:00Z`.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(date) = self.date() else {
            return write!(f, "@{}us", self.0);
        };
        let micros = self.0.rem_euclid(MICROS_PER_DAY);
        let seconds = micros / MICROS_PER_SECOND;
        let (hour, minute, second) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
        write!(f, "{date}T{hour:02}:{minute:02}:{second:02}")?;
        match micros % MICROS_PER_SECOND {
            0 => f.write_str("Z"),
            fraction => write!(f, ".{fraction:06}Z"),
        }
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Date, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_dates() {
        let date: Date = "2024-02-29".parse().unwrap();
        assert_eq!((date.year(), date.month(), date.day()), (2024, 2, 29));
        assert_eq!(date.to_string(), "2024-02-29");
        for bad in
            ["2023-02-29", "2024-13-01", "2024-00-10", "2024-1-01", "24-01-01x", "2024/01/01", "+024-01-01"]
        {
            assert!(bad.parse::<Date>().is_err(), "{bad}");
        }
    }

    #[test]
    fn days_round_trip() {
        let epoch = Date::new(1970, 1, 1).unwrap();
        assert_eq!(epoch.days_since_epoch(), 0);
        assert_eq!(Date::new(2000, 3, 1).unwrap().days_since_epoch(), 11_017);
        assert_eq!(Date::new(1969, 12, 31).unwrap().days_since_epoch(), -1);
        for days in [-719_162, -1, 0, 59, 11_016, 19_782, 2_932_896] {
            let date = Date::from_days_since_epoch(days).unwrap();
            assert_eq!(date.days_since_epoch(), days, "{date}");
        }
        assert_eq!(Date::from_days_since_epoch(2_932_897), None);
    }

    #[test]
    fn timestamps_print_as_rfc3339() {
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00Z");
        assert_eq!(Timestamp(1_714_566_600_000_000).to_string(), "2024-05-01T12:30:00Z");
        assert_eq!(Timestamp(-1).to_string(), "1969-12-31T23:59:59.999999Z");
        assert_eq!(Timestamp(1_714_566_600_000_000).date(), Date::new(2024, 5, 1));
    }

    #[test]
    fn parses_rfc3339_and_local_inputs() {
        let noon: Timestamp = "2024-05-01T12:30:00Z".parse().unwrap();
        assert_eq!(noon, Timestamp(1_714_566_600_000_000));
        assert_eq!("2024-05-01T14:30:00+02:00".parse::<Timestamp>().unwrap(), noon);
        assert_eq!("2024-05-01 12:30".parse::<Timestamp>().unwrap(), noon);
        assert_eq!("2024-05-01T12:30:00.25Z".parse::<Timestamp>().unwrap(), Timestamp(noon.0 + 250_000));
        assert_eq!("1969-12-31T23:59:59.999999Z".parse::<Timestamp>().unwrap(), Timestamp(-1));
        for bad in
            ["2024-05-01", "2024-05-01T25:00", "2024-05-01T12:30:00+0200", "2024-05-01T12:30:00.Z", "x"]
        {
            assert!(bad.parse::<Timestamp>().is_err(), "{bad}");
        }
    }
}
