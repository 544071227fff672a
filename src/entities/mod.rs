//! SeaORM entities, one per table (see the `migration` crate for the schema).

pub mod membership;
pub mod message;
pub mod outbox;
pub mod refresh_token;
pub mod room;
pub mod user;
