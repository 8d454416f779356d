//! Sales of retail products to a studio's client (optionally attached to a booking): every
//! line's outflow, the sale and the day's revenue in one transaction, all or nothing.

use atelier_bookings::sort_instant;
use atelier_domain::Invalid;
use atelier_domain::ids::{BookingId, ClientId, MovementId, ProductId, SaleId, StudioId, UserId};
use atelier_domain::inventory::{OutflowReason, check_quantity};
use atelier_domain::money::{Currency, MAX_AMOUNT_MINOR, check_amount};
use atelier_platform::idempotency::{IdempotencyKey, Outcome};
use atelier_platform::store::{Item, Key, WriteOp, attr};
use atelier_platform::{AppError, Platform};
use atelier_studios::Actor;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::conflicts::PRODUCT_INACTIVE;
use crate::movements::{ATTEMPTS, Counters, Intent, MovementKind, back_off, lost_race, plan, writes};
use crate::tx::{Failure, Part, Tx};

/// Most lines in one sale.
pub const MAX_LINES: usize = 20;

/// One line as asked for.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaleLineRequest {
    /// The product.
    #[schema(value_type = String)]
    pub product_id: ProductId,
    /// Units.
    pub quantity: i64,
    /// Price per unit, minor units (absent: the product's sell price).
    #[serde(default)]
    pub unit_price_minor: Option<i64>,
}

/// A sale as asked for.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaleRequest {
    /// The studio's client (absent: a walk-in sale, or the booking's client).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub client_id: Option<ClientId>,
    /// The booking it goes with.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub booking_id: Option<BookingId>,
    /// 1 to 20 lines, each product once.
    pub lines: Vec<SaleLineRequest>,
    /// Up to 500 characters.
    #[serde(default)]
    pub note: Option<String>,
}

/// A line as sold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SaleLine {
    /// The product.
    #[schema(value_type = String)]
    pub product_id: ProductId,
    /// Its title then.
    pub title: String,
    /// Units.
    pub quantity: i64,
    /// Price per unit, minor units.
    pub unit_price_minor: i64,
    /// `quantity × unit_price_minor`.
    pub total_minor: i64,
    /// What the units cost the studio (moving average), minor units.
    pub cost_minor: i64,
    /// Its outflow.
    #[schema(value_type = String)]
    pub movement_id: MovementId,
}

/// A sale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Sale {
    /// Id.
    #[schema(value_type = String)]
    pub id: SaleId,
    /// The client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub client_id: Option<ClientId>,
    /// The booking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub booking_id: Option<BookingId>,
    /// Lines.
    pub lines: Vec<SaleLine>,
    /// Sum of the lines, minor units.
    pub total_minor: i64,
    /// Currency.
    #[schema(value_type = String)]
    pub currency: Currency,
    /// Note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Who sold.
    #[schema(value_type = String)]
    pub by: UserId,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
}

/// Key of a sale.
pub fn sale_key(studio: &StudioId, sale: &SaleId) -> Key {
    crate::inventory_item(studio, format!("SALE#{sale}"))
}

/// The index partition of a studio's sales by time.
pub fn sales_index(studio: &StudioId) -> String {
    format!("STUDIO#{studio}#SALES")
}

fn client_sales(studio: &StudioId, client: &ClientId) -> String {
    format!("STUDIO#{studio}#CLIENT#{client}#SALES")
}

impl Sale {
    fn to_item(&self, studio: &StudioId) -> Result<Item, atelier_platform::store::StoreError> {
        let sort = format!("{}#{}", sort_instant(self.at), self.id);
        let mut item = Item::from_record(&sale_key(studio, &self.id), self)?
            .with(attr::GSI1PK, sales_index(studio))
            .with(attr::GSI1SK, sort.clone());
        if let Some(client) = &self.client_id {
            item = item.with(attr::GSI2PK, client_sales(studio, client)).with(attr::GSI2SK, sort);
        }
        Ok(item)
    }
}

/// One sale.
pub async fn get(platform: &Platform, studio: &StudioId, sale: &SaleId) -> Result<Sale, AppError> {
    crate::read(platform, &sale_key(studio, sale)).await?.ok_or(AppError::NotFound("sale"))
}

fn check(request: &SaleRequest) -> Result<Option<String>, Invalid> {
    let mut errors = Invalid::default();
    errors.check(
        (1..=MAX_LINES).contains(&request.lines.len()),
        "lines",
        format!("must have 1 to {MAX_LINES} lines"),
    );
    for (n, line) in request.lines.iter().enumerate() {
        if let Err(e) = check_quantity(line.quantity, &format!("lines[{n}].quantity")) {
            errors.merge(e);
        }
        if let Some(price) = line.unit_price_minor
            && let Err(e) = check_amount(price, &format!("lines[{n}].unit_price_minor"))
        {
            errors.merge(e);
        }
        errors.check(
            !request.lines[..n].iter().any(|l| l.product_id == line.product_id),
            &format!("lines[{n}].product_id"),
            "lists a product twice: add up its quantity",
        );
    }
    let note = request
        .note
        .as_deref()
        .map(|n| atelier_domain::studios::check_text(n, 500, "note"))
        .transpose()
        .map_err(|e| errors.merge(e))
        .ok()
        .flatten()
        .filter(|n| !n.is_empty());
    errors.into_result()?;
    Ok(note)
}

