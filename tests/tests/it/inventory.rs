//! Inventory end to end through the router, on both adapters: the catalogue, stock that never
//! goes negative under concurrent movements, moving-average valuation, a completed booking
//! consuming its service's products once, low-stock alerts once per fall to owners and
//! managers only, sales, idempotency, bad input, search and filters.

use std::collections::BTreeMap;
use std::sync::Arc;

use atelier_tests::{Account, TestApp, TestResponse};
use http::Method;
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::bookings::{Salon, path, salon, send};

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_owned()
}

async fn post(app: &TestApp, s: &Salon, who: &Account, rest: &str, body: Value) -> TestResponse {
    send(app, Method::POST, &path(&s.studio, rest), who, Some(body)).await
}

async fn created(app: &TestApp, s: &Salon, rest: &str, body: Value) -> Value {
    let response = post(app, s, &s.owner, rest, body).await;
    assert_eq!(response.status, 201, "{rest}: {}", String::from_utf8_lossy(&response.body));
    response.json()
}

async fn get(app: &TestApp, s: &Salon, who: &Account, rest: &str) -> Value {
    let response = send(app, Method::GET, &path(&s.studio, rest), who, None).await;
    assert_eq!(response.status, 200, "{rest}: {}", String::from_utf8_lossy(&response.body));
    response.json()
}

async fn product(app: &TestApp, s: &Salon, title: &str, sku: &str, extra: Value) -> String {
    let mut body =
        json!({ "title": title, "sku": sku, "unit": "ml", "cost_price_minor": 10, "sell_price_minor": 25 });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    id(&created(app, s, "/products", body).await)
}

async fn movement(app: &TestApp, s: &Salon, who: &Account, product: &str, body: Value) -> TestResponse {
    post(app, s, who, &format!("/products/{product}/movements"), body).await
}

async fn receive(app: &TestApp, s: &Salon, product: &str, quantity: i64, unit_cost: i64) {
    let response = movement(
        app,
        s,
        &s.owner,
        product,
        json!({ "kind": "inflow", "quantity": quantity, "unit_cost_minor": unit_cost }),
    )
    .await;
    assert_eq!(response.status, 201, "{}", String::from_utf8_lossy(&response.body));
}

async fn drain(app: &TestApp) {
    while app.run_workers().await > 0 {}
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

/// Moves the clock into the next minute, so a burst of requests starts with the callers'
/// rate-limit windows empty (100 a minute each).
fn next_minute(app: &TestApp) {
    let now = app.platform.clock.now();
    app.clock.set(now + jiff::SignedDuration::from_secs(61));
}

fn counts(statuses: impl IntoIterator<Item = u16>) -> BTreeMap<u16, usize> {
    let mut counts = BTreeMap::new();
    for s in statuses {
        *counts.entry(s).or_default() += 1;
    }
    counts
}

async fn all_movements(app: &TestApp, s: &Salon, product: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = get(app, s, &s.owner, &format!("/products/{product}/movements?limit=100{cursor}")).await;
        items.extend(page["items"].as_array().expect("items").iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return items,
        }
    }
}

