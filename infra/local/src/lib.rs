//! The local host: every endpoint group on one port, with the queue workers and scheduled jobs
//! running in-process. Same routers and handlers as on Lambda. Over the embedded store by
//! default; over the AWS adapters (DynamoDB, SQS, S3, configured as on Lambda) with
//! `ATELIER_BACKEND=aws`.

pub mod demo;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use atelier_app::Group;
use atelier_app::jobs::{self, Job};
use atelier_embedded::{
    Embedded, EmbeddedBlobs, EmbeddedQueue, EmbeddedStore, LINK_PREFIX, LinkError, QueueOptions,
};
use atelier_http::HttpConfig;
use atelier_identity::{AuthSettings, HashCost, KeyRing, PasswordHasher};
use atelier_platform::Platform;
use atelier_platform::clock::{Clock, SystemClock};
use atelier_platform::ids::{IdGenerator, UlidGenerator};
use atelier_platform::metrics::{Metrics, Prometheus};
use atelier_platform::queue::QueueName;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;

/// Why the local server could not start.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// Opening the data directory failed.
    #[error(transparent)]
    Open(#[from] atelier_embedded::OpenError),
    /// A setting is wrong.
    #[error("{0}")]
    Config(String),
    /// Binding or serving failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Which adapters the local server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// redb in the data directory: no cloud account, no Java.
    #[default]
    Embedded,
    /// DynamoDB, SQS and S3, found as on Lambda (`ATELIER_TABLE`, `ATELIER_<NAME>_QUEUE_URL`,
    /// `ATELIER_EXPORTS_BUCKET`, `AWS_ENDPOINT_URL*`): emulators (`./infra/aws-stack`) or an
    /// account.
    Aws,
}

/// How to run.
#[derive(Debug, Clone)]
pub struct LocalOptions {
    /// Where the database and blobs live (`ATELIER_DATA_DIR`, default `.local/data`).
    pub data_dir: PathBuf,
    /// Where to listen (`PORT`, default 3000, on 127.0.0.1).
    pub addr: SocketAddr,
    /// HTTP settings.
    pub http: HttpConfig,
    /// How often idle queues are polled.
    pub poll_interval: Duration,
    /// How often the outbox is swept.
    pub sweep_interval: Duration,
    /// How often the booking jobs (holds, reminders, no-shows, points) run.
    pub job_interval: Duration,
    /// Password hashing cost (`ATELIER_ARGON2_*`).
    pub hash_cost: HashCost,
    /// Which adapters (`ATELIER_BACKEND`: `embedded`, the default, or `aws`).
    pub backend: Backend,
    /// Authenticated requests per caller per minute (`ATELIER_API_RATE_LIMIT`, default 100;
    /// the API fuzzing in `infra/test` raises it so its thousands of requests are not all 429).
    pub api_rate_limit: Option<u32>,
}

impl LocalOptions {
    /// Options from the environment.
    pub fn from_env() -> Result<LocalOptions, LocalError> {
        let port: u16 = match std::env::var("PORT") {
            Ok(p) => p.parse().map_err(|_| LocalError::Config(format!("PORT: `{p}` is not a port")))?,
            Err(_) => 3000,
        };
        Ok(LocalOptions {
            data_dir: std::env::var("ATELIER_DATA_DIR")
                .map_or_else(|_| PathBuf::from(".local/data"), PathBuf::from),
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            http: HttpConfig::from_env().map_err(|e| LocalError::Config(e.to_string()))?,
            poll_interval: Duration::from_millis(200),
            sweep_interval: Duration::from_secs(30),
            job_interval: Duration::from_secs(60),
            hash_cost: atelier_identity::hash_cost_from_env().map_err(LocalError::Config)?,
            backend: match std::env::var("ATELIER_BACKEND").as_deref() {
                Err(_) | Ok("" | "embedded") => Backend::Embedded,
                Ok("aws") => Backend::Aws,
                Ok(other) => {
                    return Err(LocalError::Config(format!(
                        "ATELIER_BACKEND: `{other}` is neither `embedded` nor `aws`"
                    )));
                }
            },
            api_rate_limit: match std::env::var("ATELIER_API_RATE_LIMIT") {
                Ok(n) => Some(n.parse().map_err(|_| {
                    LocalError::Config(format!("ATELIER_API_RATE_LIMIT: `{n}` is not a number of requests"))
                })?),
                Err(_) => None,
            },
        })
    }
}

