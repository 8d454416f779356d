//! The seam through which a booking that waits for its deposit gets what the client pays
//! with: the payments capability fills it (the app crate puts a [`Checkout`] in the HTTP
//! state), so creating such a booking answers with the booking and its payment in one
//! response, while bookings does not depend on payments.

use std::sync::Arc;

use async_trait::async_trait;
use atelier_platform::{AppError, Platform};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{Booking, BookingView};

/// What the client pays to confirm a held booking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PaymentDue {
    /// The payment (confirm it, read it, get its receipt).
    pub payment_id: String,
    /// `deposit` or `balance`.
    pub purpose: String,
    /// Minor units.
    pub amount_minor: i64,
    /// Currency.
    pub currency: String,
    /// `stripe` or `mock`.
    pub provider: String,
    /// For the provider's client library (Stripe.js `confirmPayment`), or for
    /// `POST …/payments/{payment_id}/confirm`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// Where the payment stands.
    pub status: String,
    /// Until when the slot is held for it (deposits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub hold_until: Option<jiff::Timestamp>,
}

/// Starts (or finds) the deposit payment of a held booking.
#[async_trait]
pub trait DepositCheckout: Send + Sync {
    /// The payment due for `booking`, created once whatever the retries.
    async fn checkout(&self, platform: &Platform, booking: &Booking) -> Result<PaymentDue, AppError>;
}

/// The HTTP state's handle on the payments capability.
#[derive(Clone)]
pub struct Checkout(pub Arc<dyn DepositCheckout>);

/// A created booking, with what is due when it waits for a deposit.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BookingCreated {
    /// The booking.
    #[serde(flatten)]
    pub booking: BookingView,
    /// The deposit to pay, when the booking is held for one and payments are configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentDue>,
}
