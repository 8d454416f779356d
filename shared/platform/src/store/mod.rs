//! The store port: DynamoDB's own primitives (get, query by partition with a sort-key condition
//! on the table or an index, conditional single writes, all-or-nothing transactions, TTL), kept
//! narrow so the embedded adapter can give them the same meaning.
//!
//! [`Store`] wraps an adapter ([`StoreBackend`]) with what must hold whatever the adapter:
//! limits checked before sending, expired items treated as absent, cursors validated, and
//! bounded retries of the failures that are safe to retry.

mod error;
mod expr;
mod faults;
mod item;
mod query;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use error::{Cause, StoreError};
pub use expr::{Condition, UpdateAction, apply_update, compare_values};
pub use faults::{Fault, FaultyStore};
pub use item::{Item, Value};
pub use query::{Cursor, Index, Order, Page, Query, SortKey};

use crate::clock::Clock;

/// Attribute names with a fixed meaning in the single table.
pub mod attr {
    /// Partition key.
    pub const PK: &str = "pk";
    /// Sort key.
    pub const SK: &str = "sk";
    /// First overloaded index, partition key.
    pub const GSI1PK: &str = "gsi1pk";
    /// First overloaded index, sort key.
    pub const GSI1SK: &str = "gsi1sk";
    /// Second overloaded index, partition key.
    pub const GSI2PK: &str = "gsi2pk";
    /// Second overloaded index, sort key.
    pub const GSI2SK: &str = "gsi2sk";
    /// Expiry instant in epoch seconds (DynamoDB TTL attribute).
    pub const TTL: &str = "ttl";
    /// Optimistic-concurrency version.
    pub const VERSION: &str = "version";

    /// Attributes a record may not set through its fields.
    pub fn is_reserved(name: &str) -> bool {
        matches!(name, PK | SK | GSI1PK | GSI1SK | GSI2PK | GSI2SK | TTL)
    }
}

/// DynamoDB's limits, enforced before sending so both adapters refuse the same requests.
pub mod limits {
    /// Largest item, in bytes.
    pub const ITEM_BYTES: usize = 400 * 1024;
    /// Most actions in one transaction.
    pub const TRANSACTION_ACTIONS: usize = 100;
    /// Largest transaction, in bytes.
    pub const TRANSACTION_BYTES: usize = 4 * 1024 * 1024;
    /// Longest partition key value, in bytes.
    pub const PARTITION_KEY_BYTES: usize = 2048;
    /// Longest sort key value, in bytes.
    pub const SORT_KEY_BYTES: usize = 1024;
    /// Most keys in one batch get.
    pub const BATCH_GET_KEYS: usize = 100;
}

/// An item's primary key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    /// Partition key.
    pub pk: String,
    /// Sort key.
    pub sk: String,
}

impl Key {
    /// A key from its two parts.
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Key {
        Key { pk: pk.into(), sk: sk.into() }
    }

    fn validate(&self) -> Result<(), StoreError> {
        if self.pk.is_empty() || self.sk.is_empty() {
            return Err(StoreError::Invalid("key attributes must not be empty".into()));
        }
        if self.pk.len() > limits::PARTITION_KEY_BYTES || self.sk.len() > limits::SORT_KEY_BYTES {
            return Err(StoreError::Invalid("key attribute too long".into()));
        }
        Ok(())
    }
}

/// One write: alone, or as an action of a transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteOp {
    /// Creates or replaces an item.
    Put {
        /// The whole new item, key included.
        item: Item,
        /// Must hold on the current item.
        condition: Option<Condition>,
    },
    /// Changes some attributes, creating the item if absent (unless the condition says not).
    Update {
        /// The item to change.
        key: Key,
        /// What to change.
        actions: Vec<UpdateAction>,
        /// Must hold on the current item.
        condition: Option<Condition>,
    },
    /// Deletes an item (absent is fine unless the condition says otherwise).
    Delete {
        /// The item to delete.
        key: Key,
        /// Must hold on the current item.
        condition: Option<Condition>,
    },
    /// Writes nothing; fails the transaction unless the condition holds.
    Check {
        /// The item to check.
        key: Key,
        /// Must hold on the current item.
        condition: Condition,
    },
}

impl WriteOp {
    /// An unconditional put.
    pub fn put(item: Item) -> WriteOp {
        WriteOp::Put { item, condition: None }
    }

