//! Free slots: reads what the domain's `free_slots` needs (one batch, then per professional one
//! exceptions query and one counters query, plus one for the resource pool: a constant number
//! whatever the range) and runs it.

use atelier_domain::Invalid;
use atelier_domain::ids::{ServiceId, StudioId, UserId};
use atelier_domain::scheduling::{self, Calendar, Occupancy, Pool, Refusal, Rules, ServiceShape};
use futures_util::future::try_join_all;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::context::{self, Loaded, ProfessionalPart, ServicePart, StudioPart};
use crate::occupancy::{self, Owner};
use atelier_platform::{AppError, Platform};

/// Longest range of dates one request may ask for.
pub const MAX_DAYS: i64 = 31;

/// What slots are asked for.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SlotQuery {
    /// The service.
    #[param(value_type = String)]
    pub service_id: ServiceId,
    /// One professional (absent: anyone who performs the service).
    #[param(value_type = Option<String>)]
    pub professional_id: Option<UserId>,
    /// First date, `YYYY-MM-DD`, in the studio's zone.
    #[param(value_type = String)]
    pub from: Date,
    /// Last date, included (at most 31 days in all).
    #[param(value_type = String)]
    pub to: Date,
}

/// A bookable start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SlotView {
    /// Start in the studio's zone, RFC 3339 with its offset.
    pub start: String,
    /// The same instant in UTC.
    #[schema(value_type = String, format = DateTime)]
    pub start_utc: Timestamp,
    /// Professionals free then.
    #[schema(value_type = Vec<String>)]
    pub professionals: Vec<UserId>,
}

/// Free slots of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FreeSlots {
    /// The studio's zone: every `start` is in it.
    pub time_zone: String,
    /// The service.
    #[schema(value_type = String)]
    pub service_id: ServiceId,
    /// Its duration.
    pub duration_minutes: u32,
    /// The starts, in order.
    pub slots: Vec<SlotView>,
}

/// The shape of a service for the slot search.
pub fn shape(service: &ServicePart) -> ServiceShape {
    let d = &service.service.definition;
    ServiceShape {
        duration_minutes: d.duration_minutes,
        buffer_before_minutes: d.buffer_before_minutes,
        buffer_after_minutes: d.buffer_after_minutes,
    }
}

/// The studio's rules at `now`.
pub fn rules(studio: &StudioPart, now: Timestamp) -> Rules {
    let s = &studio.studio.profile.settings;
    Rules {
        time_zone: TimeZone::get(&studio.studio.profile.time_zone).unwrap_or(TimeZone::UTC),
        slot_step_minutes: s.slot_step_minutes,
        min_notice_minutes: s.min_notice_minutes,
        horizon_days: s.horizon_days,
        now,
    }
}

/// Everything the search needs for a range of dates.
pub struct Search {
    /// Studio part.
    pub studio: StudioPart,
    /// Service part.
    pub service: ServicePart,
    /// Candidates with their exceptions.
    pub professionals: Vec<ProfessionalPart>,
    /// Their counters, in the same order.
    pub occupancies: Vec<Occupancy>,
    /// The pool's counters and capacity, when the service needs a resource.
    pub pool: Option<(Occupancy, u32)>,
}

impl Search {
    /// The id of the `index`th professional searched.
    pub fn id_of(&self, index: u32) -> Option<UserId> {
        self.professionals.get(index as usize).map(|p| p.professional.user_id.clone())
    }

    /// Free starts in `from..=to`.
    pub fn run(&self, now: Timestamp, from: Date, to: Date) -> Vec<scheduling::Slot> {
        let calendars: Vec<Calendar<'_>> = self
            .professionals
            .iter()
            .zip(&self.occupancies)
            .map(|(p, occupancy)| Calendar {
                professional_id: &p.professional.user_id,
                schedule: &p.schedule,
                exceptions: &p.exceptions,
                occupancy,
                capacity: p.capacity(&self.studio.overbooking),
            })
            .collect();
        let pool = self.pool.as_ref().map(|(occupancy, capacity)| Pool { occupancy, capacity: *capacity });
        scheduling::free_slots(
            &rules(&self.studio, now),
            shape(&self.service),
            from,
            to,
            &calendars,
            pool.as_ref(),
        )
    }
}

