//! Reports end to end through the router, on both adapters: the dashboard's figures from the
//! daily tallies, reports by professional, service and client, the platform report for
//! admins, the rebuild that finds and mends a wrong tally, concurrent changes that leave the
//! tallies equal to the bookings, and bad periods refused.

use atelier_platform::store::{UpdateAction, WriteOp};
use atelier_tests::{Account, TestApp};
use http::Method;
use jiff::Timestamp;
use serde_json::Value;

use crate::bookings::{Salon, path, salon, send};

fn at(text: &str) -> Timestamp {
    text.parse().expect("instant")
}

fn next_minute(app: &TestApp) {
    let now = app.platform.clock.now();
    app.clock.set(now + jiff::SignedDuration::from_secs(61));
}

async fn get(app: &TestApp, s: &Salon, who: &Account, rest: &str) -> Value {
    let response = send(app, Method::GET, &path(&s.studio, rest), who, None).await;
    assert_eq!(response.status, 200, "{rest}: {}", String::from_utf8_lossy(&response.body));
    response.json()
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_owned()
}

async fn rebuild(app: &TestApp, s: &Salon, apply: bool) -> atelier_reports::rebuild::RebuildReport {
    let period = atelier_reports::period::Period {
        kind: atelier_reports::period::PeriodKind::Month,
        from: jiff::civil::date(2026, 6, 1),
        to: jiff::civil::date(2026, 6, 30),
    };
    atelier_reports::rebuild::rebuild(&app.platform, &s.studio.as_str().into(), &period, apply)
        .await
        .expect("rebuild")
}

