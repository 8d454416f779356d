//! The queue port: send messages, one at a time or in batches, to a named queue. Receiving is
//! the host's job (the Lambda event source, or the embedded poller), which hands batches to
//! [`crate::worker::Worker`].

use std::borrow::Cow;
use std::sync::Arc;

use async_trait::async_trait;

/// A queue, by its stable name (letters, digits and `-`). The platform names none: each
/// capability declares the queues it sends to (`atelier_notifications::QUEUE`), and the app
/// wires each queue to its consumers. Deployment finds a queue's URL in
/// `ATELIER_<NAME>_QUEUE_URL`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueName(Cow<'static, str>);

impl QueueName {
    /// A queue named in code.
    pub const fn named(name: &'static str) -> QueueName {
        QueueName(Cow::Borrowed(name))
    }

    /// A queue named at run time (configuration, a stored outbox entry).
    pub fn parse(name: &str) -> Option<QueueName> {
        let valid = !name.is_empty()
            && name.len() <= 64
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        valid.then(|| QueueName(Cow::Owned(name.to_owned())))
    }

    /// Stable name, used for configuration and local queue names.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for QueueName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Largest message body SQS accepts and we allow, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// Most messages in one SQS batch.
pub const MAX_BATCH: usize = 10;

/// A message to send; `id` is unique within a batch and is the event id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    /// Identifier (letters, digits, `-`, `_`; at most 80).
    pub id: String,
    /// Body (JSON).
    pub body: String,
}

/// Why a send failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// A message the queue would refuse; nothing of the batch was sent.
    #[error("message {id} refused: {reason}")]
    Invalid {
        /// Which message.
        id: String,
        /// Why.
        reason: String,
    },
    /// Some messages were not accepted; the others were.
    #[error("{} message(s) not sent", failed.len())]
    Partial {
        /// Ids of the messages not sent.
        failed: Vec<String>,
    },
    /// The queue could not be reached.
    #[error("queue unavailable: {0}")]
    Unavailable(String),
}

/// What an adapter implements: send up to ten messages, reporting the ids it did not accept.
/// Only the outbox relay sends, so an adapter may acknowledge a send before it is durable if a
/// crash cannot lose the outbox entry that a later clear removes (the embedded queue does).
#[async_trait]
pub trait QueueBackend: Send + Sync + 'static {
    /// Sends one batch (1 to 10 messages); returns the ids that failed.
    async fn send_batch(
        &self,
        queue: &QueueName,
        messages: &[QueueMessage],
    ) -> Result<Vec<String>, QueueError>;
}

/// The queue every use case talks to.
#[derive(Clone)]
pub struct Queue {
    backend: Arc<dyn QueueBackend>,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Queue")
    }
}

impl Queue {
    /// A queue over `backend`.
    pub fn new(backend: Arc<dyn QueueBackend>) -> Queue {
        Queue { backend }
    }

    /// Sends any number of messages, ten at a time. Messages are checked first, so an invalid
    /// one sends nothing; otherwise every message not sent, for whatever reason, is named in
    /// [`QueueError::Partial`].
    ///
    /// Use cases send through the outbox, never directly: the embedded queue acknowledges a
    /// send before it is durable, relying on the outbox entry that outlives it (docs/architecture.md).
    pub async fn send(&self, queue: &QueueName, messages: &[QueueMessage]) -> Result<(), QueueError> {
        for m in messages {
            validate(m)?;
        }
        let mut failed = Vec::new();
        for chunk in messages.chunks(MAX_BATCH) {
            match self.backend.send_batch(queue, chunk).await {
                Ok(ids) | Err(QueueError::Partial { failed: ids }) => failed.extend(ids),
                Err(QueueError::Unavailable(reason)) => {
                    tracing::warn!(queue = queue.as_str(), %reason, "queue unavailable");
                    failed.extend(chunk.iter().map(|m| m.id.clone()));
                }
                Err(e @ QueueError::Invalid { .. }) => return Err(e),
            }
        }
        if failed.is_empty() { Ok(()) } else { Err(QueueError::Partial { failed }) }
    }
}

/// Checks a message against SQS's rules: id charset and length, body size and characters.
pub fn validate(m: &QueueMessage) -> Result<(), QueueError> {
    let invalid = |reason: &str| QueueError::Invalid { id: m.id.clone(), reason: reason.to_owned() };
    let id_ok = !m.id.is_empty()
        && m.id.len() <= 80
        && m.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !id_ok {
        return Err(invalid("id must be 1-80 letters, digits, '-' or '_'"));
    }
    if m.body.is_empty() || m.body.len() > MAX_MESSAGE_BYTES {
        return Err(invalid("body must be 1 byte to 256 KiB"));
    }
    // SQS accepts only XML character data.
    let allowed = |c: char| {
        matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
            || c >= '\u{10000}'
    };
    if !m.body.chars().all(allowed) {
        return Err(invalid("body has characters SQS refuses"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: &str, body: &str) -> QueueMessage {
        QueueMessage { id: id.into(), body: body.into() }
    }

    #[test]
    fn messages_follow_sqs_rules() {
        assert!(validate(&msg("01ABC-x_y", "{}")).is_ok());
        assert!(validate(&msg("has space", "{}")).is_err());
        assert!(validate(&msg(&"a".repeat(81), "{}")).is_err());
        assert!(validate(&msg("a", "")).is_err());
        assert!(validate(&msg("a", "bell\u{7}")).is_err());
        assert!(validate(&msg("a", &"x".repeat(MAX_MESSAGE_BYTES + 1))).is_err());
    }
}
