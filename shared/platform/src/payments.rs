//! The payment provider port: the few provider operations Atelier uses, in Stripe's terms
//! (payment intents, refunds, events), so the Stripe adapter is a thin translation and the
//! in-process mock can behave exactly like it. Amounts here are in the provider's smallest
//! unit; the payments capability converts from and to ISO minor units.

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::store::Cause;

/// A payment intent's status, as the provider reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntentStatus {
    /// No payment method yet, or the last one was declined.
    RequiresPaymentMethod,
    /// A payment method is attached; it must be confirmed.
    RequiresConfirmation,
    /// The client must act (3-D Secure).
    RequiresAction,
    /// Settling.
    Processing,
    /// Authorised, not captured (Atelier captures automatically; listed for completeness).
    RequiresCapture,
    /// Paid.
    Succeeded,
    /// Canceled.
    Canceled,
}

impl IntentStatus {
    /// Parses the provider's name.
    pub fn parse(text: &str) -> Option<IntentStatus> {
        Some(match text {
            "requires_payment_method" => IntentStatus::RequiresPaymentMethod,
            "requires_confirmation" => IntentStatus::RequiresConfirmation,
            "requires_action" => IntentStatus::RequiresAction,
            "processing" => IntentStatus::Processing,
            "requires_capture" => IntentStatus::RequiresCapture,
            "succeeded" => IntentStatus::Succeeded,
            "canceled" => IntentStatus::Canceled,
            _ => return None,
        })
    }

    /// The provider's name.
    pub fn as_str(self) -> &'static str {
        match self {
            IntentStatus::RequiresPaymentMethod => "requires_payment_method",
            IntentStatus::RequiresConfirmation => "requires_confirmation",
            IntentStatus::RequiresAction => "requires_action",
            IntentStatus::Processing => "processing",
            IntentStatus::RequiresCapture => "requires_capture",
            IntentStatus::Succeeded => "succeeded",
            IntentStatus::Canceled => "canceled",
        }
    }
}

/// A request for money.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIntent {
    /// In the provider's smallest unit.
    pub amount: i64,
    /// Lowercase ISO code, as providers write it.
    pub currency: String,
    /// Names the business action (`booking:<id>:deposit`): a retry gets the same intent.
    pub idempotency_key: String,
    /// Ids that lead back to Atelier's records (studio, payment, booking).
    pub metadata: BTreeMap<String, String>,
}

/// A payment intent as the provider holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    /// The provider's id (`pi_…`).
    pub id: String,
    /// Given to the client's device to pay (never logged).
    pub client_secret: Option<String>,
    /// Where it stands.
    pub status: IntentStatus,
    /// Asked for, in the provider's smallest unit.
    pub amount: i64,
    /// Received so far.
    pub amount_received: i64,
    /// Lowercase ISO code.
    pub currency: String,
    /// What Atelier attached.
    pub metadata: BTreeMap<String, String>,
    /// The last failure, for people (a decline's message).
    pub last_error: Option<String>,
    /// When the provider created it (epoch seconds).
    pub created: i64,
}

/// A refund request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRefund {
    /// The intent refunded.
    pub intent_id: String,
    /// In the provider's smallest unit.
    pub amount: i64,
    /// Names the refund (`refund:<id>`): a retry never refunds twice.
    pub idempotency_key: String,
    /// Ids that lead back to Atelier's records.
    pub metadata: BTreeMap<String, String>,
}

/// A refund's status, as the provider reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundStatus {
    /// Sent, not settled.
    Pending,
    /// Done.
    Succeeded,
    /// The provider could not return the money.
    Failed,
    /// Withdrawn.
    Canceled,
}

impl RefundStatus {
    /// Parses the provider's name (`requires_action` counts as pending).
    pub fn parse(text: &str) -> Option<RefundStatus> {
        Some(match text {
            "pending" | "requires_action" => RefundStatus::Pending,
            "succeeded" => RefundStatus::Succeeded,
            "failed" => RefundStatus::Failed,
            "canceled" => RefundStatus::Canceled,
            _ => return None,
        })
    }
}

/// A refund as the provider holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRefund {
    /// The provider's id (`re_…`).
    pub id: String,
    /// The intent it refunds.
    pub intent_id: String,
    /// In the provider's smallest unit.
    pub amount: i64,
    /// Lowercase ISO code.
    pub currency: String,
    /// Where it stands.
    pub status: RefundStatus,
    /// What Atelier attached.
    pub metadata: BTreeMap<String, String>,
    /// Epoch seconds.
    pub created: i64,
}

/// One event from the provider's event list (the same objects its webhooks carry).
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderEvent {
    /// `evt_…`.
    pub id: String,
    /// `payment_intent.succeeded`, `refund.created`, …
    pub kind: String,
    /// Epoch seconds.
    pub created: i64,
    /// The object as of the event.
    pub object: serde_json::Value,
}

/// A page of events.
#[derive(Debug, Clone, PartialEq)]
pub struct EventPage {
    /// The events.
    pub events: Vec<ProviderEvent>,
    /// Whether more follow the last one.
    pub has_more: bool,
}

/// Why a provider call failed.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The card or method was declined; the intent as it is now, when the provider said.
    #[error("declined: {message}")]
    Declined {
        /// For people.
        message: String,
        /// The intent after the decline.
        intent: Option<Box<Intent>>,
    },
    /// The provider refused the request (bad parameters, an over-refund, a used key with
    /// other parameters): retrying the same request cannot help.
    #[error("refused by the payment provider: {0}")]
    Refused(String),
    /// Down, slow or throttling: the same request (same idempotency key) may be retried.
    #[error("payment provider unavailable: {context}")]
    Unavailable {
        /// What was being done.
        context: String,
        /// Why.
        #[source]
        source: Cause,
    },
}

impl ProviderError {
    /// An unavailability of `context` caused by `source`.
    pub fn unavailable(context: impl Into<String>, source: impl Into<Cause>) -> ProviderError {
        ProviderError::Unavailable { context: context.into(), source: source.into() }
    }
}

/// The provider.
#[async_trait]
pub trait PaymentProvider: Send + Sync + 'static {
    /// `stripe` or `mock`: the name in webhook routes and records.
    fn name(&self) -> &'static str;
    /// The secrets its webhooks are signed with (more than one while a secret is rolled).
    async fn webhook_secrets(&self) -> Result<Vec<String>, ProviderError>;
    /// Creates an intent, or returns the one its idempotency key already made.
    async fn create_intent(&self, intent: &NewIntent) -> Result<Intent, ProviderError>;
    /// Reads an intent.
    async fn retrieve_intent(&self, id: &str) -> Result<Intent, ProviderError>;
    /// Confirms an intent with a payment method (server-side confirmation).
    async fn confirm_intent(&self, id: &str, payment_method: &str) -> Result<Intent, ProviderError>;
    /// Cancels an intent that has not been paid.
    async fn cancel_intent(&self, id: &str) -> Result<Intent, ProviderError>;
    /// Refunds (part of) a paid intent.
    async fn create_refund(&self, refund: &NewRefund) -> Result<ProviderRefund, ProviderError>;
    /// Reads a refund (one the provider answered as pending is followed up this way, never
    /// created again).
    async fn retrieve_refund(&self, id: &str) -> Result<ProviderRefund, ProviderError>;
    /// Events of `kind` created at or after `since` (epoch seconds), oldest first where the
    /// provider allows, after the event `after`.
    async fn events(&self, kind: &str, since: i64, after: Option<&str>) -> Result<EventPage, ProviderError>;
}
