//! Each function binary, run by cargo-lambda's Lambda emulator, answers the sample events.

use atelier_lambda_tests::{Invocation, invoke, store};

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
        atelier_core::notifications::inbox_key("01JUSEREVENTS0000000000001", "01JEVENTNOTICE000000000001");
    let entry =
        store().await.get(&inbox).await.expect("read the table").expect("notice delivered to the inbox");
    assert_eq!(entry.string("title").ok(), Some("Welcome to Atelier"));

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
