//! Products: what a studio stocks, with its SKU and serial number unique in the studio, its
//! prices, its minimum level, and its stock (changed only by movements).

use atelier_domain::Invalid;
use atelier_domain::ids::{BrandId, CategoryId, ProductId, ProductModelId, StudioId, SupplierId};
use atelier_domain::inventory::{MAX_QUANTITY, Stock, is_low};
use atelier_domain::money::{Currency, check_amount};
use atelier_domain::studios::{check_required_text, check_text};
use atelier_platform::store::{Condition, Cursor, Index, Item, Key, Query, SortKey, WriteOp, attr};
use atelier_platform::tx::Guarded;
use atelier_platform::{AppError, Platform};
use atelier_studios::Actor;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::catalogue::{
    self, BrandDefinition, CategoryDefinition, ProductModelDefinition, SupplierDefinition,
};
use crate::tx::{Failure, Part, Tx};
use crate::{folded, inventory_item, products_index};

/// What a manager sends to create or change a product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductDefinition {
    /// Title, up to 200 characters.
    pub title: String,
    /// Stock-keeping unit, unique in the studio (case-insensitive), up to 64 characters.
    pub sku: String,
    /// Serial number, unique in the studio when present, up to 64 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    /// The unit quantities count in (`unit`, `ml`, `g`), up to 20 characters; quantities are
    /// whole numbers of it.
    #[serde(default = "default_unit")]
    pub unit: String,
    /// What one unit costs the studio, minor units of the studio's currency.
    #[serde(default)]
    pub cost_price_minor: i64,
    /// What one unit sells for.
    #[serde(default)]
    pub sell_price_minor: i64,
    /// Category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub category_id: Option<CategoryId>,
    /// Brand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub brand_id: Option<BrandId>,
    /// The brand's model (needs `brand_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub model_id: Option<ProductModelId>,
    /// The supplier it is usually bought from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub supplier_id: Option<SupplierId>,
    /// Below this quantity the product is low and owners and managers are told (0: never).
    #[serde(default)]
    pub minimum_quantity: i64,
    /// Inactive products are not sold or used; their stock stays.
    #[serde(default = "active")]
    pub active: bool,
}

fn default_unit() -> String {
    "unit".into()
}

fn active() -> bool {
    true
}

impl ProductDefinition {
    /// Field rules.
    pub fn validate(self) -> Result<ProductDefinition, Invalid> {
        let mut errors = Invalid::default();
        let mut text = |value: &str, max: usize, field: &str, required: bool| {
            let checked =
                if required { check_required_text(value, max, field) } else { check_text(value, max, field) };
            checked.map_err(|e| errors.merge(e)).unwrap_or_default()
        };
        let title = text(&self.title, 200, "title", true);
        let sku = text(&self.sku, 64, "sku", true);
        let unit = text(&self.unit, 20, "unit", true);
        let serial_number = self
            .serial_number
            .as_deref()
            .map(|s| text(s, 64, "serial_number", false))
            .filter(|s| !s.is_empty());
        for (amount, field) in
            [(self.cost_price_minor, "cost_price_minor"), (self.sell_price_minor, "sell_price_minor")]
        {
            if let Err(e) = check_amount(amount, field) {
                errors.merge(e);
            }
        }
        errors.check(
            (0..=MAX_QUANTITY).contains(&self.minimum_quantity),
            "minimum_quantity",
            format!("must be between 0 and {MAX_QUANTITY}"),
        );
        errors.check(self.model_id.is_none() || self.brand_id.is_some(), "model_id", "needs brand_id");
        errors.check(sku.chars().all(|c| c != '#'), "sku", "must not contain #");
        errors.into_result()?;
        Ok(ProductDefinition { title, sku, serial_number, unit, ..self })
    }

    /// The catalogue entries it refers to.
    fn references(&self, studio: &StudioId) -> Vec<(Key, &'static str)> {
        let mut keys = Vec::new();
        if let Some(id) = &self.category_id {
            keys.push((catalogue::key::<CategoryDefinition>(studio, id), "category"));
        }
        if let Some(id) = &self.brand_id {
            keys.push((catalogue::key::<BrandDefinition>(studio, id), "brand"));
        }
        if let Some(id) = &self.supplier_id {
            keys.push((catalogue::key::<SupplierDefinition>(studio, id), "supplier"));
        }
        if let Some(id) = &self.model_id {
            keys.push((catalogue::key::<ProductModelDefinition>(studio, id), "product model"));
        }
        keys
    }
}

