//! Outbound webhooks: a studio's endpoints receive its events (bookings, the waitlist) as
//! signed HTTP POSTs (Standard Webhooks), for automation tools such as n8n or Zapier.
//!
//! Each (event, endpoint) is a message with a stable `webhook-id`. Its first attempt runs when
//! the worker handles the event; a failed attempt schedules the next one as a due item
//! ([`SCHEDULE`]) that the retry job picks up (never a sleeping function). Every attempt is
//! logged (status, latency, a bounded excerpt of the answer) and kept [`RETENTION`]. A message
//! whose last attempt fails is `failed`; a studio can replay one message or every failed
//! message of an endpoint since a time (same `webhook-id`, signed with the current secret). An
//! endpoint that has failed for [`DISABLE_AFTER`] is turned off when a message finally fails,
//! and an event tells the studio's owners.
//!
//! Delivery is at least once: a crash after the receiver answered and before the attempt was
//! recorded sends the message again, with the same `webhook-id`, for the receiver to dedupe.

pub mod routes;
pub mod signing;
pub mod targets;
pub mod transport;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use atelier_domain::Invalid;
use atelier_domain::ids::{StudioId, WebhookEndpointId, WebhookMessageId};
use atelier_platform::error::Reason;
use atelier_platform::events::Event;
use atelier_platform::store::{
    Condition, Item, Key, Query, SortKey, StoreError, UpdateAction, Value, WriteOp, attr,
};
use atelier_platform::worker::{EventHandler, HandlerError};
use atelier_platform::{AppError, Platform};
use bytes::Bytes;
use futures_util::StreamExt;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Delays before each attempt, from the event: immediately, then 5 s, 5 min, 30 min, 2 h, 5 h,
/// 10 h and 10 h after the attempt before (about 27.6 hours in all). The retry job runs every
/// minute, so an attempt goes out within a minute of falling due.
pub const SCHEDULE: [Duration; 8] = [
    Duration::ZERO,
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];
/// Messages and their attempts are kept this long.
pub const RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);
/// An endpoint failing without a success for this long is turned off.
pub const DISABLE_AFTER: Duration = Duration::from_secs(5 * 24 * 3600);
/// After a rotation, the previous secret still signs for this long.
pub const ROTATION_OVERLAP: Duration = Duration::from_secs(24 * 3600);
/// Most endpoints a studio may have.
pub const ENDPOINTS_MAX: usize = 20;
/// Most characters of a description.
pub const DESCRIPTION_MAX: usize = 500;
/// Most failed messages one replay request queues (call again while `more`).
pub const REPLAY_MAX: usize = 100;
/// Most messages one replay request reads.
const SCAN_MAX: usize = 5000;
/// How long an attempt holds its message: the HTTP timeout and a margin. A retry job that runs
/// meanwhile leaves the message alone; one that runs after a crash takes it.
const LEASE: Duration = Duration::from_secs(30);
/// How long one run of the retry job starts attempts for (the scheduler function has 60 s).
const JOB_BUDGET: Duration = Duration::from_secs(30);
/// Due retries one run of the job reads per shard.
const JOB_BATCH: usize = 100;
/// Due retries the job attempts at once.
const CONCURRENCY: usize = 16;
/// Kind name of retry due items.
const DUE_KIND: &str = "webhook";
/// Due items are spread over this many partitions.
const SHARDS: u32 = 4;

/// The test event a studio sends with "ping".
pub const PING: &str = "webhook.ping";
/// Raised when an endpoint is turned off for failing; the studios capability tells the owners.
pub const ENDPOINT_DISABLED: &str = "webhook.endpoint_disabled";
/// The event types a studio's endpoints can receive (an empty filter receives them all).
pub const EVENT_TYPES: [&str; 10] = [
    "booking.created",
    "booking.series_created",
    "booking.confirmed",
    "booking.rescheduled",
    "booking.cancelled",
    "booking.completed",
    "booking.no_show",
    "waitlist.offered",
    "payment.succeeded",
    "payment.refunded",
];

/// The studio already has [`ENDPOINTS_MAX`] endpoints.
pub const TOO_MANY_ENDPOINTS: Reason =
    Reason { slug: "too-many-endpoints", title: "Too many webhook endpoints" };
/// A replay of a message that is still being attempted.
pub const MESSAGE_PENDING: Reason = Reason { slug: "message-pending", title: "The message is still pending" };

/// An endpoint as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEndpoint {
    /// Id.
    pub id: WebhookEndpointId,
    /// Its studio.
    pub studio_id: StudioId,
    /// Where messages go.
    pub url: String,
    /// What it is for.
    #[serde(default)]
    pub description: String,
    /// Event types it receives; empty: all.
    #[serde(default)]
    pub event_types: Vec<String>,
    /// Whether messages go out.
    pub enabled: bool,
    /// The signing secret.
    pub secret: String,
    /// The secret before the last rotation, still signing until `previous_secret_until`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret: Option<String>,
    /// End of the rotation overlap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret_until: Option<Timestamp>,
    /// First failure since the last success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<Timestamp>,
    /// Why it was turned off, if it was turned off for failing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
}

