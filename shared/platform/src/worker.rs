//! The worker host: runs per-message handlers over a batch, idempotently per event id, and
//! reports the messages that failed so only those are delivered again (SQS partial batch
//! responses; the embedded poller honours the same contract).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::clock::Clock;
use crate::events::Event;
use crate::metrics::{Metric, Metrics};
use crate::store::{Condition, Item, Key, Store, StoreError, UpdateAction, Value, WriteOp};
use crate::trace::Trace;

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
    handlers: HashMap<String, Vec<Arc<dyn EventHandler>>>,
    lease: Duration,
    metrics: Metrics,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker").field("name", &self.name).finish_non_exhaustive()
    }
}

/// What trying to claim a piece of work found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Ours to do now.
    Claimed,
    /// Done before: do nothing.
    AlreadyDone,
    /// Another run holds it and its lease has not run out.
    Busy,
}

/// Claims the work named by `key` for `lease`: a marker item that a crashed run's successor can
/// take over once the lease runs out, and that says `done` once [`finish`]ed. The mechanism
/// behind at-most-once effects under at-least-once delivery.
pub async fn claim(store: &Store, key: &Key, now: i64, lease: Duration) -> Result<Claim, StoreError> {
    let lease = i64::try_from(lease.as_secs()).unwrap_or(i64::MAX);
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
    match store.write(put).await {
        Ok(_) => Ok(Claim::Claimed),
        Err(StoreError::ConditionFailed { current, .. }) => {
            let status = match current {
                Some(item) => item.string("status").map(str::to_owned).ok(),
                None => store.get(key).await?.and_then(|i| i.string("status").ok().map(str::to_owned)),
            };
            Ok(if status.as_deref() == Some("done") { Claim::AlreadyDone } else { Claim::Busy })
        }
        Err(e) => Err(e),
    }
}

/// Marks claimed work done, with what it came to (`extra` attributes: an outcome, a provider
/// id), so a later delivery finds it and does nothing.
pub async fn finish(store: &Store, key: Key, extra: Vec<(String, Value)>) -> Result<(), StoreError> {
    let mut actions = vec![UpdateAction::Set("status".into(), "done".into())];
    actions.extend(extra.into_iter().map(|(name, value)| UpdateAction::Set(name, value)));
    store.write(WriteOp::update(key, actions)).await?;
    Ok(())
}

/// Gives claimed work back so a redelivery can run it without waiting out the lease.
pub async fn release(store: &Store, key: Key) {
    let release = WriteOp::Delete { key, condition: Some(Condition::eq("status", "in_progress")) };
    if let Err(e) = store.write(release).await {
        tracing::warn!(error = %e, "could not release claim");
    }
}

impl Worker {
    /// A worker named `name` (the markers are per worker). `lease` bounds how long a crashed
    /// run blocks a redelivery; set it to the queue's visibility timeout.
    pub fn new(name: &str, store: Store, clock: Arc<dyn Clock>, lease: Duration) -> Worker {
        Worker {
            name: name.to_owned(),
            store,
            clock,
            handlers: HashMap::new(),
            lease,
            metrics: Metrics::none(),
        }
    }

    /// The same worker, recording batch sizes, failures and event ages into `metrics`.
    pub fn with_metrics(mut self, metrics: Metrics) -> Worker {
        self.metrics = metrics;
        self
    }

    /// Adds a handler for `kind`. A kind may have several (a booking's notices and its webhook
    /// messages): each has its own claim, so one that keeps failing neither blocks nor repeats
    /// the others; the event is retried until every one has succeeded.
    pub fn on(mut self, kind: &str, handler: Arc<dyn EventHandler>) -> Worker {
        self.handlers.entry(kind.to_owned()).or_default().push(handler);
        self
    }

