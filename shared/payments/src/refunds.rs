//! Refunds. Each is first promised on its payment (the refunded amount grows under the
//! payment's version, so concurrent refunds never add up to more than was received), then made
//! with one provider call keyed `refund:<id>`, so a retry never refunds twice; a refund the
//! provider could not be reached for stays pending and the retry job makes it. A cancelled
//! booking is owed what was received beyond the fee its copied policy keeps.

use std::collections::BTreeMap;

use atelier_bookings::tx::{Failure, Part, Tx};
use atelier_domain::bookings::BookingStatus;
use atelier_domain::ids::{BookingId, PaymentId, RefundId, StudioId, UserId};
use atelier_domain::money::{Currency, Money};
use atelier_domain::payments::{
    PaymentStatus, RefundRefused, cancellation_refunds, check_refund, to_provider_amount,
};
use atelier_platform::idempotency::{IdempotencyKey, Outcome};
use atelier_platform::payments::{NewRefund, ProviderError, ProviderRefund, RefundStatus};
use atelier_platform::store::{Condition, Item, Key, Query, SortKey, StoreError, WriteOp};
use atelier_platform::{AppError, Platform};
use atelier_studios::{Actor, studio_item};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::conflicts::{PAYMENT_NOT_RECEIVED, REFUND_EXCEEDS_PAYMENT};
use crate::intents::{PaymentEvent, REFUNDED, stage};
use crate::ledger::{self, DayCounts, EntryActor, EntryKind, LedgerEntry};
use crate::{Method, Payment, load, provider};

/// Why money goes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundCause {
    /// The booking was cancelled: what was paid beyond the policy's fee.
    Cancellation,
    /// Paid after the booking's hold expired: all of it.
    LatePayment,
    /// A manager refunded it.
    Staff,
    /// Made at the provider (its dashboard), learnt from its webhook.
    Provider,
}

/// Where a refund stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundState {
    /// Promised; the provider has not confirmed it yet.
    Pending,
    /// Returned.
    Succeeded,
    /// The provider could not return it; the amount is refundable again.
    Failed,
}

/// A refund as stored and shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Refund {
    /// Id.
    #[schema(value_type = String)]
    pub id: RefundId,
    /// The payment.
    #[schema(value_type = String)]
    pub payment_id: PaymentId,
    /// The studio.
    #[schema(value_type = String)]
    pub studio_id: StudioId,
    /// The booking.
    #[schema(value_type = String)]
    pub booking_id: BookingId,
    /// Minor units.
    pub amount_minor: i64,
    /// Currency.
    #[schema(value_type = String)]
    pub currency: Currency,
    /// Why.
    pub cause: RefundCause,
    /// In words.
    #[serde(default)]
    pub reason: String,
    /// Where it stands.
    pub status: RefundState,
    /// The provider's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_refund_id: Option<String>,
    /// The provider's last refusal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Who asked (absent: Atelier's policy, or the provider).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub requested_by: Option<UserId>,
    /// Created.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Last changed.
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
    /// Version.
    pub version: i64,
}

/// Key of a refund.
pub fn refund_key(studio_id: &StudioId, payment_id: &PaymentId, refund_id: &RefundId) -> Key {
    studio_item(studio_id, format!("REFUND#{payment_id}#{refund_id}"))
}

/// Partition listing refunds waiting for the provider (read by the retry job).
pub const PENDING_PARTITION: &str = "REFUNDS#PENDING";

fn pending_key(refund: &Refund) -> Key {
    Key::new(
        PENDING_PARTITION,
        format!(
            "{}#{}#{}#{}",
            atelier_bookings::sort_instant(refund.created_at),
            refund.studio_id,
            refund.payment_id,
            refund.id
        ),
    )
}

/// The item leading from a provider refund to Atelier's.
pub fn provider_refund_key(provider: &str, provider_refund_id: &str) -> Key {
    Key::new(format!("PAYREFUND#{provider}#{provider_refund_id}"), "REFUND")
}

