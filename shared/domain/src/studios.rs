//! A studio's profile and booking settings.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Invalid;
use crate::identity::{Email, check_phone};
use crate::money::{Currency, check_bps};

/// A studio's public handle in URLs: 3 to 60 of `a-z`, `0-9` and single inner hyphens.
pub fn check_slug(slug: &str, field: &str) -> Result<String, Invalid> {
    let slug = slug.trim().to_lowercase();
    let ok = (3..=60).contains(&slug.len())
        && slug.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
        && !slug.contains("--");
    if ok {
        Ok(slug)
    } else {
        Err(Invalid::field(field, "must be 3-60 lowercase letters, digits and single hyphens"))
    }
}

/// An IANA time zone name known to the bundled database.
pub fn check_time_zone(name: &str, field: &str) -> Result<String, Invalid> {
    match jiff::tz::TimeZone::get(name.trim()) {
        Ok(_) if !name.trim().is_empty() => Ok(name.trim().to_owned()),
        _ => Err(Invalid::field(field, "is not an IANA time zone, like Europe/Lisbon")),
    }
}

/// Checks free text: trimmed, at most `max` characters, no control characters but newlines.
pub fn check_text(text: &str, max: usize, field: &str) -> Result<String, Invalid> {
    let text = text.trim();
    if text.chars().count() <= max && !text.chars().any(|c| c.is_control() && c != '\n') {
        Ok(text.to_owned())
    } else {
        Err(Invalid::field(field, format!("must be at most {max} characters of text")))
    }
}

/// Like [`check_text`], and not empty.
pub fn check_required_text(text: &str, max: usize, field: &str) -> Result<String, Invalid> {
    let text = check_text(text, max, field)?;
    if text.is_empty() { Err(Invalid::field(field, "must not be empty")) } else { Ok(text) }
}

/// Slot steps a studio may choose, in minutes: divisors of an hour.
pub const SLOT_STEPS: [u32; 6] = [5, 10, 15, 20, 30, 60];

/// How booking works in a studio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingSettings {
    /// Bookings must start at least this many minutes from now.
    pub min_notice_minutes: u32,
    /// Bookings can be made at most this many days ahead.
    pub horizon_days: u32,
    /// Start times fall on this grid, in minutes (5, 10, 15, 20, 30 or 60).
    pub slot_step_minutes: u32,
    /// Minutes after the start before a missing client is a no-show.
    pub no_show_tolerance_minutes: u32,
    /// Loyalty points earned per completed booking, in basis points of the price paid
    /// (500 = 5 points per 100 minor units).
    pub loyalty_rate_bps: u32,
    /// Minutes a slot is held for a booking waiting for its deposit.
    #[serde(default = "default_hold_minutes")]
    pub hold_minutes: u32,
    /// Hours before the start reminders go out: up to 3, e.g. `[24, 2]` (`[]` or `0`: none; a
    /// single number is one reminder).
    #[serde(default = "default_reminder_hours")]
    #[schema(value_type = Vec<u32>, example = json!([24, 2]))]
    pub reminder_hours: ReminderHours,
    /// Minutes a waitlist offer stays open.
    #[serde(default = "default_waitlist_offer_minutes")]
    pub waitlist_offer_minutes: u32,
    /// Loyalty points taken away on a no-show.
    #[serde(default = "default_no_show_penalty_points")]
    pub no_show_penalty_points: u32,
    /// Days without earning after which a client's points expire (0: never).
    #[serde(default = "default_loyalty_expiry_days")]
    pub loyalty_expiry_days: u32,
}

fn default_hold_minutes() -> u32 {
    15
}

fn default_reminder_hours() -> ReminderHours {
    ReminderHours::of(&[24])
}

/// Most reminders a booking gets.
pub const MAX_REMINDERS: usize = 3;

/// The offsets of a studio's reminders, in hours before the start, largest first (so the
/// reminders come in time order). At most [`MAX_REMINDERS`]; kept in a fixed array so the
/// settings stay `Copy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReminderHours {
    hours: [u32; MAX_REMINDERS],
    len: usize,
}

impl ReminderHours {
    /// The offsets in `hours` (the first [`MAX_REMINDERS`]), largest first, duplicates and 0 dropped.
    pub fn of(hours: &[u32]) -> ReminderHours {
        let mut sorted: Vec<u32> = hours.iter().copied().filter(|h| *h > 0).collect();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        sorted.dedup();
        let mut out = ReminderHours::default();
        for h in sorted.into_iter().take(MAX_REMINDERS) {
            out.hours[out.len] = h;
            out.len += 1;
        }
        out
    }

    /// The offsets, largest first.
    pub fn hours(&self) -> &[u32] {
        &self.hours[..self.len]
    }
}

impl Serialize for ReminderHours {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.hours().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ReminderHours {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<ReminderHours, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Given {
            One(u32),
            Many(Vec<u32>),
        }
        let hours = match Given::deserialize(deserializer)? {
            Given::One(h) => vec![h],
            Given::Many(list) => list,
        };
        if hours.len() > MAX_REMINDERS {
            return Err(serde::de::Error::custom(format!("at most {MAX_REMINDERS} reminders")));
        }
        if hours.iter().any(|h| *h > 7 * 24) {
            return Err(serde::de::Error::custom("each reminder is at most 168 hours before"));
        }
        Ok(ReminderHours::of(&hours))
    }
}

