//! Each function binary, run by cargo-lambda's Lambda emulator, answers the sample events.

use atelier_lambda_tests::{Invocation, body, event, invoke, invoke_with, store};

#[test]
fn health_function_answers_api_gateway_events() {
    let health = invoke("health", "apigw-health.json").response();
    assert_eq!(health["statusCode"], 200);
    assert_eq!(health["headers"]["content-type"], "application/json");
    assert_eq!(health["headers"]["x-request-id"], "event-health", "the caller's request id is kept");
    assert_eq!(health["headers"]["x-content-type-options"], "nosniff");
    let body: serde_json::Value =
        serde_json::from_str(health["body"].as_str().expect("body")).expect("JSON body");
    assert_eq!(body["status"], "ok");

    let ready = invoke("health", "apigw-ready.json").response();
    assert_eq!(ready["statusCode"], 200, "the function reaches DynamoDB Local: {ready}");

    let openapi = invoke("health", "apigw-openapi.json").response();
    assert_eq!(openapi["statusCode"], 200);
    let doc: serde_json::Value = serde_json::from_str(openapi["body"].as_str().expect("body")).expect("JSON");
    assert_eq!(doc["openapi"], "3.1.0");

    let missing = invoke("health", "apigw-not-found.json").response();
    assert_eq!(missing["statusCode"], 404);
    assert_eq!(missing["headers"]["content-type"], "application/problem+json");
}

#[tokio::test]
async fn notifications_worker_delivers_and_reports_failures() {
    let delivered = invoke("notifications-worker", "sqs-notice.json").response();
    assert_eq!(delivered, serde_json::json!({ "batchItemFailures": [] }));
    let inbox =
        atelier_notifications::inbox_key(&"01JUSEREVENTS0000000000001".into(), "01JEVENTNOTICE000000000001");
    let entry =
        store().await.get(&inbox).await.expect("read the table").expect("notice delivered to the inbox");
    assert_eq!(entry.string("title").ok(), Some("Your password was changed"));

    // The same event again is a duplicate: acknowledged, not delivered twice.
    let again = invoke("notifications-worker", "sqs-notice.json").response();
    assert_eq!(again, serde_json::json!({ "batchItemFailures": [] }));

    let mixed = invoke("notifications-worker", "sqs-mixed-batch.json").response();
    let mut failed: Vec<String> = mixed["batchItemFailures"]
        .as_array()
        .expect("failures")
        .iter()
        .map(|f| f["itemIdentifier"].as_str().expect("id").to_owned())
        .collect();
    failed.sort();
    assert_eq!(failed, ["msg-malformed", "msg-unknown-kind"], "only the bad messages are retried");
}

#[test]
fn the_reconciliation_runs_from_its_event_file_against_the_provider() {
    // The functions run with Stripe at localstripe (infra/test): the job reads its events.
    let report = invoke("scheduler", "schedule-reconcile-payments.json").response();
    assert!(report["reconcile_payments"]["events"].is_u64(), "{report}");
    assert!(report["reconcile_payments"]["drifts"].is_u64(), "{report}");
    let retries = invoke("scheduler", "schedule-refund-retries.json").response();
    assert_eq!(retries["refund_retries"]["tried"], 0, "{retries}");
}

#[test]
fn payments_function_refuses_a_forged_provider_webhook() {
    let forged = invoke("payments", "apigw-payment-webhook-forged.json").response();
    assert_eq!(forged["statusCode"], 400, "{forged}");
    assert_eq!(forged["headers"]["content-type"], "application/problem+json");
    let body: serde_json::Value = serde_json::from_str(forged["body"].as_str().expect("body")).expect("json");
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("Stripe-Signature")), "{body}");
}

#[test]
fn scheduler_runs_the_named_job() {
    let report = invoke("scheduler", "schedule-outbox-sweep.json").response();
    assert!(report["outbox_sweep"]["sent"].is_u64(), "{report}");
    assert_eq!(report["outbox_sweep"]["failed"], 0);
    // A schedule with an input that names no job fails loudly.
    match invoke("scheduler", "apigw-health.json") {
        Invocation::Failed(report) => assert!(report.contains("not a job"), "{report}"),
        Invocation::Ok(value) => panic!("expected a failure, got {value}"),
    }
}

