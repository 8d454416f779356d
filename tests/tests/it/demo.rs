//! The demo studio (`atelier-local demo`): believable, complete, and seeded only once.

use std::sync::Arc;

use atelier_local::LocalApp;
use atelier_local::demo::{self, DemoReport};
use atelier_platform::clock::SystemClock;
use atelier_platform::ids::UlidGenerator;
use atelier_tests::http::TestRequest;
use http::Method;
use serde_json::Value;

async fn get(app: &LocalApp, token: &str, path: &str) -> Value {
    let response = TestRequest::new_for(app.router.clone(), Method::GET, path).bearer(token).send().await;
    assert_eq!(response.status, 200, "GET {path}: {}", String::from_utf8_lossy(&response.body));
    response.json()
}

/// Fields that belong to stored records and must never appear in a response.
const INTERNAL: [&str; 10] =
    ["pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "ttl", "reminded", "due", "password_hash"];

fn assert_no_internal_fields(path: &str, value: &Value) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                assert!(!INTERNAL.contains(&key.as_str()), "GET {path} shows the internal field `{key}`");
                assert_no_internal_fields(path, inner);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| assert_no_internal_fields(path, item)),
        _ => {}
    }
}

#[tokio::test]
async fn the_demo_studio_shows_every_status_and_a_second_run_adds_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = atelier_tests::local_options(dir.path());
    let first: DemoReport = demo::seed(&options).await.expect("demo seeds");
    assert!(first.booked, "the first run books");
    for status in ["pending", "confirmed", "completed", "cancelled", "no_show"] {
        assert!(first.by_status.get(status).copied().unwrap_or(0) > 0, "a booking {status}: {first:?}");
    }
    assert!(first.unread_notices > 0, "the bookings' notices reached the professional's inbox: {first:?}");
    assert!(first.emails_written > 0, "the bookings' notices were emailed as .eml files: {first:?}");
    // Two deposits online, a late one, two balances at the desk; the cancelled colour's deposit
    // and the late payment refunded.
    assert_eq!((first.payments_received, first.refunds_made), (5, 2), "{first:?}");
    // Five products received; completed colours and beard trims took what they use; one sale
    // took the beard oil below its minimum.
    assert_eq!((first.products, first.sales, first.low_products), (5, 1, 1), "{first:?}");
    assert!(first.service_outflows > 0 && first.stock_value_minor > 0, "{first:?}");
    // Two projects; the shoot's 600.00 less 23 % tax, 150.00 crew and 200.00 rental: 112.00.
    assert_eq!((first.projects, first.delivered_profit_minor), (2, 11200), "{first:?}");
    // The dashboard's tallies count what the bookings list shows, and the completed services.
    assert_eq!(first.dashboard_bookings, first.by_status.values().sum::<usize>() as i64, "{first:?}");
    assert!(first.dashboard_completed_minor > 0, "{first:?}");
    assert_eq!(first.export_status, "done", "{first:?}");
    assert_eq!(
        first.import_outcomes,
        serde_json::json!({ "created": 2, "updated": 0, "skipped": 0, "refused": 1 }),
        "{first:?}"
    );
    assert!(first.export_rows > 0, "{first:?}");
    assert_eq!(first.live_events, ["booking.created", "booking.cancelled"], "{first:?}");
    assert_eq!(first.slots_revalidated, [304, 200], "held before the booking, changed by it: {first:?}");
    assert_eq!(first.api_key_reads, first.by_status.values().sum::<usize>(), "{first:?}");
    assert_eq!(first.api_key_write_status, 403, "{first:?}");
    assert_eq!(first.google_sign_in_status, 201, "the first Google sign-in makes the account: {first:?}");
    // The server's own metrics counted the run: every booking it made, the requests, the notices.
    let made = first.by_status.values().sum::<usize>() as u64;
    assert!(first.metrics.bookings_created > made, "the window's bookings and the live one: {first:?}");
    assert!(first.metrics.requests > first.metrics.bookings_created, "{first:?}");
    assert!(first.metrics.notices_sent > 0, "{first:?}");
    let instructions = demo::instructions(&first);
    assert!(instructions.contains("GET /metrics"), "{instructions}");
    assert!(instructions.contains(demo::OWNER_EMAIL) && instructions.contains("curl"), "{instructions}");

    let second = demo::seed(&options).await.expect("demo runs again");
    // The live section books and cancels afresh every run: only its own emails are new.
    assert_eq!(second.emails_written, first.emails_written + first.live_emails, "{second:?}");
    assert_ne!(second.api_key_prefix, first.api_key_prefix, "a new key every run");
    assert_eq!((second.google_sign_in_status, &second.google_user_id), (200, &first.google_user_id));
    // A fresh registry per run: the second made only the live booking.
    assert_eq!(second.metrics.bookings_created, 1, "{second:?}");
    assert!(second.metrics.notices_sent >= 1, "{second:?}");
    let second = demo::DemoReport { metrics: first.metrics, ..second };
    let second = demo::DemoReport { emails_written: first.emails_written, ..second };
    assert_eq!(
        (
            second.booked,
            &second.studio_id,
            &second.by_status,
            second.unread_notices,
            second.emails_written,
            second.payments_received,
            second.refunds_made,
            (second.products, second.service_outflows, second.sales, second.stock_value_minor),
            (second.projects, second.delivered_profit_minor),
            (&second.export_id, second.export_rows, &second.import_outcomes),
        ),
        (
            false,
            &first.studio_id,
            &first.by_status,
            first.unread_notices,
            first.emails_written,
            first.payments_received,
            first.refunds_made,
            (first.products, first.service_outflows, first.sales, first.stock_value_minor),
            (first.projects, first.delivered_profit_minor),
            (&first.export_id, first.export_rows, &first.import_outcomes),
        )
    );

    assert_eq!(second.live_events, first.live_events, "every run shows live updates afresh");
    assert_eq!(second.slots_revalidated, [304, 200]);
    let app = atelier_local::build(&options, Arc::new(SystemClock), Arc::new(UlidGenerator)).expect("app");
    // The demo's own calls are not counted against the owner: the server answers at once.
    let login = TestRequest::new_for(app.router.clone(), Method::POST, "/v1/auth/login")
        .json(&serde_json::json!({ "email": demo::OWNER_EMAIL, "password": demo::PASSWORD }))
        .send()
        .await;
    assert_eq!(login.status, 200);
    let token = login.json()["tokens"]["access_token"].as_str().expect("token").to_owned();
    let base = format!("/v1/studios/{}", first.studio_id);
    let count = |v: &Value| v["items"].as_array().or(v.as_array()).map_or(0, Vec::len);

    let members = get(&app, &token, &format!("{base}/members")).await;
    let roles: Vec<&str> =
        members["items"].as_array().expect("members").iter().filter_map(|m| m["role"].as_str()).collect();
    assert_eq!(roles.len(), 5, "owner, manager, three professionals: {roles:?}");
    assert_eq!(roles.iter().filter(|r| **r == "professional").count(), 3);
    assert_eq!(
        count(&get(&app, &token, &format!("{base}/clients?limit=100")).await),
        32,
        "30 and two imported"
    );
    assert_eq!(count(&get(&app, &token, &format!("{base}/resources")).await), 3);
    let services = get(&app, &token, &format!("{base}/services")).await;
    assert_eq!(count(&services), 4);
    assert!(services["items"].as_array().expect("items").iter().any(|s| s["deposit_required"] == true));
    assert_eq!(count(&get(&app, &token, &format!("{base}/waitlist")).await), 1);
    let policy = get(&app, &token, &format!("{base}/cancellation-policy")).await;
    assert_eq!(policy["tiers"].as_array().map(Vec::len), Some(2));

    // Completed bookings earned points.
    let clients = get(&app, &token, &format!("{base}/clients?limit=100")).await;
    let mut points = 0;
    for client in clients["items"].as_array().expect("items") {
        let id = client["id"].as_str().expect("id");
        points +=
            get(&app, &token, &format!("{base}/clients/{id}/loyalty")).await["points"].as_i64().unwrap_or(0);
    }
    assert!(points > 0, "loyalty points were earned");

    // Every list a studio's staff reads shows views, never stored records.
    let lisbon = jiff::tz::TimeZone::get("Europe/Lisbon").expect("zone");
    let today = lisbon.to_datetime(jiff::Timestamp::now()).date();
    for path in [
        base.clone(),
        format!("{base}/members"),
        format!("{base}/clients?limit=100"),
        format!("{base}/services"),
        format!("{base}/resources"),
        format!("{base}/professionals"),
        format!("{base}/waitlist"),
        format!("{base}/audit?limit=100"),
        format!(
            "{base}/bookings?from={}&to={}",
            today.checked_sub(jiff::ToSpan::days(14)).expect("date"),
            today
        ),
        format!(
            "{base}/bookings?from={today}&to={}",
            today.checked_add(jiff::ToSpan::days(14)).expect("date")
        ),
    ] {
        assert_no_internal_fields(&path, &get(&app, &token, &path).await);
    }
}
