//! The webhook routes of the `notifications` group: a studio's endpoints, their secrets, test
//! pings, delivery logs and replays (managers).

use atelier_domain::ids::{StudioId, WebhookEndpointId, WebhookMessageId};
use atelier_http::AppState;
use atelier_http::access::{Manager, Member};
use atelier_http::extract::{Json, Path, Query as QueryParams, StudioPath};
use atelier_http::pagination::{Page, PageParams};
use atelier_http::problem::{ApiError, Problem};
use axum::extract::State;
use axum::http::StatusCode;
use jiff::Timestamp;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{
    CreatedEndpoint, EndpointChanges, EndpointSecret, EndpointView, MessageDetail, MessageFilter,
    MessageView, NewEndpoint, Replayed,
};

type Result<T> = std::result::Result<T, ApiError>;

/// A studio's webhook endpoint.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct EndpointPath {
    /// The studio.
    #[param(value_type = String)]
    pub studio_id: StudioId,
    /// The endpoint.
    #[param(value_type = String)]
    pub endpoint_id: WebhookEndpointId,
}

/// A message to a studio's webhook endpoint.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct MessagePath {
    /// The studio.
    #[param(value_type = String)]
    pub studio_id: StudioId,
    /// The endpoint.
    #[param(value_type = String)]
    pub endpoint_id: WebhookEndpointId,
    /// The message (`webhook-id`).
    #[param(value_type = String)]
    pub message_id: WebhookMessageId,
}

/// Which failed messages to replay.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaySince {
    /// Failed messages created at or after this instant (RFC 3339).
    #[serde(deserialize_with = "atelier_domain::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub since: Timestamp,
}

/// The studio's webhook endpoints (managers).
#[utoipa::path(get, path = "/v1/studios/{studio_id}/webhooks", tag = "webhooks", security(("bearer" = [])),
    params(StudioPath, PageParams),
    responses((status = 200, body = inline(Page<EndpointView>)), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    member: Member<Manager>,
    QueryParams(page): QueryParams<PageParams>,
) -> Result<Json<Page<EndpointView>>> {
    let endpoints = super::endpoints(&state.platform, &member.access.studio_id).await?;
    let views = endpoints.iter().map(super::WebhookEndpoint::view).collect();
    Ok(Json(page.slice(views, |e: &EndpointView| e.id.to_string())?))
}

