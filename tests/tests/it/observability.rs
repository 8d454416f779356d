//! Observability, on both adapters: a booking, a refused booking and a delivered notification
//! each move the right metric — in the local server's `/metrics` and as the EMF lines a Lambda
//! function writes (names, dimensions, values, the request id) — and one request id follows a
//! booking from its request through the outbox to the worker's log lines and the email sent.

use std::sync::{Arc, Mutex};

use atelier_app::Group;
use atelier_platform::metrics::{Emf, Metrics};
use atelier_tests::TestApp;
use atelier_tests::http::TestRequest;
use http::Method;
use serde_json::{Value, json};

use crate::bookings::salon;

/// A Prometheus sample's value: `name{labels} value`, labels as rendered (sorted).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

async fn a_booking_a_refusal_and_a_notice_move_the_local_metrics(app: TestApp) {
    let s = salon(&app, "metrics-a").await;
    let client = app.register("cli@metrics-a.example").await;
    s.book_ok(&app, &client, "2026-06-02T10:00:00+01:00").await;
    let taken = s.book(&app, &client, "2026-06-02T10:00:00+01:00").await;
    assert_eq!(taken.status, 409, "{:?}", taken.body);
    assert!(app.run_workers().await > 0, "the booking's notices were queued");

    let scraped = app.request(Method::GET, "/metrics").send().await;
    assert_eq!(scraped.status, 200);
    assert_eq!(scraped.header("content-type"), Some("text/plain; version=0.0.4"));
    let text = String::from_utf8(scraped.body.to_vec()).expect("text");
    assert_eq!(sample(&text, "bookings_created"), Some(1.0), "{text}");
    assert_eq!(sample(&text, "bookings_refused{reason=\"slot-taken\"}"), Some(1.0), "{text}");
    assert!(text.contains("# TYPE bookings_created counter\n"), "{text}");
    let route = "route=\"/v1/studios/{studio_id}/bookings\"";
    assert_eq!(
        sample(&text, &format!("http_request_ms_count{{group=\"bookings\",{route},status_class=\"2xx\"}}")),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, &format!("http_request_ms_count{{group=\"bookings\",{route},status_class=\"4xx\"}}")),
        Some(1.0),
        "{text}"
    );
    // The client and the studio are told by email; each is one notice sent.
    let emailed = sample(&text, "notifications{channel=\"email\",outcome=\"sent\"}").unwrap_or(0.0);
    assert!(emailed >= 1.0, "{text}");
    let handled = sample(&text, "worker_batch_size_count{worker=\"notifications\"}").unwrap_or(0.0);
    assert!(handled >= 1.0, "{text}");
    assert!(text.contains("worker_event_age_ms_bucket{worker=\"notifications\",le=\"+Inf\"}"), "{text}");
    assert_eq!(sample(&text, "worker_failures{worker=\"notifications\"}"), None, "nothing failed: {text}");
    // Nothing identifies a studio or a person.
    assert!(!text.contains(&s.studio) && !text.contains("metrics-a.example"), "{text}");

    // A retry under the same idempotency key answers the first booking again: not a new one.
    let keyed = || {
        app.request(Method::POST, &format!("/v1/studios/{}/bookings", s.studio))
            .bearer(&client.access)
            .header("idempotency-key", "metrics-retry-1")
            .json(&s.booking("2026-06-04T10:00:00+01:00"))
            .send()
    };
    let (first, retried) = (keyed().await, keyed().await);
    assert_eq!((first.status.as_u16(), retried.status.as_u16()), (201, 201));
    assert_eq!(first.json()["id"], retried.json()["id"], "the retry is the same booking");
    // A cancellation counts too, and a request no route knows is `unmatched`.
    let booking = s.book_ok(&app, &client, "2026-06-02T15:00:00+01:00").await;
    let cancelled = s.act(&app, &client, booking["id"].as_str().expect("id"), "cancel", None).await;
    assert_eq!(cancelled.status, 200);
    assert_eq!(app.request(Method::GET, "/v1/nowhere").send().await.status, 404);
    let text =
        String::from_utf8(app.request(Method::GET, "/metrics").send().await.body.to_vec()).expect("text");
    assert_eq!(sample(&text, "bookings_created"), Some(3.0), "one each, the retry not counted: {text}");
    assert_eq!(sample(&text, "bookings_cancelled"), Some(1.0), "{text}");
    assert_eq!(
        sample(&text, "http_request_ms_count{group=\"unmatched\",route=\"unmatched\",status_class=\"4xx\"}"),
        Some(1.0),
        "{text}"
    );
}