/// Everything the local server runs, built but not started.
pub struct LocalApp {
    /// The ports.
    pub platform: Platform,
    /// Every endpoint group, plus local blob downloads.
    pub router: Router,
    /// The embedded queue.
    pub queue: EmbeddedQueue,
    /// The embedded blob store.
    pub blobs: Arc<EmbeddedBlobs>,
    /// The embedded store.
    pub store: EmbeddedStore,
    /// The payment provider, when one is configured (the mock by default).
    pub payments: Option<atelier_payments::provider::Configured>,
    /// The sockets of the live endpoint (`/v1/live`).
    pub live: Arc<atelier_realtime::local::LocalHub>,
    /// What `GET /metrics` shows.
    pub metrics: Arc<Prometheus>,
}

/// `GET /metrics`: every metric in Prometheus' text format, the names the Lambda functions
/// emit as EMF. Only the local server has it (on Lambda, CloudWatch holds the metrics), and it
/// listens on loopback.
pub fn metrics_route(registry: Arc<Prometheus>) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let registry = registry.clone();
            async move { ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], registry.render()) }
        }),
    )
}

/// Builds the app over `data_dir` with the given clock and ids.
pub fn build(
    options: &LocalOptions,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
) -> Result<LocalApp, LocalError> {
    build_with(options, clock, ids, |_| {})
}

/// [`build`], with the identity settings adjusted first (the demo lifts the per-caller limit).
pub fn build_with(
    options: &LocalOptions,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    adjust: impl FnOnce(&mut AuthSettings),
) -> Result<LocalApp, LocalError> {
    let parts = EmbeddedParts::open(&options.data_dir, clock.clone())?;
    let payments =
        atelier_payments::provider::from_env(clock.clone(), "mock", None).map_err(LocalError::Config)?;
    let mut platform = Platform::new(
        Arc::new(parts.store.clone()),
        Arc::new(parts.queue.clone()),
        parts.blobs.clone(),
        clock,
        ids,
    )
    .with_outbound(parts.outbound.clone())
    .relaying_in_background();
    if let Some(configured) = &payments {
        platform = platform.with_payments(configured.provider.clone());
    }
    let auth = auth_settings(options, adjust)?;
    let mut app = LocalApp::assemble(platform, parts, options.http.clone(), Arc::new(auth));
    app.payments = payments;
    Ok(app)
}

fn auth_settings(
    options: &LocalOptions,
    adjust: impl FnOnce(&mut AuthSettings),
) -> Result<AuthSettings, LocalError> {
    std::fs::create_dir_all(&options.data_dir)?;
    let mut auth = AuthSettings::new(
        local_key_ring(&options.data_dir)?,
        PasswordHasher::new(options.hash_cost).map_err(LocalError::Config)?,
    );
    if let Some(limit) = options.api_rate_limit {
        auth.limits.api_per_caller = limit;
    }
    auth.oidc = Arc::new(atelier_identity::oidc::OidcProviders::from_env());
    adjust(&mut auth);
    Ok(auth)
}

/// The app on the AWS adapters (`ATELIER_BACKEND=aws`).
pub struct AwsApp {
    /// The ports.
    pub platform: Platform,
    /// Every endpoint group.
    pub router: Router,
    /// The SDK clients (the queue poller receives with them).
    pub clients: atelier_aws::Clients,
    /// Where the table, queues and bucket are.
    pub settings: atelier_aws::AwsSettings,
    /// The payment provider, when one is configured (the mock by default).
    pub payments: Option<atelier_payments::provider::Configured>,
    /// The sockets of the live endpoint (`/v1/live`).
    pub live: Arc<atelier_realtime::local::LocalHub>,
}

/// The local server's app on either backend.
pub enum Host {
    /// On the embedded store.
    Embedded(Box<LocalApp>),
    /// On the AWS adapters.
    Aws(Box<AwsApp>),
}

