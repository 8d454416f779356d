//! A booking's life: its status machine, what each change needs, the fee and the points that
//! follow from it, the occurrences of a series, and the next thing due for it.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Span, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Invalid;
use crate::money::{Money, apply_bps};
use crate::policies::CancellationPolicy;

/// Where a booking is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BookingStatus {
    /// The slot is held until `hold_until`: a deposit is due, staff must review an overbooked
    /// request, or a waitlist offer awaits the client's answer.
    Pending,
    /// Booked.
    Confirmed,
    /// Done.
    Completed,
    /// Called off (by the client, the staff, or an expired hold).
    Cancelled,
    /// The client did not come.
    NoShow,
}

impl BookingStatus {
    /// Every status.
    pub const ALL: [BookingStatus; 5] = [
        BookingStatus::Pending,
        BookingStatus::Confirmed,
        BookingStatus::Completed,
        BookingStatus::Cancelled,
        BookingStatus::NoShow,
    ];

    /// Whether the booking still holds its time.
    pub fn holds_time(self) -> bool {
        matches!(self, BookingStatus::Pending | BookingStatus::Confirmed)
    }

    /// The name used in JSON and in stored items.
    pub fn as_str(self) -> &'static str {
        match self {
            BookingStatus::Pending => "pending",
            BookingStatus::Confirmed => "confirmed",
            BookingStatus::Completed => "completed",
            BookingStatus::Cancelled => "cancelled",
            BookingStatus::NoShow => "no_show",
        }
    }
}

/// Why a pending booking is pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PendingReason {
    /// A deposit is due.
    Deposit,
    /// It uses overbooking capacity that staff must accept.
    Review,
    /// A waitlist offer awaiting the client.
    Offer,
}

/// A change asked of a booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Pending → confirmed.
    Confirm,
    /// The client arrived (no status change; the no-show job then leaves it alone).
    CheckIn,
    /// Confirmed → completed, once started.
    Complete,
    /// Pending or confirmed → cancelled, before it ends.
    Cancel,
    /// Confirmed → no-show, once started, if the client has not arrived.
    NoShow,
    /// Move to another time, before it starts.
    Reschedule,
}

/// Why a change makes no sense now (a 409).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChangeRefused {
    /// The booking is completed, cancelled or a no-show.
    #[error("the booking is {0}: nothing can change it any more")]
    Final(&'static str),
    /// Only pending bookings are confirmed.
    #[error("only a pending booking can be confirmed; this one is {0}")]
    NotPending(&'static str),
    /// Needs a confirmed booking.
    #[error("the booking is pending: confirm it first")]
    NotConfirmed,
    /// Cannot complete or mark a no-show before the start.
    #[error("the booking has not started yet")]
    NotStarted,
    /// Cannot cancel after the end.
    #[error("the booking is over: complete it or mark a no-show")]
    Over,
    /// Cannot move an appointment that has started.
    #[error("the booking has already started")]
    Started,
    /// Cannot mark a no-show for a client who arrived.
    #[error("the client has checked in")]
    Arrived,
}

/// What a booking looks like to the status machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifecycle {
    /// Status.
    pub status: BookingStatus,
    /// Start of the service.
    pub start: Timestamp,
    /// End of the service.
    pub end: Timestamp,
    /// Whether the client checked in.
    pub arrived: bool,
}

impl Lifecycle {
    /// The status after `change` at `now`, or why it is refused.
    pub fn apply(&self, change: Change, now: Timestamp) -> Result<BookingStatus, ChangeRefused> {
        use BookingStatus::{Cancelled, Completed, Confirmed, NoShow, Pending};
        if !self.status.holds_time() {
            return Err(ChangeRefused::Final(self.status.as_str()));
        }
        match change {
            Change::Confirm if self.status == Pending => Ok(Confirmed),
            Change::Confirm => Err(ChangeRefused::NotPending(self.status.as_str())),
            Change::CheckIn | Change::Complete | Change::NoShow if self.status == Pending => {
                Err(ChangeRefused::NotConfirmed)
            }
            Change::CheckIn if now >= self.end => Err(ChangeRefused::Over),
            Change::CheckIn => Ok(Confirmed),
            Change::Complete if now < self.start => Err(ChangeRefused::NotStarted),
            Change::Complete => Ok(Completed),
            Change::NoShow if now < self.start => Err(ChangeRefused::NotStarted),
            Change::NoShow if self.arrived => Err(ChangeRefused::Arrived),
            Change::NoShow => Ok(NoShow),
            Change::Cancel if now >= self.end => Err(ChangeRefused::Over),
            Change::Cancel => Ok(Cancelled),
            Change::Reschedule if now >= self.start => Err(ChangeRefused::Started),
            Change::Reschedule => Ok(self.status),
        }
    }
}

