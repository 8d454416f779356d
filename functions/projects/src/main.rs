//! Lambda function for the `projects` endpoint group: projects with items, crew, expenses and totals, and the studio's project dashboard.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    atelier_lambda::serve_http(&[atelier_app::Group::Projects]).await
}
