//! The Lambda host. A function's `main` names what it serves and calls one of these; the
//! routers, handlers and adapters are the same as in the local server and the tests.

#[cfg(any(feature = "identity", feature = "payments"))]
use std::sync::Arc;
use std::time::Duration;

use atelier_app::Group;
use atelier_http::access::SourceIp;
use atelier_http::logging::{self, LogFormat};
use atelier_http::{AppState, HttpConfig};
use atelier_platform::queue::QueueName;
use aws_lambda_events::sqs::SqsEvent;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;
use lambda_runtime::{Error, LambdaEvent, service_fn};

/// Every function's allocator: mimalloc, not glibc's malloc, which took a quarter of a slot
/// query's CPU time (docs/performance.md, "Free slots under load"); Lambda bills that time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Serves HTTP endpoint groups from API Gateway (HTTP API) events. Identity settings are loaded
/// only when a group authenticates callers.
pub async fn serve_http(groups: &[Group]) -> Result<(), Error> {
    logging::init(LogFormat::Json);
    let (platform, config) = platform_and_config().await?;
    let platform = with_payments(platform, &config)?;
    let mut state = atelier_app::state(platform, HttpConfig::from_env()?);
    if groups.iter().any(|g| g.authenticates()) {
        state = with_identity(state, &config)?;
    }
    let router = atelier_app::router(state, groups).layer(axum::middleware::from_fn(source_ip));
    lambda_http::run(router).await
}

/// The AWS adapters from the environment, recording metrics as EMF lines on standard output
/// (CloudWatch Logs makes them metrics), the function's name as their `function` dimension.
async fn platform_and_config()
-> Result<(atelier_platform::Platform, aws_config::SdkConfig), atelier_aws::ConfigError> {
    let (platform, config) = atelier_aws::platform_and_config_from_env().await?;
    let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "unknown".into());
    let emf = atelier_platform::metrics::Emf::stdout(&function);
    Ok((platform.with_metrics(atelier_platform::metrics::Metrics::new(std::sync::Arc::new(emf))), config))
}

/// Identity from the environment: hashing cost, and the key ring from `ATELIER_JWT_KEYS` or
/// Secrets Manager.
#[cfg(feature = "identity")]
fn with_identity(state: AppState, config: &aws_config::SdkConfig) -> Result<AppState, Error> {
    Ok(atelier_app::with_identity(state, auth_settings(config)?))
}

/// The identity settings: hashing cost, and the key ring from `ATELIER_JWT_KEYS` or Secrets
/// Manager.
#[cfg(feature = "identity")]
fn auth_settings(config: &aws_config::SdkConfig) -> Result<Arc<atelier_identity::AuthSettings>, Error> {
    use atelier_identity::{
        AuthSettings, KeyRing, KeySource, PasswordHasher, SecretKeys, StaticKeys, hash_cost_from_env,
    };
    let hasher = PasswordHasher::new(hash_cost_from_env()?)?;
    let issuer = std::env::var("ATELIER_JWT_ISSUER").unwrap_or_else(|_| "atelier".into());
    // A ring given in the environment is checked at start-up (a bad one fails the cold start,
    // not the first request); one in Secrets Manager is read on first use and re-read.
    let keys: Arc<dyn KeySource> = match std::env::var("ATELIER_JWT_KEYS") {
        Ok(json) => Arc::new(StaticKeys(Arc::new(KeyRing::from_json(&json, &issuer)?))),
        Err(_) => Arc::new(SecretKeys::new(atelier_aws::jwt_keys_secret_from_env(config)?, &issuer)),
    };
    let mut settings = AuthSettings::with_keys(keys, hasher);
    settings.oidc = Arc::new(atelier_identity::oidc::OidcProviders::from_env());
    Ok(Arc::new(settings))
}

/// Without identity no group that authenticates can be served: the router refuses to start.
#[cfg(not(feature = "identity"))]
fn with_identity(state: AppState, _: &aws_config::SdkConfig) -> Result<AppState, Error> {
    Ok(state)
}