fn default_waitlist_offer_minutes() -> u32 {
    60
}

fn default_no_show_penalty_points() -> u32 {
    50
}

fn default_loyalty_expiry_days() -> u32 {
    365
}

impl Default for BookingSettings {
    fn default() -> Self {
        BookingSettings {
            min_notice_minutes: 60,
            horizon_days: 90,
            slot_step_minutes: 15,
            no_show_tolerance_minutes: 15,
            loyalty_rate_bps: 500,
            hold_minutes: default_hold_minutes(),
            reminder_hours: default_reminder_hours(),
            waitlist_offer_minutes: default_waitlist_offer_minutes(),
            no_show_penalty_points: default_no_show_penalty_points(),
            loyalty_expiry_days: default_loyalty_expiry_days(),
        }
    }
}

impl BookingSettings {
    /// Checks every setting, naming fields under `prefix`.
    pub fn validate(&self, prefix: &str) -> Result<(), Invalid> {
        let field = |name: &str| format!("{prefix}.{name}");
        let mut errors = Invalid::default();
        errors
            .check(
                self.min_notice_minutes <= 30 * 24 * 60,
                &field("min_notice_minutes"),
                "must be at most 30 days",
            )
            .check(
                (1..=730).contains(&self.horizon_days),
                &field("horizon_days"),
                "must be between 1 and 730",
            )
            .check(
                SLOT_STEPS.contains(&self.slot_step_minutes),
                &field("slot_step_minutes"),
                "must be 5, 10, 15, 20, 30 or 60",
            )
            .check(
                self.no_show_tolerance_minutes <= 240,
                &field("no_show_tolerance_minutes"),
                "must be at most 240",
            )
            .check(
                (1..=24 * 60).contains(&self.hold_minutes),
                &field("hold_minutes"),
                "must be between 1 and 1440",
            )
            .check(
                self.reminder_hours.hours().iter().all(|h| *h <= 7 * 24),
                &field("reminder_hours"),
                "must be at most 168",
            )
            .check(
                (5..=24 * 60).contains(&self.waitlist_offer_minutes),
                &field("waitlist_offer_minutes"),
                "must be between 5 and 1440",
            )
            .check(
                self.no_show_penalty_points <= 100_000,
                &field("no_show_penalty_points"),
                "must be at most 100000",
            )
            .check(
                self.loyalty_expiry_days <= 3650,
                &field("loyalty_expiry_days"),
                "must be at most 3650 (0: never)",
            );
        if let Err(e) = check_bps(self.loyalty_rate_bps, &field("loyalty_rate_bps")) {
            errors.0.extend(e.0);
        }
        errors.into_result()
    }
}

/// A postal address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// Street and number.
    #[serde(default)]
    pub line1: String,
    /// More of it.
    #[serde(default)]
    pub line2: String,
    /// City.
    #[serde(default)]
    pub city: String,
    /// Postal code.
    #[serde(default)]
    pub postal_code: String,
    /// Region or state.
    #[serde(default)]
    pub region: String,
    /// ISO 3166-1 alpha-2 country code.
    #[serde(default)]
    pub country: String,
}

impl Address {
    fn validate(&self, errors: &mut Invalid) -> Address {
        let mut text = |value: &str, max: usize, name: &str| {
            check_text(value, max, &format!("address.{name}"))
                .map_err(|e| errors.0.extend(e.0))
                .unwrap_or_default()
        };
        let address = Address {
            line1: text(&self.line1, 200, "line1"),
            line2: text(&self.line2, 200, "line2"),
            city: text(&self.city, 100, "city"),
            postal_code: text(&self.postal_code, 20, "postal_code"),
            region: text(&self.region, 100, "region"),
            country: self.country.trim().to_uppercase(),
        };
        errors.check(
            address.country.is_empty()
                || (address.country.len() == 2 && address.country.chars().all(|c| c.is_ascii_uppercase())),
            "address.country",
            "must be a two-letter country code",
        );
        address
    }
}

/// What an owner says about their studio: the profile without ids and bookkeeping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StudioProfile {
    /// Name.
    pub name: String,
    /// Unique public handle.
    pub slug: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Tax id (VAT number, CNPJ...).
    #[serde(default)]
    pub tax_id: String,
    /// Contact email.
    #[serde(default)]
    pub contact_email: Option<String>,
    /// Contact phone.
    #[serde(default)]
    pub contact_phone: Option<String>,
    /// Address.
    #[serde(default)]
    pub address: Address,
    /// IANA time zone of the studio: availability and slots are in it.
    pub time_zone: String,
    /// ISO 4217 currency of its prices.
    pub currency: String,
    /// Tax rate in basis points (2300 = 23 %).
    #[serde(default)]
    pub tax_rate_bps: u32,
    /// Language of notices to people who have not chosen one (`en` or `pt-BR`).
    #[serde(default)]
    pub language: crate::language::Language,
    /// Booking settings.
    #[serde(default)]
    pub settings: BookingSettings,
}

