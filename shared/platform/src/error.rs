//! What a use case can fail with. The HTTP edge maps each variant to one problem+json response;
//! nothing else decides status codes.

use atelier_domain::Invalid;

use crate::store::StoreError;

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
    /// Authenticated but not allowed (403).
    #[error("{0}")]
    Forbidden(String),
    /// Absent, or not visible to the caller (404).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request conflicts with the current state (409).
    #[error("{0}")]
    Conflict(String),
    /// `If-Match` names a version that is no longer current (412).
    #[error("the resource changed since it was read")]
    PreconditionFailed,
    /// A request that cannot be processed as sent (422), beyond field rules.
    #[error("{0}")]
    Unprocessable(String),
    /// Too many requests; retry after this many seconds (429).
    #[error("rate limit exceeded")]
    RateLimited {
        /// Seconds until a retry can succeed.
        retry_after: u64,
    },
    /// A dependency is down or overloaded (503).
    #[error("{0}")]
    Unavailable(String),
    /// A bug or an unexpected state (500).
    #[error("{0}")]
    Internal(String),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::InvalidCursor => AppError::BadRequest("invalid cursor".into()),
            StoreError::TooManyActions(_)
            | StoreError::TransactionTooLarge(_)
            | StoreError::ItemTooLarge { .. } => AppError::Unprocessable(e.to_string()),
            StoreError::Throttled | StoreError::TransactionConflict | StoreError::Unavailable(_) => {
                AppError::Unavailable(e.to_string())
            }
            other => AppError::Internal(other.to_string()),
        }
    }
}
