//! The blob port: put objects (exports), upload large ones in parts that survive a restart,
//! hand out short-lived download links.

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

/// A part of a multipart upload, as the store acknowledged it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UploadedPart {
    /// 1-based position.
    pub number: i32,
    /// The store's tag for it, given back when the upload is completed.
    pub etag: String,
}

/// Smallest part S3 accepts, the last part excepted.
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;

/// What an adapter implements.
#[async_trait]
pub trait BlobBackend: Send + Sync + 'static {
    /// Starts a multipart upload; the object appears only when it is completed.
    async fn start_upload(&self, key: &str, content_type: &str) -> Result<String, BlobError>;
    /// Uploads part `number` (1-based) of an upload; uploading a number again replaces it.
    async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        number: i32,
        body: Bytes,
    ) -> Result<UploadedPart, BlobError>;
    /// Joins the parts, in order, into the object.
    async fn complete_upload(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[UploadedPart],
    ) -> Result<(), BlobError>;
    /// Drops an upload and its parts (a restarted export's).
    async fn abort_upload(&self, key: &str, upload_id: &str) -> Result<(), BlobError>;
    /// The size of an object, if there is one (without reading it).
    async fn size(&self, key: &str) -> Result<Option<u64>, BlobError>;
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

    /// Starts a multipart upload.
    pub async fn start_upload(&self, key: &str, content_type: &str) -> Result<String, BlobError> {
        validate_key(key)?;
        self.backend.start_upload(key, content_type).await
    }

    /// Uploads one part.
    pub async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        number: i32,
        body: Bytes,
    ) -> Result<UploadedPart, BlobError> {
        validate_key(key)?;
        self.backend.upload_part(key, upload_id, number, body).await
    }

    /// Completes a multipart upload.
    pub async fn complete_upload(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[UploadedPart],
    ) -> Result<(), BlobError> {
        validate_key(key)?;
        self.backend.complete_upload(key, upload_id, parts).await
    }

    /// Drops a multipart upload.
    pub async fn abort_upload(&self, key: &str, upload_id: &str) -> Result<(), BlobError> {
        validate_key(key)?;
        self.backend.abort_upload(key, upload_id).await
    }

    /// The size of an object, if there is one.
    pub async fn size(&self, key: &str) -> Result<Option<u64>, BlobError> {
        validate_key(key)?;
        self.backend.size(key).await
    }

    /// The adapter underneath (tests wrap it to inject faults).
    pub fn backend(&self) -> Arc<dyn BlobBackend> {
        self.backend.clone()
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
