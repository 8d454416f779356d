//! API keys: an owner gives an integration (a scheduling widget, an automation tool) a named key
//! with scopes and an optional expiry. The secret (`atk_…`) is shown once and stored only as its
//! SHA-256: it is 32 random bytes, so a fast hash is as good as a slow one and costs nothing per
//! request. A key acts in its studio as a manager would, but only on the routes its scopes open
//! ([`scope_for`]); anywhere else it is refused. Every use is rate limited per key and audited
//! with the key's id (`actor` = `key:<id>`), and so is every change it makes.

use atelier_domain::Invalid;
use atelier_domain::identity::{Email, Role, check_name};
use atelier_domain::ids::{ApiKeyId, StudioId, UserId};
use atelier_platform::access::{API_KEY_PREFIX, Actor, Authenticated, Caller, KeyUse, UserProfile};
use atelier_platform::audit::{self, AuditEvent};
use atelier_platform::error::API_KEY_SCOPE;
use atelier_platform::store::{Condition, Item, Key, Query, SortKey, WriteOp, attr};
use atelier_platform::{AppError, Platform, rate_limit};
use base64::Engine;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AuthSettings;

/// Most keys a studio may have in use at once (not revoked, not expired).
pub const MAX_ACTIVE_KEYS: usize = 25;
/// Most keys a studio's list reads (revoked and expired ones stay, for the audit trail).
pub const MAX_KEYS: usize = 1_000;

/// What a key may do. Each opens a fixed set of routes (see [`scope_for`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
pub enum Scope {
    /// List and read bookings and the waitlist.
    #[serde(rename = "bookings:read")]
    BookingsRead,
    /// Book for a client, book series, and move bookings through their statuses.
    #[serde(rename = "bookings:write")]
    BookingsWrite,
    /// List and read the client book.
    #[serde(rename = "clients:read")]
    ClientsRead,
    /// Add, change and remove clients.
    #[serde(rename = "clients:write")]
    ClientsWrite,
    /// Read services, professionals and resources (what a booking names).
    #[serde(rename = "catalog:read")]
    CatalogRead,
    /// Manage outbound webhooks: endpoints, secrets, deliveries and replays.
    #[serde(rename = "webhooks:manage")]
    WebhooksManage,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 6] = [
        Scope::BookingsRead,
        Scope::BookingsWrite,
        Scope::ClientsRead,
        Scope::ClientsWrite,
        Scope::CatalogRead,
        Scope::WebhooksManage,
    ];

    /// The scope's name (`bookings:read`).
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::BookingsRead => "bookings:read",
            Scope::BookingsWrite => "bookings:write",
            Scope::ClientsRead => "clients:read",
            Scope::ClientsWrite => "clients:write",
            Scope::CatalogRead => "catalog:read",
            Scope::WebhooksManage => "webhooks:manage",
        }
    }
}

/// The scope that opens a studio route (`method`, route template) to API keys; `None` for the
/// routes no key may use (the team, settings, payments, keys themselves, everything else).
pub fn scope_for(method: &str, route: &str) -> Option<Scope> {
    let rest = route.strip_prefix("/v1/studios/{studio_id}")?;
    match (method, rest) {
        ("GET", "/bookings" | "/bookings/{booking_id}" | "/waitlist") => Some(Scope::BookingsRead),
        (
            "POST",
            "/bookings"
            | "/bookings/series"
            | "/bookings/{booking_id}/cancel"
            | "/bookings/{booking_id}/reschedule"
            | "/bookings/{booking_id}/confirm"
            | "/bookings/{booking_id}/check-in"
            | "/bookings/{booking_id}/complete"
            | "/bookings/{booking_id}/no-show",
        ) => Some(Scope::BookingsWrite),
        ("GET", "/clients" | "/clients/{client_id}") => Some(Scope::ClientsRead),
        ("POST", "/clients") | ("PATCH" | "DELETE", "/clients/{client_id}") => Some(Scope::ClientsWrite),
        (
            "GET",
            "/services"
            | "/services/{service_id}"
            | "/professionals"
            | "/professionals/{user_id}"
            | "/resources"
            | "/resources/{resource_id}",
        ) => Some(Scope::CatalogRead),
        (_, webhooks) if webhooks == "/webhooks" || webhooks.starts_with("/webhooks/") => {
            Some(Scope::WebhooksManage)
        }
        _ => None,
    }
}

