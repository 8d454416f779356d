//! Payments taken at the studio (cash, the card terminal), recorded by staff at check-in or
//! completion: a received payment, its ledger entry and the day's counters in one transaction,
//! guarded so two recordings at once never take more than the booking owes.

use atelier_bookings::tx::{Failure, Part, Tx};
use atelier_domain::bookings::BookingStatus;
use atelier_domain::ids::{BookingId, PaymentId};
use atelier_domain::payments::PaymentStatus;
use atelier_platform::store::{Condition, Key, UpdateAction, WriteOp};
use atelier_platform::{AppError, Platform};
use atelier_studios::{Actor, studio_item};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::conflicts::{AMOUNT_EXCEEDS_BALANCE, NOTHING_DUE, WRONG_CURRENCY};
use crate::intents::{PaymentEvent, SUCCEEDED, entry_actor, received_writes, stage};
use crate::{Method, Payment, PaymentView, Purpose};

/// A payment taken at the studio.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InPersonPayment {
    /// `cash` or `card_terminal`.
    pub method: Method,
    /// Minor units (absent: everything the booking still owes).
    #[serde(default)]
    pub amount_minor: Option<i64>,
    /// The booking's currency (optional; another one is refused).
    #[serde(default)]
    pub currency: Option<String>,
    /// The terminal's receipt number, up to 100 characters.
    #[serde(default)]
    pub reference: Option<String>,
}

/// The item every money movement of a booking touches, so a recording can be conditioned on
/// nothing having moved since the balance was read.
pub fn money_key(studio: &atelier_domain::ids::StudioId, booking: &BookingId) -> Key {
    studio_item(studio, format!("BOOKING#{booking}#MONEY"))
}

/// Records a payment taken in person (staff), for a booking checked in, confirmed or
/// completed.
pub async fn record(
    platform: &Platform,
    actor: Actor<'_>,
    booking_id: &BookingId,
    request: &InPersonPayment,
) -> Result<PaymentView, AppError> {
    if request.method == Method::Online {
        return Err(atelier_domain::Invalid::field("method", "must be cash or card_terminal").into());
    }
    let reference = request
        .reference
        .as_deref()
        .map(|r| atelier_domain::studios::check_text(r, 100, "reference"))
        .transpose()?
        .filter(|r| !r.is_empty());
    for _ in 0..5 {
        let booking = atelier_bookings::load(platform, actor.studio_id(), booking_id).await?;
        let relation = atelier_bookings::relation(actor.access, &booking)?;
        if !relation.is_staff() {
            return Err(AppError::Forbidden(
                atelier_bookings::conflicts::STAFF_ONLY,
                "only the studio records payments taken in person".into(),
            ));
        }
        if !matches!(booking.status, BookingStatus::Confirmed | BookingStatus::Completed) {
            return Err(AppError::Conflict(
                NOTHING_DUE,
                "payments are taken for confirmed or completed bookings".into(),
            ));
        }
        if let Some(code) = &request.currency
            && !code.eq_ignore_ascii_case(booking.currency.code())
        {
            return Err(AppError::Unprocessable(
                WRONG_CURRENCY,
                format!("this booking is priced in {}", booking.currency),
            ));
        }
        let (net, seen) = crate::booking_money(platform, &booking.studio_id, &booking.id).await?;
        let owed = booking.price_minor - net;
        let amount = request.amount_minor.unwrap_or(owed);
        if amount <= 0 {
            if request.amount_minor.is_some() {
                return Err(atelier_domain::Invalid::field("amount_minor", "must be more than 0").into());
            }
            return Err(AppError::Conflict(NOTHING_DUE, "this booking is paid in full".into()));
        }
        if amount > owed {
            return Err(AppError::Unprocessable(
                AMOUNT_EXCEEDS_BALANCE,
                format!(
                    "the booking owes {}",
                    atelier_domain::money::Money::new(owed.max(0), booking.currency.clone())
                ),
            ));
        }
        let now = platform.clock.now();
        let payment = Payment {
            id: PaymentId::new(platform.ids.new_id()),
            studio_id: booking.studio_id.clone(),
            booking_id: booking.id.clone(),
            client_id: booking.client_id.clone(),
            client_user_id: booking.client_user_id.clone(),
            purpose: Purpose::Balance,
            method: request.method,
            provider: None,
            intent_id: None,
            client_secret: None,
            amount_minor: amount,
            currency: booking.currency.clone(),
            status: PaymentStatus::Succeeded,
            received_minor: amount,
            refunded_minor: 0,
            last_error: None,
            reference: reference.clone(),
            recorded_by: Some(actor.user_id().clone()),
            time_zone: booking.time_zone.clone(),
            created_at: now,
            updated_at: now,
            succeeded_at: Some(now),
            version: 1,
        };
        let mut tx = Tx::new();
        tx.push(WriteOp::create(payment.to_item()?), Part::Other);
        tx.extend(
            received_writes(platform, &payment, entry_actor(Some(actor.user_id())))?
                .into_iter()
                .map(|(op, _)| op),
            Part::Other,
        );
        let guard = match seen {
            Some(moves) => Condition::eq("moves", moves),
            None => Condition::NotExists,
        };
        tx.push(
            WriteOp::update(
                money_key(&booking.studio_id, &booking.id),
                vec![UpdateAction::Add("moves".into(), 1), UpdateAction::Add("net_minor".into(), amount)],
            )
            .when(guard),
            Part::Check("the booking's payments"),
        );
        tx.push(
            actor.audit(
                platform,
                "payments.recorded_in_person",
                "payment",
                &payment.id,
                serde_json::json!({ "booking_id": booking.id, "amount_minor": amount, "method": request.method }),
            )?,
            Part::Other,
        );
        tx.event(stage(platform, SUCCEEDED, &PaymentEvent::of(&payment))?);
        match tx.commit(platform).await {
            Ok(()) => {
                crate::intents::count(platform, "succeeded");
                return Ok(payment.view());
            }
            Err(Failure::Condition(Part::Check(_))) => continue,
            Err(f) => return Err(f.into_error()),
        }
    }
    Err(AppError::Conflict(
        atelier_platform::error::CHANGED_MEANWHILE,
        "the booking's payments kept changing".into(),
    ))
}

/// The write that every other money movement of a booking adds (online charges `+`, refunds
/// `−`), so what the booking still owes is one consistent read and an in-person recording is
/// conditioned on nothing having moved since.
pub fn moved(studio: &atelier_domain::ids::StudioId, booking: &BookingId, net_minor: i64) -> WriteOp {
    WriteOp::update(
        money_key(studio, booking),
        vec![UpdateAction::Add("moves".into(), 1), UpdateAction::Add("net_minor".into(), net_minor)],
    )
}
