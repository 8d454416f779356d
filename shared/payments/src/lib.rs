//! Payments: the deposit that confirms a held booking, the balance paid online or in person,
//! refunds that follow the booking's copied cancellation policy and never exceed what was
//! received, the provider's signed webhooks applied once, an immutable ledger with per-day
//! counters for reports, and a reconciliation job against the provider's events.
//!
//! A payment lives at `STUDIO#<s>` / `PAYMENT#<id>`, listed by studio and creation (gsi1) and
//! by booking (gsi2); its refunds at `STUDIO#<s>` / `REFUND#<payment>#<id>`; ledger entries in
//! `STUDIO#<s>#LEDGER`, listed by booking (gsi1) and client (gsi2). Keys that lead from the
//! provider's ids back to a studio (`PAYINTENT#…`, `PAYREFUND#…`) are written with the records.
//! The provider is the platform's port ([`atelier_platform::payments`]); the adapters are here.

pub mod checkout;
pub mod conflicts;
pub mod in_person;
pub mod intents;
pub mod ledger;
pub mod notices;
pub mod provider;
pub mod reconciliation;
pub mod refunds;
pub mod routes;
pub mod signature;
pub mod webhooks;

use std::sync::Arc;

use atelier_domain::ids::{BookingId, ClientId, PaymentId, StudioId, UserId};
use atelier_domain::money::Currency;
use atelier_domain::payments::PaymentStatus;
use atelier_platform::payments::PaymentProvider;
use atelier_platform::store::{Condition, Item, Key, StoreError, WriteOp, attr};
use atelier_platform::{AppError, Platform};
use atelier_studios::studio_item;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a payment is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// The deposit that confirms a held booking.
    Deposit,
    /// What is left of the price after the deposit.
    Balance,
}

impl Purpose {
    /// The name used in keys and idempotency keys.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Deposit => "deposit",
            Purpose::Balance => "balance",
        }
    }
}

/// How it is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Online, through the provider.
    Online,
    /// Cash at the studio.
    Cash,
    /// The studio's card terminal.
    CardTerminal,
}

/// A payment as stored (the API shows a [`PaymentView`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    /// Id.
    pub id: PaymentId,
    /// The studio.
    pub studio_id: StudioId,
    /// The booking it pays for.
    pub booking_id: BookingId,
    /// The studio's client.
    pub client_id: ClientId,
    /// The client's account, when they have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_user_id: Option<UserId>,
    /// What for.
    pub purpose: Purpose,
    /// How.
    pub method: Method,
    /// `stripe` or `mock` (online payments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The provider's payment intent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent_id: Option<String>,
    /// What the client's device pays with; shown only to the booking's client and staff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// Asked for, in minor units.
    pub amount_minor: i64,
    /// Currency.
    pub currency: Currency,
    /// Where it stands.
    pub status: PaymentStatus,
    /// Received, in minor units.
    pub received_minor: i64,
    /// Refunded or being refunded.
    pub refunded_minor: i64,
    /// The last decline, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// A reference for in-person payments (terminal receipt number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Who recorded it (in person) or asked for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded_by: Option<UserId>,
    /// The studio's zone, for the day it counts on.
    pub time_zone: String,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
    /// When it was received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub succeeded_at: Option<Timestamp>,
    /// Version.
    pub version: i64,
}

/// A payment as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PaymentView {
    /// Id.
    #[schema(value_type = String)]
    pub id: PaymentId,
    /// The booking it pays for.
    #[schema(value_type = String)]
    pub booking_id: BookingId,
    /// The studio's client.
    #[schema(value_type = String)]
    pub client_id: ClientId,
    /// What for.
    pub purpose: Purpose,
    /// How.
    pub method: Method,
    /// `stripe` or `mock`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The provider's reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent_id: Option<String>,
    /// Asked for, in minor units.
    pub amount_minor: i64,
    /// Currency.
    #[schema(value_type = String)]
    pub currency: Currency,
    /// Where it stands.
    pub status: PaymentStatus,
    /// Received.
    pub received_minor: i64,
    /// Refunded or being refunded.
    pub refunded_minor: i64,
    /// The last decline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// In-person reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Created.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// When it was received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub succeeded_at: Option<Timestamp>,
    /// Version.
    pub version: i64,
}

impl Payment {
    /// The view of it.
    pub fn view(&self) -> PaymentView {
        PaymentView {
            id: self.id.clone(),
            booking_id: self.booking_id.clone(),
            client_id: self.client_id.clone(),
            purpose: self.purpose,
            method: self.method,
            provider: self.provider.clone(),
            intent_id: self.intent_id.clone(),
            amount_minor: self.amount_minor,
            currency: self.currency.clone(),
            status: self.status,
            received_minor: self.received_minor,
            refunded_minor: self.refunded_minor,
            last_error: self.last_error.clone(),
            reference: self.reference.clone(),
            created_at: self.created_at,
            succeeded_at: self.succeeded_at,
            version: self.version,
        }
    }

