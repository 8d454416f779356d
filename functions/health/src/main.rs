//! Lambda function for the `health` endpoint group: health, readiness, OpenAPI document.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    atelier_lambda::serve_http(&[atelier_app::Group::Health]).await
}
