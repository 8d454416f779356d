//! Pushes to WebSocket connections through API Gateway's management API
//! (`POST /@connections/{id}` on the stage's `https://{api}.execute-api.{region}.amazonaws.com/{stage}`
//! endpoint, `ATELIER_WEBSOCKET_ENDPOINT`). `410 Gone` means the client has left.

use async_trait::async_trait;
use atelier_platform::push::{PushError, Pusher};
use aws_sdk_apigatewaymanagement::config::http::HttpResponse;
use aws_sdk_apigatewaymanagement::error::SdkError;
use aws_sdk_apigatewaymanagement::primitives::Blob;

/// The management API of one WebSocket API stage.
#[derive(Debug, Clone)]
pub struct ApiGatewayPusher {
    client: aws_sdk_apigatewaymanagement::Client,
}

impl ApiGatewayPusher {
    /// A pusher for the stage at `endpoint`.
    pub fn new(config: &aws_config::SdkConfig, endpoint: &str) -> ApiGatewayPusher {
        let conf = aws_sdk_apigatewaymanagement::config::Builder::from(config).endpoint_url(endpoint).build();
        ApiGatewayPusher { client: aws_sdk_apigatewaymanagement::Client::from_conf(conf) }
    }

    /// From `ATELIER_WEBSOCKET_ENDPOINT`, when a WebSocket API is deployed.
    pub fn from_env(config: &aws_config::SdkConfig) -> Option<ApiGatewayPusher> {
        std::env::var("ATELIER_WEBSOCKET_ENDPOINT")
            .ok()
            .filter(|e| !e.is_empty())
            .map(|endpoint| ApiGatewayPusher::new(config, &endpoint))
    }
}

/// `410 Gone` (whether or not the body names `GoneException`) means the client has left.
fn push_error<E>(connection_id: &str, e: SdkError<E, HttpResponse>) -> PushError
where
    E: std::error::Error + Send + Sync + 'static,
{
    if e.raw_response().is_some_and(|r| r.status().as_u16() == 410) {
        return PushError::Gone(connection_id.to_owned());
    }
    PushError::Unavailable(atelier_platform::error::chain(&e))
}

#[async_trait]
impl Pusher for ApiGatewayPusher {
    async fn post(&self, connection_id: &str, message: &str) -> Result<(), PushError> {
        self.client
            .post_to_connection()
            .connection_id(connection_id)
            .data(Blob::new(message.as_bytes()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| push_error(connection_id, e))
    }

    async fn close(&self, connection_id: &str) -> Result<(), PushError> {
        self.client
            .delete_connection()
            .connection_id(connection_id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| push_error(connection_id, e))
    }
}
