//! What metrics cost: one measurement recorded into each sink, and a request through the full
//! router with the local server's `/metrics` registry against the same router recording nowhere.
//!
//! Usage: `metrics-bench [iterations]` (build with `--release`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use atelier_bench::summarise;
use atelier_local::{LocalOptions, build};
use atelier_platform::clock::SystemClock;
use atelier_platform::ids::UlidGenerator;
use atelier_platform::metrics::{Emf, Metric, Metrics, MetricsSink, Prometheus};
use axum::body::Body;
use http::Request;
use tower::ServiceExt;

fn per_call(iterations: usize, mut f: impl FnMut(usize)) -> Duration {
    let started = Instant::now();
    for i in 0..iterations {
        f(i);
    }
    started.elapsed() / u32::try_from(iterations).unwrap_or(u32::MAX)
}

#[tokio::main]
async fn main() {
    let iterations: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(200_000);
    let labels =
        [("group", "bookings"), ("status_class", "2xx"), ("route", "/v1/studios/{studio_id}/bookings")];

    let registry = Prometheus::new();
    let prometheus = per_call(iterations, |i| registry.record(Metric::HttpRequest, (i % 50) as f64, &labels));
    println!("Prometheus record (http_request_ms, 3 labels): {prometheus:?} per call");
    let emf = Emf::writing_to("atelier-bookings", |line| {
        std::hint::black_box(line);
    });
    let line = per_call(iterations, |i| emf.record(Metric::HttpRequest, (i % 50) as f64, &labels));
    println!("EMF line built (http_request_ms, not written): {line:?} per call");
    let rendered = per_call(1000, |_| {
        std::hint::black_box(registry.render());
    });
    println!("GET /metrics body rendered (one histogram series): {rendered:?}");

    let dir = tempfile::tempdir().expect("temp dir");
    let options =
        LocalOptions { data_dir: dir.path().to_owned(), ..LocalOptions::from_env().expect("options") };
    let app = build(&options, Arc::new(SystemClock), Arc::new(UlidGenerator)).expect("app");
    let mut quiet = app.platform.clone();
    quiet.metrics = Metrics::none();
    let unmetered =
        atelier_app::router(atelier_app::state(quiet, options.http.clone()), &[atelier_app::Group::Health]);
    let requests = iterations / 10;
    for (name, router) in [("recording nowhere", unmetered), ("into /metrics", app.router.clone())] {
        let mut samples = Vec::with_capacity(requests);
        for i in 0..requests + 1000 {
            let request = Request::get("/v1/health").body(Body::empty()).expect("request");
            let started = Instant::now();
            let response = router.clone().oneshot(request).await.expect("response");
            let elapsed = started.elapsed();
            assert!(response.status().is_success());
            if i >= 1000 {
                samples.push(elapsed);
            }
        }
        println!("GET /v1/health, {name}: {}", summarise(&mut samples));
    }
}
