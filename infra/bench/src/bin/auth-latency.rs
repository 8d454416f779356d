//! Login latency against a bare Argon2id verification (same run, same parameters: the seed's
//! 64 MiB / 3 iterations unless `ATELIER_ARGON2_*` say otherwise), and the latency of a cheap
//! authenticated request (`GET /v1/me`) quiet and during a login storm.
//!
//! Usage: `auth-latency [logins] [storm-tasks]` (build with `--release`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use atelier_bench::{bench_keys, call, embedded_platform, summarise};
use atelier_identity::RateLimits;
use atelier_identity::{AuthSettings, PasswordHasher};
use atelier_local::{LocalApp, LocalOptions};
use axum::body::Body;
use http::Request;

fn login(email: &str, ip: &str) -> Request<Body> {
    let body = serde_json::json!({ "email": email, "password": "correct horse battery staple" }).to_string();
    Request::post("/v1/auth/login")
        .header("content-type", "application/json")
        .header("x-forwarded-for", ip)
        .body(Body::from(body))
        .expect("request")
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let logins: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(20);
    let storm_tasks: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(8);
    let dir = tempfile::tempdir().expect("temp dir");
    let options = LocalOptions::from_env().expect("options");
    let (parts, platform) = embedded_platform(dir.path());
    let keys = bench_keys();
    let mut auth = AuthSettings::new(keys, PasswordHasher::new(options.hash_cost).expect("hasher"));
    // Limits are not what is measured.
    auth.limits = RateLimits {
        api_per_caller: u32::MAX,
        login_per_ip: u32::MAX,
        login_per_ip_email: u32::MAX,
        ..auth.limits
    };
    let app = LocalApp::assemble(platform, parts, options.http.clone(), Arc::new(auth));
    let router = app.router.clone();
    println!("argon2: {:?}", options.hash_cost);

    let register = serde_json::json!({ "email": "bench@example.com", "password": "correct horse battery staple", "name": "Bench" });
    let (status, body) = call(
        &router,
        Request::post("/v1/auth/register")
            .header("content-type", "application/json")
            .body(Body::from(register.to_string()))
            .expect("request"),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let access = body["tokens"]["access_token"].as_str().expect("token").to_owned();

    // Bare verification of a hash made with the same parameters.
    let hasher = atelier_identity::PasswordHasher::new(options.hash_cost).expect("hasher");
    let hash = hasher.hash("correct horse battery staple".into()).await.expect("hash");
    let mut bare = Vec::with_capacity(logins);
    let mut full = Vec::with_capacity(logins);
    for i in 0..logins {
        let started = Instant::now();
        assert!(hasher.verify("correct horse battery staple".into(), hash.clone()).await.expect("verify"));
        bare.push(started.elapsed());
        let started = Instant::now();
        let (status, _) =
            call(&router, login("bench@example.com", &format!("10.0.{}.{}", i / 250, i % 250))).await;
        full.push(started.elapsed());
        assert_eq!(status, 200);
    }
    let bare = summarise(&mut bare);
    let full = summarise(&mut full);
    println!("bare argon2 verify: {bare}");
    println!("login (HTTP, full path): {full}");
    println!("login / verify (medians): {:.2}x", full.p50 / bare.p50);

    let me = || {
        Request::get("/v1/me")
            .header("authorization", format!("Bearer {access}"))
            .body(Body::empty())
            .expect("request")
    };
    let mut quiet = Vec::new();
    for _ in 0..2000 {
        let started = Instant::now();
        let (status, _) = call(&router, me()).await;
        quiet.push(started.elapsed());
        assert_eq!(status, 200);
    }
    let quiet = summarise(&mut quiet);
    println!("GET /v1/me quiet: {quiet}");

    let stop = Arc::new(AtomicBool::new(false));
    let storm_logins = Arc::new(AtomicUsize::new(0));
    let mut storm = Vec::new();
    for t in 0..storm_tasks {
        let (router, stop, count) = (router.clone(), stop.clone(), storm_logins.clone());
        storm.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let (status, _) =
                    call(&router, login("bench@example.com", &format!("10.{t}.{}.{}", i / 250, i % 250)))
                        .await;
                assert_eq!(status, 200);
                count.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        }));
    }
    let storm_started = Instant::now();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut stormy = Vec::new();
    for _ in 0..2000 {
        let started = Instant::now();
        let (status, _) = call(&router, me()).await;
        stormy.push(started.elapsed());
        assert_eq!(status, 200);
    }
    let storm_seconds = storm_started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for task in storm {
        let _ = task.await;
    }
    let stormy = summarise(&mut stormy);
    println!(
        "GET /v1/me during a login storm ({storm_tasks} tasks, {:.1} logins/s): {stormy}",
        storm_logins.load(Ordering::Relaxed) as f64 / storm_seconds
    );
    println!("storm p99 / quiet p99: {:.2}x", stormy.p99 / quiet.p99);
}
