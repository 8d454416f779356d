//! Projects end to end through the router, on both adapters: a production with items, crew
//! fees, expenses and totals after tax; what a crew member sees and may do; the budget alert;
//! the dashboard; concurrent edits; bad input that changes nothing.

use std::collections::BTreeMap;
use std::sync::Arc;

use atelier_tests::{Account, TestApp, TestResponse};
use http::Method;
use serde_json::{Value, json};

use crate::bookings::{Salon, path, salon, send};

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_owned()
}

async fn call(
    app: &TestApp,
    s: &Salon,
    who: &Account,
    method: Method,
    rest: &str,
    body: Option<Value>,
) -> TestResponse {
    send(app, method, &path(&s.studio, rest), who, body).await
}

async fn ok(
    app: &TestApp,
    s: &Salon,
    who: &Account,
    method: Method,
    rest: &str,
    body: Option<Value>,
) -> Value {
    let response = call(app, s, who, method, rest, body).await;
    assert!(response.status.is_success(), "{rest}: {}", String::from_utf8_lossy(&response.body));
    response.json()
}

async fn client(app: &TestApp, s: &Salon, name: &str) -> String {
    id(&ok(app, s, &s.owner, Method::POST, "/clients", Some(json!({ "name": name }))).await)
}

async fn project(app: &TestApp, s: &Salon, body: Value) -> Value {
    let response = call(app, s, &s.owner, Method::POST, "/projects", Some(body)).await;
    assert_eq!(response.status, 201, "{}", String::from_utf8_lossy(&response.body));
    response.json()
}

/// Moves the clock into the next minute: the callers' rate-limit windows start empty.
fn next_minute(app: &TestApp) {
    let now = app.platform.clock.now();
    app.clock.set(now + jiff::SignedDuration::from_secs(61));
}

