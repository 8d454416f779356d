//! Notices to people and to studios' systems. Capabilities stage events in the outbox; the
//! notifications worker turns them into notices — rendered from a template in the recipient's
//! language, sent on the channels the recipient and the studio chose (the in-app inbox, email,
//! SMS), each at most once per event, recipient and channel — and into signed webhook messages
//! for the studio's endpoints, retried on a published schedule with a delivery log and replay.

pub mod delivery;
pub mod inbox;
pub mod preferences;
pub mod routes;
pub mod templates;
pub mod topics;
pub mod webhooks;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use atelier_domain::ids::{StudioId, UserId};
use atelier_domain::language::Language;
use atelier_platform::events::Event;
use atelier_platform::queue::QueueName;
use atelier_platform::store::{Item, Key, Store, WriteOp, attr};
use atelier_platform::worker::{EventHandler, HandlerError};

pub use templates::Var;
pub use topics::{Channel, Topic};

/// The handlers this capability runs on the notifications queue, by event kind.
pub fn handlers(platform: &atelier_platform::Platform) -> Vec<(&'static str, Arc<dyn EventHandler>)> {
    vec![(NOTICE, NoticeDelivery::new(platform.clone()))]
}

/// Event kind of a notice.
pub const NOTICE: &str = "notice";

/// The queue notices and the domain events that lead to notices travel on.
pub const QUEUE: QueueName = QueueName::named("notifications");
/// Notices leave the inbox after this long.
pub const INBOX_RETENTION: Duration = Duration::from_secs(90 * 24 * 3600);

/// Who a notice is for, with what they can be reached on (resolved by the capability that
/// knows them, when the event is handled, so a changed address is used).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    /// Their account, for the inbox and their preferences (absent for a client without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
    /// Name, for greetings.
    pub name: String,
    /// Email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Phone number (E.164).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// The language they chose (absent: the studio's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<Language>,
}

/// The studio a notice is about: its templates, defaults, zone and language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StudioContext {
    /// Id.
    pub id: StudioId,
    /// Name.
    pub name: String,
    /// IANA zone its times are shown in.
    pub time_zone: String,
    /// Language of people who chose none.
    #[serde(default)]
    pub language: Language,
}

/// What to tell whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// What it is about.
    pub topic: Topic,
    /// The recipient.
    pub to: Recipient,
    /// The studio, for notices about one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub studio: Option<StudioContext>,
    /// The template's variables.
    #[serde(default)]
    pub vars: BTreeMap<String, Var>,
}

impl Notice {
    /// A notice of `topic` to `to`.
    pub fn new(topic: Topic, to: Recipient) -> Notice {
        Notice { topic, to, studio: None, vars: BTreeMap::new() }
    }

    /// About `studio`.
    pub fn in_studio(mut self, studio: StudioContext) -> Notice {
        self.studio = Some(studio);
        self
    }

    /// With variable `name`.
    pub fn with(mut self, name: &str, value: Var) -> Notice {
        self.vars.insert(name.to_owned(), value);
        self
    }
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
        trace: None,
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

/// Delivers `notice` events staged by other capabilities.
pub struct NoticeDelivery {
    platform: atelier_platform::Platform,
}

impl NoticeDelivery {
    /// Delivery with the platform's store and channels.
    pub fn new(platform: atelier_platform::Platform) -> Arc<NoticeDelivery> {
        Arc::new(NoticeDelivery { platform })
    }
}

#[async_trait]
impl EventHandler for NoticeDelivery {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let notice: Notice = serde_json::from_value(event.payload.clone())
            .map_err(|e| HandlerError::failed("malformed notice", e))?;
        delivery::dispatch(&self.platform, &event.id, event.occurred_at, &notice).await
    }
}

/// Puts a rendered notice in its recipient's inbox under `event_id`; delivering the same event
/// again finds the entry there and adds nothing. True when this call put it there.
pub async fn deliver_in_app(
    store: &Store,
    event_id: &str,
    occurred_at: Timestamp,
    user_id: &UserId,
    topic: Topic,
    rendered: &templates::Rendered,
) -> Result<bool, HandlerError> {
    let entry = InboxEntry {
        id: event_id.to_owned(),
        topic: topic.as_str().to_owned(),
        title: rendered.subject.clone(),
        body: rendered.text.clone(),
        created_at: occurred_at,
        read: false,
        archived: false,
    };
    let expires = occurred_at.as_second() + i64::try_from(INBOX_RETENTION.as_secs()).unwrap_or(0);
    let item = Item::from_record(&inbox_key(user_id, event_id), &entry)?.with(attr::TTL, expires);
    // The entry and its count in one transaction: a redelivered notice fails the condition
    // and counts nothing.
    match store.transact(vec![WriteOp::create(item), inbox::count_one_more(user_id)]).await {
        Ok(()) => Ok(true),
        Err(e) if e.is_condition_failed_at(0) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
