//! Bookings: free slots, booking with conflict-free claims on time and resources, series,
//! the status machine (confirm, check in, complete, cancel with fees, no-shows, reschedule),
//! waitlist offers, loyalty points, calendar feeds and the scheduler's timed steps.
//!
//! A booking lives at `STUDIO#<s>` / `BOOKING#<id>`, indexed by studio and start (gsi1) and by
//! professional and start (gsi2); pointer items list it under its client and its client's
//! account. Everything a change touches (booking, counters, pointers, the timed step, the
//! outbox event, the audit event) is written in one transaction.

use atelier_domain::ids::{BookingId, ClientId, ServiceId, StudioId, UserId, WaitlistEntryId};
pub mod changes;
pub mod conflicts;
pub mod context;
pub mod create;
pub mod deposits;
pub mod draft;
pub mod due;
pub mod events;
pub mod feeds;
pub mod handlers;
pub mod loyalty;
pub mod occupancy;
pub mod routes;
pub mod slots;
pub mod tally;
pub mod tx;
pub mod waitlist;

use atelier_domain::bookings::{BookingStatus, DueKind, Lifecycle, PendingReason, Timers};
use atelier_domain::identity::Role;
use atelier_domain::money::{Currency, Money};
use atelier_domain::policies::CancellationPolicy;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use self::occupancy::{Hold, Owner};
use atelier_platform::access::StudioAccess;
use atelier_platform::store::{
    Condition, Cursor, Index, Item, Key, Query, SortKey, StoreError, WriteOp, attr,
};
use atelier_platform::{AppError, Platform};
use atelier_studios::{studio_item, studio_partition};

/// Who cancelled, completed or marked a booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// The client.
    Client,
    /// A member of the studio.
    Staff,
    /// The scheduler (expired holds, no-show detection).
    System,
}

/// A cancellation as recorded on the booking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Cancellation {
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// Who (user id; absent for the system).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// In what capacity.
    pub by_kind: ActorKind,
    /// Why.
    pub reason: String,
    /// Fee under the booking's policy, in minor units.
    pub fee_minor: i64,
    /// Whole hours before the start it was cancelled (negative: after).
    pub hours_before: i64,
}

/// A no-show as recorded on the booking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NoShow {
    /// When it was marked.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// Who marked it (absent: the detection job).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// Penalty fee, in minor units.
    pub fee_minor: i64,
    /// Loyalty points taken away.
    pub points_deducted: i64,
}

/// The timed step waiting for a booking (see [`due`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DueStep {
    /// What.
    pub kind: DueKind,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
}

/// A booking as stored (the API shows a [`BookingView`] of it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Booking {
    /// Id.
    #[schema(value_type = String)]
    pub id: BookingId,
    /// The studio.
    #[schema(value_type = String)]
    pub studio_id: StudioId,
    /// Status.
    pub status: BookingStatus,
    /// Why it is pending, while it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_reason: Option<PendingReason>,
    /// The service.
    #[schema(value_type = String)]
    pub service_id: ServiceId,
    /// Its name when booked.
    pub service_name: String,
    /// The professional.
    #[schema(value_type = String)]
    pub professional_id: UserId,
    /// Their name when booked.
    pub professional_name: String,
    /// The studio's client record.
    #[schema(value_type = String)]
    pub client_id: ClientId,
    /// The client's name when booked.
    pub client_name: String,
    /// The client's account, when they have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub client_user_id: Option<UserId>,
    /// Start of the service.
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    /// End of the service.
    #[schema(value_type = String, format = DateTime)]
    pub end: Timestamp,
    /// The studio's zone.
    pub time_zone: String,
    /// Minutes blocked before the service.
    pub buffer_before_minutes: u32,
    /// Minutes blocked after it.
    pub buffer_after_minutes: u32,
    /// Resource type it occupies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    /// Price, copied from the service.
    pub price_minor: i64,
    /// Deposit due, copied from the service.
    pub deposit_minor: i64,
    /// Currency.
    #[schema(value_type = String)]
    pub currency: Currency,
    /// The cancellation policy that applies, copied when booked.
    pub cancellation_policy: CancellationPolicy,
    /// The client's notes.
    #[serde(default)]
    pub notes: String,
    /// When the scheduler steps fall.
    pub timers: Timers,
    /// Whether the reminder went out.
    #[serde(default)]
    pub reminded: bool,
    /// How many reminders went out (a record from before several reminders has only
    /// `reminded`: one).
    #[serde(default)]
    pub reminders_sent: u8,
    /// The step the scheduler will take next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<DueStep>,
    /// When the client checked in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub arrived_at: Option<Timestamp>,
    /// When it was completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub completed_at: Option<Timestamp>,
    /// Points it earned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points_earned: Option<i64>,
    /// The cancellation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancellation: Option<Cancellation>,
    /// The no-show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_show: Option<NoShow>,
    /// The series it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series_id: Option<String>,
    /// The waitlist entry it was offered to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub waitlist_entry_id: Option<WaitlistEntryId>,
    /// Times it was moved.
    #[serde(default)]
    pub reschedules: u32,
    /// Whether the client had no other booking at the studio when it was made (a new client,
    /// in the daily tallies). Internal: not in the view.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub first_visit: bool,
    /// Who booked it (user id; absent for waitlist offers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub created_by: Option<UserId>,
    /// Created.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Last changed.
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
    /// Version, for `If-Match`.
    pub version: i64,
}

