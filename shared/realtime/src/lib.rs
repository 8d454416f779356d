//! Live updates over WebSocket. A front end opens a connection with its access token, says
//! what it follows (studios it is staff of, or its own bookings), and is sent a small
//! `changed` message — kind, ids, version, never personal data — when a booking, waitlist
//! offer, payment or stock level changes; it then refetches what it shows. The same protocol
//! runs on API Gateway's WebSocket API (the `realtime` function, pushes through the management
//! API from the notifications worker) and on the local server (a socket endpoint fed
//! in-process from the outbox). See docs/realtime.md.

pub mod changes;
pub mod connections;
pub mod fanout;
pub mod local;
pub mod protocol;
pub mod session;

pub use changes::Change;
pub use fanout::{FanOutReport, fan_out};
