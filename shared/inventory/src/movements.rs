//! Stock movements: inflows, outflows and counts, each an immutable record of who, when, why
//! and how much, written in the transaction that changes the product's stock. The product is
//! written under the version that was read and a `quantity ≥ taken` condition, so no interleaving
//! of movements, on either store, takes a quantity below zero or loses one; a movement that
//! lost the race reads the product again.

use std::time::Duration;

use atelier_bookings::sort_instant;
use atelier_domain::Invalid;
use atelier_domain::ids::{BookingId, MovementId, ProductId, SaleId, StudioId, SupplierId, UserId};
use atelier_domain::inventory::{LowStock, Moved, OutflowReason, StockError, check_quantity, low_stock};
use atelier_domain::money::{Currency, check_amount};
use atelier_platform::events::Event;
use atelier_platform::idempotency::{IdempotencyKey, Outcome};
use atelier_platform::outbox;
use atelier_platform::store::{Condition, Item, Key, UpdateAction, Value, WriteOp, attr};
use atelier_platform::{AppError, Platform};
use atelier_studios::Actor;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::conflicts::{INSUFFICIENT_STOCK, PRODUCT_INACTIVE, STOCK_LIMIT};
use crate::products::{self, Product};
use crate::tx::{Failure, Part, Tx};

/// How many times a movement reads the product again after another movement won the race.
pub const ATTEMPTS: usize = 60;

/// What kind of movement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MovementKind {
    /// Stock received.
    Inflow,
    /// Stock gone: sold, used, lost.
    Outflow,
    /// A stock take: the quantity set to what was counted.
    Count,
}

/// A movement as stored and shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Movement {
    /// Id.
    #[schema(value_type = String)]
    pub id: MovementId,
    /// The product.
    #[schema(value_type = String)]
    pub product_id: ProductId,
    /// Its title then.
    pub product_title: String,
    /// What kind.
    pub kind: MovementKind,
    /// Why (outflows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<OutflowReason>,
    /// Units received or taken; for a count, the level counted.
    pub quantity: i64,
    /// Units added (+) or taken (−).
    pub quantity_delta: i64,
    /// Value at cost added (+) or taken (−), minor units.
    pub value_delta_minor: i64,
    /// Units on hand after.
    pub quantity_after: i64,
    /// Stock value after, minor units.
    pub value_after_minor: i64,
    /// Currency of the values.
    #[schema(value_type = String)]
    pub currency: Currency,
    /// Unit cost of an inflow, minor units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_cost_minor: Option<i64>,
    /// The supplier of an inflow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub supplier_id: Option<SupplierId>,
    /// An invoice or delivery number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Why, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The completed booking whose service used it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub booking_id: Option<BookingId>,
    /// The sale it went out with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub sale_id: Option<SaleId>,
    /// Units a service needed but the shelf did not hold (recorded, alerted; the booking still
    /// completed).
    #[serde(default)]
    pub shortfall: i64,
    /// Who recorded it; for a completed booking's consumption, who completed it
    /// (`booking_id` says which booking).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub by: Option<UserId>,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
}

/// The partition of a studio's movements, sorted by time.
pub fn movements_partition(studio: &StudioId) -> String {
    format!("STUDIO#{studio}#STOCK")
}

/// The index partition of one product's movements.
pub fn product_movements(studio: &StudioId, product: &ProductId) -> String {
    format!("STUDIO#{studio}#PRODUCT#{product}#MOVES")
}

impl Movement {
    fn to_item(&self, studio: &StudioId) -> Result<Item, atelier_platform::store::StoreError> {
        let sort = format!("{}#{}", sort_instant(self.at), self.id);
        Ok(Item::from_record(&Key::new(movements_partition(studio), sort.clone()), self)?
            .with(attr::GSI1PK, product_movements(studio, &self.product_id))
            .with(attr::GSI1SK, sort))
    }
}