/// The payment provider from the environment (`ATELIER_PAYMENTS_PROVIDER`: `stripe`, `mock` or
/// `none`, the default), Stripe's keys from the secret `ATELIER_STRIPE_SECRET_ARN` names (read
/// on first use, re-read every few minutes).
#[cfg(feature = "payments")]
fn with_payments(
    platform: atelier_platform::Platform,
    config: &aws_config::SdkConfig,
) -> Result<atelier_platform::Platform, Error> {
    let secret = std::env::var("ATELIER_STRIPE_SECRET_ARN").ok().filter(|s| !s.is_empty()).map(|arn| {
        let client = atelier_aws::SecretsManagerClient::new(config);
        Arc::new(atelier_aws::SecretsManagerSecret::new(client, &arn, atelier_aws::REFRESH_EVERY))
            as Arc<dyn atelier_platform::secrets::SecretSource>
    });
    let configured = atelier_payments::provider::from_env(platform.clock.clone(), "none", secret)?;
    Ok(match configured {
        Some(c) => platform.with_payments(c.provider),
        None => platform,
    })
}

/// Without payments the platform has no provider.
#[cfg(not(feature = "payments"))]
fn with_payments(
    platform: atelier_platform::Platform,
    _: &aws_config::SdkConfig,
) -> Result<atelier_platform::Platform, Error> {
    Ok(platform)
}

/// Puts API Gateway's view of the client address where the edge looks for it (the only source
/// a client cannot forge), and the invocation's X-Ray trace id where the request context
/// carries it across the outbox.
async fn source_ip(mut request: Request, next: Next) -> Response {
    let trace_id = request.lambda_context_ref().and_then(|c| c.xray_trace_id.clone());
    if let Some(trace_id) = trace_id {
        request.extensions_mut().insert(atelier_http::middleware::XrayTraceId(trace_id));
    }
    let ip = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.http.source_ip.clone(),
        _ => None,
    };
    if let Some(ip) = ip {
        request.extensions_mut().insert(SourceIp(ip));
    }
    next.run(request).await
}

/// Consumes a queue: batches from SQS through the worker host, failures reported back.
pub async fn serve_queue(queue: QueueName) -> Result<(), Error> {
    logging::init(LogFormat::Json);
    let (platform, config) = platform_and_config().await?;
    let platform = with_payments(platform, &config)?;
    let lease = Duration::from_secs(atelier_aws::provision::QUEUE_SPEC.visibility_timeout.into());
    let worker = atelier_app::worker(&queue, &platform, lease);
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let worker = worker.clone();
        async move { Ok::<_, Error>(atelier_aws::handle_sqs_batch(&worker, event.payload).await) }
    }))
    .await
}

/// Runs scheduled jobs: each EventBridge schedule passes `{"job": "<name>"}`.
pub async fn serve_schedules() -> Result<(), Error> {
    logging::init(LogFormat::Json);
    let (platform, config) = platform_and_config().await?;
    let platform = with_payments(platform, &config)?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let platform = platform.clone();
        async move { atelier_app::jobs::run_scheduled(&platform, event.payload).await.map_err(Error::from) }
    }))
    .await
}

/// Serves the WebSocket API's `$connect`, `$default` and `$disconnect` routes (the `realtime`
/// function): the same session code as the local server's live endpoint, answering through
/// the management API at `ATELIER_WEBSOCKET_ENDPOINT`.
#[cfg(feature = "realtime")]
pub async fn serve_websocket() -> Result<(), Error> {
    use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
    logging::init(LogFormat::Json);
    let (platform, config) = platform_and_config().await?;
    let auth = auth_settings(&config)?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| {
        let (platform, auth) = (platform.clone(), auth.clone());
        async move { Ok::<_, Error>(websocket::route(&platform, auth.as_ref(), event.payload).await) }
    }))
    .await
}

#[cfg(feature = "realtime")]
pub mod websocket;
