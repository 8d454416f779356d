//! In-process latency of booking and of free slots, through the full router on the embedded
//! store (every write an fsync'd commit), with the argon2 cost at OWASP's floor (sign-up is
//! not what is measured) and rate limits off.
//!
//! Usage: `booking-latency [bookings] [slot-queries]` (build with `--release`).

use std::sync::Arc;
use std::time::Instant;

use atelier_bench::{bench_keys, call, embedded_platform, json_request as json, summarise};
use atelier_identity::RateLimits;
use atelier_identity::{AuthSettings, HashCost, PasswordHasher};
use atelier_local::{LocalApp, LocalOptions};
use axum::Router;
use axum::body::Body;
use http::Request;
use tower::ServiceExt;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let bookings: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(2000);
    let queries: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(2000);
    let dir = tempfile::tempdir().expect("temp dir");
    let options = LocalOptions::from_env().expect("options");
    let (parts, platform) = embedded_platform(dir.path());
    // As the local server does.
    let platform = platform.relaying_in_background();
    let keys = bench_keys();
    let mut auth = AuthSettings::new(keys, PasswordHasher::new(HashCost::FLOOR).expect("hasher"));
    auth.limits = RateLimits { api_per_caller: u32::MAX, ..auth.limits };
    let app = LocalApp::assemble(platform, parts, options.http.clone(), Arc::new(auth));
    let router = app.router.clone();

    let (token, user) = atelier_bench::register(&router, "owner@bench.example", "Owner").await;
    let days = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
    let always: Vec<serde_json::Value> =
        days.iter().map(|d| serde_json::json!({ "day": d, "start": "00:00", "end": "24:00" })).collect();
    let (studio, service) = new_studio(&router, &token, &user, "bench-dense", always, 15).await;
    let first = jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date()
        .tomorrow()
        .expect("tomorrow");
    let first = jiff::tz::TimeZone::UTC
        .to_timestamp(first.to_datetime(jiff::civil::Time::midnight()))
        .expect("instant");
    let mut booked = Vec::with_capacity(bookings);
    for i in 0..bookings {
        let start = first + jiff::SignedDuration::from_mins(15 * i64::try_from(i).expect("count"));
        let body =
            serde_json::json!({ "service_id": service, "professional_id": user, "start": start.to_string() });
        let started = Instant::now();
        let (status, response) =
            call(&router, json("POST", &format!("/v1/studios/{studio}/bookings"), &token, body)).await;
        booked.push(started.elapsed());
        assert_eq!(status, 201, "{response}");
    }
    println!("POST /bookings ({bookings}, each a new slot): {}", summarise(&mut booked));

    let from = first.to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
    for days in [7i64, 31] {
        let timing = time_slots(&router, &studio, &service, from, days, queries).await;
        println!("GET free slots, one professional, {days} days, over the packed agenda: {timing}");
    }

    // A working agenda: Monday to Saturday 09:00-19:00, 45-minute services, six a day.
    let working: Vec<serde_json::Value> =
        days[..6].iter().map(|d| serde_json::json!({ "day": d, "start": "09:00", "end": "19:00" })).collect();
    let (studio, service) = new_studio(&router, &token, &user, "bench-working", working, 45).await;
    let mut placed = 0;
    for day in 0..31 {
        let date = from.checked_add(jiff::Span::new().days(day)).expect("date");
        if date.weekday() == jiff::civil::Weekday::Sunday {
            continue;
        }
        for (hour, minute) in [(9, 0), (10, 30), (12, 0), (14, 0), (15, 30), (17, 0)] {
            let start = date.at(hour, minute, 0, 0).in_tz("Europe/Lisbon").expect("zone").timestamp();
            let start = start.to_string();
            let body = serde_json::json!({ "service_id": service, "professional_id": user, "start": start });
            let (status, response) =
                call(&router, json("POST", &format!("/v1/studios/{studio}/bookings"), &token, body)).await;
            assert_eq!(status, 201, "{response}");
            placed += 1;
        }
    }
    let timing = time_slots(&router, &studio, &service, from, 31, queries).await;
    println!("GET free slots, one professional, 31 days, working agenda ({placed} bookings): {timing}");
}

/// A studio owned by `user`, who is its only professional with the given week; returns the
/// studio and its one service.
async fn new_studio(
    router: &Router,
    token: &str,
    user: &str,
    slug: &str,
    week: Vec<serde_json::Value>,
    duration_minutes: u32,
) -> (String, String) {
    let studio = serde_json::json!({
        "name": "Bench", "slug": slug, "time_zone": "Europe/Lisbon", "currency": "EUR",
        "settings": { "min_notice_minutes": 0, "horizon_days": 730, "slot_step_minutes": 15, "no_show_tolerance_minutes": 15, "loyalty_rate_bps": 500 }
    });
    let (status, body) = call(router, json("POST", "/v1/studios", token, studio)).await;
    assert_eq!(status, 201, "{body}");
    let studio = body["id"].as_str().expect("id").to_owned();
    let profile = serde_json::json!({ "display_name": "Pro" });
    let (status, _) =
        call(router, json("PUT", &format!("/v1/studios/{studio}/professionals/{user}"), token, profile))
            .await;
    assert_eq!(status, 200);
    let (status, _) = call(
        router,
        json(
            "PUT",
            &format!("/v1/studios/{studio}/professionals/{user}/availability"),
            token,
            serde_json::json!({ "ranges": week }),
        ),
    )
    .await;
    assert_eq!(status, 200);
    let service = serde_json::json!({ "name": "Service", "category": "x", "duration_minutes": duration_minutes, "price_minor": 1000, "professional_ids": [user] });
    let (status, body) =
        call(router, json("POST", &format!("/v1/studios/{studio}/services"), token, service)).await;
    assert_eq!(status, 201, "{body}");
    (studio, body["id"].as_str().expect("id").to_owned())
}

/// Times `queries` free-slot requests of `days` days from `from`.
async fn time_slots(
    router: &Router,
    studio: &str,
    service: &str,
    from: jiff::civil::Date,
    days: i64,
    queries: usize,
) -> String {
    let to = from.checked_add(jiff::Span::new().days(days - 1)).expect("date");
    let uri = format!("/v1/public/studios/{studio}/slots?service_id={service}&from={from}&to={to}");
    let mut samples = Vec::with_capacity(queries);
    for _ in 0..queries {
        let started = Instant::now();
        let response = router
            .clone()
            .oneshot(Request::get(&uri).body(Body::empty()).expect("request"))
            .await
            .expect("response");
        let status = response.status().as_u16();
        let _ = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
        samples.push(started.elapsed());
        assert_eq!(status, 200);
    }
    summarise(&mut samples).to_string()
}