/// What a movement is, before it meets the product.
#[derive(Debug, Clone)]
pub(crate) struct Intent {
    pub kind: MovementKind,
    pub reason: Option<OutflowReason>,
    pub quantity: i64,
    pub unit_cost_minor: Option<i64>,
    pub supplier_id: Option<SupplierId>,
    pub reference: Option<String>,
    pub note: Option<String>,
    pub booking_id: Option<BookingId>,
    pub sale_id: Option<SaleId>,
    pub shortfall: i64,
    pub by: Option<UserId>,
}

/// A movement applied to the product as read: what to write.
pub(crate) struct Planned {
    pub product: Product,
    pub read_version: i64,
    pub taken: i64,
    pub movement: Movement,
    pub low: LowStock,
}

/// Applies `intent` to `product` (pure): the refusal if it would take more than is on hand.
pub(crate) fn plan(
    platform: &Platform,
    product: &Product,
    intent: Intent,
    at: Timestamp,
) -> Result<Planned, AppError> {
    let stock = product.stock();
    let moved: Result<Moved, StockError> = match intent.kind {
        MovementKind::Inflow => stock
            .inflow(intent.quantity, intent.unit_cost_minor.unwrap_or(product.definition.cost_price_minor)),
        MovementKind::Outflow => stock.outflow(intent.quantity),
        MovementKind::Count => stock.count(intent.quantity, product.definition.cost_price_minor),
    };
    let moved = moved.map_err(|e| match e {
        StockError::Insufficient { available } => AppError::Conflict(
            INSUFFICIENT_STOCK,
            format!("{}: only {available} {} on hand", product.definition.title, product.definition.unit),
        ),
        StockError::TooMuch => {
            AppError::Unprocessable(STOCK_LIMIT, format!("{}: {e}", product.definition.title))
        }
    })?;
    if moved.after.value_minor > atelier_domain::money::MAX_AMOUNT_MINOR * 1000 {
        return Err(AppError::Unprocessable(
            STOCK_LIMIT,
            "the stock's value would exceed its maximum".into(),
        ));
    }
    let low = low_stock(product.low, moved.after.quantity, product.definition.minimum_quantity);
    let mut after = product.clone();
    after.quantity = moved.after.quantity;
    after.value_minor = moved.after.value_minor;
    after.low = match low {
        LowStock::Fell => true,
        LowStock::Recovered => false,
        LowStock::Same => product.low,
    };
    after.updated_at = at;
    after.version = product.version + 1;
    let movement = Movement {
        id: MovementId::new(platform.ids.new_id()),
        product_id: product.id.clone(),
        product_title: product.definition.title.clone(),
        kind: intent.kind,
        reason: intent.reason,
        quantity: intent.quantity,
        quantity_delta: moved.quantity_delta,
        value_delta_minor: moved.value_delta_minor,
        quantity_after: moved.after.quantity,
        value_after_minor: moved.after.value_minor,
        currency: product.currency.clone(),
        unit_cost_minor: intent.unit_cost_minor.filter(|_| intent.kind == MovementKind::Inflow),
        supplier_id: intent.supplier_id,
        reference: intent.reference,
        note: intent.note,
        booking_id: intent.booking_id,
        sale_id: intent.sale_id,
        shortfall: intent.shortfall,
        by: intent.by,
        at,
    };
    Ok(Planned {
        taken: (-moved.quantity_delta).max(0),
        read_version: product.version,
        product: after,
        movement,
        low,
    })
}

/// The studio's stock value and low-product count, kept by every movement.
pub fn value_key(studio: &StudioId) -> Key {
    crate::inventory_item(studio, "VALUE")
}

/// The update of the studio's count of low products.
pub(crate) fn low_count(studio: &StudioId, delta: i64) -> WriteOp {
    WriteOp::update(value_key(studio), vec![UpdateAction::Add("low_products".into(), delta)])
}

