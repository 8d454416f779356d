//! Projects: a status machine and the money of a production — revenue from its lines, crew
//! fees, expenses, tax on revenue at the studio's rate, profit and margin.
//!
//! **Rounding rule.** Every amount is an integer of minor units, never a float. Each line is
//! rounded to minor units once (a discounted line: `quantity × unit price × (1 − discount)`,
//! half up; an hourly fee: `rate × minutes / 60`, half up); tax is computed **once on the
//! total revenue**, half up, never per line and summed. So three lines of 0.05 at 10 % owe
//! 0.02 (1.5 cents rounded up), not 0.03 (0.5 cents rounded up three times). The margin is in
//! basis points of revenue, rounded half away from zero.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::money::FULL_BPS;

/// Where a project stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProjectStatus {
    /// Being put together.
    Draft,
    /// Agreed and scheduled.
    Planned,
    /// Work under way.
    InProgress,
    /// Handed to the client.
    Delivered,
    /// Paid and done.
    Closed,
    /// Called off.
    Cancelled,
}

impl ProjectStatus {
    /// Every status, in order.
    pub const ALL: [ProjectStatus; 6] = [
        ProjectStatus::Draft,
        ProjectStatus::Planned,
        ProjectStatus::InProgress,
        ProjectStatus::Delivered,
        ProjectStatus::Closed,
        ProjectStatus::Cancelled,
    ];

    /// The name on the wire and in keys.
    pub fn as_str(self) -> &'static str {
        match self {
            ProjectStatus::Draft => "draft",
            ProjectStatus::Planned => "planned",
            ProjectStatus::InProgress => "in_progress",
            ProjectStatus::Delivered => "delivered",
            ProjectStatus::Closed => "closed",
            ProjectStatus::Cancelled => "cancelled",
        }
    }

    /// Whether moving to `next` makes sense: one step forward, back from in progress to
    /// planned (work paused), or cancelled before delivery.
    pub fn may_become(self, next: ProjectStatus) -> bool {
        use ProjectStatus::*;
        matches!(
            (self, next),
            (Draft, Planned)
                | (Planned, InProgress)
                | (InProgress, Planned)
                | (InProgress, Delivered)
                | (Delivered, Closed)
                | (Draft | Planned | InProgress, Cancelled)
        )
    }

    /// Whether its money counts as earned (delivered or closed).
    pub fn earned(self) -> bool {
        matches!(self, ProjectStatus::Delivered | ProjectStatus::Closed)
    }

    /// Whether work is still to be done (counts towards deadlines and overdue).
    pub fn open(self) -> bool {
        matches!(self, ProjectStatus::Draft | ProjectStatus::Planned | ProjectStatus::InProgress)
    }
}

/// `a × b / c` rounded half away from zero (`c` > 0).
fn mul_div_round(a: i64, b: i64, c: i64) -> i64 {
    let n = i128::from(a) * i128::from(b);
    let c = i128::from(c);
    let q = (2 * n.abs() + c) / (2 * c);
    i64::try_from(if n < 0 { -q } else { q }).unwrap_or(if n < 0 { i64::MIN } else { i64::MAX })
}

/// A line's revenue: `quantity × unit price`, less the discount, rounded half up (quantities and
/// prices are never negative).
pub fn line_total(quantity: i64, unit_price_minor: i64, discount_bps: u32) -> i64 {
    let gross = i128::from(quantity) * i128::from(unit_price_minor);
    let kept = i128::from(FULL_BPS - discount_bps.min(FULL_BPS));
    let full = i128::from(FULL_BPS);
    i64::try_from((2 * gross * kept + full) / (2 * full)).unwrap_or(i64::MAX)
}

/// A crew member's fee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CrewFee {
    /// A fixed amount for the project.
    Fixed {
        /// Minor units.
        amount_minor: i64,
    },
    /// An hourly rate and the time worked.
    Hourly {
        /// Minor units per hour.
        rate_minor: i64,
        /// Minutes worked so far.
        #[serde(default)]
        minutes: i64,
    },
}

impl CrewFee {
    /// What it costs, rounded half up.
    pub fn cost_minor(&self) -> i64 {
        match *self {
            CrewFee::Fixed { amount_minor } => amount_minor,
            CrewFee::Hourly { rate_minor, minutes } => mul_div_round(rate_minor, minutes, 60),
        }
    }
}

/// A project's money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct Totals {
    /// Sum of the lines.
    pub revenue_minor: i64,
    /// The part of it from lines linked to bookings (already counted as the bookings' revenue
    /// in the studio's figures).
    pub booked_revenue_minor: i64,
    /// Sum of the crew's fees.
    pub crew_costs_minor: i64,
    /// Sum of the expenses.
    pub expenses_minor: i64,
    /// Tax on revenue at the studio's rate, once on the total.
    pub tax_minor: i64,
    /// Revenue less crew costs, expenses and tax, exactly.
    pub profit_minor: i64,
    /// Profit in basis points of revenue (absent without revenue).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub margin_bps: Option<i64>,
    /// Crew costs and expenses.
    pub spent_minor: i64,
}

/// The parts of a project the totals are made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line {
    /// Its rounded total.
    pub total_minor: i64,
    /// Whether it is linked to a booking.
    pub booked: bool,
}

