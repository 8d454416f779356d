//! Signed tokens (JWT, HS256) from a key ring that can rotate. Validation is explicit: the
//! algorithm is pinned by the key named in `kid` (never taken from the token), `exp`, `iat`,
//! `nbf`, `iss`, `aud` and `sub` are required, time is checked against our clock with a small
//! leeway.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jiff::Timestamp;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// Audience of access tokens.
pub const ACCESS_AUDIENCE: &str = "atelier-api";
/// Audience of refresh tokens: a refresh token is never accepted as an access token.
pub const REFRESH_AUDIENCE: &str = "atelier-refresh";
/// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
pub const LEEWAY_SECONDS: i64 = 10;
/// Shortest secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

/// What a key may still do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    /// Signs new tokens and verifies (exactly one key is active).
    Active,
    /// Verifies tokens signed before a rotation.
    Verify,
    /// Accepted by nothing: tokens naming it are refused.
    Retired,
}

/// One key of the ring, as configured.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// Key id, put in the token header.
    pub kid: String,
    /// Base64 secret (at least 32 bytes decoded); absent for retired keys.
    #[serde(default)]
    pub secret: Option<String>,
    /// What it may do.
    pub status: KeyStatus,
}

struct RingKey {
    kid: String,
    algorithm: Algorithm,
    encoding: EncodingKey,
    // None for retired keys: nothing can verify against them, whatever a bug elsewhere says.
    decoding: Option<DecodingKey>,
    status: KeyStatus,
}

/// The keys, and the issuer their tokens name.
pub struct KeyRing {
    keys: Vec<RingKey>,
    issuer: String,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<(&str, KeyStatus)> = self.keys.iter().map(|k| (k.kid.as_str(), k.status)).collect();
        f.debug_struct("KeyRing").field("keys", &kids).field("issuer", &self.issuer).finish()
    }
}

/// Where the key ring comes from: configuration, or a secret store that can rotate it.
#[async_trait::async_trait]
pub trait KeySource: Send + Sync + 'static {
    /// The current ring.
    async fn ring(&self) -> Result<std::sync::Arc<KeyRing>, atelier_platform::AppError>;
}

/// A ring fixed at start-up (`ATELIER_JWT_KEYS`; local runs and tests).
#[derive(Debug)]
pub struct StaticKeys(pub std::sync::Arc<KeyRing>);

#[async_trait::async_trait]
impl KeySource for StaticKeys {
    async fn ring(&self) -> Result<std::sync::Arc<KeyRing>, atelier_platform::AppError> {
        Ok(self.0.clone())
    }
}

/// A ring kept in a secret (`ATELIER_JWT_KEYS_SECRET` on AWS): parsed again only when the
/// secret's text changes, so a rotation reaches every running function without a redeploy.
pub struct SecretKeys {
    source: std::sync::Arc<dyn atelier_platform::secrets::SecretSource>,
    issuer: String,
    parsed: tokio::sync::RwLock<Option<(std::sync::Arc<str>, std::sync::Arc<KeyRing>)>>,
}

impl SecretKeys {
    /// Keys read from `source`, issuing tokens as `issuer`.
    pub fn new(
        source: std::sync::Arc<dyn atelier_platform::secrets::SecretSource>,
        issuer: &str,
    ) -> SecretKeys {
        SecretKeys { source, issuer: issuer.to_owned(), parsed: tokio::sync::RwLock::new(None) }
    }
}

#[async_trait::async_trait]
impl KeySource for SecretKeys {
    async fn ring(&self) -> Result<std::sync::Arc<KeyRing>, atelier_platform::AppError> {
        let text = self.source.current().await?;
        if let Some((seen, ring)) = &*self.parsed.read().await
            && std::sync::Arc::ptr_eq(seen, &text)
        {
            return Ok(ring.clone());
        }
        let ring = std::sync::Arc::new(
            KeyRing::from_json(&text, &self.issuer).map_err(atelier_platform::AppError::Internal)?,
        );
        *self.parsed.write().await = Some((text, ring.clone()));
        Ok(ring)
    }
}

/// Claims of both token kinds; `aud` tells them apart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// Audience: [`ACCESS_AUDIENCE`] or [`REFRESH_AUDIENCE`].
    pub aud: String,
    /// The user id.
    pub sub: atelier_domain::ids::UserId,
    /// Issued at (epoch seconds).
    pub iat: i64,
    /// Not before (epoch seconds).
    pub nbf: i64,
    /// Expires at (epoch seconds).
    pub exp: i64,
    /// Token id.
    pub jti: String,
    /// The session (refresh family) the token belongs to.
    pub fam: String,
}