/// Loads what a search of `from..=to` needs: refuses unknown or inactive studios (404) and
/// services, and professionals who do not perform the service (422).
pub async fn load(
    platform: &Platform,
    studio_id: &StudioId,
    service_id: &ServiceId,
    professional_id: Option<&UserId>,
    from: Date,
    to: Date,
) -> Result<Search, AppError> {
    let mut keys = context::studio_keys(studio_id);
    keys.extend(context::service_keys(studio_id, service_id));
    if let Some(p) = professional_id {
        keys.extend(context::professional_keys(studio_id, p));
    }
    let loaded = Loaded::fetch(platform, &keys).await?;
    let studio = StudioPart::from(&loaded, studio_id)?
        .filter(|s| s.studio.active)
        .ok_or(AppError::NotFound("studio"))?;
    let service = ServicePart::from(&loaded, studio_id, service_id)?
        .filter(|s| s.service.definition.active)
        .ok_or_else(|| Invalid::field("service_id", "is not a service this studio offers"))?;
    let performers = &service.service.definition.professional_ids;
    let candidates: Vec<UserId> = match professional_id {
        Some(p) if !performers.iter().any(|x| x == p) => {
            return Err(Invalid::field("professional_id", "does not perform this service").into());
        }
        Some(p) => vec![p.clone()],
        None => performers.clone(),
    };
    let loaded = if professional_id.is_some() {
        loaded
    } else {
        let keys: Vec<_> = candidates
            .iter()
            .flat_map(|p| context::professional_keys(studio_id, &UserId::from(&p)))
            .collect();
        Loaded::fetch(platform, &keys).await?
    };
    let mut parts = Vec::new();
    for p in &candidates {
        if let Some(part) = ProfessionalPart::from(&loaded, studio_id, &UserId::from(&p))?
            .filter(|p| p.professional.profile.active)
        {
            parts.push(part);
        }
    }
    let zone = TimeZone::get(&studio.studio.profile.time_zone).unwrap_or(TimeZone::UTC);
    let day_before = from.yesterday().unwrap_or(from);
    // Counters from a day before to a day after, so buffers and overnight ranges are covered.
    let after = to.checked_add(Span::new().days(2)).ok();
    let (Some(lo), Some(hi)) = (midnight(day_before, &zone), after.and_then(|d| midnight(d, &zone))) else {
        return Err(Invalid::field("to", "is out of range").into());
    };
    let professionals =
        try_join_all(parts.into_iter().map(|p| p.with_exceptions(platform, studio_id, day_before, to)))
            .await?;
    let occupancies = try_join_all(professionals.iter().map(|p| {
        let owner = Owner::Professional(p.professional.user_id.clone());
        async move { occupancy::load(platform, studio_id, &owner, lo, hi).await }
    }))
    .await?;
    let pool = match &service.service.definition.resource_type {
        Some(kind) => {
            let occupancy = occupancy::load(platform, studio_id, &Owner::Pool(kind.clone()), lo, hi).await?;
            Some((occupancy, studio.pool_capacity(kind)))
        }
        None => None,
    };
    Ok(Search { studio, service, professionals, occupancies, pool })
}

fn midnight(date: Date, zone: &TimeZone) -> Option<Timestamp> {
    zone.to_ambiguous_timestamp(date.to_datetime(jiff::civil::Time::midnight())).compatible().ok()
}

