//! What each endpoint group's typical request costs on AWS, measured for the cost model
//! (docs/performance.md "Cost per million requests", priced by `infra/bench/cost.py`): on the
//! AWS adapters against DynamoDB Local and moto, every AWS call counted and DynamoDB's consumed
//! units read back by `atelier_aws::Meter`, and the process's CPU time per request. The queue
//! work a request causes (the notices of a booking, an export's file) is measured with it.
//! Each scenario prints one `COST {json}` line; `ATELIER_COST_REPEAT` (default 3) sets how
//! many requests each is averaged over (the script asks for more, in an optimised build).

use atelier_aws::{Meter, Usage};
use atelier_reports::exports::QUEUE as EXPORTS;
use atelier_tests::{Account, TestApp, TestResponse};
use http::Method;
use serde_json::{Value, json};

use crate::bookings::{Salon, path, salon, send};

/// CPU time of this process so far, in nanoseconds (`CLOCK_PROCESS_CPUTIME_ID`: every thread,
/// up to the moment; the emulators are other processes, so their work is not counted).
fn cpu_ns() -> u64 {
    let time = cpu_time::ProcessTime::try_now().expect("the process's CPU time").as_duration();
    u64::try_from(time.as_nanos()).unwrap_or(u64::MAX)
}

/// One scenario's measurement, per request.
struct Measured {
    cpu_us: f64,
    usage: Usage,
    repeat: usize,
}

impl Measured {
    fn reads(&self) -> f64 {
        self.usage.read_units / self.repeat as f64
    }

    fn writes(&self) -> f64 {
        self.usage.write_units / self.repeat as f64
    }

    fn calls(&self, name: &str) -> f64 {
        self.usage.calls.get(name).copied().unwrap_or(0) as f64 / self.repeat as f64
    }

    /// A run over `requests`' worth of work (a worker's drain) as a cost per request.
    fn spread_over(self, requests: usize) -> Measured {
        Measured { cpu_us: self.cpu_us / requests as f64, usage: self.usage, repeat: requests }
    }

    fn print(&self, scenario: &str, function: &str) {
        let calls: serde_json::Map<String, Value> = self
            .usage
            .calls
            .iter()
            .map(|(name, n)| (name.clone(), json!(*n as f64 / self.repeat as f64)))
            .collect();
        let line = json!({
            "scenario": scenario, "function": function, "repeat": self.repeat,
            "cpu_us": self.cpu_us, "read_units": self.reads(), "write_units": self.writes(), "calls": calls,
        });
        println!("COST {line}");
    }
}

/// Runs `request(i)` for `i` in `0..repeat` and measures the lot.
async fn measure<F, Fut>(meter: &Meter, repeat: usize, mut request: F) -> Measured
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = ()>,
{
    meter.take();
    let before = cpu_ns();
    for i in 0..repeat {
        request(i).await;
    }
    let cpu_us = (cpu_ns() - before) as f64 / 1000.0 / repeat as f64;
    Measured { cpu_us, usage: meter.take(), repeat }
}

/// Lets a minute pass on the app's clock: each scenario starts with the callers' rate limits
/// (100 requests a minute) unspent.
fn next_minute(app: &TestApp) {
    app.clock.advance(jiff::SignedDuration::from_secs(61));
}

#[track_caller]
fn ok(response: &TestResponse, status: u16) {
    assert_eq!(response.status, status, "{}", String::from_utf8_lossy(&response.body));
}

/// The `i`th booking's start: a different day or hour each, all in June 2026, two hours apart
/// (an hour's cut and its buffer never overlap the next).
fn start_of(i: usize) -> String {
    format!("2026-06-{:02}T{:02}:00:00+01:00", 1 + i % 30, 9 + 2 * (i / 30))
}

