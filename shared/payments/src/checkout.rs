//! Asking for money: the deposit of a held booking, or the balance of a confirmed one, as a
//! payment with the provider's intent. Made once per booking and purpose whatever the retries:
//! the provider call carries `booking:<id>:<purpose>` as its idempotency key, and a guard item
//! makes the record unique, so concurrent or repeated requests end on the same payment.

use std::collections::BTreeMap;

use async_trait::async_trait;
use atelier_bookings::deposits::{DepositCheckout, PaymentDue};
use atelier_bookings::tx::{Failure, Part, Tx};
use atelier_bookings::{Booking, relation};
use atelier_domain::bookings::{BookingStatus, PendingReason};
use atelier_domain::ids::{BookingId, PaymentId, UserId};
use atelier_domain::money::Money;
use atelier_domain::payments::{PaymentStatus, to_provider_amount};
use atelier_platform::payments::{NewIntent, ProviderError};
use atelier_platform::store::{Item, Key, WriteOp};
use atelier_platform::{AppError, Platform};
use atelier_studios::{Actor, studio_item};

use crate::conflicts::{NOTHING_DUE, PAYMENT_DECLINED, PROVIDER_REFUSED, PROVIDER_UNAVAILABLE};
use crate::{Method, Payment, Purpose, intent_key, load, provider};

/// A provider failure as the caller sees it.
pub fn provider_error(e: ProviderError) -> AppError {
    match e {
        ProviderError::Declined { message, .. } => AppError::PaymentRequired(PAYMENT_DECLINED, message),
        ProviderError::Refused(message) => AppError::Unprocessable(PROVIDER_REFUSED, message),
        e @ ProviderError::Unavailable { .. } => {
            tracing::warn!(error = %atelier_platform::error::chain(&e), "payment provider unavailable");
            AppError::DependencyUnavailable(
                PROVIDER_UNAVAILABLE,
                "the payment provider did not answer; retry with the same Idempotency-Key".into(),
            )
        }
    }
}

fn guard_key(booking: &Booking, purpose: Purpose) -> Key {
    studio_item(&booking.studio_id, format!("BOOKING#{}#CHECKOUT#{}", booking.id, purpose.as_str()))
}

/// What the client pays, from the payment.
pub fn due(payment: &Payment, booking: &Booking) -> PaymentDue {
    PaymentDue {
        payment_id: payment.id.to_string(),
        purpose: payment.purpose.as_str().to_owned(),
        amount_minor: payment.amount_minor,
        currency: payment.currency.to_string(),
        provider: payment.provider.clone().unwrap_or_default(),
        client_secret: payment.client_secret.clone(),
        status: payment.status.as_str().to_owned(),
        hold_until: if payment.purpose == Purpose::Deposit { booking.timers.hold_until } else { None },
    }
}

/// How much `purpose` asks of `booking` now.
async fn amount_due(platform: &Platform, booking: &Booking, purpose: Purpose) -> Result<i64, AppError> {
    match purpose {
        Purpose::Deposit => {
            if booking.status != BookingStatus::Pending
                || booking.pending_reason != Some(PendingReason::Deposit)
                || booking.deposit_minor <= 0
            {
                return Err(AppError::Conflict(
                    NOTHING_DUE,
                    "this booking is not waiting for a deposit".into(),
                ));
            }
            Ok(booking.deposit_minor)
        }
        Purpose::Balance => {
            if booking.status != BookingStatus::Confirmed && booking.status != BookingStatus::Completed {
                return Err(AppError::Conflict(
                    NOTHING_DUE,
                    "a balance is paid for a confirmed or completed booking".into(),
                ));
            }
            let (net, _) = crate::booking_money(platform, &booking.studio_id, &booking.id).await?;
            let left = booking.price_minor - net;
            if left <= 0 {
                return Err(AppError::Conflict(NOTHING_DUE, "this booking is paid in full".into()));
            }
            Ok(left)
        }
    }
}

