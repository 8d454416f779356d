//! The studio dashboard: bookings, occupancy, money, clients, rankings, stock and projects for
//! a period, from the period's counters (one query), the professionals' hours (three reads each),
//! the stock value (one read) and the projects' months (one batch read).

use std::collections::BTreeMap;

use atelier_bookings::tally::Scope;
use atelier_domain::bookings::BookingStatus;
use atelier_domain::ids::{StudioId, UserId};
use atelier_domain::scheduling::working_ranges;
use atelier_platform::{AppError, Platform};
use atelier_studios::{availability, catalog, team};
use serde::Serialize;
use utoipa::ToSchema;

use crate::period::{Period, PeriodParams};
use crate::tallies::{self, Counts};

/// How many entries the rankings keep.
pub const TOP: usize = 5;

/// Bookings of the period by status, with the rates owners watch.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BookingFigures {
    /// All bookings starting in the period.
    pub total: i64,
    /// By status.
    pub by_status: BTreeMap<String, i64>,
    /// Cancelled out of all, in basis points.
    pub cancellation_rate_bps: i64,
    /// No-shows out of those that came due (completed and no-show), in basis points.
    pub no_show_rate_bps: i64,
}

/// Booked time against working time.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Occupancy {
    /// Minutes of bookings not cancelled.
    pub booked_minutes: i64,
    /// Minutes the active professionals work in the period (weekly hours with time off and
    /// extra openings).
    pub available_minutes: i64,
    /// Booked out of available, in basis points (0 without working time).
    pub rate_bps: i64,
}

/// Money of the period in one currency.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MoneyFigures {
    /// ISO 4217 code.
    pub currency: String,
    /// Price of the bookings completed (what was billed for services).
    pub completed_value_minor: i64,
    /// Deposits received.
    pub deposits_minor: i64,
    /// Balances received.
    pub balances_minor: i64,
    /// Refunded.
    pub refunds_minor: i64,
    /// Cancellation fees kept out of what was paid.
    pub fees_kept_minor: i64,
    /// Received less refunded.
    pub net_received_minor: i64,
}

/// New and returning clients.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClientFigures {
    /// Clients whose first booking at the studio starts in the period.
    pub new_clients: i64,
    /// Bookings of the period by clients who had booked before.
    pub returning_bookings: i64,
}

/// A service or professional in a ranking.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Ranked {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Bookings not cancelled.
    pub bookings: i64,
    /// Completed bookings.
    pub completed: i64,
    /// Booked minutes.
    pub minutes: i64,
    /// Completed value in the studio's currency, minor units.
    pub completed_value_minor: i64,
}

/// Stock now and its movements in the period.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StockFigures {
    /// Value on hand now (moving average cost), minor units.
    pub value_minor: i64,
    /// Products at or below their minimum now.
    pub low_products: i64,
    /// Movements recorded in the period.
    pub movements: i64,
    /// Cost of what services used in the period.
    pub service_cost_minor: i64,
    /// Cost of what was sold in the period.
    pub sold_cost_minor: i64,
    /// Revenue of sales in the period.
    pub sales_minor: i64,
}

/// Projects delivered in a month touching the period.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProjectMonth {
    /// `YYYY-MM`.
    pub month: String,
    /// Projects delivered.
    pub delivered: i64,
    /// Their revenue, minor units.
    pub revenue_minor: i64,
    /// Their profit (revenue less crew fees, expenses and product cost), minor units.
    pub profit_minor: i64,
}

/// The dashboard.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = StudioDashboard)]
pub struct Dashboard {
    /// The studio.
    #[schema(value_type = String)]
    pub studio_id: StudioId,
    /// Its zone: every date is a civil date there.
    pub time_zone: String,
    /// The studio's currency (rankings and stock are in it).
    pub currency: String,
    /// The period.
    pub period: Period,
    /// Bookings.
    pub bookings: BookingFigures,
    /// Occupancy.
    pub occupancy: Occupancy,
    /// Money, per currency.
    pub money: Vec<MoneyFigures>,
    /// Clients.
    pub clients: ClientFigures,
    /// Services with the most completed value (then bookings), at most five.
    pub top_services: Vec<Ranked>,
    /// Professionals with the most completed value (then bookings), at most five.
    pub top_professionals: Vec<Ranked>,
    /// Stock.
    pub stock: StockFigures,
    /// Projects, by month (months touching the period).
    pub projects: Vec<ProjectMonth>,
    /// Counter items read (the cost of the request grows with days, not with bookings).
    pub counters_read: usize,
}

