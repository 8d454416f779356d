//! The studio's project dashboard, read from counters every project transaction keeps: how
//! many projects are in each status (`COUNTS`), and per month of delivery the revenue, the part
//! of it already counted as bookings' revenue, and the profit (`MONTH#<YYYY-MM>`). A delivered
//! project's later changes add their difference to its month. Deadlines come from the status
//! index of each open status: only open projects in the range are read.

use std::collections::BTreeMap;

use atelier_domain::ids::{ProjectId, StudioId};
use atelier_domain::projects::ProjectStatus;
use atelier_platform::store::{Index, Item, Key, Query, SortKey, UpdateAction, WriteOp};
use atelier_platform::{AppError, Platform};
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{Project, projects_partition};

fn counts_key(studio: &StudioId) -> Key {
    Key::new(projects_partition(studio), "COUNTS")
}

/// Key of a studio's project figures for one month (read by reports).
pub fn month_key(studio: &StudioId, month: &str) -> Key {
    Key::new(projects_partition(studio), format!("MONTH#{month}"))
}

/// The month (`YYYY-MM`) of `at` in `zone`.
pub fn month_of(at: Timestamp, zone: &str) -> String {
    let tz = jiff::tz::TimeZone::get(zone).unwrap_or(jiff::tz::TimeZone::UTC);
    at.to_zoned_datetime(tz).strftime("%Y-%m").to_string()
}

/// The counter updates for a project going from `before` (none: created) to `after`.
pub fn counter_writes(before: Option<&Project>, after: &Project, _zone: &str) -> Vec<WriteOp> {
    let studio = &after.studio_id;
    let mut ops = Vec::new();
    if before.is_none_or(|b| b.status != after.status) {
        let mut actions = vec![UpdateAction::Add(after.status.as_str().into(), 1)];
        if let Some(b) = before {
            actions.push(UpdateAction::Add(b.status.as_str().into(), -1));
        }
        ops.push(WriteOp::update(counts_key(studio), actions));
    }
    // What each state contributes to its month of delivery.
    let contribution = |p: &Project| {
        p.earned_month.clone().filter(|_| p.status.earned()).map(|month| {
            let t = p.totals();
            (month, [t.revenue_minor, t.booked_revenue_minor, t.profit_minor, 1])
        })
    };
    let mut deltas: BTreeMap<String, [i64; 4]> = BTreeMap::new();
    if let Some((month, v)) = before.and_then(contribution) {
        let d = deltas.entry(month).or_default();
        for (d, v) in d.iter_mut().zip(v) {
            *d -= v;
        }
    }
    if let Some((month, v)) = contribution(after) {
        let d = deltas.entry(month).or_default();
        for (d, v) in d.iter_mut().zip(v) {
            *d += v;
        }
    }
    for (month, [revenue, booked, profit, projects]) in deltas {
        if [revenue, booked, profit, projects] == [0; 4] {
            continue;
        }
        ops.push(WriteOp::update(
            month_key(studio, &month),
            vec![
                UpdateAction::Set("month".into(), month.clone().into()),
                UpdateAction::Set("currency".into(), after.currency.code().into()),
                UpdateAction::Add("revenue_minor".into(), revenue),
                UpdateAction::Add("booked_revenue_minor".into(), booked),
                UpdateAction::Add("profit_minor".into(), profit),
                UpdateAction::Add("delivered".into(), projects),
            ],
        ));
    }
    ops
}

/// A project in a list of deadlines.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeadlineEntry {
    /// The project.
    #[schema(value_type = String)]
    pub project_id: ProjectId,
    /// Its title.
    pub title: String,
    /// Its status.
    pub status: ProjectStatus,
    /// Its deadline.
    #[schema(value_type = String, format = Date)]
    pub deadline: jiff::civil::Date,
}

/// One month's delivered work.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MonthFigures {
    /// `YYYY-MM`.
    pub month: String,
    /// Projects delivered.
    pub delivered: i64,
    /// Their revenue, minor units.
    pub revenue_minor: i64,
    /// The part of it from lines linked to bookings (counted as the bookings' revenue too).
    pub booked_revenue_minor: i64,
    /// Their profit after tax.
    pub profit_minor: i64,
}

