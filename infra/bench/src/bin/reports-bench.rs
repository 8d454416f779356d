//! Reports and exports in-process on the embedded store.
//!
//! - `reports-bench export <rows> <csv|xlsx>`: seeds `rows` bookings over 2026 (one real
//!   booking made through the router, copied with new ids and starts, written 100 to a
//!   transaction), reads them all once (so the store's page cache is warm and counted in the
//!   baseline), then runs the exports worker over a year's export: rows per second, and the
//!   process's peak RSS before and after the export (`VmHWM`), so what the export itself holds
//!   is the difference.
//! - `reports-bench seed <rows>`, then `reports-bench run-export <studio> <owner> <csv|xlsx>`:
//!   the same in two processes, so the second holds only the export (with `ATELIER_BACKEND=aws`
//!   and `./infra/aws-stack`'s environment: what a worker on Lambda holds).
//! - `reports-bench dashboard <rows>`: seeds `rows` bookings in June 2026, builds their tallies
//!   (the rebuild command, as if every booking had been made through the API), then asks for
//!   June's dashboard 1000 times: latency percentiles and the counter items read per request.
//!
//! Build with `--release`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use atelier_bench::{bench_keys, call, embedded_platform, json_request as json, summarise};
use atelier_identity::{AuthSettings, HashCost, PasswordHasher, RateLimits};
use atelier_local::{LocalApp, LocalOptions};
use atelier_platform::Platform;
use atelier_platform::store::WriteOp;
use atelier_reports::exports::worker::{ExportSettings, handlers_with};
use atelier_reports::exports::{ExportMessage, REQUESTED};
use serde_json::json;

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

