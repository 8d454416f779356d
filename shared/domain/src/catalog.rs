//! What a studio offers: services, the resources they need, professionals' public profiles.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Invalid;
use crate::money::{check_amount, check_bps};
use crate::studios::{BookingSettings, check_required_text, check_text};

/// Longest service, in minutes.
pub const MAX_DURATION_MINUTES: u32 = 12 * 60;
/// Longest buffer before or after a service, in minutes.
pub const MAX_BUFFER_MINUTES: u32 = 240;

/// A resource type or category name: 1 to 40 of `a-z`, `0-9`, `-`, `_`.
pub fn check_kind(kind: &str, field: &str) -> Result<String, Invalid> {
    let kind = kind.trim().to_lowercase();
    let ok = (1..=40).contains(&kind.len())
        && kind.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(kind)
    } else {
        Err(Invalid::field(field, "must be 1-40 lowercase letters, digits, '-' or '_'"))
    }
}

/// A service as the studio defines it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceDefinition {
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Category, for the catalog's filter (`hair`, `tattoo`...).
    pub category: String,
    /// Duration in minutes: a multiple of the studio's slot step.
    pub duration_minutes: u32,
    /// Price in minor units of the studio's currency.
    pub price_minor: i64,
    /// Preparation time blocked before, in minutes.
    #[serde(default)]
    pub buffer_before_minutes: u32,
    /// Clean-up time blocked after, in minutes.
    #[serde(default)]
    pub buffer_after_minutes: u32,
    /// Whether booking needs a deposit.
    #[serde(default)]
    pub deposit_required: bool,
    /// Deposit in basis points of the price (required when a deposit is, else 0).
    #[serde(default)]
    pub deposit_bps: u32,
    /// Members who perform it.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub professional_ids: Vec<crate::ids::UserId>,
    /// Type of resource it occupies (`chair`, `room`...), if any.
    #[serde(default)]
    pub resource_type: Option<String>,
    /// Offered at all.
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

impl ServiceDefinition {
    /// Checks and normalises the definition against the studio's settings.
    pub fn validate(&self, settings: &BookingSettings) -> Result<ServiceDefinition, Invalid> {
        let mut errors = Invalid::default();
        let mut keep = |r: Result<String, Invalid>| r.map_err(|e| errors.0.extend(e.0)).unwrap_or_default();
        let name = keep(check_required_text(&self.name, 100, "name"));
        let description = keep(check_text(&self.description, 2000, "description"));
        let category = keep(check_kind(&self.category, "category"));
        let resource_type = self.resource_type.as_deref().map(|t| keep(check_kind(t, "resource_type")));
        let step = settings.slot_step_minutes;
        errors
            .check(
                (1..=MAX_DURATION_MINUTES).contains(&self.duration_minutes),
                "duration_minutes",
                format!("must be between 1 and {MAX_DURATION_MINUTES}"),
            )
            .check(
                step == 0 || self.duration_minutes.is_multiple_of(step),
                "duration_minutes",
                format!("must be a multiple of the studio's slot step ({step} minutes)"),
            )
            .check(
                self.buffer_before_minutes <= MAX_BUFFER_MINUTES,
                "buffer_before_minutes",
                format!("must be at most {MAX_BUFFER_MINUTES}"),
            )
            .check(
                self.buffer_after_minutes <= MAX_BUFFER_MINUTES,
                "buffer_after_minutes",
                format!("must be at most {MAX_BUFFER_MINUTES}"),
            )
            // Occupancy is counted in 5-minute cells: a buffer off that grid would round.
            .check(
                self.buffer_before_minutes.is_multiple_of(5),
                "buffer_before_minutes",
                "must be a multiple of 5",
            )
            .check(
                self.buffer_after_minutes.is_multiple_of(5),
                "buffer_after_minutes",
                "must be a multiple of 5",
            )
            .check(
                !self.deposit_required || self.deposit_bps > 0,
                "deposit_bps",
                "must be more than 0 when a deposit is required",
            )
            .check(
                self.deposit_required || self.deposit_bps == 0,
                "deposit_bps",
                "must be 0 when no deposit is required",
            )
            .check(self.professional_ids.len() <= 50, "professional_ids", "at most 50");
        let mut ids = self.professional_ids.clone();
        ids.sort();
        ids.dedup();
        errors.check(ids.len() == self.professional_ids.len(), "professional_ids", "must not repeat");
        for result in
            [check_amount(self.price_minor, "price_minor"), check_bps(self.deposit_bps, "deposit_bps")]
        {
            if let Err(e) = result {
                errors.0.extend(e.0);
            }
        }
        errors.into_result()?;
        Ok(ServiceDefinition {
            name,
            description,
            category,
            resource_type,
            professional_ids: self.professional_ids.clone(),
            ..self.clone()
        })
    }

    /// Minutes the service blocks: buffers included.
    pub fn blocked_minutes(&self) -> u32 {
        self.buffer_before_minutes + self.duration_minutes + self.buffer_after_minutes
    }
}

