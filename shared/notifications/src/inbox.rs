//! The inbox API: a signed-in user's notices, newest first; an unread count kept as a counter
//! item (reading it is one `GetItem`, never a page walk); read, read-all and archive.
//!
//! The counter moves in the same transaction as the entry it counts: a delivery creates the
//! entry and adds one, marking read flips `read` on an unread entry and subtracts one. A
//! redelivered notice or a second "read" fails its condition and changes nothing, so the
//! count stays exact under SQS redelivery and concurrent clicks.

use atelier_domain::ids::{NotificationId, UserId};
use atelier_platform::store::{
    Condition, Cursor, Item, Key, Query, SortKey, StoreError, UpdateAction, Value, WriteOp,
};
use atelier_platform::{AppError, Platform};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{InboxEntry, inbox_key};

/// Sort-key prefix of inbox entries (event ids are ULIDs: newest last).
const ENTRY_PREFIX: &str = "NOTIFICATION#";
/// Most entries one "mark all read" flips.
pub const READ_ALL_MAX: usize = 1000;

/// Key of a user's unread counter.
pub fn unread_key(user_id: &UserId) -> Key {
    Key::new(format!("USER#{user_id}"), "NOTIFICATIONS#UNREAD")
}

/// The write that adds one to a user's unread count (in a delivery's transaction).
pub fn count_one_more(user_id: &UserId) -> WriteOp {
    WriteOp::update(unread_key(user_id), vec![UpdateAction::Add("n".into(), 1)])
}

/// A notice as its recipient sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct NotificationView {
    /// Id (the event's).
    pub id: String,
    /// What it is about (`booking_confirmed`, `password_changed`, …).
    pub topic: String,
    /// One line.
    pub title: String,
    /// The message.
    pub body: String,
    /// When it happened.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Whether the recipient has read it.
    pub read: bool,
    /// Whether the recipient has put it away (archived notices are listed only on request).
    pub archived: bool,
}

impl From<InboxEntry> for NotificationView {
    fn from(entry: InboxEntry) -> NotificationView {
        NotificationView {
            id: entry.id,
            topic: entry.topic,
            title: entry.title,
            body: entry.body,
            created_at: entry.created_at,
            read: entry.read,
            archived: entry.archived,
        }
    }
}

/// Which notices to list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReadFilter {
    /// Read and unread.
    #[default]
    All,
    /// Only unread.
    Unread,
    /// Only read.
    Read,
}

/// Filters of the inbox list.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InboxFilter {
    /// `all` (default), `unread` or `read`.
    #[serde(default)]
    pub status: ReadFilter,
    /// `true`: the archived notices instead of the others.
    #[serde(default)]
    pub archived: bool,
}

/// The unread count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct UnreadCount {
    /// Unread notices in the inbox, archived ones excluded.
    pub unread: i64,
}

/// What "mark all read" did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct MarkedRead {
    /// Notices it marked read.
    pub marked: usize,
    /// Whether unread notices remain (more than it marks at once): call it again.
    pub more: bool,
}

fn entries(user_id: &UserId) -> Query {
    Query::partition(format!("USER#{user_id}")).sort(SortKey::BeginsWith(ENTRY_PREFIX.to_owned()))
}

fn keep(filter: &InboxFilter) -> impl Fn(&Item) -> bool + use<> {
    let filter = filter.clone();
    move |item: &Item| {
        let read = matches!(item.get("read"), Some(Value::Bool(true)));
        let archived = matches!(item.get("archived"), Some(Value::Bool(true)));
        archived == filter.archived
            && match filter.status {
                ReadFilter::All => true,
                ReadFilter::Unread => !read,
                ReadFilter::Read => read,
            }
    }
}

/// A page of the user's notices, newest first.
pub async fn list(
    platform: &Platform,
    user_id: &UserId,
    filter: &InboxFilter,
    page: impl FnOnce(Query) -> Result<Query, AppError>,
) -> Result<(Vec<NotificationView>, Option<Cursor>), AppError> {
    let query = page(entries(user_id).descending())?;
    let found = platform.store.query_filtered(query, keep(filter), 10).await?;
    let views = found
        .items
        .iter()
        .map(|item| item.to_record::<InboxEntry>().map(NotificationView::from))
        .collect::<Result<_, StoreError>>()?;
    Ok((views, found.next))
}

/// The user's unread count: one read of the counter.
pub async fn unread(platform: &Platform, user_id: &UserId) -> Result<UnreadCount, AppError> {
    let counter = platform.store.get(&unread_key(user_id)).await?;
    let n = counter.map(|c| c.number("n")).transpose()?.unwrap_or(0);
    Ok(UnreadCount { unread: n.max(0) })
}

async fn entry(platform: &Platform, user_id: &UserId, id: &NotificationId) -> Result<InboxEntry, AppError> {
    let item = platform
        .store
        .get(&inbox_key(user_id, id.as_str()))
        .await?
        .ok_or(AppError::NotFound("notification"))?;
    Ok(item.to_record()?)
}