#[test]
fn auth_function_registers_signs_in_and_refuses_bad_input() {
    let registered = invoke("auth", "apigw-register.json").response();
    assert_eq!(registered["statusCode"], 201, "{registered}");
    assert_eq!(body(&registered)["user"]["email"], "lambda.user@example.com");

    let signed_in = invoke("auth", "apigw-login.json").response();
    assert_eq!(signed_in["statusCode"], 200, "{signed_in}");
    let access = body(&signed_in)["tokens"]["access_token"].as_str().expect("token").to_owned();

    let mut me = event("apigw-me-unauthenticated.json");
    let anonymous = invoke_with("auth", &me).response();
    assert_eq!(anonymous["statusCode"], 401);
    assert_eq!(anonymous["headers"]["www-authenticate"], "Bearer");
    me["headers"]["authorization"] = serde_json::json!(format!("Bearer {access}"));
    let profile = invoke_with("auth", &me).response();
    assert_eq!(profile["statusCode"], 200, "{profile}");
    assert_eq!(body(&profile)["email"], "lambda.user@example.com");

    let wrong = invoke("auth", "apigw-login-wrong-password.json").response();
    assert_eq!(wrong["statusCode"], 401);
    assert_eq!(body(&wrong)["detail"], "invalid email or password");
    let sneaky = invoke("auth", "apigw-register-mass-assignment.json").response();
    assert_eq!(sneaky["statusCode"], 422);
    assert_eq!(sneaky["headers"]["content-type"], "application/problem+json");
}

/// Registers an account of the calling test's own through the auth function; its response.
fn register(email: &str, name: &str) -> serde_json::Value {
    let mut register = event("apigw-register.json");
    let account =
        serde_json::json!({ "email": email, "password": "correct horse battery staple", "name": name });
    register["body"] = serde_json::json!(account.to_string());
    let registered = invoke_with("auth", &register).response();
    assert_eq!(registered["statusCode"], 201, "{registered}");
    registered
}

#[test]
fn studios_function_creates_and_publishes_studios() {
    // Register through the auth function (an account of this test's own), then act through the
    // studios function.
    let registered = register("studio.owner@example.com", "Owner");
    let access = body(&registered)["tokens"]["access_token"].as_str().expect("token").to_owned();

    let anonymous = invoke("studios", "apigw-studio-create.json").response();
    assert_eq!(anonymous["statusCode"], 401);

    let mut create = event("apigw-studio-create.json");
    create["headers"]["authorization"] = serde_json::json!(format!("Bearer {access}"));
    let created = invoke_with("studios", &create).response();
    assert_eq!(created["statusCode"], 201, "{created}");
    let studio = body(&created);
    assert_eq!(studio["slug"], "lambda-studio");
    assert_eq!(created["headers"]["etag"], "\"1\"");

    let public = invoke("studios", "apigw-public-slug.json").response();
    assert_eq!(public["statusCode"], 200, "{public}");
    assert_eq!(body(&public)["id"], studio["id"]);
    let unknown = invoke("studios", "apigw-public-slug-unknown.json").response();
    assert_eq!(unknown["statusCode"], 404);
    assert_eq!(unknown["headers"]["content-type"], "application/problem+json");
}

/// An API Gateway (HTTP API) event for `method path?query`, with a JSON body and a token.
fn http_event(
    method: &str,
    path: &str,
    query: &str,
    body: Option<serde_json::Value>,
    token: Option<&str>,
) -> serde_json::Value {
    let mut e = event("apigw-studio-create.json");
    e["routeKey"] = serde_json::json!(format!("{method} {path}"));
    e["rawPath"] = serde_json::json!(path);
    e["rawQueryString"] = serde_json::json!(query);
    if !query.is_empty() {
        let params: serde_json::Map<String, serde_json::Value> = query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), serde_json::json!(v)))
            .collect();
        e["queryStringParameters"] = serde_json::Value::Object(params);
    }
    e["requestContext"]["http"]["method"] = serde_json::json!(method);
    e["requestContext"]["http"]["path"] = serde_json::json!(path);
    e["requestContext"]["routeKey"] = serde_json::json!(format!("{method} {path}"));
    match body {
        Some(b) => e["body"] = serde_json::json!(b.to_string()),
        None => {
            e.as_object_mut().expect("event").remove("body");
        }
    }
    if let Some(token) = token {
        e["headers"]["authorization"] = serde_json::json!(format!("Bearer {token}"));
    }
    e
}

