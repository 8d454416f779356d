//! A stand-in for Google's and Apple's key endpoints: RSA keys generated in the test process,
//! published as a JWKS on a loopback port (its own thread and runtime, so it outlives any one
//! test), and ID tokens signed with them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};

/// Google's client id in the tests' settings.
pub const GOOGLE_CLIENT_ID: &str = "atelier-web.apps.googleusercontent.com";
/// Apple's.
pub const APPLE_CLIENT_ID: &str = "test.atelier.web";

/// The identity provider.
pub struct TestIdp {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    published: Mutex<Vec<Value>>,
    signing: Mutex<Vec<(String, EncodingKey)>>,
    fetches: AtomicUsize,
}

impl std::fmt::Debug for TestIdp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestIdp").field("url", &self.url).finish_non_exhaustive()
    }
}

/// The process's identity provider, started on first use.
pub fn test_idp() -> Arc<TestIdp> {
    static IDP: OnceLock<Arc<TestIdp>> = OnceLock::new();
    IDP.get_or_init(|| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let idp = Arc::new(TestIdp {
            url,
            published: Mutex::new(Vec::new()),
            signing: Mutex::new(Vec::new()),
            fetches: AtomicUsize::new(0),
        });
        let served = idp.clone();
        std::thread::spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let jwks = move || {
                    let idp = served.clone();
                    async move {
                        idp.fetches.fetch_add(1, Ordering::SeqCst);
                        let keys = idp.published.lock().expect("keys").clone();
                        axum::Json(json!({ "keys": keys }))
                    }
                };
                let router = axum::Router::new().route("/{provider}/jwks", axum::routing::get(jwks));
                axum::serve(listener, router).await.expect("serves");
            });
        });
        idp
    })
    .clone()
}

impl TestIdp {
    /// Where a provider's keys are (`google`, `apple`).
    pub fn jwks_url(&self, provider: &str) -> String {
        format!("{}/{provider}/jwks", self.url)
    }

    /// Key sets served so far.
    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    /// A new RSA key: published if `publish`, always usable to sign. Returns its `kid`.
    pub fn new_key(&self, publish: bool) -> String {
        let private = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("RSA key");
        let kid = format!("kid-{}", ulid::Ulid::generate());
        let der = private.to_pkcs1_der().expect("DER");
        self.signing.lock().expect("keys").push((kid.clone(), EncodingKey::from_rsa_der(der.as_bytes())));
        if publish {
            let public = private.to_public_key();
            self.published.lock().expect("keys").push(json!({
                "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
                "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
                "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
            }));
        }
        kid
    }

    /// The first published key's id (made on first use).
    pub fn default_kid(&self) -> String {
        static KID: OnceLock<String> = OnceLock::new();
        KID.get_or_init(|| self.new_key(true)).clone()
    }

    /// `claims` signed RS256 with key `kid`.
    pub fn sign(&self, kid: &str, claims: &Value) -> String {
        let signing = self.signing.lock().expect("keys");
        let key = &signing.iter().find(|(k, _)| k == kid).expect("a key of ours").1;
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, key).expect("signed")
    }
}

/// Google's claims for `sub` and `email` at `now`, valid an hour, for our client id.
pub fn google_claims(sub: &str, email: &str, now: jiff::Timestamp) -> Value {
    json!({
        "iss": "https://accounts.google.com", "aud": GOOGLE_CLIENT_ID, "sub": sub,
        "email": email, "email_verified": true, "name": "Gina Google",
        "iat": now.as_second(), "exp": now.as_second() + 3600,
    })
}