/// A studio with one professional and one service, and `rows` bookings starting from `from`,
/// `spacing` apart: its id, the owner's token, the router.
async fn seed(
    platform: &Platform,
    router: &axum::Router,
    rows: usize,
    from: jiff::Timestamp,
    spacing: jiff::SignedDuration,
) -> (String, String) {
    let unique = platform.ids.new_id().to_lowercase();
    let (token, user) =
        atelier_bench::register(router, &format!("owner-{unique}@reports.bench"), "Owner").await;
    let studio = json!({ "name": "Bench", "slug": format!("bench-{unique}"), "time_zone": "Europe/Lisbon", "currency": "EUR" });
    let (status, body) = call(router, json("POST", "/v1/studios", &token, studio)).await;
    assert_eq!(status, 201, "{body}");
    let studio = body["id"].as_str().expect("id").to_owned();
    let base = format!("/v1/studios/{studio}");
    let profile = json!({ "display_name": "Owner", "commission_bps": 4000 });
    let (status, body) =
        call(router, json("PUT", &format!("{base}/professionals/{user}"), &token, profile)).await;
    assert_eq!(status, 200, "{body}");
    let days = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
    let ranges: Vec<_> = days.iter().map(|d| json!({ "day": d, "start": "00:00", "end": "23:55" })).collect();
    let (status, body) = call(
        router,
        json(
            "PUT",
            &format!("{base}/professionals/{user}/availability"),
            &token,
            json!({ "ranges": ranges }),
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let service = json!({ "name": "Cut", "category": "hair", "duration_minutes": 30, "price_minor": 4000, "professional_ids": [user] });
    let (status, body) = call(router, json("POST", &format!("{base}/services"), &token, service)).await;
    assert_eq!(status, 201, "{body}");
    let service = body["id"].as_str().expect("id").to_owned();
    let patch = json!({ "settings": { "horizon_days": 365 } });
    let (status, body) = call(router, json("PATCH", &base, &token, patch)).await;
    assert_eq!(status, 200, "{body}");
    let booking = json!({ "service_id": service, "professional_id": user, "start": "2026-12-01T10:00:00Z", "notes": "=1+1" });
    let (status, body) = call(router, json("POST", &format!("{base}/bookings"), &token, booking)).await;
    assert_eq!(status, 201, "{body}");
    let key =
        atelier_bookings::booking_key(&studio.as_str().into(), &body["id"].as_str().expect("id").into());
    let template: atelier_bookings::Booking =
        platform.store.get(&key).await.expect("read").expect("booking").to_record().expect("record");
    let started = Instant::now();
    let mut ops = Vec::with_capacity(100);
    for i in 0..rows {
        let mut b = template.clone();
        b.id = platform.ids.new_id().into();
        b.start = from + spacing * i32::try_from(i).expect("rows");
        b.end = b.start + jiff::SignedDuration::from_mins(30);
        b.status = if i % 10 == 0 {
            atelier_domain::bookings::BookingStatus::Cancelled
        } else {
            atelier_domain::bookings::BookingStatus::Completed
        };
        b.first_visit = i % 7 == 0;
        ops.push(WriteOp::put(b.to_item().expect("item")));
        if ops.len() == 100 {
            platform.store.transact(std::mem::take(&mut ops)).await.expect("seed");
        }
    }
    if !ops.is_empty() {
        platform.store.transact(ops).await.expect("seed");
    }
    eprintln!("seeded {rows} bookings in {:.1} s", started.elapsed().as_secs_f64());
    (studio, token)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let what = args.first().map(String::as_str).unwrap_or("export");
    let rows: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let options = LocalOptions::from_env().expect("options");
    // `ATELIER_BACKEND=aws` (with ./infra/aws-stack's environment): DynamoDB Local and moto's S3,
    // so the process holds only what the worker holds, as on Lambda.
    let aws = options.backend == atelier_local::Backend::Aws;
    let (platform, router) = if aws {
        let host = atelier_local::open(
            &options,
            Arc::new(atelier_platform::clock::SystemClock),
            Arc::new(atelier_platform::ids::UlidGenerator),
            |auth| {
                auth.limits =
                    RateLimits { api_per_caller: u32::MAX, register_per_ip: u32::MAX, ..auth.limits };
            },
        )
        .await
        .expect("AWS host");
        (host.platform().clone(), host.router().clone())
    } else {
        let (parts, platform) = embedded_platform(dir.path());
        let mut auth = AuthSettings::new(bench_keys(), PasswordHasher::new(HashCost::FLOOR).expect("hasher"));
        auth.limits = RateLimits { api_per_caller: u32::MAX, ..auth.limits };
        let app = LocalApp::assemble(platform.clone(), parts, options.http.clone(), Arc::new(auth));
        (platform, app.router.clone())
    };
    match what {
        "export" => {
            let format = args.get(2).map(String::as_str).unwrap_or("csv");
            let year: jiff::Timestamp = "2026-01-01T08:00:00Z".parse().expect("instant");
            let spacing = jiff::SignedDuration::from_secs(364 * 86_400 / i64::try_from(rows).expect("rows"));
            let (studio, token) = seed(&platform, &router, rows, year, spacing).await;
            if !aws {
                // Every booking read once: the embedded store's page cache is as warm as it will
                // get, so the difference below is the export's own.
                let all = atelier_platform::store::Query::partition(atelier_bookings::studio_bookings(
                    &studio.as_str().into(),
                ))
                .on(atelier_platform::store::Index::Gsi1);
                let read = platform.store.query_all(all, rows + 10).await.expect("read").len();
                eprintln!("read {read} bookings once to warm the store's cache");
            }
            let baseline = peak_rss_mib();
            let asked =
                json!({ "dataset": "bookings", "format": format, "from": "2026-01-01", "to": "2026-12-31" });
            let (status, body) =
                call(&router, json("POST", &format!("/v1/studios/{studio}/exports"), &token, asked)).await;
            assert_eq!(status, 202, "{body}");
            let export = body["id"].as_str().expect("id").to_owned();
            let settings = ExportSettings {
                time_budget: Duration::from_secs(3600),
                ..ExportSettings::for_lease(Duration::from_secs(180))
            };
            let (_, handler) = handlers_with(&platform, settings).remove(0);
            let event = atelier_platform::events::Event {
                trace: None,
                id: "bench".into(),
                kind: REQUESTED.into(),
                studio_id: Some(studio.clone()),
                occurred_at: jiff::Timestamp::now(),
                payload: serde_json::to_value(ExportMessage {
                    studio_id: studio.as_str().into(),
                    export_id: export.as_str().into(),
                    hop: 0,
                })
                .expect("json"),
            };
            let started = Instant::now();
            handler.handle(&event).await.expect("export");
            let took = started.elapsed().as_secs_f64();
            let (_, job) = call(
                &router,
                json(
                    "GET",
                    &format!("/v1/studios/{studio}/exports/{export}"),
                    &token,
                    serde_json::Value::Null,
                ),
            )
            .await;
            assert_eq!(job["status"], "done", "{job}");
            let written = job["rows"].as_u64().expect("rows");
            println!(
                "{format}: {written} rows, {} bytes in {took:.2} s = {:.0} rows/s; peak RSS {baseline:.1} MiB before the export, {:.1} MiB after",
                job["size_bytes"],
                written as f64 / took,
                peak_rss_mib()
            );
        }
        "seed" => {
            // Seeds and prints the studio and its owner, for `run-export` in a fresh process.
            let year: jiff::Timestamp = "2026-01-01T08:00:00Z".parse().expect("instant");
            let spacing = jiff::SignedDuration::from_secs(364 * 86_400 / i64::try_from(rows).expect("rows"));
            let (studio, token) = seed(&platform, &router, rows, year, spacing).await;
            let (_, me) = call(&router, json("GET", "/v1/me", &token, serde_json::Value::Null)).await;
            println!("{studio} {}", me["id"].as_str().expect("id"));
        }
        "run-export" => {
            // `run-export <studio> <owner> <csv|xlsx>`: only the export, in this process.
            let (studio, owner, format) =
                (args[1].clone(), args[2].clone(), args.get(3).cloned().unwrap_or_else(|| "csv".into()));
            let baseline = peak_rss_mib();
            let access = atelier_platform::access::StudioAccess {
                caller: atelier_platform::access::Caller {
                    user_id: owner.as_str().into(),
                    session_id: String::new(),
                    is_admin: false,
                    api_key: None,
                },
                studio_id: studio.as_str().into(),
                role: Some(atelier_domain::identity::Role::Owner),
            };
            let meta = atelier_platform::audit::RequestMeta::new("", "bench");
            let actor = atelier_platform::access::Actor { access: &access, meta: &meta };
            let request: atelier_reports::exports::ExportRequest = serde_json::from_value(
                json!({ "dataset": "bookings", "format": format, "from": "2026-01-01", "to": "2026-12-31" }),
            )
            .expect("request");
            let job = atelier_reports::exports::request(&platform, actor, request).await.expect("asked");
            let settings = ExportSettings {
                time_budget: Duration::from_secs(3600),
                ..ExportSettings::for_lease(Duration::from_secs(180))
            };
            let (_, handler) = handlers_with(&platform, settings).remove(0);
            let event = atelier_platform::events::Event {
                trace: None,
                id: platform.ids.new_id(),
                kind: REQUESTED.into(),
                studio_id: Some(studio.clone()),
                occurred_at: jiff::Timestamp::now(),
                payload: serde_json::to_value(ExportMessage {
                    studio_id: studio.as_str().into(),
                    export_id: job.id.clone(),
                    hop: 0,
                })
                .expect("json"),
            };
            let started = Instant::now();
            handler.handle(&event).await.expect("export");
            let took = started.elapsed().as_secs_f64();
            let done = atelier_reports::exports::get(&platform, &studio.as_str().into(), &job.id)
                .await
                .expect("job");
            println!(
                "{format}: {} rows, {} bytes in {took:.2} s = {:.0} rows/s; peak RSS of the process {:.1} MiB ({baseline:.1} MiB before the export)",
                done.rows,
                done.size_bytes,
                done.rows as f64 / took,
                peak_rss_mib()
            );
        }
        "dashboard" => {
            let june: jiff::Timestamp = "2026-06-01T06:00:00Z".parse().expect("instant");
            let spacing = jiff::SignedDuration::from_secs(30 * 86_400 / i64::try_from(rows).expect("rows"));
            let (studio, token) = seed(&platform, &router, rows, june, spacing).await;
            let period = atelier_reports::period::Period {
                kind: atelier_reports::period::PeriodKind::Month,
                from: jiff::civil::date(2026, 6, 1),
                to: jiff::civil::date(2026, 6, 30),
            };
            let built = atelier_reports::rebuild::rebuild(&platform, &studio.as_str().into(), &period, true)
                .await
                .expect("rebuild");
            eprintln!(
                "tallies built from {} bookings ({} differences written)",
                built.bookings,
                built.differences.len()
            );
            let uri = format!("/v1/studios/{studio}/dashboard?period=month&date=2026-06-15");
            let mut samples = Vec::with_capacity(1000);
            let mut last = serde_json::Value::Null;
            for _ in 0..1000 {
                let started = Instant::now();
                let (status, body) = call(&router, json("GET", &uri, &token, serde_json::Value::Null)).await;
                samples.push(started.elapsed());
                assert_eq!(status, 200, "{body}");
                last = body;
            }
            println!(
                "GET …/dashboard, a month of {} bookings (1000): {}; counter items read per request: {}",
                last["bookings"]["total"],
                summarise(&mut samples),
                last["counters_read"]
            );
        }
        other => panic!(
            "usage: reports-bench export <rows> <csv|xlsx> | seed <rows> | run-export <studio> <owner> <csv|xlsx> | dashboard <rows> (not {other})"
        ),
    }
}