/// A studio whose owner is its professional, working every hour of every day, with a 60-minute
/// service: (owner's token, studio, owner's user id, service).
fn bookable_studio(email: &str, slug: &str) -> (String, String, String, String) {
    let registered = register(email, "Owner");
    let token = body(&registered)["tokens"]["access_token"].as_str().expect("token").to_owned();
    let user = body(&registered)["user"]["id"].as_str().expect("id").to_owned();
    let studio_body = serde_json::json!({
        "name": "Lambda Bookings", "slug": slug, "time_zone": "Europe/Lisbon", "currency": "EUR",
        "settings": { "min_notice_minutes": 0, "horizon_days": 30, "slot_step_minutes": 15, "no_show_tolerance_minutes": 15, "loyalty_rate_bps": 500 }
    });
    let created =
        invoke_with("studios", &http_event("POST", "/v1/studios", "", Some(studio_body), Some(&token)))
            .response();
    assert_eq!(created["statusCode"], 201, "{created}");
    let studio = body(&created)["id"].as_str().expect("id").to_owned();
    let profile = serde_json::json!({ "display_name": "Owner" });
    let pro = invoke_with(
        "studios",
        &http_event(
            "PUT",
            &format!("/v1/studios/{studio}/professionals/{user}"),
            "",
            Some(profile),
            Some(&token),
        ),
    )
    .response();
    assert_eq!(pro["statusCode"], 200, "{pro}");
    let days = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
    let week = serde_json::json!({ "ranges": days.iter().map(|d| serde_json::json!({ "day": d, "start": "00:00", "end": "24:00" })).collect::<Vec<_>>() });
    let set = invoke_with(
        "studios",
        &http_event(
            "PUT",
            &format!("/v1/studios/{studio}/professionals/{user}/availability"),
            "",
            Some(week),
            Some(&token),
        ),
    )
    .response();
    assert_eq!(set["statusCode"], 200, "{set}");
    let cut = serde_json::json!({ "name": "Cut", "category": "hair", "duration_minutes": 60, "price_minor": 4000, "professional_ids": [user] });
    let service = invoke_with(
        "studios",
        &http_event("POST", &format!("/v1/studios/{studio}/services"), "", Some(cut), Some(&token)),
    )
    .response();
    assert_eq!(service["statusCode"], 201, "{service}");
    let service = body(&service)["id"].as_str().expect("id").to_owned();
    (token, studio, user, service)
}

