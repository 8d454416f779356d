//! Lambda function for scheduled jobs: each EventBridge schedule passes `{"job": "<name>"}`.

use atelier_http::logging::{self, LogFormat};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    logging::init(LogFormat::Json);
    let platform = atelier_aws::platform_from_env().await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let platform = platform.clone();
        async move { atelier_aws::handle_schedule(&platform, event.payload).await.map_err(Error::from) }
    }))
    .await
}