/// An endpoint as the studio sees it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct EndpointView {
    /// Id.
    #[schema(value_type = String)]
    pub id: WebhookEndpointId,
    /// Where messages go.
    pub url: String,
    /// What it is for.
    pub description: String,
    /// Event types it receives; empty: all.
    pub event_types: Vec<String>,
    /// Whether messages go out.
    pub enabled: bool,
    /// Failing without a success since then.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub failing_since: Option<Timestamp>,
    /// Why it was turned off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    /// Created.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Last changed.
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

impl WebhookEndpoint {
    /// The studio's view.
    pub fn view(&self) -> EndpointView {
        EndpointView {
            id: self.id.clone(),
            url: self.url.clone(),
            description: self.description.clone(),
            event_types: self.event_types.clone(),
            enabled: self.enabled,
            failing_since: self.failing_since,
            disabled_reason: self.disabled_reason.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    fn receives(&self, event_type: &str) -> bool {
        self.enabled && (self.event_types.is_empty() || self.event_types.iter().any(|t| t == event_type))
    }

    fn secrets(&self, now: Timestamp) -> Vec<&str> {
        let mut secrets = vec![self.secret.as_str()];
        if let (Some(previous), Some(until)) = (&self.previous_secret, self.previous_secret_until)
            && until > now
        {
            secrets.push(previous);
        }
        secrets
    }
}

/// A new endpoint.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEndpoint {
    /// https URL (at most 2048 characters; no private addresses).
    pub url: String,
    /// What it is for.
    #[serde(default)]
    pub description: String,
    /// Event types to receive; empty or absent: all.
    #[serde(default)]
    pub event_types: Vec<String>,
    /// Whether messages go out (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// Changes to an endpoint (absent fields stay).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointChanges {
    /// New URL.
    #[serde(default)]
    pub url: Option<String>,
    /// New description.
    #[serde(default)]
    pub description: Option<String>,
    /// New event types (empty: all).
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
    /// On or off; turning a failing endpoint back on clears its failure.
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// The secret of an endpoint, shown when created, rotated or asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct EndpointSecret {
    /// `whsec_…`: verify signatures with it.
    pub secret: String,
    /// Until when the previous secret also signs, after a rotation.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub previous_valid_until: Option<Timestamp>,
}

/// A created endpoint with its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CreatedEndpoint {
    /// The endpoint.
    #[serde(flatten)]
    pub endpoint: EndpointView,
    /// `whsec_…`: verify signatures with it.
    pub secret: String,
}

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    /// Waiting for an attempt.
    Pending,
    /// A 2xx came back.
    Delivered,
    /// Every attempt failed (or the endpoint was off).
    Failed,
}

/// A message to one endpoint, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookMessage {
    /// `webhook-id`.
    pub id: WebhookMessageId,
    /// The endpoint.
    pub endpoint_id: WebhookEndpointId,
    /// Event type.
    pub event_type: String,
    /// The exact body sent.
    pub body: String,
    /// Where it stands.
    pub status: MessageStatus,
    /// Attempts in the current round (a replay starts a new round).
    pub attempts: u32,
    /// Attempts ever made (numbers the log).
    pub sent: u32,
    /// When the next attempt is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<Timestamp>,
    /// The last answer's status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status: Option<u16>,
    /// Created.
    pub created_at: Timestamp,
}

/// A message as the studio sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct MessageView {
    /// `webhook-id`.
    #[schema(value_type = String)]
    pub id: WebhookMessageId,
    /// Event type.
    pub event_type: String,
    /// Where it stands.
    pub status: MessageStatus,
    /// Attempts made in all.
    pub attempts: u32,
    /// When the next attempt is due.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_attempt_at: Option<Timestamp>,
    /// The last answer's HTTP status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_status: Option<u16>,
    /// Created.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// The body sent.
    pub payload: serde_json::Value,
}

impl WebhookMessage {
    /// The studio's view.
    pub fn view(&self) -> MessageView {
        MessageView {
            id: self.id.clone(),
            event_type: self.event_type.clone(),
            status: self.status,
            attempts: self.sent,
            next_attempt_at: self.next_attempt_at,
            last_status: self.last_status,
            created_at: self.created_at,
            payload: serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null),
        }
    }
}

/// One attempt, in the delivery log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Attempt {
    /// 1, 2, … over the message's life.
    pub number: u32,
    /// When it was made.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// Whether a 2xx came back in time.
    pub succeeded: bool,
    /// The answer's HTTP status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why there was no answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Milliseconds to the answer or failure.
    pub latency_ms: u64,
    /// The start of the answer's body (at most 1024 characters).
    #[serde(default)]
    pub response_excerpt: String,
}

/// A message with its delivery log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct MessageDetail {
    /// The message.
    #[serde(flatten)]
    pub message: MessageView,
    /// Its attempts, oldest first.
    pub attempts_log: Vec<Attempt>,
}

fn endpoint_key(studio_id: &StudioId, endpoint_id: &WebhookEndpointId) -> Key {
    Key::new(format!("STUDIO#{studio_id}"), format!("WEBHOOK#{endpoint_id}"))
}

fn log_partition(studio_id: &StudioId, endpoint_id: &WebhookEndpointId) -> String {
    format!("STUDIO#{studio_id}#WEBHOOK#{endpoint_id}")
}

