//! Secrets a capability reads at run time (the token key ring, later provider keys): a port, so
//! the capability parses and caches what it reads while the adapter decides where it lives
//! (Secrets Manager on AWS).

use std::sync::Arc;

use async_trait::async_trait;

use crate::AppError;

/// One secret's current text.
#[async_trait]
pub trait SecretSource: Send + Sync {
    /// The text as of now. Adapters may cache it; a new `Arc` means the text may have changed,
    /// the same `Arc` that it has not (callers cache what they parse from it on that basis).
    async fn current(&self) -> Result<Arc<str>, AppError>;
}
