//! Why a payment request is refused: each reason is its own problem type (docs/api.md).

use atelier_platform::error::Reason;

/// 503: the provider is down or did not answer in time; retry with the same `Idempotency-Key`.
pub const PROVIDER_UNAVAILABLE: Reason =
    Reason { slug: "payment-provider-unavailable", title: "The payment provider is unavailable" };
/// 402: the provider declined the payment method.
pub const PAYMENT_DECLINED: Reason = Reason { slug: "payment-declined", title: "The payment was declined" };
/// 422: the provider refused the request as sent.
pub const PROVIDER_REFUSED: Reason =
    Reason { slug: "payment-refused", title: "The payment provider refused the request" };
/// 409: the booking owes nothing of this kind (no deposit due, already paid, not pending).
pub const NOTHING_DUE: Reason = Reason { slug: "nothing-due", title: "Nothing is due" };
/// 409: the payment is not in a state that allows this (confirming a paid one).
pub const PAYMENT_NOT_PAYABLE: Reason =
    Reason { slug: "payment-not-payable", title: "The payment cannot be paid now" };
/// 422: a refund larger than what is left of the payment.
pub const REFUND_EXCEEDS_PAYMENT: Reason =
    Reason { slug: "refund-exceeds-payment", title: "The refund is more than is left of the payment" };
/// 409: a refund of a payment not received.
pub const PAYMENT_NOT_RECEIVED: Reason =
    Reason { slug: "payment-not-received", title: "The payment has not been received" };
/// 422: an amount above what the booking still owes.
pub const AMOUNT_EXCEEDS_BALANCE: Reason =
    Reason { slug: "amount-exceeds-balance", title: "The amount is more than the booking owes" };
/// 422: an amount in another currency than the booking's.
pub const WRONG_CURRENCY: Reason =
    Reason { slug: "wrong-currency", title: "The currency is not the booking's" };
/// 400: a provider webhook whose signature does not verify.
pub const BAD_SIGNATURE: &str = "the Stripe-Signature does not verify";
