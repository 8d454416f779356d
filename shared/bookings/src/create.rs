//! Booking: one appointment, or a series, by a client for themselves or by staff for a studio
//! client. What is read decides the 422s (rules, working hours, who performs what); what is
//! free is decided only by the conditional claims in the one transaction that writes the
//! booking, so no concurrency can double-book a professional or a resource.

use atelier_domain::ids::{ClientId, ServiceId, StudioId, UserId};
use std::collections::HashSet;

use atelier_domain::Invalid;
use atelier_domain::bookings::{Recurrence, SeriesMode};
use atelier_domain::identity::Role;
use atelier_domain::scheduling::Refusal;
use atelier_domain::studios::check_text;
use atelier_platform::metrics::Metric;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::context::{self, Loaded, ProfessionalPart, ServicePart, StudioPart};
use crate::draft::{Basis, Draft, basis_checks, commit_drafts, draft, draft_ops};
use crate::events::{self, BookingEvent, SeriesEvent};
use crate::occupancy::{self, Owner};
use crate::slots::refusal;
use crate::tx::{Failure, Part, Tx, conflict};
use crate::{Booking, BookingView, local_time, slots};
use atelier_platform::access::UserProfile;
use atelier_platform::idempotency::{IdempotencyKey, Outcome};
use atelier_platform::store::{Condition, Key, Query, WriteOp};
use atelier_platform::{AppError, Platform};
use atelier_studios::Actor;
use atelier_studios::clients::{self, Client};

/// A request to book one appointment.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingRequest {
    /// The service.
    #[schema(value_type = String)]
    pub service_id: ServiceId,
    /// The professional (absent: whoever is free, least busy first).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub professional_id: Option<UserId>,
    /// Start, RFC 3339 with an offset (`2026-11-24T10:00:00+00:00`).
    #[schema(value_type = String, format = DateTime)]
    #[serde(deserialize_with = "atelier_domain::time::rfc3339")]
    pub start: Timestamp,
    /// The studio client it is for (staff only; absent: the caller books for themselves).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub client_id: Option<ClientId>,
    /// Notes for the studio.
    #[serde(default)]
    pub notes: String,
}

/// A request to book a recurring series.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SeriesRequest {
    /// The service.
    #[schema(value_type = String)]
    pub service_id: ServiceId,
    /// The professional (a series keeps one).
    #[schema(value_type = String)]
    pub professional_id: UserId,
    /// First start, RFC 3339 with an offset; the others follow at the same local time.
    #[schema(value_type = String, format = DateTime)]
    #[serde(deserialize_with = "atelier_domain::time::rfc3339")]
    pub start: Timestamp,
    /// How it repeats.
    pub recurrence: Recurrence,
    /// Book everything or nothing (default), or what is free.
    #[serde(default)]
    pub mode: SeriesMode,
    /// The studio client it is for (staff only).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub client_id: Option<ClientId>,
    /// Notes for the studio.
    #[serde(default)]
    pub notes: String,
}

/// One occurrence's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Occurrence {
    /// Its start in the studio's zone.
    pub start: String,
    /// Its start in UTC.
    #[schema(value_type = String, format = DateTime)]
    pub start_utc: Timestamp,
    /// The booking, when booked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub booking: Option<BookingView>,
    /// Why not, when not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// What a series request booked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SeriesOutcome {
    /// The series.
    pub series_id: String,
    /// How it was asked.
    pub mode: SeriesMode,
    /// Occurrences booked.
    pub booked: usize,
    /// Each date, in order.
    pub occurrences: Vec<Occurrence>,
}

/// Who is booking: the caller in the studio and their account.
#[derive(Debug, Clone, Copy)]
pub struct Booker<'a> {
    /// The caller.
    pub actor: Actor<'a>,
    /// Their account.
    pub user: &'a UserProfile,
}

/// The client a booking is for.
#[derive(Debug, Clone)]
enum ClientChoice {
    /// An existing record (checked to still exist when written, for staff bookings).
    Existing { id: ClientId, name: String, user_id: Option<UserId>, check: Option<Key> },
    /// A record created with the booking for an account's first booking here.
    New { client: Client, ops: Vec<WriteOp> },
}

impl ClientChoice {
    fn id(&self) -> &ClientId {
        match self {
            ClientChoice::Existing { id, .. } => id,
            ClientChoice::New { client, .. } => &client.id,
        }
    }