    /// A put that only creates: fails if the item exists.
    pub fn create(item: Item) -> WriteOp {
        WriteOp::Put { item, condition: Some(Condition::NotExists) }
    }

    /// An update.
    pub fn update(key: Key, actions: Vec<UpdateAction>) -> WriteOp {
        WriteOp::Update { key, actions, condition: None }
    }

    /// An unconditional delete.
    pub fn delete(key: Key) -> WriteOp {
        WriteOp::Delete { key, condition: None }
    }

    /// A condition check.
    pub fn check(key: Key, condition: Condition) -> WriteOp {
        WriteOp::Check { key, condition }
    }

    /// The same write, guarded by `condition` (combined with any it had).
    pub fn when(mut self, extra: Condition) -> WriteOp {
        let merge = |old: Option<Condition>| match old {
            None => extra.clone(),
            Some(old) => Condition::And(vec![old, extra.clone()]),
        };
        match &mut self {
            WriteOp::Put { condition, .. }
            | WriteOp::Update { condition, .. }
            | WriteOp::Delete { condition, .. } => *condition = Some(merge(condition.take())),
            WriteOp::Check { condition, .. } => {
                *condition = merge(Some(condition.clone()));
            }
        }
        self
    }

    /// The key of the item written.
    pub fn key(&self) -> Key {
        match self {
            WriteOp::Put { item, .. } => item.key().unwrap_or_else(|| Key::new("", "")),
            WriteOp::Update { key, .. } | WriteOp::Delete { key, .. } | WriteOp::Check { key, .. } => {
                key.clone()
            }
        }
    }

    /// The condition, if any.
    pub fn condition(&self) -> Option<&Condition> {
        match self {
            WriteOp::Put { condition, .. }
            | WriteOp::Update { condition, .. }
            | WriteOp::Delete { condition, .. } => condition.as_ref(),
            WriteOp::Check { condition, .. } => Some(condition),
        }
    }

    /// Bytes this write sends, as DynamoDB counts them for the item and transaction limits.
    fn size(&self) -> usize {
        let key = |k: &Key| k.pk.len() + k.sk.len() + 4;
        match self {
            WriteOp::Put { item, .. } => item.size(),
            WriteOp::Update { key: k, actions, .. } => {
                key(k)
                    + actions
                        .iter()
                        .map(|a| {
                            a.attribute().len()
                                + match a {
                                    UpdateAction::Set(_, v) | UpdateAction::SetIfNotExists(_, v) => v.size(),
                                    UpdateAction::Add(..) => 21,
                                    UpdateAction::Remove(_) => 0,
                                }
                        })
                        .sum::<usize>()
            }
            WriteOp::Delete { key: k, .. } | WriteOp::Check { key: k, .. } => key(k),
        }
    }

    fn validate(&self, index: usize) -> Result<(), StoreError> {
        let key = match self {
            WriteOp::Put { item, .. } => {
                let key =
                    item.key().ok_or_else(|| StoreError::Invalid("put item without string pk/sk".into()))?;
                for (name, value) in item.iter() {
                    validate_attribute(name, value)?;
                }
                key
            }
            WriteOp::Update { key, actions, .. } => {
                if actions.is_empty() {
                    return Err(StoreError::Invalid("update without actions".into()));
                }
                for action in actions {
                    let name = action.attribute();
                    if name == attr::PK || name == attr::SK {
                        return Err(StoreError::Invalid("an update cannot change the key".into()));
                    }
                    if let UpdateAction::Set(n, v) | UpdateAction::SetIfNotExists(n, v) = action {
                        validate_attribute(n, v)?;
                    }
                }
                key.clone()
            }
            WriteOp::Delete { key, .. } | WriteOp::Check { key, .. } => key.clone(),
        };
        key.validate()?;
        let size = self.size();
        if size > limits::ITEM_BYTES {
            return Err(StoreError::ItemTooLarge { index, size });
        }
        Ok(())
    }
}

fn validate_attribute(name: &str, value: &Value) -> Result<(), StoreError> {
    let index_key =
        matches!(name, attr::PK | attr::SK | attr::GSI1PK | attr::GSI1SK | attr::GSI2PK | attr::GSI2SK);
    match value {
        Value::S(s) if index_key && s.is_empty() => {
            Err(StoreError::Invalid(format!("key attribute `{name}` is empty")))
        }
        Value::S(_) => Ok(()),
        _ if index_key => Err(StoreError::Invalid(format!("key attribute `{name}` is not a string"))),
        Value::N(_) => Ok(()),
        _ if name == attr::TTL => Err(StoreError::Invalid("ttl must be a number".into())),
        _ => Ok(()),
    }
}

