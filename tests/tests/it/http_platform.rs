//! The HTTP edge: problem+json for every failure, request ids, security headers, CORS, body
//! limits, health and readiness, the OpenAPI document.

use std::sync::Arc;

use async_trait::async_trait;
use atelier_app::Group;
use atelier_http::extract::Json;
use atelier_http::{AppState, HttpConfig};
use atelier_platform::clock::SystemClock;
use atelier_platform::store::{Item, Key, Page, Query, Store, StoreBackend, StoreError, WriteOp};
use atelier_tests::{TestApp, TestRequest};
use axum::Router;
use axum::routing::{get, post};
use http::Method;
use serde::Deserialize;

async fn health_and_readiness(app: TestApp) {
    let health = app.request(Method::GET, "/v1/health").send().await;
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["status"], "ok");
    let ready = app.request(Method::GET, "/v1/health/ready").send().await;
    assert_eq!(ready.status, 200, "{:?}", ready.body);
    assert_eq!(ready.json()["checks"][0]["name"], "store");
    assert_eq!(ready.json()["checks"][0]["ok"], true);
}

async fn every_response_has_an_id_and_security_headers(app: TestApp) {
    let generated = app.request(Method::GET, "/v1/health").send().await;
    let id = generated.header("x-request-id").expect("generated id");
    assert_eq!(id.len(), 26, "a ULID");
    let echoed =
        app.request(Method::GET, "/v1/health").header("x-request-id", "client-trace-42").send().await;
    assert_eq!(echoed.header("x-request-id"), Some("client-trace-42"));
    let replaced = app.request(Method::GET, "/v1/health").header("x-request-id", "<script>").send().await;
    assert_ne!(replaced.header("x-request-id"), Some("<script>"));
    for response in [&generated, &app.request(Method::GET, "/missing").send().await] {
        assert_eq!(response.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(response.header("x-frame-options"), Some("DENY"));
        assert_eq!(response.header("cache-control"), Some("no-store"));
        assert!(response.header("strict-transport-security").is_some());
        assert!(response.header("content-security-policy").is_some());
    }
}

async fn unknown_routes_and_methods_are_problems(app: TestApp) {
    let missing = app.request(Method::GET, "/v1/nothing-here").send().await;
    let body = missing.assert_problem(404, "not-found");
    assert_eq!(body["request_id"], missing.header("x-request-id").expect("id"));
    let wrong_method = app.request(Method::DELETE, "/v1/health").send().await;
    wrong_method.assert_problem(405, "method-not-allowed");
    assert!(wrong_method.header("allow").is_some_and(|a| a.contains("GET")));
}

async fn openapi_document_describes_the_api(app: TestApp) {
    let doc = app.request(Method::GET, "/v1/openapi.json").send().await;
    assert_eq!(doc.status, 200);
    let doc = doc.json();
    assert_eq!(doc["openapi"], "3.1.0");
    for path in ["/v1/health", "/v1/health/ready", "/v1/openapi.json"] {
        assert!(doc["paths"][path].is_object(), "{path} is documented");
    }
    assert!(doc["components"]["schemas"]["Problem"].is_object());
}

atelier_tests::on_both_backends!(
    health_and_readiness,
    every_response_has_an_id_and_security_headers,
    unknown_routes_and_methods_are_problems,
    openapi_document_describes_the_api,
);

/// A store that does not answer.
struct DownStore;

#[async_trait]
impl StoreBackend for DownStore {
    async fn get(&self, _: &Key, _: i64) -> Result<Option<Item>, StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
    async fn get_many(&self, _: &[Key], _: i64) -> Result<Vec<Item>, StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
    async fn query(&self, _: &Query, _: i64) -> Result<Page, StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
    async fn write(&self, _: &WriteOp, _: i64) -> Result<Option<Item>, StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
    async fn transact(&self, _: &[WriteOp], _: i64) -> Result<(), StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
    async fn ping(&self) -> Result<(), StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
}

#[tokio::test]
async fn readiness_fails_when_the_store_is_down() {
    let healthy = TestApp::embedded().await;
    let mut platform = healthy.platform.clone();
    platform.store = Store::new(Arc::new(DownStore), Arc::new(SystemClock));
    let router = atelier_app::router(AppState::new(platform, HttpConfig::default()), &[Group::Health]);
    let live = TestRequest::new_for(router.clone(), Method::GET, "/v1/health").send().await;
    assert_eq!(live.status, 200, "liveness does not depend on the store");
    let ready = TestRequest::new_for(router, Method::GET, "/v1/health/ready").send().await;
    let body = ready.assert_problem(503, "unavailable");
    assert_eq!(body["detail"], "not ready: store");
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Probe {
    name: String,
    count: u32,
}

async fn echo(Json(probe): Json<Probe>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "name": probe.name, "count": probe.count }))
}

