//! In-process HTTP requests against a router (`tower::ServiceExt::oneshot`).

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// A request being built.
pub struct TestRequest {
    router: Router,
    request: http::request::Builder,
    body: Body,
}

impl TestRequest {
    /// A request to any router.
    pub fn new_for(router: Router, method: Method, path: &str) -> TestRequest {
        TestRequest { router, request: Request::builder().method(method).uri(path), body: Body::empty() }
    }

    /// A JSON body.
    pub fn json(mut self, value: &serde_json::Value) -> TestRequest {
        self.request = self.request.header(header::CONTENT_TYPE, "application/json");
        self.body = Body::from(serde_json::to_vec(value).expect("serialisable"));
        self
    }

    /// A raw body.
    pub fn body(mut self, body: impl Into<Bytes>) -> TestRequest {
        self.body = Body::from(body.into());
        self
    }

    /// A header.
    pub fn header(mut self, name: &str, value: &str) -> TestRequest {
        self.request = self.request.header(
            HeaderName::from_bytes(name.as_bytes()).expect("header name"),
            HeaderValue::from_str(value).expect("header value"),
        );
        self
    }

    /// `Authorization: Bearer <token>`.
    pub fn bearer(self, token: &str) -> TestRequest {
        self.header("authorization", &format!("Bearer {token}"))
    }

    /// Sends it.
    pub async fn send(self) -> TestResponse {
        let request = self.request.body(self.body).expect("valid request");
        let response = self.router.oneshot(request).await.expect("router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.expect("body").to_bytes();
        TestResponse { status, headers, body }
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct TestResponse {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

impl TestResponse {
    /// The body as JSON (panics with the body if it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a problem+json response with this status and type slug; returns the body.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, slug: &str) -> serde_json::Value {
        assert_eq!(self.status.as_u16(), status, "status; body: {}", String::from_utf8_lossy(&self.body));
        assert_eq!(self.header("content-type"), Some("application/problem+json"));
        let body = self.json();
        assert_eq!(body["type"], format!("urn:atelier:problem:{slug}"), "problem type; body: {body}");
        assert_eq!(body["status"], status);
        assert!(body["request_id"].is_string(), "problem without request id: {body}");
        body
    }
}