/// What an adapter implements. `now` is the caller's clock in epoch seconds: items whose TTL is
/// at or before it are absent to reads and conditions.
#[async_trait]
pub trait StoreBackend: Send + Sync + 'static {
    /// Strongly consistent read of one item.
    async fn get(&self, key: &Key, now: i64) -> Result<Option<Item>, StoreError>;
    /// Strongly consistent read of up to 100 items, in no particular order.
    async fn get_many(&self, keys: &[Key], now: i64) -> Result<Vec<Item>, StoreError>;
    /// One page of a query. `next` is set exactly when more items may follow.
    async fn query(&self, query: &Query, now: i64) -> Result<Page, StoreError>;
    /// One write; an update returns the item as written.
    async fn write(&self, op: &WriteOp, now: i64) -> Result<Option<Item>, StoreError>;
    /// One write whose loss in a crash is harmless (a counter that may under-count, a clean-up
    /// that is redone): an adapter may acknowledge it before it is durable. By default, `write`.
    async fn write_relaxed(&self, op: &WriteOp, now: i64) -> Result<Option<Item>, StoreError> {
        self.write(op, now).await
    }
    /// All writes or none; a failed condition names the write's index.
    async fn transact(&self, ops: &[WriteOp], now: i64) -> Result<(), StoreError>;
    /// Cheap round trip proving the store answers.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// How often and how patiently a retryable failure (conflict, throttling) is tried again.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// Backoff before the first retry; doubles each time, with full jitter.
    pub base: Duration,
    /// Longest backoff.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { attempts: 5, base: Duration::from_millis(20), cap: Duration::from_millis(500) }
    }
}

impl RetryPolicy {
    fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self.base.saturating_mul(1 << retry.min(16)).min(self.cap);
        ceiling.mul_f64(fastrand::f64())
    }
}

/// The store every use case talks to.
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn StoreBackend>,
    clock: Arc<dyn Clock>,
    retry: RetryPolicy,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("retry", &self.retry).finish_non_exhaustive()
    }
}

impl Store {
    /// A store over `backend`, reading time from `clock`.
    pub fn new(backend: Arc<dyn StoreBackend>, clock: Arc<dyn Clock>) -> Store {
        Store { backend, clock, retry: RetryPolicy::default() }
    }

