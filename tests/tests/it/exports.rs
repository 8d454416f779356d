//! Exports end to end, on both adapters: an owner asks for a month of bookings as XLSX and as
//! CSV, the exports worker writes them in parts, the owner is told, downloads through the
//! link with a plain HTTP client, and independent readers (Python's `csv`, `openpyxl`) open
//! them; a run that crashes mid-file resumes and the file is whole; a message delivered twice
//! makes one file; an export that keeps failing fails, tells, and runs again on retry; other
//! studios, unfinished jobs and expired files are refused.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use atelier_platform::Platform;
use atelier_platform::blob::{BlobBackend, BlobBody, BlobError, Blobs, UploadedPart};
use atelier_platform::events::Event;
use atelier_platform::store::{Query, SortKey};
use atelier_platform::worker::Worker;
use atelier_reports::exports::worker::{ExportSettings, handlers_with};
use atelier_reports::exports::{ExportMessage, QUEUE, REQUESTED};
use atelier_tests::{Account, Backend, TestApp};
use bytes::Bytes;
use http::Method;
use serde_json::{Value, json};

use crate::bookings::{Salon, path, salon, send};

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_owned()
}

const CSV_READER: &str = r#"
import csv, io, json, sys
rows = list(csv.reader(io.StringIO(sys.stdin.buffer.read().decode("utf-8"), newline="")))
print(json.dumps(rows))
"#;

const XLSX_READER: &str = r#"
import json, sys, openpyxl
book = openpyxl.load_workbook(sys.argv[1], read_only=True)
sheet = book.worksheets[0]
print(json.dumps({"title": sheet.title, "rows": [list(r) for r in sheet.iter_rows(values_only=True)]}, default=str))
"#;

