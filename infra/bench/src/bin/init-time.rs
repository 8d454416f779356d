//! Init time of Lambda binaries: from spawning the process to its first
//! `GET /2018-06-01/runtime/invocation/next` on a fake Runtime API on loopback. The AWS
//! endpoints point at a trap listener: any connection to it during init is reported, proving
//! init does no network I/O.
//!
//! Usage: `init-time <runs> <binary>...` (build with `--release` first). `ATELIER_*` variables
//! of the caller's environment are passed to the functions.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use atelier_bench::summarise;
use axum::Router;
use axum::routing::get;
use tokio::sync::mpsc;

async fn fake_runtime_api() -> (SocketAddr, mpsc::UnboundedReceiver<Instant>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = Router::new().route(
        "/2018-06-01/runtime/invocation/next",
        get(move || {
            let tx = tx.clone();
            async move {
                let _ = tx.send(Instant::now());
                // Never answer: the function waits here, as it would for its first event.
                std::future::pending::<()>().await;
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, rx)
}

async fn trap() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((_socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    (addr, hits)
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let runs: usize = args.next().and_then(|r| r.parse().ok()).expect("usage: init-time <runs> <binary>...");
    let binaries: Vec<String> = args.collect();
    let (trap_addr, trap_hits) = trap().await;
    let mut medians = Vec::new();
    for binary in &binaries {
        let mut samples = Vec::with_capacity(runs);
        for _ in 0..runs {
            let (api, mut first_next) = fake_runtime_api().await;
            let started = Instant::now();
            let mut child = tokio::process::Command::new(binary)
                .env_clear()
                .env("AWS_LAMBDA_RUNTIME_API", api.to_string())
                .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
                .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
                .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
                .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
                .env("AWS_LAMBDA_LOG_GROUP_NAME", "bench")
                .env("AWS_REGION", "us-east-1")
                .env("AWS_ACCESS_KEY_ID", "bench")
                .env("AWS_SECRET_ACCESS_KEY", "bench")
                .env("AWS_ENDPOINT_URL", format!("http://{trap_addr}"))
                .env("ATELIER_TABLE", "bench")
                .env("ATELIER_NOTIFICATIONS_QUEUE_URL", format!("http://{trap_addr}/queue/notifications"))
                .env("ATELIER_EXPORTS_QUEUE_URL", format!("http://{trap_addr}/queue/exports"))
                .env("ATELIER_EXPORTS_BUCKET", "bench")
                .env("RUST_LOG", "warn")
                .envs(std::env::var("SSL_CERT_FILE").map(|f| ("SSL_CERT_FILE", f)))
                // A function's own settings (a JWT secret's name, the payment provider) come
                // from the caller's environment.
                .envs(std::env::vars().filter(|(k, _)| k.starts_with("ATELIER_") && k != "ATELIER_TABLE"))
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("spawn");
            let reached = tokio::time::timeout(Duration::from_secs(10), first_next.recv()).await;
            let _ = child.kill().await;
            match reached {
                Ok(Some(at)) => samples.push(at - started),
                _ => panic!("{binary} never asked for an event"),
            }
        }
        let summary = summarise(&mut samples);
        println!("{binary}: {summary}");
        medians.push(summary.p50);
    }
    if let [baseline, rest @ ..] = medians.as_slice() {
        for (binary, median) in binaries.iter().skip(1).zip(rest) {
            println!("{binary}: median {:.2}× the baseline ({})", median / baseline, binaries[0]);
        }
    }
    println!("connections to AWS endpoints during init: {}", trap_hits.load(Ordering::SeqCst));
}