/// Something bookable that services need: a chair, a room, a machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceDefinition {
    /// Name (`Chair 2`).
    pub name: String,
    /// Type, matched against services' `resource_type`.
    pub resource_type: String,
    /// How many bookings it holds at once.
    #[serde(default = "one")]
    pub capacity: u32,
    /// In use at all.
    #[serde(default = "yes")]
    pub active: bool,
}

fn one() -> u32 {
    1
}

impl ResourceDefinition {
    /// Checks and normalises.
    pub fn validate(&self) -> Result<ResourceDefinition, Invalid> {
        let mut errors = Invalid::default();
        let name = check_required_text(&self.name, 100, "name")
            .map_err(|e| errors.0.extend(e.0))
            .unwrap_or_default();
        let resource_type = check_kind(&self.resource_type, "resource_type")
            .map_err(|e| errors.0.extend(e.0))
            .unwrap_or_default();
        errors.check((1..=100).contains(&self.capacity), "capacity", "must be between 1 and 100");
        errors.into_result()?;
        Ok(ResourceDefinition { name, resource_type, ..self.clone() })
    }
}

/// A professional's profile in a studio.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfessionalProfile {
    /// Name shown to clients.
    pub display_name: String,
    /// Specialties (`fine-line`, `balayage`...).
    #[serde(default)]
    pub specialties: Vec<String>,
    /// About them.
    #[serde(default)]
    pub bio: String,
    /// Professional license number, where one is required.
    #[serde(default)]
    pub license_number: String,
    /// Commission in basis points of what they bill.
    #[serde(default)]
    pub commission_bps: u32,
    /// Taking bookings.
    #[serde(default = "yes")]
    pub active: bool,
}

impl ProfessionalProfile {
    /// Checks and normalises.
    pub fn validate(&self) -> Result<ProfessionalProfile, Invalid> {
        let mut errors = Invalid::default();
        let mut keep = |r: Result<String, Invalid>| r.map_err(|e| errors.0.extend(e.0)).unwrap_or_default();
        let display_name = keep(check_required_text(&self.display_name, 100, "display_name"));
        let bio = keep(check_text(&self.bio, 2000, "bio"));
        let license_number = keep(check_text(&self.license_number, 60, "license_number"));
        let specialties: Vec<String> = self
            .specialties
            .iter()
            .enumerate()
            .map(|(i, s)| keep(check_kind(s, &format!("specialties[{i}]"))))
            .collect();
        errors.check(specialties.len() <= 20, "specialties", "at most 20");
        if let Err(e) = check_bps(self.commission_bps, "commission_bps") {
            errors.0.extend(e.0);
        }
        errors.into_result()?;
        Ok(ProfessionalProfile { display_name, specialties, bio, license_number, ..self.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut() -> ServiceDefinition {
        ServiceDefinition {
            name: "Cut".into(),
            description: String::new(),
            category: "Hair".into(),
            duration_minutes: 45,
            price_minor: 2500,
            buffer_before_minutes: 0,
            buffer_after_minutes: 10,
            deposit_required: false,
            deposit_bps: 0,
            professional_ids: vec!["p1".into()],
            resource_type: Some("Chair".into()),
            active: true,
        }
    }

    #[test]
    fn services() {
        let valid = cut().validate(&BookingSettings::default()).expect("valid");
        assert_eq!(valid.category, "hair");
        assert_eq!(valid.resource_type.as_deref(), Some("chair"));
        assert_eq!(valid.blocked_minutes(), 55);
        let off_grid = ServiceDefinition { duration_minutes: 40, ..cut() };
        assert!(off_grid.validate(&BookingSettings::default()).is_err(), "40 is not a multiple of 15");
        let negative = ServiceDefinition { price_minor: -1, ..cut() };
        assert_eq!(
            negative.validate(&BookingSettings::default()).expect_err("negative").0[0].field,
            "price_minor"
        );
        let deposit = ServiceDefinition { deposit_required: true, deposit_bps: 10_001, ..cut() };
        assert!(deposit.validate(&BookingSettings::default()).is_err());
        let repeated = ServiceDefinition { professional_ids: vec!["a".into(), "a".into()], ..cut() };
        assert!(repeated.validate(&BookingSettings::default()).is_err());
    }

    #[test]
    fn resources_and_professionals() {
        let chair = ResourceDefinition {
            name: "Chair 1".into(),
            resource_type: "chair".into(),
            capacity: 0,
            active: true,
        };
        assert!(chair.validate().is_err());
        let pro = ProfessionalProfile {
            display_name: "Rita".into(),
            specialties: vec!["Fine-Line".into()],
            bio: String::new(),
            license_number: String::new(),
            commission_bps: 4000,
            active: true,
        };
        assert_eq!(pro.validate().expect("valid").specialties, ["fine-line"]);
    }
}
