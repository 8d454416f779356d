//! The ledger: one immutable entry per movement of money (a charge received, a refund
//! returned), written in the same transaction as the change that caused it, with who caused it.
//! Balances of a booking and of a client are sums of their entries; per-day counters for
//! reports are kept in the same transactions.

use atelier_domain::ids::{BookingId, ClientId, PaymentId, RefundId, StudioId, UserId};
use atelier_domain::money::Currency;
use atelier_platform::store::{
    Cursor, Index, Item, Key, Query, SortKey, StoreError, UpdateAction, WriteOp, attr,
};
use atelier_platform::{AppError, Platform};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{Method, Payment, Purpose, local_date};

/// What moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// Money received (positive).
    Charge,
    /// Money returned (negative).
    Refund,
}

/// Who caused a movement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum EntryActor {
    /// A person (staff recording a payment, a manager refunding, a client paying).
    User {
        /// Their id.
        #[schema(value_type = String)]
        user_id: UserId,
    },
    /// The provider reported it (a webhook, the reconciliation).
    Provider,
    /// Atelier itself (a refund its policy owed, a late payment returned).
    System,
}

/// One ledger entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LedgerEntry {
    /// Id.
    pub id: String,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// What moved.
    pub kind: EntryKind,
    /// Minor units: positive received, negative returned.
    pub amount_minor: i64,
    /// Currency.
    #[schema(value_type = String)]
    pub currency: Currency,
    /// The payment.
    #[schema(value_type = String)]
    pub payment_id: PaymentId,
    /// The refund, for refunds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub refund_id: Option<RefundId>,
    /// The booking.
    #[schema(value_type = String)]
    pub booking_id: BookingId,
    /// The client.
    #[schema(value_type = String)]
    pub client_id: ClientId,
    /// What the payment was for.
    pub purpose: Purpose,
    /// How it was paid.
    pub method: Method,
    /// Who caused it.
    pub by: EntryActor,
    /// Why (a refund's reason).
    #[serde(default)]
    pub note: String,
}

/// Partition of a studio's ledger.
pub fn ledger_partition(studio_id: &StudioId) -> String {
    format!("STUDIO#{studio_id}#LEDGER")
}

fn sort(at: Timestamp, id: &str) -> String {
    atelier_bookings::index_sort(at, id)
}

/// The entry's write (a create: entries are never changed).
pub fn entry_write(studio_id: &StudioId, entry: &LedgerEntry) -> Result<WriteOp, StoreError> {
    let sk = sort(entry.at, &entry.id);
    let item = Item::from_record(&Key::new(ledger_partition(studio_id), sk.clone()), entry)?
        .with(attr::GSI1PK, format!("STUDIO#{studio_id}#BOOKING#{}#LEDGER", entry.booking_id))
        .with(attr::GSI1SK, sk.as_str())
        .with(attr::GSI2PK, format!("STUDIO#{studio_id}#CLIENT#{}#LEDGER", entry.client_id))
        .with(attr::GSI2SK, sk.as_str());
    Ok(WriteOp::create(item))
}

/// A charge entry for a payment received.
pub fn charge(payment: &Payment, id: String, at: Timestamp, by: EntryActor) -> LedgerEntry {
    LedgerEntry {
        id,
        at,
        kind: EntryKind::Charge,
        amount_minor: payment.received_minor,
        currency: payment.currency.clone(),
        payment_id: payment.id.clone(),
        refund_id: None,
        booking_id: payment.booking_id.clone(),
        client_id: payment.client_id.clone(),
        purpose: payment.purpose,
        method: payment.method,
        by,
        note: String::new(),
    }
}

/// What a day's counter item adds up, per studio and currency, for reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayCounts {
    /// Received for deposits.
    pub deposits_minor: i64,
    /// Received for balances.
    pub balances_minor: i64,
    /// Returned.
    pub refunds_minor: i64,
    /// Kept as cancellation fees out of what was paid.
    pub fees_kept_minor: i64,
}

/// Key of a studio's money counters for one local day and currency.
pub fn day_key(studio_id: &StudioId, date: &str, currency: &Currency) -> Key {
    atelier_studios::studio_item(studio_id, format!("DAY#{date}#MONEY#{currency}"))
}