fn message_key(studio_id: &StudioId, endpoint_id: &WebhookEndpointId, message_id: &WebhookMessageId) -> Key {
    Key::new(log_partition(studio_id, endpoint_id), format!("MESSAGE#{message_id}"))
}

fn attempt_key(
    studio_id: &StudioId,
    endpoint_id: &WebhookEndpointId,
    message_id: &WebhookMessageId,
    number: u32,
) -> Key {
    Key::new(log_partition(studio_id, endpoint_id), format!("ATTEMPT#{message_id}#{number:03}"))
}

fn due_key(
    at: Timestamp,
    studio_id: &StudioId,
    endpoint_id: &WebhookEndpointId,
    message_id: &WebhookMessageId,
) -> Key {
    let shard = atelier_platform::stable_shard(message_id.as_str(), SHARDS);
    Key::new(
        format!("DUE#{DUE_KIND}#{shard}"),
        format!("{:013}#{studio_id}#{endpoint_id}#{message_id}", at.as_millisecond().max(0)),
    )
}

fn due_put(
    at: Timestamp,
    studio_id: &StudioId,
    endpoint_id: &WebhookEndpointId,
    message_id: &WebhookMessageId,
) -> WriteOp {
    WriteOp::put(
        Item::new(&due_key(at, studio_id, endpoint_id, message_id))
            .with("studio_id", studio_id.as_str())
            .with("endpoint_id", endpoint_id.as_str())
            .with("message_id", message_id.as_str()),
    )
}

fn expires(at: Timestamp) -> i64 {
    at.as_second() + i64::try_from(RETENTION.as_secs()).unwrap_or(0)
}

fn after(at: Timestamp, delay: Duration) -> Timestamp {
    at.checked_add(SignedDuration::try_from(delay).unwrap_or(SignedDuration::ZERO)).unwrap_or(at)
}

fn check_fields(
    platform: &Platform,
    url: Option<&str>,
    description: Option<&str>,
    event_types: Option<&[String]>,
) -> Result<(), Invalid> {
    let mut errors = Invalid::default();
    if let Some(url) = url
        && let Err(e) = targets::check(url, platform.outbound.webhooks)
    {
        errors.0.extend(Invalid::field("url", e.to_string()).0);
    }
    if let Some(description) = description {
        errors.check(
            description.chars().count() <= DESCRIPTION_MAX,
            "description",
            "must be at most 500 characters",
        );
    }
    if let Some(types) = event_types {
        for (i, t) in types.iter().enumerate() {
            errors.check(
                EVENT_TYPES.contains(&t.as_str()),
                &format!("event_types[{i}]"),
                format!("must be one of {}", EVENT_TYPES.join(", ")),
            );
        }
    }
    errors.into_result()
}

/// A studio's endpoints (at most [`ENDPOINTS_MAX`]).
pub async fn endpoints(platform: &Platform, studio_id: &StudioId) -> Result<Vec<WebhookEndpoint>, AppError> {
    let query = Query::partition(format!("STUDIO#{studio_id}")).sort(SortKey::BeginsWith("WEBHOOK#".into()));
    let items = platform.store.query_all(query, ENDPOINTS_MAX + 1).await?;
    Ok(items.iter().map(Item::to_record).collect::<Result<_, _>>()?)
}

/// One endpoint.
pub async fn endpoint(
    platform: &Platform,
    studio_id: &StudioId,
    endpoint_id: &WebhookEndpointId,
) -> Result<WebhookEndpoint, AppError> {
    match platform.store.get(&endpoint_key(studio_id, endpoint_id)).await? {
        Some(item) => Ok(item.to_record()?),
        None => Err(AppError::NotFound("webhook endpoint")),
    }
}

/// Registers an endpoint; its secret is in the answer.
pub async fn create(
    platform: &Platform,
    studio_id: &StudioId,
    new: NewEndpoint,
) -> Result<CreatedEndpoint, AppError> {
    check_fields(platform, Some(&new.url), Some(&new.description), Some(&new.event_types))?;
    if endpoints(platform, studio_id).await?.len() >= ENDPOINTS_MAX {
        return Err(AppError::Conflict(
            TOO_MANY_ENDPOINTS,
            format!("a studio has at most {ENDPOINTS_MAX} endpoints"),
        ));
    }
    let now = platform.clock.now();
    let secret = signing::new_secret().map_err(|e| AppError::failed("drawing a webhook secret", e))?;
    let endpoint = WebhookEndpoint {
        id: WebhookEndpointId::new(platform.ids.new_id()),
        studio_id: studio_id.clone(),
        url: new.url,
        description: new.description,
        event_types: new.event_types,
        enabled: new.enabled,
        secret: secret.clone(),
        previous_secret: None,
        previous_secret_until: None,
        failing_since: None,
        disabled_reason: None,
        created_at: now,
        updated_at: now,
    };
    let item = Item::from_record(&endpoint_key(studio_id, &endpoint.id), &endpoint)?;
    platform.store.write(WriteOp::create(item)).await?;
    Ok(CreatedEndpoint { endpoint: endpoint.view(), secret })
}

