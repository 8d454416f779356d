//! Cancellation fees by how long before the appointment a booking is cancelled, and how far a
//! studio lets bookings overlap (overbooking).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Invalid;
use crate::money::{Money, check_amount, check_bps};

/// A fee: a share of the price, or a fixed amount (never more than the price).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fee {
    /// Basis points of the price.
    Percent {
        /// 0 to 10 000.
        bps: u32,
    },
    /// A fixed amount in minor units.
    Fixed {
        /// Amount.
        amount_minor: i64,
    },
}

impl Fee {
    /// The fee on `price`, in its currency (a fixed amount is in the studio's currency, which
    /// every price of the studio is in).
    pub fn on(self, price: &Money) -> Money {
        match self {
            Fee::Percent { bps } => price.share_bps(bps),
            Fee::Fixed { amount_minor } => Money::new(amount_minor.min(price.minor), price.currency.clone()),
        }
    }
}

/// A tier: cancelling between `min_hours` (included) and `max_hours` (excluded; absent for
/// "or more") before the start costs `fee`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancellationTier {
    /// From this many hours before (included).
    pub min_hours: u32,
    /// Up to this many hours before (excluded); absent: no upper bound.
    #[serde(default)]
    pub max_hours: Option<u32>,
    /// What it costs.
    pub fee: Fee,
}

/// Tiers of a cancellation policy; hours not covered by any tier cost nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancellationPolicy {
    /// The tiers, in any order; they must not overlap.
    pub tiers: Vec<CancellationTier>,
}

impl CancellationPolicy {
    /// Checks the tiers (ranges the right way round, no overlaps, sane fees) and sorts them.
    pub fn validate(&self) -> Result<CancellationPolicy, Invalid> {
        let mut errors = Invalid::default();
        errors.check(self.tiers.len() <= 10, "tiers", "at most 10 tiers");
        for (i, tier) in self.tiers.iter().enumerate() {
            let field = format!("tiers[{i}]");
            errors.check(
                tier.max_hours.is_none_or(|max| tier.min_hours < max),
                &format!("{field}.max_hours"),
                "must be more than min_hours",
            );
            errors.check(tier.min_hours <= 24 * 365, &format!("{field}.min_hours"), "at most a year");
            let fee = match tier.fee {
                Fee::Percent { bps } => check_bps(bps, &format!("{field}.fee.bps")),
                Fee::Fixed { amount_minor } => {
                    check_amount(amount_minor, &format!("{field}.fee.amount_minor"))
                }
            };
            if let Err(e) = fee {
                errors.0.extend(e.0);
            }
        }
        let mut sorted: Vec<(usize, CancellationTier)> = self.tiers.iter().copied().enumerate().collect();
        sorted.sort_by_key(|(_, t)| t.min_hours);
        for pair in sorted.windows(2) {
            let ((_, a), (j, b)) = (pair[0], pair[1]);
            if a.max_hours.is_none_or(|max| b.min_hours < max) {
                errors.check(false, &format!("tiers[{j}]"), "overlaps another tier");
            }
        }
        errors.into_result()?;
        Ok(CancellationPolicy { tiers: sorted.into_iter().map(|(_, t)| t).collect() })
    }

    /// The fee for cancelling `minutes_before` the start (negative: after it started) a booking
    /// priced `price`. Late cancellations fall in the tier that starts at 0 hours.
    pub fn fee(&self, minutes_before: i64, price: &Money) -> Money {
        let minutes = minutes_before.max(0);
        self.tiers
            .iter()
            .find(|t| {
                let from = i64::from(t.min_hours) * 60;
                minutes >= from && t.max_hours.is_none_or(|max| minutes < i64::from(max) * 60)
            })
            .map_or_else(|| Money::new(0, price.currency.clone()), |t| t.fee.on(price))
    }
}

/// How far bookings may overlap for a professional (or a studio's default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OverbookingConfig {
    /// Extra bookings allowed at once, as a percentage of capacity (0 to 100).
    pub max_percentage: u32,
    /// Accept overbooked requests without staff review.
    #[serde(default)]
    pub auto_accept: bool,
    /// VIP clients get overbooked slots first.
    #[serde(default)]
    pub vip_priority: bool,
    /// Whether this configuration applies.
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

impl Default for OverbookingConfig {
    fn default() -> Self {
        OverbookingConfig { max_percentage: 0, auto_accept: false, vip_priority: false, active: true }
    }
}

impl OverbookingConfig {
    /// Checks the configuration.
    pub fn validate(&self) -> Result<OverbookingConfig, Invalid> {
        let mut errors = Invalid::default();
        errors.check(self.max_percentage <= 100, "max_percentage", "must be between 0 and 100");
        errors.into_result()?;
        Ok(*self)
    }

