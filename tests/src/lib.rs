//! Test harness: a [`TestApp`] is Atelier as one of its hosts runs it, over a fresh store.
//!
//! - `TestApp::embedded()`: the local server's app on a temporary data directory.
//! - `TestApp::aws()`: the Lambda functions' app on AWS adapters, with a fresh table on
//!   DynamoDB Local (`ATELIER_TEST_DYNAMODB_URL`) and a fresh queue and bucket on moto
//!   (`ATELIER_TEST_MOTO_URL`). `./infra/test` starts both; without them these tests fail.
//!
//! Either way the store goes through a [`FaultyStore`] and the queue through a
//! [`SwitchableQueue`], so tests can inject conflicts, throttling and outages. Time is a
//! [`ManualClock`].

pub mod http;
pub mod idp;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use atelier_app::Group;
use atelier_aws::{AwsSettings, Clients, DynamoStore, S3Blobs, SqsQueue};
use atelier_http::{AppState, HttpConfig};
use atelier_local::{EmbeddedParts, LocalApp};
use atelier_payments::provider::mock::MockProvider;
use atelier_platform::Platform;
use atelier_platform::blob::BlobBackend;
use atelier_platform::clock::ManualClock;
use atelier_platform::ids::UlidGenerator;
use atelier_platform::queue::{QueueBackend, QueueError, QueueMessage, QueueName};
use atelier_platform::store::{FaultyStore, StoreBackend};
use atelier_platform::worker::Worker;
use aws_config::BehaviorVersion;
use axum::Router;

pub use crate::http::{TestRequest, TestResponse};

/// Which adapters a [`TestApp`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// redb file, embedded queue, blob directory.
    Embedded,
    /// DynamoDB Local, SQS and S3 on moto.
    Aws,
}

/// A queue adapter that can be switched off, to simulate an outage.
pub struct SwitchableQueue {
    inner: Arc<dyn QueueBackend>,
    down: AtomicBool,
}

impl SwitchableQueue {
    /// Up, over `inner`.
    pub fn new(inner: Arc<dyn QueueBackend>) -> Arc<SwitchableQueue> {
        Arc::new(SwitchableQueue { inner, down: AtomicBool::new(false) })
    }

    /// Switches the outage on or off.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }
}

#[async_trait]
impl QueueBackend for SwitchableQueue {
    async fn send_batch(
        &self,
        queue: &QueueName,
        messages: &[QueueMessage],
    ) -> Result<Vec<String>, QueueError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(QueueError::Unavailable("switched off by the test".into()));
        }
        self.inner.send_batch(queue, messages).await
    }
}

enum Host {
    Embedded { app: Box<LocalApp>, dir: tempfile::TempDir },
    Aws { clients: Clients, settings: AwsSettings },
}

/// Atelier over fresh storage, driven in-process (and on a loopback port for links).
pub struct TestApp {
    /// Which adapters.
    pub backend: Backend,
    /// The ports, as handlers see them.
    pub platform: Platform,
    /// Every endpoint group with every layer.
    pub router: Router,
    /// Time.
    pub clock: Arc<ManualClock>,
    /// Fault injection into the store.
    pub faults: Arc<FaultyStore>,
    /// Queue outage switch.
    pub queue_switch: Arc<SwitchableQueue>,
    /// The raw store adapter, under the fault injector.
    pub raw_store: Arc<dyn StoreBackend>,
    /// The mock payment provider the app takes payments through.
    pub payments: Arc<atelier_payments::provider::mock::MockProvider>,
    /// Where the same router listens on loopback (`http://127.0.0.1:PORT`), with the live
    /// endpoint: for clients that need a real socket.
    pub url: String,
    auth: Arc<atelier_identity::AuthSettings>,
    host: Host,
}

