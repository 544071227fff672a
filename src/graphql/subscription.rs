//! Subscriptions: a room's events (with replay) and all of the viewer's rooms.

use std::collections::HashMap;

use async_graphql::{
    Context, ErrorExtensions, ID, Result, SimpleObject, Subscription as GqlSubscription, Union,
};
use futures_util::{FutureExt, Stream, StreamExt};
use tokio::sync::broadcast::error::RecvError;
use tokio_stream::{
    StreamMap,
    wrappers::{BroadcastStream, errors::BroadcastStreamRecvError},
};

use super::{
    cursor, state,
    types::{Message, User},
    viewer,
};
use crate::{
    app::AppState,
    error::AppError,
    realtime::event::{MessageData, RoomEvent},
    realtime::hub::Item,
    services::{messages, rooms, users},
};

/// A message was posted.
#[derive(SimpleObject)]
#[graphql(name = "MessageAdded")]
pub struct MessageAddedEvent {
    /// Room id.
    pub room_id: ID,
    /// The message.
    pub message: Message,
}

/// A user joined a room.
#[derive(SimpleObject)]
#[graphql(name = "MemberJoined")]
pub struct MemberJoinedEvent {
    /// Room id.
    pub room_id: ID,
    /// Who joined.
    pub user: User,
    /// Members after the join.
    pub member_count: i64,
}

/// A user left a room.
#[derive(SimpleObject)]
#[graphql(name = "MemberLeft")]
pub struct MemberLeftEvent {
    /// Room id.
    pub room_id: ID,
    /// Who left.
    pub user: User,
    /// Members after the leave.
    pub member_count: i64,
}

/// A user is typing.
#[derive(SimpleObject)]
#[graphql(name = "Typing")]
pub struct TypingEvent {
    /// Room id.
    pub room_id: ID,
    /// Who is typing.
    pub user: User,
}

/// Something that happened in a room.
#[derive(Union)]
#[graphql(name = "RoomEvent")]
pub enum RoomEventUnion {
    /// A message was posted.
    MessageAdded(MessageAddedEvent),
    /// A user joined.
    MemberJoined(MemberJoinedEvent),
    /// A user left.
    MemberLeft(MemberLeftEvent),
    /// A user is typing.
    Typing(TypingEvent),
}

impl From<RoomEvent> for RoomEventUnion {
    fn from(e: RoomEvent) -> Self {
        match e {
            RoomEvent::MessageAdded { room_id, message } => Self::MessageAdded(MessageAddedEvent {
                room_id: ID(room_id),
                message: message.into(),
            }),
            RoomEvent::MemberJoined {
                room_id,
                user,
                member_count,
            } => Self::MemberJoined(MemberJoinedEvent {
                room_id: ID(room_id),
                user: user.into(),
                member_count,
            }),
            RoomEvent::MemberLeft {
                room_id,
                user,
                member_count,
            } => Self::MemberLeft(MemberLeftEvent {
                room_id: ID(room_id),
                user: user.into(),
                member_count,
            }),
            RoomEvent::Typing { room_id, user } => Self::Typing(TypingEvent {
                room_id: ID(room_id),
                user: user.into(),
            }),
        }
    }
}

/// Messages replayed per database round.
const REPLAY_PAGE: u64 = 500;

fn lagged(skipped: u64) -> async_graphql::Error {
    async_graphql::Error::new(format!(
        "subscriber fell behind by {skipped} events; resubscribe with `after` set to the last message id received"
    ))
    .extend_with(|_, e| e.set("code", "SUBSCRIBER_LAGGED"))
}

/// The root subscription type.
pub struct Subscription;

#[GqlSubscription]
impl Subscription {
    /// A room's events. Members only. With `after` (a message id), first replays the
    /// room's messages newer than it, then continues live with no gap and no duplicate.
    async fn room_events(
        &self,
        ctx: &Context<'_>,
        room_id: ID,
        after: Option<ID>,
    ) -> Result<impl Stream<Item = Result<RoomEventUnion>> + use<>> {
        let viewer = viewer(ctx)?;
        let room_id = cursor::parse_id(&room_id, "roomId")?;
        // `after: "0"` replays the room from its first message.
        let after = after
            .map(|a| match a.as_str() {
                "0" => Ok(0),
                _ => cursor::parse_id(&a, "after"),
            })
            .transpose()?;
        let state = state(ctx).clone();
        rooms::require_member(&state.db, viewer, room_id).await?;
        // Live first, then the database: whatever commits in between is seen twice at
        // most, and the id check below drops the second copy.
        let mut live = state.realtime.hub.subscribe_room(room_id);
        let presence = state.realtime.presence.enter_room(room_id, viewer);
        let live_gauge = crate::metrics::GaugeGuard::new(crate::metrics::SUBSCRIPTIONS);
        Ok(async_stream::stream! {
            let _presence = presence;
            let _live = live_gauge;
            let mut seen = after.unwrap_or(i64::MAX);
            if let Some(mut from) = after {
                loop {
                    let page = match replay_page(&state, room_id, from).await {
                        Ok(page) => page,
                        Err(e) => {
                            yield Err(e.into());
                            return;
                        }
                    };
                    let done = (page.len() as u64) < REPLAY_PAGE;
                    for event in page {
                        if let Some(id) = event.message_id() {
                            from = id;
                            seen = id;
                        }
                        yield Ok(event.into());
                    }
                    if done {
                        break;
                    }
                }
            }
            loop {
                match live.recv().await {
                    Ok(item) => {
                        if item.event.message_id().is_some_and(|id| after.is_some() && id <= seen) {
                            continue;
                        }
                        let left = item.event.member_change() == Some((viewer, false));
                        yield Ok(item.event.clone().into());
                        if left {
                            break;
                        }
                    }
                    Err(RecvError::Lagged(n)) => {
                        state.realtime.hub.record_lag();
                        yield Err(lagged(n));
                        break;
                    }
                    Err(RecvError::Closed) => {
                        // The transport lost events (the hub dropped the room's ring).
                        yield Err(lagged(0));
                        break;
                    }
                }
            }
        })
    }

