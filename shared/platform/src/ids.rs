//! The id port: sortable identifiers (ULIDs) for everything Atelier creates.

use std::sync::atomic::{AtomicU64, Ordering};

/// Source of new identifiers.
pub trait IdGenerator: Send + Sync + 'static {
    /// A new, unique, time-sortable identifier.
    fn new_id(&self) -> String;
}

/// ULIDs from the system clock and a random source.
#[derive(Debug, Default, Clone, Copy)]
pub struct UlidGenerator;

impl IdGenerator for UlidGenerator {
    fn new_id(&self) -> String {
        ulid::Ulid::generate().to_string()
    }
}

/// Predictable ids for tests: a prefix and a counter, still sortable.
#[derive(Debug)]
pub struct SequentialIds {
    prefix: String,
    next: AtomicU64,
}

impl SequentialIds {
    /// Ids `prefix00000000000000000001`, `...02`, ...
    pub fn new(prefix: &str) -> SequentialIds {
        SequentialIds { prefix: prefix.to_owned(), next: AtomicU64::new(1) }
    }
}

impl IdGenerator for SequentialIds {
    fn new_id(&self) -> String {
        format!("{}{:020}", self.prefix, self.next.fetch_add(1, Ordering::SeqCst))
    }
}
