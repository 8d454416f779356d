//! What payments run on the notifications queue: the client told of a payment received,
//! declined or refunded; and the settlement of a cancelled booking (on `booking.cancelled`, and
//! on `payment.succeeded` for money that arrived after the booking went away), so a refund owed
//! is made even if the process that caused it stopped right after its commit.

use std::sync::Arc;

use async_trait::async_trait;
use atelier_bookings::events::{BookingEvent, CANCELLED, people};
use atelier_domain::ids::{BookingId, StudioId};
use atelier_domain::money::Currency;
use atelier_notifications::{Notice, Topic, Var, delivery};
use atelier_platform::Platform;
use atelier_platform::events::Event;
use atelier_platform::worker::{EventHandler, HandlerError};

use crate::intents::{FAILED, PaymentEvent, REFUNDED, SUCCEEDED};

/// Payment events become notices to the booking's client.
pub struct PaymentNotices {
    platform: Platform,
}

#[async_trait]
impl EventHandler for PaymentNotices {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let payload: PaymentEvent = serde_json::from_value(event.payload.clone())
            .map_err(|e| HandlerError::failed(format!("malformed {}", event.kind), e))?;
        let booking =
            match atelier_bookings::load(&self.platform, &payload.studio_id, &payload.booking_id).await {
                Ok(b) => b,
                Err(atelier_platform::AppError::NotFound(_)) => return Ok(()),
                Err(e) => return Err(e.into()),
            };
        let (topic, minor) = match event.kind.as_str() {
            SUCCEEDED => (Topic::PaymentReceived, payload.amount_minor),
            FAILED => (Topic::PaymentFailed, payload.amount_minor),
            REFUNDED => (Topic::PaymentRefunded, payload.refund_minor.unwrap_or(payload.amount_minor)),
            _ => return Ok(()),
        };
        let (studio, client, _) = people(&self.platform, &BookingEvent::of(&booking)).await?;
        let currency = Currency::parse(&payload.currency, "currency")
            .map_err(|e| HandlerError::failed("a payment event's currency", e))?;
        let mut notice = Notice::new(topic, client)
            .in_studio(studio)
            .with("service", Var::Text(booking.service_name.clone()))
            .with("start", Var::Instant(booking.start))
            .with("amount", Var::Money { minor, currency });
        if let Some(reason) = payload.reason.filter(|r| !r.is_empty()) {
            notice = notice.with("reason", Var::Text(reason));
        }
        delivery::dispatch(&self.platform, &event.id, event.occurred_at, &notice).await?;
        Ok(())
    }
}

/// Refunds what a cancelled booking does not owe.
pub struct Settlement {
    platform: Platform,
}

#[async_trait]
impl EventHandler for Settlement {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let (studio_id, booking_id): (StudioId, BookingId) = if event.kind == CANCELLED {
            let e: BookingEvent = serde_json::from_value(event.payload.clone())
                .map_err(|e| HandlerError::failed("malformed booking.cancelled", e))?;
            (e.studio_id, e.booking_id)
        } else {
            let e: PaymentEvent = serde_json::from_value(event.payload.clone())
                .map_err(|e| HandlerError::failed("malformed payment.succeeded", e))?;
            (e.studio_id, e.booking_id)
        };
        if self.platform.payments.is_none() {
            return Ok(());
        }
        match crate::refunds::settle_cancelled(&self.platform, &studio_id, &booking_id).await {
            Ok(_) | Err(atelier_platform::AppError::NotFound(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// The handlers payments run on the notifications queue, by event kind.
pub fn handlers(platform: &Platform) -> Vec<(&'static str, Arc<dyn EventHandler>)> {
    let notices: Arc<dyn EventHandler> = Arc::new(PaymentNotices { platform: platform.clone() });
    let settlement: Arc<dyn EventHandler> = Arc::new(Settlement { platform: platform.clone() });
    vec![
        (SUCCEEDED, notices.clone()),
        (FAILED, notices.clone()),
        (REFUNDED, notices),
        (CANCELLED, settlement.clone()),
        (SUCCEEDED, settlement),
    ]
}