/// Whole minutes from `now` to `start` (negative once started), as the fee tiers count them.
pub fn minutes_before(start: Timestamp, now: Timestamp) -> i64 {
    (start - now).as_secs().div_euclid(60)
}

/// The fee for cancelling at `now` under the booking's own copy of the policy.
pub fn cancellation_fee(
    policy: &CancellationPolicy,
    start: Timestamp,
    now: Timestamp,
    price: &Money,
) -> Money {
    policy.fee(minutes_before(start, now), price)
}

/// The no-show fee: what cancelling at the last moment would cost.
pub fn no_show_fee(policy: &CancellationPolicy, price: &Money) -> Money {
    policy.fee(0, price)
}

/// Points a completed booking earns at the studio's rate.
pub fn points_earned(price_minor: i64, rate_bps: u32) -> i64 {
    apply_bps(price_minor.max(0), rate_bps)
}

/// Points a no-show takes away: the penalty, but never below a zero balance.
pub fn points_deducted(balance: i64, penalty: u32) -> i64 {
    balance.clamp(0, i64::from(penalty))
}

/// Most occurrences in a series.
pub const MAX_SERIES: u32 = 12;

/// How a series repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Recurrence {
    /// Every this many weeks (1 = weekly), 1 to 8.
    pub every_weeks: u32,
    /// Occurrences in all, the first included: 2 to 12.
    pub count: u32,
}

impl Recurrence {
    /// Checks the numbers.
    pub fn validate(&self) -> Result<Recurrence, Invalid> {
        let mut errors = Invalid::default();
        errors
            .check((1..=8).contains(&self.every_weeks), "recurrence.every_weeks", "must be between 1 and 8")
            .check(
                (2..=MAX_SERIES).contains(&self.count),
                "recurrence.count",
                format!("must be between 2 and {MAX_SERIES}"),
            );
        errors.into_result().map(|()| *self)
    }

    /// The starts of the occurrences: the same civil time in `tz` every `every_weeks` weeks, so
    /// an appointment at 10:00 stays at 10:00 across a DST change (a time that does not exist
    /// that day moves forward by the gap and is then checked like any start).
    pub fn starts(&self, first: Timestamp, tz: &TimeZone) -> Vec<Timestamp> {
        let zoned = first.to_zoned_datetime(tz.clone());
        (0..self.count)
            .filter_map(|i| {
                let weeks = i64::from(i) * i64::from(self.every_weeks);
                zoned.checked_add(Span::new().weeks(weeks)).ok().map(|z| z.timestamp())
            })
            .collect()
    }
}

/// What to do for a series whose occurrences are not all free.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SeriesMode {
    /// Book every occurrence or none.
    #[default]
    AllOrNothing,
    /// Book the free ones and report the others.
    AvailableOnly,
}

/// Work the scheduler does for a booking at a given time; a booking has at most one pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DueKind {
    /// Release a pending booking whose hold ran out.
    HoldExpiry,
    /// Remind the client.
    Reminder,
    /// Mark a no-show if the client never arrived.
    NoShowCheck,
}

impl DueKind {
    /// The name used in keys.
    pub fn as_str(self) -> &'static str {
        match self {
            DueKind::HoldExpiry => "hold",
            DueKind::Reminder => "reminder",
            DueKind::NoShowCheck => "noshow",
        }
    }
}

fn no_later_reminders(later: &[Option<Timestamp>; 2]) -> bool {
    later.iter().all(Option::is_none)
}

/// The times a booking's scheduler steps fall on, fixed when it is booked or moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Timers {
    /// A pending booking's hold ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub hold_until: Option<Timestamp>,
    /// The first reminder goes out (absent: no reminder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub remind_at: Option<Timestamp>,
    /// Later reminders, in time order.
    #[serde(default, skip_serializing_if = "no_later_reminders")]
    #[schema(value_type = Vec<Option<String>>)]
    pub later_reminders: [Option<Timestamp>; 2],
    /// After this, a client who has not arrived is a no-show.
    #[schema(value_type = String, format = DateTime)]
    pub no_show_after: Timestamp,
}

