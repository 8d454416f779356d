//! Glue between SQS events and the worker host.

use atelier_platform::worker::{IncomingMessage, Worker};
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};

/// Runs a batch from SQS through `worker`; the response names the messages SQS must deliver
/// again (the template enables `ReportBatchItemFailures`).
pub async fn handle_sqs_batch(worker: &Worker, event: SqsEvent) -> SqsBatchResponse {
    let mut failures = Vec::new();
    let mut messages = Vec::with_capacity(event.records.len());
    for record in event.records {
        match (record.message_id, record.body) {
            (Some(message_id), Some(body)) => messages.push(IncomingMessage { message_id, body }),
            (Some(message_id), None) => {
                tracing::error!(%message_id, "SQS message without body");
                failures.push(message_id);
            }
            (None, _) => tracing::error!("SQS record without message id; cannot report it"),
        }
    }
    failures.extend(worker.process_batch(&messages).await.failed);
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures
        .into_iter()
        .map(|id| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            failure
        })
        .collect();
    response
}
