//! Export routes: ask for one (202 with the job), list, read, retry a failed one, get a
//! short-lived download link.

use atelier_domain::ids::{ExportId, StudioId};
use atelier_http::AppState;
use atelier_http::access::{Manager, Member};
use atelier_http::extract::{Json as JsonBody, Path, Query as QueryParams, StudioPath};
use atelier_http::pagination::{Page, PageParams};
use atelier_http::problem::{ApiError, Problem};
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{DownloadLink, ExportRequest, ExportView};

type Result<T> = std::result::Result<T, ApiError>;

/// An export of a studio.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ExportPath {
    /// The studio.
    #[param(value_type = String)]
    pub studio_id: StudioId,
    /// The export.
    #[param(value_type = String)]
    pub export_id: ExportId,
}

/// Asks for an export of the studio's data; the exports worker writes it and the requester is
/// notified when it is ready (managers).
#[utoipa::path(
    post,
    path = "/v1/studios/{studio_id}/exports",
    tag = "reports",
    params(StudioPath),
    request_body = ExportRequest,
    responses(
        (status = 202, description = "The job, pending", body = ExportView),
        (status = 403, description = "Not a manager", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Too many exports waiting (`too-many-exports`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad period or dataset", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
pub async fn request_export(
    State(state): State<AppState>,
    member: Member<Manager>,
    JsonBody(body): JsonBody<ExportRequest>,
) -> Result<impl IntoResponse> {
    let job = super::request(&state.platform, member.actor(), body).await?;
    let location = format!("/v1/studios/{}/exports/{}", member.access.studio_id, job.id);
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, location)], Json(job)))
}

/// The studio's exports, newest first.
#[utoipa::path(
    get,
    path = "/v1/studios/{studio_id}/exports",
    tag = "reports",
    params(StudioPath, PageParams),
    responses(
        (status = 200, description = "A page of jobs", body = Page<ExportView>),
        (status = 403, description = "Not a manager", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
pub async fn list_exports(
    State(state): State<AppState>,
    member: Member<Manager>,
    QueryParams(page): QueryParams<PageParams>,
) -> Result<Json<Page<ExportView>>> {
    let (items, next) = super::list(&state.platform, &member.access.studio_id, |q| page.apply(q)).await?;
    Ok(Json(Page::new(items, next)))
}

/// One export with its progress (rows written).
#[utoipa::path(
    get,
    path = "/v1/studios/{studio_id}/exports/{export_id}",
    tag = "reports",
    params(ExportPath),
    responses(
        (status = 200, description = "The job", body = ExportView),
        (status = 404, description = "No such export in this studio", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
pub async fn get_export(
    State(state): State<AppState>,
    member: Member<Manager>,
    Path(path): Path<ExportPath>,
) -> Result<Json<ExportView>> {
    Ok(Json(super::get(&state.platform, &member.access.studio_id, &path.export_id).await?))
}

/// Runs a failed export again from the start.
#[utoipa::path(
    post,
    path = "/v1/studios/{studio_id}/exports/{export_id}/retry",
    tag = "reports",
    params(ExportPath),
    responses(
        (status = 202, description = "The job, pending again", body = ExportView),
        (status = 404, description = "No such export in this studio", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "It has not failed (`export-not-retryable`)", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
pub async fn retry_export(
    State(state): State<AppState>,
    member: Member<Manager>,
    Path(path): Path<ExportPath>,
) -> Result<impl IntoResponse> {
    let job = super::retry(&state.platform, member.actor(), &path.export_id).await?;
    Ok((StatusCode::ACCEPTED, Json(job)))
}

/// A link to download the file, valid for five minutes, usable without a token.
#[utoipa::path(
    get,
    path = "/v1/studios/{studio_id}/exports/{export_id}/download",
    tag = "reports",
    params(ExportPath),
    responses(
        (status = 200, description = "The link", body = DownloadLink),
        (status = 404, description = "No such export in this studio", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not done yet (`export-not-ready`)", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "The file's days are up (`export-expired`)", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
pub async fn download_export(
    State(state): State<AppState>,
    member: Member<Manager>,
    Path(path): Path<ExportPath>,
) -> Result<Json<DownloadLink>> {
    Ok(Json(super::link(&state.platform, &member.access.studio_id, &path.export_id).await?))
}

/// The export routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(request_export, list_exports))
        .routes(routes!(get_export))
        .routes(routes!(retry_export))
        .routes(routes!(download_export))
}
