//! Calendar feeds: a professional's agenda in a studio, or a client's bookings everywhere, as
//! iCalendar at a secret URL a calendar app subscribes to. The URL's token is stored only as a
//! hash; issuing a new one revokes the old.

use atelier_domain::bookings::BookingStatus;
use atelier_domain::calendar::{self, CalendarEvent, EventStatus};
use atelier_domain::ids::{BookingId, StudioId, UserId};
use base64::Engine;
use jiff::SignedDuration;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{Booking, booking_key, index_sort, professional_bookings};
use atelier_platform::store::{Condition, Index, Item, Key, Query, SortKey, StoreError, WriteOp};
use atelier_platform::{AppError, Platform};
use atelier_studios::{self, Studio, studio_item};

/// How far back and ahead a feed reaches.
const PAST_DAYS: i64 = 30;
const AHEAD_DAYS: i64 = 400;

/// Whose feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FeedSubject {
    /// A professional's agenda in a studio.
    Professional {
        /// The studio.
        studio_id: StudioId,
        /// The professional.
        user_id: UserId,
    },
    /// A client's own bookings in every studio.
    Client {
        /// The account.
        user_id: UserId,
    },
}

impl FeedSubject {
    fn current_key(&self) -> Key {
        match self {
            FeedSubject::Professional { studio_id, user_id } => {
                studio_item(studio_id, format!("CALFEED#PRO#{user_id}"))
            }
            FeedSubject::Client { user_id } => Key::new(format!("USER#{user_id}"), "CALFEED"),
        }
    }
}

fn token_key(token_hash: &str) -> Key {
    Key::new(format!("FEED#{token_hash}"), "FEED")
}

/// A feed's address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FeedLink {
    /// Path to subscribe to (prefix it with the API's base URL); keep it secret.
    pub path: String,
}