/// Free slots of a service in an active studio, for anyone.
pub async fn free(
    platform: &Platform,
    studio_id: &StudioId,
    query: &SlotQuery,
) -> Result<FreeSlots, AppError> {
    let mut errors = Invalid::default();
    atelier_domain::time::check_date(&mut errors, "from", query.from);
    atelier_domain::time::check_date(&mut errors, "to", query.to);
    let days = (query.to - query.from).get_days();
    errors.check(query.from <= query.to, "to", "must not be before from");
    errors.check(i64::from(days) < MAX_DAYS, "to", format!("the range is at most {MAX_DAYS} days"));
    errors.into_result()?;
    let search =
        load(platform, studio_id, &query.service_id, query.professional_id.as_ref(), query.from, query.to)
            .await?;
    let now = platform.clock.now();
    let zone = search.studio.studio.profile.time_zone.clone();
    let slots = search
        .run(now, query.from, query.to)
        .into_iter()
        .map(|s| SlotView {
            start: crate::local_time(s.start, &zone),
            start_utc: s.start,
            professionals: s.professionals.iter().filter_map(|i| search.id_of(*i)).collect(),
        })
        .collect();
    Ok(FreeSlots {
        time_zone: zone,
        service_id: query.service_id.clone(),
        duration_minutes: search.service.service.definition.duration_minutes,
        slots,
    })
}

/// Who could take a booking at one start, for "any professional".
#[derive(Debug, Clone, Default)]
pub struct FreeAt {
    /// Professionals free at the start, best first (the least busy around then).
    pub free: Vec<UserId>,
    /// Professionals who perform the service and work then, free or not.
    pub working: Vec<UserId>,
}

/// Professionals free at `start` for a service. A start the studio's rules refuse (off the
/// grid, past, inside the notice, beyond the horizon) is a 422 with the reason.
pub async fn free_at(
    platform: &Platform,
    studio_id: &StudioId,
    service_id: &ServiceId,
    start: Timestamp,
) -> Result<FreeAt, AppError> {
    // The studio's date of `start` is within a day of its UTC date, whatever the zone.
    let utc = start.to_zoned_datetime(TimeZone::UTC).date();
    let (from, to) = (utc.yesterday().unwrap_or(utc), utc.tomorrow().unwrap_or(utc));
    let search = load(platform, studio_id, service_id, None, from, to).await?;
    let now = platform.clock.now();
    let rules = rules(&search.studio, now);
    scheduling::check_rules(&rules, start).map_err(|r| refusal(r, "start"))?;
    let shape = shape(&search.service);
    let working = search
        .professionals
        .iter()
        .zip(&search.occupancies)
        .filter(|(p, _)| {
            // Working hours only: an empty agenda at capacity one answers "works then".
            let idle = Occupancy::default();
            let calendar = Calendar {
                professional_id: &p.professional.user_id,
                schedule: &p.schedule,
                exceptions: &p.exceptions,
                occupancy: &idle,
                capacity: 1,
            };
            scheduling::check_start(&rules, shape, &calendar, None, start).is_ok()
        })
        .map(|(p, _)| p.professional.user_id.clone())
        .collect();
    let zone = rules.time_zone.clone();
    let date = start.to_zoned_datetime(zone).date();
    let slot = search.run(now, date, date).into_iter().find(|s| s.start == start);
    let mut free: Vec<UserId> =
        slot.map(|s| s.professionals.iter().filter_map(|i| search.id_of(*i)).collect()).unwrap_or_default();
    let busy = |id: &UserId| {
        search
            .professionals
            .iter()
            .position(|p| p.professional.user_id == id)
            .and_then(|i| search.occupancies.get(i))
            .map_or(0, |o| o.0.len())
    };
    free.sort_by_key(busy);
    Ok(FreeAt { free, working })
}

/// The 422 for a refused start (a 409 when the time is taken).
pub fn refusal(r: Refusal, field: &str) -> AppError {
    match r {
        Refusal::ProfessionalBusy => AppError::Conflict(crate::conflicts::SLOT_TAKEN, r.to_string()),
        Refusal::NoResource => AppError::Conflict(crate::conflicts::RESOURCE_TAKEN, r.to_string()),
        _ => Invalid::field(field, r.to_string()).into(),
    }
}
