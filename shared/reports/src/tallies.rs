//! Reading a period's daily counters: one query over `DAY#<from>#` to `DAY#<to>#~` of the
//! studio's partition returns its booking tallies, money counters and stock counters.

use std::collections::BTreeMap;

use atelier_bookings::tally::{self, Scope, field};
use atelier_domain::ids::StudioId;
use atelier_platform::store::{Item, Query, SortKey};
use atelier_platform::{AppError, Platform};
use atelier_studios::studio_partition;
use serde::Serialize;
use utoipa::ToSchema;

use crate::period::Period;

/// Most counter items one report reads (a year of a studio with 40 counters a day).
const MAX_ITEMS: usize = 20_000;

/// What bookings came to, for the studio or one professional or service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Counts {
    /// Bookings by status (`pending`, `confirmed`, `completed`, `cancelled`, `no_show`).
    pub by_status: BTreeMap<String, i64>,
    /// Booked minutes of bookings not cancelled.
    pub minutes: i64,
    /// Bookings that were the client's first at the studio.
    pub new_clients: i64,
    /// Price of completed bookings, in minor units per currency code.
    pub completed_value: BTreeMap<String, i64>,
}

impl Counts {
    /// Bookings in any status.
    pub fn total(&self) -> i64 {
        self.by_status.values().sum()
    }

    /// Bookings with `status`.
    pub fn status(&self, status: &str) -> i64 {
        self.by_status.get(status).copied().unwrap_or(0)
    }

    fn add(&mut self, count: &str, amount: i64) {
        if count == field::MINUTES {
            self.minutes += amount;
        } else if count == field::NEW_CLIENTS {
            self.new_clients += amount;
        } else if let Some(currency) = count.strip_prefix(field::VALUE_PREFIX) {
            *self.completed_value.entry(currency.to_owned()).or_default() += amount;
        } else {
            *self.by_status.entry(count.to_owned()).or_default() += amount;
        }
    }

    /// Leaves out zero entries (a status counted up and down again).
    fn tidy(mut self) -> Counts {
        self.by_status.retain(|_, v| *v != 0);
        self.completed_value.retain(|_, v| *v != 0);
        self
    }
}

/// A period's counter items, by kind.
#[derive(Debug, Default)]
pub struct DayItems {
    /// Booking tallies (one per day with bookings).
    pub tallies: Vec<Item>,
    /// Payments' money counters (one per day and currency).
    pub money: Vec<Item>,
    /// Inventory's stock counters (one per day).
    pub stock: Vec<Item>,
    /// Items read.
    pub read: usize,
}

/// Reads the period's counter items in one query (paged by the store).
pub async fn read(platform: &Platform, studio_id: &StudioId, period: &Period) -> Result<DayItems, AppError> {
    let query = Query::partition(studio_partition(studio_id))
        .sort(SortKey::Between(tally::day_prefix(&period.from.to_string()), format!("DAY#{}#~", period.to)));
    let items = platform.store.query_all(query, MAX_ITEMS).await?;
    let mut out = DayItems { read: items.len(), ..DayItems::default() };
    for item in items {
        let sort = item.key().map(|k| k.sk).unwrap_or_default();
        if sort.ends_with("#BOOKINGS") {
            out.tallies.push(item);
        } else if sort.contains("#MONEY#") {
            out.money.push(item);
        } else if sort.ends_with("#STOCK") {
            out.stock.push(item);
        }
    }
    Ok(out)
}

/// Sums tally items by scope.
pub fn sum(tallies: &[Item]) -> BTreeMap<Scope, Counts> {
    let mut out: BTreeMap<Scope, Counts> = BTreeMap::new();
    for item in tallies {
        for (name, value) in item.iter() {
            if let (Some((scope, count)), Some(n)) = (tally::parse_attribute(name), value.as_i64()) {
                out.entry(scope).or_default().add(count, n);
            }
        }
    }
    out.into_iter().map(|(k, v)| (k, v.tidy())).collect()
}

/// Adds a number attribute of each item, by the item's `currency`.
pub fn by_currency(items: &[Item], name: &str) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for item in items {
        let currency = item.get("currency").and_then(|v| v.as_str()).unwrap_or_default().to_owned();
        let n = item.get(name).and_then(|v| v.as_i64()).unwrap_or(0);
        if n != 0 {
            *out.entry(currency).or_default() += n;
        }
    }
    out
}

/// Adds a number attribute of each item.
pub fn total(items: &[Item], name: &str) -> i64 {
    items.iter().filter_map(|i| i.get(name).and_then(|v| v.as_i64())).sum()
}
