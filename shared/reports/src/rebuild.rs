//! Rebuilding the daily tallies from the bookings: recomputes what every booking starting in a
//! period contributes, compares it with the stored tallies and reports each difference; with
//! `apply`, writes the difference as an `ADD` per day and checks again, reporting what still
//! differs (a booking that changed between the two reads; run it again, ideally when quiet).

use std::collections::BTreeMap;

use atelier_bookings::Booking;
use atelier_bookings::tally::{self, Contribution};
use atelier_domain::ids::StudioId;
use atelier_platform::store::{Index, Item, Query, SortKey};
use atelier_platform::{AppError, Platform};
use jiff::ToSpan;
use serde::Serialize;

use crate::period::Period;

/// Most bookings one rebuild reads.
const MAX_BOOKINGS: usize = 1_000_000;

/// One count that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// The day.
    pub date: String,
    /// The attribute (`completed`, `pro:<id>:minutes`, …).
    pub attribute: String,
    /// What the tally holds.
    pub stored: i64,
    /// What the bookings add up to.
    pub recomputed: i64,
}

/// What a rebuild found and did.
#[derive(Debug, Clone, Serialize)]
pub struct RebuildReport {
    /// Bookings read.
    pub bookings: usize,
    /// Days with a tally or a booking.
    pub days: usize,
    /// Counts that differed.
    pub differences: Vec<Difference>,
    /// Whether the differences were written.
    pub applied: bool,
    /// After writing them, what still differs (a booking changed between the reads: run it
    /// again).
    pub remaining: Vec<Difference>,
}

/// Bookings starting on the period's dates in their studio's zone.
pub async fn bookings_in(
    platform: &Platform,
    studio_id: &StudioId,
    period: &Period,
) -> Result<Vec<Booking>, AppError> {
    // A day either side in UTC covers every zone; the exact cut is by local date below.
    let from = period.from.checked_sub(1.day()).unwrap_or(period.from);
    let to = period.to.checked_add(2.days()).unwrap_or(period.to);
    let bound = |d: jiff::civil::Date| {
        jiff::tz::TimeZone::UTC
            .to_ambiguous_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
            .compatible()
            .map(atelier_bookings::sort_instant)
    };
    let (lo, hi) = (
        bound(from).map_err(|e| AppError::failed("a date", e))?,
        bound(to).map_err(|e| AppError::failed("a date", e))?,
    );
    let query = Query::partition(atelier_bookings::studio_bookings(studio_id))
        .on(Index::Gsi1)
        .sort(SortKey::Between(lo, format!("{hi}~")));
    let (first, last) = (period.from.to_string(), period.to.to_string());
    Ok(platform
        .store
        .query_all(query, MAX_BOOKINGS)
        .await?
        .iter()
        .map(Item::to_record::<Booking>)
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter(|b| {
            let date = tally::local_date(b);
            first <= date && date <= last
        })
        .collect())
}

fn stored_counts(items: &[Item]) -> Contribution {
    let mut out = Contribution::new();
    for item in items {
        let Ok(date) = item.string("date") else { continue };
        let day = out.entry(date.to_owned()).or_default();
        for (name, value) in item.iter() {
            if let (Some(_), Some(n)) = (tally::parse_attribute(name), value.as_i64()) {
                day.insert(name.clone(), n);
            }
        }
    }
    out
}

fn differences(stored: &Contribution, recomputed: &Contribution) -> Vec<Difference> {
    let mut out = Vec::new();
    let dates: std::collections::BTreeSet<&String> = stored.keys().chain(recomputed.keys()).collect();
    let empty = BTreeMap::new();
    for date in dates {
        let (s, r) = (stored.get(date).unwrap_or(&empty), recomputed.get(date).unwrap_or(&empty));
        let names: std::collections::BTreeSet<&String> = s.keys().chain(r.keys()).collect();
        for name in names {
            let (a, b) = (s.get(name).copied().unwrap_or(0), r.get(name).copied().unwrap_or(0));
            if a != b {
                out.push(Difference {
                    date: date.clone(),
                    attribute: name.clone(),
                    stored: a,
                    recomputed: b,
                });
            }
        }
    }
    out
}

/// Compares (and with `apply`, corrects) the tallies of `period`.
pub async fn rebuild(
    platform: &Platform,
    studio_id: &StudioId,
    period: &Period,
    apply: bool,
) -> Result<RebuildReport, AppError> {
    atelier_studios::get(platform, studio_id).await?;
    let bookings = bookings_in(platform, studio_id, period).await?;
    let mut recomputed = Contribution::new();
    for b in &bookings {
        tally::contribute(&mut recomputed, b, 1);
    }
    let stored = stored_counts(&crate::tallies::read(platform, studio_id, period).await?.tallies);
    let found = differences(&stored, &recomputed);
    let mut remaining = Vec::new();
    if apply && !found.is_empty() {
        let mut delta = Contribution::new();
        for d in &found {
            *delta.entry(d.date.clone()).or_default().entry(d.attribute.clone()).or_default() +=
                d.recomputed - d.stored;
        }
        for op in tally::writes(studio_id, &delta) {
            platform.store.write(op).await?;
        }
        // Checked again: a booking changed between reading the bookings and the tallies is
        // counted once in the tally and left out of the correction, or the other way round.
        let mut again = Contribution::new();
        for b in bookings_in(platform, studio_id, period).await? {
            tally::contribute(&mut again, &b, 1);
        }
        let now = stored_counts(&crate::tallies::read(platform, studio_id, period).await?.tallies);
        remaining = differences(&now, &again);
    }
    Ok(RebuildReport {
        bookings: bookings.len(),
        days: stored.keys().chain(recomputed.keys()).collect::<std::collections::BTreeSet<_>>().len(),
        differences: found,
        applied: apply,
        remaining,
    })
}

/// The `rebuild-tallies` command of the operations CLIs: `--studio <id> --from <date> --to
/// <date> [--apply]`; answers the report as JSON.
pub async fn command(platform: &Platform, args: &[&str]) -> Result<String, AppError> {
    let usage = || {
        AppError::BadRequest(
            "usage: rebuild-tallies --studio <id> --from <YYYY-MM-DD> --to <YYYY-MM-DD> [--apply]".into(),
        )
    };
    let (mut studio, mut from, mut to, mut apply) = (None, None, None, false);
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match *arg {
            "--studio" => studio = rest.next().map(|s| StudioId::new(*s)),
            "--from" => from = rest.next().and_then(|d| d.parse().ok()),
            "--to" => to = rest.next().and_then(|d| d.parse().ok()),
            "--apply" => apply = true,
            _ => return Err(usage()),
        }
    }
    let (Some(studio), Some(from), Some(to)) = (studio, from, to) else { return Err(usage()) };
    let params = crate::period::PeriodParams {
        period: Some(crate::period::PeriodKind::Custom),
        from: Some(from),
        to: Some(to),
        date: None,
    };
    let period = Period::resolve(&params, from)?;
    let report = rebuild(platform, &studio, &period, apply).await?;
    serde_json::to_string_pretty(&report).map_err(|e| AppError::failed("encoding the report", e))
}