/// Registers an endpoint; the answer holds its signing secret.
#[utoipa::path(post, path = "/v1/studios/{studio_id}/webhooks", tag = "webhooks", security(("bearer" = [])),
    params(StudioPath), request_body = NewEndpoint,
    responses((status = 201, body = CreatedEndpoint), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<AppState>,
    member: Member<Manager>,
    Json(new): Json<NewEndpoint>,
) -> Result<(StatusCode, Json<CreatedEndpoint>)> {
    let created = super::create(&state.platform, &member.access.studio_id, new).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// One endpoint.
#[utoipa::path(get, path = "/v1/studios/{studio_id}/webhooks/{endpoint_id}", tag = "webhooks", security(("bearer" = [])),
    params(EndpointPath),
    responses((status = 200, body = EndpointView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn get(
    State(state): State<AppState>,
    member: Member<Manager>,
    Path(path): Path<EndpointPath>,
) -> Result<Json<EndpointView>> {
    Ok(Json(super::endpoint(&state.platform, &member.access.studio_id, &path.endpoint_id).await?.view()))
}

/// Changes an endpoint (absent fields stay); turning it back on clears its failure.
#[utoipa::path(patch, path = "/v1/studios/{studio_id}/webhooks/{endpoint_id}", tag = "webhooks", security(("bearer" = [])),
    params(EndpointPath), request_body = EndpointChanges,
    responses((status = 200, body = EndpointView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn update(
    State(state): State<AppState>,
    member: Member<Manager>,
    Path(path): Path<EndpointPath>,
    Json(changes): Json<EndpointChanges>,
) -> Result<Json<EndpointView>> {
    let endpoint =
        super::update(&state.platform, &member.access.studio_id, &path.endpoint_id, changes).await?;
    Ok(Json(endpoint.view()))
}

/// Removes an endpoint.
#[utoipa::path(delete, path = "/v1/studios/{studio_id}/webhooks/{endpoint_id}", tag = "webhooks", security(("bearer" = [])),
    params(EndpointPath),
    responses((status = 204), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn delete(
    State(state): State<AppState>,
    member: Member<Manager>,
    Path(path): Path<EndpointPath>,
) -> Result<StatusCode> {
    super::delete(&state.platform, &member.access.studio_id, &path.endpoint_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The endpoint's signing secret.
#[utoipa::path(get, path = "/v1/studios/{studio_id}/webhooks/{endpoint_id}/secret", tag = "webhooks", security(("bearer" = [])),
    params(EndpointPath),
    responses((status = 200, body = EndpointSecret), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn secret(
    State(state): State<AppState>,
    member: Member<Manager>,
    Path(path): Path<EndpointPath>,
) -> Result<Json<EndpointSecret>> {
    Ok(Json(super::secret(&state.platform, &member.access.studio_id, &path.endpoint_id).await?))
}

/// A new signing secret; the previous one keeps signing for 24 hours (both signatures are sent).
#[utoipa::path(post, path = "/v1/studios/{studio_id}/webhooks/{endpoint_id}/rotate-secret", tag = "webhooks", security(("bearer" = [])),
    params(EndpointPath),
    responses((status = 200, body = EndpointSecret), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn rotate(
    State(state): State<AppState>,
    member: Member<Manager>,
    Path(path): Path<EndpointPath>,
) -> Result<Json<EndpointSecret>> {
    Ok(Json(super::rotate(&state.platform, &member.access.studio_id, &path.endpoint_id).await?))
}

/// Sends a `webhook.ping` to the endpoint now; the answer shows how its first attempt went.
#[utoipa::path(post, path = "/v1/studios/{studio_id}/webhooks/{endpoint_id}/ping", tag = "webhooks", security(("bearer" = [])),
    params(EndpointPath),
    responses((status = 200, body = MessageView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn ping(
    State(state): State<AppState>,
    member: Member<Manager>,
    Path(path): Path<EndpointPath>,
) -> Result<Json<MessageView>> {
    Ok(Json(super::ping(&state.platform, &member.access.studio_id, &path.endpoint_id).await?))
}

/// The endpoint's messages, newest first; `status=failed` for the failed ones.
#[utoipa::path(get, path = "/v1/studios/{studio_id}/webhooks/{endpoint_id}/messages", tag = "webhooks", security(("bearer" = [])),
    params(EndpointPath, MessageFilter, PageParams),
    responses((status = 200, body = inline(Page<MessageView>)), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn messages(
    State(state): State<AppState>,
    member: Member<Manager>,
    Path(path): Path<EndpointPath>,
    QueryParams(filter): QueryParams<MessageFilter>,
    QueryParams(page): QueryParams<PageParams>,
) -> Result<Json<Page<MessageView>>> {
    let (items, next) =
        super::messages(&state.platform, &member.access.studio_id, &path.endpoint_id, &filter, |q| {
            page.apply(q)
        })
        .await?;
    Ok(Json(Page::new(items, next)))
}

/// One message with its delivery log (every attempt: status, latency, the start of the answer).
#[utoipa::path(get, path = "/v1/studios/{studio_id}/webhooks/{endpoint_id}/messages/{message_id}", tag = "webhooks", security(("bearer" = [])),
    params(MessagePath),
    responses((status = 200, body = MessageDetail), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn message(
    State(state): State<AppState>,
    member: Member<Manager>,
    Path(path): Path<MessagePath>,
) -> Result<Json<MessageDetail>> {
    Ok(Json(
        super::message(&state.platform, &member.access.studio_id, &path.endpoint_id, &path.message_id)
            .await?,
    ))
}

/// Sends a delivered or failed message again now (same `webhook-id`, the current secret) and
/// starts a new round of retries if it fails.
#[utoipa::path(post, path = "/v1/studios/{studio_id}/webhooks/{endpoint_id}/messages/{message_id}/replay", tag = "webhooks", security(("bearer" = [])),
    params(MessagePath),
    responses((status = 200, body = MessageView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn replay(
    State(state): State<AppState>,
    member: Member<Manager>,
    Path(path): Path<MessagePath>,
) -> Result<Json<MessageView>> {
    Ok(Json(
        super::replay(&state.platform, &member.access.studio_id, &path.endpoint_id, &path.message_id).await?,
    ))
}

/// Queues every failed message of the endpoint created since a time (at most 1000); the retry
/// job sends them within a minute.
#[utoipa::path(post, path = "/v1/studios/{studio_id}/webhooks/{endpoint_id}/replay", tag = "webhooks", security(("bearer" = [])),
    params(EndpointPath), request_body = ReplaySince,
    responses((status = 200, body = Replayed), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn replay_failed(
    State(state): State<AppState>,
    member: Member<Manager>,
    Path(path): Path<EndpointPath>,
    Json(body): Json<ReplaySince>,
) -> Result<Json<Replayed>> {
    Ok(Json(
        super::replay_failed(&state.platform, &member.access.studio_id, &path.endpoint_id, body.since)
            .await?,
    ))
}

/// The webhook routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, update, delete))
        .routes(routes!(secret))
        .routes(routes!(rotate))
        .routes(routes!(ping))
        .routes(routes!(messages))
        .routes(routes!(message))
        .routes(routes!(replay))
        .routes(routes!(replay_failed))
}
