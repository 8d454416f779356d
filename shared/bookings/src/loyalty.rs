//! Loyalty points per client and studio: a balance item changed only by atomic `ADD`s (never
//! below zero: deductions are conditional), and a ledger entry for every change, written in
//! the same transaction. Points are earned on completion at the studio's rate, taken away on a
//! no-show, redeemed by staff, and expire after a period without earning.

use atelier_domain::Invalid;
use atelier_domain::ids::{BookingId, ClientId, StudioId, UserId};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::By;
use crate::due::{self, DueItem};
use crate::tx::{Failure, Part, Tx};
use atelier_platform::store::{
    Condition, Cursor, Item, Key, Query, StoreError, UpdateAction, Value, WriteOp,
};
use atelier_platform::{AppError, Platform};
use atelier_studios::{Actor, studio_item, studio_partition};

/// Why points moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LedgerKind {
    /// Earned by a completed booking.
    Earned,
    /// Taken away for a no-show.
    NoShow,
    /// Spent.
    Redeemed,
    /// Expired after a period without earning.
    Expired,
}

/// One movement of points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
// Named apart from the payments ledger's entry: one name is one schema in the OpenAPI document.
#[schema(as = LoyaltyEntry)]
pub struct LedgerEntry {
    /// Id.
    pub id: String,
    /// Why.
    pub kind: LedgerKind,
    /// Points added (positive) or taken (negative).
    pub points: i64,
    /// The booking concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub booking_id: Option<BookingId>,
    /// A note.
    #[serde(default)]
    pub note: String,
    /// Who did it: the member who completed, redeemed or marked the no-show; absent only when
    /// the system did (points expired by the scheduler).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
}

/// A client's points in a studio.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LoyaltyBalance {
    /// The client.
    #[schema(value_type = String)]
    pub client_id: ClientId,
    /// Points now.
    #[serde(default)]
    pub points: i64,
    /// Points ever earned.
    #[serde(default)]
    pub earned_total: i64,
    /// When the points expire unless more are earned (absent: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<Timestamp>,
}

/// Key of a client's balance.
pub fn balance_key(studio_id: &StudioId, client_id: &ClientId) -> Key {
    studio_item(studio_id, format!("LOYALTY#{client_id}"))
}

fn ledger_partition(studio_id: &StudioId, client_id: &ClientId) -> String {
    format!("{}#LOYALTY#{client_id}", studio_partition(studio_id))
}

fn ledger_put(
    studio_id: &StudioId,
    client_id: &ClientId,
    entry: &LedgerEntry,
) -> Result<WriteOp, StoreError> {
    let key = Key::new(
        ledger_partition(studio_id, client_id),
        format!("{}#{}", crate::sort_instant(entry.at), entry.id),
    );
    Ok(WriteOp::create(Item::from_record(&key, entry)?))
}

/// Writes crediting `points` for a completed booking: the balance (whose expiry moves out),
/// the ledger entry, and the step that will expire them.
pub(crate) fn earn_ops(
    platform: &Platform,
    studio_id: &StudioId,
    client_id: &ClientId,
    points: i64,
    booking_id: &BookingId,
    expiry_days: u32,
    by: &atelier_domain::ids::UserId,
) -> Result<Vec<WriteOp>, StoreError> {
    let now = platform.clock.now();
    let mut actions = vec![
        UpdateAction::Add("points".into(), points),
        UpdateAction::Add("earned_total".into(), points),
        UpdateAction::Set("client_id".into(), Value::S(client_id.to_string())),
    ];
    let expires = (expiry_days > 0).then(|| now + SignedDuration::from_hours(24 * i64::from(expiry_days)));
    if let Some(at) = expires {
        actions.push(UpdateAction::Set("expires_at".into(), Value::S(at.to_string())));
    }
    let entry = LedgerEntry {
        id: platform.ids.new_id(),
        kind: LedgerKind::Earned,
        points,
        booking_id: Some(booking_id.to_owned()),
        note: String::new(),
        // The staff member who completed the booking.
        by: Some(by.to_string()),
        at: now,
    };
    let mut ops = vec![
        WriteOp::update(balance_key(studio_id, client_id), actions),
        ledger_put(studio_id, client_id, &entry)?,
    ];
    if let Some(at) = expires {
        ops.push(due::put(due::LOYALTY, at, studio_id, client_id));
    }
    Ok(ops)
}

/// Points taken away, and why.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deduction<'a> {
    /// How many (positive).
    pub points: i64,
    /// Why.
    pub kind: LedgerKind,
    /// The booking concerned.
    pub booking_id: Option<&'a BookingId>,
    /// A note.
    pub note: &'a str,
    /// Who (absent: the system).
    pub by: Option<&'a str>,
}

/// Writes taking points away (only if the balance still has them: the first write's
/// condition) and recording why.
pub(crate) fn deduct_ops(
    platform: &Platform,
    studio_id: &StudioId,
    client_id: &ClientId,
    d: Deduction<'_>,
) -> Result<Vec<WriteOp>, StoreError> {
    let entry = LedgerEntry {
        id: platform.ids.new_id(),
        kind: d.kind,
        points: -d.points,
        booking_id: d.booking_id.cloned(),
        note: d.note.to_owned(),
        by: d.by.map(str::to_owned),
        at: platform.clock.now(),
    };
    Ok(vec![
        WriteOp::update(
            balance_key(studio_id, client_id),
            vec![UpdateAction::Add("points".into(), -d.points)],
        )
        .when(Condition::Ge("points".into(), Value::N(d.points))),
        ledger_put(studio_id, client_id, &entry)?,
    ])
}

