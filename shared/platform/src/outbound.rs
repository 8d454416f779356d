//! Ports for messages that leave Atelier for people: email and SMS. Adapters: SES v2 and SNS on
//! AWS; files under the data directory on the local server (an `.eml` per email, a text file
//! per SMS). A send either succeeds with the provider's id, fails transiently (retry later) or
//! fails permanently (an unverified address, an invalid number: record it, never retry).

use std::sync::Arc;

use async_trait::async_trait;

use crate::store::Cause;

/// An email ready to go: the sender's address is the adapter's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEmail {
    /// Recipient address.
    pub to: String,
    /// Recipient name, for the `To:` header.
    pub to_name: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body (escaped when rendered).
    pub html: String,
}

/// A text message to a phone number in E.164 form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingSms {
    /// `+` and up to 15 digits.
    pub to: String,
    /// The text.
    pub text: String,
}

/// Why a message did not go out.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The provider is unavailable, throttling or timed out: the same send may succeed later.
    #[error("transient send failure: {context}")]
    Transient {
        /// What was being done.
        context: String,
        /// Why it failed.
        #[source]
        source: Cause,
    },
    /// The provider refused this message for good (unverified sender or recipient, invalid
    /// number, no channel configured): retrying cannot help.
    #[error("permanent send failure: {0}")]
    Permanent(String),
}

impl SendError {
    /// A transient failure of `context` caused by `source`.
    pub fn transient(context: impl Into<String>, source: impl Into<Cause>) -> SendError {
        SendError::Transient { context: context.into(), source: source.into() }
    }
}

/// Sends email.
#[async_trait]
pub trait MailSender: Send + Sync + 'static {
    /// Sends one email; returns the provider's message id (or the file written).
    async fn send(&self, email: &OutgoingEmail) -> Result<String, SendError>;
}

/// Sends SMS.
#[async_trait]
pub trait SmsSender: Send + Sync + 'static {
    /// Sends one text message; returns the provider's message id (or the file written).
    async fn send(&self, sms: &OutgoingSms) -> Result<String, SendError>;
}

/// What outbound webhooks may reach. Production allows neither; the local server and the
/// tests allow both by explicit configuration so a receiver on this machine can be used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookPolicy {
    /// Loopback targets (127.0.0.0/8, ::1, `localhost`) are allowed.
    pub allow_loopback: bool,
    /// `http://` targets are allowed (otherwise https only).
    pub allow_plain_http: bool,
}

impl WebhookPolicy {
    /// `ATELIER_WEBHOOKS_ALLOW_LOOPBACK=true` and `ATELIER_WEBHOOKS_ALLOW_HTTP=true`; both off
    /// unless set.
    pub fn from_env() -> WebhookPolicy {
        let on = |name: &str| std::env::var(name).is_ok_and(|v| v == "true");
        WebhookPolicy {
            allow_loopback: on("ATELIER_WEBHOOKS_ALLOW_LOOPBACK"),
            allow_plain_http: on("ATELIER_WEBHOOKS_ALLOW_HTTP"),
        }
    }
}

/// The sender address when `ATELIER_MAIL_FROM` is not set.
pub const DEFAULT_MAIL_FROM: &str = "no-reply@atelier.test";

/// `ATELIER_MAIL_FROM`, or [`DEFAULT_MAIL_FROM`].
pub fn mail_from_env() -> String {
    std::env::var("ATELIER_MAIL_FROM")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| DEFAULT_MAIL_FROM.to_owned())
}

/// The outbound channels a host provides.
#[derive(Clone)]
pub struct Outbound {
    /// Email.
    pub mail: Arc<dyn MailSender>,
    /// SMS.
    pub sms: Arc<dyn SmsSender>,
    /// Where webhooks may go.
    pub webhooks: WebhookPolicy,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound").field("webhooks", &self.webhooks).finish_non_exhaustive()
    }
}

impl Outbound {
    /// No email or SMS channel: every such send fails permanently and is recorded as such.
    /// What a host has before it configures its channels (the HTTP functions never send).
    pub fn none() -> Outbound {
        Outbound { mail: Arc::new(NoChannel), sms: Arc::new(NoChannel), webhooks: WebhookPolicy::default() }
    }
}

/// A channel this host does not have.
struct NoChannel;

#[async_trait]
impl MailSender for NoChannel {
    async fn send(&self, _: &OutgoingEmail) -> Result<String, SendError> {
        Err(SendError::Permanent("this host has no email channel configured".into()))
    }
}

#[async_trait]
impl SmsSender for NoChannel {
    async fn send(&self, _: &OutgoingSms) -> Result<String, SendError> {
        Err(SendError::Permanent("this host has no SMS channel configured".into()))
    }
}

/// Whether `number` is an E.164 phone number: `+`, a non-zero digit, up to 15 digits in all.
pub fn is_e164(number: &str) -> bool {
    let Some(digits) = number.strip_prefix('+') else { return false };
    (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0')
}

#[cfg(test)]
mod tests {
    use super::is_e164;

    #[test]
    fn e164_numbers() {
        assert!(is_e164("+5511987654321"));
        assert!(is_e164("+351912345678"));
        assert!(!is_e164("5511987654321"));
        assert!(!is_e164("+0511987654321"));
        assert!(!is_e164("+55 11 98765"));
        assert!(!is_e164("+1234567"));
        assert!(!is_e164("+1234567890123456"));
    }
}
