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