impl Refund {
    fn write(&self, read_version: Option<i64>) -> Result<WriteOp, StoreError> {
        let item = Item::from_record(&refund_key(&self.studio_id, &self.payment_id, &self.id), self)?;
        Ok(match read_version {
            Some(v) => WriteOp::put(item).when(Condition::version_is(v)),
            None => WriteOp::create(item),
        })
    }
}

/// A payment's refunds, oldest first.
pub async fn of_payment(platform: &Platform, payment: &Payment) -> Result<Vec<Refund>, AppError> {
    let query = Query::partition(atelier_studios::studio_partition(&payment.studio_id))
        .sort(SortKey::BeginsWith(format!("REFUND#{}#", payment.id)))
        .limit(100);
    let found = platform.store.query(&query).await?;
    let mut refunds: Vec<Refund> = found.items.iter().map(Item::to_record).collect::<Result<_, _>>()?;
    refunds.sort_by_key(|r| r.created_at);
    Ok(refunds)
}

async fn load_refund(
    platform: &Platform,
    studio_id: &StudioId,
    payment_id: &PaymentId,
    id: &RefundId,
) -> Result<Refund, AppError> {
    let item = platform.store.get(&refund_key(studio_id, payment_id, id)).await?;
    item.map(|i| i.to_record()).transpose()?.ok_or(AppError::NotFound("refund"))
}

fn refused(e: RefundRefused) -> AppError {
    match e {
        RefundRefused::NotPositive => {
            atelier_domain::Invalid::field("amount_minor", "must be more than 0").into()
        }
        RefundRefused::MoreThanPaid { .. } => AppError::Unprocessable(REFUND_EXCEEDS_PAYMENT, e.to_string()),
        RefundRefused::NotReceived => AppError::Conflict(PAYMENT_NOT_RECEIVED, e.to_string()),
    }
}

