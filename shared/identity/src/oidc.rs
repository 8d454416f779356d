//! Sign in with Google or Apple: the front end obtains an OpenID Connect ID token from the
//! provider and posts it here. The token is verified against the provider's published keys
//! (JWKS, cached, fetched again when a token names a key not seen yet): RS256 only, our client
//! ids as `aud`, the provider's `iss`, `exp` against our clock, the `nonce` when one is sent,
//! and a verified email. Then the linked account signs in; or a new account is made; or, when
//! an account with that email exists, it is linked only once the user proves its password — a
//! provider's say-so on an email never takes over an account.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use atelier_domain::identity::Email;
use atelier_domain::ids::UserId;
use atelier_platform::audit::{self, RequestMeta};
use atelier_platform::error::Reason;
use atelier_platform::store::{Condition, Item, Key, StoreError, UpdateAction, Value, WriteOp};
use atelier_platform::{AppError, Platform, rate_limit};
use base64::Engine;
use bytes::Bytes;
use http_body_util::Full;
use jiff::Timestamp;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Deserializer, Serialize};
use tokio::sync::RwLock;
use utoipa::ToSchema;

use crate::{AuthSettings, SignedIn, UserRecord, UserView, email_key, sessions, user_event, user_key};

/// 409: an account with the token's email exists and is not linked: send its password.
pub const LINK_REQUIRED: Reason =
    Reason { slug: "oidc-link-required", title: "Prove the account's password to link it" };
/// 403: the provider has not verified the token's email.
pub const EMAIL_NOT_VERIFIED: Reason =
    Reason { slug: "email-not-verified", title: "Email not verified by the provider" };

/// How long fetched keys are trusted before they are fetched again.
pub const KEYS_TTL: Duration = Duration::from_secs(3600);
/// Least time between two fetches caused by unknown key ids (a token naming garbage must not
/// make us hammer the provider).
pub const REFETCH_AFTER: Duration = Duration::from_secs(30);
/// Clock skew tolerated on `exp` and `iat`.
const LEEWAY_SECONDS: i64 = 10;

/// One provider as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderConfig {
    /// `google` or `apple`: the path segment.
    pub name: String,
    /// The `iss` its tokens carry.
    pub issuers: Vec<String>,
    /// Where its keys are published.
    pub jwks_url: String,
    /// Our client ids with it: a token must be for one of them (`aud`).
    pub client_ids: Vec<String>,
}

impl ProviderConfig {
    /// Google, for these client ids.
    pub fn google(client_ids: Vec<String>) -> ProviderConfig {
        ProviderConfig {
            name: "google".into(),
            issuers: vec!["https://accounts.google.com".into(), "accounts.google.com".into()],
            jwks_url: "https://www.googleapis.com/oauth2/v3/certs".into(),
            client_ids,
        }
    }

    /// Sign in with Apple, for these client ids (services ids or bundle ids).
    pub fn apple(client_ids: Vec<String>) -> ProviderConfig {
        ProviderConfig {
            name: "apple".into(),
            issuers: vec!["https://appleid.apple.com".into()],
            jwks_url: "https://appleid.apple.com/auth/keys".into(),
            client_ids,
        }
    }
}

struct CachedKeys {
    keys: JwkSet,
    fetched: Instant,
}

/// A provider with its cached keys.
struct Provider {
    config: ProviderConfig,
    keys: RwLock<Option<CachedKeys>>,
}

/// The providers a deployment accepts (none by default: the route answers 404).
#[derive(Default)]
pub struct OidcProviders {
    providers: HashMap<String, Provider>,
    client: std::sync::OnceLock<atelier_platform::https::HttpsClient>,
    fetches: std::sync::atomic::AtomicU64,
    refetch_after: Option<Duration>,
}

