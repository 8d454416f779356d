//! Free slots: reads what the domain's `free_slots` needs (one batch, a second for the candidates
//! when no professional is named, then per professional one exceptions query and one counters
//! query, plus one for the resource pool: a constant number whatever the range) and runs it. The answer carries an entity tag computed from what was read,
//! so a client or cache that holds it already gets a 304 for the reads alone.

use atelier_domain::Invalid;
use atelier_domain::ids::{ServiceId, StudioId, UserId};
use atelier_domain::scheduling::{self, Calendar, Occupancy, Pool, Refusal, Rules, ServiceShape};
use futures_util::future::try_join_all;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::{LazyLock, Mutex};

use bytes::Bytes;
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

/// How long a client or cache may keep an answer: it is stored, but checked again (a 304 costs the
/// reads only) before each use, so no one is shown slots older than their last request. Whatever
/// it shows, booking decides: the booking transaction claims the time or answers 409.
pub const CACHE_CONTROL: &str = "public, no-cache";

/// The source that decides an answer (the search, the week and exceptions, the response, its ids
/// and local times) and the dependencies (the workspace's features, the locked versions, the
/// bundled zone database with them): any change to them, even a comment, changes every tag, so a
/// deploy never revalidates an answer the new code would compute differently.
static SOURCE: LazyLock<[u8; 32]> = LazyLock::new(|| {
    let mut digest = Sha256::new();
    for source in [
        include_str!("slots.rs"),
        include_str!("lib.rs"),
        include_str!("../../domain/src/scheduling.rs"),
        include_str!("../../domain/src/availability.rs"),
        include_str!("../../domain/src/ids.rs"),
        include_str!("../../../Cargo.toml"),
        include_str!("../../../Cargo.lock"),
    ] {
        digest.update(source.as_bytes());
        digest.update([0]);
    }
    digest.finalize().into()
});

/// `Hash` into SHA-256: a tag shared by every server, unlike `DefaultHasher`'s.
struct TagHasher(Sha256);

impl Hasher for TagHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes(digest[..8].try_into().unwrap_or_default())
    }
}