async fn an_owner_stocks_products_and_completed_bookings_consume_them(app: TestApp) {
    let s = salon(&app, "stock-flow").await;
    let manager = app.join(&s.studio, &s.owner, "manager@stock-flow.example", "manager").await;
    let category = id(&created(&app, &s, "/product-categories", json!({ "name": "Colour" })).await);
    let brand = id(&created(&app, &s, "/brands", json!({ "name": "Wella" })).await);
    let model =
        id(&created(&app, &s, "/product-models", json!({ "brand_id": brand, "name": "Koleston" })).await);
    let supplier = created(
        &app,
        &s,
        "/suppliers",
        json!({ "name": "Beauty Supply Lda", "tax_id": "PT501234567", "lead_time_days": 3, "email": "orders@supply.example" }),
    )
    .await;
    assert_eq!(supplier["lead_time_days"], 3);
    let dye = product(
        &app,
        &s,
        "Koleston 7/0",
        "KOL-70",
        json!({ "category_id": category, "brand_id": brand, "model_id": model, "supplier_id": id(&supplier), "minimum_quantity": 50 }),
    )
    .await;
    // Moving average: 100 ml at 10, 100 ml at 20 → 15 each.
    let first = movement(&app, &s, &s.owner, &dye, json!({ "kind": "inflow", "quantity": 100, "unit_cost_minor": 10, "supplier_id": id(&supplier), "reference": "FT 2026/1" })).await;
    assert_eq!(first.status, 201);
    assert_eq!(first.json()["reference"], "FT 2026/1");
    receive(&app, &s, &dye, 100, 20).await;
    let stocked = get(&app, &s, &s.pro, &format!("/products/{dye}")).await;
    assert_eq!((stocked["quantity"].as_i64(), stocked["value_minor"].as_i64()), (Some(200), Some(3000)));
    assert_eq!(stocked["average_cost_minor"], 15);

    // The cut uses 60 ml: a completed booking consumes it once.
    let usage = send(
        &app,
        Method::PUT,
        &path(&s.studio, &format!("/services/{}/stock-usage", s.cut)),
        &s.owner,
        Some(json!({ "items": [{ "product_id": dye, "quantity": 60 }] })),
    )
    .await;
    assert_eq!(usage.status, 200, "{:?}", usage.body);
    let client = app.register("ana@stock-flow.example").await;
    let mut consumed = Vec::new();
    for start in [
        "2026-06-02T10:00:00+01:00",
        "2026-06-02T12:00:00+01:00",
        "2026-06-02T14:00:00+01:00",
        "2026-06-02T16:00:00+01:00",
    ] {
        let booking = s.book_ok(&app, &client, start).await;
        let booking_id = id(&booking);
        let confirmed = send(
            &app,
            Method::POST,
            &path(&s.studio, &format!("/bookings/{booking_id}/confirm")),
            &s.owner,
            None,
        )
        .await;
        assert!(confirmed.status == 200 || booking["status"] == "confirmed", "{:?}", confirmed.body);
        consumed.push(booking_id);
    }
    app.clock.set("2026-06-02T17:30:00Z".parse::<Timestamp>().expect("instant"));
    // Tokens signed before the clock moved have expired.
    let (owner, pro) = (app.sign_in_again(&s.owner).await, app.sign_in_again(&s.pro).await);
    let s = Salon { studio: s.studio, owner, pro, cut: s.cut };
    let pro = app.sign_in_again(&s.pro).await;
    // 200 → 140 → 80 → 20 (below the minimum of 50: one alert) → 0 with a shortfall of 40.
    for (n, booking_id) in consumed.iter().enumerate() {
        let done = send(
            &app,
            Method::POST,
            &path(&s.studio, &format!("/bookings/{booking_id}/complete")),
            &pro,
            None,
        )
        .await;
        assert_eq!(done.status, 200, "{:?}", done.body);
        if n == 0 {
            // Five deliveries of the completion at once (a redelivery racing the first): one
            // records the outflow, the others nothing.
            let booking =
                atelier_bookings::load(&app.platform, &s.studio.as_str().into(), &booking_id.as_str().into())
                    .await
                    .expect("booking");
            let mut event = atelier_bookings::events::BookingEvent::of(&booking);
            event.by = Some(atelier_domain::ids::UserId::new(s.pro.user_id.clone()));
            let racers: Vec<_> = (0..5)
                .map(|_| {
                    let (platform, event) = (app.platform.clone(), event.clone());
                    tokio::spawn(async move {
                        atelier_inventory::usage::consume(&platform, &event).await.expect("consume").len()
                    })
                })
                .collect();
            let mut recorded = Vec::new();
            for racer in racers {
                recorded.push(racer.await.expect("task"));
            }
            recorded.sort_unstable();
            assert_eq!(recorded, [0, 0, 0, 0, 1], "one delivery records the outflow");
        }
        drain(&app).await;
    }
    let after = get(&app, &s, &s.owner, &format!("/products/{dye}")).await;
    assert_eq!(after["quantity"], 0);
    assert_eq!(after["value_minor"], 0);
    assert_eq!(after["low"], true);
    let history = all_movements(&app, &s, &dye).await;
    let service: Vec<&Value> = history.iter().filter(|m| m["reason"] == "service").collect();
    assert_eq!(service.len(), 4, "one outflow per completed booking");
    assert_eq!(service.iter().map(|m| m["shortfall"].as_i64().unwrap_or(0)).sum::<i64>(), 40);
    assert!(
        service.iter().all(|m| m["booking_id"].is_string() && m["by"] == s.pro.user_id.as_str()),
        "recorded in the name of who completed the booking: {service:?}"
    );

    // A redelivered completion records nothing more.
    let event: atelier_bookings::events::BookingEvent = {
        let booking =
            atelier_bookings::load(&app.platform, &s.studio.as_str().into(), &consumed[0].as_str().into())
                .await
                .expect("booking");
        atelier_bookings::events::BookingEvent::of(&booking)
    };
    let again = atelier_inventory::usage::consume(&app.platform, &event).await.expect("consume");
    assert!(again.is_empty());
    assert_eq!(all_movements(&app, &s, &dye).await.len(), history.len());

    // One low-stock alert to each owner and manager, none to the professional; the shortfall too.
    let low = |titles: &[String]| titles.iter().filter(|t| t.starts_with("Low stock")).count();
    let short = |titles: &[String]| titles.iter().filter(|t| t.starts_with("Stock short")).count();
    for who in [&s.owner, &manager] {
        let titles = inbox_titles(&app, &app.sign_in_again(who).await).await;
        assert_eq!((low(&titles), short(&titles)), (1, 1), "{titles:?}");
    }
    assert_eq!(low(&inbox_titles(&app, &pro).await), 0);

    // Received again: recovered; a later fall alerts again.
    receive(&app, &s, &dye, 100, 12).await;
    assert_eq!(get(&app, &s, &s.owner, &format!("/products/{dye}")).await["low"], false);
    let out = movement(
        &app,
        &s,
        &s.pro,
        &dye,
        json!({ "kind": "outflow", "quantity": 60, "reason": "loss", "note": "spilled" }),
    )
    .await;
    assert_eq!(out.status, 201, "{:?}", out.body);
    drain(&app).await;
    assert_eq!(low(&inbox_titles(&app, &app.sign_in_again(&s.owner).await).await), 2);

    let valuation = get(&app, &s, &s.owner, "/inventory/valuation").await;
    assert_eq!(valuation["value_minor"], 40 * 12);
    assert_eq!(valuation["low_products"], 1);
    assert_eq!(valuation["currency"], "EUR");
    let by_period = get(&app, &s, &s.owner, "/stock-movements?from=2026-05-01&to=2026-06-30&limit=100").await;
    assert_eq!(
        by_period["items"].as_array().expect("items").len(),
        all_movements(&app, &s, &dye).await.len()
    );
}