/// Promises a refund of `amount` on `payment`: the refund record, the payment's refunded amount
/// grown under its version, and (for requests) the idempotency record, in one transaction.
/// `Ok(None)`: the payment changed meanwhile (read it again).
async fn reserve(
    platform: &Platform,
    payment: &Payment,
    amount: i64,
    cause: RefundCause,
    reason: &str,
    by: Option<&Actor<'_>>,
    key: Option<&IdempotencyKey>,
) -> Result<Option<Refund>, AppError> {
    check_refund(amount, payment.status, payment.received_minor, payment.refunded_minor).map_err(refused)?;
    if payment.method != Method::Online {
        return Err(AppError::Conflict(
            PAYMENT_NOT_RECEIVED,
            "a payment made in person is returned in person; record it as an adjustment".into(),
        ));
    }
    let now = platform.clock.now();
    let refund = Refund {
        id: RefundId::new(platform.ids.new_id()),
        payment_id: payment.id.clone(),
        studio_id: payment.studio_id.clone(),
        booking_id: payment.booking_id.clone(),
        amount_minor: amount,
        currency: payment.currency.clone(),
        cause,
        reason: reason.to_owned(),
        status: RefundState::Pending,
        provider_refund_id: None,
        last_error: None,
        requested_by: by.map(|a| a.user_id().clone()),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let mut after = payment.clone();
    after.refunded_minor += amount;
    after.version += 1;
    after.updated_at = now;
    let mut tx = Tx::new();
    tx.push(after.replace(payment.version)?, Part::Check("the payment"));
    tx.push(refund.write(None)?, Part::Other);
    tx.push(WriteOp::put(Item::new(&pending_key(&refund))), Part::Other);
    if let Some(actor) = by {
        tx.push(
            actor.audit(
                platform,
                "payments.refund_requested",
                "payment",
                &payment.id,
                serde_json::json!({ "refund_id": refund.id, "amount_minor": amount, "reason": reason }),
            )?,
            Part::Other,
        );
    }
    if let Some(key) = key {
        let body = serde_json::to_value(&refund).map_err(|e| AppError::failed("encoding a refund", e))?;
        tx.push(key.remember(&Outcome { created: true, body }, now)?, Part::Idempotency);
    }
    match tx.commit(platform).await {
        Ok(()) => Ok(Some(refund)),
        Err(Failure::Condition(Part::Check(_))) => Ok(None),
        Err(f) => Err(f.into_error()),
    }
}

/// Makes a promised refund at the provider and records the answer. An unreachable provider
/// leaves it pending for the retry job; a refusal fails it and makes the amount refundable
/// again. A refund the provider already holds (it answered "pending") is read, never created
/// again: idempotency keys expire, refunds do not.
pub async fn execute(platform: &Platform, refund: Refund) -> Result<Refund, AppError> {
    if refund.status != RefundState::Pending {
        return Ok(refund);
    }
    let payment = load(platform, &refund.studio_id, &refund.payment_id).await?;
    let (Some(intent_id), Ok(provider)) = (&payment.intent_id, provider(platform)) else {
        return Ok(refund);
    };
    if payment.provider.as_deref() != Some(provider.name()) {
        tracing::warn!(refund_id = %refund.id, "refund of a payment made through another provider left pending");
        return Ok(refund);
    }
    let answer = match &refund.provider_refund_id {
        Some(id) => provider.retrieve_refund(id).await,
        None => {
            let amount = to_provider_amount(&Money::new(refund.amount_minor, refund.currency.clone()))?;
            let metadata: BTreeMap<String, String> = [
                ("studio_id".to_owned(), refund.studio_id.to_string()),
                ("payment_id".to_owned(), refund.payment_id.to_string()),
                ("refund_id".to_owned(), refund.id.to_string()),
            ]
            .into();
            provider
                .create_refund(&NewRefund {
                    intent_id: intent_id.clone(),
                    amount,
                    idempotency_key: format!("refund:{}", refund.id),
                    metadata,
                })
                .await
        }
    };
    match answer {
        Ok(made) => match made.status {
            RefundStatus::Succeeded => complete(platform, refund, &made, provider.name(), None).await,
            RefundStatus::Pending if refund.provider_refund_id.is_none() => {
                remember_provider_id(platform, refund, &made, provider.name()).await
            }
            RefundStatus::Pending => Ok(refund),
            RefundStatus::Failed | RefundStatus::Canceled => {
                fail(platform, refund, "the provider could not return the money".into()).await
            }
        },
        Err(e @ ProviderError::Unavailable { .. }) => {
            tracing::warn!(refund_id = %refund.id, error = %atelier_platform::error::chain(&e), "refund left pending");
            Ok(refund)
        }
        Err(ProviderError::Refused(message) | ProviderError::Declined { message, .. }) => {
            tracing::error!(refund_id = %refund.id, %message, "the provider refused a refund");
            fail(platform, refund, message).await
        }
    }
}

async fn remember_provider_id(
    platform: &Platform,
    refund: Refund,
    made: &ProviderRefund,
    provider: &str,
) -> Result<Refund, AppError> {
    let mut after = refund.clone();
    after.provider_refund_id = Some(made.id.clone());
    after.version += 1;
    after.updated_at = platform.clock.now();
    let mut tx = Tx::new();
    tx.push(after.write(Some(refund.version))?, Part::Check("the refund"));
    tx.push(provider_pointer(provider, &made.id, &after), Part::Other);
    match tx.commit(platform).await {
        Ok(()) => Ok(after),
        Err(Failure::Condition(_)) => {
            load_refund(platform, &refund.studio_id, &refund.payment_id, &refund.id).await
        }
        Err(Failure::Error(e)) => Err(e),
    }
}

fn provider_pointer(provider: &str, provider_refund_id: &str, refund: &Refund) -> WriteOp {
    WriteOp::put(
        Item::new(&provider_refund_key(provider, provider_refund_id))
            .with("studio_id", refund.studio_id.as_str())
            .with("payment_id", refund.payment_id.as_str())
            .with("refund_id", refund.id.as_str()),
    )
}

/// Records a refund returned: its state, its ledger entry, the day's counter, its event; with
/// the provider event that reported it, when one did.
async fn complete(
    platform: &Platform,
    refund: Refund,
    made: &ProviderRefund,
    provider: &str,
    event: Option<&str>,
) -> Result<Refund, AppError> {
    let now = platform.clock.now();
    let payment = load(platform, &refund.studio_id, &refund.payment_id).await?;
    let mut after = refund.clone();
    after.status = RefundState::Succeeded;
    after.provider_refund_id = Some(made.id.clone());
    after.version += 1;
    after.updated_at = now;
    let by = match (refund.cause, &refund.requested_by) {
        (_, Some(user)) => EntryActor::User { user_id: user.clone() },
        (RefundCause::Provider, None) => EntryActor::Provider,
        _ => EntryActor::System,
    };
    let mut tx = Tx::new();
    tx.push(after.write(Some(refund.version))?, Part::Check("the refund"));
    for op in returned_writes(platform, &payment, &refund, by, -1)? {
        tx.push(op, Part::Other);
    }
    tx.push(WriteOp::delete(pending_key(&refund)), Part::Other);
    tx.push(provider_pointer(provider, &made.id, &after), Part::Other);
    if let Some(id) = event {
        tx.push(crate::intents::event_marker(provider, id, now), Part::Idempotency);
    }
    tx.event(stage(platform, REFUNDED, &refunded_event(&payment, &refund))?);
    match tx.commit(platform).await {
        Ok(()) => {
            crate::intents::count(platform, "refunded");
            Ok(after)
        }
        // Completed meanwhile (the provider's answer and its webhook race): read it.
        Err(Failure::Condition(_)) => {
            load_refund(platform, &refund.studio_id, &refund.payment_id, &refund.id).await
        }
        Err(Failure::Error(e)) => Err(e),
    }
}

/// Records a refund the provider could not make, and gives its amount back to the payment.
async fn fail(platform: &Platform, refund: Refund, message: String) -> Result<Refund, AppError> {
    for _ in 0..5 {
        let now = platform.clock.now();
        let payment = load(platform, &refund.studio_id, &refund.payment_id).await?;
        let current = load_refund(platform, &refund.studio_id, &refund.payment_id, &refund.id).await?;
        if current.status != RefundState::Pending {
            return Ok(current);
        }
        let mut after = current.clone();
        after.status = RefundState::Failed;
        after.last_error = Some(message.clone());
        after.version += 1;
        after.updated_at = now;
        let mut released = payment.clone();
        released.refunded_minor = (payment.refunded_minor - refund.amount_minor).max(0);
        released.version += 1;
        released.updated_at = now;
        let mut tx = Tx::new();
        tx.push(after.write(Some(current.version))?, Part::Check("the refund"));
        tx.push(released.replace(payment.version)?, Part::Check("the payment"));
        tx.push(WriteOp::delete(pending_key(&refund)), Part::Other);
        match tx.commit(platform).await {
            Ok(()) => return Ok(after),
            Err(Failure::Condition(_)) => continue,
            Err(Failure::Error(e)) => return Err(e),
        }
    }
    Err(AppError::Conflict(atelier_platform::error::CHANGED_MEANWHILE, "the refund kept changing".into()))
}

/// A manager's refund request.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    /// Minor units, at most what is left of the payment.
    pub amount_minor: i64,
    /// The payment's currency (optional; another one is refused).
    #[serde(default)]
    pub currency: Option<String>,
    /// Why (up to 500 characters).
    #[serde(default)]
    pub reason: String,
}

