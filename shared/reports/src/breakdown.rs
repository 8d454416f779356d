//! Reports by professional, by service and for one client over a period. The first two read the
//! period's tallies (one query); a client's reads their bookings (their pointer list and one
//! batch read), since a client has a handful of bookings, not thousands.

use std::collections::BTreeMap;

use atelier_bookings::Booking;
use atelier_bookings::tally::Scope;
use atelier_domain::bookings::BookingStatus;
use atelier_domain::ids::{ClientId, StudioId};
use atelier_platform::store::{Item, Key, Query};
use atelier_platform::{AppError, Platform};
use atelier_studios::{catalog, team};
use serde::Serialize;
use utoipa::ToSchema;

use crate::dashboard::today;
use crate::period::{Period, PeriodParams};
use crate::tallies::{self, Counts};

/// Most bookings one client report reads.
const MAX_CLIENT_BOOKINGS: usize = 2_000;

/// Money in minor units for one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Amount {
    /// ISO 4217 code.
    pub currency: String,
    /// Minor units.
    pub amount_minor: i64,
}

fn amounts(map: &BTreeMap<String, i64>) -> Vec<Amount> {
    map.iter().map(|(c, a)| Amount { currency: c.clone(), amount_minor: *a }).collect()
}

/// One professional's period.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProfessionalReport {
    /// The professional (user id).
    pub professional_id: String,
    /// Their display name.
    pub name: String,
    /// Bookings by status.
    pub by_status: BTreeMap<String, i64>,
    /// Booked minutes (not cancelled).
    pub minutes: i64,
    /// Minutes they work in the period.
    pub available_minutes: i64,
    /// Value of their completed bookings, per currency.
    pub completed_value: Vec<Amount>,
    /// Their commission rate, basis points.
    pub commission_bps: u32,
    /// Their commission on the completed value, per currency (rounded half up).
    pub commission: Vec<Amount>,
}

/// One service's period.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ServiceReport {
    /// The service.
    pub service_id: String,
    /// Its name.
    pub name: String,
    /// Bookings by status.
    pub by_status: BTreeMap<String, i64>,
    /// Booked minutes (not cancelled).
    pub minutes: i64,
    /// Bookings that were the client's first.
    pub new_clients: i64,
    /// Value of completed bookings, per currency.
    pub completed_value: Vec<Amount>,
}

/// One client's period.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClientReport {
    /// The client.
    #[schema(value_type = String)]
    pub client_id: ClientId,
    /// Their name.
    pub name: String,
    /// The period.
    pub period: Period,
    /// Their bookings starting in the period, by status.
    pub by_status: BTreeMap<String, i64>,
    /// Booked minutes (not cancelled).
    pub minutes: i64,
    /// Value of their completed bookings, per currency.
    pub completed_value: Vec<Amount>,
    /// Start of their first booking at the studio (any period).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub first_visit: Option<jiff::Timestamp>,
    /// Start of their last completed booking (any period).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_completed: Option<jiff::Timestamp>,
}

async fn period_of(
    platform: &Platform,
    studio_id: &StudioId,
    params: &PeriodParams,
) -> Result<Period, AppError> {
    let studio = atelier_studios::get(platform, studio_id).await?;
    Ok(Period::resolve(params, today(platform, &studio.profile.time_zone))?)
}

/// Every professional of the studio with their period (those with nothing to show too).
pub async fn professionals(
    platform: &Platform,
    studio_id: &StudioId,
    params: &PeriodParams,
) -> Result<(Period, Vec<ProfessionalReport>), AppError> {
    let period = period_of(platform, studio_id, params).await?;
    let sums = tallies::sum(&tallies::read(platform, studio_id, &period).await?.tallies);
    let mut out = Vec::new();
    for p in team::professionals(platform, studio_id).await? {
        let counts = sums.get(&Scope::Professional(p.user_id.to_string())).cloned().unwrap_or_default();
        let rate = p.profile.commission_bps;
        let commission: BTreeMap<String, i64> = counts
            .completed_value
            .iter()
            .map(|(c, v)| (c.clone(), atelier_domain::money::apply_bps(*v, rate)))
            .collect();
        out.push(ProfessionalReport {
            professional_id: p.user_id.to_string(),
            name: p.profile.display_name.clone(),
            available_minutes: if p.profile.active {
                crate::dashboard::working_minutes(platform, studio_id, &p.user_id, &period).await?
            } else {
                0
            },
            by_status: counts.by_status.clone(),
            minutes: counts.minutes,
            completed_value: amounts(&counts.completed_value),
            commission_bps: rate,
            commission: amounts(&commission),
        });
    }
    Ok((period, out))
}