/// A valid studio profile with `slug`.
pub fn studio_profile(slug: &str) -> serde_json::Value {
    serde_json::json!({
        "name": format!("Studio {slug}"),
        "slug": slug,
        "description": "Cuts and colour",
        "tax_id": "PT123456789",
        "contact_email": format!("hello@{slug}.example"),
        "address": { "city": "Lisboa", "country": "PT" },
        "time_zone": "Europe/Lisbon",
        "currency": "EUR",
        "tax_rate_bps": 2300,
        "settings": {
            "min_notice_minutes": 60,
            "horizon_days": 60,
            "slot_step_minutes": 15,
            "no_show_tolerance_minutes": 15,
            "loyalty_rate_bps": 500
        }
    })
}

/// Kid of the tests' signing key.
pub const TEST_KID: &str = "test-key";
/// The tests' signing secret (32 bytes of 7), base64.
pub const TEST_SECRET: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";

/// Kid of a key that signed before a rotation and still verifies.
pub const PREVIOUS_KID: &str = "previous-key";
/// Its secret (32 bytes of 8), base64.
pub const PREVIOUS_SECRET: &str = "CAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAg=";
/// Kid of a retired key: tokens naming it are refused, even signed with its real secret.
pub const RETIRED_KID: &str = "retired-key";
/// The retired key's old secret (32 bytes of 9), base64: kept so the test can sign with it.
pub const RETIRED_SECRET: &str = "CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=";

/// The key ring every test app signs with: an active key, a verify-only one from before a
/// rotation, and a retired one.
pub fn test_key_ring() -> atelier_identity::KeyRing {
    let json = format!(
        r#"[{{"kid":"{TEST_KID}","secret":"{TEST_SECRET}","status":"active"}},
            {{"kid":"{PREVIOUS_KID}","secret":"{PREVIOUS_SECRET}","status":"verify"}},
            {{"kid":"{RETIRED_KID}","secret":"{RETIRED_SECRET}","status":"retired"}}]"#
    );
    atelier_identity::KeyRing::from_json(&json, "atelier").expect("test key ring")
}

/// The password every test account gets.
pub const PASSWORD: &str = "correct horse battery staple";

/// A registered, signed-in account.
#[derive(Debug, Clone)]
pub struct Account {
    /// User id.
    pub user_id: String,
    /// Email.
    pub email: String,
    /// Access token.
    pub access: String,
    /// Refresh token.
    pub refresh: String,
}

/// Identity settings for tests: the test key ring, Argon2 at OWASP's floor (quick), and the
/// seed's limits.
pub fn test_auth_settings() -> atelier_identity::AuthSettings {
    let hasher =
        atelier_identity::PasswordHasher::new(atelier_identity::HashCost::FLOOR).expect("floor cost");
    let mut settings = atelier_identity::AuthSettings::new(test_key_ring(), hasher);
    // Low enough that a test reaches it in a few dozen requests.
    settings.limits.api_per_key = 40;
    // Google and Apple at the tests' identity provider; a rotated key is fetched at once.
    let idp = idp::test_idp();
    let mut google = atelier_identity::oidc::ProviderConfig::google(vec![idp::GOOGLE_CLIENT_ID.into()]);
    google.jwks_url = idp.jwks_url("google");
    let mut apple = atelier_identity::oidc::ProviderConfig::apple(vec![idp::APPLE_CLIENT_ID.into()]);
    apple.jwks_url = idp.jwks_url("apple");
    settings.oidc = Arc::new(
        atelier_identity::oidc::OidcProviders::new(vec![google, apple])
            .with_refetch_after(std::time::Duration::ZERO),
    );
    settings
}

/// Local-server options over `dir` for tests: embedded store, cheap hashing, default limits.
pub fn local_options(dir: &std::path::Path) -> atelier_local::LocalOptions {
    atelier_local::LocalOptions {
        data_dir: dir.to_path_buf(),
        addr: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        http: HttpConfig::default(),
        poll_interval: Duration::from_millis(200),
        sweep_interval: Duration::from_secs(30),
        job_interval: Duration::from_secs(60),
        hash_cost: atelier_identity::HashCost::FLOOR,
        backend: atelier_local::Backend::Embedded,
        api_rate_limit: None,
    }
}

