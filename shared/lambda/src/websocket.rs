//! The WebSocket API's routes on Lambda: API Gateway's events in, the realtime session's
//! answers out (a status for `$connect`: anything but 2xx refuses the connection).

use async_trait::async_trait;
use atelier_http::problem::ApiError;
use atelier_platform::access::Authenticator;
use atelier_platform::push::{PushError, Pusher};
use atelier_platform::{AppError, Platform};
use atelier_realtime::session;
use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;

/// Stands in when no `ATELIER_WEBSOCKET_ENDPOINT` is configured: answers cannot be sent.
struct NoEndpoint;

#[async_trait]
impl Pusher for NoEndpoint {
    async fn post(&self, _: &str, _: &str) -> Result<(), PushError> {
        Err(PushError::Unavailable("ATELIER_WEBSOCKET_ENDPOINT is not set".into()))
    }

    async fn close(&self, _: &str) -> Result<(), PushError> {
        Err(PushError::Unavailable("ATELIER_WEBSOCKET_ENDPOINT is not set".into()))
    }
}

fn response(status: u16, body: Option<String>) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = i64::from(status);
    response.body = body.map(Body::Text);
    response
}

fn refused(error: AppError) -> ApiGatewayProxyResponse {
    let problem = ApiError(error).problem();
    if problem.status >= 500 {
        tracing::error!(detail = ?problem.detail, "live route failed");
    }
    response(problem.status, serde_json::to_string(&problem).ok())
}

/// Handles one route event.
pub async fn route(
    platform: &Platform,
    authenticator: &dyn Authenticator,
    event: ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    let context = &event.request_context;
    let Some(connection_id) = context.connection_id.as_deref() else {
        return refused(AppError::BadRequest("not a WebSocket event: no connection id".into()));
    };
    match context.route_key.as_deref() {
        Some("$connect") => {
            let protocols = event.headers.get("sec-websocket-protocol").and_then(|v| v.to_str().ok());
            let query_token = event.query_string_parameters.first("access_token");
            let offered = session::offered_token(query_token, protocols);
            match session::open(platform, authenticator, offered.as_ref(), connection_id).await {
                Ok(_) => {
                    let mut ok = response(200, None);
                    if offered.is_some_and(|o| o.echo_protocol) {
                        ok.headers.insert(
                            "sec-websocket-protocol",
                            axum::http::HeaderValue::from_static(session::PROTOCOL),
                        );
                    }
                    ok
                }
                Err(e) => refused(e),
            }
        }
        Some("$disconnect") => match session::close(platform, connection_id).await {
            Ok(()) => response(200, None),
            Err(e) => refused(e),
        },
        Some(_) => {
            let pusher: &dyn Pusher = match &platform.push {
                Some(pusher) => pusher.as_ref(),
                None => &NoEndpoint,
            };
            let text = event.body.as_deref().unwrap_or_default();
            match session::message(platform, pusher, connection_id, text).await {
                Ok(()) => response(200, None),
                // The connection is not (or no longer) recorded: tell API Gateway it is gone.
                Err(AppError::NotFound("connection")) => response(410, None),
                Err(e) => refused(e),
            }
        }
        None => refused(AppError::BadRequest("not a WebSocket event: no route key".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_files_are_websocket_events() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events");
        for name in [
            "ws-connect-unauthenticated.json",
            "ws-connect.json",
            "ws-default-ping.json",
            "ws-default-unknown-connection.json",
            "ws-disconnect.json",
        ] {
            let text = std::fs::read_to_string(format!("{dir}/{name}")).expect("event file");
            let event: ApiGatewayWebsocketProxyRequest = serde_json::from_str(&text).expect(name);
            assert!(event.request_context.connection_id.is_some(), "{name}");
            assert!(event.request_context.route_key.is_some(), "{name}");
        }
    }
}
