//! Cancellation policies (a studio default, per-service overrides) and overbooking
//! configuration (per studio, per professional). Each is one versioned item.

use atelier_domain::ids::{ServiceId, StudioId, UserId};
use atelier_domain::policies::{CancellationPolicy, OverbookingConfig};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::catalog::service_key;
use crate::team::professional_key;
use crate::{Actor, check_precondition, commit_result, load, studio_item};
use atelier_platform::store::{Condition, Item, Key, StoreError, WriteOp};
use atelier_platform::{AppError, Platform};

/// Which policy applies to a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PolicySource {
    /// The studio's default.
    StudioDefault,
    /// The service's own.
    ServiceOverride,
    /// None set: cancelling is free.
    None,
}

/// A stored cancellation policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StoredPolicy {
    /// The tiers.
    #[serde(flatten)]
    pub policy: CancellationPolicy,
    /// Where it comes from.
    pub source: PolicySource,
    /// Version, for `If-Match` (0 when none is stored).
    pub version: i64,
}

/// Key of the studio's default policy.
pub fn default_policy_key(studio_id: &StudioId) -> Key {
    studio_item(studio_id, "POLICY#DEFAULT")
}

/// Key of a service's own policy.
pub fn service_policy_key(studio_id: &StudioId, service_id: &ServiceId) -> Key {
    studio_item(studio_id, format!("POLICY#SERVICE#{service_id}"))
}

fn none() -> StoredPolicy {
    StoredPolicy { policy: CancellationPolicy::default(), source: PolicySource::None, version: 0 }
}

/// The studio's default policy.
pub async fn default_policy(platform: &Platform, studio_id: &StudioId) -> Result<StoredPolicy, AppError> {
    Ok(load(platform, &default_policy_key(studio_id)).await?.unwrap_or_else(none))
}

/// A service's own policy, if it has one.
pub async fn service_policy(
    platform: &Platform,
    studio_id: &StudioId,
    service_id: &ServiceId,
) -> Result<StoredPolicy, AppError> {
    super::catalog::service(platform, studio_id, service_id).await?;
    Ok(load(platform, &service_policy_key(studio_id, service_id)).await?.unwrap_or_else(none))
}

/// The policy that applies to a service: its override, else the studio's default.
pub async fn effective_policy(
    platform: &Platform,
    studio_id: &StudioId,
    service_id: &ServiceId,
) -> Result<StoredPolicy, AppError> {
    let own = service_policy(platform, studio_id, service_id).await?;
    if own.source == PolicySource::ServiceOverride {
        Ok(own)
    } else {
        default_policy(platform, studio_id).await
    }
}

fn guard(version: i64) -> Condition {
    if version == 0 { Condition::NotExists } else { Condition::version_is(version) }
}

/// Where a policy is stored, what it is, and what must exist for it to be saved.
struct Slot {
    key: Key,
    source: PolicySource,
    requires: Option<WriteOp>,
}

async fn save(
    platform: &Platform,
    actor: Actor<'_>,
    slot: Slot,
    current: StoredPolicy,
    policy: CancellationPolicy,
    expected: Option<i64>,
) -> Result<StoredPolicy, AppError> {
    let policy = policy.validate()?;
    check_precondition(expected, current.version)?;
    let stored = StoredPolicy { policy, source: slot.source, version: current.version + 1 };
    let entity_id = slot.key.sk.clone();
    let mut ops = vec![WriteOp::Put {
        item: Item::from_record(&slot.key, &stored)?,
        condition: Some(guard(current.version)),
    }];
    let checked = slot.requires.is_some();
    ops.extend(slot.requires);
    ops.push(actor.audit(
        platform,
        "policy.cancellation_saved",
        "cancellation_policy",
        &entity_id,
        serde_json::json!({ "from": current.policy, "to": stored.policy }),
    )?);
    let result = platform.store.transact(ops).await;
    if checked && matches!(result, Err(StoreError::ConditionFailed { index: 1, .. })) {
        return Err(AppError::NotFound("service"));
    }
    commit_result(result, expected).map(|()| stored)
}

/// Replaces the studio's default policy.
pub async fn put_default_policy(
    platform: &Platform,
    actor: Actor<'_>,
    policy: CancellationPolicy,
    expected: Option<i64>,
) -> Result<StoredPolicy, AppError> {
    let current = default_policy(platform, actor.studio_id()).await?;
    let slot = Slot {
        key: default_policy_key(actor.studio_id()),
        source: PolicySource::StudioDefault,
        requires: None,
    };
    save(platform, actor, slot, current, policy, expected).await
}

