//! Rooms and memberships.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult,
    PaginatorTrait, QueryFilter, QuerySelect,
};

use crate::{
    db::{Db, WriteTx},
    domain::RoomName,
    entities::{membership, message, room, user},
    error::{AppError, AppResult},
    realtime::event::{RoomEvent, UserData},
    services::{
        outbox,
        sql::{SqlBuilder, like_escape},
    },
};

/// A room with the time of its last activity (its last message, or its creation).
#[derive(Debug, Clone, FromQueryResult)]
pub struct RoomRow {
    /// Room id.
    pub id: i64,
    /// Room name.
    pub name: String,
    /// Lower-cased name.
    pub name_key: String,
    /// Creator.
    pub created_by: i64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last message time, or creation time.
    pub activity_at: DateTime<Utc>,
}

impl From<RoomRow> for room::Model {
    fn from(r: RoomRow) -> Self {
        Self {
            id: r.id,
            name: r.name,
            name_key: r.name_key,
            created_by: r.created_by,
            created_at: r.created_at,
        }
    }
}

/// Where a page of rooms starts: strictly after this (activity, id).
pub type RoomCursor = (DateTime<Utc>, i64);

/// Filters and page of a room listing.
#[derive(Debug, Clone, Default)]
pub struct RoomQuery {
    /// Page size.
    pub first: u64,
    /// Start after this cursor.
    pub after: Option<RoomCursor>,
    /// Case-insensitive substring of the name.
    pub search: Option<String>,
    /// Only rooms the viewer belongs to.
    pub member_only: bool,
}

/// Creates a room; its creator becomes its first member.
#[tracing::instrument(skip(db))]
pub async fn create(db: &Db, viewer: i64, name: &str) -> AppResult<room::Model> {
    let name = RoomName::parse(name)?;
    let tx = db.begin_write().await?;
    let now = super::now();
    let room = room::ActiveModel {
        name: Set(name.as_str().to_owned()),
        name_key: Set(name.as_str().to_lowercase()),
        created_by: Set(viewer),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&*tx)
    .await?;
    add_member(db, &tx, &room, viewer).await?;
    tx.commit().await?;
    Ok(room)
}

/// Joins a room; joining twice is a no-op.
#[tracing::instrument(skip(db))]
pub async fn join(db: &Db, viewer: i64, room_id: i64) -> AppResult<room::Model> {
    let tx = db.begin_write().await?;
    db.lock_room(&tx, room_id).await?;
    let room = find_in(&*tx, room_id).await?;
    if !is_member_in(&*tx, viewer, room_id).await? {
        add_member(db, &tx, &room, viewer).await?;
        tx.commit().await?;
    }
    Ok(room)
}

/// Leaves a room; leaving a room one is not in is a no-op.
#[tracing::instrument(skip(db))]
pub async fn leave(db: &Db, viewer: i64, room_id: i64) -> AppResult<room::Model> {
    let tx = db.begin_write().await?;
    db.lock_room(&tx, room_id).await?;
    let room = find_in(&*tx, room_id).await?;
    let deleted = membership::Entity::delete_many()
        .filter(membership::Column::RoomId.eq(room_id))
        .filter(membership::Column::UserId.eq(viewer))
        .exec(&*tx)
        .await?
        .rows_affected;
    if deleted > 0 {
        let user = user_in(&*tx, viewer).await?;
        let member_count = count_in(&*tx, room_id).await?;
        let event = RoomEvent::MemberLeft {
            room_id: room_id.to_string(),
            user: UserData::from(&user),
            member_count,
        };
        outbox::enqueue(&tx, &event).await?;
        tx.commit().await?;
    }
    Ok(room)
}

async fn add_member(db: &Db, tx: &WriteTx, room: &room::Model, viewer: i64) -> AppResult<()> {
    db.lock_room(tx, room.id).await?;
    membership::ActiveModel {
        room_id: Set(room.id),
        user_id: Set(viewer),
        joined_at: Set(super::now()),
    }
    .insert(&**tx)
    .await?;
    let user = user_in(&**tx, viewer).await?;
    let member_count = count_in(&**tx, room.id).await?;
    let event = RoomEvent::MemberJoined {
        room_id: room.id.to_string(),
        user: UserData::from(&user),
        member_count,
    };
    outbox::enqueue(tx, &event).await?;
    Ok(())
}

async fn user_in(conn: &impl ConnectionTrait, id: i64) -> AppResult<user::Model> {
    user::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or(AppError::Unauthenticated(
            "the signed-in user no longer exists",
        ))
}

async fn find_in(conn: &impl ConnectionTrait, room_id: i64) -> AppResult<room::Model> {
    room::Entity::find_by_id(room_id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("room"))
}

async fn count_in(conn: &impl ConnectionTrait, room_id: i64) -> AppResult<i64> {
    Ok(membership::Entity::find()
        .filter(membership::Column::RoomId.eq(room_id))
        .count(conn)
        .await? as i64)
}

async fn is_member_in(conn: &impl ConnectionTrait, viewer: i64, room_id: i64) -> AppResult<bool> {
    Ok(membership::Entity::find_by_id((room_id, viewer))
        .one(conn)
        .await?
        .is_some())
}

/// One room by id.
pub async fn get(db: &Db, room_id: i64) -> AppResult<Option<room::Model>> {
    Ok(room::Entity::find_by_id(room_id).one(&db.conn).await?)
}

/// Whether `viewer` belongs to `room_id`.
pub async fn is_member(db: &Db, viewer: i64, room_id: i64) -> AppResult<bool> {
    is_member_in(&db.conn, viewer, room_id).await
}

