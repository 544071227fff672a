//! Posting and reading messages.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, SqlErr,
};

use crate::{
    db::Db,
    domain::{ClientId, MessageBody},
    entities::{message, user},
    error::{AppError, AppResult},
    realtime::event::{MessageData, RoomEvent},
    services::{outbox, rooms},
};

/// Posts a message as `viewer`. With a `client_id`, a retry returns the first message and
/// writes nothing: the unique index on (author, client id) decides, not a prior read.
#[tracing::instrument(skip(db, content))]
pub async fn send(
    db: &Db,
    viewer: i64,
    room_id: i64,
    content: &str,
    client_id: Option<&str>,
) -> AppResult<message::Model> {
    let body = MessageBody::parse(content)?;
    let client_id = client_id
        .map(ClientId::parse)
        .transpose()?
        .map(ClientId::into_inner);
    rooms::require_member(db, viewer, room_id).await?;
    if let Some(cid) = &client_id
        && let Some(first) = find_by_client_id(db, viewer, cid).await?
    {
        return same_room(first, room_id);
    }
    let author = user::Entity::find_by_id(viewer)
        .one(&db.conn)
        .await?
        .ok_or(AppError::Unauthenticated(
            "the signed-in user no longer exists",
        ))?;

    let tx = db.begin_write().await?;
    db.lock_room(&tx, room_id).await?;
    let inserted = message::ActiveModel {
        room_id: Set(room_id),
        author_id: Set(viewer),
        content: Set(body.into_inner()),
        client_id: Set(client_id.clone()),
        created_at: Set(super::now()),
        ..Default::default()
    }
    .insert(&*tx)
    .await;
    let message = match inserted {
        Ok(m) => m,
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            drop(tx);
            let cid = client_id.as_deref().unwrap_or_default();
            let first = find_by_client_id(db, viewer, cid).await?.ok_or_else(|| {
                AppError::Internal(anyhow::anyhow!("duplicate clientId vanished"))
            })?;
            return same_room(first, room_id);
        }
        Err(e) => {
            // A membership lost between the check and the insert surfaces as a foreign key
            // error on a deleted room; anything else is internal.
            if matches!(e.sql_err(), Some(SqlErr::ForeignKeyConstraintViolation(_))) {
                return Err(AppError::NotFound("room"));
            }
            return Err(e.into());
        }
    };
    let event = RoomEvent::MessageAdded {
        room_id: room_id.to_string(),
        message: MessageData::new(&message, &author),
    };
    outbox::enqueue(&tx, &event).await?;
    tx.commit().await?;
    Ok(message)
}

fn same_room(first: message::Model, room_id: i64) -> AppResult<message::Model> {
    if first.room_id == room_id {
        Ok(first)
    } else {
        Err(AppError::bad_input(
            "clientId",
            "clientId was already used for a message in another room",
        ))
    }
}

async fn find_by_client_id(
    db: &Db,
    author: i64,
    client_id: &str,
) -> AppResult<Option<message::Model>> {
    Ok(message::Entity::find()
        .filter(message::Column::AuthorId.eq(author))
        .filter(message::Column::ClientId.eq(client_id))
        .one(&db.conn)
        .await?)
}

/// The newest `last` messages of a room older than `before`, oldest first, and whether
/// older ones remain.
pub async fn page(
    db: &Db,
    room_id: i64,
    last: u64,
    before: Option<i64>,
) -> AppResult<(Vec<message::Model>, bool)> {
    let mut q = message::Entity::find().filter(message::Column::RoomId.eq(room_id));
    if let Some(before) = before {
        q = q.filter(message::Column::Id.lt(before));
    }
    let mut rows = q
        .order_by_desc(message::Column::Id)
        .limit(last + 1)
        .all(&db.conn)
        .await?;
    let more = rows.len() as u64 > last;
    rows.truncate(last as usize);
    rows.reverse();
    Ok((rows, more))
}

/// Messages of a room newer than `after`, oldest first, at most `limit`.
pub async fn after(
    db: &Db,
    room_id: i64,
    after: i64,
    limit: u64,
) -> AppResult<Vec<message::Model>> {
    Ok(message::Entity::find()
        .filter(message::Column::RoomId.eq(room_id))
        .filter(message::Column::Id.gt(after))
        .order_by_asc(message::Column::Id)
        .limit(limit)
        .all(&db.conn)
        .await?)
}

/// Messages by id.
pub async fn by_ids(db: &Db, ids: &[i64]) -> AppResult<Vec<message::Model>> {
    Ok(message::Entity::find()
        .filter(message::Column::Id.is_in(ids.iter().copied()))
        .all(&db.conn)
        .await?)
}
