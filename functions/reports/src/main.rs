//! Lambda function for the `reports` endpoint group: the studio dashboard, reports, the platform report, export jobs and their download links.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    atelier_lambda::serve_http(&[atelier_app::Group::Reports]).await
}