impl Search {
    /// The entity tag of the answer to `query` at `now`: a digest of everything the answer is
    /// computed from — the studio, the zone and rules, the service's shape, each candidate's id, week,
    /// exceptions, counters and capacity, the pool, the query, what of `now` a search depends on
    /// (`Rules::clock_key`) and the code ([`SOURCE`]). Equal tags, equal answers; any booking,
    /// cancellation or schedule change in the range changes what is read, so the tag.
    pub fn etag(&self, studio_id: &StudioId, now: Timestamp, query: &SlotQuery) -> String {
        let mut h = TagHasher(Sha256::new());
        h.write(SOURCE.as_slice());
        (studio_id, &query.service_id, &query.professional_id, query.from, query.to).hash(&mut h);
        let rules = rules(&self.studio, now);
        let zone = &self.studio.studio.profile.time_zone;
        (zone, rules.slot_step_minutes, rules.min_notice_minutes, rules.horizon_days).hash(&mut h);
        rules.clock_key(query.from, query.to).hash(&mut h);
        shape(&self.service).hash(&mut h);
        self.professionals.len().hash(&mut h);
        for (p, occupancy) in self.professionals.iter().zip(&self.occupancies) {
            (&p.professional.user_id, &p.schedule, &p.exceptions, occupancy).hash(&mut h);
            p.capacity(&self.studio.overbooking).hash(&mut h);
        }
        self.pool.hash(&mut h);
        let digest = h.0.finalize();
        let mut tag = String::with_capacity(32);
        for b in &digest[..16] {
            tag.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            tag.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
        }
        tag
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
    let (search, now) = search_for(platform, studio_id, query).await?;
    Ok(answer(&search, now, query))
}

/// Checks the query and loads its search, with the instant it is for.
async fn search_for(
    platform: &Platform,
    studio_id: &StudioId,
    query: &SlotQuery,
) -> Result<(Search, Timestamp), AppError> {
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
    Ok((search, platform.clock.now()))
}

/// Runs the search and shapes its answer.
fn answer(search: &Search, now: Timestamp, query: &SlotQuery) -> FreeSlots {
    let zone = search.studio.studio.profile.time_zone.clone();
    let tz = TimeZone::get(&zone).unwrap_or(TimeZone::UTC);
    let slots = search
        .run(now, query.from, query.to)
        .into_iter()
        .map(|s| SlotView {
            start: crate::local_time_in(s.start, &tz),
            start_utc: s.start,
            professionals: s.professionals.iter().filter_map(|i| search.id_of(*i)).collect(),
        })
        .collect();
    FreeSlots {
        time_zone: zone,
        service_id: query.service_id.clone(),
        duration_minutes: search.service.service.definition.duration_minutes,
        slots,
    }
}

/// An answer to a slot query as sent: its tag, and its JSON unless the caller holds that tag.
#[derive(Debug, Clone)]
pub struct EncodedAnswer {
    /// The entity tag (see [`Search::etag`]).
    pub etag: String,
    /// The JSON of [`FreeSlots`]; `None` when the caller already holds it.
    pub json: Option<Bytes>,
}

/// Free slots as JSON, unless `held` says the caller has the answer already. Either way the
/// reads are made (the tag is computed from them); the search and the encoding are skipped for
/// a held answer, and for one this process encoded recently ([`Recent`]).
pub async fn free_encoded(
    platform: &Platform,
    studio_id: &StudioId,
    query: &SlotQuery,
    held: impl Fn(&str) -> bool,
) -> Result<EncodedAnswer, AppError> {
    let (search, now) = search_for(platform, studio_id, query).await?;
    let etag = search.etag(studio_id, now, query);
    if held(&etag) {
        return Ok(EncodedAnswer { etag, json: None });
    }
    if let Some(json) = RECENT.get(&etag) {
        return Ok(EncodedAnswer { etag, json: Some(json) });
    }
    let slots = answer(&search, now, query);
    // About 120 bytes a slot: one allocation for the whole answer.
    let mut json = Vec::with_capacity(128 + 128 * slots.slots.len());
    serde_json::to_writer(&mut json, &slots).map_err(|e| AppError::failed("encoding free slots", e))?;
    let json = Bytes::from(json);
    RECENT.put(&etag, json.clone());
    Ok(EncodedAnswer { etag, json: Some(json) })
}

/// Answers this process encoded lately, by tag. Equal tags are equal answers (the tag digests
/// everything an answer is computed from, the studio and the code included), so a warm server
/// sends a popular studio's slots again without searching or encoding until something they
/// depend on changes — and then the tag changes (an entry found again is the same answer again:
/// its inputs came back). Bounded in entries and bytes; the oldest go first.
struct Recent {
    entries: Mutex<RecentEntries>,
}

/// What [`Recent`] holds.
#[derive(Default)]
struct RecentEntries {
    by_tag: HashMap<String, Bytes>,
    oldest_first: VecDeque<String>,
    bytes: usize,
}

/// At most this many answers…
const RECENT_ENTRIES: usize = 256;
/// …and this many bytes of them.
const RECENT_BYTES: usize = 16 << 20;

static RECENT: LazyLock<Recent> = LazyLock::new(|| Recent { entries: Mutex::default() });

impl Recent {
    fn get(&self, etag: &str) -> Option<Bytes> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.by_tag.get(etag).cloned()
    }

    fn put(&self, etag: &str, json: Bytes) {
        if json.len() > RECENT_BYTES / 4 {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.by_tag.contains_key(etag) {
            return;
        }
        entries.bytes += json.len();
        entries.by_tag.insert(etag.to_owned(), json);
        entries.oldest_first.push_back(etag.to_owned());
        while entries.by_tag.len() > RECENT_ENTRIES || entries.bytes > RECENT_BYTES {
            let Some(oldest) = entries.oldest_first.pop_front() else { break };
            if let Some(gone) = entries.by_tag.remove(&oldest) {
                entries.bytes -= gone.len();
            }
        }
    }
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
