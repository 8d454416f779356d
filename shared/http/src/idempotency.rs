//! `Idempotency-Key` on creating POSTs: the header bound to the caller and the request, and the
//! stored response replayed for a retry.

use atelier_platform::AppError;
use atelier_platform::idempotency::{IdempotencyKey, Outcome};
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
        request.extend(
            serde_json::to_vec(body)
                .map_err(|e| ApiError(AppError::failed("encoding the request for its key", e)))?,
        );
        Ok(Some(IdempotencyKey::new(studio_id, user_id, value, &request)?))
    }
}

/// A creating request's outcome, fresh or replayed, as a response: 201 when something was
/// created (200 otherwise), `Location` when the handler names where, `ETag` from the body's
/// version.
#[derive(Debug)]
pub struct Stored {
    outcome: Outcome,
    location: Option<String>,
}

impl Stored {
    /// The response for `outcome`.
    pub fn new(outcome: Outcome) -> Stored {
        Stored { outcome, location: None }
    }

    /// The same, with `Location` built from the body (for a single created resource).
    pub fn located(mut self, location: impl FnOnce(&serde_json::Value) -> Option<String>) -> Stored {
        if self.outcome.created {
            self.location = location(&self.outcome.body);
        }
        self
    }
}

impl IntoResponse for Stored {
    fn into_response(self) -> Response {
        let Outcome { created, body } = self.outcome;
        let version = body.get("version").and_then(serde_json::Value::as_i64);
        let mut response = axum::Json(body).into_response();
        *response.status_mut() = if created { StatusCode::CREATED } else { StatusCode::OK };
        if let Some(location) = self.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        if let Some(etag) = version.and_then(|v| HeaderValue::from_str(&format!("\"{v}\"")).ok()) {
            response.headers_mut().insert(header::ETAG, etag);
        }
        response
    }
}