async fn concurrent_outflows_never_take_stock_below_zero(app: TestApp) {
    let app = Arc::new(app);
    let s = salon(&app, "stock-race").await;
    let needles = product(
        &app,
        &s,
        "Needle cartridges 3RL",
        "NDL-3RL",
        json!({ "unit": "piece", "minimum_quantity": 5 }),
    )
    .await;
    receive(&app, &s, &needles, 10, 100).await;
    next_minute(&app);
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            tokio::spawn(send(
                &app,
                Method::POST,
                &path(&s.studio, &format!("/products/{needles}/movements")),
                &s.owner,
                Some(json!({ "kind": "outflow", "quantity": 1 })),
            ))
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        let response = task.await.expect("task");
        if response.status == 409 {
            response.assert_problem(409, "insufficient-stock");
        }
        statuses.push(response.status.as_u16());
    }
    assert_eq!(counts(statuses), BTreeMap::from([(201, 10), (409, 90)]));
    next_minute(&app);
    let after = get(&app, &s, &s.owner, &format!("/products/{needles}")).await;
    assert_eq!((after["quantity"].as_i64(), after["value_minor"].as_i64()), (Some(0), Some(0)));
    drain(&app).await;
    let titles = inbox_titles(&app, &s.owner).await;
    assert_eq!(titles.iter().filter(|t| t.starts_with("Low stock")).count(), 1, "{titles:?}");

    // Counts and outflows at once: the quantity is the sum of what the movements recorded.
    receive(&app, &s, &needles, 50, 100).await;
    next_minute(&app);
    let mut tasks = Vec::new();
    for n in 0..30 {
        let body = if n % 6 == 0 {
            json!({ "kind": "count", "quantity": 40 - n })
        } else {
            json!({ "kind": "outflow", "quantity": 2 })
        };
        tasks.push(tokio::spawn(send(
            &app,
            Method::POST,
            &path(&s.studio, &format!("/products/{needles}/movements")),
            &s.owner,
            Some(body),
        )));
    }
    for task in tasks {
        let response = task.await.expect("task");
        if response.status == 409 {
            response.assert_problem(409, "insufficient-stock");
        } else {
            assert_eq!(response.status, 201, "{:?}", response.body);
        }
    }
    next_minute(&app);
    let history = all_movements(&app, &s, &needles).await;
    assert_eq!(history.iter().filter(|m| m["kind"] == "count").count(), 5, "every count applied");
    let after = get(&app, &s, &s.owner, &format!("/products/{needles}")).await;
    let sum = |field: &str| history.iter().map(|m| m[field].as_i64().expect("number")).sum::<i64>();
    assert_eq!(Some(sum("quantity_delta")), after["quantity"].as_i64());
    assert_eq!(Some(sum("value_delta_minor")), after["value_minor"].as_i64());
    assert!(after["quantity"].as_i64().is_some_and(|q| q >= 0));
    let valuation = get(&app, &s, &s.owner, "/inventory/valuation").await;
    assert_eq!(valuation["value_minor"], after["value_minor"]);
}

