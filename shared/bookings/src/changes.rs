//! Changes to a booking: confirm, check in, complete, cancel (with the fee its policy sets),
//! no-show (with the penalty and the points), reschedule (the new time claimed and the old
//! released in one transaction), and the scheduler's steps. Each is guarded by the version
//! that was read, so two changes never both apply to the same state.

use atelier_domain::Invalid;
use atelier_domain::bookings::{
    BookingStatus, Change, ChangeRefused, DueKind, PendingReason, Timers, cancellation_fee, minutes_before,
    no_show_fee, points_deducted, points_earned,
};
use atelier_domain::ids::{BookingId, UserId};
use atelier_domain::scheduling::{self, Calendar, Occupancy, ServiceShape};
use atelier_domain::studios::check_text;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::context::{self, Loaded, ProfessionalPart, StudioPart};
use crate::due::{self, DueItem};
use crate::events::{self, BookingEvent};
use crate::loyalty::{self, LedgerKind};
use crate::occupancy::{self, Hold};
use crate::slots::refusal;
use crate::tx::{Failure, Part, Tx};
use crate::waitlist::{self, EntryStatus};
use crate::{ActorKind, Booking, BookingView, By, Cancellation, NoShow, Relation, load, relation, slots};
use atelier_platform::outbox::OutboxEntry;
use atelier_platform::store::WriteOp;
use atelier_platform::{AppError, Platform};
use atelier_studios::{Actor, catalog};

/// A 409 for a change that makes no sense now.
fn refused(e: ChangeRefused) -> AppError {
    AppError::Conflict(crate::conflicts::INVALID_TRANSITION, e.to_string())
}

/// Staff may do this; the client may not.
fn staff_only(relation: Relation, what: &str) -> Result<(), AppError> {
    if relation.is_staff() {
        Ok(())
    } else {
        Err(AppError::Forbidden(crate::conflicts::STAFF_ONLY, format!("only the studio can {what}")))
    }
}

/// A change ready to commit.
struct Plan<'a> {
    before: &'a Booking,
    after: Booking,
    release: bool,
    claim: Option<(u32, u32)>,
    extra: Vec<(WriteOp, Part)>,
    events: Vec<(WriteOp, OutboxEntry)>,
    audit: Option<WriteOp>,
}

impl<'a> Plan<'a> {
    fn new(before: &'a Booking, now: Timestamp) -> Plan<'a> {
        let mut after = before.clone();
        after.version += 1;
        after.updated_at = now;
        Plan {
            before,
            after,
            release: false,
            claim: None,
            extra: Vec::new(),
            events: Vec::new(),
            audit: None,
        }
    }

    async fn commit(self, platform: &Platform) -> Result<BookingView, Failure> {
        let mut tx = Tx::new();
        let b = &self.after;
        tx.push(b.replace(self.before.version).map_err(|e| Failure::Error(e.into()))?, Part::Booking(0));
        // Only time still to come is released: it is what others may book, and the counters of
        // hours long past may already have expired (TTL), which a release cannot condition on.
        let now = b.updated_at;
        let release: Vec<Hold> = if self.release {
            self.before
                .holds(0, 0)
                .into_iter()
                .filter(|h| h.end > now)
                .map(|h| Hold { start: h.start.max(now), ..h })
                .collect()
        } else {
            Vec::new()
        };
        let claim: Vec<Hold> = self.claim.map(|(pro, pool)| b.holds(pro, pool)).unwrap_or_default();
        for (op, owner) in occupancy::moves(&b.studio_id, &release, &claim) {
            tx.push(op, Part::Cells(0, owner));
        }
        if b.start != self.before.start || b.status != self.before.status {
            tx.extend(b.pointer_moves(self.before), Part::Other);
        }
        tx.extend(due::moves(Some(self.before), b), Part::Other);
        tx.extend(crate::tally::moves(Some(self.before), b), Part::Other);
        for (op, part) in self.extra {
            tx.push(op, part);
        }
        for staged in self.events {
            tx.event(staged);
        }
        tx.extend(self.audit, Part::Other);
        tx.commit(platform).await?;
        Ok(self.after.view())
    }
}

fn store_err(e: atelier_platform::store::StoreError) -> AppError {
    e.into()
}

/// How a booking is cancelled.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    /// Why (up to 500 characters).
    #[serde(default)]
    pub reason: String,
    /// Staff only: no fee, whatever the policy says (the studio called it off).
    #[serde(default)]
    pub waive_fee: bool,
}

