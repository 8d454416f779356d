//! One id from a request to everything it caused: the HTTP edge (or a worker, or a scheduled
//! job) runs its work within a [`Trace`]; the outbox writes the trace into every event it
//! stages, and the worker handling that event runs within the same trace. So a booking request,
//! its outbox item, the worker's log lines and the email it sent share one `request_id` (and,
//! on Lambda, the X-Ray trace id of the request).

use std::future::Future;

use serde::{Deserialize, Serialize};

/// The ids that follow a piece of work across the async hop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trace {
    /// The request id (`x-request-id`) of the request that started it, or a job run's own id.
    pub request_id: String,
    /// The X-Ray trace id (`Root=1-…`) when the host has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

tokio::task_local! {
    static CURRENT: Trace;
}

/// The trace the current task runs within, if any.
pub fn current() -> Option<Trace> {
    CURRENT.try_with(Clone::clone).ok()
}

/// Runs `work` within `trace` (what [`current`] answers inside it).
pub async fn within<F: Future>(trace: Trace, work: F) -> F::Output {
    CURRENT.scope(trace, work).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_trace_is_seen_only_within_its_scope() {
        assert_eq!(current(), None);
        let trace = Trace { request_id: "r1".into(), trace_id: Some("Root=1-a-b".into()) };
        let seen = within(trace.clone(), async { current() }).await;
        assert_eq!(seen, Some(trace));
        assert_eq!(current(), None);
    }
}