/// Reads a file with an independent reader (Python's standard `csv`, or `openpyxl`).
fn read_back(format: &str, bytes: &[u8]) -> Value {
    // openpyxl goes by the file name's extension.
    let file = tempfile::Builder::new().suffix(&format!(".{format}")).tempfile().expect("temp file");
    std::fs::write(file.path(), bytes).expect("write");
    let script = if format == "csv" { CSV_READER } else { XLSX_READER };
    let output = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(file.path())
        .stdin(std::fs::File::open(file.path()).expect("open"))
        .output()
        .expect("python3 runs (./infra/test installs openpyxl into .local/venv)");
    assert!(output.status.success(), "reader failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("reader output")
}

async fn ask(app: &TestApp, s: &Salon, who: &Account, body: Value) -> Value {
    let response = send(app, Method::POST, &path(&s.studio, "/exports"), who, Some(body)).await;
    assert_eq!(response.status, 202, "{}", String::from_utf8_lossy(&response.body));
    assert_eq!(
        response.header("location"),
        Some(format!("/v1/studios/{}/exports/{}", s.studio, id(&response.json())).as_str())
    );
    response.json()
}

async fn job(app: &TestApp, s: &Salon, export: &str) -> Value {
    let response =
        send(app, Method::GET, &path(&s.studio, &format!("/exports/{export}")), &s.owner, None).await;
    assert_eq!(response.status, 200, "{}", String::from_utf8_lossy(&response.body));
    response.json()
}

async fn download(app: &TestApp, s: &Salon, export: &str) -> Vec<u8> {
    let link =
        send(app, Method::GET, &path(&s.studio, &format!("/exports/{export}/download")), &s.owner, None)
            .await;
    assert_eq!(link.status, 200, "{}", String::from_utf8_lossy(&link.body));
    let url = link.json()["url"].as_str().expect("url").to_owned();
    let response = reqwest::get(&url).await.expect("plain GET of the link");
    assert_eq!(response.status(), 200, "{url}");
    response.bytes().await.expect("body").to_vec()
}

/// Topics of the notices in a user's inbox.
async fn topics(app: &TestApp, who: &Account) -> Vec<String> {
    let query =
        Query::partition(format!("USER#{}", who.user_id)).sort(SortKey::BeginsWith("NOTIFICATION#".into()));
    let items = app.platform.store.query_all(query, 1000).await.expect("inbox");
    items.iter().map(|i| i.string("topic").expect("topic").to_owned()).collect()
}

/// The exports worker of the app, run over the exports queue until it is empty.
async fn run_exports(app: &TestApp) -> usize {
    app.deliver(&QUEUE, &app.worker(&QUEUE)).await
}

fn message(s: &Salon, export: &str, hop: u32) -> Event {
    Event {
        id: format!("test-{export}-{hop}"),
        kind: REQUESTED.into(),
        studio_id: Some(s.studio.clone()),
        occurred_at: jiff::Timestamp::now(),
        trace: None,
        payload: serde_json::to_value(ExportMessage {
            studio_id: s.studio.as_str().into(),
            export_id: export.into(),
            hop,
        })
        .expect("json"),
    }
}

async fn a_month_of_bookings_as_xlsx_and_csv(app: TestApp) {
    let s = salon(&app, "exp-month").await;
    let ana = app.register("ana@exp-month.example").await;
    let mut first = s.booking("2026-06-02T10:00:00+01:00");
    first["notes"] = json!("=HYPERLINK(\"http://evil.example\")");
    let made = send(&app, Method::POST, &path(&s.studio, "/bookings"), &ana, Some(first)).await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    s.book_ok(&app, &ana, "2026-06-09T15:00:00+01:00").await;
    s.book_ok(&app, &ana, "2026-07-01T10:00:00+01:00").await;

    let xlsx = ask(
        &app,
        &s,
        &s.owner,
        json!({ "dataset": "bookings", "format": "xlsx", "from": "2026-06-01", "to": "2026-06-30" }),
    )
    .await;
    assert_eq!(xlsx["status"], "pending");
    let early = send(
        &app,
        Method::GET,
        &path(&s.studio, &format!("/exports/{}/download", id(&xlsx))),
        &s.owner,
        None,
    )
    .await;
    early.assert_problem(409, "export-not-ready");
    assert!(run_exports(&app).await >= 1);
    let done = job(&app, &s, &id(&xlsx)).await;
    assert_eq!((done["status"].as_str(), done["rows"].as_u64()), (Some("done"), Some(2)), "{done}");
    assert!(done["size_bytes"].as_u64().expect("size") > 0);
    let notices = topics(&app, &s.owner).await;
    assert!(notices.iter().any(|t| t == "export_finished"), "{notices:?}");

    let sheet = read_back("xlsx", &download(&app, &s, &id(&xlsx)).await);
    assert_eq!(sheet["title"], "bookings");
    let rows = sheet["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 3, "a header and June's two bookings: {rows:?}");
    let header: Vec<&str> = rows[0].as_array().expect("header").iter().filter_map(Value::as_str).collect();
    let at = |name: &str| header.iter().position(|h| *h == name).expect(name);
    assert_eq!(
        rows[1][at("start")],
        "2026-06-02T10:00:00+01:00",
        "times in the studio's zone with the offset"
    );
    assert_eq!(rows[1][at("price")], 40.0, "money as a number");
    assert_eq!(rows[1][at("currency")], "EUR");
    assert_eq!(rows[1][at("notes")], "'=HYPERLINK(\"http://evil.example\")", "formulas neutralised");

    let csv = ask(
        &app,
        &s,
        &s.owner,
        json!({ "dataset": "bookings", "format": "csv", "from": "2026-06-01", "to": "2026-06-30" }),
    )
    .await;
    run_exports(&app).await;
    let rows = read_back("csv", &download(&app, &s, &id(&csv)).await);
    let rows = rows.as_array().expect("rows");
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows[0][0], "id");
    assert_eq!(rows[1][at("price")], "40.00");
    assert_eq!(rows[2][at("start")], "2026-06-09T15:00:00+01:00");
    assert_eq!(rows[1][at("notes")], "'=HYPERLINK(\"http://evil.example\")");

    // Every dataset exports, CSV and XLSX alike.
    for dataset in ["clients", "payments", "products", "stock_movements", "projects", "audit"] {
        let asked = ask(&app, &s, &s.owner, json!({ "dataset": dataset, "format": "csv" })).await;
        run_exports(&app).await;
        let done = job(&app, &s, &id(&asked)).await;
        assert_eq!(done["status"], "done", "{dataset}: {done}");
        let rows = read_back("csv", &download(&app, &s, &id(&asked)).await);
        assert!(!rows.as_array().expect("rows").is_empty(), "{dataset} has its header");
    }
    let clients = ask(&app, &s, &s.owner, json!({ "dataset": "clients", "format": "xlsx" })).await;
    run_exports(&app).await;
    let sheet = read_back("xlsx", &download(&app, &s, &id(&clients)).await);
    assert!(
        sheet["rows"].as_array().expect("rows").iter().any(|r| r[2] == "ana@exp-month.example"),
        "{sheet}"
    );
    let listed = send(&app, Method::GET, &path(&s.studio, "/exports?limit=3"), &s.owner, None).await.json();
    assert_eq!(listed["items"].as_array().expect("items").len(), 3);
    assert_eq!(listed["items"][0]["id"], clients["id"], "newest first");
}

/// A blob store that fails one part upload, as a worker killed mid-export would stop.
struct FailingPart {
    inner: Arc<dyn BlobBackend>,
    fail_part: i32,
    failures_left: AtomicU32,
}

#[async_trait]
impl BlobBackend for FailingPart {
    async fn put(&self, key: &str, body: BlobBody, content_type: &str) -> Result<(), BlobError> {
        self.inner.put(key, body, content_type).await
    }
    async fn get(&self, key: &str) -> Result<Option<Bytes>, BlobError> {
        self.inner.get(key).await
    }
    async fn presign_get(&self, key: &str, expires_in: Duration) -> Result<String, BlobError> {
        self.inner.presign_get(key, expires_in).await
    }
    async fn start_upload(&self, key: &str, content_type: &str) -> Result<String, BlobError> {
        self.inner.start_upload(key, content_type).await
    }
    async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        number: i32,
        body: Bytes,
    ) -> Result<UploadedPart, BlobError> {
        if number == self.fail_part
            && self
                .failures_left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
        {
            return Err(BlobError::Unavailable("the worker was killed".into()));
        }
        self.inner.upload_part(key, upload_id, number, body).await
    }
    async fn complete_upload(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[UploadedPart],
    ) -> Result<(), BlobError> {
        self.inner.complete_upload(key, upload_id, parts).await
    }
    async fn abort_upload(&self, key: &str, upload_id: &str) -> Result<(), BlobError> {
        self.inner.abort_upload(key, upload_id).await
    }
    async fn size(&self, key: &str) -> Result<Option<u64>, BlobError> {
        self.inner.size(key).await
    }
}