    /// How many bookings may overlap on something of `capacity` (a professional is 1).
    pub fn capacity(&self, capacity: u32) -> u32 {
        if !self.active {
            return capacity;
        }
        capacity + capacity * self.max_percentage / 100
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use proptest::prelude::*;

    fn eur(minor: i64) -> Money {
        Money::new(minor, Currency::parse("EUR", "currency").expect("EUR"))
    }

    fn seed_policy() -> CancellationPolicy {
        // Free more than 48 h before; 25 % between 24 and 48 h; 50 % below 24 h.
        CancellationPolicy {
            tiers: vec![
                CancellationTier { min_hours: 0, max_hours: Some(24), fee: Fee::Percent { bps: 5000 } },
                CancellationTier { min_hours: 24, max_hours: Some(48), fee: Fee::Percent { bps: 2500 } },
            ],
        }
    }

    #[test]
    fn fees_by_tier() {
        let policy = seed_policy().validate().expect("valid");
        assert_eq!(policy.fee(49 * 60, &eur(10_000)).minor, 0);
        assert_eq!(policy.fee(48 * 60, &eur(10_000)).minor, 0, "48 h is outside the 24-48 tier");
        assert_eq!(policy.fee(48 * 60 - 1, &eur(10_000)).minor, 2500);
        assert_eq!(policy.fee(24 * 60, &eur(10_000)).minor, 2500);
        assert_eq!(policy.fee(60, &eur(10_000)).minor, 5000);
        assert_eq!(policy.fee(-30, &eur(10_000)).minor, 5000, "after the start: the last tier");
        let fixed = CancellationPolicy {
            tiers: vec![CancellationTier {
                min_hours: 0,
                max_hours: None,
                fee: Fee::Fixed { amount_minor: 3000 },
            }],
        };
        assert_eq!(fixed.fee(0, &eur(2000)).minor, 2000, "never more than the price");
    }

    #[test]
    fn tiers_are_checked() {
        let overlapping = CancellationPolicy {
            tiers: vec![
                CancellationTier { min_hours: 0, max_hours: Some(30), fee: Fee::Percent { bps: 5000 } },
                CancellationTier { min_hours: 24, max_hours: Some(48), fee: Fee::Percent { bps: 2500 } },
            ],
        };
        assert_eq!(overlapping.validate().expect_err("overlap").0[0].field, "tiers[1]");
        let open_then_more = CancellationPolicy {
            tiers: vec![
                CancellationTier { min_hours: 0, max_hours: None, fee: Fee::Percent { bps: 5000 } },
                CancellationTier { min_hours: 24, max_hours: Some(48), fee: Fee::Percent { bps: 2500 } },
            ],
        };
        assert!(open_then_more.validate().is_err());
        let inverted = CancellationPolicy {
            tiers: vec![CancellationTier { min_hours: 10, max_hours: Some(5), fee: Fee::Percent { bps: 1 } }],
        };
        assert!(inverted.validate().is_err());
        let too_much = CancellationPolicy {
            tiers: vec![CancellationTier {
                min_hours: 0,
                max_hours: None,
                fee: Fee::Percent { bps: 10_001 },
            }],
        };
        assert!(too_much.validate().is_err());
    }

    #[test]
    fn overbooking_capacity() {
        let config = OverbookingConfig { max_percentage: 100, ..OverbookingConfig::default() };
        assert_eq!(config.capacity(1), 2);
        assert_eq!(OverbookingConfig { max_percentage: 50, ..config }.capacity(1), 1);
        assert_eq!(OverbookingConfig { max_percentage: 50, ..config }.capacity(4), 6);
        assert_eq!(OverbookingConfig { active: false, ..config }.capacity(3), 3);
        assert!(OverbookingConfig { max_percentage: 101, ..config }.validate().is_err());
    }

    proptest! {
        #[test]
        fn fees_stay_within_the_price(minutes in -10_000i64..100_000, price in 0i64..1_000_000, bps in 0u32..=10_000, cut in 1u32..200) {
            let policy = CancellationPolicy {
                tiers: vec![
                    CancellationTier { min_hours: 0, max_hours: Some(cut), fee: Fee::Percent { bps } },
                    CancellationTier { min_hours: cut, max_hours: None, fee: Fee::Fixed { amount_minor: price / 3 } },
                ],
            };
            let fee = policy.validate().expect("valid").fee(minutes, &eur(price));
            prop_assert_eq!(fee.currency.code(), "EUR");
            let fee = fee.minor;
            prop_assert!((0..=price).contains(&fee));
        }
    }
}