/// Refunds (part of) a payment (managers). Never more than is left of it, however many
/// requests run at once; the same `Idempotency-Key` gets the same refund.
pub async fn request(
    platform: &Platform,
    actor: Actor<'_>,
    payment_id: &PaymentId,
    request: &RefundRequest,
    key: Option<IdempotencyKey>,
) -> Result<(bool, Refund), AppError> {
    let reason = atelier_domain::studios::check_text(&request.reason, 500, "reason")?;
    if let Some(key) = &key
        && let Some(outcome) = key.lookup(platform).await?
    {
        let stored: Refund = serde_json::from_value(outcome.body)
            .map_err(|e| AppError::failed("reading a stored refund", e))?;
        return Ok((false, load_refund(platform, actor.studio_id(), &stored.payment_id, &stored.id).await?));
    }
    for _ in 0..8 {
        let payment = load(platform, actor.studio_id(), payment_id).await?;
        if let Some(code) = &request.currency
            && !code.eq_ignore_ascii_case(payment.currency.code())
        {
            return Err(AppError::Unprocessable(
                crate::conflicts::WRONG_CURRENCY,
                format!("this payment is in {}", payment.currency),
            ));
        }
        if let Some(refund) = reserve(
            platform,
            &payment,
            request.amount_minor,
            RefundCause::Staff,
            &reason,
            Some(&actor),
            key.as_ref(),
        )
        .await?
        {
            return Ok((true, execute(platform, refund).await?));
        }
    }
    Err(AppError::Conflict(
        atelier_platform::error::CHANGED_MEANWHILE,
        "the payment kept changing; try again".into(),
    ))
}

