//! Fixed-window rate limits as atomic DynamoDB counters with TTL: one `UpdateItem ADD` per
//! hit, returning the window's count. Each capability names its own buckets and limits.

use sha2::{Digest, Sha256};

use crate::store::{Key, UpdateAction, Value, WriteOp, attr};
use crate::{AppError, Platform};

const WINDOW_SECONDS: i64 = 60;

/// Counts a hit on `bucket` for `subject` (an IP, an email, a user id: stored only hashed) and
/// refuses it past `limit` in the current minute. `u32::MAX` means no limit: nothing is counted.
pub async fn hit(platform: &Platform, bucket: &str, subject: &str, limit: u32) -> Result<(), AppError> {
    if limit == u32::MAX {
        return Ok(());
    }
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
