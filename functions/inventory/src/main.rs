//! Lambda function for the `inventory` endpoint group: the product catalogue and suppliers, stock movements, valuation, what services use, and sales.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    atelier_lambda::serve_http(&[atelier_app::Group::Inventory]).await
}
