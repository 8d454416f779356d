//! Free slots, as a pure function over intervals.
//!
//! Time is absolute (UTC instants) everywhere except where people write it: weekly rules and
//! exceptions are civil times in the studio's zone, turned into instants per date, so a
//! working range across a DST change is exactly as long as it really is, a 02:30 that does not
//! exist is never offered and a repeated hour is walked once.
//!
//! Occupancy is counted in 5-minute cells of absolute time. A booking occupies the cells of
//! its service plus buffers; a start is free for a professional (or a resource pool) when none
//! of those cells is already at capacity. The same cells are what the store's conditional
//! writes claim, so what is offered and what can be booked agree.

use std::collections::BTreeMap;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use crate::availability::{AvailabilityException, Day, ExceptionKind, TimeOfDay, WeeklySchedule};

/// Length of an occupancy cell, in minutes. Every slot step and buffer is a multiple of it.
pub const CELL_MINUTES: i64 = 5;

/// A cell: its start, in minutes since the Unix epoch.
pub type Cell = i64;

/// The cell containing `t`.
pub fn cell_of(t: Timestamp) -> Cell {
    (t.as_second().div_euclid(60)).div_euclid(CELL_MINUTES) * CELL_MINUTES
}

/// The instant a cell starts.
pub fn cell_start(cell: Cell) -> Timestamp {
    Timestamp::from_second(cell * 60).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// Cells covering `[start, end)`.
pub fn cells(start: Timestamp, end: Timestamp) -> impl Iterator<Item = Cell> {
    let first = cell_of(start);
    let last = if end > start { cell_of(end - SignedDuration::from_secs(1)) } else { first - CELL_MINUTES };
    (first..=last).step_by(CELL_MINUTES as usize)
}

/// How many bookings hold each cell (absent cells hold none).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Occupancy(pub BTreeMap<Cell, u32>);

impl Occupancy {
    /// Adds one booking over `[start, end)`.
    pub fn add(&mut self, start: Timestamp, end: Timestamp) {
        for cell in cells(start, end) {
            *self.0.entry(cell).or_insert(0) += 1;
        }
    }

    /// Removes one booking over `[start, end)`.
    pub fn remove(&mut self, start: Timestamp, end: Timestamp) {
        for cell in cells(start, end) {
            if let Some(n) = self.0.get_mut(&cell) {
                *n = n.saturating_sub(1);
            }
        }
    }

    /// Cells at or above `capacity`, sorted: a start is free when its window holds none.
    pub fn full_cells(&self, capacity: u32) -> Vec<Cell> {
        self.0.iter().filter(|(_, n)| **n >= capacity).map(|(c, _)| *c).collect()
    }

    /// Whether one more booking fits over `[start, end)`.
    pub fn fits(&self, start: Timestamp, end: Timestamp, capacity: u32) -> bool {
        cells(start, end).all(|c| self.0.get(&c).copied().unwrap_or(0) < capacity)
    }
}

/// How long a service takes and blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ServiceShape {
    /// Minutes of service.
    pub duration_minutes: u32,
    /// Minutes blocked before.
    pub buffer_before_minutes: u32,
    /// Minutes blocked after.
    pub buffer_after_minutes: u32,
}

impl ServiceShape {
    /// The service's own interval for a start.
    pub fn service_interval(&self, start: Timestamp) -> (Timestamp, Timestamp) {
        (start, start + SignedDuration::from_mins(i64::from(self.duration_minutes)))
    }

    /// The interval it blocks (buffers included).
    pub fn blocked_interval(&self, start: Timestamp) -> (Timestamp, Timestamp) {
        let (s, e) = self.service_interval(start);
        (
            s - SignedDuration::from_mins(i64::from(self.buffer_before_minutes)),
            e + SignedDuration::from_mins(i64::from(self.buffer_after_minutes)),
        )
    }
}

/// One professional as the slot search sees them.
#[derive(Debug, Clone)]
pub struct Calendar<'a> {
    /// Who.
    pub professional_id: &'a str,
    /// Their week.
    pub schedule: &'a WeeklySchedule,
    /// Their exceptions around the range.
    pub exceptions: &'a [AvailabilityException],
    /// Their booked cells.
    pub occupancy: &'a Occupancy,
    /// Bookings that may overlap on them (1 + overbooking).
    pub capacity: u32,
}

/// A pool of resources of one type: their booked cells and total capacity.
#[derive(Debug, Clone)]
pub struct Pool<'a> {
    /// Booked cells of the type.
    pub occupancy: &'a Occupancy,
    /// Total capacity of the type's active resources.
    pub capacity: u32,
}

/// The rules of a studio that apply to every start.
#[derive(Debug, Clone)]
pub struct Rules {
    /// The studio's zone.
    pub time_zone: TimeZone,
    /// Start times are on this civil grid, in minutes.
    pub slot_step_minutes: u32,
    /// Starts at least this far from now.
    pub min_notice_minutes: u32,
    /// Starts at most this many days ahead (by civil date).
    pub horizon_days: u32,
    /// Now.
    pub now: Timestamp,
}

impl Rules {
    /// The first second a start may be at: now plus the notice, rounded up.
    fn earliest_second(&self) -> i64 {
        (self.now + SignedDuration::from_mins(i64::from(self.min_notice_minutes))).as_second()
            + i64::from(self.now.subsec_nanosecond() > 0)
    }

    /// Today in the studio's zone: the horizon counts from it.
    fn today(&self) -> Date {
        self.now.to_zoned_datetime(self.time_zone.clone()).date()
    }