/// Cancels a booking: the fee comes from the booking's own copy of the policy (none for a
/// booking never confirmed, or when staff waive it); the time is freed for the waitlist.
pub async fn cancel(
    platform: &Platform,
    actor: Actor<'_>,
    booking_id: &BookingId,
    request: &CancelRequest,
) -> Result<BookingView, AppError> {
    let reason = check_text(&request.reason, 500, "reason")?;
    let before = load(platform, actor.studio_id(), booking_id).await?;
    let relation = relation(actor.access, &before)?;
    if request.waive_fee && !relation.is_staff() {
        return Err(AppError::Forbidden(
            crate::conflicts::STAFF_ONLY,
            "only the studio can waive a cancellation fee".into(),
        ));
    }
    let by_kind = relation.actor_kind();
    cancel_as(platform, By::Caller(actor), &before, by_kind, reason, request.waive_fee).await
}

async fn cancel_as(
    platform: &Platform,
    by: By<'_>,
    before: &Booking,
    by_kind: ActorKind,
    reason: String,
    waive_fee: bool,
) -> Result<BookingView, AppError> {
    let now = platform.clock.now();
    before.lifecycle().apply(Change::Cancel, now).map_err(refused)?;
    let fee_minor = if before.status == BookingStatus::Confirmed && !waive_fee {
        cancellation_fee(&before.cancellation_policy, before.start, now, &before.price()).minor
    } else {
        0
    };
    let mut plan = Plan::new(before, now);
    plan.after.status = BookingStatus::Cancelled;
    plan.after.pending_reason = None;
    plan.after.cancellation = Some(Cancellation {
        at: now,
        by: by.user_id().map(str::to_owned),
        by_kind,
        reason: reason.clone(),
        fee_minor,
        hours_before: minutes_before(before.start, now).div_euclid(60),
    });
    due::plan(&mut plan.after);
    plan.release = true;
    if let Some(entry_id) = &before.waitlist_entry_id
        && before.pending_reason == Some(PendingReason::Offer)
    {
        let status = if by_kind == ActorKind::System { EntryStatus::Expired } else { EntryStatus::Declined };
        for op in waitlist::close_offer(platform, &before.studio_id, entry_id, status).await? {
            plan.extra.push((op, Part::Other));
        }
    }
    let mut payload = BookingEvent::of(&plan.after);
    payload.fee_minor = Some(fee_minor);
    payload.reason = Some(reason.clone()).filter(|r| !r.is_empty());
    plan.events
        .push(events::stage(platform, events::CANCELLED, &before.studio_id, &payload).map_err(store_err)?);
    plan.events.push(events::freed(platform, before).map_err(store_err)?);
    plan.audit = Some(
        by.audit(
            platform,
            &before.studio_id,
            "bookings.cancelled",
            "booking",
            &before.id,
            serde_json::json!({ "by": by_kind, "reason": reason, "fee_minor": fee_minor }),
        )
        .map_err(store_err)?,
    );
    let view = plan.commit(platform).await.map_err(Failure::into_error)?;
    platform.metrics.count(atelier_platform::metrics::Metric::BookingsCancelled, &[]);
    Ok(view)
}

/// Where a booking moves to.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RescheduleRequest {
    /// The new start, RFC 3339 with an offset.
    #[schema(value_type = String, format = DateTime)]
    #[serde(deserialize_with = "atelier_domain::time::rfc3339")]
    pub start: Timestamp,
    /// Another professional (absent: the same).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub professional_id: Option<UserId>,
}

