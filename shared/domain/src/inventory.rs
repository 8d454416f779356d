//! Stock arithmetic: quantities that never go negative, stock value at moving average cost,
//! and when a product counts as low.
//!
//! **Valuation rule (moving average cost).** A product's stock has a quantity (whole units of
//! the product's unit: ml, g, pieces) and a value at cost in minor units.
//! - An inflow of `q` at unit cost `c` adds `q × c` to the value: the average becomes
//!   `value / quantity`.
//! - An outflow of `q` takes `value × q / quantity` out of the value, rounded half up; the last
//!   units out take exactly what is left, so an empty stock is worth exactly 0 and rounding
//!   never accumulates.
//! - A count to `n` is an outflow of the difference when `n` is lower; when higher, the
//!   difference comes in at the current average cost (at the product's cost price when the
//!   stock was empty).
//!
//! The value of every movement is recorded with it, so the sum of the movements' values is the
//! stock's value, for a product and for a studio.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Invalid;

/// Most units one product may hold or one movement may move.
pub const MAX_QUANTITY: i64 = 1_000_000_000;

/// A product's stock: how much there is and what it cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Stock {
    /// Units on hand, never negative.
    pub quantity: i64,
    /// Their value at cost, minor units, never negative; 0 when the quantity is.
    pub value_minor: i64,
}

/// A movement's effect on a stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moved {
    /// The stock after.
    pub after: Stock,
    /// Units added (+) or taken (−).
    pub quantity_delta: i64,
    /// Value added (+) or taken (−), minor units.
    pub value_delta_minor: i64,
}

/// Why a movement cannot be applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StockError {
    /// An outflow of more than is on hand.
    #[error("only {available} on hand")]
    Insufficient {
        /// What is on hand.
        available: i64,
    },
    /// The stock would exceed [`MAX_QUANTITY`] or the value the largest amount.
    #[error("the stock would exceed {MAX_QUANTITY} units")]
    TooMuch,
}

/// Checks a movement's quantity: 1 to [`MAX_QUANTITY`].
pub fn check_quantity(quantity: i64, field: &str) -> Result<(), Invalid> {
    if (1..=MAX_QUANTITY).contains(&quantity) {
        Ok(())
    } else {
        Err(Invalid::field(field, format!("must be between 1 and {MAX_QUANTITY}")))
    }
}

/// `a × b / c` rounded half up, for non-negative `a`, `b` and positive `c`.
fn mul_div_half_up(a: i64, b: i64, c: i64) -> i64 {
    let (a, b, c) = (i128::from(a), i128::from(b), i128::from(c));
    i64::try_from((2 * a * b + c) / (2 * c)).unwrap_or(i64::MAX)
}

impl Stock {
    /// The average unit cost, rounded half up (none when empty).
    pub fn average_cost_minor(&self) -> Option<i64> {
        (self.quantity > 0).then(|| mul_div_half_up(self.value_minor, 1, self.quantity))
    }

    /// What `quantity` units out of this stock are worth at average cost.
    pub fn value_of(&self, quantity: i64) -> i64 {
        if quantity >= self.quantity {
            self.value_minor
        } else {
            mul_div_half_up(self.value_minor, quantity, self.quantity)
        }
    }

    /// Receives `quantity` units at `unit_cost_minor` each.
    pub fn inflow(&self, quantity: i64, unit_cost_minor: i64) -> Result<Moved, StockError> {
        let added = quantity.checked_mul(unit_cost_minor).ok_or(StockError::TooMuch)?;
        let after = Stock {
            quantity: self
                .quantity
                .checked_add(quantity)
                .filter(|q| *q <= MAX_QUANTITY)
                .ok_or(StockError::TooMuch)?,
            value_minor: self.value_minor.checked_add(added).ok_or(StockError::TooMuch)?,
        };
        Ok(Moved { after, quantity_delta: quantity, value_delta_minor: added })
    }

    /// Takes `quantity` units out, at average cost; never more than is on hand.
    pub fn outflow(&self, quantity: i64) -> Result<Moved, StockError> {
        if quantity > self.quantity {
            return Err(StockError::Insufficient { available: self.quantity });
        }
        let taken = self.value_of(quantity);
        let after = Stock { quantity: self.quantity - quantity, value_minor: self.value_minor - taken };
        Ok(Moved { after, quantity_delta: -quantity, value_delta_minor: -taken })
    }

    /// Sets the quantity to what a stock take found; a surplus comes in at the average cost
    /// (at `cost_price_minor` when the stock was empty).
    pub fn count(&self, counted: i64, cost_price_minor: i64) -> Result<Moved, StockError> {
        if counted < self.quantity {
            return self.outflow(self.quantity - counted);
        }
        let unit = self.average_cost_minor().unwrap_or(cost_price_minor);
        let surplus = counted - self.quantity;
        // At the average, not `surplus × rounded average`: the found units dilute nothing.
        let added = if self.quantity > 0 {
            mul_div_half_up(self.value_minor, surplus, self.quantity)
        } else {
            surplus.checked_mul(unit).ok_or(StockError::TooMuch)?
        };
        if counted > MAX_QUANTITY {
            return Err(StockError::TooMuch);
        }
        let after = Stock {
            quantity: counted,
            value_minor: self.value_minor.checked_add(added).ok_or(StockError::TooMuch)?,
        };
        Ok(Moved { after, quantity_delta: surplus, value_delta_minor: added })
    }
}

/// Whether `quantity` is below a product's minimum level (a minimum of 0 never is).
pub fn is_low(quantity: i64, minimum: i64) -> bool {
    quantity < minimum
}