/// Changes an endpoint; turning it on clears its failure.
pub async fn update(
    platform: &Platform,
    studio_id: &StudioId,
    endpoint_id: &WebhookEndpointId,
    changes: EndpointChanges,
) -> Result<WebhookEndpoint, AppError> {
    check_fields(
        platform,
        changes.url.as_deref(),
        changes.description.as_deref(),
        changes.event_types.as_deref(),
    )?;
    let mut endpoint = self::endpoint(platform, studio_id, endpoint_id).await?;
    let before = endpoint.updated_at;
    let mut actions = Vec::new();
    if let Some(url) = changes.url {
        actions.push(UpdateAction::Set("url".into(), Value::S(url.clone())));
        endpoint.url = url;
    }
    if let Some(description) = changes.description {
        actions.push(UpdateAction::Set("description".into(), Value::S(description.clone())));
        endpoint.description = description;
    }
    if let Some(types) = changes.event_types {
        actions.push(UpdateAction::Set(
            "event_types".into(),
            Value::L(types.iter().map(|t| Value::S(t.clone())).collect()),
        ));
        endpoint.event_types = types;
    }
    if let Some(enabled) = changes.enabled {
        if enabled && !endpoint.enabled {
            actions.push(UpdateAction::Remove("failing_since".into()));
            actions.push(UpdateAction::Remove("disabled_reason".into()));
            endpoint.failing_since = None;
            endpoint.disabled_reason = None;
        }
        actions.push(UpdateAction::Set("enabled".into(), Value::Bool(enabled)));
        endpoint.enabled = enabled;
    }
    endpoint.updated_at = platform.clock.now();
    actions.push(UpdateAction::Set("updated_at".into(), Value::S(endpoint.updated_at.to_string())));
    // Only the fields that change, guarded by the last change: a concurrent rotation is not
    // undone, and the failure record the attempts keep is not overwritten.
    let write = WriteOp::update(endpoint_key(studio_id, endpoint_id), actions)
        .when(Condition::eq("updated_at", before.to_string()));
    match platform.store.write(write).await {
        Ok(_) => Ok(endpoint),
        Err(StoreError::ConditionFailed { .. }) => Err(AppError::Conflict(
            atelier_platform::error::CHANGED_MEANWHILE,
            "the endpoint changed meanwhile; read it again".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Removes an endpoint (its log expires with its retention).
pub async fn delete(
    platform: &Platform,
    studio_id: &StudioId,
    endpoint_id: &WebhookEndpointId,
) -> Result<(), AppError> {
    self::endpoint(platform, studio_id, endpoint_id).await?;
    platform.store.write(WriteOp::delete(endpoint_key(studio_id, endpoint_id))).await?;
    Ok(())
}

/// The endpoint's current secret.
pub async fn secret(
    platform: &Platform,
    studio_id: &StudioId,
    endpoint_id: &WebhookEndpointId,
) -> Result<EndpointSecret, AppError> {
    let endpoint = self::endpoint(platform, studio_id, endpoint_id).await?;
    let now = platform.clock.now();
    Ok(EndpointSecret {
        secret: endpoint.secret,
        previous_valid_until: endpoint.previous_secret_until.filter(|until| *until > now),
    })
}

/// Replaces the secret; the old one keeps signing for [`ROTATION_OVERLAP`].
pub async fn rotate(
    platform: &Platform,
    studio_id: &StudioId,
    endpoint_id: &WebhookEndpointId,
) -> Result<EndpointSecret, AppError> {
    let endpoint = self::endpoint(platform, studio_id, endpoint_id).await?;
    let now = platform.clock.now();
    let secret = signing::new_secret().map_err(|e| AppError::failed("drawing a webhook secret", e))?;
    let until = after(now, ROTATION_OVERLAP);
    let write = WriteOp::update(
        endpoint_key(studio_id, endpoint_id),
        vec![
            UpdateAction::Set("secret".into(), Value::S(secret.clone())),
            UpdateAction::Set("previous_secret".into(), Value::S(endpoint.secret.clone())),
            UpdateAction::Set("previous_secret_until".into(), Value::S(until.to_string())),
            UpdateAction::Set("updated_at".into(), Value::S(now.to_string())),
        ],
    )
    .when(Condition::eq("secret", endpoint.secret.as_str()));
    match platform.store.write(write).await {
        Ok(_) => Ok(EndpointSecret { secret, previous_valid_until: Some(until) }),
        Err(StoreError::ConditionFailed { .. }) => Err(AppError::Conflict(
            atelier_platform::error::CHANGED_MEANWHILE,
            "the secret was rotated meanwhile".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// The body of a message: `{type, timestamp, data}`.
fn body_of(event_type: &str, at: Timestamp, data: &serde_json::Value) -> String {
    serde_json::json!({ "type": event_type, "timestamp": at.to_string(), "data": data }).to_string()
}

/// Creates a pending message for `endpoint` and its first due item, in one transaction. `false`
/// if it existed already (a redelivered event).
async fn enqueue(
    platform: &Platform,
    endpoint: &WebhookEndpoint,
    message_id: WebhookMessageId,
    event_type: &str,
    body: String,
) -> Result<Option<WebhookMessage>, AppError> {
    let now = platform.clock.now();
    let message = WebhookMessage {
        id: message_id,
        endpoint_id: endpoint.id.clone(),
        event_type: event_type.to_owned(),
        body,
        status: MessageStatus::Pending,
        attempts: 0,
        sent: 0,
        next_attempt_at: Some(now),
        last_status: None,
        created_at: now,
    };
    let item = Item::from_record(&message_key(&endpoint.studio_id, &endpoint.id, &message.id), &message)?
        .with(attr::TTL, expires(now));
    let ops = vec![WriteOp::create(item), due_put(now, &endpoint.studio_id, &endpoint.id, &message.id)];
    match platform.store.transact(ops).await {
        Ok(()) => Ok(Some(message)),
        Err(e) if e.is_condition_failed_at(0) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Sends a test event to an endpoint now, and returns the message with its first attempt made.
pub async fn ping(
    platform: &Platform,
    studio_id: &StudioId,
    endpoint_id: &WebhookEndpointId,
) -> Result<MessageView, AppError> {
    let endpoint = self::endpoint(platform, studio_id, endpoint_id).await?;
    let now = platform.clock.now();
    let body = body_of(PING, now, &serde_json::json!({ "endpoint_id": endpoint.id }));
    let id = WebhookMessageId::new(format!("msg_{}", platform.ids.new_id()));
    let message = enqueue(platform, &endpoint, id.clone(), PING, body)
        .await?
        .ok_or_else(|| AppError::Unavailable("the ping collided with another; try again".into()))?;
    attempt(
        platform,
        studio_id,
        &endpoint.id,
        &message.id,
        Some(due_key(message.created_at, studio_id, &endpoint.id, &message.id)),
    )
    .await
    .map(|m| m.view())
}

/// One message with its delivery log.
pub async fn message(
    platform: &Platform,
    studio_id: &StudioId,
    endpoint_id: &WebhookEndpointId,
    message_id: &WebhookMessageId,
) -> Result<MessageDetail, AppError> {
    let message = load_message(platform, studio_id, endpoint_id, message_id)
        .await?
        .ok_or(AppError::NotFound("webhook message"))?;
    let query = Query::partition(log_partition(studio_id, endpoint_id))
        .sort(SortKey::BeginsWith(format!("ATTEMPT#{message_id}#")));
    let attempts = platform.store.query_all(query, 1000).await?;
    Ok(MessageDetail {
        message: message.view(),
        attempts_log: attempts.iter().map(Item::to_record).collect::<Result<_, _>>()?,
    })
}

async fn load_message(
    platform: &Platform,
    studio_id: &StudioId,
    endpoint_id: &WebhookEndpointId,
    message_id: &WebhookMessageId,
) -> Result<Option<WebhookMessage>, AppError> {
    Ok(match platform.store.get(&message_key(studio_id, endpoint_id, message_id)).await? {
        Some(item) => Some(item.to_record()?),
        None => None,
    })
}

/// Filters of the message list.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessageFilter {
    /// Only messages in this state.
    #[serde(default)]
    pub status: Option<MessageStatus>,
}

/// The query of an endpoint's messages, newest first.
pub fn messages_query(studio_id: &StudioId, endpoint_id: &WebhookEndpointId) -> Query {
    Query::partition(log_partition(studio_id, endpoint_id))
        .sort(SortKey::BeginsWith("MESSAGE#".into()))
        .descending()
}

/// A page of an endpoint's messages, newest first.
pub async fn messages(
    platform: &Platform,
    studio_id: &StudioId,
    endpoint_id: &WebhookEndpointId,
    filter: &MessageFilter,
    page: impl FnOnce(Query) -> Result<Query, AppError>,
) -> Result<(Vec<MessageView>, Option<atelier_platform::store::Cursor>), AppError> {
    self::endpoint(platform, studio_id, endpoint_id).await?;
    let wanted = filter.status;
    let keep = move |item: &Item| match wanted {
        None => true,
        Some(status) => item.to_record::<WebhookMessage>().is_ok_and(|m| m.status == status),
    };
    let found =
        platform.store.query_filtered(page(messages_query(studio_id, endpoint_id))?, keep, 10).await?;
    let views = found
        .items
        .iter()
        .map(|i| i.to_record::<WebhookMessage>().map(|m| m.view()))
        .collect::<Result<_, _>>()?;
    Ok((views, found.next))
}

/// Starts a new round of attempts for a delivered or failed message, now; the first is made
/// before answering.
pub async fn replay(
    platform: &Platform,
    studio_id: &StudioId,
    endpoint_id: &WebhookEndpointId,
    message_id: &WebhookMessageId,
) -> Result<MessageView, AppError> {
    self::endpoint(platform, studio_id, endpoint_id).await?;
    let message = load_message(platform, studio_id, endpoint_id, message_id)
        .await?
        .ok_or(AppError::NotFound("webhook message"))?;
    if message.status == MessageStatus::Pending {
        return Err(AppError::Conflict(MESSAGE_PENDING, "the message is still being attempted".into()));
    }
    let due = requeue(platform, studio_id, &message).await?;
    attempt(platform, studio_id, endpoint_id, message_id, due).await.map(|m| m.view())
}

/// Puts a finished message back to pending, due now; the due item's key (`None`: it was
/// pending already).
async fn requeue(
    platform: &Platform,
    studio_id: &StudioId,
    message: &WebhookMessage,
) -> Result<Option<Key>, AppError> {
    let now = platform.clock.now();
    let ops = vec![
        WriteOp::update(
            message_key(studio_id, &message.endpoint_id, &message.id),
            vec![
                UpdateAction::Set("status".into(), Value::S("pending".into())),
                UpdateAction::Set("attempts".into(), Value::N(0)),
                UpdateAction::Set("next_attempt_at".into(), Value::S(now.to_string())),
                UpdateAction::Set(attr::TTL.into(), Value::N(expires(now))),
            ],
        )
        .when(Condition::Ne("status".into(), Value::S("pending".into()))),
        due_put(now, studio_id, &message.endpoint_id, &message.id),
    ];
    match platform.store.transact(ops).await {
        Ok(()) => Ok(Some(due_key(now, studio_id, &message.endpoint_id, &message.id))),
        Err(e) if e.is_condition_failed_at(0) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// What a bulk replay queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct Replayed {
    /// Failed messages put back to pending; the retry job sends them within a minute.
    pub replayed: usize,
    /// Whether more failed messages remain: call again.
    pub more: bool,
}

/// Queues every failed message of an endpoint created at or after `since` (at most
/// [`REPLAY_MAX`]).
pub async fn replay_failed(
    platform: &Platform,
    studio_id: &StudioId,
    endpoint_id: &WebhookEndpointId,
    since: Timestamp,
) -> Result<Replayed, AppError> {
    let mut errors = Invalid::default();
    atelier_domain::time::check_instant(&mut errors, "since", since);
    errors.into_result()?;
    self::endpoint(platform, studio_id, endpoint_id).await?;
    // Every message the retention keeps, filtered on time and state (the sort key follows the
    // event's id, which need not follow `created_at`).
    let items = platform.store.query_all(messages_query(studio_id, endpoint_id), SCAN_MAX).await?;
    let mut replayed = 0;
    let mut more = items.len() >= SCAN_MAX;
    for item in items {
        let message: WebhookMessage = item.to_record()?;
        if message.created_at < since || message.status != MessageStatus::Failed {
            continue;
        }
        if replayed == REPLAY_MAX {
            more = true;
            break;
        }
        if requeue(platform, studio_id, &message).await?.is_some() {
            replayed += 1;
        }
    }
    Ok(Replayed { replayed, more })
}

/// Makes the next attempt of a pending message: claims it with a lease (one attempt per
/// number, however many callers race; the due item moves past the lease), posts, and records
/// the attempt, the message's new state and its next due item in one transaction. `due` is the due item that led here, removed or moved.
pub async fn attempt(
    platform: &Platform,
    studio_id: &StudioId,
    endpoint_id: &WebhookEndpointId,
    message_id: &WebhookMessageId,
    due: Option<Key>,
) -> Result<WebhookMessage, AppError> {
    let drop_due = |due: Option<Key>| async move {
        if let Some(key) = due {
            platform.store.write(WriteOp::delete(key)).await?;
        }
        Ok::<_, AppError>(())
    };
    let Some(mut message) = load_message(platform, studio_id, endpoint_id, message_id).await? else {
        drop_due(due).await?;
        return Err(AppError::NotFound("webhook message"));
    };
    if message.status != MessageStatus::Pending {
        drop_due(due).await?;
        return Ok(message);
    }
    let endpoint = match self::endpoint(platform, studio_id, endpoint_id).await {
        Ok(endpoint) => endpoint,
        Err(AppError::NotFound(_)) => {
            drop_due(due).await?;
            return Err(AppError::NotFound("webhook endpoint"));
        }
        Err(e) => return Err(e),
    };
    let now = platform.clock.now();
    let key = message_key(studio_id, endpoint_id, message_id);
    let number = message.sent + 1;
    // The claim: only one caller moves `sent` from n to n+1, and in the same transaction the
    // due item moves to the end of the attempt's lease, so no retry job takes the message
    // while this attempt is in flight; if this process dies, the job takes it after the lease.
    let lease = due_key(after(now, LEASE), studio_id, endpoint_id, message_id);
    let mut claim = vec![
        WriteOp::update(key.clone(), vec![UpdateAction::Set("sent".into(), Value::N(i64::from(number)))])
            .when(Condition::And(vec![
                Condition::eq("status", "pending"),
                Condition::Eq("sent".into(), Value::N(i64::from(message.sent))),
            ])),
        due_put(after(now, LEASE), studio_id, endpoint_id, message_id),
    ];
    if let Some(old) = due.filter(|old| *old != lease) {
        claim.push(WriteOp::delete(old));
    }
    match platform.store.transact(claim).await {
        Ok(()) => {}
        Err(e) if e.is_condition_failed_at(0) => {
            return load_message(platform, studio_id, endpoint_id, message_id)
                .await?
                .ok_or(AppError::NotFound("webhook message"));
        }
        Err(e) => return Err(e.into()),
    }
    let response = if endpoint.enabled {
        send(platform, &endpoint, &message, now).await
    } else {
        transport::Response {
            status: None,
            error: Some("the endpoint is turned off".into()),
            latency_ms: 0,
            excerpt: String::new(),
        }
    };
    let succeeded = response.succeeded();
    let log = Attempt {
        number,
        at: now,
        succeeded,
        status: response.status,
        error: response.error.clone(),
        latency_ms: response.latency_ms,
        response_excerpt: response.excerpt.clone(),
    };
    let attempts = message.attempts + 1;
    let next = if succeeded || !endpoint.enabled {
        None
    } else {
        SCHEDULE.get(usize::try_from(attempts).unwrap_or(usize::MAX)).map(|delay| after(now, *delay))
    };
    message.status = match (succeeded, next) {
        (true, _) => MessageStatus::Delivered,
        (false, Some(_)) => MessageStatus::Pending,
        (false, None) => MessageStatus::Failed,
    };
    message.attempts = attempts;
    message.sent = number;
    message.next_attempt_at = next;
    message.last_status = response.status;
    let mut actions = vec![
        UpdateAction::Set("status".into(), Value::S(status_name(message.status).into())),
        UpdateAction::Set("attempts".into(), Value::N(i64::from(attempts))),
    ];
    actions.push(match next {
        Some(at) => UpdateAction::Set("next_attempt_at".into(), Value::S(at.to_string())),
        None => UpdateAction::Remove("next_attempt_at".into()),
    });
    actions.push(match response.status {
        Some(status) => UpdateAction::Set("last_status".into(), Value::N(i64::from(status))),
        None => UpdateAction::Remove("last_status".into()),
    });
    let attempt_item = Item::from_record(&attempt_key(studio_id, endpoint_id, message_id, number), &log)?
        .with(attr::TTL, expires(now));
    let mut ops = vec![
        WriteOp::update(key, actions).when(Condition::Eq("sent".into(), Value::N(i64::from(number)))),
        WriteOp::put(attempt_item),
    ];
    match next {
        Some(at) if due_key(at, studio_id, endpoint_id, message_id) == lease => {}
        Some(at) => {
            ops.push(WriteOp::delete(lease));
            ops.push(due_put(at, studio_id, endpoint_id, message_id));
        }
        None => ops.push(WriteOp::delete(lease)),
    }
    platform.store.transact(ops).await?;
    tracing::info!(
        studio_id = %studio_id, endpoint_id = %endpoint_id, message_id = %message_id, attempt = number,
        status = ?response.status, error = ?response.error, latency_ms = response.latency_ms,
        outcome = status_name(message.status), "webhook attempt"
    );
    // `delivered`, `retrying` (another attempt is scheduled) or `gave_up` (the last one failed).
    let outcome = match message.status {
        MessageStatus::Delivered => "delivered",
        MessageStatus::Pending => "retrying",
        MessageStatus::Failed => "gave_up",
    };
    platform.metrics.count(atelier_platform::metrics::Metric::WebhookDeliveries, &[("outcome", outcome)]);
    record_health(platform, &endpoint, succeeded, message.status == MessageStatus::Failed, now).await?;
    Ok(message)
}

fn status_name(status: MessageStatus) -> &'static str {
    match status {
        MessageStatus::Pending => "pending",
        MessageStatus::Delivered => "delivered",
        MessageStatus::Failed => "failed",
    }
}

async fn send(
    platform: &Platform,
    endpoint: &WebhookEndpoint,
    message: &WebhookMessage,
    now: Timestamp,
) -> transport::Response {
    let policy = platform.outbound.webhooks;
    let target = match targets::check(&endpoint.url, policy) {
        Ok(target) => target,
        Err(e) => {
            return transport::Response {
                status: None,
                error: Some(format!("url {e}")),
                latency_ms: 0,
                excerpt: String::new(),
            };
        }
    };
    let timestamp = now.as_second();
    let signature = signing::signature_header(
        &endpoint.secrets(now),
        message.id.as_str(),
        timestamp,
        message.body.as_bytes(),
    );
    let headers = [
        ("content-type", "application/json".to_owned()),
        ("user-agent", "Atelier-Webhooks/1".to_owned()),
        ("webhook-id", message.id.to_string()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", signature),
    ];
    transport::post(&target, policy, &headers, Bytes::from(message.body.clone())).await
}

/// Keeps `failing_since` (set on the first failure, cleared on a success) and turns off an
/// endpoint that has failed for [`DISABLE_AFTER`] when a message finally fails.
async fn record_health(
    platform: &Platform,
    endpoint: &WebhookEndpoint,
    succeeded: bool,
    finally_failed: bool,
    now: Timestamp,
) -> Result<(), AppError> {
    let key = endpoint_key(&endpoint.studio_id, &endpoint.id);
    if succeeded {
        if endpoint.failing_since.is_some() {
            platform
                .store
                .write(WriteOp::update(key, vec![UpdateAction::Remove("failing_since".into())]))
                .await?;
        }
        return Ok(());
    }
    if !endpoint.enabled {
        return Ok(());
    }
    let since = match endpoint.failing_since {
        Some(since) => since,
        None => {
            let set = WriteOp::update(
                key.clone(),
                vec![UpdateAction::SetIfNotExists("failing_since".into(), Value::S(now.to_string()))],
            );
            platform.store.write(set).await?;
            now
        }
    };
    if !finally_failed || after(since, DISABLE_AFTER) > now {
        return Ok(());
    }
    let reason = format!("every delivery failed from {since} to {now}");
    let event = Event {
        id: platform.ids.new_id(),
        kind: ENDPOINT_DISABLED.to_owned(),
        studio_id: Some(endpoint.studio_id.to_string()),
        occurred_at: now,
        trace: None,
        payload: serde_json::json!({
            "studio_id": endpoint.studio_id, "endpoint_id": endpoint.id,
            "url": endpoint.url, "failing_since": since,
        }),
    };
    let (event_op, entry) = atelier_platform::outbox::record(&event, &crate::QUEUE)?;
    let disable = WriteOp::update(
        key,
        vec![
            UpdateAction::Set("enabled".into(), Value::Bool(false)),
            UpdateAction::Set("disabled_reason".into(), Value::S(reason)),
            UpdateAction::Set("updated_at".into(), Value::S(now.to_string())),
        ],
    )
    .when(Condition::Eq("enabled".into(), Value::Bool(true)));
    match platform.store.transact(vec![disable, event_op]).await {
        Ok(()) => {
            tracing::warn!(studio_id = %endpoint.studio_id, endpoint_id = %endpoint.id, "webhook endpoint turned off after failing for days");
            platform.outbox.relay_committed(vec![entry]).await;
            Ok(())
        }
        // Turned off already (by the studio, or a concurrent attempt).
        Err(e) if e.is_condition_failed_at(0) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// What a run of the retry job did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RetryReport {
    /// Attempts made.
    pub attempted: usize,
    /// Attempts that could not be made (they stay due).
    pub failed: usize,
    /// Attempts left for the next run (the run's time budget was spent).
    pub deferred: usize,
}

/// Makes the attempts that have fallen due (up to 100 per shard), [`CONCURRENCY`] at a time,
/// starting none after [`JOB_BUDGET`] so a run ends inside the scheduler's timeout whatever
/// the endpoints do; what is left stays due for the next run.
pub async fn retry_due(platform: &Platform) -> Result<RetryReport, AppError> {
    let now = platform.clock.now().as_millisecond();
    let started = std::time::Instant::now();
    let mut due = Vec::new();
    for shard in 0..SHARDS {
        let query = Query::partition(format!("DUE#{DUE_KIND}#{shard}"))
            .sort(SortKey::Lt(format!("{:013}~", now.max(0))));
        due.extend(platform.store.query_all(query, JOB_BATCH).await?);
    }
    let runs = due.into_iter().filter_map(|item| {
        let key = item.key()?;
        let studio = StudioId::new(item.string("studio_id").ok()?);
        let endpoint = WebhookEndpointId::new(item.string("endpoint_id").ok()?);
        let message = WebhookMessageId::new(item.string("message_id").ok()?);
        Some(async move {
            // Attempts not started within the budget stay due for the next run.
            if started.elapsed() > JOB_BUDGET {
                return Ok(None);
            }
            attempt(platform, &studio, &endpoint, &message, Some(key)).await.map(Some)
        })
    });
    let results: Vec<_> = futures_util::stream::iter(runs).buffer_unordered(CONCURRENCY).collect().await;
    let mut report = RetryReport::default();
    for result in results {
        match result {
            Ok(None) => report.deferred += 1,
            Ok(Some(_)) | Err(AppError::NotFound(_)) => report.attempted += 1,
            Err(e) => {
                tracing::warn!(error = %atelier_platform::error::chain(&e), "webhook attempt could not be made; it stays due");
                report.failed += 1;
            }
        }
    }
    Ok(report)
}

/// Turns a studio's events into messages for its endpoints and makes their first attempts.
pub struct FanOut {
    platform: Platform,
}

impl FanOut {
    /// Fan-out over the platform's store.
    pub fn new(platform: Platform) -> Arc<FanOut> {
        Arc::new(FanOut { platform })
    }
}

#[async_trait]
impl EventHandler for FanOut {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let Some(studio_id) = event.studio_id.as_deref().map(StudioId::new) else { return Ok(()) };
        let platform = &self.platform;
        let body = body_of(&event.kind, event.occurred_at, &event.payload);
        let mut created = Vec::new();
        for endpoint in endpoints(platform, &studio_id).await? {
            if !endpoint.receives(&event.kind) {
                continue;
            }
            let id = WebhookMessageId::new(format!("msg_{}", event.id));
            if let Some(message) = enqueue(platform, &endpoint, id, &event.kind, body.clone()).await? {
                created.push((endpoint.id.clone(), message));
            }
        }
        // First attempts side by side; a failure stays due for the retry job.
        let attempts = created.iter().map(|(endpoint_id, message)| {
            let due = due_key(message.created_at, &studio_id, endpoint_id, &message.id);
            attempt(platform, &studio_id, endpoint_id, &message.id, Some(due))
        });
        for result in futures_util::future::join_all(attempts).await {
            if let Err(e) = result {
                tracing::warn!(error = %atelier_platform::error::chain(&e), "first webhook attempt not made; the retry job will");
            }
        }
        Ok(())
    }
}
