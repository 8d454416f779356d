//! Services that consume stock: a service lists the products and quantities one booking of it
//! uses, and completing a booking records those outflows once (a marker item per booking is
//! created in the same transaction, so a retried or redelivered completion records nothing
//! more). A studio never refuses to complete a service because its count is off: each product
//! gives what it has, the shortfall is recorded on the movement and alerted.

use async_trait::async_trait;
use atelier_bookings::events::BookingEvent;
use atelier_domain::Invalid;
use atelier_domain::ids::{BookingId, ProductId, ServiceId, StudioId};
use atelier_domain::inventory::{OutflowReason, check_quantity, consumption};
use atelier_platform::events::Event;
use atelier_platform::store::{Condition, Item, Key, WriteOp};
use atelier_platform::worker::{EventHandler, HandlerError};
use atelier_platform::{AppError, Platform};
use atelier_studios::Actor;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::movements::{
    ATTEMPTS, Counters, Intent, Movement, MovementKind, back_off, lost_race, plan, writes,
};
use crate::tx::{Failure, Part, Tx};

/// Most products one service may use.
pub const MAX_PRODUCTS_PER_SERVICE: usize = 20;

/// One product a service uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductUse {
    /// The product.
    #[schema(value_type = String)]
    pub product_id: ProductId,
    /// Units of it one booking uses.
    pub quantity: i64,
}

/// The products a service uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceUsage {
    /// Up to 20 products, each once.
    pub items: Vec<ProductUse>,
}

/// As stored and shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StoredUsage {
    /// The service.
    #[schema(value_type = String)]
    pub service_id: ServiceId,
    /// Its products.
    pub items: Vec<ProductUse>,
    /// Last changed (absent: never set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub updated_at: Option<Timestamp>,
    /// Version (0: never set).
    pub version: i64,
}

fn usage_key(studio: &StudioId, service: &ServiceId) -> Key {
    crate::inventory_item(studio, format!("USES#{service}"))
}

fn consumed_key(studio: &StudioId, booking: &BookingId) -> Key {
    crate::inventory_item(studio, format!("CONSUMED#{booking}"))
}

/// What a service uses (none listed: an empty list).
pub async fn of_service(
    platform: &Platform,
    studio: &StudioId,
    service: &ServiceId,
) -> Result<StoredUsage, AppError> {
    atelier_studios::catalog::service(platform, studio, service).await?;
    Ok(crate::read(platform, &usage_key(studio, service)).await?.unwrap_or(StoredUsage {
        service_id: service.clone(),
        items: Vec::new(),
        updated_at: None,
        version: 0,
    }))
}

/// Sets what a service uses (managers); every product must be the studio's.
pub async fn set(
    platform: &Platform,
    actor: Actor<'_>,
    service: &ServiceId,
    usage: ServiceUsage,
) -> Result<StoredUsage, AppError> {
    let mut errors = Invalid::default();
    errors.check(
        usage.items.len() <= MAX_PRODUCTS_PER_SERVICE,
        "items",
        format!("at most {MAX_PRODUCTS_PER_SERVICE} products"),
    );
    for (n, item) in usage.items.iter().enumerate() {
        if let Err(e) = check_quantity(item.quantity, &format!("items[{n}].quantity")) {
            errors.merge(e);
        }
        errors.check(
            !usage.items[..n].iter().any(|other| other.product_id == item.product_id),
            &format!("items[{n}].product_id"),
            "lists a product twice",
        );
    }
    errors.into_result()?;
    let current = of_service(platform, actor.studio_id(), service).await?;
    let stored = StoredUsage {
        service_id: service.clone(),
        items: usage.items,
        updated_at: Some(platform.clock.now()),
        version: current.version + 1,
    };
    let mut tx = Tx::new();
    let guard =
        if current.version == 0 { Condition::NotExists } else { Condition::version_is(current.version) };
    tx.push(
        WriteOp::put(Item::from_record(&usage_key(actor.studio_id(), service), &stored)?).when(guard),
        Part::Product,
    );
    for item in &stored.items {
        tx.push(
            WriteOp::check(
                crate::products::product_key(actor.studio_id(), &item.product_id),
                Condition::Exists,
            ),
            Part::Reference("product"),
        );
    }
    tx.push(
        actor.audit(
            platform,
            "inventory.service_usage_set",
            "service",
            service,
            serde_json::to_value(&stored.items).unwrap_or_default(),
        )?,
        Part::Other,
    );
    tx.commit(platform).await.map_err(Failure::into_error)?;
    Ok(stored)
}

