//! Notices to people, delivered by the notifications worker. This is the in-app channel: each
//! notice becomes an item in the recipient's inbox. Email, SMS and webhooks join later behind
//! the same event.

pub mod inbox;
pub mod routes;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use atelier_platform::events::Event;
use atelier_platform::queue::QueueName;
use atelier_platform::store::{Item, Key, Store, WriteOp, attr};
use atelier_platform::worker::{EventHandler, HandlerError};

/// The handlers this capability runs on the notifications queue, by event kind.
pub fn handlers(platform: &atelier_platform::Platform) -> Vec<(&'static str, Arc<dyn EventHandler>)> {
    vec![(NOTICE, InAppDelivery::new(platform.store.clone()))]
}

/// Event kind of a notice.
pub const NOTICE: &str = "notice";

/// The queue notices and the domain events that lead to notices travel on.
pub const QUEUE: QueueName = QueueName::named("notifications");
/// Notices leave the inbox after this long.
pub const INBOX_RETENTION: Duration = Duration::from_secs(90 * 24 * 3600);

/// What to tell whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// The recipient.
    pub user_id: atelier_domain::ids::UserId,
    /// What it is about, e.g. `password_changed`.
    pub topic: String,
    /// One line.
    pub title: String,
    /// The message.
    pub body: String,
}

/// The event carrying a notice, and the queue it goes to.
pub fn notice_event(
    id: String,
    occurred_at: Timestamp,
    studio_id: Option<String>,
    notice: &Notice,
) -> (Event, QueueName) {
    let event = Event {
        id,
        kind: NOTICE.to_owned(),
        studio_id,
        occurred_at,
        payload: serde_json::to_value(notice).unwrap_or_default(),
    };
    (event, QUEUE)
}

/// An inbox entry as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxEntry {
    /// The notice's event id.
    pub id: String,
    /// Topic.
    pub topic: String,
    /// One line.
    pub title: String,
    /// The message.
    pub body: String,
    /// When it happened.
    pub created_at: Timestamp,
    /// Whether the recipient has read it.
    pub read: bool,
    /// Whether the recipient has archived it.
    #[serde(default)]
    pub archived: bool,
}

/// Key of a user's inbox entry.
pub fn inbox_key(user_id: &atelier_domain::ids::UserId, event_id: &str) -> Key {
    Key::new(format!("USER#{user_id}"), format!("NOTIFICATION#{event_id}"))
}

/// Delivers notices to inboxes; a redelivered notice finds its entry there and adds nothing.
pub struct InAppDelivery {
    store: Store,
}

impl InAppDelivery {
    /// Delivery into the store's inboxes.
    pub fn new(store: Store) -> Arc<InAppDelivery> {
        Arc::new(InAppDelivery { store })
    }
}

#[async_trait]
impl EventHandler for InAppDelivery {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let notice: Notice = serde_json::from_value(event.payload.clone())
            .map_err(|e| HandlerError::failed("malformed notice", e))?;
        deliver(&self.store, &event.id, event.occurred_at, notice).await
    }
}

/// Puts a notice in its recipient's inbox under `event_id`; delivering the same event again
/// finds the entry there and adds nothing.
pub async fn deliver(
    store: &Store,
    event_id: &str,
    occurred_at: Timestamp,
    notice: Notice,
) -> Result<(), HandlerError> {
    let entry = InboxEntry {
        id: event_id.to_owned(),
        topic: notice.topic,
        title: notice.title,
        body: notice.body,
        created_at: occurred_at,
        read: false,
        archived: false,
    };
    let expires = occurred_at.as_second() + i64::try_from(INBOX_RETENTION.as_secs()).unwrap_or(0);
    let item = Item::from_record(&inbox_key(&notice.user_id, event_id), &entry)?.with(attr::TTL, expires);
    // The entry and its count in one transaction: a redelivered notice fails the condition
    // and counts nothing.
    match store.transact(vec![WriteOp::create(item), inbox::count_one_more(&notice.user_id)]).await {
        Ok(()) => Ok(()),
        Err(e) if e.is_condition_failed_at(0) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
