//! Lambda function for the `payments` endpoint group: checkout, payments in person, refunds, the ledger, receipts, drifts, and the provider's webhook.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    atelier_lambda::serve_http(&[atelier_app::Group::Payments]).await
}
