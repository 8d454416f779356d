//! `GET /v1/health`, `GET /v1/health/ready`, `GET /v1/openapi.json`.

use atelier_platform::health::{Check, readiness};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use atelier_http::AppState;
use atelier_http::extract::Json;
use atelier_http::problem::Problem;

/// The whole API's OpenAPI document, generated from the handlers' annotations by
/// `cargo run -p atelier-ops -- openapi > docs/openapi.json` and embedded here, so the health
/// function serves it without linking every capability. A test fails when it is stale.
pub const OPENAPI_JSON: &str = include_str!("../../../docs/openapi.json");

/// The process is up.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: &'static str,
    /// Version of the running code.
    pub version: &'static str,
}

/// The process can serve: its dependencies answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready`.
    pub status: &'static str,
    /// Each dependency checked.
    #[schema(value_type = Vec<Object>)]
    pub checks: Vec<Check>,
}

/// Liveness: answers without touching any dependency.
#[utoipa::path(get, path = "/v1/health", tag = "health",
    responses((status = 200, description = "Up", body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health { status: "ok", version: env!("CARGO_PKG_VERSION") })
}

/// Readiness: the store must answer.
#[utoipa::path(get, path = "/v1/health/ready", tag = "health",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "A dependency does not answer", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn ready(State(state): State<AppState>) -> Response {
    let checks = readiness(&state.platform).await;
    if checks.iter().all(|c| c.ok) {
        Json(Readiness { status: "ready", checks }).into_response()
    } else {
        for c in checks.iter().filter(|c| !c.ok) {
            tracing::warn!(dependency = c.name, error = ?c.error, "not ready");
        }
        let names: Vec<&str> = checks.iter().filter(|c| !c.ok).map(|c| c.name).collect();
        Problem::new(StatusCode::SERVICE_UNAVAILABLE, Some(format!("not ready: {}", names.join(", "))))
            .into_response()
    }
}

/// The OpenAPI 3.1 document of the whole API.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "health",
    responses((status = 200, description = "OpenAPI document", content_type = "application/json")))]
pub async fn openapi_json() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON).into_response()
}

/// The group's routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health)).routes(routes!(ready)).routes(routes!(openapi_json))
}
