//! Idempotency keys for creating requests: the first request with a key stores its response
//! in the same transaction as its effects; a retry with the same key and the same request gets
//! that response again without repeating anything; the same key with another request is a 422.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::store::{Item, Key, StoreError, WriteOp, attr};
use crate::{AppError, Platform};

/// How long a key is remembered.
pub const RETENTION: Duration = Duration::from_secs(24 * 3600);

/// An `Idempotency-Key` as a request presents it, bound to the caller and the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    key: Key,
    request_hash: String,
}

impl IdempotencyKey {
    /// The key `value` sent by `caller` in `scope` (a studio, say) for a request whose method,
    /// path and body are `request`. Keys are 1 to 255 visible ASCII characters.
    pub fn new(scope: &str, caller: &str, value: &str, request: &[u8]) -> Result<IdempotencyKey, AppError> {
        let ok = (1..=255).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_graphic());
        if !ok {
            return Err(AppError::BadRequest(
                "Idempotency-Key must be 1 to 255 visible ASCII characters".into(),
            ));
        }
        let id = crate::sha256_hex(format!("{scope}\n{caller}\n{value}").as_bytes());
        Ok(IdempotencyKey {
            key: Key::new(format!("IDEM#{id}"), "IDEM"),
            request_hash: crate::sha256_hex(request),
        })
    }

    /// The store key of its record.
    pub fn store_key(&self) -> &Key {
        &self.key
    }

    /// The response stored under this key, if a request already used it: `Err` (422) when
    /// that request was a different one.
    pub fn replay(&self, record: Option<&Item>) -> Result<Option<Outcome>, AppError> {
        let Some(item) = record else { return Ok(None) };
        let stored: Record = item.to_record()?;
        if stored.request_hash != self.request_hash {
            return Err(AppError::Unprocessable(
                crate::error::IDEMPOTENCY_KEY_REUSED,
                "this Idempotency-Key was used for a different request; use a new key".into(),
            ));
        }
        Ok(Some(stored.response))
    }

    /// Reads the record and replays it.
    pub async fn lookup(&self, platform: &Platform) -> Result<Option<Outcome>, AppError> {
        self.replay(platform.store.get(&self.key).await?.as_ref())
    }

    /// The write remembering `response`: put it in the transaction of the request's effects,
    /// so a key is never remembered for effects that did not happen, or the reverse.
    pub fn remember(&self, response: &Outcome, now: jiff::Timestamp) -> Result<WriteOp, StoreError> {
        let record = Record { request_hash: self.request_hash.clone(), response: response.clone() };
        let expires = now.as_second() + i64::try_from(RETENTION.as_secs()).unwrap_or(86_400);
        Ok(WriteOp::create(Item::from_record(&self.key, &record)?.with(attr::TTL, expires)))
    }
}

/// What a creating request came to, kept for its retries: whether it created anything, and
/// the body it answered with. The handler turns it into a status and headers, for the first
/// answer and every replay alike.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// Whether something was created.
    pub created: bool,
    /// The JSON body.
    pub body: serde_json::Value,
}

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    request_hash: String,
    response: Outcome,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_bound_to_caller_and_request() {
        let a = IdempotencyKey::new("s1", "u1", "key-1", b"POST /x {}").expect("valid");
        let b = IdempotencyKey::new("s1", "u2", "key-1", b"POST /x {}").expect("valid");
        assert_ne!(a.store_key(), b.store_key(), "another caller's key is another key");
        assert!(IdempotencyKey::new("s1", "u1", "", b"").is_err());
        assert!(IdempotencyKey::new("s1", "u1", "has space", b"").is_err());
        let response = Outcome { created: true, body: serde_json::json!({"id": "b1"}) };
        let op = a.remember(&response, jiff::Timestamp::UNIX_EPOCH).expect("encodes");
        let WriteOp::Put { item, .. } = op else { panic!("a put") };
        assert_eq!(a.replay(Some(&item)).expect("same request"), Some(response));
        let other = IdempotencyKey::new("s1", "u1", "key-1", b"POST /x {\"a\":1}").expect("valid");
        assert!(matches!(other.replay(Some(&item)), Err(AppError::Unprocessable(..))));
    }
}
