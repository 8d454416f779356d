//! A store wrapper that injects failures, because DynamoDB Local never raises
//! TransactionConflict or throttles, and crashes are hard to time.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;

use super::{Item, Key, Page, Query, StoreBackend, StoreError, WriteOp};

/// A failure to inject into the next write.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Apply this other write first, as a concurrent request that won the race would, then
    /// the write itself (whose conditions then see the change). Relaxed writes (rate-limit
    /// counters) pass it by, so it lands on the next write a use case makes.
    Interleave(WriteOp),
    /// Fail with TransactionConflict, writing nothing.
    Conflict,
    /// Fail with Throttled, writing nothing.
    Throttle,
    /// Apply the write, then fail as if the response was lost.
    LoseResponse,
}

/// Wraps a backend; writes and transactions take faults from a script, in order.
pub struct FaultyStore {
    inner: Arc<dyn StoreBackend>,
    script: Mutex<VecDeque<Fault>>,
    writes: AtomicUsize,
}

impl FaultyStore {
    /// No faults scripted yet.
    pub fn new(inner: Arc<dyn StoreBackend>) -> FaultyStore {
        FaultyStore { inner, script: Mutex::new(VecDeque::new()), writes: AtomicUsize::new(0) }
    }

    /// Queues faults for the next write calls.
    pub fn inject(&self, faults: impl IntoIterator<Item = Fault>) {
        self.script.lock().unwrap_or_else(|e| e.into_inner()).extend(faults);
    }

    /// Write and transaction calls seen so far, faulted ones included.
    pub fn write_calls(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }

    fn next_fault(&self, relaxed: bool) -> Option<Fault> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        let mut script = self.script.lock().unwrap_or_else(|e| e.into_inner());
        if relaxed && matches!(script.front(), Some(Fault::Interleave(_))) {
            return None;
        }
        script.pop_front()
    }
}

#[async_trait]
impl StoreBackend for FaultyStore {
    async fn get(&self, key: &Key, now: i64) -> Result<Option<Item>, StoreError> {
        self.inner.get(key, now).await
    }

    async fn get_many(&self, keys: &[Key], now: i64) -> Result<Vec<Item>, StoreError> {
        self.inner.get_many(keys, now).await
    }

    async fn query(&self, query: &Query, now: i64) -> Result<Page, StoreError> {
        self.inner.query(query, now).await
    }

    async fn write(&self, op: &WriteOp, now: i64) -> Result<Option<Item>, StoreError> {
        match self.next_fault(false) {
            Some(Fault::Interleave(first)) => {
                self.inner.write(&first, now).await?;
                self.inner.write(op, now).await
            }
            Some(Fault::Conflict) => Err(StoreError::TransactionConflict),
            Some(Fault::Throttle) => Err(StoreError::Throttled),
            Some(Fault::LoseResponse) => {
                self.inner.write(op, now).await?;
                Err(StoreError::Unavailable("injected: response lost".into()))
            }
            None => self.inner.write(op, now).await,
        }
    }

    async fn write_relaxed(&self, op: &WriteOp, now: i64) -> Result<Option<Item>, StoreError> {
        match self.next_fault(true) {
            Some(Fault::Conflict) => Err(StoreError::TransactionConflict),
            Some(Fault::Throttle) => Err(StoreError::Throttled),
            Some(Fault::LoseResponse) => {
                self.inner.write_relaxed(op, now).await?;
                Err(StoreError::Unavailable("injected: response lost".into()))
            }
            Some(Fault::Interleave(_)) | None => self.inner.write_relaxed(op, now).await,
        }
    }

    async fn transact(&self, ops: &[WriteOp], now: i64) -> Result<(), StoreError> {
        match self.next_fault(false) {
            Some(Fault::Interleave(first)) => {
                self.inner.write(&first, now).await?;
                self.inner.transact(ops, now).await
            }
            Some(Fault::Conflict) => Err(StoreError::TransactionConflict),
            Some(Fault::Throttle) => Err(StoreError::Throttled),
            Some(Fault::LoseResponse) => {
                self.inner.transact(ops, now).await?;
                Err(StoreError::Unavailable("injected: response lost".into()))
            }
            None => self.inner.transact(ops, now).await,
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }
}
