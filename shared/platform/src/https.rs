//! An HTTP(S) client for calling providers (Stripe, identity providers' key sets): hyper with
//! rustls on ring and the system's roots, as the AWS SDK uses. Built lazily by its users: loading
//! the trust store takes milliseconds a cold start should not pay before it needs it.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// A client sending bodies held in memory.
pub type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Largest answer read, in bytes.
pub const MAX_ANSWER_BYTES: usize = 1 << 20;

/// Why a call got no answer.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {reason}")]
pub struct Unanswered {
    /// What was being done.
    pub what: String,
    /// Why it failed.
    pub reason: String,
}

fn tls() -> rustls::ClientConfig {
    static CONFIG: OnceLock<rustls::ClientConfig> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap_or_else(|_| unreachable!("ring supports the default protocol versions"))
                .with_root_certificates(roots)
                .with_no_client_auth()
        })
        .clone()
}

/// A client that connects within `timeout` (HTTPS, and plain HTTP for emulators).
pub fn client(timeout: Duration) -> HttpsClient {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(timeout));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls())
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new()).build(https)
}

/// Sends one request and reads the answer (at most [`MAX_ANSWER_BYTES`]) within `timeout`.
pub async fn exchange(
    client: &HttpsClient,
    request: http::Request<Full<Bytes>>,
    timeout: Duration,
    what: &str,
) -> Result<(u16, Bytes), Unanswered> {
    let failed = |reason: String| Unanswered { what: what.to_owned(), reason };
    let call = async {
        let response = client.request(request).await.map_err(|e| failed(crate::error::chain(&e)))?;
        let status = response.status().as_u16();
        let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|e| failed(e.to_string()))?
            .to_bytes();
        Ok((status, body))
    };
    tokio::time::timeout(timeout, call)
        .await
        .map_err(|_| failed(format!("no answer within {} ms", timeout.as_millis())))?
}
