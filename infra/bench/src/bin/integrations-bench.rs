//! Live updates and API keys through the local server (a real loopback port), on the embedded
//! store or, with `ATELIER_BACKEND=aws` and `./infra/aws-stack`'s environment, DynamoDB Local.
//!
//! - `integrations-bench live <n>`: the owner's WebSocket follows the studio; a client books
//!   `n` slots one after another. For each: from the request leaving to the `changed` message
//!   arriving, and from the response arriving to the message (zero when the message came
//!   first).
//! - `integrations-bench keys <n>`: the same list of bookings read `n` times with the owner's
//!   access token, then `n` times with an API key (`bookings:read`): what a key costs per
//!   request (one lookup, the per-key counter and the audit write, against the session check).
//!
//! Build with `--release`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use atelier_bench::{call, json_request as json, summarise};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

struct Studio {
    id: String,
    owner: String,
    service: String,
    professional: String,
}

async fn studio(router: &axum::Router, unique: &str) -> Studio {
    let (owner, user) = atelier_bench::register(router, &format!("owner-{unique}@live.bench"), "Owner").await;
    let body = json!({ "name": "Live", "slug": format!("live-{unique}"), "time_zone": "UTC", "currency": "EUR",
        "settings": { "horizon_days": 365, "min_notice_minutes": 0, "slot_step_minutes": 15, "no_show_tolerance_minutes": 15, "loyalty_rate_bps": 0 } });
    let (status, body) = call(router, json("POST", "/v1/studios", &owner, body)).await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().expect("id").to_owned();
    let base = format!("/v1/studios/{id}");
    let (status, _) = call(
        router,
        json("PUT", &format!("{base}/professionals/{user}"), &owner, json!({ "display_name": "Owner" })),
    )
    .await;
    assert_eq!(status, 200);
    let days = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
    let ranges: Vec<Value> =
        days.iter().map(|d| json!({ "day": d, "start": "00:00", "end": "23:55" })).collect();
    let path = format!("{base}/professionals/{user}/availability");
    let (status, _) = call(router, json("PUT", &path, &owner, json!({ "ranges": ranges }))).await;
    assert_eq!(status, 200);
    let service = json!({ "name": "Cut", "category": "hair", "duration_minutes": 30, "price_minor": 4000, "professional_ids": [user] });
    let (status, body) = call(router, json("POST", &format!("{base}/services"), &owner, service)).await;
    assert_eq!(status, 201, "{body}");
    Studio { id, owner, service: body["id"].as_str().expect("id").to_owned(), professional: user }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(200);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut options = atelier_local::LocalOptions::from_env().expect("options");
    options.data_dir = dir.path().to_owned();
    let host = atelier_local::open(
        &options,
        Arc::new(atelier_platform::clock::SystemClock),
        Arc::new(atelier_platform::ids::UlidGenerator),
        |auth| {
            auth.limits.api_per_caller = u32::MAX;
            auth.limits.api_per_key = u32::MAX;
        },
    )
    .await
    .expect("host");
    let router = host.router().clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let service = router.clone().into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(axum::serve(listener, service).into_future());
    let unique = host.platform().ids.new_id().to_lowercase();
    let s = studio(&router, &unique).await;
    let backend = if options.backend == atelier_local::Backend::Aws { "DynamoDB Local" } else { "embedded" };

    match args.first().map(String::as_str) {
        Some("live") => {
            let (client, _) =
                atelier_bench::register(&router, &format!("client-{unique}@live.bench"), "Client").await;
            let mut request = format!("ws://{address}/v1/live").into_client_request().expect("request");
            let protocols = format!("atelier, bearer.{}", s.owner).parse().expect("header");
            request.headers_mut().insert("sec-websocket-protocol", protocols);
            let (mut socket, _) = tokio_tungstenite::connect_async(request).await.expect("connects");
            let subscribe = json!({ "action": "subscribe", "studios": [s.id] }).to_string();
            socket.send(Message::Text(subscribe.into())).await.expect("sent");
            socket.next().await.expect("subscribed").expect("frame");
            let start = jiff::Timestamp::now().as_second() / 86_400 * 86_400 + 2 * 86_400;
            let (mut from_request, mut from_response) = (Vec::new(), Vec::new());
            for i in 0..n {
                // 23 slots a day (00:00 to 22:00): the day's hours end at 23:55.
                let i = i64::try_from(i).expect("small");
                let at =
                    jiff::Timestamp::from_second(start + i / 23 * 86_400 + i % 23 * 3600).expect("instant");
                let body = json!({ "service_id": s.service, "professional_id": s.professional, "start": at.to_string() });
                let asked = Instant::now();
                let (status, made) =
                    call(&router, json("POST", &format!("/v1/studios/{}/bookings", s.id), &client, body))
                        .await;
                assert_eq!(status, 201, "{made}");
                let answered = Instant::now();
                loop {
                    let frame = socket.next().await.expect("open").expect("frame");
                    if let Message::Text(text) = frame
                        && text.contains(made["id"].as_str().expect("id"))
                    {
                        break;
                    }
                }
                let told = Instant::now();
                from_request.push(told - asked);
                from_response.push(told.saturating_duration_since(answered));
            }
            let (a, b) = (summarise(&mut from_request), summarise(&mut from_response));
            println!(
                "live on {backend}: booking request → staff message: p50 {} p90 {} p99 {} max {}",
                ms(Duration::from_secs_f64(a.p50 / 1e6)),
                ms(Duration::from_secs_f64(a.p90 / 1e6)),
                ms(Duration::from_secs_f64(a.p99 / 1e6)),
                ms(Duration::from_secs_f64(a.max / 1e6))
            );
            println!(
                "live on {backend}: booking response → staff message: p50 {} p90 {} p99 {} max {}",
                ms(Duration::from_secs_f64(b.p50 / 1e6)),
                ms(Duration::from_secs_f64(b.p90 / 1e6)),
                ms(Duration::from_secs_f64(b.p99 / 1e6)),
                ms(Duration::from_secs_f64(b.max / 1e6))
            );
        }
        Some("keys") => {
            let keys = format!("/v1/studios/{}/api-keys", s.id);
            let asked = json!({ "name": "Bench", "scopes": ["bookings:read"] });
            let (status, created) = call(&router, json("POST", &keys, &s.owner, asked)).await;
            assert_eq!(status, 201, "{created}");
            let key = created["secret"].as_str().expect("secret").to_owned();
            let list = format!("/v1/studios/{}/bookings", s.id);
            for (who, token) in [("access token", s.owner.as_str()), ("API key", key.as_str())] {
                let mut samples = Vec::with_capacity(n);
                for _ in 0..n {
                    let request = http::Request::get(&list)
                        .header("authorization", format!("Bearer {token}"))
                        .body(axum::body::Body::empty())
                        .expect("request");
                    let began = Instant::now();
                    let (status, _) = call(&router, request).await;
                    assert_eq!(status, 200);
                    samples.push(began.elapsed());
                }
                println!("GET bookings on {backend} with an {who}: {}", summarise(&mut samples));
            }
        }
        _ => eprintln!("usage: integrations-bench live|keys <n>"),
    }
}