/// Why a token was refused; all of these are a 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a well-formed token of ours.
    #[error("malformed token")]
    Malformed,
    /// `kid` missing, unknown or retired.
    #[error("unknown or retired key")]
    UnknownKey,
    /// Signature, algorithm or claims do not check out.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// Expired.
    #[error("token expired")]
    Expired,
    /// Not valid yet.
    #[error("token not yet valid")]
    NotYetValid,
}

/// Why a token could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    /// The ring has no active key (configuration is checked at start-up, so this is a bug).
    #[error("no active signing key")]
    NoActiveKey,
    /// The encoder refused.
    #[error("encoding the token")]
    Encoding(#[source] jsonwebtoken::errors::Error),
}

impl KeyRing {
    /// A ring from configuration: exactly one active key, secrets of 32+ bytes.
    pub fn new(keys: Vec<KeyConfig>, issuer: &str) -> Result<KeyRing, String> {
        let mut ring = Vec::new();
        for key in keys {
            if ring.iter().any(|k: &RingKey| k.kid == key.kid) || key.kid.is_empty() {
                return Err(format!("key id `{}` is empty or repeated", key.kid));
            }
            let secret = match (&key.secret, key.status) {
                (Some(s), _) => {
                    STANDARD.decode(s).map_err(|_| format!("key `{}`: secret is not base64", key.kid))?
                }
                (None, KeyStatus::Retired) => Vec::new(),
                (None, _) => return Err(format!("key `{}` has no secret", key.kid)),
            };
            if key.status != KeyStatus::Retired && secret.len() < MIN_SECRET_BYTES {
                return Err(format!("key `{}`: secret shorter than {MIN_SECRET_BYTES} bytes", key.kid));
            }
            ring.push(RingKey {
                kid: key.kid,
                algorithm: Algorithm::HS256,
                encoding: EncodingKey::from_secret(&secret),
                decoding: (key.status != KeyStatus::Retired).then(|| DecodingKey::from_secret(&secret)),
                status: key.status,
            });
        }
        if ring.iter().filter(|k| k.status == KeyStatus::Active).count() != 1 {
            return Err("exactly one key must be active".into());
        }
        Ok(KeyRing { keys: ring, issuer: issuer.to_owned() })
    }