/// A booking as the API shows it: what a caller may read of the record, with its times as the
/// studio's clock shows them. Scheduler internals (whether the reminder went out, the next
/// timed step) stay in the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BookingView {
    /// Id.
    #[schema(value_type = String)]
    pub id: BookingId,
    /// The studio.
    #[schema(value_type = String)]
    pub studio_id: StudioId,
    /// Status.
    pub status: BookingStatus,
    /// Why it is pending, while it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_reason: Option<PendingReason>,
    /// The service.
    #[schema(value_type = String)]
    pub service_id: ServiceId,
    /// Its name when booked.
    pub service_name: String,
    /// The professional.
    #[schema(value_type = String)]
    pub professional_id: UserId,
    /// Their name when booked.
    pub professional_name: String,
    /// The studio's client record.
    #[schema(value_type = String)]
    pub client_id: ClientId,
    /// The client's name when booked.
    pub client_name: String,
    /// The client's account, when they have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub client_user_id: Option<UserId>,
    /// Start of the service.
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    /// End of the service.
    #[schema(value_type = String, format = DateTime)]
    pub end: Timestamp,
    /// The studio's zone.
    pub time_zone: String,
    /// Minutes blocked before the service.
    pub buffer_before_minutes: u32,
    /// Minutes blocked after it.
    pub buffer_after_minutes: u32,
    /// Resource type it occupies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    /// Price, copied from the service.
    pub price_minor: i64,
    /// Deposit due, copied from the service.
    pub deposit_minor: i64,
    /// Currency.
    #[schema(value_type = String)]
    pub currency: Currency,
    /// The cancellation policy that applies, copied when booked.
    pub cancellation_policy: CancellationPolicy,
    /// The client's notes.
    #[serde(default)]
    pub notes: String,
    /// When the scheduler steps fall.
    pub timers: Timers,
    /// When the client checked in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub arrived_at: Option<Timestamp>,
    /// When it was completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub completed_at: Option<Timestamp>,
    /// Points it earned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points_earned: Option<i64>,
    /// The cancellation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancellation: Option<Cancellation>,
    /// The no-show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_show: Option<NoShow>,
    /// The series it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series_id: Option<String>,
    /// The waitlist entry it was offered to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub waitlist_entry_id: Option<WaitlistEntryId>,
    /// Times it was moved.
    #[serde(default)]
    pub reschedules: u32,
    /// Who booked it (user id; absent for waitlist offers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub created_by: Option<UserId>,
    /// Created.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Last changed.
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
    /// Version, for `If-Match`.
    pub version: i64,
    /// Start in the studio's zone, RFC 3339 with offset.
    pub start_local: String,
    /// End in the studio's zone.
    pub end_local: String,
}

