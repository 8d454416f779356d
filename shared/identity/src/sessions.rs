//! Sessions. Each sign-in starts a session: a family of refresh tokens of which exactly one is
//! usable at a time. Using it issues a new pair and retires it, by a conditional update;
//! presenting a retired token again (after a short grace window) is reuse (RFC 9700): the
//! whole session is revoked. Access tokens name their session, and every request checks it is
//! still active, so logout and revocation take effect at once.

use atelier_domain::ids::{StudioId, UserId};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::tokens::{ACCESS_AUDIENCE, Claims, KeyRing, REFRESH_AUDIENCE};
use crate::{AuthSettings, TokenPair, UserRecord, user_event, user_key};
use atelier_notifications::{Notice, Recipient, Topic, notice_event};
use atelier_platform::access::{Authenticated, Caller, Membership, member_key};
use atelier_platform::audit::{self, RequestMeta};
use atelier_platform::outbox;
use atelier_platform::store::{Condition, Item, Key, StoreError, UpdateAction, Value, WriteOp, attr};
use atelier_platform::{AppError, Platform, rate_limit};

/// Stored items outlive the tokens they back by this much.
const KEEP_AFTER_EXPIRY: SignedDuration = SignedDuration::from_hours(24);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Status {
    Active,
    Revoked,
    Rotated,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SessionRecord {
    id: String,
    user_id: UserId,
    status: Status,
    created_at: Timestamp,
    last_used_at: Timestamp,
    ip: String,
    user_agent: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revoked_reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct RefreshRecord {
    jti: String,
    user_id: UserId,
    session_id: String,
    issued_at: i64,
    expires_at: i64,
    status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    successor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rotated_at: Option<i64>,
    /// Who rotated it (hash of IP and user agent): only they get the grace window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rotated_by: Option<String>,
}

/// A request's fingerprint: a hash of its IP and user agent (never stored in clear).
fn fingerprint(meta: &RequestMeta) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{}\n{}", meta.ip, meta.user_agent).as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// Key of a session (under its user, so a user's sessions can be listed).
pub fn session_key(user_id: &UserId, session_id: &str) -> Key {
    atelier_platform::access::session_key(user_id, session_id)
}

fn refresh_key(jti: &str) -> Key {
    Key::new(format!("REFRESH#{jti}"), "REFRESH")
}

fn unauthenticated(message: &str) -> AppError {
    AppError::Unauthenticated(message.to_owned())
}

fn sign(keys: &KeyRing, claims: &Claims) -> Result<String, AppError> {
    keys.sign(claims).map_err(|e| AppError::failed("signing a token", e))
}

/// A new access token for the session, with a new refresh token's claims as given.
fn pair(
    platform: &Platform,
    settings: &AuthSettings,
    keys: &KeyRing,
    refresh: &Claims,
    now: Timestamp,
) -> Result<TokenPair, AppError> {
    let access = Claims {
        iss: keys.issuer().to_owned(),
        aud: ACCESS_AUDIENCE.to_owned(),
        sub: refresh.sub.clone(),
        iat: now.as_second(),
        nbf: now.as_second(),
        exp: now.as_second() + settings.access_ttl.as_secs(),
        jti: platform.ids.new_id(),
        fam: refresh.fam.clone(),
    };
    Ok(TokenPair {
        access_token: sign(keys, &access)?,
        refresh_token: sign(keys, refresh)?,
        token_type: "Bearer",
        expires_in: settings.access_ttl.as_secs(),
        refresh_expires_in: refresh.exp - now.as_second(),
    })
}

fn refresh_claims(
    settings: &AuthSettings,
    keys: &KeyRing,
    user_id: &UserId,
    session_id: &str,
    jti: String,
    now: Timestamp,
) -> Claims {
    Claims {
        iss: keys.issuer().to_owned(),
        aud: REFRESH_AUDIENCE.to_owned(),
        sub: user_id.to_owned(),
        iat: now.as_second(),
        nbf: now.as_second(),
        exp: now.as_second() + settings.refresh_ttl.as_secs(),
        jti,
        fam: session_id.to_owned(),
    }
}

fn refresh_record_item(claims: &Claims) -> Result<Item, StoreError> {
    let record = RefreshRecord {
        jti: claims.jti.clone(),
        user_id: claims.sub.clone(),
        session_id: claims.fam.clone(),
        issued_at: claims.iat,
        expires_at: claims.exp,
        status: Status::Active,
        successor: None,
        rotated_at: None,
        rotated_by: None,
    };
    Ok(Item::from_record(&refresh_key(&claims.jti), &record)?
        .with(attr::TTL, claims.exp + KEEP_AFTER_EXPIRY.as_secs()))
}

/// Writes that start a session for `user_id`, and its tokens.
pub(super) async fn start(
    platform: &Platform,
    settings: &AuthSettings,
    user_id: &UserId,
    meta: &RequestMeta,
    now: Timestamp,
) -> Result<(Vec<WriteOp>, TokenPair, String), AppError> {
    let session_id = platform.ids.new_id();
    let keys = settings.keys.ring().await?;
    let refresh = refresh_claims(settings, &keys, user_id, &session_id, platform.ids.new_id(), now);
    let session = SessionRecord {
        id: session_id.clone(),
        user_id: user_id.to_owned(),
        status: Status::Active,
        created_at: now,
        last_used_at: now,
        ip: meta.ip.clone(),
        user_agent: meta.user_agent.clone(),
        revoked_reason: None,
    };
    let session_item = Item::from_record(&session_key(user_id, &session_id), &session)?
        .with(attr::TTL, refresh.exp + KEEP_AFTER_EXPIRY.as_secs());
    let ops = vec![WriteOp::create(session_item), WriteOp::create(refresh_record_item(&refresh)?)];
    Ok((ops, pair(platform, settings, &keys, &refresh, now)?, session_id))
}

/// The write that revokes an active session.
fn revoke(user_id: &UserId, session_id: &str, reason: &str) -> WriteOp {
    WriteOp::Update {
        key: session_key(user_id, session_id),
        actions: vec![
            UpdateAction::Set("status".into(), Value::S("revoked".into())),
            UpdateAction::Set("revoked_reason".into(), Value::S(reason.into())),
        ],
        condition: Some(Condition::eq("status", "active")),
    }
}

/// Writes revoking every active session of a user but `keep`, each a separate write (they are
/// independent; a user may have many).
pub(super) async fn revoke_others(
    platform: &Platform,
    user_id: &UserId,
    keep: &str,
    reason: &str,
) -> Result<Vec<WriteOp>, AppError> {
    let query = atelier_platform::store::Query::partition(format!("USER#{user_id}"))
        .sort(atelier_platform::store::SortKey::BeginsWith("SESSION#".into()));
    let sessions = platform.store.query_all(query, 1000).await?;
    let mut ops = Vec::new();
    for item in sessions {
        let session: SessionRecord = item.to_record()?;
        if session.id != keep && session.status == Status::Active {
            ops.push(WriteOp::Update {
                key: session_key(user_id, &session.id),
                actions: vec![
                    UpdateAction::Set("status".into(), Value::S("revoked".into())),
                    UpdateAction::Set("revoked_reason".into(), Value::S(reason.into())),
                ],
                condition: Some(Condition::Exists),
            });
        }
    }
    Ok(ops)
}

/// Exchanges a refresh token for a new pair, retiring it.
pub async fn refresh(
    platform: &Platform,
    settings: &AuthSettings,
    meta: &RequestMeta,
    token: &str,
) -> Result<TokenPair, AppError> {
    let now = platform.clock.now();
    let ring = settings.keys.ring().await?;
    let claims = ring
        .verify(token, REFRESH_AUDIENCE, now)
        .map_err(|e| AppError::Unauthenticated(format!("refresh token refused: {e}")))?;
    let keys = [refresh_key(&claims.jti), session_key(&claims.sub, &claims.fam)];
    let items = platform.store.get_many(&keys).await?;
    let record: RefreshRecord = match items.iter().find(|i| i.key().as_ref() == Some(&keys[0])) {
        Some(item) => item.to_record()?,
        None => return Err(unauthenticated("refresh token unknown or expired")),
    };
    let session: SessionRecord = match items.iter().find(|i| i.key().as_ref() == Some(&keys[1])) {
        Some(item) => item.to_record()?,
        None => return Err(unauthenticated("session ended")),
    };
    if session.status != Status::Active {
        return Err(unauthenticated("session ended"));
    }
    if now.duration_since(session.created_at) > settings.session_max_age {
        return Err(unauthenticated("session expired; sign in again"));
    }
    if record.status == Status::Active {
        let next = refresh_claims(settings, &ring, &claims.sub, &claims.fam, platform.ids.new_id(), now);
        let ops = vec![
            WriteOp::Update {
                key: refresh_key(&claims.jti),
                actions: vec![
                    UpdateAction::Set("status".into(), Value::S("rotated".into())),
                    UpdateAction::Set("successor".into(), Value::S(next.jti.clone())),
                    UpdateAction::Set("rotated_at".into(), Value::N(now.as_second())),
                    UpdateAction::Set("rotated_by".into(), Value::S(fingerprint(meta))),
                ],
                condition: Some(Condition::eq("status", "active")),
            },
            WriteOp::create(refresh_record_item(&next)?),
            WriteOp::Update {
                key: session_key(&claims.sub, &claims.fam),
                actions: vec![
                    UpdateAction::Set("last_used_at".into(), Value::S(now.to_string())),
                    UpdateAction::Set(attr::TTL.into(), Value::N(next.exp + KEEP_AFTER_EXPIRY.as_secs())),
                ],
                condition: Some(Condition::eq("status", "active")),
            },
        ];
        match platform.store.transact(ops).await {
            Ok(()) => return pair(platform, settings, &ring, &next, now),
            // Another request rotated this token first: answer as for a rotated token.
            Err(StoreError::ConditionFailed { index: 0, current: Some(current) }) => {
                return rotated(platform, settings, &ring, meta, &claims, current.to_record()?, now).await;
            }
            Err(StoreError::ConditionFailed { index: 0, current: None }) => {
                return Err(unauthenticated("refresh token unknown or expired"));
            }
            Err(StoreError::ConditionFailed { index: 2, .. }) => {
                return Err(unauthenticated("session ended"));
            }
            Err(e) => return Err(e.into()),
        }
    }
    rotated(platform, settings, &ring, meta, &claims, record, now).await
}

/// A retired token: within the grace window, from the client that rotated it (same IP and user
/// agent), it yields its successor again (the client lost the first answer); otherwise it is a
/// replay and the session is revoked.
async fn rotated(
    platform: &Platform,
    settings: &AuthSettings,
    keys: &KeyRing,
    meta: &RequestMeta,
    claims: &Claims,
    record: RefreshRecord,
    now: Timestamp,
) -> Result<TokenPair, AppError> {
    let rotated_at = record.rotated_at.unwrap_or(i64::MIN);
    let in_grace = now.as_second() - rotated_at <= settings.refresh_grace.as_secs();
    let same_client = record.rotated_by.as_deref() == Some(fingerprint(meta).as_str());
    if let Some(successor) = record.successor.filter(|_| in_grace && same_client) {
        let item = platform
            .store
            .get(&refresh_key(&successor))
            .await?
            .ok_or_else(|| unauthenticated("refresh token unknown or expired"))?;
        let next: RefreshRecord = item.to_record()?;
        // Signing is deterministic: the same claims give the very token issued before.
        let again = Claims {
            iss: keys.issuer().to_owned(),
            aud: REFRESH_AUDIENCE.to_owned(),
            sub: next.user_id,
            iat: next.issued_at,
            nbf: next.issued_at,
            exp: next.expires_at,
            jti: next.jti,
            fam: next.session_id,
        };
        return pair(platform, settings, keys, &again, now);
    }
    // Reuse: someone holds a copy of an old token. End the session everywhere it is used.
    let event = user_event(
        platform,
        meta,
        Some(&claims.sub),
        "auth.refresh_reuse_detected",
        &claims.sub,
        serde_json::json!({ "session_id": claims.fam, "token_id": claims.jti }),
    );
    let profile = crate::accounts::profiles(platform, std::slice::from_ref(&claims.sub)).await?;
    let to = profile.first().map_or_else(
        || Recipient { user_id: Some(claims.sub.clone()), ..Recipient::default() },
        crate::accounts::recipient,
    );
    let (notice, queue) =
        notice_event(platform.ids.new_id(), now, None, &Notice::new(Topic::SessionRevoked, to));
    let (notice_op, entry) = outbox::record(&notice, &queue)?;
    let ops =
        vec![revoke(&claims.sub, &claims.fam, "refresh_token_reuse"), audit::record(&event)?, notice_op];
    match platform.store.transact(ops).await {
        Ok(()) => {
            tracing::warn!(user_id = %claims.sub, session_id = %claims.fam, "refresh token reuse: session revoked");
            platform.outbox.relay_committed(vec![entry]).await;
        }
        // Already revoked by a concurrent replay: nothing more to do.
        Err(StoreError::ConditionFailed { index: 0, .. }) => {}
        Err(e) => return Err(e.into()),
    }
    Err(unauthenticated("refresh token reuse detected; the session was revoked, sign in again"))
}

/// Ends the caller's session: its refresh token and its access tokens stop working at once.
pub async fn logout(platform: &Platform, meta: &RequestMeta, caller: &Caller) -> Result<(), AppError> {
    let event = user_event(
        platform,
        meta,
        Some(&caller.user_id),
        "auth.logout",
        &caller.user_id,
        serde_json::json!({ "session_id": caller.session_id }),
    );
    match platform
        .store
        .transact(vec![revoke(&caller.user_id, &caller.session_id, "logout"), audit::record(&event)?])
        .await
    {
        Ok(()) | Err(StoreError::ConditionFailed { index: 0, .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Authenticates a bearer access token: signature, claims and time, then, in one batch read,
/// the user, the session (must be active) and the membership of `studio_id`; the caller's API
/// rate limit is counted alongside.
pub async fn authenticate(
    platform: &Platform,
    settings: &AuthSettings,
    token: &str,
    studio_id: Option<&StudioId>,
) -> Result<Authenticated, AppError> {
    let claims = settings
        .keys
        .ring()
        .await?
        .verify(token, ACCESS_AUDIENCE, platform.clock.now())
        .map_err(|e| AppError::Unauthenticated(format!("access token refused: {e}")))?;
    let mut keys = vec![user_key(&claims.sub), session_key(&claims.sub, &claims.fam)];
    if let Some(studio) = studio_id {
        keys.push(member_key(studio, &claims.sub));
    }
    let (items, limited) = tokio::join!(
        platform.store.get_many(&keys),
        rate_limit::hit(platform, "api", &claims.sub, settings.limits.api_per_caller)
    );
    let items = items?;
    limited?;
    let find = |key: &Key| items.iter().find(|i| i.key().as_ref() == Some(key));
    let user: UserRecord = find(&keys[0]).ok_or_else(|| unauthenticated("no such user"))?.to_record()?;
    let session: SessionRecord =
        find(&keys[1]).ok_or_else(|| unauthenticated("session ended"))?.to_record()?;
    if session.status != Status::Active {
        return Err(unauthenticated("session ended"));
    }
    let role = match keys.get(2).and_then(find) {
        Some(item) => Some(item.to_record::<Membership>()?.role),
        None => None,
    };
    Ok(Authenticated {
        caller: Caller {
            user_id: user.id.clone(),
            session_id: session.id,
            is_admin: user.is_admin,
            api_key: None,
        },
        user: user.profile(),
        role,
    })
}