/// Refunds what a cancelled booking does not owe: everything received online beyond the fee
/// its copied policy keeps (less what was paid in person), latest payment first. Safe to run
/// any number of times, concurrently: what is already refunded or promised is not owed again.
pub async fn settle_cancelled(
    platform: &Platform,
    studio_id: &StudioId,
    booking_id: &BookingId,
) -> Result<Vec<Refund>, AppError> {
    let booking = atelier_bookings::load(platform, studio_id, booking_id).await?;
    if booking.status != BookingStatus::Cancelled {
        return Ok(Vec::new());
    }
    let fee = booking.cancellation.as_ref().map_or(0, |c| c.fee_minor);
    let cause =
        if booking.cancellation.as_ref().is_some_and(|c| c.by_kind == atelier_bookings::ActorKind::System) {
            RefundCause::LatePayment
        } else {
            RefundCause::Cancellation
        };
    let reason = match cause {
        RefundCause::LatePayment => "paid after the booking's hold expired",
        _ => "the booking was cancelled",
    };
    let mut made = Vec::new();
    'attempts: for _ in 0..8 {
        let payments = crate::of_booking(platform, studio_id, booking_id).await?;
        cancel_unpaid(platform, &payments).await;
        let in_person: i64 = payments
            .iter()
            .filter(|p| p.method != Method::Online && p.status == PaymentStatus::Succeeded)
            .map(|p| p.received_minor - p.refunded_minor)
            .sum();
        let online: Vec<(usize, i64)> = payments
            .iter()
            .enumerate()
            .filter(|(_, p)| {
                p.method == Method::Online
                    && p.status == PaymentStatus::Succeeded
                    && p.currency == booking.currency
            })
            .map(|(i, p)| (i, atelier_domain::payments::refundable(p.received_minor, p.refunded_minor)))
            .collect();
        let owed = cancellation_refunds(&online, (fee - in_person).max(0));
        let received: i64 = in_person + online.iter().map(|(_, left)| left).sum::<i64>();
        count_fee_kept(platform, &booking, fee.min(received)).await?;
        for (i, amount) in owed {
            match reserve(platform, &payments[i], amount, cause, reason, None, None).await? {
                Some(refund) => made.push(execute(platform, refund).await?),
                // Another settlement or refund moved the payment: work it out again.
                None => continue 'attempts,
            }
        }
        return Ok(made);
    }
    Err(AppError::Conflict(
        atelier_platform::error::CHANGED_MEANWHILE,
        "the booking's payments kept changing".into(),
    ))
}

/// Counts, once per booking, the cancellation fee kept out of what was paid (for reports).
async fn count_fee_kept(
    platform: &Platform,
    booking: &atelier_bookings::Booking,
    kept: i64,
) -> Result<(), AppError> {
    if kept <= 0 {
        return Ok(());
    }
    let now = platform.clock.now();
    let guard = atelier_studios::studio_item(&booking.studio_id, format!("BOOKING#{}#FEEKEPT", booking.id));
    let mut tx = Tx::new();
    tx.push(WriteOp::create(Item::new(&guard).with("fee_kept_minor", kept)), Part::Idempotency);
    tx.push(
        ledger::count(
            &booking.studio_id,
            now,
            &booking.time_zone,
            &booking.currency,
            DayCounts { fees_kept_minor: kept, ..DayCounts::default() },
        ),
        Part::Other,
    );
    match tx.commit(platform).await {
        Ok(()) | Err(Failure::Condition(_)) => Ok(()),
        Err(Failure::Error(e)) => Err(e),
    }
}