impl std::fmt::Debug for OidcProviders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcProviders")
            .field("providers", &self.providers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl OidcProviders {
    /// These providers.
    pub fn new(configs: Vec<ProviderConfig>) -> OidcProviders {
        let providers = configs
            .into_iter()
            .map(|config| (config.name.clone(), Provider { config, keys: RwLock::new(None) }))
            .collect();
        OidcProviders { providers, ..OidcProviders::default() }
    }

    /// From `ATELIER_OIDC_GOOGLE_CLIENT_IDS` and `ATELIER_OIDC_APPLE_CLIENT_IDS` (comma
    /// separated; a provider without client ids is off), each provider's keys URL overridable
    /// with `ATELIER_OIDC_<NAME>_JWKS_URL` (an emulator).
    pub fn from_env() -> OidcProviders {
        let mut configs = Vec::new();
        for (name, make) in [
            ("GOOGLE", ProviderConfig::google as fn(Vec<String>) -> ProviderConfig),
            ("APPLE", ProviderConfig::apple),
        ] {
            let ids: Vec<String> = std::env::var(format!("ATELIER_OIDC_{name}_CLIENT_IDS"))
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            if ids.is_empty() {
                continue;
            }
            let mut config = make(ids);
            if let Ok(url) = std::env::var(format!("ATELIER_OIDC_{name}_JWKS_URL")) {
                config.jwks_url = url;
            }
            configs.push(config);
        }
        OidcProviders::new(configs)
    }

    /// The same, fetching again for an unknown key id after `pause` rather than
    /// [`REFETCH_AFTER`] (tests rotate keys within seconds).
    pub fn with_refetch_after(mut self, pause: Duration) -> OidcProviders {
        self.refetch_after = Some(pause);
        self
    }

    fn refetch_after(&self) -> Duration {
        self.refetch_after.unwrap_or(REFETCH_AFTER)
    }

    /// Key sets fetched so far (tests check the cache with it).
    pub fn fetches(&self) -> u64 {
        self.fetches.load(std::sync::atomic::Ordering::Relaxed)
    }

    async fn fetch(&self, provider: &Provider) -> Result<JwkSet, AppError> {
        self.fetches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let client = self.client.get_or_init(|| atelier_platform::https::client(Duration::from_secs(3)));
        let request = http::Request::get(&provider.config.jwks_url)
            .header("accept", "application/json")
            .body(Full::new(Bytes::new()))
            .map_err(|e| AppError::failed("building the keys request", e))?;
        let unavailable = |detail: String| {
            AppError::DependencyUnavailable(
                PROVIDER_UNAVAILABLE,
                format!("{}'s keys could not be fetched: {detail}", provider.config.name),
            )
        };
        let (status, body) = atelier_platform::https::exchange(
            client,
            request,
            Duration::from_secs(5),
            "fetching the provider's keys",
        )
        .await
        .map_err(|e| unavailable(e.to_string()))?;
        if status != 200 {
            return Err(unavailable(format!("it answered {status}")));
        }
        serde_json::from_slice(&body).map_err(|e| unavailable(format!("not a key set: {e}")))
    }

    /// The key `kid` names: from the cache, or fetched when the cache is old or does not have
    /// it (at most once per [`REFETCH_AFTER`] for unknown ids).
    async fn key(&self, provider: &Provider, kid: &str) -> Result<Option<jsonwebtoken::jwk::Jwk>, AppError> {
        {
            let cached = provider.keys.read().await;
            if let Some(cached) = cached.as_ref()
                && cached.fetched.elapsed() < KEYS_TTL
            {
                if let Some(jwk) = cached.keys.find(kid) {
                    return Ok(Some(jwk.clone()));
                }
                if cached.fetched.elapsed() < self.refetch_after() {
                    return Ok(None);
                }
            }
        }
        let mut cached = provider.keys.write().await;
        // Another request fetched while this one waited for the lock: its answer stands, whether
        // or not it has this key (one fetch per pause, however many unknown ids arrive).
        if let Some(fresh) = cached.as_ref().filter(|c| c.fetched.elapsed() < self.refetch_after()) {
            return Ok(fresh.keys.find(kid).cloned());
        }
        let keys = self.fetch(provider).await?;
        let found = keys.find(kid).cloned();
        *cached = Some(CachedKeys { keys, fetched: Instant::now() });
        Ok(found)
    }
}

/// 503: the provider's keys could not be fetched.
pub const PROVIDER_UNAVAILABLE: Reason =
    Reason { slug: "identity-provider-unavailable", title: "The identity provider cannot be reached" };

/// `POST /v1/auth/oidc/{provider}`.
#[derive(Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OidcSignIn {
    /// The ID token the provider gave the front end.
    pub id_token: String,
    /// The nonce the front end sent the provider; the token must carry the same.
    #[serde(default)]
    pub nonce: Option<String>,
    /// The password of the existing account with the token's email, to link it.
    #[serde(default)]
    pub password: Option<String>,
    /// A name for a new account when the token has none (Apple gives it to the front end only).
    #[serde(default)]
    pub name: Option<String>,
}

