//! Stripe's webhook signature: `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]`, each
//! `v1` an HMAC-SHA256 of `"{t}.{raw body}"` keyed with the endpoint secret's bytes. Checked on
//! the raw body before anything is parsed, in constant time, within a tolerance both ways. The
//! mock provider signs with [`header`], so both providers pass through the same check.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// How far the signed time may be from now, either way.
pub const TOLERANCE_SECONDS: i64 = 300;

/// Why a signature was refused (each is a 400 with nothing done).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureRefused {
    /// No header, or no `t=`.
    #[error("the Stripe-Signature header has no timestamp")]
    NoTimestamp,
    /// No non-empty `v1=`.
    #[error("the Stripe-Signature header has no v1 signature")]
    NoSignature,
    /// Too old or too far ahead.
    #[error("the signature's timestamp is outside the {TOLERANCE_SECONDS} s tolerance")]
    OutsideTolerance,
    /// No `v1` matches any secret.
    #[error("no signature matches")]
    Mismatch,
}

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    // Any key length is valid for HMAC.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The hex `v1` signature of `body` at `timestamp` with `secret`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    mac(secret, timestamp, body).finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// A whole `Stripe-Signature` header, one `v1` per secret (as Stripe sends while a secret is
/// rolled).
pub fn header(secrets: &[&str], timestamp: i64, body: &[u8]) -> String {
    let mut parts = vec![format!("t={timestamp}")];
    parts.extend(secrets.iter().map(|s| format!("v1={}", sign(s, timestamp, body))));
    parts.join(",")
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

/// Checks `header` over the raw `body` against any of `secrets` at `now` (epoch seconds).
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secrets: &[String],
    now: i64,
) -> Result<(), SignatureRefused> {
    let header = header.ok_or(SignatureRefused::NoTimestamp)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v)) if !v.is_empty() => signatures.extend(unhex(v)),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureRefused::NoTimestamp)?;
    if signatures.is_empty() {
        return Err(SignatureRefused::NoSignature);
    }
    if now.abs_diff(timestamp) > TOLERANCE_SECONDS.unsigned_abs() {
        return Err(SignatureRefused::OutsideTolerance);
    }
    let matches = secrets
        .iter()
        .any(|secret| signatures.iter().any(|sig| mac(secret, timestamp, body).verify_slice(sig).is_ok()));
    if matches { Ok(()) } else { Err(SignatureRefused::Mismatch) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";

    fn secrets() -> Vec<String> {
        vec![SECRET.to_owned()]
    }

    #[test]
    fn a_signed_body_verifies_and_anything_else_does_not() {
        let body = br#"{"id":"evt_1"}"#;
        let good = header(&[SECRET], 1000, body);
        assert_eq!(verify(Some(&good), body, &secrets(), 1000), Ok(()));
        assert_eq!(verify(Some(&good), body, &secrets(), 1000 + 300), Ok(()), "at the edge");
        assert_eq!(
            verify(Some(&good), body, &secrets(), 1000 + 301),
            Err(SignatureRefused::OutsideTolerance)
        );
        assert_eq!(
            verify(Some(&good), body, &secrets(), 1000 - 301),
            Err(SignatureRefused::OutsideTolerance)
        );
        assert_eq!(
            verify(Some(&good), br#"{"id": "evt_1"}"#, &secrets(), 1000),
            Err(SignatureRefused::Mismatch)
        );
        let wrong = header(&["whsec_other"], 1000, body);
        assert_eq!(verify(Some(&wrong), body, &secrets(), 1000), Err(SignatureRefused::Mismatch));
        assert_eq!(verify(Some("t=1000,v1="), body, &secrets(), 1000), Err(SignatureRefused::NoSignature));
        assert_eq!(verify(Some("v1=abcd"), body, &secrets(), 1000), Err(SignatureRefused::NoTimestamp));
        assert_eq!(verify(None, body, &secrets(), 1000), Err(SignatureRefused::NoTimestamp));
        assert_eq!(verify(Some("t=1000,v1=zz"), body, &secrets(), 1000), Err(SignatureRefused::NoSignature));
    }

    #[test]
    fn rotation_sends_two_signatures_and_either_secret_verifies() {
        let body = b"{}";
        let both = header(&["whsec_old", SECRET], 50, body);
        assert_eq!(verify(Some(&both), body, &secrets(), 50), Ok(()));
        assert_eq!(verify(Some(&both), body, &["whsec_old".to_owned()], 50), Ok(()));
    }

    #[test]
    fn stripes_documented_scheme() {
        // Computed independently: printf '1700000000.{}' | openssl dgst -sha256 -hmac whsec_test_secret
        assert_eq!(
            sign(SECRET, 1_700_000_000, b"{}"),
            "ceb8863f7208fa249a6cd8f951e993c7563412aca65866f6272283debe143ab3"
        );
    }
}
