//! Where init time goes: times each step a function's main takes before serving.

use std::time::Instant;

#[tokio::main]
async fn main() {
    let t = Instant::now();
    let mut last = t;
    let mut lap = |what: &str| {
        let now = Instant::now();
        println!("{what:>24}: {:>8.0}µs", (now - last).as_secs_f64() * 1e6);
        last = now;
    };
    atelier_http::logging::init(atelier_http::logging::LogFormat::Json);
    lap("logging");
    let config = atelier_aws::sdk_config().await;
    lap("sdk config load");
    let d = aws_sdk_dynamodb::Client::new(&config);
    lap("dynamodb client");
    let q = aws_sdk_sqs::Client::new(&config);
    lap("sqs client");
    let s3 = aws_sdk_s3::Client::new(&config);
    lap("s3 client");
    let d2 = aws_sdk_dynamodb::Client::new(&config);
    lap("2nd dynamodb client");
    drop((d, q, s3, d2));
    let clients = atelier_aws::Clients::new(&config, false);
    lap("three clients");
    let settings = atelier_aws::AwsSettings::from_env().expect("settings");
    let platform = atelier_aws::platform(&clients, &settings);
    lap("platform");
    let state = atelier_http::AppState::new(platform, atelier_http::HttpConfig::default());
    let _router = atelier_app::router(state, &[atelier_app::Group::Health]);
    lap("router");
    println!("{:>24}: {:>8.0}µs", "total", t.elapsed().as_secs_f64() * 1e6);
}
