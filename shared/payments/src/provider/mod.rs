//! The provider adapters: [`stripe::Stripe`] (Stripe's REST API, or an emulator of it) and
//! [`mock::MockProvider`] (in-process, deterministic: the local server's and the tests'
//! default), with the JSON both speak ([`wire`]).

pub mod mock;
pub mod stripe;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use atelier_platform::clock::Clock;
use atelier_platform::payments::PaymentProvider;
use atelier_platform::secrets::SecretSource;

/// The provider a host configured, with the mock itself when it is the mock (the local server
/// tells it where to post its webhooks; tests drive it).
#[derive(Clone)]
pub struct Configured {
    /// The provider.
    pub provider: Arc<dyn PaymentProvider>,
    /// The same, when it is the mock.
    pub mock: Option<Arc<mock::MockProvider>>,
}

/// The provider from the environment: `ATELIER_PAYMENTS_PROVIDER` is `mock`, `stripe` or
/// `none` (`default` when unset). The mock signs with `ATELIER_PAYMENTS_MOCK_SECRET` (or
/// [`mock::DEFAULT_SECRET`]). Stripe is at `ATELIER_STRIPE_BASE_URL` (default
/// `https://api.stripe.com`) with `ATELIER_STRIPE_API_KEY` and `ATELIER_STRIPE_WEBHOOK_SECRETS`
/// (comma-separated), or else the keys in `secret` (Secrets Manager on AWS); each call waits at
/// most `ATELIER_PAYMENTS_TIMEOUT_MS` (default 8000).
pub fn from_env(
    clock: Arc<dyn Clock>,
    default: &str,
    secret: Option<Arc<dyn SecretSource>>,
) -> Result<Option<Configured>, String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let kind = var("ATELIER_PAYMENTS_PROVIDER").unwrap_or_else(|| default.to_owned());
    match kind.as_str() {
        "none" => Ok(None),
        "mock" => {
            let secret =
                var("ATELIER_PAYMENTS_MOCK_SECRET").unwrap_or_else(|| mock::DEFAULT_SECRET.to_owned());
            let mock = mock::MockProvider::new(&secret, clock);
            Ok(Some(Configured { provider: mock.clone(), mock: Some(mock) }))
        }
        "stripe" => {
            let keys = match (var("ATELIER_STRIPE_API_KEY"), secret) {
                (Some(api_key), _) => stripe::StripeKeys::Static {
                    api_key,
                    webhook_secrets: var("ATELIER_STRIPE_WEBHOOK_SECRETS")
                        .map(|s| {
                            s.split(',').map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect()
                        })
                        .unwrap_or_default(),
                },
                (None, Some(source)) => stripe::StripeKeys::Secret(source),
                (None, None) => {
                    return Err(
                        "stripe needs ATELIER_STRIPE_API_KEY or a secret (ATELIER_STRIPE_SECRET_ARN)".into(),
                    );
                }
            };
            let timeout = var("ATELIER_PAYMENTS_TIMEOUT_MS")
                .map(|v| {
                    v.parse::<u64>().map_err(|_| format!("ATELIER_PAYMENTS_TIMEOUT_MS: not a number: {v}"))
                })
                .transpose()?
                .unwrap_or(8000);
            let config = stripe::StripeConfig {
                base_url: var("ATELIER_STRIPE_BASE_URL").unwrap_or_else(|| "https://api.stripe.com".into()),
                keys,
                timeout: Duration::from_millis(timeout),
            };
            Ok(Some(Configured { provider: Arc::new(stripe::Stripe::new(config)), mock: None }))
        }
        other => Err(format!("ATELIER_PAYMENTS_PROVIDER must be mock, stripe or none, not {other}")),
    }
}
