//! Embedded adapters for running Atelier with no cloud account: the store and the queue in one
//! redb file, blobs in a directory, email and SMS as files. Same semantics as the AWS adapters; the conformance suite
//! in `tests/` runs the same bodies against both.

mod blobs;
pub mod outbound;
mod queue;
mod store;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use atelier_platform::clock::Clock;

pub use blobs::{EmbeddedBlobs, LINK_PREFIX, LinkError};
pub use queue::{Delivery, EmbeddedQueue, QueueOptions};
pub use store::EmbeddedStore;

/// One commit in this many relaxed ones (counted per adapter) is made durable anyway, which
/// bounds how much a crash can forget and lets redb release the pages the durable state held.
const RELAXED_RUN: u32 = 64;

/// Counts relaxed commits and says which one must be durable after all.
#[derive(Debug, Default)]
pub(crate) struct RelaxedCommits(AtomicU32);

impl RelaxedCommits {
    /// The durability of the next relaxed commit. A crash loses every non-durable commit since
    /// the last durable one, as a group (never a later one without an earlier one); the next
    /// durable commit, or closing the database cleanly, makes them durable.
    pub(crate) fn next(&self) -> redb::Durability {
        if self.0.fetch_add(1, Ordering::Relaxed) % RELAXED_RUN == RELAXED_RUN - 1 {
            redb::Durability::Immediate
        } else {
            redb::Durability::None
        }
    }
}

/// Why the embedded adapters could not open.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The directory could not be created.
    #[error("cannot create {path}: {source}")]
    Dir {
        /// Which.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The database file could not be opened (locked by another process, corrupt...).
    #[error("cannot open database {path}: {message}")]
    Database {
        /// Which.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

/// One data directory: `atelier.redb` for the store and queues, `blobs/` for objects.
pub struct Embedded {
    db: Arc<redb::Database>,
    dir: PathBuf,
}

impl Embedded {
    /// Opens (creating if needed) the data directory.
    pub fn open(dir: &Path) -> Result<Embedded, OpenError> {
        std::fs::create_dir_all(dir).map_err(|source| OpenError::Dir { path: dir.to_owned(), source })?;
        let path = dir.join("atelier.redb");
        let db = redb::Database::create(&path)
            .map_err(|e| OpenError::Database { path: path.clone(), message: e.to_string() })?;
        Ok(Embedded { db: Arc::new(db), dir: dir.to_owned() })
    }

    /// The store.
    pub fn store(&self) -> Result<EmbeddedStore, atelier_platform::store::StoreError> {
        EmbeddedStore::open(self.db.clone())
    }

    /// The queues.
    pub fn queue(
        &self,
        clock: Arc<dyn Clock>,
        options: QueueOptions,
    ) -> Result<EmbeddedQueue, atelier_platform::queue::QueueError> {
        EmbeddedQueue::open(self.db.clone(), clock, options)
    }

    /// Email and SMS as files under `mail/` and `sms/` of the data directory, sent from `from`.
    pub fn outbound(
        &self,
        from: &str,
        webhooks: atelier_platform::outbound::WebhookPolicy,
        clock: Arc<dyn Clock>,
    ) -> atelier_platform::outbound::Outbound {
        atelier_platform::outbound::Outbound {
            mail: Arc::new(outbound::MailFiles::new(&self.dir.join("mail"), from, clock.clone())),
            sms: Arc::new(outbound::SmsFiles::new(&self.dir.join("sms"), clock)),
            webhooks,
        }
    }

    /// The blob store.
    pub fn blobs(&self, clock: Arc<dyn Clock>) -> Result<EmbeddedBlobs, atelier_platform::blob::BlobError> {
        EmbeddedBlobs::open(&self.dir.join("blobs"), clock)
    }
}