    /// Processes a batch's messages concurrently (one span each, so one slow message does not
    /// hold up the others) and names the messages to deliver again. Each event is handled
    /// within the trace it carries, so its log lines share the request id that caused it.
    pub async fn process_batch(&self, messages: &[IncomingMessage]) -> BatchOutcome {
        use tracing::Instrument;
        let runs = messages.iter().map(|message| {
            let span = tracing::info_span!(
                "message",
                worker = %self.name,
                message_id = %message.message_id,
                request_id = tracing::field::Empty,
                trace_id = tracing::field::Empty,
            );
            async move {
                let (occurred_at, result) = match serde_json::from_str::<Event>(&message.body) {
                    Ok(event) => (Some(event.occurred_at), self.process(event).await),
                    Err(e) => (None, Err(HandlerError::failed("malformed event", e))),
                };
                // Inside the message's span: the line carries the request id that caused it.
                if let Err(e) = &result {
                    tracing::error!(worker = %self.name, message_id = %message.message_id, error = %crate::error::chain(e), "message failed");
                }
                (message, occurred_at, result.ok())
            }
            .instrument(span)
        });
        let mut outcome = BatchOutcome::default();
        let mut oldest: Option<jiff::Timestamp> = None;
        for (message, occurred_at, result) in futures_util::future::join_all(runs).await {
            oldest = match (oldest, occurred_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            match result {
                Some(true) => outcome.handled += 1,
                Some(false) => outcome.duplicates += 1,
                None => outcome.failed.push(message.message_id.clone()),
            }
        }
        self.measure(messages.len(), &outcome, oldest);
        outcome
    }

    fn measure(&self, batch: usize, outcome: &BatchOutcome, oldest: Option<jiff::Timestamp>) {
        let worker = [("worker", self.name.as_str())];
        self.metrics.record(Metric::WorkerBatchSize, batch as f64, &worker);
        if !outcome.failed.is_empty() {
            self.metrics.record(Metric::WorkerFailures, outcome.failed.len() as f64, &worker);
        }
        if let Some(oldest) = oldest {
            let age = self.clock.now().duration_since(oldest).as_secs_f64() * 1000.0;
            self.metrics.record(Metric::WorkerEventAge, age.max(0.0), &worker);
        }
    }

    /// Ok(true): handled now; Ok(false): already handled.
    async fn process(&self, event: Event) -> Result<bool, HandlerError> {
        // An event staged outside any request (an old one, a test's) is its own trace.
        let trace =
            event.trace.clone().unwrap_or_else(|| Trace { request_id: event.id.clone(), trace_id: None });
        let span = tracing::Span::current();
        span.record("request_id", trace.request_id.as_str());
        if let Some(trace_id) = &trace.trace_id {
            span.record("trace_id", trace_id.as_str());
        }
        crate::trace::within(trace, self.run_handlers(&event)).await
    }

    async fn run_handlers(&self, event: &Event) -> Result<bool, HandlerError> {
        let handlers = self
            .handlers
            .get(&event.kind)
            .ok_or_else(|| HandlerError::Refused(format!("no handler for {}", event.kind)))?;
        let mut ran = false;
        let mut failure = None;
        for (i, handler) in handlers.iter().enumerate() {
            // The first handler's claim keeps the key a single handler always had.
            let sk =
                if i == 0 { format!("WORKER#{}", self.name) } else { format!("WORKER#{}#{i}", self.name) };
            let key = Key::new(format!("EVENT#{}", event.id), sk);
            match claim(&self.store, &key, self.clock.now().as_second(), self.lease).await? {
                Claim::AlreadyDone => continue,
                Claim::Busy => {
                    failure.get_or_insert(HandlerError::Refused("another delivery is running".into()));
                    continue;
                }
                Claim::Claimed => {}
            }
            match handler.handle(event).await {
                Ok(()) => {
                    finish(&self.store, key, Vec::new()).await?;
                    ran = true;
                }
                Err(e) => {
                    release(&self.store, key).await;
                    failure.get_or_insert(e);
                }
            }
        }
        match failure {
            Some(e) => Err(e),
            None => {
                if ran {
                    tracing::info!(worker = %self.name, event_id = %event.id, kind = %event.kind, "event handled");
                }
                Ok(ran)
            }
        }
    }
}
