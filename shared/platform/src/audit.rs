//! Audit trail: immutable records of every change of consequence (who, what, on which entity,
//! from where, when), written in the same transaction as the change they describe.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::store::{Item, Key, StoreError, WriteOp, attr};

/// Audit partitions per day, so a busy day has no hot key.
const SHARDS: u32 = 8;

/// Where a request came from, for audit and rate limits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestMeta {
    /// Client IP address, as the edge saw it.
    pub ip: String,
    /// `User-Agent`, truncated.
    pub user_agent: String,
}

impl RequestMeta {
    /// Meta from raw header values (the user agent is cut to 256 characters).
    pub fn new(ip: impl Into<String>, user_agent: &str) -> RequestMeta {
        RequestMeta { ip: ip.into(), user_agent: user_agent.chars().take(256).collect() }
    }
}

/// One audit event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Unique id.
    pub id: String,
    /// When.
    pub at: Timestamp,
    /// Who did it (absent for anonymous actions such as a failed login).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// What, e.g. `auth.login_failed`.
    pub action: String,
    /// Kind of entity, e.g. `user`.
    pub entity: String,
    /// Which entity.
    pub entity_id: String,
    /// The studio it belongs to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub studio_id: Option<String>,
    /// From where.
    pub ip: String,
    /// With what.
    pub user_agent: String,
    /// What changed, or details (never secrets); `null` (stored as absent) when there is none.
    #[serde(default)]
    pub changes: serde_json::Value,
}

/// The create-only write of an event: the main item is partitioned by day (platform view);
/// index 1 lists a studio's events, index 2 an actor's.
pub fn record(event: &AuditEvent) -> Result<WriteOp, StoreError> {
    let day = event.at.strftime("%Y-%m-%d");
    let shard = crate::stable_shard(&event.id, SHARDS);
    // Fixed-width instants, so that string order is time order.
    let sort = format!("{}#{}", event.at.strftime("%Y-%m-%dT%H:%M:%S%.6fZ"), event.id);
    let mut item = Item::from_record(&Key::new(format!("AUDIT#{day}#{shard}"), sort.clone()), event)?;
    if let Some(studio) = &event.studio_id {
        item.set(attr::GSI1PK, format!("STUDIO#{studio}#AUDIT"));
        item.set(attr::GSI1SK, sort.clone());
    }
    if let Some(actor) = &event.actor {
        item.set(attr::GSI2PK, format!("USER#{actor}#AUDIT"));
        item.set(attr::GSI2SK, sort);
    }
    Ok(WriteOp::create(item))
}

/// The partitions holding one day's events.
pub fn day_partitions(day: jiff::civil::Date) -> Vec<String> {
    (0..SHARDS).map(|shard| format!("AUDIT#{day}#{shard}")).collect()
}

/// Index partition of an actor's events (index 2).
pub fn actor_partition(user_id: &str) -> String {
    format!("USER#{user_id}#AUDIT")
}

/// Index partition of a studio's events (index 1).
pub fn studio_partition(studio_id: &str) -> String {
    format!("STUDIO#{studio_id}#AUDIT")
}