async fn inbox_titles(app: &TestApp, who: &Account) -> Vec<String> {
    let response = send(app, Method::GET, "/v1/me/notifications?limit=100", who, None).await;
    response.json()["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|n| n["title"].as_str().unwrap_or("").to_owned())
        .collect()
}

async fn a_project_runs_from_draft_to_delivery_with_an_honest_profit(app: TestApp) {
    let s = salon(&app, "proj-flow").await;
    let joana = app.join(&s.studio, &s.owner, "joana@proj-flow.example", "professional").await;
    app.make_professional(&s.studio, &s.owner, &joana).await;
    let marta = client(&app, &s, "Marta").await;
    let sleeve = project(
        &app,
        &s,
        json!({ "title": "Full sleeve", "client_id": marta, "description": "Japanese, four sessions", "start_date": "2026-06-01",
                "deadline": "2026-06-08", "tags": ["Tattoo", "tattoo", "sleeve"], "budget_minor": 40000 }),
    )
    .await;
    assert_eq!(sleeve["status"], "draft");
    assert_eq!(sleeve["tags"], json!(["tattoo", "sleeve"]));
    let p = format!("/projects/{}", id(&sleeve));
    // A session already booked for Marta is a line whose revenue is the booking's too.
    let booking = json!({ "service_id": s.cut, "professional_id": s.pro.user_id, "start": "2026-06-02T10:00:00+01:00", "client_id": marta });
    let booked = id(&ok(&app, &s, &s.owner, Method::POST, "/bookings", Some(booking)).await);
    let someone_elses =
        s.book_ok(&app, &app.register("else@proj-flow.example").await, "2026-06-03T10:00:00+01:00").await;
    call(&app, &s, &s.owner, Method::POST, &format!("{p}/items"), Some(json!({ "description": "Session", "quantity": 1, "unit_price_minor": 4000, "booking_ids": [id(&someone_elses)] })))
        .await
        .assert_problem(422, "unknown-project-reference");
    let items = [
        json!({ "service_id": s.cut, "quantity": 2, "discount_bps": 1000 }),
        json!({ "description": "Sleeve design", "quantity": 1, "unit_price_minor": 30000 }),
        json!({ "description": "Session 1", "quantity": 1, "unit_price_minor": 4000, "booking_ids": [booked] }),
    ];
    for item in items {
        let added = call(&app, &s, &s.owner, Method::POST, &format!("{p}/items"), Some(item)).await;
        assert_eq!(added.status, 201, "{:?}", added.body);
    }
    call(&app, &s, &s.owner, Method::POST, &format!("{p}/items"), Some(json!({ "description": "Again", "quantity": 1, "unit_price_minor": 4000, "booking_ids": [booked] })))
        .await
        .assert_problem(409, "booking-already-linked");
    ok(
        &app,
        &s,
        &s.owner,
        Method::PUT,
        &format!("{p}/crew/{}", s.pro.user_id),
        Some(json!({ "role": "Artist", "fee": { "kind": "fixed", "amount_minor": 20000 } })),
    )
    .await;
    ok(
        &app,
        &s,
        &s.owner,
        Method::PUT,
        &format!("{p}/crew/{}", joana.user_id),
        Some(json!({ "role": "Assistant", "fee": { "kind": "hourly", "rate_minor": 3000 } })),
    )
    .await;
    let with_expense = call(&app, &s, &s.owner, Method::POST, &format!("{p}/expenses"), Some(json!({ "category": "materials", "description": "Inks", "amount_minor": 5000, "date": "2026-06-01", "receipt": "FT-88" }))).await;
    assert_eq!(with_expense.status, 201);
    // Revenue 2 × 40.00 less 10 % = 72.00, plus 300.00 and the booked session's 40.00: 412.00
    // (40.00 of it the booking's); tax 23 % once: 94.76; crew 200.00; expenses 50.00; profit
    // 67.24, a margin of 16.32 %.
    let totals = with_expense.json()["totals"].clone();
    assert_eq!(totals["revenue_minor"], 41200);
    assert_eq!(totals["booked_revenue_minor"], 4000);
    assert_eq!(totals["tax_minor"], 9476);
    assert_eq!(totals["crew_costs_minor"], 20000);
    assert_eq!(totals["expenses_minor"], 5000);
    assert_eq!(totals["profit_minor"], 41200 - 20000 - 5000 - 9476);
    assert_eq!(totals["margin_bps"], 1632);

    // The crew member sees their project only, their own fee, no totals.
    let other = project(&app, &s, json!({ "title": "Bridal party", "client_id": client(&app, &s, "Inês").await, "deadline": "2026-06-05" })).await;
    call(&app, &s, &joana, Method::GET, &format!("/projects/{}", id(&other)), None)
        .await
        .assert_problem(404, "not-found");
    let listed = ok(&app, &s, &joana, Method::GET, "/projects", None).await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));
    let seen = ok(&app, &s, &joana, Method::GET, &p, None).await;
    assert!(seen.get("totals").is_none() && seen.get("budget_minor").is_none(), "{seen}");
    let fees: BTreeMap<String, Value> = seen["crew"]
        .as_array()
        .expect("crew")
        .iter()
        .map(|c| (c["user_id"].as_str().expect("id").to_owned(), c["fee"].clone()))
        .collect();
    assert_eq!(fees[&joana.user_id]["kind"], "hourly");
    assert!(fees[&s.pro.user_id].is_null(), "another's fee is hidden: {fees:?}");
    // She logs her hours and moves the work along; she may not spend or touch another's hours.
    ok(
        &app,
        &s,
        &joana,
        Method::PUT,
        &format!("{p}/crew/{}/minutes", joana.user_id),
        Some(json!({ "minutes": 150 })),
    )
    .await;
    call(
        &app,
        &s,
        &joana,
        Method::PUT,
        &format!("{p}/crew/{}/minutes", s.pro.user_id),
        Some(json!({ "minutes": 1 })),
    )
    .await
    .assert_problem(403, "role-required");
    call(
        &app,
        &s,
        &joana,
        Method::POST,
        &format!("{p}/expenses"),
        Some(json!({ "category": "x", "description": "x", "amount_minor": 1, "date": "2026-06-01" })),
    )
    .await
    .assert_problem(403, "role-required");
    ok(&app, &s, &s.owner, Method::POST, &format!("{p}/status"), Some(json!({ "status": "planned" }))).await;
    ok(&app, &s, &joana, Method::POST, &format!("{p}/status"), Some(json!({ "status": "in_progress" })))
        .await;
    call(&app, &s, &joana, Method::POST, &format!("{p}/status"), Some(json!({ "status": "closed" })))
        .await
        .assert_problem(409, "invalid-project-transition");
    let delivered =
        ok(&app, &s, &joana, Method::POST, &format!("{p}/status"), Some(json!({ "status": "delivered" })))
            .await;
    assert_eq!(delivered["status"], "delivered");

    // 150 minutes at 30.00 an hour: 75.00 more crew costs; 200 + 75 + 50 = 325.00 of a 400.00
    // budget. Another expense of 100.00 takes it over: the owners are told once.
    let full = ok(&app, &s, &s.owner, Method::GET, &p, None).await;
    assert_eq!(full["totals"]["crew_costs_minor"], 27500);
    assert_eq!(full["over_budget"], false);
    for amount in [10000, 500] {
        ok(&app, &s, &s.owner, Method::POST, &format!("{p}/expenses"), Some(json!({ "category": "rental", "description": "Chair", "amount_minor": amount, "date": "2026-06-03" }))).await;
    }
    while app.run_workers().await > 0 {}
    let titles = inbox_titles(&app, &s.owner).await;
    assert_eq!(titles.iter().filter(|t| t.starts_with("Over budget")).count(), 1, "{titles:?}");
    assert!(!inbox_titles(&app, &joana).await.iter().any(|t| t.starts_with("Over budget")));

    // The dashboard: one delivered, one draft due within 14 days; the delivered month's money.
    let board = ok(&app, &s, &s.owner, Method::GET, "/project-dashboard", None).await;
    assert_eq!(board["by_status"]["delivered"], 1);
    assert_eq!(board["by_status"]["draft"], 1);
    assert_eq!(board["due_soon"].as_array().map(Vec::len), Some(1), "{board}");
    assert_eq!(board["due_soon"][0]["title"], "Bridal party");
    let months = board["months"].as_array().expect("months");
    let month = months.iter().find(|m| m["delivered"] == 1).expect("the delivery month");
    let now = ok(&app, &s, &s.owner, Method::GET, &p, None).await["totals"].clone();
    assert_eq!(month["revenue_minor"], now["revenue_minor"]);
    assert_eq!(month["profit_minor"], now["profit_minor"], "later expenses moved the month's profit too");
    call(&app, &s, &joana, Method::GET, "/project-dashboard", None)
        .await
        .assert_problem(403, "role-required");

    // Closed: nothing changes any more.
    ok(&app, &s, &s.owner, Method::POST, &format!("{p}/status"), Some(json!({ "status": "closed" }))).await;
    call(
        &app,
        &s,
        &s.owner,
        Method::POST,
        &format!("{p}/expenses"),
        Some(json!({ "category": "x", "description": "x", "amount_minor": 1, "date": "2026-06-01" })),
    )
    .await
    .assert_problem(409, "project-finished");
    let by_client = ok(&app, &s, &s.owner, Method::GET, &format!("/projects?client_id={marta}"), None).await;
    assert_eq!(by_client["items"][0]["status"], "closed");
    let by_status = ok(&app, &s, &s.owner, Method::GET, "/projects?status=draft", None).await;
    assert_eq!(by_status["items"].as_array().map(Vec::len), Some(1));
    let by_deadline =
        ok(&app, &s, &s.owner, Method::GET, "/projects?from=2026-06-06&to=2026-06-30", None).await;
    assert_eq!(by_deadline["items"][0]["title"], "Full sleeve");
}