/// Lines an [`Emf`] sink wrote, parsed.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<String>>>);

impl Captured {
    fn sink(&self, function: &str) -> Metrics {
        let lines = self.0.clone();
        Metrics::new(Arc::new(Emf::writing_to(function, move |line| {
            lines.lock().expect("lines").push(line.to_owned());
        })))
    }

    fn lines(&self) -> Vec<Value> {
        self.0.lock().expect("lines").iter().map(|l| serde_json::from_str(l).expect("JSON line")).collect()
    }

    /// The lines of one metric.
    fn of(&self, name: &str) -> Vec<Value> {
        self.lines()
            .into_iter()
            .filter(|l| l["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"] == name)
            .collect()
    }
}

async fn a_booking_a_refusal_and_a_notice_write_emf_lines(app: TestApp) {
    let s = salon(&app, "emf-a").await;
    let client = app.register("cli@emf-a.example").await;
    // The app as a Lambda function builds it: the same router and worker, metrics as EMF.
    let emf = Captured::default();
    let mut state = app.state();
    state.platform = state.platform.with_metrics(emf.sink("atelier-bookings"));
    let router = atelier_app::router(state.clone(), &Group::ALL);
    let book = || {
        TestRequest::new_for(router.clone(), Method::POST, &format!("/v1/studios/{}/bookings", s.studio))
            .bearer(&client.access)
            .json(&s.booking("2026-06-02T10:00:00+01:00"))
            .send()
    };
    let booked = book().await;
    assert_eq!(booked.status, 201, "{:?}", booked.body);
    let request_id = booked.header("x-request-id").expect("request id").to_owned();
    let taken = book().await;
    assert_eq!(taken.status, 409);
    let refused_id = taken.header("x-request-id").expect("request id").to_owned();
    let worker = atelier_app::worker(
        &atelier_notifications::QUEUE,
        &state.platform,
        std::time::Duration::from_secs(30),
    );
    assert!(app.deliver(&atelier_notifications::QUEUE, &worker).await > 0);

    let created = emf.of("bookings_created");
    assert_eq!(created.len(), 1, "{created:?}");
    let line = &created[0];
    assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Atelier");
    assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["function"]]));
    assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"], "Count");
    assert!(line["_aws"]["Timestamp"].as_i64().is_some_and(|t| t > 1_700_000_000_000), "{line}");
    assert_eq!((&line["function"], &line["bookings_created"]), (&json!("atelier-bookings"), &json!(1.0)));
    assert_eq!(line["request_id"], json!(request_id), "the line leads to the request's logs");

    let refused = emf.of("bookings_refused");
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["function", "reason"]]));
    assert_eq!((&refused[0]["reason"], &refused[0]["bookings_refused"]), (&json!("slot-taken"), &json!(1.0)));
    assert_eq!(refused[0]["request_id"], json!(refused_id));

    let requests = emf.of("http_request_ms");
    let ours: Vec<&Value> = requests.iter().filter(|l| l["request_id"] == json!(request_id)).collect();
    assert_eq!(ours.len(), 1, "{requests:?}");
    let line = ours[0];
    assert_eq!(
        line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        json!([["function", "group", "status_class"]]),
        "the route is a property, not a dimension"
    );
    assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"], "Milliseconds");
    assert_eq!((&line["group"], &line["status_class"]), (&json!("bookings"), &json!("2xx")));
    assert_eq!(line["route"], "/v1/studios/{studio_id}/bookings");
    assert!(line["http_request_ms"].as_f64().is_some_and(|ms| ms > 0.0), "{line}");

    let sent: Vec<Value> = emf.of("notifications").into_iter().filter(|l| l["channel"] == "email").collect();
    // The setup's invitations go out in the same run; the booking's notices carry its id.
    let sent: Vec<&Value> = sent.iter().filter(|l| l["request_id"] == json!(request_id)).collect();
    assert!(!sent.is_empty(), "an email sent on behalf of the booking's request: {:?}", emf.lines());
    assert_eq!(sent[0]["outcome"], "sent");
    assert_eq!(
        sent[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        json!([["function", "channel", "outcome"]])
    );
    let batches = emf.of("worker_batch_size");
    assert!(!batches.is_empty() && batches.iter().all(|l| l["worker"] == "notifications"), "{batches:?}");
    let ages = emf.of("worker_event_age_ms");
    assert!(
        !ages.is_empty()
            && ages.iter().all(|l| l["worker_event_age_ms"].as_f64().is_some_and(|ms| ms >= 0.0))
    );
    // No line names a studio, a person or a booking.
    for line in emf.lines() {
        let text = line.to_string();
        assert!(!text.contains(&s.studio) && !text.contains("emf-a.example"), "{text}");
    }
}