/// Cancels the intents of a gone booking that were never paid, so a late payment is less
/// likely (one that still succeeds is refunded).
async fn cancel_unpaid(platform: &Platform, payments: &[Payment]) {
    let Ok(provider) = provider(platform) else { return };
    for p in payments.iter().filter(|p| p.status == PaymentStatus::AwaitingPayment) {
        let Some(intent_id) = &p.intent_id else { continue };
        // The provider's `payment_intent.canceled` webhook records it on the payment.
        match provider.cancel_intent(intent_id).await {
            Ok(_) => tracing::info!(payment_id = %p.id, "unpaid intent canceled"),
            Err(e) => tracing::info!(payment_id = %p.id, error = %e, "intent not canceled"),
        }
    }
}

/// What the retry job did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RetryReport {
    /// Refunds tried.
    pub tried: usize,
    /// Now returned.
    pub succeeded: usize,
    /// Still pending.
    pub pending: usize,
}

/// Makes the refunds still pending a minute after they were promised (the provider was down,
/// or the process stopped between the promise and the call).
pub async fn retry_pending(platform: &Platform) -> Result<RetryReport, AppError> {
    let before = atelier_bookings::sort_instant(platform.clock.now() - jiff::SignedDuration::from_mins(1));
    let found = platform
        .store
        .query(&Query::partition(PENDING_PARTITION).sort(SortKey::Le(format!("{before}~"))).limit(100))
        .await?;
    let mut report = RetryReport::default();
    let started = std::time::Instant::now();
    for item in &found.items {
        // A run stops starting provider calls after 30 s (the scheduler's timeout is 60 s);
        // the next run goes on.
        if started.elapsed() > std::time::Duration::from_secs(30) {
            break;
        }
        let Some(key) = item.key() else { continue };
        let parts: Vec<&str> = key.sk.split('#').collect();
        let [_, studio, payment, refund] = parts.as_slice() else { continue };
        let refund = match load_refund(
            platform,
            &StudioId::from(studio),
            &PaymentId::from(payment),
            &RefundId::from(refund),
        )
        .await
        {
            Ok(r) => r,
            Err(AppError::NotFound(_)) => {
                platform.store.write(WriteOp::delete(key)).await?;
                continue;
            }
            Err(e) => return Err(e),
        };
        report.tried += 1;
        let after = execute(platform, refund).await?;
        match after.status {
            RefundState::Succeeded => report.succeeded += 1,
            RefundState::Pending => report.pending += 1,
            RefundState::Failed => {}
        }
    }
    Ok(report)
}