async fn concurrent_edits_lose_nothing_and_stale_ones_are_refused(app: TestApp) {
    let app = Arc::new(app);
    let s = salon(&app, "proj-race").await;
    let manager = app.join(&s.studio, &s.owner, "manager@proj-race.example", "manager").await;
    let created =
        project(&app, &s, json!({ "title": "Shoot", "client_id": client(&app, &s, "Ana").await })).await;
    let p = format!("/projects/{}", id(&created));
    let stale = |who: &Account, title: &str| {
        app.request(Method::PATCH, &path(&s.studio, &p))
            .bearer(&who.access)
            .header("if-match", "\"1\"")
            .json(&json!({ "title": title }))
            .send()
    };
    let (a, b) = tokio::join!(stale(&s.owner, "Shoot A"), stale(&manager, "Shoot B"));
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 412]);
    next_minute(&app);
    let tasks: Vec<_> = (0..10)
        .map(|n| {
            let body = json!({ "category": "materials", "description": format!("Film {n}"), "amount_minor": 1000 + n, "date": "2026-06-01" });
            tokio::spawn(send(&app, Method::POST, &path(&s.studio, &format!("{p}/expenses")), if n % 2 == 0 { &s.owner } else { &manager }, Some(body)))
        })
        .collect();
    for task in tasks {
        let response = task.await.expect("task");
        assert_eq!(response.status, 201, "{:?}", response.body);
    }
    let after = ok(&app, &s, &s.owner, Method::GET, &p, None).await;
    let stored: i64 = after["expenses"]
        .as_array()
        .expect("expenses")
        .iter()
        .map(|e| e["amount_minor"].as_i64().expect("amount"))
        .sum();
    assert_eq!(after["expenses"].as_array().map(Vec::len), Some(10));
    assert_eq!(stored, (0..10).map(|n| 1000 + n).sum::<i64>());
    assert_eq!(after["totals"]["expenses_minor"], stored);

    // A stale `If-Match` is refused on every change, not only the header's.
    app.request(Method::POST, &path(&s.studio, &format!("{p}/expenses")))
        .bearer(&s.owner.access)
        .header("if-match", "\"1\"")
        .json(&json!({ "category": "x", "description": "x", "amount_minor": 1, "date": "2026-06-01" }))
        .send()
        .await
        .assert_problem(412, "precondition-failed");

    // Five moves to `planned` at once: one, and four that make no sense once it has moved;
    // the dashboard's counts follow.
    next_minute(&app);
    let moves: Vec<_> = (0..5)
        .map(|n| {
            tokio::spawn(send(
                &app,
                Method::POST,
                &path(&s.studio, &format!("{p}/status")),
                if n % 2 == 0 { &s.owner } else { &manager },
                Some(json!({ "status": "planned" })),
            ))
        })
        .collect();
    let mut statuses = Vec::new();
    for task in moves {
        let response = task.await.expect("task");
        if response.status == 409 {
            response.assert_problem(409, "invalid-project-transition");
        }
        statuses.push(response.status.as_u16());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409, 409, 409, 409]);
    let board = ok(&app, &s, &s.owner, Method::GET, "/project-dashboard", None).await;
    assert_eq!(
        (board["by_status"]["planned"].as_i64(), board["by_status"]["draft"].as_i64()),
        (Some(1), Some(0))
    );

    // Six expenses at once on a budget of 50.00 that the fifth crosses: one alert.
    let tight = project(
        &app,
        &s,
        json!({ "title": "Tight", "client_id": client(&app, &s, "Bea").await, "budget_minor": 5000 }),
    )
    .await;
    let t = format!("/projects/{}", id(&tight));
    next_minute(&app);
    let spends: Vec<_> = (0..6)
        .map(|n| {
            let body = json!({ "category": "materials", "description": format!("Roll {n}"), "amount_minor": 1000, "date": "2026-06-01" });
            tokio::spawn(send(&app, Method::POST, &path(&s.studio, &format!("{t}/expenses")), if n % 2 == 0 { &s.owner } else { &manager }, Some(body)))
        })
        .collect();
    for task in spends {
        assert_eq!(task.await.expect("task").status, 201);
    }
    while app.run_workers().await > 0 {}
    let titles = inbox_titles(&app, &app.sign_in_again(&s.owner).await).await;
    assert_eq!(titles.iter().filter(|t| t.as_str() == "Over budget: Tight").count(), 1, "{titles:?}");
}