/// HTTP settings of test apps: requests sent in-process have no socket, so tests stand in for a
/// trusted proxy and say who the client is with `X-Forwarded-For`.
pub fn test_http_config() -> HttpConfig {
    HttpConfig { trust_forwarded_for: true, ..HttpConfig::default() }
}

/// The instant every test clock starts at.
pub fn start_time() -> jiff::Timestamp {
    jiff::Timestamp::from_second(1_780_000_000).expect("valid instant") // 2026-05-28T20:26:40Z
}

fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: the AWS-backed tests need DynamoDB Local and moto. Run ./infra/test, which starts them.")
    })
}

/// SDK configuration for an emulator endpoint, with dummy credentials.
pub async fn emulator_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(atelier_aws::http_client())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "tests"))
        .load()
        .await
}

/// moto's endpoint (`ATELIER_TEST_MOTO_URL`).
pub fn moto_url() -> String {
    required_env("ATELIER_TEST_MOTO_URL")
}

/// SDK configuration for moto (`ATELIER_TEST_MOTO_URL`).
pub async fn moto_config() -> aws_config::SdkConfig {
    emulator_config(&required_env("ATELIER_TEST_MOTO_URL")).await
}

/// Clients for DynamoDB Local and moto.
pub async fn emulator_clients() -> Clients {
    let dynamodb = emulator_config(&required_env("ATELIER_TEST_DYNAMODB_URL")).await;
    let moto = emulator_config(&required_env("ATELIER_TEST_MOTO_URL")).await;
    let s3 = aws_sdk_s3::config::Builder::from(&moto).force_path_style(true).build();
    Clients {
        dynamodb: aws_sdk_dynamodb::Client::new(&dynamodb),
        sqs: aws_sdk_sqs::Client::new(&moto),
        s3: aws_sdk_s3::Client::from_conf(s3),
        ses: aws_sdk_sesv2::Client::new(&moto),
        sns: aws_sdk_sns::Client::new(&moto),
    }
}

/// The address the tests' email is sent from (verified in moto for the AWS variants).
pub const TEST_MAIL_FROM: &str = "studio-mail@atelier.test";

/// Webhooks may reach the tests' receivers on loopback over plain HTTP.
pub fn test_webhook_policy() -> atelier_platform::outbound::WebhookPolicy {
    atelier_platform::outbound::WebhookPolicy { allow_loopback: true, allow_plain_http: true }
}

/// An email or SMS as its reader saw it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct SentMessage {
    /// Recipient (for email, the `To:` header).
    pub to: String,
    /// Subject (empty for SMS).
    pub subject: String,
    /// The text (for moto's SES record, the HTML part with its entities decoded).
    pub body: String,
}

const EML_READER: &str = r#"
import email, email.policy, json, pathlib, sys
out = []
for path in sorted(pathlib.Path(sys.argv[1]).glob("*.eml")):
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    out.append({"to": str(msg["To"]), "subject": str(msg["Subject"]), "body": msg.get_body(("plain",)).get_content()})
print(json.dumps(out))
"#;

const SMS_READER: &str = r#"
import json, pathlib, sys
out = []
for path in sorted(pathlib.Path(sys.argv[1]).glob("*.txt")):
    head, _, body = path.read_text().partition("\n\n")
    out.append({"to": head.removeprefix("To: "), "subject": "", "body": body.rstrip("\n")})
print(json.dumps(out))
"#;

