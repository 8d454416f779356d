//! `atelier-local demo`: fills the local data directory with a believable studio, through the
//! same HTTP API a client uses (in-process, no port). Running it again finds what is there by
//! its natural keys (emails, slug, names) and adds only what is missing.
//!
//! Bookings in the past are made with the clock moved back two weeks, as they were made back
//! then; the clock then returns to now to complete them and mark the no-shows.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use atelier_platform::clock::Clock;
use atelier_platform::ids::UlidGenerator;
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp, ToSpan};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::{LocalError, LocalOptions};

/// The demo studio's public handle.
pub const SLUG: &str = "atelier-demo";
/// Every demo account's password.
pub const PASSWORD: &str = "atelier demo passphrase";
/// The owner's sign-in.
pub const OWNER_EMAIL: &str = "olivia@demo.atelier.test";
const MANAGER_EMAIL: &str = "mateus@demo.atelier.test";
/// A client who has an account (the others are the studio's records only); joining the
/// waitlist makes the studio's thirtieth client record.
const CLIENT_ACCOUNT: &str = "bruno@demo.atelier.test";
const PROFESSIONALS: [(&str, &str, &[&str]); 3] = [
    ("rita@demo.atelier.test", "Rita Sousa", &["balayage", "colour"]),
    ("joana@demo.atelier.test", "Joana Lima", &["cuts", "styling"]),
    ("tiago@demo.atelier.test", "Tiago Reis", &["beards", "fades"]),
];
const CLIENT_NAMES: [&str; 30] = [
    "João Silva",
    "Marta Costa",
    "Inês Ferreira",
    "Pedro Santos",
    "Ana Rodrigues",
    "Luís Martins",
    "Beatriz Almeida",
    "Tomás Pereira",
    "Carolina Gomes",
    "Diogo Carvalho",
    "Mariana Lopes",
    "Rui Marques",
    "Sofia Ribeiro",
    "Miguel Pinto",
    "Catarina Fernandes",
    "Francisco Teixeira",
    "Leonor Moreira",
    "Gonçalo Correia",
    "Matilde Mendes",
    "Rafael Nunes",
    "Madalena Cardoso",
    "André Rocha",
    "Helena Dias",
    "Vasco Monteiro",
    "Clara Batista",
    "Duarte Vieira",
    "Alice Fonseca",
    "Henrique Morais",
    "Laura Antunes",
    "Bruno Matos",
];

/// What the demo left in the data directory, for the summary and the tests.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DemoReport {
    /// The studio's id.
    pub studio_id: String,
    /// Whether this run made the bookings (false: they were there already).
    pub booked: bool,
    /// Bookings in the studio's two-week window either side of today, by status.
    pub by_status: std::collections::BTreeMap<String, usize>,
    /// Unread notices in the first professional's inbox (what her bookings told her).
    pub unread_notices: i64,
    /// `.eml` files in the data directory's `mail/` (embedded backend; SES on AWS).
    pub emails_written: usize,
    /// Payments received (online deposits, a late one, balances at the desk).
    pub payments_received: usize,
    /// Refunds made (a cancellation's, a late payment's).
    pub refunds_made: usize,
    /// Products stocked.
    pub products: usize,
    /// Outflows recorded by completed bookings (colour uses dye and developer, a beard trim a blade).
    pub service_outflows: usize,
    /// Retail sales.
    pub sales: usize,
    /// Products below their minimum (the beard oil, after a sale).
    pub low_products: i64,
    /// The stock's value at cost, minor units.
    pub stock_value_minor: i64,
    /// Projects (a bridal party planned, an editorial shoot delivered).
    pub projects: usize,
    /// Profit of the delivered project, after tax, minor units.
    pub delivered_profit_minor: i64,
    /// The dashboard of the four weeks around today: bookings counted by the daily tallies.
    pub dashboard_bookings: i64,
    /// The same dashboard's completed value in EUR, minor units.
    pub dashboard_completed_minor: i64,
    /// The XLSX export of this month's bookings (made once): its id.
    pub export_id: String,
    /// Its status after the exports worker ran (`done`).
    pub export_status: String,
    /// Rows it holds.
    pub export_rows: u64,
    /// The CSV import of new clients (made once): its outcomes (`created`, `refused`, ...).
    pub import_outcomes: Value,
    /// What the manager's WebSocket was told while the client booked and cancelled (every run).
    pub live_events: Vec<String>,
    /// From the booking request to its live message, milliseconds.
    pub live_latency_ms: u64,
    /// The client's slot answer asked again with its `ETag` in `If-None-Match`: before the
    /// booking (304, it still holds) and after it (200, a new answer).
    pub slots_revalidated: [u16; 2],
    /// Emails that booking and its cancellation sent (every run sends them again).
    pub live_emails: usize,
    /// Bookings the integration's key (`bookings:read`) read from the agenda.
    pub api_key_reads: usize,
    /// What the same key got for trying to book (403: its scopes do not open that).
    pub api_key_write_status: u16,
    /// The key's prefix (a new key every run; last run's is revoked).
    pub api_key_prefix: String,
    /// Signing in with a (demo) Google ID token: 201 the first run (account made), then 200.
    pub google_sign_in_status: u16,
    /// The account it signs in.
    pub google_user_id: String,
    /// This run's metrics as `GET /metrics` shows them: requests served (the sample count of
    /// `http_request_ms`), bookings created and refused, notices sent.
    pub metrics: RunMetrics,
}

/// What `GET /metrics` counted during one run of the demo (its registry starts empty).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunMetrics {
    /// Requests served.
    pub requests: u64,
    /// Bookings created.
    pub bookings_created: u64,
    /// Booking requests refused, whatever the reason.
    pub bookings_refused: u64,
    /// Notices sent, on every channel.
    pub notices_sent: u64,
}

impl RunMetrics {
    /// Read from Prometheus' text format: each metric summed over its series.
    pub fn read(text: &str) -> RunMetrics {
        let total = |name: &str, only: &str| -> u64 {
            let sum: f64 = text
                .lines()
                .filter(|line| {
                    line.strip_prefix(name).is_some_and(|rest| rest.starts_with(['{', ' ']))
                        && line.contains(only)
                })
                .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
                .sum();
            // Counters of whole things.
            sum as u64
        };
        RunMetrics {
            requests: total("http_request_ms_count", ""),
            bookings_created: total("bookings_created", ""),
            bookings_refused: total("bookings_refused", ""),
            notices_sent: total("notifications", "outcome=\"sent\""),
        }
    }
}

/// The demo's Google client id.
const DEMO_GOOGLE_CLIENT: &str = "atelier-demo.apps.googleusercontent.com";
/// Where the demo identity provider publishes its keys, on the demo's loopback port.
const DEMO_JWKS_PATH: &str = "/demo-idp/google/jwks";
/// The account made by signing in with Google.
const GOOGLE_EMAIL: &str = "gina@demo.atelier.test";

/// A stand-in for Google: an RSA key made for this run, its public half served as a JWKS.
struct DemoIdp {
    kid: String,
    signing: jsonwebtoken::EncodingKey,
    jwks: Value,
}

