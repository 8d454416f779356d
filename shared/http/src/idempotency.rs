//! `Idempotency-Key` on creating POSTs: the header bound to the caller and the request, and the
//! stored response replayed for a retry.

use atelier_platform::AppError;
use atelier_platform::idempotency::{IdempotencyKey, StoredResponse};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::problem::ApiError;

/// The `Idempotency-Key` header, if sent.
#[derive(Debug, Clone)]
pub struct IdempotencyHeader(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyHeader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> std::result::Result<Self, Self::Rejection> {
        match parts.headers.get("idempotency-key") {
            None => Ok(IdempotencyHeader(None)),
            Some(v) => v
                .to_str()
                .map(|s| IdempotencyHeader(Some(s.to_owned())))
                .map_err(|_| ApiError(AppError::BadRequest("Idempotency-Key must be visible ASCII".into()))),
        }
    }
}

impl IdempotencyHeader {
    /// The key bound to the caller and this request (path and normalised body).
    pub fn bind(
        &self,
        studio_id: &str,
        user_id: &str,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<Option<IdempotencyKey>, ApiError> {
        let Some(value) = &self.0 else { return Ok(None) };
        let mut request = path.as_bytes().to_vec();
        request.push(b'\n');
        request.extend(serde_json::to_vec(body).map_err(|e| ApiError(AppError::Internal(e.to_string())))?);
        Ok(Some(IdempotencyKey::new(studio_id, user_id, value, &request)?))
    }
}

/// A stored (or fresh) creation response: status, `Location`, `ETag` from the body's version.
#[derive(Debug)]
pub struct Stored(pub StoredResponse);

impl IntoResponse for Stored {
    fn into_response(self) -> Response {
        let StoredResponse { status, location, body } = self.0;
        let version = body.get("version").and_then(serde_json::Value::as_i64);
        let mut response = axum::Json(body).into_response();
        *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
        if let Some(location) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        if let Some(etag) = version.and_then(|v| HeaderValue::from_str(&format!("\"{v}\"")).ok()) {
            response.headers_mut().insert(header::ETAG, etag);
        }
        response
    }
}
