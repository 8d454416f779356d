//! When a professional works: weekly rules in the studio's civil time, and exceptions (time
//! off, extra openings) over date ranges.

use jiff::civil::{Date, Time, Weekday};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::ToSchema;

use crate::Invalid;
use crate::studios::check_text;

/// A civil time of day as minutes since midnight, `"HH:MM"` in JSON; `"24:00"` is the end of
/// the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeOfDay(pub u16);

impl TimeOfDay {
    /// End of the day.
    pub const END_OF_DAY: TimeOfDay = TimeOfDay(24 * 60);

    /// Parses `HH:MM`.
    pub fn parse(text: &str) -> Option<TimeOfDay> {
        let (h, m) = text.split_once(':')?;
        if h.len() != 2 || m.len() != 2 {
            return None;
        }
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        match (h, m) {
            (24, 0) => Some(TimeOfDay::END_OF_DAY),
            (0..=23, 0..=59) => Some(TimeOfDay(h * 60 + m)),
            _ => None,
        }
    }

    /// Minutes since midnight.
    pub fn minutes(self) -> u16 {
        self.0
    }

    /// The civil time (`24:00` is not one: `None`).
    pub fn to_time(self) -> Option<Time> {
        let (h, m) = (self.0 / 60, self.0 % 60);
        Time::new(i8::try_from(h).ok()?, i8::try_from(m).ok()?, 0, 0).ok().filter(|_| self.0 < 24 * 60)
    }
}

impl Serialize for TimeOfDay {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{:02}:{:02}", self.0 / 60, self.0 % 60))
    }
}

impl<'de> Deserialize<'de> for TimeOfDay {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<TimeOfDay, D::Error> {
        let text = String::deserialize(d)?;
        TimeOfDay::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("`{text}` is not a time HH:MM")))
    }
}

/// A day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Day {
    /// Monday.
    Monday,
    /// Tuesday.
    Tuesday,
    /// Wednesday.
    Wednesday,
    /// Thursday.
    Thursday,
    /// Friday.
    Friday,
    /// Saturday.
    Saturday,
    /// Sunday.
    Sunday,
}

impl Day {
    /// The day of a civil date.
    pub fn of(date: Date) -> Day {
        match date.weekday() {
            Weekday::Monday => Day::Monday,
            Weekday::Tuesday => Day::Tuesday,
            Weekday::Wednesday => Day::Wednesday,
            Weekday::Thursday => Day::Thursday,
            Weekday::Friday => Day::Friday,
            Weekday::Saturday => Day::Saturday,
            Weekday::Sunday => Day::Sunday,
        }
    }
}

/// A working range on one weekday.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WeeklyRange {
    /// The weekday.
    pub day: Day,
    /// Start, `HH:MM`.
    #[schema(value_type = String, example = "09:00")]
    pub start: TimeOfDay,
    /// End, `HH:MM` (`24:00` for midnight).
    #[schema(value_type = String, example = "13:00")]
    pub end: TimeOfDay,
}

/// A professional's regular week: several ranges a day allowed, none overlapping.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WeeklySchedule {
    /// The ranges.
    pub ranges: Vec<WeeklyRange>,
}

impl WeeklySchedule {
    /// Checks the ranges (start before end, no overlaps on a day) and sorts them.
    pub fn validate(&self) -> Result<WeeklySchedule, Invalid> {
        let mut errors = Invalid::default();
        errors.check(self.ranges.len() <= 7 * 12, "ranges", "at most 84 ranges");
        for (i, r) in self.ranges.iter().enumerate() {
            errors.check(r.start < r.end, &format!("ranges[{i}]"), "must start before it ends");
        }
        let mut indexed: Vec<(usize, &WeeklyRange)> = self.ranges.iter().enumerate().collect();
        indexed.sort_by_key(|(_, r)| (r.day, r.start));
        // The latest end so far on the current day: any later start before it overlaps.
        let mut reach: Option<(Day, TimeOfDay)> = None;
        for (i, r) in &indexed {
            match reach {
                Some((day, end)) if day == r.day && r.start < end => {
                    errors.check(false, &format!("ranges[{i}]"), "overlaps another range of the same day");
                    reach = Some((day, end.max(r.end)));
                }
                _ => reach = Some((r.day, r.end)),
            }
        }
        errors.into_result()?;
        Ok(WeeklySchedule { ranges: indexed.into_iter().map(|(_, r)| *r).collect() })
    }

    /// The ranges of one weekday, in order.
    pub fn on(&self, day: Day) -> impl Iterator<Item = &WeeklyRange> {
        self.ranges.iter().filter(move |r| r.day == day)
    }
}

/// What an exception does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExceptionKind {
    /// Not working (holiday, sick day, a morning off).
    TimeOff,
    /// Working beyond the weekly rules.
    ExtraOpening,
}

/// A change to the regular week over a date range: whole days, or the same hours each day.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AvailabilityException {
    /// Time off or extra opening.
    pub kind: ExceptionKind,
    /// First day, `YYYY-MM-DD`.
    #[schema(value_type = String, format = Date)]
    pub start_date: Date,
    /// Last day (included).
    #[schema(value_type = String, format = Date)]
    pub end_date: Date,
    /// From this time each day (with `end_time`); absent for whole days.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "14:00")]
    pub start_time: Option<TimeOfDay>,
    /// Until this time each day.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "18:00")]
    pub end_time: Option<TimeOfDay>,
    /// Why (not shown to clients).
    #[serde(default)]
    pub note: String,
}

