//! Room events: what subscribers receive, and the exact JSON published to Centrifugo.
//!
//! The JSON of an event is the `roomEvents` subscription's answer for it with every field
//! selected, plus `__typename` (see the public contract).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::entities::{message, user};

/// A user as events carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserData {
    /// User id.
    pub id: String,
    /// Username.
    pub username: String,
    /// Registration time.
    pub created_at: DateTime<Utc>,
}

impl From<&user::Model> for UserData {
    fn from(u: &user::Model) -> Self {
        Self {
            id: u.id.to_string(),
            username: u.username.clone(),
            created_at: u.created_at,
        }
    }
}

/// A message as events carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageData {
    /// Message id.
    pub id: String,
    /// Room id.
    pub room_id: String,
    /// Who wrote it.
    pub author: UserData,
    /// The text.
    pub content: String,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
    /// The sender's idempotency key.
    pub client_id: Option<String>,
}

impl MessageData {
    /// The event form of a stored message.
    pub fn new(m: &message::Model, author: &user::Model) -> Self {
        Self {
            id: m.id.to_string(),
            room_id: m.room_id.to_string(),
            author: author.into(),
            content: m.content.clone(),
            created_at: m.created_at,
            client_id: m.client_id.clone(),
        }
    }
}

/// Something that happened in a room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "__typename", rename_all_fields = "camelCase")]
pub enum RoomEvent {
    /// A message was posted.
    MessageAdded {
        /// Room id.
        room_id: String,
        /// The message.
        message: MessageData,
    },
    /// A user joined (also the creator of a new room).
    MemberJoined {
        /// Room id.
        room_id: String,
        /// Who joined.
        user: UserData,
        /// Members after the join.
        member_count: i64,
    },
    /// A user left.
    MemberLeft {
        /// Room id.
        room_id: String,
        /// Who left.
        user: UserData,
        /// Members after the leave.
        member_count: i64,
    },
    /// A user is typing; never stored.
    Typing {
        /// Room id.
        room_id: String,
        /// Who is typing.
        user: UserData,
    },
}

impl RoomEvent {
    /// The room the event belongs to.
    pub fn room_id(&self) -> i64 {
        let id = match self {
            Self::MessageAdded { room_id, .. }
            | Self::MemberJoined { room_id, .. }
            | Self::MemberLeft { room_id, .. }
            | Self::Typing { room_id, .. } => room_id,
        };
        id.parse().unwrap_or_default()
    }

    /// The message id, for a `MessageAdded`.
    pub fn message_id(&self) -> Option<i64> {
        match self {
            Self::MessageAdded { message, .. } => message.id.parse().ok(),
            _ => None,
        }
    }

    /// The user a membership event is about.
    pub fn member_change(&self) -> Option<(i64, bool)> {
        match self {
            Self::MemberJoined { user, .. } => Some((user.id.parse().ok()?, true)),
            Self::MemberLeft { user, .. } => Some((user.id.parse().ok()?, false)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_matches_the_contract() {
        let at = DateTime::parse_from_rfc3339("2026-12-04T19:00:00Z")
            .unwrap()
            .to_utc();
        let ev = RoomEvent::MessageAdded {
            room_id: "7".into(),
            message: MessageData {
                id: "123".into(),
                room_id: "7".into(),
                author: UserData {
                    id: "42".into(),
                    username: "alice".into(),
                    created_at: at,
                },
                content: "hi".into(),
                created_at: at,
                client_id: Some("c-1".into()),
            },
        };
        let json = serde_json::to_value(&ev).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"__typename":"MessageAdded","roomId":"7","message":{"id":"123","roomId":"7",
                "author":{"id":"42","username":"alice","createdAt":"2026-12-04T19:00:00Z"},"content":"hi",
                "createdAt":"2026-12-04T19:00:00Z","clientId":"c-1"}})
        );
        let back: RoomEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, ev);
        assert_eq!(back.room_id(), 7);
        assert_eq!(back.message_id(), Some(123));
    }
}