/// Builds the app on the backend `options` name, with the given clock and ids.
pub async fn open(
    options: &LocalOptions,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    adjust: impl FnOnce(&mut AuthSettings),
) -> Result<Host, LocalError> {
    match options.backend {
        Backend::Embedded => Ok(Host::Embedded(Box::new(build_with(options, clock, ids, adjust)?))),
        Backend::Aws => {
            let settings =
                atelier_aws::AwsSettings::from_env().map_err(|e| LocalError::Config(e.to_string()))?;
            let config = atelier_aws::sdk_config().await;
            let clients = atelier_aws::Clients::new(&config, settings.s3_path_style);
            let payments = atelier_payments::provider::from_env(clock.clone(), "mock", None)
                .map_err(LocalError::Config)?;
            let registry = Arc::new(Prometheus::new());
            let mut platform = atelier_aws::platform_with(&clients, &settings, clock, ids)
                .relaying_in_background()
                .with_metrics(Metrics::new(registry.clone()));
            if let Some(configured) = &payments {
                platform = platform.with_payments(configured.provider.clone());
            }
            let auth = auth_settings(options, adjust)?;
            let state = atelier_app::with_identity(
                atelier_app::state(platform.clone(), options.http.clone()),
                Arc::new(auth),
            );
            let (live_router, live) = atelier_realtime::local::router(state.clone());
            let router = atelier_app::router(state, &Group::ALL)
                .merge(live_router)
                .merge(metrics_route(registry))
                .layer(axum::middleware::from_fn(atelier_http::transport::close_after_unread_body));
            Ok(Host::Aws(Box::new(AwsApp { platform, router, clients, settings, payments, live })))
        }
    }
}

impl Host {
    /// Every endpoint group (and, embedded, the blob downloads).
    pub fn router(&self) -> &Router {
        match self {
            Host::Embedded(app) => &app.router,
            Host::Aws(app) => &app.router,
        }
    }

    /// The mock payment provider, when it is the one configured.
    pub fn mock_payments(&self) -> Option<&Arc<atelier_payments::provider::mock::MockProvider>> {
        let payments = match self {
            Host::Embedded(app) => &app.payments,
            Host::Aws(app) => &app.payments,
        };
        payments.as_ref().and_then(|p| p.mock.as_ref())
    }

    /// Live connections open now.
    pub fn live_connections(&self) -> usize {
        match self {
            Host::Embedded(app) => app.live.open(),
            Host::Aws(app) => app.live.open(),
        }
    }

    /// The ports.
    pub fn platform(&self) -> &Platform {
        match self {
            Host::Embedded(app) => &app.platform,
            Host::Aws(app) => &app.platform,
        }
    }

    /// Runs the notifications worker until the queue and the outbox are empty: what the
    /// server's background workers would do, for commands that stop before a server runs (the
    /// demo). Returns how many messages it handled.
    pub async fn drain_notifications(&self) -> Result<usize, LocalError> {
        self.drain(atelier_notifications::QUEUE).await
    }

    /// The same for the exports queue: writes every export asked for.
    pub async fn drain_exports(&self) -> Result<usize, LocalError> {
        self.drain(atelier_reports::exports::QUEUE).await
    }

    async fn drain(&self, queue: QueueName) -> Result<usize, LocalError> {
        let platform = self.platform();
        let worker = atelier_app::worker(&queue, platform, QueueOptions::default().visibility);
        let failed = |e: &dyn std::fmt::Display| LocalError::Config(format!("delivering {queue}: {e}"));
        let mut handled = 0;
        // Handlers send new events (a booking's notices): go round until a round finds nothing.
        loop {
            // Relays still running in the background are sent again; the worker dedupes.
            platform.outbox.sweep(Duration::ZERO).await.map_err(|e| failed(&e))?;
            let mut round = 0;
            let mut empty = 0;
            loop {
                let n = match self {
                    Host::Embedded(app) => {
                        app.queue.poll_once(&queue, &worker).await.map_err(|e| failed(&e))?
                    }
                    Host::Aws(app) => match app.settings.queue_urls.get(&queue) {
                        // SQS may answer empty while messages wait: long-poll, and believe
                        // two empty answers in a row.
                        Some(url) => atelier_aws::sqs::poll_once(
                            &app.clients.sqs,
                            url,
                            &worker,
                            Duration::from_secs(1),
                        )
                        .await
                        .map_err(|e| failed(&e))?,
                        None => 0,
                    },
                };
                empty = if n == 0 { empty + 1 } else { 0 };
                let enough = if matches!(self, Host::Aws(_)) { 2 } else { 1 };
                if empty >= enough {
                    break;
                }
                round += n;
            }
            if round == 0 {
                return Ok(handled);
            }
            handled += round;
        }
    }

