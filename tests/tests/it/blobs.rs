//! Blob contract: put and get, and download links that work with a plain HTTP client and
//! expire. On the blob directory (served by the local server) and on S3 (moto).

use std::time::Duration;

use atelier_platform::blob::{BlobBody, BlobError};
use atelier_tests::{Backend, TestApp};
use bytes::Bytes;
use jiff::SignedDuration;

async fn put_and_get(app: TestApp) {
    let blobs = &app.platform.blobs;
    blobs
        .put("exports/s1/a.csv", BlobBody::Bytes(Bytes::from_static(b"id,name\n1,Ana\n")), "text/csv")
        .await
        .expect("put");
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), b"streamed from disk").expect("write");
    blobs
        .put("exports/s1/b.txt", BlobBody::File(file.path().to_owned()), "text/plain")
        .await
        .expect("put file");
    assert_eq!(blobs.get("exports/s1/a.csv").await.expect("get").as_deref(), Some(&b"id,name\n1,Ana\n"[..]));
    assert_eq!(
        blobs.get("exports/s1/b.txt").await.expect("get").as_deref(),
        Some(&b"streamed from disk"[..])
    );
    assert_eq!(blobs.get("exports/s1/none.csv").await.expect("get"), None);
    let bad = blobs.put("../escape", BlobBody::Bytes(Bytes::new()), "text/plain").await;
    assert!(matches!(bad, Err(BlobError::InvalidKey(_))));
}

async fn download_links_work_and_expire(app: TestApp) {
    let blobs = &app.platform.blobs;
    blobs
        .put("exports/s1/report.csv", BlobBody::Bytes(Bytes::from_static(b"a,b\n")), "text/csv")
        .await
        .expect("put");
    let url = blobs.presign_get("exports/s1/report.csv", Duration::from_secs(60)).await.expect("link");
    let response = reqwest::get(&url).await.expect("plain GET");
    assert_eq!(response.status(), 200, "{url}");
    assert_eq!(response.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("text/csv"));
    assert_eq!(response.bytes().await.expect("body").as_ref(), b"a,b\n");

    match app.backend {
        Backend::Embedded => {
            let tampered = url.replace("report.csv", "other.csv");
            assert_eq!(reqwest::get(&tampered).await.expect("GET").status(), 403);
            app.clock.advance(SignedDuration::from_secs(61));
            assert_eq!(reqwest::get(&url).await.expect("GET").status(), 403, "expired");
        }
        Backend::Aws => {
            // moto does not enforce expiry; S3 does, from the signed X-Amz-Expires.
            assert!(url.contains("X-Amz-Expires=60"), "{url}");
            assert!(url.contains("X-Amz-Signature="), "{url}");
        }
    }
    let capped =
        blobs.presign_get("exports/s1/report.csv", Duration::from_secs(7 * 24 * 3600)).await.expect("link");
    match app.backend {
        Backend::Aws => {
            assert!(capped.contains("X-Amz-Expires=3600"), "links never outlive an hour: {capped}")
        }
        Backend::Embedded => {
            let expires: i64 = capped
                .split("expires=")
                .nth(1)
                .and_then(|s| s.split('&').next())
                .and_then(|s| s.parse().ok())
                .expect("expires parameter");
            let now = atelier_platform::clock::Clock::now(app.clock.as_ref()).as_second();
            assert_eq!(expires - now, 3600, "links never outlive an hour");
        }
    }
}

atelier_tests::on_both_backends!(put_and_get, download_links_work_and_expire);
