//! The queue on SQS.

use std::collections::HashMap;

use async_trait::async_trait;
use atelier_platform::queue::{QueueBackend, QueueError, QueueMessage, QueueName};
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

/// SQS queues, by name.
#[derive(Clone, Debug)]
pub struct SqsQueue {
    client: Client,
    urls: HashMap<QueueName, String>,
}

impl SqsQueue {
    /// Queues at these URLs.
    pub fn new(client: Client, urls: HashMap<QueueName, String>) -> SqsQueue {
        SqsQueue { client, urls }
    }
}

#[async_trait]
impl QueueBackend for SqsQueue {
    async fn send_batch(
        &self,
        queue: &QueueName,
        messages: &[QueueMessage],
    ) -> Result<Vec<String>, QueueError> {
        let url = self.urls.get(queue).ok_or_else(|| {
            QueueError::Unavailable(format!("no URL configured for queue {}", queue.as_str()))
        })?;
        let entries = messages
            .iter()
            .map(|m| {
                SendMessageBatchRequestEntry::builder()
                    .id(&m.id)
                    .message_body(&m.body)
                    .build()
                    .map_err(|e| QueueError::Invalid { id: m.id.clone(), reason: e.to_string() })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out =
            self.client.send_message_batch().queue_url(url).set_entries(Some(entries)).send().await.map_err(
                |e| QueueError::Unavailable(aws_sdk_sqs::error::DisplayErrorContext(e).to_string()),
            )?;
        for failure in out.failed() {
            tracing::warn!(queue = queue.as_str(), id = failure.id(), code = failure.code(), message = ?failure.message(), "message not sent");
        }
        Ok(out.failed().iter().map(|f| f.id().to_owned()).collect())
    }
}

/// One receive from an SQS queue (long polling for up to `wait`), run through `worker` exactly as
/// the Lambda event source runs a batch, deleting the messages that succeeded (those that failed
/// come back after their visibility timeout, then go to the dead-letter queue). Returns how many
/// messages were received.
pub async fn poll_once(
    client: &Client,
    url: &str,
    worker: &atelier_platform::worker::Worker,
    wait: std::time::Duration,
) -> Result<usize, QueueError> {
    use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
    let unavailable = |e| QueueError::Unavailable(aws_sdk_sqs::error::DisplayErrorContext(e).to_string());
    let out = client
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .wait_time_seconds(i32::try_from(wait.as_secs().min(20)).unwrap_or(20))
        .send()
        .await
        .map_err(unavailable)?;
    let messages = out.messages();
    if messages.is_empty() {
        return Ok(0);
    }
    let mut event = SqsEvent::default();
    for m in messages {
        let mut record = SqsMessage::default();
        record.message_id = m.message_id().map(str::to_owned);
        record.body = m.body().map(str::to_owned);
        record.receipt_handle = m.receipt_handle().map(str::to_owned);
        event.records.push(record);
    }
    let response = crate::handle_sqs_batch(worker, event).await;
    let failed: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    for m in messages.iter().filter(|m| !failed.contains(&m.message_id().unwrap_or_default())) {
        client
            .delete_message()
            .queue_url(url)
            .receipt_handle(m.receipt_handle().unwrap_or_default())
            .send()
            .await
            .map_err(|e| QueueError::Unavailable(aws_sdk_sqs::error::DisplayErrorContext(e).to_string()))?;
    }
    Ok(messages.len())
}

/// Consumes a queue forever with long polling, as the Lambda event source would (the local
/// server's `aws` backend); a failed receive is logged and tried again a second later.
pub async fn poll_forever(client: Client, url: String, worker: atelier_platform::worker::Worker) {
    loop {
        if let Err(e) = poll_once(&client, &url, &worker, std::time::Duration::from_secs(20)).await {
            tracing::error!(error = %e, queue = %url, "queue poll failed");
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    }
}
