//! The `notifications` endpoint group: the signed-in user's inbox.

use axum::extract::State;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use atelier_http::AppState;
use atelier_http::access::SignedIn;
use atelier_http::extract::{Json, Path, Query as QueryParams};
use atelier_http::pagination::{Page, PageParams};
use atelier_http::problem::{ApiError, Problem};

use atelier_domain::ids::NotificationId;

use crate::inbox::{self, InboxFilter, MarkedRead, NotificationView, UnreadCount};

type Result<T> = std::result::Result<T, ApiError>;

/// A notice of the caller's.
#[derive(Debug, serde::Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct NotificationPath {
    /// The notice.
    #[param(value_type = String)]
    pub notification_id: NotificationId,
}

/// The caller's notices, newest first; `status=unread|read`, `archived=true` for the archive.
#[utoipa::path(get, path = "/v1/me/notifications", tag = "notifications", security(("bearer" = [])),
    params(InboxFilter, PageParams),
    responses((status = 200, body = inline(Page<NotificationView>)), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    SignedIn(who): SignedIn,
    QueryParams(filter): QueryParams<InboxFilter>,
    QueryParams(page): QueryParams<PageParams>,
) -> Result<Json<Page<NotificationView>>> {
    let (items, next) = inbox::list(&state.platform, &who.user.id, &filter, |q| page.apply(q)).await?;
    Ok(Json(Page::new(items, next)))
}

/// How many of the caller's notices are unread (archived ones excluded).
#[utoipa::path(get, path = "/v1/me/notifications/unread-count", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, body = UnreadCount), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn unread_count(
    State(state): State<AppState>,
    SignedIn(who): SignedIn,
) -> Result<Json<UnreadCount>> {
    Ok(Json(inbox::unread(&state.platform, &who.user.id).await?))
}

/// Marks a notice read (again: no change).
#[utoipa::path(post, path = "/v1/me/notifications/{notification_id}/read", tag = "notifications", security(("bearer" = [])),
    params(NotificationPath),
    responses((status = 200, body = NotificationView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn mark_read(
    State(state): State<AppState>,
    SignedIn(who): SignedIn,
    Path(path): Path<NotificationPath>,
) -> Result<Json<NotificationView>> {
    Ok(Json(inbox::mark_read(&state.platform, &who.user.id, &path.notification_id).await?))
}

/// Archives a notice: it leaves the inbox list (and the unread count) for the archive.
#[utoipa::path(post, path = "/v1/me/notifications/{notification_id}/archive", tag = "notifications", security(("bearer" = [])),
    params(NotificationPath),
    responses((status = 200, body = NotificationView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn archive(
    State(state): State<AppState>,
    SignedIn(who): SignedIn,
    Path(path): Path<NotificationPath>,
) -> Result<Json<NotificationView>> {
    Ok(Json(inbox::archive(&state.platform, &who.user.id, &path.notification_id).await?))
}

/// Marks every unread notice read (up to 1000 at a time; `more` says to call again).
#[utoipa::path(post, path = "/v1/me/notifications/read-all", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, body = MarkedRead), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn read_all(State(state): State<AppState>, SignedIn(who): SignedIn) -> Result<Json<MarkedRead>> {
    Ok(Json(inbox::mark_all_read(&state.platform, &who.user.id).await?))
}

/// The group's routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(unread_count))
        .routes(routes!(mark_read))
        .routes(routes!(archive))
        .routes(routes!(read_all))
}
