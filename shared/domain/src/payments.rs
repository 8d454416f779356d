//! Payment rules, pure: how a payment's status may move, what may still be refunded, how a
//! cancellation splits what was paid into the fee kept and the refund, and how an amount is
//! written for a provider whose currency exponents differ from ISO 4217's.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Invalid;
use crate::money::{Currency, Money};

/// Where a payment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// Asked for; the client has not paid yet (or their last attempt was declined).
    AwaitingPayment,
    /// The provider is still settling it (some methods succeed later).
    Processing,
    /// Received.
    Succeeded,
    /// Given up (the booking went away before it was paid).
    Canceled,
}

impl PaymentStatus {
    /// The name used in keys and filters.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::AwaitingPayment => "awaiting_payment",
            PaymentStatus::Processing => "processing",
            PaymentStatus::Succeeded => "succeeded",
            PaymentStatus::Canceled => "canceled",
        }
    }

    /// Whether a provider report of `next` may move a payment in this status there. Money
    /// received stays received, and a canceled payment only comes back by succeeding (the
    /// provider took the money after all: it must be recorded, then refunded). Reports arrive
    /// out of order, so an older report never moves a payment back from `Processing` unless it
    /// is a failure.
    pub fn may_become(self, next: PaymentStatus) -> bool {
        use PaymentStatus::*;
        match (self, next) {
            (a, b) if a == b => false,
            (Succeeded, _) => false,
            (Canceled, Succeeded) => true,
            (Canceled, _) => false,
            (AwaitingPayment, _) => true,
            (Processing, Succeeded | Canceled | AwaitingPayment) => true,
            (Processing, Processing) => false,
        }
    }
}

/// Why a refund cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefundRefused {
    /// Zero or less.
    #[error("a refund must be more than zero")]
    NotPositive,
    /// More than what is left to refund.
    #[error("only {left} of this payment is left to refund")]
    MoreThanPaid {
        /// Minor units still refundable.
        left: i64,
    },
    /// The payment has not been received.
    #[error("the payment has not been received")]
    NotReceived,
}

/// What is left to refund of a payment that received `captured` and has `refunded` refunded or
/// promised (refunds still with the provider count: that is what keeps concurrent refunds from
/// adding up to more than was paid).
pub fn refundable(captured: i64, refunded: i64) -> i64 {
    (captured - refunded).max(0)
}

/// Checks a refund of `amount` against a payment's state.
pub fn check_refund(
    amount: i64,
    status: PaymentStatus,
    captured: i64,
    refunded: i64,
) -> Result<(), RefundRefused> {
    if status != PaymentStatus::Succeeded {
        return Err(RefundRefused::NotReceived);
    }
    if amount <= 0 {
        return Err(RefundRefused::NotPositive);
    }
    let left = refundable(captured, refunded);
    if amount > left {
        return Err(RefundRefused::MoreThanPaid { left });
    }
    Ok(())
}

/// The refunds a cancelled booking is owed: everything received beyond the `fee` it keeps,
/// taken from the payments (id, what is left to refund of each) latest first, so a deposit
/// stays for the fee before a balance does. A fee larger than what was paid refunds nothing
/// and never turns negative.
pub fn cancellation_refunds<I: Clone>(payments: &[(I, i64)], fee: i64) -> Vec<(I, i64)> {
    let received: i64 = payments.iter().map(|(_, left)| (*left).max(0)).sum();
    let mut owed = (received - fee.max(0)).max(0);
    let mut refunds = Vec::new();
    for (id, left) in payments.iter().rev() {
        if owed == 0 {
            break;
        }
        let amount = owed.min((*left).max(0));
        if amount > 0 {
            refunds.push((id.clone(), amount));
            owed -= amount;
        }
    }
    refunds
}

/// Currencies Stripe writes without decimals although ISO 4217 gives them some (MGA), or with
/// two although ISO gives none (ISK, UGX: "special cases" that must stay divisible by 100).
const PROVIDER_EXPONENTS: &[(&str, u8)] = &[("MGA", 0), ("ISK", 2), ("UGX", 2)];

/// Decimal digits Stripe uses for `currency`: ISO 4217's, except for its documented special
/// cases.
pub fn provider_exponent(currency: &Currency) -> u8 {
    PROVIDER_EXPONENTS
        .iter()
        .find(|(code, _)| *code == currency.code())
        .map_or_else(|| currency.minor_units(), |(_, e)| *e)
}

/// `money` in the provider's smallest unit. An amount that the provider cannot represent
/// exactly (MGA 1.50) is refused rather than rounded.
pub fn to_provider_amount(money: &Money) -> Result<i64, Invalid> {
    let iso = i32::from(money.currency.minor_units());
    let theirs = i32::from(provider_exponent(&money.currency));
    let scale = 10_i64.pow((theirs - iso).unsigned_abs());
    if theirs >= iso {
        money.minor.checked_mul(scale).ok_or_else(|| Invalid::field("amount_minor", "is too large"))
    } else if money.minor % scale == 0 {
        Ok(money.minor / scale)
    } else {
        Err(Invalid::field(
            "amount_minor",
            format!("{} is charged in whole units: the amount must be a multiple of {scale}", money.currency),
        ))
    }
}

