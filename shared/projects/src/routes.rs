//! The `projects` endpoint group: projects with their items, crew and expenses, status moves,
//! lists by status, deadline, client and crew member, and the studio's project dashboard.

use atelier_domain::ids::{ClientId, ExpenseId, ProjectId, ProjectItemId, StudioId, UserId};
use atelier_domain::projects::ProjectStatus;
use atelier_http::AppState;
use atelier_http::access::{AnyMember, Manager, Member};
use atelier_http::extract::{Json, Path, Query as QueryParams, StudioPath};
use atelier_http::pagination::{Page, PageParams};
use atelier_http::problem::{ApiError, Problem};
use atelier_http::versions::{Created, IfMatch, Tagged};
use atelier_platform::AppError;
use atelier_platform::store::{Index, Item, Key, Query, SortKey};
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::changes::{self, CrewRequest, ExpenseRequest, ItemRequest, ProjectDefinition};
use crate::dashboard::{self, Dashboard};
use crate::{
    Project, ProjectSummary, ProjectView, Seat, project_key, projects_partition, seat, status_index,
};

type Result<T> = std::result::Result<T, ApiError>;

/// A project of a studio.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ProjectPath {
    /// The studio.
    #[param(value_type = String)]
    pub studio_id: StudioId,
    /// The project.
    #[param(value_type = String)]
    pub project_id: ProjectId,
}

/// A line item of a project.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ItemPath {
    /// The studio.
    #[param(value_type = String)]
    pub studio_id: StudioId,
    /// The project.
    #[param(value_type = String)]
    pub project_id: ProjectId,
    /// The item.
    #[param(value_type = String)]
    pub item_id: ProjectItemId,
}

/// A crew member of a project.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct CrewPath {
    /// The studio.
    #[param(value_type = String)]
    pub studio_id: StudioId,
    /// The project.
    #[param(value_type = String)]
    pub project_id: ProjectId,
    /// The professional.
    #[param(value_type = String)]
    pub user_id: UserId,
}

/// An expense of a project.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ExpensePath {
    /// The studio.
    #[param(value_type = String)]
    pub studio_id: StudioId,
    /// The project.
    #[param(value_type = String)]
    pub project_id: ProjectId,
    /// The expense.
    #[param(value_type = String)]
    pub expense_id: ExpenseId,
}

fn view(member: &Member<AnyMember>, project: &Project) -> ProjectView {
    project.view(seat(&member.access), &member.access.caller.user_id)
}

