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

/// Parts of S3's smallest size (the last one smaller), uploaded out of order and one of them
/// twice (a retried part), joined in order; an aborted upload leaves nothing.
async fn multipart_uploads_join_their_parts(app: TestApp) {
    let blobs = &app.platform.blobs;
    let key = "exports/s1/big.csv";
    let id = blobs.start_upload(key, "text/csv").await.expect("start");
    let part = |byte: u8, len: usize| Bytes::from(vec![byte; len]);
    let min = atelier_platform::blob::MIN_PART_SIZE;
    let second = blobs.upload_part(key, &id, 2, part(b'b', min)).await.expect("part 2");
    let _stale = blobs.upload_part(key, &id, 1, part(b'x', min)).await.expect("part 1, first try");
    let first = blobs.upload_part(key, &id, 1, part(b'a', min)).await.expect("part 1 again");
    let third = blobs.upload_part(key, &id, 3, part(b'c', 10)).await.expect("part 3");
    assert_eq!(blobs.get(key).await.expect("get"), None, "nothing before completion");
    blobs.complete_upload(key, &id, &[first, second, third]).await.expect("complete");
    let joined = blobs.get(key).await.expect("get").expect("object");
    assert_eq!(joined.len(), 2 * min + 10);
    assert!(joined[..min].iter().all(|b| *b == b'a') && joined[min..2 * min].iter().all(|b| *b == b'b'));
    assert_eq!(&joined[2 * min..], b"cccccccccc");

    let dropped = blobs.start_upload("exports/s1/dropped.csv", "text/csv").await.expect("start");
    blobs.upload_part("exports/s1/dropped.csv", &dropped, 1, part(b'z', 10)).await.expect("part");
    blobs.abort_upload("exports/s1/dropped.csv", &dropped).await.expect("abort");
    blobs.abort_upload("exports/s1/dropped.csv", &dropped).await.expect("aborting twice is harmless");
    assert_eq!(blobs.get("exports/s1/dropped.csv").await.expect("get"), None);
}

atelier_tests::on_both_backends!(
    put_and_get,
    download_links_work_and_expire,
    multipart_uploads_join_their_parts
);
