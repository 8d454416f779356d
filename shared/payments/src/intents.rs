//! What the provider says about an intent, applied to its payment: once, forward only, in one
//! transaction with everything it causes. A deposit received confirms the booking held for it
//! in the same transaction; received for a booking that is no longer held (its hold expired and
//! the slot may be someone else's), it is recorded and refunded, never confirmed: no double
//! booking, whatever the order of the webhook and the expiry job.

use atelier_bookings::changes::confirm_paid;
use atelier_bookings::tx::{Failure, Part, Tx};
use atelier_domain::bookings::{BookingStatus, PendingReason};
use atelier_domain::ids::{BookingId, PaymentId, RefundId, StudioId, UserId};
use atelier_domain::payments::{PaymentStatus, from_provider_amount};
use atelier_platform::events::Event;
use atelier_platform::outbox::{self, OutboxEntry};
use atelier_platform::payments::{Intent, IntentStatus};
use atelier_platform::store::{Item, Key, StoreError, WriteOp};
use atelier_platform::{AppError, Platform};
use atelier_studios::Actor;
use serde::{Deserialize, Serialize};

use crate::checkout::provider_error;
use crate::conflicts::PAYMENT_NOT_PAYABLE;
use crate::ledger::{self, EntryActor};
use crate::{Payment, PaymentView, Purpose, by_intent, load, provider};

/// A payment was received.
pub const SUCCEEDED: &str = "payment.succeeded";
/// A payment attempt was declined.
pub const FAILED: &str = "payment.failed";
/// A refund was returned.
pub const REFUNDED: &str = "payment.refunded";

/// Counts a payment outcome once its change has committed (`succeeded`, `failed`, `refunded`).
pub(crate) fn count(platform: &Platform, outcome: &'static str) {
    platform.metrics.count(atelier_platform::metrics::Metric::Payments, &[("outcome", outcome)]);
}

/// What payment events carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentEvent {
    /// The payment.
    pub payment_id: PaymentId,
    /// The studio.
    pub studio_id: StudioId,
    /// The booking.
    pub booking_id: BookingId,
    /// `deposit` or `balance`.
    pub purpose: Purpose,
    /// The payment's amount (received, for `payment.succeeded`).
    pub amount_minor: i64,
    /// Currency.
    pub currency: String,
    /// The refund, for `payment.refunded`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_id: Option<RefundId>,
    /// The refund's amount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_minor: Option<i64>,
    /// Why (a decline's message, a refund's reason).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl PaymentEvent {
    /// The event of `payment`.
    pub fn of(payment: &Payment) -> PaymentEvent {
        PaymentEvent {
            payment_id: payment.id.clone(),
            studio_id: payment.studio_id.clone(),
            booking_id: payment.booking_id.clone(),
            purpose: payment.purpose,
            amount_minor: if payment.received_minor > 0 {
                payment.received_minor
            } else {
                payment.amount_minor
            },
            currency: payment.currency.to_string(),
            refund_id: None,
            refund_minor: None,
            reason: None,
        }
    }
}

/// The outbox write for a payment event.
pub fn stage(
    platform: &Platform,
    kind: &str,
    payload: &PaymentEvent,
) -> Result<(WriteOp, OutboxEntry), StoreError> {
    let event = Event {
        id: platform.ids.new_id(),
        kind: kind.to_owned(),
        studio_id: Some(payload.studio_id.to_string()),
        occurred_at: platform.clock.now(),
        trace: None,
        payload: serde_json::to_value(payload).map_err(|e| StoreError::Encode(e.to_string()))?,
    };
    outbox::record(&event, &atelier_notifications::QUEUE)
}

/// The marker of a provider event applied (written with its effect, so a failed attempt leaves
/// no marker and the provider's retry applies it).
pub fn event_marker(provider: &str, event_id: &str, now: jiff::Timestamp) -> WriteOp {
    // Kept 40 days: longer than the provider retries or lists events.
    let expires = now.as_second() + 40 * 86_400;
    WriteOp::create(
        Item::new(&Key::new(format!("PAYEVENT#{provider}#{event_id}"), "APPLIED"))
            .with(atelier_platform::store::attr::TTL, expires),
    )
}

/// Whether the provider event was applied already.
pub async fn applied(platform: &Platform, provider: &str, event_id: &str) -> Result<bool, AppError> {
    Ok(platform.store.get(&Key::new(format!("PAYEVENT#{provider}#{event_id}"), "APPLIED")).await?.is_some())
}

