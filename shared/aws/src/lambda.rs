//! Glue between Lambda events and the application: SQS batches to the worker host, schedule
//! inputs to jobs.

use atelier_core::jobs::{self, Job, JobReport};
use atelier_core::worker::{IncomingMessage, Worker};
use atelier_core::{AppError, Platform};
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

/// Runs the job a schedule names. The schedule's input is `{"job": "<name>"}`; anything else
/// fails the invocation, so a misconfigured schedule shows up in the function's errors.
pub async fn handle_schedule(platform: &Platform, input: serde_json::Value) -> Result<JobReport, AppError> {
    let job: Job = serde_json::from_value(input.clone())
        .map_err(|e| AppError::BadRequest(format!("not a job: {input} ({e})")))?;
    let report = jobs::run(job, platform).await?;
    tracing::info!(?job, ?report, "job done");
    Ok(report)
}