/// A product as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    /// Id.
    pub id: ProductId,
    /// The studio.
    pub studio_id: StudioId,
    /// The definition.
    #[serde(flatten)]
    pub definition: ProductDefinition,
    /// The studio's currency when it was created: the prices' and the value's.
    pub currency: Currency,
    /// Units on hand.
    pub quantity: i64,
    /// Their value at cost (moving average), minor units.
    pub value_minor: i64,
    /// Whether it is below its minimum (set by the movement that took it there).
    pub low: bool,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
    /// Version, for `If-Match`; every movement moves it too.
    pub version: i64,
}

/// A product as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProductView {
    /// Id.
    #[schema(value_type = String)]
    pub id: ProductId,
    /// The definition.
    #[serde(flatten)]
    pub definition: ProductDefinition,
    /// Currency of prices and value.
    #[schema(value_type = String)]
    pub currency: Currency,
    /// Units on hand.
    pub quantity: i64,
    /// Their value at cost, minor units (moving average cost; docs/inventory.md).
    pub value_minor: i64,
    /// Average unit cost, rounded (absent when none is on hand).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub average_cost_minor: Option<i64>,
    /// Below its minimum.
    pub low: bool,
    /// Created.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Last changed.
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
    /// Version, for `If-Match`.
    pub version: i64,
}

impl Product {
    /// Its stock.
    pub fn stock(&self) -> Stock {
        Stock { quantity: self.quantity, value_minor: self.value_minor }
    }

    /// The API's view.
    pub fn view(&self) -> ProductView {
        ProductView {
            id: self.id.clone(),
            definition: self.definition.clone(),
            currency: self.currency.clone(),
            quantity: self.quantity,
            value_minor: self.value_minor,
            average_cost_minor: self.stock().average_cost_minor(),
            low: self.low,
            created_at: self.created_at,
            updated_at: self.updated_at,
            version: self.version,
        }
    }

    /// The stored item, listed by title and SKU.
    pub fn to_item(&self) -> Result<Item, atelier_platform::store::StoreError> {
        let index = products_index(&self.studio_id);
        Ok(Item::from_record(&product_key(&self.studio_id, &self.id), self)?
            .with(attr::GSI1PK, index.clone())
            .with(attr::GSI1SK, format!("{}#{}", folded(&self.definition.title), self.id))
            .with(attr::GSI2PK, index)
            .with(attr::GSI2SK, format!("{}#{}", folded(&self.definition.sku), self.id)))
    }
}

/// Key of a product.
pub fn product_key(studio: &StudioId, product: &ProductId) -> Key {
    inventory_item(studio, format!("PRODUCT#{product}"))
}

fn sku_key(studio: &StudioId, sku: &str) -> Key {
    inventory_item(studio, format!("SKU#{}", folded(sku)))
}

fn serial_key(studio: &StudioId, serial: &str) -> Key {
    inventory_item(studio, format!("SERIAL#{}", folded(serial)))
}

/// A product of the studio (consistent read: decisions on stock are made on it).
pub async fn load(platform: &Platform, studio: &StudioId, product: &ProductId) -> Result<Product, AppError> {
    crate::read(platform, &product_key(studio, product)).await?.ok_or(AppError::NotFound("product"))
}

/// Creates a product with no stock (managers); stock comes in with movements.
pub async fn create(
    platform: &Platform,
    actor: Actor<'_>,
    definition: ProductDefinition,
) -> Result<Product, AppError> {
    match create_with(platform, actor, definition, None::<Box<GuardFn>>).await? {
        Guarded::Done(product) => Ok(product),
        Guarded::AlreadyDone => Err(AppError::Internal("an unguarded create found a guard".into())),
    }
}

/// Creates a product in one transaction with `guard`, a create-only marker: if the marker
/// exists, nothing is written (an import row applied once, whatever the reruns). `guard` gets
/// the new product's id.
pub async fn create_guarded(
    platform: &Platform,
    actor: Actor<'_>,
    definition: ProductDefinition,
    guard: impl FnOnce(&str) -> Result<WriteOp, atelier_platform::store::StoreError> + Send + 'static,
) -> Result<Guarded<Product>, AppError> {
    create_with(platform, actor, definition, Some(Box::new(guard))).await
}

/// The product whose SKU this is (case-insensitive), if any.
pub async fn by_sku(
    platform: &Platform,
    studio: &StudioId,
    sku: &str,
) -> Result<Option<ProductId>, AppError> {
    Ok(platform
        .store
        .get(&sku_key(studio, sku))
        .await?
        .map(|i| i.string("product_id").map(ProductId::new))
        .transpose()?)
}

type GuardFn = dyn FnOnce(&str) -> Result<WriteOp, atelier_platform::store::StoreError> + Send;

