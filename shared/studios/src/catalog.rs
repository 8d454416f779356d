//! Services and resources, and the public catalog.

use atelier_domain::catalog::{ResourceDefinition, ServiceDefinition};
use atelier_domain::ids::{ResourceId, ServiceId, StudioId, UserId};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{Actor, check_precondition, commit_guarded, get, load, patched, studio_item, studio_partition};
use atelier_platform::store::{Condition, Item, Key, Page, Query, SortKey, UpdateAction, WriteOp};
use atelier_platform::{AppError, Platform};

/// A service as stored and listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Service {
    /// Id.
    #[schema(value_type = String)]
    pub id: ServiceId,
    /// The definition.
    #[serde(flatten)]
    pub definition: ServiceDefinition,
    /// Created.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Last changed.
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
    /// Version, for `If-Match`.
    pub version: i64,
}

/// Key of a service.
pub fn service_key(studio_id: &StudioId, service_id: &ServiceId) -> Key {
    studio_item(studio_id, format!("SERVICE#{service_id}"))
}

/// Filters of the catalog.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CatalogFilter {
    /// Only this category.
    pub category: Option<String>,
    /// Price at least (minor units).
    pub min_price: Option<i64>,
    /// Price at most (minor units).
    pub max_price: Option<i64>,
    /// Only services this professional performs.
    #[param(value_type = Option<String>)]
    pub professional_id: Option<UserId>,
}

impl CatalogFilter {
    fn keeps(&self, service: &Service) -> bool {
        let d = &service.definition;
        self.category.as_ref().is_none_or(|c| c.trim().eq_ignore_ascii_case(&d.category))
            && self.min_price.is_none_or(|p| d.price_minor >= p)
            && self.max_price.is_none_or(|p| d.price_minor <= p)
            && self.professional_id.as_ref().is_none_or(|p| d.professional_ids.iter().any(|id| p == id))
    }
}

fn services_query(studio_id: &StudioId) -> Query {
    Query::partition(studio_partition(studio_id)).sort(SortKey::BeginsWith("SERVICE#".into()))
}

/// Every service of a studio.
pub async fn all_services(platform: &Platform, studio_id: &StudioId) -> Result<Vec<Service>, AppError> {
    let items = platform.store.query_all(services_query(studio_id), 10_000).await?;
    Ok(items.iter().map(Item::to_record).collect::<Result<_, _>>()?)
}

/// A page of services passing `filter` (`active_only` for the public catalog); `query` carries
/// the page size and cursor.
pub async fn list_services(
    platform: &Platform,
    studio_id: &StudioId,
    filter: &CatalogFilter,
    active_only: bool,
    page: impl FnOnce(Query) -> Result<Query, AppError>,
) -> Result<(Vec<Service>, Option<atelier_platform::store::Cursor>), AppError> {
    let query = page(services_query(studio_id))?;
    let keep = |item: &Item| {
        item.to_record::<Service>().is_ok_and(|s| (!active_only || s.definition.active) && filter.keeps(&s))
    };
    let Page { items, next } = platform.store.query_filtered(query, keep, 10).await?;
    Ok((items.iter().map(Item::to_record).collect::<Result<_, _>>()?, next))
}

/// One service.
pub async fn service(
    platform: &Platform,
    studio_id: &StudioId,
    service_id: &ServiceId,
) -> Result<Service, AppError> {
    load(platform, &service_key(studio_id, service_id)).await?.ok_or(AppError::NotFound("service"))
}

/// Creates a service.
pub async fn create_service(
    platform: &Platform,
    actor: Actor<'_>,
    definition: ServiceDefinition,
) -> Result<Service, AppError> {
    let studio = get(platform, actor.studio_id()).await?;
    let definition = definition.validate(&studio.profile.settings)?;
    let checks = super::team::check_professionals(
        platform,
        actor.studio_id(),
        &definition.professional_ids,
        "professional_ids",
    )
    .await?;
    let now = platform.clock.now();
    let service = Service {
        id: platform.ids.new_id().into(),
        definition,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let mut ops =
        vec![WriteOp::create(Item::from_record(&service_key(actor.studio_id(), &service.id), &service)?)];
    ops.extend(checks);
    ops.push(actor.audit(
        platform,
        "catalog.service_created",
        "service",
        &service.id,
        serde_json::to_value(&service.definition).unwrap_or_default(),
    )?);
    commit_professionals(platform, ops, None).await.map(|()| service)
}

/// Commits a write guarded on index 0, whose later checks are "still an active professional".
async fn commit_professionals(
    platform: &Platform,
    ops: Vec<WriteOp>,
    expected: Option<i64>,
) -> Result<(), AppError> {
    let checks = ops.len();
    match platform.store.transact(ops).await {
        Err(atelier_platform::store::StoreError::ConditionFailed { index, .. })
            if index > 0 && index + 1 < checks =>
        {
            Err(AppError::Conflict(
                atelier_platform::error::CHANGED_MEANWHILE,
                "a professional of this service changed meanwhile; try again".into(),
            ))
        }
        other => super::commit_result(other, expected),
    }
}

/// Changes a service (JSON merge patch), guarded by its version.
pub async fn update_service(
    platform: &Platform,
    actor: Actor<'_>,
    service_id: &ServiceId,
    patch: &serde_json::Value,
    expected: Option<i64>,
) -> Result<Service, AppError> {
    let current = service(platform, actor.studio_id(), service_id).await?;
    check_precondition(expected, current.version)?;
    let studio = get(platform, actor.studio_id()).await?;
    let definition = patched(&current.definition, patch)?.validate(&studio.profile.settings)?;
    let checks = super::team::check_professionals(
        platform,
        actor.studio_id(),
        &definition.professional_ids,
        "professional_ids",
    )
    .await?;
    let service = Service {
        definition,
        updated_at: platform.clock.now(),
        version: current.version + 1,
        ..current.clone()
    };
    let mut ops = vec![
        WriteOp::put(Item::from_record(&service_key(actor.studio_id(), service_id), &service)?)
            .when(Condition::version_is(current.version)),
    ];
    ops.extend(checks);
    let changes = serde_json::json!({ "from": current.definition, "to": service.definition });
    ops.push(actor.audit(platform, "catalog.service_updated", "service", service_id, changes)?);
    commit_professionals(platform, ops, expected).await.map(|()| service)
}

/// A resource as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Resource {
    /// Id.
    #[schema(value_type = String)]
    pub id: ResourceId,
    /// The definition.
    #[serde(flatten)]
    pub definition: ResourceDefinition,
    /// Version, for `If-Match`.
    pub version: i64,
}