    fn name(&self) -> &str {
        match self {
            ClientChoice::Existing { name, .. } => name,
            ClientChoice::New { client, .. } => &client.details.name,
        }
    }

    fn user_id(&self) -> Option<&UserId> {
        match self {
            ClientChoice::Existing { user_id, .. } => user_id.as_ref(),
            ClientChoice::New { client, .. } => client.user_id.as_ref(),
        }
    }

    /// Writes creating or checking the record, with their parts.
    fn ops(&self, tx: &mut Tx) {
        match self {
            ClientChoice::Existing { check: Some(key), .. } => {
                tx.push(WriteOp::check(key.clone(), Condition::Exists), Part::Check("the client"));
            }
            ClientChoice::Existing { check: None, .. } => {}
            ClientChoice::New { ops, .. } => {
                for (i, op) in ops.iter().enumerate() {
                    tx.push(op.clone(), if i == 0 { Part::ClientLink } else { Part::Other });
                }
            }
        }
    }
}

/// The key to read for the client: their account's link, or the record staff named.
fn client_key(studio_id: &StudioId, booker: &Booker<'_>, client_id: Option<&ClientId>) -> Key {
    match client_id {
        Some(id) => clients::client_key(studio_id, id),
        None => clients::link_key(studio_id, &booker.user.id),
    }
}

fn resolve_client(
    platform: &Platform,
    loaded: &Loaded,
    studio_id: &StudioId,
    booker: &Booker<'_>,
    client_id: Option<&ClientId>,
) -> Result<ClientChoice, AppError> {
    let key = client_key(studio_id, booker, client_id);
    match client_id {
        Some(id) => {
            let client: Client = loaded
                .record(&key)?
                .ok_or_else(|| Invalid::field("client_id", "is not a client of this studio"))?;
            Ok(ClientChoice::Existing {
                id: id.to_owned(),
                name: client.details.name,
                user_id: client.user_id,
                check: Some(key),
            })
        }
        // An integration books for the studio's clients; it is nobody's client itself.
        None if booker.actor.access.caller.api_key.is_some() => {
            Err(Invalid::field("client_id", "an API key books for one of the studio's clients: name it")
                .into())
        }
        None => match loaded.item(&key) {
            Some(link) => Ok(ClientChoice::Existing {
                id: ClientId::new(link.string("client_id")?),
                name: booker.user.name.clone(),
                user_id: Some(booker.user.id.clone()),
                check: None,
            }),
            None => {
                let (client, ops) = clients::new_for_user(platform, studio_id, booker.user)?;
                Ok(ClientChoice::New { client, ops })
            }
        },
    }
}

/// Whether the client has no booking at the studio yet: their booking counts as a new client
/// in the daily tallies. Two first bookings of one client racing each other may both count (a
/// condition here would make a client's concurrent bookings conflict): documented in
/// docs/reports.md.
pub async fn is_first_visit(
    platform: &Platform,
    studio_id: &StudioId,
    client_id: &ClientId,
) -> Result<bool, AppError> {
    // Cancelled bookings do not count: the client has not come yet.
    let query = Query::partition(crate::client_bookings(studio_id, client_id)).limit(1);
    let kept = |item: &atelier_platform::store::Item| item.string("status").is_ok_and(|s| s != "cancelled");
    Ok(platform.store.query_filtered(query, kept, 3).await?.items.is_empty())
}

async fn first_visit(
    platform: &Platform,
    studio_id: &StudioId,
    client: &ClientChoice,
) -> Result<bool, AppError> {
    match client {
        ClientChoice::New { .. } => Ok(true),
        ClientChoice::Existing { id, .. } => is_first_visit(platform, studio_id, id).await,
    }
}

/// Who may book for whom: anyone for themselves; staff for a client, professionals only into
/// their own agenda.
fn check_booker(
    booker: &Booker<'_>,
    client_id: Option<&ClientId>,
    professional_id: Option<&UserId>,
) -> Result<(), AppError> {
    if client_id.is_none() {
        return Ok(());
    }
    let access = booker.actor.access;
    access.require(Role::Professional)?;
    let manager = access.caller.is_admin || access.role.is_some_and(|r| r.includes(Role::Manager));
    if !manager && professional_id.is_some_and(|p| *p != access.caller.user_id) {
        return Err(AppError::Forbidden(
            crate::conflicts::OWN_AGENDA_ONLY,
            "professionals book into their own agenda only".into(),
        ));
    }
    Ok(())
}