impl AvailabilityException {
    /// Checks the exception.
    pub fn validate(&self) -> Result<AvailabilityException, Invalid> {
        let mut errors = Invalid::default();
        let note = check_text(&self.note, 500, "note").map_err(|e| errors.0.extend(e.0)).unwrap_or_default();
        errors.check(self.start_date <= self.end_date, "end_date", "must not be before start_date");
        let days = self.start_date.until(self.end_date).map(|span| span.get_days()).unwrap_or(i32::MAX);
        errors.check(days <= 366, "end_date", "at most a year after start_date");
        match (self.start_time, self.end_time) {
            (None, None) => {}
            (Some(s), Some(e)) => {
                errors.check(s < e, "end_time", "must be after start_time");
            }
            _ => {
                errors.check(false, "start_time", "give both start_time and end_time, or neither");
            }
        }
        errors.into_result()?;
        Ok(AvailabilityException { note, ..self.clone() })
    }

    /// The hours it covers each day (whole days are 00:00-24:00).
    pub fn hours(&self) -> (TimeOfDay, TimeOfDay) {
        (self.start_time.unwrap_or(TimeOfDay(0)), self.end_time.unwrap_or(TimeOfDay::END_OF_DAY))
    }

    /// Whether two exceptions of the same kind cover some same moment.
    pub fn overlaps(&self, other: &AvailabilityException) -> bool {
        let dates = self.start_date <= other.end_date && other.start_date <= self.end_date;
        let ((a0, a1), (b0, b1)) = (self.hours(), other.hours());
        self.kind == other.kind && dates && a0 < b1 && b0 < a1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> TimeOfDay {
        TimeOfDay::parse(text).expect("time")
    }

    fn range(day: Day, start: &str, end: &str) -> WeeklyRange {
        WeeklyRange { day, start: t(start), end: t(end) }
    }

    #[test]
    fn times_of_day() {
        assert_eq!(t("09:30").minutes(), 570);
        assert_eq!(t("24:00"), TimeOfDay::END_OF_DAY);
        for bad in ["9:30", "24:01", "12:60", "ab:cd", ""] {
            assert!(TimeOfDay::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(serde_json::to_string(&t("07:05")).expect("json"), "\"07:05\"");
    }

    #[test]
    fn weekly_ranges() {
        let week = WeeklySchedule {
            ranges: vec![
                range(Day::Tuesday, "14:00", "18:00"),
                range(Day::Tuesday, "09:00", "13:00"),
                range(Day::Monday, "09:00", "17:00"),
            ],
        };
        let valid = week.validate().expect("valid");
        assert_eq!(valid.on(Day::Tuesday).map(|r| r.start).collect::<Vec<_>>(), [t("09:00"), t("14:00")]);
        let overlapping = WeeklySchedule {
            ranges: vec![range(Day::Monday, "09:00", "13:00"), range(Day::Monday, "12:00", "15:00")],
        };
        assert_eq!(overlapping.validate().expect_err("overlap").0[0].field, "ranges[1]");
        let inverted = WeeklySchedule { ranges: vec![range(Day::Friday, "18:00", "09:00")] };
        assert!(inverted.validate().is_err());
        let nested = WeeklySchedule {
            ranges: vec![
                range(Day::Monday, "09:00", "17:00"),
                range(Day::Monday, "10:00", "11:00"),
                range(Day::Monday, "12:00", "13:00"),
            ],
        };
        assert_eq!(nested.validate().expect_err("overlaps").0.len(), 2, "both ranges inside the long one");
        let touching = WeeklySchedule {
            ranges: vec![range(Day::Monday, "09:00", "12:00"), range(Day::Monday, "12:00", "15:00")],
        };
        assert!(touching.validate().is_ok(), "ranges may touch");
    }

    #[test]
    fn exceptions() {
        let date = |s: &str| s.parse::<Date>().expect("date");
        let off = AvailabilityException {
            kind: ExceptionKind::TimeOff,
            start_date: date("2026-12-24"),
            end_date: date("2026-12-26"),
            start_time: None,
            end_time: None,
            note: "Christmas".into(),
        };
        assert!(off.validate().is_ok());
        let inverted = AvailabilityException { end_date: date("2026-12-23"), ..off.clone() };
        assert!(inverted.validate().is_err());
        let half = AvailabilityException { start_time: Some(t("14:00")), ..off.clone() };
        assert!(half.validate().is_err(), "both times or neither");
        let afternoon = AvailabilityException {
            start_date: date("2026-12-26"),
            end_date: date("2026-12-27"),
            start_time: Some(t("14:00")),
            end_time: Some(t("18:00")),
            ..off.clone()
        };
        assert!(off.overlaps(&afternoon));
        let extra = AvailabilityException { kind: ExceptionKind::ExtraOpening, ..afternoon.clone() };
        assert!(!off.overlaps(&extra), "different kinds never overlap");
    }
}
