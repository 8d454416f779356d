//! Secrets from Secrets Manager: read on first use (never at init), cached, and read again every
//! few minutes so a rotation reaches every running function.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use atelier_platform::AppError;
use atelier_platform::secrets::SecretSource;
use tokio::sync::RwLock;

/// How long a fetched secret is used before it is read again.
pub const REFRESH_EVERY: Duration = Duration::from_secs(300);

/// A secret kept in Secrets Manager, as a string.
pub struct SecretsManagerSecret {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
    refresh: Duration,
    cache: RwLock<Option<(Arc<str>, Instant)>>,
}

impl SecretsManagerSecret {
    /// The secret `secret_id` (name or ARN), read again after `refresh`.
    pub fn new(
        client: aws_sdk_secretsmanager::Client,
        secret_id: &str,
        refresh: Duration,
    ) -> SecretsManagerSecret {
        SecretsManagerSecret { client, secret_id: secret_id.to_owned(), refresh, cache: RwLock::new(None) }
    }

    async fn fetch(&self) -> Result<String, AppError> {
        let secret = self.client.get_secret_value().secret_id(&self.secret_id).send().await.map_err(|e| {
            AppError::Unavailable(format!(
                "secret {}: {}",
                self.secret_id,
                aws_sdk_secretsmanager::error::DisplayErrorContext(e)
            ))
        })?;
        secret
            .secret_string()
            .map(str::to_owned)
            .ok_or_else(|| AppError::Internal(format!("secret {} is not a string", self.secret_id)))
    }
}

#[async_trait]
impl SecretSource for SecretsManagerSecret {
    async fn current(&self) -> Result<Arc<str>, AppError> {
        if let Some((text, fetched)) = &*self.cache.read().await
            && fetched.elapsed() < self.refresh
        {
            return Ok(text.clone());
        }
        let mut cache = self.cache.write().await;
        if let Some((text, fetched)) = &*cache
            && fetched.elapsed() < self.refresh
        {
            return Ok(text.clone());
        }
        match self.fetch().await {
            Ok(fresh) => {
                // The same text keeps its `Arc`, so readers know nothing changed.
                let text = match &*cache {
                    Some((old, _)) if **old == *fresh => old.clone(),
                    _ => Arc::from(fresh),
                };
                *cache = Some((text.clone(), Instant::now()));
                Ok(text)
            }
            // A passing outage of Secrets Manager must not sign everyone out: keep the last text.
            Err(e) => match &*cache {
                Some((text, _)) => {
                    tracing::warn!(error = %atelier_platform::error::chain(&e), secret = %self.secret_id, "secret refresh failed; using the cached value");
                    Ok(text.clone())
                }
                None => Err(e),
            },
        }
    }
}

/// The Secrets Manager secret holding the token key ring (`ATELIER_JWT_KEYS_SECRET`).
pub fn jwt_keys_secret_from_env(
    config: &aws_config::SdkConfig,
) -> Result<Arc<dyn SecretSource>, crate::ConfigError> {
    let secret = std::env::var("ATELIER_JWT_KEYS_SECRET")
        .map_err(|_| crate::ConfigError("set ATELIER_JWT_KEYS_SECRET (or ATELIER_JWT_KEYS)".into()))?;
    let client = aws_sdk_secretsmanager::Client::new(config);
    Ok(Arc::new(SecretsManagerSecret::new(client, &secret, REFRESH_EVERY)))
}
