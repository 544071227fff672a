//! The service layer: plain async functions over the database. Nothing here knows GraphQL.

pub mod messages;
pub mod outbox;
pub mod rooms;
pub mod sql;
pub mod users;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

/// Now, truncated to milliseconds: what clients see is exactly what is stored, and stored
/// timestamps sort the same way as text (SQLite) and as time (PostgreSQL).
pub fn now() -> DateTime<Utc> {
    let t = Utc::now();
    t.duration_trunc(TimeDelta::milliseconds(1)).unwrap_or(t)
}
