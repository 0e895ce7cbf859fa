//! Deploy windows: the weekdays and times when a stage may run.

use chrono::{DateTime, Datelike, FixedOffset, NaiveTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::str::FromStr;

/// A day of the week as written in config (`mon` … `sun`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Weekday {
    /// Monday.
    Mon,
    /// Tuesday.
    Tue,
    /// Wednesday.
    Wed,
    /// Thursday.
    Thu,
    /// Friday.
    Fri,
    /// Saturday.
    Sat,
    /// Sunday.
    Sun,
}

impl Weekday {
    fn of(day: chrono::Weekday) -> Weekday {
        match day {
            chrono::Weekday::Mon => Weekday::Mon,
            chrono::Weekday::Tue => Weekday::Tue,
            chrono::Weekday::Wed => Weekday::Wed,
            chrono::Weekday::Thu => Weekday::Thu,
            chrono::Weekday::Fri => Weekday::Fri,
            chrono::Weekday::Sat => Weekday::Sat,
            chrono::Weekday::Sun => Weekday::Sun,
        }
    }
}

/// `deploy_window:`: open on `days` from `start` to `end` (local to `timezone`;
/// `end` before `start` means the window crosses midnight).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployWindow {
    /// Days the window opens (the day it starts, for windows crossing midnight).
    pub days: Vec<Weekday>,
    /// Opening time, `HH:MM`.
    pub start: TimeOfDay,
    /// Closing time, `HH:MM`.
    pub end: TimeOfDay,
    /// `UTC` or a fixed offset such as `+02:00`.
    #[serde(default)]
    pub timezone: Offset,
}

impl DeployWindow {
    /// Whether a deploy may start at `at`.
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        let local = at.with_timezone(&self.timezone.0);
        let t = local.time();
        let (start, end) = (self.start.0, self.end.0);
        if start < end {
            self.days.contains(&Weekday::of(local.weekday())) && t >= start && t < end
        } else if t >= start {
            self.days.contains(&Weekday::of(local.weekday()))
        } else if t < end {
            // After midnight: the window belongs to the previous day.
            self.days.contains(&Weekday::of(local.weekday().pred()))
        } else {
            false
        }
    }
}

/// A time of day written `HH:MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeOfDay(pub NaiveTime);

impl FromStr for TimeOfDay {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        NaiveTime::parse_from_str(s.trim(), "%H:%M")
            .map(TimeOfDay)
            .map_err(|_| format!("`{s}` is not a time of day (use HH:MM, e.g. `09:00`)"))
    }
}

impl Serialize for TimeOfDay {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0.format("%H:%M"))
    }
}

impl<'de> Deserialize<'de> for TimeOfDay {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A fixed UTC offset (`UTC`, `Z`, `+02:00`, `-05:30`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offset(pub FixedOffset);

impl Default for Offset {
    fn default() -> Self {
        Offset(chrono::Offset::fix(&Utc))
    }
}

impl FromStr for Offset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("utc") || t == "Z" {
            return Ok(Offset::default());
        }
        let bad = || format!("`{s}` is not a timezone offset (use `UTC` or `+HH:MM`)");
        let (sign, rest) = match t.as_bytes().first() {
            Some(b'+') => (1, &t[1..]),
            Some(b'-') => (-1, &t[1..]),
            _ => return Err(bad()),
        };
        let (h, m) = rest.split_once(':').ok_or_else(bad)?;
        let h: i32 = h.parse().map_err(|_| bad())?;
        let m: i32 = m.parse().map_err(|_| bad())?;
        if h > 14 || m > 59 {
            return Err(bad());
        }
        FixedOffset::east_opt(sign * (h * 3600 + m * 60))
            .map(Offset)
            .ok_or_else(bad)
    }
}

impl Serialize for Offset {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Offset {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn window(days: &[Weekday], start: &str, end: &str, tz: &str) -> DeployWindow {
        DeployWindow {
            days: days.to_vec(),
            start: start.parse().unwrap(),
            end: end.parse().unwrap(),
            timezone: tz.parse().unwrap(),
        }
    }

    #[test]
    fn office_hours_open_and_closed() {
        let w = window(&[Weekday::Mon, Weekday::Fri], "09:00", "17:00", "UTC");
        // 2026-11-23 is a Monday.
        assert!(w.is_open(Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap()));
        assert!(!w.is_open(Utc.with_ymd_and_hms(2026, 11, 23, 17, 0, 0).unwrap()));
        assert!(!w.is_open(Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap()));
    }

    #[test]
    fn offset_shifts_the_window() {
        let w = window(&[Weekday::Mon], "09:00", "10:00", "+02:00");
        assert!(w.is_open(Utc.with_ymd_and_hms(2026, 11, 23, 7, 30, 0).unwrap()));
        assert!(!w.is_open(Utc.with_ymd_and_hms(2026, 11, 23, 9, 30, 0).unwrap()));
    }

    #[test]
    fn window_across_midnight_belongs_to_its_start_day() {
        let w = window(&[Weekday::Sat], "22:00", "02:00", "UTC");
        // Saturday 2026-11-28 23:00 and Sunday 01:00 are inside; Sunday 23:00 is not.
        assert!(w.is_open(Utc.with_ymd_and_hms(2026, 11, 28, 23, 0, 0).unwrap()));
        assert!(w.is_open(Utc.with_ymd_and_hms(2026, 11, 29, 1, 0, 0).unwrap()));
        assert!(!w.is_open(Utc.with_ymd_and_hms(2026, 11, 29, 23, 0, 0).unwrap()));
    }

    #[test]
    fn rejects_bad_times_and_offsets() {
        assert!("25:00".parse::<TimeOfDay>().is_err());
        assert!("9am".parse::<TimeOfDay>().is_err());
        assert!("CET".parse::<Offset>().is_err());
        assert!("+15:00".parse::<Offset>().is_err());
        assert!("-05:30".parse::<Offset>().is_ok());
    }
}