async fn the_dashboard_adds_up_what_happened(app: TestApp) {
    let s = salon(&app, "rep-dash").await;
    let (ana, bea) = (app.register("ana@rep-dash.example").await, app.register("bea@rep-dash.example").await);
    let first = id(&s.book_ok(&app, &ana, "2026-06-02T10:00:00+01:00").await);
    s.book_ok(&app, &ana, "2026-06-09T10:00:00+01:00").await;
    let missed = id(&s.book_ok(&app, &bea, "2026-06-03T10:00:00+01:00").await);
    let dropped = id(&s.book_ok(&app, &ana, "2026-06-04T10:00:00+01:00").await);
    assert_eq!(s.act(&app, &ana, &dropped, "cancel", None).await.status, 200);
    app.clock.set(at("2026-06-02T09:05:00Z"));
    let pro = app.sign_in_again(&s.pro).await;
    assert_eq!(s.act(&app, &pro, &first, "check-in", None).await.status, 200);
    assert_eq!(s.act(&app, &pro, &first, "complete", None).await.status, 200);
    app.clock.set(at("2026-06-03T09:20:00Z"));
    let owner = app.sign_in_again(&s.owner).await;
    assert_eq!(s.act(&app, &owner, &missed, "no-show", None).await.status, 200);

    let d = get(&app, &s, &owner, "/dashboard?period=month&date=2026-06-15").await;
    assert_eq!(
        (d["period"]["from"].as_str(), d["period"]["to"].as_str()),
        (Some("2026-06-01"), Some("2026-06-30"))
    );
    assert_eq!(d["bookings"]["total"], 4);
    assert_eq!(d["bookings"]["by_status"]["completed"], 1);
    assert_eq!(d["bookings"]["by_status"]["no_show"], 1);
    assert_eq!(d["bookings"]["by_status"]["confirmed"], 1);
    assert_eq!(d["bookings"]["by_status"]["cancelled"], 1);
    assert_eq!(d["bookings"]["cancellation_rate_bps"], 2500);
    assert_eq!(d["bookings"]["no_show_rate_bps"], 5000);
    assert_eq!(d["occupancy"]["booked_minutes"], 180, "three hours not cancelled");
    assert_eq!(d["occupancy"]["available_minutes"], 30 * 9 * 60, "nine hours every day of June");
    assert_eq!(d["occupancy"]["rate_bps"], 111);
    assert_eq!(d["money"][0]["currency"], "EUR");
    assert_eq!(d["money"][0]["completed_value_minor"], 4000);
    assert_eq!(d["clients"]["new_clients"], 2, "Ana's and Bea's first bookings");
    assert_eq!(d["clients"]["returning_bookings"], 1, "Ana's second booking not cancelled");
    assert_eq!(d["top_services"][0]["id"].as_str(), Some(s.cut.as_str()));
    assert_eq!(d["top_services"][0]["bookings"], 3);
    assert_eq!(d["top_professionals"][0]["id"].as_str(), Some(s.pro.user_id.as_str()));
    assert_eq!(d["top_professionals"][0]["completed_value_minor"], 4000);
    assert!(d["counters_read"].as_u64().expect("reads") <= 31 * 3, "{}", d["counters_read"]);
    let day = get(&app, &s, &owner, "/dashboard?period=day&date=2026-06-03").await;
    assert_eq!(day["bookings"]["total"], 1);
    assert_eq!(day["bookings"]["by_status"]["no_show"], 1);
    let week = get(&app, &s, &owner, "/dashboard?period=week&date=2026-06-03").await;
    assert_eq!(
        (week["period"]["from"].as_str(), week["bookings"]["total"].as_i64()),
        (Some("2026-06-01"), Some(3))
    );

    let pros = get(&app, &s, &owner, "/reports/professionals?date=2026-06-01").await;
    let rita = &pros["items"][0];
    assert_eq!(rita["professional_id"].as_str(), Some(s.pro.user_id.as_str()));
    assert_eq!(rita["minutes"], 180);
    assert_eq!(rita["completed_value"][0]["amount_minor"], 4000);
    assert_eq!(rita["commission_bps"], 4000);
    assert_eq!(rita["commission"][0]["amount_minor"], 1600, "40 % of EUR 40.00");
    let services = get(&app, &s, &owner, "/reports/services?date=2026-06-01").await;
    assert_eq!(services["items"][0]["new_clients"], 2);
    assert_eq!(services["items"][0]["by_status"]["completed"], 1);
    let clients = send(&app, Method::GET, &path(&s.studio, "/clients?limit=100"), &owner, None).await.json();
    let ana_id = clients["items"]
        .as_array()
        .expect("clients")
        .iter()
        .find(|c| c["email"] == "ana@rep-dash.example")
        .map(id)
        .expect("Ana is a client");
    let ana_report = get(&app, &s, &owner, &format!("/reports/clients/{ana_id}?date=2026-06-01")).await;
    assert_eq!(ana_report["by_status"]["completed"], 1);
    assert_eq!(ana_report["by_status"]["cancelled"], 1);
    assert_eq!(ana_report["by_status"]["confirmed"], 1);
    assert_eq!(ana_report["first_visit"], "2026-06-02T09:00:00Z");
    assert_eq!(ana_report["completed_value"][0]["amount_minor"], 4000);

    // The rebuild agrees; a tally gone wrong is found, mended, and the dashboard follows.
    let clean = rebuild(&app, &s, false).await;
    assert_eq!((clean.bookings, clean.differences.len()), (4, 0), "{:?}", clean.differences);
    let wrong = atelier_bookings::tally::tally_key(&s.studio.as_str().into(), "2026-06-02");
    app.platform
        .store
        .write(WriteOp::update(wrong, vec![UpdateAction::Add("completed".into(), 5)]))
        .await
        .expect("tamper");
    let found = rebuild(&app, &s, true).await;
    assert_eq!(found.differences.len(), 1, "{:?}", found.differences);
    assert!(found.remaining.is_empty(), "{:?}", found.remaining);
    assert_eq!((found.differences[0].stored, found.differences[0].recomputed), (6, 1));
    assert!(rebuild(&app, &s, false).await.differences.is_empty());
    let d = get(&app, &s, &owner, "/dashboard?date=2026-06-15").await;
    assert_eq!(d["bookings"]["by_status"]["completed"], 1);

    // The platform report: admins only, every studio's tallies together.
    send(&app, Method::GET, "/v1/admin/reports/platform?date=2026-06-01", &owner, None)
        .await
        .assert_problem(403, "role-required");
    let admin = app.register("admin@rep-dash.example").await;
    atelier_identity::make_admin(&app.platform, "admin@rep-dash.example").await.expect("admin");
    let admin = app.sign_in_again(&admin).await;
    let report = send(&app, Method::GET, "/v1/admin/reports/platform?date=2026-06-01", &admin, None).await;
    assert_eq!(report.status, 200, "{:?}", report.body);
    let report = report.json();
    assert!(report["active_studios"].as_u64().expect("studios") >= 1);
    assert!(report["by_status"]["completed"].as_i64().expect("completed") >= 1);
    assert!(report["completed_value"].as_array().expect("values").iter().any(|v| v["currency"] == "EUR"));
}

