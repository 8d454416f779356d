//! Lambda function for the `studios` endpoint group: studios, team, catalog, availability, policies, clients, public catalog.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    atelier_lambda::serve_http(&[atelier_app::Group::Studios]).await
}
