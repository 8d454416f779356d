//! Posting a webhook: hyper's client with rustls (ring, the system's roots), a resolver that
//! refuses names resolving only to private addresses, no redirects followed (a 3xx is a failed
//! attempt: a receiver must answer at its registered URL), a timeout over the whole exchange,
//! and at most a bounded excerpt of the response kept.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use atelier_platform::outbound::WebhookPolicy;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::TokioExecutor;

use super::targets::{self, Target};

/// How long one attempt may take, connection included.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Most characters of a response body kept in the delivery log.
pub const EXCERPT_MAX: usize = 1024;

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status, if the receiver answered.
    pub status: Option<u16>,
    /// Why there was no answer (timeout, refused address, TLS, connection).
    pub error: Option<String>,
    /// Milliseconds from sending to the answer (or the failure).
    pub latency_ms: u64,
    /// The start of the response body.
    pub excerpt: String,
}

impl Response {
    /// A 2xx answer within the timeout.
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Resolves names for webhooks, keeping only the addresses a webhook may reach.
#[derive(Clone, Copy)]
struct GuardedResolver {
    policy: WebhookPolicy,
}

impl tower_service::Service<Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let policy = self.policy;
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> =
                found.into_iter().filter(|a| targets::allowed(a.ip(), policy)).collect();
            if allowed.is_empty() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    format!("{} resolves only to private or reserved addresses", name.as_str()),
                ));
            }
            Ok(allowed.into_iter())
        })
    }
}

fn tls() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            for cert in rustls_native_certs::load_native_certs().certs {
                // A certificate the store cannot use is skipped, as browsers do.
                let _ = roots.add(cert);
            }
            let config = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
            Arc::new(config)
        })
        .clone()
}

/// POSTs `body` to `target` with `headers`, within [`TIMEOUT`].
pub async fn post(
    target: &Target,
    policy: WebhookPolicy,
    headers: &[(&str, String)],
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let failed = |error: String| Response {
        status: None,
        error: Some(error),
        latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        excerpt: String::new(),
    };
    // An address literal never reaches the resolver: check it here.
    if let Ok(ip) = target.host.parse::<std::net::IpAddr>()
        && !targets::allowed(ip, policy)
    {
        return failed("the target is a private or reserved address".into());
    }
    let mut http = HttpConnector::new_with_resolver(GuardedResolver { policy });
    http.enforce_http(false);
    http.set_connect_timeout(Some(TIMEOUT));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config((*tls()).clone())
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(https);
    let mut request = http::Request::post(target.uri.clone());
    for (name, value) in headers {
        request = request.header(*name, value.as_str());
    }
    let request = match request.body(Full::new(body)) {
        Ok(request) => request,
        Err(e) => return failed(format!("building the request: {e}")),
    };
    let exchange = async {
        let response = client.request(request).await.map_err(|e| atelier_platform::error::chain(&e))?;
        let status = response.status().as_u16();
        // Read a little of the body for the log; a receiver streaming forever hits the timeout.
        let body = Limited::new(response.into_body(), 64 * 1024).collect().await;
        let excerpt = match body {
            Ok(collected) => {
                String::from_utf8_lossy(&collected.to_bytes()).chars().take(EXCERPT_MAX).collect()
            }
            Err(_) => String::new(),
        };
        Ok::<_, String>((status, excerpt))
    };
    match tokio::time::timeout(TIMEOUT, exchange).await {
        Ok(Ok((status, excerpt))) => Response {
            status: Some(status),
            error: None,
            latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            excerpt,
        },
        Ok(Err(error)) => failed(error),
        Err(_) => failed(format!("no answer within {} s", TIMEOUT.as_secs())),
    }
}
