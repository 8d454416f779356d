//! AWS adapters: the store on DynamoDB, queues on SQS, blobs on S3, email on SES v2, SMS on
//! SNS, and the glue that turns
//! Lambda's SQS events into worker batches. Endpoints honour `AWS_ENDPOINT_URL` and the
//! per-service `AWS_ENDPOINT_URL_DYNAMODB` / `_SQS` / `_S3`, so the same code talks to
//! DynamoDB Local and moto in tests.

mod calls;
mod dynamodb;
mod lambda;
mod messaging;
pub mod provision;
mod push;
mod s3;
mod secrets;
pub mod sqs;

use std::collections::HashMap;
use std::sync::Arc;

use atelier_platform::Platform;
use atelier_platform::clock::SystemClock;
use atelier_platform::ids::UlidGenerator;
use atelier_platform::queue::QueueName;
use aws_config::BehaviorVersion;

pub use aws_sdk_secretsmanager::Client as SecretsManagerClient;
pub use calls::{CallCounter, Meter, Usage};
pub use dynamodb::DynamoStore;
pub use lambda::handle_sqs_batch;
pub use messaging::{SesMail, SnsSms};
pub use push::ApiGatewayPusher;
pub use s3::S3Blobs;
pub use secrets::{REFRESH_EVERY, SecretsManagerSecret, jwt_keys_secret_from_env};
pub use sqs::SqsQueue;

/// A required setting is missing or malformed.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

/// Where Atelier's AWS resources are, from the environment the template sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSettings {
    /// `ATELIER_TABLE`: the single table.
    pub table: String,
    /// `ATELIER_<NAME>_QUEUE_URL` for each queue (`ATELIER_NOTIFICATIONS_QUEUE_URL`, …).
    pub queue_urls: HashMap<QueueName, String>,
    /// `ATELIER_EXPORTS_BUCKET`.
    pub bucket: String,
    /// `ATELIER_S3_FORCE_PATH_STYLE=true` for emulators that do not do virtual hosts.
    pub s3_path_style: bool,
    /// `ATELIER_MAIL_FROM`: the SES-verified address email is sent from.
    pub mail_from: String,
    /// `ATELIER_WEBHOOKS_ALLOW_LOOPBACK` / `_ALLOW_HTTP` (`true`): only for local use.
    pub webhooks: atelier_platform::outbound::WebhookPolicy,
}

impl AwsSettings {
    /// Reads the settings. Queue URLs and the bucket are optional: a function that does not
    /// use them is not given them.
    pub fn from_env() -> Result<AwsSettings, ConfigError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let table = var("ATELIER_TABLE").ok_or_else(|| ConfigError("ATELIER_TABLE is not set".into()))?;
        let mut queue_urls = HashMap::new();
        // Every `ATELIER_<NAME>_QUEUE_URL`: the template gives each function the queues it uses.
        for (key, url) in std::env::vars() {
            let name = key.strip_prefix("ATELIER_").and_then(|k| k.strip_suffix("_QUEUE_URL"));
            if let Some(queue) = name.and_then(|n| QueueName::parse(&n.to_lowercase().replace('_', "-")))
                && !url.is_empty()
            {
                queue_urls.insert(queue, url);
            }
        }
        Ok(AwsSettings {
            table,
            queue_urls,
            bucket: var("ATELIER_EXPORTS_BUCKET").unwrap_or_default(),
            s3_path_style: var("ATELIER_S3_FORCE_PATH_STYLE").is_some_and(|v| v == "true"),
            mail_from: atelier_platform::outbound::mail_from_env(),
            webhooks: atelier_platform::outbound::WebhookPolicy::from_env(),
        })
    }
}

/// The SDK configuration: region, credentials and endpoints (`AWS_ENDPOINT_URL*`) from the
/// environment, one HTTPS client shared by every service client. Nothing here touches the
/// network. When credentials and region are in the environment, as they always are on Lambda,
/// they are taken from there directly: building the default provider chains costs milliseconds
/// of init for nothing.
pub async fn sdk_config() -> aws_config::SdkConfig {
    let loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http_client());
    let region = std::env::var("AWS_REGION").ok().filter(|r| !r.is_empty());
    let loader = match region {
        Some(region) if std::env::var_os("AWS_ACCESS_KEY_ID").is_some() => loader
            .region(aws_config::Region::new(region))
            .credentials_provider(aws_config::environment::EnvironmentVariableCredentialsProvider::new()),
        _ => loader,
    };
    loader.load().await
}

