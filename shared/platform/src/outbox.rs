//! Transactional outbox: a change that must trigger async work writes an outbox item in the
//! same transaction; after commit the item is sent to its queue and deleted. Items whose send
//! was lost (crash, queue outage) are found by [`Outbox::sweep`] and sent again. Consumers
//! deduplicate by event id, so sending twice is harmless.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::events::Event;
use crate::metrics::{Metric, Metrics};
use crate::queue::{Queue, QueueMessage, QueueName};
use crate::store::{Item, Key, Query, SortKey, Store, StoreError, WriteOp};

/// Outbox items are spread over this many partitions so a busy deployment has no hot key.
pub const SHARDS: u32 = 4;
/// Age after which the sweep takes over an outbox item from the request that wrote it.
pub const SWEEP_AFTER: Duration = Duration::from_secs(60);

const PARTITION: &str = "OUTBOX#";

/// An event staged in a transaction, to relay once the transaction has committed.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    key: Key,
    queue: QueueName,
    message: QueueMessage,
}

impl OutboxEntry {
    /// The event id.
    pub fn event_id(&self) -> &str {
        &self.message.id
    }
}

/// The outbox write for `event` (add it to the transaction) and the entry to relay after it.
/// The event carries the current [`crate::trace`] unless it names one already.
pub fn record(event: &Event, queue: &QueueName) -> Result<(WriteOp, OutboxEntry), StoreError> {
    let encode = |e: &Event| serde_json::to_string(e).map_err(|e| StoreError::Encode(e.to_string()));
    let body = match (&event.trace, crate::trace::current()) {
        (None, Some(trace)) => encode(&Event { trace: Some(trace), ..event.clone() })?,
        _ => encode(event)?,
    };
    let key = Key::new(
        format!("{PARTITION}{}", shard_of(&event.id)),
        format!("{:013}#{}", event.occurred_at.as_millisecond().max(0), event.id),
    );
    let item = Item::new(&key)
        .with("queue", queue.as_str())
        .with("event_id", event.id.as_str())
        .with("body", body.as_str());
    let entry =
        OutboxEntry { key, queue: queue.clone(), message: QueueMessage { id: event.id.clone(), body } };
    Ok((WriteOp::create(item), entry))
}

fn shard_of(id: &str) -> u32 {
    crate::stable_shard(id, SHARDS)
}

/// What a relay or sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RelayReport {
    /// Sent and cleared.
    pub sent: usize,
    /// Left for the next sweep.
    pub failed: usize,
}

/// Relays outbox entries to their queues.
#[derive(Clone)]
pub struct Outbox {
    store: Store,
    queue: Queue,
    clock: Arc<dyn Clock>,
    in_background: bool,
    metrics: Metrics,
    // Shared by every clone, so a host can install it after the platform is built.
    tap: Arc<std::sync::OnceLock<Tap>>,
}

/// Sees every event of a change as soon as it commits, before (and whatever) the queue send:
/// how a long-lived host feeds its own WebSocket connections without waiting for a poll.
pub type Tap = Arc<dyn Fn(Vec<Event>) + Send + Sync>;

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Outbox")
    }
}

impl Outbox {
    /// An outbox over the store and queue.
    pub fn new(store: Store, queue: Queue, clock: Arc<dyn Clock>) -> Outbox {
        Outbox { store, queue, clock, in_background: false, metrics: Metrics::none(), tap: Arc::default() }
    }

    /// Relays committed changes on a spawned task instead of before the response. Only for
    /// long-lived hosts (the local server): a frozen Lambda environment would strand the task.
    /// Nothing is lost if the process ends first: the entries stay for the sweep.
    pub fn relaying_in_background(mut self) -> Outbox {
        self.in_background = true;
        self
    }

    /// The same outbox, counting what its sweep sends again into `metrics`.
    pub fn with_metrics(mut self, metrics: Metrics) -> Outbox {
        self.metrics = metrics;
        self
    }

    /// The same outbox without a tap (what a tap itself holds: a tap that held its own outbox
    /// would keep the whole platform alive in a cycle).
    pub fn untapped(&self) -> Outbox {
        Outbox { tap: Arc::default(), ..self.clone() }
    }

    /// Installs the tap every committed change is shown to (once per process; a second call
    /// is refused and returns false).
    pub fn set_tap(&self, tap: Tap) -> bool {
        self.tap.set(tap).is_ok()
    }

    /// Relays the entries of a change just committed: now, or on a task of its own.
    pub async fn relay_committed(&self, entries: Vec<OutboxEntry>) {
        if entries.is_empty() {
            return;
        }
        if let Some(tap) = self.tap.get() {
            tap(entries.iter().filter_map(|e| serde_json::from_str(&e.message.body).ok()).collect());
        }
        if self.in_background {
            let outbox = self.clone();
            tokio::spawn(async move { outbox.relay(entries).await });
        } else {
            self.relay(entries).await;
        }
    }