/// What a movement does to a product's low-stock state, which decides the one alert per fall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LowStock {
    /// It fell below the minimum: alert.
    Fell,
    /// It is back at or above the minimum: the next fall alerts again.
    Recovered,
    /// No change (still low, or still fine).
    Same,
}

/// The change of low-stock state from `was_low` to `quantity` against `minimum`.
pub fn low_stock(was_low: bool, quantity: i64, minimum: i64) -> LowStock {
    match (was_low, is_low(quantity, minimum)) {
        (false, true) => LowStock::Fell,
        (true, false) => LowStock::Recovered,
        _ => LowStock::Same,
    }
}

/// What a completed service takes of a product when the shelf may hold less than it uses: all
/// it needs if there, else what is there, and the shortfall.
pub fn consumption(needed: i64, on_hand: i64) -> (i64, i64) {
    let taken = needed.min(on_hand.max(0));
    (taken, needed - taken)
}

/// Why an outflow happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutflowReason {
    /// Sold to a client.
    Sale,
    /// Used at work (by hand, outside a booking).
    Use,
    /// Used by a completed booking's service.
    Service,
    /// Lost, broken, expired, stolen.
    Loss,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn moving_average_cost() {
        let s = Stock::default().inflow(10, 100).expect("in").after;
        assert_eq!(s, Stock { quantity: 10, value_minor: 1000 });
        let s = s.inflow(10, 200).expect("in").after;
        assert_eq!(s.average_cost_minor(), Some(150));
        let out = s.outflow(3).expect("out");
        assert_eq!(out.value_delta_minor, -450);
        assert_eq!(out.after, Stock { quantity: 17, value_minor: 2550 });
        // A third of 100 for 3 units: 33.33 → 33, then the last units take what is left.
        let s = Stock { quantity: 3, value_minor: 100 };
        assert_eq!(s.outflow(1).expect("out").value_delta_minor, -33);
        assert_eq!(s.outflow(3).expect("out").after, Stock::default());
        // Exact halves round up: 5 × 1 / 2 = 2.5 → 3.
        assert_eq!(Stock { quantity: 2, value_minor: 5 }.value_of(1), 3);
    }

    #[test]
    fn never_negative() {
        let s = Stock { quantity: 2, value_minor: 10 };
        assert_eq!(s.outflow(3), Err(StockError::Insufficient { available: 2 }));
        assert_eq!(s.outflow(2).expect("all").after, Stock::default());
    }

    #[test]
    fn counts_set_the_level() {
        let s = Stock { quantity: 10, value_minor: 1000 };
        let down = s.count(7, 999).expect("count");
        assert_eq!((down.quantity_delta, down.value_delta_minor), (-3, -300));
        let up = s.count(12, 999).expect("count");
        assert_eq!((up.quantity_delta, up.value_delta_minor, up.after.value_minor), (2, 200, 1200));
        let empty = Stock::default().count(4, 250).expect("count");
        assert_eq!(empty.after, Stock { quantity: 4, value_minor: 1000 });
        assert_eq!(s.count(10, 0).expect("same").quantity_delta, 0);
    }

    #[test]
    fn one_alert_per_fall() {
        assert_eq!(low_stock(false, 4, 5), LowStock::Fell);
        assert_eq!(low_stock(true, 3, 5), LowStock::Same);
        assert_eq!(low_stock(true, 5, 5), LowStock::Recovered);
        assert_eq!(low_stock(false, 0, 0), LowStock::Same, "a minimum of 0 never alerts");
        assert_eq!(consumption(5, 3), (3, 2));
        assert_eq!(consumption(2, 3), (2, 0));
    }

    #[derive(Debug, Clone)]
    enum Step {
        In(i64, i64),
        Out(i64),
        Count(i64),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (1..1000i64, 0..10_000i64).prop_map(|(q, c)| Step::In(q, c)),
            (1..1000i64).prop_map(Step::Out),
            (0..2000i64).prop_map(Step::Count),
        ]
    }

    proptest! {
        /// Whatever happens, the stock is never negative, empty is worth 0, and the movements'
        /// values add up to the stock's value.
        #[test]
        fn movements_add_up(steps in proptest::collection::vec(step(), 1..60), cost in 0..10_000i64) {
            let mut stock = Stock::default();
            let (mut quantity, mut value) = (0i64, 0i64);
            for step in steps {
                let moved = match step {
                    Step::In(q, c) => stock.inflow(q, c),
                    Step::Out(q) => stock.outflow(q),
                    Step::Count(n) => stock.count(n, cost),
                };
                let Ok(moved) = moved else { continue };
                quantity += moved.quantity_delta;
                value += moved.value_delta_minor;
                stock = moved.after;
                prop_assert!(stock.quantity >= 0 && stock.value_minor >= 0);
                prop_assert_eq!((stock.quantity, stock.value_minor), (quantity, value));
                if stock.quantity == 0 {
                    prop_assert_eq!(stock.value_minor, 0);
                }
            }
        }

        /// The average cost stays within the unit costs paid.
        #[test]
        fn average_within_costs(inflows in proptest::collection::vec((1..100i64, 1..5000i64), 1..20)) {
            let mut stock = Stock::default();
            for (q, c) in &inflows {
                stock = stock.inflow(*q, *c).expect("in").after;
            }
            let lo = inflows.iter().map(|(_, c)| *c).min().unwrap_or(0);
            let hi = inflows.iter().map(|(_, c)| *c).max().unwrap_or(0);
            let avg = stock.average_cost_minor().unwrap_or(0);
            prop_assert!(lo <= avg && avg <= hi);
        }
    }
}