    /// The same store with another retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Store {
        self.retry = retry;
        self
    }

    fn now(&self) -> i64 {
        self.clock.now().as_second()
    }

    async fn retrying<T, F, Fut>(&self, mut attempt: F) -> Result<T, StoreError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let mut tries = 0;
        loop {
            match attempt().await {
                Err(e) if e.is_retryable() && tries + 1 < self.retry.attempts => {
                    let wait = self.retry.backoff(tries);
                    tracing::debug!(error = %crate::error::chain(&e), tries, ?wait, "retrying store call");
                    tries += 1;
                    tokio::time::sleep(wait).await;
                }
                other => return other,
            }
        }
    }

    /// Reads one item.
    pub async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        key.validate()?;
        self.retrying(|| self.backend.get(key, self.now())).await
    }

    /// Reads many items (any number; sent 100 at a time), in no particular order.
    pub async fn get_many(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        let unique: Vec<Key> = {
            let mut seen = HashSet::new();
            keys.iter().filter(|k| seen.insert(*k)).cloned().collect()
        };
        let mut items = Vec::with_capacity(unique.len());
        for chunk in unique.chunks(limits::BATCH_GET_KEYS) {
            for key in chunk {
                key.validate()?;
            }
            items.extend(self.retrying(|| self.backend.get_many(chunk, self.now())).await?);
        }
        Ok(items)
    }

    /// Reads one page of a query.
    pub async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        query.validate()?;
        self.retrying(|| self.backend.query(query, self.now())).await
    }

    /// Reads every page of a query, up to `max_items` items.
    pub async fn query_all(&self, query: Query, max_items: usize) -> Result<Vec<Item>, StoreError> {
        let mut query = query;
        let mut items = Vec::new();
        loop {
            let page = self.query(&query).await?;
            items.extend(page.items);
            match page.next {
                Some(cursor) if items.len() < max_items => query = query.after(cursor),
                _ => break,
            }
        }
        items.truncate(max_items);
        Ok(items)
    }

    /// A page of up to `query.limit` items that pass `keep`, reading on past those that do not
    /// (what a DynamoDB filter does, but filling the page), with at most `max_reads` queries.
    /// `next` continues after the last item examined.
    pub async fn query_filtered(
        &self,
        query: Query,
        keep: impl Fn(&Item) -> bool,
        max_reads: usize,
    ) -> Result<Page, StoreError> {
        let wanted = query.limit as usize;
        let mut query = query;
        let mut items = Vec::with_capacity(wanted);
        for _ in 0..max_reads.max(1) {
            let page = self.query(&query).await?;
            let examined = page.items.len();
            for (n, item) in page.items.into_iter().enumerate() {
                if keep(&item) {
                    items.push(item);
                    if items.len() == wanted {
                        let more = n + 1 < examined || page.next.is_some();
                        let next = if more {
                            items.last().and_then(|i| Cursor::after(i, query.index))
                        } else {
                            None
                        };
                        return Ok(Page { items, next });
                    }
                }
            }
            match page.next {
                Some(cursor) => query = query.after(cursor),
                None => return Ok(Page { items, next: None }),
            }
        }
        Ok(Page { items, next: query.cursor })
    }

    /// One write on its own; an update returns the item as written.
    pub async fn write(&self, op: WriteOp) -> Result<Option<Item>, StoreError> {
        op.validate(0)?;
        self.retrying(|| self.backend.write(&op, self.now())).await
    }

    /// One write whose loss in a crash is harmless (see [`StoreBackend::write_relaxed`]).
    /// DynamoDB acknowledges every write durably; the embedded store skips the fsync.
    pub async fn write_relaxed(&self, op: WriteOp) -> Result<Option<Item>, StoreError> {
        op.validate(0)?;
        self.retrying(|| self.backend.write_relaxed(&op, self.now())).await
    }

    /// Writes all or nothing. Refuses, before sending, more than 100 actions, more than 4 MB,
    /// an oversized item or one item written twice.
    pub async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        match ops.len() {
            0 => return Ok(()),
            n if n > limits::TRANSACTION_ACTIONS => return Err(StoreError::TooManyActions(n)),
            _ => {}
        }
        let mut seen = HashSet::new();
        let mut total = 0;
        for (index, op) in ops.iter().enumerate() {
            op.validate(index)?;
            if !seen.insert(op.key()) {
                return Err(StoreError::DuplicateItem { index });
            }
            total += op.size();
        }
        if total > limits::TRANSACTION_BYTES {
            return Err(StoreError::TransactionTooLarge(total));
        }
        if let [op] = ops.as_slice() {
            // One action needs no transaction: same outcome, half the cost on DynamoDB.
            return self.retrying(|| self.backend.write(op, self.now())).await.map(|_| ());
        }
        self.retrying(|| self.backend.transact(&ops, self.now())).await
    }

    /// Proves the store answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.backend.ping().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_combines_conditions() {
        let op = WriteOp::create(Item::new(&Key::new("a", "b"))).when(Condition::version_is(2));
        assert_eq!(
            op.condition(),
            Some(&Condition::And(vec![Condition::NotExists, Condition::version_is(2)]))
        );
    }

    #[test]
    fn invalid_writes_are_refused() {
        let empty_key = WriteOp::put(Item::new(&Key::new("", "b")));
        assert!(matches!(empty_key.validate(0), Err(StoreError::Invalid(_))));
        let key_change =
            WriteOp::update(Key::new("a", "b"), vec![UpdateAction::Set(attr::SK.into(), "c".into())]);
        assert!(matches!(key_change.validate(0), Err(StoreError::Invalid(_))));
        let numeric_index = WriteOp::put(Item::new(&Key::new("a", "b")).with(attr::GSI1PK, 3));
        assert!(matches!(numeric_index.validate(0), Err(StoreError::Invalid(_))));
        let big = WriteOp::put(Item::new(&Key::new("a", "b")).with("blob", "x".repeat(limits::ITEM_BYTES)));
        assert!(matches!(big.validate(3), Err(StoreError::ItemTooLarge { index: 3, .. })));
    }

    #[test]
    fn backoff_stays_under_the_cap() {
        let policy = RetryPolicy::default();
        for retry in 0..40 {
            assert!(policy.backoff(retry) <= policy.cap);
        }
    }
}
