//! The `payments` endpoint group: checkout of a booking's deposit or balance, confirming a
//! payment, payments taken in person, refunds, the ledger and balances, receipts, the
//! reconciliation's drifts, and the provider's webhook (public, signed).

use atelier_bookings::deposits::PaymentDue;
use atelier_bookings::routes::{BookingPath, ClientPath};
use atelier_domain::ids::{ClientId, PaymentId, StudioId};
use atelier_domain::payments::PaymentStatus;
use atelier_http::AppState;
use atelier_http::access::{InStudio, Manager, Member};
use atelier_http::extract::{Json, Path, Query as QueryParams, StudioPath};
use atelier_http::idempotency::{IdempotencyHeader, Stored};
use atelier_http::pagination::{Page, PageParams};
use atelier_http::problem::{ApiError, Problem};
use atelier_platform::AppError;
use atelier_platform::idempotency::Outcome;
use atelier_platform::store::{Index, Item, Query, SortKey};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::in_person::{self, InPersonPayment};
use crate::intents::{self, ConfirmRequest};
use crate::ledger::{self, Balance, LedgerEntry};
use crate::reconciliation::{self, Drift};
use crate::refunds::{self, Refund, RefundRequest};
use crate::webhooks::{self, Receipt};
use crate::{Payment, PaymentView, Purpose, checkout};

type Result<T> = std::result::Result<T, ApiError>;

/// A payment of a studio.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct PaymentPath {
    /// The studio.
    #[param(value_type = String)]
    pub studio_id: StudioId,
    /// The payment.
    #[param(value_type = String)]
    pub payment_id: PaymentId,
}

/// A payment provider.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ProviderPath {
    /// `stripe` or `mock`: the deployment's provider.
    pub provider: String,
}

/// What to pay for.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    /// `deposit` (a held booking) or `balance` (a confirmed or completed one).
    pub purpose: Purpose,
}