#[test]
fn bookings_function_books_and_the_scheduler_runs_its_jobs() {
    let (token, studio, user, service) = bookable_studio("bookings.owner@example.com", "lambda-bookings");

    let today = jiff::Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
    let query = format!("service_id={service}&from={today}&to={}", today.tomorrow().expect("tomorrow"));
    let slots = invoke_with(
        "bookings",
        &http_event("GET", &format!("/v1/public/studios/{studio}/slots"), &query, None, None),
    )
    .response();
    assert_eq!(slots["statusCode"], 200, "{slots}");
    assert_eq!(slots["headers"]["cache-control"], "public, no-cache", "{slots}");
    assert!(slots["headers"]["etag"].is_string(), "{slots}");
    // A later week's answer revalidates through API Gateway's event: a 304 without a body (its
    // tag does not move with the minute: the notice does not reach it).
    let later = today.checked_add(jiff::Span::new().days(14)).expect("date");
    let later = format!("service_id={service}&from={later}&to={}", later.tomorrow().expect("date"));
    let path = format!("/v1/public/studios/{studio}/slots");
    let week = invoke_with("bookings", &http_event("GET", &path, &later, None, None)).response();
    assert_eq!(week["statusCode"], 200, "{week}");
    let mut revalidate = http_event("GET", &path, &later, None, None);
    revalidate["headers"]["if-none-match"] = week["headers"]["etag"].clone();
    let held = invoke_with("bookings", &revalidate).response();
    assert_eq!(held["statusCode"], 304, "{held}");
    assert_eq!(held["headers"]["etag"], week["headers"]["etag"]);
    assert!(held["body"].as_str().unwrap_or_default().is_empty(), "{held}");
    let first = body(&slots)["slots"][1]["start"].as_str().expect("a free slot").to_owned();
    let booking = serde_json::json!({ "service_id": service, "professional_id": user, "start": first });
    let booked = invoke_with(
        "bookings",
        &http_event(
            "POST",
            &format!("/v1/studios/{studio}/bookings"),
            "",
            Some(booking.clone()),
            Some(&token),
        ),
    )
    .response();
    assert_eq!(booked["statusCode"], 201, "{booked}");
    assert_eq!(body(&booked)["start_local"], first.as_str());
    let again = invoke_with(
        "bookings",
        &http_event("POST", &format!("/v1/studios/{studio}/bookings"), "", Some(booking), Some(&token)),
    )
    .response();
    assert_eq!(again["statusCode"], 409, "the slot is taken: {again}");
    let still = invoke_with("bookings", &revalidate).response();
    assert_eq!(still["statusCode"], 304, "a booking today leaves the later week's answer: {still}");

    let unknown = invoke("bookings", "apigw-slots-unknown-studio.json").response();
    assert_eq!(unknown["statusCode"], 404);
    assert_eq!(unknown["headers"]["content-type"], "application/problem+json");
    let feed = invoke("bookings", "apigw-calendar-unknown.json").response();
    assert_eq!(feed["statusCode"], 404);

    for (event, job) in [
        ("schedule-expire-holds.json", "expire_holds"),
        ("schedule-send-reminders.json", "send_reminders"),
        ("schedule-detect-no-shows.json", "detect_no_shows"),
        ("schedule-expire-loyalty-points.json", "expire_loyalty_points"),
    ] {
        let report = invoke("scheduler", event).response();
        assert!(report[job]["done"].is_u64(), "{event}: {report}");
        assert_eq!(report[job]["failed"], 0, "{event}: {report}");
    }
}

#[test]
fn notifications_function_serves_the_inbox() {
    let registered = register("inbox.user@example.com", "Inbox");
    let access = body(&registered)["tokens"]["access_token"].as_str().expect("token").to_owned();

    let mut inbox = event("apigw-inbox-unauthenticated.json");
    let anonymous = invoke_with("notifications", &inbox).response();
    assert_eq!(anonymous["statusCode"], 401, "{anonymous}");
    assert_eq!(anonymous["headers"]["content-type"], "application/problem+json");
    inbox["headers"]["authorization"] = serde_json::json!(format!("Bearer {access}"));
    let listed = invoke_with("notifications", &inbox).response();
    assert_eq!(listed["statusCode"], 200, "{listed}");
    assert_eq!(body(&listed)["items"], serde_json::json!([]));
}