/// `part` out of `whole` in basis points (0 when `whole` is 0), rounded half up.
pub fn rate_bps(part: i64, whole: i64) -> i64 {
    if whole <= 0 { 0 } else { (part * 20_000 + whole) / (2 * whole) }
}

/// The studio's date today.
pub fn today(platform: &Platform, zone: &str) -> jiff::civil::Date {
    let tz = jiff::tz::TimeZone::get(zone).unwrap_or(jiff::tz::TimeZone::UTC);
    platform.clock.now().to_zoned_datetime(tz).date()
}

/// The dashboard of `studio_id` for the period `params` name.
pub async fn dashboard(
    platform: &Platform,
    studio_id: &StudioId,
    params: &PeriodParams,
) -> Result<Dashboard, AppError> {
    let studio = atelier_studios::get(platform, studio_id).await?;
    let zone = studio.profile.time_zone.clone();
    let currency = studio.profile.currency.clone();
    let period = Period::resolve(params, today(platform, &zone))?;
    let items = tallies::read(platform, studio_id, &period).await?;
    let sums = tallies::sum(&items.tallies);
    let all = sums.get(&Scope::Studio).cloned().unwrap_or_default();

    let total = all.total();
    let (cancelled, completed, no_show) = (
        all.status(BookingStatus::Cancelled.as_str()),
        all.status(BookingStatus::Completed.as_str()),
        all.status(BookingStatus::NoShow.as_str()),
    );
    let professionals = team::professionals(platform, studio_id).await?;
    let available = available_minutes(platform, studio_id, &professionals, &period).await?;

    let mut currencies: Vec<String> = all.completed_value.keys().cloned().collect();
    for item in &items.money {
        if let Some(c) = item.get("currency").and_then(|v| v.as_str()) {
            currencies.push(c.to_owned());
        }
    }
    currencies.sort();
    currencies.dedup();
    let money = currencies
        .into_iter()
        .map(|c| {
            let of = |name: &str| tallies::by_currency(&items.money, name).get(&c).copied().unwrap_or(0);
            let (deposits, balances, refunds) =
                (of("deposits_minor"), of("balances_minor"), of("refunds_minor"));
            MoneyFigures {
                completed_value_minor: all.completed_value.get(&c).copied().unwrap_or(0),
                deposits_minor: deposits,
                balances_minor: balances,
                refunds_minor: refunds,
                fees_kept_minor: of("fees_kept_minor"),
                net_received_minor: deposits + balances - refunds,
                currency: c,
            }
        })
        .collect();

    let services = catalog::all_services(platform, studio_id).await?;
    let service_names: BTreeMap<String, String> =
        services.iter().map(|s| (s.id.to_string(), s.definition.name.clone())).collect();
    let pro_names: BTreeMap<String, String> =
        professionals.iter().map(|p| (p.user_id.to_string(), p.profile.display_name.clone())).collect();

    let value = atelier_inventory::movements::value_key(studio_id);
    let value = platform.store.get(&value).await?;
    let number = |name: &str| value.as_ref().and_then(|i| i.get(name)).and_then(|v| v.as_i64()).unwrap_or(0);
    let stock = StockFigures {
        value_minor: number("value_minor"),
        low_products: number("low_products"),
        movements: tallies::total(&items.stock, "movements"),
        service_cost_minor: tallies::total(&items.stock, "service_cost_minor"),
        sold_cost_minor: tallies::total(&items.stock, "sold_cost_minor"),
        sales_minor: tallies::total(&items.stock, "sales_minor"),
    };

    Ok(Dashboard {
        studio_id: studio_id.clone(),
        time_zone: zone,
        period,
        bookings: BookingFigures {
            total,
            by_status: all.by_status.clone(),
            cancellation_rate_bps: rate_bps(cancelled, total),
            no_show_rate_bps: rate_bps(no_show, completed + no_show),
        },
        occupancy: Occupancy {
            booked_minutes: all.minutes,
            available_minutes: available,
            rate_bps: rate_bps(all.minutes, available),
        },
        money,
        clients: ClientFigures {
            new_clients: all.new_clients,
            returning_bookings: (total - cancelled - all.new_clients).max(0),
        },
        top_services: ranking(&sums, &currency, &service_names, |s| match s {
            Scope::Service(id) => Some(id.as_str()),
            _ => None,
        }),
        top_professionals: ranking(&sums, &currency, &pro_names, |s| match s {
            Scope::Professional(id) => Some(id.as_str()),
            _ => None,
        }),
        stock,
        projects: project_months(platform, studio_id, &period).await?,
        counters_read: items.read,
        currency,
    })
}