    /// Starts the queue workers and the scheduled jobs in the background.
    pub fn spawn_background(&self, options: &LocalOptions) {
        match self {
            Host::Embedded(app) => app.spawn_background(options),
            Host::Aws(app) => {
                // The real queues, long-polled, through the same glue as the Lambda event source.
                for queue in atelier_app::QUEUES {
                    match app.settings.queue_urls.get(&queue) {
                        Some(url) => {
                            let lease = Duration::from_secs(
                                atelier_aws::provision::QUEUE_SPEC.visibility_timeout.into(),
                            );
                            let worker = atelier_app::worker(&queue, &app.platform, lease);
                            tokio::spawn(atelier_aws::sqs::poll_forever(
                                app.clients.sqs.clone(),
                                url.clone(),
                                worker,
                            ));
                        }
                        None => tracing::warn!(%queue, "no queue URL: its messages stay queued"),
                    }
                }
                spawn_jobs(&app.platform, options);
            }
        }
    }
}

/// `ATELIER_JWT_KEYS` if set; otherwise a key generated on first run and kept in the data
/// directory, so tokens survive restarts of the local server.
fn local_key_ring(data_dir: &std::path::Path) -> Result<KeyRing, LocalError> {
    if let Ok(json) = std::env::var("ATELIER_JWT_KEYS") {
        return KeyRing::from_json(&json, "atelier").map_err(LocalError::Config);
    }
    let path = data_dir.join("jwt-keys.json");
    let json = match std::fs::read_to_string(&path) {
        Ok(json) => json,
        Err(_) => {
            let mut secret = [0u8; 32];
            getrandom::fill(&mut secret).map_err(|e| LocalError::Config(e.to_string()))?;
            let json = serde_json::json!([{
                "kid": format!("local-{}", ulid::Ulid::generate()),
                "secret": base64::engine::general_purpose::STANDARD.encode(secret),
                "status": "active",
            }])
            .to_string();
            write_private(&path, &json)?;
            json
        }
    };
    KeyRing::from_json(&json, "atelier").map_err(LocalError::Config)
}

/// The embedded adapters of one data directory.
pub struct EmbeddedParts {
    /// The store.
    pub store: EmbeddedStore,
    /// The queue.
    pub queue: EmbeddedQueue,
    /// The blobs.
    pub blobs: Arc<EmbeddedBlobs>,
    /// Email and SMS as files in the data directory (`ATELIER_MAIL_FROM`), webhooks as
    /// `ATELIER_WEBHOOKS_ALLOW_*` allow.
    pub outbound: atelier_platform::outbound::Outbound,
}

impl EmbeddedParts {
    /// Opens the data directory.
    pub fn open(data_dir: &std::path::Path, clock: Arc<dyn Clock>) -> Result<EmbeddedParts, LocalError> {
        let embedded = Embedded::open(data_dir)?;
        let store = embedded.store().map_err(|e| LocalError::Config(e.to_string()))?;
        let queue = embedded
            .queue(clock.clone(), QueueOptions::default())
            .map_err(|e| LocalError::Config(e.to_string()))?;
        let blobs = Arc::new(embedded.blobs(clock.clone()).map_err(|e| LocalError::Config(e.to_string()))?);
        let outbound = embedded.outbound(
            &atelier_platform::outbound::mail_from_env(),
            atelier_platform::outbound::WebhookPolicy::from_env(),
            clock,
        );
        Ok(EmbeddedParts { store, queue, blobs, outbound })
    }
}

impl LocalApp {
    /// The app over a platform built on `parts` (possibly wrapped, as tests do).
    pub fn assemble(
        platform: Platform,
        parts: EmbeddedParts,
        http: HttpConfig,
        auth: Arc<AuthSettings>,
    ) -> LocalApp {
        let registry = Arc::new(Prometheus::new());
        let platform = platform.with_metrics(Metrics::new(registry.clone()));
        let state = atelier_app::with_identity(atelier_app::state(platform.clone(), http), auth);
        let (live, hub) = atelier_realtime::local::router(state.clone());
        let downloads = Router::new()
            .route(&format!("{LINK_PREFIX}{{*key}}"), get(download))
            .with_state(parts.blobs.clone())
            .layer(axum::middleware::from_fn_with_state(
                atelier_http::middleware::Observed::new(platform.metrics.clone()),
                atelier_http::middleware::request_context,
            ));
        let router = atelier_app::router(state, &Group::ALL)
            .merge(downloads)
            .merge(live)
            .merge(metrics_route(registry.clone()))
            .layer(axum::middleware::from_fn(atelier_http::transport::close_after_unread_body));
        LocalApp {
            platform,
            metrics: registry,
            router,
            queue: parts.queue,
            blobs: parts.blobs,
            store: parts.store,
            payments: None,
            live: hub,
        }
    }
}

