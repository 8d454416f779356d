//! Lambda function for the `notifications` endpoint group: the signed-in user's inbox.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    atelier_lambda::serve_http(&[atelier_app::Group::Notifications]).await
}
