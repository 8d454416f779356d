//! Blobs on S3, downloaded through presigned GET links.

use std::time::Duration;

use async_trait::async_trait;
use atelier_platform::blob::{BlobBackend, BlobBody, BlobError};
use aws_sdk_s3::Client;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;

/// One bucket.
#[derive(Clone, Debug)]
pub struct S3Blobs {
    client: Client,
    bucket: String,
}

impl S3Blobs {
    /// Blobs in `bucket`.
    pub fn new(client: Client, bucket: impl Into<String>) -> S3Blobs {
        S3Blobs { client, bucket: bucket.into() }
    }
}

fn unavailable<E: std::error::Error>(e: E) -> BlobError {
    BlobError::Unavailable(DisplayErrorContext(e).to_string())
}

#[async_trait]
impl BlobBackend for S3Blobs {
    async fn put(&self, key: &str, body: BlobBody, content_type: &str) -> Result<(), BlobError> {
        let stream = match body {
            BlobBody::Bytes(b) => ByteStream::from(b),
            // Streams from disk: a large export never sits in memory whole.
            BlobBody::File(path) => {
                ByteStream::from_path(&path).await.map_err(|e| BlobError::Body(e.to_string()))?
            }
        };
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(stream)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, BlobError> {
        use aws_sdk_s3::operation::get_object::GetObjectError;
        match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => {
                let data = out.body.collect().await.map_err(|e| BlobError::Unavailable(e.to_string()))?;
                Ok(Some(data.into_bytes()))
            }
            Err(e) => match e.as_service_error() {
                Some(GetObjectError::NoSuchKey(_)) => Ok(None),
                _ => Err(unavailable(e)),
            },
        }
    }

    async fn presign_get(&self, key: &str, expires_in: Duration) -> Result<String, BlobError> {
        let config =
            PresigningConfig::expires_in(expires_in).map_err(|e| BlobError::Unavailable(e.to_string()))?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(config)
            .await
            .map_err(unavailable)?;
        Ok(request.uri().to_owned())
    }
}