/// Eight clients race for one slot: the counters agree exactly with what the clients were
/// answered, reason by reason.
async fn racing_bookings_are_counted_as_they_were_answered(app: TestApp) {
    let s = salon(&app, "metrics-race").await;
    let mut clients = Vec::new();
    for i in 0..8 {
        clients.push(app.register(&format!("c{i}@metrics-race.example")).await);
    }
    let answers =
        futures_util::future::join_all(clients.iter().map(|c| s.book(&app, c, "2026-06-03T10:00:00+01:00")))
            .await;
    let created = answers.iter().filter(|a| a.status == 201).count();
    assert_eq!(created, 1, "one wins the slot");
    let mut refused = std::collections::BTreeMap::<String, usize>::new();
    for answer in answers.iter().filter(|a| a.status != 201) {
        let kind = answer.json()["type"].as_str().expect("a problem type").to_owned();
        *refused.entry(kind.trim_start_matches("urn:atelier:problem:").to_owned()).or_default() += 1;
    }
    let text =
        String::from_utf8(app.request(Method::GET, "/metrics").send().await.body.to_vec()).expect("text");
    assert_eq!(sample(&text, "bookings_created"), Some(created as f64), "{text}");
    for (reason, n) in &refused {
        assert_eq!(
            sample(&text, &format!("bookings_refused{{reason=\"{reason}\"}}")),
            Some(*n as f64),
            "{text}"
        );
    }
    let counted: f64 = text
        .lines()
        .filter(|l| l.starts_with("bookings_refused{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(counted, 7.0, "every refusal counted once: {text}");
}

atelier_tests::on_both_backends!(
    a_booking_a_refusal_and_a_notice_move_the_local_metrics,
    a_booking_a_refusal_and_a_notice_write_emf_lines,
    racing_bookings_are_counted_as_they_were_answered,
);

/// A log sink the test reads back.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One runtime thread, so the subscriber set for it sees every task of the test.
async fn one_request_id_follows_a_booking_to_the_worker_and_the_email(app: TestApp) {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let _subscriber = tracing::subscriber::set_default(atelier_http::logging::json(move || writer.clone()));
    let s = salon(&app, "trace-a").await;
    let client = app.register("cli@trace-a.example").await;
    let booked = s.book(&app, &client, "2026-06-02T10:00:00+01:00").await;
    assert_eq!(booked.status, 201);
    let request_id = booked.header("x-request-id").expect("request id").to_owned();
    assert!(app.run_workers().await > 0);

    let text = String::from_utf8(logs.0.lock().expect("buffer").clone()).expect("UTF-8");
    let lines: Vec<Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let ours: Vec<&Value> = lines.iter().filter(|l| l["span"]["request_id"] == json!(request_id)).collect();
    let has = |message: &str, check: &dyn Fn(&Value) -> bool| {
        ours.iter().any(|l| l["message"] == message && check(l))
    };
    assert!(
        has("request", &|l| l["status"] == 201 && l["span"]["route"] == "/v1/studios/{studio_id}/bookings"),
        "the request's own line: {text}"
    );
    assert!(
        has("event handled", &|l| l["kind"] == "booking.created" && l["span"]["worker"] == "notifications"),
        "the worker's line for the booking's event: {text}"
    );
    assert!(has("notice sent", &|l| l["channel"] == "email"), "the email it sent: {text}");
    // Another request's lines carry its own id, not this one.
    let other = s.book(&app, &client, "2026-06-02T15:00:00+01:00").await;
    let other_id = other.header("x-request-id").expect("request id").to_owned();
    let text = String::from_utf8(logs.0.lock().expect("buffer").clone()).expect("UTF-8");
    let lines: Vec<Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let requests_of = |id: &str| {
        lines.iter().filter(|l| l["message"] == "request" && l["span"]["request_id"] == json!(id)).count()
    };
    assert_eq!((requests_of(&request_id), requests_of(&other_id)), (1, 1), "{text}");
}

mod trace {
    #[tokio::test(flavor = "current_thread")]
    async fn embedded() {
        super::one_request_id_follows_a_booking_to_the_worker_and_the_email(
            atelier_tests::TestApp::embedded().await,
        )
        .await;
    }

    #[tokio::test(flavor = "current_thread")]
    async fn dynamodb() {
        super::one_request_id_follows_a_booking_to_the_worker_and_the_email(
            atelier_tests::TestApp::aws().await,
        )
        .await;
    }
}
