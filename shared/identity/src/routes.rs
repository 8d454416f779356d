//! The `auth` endpoint group: accounts, sessions, the caller's own profile.

use crate as auth;
use crate::{
    AuthSettings, Credentials, PasswordChange, ProfileChanges, Registration, SignedIn as Session, TokenPair,
    UserView,
};
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api_keys::{self, ApiKeyView, CreatedApiKey, NewApiKey};
use crate::oidc::{self, OidcSignIn, ProviderView};
use atelier_http::AppState;
use atelier_http::access::{ClientMeta, Member, Owner, SignedIn};
use atelier_http::extract::{Json, Path, Query, StudioPath};
use atelier_http::pagination::{Page, PageParams};
use atelier_http::problem::{ApiError, Problem};

/// This deployment's identity settings, put in the state by the app crate.
fn settings(state: &AppState) -> Result<&AuthSettings, ApiError> {
    Ok(state.setting::<std::sync::Arc<AuthSettings>>()?)
}

/// `POST /v1/auth/refresh`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token of the current pair.
    pub refresh_token: String,
}

/// Creates an account and signs it in.
#[utoipa::path(post, path = "/v1/auth/register", tag = "auth", request_body = Registration,
    responses(
        (status = 201, description = "Account created and signed in", body = Session),
        (status = 409, description = "Email already registered", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many registrations from this address", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn register(
    State(state): State<AppState>,
    ClientMeta(meta): ClientMeta,
    Json(request): Json<Registration>,
) -> Result<(StatusCode, Json<Session>), ApiError> {
    let session = auth::register(&state.platform, settings(&state)?, &meta, request).await?;
    Ok((StatusCode::CREATED, Json(session)))
}

/// Signs in. A wrong password and an unknown email get the same answer.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = Credentials,
    responses(
        (status = 200, description = "Signed in", body = Session),
        (status = 401, description = "Invalid email or password", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn login(
    State(state): State<AppState>,
    ClientMeta(meta): ClientMeta,
    Json(credentials): Json<Credentials>,
) -> Result<Json<Session>, ApiError> {
    Ok(Json(auth::login(&state.platform, settings(&state)?, &meta, credentials).await?))
}

/// Exchanges a refresh token for a new pair; the old refresh token is retired. Presenting a
/// retired token again within 30 seconds returns the same new pair (for a client that lost
/// the answer); later, it revokes the session.
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens", body = TokenPair),
        (status = 401, description = "Refresh token invalid, expired, reused, or session ended", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn refresh(
    State(state): State<AppState>,
    ClientMeta(meta): ClientMeta,
    Json(request): Json<RefreshRequest>,
) -> Result<Json<TokenPair>, ApiError> {
    Ok(Json(auth::refresh(&state.platform, settings(&state)?, &meta, &request.refresh_token).await?))
}

/// Ends the current session: its access and refresh tokens stop working at once.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn logout(
    State(state): State<AppState>,
    ClientMeta(meta): ClientMeta,
    SignedIn(who): SignedIn,
) -> Result<StatusCode, ApiError> {
    auth::logout(&state.platform, &meta, &who.caller).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's profile and studio memberships.
#[utoipa::path(get, path = "/v1/me", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "Profile", body = UserView),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn me(State(state): State<AppState>, SignedIn(who): SignedIn) -> Result<Json<UserView>, ApiError> {
    Ok(Json(auth::me(&state.platform, &who).await?))
}

/// Changes name, phone and the language of notices. Any other field (email, role, admin flag...) is refused.
#[utoipa::path(patch, path = "/v1/me", tag = "auth", security(("bearer" = [])), request_body = ProfileChanges,
    responses(
        (status = 200, description = "Updated profile", body = UserView),
        (status = 409, description = "Changed concurrently", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update_me(
    State(state): State<AppState>,
    ClientMeta(meta): ClientMeta,
    SignedIn(who): SignedIn,
    Json(changes): Json<ProfileChanges>,
) -> Result<Json<UserView>, ApiError> {
    Ok(Json(auth::update_profile(&state.platform, &meta, &who, changes).await?))
}

/// Changes the password; every other session is signed out.
#[utoipa::path(post, path = "/v1/me/password", tag = "auth", security(("bearer" = [])), request_body = PasswordChange,
    responses(
        (status = 204, description = "Password changed"),
        (status = 422, description = "Wrong current password or weak new one", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn change_password(
    State(state): State<AppState>,
    ClientMeta(meta): ClientMeta,
    SignedIn(who): SignedIn,
    Json(change): Json<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    auth::change_password(&state.platform, settings(&state)?, &meta, &who, change).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Signs in with an ID token from Google or Apple: the linked account, a new one, or (with
/// `password`) an existing account with the token's verified email, linked now.
#[utoipa::path(post, path = "/v1/auth/oidc/{provider}", tag = "auth",
    params(("provider" = String, Path, description = "`google` or `apple`")), request_body = OidcSignIn,
    responses(
        (status = 200, description = "Signed in", body = Session),
        (status = 201, description = "Account created and signed in", body = Session),
        (status = 401, description = "ID token refused, or the linked account's password is wrong", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The provider has not verified the email", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such provider in this deployment", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "An account has this email: send its password to link", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid body", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The provider's keys cannot be fetched", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn oidc_sign_in(
    State(state): State<AppState>,
    ClientMeta(meta): ClientMeta,
    Path(provider): Path<String>,
    Json(request): Json<OidcSignIn>,
) -> Result<(StatusCode, Json<Session>), ApiError> {
    let outcome = oidc::sign_in(&state.platform, settings(&state)?, &meta, &provider, request).await?;
    let status = if outcome.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(outcome.signed_in)))
}

/// The identity providers this deployment accepts, with the client ids their tokens must be for.
#[utoipa::path(get, path = "/v1/auth/oidc", tag = "auth", params(PageParams),
    responses((status = 200, body = inline(Page<ProviderView>)), (status = 400, body = Problem, content_type = "application/problem+json")))]
pub async fn oidc_providers(
    State(state): State<AppState>,
    Query(page): Query<PageParams>,
) -> Result<Json<Page<ProviderView>>, ApiError> {
    Ok(Json(page.slice(settings(&state)?.oidc.views(), |p| p.name.clone())?))
}

/// The path of one API key.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ApiKeyPath {
    /// The studio.
    #[param(value_type = String)]
    pub studio_id: atelier_domain::ids::StudioId,
    /// The key.
    #[param(value_type = String)]
    pub key_id: atelier_domain::ids::ApiKeyId,
}

/// Creates an API key for an integration (owners). The secret is in this answer only.
#[utoipa::path(post, path = "/v1/studios/{studio_id}/api-keys", tag = "api-keys", security(("bearer" = [])),
    params(StudioPath), request_body = NewApiKey,
    responses(
        (status = 201, description = "Created; store the secret now", body = CreatedApiKey),
        (status = 422, description = "Invalid fields, or too many keys", body = Problem, content_type = "application/problem+json"),
        (status = "4XX", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_api_key(
    State(state): State<AppState>,
    member: Member<Owner>,
    Json(request): Json<NewApiKey>,
) -> Result<(StatusCode, Json<CreatedApiKey>), ApiError> {
    let created = api_keys::create(&state.platform, member.actor(), &member.who.user, request).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// The studio's API keys, by creation (owners): prefixes only, never secrets.
#[utoipa::path(get, path = "/v1/studios/{studio_id}/api-keys", tag = "api-keys", security(("bearer" = [])),
    params(StudioPath, PageParams),
    responses(
        (status = 200, body = inline(Page<ApiKeyView>)),
        (status = "4XX", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_api_keys(
    State(state): State<AppState>,
    member: Member<Owner>,
    Query(page): Query<PageParams>,
) -> Result<Json<Page<ApiKeyView>>, ApiError> {
    let keys = api_keys::list(&state.platform, &member.access.studio_id).await?;
    Ok(Json(page.slice(keys, |k| k.id.to_string())?))
}

/// One API key (owners).
#[utoipa::path(get, path = "/v1/studios/{studio_id}/api-keys/{key_id}", tag = "api-keys", security(("bearer" = [])),
    params(ApiKeyPath),
    responses((status = 200, body = ApiKeyView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn get_api_key(
    State(state): State<AppState>,
    member: Member<Owner>,
    Path(path): Path<ApiKeyPath>,
) -> Result<Json<ApiKeyView>, ApiError> {
    Ok(Json(api_keys::get(&state.platform, &member.access.studio_id, &path.key_id).await?))
}

/// Revokes an API key at once (owners); revoking it again changes nothing.
#[utoipa::path(delete, path = "/v1/studios/{studio_id}/api-keys/{key_id}", tag = "api-keys", security(("bearer" = [])),
    params(ApiKeyPath),
    responses((status = 200, description = "Revoked", body = ApiKeyView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn revoke_api_key(
    State(state): State<AppState>,
    member: Member<Owner>,
    Path(path): Path<ApiKeyPath>,
) -> Result<Json<ApiKeyView>, ApiError> {
    Ok(Json(api_keys::revoke(&state.platform, member.actor(), &path.key_id).await?))
}

/// The group's routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(me, update_me))
        .routes(routes!(change_password))
        .routes(routes!(oidc_sign_in))
        .routes(routes!(oidc_providers))
        .routes(routes!(create_api_key, list_api_keys))
        .routes(routes!(get_api_key, revoke_api_key))
}