impl StudioProfile {
    /// Checks and normalises every field; all problems are reported together.
    pub fn validate(&self) -> Result<StudioProfile, Invalid> {
        let mut errors = Invalid::default();
        let mut keep =
            |result: Result<String, Invalid>| result.map_err(|e| errors.0.extend(e.0)).unwrap_or_default();
        let name = keep(check_required_text(&self.name, 100, "name"));
        let slug = keep(check_slug(&self.slug, "slug"));
        let description = keep(check_text(&self.description, 2000, "description"));
        let tax_id = keep(check_text(&self.tax_id, 40, "tax_id"));
        let time_zone = keep(check_time_zone(&self.time_zone, "time_zone"));
        let currency = keep(Currency::parse(&self.currency, "currency").map(|c| c.code().to_owned()));
        let contact_email = match &self.contact_email {
            Some(e) => keep(Email::parse(e, "contact_email").map(|e| e.as_str().to_owned())).into(),
            None => None,
        };
        let contact_phone = match &self.contact_phone {
            Some(p) => keep(check_phone(p, "contact_phone")).into(),
            None => None,
        };
        let address = self.address.validate(&mut errors);
        if let Err(e) = check_bps(self.tax_rate_bps, "tax_rate_bps") {
            errors.0.extend(e.0);
        }
        if let Err(e) = self.settings.validate("settings") {
            errors.0.extend(e.0);
        }
        errors.into_result()?;
        Ok(StudioProfile {
            name,
            slug,
            description,
            tax_id,
            contact_email: contact_email.filter(|e: &String| !e.is_empty()),
            contact_phone: contact_phone.filter(|p: &String| !p.is_empty()),
            address,
            time_zone,
            currency,
            tax_rate_bps: self.tax_rate_bps,
            language: self.language,
            settings: self.settings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> StudioProfile {
        StudioProfile {
            name: " Lisboa Ink ".into(),
            slug: "Lisboa-Ink".into(),
            description: String::new(),
            tax_id: "PT123456789".into(),
            contact_email: Some("Hello@LisboaInk.pt".into()),
            contact_phone: Some("+351 21 000 0000".into()),
            address: Address { city: "Lisboa".into(), country: "pt".into(), ..Address::default() },
            time_zone: "Europe/Lisbon".into(),
            currency: "eur".into(),
            tax_rate_bps: 2300,
            language: crate::language::Language::En,
            settings: BookingSettings::default(),
        }
    }

    #[test]
    fn reminder_hours_take_a_number_or_a_list() {
        let one: ReminderHours = serde_json::from_value(serde_json::json!(24)).expect("number");
        assert_eq!(one.hours(), [24]);
        let none: ReminderHours = serde_json::from_value(serde_json::json!(0)).expect("zero");
        assert!(none.hours().is_empty());
        let two: ReminderHours = serde_json::from_value(serde_json::json!([2, 24, 2])).expect("list");
        assert_eq!(two.hours(), [24, 2]);
        assert_eq!(serde_json::to_value(two).expect("json"), serde_json::json!([24, 2]));
        assert!(serde_json::from_value::<ReminderHours>(serde_json::json!([1, 2, 3, 4])).is_err());
        assert!(serde_json::from_value::<ReminderHours>(serde_json::json!([200])).is_err());
    }

    #[test]
    fn profiles_are_normalised() {
        let valid = profile().validate().expect("valid");
        assert_eq!(valid.name, "Lisboa Ink");
        assert_eq!(valid.slug, "lisboa-ink");
        assert_eq!(valid.currency, "EUR");
        assert_eq!(valid.contact_email.as_deref(), Some("hello@lisboaink.pt"));
        assert_eq!(valid.address.country, "PT");
    }

    #[test]
    fn every_problem_is_reported() {
        let bad = StudioProfile {
            name: String::new(),
            slug: "-x-".into(),
            time_zone: "Mars/Olympus".into(),
            currency: "EURO".into(),
            tax_rate_bps: 10_001,
            language: crate::language::Language::En,
            settings: BookingSettings { slot_step_minutes: 7, horizon_days: 0, ..BookingSettings::default() },
            ..profile()
        };
        let errors = bad.validate().expect_err("invalid");
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        for field in [
            "name",
            "slug",
            "time_zone",
            "currency",
            "tax_rate_bps",
            "settings.slot_step_minutes",
            "settings.horizon_days",
        ] {
            assert!(fields.contains(&field), "{field} in {fields:?}");
        }
    }

    #[test]
    fn slugs_and_zones() {
        assert!(check_slug("ab", "s").is_err());
        assert!(check_slug("a--b", "s").is_err());
        assert!(check_slug("barber-shop-2", "s").is_ok());
        assert!(check_time_zone("America/Sao_Paulo", "tz").is_ok());
        assert!(check_time_zone("", "tz").is_err());
        assert!(check_time_zone("Europe/Atlantis", "tz").is_err());
    }
}
