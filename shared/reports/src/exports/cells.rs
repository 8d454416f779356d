//! What a row is made of, and how a cell is written: money as a number beside its currency,
//! instants in the studio's zone with their offset, and text that a spreadsheet would run as a
//! formula neutralised.

use std::borrow::Cow;

/// One value of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Nothing.
    Empty,
    /// Text (user input included): neutralised when written.
    Text(String),
    /// A whole number.
    Int(i64),
    /// An amount in minor units with the currency's digits (`4000`, 2 → 40.00).
    Decimal {
        /// Minor units.
        minor: i64,
        /// Digits after the point.
        digits: u8,
    },
    /// Yes or no.
    Bool(bool),
}

/// Text a spreadsheet would read as a formula (`=`, `+`, `-`, `@`) or that hides one behind a
/// tab or carriage return, prefixed with `'` so it stays text (OWASP's CSV injection advice).
/// Numbers are never text here, so a negative amount is not touched.
pub fn neutralise(text: &str) -> Cow<'_, str> {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{text}")),
        _ => Cow::Borrowed(text),
    }
}

/// An amount as a plain decimal: `40.00`, `-5.50`, `1200` (zero-digit currencies).
pub fn decimal(minor: i64, digits: u8) -> String {
    if digits == 0 {
        return minor.to_string();
    }
    let scale = 10_u64.pow(u32::from(digits));
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!("{sign}{}.{:0width$}", abs / scale, abs % scale, width = usize::from(digits))
}

impl Cell {
    /// The cell as CSV text.
    pub fn csv_text(&self) -> Cow<'_, str> {
        match self {
            Cell::Empty => Cow::Borrowed(""),
            Cell::Text(t) => neutralise(t),
            Cell::Int(n) => Cow::Owned(n.to_string()),
            Cell::Decimal { minor, digits } => Cow::Owned(decimal(*minor, *digits)),
            Cell::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_and_numbers_are_not() {
        for risky in ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\t=x", "\r=x"] {
            assert_eq!(Cell::Text(risky.into()).csv_text(), format!("'{risky}"));
        }
        assert_eq!(Cell::Text("Ana = Bea".into()).csv_text(), "Ana = Bea");
        assert_eq!(Cell::Decimal { minor: -550, digits: 2 }.csv_text(), "-5.50");
        assert_eq!(Cell::Int(-3).csv_text(), "-3");
    }

    #[test]
    fn amounts_keep_their_currency_digits() {
        assert_eq!(decimal(4000, 2), "40.00");
        assert_eq!(decimal(5, 2), "0.05");
        assert_eq!(decimal(-1, 3), "-0.001");
        assert_eq!(decimal(1200, 0), "1200");
        assert_eq!(decimal(i64::MIN, 2), "-92233720368547758.08");
    }
}
