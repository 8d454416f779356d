//! The worker host: runs per-message handlers over a batch, idempotently per event id, and
//! reports the messages that failed so only those are delivered again (SQS partial batch
//! responses; the embedded poller honours the same contract).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::clock::Clock;
use crate::events::Event;
use crate::store::{Condition, Item, Key, Store, StoreError, UpdateAction, Value, WriteOp};

/// How long a processed-event marker is kept: longer than any queue keeps a message.
const MARKER_TTL: Duration = Duration::from_secs(15 * 24 * 3600);

/// A message as the queue delivered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingMessage {
    /// The queue's id for this delivery (what partial batch responses name).
    pub message_id: String,
    /// Body: an [`Event`] as JSON.
    pub body: String,
}

/// Why a handler failed; the message will be delivered again, and after enough failures it
/// lands in the dead-letter queue.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The handler says why, without an underlying error.
    #[error("{0}")]
    Refused(String),
    /// The store failed.
    #[error("store")]
    Store(#[from] StoreError),
    /// Something else failed, with its cause.
    #[error("{context}")]
    Failed {
        /// What was being done.
        context: String,
        /// Why it failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl HandlerError {
    /// A failure of `context`, keeping `source` as the cause.
    pub fn failed(
        context: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> HandlerError {
        HandlerError::Failed { context: context.into(), source: Box::new(source) }
    }
}

impl From<crate::AppError> for HandlerError {
    fn from(e: crate::AppError) -> Self {
        HandlerError::failed("use case", e)
    }
}

/// Handles one kind of event.
#[async_trait]
pub trait EventHandler: Send + Sync + 'static {
    /// Does the work. May run more than once for one event if a previous run crashed midway,
    /// so effects should be idempotent too (conditional writes keyed by the event id).
    async fn handle(&self, event: &Event) -> Result<(), HandlerError>;
}

/// What a batch came to.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Handled now.
    pub handled: usize,
    /// Already handled before (a redelivery or a duplicate send): acknowledged, not run.
    pub duplicates: usize,
    /// Queue message ids to deliver again.
    pub failed: Vec<String>,
}

/// Runs handlers for the events of one queue.
#[derive(Clone)]
pub struct Worker {
    name: String,
    store: Store,
    clock: Arc<dyn Clock>,
    handlers: HashMap<String, Arc<dyn EventHandler>>,
    lease: Duration,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker").field("name", &self.name).finish_non_exhaustive()
    }
}

enum Claim {
    Claimed,
    AlreadyDone,
    Busy,
}

impl Worker {
    /// A worker named `name` (the markers are per worker). `lease` bounds how long a crashed
    /// run blocks a redelivery; set it to the queue's visibility timeout.
    pub fn new(name: &str, store: Store, clock: Arc<dyn Clock>, lease: Duration) -> Worker {
        Worker { name: name.to_owned(), store, clock, handlers: HashMap::new(), lease }
    }

    /// Registers the handler for `kind`.
    pub fn on(mut self, kind: &str, handler: Arc<dyn EventHandler>) -> Worker {
        self.handlers.insert(kind.to_owned(), handler);
        self
    }

    /// Processes a batch, one message at a time, and names the messages to deliver again.
    pub async fn process_batch(&self, messages: &[IncomingMessage]) -> BatchOutcome {
        let mut outcome = BatchOutcome::default();
        for message in messages {
            match self.process(message).await {
                Ok(true) => outcome.handled += 1,
                Ok(false) => outcome.duplicates += 1,
                Err(e) => {
                    tracing::error!(worker = %self.name, message_id = %message.message_id, error = %crate::error::chain(&e), "message failed");
                    outcome.failed.push(message.message_id.clone());
                }
            }
        }
        outcome
    }

    /// Ok(true): handled now; Ok(false): already handled.
    async fn process(&self, message: &IncomingMessage) -> Result<bool, HandlerError> {
        let event: Event =
            serde_json::from_str(&message.body).map_err(|e| HandlerError::failed("malformed event", e))?;
        let handler = self
            .handlers
            .get(&event.kind)
            .ok_or_else(|| HandlerError::Refused(format!("no handler for {}", event.kind)))?;
        let key = Key::new(format!("EVENT#{}", event.id), format!("WORKER#{}", self.name));
        match self.claim(&key).await? {
            Claim::AlreadyDone => return Ok(false),
            Claim::Busy => return Err(HandlerError::Refused("another delivery is running".into())),
            Claim::Claimed => {}
        }
        match handler.handle(&event).await {
            Ok(()) => {
                let done = WriteOp::update(key, vec![UpdateAction::Set("status".into(), "done".into())]);
                self.store.write(done).await?;
                tracing::info!(worker = %self.name, event_id = %event.id, kind = %event.kind, "event handled");
                Ok(true)
            }
            Err(e) => {
                // Release the claim so the redelivery can run without waiting out the lease.
                let release =
                    WriteOp::Delete { key, condition: Some(Condition::eq("status", "in_progress")) };
                if let Err(release_error) = self.store.write(release).await {
                    tracing::warn!(error = %release_error, "could not release claim");
                }
                Err(e)
            }
        }
    }

    async fn claim(&self, key: &Key) -> Result<Claim, HandlerError> {
        let now = self.clock.now().as_second();
        let lease = i64::try_from(self.lease.as_secs()).unwrap_or(i64::MAX);
        let ttl = i64::try_from(MARKER_TTL.as_secs()).unwrap_or(i64::MAX);
        let marker = Item::new(key)
            .with("status", "in_progress")
            .with("lease_until", now.saturating_add(lease))
            .with(crate::store::attr::TTL, now.saturating_add(ttl));
        let stale_claim = Condition::And(vec![
            Condition::eq("status", "in_progress"),
            Condition::Lt("lease_until".into(), Value::N(now)),
        ]);
        let put = WriteOp::Put {
            item: marker,
            condition: Some(Condition::Or(vec![Condition::NotExists, stale_claim])),
        };
        match self.store.write(put).await {
            Ok(_) => Ok(Claim::Claimed),
            Err(StoreError::ConditionFailed { current, .. }) => {
                let status = match current {
                    Some(item) => item.string("status").map(str::to_owned).ok(),
                    None => {
                        self.store.get(key).await?.and_then(|i| i.string("status").ok().map(str::to_owned))
                    }
                };
                Ok(if status.as_deref() == Some("done") { Claim::AlreadyDone } else { Claim::Busy })
            }
            Err(e) => Err(e.into()),
        }
    }
}