/// The studio's project dashboard.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Dashboard {
    /// Projects per status.
    pub by_status: BTreeMap<String, i64>,
    /// Open projects due today or in the next 14 days, soonest first (up to 50 of each status).
    pub due_soon: Vec<DeadlineEntry>,
    /// Open projects past their deadline, oldest first (up to 50 of each status).
    pub overdue: Vec<DeadlineEntry>,
    /// The last 12 months, oldest first.
    pub months: Vec<MonthFigures>,
}

fn entries(items: &[Item], today: jiff::civil::Date, overdue: bool) -> Result<Vec<DeadlineEntry>, AppError> {
    let mut out = Vec::new();
    for item in items {
        let p: Project = item.to_record()?;
        let (Some(deadline), true) = (p.deadline, p.status.open()) else { continue };
        if (deadline < today) == overdue {
            out.push(DeadlineEntry { project_id: p.id, title: p.title, status: p.status, deadline });
        }
    }
    Ok(out)
}

/// The dashboard of `studio` as of today in its zone.
pub async fn dashboard(platform: &Platform, studio: &StudioId) -> Result<Dashboard, AppError> {
    let zone = atelier_studios::get(platform, studio).await?.profile.time_zone;
    let tz = jiff::tz::TimeZone::get(&zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let today = platform.clock.now().to_zoned_datetime(tz).date();
    let counts = platform.store.get(&counts_key(studio)).await?;
    let by_status = ProjectStatus::ALL
        .iter()
        .map(|s| {
            (
                s.as_str().to_owned(),
                counts.as_ref().and_then(|c| c.get(s.as_str())).and_then(|v| v.as_i64()).unwrap_or(0),
            )
        })
        .collect();
    // Only open projects are read: one status index each, within the range.
    let horizon = today.checked_add(14.days()).unwrap_or(today);
    let (mut due_soon, mut overdue) = (Vec::new(), Vec::new());
    for status in ProjectStatus::ALL.into_iter().filter(|s| s.open()) {
        let index = || Query::partition(crate::status_index(studio, status)).on(Index::Gsi2).limit(50);
        let soon = index().sort(SortKey::Between(today.to_string(), format!("{horizon}#~")));
        due_soon.extend(entries(&platform.store.query_all(soon, 50).await?, today, false)?);
        let past = index().sort(SortKey::Lt(today.to_string()));
        overdue.extend(entries(&platform.store.query_all(past, 50).await?, today, true)?);
    }
    due_soon.sort_by(|a: &DeadlineEntry, b: &DeadlineEntry| {
        (a.deadline, &a.project_id).cmp(&(b.deadline, &b.project_id))
    });
    overdue.sort_by(|a: &DeadlineEntry, b: &DeadlineEntry| {
        (a.deadline, &a.project_id).cmp(&(b.deadline, &b.project_id))
    });
    due_soon.truncate(50);
    overdue.truncate(50);
    let first = today.first_of_month().checked_sub(11.months()).unwrap_or(today);
    let months: Vec<String> = (0..12)
        .filter_map(|n| first.checked_add(n.months()).ok())
        .map(|d| d.strftime("%Y-%m").to_string())
        .collect();
    let keys: Vec<Key> = months.iter().map(|m| month_key(studio, m)).collect();
    let found = platform.store.get_many(&keys).await?;
    let figures = months
        .into_iter()
        .map(|month| {
            let item = found.iter().find(|i| i.get("month").and_then(|v| v.as_str()) == Some(month.as_str()));
            let n = |name: &str| item.and_then(|i| i.get(name)).and_then(|v| v.as_i64()).unwrap_or(0);
            MonthFigures {
                delivered: n("delivered"),
                revenue_minor: n("revenue_minor"),
                booked_revenue_minor: n("booked_revenue_minor"),
                profit_minor: n("profit_minor"),
                month,
            }
        })
        .collect();
    Ok(Dashboard { by_status, due_soon, overdue, months: figures })
}
