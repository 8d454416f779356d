//! Lambda function for scheduled jobs: each EventBridge schedule passes `{"job": "<name>"}`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    atelier_lambda::serve_schedules().await
}