/// Everything one request reads: studio, service, professional, client, idempotency record.
enum Read {
    /// Fresh reads.
    Fresh(Box<Fresh>),
    /// The idempotency key was used for this very request: its response.
    Replay(Outcome),
}

struct Fresh {
    loaded: Loaded,
    studio: StudioPart,
    service: ServicePart,
    professional: ProfessionalPart,
}

async fn read(
    platform: &Platform,
    booker: &Booker<'_>,
    service_id: &ServiceId,
    professional_id: &UserId,
    client_id: Option<&ClientId>,
    idem: Option<&IdempotencyKey>,
) -> Result<Read, AppError> {
    let studio_id = booker.actor.studio_id();
    let mut keys = context::studio_keys(studio_id);
    keys.extend(context::service_keys(studio_id, service_id));
    keys.extend(context::professional_keys(studio_id, professional_id));
    keys.push(client_key(studio_id, booker, client_id));
    keys.extend(idem.map(|k| k.store_key().clone()));
    let loaded = Loaded::fetch(platform, &keys).await?;
    if let Some(key) = idem
        && let Some(stored) = key.replay(loaded.item(key.store_key()))?
    {
        return Ok(Read::Replay(stored));
    }
    let studio = StudioPart::from(&loaded, studio_id)?.ok_or(AppError::NotFound("studio"))?;
    if !studio.studio.active {
        return Err(if booker.actor.access.role.is_some() {
            AppError::Conflict(
                crate::conflicts::NOT_TAKING_BOOKINGS,
                "the studio is not taking bookings".into(),
            )
        } else {
            AppError::NotFound("studio")
        });
    }
    let service = ServicePart::from(&loaded, studio_id, service_id)?
        .filter(|s| s.service.definition.active)
        .ok_or_else(|| Invalid::field("service_id", "is not a service this studio offers"))?;
    let professional = ProfessionalPart::from(&loaded, studio_id, professional_id)?
        .filter(|p| p.professional.profile.active)
        .ok_or_else(|| Invalid::field("professional_id", "is not an active professional of this studio"))?;
    if !service.service.definition.professional_ids.iter().any(|p| p == professional_id) {
        return Err(Invalid::field("professional_id", "does not perform this service").into());
    }
    Ok(Read::Fresh(Box::new(Fresh { loaded, studio, service, professional })))
}

/// What a booking's creation answers (and replays): the view of the new booking.
fn created(booking: &Booking) -> Result<Outcome, AppError> {
    Ok(Outcome {
        created: true,
        body: serde_json::to_value(booking.clone().view())
            .map_err(|e| AppError::failed("encoding a view", e))?,
    })
}

/// A start in the range every instant must be in (`atelier_domain::time`), else a 422 on `start`.
pub(crate) fn in_range(start: Timestamp) -> Result<(), Invalid> {
    let mut errors = Invalid::default();
    atelier_domain::time::check_instant(&mut errors, "start", start);
    errors.into_result()
}

/// Books one appointment: what it came to, or, for a replayed key, what it came to the first time.
pub async fn create(
    platform: &Platform,
    booker: Booker<'_>,
    request: BookingRequest,
    idem: Option<IdempotencyKey>,
) -> Result<Outcome, AppError> {
    counted_refusal(platform, book(platform, booker, request, idem).await)
}

/// Counts a refused request by its problem type (a replay and a booking are counted where they
/// commit; a failure of ours, a 5xx, is not a refusal).
fn counted_refusal(platform: &Platform, outcome: Result<Outcome, AppError>) -> Result<Outcome, AppError> {
    if let Err(refusal) = &outcome
        && refusal.is_refusal()
    {
        platform.metrics.count(Metric::BookingsRefused, &[("reason", refusal.slug())]);
    }
    outcome
}

