//! Payments in-process on the embedded store, through the full router with the mock provider:
//!
//! 1. a provider webhook applying a deposit's success (signature, marker, payment, ledger,
//!    counters and the held booking's confirmation in one transaction);
//! 2. the same event delivered again (answered from the marker);
//! 3. a manager's refund (the promise under the payment's version, the provider call, the
//!    completion with its ledger entry).
//!
//! Usage: `payments-bench [payments]` (build with `--release`).

use std::sync::Arc;
use std::time::Instant;

use atelier_bench::{bench_keys, call, embedded_platform, json_request as json, summarise};
use atelier_identity::{AuthSettings, HashCost, PasswordHasher, RateLimits};
use atelier_local::{LocalApp, LocalOptions};
use atelier_payments::provider::mock::MockProvider;
use atelier_platform::clock::SystemClock;
use atelier_platform::payments::PaymentProvider;
use axum::body::Body;
use http::Request;

#[tokio::main]
async fn main() {
    let payments: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(500);
    let dir = tempfile::tempdir().expect("temp dir");
    let options = LocalOptions::from_env().expect("options");
    let (parts, platform) = embedded_platform(dir.path());
    let mock = MockProvider::new("whsec_bench", Arc::new(SystemClock));
    let platform = platform.relaying_in_background().with_payments(mock.clone());
    let mut auth = AuthSettings::new(bench_keys(), PasswordHasher::new(HashCost::FLOOR).expect("hasher"));
    auth.limits = RateLimits { api_per_caller: u32::MAX, ..auth.limits };
    let app = LocalApp::assemble(platform, parts, options.http.clone(), Arc::new(auth));
    let router = app.router.clone();

    let (token, user) = atelier_bench::register(&router, "owner@pay.bench", "Owner").await;
    let studio = serde_json::json!({
        "name": "Bench", "slug": "bench-payments", "time_zone": "Europe/Lisbon", "currency": "EUR",
        "settings": { "min_notice_minutes": 0, "horizon_days": 730, "slot_step_minutes": 15, "no_show_tolerance_minutes": 15, "loyalty_rate_bps": 500, "hold_minutes": 1440 }
    });
    let (status, body) = call(&router, json("POST", "/v1/studios", &token, studio)).await;
    assert_eq!(status, 201, "{body}");
    let studio = body["id"].as_str().expect("id").to_owned();
    let base = format!("/v1/studios/{studio}");
    let (status, _) = call(
        &router,
        json(
            "PUT",
            &format!("{base}/professionals/{user}"),
            &token,
            serde_json::json!({ "display_name": "Pro" }),
        ),
    )
    .await;
    assert_eq!(status, 200);
    let days = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
    let always: Vec<serde_json::Value> =
        days.iter().map(|d| serde_json::json!({ "day": d, "start": "00:00", "end": "24:00" })).collect();
    let (status, _) = call(
        &router,
        json(
            "PUT",
            &format!("{base}/professionals/{user}/availability"),
            &token,
            serde_json::json!({ "ranges": always }),
        ),
    )
    .await;
    assert_eq!(status, 200);
    let service = serde_json::json!({ "name": "Prepaid", "category": "x", "duration_minutes": 15, "price_minor": 6000,
        "deposit_required": true, "deposit_bps": 10000, "professional_ids": [user] });
    let (status, body) = call(&router, json("POST", &format!("{base}/services"), &token, service)).await;
    assert_eq!(status, 201, "{body}");
    let service = body["id"].as_str().expect("id").to_owned();

    // Held bookings, each with its deposit's intent, paid at the provider.
    // From midnight UTC the day after tomorrow: on the studio's 15-minute grid.
    let day = jiff::Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
    let day = day.tomorrow().and_then(|d| d.tomorrow()).expect("date");
    let first = jiff::tz::TimeZone::UTC
        .to_timestamp(day.to_datetime(jiff::civil::Time::midnight()))
        .expect("instant");
    let mut paid = Vec::with_capacity(payments);
    for i in 0..payments {
        let start = first + jiff::SignedDuration::from_mins(15 * i64::try_from(i).expect("count"));
        let body =
            serde_json::json!({ "service_id": service, "professional_id": user, "start": start.to_string() });
        let (status, held) = call(&router, json("POST", &format!("{base}/bookings"), &token, body)).await;
        assert_eq!(status, 201, "{held}");
        let payment = held["payment"]["payment_id"].as_str().expect("payment").to_owned();
        let (_, view) = call(
            &router,
            json("GET", &format!("{base}/payments/{payment}"), &token, serde_json::Value::Null),
        )
        .await;
        let intent = view["intent_id"].as_str().expect("intent").to_owned();
        mock.confirm_intent(&intent, "pm_card_visa").await.expect("paid");
        paid.push(payment);
    }
    let events = mock.take_events();

    for (label, rounds) in [("webhook: a deposit's success applied", 1), ("webhook: the same event again", 1)]
    {
        let mut samples = Vec::with_capacity(events.len());
        for _ in 0..rounds {
            for event in &events {
                let (body, signature) = mock.signed(event);
                let request = Request::post("/v1/payments/webhooks/mock")
                    .header("content-type", "application/json")
                    .header("stripe-signature", signature)
                    .body(Body::from(body))
                    .expect("request");
                let started = Instant::now();
                let (status, answer) = call(&router, request).await;
                samples.push(started.elapsed());
                assert_eq!(status, 200, "{answer}");
            }
        }
        println!("{label} ({} events): {}", events.len(), summarise(&mut samples));
    }

    let mut samples = Vec::with_capacity(paid.len());
    for payment in &paid {
        let body = serde_json::json!({ "amount_minor": 1500, "reason": "bench" });
        let started = Instant::now();
        let (status, refund) =
            call(&router, json("POST", &format!("{base}/payments/{payment}/refunds"), &token, body)).await;
        samples.push(started.elapsed());
        assert_eq!(status, 201, "{refund}");
        assert_eq!(refund["status"], "succeeded");
    }
    println!("POST …/payments/{{id}}/refunds ({} refunds): {}", paid.len(), summarise(&mut samples));
}
