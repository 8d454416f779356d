//! Atelier's HTTP kit: what every capability's routes are built with — problem+json errors
//! (mapped in one place, [`problem::ApiError`]), extractors (`Json`, `Path`, `Query`,
//! `SignedIn`, `Member<R>`, `IdempotencyKey`), middleware, pagination, ETags and the shared
//! state. It names no capability: the app crate assembles the endpoint groups.

pub mod access;
pub mod config;
pub mod extract;
pub mod idempotency;
pub mod logging;
pub mod middleware;
pub mod pagination;
pub mod problem;
pub mod transport;
pub mod versions;

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use atelier_platform::access::Authenticator;
use atelier_platform::{AppError, Platform};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Method, header};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};

pub use config::HttpConfig;

/// What handlers share: the ports, how callers are authenticated, HTTP settings, and each
/// capability's own settings (identity's keys, later a payment provider), which the app crate
/// puts in and the capability takes out by type.
#[derive(Clone)]
pub struct AppState {
    /// The ports.
    pub platform: Platform,
    /// Turns bearer tokens into callers; absent in functions that authenticate no one
    /// (health), which then never hold the signing keys.
    pub authenticator: Option<Arc<dyn Authenticator>>,
    /// HTTP settings.
    pub config: Arc<HttpConfig>,
    settings: Arc<axum::http::Extensions>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("platform", &self.platform)
            .field("authenticates", &self.authenticator.is_some())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// State from ports and settings, authenticating no one.
    pub fn new(platform: Platform, config: HttpConfig) -> AppState {
        AppState {
            platform,
            authenticator: None,
            config: Arc::new(config),
            settings: Arc::new(axum::http::Extensions::new()),
        }
    }

    /// The same state, authenticating callers with `authenticator`.
    pub fn with_authenticator(mut self, authenticator: Arc<dyn Authenticator>) -> AppState {
        self.authenticator = Some(authenticator);
        self
    }

    /// The same state with a capability's settings (one value per type).
    pub fn with_setting<T: Any + Clone + Send + Sync>(mut self, setting: T) -> AppState {
        Arc::make_mut(&mut self.settings).insert(setting);
        self
    }

    /// A capability's settings; their absence is a deployment error (500), which the app
    /// crate's start-up checks rule out.
    pub fn setting<T: Any + Clone + Send + Sync>(&self) -> Result<&T, AppError> {
        self.settings.get::<T>().ok_or_else(|| {
            AppError::Internal(format!("this function has no {} settings", std::any::type_name::<T>()))
        })
    }

    /// Whether the state carries settings of type `T`.
    pub fn has_setting<T: Any + Clone + Send + Sync>(&self) -> bool {
        self.settings.get::<T>().is_some()
    }

    /// The authenticator; its absence is a deployment error.
    pub fn authenticator(&self) -> Result<&dyn Authenticator, AppError> {
        self.authenticator
            .as_deref()
            .ok_or_else(|| AppError::Internal("this function authenticates no one".into()))
    }
}

/// Wraps any router in Atelier's layers (request context, panics, body limit, CORS); each
/// request's latency is recorded as `observed` says.
pub fn with_layers(router: Router, config: &HttpConfig, observed: middleware::Observed) -> Router {
    let router = router
        .layer(DefaultBodyLimit::max(config.body_limit))
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .layer(axum::middleware::from_fn(transport::limits))
        .layer(axum::middleware::from_fn_with_state(observed, middleware::request_context));
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
            header::IF_NONE_MATCH,
            HeaderName::from_static("idempotency-key"),
            middleware::REQUEST_ID,
        ])
        .expose_headers([header::ETAG, header::LOCATION, header::RETRY_AFTER, middleware::REQUEST_ID])
        .max_age(Duration::from_secs(600))
}
