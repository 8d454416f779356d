//! Outbound webhooks: endpoints refuse bad targets, messages are signed (checked by the Python
//! `standardwebhooks` package, not our code), retried on the published schedule, logged,
//! replayed with the same `webhook-id`, sent once per endpoint however often the event comes,
//! and an endpoint failing for days is turned off with its owners told.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use atelier_app::jobs::{self, Job};
use atelier_platform::worker::EventHandler;
use atelier_tests::{Account, TestApp};
use axum::http::{HeaderMap, StatusCode};
use http::Method;
use jiff::SignedDuration;
use serde_json::{Value, json};

use crate::bookings::{Salon, path, salon, send};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers.iter().find(|(n, _)| n == name).map_or("", |(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

/// What the receiver answers next: a status, or silence for longer than the sender waits.
#[derive(Debug, Clone, Copy)]
enum Answer {
    Status(u16),
    Hang,
}

/// A webhook receiver on loopback that records every request and answers from a script
/// (200 once the script runs out).
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<VecDeque<Answer>>>,
}

impl Receiver {
    async fn start() -> (Receiver, String) {
        let receiver = Receiver::default();
        let state = receiver.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let elsewhere = format!("{base}/followed");
        let app =
            axum::Router::new().fallback(move |uri: axum::http::Uri, headers: HeaderMap, body: String| {
                let state = state.clone();
                let elsewhere = elsewhere.clone();
                async move {
                    let headers = headers
                        .iter()
                        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
                        .collect();
                    state.got.lock().expect("lock").push(Received {
                        path: uri.path().to_owned(),
                        headers,
                        body,
                    });
                    let next = state.script.lock().expect("lock").pop_front();
                    match next {
                        Some(Answer::Hang) => {
                            tokio::time::sleep(Duration::from_secs(12)).await;
                            (StatusCode::OK, HeaderMap::new(), "late".to_owned())
                        }
                        Some(Answer::Status(302)) => {
                            let mut headers = HeaderMap::new();
                            // Back to this receiver: a followed redirect would show up here.
                            headers.insert("location", elsewhere.parse().expect("header"));
                            (StatusCode::FOUND, headers, String::new())
                        }
                        Some(Answer::Status(code)) => (
                            StatusCode::from_u16(code).expect("status"),
                            HeaderMap::new(),
                            format!("answer {code}: {}", "x".repeat(3000)),
                        ),
                        None => (StatusCode::OK, HeaderMap::new(), "thanks".to_owned()),
                    }
                }
            });
        let url = format!("{base}/hooks/atelier");
        tokio::spawn(axum::serve(listener, app).into_future());
        (receiver, url)
    }

    fn answer(&self, answers: &[Answer]) {
        self.script.lock().expect("lock").extend(answers.iter().copied());
    }

    fn got(&self) -> Vec<Received> {
        self.got.lock().expect("lock").clone()
    }
}

/// Checks every request's signature with the Python `standardwebhooks` package: each must carry
/// a signature that `secret` produces for its id, timestamp and body.
fn verify_independently(secret: &str, requests: &[Received]) {
    const VERIFY: &str = r#"
import json, sys
from datetime import datetime, timezone
from standardwebhooks.webhooks import Webhook
wh = Webhook(sys.argv[1])
for r in json.load(sys.stdin):
    expected = wh.sign(r["id"], datetime.fromtimestamp(int(r["timestamp"]), tz=timezone.utc), r["body"])
    given = r["signature"].split(" ")
    if expected not in given:
        sys.exit(f"bad signature on {r['id']}: {given} (expected {expected})")
print("verified")
"#;
    let input: Vec<Value> = requests
        .iter()
        .map(|r| {
            json!({
                "id": r.header("webhook-id"), "timestamp": r.header("webhook-timestamp"),
                "signature": r.header("webhook-signature"), "body": r.body,
            })
        })
        .collect();
    let mut child = std::process::Command::new("python3")
        .arg("-c")
        .arg(VERIFY)
        .arg(secret)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs (./infra/test installs standardwebhooks into .local/venv)");
    std::io::Write::write_all(
        child.stdin.as_mut().expect("stdin"),
        Value::Array(input).to_string().as_bytes(),
    )
    .expect("write");
    let output = child.wait_with_output().expect("python3 finishes");
    assert!(output.status.success(), "signature check failed: {}", String::from_utf8_lossy(&output.stderr));
}

async fn create_endpoint(app: &TestApp, s: &Salon, body: Value) -> Value {
    let created = send(app, Method::POST, &path(&s.studio, "/webhooks"), &s.owner, Some(body)).await;
    assert_eq!(created.status, 201, "{:?}", created.json());
    created.json()
}

/// A message with its log, read through the use case (the clock jumps past tokens' lives).
async fn message_detail(app: &TestApp, s: &Salon, endpoint: &str, message: &str) -> Value {
    let detail = atelier_notifications::webhooks::message(
        &app.platform,
        &s.studio.as_str().into(),
        &endpoint.into(),
        &message.into(),
    )
    .await
    .expect("message");
    serde_json::to_value(detail).expect("json")
}

async fn failed_list(app: &TestApp, s: &Salon, who: &Account, endpoint: &str) -> Vec<Value> {
    let uri = path(&s.studio, &format!("/webhooks/{endpoint}/messages?status=failed"));
    send(app, Method::GET, &uri, who, None).await.json()["items"].as_array().expect("items").clone()
}

/// Runs the retry job at each due time until the message is no longer pending.
async fn run_schedule_out(app: &TestApp, s: &Salon, endpoint: &str, message: &str) -> Value {
    for _ in 0..20 {
        let detail = message_detail(app, s, endpoint, message).await;
        if detail["status"] != "pending" {
            return detail;
        }
        let due: jiff::Timestamp =
            detail["next_attempt_at"].as_str().expect("next attempt").parse().expect("instant");
        let wait = due.duration_since(app.clock_now());
        if wait > SignedDuration::ZERO {
            app.clock.advance(wait);
        }
        jobs::run(Job::WebhookRetries, &app.platform).await.expect("retry job");
    }
    panic!("the message never left pending");
}

async fn endpoints_refuse_bad_targets_and_store_nothing(app: TestApp) {
    let s = salon(&app, "hookbad").await;
    for (url, why) in [
        ("not a url", "absolute"),
        ("ftp://hooks.example.com/x", "absolute"),
        ("https://10.0.0.7/hook", "private"),
        ("http://169.254.169.254/latest/meta-data", "private"),
        ("https://[fd00::1]/hook", "private"),
        ("https://user:secret@hooks.example.com/", "credentials"),
    ] {
        let problem =
            send(&app, Method::POST, &path(&s.studio, "/webhooks"), &s.owner, Some(json!({ "url": url })))
                .await
                .assert_problem(422, "validation-failed");
        assert_eq!(problem["errors"][0]["field"], "url", "{url}: {problem}");
        assert!(problem["errors"][0]["message"].as_str().expect("message").contains(why), "{url}: {problem}");
    }
    let long = format!("https://hooks.example.com/{}", "a".repeat(2100));
    send(&app, Method::POST, &path(&s.studio, "/webhooks"), &s.owner, Some(json!({ "url": long })))
        .await
        .assert_problem(422, "validation-failed");
    let unknown = json!({ "url": "https://hooks.example.com/", "event_types": ["booking.exploded"] });
    let problem = send(&app, Method::POST, &path(&s.studio, "/webhooks"), &s.owner, Some(unknown))
        .await
        .assert_problem(422, "validation-failed");
    assert_eq!(problem["errors"][0]["field"], "event_types[0]");
    let listed = send(&app, Method::GET, &path(&s.studio, "/webhooks"), &s.owner, None).await;
    assert_eq!(listed.json()["items"], json!([]), "nothing stored");
    // At most 20 per studio.
    for i in 0..20 {
        create_endpoint(&app, &s, json!({ "url": format!("https://hooks.example.com/{i}") })).await;
    }
    send(
        &app,
        Method::POST,
        &path(&s.studio, "/webhooks"),
        &s.owner,
        Some(json!({ "url": "https://hooks.example.com/21" })),
    )
    .await
    .assert_problem(409, "too-many-endpoints");
    // Professionals may not manage them.
    send(
        &app,
        Method::POST,
        &path(&s.studio, "/webhooks"),
        &s.pro,
        Some(json!({ "url": "https://hooks.example.com/" })),
    )
    .await
    .assert_problem(403, "role-required");
}

async fn events_are_signed_retried_logged_and_replayed(app: TestApp) {
    let s = salon(&app, "hooks").await;
    let (receiver, url) = Receiver::start().await;
    let created = create_endpoint(
        &app,
        &s,
        json!({ "url": url, "description": "n8n", "event_types": ["booking.created", "booking.cancelled"] }),
    )
    .await;
    let endpoint = created["id"].as_str().expect("id").to_owned();
    let secret = created["secret"].as_str().expect("secret").to_owned();
    assert!(secret.starts_with("whsec_"));
    let shown =
        send(&app, Method::GET, &path(&s.studio, &format!("/webhooks/{endpoint}")), &s.owner, None).await;
    assert!(shown.json().get("secret").is_none(), "the secret is not in the endpoint's view");

    // A ping goes out at once.
    let ping =
        send(&app, Method::POST, &path(&s.studio, &format!("/webhooks/{endpoint}/ping")), &s.owner, None)
            .await;
    assert_eq!(ping.status, 200, "{:?}", ping.json());
    assert_eq!(ping.json()["status"], "delivered");
    assert_eq!(receiver.got()[0].json()["type"], "webhook.ping");

    // A booking: the receiver fails twice (500, then 410), then takes it.
    receiver.answer(&[Answer::Status(500), Answer::Status(410)]);
    let client = app.register("ana@hooks.example").await;
    s.book_ok(&app, &client, "2026-07-01T10:00:00+01:00").await;
    app.run_workers().await;
    let messages =
        send(&app, Method::GET, &path(&s.studio, &format!("/webhooks/{endpoint}/messages")), &s.owner, None)
            .await;
    let booked = messages.json()["items"][0].clone();
    assert_eq!(booked["event_type"], "booking.created");
    assert_eq!(booked["status"], "pending", "{booked}");
    let message = booked["id"].as_str().expect("id").to_owned();
    // The second attempt is due 5 s after the first.
    let due: jiff::Timestamp = booked["next_attempt_at"].as_str().expect("due").parse().expect("instant");
    assert_eq!(due.duration_since(app.clock_now()), SignedDuration::from_secs(5));
    let detail = run_schedule_out(&app, &s, &endpoint, &message).await;
    assert_eq!(detail["status"], "delivered");
    // Minutes passed: sign in again.
    let owner = app.sign_in_again(&s.owner).await;
    let client = app.sign_in_again(&client).await;
    let log = detail["attempts_log"].as_array().expect("log");
    let statuses: Vec<&Value> = log.iter().map(|a| &a["status"]).collect();
    assert_eq!(statuses, [&json!(500), &json!(410), &json!(200)]);
    assert!(log[0]["response_excerpt"].as_str().expect("excerpt").chars().count() <= 1024);
    assert_eq!(log[0]["succeeded"], false);
    let sent: Vec<Received> =
        receiver.got().into_iter().filter(|r| r.header("webhook-id") == message).collect();
    assert_eq!(sent.len(), 3, "three attempts with one webhook-id");
    assert_eq!(sent[0].json()["data"]["client_name"], "Test Person");

    // SQS delivering the event again (five times) sends nothing more.
    let event_id = message.trim_start_matches("msg_").to_owned();
    let fan_out = atelier_notifications::webhooks::FanOut::new(app.platform.clone());
    let event = atelier_platform::events::Event {
        trace: None,
        id: event_id,
        kind: "booking.created".into(),
        studio_id: Some(s.studio.clone()),
        occurred_at: app.clock_now(),
        payload: sent[0].json()["data"].clone(),
    };
    for _ in 0..5 {
        fan_out.handle(&event).await.expect("redelivery");
    }
    assert_eq!(receiver.got().iter().filter(|r| r.header("webhook-id") == message).count(), 3);

    // A cancellation that fails on every attempt ends failed after the whole schedule.
    receiver.answer(&[Answer::Status(503); 8]);
    let bookings = send(&app, Method::GET, "/v1/me/bookings", &client, None).await;
    let booking = bookings.json()["items"][0]["id"].as_str().expect("booking").to_owned();
    let cancelled =
        send(&app, Method::POST, &path(&s.studio, &format!("/bookings/{booking}/cancel")), &client, None)
            .await;
    assert_eq!(cancelled.status, 200, "{:?}", cancelled.json());
    app.run_workers().await;
    let newest =
        send(&app, Method::GET, &path(&s.studio, &format!("/webhooks/{endpoint}/messages")), &owner, None)
            .await;
    let cancel_message = newest.json()["items"][0]["id"].as_str().expect("id").to_owned();
    let detail = run_schedule_out(&app, &s, &endpoint, &cancel_message).await;
    assert_eq!(detail["status"], "failed");
    assert_eq!(detail["attempts_log"].as_array().expect("log").len(), 8, "the whole schedule");
    let owner = app.sign_in_again(&s.owner).await;
    let failed = failed_list(&app, &s, &owner, &endpoint).await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["id"], cancel_message.as_str());

    // After a rotation both secrets sign; a replay keeps the webhook-id.
    let rotated = send(
        &app,
        Method::POST,
        &path(&s.studio, &format!("/webhooks/{endpoint}/rotate-secret")),
        &owner,
        None,
    )
    .await;
    assert_eq!(rotated.status, 200);
    let new_secret = rotated.json()["secret"].as_str().expect("secret").to_owned();
    let replayed = send(
        &app,
        Method::POST,
        &path(&s.studio, &format!("/webhooks/{endpoint}/messages/{cancel_message}/replay")),
        &owner,
        None,
    )
    .await;
    assert_eq!(replayed.status, 200, "{:?}", replayed.json());
    assert_eq!(replayed.json()["status"], "delivered");
    assert!(failed_list(&app, &s, &owner, &endpoint).await.is_empty());
    let all = receiver.got();
    let last = all.last().expect("a request");
    assert_eq!(last.header("webhook-id"), cancel_message);
    assert_eq!(
        last.header("webhook-signature").split(' ').count(),
        2,
        "old and new secret during the overlap"
    );
    let before_rotation: Vec<Received> = all[..all.len() - 1].to_vec();
    verify_independently(&secret, &before_rotation);
    verify_independently(&secret, std::slice::from_ref(last));
    verify_independently(&new_secret, std::slice::from_ref(last));
    // A bulk replay needs an instant.
    send(
        &app,
        Method::POST,
        &path(&s.studio, &format!("/webhooks/{endpoint}/replay")),
        &owner,
        Some(json!({ "since": "not a time" })),
    )
    .await
    .assert_problem(422, "invalid-body");
}