/// Moves a booking: the new time is claimed and the old released in one transaction, or
/// nothing changes. Price and policy stay as booked.
pub async fn reschedule(
    platform: &Platform,
    actor: Actor<'_>,
    booking_id: &BookingId,
    request: &RescheduleRequest,
) -> Result<BookingView, AppError> {
    crate::create::in_range(request.start)?;
    let studio_id = actor.studio_id();
    let before = load(platform, studio_id, booking_id).await?;
    let relation = relation(actor.access, &before)?;
    let now = platform.clock.now();
    before.lifecycle().apply(Change::Reschedule, now).map_err(refused)?;
    let professional_id = request.professional_id.clone().unwrap_or_else(|| before.professional_id.clone());
    if relation == Relation::OwnAgenda && professional_id != actor.user_id() {
        return Err(AppError::Forbidden(
            crate::conflicts::OWN_AGENDA_ONLY,
            "professionals move bookings within their own agenda only".into(),
        ));
    }
    if professional_id == before.professional_id && request.start == before.start {
        return Ok(before.view());
    }
    let mut keys = context::studio_keys(studio_id);
    keys.extend(context::professional_keys(studio_id, &professional_id));
    keys.push(catalog::service_key(studio_id, &before.service_id));
    let loaded = Loaded::fetch(platform, &keys).await?;
    let studio = StudioPart::from(&loaded, studio_id)?.ok_or(AppError::NotFound("studio"))?;
    if !studio.studio.active {
        return Err(AppError::Conflict(
            crate::conflicts::NOT_TAKING_BOOKINGS,
            "the studio is not taking bookings".into(),
        ));
    }
    let professional = ProfessionalPart::from(&loaded, studio_id, &professional_id)?
        .filter(|p| p.professional.profile.active)
        .ok_or_else(|| Invalid::field("professional_id", "is not an active professional of this studio"))?;
    if professional_id != before.professional_id {
        let service: Option<catalog::Service> =
            loaded.record(&catalog::service_key(studio_id, &before.service_id))?;
        if !service.is_some_and(|s| s.definition.professional_ids.contains(&professional_id)) {
            return Err(Invalid::field("professional_id", "does not perform this service").into());
        }
    }
    let zone = TimeZone::get(&studio.studio.profile.time_zone).unwrap_or(TimeZone::UTC);
    let date = request.start.to_zoned_datetime(zone).date();
    let professional =
        professional.with_exceptions(platform, studio_id, date.yesterday().unwrap_or(date), date).await?;
    let duration = before.end - before.start;
    let shape = ServiceShape {
        duration_minutes: u32::try_from(duration.as_mins()).unwrap_or(0),
        buffer_before_minutes: before.buffer_before_minutes,
        buffer_after_minutes: before.buffer_after_minutes,
    };
    let empty = Occupancy::default();
    let calendar = Calendar {
        professional_id: &professional_id,
        schedule: &professional.schedule,
        exceptions: &professional.exceptions,
        occupancy: &empty,
        capacity: 1,
    };
    scheduling::check_start(&slots::rules(&studio, now), shape, &calendar, None, request.start)
        .map_err(|r| refusal(r, "start"))?;
    let settings = &studio.studio.profile.settings;
    let mut plan = Plan::new(&before, now);
    let b = &mut plan.after;
    b.start = request.start;
    b.end = request.start + duration;
    b.professional_id = professional_id.clone();
    b.professional_name = professional.professional.profile.display_name.clone();
    let hold = before.timers.hold_until.map(|h| h.min(request.start));
    b.timers =
        Timers::new(request.start, now, hold, settings.reminder_hours, settings.no_show_tolerance_minutes);
    b.reminded = false;
    b.reminders_sent = 0;
    b.reschedules += 1;
    due::plan(b);
    // Overbooking capacity only where it needs no review.
    let capacity = if professional.auto_accepts(&studio.overbooking) {
        professional.capacity(&studio.overbooking)
    } else {
        1
    };
    let pool = before.resource_type.as_deref().map_or(0, |k| studio.pool_capacity(k));
    plan.release = true;
    plan.claim = Some((capacity, pool));
    let mut payload = BookingEvent::of(&plan.after);
    payload.previous_start_local = Some(crate::local_time(before.start, &before.time_zone));
    payload.previous_start = Some(before.start);
    plan.events.push(events::stage(platform, events::RESCHEDULED, studio_id, &payload).map_err(store_err)?);
    plan.events.push(events::freed(platform, &before).map_err(store_err)?);
    plan.audit = Some(actor.audit(
        platform,
        "bookings.rescheduled",
        "booking",
        &before.id,
        serde_json::json!({
            "from": { "start": before.start, "professional_id": before.professional_id },
            "to": { "start": request.start, "professional_id": professional_id },
        }),
    )?);
    plan.commit(platform).await.map_err(Failure::into_error)
}

