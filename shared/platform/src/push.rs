//! The push port: sends a message to one open WebSocket connection. On AWS it is API Gateway's
//! management API (`POST /@connections/{id}`); on the local server, the socket itself. The
//! realtime capability decides what to send and to whom.

use async_trait::async_trait;

/// Why a message was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The connection is closed (API Gateway's `410 Gone`): forget it.
    #[error("connection {0} is gone")]
    Gone(String),
    /// The connection could not be reached now; it may still be open.
    #[error("push failed: {0}")]
    Unavailable(String),
}

/// Sends text frames to open connections.
#[async_trait]
pub trait Pusher: Send + Sync + 'static {
    /// Sends `message` (a JSON text) to `connection_id`.
    async fn post(&self, connection_id: &str, message: &str) -> Result<(), PushError>;

    /// Closes the connection from the server's side (a revoked subscriber, an expired record).
    async fn close(&self, connection_id: &str) -> Result<(), PushError>;
}