#[derive(serde::Deserialize)]
struct LinkParams {
    expires: i64,
    signature: String,
}

async fn download(
    State(blobs): State<Arc<EmbeddedBlobs>>,
    Path(key): Path<String>,
    Query(link): Query<LinkParams>,
) -> Response {
    match blobs.open_link(&key, link.expires, &link.signature) {
        Ok((path, content_type)) => match tokio::fs::read(&path).await {
            Ok(bytes) => ([(header::CONTENT_TYPE, content_type)], Body::from(bytes)).into_response(),
            Err(_) => StatusCode::NOT_FOUND.into_response(),
        },
        // S3 answers 403 for bad and expired signatures alike.
        Err(LinkError::BadSignature | LinkError::Expired) => StatusCode::FORBIDDEN.into_response(),
        Err(LinkError::NotFound) => StatusCode::NOT_FOUND.into_response(),
    }
}

impl LocalApp {
    /// Starts the queue workers and scheduled jobs in the background.
    pub fn spawn_background(&self, options: &LocalOptions) {
        for queue in atelier_app::QUEUES {
            let consumer = atelier_app::worker(&queue, &self.platform, QueueOptions::default().visibility);
            tokio::spawn(self.queue.clone().run(queue, consumer, options.poll_interval));
        }

        spawn_jobs(&self.platform, options);

        let store = self.store.clone();
        let clock = self.platform.clock.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(3600));
            loop {
                tick.tick().await;
                let store = store.clone();
                let now = clock.now().as_second();
                match tokio::task::spawn_blocking(move || store.purge_expired(now)).await {
                    Ok(Ok(n)) if n > 0 => tracing::info!(purged = n, "expired items purged"),
                    Ok(Err(e)) => {
                        tracing::error!(error = %atelier_platform::error::chain(&e), "TTL purge failed")
                    }
                    _ => {}
                }
            }
        });
    }
}

/// The scheduler's jobs, on the same kind of timers as the deployed schedules.
fn spawn_jobs(platform: &Platform, options: &LocalOptions) {
    for &job in Job::ALL {
        let platform = platform.clone();
        let every = match job {
            Job::OutboxSweep => options.sweep_interval,
            _ => options.job_interval,
        };
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                if let Err(e) = jobs::run(job, &platform).await {
                    tracing::error!(error = %atelier_platform::error::chain(&e), ?job, "scheduled job failed");
                }
            }
        });
    }
}

/// Writes a file only its owner can read (it holds a signing key).
fn write_private(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents.as_bytes())
}

/// Makes an existing account a platform administrator, on the local data directory.
pub async fn make_admin(
    options: &LocalOptions,
    email: &str,
) -> Result<atelier_domain::ids::UserId, LocalError> {
    let host = open(options, Arc::new(SystemClock), Arc::new(UlidGenerator), |_| {}).await?;
    atelier_identity::make_admin(host.platform(), email).await.map_err(|e| LocalError::Config(e.to_string()))
}

/// Compares (and with `--apply`, mends) a studio's daily tallies with its bookings.
pub async fn rebuild_tallies(options: &LocalOptions, args: &[&str]) -> Result<String, LocalError> {
    let host = open(options, Arc::new(SystemClock), Arc::new(UlidGenerator), |_| {}).await?;
    atelier_reports::rebuild::command(host.platform(), args)
        .await
        .map_err(|e| LocalError::Config(e.to_string()))
}

/// Runs the local server until Ctrl-C.
pub async fn serve(options: LocalOptions) -> Result<(), LocalError> {
    let host = open(&options, Arc::new(SystemClock), Arc::new(UlidGenerator), |_| {}).await?;
    let listener = tokio::net::TcpListener::bind(options.addr).await?;
    let url = format!("http://{}", listener.local_addr()?);
    match &host {
        Host::Embedded(app) => {
            app.blobs.set_base_url(&url);
            tracing::info!(data_dir = %options.data_dir.display(), "embedded store open");
        }
        Host::Aws(app) => {
            tracing::info!(table = %app.settings.table, queues = app.settings.queue_urls.len(), "on the AWS adapters");
        }
    }
    if let Some(mock) = host.mock_payments() {
        // The mock posts its signed webhooks to this server, as Stripe would; late payments
        // (`pm_card_late`) settle after ten seconds.
        mock.deliver_to(&format!("{url}/v1/payments/webhooks/mock"), Duration::from_secs(10));
    }
    host.spawn_background(&options);
    println!("Atelier listening on {url}");
    let service = host.router().clone().into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
