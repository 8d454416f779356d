//! Optimistic concurrency at the edge: responses carry `ETag: "<version>"`, updates may send
//! `If-Match` with it; a stale one is a 412, and a concurrent change without it a 409. And
//! revalidation: a cacheable answer carries an entity tag, and a GET sending it back in
//! `If-None-Match` gets a 304 without the body.

use atelier_platform::AppError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::problem::ApiError;

/// The version an update is based on, from `If-Match` (absent or `*`: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IfMatch(pub Option<i64>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(header::IF_MATCH) else {
            return Ok(IfMatch(None));
        };
        let text = value.to_str().unwrap_or_default().trim();
        if text == "*" {
            return Ok(IfMatch(None));
        }
        text.strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .and_then(|t| t.parse().ok())
            .map(|v| IfMatch(Some(v)))
            .ok_or_else(|| {
                ApiError(AppError::BadRequest("If-Match must be an ETag from this API, like \"3\"".into()))
            })
    }
}

/// A JSON body with its version as `ETag`.
#[derive(Debug)]
pub struct Tagged<T>(pub i64, pub T);

impl<T: Serialize> IntoResponse for Tagged<T> {
    fn into_response(self) -> Response {
        let mut response = axum::Json(self.1).into_response();
        if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", self.0)) {
            response.headers_mut().insert(header::ETAG, etag);
        }
        response
    }
}

/// A created resource: 201, its version as `ETag` and its address as `Location`.
#[derive(Debug)]
pub struct Created<T>(pub String, pub i64, pub T);

impl<T: Serialize> IntoResponse for Created<T> {
    fn into_response(self) -> Response {
        let mut response = Tagged(self.1, self.2).into_response();
        *response.status_mut() = StatusCode::CREATED;
        if let Ok(location) = HeaderValue::from_str(&self.0) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        response
    }
}

/// The entity tags a client already holds, from `If-None-Match` (RFC 9110 §13.1.2). A header
/// that does not parse is ignored, as a cache would: the full answer is never wrong.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IfNoneMatch {
    any: bool,
    tags: Vec<String>,
}

impl IfNoneMatch {
    /// Parses a header value: `*`, or a list of `"tag"` / `W/"tag"`.
    pub fn parse(value: &str) -> IfNoneMatch {
        let value = value.trim();
        if value == "*" {
            return IfNoneMatch { any: true, tags: Vec::new() };
        }
        let tags = value
            .split(',')
            .filter_map(|t| {
                let t = t.trim();
                // Weak comparison: `W/"x"` matches `"x"`.
                let t = t.strip_prefix("W/").unwrap_or(t);
                t.strip_prefix('"').and_then(|t| t.strip_suffix('"')).filter(|t| !t.contains('"'))
            })
            .map(str::to_owned)
            .collect();
        IfNoneMatch { any: false, tags }
    }

    /// Whether the client holds the answer tagged `etag` (its opaque part, unquoted).
    pub fn holds(&self, etag: &str) -> bool {
        self.any || self.tags.iter().any(|t| t == etag)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IfNoneMatch {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .headers
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(IfNoneMatch::parse)
            .fold(IfNoneMatch::default(), |mut all, one| {
                all.any |= one.any;
                all.tags.extend(one.tags);
                all
            }))
    }
}

/// A GET answer caches may keep and revalidate: 200 with the JSON, or 304 when the client holds
/// it already; both with `ETag` and `Cache-Control`.
#[derive(Debug)]
pub struct Revalidated {
    /// The entity tag's opaque part (quoted on the wire).
    pub etag: String,
    /// The `Cache-Control` value.
    pub cache_control: &'static str,
    /// The JSON body, or `None` for a 304.
    pub json: Option<bytes::Bytes>,
}

impl IntoResponse for Revalidated {
    fn into_response(self) -> Response {
        let mut response = match self.json {
            Some(json) => {
                ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], json).into_response()
            }
            None => StatusCode::NOT_MODIFIED.into_response(),
        };
        let headers = response.headers_mut();
        if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", self.etag)) {
            headers.insert(header::ETAG, etag);
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(self.cache_control));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::IfNoneMatch;

    #[test]
    fn if_none_match_lists_strong_and_weak_tags() {
        let held = IfNoneMatch::parse(r#""a1", W/"b2" ,"c3""#);
        assert!(held.holds("a1") && held.holds("b2") && held.holds("c3"));
        assert!(!held.holds("d4"));
        assert!(IfNoneMatch::parse("*").holds("anything"));
        // Unquoted or broken tags are not tags: the full answer is sent.
        assert!(!IfNoneMatch::parse("a1").holds("a1"));
        assert!(!IfNoneMatch::parse(r#""a1"#).holds("a1"));
        assert!(!IfNoneMatch::default().holds("a1"));
    }
}
