//! Blobs in a directory, with download links signed by an HMAC that the local server checks:
//! the same contract as S3 presigned GETs (anyone with the link, until it expires).

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use atelier_platform::blob::{BlobBackend, BlobBody, BlobError, UploadedPart, validate_key};
use atelier_platform::clock::Clock;
use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// Path under the local server where links point.
pub const LINK_PREFIX: &str = "/local-blobs/";

/// Why a link was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LinkError {
    /// Signature does not match (tampered, or from another process).
    #[error("bad signature")]
    BadSignature,
    /// The link's time is up.
    #[error("link expired")]
    Expired,
    /// Nothing stored under the key.
    #[error("no such blob")]
    NotFound,
}

/// The embedded blob store.
pub struct EmbeddedBlobs {
    dir: PathBuf,
    secret: [u8; 32],
    base_url: RwLock<String>,
    clock: Arc<dyn Clock>,
}

fn io(e: std::io::Error) -> BlobError {
    BlobError::Unavailable(e.to_string())
}

impl EmbeddedBlobs {
    pub(crate) fn open(dir: &Path, clock: Arc<dyn Clock>) -> Result<EmbeddedBlobs, BlobError> {
        std::fs::create_dir_all(dir.join("objects")).map_err(io)?;
        std::fs::create_dir_all(dir.join("meta")).map_err(io)?;
        std::fs::create_dir_all(dir.join("tmp")).map_err(io)?;
        std::fs::create_dir_all(dir.join("uploads")).map_err(io)?;
        let mut secret = [0u8; 32];
        // A fresh key per process: links are short-lived and die with the server.
        getrandom::fill(&mut secret).map_err(|e| BlobError::Unavailable(e.to_string()))?;
        Ok(EmbeddedBlobs {
            dir: dir.to_owned(),
            secret,
            base_url: RwLock::new("http://127.0.0.1".into()),
            clock,
        })
    }

    /// Sets the server address links start with (known once the server has bound its port).
    pub fn set_base_url(&self, url: &str) {
        *self.base_url.write().unwrap_or_else(|e| e.into_inner()) = url.trim_end_matches('/').to_owned();
    }

    fn mac(&self, key: &str, expires: i64) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes any key length");
        mac.update(key.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        mac
    }

    fn signature(&self, key: &str, expires: i64) -> String {
        hex(&self.mac(key, expires).finalize().into_bytes())
    }

    /// Checks a link's signature and expiry; returns the file and its content type.
    pub fn open_link(
        &self,
        key: &str,
        expires: i64,
        signature: &str,
    ) -> Result<(PathBuf, String), LinkError> {
        if validate_key(key).is_err() {
            return Err(LinkError::NotFound);
        }
        let provided = unhex(signature).ok_or(LinkError::BadSignature)?;
        // verify_slice compares in constant time.
        self.mac(key, expires).verify_slice(&provided).map_err(|_| LinkError::BadSignature)?;
        if self.clock.now().as_second() >= expires {
            return Err(LinkError::Expired);
        }
        let path = self.dir.join("objects").join(key);
        if !path.is_file() {
            return Err(LinkError::NotFound);
        }
        let content_type = std::fs::read_to_string(self.dir.join("meta").join(key))
            .unwrap_or_else(|_| "application/octet-stream".into());
        Ok((path, content_type))
    }
}

impl EmbeddedBlobs {
    /// The directory of an upload of `key`, if it exists and is that key's.
    async fn upload_dir(&self, key: &str, upload_id: &str) -> Result<PathBuf, BlobError> {
        validate_key(key)?;
        if upload_id.is_empty() || !upload_id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(BlobError::InvalidKey(upload_id.to_owned()));
        }
        let dir = self.dir.join("uploads").join(upload_id);
        let meta = tokio::fs::read_to_string(dir.join("meta"))
            .await
            .map_err(|_| BlobError::Body(format!("no upload {upload_id}")))?;
        if meta.split('\n').next() != Some(key) {
            return Err(BlobError::Body(format!("upload {upload_id} is not of {key}")));
        }
        Ok(dir)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

/// Writes `bytes` to `target` so a crash leaves either the old file or the new one.
async fn write_atomically(tmp_dir: &Path, target: &Path, bytes: &[u8]) -> Result<(), BlobError> {
    if let Some(parent) = target.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(io)?;
    }
    let tmp = tmp_dir.join(ulid::Ulid::generate().to_string());
    let file_bytes = bytes.to_vec();
    let tmp_clone = tmp.clone();
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        use std::io::Write;
        let mut file = std::fs::File::create(&tmp_clone)?;
        file.write_all(&file_bytes)?;
        file.sync_all()
    })
    .await
    .map_err(|e| BlobError::Unavailable(e.to_string()))?
    .map_err(io)?;
    tokio::fs::rename(&tmp, target).await.map_err(io)
}

#[async_trait]
impl BlobBackend for EmbeddedBlobs {
    async fn put(&self, key: &str, body: BlobBody, content_type: &str) -> Result<(), BlobError> {
        validate_key(key)?;
        let bytes = match body {
            BlobBody::Bytes(b) => b.to_vec(),
            BlobBody::File(path) => {
                tokio::fs::read(&path).await.map_err(|e| BlobError::Body(e.to_string()))?
            }
        };
        let tmp = self.dir.join("tmp");
        write_atomically(&tmp, &self.dir.join("meta").join(key), content_type.as_bytes()).await?;
        write_atomically(&tmp, &self.dir.join("objects").join(key), &bytes).await
    }