fn read_with_python(script: &str, dir: &std::path::Path) -> Vec<SentMessage> {
    if !dir.exists() {
        return Vec::new();
    }
    let output =
        std::process::Command::new("python3").arg("-c").arg(script).arg(dir).output().expect("python3 runs");
    assert!(output.status.success(), "reader failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("reader output")
}

/// The HTML part's text with its entities decoded (tags stay).
fn unescape_html(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// moto's own records of what it was sent (`/moto-api/data.json`).
async fn moto_records() -> serde_json::Value {
    let url = format!("{}/moto-api/data.json", required_env("ATELIER_TEST_MOTO_URL"));
    let response = reqwest::get(&url).await.expect("moto answers");
    response.json().await.expect("moto's records")
}

/// The secret the tests' mock provider signs its webhooks with.
pub const MOCK_SECRET: &str = "whsec_atelier_tests";

/// A fresh, unique, lowercase resource name.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", ulid::Ulid::generate().to_string().to_lowercase())
}

impl TestApp {
    /// On the given backend.
    pub async fn on(backend: Backend) -> TestApp {
        match backend {
            Backend::Embedded => TestApp::embedded().await,
            Backend::Aws => TestApp::aws().await,
        }
    }

    /// The local server's app on a temporary data directory.
    pub async fn embedded() -> TestApp {
        TestApp::embedded_with(test_http_config()).await
    }

    /// The local server's app with specific HTTP settings.
    pub async fn embedded_with(http: HttpConfig) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let clock = Arc::new(ManualClock::new(start_time()));
        let mut parts = EmbeddedParts::open(dir.path(), clock.clone()).expect("embedded adapters open");
        // The tests' webhook receivers listen on loopback over plain HTTP.
        parts.outbound.webhooks = test_webhook_policy();
        let raw_store: Arc<dyn StoreBackend> = Arc::new(parts.store.clone());
        let faults = Arc::new(FaultyStore::new(raw_store.clone()));
        let queue_switch = SwitchableQueue::new(Arc::new(parts.queue.clone()));
        let blobs: Arc<dyn BlobBackend> = parts.blobs.clone();
        let payments = MockProvider::new(MOCK_SECRET, clock.clone());
        let platform = Platform::new(
            faults.clone(),
            queue_switch.clone(),
            blobs,
            clock.clone(),
            Arc::new(UlidGenerator),
        )
        .with_outbound(parts.outbound.clone())
        .with_payments(payments.clone());
        let auth = Arc::new(test_auth_settings());
        let app = LocalApp::assemble(platform, parts, http, auth.clone());
        // The app's platform: the same ports, recording into its `/metrics`.
        let platform = app.platform.clone();
        // Serve on loopback too, so download links can be fetched with a plain HTTP client.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let url = format!("http://{}", listener.local_addr().expect("bound address"));
        app.blobs.set_base_url(&url);
        tokio::spawn(axum::serve(listener, app.router.clone()).into_future());
        TestApp {
            url,
            backend: Backend::Embedded,
            platform,
            router: app.router.clone(),
            clock,
            faults,
            queue_switch,
            raw_store,
            payments,
            auth,
            host: Host::Embedded { app: Box::new(app), dir },
        }
    }

    /// The Lambda functions' app on AWS adapters over fresh emulator resources.
    pub async fn aws() -> TestApp {
        TestApp::aws_with(emulator_clients().await, test_auth_settings()).await
    }

    /// [`TestApp::aws`] with every AWS request it makes counted by `meter`, and passwords hashed
    /// at the deployed Argon2 cost (64 MiB, 3 iterations): the cost model's app.
    pub async fn aws_metered(meter: &atelier_aws::Meter) -> TestApp {
        let mut auth = test_auth_settings();
        auth.hasher = atelier_identity::PasswordHasher::new(atelier_identity::HashCost::default())
            .expect("the deployed cost");
        TestApp::aws_with(meter.instrument(&emulator_clients().await), auth).await
    }

    async fn aws_with(clients: atelier_aws::Clients, auth: atelier_identity::AuthSettings) -> TestApp {
        let table = unique_name("t");
        atelier_aws::provision::create_table(&clients.dynamodb, &table).await.expect("table created");
        let mut queue_urls = std::collections::HashMap::new();
        for queue in atelier_app::QUEUES {
            let url = atelier_aws::provision::create_queue(&clients.sqs, &unique_name("q"))
                .await
                .expect("queue created");
            queue_urls.insert(queue, url);
        }
        let bucket = unique_name("b");
        atelier_aws::provision::create_bucket(&clients.s3, &bucket).await.expect("bucket created");
        let settings = AwsSettings {
            table: table.clone(),
            queue_urls: queue_urls.into_iter().collect(),
            bucket: bucket.clone(),
            s3_path_style: true,
            mail_from: TEST_MAIL_FROM.to_owned(),
            webhooks: test_webhook_policy(),
        };
        atelier_aws::provision::create_email_identity(&clients.ses, TEST_MAIL_FROM)
            .await
            .expect("sender verified");
        let clock = Arc::new(ManualClock::new(start_time()));
        let payments = MockProvider::new(MOCK_SECRET, clock.clone());
        let raw_store: Arc<dyn StoreBackend> = Arc::new(DynamoStore::new(clients.dynamodb.clone(), table));
        let faults = Arc::new(FaultyStore::new(raw_store.clone()));
        let queue_switch =
            SwitchableQueue::new(Arc::new(SqsQueue::new(clients.sqs.clone(), settings.queue_urls.clone())));
        let platform = Platform::new(
            faults.clone(),
            queue_switch.clone(),
            Arc::new(S3Blobs::new(clients.s3.clone(), bucket)),
            clock.clone(),
            Arc::new(UlidGenerator),
        )
        .with_outbound(atelier_platform::outbound::Outbound {
            mail: Arc::new(atelier_aws::SesMail::new(clients.ses.clone(), TEST_MAIL_FROM)),
            sms: Arc::new(atelier_aws::SnsSms::new(clients.sns.clone())),
            webhooks: test_webhook_policy(),
        })
        .with_payments(payments.clone());
        let registry = Arc::new(atelier_platform::metrics::Prometheus::new());
        let platform = platform.with_metrics(atelier_platform::metrics::Metrics::new(registry.clone()));
        let auth = Arc::new(auth);
        let state = atelier_app::with_identity(
            atelier_app::state(platform.clone(), test_http_config()),
            auth.clone(),
        );
        let (live, _) = atelier_realtime::local::router(state.clone());
        let router =
            atelier_app::router(state, &Group::ALL).merge(live).merge(atelier_local::metrics_route(registry));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let url = format!("http://{}", listener.local_addr().expect("bound address"));
        tokio::spawn(axum::serve(listener, router.clone()).into_future());
        TestApp {
            url,
            backend: Backend::Aws,
            platform,
            router,
            clock,
            faults,
            queue_switch,
            raw_store,
            payments,
            auth,
            host: Host::Aws { clients, settings },
        }
    }

    /// Every email sent so far to `to`, read back independently: the `.eml` files of the data
    /// directory parsed by Python's `email` package, or moto's record of what SES sent.
    pub async fn emails_to(&self, to: &str) -> Vec<SentMessage> {
        match &self.host {
            Host::Embedded { dir, .. } => read_with_python(EML_READER, &dir.path().join("mail"))
                .into_iter()
                .filter(|m| m.to.contains(to))
                .collect(),
            Host::Aws { .. } => {
                let data = moto_records().await;
                let mut sent = Vec::new();
                for message in data["ses"]["Message"].as_array().into_iter().flatten() {
                    let destinations = message["destinations"].to_string();
                    if destinations.contains(to) {
                        sent.push(SentMessage {
                            to: destinations,
                            subject: message["subject"].as_str().unwrap_or_default().to_owned(),
                            body: unescape_html(message["body"].as_str().unwrap_or_default()),
                        });
                    }
                }
                sent
            }
        }
    }

    /// Every SMS sent so far to `to`: the data directory's files, or moto's record of SNS.
    pub async fn sms_to(&self, to: &str) -> Vec<SentMessage> {
        match &self.host {
            Host::Embedded { dir, .. } => read_with_python(SMS_READER, &dir.path().join("sms"))
                .into_iter()
                .filter(|m| m.to == to)
                .collect(),
            Host::Aws { .. } => {
                let data = moto_records().await;
                data["sns"]["SMS"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|m| m["phone_number"] == to)
                    .map(|m| SentMessage {
                        to: to.to_owned(),
                        subject: String::new(),
                        body: m["message"].as_str().unwrap_or_default().to_owned(),
                    })
                    .collect()
            }
        }
    }

    /// Now, on the test clock.
    pub fn clock_now(&self) -> jiff::Timestamp {
        atelier_platform::clock::Clock::now(self.clock.as_ref())
    }

    /// The state handlers see, for routers built in tests.
    pub fn state(&self) -> AppState {
        atelier_app::with_identity(
            atelier_app::state(self.platform.clone(), test_http_config()),
            self.auth.clone(),
        )
    }

    /// The identity settings, shared.
    pub fn auth_arc(&self) -> Arc<atelier_identity::AuthSettings> {
        self.auth.clone()
    }

    /// The identity settings the app runs with.
    pub fn auth(&self) -> &atelier_identity::AuthSettings {
        &self.auth
    }

    /// An HTTP request to the app, sent in-process.
    pub fn request(&self, method: ::http::Method, path: &str) -> TestRequest {
        TestRequest::new_for(self.router.clone(), method, path)
    }

    /// Registers `email` (with [`PASSWORD`]) through the API.
    pub async fn register(&self, email: &str) -> Account {
        self.register_from(email, None).await
    }

    /// Registers `email` from client address `ip` (registrations are rate-limited per address).
    pub async fn register_from(&self, email: &str, ip: Option<&str>) -> Account {
        let mut request = self.request(::http::Method::POST, "/v1/auth/register");
        if let Some(ip) = ip {
            request = request.header("x-forwarded-for", ip);
        }
        let response = request
            .json(&serde_json::json!({ "email": email, "password": PASSWORD, "name": "Test Person" }))
            .send()
            .await;
        assert_eq!(response.status, 201, "register {email}: {}", String::from_utf8_lossy(&response.body));
        let body = response.json();
        Account {
            user_id: body["user"]["id"].as_str().expect("id").to_owned(),
            email: email.to_owned(),
            access: body["tokens"]["access_token"].as_str().expect("access").to_owned(),
            refresh: body["tokens"]["refresh_token"].as_str().expect("refresh").to_owned(),
        }
    }

    /// The same account signed in again, for tests that move the clock past its tokens'
    /// lifetime.
    pub async fn sign_in_again(&self, account: &Account) -> Account {
        let response = self.login(&account.email, PASSWORD).await;
        assert_eq!(
            response.status,
            200,
            "login {}: {}",
            account.email,
            String::from_utf8_lossy(&response.body)
        );
        let body = response.json();
        Account {
            access: body["tokens"]["access_token"].as_str().expect("access").to_owned(),
            refresh: body["tokens"]["refresh_token"].as_str().expect("refresh").to_owned(),
            ..account.clone()
        }
    }

    /// Signs `email` in again (a new session).
    pub async fn login(&self, email: &str, password: &str) -> TestResponse {
        self.request(::http::Method::POST, "/v1/auth/login")
            .json(&serde_json::json!({ "email": email, "password": password }))
            .send()
            .await
    }

    /// Creates a studio owned by `owner` (Europe/Lisbon, EUR, 15-minute slots); returns its id.
    pub async fn create_studio(&self, owner: &Account, slug: &str) -> String {
        let response = self
            .request(::http::Method::POST, "/v1/studios")
            .bearer(&owner.access)
            .json(&studio_profile(slug))
            .send()
            .await;
        assert_eq!(response.status, 201, "create studio {slug}: {}", String::from_utf8_lossy(&response.body));
        response.json()["id"].as_str().expect("id").to_owned()
    }

    /// Registers `email` and has them join `studio_id` with `role` through a real invitation
    /// sent by `inviter`.
    pub async fn join(&self, studio_id: &str, inviter: &Account, email: &str, role: &str) -> Account {
        let invited = self
            .request(::http::Method::POST, &format!("/v1/studios/{studio_id}/invitations"))
            .bearer(&inviter.access)
            .json(&serde_json::json!({ "email": email, "role": role }))
            .send()
            .await;
        assert_eq!(invited.status, 201, "invite {email}: {}", String::from_utf8_lossy(&invited.body));
        let invitation = invited.json()["id"].as_str().expect("id").to_owned();
        let account = self.register(email).await;
        let accepted = self
            .request(
                ::http::Method::POST,
                &format!("/v1/studios/{studio_id}/invitations/{invitation}/accept"),
            )
            .bearer(&account.access)
            .send()
            .await;
        assert_eq!(accepted.status, 201, "accept {email}: {}", String::from_utf8_lossy(&accepted.body));
        account
    }

    /// Gives `user` a professional profile in `studio_id` (as `by`).
    pub async fn make_professional(&self, studio_id: &str, by: &Account, user: &Account) {
        let response = self
            .request(::http::Method::PUT, &format!("/v1/studios/{studio_id}/professionals/{}", user.user_id))
            .bearer(&by.access)
            .json(&serde_json::json!({ "display_name": user.email, "specialties": ["cuts"], "commission_bps": 4000 }))
            .send()
            .await;
        assert_eq!(response.status, 200, "professional profile: {}", String::from_utf8_lossy(&response.body));
    }

    /// The worker for a queue, as its host would build it.
    pub fn worker(&self, queue: &QueueName) -> Worker {
        atelier_app::worker(queue, &self.platform, Duration::from_secs(30))
    }

    /// Delivers every message waiting on the notifications queue to its worker, as the host's
    /// event source would (embedded poller, or SQS → Lambda glue). Returns messages received.
    pub async fn run_workers(&self) -> usize {
        self.deliver(&atelier_notifications::QUEUE, &self.worker(&atelier_notifications::QUEUE)).await
    }

    /// Delivers waiting messages of `queue` to `worker` until none are visible.
    pub async fn deliver(&self, queue: &QueueName, worker: &Worker) -> usize {
        let mut received = 0;
        loop {
            let n = match &self.host {
                Host::Embedded { app, .. } => app.queue.poll_once(queue, worker).await.expect("poll"),
                Host::Aws { clients, settings } => {
                    let url = settings.queue_urls.get(queue).expect("queue URL");
                    sqs_poll_once(clients, url, worker).await
                }
            };
            if n == 0 {
                return received;
            }
            received += n;
        }
    }

    /// Raw AWS clients and settings, for AWS-only contract tests.
    pub fn aws_parts(&self) -> Option<(&Clients, &AwsSettings)> {
        match &self.host {
            Host::Aws { clients, settings } => Some((clients, settings)),
            Host::Embedded { .. } => None,
        }
    }

    /// The embedded host, for embedded-only contract tests.
    pub fn local_app(&self) -> Option<&LocalApp> {
        match &self.host {
            Host::Embedded { app, .. } => Some(app),
            Host::Aws { .. } => None,
        }
    }
}

/// One receive from SQS, run through the Lambda glue exactly as the function would, deleting
/// what succeeded (what the Lambda event source does with a partial batch response).
async fn sqs_poll_once(clients: &Clients, url: &str, worker: &Worker) -> usize {
    atelier_aws::sqs::poll_once(&clients.sqs, url, worker, Duration::ZERO).await.expect("receive from SQS")
}

/// Runs each listed async test body (`async fn name(app: TestApp)`) twice: on the embedded
/// adapters and on the AWS adapters (DynamoDB Local + moto).
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::TestApp::on($crate::Backend::Embedded).await).await
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::TestApp::on($crate::Backend::Aws).await).await
                }
            )*
        }
    };
}