async fn book(
    platform: &Platform,
    booker: Booker<'_>,
    request: BookingRequest,
    idem: Option<IdempotencyKey>,
) -> Result<Outcome, AppError> {
    let notes = check_text(&request.notes, 2000, "notes")?;
    in_range(request.start)?;
    check_booker(&booker, request.client_id.as_ref(), request.professional_id.as_ref())?;
    match &request.professional_id {
        Some(p) => book_one(platform, &booker, &request, p, &notes, idem.as_ref()).await,
        None => {
            // A retry replays before anything else: the time it booked is no longer free.
            if let Some(key) = &idem
                && let Some(stored) = key.lookup(platform).await?
            {
                return Ok(stored);
            }
            let access = booker.actor.access;
            let own_only = request.client_id.is_some()
                && !(access.caller.is_admin || access.role.is_some_and(|r| r.includes(Role::Manager)));
            let mut free =
                slots::free_at(platform, booker.actor.studio_id(), &request.service_id, request.start)
                    .await?;
            if own_only {
                free.free.retain(|p| *p == access.caller.user_id);
                free.working.retain(|p| *p == access.caller.user_id);
            }
            let mut last = if free.working.is_empty() {
                Invalid::field("start", "no professional who performs this service works then").into()
            } else {
                AppError::Conflict(
                    crate::conflicts::NO_PROFESSIONAL_FREE,
                    "no professional is free then".into(),
                )
            };
            for p in free.free.iter().take(5) {
                match book_one(platform, &booker, &request, &UserId::from(&p), &notes, idem.as_ref()).await {
                    Err(AppError::Conflict(reason, message)) => last = AppError::Conflict(reason, message),
                    other => return other,
                }
            }
            // A concurrent retry of this request may have booked meanwhile.
            if let Some(key) = &idem
                && let Some(stored) = key.lookup(platform).await?
            {
                return Ok(stored);
            }
            Err(last)
        }
    }
}

async fn book_one(
    platform: &Platform,
    booker: &Booker<'_>,
    request: &BookingRequest,
    professional_id: &UserId,
    notes: &str,
    idem: Option<&IdempotencyKey>,
) -> Result<Outcome, AppError> {
    let studio_id = booker.actor.studio_id();
    for _ in 0..3 {
        let read = match read(
            platform,
            booker,
            &request.service_id,
            professional_id,
            request.client_id.as_ref(),
            idem,
        )
        .await?
        {
            Read::Fresh(fresh) => fresh,
            Read::Replay(stored) => return Ok(stored),
        };
        let client = resolve_client(platform, &read.loaded, studio_id, booker, request.client_id.as_ref())?;
        let zone = TimeZone::get(&read.studio.studio.profile.time_zone).unwrap_or(TimeZone::UTC);
        let date = request.start.to_zoned_datetime(zone).date();
        let professional = read
            .professional
            .clone()
            .with_exceptions(platform, studio_id, date.yesterday().unwrap_or(date), date)
            .await?;
        let basis = Basis {
            studio: &read.studio,
            service: &read.service,
            professional: &professional,
            client_id: client.id(),
            client_name: client.name(),
            client_user_id: client.user_id(),
            notes,
            created_by: Some(&booker.user.id),
            now: platform.clock.now(),
        };
        let mut drafts = vec![draft(platform, &basis, request.start).map_err(|r| refusal(r, "start"))?];
        drafts[0].booking.first_visit = first_visit(platform, studio_id, &client).await?;
        let result = commit_drafts(platform, &mut drafts, |drafts, overbooked| {
            let mut tx = Tx::new();
            let booking = &drafts[0].booking;
            if let Some(key) = idem {
                tx.push(key.remember(&created(booking)?, basis.now)?, Part::Idempotency);
            }
            client.ops(&mut tx);
            draft_ops(&mut tx, 0, &drafts[0], overbooked.contains(&0))?;
            basis_checks(&mut tx, studio_id, &read.service, professional_id);
            tx.event(events::stage(platform, events::CREATED, studio_id, &BookingEvent::of(booking))?);
            tx.push(
                booker.actor.audit(
                    platform,
                    "bookings.created",
                    "booking",
                    &booking.id,
                    serde_json::json!({ "start": booking.start, "professional_id": booking.professional_id, "status": booking.status }),
                )?,
                Part::Other,
            );
            Ok(tx)
        })
        .await;
        match result {
            Ok(()) => {
                platform.metrics.count(Metric::BookingsCreated, &[]);
                return created(&drafts[0].booking);
            }
            Err(Failure::Condition(Part::Idempotency)) => {
                let key = idem.ok_or_else(|| AppError::Internal("idempotency part without key".into()))?;
                return key.lookup(platform).await?.ok_or_else(|| conflict(&Part::Idempotency));
            }
            // Their first booking here raced another: read the record it created and retry.
            Err(Failure::Condition(Part::ClientLink)) => continue,
            Err(failure) => return Err(failure.into_error()),
        }
    }
    Err(AppError::Conflict(
        atelier_platform::error::CHANGED_MEANWHILE,
        "the client record changed meanwhile; try again".into(),
    ))
}