/// The entries of one kind of scope, ranked by completed value then bookings.
fn ranking(
    sums: &BTreeMap<Scope, Counts>,
    currency: &str,
    names: &BTreeMap<String, String>,
    id_of: impl Fn(&Scope) -> Option<&str>,
) -> Vec<Ranked> {
    let mut ranked: Vec<Ranked> = sums
        .iter()
        .filter_map(|(scope, counts)| {
            let id = id_of(scope)?;
            Some(Ranked {
                id: id.to_owned(),
                name: names.get(id).cloned().unwrap_or_default(),
                bookings: counts.total() - counts.status(BookingStatus::Cancelled.as_str()),
                completed: counts.status(BookingStatus::Completed.as_str()),
                minutes: counts.minutes,
                completed_value_minor: counts.completed_value.get(currency).copied().unwrap_or(0),
            })
        })
        .filter(|r| r.bookings > 0 || r.completed_value_minor > 0)
        .collect();
    ranked.sort_by(|a, b| {
        (b.completed_value_minor, b.bookings, &a.id).cmp(&(a.completed_value_minor, a.bookings, &b.id))
    });
    ranked.truncate(TOP);
    ranked
}

/// Minutes the active professionals work over the period.
pub async fn available_minutes(
    platform: &Platform,
    studio_id: &StudioId,
    professionals: &[team::Professional],
    period: &Period,
) -> Result<i64, AppError> {
    let mut minutes = 0;
    for p in professionals.iter().filter(|p| p.profile.active) {
        minutes += working_minutes(platform, studio_id, &p.user_id, period).await?;
    }
    Ok(minutes)
}

/// Minutes one professional works over the period.
pub async fn working_minutes(
    platform: &Platform,
    studio_id: &StudioId,
    user_id: &UserId,
    period: &Period,
) -> Result<i64, AppError> {
    let schedule = availability::schedule(platform, studio_id, user_id).await?.schedule;
    let exceptions: Vec<_> =
        availability::exceptions_between(platform, studio_id, user_id, period.from, period.to)
            .await?
            .into_iter()
            .map(|x| x.exception)
            .collect();
    Ok(period
        .dates()
        .flat_map(|d| working_ranges(&schedule, &exceptions, d))
        .map(|(start, end)| i64::from(end.minutes()) - i64::from(start.minutes()))
        .sum())
}

async fn project_months(
    platform: &Platform,
    studio_id: &StudioId,
    period: &Period,
) -> Result<Vec<ProjectMonth>, AppError> {
    let mut months = Vec::new();
    let mut month = period.from.first_of_month();
    while month <= period.to {
        months.push(month.strftime("%Y-%m").to_string());
        month = month.checked_add(jiff::Span::new().months(1)).map_err(|e| AppError::failed("a month", e))?;
    }
    let keys: Vec<_> = months.iter().map(|m| atelier_projects::dashboard::month_key(studio_id, m)).collect();
    let items = platform.store.get_many(&keys).await?;
    Ok(months
        .into_iter()
        .map(|m| {
            let key = atelier_projects::dashboard::month_key(studio_id, &m);
            let item = items.iter().find(|i| i.key().as_ref() == Some(&key));
            let number = |name: &str| item.and_then(|i| i.get(name)).and_then(|v| v.as_i64()).unwrap_or(0);
            ProjectMonth {
                delivered: number("delivered"),
                revenue_minor: number("revenue_minor"),
                profit_minor: number("profit_minor"),
                month: m,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::rate_bps;

    #[test]
    fn rates_are_basis_points_rounded_half_up() {
        assert_eq!(rate_bps(1, 3), 3333);
        assert_eq!(rate_bps(2, 3), 6667);
        assert_eq!(rate_bps(1, 8), 1250);
        assert_eq!(rate_bps(5, 0), 0);
        assert_eq!(rate_bps(7, 7), 10_000);
    }
}
