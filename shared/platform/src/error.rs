//! What a use case can fail with. The HTTP edge maps each variant to one problem+json response;
//! nothing else decides status codes.

use atelier_domain::Invalid;

use crate::store::StoreError;

/// Why a request conflicts with the current state. Each reason is its own problem type
/// (`urn:atelier:problem:<slug>`), so clients tell "slot taken" from "booking changed" without
/// parsing English. Capabilities declare theirs as constants beside their use cases; every one
/// is listed in `docs/api.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reason {
    /// The problem type's slug.
    pub slug: &'static str,
    /// The problem type's title.
    pub title: &'static str,
}

/// What the request was based on changed meanwhile (a concurrent request won): read again or
/// retry.
pub const CHANGED_MEANWHILE: Reason = Reason { slug: "changed-meanwhile", title: "Changed meanwhile" };

/// 403: the caller's role in the studio is not enough for this.
pub const ROLE_REQUIRED: Reason = Reason { slug: "role-required", title: "A higher role is needed" };

/// 403: an API key was used where its scopes do not reach (or where keys are not accepted).
pub const API_KEY_SCOPE: Reason = Reason { slug: "api-key-scope", title: "Not open to this API key" };

/// 422: the request would make an item or a transaction larger than the store takes.
pub const TOO_LARGE: Reason = Reason { slug: "too-large", title: "Too large to store" };

/// 422: an `Idempotency-Key` sent again with a different request.
pub const IDEMPOTENCY_KEY_REUSED: Reason =
    Reason { slug: "idempotency-key-reused", title: "Idempotency key used for another request" };

/// A use case's failure.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request breaks field rules (422).
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// The request is malformed (400).
    #[error("{0}")]
    BadRequest(String),
    /// No credentials, or bad ones (401).
    #[error("{0}")]
    Unauthenticated(String),
    /// Authenticated but not allowed (403), for a reason with its own problem type.
    #[error("{1}")]
    Forbidden(Reason, String),
    /// Absent, or not visible to the caller (404).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request conflicts with the current state (409), for a reason with its own
    /// problem type.
    #[error("{1}")]
    Conflict(Reason, String),
    /// `If-Match` names a version that is no longer current (412).
    #[error("the resource changed since it was read")]
    PreconditionFailed,
    /// A request that cannot be processed as sent (422), beyond field rules, for a reason with
    /// its own problem type.
    #[error("{1}")]
    Unprocessable(Reason, String),
    /// What was asked for existed and is gone for good (410 with the reason's problem type).
    #[error("{1}")]
    Gone(Reason, String),
    /// Too many requests; retry after this many seconds (429).
    #[error("rate limit exceeded")]
    RateLimited {
        /// Seconds until a retry can succeed.
        retry_after: u64,
    },
    /// A dependency is down or overloaded (503).
    #[error("{0}")]
    Unavailable(String),
    /// A named dependency (the payment provider) is down or too slow (503), for a reason with
    /// its own problem type.
    #[error("{1}")]
    DependencyUnavailable(Reason, String),
    /// A payment was declined (402), for a reason with its own problem type.
    #[error("{1}")]
    PaymentRequired(Reason, String),
    /// The store is down, overloaded, or lost a response (503); the cause is kept for the log.
    #[error("the store is unavailable")]
    StoreUnavailable(#[source] StoreError),
    /// A bug or an unexpected state (500).
    #[error("{0}")]
    Internal(String),
    /// An unexpected failure with its cause (500): `context` says what was being done.
    #[error("{context}")]
    Failed {
        /// What was being done.
        context: &'static str,
        /// Why it failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl AppError {
    /// The slug of the problem type the client is shown (what a refusal metric is split by:
    /// a closed set, never free text).
    pub fn slug(&self) -> &'static str {
        match self {
            AppError::Invalid(_) => "validation-failed",
            AppError::BadRequest(_) => "bad-request",
            AppError::Unauthenticated(_) => "unauthenticated",
            AppError::NotFound(_) => "not-found",
            AppError::PreconditionFailed => "precondition-failed",
            AppError::RateLimited { .. } => "rate-limited",
            AppError::Forbidden(reason, _)
            | AppError::Conflict(reason, _)
            | AppError::Unprocessable(reason, _)
            | AppError::Gone(reason, _)
            | AppError::DependencyUnavailable(reason, _)
            | AppError::PaymentRequired(reason, _) => reason.slug,
            AppError::Unavailable(_) | AppError::StoreUnavailable(_) => "unavailable",
            AppError::Internal(_) | AppError::Failed { .. } => "internal",
        }
    }

    /// Whether the request was refused (a 4xx: the caller's input or the current state), as
    /// opposed to failing on our side (a 5xx: a bug, a dependency down).
    pub fn is_refusal(&self) -> bool {
        !matches!(
            self,
            AppError::Unavailable(_)
                | AppError::StoreUnavailable(_)
                | AppError::DependencyUnavailable(..)
                | AppError::Internal(_)
                | AppError::Failed { .. }
        )
    }

    /// An unexpected failure of `context`, keeping `source` as the cause.
    pub fn failed(context: &'static str, source: impl std::error::Error + Send + Sync + 'static) -> AppError {
        AppError::Failed { context, source: Box::new(source) }
    }
}

/// An error with its causes, outermost first, for a log line: `a: b: c`.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cause = e.source();
    }
    text
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::InvalidCursor => AppError::BadRequest("invalid cursor".into()),
            StoreError::TooManyActions(_)
            | StoreError::TransactionTooLarge(_)
            | StoreError::ItemTooLarge { .. } => AppError::Unprocessable(TOO_LARGE, e.to_string()),
            StoreError::Throttled | StoreError::TransactionConflict | StoreError::Unavailable(_) => {
                AppError::StoreUnavailable(e)
            }
            other => AppError::failed("store", other),
        }
    }
}