    /// A ring from the JSON of `ATELIER_JWT_KEYS`: an array of keys
    /// `[{"kid":..,"secret":..,"status":..}]`, or one key object (as the template's generated
    /// secret is).
    pub fn from_json(text: &str, issuer: &str) -> Result<KeyRing, String> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            Many(Vec<KeyConfig>),
            One(KeyConfig),
        }
        let keys = match serde_json::from_str(text).map_err(|e| format!("ATELIER_JWT_KEYS: {e}"))? {
            OneOrMany::Many(keys) => keys,
            OneOrMany::One(key) => vec![key],
        };
        KeyRing::new(keys, issuer)
    }

    /// The issuer.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Signs claims with the active key.
    pub fn sign(&self, claims: &Claims) -> Result<String, SigningError> {
        let key =
            self.keys.iter().find(|k| k.status == KeyStatus::Active).ok_or(SigningError::NoActiveKey)?;
        let mut header = Header::new(key.algorithm);
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, claims, &key.encoding).map_err(SigningError::Encoding)
    }

    /// Verifies a token for `audience` at `now`, returning its claims.
    pub fn verify(&self, token: &str, audience: &str, now: Timestamp) -> Result<Claims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let (key, decoding) = self
            .keys
            .iter()
            .filter(|k| k.status != KeyStatus::Retired)
            .find_map(|k| Some((k, k.decoding.as_ref()?)).filter(|(k, _)| k.kid == kid))
            .ok_or(TokenError::UnknownKey)?;
        // Pinned by the key: a token claiming another algorithm (`none`, RS256...) is refused.
        let mut validation = Validation::new(key.algorithm);
        validation.algorithms = vec![key.algorithm];
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.set_audience(&[audience]);
        validation.set_issuer(&[&self.issuer]);
        // Time is checked below against our clock, not the system's.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        let claims = jsonwebtoken::decode::<Claims>(token, decoding, &validation)
            .map_err(|e| TokenError::Invalid(e.to_string()))?
            .claims;
        let now = now.as_second();
        if claims.exp <= now - LEEWAY_SECONDS {
            return Err(TokenError::Expired);
        }
        if claims.nbf > now + LEEWAY_SECONDS || claims.iat > now + LEEWAY_SECONDS {
            return Err(TokenError::NotYetValid);
        }
        if claims.sub.is_empty() || claims.jti.is_empty() || claims.fam.is_empty() {
            return Err(TokenError::Invalid("empty subject, id or session".into()));
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(byte: u8) -> String {
        STANDARD.encode([byte; 32])
    }

    fn ring() -> KeyRing {
        KeyRing::new(
            vec![
                KeyConfig { kid: "k2".into(), secret: Some(secret(2)), status: KeyStatus::Active },
                KeyConfig { kid: "k1".into(), secret: Some(secret(1)), status: KeyStatus::Verify },
                KeyConfig { kid: "k0".into(), secret: Some(secret(0)), status: KeyStatus::Retired },
            ],
            "atelier",
        )
        .expect("valid ring")
    }

    fn claims(aud: &str, now: i64) -> Claims {
        Claims {
            iss: "atelier".into(),
            aud: aud.into(),
            sub: "u1".into(),
            iat: now,
            nbf: now,
            exp: now + 1800,
            jti: "j1".into(),
            fam: "f1".into(),
        }
    }

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(second).expect("valid")
    }

    #[test]
    fn rings_are_checked() {
        let key = |kid: &str, status| KeyConfig { kid: kid.into(), secret: Some(secret(1)), status };
        assert!(KeyRing::new(vec![key("a", KeyStatus::Verify)], "i").is_err(), "needs an active key");
        assert!(KeyRing::new(vec![key("a", KeyStatus::Active), key("b", KeyStatus::Active)], "i").is_err());
        assert!(KeyRing::new(vec![key("a", KeyStatus::Active), key("a", KeyStatus::Verify)], "i").is_err());
        let short = KeyConfig {
            kid: "a".into(),
            secret: Some(STANDARD.encode([1u8; 16])),
            status: KeyStatus::Active,
        };
        assert!(KeyRing::new(vec![short], "i").is_err());
        assert!(KeyRing::from_json(r#"[{"kid":"a","secret":"AAAA","status":"bogus"}]"#, "i").is_err());
        // The template's generated secret: one object, 64 alphanumerics (valid base64).
        let generated = format!(r#"{{"kid":"initial","status":"active","secret":"{}"}}"#, "aZ09".repeat(16));
        assert!(KeyRing::from_json(&generated, "i").is_ok());
    }

    #[test]
    fn tokens_round_trip_and_verify_keys_still_verify() {
        let ring = ring();
        let now = 1_700_000_000;
        let token = ring.sign(&claims(ACCESS_AUDIENCE, now)).expect("sign");
        assert_eq!(
            ring.verify(&token, ACCESS_AUDIENCE, at(now)).expect("valid"),
            claims(ACCESS_AUDIENCE, now)
        );
        assert_eq!(
            ring.verify(&token, REFRESH_AUDIENCE, at(now))
                .map(|_| ())
                .map_err(|e| matches!(e, TokenError::Invalid(_))),
            Err(true)
        );
        assert_eq!(
            ring.verify(&token, ACCESS_AUDIENCE, at(now + 1800 + LEEWAY_SECONDS)),
            Err(TokenError::Expired)
        );
        assert!(ring.verify(&token, ACCESS_AUDIENCE, at(now + 1800 + LEEWAY_SECONDS - 1)).is_ok(), "leeway");
        assert_eq!(
            ring.verify(&token, ACCESS_AUDIENCE, at(now - LEEWAY_SECONDS - 1)),
            Err(TokenError::NotYetValid)
        );

        // A token from before the rotation (signed by k1, now verify-only) still passes.
        let old = KeyRing::new(
            vec![KeyConfig { kid: "k1".into(), secret: Some(secret(1)), status: KeyStatus::Active }],
            "atelier",
        )
        .expect("ring");
        let old_token = old.sign(&claims(ACCESS_AUDIENCE, now)).expect("sign");
        assert!(ring.verify(&old_token, ACCESS_AUDIENCE, at(now)).is_ok());
        // One from the retired k0 does not.
        let retired = KeyRing::new(
            vec![KeyConfig { kid: "k0".into(), secret: Some(secret(0)), status: KeyStatus::Active }],
            "atelier",
        )
        .expect("ring");
        let retired_token = retired.sign(&claims(ACCESS_AUDIENCE, now)).expect("sign");
        assert_eq!(ring.verify(&retired_token, ACCESS_AUDIENCE, at(now)), Err(TokenError::UnknownKey));
    }
}