/// Issues a new feed URL for `subject`, revoking the previous one.
pub async fn issue(platform: &Platform, subject: FeedSubject) -> Result<FeedLink, AppError> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| AppError::failed("drawing a feed secret", e))?;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
    let hash = atelier_platform::sha256_hex(token.as_bytes());
    let current = platform.store.get(&subject.current_key()).await?;
    let mut ops = vec![
        WriteOp::create(Item::from_record(&token_key(&hash), &subject)?),
        WriteOp::put(Item::new(&subject.current_key()).with("token_hash", hash.as_str())),
    ];
    if let Some(old) = current.as_ref().and_then(|i| i.string("token_hash").ok()) {
        ops.push(WriteOp::delete(token_key(old)));
        // Two concurrent rotations: only one may replace what was read.
        ops[1] = ops[1].clone().when(Condition::eq("token_hash", old));
    } else {
        ops[1] = ops[1].clone().when(Condition::NotExists);
    }
    match platform.store.transact(ops).await {
        Ok(()) => Ok(FeedLink { path: format!("/v1/calendar/{token}.ics") }),
        Err(StoreError::ConditionFailed { .. }) => Err(AppError::Conflict(
            atelier_platform::error::CHANGED_MEANWHILE,
            "the feed was renewed meanwhile; try again".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Revokes `subject`'s feed URL.
pub async fn revoke(platform: &Platform, subject: FeedSubject) -> Result<(), AppError> {
    let Some(current) = platform.store.get(&subject.current_key()).await? else { return Ok(()) };
    let hash = current.string("token_hash")?.to_owned();
    platform
        .store
        .transact(vec![
            WriteOp::delete(token_key(&hash)),
            WriteOp::delete(subject.current_key()).when(Condition::eq("token_hash", hash.as_str())),
        ])
        .await
        .map_err(|e| match e {
            StoreError::ConditionFailed { .. } => AppError::Conflict(
                atelier_platform::error::CHANGED_MEANWHILE,
                "the feed was renewed meanwhile".into(),
            ),
            other => other.into(),
        })
}

fn event_of(b: &Booking, studio: Option<&Studio>, for_professional: bool) -> CalendarEvent {
    let status = match b.status {
        BookingStatus::Pending => EventStatus::Tentative,
        BookingStatus::Confirmed | BookingStatus::Completed => EventStatus::Confirmed,
        BookingStatus::Cancelled | BookingStatus::NoShow => EventStatus::Cancelled,
    };
    let summary = if for_professional {
        format!("{} — {}", b.service_name, b.client_name)
    } else {
        let place = studio.map(|s| s.profile.name.as_str()).unwrap_or("Atelier");
        format!("{} with {} at {place}", b.service_name, b.professional_name)
    };
    let location = studio
        .map(|s| {
            let a = &s.profile.address;
            [s.profile.name.as_str(), a.line1.as_str(), a.city.as_str()]
                .iter()
                .filter(|p| !p.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    CalendarEvent {
        uid: format!("{}@atelier", b.id),
        start: b.start,
        end: b.end,
        summary,
        description: if for_professional { b.notes.clone() } else { String::new() },
        location,
        status,
        sequence: b.version,
        time_zone: b.time_zone.clone(),
        updated: b.updated_at,
    }
}

/// The feed behind a token, rendered; unknown or revoked tokens are a 404.
pub async fn render(platform: &Platform, token: &str) -> Result<String, AppError> {
    let hash = atelier_platform::sha256_hex(token.as_bytes());
    let subject: FeedSubject = platform
        .store
        .get(&token_key(&hash))
        .await?
        .ok_or(AppError::NotFound("calendar feed"))?
        .to_record()?;
    let now = platform.clock.now();
    let (from, to) =
        (now - SignedDuration::from_hours(24 * PAST_DAYS), now + SignedDuration::from_hours(24 * AHEAD_DAYS));
    match subject {
        FeedSubject::Professional { studio_id, user_id } => {
            let studio = atelier_studios::get(platform, &studio_id).await?;
            let query = Query::partition(professional_bookings(&studio_id, &user_id))
                .on(Index::Gsi2)
                .sort(SortKey::Between(index_sort(from, ""), index_sort(to, "~")));
            let items = platform.store.query_all(query, 5_000).await?;
            let bookings: Vec<Booking> = items.iter().map(Item::to_record).collect::<Result<_, _>>()?;
            let events: Vec<CalendarEvent> =
                bookings.iter().map(|b| event_of(b, Some(&studio), true)).collect();
            Ok(calendar::render(
                &format!("{} — agenda", studio.profile.name),
                &studio.profile.time_zone,
                &events,
                now,
            ))
        }
        FeedSubject::Client { user_id } => {
            let query = Query::partition(format!("USER#{user_id}")).sort(SortKey::Between(
                format!("BOOKING#{}", index_sort(from, "")),
                format!("BOOKING#{}", index_sort(to, "~")),
            ));
            let pointers = platform.store.query_all(query, 5_000).await?;
            let keys: Vec<Key> = pointers
                .iter()
                .map(|p| {
                    Ok(booking_key(
                        &StudioId::new(p.string("studio_id")?),
                        &BookingId::new(p.string("booking_id")?),
                    ))
                })
                .collect::<Result<_, StoreError>>()?;
            let mut bookings: Vec<Booking> = platform
                .store
                .get_many(&keys)
                .await?
                .iter()
                .map(Item::to_record)
                .collect::<Result<_, _>>()?;
            bookings.sort_by_key(|b| b.start);
            let mut studio_keys: Vec<Key> =
                bookings.iter().map(|b| atelier_studios::profile_key(&b.studio_id)).collect();
            studio_keys.dedup();
            let studios: Vec<Studio> = platform
                .store
                .get_many(&studio_keys)
                .await?
                .iter()
                .map(Item::to_record)
                .collect::<Result<_, _>>()?;
            let events: Vec<CalendarEvent> = bookings
                .iter()
                .map(|b| event_of(b, studios.iter().find(|s| s.id == b.studio_id), false))
                .collect();
            let zone = events.first().map_or("UTC", |e| e.time_zone.as_str()).to_owned();
            Ok(calendar::render("My appointments", &zone, &events, now))
        }
    }
}
