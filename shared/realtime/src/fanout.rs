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
    audience: Option<&Audience>,
) -> Result<Item, AppError> {
    let expires = platform.clock.now().as_second() + FEED_RETENTION.as_secs();
    let body = serde_json::to_string(change).map_err(|e| AppError::failed("encoding a change", e))?;
    let mut item =
        Item::new(&Key::new(partition, change.cursor.clone())).with("change", body).with(attr::TTL, expires);
    // A studio feed keeps who may be told, for `since` to apply the same rule as the push.
    if let Some(audience) = audience {
        item.set("role", audience.staff_role.as_str());
        if let Some(professional) = &audience.professional_id {
            item.set("professional_id", professional.as_str());
        }
    }
    Ok(item)
}

/// Pushes the change `event` makes to everyone following it who may see it.
pub async fn fan_out(
    platform: &Platform,
    pusher: &dyn Pusher,
    event: &Event,
) -> Result<FanOutReport, AppError> {
    // Taken now, not from the event: a late or retried push still sorts after whatever the
    // client saw before it, so `since` replays it.
    let cursor = platform.ids.new_id();
    let Some((change, audience)) = changes::of_event(event, cursor) else {
        return Ok(FanOutReport::default());
    };
    // The feed first: a client that reconnects right after the push can already catch up.
    let mut feed = vec![feed_item(platform, studio_feed(&audience.studio_id), &change, Some(&audience))?];
    for client in &audience.clients {
        feed.push(feed_item(platform, user_feed(client), &change, None)?);
    }
    let writes = feed.into_iter().map(|item| platform.store.write_relaxed(WriteOp::put(item)));
    for written in join_all(writes).await {
        written?;
    }

    let mut candidates: Vec<(Subscriber, bool)> =
        connections::subscribers(platform, connections::studio_partition(&audience.studio_id))
            .await?
            .into_iter()
            .map(|s| (s, true))
            .collect();
    for client in &audience.clients {
        let own = connections::subscribers(platform, connections::user_partition(client)).await?;
        candidates.extend(own.into_iter().map(|s| (s, false)));
    }
    let (targets, mut report) = still_allowed(platform, &audience, candidates).await?;

    let text = ServerMessage::Changed(change).to_text();
    let text = &text;
    let pushes = targets.iter().map(|t| async move { (t, pusher.post(&t.connection_id, text).await) });
    for (target, pushed) in join_all(pushes).await {
        match pushed {
            Ok(()) => report.sent += 1,
            Err(PushError::Gone(_)) => {
                report.gone += 1;
                connections::forget(platform, target).await?;
            }
            Err(e) => {
                report.failed += 1;
                tracing::warn!(error = %e, connection = %target.connection_id, "live push failed");
            }
        }
    }
    Ok(report)
}

/// The subscribers still allowed, read now rather than trusted from when they subscribed: the
/// session still signed in, and for staff the role (and, for a professional, the agenda) the
/// change needs. One connection is told once, however many ways it follows the change.
async fn still_allowed(
    platform: &Platform,
    audience: &Audience,
    candidates: Vec<(Subscriber, bool)>,
) -> Result<(Vec<Subscriber>, FanOutReport), AppError> {
    let member_keys: Vec<Key> = candidates
        .iter()
        .filter(|(s, staff)| *staff && !s.is_admin)
        .map(|(s, _)| member_key(&audience.studio_id, &s.user_id))
        .collect();
    let members: Vec<Membership> =
        platform.store.get_many(&member_keys).await?.iter().filter_map(|i| i.to_record().ok()).collect();
    let sessions: Vec<(&UserId, &str)> =
        candidates.iter().map(|(s, _)| (&s.user_id, s.session_id.as_str())).collect();
    let live = connections::live_sessions(platform, &sessions).await?;
    let mut report = FanOutReport::default();
    let mut allowed: Vec<Subscriber> = Vec::new();
    for (subscriber, staff) in candidates {
        let signed_in = live.iter().any(|(u, s)| *u == subscriber.user_id && *s == subscriber.session_id);
        let may_see = !staff
            || subscriber.is_admin
            || members
                .iter()
                .find(|m| m.user_id == subscriber.user_id)
                .is_some_and(|m| audience.tells(Some(m.role), &subscriber.user_id));
        if !(signed_in && may_see) {
            report.refused += 1;
        } else if !allowed.iter().any(|a| a.connection_id == subscriber.connection_id) {
            allowed.push(subscriber);
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
    let at = ulid::Ulid::from_string(cursor)
        .map_err(|_| AppError::BadRequest("a cursor is one a change was sent with (a ULID)".into()))?
        .timestamp_ms();
    let oldest =
        platform.clock.now().as_millisecond() - i64::try_from(FEED_RETENTION.as_millis()).unwrap_or(i64::MAX);
    if i64::try_from(at).unwrap_or(i64::MAX) < oldest {
        return Ok(None);
    }
    let mut partitions: Vec<(String, Option<Option<Role>>)> = Vec::new();
    if !connection.studios.is_empty() {
        let role_of = roles(platform, connection).await?;
        for studio in &connection.studios {
            // Some(None): an admin; None: no longer a member.
            partitions.push((studio_feed(studio), role_of(studio)));
        }
    }
    if connection.mine {
        partitions.push((user_feed(&connection.user_id), Some(None)));
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
            let staff_role = item
                .string("role")
                .ok()
                .and_then(|r| Role::ALL.into_iter().find(|role| role.as_str() == r))
                .unwrap_or(Role::Professional);
            let audience = Audience {
                studio_id: StudioId::new(""),
                staff_role,
                professional_id: item.string("professional_id").ok().map(UserId::new),
                clients: Vec::new(),
            };
            if audience.tells(role, &connection.user_id) {
                let change = serde_json::from_str::<Change>(item.string("change")?)
                    .map_err(|e| AppError::failed("reading a change", e))?;
                changes.push(change);
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

/// The caller's role now in each studio the connection follows: `Some(None)` for an admin,
/// `None` for a studio they are no longer a member of.
async fn roles(
    platform: &Platform,
    connection: &connections::Connection,
) -> Result<impl Fn(&StudioId) -> Option<Option<Role>>, AppError> {
    let keys: Vec<Key> = connection.studios.iter().map(|s| member_key(s, &connection.user_id)).collect();
    let members: Vec<Membership> =
        platform.store.get_many(&keys).await?.iter().filter_map(|i| i.to_record().ok()).collect();
    let admin = connection.is_admin;
    Ok(move |studio: &StudioId| {
        if admin {
            return Some(None);
        }
        members.iter().find(|m| m.studio_id == *studio).map(|m| Some(m.role))
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