/// An instant as RFC 3339 with its offset in `zone`.
pub fn local_time(t: Timestamp, zone: &str) -> String {
    local_time_in(t, &TimeZone::get(zone).unwrap_or(TimeZone::UTC))
}

/// [`local_time`] with the zone already found: what a list of slots formats hundreds of times
/// (the zone lookup and `strftime` were a sixth of a month's slot query).
pub fn local_time_in(t: Timestamp, tz: &TimeZone) -> String {
    let mut text = String::with_capacity(25);
    // Writing to a `String` cannot fail; the printer is RFC 3339's `YYYY-MM-DDTHH:MM:SS±HH:MM`.
    let _ = jiff::fmt::temporal::DateTimePrinter::new().print_timestamp_with_offset(
        &Timestamp::from_second(t.as_second()).unwrap_or(t),
        tz.to_offset(t),
        &mut text,
    );
    text
}

impl Booking {
    /// Reminders sent so far.
    pub fn reminders_done(&self) -> usize {
        usize::from(self.reminders_sent).max(usize::from(self.reminded))
    }

    /// The view of it.
    pub fn view(self) -> BookingView {
        BookingView {
            start_local: local_time(self.start, &self.time_zone),
            end_local: local_time(self.end, &self.time_zone),
            id: self.id,
            studio_id: self.studio_id,
            status: self.status,
            pending_reason: self.pending_reason,
            service_id: self.service_id,
            service_name: self.service_name,
            professional_id: self.professional_id,
            professional_name: self.professional_name,
            client_id: self.client_id,
            client_name: self.client_name,
            client_user_id: self.client_user_id,
            start: self.start,
            end: self.end,
            time_zone: self.time_zone,
            buffer_before_minutes: self.buffer_before_minutes,
            buffer_after_minutes: self.buffer_after_minutes,
            resource_type: self.resource_type,
            price_minor: self.price_minor,
            deposit_minor: self.deposit_minor,
            currency: self.currency,
            cancellation_policy: self.cancellation_policy,
            notes: self.notes,
            timers: self.timers,
            arrived_at: self.arrived_at,
            completed_at: self.completed_at,
            points_earned: self.points_earned,
            cancellation: self.cancellation,
            no_show: self.no_show,
            series_id: self.series_id,
            waitlist_entry_id: self.waitlist_entry_id,
            reschedules: self.reschedules,
            created_by: self.created_by,
            created_at: self.created_at,
            updated_at: self.updated_at,
            version: self.version,
        }
    }

    /// The price, copied from the service when booked.
    pub fn price(&self) -> Money {
        Money::new(self.price_minor, self.currency.clone())
    }

    /// The deposit due, copied from the service when booked.
    pub fn deposit(&self) -> Money {
        Money::new(self.deposit_minor, self.currency.clone())
    }

    /// What the status machine needs.
    pub fn lifecycle(&self) -> Lifecycle {
        Lifecycle {
            status: self.status,
            start: self.start,
            end: self.end,
            arrived: self.arrived_at.is_some(),
        }
    }

    /// The interval it blocks, buffers included.
    pub fn blocked(&self) -> (Timestamp, Timestamp) {
        (
            self.start - jiff::SignedDuration::from_mins(i64::from(self.buffer_before_minutes)),
            self.end + jiff::SignedDuration::from_mins(i64::from(self.buffer_after_minutes)),
        )
    }

    /// The cells it holds, with the capacities they were claimed against (for claims).
    pub fn holds(&self, professional_capacity: u32, pool_capacity: u32) -> Vec<Hold> {
        let (start, end) = self.blocked();
        let mut holds = vec![Hold {
            owner: Owner::Professional(self.professional_id.clone()),
            start,
            end,
            capacity: professional_capacity,
        }];
        if let Some(kind) = &self.resource_type {
            holds.push(Hold { owner: Owner::Pool(kind.clone()), start, end, capacity: pool_capacity });
        }
        holds
    }

