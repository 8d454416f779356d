//! Fixed-window rate limits as atomic DynamoDB counters with TTL: one `UpdateItem ADD` per
//! hit, returning the window's count.

use sha2::{Digest, Sha256};

use crate::store::{Key, UpdateAction, Value, WriteOp, attr};
use crate::{AppError, Platform};

/// Requests allowed per minute.
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
    /// Report requests per caller.
    pub reports_per_caller: u32,
}

impl Default for RateLimits {
    /// The seed's limits.
    fn default() -> Self {
        RateLimits {
            login_per_ip_email: 5,
            login_per_ip: 20,
            register_per_ip: 10,
            api_per_caller: 100,
            reports_per_caller: 20,
        }
    }
}

const WINDOW_SECONDS: i64 = 60;

/// Counts a hit on `bucket` for `subject` (an IP, an email, a user id: stored only hashed) and
/// refuses it past `limit` in the current minute.
pub async fn hit(platform: &Platform, bucket: &str, subject: &str, limit: u32) -> Result<(), AppError> {
    let now = platform.clock.now().as_second();
    let window = now.div_euclid(WINDOW_SECONDS);
    let window_end = (window + 1) * WINDOW_SECONDS;
    let digest = Sha256::digest(subject.as_bytes());
    let hashed: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    let key = Key::new(format!("RATE#{bucket}#{hashed}"), window.to_string());
    // A crash may forget a few hits; that is no reason to wait for a disk flush on every request.
    let counted = platform
        .store
        .write_relaxed(WriteOp::update(
            key,
            vec![
                UpdateAction::Add("n".into(), 1),
                UpdateAction::SetIfNotExists(attr::TTL.into(), Value::N(window_end + WINDOW_SECONDS)),
            ],
        ))
        .await?
        .ok_or_else(|| AppError::Internal("counter update returned nothing".into()))?;
    let count = counted.number("n")?;
    if count > i64::from(limit) {
        let retry_after = u64::try_from((window_end - now).max(1)).unwrap_or(1);
        return Err(AppError::RateLimited { retry_after });
    }
    Ok(())
}
