//! Timed steps: an item per step that will fall due (a hold running out, a reminder, a no-show
//! check, points expiring), keyed by kind, shard and due time, so each scheduler job reads only
//! what is due now with one query per shard. A booking has at most one step waiting, named on
//! the booking; every change writes the booking and moves its step in one transaction. A step
//! item whose booking has moved on is stale and simply dropped.

use atelier_domain::ids::StudioId;
use jiff::Timestamp;
use serde::Serialize;

use crate::{Booking, DueStep};
use atelier_platform::store::{Item, Key, Query, SortKey, WriteOp};
use atelier_platform::{AppError, Platform};

/// Step items are spread over this many partitions per kind.
pub const SHARDS: u32 = 4;
/// Kind name of loyalty expiry steps (keyed by client, not booking).
pub const LOYALTY: &str = "loyalty";

/// Key of a step of `kind` due `at` for `subject_id` (a booking, or a client for loyalty).
pub fn key(kind: &str, at: Timestamp, studio_id: &StudioId, subject_id: &str) -> Key {
    let shard = atelier_platform::stable_shard(subject_id, SHARDS);
    Key::new(
        format!("DUE#{kind}#{shard}"),
        format!("{:013}#{studio_id}#{subject_id}", at.as_millisecond().max(0)),
    )
}

/// The write scheduling a step.
pub fn put(kind: &str, at: Timestamp, studio_id: &StudioId, subject_id: &str) -> WriteOp {
    WriteOp::put(
        Item::new(&key(kind, at, studio_id, subject_id))
            .with("studio_id", studio_id.as_str())
            .with("subject_id", subject_id)
            .with("kind", kind),
    )
}

fn step_key(booking: &Booking, step: DueStep) -> Key {
    key(step.kind.as_str(), step.at, &booking.studio_id, &booking.id)
}

/// Sets `booking.due` to the step its state calls for next.
pub fn plan(booking: &mut Booking) {
    booking.due =
        booking.timers.next(booking.status, booking.reminders_done()).map(|(kind, at)| DueStep { kind, at });
}

/// Writes moving the booking's step from `before` (absent for a new booking) to `after`.
pub fn moves(before: Option<&Booking>, after: &Booking) -> Vec<WriteOp> {
    let old = before.and_then(|b| b.due.map(|s| step_key(b, s)));
    let new = after.due.map(|s| step_key(after, s));
    if old == new {
        return Vec::new();
    }
    let mut ops: Vec<WriteOp> = old.into_iter().map(WriteOp::delete).collect();
    if let Some(step) = after.due {
        ops.push(put(step.kind.as_str(), step.at, &after.studio_id, &after.id));
    }
    ops
}

/// A step that has fallen due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueItem {
    /// Its key.
    pub key: Key,
    /// The studio.
    pub studio_id: StudioId,
    /// The booking or client.
    pub subject_id: String,
    /// When it fell due.
    pub at: Timestamp,
}

impl DueItem {
    /// Whether this is the step `booking` is waiting for.
    pub fn is_current_for(&self, booking: &Booking) -> bool {
        booking.due.is_some_and(|s| step_key(booking, s) == self.key)
    }
}

/// Up to `limit` steps of `kind` due by now, oldest first per shard.
pub async fn due_now(platform: &Platform, kind: &str, limit: usize) -> Result<Vec<DueItem>, AppError> {
    let now = platform.clock.now().as_millisecond();
    let mut found = Vec::new();
    for shard in 0..SHARDS {
        if found.len() >= limit {
            break;
        }
        let query = Query::partition(format!("DUE#{kind}#{shard}"))
            .sort(SortKey::Lt(format!("{:013}~", now.max(0))))
            .limit(100);
        for item in platform.store.query_all(query, limit - found.len()).await? {
            let Some(key) = item.key() else { continue };
            let at = key
                .sk
                .split('#')
                .next()
                .and_then(|ms| ms.parse::<i64>().ok())
                .and_then(|ms| Timestamp::from_millisecond(ms).ok())
                .unwrap_or(Timestamp::UNIX_EPOCH);
            found.push(DueItem {
                studio_id: StudioId::new(item.string("studio_id")?),
                subject_id: item.string("subject_id")?.to_owned(),
                key,
                at,
            });
        }
    }
    Ok(found)
}

/// Removes a stale step.
pub async fn drop(platform: &Platform, item: &DueItem) -> Result<(), AppError> {
    platform.store.write(WriteOp::delete(item.key.clone())).await?;
    Ok(())
}

/// What a run of a job did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StepReport {
    /// Steps carried out.
    pub done: usize,
    /// Stale steps dropped (the booking had moved on).
    pub skipped: usize,
    /// Steps that failed and stay for the next run.
    pub failed: usize,
}

/// Most steps one run takes on, so a run stays well inside the function's timeout.
pub const BATCH: usize = 500;

/// Runs `step` on each due item of `kind`, counting what happened; a failure leaves the item
/// for the next run.
pub async fn run<F, Fut>(platform: &Platform, kind: &str, step: F) -> Result<StepReport, AppError>
where
    F: Fn(DueItem) -> Fut,
    Fut: Future<Output = Result<bool, AppError>>,
{
    let mut report = StepReport::default();
    for item in due_now(platform, kind, BATCH).await? {
        let key = item.key.clone();
        match step(item).await {
            Ok(true) => report.done += 1,
            Ok(false) => report.skipped += 1,
            Err(e) => {
                tracing::warn!(error = %atelier_platform::error::chain(&e), kind, sk = %key.sk, "due step failed; it stays for the next run");
                report.failed += 1;
            }
        }
    }
    if report != StepReport::default() {
        tracing::info!(
            kind,
            done = report.done,
            skipped = report.skipped,
            failed = report.failed,
            "due steps"
        );
    }
    Ok(report)
}