/// A key as stored under its studio (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    /// Id.
    pub id: ApiKeyId,
    /// Its studio.
    pub studio_id: StudioId,
    /// What the owner called it.
    pub name: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// The secret's first characters, to recognise it (`atk_AbCd1234`).
    pub prefix: String,
    /// SHA-256 of the secret, hex.
    pub secret_sha256: String,
    /// Who created it.
    pub created_by: UserId,
    /// Their email (what the key's requests show as its profile's).
    pub created_by_email: Email,
    /// When.
    pub created_at: Timestamp,
    /// When it stops working, if ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    /// When it was revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<Timestamp>,
    /// Who revoked it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_by: Option<UserId>,
}

/// Key of a key's record.
pub fn key_record(studio_id: &StudioId, id: &ApiKeyId) -> Key {
    Key::new(format!("STUDIO#{studio_id}"), format!("APIKEY#{id}"))
}

/// Key of the item a secret is looked up by (deleted on revocation; expires with the key).
pub fn secret_key(secret_sha256: &str) -> Key {
    Key::new(format!("APIKEY#{secret_sha256}"), "APIKEY")
}

/// A key as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ApiKeyView {
    /// Id.
    #[schema(value_type = String)]
    pub id: ApiKeyId,
    /// Name.
    pub name: String,
    /// Scopes.
    pub scopes: Vec<Scope>,
    /// The secret's first characters.
    pub prefix: String,
    /// Who created it.
    #[schema(value_type = String)]
    pub created_by: UserId,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// When it stops working.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<Timestamp>,
    /// When it was revoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<Timestamp>,
    /// `active`, `expired` or `revoked`.
    pub status: &'static str,
}

impl ApiKeyView {
    fn of(key: &ApiKeyRecord, now: Timestamp) -> ApiKeyView {
        let status = match (key.revoked_at, key.expires_at) {
            (Some(_), _) => "revoked",
            (None, Some(at)) if at <= now => "expired",
            _ => "active",
        };
        ApiKeyView {
            id: key.id.clone(),
            name: key.name.clone(),
            scopes: key.scopes.clone(),
            prefix: key.prefix.clone(),
            created_by: key.created_by.clone(),
            created_at: key.created_at,
            expires_at: key.expires_at,
            revoked_at: key.revoked_at,
            status,
        }
    }
}

/// `POST …/api-keys`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    /// What the key is for (1 to 100 characters).
    pub name: String,
    /// What it may do (at least one).
    pub scopes: Vec<Scope>,
    /// When it stops working (in the future); absent: until revoked.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<Timestamp>,
}

/// A key just created, with its secret: the only time the secret is shown.
#[derive(Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CreatedApiKey {
    /// The key.
    pub key: ApiKeyView,
    /// Send as `Authorization: Bearer <secret>`. Not shown again: store it now.
    pub secret: String,
}

impl std::fmt::Debug for CreatedApiKey {
    /// Never the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedApiKey").field("key", &self.key).finish_non_exhaustive()
    }
}

fn sha256_hex(text: &str) -> String {
    atelier_platform::sha256_hex(text.as_bytes())
}