impl std::fmt::Debug for OidcSignIn {
    /// Never the token or the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSignIn")
            .field("nonce", &self.nonce)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Google sends `email_verified` as a boolean, Apple sometimes as `"true"`.
fn flexible_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flexible {
        Bool(bool),
        Text(String),
    }
    Ok(match Option::<Flexible>::deserialize(d)? {
        Some(Flexible::Bool(b)) => b,
        Some(Flexible::Text(t)) => t == "true",
        None => false,
    })
}

#[derive(Debug, Deserialize)]
struct IdClaims {
    sub: String,
    exp: i64,
    #[serde(default)]
    iat: Option<i64>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default, deserialize_with = "flexible_bool")]
    email_verified: bool,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

fn refused(why: &str) -> AppError {
    AppError::Unauthenticated(format!("ID token refused: {why}"))
}

/// Verifies an ID token for `provider`: signature, algorithm, issuer, audience, expiry, nonce.
async fn verify(
    providers: &OidcProviders,
    provider: &Provider,
    token: &str,
    nonce: Option<&str>,
    now: Timestamp,
) -> Result<IdClaims, AppError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| refused("not a JWT"))?;
    // Both providers sign with RS256; the algorithm is ours to require, never the token's.
    if header.alg != Algorithm::RS256 {
        return Err(refused("the algorithm must be RS256"));
    }
    let kid = header.kid.ok_or_else(|| refused("no key id"))?;
    let jwk = providers
        .key(provider, &kid)
        .await?
        .ok_or_else(|| refused("signed with a key the provider does not publish"))?;
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| refused("the provider's key is unusable"))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&provider.config.client_ids);
    validation.set_issuer(&provider.config.issuers);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    // Time is checked against our clock below.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.leeway = 0;
    let claims =
        jsonwebtoken::decode::<IdClaims>(token, &key, &validation).map_err(|e| refused(why(&e)))?.claims;
    let now = now.as_second();
    if claims.exp + LEEWAY_SECONDS < now {
        return Err(refused("expired"));
    }
    if claims.iat.is_some_and(|iat| iat > now + LEEWAY_SECONDS) {
        return Err(refused("issued in the future"));
    }
    if let Some(sent) = nonce
        && claims.nonce.as_deref() != Some(sent)
    {
        return Err(refused("the nonce does not match"));
    }
    Ok(claims)
}

/// What a verification failure says (never the token's content).
fn why(e: &jsonwebtoken::errors::Error) -> &'static str {
    use jsonwebtoken::errors::ErrorKind;
    match e.kind() {
        ErrorKind::InvalidSignature => "bad signature",
        ErrorKind::InvalidAudience => "not for this application (aud)",
        ErrorKind::InvalidIssuer => "not from this provider (iss)",
        ErrorKind::MissingRequiredClaim(_) => "a required claim is missing",
        ErrorKind::InvalidAlgorithm => "the algorithm must be RS256",
        _ => "malformed",
    }
}

/// Key of the link between a provider's subject and an account.
pub fn link_key(provider: &str, subject: &str) -> Key {
    Key::new(format!("OIDC#{provider}#{}", atelier_platform::sha256_hex(subject.as_bytes())), "OIDC")
}