/// Records what a completed booking's service used, once; returns the movements (none when
/// already recorded or the service uses nothing).
pub async fn consume(platform: &Platform, booking: &BookingEvent) -> Result<Vec<Movement>, AppError> {
    let studio = &booking.studio_id;
    let usage: Option<StoredUsage> = crate::read(platform, &usage_key(studio, &booking.service_id)).await?;
    let Some(usage) = usage.filter(|u| !u.items.is_empty()) else { return Ok(Vec::new()) };
    if platform.store.get(&consumed_key(studio, &booking.booking_id)).await?.is_some() {
        return Ok(Vec::new());
    }
    let zone = crate::studio_zone(platform, studio).await?;
    for attempt in 0..ATTEMPTS {
        let now = platform.clock.now();
        let mut tx = Tx::new();
        tx.push(
            WriteOp::create(
                Item::new(&consumed_key(studio, &booking.booking_id))
                    .with("at", atelier_bookings::sort_instant(now)),
            ),
            Part::Consumed,
        );
        let mut movements = Vec::new();
        let mut counters = Counters::default();
        for used in &usage.items {
            let product = match crate::products::load(platform, studio, &used.product_id).await {
                Ok(product) => product,
                // Gone from the catalogue since (products are not deleted today): nothing to take.
                Err(AppError::NotFound(_)) => continue,
                // Anything else is retried by the queue: the marker must not commit without it.
                Err(e) => return Err(e),
            };
            let (taken, shortfall) = consumption(used.quantity, product.quantity);
            let intent = Intent {
                kind: MovementKind::Outflow,
                reason: Some(OutflowReason::Service),
                quantity: taken,
                unit_cost_minor: None,
                supplier_id: None,
                reference: None,
                // The service, not the client: every member reads a product's history, and a
                // professional sees only their own agenda's clients.
                note: Some(booking.service_name.clone()),
                booking_id: Some(booking.booking_id.clone()),
                sale_id: None,
                shortfall,
                // In the name of who completed the booking (the worker records it for them).
                by: booking.by.clone(),
            };
            let planned = plan(platform, &product, intent, now)?;
            writes(platform, &mut tx, &planned, &mut counters)?;
            movements.push(planned.movement);
        }
        counters.push(&mut tx, studio, &zone);
        let taken: Vec<_> = movements.iter().map(|m| serde_json::json!({ "product_id": m.product_id, "quantity": m.quantity, "shortfall": m.shortfall })).collect();
        tx.push(
            atelier_platform::audit::record(&atelier_platform::audit::AuditEvent {
                id: platform.ids.new_id(),
                at: now,
                actor: None,
                action: "inventory.consumed".into(),
                entity: "booking".into(),
                entity_id: booking.booking_id.to_string(),
                studio_id: Some(studio.to_string()),
                ip: String::new(),
                user_agent: "worker".into(),
                changes: serde_json::json!({ "service_id": booking.service_id, "movements": taken }),
            })?,
            Part::Other,
        );
        match tx.commit(platform).await {
            Ok(()) => return Ok(movements),
            Err(Failure::Condition(Part::Consumed)) => return Ok(Vec::new()),
            Err(f) if lost_race(&f) => back_off(platform, attempt).await,
            Err(f) => return Err(f.into_error()),
        }
    }
    Err(AppError::Conflict(
        atelier_platform::error::CHANGED_MEANWHILE,
        "the products' stock kept changing".into(),
    ))
}

/// Consumes stock on `booking.completed`.
pub(crate) struct Consumption {
    pub(crate) platform: Platform,
}

#[async_trait]
impl EventHandler for Consumption {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let booking: BookingEvent = serde_json::from_value(event.payload.clone())
            .map_err(|e| HandlerError::failed("malformed booking.completed", e))?;
        match consume(&self.platform, &booking).await {
            Ok(_) | Err(AppError::NotFound(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