/// Key of a studio's stock counters for one local day (read by reports).
pub fn day_key(studio: &StudioId, date: &str) -> Key {
    atelier_studios::studio_item(studio, format!("DAY#{date}#STOCK"))
}

/// Everything a planned movement writes itself: the product under the version read, the
/// movement, and its events (a fall below the minimum, a shortfall). What it adds to the
/// studio's counters goes into `counters`, written once per transaction (a transaction may
/// not touch one item twice).
pub(crate) fn writes(
    platform: &Platform,
    tx: &mut Tx,
    planned: &Planned,
    counters: &mut Counters,
) -> Result<(), AppError> {
    let studio = &planned.product.studio_id;
    let m = &planned.movement;
    let mut guard = vec![Condition::version_is(planned.read_version)];
    if planned.taken > 0 {
        guard.push(Condition::Ge("quantity".into(), Value::N(planned.taken)));
    }
    tx.push(WriteOp::put(planned.product.to_item()?).when(Condition::And(guard)), Part::Stock);
    tx.push(WriteOp::create(m.to_item(studio)?), Part::Other);
    counters.add(planned);
    if planned.low == LowStock::Fell {
        tx.event(crate::alerts::stage(
            platform,
            crate::alerts::LOW,
            &crate::alerts::StockEvent::of(&planned.product, m),
        )?);
    }
    if m.shortfall > 0 {
        tx.event(crate::alerts::stage(
            platform,
            crate::alerts::SHORTFALL,
            &crate::alerts::StockEvent::of(&planned.product, m),
        )?);
    }
    Ok(())
}

/// What a transaction's movements add to the studio's stock value and to the day's counters.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    value_minor: i64,
    low_products: i64,
    day: std::collections::BTreeMap<&'static str, i64>,
    currency: Option<Currency>,
    at: Option<Timestamp>,
}

impl Counters {
    fn add(&mut self, planned: &Planned) {
        let m = &planned.movement;
        self.value_minor += m.value_delta_minor;
        self.low_products += match planned.low {
            LowStock::Fell => 1,
            LowStock::Recovered => -1,
            LowStock::Same => 0,
        };
        let field = match (m.kind, m.reason) {
            (MovementKind::Inflow, _) => "inflow_minor",
            (MovementKind::Count, _) => "count_adjustment_minor",
            (MovementKind::Outflow, Some(OutflowReason::Sale)) => "sold_cost_minor",
            (MovementKind::Outflow, Some(OutflowReason::Service)) => "service_cost_minor",
            (MovementKind::Outflow, Some(OutflowReason::Loss)) => "loss_cost_minor",
            (MovementKind::Outflow, _) => "used_cost_minor",
        };
        let delta =
            if m.kind == MovementKind::Count { m.value_delta_minor } else { m.value_delta_minor.abs() };
        *self.day.entry(field).or_default() += delta;
        *self.day.entry("movements").or_default() += 1;
        if m.shortfall > 0 {
            *self.day.entry("shortfall_units").or_default() += m.shortfall;
        }
        self.currency = Some(m.currency.clone());
        self.at = Some(m.at);
    }

    /// Adds to a day counter beyond the movements' (a sale's revenue).
    pub(crate) fn count(&mut self, field: &'static str, delta: i64) {
        *self.day.entry(field).or_default() += delta;
    }

    /// The studio's value item and the day's counters, once each.
    pub(crate) fn push(self, tx: &mut Tx, studio: &StudioId, zone: &str) {
        let (Some(currency), Some(at)) = (self.currency, self.at) else { return };
        let mut value = vec![
            UpdateAction::Add("value_minor".into(), self.value_minor),
            UpdateAction::Set("currency".into(), currency.code().into()),
        ];
        if self.low_products != 0 {
            value.push(UpdateAction::Add("low_products".into(), self.low_products));
        }
        tx.push(WriteOp::update(value_key(studio), value), Part::Other);
        let date = crate::local_date(at, zone);
        let mut counts = vec![
            UpdateAction::Set("date".into(), date.clone().into()),
            UpdateAction::Set("currency".into(), currency.code().into()),
        ];
        counts.extend(self.day.into_iter().map(|(field, delta)| UpdateAction::Add(field.into(), delta)));
        tx.push(WriteOp::update(day_key(studio, &date), counts), Part::Other);
    }
}