#[tokio::test(flavor = "current_thread")]
async fn cost_of_each_endpoint_groups_typical_request() {
    let repeat: usize = std::env::var("ATELIER_COST_REPEAT").ok().and_then(|r| r.parse().ok()).unwrap_or(3);
    assert!(
        (1..=90).contains(&repeat),
        "ATELIER_COST_REPEAT is 1..=90 (callers may make 100 requests a minute)"
    );
    let meter = Meter::new();
    let app = &TestApp::aws_metered(&meter).await;
    let s: &Salon = &salon(app, "cost").await;
    let client: &Account = &app.register("ana@cost.example").await;
    let owner = &s.owner;
    let slots =
        &format!("/v1/public/studios/{}/slots?service_id={}&from=2026-06-01&to=2026-06-30", s.studio, s.cut);

    let health =
        measure(
            &meter,
            repeat,
            |_| async move { ok(&app.request(Method::GET, "/v1/health").send().await, 200) },
        )
        .await;
    health.print("GET /v1/health", "Health");
    assert_eq!(health.usage.calls.values().sum::<usize>(), 0, "health reads nothing: {:?}", health.usage);

    let login = measure(&meter, repeat, |i| async move {
        // From a different address each time: sign-ins are rate limited per address.
        let credentials = json!({ "email": client.email, "password": atelier_tests::PASSWORD });
        let request =
            app.request(Method::POST, "/v1/auth/login").header("x-forwarded-for", &format!("198.51.100.{i}"));
        ok(&request.json(&credentials).send().await, 200);
    })
    .await;
    login.print("POST /v1/auth/login (Argon2id, 64 MiB, 3 iterations)", "Auth");

    next_minute(app);
    let studio = measure(&meter, repeat, |_| async move {
        ok(&send(app, Method::GET, &path(&s.studio, ""), owner, None).await, 200);
    })
    .await;
    studio.print("GET /v1/studios/{id}", "Studios");

    let free =
        measure(&meter, repeat, |_| async move { ok(&app.request(Method::GET, slots).send().await, 200) })
            .await;
    free.print("GET public slots (a month, one professional)", "Bookings");
    assert!(free.reads() > 0.0, "DynamoDB Local reports consumed capacity: {:?}", free.usage);
    assert_eq!(free.writes(), 0.0, "{:?}", free.usage);
    assert_eq!(free.calls("sqs.SendMessage"), 0.0);
    let etag = &app.request(Method::GET, slots).send().await.header("etag").expect("etag").to_owned();
    let revalidated = measure(&meter, repeat, |_| async move {
        ok(&app.request(Method::GET, slots).header("if-none-match", etag).send().await, 304);
    })
    .await;
    revalidated.print("GET public slots, revalidated (304)", "Bookings");
    assert_eq!(revalidated.usage, free.usage, "a 304 reads what the answer reads, no more");

    // A booking, then the notices it causes (the notifications worker: emails, inbox).
    let mut booked = Vec::new();
    next_minute(app);
    let book =
        measure(&meter, repeat, |i| async move { ok(&s.book(app, client, &start_of(i)).await, 201) }).await;
    book.print("POST booking", "Bookings");
    assert_eq!(book.calls("dynamodb.TransactWriteItems"), 1.0, "{:?}", book.usage);
    assert!(book.writes() > 0.0, "{:?}", book.usage);
    let mine = send(app, Method::GET, "/v1/me/bookings?limit=100", client, None).await;
    ok(&mine, 200);
    booked.extend(
        mine.json()["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|b| b["id"].as_str().expect("id").to_owned()),
    );
    assert_eq!(booked.len(), repeat, "every booking was made");
    let notices = measure(&meter, 1, |_| async move { while app.run_workers().await > 0 {} }).await;
    let per_booking = notices.spread_over(repeat);
    per_booking.print("booking.created: notices (worker, per booking)", "NotificationsWorker");
    assert!(
        per_booking.calls("sesv2.SendEmail") >= 1.0,
        "a confirmation email per booking: {:?}",
        per_booking.usage
    );

    next_minute(app);
    let list = measure(&meter, repeat, |_| async move {
        ok(&send(app, Method::GET, &path(&s.studio, "/bookings"), owner, None).await, 200);
    })
    .await;
    list.print("GET /v1/studios/{id}/bookings (a page)", "Bookings");

    let booked = &booked;
    next_minute(app);
    let cancel = measure(&meter, repeat, |i| async move {
        ok(&s.act(app, client, &booked[i], "cancel", Some(json!({}))).await, 200);
    })
    .await;
    cancel.print("POST booking cancel", "Bookings");
    let cancel_notices = measure(&meter, 1, |_| async move { while app.run_workers().await > 0 {} }).await;
    cancel_notices
        .spread_over(repeat)
        .print("booking.cancelled: notices (worker, per cancellation)", "NotificationsWorker");

    next_minute(app);
    let inbox = measure(&meter, repeat, |_| async move {
        ok(&send(app, Method::GET, "/v1/me/notifications", client, None).await, 200);
    })
    .await;
    inbox.print("GET /v1/me/notifications", "Notifications");

    for (scenario, function, rest) in [
        ("GET /v1/studios/{id}/payments", "Payments", "/payments"),
        ("GET /v1/studios/{id}/products", "Inventory", "/products"),
        ("GET /v1/studios/{id}/projects", "Projects", "/projects"),
        ("GET /v1/studios/{id}/dashboard", "Reports", "/dashboard"),
    ] {
        next_minute(app);
        let measured = measure(&meter, repeat, |_| async move {
            ok(&send(app, Method::GET, &path(&s.studio, rest), owner, None).await, 200);
        })
        .await;
        measured.print(scenario, function);
    }

    // An export: the request, then the worker that writes the file to S3 (at most five exports
    // of a studio wait at once).
    next_minute(app);
    let exports = repeat.min(5);
    let export = measure(&meter, exports, |_| async move {
        let body = json!({ "dataset": "bookings", "format": "csv" });
        ok(&send(app, Method::POST, &path(&s.studio, "/exports"), owner, Some(body)).await, 202);
    })
    .await;
    export.print("POST /v1/studios/{id}/exports", "Reports");
    let files =
        measure(
            &meter,
            1,
            |_| async move { while app.deliver(&EXPORTS, &app.worker(&EXPORTS)).await > 0 {} },
        )
        .await;
    let per_export = files.spread_over(exports);
    per_export.print("export.requested: the file (worker, per export)", "ExportsWorker");
    assert!(
        per_export.calls("s3.PutObject") + per_export.calls("s3.CompleteMultipartUpload") >= 1.0,
        "{:?}",
        per_export.usage
    );

    let everything = [&health, &login, &studio, &free, &book, &list, &cancel, &inbox, &export];
    for m in everything {
        assert_eq!(m.calls("dynamodb.Scan"), 0.0, "nothing scans: {:?}", m.usage);
    }
}