#[test]
fn inventory_function_receives_and_takes_stock() {
    let anonymous = invoke("inventory", "apigw-products-unauthenticated.json").response();
    assert_eq!(anonymous["statusCode"], 401, "{anonymous}");
    let registered = register("inventory.owner@example.com", "Owner");
    let token = body(&registered)["tokens"]["access_token"].as_str().expect("token").to_owned();
    let studio_body = serde_json::json!({
        "name": "Lambda Stock", "slug": "lambda-stock", "time_zone": "America/Sao_Paulo", "currency": "BRL"
    });
    let created =
        invoke_with("studios", &http_event("POST", "/v1/studios", "", Some(studio_body), Some(&token)))
            .response();
    assert_eq!(created["statusCode"], 201, "{created}");
    let studio = body(&created)["id"].as_str().expect("id").to_owned();
    let products = format!("/v1/studios/{studio}/products");
    let product = serde_json::json!({ "title": "Developer 20 vol", "sku": "DEV-20", "unit": "ml", "cost_price_minor": 3, "minimum_quantity": 500 });
    let made =
        invoke_with("inventory", &http_event("POST", &products, "", Some(product), Some(&token))).response();
    assert_eq!(made["statusCode"], 201, "{made}");
    let id = body(&made)["id"].as_str().expect("id").to_owned();
    let movements = format!("{products}/{id}/movements");
    let inflow =
        serde_json::json!({ "kind": "inflow", "quantity": 1000, "unit_cost_minor": 3, "reference": "NF-1" });
    let received =
        invoke_with("inventory", &http_event("POST", &movements, "", Some(inflow), Some(&token))).response();
    assert_eq!(received["statusCode"], 201, "{received}");
    let outflow = serde_json::json!({ "kind": "outflow", "quantity": 1200 });
    let refused =
        invoke_with("inventory", &http_event("POST", &movements, "", Some(outflow), Some(&token))).response();
    assert_eq!(refused["statusCode"], 409, "{refused}");
    assert!(body(&refused)["type"].as_str().is_some_and(|t| t.ends_with(":insufficient-stock")), "{refused}");
    let read =
        invoke_with("inventory", &http_event("GET", &format!("{products}/{id}"), "", None, Some(&token)))
            .response();
    assert_eq!(body(&read)["quantity"], 1000, "{read}");
    assert_eq!(body(&read)["value_minor"], 3000, "{read}");
}

#[test]
fn projects_function_creates_a_project_with_totals() {
    let anonymous = invoke("projects", "apigw-projects-unauthenticated.json").response();
    assert_eq!(anonymous["statusCode"], 401, "{anonymous}");
    let registered = register("projects.owner@example.com", "Owner");
    let token = body(&registered)["tokens"]["access_token"].as_str().expect("token").to_owned();
    let studio_body = serde_json::json!({
        "name": "Lambda Projects", "slug": "lambda-projects", "time_zone": "Europe/Lisbon", "currency": "EUR", "tax_rate_bps": 2300
    });
    let created =
        invoke_with("studios", &http_event("POST", "/v1/studios", "", Some(studio_body), Some(&token)))
            .response();
    assert_eq!(created["statusCode"], 201, "{created}");
    let studio = body(&created)["id"].as_str().expect("id").to_owned();
    let client = serde_json::json!({ "name": "Marta" });
    let client = invoke_with(
        "studios",
        &http_event("POST", &format!("/v1/studios/{studio}/clients"), "", Some(client), Some(&token)),
    )
    .response();
    assert_eq!(client["statusCode"], 201, "{client}");
    let client_id = body(&client)["id"].as_str().expect("id").to_owned();
    let projects = format!("/v1/studios/{studio}/projects");
    let project =
        serde_json::json!({ "title": "Bridal party", "client_id": client_id, "deadline": "2026-12-19" });
    let made =
        invoke_with("projects", &http_event("POST", &projects, "", Some(project), Some(&token))).response();
    assert_eq!(made["statusCode"], 201, "{made}");
    let id = body(&made)["id"].as_str().expect("id").to_owned();
    let item = serde_json::json!({ "description": "Hair and make-up, five people", "quantity": 5, "unit_price_minor": 12000 });
    let added = invoke_with(
        "projects",
        &http_event("POST", &format!("{projects}/{id}/items"), "", Some(item), Some(&token)),
    )
    .response();
    assert_eq!(added["statusCode"], 201, "{added}");
    assert_eq!(body(&added)["totals"]["revenue_minor"], 60000);
    assert_eq!(body(&added)["totals"]["tax_minor"], 13800);
}

