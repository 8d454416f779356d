//! Identity and access: accounts, sessions with rotating refresh tokens, authentication of
//! every request, and the settings they run with.

use atelier_domain::ids::{StudioId, UserId};
use atelier_domain::language::Language;
mod accounts;
pub mod api_keys;
pub mod oidc;
pub mod passwords;
pub mod routes;
mod sessions;
pub mod tokens;

use atelier_domain::identity::{Email, Role};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use atelier_platform::access::{Authenticated, Authenticator, UserProfile};
use atelier_platform::error::Reason;
use atelier_platform::store::{Item, Key, StoreError};

pub use accounts::{change_password, login, make_admin, me, profiles, recipient, register, update_profile};
pub use passwords::{HashCost, PasswordHasher};
pub use sessions::{authenticate, logout, refresh};
pub use tokens::{KeyRing, KeySource, SecretKeys, StaticKeys, TokenError};

/// 409: the email is registered already.
pub const EMAIL_TAKEN: Reason = Reason { slug: "email-taken", title: "Email already registered" };

/// Identity's rate limits: requests allowed per minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Logins per (IP, email).
    pub login_per_ip_email: u32,
    /// Logins per IP.
    pub login_per_ip: u32,
    /// Registrations per IP.
    pub register_per_ip: u32,
    /// Authenticated API requests per caller.
    pub api_per_caller: u32,
    /// Requests per API key.
    pub api_per_key: u32,
}

impl Default for RateLimits {
    /// The seed's limits.
    fn default() -> Self {
        RateLimits {
            login_per_ip_email: 5,
            login_per_ip: 20,
            register_per_ip: 10,
            api_per_caller: 100,
            api_per_key: 300,
        }
    }
}

/// How identity works in this deployment.
pub struct AuthSettings {
    /// Token signing keys.
    pub keys: std::sync::Arc<dyn tokens::KeySource>,
    /// Password hashing.
    pub hasher: PasswordHasher,
    /// Rate limits.
    pub limits: RateLimits,
    /// Access token lifetime (30 minutes).
    pub access_ttl: SignedDuration,
    /// Refresh token lifetime (7 days).
    pub refresh_ttl: SignedDuration,
    /// How long a rotated refresh token still yields its successor, for the client that rotated
    /// it and lost the response (30 seconds).
    pub refresh_grace: SignedDuration,
    /// Longest a session lives, refreshes or not (30 days): then the user signs in again.
    pub session_max_age: SignedDuration,
    /// Identity providers accepted for sign-in (Google, Apple), with their cached keys.
    pub oidc: std::sync::Arc<oidc::OidcProviders>,
}

impl std::fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSettings")
            .field("hasher", &self.hasher)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl AuthSettings {
    /// Settings with a fixed key ring and the seed's lifetimes and limits.
    pub fn new(keys: KeyRing, hasher: PasswordHasher) -> AuthSettings {
        AuthSettings::with_keys(std::sync::Arc::new(tokens::StaticKeys(std::sync::Arc::new(keys))), hasher)
    }

    /// Settings whose keys come from `keys` (a secret store, say).
    pub fn with_keys(keys: std::sync::Arc<dyn tokens::KeySource>, hasher: PasswordHasher) -> AuthSettings {
        AuthSettings {
            keys,
            hasher,
            limits: RateLimits::default(),
            access_ttl: SignedDuration::from_mins(30),
            refresh_ttl: SignedDuration::from_hours(7 * 24),
            refresh_grace: SignedDuration::from_secs(30),
            session_max_age: SignedDuration::from_hours(30 * 24),
            oidc: std::sync::Arc::default(),
        }
    }
}

/// An audit event about a user account (`entity` = `user`); `actor` is absent for anonymous
/// actions such as a failed login.
pub(crate) fn user_event(
    platform: &atelier_platform::Platform,
    meta: &atelier_platform::audit::RequestMeta,
    actor: Option<&str>,
    action: &str,
    entity_id: &str,
    changes: serde_json::Value,
) -> atelier_platform::audit::AuditEvent {
    atelier_platform::audit::AuditEvent {
        id: platform.ids.new_id(),
        at: platform.clock.now(),
        actor: actor.map(str::to_owned),
        action: action.to_owned(),
        entity: "user".into(),
        entity_id: entity_id.to_owned(),
        studio_id: None,
        ip: meta.ip.clone(),
        user_agent: meta.user_agent.clone(),
        changes,
    }
}

/// Argon2 cost from `ATELIER_ARGON2_*`, defaulting to the seed's 64 MiB and 3 iterations.
pub fn hash_cost_from_env() -> Result<HashCost, String> {
    let read = |name: &str, default: u32| -> Result<u32, String> {
        match std::env::var(name) {
            Ok(v) => v.parse().map_err(|_| format!("{name}: `{v}` is not a number")),
            Err(_) => Ok(default),
        }
    };
    let default = HashCost::default();
    Ok(HashCost {
        memory_kib: read("ATELIER_ARGON2_MEMORY_KIB", default.memory_kib)?,
        iterations: read("ATELIER_ARGON2_ITERATIONS", default.iterations)?,
        parallelism: read("ATELIER_ARGON2_PARALLELISM", default.parallelism)?,
    })
}

