//! Lambda function for the `auth` endpoint group: accounts, sessions, the caller's profile.

use atelier_core::auth::AuthSettings;
use atelier_http::logging::{self, LogFormat};
use atelier_http::{AppState, Group, HttpConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    logging::init(LogFormat::Json);
    let platform = atelier_aws::platform_from_env().await?;
    let state = AppState::new(platform, HttpConfig::from_env()?).with_auth(AuthSettings::from_env()?);
    lambda_http::run(atelier_http::router(state, &[Group::Auth])).await
}