/// The payment status a provider's intent status means.
pub(crate) fn status_of(intent: &Intent) -> PaymentStatus {
    match intent.status {
        IntentStatus::Succeeded => PaymentStatus::Succeeded,
        IntentStatus::Processing | IntentStatus::RequiresCapture => PaymentStatus::Processing,
        IntentStatus::Canceled => PaymentStatus::Canceled,
        IntentStatus::RequiresPaymentMethod
        | IntentStatus::RequiresConfirmation
        | IntentStatus::RequiresAction => PaymentStatus::AwaitingPayment,
    }
}

/// Applies the provider's view of `intent` to its payment (`event`: the provider event that
/// reported it, recorded with the effect). `Ok(None)`: not a payment Atelier made (the
/// reconciliation reports those). The payment as it is after.
pub async fn apply_intent(
    platform: &Platform,
    provider_name: &str,
    intent: &Intent,
    event: Option<&str>,
) -> Result<Option<Payment>, AppError> {
    for _ in 0..5 {
        let Some(payment) = by_intent(platform, provider_name, &intent.id).await? else { return Ok(None) };
        let next = status_of(intent);
        let now = platform.clock.now();
        // A decline reported again (another card declined) is news; one reported after the
        // payment succeeded is an old report arriving late.
        let declined_again = next == PaymentStatus::AwaitingPayment
            && matches!(payment.status, PaymentStatus::AwaitingPayment | PaymentStatus::Processing)
            && intent.last_error.is_some()
            && intent.last_error != payment.last_error;
        let mut tx = Tx::new();
        if let Some(id) = event {
            tx.push(event_marker(provider_name, id, now), Part::Idempotency);
        }
        if !payment.status.may_become(next) && !declined_again {
            // Nothing changes; remember the event so a redelivery is answered at once.
            if event.is_some() {
                match tx.commit(platform).await {
                    Ok(()) | Err(Failure::Condition(_)) => {}
                    Err(Failure::Error(e)) => return Err(e),
                }
            }
            return Ok(Some(payment));
        }
        let mut after = payment.clone();
        after.status = next;
        after.version += 1;
        after.updated_at = now;
        after.last_error = intent.last_error.clone();
        let mut events = Vec::new();
        let mut ops = Vec::new();
        ops.push((after.replace(payment.version)?, Part::Check("the payment")));
        if next == PaymentStatus::Succeeded {
            after.received_minor = from_provider_amount(intent.amount_received, &payment.currency);
            after.succeeded_at = Some(now);
            after.last_error = None;
            ops[0] = (after.replace(payment.version)?, Part::Check("the payment"));
            ops.extend(received_writes(platform, &after, EntryActor::Provider)?);
            ops.push((
                crate::in_person::moved(&after.studio_id, &after.booking_id, after.received_minor),
                Part::Other,
            ));
            events.push(stage(platform, SUCCEEDED, &PaymentEvent::of(&after))?);
        } else if declined_again {
            let mut payload = PaymentEvent::of(&after);
            payload.reason = after.last_error.clone();
            events.push(stage(platform, FAILED, &payload)?);
        }
        let booking = atelier_bookings::load(platform, &payment.studio_id, &payment.booking_id).await?;
        let confirms = next == PaymentStatus::Succeeded
            && payment.purpose == Purpose::Deposit
            && booking.status == BookingStatus::Pending
            && booking.pending_reason == Some(PendingReason::Deposit);
        let result = if confirms {
            // The marker goes with the booking's transaction.
            let mut extra = ops;
            if let Some(id) = event {
                extra.push((event_marker(provider_name, id, now), Part::Idempotency));
            }
            confirm_paid(platform, &booking, extra, events).await.map(|_| ())
        } else {
            for (op, part) in ops {
                tx.push(op, part);
            }
            for staged in events {
                tx.event(staged);
            }
            tx.commit(platform).await
        };
        match result {
            Ok(()) => {
                if next == PaymentStatus::Succeeded {
                    count(platform, "succeeded");
                } else if declined_again {
                    count(platform, "failed");
                }
                if next == PaymentStatus::Succeeded && !confirms && booking.status == BookingStatus::Cancelled
                {
                    // Received for a booking that is gone: refund what it does not owe now. The
                    // `payment.succeeded` handler does the same if this process stops here.
                    crate::refunds::settle_cancelled(platform, &payment.studio_id, &payment.booking_id)
                        .await?;
                }
                return Ok(Some(after));
            }
            // Applied by a concurrent delivery of the same event.
            Err(Failure::Condition(Part::Idempotency)) => {
                return Ok(Some(load(platform, &payment.studio_id, &payment.id).await?));
            }
            // The payment or the booking changed meanwhile: read both again.
            Err(Failure::Condition(_)) => continue,
            Err(Failure::Error(e)) => return Err(e),
        }
    }
    Err(AppError::Conflict(
        atelier_platform::error::CHANGED_MEANWHILE,
        "the payment kept changing; try again".into(),
    ))
}