#[test]
fn reports_function_answers_the_dashboard() {
    let anonymous = invoke("reports", "apigw-dashboard-unauthenticated.json").response();
    assert_eq!(anonymous["statusCode"], 401, "{anonymous}");
    let registered = register("reports.owner@example.com", "Owner");
    let token = body(&registered)["tokens"]["access_token"].as_str().expect("token").to_owned();
    let studio_body = serde_json::json!({
        "name": "Lambda Reports", "slug": "lambda-reports", "time_zone": "Europe/Lisbon", "currency": "EUR"
    });
    let created =
        invoke_with("studios", &http_event("POST", "/v1/studios", "", Some(studio_body), Some(&token)))
            .response();
    assert_eq!(created["statusCode"], 201, "{created}");
    let studio = body(&created)["id"].as_str().expect("id").to_owned();
    let dashboard = invoke_with(
        "reports",
        &http_event(
            "GET",
            &format!("/v1/studios/{studio}/dashboard"),
            "period=week&date=2026-11-23",
            None,
            Some(&token),
        ),
    )
    .response();
    assert_eq!(dashboard["statusCode"], 200, "{dashboard}");
    assert_eq!(body(&dashboard)["period"]["from"], "2026-11-23");
    assert_eq!(body(&dashboard)["bookings"]["total"], 0);

    // An export asked of the reports function is written by the exports worker from the
    // queue's message, into the bucket.
    let exports = format!("/v1/studios/{studio}/exports");
    let asked = serde_json::json!({ "dataset": "clients", "format": "xlsx" });
    let asked =
        invoke_with("reports", &http_event("POST", &exports, "", Some(asked), Some(&token))).response();
    assert_eq!(asked["statusCode"], 202, "{asked}");
    let export = body(&asked)["id"].as_str().expect("id").to_owned();
    let mut message = event("sqs-export-unknown.json");
    let payload = serde_json::json!({
        "id": format!("01JEVENTEXPORTLAMBDA{}", &export[export.len() - 6..]), "kind": "export.requested", "studio_id": studio,
        "occurred_at": "2026-11-23T18:00:00Z", "payload": { "studio_id": studio, "export_id": export, "hop": 0 },
    });
    message["Records"][0]["body"] = serde_json::json!(payload.to_string());
    let handled = invoke_with("exports-worker", &message).response();
    assert_eq!(handled, serde_json::json!({ "batchItemFailures": [] }));
    let job =
        invoke_with("reports", &http_event("GET", &format!("{exports}/{export}"), "", None, Some(&token)))
            .response();
    assert_eq!(body(&job)["status"], "done", "{job}");
    let link = invoke_with(
        "reports",
        &http_event("GET", &format!("{exports}/{export}/download"), "", None, Some(&token)),
    )
    .response();
    assert_eq!(link["statusCode"], 200, "{link}");
    assert!(body(&link)["url"].as_str().is_some_and(|u| u.contains("X-Amz-Signature=")), "{link}");
}

#[test]
fn exports_worker_acknowledges_a_message_for_no_job() {
    let handled = invoke("exports-worker", "sqs-export-unknown.json").response();
    assert_eq!(handled, serde_json::json!({ "batchItemFailures": [] }));
}

#[tokio::test]
async fn realtime_function_opens_answers_and_closes_connections() {
    let refused = invoke("realtime", "ws-connect-unauthenticated.json").response();
    assert_eq!(refused["statusCode"], 401, "no token, no connection: {refused}");

    let signed_in = register("live.lambda@example.com", "Live Lambda");
    let access = body(&signed_in)["tokens"]["access_token"].as_str().expect("token").to_owned();
    let mut connect = event("ws-connect.json");
    connect["queryStringParameters"]["access_token"] = serde_json::json!(access);
    let opened = invoke_with("realtime", &connect).response();
    assert_eq!(opened["statusCode"], 200, "{opened}");
    let key = atelier_realtime::connections::connection_key("LiveConnLambda0=");
    assert!(store().await.get(&key).await.expect("read").is_some(), "the connection is recorded");

    // The answer goes out through the management API (moto, in infra/test).
    let pong = invoke("realtime", "ws-default-ping.json").response();
    assert_eq!(pong["statusCode"], 200, "{pong}");
    let unknown = invoke("realtime", "ws-default-unknown-connection.json").response();
    assert_eq!(unknown["statusCode"], 410, "a connection not recorded is gone: {unknown}");

    let closed = invoke("realtime", "ws-disconnect.json").response();
    assert_eq!(closed["statusCode"], 200, "{closed}");
    assert!(store().await.get(&key).await.expect("read").is_none(), "the connection is forgotten");
}

