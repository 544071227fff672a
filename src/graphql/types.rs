//! GraphQL object types: users, rooms, messages, connections and auth payloads.

use async_graphql::{
    ComplexObject, Context, ID, Object, Result, SimpleObject, dataloader::DataLoader,
};

use super::{
    loaders::{LastMessageLoader, MemberCountLoader, MembershipLoader, UserLoader},
    scalars::DateTime,
    state,
};
use crate::{
    entities::{message, room, user},
    error::AppError,
    realtime::event::{MessageData, UserData},
};

/// A registered user.
#[derive(Clone, Debug)]
pub struct User(pub user::Model);

#[Object]
impl User {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn username(&self) -> &str {
        &self.0.username
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
}

impl From<UserData> for User {
    fn from(u: UserData) -> Self {
        Self(user::Model {
            id: u.id.parse().unwrap_or_default(),
            username: u.username,
            username_key: String::new(),
            password_hash: String::new(),
            created_at: u.created_at,
        })
    }
}

/// A chat room.
#[derive(Clone, Debug)]
pub struct Room(pub room::Model);

#[Object]
impl Room {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    /// How many users belong to the room.
    async fn member_count(&self, ctx: &Context<'_>) -> Result<i64> {
        let loader = ctx.data_unchecked::<DataLoader<MemberCountLoader>>();
        Ok(loader.load_one(self.0.id).await?.unwrap_or(0))
    }
    /// Whether the viewer belongs to the room.
    async fn is_member(&self, ctx: &Context<'_>) -> Result<bool> {
        let loader = ctx.data_unchecked::<DataLoader<MembershipLoader>>();
        Ok(loader.load_one(self.0.id).await?.unwrap_or(false))
    }
    /// The newest message, if any.
    async fn last_message(&self, ctx: &Context<'_>) -> Result<Option<Message>> {
        let loader = ctx.data_unchecked::<DataLoader<LastMessageLoader>>();
        Ok(loader.load_one(self.0.id).await?.map(Message::new))
    }
    /// Members holding a live subscription now (GraphQL subscriptions or, with
    /// Centrifugo, presence on the room channel).
    async fn online(&self, ctx: &Context<'_>) -> Result<Vec<User>> {
        let state = state(ctx);
        let ids = state.realtime.online(self.0.id).await?;
        let loader = ctx.data_unchecked::<DataLoader<UserLoader>>();
        let mut users: Vec<User> = loader
            .load_many(ids)
            .await?
            .into_values()
            .map(User)
            .collect();
        users.sort_by(|a, b| a.0.username_key.cmp(&b.0.username_key));
        Ok(users)
    }
}

/// A message in a room.
#[derive(Clone, Debug)]
pub struct Message {
    model: message::Model,
    author: Option<user::Model>,
}

impl Message {
    /// A message whose author is loaded on demand.
    pub fn new(model: message::Model) -> Self {
        Self {
            model,
            author: None,
        }
    }
}

impl From<MessageData> for Message {
    fn from(m: MessageData) -> Self {
        let author = User::from(m.author).0;
        Self {
            model: message::Model {
                id: m.id.parse().unwrap_or_default(),
                room_id: m.room_id.parse().unwrap_or_default(),
                author_id: author.id,
                content: m.content,
                client_id: m.client_id,
                created_at: m.created_at,
            },
            author: Some(author),
        }
    }
}

#[Object]
impl Message {
    async fn id(&self) -> ID {
        ID(self.model.id.to_string())
    }
    async fn room_id(&self) -> ID {
        ID(self.model.room_id.to_string())
    }
    async fn author(&self, ctx: &Context<'_>) -> Result<User> {
        if let Some(author) = &self.author {
            return Ok(User(author.clone()));
        }
        let loader = ctx.data_unchecked::<DataLoader<UserLoader>>();
        loader
            .load_one(self.model.author_id)
            .await?
            .map(User)
            .ok_or_else(|| AppError::NotFound("author").into())
    }
    async fn content(&self) -> &str {
        &self.model.content
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.model.created_at)
    }
    /// The sender's idempotency key, as sent.
    async fn client_id(&self) -> Option<&str> {
        self.model.client_id.as_deref()
    }
}

/// Relay page information.
#[derive(SimpleObject, Debug, Default)]
pub struct PageInfo {
    /// More items follow the last one.
    pub has_next_page: bool,
    /// More items precede the first one.
    pub has_previous_page: bool,
    /// Cursor of the first edge.
    pub start_cursor: Option<String>,
    /// Cursor of the last edge.
    pub end_cursor: Option<String>,
}

/// A room and its cursor.
#[derive(SimpleObject)]
pub struct RoomEdge {
    /// Opaque position.
    pub cursor: String,
    /// The room.
    pub node: Room,
}

/// A page of rooms, most recently active first.
#[derive(SimpleObject)]
pub struct RoomConnection {
    /// The rooms.
    pub edges: Vec<RoomEdge>,
    /// Paging.
    pub page_info: PageInfo,
}

/// A message and its cursor.
#[derive(SimpleObject)]
pub struct MessageEdge {
    /// Opaque position.
    pub cursor: String,
    /// The message.
    pub node: Message,
}

/// A page of messages, oldest first within the page.
#[derive(SimpleObject)]
pub struct MessageConnection {
    /// The messages.
    pub edges: Vec<MessageEdge>,
    /// Paging.
    pub page_info: PageInfo,
}

/// Tokens for a signed-in user.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct AuthPayload {
    /// JWT for `Authorization: Bearer …`.
    pub access_token: String,
    /// Single-use token for `refreshToken`.
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    #[graphql(skip)]
    pub user: user::Model,
}

#[ComplexObject]
impl AuthPayload {
    /// The signed-in user.
    async fn user(&self) -> User {
        User(self.user.clone())
    }
}

impl From<crate::services::users::Session> for AuthPayload {
    fn from(s: crate::services::users::Session) -> Self {
        Self {
            access_token: s.access_token,
            refresh_token: s.refresh_token,
            expires_in: s.expires_in,
            user: s.user,
        }
    }
}

/// How this viewer receives events in real time.
#[derive(SimpleObject)]
pub struct RealtimeInfo {
    /// `CENTRIFUGO` or `IN_PROCESS`.
    pub mode: crate::realtime::RealtimeMode,
    /// Centrifugo's WebSocket URL; null in `IN_PROCESS` mode.
    pub centrifugo_url: Option<String>,
    /// A Centrifugo connection JWT; null in `IN_PROCESS` mode.
    pub connection_token: Option<String>,
    /// The viewer's personal channel, e.g. `personal:#42`.
    pub personal_channel: String,
}

/// A Centrifugo channel and the subscription token that opens it.
#[derive(SimpleObject)]
pub struct ChannelToken {
    /// The channel, e.g. `room:7`.
    pub channel: String,
    /// Subscription JWT for that channel.
    pub token: String,
}
