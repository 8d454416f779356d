//! Lambda function behind the WebSocket API: opens, answers and closes live connections.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    atelier_lambda::serve_websocket().await
}