async fn create_with(
    platform: &Platform,
    actor: Actor<'_>,
    definition: ProductDefinition,
    guard: Option<Box<GuardFn>>,
) -> Result<Guarded<Product>, AppError> {
    let definition = definition.validate()?;
    let studio = atelier_studios::get(platform, actor.studio_id()).await?;
    let now = platform.clock.now();
    let low = is_low(0, definition.minimum_quantity);
    let product = Product {
        id: ProductId::new(platform.ids.new_id()),
        studio_id: studio.id.clone(),
        definition,
        currency: Currency::parse(&studio.profile.currency, "currency")?,
        quantity: 0,
        value_minor: 0,
        // Below a minimum from the start: listed as low, without an alert (nothing fell).
        low,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let mut tx = Tx::new();
    if let Some(guard) = guard {
        tx.push(guard(product.id.as_str())?, Part::Guard);
    }
    tx.push(WriteOp::create(product.to_item()?), Part::Other);
    unique_writes(&mut tx, &product, None);
    references(&mut tx, &studio.id, &product.definition);
    if product.low {
        tx.push(crate::movements::low_count(&studio.id, 1), Part::Other);
    }
    tx.push(
        actor.audit(
            platform,
            "inventory.product_created",
            "product",
            &product.id,
            serde_json::to_value(&product.definition).unwrap_or_default(),
        )?,
        Part::Other,
    );
    match tx.commit(platform).await {
        Ok(()) => Ok(Guarded::Done(product)),
        Err(Failure::Condition(Part::Guard)) => Ok(Guarded::AlreadyDone),
        Err(f) => Err(f.into_error()),
    }
}

/// The uniqueness items of a product's SKU and serial number, moved when they change.
fn unique_writes(tx: &mut Tx, product: &Product, before: Option<&ProductDefinition>) {
    let studio = &product.studio_id;
    let owner = |key: &Key| WriteOp::create(Item::new(key).with("product_id", product.id.to_string()));
    let d = &product.definition;
    if before.is_none_or(|b| folded(&b.sku) != folded(&d.sku)) {
        tx.push(owner(&sku_key(studio, &d.sku)), Part::Sku);
        if let Some(b) = before {
            tx.push(WriteOp::delete(sku_key(studio, &b.sku)), Part::Other);
        }
    }
    let old_serial = before.and_then(|b| b.serial_number.as_deref()).map(folded);
    let new_serial = d.serial_number.as_deref().map(folded);
    if old_serial != new_serial {
        if let Some(serial) = &d.serial_number {
            tx.push(owner(&serial_key(studio, serial)), Part::Serial);
        }
        if let Some(serial) = before.and_then(|b| b.serial_number.as_deref()) {
            tx.push(WriteOp::delete(serial_key(studio, serial)), Part::Other);
        }
    }
}

/// Changes a product's definition (JSON merge patch; managers), guarded by its version; its
/// stock is changed only by movements.
pub async fn update(
    platform: &Platform,
    actor: Actor<'_>,
    product_id: &ProductId,
    patch: &serde_json::Value,
    expected: Option<i64>,
) -> Result<Product, AppError> {
    match update_with(platform, actor, product_id, patch, expected, None).await? {
        Guarded::Done(product) => Ok(product),
        Guarded::AlreadyDone => Err(AppError::Internal("an unguarded update found a guard".into())),
    }
}

/// Changes a product's definition in one transaction with `guard` (see [`create_guarded`]).
pub async fn update_guarded(
    platform: &Platform,
    actor: Actor<'_>,
    product_id: &ProductId,
    patch: &serde_json::Value,
    guard: WriteOp,
) -> Result<Guarded<Product>, AppError> {
    update_with(platform, actor, product_id, patch, None, Some(guard)).await
}

async fn update_with(
    platform: &Platform,
    actor: Actor<'_>,
    product_id: &ProductId,
    patch: &serde_json::Value,
    expected: Option<i64>,
    guard: Option<WriteOp>,
) -> Result<Guarded<Product>, AppError> {
    // Every movement moves the version too: without `If-Match`, a movement that slipped in is
    // no reason to refuse a change of the definition, so it is applied again to what is there.
    for _ in 0..5 {
        let current = load(platform, actor.studio_id(), product_id).await?;
        atelier_studios::check_precondition(expected, current.version)?;
        let definition = atelier_studios::patched(&current.definition, patch)?.validate()?;
        let mut product = Product {
            definition,
            updated_at: platform.clock.now(),
            version: current.version + 1,
            ..current.clone()
        };
        // A new minimum may make the product low or not, at once (no alert: nothing fell).
        product.low = is_low(product.quantity, product.definition.minimum_quantity);
        let mut tx = Tx::new();
        tx.extend(guard.clone(), Part::Guard);
        tx.push(WriteOp::put(product.to_item()?).when(Condition::version_is(current.version)), Part::Product);
        unique_writes(&mut tx, &product, Some(&current.definition));
        references(&mut tx, actor.studio_id(), &product.definition);
        if current.low != product.low {
            tx.push(
                crate::movements::low_count(actor.studio_id(), if product.low { 1 } else { -1 }),
                Part::Other,
            );
        }
        let changes = serde_json::json!({ "from": current.definition, "to": product.definition });
        tx.push(
            actor.audit(platform, "inventory.product_updated", "product", product_id, changes)?,
            Part::Other,
        );
        match tx.commit(platform).await {
            Ok(()) => return Ok(Guarded::Done(product)),
            Err(Failure::Condition(Part::Guard)) => return Ok(Guarded::AlreadyDone),
            Err(Failure::Condition(Part::Product)) if expected.is_some() => {
                return Err(AppError::PreconditionFailed);
            }
            Err(Failure::Condition(Part::Product)) => continue,
            Err(f) => return Err(f.into_error()),
        }
    }
    Err(AppError::Conflict(
        atelier_platform::error::CHANGED_MEANWHILE,
        "the product kept changing; try again".into(),
    ))
}

/// Checks that what a product refers to exists (a model, that it is the brand's).
fn references(tx: &mut Tx, studio: &StudioId, definition: &ProductDefinition) {
    for (key, what) in definition.references(studio) {
        match (what, &definition.brand_id) {
            ("product model", Some(brand)) => tx.push(
                WriteOp::check(key, Condition::eq("brand_id", brand.to_string())),
                Part::Reference("product model of that brand"),
            ),
            _ => tx.push(WriteOp::check(key, Condition::Exists), Part::Reference(what)),
        };
    }
}

/// Filters and search of a studio's products.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProductFilter {
    /// Titles starting with this (case-insensitive).
    pub q: Option<String>,
    /// SKUs starting with this (case-insensitive); lists by SKU.
    pub sku: Option<String>,
    /// Only this category.
    #[param(value_type = Option<String>)]
    pub category_id: Option<CategoryId>,
    /// Only this brand.
    #[param(value_type = Option<String>)]
    pub brand_id: Option<BrandId>,
    /// Only this supplier.
    #[param(value_type = Option<String>)]
    pub supplier_id: Option<SupplierId>,
    /// Only products below (`true`) or not below (`false`) their minimum.
    pub low: Option<bool>,
    /// Only active (`true`) or inactive (`false`) products.
    pub active: Option<bool>,
}

