//! Lambda function consuming the notifications queue; failed messages are reported back so
//! only they are retried (`ReportBatchItemFailures`).

use std::time::Duration;

use atelier_aws::provision::QUEUE_SPEC;
use atelier_core::queue::QueueName;
use atelier_http::logging::{self, LogFormat};
use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    logging::init(LogFormat::Json);
    let platform = atelier_aws::platform_from_env().await?;
    let lease = Duration::from_secs(QUEUE_SPEC.visibility_timeout.into());
    let worker = atelier_core::worker::for_queue(QueueName::Notifications, &platform, lease);
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let worker = worker.clone();
        async move { Ok::<_, Error>(atelier_aws::handle_sqs_batch(&worker, event.payload).await) }
    }))
    .await
}