/// Replaces a service's own policy.
pub async fn put_service_policy(
    platform: &Platform,
    actor: Actor<'_>,
    service_id: &ServiceId,
    policy: CancellationPolicy,
    expected: Option<i64>,
) -> Result<StoredPolicy, AppError> {
    let current = service_policy(platform, actor.studio_id(), service_id).await?;
    let slot = Slot {
        key: service_policy_key(actor.studio_id(), service_id),
        source: PolicySource::ServiceOverride,
        requires: Some(WriteOp::check(service_key(actor.studio_id(), service_id), Condition::Exists)),
    };
    save(platform, actor, slot, current, policy, expected).await
}

/// Removes a service's own policy: the studio default applies again.
pub async fn remove_service_policy(
    platform: &Platform,
    actor: Actor<'_>,
    service_id: &ServiceId,
) -> Result<(), AppError> {
    let ops = vec![
        WriteOp::Delete {
            key: service_policy_key(actor.studio_id(), service_id),
            condition: Some(Condition::Exists),
        },
        actor.audit(
            platform,
            "policy.cancellation_removed",
            "service",
            service_id,
            serde_json::Value::Null,
        )?,
    ];
    match platform.store.transact(ops).await {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed { index: 0, .. }) => Err(AppError::NotFound("cancellation policy")),
        Err(e) => Err(e.into()),
    }
}

/// A stored overbooking configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StoredOverbooking {
    /// The configuration.
    #[serde(flatten)]
    pub config: OverbookingConfig,
    /// Version, for `If-Match` (0 when none is stored: no overbooking).
    pub version: i64,
}

/// Key of the studio's (`None`) or a professional's overbooking configuration.
pub fn overbooking_key(studio_id: &StudioId, professional: Option<&UserId>) -> Key {
    match professional {
        None => studio_item(studio_id, "OVERBOOKING#STUDIO"),
        Some(user_id) => studio_item(studio_id, format!("OVERBOOKING#PRO#{user_id}")),
    }
}

/// The configuration of the studio (`None`) or of one professional.
pub async fn overbooking(
    platform: &Platform,
    studio_id: &StudioId,
    professional: Option<&UserId>,
) -> Result<StoredOverbooking, AppError> {
    Ok(load(platform, &overbooking_key(studio_id, professional))
        .await?
        .unwrap_or(StoredOverbooking { config: OverbookingConfig::default(), version: 0 }))
}

/// What applies to a professional: their own configuration, else the studio's.
pub async fn effective_overbooking(
    platform: &Platform,
    studio_id: &StudioId,
    professional: &UserId,
) -> Result<OverbookingConfig, AppError> {
    let own = overbooking(platform, studio_id, Some(professional)).await?;
    if own.version > 0 { Ok(own.config) } else { Ok(overbooking(platform, studio_id, None).await?.config) }
}

/// Replaces the studio's (`None`) or a professional's configuration (owners and managers).
pub async fn put_overbooking(
    platform: &Platform,
    actor: Actor<'_>,
    professional: Option<&UserId>,
    config: OverbookingConfig,
    expected: Option<i64>,
) -> Result<StoredOverbooking, AppError> {
    let config = config.validate()?;
    let current = overbooking(platform, actor.studio_id(), professional).await?;
    check_precondition(expected, current.version)?;
    let stored = StoredOverbooking { config, version: current.version + 1 };
    let key = overbooking_key(actor.studio_id(), professional);
    let mut ops = vec![WriteOp::Put {
        item: Item::from_record(&key, &stored)?,
        condition: Some(guard(current.version)),
    }];
    if let Some(user_id) = professional {
        ops.push(WriteOp::check(professional_key(actor.studio_id(), user_id), Condition::Exists));
    }
    ops.push(actor.audit(
        platform,
        "policy.overbooking_saved",
        "overbooking",
        &key.sk,
        serde_json::json!({ "from": current.config, "to": stored.config }),
    )?);
    let result = platform.store.transact(ops).await;
    if professional.is_some() && matches!(result, Err(StoreError::ConditionFailed { index: 1, .. })) {
        return Err(AppError::NotFound("professional"));
    }
    commit_result(result, expected).map(|()| stored)
}
