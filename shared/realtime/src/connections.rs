//! Open connections and what they follow, in the single table:
//!
//! - `WSCONN#<connection>` / `CONNECTION`: who opened it, what it follows;
//! - `LIVE#STUDIO#<studio>` / `CONN#<connection>`: a staff subscription (the fan-out queries
//!   the studio's partition);
//! - `LIVE#USER#<user>` / `CONN#<connection>`: a client's own-bookings subscription.
//!
//! Every item expires with the connection (TTL two hours after it opened: API Gateway closes
//! every connection by then), so a connection whose close was never seen cannot linger.

use atelier_domain::ids::{StudioId, UserId};
use atelier_platform::access::{Authenticated, Membership, member_key};
use atelier_platform::store::{Condition, Item, Key, Query, StoreError, WriteOp, attr};
use atelier_platform::{AppError, Platform};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// How long a connection's records live: API Gateway's limit on a connection's life.
pub const LIFETIME: SignedDuration = SignedDuration::from_hours(2);

/// A connection as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    /// API Gateway's connection id (or the local server's).
    pub id: String,
    /// Who opened it.
    pub user_id: UserId,
    /// The session its token belonged to: signing out (or a revoked session) ends what the
    /// connection is told.
    #[serde(default)]
    pub session_id: String,
    /// A platform administrator follows any studio.
    #[serde(default)]
    pub is_admin: bool,
    /// When it opened.
    pub connected_at: Timestamp,
    /// When its records expire.
    pub expires_at: Timestamp,
    /// Studios followed as staff.
    #[serde(default)]
    pub studios: Vec<StudioId>,
    /// Own bookings followed.
    #[serde(default)]
    pub mine: bool,
    /// Bumped by every change of what it follows: subscribes and the close are conditioned on
    /// it, so racing ones never leave subscription items the record does not name.
    #[serde(default)]
    pub version: i64,
}

/// Key of a connection.
pub fn connection_key(id: &str) -> Key {
    Key::new(format!("WSCONN#{id}"), "CONNECTION")
}

/// Partition of a studio's staff subscriptions.
pub fn studio_partition(studio_id: &StudioId) -> String {
    format!("LIVE#STUDIO#{studio_id}")
}

/// Partition of a client's own-bookings subscriptions.
pub fn user_partition(user_id: &UserId) -> String {
    format!("LIVE#USER#{user_id}")
}

fn subscription_key(partition: String, connection: &str) -> Key {
    Key::new(partition, format!("CONN#{connection}"))
}

impl Connection {
    fn ttl(&self) -> i64 {
        self.expires_at.as_second()
    }

    fn to_item(&self) -> Result<Item, StoreError> {
        Ok(Item::from_record(&connection_key(&self.id), self)?.with(attr::TTL, self.ttl()))
    }

    /// The subscription items the connection's current choice needs.
    fn subscription_keys(&self) -> Vec<Key> {
        let mut keys: Vec<Key> =
            self.studios.iter().map(|s| subscription_key(studio_partition(s), &self.id)).collect();
        if self.mine {
            keys.push(subscription_key(user_partition(&self.user_id), &self.id));
        }
        keys
    }

    fn subscription_item(&self, key: &Key) -> Item {
        Item::new(key)
            .with("connection_id", self.id.as_str())
            .with("user_id", self.user_id.as_str())
            .with("session_id", self.session_id.as_str())
            .with("is_admin", self.is_admin)
            .with(attr::TTL, self.ttl())
    }
}

/// Records a connection opened by `who` (nothing followed yet).
pub async fn open(platform: &Platform, who: &Authenticated, id: &str) -> Result<Connection, AppError> {
    let now = platform.clock.now();
    let connection = Connection {
        id: id.to_owned(),
        user_id: who.caller.user_id.clone(),
        session_id: who.caller.session_id.clone(),
        is_admin: who.caller.is_admin,
        connected_at: now,
        expires_at: now.saturating_add(LIFETIME).map_err(|e| AppError::failed("connection expiry", e))?,
        studios: Vec::new(),
        mine: false,
        version: 1,
    };
    platform.store.write(WriteOp::put(connection.to_item()?)).await?;
    Ok(connection)
}

/// The connection, if it is open.
pub async fn find(platform: &Platform, id: &str) -> Result<Option<Connection>, AppError> {
    match platform.store.get(&connection_key(id)).await? {
        Some(item) => Ok(Some(item.to_record()?)),
        None => Ok(None),
    }
}

