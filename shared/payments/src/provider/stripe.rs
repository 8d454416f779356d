//! A small client of Stripe's REST API: form-encoded requests, only the calls and fields used,
//! an `Idempotency-Key` on every creating call, a timeout over each exchange. A generated SDK
//! (async-stripe) would compile thousands of types for the six calls made here, and pull its
//! own HTTP stack; this reuses the hyper and rustls the webhooks already link (docs/payments.md).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use atelier_platform::payments::{
    EventPage, Intent, NewIntent, NewRefund, PaymentProvider, ProviderError, ProviderRefund,
};
use atelier_platform::secrets::SecretSource;
use bytes::Bytes;
use http_body_util::Full;
use serde_json::Value;

use super::wire;

/// The API key and webhook secrets: given, or read from a secret (Secrets Manager on AWS) whose
/// text is `{"api_key": "sk_…", "webhook_secrets": ["whsec_…"]}`, read on first use and again
/// when the adapter's cache expires, so a rolled secret reaches running functions.
#[derive(Clone)]
pub enum StripeKeys {
    /// Given in the configuration.
    Static {
        /// The secret API key (`sk_…`).
        api_key: String,
        /// Webhook endpoint secrets (`whsec_…`).
        webhook_secrets: Vec<String>,
    },
    /// In a secret.
    Secret(Arc<dyn SecretSource>),
}

#[derive(serde::Deserialize)]
struct SecretKeys {
    api_key: String,
    #[serde(default)]
    webhook_secrets: Vec<String>,
}

impl StripeKeys {
    async fn get(&self) -> Result<(String, Vec<String>), ProviderError> {
        match self {
            StripeKeys::Static { api_key, webhook_secrets } => Ok((api_key.clone(), webhook_secrets.clone())),
            StripeKeys::Secret(source) => {
                let text = source
                    .current()
                    .await
                    .map_err(|e| ProviderError::unavailable("reading the Stripe keys", e.to_string()))?;
                let keys: SecretKeys = serde_json::from_str(&text).map_err(|e| {
                    ProviderError::Refused(format!("the Stripe keys secret is malformed: {e}"))
                })?;
                Ok((keys.api_key, keys.webhook_secrets))
            }
        }
    }
}

/// Where Stripe is and the keys to use.
#[derive(Clone)]
pub struct StripeConfig {
    /// `https://api.stripe.com`, or an emulator.
    pub base_url: String,
    /// The keys.
    pub keys: StripeKeys,
    /// Longest wait for one call.
    pub timeout: Duration,
}

impl std::fmt::Debug for StripeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeConfig").field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

use atelier_platform::https::HttpsClient;

/// The Stripe adapter.
#[derive(Clone)]
pub struct Stripe {
    config: Arc<StripeConfig>,
    /// Built on the first call: loading the system's trust store takes milliseconds that a
    /// cold start should not pay before it has a request needing Stripe.
    client: Arc<OnceLock<HttpsClient>>,
}

/// An HTTP(S) client for providers (the platform's).
pub fn http_client(timeout: Duration) -> HttpsClient {
    atelier_platform::https::client(timeout)
}

/// Sends one request and reads the answer within `timeout` (the platform's, as a provider error).
pub async fn exchange(
    client: &HttpsClient,
    request: http::Request<Full<Bytes>>,
    timeout: Duration,
    what: &str,
) -> Result<(u16, Bytes), ProviderError> {
    atelier_platform::https::exchange(client, request, timeout, what)
        .await
        .map_err(|e| ProviderError::unavailable(what, e.reason))
}

impl Stripe {
    /// A client for `config`.
    pub fn new(config: StripeConfig) -> Stripe {
        Stripe { client: Arc::new(OnceLock::new()), config: Arc::new(config) }
    }

    async fn call(
        &self,
        method: http::Method,
        path: &str,
        form: &[(String, String)],
        idempotency_key: Option<&str>,
        what: &str,
    ) -> Result<Value, ProviderError> {
        let encoded = {
            let mut encoded = form_urlencoded::Serializer::new(String::new());
            for (k, v) in form {
                encoded.append_pair(k, v);
            }
            encoded.finish()
        };
        let base = self.config.base_url.trim_end_matches('/');
        let (uri, body) = if method == http::Method::GET && !encoded.is_empty() {
            (format!("{base}{path}?{encoded}"), Bytes::new())
        } else {
            (format!("{base}{path}"), Bytes::from(encoded))
        };
        let (api_key, _) = self.config.keys.get().await?;
        let mut request = http::Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", format!("Bearer {api_key}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("stripe-version", "2024-06-20");
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        let request =
            request.body(Full::new(body)).map_err(|e| ProviderError::Refused(format!("{what}: {e}")))?;
        let client = self.client.get_or_init(|| http_client(self.config.timeout));
        let (status, body) = exchange(client, request, self.config.timeout, what).await?;
        let value: Value = serde_json::from_slice(&body)
            .map_err(|e| ProviderError::unavailable(format!("{what}: unreadable answer ({status})"), e))?;
        match status {
            200..=299 => Ok(value),
            402 => {
                let error = &value["error"];
                Err(ProviderError::Declined {
                    message: error["message"].as_str().unwrap_or("the payment was declined").to_owned(),
                    intent: error.get("payment_intent").and_then(wire::intent).map(Box::new),
                })
            }
            // 401/403: a missing or rotated key, the deployment's fault, cured by fixing the key;
            // 409: the same key is in flight; 429: throttled. All may be retried.
            401 | 403 | 409 | 429 | 500..=599 => Err(ProviderError::unavailable(
                what,
                format!("status {status}: {}", value["error"]["message"]),
            )),
            _ => Err(ProviderError::Refused(format!(
                "{what}: {}",
                value["error"]["message"].as_str().unwrap_or("refused")
            ))),
        }
    }

