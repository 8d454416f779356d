//! The `bookings` endpoint group: free slots, bookings and series, their changes, waitlist,
//! loyalty, calendar feeds, and the signed-in user's bookings everywhere.

use crate as bookings;
use crate::changes::{self, CancelRequest, RescheduleRequest};
use crate::create::{self, Booker, BookingRequest, SeriesOutcome, SeriesRequest};
use crate::deposits::{BookingCreated, Checkout};
use crate::feeds::{self, FeedLink, FeedSubject};
use crate::loyalty::{self, LedgerEntry, LoyaltyBalance, Redemption};
use crate::slots::{self, FreeSlots, SlotQuery};
use crate::waitlist::{self, EntryView, WaitlistRequest};
use crate::{BookingFilter, BookingView, By};
use atelier_domain::bookings::BookingStatus;
use atelier_domain::ids::{BookingId, ClientId, ServiceId, StudioId, UserId, WaitlistEntryId};
use atelier_http::idempotency::{IdempotencyHeader, Stored};
use atelier_platform::AppError;
use atelier_studios::{clients, team};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use atelier_http::AppState;
use atelier_http::access::{AnyMember, InStudio, Member, SignedIn};
use atelier_http::extract::StudioPath;
use atelier_http::extract::{Json, OptionalJson, Path, Query as QueryParams};
use atelier_http::pagination::{Page, PageParams};
use atelier_http::problem::{ApiError, Problem};
use atelier_http::versions::{IfNoneMatch, Revalidated, Tagged};

type Result<T> = std::result::Result<T, ApiError>;

/// A booking of a studio.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct BookingPath {
    /// The studio.
    #[param(value_type = String)]
    pub studio_id: StudioId,
    /// The booking.
    #[param(value_type = String)]
    pub booking_id: BookingId,
}

/// A waitlist entry.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct EntryPath {
    /// The studio.
    #[param(value_type = String)]
    pub studio_id: StudioId,
    /// The entry.
    #[param(value_type = String)]
    pub entry_id: WaitlistEntryId,
}

/// A client of a studio.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ClientPath {
    /// The studio.
    #[param(value_type = String)]
    pub studio_id: StudioId,
    /// The client.
    #[param(value_type = String)]
    pub client_id: ClientId,
}

/// A professional of a studio.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ProfessionalPath {
    /// The studio.
    #[param(value_type = String)]
    pub studio_id: StudioId,
    /// The professional.
    #[param(value_type = String)]
    pub user_id: UserId,
}

/// Filters of the caller's own bookings.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MyBookingsFilter {
    /// From this instant (RFC 3339).
    #[param(value_type = Option<String>)]
    #[serde(default, deserialize_with = "atelier_domain::time::rfc3339_option")]
    pub from: Option<jiff::Timestamp>,
    /// Before this instant.
    #[param(value_type = Option<String>)]
    #[serde(default, deserialize_with = "atelier_domain::time::rfc3339_option")]
    pub to: Option<jiff::Timestamp>,
    /// Only this status.
    pub status: Option<BookingStatus>,
}

/// A waitlist filter.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WaitlistFilter {
    /// Only this service's line.
    #[param(value_type = Option<String>)]
    pub service_id: Option<ServiceId>,
}

fn tagged(view: BookingView) -> Tagged<BookingView> {
    Tagged(view.version, view)
}

// ---------------------------------------------------------------------------------------------
// Public

