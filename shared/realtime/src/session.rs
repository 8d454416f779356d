//! A connection's life, as both hosts drive it: open (authenticated by an access token),
//! messages, close. API Gateway calls these from the `realtime` function's `$connect`,
//! `$default` and `$disconnect` routes; the local server from its socket endpoint.

use atelier_platform::access::Authenticator;
use atelier_platform::push::{PushError, Pusher};
use atelier_platform::{AppError, Platform};

use crate::connections::{self, Connection};
use crate::fanout;
use crate::protocol::{ClientMessage, ServerMessage};

/// The subprotocol a browser asks for, next to its token (`new WebSocket(url, ["atelier",
/// "bearer." + token])`): browsers cannot set `Authorization` on a WebSocket.
pub const PROTOCOL: &str = "atelier";
/// Prefix of the subprotocol entry that carries the access token.
pub const TOKEN_PROTOCOL_PREFIX: &str = "bearer.";

/// The access token a connection request carries, and whether the server must answer with
/// the `atelier` subprotocol (it must when the client offered subprotocols).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferedToken {
    /// The access token.
    pub token: String,
    /// Answer `Sec-WebSocket-Protocol: atelier`.
    pub echo_protocol: bool,
}

/// Finds the token: the `access_token` query parameter, or a `bearer.<token>` entry of
/// `Sec-WebSocket-Protocol` (which must also offer `atelier`).
pub fn offered_token(query_token: Option<&str>, protocols: Option<&str>) -> Option<OfferedToken> {
    if let Some(protocols) = protocols {
        let entries: Vec<&str> = protocols.split(',').map(str::trim).collect();
        let token = entries.iter().find_map(|e| e.strip_prefix(TOKEN_PROTOCOL_PREFIX));
        if let Some(token) = token.filter(|t| !t.is_empty())
            && entries.contains(&PROTOCOL)
        {
            return Some(OfferedToken { token: token.to_owned(), echo_protocol: true });
        }
    }
    let offers_ours = protocols.is_some_and(|p| p.split(',').any(|entry| entry.trim() == PROTOCOL));
    query_token
        .filter(|t| !t.is_empty())
        .map(|t| OfferedToken { token: t.to_owned(), echo_protocol: offers_ours })
}

/// Opens a connection for whoever `token` names; refused (401) for a missing, expired or
/// revoked token.
pub async fn open(
    platform: &Platform,
    authenticator: &dyn Authenticator,
    token: Option<&OfferedToken>,
    connection_id: &str,
) -> Result<Connection, AppError> {
    let token = token.ok_or_else(|| {
        AppError::Unauthenticated(
            "send an access token: `?access_token=` or `Sec-WebSocket-Protocol: atelier, bearer.<token>`"
                .into(),
        )
    })?;
    let who = authenticator.authenticate(platform, &token.token, None).await?;
    connections::open(platform, &who, connection_id).await
}

/// Handles one text frame from the client, answering through `pusher`. Fails with
/// `NotFound("connection")` when the connection is not open (closed, or expired).
pub async fn message(
    platform: &Platform,
    pusher: &dyn Pusher,
    connection_id: &str,
    text: &str,
) -> Result<(), AppError> {
    let connection =
        connections::find(platform, connection_id).await?.ok_or(AppError::NotFound("connection"))?;
    // Signed out (or the session revoked) since the connection opened: it ends here.
    let signed_in = !connection.session_id.is_empty()
        && !connections::live_sessions(platform, &[(&connection.user_id, connection.session_id.as_str())])
            .await?
            .is_empty();
    if !signed_in {
        let ended = AppError::Unauthenticated("the session this connection was opened in has ended".into());
        let _ = pusher.post(connection_id, &error_frame(ended).to_text()).await;
        let _ = pusher.close(connection_id).await;
        connections::close(platform, connection_id).await?;
        return Err(AppError::NotFound("connection"));
    }
    let answer = match answer(platform, &connection, text).await {
        Ok(answer) => answer,
        Err(AppError::NotFound("connection")) => return Err(AppError::NotFound("connection")),
        Err(e @ (AppError::StoreUnavailable(_) | AppError::Internal(_) | AppError::Failed { .. })) => {
            // The client hears that something failed (not what); the log has the cause.
            let _ =
                pusher.post(connection_id, &error_frame(AppError::Internal(String::new())).to_text()).await;
            return Err(e);
        }
        Err(refused) => error_frame(refused),
    };
    match pusher.post(connection_id, &answer.to_text()).await {
        Ok(()) => Ok(()),
        Err(PushError::Gone(_)) => connections::close(platform, connection_id).await,
        Err(e) => Err(AppError::failed("answering on the connection", e)),
    }
}

fn error_frame(error: AppError) -> ServerMessage {
    let problem = atelier_http::problem::ApiError(error).problem();
    ServerMessage::Error {
        status: problem.status,
        problem: problem.kind,
        detail: problem.detail.unwrap_or(problem.title),
    }
}

async fn answer(platform: &Platform, connection: &Connection, text: &str) -> Result<ServerMessage, AppError> {
    let message: ClientMessage = serde_json::from_str(text).map_err(|e| {
        AppError::BadRequest(format!(
            "not a message: {e} (send {{\"action\": \"subscribe\" | \"since\" | \"ping\", ...}})"
        ))
    })?;
    Ok(match message {
        ClientMessage::Subscribe { studios, mine } => {
            let now = connections::subscribe(platform, connection, studios, mine).await?;
            ServerMessage::Subscribed { studios: now.studios, mine: now.mine }
        }
        ClientMessage::Since { cursor } => match fanout::since(platform, connection, &cursor).await? {
            Some(changes) => ServerMessage::CaughtUp { changes },
            None => ServerMessage::Resync {
                reason: "more changed than the feed replays, or the cursor is older than a day: refetch"
                    .into(),
            },
        },
        ClientMessage::Ping => ServerMessage::Pong,
    })
}

/// The client or API Gateway closed the connection.
pub async fn close(platform: &Platform, connection_id: &str) -> Result<(), AppError> {
    connections::close(platform, connection_id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_comes_from_the_subprotocol_or_the_query() {
        let offered = offered_token(None, Some("atelier, bearer.abc.def")).expect("token");
        assert_eq!(offered, OfferedToken { token: "abc.def".into(), echo_protocol: true });
        assert_eq!(
            offered_token(Some("q"), None),
            Some(OfferedToken { token: "q".into(), echo_protocol: false })
        );
        assert_eq!(offered_token(None, Some("bearer.abc")), None, "the atelier subprotocol must be offered");
        assert_eq!(offered_token(Some(""), Some("chat")), None);
        let near_miss = offered_token(Some("q"), Some("x-atelier-y")).expect("token");
        assert!(!near_miss.echo_protocol, "only a whole `atelier` entry is answered");
    }
}