    /// All a search of `from..=to` depends on of `now`: the first minute a start may be at, if
    /// that is later than the first day's midnight (every start is a whole minute, so an instant
    /// inside a minute allows what its next minute allows; before the range, the notice excludes
    /// nothing), and today's date, if the horizon counted from it ends before `to`. Searches with
    /// equal inputs and equal keys find the same slots — which lets an answer be revalidated
    /// without running the search, and keeps a future week's answer the same from one minute to
    /// the next.
    pub fn clock_key(&self, from: Date, to: Date) -> (Option<i64>, Option<Date>) {
        let earliest = self.earliest_second();
        let first_start = instant(from, TimeOfDay(0), &self.time_zone).map(Timestamp::as_second);
        let minute = (first_start.is_none_or(|first| earliest > first))
            .then(|| earliest.div_euclid(60) + i64::from(earliest.rem_euclid(60) > 0));
        let today = self.today();
        let horizon =
            today.checked_add(jiff::Span::new().days(i64::from(self.horizon_days))).unwrap_or(today);
        (minute, (horizon < to).then_some(today))
    }
}

/// Why a start cannot be booked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not on the studio's grid of start times.
    #[error("the start is not on the studio's {0}-minute grid")]
    OffGrid(u32),
    /// In the past.
    #[error("the start is in the past")]
    InPast,
    /// Too soon.
    #[error("the start is inside the studio's minimum notice of {0} minutes")]
    InsideNotice(u32),
    /// Too far ahead.
    #[error("the start is beyond the studio's booking horizon of {0} days")]
    BeyondHorizon(u32),
    /// Outside the professional's working hours that day.
    #[error("the professional does not work then")]
    NotWorking,
    /// The professional is booked then (buffers included).
    #[error("the professional is already booked then")]
    ProfessionalBusy,
    /// No resource of the needed type is free then.
    #[error("no resource the service needs is free then")]
    NoResource,
}

/// A bookable start and who is free for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// The start.
    pub start: Timestamp,
    /// Professionals free then, as indices into the calendars searched, in that order (four
    /// bytes each: a thousand professionals over three months is millions of them).
    pub professionals: Vec<u32>,
}

/// Converts a civil time on `date` to an instant: a time in a DST gap moves forward by the
/// gap, a repeated time takes its first occurrence; `24:00` is the next day's midnight.
fn instant(date: Date, time: TimeOfDay, tz: &TimeZone) -> Option<Timestamp> {
    let (date, time) = match time.to_time() {
        Some(t) => (date, t),
        None => (date.tomorrow().ok()?, jiff::civil::Time::midnight()),
    };
    tz.to_ambiguous_timestamp(date.to_datetime(time)).compatible().ok()
}

/// The grid's civil times in `[s, e)` on a date whose offset changes, as instants in order: a
/// time in the gap does not exist, a repeated time is two starts. (Walking such a day in
/// absolute steps would leave the civil grid when the change is not a multiple of the step,
/// as Lord Howe's half-hour change is for an hourly grid.)
fn civil_grid(date: Date, s: TimeOfDay, e: TimeOfDay, step_minutes: i64, tz: &TimeZone) -> Vec<Timestamp> {
    use jiff::tz::AmbiguousOffset;
    let midnight = date.to_datetime(jiff::civil::Time::midnight());
    let mut starts = Vec::new();
    let mut minute = (i64::from(s.minutes()) + step_minutes - 1) / step_minutes * step_minutes;
    while minute < i64::from(e.minutes()) {
        let Ok(civil) = midnight.checked_add(SignedDuration::from_mins(minute)) else { break };
        match tz.to_ambiguous_timestamp(civil).offset() {
            AmbiguousOffset::Unambiguous { offset } => starts.extend(offset.to_timestamp(civil).ok()),
            AmbiguousOffset::Gap { .. } => {}
            AmbiguousOffset::Fold { before, after } => {
                starts.extend(before.to_timestamp(civil).ok());
                starts.extend(after.to_timestamp(civil).ok());
            }
        }
        minute += step_minutes;
    }
    starts.sort();
    starts
}

