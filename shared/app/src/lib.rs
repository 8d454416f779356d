//! Atelier assembled: the one place that lists every capability. Endpoint groups and their
//! routers, the event handlers of each queue, the jobs of the scheduler, the OpenAPI document.
//! The Lambda functions, the local server, the tests and the benchmarks all build from here, so
//! they run the same code. Adding a capability is a new crate plus lines in this crate.

pub mod health;
pub mod jobs;
#[cfg(feature = "all")]
pub mod openapi;

#[cfg(any(feature = "identity", feature = "payments"))]
use std::sync::Arc;
use std::time::Duration;

use atelier_http::{AppState, HttpConfig};
#[cfg(feature = "identity")]
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
    /// The signed-in user's inbox.
    Notifications,
    /// Checkout, payments in person, refunds, the ledger; the provider's webhook.
    Payments,
    /// Products and their catalogue, stock movements, valuation, what services use, sales.
    Inventory,
    /// Projects with their items, crew, expenses and totals; the project dashboard.
    Projects,
    /// The studio dashboard, reports, the platform report, exports and imports.
    Reports,
}

impl Group {
    /// Every group, as the local server mounts them.
    pub const ALL: [Group; 9] = [
        Group::Health,
        Group::Auth,
        Group::Studios,
        Group::Bookings,
        Group::Notifications,
        Group::Payments,
        Group::Inventory,
        Group::Projects,
        Group::Reports,
    ];

    /// The group's routes with their OpenAPI description.
    ///
    /// # Panics
    /// If this build leaves out the group's capability (a function built without its
    /// feature): a deployment error, caught when the router is built at start-up.
    pub fn routes(self) -> OpenApiRouter<AppState> {
        match self {
            Group::Health => health::routes(),
            #[cfg(feature = "identity")]
            Group::Auth => atelier_identity::routes::routes(),
            #[cfg(feature = "studios")]
            Group::Studios => atelier_studios::routes::routes(),
            #[cfg(feature = "bookings")]
            Group::Bookings => atelier_bookings::routes::routes(),
            #[cfg(feature = "notifications")]
            Group::Notifications => atelier_notifications::routes::routes(),
            #[cfg(feature = "payments")]
            Group::Payments => atelier_payments::routes::routes(),
            #[cfg(feature = "inventory")]
            Group::Inventory => atelier_inventory::routes::routes(),
            #[cfg(feature = "projects")]
            Group::Projects => atelier_projects::routes::routes(),
            #[cfg(feature = "reports")]
            Group::Reports => atelier_reports::routes::routes(),
            #[allow(unreachable_patterns)]
            other => panic!("this build of atelier-app leaves out the {other:?} group (enable its feature)"),
        }
    }

    /// The group's name, the `group` dimension of request metrics.
    pub fn name(self) -> &'static str {
        match self {
            Group::Health => "health",
            Group::Auth => "auth",
            Group::Studios => "studios",
            Group::Bookings => "bookings",
            Group::Notifications => "notifications",
            Group::Payments => "payments",
            Group::Inventory => "inventory",
            Group::Projects => "projects",
            Group::Reports => "reports",
        }
    }

    /// Whether the group authenticates callers (and so needs identity settings).
    pub fn authenticates(self) -> bool {
        !matches!(self, Group::Health)
    }
}

/// The state every group's handlers share: the ports and HTTP settings, authenticating no one
/// (enough for the health group).
/// With payments configured, creating a booking held for its deposit answers with what to pay.
pub fn state(platform: Platform, config: HttpConfig) -> AppState {
    #[cfg(feature = "payments")]
    let payments = platform.payments.is_some();
    let state = AppState::new(platform, config);
    #[cfg(feature = "payments")]
    if payments {
        return state.with_setting(atelier_bookings::deposits::Checkout(Arc::new(
            atelier_payments::checkout::Deposits,
        )));
    }
    state
}

/// The same state with identity: it authenticates callers, and the auth group signs tokens.
#[cfg(feature = "identity")]
pub fn with_identity(state: AppState, settings: Arc<AuthSettings>) -> AppState {
    state.with_authenticator(settings.clone()).with_setting(settings)
}