impl Timers {
    /// Timers for a booking starting at `start` made at `now`.
    pub fn new(
        start: Timestamp,
        now: Timestamp,
        hold_until: Option<Timestamp>,
        reminder_hours: crate::studios::ReminderHours,
        tolerance_minutes: u32,
    ) -> Timers {
        // Largest offset first: the reminders in time order; those already past are skipped.
        let mut times = reminder_hours
            .hours()
            .iter()
            .map(|h| start - SignedDuration::from_hours(i64::from(*h)))
            .filter(|at| *at > now);
        Timers {
            hold_until,
            remind_at: times.next(),
            later_reminders: [times.next(), times.next()],
            no_show_after: start + SignedDuration::from_mins(i64::from(tolerance_minutes)),
        }
    }

    /// Every reminder time, in order.
    pub fn reminders(&self) -> impl Iterator<Item = Timestamp> + '_ {
        self.remind_at.into_iter().chain(self.later_reminders.iter().flatten().copied())
    }

    /// The next step due for a booking in `status`, given how many reminders went out.
    pub fn next(&self, status: BookingStatus, reminders_sent: usize) -> Option<(DueKind, Timestamp)> {
        match status {
            BookingStatus::Pending => self.hold_until.map(|at| (DueKind::HoldExpiry, at)),
            BookingStatus::Confirmed => match self.reminders().nth(reminders_sent) {
                Some(at) => Some((DueKind::Reminder, at)),
                None => Some((DueKind::NoShowCheck, self.no_show_after)),
            },
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policies::{CancellationTier, Fee};

    fn at(text: &str) -> Timestamp {
        text.parse().expect("instant")
    }

    fn eur(minor: i64) -> Money {
        Money::new(minor, crate::money::Currency::parse("EUR", "currency").expect("EUR"))
    }

    fn booking(status: BookingStatus) -> Lifecycle {
        Lifecycle {
            status,
            start: at("2026-03-10T10:00:00Z"),
            end: at("2026-03-10T11:00:00Z"),
            arrived: false,
        }
    }

    #[test]
    fn the_status_machine() {
        use BookingStatus::*;
        let before = at("2026-03-10T09:00:00Z");
        let during = at("2026-03-10T10:30:00Z");
        let after = at("2026-03-10T12:00:00Z");
        assert_eq!(booking(Pending).apply(Change::Confirm, before), Ok(Confirmed));
        assert_eq!(
            booking(Confirmed).apply(Change::Confirm, before),
            Err(ChangeRefused::NotPending("confirmed"))
        );
        assert_eq!(booking(Confirmed).apply(Change::Complete, before), Err(ChangeRefused::NotStarted));
        assert_eq!(booking(Confirmed).apply(Change::Complete, during), Ok(Completed));
        assert_eq!(booking(Pending).apply(Change::Complete, during), Err(ChangeRefused::NotConfirmed));
        assert_eq!(booking(Completed).apply(Change::Cancel, before), Err(ChangeRefused::Final("completed")));
        assert_eq!(
            booking(Cancelled).apply(Change::Reschedule, before),
            Err(ChangeRefused::Final("cancelled"))
        );
        assert_eq!(booking(NoShow).apply(Change::Complete, after), Err(ChangeRefused::Final("no_show")));
        assert_eq!(booking(Confirmed).apply(Change::Cancel, during), Ok(Cancelled), "late cancellation");
        assert_eq!(booking(Confirmed).apply(Change::Cancel, after), Err(ChangeRefused::Over));
        assert_eq!(booking(Confirmed).apply(Change::Reschedule, during), Err(ChangeRefused::Started));
        assert_eq!(booking(Pending).apply(Change::Reschedule, before), Ok(Pending));
        assert_eq!(booking(Confirmed).apply(Change::NoShow, before), Err(ChangeRefused::NotStarted));
        assert_eq!(booking(Confirmed).apply(Change::NoShow, during), Ok(NoShow));
        let arrived = Lifecycle { arrived: true, ..booking(Confirmed) };
        assert_eq!(arrived.apply(Change::NoShow, after), Err(ChangeRefused::Arrived));
        assert_eq!(booking(Confirmed).apply(Change::CheckIn, during), Ok(Confirmed));
        assert_eq!(booking(Confirmed).apply(Change::CheckIn, after), Err(ChangeRefused::Over));
    }

    #[test]
    fn fees_follow_the_booking_copy_of_the_policy() {
        let policy = CancellationPolicy {
            tiers: vec![
                CancellationTier { min_hours: 0, max_hours: Some(24), fee: Fee::Percent { bps: 5000 } },
                CancellationTier { min_hours: 24, max_hours: Some(48), fee: Fee::Percent { bps: 2500 } },
            ],
        };
        let start = at("2026-03-10T10:00:00Z");
        assert_eq!(cancellation_fee(&policy, start, at("2026-03-07T10:00:00Z"), &eur(4000)).minor, 0);
        assert_eq!(
            cancellation_fee(&policy, start, at("2026-03-08T10:00:00Z"), &eur(4000)).minor,
            0,
            "48 h is outside 24-48"
        );
        assert_eq!(cancellation_fee(&policy, start, at("2026-03-09T09:00:00Z"), &eur(4000)).minor, 1000);
        assert_eq!(cancellation_fee(&policy, start, at("2026-03-10T09:59:30Z"), &eur(4000)).minor, 2000);
        assert_eq!(no_show_fee(&policy, &eur(4000)).minor, 2000);
        assert_eq!(minutes_before(start, at("2026-03-10T10:00:30Z")), -1, "after the start rounds down");
    }

    #[test]
    fn points() {
        assert_eq!(points_earned(2500, 500), 125);
        assert_eq!(points_earned(-5, 500), 0);
        assert_eq!(points_deducted(30, 50), 30, "never below zero");
        assert_eq!(points_deducted(300, 50), 50);
        assert_eq!(points_deducted(-3, 50), 0);
    }

    #[test]
    fn a_weekly_series_keeps_its_civil_time_across_dst() {
        let tz = TimeZone::get("Europe/Lisbon").expect("zone");
        // 10:00 in Lisbon, weekly, over the spring change on 2026-03-29.
        let series = Recurrence { every_weeks: 1, count: 3 }.validate().expect("valid");
        let starts = series.starts(at("2026-03-24T10:00:00Z"), &tz);
        let civil: Vec<String> = starts
            .iter()
            .map(|s| s.to_zoned_datetime(tz.clone()).strftime("%F %H:%M %:z").to_string())
            .collect();
        assert_eq!(civil, ["2026-03-24 10:00 +00:00", "2026-03-31 10:00 +01:00", "2026-04-07 10:00 +01:00"]);
        assert!(Recurrence { every_weeks: 1, count: 13 }.validate().is_err());
        assert!(Recurrence { every_weeks: 0, count: 2 }.validate().is_err());
    }

    #[test]
    fn timers_and_the_next_step() {
        let start = at("2026-03-10T10:00:00Z");
        let day = crate::studios::ReminderHours::of(&[24]);
        let timers = Timers::new(start, at("2026-03-01T00:00:00Z"), None, day, 15);
        assert_eq!(
            timers.next(BookingStatus::Confirmed, 0),
            Some((DueKind::Reminder, at("2026-03-09T10:00:00Z")))
        );
        assert_eq!(
            timers.next(BookingStatus::Confirmed, 1),
            Some((DueKind::NoShowCheck, at("2026-03-10T10:15:00Z")))
        );
        assert_eq!(timers.next(BookingStatus::Completed, 0), None);
        // Booked inside the reminder window: no reminder at all.
        let late = Timers::new(start, at("2026-03-10T08:00:00Z"), Some(at("2026-03-10T08:15:00Z")), day, 15);
        assert_eq!(late.remind_at, None);
        assert_eq!(
            late.next(BookingStatus::Pending, 0),
            Some((DueKind::HoldExpiry, at("2026-03-10T08:15:00Z")))
        );
        assert_eq!(late.next(BookingStatus::Confirmed, 0).map(|d| d.0), Some(DueKind::NoShowCheck));
        // Two offsets, given in any order: the day before, then two hours before.
        let two = Timers::new(
            start,
            at("2026-03-01T00:00:00Z"),
            None,
            crate::studios::ReminderHours::of(&[2, 24]),
            15,
        );
        assert_eq!(two.next(BookingStatus::Confirmed, 0).map(|d| d.1), Some(at("2026-03-09T10:00:00Z")));
        assert_eq!(two.next(BookingStatus::Confirmed, 1).map(|d| d.1), Some(at("2026-03-10T08:00:00Z")));
        assert_eq!(two.next(BookingStatus::Confirmed, 2).map(|d| d.0), Some(DueKind::NoShowCheck));
        // Booked 5 hours ahead: only the 2-hour reminder.
        let soon = Timers::new(
            start,
            at("2026-03-10T05:00:00Z"),
            None,
            crate::studios::ReminderHours::of(&[24, 2]),
            15,
        );
        assert_eq!(soon.reminders().collect::<Vec<_>>(), [at("2026-03-10T08:00:00Z")]);
    }
}
