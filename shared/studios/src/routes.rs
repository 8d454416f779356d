//! The `studios` endpoint group: studio profile, team, catalog, availability, policies,
//! clients, audit, and the public catalog.

use crate as studios;
use crate::availability::{self, Availability, StoredException};
use crate::catalog::{self, CatalogFilter, Resource, Service};
use crate::clients::{self, Client, ClientSearch};
use crate::policies::{self, StoredOverbooking, StoredPolicy};
use crate::team::{self, Invitation, Member as TeamMember, NewInvitation, Professional, RoleChange};
use crate::{PublicStudio, Studio};
use atelier_domain::availability::{AvailabilityException, WeeklySchedule};
use atelier_domain::catalog::{ProfessionalProfile, ResourceDefinition, ServiceDefinition};
use atelier_domain::clients::ClientDetails;
use atelier_domain::ids::{ClientId, ExceptionId, InvitationId, ResourceId, ServiceId, StudioId, UserId};
use atelier_domain::policies::{CancellationPolicy, OverbookingConfig};
use atelier_domain::studios::StudioProfile;
use atelier_platform::access::Membership;
use atelier_platform::audit::AuditEvent;
use axum::extract::State;
use axum::http::StatusCode;
use jiff::civil::Date;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use atelier_http::AppState;
use atelier_http::access::{AnyMember, ClientMeta, InStudio, Manager, Member, Owner, SignedIn};
use atelier_http::extract::StudioPath;
use atelier_http::extract::{Json, Path, Query as QueryParams};
use atelier_http::pagination::{Page, PageParams};
use atelier_http::problem::{ApiError, Problem};
use atelier_http::versions::{Created, IfMatch, Tagged};

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
    /// A team member (or professional) of a studio.
    UserPath { user_id: UserId, "The member's user id." }
);
entity_path!(
    /// A service of a studio.
    ServicePath { service_id: ServiceId, "The service." }
);
entity_path!(
    /// A resource of a studio.
    ResourcePath { resource_id: ResourceId, "The resource." }
);
entity_path!(
    /// A client of a studio.
    ClientPath { client_id: ClientId, "The client." }
);
entity_path!(
    /// An invitation of a studio.
    InvitationPath { invitation_id: InvitationId, "The invitation." }
);

/// A professional's exception.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ExceptionPath {
    /// The studio.
    #[param(value_type = String)]
    pub studio_id: StudioId,
    /// The professional.
    #[param(value_type = String)]
    pub user_id: UserId,
    /// The exception.
    #[param(value_type = String)]
    pub exception_id: ExceptionId,
}

/// A date range.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DateRange {
    /// First day, `YYYY-MM-DD`.
    #[param(value_type = String)]
    pub from: Date,
    /// Last day, included.
    #[param(value_type = String)]
    pub to: Date,
}

// ---------------------------------------------------------------------------------------------
// Studio