/// Creates a project in `draft` for a client (managers).
#[utoipa::path(post, path = "/v1/studios/{studio_id}/projects", tag = "projects", security(("bearer" = [])), params(StudioPath),
    request_body = ProjectDefinition,
    responses((status = 201, body = ProjectView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn create_project(
    State(state): State<AppState>,
    member: Member<Manager>,
    Json(body): Json<ProjectDefinition>,
) -> Result<Created<ProjectView>> {
    let project = changes::create(&state.platform, member.actor(), body).await?;
    let view = project.view(Seat::Manager, &member.access.caller.user_id);
    Ok(Created(format!("/v1/studios/{}/projects/{}", project.studio_id, project.id), project.version, view))
}

/// Project list filters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProjectFilter {
    /// Only this status.
    pub status: Option<ProjectStatus>,
    /// Deadline on or after this date (`YYYY-MM-DD`).
    #[param(value_type = Option<String>, format = Date)]
    pub from: Option<jiff::civil::Date>,
    /// Deadline on or before this date.
    #[param(value_type = Option<String>, format = Date)]
    pub to: Option<jiff::civil::Date>,
    /// Only this client's projects.
    #[param(value_type = Option<String>)]
    pub client_id: Option<ClientId>,
    /// Only the projects this professional is crew of (a professional always sees only theirs).
    #[param(value_type = Option<String>)]
    pub crew_id: Option<UserId>,
}

impl ProjectFilter {
    fn keeps(&self, p: &Project) -> bool {
        self.status.is_none_or(|s| p.status == s)
            && self.from.is_none_or(|f| p.deadline.is_some_and(|d| d >= f))
            && self.to.is_none_or(|t| p.deadline.is_some_and(|d| d <= t))
            && self.client_id.as_ref().is_none_or(|c| p.client_id == *c)
            && self.crew_id.as_ref().is_none_or(|u| p.has_crew(u))
    }
}

/// The studio's projects by deadline (no deadline last), filtered by status, deadline range,
/// client or crew member (members; a professional sees only the projects they are crew of).
#[utoipa::path(get, path = "/v1/studios/{studio_id}/projects", tag = "projects", security(("bearer" = [])), params(StudioPath, ProjectFilter, PageParams),
    responses((status = 200, body = inline(Page<ProjectSummary>)), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn list_projects(
    State(state): State<AppState>,
    member: Member<AnyMember>,
    QueryParams(mut filter): QueryParams<ProjectFilter>,
    QueryParams(page): QueryParams<PageParams>,
) -> Result<Json<Page<ProjectSummary>>> {
    let platform = &state.platform;
    let studio = &member.access.studio_id;
    if seat(&member.access) == Seat::Crew {
        filter.crew_id = Some(member.access.caller.user_id.clone());
    }
    let mut errors = atelier_domain::Invalid::default();
    for (field, date) in [("from", filter.from), ("to", filter.to)] {
        if let Some(date) = date {
            atelier_domain::time::check_date(&mut errors, field, date);
        }
    }
    errors.into_result().map_err(|e| ApiError(e.into()))?;
    if let (Some(from), Some(to)) = (filter.from, filter.to)
        && to < from
    {
        return Err(ApiError(atelier_domain::Invalid::field("to", "must not be before from").into()));
    }
    let pointers = match (&filter.crew_id, &filter.client_id) {
        (Some(user), _) => Some(format!("STUDIO#{studio}#PROJECTS#CREW#{user}")),
        (None, Some(client)) => Some(format!("STUDIO#{studio}#PROJECTS#CLIENT#{client}")),
        (None, None) => None,
    };
    if let Some(partition) = pointers {
        // Through the pointers (by creation), then the projects themselves, filtered.
        let found =
            platform.store.query(&page.apply(Query::partition(partition))?).await.map_err(AppError::from)?;
        let keys: Vec<Key> = found
            .items
            .iter()
            .filter_map(Item::key)
            .map(|k| project_key(studio, &ProjectId::new(k.sk)))
            .collect();
        let mut projects: Vec<Project> = platform
            .store
            .get_many(&keys)
            .await
            .map_err(AppError::from)?
            .iter()
            .map(Item::to_record)
            .collect::<std::result::Result<_, _>>()
            .map_err(AppError::from)?;
        projects.retain(|p| filter.keeps(p));
        projects.sort_by(|a, b| {
            (crate::deadline_sort(a.deadline), &a.id).cmp(&(crate::deadline_sort(b.deadline), &b.id))
        });
        return Ok(Json(Page::new(
            projects.iter().map(|p| p.summary(seat(&member.access))).collect(),
            found.next,
        )));
    }
    let (partition, index) = match filter.status {
        Some(status) => (status_index(studio, status), Index::Gsi2),
        None => (projects_partition(studio), Index::Gsi1),
    };
    let mut query = Query::partition(partition).on(index);
    query = match (filter.from, filter.to) {
        (Some(f), Some(t)) => query.sort(SortKey::Between(f.to_string(), format!("{t}#~"))),
        // Projects without a deadline sort last (9999-12-31): a range leaves them out.
        (Some(f), None) => query.sort(SortKey::Between(f.to_string(), "2199-12-31#~".into())),
        (None, Some(t)) => query.sort(SortKey::Between("0".into(), format!("{t}#~"))),
        (None, None) => query,
    };
    let found = platform.store.query(&page.apply(query)?).await.map_err(AppError::from)?;
    let projects: Vec<Project> = found
        .items
        .iter()
        .map(Item::to_record)
        .collect::<std::result::Result<_, _>>()
        .map_err(AppError::from)?;
    Ok(Json(Page::new(projects.iter().map(|p| p.summary(seat(&member.access))).collect(), found.next)))
}

/// A project with its totals (managers; a crew member sees their project, their own fee, no
/// totals).
#[utoipa::path(get, path = "/v1/studios/{studio_id}/projects/{project_id}", tag = "projects", security(("bearer" = [])), params(ProjectPath),
    responses((status = 200, body = ProjectView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn get_project(
    State(state): State<AppState>,
    member: Member<AnyMember>,
    Path(path): Path<ProjectPath>,
) -> Result<Tagged<ProjectView>> {
    let project = crate::visible(&state.platform, &member.access, &path.project_id).await?;
    Ok(Tagged(project.version, view(&member, &project)))
}

/// Changes the project's header (managers; JSON merge patch; `If-Match` recommended).
#[utoipa::path(patch, path = "/v1/studios/{studio_id}/projects/{project_id}", tag = "projects", security(("bearer" = [])), params(ProjectPath),
    request_body(content = ProjectDefinition, description = "Any subset (JSON merge patch)"),
    responses((status = 200, body = ProjectView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn update_project(
    State(state): State<AppState>,
    member: Member<AnyMember>,
    Path(path): Path<ProjectPath>,
    IfMatch(expected): IfMatch,
    Json(patch): Json<serde_json::Value>,
) -> Result<Tagged<ProjectView>> {
    let project =
        changes::update(&state.platform, member.actor(), &path.project_id, &patch, expected).await?;
    Ok(Tagged(project.version, view(&member, &project)))
}

/// A status move.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    /// `planned`, `in_progress`, `delivered`, `closed` or `cancelled`.
    pub status: ProjectStatus,
}

/// Moves the project (managers and its crew): one step forward, back from `in_progress` to
/// `planned`, or `cancelled` before delivery; anything else is `409 invalid-project-transition`.
#[utoipa::path(post, path = "/v1/studios/{studio_id}/projects/{project_id}/status", tag = "projects", security(("bearer" = [])), params(ProjectPath),
    request_body = StatusRequest,
    responses((status = 200, body = ProjectView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn set_status(
    State(state): State<AppState>,
    member: Member<AnyMember>,
    Path(path): Path<ProjectPath>,
    IfMatch(expected): IfMatch,
    Json(body): Json<StatusRequest>,
) -> Result<Tagged<ProjectView>> {
    let project =
        changes::set_status(&state.platform, member.actor(), &path.project_id, body.status, expected).await?;
    Ok(Tagged(project.version, view(&member, &project)))
}

/// Adds a line item (managers).
#[utoipa::path(post, path = "/v1/studios/{studio_id}/projects/{project_id}/items", tag = "projects", security(("bearer" = [])), params(ProjectPath),
    request_body = ItemRequest,
    responses((status = 201, body = ProjectView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn add_item(
    State(state): State<AppState>,
    member: Member<AnyMember>,
    Path(path): Path<ProjectPath>,
    IfMatch(expected): IfMatch,
    Json(body): Json<ItemRequest>,
) -> Result<(StatusCode, Tagged<ProjectView>)> {
    let project =
        changes::add_item(&state.platform, member.actor(), &path.project_id, &body, expected).await?;
    Ok((StatusCode::CREATED, Tagged(project.version, view(&member, &project))))
}

/// Removes a line item (managers).
#[utoipa::path(delete, path = "/v1/studios/{studio_id}/projects/{project_id}/items/{item_id}", tag = "projects", security(("bearer" = [])), params(ItemPath),
    responses((status = 200, body = ProjectView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn remove_item(
    State(state): State<AppState>,
    member: Member<AnyMember>,
    Path(path): Path<ItemPath>,
    IfMatch(expected): IfMatch,
) -> Result<Tagged<ProjectView>> {
    let project =
        changes::remove_item(&state.platform, member.actor(), &path.project_id, &path.item_id, expected)
            .await?;
    Ok(Tagged(project.version, view(&member, &project)))
}

/// Assigns a professional with a role and a fee, or changes them (managers).
#[utoipa::path(put, path = "/v1/studios/{studio_id}/projects/{project_id}/crew/{user_id}", tag = "projects", security(("bearer" = [])), params(CrewPath),
    request_body = CrewRequest,
    responses((status = 200, body = ProjectView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn set_crew(
    State(state): State<AppState>,
    member: Member<AnyMember>,
    Path(path): Path<CrewPath>,
    IfMatch(expected): IfMatch,
    Json(body): Json<CrewRequest>,
) -> Result<Tagged<ProjectView>> {
    let project =
        changes::set_crew(&state.platform, member.actor(), &path.project_id, &path.user_id, &body, expected)
            .await?;
    Ok(Tagged(project.version, view(&member, &project)))
}

/// Takes a professional off the crew (managers).
#[utoipa::path(delete, path = "/v1/studios/{studio_id}/projects/{project_id}/crew/{user_id}", tag = "projects", security(("bearer" = [])), params(CrewPath),
    responses((status = 200, body = ProjectView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn remove_crew(
    State(state): State<AppState>,
    member: Member<AnyMember>,
    Path(path): Path<CrewPath>,
    IfMatch(expected): IfMatch,
) -> Result<Tagged<ProjectView>> {
    let project =
        changes::remove_crew(&state.platform, member.actor(), &path.project_id, &path.user_id, expected)
            .await?;
    Ok(Tagged(project.version, view(&member, &project)))
}

/// Minutes worked.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MinutesRequest {
    /// Minutes worked on the project so far (0 to 1 000 000).
    pub minutes: i64,
}

/// Sets the minutes worked on an hourly fee (the crew member themselves, or managers).
#[utoipa::path(put, path = "/v1/studios/{studio_id}/projects/{project_id}/crew/{user_id}/minutes", tag = "projects", security(("bearer" = [])), params(CrewPath),
    request_body = MinutesRequest,
    responses((status = 200, body = ProjectView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn set_minutes(
    State(state): State<AppState>,
    member: Member<AnyMember>,
    Path(path): Path<CrewPath>,
    IfMatch(expected): IfMatch,
    Json(body): Json<MinutesRequest>,
) -> Result<Tagged<ProjectView>> {
    let project = changes::set_minutes(
        &state.platform,
        member.actor(),
        &path.project_id,
        &path.user_id,
        body.minutes,
        expected,
    )
    .await?;
    Ok(Tagged(project.version, view(&member, &project)))
}

/// Adds an expense (managers).
#[utoipa::path(post, path = "/v1/studios/{studio_id}/projects/{project_id}/expenses", tag = "projects", security(("bearer" = [])), params(ProjectPath),
    request_body = ExpenseRequest,
    responses((status = 201, body = ProjectView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn add_expense(
    State(state): State<AppState>,
    member: Member<AnyMember>,
    Path(path): Path<ProjectPath>,
    IfMatch(expected): IfMatch,
    Json(body): Json<ExpenseRequest>,
) -> Result<(StatusCode, Tagged<ProjectView>)> {
    let project =
        changes::add_expense(&state.platform, member.actor(), &path.project_id, &body, expected).await?;
    Ok((StatusCode::CREATED, Tagged(project.version, view(&member, &project))))
}

/// Removes an expense (managers).
#[utoipa::path(delete, path = "/v1/studios/{studio_id}/projects/{project_id}/expenses/{expense_id}", tag = "projects", security(("bearer" = [])), params(ExpensePath),
    responses((status = 200, body = ProjectView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn remove_expense(
    State(state): State<AppState>,
    member: Member<AnyMember>,
    Path(path): Path<ExpensePath>,
    IfMatch(expected): IfMatch,
) -> Result<Tagged<ProjectView>> {
    let project = changes::remove_expense(
        &state.platform,
        member.actor(),
        &path.project_id,
        &path.expense_id,
        expected,
    )
    .await?;
    Ok(Tagged(project.version, view(&member, &project)))
}

/// The studio's project dashboard (managers): projects by status, deadlines in the next 14
/// days, overdue projects, revenue and profit by month of delivery.
#[utoipa::path(get, path = "/v1/studios/{studio_id}/project-dashboard", tag = "projects", security(("bearer" = [])), params(StudioPath),
    responses((status = 200, body = Dashboard), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn project_dashboard(
    State(state): State<AppState>,
    member: Member<Manager>,
) -> Result<Json<Dashboard>> {
    Ok(Json(dashboard::dashboard(&state.platform, &member.access.studio_id).await?))
}

/// The group's routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_project, list_projects))
        .routes(routes!(get_project, update_project))
        .routes(routes!(set_status))
        .routes(routes!(add_item))
        .routes(routes!(remove_item))
        .routes(routes!(set_crew, remove_crew))
        .routes(routes!(set_minutes))
        .routes(routes!(add_expense))
        .routes(routes!(remove_expense))
        .routes(routes!(project_dashboard))
}
