//! Atelier assembled: the one place that lists every capability. Endpoint groups and their
//! routers, the event handlers of each queue, the jobs of the scheduler, the OpenAPI document.
//! The Lambda functions, the local server, the tests and the benchmarks all build from here, so
//! they run the same code. Adding a capability is a new crate plus lines in this crate.

pub mod health;
pub mod jobs;
pub mod openapi;

use std::sync::Arc;
use std::time::Duration;

use atelier_http::{AppState, HttpConfig};
use atelier_identity::AuthSettings;
use atelier_platform::Platform;
use atelier_platform::queue::QueueName;
use atelier_platform::worker::Worker;
use axum::Router;
use utoipa_axum::router::OpenApiRouter;

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
            Group::Auth => atelier_identity::routes::routes(),
            Group::Studios => atelier_studios::routes::routes(),
            Group::Bookings => atelier_bookings::routes::routes(),
        }
    }

    /// Whether the group authenticates callers (and so needs identity settings).
    pub fn authenticates(self) -> bool {
        !matches!(self, Group::Health)
    }
}

/// The state every group's handlers share: the ports, HTTP settings and, when given, identity
/// (which authenticates callers and signs tokens).
pub fn state(platform: Platform, config: HttpConfig, identity: Option<Arc<AuthSettings>>) -> AppState {
    let state = AppState::new(platform, config);
    match identity {
        Some(settings) => state.with_authenticator(settings.clone()).with_setting(settings),
        None => state,
    }
}

/// The router for `groups`, with every layer: request context, panics, body limit, CORS.
///
/// # Panics
/// If a group authenticates callers and the state has no identity settings: a deployment
/// error, caught at start-up rather than on the first request.
pub fn router(state: AppState, groups: &[Group]) -> Router {
    assert!(
        state.has_setting::<Arc<AuthSettings>>() || !groups.iter().any(|g| g.authenticates()),
        "groups {groups:?} need identity settings (ATELIER_JWT_KEYS)"
    );
    let config = state.config.clone();
    let mut api = OpenApiRouter::new();
    for group in groups {
        api = api.merge(group.routes());
    }
    let (router, _) = api.split_for_parts();
    atelier_http::with_layers(router.fallback(atelier_http::middleware::not_found).with_state(state), &config)
}

/// The worker for `queue`, with every capability's handler for the event kinds that travel on
/// it. `lease` bounds how long a crashed run blocks a redelivery: the queue's visibility timeout.
pub fn worker(queue: QueueName, platform: &Platform, lease: Duration) -> Worker {
    let worker = Worker::new(queue.as_str(), platform.store.clone(), platform.clock.clone(), lease);
    match queue {
        QueueName::Notifications => atelier_notifications::handlers(platform)
            .into_iter()
            .chain(atelier_bookings::handlers::handlers(platform))
            .fold(worker, |worker, (kind, handler)| worker.on(kind, handler)),
        // No capability consumes exports yet.
        QueueName::Exports => worker,
    }
}
