//! The `inventory` endpoint group: the catalogue (categories, brands, product models,
//! suppliers), products with search and filters, stock movements, valuation, what services
//! use, and sales.

use atelier_domain::ids::{BrandId, CategoryId, ProductId, ProductModelId, SaleId, StudioId, SupplierId};
use atelier_http::AppState;
use atelier_http::access::{AnyMember, Manager, Member};
use atelier_http::extract::{Json, Path, Query as QueryParams, StudioPath};
use atelier_http::idempotency::{IdempotencyHeader, Stored};
use atelier_http::pagination::{Page, PageParams};
use atelier_http::problem::{ApiError, Problem};
use atelier_http::versions::{Created, IfMatch, Tagged};
use atelier_platform::AppError;
use atelier_platform::idempotency::Outcome;
use atelier_platform::store::{Index, Item, Query};
use atelier_studios::routes::ServicePath;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::catalogue::{
    self, Brand, BrandDefinition, Category, CategoryDefinition, ProductModel, ProductModelDefinition,
    Supplier, SupplierDefinition,
};
use crate::movements::{self, Movement, MovementRequest};
use crate::products::{self, ProductDefinition, ProductFilter, ProductView};
use crate::sales::{self, Sale, SaleRequest};
use crate::usage::{self, ServiceUsage, StoredUsage};

type Result<T> = std::result::Result<T, ApiError>;