    /// Sends committed entries and clears them. Never fails the caller: whatever is not sent
    /// stays in the outbox for the sweep.
    pub async fn relay(&self, entries: Vec<OutboxEntry>) -> RelayReport {
        let mut by_queue: HashMap<QueueName, Vec<OutboxEntry>> = HashMap::new();
        for entry in entries {
            by_queue.entry(entry.queue.clone()).or_default().push(entry);
        }
        let mut report = RelayReport::default();
        for (queue, entries) in by_queue {
            let messages: Vec<QueueMessage> = entries.iter().map(|e| e.message.clone()).collect();
            let failed: Vec<String> = match self.queue.send(&queue, &messages).await {
                Ok(()) => Vec::new(),
                Err(crate::queue::QueueError::Partial { failed }) => failed,
                Err(e) => {
                    tracing::error!(error = %e, queue = queue.as_str(), "outbox relay refused");
                    messages.iter().map(|m| m.id.clone()).collect()
                }
            };
            for entry in entries {
                if failed.contains(&entry.message.id) {
                    report.failed += 1;
                    continue;
                }
                // A clear lost in a crash only means the sweep sends the entry again.
                match self.store.write_relaxed(WriteOp::delete(entry.key.clone())).await {
                    Ok(_) => report.sent += 1,
                    Err(e) => {
                        // Sent but not cleared: the sweep sends it again, consumers dedupe.
                        tracing::warn!(error = %crate::error::chain(&e), event_id = entry.event_id(), "outbox clear failed");
                        report.sent += 1;
                    }
                }
            }
        }
        report
    }

    /// Sends again every outbox item older than `min_age`: those whose relay was lost.
    pub async fn sweep(&self, min_age: Duration) -> Result<RelayReport, StoreError> {
        let cutoff =
            self.clock.now().as_millisecond() - i64::try_from(min_age.as_millis()).unwrap_or(i64::MAX);
        let mut report = RelayReport::default();
        for shard in 0..SHARDS {
            let query = Query::partition(format!("{PARTITION}{shard}"))
                .sort(SortKey::Lt(format!("{:013}", cutoff.max(0))))
                .limit(100);
            let items = self.store.query_all(query, 10_000).await?;
            let entries = items.iter().filter_map(|item| entry_of(item).ok()).collect();
            let r = self.relay(entries).await;
            report.sent += r.sent;
            report.failed += r.failed;
        }
        if report.sent + report.failed > 0 {
            tracing::info!(sent = report.sent, failed = report.failed, "outbox sweep");
            // Each counts a relay that did not happen after its commit (a crash, a queue outage).
            for (outcome, n) in [("sent", report.sent), ("failed", report.failed)] {
                if n > 0 {
                    self.metrics.record(Metric::OutboxResent, n as f64, &[("outcome", outcome)]);
                }
            }
        }
        Ok(report)
    }
}

fn entry_of(item: &Item) -> Result<OutboxEntry, StoreError> {
    let key = item.key().ok_or_else(|| StoreError::Decode("outbox item without key".into()))?;
    let name = item.string("queue")?;
    let queue = QueueName::parse(name).ok_or_else(|| StoreError::Decode(format!("unknown queue {name}")))?;
    Ok(OutboxEntry {
        key,
        queue,
        message: QueueMessage {
            id: item.string("event_id")?.to_owned(),
            body: item.string("body")?.to_owned(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_stable_and_spread() {
        assert_eq!(shard_of("01HZY"), shard_of("01HZY"));
        let used: std::collections::HashSet<u32> =
            (0..100).map(|i| shard_of(&format!("event-{i}"))).collect();
        assert_eq!(used.len(), SHARDS as usize);
    }

    #[test]
    fn outbox_items_sort_by_time() {
        let event = |id: &str, ms: i64| Event {
            id: id.into(),
            kind: "k".into(),
            studio_id: None,
            occurred_at: jiff::Timestamp::from_millisecond(ms).expect("valid"),
            trace: None,
            payload: serde_json::Value::Null,
        };
        let (_, a) = record(&event("a", 999), &QueueName::named("notifications")).expect("records");
        let (_, b) = record(&event("b", 1000), &QueueName::named("notifications")).expect("records");
        assert!(a.key.sk < b.key.sk);
        let item = Item::new(&a.key)
            .with("queue", "notifications")
            .with("event_id", "a")
            .with("body", a.message.body.as_str());
        assert_eq!(entry_of(&item).ok(), Some(a));
    }
}
