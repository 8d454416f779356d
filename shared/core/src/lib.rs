//! Atelier's application layer: the ports (store, queue, blobs, clock, ids) with the rules
//! that hold whatever the adapter, the outbox and worker host, and the use cases.

pub mod access;
pub mod audit;
pub mod auth;
pub mod blob;
pub mod clock;
pub mod error;
pub mod events;
pub mod health;
pub mod ids;
pub mod jobs;
pub mod notifications;
pub mod outbox;
pub mod platform;
pub mod queue;
pub mod rate_limit;
pub mod store;
pub mod worker;

pub use error::AppError;
pub use platform::Platform;