impl DemoIdp {
    fn new() -> Result<DemoIdp, DemoError> {
        use base64::Engine;
        use rsa::pkcs1::EncodeRsaPrivateKey;
        use rsa::traits::PublicKeyParts;
        let failed = |e: &dyn std::fmt::Display| {
            DemoError::Local(LocalError::Config(format!("demo identity provider: {e}")))
        };
        let private = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).map_err(|e| failed(&e))?;
        let der = private.to_pkcs1_der().map_err(|e| failed(&e))?;
        let public = private.to_public_key();
        let kid = format!("demo-{}", ulid::Ulid::generate());
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let jwks = json!({ "keys": [{
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
            "n": b64.encode(public.n().to_bytes_be()), "e": b64.encode(public.e().to_bytes_be()),
        }] });
        Ok(DemoIdp { kid, signing: jsonwebtoken::EncodingKey::from_rsa_der(der.as_bytes()), jwks })
    }

    fn router(&self) -> Router {
        let jwks = self.jwks.clone();
        Router::new().route(DEMO_JWKS_PATH, axum::routing::get(move || async move { axum::Json(jwks) }))
    }

    fn sign(&self, claims: &Value) -> Result<String, DemoError> {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.signing)
            .map_err(|e| DemoError::Local(LocalError::Config(format!("signing the demo ID token: {e}"))))
    }
}

/// A clock that can be moved, so that past bookings are made when they would have been.
#[derive(Debug, Default)]
struct MovableClock {
    offset_ms: AtomicI64,
}

impl MovableClock {
    fn set_offset(&self, offset: SignedDuration) {
        self.offset_ms.store(offset.as_millis() as i64, Ordering::SeqCst);
    }
}

impl Clock for MovableClock {
    fn now(&self) -> Timestamp {
        let offset = SignedDuration::from_millis(self.offset_ms.load(Ordering::SeqCst));
        Timestamp::now().checked_add(offset).unwrap_or_else(|_| Timestamp::now())
    }
}

/// Why the demo stopped.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The data directory could not be opened (is the local server running on it?).
    #[error(transparent)]
    Local(#[from] LocalError),
    /// A call the demo makes was refused.
    #[error("{method} {path} answered {status}: {body}")]
    Refused {
        /// Method.
        method: Method,
        /// Path.
        path: String,
        /// Status.
        status: StatusCode,
        /// The problem document.
        body: String,
    },
}

/// The API, called in-process.
struct Api {
    router: Router,
}

impl Api {
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut request =
            Request::builder().method(method).uri(path).header(header::USER_AGENT, "atelier-demo");
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match body {
            Some(Value::String(csv)) if path.contains("/imports?") => {
                // An import's upload is the file itself.
                request = request.header(header::CONTENT_TYPE, "text/csv");
                Body::from(csv.clone())
            }
            Some(json) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        let mut request = request.body(body).unwrap_or_default();
        request.extensions_mut().insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 0))));
        let response = match self.router.clone().oneshot(request).await {
            Ok(response) => response,
            Err(infallible) => match infallible {},
        };
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 16 << 20).await.unwrap_or_default();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// Posts the mock provider's events to its webhook route, signed as Stripe signs them.
    async fn deliver_provider_events(
        &self,
        mock: &atelier_payments::provider::mock::MockProvider,
    ) -> Result<(), DemoError> {
        for event in mock.take_events() {
            let (body, signature) = mock.signed(&event);
            let mut request = Request::builder()
                .method(Method::POST)
                .uri("/v1/payments/webhooks/mock")
                .header(header::CONTENT_TYPE, "application/json")
                .header("stripe-signature", signature)
                .body(Body::from(body))
                .unwrap_or_default();
            request.extensions_mut().insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 0))));
            let response = match self.router.clone().oneshot(request).await {
                Ok(response) => response,
                Err(infallible) => match infallible {},
            };
            if !response.status().is_success() {
                let status = response.status();
                let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap_or_default();
                return Err(DemoError::Refused {
                    method: Method::POST,
                    path: "/v1/payments/webhooks/mock".into(),
                    status,
                    body: String::from_utf8_lossy(&bytes).into_owned(),
                });
            }
        }
        Ok(())
    }

    /// A public GET sent with `If-None-Match: <etag>` (none when empty): the status and the
    /// answer's `ETag`.
    async fn revalidate(&self, path: &str, etag: &str) -> (u16, String) {
        let mut request =
            Request::builder().method(Method::GET).uri(path).header(header::USER_AGENT, "atelier-demo");
        if !etag.is_empty() {
            request = request.header(header::IF_NONE_MATCH, etag);
        }
        let mut request = request.body(Body::empty()).unwrap_or_default();
        request.extensions_mut().insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 0))));
        let response = match self.router.clone().oneshot(request).await {
            Ok(response) => response,
            Err(infallible) => match infallible {},
        };
        let tag = response.headers().get(header::ETAG).and_then(|v| v.to_str().ok()).unwrap_or_default();
        (response.status().as_u16(), tag.to_owned())
    }

    /// A call that must succeed.
    async fn expect(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> Result<Value, DemoError> {
        let (status, value) = self.call(method.clone(), path, Some(token), body).await;
        if status.is_success() {
            Ok(value)
        } else {
            Err(DemoError::Refused { method, path: path.to_owned(), status, body: value.to_string() })
        }
    }

    /// Signs `email` in, registering the account first if it does not exist.
    async fn account(&self, email: &str, name: &str) -> Result<Account, DemoError> {
        let credentials = json!({ "email": email, "password": PASSWORD, "name": name });
        let (status, body) = self.call(Method::POST, "/v1/auth/register", None, Some(&credentials)).await;
        let body = if status == StatusCode::CREATED {
            body
        } else {
            let login = json!({ "email": email, "password": PASSWORD });
            let (status, body) = self.call(Method::POST, "/v1/auth/login", None, Some(&login)).await;
            if !status.is_success() {
                return Err(DemoError::Refused {
                    method: Method::POST,
                    path: "/v1/auth/login".into(),
                    status,
                    body: body.to_string(),
                });
            }
            body
        };
        Ok(Account {
            id: text(&body["user"]["id"]),
            email: email.to_owned(),
            token: text(&body["tokens"]["access_token"]),
        })
    }

    /// Every item of a paginated list.
    /// A text answer (`/metrics`).
    async fn text(&self, path: &str) -> (StatusCode, String) {
        let request = Request::builder().uri(path).body(Body::empty()).unwrap_or_default();
        let response = match self.router.clone().oneshot(request).await {
            Ok(response) => response,
            Err(infallible) => match infallible {},
        };
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 16 << 20).await.unwrap_or_default();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    async fn all(&self, path: &str, token: &str) -> Result<Vec<Value>, DemoError> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let separator = if path.contains('?') { '&' } else { '?' };
            let page = match &cursor {
                Some(c) => format!("{path}{separator}limit=100&cursor={c}"),
                None => format!("{path}{separator}limit=100"),
            };
            let body = self.expect(Method::GET, &page, token, None).await?;
            if let Value::Array(all) = body {
                return Ok(all);
            }
            items.extend(body["items"].as_array().cloned().unwrap_or_default());
            match body["next_cursor"].as_str() {
                Some(next) if !next.is_empty() => cursor = Some(next.to_owned()),
                _ => return Ok(items),
            }
        }
    }
}

