//! Low stock and shortfalls, told to the studio's owners and managers (not to whoever
//! subscribed): `stock.low` once when a movement takes a product below its minimum (again only
//! after it recovered), `stock.shortfall` when a completed service needed more than the shelf
//! held.

use std::sync::Arc;

use async_trait::async_trait;
use atelier_domain::identity::Role;
use atelier_domain::ids::{BookingId, ProductId, StudioId};
use atelier_notifications::{Notice, Topic, Var, delivery};
use atelier_platform::Platform;
use atelier_platform::events::Event;
use atelier_platform::outbox::OutboxEntry;
use atelier_platform::store::{StoreError, WriteOp};
use atelier_platform::worker::{EventHandler, HandlerError};
use serde::{Deserialize, Serialize};

use crate::movements::Movement;
use crate::products::Product;

/// A product fell below its minimum.
pub const LOW: &str = "stock.low";
/// A completed service needed more of a product than there was.
pub const SHORTFALL: &str = "stock.shortfall";

/// The payload of both events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockEvent {
    /// The studio.
    pub studio_id: StudioId,
    /// The product.
    pub product_id: ProductId,
    /// Its title.
    pub title: String,
    /// Its SKU.
    pub sku: String,
    /// Its unit.
    pub unit: String,
    /// On hand after the movement.
    pub quantity: i64,
    /// Its minimum.
    pub minimum_quantity: i64,
    /// Units missing (shortfalls).
    #[serde(default)]
    pub shortfall: i64,
    /// The booking whose service needed it (shortfalls).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub booking_id: Option<BookingId>,
}

impl StockEvent {
    /// The event for a product after `movement`.
    pub fn of(product: &Product, movement: &Movement) -> StockEvent {
        StockEvent {
            studio_id: product.studio_id.clone(),
            product_id: product.id.clone(),
            title: product.definition.title.clone(),
            sku: product.definition.sku.clone(),
            unit: product.definition.unit.clone(),
            quantity: product.quantity,
            minimum_quantity: product.definition.minimum_quantity,
            shortfall: movement.shortfall,
            booking_id: movement.booking_id.clone(),
        }
    }
}

/// Stages `kind` for `payload` in the movement's transaction.
pub fn stage(
    platform: &Platform,
    kind: &str,
    payload: &StockEvent,
) -> Result<(WriteOp, OutboxEntry), StoreError> {
    let value = serde_json::to_value(payload).map_err(|e| StoreError::Encode(e.to_string()))?;
    crate::movements::stage_event(platform, &payload.studio_id, kind, value)
}

/// Tells each owner and manager.
struct StockAlerts {
    platform: Platform,
}

#[async_trait]
impl EventHandler for StockAlerts {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let platform = &self.platform;
        let stock: StockEvent = serde_json::from_value(event.payload.clone())
            .map_err(|e| HandlerError::failed(format!("malformed {}", event.kind), e))?;
        let studio = match atelier_studios::get(platform, &stock.studio_id).await {
            Ok(s) => s,
            Err(atelier_platform::AppError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let people: Vec<_> = atelier_studios::team::memberships(platform, &studio.id)
            .await?
            .into_iter()
            .filter(|m| m.role.includes(Role::Manager))
            .map(|m| m.user_id)
            .collect();
        let topic = if event.kind == SHORTFALL { Topic::StockShortfall } else { Topic::StockLow };
        for person in atelier_identity::profiles(platform, &people).await? {
            let mut notice = Notice::new(topic, atelier_identity::recipient(&person))
                .in_studio(atelier_studios::notice_context(&studio))
                .with("product", Var::Text(stock.title.clone()))
                .with("sku", Var::Text(stock.sku.clone()))
                .with("unit", Var::Text(stock.unit.clone()))
                .with("quantity", Var::Number(stock.quantity))
                .with("minimum", Var::Number(stock.minimum_quantity));
            if stock.shortfall > 0 {
                notice = notice.with("shortfall", Var::Number(stock.shortfall));
            }
            delivery::dispatch(platform, &event.id, event.occurred_at, &notice).await?;
        }
        Ok(())
    }
}

/// The handlers inventory runs on the notifications queue, by event kind.
pub fn handlers(platform: &Platform) -> Vec<(&'static str, Arc<dyn EventHandler>)> {
    let alerts: Arc<dyn EventHandler> = Arc::new(StockAlerts { platform: platform.clone() });
    let consumption: Arc<dyn EventHandler> =
        Arc::new(crate::usage::Consumption { platform: platform.clone() });
    vec![(LOW, alerts.clone()), (SHORTFALL, alerts), (atelier_bookings::events::COMPLETED, consumption)]
}