    /// The store item, with its index keys.
    pub fn to_item(&self) -> Result<Item, StoreError> {
        let sort = atelier_bookings::index_sort(self.created_at, &self.id);
        Ok(Item::from_record(&payment_key(&self.studio_id, &self.id), self)?
            .with(attr::GSI1PK, studio_payments(&self.studio_id))
            .with(attr::GSI1SK, sort.as_str())
            .with(attr::GSI2PK, booking_payments(&self.studio_id, &self.booking_id))
            .with(attr::GSI2SK, sort.as_str())
            .with("status", self.status.as_str()))
    }

    /// A write of the new state, guarded by the version it was read at.
    pub fn replace(&self, read_version: i64) -> Result<WriteOp, StoreError> {
        Ok(WriteOp::put(self.to_item()?).when(Condition::version_is(read_version)))
    }
}

/// Key of a payment.
pub fn payment_key(studio_id: &StudioId, payment_id: &PaymentId) -> Key {
    studio_item(studio_id, format!("PAYMENT#{payment_id}"))
}

/// gsi1 partition of a studio's payments.
pub fn studio_payments(studio_id: &StudioId) -> String {
    format!("STUDIO#{studio_id}#PAYMENTS")
}

/// gsi2 partition of a booking's payments.
pub fn booking_payments(studio_id: &StudioId, booking_id: &BookingId) -> String {
    format!("STUDIO#{studio_id}#BOOKING#{booking_id}#PAYMENTS")
}

/// The item that leads from a provider's intent to its payment.
pub fn intent_key(provider: &str, intent_id: &str) -> Key {
    Key::new(format!("PAYINTENT#{provider}#{intent_id}"), "PAYMENT")
}

/// The provider, or a 503 when this deployment has none.
pub fn provider(platform: &Platform) -> Result<Arc<dyn PaymentProvider>, AppError> {
    platform
        .payments
        .clone()
        .ok_or_else(|| AppError::Unavailable("payments are not configured in this deployment".into()))
}

/// Reads a payment.
pub async fn load(
    platform: &Platform,
    studio_id: &StudioId,
    payment_id: &PaymentId,
) -> Result<Payment, AppError> {
    let item = platform.store.get(&payment_key(studio_id, payment_id)).await?;
    item.map(|i| i.to_record()).transpose()?.ok_or(AppError::NotFound("payment"))
}

/// The payments of a booking, oldest first, as they are now: the index (read eventually
/// consistently on DynamoDB) only lists them; each is read again by its key, so a decision on
/// money never rests on a stale copy.
pub async fn of_booking(
    platform: &Platform,
    studio_id: &StudioId,
    booking_id: &BookingId,
) -> Result<Vec<Payment>, AppError> {
    use atelier_platform::store::{Index, Query};
    let found = platform
        .store
        .query(&Query::partition(booking_payments(studio_id, booking_id)).on(Index::Gsi2).limit(100))
        .await?;
    let keys: Vec<Key> = found
        .items
        .iter()
        .map(|i| i.string("id").map(|id| payment_key(studio_id, &PaymentId::from(id))))
        .collect::<Result<_, _>>()?;
    let mut payments: Vec<Payment> =
        platform.store.get_many(&keys).await?.iter().map(Item::to_record).collect::<Result<_, _>>()?;
    payments.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    Ok(payments)
}

/// What a booking has received and not returned, and how many money movements it has had,
/// read consistently from the item every movement adds to (`BOOKING#<b>#MONEY`).
pub async fn booking_money(
    platform: &Platform,
    studio_id: &StudioId,
    booking_id: &BookingId,
) -> Result<(i64, Option<i64>), AppError> {
    let item = platform.store.get(&in_person::money_key(studio_id, booking_id)).await?;
    let net = item.as_ref().and_then(|i| i.number("net_minor").ok()).unwrap_or(0);
    let moves = item.as_ref().and_then(|i| i.number("moves").ok());
    Ok((net, moves))
}

/// The payment a provider's intent belongs to, if Atelier made it.
pub async fn by_intent(
    platform: &Platform,
    provider: &str,
    intent_id: &str,
) -> Result<Option<Payment>, AppError> {
    let Some(pointer) = platform.store.get(&intent_key(provider, intent_id)).await? else { return Ok(None) };
    let studio_id = StudioId::new(pointer.string("studio_id")?);
    let payment_id = PaymentId::new(pointer.string("payment_id")?);
    match load(platform, &studio_id, &payment_id).await {
        Ok(p) => Ok(Some(p)),
        Err(AppError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The date `at` falls on in `zone`, as `YYYY-MM-DD` (the day a movement counts on).
pub fn local_date(at: Timestamp, zone: &str) -> String {
    let tz = jiff::tz::TimeZone::get(zone).unwrap_or(jiff::tz::TimeZone::UTC);
    at.to_zoned_datetime(tz).date().to_string()
}