/// The totals of lines, crew costs and expenses at `tax_rate_bps`.
pub fn totals(
    lines: impl IntoIterator<Item = Line>,
    crew_costs: impl IntoIterator<Item = i64>,
    expenses: impl IntoIterator<Item = i64>,
    tax_rate_bps: u32,
) -> Totals {
    let (mut revenue, mut booked) = (0i64, 0i64);
    for line in lines {
        revenue = revenue.saturating_add(line.total_minor);
        if line.booked {
            booked = booked.saturating_add(line.total_minor);
        }
    }
    let crew: i64 = crew_costs.into_iter().fold(0, i64::saturating_add);
    let expenses: i64 = expenses.into_iter().fold(0, i64::saturating_add);
    let tax = mul_div_round(revenue, i64::from(tax_rate_bps.min(FULL_BPS)), i64::from(FULL_BPS));
    let profit = revenue.saturating_sub(crew).saturating_sub(expenses).saturating_sub(tax);
    Totals {
        revenue_minor: revenue,
        booked_revenue_minor: booked,
        crew_costs_minor: crew,
        expenses_minor: expenses,
        tax_minor: tax,
        profit_minor: profit,
        margin_bps: (revenue > 0).then(|| mul_div_round(profit, i64::from(FULL_BPS), revenue)),
        spent_minor: crew.saturating_add(expenses),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn status_machine() {
        use ProjectStatus::*;
        assert!(
            Draft.may_become(Planned) && InProgress.may_become(Delivered) && Delivered.may_become(Closed)
        );
        assert!(!Draft.may_become(Delivered), "no skipping");
        assert!(
            !Closed.may_become(Cancelled) && !Delivered.may_become(Cancelled) && !Cancelled.may_become(Draft)
        );
        assert!(Planned.may_become(Cancelled));
    }

    #[test]
    fn tax_once_on_the_total_not_per_line() {
        // Three lines of 0.05 at 10 %: per line 0.5 cent rounds up to 1 each (3 in all); on the
        // total, 1.5 cents rounds up to 2. We produce 2.
        let line = Line { total_minor: 5, booked: false };
        let t = totals([line, line, line], [], [], 1000);
        assert_eq!(t.tax_minor, 2);
        let per_line: i64 = (0..3).map(|_| mul_div_round(5, 1000, 10_000)).sum();
        assert_eq!(per_line, 3, "what per-line rounding would have produced");
        assert_eq!(t.profit_minor, 13);
    }

    #[test]
    fn lines_fees_and_margin() {
        assert_eq!(line_total(3, 333, 0), 999);
        assert_eq!(line_total(1, 2545, 5000), 1273, "half up");
        assert_eq!(line_total(2, 100, 10_000), 0);
        assert_eq!(CrewFee::Hourly { rate_minor: 2000, minutes: 90 }.cost_minor(), 3000);
        assert_eq!(CrewFee::Hourly { rate_minor: 1001, minutes: 30 }.cost_minor(), 501, "500.5 → 501");
        let t = totals([Line { total_minor: 100_000, booked: true }], [30_000], [10_000], 2300);
        assert_eq!(
            (t.tax_minor, t.profit_minor, t.margin_bps, t.booked_revenue_minor),
            (23_000, 37_000, Some(3700), 100_000)
        );
        let loss = totals([Line { total_minor: 1000, booked: false }], [2000], [], 0);
        assert_eq!(loss.margin_bps, Some(-10_000));
        assert_eq!(totals([], [], [], 2300).margin_bps, None);
    }

    proptest! {
        /// Totals add up over the lines; profit is revenue less costs and tax, exactly.
        #[test]
        fn totals_are_additive_and_exact(
            // Up to the largest line (10^6 units at 10^9) and more lines than a project holds.
            lines in proptest::collection::vec((0..1_000_000_000_000_000i64, any::<bool>()), 0..60),
            crew in proptest::collection::vec(0..1_000_000i64, 0..10),
            expenses in proptest::collection::vec(0..1_000_000i64, 0..30),
            rate in 0u32..=10_000,
        ) {
            let as_lines: Vec<Line> = lines.iter().map(|(t, b)| Line { total_minor: *t, booked: *b }).collect();
            let t = totals(as_lines.clone(), crew.clone(), expenses.clone(), rate);
            prop_assert_eq!(t.revenue_minor, lines.iter().map(|(v, _)| v).sum::<i64>());
            prop_assert_eq!(t.crew_costs_minor, crew.iter().sum::<i64>());
            prop_assert_eq!(t.expenses_minor, expenses.iter().sum::<i64>());
            prop_assert_eq!(t.crew_costs_minor + t.expenses_minor, t.spent_minor);
            prop_assert_eq!(t.profit_minor, t.revenue_minor - t.crew_costs_minor - t.expenses_minor - t.tax_minor);
            // Splitting the lines in two: revenue, costs and the unrounded tax add up; the tax
            // on the whole is within a cent of the two halves' taxes.
            let (a, b) = as_lines.split_at(as_lines.len() / 2);
            let (ta, tb) = (totals(a.to_vec(), [], [], rate), totals(b.to_vec(), [], [], rate));
            prop_assert_eq!(ta.revenue_minor + tb.revenue_minor, t.revenue_minor);
            prop_assert!((ta.tax_minor + tb.tax_minor - t.tax_minor).abs() <= 1);
            prop_assert!(t.tax_minor >= 0 && t.tax_minor <= t.revenue_minor);
        }
    }
}