/// Roots every AWS service endpoint's certificate chains to (Amazon Trust Services).
const AMAZON_ROOTS: &str = include_str!("../certs/amazon-trust-services.pem");

/// The HTTPS client every SDK client uses: rustls with ring (smaller and quicker to build than
/// the SDK's default aws-lc), trusting the Amazon Trust Services roots only, which is both
/// tighter and much cheaper at init than parsing the operating system's whole store.
/// `ATELIER_TLS_ROOTS=system` trusts the system store instead (for a TLS emulator, say).
pub fn http_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore, rustls_provider::CryptoMode};
    let builder = aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring));
    let system = std::env::var("ATELIER_TLS_ROOTS").is_ok_and(|v| v == "system");
    let store = if system {
        TrustStore::default()
    } else {
        TrustStore::empty().with_native_roots(false).with_pem_certificate(AMAZON_ROOTS.as_bytes())
    };
    match TlsContext::builder().with_trust_store(store).build() {
        Ok(context) => builder.tls_context(context).build_https(),
        // Only reachable if the vendored PEM were broken; the system store still works.
        Err(_) => builder.build_https(),
    }
}

/// Service clients, built once per process.
#[derive(Clone, Debug)]
pub struct Clients {
    /// DynamoDB.
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// SQS.
    pub sqs: aws_sdk_sqs::Client,
    /// S3.
    pub s3: aws_sdk_s3::Client,
    /// SES v2.
    pub ses: aws_sdk_sesv2::Client,
    /// SNS.
    pub sns: aws_sdk_sns::Client,
}

impl Clients {
    /// Clients from one SDK configuration.
    pub fn new(config: &aws_config::SdkConfig, s3_path_style: bool) -> Clients {
        let s3 = aws_sdk_s3::config::Builder::from(config).force_path_style(s3_path_style).build();
        Clients {
            dynamodb: aws_sdk_dynamodb::Client::new(config),
            sqs: aws_sdk_sqs::Client::new(config),
            s3: aws_sdk_s3::Client::from_conf(s3),
            ses: aws_sdk_sesv2::Client::new(config),
            sns: aws_sdk_sns::Client::new(config),
        }
    }
}

/// The platform on AWS adapters, from the environment.
pub async fn platform_from_env() -> Result<Platform, ConfigError> {
    Ok(platform_and_config_from_env().await?.0)
}

/// The platform, and the SDK configuration it was built with (for more clients).
pub async fn platform_and_config_from_env() -> Result<(Platform, aws_config::SdkConfig), ConfigError> {
    let settings = AwsSettings::from_env()?;
    let config = sdk_config().await;
    let clients = Clients::new(&config, settings.s3_path_style);
    let mut platform = platform(&clients, &settings);
    // Where a WebSocket API is deployed, workers push live changes through its stage.
    if let Some(pusher) = ApiGatewayPusher::from_env(&config) {
        platform = platform.with_push(Arc::new(pusher));
    }
    Ok((platform, config))
}

/// The platform on AWS adapters.
pub fn platform(clients: &Clients, settings: &AwsSettings) -> Platform {
    platform_with(clients, settings, Arc::new(SystemClock), Arc::new(UlidGenerator))
}

/// The platform on AWS adapters with a given clock and ids (the local server's demo moves its
/// clock).
pub fn platform_with(
    clients: &Clients,
    settings: &AwsSettings,
    clock: Arc<dyn atelier_platform::clock::Clock>,
    ids: Arc<dyn atelier_platform::ids::IdGenerator>,
) -> Platform {
    Platform::new(
        Arc::new(DynamoStore::new(clients.dynamodb.clone(), settings.table.clone())),
        Arc::new(SqsQueue::new(clients.sqs.clone(), settings.queue_urls.clone())),
        Arc::new(S3Blobs::new(clients.s3.clone(), settings.bucket.clone())),
        clock,
        ids,
    )
    .with_outbound(atelier_platform::outbound::Outbound {
        mail: Arc::new(SesMail::new(clients.ses.clone(), &settings.mail_from)),
        sms: Arc::new(SnsSms::new(clients.sns.clone())),
        webhooks: settings.webhooks,
    })
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn clients_build_with_the_vendored_roots() {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(super::http_client())
            .region(aws_config::Region::new("eu-west-1"))
            .load()
            .await;
        // Building a client loads the trust store; a broken PEM would panic here.
        let clients = super::Clients::new(&config, false);
        assert!(clients.dynamodb.config().region().is_some());
        let roots = super::AMAZON_ROOTS.matches("BEGIN CERTIFICATE").count();
        assert_eq!(roots, 5);
    }
}