/// Merges sorted civil ranges that overlap or touch.
fn merge(mut ranges: Vec<(TimeOfDay, TimeOfDay)>) -> Vec<(TimeOfDay, TimeOfDay)> {
    ranges.sort();
    let mut merged: Vec<(TimeOfDay, TimeOfDay)> = Vec::with_capacity(ranges.len());
    for (s, e) in ranges {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    merged
}

/// `ranges` minus `cut`.
fn subtract(ranges: Vec<(TimeOfDay, TimeOfDay)>, cut: (TimeOfDay, TimeOfDay)) -> Vec<(TimeOfDay, TimeOfDay)> {
    let mut out = Vec::with_capacity(ranges.len() + 1);
    for (s, e) in ranges {
        if cut.1 <= s || e <= cut.0 {
            out.push((s, e));
            continue;
        }
        if s < cut.0 {
            out.push((s, cut.0));
        }
        if cut.1 < e {
            out.push((cut.1, e));
        }
    }
    out
}

/// The civil ranges a professional works on `date`: the week's, minus time off, plus extra
/// openings.
pub fn working_ranges(
    schedule: &WeeklySchedule,
    exceptions: &[AvailabilityException],
    date: Date,
) -> Vec<(TimeOfDay, TimeOfDay)> {
    let day = Day::of(date);
    let mut ranges: Vec<(TimeOfDay, TimeOfDay)> = schedule.on(day).map(|r| (r.start, r.end)).collect();
    let touching = |x: &&AvailabilityException| x.start_date <= date && date <= x.end_date;
    for x in exceptions.iter().filter(touching).filter(|x| x.kind == ExceptionKind::ExtraOpening) {
        ranges.push(x.hours());
    }
    let mut ranges = merge(ranges);
    for x in exceptions.iter().filter(touching).filter(|x| x.kind == ExceptionKind::TimeOff) {
        ranges = subtract(ranges, x.hours());
    }
    ranges
}

/// Checks the studio-wide rules for a start: grid, past, notice, horizon.
pub fn check_rules(rules: &Rules, start: Timestamp) -> Result<(), Refusal> {
    let civil = start.to_zoned_datetime(rules.time_zone.clone());
    let minute = i32::from(civil.hour()) * 60 + i32::from(civil.minute());
    let step = i32::try_from(rules.slot_step_minutes.max(1)).unwrap_or(1);
    if minute % step != 0 || civil.second() != 0 || civil.subsec_nanosecond() != 0 {
        return Err(Refusal::OffGrid(rules.slot_step_minutes));
    }
    if start < rules.now {
        return Err(Refusal::InPast);
    }
    if start < rules.now + SignedDuration::from_mins(i64::from(rules.min_notice_minutes)) {
        return Err(Refusal::InsideNotice(rules.min_notice_minutes));
    }
    let today = rules.now.to_zoned_datetime(rules.time_zone.clone()).date();
    let last = today.checked_add(jiff::Span::new().days(i64::from(rules.horizon_days))).unwrap_or(today);
    if civil.date() > last {
        return Err(Refusal::BeyondHorizon(rules.horizon_days));
    }
    Ok(())
}

/// Whether a professional works through `[start, end)`.
fn works(calendar: &Calendar<'_>, rules: &Rules, start: Timestamp, end: Timestamp) -> bool {
    let date = start.to_zoned_datetime(rules.time_zone.clone()).date();
    // A service may start late in one civil day's range; look at that day and the one before
    // (a range ending at 24:00 runs into the next date).
    [date.yesterday().ok(), Some(date)].into_iter().flatten().any(|d| {
        working_ranges(calendar.schedule, calendar.exceptions, d).into_iter().any(|(s, e)| {
            match (instant(d, s, &rules.time_zone), instant(d, e, &rules.time_zone)) {
                (Some(s), Some(e)) => s <= start && end <= e,
                _ => false,
            }
        })
    })
}

/// Checks one start for one professional (and the pool), with the reason when it fails.
pub fn check_start(
    rules: &Rules,
    shape: ServiceShape,
    calendar: &Calendar<'_>,
    pool: Option<&Pool<'_>>,
    start: Timestamp,
) -> Result<(), Refusal> {
    check_rules(rules, start)?;
    let (s, e) = shape.service_interval(start);
    if !works(calendar, rules, s, e) {
        return Err(Refusal::NotWorking);
    }
    let (bs, be) = shape.blocked_interval(start);
    if !calendar.occupancy.fits(bs, be, calendar.capacity) {
        return Err(Refusal::ProfessionalBusy);
    }
    if let Some(pool) = pool
        && !pool.occupancy.fits(bs, be, pool.capacity)
    {
        return Err(Refusal::NoResource);
    }
    Ok(())
}

/// One civil date of the search: where its midnights fall, and whether its offset is the same
/// all day (then a civil time is midnight plus minutes, with no zone lookup).
struct DayFrame {
    date: Date,
    midnight: Timestamp,
    uniform: bool,
}

impl DayFrame {
    fn new(date: Date, tz: &TimeZone) -> Option<DayFrame> {
        let midnight = instant(date, TimeOfDay(0), tz)?;
        let next = instant(date, TimeOfDay::END_OF_DAY, tz)?;
        // A day of exactly 24 hours whose offset is the same at both ends has no transition.
        let uniform = next - midnight == SignedDuration::from_hours(24)
            && tz.to_offset(midnight) == tz.to_offset(next - SignedDuration::from_secs(1));
        Some(DayFrame { date, midnight, uniform })
    }

    fn at(&self, time: TimeOfDay, tz: &TimeZone) -> Option<Timestamp> {
        if self.uniform {
            Some(self.midnight + SignedDuration::from_mins(i64::from(time.minutes())))
        } else {
            instant(self.date, time, tz)
        }
    }
}

/// A professional's week as merged civil ranges per weekday, computed once per search.
fn week_table(schedule: &WeeklySchedule) -> [Vec<(TimeOfDay, TimeOfDay)>; 7] {
    let days =
        [Day::Monday, Day::Tuesday, Day::Wednesday, Day::Thursday, Day::Friday, Day::Saturday, Day::Sunday];
    days.map(|d| merge(schedule.on(d).map(|r| (r.start, r.end)).collect()))
}

fn weekday_index(date: Date) -> usize {
    usize::try_from(date.weekday().to_monday_zero_offset()).unwrap_or(0)
}

/// A cursor over sorted full cells for increasing windows: each window is checked in amortised
/// constant time.
struct FullCursor {
    full: Vec<Cell>,
    at: usize,
}

impl FullCursor {
    /// Whether `[first, last]` (cells, ascending over calls) holds no full cell.
    fn free(&mut self, first: Cell, last: Cell) -> bool {
        while self.full.get(self.at).is_some_and(|c| *c < first) {
            self.at += 1;
        }
        self.full.get(self.at).is_none_or(|c| *c > last)
    }
}

/// The cell of an instant given in epoch seconds.
fn cell_of_second(second: i64) -> Cell {
    second.div_euclid(60).div_euclid(CELL_MINUTES) * CELL_MINUTES
}

/// One professional's state through the search.
struct Walker<'c, 'a> {
    calendar: &'c Calendar<'a>,
    busy: FullCursor,
    pool: Option<FullCursor>,
    week: [Vec<(TimeOfDay, TimeOfDay)>; 7],
    exceptions: Vec<&'c AvailabilityException>,
    index: u32,
}

/// Every bookable start in `from..=to` (civil dates in the studio's zone), with the
/// professionals free for each. `calendars` are the professionals who perform the service.
///
/// Cost is linear in professionals × days × starts a day: zone lookups happen once per date
/// (not per start), the week is tabled once per professional, busy cells are walked with a
/// cursor, the inner loop is integer arithmetic, and each day's starts land in buckets that
/// stay in cache, so nothing is sorted or searched.
pub fn free_slots(
    rules: &Rules,
    shape: ServiceShape,
    from: Date,
    to: Date,
    calendars: &[Calendar<'_>],
    pool: Option<&Pool<'_>>,
) -> Vec<Slot> {
    // No resource of the type (or none left): nothing can be booked, as `check_start` says.
    if pool.is_some_and(|p| p.capacity == 0) {
        return Vec::new();
    }
    let tz = &rules.time_zone;
    let step_minutes = i64::from(rules.slot_step_minutes.max(1));
    let step = step_minutes * 60;
    let duration = i64::from(shape.duration_minutes) * 60;
    let before = i64::from(shape.buffer_before_minutes) * 60;
    let after = i64::from(shape.buffer_after_minutes) * 60;
    let earliest = rules.earliest_second();
    let today = rules.today();
    let horizon = today.checked_add(jiff::Span::new().days(i64::from(rules.horizon_days))).unwrap_or(today);
    let last = horizon.min(to);
    let pool_full = pool.map(|p| p.occupancy.full_cells(p.capacity));
    let mut walkers: Vec<Walker<'_, '_>> = calendars
        .iter()
        .enumerate()
        .map(|(index, calendar)| Walker {
            index: u32::try_from(index).unwrap_or(u32::MAX),
            calendar,
            busy: FullCursor { full: calendar.occupancy.full_cells(calendar.capacity), at: 0 },
            pool: pool_full.as_ref().map(|f| FullCursor { full: f.clone(), at: 0 }),
            week: week_table(calendar.schedule),
            exceptions: calendar
                .exceptions
                .iter()
                .filter(|x| x.start_date <= last && x.end_date >= from)
                .collect(),
        })
        .collect();
    let mut found = Vec::new();
    // A day's starts fall within 25 hours of its midnight: one bucket per cell of them.
    let mut buckets: Vec<(i64, Vec<u32>)> = vec![(0, Vec::new()); 25 * 60 / 5 + 1];
    let mut date = from;
    while date <= last {
        let Some(day) = DayFrame::new(date, tz) else { break };
        let day_cell = cell_of(day.midnight);
        for walker in &mut walkers {
            let touched = walker.exceptions.iter().any(|x| x.start_date <= date && date <= x.end_date);
            let computed;
            let ranges: &[(TimeOfDay, TimeOfDay)] = if touched {
                computed = working_ranges(walker.calendar.schedule, walker.calendar.exceptions, date);
                &computed
            } else {
                &walker.week[weekday_index(date)]
            };
            for (s, e) in ranges {
                let (Some(range_start), Some(range_end)) = (day.at(*s, tz), day.at(*e, tz)) else { continue };
                let end = range_end.as_second();
                // On a day without a change of clocks the civil grid is an absolute one; on the
                // others each grid time is converted on its own.
                let changing: Vec<i64> = if day.uniform {
                    Vec::new()
                } else {
                    civil_grid(date, *s, *e, step_minutes, tz).iter().map(|t| t.as_second()).collect()
                };
                // A range starting in a gap starts where the gap ends (`instant`).
                let from_second = range_start.as_second().max(earliest);
                let mut changing = changing.into_iter().filter(|t| *t >= from_second);
                // First start on the civil grid: ranges may begin off it.
                let offset = (step_minutes - i64::from(s.minutes()) % step_minutes) % step_minutes;
                let mut start = range_start.as_second() + offset * 60;
                if start < earliest {
                    // Skip to the first start past the notice, on the same grid.
                    start += (earliest - start + step - 1) / step * step;
                }
                if !day.uniform {
                    start = changing.next().unwrap_or(i64::MAX - duration);
                }
                while start + duration <= end {
                    let first = cell_of_second(start - before);
                    let last_cell = cell_of_second(start + duration + after - 1);
                    let free = walker.busy.free(first, last_cell)
                        && walker.pool.as_mut().is_none_or(|p| p.free(first, last_cell));
                    if free
                        && let Some((at, who)) =
                            usize::try_from((cell_of_second(start) - day_cell) / CELL_MINUTES)
                                .ok()
                                .and_then(|i| buckets.get_mut(i))
                    {
                        *at = start;
                        who.push(walker.index);
                    }
                    start = if day.uniform {
                        start + step
                    } else {
                        changing.next().unwrap_or(i64::MAX - duration)
                    };
                }
            }
        }
        for (at, who) in &mut buckets {
            if !who.is_empty() {
                found.push(Slot {
                    start: Timestamp::from_second(*at).unwrap_or(day.midnight),
                    professionals: who.clone(),
                });
                who.clear();
            }
        }
        date = match date.tomorrow() {
            Ok(d) => d,
            Err(_) => break,
        };
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::availability::WeeklyRange;

    fn t(text: &str) -> TimeOfDay {
        TimeOfDay::parse(text).expect("time")
    }

    fn date(text: &str) -> Date {
        text.parse().expect("date")
    }

    fn at(text: &str) -> Timestamp {
        text.parse().expect("instant")
    }

    fn week(day: Day, start: &str, end: &str) -> WeeklySchedule {
        WeeklySchedule { ranges: vec![WeeklyRange { day, start: t(start), end: t(end) }] }
    }

    fn rules(zone: &str, now: &str) -> Rules {
        Rules {
            time_zone: TimeZone::get(zone).expect("zone"),
            slot_step_minutes: 30,
            min_notice_minutes: 0,
            horizon_days: 365,
            now: at(now),
        }
    }

    const HOUR: ServiceShape =
        ServiceShape { duration_minutes: 60, buffer_before_minutes: 0, buffer_after_minutes: 0 };

    fn starts(slots: &[Slot], zone: &str) -> Vec<String> {
        let tz = TimeZone::get(zone).expect("zone");
        slots.iter().map(|s| s.start.to_zoned_datetime(tz.clone()).strftime("%H:%M%:z").to_string()).collect()
    }

    #[test]
    fn a_plain_day() {
        let schedule = week(Day::Tuesday, "09:00", "12:00");
        let empty = Occupancy::default();
        let calendar = Calendar {
            professional_id: "p",
            schedule: &schedule,
            exceptions: &[],
            occupancy: &empty,
            capacity: 1,
        };
        let r = rules("Europe/Lisbon", "2026-01-01T00:00:00Z");
        let slots = free_slots(&r, HOUR, date("2026-01-06"), date("2026-01-06"), &[calendar], None);
        assert_eq!(
            starts(&slots, "Europe/Lisbon"),
            ["09:00+00:00", "09:30+00:00", "10:00+00:00", "10:30+00:00", "11:00+00:00"]
        );
    }

    #[test]
    fn a_start_that_does_not_exist_is_not_offered() {
        // Lisbon springs forward on 2026-03-29 at 01:00 to 02:00.
        let schedule = week(Day::Sunday, "00:00", "04:00");
        let empty = Occupancy::default();
        let calendar = Calendar {
            professional_id: "p",
            schedule: &schedule,
            exceptions: &[],
            occupancy: &empty,
            capacity: 1,
        };
        let r = rules("Europe/Lisbon", "2026-01-01T00:00:00Z");
        let slots = free_slots(&r, HOUR, date("2026-03-29"), date("2026-03-29"), &[calendar], None);
        let s = starts(&slots, "Europe/Lisbon");
        assert!(!s.iter().any(|x| x.starts_with("01:")), "01:xx does not exist that day: {s:?}");
        // 00:00-04:00 civil is three real hours (00:00Z-03:00Z): one-hour starts every half hour.
        assert_eq!(s, ["00:00+00:00", "00:30+00:00", "02:00+01:00", "02:30+01:00", "03:00+01:00"]);
    }

    #[test]
    fn a_repeated_hour_is_walked_once() {
        // Lisbon falls back on 2026-10-25 at 02:00 to 01:00.
        let schedule = week(Day::Sunday, "00:00", "03:00");
        let empty = Occupancy::default();
        let calendar = Calendar {
            professional_id: "p",
            schedule: &schedule,
            exceptions: &[],
            occupancy: &empty,
            capacity: 1,
        };
        let r = rules("Europe/Lisbon", "2026-01-01T00:00:00Z");
        let slots = free_slots(&r, HOUR, date("2026-10-25"), date("2026-10-25"), &[calendar], None);
        let unique: std::collections::BTreeSet<Timestamp> = slots.iter().map(|s| s.start).collect();
        assert_eq!(unique.len(), slots.len(), "no instant twice");
        // Four real hours from 00:00+01:00 to 03:00+00:00: seven one-hour starts on the half hour.
        assert_eq!(slots.len(), 7, "{:?}", starts(&slots, "Europe/Lisbon"));
        assert!(starts(&slots, "Europe/Lisbon").contains(&"01:30+01:00".to_owned()));
        assert!(starts(&slots, "Europe/Lisbon").contains(&"01:30+00:00".to_owned()));
    }

    #[test]
    fn bookings_buffers_and_capacity() {
        let schedule = week(Day::Tuesday, "09:00", "13:00");
        let mut busy = Occupancy::default();
        busy.add(at("2026-01-06T10:00:00Z"), at("2026-01-06T11:00:00Z"));
        let r = rules("UTC", "2026-01-01T00:00:00Z");
        let buffered =
            ServiceShape { duration_minutes: 60, buffer_before_minutes: 0, buffer_after_minutes: 30 };
        let one = Calendar {
            professional_id: "p",
            schedule: &schedule,
            exceptions: &[],
            occupancy: &busy,
            capacity: 1,
        };
        let slots = free_slots(
            &r,
            buffered,
            date("2026-01-06"),
            date("2026-01-06"),
            std::slice::from_ref(&one),
            None,
        );
        // 09:00 + 60 + 30 buffer reaches 10:30: busy. 08:30 is before work.
        assert_eq!(starts(&slots, "UTC"), ["11:00+00:00", "11:30+00:00", "12:00+00:00"]);
        let two = Calendar { capacity: 2, ..one.clone() };
        let slots = free_slots(&r, buffered, date("2026-01-06"), date("2026-01-06"), &[two], None);
        assert_eq!(slots.len(), 7, "overbooking capacity lets one more overlap");
        assert_eq!(
            check_start(&r, buffered, &one, None, at("2026-01-06T09:30:00Z")),
            Err(Refusal::ProfessionalBusy)
        );
    }

    #[test]
    fn exceptions_shape_the_day() {
        let schedule = week(Day::Tuesday, "09:00", "17:00");
        let off = AvailabilityException {
            kind: ExceptionKind::TimeOff,
            start_date: date("2026-01-06"),
            end_date: date("2026-01-06"),
            start_time: Some(t("10:00")),
            end_time: Some(t("16:00")),
            note: String::new(),
        };
        let extra = AvailabilityException {
            kind: ExceptionKind::ExtraOpening,
            start_date: date("2026-01-06"),
            end_date: date("2026-01-06"),
            start_time: Some(t("17:00")),
            end_time: Some(t("18:00")),
            note: String::new(),
        };
        let ranges = working_ranges(&schedule, &[off, extra], date("2026-01-06"));
        assert_eq!(ranges, [(t("09:00"), t("10:00")), (t("16:00"), t("18:00"))]);
    }

    #[test]
    fn studio_rules_refuse_with_reasons() {
        let r = Rules {
            min_notice_minutes: 120,
            horizon_days: 30,
            ..rules("Europe/Lisbon", "2026-01-06T09:00:00Z")
        };
        assert_eq!(check_rules(&r, at("2026-01-06T12:10:00Z")), Err(Refusal::OffGrid(30)));
        assert_eq!(check_rules(&r, at("2026-01-06T08:00:00Z")), Err(Refusal::InPast));
        assert_eq!(check_rules(&r, at("2026-01-06T10:00:00Z")), Err(Refusal::InsideNotice(120)));
        assert_eq!(check_rules(&r, at("2026-02-10T10:00:00Z")), Err(Refusal::BeyondHorizon(30)));
        assert_eq!(check_rules(&r, at("2026-01-06T11:00:00Z")), Ok(()));
    }

    #[test]
    fn pools_and_any_professional() {
        let schedule = week(Day::Tuesday, "09:00", "11:00");
        let empty = Occupancy::default();
        let mut booked = Occupancy::default();
        booked.add(at("2026-01-06T09:00:00Z"), at("2026-01-06T10:00:00Z"));
        let r = rules("UTC", "2026-01-01T00:00:00Z");
        let a = Calendar {
            professional_id: "a",
            schedule: &schedule,
            exceptions: &[],
            occupancy: &booked,
            capacity: 1,
        };
        let b = Calendar {
            professional_id: "b",
            schedule: &schedule,
            exceptions: &[],
            occupancy: &empty,
            capacity: 1,
        };
        let slots =
            free_slots(&r, HOUR, date("2026-01-06"), date("2026-01-06"), &[a.clone(), b.clone()], None);
        assert_eq!(slots[0].professionals, [1], "b");
        assert_eq!(slots.last().map(|s| s.professionals.clone()), Some(vec![0, 1]), "a and b");
        // One chair, already taken at 09:00: nobody can start then.
        let chair = Pool { occupancy: &booked, capacity: 1 };
        let slots = free_slots(&r, HOUR, date("2026-01-06"), date("2026-01-06"), &[a, b], Some(&chair));
        assert_eq!(starts(&slots, "UTC"), ["10:00+00:00"]);
    }

    /// The plain version of the search: every civil grid time converted and looked up. The
    /// optimised search must give exactly what it gives.
    fn reference(
        rules: &Rules,
        shape: ServiceShape,
        from: Date,
        to: Date,
        calendars: &[Calendar<'_>],
        pool: Option<&Pool<'_>>,
    ) -> Vec<Slot> {
        fn window_free(full: &[Cell], start: Timestamp, end: Timestamp) -> bool {
            let (a, b) = (cell_of(start), cell_of(end - SignedDuration::from_secs(1)));
            let i = full.partition_point(|c| *c < a);
            full.get(i).is_none_or(|c| *c > b)
        }
        if pool.is_some_and(|p| p.capacity == 0) {
            return Vec::new();
        }
        let duration = SignedDuration::from_mins(i64::from(shape.duration_minutes));
        let earliest = rules.now + SignedDuration::from_mins(i64::from(rules.min_notice_minutes));
        let today = rules.now.to_zoned_datetime(rules.time_zone.clone()).date();
        let last =
            today.checked_add(jiff::Span::new().days(i64::from(rules.horizon_days))).unwrap_or(today).min(to);
        let pool_full = pool.map(|p| p.occupancy.full_cells(p.capacity));
        let mut found: BTreeMap<Timestamp, Vec<u32>> = BTreeMap::new();
        for (index, calendar) in calendars.iter().enumerate() {
            let full = calendar.occupancy.full_cells(calendar.capacity);
            let mut date = from;
            while date <= last {
                for (s, e) in working_ranges(calendar.schedule, calendar.exceptions, date) {
                    let (Some(range_start), Some(range_end)) =
                        (instant(date, s, &rules.time_zone), instant(date, e, &rules.time_zone))
                    else {
                        continue;
                    };
                    let step_minutes = i64::from(rules.slot_step_minutes.max(1));
                    for start in civil_grid(date, s, e, step_minutes, &rules.time_zone) {
                        if start < range_start || start + duration > range_end {
                            continue;
                        }
                        let civil_date = start.to_zoned_datetime(rules.time_zone.clone()).date();
                        if start >= earliest && civil_date <= last && civil_date >= from {
                            let (bs, be) = shape.blocked_interval(start);
                            let pool_ok = pool_full.as_deref().is_none_or(|f| window_free(f, bs, be));
                            if pool_ok && window_free(&full, bs, be) {
                                found.entry(start).or_default().push(u32::try_from(index).expect("index"));
                            }
                        }
                    }
                }
                date = match date.tomorrow() {
                    Ok(d) => d,
                    Err(_) => break,
                };
            }
        }
        found.into_iter().map(|(start, professionals)| Slot { start, professionals }).collect()
    }

    const DAYS: [Day; 7] =
        [Day::Monday, Day::Tuesday, Day::Wednesday, Day::Thursday, Day::Friday, Day::Saturday, Day::Sunday];

    mod same_as_the_reference {
        use proptest::prelude::*;

        use super::*;

        const ZONES: [&str; 4] = ["Europe/Lisbon", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"];

        proptest! {
            #![proptest_config(ProptestConfig { cases: 1_000, ..ProptestConfig::default() })]
            #[test]
            fn on_random_weeks_bookings_and_zones(
                zone in 0..ZONES.len(),
                step in prop::sample::select(vec![5u32, 10, 15, 20, 30, 60]),
                duration in 1u32..24,
                before in 0u32..4,
                after in 0u32..4,
                ranges in prop::collection::vec((0usize..7, 0u16..96, 1u16..40), 0..10),
                booked in prop::collection::vec((0i64..(14 * 288), 1i64..30), 0..30),
                off in prop::option::of((0i64..14, 0u16..96, 1u16..30)),
                pool_cap in prop::option::of(0u32..3),
                capacity in 1u32..3,
                notice in 0u32..300,
            ) {
                let tz = TimeZone::get(ZONES[zone]).expect("zone");
                // Around a change of clocks in each zone's year (Kolkata has none): Lisbon on
                // 25 October, New York on 1 November, Lord Howe (half an hour) on 4 October.
                let from: Date = ["2026-10-20", "2026-10-28", "2026-09-30", "2026-10-20"][zone].parse().expect("date");
                let to = from.checked_add(jiff::Span::new().days(10)).expect("date");
                let mut week = Vec::new();
                for (d, s, len) in ranges {
                    let start = s * 15;
                    let end = (start + len * 15).min(24 * 60);
                    week.push(crate::availability::WeeklyRange { day: DAYS[d], start: TimeOfDay(start), end: TimeOfDay(end) });
                }
                let schedule = WeeklySchedule { ranges: week };
                let exceptions: Vec<AvailabilityException> = off.into_iter().map(|(d, s, len)| AvailabilityException {
                    kind: ExceptionKind::TimeOff,
                    start_date: from.checked_add(jiff::Span::new().days(d)).expect("date"),
                    end_date: from.checked_add(jiff::Span::new().days(d)).expect("date"),
                    start_time: Some(TimeOfDay(s * 15)),
                    end_time: Some(TimeOfDay((s * 15 + len * 15).min(24 * 60))),
                    note: String::new(),
                }).collect();
                let base = tz.to_ambiguous_timestamp(from.to_datetime(jiff::civil::Time::midnight())).compatible().expect("instant");
                let mut occupancy = Occupancy::default();
                for (cell, cells) in &booked {
                    let start = base + SignedDuration::from_mins(cell * 5 - 24 * 60);
                    occupancy.add(start, start + SignedDuration::from_mins(cells * 5));
                }
                let shape = ServiceShape { duration_minutes: duration * step, buffer_before_minutes: before * 5, buffer_after_minutes: after * 5 };
                let rules = Rules { time_zone: tz, slot_step_minutes: step, min_notice_minutes: notice, horizon_days: 365, now: base + SignedDuration::from_hours(30) };
                let a = Calendar { professional_id: "a", schedule: &schedule, exceptions: &exceptions, occupancy: &occupancy, capacity };
                let empty = Occupancy::default();
                let b = Calendar { professional_id: "b", schedule: &schedule, exceptions: &[], occupancy: &empty, capacity: 1 };
                let pool = pool_cap.map(|capacity| Pool { occupancy: &occupancy, capacity });
                let calendars = [a, b];
                let fast = free_slots(&rules, shape, from, to, &calendars, pool.as_ref());
                let slow = reference(&rules, shape, from, to, &calendars, pool.as_ref());
                // What is offered is what booking accepts, start by start.
                for slot in &fast {
                    for who in &slot.professionals {
                        let calendar = &calendars[*who as usize];
                        prop_assert_eq!(check_start(&rules, shape, calendar, pool.as_ref(), slot.start), Ok(()), "offered {} to {}", slot.start, who);
                    }
                }
                prop_assert_eq!(fast, slow);
            }
        }
    }

    mod clock_key {
        use proptest::prelude::*;

        use super::*;

        /// Zones and a first day each: across Lisbon's and Lord Howe's changes of clocks, and
        /// Santiago's, which happen at midnight (a day starting at 01:00; an hour repeated).
        const CASES: [(&str, &str); 5] = [
            ("Europe/Lisbon", "2026-10-23"),
            ("Australia/Lord_Howe", "2026-10-02"),
            ("Asia/Kolkata", "2026-10-23"),
            ("America/Santiago", "2026-09-05"),
            ("America/Santiago", "2026-04-03"),
        ];

        fn all_week() -> WeeklySchedule {
            WeeklySchedule {
                ranges: DAYS
                    .map(|day| crate::availability::WeeklyRange {
                        day,
                        start: TimeOfDay(0),
                        end: TimeOfDay::END_OF_DAY,
                    })
                    .to_vec(),
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 1_000, ..ProptestConfig::default() })]
            /// Two instants of `now` with the same key find the same slots: the key is all a
            /// cached answer needs to know of the clock.
            #[test]
            fn instants_with_one_key_find_the_same_slots(
                case in 0..CASES.len(),
                step in prop::sample::select(vec![5u32, 15, 30, 60]),
                duration in 1u32..12,
                notice in 0u32..180,
                horizon in 0u32..6,
                first in -3i64 * 24 * 60..(4 * 24 * 60),
                second in -3i64 * 24 * 60..(4 * 24 * 60),
                near in -3i64..4,
                early in 0i64..60_000_000_000,
                late in 0i64..60_000_000_000,
            ) {
                let (zone, from) = CASES[case];
                let tz = TimeZone::get(zone).expect("zone");
                let from: Date = from.parse().expect("date");
                let to = from.checked_add(jiff::Span::new().days(3)).expect("date");
                let base = tz.to_ambiguous_timestamp(from.to_datetime(jiff::civil::Time::midnight())).compatible().expect("instant");
                let at = |minute: i64, nanos: i64| Rules {
                    time_zone: tz.clone(),
                    slot_step_minutes: step,
                    min_notice_minutes: notice,
                    horizon_days: horizon,
                    now: base + SignedDuration::from_mins(minute) - SignedDuration::from_nanos(nanos),
                };
                let schedule = all_week();
                let empty = Occupancy::default();
                let calendar = Calendar { professional_id: "a", schedule: &schedule, exceptions: &[], occupancy: &empty, capacity: 1 };
                let shape = ServiceShape { duration_minutes: duration * 5, buffer_before_minutes: 0, buffer_after_minutes: 0 };
                let search = |rules: &Rules| free_slots(rules, shape, from, to, std::slice::from_ref(&calendar), None);
                // Within one minute, on one date: always one key, and the same slots (an instant
                // inside a minute allows what its next minute allows).
                let (a, b) = (at(first, early), at(first, late));
                if a.today() == b.today() {
                    prop_assert_eq!(a.clock_key(from, to), b.clock_key(from, to));
                    prop_assert_eq!(search(&a), search(&b));
                }
                // Any two instants, near or far apart: one key, the same slots.
                for other in [at(second, late), at(first + near, late)] {
                    if a.clock_key(from, to) == other.clock_key(from, to) {
                        prop_assert_eq!(search(&a), search(&other));
                    }
                }
            }
        }

        #[test]
        fn a_later_week_keeps_its_key_as_minutes_pass() {
            let tz = TimeZone::get("Europe/Lisbon").expect("zone");
            let now: Timestamp = "2026-10-20T09:00:30Z".parse().expect("instant");
            let rules = |now| Rules {
                time_zone: tz.clone(),
                slot_step_minutes: 15,
                min_notice_minutes: 60,
                horizon_days: 30,
                now,
            };
            let (from, to): (Date, Date) =
                ("2026-10-26".parse().expect("date"), "2026-11-01".parse().expect("date"));
            let key = rules(now).clock_key(from, to);
            assert_eq!(key, (None, None), "neither the notice nor the horizon cuts next week");
            assert_eq!(rules(now + SignedDuration::from_hours(30)).clock_key(from, to), key);
            // This week's answer depends on the minute: the notice moves through today.
            let today: Date = "2026-10-20".parse().expect("date");
            let this_week = rules(now).clock_key(today, to);
            assert_eq!(this_week.0, Some((now.as_second() + 3600) / 60 + 1));
            assert_ne!(rules(now + SignedDuration::from_mins(1)).clock_key(today, to), this_week);
            // A horizon ending inside the range puts today in the key.
            let short = Rules { horizon_days: 8, ..rules(now) };
            assert_eq!(short.clock_key(from, to).1, Some(today));
        }
    }

    #[test]
    fn half_hour_changes_keep_the_civil_grid() {
        // Lord Howe moves from +10:30 to +11:00 at 02:00 on 4 October 2026: 02:00-02:29 do not
        // exist. An hourly grid over 00:00-06:00 offers the civil hours that exist, nothing at :30.
        let tz = TimeZone::get("Australia/Lord_Howe").expect("zone");
        let date: Date = "2026-10-04".parse().expect("date");
        let schedule = WeeklySchedule {
            ranges: vec![crate::availability::WeeklyRange {
                day: Day::Sunday,
                start: TimeOfDay(0),
                end: TimeOfDay(6 * 60),
            }],
        };
        let empty = Occupancy::default();
        let calendar = Calendar {
            professional_id: "a",
            schedule: &schedule,
            exceptions: &[],
            occupancy: &empty,
            capacity: 1,
        };
        let rules = Rules {
            time_zone: tz.clone(),
            slot_step_minutes: 60,
            min_notice_minutes: 0,
            horizon_days: 365,
            now: at("2026-09-01T00:00:00Z"),
        };
        let shape = ServiceShape { duration_minutes: 60, buffer_before_minutes: 0, buffer_after_minutes: 0 };
        let slots = free_slots(&rules, shape, date, date, std::slice::from_ref(&calendar), None);
        let civil: Vec<String> = slots
            .iter()
            .map(|s| s.start.to_zoned_datetime(tz.clone()).strftime("%H:%M").to_string())
            .collect();
        assert_eq!(civil, ["00:00", "01:00", "03:00", "04:00", "05:00"]);
        for slot in &slots {
            assert_eq!(check_start(&rules, shape, &calendar, None, slot.start), Ok(()));
        }
    }

    #[test]
    fn cells_cover_half_open_intervals() {
        let c: Vec<Cell> = cells(at("2026-01-06T10:00:00Z"), at("2026-01-06T10:15:00Z")).collect();
        assert_eq!(c.len(), 3);
        assert_eq!(cell_start(c[0]), at("2026-01-06T10:00:00Z"));
        assert_eq!(cells(at("2026-01-06T10:00:00Z"), at("2026-01-06T10:00:00Z")).count(), 0);
    }
}