/// Sells products (any member): refused whole (409 `insufficient-stock`) when a line asks for
/// more than is on hand. The same `Idempotency-Key` gets the same sale.
pub async fn sell(
    platform: &Platform,
    actor: Actor<'_>,
    request: &SaleRequest,
    key: Option<IdempotencyKey>,
) -> Result<(bool, Sale), AppError> {
    let note = check(request)?;
    if let Some(key) = &key
        && let Some(outcome) = key.lookup(platform).await?
    {
        return Ok((false, replayed(outcome)?));
    }
    let studio = actor.studio_id();
    let mut client_id = request.client_id.clone();
    if let Some(booking_id) = &request.booking_id {
        let booking = atelier_bookings::load(platform, studio, booking_id).await?;
        if client_id.as_ref().is_some_and(|c| *c != booking.client_id) {
            return Err(Invalid::field("client_id", "is not the booking's client").into());
        }
        client_id = Some(booking.client_id);
    }
    if let Some(client) = &client_id {
        atelier_studios::clients::get(platform, studio, client).await?;
    }
    let zone = crate::studio_zone(platform, studio).await?;
    for attempt in 0..ATTEMPTS {
        let now = platform.clock.now();
        let sale_id = SaleId::new(platform.ids.new_id());
        let mut planned_lines = Vec::new();
        let mut lines = Vec::new();
        let mut currency = None;
        let mut total_minor: i64 = 0;
        for line in &request.lines {
            let product = crate::products::load(platform, studio, &line.product_id).await?;
            if !product.definition.active {
                return Err(AppError::Conflict(
                    PRODUCT_INACTIVE,
                    format!("{} is inactive", product.definition.title),
                ));
            }
            if currency.get_or_insert_with(|| product.currency.clone()) != &product.currency {
                return Err(Invalid::field("lines", "products priced in different currencies").into());
            }
            let unit_price_minor = line.unit_price_minor.unwrap_or(product.definition.sell_price_minor);
            let line_total = unit_price_minor.checked_mul(line.quantity);
            total_minor = match line_total.and_then(|t| total_minor.checked_add(t)) {
                Some(total) if total <= MAX_AMOUNT_MINOR => total,
                _ => {
                    return Err(Invalid::field(
                        "lines",
                        format!("the total must be at most {MAX_AMOUNT_MINOR} (minor units)"),
                    )
                    .into());
                }
            };
            let intent = Intent {
                kind: MovementKind::Outflow,
                reason: Some(OutflowReason::Sale),
                quantity: line.quantity,
                unit_cost_minor: None,
                supplier_id: None,
                reference: None,
                note: None,
                booking_id: request.booking_id.clone(),
                sale_id: Some(sale_id.clone()),
                shortfall: 0,
                by: Some(actor.user_id().clone()),
            };
            let planned = plan(platform, &product, intent, now)?;
            lines.push(SaleLine {
                product_id: product.id.clone(),
                title: product.definition.title.clone(),
                quantity: line.quantity,
                unit_price_minor,
                total_minor: line_total.unwrap_or_default(),
                cost_minor: -planned.movement.value_delta_minor,
                movement_id: planned.movement.id.clone(),
            });
            planned_lines.push(planned);
        }
        let sale = Sale {
            id: sale_id,
            client_id: client_id.clone(),
            booking_id: request.booking_id.clone(),
            lines,
            total_minor,
            // Lines are never empty (checked above), so the first product set it.
            currency: currency.ok_or_else(|| AppError::Internal("a sale without lines".into()))?,
            note: note.clone(),
            by: actor.user_id().clone(),
            at: now,
        };
        let mut tx = Tx::new();
        // The key first: a concurrent retry with the same key fails on it and answers with the
        // sale that won.
        if let Some(key) = &key {
            let body = serde_json::to_value(&sale).map_err(|e| AppError::failed("encoding a sale", e))?;
            tx.push(key.remember(&Outcome { created: true, body }, now)?, Part::Idempotency);
        }
        let mut counters = Counters::default();
        for planned in &planned_lines {
            writes(platform, &mut tx, planned, &mut counters)?;
        }
        counters.count("sales_minor", sale.total_minor);
        counters.count("sales", 1);
        counters.push(&mut tx, studio, &zone);
        tx.push(WriteOp::create(sale.to_item(studio)?), Part::Other);
        tx.push(
            actor.audit(
                platform,
                "inventory.sale_recorded",
                "sale",
                &sale.id,
                serde_json::json!({ "total_minor": sale.total_minor, "lines": sale.lines.len() }),
            )?,
            Part::Other,
        );
        match tx.commit(platform).await {
            Ok(()) => return Ok((true, sale)),
            Err(Failure::Condition(Part::Idempotency)) => {}
            Err(f) if lost_race(&f) => back_off(platform, attempt).await,
            Err(f) => return Err(f.into_error()),
        }
        if let Some(key) = &key
            && let Some(outcome) = key.lookup(platform).await?
        {
            return Ok((false, replayed(outcome)?));
        }
    }
    Err(AppError::Conflict(
        atelier_platform::error::CHANGED_MEANWHILE,
        "the products' stock kept changing; try again".into(),
    ))
}

fn replayed(outcome: Outcome) -> Result<Sale, AppError> {
    serde_json::from_value(outcome.body).map_err(|e| AppError::failed("reading a stored sale", e))
}

/// Index partition of a client's sales (gsi2).
pub fn of_client_index(studio: &StudioId, client: &ClientId) -> String {
    client_sales(studio, client)
}
