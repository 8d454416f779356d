//! Lambda function consuming the exports queue; failed messages are reported back so only they
//! are retried (`ReportBatchItemFailures`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    atelier_lambda::serve_queue(atelier_reports::exports::QUEUE).await
}
