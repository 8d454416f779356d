//! The messages of a live connection, as JSON text frames. The client sends an `action`;
//! the server answers with a `type`. Identical on API Gateway and on the local server.

use atelier_domain::ids::StudioId;
use serde::{Deserialize, Serialize};

use crate::Change;

/// Most studios one connection follows.
pub const MAX_STUDIOS: usize = 20;
/// Most changes a `since` answer carries; past it the client is told to refetch.
pub const MAX_CATCH_UP: usize = 100;

/// What a client sends.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    /// Follow these studios (as their staff) and/or the caller's own bookings; replaces what
    /// the connection followed before.
    Subscribe {
        /// Studios the caller is a member of.
        #[serde(default)]
        studios: Vec<StudioId>,
        /// The caller's own bookings, at any studio.
        #[serde(default)]
        mine: bool,
    },
    /// The changes after `cursor` (the last one received before a reconnect).
    Since {
        /// A change's cursor.
        cursor: String,
    },
    /// Keeps the connection alive (API Gateway closes one idle for ten minutes).
    Ping,
}

/// What the server sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// The subscription now in force.
    Subscribed {
        /// Studios followed.
        studios: Vec<StudioId>,
        /// Own bookings followed.
        mine: bool,
    },
    /// Something the connection follows changed.
    Changed(Change),
    /// The changes after a cursor, oldest first.
    CaughtUp {
        /// The changes.
        changes: Vec<Change>,
    },
    /// Too much changed, or the cursor is older than the feed keeps: refetch everything.
    Resync {
        /// Why.
        reason: String,
    },
    /// Answer to `ping`.
    Pong,
    /// A message was refused; the connection stays open and its subscription unchanged.
    Error {
        /// The HTTP status the same mistake gets from the API.
        status: u16,
        /// The problem type slug (as in `docs/api.md`).
        problem: String,
        /// What was wrong.
        detail: String,
    },
}

impl ServerMessage {
    /// The frame's text.
    pub fn to_text(&self) -> String {
        // A closed set of plain types: serializing cannot fail.
        serde_json::to_string(self).unwrap_or_else(|_| r#"{"type":"error","status":500}"#.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_and_write_as_documented() {
        let subscribe: ClientMessage =
            serde_json::from_str(r#"{"action":"subscribe","studios":["s1"],"mine":true}"#).expect("reads");
        assert_eq!(subscribe, ClientMessage::Subscribe { studios: vec![StudioId::new("s1")], mine: true });
        assert!(serde_json::from_str::<ClientMessage>(r#"{"action":"subscribe","extra":1}"#).is_err());
        assert!(serde_json::from_str::<ClientMessage>(r#"{"action":"drop_table"}"#).is_err());
        assert_eq!(ServerMessage::Pong.to_text(), r#"{"type":"pong"}"#);
    }
}
