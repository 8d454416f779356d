//! Inventory: a studio's catalogue of products (with categories, brands and their models, and
//! suppliers), stock movements that never take a quantity below zero, stock valued at moving
//! average cost, services that consume stock when their bookings complete, retail sales, and
//! one low-stock alert per fall to the studio's owners and managers.
//!
//! Catalogue items and products live in `STUDIO#<s>#INVENTORY`; products are listed by title
//! (gsi1) and SKU (gsi2) under `STUDIO#<s>#PRODUCTS`. Movements live in `STUDIO#<s>#STOCK`,
//! sorted by time, and by product in gsi1. A product's quantity changes in the transaction
//! that records its movement, guarded by the version read (docs/inventory.md).

pub mod alerts;
pub mod catalogue;
pub mod conflicts;
pub mod movements;
pub mod products;
pub mod routes;
pub mod sales;
pub mod tx;
pub mod usage;

use atelier_domain::ids::StudioId;
use atelier_platform::store::{Item, Key};
use atelier_platform::{AppError, Platform};
use serde::de::DeserializeOwned;

/// The partition of a studio's catalogue and products.
pub fn inventory_partition(studio_id: &StudioId) -> String {
    format!("STUDIO#{studio_id}#INVENTORY")
}

/// A key in a studio's inventory partition.
pub fn inventory_item(studio_id: &StudioId, sort: impl Into<String>) -> Key {
    Key::new(inventory_partition(studio_id), sort)
}

/// The index partition listing a studio's products (by title in gsi1, by SKU in gsi2).
pub fn products_index(studio_id: &StudioId) -> String {
    format!("STUDIO#{studio_id}#PRODUCTS")
}

/// Text folded for prefix search and uniqueness: trimmed, lower case.
pub fn folded(text: &str) -> String {
    text.trim().to_lowercase()
}

/// Reads one record.
pub(crate) async fn read<T: DeserializeOwned>(platform: &Platform, key: &Key) -> Result<Option<T>, AppError> {
    platform.store.get(key).await?.as_ref().map(Item::to_record).transpose().map_err(AppError::from)
}

/// The studio's time zone, for the day a movement counts on.
pub(crate) async fn studio_zone(platform: &Platform, studio_id: &StudioId) -> Result<String, AppError> {
    Ok(atelier_studios::get(platform, studio_id).await?.profile.time_zone)
}

/// The local date of `at` in `zone`, as `YYYY-MM-DD`.
pub(crate) fn local_date(at: jiff::Timestamp, zone: &str) -> String {
    let tz = jiff::tz::TimeZone::get(zone).unwrap_or(jiff::tz::TimeZone::UTC);
    at.to_zoned_datetime(tz).date().to_string()
}
