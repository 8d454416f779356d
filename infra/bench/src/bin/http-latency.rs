//! In-process latency on the embedded store: requests through the full router (every layer)
//! with `oneshot`, and store round trips. Reports percentiles.
//!
//! Usage: `http-latency [iterations]` (build with `--release`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use atelier_bench::summarise;
use atelier_local::{LocalOptions, build};
use atelier_platform::clock::SystemClock;
use atelier_platform::ids::UlidGenerator;
use atelier_platform::store::{Item, Key, WriteOp};
use axum::body::Body;
use http::Request;
use tower::ServiceExt;

#[tokio::main]
async fn main() {
    let iterations: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(20_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let options =
        LocalOptions { data_dir: dir.path().to_owned(), ..LocalOptions::from_env().expect("options") };
    let app = build(&options, Arc::new(SystemClock), Arc::new(UlidGenerator)).expect("app");

    for path in ["/v1/health", "/v1/health/ready"] {
        let mut samples = Vec::with_capacity(iterations);
        for i in 0..iterations + 1000 {
            let request = Request::get(path).body(Body::empty()).expect("request");
            let started = Instant::now();
            let response = app.router.clone().oneshot(request).await.expect("response");
            let elapsed = started.elapsed();
            assert!(response.status().is_success());
            if i >= 1000 {
                samples.push(elapsed);
            }
        }
        println!("GET {path}: {}", summarise(&mut samples));
    }

    let store = &app.platform.store;
    let mut writes: Vec<Duration> = Vec::with_capacity(iterations);
    let mut reads: Vec<Duration> = Vec::with_capacity(iterations);
    for i in 0..iterations {
        let key = Key::new("BENCH", format!("{i:08}"));
        let item = Item::new(&key).with("payload", "x".repeat(256));
        let started = Instant::now();
        store.write(WriteOp::create(item)).await.expect("write");
        writes.push(started.elapsed());
        let started = Instant::now();
        store.get(&key).await.expect("read").expect("found");
        reads.push(started.elapsed());
    }
    println!("store conditional put (durable commit): {}", summarise(&mut writes));
    println!("store get: {}", summarise(&mut reads));
}