#[test]
fn an_api_key_made_by_the_auth_function_works_in_the_bookings_function() {
    let registered = register("keys.owner@example.com", "Owner");
    let token = body(&registered)["tokens"]["access_token"].as_str().expect("token").to_owned();
    let studio_body = serde_json::json!({
        "name": "Lambda Keys", "slug": "lambda-keys", "time_zone": "Europe/Lisbon", "currency": "EUR",
    });
    let created =
        invoke_with("studios", &http_event("POST", "/v1/studios", "", Some(studio_body), Some(&token)))
            .response();
    assert_eq!(created["statusCode"], 201, "{created}");
    let studio = body(&created)["id"].as_str().expect("id").to_owned();
    let keys = format!("/v1/studios/{studio}/api-keys");
    let asked = serde_json::json!({ "name": "Lambda widget", "scopes": ["bookings:read"] });
    let key = invoke_with("auth", &http_event("POST", &keys, "", Some(asked), Some(&token))).response();
    assert_eq!(key["statusCode"], 201, "{key}");
    let secret = body(&key)["secret"].as_str().expect("secret").to_owned();

    let bookings = format!("/v1/studios/{studio}/bookings");
    let listed = invoke_with("bookings", &http_event("GET", &bookings, "", None, Some(&secret))).response();
    assert_eq!(listed["statusCode"], 200, "{listed}");
    let write =
        serde_json::json!({ "service_id": "x", "professional_id": "y", "start": "2030-01-01T10:00:00Z" });
    let refused =
        invoke_with("bookings", &http_event("POST", &bookings, "", Some(write), Some(&secret))).response();
    assert_eq!(refused["statusCode"], 403, "{refused}");
    assert_eq!(body(&refused)["type"], "urn:atelier:problem:api-key-scope");

    // No identity provider is configured for the functions here: the route says so.
    let google = serde_json::json!({ "id_token": "x.y.z" });
    let oidc =
        invoke_with("auth", &http_event("POST", "/v1/auth/oidc/google", "", Some(google), None)).response();
    assert_eq!(oidc["statusCode"], 404, "{oidc}");
    let providers = invoke_with("auth", &http_event("GET", "/v1/auth/oidc", "", None, None)).response();
    assert_eq!(body(&providers), serde_json::json!({ "items": [] }));
}

/// The JSON lines the functions under `cargo lambda watch` wrote (`ATELIER_LAMBDA_LOG`, set by
/// `./infra/test`), as they would reach CloudWatch Logs.
fn function_log_lines() -> Vec<serde_json::Value> {
    let path = std::env::var("ATELIER_LAMBDA_LOG").expect("ATELIER_LAMBDA_LOG is set by ./infra/test");
    let text = std::fs::read_to_string(path).expect("the functions' log");
    text.lines()
        .filter_map(|line| line.find('{').and_then(|at| serde_json::from_str(&line[at..]).ok()))
        .collect()
}