/// The counter update for `counts` on the day `at` falls on in `zone`.
pub fn count(
    studio_id: &StudioId,
    at: Timestamp,
    zone: &str,
    currency: &Currency,
    counts: DayCounts,
) -> WriteOp {
    let date = local_date(at, zone);
    let mut actions = vec![
        UpdateAction::Set("date".into(), date.clone().into()),
        UpdateAction::Set("currency".into(), currency.code().into()),
    ];
    for (name, value) in [
        ("deposits_minor", counts.deposits_minor),
        ("balances_minor", counts.balances_minor),
        ("refunds_minor", counts.refunds_minor),
        ("fees_kept_minor", counts.fees_kept_minor),
    ] {
        if value != 0 {
            actions.push(UpdateAction::Add(name.into(), value));
        }
    }
    WriteOp::update(day_key(studio_id, &date, currency), actions)
}

/// The counts of a payment received.
pub fn received(payment: &Payment) -> DayCounts {
    match payment.purpose {
        Purpose::Deposit => DayCounts { deposits_minor: payment.received_minor, ..DayCounts::default() },
        Purpose::Balance => DayCounts { balances_minor: payment.received_minor, ..DayCounts::default() },
    }
}

/// Money in and out of one booking or client, from the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Balance {
    /// Currency.
    #[schema(value_type = String)]
    pub currency: Currency,
    /// Received.
    pub charged_minor: i64,
    /// Returned.
    pub refunded_minor: i64,
    /// Received less returned.
    pub net_minor: i64,
}

/// Sums entries, one balance per currency.
pub fn balances(entries: &[LedgerEntry]) -> Vec<Balance> {
    let mut out: Vec<Balance> = Vec::new();
    for e in entries {
        let i = match out.iter().position(|b| b.currency == e.currency) {
            Some(i) => i,
            None => {
                out.push(Balance {
                    currency: e.currency.clone(),
                    charged_minor: 0,
                    refunded_minor: 0,
                    net_minor: 0,
                });
                out.len() - 1
            }
        };
        let b = &mut out[i];
        match e.kind {
            EntryKind::Charge => b.charged_minor += e.amount_minor,
            EntryKind::Refund => b.refunded_minor -= e.amount_minor,
        }
        b.net_minor += e.amount_minor;
    }
    out
}

/// Every entry of a booking (gsi1) or a client (gsi2), oldest first.
pub async fn entries_of(
    platform: &Platform,
    partition: String,
    index: Index,
) -> Result<Vec<LedgerEntry>, AppError> {
    let mut entries = Vec::new();
    let mut cursor: Option<Cursor> = None;
    loop {
        let mut query = Query::partition(partition.clone()).on(index).limit(500);
        if let Some(c) = cursor.take() {
            query = query.after(c);
        }
        let page = platform.store.query(&query).await?;
        for item in &page.items {
            entries.push(item.to_record()?);
        }
        match page.next {
            Some(next) if entries.len() < 10_000 => cursor = Some(next),
            _ => break,
        }
    }
    Ok(entries)
}

/// A booking's entries.
pub async fn of_booking(
    platform: &Platform,
    studio_id: &StudioId,
    booking_id: &BookingId,
) -> Result<Vec<LedgerEntry>, AppError> {
    entries_of(platform, format!("STUDIO#{studio_id}#BOOKING#{booking_id}#LEDGER"), Index::Gsi1).await
}

/// A client's entries.
pub async fn of_client(
    platform: &Platform,
    studio_id: &StudioId,
    client_id: &ClientId,
) -> Result<Vec<LedgerEntry>, AppError> {
    entries_of(platform, format!("STUDIO#{studio_id}#CLIENT#{client_id}#LEDGER"), Index::Gsi2).await
}

/// A page of a studio's ledger between two instants, oldest first.
pub async fn list(
    platform: &Platform,
    studio_id: &StudioId,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
    page: impl FnOnce(Query) -> Result<Query, AppError>,
) -> Result<(Vec<LedgerEntry>, Option<Cursor>), AppError> {
    let at = |t: Timestamp| atelier_bookings::sort_instant(t);
    let mut query = Query::partition(ledger_partition(studio_id));
    query = match (from, to) {
        (Some(f), Some(t)) => query.sort(SortKey::Between(at(f), at(t))),
        (Some(f), None) => query.sort(SortKey::Ge(at(f))),
        (None, Some(t)) => query.sort(SortKey::Le(at(t))),
        (None, None) => query,
    };
    let found = platform.store.query(&page(query)?).await?;
    let entries = found.items.iter().map(Item::to_record).collect::<Result<_, _>>()?;
    Ok((entries, found.next))
}
