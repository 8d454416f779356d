//! The store's failures, classified the way callers must react to them.

use super::Item;

/// What lies under a store failure: the SDK's or database's own error, or a description
/// (`"timeout".into()`).
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A write's condition did not hold; `index` is its position in the transaction (0 for a
    /// single write) and `current` the item as it was, when the store returned it.
    #[error("condition failed on write {index}")]
    ConditionFailed {
        /// Position of the failing write.
        index: usize,
        /// The item the condition was evaluated against, if it existed.
        current: Option<Box<Item>>,
    },
    /// Another transaction touched the same items at the same time; safe to retry.
    #[error("transaction conflict")]
    TransactionConflict,
    /// The store asked us to slow down; safe to retry.
    #[error("throttled")]
    Throttled,
    /// An item exceeds 400 KB.
    #[error("item {index} is {size} bytes; the limit is 400 KB")]
    ItemTooLarge {
        /// Position of the write.
        index: usize,
        /// Its size.
        size: usize,
    },
    /// A transaction has more than 100 actions.
    #[error("transaction of {0} actions; the limit is 100")]
    TooManyActions(usize),
    /// A transaction exceeds 4 MB.
    #[error("transaction of {0} bytes; the limit is 4 MB")]
    TransactionTooLarge(usize),
    /// One item written twice in one transaction.
    #[error("write {index} touches an item already in the transaction")]
    DuplicateItem {
        /// Position of the second write.
        index: usize,
    },
    /// A pagination cursor that is malformed or belongs to another query.
    #[error("invalid cursor")]
    InvalidCursor,
    /// A request the store would refuse (empty key, bad attribute type...).
    #[error("invalid store request: {0}")]
    Invalid(String),
    /// A record could not be turned into an item.
    #[error("cannot encode record: {0}")]
    Encode(String),
    /// An item could not be turned into a record.
    #[error("cannot decode item: {0}")]
    Decode(String),
    /// The store could not be reached or did not answer; the outcome of a write is unknown.
    #[error("store unavailable")]
    Unavailable(#[source] Cause),
    /// Anything else.
    #[error("store failure")]
    Internal(#[source] Cause),
}

impl StoreError {
    /// Whether trying again later may succeed without changing the request.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::TransactionConflict | StoreError::Throttled)
    }

    /// Whether this is a failed condition on the write at `index`.
    pub fn is_condition_failed_at(&self, index: usize) -> bool {
        matches!(self, StoreError::ConditionFailed { index: i, .. } if *i == index)
    }
}
