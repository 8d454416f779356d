//! Daily tallies: counters per studio, professional and service for each local day, kept in
//! the same transaction as every booking change, so a month of numbers is a handful of reads
//! (the dashboard and reports), never a pass over the bookings.
//!
//! A booking contributes to the day its start falls on in its studio's zone: one to its
//! status, its minutes unless cancelled, its price to the completed value once completed, and
//! one new client if it was the client's first booking at the studio and is not cancelled. A change writes the
//! difference between what the booking contributed before and what it contributes after, as
//! `ADD`s on one item per day, `STUDIO#<s>` / `DAY#<date>#BOOKINGS`, whose attributes hold the
//! studio's counts and each professional's and service's (`pro:<id>:minutes`): a series of 12
//! adds 12 writes to its transaction, not 36. The item is also indexed (gsi1 `TALLY#<date>`)
//! so the platform report reads a day's active studios without a Scan.

use std::collections::BTreeMap;

use atelier_domain::bookings::BookingStatus;
use atelier_domain::ids::StudioId;
use atelier_platform::store::{Key, UpdateAction, WriteOp, attr};
use atelier_studios::studio_item;

use crate::Booking;

/// What a count is about: the whole studio, one professional or one service.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// The whole studio.
    Studio,
    /// One professional (user id).
    Professional(String),
    /// One service (service id).
    Service(String),
}

/// The counts of a tally item.
pub mod field {
    /// Booked minutes of bookings not cancelled.
    pub const MINUTES: &str = "minutes";
    /// Bookings that were the client's first at the studio.
    pub const NEW_CLIENTS: &str = "new_clients";
    /// Prefix of the completed value per currency: `value_EUR`.
    pub const VALUE_PREFIX: &str = "value_";
}

/// The attribute holding `count` for `scope`: `minutes`, `pro:<id>:minutes`, `svc:<id>:minutes`.
/// One item per day holds every scope, so a change touches one tally item per day it moves.
pub fn attribute(scope: &Scope, count: &str) -> String {
    match scope {
        Scope::Studio => count.to_owned(),
        Scope::Professional(id) => format!("pro:{id}:{count}"),
        Scope::Service(id) => format!("svc:{id}:{count}"),
    }
}

/// The scope and count an attribute holds; `None` for attributes that are not counts.
pub fn parse_attribute(name: &str) -> Option<(Scope, &str)> {
    let (scope, count) = match name.split_once(':') {
        None => (Scope::Studio, name),
        Some(("pro", rest)) => {
            let (id, count) = rest.split_once(':')?;
            (Scope::Professional(id.to_owned()), count)
        }
        Some(("svc", rest)) => {
            let (id, count) = rest.split_once(':')?;
            (Scope::Service(id.to_owned()), count)
        }
        Some(_) => return None,
    };
    is_count(count).then_some((scope, count))
}

/// Sort key prefix of every daily counter of a studio on `date` (bookings, money, stock).
pub fn day_prefix(date: &str) -> String {
    format!("DAY#{date}#")
}

/// Sort key of a studio's tally item for `date`; every daily counter of a studio (bookings,
/// money, stock) starts with `DAY#<date>#`, so one query reads a period's.
pub fn tally_sort(date: &str) -> String {
    format!("DAY#{date}#BOOKINGS")
}

/// Key of a studio's tally item for `date`.
pub fn tally_key(studio_id: &StudioId, date: &str) -> Key {
    studio_item(studio_id, tally_sort(date))
}

/// Partition of the index listing the studios with a tally on `date` (the platform report).
pub fn platform_day(date: &str) -> String {
    format!("TALLY#{date}")
}

/// What bookings add to their days: date → attribute → amount.
pub type Contribution = BTreeMap<String, BTreeMap<String, i64>>;

/// The booking's local start date.
pub fn local_date(booking: &Booking) -> String {
    let zone = jiff::tz::TimeZone::get(&booking.time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    booking.start.to_zoned_datetime(zone).date().to_string()
}

/// What `booking` contributes, added into `into` with `sign` (1 or -1).
pub fn contribute(into: &mut Contribution, booking: &Booking, sign: i64) {
    let mut amounts: Vec<(String, i64)> = vec![(booking.status.as_str().to_owned(), 1)];
    if booking.status != BookingStatus::Cancelled {
        amounts.push((field::MINUTES.into(), (booking.end - booking.start).as_mins()));
    }
    if booking.status == BookingStatus::Completed {
        amounts.push((format!("{}{}", field::VALUE_PREFIX, booking.currency.code()), booking.price_minor));
    }
    // A cancelled first booking brings no one: the client's next booking counts instead.
    if booking.first_visit && booking.status != BookingStatus::Cancelled {
        amounts.push((field::NEW_CLIENTS.into(), 1));
    }
    let day = into.entry(local_date(booking)).or_default();
    for scope in [
        Scope::Studio,
        Scope::Professional(booking.professional_id.to_string()),
        Scope::Service(booking.service_id.to_string()),
    ] {
        for (count, amount) in &amounts {
            *day.entry(attribute(&scope, count)).or_default() += sign * amount;
        }
    }
}

/// The counter updates moving a booking from `before` (none: new) to `after`; nothing when no
/// count changes (a reminder sent, a note edited).
pub fn moves(before: Option<&Booking>, after: &Booking) -> Vec<WriteOp> {
    let mut sum = Contribution::new();
    if let Some(before) = before {
        contribute(&mut sum, before, -1);
    }
    contribute(&mut sum, after, 1);
    writes(&after.studio_id, &sum)
}

/// The `ADD` updates for a summed contribution (zero amounts left out), one per day.
pub fn writes(studio_id: &StudioId, sum: &Contribution) -> Vec<WriteOp> {
    sum.iter()
        .filter(|(_, amounts)| amounts.values().any(|v| *v != 0))
        .map(|(date, amounts)| {
            let mut actions = vec![
                UpdateAction::Set("date".into(), date.as_str().into()),
                UpdateAction::Set("studio_id".into(), studio_id.as_str().into()),
                UpdateAction::Set(attr::GSI1PK.into(), platform_day(date).into()),
                UpdateAction::Set(attr::GSI1SK.into(), studio_id.as_str().into()),
            ];
            actions.extend(
                amounts.iter().filter(|(_, v)| **v != 0).map(|(name, v)| UpdateAction::Add(name.clone(), *v)),
            );
            WriteOp::update(tally_key(studio_id, date), actions)
        })
        .collect()
}

/// The number attributes of a tally item that are counts (statuses, minutes, values).
pub fn is_count(name: &str) -> bool {
    BookingStatus::ALL.iter().any(|s| s.as_str() == name)
        || name == field::MINUTES
        || name == field::NEW_CLIENTS
        || name.starts_with(field::VALUE_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_name_their_scope_and_parse_back() {
        let pro = Scope::Professional("u1".into());
        assert_eq!(attribute(&pro, "minutes"), "pro:u1:minutes");
        assert_eq!(parse_attribute("pro:u1:minutes"), Some((pro, "minutes")));
        assert_eq!(parse_attribute("svc:s9:value_EUR"), Some((Scope::Service("s9".into()), "value_EUR")));
        assert_eq!(parse_attribute("completed"), Some((Scope::Studio, "completed")));
        for not_a_count in ["date", "studio_id", "gsi1pk", "pro:u1:date", "xyz:a:minutes", "pro:u1"] {
            assert_eq!(parse_attribute(not_a_count), None, "{not_a_count}");
        }
    }
}