async fn timeouts_and_redirects_advance_the_schedule(app: TestApp) {
    let s = salon(&app, "hookslow").await;
    let (receiver, url) = Receiver::start().await;
    let created = create_endpoint(&app, &s, json!({ "url": url })).await;
    let endpoint = created["id"].as_str().expect("id").to_owned();
    receiver.answer(&[Answer::Hang, Answer::Status(302)]);
    let ping =
        send(&app, Method::POST, &path(&s.studio, &format!("/webhooks/{endpoint}/ping")), &s.owner, None)
            .await;
    assert_eq!(ping.json()["status"], "pending", "a timeout is a failed attempt");
    let message = ping.json()["id"].as_str().expect("id").to_owned();
    send(
        &app,
        Method::POST,
        &path(&s.studio, &format!("/webhooks/{endpoint}/messages/{message}/replay")),
        &s.owner,
        None,
    )
    .await
    .assert_problem(409, "message-pending");
    let detail = message_detail(&app, &s, &endpoint, &message).await;
    assert!(detail["attempts_log"][0]["error"].as_str().expect("error").contains("no answer"), "{detail}");
    let detail = run_schedule_out(&app, &s, &endpoint, &message).await;
    let log = detail["attempts_log"].as_array().expect("log");
    assert_eq!(log[1]["status"], 302, "a redirect is not followed");
    assert_eq!(log[1]["succeeded"], false);
    assert_eq!(log[2]["status"], 200);
    assert_eq!(receiver.got().len(), 3, "three attempts");
    assert!(receiver.got().iter().all(|r| r.path == "/hooks/atelier"), "the redirect was not followed");
}