/// Every service of the studio with its period.
pub async fn services(
    platform: &Platform,
    studio_id: &StudioId,
    params: &PeriodParams,
) -> Result<(Period, Vec<ServiceReport>), AppError> {
    let period = period_of(platform, studio_id, params).await?;
    let sums = tallies::sum(&tallies::read(platform, studio_id, &period).await?.tallies);
    Ok((
        period,
        catalog::all_services(platform, studio_id)
            .await?
            .into_iter()
            .map(|s| {
                let counts: Counts = sums.get(&Scope::Service(s.id.to_string())).cloned().unwrap_or_default();
                ServiceReport {
                    service_id: s.id.to_string(),
                    name: s.definition.name,
                    by_status: counts.by_status,
                    minutes: counts.minutes,
                    new_clients: counts.new_clients,
                    completed_value: amounts(&counts.completed_value),
                }
            })
            .collect(),
    ))
}

/// Every booking of a client at the studio (any status), in start order.
pub async fn client_bookings(
    platform: &Platform,
    studio_id: &StudioId,
    client_id: &ClientId,
) -> Result<Vec<Booking>, AppError> {
    let query = Query::partition(atelier_bookings::client_bookings(studio_id, client_id));
    let pointers = platform.store.query_all(query, MAX_CLIENT_BOOKINGS).await?;
    let keys: Vec<Key> = pointers
        .iter()
        .map(|i| i.string("booking_id").map(|id| atelier_bookings::booking_key(studio_id, &id.into())))
        .collect::<Result<_, _>>()?;
    let mut bookings: Vec<Booking> = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(100) {
        for item in platform.store.get_many(chunk).await? {
            bookings.push(Item::to_record(&item)?);
        }
    }
    bookings.sort_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)));
    Ok(bookings)
}

/// A client's period.
pub async fn client(
    platform: &Platform,
    studio_id: &StudioId,
    client_id: &ClientId,
    params: &PeriodParams,
) -> Result<ClientReport, AppError> {
    let period = period_of(platform, studio_id, params).await?;
    let record = platform
        .store
        .get(&atelier_studios::clients::client_key(studio_id, client_id))
        .await?
        .ok_or(AppError::NotFound("client"))?;
    let record: atelier_studios::clients::Client = record.to_record()?;
    let bookings = client_bookings(platform, studio_id, client_id).await?;
    let mut sum = atelier_bookings::tally::Contribution::new();
    let (from, to) = (period.from.to_string(), period.to.to_string());
    for b in &bookings {
        let date = atelier_bookings::tally::local_date(b);
        if from <= date && date <= to {
            atelier_bookings::tally::contribute(&mut sum, b, 1);
        }
    }
    let items: Vec<Item> = sum
        .values()
        .map(|amounts| {
            amounts.iter().fold(Item::new(&Key::new("", "")), |item, (name, v)| item.with(name, *v))
        })
        .collect();
    let counts = tallies::sum(&items).remove(&Scope::Studio).unwrap_or_default();
    Ok(ClientReport {
        client_id: client_id.clone(),
        name: record.details.name,
        period,
        by_status: counts.by_status,
        minutes: counts.minutes,
        completed_value: amounts(&counts.completed_value),
        first_visit: bookings.iter().min_by_key(|b| (b.created_at, b.start)).map(|b| b.start),
        last_completed: bookings
            .iter()
            .filter(|b| b.status == BookingStatus::Completed)
            .map(|b| b.start)
            .max(),
    })
}
