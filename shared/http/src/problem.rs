//! RFC 7807 problem details: the one place where failures become HTTP responses.

use atelier_domain::{FieldError, Invalid};
use atelier_platform::AppError;
use atelier_platform::error::chain;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// Media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// A problem details body.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// Stable identifier of the problem type, `urn:atelier:problem:<slug>`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the problem type.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What went wrong this time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Field errors, for validation problems.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<FieldErrorBody>)]
    pub errors: Vec<FieldError>,
    /// Seconds to wait, for rate-limit problems.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// Id of the request, to quote to support (added on the way out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// One invalid field (schema of [`FieldError`]).
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldErrorBody {
    /// The field.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// The stable slug and title for a status.
pub fn slug_and_title(status: StatusCode) -> (&'static str, &'static str) {
    match status.as_u16() {
        400 => ("bad-request", "Bad request"),
        401 => ("unauthenticated", "Authentication required"),
        403 => ("forbidden", "Forbidden"),
        404 => ("not-found", "Not found"),
        405 => ("method-not-allowed", "Method not allowed"),
        406 => ("not-acceptable", "Not acceptable"),
        408 => ("request-timeout", "Request timeout"),
        409 => ("conflict", "Conflict"),
        410 => ("gone", "Gone"),
        412 => ("precondition-failed", "Precondition failed"),
        413 => ("payload-too-large", "Payload too large"),
        414 => ("uri-too-long", "Request target too long"),
        415 => ("unsupported-media-type", "Unsupported media type"),
        422 => ("unprocessable", "Unprocessable request"),
        428 => ("precondition-required", "Precondition required"),
        429 => ("rate-limited", "Too many requests"),
        431 => ("headers-too-large", "Request headers too large"),
        503 => ("unavailable", "Service unavailable"),
        _ if status.is_server_error() => ("internal", "Internal error"),
        _ => ("error", "Error"),
    }
}

impl Problem {
    /// A problem of the status's standard type.
    pub fn new(status: StatusCode, detail: impl Into<Option<String>>) -> Problem {
        let (slug, title) = slug_and_title(status);
        Problem::typed(status, slug, title, detail)
    }

    /// A problem of a specific type.
    pub fn typed(status: StatusCode, slug: &str, title: &str, detail: impl Into<Option<String>>) -> Problem {
        Problem {
            kind: format!("urn:atelier:problem:{slug}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
            request_id: None,
        }
    }

    fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status();
        let retry_after = self.retry_after;
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(seconds) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// A failure on its way to becoming a response.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl<E: Into<AppError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

impl ApiError {
    /// The problem this error is shown as.
    pub fn problem(&self) -> Problem {
        match &self.0 {
            AppError::Invalid(Invalid(errors)) => {
                let mut p = Problem::typed(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "validation-failed",
                    "Validation failed",
                    Some("one or more fields are invalid".to_owned()),
                );
                p.errors = errors.clone();
                p
            }
            AppError::BadRequest(m) => Problem::new(StatusCode::BAD_REQUEST, Some(m.clone())),
            AppError::Unauthenticated(m) => Problem::new(StatusCode::UNAUTHORIZED, Some(m.clone())),
            AppError::Forbidden(reason, m) => {
                Problem::typed(StatusCode::FORBIDDEN, reason.slug, reason.title, Some(m.clone()))
            }
            AppError::NotFound(what) => {
                Problem::new(StatusCode::NOT_FOUND, Some(format!("{what} not found")))
            }
            AppError::Conflict(reason, m) => {
                Problem::typed(StatusCode::CONFLICT, reason.slug, reason.title, Some(m.clone()))
            }
            AppError::PreconditionFailed => {
                Problem::new(StatusCode::PRECONDITION_FAILED, Some(self.0.to_string()))
            }
            AppError::Unprocessable(reason, m) => {
                Problem::typed(StatusCode::UNPROCESSABLE_ENTITY, reason.slug, reason.title, Some(m.clone()))
            }
            AppError::Gone(reason, m) => {
                Problem::typed(StatusCode::GONE, reason.slug, reason.title, Some(m.clone()))
            }
            AppError::RateLimited { retry_after } => {
                let mut p =
                    Problem::new(StatusCode::TOO_MANY_REQUESTS, Some("rate limit exceeded".to_owned()));
                p.retry_after = Some(*retry_after);
                p
            }
            AppError::DependencyUnavailable(reason, m) => {
                let mut p = Problem::typed(
                    StatusCode::SERVICE_UNAVAILABLE,
                    reason.slug,
                    reason.title,
                    Some(m.clone()),
                );
                p.retry_after = Some(5);
                p
            }
            AppError::PaymentRequired(reason, m) => {
                Problem::typed(StatusCode::PAYMENT_REQUIRED, reason.slug, reason.title, Some(m.clone()))
            }
            AppError::Unavailable(_) | AppError::StoreUnavailable(_) => {
                let mut p =
                    Problem::new(StatusCode::SERVICE_UNAVAILABLE, Some("try again shortly".to_owned()));
                p.retry_after = Some(1);
                p
            }
            // Never show internals; the log has them, keyed by request id.
            AppError::Internal(_) | AppError::Failed { .. } => Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                Some("an unexpected error occurred".to_owned()),
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self.0 {
            AppError::Internal(_) | AppError::Failed { .. } => {
                tracing::error!(error = %chain(&self.0), "internal error")
            }
            AppError::Unavailable(_)
            | AppError::StoreUnavailable(_)
            | AppError::DependencyUnavailable(..) => {
                tracing::warn!(error = %chain(&self.0), "dependency unavailable")
            }
            _ => {}
        }
        let mut response = self.problem().into_response();
        if matches!(self.0, AppError::Unauthenticated(_)) {
            response
                .headers_mut()
                .insert(axum::http::header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
