//! The period a report covers: a day, a week (Monday to Sunday), a month or custom dates (at
//! most 366 days), as civil dates in the studio's zone.

use atelier_domain::Invalid;
use jiff::ToSpan;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Longest custom period, in days (a leap year).
pub const MAX_DAYS: i32 = 366;

/// How the period is chosen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PeriodKind {
    /// The day of `date`.
    Day,
    /// The week (Monday to Sunday) of `date`.
    Week,
    /// The month of `date`.
    #[default]
    Month,
    /// `from` to `to`, both included.
    Custom,
}

/// The period parameters of a report request.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PeriodParams {
    /// `day`, `week`, `month` (default) or `custom`.
    pub period: Option<PeriodKind>,
    /// A date in the period (default: today in the studio's zone); not with `custom`.
    #[param(value_type = Option<String>, format = Date)]
    pub date: Option<Date>,
    /// First day of a custom period.
    #[param(value_type = Option<String>, format = Date)]
    pub from: Option<Date>,
    /// Last day of a custom period (at most 366 days in all).
    #[param(value_type = Option<String>, format = Date)]
    pub to: Option<Date>,
}

/// A resolved period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct Period {
    /// How it was chosen.
    pub kind: PeriodKind,
    /// First day.
    #[schema(value_type = String, format = Date)]
    pub from: Date,
    /// Last day (included).
    #[schema(value_type = String, format = Date)]
    pub to: Date,
}

impl Period {
    /// The period `params` name, `today` being the studio's date now.
    pub fn resolve(params: &PeriodParams, today: Date) -> Result<Period, Invalid> {
        let kind = params.period.unwrap_or_default();
        let mut errors = Invalid::default();
        for (name, date) in [("date", params.date), ("from", params.from), ("to", params.to)] {
            if let Some(d) = date {
                atelier_domain::time::check_date(&mut errors, name, d);
            }
        }
        errors.into_result()?;
        if kind == PeriodKind::Custom {
            let (Some(from), Some(to)) = (params.from, params.to) else {
                return Err(Invalid::field("from", "a custom period needs from and to"));
            };
            if to < from {
                return Err(Invalid::field("to", "must not be before from"));
            }
            if days_between(from, to) > MAX_DAYS {
                return Err(Invalid::field("to", format!("a period spans at most {MAX_DAYS} days")));
            }
            return Ok(Period { kind, from, to });
        }
        if params.from.is_some() || params.to.is_some() {
            return Err(Invalid::field("from", "from and to go with period=custom; use date"));
        }
        let date = params.date.unwrap_or(today);
        let (from, to) = match kind {
            PeriodKind::Day => (date, date),
            PeriodKind::Week => {
                let monday = date
                    .checked_sub(i64::from(date.weekday().to_monday_zero_offset()).days())
                    .map_err(|_| Invalid::field("date", "is out of range"))?;
                (monday, monday.checked_add(6.days()).map_err(|_| Invalid::field("date", "is out of range"))?)
            }
            _ => (date.first_of_month(), date.last_of_month()),
        };
        Ok(Period { kind, from, to })
    }

    /// Every date of the period, in order.
    pub fn dates(&self) -> impl Iterator<Item = Date> + '_ {
        self.from.series(1.day()).take_while(move |d| *d <= self.to)
    }

    /// Days in the period.
    pub fn days(&self) -> i32 {
        days_between(self.from, self.to)
    }
}

/// Days from `from` to `to`, both included.
fn days_between(from: Date, to: Date) -> i32 {
    from.until(to).map(|s| s.get_days()).unwrap_or(i32::MAX).saturating_add(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn resolve(kind: PeriodKind, d: Date) -> Period {
        Period::resolve(&PeriodParams { period: Some(kind), date: Some(d), ..Default::default() }, d)
            .expect("valid")
    }

    #[test]
    fn periods_are_whole_days_weeks_and_months() {
        let thursday = date(2026, 11, 26);
        assert_eq!(
            (resolve(PeriodKind::Day, thursday).from, resolve(PeriodKind::Day, thursday).to),
            (thursday, thursday)
        );
        let week = resolve(PeriodKind::Week, thursday);
        assert_eq!((week.from, week.to), (date(2026, 11, 23), date(2026, 11, 29)));
        let month = resolve(PeriodKind::Month, date(2028, 2, 10));
        assert_eq!((month.from, month.to, month.days()), (date(2028, 2, 1), date(2028, 2, 29), 29));
        assert_eq!(month.dates().count(), 29);
    }

    #[test]
    fn custom_periods_are_bounded() {
        let params = |from, to| PeriodParams {
            period: Some(PeriodKind::Custom),
            from: Some(from),
            to: Some(to),
            ..Default::default()
        };
        let today = date(2026, 1, 1);
        assert_eq!(
            Period::resolve(&params(date(2024, 1, 1), date(2024, 12, 31)), today).expect("leap year").days(),
            366
        );
        assert!(Period::resolve(&params(date(2024, 1, 1), date(2025, 1, 1)), today).is_err());
        assert!(Period::resolve(&params(date(2024, 1, 2), date(2024, 1, 1)), today).is_err());
        assert!(
            Period::resolve(&PeriodParams { period: Some(PeriodKind::Custom), ..Default::default() }, today)
                .is_err()
        );
        assert!(Period::resolve(&PeriodParams { from: Some(today), ..Default::default() }, today).is_err());
    }
}
