//! Seeds a data directory with the free-slots scenario of docs/performance.md ("Free slots under
//! load"): one professional, Monday to Friday 09:00–17:00, a 30-minute service, about 40
//! bookings over the next month. Prints the slot query for `wrk`.
//!
//! Usage: `ATELIER_DATA_DIR=<dir> slots-fixture` (then start the local server on that directory).

use std::sync::Arc;

use atelier_bench::{call, json_request as json};
use atelier_local::{LocalOptions, build_with};
use atelier_platform::clock::SystemClock;
use atelier_platform::ids::UlidGenerator;

#[tokio::main]
async fn main() {
    let options = LocalOptions::from_env().expect("options");
    let app = build_with(&options, Arc::new(SystemClock), Arc::new(UlidGenerator), |auth| {
        auth.limits.api_per_caller = u32::MAX;
    })
    .expect("app");
    let router = app.router.clone();
    let (token, user) = atelier_bench::register(&router, "owner@slots.example", "Owner").await;
    let studio = serde_json::json!({
        "name": "Slots", "slug": "slots-bench", "time_zone": "Europe/Lisbon", "currency": "EUR",
        "settings": { "min_notice_minutes": 0, "horizon_days": 90, "slot_step_minutes": 30, "no_show_tolerance_minutes": 15, "loyalty_rate_bps": 0 }
    });
    let (status, body) = call(&router, json("POST", "/v1/studios", &token, studio)).await;
    assert_eq!(status, 201, "{body}");
    let studio = body["id"].as_str().expect("id").to_owned();
    let profile = serde_json::json!({ "display_name": "Pro" });
    let path = format!("/v1/studios/{studio}/professionals/{user}");
    assert_eq!(call(&router, json("PUT", &path, &token, profile)).await.0, 200);
    let week: Vec<serde_json::Value> = ["monday", "tuesday", "wednesday", "thursday", "friday"]
        .iter()
        .map(|d| serde_json::json!({ "day": d, "start": "09:00", "end": "17:00" }))
        .collect();
    let hours = serde_json::json!({ "ranges": week });
    assert_eq!(call(&router, json("PUT", &format!("{path}/availability"), &token, hours)).await.0, 200);
    let service = serde_json::json!({ "name": "Cut", "category": "hair", "duration_minutes": 30, "price_minor": 2000, "professional_ids": [user] });
    let (status, body) =
        call(&router, json("POST", &format!("/v1/studios/{studio}/services"), &token, service)).await;
    assert_eq!(status, 201, "{body}");
    let service = body["id"].as_str().expect("id").to_owned();

    // About two bookings a working day: the first free start of every eighth slot.
    let today = jiff::Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
    let from = today.tomorrow().expect("tomorrow");
    let to = from.checked_add(jiff::Span::new().days(30)).expect("date");
    let query = format!("/v1/public/studios/{studio}/slots?service_id={service}&from={from}&to={to}");
    let (status, slots) =
        call(&router, http::Request::get(&query).body(axum::body::Body::empty()).expect("request")).await;
    assert_eq!(status, 200, "{slots}");
    let starts: Vec<String> = slots["slots"]
        .as_array()
        .expect("slots")
        .iter()
        .step_by(8)
        .filter_map(|s| s["start"].as_str().map(str::to_owned))
        .collect();
    let mut booked = 0;
    for start in starts.iter().take(40) {
        let booking = serde_json::json!({ "service_id": service, "professional_id": user, "start": start });
        let (status, body) =
            call(&router, json("POST", &format!("/v1/studios/{studio}/bookings"), &token, booking)).await;
        assert_eq!(status, 201, "{body}");
        booked += 1;
    }
    let (_, after) =
        call(&router, http::Request::get(&query).body(axum::body::Body::empty()).expect("request")).await;
    let free = after["slots"].as_array().map_or(0, Vec::len);
    let bytes = after.to_string().len();
    println!("{booked} bookings; {free} free slots, {bytes} bytes of JSON");
    println!("{query}");
}
