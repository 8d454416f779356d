//! Atelier's HTTP edge: one axum router per endpoint group, the same code path on Lambda, in
//! the local server and in tests. Errors leave as RFC 7807 problem+json, mapped in one place
//! ([`problem::ApiError`]).

pub mod access;
pub mod auth;
pub mod bookings;
pub mod config;
pub mod extract;
pub mod health;
pub mod logging;
pub mod middleware;
pub mod openapi;
pub mod pagination;
pub mod problem;
pub mod studios;
pub mod versions;

use std::sync::Arc;
use std::time::Duration;

use atelier_core::Platform;
use atelier_core::auth::AuthSettings;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Method, header};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa_axum::router::OpenApiRouter;

pub use config::HttpConfig;

/// What handlers share: the ports, identity settings and HTTP settings.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The ports.
    pub platform: Platform,
    /// Keys, hashing, limits; absent in functions that authenticate no one (health), which
    /// then never hold the signing keys.
    pub auth: Option<Arc<AuthSettings>>,
    /// HTTP settings.
    pub config: Arc<HttpConfig>,
}

impl AppState {
    /// State from ports and settings, without identity.
    pub fn new(platform: Platform, config: HttpConfig) -> AppState {
        AppState { platform, auth: None, config: Arc::new(config) }
    }

    /// The same state with identity settings.
    pub fn with_auth(mut self, auth: impl Into<Arc<AuthSettings>>) -> AppState {
        self.auth = Some(auth.into());
        self
    }

    /// Identity settings; their absence is a deployment error.
    pub fn auth(&self) -> Result<&AuthSettings, atelier_core::AppError> {
        self.auth
            .as_deref()
            .ok_or_else(|| atelier_core::AppError::Internal("this function has no identity settings".into()))
    }
}

/// An endpoint group: one Lambda function each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// Health, readiness, OpenAPI.
    Health,
    /// Accounts, sessions, the caller's profile.
    Auth,
    /// Studios: profile, team, catalog, availability, policies, clients; the public catalog.
    Studios,
    /// Free slots, bookings, waitlist, loyalty, calendar feeds.
    Bookings,
}

impl Group {
    /// Every group, as the local server mounts them.
    pub const ALL: [Group; 4] = [Group::Health, Group::Auth, Group::Studios, Group::Bookings];

    /// The group's routes with their OpenAPI description.
    pub fn routes(self) -> OpenApiRouter<AppState> {
        match self {
            Group::Health => health::routes(),
            Group::Auth => auth::routes(),
            Group::Studios => studios::routes(),
            Group::Bookings => bookings::routes(),
        }
    }

    /// Whether the group authenticates callers (and so needs identity settings).
    pub fn authenticates(self) -> bool {
        !matches!(self, Group::Health)
    }
}

/// The router for `groups`, with every layer: request context, panics, body limit, CORS.
///
/// # Panics
/// If a group authenticates callers and the state has no identity settings: a deployment
/// error, caught at start-up rather than on the first request.
pub fn router(state: AppState, groups: &[Group]) -> Router {
    assert!(
        state.auth.is_some() || !groups.iter().any(|g| g.authenticates()),
        "groups {groups:?} need identity settings (ATELIER_JWT_KEYS)"
    );
    let config = state.config.clone();
    let mut api = OpenApiRouter::new();
    for group in groups {
        api = api.merge(group.routes());
    }
    let (router, _) = api.split_for_parts();
    with_layers(router.fallback(middleware::not_found).with_state(state), &config)
}

/// Wraps any router in Atelier's layers (request context, panics, body limit, CORS).
pub fn with_layers(router: Router, config: &HttpConfig) -> Router {
    let router = router
        .layer(DefaultBodyLimit::max(config.body_limit))
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .layer(axum::middleware::from_fn(middleware::request_context));
    if config.cors_origins.is_empty() { router } else { router.layer(cors(config)) }
}

fn cors(config: &HttpConfig) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(config.cors_origins.clone()))
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            HeaderName::from_static("idempotency-key"),
            middleware::REQUEST_ID,
        ])
        .expose_headers([header::ETAG, header::LOCATION, header::RETRY_AFTER, middleware::REQUEST_ID])
        .max_age(Duration::from_secs(600))
}