/// Starts (or finds) the online payment of a booking's deposit or balance: what the client's
/// device pays with. The same booking and purpose always get the same payment.
#[utoipa::path(post, path = "/v1/studios/{studio_id}/bookings/{booking_id}/checkout", tag = "payments", security(("bearer" = [])), params(BookingPath),
    request_body = CheckoutRequest,
    responses((status = 200, body = PaymentDue), (status = "4XX", body = Problem, content_type = "application/problem+json"), (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn start_checkout(
    State(state): State<AppState>,
    caller: InStudio,
    Path(path): Path<BookingPath>,
    Json(request): Json<CheckoutRequest>,
) -> Result<Json<PaymentDue>> {
    Ok(Json(checkout::for_caller(&state.platform, caller.actor(), &path.booking_id, request.purpose).await?))
}

/// Records a payment taken at the studio (staff): cash or the card terminal, at most what the
/// booking owes.
#[utoipa::path(post, path = "/v1/studios/{studio_id}/bookings/{booking_id}/payments", tag = "payments", security(("bearer" = [])), params(BookingPath),
    request_body = InPersonPayment,
    responses((status = 201, body = PaymentView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn record_in_person(
    State(state): State<AppState>,
    caller: InStudio,
    Path(path): Path<BookingPath>,
    Json(request): Json<InPersonPayment>,
) -> Result<(StatusCode, Json<PaymentView>)> {
    Ok((
        StatusCode::CREATED,
        Json(in_person::record(&state.platform, caller.actor(), &path.booking_id, &request).await?),
    ))
}

/// A booking's payments and balance.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BookingMoney {
    /// Its payments, oldest first.
    pub items: Vec<PaymentView>,
    /// Pass as `cursor` for more payments (a booking has few).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// Received and returned, from the ledger, per currency.
    pub balances: Vec<Balance>,
    /// What the booking still owes of its price (0 once paid or when it is cancelled).
    pub owed_minor: i64,
}

/// A booking's payments and balance (its client, its professional, managers).
#[utoipa::path(get, path = "/v1/studios/{studio_id}/bookings/{booking_id}/payments", tag = "payments", security(("bearer" = [])), params(BookingPath, PageParams),
    responses((status = 200, body = BookingMoney), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn booking_payments(
    State(state): State<AppState>,
    caller: InStudio,
    Path(path): Path<BookingPath>,
    QueryParams(page): QueryParams<PageParams>,
) -> Result<Json<BookingMoney>> {
    let platform = &state.platform;
    let booking = atelier_bookings::load(platform, &caller.access.studio_id, &path.booking_id).await?;
    atelier_bookings::relation(&caller.access, &booking)?;
    let payments = crate::of_booking(platform, &booking.studio_id, &booking.id).await?;
    let balances = ledger::balances(&ledger::of_booking(platform, &booking.studio_id, &booking.id).await?);
    // What is owed comes from the item every movement adds to, read consistently (the ledger's
    // index may lag a movement that just committed).
    let (net, _) = crate::booking_money(platform, &booking.studio_id, &booking.id).await?;
    let owed_minor = if booking.status.holds_time()
        || booking.status == atelier_domain::bookings::BookingStatus::Completed
    {
        (booking.price_minor - net).max(0)
    } else {
        0
    };
    let views = payments.iter().map(Payment::view).collect();
    // Oldest first: created instant, then id.
    let page = page.slice(views, |p: &PaymentView| {
        format!("{}#{}", atelier_bookings::sort_instant(p.created_at), p.id)
    })?;
    Ok(Json(BookingMoney { items: page.items, next_cursor: page.next_cursor, balances, owed_minor }))
}

/// Filters of a studio's payments.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PaymentFilter {
    /// From this instant (RFC 3339) or date (`YYYY-MM-DD`, the studio's midnight), by creation.
    pub from: Option<String>,
    /// Before this instant or date (a date includes that whole day).
    pub to: Option<String>,
    /// Only this status.
    pub status: Option<PaymentStatus>,
}

async fn bounds(
    state: &AppState,
    studio_id: &StudioId,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<Option<SortKey>> {
    Ok(atelier_bookings::period(&state.platform, studio_id, from, to).await?)
}

/// A studio's payments by creation time and status (managers).
#[utoipa::path(get, path = "/v1/studios/{studio_id}/payments", tag = "payments", security(("bearer" = [])), params(StudioPath, PaymentFilter, PageParams),
    responses((status = 200, body = inline(Page<PaymentView>)), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn list_payments(
    State(state): State<AppState>,
    member: Member<Manager>,
    QueryParams(filter): QueryParams<PaymentFilter>,
    QueryParams(page): QueryParams<PageParams>,
) -> Result<Json<Page<PaymentView>>> {
    let studio_id = &member.access.studio_id;
    let mut query = Query::partition(crate::studio_payments(studio_id)).on(Index::Gsi1);
    if let Some(sort) = bounds(&state, studio_id, filter.from.as_deref(), filter.to.as_deref()).await? {
        query = query.sort(sort);
    }
    let status = filter.status;
    let keep = move |item: &Item| status.is_none_or(|s| item.string("status").is_ok_and(|v| v == s.as_str()));
    let found =
        state.platform.store.query_filtered(page.apply(query)?, keep, 10).await.map_err(AppError::from)?;
    let payments: Vec<Payment> = found
        .items
        .iter()
        .map(Item::to_record)
        .collect::<std::result::Result<_, _>>()
        .map_err(AppError::from)?;
    Ok(Json(Page::new(payments.iter().map(Payment::view).collect(), found.next)))
}

/// A payment with its refunds.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentDetail {
    /// The payment.
    #[serde(flatten)]
    pub payment: PaymentView,
    /// Its refunds, oldest first.
    pub refunds: Vec<Refund>,
}

/// A payment with its refunds (its booking's client, professional, managers).
#[utoipa::path(get, path = "/v1/studios/{studio_id}/payments/{payment_id}", tag = "payments", security(("bearer" = [])), params(PaymentPath),
    responses((status = 200, body = PaymentDetail), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn get_payment(
    State(state): State<AppState>,
    caller: InStudio,
    Path(path): Path<PaymentPath>,
) -> Result<Json<PaymentDetail>> {
    let payment = intents::visible(&state.platform, caller.actor(), &path.payment_id).await?;
    let refunds = refunds::of_payment(&state.platform, &payment).await?;
    Ok(Json(PaymentDetail { payment: payment.view(), refunds }))
}

/// Pays an online payment with a payment method (server-side confirmation; a front end may use
/// the client secret with the provider's own library instead). A decline is a 402 and leaves
/// the booking held.
#[utoipa::path(post, path = "/v1/studios/{studio_id}/payments/{payment_id}/confirm", tag = "payments", security(("bearer" = [])), params(PaymentPath),
    request_body = ConfirmRequest,
    responses((status = 200, body = PaymentView), (status = 402, body = Problem, content_type = "application/problem+json"), (status = "4XX", body = Problem, content_type = "application/problem+json"), (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn confirm_payment(
    State(state): State<AppState>,
    caller: InStudio,
    Path(path): Path<PaymentPath>,
    Json(request): Json<ConfirmRequest>,
) -> Result<Json<PaymentView>> {
    Ok(Json(intents::confirm(&state.platform, caller.actor(), &path.payment_id, &request).await?))
}

/// A receipt.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentReceipt {
    /// The payment.
    #[schema(value_type = String)]
    pub payment_id: PaymentId,
    /// The studio's name.
    pub studio: String,
    /// The client's name.
    pub client: String,
    /// The service.
    pub service: String,
    /// Its start, in the studio's zone.
    pub start_local: String,
    /// What for.
    pub purpose: Purpose,
    /// How it was paid.
    pub method: crate::Method,
    /// Received, in minor units.
    pub received_minor: i64,
    /// Refunded so far (succeeded refunds).
    pub refunded_minor: i64,
    /// Currency.
    pub currency: String,
    /// For people: `EUR 30.00`.
    pub received_text: String,
    /// When it was received.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub received_at: Option<jiff::Timestamp>,
    /// The provider's or terminal's reference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// The receipt of a payment received (its booking's client, professional, managers).
#[utoipa::path(get, path = "/v1/studios/{studio_id}/payments/{payment_id}/receipt", tag = "payments", security(("bearer" = [])), params(PaymentPath),
    responses((status = 200, body = PaymentReceipt), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn receipt(
    State(state): State<AppState>,
    caller: InStudio,
    Path(path): Path<PaymentPath>,
) -> Result<Json<PaymentReceipt>> {
    let platform = &state.platform;
    let payment = intents::visible(platform, caller.actor(), &path.payment_id).await?;
    if payment.status != PaymentStatus::Succeeded {
        return Err(ApiError(AppError::Conflict(
            crate::conflicts::PAYMENT_NOT_RECEIVED,
            "a receipt is issued once the payment is received".into(),
        )));
    }
    let booking = atelier_bookings::load(platform, &payment.studio_id, &payment.booking_id).await?;
    let studio = atelier_studios::get(platform, &payment.studio_id).await?;
    let refunded_minor = refunds::of_payment(platform, &payment)
        .await?
        .iter()
        .filter(|r| r.status == refunds::RefundState::Succeeded)
        .map(|r| r.amount_minor)
        .sum();
    Ok(Json(PaymentReceipt {
        payment_id: payment.id.clone(),
        studio: studio.profile.name.clone(),
        client: booking.client_name.clone(),
        service: booking.service_name.clone(),
        start_local: atelier_bookings::local_time(booking.start, &booking.time_zone),
        purpose: payment.purpose,
        method: payment.method,
        received_minor: payment.received_minor,
        refunded_minor,
        currency: payment.currency.to_string(),
        received_text: atelier_domain::money::format_amount(payment.received_minor, payment.currency.code()),
        received_at: payment.succeeded_at,
        reference: payment.reference.clone().or(payment.intent_id.clone()),
    }))
}

/// Refunds (part of) a payment (managers): never more than is left of it. Send an
/// `Idempotency-Key` to make retries safe.
#[utoipa::path(post, path = "/v1/studios/{studio_id}/payments/{payment_id}/refunds", tag = "payments", security(("bearer" = [])), params(PaymentPath,
        ("Idempotency-Key" = Option<String>, Header, description = "Same key and body: the same refund")),
    request_body = RefundRequest,
    responses((status = 201, body = Refund), (status = 200, body = Refund, description = "A replay"), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn refund_payment(
    State(state): State<AppState>,
    member: Member<Manager>,
    idem: IdempotencyHeader,
    Path(path): Path<PaymentPath>,
    Json(request): Json<RefundRequest>,
) -> Result<Stored> {
    let key = idem.bind(
        &member.access.studio_id,
        &member.who.user.id,
        &format!("POST payments/{}/refunds", path.payment_id),
        &request,
    )?;
    let (created, refund) =
        refunds::request(&state.platform, member.actor(), &path.payment_id, &request, key).await?;
    let body = serde_json::to_value(&refund).map_err(|e| AppError::failed("encoding a refund", e))?;
    Ok(Stored::new(Outcome { created, body }))
}

/// Ledger filters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LedgerFilter {
    /// From this instant or date.
    pub from: Option<String>,
    /// Before this instant or date (a date includes that whole day).
    pub to: Option<String>,
}

/// A studio's ledger by time (managers): every charge and refund, with who caused it.
#[utoipa::path(get, path = "/v1/studios/{studio_id}/ledger", tag = "payments", security(("bearer" = [])), params(StudioPath, LedgerFilter, PageParams),
    responses((status = 200, body = inline(Page<LedgerEntry>)), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn studio_ledger(
    State(state): State<AppState>,
    member: Member<Manager>,
    QueryParams(filter): QueryParams<LedgerFilter>,
    QueryParams(page): QueryParams<PageParams>,
) -> Result<Json<Page<LedgerEntry>>> {
    let studio_id = &member.access.studio_id;
    let mut query = Query::partition(ledger::ledger_partition(studio_id));
    if let Some(sort) = bounds(&state, studio_id, filter.from.as_deref(), filter.to.as_deref()).await? {
        query = query.sort(sort);
    }
    let found = state.platform.store.query(&page.apply(query)?).await.map_err(AppError::from)?;
    let entries = found
        .items
        .iter()
        .map(Item::to_record)
        .collect::<std::result::Result<_, _>>()
        .map_err(AppError::from)?;
    Ok(Json(Page::new(entries, found.next)))
}

/// A client's money with the studio.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClientBalance {
    /// The client.
    #[schema(value_type = String)]
    pub client_id: ClientId,
    /// Received and returned, per currency.
    pub balances: Vec<Balance>,
}

/// A client's balance with the studio, from the ledger (managers).
#[utoipa::path(get, path = "/v1/studios/{studio_id}/clients/{client_id}/balance", tag = "payments", security(("bearer" = [])), params(ClientPath),
    responses((status = 200, body = ClientBalance), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn client_balance(
    State(state): State<AppState>,
    member: Member<Manager>,
    Path(path): Path<ClientPath>,
) -> Result<Json<ClientBalance>> {
    atelier_studios::clients::get(&state.platform, &member.access.studio_id, &path.client_id).await?;
    let entries = ledger::of_client(&state.platform, &member.access.studio_id, &path.client_id).await?;
    Ok(Json(ClientBalance { client_id: path.client_id, balances: ledger::balances(&entries) }))
}

/// The differences the reconciliation found.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DriftList {
    /// Oldest first.
    pub items: Vec<Drift>,
    /// Pass as `cursor` for more drifts (they are few).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// What the reconciliation found different between the provider and the ledger (managers).
#[utoipa::path(get, path = "/v1/studios/{studio_id}/payment-drifts", tag = "payments", security(("bearer" = [])), params(StudioPath, PageParams),
    responses((status = 200, body = DriftList), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn payment_drifts(
    State(state): State<AppState>,
    member: Member<Manager>,
    QueryParams(page): QueryParams<PageParams>,
) -> Result<Json<DriftList>> {
    let items = reconciliation::drifts(&state.platform, &member.access.studio_id).await?;
    let page = page.slice(items, |d: &Drift| {
        format!("{}#{}#{}", atelier_bookings::sort_instant(d.detected_at), d.intent_id, d.kind as u8)
    })?;
    Ok(Json(DriftList { items: page.items, next_cursor: page.next_cursor }))
}

/// The provider's webhook: the raw body with its `Stripe-Signature`, verified before it is
/// read; each event applied once. 400: the signature does not verify (nothing done); 5xx:
/// processing failed (the provider retries).
#[utoipa::path(post, path = "/v1/payments/webhooks/{provider}", tag = "public", params(ProviderPath,
        ("Stripe-Signature" = String, Header, description = "`t=<seconds>,v1=<hex HMAC-SHA256 of \"t.body\">`")),
    request_body(content = String, content_type = "application/json", description = "A provider event, exactly as sent"),
    responses((status = 200, body = Receipt), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn provider_webhook(
    State(state): State<AppState>,
    Path(path): Path<ProviderPath>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Receipt>> {
    let signature = headers.get("stripe-signature").and_then(|v| v.to_str().ok());
    Ok(Json(webhooks::receive(&state.platform, &path.provider, signature, &body).await?))
}

/// The group's routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start_checkout))
        .routes(routes!(record_in_person, booking_payments))
        .routes(routes!(list_payments))
        .routes(routes!(get_payment))
        .routes(routes!(confirm_payment))
        .routes(routes!(receipt))
        .routes(routes!(refund_payment))
        .routes(routes!(studio_ledger))
        .routes(routes!(client_balance))
        .routes(routes!(payment_drifts))
        .routes(routes!(provider_webhook))
}
