//! Drafting a booking: a start checked against the studio's rules and the professional's
//! hours, the booking filled in (price, deposit and policy copied, status and timers set), and
//! the writes that claim its time. Shared by booking, series and waitlist offers.

use atelier_domain::ids::{ClientId, StudioId, UserId};
use std::collections::HashSet;

use atelier_domain::bookings::{BookingStatus, PendingReason, Timers};
use atelier_domain::money::Money;
use atelier_domain::scheduling::{self, Calendar, Occupancy, Refusal};
use atelier_platform::store::{Condition, WriteOp};
use atelier_platform::{AppError, Platform};
use atelier_studios::{catalog, profile_key, team};
use jiff::{SignedDuration, Timestamp};

use crate::context::{ProfessionalPart, ServicePart, StudioPart};
use crate::occupancy::{self, Owner};
use crate::tx::{Failure, Part, Tx};
use crate::{Booking, due, slots};

/// A booking ready to write, with what its claims are counted against.
#[derive(Debug, Clone)]
pub struct Draft {
    /// The booking.
    pub booking: Booking,
    /// The professional's capacity with overbooking.
    pub capacity: u32,
    /// Whether an overbooked claim is accepted without review.
    pub auto_accept: bool,
    /// The resource pool's capacity.
    pub pool_capacity: u32,
}

/// What every draft of one request shares.
pub struct Basis<'a> {
    /// The studio as read.
    pub studio: &'a StudioPart,
    pub service: &'a ServicePart,
    pub professional: &'a ProfessionalPart,
    pub client_id: &'a ClientId,
    pub client_name: &'a str,
    pub client_user_id: Option<&'a UserId>,
    pub notes: &'a str,
    pub created_by: Option<&'a UserId>,
    pub now: Timestamp,
}

/// Checks a start against the studio's rules and the professional's hours, and drafts the
/// booking: price, deposit and policy copied, status and timers set.
pub fn draft(platform: &Platform, basis: &Basis<'_>, start: Timestamp) -> Result<Draft, Refusal> {
    let studio = &basis.studio.studio;
    let definition = &basis.service.service.definition;
    let rules = slots::rules(basis.studio, basis.now);
    let empty = Occupancy::default();
    let calendar = Calendar {
        professional_id: &basis.professional.professional.user_id,
        schedule: &basis.professional.schedule,
        exceptions: &basis.professional.exceptions,
        occupancy: &empty,
        capacity: 1,
    };
    scheduling::check_start(&rules, slots::shape(basis.service), &calendar, None, start)?;
    let settings = &studio.profile.settings;
    let price = Money::new(definition.price_minor, basis.studio.currency.clone());
    let deposit_minor =
        if definition.deposit_required { price.share_bps(definition.deposit_bps).minor } else { 0 };
    let (status, pending_reason, hold_until) = if deposit_minor > 0 {
        let hold = (basis.now + SignedDuration::from_mins(i64::from(settings.hold_minutes))).min(start);
        (BookingStatus::Pending, Some(PendingReason::Deposit), Some(hold))
    } else {
        (BookingStatus::Confirmed, None, None)
    };
    let mut booking = Booking {
        id: platform.ids.new_id().into(),
        studio_id: studio.id.clone(),
        status,
        pending_reason,
        service_id: basis.service.service.id.clone(),
        service_name: definition.name.clone(),
        professional_id: basis.professional.professional.user_id.clone(),
        professional_name: basis.professional.professional.profile.display_name.clone(),
        client_id: basis.client_id.clone(),
        client_name: basis.client_name.to_owned(),
        client_user_id: basis.client_user_id.cloned(),
        start,
        end: start + SignedDuration::from_mins(i64::from(definition.duration_minutes)),
        time_zone: studio.profile.time_zone.clone(),
        buffer_before_minutes: definition.buffer_before_minutes,
        buffer_after_minutes: definition.buffer_after_minutes,
        resource_type: definition.resource_type.clone(),
        price_minor: definition.price_minor,
        deposit_minor,
        currency: basis.studio.currency.clone(),
        cancellation_policy: basis.service.policy.clone(),
        notes: basis.notes.to_owned(),
        timers: Timers::new(
            start,
            basis.now,
            hold_until,
            settings.reminder_hours,
            settings.no_show_tolerance_minutes,
        ),
        reminded: false,
        reminders_sent: 0,
        due: None,
        arrived_at: None,
        completed_at: None,
        points_earned: None,
        cancellation: None,
        no_show: None,
        series_id: None,
        waitlist_entry_id: None,
        reschedules: 0,
        first_visit: false,
        created_by: basis.created_by.cloned(),
        created_at: basis.now,
        updated_at: basis.now,
        version: 1,
    };
    due::plan(&mut booking);
    let pool_capacity = definition.resource_type.as_deref().map_or(0, |k| basis.studio.pool_capacity(k));
    Ok(Draft {
        booking,
        capacity: basis.professional.capacity(&basis.studio.overbooking),
        auto_accept: basis.professional.auto_accepts(&basis.studio.overbooking),
        pool_capacity,
    })
}