#[derive(Debug, Clone)]
struct Account {
    id: String,
    email: String,
    token: String,
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

/// Fills `options.data_dir` with the demo studio (or completes it) and reports what is there.
pub async fn seed(options: &LocalOptions) -> Result<DemoReport, DemoError> {
    let clock = Arc::new(MovableClock::default());
    // A loopback port for what needs a real socket (the live updates' WebSocket, the demo
    // identity provider's keys), bound first so that sign-in with Google can be pointed at it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(LocalError::Io)?;
    let address = listener.local_addr().map_err(LocalError::Io)?;
    let idp = DemoIdp::new()?;
    let host = crate::open(options, clock.clone(), Arc::new(UlidGenerator), |auth| {
        // The demo makes a few hundred calls as the owner in seconds.
        auth.limits.api_per_caller = u32::MAX;
        let mut google = atelier_identity::oidc::ProviderConfig::google(vec![DEMO_GOOGLE_CLIENT.into()]);
        google.jwks_url = format!("http://{address}{DEMO_JWKS_PATH}");
        auth.oidc = Arc::new(atelier_identity::oidc::OidcProviders::new(vec![google]));
    })
    .await?;
    let api = Api { router: host.router().clone() };
    let served = host.router().clone().merge(idp.router());
    let server = tokio::spawn(
        axum::serve(listener, served.into_make_service_with_connect_info::<SocketAddr>()).into_future(),
    );

    let owner = api.account(OWNER_EMAIL, "Olivia Owner").await?;
    let (status, found) = api.call(Method::GET, &format!("/v1/public/slugs/{SLUG}"), None, None).await;
    let studio = if status == StatusCode::OK {
        text(&found["id"])
    } else {
        let profile = json!({
            "name": "Atelier Demo",
            "slug": SLUG,
            "description": "Hair and beard studio in Lisbon: the demo of Atelier.",
            "contact_email": "hello@demo.atelier.test",
            "contact_phone": "+351 210 000 000",
            "address": { "line1": "Rua Augusta 100", "city": "Lisboa", "postal_code": "1100-053", "country": "PT" },
            "time_zone": "Europe/Lisbon",
            "currency": "EUR",
            "tax_rate_bps": 2300,
            "settings": {
                "min_notice_minutes": 60, "horizon_days": 60, "slot_step_minutes": 15,
                "no_show_tolerance_minutes": 15, "loyalty_rate_bps": 1000, "hold_minutes": 1440,
                "reminder_hours": [24, 2], "waitlist_offer_minutes": 120, "no_show_penalty_points": 50,
                "loyalty_expiry_days": 365
            }
        });
        text(&api.expect(Method::POST, "/v1/studios", &owner.token, Some(&profile)).await?["id"])
    };
    let base = format!("/v1/studios/{studio}");
    // Notices: reminders by SMS too (for clients with a phone), and the studio's own words for
    // the Portuguese reminder (saving the same text again changes nothing).
    let defaults = json!({ "topics": { "booking_reminder": { "sms": true } } });
    api.expect(Method::PUT, &format!("{base}/notification-settings"), &owner.token, Some(&defaults)).await?;
    let reminder = json!({
        "subject": "Lembrete: {{ service }} no {{ studio }}",
        "body": "Olá {{ recipient }}! Esperamos por você em {{ start }} para {{ service }} com {{ professional }}.\n\nPrecisa remarcar? Responda a este email.",
    });
    api.expect(
        Method::PUT,
        &format!("{base}/notification-templates/booking_reminder/pt-BR"),
        &owner.token,
        Some(&reminder),
    )
    .await?;

    // The team: a manager and three professionals, each through a real invitation.
    let manager = api.account(MANAGER_EMAIL, "Mateus Manager").await?;
    join(&api, &base, &owner, &manager, "manager").await?;
    let mut professionals = Vec::new();
    for (email, name, specialties) in PROFESSIONALS {
        let account = api.account(email, name).await?;
        join(&api, &base, &owner, &account, "professional").await?;
        // Each keeps 40 % of what they bill (the professionals' report shows it).
        let profile = json!({ "display_name": name, "specialties": specialties, "bio": format!("{name} at Atelier Demo."), "commission_bps": 4000 });
        api.expect(
            Method::PUT,
            &format!("{base}/professionals/{}", account.id),
            &owner.token,
            Some(&profile),
        )
        .await?;
        professionals.push(account);
    }
    // Weekly hours: Rita Tuesday to Saturday, Joana Monday to Friday, Tiago Monday to Saturday.
    let weeks: [&[&str]; 3] = [
        &["tuesday", "wednesday", "thursday", "friday", "saturday"],
        &["monday", "tuesday", "wednesday", "thursday", "friday"],
        &["monday", "tuesday", "wednesday", "thursday", "friday", "saturday"],
    ];
    for (account, days) in professionals.iter().zip(weeks) {
        let ranges: Vec<Value> = days
            .iter()
            .flat_map(|day| {
                [
                    json!({"day": day, "start": "09:00", "end": "13:00"}),
                    json!({"day": day, "start": "14:00", "end": "19:00"}),
                ]
            })
            .collect();
        let path = format!("{base}/professionals/{}/availability", account.id);
        api.expect(Method::PUT, &path, &owner.token, Some(&json!({ "ranges": ranges }))).await?;
    }
    // One exception: Joana is off for a day in ten days' time.
    let zone = jiff::tz::TimeZone::get("Europe/Lisbon").unwrap_or(jiff::tz::TimeZone::UTC);
    let today = zone.to_datetime(Timestamp::now()).date();
    let exceptions = format!("{base}/professionals/{}/availability/exceptions", professionals[1].id);
    let range = format!("{exceptions}?from={today}&to={}", today.checked_add(60.days()).unwrap_or(today));
    let listed = api.expect(Method::GET, &range, &owner.token, None).await?;
    if listed["items"].as_array().is_none_or(Vec::is_empty) {
        let off = today.checked_add(10.days()).unwrap_or(today);
        let exception =
            json!({ "kind": "time_off", "start_date": off, "end_date": off, "note": "Training course" });
        api.expect(Method::POST, &exceptions, &owner.token, Some(&exception)).await?;
    }

    // A pool of three chairs.
    let resources = api.all(&format!("{base}/resources"), &owner.token).await?;
    for chair in ["Chair 1", "Chair 2", "Chair 3"] {
        if !resources.iter().any(|r| r["name"] == chair) {
            let body = json!({ "name": chair, "resource_type": "chair" });
            api.expect(Method::POST, &format!("{base}/resources"), &owner.token, Some(&body)).await?;
        }
    }

    // Services with buffers; colour needs a 30 % deposit.
    let pro_ids: Vec<&str> = professionals.iter().map(|p| p.id.as_str()).collect();
    let catalog = [
        json!({ "name": "Haircut", "category": "hair", "description": "Wash, cut and style.", "duration_minutes": 45,
                "price_minor": 2500, "buffer_after_minutes": 15, "professional_ids": [pro_ids[0], pro_ids[1]], "resource_type": "chair" }),
        json!({ "name": "Colour", "category": "hair", "description": "Full colour or balayage.", "duration_minutes": 120,
                "price_minor": 8000, "buffer_before_minutes": 10, "buffer_after_minutes": 20, "deposit_required": true,
                "deposit_bps": 3000, "professional_ids": [pro_ids[0]], "resource_type": "chair" }),
        json!({ "name": "Beard trim", "category": "beard", "description": "Shape and hot towel.", "duration_minutes": 30,
                "price_minor": 1500, "buffer_after_minutes": 10, "professional_ids": [pro_ids[2]], "resource_type": "chair" }),
        json!({ "name": "Cut and beard", "category": "beard", "description": "Haircut and beard trim.", "duration_minutes": 60,
                "price_minor": 3500, "buffer_after_minutes": 15, "professional_ids": [pro_ids[2]], "resource_type": "chair" }),
    ];
    let existing = api.all(&format!("{base}/services"), &owner.token).await?;
    let mut services = Vec::new();
    for definition in &catalog {
        let id = match existing.iter().find(|s| s["name"] == definition["name"]) {
            Some(service) => text(&service["id"]),
            None => text(
                &api.expect(Method::POST, &format!("{base}/services"), &owner.token, Some(definition))
                    .await?["id"],
            ),
        };
        services.push(id);
    }
    let [haircut, colour, beard, cut_and_beard] = [&services[0], &services[1], &services[2], &services[3]];

    // Stock: what colour and beard trims use, and retail products; received once.
    let stock = stock(&api, &base, &owner.token, colour, beard).await?;

    // Cancellation: half the price within 24 hours, a quarter within 48.
    let policy = json!({ "tiers": [
        { "min_hours": 0, "max_hours": 24, "fee": { "kind": "percent", "bps": 5000 } },
        { "min_hours": 24, "max_hours": 48, "fee": { "kind": "percent", "bps": 2500 } },
    ]});
    api.expect(Method::PUT, &format!("{base}/cancellation-policy"), &owner.token, Some(&policy)).await?;

    // Thirty clients.
    let known = api.all(&format!("{base}/clients"), &owner.token).await?;
    let mut clients = Vec::new();
    for (i, name) in CLIENT_NAMES[..CLIENT_NAMES.len() - 1].iter().enumerate() {
        let id = match known.iter().find(|c| c["name"] == *name) {
            Some(client) => text(&client["id"]),
            None => {
                let email = format!("client{:02}@demo.atelier.test", i + 1);
                let body = json!({ "name": name, "email": email, "phone": format!("+351 91{:07}", 2_345_600 + i),
                                   "marketing_consent": i % 3 == 0, "tags": if i % 5 == 0 { vec!["vip"] } else { vec![] } });
                text(
                    &api.expect(Method::POST, &format!("{base}/clients"), &owner.token, Some(&body)).await?["id"],
                )
            }
        };
        clients.push(id);
    }

    // Two weeks of bookings either side of today, made once.
    let window = format!(
        "{base}/bookings?from={}&to={}",
        today.checked_sub(14.days()).unwrap_or(today),
        today.checked_add(15.days()).unwrap_or(today)
    );
    let booked = api.all(&window, &owner.token).await?.is_empty();
    if booked {
        let plan = BookingPlan {
            api: &api,
            base: &base,
            token: owner.token.clone().into(),
            clock: &clock,
            today,
            host: &host,
        };
        plan.run(&professionals, [haircut, colour, beard, cut_and_beard], &clients).await?;
    }

    // The notices the bookings sent, delivered now (the server is not running yet), with the
    // refunds their cancellations owed; then the day's reconciliation with the provider.
    host.drain_notifications().await?;
    if host.platform().payments.is_some() {
        atelier_app::jobs::run(atelier_app::jobs::Job::ReconcilePayments, host.platform())
            .await
            .map_err(|e| LocalError::Config(format!("reconciling payments: {e}")))?;
    }
    let (payments_received, refunds_made) = if host.platform().payments.is_some() {
        let received = api.all(&format!("{base}/payments?status=succeeded"), &owner.token).await?.len();
        let refunds = api
            .all(&format!("{base}/ledger"), &owner.token)
            .await?
            .iter()
            .filter(|e| e["kind"] == "refund")
            .count();
        (received, refunds)
    } else {
        (0, 0)
    };
    // A retail sale to a client that takes the beard oil below its minimum: the owner and the
    // manager are told once.
    let sales = api.all(&format!("{base}/sales"), &owner.token).await?;
    if sales.is_empty() {
        let sale = json!({ "client_id": clients[0], "lines": [
            { "product_id": stock.beard_oil, "quantity": 3 },
            { "product_id": stock.shampoo, "quantity": 1 },
        ], "note": "After the cut" });
        api.expect(Method::POST, &format!("{base}/sales"), &owner.token, Some(&sale)).await?;
        host.drain_notifications().await?;
    }
    let (projects, delivered_profit_minor) =
        projects(&api, &base, &owner.token, &professionals, &clients, today).await?;
    let products = api.all(&format!("{base}/products"), &owner.token).await?.len();
    let service_outflows = api
        .all(&format!("{base}/stock-movements"), &owner.token)
        .await?
        .iter()
        .filter(|m| m["reason"] == "service")
        .count();
    let sales = api.all(&format!("{base}/sales"), &owner.token).await?.len();
    let valuation =
        api.expect(Method::GET, &format!("{base}/inventory/valuation"), &owner.token, None).await?;
    // Rita's session from the start of the run: every sign-in counts against the address's
    // registration limit (the AWS smoke pass that follows the demo in infra/test registers too).
    let rita = &professionals[0];
    let count = api.expect(Method::GET, "/v1/me/notifications/unread-count", &rita.token, None).await?;
    let unread_notices = count["unread"].as_i64().unwrap_or(0);

    let dashboard = api
        .expect(
            Method::GET,
            &format!(
                "{base}/dashboard?period=custom&from={}&to={}",
                today.checked_sub(14.days()).unwrap_or(today),
                today.checked_add(14.days()).unwrap_or(today)
            ),
            &owner.token,
            None,
        )
        .await?;
    let dashboard_completed_minor = dashboard["money"]
        .as_array()
        .and_then(|m| m.iter().find(|x| x["currency"] == "EUR"))
        .and_then(|x| x["completed_value_minor"].as_i64())
        .unwrap_or(0);

    // An XLSX export of this month's bookings, asked once; the exports worker writes it.
    let exports = format!("{base}/exports");
    let export = match api.all(&exports, &owner.token).await?.into_iter().next() {
        Some(existing) => existing,
        None => {
            let asked = json!({ "dataset": "bookings", "format": "xlsx", "from": today.first_of_month(), "to": today.last_of_month() });
            api.expect(Method::POST, &exports, &owner.token, Some(&asked)).await?
        }
    };
    host.drain_exports().await?;
    let export_id = text(&export["id"]);
    let export = api.expect(Method::GET, &format!("{exports}/{export_id}"), &owner.token, None).await?;

    // A CSV of new clients from the front desk's old spreadsheet, one row with a bad email:
    // uploaded, applied once; the report names the bad row.
    let imports = format!("{base}/imports");
    let import = match api.all(&imports, &owner.token).await?.into_iter().next() {
        Some(existing) => existing,
        None => {
            let csv = "Nome,E-mail,Telefone\nLuna Prado,luna@demo.atelier.test,+351 913 111 222\nOtto Vaz,otto-at-demo,\nPia Moura,pia@demo.atelier.test,\n";
            let uploaded = api
                .expect(
                    Method::POST,
                    &format!("{imports}?kind=clients"),
                    &owner.token,
                    Some(&Value::String(csv.into())),
                )
                .await?;
            api.expect(
                Method::POST,
                &format!("{imports}/{}/apply", text(&uploaded["id"])),
                &owner.token,
                Some(&json!({})),
            )
            .await?
        }
    };
    host.drain_exports().await?;
    let import =
        api.expect(Method::GET, &format!("{imports}/{}", text(&import["id"])), &owner.token, None).await?;

    // An integration: the owner replaces the demo's API key (revoking last run's, so a key is
    // in use once), and the new key reads the agenda and is refused a booking.
    let keys = format!("{base}/api-keys");
    for old in api.all(&keys, &owner.token).await? {
        if old["name"] == "Agenda widget" && old["status"] == "active" {
            api.expect(Method::DELETE, &format!("{keys}/{}", text(&old["id"])), &owner.token, None).await?;
        }
    }
    let widget = json!({ "name": "Agenda widget", "scopes": ["bookings:read", "catalog:read"] });
    let created = api.expect(Method::POST, &keys, &owner.token, Some(&widget)).await?;
    let key = text(&created["secret"]);
    let api_key_reads = api.all(&window, &key).await?.len();
    let attempt = json!({ "service_id": haircut, "professional_id": professionals[1].id, "start": "2030-01-07T10:00:00Z" });
    let (api_key_write_status, _) =
        api.call(Method::POST, &format!("{base}/bookings"), Some(&key), Some(&attempt)).await;

    let mails = || match options.backend {
        crate::Backend::Embedded => {
            std::fs::read_dir(options.data_dir.join("mail")).map_or(0, |dir| dir.count())
        }
        crate::Backend::Aws => 0,
    };
    let emails_written = mails();
    // Live updates: the manager's WebSocket, on a real port, sees Bruno book a haircut six weeks
    // out and cancel it as it happens (beyond the four weeks the figures above count).
    let live =
        live_updates(&api, &host, address, &base, &manager, haircut, &professionals[1].id, today).await?;
    host.drain_notifications().await?;
    let live_emails = mails() - emails_written;

    // Sign in with Google: an ID token from the demo's own identity provider (its keys on the
    // loopback port, as Google publishes its own), verified like a real one. The first run
    // makes Gina's account; later runs sign her in.
    let now = host.platform().clock.now().as_second();
    let claims = json!({
        "iss": "https://accounts.google.com", "aud": DEMO_GOOGLE_CLIENT, "sub": "demo-google-gina",
        "email": GOOGLE_EMAIL, "email_verified": true, "name": "Gina Gomes", "iat": now, "exp": now + 600,
    });
    let (google_status, google) = api
        .call(Method::POST, "/v1/auth/oidc/google", None, Some(&json!({ "id_token": idp.sign(&claims)? })))
        .await;
    if !google_status.is_success() {
        return Err(DemoError::Refused {
            method: Method::POST,
            path: "/v1/auth/oidc/google".into(),
            status: google_status,
            body: google.to_string(),
        });
    }

    // What this run did, as the server's own metrics counted it (docs/operations.md).
    let (metrics_status, metrics_text) = api.text("/metrics").await;
    if !metrics_status.is_success() {
        return Err(DemoError::Refused {
            method: Method::GET,
            path: "/metrics".into(),
            status: metrics_status,
            body: metrics_text,
        });
    }
    let metrics = RunMetrics::read(&metrics_text);

    server.abort();
    // The aborted server drops its router (and the store it holds) before the next command
    // opens the data directory.
    let _ = server.await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;

    let mut by_status = std::collections::BTreeMap::new();
    for booking in api.all(&window, &owner.token).await? {
        *by_status.entry(text(&booking["status"])).or_insert(0) += 1;
    }
    Ok(DemoReport {
        studio_id: studio,
        booked,
        by_status,
        unread_notices,
        emails_written,
        payments_received,
        refunds_made,
        products,
        service_outflows,
        sales,
        low_products: valuation["low_products"].as_i64().unwrap_or(0),
        stock_value_minor: valuation["value_minor"].as_i64().unwrap_or(0),
        projects,
        delivered_profit_minor,
        dashboard_bookings: dashboard["bookings"]["total"].as_i64().unwrap_or(0),
        dashboard_completed_minor,
        export_id,
        export_status: text(&export["status"]),
        export_rows: export["rows"].as_u64().unwrap_or(0),
        import_outcomes: import["outcomes"].clone(),
        live_events: live.events,
        live_latency_ms: live.latency_ms,
        slots_revalidated: live.revalidated,
        live_emails,
        api_key_reads,
        api_key_write_status: api_key_write_status.as_u16(),
        api_key_prefix: text(&created["key"]["prefix"]),
        google_sign_in_status: google_status.as_u16(),
        google_user_id: text(&google["user"]["id"]),
        metrics,
    })
}

/// What the manager's live connection saw.
struct LiveSeen {
    events: Vec<String>,
    latency_ms: u64,
    revalidated: [u16; 2],
}

/// Serves the router on a loopback port, opens the manager's WebSocket as a browser would
/// (token in the subprotocol), follows the studio, then has the client book and cancel.
#[allow(clippy::too_many_arguments)]
async fn live_updates(
    api: &Api,
    host: &crate::Host,
    address: SocketAddr,
    base: &str,
    manager: &Account,
    haircut: &str,
    professional: &str,
    today: Date,
) -> Result<LiveSeen, DemoError> {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let failed = |what: &str, e: &dyn std::fmt::Display| {
        DemoError::Local(LocalError::Config(format!("live updates: {what}: {e}")))
    };
    let mut request =
        format!("ws://{address}/v1/live").into_client_request().map_err(|e| failed("request", &e))?;
    let protocols = format!("atelier, bearer.{}", manager.token);
    request
        .headers_mut()
        .insert("sec-websocket-protocol", protocols.parse().map_err(|e| failed("header", &e))?);
    let (mut socket, _) =
        tokio_tungstenite::connect_async(request).await.map_err(|e| failed("connect", &e))?;
    let studio = base.trim_start_matches("/v1/studios/");
    let subscribe = json!({ "action": "subscribe", "studios": [studio] }).to_string();
    socket.send(Message::Text(subscribe.into())).await.map_err(|e| failed("subscribe", &e))?;
    let mut next = async || -> Result<Value, DemoError> {
        loop {
            let frame = tokio::time::timeout(std::time::Duration::from_secs(10), socket.next())
                .await
                .map_err(|e| failed("waiting", &e))?
                .ok_or_else(|| failed("waiting", &"the connection closed"))?
                .map_err(|e| failed("reading", &e))?;
            if let Message::Text(text) = frame {
                return serde_json::from_str(text.as_str()).map_err(|e| failed("reading", &e));
            }
        }
    };
    next().await?;

    let bruno = api.account(CLIENT_ACCOUNT, CLIENT_NAMES[29]).await?;
    let day = today.checked_add(42.days()).unwrap_or(today);
    let path = format!(
        "/v1/public/studios/{studio}/slots?service_id={haircut}&professional_id={professional}&from={day}&to={}",
        day.checked_add(6.days()).unwrap_or(day)
    );
    let slots = api.expect(Method::GET, &path, &bruno.token, None).await?;
    let Some(start) = slots["slots"].as_array().and_then(|s| s.last()).map(|s| text(&s["start"])) else {
        return Ok(LiveSeen { events: Vec::new(), latency_ms: 0, revalidated: [0, 0] });
    };
    // The page asks again with the answer's tag: unchanged, then changed by the booking.
    let tag = api.revalidate(&path, "").await.1;
    let held = api.revalidate(&path, &tag).await.0;
    let booking = json!({ "service_id": haircut, "professional_id": professional, "start": start, "notes": "Seen live" });
    let asked = std::time::Instant::now();
    let made = api.expect(Method::POST, &format!("{base}/bookings"), &bruno.token, Some(&booking)).await?;
    let created = next().await?;
    let changed = api.revalidate(&path, &tag).await.0;
    let latency_ms = u64::try_from(asked.elapsed().as_millis()).unwrap_or(u64::MAX);
    let cancel = format!("{base}/bookings/{}/cancel", text(&made["id"]));
    api.expect(Method::POST, &cancel, &bruno.token, Some(&json!({ "reason": "Changed my mind" }))).await?;
    let cancelled = next().await?;
    // Close as a browser does, and let the server forget the connection before it stops.
    socket.close(None).await.map_err(|e| failed("closing", &e))?;
    while let Some(Ok(_)) = socket.next().await {}
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while host.live_connections() > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    Ok(LiveSeen {
        events: vec![text(&created["event"]), text(&cancelled["event"])],
        latency_ms,
        revalidated: [held, changed],
    })
}

/// Two projects, made once: a bridal party planned (Rita and Joana, a fixed fee and hours) and
/// an editorial shoot Tiago delivered; returns how many there are and the delivered one's profit.
async fn projects(
    api: &Api,
    base: &str,
    token: &str,
    professionals: &[Account],
    clients: &[String],
    today: Date,
) -> Result<(usize, i64), DemoError> {
    let existing = api.all(&format!("{base}/projects"), token).await?;
    if existing.is_empty() {
        let deadline = |days: i64| today.checked_add(days.days()).unwrap_or(today);
        let bridal = json!({ "title": "Bridal party", "client_id": clients[1], "description": "Hair and make-up for the bride and four bridesmaids, at the venue.",
                             "start_date": deadline(18), "deadline": deadline(20), "tags": ["wedding"], "budget_minor": 60000 });
        let bridal =
            text(&api.expect(Method::POST, &format!("{base}/projects"), token, Some(&bridal)).await?["id"]);
        let p = format!("{base}/projects/{bridal}");
        let item = json!({ "description": "Bridal hair and make-up", "quantity": 5, "unit_price_minor": 12000, "discount_bps": 500 });
        api.expect(Method::POST, &format!("{p}/items"), token, Some(&item)).await?;
        let rita = json!({ "role": "Lead stylist", "fee": { "kind": "fixed", "amount_minor": 30000 } });
        api.expect(Method::PUT, &format!("{p}/crew/{}", professionals[0].id), token, Some(&rita)).await?;
        let joana =
            json!({ "role": "Assistant", "fee": { "kind": "hourly", "rate_minor": 2500, "minutes": 240 } });
        api.expect(Method::PUT, &format!("{p}/crew/{}", professionals[1].id), token, Some(&joana)).await?;
        let travel = json!({ "category": "travel", "description": "Taxi to the venue and back", "amount_minor": 4000, "date": deadline(20) });
        api.expect(Method::POST, &format!("{p}/expenses"), token, Some(&travel)).await?;
        api.expect(Method::POST, &format!("{p}/status"), token, Some(&json!({ "status": "planned" })))
            .await?;

        let shoot = json!({ "title": "Editorial shoot", "client_id": clients[2], "description": "Grooming for a magazine's menswear story.",
                            "start_date": today, "deadline": today, "tags": ["editorial"], "budget_minor": 40000 });
        let shoot =
            text(&api.expect(Method::POST, &format!("{base}/projects"), token, Some(&shoot)).await?["id"]);
        let p = format!("{base}/projects/{shoot}");
        let item = json!({ "description": "Grooming, full day", "quantity": 1, "unit_price_minor": 60000 });
        api.expect(Method::POST, &format!("{p}/items"), token, Some(&item)).await?;
        let tiago = json!({ "role": "Groomer", "fee": { "kind": "fixed", "amount_minor": 15000 } });
        api.expect(Method::PUT, &format!("{p}/crew/{}", professionals[2].id), token, Some(&tiago)).await?;
        let rental = json!({ "category": "rental", "description": "Studio half day", "amount_minor": 20000, "date": today, "receipt": "R-2211" });
        api.expect(Method::POST, &format!("{p}/expenses"), token, Some(&rental)).await?;
        for status in ["planned", "in_progress"] {
            api.expect(Method::POST, &format!("{p}/status"), token, Some(&json!({ "status": status })))
                .await?;
        }
        // Tiago, as crew, hands it over, with the session the demo already has (signing in
        // again counts against the address's registration limit, which the AWS smoke pass
        // after the demo needs).
        let tiago = &professionals[2].token;
        api.expect(Method::POST, &format!("{p}/status"), tiago, Some(&json!({ "status": "delivered" })))
            .await?;
    }
    let all = api.all(&format!("{base}/projects"), token).await?;
    let delivered = all
        .iter()
        .find(|p| p["status"] == "delivered")
        .map(|p| p["totals"]["profit_minor"].as_i64().unwrap_or(0));
    Ok((all.len(), delivered.unwrap_or(0)))
}

/// The demo's stocked products.
struct Stock {
    beard_oil: String,
    shampoo: String,
}

/// A supplier, a brand with a model, categories, products received once, and what the colour
/// and the beard trim use.
async fn stock(api: &Api, base: &str, token: &str, colour: &str, beard: &str) -> Result<Stock, DemoError> {
    async fn named(api: &Api, collection: &str, token: &str, body: Value) -> Result<String, DemoError> {
        let found = api.all(collection, token).await?;
        if let Some(entry) = found.iter().find(|e| e["name"] == body["name"]) {
            return Ok(text(&entry["id"]));
        }
        Ok(text(&api.expect(Method::POST, collection, token, Some(&body)).await?["id"]))
    }
    let supplier = named(
        api,
        &format!("{base}/suppliers"),
        token,
        json!({ "name": "Lisboa Beauty Supply", "contact_name": "Carla Nunes", "email": "orders@lbs.example",
                "phone": "+351 213 000 111", "tax_id": "PT509876543", "lead_time_days": 3 }),
    )
    .await?;
    let colour_category =
        named(api, &format!("{base}/product-categories"), token, json!({ "name": "Colour" })).await?;
    let retail =
        named(api, &format!("{base}/product-categories"), token, json!({ "name": "Retail" })).await?;
    let barber =
        named(api, &format!("{base}/product-categories"), token, json!({ "name": "Barber" })).await?;
    let brand = named(api, &format!("{base}/brands"), token, json!({ "name": "Wella" })).await?;
    let model = named(
        api,
        &format!("{base}/product-models"),
        token,
        json!({ "brand_id": brand, "name": "Koleston Perfect" }),
    )
    .await?;
    // (title, sku, unit, cost, sell, minimum, category, received, unit cost of the delivery)
    let catalogue = [
        ("Koleston Perfect 7/0", "KP-70", "ml", 2, 0, 300, &colour_category, 3000, 2),
        ("Welloxon developer 6%", "WX-6", "ml", 1, 0, 500, &colour_category, 5000, 1),
        ("Razor blades", "RZ-100", "pcs", 8, 0, 20, &barber, 200, 8),
        ("Beard oil 30 ml", "BO-30", "pcs", 600, 1500, 3, &retail, 5, 600),
        ("Repair shampoo 250 ml", "RS-250", "pcs", 700, 1800, 2, &retail, 12, 700),
    ];
    let mut ids = Vec::new();
    for (title, sku, unit, cost, sell, minimum, category, received, unit_cost) in catalogue {
        let found = api.expect(Method::GET, &format!("{base}/products?sku={sku}"), token, None).await?;
        if let Some(product) = found["items"].as_array().and_then(|all| all.iter().find(|p| p["sku"] == sku))
        {
            ids.push(text(&product["id"]));
            continue;
        }
        let mut body = json!({ "title": title, "sku": sku, "unit": unit, "cost_price_minor": cost, "sell_price_minor": sell,
                               "minimum_quantity": minimum, "category_id": category, "supplier_id": supplier });
        if sku == "KP-70" {
            body["brand_id"] = json!(brand);
            body["model_id"] = json!(model);
        }
        let id =
            text(&api.expect(Method::POST, &format!("{base}/products"), token, Some(&body)).await?["id"]);
        let delivery = json!({ "kind": "inflow", "quantity": received, "unit_cost_minor": unit_cost,
                               "supplier_id": supplier, "reference": "FT 2026/118" });
        api.expect(Method::POST, &format!("{base}/products/{id}/movements"), token, Some(&delivery)).await?;
        ids.push(id);
    }
    let colour_use = json!({ "items": [{ "product_id": ids[0], "quantity": 60 }, { "product_id": ids[1], "quantity": 90 }] });
    api.expect(Method::PUT, &format!("{base}/services/{colour}/stock-usage"), token, Some(&colour_use))
        .await?;
    let beard_use = json!({ "items": [{ "product_id": ids[2], "quantity": 1 }] });
    api.expect(Method::PUT, &format!("{base}/services/{beard}/stock-usage"), token, Some(&beard_use)).await?;
    Ok(Stock { beard_oil: ids[3].clone(), shampoo: ids[4].clone() })
}

/// Invites `who` to the studio with `role` and accepts, unless they are a member already.
async fn join(api: &Api, base: &str, owner: &Account, who: &Account, role: &str) -> Result<(), DemoError> {
    let members = api.all(&format!("{base}/members"), &owner.token).await?;
    if members.iter().any(|m| m["user_id"] == who.id.as_str()) {
        return Ok(());
    }
    let invitation = json!({ "email": who.email, "role": role });
    let (status, sent) =
        api.call(Method::POST, &format!("{base}/invitations"), Some(&owner.token), Some(&invitation)).await;
    let id = if status == StatusCode::CREATED {
        text(&sent["id"])
    } else {
        // Sent by an earlier run that stopped before the acceptance.
        let pending = api.all(&format!("{base}/invitations"), &owner.token).await?;
        let found = Some(pending.as_slice()).and_then(|all| {
            all.iter()
                .find(|i| i["email"] == who.email.as_str() && i["status"] == "pending")
                .map(|i| text(&i["id"]))
        });
        found.ok_or_else(|| DemoError::Refused {
            method: Method::POST,
            path: format!("{base}/invitations"),
            status,
            body: sent.to_string(),
        })?
    };
    api.expect(Method::POST, &format!("{base}/invitations/{id}/accept"), &who.token, None).await?;
    Ok(())
}

struct BookingPlan<'a> {
    api: &'a Api,
    base: &'a str,
    /// The owner's token, issued again whenever the clock moves (tokens carry their time).
    token: std::cell::RefCell<String>,
    clock: &'a MovableClock,
    today: Date,
    host: &'a crate::Host,
}