macro_rules! entity_path {
    ($(#[$doc:meta])* $name:ident { $field:ident: $id:ty, $what:literal }) => {
        $(#[$doc])*
        #[derive(Debug, Deserialize, IntoParams)]
        #[into_params(parameter_in = Path)]
        pub struct $name {
            /// The studio.
            #[param(value_type = String)]
            pub studio_id: StudioId,
            #[doc = $what]
            #[param(value_type = String)]
            pub $field: $id,
        }
    };
}

entity_path!(
    /// A product category of a studio.
    CategoryPath { category_id: CategoryId, "The category." }
);
entity_path!(
    /// A brand of a studio's catalogue.
    BrandPath { brand_id: BrandId, "The brand." }
);
entity_path!(
    /// A product model of a studio's catalogue.
    ProductModelPath { model_id: ProductModelId, "The product model." }
);
entity_path!(
    /// A supplier of a studio.
    SupplierPath { supplier_id: SupplierId, "The supplier." }
);
entity_path!(
    /// A product of a studio.
    ProductPath { product_id: ProductId, "The product." }
);
entity_path!(
    /// A sale of a studio.
    SalePath { sale_id: SaleId, "The sale." }
);

/// Model filters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ModelFilter {
    /// Only this brand's models.
    #[param(value_type = Option<String>)]
    pub brand_id: Option<BrandId>,
}

fn created<E: catalogue::Entry>(studio: &StudioId, collection: &str, entry: E) -> Created<E> {
    Created(format!("/v1/studios/{studio}/{collection}/{}", entry.id()), entry.version(), entry)
}

/// Creates a product category (managers).
#[utoipa::path(post, path = "/v1/studios/{studio_id}/product-categories", tag = "inventory", security(("bearer" = [])), params(StudioPath),
    request_body = CategoryDefinition,
    responses((status = 201, body = Category), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn create_category(
    State(state): State<AppState>,
    member: Member<Manager>,
    Json(body): Json<CategoryDefinition>,
) -> Result<Created<Category>> {
    let entry: Category = catalogue::create(&state.platform, member.actor(), body).await?;
    Ok(created(&member.access.studio_id, "product-categories", entry))
}

/// The studio's product categories (members).
#[utoipa::path(get, path = "/v1/studios/{studio_id}/product-categories", tag = "inventory", security(("bearer" = [])), params(StudioPath, PageParams),
    responses((status = 200, body = inline(Page<Category>)), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn list_categories(
    State(state): State<AppState>,
    member: Member<AnyMember>,
    QueryParams(page): QueryParams<PageParams>,
) -> Result<Json<Page<Category>>> {
    let (items, next) =
        catalogue::list(&state.platform, &member.access.studio_id, |q| page.apply(q), |_: &Category| true)
            .await?;
    Ok(Json(Page::new(items, next)))
}

/// Changes a category (managers; JSON merge patch; `If-Match` recommended).
#[utoipa::path(patch, path = "/v1/studios/{studio_id}/product-categories/{category_id}", tag = "inventory", security(("bearer" = [])), params(CategoryPath),
    request_body(content = CategoryDefinition, description = "Any subset (JSON merge patch)"),
    responses((status = 200, body = Category), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn update_category(
    State(state): State<AppState>,
    member: Member<Manager>,
    Path(path): Path<CategoryPath>,
    IfMatch(expected): IfMatch,
    Json(patch): Json<serde_json::Value>,
) -> Result<Tagged<Category>> {
    let entry: Category =
        catalogue::update(&state.platform, member.actor(), &path.category_id, &patch, expected).await?;
    Ok(Tagged(entry.version, entry))
}

/// Creates a brand (managers).
#[utoipa::path(post, path = "/v1/studios/{studio_id}/brands", tag = "inventory", security(("bearer" = [])), params(StudioPath),
    request_body = BrandDefinition,
    responses((status = 201, body = Brand), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn create_brand(
    State(state): State<AppState>,
    member: Member<Manager>,
    Json(body): Json<BrandDefinition>,
) -> Result<Created<Brand>> {
    let entry: Brand = catalogue::create(&state.platform, member.actor(), body).await?;
    Ok(created(&member.access.studio_id, "brands", entry))
}

/// The studio's brands (members).
#[utoipa::path(get, path = "/v1/studios/{studio_id}/brands", tag = "inventory", security(("bearer" = [])), params(StudioPath, PageParams),
    responses((status = 200, body = inline(Page<Brand>)), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn list_brands(
    State(state): State<AppState>,
    member: Member<AnyMember>,
    QueryParams(page): QueryParams<PageParams>,
) -> Result<Json<Page<Brand>>> {
    let (items, next) =
        catalogue::list(&state.platform, &member.access.studio_id, |q| page.apply(q), |_: &Brand| true)
            .await?;
    Ok(Json(Page::new(items, next)))
}

/// Changes a brand (managers; JSON merge patch).
#[utoipa::path(patch, path = "/v1/studios/{studio_id}/brands/{brand_id}", tag = "inventory", security(("bearer" = [])), params(BrandPath),
    request_body(content = BrandDefinition, description = "Any subset (JSON merge patch)"),
    responses((status = 200, body = Brand), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn update_brand(
    State(state): State<AppState>,
    member: Member<Manager>,
    Path(path): Path<BrandPath>,
    IfMatch(expected): IfMatch,
    Json(patch): Json<serde_json::Value>,
) -> Result<Tagged<Brand>> {
    let entry: Brand =
        catalogue::update(&state.platform, member.actor(), &path.brand_id, &patch, expected).await?;
    Ok(Tagged(entry.version, entry))
}

/// Creates a brand's product model (managers).
#[utoipa::path(post, path = "/v1/studios/{studio_id}/product-models", tag = "inventory", security(("bearer" = [])), params(StudioPath),
    request_body = ProductModelDefinition,
    responses((status = 201, body = ProductModel), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn create_model(
    State(state): State<AppState>,
    member: Member<Manager>,
    Json(body): Json<ProductModelDefinition>,
) -> Result<Created<ProductModel>> {
    let entry: ProductModel = catalogue::create(&state.platform, member.actor(), body).await?;
    Ok(created(&member.access.studio_id, "product-models", entry))
}

/// The studio's product models, optionally of one brand (members).
#[utoipa::path(get, path = "/v1/studios/{studio_id}/product-models", tag = "inventory", security(("bearer" = [])), params(StudioPath, ModelFilter, PageParams),
    responses((status = 200, body = inline(Page<ProductModel>)), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn list_models(
    State(state): State<AppState>,
    member: Member<AnyMember>,
    QueryParams(filter): QueryParams<ModelFilter>,
    QueryParams(page): QueryParams<PageParams>,
) -> Result<Json<Page<ProductModel>>> {
    let keep = |m: &ProductModel| filter.brand_id.as_ref().is_none_or(|b| *b == m.definition.brand_id);
    let (items, next) =
        catalogue::list(&state.platform, &member.access.studio_id, |q| page.apply(q), keep).await?;
    Ok(Json(Page::new(items, next)))
}

/// Changes a product model (managers; JSON merge patch).
#[utoipa::path(patch, path = "/v1/studios/{studio_id}/product-models/{model_id}", tag = "inventory", security(("bearer" = [])), params(ProductModelPath),
    request_body(content = ProductModelDefinition, description = "Any subset (JSON merge patch)"),
    responses((status = 200, body = ProductModel), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn update_model(
    State(state): State<AppState>,
    member: Member<Manager>,
    Path(path): Path<ProductModelPath>,
    IfMatch(expected): IfMatch,
    Json(patch): Json<serde_json::Value>,
) -> Result<Tagged<ProductModel>> {
    let entry: ProductModel =
        catalogue::update(&state.platform, member.actor(), &path.model_id, &patch, expected).await?;
    Ok(Tagged(entry.version, entry))
}

/// Creates a supplier (managers).
#[utoipa::path(post, path = "/v1/studios/{studio_id}/suppliers", tag = "inventory", security(("bearer" = [])), params(StudioPath),
    request_body = SupplierDefinition,
    responses((status = 201, body = Supplier), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn create_supplier(
    State(state): State<AppState>,
    member: Member<Manager>,
    Json(body): Json<SupplierDefinition>,
) -> Result<Created<Supplier>> {
    let entry: Supplier = catalogue::create(&state.platform, member.actor(), body).await?;
    Ok(created(&member.access.studio_id, "suppliers", entry))
}

/// The studio's suppliers (managers).
#[utoipa::path(get, path = "/v1/studios/{studio_id}/suppliers", tag = "inventory", security(("bearer" = [])), params(StudioPath, PageParams),
    responses((status = 200, body = inline(Page<Supplier>)), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn list_suppliers(
    State(state): State<AppState>,
    member: Member<Manager>,
    QueryParams(page): QueryParams<PageParams>,
) -> Result<Json<Page<Supplier>>> {
    let (items, next) =
        catalogue::list(&state.platform, &member.access.studio_id, |q| page.apply(q), |_: &Supplier| true)
            .await?;
    Ok(Json(Page::new(items, next)))
}

/// A supplier (managers).
#[utoipa::path(get, path = "/v1/studios/{studio_id}/suppliers/{supplier_id}", tag = "inventory", security(("bearer" = [])), params(SupplierPath),
    responses((status = 200, body = Supplier), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn get_supplier(
    State(state): State<AppState>,
    member: Member<Manager>,
    Path(path): Path<SupplierPath>,
) -> Result<Tagged<Supplier>> {
    let entry: Supplier =
        catalogue::get(&state.platform, &member.access.studio_id, &path.supplier_id).await?;
    Ok(Tagged(entry.version, entry))
}

/// Changes a supplier (managers; JSON merge patch).
#[utoipa::path(patch, path = "/v1/studios/{studio_id}/suppliers/{supplier_id}", tag = "inventory", security(("bearer" = [])), params(SupplierPath),
    request_body(content = SupplierDefinition, description = "Any subset (JSON merge patch)"),
    responses((status = 200, body = Supplier), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn update_supplier(
    State(state): State<AppState>,
    member: Member<Manager>,
    Path(path): Path<SupplierPath>,
    IfMatch(expected): IfMatch,
    Json(patch): Json<serde_json::Value>,
) -> Result<Tagged<Supplier>> {
    let entry: Supplier =
        catalogue::update(&state.platform, member.actor(), &path.supplier_id, &patch, expected).await?;
    Ok(Tagged(entry.version, entry))
}

/// Creates a product, with no stock (managers): SKU and serial number unique in the studio.
#[utoipa::path(post, path = "/v1/studios/{studio_id}/products", tag = "inventory", security(("bearer" = [])), params(StudioPath),
    request_body = ProductDefinition,
    responses((status = 201, body = ProductView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn create_product(
    State(state): State<AppState>,
    member: Member<Manager>,
    Json(body): Json<ProductDefinition>,
) -> Result<Created<ProductView>> {
    let product = products::create(&state.platform, member.actor(), body).await?;
    Ok(Created(
        format!("/v1/studios/{}/products/{}", product.studio_id, product.id),
        product.version,
        product.view(),
    ))
}

/// The studio's products by title, or by SKU when `sku` is given; filtered (members).
#[utoipa::path(get, path = "/v1/studios/{studio_id}/products", tag = "inventory", security(("bearer" = [])), params(StudioPath, ProductFilter, PageParams),
    responses((status = 200, body = inline(Page<ProductView>)), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn list_products(
    State(state): State<AppState>,
    member: Member<AnyMember>,
    QueryParams(filter): QueryParams<ProductFilter>,
    QueryParams(page): QueryParams<PageParams>,
) -> Result<Json<Page<ProductView>>> {
    let (items, next) =
        products::list(&state.platform, &member.access.studio_id, &filter, |q| page.apply(q)).await?;
    Ok(Json(Page::new(items.iter().map(products::Product::view).collect(), next)))
}

/// A product with its stock (members).
#[utoipa::path(get, path = "/v1/studios/{studio_id}/products/{product_id}", tag = "inventory", security(("bearer" = [])), params(ProductPath),
    responses((status = 200, body = ProductView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn get_product(
    State(state): State<AppState>,
    member: Member<AnyMember>,
    Path(path): Path<ProductPath>,
) -> Result<Tagged<ProductView>> {
    let product = products::load(&state.platform, &member.access.studio_id, &path.product_id).await?;
    Ok(Tagged(product.version, product.view()))
}

/// Changes a product's definition (managers; JSON merge patch; `If-Match` recommended); stock
/// changes only with movements.
#[utoipa::path(patch, path = "/v1/studios/{studio_id}/products/{product_id}", tag = "inventory", security(("bearer" = [])), params(ProductPath),
    request_body(content = ProductDefinition, description = "Any subset (JSON merge patch)"),
    responses((status = 200, body = ProductView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn update_product(
    State(state): State<AppState>,
    member: Member<Manager>,
    Path(path): Path<ProductPath>,
    IfMatch(expected): IfMatch,
    Json(patch): Json<serde_json::Value>,
) -> Result<Tagged<ProductView>> {
    let product =
        products::update(&state.platform, member.actor(), &path.product_id, &patch, expected).await?;
    Ok(Tagged(product.version, product.view()))
}

/// Records a stock movement: `inflow` and `count` by managers, `outflow` by any member. Never
/// takes the quantity below zero (409 `insufficient-stock`). Send an `Idempotency-Key` to make
/// retries safe.
#[utoipa::path(post, path = "/v1/studios/{studio_id}/products/{product_id}/movements", tag = "inventory", security(("bearer" = [])), params(ProductPath,
        ("Idempotency-Key" = Option<String>, Header, description = "Same key and body: the same movement")),
    request_body = MovementRequest,
    responses((status = 201, body = Movement), (status = 200, body = Movement, description = "A replay"), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn record_movement(
    State(state): State<AppState>,
    member: Member<AnyMember>,
    idem: IdempotencyHeader,
    Path(path): Path<ProductPath>,
    Json(request): Json<MovementRequest>,
) -> Result<Stored> {
    let key = idem.bind(
        &member.access.studio_id,
        &member.who.user.id,
        &format!("POST products/{}/movements", path.product_id),
        &request,
    )?;
    let (created, movement) =
        movements::record(&state.platform, member.actor(), &path.product_id, &request, key).await?;
    let body = serde_json::to_value(&movement).map_err(|e| AppError::failed("encoding a movement", e))?;
    Ok(Stored::new(Outcome { created, body }))
}

/// Period filters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Period {
    /// From this instant (RFC 3339) or date (`YYYY-MM-DD`, the studio's midnight).
    pub from: Option<String>,
    /// Before this instant or date (a date includes that whole day).
    pub to: Option<String>,
}

fn records<T: serde::de::DeserializeOwned>(items: &[Item]) -> Result<Vec<T>> {
    Ok(items.iter().map(Item::to_record).collect::<std::result::Result<_, _>>().map_err(AppError::from)?)
}

/// A product's movements by time (members).
#[utoipa::path(get, path = "/v1/studios/{studio_id}/products/{product_id}/movements", tag = "inventory", security(("bearer" = [])), params(ProductPath, Period, PageParams),
    responses((status = 200, body = inline(Page<Movement>)), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn product_movements(
    State(state): State<AppState>,
    member: Member<AnyMember>,
    Path(path): Path<ProductPath>,
    QueryParams(period): QueryParams<Period>,
    QueryParams(page): QueryParams<PageParams>,
) -> Result<Json<Page<Movement>>> {
    let studio = &member.access.studio_id;
    products::load(&state.platform, studio, &path.product_id).await?;
    let mut query = Query::partition(movements::product_movements(studio, &path.product_id)).on(Index::Gsi1);
    if let Some(sort) =
        atelier_bookings::period(&state.platform, studio, period.from.as_deref(), period.to.as_deref())
            .await?
    {
        query = query.sort(sort);
    }
    let found = state.platform.store.query(&page.apply(query)?).await.map_err(AppError::from)?;
    Ok(Json(Page::new(records(&found.items)?, found.next)))
}

/// The studio's movements by time, every product (managers).
#[utoipa::path(get, path = "/v1/studios/{studio_id}/stock-movements", tag = "inventory", security(("bearer" = [])), params(StudioPath, Period, PageParams),
    responses((status = 200, body = inline(Page<Movement>)), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn studio_movements(
    State(state): State<AppState>,
    member: Member<Manager>,
    QueryParams(period): QueryParams<Period>,
    QueryParams(page): QueryParams<PageParams>,
) -> Result<Json<Page<Movement>>> {
    let studio = &member.access.studio_id;
    let mut query = Query::partition(movements::movements_partition(studio));
    if let Some(sort) =
        atelier_bookings::period(&state.platform, studio, period.from.as_deref(), period.to.as_deref())
            .await?
    {
        query = query.sort(sort);
    }
    let found = state.platform.store.query(&page.apply(query)?).await.map_err(AppError::from)?;
    Ok(Json(Page::new(records(&found.items)?, found.next)))
}

/// The studio's stock at cost.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Valuation {
    /// Value of everything on hand at moving average cost, minor units.
    pub value_minor: i64,
    /// Currency (absent before the first movement).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Products below their minimum.
    pub low_products: i64,
}

/// The studio's stock value at cost and its count of low products, kept by every movement
/// (managers).
#[utoipa::path(get, path = "/v1/studios/{studio_id}/inventory/valuation", tag = "inventory", security(("bearer" = [])), params(StudioPath),
    responses((status = 200, body = Valuation), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn valuation(State(state): State<AppState>, member: Member<Manager>) -> Result<Json<Valuation>> {
    let item = state
        .platform
        .store
        .get(&movements::value_key(&member.access.studio_id))
        .await
        .map_err(AppError::from)?;
    let number = |name: &str| item.as_ref().and_then(|i| i.get(name)).and_then(|v| v.as_i64()).unwrap_or(0);
    Ok(Json(Valuation {
        value_minor: number("value_minor"),
        currency: item.as_ref().and_then(|i| i.get("currency")).and_then(|v| v.as_str()).map(str::to_owned),
        low_products: number("low_products"),
    }))
}

/// What one booking of a service uses (members).
#[utoipa::path(get, path = "/v1/studios/{studio_id}/services/{service_id}/stock-usage", tag = "inventory", security(("bearer" = [])), params(ServicePath),
    responses((status = 200, body = StoredUsage), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn service_usage(
    State(state): State<AppState>,
    member: Member<AnyMember>,
    Path(path): Path<ServicePath>,
) -> Result<Json<StoredUsage>> {
    Ok(Json(usage::of_service(&state.platform, &member.access.studio_id, &path.service_id).await?))
}

/// Sets what one booking of a service uses, recorded as outflows when a booking completes
/// (managers).
#[utoipa::path(put, path = "/v1/studios/{studio_id}/services/{service_id}/stock-usage", tag = "inventory", security(("bearer" = [])), params(ServicePath),
    request_body = ServiceUsage,
    responses((status = 200, body = StoredUsage), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn set_service_usage(
    State(state): State<AppState>,
    member: Member<Manager>,
    Path(path): Path<ServicePath>,
    Json(body): Json<ServiceUsage>,
) -> Result<Json<StoredUsage>> {
    Ok(Json(usage::set(&state.platform, member.actor(), &path.service_id, body).await?))
}

/// Sells products to a client or a walk-in (members): every line's outflow, or none. Send an
/// `Idempotency-Key` to make retries safe.
#[utoipa::path(post, path = "/v1/studios/{studio_id}/sales", tag = "inventory", security(("bearer" = [])), params(StudioPath,
        ("Idempotency-Key" = Option<String>, Header, description = "Same key and body: the same sale")),
    request_body = SaleRequest,
    responses((status = 201, body = Sale), (status = 200, body = Sale, description = "A replay"), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn sell(
    State(state): State<AppState>,
    member: Member<AnyMember>,
    idem: IdempotencyHeader,
    Json(request): Json<SaleRequest>,
) -> Result<Stored> {
    let key = idem.bind(&member.access.studio_id, &member.who.user.id, "POST sales", &request)?;
    let (created, sale) = sales::sell(&state.platform, member.actor(), &request, key).await?;
    let body = serde_json::to_value(&sale).map_err(|e| AppError::failed("encoding a sale", e))?;
    let location = format!("/v1/studios/{}/sales/{}", member.access.studio_id, sale.id);
    Ok(Stored::new(Outcome { created, body }).located(|_| Some(location)))
}

/// The studio's sales by time (managers).
#[utoipa::path(get, path = "/v1/studios/{studio_id}/sales", tag = "inventory", security(("bearer" = [])), params(StudioPath, Period, PageParams),
    responses((status = 200, body = inline(Page<Sale>)), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn list_sales(
    State(state): State<AppState>,
    member: Member<Manager>,
    QueryParams(period): QueryParams<Period>,
    QueryParams(page): QueryParams<PageParams>,
) -> Result<Json<Page<Sale>>> {
    let studio = &member.access.studio_id;
    let mut query = Query::partition(sales::sales_index(studio)).on(Index::Gsi1);
    if let Some(sort) =
        atelier_bookings::period(&state.platform, studio, period.from.as_deref(), period.to.as_deref())
            .await?
    {
        query = query.sort(sort);
    }
    let found = state.platform.store.query(&page.apply(query)?).await.map_err(AppError::from)?;
    Ok(Json(Page::new(records(&found.items)?, found.next)))
}

/// A sale (managers).
#[utoipa::path(get, path = "/v1/studios/{studio_id}/sales/{sale_id}", tag = "inventory", security(("bearer" = [])), params(SalePath),
    responses((status = 200, body = Sale), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn get_sale(
    State(state): State<AppState>,
    member: Member<Manager>,
    Path(path): Path<SalePath>,
) -> Result<Json<Sale>> {
    Ok(Json(sales::get(&state.platform, &member.access.studio_id, &path.sale_id).await?))
}

/// The group's routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_category, list_categories))
        .routes(routes!(update_category))
        .routes(routes!(create_brand, list_brands))
        .routes(routes!(update_brand))
        .routes(routes!(create_model, list_models))
        .routes(routes!(update_model))
        .routes(routes!(create_supplier, list_suppliers))
        .routes(routes!(get_supplier, update_supplier))
        .routes(routes!(create_product, list_products))
        .routes(routes!(get_product, update_product))
        .routes(routes!(record_movement, product_movements))
        .routes(routes!(studio_movements))
        .routes(routes!(valuation))
        .routes(routes!(service_usage, set_service_usage))
        .routes(routes!(sell, list_sales))
        .routes(routes!(get_sale))
}