fn failing(app: &TestApp, fail_part: i32, failures: u32) -> Platform {
    let mut platform = app.platform.clone();
    platform.blobs = Blobs::new(Arc::new(FailingPart {
        inner: app.platform.blobs.backend(),
        fail_part,
        failures_left: AtomicU32::new(failures),
    }));
    platform
}

fn small_parts() -> ExportSettings {
    ExportSettings {
        part_size: 1024,
        page_size: 4,
        time_budget: Duration::from_secs(600),
        max_hops: 100,
        max_attempts: 4,
        temp_dir: std::env::temp_dir(),
    }
}

async fn crashes_resume_and_duplicates_make_one_file(app: TestApp) {
    let s = salon(&app, "exp-crash").await;
    // Forty clients' records: enough rows for several 1 KiB parts.
    for i in 0..40 {
        let body = json!({ "name": format!("Client {i:02} with a long enough name to fill parts"), "email": format!("c{i}@exp-crash.example") });
        let made = send(&app, Method::POST, &path(&s.studio, "/clients"), &s.owner, Some(body)).await;
        assert_eq!(made.status, 201, "{:?}", made.body);
        if i % 30 == 29 {
            app.clock.advance(jiff::SignedDuration::from_secs(61));
        }
    }
    let asked = ask(&app, &s, &s.owner, json!({ "dataset": "clients", "format": "csv" })).await;
    let export = id(&asked);
    let crashing = failing(&app, 3, 1);
    let (handler_kind, handler) = handlers_with(&crashing, small_parts()).remove(0);
    assert_eq!(handler_kind, REQUESTED);
    assert!(handler.handle(&message(&s, &export, 0)).await.is_err(), "killed at the third part");
    let halfway = job(&app, &s, &export).await;
    assert_eq!(halfway["status"], "processing");
    assert!(halfway["rows"].as_u64().expect("rows") > 0, "two parts' rows are counted: {halfway}");
    // Redelivered: it goes on from the last part recorded.
    handler.handle(&message(&s, &export, 0)).await.expect("resumes");
    let done = job(&app, &s, &export).await;
    assert_eq!((done["status"].as_str(), done["rows"].as_u64()), (Some("done"), Some(40)), "{done}");
    let bytes = download(&app, &s, &export).await;
    let rows = read_back("csv", &bytes);
    let rows = rows.as_array().expect("rows");
    assert_eq!(rows.len(), 41, "the header once and every client once");
    let ids: std::collections::BTreeSet<&str> = rows[1..].iter().filter_map(|r| r[0].as_str()).collect();
    assert_eq!(ids.len(), 40);
    assert_eq!(done["size_bytes"].as_u64(), Some(bytes.len() as u64));

    // The same message again: nothing happens, the file and the job stay as they are.
    let before = job(&app, &s, &export).await;
    handler.handle(&message(&s, &export, 0)).await.expect("duplicate");
    assert_eq!(job(&app, &s, &export).await, before);
    assert_eq!(download(&app, &s, &export).await, bytes);

    // Out of time after every part: continuations carry it to the end through the queue.
    let continued = ask(&app, &s, &s.owner, json!({ "dataset": "clients", "format": "csv" })).await;
    let hurried = ExportSettings { time_budget: Duration::ZERO, ..small_parts() };
    let worker = Worker::new(
        QUEUE.as_str(),
        app.platform.store.clone(),
        app.platform.clock.clone(),
        Duration::from_secs(30),
    );
    let worker = handlers_with(&app.platform, hurried).into_iter().fold(worker, |w, (k, h)| w.on(k, h));
    let delivered = app.deliver(&QUEUE, &worker).await;
    assert!(delivered > 2, "one message per run: {delivered}");
    let done = job(&app, &s, &id(&continued)).await;
    assert_eq!((done["status"].as_str(), done["rows"].as_u64()), (Some("done"), Some(40)), "{done}");
    let rows = read_back("csv", &download(&app, &s, &id(&continued)).await);
    assert_eq!(rows.as_array().expect("rows").len(), 41);

    // An XLSX run killed while uploading starts again and ends whole.
    let sheet = ask(&app, &s, &s.owner, json!({ "dataset": "clients", "format": "xlsx" })).await;
    let crashing = failing(&app, 1, 1);
    let (_, handler) = handlers_with(&crashing, small_parts()).remove(0);
    assert!(handler.handle(&message(&s, &id(&sheet), 0)).await.is_err());
    handler.handle(&message(&s, &id(&sheet), 0)).await.expect("starts again");
    let read = read_back("xlsx", &download(&app, &s, &id(&sheet)).await);
    assert_eq!(read["rows"].as_array().expect("rows").len(), 41);

    // A workbook that does not fit one run fails and says what to do instead.
    let big = ask(&app, &s, &s.owner, json!({ "dataset": "clients", "format": "xlsx" })).await;
    let (_, handler) =
        handlers_with(&app.platform, ExportSettings { time_budget: Duration::ZERO, ..small_parts() })
            .remove(0);
    handler.handle(&message(&s, &id(&big), 0)).await.expect("fails cleanly");
    let failed = job(&app, &s, &id(&big)).await;
    assert_eq!(failed["status"], "failed");
    assert!(failed["error"].as_str().expect("error").contains("export CSV"), "{failed}");
}

