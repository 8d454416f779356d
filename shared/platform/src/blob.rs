//! The blob port: put objects (exports), hand out short-lived download links.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

/// What to upload: bytes in memory, or a file streamed from disk (large exports).
#[derive(Debug, Clone)]
pub enum BlobBody {
    /// In memory.
    Bytes(Bytes),
    /// Streamed from this file.
    File(PathBuf),
}

/// Why a blob call failed.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The key is not acceptable.
    #[error("invalid blob key: {0}")]
    InvalidKey(String),
    /// Reading the body failed.
    #[error("cannot read blob body: {0}")]
    Body(String),
    /// The blob store could not be reached or failed.
    #[error("blob store unavailable: {0}")]
    Unavailable(String),
}

/// What an adapter implements.
#[async_trait]
pub trait BlobBackend: Send + Sync + 'static {
    /// Stores an object, replacing any with the same key.
    async fn put(&self, key: &str, body: BlobBody, content_type: &str) -> Result<(), BlobError>;
    /// Reads an object.
    async fn get(&self, key: &str) -> Result<Option<Bytes>, BlobError>;
    /// A link anyone can GET until it expires.
    async fn presign_get(&self, key: &str, expires_in: Duration) -> Result<String, BlobError>;
}

/// Longest download link lifetime we hand out (S3 allows 7 days; we keep links short).
pub const MAX_LINK_LIFETIME: Duration = Duration::from_secs(3600);

/// The blob store every use case talks to.
#[derive(Clone)]
pub struct Blobs {
    backend: Arc<dyn BlobBackend>,
}

impl std::fmt::Debug for Blobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Blobs")
    }
}

impl Blobs {
    /// Blobs over `backend`.
    pub fn new(backend: Arc<dyn BlobBackend>) -> Blobs {
        Blobs { backend }
    }

    /// Stores an object.
    pub async fn put(&self, key: &str, body: BlobBody, content_type: &str) -> Result<(), BlobError> {
        validate_key(key)?;
        self.backend.put(key, body, content_type).await
    }

    /// Reads an object.
    pub async fn get(&self, key: &str) -> Result<Option<Bytes>, BlobError> {
        validate_key(key)?;
        self.backend.get(key).await
    }

    /// A download link valid for `expires_in` (at most [`MAX_LINK_LIFETIME`]).
    pub async fn presign_get(&self, key: &str, expires_in: Duration) -> Result<String, BlobError> {
        validate_key(key)?;
        self.backend.presign_get(key, expires_in.min(MAX_LINK_LIFETIME)).await
    }
}

/// Keys are relative paths of safe characters: they become S3 keys and local file names.
pub fn validate_key(key: &str) -> Result<(), BlobError> {
    let ok = !key.is_empty()
        && key.len() <= 512
        && !key.starts_with('/')
        && key.split('/').all(|part| !part.is_empty() && part != "." && part != "..")
        && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.'));
    if ok { Ok(()) } else { Err(BlobError::InvalidKey(key.to_owned())) }
}

#[cfg(test)]
mod tests {
    use super::validate_key;

    #[test]
    fn keys_are_safe_relative_paths() {
        assert!(validate_key("exports/s1/01H.csv").is_ok());
        for bad in ["", "/abs", "a/../b", "a//b", "a b", "a/./b", "ä"] {
            assert!(validate_key(bad).is_err(), "{bad}");
        }
    }
}
