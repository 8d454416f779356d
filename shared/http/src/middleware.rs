//! The request context every response passes through: request id, one structured log line,
//! security headers, and errors normalised to problem+json (whoever produced them: a handler,
//! an extractor, axum's router, a layer, a panic).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use atelier_platform::metrics::{self, Metric, Metrics};
use atelier_platform::trace::{self, Trace};
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use tracing::Instrument;

use crate::problem::{PROBLEM_JSON, Problem};

/// Header carrying the request id, in and out.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the current request: the caller's `x-request-id` if well formed, else a new ULID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

fn acceptable_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

const SECURITY_HEADERS: [(&str, &str); 6] = [
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("strict-transport-security", "max-age=63072000; includeSubDomains"),
    ("content-security-policy", "default-src 'none'; frame-ancestors 'none'"),
    ("cache-control", "no-store"),
];

/// Largest error body re-read to add the request id.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// The X-Ray trace id of the request (`Root=1-…`), where the host has one (Lambda puts its
/// invocation's in the request's extensions); carried with the request id across the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XrayTraceId(pub String);

/// What the middleware records requests into: the metrics, and the endpoint group of each route
/// template (the `group` dimension), known when the router is assembled — so a response made
/// outside the handler (a panic, a transport limit) still counts against its group.
#[derive(Clone, Default)]
pub struct Observed {
    /// Where the request metric goes.
    pub metrics: Metrics,
    /// Route template → endpoint group.
    pub groups: Arc<HashMap<String, &'static str>>,
}

impl Observed {
    /// Requests recorded into `metrics`, every route in group `other`.
    pub fn new(metrics: Metrics) -> Observed {
        Observed { metrics, groups: Arc::default() }
    }

    /// The group of a route template: `unmatched` when no route matched, `other` for a route
    /// no group declared.
    pub fn group_of(&self, route: Option<&str>) -> &'static str {
        match route {
            None => "unmatched",
            Some(route) => self.groups.get(route).copied().unwrap_or("other"),
        }
    }
}

/// The middleware: request id, trace, log line, metric, security headers, problem+json.
pub async fn request_context(State(observed): State<Observed>, mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| acceptable_id(id))
        .map_or_else(|| ulid::Ulid::generate().to_string(), str::to_owned);
    request.extensions_mut().insert(RequestId(id.clone()));
    // The route template, never the raw path: paths can carry secrets (calendar feed tokens).
    let matched = request.extensions().get::<MatchedPath>().map(MatchedPath::as_str);
    let group = observed.group_of(matched);
    let route = matched.unwrap_or("unmatched").to_owned();
    let trace = Trace {
        request_id: id.clone(),
        trace_id: request.extensions().get::<XrayTraceId>().map(|t| t.0.clone()),
    };
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        route = %route,
        trace_id = tracing::field::Empty,
    );
    if let Some(trace_id) = &trace.trace_id {
        span.record("trace_id", trace_id.as_str());
    }
    let started = Instant::now();
    let response = trace::within(trace.clone(), next.run(request).instrument(span.clone())).await;
    let mut response =
        if response.status().as_u16() >= 400 { as_problem(response, &id).await } else { response };
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        if !headers.contains_key(name) {
            headers.insert(HeaderName::from_static(name), HeaderValue::from_static(value));
        }
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        headers.insert(REQUEST_ID, value);
    }
    let status = response.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let labels =
        [("group", group), ("status_class", metrics::status_class(status)), ("route", route.as_str())];
    trace::within(trace, async {
        observed.metrics.record(Metric::HttpRequest, latency_ms, &labels);
    })
    .await;
    span.in_scope(|| {
        if status >= 500 {
            tracing::error!(status, latency_ms, "request");
        } else {
            tracing::info!(status, latency_ms, "request");
        }
    });
    response
}

/// Makes an error response problem+json carrying the request id.
async fn as_problem(response: Response, request_id: &str) -> Response {
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    let (mut parts, body) = response.into_parts();
    let mut problem = if is_problem {
        let bytes = match http_body_util::Limited::new(body, ERROR_BODY_LIMIT).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => bytes::Bytes::new(),
        };
        match serde_json::from_slice::<serde_json::Value>(&bytes) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => problem_object(Problem::new(parts.status, None)),
        }
    } else {
        let detail = (parts.status == StatusCode::METHOD_NOT_ALLOWED)
            .then(|| "this method is not allowed on this resource".to_owned());
        problem_object(Problem::new(parts.status, detail))
    };
    problem.insert("request_id".into(), serde_json::Value::String(request_id.to_owned()));
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

fn problem_object(problem: Problem) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::to_value(problem) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    }
}

/// The response for a panic in a handler: a 500 problem; the panic is logged.
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = message, "handler panicked");
    Problem::new(StatusCode::INTERNAL_SERVER_ERROR, Some("an unexpected error occurred".to_owned()))
        .into_response()
}

/// The response for a path no router knows.
pub async fn not_found() -> Response {
    Problem::new(StatusCode::NOT_FOUND, Some("no such resource".to_owned())).into_response()
}

#[cfg(test)]
mod tests {
    use super::acceptable_id;

    #[test]
    fn request_ids_are_short_and_plain() {
        assert!(acceptable_id("01HZY-abc_1.2"));
        assert!(!acceptable_id(""));
        assert!(!acceptable_id("a b"));
        assert!(!acceptable_id("<script>"));
        assert!(!acceptable_id(&"a".repeat(129)));
    }
}
