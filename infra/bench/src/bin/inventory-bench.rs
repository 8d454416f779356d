//! Inventory in-process on the embedded store, through the full router:
//!
//! 1. an outflow of one unit (the product read, then one transaction: the product under its
//!    version, the movement, the studio's value, the day's counters, the audit event);
//! 2. a page of 50 products by title, and the same filtered (`?low=true`: the filter reads the
//!    studio's product index, up to 10 index pages for one page of answers).
//!
//! Usage: `inventory-bench [outflows] [products]` (build with `--release`).

use std::sync::Arc;
use std::time::Instant;

use atelier_bench::{bench_keys, call, embedded_platform, json_request as json, summarise};
use atelier_identity::{AuthSettings, HashCost, PasswordHasher, RateLimits};
use atelier_local::{LocalApp, LocalOptions};

#[tokio::main]
async fn main() {
    let outflows: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(2000);
    let products: usize = std::env::args().nth(2).and_then(|n| n.parse().ok()).unwrap_or(1000);
    let dir = tempfile::tempdir().expect("temp dir");
    let options = LocalOptions::from_env().expect("options");
    let (parts, platform) = embedded_platform(dir.path());
    let platform = platform.relaying_in_background();
    let mut auth = AuthSettings::new(bench_keys(), PasswordHasher::new(HashCost::FLOOR).expect("hasher"));
    auth.limits = RateLimits { api_per_caller: u32::MAX, ..auth.limits };
    let app = LocalApp::assemble(platform, parts, options.http.clone(), Arc::new(auth));
    let router = app.router.clone();

    let (token, _) = atelier_bench::register(&router, "owner@stock.bench", "Owner").await;
    let studio = serde_json::json!({ "name": "Bench", "slug": "bench-stock", "time_zone": "Europe/Lisbon", "currency": "EUR" });
    let (status, body) = call(&router, json("POST", "/v1/studios", &token, studio)).await;
    assert_eq!(status, 201, "{body}");
    let base = format!("/v1/studios/{}", body["id"].as_str().expect("id"));

    let mut ids = Vec::with_capacity(products);
    for n in 0..products {
        // Every 40th product has a minimum it is below: 25 low products spread over the index.
        let minimum = if n % 40 == 0 { 10 } else { 0 };
        let product = serde_json::json!({ "title": format!("Product {n:05}"), "sku": format!("SKU-{n:05}"),
            "unit": "ml", "cost_price_minor": 3, "minimum_quantity": minimum });
        let (status, body) = call(&router, json("POST", &format!("{base}/products"), &token, product)).await;
        assert_eq!(status, 201, "{body}");
        ids.push(body["id"].as_str().expect("id").to_owned());
    }
    for id in ids.iter().step_by(40) {
        let one = serde_json::json!({ "kind": "inflow", "quantity": 1, "unit_cost_minor": 3 });
        let (status, body) =
            call(&router, json("POST", &format!("{base}/products/{id}/movements"), &token, one)).await;
        assert_eq!(status, 201, "{body}");
    }
    let stocked = &ids[1];
    let delivery = serde_json::json!({ "kind": "inflow", "quantity": 1_000_000, "unit_cost_minor": 3 });
    let (status, body) =
        call(&router, json("POST", &format!("{base}/products/{stocked}/movements"), &token, delivery)).await;
    assert_eq!(status, 201, "{body}");

    let mut samples = Vec::with_capacity(outflows);
    for _ in 0..outflows {
        let one = serde_json::json!({ "kind": "outflow", "quantity": 1, "reason": "use" });
        let started = Instant::now();
        let (status, body) =
            call(&router, json("POST", &format!("{base}/products/{stocked}/movements"), &token, one)).await;
        samples.push(started.elapsed());
        assert_eq!(status, 201, "{body}");
    }
    println!("POST …/products/{{id}}/movements, an outflow ({outflows}): {}", summarise(&mut samples));

    for (label, query) in
        [("a page of 50 by title", "?limit=50"), ("a page of 50 low products", "?limit=50&low=true")]
    {
        let mut samples = Vec::with_capacity(500);
        for _ in 0..500 {
            let started = Instant::now();
            let (status, body) = call(
                &router,
                json("GET", &format!("{base}/products{query}"), &token, serde_json::Value::Null),
            )
            .await;
            samples.push(started.elapsed());
            assert_eq!(status, 200, "{body}");
        }
        println!("GET …/products, {label} of {products} (500): {}", summarise(&mut samples));
    }
}
