//! From an event to the connections that follow it: the change is added to its studio's feed
//! (and each client's), then sent to every subscriber still allowed to see it. A connection
//! the push finds gone is forgotten. Run by the notifications worker on AWS, by the outbox tap
//! on the local server: the same code either way.

use std::sync::Arc;

use async_trait::async_trait;
use atelier_domain::identity::Role;
use atelier_domain::ids::{StudioId, UserId};
use atelier_platform::access::{Membership, member_key};
use atelier_platform::events::Event;
use atelier_platform::push::{PushError, Pusher};
use atelier_platform::store::{Item, Key, Query, SortKey, WriteOp, attr};
use atelier_platform::worker::{EventHandler, HandlerError};
use atelier_platform::{AppError, Platform};
use futures_util::future::join_all;
use jiff::SignedDuration;

use crate::changes::{self, Audience, Change};
use crate::connections::{self, Subscriber};
use crate::protocol::{MAX_CATCH_UP, ServerMessage};

/// How long the feed keeps a change for clients catching up after a reconnect.
pub const FEED_RETENTION: SignedDuration = SignedDuration::from_hours(24);

/// What a fan-out did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FanOutReport {
    /// Messages delivered.
    pub sent: usize,
    /// Connections found closed, and forgotten.
    pub gone: usize,
    /// Subscribers no longer allowed (left the studio, lost the role): not told.
    pub refused: usize,
    /// Pushes that failed for another reason (the change stays in the feed).
    pub failed: usize,
}

/// Partition of a studio's feed.
pub fn studio_feed(studio_id: &StudioId) -> String {
    format!("LIVE#FEED#STUDIO#{studio_id}")
}

/// Partition of a client's feed.
pub fn user_feed(user_id: &UserId) -> String {
    format!("LIVE#FEED#USER#{user_id}")
}

fn feed_item(
    platform: &Platform,
    partition: String,
    change: &Change,
    role: Option<Role>,
) -> Result<Item, AppError> {
    let expires = platform.clock.now().as_second() + FEED_RETENTION.as_secs();
    let body = serde_json::to_string(change).map_err(|e| AppError::failed("encoding a change", e))?;
    let mut item =
        Item::new(&Key::new(partition, change.cursor.clone())).with("change", body).with(attr::TTL, expires);
    if let Some(role) = role {
        item.set("role", role.as_str());
    }
    Ok(item)
}

/// Pushes the change `event` makes to everyone following it.
pub async fn fan_out(
    platform: &Platform,
    pusher: &dyn Pusher,
    event: &Event,
) -> Result<FanOutReport, AppError> {
    let Some((change, audience)) = changes::of_event(event) else {
        return Ok(FanOutReport::default());
    };
    // The feed first: a client that reconnects right after the push can already catch up.
    let mut feed =
        vec![feed_item(platform, studio_feed(&audience.studio_id), &change, Some(audience.staff_role))?];
    for client in &audience.clients {
        feed.push(feed_item(platform, user_feed(client), &change, None)?);
    }
    let writes = feed.into_iter().map(|item| platform.store.write_relaxed(WriteOp::put(item)));
    for written in join_all(writes).await {
        written?;
    }

    let staff =
        connections::subscribers(platform, connections::studio_partition(&audience.studio_id)).await?;
    let (allowed, mut report) = still_allowed(platform, &audience, staff).await?;
    let mut targets = allowed;
    for client in &audience.clients {
        targets.extend(connections::subscribers(platform, connections::user_partition(client)).await?);
    }
    targets.sort_by(|a, b| a.connection_id.cmp(&b.connection_id));
    targets.dedup_by(|a, b| a.connection_id == b.connection_id);

    let text = ServerMessage::Changed(change).to_text();
    let text = &text;
    let pushes = targets.iter().map(|t| async move { (t, pusher.post(&t.connection_id, text).await) });
    for (target, pushed) in join_all(pushes).await {
        match pushed {
            Ok(()) => report.sent += 1,
            Err(PushError::Gone(_)) => {
                report.gone += 1;
                connections::close(platform, &target.connection_id).await?;
            }
            Err(e) => {
                report.failed += 1;
                tracing::warn!(error = %e, connection = %target.connection_id, "live push failed");
            }
        }
    }
    Ok(report)
}