/// An amount in the provider's smallest unit back in ISO minor units.
pub fn from_provider_amount(amount: i64, currency: &Currency) -> i64 {
    let iso = i32::from(currency.minor_units());
    let theirs = i32::from(provider_exponent(currency));
    let scale = 10_i64.pow((theirs - iso).unsigned_abs());
    if theirs >= iso { amount / scale } else { amount.saturating_mul(scale) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn money(minor: i64, code: &str) -> Money {
        Money::new(minor, Currency::parse(code, "currency").expect("a currency"))
    }

    #[test]
    fn received_money_stays_received_and_late_success_revives_a_canceled_payment() {
        use PaymentStatus::*;
        assert!(AwaitingPayment.may_become(Succeeded));
        assert!(Processing.may_become(AwaitingPayment), "a late decline");
        assert!(!Succeeded.may_become(AwaitingPayment));
        assert!(!Succeeded.may_become(Canceled));
        assert!(Canceled.may_become(Succeeded));
        assert!(!Canceled.may_become(Processing));
        assert!(!Processing.may_become(Processing));
    }

    #[test]
    fn refunds_never_exceed_what_is_left() {
        use PaymentStatus::*;
        assert_eq!(check_refund(500, Succeeded, 1000, 400), Ok(()));
        assert_eq!(check_refund(700, Succeeded, 1000, 400), Err(RefundRefused::MoreThanPaid { left: 600 }));
        assert_eq!(check_refund(0, Succeeded, 1000, 0), Err(RefundRefused::NotPositive));
        assert_eq!(check_refund(-5, Succeeded, 1000, 0), Err(RefundRefused::NotPositive));
        assert_eq!(check_refund(5, AwaitingPayment, 0, 0), Err(RefundRefused::NotReceived));
    }

    #[test]
    fn a_cancellation_keeps_the_fee_and_refunds_the_rest_latest_payment_first() {
        assert_eq!(cancellation_refunds(&[("deposit", 3000)], 1500), vec![("deposit", 1500)]);
        assert_eq!(cancellation_refunds(&[("deposit", 3000)], 4000), vec![]);
        assert_eq!(cancellation_refunds(&[("deposit", 3000)], 0), vec![("deposit", 3000)]);
        assert_eq!(
            cancellation_refunds(&[("deposit", 2000), ("balance", 4000)], 3000),
            vec![("balance", 3000)]
        );
        assert_eq!(
            cancellation_refunds(&[("deposit", 2000), ("balance", 4000)], 1000),
            vec![("balance", 4000), ("deposit", 1000)]
        );
    }

    #[test]
    fn provider_amounts_follow_each_currency_exponent() {
        assert_eq!(to_provider_amount(&money(2545, "EUR")), Ok(2545));
        assert_eq!(to_provider_amount(&money(1200, "JPY")), Ok(1200), "zero-decimal");
        assert_eq!(to_provider_amount(&money(1250, "KWD")), Ok(1250), "three decimals");
        assert_eq!(to_provider_amount(&money(500, "ISK")), Ok(50_000), "ISK as two decimals");
        assert_eq!(to_provider_amount(&money(15_000, "MGA")), Ok(150));
        assert!(to_provider_amount(&money(15_050, "MGA")).is_err(), "not representable");
        assert_eq!(from_provider_amount(50_000, &Currency::parse("ISK", "c").expect("isk")), 500);
        assert_eq!(from_provider_amount(150, &Currency::parse("MGA", "c").expect("mga")), 15_000);
    }

    proptest! {
        #[test]
        fn cancellation_refunds_sum_to_what_was_paid_beyond_the_fee(
            lefts in proptest::collection::vec(0i64..100_000, 0..4),
            fee in 0i64..300_000,
        ) {
            let payments: Vec<(usize, i64)> = lefts.iter().copied().enumerate().collect();
            let refunds = cancellation_refunds(&payments, fee);
            let total: i64 = refunds.iter().map(|(_, a)| a).sum();
            let paid: i64 = lefts.iter().sum();
            prop_assert_eq!(total, (paid - fee).max(0));
            for (id, amount) in refunds {
                prop_assert!(amount > 0 && amount <= lefts[id]);
            }
        }

        #[test]
        fn provider_amounts_round_trip(minor in 0i64..1_000_000_000, code in "(EUR|JPY|KWD|ISK|UGX|BRL)") {
            let m = money(minor, &code);
            let there = to_provider_amount(&m).expect("representable");
            prop_assert_eq!(from_provider_amount(there, &m.currency), minor);
        }
    }
}
