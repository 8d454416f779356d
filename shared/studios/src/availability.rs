//! Professionals' availability: the weekly schedule (one versioned item) and exceptions over
//! date ranges (one item each, keyed by start date so a range of dates is one query). Writes of
//! exceptions bump the schedule item's version in the same transaction, so two concurrent
//! exceptions can never be checked against a stale set and overlap.

use atelier_domain::Invalid;
use atelier_domain::availability::{AvailabilityException, WeeklySchedule};
use atelier_domain::ids::{ExceptionId, StudioId, UserId};
use atelier_domain::time::EXCEPTION_DAYS_AHEAD;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::team::{may_manage, professional_key};
use crate::{Actor, check_precondition, commit_result, load, studio_item, studio_partition};
use atelier_platform::store::{
    Condition, Item, Key, Query, SortKey, StoreError, UpdateAction, Value, WriteOp,
};
use atelier_platform::{AppError, Platform};

/// A professional's weekly schedule, versioned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Availability {
    /// The professional.
    #[schema(value_type = String)]
    pub user_id: UserId,
    /// The week.
    #[serde(flatten)]
    pub schedule: WeeklySchedule,
    /// Version, for `If-Match` (0 before anything was saved).
    pub version: i64,
}

/// An exception as stored; its id starts with its first date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StoredException {
    /// Id (`<start date>.<ulid>`).
    #[schema(value_type = String)]
    pub id: ExceptionId,
    /// The professional.
    #[schema(value_type = String)]
    pub user_id: UserId,
    /// The exception.
    #[serde(flatten)]
    pub exception: AvailabilityException,
}

/// Key of a professional's weekly schedule.
pub fn schedule_key(studio_id: &StudioId, user_id: &UserId) -> Key {
    studio_item(studio_id, format!("AVAIL#{user_id}"))
}

fn exception_prefix(user_id: &UserId) -> String {
    format!("AVAILX#{user_id}#")
}

fn exception_key(studio_id: &StudioId, user_id: &UserId, exception_id: &ExceptionId) -> Key {
    studio_item(studio_id, format!("{}{exception_id}", exception_prefix(user_id)))
}

/// A professional's weekly schedule (empty if never set).
pub async fn schedule(
    platform: &Platform,
    studio_id: &StudioId,
    user_id: &UserId,
) -> Result<Availability, AppError> {
    super::team::require_professional(platform, studio_id, user_id).await?;
    Ok(load(platform, &schedule_key(studio_id, user_id)).await?.unwrap_or_else(|| Availability {
        user_id: user_id.to_owned(),
        schedule: WeeklySchedule::default(),
        version: 0,
    }))
}

/// The guard on the schedule item for a write based on `version` (0: it must not exist yet).
fn version_guard(version: i64) -> Condition {
    if version == 0 { Condition::NotExists } else { Condition::version_is(version) }
}

/// Replaces a professional's weekly schedule (theirs, or as a manager).
pub async fn put_schedule(
    platform: &Platform,
    actor: Actor<'_>,
    user_id: &UserId,
    week: WeeklySchedule,
    expected: Option<i64>,
) -> Result<Availability, AppError> {
    may_manage(&actor, user_id)?;
    let week = week.validate()?;
    let current = schedule(platform, actor.studio_id(), user_id).await?;
    check_precondition(expected, current.version)?;
    let updated = Availability { schedule: week, version: current.version + 1, ..current.clone() };
    let ops = vec![
        WriteOp::Put {
            item: Item::from_record(&schedule_key(actor.studio_id(), user_id), &updated)?,
            condition: Some(version_guard(current.version)),
        },
        WriteOp::check(professional_key(actor.studio_id(), user_id), Condition::Exists),
        actor.audit(
            platform,
            "availability.schedule_saved",
            "professional",
            user_id,
            serde_json::json!({ "from": current.schedule, "to": updated.schedule }),
        )?,
    ];
    let result = platform.store.transact(ops).await;
    if matches!(result, Err(StoreError::ConditionFailed { index: 1, .. })) {
        return Err(AppError::NotFound("professional"));
    }
    commit_result(result, expected).map(|()| updated)
}

/// Exceptions of a professional of the studio that touch `from..=to`.
pub async fn exceptions(
    platform: &Platform,
    studio_id: &StudioId,
    user_id: &UserId,
    from: Date,
    to: Date,
) -> Result<Vec<StoredException>, AppError> {
    let mut errors = Invalid::default();
    atelier_domain::time::check_date(&mut errors, "from", from);
    atelier_domain::time::check_date(&mut errors, "to", to);
    errors.check(from <= to, "to", "must not be before from");
    errors.into_result()?;
    super::team::require_professional(platform, studio_id, user_id).await?;
    exceptions_between(platform, studio_id, user_id, from, to).await
}

