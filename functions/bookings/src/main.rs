//! Lambda function for the `bookings` endpoint group: free slots, bookings, waitlist, loyalty, calendar feeds.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    atelier_lambda::serve_http(&[atelier_app::Group::Bookings]).await
}
