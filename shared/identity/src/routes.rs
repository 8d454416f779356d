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

use atelier_http::AppState;
use atelier_http::access::{ClientMeta, SignedIn};
use atelier_http::extract::Json;
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

/// The group's routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(me, update_me))
        .routes(routes!(change_password))
}