#[tokio::test]
async fn one_request_id_follows_a_booking_from_the_bookings_function_to_the_worker() {
    let (token, studio, user, service) = bookable_studio("trace.owner@example.com", "lambda-trace");
    let today = jiff::Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
    let query = format!("service_id={service}&from={today}&to={}", today.tomorrow().expect("tomorrow"));
    let slots = invoke_with(
        "bookings",
        &http_event("GET", &format!("/v1/public/studios/{studio}/slots"), &query, None, None),
    )
    .response();
    let start = body(&slots)["slots"][2]["start"].as_str().expect("a free slot").to_owned();
    let request_id = format!("trace-{}", jiff::Timestamp::now().as_nanosecond());
    let mut booking = http_event(
        "POST",
        &format!("/v1/studios/{studio}/bookings"),
        "",
        Some(serde_json::json!({ "service_id": service, "professional_id": user, "start": start })),
        Some(&token),
    );
    booking["headers"]["x-request-id"] = serde_json::json!(request_id);
    let booked = invoke_with("bookings", &booking).response();
    assert_eq!(booked["statusCode"], 201, "{booked}");
    assert_eq!(booked["headers"]["x-request-id"], request_id.as_str());
    let refused_id = format!("{request_id}-again");
    booking["headers"]["x-request-id"] = serde_json::json!(refused_id);
    let again = invoke_with("bookings", &booking).response();
    assert_eq!(again["statusCode"], 409, "{again}");

    // The outbox sent the booking's event to SQS (moto) carrying the request id: take it off
    // the queue and hand it to the worker as the event source mapping would.
    let clients = atelier_aws::Clients::new(&atelier_aws::sdk_config().await, true);
    let url = std::env::var("ATELIER_NOTIFICATIONS_QUEUE_URL").expect("queue URL");
    let mut found = None;
    for _ in 0..20 {
        let received = clients
            .sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("receive");
        found = received.messages().iter().find_map(|m| {
            let event: serde_json::Value = serde_json::from_str(m.body()?).ok()?;
            (event["trace"]["request_id"] == request_id.as_str() && event["kind"] == "booking.created")
                .then(|| (m.message_id().unwrap_or("m").to_owned(), m.body().unwrap_or("").to_owned()))
        });
        if found.is_some() {
            break;
        }
    }
    let (message_id, message) = found.expect("the booking's event is on the queue with its request id");
    let mut sqs = event("sqs-notice.json");
    sqs["Records"][0]["messageId"] = serde_json::json!(message_id);
    sqs["Records"][0]["body"] = serde_json::json!(message);
    let handled = invoke_with("notifications-worker", &sqs).response();
    assert_eq!(handled["batchItemFailures"], serde_json::json!([]), "{handled}");

    let lines = function_log_lines();
    let ours: Vec<&serde_json::Value> =
        lines.iter().filter(|l| l["span"]["request_id"] == request_id.as_str()).collect();
    assert!(
        ours.iter().any(|l| l["message"] == "request" && l["status"] == 201),
        "the bookings function's request line: {ours:?}"
    );
    assert!(
        ours.iter().any(|l| l["message"] == "event handled"
            && l["kind"] == "booking.created"
            && l["span"]["worker"] == "notifications"),
        "the worker's line for the same id: {ours:?}"
    );
    assert!(ours.iter().any(|l| l["message"] == "notice sent"), "the notice it sent: {ours:?}");
    // The invocation's X-Ray trace id travelled with the event too.
    let trace_of = |message: &str| {
        ours.iter()
            .find(|l| l["message"] == message)
            .map(|l| l["span"]["trace_id"].clone())
            .unwrap_or_default()
    };
    let trace_id = trace_of("request");
    assert!(trace_id.as_str().is_some_and(|t| t.starts_with("Root=")), "{ours:?}");
    assert_eq!(trace_of("event handled"), trace_id, "one trace from the request to the worker");

    // Metrics as EMF lines in the same log: the booking, the refusal, the request, the notice.
    let emf = |name: &str, id: &str| -> Vec<&serde_json::Value> {
        lines
            .iter()
            .filter(|l| {
                l["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"] == name && l["request_id"] == id
            })
            .collect()
    };
    let created = emf("bookings_created", &request_id);
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(created[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Atelier");
    assert_eq!(created[0]["function"], "bookings", "the function's name is the dimension");
    assert_eq!(created[0]["bookings_created"], 1.0);
    let refused = emf("bookings_refused", &refused_id);
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(
        (&refused[0]["reason"], &refused[0]["bookings_refused"]),
        (&serde_json::json!("slot-taken"), &serde_json::json!(1.0))
    );
    let request = emf("http_request_ms", &request_id);
    assert_eq!(request.len(), 1, "{request:?}");
    assert_eq!(
        (&request[0]["group"], &request[0]["status_class"]),
        (&serde_json::json!("bookings"), &serde_json::json!("2xx"))
    );
    let notices = emf("notifications", &request_id);
    assert!(
        notices.iter().any(|l| l["function"] == "notifications-worker" && l["outcome"] == "sent"),
        "{notices:?}"
    );
}