/// Applies a refund the provider reports (its webhook): completes or fails Atelier's own, or
/// records one made at the provider. A refund reported before its payment's success (events out
/// of order) first brings the payment up to date from the provider.
pub async fn apply_provider_refund(
    platform: &Platform,
    provider_name: &str,
    made: &ProviderRefund,
    event: Option<&str>,
) -> Result<(), AppError> {
    let ours = match (
        made.metadata.get("studio_id"),
        made.metadata.get("payment_id"),
        made.metadata.get("refund_id"),
    ) {
        (Some(s), Some(p), Some(r)) => {
            match load_refund(platform, &StudioId::from(s), &PaymentId::from(p), &RefundId::from(r)).await {
                Ok(refund) => Some(refund),
                Err(AppError::NotFound(_)) => None,
                Err(e) => return Err(e),
            }
        }
        _ => match platform.store.get(&provider_refund_key(provider_name, &made.id)).await? {
            Some(pointer) => Some(
                load_refund(
                    platform,
                    &StudioId::new(pointer.string("studio_id")?),
                    &PaymentId::new(pointer.string("payment_id")?),
                    &RefundId::new(pointer.string("refund_id")?),
                )
                .await?,
            ),
            None => None,
        },
    };
    if let Some(refund) = ours {
        match (refund.status, made.status) {
            (RefundState::Pending, RefundStatus::Succeeded) => {
                complete(platform, refund, made, provider_name, event).await?;
            }
            (RefundState::Pending, RefundStatus::Failed | RefundStatus::Canceled) => {
                fail(platform, refund, "the provider could not return the money".into()).await?;
            }
            (RefundState::Succeeded, RefundStatus::Failed | RefundStatus::Canceled) => {
                reverse(platform, refund, provider_name, event).await?;
            }
            _ => mark(platform, provider_name, event).await?,
        }
        return Ok(());
    }
    // Made at the provider: find its payment, up to date.
    let Some(mut payment) = crate::by_intent(platform, provider_name, &made.intent_id).await? else {
        tracing::info!(refund = %made.id, "refund of a payment Atelier did not make; ignored");
        return mark(platform, provider_name, event).await;
    };
    if payment.status != PaymentStatus::Succeeded {
        let intent = provider(platform)?
            .retrieve_intent(&made.intent_id)
            .await
            .map_err(crate::checkout::provider_error)?;
        payment =
            crate::intents::apply_intent(platform, provider_name, &intent, None).await?.unwrap_or(payment);
    }
    if made.status != RefundStatus::Succeeded {
        return mark(platform, provider_name, event).await;
    }
    let amount = atelier_domain::payments::from_provider_amount(made.amount, &payment.currency);
    for _ in 0..5 {
        if record_external(platform, &payment, made, amount, provider_name, event).await? {
            return Ok(());
        }
        payment = load(platform, &payment.studio_id, &payment.id).await?;
    }
    Err(AppError::Conflict(atelier_platform::error::CHANGED_MEANWHILE, "the payment kept changing".into()))
}