/// Whether a commit lost a race to another movement: the product's version guard failed, or
/// the store gave up on transactions touching the same items (the studio's value and day
/// counters are shared by every movement). Read the product again and retry.
pub(crate) fn lost_race(failure: &Failure) -> bool {
    matches!(
        failure,
        Failure::Condition(Part::Stock)
            | Failure::Error(AppError::StoreUnavailable(
                atelier_platform::store::StoreError::TransactionConflict
            ))
    )
}

/// A short pause before reading a product again, spread so racing movements do not collide
/// in step.
pub(crate) async fn back_off(platform: &Platform, attempt: usize) {
    let spread = u64::from(atelier_platform::stable_shard(&platform.ids.new_id(), 7));
    let millis = (attempt.min(10) as u64) * (1 + spread);
    tokio::time::sleep(Duration::from_millis(millis)).await;
}

/// A movement as a member asks for it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MovementRequest {
    /// `inflow`, `outflow` or `count`.
    pub kind: MovementKind,
    /// Units received or taken (1 to 1 000 000 000); for a count, the level counted (0 or more).
    pub quantity: i64,
    /// Inflows: the unit cost, minor units (absent: the product's cost price).
    #[serde(default)]
    pub unit_cost_minor: Option<i64>,
    /// Inflows: the supplier.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub supplier_id: Option<SupplierId>,
    /// Inflows: an invoice or delivery number, up to 100 characters.
    #[serde(default)]
    pub reference: Option<String>,
    /// Outflows: `use` (the default), `loss` or `sale` (a sale without a client; see `POST …/sales`).
    #[serde(default)]
    pub reason: Option<OutflowReason>,
    /// Why, in words, up to 500 characters.
    #[serde(default)]
    pub note: Option<String>,
}

impl MovementRequest {
    fn intent(&self, by: &UserId) -> Result<Intent, AppError> {
        let mut errors = Invalid::default();
        if self.kind == MovementKind::Count {
            errors.check(
                (0..=atelier_domain::inventory::MAX_QUANTITY).contains(&self.quantity),
                "quantity",
                "must be between 0 and 1000000000",
            );
        } else if let Err(e) = check_quantity(self.quantity, "quantity") {
            errors.merge(e);
        }
        if let Some(cost) = self.unit_cost_minor
            && let Err(e) = check_amount(cost, "unit_cost_minor")
        {
            errors.merge(e);
        }
        let inflow = self.kind == MovementKind::Inflow;
        errors.check(inflow || self.unit_cost_minor.is_none(), "unit_cost_minor", "only for inflows");
        errors.check(inflow || self.supplier_id.is_none(), "supplier_id", "only for inflows");
        errors.check(inflow || self.reference.is_none(), "reference", "only for inflows");
        errors.check(
            self.kind == MovementKind::Outflow || self.reason.is_none(),
            "reason",
            "only for outflows",
        );
        errors.check(
            self.reason != Some(OutflowReason::Service),
            "reason",
            "service outflows are recorded when a booking completes",
        );
        let mut text = |value: &Option<String>, max: usize, field: &str| {
            value
                .as_deref()
                .map(|v| atelier_domain::studios::check_text(v, max, field))
                .transpose()
                .map_err(|e| errors.merge(e))
                .ok()
                .flatten()
                .filter(|t| !t.is_empty())
        };
        let reference = text(&self.reference, 100, "reference");
        let note = text(&self.note, 500, "note");
        errors.into_result()?;
        Ok(Intent {
            kind: self.kind,
            reason: (self.kind == MovementKind::Outflow).then(|| self.reason.unwrap_or(OutflowReason::Use)),
            quantity: self.quantity,
            unit_cost_minor: self.unit_cost_minor,
            supplier_id: self.supplier_id.clone(),
            reference,
            note,
            booking_id: None,
            sale_id: None,
            shortfall: 0,
            by: Some(by.clone()),
        })
    }
}