/// Marks one unread, unarchived entry read and counts it off, in one transaction; `false` if
/// its condition failed (read or archived meanwhile).
async fn flip_read(
    platform: &Platform,
    user_id: &UserId,
    id: &NotificationId,
    archive: bool,
) -> Result<bool, AppError> {
    let mut actions = vec![UpdateAction::Set("read".into(), Value::Bool(true))];
    if archive {
        actions.push(UpdateAction::Set("archived".into(), Value::Bool(true)));
    }
    let ops = vec![
        WriteOp::Update {
            key: inbox_key(user_id, id.as_str()),
            actions,
            condition: Some(Condition::And(vec![
                Condition::Exists,
                Condition::Eq("read".into(), Value::Bool(false)),
                Condition::Not(Box::new(Condition::Eq("archived".into(), Value::Bool(true)))),
            ])),
        },
        WriteOp::update(unread_key(user_id), vec![UpdateAction::Add("n".into(), -1)]),
    ];
    match platform.store.transact(ops).await {
        Ok(()) => Ok(true),
        Err(e) if e.is_condition_failed_at(0) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Marks a notice read (reading it twice changes nothing).
pub async fn mark_read(
    platform: &Platform,
    user_id: &UserId,
    id: &NotificationId,
) -> Result<NotificationView, AppError> {
    let mut current = entry(platform, user_id, id).await?;
    // Flipped now or read before (an archived notice is read too): read either way.
    flip_read(platform, user_id, id, false).await?;
    current.read = true;
    Ok(current.into())
}

/// Archives a notice (an unread one is counted off as read).
pub async fn archive(
    platform: &Platform,
    user_id: &UserId,
    id: &NotificationId,
) -> Result<NotificationView, AppError> {
    let mut current = entry(platform, user_id, id).await?;
    if !current.archived && !flip_read(platform, user_id, id, true).await? {
        // Read already (or meanwhile): archiving changes no count.
        let op = WriteOp::Update {
            key: inbox_key(user_id, id.as_str()),
            actions: vec![UpdateAction::Set("archived".into(), Value::Bool(true))],
            condition: Some(Condition::Exists),
        };
        match platform.store.write(op).await {
            Ok(_) => {}
            Err(StoreError::ConditionFailed { .. }) => return Err(AppError::NotFound("notification")),
            Err(e) => return Err(e.into()),
        }
    }
    // Archived now or before, and read: archiving an unread notice reads it.
    current.archived = true;
    current.read = true;
    Ok(current.into())
}

/// Marks every unread notice read, newest first, up to [`READ_ALL_MAX`] at a time.
pub async fn mark_all_read(platform: &Platform, user_id: &UserId) -> Result<MarkedRead, AppError> {
    let filter = InboxFilter { status: ReadFilter::Unread, archived: false };
    let query = entries(user_id).descending().limit(100);
    let mut marked = 0;
    let mut cursor: Option<Cursor> = None;
    loop {
        let query = match cursor.take() {
            Some(c) => query.clone().after(c),
            None => query.clone(),
        };
        let page = platform.store.query_filtered(query, keep(&filter), 10).await?;
        for item in &page.items {
            if marked == READ_ALL_MAX {
                return Ok(MarkedRead { marked, more: true });
            }
            if flip_read(platform, user_id, &NotificationId::new(item.string("id")?), false).await? {
                marked += 1;
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => {
                settle(platform, user_id).await?;
                return Ok(MarkedRead { marked, more: false });
            }
        }
    }
}

/// After every unread entry was marked read, whatever the counter still holds is drift: unread
/// entries that expired (90-day TTL) and so were never counted off. Set it to 0, unless a
/// delivery moved it meanwhile (then it is left for the next "read all").
async fn settle(platform: &Platform, user_id: &UserId) -> Result<(), AppError> {
    let Some(counter) = platform.store.get(&unread_key(user_id)).await? else { return Ok(()) };
    let n = counter.number("n")?;
    if n == 0 {
        return Ok(());
    }
    // Read after the counter: a notice delivered before that read is found here (and the count
    // is right), one delivered after it moves `n` and fails the condition below.
    let unread_filter = InboxFilter { status: ReadFilter::Unread, archived: false };
    let unread = platform.store.query_filtered(entries(user_id).limit(100), keep(&unread_filter), 10).await?;
    if !unread.items.is_empty() || unread.next.is_some() {
        return Ok(());
    }
    let op = WriteOp::Update {
        key: unread_key(user_id),
        actions: vec![UpdateAction::Set("n".into(), Value::N(0))],
        condition: Some(Condition::Eq("n".into(), Value::N(n))),
    };
    match platform.store.write(op).await {
        Ok(_) | Err(StoreError::ConditionFailed { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
