//! The ports bundled for use cases, built once per process by a host.

use std::sync::Arc;

use crate::blob::{BlobBackend, Blobs};
use crate::clock::Clock;
use crate::ids::IdGenerator;
use crate::metrics::Metrics;
use crate::outbound::Outbound;
use crate::outbox::Outbox;
use crate::payments::PaymentProvider;
use crate::push::Pusher;
use crate::queue::{Queue, QueueBackend};
use crate::store::{Store, StoreBackend};

/// Everything a use case may touch outside itself.
#[derive(Clone)]
pub struct Platform {
    /// The single table.
    pub store: Store,
    /// The queues.
    pub queue: Queue,
    /// The blob store.
    pub blobs: Blobs,
    /// The outbox relay.
    pub outbox: Outbox,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// New ids.
    pub ids: Arc<dyn IdGenerator>,
    /// Email, SMS and where webhooks may go (workers use them; HTTP functions never send).
    pub outbound: Outbound,
    /// The payment provider (absent: payments are not configured; their routes answer 503).
    pub payments: Option<Arc<dyn PaymentProvider>>,
    /// Open WebSocket connections, where a worker pushes live changes (absent: no WebSocket API
    /// is deployed, or the host feeds its sockets in-process; see the realtime capability).
    pub push: Option<Arc<dyn Pusher>>,
    /// Where counts and timings go (nowhere unless the host says).
    pub metrics: Metrics,
}

impl std::fmt::Debug for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Platform").field("store", &self.store).finish_non_exhaustive()
    }
}

impl Platform {
    /// Bundles adapters.
    pub fn new(
        store: Arc<dyn StoreBackend>,
        queue: Arc<dyn QueueBackend>,
        blobs: Arc<dyn BlobBackend>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
    ) -> Platform {
        let store = Store::new(store, clock.clone());
        let queue = Queue::new(queue);
        let outbox = Outbox::new(store.clone(), queue.clone(), clock.clone());
        Platform {
            store,
            queue,
            blobs: Blobs::new(blobs),
            outbox,
            clock,
            ids,
            outbound: Outbound::none(),
            payments: None,
            push: None,
            metrics: Metrics::none(),
        }
    }

    /// The same, sending email and SMS through `outbound`.
    pub fn with_outbound(mut self, outbound: Outbound) -> Platform {
        self.outbound = outbound;
        self
    }

    /// The same, taking payments through `provider`.
    pub fn with_payments(mut self, provider: Arc<dyn PaymentProvider>) -> Platform {
        self.payments = Some(provider);
        self
    }

    /// The same, pushing live changes to WebSocket connections through `pusher`.
    pub fn with_push(mut self, pusher: Arc<dyn Pusher>) -> Platform {
        self.push = Some(pusher);
        self
    }

    /// The same, recording metrics into `metrics` (the outbox's sweep too).
    pub fn with_metrics(mut self, metrics: Metrics) -> Platform {
        self.outbox = self.outbox.with_metrics(metrics.clone());
        self.metrics = metrics;
        self
    }

    /// The same, relaying committed events after the response (see
    /// [`Outbox::relaying_in_background`]).
    pub fn relaying_in_background(mut self) -> Platform {
        self.outbox = self.outbox.relaying_in_background();
        self
    }
}