/// What signing in came to.
#[derive(Debug)]
pub struct OidcOutcome {
    /// The account, signed in.
    pub signed_in: SignedIn,
    /// Whether the account was made now.
    pub created: bool,
}

/// Signs in with a provider's ID token (see the module).
pub async fn sign_in(
    platform: &Platform,
    settings: &AuthSettings,
    meta: &RequestMeta,
    provider: &str,
    request: OidcSignIn,
) -> Result<OidcOutcome, AppError> {
    rate_limit::hit(platform, "login-ip", &meta.ip, settings.limits.login_per_ip).await?;
    let chosen = settings.oidc.providers.get(provider).ok_or(AppError::NotFound("identity provider"))?;
    let now = platform.clock.now();
    let claims = verify(&settings.oidc, chosen, &request.id_token, request.nonce.as_deref(), now).await?;
    let link = link_key(provider, &claims.sub);
    // Twice at most: a first sign-in racing another finds the other's link on the second pass.
    for _ in 0..2 {
        if let Some(linked) = platform.store.get(&link).await? {
            let user_id = UserId::new(linked.string("user_id")?);
            let user: UserRecord = platform
                .store
                .get(&user_key(&user_id))
                .await?
                .ok_or_else(|| AppError::Unauthenticated("the linked account no longer exists".into()))?
                .to_record()?;
            let signed_in =
                start(platform, settings, meta, &user, "auth.oidc_signed_in", provider, Vec::new()).await?;
            return Ok(OidcOutcome { signed_in, created: false });
        }
        if !claims.email_verified {
            return Err(AppError::Forbidden(
                EMAIL_NOT_VERIFIED,
                format!("{provider} has not verified this email"),
            ));
        }
        let email = Email::parse(claims.email.as_deref().unwrap_or_default(), "email")
            .map_err(|_| refused("no usable email in the token"))?;
        let link_item = Item::new(&link)
            .with("provider", provider)
            .with("email", email.as_str())
            .with("linked_at", now.to_string());
        match platform.store.get(&email_key(&email)).await? {
            Some(reservation) => {
                // A racing first sign-in may have made the account, with this very link, since
                // the link was read: sign in through the link rather than ask for a password.
                if platform.store.get(&link).await?.is_some() {
                    continue;
                }
                let user_id = UserId::new(reservation.string("user_id")?);
                let user: UserRecord = platform
                    .store
                    .get(&user_key(&user_id))
                    .await?
                    .ok_or_else(|| AppError::Internal("an email reserved for no account".into()))?
                    .to_record()?;
                let Some(password) = request.password.clone() else {
                    return Err(AppError::Conflict(
                        LINK_REQUIRED,
                        format!(
                            "an account with this email exists: send its password to link it to {provider}"
                        ),
                    ));
                };
                let pair = format!("{}|{}", meta.ip, email.as_str());
                rate_limit::hit(platform, "login-ip-email", &pair, settings.limits.login_per_ip_email)
                    .await?;
                if !settings.hasher.verify(password, user.password_hash.clone()).await? {
                    let event = user_event(
                        platform,
                        meta,
                        None,
                        "auth.login_failed",
                        email.as_str(),
                        serde_json::json!({ "email": email, "provider": provider }),
                    );
                    platform.store.write(audit::record(&event)?).await?;
                    return Err(AppError::Unauthenticated("invalid email or password".into()));
                }
                let link_op = WriteOp::create(link_item.with("user_id", user.id.as_str()));
                match start(platform, settings, meta, &user, "auth.oidc_linked", provider, vec![link_op])
                    .await
                {
                    Ok(signed_in) => return Ok(OidcOutcome { signed_in, created: false }),
                    Err(AppError::Conflict(..)) => continue,
                    Err(e) => return Err(e),
                }
            }
            None => {
                match create(platform, settings, meta, provider, &claims, &request, email, link_item).await {
                    Ok(signed_in) => return Ok(OidcOutcome { signed_in, created: true }),
                    Err(AppError::Conflict(..)) => continue,
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Err(AppError::Conflict(
        atelier_platform::error::CHANGED_MEANWHILE,
        "signing in raced another change: try again".into(),
    ))
}

/// Starts a session for `user`, with `extra` writes (a new link) in the same transaction; a
/// condition failing there is a conflict (a concurrent first sign-in linked first).
async fn start(
    platform: &Platform,
    settings: &AuthSettings,
    meta: &RequestMeta,
    user: &UserRecord,
    action: &str,
    provider: &str,
    extra: Vec<WriteOp>,
) -> Result<SignedIn, AppError> {
    let now = platform.clock.now();
    let (session_ops, tokens, session_id) = sessions::start(platform, settings, &user.id, meta, now).await?;
    let event = user_event(
        platform,
        meta,
        Some(&user.id),
        action,
        &user.id,
        serde_json::json!({ "provider": provider, "session_id": session_id }),
    );
    let mut ops = extra;
    ops.push(
        WriteOp::update(
            user_key(&user.id),
            vec![UpdateAction::Set("last_login_at".into(), Value::S(now.to_string()))],
        )
        .when(Condition::Exists),
    );
    ops.push(audit::record(&event)?);
    ops.extend(session_ops);
    platform.store.transact(ops).await.map_err(|e| match e {
        StoreError::ConditionFailed { .. } => {
            AppError::Conflict(atelier_platform::error::CHANGED_MEANWHILE, "linked meanwhile".into())
        }
        other => other.into(),
    })?;
    let memberships = crate::accounts::memberships(platform, &user.id).await?;
    Ok(SignedIn { user: UserView::of(user, memberships), tokens })
}

/// A new account for a provider's verified email: no password anyone knows (a random one is
/// hashed, so password sign-in simply fails), the email reserved and the link made in one
/// transaction.
#[allow(clippy::too_many_arguments)]
async fn create(
    platform: &Platform,
    settings: &AuthSettings,
    meta: &RequestMeta,
    provider: &str,
    claims: &IdClaims,
    request: &OidcSignIn,
    email: Email,
    link_item: Item,
) -> Result<SignedIn, AppError> {
    let name = request
        .name
        .clone()
        .or_else(|| claims.name.clone())
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| email.as_str().split('@').next().unwrap_or_default().to_owned());
    let name = atelier_domain::identity::check_name(&name, "name")?;
    let mut random = [0u8; 32];
    getrandom::fill(&mut random).map_err(|e| AppError::failed("drawing a password", e))?;
    let unusable = base64::engine::general_purpose::STANDARD.encode(random);
    let account = crate::accounts::NewAccount {
        email: email.clone(),
        name,
        phone: None,
        password_hash: settings.hasher.hash(unusable).await?,
    };
    let details = serde_json::json!({ "email": email, "provider": provider });
    let (user, mut ops, tokens) =
        crate::accounts::new_account(platform, settings, meta, account, details).await?;
    ops.insert(2, WriteOp::create(link_item.with("user_id", user.id.as_str())));
    platform.store.transact(ops).await.map_err(|e| match e {
        StoreError::ConditionFailed { .. } => {
            AppError::Conflict(atelier_platform::error::CHANGED_MEANWHILE, "registered meanwhile".into())
        }
        other => other.into(),
    })?;
    tracing::info!(user_id = %user.id, provider, "account registered through an identity provider");
    Ok(SignedIn { user: UserView::of(&user, Vec::new()), tokens })
}

/// What a front end needs to start a sign-in: the providers on, with our client ids.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProviderView {
    /// `google` or `apple`.
    pub name: String,
    /// Client ids the tokens may be for.
    pub client_ids: Vec<String>,
}

impl OidcProviders {
    /// The providers on.
    pub fn views(&self) -> Vec<ProviderView> {
        let mut views: Vec<ProviderView> = self
            .providers
            .values()
            .map(|p| ProviderView { name: p.config.name.clone(), client_ids: p.config.client_ids.clone() })
            .collect();
        views.sort_by(|a, b| a.name.cmp(&b.name));
        views
    }
}
