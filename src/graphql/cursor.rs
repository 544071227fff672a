//! Opaque cursors and ids.

use async_graphql::ID;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};

use crate::error::{AppError, AppResult};

/// The cursor of a message.
pub fn message(id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("m:{id}"))
}

/// The message id inside a message cursor.
pub fn parse_message(cursor: &str, field: &'static str) -> AppResult<i64> {
    decode(cursor)
        .and_then(|s| s.strip_prefix("m:")?.parse().ok())
        .ok_or_else(|| AppError::bad_input(field, "not a valid message cursor"))
}

/// The cursor of a room in the activity order.
pub fn room(activity_at: DateTime<Utc>, id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("r:{}:{id}", activity_at.timestamp_millis()))
}

/// The (activity, id) inside a room cursor.
pub fn parse_room(cursor: &str, field: &'static str) -> AppResult<(DateTime<Utc>, i64)> {
    decode(cursor)
        .and_then(|s| {
            let rest = s.strip_prefix("r:")?;
            let (millis, id) = rest.split_once(':')?;
            Some((
                DateTime::from_timestamp_millis(millis.parse().ok()?)?,
                id.parse().ok()?,
            ))
        })
        .ok_or_else(|| AppError::bad_input(field, "not a valid room cursor"))
}

fn decode(cursor: &str) -> Option<String> {
    String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()
}

/// A numeric id from an `ID` argument.
pub fn parse_id(id: &ID, field: &'static str) -> AppResult<i64> {
    id.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| AppError::bad_input(field, format!("{field} is not a valid id")))
}

/// A page size: at least 1, at most 100 (larger requests are capped).
pub fn page_size(n: i32, field: &'static str) -> AppResult<u64> {
    if n < 1 {
        return Err(AppError::bad_input(
            field,
            format!("{field} must be at least 1"),
        ));
    }
    Ok(n.min(100) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        assert_eq!(parse_message(&message(42), "before").unwrap(), 42);
        let t = DateTime::from_timestamp_millis(1_800_000_000_123).unwrap();
        assert_eq!(parse_room(&room(t, 7), "after").unwrap(), (t, 7));
        assert!(parse_message("garbage!", "before").is_err());
        assert!(parse_message(&room(t, 7), "before").is_err());
        assert!(parse_id(&ID("x".into()), "roomId").is_err());
        assert!(parse_id(&ID("0".into()), "roomId").is_err());
        assert_eq!(page_size(500, "first").unwrap(), 100);
        assert!(page_size(0, "first").is_err());
    }
}