impl BookingPlan<'_> {
    /// The first free start for `service` with `professional` on `date`, after `skip` others.
    async fn slot(
        &self,
        service: &str,
        professional: &str,
        date: Date,
        skip: usize,
    ) -> Result<Option<String>, DemoError> {
        let studio = self.base.trim_start_matches("/v1/studios/");
        let path = format!(
            "/v1/public/studios/{studio}/slots?service_id={service}&professional_id={professional}&from={date}&to={date}"
        );
        let (status, body) = self.api.call(Method::GET, &path, None, None).await;
        if !status.is_success() {
            return Err(DemoError::Refused { method: Method::GET, path, status, body: body.to_string() });
        }
        let slots = body["slots"].as_array().cloned().unwrap_or_default();
        Ok(slots.get(skip * 4).or(slots.last().filter(|_| skip == 0)).map(|s| text(&s["start"])))
    }

    async fn book(
        &self,
        service: &str,
        professional: &str,
        client: &str,
        start: &str,
        notes: &str,
    ) -> Result<Value, DemoError> {
        let body = json!({ "service_id": service, "professional_id": professional, "client_id": client, "start": start, "notes": notes });
        self.api.expect(Method::POST, &format!("{}/bookings", self.base), &self.token(), Some(&body)).await
    }

    async fn change(&self, booking: &Value, action: &str, body: Option<&Value>) -> Result<Value, DemoError> {
        let path = format!("{}/bookings/{}/{action}", self.base, text(&booking["id"]));
        self.api.expect(Method::POST, &path, &self.token(), body).await
    }

    /// A colour held for its deposit, paid with a method that settles late (`pm_card_late`),
    /// whose payment lands after the hold ran out: the expiry released the slot, so the payment
    /// is recorded and refunded in full, never confirmed.
    async fn late_payment(&self, colour: &str, professional: &str, client: &str) -> Result<(), DemoError> {
        let Some(mock) = self.host.mock_payments() else { return Ok(()) };
        let date = self.today.checked_add(13.days()).unwrap_or(self.today);
        let Some(start) = self.slot(colour, professional, date, 3).await? else { return Ok(()) };
        let held = self.book(colour, professional, client, &start, "Deposit paid by bank transfer").await?;
        let Some(payment) = held["payment"]["payment_id"].as_str() else { return Ok(()) };
        let path = format!("{}/payments/{payment}/confirm", self.base);
        self.api
            .expect(Method::POST, &path, &self.token(), Some(&json!({ "payment_method": "pm_card_late" })))
            .await?;
        // A day and an hour later the hold (24 hours) has run out and the transfer arrives.
        self.move_clock(SignedDuration::from_hours(25)).await?;
        atelier_app::jobs::run(atelier_app::jobs::Job::ExpireHolds, self.host.platform())
            .await
            .map_err(|e| LocalError::Config(format!("expiring holds: {e}")))?;
        mock.settle_late();
        self.api.deliver_provider_events(mock).await?;
        self.move_clock(SignedDuration::ZERO).await?;
        Ok(())
    }

    fn token(&self) -> String {
        self.token.borrow().clone()
    }

    /// Moves the clock by `offset` from now and signs the owner in again at that time.
    async fn move_clock(&self, offset: SignedDuration) -> Result<(), DemoError> {
        self.clock.set_offset(offset);
        let owner = self.api.account(OWNER_EMAIL, "Olivia Owner").await?;
        *self.token.borrow_mut() = owner.token;
        Ok(())
    }

    async fn run(
        &self,
        professionals: &[Account],
        services: [&String; 4],
        clients: &[String],
    ) -> Result<(), DemoError> {
        let [haircut, colour, beard, cut_and_beard] = services;
        let mut next_client = clients.iter().cycle();
        let mut client = || next_client.next().map(String::as_str).unwrap_or_default();

        // The past fortnight, booked as it was then.
        self.move_clock(SignedDuration::from_hours(-14 * 24)).await?;
        let mut past = Vec::new();
        for day in (1..=13).rev() {
            let date = self.today.checked_sub(day.days()).unwrap_or(self.today);
            for (i, pro) in professionals.iter().enumerate() {
                let service = if i == 2 { if day % 2 == 0 { beard } else { cut_and_beard } } else { haircut };
                for skip in 0..2 {
                    if let Some(start) = self.slot(service, &pro.id, date, skip).await? {
                        past.push(self.book(service, &pro.id, client(), &start, "").await?);
                    }
                }
            }
        }
        self.move_clock(SignedDuration::ZERO).await?;
        // Most came and are done (earning loyalty points); every seventh did not show.
        for (i, booking) in past.iter().enumerate() {
            let action = if i % 7 == 3 { "no-show" } else { "complete" };
            self.change(booking, action, None).await?;
        }

        // Two of those came in and paid at the desk: by card terminal and in cash.
        for (booking, method) in
            past.iter().filter(|b| b["status"] != "no_show").take(2).zip(["card_terminal", "cash"])
        {
            let path = format!("{}/bookings/{}/payments", self.base, text(&booking["id"]));
            let body = json!({ "method": method, "reference": format!("Desk {method}") });
            self.api.expect(Method::POST, &path, &self.token(), Some(&body)).await?;
        }
        self.late_payment(colour, &professionals[0].id, client()).await?;

        // The coming fortnight.
        let mut upcoming = Vec::new();
        let mut colours = Vec::new();
        for day in 1..=14 {
            let date = self.today.checked_add(day.days()).unwrap_or(self.today);
            for (i, pro) in professionals.iter().enumerate() {
                let service = if i == 2 { beard } else { haircut };
                if let Some(start) = self.slot(service, &pro.id, date, usize::from(day % 2 == 0)).await? {
                    upcoming.push(self.book(service, &pro.id, client(), &start, "").await?);
                }
            }
            // Colour with Rita twice a week: pending until the deposit is paid.
            if day % 4 == 1
                && let Some(start) = self.slot(colour, &professionals[0].id, date, 2).await?
            {
                colours.push(
                    self.book(colour, &professionals[0].id, client(), &start, "Balayage, deposit due")
                        .await?,
                );
            }
        }
        // The first colour's deposit is paid online: the payment confirms it. The second is paid
        // and then called off more than two days ahead: no fee, the deposit is refunded. The
        // others wait for their deposit.
        for (i, held) in colours.iter().take(2).enumerate() {
            let Some(payment) = held["payment"]["payment_id"].as_str() else { continue };
            let path = format!("{}/payments/{payment}/confirm", self.base);
            self.api
                .expect(
                    Method::POST,
                    &path,
                    &self.token(),
                    Some(&json!({ "payment_method": "pm_card_visa" })),
                )
                .await?;
            if i == 1 {
                let body = json!({ "reason": "Client moved the appointment abroad" });
                self.change(held, "cancel", Some(&body)).await?;
            }
        }
        // Two called off: one by the studio, fee waived; one by the client's call, at the policy's fee.
        if let Some(booking) = upcoming.get(1) {
            self.change(
                booking,
                "cancel",
                Some(&json!({ "reason": "Professional unwell", "waive_fee": true })),
            )
            .await?;
        }
        if let Some(booking) = upcoming.get(4) {
            self.change(booking, "cancel", Some(&json!({ "reason": "Client phoned to cancel" }))).await?;
        }

        // A regular: a haircut with Joana every two weeks, four times.
        let start = self.today.checked_add(21.days()).unwrap_or(self.today);
        if let Some(first) = self.slot(haircut, &professionals[1].id, start, 0).await? {
            let series = json!({ "service_id": haircut, "professional_id": professionals[1].id, "client_id": client(),
                                 "start": first, "recurrence": { "every_weeks": 2, "count": 4 }, "mode": "available_only" });
            self.api
                .expect(Method::POST, &format!("{}/bookings/series", self.base), &self.token(), Some(&series))
                .await?;
        }
        // A client with an account waits for a colour slot with Rita next week.
        let bruno = self.api.account(CLIENT_ACCOUNT, CLIENT_NAMES[29]).await?;
        let from = self.today.checked_add(7.days()).unwrap_or(self.today);
        let to = self.today.checked_add(13.days()).unwrap_or(self.today);
        let entry =
            json!({ "service_id": colour, "professional_id": professionals[0].id, "from": from, "to": to });
        self.api.expect(Method::POST, &format!("{}/waitlist", self.base), &bruno.token, Some(&entry)).await?;
        Ok(())
    }
}