/// `Ok` when the room exists and `viewer` is a member; `NOT_FOUND` or `FORBIDDEN` otherwise.
pub async fn require_member(db: &Db, viewer: i64, room_id: i64) -> AppResult<()> {
    if is_member(db, viewer, room_id).await? {
        return Ok(());
    }
    match get(db, room_id).await? {
        Some(_) => Err(AppError::Forbidden("only members of the room may do this")),
        None => Err(AppError::NotFound("room")),
    }
}

/// Rooms, most recently active first, one page plus whether more follow.
pub async fn list(db: &Db, viewer: i64, q: &RoomQuery) -> AppResult<(Vec<RoomRow>, bool)> {
    let activity = "COALESCE((SELECT m.created_at FROM messages m WHERE m.room_id = r.id \
                    ORDER BY m.id DESC LIMIT 1), r.created_at)";
    let mut b = SqlBuilder::new(db.backend());
    b.push("SELECT * FROM (SELECT r.id, r.name, r.name_key, r.created_by, r.created_at, ")
        .push(activity)
        .push(" AS activity_at FROM rooms r WHERE 1 = 1");
    if let Some(search) = q.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        b.push(" AND r.name_key LIKE ")
            .bind(format!("%{}%", like_escape(&search.to_lowercase())))
            .push(" ESCAPE '\\'");
    }
    if q.member_only {
        b.push(
            " AND EXISTS (SELECT 1 FROM memberships ms WHERE ms.room_id = r.id AND ms.user_id = ",
        )
        .bind(viewer)
        .push(")");
    }
    b.push(") t");
    if let Some((at, id)) = q.after {
        b.push(" WHERE (t.activity_at < ")
            .bind(at)
            .push(" OR (t.activity_at = ")
            .bind(at)
            .push(" AND t.id < ")
            .bind(id)
            .push("))");
    }
    b.push(" ORDER BY t.activity_at DESC, t.id DESC LIMIT ")
        .bind(q.first as i64 + 1);
    let mut rows = RoomRow::find_by_statement(b.build()).all(&db.conn).await?;
    let more = rows.len() as u64 > q.first;
    rows.truncate(q.first as usize);
    Ok((rows, more))
}

/// Member counts of these rooms.
pub async fn member_counts(db: &Db, room_ids: &[i64]) -> AppResult<HashMap<i64, i64>> {
    let rows: Vec<(i64, i64)> = membership::Entity::find()
        .select_only()
        .column(membership::Column::RoomId)
        .column_as(membership::Column::UserId.count(), "n")
        .filter(membership::Column::RoomId.is_in(room_ids.iter().copied()))
        .group_by(membership::Column::RoomId)
        .into_tuple()
        .all(&db.conn)
        .await?;
    Ok(rows.into_iter().collect())
}

/// Which of these rooms `viewer` belongs to.
pub async fn memberships_of(db: &Db, viewer: i64, room_ids: &[i64]) -> AppResult<HashSet<i64>> {
    let rows: Vec<i64> = membership::Entity::find()
        .select_only()
        .column(membership::Column::RoomId)
        .filter(membership::Column::UserId.eq(viewer))
        .filter(membership::Column::RoomId.is_in(room_ids.iter().copied()))
        .into_tuple()
        .all(&db.conn)
        .await?;
    Ok(rows.into_iter().collect())
}

/// The ids of every room `viewer` belongs to.
pub async fn room_ids_of(db: &Db, viewer: i64) -> AppResult<HashSet<i64>> {
    let rows: Vec<i64> = membership::Entity::find()
        .select_only()
        .column(membership::Column::RoomId)
        .filter(membership::Column::UserId.eq(viewer))
        .into_tuple()
        .all(&db.conn)
        .await?;
    Ok(rows.into_iter().collect())
}

/// The ids of a room's members.
pub async fn member_ids(db: &Db, room_id: i64) -> AppResult<Vec<i64>> {
    Ok(membership::Entity::find()
        .select_only()
        .column(membership::Column::UserId)
        .filter(membership::Column::RoomId.eq(room_id))
        .into_tuple()
        .all(&db.conn)
        .await?)
}

/// The member ids of each of these rooms.
pub async fn member_ids_of(db: &Db, room_ids: &[i64]) -> AppResult<HashMap<i64, Vec<i64>>> {
    let rows: Vec<(i64, i64)> = membership::Entity::find()
        .select_only()
        .column(membership::Column::RoomId)
        .column(membership::Column::UserId)
        .filter(membership::Column::RoomId.is_in(room_ids.iter().copied()))
        .into_tuple()
        .all(&db.conn)
        .await?;
    let mut by_room: HashMap<i64, Vec<i64>> = HashMap::new();
    for (room, user) in rows {
        by_room.entry(room).or_default().push(user);
    }
    Ok(by_room)
}

/// The last message of each of these rooms that has one.
pub async fn last_messages(db: &Db, room_ids: &[i64]) -> AppResult<HashMap<i64, message::Model>> {
    let last_ids: Vec<i64> = message::Entity::find()
        .select_only()
        .column_as(message::Column::Id.max(), "id")
        .filter(message::Column::RoomId.is_in(room_ids.iter().copied()))
        .group_by(message::Column::RoomId)
        .into_tuple()
        .all(&db.conn)
        .await?;
    Ok(message::Entity::find()
        .filter(message::Column::Id.is_in(last_ids))
        .all(&db.conn)
        .await?
        .into_iter()
        .map(|m| (m.room_id, m))
        .collect())
}
