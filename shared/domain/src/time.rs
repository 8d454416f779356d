//! The dates and instants Atelier accepts: a documented range for every one of them, and RFC
//! 3339 offsets as RFC 3339 defines them.
//!
//! Outside the range nothing is meaningful for a studio's schedule, and the store's sort keys
//! (epoch milliseconds, zero-padded) only order instants from 1970 on; refusing at the edge
//! keeps such values away from every key.

use jiff::Timestamp;
use jiff::civil::{Date, date};

use crate::Invalid;

/// The first date any schedule date (slot search, booking, exception, waitlist, filter) may be.
pub const EARLIEST_DATE: Date = date(2000, 1, 1);
/// The last date any schedule date may be.
pub const LATEST_DATE: Date = date(2199, 12, 31);
/// How far ahead an availability exception may end, in days (two years).
pub const EXCEPTION_DAYS_AHEAD: i32 = 731;

/// Whether `day` is in the accepted range.
pub fn date_in_range(day: Date) -> bool {
    (EARLIEST_DATE..=LATEST_DATE).contains(&day)
}

/// Whether `instant` falls on an accepted date (in UTC).
pub fn instant_in_range(instant: Timestamp) -> bool {
    date_in_range(jiff::tz::TimeZone::UTC.to_datetime(instant).date())
}

/// Records an error on `field` unless `day` is in the accepted range.
pub fn check_date(errors: &mut Invalid, field: &str, day: Date) {
    errors.check(date_in_range(day), field, range_message());
}

/// Records an error on `field` unless `instant` is in the accepted range.
pub fn check_instant(errors: &mut Invalid, field: &str, instant: Timestamp) {
    errors.check(instant_in_range(instant), field, range_message());
}

fn range_message() -> String {
    format!("must be between {EARLIEST_DATE} and {LATEST_DATE}")
}

/// Parses an RFC 3339 instant strictly: jiff also takes offsets up to ±25:59:59, which RFC
/// 3339 does not (`time-hour` is 00 to 23), and an instant written with one is a mistake.
pub fn parse_rfc3339(text: &str) -> Result<Timestamp, String> {
    let instant: Timestamp =
        text.parse().map_err(|e: jiff::Error| format!("`{text}` is not an RFC 3339 instant: {e}"))?;
    let offset_ok = match text.as_bytes() {
        [.., b'Z' | b'z'] => true,
        [.., sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let _ = sign;
            let two = |a: u8, b: u8| {
                (a.is_ascii_digit() && b.is_ascii_digit()).then(|| (a - b'0') * 10 + (b - b'0'))
            };
            matches!((two(*h1, *h2), two(*m1, *m2)), (Some(h), Some(m)) if h <= 23 && m <= 59)
        }
        _ => false,
    };
    if offset_ok {
        Ok(instant)
    } else {
        Err(format!("`{text}` is not an RFC 3339 instant (offset from -23:59 to +23:59, or Z)"))
    }
}

/// `#[serde(deserialize_with = "atelier_domain::time::rfc3339")]` for request instants.
pub fn rfc3339<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
    let text = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(deserializer)?;
    parse_rfc3339(&text).map_err(serde::de::Error::custom)
}

/// [`rfc3339`] for optional instants.
pub fn rfc3339_option<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Timestamp>, D::Error> {
    let text = <Option<std::borrow::Cow<'de, str>> as serde::Deserialize>::deserialize(deserializer)?;
    text.map(|t| parse_rfc3339(&t).map_err(serde::de::Error::custom)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_follow_rfc_3339() {
        assert!(parse_rfc3339("2026-11-30T14:00:00Z").is_ok());
        assert!(parse_rfc3339("2026-11-30T14:00:00+23:59").is_ok());
        assert!(parse_rfc3339("2026-11-30T14:00:00-05:30").is_ok());
        assert!(parse_rfc3339("2026-11-30T14:00:00+25:00").is_err());
        assert!(parse_rfc3339("2026-11-30T14:00:00+24:00").is_err());
        assert!(parse_rfc3339("2026-11-30T14:00:00+05:60").is_err());
        assert!(parse_rfc3339("2026-11-30").is_err());
    }

    #[test]
    fn dates_have_a_range() {
        assert!(date_in_range(date(2026, 11, 30)));
        assert!(!date_in_range(date(1969, 12, 31)));
        assert!(!date_in_range(date(1000, 1, 1)));
        assert!(!date_in_range(date(9999, 12, 31)));
        assert!(!instant_in_range("0001-01-01T00:00:00Z".parse().expect("instant")));
        let mut errors = Invalid::default();
        check_date(&mut errors, "from", date(1900, 1, 1));
        assert!(errors.into_result().is_err());
    }
}