    /// Events of every room the viewer belongs to, including rooms joined later.
    async fn my_events(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = Result<RoomEventUnion>> + use<>> {
        let viewer = viewer(ctx)?;
        let state = state(ctx).clone();
        let hub = state.realtime.hub.clone();
        // Membership changes first, so a join racing with the start is not missed.
        let mut mine = hub.subscribe_user(viewer);
        let mut rooms_live = StreamMap::new();
        for room_id in rooms::room_ids_of(&state.db, viewer).await? {
            rooms_live.insert(room_id, room_feed(hub.subscribe_room(room_id)));
        }
        let presence = state.realtime.presence.enter_all(viewer);
        let live_gauge = crate::metrics::GaugeGuard::new(crate::metrics::SUBSCRIPTIONS);
        Ok(async_stream::stream! {
            let _presence = presence;
            let _live = live_gauge;
            loop {
                tokio::select! {
                    own = mine.recv() => match own {
                        // The user's own joins and leaves come from here alone.
                        Ok(item) => match item.event.member_change() {
                            Some((_, true)) => {
                                let room_id = item.event.room_id();
                                if !rooms_live.contains_key(&room_id) {
                                    rooms_live.insert(room_id, room_feed(hub.subscribe_room(room_id)));
                                }
                                yield Ok(item.event.clone().into());
                            }
                            _ => {
                                // The room's ring already holds everything published before
                                // the leave: deliver it, then stop following the room.
                                if let Some(mut stream) = rooms_live.remove(&item.event.room_id()) {
                                    while let Some(Some(next)) = stream.next().now_or_never() {
                                        match next {
                                            Ok(ev) if ev.event.member_change().is_some_and(|(u, _)| u == viewer) => {}
                                            Ok(ev) => yield Ok(ev.event.clone().into()),
                                            Err(n) => {
                                                hub.record_lag();
                                                yield Err(lagged(n));
                                                return;
                                            }
                                        }
                                    }
                                }
                                yield Ok(item.event.clone().into());
                            }
                        },
                        Err(RecvError::Lagged(n)) => {
                            hub.record_lag();
                            yield Err(lagged(n));
                            break;
                        }
                        Err(RecvError::Closed) => break,
                    },
                    Some((_, next)) = rooms_live.next(), if !rooms_live.is_empty() => match next {
                        Ok(item) => {
                            if item.event.member_change().is_none_or(|(u, _)| u != viewer) {
                                yield Ok(item.event.clone().into());
                            }
                        }
                        Err(n) => {
                            hub.record_lag();
                            yield Err(lagged(n));
                            break;
                        }
                    },
                }
            }
        })
    }
}

/// A room's live events for `myEvents`: `Err(n)` when `n` events were missed, and a final
/// `Err(0)` if the hub drops the room (its transport lost events), so neither passes silently.
type RoomFeed = std::pin::Pin<Box<dyn Stream<Item = Result<Item, u64>> + Send>>;

fn room_feed(rx: tokio::sync::broadcast::Receiver<Item>) -> RoomFeed {
    Box::pin(
        BroadcastStream::new(rx)
            .map(|r| r.map_err(|BroadcastStreamRecvError::Lagged(n)| n))
            .chain(futures_util::stream::once(async { Err(0) })),
    )
}

/// The next messages after `from` as `MessageAdded` events, oldest first.
async fn replay_page(
    state: &AppState,
    room_id: i64,
    from: i64,
) -> Result<Vec<RoomEvent>, AppError> {
    let rows = messages::after(&state.db, room_id, from, REPLAY_PAGE).await?;
    let mut author_ids: Vec<i64> = rows.iter().map(|m| m.author_id).collect();
    author_ids.sort_unstable();
    author_ids.dedup();
    let authors: HashMap<i64, _> = users::by_ids(&state.db, &author_ids)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    Ok(rows
        .iter()
        .filter_map(|m| {
            let author = authors.get(&m.author_id)?;
            Some(RoomEvent::MessageAdded {
                room_id: room_id.to_string(),
                message: MessageData::new(m, author),
            })
        })
        .collect())
}
