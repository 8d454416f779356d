//! Atelier's platform: the ports every capability uses (store, queue, blobs, clock, ids,
//! secrets) with the rules that hold whatever the adapter, and the mechanisms built on them —
//! labelled transactions, the outbox, a generic worker host, idempotency, audit, access and
//! roles, rate limits, errors. It names no capability: capabilities register their event
//! handlers and jobs with the app crate.

pub mod access;
pub mod audit;
pub mod blob;
pub mod clock;
pub mod error;
pub mod events;
pub mod health;
pub mod https;
pub mod idempotency;
pub mod ids;
pub mod metrics;
pub mod outbound;
pub mod outbox;
pub mod payments;
pub mod platform;
pub mod push;
pub mod queue;
pub mod rate_limit;
pub mod secrets;
pub mod store;
pub mod trace;
pub mod tx;
pub mod worker;

pub use error::AppError;
pub use platform::Platform;

/// A hash of `id` into `0..shards` that never changes across processes or versions (unlike
/// std's hasher): spreads hot partitions (outbox, audit) over a fixed number of keys.
pub fn stable_shard(id: &str, shards: u32) -> u32 {
    // FNV-1a.
    let hash = id.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    hash % shards
}

/// SHA-256 of `bytes`, as 64 lowercase hex digits: for keys derived from secrets or long text.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}