/// Records a refund made at the provider in one transaction, already returned: the payment's
/// refunded amount under its version, the refund (named after the provider's), the pointer
/// from the provider's id (created once: a redelivery or a concurrent delivery finds it), the
/// ledger entry, the counters, the event marker. `Ok(false)`: the payment changed meanwhile.
async fn record_external(
    platform: &Platform,
    payment: &Payment,
    made: &ProviderRefund,
    amount: i64,
    provider: &str,
    event: Option<&str>,
) -> Result<bool, AppError> {
    let now = platform.clock.now();
    // What the provider returned is recorded whole; a payment it over-refunded shows it.
    let refund = Refund {
        id: RefundId::new(format!("provider-{}", made.id)),
        payment_id: payment.id.clone(),
        studio_id: payment.studio_id.clone(),
        booking_id: payment.booking_id.clone(),
        amount_minor: amount,
        currency: payment.currency.clone(),
        cause: RefundCause::Provider,
        reason: "refunded at the provider".into(),
        status: RefundState::Succeeded,
        provider_refund_id: Some(made.id.clone()),
        last_error: None,
        requested_by: None,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let mut after = payment.clone();
    after.refunded_minor += amount;
    after.version += 1;
    after.updated_at = now;
    let mut tx = Tx::new();
    tx.push(after.replace(payment.version)?, Part::Check("the payment"));
    // Named after the provider's refund: a second delivery finds it (as it finds the pointer).
    tx.push(refund.write(None)?, Part::Idempotency);
    tx.push(
        WriteOp::create(
            Item::new(&provider_refund_key(provider, &made.id))
                .with("studio_id", refund.studio_id.as_str())
                .with("payment_id", refund.payment_id.as_str())
                .with("refund_id", refund.id.as_str()),
        ),
        Part::Idempotency,
    );
    for op in returned_writes(platform, payment, &refund, EntryActor::Provider, -1)? {
        tx.push(op, Part::Other);
    }
    if let Some(id) = event {
        tx.push(crate::intents::event_marker(provider, id, now), Part::Idempotency);
    }
    tx.event(stage(platform, REFUNDED, &refunded_event(payment, &refund))?);
    match tx.commit(platform).await {
        Ok(()) => {
            crate::intents::count(platform, "refunded");
            Ok(true)
        }
        // Recorded by another delivery of the same refund.
        Err(Failure::Condition(Part::Idempotency)) => Ok(true),
        Err(Failure::Condition(_)) => Ok(false),
        Err(Failure::Error(e)) => Err(e),
    }
}

/// The event telling a refund.
fn refunded_event(payment: &Payment, refund: &Refund) -> PaymentEvent {
    let mut payload = PaymentEvent::of(payment);
    payload.refund_id = Some(refund.id.clone());
    payload.refund_minor = Some(refund.amount_minor);
    payload.reason = Some(refund.reason.clone()).filter(|r| !r.is_empty());
    payload
}

/// The ledger entry, day counter and booking money of a refund returned (`sign` −1) or of a
/// returned refund the provider could not deliver after all (`sign` +1: the money is back).
fn returned_writes(
    platform: &Platform,
    payment: &Payment,
    refund: &Refund,
    by: EntryActor,
    sign: i64,
) -> Result<Vec<WriteOp>, StoreError> {
    let now = platform.clock.now();
    let (id, note) = if sign < 0 {
        (format!("refund-{}", refund.id), refund.reason.clone())
    } else {
        (
            format!("refund-failed-{}", refund.id),
            "the refund failed at the provider; the money is back".into(),
        )
    };
    let entry = LedgerEntry {
        id,
        at: now,
        kind: EntryKind::Refund,
        amount_minor: sign * refund.amount_minor,
        currency: refund.currency.clone(),
        payment_id: refund.payment_id.clone(),
        refund_id: Some(refund.id.clone()),
        booking_id: refund.booking_id.clone(),
        client_id: payment.client_id.clone(),
        purpose: payment.purpose,
        method: payment.method,
        by,
        note,
    };
    Ok(vec![
        ledger::entry_write(&refund.studio_id, &entry)?,
        ledger::count(
            &refund.studio_id,
            now,
            &payment.time_zone,
            &refund.currency,
            DayCounts { refunds_minor: -sign * refund.amount_minor, ..DayCounts::default() },
        ),
        crate::in_person::moved(&refund.studio_id, &refund.booking_id, sign * refund.amount_minor),
    ])
}

/// A refund that had succeeded and then failed at the provider (the card's account closed):
/// the money is back with the studio, the amount refundable again, the ledger says so.
async fn reverse(
    platform: &Platform,
    refund: Refund,
    provider: &str,
    event: Option<&str>,
) -> Result<(), AppError> {
    for _ in 0..5 {
        let now = platform.clock.now();
        let payment = load(platform, &refund.studio_id, &refund.payment_id).await?;
        let current = load_refund(platform, &refund.studio_id, &refund.payment_id, &refund.id).await?;
        if current.status != RefundState::Succeeded {
            return mark(platform, provider, event).await;
        }
        let mut after = current.clone();
        after.status = RefundState::Failed;
        after.last_error = Some("the provider could not deliver the refund".into());
        after.version += 1;
        after.updated_at = now;
        let mut released = payment.clone();
        released.refunded_minor = (payment.refunded_minor - refund.amount_minor).max(0);
        released.version += 1;
        released.updated_at = now;
        let mut tx = Tx::new();
        tx.push(after.write(Some(current.version))?, Part::Check("the refund"));
        tx.push(released.replace(payment.version)?, Part::Check("the payment"));
        for op in returned_writes(platform, &payment, &current, EntryActor::Provider, 1)? {
            tx.push(op, Part::Other);
        }
        if let Some(id) = event {
            tx.push(crate::intents::event_marker(provider, id, now), Part::Idempotency);
        }
        tracing::warn!(refund_id = %refund.id, "a refund failed at the provider after it succeeded");
        match tx.commit(platform).await {
            Ok(()) | Err(Failure::Condition(Part::Idempotency)) => return Ok(()),
            Err(Failure::Condition(_)) => continue,
            Err(Failure::Error(e)) => return Err(e),
        }
    }
    Err(AppError::Conflict(atelier_platform::error::CHANGED_MEANWHILE, "the refund kept changing".into()))
}

async fn mark(platform: &Platform, provider: &str, event: Option<&str>) -> Result<(), AppError> {
    if let Some(id) = event {
        match platform.store.write(crate::intents::event_marker(provider, id, platform.clock.now())).await {
            Ok(_) | Err(StoreError::ConditionFailed { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
