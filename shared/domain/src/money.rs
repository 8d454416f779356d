//! Money in integer minor units with an ISO 4217 currency; rates in basis points. No floats.
//!
//! **Rounding rule, everywhere.** A share of an amount (a cancellation or no-show fee, a deposit,
//! loyalty points, tax on a project, the value of stock taken at average cost) is computed
//! exactly in integers and rounded once, to the nearest minor unit, **halves up** (away from
//! zero): 50 % of 2545 is 1273, 17.5 % of 2545 is 445 (445.375), 50 % of 1 is 1, 49.99 % of 1 is
//! 0. The minor unit is the currency's own (cents, or the yen itself for JPY: 50 % of JPY 1001
//! is JPY 501). A refund is never rounded: it is what was received less the fee kept. Tax is
//! rounded once on a total, never per line (docs/projects.md).

use serde::{Deserialize, Serialize};

use crate::Invalid;

/// Active ISO 4217 currency codes and their minor units.
const CURRENCIES: &[(&str, u8)] = &[
    ("AED", 2),
    ("AFN", 2),
    ("ALL", 2),
    ("AMD", 2),
    ("AOA", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("AWG", 2),
    ("AZN", 2),
    ("BAM", 2),
    ("BBD", 2),
    ("BDT", 2),
    ("BGN", 2),
    ("BHD", 3),
    ("BIF", 0),
    ("BMD", 2),
    ("BND", 2),
    ("BOB", 2),
    ("BRL", 2),
    ("BSD", 2),
    ("BTN", 2),
    ("BWP", 2),
    ("BYN", 2),
    ("BZD", 2),
    ("CAD", 2),
    ("CDF", 2),
    ("CHF", 2),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("CRC", 2),
    ("CUP", 2),
    ("CVE", 2),
    ("CZK", 2),
    ("DJF", 0),
    ("DKK", 2),
    ("DOP", 2),
    ("DZD", 2),
    ("EGP", 2),
    ("ERN", 2),
    ("ETB", 2),
    ("EUR", 2),
    ("FJD", 2),
    ("FKP", 2),
    ("GBP", 2),
    ("GEL", 2),
    ("GHS", 2),
    ("GIP", 2),
    ("GMD", 2),
    ("GNF", 0),
    ("GTQ", 2),
    ("GYD", 2),
    ("HKD", 2),
    ("HNL", 2),
    ("HTG", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("IQD", 3),
    ("IRR", 2),
    ("ISK", 0),
    ("JMD", 2),
    ("JOD", 3),
    ("JPY", 0),
    ("KES", 2),
    ("KGS", 2),
    ("KHR", 2),
    ("KMF", 0),
    ("KPW", 2),
    ("KRW", 0),
    ("KWD", 3),
    ("KYD", 2),
    ("KZT", 2),
    ("LAK", 2),
    ("LBP", 2),
    ("LKR", 2),
    ("LRD", 2),
    ("LSL", 2),
    ("LYD", 3),
    ("MAD", 2),
    ("MDL", 2),
    ("MGA", 2),
    ("MKD", 2),
    ("MMK", 2),
    ("MNT", 2),
    ("MOP", 2),
    ("MRU", 2),
    ("MUR", 2),
    ("MVR", 2),
    ("MWK", 2),
    ("MXN", 2),
    ("MYR", 2),
    ("MZN", 2),
    ("NAD", 2),
    ("NGN", 2),
    ("NIO", 2),
    ("NOK", 2),
    ("NPR", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PAB", 2),
    ("PEN", 2),
    ("PGK", 2),
    ("PHP", 2),
    ("PKR", 2),
    ("PLN", 2),
    ("PYG", 0),
    ("QAR", 2),
    ("RON", 2),
    ("RSD", 2),
    ("RUB", 2),
    ("RWF", 0),
    ("SAR", 2),
    ("SBD", 2),
    ("SCR", 2),
    ("SDG", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("SHP", 2),
    ("SLE", 2),
    ("SOS", 2),
    ("SRD", 2),
    ("SSP", 2),
    ("STN", 2),
    ("SVC", 2),
    ("SYP", 2),
    ("SZL", 2),
    ("THB", 2),
    ("TJS", 2),
    ("TMT", 2),
    ("TND", 3),
    ("TOP", 2),
    ("TRY", 2),
    ("TTD", 2),
    ("TWD", 2),
    ("TZS", 2),
    ("UAH", 2),
    ("UGX", 0),
    ("USD", 2),
    ("UYU", 2),
    ("UZS", 2),
    ("VES", 2),
    ("VND", 0),
    ("VUV", 0),
    ("WST", 2),
    ("XAF", 0),
    ("XCD", 2),
    ("XCG", 2),
    ("XOF", 0),
    ("XPF", 0),
    ("YER", 2),
    ("ZAR", 2),
    ("ZMW", 2),
    ("ZWG", 2),
];

/// An ISO 4217 currency code, known to be one: read back from the store or a request, it is
/// checked again, so a `Currency` in hand is always valid.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency(String);

impl TryFrom<String> for Currency {
    type Error = Invalid;
    fn try_from(code: String) -> Result<Currency, Invalid> {
        Currency::parse(&code, "currency")
    }
}

impl From<Currency> for String {
    fn from(currency: Currency) -> String {
        currency.0
    }
}

impl std::fmt::Display for Currency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An amount of money: minor units of a currency (cents of EUR, yen of JPY). Amounts of
/// different currencies are different things; arithmetic stays in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Money {
    /// Minor units (may be negative for refunds and adjustments).
    pub minor: i64,
    /// Its currency.
    pub currency: Currency,
}

impl Money {
    /// `minor` units of `currency`.
    pub fn new(minor: i64, currency: Currency) -> Money {
        Money { minor, currency }
    }

    /// `bps` basis points of this amount, rounded half up (see [`apply_bps`]).
    pub fn share_bps(&self, bps: u32) -> Money {
        Money { minor: apply_bps(self.minor, bps), currency: self.currency.clone() }
    }
}

impl std::fmt::Display for Money {
    /// For people: `EUR 12.50`, `JPY 1200`, `KWD 1.250`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&format_amount(self.minor, self.currency.code()))
    }
}

impl Currency {
    /// Parses a code (case-insensitive) known to ISO 4217.
    pub fn parse(code: &str, field: &str) -> Result<Currency, Invalid> {
        let code = code.trim().to_uppercase();
        if CURRENCIES.iter().any(|(c, _)| *c == code) {
            Ok(Currency(code))
        } else {
            Err(Invalid::field(field, "is not an ISO 4217 currency code"))
        }
    }

    /// The code.
    pub fn code(&self) -> &str {
        &self.0
    }

    /// Digits after the decimal point (2 for EUR, 0 for JPY, 3 for KWD).
    pub fn minor_units(&self) -> u8 {
        CURRENCIES.iter().find(|(c, _)| *c == self.0).map_or(2, |(_, m)| *m)
    }
}

/// An amount for people: `EUR 12.50`, `JPY 1200`.
pub fn format_amount(amount_minor: i64, currency: &str) -> String {
    let digits = CURRENCIES.iter().find(|(c, _)| *c == currency).map_or(2, |(_, m)| *m);
    if digits == 0 {
        return format!("{currency} {amount_minor}");
    }
    let scale = 10_i64.pow(u32::from(digits));
    let sign = if amount_minor < 0 { "-" } else { "" };
    let abs = amount_minor.unsigned_abs();
    let scale = scale.unsigned_abs();
    format!("{currency} {sign}{}.{:0width$}", abs / scale, abs % scale, width = usize::from(digits))
}

/// 1 basis point is 0.01 %; 10 000 is 100 %.
pub const FULL_BPS: u32 = 10_000;

/// Checks a rate in basis points (0 to 100 %).
pub fn check_bps(bps: u32, field: &str) -> Result<(), Invalid> {
    if bps <= FULL_BPS {
        Ok(())
    } else {
        Err(Invalid::field(field, "must be between 0 and 10000 basis points"))
    }
}

/// `amount × bps / 10 000`, rounded half up; never overflows for any stored amount.
pub fn apply_bps(amount_minor: i64, bps: u32) -> i64 {
    let product = i128::from(amount_minor) * i128::from(bps);
    let rounded = (product + i128::from(FULL_BPS / 2)).div_euclid(i128::from(FULL_BPS));
    i64::try_from(rounded).unwrap_or(i64::MAX)
}

/// Largest amount accepted anywhere, in minor units (ten million major units at 2 digits).
pub const MAX_AMOUNT_MINOR: i64 = 1_000_000_000;

/// Checks a price or fee: zero or more, within bounds.
pub fn check_amount(amount_minor: i64, field: &str) -> Result<(), Invalid> {
    if (0..=MAX_AMOUNT_MINOR).contains(&amount_minor) {
        Ok(())
    } else {
        Err(Invalid::field(field, format!("must be between 0 and {MAX_AMOUNT_MINOR} (minor units)")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_round_half_up_once() {
        assert_eq!(apply_bps(2545, 5000), 1273, "an exact half goes up");
        assert_eq!(apply_bps(2545, 1750), 445, "445.375");
        assert_eq!(apply_bps(2545, 1751), 446, "445.6295");
        assert_eq!(apply_bps(1, 5000), 1, "a tiny amount's half");
        assert_eq!(apply_bps(1, 4999), 0);
        assert_eq!(apply_bps(0, 10_000), 0);
        assert_eq!(apply_bps(1001, 5000), 501, "JPY has no minor unit: the yen rounds");
        assert_eq!(apply_bps(MAX_AMOUNT_MINOR, FULL_BPS), MAX_AMOUNT_MINOR);
        assert_eq!(Currency::parse("JPY", "c").expect("yen").minor_units(), 0);
    }

    #[test]
    fn money_keeps_its_currency_and_prints_for_people() {
        let eur = Currency::parse("eur", "c").expect("EUR");
        let price = Money::new(2545, eur.clone());
        assert_eq!(price.share_bps(5000), Money::new(1273, eur), "half up");
        assert_eq!(price.to_string(), "EUR 25.45");
        let yen = Money::new(1200, Currency::parse("JPY", "c").expect("JPY"));
        assert_eq!(yen.to_string(), "JPY 1200");
        assert!(serde_json::from_str::<Currency>("\"EURO\"").is_err(), "a stored currency is checked");
        assert_eq!(
            serde_json::to_string(&Currency::parse("kwd", "c").expect("KWD")).expect("json"),
            "\"KWD\""
        );
    }

    #[test]
    fn amounts_for_people() {
        assert_eq!(format_amount(1250, "EUR"), "EUR 12.50");
        assert_eq!(format_amount(1200, "JPY"), "JPY 1200");
        assert_eq!(format_amount(-5, "KWD"), "KWD -0.005");
    }
    use proptest::prelude::*;

    #[test]
    fn currencies() {
        assert_eq!(Currency::parse("eur", "c").expect("valid").code(), "EUR");
        assert_eq!(Currency::parse("JPY", "c").expect("valid").minor_units(), 0);
        assert_eq!(Currency::parse("KWD", "c").expect("valid").minor_units(), 3);
        assert!(Currency::parse("EURO", "c").is_err());
        assert!(Currency::parse("XXX", "c").is_err());
        let mut codes: Vec<&str> = CURRENCIES.iter().map(|(c, _)| *c).collect();
        codes.dedup();
        assert_eq!(codes.len(), CURRENCIES.len(), "sorted and unique");
        assert!(codes.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn basis_points() {
        assert_eq!(apply_bps(2500, 2000), 500);
        assert_eq!(apply_bps(999, 5000), 500, "half up");
        assert_eq!(apply_bps(1, 4999), 0);
        assert!(check_bps(10_001, "rate").is_err());
        assert!(check_amount(-1, "price").is_err());
    }

    proptest! {
        #[test]
        fn bps_never_exceed_the_amount(amount in 0..MAX_AMOUNT_MINOR, bps in 0..=FULL_BPS) {
            let part = apply_bps(amount, bps);
            prop_assert!((0..=amount).contains(&part));
            prop_assert_eq!(apply_bps(amount, FULL_BPS), amount);
        }
    }
}
