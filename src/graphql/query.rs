//! Queries.

use async_graphql::{Context, ID, Object, Result};

use super::{
    cursor, state,
    types::{
        ChannelToken, Message, MessageConnection, MessageEdge, PageInfo, RealtimeInfo, Room,
        RoomConnection, RoomEdge, User,
    },
    viewer,
};
use crate::{
    error::AppError,
    services::{messages, rooms, users},
};

/// The root query type.
pub struct Query;

#[Object]
impl Query {
    /// The signed-in user.
    async fn me(&self, ctx: &Context<'_>) -> Result<User> {
        let viewer = viewer(ctx)?;
        users::by_id(&state(ctx).db, viewer)
            .await?
            .map(User)
            .ok_or_else(|| AppError::Unauthenticated("the signed-in user no longer exists").into())
    }

    /// Rooms, most recently active first.
    async fn rooms(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
        search: Option<String>,
        #[graphql(default_with = "Some(false)")] member_only: Option<bool>,
    ) -> Result<RoomConnection> {
        let viewer = viewer(ctx)?;
        let q = rooms::RoomQuery {
            first: cursor::page_size(first.unwrap_or(20), "first")?,
            after: after
                .as_deref()
                .map(|c| cursor::parse_room(c, "after"))
                .transpose()?,
            search,
            member_only: member_only.unwrap_or(false),
        };
        let (rows, more) = rooms::list(&state(ctx).db, viewer, &q).await?;
        let edges: Vec<RoomEdge> = rows
            .into_iter()
            .map(|r| RoomEdge {
                cursor: cursor::room(r.activity_at, r.id),
                node: Room(r.into()),
            })
            .collect();
        Ok(RoomConnection {
            page_info: PageInfo {
                has_next_page: more,
                has_previous_page: q.after.is_some(),
                start_cursor: edges.first().map(|e| e.cursor.clone()),
                end_cursor: edges.last().map(|e| e.cursor.clone()),
            },
            edges,
        })
    }

    /// One room by id; null when there is none.
    async fn room(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Room>> {
        viewer(ctx)?;
        let id = cursor::parse_id(&id, "id")?;
        Ok(rooms::get(&state(ctx).db, id).await?.map(Room))
    }

    /// The newest `last` messages before `before`, oldest first within the page. Members only.
    async fn messages(
        &self,
        ctx: &Context<'_>,
        room_id: ID,
        #[graphql(default_with = "Some(50)")] last: Option<i32>,
        before: Option<String>,
    ) -> Result<MessageConnection> {
        let viewer = viewer(ctx)?;
        let room_id = cursor::parse_id(&room_id, "roomId")?;
        let last = cursor::page_size(last.unwrap_or(50), "last")?;
        let before = before
            .as_deref()
            .map(|c| cursor::parse_message(c, "before"))
            .transpose()?;
        let db = &state(ctx).db;
        rooms::require_member(db, viewer, room_id).await?;
        let (rows, more) = messages::page(db, room_id, last, before).await?;
        let edges: Vec<MessageEdge> = rows
            .into_iter()
            .map(|m| MessageEdge {
                cursor: cursor::message(m.id),
                node: Message::new(m),
            })
            .collect();
        Ok(MessageConnection {
            page_info: PageInfo {
                has_previous_page: more,
                has_next_page: before.is_some(),
                start_cursor: edges.first().map(|e| e.cursor.clone()),
                end_cursor: edges.last().map(|e| e.cursor.clone()),
            },
            edges,
        })
    }

    /// How to receive events in real time: the mode, and with Centrifugo the URL and a
    /// connection token for it.
    async fn realtime(&self, ctx: &Context<'_>) -> Result<RealtimeInfo> {
        let viewer = viewer(ctx)?;
        let access = state(ctx).realtime.client_access(viewer)?;
        Ok(RealtimeInfo {
            mode: access.mode,
            centrifugo_url: access.ws_url,
            connection_token: access.connection_token,
            personal_channel: access.personal_channel,
        })
    }

    /// A subscription token for the room's Centrifugo channel `room:<id>`. Members only.
    async fn room_channel_token(&self, ctx: &Context<'_>, room_id: ID) -> Result<ChannelToken> {
        let viewer = viewer(ctx)?;
        let room_id = cursor::parse_id(&room_id, "roomId")?;
        let (channel, token) = state(ctx).realtime.room_token(viewer, room_id).await?;
        Ok(ChannelToken { channel, token })
    }
}