    /// The store item, with its index keys.
    pub fn to_item(&self) -> Result<Item, StoreError> {
        let sort = index_sort(self.start, &self.id);
        Ok(Item::from_record(&booking_key(&self.studio_id, &self.id), self)?
            .with(attr::GSI1PK, studio_bookings(&self.studio_id))
            .with(attr::GSI1SK, sort.as_str())
            .with(attr::GSI2PK, professional_bookings(&self.studio_id, &self.professional_id))
            .with(attr::GSI2SK, sort.as_str()))
    }

    /// A write of the new state, guarded by the version it was read at.
    pub fn replace(&self, read_version: i64) -> Result<WriteOp, StoreError> {
        Ok(WriteOp::put(self.to_item()?).when(Condition::version_is(read_version)))
    }

    /// The pointer items listing it under its client and their account, in its current state.
    pub fn pointers(&self) -> Vec<Item> {
        let sort = index_sort(self.start, &self.id);
        let mut items = vec![
            Item::new(&Key::new(client_bookings(&self.studio_id, &self.client_id), sort.clone()))
                .with("booking_id", self.id.as_str())
                .with("status", self.status.as_str()),
        ];
        if let Some(user) = &self.client_user_id {
            items.push(
                Item::new(&user_pointer_key(user, self.start, &self.id))
                    .with("booking_id", self.id.as_str())
                    .with("studio_id", self.studio_id.as_str())
                    .with("status", self.status.as_str()),
            );
        }
        items
    }

    /// Writes moving the pointers from `before` (same booking) to this state.
    pub fn pointer_moves(&self, before: &Booking) -> Vec<WriteOp> {
        let new = self.pointers();
        let mut ops: Vec<WriteOp> = before
            .pointers()
            .iter()
            .filter_map(Item::key)
            .filter(|k| !new.iter().any(|n| n.key().as_ref() == Some(k)))
            .map(WriteOp::delete)
            .collect();
        ops.extend(new.into_iter().map(WriteOp::put));
        ops
    }
}

/// Who makes a change: a signed-in caller in the studio, or the scheduler.
#[derive(Debug, Clone, Copy)]
pub enum By<'a> {
    /// A caller, with where the request came from.
    Caller(atelier_studios::Actor<'a>),
    /// The scheduler or a worker.
    System,
}

impl By<'_> {
    /// The acting user.
    pub fn user_id(&self) -> Option<&str> {
        match self {
            By::Caller(actor) => Some(actor.user_id()),
            By::System => None,
        }
    }

    /// The audit write for a change of `entity`.
    pub fn audit(
        &self,
        platform: &Platform,
        studio_id: &StudioId,
        action: &str,
        entity: &str,
        entity_id: &str,
        changes: serde_json::Value,
    ) -> Result<WriteOp, StoreError> {
        match self {
            By::Caller(actor) => actor.audit(platform, action, entity, entity_id, changes),
            By::System => atelier_platform::audit::record(&atelier_platform::audit::AuditEvent {
                id: platform.ids.new_id(),
                at: platform.clock.now(),
                actor: None,
                action: action.to_owned(),
                entity: entity.to_owned(),
                entity_id: entity_id.to_owned(),
                studio_id: Some(studio_id.to_string()),
                ip: String::new(),
                user_agent: "scheduler".into(),
                changes,
            }),
        }
    }
}

/// Sort key of a booking in its lists: start (UTC, fixed width) then id.
pub fn index_sort(start: Timestamp, id: &str) -> String {
    format!("{}#{id}", sort_instant(start))
}

