//! What a booking decision reads, fetched in one batch: the studio, the service, its policy,
//! the overbooking configurations, the resource totals, the professional, their week, the
//! client and the idempotency record. Exceptions are the one query on top.

use atelier_domain::ids::{ServiceId, StudioId, UserId};
use atelier_domain::money::Currency;
use std::collections::HashMap;

use atelier_domain::availability::{AvailabilityException, WeeklySchedule};
use atelier_domain::policies::{CancellationPolicy, OverbookingConfig};
use jiff::civil::Date;
use serde::de::DeserializeOwned;

use atelier_platform::store::{Item, Key};
use atelier_platform::{AppError, Platform};
use atelier_studios::availability::{self, Availability};
use atelier_studios::catalog::{self, Service};
use atelier_studios::policies::{self, StoredOverbooking, StoredPolicy};
use atelier_studios::team::{self, Professional};
use atelier_studios::{self, Studio};

/// Items read in one batch, by key.
#[derive(Debug, Default)]
pub struct Loaded(HashMap<Key, Item>);

impl Loaded {
    /// Reads `keys` (any number; the store batches by 100).
    pub async fn fetch(platform: &Platform, keys: &[Key]) -> Result<Loaded, AppError> {
        let items = platform.store.get_many(keys).await?;
        Ok(Loaded(items.into_iter().filter_map(|i| i.key().map(|k| (k, i))).collect()))
    }

    /// The raw item.
    pub fn item(&self, key: &Key) -> Option<&Item> {
        self.0.get(key)
    }

    /// The item as a record.
    pub fn record<T: DeserializeOwned>(&self, key: &Key) -> Result<Option<T>, AppError> {
        Ok(self.0.get(key).map(Item::to_record).transpose()?)
    }
}

/// Keys of the studio-wide part: profile, overbooking default, resource totals.
pub fn studio_keys(studio_id: &StudioId) -> Vec<Key> {
    vec![
        atelier_studios::profile_key(studio_id),
        policies::overbooking_key(studio_id, None),
        catalog::resource_capacity_key(studio_id),
    ]
}

/// Keys of a service and its policies.
pub fn service_keys(studio_id: &StudioId, service_id: &ServiceId) -> Vec<Key> {
    vec![
        catalog::service_key(studio_id, service_id),
        policies::service_policy_key(studio_id, service_id),
        policies::default_policy_key(studio_id),
    ]
}

/// Keys of a professional's profile, week and own overbooking configuration.
pub fn professional_keys(studio_id: &StudioId, user_id: &UserId) -> Vec<Key> {
    vec![
        team::professional_key(studio_id, user_id),
        availability::schedule_key(studio_id, user_id),
        policies::overbooking_key(studio_id, Some(user_id)),
    ]
}

/// The studio-wide part.
#[derive(Debug, Clone)]
pub struct StudioPart {
    /// The studio.
    pub studio: Studio,
    /// Its overbooking default.
    pub overbooking: OverbookingConfig,
    /// The currency of its prices.
    pub currency: Currency,
    /// Capacity totals by `type:<kind>` attribute.
    totals: Option<Item>,
}

impl StudioPart {
    /// From a batch: `None` if the studio does not exist.
    pub fn from(loaded: &Loaded, studio_id: &StudioId) -> Result<Option<StudioPart>, AppError> {
        let Some(studio) = loaded.record::<Studio>(&atelier_studios::profile_key(studio_id))? else {
            return Ok(None);
        };
        let overbooking = loaded
            .record::<StoredOverbooking>(&policies::overbooking_key(studio_id, None))?
            .map_or_else(OverbookingConfig::default, |o| o.config);
        // Checked when the profile was saved; a stored code that no longer parses is a bug.
        let currency = Currency::parse(&studio.profile.currency, "currency").map_err(|_| {
            AppError::Internal(format!("studio {studio_id} has currency {}", studio.profile.currency))
        })?;
        Ok(Some(StudioPart {
            currency,
            studio,
            overbooking,
            totals: loaded.item(&catalog::resource_capacity_key(studio_id)).cloned(),
        }))
    }