async fn bad_periods_and_strangers_are_refused(app: TestApp) {
    let s = salon(&app, "rep-bad").await;
    let other = salon(&app, "rep-bad-other").await;
    for query in [
        "period=custom",
        "period=custom&from=2026-06-02&to=2026-06-01",
        "period=custom&from=2026-01-01&to=2027-01-02",
        "period=month&from=2026-06-01",
        "date=1999-01-01",
    ] {
        send(&app, Method::GET, &path(&s.studio, &format!("/dashboard?{query}")), &s.owner, None)
            .await
            .assert_problem(422, "validation-failed");
    }
    send(&app, Method::GET, &path(&s.studio, "/dashboard?period=fortnight"), &s.owner, None)
        .await
        .assert_problem(400, "invalid-query");
    send(&app, Method::GET, &path(&s.studio, "/dashboard"), &s.pro, None)
        .await
        .assert_problem(403, "role-required");
    send(&app, Method::GET, &path(&other.studio, "/dashboard"), &s.owner, None)
        .await
        .assert_problem(404, "not-found");
    let stranger = send(
        &app,
        Method::POST,
        &path(&other.studio, "/clients"),
        &other.owner,
        Some(serde_json::json!({ "name": "Zed" })),
    )
    .await
    .json();
    send(&app, Method::GET, &path(&s.studio, &format!("/reports/clients/{}", id(&stranger))), &s.owner, None)
        .await
        .assert_problem(404, "not-found");
    let custom = get(&app, &s, &s.owner, "/dashboard?period=custom&from=2026-01-01&to=2026-12-31").await;
    assert_eq!(custom["occupancy"]["available_minutes"], 365 * 9 * 60);
}

/// Bookings made and cancelled at once by many clients: the tallies still equal what the
/// bookings add up to.
async fn concurrent_changes_keep_the_tallies_true(app: TestApp) {
    let s = salon(&app, "rep-race").await;
    next_minute(&app);
    let mut clients = Vec::new();
    for i in 0..8 {
        clients
            .push(app.register_from(&format!("c{i}@rep-race.example"), Some(&format!("10.9.0.{i}"))).await);
    }
    let booked = futures_util::future::join_all(clients.iter().enumerate().map(|(i, c)| {
        let s = &s;
        let app = &app;
        // Two days, four bookings each: the day's tally item takes concurrent additions.
        async move {
            s.book_ok(app, c, &format!("2026-06-{:02}T{:02}:00:00+01:00", 2 + i / 4, 9 + (i % 4) * 2)).await
        }
    }))
    .await;
    let cancelled = futures_util::future::join_all(booked.iter().zip(&clients).step_by(2).map(|(b, c)| {
        let s = &s;
        let app = &app;
        async move { s.act(app, c, &id(b), "cancel", None).await.status }
    }))
    .await;
    assert!(cancelled.iter().all(|st| *st == 200), "{cancelled:?}");
    let report = rebuild(&app, &s, false).await;
    assert_eq!((report.bookings, report.differences.len()), (8, 0), "{:?}", report.differences);
    let d = get(&app, &s, &s.owner, "/dashboard?date=2026-06-01").await;
    assert_eq!(d["bookings"]["total"], 8);
    assert_eq!(d["bookings"]["by_status"]["cancelled"], 4);
    assert_eq!(d["clients"]["new_clients"], 4, "a cancelled first booking brings no one");
    next_minute(&app);
}

atelier_tests::on_both_backends!(
    the_dashboard_adds_up_what_happened,
    bad_periods_and_strangers_are_refused,
    concurrent_changes_keep_the_tallies_true,
);