async fn boom() -> &'static str {
    panic!("secret internals")
}

fn probe_router() -> Router {
    let config = HttpConfig { body_limit: 1024, ..HttpConfig::default() };
    let router = Router::new()
        .route("/probe", post(echo))
        .route("/boom", get(boom))
        .fallback(atelier_http::middleware::not_found);
    atelier_http::with_layers(router, &config, atelier_http::middleware::Observed::default())
}

#[tokio::test]
async fn bad_bodies_are_problems() {
    let send = |body: &'static str, content_type: Option<&str>| {
        let mut request = TestRequest::new_for(probe_router(), Method::POST, "/probe").body(body);
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        request.send()
    };
    let json = Some("application/json");
    let ok = send(r#"{"name":"a","count":1}"#, json).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.json()["count"], 1);

    send(r#"{"name":"a","#, json).await.assert_problem(400, "malformed-json");
    let wrong_type = send(r#"{"name":"a","count":"one"}"#, json).await.assert_problem(422, "invalid-body");
    assert!(wrong_type["detail"].as_str().is_some_and(|d| d.contains("count")), "{wrong_type}");
    let unknown =
        send(r#"{"name":"a","count":1,"is_admin":true}"#, json).await.assert_problem(422, "invalid-body");
    assert!(unknown["detail"].as_str().is_some_and(|d| d.contains("is_admin")), "{unknown}");
    send(r#"{"name":"a"}"#, json).await.assert_problem(422, "invalid-body");
    send(r#"{"name":"a","count":1}"#, None).await.assert_problem(415, "unsupported-media-type");
    send(r#"{"name":"a","count":1}"#, Some("text/plain")).await.assert_problem(415, "unsupported-media-type");

    let big = format!(r#"{{"name":"{}","count":1}}"#, "x".repeat(2000));
    let too_big = TestRequest::new_for(probe_router(), Method::POST, "/probe")
        .header("content-type", "application/json")
        .body(big);
    too_big.send().await.assert_problem(413, "payload-too-large");
}

#[tokio::test]
async fn panics_become_opaque_500s() {
    let response = TestRequest::new_for(probe_router(), Method::GET, "/boom").send().await;
    let body = response.assert_problem(500, "internal");
    assert!(!String::from_utf8_lossy(&response.body).contains("secret"), "{body}");
}

#[tokio::test]
async fn cors_allows_configured_origins_only() {
    let config = HttpConfig {
        cors_origins: vec![http::HeaderValue::from_static("https://app.example")],
        ..HttpConfig::default()
    };
    let app = TestApp::embedded_with(config).await;
    let preflight = app
        .request(Method::OPTIONS, "/v1/health")
        .header("origin", "https://app.example")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization,idempotency-key,if-none-match")
        .send()
        .await;
    assert!(preflight.status.is_success(), "{}", preflight.status);
    assert_eq!(preflight.header("access-control-allow-origin"), Some("https://app.example"));
    let allowed = preflight.header("access-control-allow-headers").unwrap_or_default().to_lowercase();
    assert!(allowed.contains("idempotency-key") && allowed.contains("authorization"), "{allowed}");
    assert!(allowed.contains("if-none-match"), "slot answers are revalidated: {allowed}");
    let simple = app.request(Method::GET, "/v1/health").header("origin", "https://app.example").send().await;
    assert_eq!(simple.header("access-control-allow-origin"), Some("https://app.example"));
    assert!(simple.header("access-control-expose-headers").unwrap_or_default().contains("x-request-id"));
    let stranger =
        app.request(Method::GET, "/v1/health").header("origin", "https://evil.example").send().await;
    assert_eq!(stranger.header("access-control-allow-origin"), None);
    let none = TestApp::embedded().await;
    let no_cors =
        none.request(Method::GET, "/v1/health").header("origin", "https://app.example").send().await;
    assert_eq!(no_cors.header("access-control-allow-origin"), None, "no origins configured, no CORS");
}
