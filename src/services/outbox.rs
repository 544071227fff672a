//! Writing events to the outbox inside the transaction of the change they describe.

use sea_orm::{ActiveModelTrait, ActiveValue::Set};

use crate::{db::WriteTx, entities::outbox, realtime::event::RoomEvent};

/// Stores `event` in the outbox as part of `tx`; the relay publishes it after commit.
pub async fn enqueue(tx: &WriteTx, event: &RoomEvent) -> Result<(), sea_orm::DbErr> {
    let payload =
        serde_json::to_string(event).map_err(|e| sea_orm::DbErr::Custom(e.to_string()))?;
    outbox::ActiveModel {
        room_id: Set(event.room_id()),
        payload: Set(payload),
        created_at: Set(super::now()),
        ..Default::default()
    }
    .insert(&**tx)
    .await?;
    tx.mark_outbox_written();
    Ok(())
}