async fn bad_input_and_other_studios_change_nothing(app: TestApp) {
    let app = Arc::new(app);
    let s = salon(&app, "stock-bad").await;
    let other = salon(&app, "stock-other").await;
    let theirs = product(&app, &other, "Their shampoo", "SH-1", json!({})).await;
    let ours = product(&app, &s, "Shampoo", "SH-1", json!({})).await;
    receive(&app, &s, &ours, 5, 300).await;
    let before = all_movements(&app, &s, &ours).await;

    for body in [
        json!({ "kind": "outflow", "quantity": 0 }),
        json!({ "kind": "outflow", "quantity": -3 }),
        json!({ "kind": "inflow", "quantity": 1, "unit_cost_minor": 1_000_000_001 }),
        json!({ "kind": "outflow", "quantity": 1, "unit_cost_minor": 5 }),
        json!({ "kind": "count", "quantity": -1 }),
    ] {
        movement(&app, &s, &s.owner, &ours, body).await.assert_problem(422, "validation-failed");
    }
    movement(&app, &s, &s.owner, &ours, json!({ "kind": "outflow", "quantity": 6 }))
        .await
        .assert_problem(409, "insufficient-stock");
    movement(&app, &s, &s.pro, &ours, json!({ "kind": "inflow", "quantity": 1 }))
        .await
        .assert_problem(403, "role-required");
    movement(&app, &s, &s.owner, "01JNOSUCHPRODUCT0000000000", json!({ "kind": "outflow", "quantity": 1 }))
        .await
        .assert_problem(404, "not-found");
    movement(&app, &s, &s.owner, &theirs, json!({ "kind": "outflow", "quantity": 1 }))
        .await
        .assert_problem(404, "not-found");
    send(&app, Method::GET, &path(&other.studio, &format!("/products/{theirs}")), &s.owner, None)
        .await
        .assert_problem(404, "not-found");
    post(&app, &s, &s.owner, "/products", json!({ "title": "Dup", "sku": "sh-1" }))
        .await
        .assert_problem(409, "sku-taken");
    post(
        &app,
        &s,
        &s.owner,
        "/products",
        json!({ "title": "Pricey", "sku": "P-1", "sell_price_minor": 1_000_000_001 }),
    )
    .await
    .assert_problem(422, "validation-failed");
    post(
        &app,
        &s,
        &s.owner,
        "/products",
        json!({ "title": "Orphan", "sku": "O-1", "category_id": "01JNOSUCHCATEGORY000000000" }),
    )
    .await
    .assert_problem(422, "unknown-reference");
    let serial = json!({ "title": "Clipper", "sku": "CL-1", "serial_number": "SN-0001" });
    assert_eq!(post(&app, &s, &s.owner, "/products", serial).await.status, 201);
    post(
        &app,
        &s,
        &s.owner,
        "/products",
        json!({ "title": "Clipper 2", "sku": "CL-2", "serial_number": "sn-0001" }),
    )
    .await
    .assert_problem(409, "serial-number-taken");
    let huge = json!({ "kind": "inflow", "quantity": 1_000_000_000, "unit_cost_minor": 0 });
    let big = theirs_too(&app, &s).await;
    assert_eq!(movement(&app, &s, &s.owner, &big, huge).await.status, 201);
    movement(&app, &s, &s.owner, &big, json!({ "kind": "inflow", "quantity": 1 }))
        .await
        .assert_problem(422, "stock-limit");
    let retired = send(
        &app,
        Method::PATCH,
        &path(&s.studio, &format!("/products/{big}")),
        &s.owner,
        Some(json!({ "active": false })),
    )
    .await;
    assert_eq!(retired.status, 200, "{:?}", retired.body);
    movement(&app, &s, &s.owner, &big, json!({ "kind": "outflow", "quantity": 1 }))
        .await
        .assert_problem(409, "product-inactive");
    let sale =
        json!({ "lines": [{ "product_id": ours, "quantity": 2 }, { "product_id": ours, "quantity": 1 }] });
    post(&app, &s, &s.owner, "/sales", sale).await.assert_problem(422, "validation-failed");
    post(&app, &s, &s.owner, "/sales", json!({ "lines": [{ "product_id": theirs, "quantity": 1 }] }))
        .await
        .assert_problem(404, "not-found");
    post(&app, &s, &s.owner, "/sales", json!({ "lines": [{ "product_id": ours, "quantity": 0 }] }))
        .await
        .assert_problem(422, "validation-failed");
    post(
        &app,
        &s,
        &s.owner,
        "/sales",
        json!({ "lines": [{ "product_id": ours, "quantity": 1, "unit_price_minor": 1_000_000_001 }] }),
    )
    .await
    .assert_problem(422, "validation-failed");
    let their_client = send(
        &app,
        Method::POST,
        &path(&other.studio, "/clients"),
        &other.owner,
        Some(json!({ "name": "Theirs" })),
    )
    .await
    .json();
    post(
        &app,
        &s,
        &s.owner,
        "/sales",
        json!({ "client_id": id(&their_client), "lines": [{ "product_id": ours, "quantity": 1 }] }),
    )
    .await
    .assert_problem(404, "not-found");
    let usage = |body: Value| {
        send(
            &app,
            Method::PUT,
            &path(&s.studio, &format!("/services/{}/stock-usage", s.cut)),
            &s.owner,
            Some(body),
        )
    };
    usage(json!({ "items": [{ "product_id": theirs, "quantity": 1 }] }))
        .await
        .assert_problem(422, "unknown-reference");
    usage(json!({ "items": [{ "product_id": ours, "quantity": 0 }] }))
        .await
        .assert_problem(422, "validation-failed");
    // A model of another brand.
    let wella = id(&created(&app, &s, "/brands", json!({ "name": "Wella" })).await);
    let loreal = id(&created(&app, &s, "/brands", json!({ "name": "L'Oréal" })).await);
    let koleston =
        id(&created(&app, &s, "/product-models", json!({ "brand_id": wella, "name": "Koleston" })).await);
    post(
        &app,
        &s,
        &s.owner,
        "/products",
        json!({ "title": "Mixed", "sku": "MIX-1", "brand_id": loreal, "model_id": koleston }),
    )
    .await
    .assert_problem(422, "unknown-reference");
    // A sale whose total would not fit.
    let dear = product(&app, &s, "Dear", "DEAR-1", json!({ "sell_price_minor": 1_000_000_000 })).await;
    receive(&app, &s, &dear, 2, 1).await;
    post(&app, &s, &s.owner, "/sales", json!({ "lines": [{ "product_id": dear, "quantity": 2 }] }))
        .await
        .assert_problem(422, "validation-failed");
    assert_eq!(get(&app, &s, &s.owner, &format!("/products/{dear}")).await["quantity"], 2);
    assert_eq!(all_movements(&app, &s, &ours).await, before, "nothing recorded");
    let skus: Vec<String> = get(&app, &s, &s.owner, "/products?limit=100").await["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|p| p["sku"].as_str().expect("sku").to_owned())
        .collect();
    // Shampoo, clipper, the bulk product and the dear one; none of the refused ones.
    assert_eq!(skus.len(), 4, "no product written by a refused request: {skus:?}");
    assert!(!skus.iter().any(|sku| ["MIX-1", "P-1", "O-1", "CL-2"].contains(&sku.as_str())), "{skus:?}");
    assert_eq!(get(&app, &s, &s.owner, &format!("/products/{ours}")).await["quantity"], 5);

    // Ten creations of one SKU at once: one product.
    next_minute(&app);
    let tasks: Vec<_> = (0..10)
        .map(|n| {
            tokio::spawn(send(
                &app,
                Method::POST,
                &path(&s.studio, "/products"),
                &s.owner,
                Some(json!({ "title": format!("Race {n}"), "sku": "RACE-1" })),
            ))
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.expect("task").status.as_u16());
    }
    assert_eq!(counts(statuses), BTreeMap::from([(201, 1), (409, 9)]));
    let found = get(&app, &s, &s.owner, "/products?sku=race").await;
    assert_eq!(found["items"].as_array().expect("items").len(), 1);
    // The SKU moves with a rename; the old one is free again.
    let race = id(&found["items"][0]);
    let renamed = send(
        &app,
        Method::PATCH,
        &path(&s.studio, &format!("/products/{race}")),
        &s.owner,
        Some(json!({ "sku": "RACE-2" })),
    )
    .await;
    assert_eq!(renamed.status, 200, "{:?}", renamed.body);
    assert_eq!(
        post(&app, &s, &s.owner, "/products", json!({ "title": "Again", "sku": "RACE-1" })).await.status,
        201
    );
}

/// A fresh product of the salon, for limits.
async fn theirs_too(app: &TestApp, s: &Salon) -> String {
    let n = app.platform.ids.new_id();
    product(app, s, &format!("Bulk {n}"), &format!("BULK-{n}"), json!({ "cost_price_minor": 0 })).await
}

async fn sales_and_movements_are_idempotent(app: TestApp) {
    let s = salon(&app, "stock-sales").await;
    let shampoo = product(&app, &s, "Repair shampoo", "RS-250", json!({ "unit": "bottle" })).await;
    let mask =
        product(&app, &s, "Repair mask", "RM-200", json!({ "unit": "jar", "sell_price_minor": 1800 })).await;
    let uri = path(&s.studio, &format!("/products/{shampoo}/movements"));
    let inflow = json!({ "kind": "inflow", "quantity": 10, "unit_cost_minor": 600 });
    let first = app
        .request(Method::POST, &uri)
        .bearer(&s.owner.access)
        .header("idempotency-key", "delivery-7")
        .json(&inflow)
        .send()
        .await;
    assert_eq!(first.status, 201);
    let again = app
        .request(Method::POST, &uri)
        .bearer(&s.owner.access)
        .header("idempotency-key", "delivery-7")
        .json(&inflow)
        .send()
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["id"], first.json()["id"]);
    app.request(Method::POST, &uri)
        .bearer(&s.owner.access)
        .header("idempotency-key", "delivery-7")
        .json(&json!({ "kind": "inflow", "quantity": 11 }))
        .send()
        .await
        .assert_problem(422, "idempotency-key-reused");
    receive(&app, &s, &mask, 3, 900).await;
    assert_eq!(get(&app, &s, &s.owner, &format!("/products/{shampoo}")).await["quantity"], 10);

    let client =
        send(&app, Method::POST, &path(&s.studio, "/clients"), &s.owner, Some(json!({ "name": "Bea" })))
            .await
            .json();
    let too_much = json!({ "client_id": id(&client), "lines": [{ "product_id": shampoo, "quantity": 2 }, { "product_id": mask, "quantity": 4 }] });
    post(&app, &s, &s.pro, "/sales", too_much).await.assert_problem(409, "insufficient-stock");
    assert_eq!(
        get(&app, &s, &s.owner, &format!("/products/{shampoo}")).await["quantity"],
        10,
        "a refused sale takes nothing"
    );
    let sale = json!({ "client_id": id(&client), "lines": [{ "product_id": shampoo, "quantity": 2, "unit_price_minor": 1500 }, { "product_id": mask, "quantity": 1 }] });
    let sold = app
        .request(Method::POST, &path(&s.studio, "/sales"))
        .bearer(&s.pro.access)
        .header("idempotency-key", "till-1")
        .json(&sale)
        .send()
        .await;
    assert_eq!(sold.status, 201, "{:?}", sold.body);
    let replay = app
        .request(Method::POST, &path(&s.studio, "/sales"))
        .bearer(&s.pro.access)
        .header("idempotency-key", "till-1")
        .json(&sale)
        .send()
        .await;
    assert_eq!(replay.status, 200);
    let body = sold.json();
    assert_eq!(replay.json(), body, "the same sale");
    assert_eq!(body["total_minor"], 2 * 1500 + 1800);
    assert_eq!(body["lines"][0]["cost_minor"], 1200);
    assert_eq!(get(&app, &s, &s.owner, &format!("/products/{shampoo}")).await["quantity"], 8);
    assert_eq!(get(&app, &s, &s.owner, &format!("/products/{mask}")).await["quantity"], 2);
    let listed = get(&app, &s, &s.owner, "/sales").await;
    assert_eq!(listed["items"].as_array().expect("items").len(), 1);
    assert_eq!(get(&app, &s, &s.owner, &format!("/sales/{}", id(&body))).await, body);
    send(&app, Method::GET, &path(&s.studio, "/sales"), &s.pro, None)
        .await
        .assert_problem(403, "role-required");
    // The day's counters hold the revenue and the cost of what was sold, for reports.
    let day = app
        .platform
        .store
        .get(&atelier_inventory::movements::day_key(&s.studio.as_str().into(), "2026-05-28"))
        .await
        .expect("get")
        .expect("day counters");
    assert_eq!(day.number("sales_minor").expect("sales"), 4800);
    assert_eq!(day.number("sold_cost_minor").expect("cost"), 1200 + 900);

    // Ten requests with one key at once: one movement, the others its replay.
    let app = Arc::new(app);
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let request = app
                .request(Method::POST, &uri)
                .bearer(&s.owner.access)
                .header("idempotency-key", "delivery-8")
                .json(&json!({ "kind": "inflow", "quantity": 5, "unit_cost_minor": 600 }));
            tokio::spawn(request.send())
        })
        .collect();
    let mut statuses = Vec::new();
    let mut ids = std::collections::BTreeSet::new();
    for task in tasks {
        let response = task.await.expect("task");
        statuses.push(response.status.as_u16());
        ids.insert(id(&response.json()));
    }
    assert_eq!(counts(statuses), BTreeMap::from([(200, 9), (201, 1)]));
    assert_eq!(ids.len(), 1, "one movement");
    assert_eq!(get(&app, &s, &s.owner, &format!("/products/{shampoo}")).await["quantity"], 13);

    // A raised minimum makes the product low at once (no alert: nothing fell); a lowered one not.
    let low = |minimum: i64| {
        let uri = path(&s.studio, &format!("/products/{shampoo}"));
        send(&app, Method::PATCH, &uri, &s.owner, Some(json!({ "minimum_quantity": minimum })))
    };
    assert_eq!(low(20).await.json()["low"], true);
    assert_eq!(get(&app, &s, &s.owner, "/inventory/valuation").await["low_products"], 1);
    assert_eq!(low(5).await.json()["low"], false);
    assert_eq!(get(&app, &s, &s.owner, "/inventory/valuation").await["low_products"], 0);
}

