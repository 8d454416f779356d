//! The queue in the same redb file: messages survive restarts, become invisible while a worker
//! holds them, come back when it fails or dies, and move to a dead-letter table after too many
//! receives, like SQS with a redrive policy.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use atelier_platform::clock::Clock;
use atelier_platform::queue::{QueueBackend, QueueError, QueueMessage, QueueName};
use atelier_platform::worker::{IncomingMessage, Worker};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

/// (queue, visible at in epoch ms, delivery id) → message.
const MESSAGES: TableDefinition<(&str, u64, &str), &[u8]> = TableDefinition::new("queue_messages");
/// (queue, delivery id) → message that failed too often.
const DEAD: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("queue_dead_letters");

#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    id: String,
    body: String,
    receives: u32,
}

/// How the embedded queue redelivers.
#[derive(Debug, Clone, Copy)]
pub struct QueueOptions {
    /// How long a received message stays invisible.
    pub visibility: Duration,
    /// Receives after which a message goes to the dead-letter table.
    pub max_receives: u32,
}

impl Default for QueueOptions {
    fn default() -> Self {
        QueueOptions { visibility: Duration::from_secs(30), max_receives: 5 }
    }
}

/// A received message and the handle to delete it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// What the worker sees.
    pub message: IncomingMessage,
    /// How many times it has been received, this time included.
    pub receives: u32,
    visible_at: u64,
}

/// The embedded queue.
#[derive(Clone)]
pub struct EmbeddedQueue {
    db: Arc<Database>,
    clock: Arc<dyn Clock>,
    options: QueueOptions,
    relaxed: Arc<crate::RelaxedCommits>,
}

fn unavailable(e: impl std::fmt::Display) -> QueueError {
    QueueError::Unavailable(e.to_string())
}

fn now_ms(clock: &dyn Clock) -> u64 {
    u64::try_from(clock.now().as_millisecond()).unwrap_or(0)
}

