//! Optimistic concurrency at the edge: responses carry `ETag: "<version>"`, updates may send
//! `If-Match` with it; a stale one is a 412, and a concurrent change without it a 409.

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