/// What to print after seeding: the logins and three requests to try.
pub fn instructions(report: &DemoReport) -> String {
    let studio = &report.studio_id;
    let statuses: Vec<String> = report.by_status.iter().map(|(s, n)| format!("{n} {s}")).collect();
    let mut out = format!(
        "Demo studio `{SLUG}` ({studio}) is ready{}.\nBookings around today: {}.\n{} unread notices in {}'s inbox; {} emails written under the data directory's mail/ (open the .eml files in a mail client).\n{} payments received (deposits online, balances at the desk, one after its hold expired) and {} refunds made (GET /v1/studios/{studio}/ledger as the owner).\n",
        if report.booked { "" } else { " (it was there already; nothing duplicated)" },
        statuses.join(", "),
        report.unread_notices,
        PROFESSIONALS[0].1,
        report.emails_written,
        report.payments_received,
        report.refunds_made,
    );
    out.push_str(&format!(
        "{} products in stock worth {} at cost; {} outflows recorded by completed bookings, {} sale(s); {} product(s) below their minimum (GET /v1/studios/{studio}/products?low=true).\n",
        report.products,
        atelier_domain::money::format_amount(report.stock_value_minor, "EUR"),
        report.service_outflows,
        report.sales,
        report.low_products,
    ));
    out.push_str(&format!(
        "{} projects (GET /v1/studios/{studio}/project-dashboard as the owner); the delivered one made {} after tax.\n",
        report.projects,
        atelier_domain::money::format_amount(report.delivered_profit_minor, "EUR"),
    ));
    out.push_str(&format!(
        "The dashboard counts {} bookings in the same four weeks, {} completed (GET /v1/studios/{studio}/dashboard?period=month as the owner; /reports/professionals for commissions).\n",
        report.dashboard_bookings,
        atelier_domain::money::format_amount(report.dashboard_completed_minor, "EUR"),
    ));
    out.push_str(&format!(
        "An XLSX export of this month's bookings is {} with {} rows: GET /v1/studios/{studio}/exports/{}/download as the owner gives a five-minute link (open it while the server runs).\n",
        report.export_status, report.export_rows, report.export_id,
    ));
    out.push_str(&format!(
        "A CSV import of new clients came to {} (GET /v1/studios/{studio}/imports as the owner, then …/rows?outcome=refused for the bad row).\n",
        report.import_outcomes,
    ));
    out.push_str(&format!(
        "Live updates: the manager's WebSocket (ws://…/v1/live) was told {} as a client booked and cancelled, {} ms after the booking was asked for (docs/realtime.md).\n",
        report.live_events.join(" then "),
        report.live_latency_ms,
    ));
    out.push_str(&format!(
        "Free slots are revalidated by their ETag: asked again with If-None-Match the client's answer was {} before the booking and {} after it (docs/api.md, Free slots and caches).\n",
        report.slots_revalidated[0], report.slots_revalidated[1],
    ));
    out.push_str(&format!(
        "An integration's API key ({}…, scopes bookings:read and catalog:read) read {} bookings and was refused a booking with {} (GET /v1/studios/{studio}/api-keys as the owner; docs/auth.md).\n",
        report.api_key_prefix, report.api_key_reads, report.api_key_write_status,
    ));
    out.push_str(&format!(
        "Sign in with Google: a demo ID token (signed by the demo's own stand-in for Google, verified as Google's would be) {} {GOOGLE_EMAIL} (POST /v1/auth/oidc/google; set ATELIER_OIDC_GOOGLE_CLIENT_IDS for the real one).\n",
        if report.google_sign_in_status == 201 { "made the account of" } else { "signed in" },
    ));
    out.push_str(&format!(
        "Metrics: this run served {} requests, created {} bookings, refused {} and sent {} notices, as GET /metrics on the local server counts them (the Lambda functions write the same names as CloudWatch EMF lines; docs/operations.md).\n",
        report.metrics.requests,
        report.metrics.bookings_created,
        report.metrics.bookings_refused,
        report.metrics.notices_sent,
    ));
    out.push_str(&format!("\nSign in with any of these (password: \"{PASSWORD}\"):\n"));
    out.push_str(&format!("  owner         {OWNER_EMAIL}\n  manager       {MANAGER_EMAIL}\n"));
    for (email, name, _) in PROFESSIONALS {
        out.push_str(&format!("  professional  {email} ({name})\n"));
    }
    out.push_str(&format!("  client        {CLIENT_ACCOUNT} ({})\n", CLIENT_NAMES[29]));
    out.push_str(&format!(
        "\nStart the server (`cargo run -p atelier-local`), then try:\n\
         API=http://127.0.0.1:3000\n\
         curl -s $API/v1/public/slugs/{SLUG}\n\
         TOKEN=$(curl -s -X POST $API/v1/auth/login -H 'content-type: application/json' \\\n  \
           -d '{{\"email\":\"{OWNER_EMAIL}\",\"password\":\"{PASSWORD}\"}}' | jq -r .tokens.access_token)\n\
         curl -s \"$API/v1/studios/{studio}/bookings?from=$(date +%F)&to=$(date -d '+7 days' +%F)\" -H \"authorization: Bearer $TOKEN\"\n\
         # and, signed in as {} the same way, her inbox: curl -s $API/v1/me/notifications -H \"authorization: Bearer $TOKEN\"\n",
        PROFESSIONALS[0].0
    ));
    out
}
