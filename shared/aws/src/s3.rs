//! Blobs on S3, downloaded through presigned GET links.

use std::time::Duration;

use async_trait::async_trait;
use atelier_platform::blob::{BlobBackend, BlobBody, BlobError, UploadedPart};
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

    async fn start_upload(&self, key: &str, content_type: &str) -> Result<String, BlobError> {
        let out = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .send()
            .await
            .map_err(unavailable)?;
        out.upload_id.ok_or_else(|| BlobError::Unavailable("S3 gave no upload id".into()))
    }

    async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        number: i32,
        body: Bytes,
    ) -> Result<UploadedPart, BlobError> {
        let out = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(number)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(unavailable)?;
        let etag = out.e_tag.ok_or_else(|| BlobError::Unavailable("S3 gave no part tag".into()))?;
        Ok(UploadedPart { number, etag })
    }

    async fn complete_upload(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[UploadedPart],
    ) -> Result<(), BlobError> {
        use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
        let parts: Vec<CompletedPart> = parts
            .iter()
            .map(|p| CompletedPart::builder().part_number(p.number).e_tag(&p.etag).build())
            .collect();
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn abort_upload(&self, key: &str, upload_id: &str) -> Result<(), BlobError> {
        use aws_sdk_s3::operation::abort_multipart_upload::AbortMultipartUploadError;
        match self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // Already gone (completed, aborted, or expired by the bucket's rule): nothing to drop.
            Err(e) if matches!(e.as_service_error(), Some(AbortMultipartUploadError::NoSuchUpload(_))) => {
                Ok(())
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn size(&self, key: &str) -> Result<Option<u64>, BlobError> {
        use aws_sdk_s3::operation::head_object::HeadObjectError;
        match self.client.head_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => Ok(Some(out.content_length.and_then(|n| u64::try_from(n).ok()).unwrap_or(0))),
            Err(e) => match e.as_service_error() {
                Some(HeadObjectError::NotFound(_)) => Ok(None),
                _ => Err(unavailable(e)),
            },
        }
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
