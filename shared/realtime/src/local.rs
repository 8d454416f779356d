//! The local server's live endpoint, `GET /v1/live`: the same protocol as API Gateway's
//! WebSocket API, with pushes going straight to the sockets this process holds, fed by the
//! outbox tap as soon as a change commits (no queue poll in between).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use atelier_http::AppState;
use atelier_http::problem::ApiError;
use atelier_platform::push::{PushError, Pusher};
use atelier_platform::{AppError, Platform};
use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::mpsc;

use crate::session::{self, PROTOCOL};

/// The path of the local live endpoint.
pub const PATH: &str = "/v1/live";

enum Outgoing {
    Text(String),
    Close,
}

/// The sockets this process holds, by connection id: the local [`Pusher`].
#[derive(Default)]
pub struct LocalHub {
    sockets: Mutex<HashMap<String, mpsc::UnboundedSender<Outgoing>>>,
}

impl std::fmt::Debug for LocalHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalHub").field("open", &self.open()).finish()
    }
}

impl LocalHub {
    /// Connections open now.
    pub fn open(&self) -> usize {
        self.sockets.lock().map(|s| s.len()).unwrap_or_default()
    }

    fn send(&self, connection_id: &str, message: Outgoing) -> Result<(), PushError> {
        let sockets = self.sockets.lock().map_err(|_| PushError::Unavailable("hub poisoned".into()))?;
        match sockets.get(connection_id) {
            Some(socket) => socket.send(message).map_err(|_| PushError::Gone(connection_id.to_owned())),
            None => Err(PushError::Gone(connection_id.to_owned())),
        }
    }

    fn insert(&self, connection_id: &str, socket: mpsc::UnboundedSender<Outgoing>) {
        if let Ok(mut sockets) = self.sockets.lock() {
            sockets.insert(connection_id.to_owned(), socket);
        }
    }

    fn remove(&self, connection_id: &str) {
        if let Ok(mut sockets) = self.sockets.lock() {
            sockets.remove(connection_id);
        }
    }
}

#[async_trait]
impl Pusher for LocalHub {
    async fn post(&self, connection_id: &str, message: &str) -> Result<(), PushError> {
        self.send(connection_id, Outgoing::Text(message.to_owned()))
    }

    async fn close(&self, connection_id: &str) -> Result<(), PushError> {
        self.send(connection_id, Outgoing::Close)
    }
}

#[derive(Clone)]
struct Live {
    state: AppState,
    hub: Arc<LocalHub>,
}

/// The live endpoint over `state`, and its hub; installs the outbox tap that feeds it (once
/// per platform: a second call returns a router whose sockets are never fed, and logs it).
pub fn router(state: AppState) -> (Router, Arc<LocalHub>) {
    let hub = Arc::new(LocalHub::default());
    let mut platform = state.platform.clone();
    platform.outbox = platform.outbox.untapped();
    let pusher = hub.clone();
    let tapped = state.platform.outbox.set_tap(Arc::new(move |events| {
        for event in events {
            if !crate::changes::is_pushed(&event) {
                continue;
            }
            let (platform, pusher) = (platform.clone(), pusher.clone());
            tokio::spawn(async move {
                if let Err(e) = crate::fan_out(&platform, pusher.as_ref(), &event).await {
                    tracing::warn!(error = %atelier_platform::error::chain(&e), event_id = %event.id, "live fan-out failed");
                }
            });
        }
    }));
    if !tapped {
        tracing::error!("the outbox already feeds another live endpoint");
    }
    let router = Router::new().route(PATH, get(upgrade)).with_state(Live { state, hub: hub.clone() });
    (router, hub)
}

#[derive(Debug, serde::Deserialize)]
struct LiveQuery {
    #[serde(default)]
    access_token: Option<String>,
}

async fn upgrade(
    State(live): State<Live>,
    Query(query): Query<LiveQuery>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let protocols = headers.get(header::SEC_WEBSOCKET_PROTOCOL).and_then(|v| v.to_str().ok());
    let offered = session::offered_token(query.access_token.as_deref(), protocols);
    let ws = match ws {
        Ok(ws) => ws,
        Err(_) => {
            return ApiError(AppError::BadRequest(
                "this endpoint speaks WebSocket: send an upgrade request".into(),
            ))
            .into_response();
        }
    };
    let platform = live.state.platform.clone();
    let connection_id = platform.ids.new_id();
    let authenticator = match live.state.authenticator() {
        Ok(a) => a,
        Err(e) => return ApiError(e).into_response(),
    };
    let connection = match session::open(&platform, authenticator, offered.as_ref(), &connection_id).await {
        Ok(c) => c,
        Err(e) => return ApiError(e).into_response(),
    };
    let ws = if offered.is_some_and(|o| o.echo_protocol) { ws.protocols([PROTOCOL]) } else { ws };
    let lifetime = connection.expires_at.duration_since(platform.clock.now()).unsigned_abs();
    ws.on_upgrade(move |socket| serve(socket, live, connection_id, lifetime))
}

async fn serve(mut socket: WebSocket, live: Live, id: String, lifetime: std::time::Duration) {
    let platform: &Platform = &live.state.platform;
    let (sender, mut outgoing) = mpsc::unbounded_channel();
    live.hub.insert(&id, sender);
    // As API Gateway does: a connection ends when its records expire.
    let expiry = tokio::time::sleep(lifetime);
    tokio::pin!(expiry);
    loop {
        tokio::select! {
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    match session::message(platform, live.hub.as_ref(), &id, text.as_str()).await {
                        Ok(()) => {}
                        Err(AppError::NotFound("connection")) => break,
                        Err(e) => tracing::warn!(error = %atelier_platform::error::chain(&e), connection = %id, "live message failed"),
                    }
                }
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            out = outgoing.recv() => match out {
                Some(Outgoing::Text(text)) => {
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                Some(Outgoing::Close) | None => {
                    let _ = socket.send(Message::Close(None)).await;
                    break;
                }
            },
            () = &mut expiry => {
                let _ = socket.send(Message::Close(None)).await;
                break;
            }
        }
    }
    // What was answered just before the end (a session that ended says so) still goes out.
    while let Ok(Outgoing::Text(text)) = outgoing.try_recv() {
        if socket.send(Message::Text(text.into())).await.is_err() {
            break;
        }
    }
    let _ = socket.send(Message::Close(None)).await;
    if let Err(e) = session::close(platform, &id).await {
        tracing::warn!(error = %atelier_platform::error::chain(&e), connection = %id, "closing a live connection failed");
    }
    // Last: a host waiting for its sockets to close finds them done.
    live.hub.remove(&id);
}
