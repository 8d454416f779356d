//! The provider's webhooks: the signature checked on the raw body before anything is parsed
//! (400, nothing done, when it fails), then each event applied once: a marker keyed by the
//! event id is written with the event's effect, so a redelivery finds it and a failed attempt
//! leaves none (5xx, the provider retries). Unknown event types are answered 2xx and ignored.

use atelier_platform::{AppError, Platform};
use serde::Serialize;
use utoipa::ToSchema;

use crate::intents::{applied, apply_intent};
use crate::provider::wire;
use crate::refunds::apply_provider_refund;
use crate::signature::{self, SignatureRefused};

/// Event types applied; the others are acknowledged and ignored.
pub const HANDLED: [&str; 7] = [
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.processing",
    "payment_intent.canceled",
    "refund.created",
    "refund.updated",
    "refund.failed",
];

/// What the webhook answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Receipt {
    /// The event.
    pub id: String,
    /// `applied`, `duplicate` (applied before) or `ignored` (a type Atelier does not use).
    pub outcome: String,
}

/// Logged and counted, for the alarm on signature failures (an attack, or a rolled secret).
fn refuse(platform: &Platform, reason: SignatureRefused) -> AppError {
    tracing::warn!(target: "atelier::payments::signature", %reason, "payment webhook signature refused");
    platform.metrics.count(atelier_platform::metrics::Metric::PaymentWebhooksRejected, &[]);
    AppError::BadRequest(format!("{}: {reason}", crate::conflicts::BAD_SIGNATURE))
}

/// Verifies and applies one webhook delivery from `provider_name`.
pub async fn receive(
    platform: &Platform,
    provider_name: &str,
    signature_header: Option<&str>,
    body: &[u8],
) -> Result<Receipt, AppError> {
    let provider = crate::provider(platform)?;
    if provider.name() != provider_name {
        return Err(AppError::NotFound("payment provider"));
    }
    let secrets = provider.webhook_secrets().await.map_err(crate::checkout::provider_error)?;
    signature::verify(signature_header, body, &secrets, platform.clock.now().as_second())
        .map_err(|r| refuse(platform, r))?;
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|_| AppError::BadRequest("the body is not a JSON event".into()))?;
    let event = wire::event(&value).ok_or_else(|| AppError::BadRequest("the body is not an event".into()))?;
    let receipt = |outcome: &str| Receipt { id: event.id.clone(), outcome: outcome.to_owned() };
    if !HANDLED.contains(&event.kind.as_str()) {
        return Ok(receipt("ignored"));
    }
    if applied(platform, provider_name, &event.id).await? {
        return Ok(receipt("duplicate"));
    }
    if event.kind.starts_with("payment_intent.") {
        let intent = wire::intent(&event.object)
            .ok_or_else(|| AppError::BadRequest("the event carries no payment intent".into()))?;
        if apply_intent(platform, provider_name, &intent, Some(&event.id)).await?.is_none() {
            tracing::info!(intent = %intent.id, "webhook for a payment Atelier did not make; left to reconciliation");
            return Ok(receipt("ignored"));
        }
    } else {
        let refund = wire::refund(&event.object)
            .ok_or_else(|| AppError::BadRequest("the event carries no refund".into()))?;
        apply_provider_refund(platform, provider_name, &refund, Some(&event.id)).await?;
    }
    Ok(receipt("applied"))
}