/// Confirms a pending booking: staff accept it (deposit received, overbooking reviewed), or
/// the client accepts a waitlist offer (then a deposit, if due, is still awaited).
pub async fn confirm(
    platform: &Platform,
    actor: Actor<'_>,
    booking_id: &BookingId,
) -> Result<BookingView, AppError> {
    let studio_id = actor.studio_id();
    let before = load(platform, studio_id, booking_id).await?;
    let relation = relation(actor.access, &before)?;
    let now = platform.clock.now();
    before.lifecycle().apply(Change::Confirm, now).map_err(refused)?;
    // Past its hold the booking is the expiry job's, even if the job has not run yet.
    if before.timers.hold_until.is_some_and(|until| until <= now) {
        return Err(AppError::Conflict(
            crate::conflicts::HOLD_EXPIRED,
            "the hold on this time has expired; book again".into(),
        ));
    }
    let offer = before.pending_reason == Some(PendingReason::Offer);
    if !relation.is_staff() && !offer {
        return Err(AppError::Forbidden(
            crate::conflicts::STAFF_ONLY,
            "the studio confirms this booking once the deposit is paid".into(),
        ));
    }
    let mut plan = Plan::new(&before, now);
    if offer && !relation.is_staff() && before.deposit_minor > 0 {
        let studio = atelier_studios::get(platform, studio_id).await?;
        let hold = now + SignedDuration::from_mins(i64::from(studio.profile.settings.hold_minutes));
        plan.after.pending_reason = Some(PendingReason::Deposit);
        plan.after.timers.hold_until = Some(hold.min(before.start));
    } else {
        plan.after.status = BookingStatus::Confirmed;
        plan.after.pending_reason = None;
        plan.after.timers.hold_until = None;
    }
    due::plan(&mut plan.after);
    if let (true, Some(entry_id)) = (offer, &before.waitlist_entry_id) {
        for op in waitlist::close_offer(platform, studio_id, entry_id, EntryStatus::Booked).await? {
            plan.extra.push((op, Part::Other));
        }
    }
    if plan.after.status == BookingStatus::Confirmed {
        plan.events.push(
            events::stage(platform, events::CONFIRMED, studio_id, &BookingEvent::of(&plan.after))
                .map_err(store_err)?,
        );
    }
    plan.audit = Some(actor.audit(
        platform,
        "bookings.confirmed",
        "booking",
        &before.id,
        serde_json::json!({ "was": before.pending_reason }),
    )?);
    plan.commit(platform).await.map_err(Failure::into_error)
}

/// Confirms a booking held for its deposit now that the deposit is received (the payments
/// capability calls this), with the payment's writes and events in the same transaction: the
/// booking is confirmed and paid, or neither. Only a booking still pending and holding its time
/// is confirmed; the caller reads it again after a [`Failure::Condition`] on the booking.
pub async fn confirm_paid(
    platform: &Platform,
    before: &Booking,
    extra: Vec<(WriteOp, Part)>,
    extra_events: Vec<(WriteOp, OutboxEntry)>,
) -> Result<BookingView, Failure> {
    let now = platform.clock.now();
    let mut plan = Plan::new(before, now);
    plan.after.status = BookingStatus::Confirmed;
    plan.after.pending_reason = None;
    plan.after.timers.hold_until = None;
    due::plan(&mut plan.after);
    plan.extra = extra;
    let staged =
        events::stage(platform, events::CONFIRMED, &before.studio_id, &BookingEvent::of(&plan.after))
            .map_err(|e| Failure::Error(e.into()))?;
    plan.events.push(staged);
    plan.events.extend(extra_events);
    plan.audit = Some(
        By::System
            .audit(
                platform,
                &before.studio_id,
                "bookings.confirmed",
                "booking",
                &before.id,
                serde_json::json!({ "was": before.pending_reason, "by": "deposit received" }),
            )
            .map_err(|e| Failure::Error(e.into()))?,
    );
    plan.commit(platform).await
}

