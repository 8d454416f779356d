//! The notifications worker and the inbox, in-process on the embedded store:
//!
//! 1. a batch of 10 notices whose email channel takes 200 ms each: wall time of the batch
//!    (the worker runs a batch's messages side by side, so about one channel latency);
//! 2. worker overhead per message with a channel that answers at once (claims, preferences,
//!    template, send claim, all fsync'd writes);
//! 3. `GET /v1/me/notifications` (a page of 20 from 200 entries) and `…/unread-count` latency.
//!
//! Usage: `notifications-bench [batches] [requests]` (build with `--release`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use atelier_bench::{bench_keys, call, embedded_platform, summarise};
use atelier_identity::{AuthSettings, HashCost, PasswordHasher, RateLimits};
use atelier_local::{LocalApp, LocalOptions};
use atelier_notifications::{Notice, Recipient, Topic, notice_event};
use atelier_platform::outbound::{MailSender, Outbound, OutgoingEmail, SendError, WebhookPolicy};
use atelier_platform::worker::{IncomingMessage, Worker};
use axum::body::Body;
use http::Request;

/// An email channel that takes a fixed time to accept each message (what a provider costs).
struct TimedMail(Duration);

#[async_trait]
impl MailSender for TimedMail {
    async fn send(&self, _: &OutgoingEmail) -> Result<String, SendError> {
        tokio::time::sleep(self.0).await;
        Ok("accepted".into())
    }
}

fn batch(n: usize, round: usize) -> Vec<IncomingMessage> {
    (0..n)
        .map(|i| {
            let to = Recipient {
                name: "Ana".into(),
                email: Some(format!("ana{round}.{i}@bench.example")),
                ..Recipient::default()
            };
            let id = format!("{:026}", round * 1000 + i);
            let (event, _) =
                notice_event(id, jiff::Timestamp::now(), None, &Notice::new(Topic::PasswordChanged, to));
            IncomingMessage {
                message_id: format!("m{round}.{i}"),
                body: serde_json::to_string(&event).expect("json"),
            }
        })
        .collect()
}

async fn worker_with(mail_latency: Duration) -> (tempfile::TempDir, Worker) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (_, platform) = embedded_platform(dir.path());
    let sms = Outbound::none().sms;
    let platform = platform.with_outbound(Outbound {
        mail: Arc::new(TimedMail(mail_latency)),
        sms,
        webhooks: WebhookPolicy::default(),
    });
    let worker = atelier_app::worker(&atelier_notifications::QUEUE, &platform, Duration::from_secs(60));
    (dir, worker)
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let batches: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(200);
    let requests: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(5000);

    // 1. Ten messages, each channel call 200 ms.
    let (_dir, worker) = worker_with(Duration::from_millis(200)).await;
    let mut walls = Vec::new();
    for round in 0..5 {
        let messages = batch(10, round);
        let started = Instant::now();
        let outcome = worker.process_batch(&messages).await;
        assert_eq!(outcome.handled, 10, "{outcome:?}");
        walls.push(started.elapsed());
    }
    println!("batch of 10, channel 200 ms each: wall {}", summarise(&mut walls));

    // 2. Overhead per message, the channel answering at once.
    let (_dir, worker) = worker_with(Duration::ZERO).await;
    let mut per_message = Vec::new();
    for round in 0..batches {
        let messages = batch(10, 100 + round);
        let started = Instant::now();
        let outcome = worker.process_batch(&messages).await;
        assert_eq!(outcome.handled, 10);
        per_message.push(started.elapsed() / 10);
    }
    println!("worker overhead per message (batches of 10): {}", summarise(&mut per_message));

    // 3. The inbox.
    let dir = tempfile::tempdir().expect("temp dir");
    let (parts, platform) = embedded_platform(dir.path());
    let mut auth = AuthSettings::new(bench_keys(), PasswordHasher::new(HashCost::FLOOR).expect("hasher"));
    auth.limits = RateLimits { api_per_caller: u32::MAX, ..auth.limits };
    let options = LocalOptions::from_env().expect("options");
    let app = LocalApp::assemble(platform.clone(), parts, options.http.clone(), Arc::new(auth));
    let router = app.router.clone();
    let (token, id) = atelier_bench::register(&router, "ana@inbox.example", "Ana").await;
    let user: atelier_platform::access::UserProfile =
        { atelier_identity::profiles(&platform, &[id.as_str().into()]).await.expect("profile").remove(0) };
    let rendered = atelier_notifications::templates::Rendered {
        subject: "Booking confirmed".into(),
        text: "Cut with Rita on Tue 2 Jun 2026, 10:00 (UTC+01:00) is confirmed.".into(),
        html: String::new(),
    };
    for i in 0..200 {
        atelier_notifications::deliver_in_app(
            &platform.store,
            &format!("{:026}", 900_000 + i),
            jiff::Timestamp::now(),
            &user.id,
            Topic::BookingConfirmed,
            &rendered,
        )
        .await
        .expect("delivered");
    }
    for (label, uri) in [
        ("GET /v1/me/notifications?limit=20", "/v1/me/notifications?limit=20"),
        ("GET /v1/me/notifications/unread-count", "/v1/me/notifications/unread-count"),
    ] {
        let mut samples = Vec::with_capacity(requests);
        for i in 0..requests + 500 {
            let request = Request::get(uri)
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .expect("request");
            let started = Instant::now();
            let (status, _) = call(&router, request).await;
            let took = started.elapsed();
            assert_eq!(status, 200);
            if i >= 500 {
                samples.push(took);
            }
        }
        println!("{label}: {}", summarise(&mut samples));
    }
}