impl EmbeddedQueue {
    pub(crate) fn open(
        db: Arc<Database>,
        clock: Arc<dyn Clock>,
        options: QueueOptions,
    ) -> Result<EmbeddedQueue, QueueError> {
        let txn = db.begin_write().map_err(unavailable)?;
        txn.open_table(MESSAGES).map_err(unavailable)?;
        txn.open_table(DEAD).map_err(unavailable)?;
        txn.commit().map_err(unavailable)?;
        Ok(EmbeddedQueue { db, clock, options, relaxed: Arc::default() })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Database) -> Result<T, QueueError> + Send + 'static,
    ) -> Result<T, QueueError> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || f(&db)).await.map_err(unavailable)?
    }

    /// Takes up to `max` visible messages, hiding them for the visibility timeout. Messages
    /// received `max_receives` times already go to the dead-letter table instead.
    pub async fn receive(&self, queue: &QueueName, max: usize) -> Result<Vec<Delivery>, QueueError> {
        let now = now_ms(self.clock.as_ref());
        let hide_until = now + u64::try_from(self.options.visibility.as_millis()).unwrap_or(u64::MAX / 2);
        let max_receives = self.options.max_receives;
        let queue = queue.clone();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(unavailable)?;
            let mut deliveries = Vec::new();
            {
                let mut messages = txn.open_table(MESSAGES).map_err(unavailable)?;
                let mut dead = txn.open_table(DEAD).map_err(unavailable)?;
                let name = queue.as_str();
                let mut due = Vec::new();
                for entry in messages.range((name, 0, "")..=(name, now, "\u{10FFFF}")).map_err(unavailable)? {
                    let (key, value) = entry.map_err(unavailable)?;
                    let (_, visible_at, delivery_id) = key.value();
                    let stored: Stored = serde_json::from_slice(value.value()).map_err(unavailable)?;
                    due.push((visible_at, delivery_id.to_owned(), stored));
                    if due.len() >= max {
                        break;
                    }
                }
                for (visible_at, delivery_id, mut stored) in due {
                    messages.remove((name, visible_at, delivery_id.as_str())).map_err(unavailable)?;
                    if stored.receives >= max_receives {
                        tracing::error!(queue = name, message_id = %delivery_id, "message dead-lettered");
                        let bytes = serde_json::to_vec(&stored).map_err(unavailable)?;
                        dead.insert((name, delivery_id.as_str()), bytes.as_slice()).map_err(unavailable)?;
                        continue;
                    }
                    stored.receives += 1;
                    let bytes = serde_json::to_vec(&stored).map_err(unavailable)?;
                    messages
                        .insert((name, hide_until, delivery_id.as_str()), bytes.as_slice())
                        .map_err(unavailable)?;
                    deliveries.push(Delivery {
                        message: IncomingMessage { message_id: delivery_id, body: stored.body },
                        receives: stored.receives,
                        visible_at: hide_until,
                    });
                }
            }
            txn.commit().map_err(unavailable)?;
            Ok(deliveries)
        })
        .await
    }

    /// Deletes delivered messages (the worker is done with them).
    pub async fn delete(&self, queue: &QueueName, deliveries: Vec<Delivery>) -> Result<(), QueueError> {
        let queue = queue.clone();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(unavailable)?;
            {
                let mut messages = txn.open_table(MESSAGES).map_err(unavailable)?;
                for d in &deliveries {
                    messages
                        .remove((queue.as_str(), d.visible_at, d.message.message_id.as_str()))
                        .map_err(unavailable)?;
                }
            }
            txn.commit().map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    /// Bodies of the messages in the dead-letter table.
    pub async fn dead_letters(&self, queue: &QueueName) -> Result<Vec<String>, QueueError> {
        let queue = queue.clone();
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(unavailable)?;
            let dead = txn.open_table(DEAD).map_err(unavailable)?;
            let name = queue.as_str();
            let mut bodies = Vec::new();
            for entry in dead.range((name, "")..=(name, "\u{10FFFF}")).map_err(unavailable)? {
                let (_, value) = entry.map_err(unavailable)?;
                let stored: Stored = serde_json::from_slice(value.value()).map_err(unavailable)?;
                bodies.push(stored.body);
            }
            Ok(bodies)
        })
        .await
    }

    /// Receives one batch and runs it through `worker`, deleting what succeeded; failures
    /// reappear after the visibility timeout. Returns how many messages were received.
    pub async fn poll_once(&self, queue: &QueueName, worker: &Worker) -> Result<usize, QueueError> {
        let deliveries = self.receive(queue, atelier_platform::queue::MAX_BATCH).await?;
        if deliveries.is_empty() {
            return Ok(0);
        }
        let messages: Vec<IncomingMessage> = deliveries.iter().map(|d| d.message.clone()).collect();
        let outcome = worker.process_batch(&messages).await;
        let received = deliveries.len();
        let done: Vec<Delivery> =
            deliveries.into_iter().filter(|d| !outcome.failed.contains(&d.message.message_id)).collect();
        self.delete(queue, done).await?;
        Ok(received)
    }

    /// Polls forever, as the SQS event source would: a batch at a time, pausing when idle.
    pub async fn run(self, queue: QueueName, worker: Worker, idle: Duration) {
        loop {
            match self.poll_once(&queue, &worker).await {
                Ok(0) => tokio::time::sleep(idle).await,
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %e, queue = queue.as_str(), "queue poll failed");
                    tokio::time::sleep(idle).await;
                }
            }
        }
    }
}

#[async_trait]
impl QueueBackend for EmbeddedQueue {
    async fn send_batch(
        &self,
        queue: &QueueName,
        messages: &[QueueMessage],
    ) -> Result<Vec<String>, QueueError> {
        let now = now_ms(self.clock.as_ref());
        let messages = messages.to_vec();
        // Only the outbox relay sends, and its entry stays in the store until a clear that
        // commits after this send in the same file: a send lost in a crash is sent again by
        // the sweep, so the send need not wait for its own fsync.
        let durability = self.relaxed.next();
        let queue = queue.clone();
        self.blocking(move |db| {
            let mut txn = db.begin_write().map_err(unavailable)?;
            txn.set_durability(durability).map_err(unavailable)?;
            {
                let mut table = txn.open_table(MESSAGES).map_err(unavailable)?;
                for m in &messages {
                    // A delivery id of its own, like SQS's MessageId: one event sent twice is two
                    // messages, and the worker deduplicates them.
                    let delivery_id = ulid::Ulid::generate().to_string();
                    let stored = Stored { id: m.id.clone(), body: m.body.clone(), receives: 0 };
                    let bytes = serde_json::to_vec(&stored).map_err(unavailable)?;
                    table
                        .insert((queue.as_str(), now, delivery_id.as_str()), bytes.as_slice())
                        .map_err(unavailable)?;
                }
            }
            txn.commit().map_err(unavailable)?;
            Ok(Vec::new())
        })
        .await
    }
}