/// Records that the client arrived (staff): the no-show check then leaves the booking alone.
pub async fn check_in(
    platform: &Platform,
    actor: Actor<'_>,
    booking_id: &BookingId,
) -> Result<BookingView, AppError> {
    let before = load(platform, actor.studio_id(), booking_id).await?;
    staff_only(relation(actor.access, &before)?, "check a client in")?;
    let now = platform.clock.now();
    before.lifecycle().apply(Change::CheckIn, now).map_err(refused)?;
    if before.arrived_at.is_some() {
        return Ok(before.view());
    }
    let mut plan = Plan::new(&before, now);
    plan.after.arrived_at = Some(now);
    plan.audit =
        Some(actor.audit(platform, "bookings.checked_in", "booking", &before.id, serde_json::Value::Null)?);
    plan.commit(platform).await.map_err(Failure::into_error)
}

/// Completes a booking that has started (staff); the client earns points at the studio's rate.
pub async fn complete(
    platform: &Platform,
    actor: Actor<'_>,
    booking_id: &BookingId,
) -> Result<BookingView, AppError> {
    let studio_id = actor.studio_id();
    let before = load(platform, studio_id, booking_id).await?;
    staff_only(relation(actor.access, &before)?, "complete a booking")?;
    let now = platform.clock.now();
    before.lifecycle().apply(Change::Complete, now).map_err(refused)?;
    let studio = atelier_studios::get(platform, studio_id).await?;
    let settings = &studio.profile.settings;
    let points = points_earned(before.price_minor, settings.loyalty_rate_bps);
    let mut plan = Plan::new(&before, now);
    plan.after.status = BookingStatus::Completed;
    plan.after.completed_at = Some(now);
    plan.after.points_earned = Some(points);
    due::plan(&mut plan.after);
    if points > 0 {
        let ops = loyalty::earn_ops(
            platform,
            studio_id,
            &before.client_id,
            points,
            &before.id,
            settings.loyalty_expiry_days,
            actor.user_id(),
        )?;
        plan.extra.extend(ops.into_iter().map(|op| (op, Part::Other)));
    }
    let mut payload = BookingEvent::of(&plan.after);
    payload.points = Some(points);
    payload.by = Some(actor.user_id().clone());
    plan.events.push(events::stage(platform, events::COMPLETED, studio_id, &payload).map_err(store_err)?);
    plan.audit = Some(actor.audit(
        platform,
        "bookings.completed",
        "booking",
        &before.id,
        serde_json::json!({ "points": points }),
    )?);
    plan.commit(platform).await.map_err(Failure::into_error)
}

/// Marks a no-show (staff).
pub async fn no_show(
    platform: &Platform,
    actor: Actor<'_>,
    booking_id: &BookingId,
) -> Result<BookingView, AppError> {
    let before = load(platform, actor.studio_id(), booking_id).await?;
    staff_only(relation(actor.access, &before)?, "mark a no-show")?;
    no_show_as(platform, By::Caller(actor), before).await
}

