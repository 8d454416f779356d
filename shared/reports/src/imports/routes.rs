//! Import routes: upload a CSV (up to 5 MB), dry-run it, apply it (202), follow it, read each
//! row's outcome.

use atelier_domain::ids::{ImportId, StudioId};
use atelier_http::AppState;
use atelier_http::access::{Manager, Member};
use atelier_http::extract::{Json as JsonBody, Path, Query as QueryParams, StudioPath};
use atelier_http::pagination::{Page, PageParams};
use atelier_http::problem::{ApiError, Problem};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::rows::{ImportKind, MAX_BYTES};
use super::{DryRun, ImportOptions, ImportView, RowOutcome, RowReport};

type Result<T> = std::result::Result<T, ApiError>;

/// An import of a studio.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ImportPath {
    /// The studio.
    #[param(value_type = String)]
    pub studio_id: StudioId,
    /// The import.
    #[param(value_type = String)]
    pub import_id: ImportId,
}

/// What the upload imports.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadParams {
    /// `clients` or `products`.
    pub kind: ImportKind,
}

/// Which rows to list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RowFilter {
    /// Only rows with this outcome.
    pub outcome: Option<RowOutcome>,
}

/// Uploads a CSV file (UTF-8, a header row; at most 5 MB, 10 000 rows, 50 columns) to import
/// clients or products; its columns are mapped to fields by their names (managers).
#[utoipa::path(
    post,
    path = "/v1/studios/{studio_id}/imports",
    tag = "reports",
    params(StudioPath, UploadParams),
    request_body(content = String, content_type = "text/csv"),
    responses(
        (status = 201, description = "The import, uploaded", body = ImportView),
        (status = 403, description = "Not a manager", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than 5 MB", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a file that can be imported (`import-unreadable`)", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
pub async fn upload_import(
    State(state): State<AppState>,
    member: Member<Manager>,
    QueryParams(params): QueryParams<UploadParams>,
    file: Bytes,
) -> Result<impl IntoResponse> {
    let job = super::upload(&state.platform, member.actor(), params.kind, file).await?;
    let location = format!("/v1/studios/{}/imports/{}", member.access.studio_id, job.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(job)))
}

/// The studio's imports, newest first.
#[utoipa::path(
    get,
    path = "/v1/studios/{studio_id}/imports",
    tag = "reports",
    params(StudioPath, PageParams),
    responses(
        (status = 200, description = "A page of imports", body = Page<ImportView>),
        (status = 403, description = "Not a manager", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
pub async fn list_imports(
    State(state): State<AppState>,
    member: Member<Manager>,
    QueryParams(page): QueryParams<PageParams>,
) -> Result<Json<Page<ImportView>>> {
    let (items, next) = super::list(&state.platform, &member.access.studio_id, |q| page.apply(q)).await?;
    Ok(Json(Page::new(items, next)))
}

/// One import with its progress and outcomes.
#[utoipa::path(
    get,
    path = "/v1/studios/{studio_id}/imports/{import_id}",
    tag = "reports",
    params(ImportPath),
    responses(
        (status = 200, description = "The import", body = ImportView),
        (status = 404, description = "No such import in this studio", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
pub async fn get_import(
    State(state): State<AppState>,
    member: Member<Manager>,
    Path(path): Path<ImportPath>,
) -> Result<Json<ImportView>> {
    Ok(Json(super::get(&state.platform, &member.access.studio_id, &path.import_id).await?))
}

/// Checks every row with a mapping, writing nothing: each problem by row and column.
#[utoipa::path(
    post,
    path = "/v1/studios/{studio_id}/imports/{import_id}/dry-run",
    tag = "reports",
    params(ImportPath),
    request_body = ImportOptions,
    responses(
        (status = 200, description = "What applying would find", body = DryRun),
        (status = 404, description = "No such import in this studio", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A mapping that names no column, or leaves a required field out", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
pub async fn dry_run_import(
    State(state): State<AppState>,
    member: Member<Manager>,
    Path(path): Path<ImportPath>,
    JsonBody(options): JsonBody<ImportOptions>,
) -> Result<Json<DryRun>> {
    Ok(Json(super::dry_run(&state.platform, &member.access.studio_id, &path.import_id, &options).await?))
}

/// Applies the import as a job: each valid row creates a record, or updates the one it
/// matches when asked; the uploader is told when every row has its outcome.
#[utoipa::path(
    post,
    path = "/v1/studios/{studio_id}/imports/{import_id}/apply",
    tag = "reports",
    params(ImportPath),
    request_body = ImportOptions,
    responses(
        (status = 202, description = "The import, pending", body = ImportView),
        (status = 404, description = "No such import in this studio", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Applied already (`import-not-applicable`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad mapping", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
pub async fn apply_import(
    State(state): State<AppState>,
    member: Member<Manager>,
    Path(path): Path<ImportPath>,
    JsonBody(options): JsonBody<ImportOptions>,
) -> Result<impl IntoResponse> {
    let job = super::apply(&state.platform, member.actor(), &path.import_id, &options).await?;
    Ok((StatusCode::ACCEPTED, Json(job)))
}

/// Each row's outcome (created, updated, skipped, refused with its problems), in row order.
#[utoipa::path(
    get,
    path = "/v1/studios/{studio_id}/imports/{import_id}/rows",
    tag = "reports",
    params(ImportPath, RowFilter, PageParams),
    responses(
        (status = 200, description = "A page of row reports", body = Page<RowReport>),
        (status = 404, description = "No such import in this studio", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
pub async fn import_rows(
    State(state): State<AppState>,
    member: Member<Manager>,
    Path(path): Path<ImportPath>,
    QueryParams(filter): QueryParams<RowFilter>,
    QueryParams(page): QueryParams<PageParams>,
) -> Result<Json<Page<RowReport>>> {
    let (items, next) =
        super::row_reports(&state.platform, &member.access.studio_id, &path.import_id, filter.outcome, |q| {
            page.apply(q)
        })
        .await?;
    Ok(Json(Page::new(items, next)))
}

/// The import routes; the upload takes files up to 5 MB (the API's other bodies stay small).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload_import, list_imports))
        .layer(DefaultBodyLimit::max(MAX_BYTES))
        .routes(routes!(get_import))
        .routes(routes!(dry_run_import))
        .routes(routes!(apply_import))
        .routes(routes!(import_rows))
}