/// An instant as a fixed-width, sortable UTC string.
pub fn sort_instant(t: Timestamp) -> String {
    t.to_zoned_datetime(TimeZone::UTC).strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Key of a booking.
pub fn booking_key(studio_id: &StudioId, booking_id: &BookingId) -> Key {
    studio_item(studio_id, format!("BOOKING#{booking_id}"))
}

/// gsi1 partition of a studio's bookings.
pub fn studio_bookings(studio_id: &StudioId) -> String {
    format!("{}#BOOKINGS", studio_partition(studio_id))
}

/// gsi2 partition of a professional's bookings.
pub fn professional_bookings(studio_id: &StudioId, professional_id: &UserId) -> String {
    format!("{}#PRO#{professional_id}#BOOKINGS", studio_partition(studio_id))
}

/// Partition of a client's booking pointers.
pub fn client_bookings(studio_id: &StudioId, client_id: &ClientId) -> String {
    format!("{}#CLIENT#{client_id}#BOOKINGS", studio_partition(studio_id))
}

/// Key of a booking pointer under its client's account.
pub fn user_pointer_key(user_id: &UserId, start: Timestamp, booking_id: &BookingId) -> Key {
    Key::new(format!("USER#{user_id}"), format!("BOOKING#{}", index_sort(start, booking_id)))
}

/// How the caller relates to a booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// Manager, owner or admin: every booking of the studio.
    Manager,
    /// The booking's professional.
    OwnAgenda,
    /// The booking's client.
    Client,
}

impl Relation {
    /// Acting as staff (not as the client).
    pub fn is_staff(self) -> bool {
        !matches!(self, Relation::Client)
    }

    /// The kind of actor for the record.
    pub fn actor_kind(self) -> ActorKind {
        if self.is_staff() { ActorKind::Staff } else { ActorKind::Client }
    }
}

/// How `access` relates to `booking`; anyone else does not see it (404).
pub fn relation(access: &StudioAccess, booking: &Booking) -> Result<Relation, AppError> {
    let me = access.caller.user_id.as_str();
    if access.caller.is_admin || access.role.is_some_and(|r| r.includes(Role::Manager)) {
        return Ok(Relation::Manager);
    }
    if access.role.is_some() && booking.professional_id == me {
        return Ok(Relation::OwnAgenda);
    }
    if booking.client_user_id.as_deref() == Some(me) {
        return Ok(Relation::Client);
    }
    Err(AppError::NotFound("booking"))
}

/// Reads a booking.
pub async fn load(
    platform: &Platform,
    studio_id: &StudioId,
    booking_id: &BookingId,
) -> Result<Booking, AppError> {
    let item = platform.store.get(&booking_key(studio_id, booking_id)).await?;
    item.map(|i| i.to_record()).transpose()?.ok_or(AppError::NotFound("booking"))
}

/// A booking the caller may see.
pub async fn get(
    platform: &Platform,
    access: &StudioAccess,
    booking_id: &BookingId,
) -> Result<BookingView, AppError> {
    let booking = load(platform, &access.studio_id, booking_id).await?;
    relation(access, &booking)?;
    Ok(booking.view())
}

/// What a list of bookings is filtered by.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BookingFilter {
    /// From this instant (RFC 3339) or date (`YYYY-MM-DD`, the studio's midnight).
    pub from: Option<String>,
    /// Before this instant or date (a date includes that whole day).
    pub to: Option<String>,
    /// Only this status.
    pub status: Option<BookingStatus>,
    /// Only this professional's.
    #[param(value_type = Option<String>)]
    pub professional_id: Option<UserId>,
    /// Only this client's.
    #[param(value_type = Option<String>)]
    pub client_id: Option<ClientId>,
}

/// Parses a bound: an RFC 3339 instant, or a date at the studio's midnight (`end`: the next
/// midnight, so a date includes its whole day).
/// The date itself is checked against the documented range (`to=2199-12-31` is fine, though
/// it ends at the next midnight).
pub fn parse_bound(text: &str, zone: &TimeZone, end: bool, field: &str) -> Result<Timestamp, AppError> {
    let mut errors = atelier_domain::Invalid::default();
    if let Ok(t) = atelier_domain::time::parse_rfc3339(text) {
        atelier_domain::time::check_instant(&mut errors, field, t);
        errors.into_result()?;
        return Ok(t);
    }
    let date: jiff::civil::Date = text.parse().map_err(|_| {
        atelier_domain::Invalid::field(field, "must be an RFC 3339 instant or a date YYYY-MM-DD")
    })?;
    atelier_domain::time::check_date(&mut errors, field, date);
    errors.into_result()?;
    let date = if end { date.tomorrow().unwrap_or(date) } else { date };
    zone.to_ambiguous_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
        .compatible()
        .map_err(|_| atelier_domain::Invalid::field(field, "is out of range").into())
}