/// The no-show: the penalty fee from the policy's last tier, points deducted (never below
/// zero), the rest of the time released.
async fn no_show_as(platform: &Platform, by: By<'_>, before: Booking) -> Result<BookingView, AppError> {
    let studio_id = before.studio_id.clone();
    let mut before = before;
    for attempt in 0..3 {
        let now = platform.clock.now();
        before.lifecycle().apply(Change::NoShow, now).map_err(refused)?;
        let keys =
            [atelier_studios::profile_key(&studio_id), loyalty::balance_key(&studio_id, &before.client_id)];
        let loaded = Loaded::fetch(platform, &keys).await?;
        let penalty = loaded
            .record::<atelier_studios::Studio>(&keys[0])?
            .map_or(0, |s| s.profile.settings.no_show_penalty_points);
        let balance = loaded.record::<loyalty::LoyaltyBalance>(&keys[1])?.map_or(0, |b| b.points);
        let deducted = points_deducted(balance, penalty);
        let fee_minor = no_show_fee(&before.cancellation_policy, &before.price()).minor;
        let mut plan = Plan::new(&before, now);
        plan.after.status = BookingStatus::NoShow;
        plan.after.no_show = Some(NoShow {
            at: now,
            by: by.user_id().map(str::to_owned),
            fee_minor,
            points_deducted: deducted,
        });
        due::plan(&mut plan.after);
        plan.release = true;
        if deducted > 0 {
            let deduction = loyalty::Deduction {
                points: deducted,
                kind: LedgerKind::NoShow,
                booking_id: Some(&before.id),
                note: "",
                by: by.user_id(),
            };
            let ops = loyalty::deduct_ops(platform, &studio_id, &before.client_id, deduction)?;
            let mut ops = ops.into_iter();
            plan.extra.extend(ops.next().map(|op| (op, Part::Check("the loyalty balance"))));
            plan.extra.extend(ops.map(|op| (op, Part::Other)));
        }
        let mut payload = BookingEvent::of(&plan.after);
        payload.fee_minor = Some(fee_minor);
        payload.points = Some(-deducted);
        plan.events.push(events::stage(platform, events::NO_SHOW, &studio_id, &payload).map_err(store_err)?);
        plan.audit = Some(
            by.audit(
                platform,
                &studio_id,
                "bookings.no_show",
                "booking",
                &before.id,
                serde_json::json!({ "fee_minor": fee_minor, "points_deducted": deducted }),
            )
            .map_err(store_err)?,
        );
        match plan.commit(platform).await {
            Ok(view) => {
                platform.metrics.count(atelier_platform::metrics::Metric::BookingsNoShow, &[]);
                return Ok(view);
            }
            // Points were spent meanwhile: read the balance again.
            Err(Failure::Condition(Part::Check("the loyalty balance"))) if attempt < 2 => {
                before = load(platform, &studio_id, &before.id).await?;
            }
            Err(f) => return Err(f.into_error()),
        }
    }
    Err(AppError::Conflict(
        atelier_platform::error::CHANGED_MEANWHILE,
        "the loyalty balance kept changing; try again".into(),
    ))
}

/// Runs a booking's due step; `Ok(false)` when it was stale.
pub async fn due_step(platform: &Platform, kind: DueKind, item: &DueItem) -> Result<bool, AppError> {
    let booking = match load(platform, &item.studio_id, &BookingId::from(&item.subject_id)).await {
        Ok(b) => b,
        Err(AppError::NotFound(_)) => {
            due::drop(platform, item).await?;
            return Ok(false);
        }
        Err(e) => return Err(e),
    };
    if !item.is_current_for(&booking) {
        due::drop(platform, item).await?;
        return Ok(false);
    }
    match kind {
        DueKind::HoldExpiry => {
            let reason = match booking.pending_reason {
                Some(PendingReason::Offer) => "the offer expired",
                Some(PendingReason::Review) => "not confirmed by the studio in time",
                _ => "the hold expired before the deposit was paid",
            };
            cancel_as(platform, By::System, &booking, ActorKind::System, reason.into(), true).await?;
        }
        DueKind::Reminder => {
            let now = platform.clock.now();
            let mut plan = Plan::new(&booking, now);
            plan.after.reminders_sent = u8::try_from(booking.reminders_done() + 1).unwrap_or(u8::MAX);
            plan.after.reminded = true;
            due::plan(&mut plan.after);
            plan.events.push(
                events::stage(
                    platform,
                    events::REMINDER_DUE,
                    &booking.studio_id,
                    &BookingEvent::of(&plan.after),
                )
                .map_err(store_err)?,
            );
            plan.commit(platform).await.map_err(Failure::into_error)?;
        }
        DueKind::NoShowCheck => {
            if booking.arrived_at.is_some() || booking.status != BookingStatus::Confirmed {
                // They came: completion is the studio's to record. Nothing is due any more.
                let mut plan = Plan::new(&booking, platform.clock.now());
                plan.after.due = None;
                plan.commit(platform).await.map_err(Failure::into_error)?;
                return Ok(false);
            }
            no_show_as(platform, By::System, booking).await?;
        }
    }
    Ok(true)
}

/// Runs the booking steps of `kind`.
pub async fn run_booking_steps(platform: &Platform, kind: DueKind) -> Result<due::StepReport, AppError> {
    due::run(platform, kind.as_str(), |item| async move { due_step(platform, kind, &item).await }).await
}
