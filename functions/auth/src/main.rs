//! Lambda function for the `auth` endpoint group: accounts, sessions, the caller's profile.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    atelier_lambda::serve_http(&[atelier_app::Group::Auth]).await
}