/// Replaces what the connection follows. Every studio must be one the caller is staff of (or
/// they are an admin); otherwise nothing changes and the first such studio is reported as not
/// found, as the API answers a non-member (its existence is not confirmed).
pub async fn subscribe(
    platform: &Platform,
    connection: &Connection,
    studios: Vec<StudioId>,
    mine: bool,
) -> Result<Connection, AppError> {
    let mut studios = studios;
    studios.sort();
    studios.dedup();
    if studios.len() > crate::protocol::MAX_STUDIOS {
        return Err(AppError::BadRequest(format!(
            "a connection follows at most {} studios",
            crate::protocol::MAX_STUDIOS
        )));
    }
    for studio in &studios {
        if studio.len() > atelier_domain::ids::MAX_ID_BYTES {
            return Err(AppError::BadRequest(format!(
                "an id is at most {} bytes",
                atelier_domain::ids::MAX_ID_BYTES
            )));
        }
    }
    if !connection.is_admin {
        let keys: Vec<Key> = studios.iter().map(|s| member_key(s, &connection.user_id)).collect();
        let members = platform.store.get_many(&keys).await?;
        let member_of: Vec<StudioId> =
            members.iter().filter_map(|i| i.to_record::<Membership>().ok()).map(|m| m.studio_id).collect();
        if studios.iter().any(|s| !member_of.contains(s)) {
            return Err(AppError::NotFound("studio"));
        }
    }
    // Racing subscribes of one connection serialise on its version: the loser reads again and
    // replaces what the winner wrote.
    let mut current = connection.clone();
    for _ in 0..8 {
        let next =
            Connection { studios: studios.clone(), mine, version: current.version + 1, ..current.clone() };
        let keep = next.subscription_keys();
        let mut ops: Vec<WriteOp> = current
            .subscription_keys()
            .into_iter()
            .filter(|k| !keep.contains(k))
            .map(WriteOp::delete)
            .collect();
        ops.extend(keep.iter().map(|k| WriteOp::put(next.subscription_item(k))));
        ops.push(WriteOp::put(next.to_item()?).when(Condition::eq("version", current.version)));
        match platform.store.transact(ops).await {
            Ok(()) => return Ok(next),
            Err(StoreError::ConditionFailed { .. }) => {
                // Closed meanwhile (nothing to follow), or changed: read it again.
                current = find(platform, &connection.id).await?.ok_or(AppError::NotFound("connection"))?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Conflict(
        atelier_platform::error::CHANGED_MEANWHILE,
        "the subscription kept changing: send it again".into(),
    ))
}

/// Forgets a connection and its subscriptions (closed, or gone when pushed to). Safe to call
/// twice.
pub async fn close(platform: &Platform, id: &str) -> Result<(), AppError> {
    // A subscribe committing between the read and the delete would leave its new items behind:
    // the delete is conditioned on the version read, and read again when it moved.
    for _ in 0..8 {
        let Some(connection) = find(platform, id).await? else {
            return Ok(());
        };
        let mut ops: Vec<WriteOp> = connection.subscription_keys().into_iter().map(WriteOp::delete).collect();
        ops.push(WriteOp::Delete {
            key: connection_key(id),
            condition: Some(Condition::eq("version", connection.version)),
        });
        match platform.store.transact(ops).await {
            Ok(()) => return Ok(()),
            Err(StoreError::ConditionFailed { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Conflict(atelier_platform::error::CHANGED_MEANWHILE, "the connection kept changing".into()))
}

/// A subscriber found by the fan-out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriber {
    /// The subscription item (deleted when the connection is found gone).
    pub key: Key,
    /// The connection.
    pub connection_id: String,
    /// Its user.
    pub user_id: UserId,
    /// The session it was opened in.
    pub session_id: String,
    /// A platform administrator.
    pub is_admin: bool,
}

fn subscriber(item: &Item) -> Result<Subscriber, StoreError> {
    Ok(Subscriber {
        key: item.key().ok_or_else(|| StoreError::Decode("subscription without key".into()))?,
        connection_id: item.string("connection_id")?.to_owned(),
        user_id: UserId::new(item.string("user_id")?),
        session_id: item.string("session_id").map(str::to_owned).unwrap_or_default(),
        is_admin: matches!(item.get("is_admin"), Some(atelier_platform::store::Value::Bool(true))),
    })
}

/// Forgets a subscriber whose connection is gone: its own subscription item (even if a racing
/// subscribe wrote it after the connection's record was read), then the connection.
pub async fn forget(platform: &Platform, subscriber: &Subscriber) -> Result<(), AppError> {
    platform.store.write(WriteOp::delete(subscriber.key.clone())).await?;
    close(platform, &subscriber.connection_id).await
}

/// Whether the sessions of `users` (user, session) are still signed in, in one read.
pub async fn live_sessions(
    platform: &Platform,
    users: &[(&UserId, &str)],
) -> Result<Vec<(UserId, String)>, AppError> {
    let keys: Vec<Key> = users
        .iter()
        .filter(|(_, session)| !session.is_empty())
        .map(|(user, session)| atelier_platform::access::session_key(user, session))
        .collect();
    let items = platform.store.get_many(&keys).await?;
    Ok(items
        .iter()
        .filter(|item| atelier_platform::access::session_is_active(item))
        .filter_map(|item| {
            let key = item.key()?;
            let user = key.pk.strip_prefix("USER#")?;
            let session = key.sk.strip_prefix("SESSION#")?;
            Some((UserId::new(user), session.to_owned()))
        })
        .collect())
}

/// Most connections told of one change per audience partition (a studio's open tabs).
pub const MAX_SUBSCRIBERS: usize = 1_000;

/// The connections following `partition` (a studio's or a client's).
pub async fn subscribers(platform: &Platform, partition: String) -> Result<Vec<Subscriber>, AppError> {
    let items = platform.store.query_all(Query::partition(partition).limit(200), MAX_SUBSCRIBERS).await?;
    Ok(items.iter().filter_map(|item| subscriber(item).ok()).collect())
}