    /// Total capacity of the studio's active resources of `kind`.
    pub fn pool_capacity(&self, kind: &str) -> u32 {
        self.totals
            .as_ref()
            .and_then(|i| i.get(&catalog::capacity_attr(kind)))
            .and_then(|v| v.as_i64())
            .map_or(0, |n| u32::try_from(n.max(0)).unwrap_or(u32::MAX))
    }
}

/// A service with the policy that applies to it.
#[derive(Debug, Clone)]
pub struct ServicePart {
    /// The service.
    pub service: Service,
    /// Its override, else the studio default, else none.
    pub policy: CancellationPolicy,
}

impl ServicePart {
    /// From a batch: `None` if the service does not exist.
    pub fn from(
        loaded: &Loaded,
        studio_id: &StudioId,
        service_id: &ServiceId,
    ) -> Result<Option<ServicePart>, AppError> {
        let Some(service) = loaded.record::<Service>(&catalog::service_key(studio_id, service_id))? else {
            return Ok(None);
        };
        let own = loaded.record::<StoredPolicy>(&policies::service_policy_key(studio_id, service_id))?;
        let default = loaded.record::<StoredPolicy>(&policies::default_policy_key(studio_id))?;
        let policy = own.or(default).map(|p| p.policy).unwrap_or_default();
        Ok(Some(ServicePart { service, policy }))
    }
}

/// A professional as a booking sees them.
#[derive(Debug, Clone)]
pub struct ProfessionalPart {
    /// The profile.
    pub professional: Professional,
    /// Their week.
    pub schedule: WeeklySchedule,
    /// Their own overbooking configuration, if they have one.
    pub overbooking: Option<OverbookingConfig>,
    /// Their exceptions around the dates asked (filled by [`ProfessionalPart::with_exceptions`]).
    pub exceptions: Vec<AvailabilityException>,
}

impl ProfessionalPart {
    /// From a batch: `None` if they are not a professional of the studio.
    pub fn from(
        loaded: &Loaded,
        studio_id: &StudioId,
        user_id: &UserId,
    ) -> Result<Option<ProfessionalPart>, AppError> {
        let Some(professional) =
            loaded.record::<Professional>(&team::professional_key(studio_id, user_id))?
        else {
            return Ok(None);
        };
        let schedule = loaded
            .record::<Availability>(&availability::schedule_key(studio_id, user_id))?
            .map(|a| a.schedule)
            .unwrap_or_default();
        let overbooking = loaded
            .record::<StoredOverbooking>(&policies::overbooking_key(studio_id, Some(user_id)))?
            .map(|o| o.config);
        Ok(Some(ProfessionalPart { professional, schedule, overbooking, exceptions: Vec::new() }))
    }

    /// Reads their exceptions touching `from..=to` (one query).
    pub async fn with_exceptions(
        mut self,
        platform: &Platform,
        studio_id: &StudioId,
        from: Date,
        to: Date,
    ) -> Result<ProfessionalPart, AppError> {
        let found =
            availability::exceptions_between(platform, studio_id, &self.professional.user_id, from, to)
                .await?;
        self.exceptions = found.into_iter().map(|x| x.exception).collect();
        Ok(self)
    }

    /// How many bookings may overlap on them: their configuration, else the studio's.
    pub fn capacity(&self, studio_default: &OverbookingConfig) -> u32 {
        self.overbooking.as_ref().unwrap_or(studio_default).capacity(1).max(1)
    }

    /// Whether overbooked requests are accepted without review.
    pub fn auto_accepts(&self, studio_default: &OverbookingConfig) -> bool {
        self.overbooking.as_ref().unwrap_or(studio_default).auto_accept
    }
}
