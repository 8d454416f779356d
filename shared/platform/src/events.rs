//! Domain events as they travel through the outbox and the queues.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// One event: what happened, where, when, with its details. `id` is unique and is what
/// consumers deduplicate on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Unique id (a ULID).
    pub id: String,
    /// What happened, e.g. `booking.created`.
    pub kind: String,
    /// The studio it belongs to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub studio_id: Option<String>,
    /// When it happened.
    pub occurred_at: Timestamp,
    /// Details, shaped by `kind`.
    pub payload: serde_json::Value,
    /// The request (or job run) that caused it: filled in by the outbox from the current
    /// [`crate::trace`] when the event is staged, so its handling logs under the same id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<crate::trace::Trace>,
}