/// A client's balance (zero if they never earned).
pub async fn balance(
    platform: &Platform,
    studio_id: &StudioId,
    client_id: &ClientId,
) -> Result<LoyaltyBalance, AppError> {
    Ok(platform
        .store
        .get(&balance_key(studio_id, client_id))
        .await?
        .map(|i| i.to_record())
        .transpose()?
        .unwrap_or(LoyaltyBalance {
            client_id: client_id.to_owned(),
            points: 0,
            earned_total: 0,
            expires_at: None,
        }))
}

/// A page of a client's ledger, newest first.
pub async fn history(
    platform: &Platform,
    studio_id: &StudioId,
    client_id: &ClientId,
    page: impl FnOnce(Query) -> Result<Query, AppError>,
) -> Result<(Vec<LedgerEntry>, Option<Cursor>), AppError> {
    let query = page(Query::partition(ledger_partition(studio_id, client_id)).descending())?;
    let found = platform.store.query(&query).await?;
    Ok((found.items.iter().map(Item::to_record).collect::<Result<_, _>>()?, found.next))
}

/// The client record of an account in a studio, if it has one.
pub async fn client_of(
    platform: &Platform,
    studio_id: &StudioId,
    user_id: &UserId,
) -> Result<Option<String>, AppError> {
    let link = platform.store.get(&atelier_studios::clients::link_key(studio_id, user_id)).await?;
    Ok(link.map(|l| l.string("client_id").map(str::to_owned)).transpose()?)
}

/// Points to redeem.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Redemption {
    /// How many.
    pub points: i64,
    /// What for.
    #[serde(default)]
    pub note: String,
}

/// Spends a client's points (staff, at the counter); refused if the balance is short.
pub async fn redeem(
    platform: &Platform,
    actor: Actor<'_>,
    client_id: &ClientId,
    redemption: &Redemption,
) -> Result<LoyaltyBalance, AppError> {
    let note = atelier_domain::studios::check_text(&redemption.note, 200, "note")?;
    if !(1..=1_000_000).contains(&redemption.points) {
        return Err(Invalid::field("points", "must be between 1 and 1000000").into());
    }
    atelier_studios::clients::get(platform, actor.studio_id(), client_id).await?;
    let by = By::Caller(actor);
    let mut tx = Tx::new();
    let deduction = Deduction {
        points: redemption.points,
        kind: LedgerKind::Redeemed,
        booking_id: None,
        note: &note,
        by: by.user_id(),
    };
    let ops = deduct_ops(platform, actor.studio_id(), client_id, deduction)?;
    let mut ops = ops.into_iter();
    tx.extend(ops.next(), Part::Check("the loyalty balance"));
    tx.extend(ops, Part::Other);
    tx.push(
        by.audit(
            platform,
            actor.studio_id(),
            "loyalty.redeemed",
            "client",
            client_id,
            serde_json::json!({ "points": redemption.points, "note": note }),
        )?,
        Part::Other,
    );
    match tx.commit(platform).await {
        Ok(()) => balance(platform, actor.studio_id(), client_id).await,
        Err(Failure::Condition(Part::Check(_))) => Err(AppError::Conflict(
            crate::conflicts::INSUFFICIENT_BALANCE,
            "the client does not have that many points".into(),
        )),
        Err(f) => Err(f.into_error()),
    }
}

/// The expiry step for a client: their points go if they earned nothing since it was set.
pub async fn expire_step(platform: &Platform, item: DueItem) -> Result<bool, AppError> {
    let key = balance_key(&item.studio_id, &ClientId::from(&item.subject_id));
    let Some(current) = platform.store.get(&key).await? else {
        due::drop(platform, &item).await?;
        return Ok(false);
    };
    let balance: LoyaltyBalance = current.to_record()?;
    let now = platform.clock.now();
    let due_now = balance.expires_at.is_some_and(|at| at <= now);
    if !due_now || balance.points <= 0 {
        // Earned again since (a later step exists), or nothing left to expire.
        due::drop(platform, &item).await?;
        return Ok(false);
    }
    let entry = LedgerEntry {
        id: platform.ids.new_id(),
        kind: LedgerKind::Expired,
        points: -balance.points,
        booking_id: None,
        note: String::new(),
        by: None,
        at: now,
    };
    let expires = current.get("expires_at").cloned().unwrap_or(Value::Null);
    let ops = vec![
        WriteOp::update(key, vec![UpdateAction::Add("points".into(), -balance.points)]).when(Condition::And(
            vec![Condition::eq("points", balance.points), Condition::Eq("expires_at".into(), expires)],
        )),
        ledger_put(&item.studio_id, &ClientId::from(&item.subject_id), &entry)?,
        WriteOp::delete(item.key.clone()),
    ];
    platform.store.transact(ops).await?;
    Ok(true)
}
