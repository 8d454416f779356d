//! HTTP settings from the environment.

use axum::http::HeaderValue;

/// Settings of the HTTP edge.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// `ATELIER_CORS_ORIGINS`: comma-separated origins allowed to call the API from a browser;
    /// empty means no cross-origin access.
    pub cors_origins: Vec<HeaderValue>,
    /// `ATELIER_BODY_LIMIT_BYTES`: largest request body (default 256 KiB).
    pub body_limit: usize,
    /// `ATELIER_TRUST_FORWARDED_FOR=true`: the host sits behind a proxy that appends the client
    /// address to `X-Forwarded-For` (off by default: a client could forge it).
    pub trust_forwarded_for: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig { cors_origins: Vec::new(), body_limit: 256 * 1024, trust_forwarded_for: false }
    }
}

/// A setting that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct HttpConfigError(pub String);

impl HttpConfig {
    /// Reads the settings.
    pub fn from_env() -> Result<HttpConfig, HttpConfigError> {
        let mut config = HttpConfig::default();
        if let Ok(origins) = std::env::var("ATELIER_CORS_ORIGINS") {
            for origin in origins.split(',').map(str::trim).filter(|o| !o.is_empty()) {
                let ok = origin.starts_with("https://") || origin.starts_with("http://");
                let value = HeaderValue::from_str(origin).ok().filter(|_| ok).ok_or_else(|| {
                    HttpConfigError(format!("ATELIER_CORS_ORIGINS: `{origin}` is not an origin"))
                })?;
                config.cors_origins.push(value);
            }
        }
        config.trust_forwarded_for = std::env::var("ATELIER_TRUST_FORWARDED_FOR").is_ok_and(|v| v == "true");
        if let Ok(limit) = std::env::var("ATELIER_BODY_LIMIT_BYTES") {
            config.body_limit = limit.parse().map_err(|_| {
                HttpConfigError(format!("ATELIER_BODY_LIMIT_BYTES: `{limit}` is not a number"))
            })?;
        }
        Ok(config)
    }
}