async fn an_endpoint_failing_for_days_is_turned_off_and_owners_told(app: TestApp) {
    let s = salon(&app, "hookdead").await;
    let (receiver, url) = Receiver::start().await;
    let created = create_endpoint(&app, &s, json!({ "url": url, "event_types": ["booking.created"] })).await;
    let endpoint = created["id"].as_str().expect("id").to_owned();
    receiver.answer(&[Answer::Status(500); 16]);
    let client = app.register("ana@hookdead.example").await;
    let mut client = client;
    let mut owner = s.owner.clone();
    for start in ["2026-07-01T10:00:00+01:00", "2026-07-02T10:00:00+01:00"] {
        s.book_ok(&app, &client, start).await;
        app.run_workers().await;
        let newest = send(
            &app,
            Method::GET,
            &path(&s.studio, &format!("/webhooks/{endpoint}/messages")),
            &owner,
            None,
        )
        .await;
        let message = newest.json()["items"][0]["id"].as_str().expect("id").to_owned();
        assert_eq!(run_schedule_out(&app, &s, &endpoint, &message).await["status"], "failed");
        // Four days pass between the two bookings.
        app.clock.advance(SignedDuration::from_hours(4 * 24));
        owner = app.sign_in_again(&s.owner).await;
        client = app.sign_in_again(&client).await;
        let view =
            send(&app, Method::GET, &path(&s.studio, &format!("/webhooks/{endpoint}")), &owner, None).await;
        assert!(view.json()["failing_since"].is_string(), "{:?}", view.json());
    }
    let view =
        send(&app, Method::GET, &path(&s.studio, &format!("/webhooks/{endpoint}")), &owner, None).await;
    assert_eq!(view.json()["enabled"], false, "{:?}", view.json());
    app.run_workers().await;
    let inbox = send(&app, Method::GET, "/v1/me/notifications", &owner, None).await;
    let inbox = inbox.json();
    let titles: Vec<&str> =
        inbox["items"].as_array().expect("items").iter().filter_map(|n| n["title"].as_str()).collect();
    assert!(titles.contains(&"Webhook endpoint turned off"), "{titles:?}");
    // Turned back on, it is healthy again, and every failed message since the first booking
    // goes out again with its webhook-id.
    let on = send(
        &app,
        Method::PATCH,
        &path(&s.studio, &format!("/webhooks/{endpoint}")),
        &owner,
        Some(json!({ "enabled": true })),
    )
    .await;
    assert_eq!(on.status, 200);
    assert!(on.json().get("failing_since").is_none());
    let failed: Vec<String> = send(
        &app,
        Method::GET,
        &path(&s.studio, &format!("/webhooks/{endpoint}/messages?status=failed")),
        &owner,
        None,
    )
    .await
    .json()["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|m| m["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(failed.len(), 2);
    let replay = send(
        &app,
        Method::POST,
        &path(&s.studio, &format!("/webhooks/{endpoint}/replay")),
        &owner,
        Some(json!({ "since": "2026-05-01T00:00:00Z" })),
    )
    .await;
    assert_eq!(replay.status, 200, "{:?}", replay.json());
    assert_eq!(replay.json(), json!({ "replayed": 2, "more": false }));
    let before = receiver.got().len();
    jobs::run(Job::WebhookRetries, &app.platform).await.expect("retry job");
    let resent: Vec<String> =
        receiver.got()[before..].iter().map(|r| r.header("webhook-id").to_owned()).collect();
    assert_eq!(resent.len(), 2, "{resent:?}");
    assert!(failed.iter().all(|id| resent.contains(id)), "same ids: {failed:?} {resent:?}");
}

atelier_tests::on_both_backends!(
    endpoints_refuse_bad_targets_and_store_nothing,
    events_are_signed_retried_logged_and_replayed,
    timeouts_and_redirects_advance_the_schedule,
    an_endpoint_failing_for_days_is_turned_off_and_owners_told,
);