    fn read_intent(value: &Value) -> Result<Intent, ProviderError> {
        wire::intent(value).ok_or_else(|| ProviderError::Refused("not a payment intent".into()))
    }
}

fn metadata_form(metadata: &std::collections::BTreeMap<String, String>) -> Vec<(String, String)> {
    metadata.iter().map(|(k, v)| (format!("metadata[{k}]"), v.clone())).collect()
}

#[async_trait]
impl PaymentProvider for Stripe {
    fn name(&self) -> &'static str {
        "stripe"
    }

    async fn webhook_secrets(&self) -> Result<Vec<String>, ProviderError> {
        Ok(self.config.keys.get().await?.1)
    }

    async fn create_intent(&self, intent: &NewIntent) -> Result<Intent, ProviderError> {
        // Cards only: no redirect-based methods, so a server-side confirmation needs no
        // `return_url` (and the booking's hold is too short for bank redirects anyway).
        let mut form = vec![
            ("amount".to_owned(), intent.amount.to_string()),
            ("currency".to_owned(), intent.currency.clone()),
            ("payment_method_types[0]".to_owned(), "card".to_owned()),
        ];
        form.extend(metadata_form(&intent.metadata));
        let value = self
            .call(
                http::Method::POST,
                "/v1/payment_intents",
                &form,
                Some(&intent.idempotency_key),
                "creating a payment intent",
            )
            .await?;
        Self::read_intent(&value)
    }

    async fn retrieve_intent(&self, id: &str) -> Result<Intent, ProviderError> {
        let value = self
            .call(
                http::Method::GET,
                &format!("/v1/payment_intents/{id}"),
                &[],
                None,
                "reading a payment intent",
            )
            .await?;
        Self::read_intent(&value)
    }

    async fn confirm_intent(&self, id: &str, payment_method: &str) -> Result<Intent, ProviderError> {
        // Attach, then confirm: Stripe takes the method on confirm too, but attaching first is
        // what every Stripe-compatible server accepts.
        let attach = [("payment_method".to_owned(), payment_method.to_owned())];
        self.call(
            http::Method::POST,
            &format!("/v1/payment_intents/{id}"),
            &attach,
            None,
            "attaching a payment method",
        )
        .await?;
        let value = self
            .call(
                http::Method::POST,
                &format!("/v1/payment_intents/{id}/confirm"),
                &[],
                None,
                "confirming a payment",
            )
            .await?;
        Self::read_intent(&value)
    }

    async fn cancel_intent(&self, id: &str) -> Result<Intent, ProviderError> {
        let value = self
            .call(
                http::Method::POST,
                &format!("/v1/payment_intents/{id}/cancel"),
                &[],
                None,
                "canceling a payment intent",
            )
            .await?;
        Self::read_intent(&value)
    }

    async fn create_refund(&self, refund: &NewRefund) -> Result<ProviderRefund, ProviderError> {
        let mut form = vec![
            ("payment_intent".to_owned(), refund.intent_id.clone()),
            ("amount".to_owned(), refund.amount.to_string()),
        ];
        form.extend(metadata_form(&refund.metadata));
        let value = self
            .call(
                http::Method::POST,
                "/v1/refunds",
                &form,
                Some(&refund.idempotency_key),
                "creating a refund",
            )
            .await?;
        let mut found = wire::refund(&value).ok_or_else(|| ProviderError::Refused("not a refund".into()))?;
        // Some servers leave the intent out of a refund made by intent.
        if found.intent_id.is_empty() {
            found.intent_id = refund.intent_id.clone();
        }
        Ok(found)
    }

    async fn retrieve_refund(&self, id: &str) -> Result<ProviderRefund, ProviderError> {
        let value =
            self.call(http::Method::GET, &format!("/v1/refunds/{id}"), &[], None, "reading a refund").await?;
        wire::refund(&value).ok_or_else(|| ProviderError::Refused("not a refund".into()))
    }

    async fn events(&self, kind: &str, since: i64, after: Option<&str>) -> Result<EventPage, ProviderError> {
        let mut form = vec![
            ("type".to_owned(), kind.to_owned()),
            ("created[gte]".to_owned(), since.to_string()),
            ("limit".to_owned(), "100".to_owned()),
        ];
        if let Some(after) = after {
            form.push(("starting_after".to_owned(), after.to_owned()));
        }
        let value = self.call(http::Method::GET, "/v1/events", &form, None, "listing events").await?;
        let events =
            value["data"].as_array().map(|a| a.iter().filter_map(wire::event).collect()).unwrap_or_default();
        Ok(EventPage { events, has_more: value["has_more"].as_bool().unwrap_or(false) })
    }
}
