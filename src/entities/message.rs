//! A message posted in a room.

use sea_orm::entity::prelude::*;

/// A row of `messages`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "messages")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub room_id: i64,
    pub author_id: i64,
    #[sea_orm(column_type = "Text")]
    pub content: String,
    /// The sender's idempotency key, unique per author.
    pub client_id: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