    async fn start_upload(&self, key: &str, content_type: &str) -> Result<String, BlobError> {
        validate_key(key)?;
        let id = ulid::Ulid::generate().to_string();
        let dir = self.dir.join("uploads").join(&id);
        tokio::fs::create_dir_all(&dir).await.map_err(io)?;
        write_atomically(
            &self.dir.join("tmp"),
            &dir.join("meta"),
            format!("{key}\n{content_type}").as_bytes(),
        )
        .await?;
        Ok(id)
    }

    async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        number: i32,
        body: Bytes,
    ) -> Result<UploadedPart, BlobError> {
        let dir = self.upload_dir(key, upload_id).await?;
        if !(1..=10_000).contains(&number) {
            return Err(BlobError::InvalidKey(format!("part {number}")));
        }
        let etag = hex(&Sha256::digest(&body));
        write_atomically(&self.dir.join("tmp"), &dir.join(format!("{number:05}")), &body).await?;
        Ok(UploadedPart { number, etag })
    }

    async fn complete_upload(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[UploadedPart],
    ) -> Result<(), BlobError> {
        let dir = self.upload_dir(key, upload_id).await?;
        let meta = tokio::fs::read_to_string(dir.join("meta")).await.map_err(io)?;
        let content_type = meta.split_once('\n').map_or("application/octet-stream", |(_, c)| c).to_owned();
        let target = self.dir.join("objects").join(key);
        let tmp = self.dir.join("tmp").join(ulid::Ulid::generate().to_string());
        let (parts, tmp_clone, dir_clone) = (parts.to_vec(), tmp.clone(), dir.clone());
        // Parts are copied one at a time from disk: memory stays flat whatever the size.
        tokio::task::spawn_blocking(move || -> Result<(), BlobError> {
            use std::io::Write;
            let mut out = std::fs::File::create(&tmp_clone).map_err(io)?;
            for (i, part) in parts.iter().enumerate() {
                if usize::try_from(part.number).ok() != Some(i + 1) {
                    return Err(BlobError::Body(format!(
                        "parts must be numbered 1.. in order, got {}",
                        part.number
                    )));
                }
                let path = dir_clone.join(format!("{:05}", part.number));
                let bytes = std::fs::read(&path)
                    .map_err(|e| BlobError::Body(format!("part {}: {e}", part.number)))?;
                if hex(&Sha256::digest(&bytes)) != part.etag {
                    return Err(BlobError::Body(format!("part {} does not match its tag", part.number)));
                }
                out.write_all(&bytes).map_err(io)?;
            }
            out.sync_all().map_err(io)
        })
        .await
        .map_err(|e| BlobError::Unavailable(e.to_string()))??;
        if let Some(parent) = target.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(io)?;
        }
        write_atomically(&self.dir.join("tmp"), &self.dir.join("meta").join(key), content_type.as_bytes())
            .await?;
        tokio::fs::rename(&tmp, &target).await.map_err(io)?;
        tokio::fs::remove_dir_all(&dir).await.map_err(io)
    }

    async fn abort_upload(&self, key: &str, upload_id: &str) -> Result<(), BlobError> {
        match self.upload_dir(key, upload_id).await {
            Ok(dir) => tokio::fs::remove_dir_all(&dir).await.map_err(io),
            Err(_) => Ok(()),
        }
    }

    async fn size(&self, key: &str) -> Result<Option<u64>, BlobError> {
        validate_key(key)?;
        match tokio::fs::metadata(self.dir.join("objects").join(key)).await {
            Ok(meta) => Ok(Some(meta.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e)),
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, BlobError> {
        validate_key(key)?;
        match tokio::fs::read(self.dir.join("objects").join(key)).await {
            Ok(bytes) => Ok(Some(Bytes::from(bytes))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e)),
        }
    }

    async fn presign_get(&self, key: &str, expires_in: Duration) -> Result<String, BlobError> {
        validate_key(key)?;
        let expires = self.clock.now().as_second() + i64::try_from(expires_in.as_secs()).unwrap_or(0);
        let base = self.base_url.read().unwrap_or_else(|e| e.into_inner()).clone();
        Ok(format!("{base}{LINK_PREFIX}{key}?expires={expires}&signature={}", self.signature(key, expires)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use atelier_platform::clock::ManualClock;

    #[tokio::test]
    async fn links_are_signed_and_expire() {
        let dir = tempfile::tempdir().expect("temp dir");
        let clock = Arc::new(ManualClock::new(jiff::Timestamp::from_second(1_000).expect("valid")));
        let blobs = EmbeddedBlobs::open(dir.path(), clock.clone()).expect("opens");
        blobs.put("a/b.csv", BlobBody::Bytes(Bytes::from_static(b"x,y")), "text/csv").await.expect("puts");
        let url = blobs.presign_get("a/b.csv", Duration::from_secs(60)).await.expect("signs");
        let signature = url.rsplit("signature=").next().expect("has signature");
        let (path, content_type) = blobs.open_link("a/b.csv", 1_060, signature).expect("valid link");
        assert_eq!(std::fs::read(path).expect("reads"), b"x,y");
        assert_eq!(content_type, "text/csv");
        assert_eq!(blobs.open_link("a/b.csv", 1_061, signature), Err(LinkError::BadSignature));
        assert_eq!(blobs.open_link("a/c.csv", 1_060, signature), Err(LinkError::BadSignature));
        clock.set(jiff::Timestamp::from_second(1_060).expect("valid"));
        assert_eq!(blobs.open_link("a/b.csv", 1_060, signature), Err(LinkError::Expired));
    }
}