async fn products_are_searched_and_filtered_without_a_scan(app: TestApp) {
    let s = salon(&app, "stock-search").await;
    let colour = id(&created(&app, &s, "/product-categories", json!({ "name": "Colour" })).await);
    let supplier = id(&created(&app, &s, "/suppliers", json!({ "name": "Supplier" })).await);
    for (title, sku, extra) in [
        ("Blond toner", "TON-01", json!({ "category_id": colour, "minimum_quantity": 2 })),
        ("Blonde bleach", "BLE-01", json!({ "category_id": colour, "supplier_id": supplier })),
        ("Brush", "ACC-01", json!({ "active": false })),
        ("Bond builder", "BON-01", json!({ "supplier_id": supplier })),
        ("Argan oil", "OIL-01", json!({})),
    ] {
        product(&app, &s, title, sku, extra).await;
    }
    let titles = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|p| p["title"].as_str().expect("title").to_owned())
            .collect()
    };
    let list = |query: &str| {
        let rest = format!("/products{query}");
        let (app, s) = (&app, &s);
        async move { get(app, s, &s.pro, &rest).await }
    };
    assert_eq!(
        titles(&list("").await),
        ["Argan oil", "Blond toner", "Blonde bleach", "Bond builder", "Brush"]
    );
    assert_eq!(titles(&list("?q=BLOND").await), ["Blond toner", "Blonde bleach"]);
    assert_eq!(titles(&list("?sku=b").await), ["Blonde bleach", "Bond builder"]);
    assert_eq!(titles(&list(&format!("?category_id={colour}")).await), ["Blond toner", "Blonde bleach"]);
    assert_eq!(titles(&list(&format!("?supplier_id={supplier}&q=bo")).await), ["Bond builder"]);
    assert_eq!(titles(&list("?active=false").await), ["Brush"]);
    assert_eq!(titles(&list("?low=true").await), ["Blond toner"], "a minimum and nothing on hand");
    let page = list("?limit=2").await;
    assert_eq!(titles(&page), ["Argan oil", "Blond toner"]);
    let next = page["next_cursor"].as_str().expect("cursor");
    assert_eq!(titles(&list(&format!("?limit=2&cursor={next}")).await), ["Blonde bleach", "Bond builder"]);
    // Members read; only managers write.
    post(&app, &s, &s.pro, "/products", json!({ "title": "X", "sku": "X" }))
        .await
        .assert_problem(403, "role-required");
}