/// Books a weekly series, all or nothing, or what is free with a report per date.
pub async fn create_series(
    platform: &Platform,
    booker: Booker<'_>,
    request: SeriesRequest,
    idem: Option<IdempotencyKey>,
) -> Result<Outcome, AppError> {
    counted_refusal(platform, book_series(platform, booker, request, idem).await)
}

async fn book_series(
    platform: &Platform,
    booker: Booker<'_>,
    request: SeriesRequest,
    idem: Option<IdempotencyKey>,
) -> Result<Outcome, AppError> {
    let notes = check_text(&request.notes, 2000, "notes")?;
    let recurrence = request.recurrence.validate()?;
    in_range(request.start)?;
    check_booker(&booker, request.client_id.as_ref(), Some(&request.professional_id))?;
    let studio_id = booker.actor.studio_id();
    async {
        let read = match read(platform, &booker, &request.service_id, &request.professional_id, request.client_id.as_ref(), idem.as_ref()).await? {
            Read::Fresh(fresh) => fresh,
            Read::Replay(stored) => return Ok(stored),
        };
        let client = resolve_client(platform, &read.loaded, studio_id, &booker, request.client_id.as_ref())?;
        let zone = TimeZone::get(&read.studio.studio.profile.time_zone).unwrap_or(TimeZone::UTC);
        let zone_name = read.studio.studio.profile.time_zone.clone();
        let starts = recurrence.starts(request.start, &zone);
        let (first, last) = match (starts.first(), starts.last()) {
            (Some(f), Some(l)) => (f.to_zoned_datetime(zone.clone()).date(), l.to_zoned_datetime(zone.clone()).date()),
            _ => return Err(AppError::Internal("a series without occurrences".into())),
        };
        let professional =
            read.professional.clone().with_exceptions(platform, studio_id, first.yesterday().unwrap_or(first), last).await?;
        let basis = Basis {
            studio: &read.studio,
            service: &read.service,
            professional: &professional,
            client_id: client.id(),
            client_name: client.name(),
            client_user_id: client.user_id(),
            notes: &notes,
            created_by: Some(&booker.user.id),
            now: platform.clock.now(),
        };
        let first = first_visit(platform, studio_id, &client).await?;
        let series_id = platform.ids.new_id();
        let mut refused: Vec<Option<String>> = Vec::new();
        let mut drafts = Vec::new();
        let mut at: Vec<usize> = Vec::new();
        for (i, start) in starts.iter().enumerate() {
            match draft(platform, &basis, *start) {
                Ok(mut d) => {
                    d.booking.series_id = Some(series_id.clone());
                    d.booking.first_visit = first && drafts.is_empty();
                    refused.push(None);
                    drafts.push(d);
                    at.push(i);
                }
                Err(r) => refused.push(Some(r.to_string())),
            }
        }
        if request.mode == SeriesMode::AllOrNothing && refused.iter().any(Option::is_some) {
            let mut errors = Invalid::default();
            for (i, reason) in refused.iter().enumerate() {
                if let Some(reason) = reason {
                    errors.check(false, &format!("occurrences[{i}].start"), format!("{}: {reason}", local_time(starts[i], &zone_name)));
                }
            }
            return Err(errors.into());
        }
        if request.mode == SeriesMode::AvailableOnly {
            // Leave out what is already taken, so the one transaction can succeed.
            let day = SignedDuration::from_hours(24);
            let (lo, hi) = (starts[0].checked_sub(day).unwrap_or(starts[0]), starts[starts.len() - 1].checked_add(day).unwrap_or(Timestamp::MAX));
            let pro = occupancy::load(platform, studio_id, &Owner::Professional(request.professional_id.clone()), lo, hi).await?;
            let pool = match &read.service.service.definition.resource_type {
                Some(kind) => Some(occupancy::load(platform, studio_id, &Owner::Pool(kind.clone()), lo, hi).await?),
                None => None,
            };
            let mut kept = Vec::new();
            let mut kept_at = Vec::new();
            for (d, i) in drafts.into_iter().zip(at) {
                let (s, e) = d.booking.blocked();
                let reason = if !pro.fits(s, e, d.capacity) {
                    Some(Refusal::ProfessionalBusy)
                } else if pool.as_ref().is_some_and(|p| !p.fits(s, e, d.pool_capacity)) {
                    Some(Refusal::NoResource)
                } else {
                    None
                };
                match reason {
                    Some(r) => refused[i] = Some(r.to_string()),
                    None => {
                        kept.push(d);
                        kept_at.push(i);
                    }
                }
            }
            drafts = kept;
            at = kept_at;
        }
        loop {
            let report = |drafts: &[Draft], at: &[usize], refused: &[Option<String>]| -> SeriesOutcome {
                let occurrences = starts
                    .iter()
                    .enumerate()
                    .map(|(i, s)| Occurrence {
                        start: local_time(*s, &zone_name),
                        start_utc: *s,
                        booking: at.iter().position(|j| *j == i).map(|k| drafts[k].booking.clone().view()),
                        refused: refused[i].clone(),
                    })
                    .collect();
                SeriesOutcome { series_id: series_id.clone(), mode: request.mode, booked: drafts.len(), occurrences }
            };
            if drafts.is_empty() {
                let body = serde_json::to_value(report(&drafts, &at, &refused)).map_err(|e| AppError::failed("encoding a view", e))?;
                return Ok(Outcome { created: false, body });
            }
            let response = |drafts: &[Draft]| -> Result<Outcome, AppError> {
                Ok(Outcome {
                    created: true,
                    body: serde_json::to_value(report(drafts, &at, &refused)).map_err(|e| AppError::failed("encoding a view", e))?,
                })
            };
            let build = |drafts: &[Draft], overbooked: &HashSet<usize>| -> Result<Tx, AppError> {
                let mut tx = Tx::new();
                if let Some(key) = &idem {
                    tx.push(key.remember(&response(drafts)?, basis.now)?, Part::Idempotency);
                }
                client.ops(&mut tx);
                for (k, d) in drafts.iter().enumerate() {
                    draft_ops(&mut tx, k, d, overbooked.contains(&k))?;
                }
                basis_checks(&mut tx, studio_id, &read.service, &request.professional_id);
                let payload = SeriesEvent { series_id: series_id.clone(), bookings: drafts.iter().map(|d| BookingEvent::of(&d.booking)).collect() };
                tx.event(events::stage(platform, events::SERIES_CREATED, studio_id, &payload)?);
                tx.push(
                    booker.actor.audit(platform, "bookings.series_created", "booking_series", &series_id, serde_json::json!({ "bookings": drafts.iter().map(|d| &d.booking.id).collect::<Vec<_>>() }))?,
                    Part::Other,
                );
                Ok(tx)
            };
            // Refused up front rather than by the store: say why and what to do.
            let needed = build(&drafts, &HashSet::new())?.len();
            if needed > atelier_platform::store::limits::TRANSACTION_ACTIONS {
                return Err(AppError::Unprocessable(crate::conflicts::SERIES_TOO_LARGE, format!(
                    "this series needs {needed} writes in one transaction; the limit is {}: book fewer occurrences",
                    atelier_platform::store::limits::TRANSACTION_ACTIONS
                )));
            }
            match commit_drafts(platform, &mut drafts, build).await {
                Ok(()) => {
                    platform.metrics.record(Metric::BookingsCreated, drafts.len() as f64, &[]);
                    return response(&drafts);
                },
                Err(Failure::Condition(Part::Idempotency)) => {
                    let key = idem.as_ref().ok_or_else(|| AppError::Internal("idempotency part without key".into()))?;
                    return key.lookup(platform).await?.ok_or_else(|| conflict(&Part::Idempotency));
                }
                Err(Failure::Condition(Part::Cells(k, owner))) if request.mode == SeriesMode::AvailableOnly => {
                    // Taken meanwhile: report it and book the rest.
                    let reason = match owner {
                        Owner::Professional(_) => Refusal::ProfessionalBusy,
                        Owner::Pool(_) => Refusal::NoResource,
                    };
                    refused[at[k]] = Some(reason.to_string());
                    drafts.remove(k);
                    at.remove(k);
                }
                Err(Failure::Condition(Part::Cells(k, owner))) => {
                    let (reason, what) = match owner {
                        Owner::Professional(_) => (crate::conflicts::SLOT_TAKEN, "the professional is already booked then"),
                        Owner::Pool(_) => (crate::conflicts::RESOURCE_TAKEN, "no resource the service needs is free then"),
                    };
                    let at = local_time(drafts[k].booking.start, &zone_name);
                    return Err(AppError::Conflict(reason, format!("{at}: {what}")));
                }
                Err(failure) => return Err(failure.into_error()),
            }
        }
    }
    .await
}
