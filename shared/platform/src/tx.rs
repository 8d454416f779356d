//! A transaction being assembled, each write labelled with what it stands for, so a failed
//! condition comes back as the capability's own reason (the slot is taken, the booking changed
//! meanwhile, the key was used) rather than as an index into a list of writes.

use crate::outbox::OutboxEntry;
use crate::store::{StoreError, WriteOp};
use crate::{AppError, Platform};

/// What a capability's writes stand for. `Default` is the label of writes whose condition
/// cannot fail in practice (outbox entries, audit events).
pub trait Label: Clone + Default + Send {
    /// The answer for a caller when this write's condition failed and the use case has nothing
    /// better to say.
    fn conflict(&self) -> AppError;
}

/// Writes with their labels, and events to relay once committed.
#[derive(Debug)]
pub struct Tx<L> {
    ops: Vec<WriteOp>,
    labels: Vec<L>,
    entries: Vec<OutboxEntry>,
}

impl<L> Default for Tx<L> {
    fn default() -> Self {
        Tx { ops: Vec::new(), labels: Vec::new(), entries: Vec::new() }
    }
}

impl<L: Label> Tx<L> {
    /// An empty transaction.
    pub fn new() -> Tx<L> {
        Tx::default()
    }

    /// Adds a write.
    pub fn push(&mut self, op: WriteOp, label: L) -> &mut Tx<L> {
        self.ops.push(op);
        self.labels.push(label);
        self
    }

    /// Adds writes with the same label.
    pub fn extend(&mut self, ops: impl IntoIterator<Item = WriteOp>, label: L) -> &mut Tx<L> {
        for op in ops {
            self.push(op, label.clone());
        }
        self
    }

    /// Adds an outbox event (staged by [`crate::outbox::record`]).
    pub fn event(&mut self, staged: (WriteOp, OutboxEntry)) -> &mut Tx<L> {
        self.entries.push(staged.1);
        self.push(staged.0, L::default())
    }

    /// Writes so far.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Commits all or nothing, then relays the events. A failed condition comes back as the
    /// label of the write it guarded; anything else as an error.
    pub async fn commit(self, platform: &Platform) -> Result<(), Failure<L>> {
        match platform.store.transact(self.ops).await {
            Ok(()) => {
                platform.outbox.relay_committed(self.entries).await;
                Ok(())
            }
            Err(StoreError::ConditionFailed { index, .. }) => {
                Err(Failure::Condition(self.labels.get(index).cloned().unwrap_or_default()))
            }
            Err(e) => Err(Failure::Error(e.into())),
        }
    }
}

/// What a write guarded by a create-only marker came to: done now, or done before (the marker
/// was there: an import row applied by an earlier run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Guarded<T> {
    /// Written now.
    Done(T),
    /// The marker existed: nothing was written.
    AlreadyDone,
}

/// Why a commit did not happen.
#[derive(Debug)]
pub enum Failure<L> {
    /// The condition of the write with this label failed.
    Condition(L),
    /// Anything else.
    Error(AppError),
}

impl<L: Label> Failure<L> {
    /// The answer for a caller when no label needs special handling.
    pub fn into_error(self) -> AppError {
        match self {
            Failure::Condition(label) => label.conflict(),
            Failure::Error(e) => e,
        }
    }
}