/// Records a movement of one product: inflows and counts by managers, outflows by any member.
/// The same `Idempotency-Key` gets the same movement.
pub async fn record(
    platform: &Platform,
    actor: Actor<'_>,
    product_id: &ProductId,
    request: &MovementRequest,
    key: Option<IdempotencyKey>,
) -> Result<(bool, Movement), AppError> {
    if request.kind != MovementKind::Outflow {
        actor.access.require(atelier_domain::identity::Role::Manager)?;
    }
    let intent = request.intent(actor.user_id())?;
    if let Some(key) = &key
        && let Some(outcome) = key.lookup(platform).await?
    {
        return Ok((false, replayed(outcome)?));
    }
    if let Some(supplier) = &intent.supplier_id {
        crate::catalogue::get::<crate::catalogue::Supplier>(platform, actor.studio_id(), supplier)
            .await
            .map_err(|e| match e {
                AppError::NotFound(_) => AppError::Unprocessable(
                    crate::conflicts::UNKNOWN_REFERENCE,
                    "the studio has no such supplier".into(),
                ),
                other => other,
            })?;
    }
    let zone = crate::studio_zone(platform, actor.studio_id()).await?;
    for attempt in 0..ATTEMPTS {
        let product = products::load(platform, actor.studio_id(), product_id).await?;
        if !product.definition.active && request.kind == MovementKind::Outflow {
            return Err(AppError::Conflict(
                PRODUCT_INACTIVE,
                "the product is inactive; activate it or count it".into(),
            ));
        }
        let planned = plan(platform, &product, intent.clone(), platform.clock.now())?;
        let m = &planned.movement;
        let mut tx = Tx::new();
        // The key first: a concurrent retry with the same key fails on it (both stores report
        // the first failed condition) and answers with the movement that won.
        if let Some(key) = &key {
            let body = serde_json::to_value(m).map_err(|e| AppError::failed("encoding a movement", e))?;
            tx.push(key.remember(&Outcome { created: true, body }, m.at)?, Part::Idempotency);
        }
        let mut counters = Counters::default();
        writes(platform, &mut tx, &planned, &mut counters)?;
        counters.push(&mut tx, actor.studio_id(), &zone);
        tx.push(
            actor.audit(
                platform,
                "inventory.movement_recorded",
                "product",
                product_id,
                serde_json::json!({ "movement_id": m.id, "kind": m.kind, "quantity": m.quantity, "quantity_delta": m.quantity_delta }),
            )?,
            Part::Other,
        );
        match tx.commit(platform).await {
            Ok(()) => return Ok((true, planned.movement)),
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
        "the product's stock kept changing; try again".into(),
    ))
}

fn replayed(outcome: Outcome) -> Result<Movement, AppError> {
    serde_json::from_value(outcome.body).map_err(|e| AppError::failed("reading a stored movement", e))
}

/// Stages an event on the notifications queue (for alerts and webhooks).
pub(crate) fn stage_event(
    platform: &Platform,
    studio: &StudioId,
    kind: &str,
    payload: serde_json::Value,
) -> Result<(WriteOp, atelier_platform::outbox::OutboxEntry), atelier_platform::store::StoreError> {
    let event = Event {
        id: platform.ids.new_id(),
        kind: kind.to_owned(),
        studio_id: Some(studio.to_string()),
        occurred_at: platform.clock.now(),
        trace: None,
        payload,
    };
    outbox::record(&event, &atelier_notifications::QUEUE)
}