/// The router for `groups`, with every layer: request context, panics, body limit, CORS.
///
/// # Panics
/// If a group authenticates callers and the state has no identity settings: a deployment
/// error, caught at start-up rather than on the first request.
pub fn router(state: AppState, groups: &[Group]) -> Router {
    assert!(
        state.authenticator.is_some() || !groups.iter().any(|g| g.authenticates()),
        "groups {groups:?} need identity settings (ATELIER_JWT_KEYS)"
    );
    let config = state.config.clone();
    let mut router = Router::new();
    // Each route template's group, for the request metric's `group` dimension.
    let mut route_groups = std::collections::HashMap::new();
    for group in groups {
        let (routes, api) = group.routes().split_for_parts();
        for path in api.paths.paths.keys() {
            route_groups.insert(path.clone(), group.name());
        }
        router = router.merge(routes);
    }
    let observed = atelier_http::middleware::Observed {
        metrics: state.platform.metrics.clone(),
        groups: std::sync::Arc::new(route_groups),
    };
    atelier_http::with_layers(
        router.fallback(atelier_http::middleware::not_found).with_state(state),
        &config,
        observed,
    )
}

/// Every queue the deployment has (the template declares one source queue, with its dead-letter
/// queue, for each). Capabilities name the queue they send to; it must be one of these.
pub const QUEUES: [QueueName; 2] = [QueueName::named("notifications"), QueueName::named("exports")];

/// The worker for `queue`, with every capability's handler for the event kinds that travel on
/// it. `lease` bounds how long a crashed run blocks a redelivery: the queue's visibility timeout.
pub fn worker(queue: &QueueName, platform: &Platform, lease: Duration) -> Worker {
    // Which capabilities fill it depends on the build (see the features).
    #[allow(unused_mut)]
    let mut handlers = Vec::new();
    #[cfg(feature = "notifications")]
    if *queue == atelier_notifications::QUEUE {
        handlers.extend(atelier_notifications::handlers(platform));
        #[cfg(feature = "studios")]
        handlers.extend(atelier_studios::alerts::handlers(platform));
        #[cfg(feature = "bookings")]
        handlers.extend(atelier_bookings::handlers::handlers(platform));
        #[cfg(feature = "payments")]
        handlers.extend(atelier_payments::notices::handlers(platform));
        // After the notices of an event, its webhook messages (each handler is idempotent).
        let fan_out = atelier_notifications::webhooks::FanOut::new(platform.clone());
        for kind in atelier_notifications::webhooks::EVENT_TYPES {
            handlers
                .push((kind, fan_out.clone() as std::sync::Arc<dyn atelier_platform::worker::EventHandler>));
        }
        // Added last: a handler's claims are keyed by its position among an event kind's
        // handlers, so a new capability appended after the others never takes over the claim
        // of one that ran before a deploy (a redelivered `booking.completed` would otherwise
        // skip its consumption, or send its webhook twice).
        #[cfg(feature = "inventory")]
        handlers.extend(atelier_inventory::alerts::handlers(platform));
        #[cfg(feature = "projects")]
        handlers.extend(atelier_projects::alerts::handlers(platform));
        // Live changes, when a WebSocket API is deployed (a host that feeds its own sockets
        // from the outbox tap has no pusher, so nothing is pushed twice).
        #[cfg(feature = "realtime")]
        handlers.extend(atelier_realtime::fanout::handlers(platform));
    }
    #[cfg(feature = "reports")]
    if *queue == atelier_reports::exports::QUEUE {
        handlers.extend(atelier_reports::exports::worker::handlers(platform, lease));
        handlers.extend(atelier_reports::imports::worker::handlers(platform, lease));
    }
    let worker = Worker::new(queue.as_str(), platform.store.clone(), platform.clock.clone(), lease)
        .with_metrics(platform.metrics.clone());
    handlers.into_iter().fold(worker, |worker, (kind, handler)| worker.on(kind, handler))
}

#[cfg(test)]
mod tests {
    #[cfg(feature = "payments")]
    #[test]
    fn every_webhook_event_type_is_an_event_bookings_raises() {
        for kind in atelier_notifications::webhooks::EVENT_TYPES {
            let payments = [atelier_payments::intents::SUCCEEDED, atelier_payments::intents::REFUNDED];
            assert!(
                atelier_bookings::events::NOTICE_KINDS.contains(&kind) || payments.contains(&kind),
                "{kind} is never raised"
            );
        }
    }

    #[cfg(feature = "notifications")]
    #[test]
    fn every_queue_a_capability_sends_to_is_deployed() {
        assert!(super::QUEUES.contains(&atelier_notifications::QUEUE));
        #[cfg(feature = "reports")]
        assert!(super::QUEUES.contains(&atelier_reports::exports::QUEUE));
    }

    #[test]
    fn deployed_queue_names_are_valid_configuration_names() {
        for queue in super::QUEUES {
            assert_eq!(atelier_platform::queue::QueueName::parse(queue.as_str()), Some(queue));
        }
    }
}
