//! Mutations.

use async_graphql::{Context, ID, Object, Result};

use super::{
    cursor, state,
    types::{AuthPayload, Message, Room},
    viewer,
};
use crate::{
    error::AppError,
    realtime::event::{RoomEvent, UserData},
    services::{messages, rooms, users},
};

/// The root mutation type.
pub struct Mutation;

#[Object]
impl Mutation {
    /// Creates an account and signs it in.
    async fn register(
        &self,
        ctx: &Context<'_>,
        username: String,
        #[graphql(secret)] password: String,
    ) -> Result<AuthPayload> {
        let s = state(ctx);
        Ok(users::register(&s.db, &s.auth, &username, &password)
            .await?
            .into())
    }

    /// Signs in with a username and password.
    async fn login(
        &self,
        ctx: &Context<'_>,
        username: String,
        #[graphql(secret)] password: String,
    ) -> Result<AuthPayload> {
        let s = state(ctx);
        Ok(users::login(&s.db, &s.auth, &username, &password)
            .await?
            .into())
    }

    /// Exchanges a refresh token (single use) for a new token pair.
    async fn refresh_token(
        &self,
        ctx: &Context<'_>,
        #[graphql(secret)] refresh_token: String,
    ) -> Result<AuthPayload> {
        let s = state(ctx);
        Ok(users::refresh(&s.db, &s.auth, &refresh_token).await?.into())
    }

    /// Creates a room; the creator becomes a member.
    async fn create_room(&self, ctx: &Context<'_>, name: String) -> Result<Room> {
        let viewer = viewer(ctx)?;
        Ok(Room(rooms::create(&state(ctx).db, viewer, &name).await?))
    }

    /// Joins a room; joining twice is a no-op.
    async fn join_room(&self, ctx: &Context<'_>, room_id: ID) -> Result<Room> {
        let viewer = viewer(ctx)?;
        let room_id = cursor::parse_id(&room_id, "roomId")?;
        Ok(Room(rooms::join(&state(ctx).db, viewer, room_id).await?))
    }

    /// Leaves a room; leaving a room one is not in is a no-op.
    async fn leave_room(&self, ctx: &Context<'_>, room_id: ID) -> Result<Room> {
        let viewer = viewer(ctx)?;
        let room_id = cursor::parse_id(&room_id, "roomId")?;
        Ok(Room(rooms::leave(&state(ctx).db, viewer, room_id).await?))
    }

    /// Posts a message. With `clientId`, retries return the first message.
    async fn send_message(
        &self,
        ctx: &Context<'_>,
        room_id: ID,
        content: String,
        client_id: Option<String>,
    ) -> Result<Message> {
        let viewer = viewer(ctx)?;
        let room_id = cursor::parse_id(&room_id, "roomId")?;
        let m = messages::send(
            &state(ctx).db,
            viewer,
            room_id,
            &content,
            client_id.as_deref(),
        )
        .await?;
        Ok(Message::new(m))
    }

    /// Tells the room the viewer is typing. Returns false when suppressed because the
    /// viewer already typed in this room less than a second ago.
    async fn send_typing(&self, ctx: &Context<'_>, room_id: ID) -> Result<bool> {
        let viewer = viewer(ctx)?;
        let room_id = cursor::parse_id(&room_id, "roomId")?;
        let s = state(ctx);
        rooms::require_member(&s.db, viewer, room_id).await?;
        let user = users::by_id(&s.db, viewer)
            .await?
            .ok_or(AppError::Unauthenticated(
                "the signed-in user no longer exists",
            ))?;
        let event = RoomEvent::Typing {
            room_id: room_id.to_string(),
            user: UserData::from(&user),
        };
        Ok(s.realtime.publish_typing(viewer, event).await)
    }
}