/// The sort-key range of records sorted by instant (`<instant>#…`) for `from..to` given as
/// instants or dates in the studio's zone, either open; `from` after `to` is a 422.
pub async fn period(
    platform: &Platform,
    studio_id: &StudioId,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<Option<SortKey>, AppError> {
    if from.is_none() && to.is_none() {
        return Ok(None);
    }
    let studio = atelier_studios::get(platform, studio_id).await?;
    let zone = TimeZone::get(&studio.profile.time_zone).unwrap_or(TimeZone::UTC);
    let from = from.map(|t| parse_bound(t, &zone, false, "from")).transpose()?;
    let to = to.map(|t| parse_bound(t, &zone, true, "to")).transpose()?;
    range("", from, to)
}

/// The sort-key range for `from..to` (either open); `from` after `to` is a 422.
fn range(prefix: &str, from: Option<Timestamp>, to: Option<Timestamp>) -> Result<Option<SortKey>, AppError> {
    let at = |t: Timestamp| format!("{prefix}{}", sort_instant(t));
    Ok(match (from, to) {
        (Some(f), Some(t)) if f > t => {
            return Err(atelier_domain::Invalid::field("to", "must not be before from").into());
        }
        (Some(f), Some(t)) => Some(SortKey::Between(at(f), at(t))),
        (Some(f), None) if prefix.is_empty() => Some(SortKey::Ge(at(f))),
        (Some(f), None) => Some(SortKey::Between(at(f), format!("{prefix}~"))),
        // A key condition never compares with an empty string (DynamoDB refuses it).
        (None, Some(t)) if prefix.is_empty() => Some(SortKey::Le(at(t))),
        (None, Some(t)) => Some(SortKey::Between(prefix.to_owned(), at(t))),
        (None, None) if prefix.is_empty() => None,
        (None, None) => Some(SortKey::BeginsWith(prefix.to_owned())),
    })
}

/// A page of a studio's bookings for staff: by professional (gsi2), by client (pointers) or
/// all (gsi1), in start order within the range, filtered by status. Professionals see only
/// their own agenda.
pub async fn list(
    platform: &Platform,
    access: &StudioAccess,
    filter: &BookingFilter,
    page: impl FnOnce(Query) -> Result<Query, AppError>,
) -> Result<(Vec<BookingView>, Option<Cursor>), AppError> {
    let studio = atelier_studios::get(platform, &access.studio_id).await?;
    let zone = TimeZone::get(&studio.profile.time_zone).unwrap_or(TimeZone::UTC);
    let from = filter.from.as_deref().map(|t| parse_bound(t, &zone, false, "from")).transpose()?;
    let to = filter.to.as_deref().map(|t| parse_bound(t, &zone, true, "to")).transpose()?;
    let manager = access.caller.is_admin || access.role.is_some_and(|r| r.includes(Role::Manager));
    let professional = match (&filter.professional_id, manager) {
        (Some(p), true) => Some(p.clone()),
        (None, true) => None,
        (Some(p), false) if *p != access.caller.user_id => {
            return Err(AppError::Forbidden(
                crate::conflicts::OWN_AGENDA_ONLY,
                "professionals see their own agenda only".into(),
            ));
        }
        _ => Some(access.caller.user_id.clone()),
    };
    let status = filter.status;
    let keep = move |item: &Item| status.is_none_or(|s| item.string("status").is_ok_and(|v| v == s.as_str()));
    if let Some(client_id) = &filter.client_id {
        let mut query = Query::partition(client_bookings(&access.studio_id, client_id));
        if let Some(sort) = range("", from, to)? {
            query = query.sort(sort);
        }
        let found = platform.store.query_filtered(page(query)?, keep, 10).await?;
        let mut bookings = resolve(platform, &access.studio_id, &found.items).await?;
        if let Some(p) = &professional {
            bookings.retain(|b| b.professional_id == p);
        }
        return Ok((bookings.into_iter().map(Booking::view).collect(), found.next));
    }
    let (index, partition) = match &professional {
        Some(p) => (Index::Gsi2, professional_bookings(&access.studio_id, p)),
        None => (Index::Gsi1, studio_bookings(&access.studio_id)),
    };
    let mut query = Query::partition(partition).on(index);
    if let Some(sort) = range("", from, to)? {
        query = query.sort(sort);
    }
    let found = platform.store.query_filtered(page(query)?, keep, 10).await?;
    let bookings: Vec<Booking> = found.items.iter().map(Item::to_record).collect::<Result<_, _>>()?;
    Ok((bookings.into_iter().map(Booking::view).collect(), found.next))
}

/// A page of the signed-in user's bookings in every studio, in start order.
pub async fn mine(
    platform: &Platform,
    user_id: &UserId,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
    status: Option<BookingStatus>,
    page: impl FnOnce(Query) -> Result<Query, AppError>,
) -> Result<(Vec<BookingView>, Option<Cursor>), AppError> {
    let mut errors = atelier_domain::Invalid::default();
    for (field, bound) in [("from", from), ("to", to)] {
        if let Some(t) = bound {
            atelier_domain::time::check_instant(&mut errors, field, t);
        }
    }
    errors.into_result()?;
    let mut query = Query::partition(format!("USER#{user_id}"));
    if let Some(sort) = range("BOOKING#", from, to)? {
        query = query.sort(sort);
    }
    let keep = move |item: &Item| status.is_none_or(|s| item.string("status").is_ok_and(|v| v == s.as_str()));
    let found = platform.store.query_filtered(page(query)?, keep, 10).await?;
    let keys: Vec<Key> = found
        .items
        .iter()
        .map(|i| {
            Ok(booking_key(&StudioId::new(i.string("studio_id")?), &BookingId::new(i.string("booking_id")?)))
        })
        .collect::<Result<_, StoreError>>()?;
    let bookings = in_order(&keys, platform.store.get_many(&keys).await?)?;
    Ok((bookings.into_iter().map(Booking::view).collect(), found.next))
}

/// The bookings pointed to by pointer items, in pointer order.
async fn resolve(
    platform: &Platform,
    studio_id: &StudioId,
    pointers: &[Item],
) -> Result<Vec<Booking>, AppError> {
    let keys: Vec<Key> = pointers
        .iter()
        .map(|i| i.string("booking_id").map(|id| booking_key(studio_id, &BookingId::from(&id))))
        .collect::<Result<_, _>>()?;
    in_order(&keys, platform.store.get_many(&keys).await?)
}

fn in_order(keys: &[Key], items: Vec<Item>) -> Result<Vec<Booking>, AppError> {
    let mut bookings: Vec<(Key, Booking)> = items
        .iter()
        .map(|i| Ok((i.key().unwrap_or_else(|| Key::new("", "")), i.to_record()?)))
        .collect::<Result<_, StoreError>>()?;
    let mut ordered = Vec::with_capacity(keys.len());
    for key in keys {
        if let Some(i) = bookings.iter().position(|(k, _)| k == key) {
            ordered.push(bookings.swap_remove(i).1);
        }
    }
    Ok(ordered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_times_are_what_strftime_writes() {
        for zone in ["Europe/Lisbon", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"] {
            let tz = TimeZone::get(zone).expect("zone");
            let mut t: Timestamp = "2026-01-01T00:00:00Z".parse().expect("instant");
            let end: Timestamp = "2027-01-01T00:00:00Z".parse().expect("instant");
            while t < end {
                let expected = t.to_zoned_datetime(tz.clone()).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string();
                assert_eq!(local_time_in(t, &tz), expected, "{zone} at {t}");
                t += jiff::SignedDuration::from_secs(37 * 60 + 11) + jiff::SignedDuration::from_millis(3);
            }
        }
    }
}