/// Creates a studio; the caller becomes its owner.
#[utoipa::path(post, path = "/v1/studios", tag = "studios", security(("bearer" = [])), request_body = StudioProfile,
    responses((status = 201, body = Studio), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn create_studio(
    State(state): State<AppState>,
    ClientMeta(meta): ClientMeta,
    SignedIn(who): SignedIn,
    Json(profile): Json<StudioProfile>,
) -> Result<Created<Studio>> {
    let studio = studios::create(&state.platform, &who.caller.user_id, &meta, profile).await?;
    Ok(Created(format!("/v1/studios/{}", studio.id), studio.version, studio))
}

/// A studio, for its members.
#[utoipa::path(get, path = "/v1/studios/{studio_id}", tag = "studios", security(("bearer" = [])), params(StudioPath),
    responses((status = 200, body = Studio), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn get_studio(State(state): State<AppState>, member: Member<AnyMember>) -> Result<Tagged<Studio>> {
    let studio = studios::get(&state.platform, &member.access.studio_id).await?;
    Ok(Tagged(studio.version, studio))
}

/// Changes a studio's profile (JSON merge patch; `If-Match` recommended).
#[utoipa::path(patch, path = "/v1/studios/{studio_id}", tag = "studios", security(("bearer" = [])), params(StudioPath),
    request_body(content = StudioProfile, description = "Any subset of the profile (JSON merge patch)"),
    responses((status = 200, body = Studio), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn update_studio(
    State(state): State<AppState>,
    member: Member<Manager>,
    IfMatch(expected): IfMatch,
    Json(patch): Json<serde_json::Value>,
) -> Result<Tagged<Studio>> {
    let studio = studios::update(&state.platform, member.actor(), &patch, expected).await?;
    Ok(Tagged(studio.version, studio))
}

/// Deactivates a studio (owners): hidden from the public, no new bookings.
#[utoipa::path(post, path = "/v1/studios/{studio_id}/deactivate", tag = "studios", security(("bearer" = [])), params(StudioPath),
    responses((status = 200, body = Studio), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn deactivate_studio(
    State(state): State<AppState>,
    member: Member<Owner>,
) -> Result<Tagged<Studio>> {
    let studio = studios::set_active(&state.platform, member.actor(), false).await?;
    Ok(Tagged(studio.version, studio))
}

/// Reactivates a studio (owners).
#[utoipa::path(post, path = "/v1/studios/{studio_id}/activate", tag = "studios", security(("bearer" = [])), params(StudioPath),
    responses((status = 200, body = Studio), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn activate_studio(State(state): State<AppState>, member: Member<Owner>) -> Result<Tagged<Studio>> {
    let studio = studios::set_active(&state.platform, member.actor(), true).await?;
    Ok(Tagged(studio.version, studio))
}

/// A studio's audit trail, newest first (owners).
#[utoipa::path(get, path = "/v1/studios/{studio_id}/audit", tag = "studios", security(("bearer" = [])), params(StudioPath, PageParams),
    responses((status = 200, body = inline(Page<serde_json::Value>)), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn studio_audit(
    State(state): State<AppState>,
    member: Member<Owner>,
    QueryParams(page): QueryParams<PageParams>,
) -> Result<Json<Page<AuditEvent>>> {
    let (events, next) = studios::audit_trail(&state.platform, member.actor(), |q| page.apply(q)).await?;
    Ok(Json(Page::new(events, next)))
}

// ---------------------------------------------------------------------------------------------
// Public

/// An active studio by its slug (anyone).
#[utoipa::path(get, path = "/v1/public/slugs/{slug}", tag = "public", params(("slug" = String, Path, description = "Public handle")),
    responses((status = 200, body = PublicStudio), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn public_studio(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> Result<Json<PublicStudio>> {
    Ok(Json(studios::public_by_slug(&state.platform, &slug).await?))
}

/// The active services of an active studio, filtered, paginated (anyone).
#[utoipa::path(get, path = "/v1/public/studios/{studio_id}/services", tag = "public", params(StudioPath, CatalogFilter, PageParams),
    responses((status = 200, body = inline(Page<Service>)), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn public_services(
    State(state): State<AppState>,
    Path(path): Path<StudioPath>,
    QueryParams(filter): QueryParams<CatalogFilter>,
    QueryParams(page): QueryParams<PageParams>,
) -> Result<Json<Page<Service>>> {
    studios::public_by_id(&state.platform, &path.studio_id).await?;
    let (items, next) =
        catalog::list_services(&state.platform, &path.studio_id, &filter, true, |q| page.apply(q)).await?;
    Ok(Json(Page::new(items, next)))
}

/// The active professionals of an active studio (anyone).
#[utoipa::path(get, path = "/v1/public/studios/{studio_id}/professionals", tag = "public", params(StudioPath, PageParams),
    responses((status = 200, body = inline(Page<Professional>)), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn public_professionals(
    State(state): State<AppState>,
    Path(path): Path<StudioPath>,
    QueryParams(page): QueryParams<PageParams>,
) -> Result<Json<Page<Professional>>> {
    studios::public_by_id(&state.platform, &path.studio_id).await?;
    let all = team::professionals(&state.platform, &path.studio_id).await?;
    let active = all.into_iter().filter(|p| p.profile.active).collect();
    Ok(Json(page.slice(active, |p: &Professional| p.user_id.to_string())?))
}

/// The cancellation policy that applies to a service (anyone, before booking).
#[utoipa::path(get, path = "/v1/public/studios/{studio_id}/services/{service_id}/cancellation-policy", tag = "public",
    params(("studio_id" = String, Path), ("service_id" = String, Path)),
    responses((status = 200, body = StoredPolicy), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn public_service_policy(
    State(state): State<AppState>,
    Path(path): Path<ServicePath>,
) -> Result<Json<StoredPolicy>> {
    studios::public_by_id(&state.platform, &path.studio_id).await?;
    let service = catalog::service(&state.platform, &path.studio_id, &path.service_id).await?;
    if !service.definition.active {
        return Err(atelier_platform::AppError::NotFound("service").into());
    }
    Ok(Json(policies::effective_policy(&state.platform, &path.studio_id, &path.service_id).await?))
}

// ---------------------------------------------------------------------------------------------
// Team

/// Invites someone by email (managers; owners to invite owners).
#[utoipa::path(post, path = "/v1/studios/{studio_id}/invitations", tag = "team", security(("bearer" = [])), params(StudioPath), request_body = NewInvitation,
    responses((status = 201, body = Invitation), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn invite(
    State(state): State<AppState>,
    member: Member<Manager>,
    Json(request): Json<NewInvitation>,
) -> Result<(StatusCode, Json<Invitation>)> {
    let invitation = team::invite(&state.platform, member.actor(), request).await?;
    Ok((StatusCode::CREATED, Json(invitation)))
}

/// The studio's invitations (managers).
#[utoipa::path(get, path = "/v1/studios/{studio_id}/invitations", tag = "team", security(("bearer" = [])), params(StudioPath, PageParams),
    responses((status = 200, body = inline(Page<Invitation>)), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn list_invitations(
    State(state): State<AppState>,
    member: Member<Manager>,
    QueryParams(page): QueryParams<PageParams>,
) -> Result<Json<Page<Invitation>>> {
    let all = team::invitations(&state.platform, member.actor()).await?;
    Ok(Json(page.slice(all, |i: &Invitation| i.id.to_string())?))
}

/// Withdraws a pending invitation (managers).
#[utoipa::path(delete, path = "/v1/studios/{studio_id}/invitations/{invitation_id}", tag = "team", security(("bearer" = [])),
    params(("studio_id" = String, Path), ("invitation_id" = String, Path)),
    responses((status = 204), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn revoke_invitation(
    State(state): State<AppState>,
    member: Member<Manager>,
    Path(path): Path<InvitationPath>,
) -> Result<StatusCode> {
    team::revoke_invitation(&state.platform, member.actor(), &path.invitation_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Accepts an invitation sent to the caller's email.
#[utoipa::path(post, path = "/v1/studios/{studio_id}/invitations/{invitation_id}/accept", tag = "team", security(("bearer" = [])),
    params(("studio_id" = String, Path), ("invitation_id" = String, Path)),
    responses((status = 201, body = Object), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn accept_invitation(
    State(state): State<AppState>,
    caller: InStudio,
    Path(path): Path<InvitationPath>,
) -> Result<(StatusCode, Json<Membership>)> {
    let membership =
        team::accept(&state.platform, caller.actor(), &caller.who.user, &path.invitation_id).await?;
    Ok((StatusCode::CREATED, Json(membership)))
}

/// Pending invitations addressed to the caller.
#[utoipa::path(get, path = "/v1/invitations", tag = "team", security(("bearer" = [])), params(PageParams),
    responses((status = 200, body = inline(Page<Invitation>)), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn my_invitations(
    State(state): State<AppState>,
    SignedIn(who): SignedIn,
    QueryParams(page): QueryParams<PageParams>,
) -> Result<Json<Page<Invitation>>> {
    let all = team::invitations_for(&state.platform, &who.user.email).await?;
    Ok(Json(page.slice(all, |i: &Invitation| i.id.to_string())?))
}

/// The studio's members.
#[utoipa::path(get, path = "/v1/studios/{studio_id}/members", tag = "team", security(("bearer" = [])), params(StudioPath, PageParams),
    responses((status = 200, body = inline(Page<TeamMember>)), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn list_members(
    State(state): State<AppState>,
    member: Member<AnyMember>,
    QueryParams(page): QueryParams<PageParams>,
) -> Result<Json<Page<TeamMember>>> {
    let all = team::members(&state.platform, member.actor()).await?;
    Ok(Json(page.slice(all, |m: &TeamMember| m.user_id.to_string())?))
}

/// Changes a member's role (managers; owners for the owner role).
#[utoipa::path(patch, path = "/v1/studios/{studio_id}/members/{user_id}", tag = "team", security(("bearer" = [])),
    params(("studio_id" = String, Path), ("user_id" = String, Path)), request_body = RoleChange,
    responses((status = 200, body = Object), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn change_role(
    State(state): State<AppState>,
    member: Member<Manager>,
    Path(path): Path<UserPath>,
    Json(change): Json<RoleChange>,
) -> Result<Json<Membership>> {
    Ok(Json(team::change_role(&state.platform, member.actor(), &path.user_id, change).await?))
}

/// Removes a member, or leaves the studio (your own id). The last owner cannot go.
#[utoipa::path(delete, path = "/v1/studios/{studio_id}/members/{user_id}", tag = "team", security(("bearer" = [])),
    params(("studio_id" = String, Path), ("user_id" = String, Path)),
    responses((status = 204), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn remove_member(
    State(state): State<AppState>,
    member: Member<AnyMember>,
    Path(path): Path<UserPath>,
) -> Result<StatusCode> {
    team::remove(&state.platform, member.actor(), &path.user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every professional of the studio.
#[utoipa::path(get, path = "/v1/studios/{studio_id}/professionals", tag = "team", security(("bearer" = [])), params(StudioPath, PageParams),
    responses((status = 200, body = inline(Page<Professional>)), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn list_professionals(
    State(state): State<AppState>,
    member: Member<AnyMember>,
    QueryParams(page): QueryParams<PageParams>,
) -> Result<Json<Page<Professional>>> {
    let all = team::professionals(&state.platform, &member.access.studio_id).await?;
    Ok(Json(page.slice(all, |p: &Professional| p.user_id.to_string())?))
}

/// One professional's profile.
#[utoipa::path(get, path = "/v1/studios/{studio_id}/professionals/{user_id}", tag = "team", security(("bearer" = [])),
    params(("studio_id" = String, Path), ("user_id" = String, Path)),
    responses((status = 200, body = Professional), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn get_professional(
    State(state): State<AppState>,
    member: Member<AnyMember>,
    Path(path): Path<UserPath>,
) -> Result<Tagged<Professional>> {
    let professional = team::professional(&state.platform, &member.access.studio_id, &path.user_id).await?;
    Ok(Tagged(professional.version, professional))
}

/// Creates or replaces a member's professional profile (their own, or as a manager).
#[utoipa::path(put, path = "/v1/studios/{studio_id}/professionals/{user_id}", tag = "team", security(("bearer" = [])),
    params(("studio_id" = String, Path), ("user_id" = String, Path)), request_body = ProfessionalProfile,
    responses((status = 200, body = Professional), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn put_professional(
    State(state): State<AppState>,
    member: Member<AnyMember>,
    Path(path): Path<UserPath>,
    IfMatch(expected): IfMatch,
    Json(profile): Json<ProfessionalProfile>,
) -> Result<Tagged<Professional>> {
    let professional =
        team::put_professional(&state.platform, member.actor(), &path.user_id, profile, expected).await?;
    Ok(Tagged(professional.version, professional))
}

// ---------------------------------------------------------------------------------------------
// Catalog

/// Every service of the studio (members), filtered and paginated.
#[utoipa::path(get, path = "/v1/studios/{studio_id}/services", tag = "catalog", security(("bearer" = [])), params(StudioPath, CatalogFilter, PageParams),
    responses((status = 200, body = inline(Page<Service>)), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn list_services(
    State(state): State<AppState>,
    member: Member<AnyMember>,
    QueryParams(filter): QueryParams<CatalogFilter>,
    QueryParams(page): QueryParams<PageParams>,
) -> Result<Json<Page<Service>>> {
    let (items, next) =
        catalog::list_services(&state.platform, &member.access.studio_id, &filter, false, |q| page.apply(q))
            .await?;
    Ok(Json(Page::new(items, next)))
}

/// Creates a service (managers).
#[utoipa::path(post, path = "/v1/studios/{studio_id}/services", tag = "catalog", security(("bearer" = [])), params(StudioPath), request_body = ServiceDefinition,
    responses((status = 201, body = Service), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn create_service(
    State(state): State<AppState>,
    member: Member<Manager>,
    Json(definition): Json<ServiceDefinition>,
) -> Result<Created<Service>> {
    let service = catalog::create_service(&state.platform, member.actor(), definition).await?;
    Ok(Created(
        format!("/v1/studios/{}/services/{}", member.access.studio_id, service.id),
        service.version,
        service,
    ))
}

/// One service.
#[utoipa::path(get, path = "/v1/studios/{studio_id}/services/{service_id}", tag = "catalog", security(("bearer" = [])),
    params(("studio_id" = String, Path), ("service_id" = String, Path)),
    responses((status = 200, body = Service), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn get_service(
    State(state): State<AppState>,
    member: Member<AnyMember>,
    Path(path): Path<ServicePath>,
) -> Result<Tagged<Service>> {
    let service = catalog::service(&state.platform, &member.access.studio_id, &path.service_id).await?;
    Ok(Tagged(service.version, service))
}

/// Changes a service (managers; JSON merge patch; `If-Match` recommended). `{"active": false}`
/// withdraws it from the catalog.
#[utoipa::path(patch, path = "/v1/studios/{studio_id}/services/{service_id}", tag = "catalog", security(("bearer" = [])),
    params(("studio_id" = String, Path), ("service_id" = String, Path)),
    request_body(content = ServiceDefinition, description = "Any subset of the definition (JSON merge patch)"),
    responses((status = 200, body = Service), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn update_service(
    State(state): State<AppState>,
    member: Member<Manager>,
    Path(path): Path<ServicePath>,
    IfMatch(expected): IfMatch,
    Json(patch): Json<serde_json::Value>,
) -> Result<Tagged<Service>> {
    let service =
        catalog::update_service(&state.platform, member.actor(), &path.service_id, &patch, expected).await?;
    Ok(Tagged(service.version, service))
}

/// Every resource of the studio.
#[utoipa::path(get, path = "/v1/studios/{studio_id}/resources", tag = "catalog", security(("bearer" = [])), params(StudioPath, PageParams),
    responses((status = 200, body = inline(Page<Resource>)), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn list_resources(
    State(state): State<AppState>,
    member: Member<AnyMember>,
    QueryParams(page): QueryParams<PageParams>,
) -> Result<Json<Page<Resource>>> {
    let all = catalog::resources(&state.platform, &member.access.studio_id).await?;
    Ok(Json(page.slice(all, |r: &Resource| r.id.to_string())?))
}

/// Creates a resource (managers).
#[utoipa::path(post, path = "/v1/studios/{studio_id}/resources", tag = "catalog", security(("bearer" = [])), params(StudioPath), request_body = ResourceDefinition,
    responses((status = 201, body = Resource), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn create_resource(
    State(state): State<AppState>,
    member: Member<Manager>,
    Json(definition): Json<ResourceDefinition>,
) -> Result<Created<Resource>> {
    let resource = catalog::create_resource(&state.platform, member.actor(), definition).await?;
    Ok(Created(
        format!("/v1/studios/{}/resources/{}", member.access.studio_id, resource.id),
        resource.version,
        resource,
    ))
}

/// One resource.
#[utoipa::path(get, path = "/v1/studios/{studio_id}/resources/{resource_id}", tag = "catalog", security(("bearer" = [])),
    params(("studio_id" = String, Path), ("resource_id" = String, Path)),
    responses((status = 200, body = Resource), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn get_resource(
    State(state): State<AppState>,
    member: Member<AnyMember>,
    Path(path): Path<ResourcePath>,
) -> Result<Tagged<Resource>> {
    let resource = catalog::resource(&state.platform, &member.access.studio_id, &path.resource_id).await?;
    Ok(Tagged(resource.version, resource))
}

/// Changes a resource (managers; JSON merge patch).
#[utoipa::path(patch, path = "/v1/studios/{studio_id}/resources/{resource_id}", tag = "catalog", security(("bearer" = [])),
    params(("studio_id" = String, Path), ("resource_id" = String, Path)),
    request_body(content = ResourceDefinition, description = "Any subset of the definition (JSON merge patch)"),
    responses((status = 200, body = Resource), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn update_resource(
    State(state): State<AppState>,
    member: Member<Manager>,
    Path(path): Path<ResourcePath>,
    IfMatch(expected): IfMatch,
    Json(patch): Json<serde_json::Value>,
) -> Result<Tagged<Resource>> {
    let resource =
        catalog::update_resource(&state.platform, member.actor(), &path.resource_id, &patch, expected)
            .await?;
    Ok(Tagged(resource.version, resource))
}

// ---------------------------------------------------------------------------------------------
// Availability

/// A professional's weekly schedule.
#[utoipa::path(get, path = "/v1/studios/{studio_id}/professionals/{user_id}/availability", tag = "availability", security(("bearer" = [])),
    params(("studio_id" = String, Path), ("user_id" = String, Path)),
    responses((status = 200, body = Availability), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn get_availability(
    State(state): State<AppState>,
    member: Member<AnyMember>,
    Path(path): Path<UserPath>,
) -> Result<Tagged<Availability>> {
    let availability =
        availability::schedule(&state.platform, &member.access.studio_id, &path.user_id).await?;
    Ok(Tagged(availability.version, availability))
}

/// Replaces a professional's weekly schedule (their own, or as a manager).
#[utoipa::path(put, path = "/v1/studios/{studio_id}/professionals/{user_id}/availability", tag = "availability", security(("bearer" = [])),
    params(("studio_id" = String, Path), ("user_id" = String, Path)), request_body = WeeklySchedule,
    responses((status = 200, body = Availability), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn put_availability(
    State(state): State<AppState>,
    member: Member<AnyMember>,
    Path(path): Path<UserPath>,
    IfMatch(expected): IfMatch,
    Json(week): Json<WeeklySchedule>,
) -> Result<Tagged<Availability>> {
    let availability =
        availability::put_schedule(&state.platform, member.actor(), &path.user_id, week, expected).await?;
    Ok(Tagged(availability.version, availability))
}

/// A professional's exceptions touching a date range.
#[utoipa::path(get, path = "/v1/studios/{studio_id}/professionals/{user_id}/availability/exceptions", tag = "availability", security(("bearer" = [])),
    params(("studio_id" = String, Path), ("user_id" = String, Path), DateRange, PageParams),
    responses((status = 200, body = inline(Page<StoredException>)), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn list_exceptions(
    State(state): State<AppState>,
    member: Member<AnyMember>,
    Path(path): Path<UserPath>,
    QueryParams(range): QueryParams<DateRange>,
    QueryParams(page): QueryParams<PageParams>,
) -> Result<Json<Page<StoredException>>> {
    let all = availability::exceptions(
        &state.platform,
        &member.access.studio_id,
        &path.user_id,
        range.from,
        range.to,
    )
    .await?;
    // By start date, then id: the order a calendar shows them in.
    Ok(Json(page.slice(all, |e: &StoredException| format!("{}#{}", e.exception.start_date, e.id))?))
}

/// Adds time off or an extra opening (their own, or as a manager); overlaps are refused.
#[utoipa::path(post, path = "/v1/studios/{studio_id}/professionals/{user_id}/availability/exceptions", tag = "availability", security(("bearer" = [])),
    params(("studio_id" = String, Path), ("user_id" = String, Path)), request_body = AvailabilityException,
    responses((status = 201, body = StoredException), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn add_exception(
    State(state): State<AppState>,
    member: Member<AnyMember>,
    Path(path): Path<UserPath>,
    Json(exception): Json<AvailabilityException>,
) -> Result<(StatusCode, Json<StoredException>)> {
    let stored =
        availability::add_exception(&state.platform, member.actor(), &path.user_id, exception).await?;
    Ok((StatusCode::CREATED, Json(stored)))
}

/// Removes an exception.
#[utoipa::path(delete, path = "/v1/studios/{studio_id}/professionals/{user_id}/availability/exceptions/{exception_id}", tag = "availability",
    security(("bearer" = [])), params(ExceptionPath),
    responses((status = 204), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn remove_exception(
    State(state): State<AppState>,
    member: Member<AnyMember>,
    Path(path): Path<ExceptionPath>,
) -> Result<StatusCode> {
    availability::remove_exception(&state.platform, member.actor(), &path.user_id, &path.exception_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------------
// Policies

/// The studio's default cancellation policy.
#[utoipa::path(get, path = "/v1/studios/{studio_id}/cancellation-policy", tag = "policies", security(("bearer" = [])), params(StudioPath),
    responses((status = 200, body = StoredPolicy), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn get_default_policy(
    State(state): State<AppState>,
    member: Member<AnyMember>,
) -> Result<Tagged<StoredPolicy>> {
    let policy = policies::default_policy(&state.platform, &member.access.studio_id).await?;
    Ok(Tagged(policy.version, policy))
}

/// Replaces the studio's default cancellation policy (managers).
#[utoipa::path(put, path = "/v1/studios/{studio_id}/cancellation-policy", tag = "policies", security(("bearer" = [])), params(StudioPath),
    request_body = CancellationPolicy,
    responses((status = 200, body = StoredPolicy), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn put_default_policy(
    State(state): State<AppState>,
    member: Member<Manager>,
    IfMatch(expected): IfMatch,
    Json(policy): Json<CancellationPolicy>,
) -> Result<Tagged<StoredPolicy>> {
    let policy = policies::put_default_policy(&state.platform, member.actor(), policy, expected).await?;
    Ok(Tagged(policy.version, policy))
}

/// A service's own cancellation policy (`source: none` if it has none).
#[utoipa::path(get, path = "/v1/studios/{studio_id}/services/{service_id}/cancellation-policy", tag = "policies", security(("bearer" = [])),
    params(("studio_id" = String, Path), ("service_id" = String, Path)),
    responses((status = 200, body = StoredPolicy), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn get_service_policy(
    State(state): State<AppState>,
    member: Member<AnyMember>,
    Path(path): Path<ServicePath>,
) -> Result<Tagged<StoredPolicy>> {
    let policy =
        policies::service_policy(&state.platform, &member.access.studio_id, &path.service_id).await?;
    Ok(Tagged(policy.version, policy))
}

/// Replaces a service's own cancellation policy (managers).
#[utoipa::path(put, path = "/v1/studios/{studio_id}/services/{service_id}/cancellation-policy", tag = "policies", security(("bearer" = [])),
    params(("studio_id" = String, Path), ("service_id" = String, Path)), request_body = CancellationPolicy,
    responses((status = 200, body = StoredPolicy), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn put_service_policy(
    State(state): State<AppState>,
    member: Member<Manager>,
    Path(path): Path<ServicePath>,
    IfMatch(expected): IfMatch,
    Json(policy): Json<CancellationPolicy>,
) -> Result<Tagged<StoredPolicy>> {
    let policy =
        policies::put_service_policy(&state.platform, member.actor(), &path.service_id, policy, expected)
            .await?;
    Ok(Tagged(policy.version, policy))
}

/// Removes a service's own policy: the studio default applies (managers).
#[utoipa::path(delete, path = "/v1/studios/{studio_id}/services/{service_id}/cancellation-policy", tag = "policies", security(("bearer" = [])),
    params(("studio_id" = String, Path), ("service_id" = String, Path)),
    responses((status = 204), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn remove_service_policy(
    State(state): State<AppState>,
    member: Member<Manager>,
    Path(path): Path<ServicePath>,
) -> Result<StatusCode> {
    policies::remove_service_policy(&state.platform, member.actor(), &path.service_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The studio's overbooking configuration (managers).
#[utoipa::path(get, path = "/v1/studios/{studio_id}/overbooking", tag = "policies", security(("bearer" = [])), params(StudioPath),
    responses((status = 200, body = StoredOverbooking), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn get_studio_overbooking(
    State(state): State<AppState>,
    member: Member<Manager>,
) -> Result<Tagged<StoredOverbooking>> {
    let config = policies::overbooking(&state.platform, &member.access.studio_id, None).await?;
    Ok(Tagged(config.version, config))
}

/// Replaces the studio's overbooking configuration (managers).
#[utoipa::path(put, path = "/v1/studios/{studio_id}/overbooking", tag = "policies", security(("bearer" = [])), params(StudioPath),
    request_body = OverbookingConfig,
    responses((status = 200, body = StoredOverbooking), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn put_studio_overbooking(
    State(state): State<AppState>,
    member: Member<Manager>,
    IfMatch(expected): IfMatch,
    Json(config): Json<OverbookingConfig>,
) -> Result<Tagged<StoredOverbooking>> {
    let config = policies::put_overbooking(&state.platform, member.actor(), None, config, expected).await?;
    Ok(Tagged(config.version, config))
}

/// A professional's overbooking configuration (managers).
#[utoipa::path(get, path = "/v1/studios/{studio_id}/professionals/{user_id}/overbooking", tag = "policies", security(("bearer" = [])),
    params(("studio_id" = String, Path), ("user_id" = String, Path)),
    responses((status = 200, body = StoredOverbooking), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn get_professional_overbooking(
    State(state): State<AppState>,
    member: Member<Manager>,
    Path(path): Path<UserPath>,
) -> Result<Tagged<StoredOverbooking>> {
    let professional = path.user_id.clone();
    team::professional(&state.platform, &member.access.studio_id, &professional).await?;
    let config =
        policies::overbooking(&state.platform, &member.access.studio_id, Some(&professional)).await?;
    Ok(Tagged(config.version, config))
}

/// Replaces a professional's overbooking configuration (managers).
#[utoipa::path(put, path = "/v1/studios/{studio_id}/professionals/{user_id}/overbooking", tag = "policies", security(("bearer" = [])),
    params(("studio_id" = String, Path), ("user_id" = String, Path)), request_body = OverbookingConfig,
    responses((status = 200, body = StoredOverbooking), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn put_professional_overbooking(
    State(state): State<AppState>,
    member: Member<Manager>,
    Path(path): Path<UserPath>,
    IfMatch(expected): IfMatch,
    Json(config): Json<OverbookingConfig>,
) -> Result<Tagged<StoredOverbooking>> {
    let config =
        policies::put_overbooking(&state.platform, member.actor(), Some(&path.user_id), config, expected)
            .await?;
    Ok(Tagged(config.version, config))
}

// ---------------------------------------------------------------------------------------------
// Clients

/// Clients, by name, or those whose name, phone or email starts with `q` (members).
#[utoipa::path(get, path = "/v1/studios/{studio_id}/clients", tag = "clients", security(("bearer" = [])), params(StudioPath, ClientSearch, PageParams),
    responses((status = 200, body = inline(Page<Client>)), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn search_clients(
    State(state): State<AppState>,
    member: Member<AnyMember>,
    QueryParams(search): QueryParams<ClientSearch>,
    QueryParams(page): QueryParams<PageParams>,
) -> Result<Json<Page<Client>>> {
    let (items, next) =
        clients::search(&state.platform, &member.access.studio_id, &search, |q| page.apply(q)).await?;
    Ok(Json(Page::new(items, next)))
}

/// Adds a client (managers).
#[utoipa::path(post, path = "/v1/studios/{studio_id}/clients", tag = "clients", security(("bearer" = [])), params(StudioPath), request_body = ClientDetails,
    responses((status = 201, body = Client), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn create_client(
    State(state): State<AppState>,
    member: Member<Manager>,
    Json(details): Json<ClientDetails>,
) -> Result<Created<Client>> {
    let client = clients::create(&state.platform, member.actor(), details).await?;
    Ok(Created(
        format!("/v1/studios/{}/clients/{}", member.access.studio_id, client.id),
        client.version,
        client,
    ))
}

/// One client (members).
#[utoipa::path(get, path = "/v1/studios/{studio_id}/clients/{client_id}", tag = "clients", security(("bearer" = [])),
    params(("studio_id" = String, Path), ("client_id" = String, Path)),
    responses((status = 200, body = Client), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn get_client(
    State(state): State<AppState>,
    member: Member<AnyMember>,
    Path(path): Path<ClientPath>,
) -> Result<Tagged<Client>> {
    let client = clients::get(&state.platform, &member.access.studio_id, &path.client_id).await?;
    Ok(Tagged(client.version, client))
}

/// Changes a client (managers; JSON merge patch).
#[utoipa::path(patch, path = "/v1/studios/{studio_id}/clients/{client_id}", tag = "clients", security(("bearer" = [])),
    params(("studio_id" = String, Path), ("client_id" = String, Path)),
    request_body(content = ClientDetails, description = "Any subset of the details (JSON merge patch)"),
    responses((status = 200, body = Client), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn update_client(
    State(state): State<AppState>,
    member: Member<Manager>,
    Path(path): Path<ClientPath>,
    IfMatch(expected): IfMatch,
    Json(patch): Json<serde_json::Value>,
) -> Result<Tagged<Client>> {
    let client = clients::update(&state.platform, member.actor(), &path.client_id, &patch, expected).await?;
    Ok(Tagged(client.version, client))
}

/// Erases a client (managers).
#[utoipa::path(delete, path = "/v1/studios/{studio_id}/clients/{client_id}", tag = "clients", security(("bearer" = [])),
    params(("studio_id" = String, Path), ("client_id" = String, Path)),
    responses((status = 204), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn delete_client(
    State(state): State<AppState>,
    member: Member<Manager>,
    Path(path): Path<ClientPath>,
) -> Result<StatusCode> {
    clients::delete(&state.platform, member.actor(), &path.client_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The group's routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_studio))
        .routes(routes!(get_studio, update_studio))
        .routes(routes!(deactivate_studio))
        .routes(routes!(activate_studio))
        .routes(routes!(studio_audit))
        .routes(routes!(public_studio))
        .routes(routes!(public_services))
        .routes(routes!(public_professionals))
        .routes(routes!(public_service_policy))
        .routes(routes!(invite, list_invitations))
        .routes(routes!(revoke_invitation))
        .routes(routes!(accept_invitation))
        .routes(routes!(my_invitations))
        .routes(routes!(list_members))
        .routes(routes!(change_role, remove_member))
        .routes(routes!(list_professionals))
        .routes(routes!(get_professional, put_professional))
        .routes(routes!(list_services, create_service))
        .routes(routes!(get_service, update_service))
        .routes(routes!(list_resources, create_resource))
        .routes(routes!(get_resource, update_resource))
        .routes(routes!(get_availability, put_availability))
        .routes(routes!(list_exceptions, add_exception))
        .routes(routes!(remove_exception))
        .routes(routes!(get_default_policy, put_default_policy))
        .routes(routes!(get_service_policy, put_service_policy, remove_service_policy))
        .routes(routes!(get_studio_overbooking, put_studio_overbooking))
        .routes(routes!(get_professional_overbooking, put_professional_overbooking))
        .routes(routes!(search_clients, create_client))
        .routes(routes!(get_client, update_client, delete_client))
}
