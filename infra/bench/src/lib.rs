//! Shared bits of the benchmark drivers.

use std::time::Duration;

/// Percentiles of a sample, in microseconds.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    /// Samples.
    pub n: usize,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

/// Summarises durations.
pub fn summarise(samples: &mut [Duration]) -> Summary {
    samples.sort_unstable();
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    let at = |q: f64| {
        let index = ((samples.len() as f64 - 1.0) * q).round() as usize;
        micros(samples[index])
    };
    let total: f64 = samples.iter().map(|d| micros(*d)).sum();
    Summary {
        n: samples.len(),
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
        max: micros(samples[samples.len() - 1]),
        mean: total / samples.len() as f64,
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "n={} p50={:.1}µs p90={:.1}µs p99={:.1}µs max={:.1}µs mean={:.1}µs",
            self.n, self.p50, self.p90, self.p99, self.max, self.mean
        )
    }
}

/// Sends one request through a router: status and JSON body (null when not JSON).
pub async fn call(
    router: &axum::Router,
    request: http::Request<axum::body::Body>,
) -> (u16, serde_json::Value) {
    use tower::ServiceExt;
    let response = router.clone().oneshot(request).await.expect("response");
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
    (status, serde_json::from_slice(&bytes).unwrap_or_default())
}

/// The embedded adapters in `dir` and a platform over them, on the system clock.
pub fn embedded_platform(
    dir: &std::path::Path,
) -> (atelier_local::EmbeddedParts, atelier_platform::Platform) {
    use std::sync::Arc;
    let clock = Arc::new(atelier_platform::clock::SystemClock);
    let parts = atelier_local::EmbeddedParts::open(dir, clock.clone()).expect("data dir");
    let platform = atelier_platform::Platform::new(
        Arc::new(parts.store.clone()),
        Arc::new(parts.queue.clone()),
        parts.blobs.clone(),
        clock,
        Arc::new(atelier_platform::ids::UlidGenerator),
    );
    (parts, platform)
}

/// Registers `email` through the router: its access token and user id.
pub async fn register(router: &axum::Router, email: &str, name: &str) -> (String, String) {
    let body =
        serde_json::json!({ "email": email, "password": "correct horse battery staple", "name": name });
    let request = http::Request::post("/v1/auth/register")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .expect("request");
    let (_, body) = call(router, request).await;
    let token = body["tokens"]["access_token"].as_str().expect("token").to_owned();
    (token, body["user"]["id"].as_str().expect("id").to_owned())
}

/// A throwaway one-key ring for signing the benchmark's tokens.
pub fn bench_keys() -> atelier_identity::KeyRing {
    use base64::Engine;
    let secret = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    atelier_identity::KeyRing::from_json(
        &format!(r#"{{"kid":"bench","secret":"{secret}","status":"active"}}"#),
        "atelier",
    )
    .expect("keys")
}

/// A JSON request with a bearer token.
pub fn json_request(
    method: &str,
    uri: &str,
    token: &str,
    body: serde_json::Value,
) -> http::Request<axum::body::Body> {
    http::Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::from(body.to_string()))
        .expect("request")
}