/// A stored user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// Id.
    pub id: UserId,
    /// Normalised email.
    pub email: Email,
    /// Display name.
    pub name: String,
    /// International phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Language of notices (absent: the studio's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<Language>,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Platform administrator.
    #[serde(default)]
    pub is_admin: bool,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
    /// Last successful login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_login_at: Option<Timestamp>,
    /// Optimistic-concurrency version.
    pub version: i64,
}

/// Key of a user.
pub fn user_key(user_id: &UserId) -> Key {
    Key::new(format!("USER#{user_id}"), "PROFILE")
}

/// Key of the item that reserves an email for one user.
pub fn email_key(email: &Email) -> Key {
    Key::new(format!("EMAIL#{}", email.as_str()), "EMAIL")
}

impl UserRecord {
    fn to_item(&self) -> Result<Item, StoreError> {
        Item::from_record(&user_key(&self.id), self)
    }

    /// What other capabilities may see of the user.
    pub fn profile(&self) -> UserProfile {
        UserProfile {
            id: self.id.clone(),
            email: self.email.clone(),
            name: self.name.clone(),
            phone: self.phone.clone(),
            language: self.language,
            created_at: self.created_at,
        }
    }
}

#[async_trait::async_trait]
impl Authenticator for AuthSettings {
    async fn authenticate(
        &self,
        platform: &atelier_platform::Platform,
        token: &str,
        studio_id: Option<&StudioId>,
    ) -> Result<Authenticated, atelier_platform::AppError> {
        sessions::authenticate(platform, self, token, studio_id).await
    }

    async fn authenticate_key(
        &self,
        platform: &atelier_platform::Platform,
        secret: &str,
        studio_id: &StudioId,
        request: atelier_platform::access::KeyUse<'_>,
    ) -> Result<Authenticated, atelier_platform::AppError> {
        api_keys::authenticate(platform, self, secret, studio_id, request).await
    }
}

/// A user as the API shows them (never the hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct UserView {
    /// Id.
    #[schema(value_type = String)]
    pub id: UserId,
    /// Email.
    #[schema(value_type = String)]
    pub email: Email,
    /// Name.
    pub name: String,
    /// Phone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Language of notices (absent: each studio's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<Language>,
    /// Platform administrator.
    pub is_admin: bool,
    /// Created.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Studios the user belongs to.
    pub memberships: Vec<MembershipView>,
}

/// One studio membership, as the user sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct MembershipView {
    /// The studio.
    #[schema(value_type = String)]
    pub studio_id: StudioId,
    /// The role there.
    #[schema(value_type = String, example = "owner")]
    pub role: Role,
}

impl UserView {
    fn of(user: &UserRecord, memberships: Vec<MembershipView>) -> UserView {
        UserView::of_profile(&user.profile(), user.is_admin, memberships)
    }

    fn of_profile(user: &UserProfile, is_admin: bool, memberships: Vec<MembershipView>) -> UserView {
        UserView {
            id: user.id.clone(),
            email: user.email.clone(),
            name: user.name.clone(),
            phone: user.phone.clone(),
            language: user.language,
            is_admin,
            created_at: user.created_at,
            memberships,
        }
    }
}

/// Tokens handed to a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TokenPair {
    /// Bearer token for API calls (30 minutes).
    pub access_token: String,
    /// Token to get a new pair (7 days, single use).
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds the access token lasts.
    pub expires_in: i64,
    /// Seconds the refresh token lasts.
    pub refresh_expires_in: i64,
}

/// A signed-in user and their tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SignedIn {
    /// The user.
    pub user: UserView,
    /// Their tokens.
    pub tokens: TokenPair,
}

/// `POST /v1/auth/register`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// Email (unique, case-insensitive).
    pub email: String,
    /// 10 to 128 characters, not a common password.
    pub password: String,
    /// Display name.
    pub name: String,
    /// International phone number.
    #[serde(default)]
    pub phone: Option<String>,
}

/// `POST /v1/auth/login`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// Email.
    pub email: String,
    /// Password.
    pub password: String,
}

/// `PATCH /v1/me`: only these fields can change.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileChanges {
    /// New display name.
    #[serde(default)]
    pub name: Option<String>,
    /// New phone number; `null` removes it.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    /// Language of notices (`en`, `pt-BR`); `null` goes back to each studio's.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<Language>)]
    pub language: Option<Option<Language>>,
}

/// `POST /v1/me/password`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The current password.
    pub current_password: String,
    /// The new one.
    pub new_password: String,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}