/// The writes that record a payment received: its ledger entry, the day's counters, and the
/// pointer the reconciliation reads.
pub fn received_writes(
    platform: &Platform,
    payment: &Payment,
    by: EntryActor,
) -> Result<Vec<(WriteOp, Part)>, StoreError> {
    let now = platform.clock.now();
    let entry = ledger::charge(payment, format!("charge-{}", payment.id), now, by);
    let mut ops = vec![
        (ledger::entry_write(&payment.studio_id, &entry)?, Part::Other),
        (
            ledger::count(
                &payment.studio_id,
                now,
                &payment.time_zone,
                &payment.currency,
                ledger::received(payment),
            ),
            Part::Other,
        ),
    ];
    if let (Some(provider), Some(intent)) = (&payment.provider, &payment.intent_id) {
        ops.push((
            WriteOp::put(
                Item::new(&crate::reconciliation::received_key(now, &payment.studio_id, &payment.id))
                    .with("provider", provider.as_str())
                    .with("intent_id", intent.as_str())
                    .with("received_minor", payment.received_minor)
                    .with("currency", payment.currency.code()),
            ),
            Part::Other,
        ));
    }
    Ok(ops)
}

/// What the caller may do with a payment: its booking's client, professional or a manager.
pub async fn visible(
    platform: &Platform,
    actor: Actor<'_>,
    payment_id: &PaymentId,
) -> Result<Payment, AppError> {
    let payment = load(platform, actor.studio_id(), payment_id).await?;
    let booking = atelier_bookings::load(platform, actor.studio_id(), &payment.booking_id).await?;
    atelier_bookings::relation(actor.access, &booking)?;
    Ok(payment)
}

/// A confirmation request: the payment method to pay with.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRequest {
    /// A provider payment method id (`pm_…`; the mock's test methods: `pm_card_visa`,
    /// `pm_card_chargeDeclined`, `pm_card_authenticationRequired`, `pm_card_late`).
    pub payment_method: String,
}

/// Pays an online payment with a payment method (server-side confirmation), and applies what
/// the provider answers at once; its webhook, arriving later, then changes nothing.
pub async fn confirm(
    platform: &Platform,
    actor: Actor<'_>,
    payment_id: &PaymentId,
    request: &ConfirmRequest,
) -> Result<PaymentView, AppError> {
    let method = atelier_domain::studios::check_text(&request.payment_method, 100, "payment_method")?;
    if method.is_empty() {
        return Err(atelier_domain::Invalid::field("payment_method", "is required").into());
    }
    let payment = visible(platform, actor, payment_id).await?;
    let (Some(provider_name), Some(intent_id)) = (&payment.provider, &payment.intent_id) else {
        return Err(AppError::Conflict(PAYMENT_NOT_PAYABLE, "this payment was made in person".into()));
    };
    if payment.status != PaymentStatus::AwaitingPayment {
        return Err(AppError::Conflict(
            PAYMENT_NOT_PAYABLE,
            format!("this payment is {}", payment.status.as_str()),
        ));
    }
    if payment.purpose == Purpose::Deposit {
        // Charging for a booking whose hold is gone would only be refunded (and the provider
        // keeps its fee).
        let booking = atelier_bookings::load(platform, &payment.studio_id, &payment.booking_id).await?;
        let held = booking.status == BookingStatus::Pending
            && booking.pending_reason == Some(PendingReason::Deposit)
            && booking.timers.hold_until.is_none_or(|until| until > platform.clock.now());
        if !held {
            return Err(AppError::Conflict(
                PAYMENT_NOT_PAYABLE,
                "the booking is no longer held for this deposit; book again".into(),
            ));
        }
    }
    let provider = provider(platform)?;
    if provider.name() != provider_name {
        return Err(AppError::Conflict(
            PAYMENT_NOT_PAYABLE,
            "this payment belongs to another provider".into(),
        ));
    }
    let answer = provider.confirm_intent(intent_id, &method).await;
    let intent = match answer {
        Ok(intent) => intent,
        Err(atelier_platform::payments::ProviderError::Declined { message, intent }) => {
            if let Some(intent) = intent {
                apply_intent(platform, provider_name, &intent, None).await?;
            }
            return Err(provider_error(atelier_platform::payments::ProviderError::Declined {
                message,
                intent: None,
            }));
        }
        Err(e) => return Err(provider_error(e)),
    };
    let after = apply_intent(platform, provider_name, &intent, None).await?.unwrap_or(payment);
    Ok(after.view())
}

/// Who a use case acts for, in the ledger.
pub fn entry_actor(user: Option<&UserId>) -> EntryActor {
    user.map_or(EntryActor::System, |u| EntryActor::User { user_id: u.clone() })
}