/// Exceptions touching `from..=to`, for a professional already checked.
pub async fn exceptions_between(
    platform: &Platform,
    studio_id: &StudioId,
    user_id: &UserId,
    from: Date,
    to: Date,
) -> Result<Vec<StoredException>, AppError> {
    if from > to {
        return Err(Invalid::field("to", "must not be before from").into());
    }
    // Exceptions last at most a year, so one starting a year before `from` may still reach it.
    let earliest = from.checked_sub(jiff::Span::new().days(367)).unwrap_or(from);
    let prefix = exception_prefix(user_id);
    let query = Query::partition(studio_partition(studio_id))
        .sort(SortKey::Between(format!("{prefix}{earliest}"), format!("{prefix}{to}~")));
    let items = platform.store.query_all(query, 10_000).await?;
    let all: Vec<StoredException> = items.iter().map(Item::to_record).collect::<Result<_, _>>()?;
    Ok(all.into_iter().filter(|x| x.exception.end_date >= from && x.exception.start_date <= to).collect())
}

/// Adds an exception; one overlapping an existing exception of the same kind is refused.
pub async fn add_exception(
    platform: &Platform,
    actor: Actor<'_>,
    user_id: &UserId,
    exception: AvailabilityException,
) -> Result<StoredException, AppError> {
    may_manage(&actor, user_id)?;
    let exception = exception.validate()?;
    let current = schedule(platform, actor.studio_id(), user_id).await?;
    // Planned time off and extra hours, at most two years ahead; none before 2000.
    let today = TimeZone::UTC.to_datetime(platform.clock.now()).date();
    let latest = today.checked_add(jiff::Span::new().days(EXCEPTION_DAYS_AHEAD)).unwrap_or(today);
    let mut errors = Invalid::default();
    atelier_domain::time::check_date(&mut errors, "start_date", exception.start_date);
    errors.check(
        exception.end_date <= latest,
        "end_date",
        format!("at most {EXCEPTION_DAYS_AHEAD} days ahead (until {latest})"),
    );
    errors.into_result()?;
    let existing =
        exceptions_between(platform, actor.studio_id(), user_id, exception.start_date, exception.end_date)
            .await?;
    if let Some(clash) = existing.iter().find(|x| x.exception.overlaps(&exception)) {
        return Err(Invalid::field(
            "start_date",
            format!(
                "overlaps exception {} ({} to {})",
                clash.id, clash.exception.start_date, clash.exception.end_date
            ),
        )
        .into());
    }
    let stored = StoredException {
        id: ExceptionId::from(format!("{}.{}", exception.start_date, platform.ids.new_id())),
        user_id: user_id.to_owned(),
        exception,
    };
    let ops = vec![
        // Serialises exception writes of this professional: see the module comment.
        WriteOp::Update {
            key: schedule_key(actor.studio_id(), user_id),
            actions: vec![
                UpdateAction::Set("version".into(), Value::N(current.version + 1)),
                UpdateAction::SetIfNotExists("user_id".into(), Value::S(user_id.to_string())),
                UpdateAction::SetIfNotExists("ranges".into(), Value::L(Vec::new())),
            ],
            condition: Some(version_guard(current.version)),
        },
        WriteOp::create(Item::from_record(&exception_key(actor.studio_id(), user_id, &stored.id), &stored)?),
        actor.audit(
            platform,
            "availability.exception_added",
            "professional",
            user_id,
            serde_json::to_value(&stored).unwrap_or_default(),
        )?,
    ];
    match platform.store.transact(ops).await {
        Ok(()) => Ok(stored),
        Err(StoreError::ConditionFailed { index: 0, .. }) => Err(AppError::Conflict(
            atelier_platform::error::CHANGED_MEANWHILE,
            "the availability changed meanwhile; try again".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Removes an exception.
pub async fn remove_exception(
    platform: &Platform,
    actor: Actor<'_>,
    user_id: &UserId,
    exception_id: &ExceptionId,
) -> Result<(), AppError> {
    may_manage(&actor, user_id)?;
    let key = exception_key(actor.studio_id(), user_id, exception_id);
    let ops = vec![
        WriteOp::Delete { key, condition: Some(Condition::Exists) },
        actor.audit(
            platform,
            "availability.exception_removed",
            "professional",
            user_id,
            serde_json::json!({ "exception": exception_id }),
        )?,
    ];
    match platform.store.transact(ops).await {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed { index: 0, .. }) => Err(AppError::NotFound("exception")),
        Err(e) => Err(e.into()),
    }
}