/// Marks a draft as using overbooking capacity: pending staff review unless accepted
/// automatically (the hold lasts until the start).
fn overbook(draft: &mut Draft) {
    if !draft.auto_accept && draft.booking.status == BookingStatus::Confirmed {
        draft.booking.status = BookingStatus::Pending;
        draft.booking.pending_reason = Some(PendingReason::Review);
        draft.booking.timers.hold_until = Some(draft.booking.start);
        due::plan(&mut draft.booking);
    }
}

/// Adds a draft's writes: the booking, its pointers, its timed step, its claims.
pub fn draft_ops(tx: &mut Tx, index: usize, draft: &Draft, overbooked: bool) -> Result<(), AppError> {
    let b = &draft.booking;
    tx.push(WriteOp::create(b.to_item()?), Part::Booking(index));
    tx.extend(b.pointers().into_iter().map(WriteOp::put), Part::Other);
    tx.extend(due::moves(None, b), Part::Other);
    tx.extend(crate::tally::moves(None, b), Part::Other);
    let capacity = if overbooked { draft.capacity } else { 1 };
    for (op, owner) in occupancy::moves(&b.studio_id, &[], &b.holds(capacity, draft.pool_capacity)) {
        tx.push(op, Part::Cells(index, owner));
    }
    Ok(())
}

/// Checks that what the drafts were based on still holds when they are written.
pub fn basis_checks(tx: &mut Tx, studio_id: &StudioId, service: &ServicePart, professional_id: &UserId) {
    tx.push(WriteOp::check(profile_key(studio_id), Condition::eq("active", true)), Part::Check("the studio"));
    tx.push(
        WriteOp::check(
            catalog::service_key(studio_id, &service.service.id),
            Condition::version_is(service.service.version),
        ),
        Part::Check("the service"),
    );
    tx.push(
        WriteOp::check(team::professional_key(studio_id, professional_id), Condition::eq("active", true)),
        Part::Check("the professional"),
    );
}

/// Commits drafts, claiming each professional's base capacity first; a draft whose
/// professional is full there is tried again on their overbooking capacity (pending review
/// unless auto-accepted). `build` assembles the whole transaction for the drafts as they are.
pub async fn commit_drafts(
    platform: &Platform,
    drafts: &mut [Draft],
    build: impl Fn(&[Draft], &HashSet<usize>) -> Result<Tx, AppError>,
) -> Result<(), Failure> {
    let mut overbooked = HashSet::new();
    loop {
        let tx = build(drafts, &overbooked).map_err(Failure::Error)?;
        match tx.commit(platform).await {
            Err(Failure::Condition(Part::Cells(i, Owner::Professional(p))))
                if !overbooked.contains(&i) && drafts.get(i).is_some_and(|d| d.capacity > 1) =>
            {
                overbooked.insert(i);
                if let Some(d) = drafts.get_mut(i) {
                    overbook(d);
                }
                tracing::debug!(professional = %p, occurrence = i, "base capacity full; trying overbooking");
            }
            other => return other,
        }
    }
}
