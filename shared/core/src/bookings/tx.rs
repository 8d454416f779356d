//! A transaction being assembled, with what each write stands for, so a failed condition maps
//! to the right answer (the slot is taken, the booking changed meanwhile, the key was used).

use super::occupancy::Owner;
use crate::outbox::OutboxEntry;
use crate::store::{StoreError, WriteOp};
use crate::{AppError, Platform};

/// What a write in the transaction stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// The idempotency record.
    Idempotency,
    /// The link creating a client record for an account.
    ClientLink,
    /// The booking itself (occurrence index in a series).
    Booking(usize),
    /// Counters of an owner claimed for occurrence `.0`.
    Cells(usize, Owner),
    /// A check that something read is still so.
    Check(&'static str),
    /// Anything whose condition cannot fail in practice.
    Other,
}

/// Writes with their parts, and events to relay once committed.
#[derive(Debug, Default)]
pub struct Tx {
    ops: Vec<WriteOp>,
    parts: Vec<Part>,
    entries: Vec<OutboxEntry>,
}

impl Tx {
    /// An empty transaction.
    pub fn new() -> Tx {
        Tx::default()
    }

    /// Adds a write.
    pub fn push(&mut self, op: WriteOp, part: Part) -> &mut Tx {
        self.ops.push(op);
        self.parts.push(part);
        self
    }

    /// Adds writes of the same part.
    pub fn extend(&mut self, ops: impl IntoIterator<Item = WriteOp>, part: Part) -> &mut Tx {
        for op in ops {
            self.push(op, part.clone());
        }
        self
    }

    /// Adds an outbox event.
    pub fn event(&mut self, staged: (WriteOp, OutboxEntry)) -> &mut Tx {
        self.entries.push(staged.1);
        self.push(staged.0, Part::Other)
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
    /// part it guarded; anything else as an error.
    pub async fn commit(self, platform: &Platform) -> Result<(), Failure> {
        match platform.store.transact(self.ops).await {
            Ok(()) => {
                platform.outbox.relay_committed(self.entries).await;
                Ok(())
            }
            Err(StoreError::ConditionFailed { index, .. }) => {
                Err(Failure::Condition(self.parts.get(index).cloned().unwrap_or(Part::Other)))
            }
            Err(e) => Err(Failure::Error(e.into())),
        }
    }
}

/// Why a commit did not happen.
#[derive(Debug)]
pub enum Failure {
    /// The condition of this part failed.
    Condition(Part),
    /// Anything else.
    Error(AppError),
}

impl Failure {
    /// The answer for a caller when no part needs special handling.
    pub fn into_error(self) -> AppError {
        match self {
            Failure::Condition(part) => conflict(&part),
            Failure::Error(e) => e,
        }
    }
}

/// The 409 for a failed part.
pub fn conflict(part: &Part) -> AppError {
    AppError::Conflict(match part {
        Part::Cells(_, Owner::Professional(_)) => "the professional is already booked then".into(),
        Part::Cells(_, Owner::Pool(kind)) => format!("no {kind} is free then"),
        Part::Booking(_) => "the booking changed meanwhile; read it again".into(),
        Part::Check(what) => format!("{what} changed meanwhile; try again"),
        Part::Idempotency | Part::ClientLink | Part::Other => {
            "a concurrent request changed this; try again".into()
        }
    })
}