impl ProductFilter {
    fn keeps(&self, p: &Product) -> bool {
        let d = &p.definition;
        self.category_id.as_ref().is_none_or(|c| d.category_id.as_ref() == Some(c))
            && self.brand_id.as_ref().is_none_or(|b| d.brand_id.as_ref() == Some(b))
            && self.supplier_id.as_ref().is_none_or(|s| d.supplier_id.as_ref() == Some(s))
            && self.low.is_none_or(|low| p.low == low)
            && self.active.is_none_or(|a| d.active == a)
    }
}

/// A page of products by title (or by SKU when searching SKUs), filtered; the filters are
/// applied to the studio's product index, reading at most 10 index pages per request (a short
/// page with a cursor means: go on).
pub async fn list(
    platform: &Platform,
    studio: &StudioId,
    filter: &ProductFilter,
    page: impl FnOnce(Query) -> Result<Query, AppError>,
) -> Result<(Vec<Product>, Option<Cursor>), AppError> {
    let by_sku = filter.sku.is_some();
    let mut query =
        Query::partition(products_index(studio)).on(if by_sku { Index::Gsi2 } else { Index::Gsi1 });
    let prefix = if by_sku { filter.sku.as_deref() } else { filter.q.as_deref() };
    if let Some(prefix) = prefix.map(folded).filter(|p| !p.is_empty()) {
        if prefix.chars().count() > 200 {
            return Err(
                Invalid::field(if by_sku { "sku" } else { "q" }, "must be at most 200 characters").into()
            );
        }
        query = query.sort(SortKey::BeginsWith(prefix));
    }
    let title = (by_sku && filter.q.is_some()).then(|| filter.q.as_deref().map(folded).unwrap_or_default());
    let keep = |item: &Item| {
        item.to_record::<Product>().is_ok_and(|p| {
            filter.keeps(&p)
                && title.as_ref().is_none_or(|t| folded(&p.definition.title).starts_with(t.as_str()))
        })
    };
    let found = platform.store.query_filtered(page(query)?, keep, 10).await?;
    let products = found.items.iter().map(Item::to_record).collect::<Result<Vec<Product>, _>>()?;
    Ok((products, found.next))
}