async fn bad_input_changes_nothing(app: TestApp) {
    let s = salon(&app, "proj-bad").await;
    let other = salon(&app, "proj-other").await;
    let theirs = client(&app, &other, "Theirs").await;
    let ours = client(&app, &s, "Ours").await;
    let post = |body: Value| call(&app, &s, &s.owner, Method::POST, "/projects", Some(body));
    post(json!({ "title": "X", "client_id": theirs })).await.assert_problem(422, "unknown-project-reference");
    post(json!({ "title": "X", "client_id": ours, "start_date": "2026-06-10", "deadline": "2026-06-01" }))
        .await
        .assert_problem(422, "validation-failed");
    post(json!({ "title": "", "client_id": ours })).await.assert_problem(422, "validation-failed");
    call(&app, &s, &s.pro, Method::POST, "/projects", Some(json!({ "title": "X", "client_id": ours })))
        .await
        .assert_problem(403, "role-required");
    let created = project(&app, &s, json!({ "title": "Event", "client_id": ours })).await;
    let p = format!("/projects/{}", id(&created));
    let items = format!("{p}/items");
    let item = |body: Value| call(&app, &s, &s.owner, Method::POST, &items, Some(body));
    item(json!({ "description": "X", "quantity": -1, "unit_price_minor": 100 }))
        .await
        .assert_problem(422, "validation-failed");
    item(json!({ "description": "X", "quantity": 1, "unit_price_minor": 1_000_000_001 }))
        .await
        .assert_problem(422, "validation-failed");
    item(json!({ "service_id": "01JNOSUCHSERVICE0000000000", "quantity": 1 }))
        .await
        .assert_problem(422, "unknown-project-reference");
    item(json!({ "service_id": other.cut, "quantity": 1 }))
        .await
        .assert_problem(422, "unknown-project-reference");
    item(json!({ "description": "X", "quantity": 1 })).await.assert_problem(422, "validation-failed");
    call(
        &app,
        &s,
        &s.owner,
        Method::PUT,
        &format!("{p}/crew/{}", other.pro.user_id),
        Some(json!({ "role": "x", "fee": { "kind": "fixed", "amount_minor": 1 } })),
    )
    .await
    .assert_problem(422, "unknown-project-reference");
    call(&app, &s, &s.owner, Method::POST, &format!("{p}/status"), Some(json!({ "status": "delivered" })))
        .await
        .assert_problem(409, "invalid-project-transition");
    call(&app, &s, &other.owner, Method::GET, &p, None).await.assert_problem(404, "not-found");
    let after = ok(&app, &s, &s.owner, Method::GET, &p, None).await;
    assert_eq!(
        (after["version"].as_i64(), after["items"].as_array().map(Vec::len)),
        (Some(1), Some(0)),
        "nothing written"
    );
    let listed = ok(&app, &s, &s.owner, Method::GET, "/projects", None).await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1), "only the one project");

    // A project holds at most 50 items.
    for n in 0..50 {
        if n % 90 == 0 {
            next_minute(&app);
        }
        assert_eq!(
            item(json!({ "description": format!("Line {n}"), "quantity": 1, "unit_price_minor": 100 }))
                .await
                .status,
            201
        );
    }
    item(json!({ "description": "One more", "quantity": 1, "unit_price_minor": 100 }))
        .await
        .assert_problem(409, "project-full");
}

atelier_tests::on_both_backends!(
    a_project_runs_from_draft_to_delivery_with_an_honest_profit,
    concurrent_edits_lose_nothing_and_stale_ones_are_refused,
    bad_input_changes_nothing,
);