/// Free start times of a service in an active studio, in the studio's zone (anyone).
#[utoipa::path(get, path = "/v1/public/studios/{studio_id}/slots", tag = "public", params(StudioPath, SlotQuery,
        ("If-None-Match" = Option<String>, Header, description = "An `ETag` of an earlier answer: 304 while it still holds")),
    responses((status = 200, body = FreeSlots, headers(("ETag" = String), ("Cache-Control" = String, description = "`public, no-cache`: keep, but revalidate"))),
        (status = 304, description = "The answer tagged `If-None-Match` still holds", headers(("ETag" = String))),
        (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn free_slots(
    State(state): State<AppState>,
    Path(path): Path<StudioPath>,
    QueryParams(query): QueryParams<SlotQuery>,
    held: IfNoneMatch,
) -> Result<Revalidated> {
    let answer = slots::free_encoded(&state.platform, &path.studio_id, &query, |tag| held.holds(tag)).await?;
    Ok(Revalidated { etag: answer.etag, cache_control: slots::CACHE_CONTROL, json: answer.json })
}

/// A calendar feed (iCalendar), at the secret address it was issued with.
#[utoipa::path(get, path = "/v1/calendar/{file}", tag = "public", params(("file" = String, Path, description = "`<token>.ics`")),
    responses((status = 200, description = "text/calendar", content_type = "text/calendar"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn calendar_feed(State(state): State<AppState>, Path(file): Path<String>) -> Result<Response> {
    let token = file.strip_suffix(".ics").ok_or(AppError::NotFound("calendar feed"))?;
    let body = feeds::render(&state.platform, token).await?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/calendar; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=300")),
        ],
        body,
    )
        .into_response())
}

// ---------------------------------------------------------------------------------------------
// Bookings

/// Books an appointment: for the caller, or (staff) for a studio client. Send an
/// `Idempotency-Key` to make retries safe.
#[utoipa::path(post, path = "/v1/studios/{studio_id}/bookings", tag = "bookings", security(("bearer" = [])), params(StudioPath,
        ("Idempotency-Key" = Option<String>, Header, description = "Same key and body: the same response; same key, other body: 422")),
    request_body = BookingRequest,
    responses((status = 201, body = BookingCreated), (status = "4XX", body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json", description = "The booking is held but the payment provider did not answer: retry with the same Idempotency-Key")))]
pub async fn create_booking(
    State(state): State<AppState>,
    caller: InStudio,
    idem: IdempotencyHeader,
    Json(request): Json<BookingRequest>,
) -> Result<Stored> {
    let key = idem.bind(&caller.access.studio_id, &caller.who.user.id, "POST bookings", &request)?;
    let booker = Booker { actor: caller.actor(), user: &caller.who.user };
    let mut outcome = create::create(&state.platform, booker, request, key).await?;
    let studio_id = &caller.access.studio_id;
    // A booking held for its deposit answers with what to pay. The payment is made once per
    // booking whatever the retries, so a replayed request (same Idempotency-Key) gets the same
    // payment, and a failure here leaves a held booking that a retry completes.
    let held = outcome.body["status"] == "pending" && outcome.body["pending_reason"] == "deposit";
    if let (true, Ok(checkout)) = (held, state.setting::<Checkout>()) {
        let id = outcome.body["id"]
            .as_str()
            .map(BookingId::from)
            .ok_or_else(|| ApiError(AppError::Internal("a created booking without an id".into())))?;
        let booking = bookings::load(&state.platform, studio_id, &id).await?;
        let due = checkout.0.checkout(&state.platform, &booking).await?;
        outcome.body["payment"] = serde_json::to_value(due)
            .map_err(|e| ApiError(AppError::failed("encoding the payment due", e)))?;
    }
    Ok(Stored::new(outcome)
        .located(|body| body["id"].as_str().map(|id| format!("/v1/studios/{studio_id}/bookings/{id}"))))
}

/// Books a weekly series (up to 12): all or nothing, or what is free with a report per date.
#[utoipa::path(post, path = "/v1/studios/{studio_id}/bookings/series", tag = "bookings", security(("bearer" = [])), params(StudioPath,
        ("Idempotency-Key" = Option<String>, Header, description = "Same key and body: the same response")),
    request_body = SeriesRequest,
    responses((status = 201, body = SeriesOutcome), (status = 200, body = SeriesOutcome, description = "Nothing was free"), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn create_series(
    State(state): State<AppState>,
    caller: InStudio,
    idem: IdempotencyHeader,
    Json(request): Json<SeriesRequest>,
) -> Result<Stored> {
    let key = idem.bind(&caller.access.studio_id, &caller.who.user.id, "POST bookings/series", &request)?;
    let booker = Booker { actor: caller.actor(), user: &caller.who.user };
    Ok(Stored::new(create::create_series(&state.platform, booker, request, key).await?))
}

/// A studio's bookings (staff; professionals see their own agenda): by professional and
/// range, by client, by status, in start order.
#[utoipa::path(get, path = "/v1/studios/{studio_id}/bookings", tag = "bookings", security(("bearer" = [])), params(StudioPath, BookingFilter, PageParams),
    responses((status = 200, body = inline(Page<BookingView>)), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn list_bookings(
    State(state): State<AppState>,
    member: Member<AnyMember>,
    QueryParams(filter): QueryParams<BookingFilter>,
    QueryParams(page): QueryParams<PageParams>,
) -> Result<Json<Page<BookingView>>> {
    let (items, next) = bookings::list(&state.platform, &member.access, &filter, |q| page.apply(q)).await?;
    Ok(Json(Page::new(items, next)))
}

/// A booking (its client, its professional, managers).
#[utoipa::path(get, path = "/v1/studios/{studio_id}/bookings/{booking_id}", tag = "bookings", security(("bearer" = [])), params(BookingPath),
    responses((status = 200, body = BookingView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn get_booking(
    State(state): State<AppState>,
    caller: InStudio,
    Path(path): Path<BookingPath>,
) -> Result<Tagged<BookingView>> {
    Ok(tagged(bookings::get(&state.platform, &caller.access, &path.booking_id).await?))
}

/// Cancels a booking; the fee follows the booking's policy tiers (staff may waive it).
#[utoipa::path(post, path = "/v1/studios/{studio_id}/bookings/{booking_id}/cancel", tag = "bookings", security(("bearer" = [])), params(BookingPath),
    request_body(content = CancelRequest, description = "Optional"),
    responses((status = 200, body = BookingView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn cancel_booking(
    State(state): State<AppState>,
    caller: InStudio,
    Path(path): Path<BookingPath>,
    OptionalJson(request): OptionalJson<CancelRequest>,
) -> Result<Tagged<BookingView>> {
    let actor = caller.actor();
    Ok(tagged(changes::cancel(&state.platform, actor, &path.booking_id, &request).await?))
}

/// Moves a booking to another time (and professional) atomically.
#[utoipa::path(post, path = "/v1/studios/{studio_id}/bookings/{booking_id}/reschedule", tag = "bookings", security(("bearer" = [])), params(BookingPath),
    request_body = RescheduleRequest,
    responses((status = 200, body = BookingView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn reschedule_booking(
    State(state): State<AppState>,
    caller: InStudio,
    Path(path): Path<BookingPath>,
    Json(request): Json<RescheduleRequest>,
) -> Result<Tagged<BookingView>> {
    let actor = caller.actor();
    Ok(tagged(changes::reschedule(&state.platform, actor, &path.booking_id, &request).await?))
}

/// Confirms a pending booking (staff), or accepts a waitlist offer (its client).
#[utoipa::path(post, path = "/v1/studios/{studio_id}/bookings/{booking_id}/confirm", tag = "bookings", security(("bearer" = [])), params(BookingPath),
    responses((status = 200, body = BookingView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn confirm_booking(
    State(state): State<AppState>,
    caller: InStudio,
    Path(path): Path<BookingPath>,
) -> Result<Tagged<BookingView>> {
    let actor = caller.actor();
    Ok(tagged(changes::confirm(&state.platform, actor, &path.booking_id).await?))
}

/// Records the client's arrival (staff).
#[utoipa::path(post, path = "/v1/studios/{studio_id}/bookings/{booking_id}/check-in", tag = "bookings", security(("bearer" = [])), params(BookingPath),
    responses((status = 200, body = BookingView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn check_in(
    State(state): State<AppState>,
    caller: InStudio,
    Path(path): Path<BookingPath>,
) -> Result<Tagged<BookingView>> {
    let actor = caller.actor();
    Ok(tagged(changes::check_in(&state.platform, actor, &path.booking_id).await?))
}

/// Completes a booking that has started (staff); the client earns loyalty points.
#[utoipa::path(post, path = "/v1/studios/{studio_id}/bookings/{booking_id}/complete", tag = "bookings", security(("bearer" = [])), params(BookingPath),
    responses((status = 200, body = BookingView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn complete_booking(
    State(state): State<AppState>,
    caller: InStudio,
    Path(path): Path<BookingPath>,
) -> Result<Tagged<BookingView>> {
    let actor = caller.actor();
    Ok(tagged(changes::complete(&state.platform, actor, &path.booking_id).await?))
}

/// Marks a no-show (staff): the penalty fee and loyalty deduction apply.
#[utoipa::path(post, path = "/v1/studios/{studio_id}/bookings/{booking_id}/no-show", tag = "bookings", security(("bearer" = [])), params(BookingPath),
    responses((status = 200, body = BookingView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn no_show(
    State(state): State<AppState>,
    caller: InStudio,
    Path(path): Path<BookingPath>,
) -> Result<Tagged<BookingView>> {
    let actor = caller.actor();
    Ok(tagged(changes::no_show(&state.platform, actor, &path.booking_id).await?))
}

/// The caller's bookings in every studio, in start order.
#[utoipa::path(get, path = "/v1/me/bookings", tag = "bookings", security(("bearer" = [])), params(MyBookingsFilter, PageParams),
    responses((status = 200, body = inline(Page<BookingView>)), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn my_bookings(
    State(state): State<AppState>,
    SignedIn(who): SignedIn,
    QueryParams(filter): QueryParams<MyBookingsFilter>,
    QueryParams(page): QueryParams<PageParams>,
) -> Result<Json<Page<BookingView>>> {
    let (items, next) =
        bookings::mine(&state.platform, &who.user.id, filter.from, filter.to, filter.status, |q| {
            page.apply(q)
        })
        .await?;
    Ok(Json(Page::new(items, next)))
}

// ---------------------------------------------------------------------------------------------
// Waitlist

/// Joins the waitlist for a service (and optionally a professional) over a window of dates.
#[utoipa::path(post, path = "/v1/studios/{studio_id}/waitlist", tag = "waitlist", security(("bearer" = [])), params(StudioPath),
    request_body = WaitlistRequest,
    responses((status = 201, body = EntryView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn join_waitlist(
    State(state): State<AppState>,
    caller: InStudio,
    Json(request): Json<WaitlistRequest>,
) -> Result<(StatusCode, Json<EntryView>)> {
    let booker = Booker { actor: caller.actor(), user: &caller.who.user };
    Ok((StatusCode::CREATED, Json(waitlist::join(&state.platform, booker, &request).await?)))
}

/// Waitlist entries with their positions: staff see every line, a client their own entries.
#[utoipa::path(get, path = "/v1/studios/{studio_id}/waitlist", tag = "waitlist", security(("bearer" = [])), params(StudioPath, WaitlistFilter, PageParams),
    responses((status = 200, body = inline(Page<EntryView>)), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn list_waitlist(
    State(state): State<AppState>,
    caller: InStudio,
    QueryParams(filter): QueryParams<WaitlistFilter>,
    QueryParams(page): QueryParams<PageParams>,
) -> Result<Json<Page<EntryView>>> {
    let all = waitlist::list(&state.platform, &caller.access, filter.service_id.as_ref()).await?;
    // By service, then position in its line (entries no longer waiting last), then id.
    Ok(Json(page.slice(all, |e: &EntryView| {
        format!("{}#{:06}#{}", e.entry.service_id, e.position.unwrap_or(999_999), e.entry.id)
    })?))
}

/// Leaves the waitlist.
#[utoipa::path(delete, path = "/v1/studios/{studio_id}/waitlist/{entry_id}", tag = "waitlist", security(("bearer" = [])), params(EntryPath),
    responses((status = 200, body = EntryView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn leave_waitlist(
    State(state): State<AppState>,
    caller: InStudio,
    Path(path): Path<EntryPath>,
) -> Result<Json<EntryView>> {
    let by = By::Caller(caller.actor());
    Ok(Json(waitlist::leave(&state.platform, by, &caller.access, &path.entry_id).await?))
}

// ---------------------------------------------------------------------------------------------
// Loyalty

/// A client's points (staff).
#[utoipa::path(get, path = "/v1/studios/{studio_id}/clients/{client_id}/loyalty", tag = "loyalty", security(("bearer" = [])), params(ClientPath),
    responses((status = 200, body = LoyaltyBalance), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn client_loyalty(
    State(state): State<AppState>,
    member: Member<AnyMember>,
    Path(path): Path<ClientPath>,
) -> Result<Json<LoyaltyBalance>> {
    clients::get(&state.platform, &member.access.studio_id, &path.client_id).await?;
    Ok(Json(loyalty::balance(&state.platform, &member.access.studio_id, &path.client_id).await?))
}

/// A client's points history, newest first (staff).
#[utoipa::path(get, path = "/v1/studios/{studio_id}/clients/{client_id}/loyalty/history", tag = "loyalty", security(("bearer" = [])), params(ClientPath, PageParams),
    responses((status = 200, body = inline(Page<LedgerEntry>)), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn client_loyalty_history(
    State(state): State<AppState>,
    member: Member<AnyMember>,
    Path(path): Path<ClientPath>,
    QueryParams(page): QueryParams<PageParams>,
) -> Result<Json<Page<LedgerEntry>>> {
    clients::get(&state.platform, &member.access.studio_id, &path.client_id).await?;
    let (items, next) =
        loyalty::history(&state.platform, &member.access.studio_id, &path.client_id, |q| page.apply(q))
            .await?;
    Ok(Json(Page::new(items, next)))
}

/// Spends a client's points (staff); refused if the balance is short.
#[utoipa::path(post, path = "/v1/studios/{studio_id}/clients/{client_id}/loyalty/redeem", tag = "loyalty", security(("bearer" = [])), params(ClientPath),
    request_body = Redemption,
    responses((status = 200, body = LoyaltyBalance), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn redeem_points(
    State(state): State<AppState>,
    member: Member<AnyMember>,
    Path(path): Path<ClientPath>,
    Json(redemption): Json<Redemption>,
) -> Result<Json<LoyaltyBalance>> {
    let actor = member.actor();
    Ok(Json(loyalty::redeem(&state.platform, actor, &path.client_id, &redemption).await?))
}

/// The caller's own points in a studio.
#[utoipa::path(get, path = "/v1/studios/{studio_id}/me/loyalty", tag = "loyalty", security(("bearer" = [])), params(StudioPath),
    responses((status = 200, body = LoyaltyBalance), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn my_loyalty(State(state): State<AppState>, caller: InStudio) -> Result<Json<LoyaltyBalance>> {
    let client = loyalty::client_of(&state.platform, &caller.access.studio_id, &caller.who.user.id).await?;
    Ok(Json(match client {
        Some(id) => loyalty::balance(&state.platform, &caller.access.studio_id, &ClientId::from(id)).await?,
        None => {
            LoyaltyBalance { client_id: ClientId::default(), points: 0, earned_total: 0, expires_at: None }
        }
    }))
}

/// The caller's own points history in a studio, newest first.
#[utoipa::path(get, path = "/v1/studios/{studio_id}/me/loyalty/history", tag = "loyalty", security(("bearer" = [])), params(StudioPath, PageParams),
    responses((status = 200, body = inline(Page<LedgerEntry>)), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn my_loyalty_history(
    State(state): State<AppState>,
    caller: InStudio,
    QueryParams(page): QueryParams<PageParams>,
) -> Result<Json<Page<LedgerEntry>>> {
    let Some(client) =
        loyalty::client_of(&state.platform, &caller.access.studio_id, &caller.who.user.id).await?
    else {
        return Ok(Json(Page::new(Vec::new(), None)));
    };
    let (items, next) =
        loyalty::history(&state.platform, &caller.access.studio_id, &ClientId::from(client), |q| {
            page.apply(q)
        })
        .await?;
    Ok(Json(Page::new(items, next)))
}

// ---------------------------------------------------------------------------------------------
// Calendar feeds

/// Issues (or renews, revoking the old) the secret address of a professional's agenda feed
/// (themselves, or a manager).
#[utoipa::path(post, path = "/v1/studios/{studio_id}/professionals/{user_id}/calendar-feed", tag = "calendar", security(("bearer" = [])), params(ProfessionalPath),
    responses((status = 201, body = FeedLink), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn issue_professional_feed(
    State(state): State<AppState>,
    member: Member<AnyMember>,
    Path(path): Path<ProfessionalPath>,
) -> Result<(StatusCode, Json<FeedLink>)> {
    team::may_manage(&member.actor(), &path.user_id)?;
    team::professional(&state.platform, &member.access.studio_id, &path.user_id).await?;
    let subject =
        FeedSubject::Professional { studio_id: member.access.studio_id.clone(), user_id: path.user_id };
    Ok((StatusCode::CREATED, Json(feeds::issue(&state.platform, subject).await?)))
}

/// Revokes a professional's agenda feed.
#[utoipa::path(delete, path = "/v1/studios/{studio_id}/professionals/{user_id}/calendar-feed", tag = "calendar", security(("bearer" = [])), params(ProfessionalPath),
    responses((status = 204), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn revoke_professional_feed(
    State(state): State<AppState>,
    member: Member<AnyMember>,
    Path(path): Path<ProfessionalPath>,
) -> Result<StatusCode> {
    team::may_manage(&member.actor(), &path.user_id)?;
    team::professional(&state.platform, &member.access.studio_id, &path.user_id).await?;
    let subject =
        FeedSubject::Professional { studio_id: member.access.studio_id.clone(), user_id: path.user_id };
    feeds::revoke(&state.platform, subject).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Issues (or renews) the secret address of the caller's own bookings feed.
#[utoipa::path(post, path = "/v1/me/calendar-feed", tag = "calendar", security(("bearer" = [])),
    responses((status = 201, body = FeedLink), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn issue_my_feed(
    State(state): State<AppState>,
    SignedIn(who): SignedIn,
) -> Result<(StatusCode, Json<FeedLink>)> {
    let subject = FeedSubject::Client { user_id: who.user.id };
    Ok((StatusCode::CREATED, Json(feeds::issue(&state.platform, subject).await?)))
}

/// Revokes the caller's feed.
#[utoipa::path(delete, path = "/v1/me/calendar-feed", tag = "calendar", security(("bearer" = [])),
    responses((status = 204), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn revoke_my_feed(State(state): State<AppState>, SignedIn(who): SignedIn) -> Result<StatusCode> {
    feeds::revoke(&state.platform, FeedSubject::Client { user_id: who.user.id }).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The group's routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(free_slots))
        .routes(routes!(calendar_feed))
        .routes(routes!(create_booking, list_bookings))
        .routes(routes!(create_series))
        .routes(routes!(get_booking))
        .routes(routes!(cancel_booking))
        .routes(routes!(reschedule_booking))
        .routes(routes!(confirm_booking))
        .routes(routes!(check_in))
        .routes(routes!(complete_booking))
        .routes(routes!(no_show))
        .routes(routes!(my_bookings))
        .routes(routes!(join_waitlist, list_waitlist))
        .routes(routes!(leave_waitlist))
        .routes(routes!(client_loyalty))
        .routes(routes!(client_loyalty_history))
        .routes(routes!(redeem_points))
        .routes(routes!(my_loyalty))
        .routes(routes!(my_loyalty_history))
        .routes(routes!(issue_professional_feed, revoke_professional_feed))
        .routes(routes!(issue_my_feed, revoke_my_feed))
}