async fn failures_retries_and_refusals(app: TestApp) {
    let s = salon(&app, "exp-fail").await;
    let other = salon(&app, "exp-fail-other").await;
    let asked = ask(&app, &s, &s.owner, json!({ "dataset": "bookings", "format": "csv" })).await;
    let export = id(&asked);
    // A store that never takes the first part: three runs fail (redelivered), the fourth marks
    // the job failed and says so, within the queue's five receives.
    let broken = failing(&app, 1, 100);
    let (_, handler) = handlers_with(&broken, small_parts()).remove(0);
    for _ in 0..3 {
        assert!(handler.handle(&message(&s, &export, 0)).await.is_err());
    }
    handler.handle(&message(&s, &export, 0)).await.expect("the fourth run gives up");
    let failed = job(&app, &s, &export).await;
    assert_eq!(failed["status"], "failed");
    assert!(failed["error"].as_str().expect("error").contains("4 attempts"), "{failed}");
    assert!(topics(&app, &s.owner).await.iter().any(|t| t == "export_finished"), "the failure is told");
    send(&app, Method::GET, &path(&s.studio, &format!("/exports/{export}/download")), &s.owner, None)
        .await
        .assert_problem(409, "export-not-ready");
    let retried =
        send(&app, Method::POST, &path(&s.studio, &format!("/exports/{export}/retry")), &s.owner, None).await;
    assert_eq!(retried.status, 202, "{:?}", retried.body);
    assert_eq!(retried.json()["status"], "pending");
    run_exports(&app).await;
    assert_eq!(job(&app, &s, &export).await["status"], "done");
    send(&app, Method::POST, &path(&s.studio, &format!("/exports/{export}/retry")), &s.owner, None)
        .await
        .assert_problem(409, "export-not-retryable");

    // Other studios see nothing of it; professionals may not export.
    send(&app, Method::GET, &path(&other.studio, &format!("/exports/{export}")), &other.owner, None)
        .await
        .assert_problem(404, "not-found");
    send(&app, Method::GET, &path(&s.studio, &format!("/exports/{export}")), &other.owner, None)
        .await
        .assert_problem(404, "not-found");
    send(&app, Method::GET, &path(&s.studio, &format!("/exports/{export}/download")), &other.owner, None)
        .await
        .assert_problem(404, "not-found");
    send(
        &app,
        Method::POST,
        &path(&s.studio, "/exports"),
        &s.pro,
        Some(json!({ "dataset": "clients", "format": "csv" })),
    )
    .await
    .assert_problem(403, "role-required");
    for bad in [
        json!({ "dataset": "clients", "format": "csv", "from": "2026-01-01", "to": "2027-06-01" }),
        json!({ "dataset": "clients", "format": "csv", "from": "2026-06-02", "to": "2026-06-01" }),
        json!({ "dataset": "clients", "format": "csv", "from": "1990-01-01" }),
    ] {
        send(&app, Method::POST, &path(&s.studio, "/exports"), &s.owner, Some(bad.clone()))
            .await
            .assert_problem(422, "validation-failed");
    }
    let unknown = send(
        &app,
        Method::POST,
        &path(&s.studio, "/exports"),
        &s.owner,
        Some(json!({ "dataset": "../../etc", "format": "csv" })),
    )
    .await;
    assert_eq!(unknown.status, 422, "{:?}", unknown.body);

    // At most five at once.
    for _ in 0..5 {
        ask(&app, &s, &s.owner, json!({ "dataset": "clients", "format": "csv" })).await;
    }
    send(
        &app,
        Method::POST,
        &path(&s.studio, "/exports"),
        &s.owner,
        Some(json!({ "dataset": "clients", "format": "csv" })),
    )
    .await
    .assert_problem(409, "too-many-exports");
    run_exports(&app).await;

    // Links are short-lived; files are kept a week.
    let link =
        send(&app, Method::GET, &path(&s.studio, &format!("/exports/{export}/download")), &s.owner, None)
            .await
            .json();
    let url = link["url"].as_str().expect("url").to_owned();
    if matches!(app.backend, Backend::Embedded) {
        app.clock.advance(jiff::SignedDuration::from_secs(301));
        assert_eq!(reqwest::get(&url).await.expect("GET").status(), 403, "an expired link is refused");
    } else {
        assert!(url.contains("X-Amz-Expires=300"), "{url}");
    }
    app.clock.advance(jiff::SignedDuration::from_hours(24 * 8));
    let owner = app.sign_in_again(&s.owner).await;
    send(&app, Method::GET, &path(&s.studio, &format!("/exports/{export}/download")), &owner, None)
        .await
        .assert_problem(410, "export-expired");
}

atelier_tests::on_both_backends!(
    a_month_of_bookings_as_xlsx_and_csv,
    crashes_resume_and_duplicates_make_one_file,
    failures_retries_and_refusals,
);
