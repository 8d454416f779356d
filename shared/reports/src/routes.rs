//! The `reports` endpoint group: the dashboard, reports by professional, service and client,
//! the platform report for admins; exports and imports (their own modules' routes).

use atelier_domain::ids::{ClientId, StudioId};
use atelier_http::AppState;
use atelier_http::access::{Manager, Member, SignedIn};
use atelier_http::extract::{Path, Query as QueryParams, StudioPath};
use atelier_http::pagination::PageParams;
use atelier_http::problem::{ApiError, Problem};
use atelier_platform::AppError;
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::breakdown::{self, ClientReport, ProfessionalReport, ServiceReport};
use crate::dashboard::{self, Dashboard};
use crate::period::{Period, PeriodParams};
use crate::platform_report::{self, PlatformReport};

type Result<T> = std::result::Result<T, ApiError>;

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

/// A page of the professionals' rows with the period they cover.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProfessionalReports {
    /// The period.
    pub period: Period,
    /// The rows.
    pub items: Vec<ProfessionalReport>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A page of the services' rows with the period they cover.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceReports {
    /// The period.
    pub period: Period,
    /// The rows.
    pub items: Vec<ServiceReport>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The studio's dashboard for a day, week, month or custom period (managers).
#[utoipa::path(
    get,
    path = "/v1/studios/{studio_id}/dashboard",
    tag = "reports",
    params(StudioPath, PeriodParams),
    responses(
        (status = 200, description = "The period's figures", body = Dashboard),
        (status = 403, description = "Not a manager", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad period", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
pub async fn get_dashboard(
    State(state): State<AppState>,
    member: Member<Manager>,
    QueryParams(params): QueryParams<PeriodParams>,
) -> Result<Json<Dashboard>> {
    Ok(Json(dashboard::dashboard(&state.platform, &member.access.studio_id, &params).await?))
}

/// Each professional's bookings, minutes, completed value and commission over a period.
#[utoipa::path(
    get,
    path = "/v1/studios/{studio_id}/reports/professionals",
    tag = "reports",
    params(StudioPath, PeriodParams, PageParams),
    responses(
        (status = 200, description = "One row per professional", body = ProfessionalReports),
        (status = 403, description = "Not a manager", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad period", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
pub async fn professionals_report(
    State(state): State<AppState>,
    member: Member<Manager>,
    QueryParams(params): QueryParams<PeriodParams>,
    QueryParams(page): QueryParams<PageParams>,
) -> Result<Json<ProfessionalReports>> {
    let (period, rows) = breakdown::professionals(&state.platform, &member.access.studio_id, &params).await?;
    let page = page.slice(rows, |r| r.professional_id.clone())?;
    Ok(Json(ProfessionalReports { period, items: page.items, next_cursor: page.next_cursor }))
}

/// Each service's bookings, minutes, new clients and completed value over a period.
#[utoipa::path(
    get,
    path = "/v1/studios/{studio_id}/reports/services",
    tag = "reports",
    params(StudioPath, PeriodParams, PageParams),
    responses(
        (status = 200, description = "One row per service", body = ServiceReports),
        (status = 403, description = "Not a manager", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad period", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
pub async fn services_report(
    State(state): State<AppState>,
    member: Member<Manager>,
    QueryParams(params): QueryParams<PeriodParams>,
    QueryParams(page): QueryParams<PageParams>,
) -> Result<Json<ServiceReports>> {
    let (period, rows) = breakdown::services(&state.platform, &member.access.studio_id, &params).await?;
    let page = page.slice(rows, |r| r.service_id.clone())?;
    Ok(Json(ServiceReports { period, items: page.items, next_cursor: page.next_cursor }))
}

/// One client's bookings, minutes and completed value over a period, with their first visit.
#[utoipa::path(
    get,
    path = "/v1/studios/{studio_id}/reports/clients/{client_id}",
    tag = "reports",
    params(ClientPath, PeriodParams),
    responses(
        (status = 200, description = "The client's period", body = ClientReport),
        (status = 403, description = "Not a manager", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such client in this studio", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
pub async fn client_report(
    State(state): State<AppState>,
    member: Member<Manager>,
    Path(path): Path<ClientPath>,
    QueryParams(params): QueryParams<PeriodParams>,
) -> Result<Json<ClientReport>> {
    Ok(Json(breakdown::client(&state.platform, &member.access.studio_id, &path.client_id, &params).await?))
}

/// Every studio together: studios with bookings, bookings and completed value by currency
/// (platform admins).
#[utoipa::path(
    get,
    path = "/v1/admin/reports/platform",
    tag = "reports",
    params(PeriodParams),
    responses(
        (status = 200, description = "The platform's period", body = PlatformReport),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a platform admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad period", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
pub async fn platform(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    QueryParams(params): QueryParams<PeriodParams>,
) -> Result<Json<PlatformReport>> {
    if !caller.caller.is_admin {
        return Err(AppError::Forbidden(
            atelier_platform::error::ROLE_REQUIRED,
            "the platform report is for platform admins".into(),
        )
        .into());
    }
    Ok(Json(platform_report::report(&state.platform, &params).await?))
}

/// The group's routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_dashboard))
        .routes(routes!(professionals_report))
        .routes(routes!(services_report))
        .routes(routes!(client_report))
        .routes(routes!(platform))
        .merge(crate::exports::routes::routes())
        .merge(crate::imports::routes::routes())
}
