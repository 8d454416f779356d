//! The token key ring from Secrets Manager: read on first use (never at init), cached, and read
//! again every few minutes so a rotation reaches every running function.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use atelier_core::AppError;
use atelier_core::auth::{KeyRing, KeySource, StaticKeys};
use tokio::sync::RwLock;

/// How long a fetched ring is used before it is read again.
pub const REFRESH_EVERY: Duration = Duration::from_secs(300);

/// A key ring kept in a Secrets Manager secret (JSON, as `ATELIER_JWT_KEYS`).
pub struct SecretsManagerKeys {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
    issuer: String,
    refresh: Duration,
    cache: RwLock<Option<(Arc<KeyRing>, Instant)>>,
}

impl SecretsManagerKeys {
    /// Keys from `secret_id` (name or ARN), read again after `refresh`.
    pub fn new(
        client: aws_sdk_secretsmanager::Client,
        secret_id: &str,
        issuer: &str,
        refresh: Duration,
    ) -> SecretsManagerKeys {
        SecretsManagerKeys {
            client,
            secret_id: secret_id.to_owned(),
            issuer: issuer.to_owned(),
            refresh,
            cache: RwLock::new(None),
        }
    }

    async fn fetch(&self) -> Result<KeyRing, AppError> {
        let secret = self.client.get_secret_value().secret_id(&self.secret_id).send().await.map_err(|e| {
            AppError::Unavailable(format!(
                "key ring: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(e)
            ))
        })?;
        let text = secret
            .secret_string()
            .ok_or_else(|| AppError::Internal("key ring secret is not a string".into()))?;
        KeyRing::from_json(text, &self.issuer).map_err(AppError::Internal)
    }
}

#[async_trait]
impl KeySource for SecretsManagerKeys {
    async fn ring(&self) -> Result<Arc<KeyRing>, AppError> {
        if let Some((ring, fetched)) = &*self.cache.read().await
            && fetched.elapsed() < self.refresh
        {
            return Ok(ring.clone());
        }
        let mut cache = self.cache.write().await;
        if let Some((ring, fetched)) = &*cache
            && fetched.elapsed() < self.refresh
        {
            return Ok(ring.clone());
        }
        match self.fetch().await {
            Ok(ring) => {
                let ring = Arc::new(ring);
                *cache = Some((ring.clone(), Instant::now()));
                Ok(ring)
            }
            // A passing outage of Secrets Manager must not sign everyone out: keep the last ring.
            Err(e) => match &*cache {
                Some((ring, _)) => {
                    tracing::warn!(error = %e, "key ring refresh failed; using the cached ring");
                    Ok(ring.clone())
                }
                None => Err(e),
            },
        }
    }
}

/// The key source the environment names: `ATELIER_JWT_KEYS` (the ring itself, for local runs)
/// or `ATELIER_JWT_KEYS_SECRET` (a Secrets Manager secret, on AWS).
pub fn key_source_from_env(config: &aws_config::SdkConfig) -> Result<Arc<dyn KeySource>, crate::ConfigError> {
    let issuer = std::env::var("ATELIER_JWT_ISSUER").unwrap_or_else(|_| "atelier".into());
    if let Ok(json) = std::env::var("ATELIER_JWT_KEYS") {
        let ring = KeyRing::from_json(&json, &issuer).map_err(crate::ConfigError)?;
        return Ok(Arc::new(StaticKeys(Arc::new(ring))));
    }
    let secret = std::env::var("ATELIER_JWT_KEYS_SECRET")
        .map_err(|_| crate::ConfigError("set ATELIER_JWT_KEYS_SECRET (or ATELIER_JWT_KEYS)".into()))?;
    let client = aws_sdk_secretsmanager::Client::new(config);
    Ok(Arc::new(SecretsManagerKeys::new(client, &secret, &issuer, REFRESH_EVERY)))
}