/// The staff subscribers who still have the role the change needs (memberships are read now,
/// not trusted from when they subscribed).
async fn still_allowed(
    platform: &Platform,
    audience: &Audience,
    staff: Vec<Subscriber>,
) -> Result<(Vec<Subscriber>, FanOutReport), AppError> {
    let keys: Vec<Key> =
        staff.iter().filter(|s| !s.is_admin).map(|s| member_key(&audience.studio_id, &s.user_id)).collect();
    let members: Vec<Membership> =
        platform.store.get_many(&keys).await?.iter().filter_map(|i| i.to_record().ok()).collect();
    let mut report = FanOutReport::default();
    let mut allowed = Vec::new();
    for subscriber in staff {
        let role_ok = subscriber.is_admin
            || members
                .iter()
                .any(|m| m.user_id == subscriber.user_id && m.role.includes(audience.staff_role));
        if role_ok {
            allowed.push(subscriber);
        } else {
            report.refused += 1;
        }
    }
    Ok((allowed, report))
}

/// The changes after `cursor` that a connection follows and may see, oldest first; `None` when
/// there are too many, or the cursor is older than the feed keeps: the client refetches.
pub async fn since(
    platform: &Platform,
    connection: &connections::Connection,
    cursor: &str,
) -> Result<Option<Vec<Change>>, AppError> {
    let oldest = platform.clock.now().as_millisecond() - FEED_RETENTION.as_millis() as i64;
    let at: i64 = cursor.split('-').next().and_then(|ms| ms.parse().ok()).ok_or_else(|| {
        AppError::BadRequest("a cursor is one a change was sent with (`<millis>-<id>`)".into())
    })?;
    if at < oldest {
        return Ok(None);
    }
    let mut partitions: Vec<(String, Option<Role>)> = Vec::new();
    if !connection.studios.is_empty() {
        let role_of = roles(platform, connection).await?;
        for studio in &connection.studios {
            partitions.push((studio_feed(studio), role_of(studio)));
        }
    }
    if connection.mine {
        partitions.push((user_feed(&connection.user_id), Some(Role::Owner)));
    }
    let mut changes = Vec::new();
    for (partition, role) in partitions {
        let Some(role) = role else { continue };
        let query =
            Query::partition(partition).sort(SortKey::Gt(cursor.to_owned())).limit(MAX_CATCH_UP as u32 + 1);
        let items = platform.store.query(&query).await?.items;
        if items.len() > MAX_CATCH_UP {
            return Ok(None);
        }
        for item in items {
            let needed = item
                .string("role")
                .ok()
                .and_then(|r| Role::ALL.into_iter().find(|role| role.as_str() == r))
                .unwrap_or(Role::Professional);
            if role.includes(needed) {
                changes.push(
                    serde_json::from_str::<Change>(item.string("change")?)
                        .map_err(|e| AppError::failed("reading a change", e))?,
                );
            }
        }
    }
    if changes.len() > MAX_CATCH_UP {
        return Ok(None);
    }
    changes.sort_by(|a, b| a.cursor.cmp(&b.cursor));
    changes.dedup_by(|a, b| a.cursor == b.cursor);
    Ok(Some(changes))
}

/// The caller's role now in each studio the connection follows (admins: owner everywhere).
async fn roles(
    platform: &Platform,
    connection: &connections::Connection,
) -> Result<impl Fn(&StudioId) -> Option<Role>, AppError> {
    let keys: Vec<Key> = connection.studios.iter().map(|s| member_key(s, &connection.user_id)).collect();
    let members: Vec<Membership> =
        platform.store.get_many(&keys).await?.iter().filter_map(|i| i.to_record().ok()).collect();
    let admin = connection.is_admin;
    Ok(move |studio: &StudioId| {
        if admin {
            return Some(Role::Owner);
        }
        members.iter().find(|m| m.studio_id == *studio).map(|m| m.role)
    })
}

/// Pushes live changes from the notifications queue (AWS: API Gateway's management API).
struct LiveChanges {
    platform: Platform,
    pusher: Arc<dyn Pusher>,
}

#[async_trait]
impl EventHandler for LiveChanges {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let report = fan_out(&self.platform, self.pusher.as_ref(), event).await?;
        tracing::debug!(?report, kind = %event.kind, "live changes pushed");
        Ok(())
    }
}

/// The handlers that push live changes, when the platform has a pusher (a deployed WebSocket
/// API); none otherwise. Delivery is best effort: a push that fails is not retried (the feed
/// has the change for `since`), so a redelivered event does not repeat it to everyone else.
pub fn handlers(platform: &Platform) -> Vec<(&'static str, Arc<dyn EventHandler>)> {
    let Some(pusher) = platform.push.clone() else {
        return Vec::new();
    };
    let handler: Arc<dyn EventHandler> = Arc::new(LiveChanges { platform: platform.clone(), pusher });
    changes::KINDS.iter().map(|kind| (*kind, handler.clone())).collect()
}
