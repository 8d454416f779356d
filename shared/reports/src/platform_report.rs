//! The platform report for admins: studios with bookings, bookings and completed value by
//! currency over a period, read from the tally index (`TALLY#<date>`, one query per day), never
//! from a Scan. Dates are each studio's own civil dates.

use std::collections::{BTreeMap, BTreeSet};

use atelier_bookings::tally::{self, Scope};
use atelier_platform::store::{Index, Query};
use atelier_platform::{AppError, Platform};
use serde::Serialize;
use utoipa::ToSchema;

use crate::breakdown::Amount;
use crate::period::{Period, PeriodParams};
use crate::tallies;

/// Most tally items one day of the platform report reads (studios with bookings that day).
const MAX_STUDIOS_PER_DAY: usize = 50_000;

/// The platform's period.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlatformReport {
    /// The period.
    pub period: Period,
    /// Studios with at least one booking starting in the period.
    pub active_studios: usize,
    /// Bookings by status, every studio together.
    pub by_status: BTreeMap<String, i64>,
    /// Bookings in all.
    pub bookings: i64,
    /// Booked minutes (not cancelled).
    pub minutes: i64,
    /// Bookings that were a client's first at a studio.
    pub new_clients: i64,
    /// Value of completed bookings, per currency.
    pub completed_value: Vec<Amount>,
}

/// The report for the period `params` name (today: UTC's date).
pub async fn report(platform: &Platform, params: &PeriodParams) -> Result<PlatformReport, AppError> {
    let period = Period::resolve(params, crate::dashboard::today(platform, "UTC"))?;
    let mut studios = BTreeSet::new();
    let mut all = Vec::new();
    for date in period.dates() {
        let query = Query::partition(tally::platform_day(&date.to_string())).on(Index::Gsi1);
        for item in platform.store.query_all(query, MAX_STUDIOS_PER_DAY).await? {
            // A day whose bookings all moved away leaves an item of zeros: not an active studio.
            let booked =
                tallies::sum(std::slice::from_ref(&item)).get(&Scope::Studio).is_some_and(|c| c.total() > 0);
            if let (true, Ok(studio)) = (booked, item.string("studio_id")) {
                studios.insert(studio.to_owned());
            }
            all.push(item);
        }
    }
    let counts = tallies::sum(&all).remove(&Scope::Studio).unwrap_or_default();
    Ok(PlatformReport {
        period,
        active_studios: studios.len(),
        bookings: counts.total(),
        by_status: counts.by_status,
        minutes: counts.minutes,
        new_clients: counts.new_clients,
        completed_value: counts
            .completed_value
            .into_iter()
            .map(|(currency, amount_minor)| Amount { currency, amount_minor })
            .collect(),
    })
}