/// Key of a resource.
pub fn resource_key(studio_id: &StudioId, resource_id: &ResourceId) -> Key {
    studio_item(studio_id, format!("RESOURCE#{resource_id}"))
}

/// Key of the totals of active resources' capacity per type (`type:<kind>` attributes), kept
/// in step with resources in the same transactions: a booking reads its pool's capacity here.
pub fn resource_capacity_key(studio_id: &StudioId) -> Key {
    studio_item(studio_id, "RESOURCE_CAPACITY")
}

/// Attribute of a type's total capacity on the totals item.
pub fn capacity_attr(kind: &str) -> String {
    format!("type:{kind}")
}

/// The update moving the totals from `before` to `after` (`None` when nothing changes).
fn capacity_change(
    studio_id: &StudioId,
    before: Option<&ResourceDefinition>,
    after: &ResourceDefinition,
) -> Option<WriteOp> {
    let mut deltas: Vec<(String, i64)> = Vec::new();
    let mut add = |d: &ResourceDefinition, sign: i64| {
        if d.active {
            let name = capacity_attr(&d.resource_type);
            match deltas.iter_mut().find(|(n, _)| *n == name) {
                Some((_, v)) => *v += sign * i64::from(d.capacity),
                None => deltas.push((name, sign * i64::from(d.capacity))),
            }
        }
    };
    if let Some(b) = before {
        add(b, -1);
    }
    add(after, 1);
    let actions: Vec<UpdateAction> =
        deltas.into_iter().filter(|(_, v)| *v != 0).map(|(n, v)| UpdateAction::Add(n, v)).collect();
    (!actions.is_empty()).then(|| WriteOp::update(resource_capacity_key(studio_id), actions))
}

/// Every resource of a studio.
pub async fn resources(platform: &Platform, studio_id: &StudioId) -> Result<Vec<Resource>, AppError> {
    let query = Query::partition(studio_partition(studio_id)).sort(SortKey::BeginsWith("RESOURCE#".into()));
    let items = platform.store.query_all(query, 10_000).await?;
    Ok(items.iter().map(Item::to_record).collect::<Result<_, _>>()?)
}

/// One resource.
pub async fn resource(
    platform: &Platform,
    studio_id: &StudioId,
    resource_id: &ResourceId,
) -> Result<Resource, AppError> {
    load(platform, &resource_key(studio_id, resource_id)).await?.ok_or(AppError::NotFound("resource"))
}

/// Creates a resource.
pub async fn create_resource(
    platform: &Platform,
    actor: Actor<'_>,
    definition: ResourceDefinition,
) -> Result<Resource, AppError> {
    let resource =
        Resource { id: platform.ids.new_id().into(), definition: definition.validate()?, version: 1 };
    let mut ops =
        vec![WriteOp::create(Item::from_record(&resource_key(actor.studio_id(), &resource.id), &resource)?)];
    ops.extend(capacity_change(actor.studio_id(), None, &resource.definition));
    ops.push(actor.audit(
        platform,
        "catalog.resource_created",
        "resource",
        &resource.id,
        serde_json::to_value(&resource.definition).unwrap_or_default(),
    )?);
    commit_guarded(platform, ops, None).await.map(|()| resource)
}

/// Changes a resource (JSON merge patch), guarded by its version.
pub async fn update_resource(
    platform: &Platform,
    actor: Actor<'_>,
    resource_id: &ResourceId,
    patch: &serde_json::Value,
    expected: Option<i64>,
) -> Result<Resource, AppError> {
    let current = resource(platform, actor.studio_id(), resource_id).await?;
    check_precondition(expected, current.version)?;
    let definition = patched(&current.definition, patch)?.validate()?;
    let updated = Resource { definition, version: current.version + 1, ..current.clone() };
    let changes = serde_json::json!({ "from": current.definition, "to": updated.definition });
    let mut ops = vec![
        WriteOp::put(Item::from_record(&resource_key(actor.studio_id(), resource_id), &updated)?)
            .when(Condition::version_is(current.version)),
    ];
    ops.extend(capacity_change(actor.studio_id(), Some(&current.definition), &updated.definition));
    ops.push(actor.audit(platform, "catalog.resource_updated", "resource", resource_id, changes)?);
    commit_guarded(platform, ops, expected).await.map(|()| updated)
}