/// The payment of `purpose` for `booking`, created with its intent the first time.
pub async fn checkout(
    platform: &Platform,
    booking: &Booking,
    purpose: Purpose,
    by: Option<&UserId>,
) -> Result<PaymentDue, AppError> {
    let guard = guard_key(booking, purpose);
    if let Some(existing) = existing(platform, &guard, booking).await? {
        return Ok(existing);
    }
    let amount = amount_due(platform, booking, purpose).await?;
    let provider = provider(platform)?;
    let money = Money::new(amount, booking.currency.clone());
    let provider_amount = to_provider_amount(&money)?;
    // Named after the booking and purpose, so every retry sends the provider the same
    // parameters under the same idempotency key (Stripe refuses a key reused with others).
    let new_id = PaymentId::new(format!("{}-{}", booking.id, purpose.as_str()));
    let metadata: BTreeMap<String, String> = [
        ("studio_id", booking.studio_id.to_string()),
        ("booking_id", booking.id.to_string()),
        ("payment_id", new_id.to_string()),
        ("purpose", purpose.as_str().to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let intent = provider
        .create_intent(&NewIntent {
            amount: provider_amount,
            currency: booking.currency.code().to_lowercase(),
            idempotency_key: format!("booking:{}:{}", booking.id, purpose.as_str()),
            metadata,
        })
        .await
        .map_err(provider_error)?;
    let id = new_id;
    let now = platform.clock.now();
    let payment = Payment {
        id: id.clone(),
        studio_id: booking.studio_id.clone(),
        booking_id: booking.id.clone(),
        client_id: booking.client_id.clone(),
        client_user_id: booking.client_user_id.clone(),
        purpose,
        method: Method::Online,
        provider: Some(provider.name().to_owned()),
        intent_id: Some(intent.id.clone()),
        client_secret: intent.client_secret.clone(),
        amount_minor: amount,
        currency: booking.currency.clone(),
        status: PaymentStatus::AwaitingPayment,
        received_minor: 0,
        refunded_minor: 0,
        last_error: None,
        reference: None,
        recorded_by: by.cloned(),
        time_zone: booking.time_zone.clone(),
        created_at: now,
        updated_at: now,
        succeeded_at: None,
        version: 1,
    };
    let mut tx = Tx::new();
    tx.push(WriteOp::create(payment.to_item()?), Part::Check("the payment"));
    tx.push(WriteOp::create(Item::new(&guard).with("payment_id", id.as_str())), Part::Check("the checkout"));
    tx.push(
        WriteOp::put(
            Item::new(&intent_key(provider.name(), &intent.id))
                .with("studio_id", booking.studio_id.as_str())
                .with("payment_id", id.as_str()),
        ),
        Part::Other,
    );
    match tx.commit(platform).await {
        Ok(()) => {
            // A retried call may find the intent already moved on (the client paid meanwhile);
            // a fresh one has nothing to apply, and the booking's request reads nothing more.
            if crate::intents::status_of(&intent) != PaymentStatus::AwaitingPayment
                || intent.last_error.is_some()
            {
                crate::intents::apply_intent(platform, provider.name(), &intent, None).await?;
            }
            Ok(due(&payment, booking))
        }
        Err(Failure::Condition(_)) => existing(platform, &guard, booking).await?.ok_or_else(|| {
            AppError::Conflict(atelier_platform::error::CHANGED_MEANWHILE, "try again".into())
        }),
        Err(Failure::Error(e)) => Err(e),
    }
}

async fn existing(
    platform: &Platform,
    guard: &Key,
    booking: &Booking,
) -> Result<Option<PaymentDue>, AppError> {
    let Some(item) = platform.store.get(guard).await? else { return Ok(None) };
    let payment = load(platform, &booking.studio_id, &PaymentId::new(item.string("payment_id")?)).await?;
    Ok(Some(due(&payment, booking)))
}

/// The bookings capability's seam: a held booking's deposit.
#[derive(Debug, Clone, Copy)]
pub struct Deposits;

#[async_trait]
impl DepositCheckout for Deposits {
    async fn checkout(&self, platform: &Platform, booking: &Booking) -> Result<PaymentDue, AppError> {
        checkout(platform, booking, Purpose::Deposit, booking.created_by.as_ref()).await
    }
}

/// The checkout of `purpose` for a booking the caller may see (its client, its professional,
/// managers).
pub async fn for_caller(
    platform: &Platform,
    actor: Actor<'_>,
    booking_id: &BookingId,
    purpose: Purpose,
) -> Result<PaymentDue, AppError> {
    let booking = atelier_bookings::load(platform, actor.studio_id(), booking_id).await?;
    relation(actor.access, &booking)?;
    let user = UserId::from(actor.user_id());
    checkout(platform, &booking, purpose, Some(&user)).await
}