atelier_tests::on_both_backends!(
    an_owner_stocks_products_and_completed_bookings_consume_them,
    concurrent_outflows_never_take_stock_below_zero,
    bad_input_and_other_studios_change_nothing,
    sales_and_movements_are_idempotent,
    products_are_searched_and_filtered_without_a_scan,
);

/// DynamoDB requests per movement (one transaction; reads counted by the SDK interceptor), for
/// docs/performance.md: `cargo test -p atelier-tests --test it dynamodb_calls_per_movement -- --nocapture`.
#[tokio::test]
async fn dynamodb_calls_per_movement() {
    use atelier_domain::ids::{ProductId, StudioId, UserId};
    use atelier_platform::access::{Caller, StudioAccess};
    use atelier_platform::audit::RequestMeta;
    use atelier_studios::Actor;

    let app = TestApp::on(atelier_tests::Backend::Aws).await;
    let s = salon(&app, "stock-calls").await;
    let dye = product(&app, &s, "Dye", "DYE-1", json!({ "minimum_quantity": 5 })).await;
    receive(&app, &s, &dye, 100, 10).await;

    let (clients, settings) = app.aws_parts().expect("AWS adapters");
    let counter = atelier_aws::CallCounter::new();
    let store = atelier_aws::DynamoStore::new(counter.instrument(&clients.dynamodb), settings.table.clone());
    let platform = atelier_platform::Platform::new(
        Arc::new(store),
        Arc::new(atelier_aws::SqsQueue::new(clients.sqs.clone(), settings.queue_urls.clone())),
        Arc::new(atelier_aws::S3Blobs::new(clients.s3.clone(), settings.bucket.clone())),
        app.clock.clone(),
        Arc::new(atelier_platform::ids::UlidGenerator),
    );
    let access = StudioAccess {
        caller: Caller {
            user_id: UserId::new(s.owner.user_id.clone()),
            session_id: "bench".into(),
            is_admin: false,
            api_key: None,
        },
        studio_id: StudioId::new(s.studio.clone()),
        role: Some(atelier_domain::identity::Role::Owner),
    };
    let meta = RequestMeta::new("127.0.0.1", "test");
    let actor = Actor { access: &access, meta: &meta };
    let outflow: atelier_inventory::movements::MovementRequest =
        serde_json::from_value(json!({ "kind": "outflow", "quantity": 3 })).expect("request");
    counter.take();
    let (created, movement) =
        atelier_inventory::movements::record(&platform, actor, &ProductId::new(dye.clone()), &outflow, None)
            .await
            .expect("recorded");
    assert!(created && movement.quantity_after == 97);
    let calls: BTreeMap<String, usize> = counter.take();
    println!("movement recorded: {calls:?}");
    assert_eq!(calls.get("TransactWriteItems"), Some(&1), "one transaction: {calls:?}");
    assert_eq!(calls.get("Scan"), None);
    let reads: usize =
        ["GetItem", "BatchGetItem", "Query"].iter().map(|op| calls.get(*op).copied().unwrap_or(0)).sum();
    assert_eq!(reads, 2, "the studio's zone and the product: {calls:?}");
}