/// Creates a key (owners).
pub async fn create(
    platform: &Platform,
    actor: Actor<'_>,
    who: &UserProfile,
    request: NewApiKey,
) -> Result<CreatedApiKey, AppError> {
    let mut errors = Invalid::default();
    let name = check_name(&request.name, "name").map_err(|e| errors.0.extend(e.0)).ok();
    let mut scopes = request.scopes;
    scopes.sort();
    scopes.dedup();
    if scopes.is_empty() {
        errors.0.extend(Invalid::field("scopes", "name at least one scope").0);
    }
    let now = platform.clock.now();
    if request.expires_at.is_some_and(|at| at <= now) {
        errors.0.extend(Invalid::field("expires_at", "must be in the future").0);
    }
    errors.into_result()?;
    let Some(name) = name else {
        return Err(AppError::Internal("validated fields missing".into()));
    };
    let studio_id = actor.studio_id().clone();
    let active = list(platform, &studio_id).await?.iter().filter(|k| k.status == "active").count();
    if active >= MAX_ACTIVE_KEYS {
        return Err(AppError::Unprocessable(
            atelier_platform::error::TOO_LARGE,
            format!("a studio has at most {MAX_ACTIVE_KEYS} keys in use: revoke one first"),
        ));
    }

    let mut random = [0u8; 32];
    getrandom::fill(&mut random).map_err(|e| AppError::failed("drawing a key secret", e))?;
    let secret =
        format!("{API_KEY_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random));
    let key = ApiKeyRecord {
        id: ApiKeyId::new(platform.ids.new_id()),
        studio_id: studio_id.clone(),
        name,
        scopes,
        prefix: secret.chars().take(API_KEY_PREFIX.len() + 8).collect(),
        secret_sha256: sha256_hex(&secret),
        created_by: actor.user_id().clone(),
        created_by_email: who.email.clone(),
        created_at: now,
        expires_at: request.expires_at,
        revoked_at: None,
        revoked_by: None,
    };
    let mut lookup = Item::from_record(&secret_key(&key.secret_sha256), &key)?;
    if let Some(at) = key.expires_at {
        lookup.set(attr::TTL, at.as_second());
    }
    let changes = serde_json::json!({ "name": key.name, "scopes": key.scopes, "expires_at": key.expires_at });
    platform
        .store
        .transact(vec![
            WriteOp::create(Item::from_record(&key_record(&studio_id, &key.id), &key)?),
            WriteOp::create(lookup),
            actor.audit(platform, "api_key.created", "api_key", key.id.as_str(), changes)?,
        ])
        .await?;
    Ok(CreatedApiKey { key: ApiKeyView::of(&key, now), secret })
}

/// The studio's keys, newest first.
pub async fn list(platform: &Platform, studio_id: &StudioId) -> Result<Vec<ApiKeyView>, AppError> {
    let query = Query::partition(format!("STUDIO#{studio_id}")).sort(SortKey::BeginsWith("APIKEY#".into()));
    let items = platform.store.query_all(query, MAX_KEYS).await?;
    let now = platform.clock.now();
    let mut keys: Vec<ApiKeyView> = items
        .iter()
        .map(|i| i.to_record::<ApiKeyRecord>().map(|k| ApiKeyView::of(&k, now)))
        .collect::<Result<_, _>>()?;
    keys.sort_by(|a, b| b.id.cmp(&a.id));
    Ok(keys)
}

async fn load(platform: &Platform, studio_id: &StudioId, id: &ApiKeyId) -> Result<ApiKeyRecord, AppError> {
    let item = platform.store.get(&key_record(studio_id, id)).await?.ok_or(AppError::NotFound("api key"))?;
    Ok(item.to_record()?)
}

/// One key.
pub async fn get(platform: &Platform, studio_id: &StudioId, id: &ApiKeyId) -> Result<ApiKeyView, AppError> {
    Ok(ApiKeyView::of(&load(platform, studio_id, id).await?, platform.clock.now()))
}

/// Revokes a key at once: its secret is forgotten, its record kept (revoked). Revoking it again
/// changes nothing.
pub async fn revoke(platform: &Platform, actor: Actor<'_>, id: &ApiKeyId) -> Result<ApiKeyView, AppError> {
    let key = load(platform, actor.studio_id(), id).await?;
    let now = platform.clock.now();
    if key.revoked_at.is_some() {
        return Ok(ApiKeyView::of(&key, now));
    }
    let revoked =
        ApiKeyRecord { revoked_at: Some(now), revoked_by: Some(actor.user_id().clone()), ..key.clone() };
    match platform
        .store
        .transact(vec![
            WriteOp::Put {
                item: Item::from_record(&key_record(actor.studio_id(), id), &revoked)?,
                condition: Some(Condition::AttrNotExists("revoked_at".into())),
            },
            WriteOp::delete(secret_key(&key.secret_sha256)),
            actor.audit(
                platform,
                "api_key.revoked",
                "api_key",
                id.as_str(),
                serde_json::json!({ "name": key.name }),
            )?,
        ])
        .await
    {
        Ok(()) => Ok(ApiKeyView::of(&revoked, now)),
        // A concurrent revocation won: the key is revoked all the same (recorded once).
        Err(atelier_platform::store::StoreError::ConditionFailed { .. }) => {
            Ok(ApiKeyView::of(&load(platform, actor.studio_id(), id).await?, now))
        }
        Err(e) => Err(e.into()),
    }
}

fn unknown() -> AppError {
    AppError::Unauthenticated("API key unknown, revoked or expired".into())
}

/// What [`crate::AuthSettings`] answers for an API key (see the trait).
pub(crate) async fn authenticate(
    platform: &Platform,
    settings: &AuthSettings,
    secret: &str,
    studio_id: &StudioId,
    request: KeyUse<'_>,
) -> Result<Authenticated, AppError> {
    let item = platform.store.get(&secret_key(&sha256_hex(secret))).await?.ok_or_else(unknown)?;
    let key: ApiKeyRecord = item.to_record()?;
    let now = platform.clock.now();
    if key.expires_at.is_some_and(|at| at <= now) {
        return Err(unknown());
    }
    // Another studio's key learns nothing about this one: the answer a non-member gets.
    if key.studio_id != *studio_id {
        return Err(AppError::NotFound("studio"));
    }
    let scope = scope_for(request.method, request.route);
    let allowed = scope.is_some_and(|s| key.scopes.contains(&s));
    let actor = format!("key:{}", key.id);
    let event = AuditEvent {
        id: platform.ids.new_id(),
        at: now,
        actor: Some(actor.clone()),
        action: if allowed { "api_key.used" } else { "api_key.refused" }.to_owned(),
        entity: "api_key".into(),
        entity_id: key.id.to_string(),
        studio_id: Some(studio_id.to_string()),
        ip: request.meta.ip.clone(),
        user_agent: request.meta.user_agent.clone(),
        changes: serde_json::json!({ "method": request.method, "route": request.route }),
    };
    let (limited, audited) = tokio::join!(
        rate_limit::hit(platform, "apikey", key.id.as_str(), settings.limits.api_per_key),
        async { platform.store.write_relaxed(audit::record(&event)?).await }
    );
    audited?;
    limited?;
    if !allowed {
        return Err(AppError::Forbidden(
            API_KEY_SCOPE,
            match scope {
                Some(s) => format!("this key lacks the {} scope", s.as_str()),
                None => "this route is not open to API keys".into(),
            },
        ));
    }
    let user_id = UserId::new(actor);
    Ok(Authenticated {
        caller: Caller {
            user_id: user_id.clone(),
            session_id: key.id.to_string(),
            is_admin: false,
            api_key: Some(key.id.clone()),
        },
        user: UserProfile {
            id: user_id,
            email: key.created_by_email.clone(),
            name: key.name.clone(),
            phone: None,
            language: None,
            created_at: key.created_at,
        },
        // A key acts as a manager would, within its scopes.
        role: Some(Role::Manager),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_open_only_their_routes() {
        let s = |m, r: &str| scope_for(m, &format!("/v1/studios/{{studio_id}}{r}"));
        assert_eq!(s("GET", "/bookings"), Some(Scope::BookingsRead));
        assert_eq!(s("POST", "/bookings"), Some(Scope::BookingsWrite));
        assert_eq!(s("POST", "/bookings/{booking_id}/checkout"), None, "payments are not open to keys");
        assert_eq!(s("DELETE", "/clients/{client_id}"), Some(Scope::ClientsWrite));
        assert_eq!(s("POST", "/webhooks/{endpoint_id}/rotate-secret"), Some(Scope::WebhooksManage));
        assert_eq!(s("GET", "/api-keys"), None, "a key never manages keys");
        assert_eq!(s("PATCH", ""), None);
        assert_eq!(scope_for("GET", "/v1/me"), None);
        for scope in Scope::ALL {
            let json = serde_json::to_string(&scope).expect("json");
            assert_eq!(json, format!("\"{}\"", scope.as_str()));
        }
    }
}
