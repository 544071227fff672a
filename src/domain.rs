//! Validated input values: parse once at the edge, then trust the type.

use crate::error::{AppError, AppResult};

/// A username: 3–32 characters of `[A-Za-z0-9_.-]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    /// Checks the bounds of the public contract.
    pub fn parse(raw: &str) -> AppResult<Self> {
        let len = raw.chars().count();
        if !(3..=32).contains(&len) {
            return Err(AppError::bad_input(
                "username",
                "username must be 3 to 32 characters",
            ));
        }
        if !raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        {
            return Err(AppError::bad_input(
                "username",
                "username may only contain letters, digits, '_', '.' and '-'",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The name as typed.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-insensitive key that must be unique.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// A password of 8–128 characters. Its `Debug` never shows it.
#[derive(Clone)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

impl Password {
    /// Checks the bounds of the public contract.
    pub fn parse(raw: &str) -> AppResult<Self> {
        let len = raw.chars().count();
        if !(8..=128).contains(&len) {
            return Err(AppError::bad_input(
                "password",
                "password must be 8 to 128 characters",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The secret itself, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Trims `raw` and checks it has `min..=max` characters.
fn trimmed(raw: &str, field: &'static str, max: usize) -> AppResult<String> {
    let value = raw.trim();
    let len = value.chars().count();
    if len == 0 {
        return Err(AppError::bad_input(
            field,
            format!("{field} must not be empty"),
        ));
    }
    if len > max {
        return Err(AppError::bad_input(
            field,
            format!("{field} must be at most {max} characters"),
        ));
    }
    Ok(value.to_owned())
}

/// A room name: 1–80 characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomName(String);

impl RoomName {
    /// Trims and checks the bounds of the public contract.
    pub fn parse(raw: &str) -> AppResult<Self> {
        trimmed(raw, "name", 80).map(Self)
    }

    /// The trimmed name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Message content: 1–4000 characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageBody(String);

impl MessageBody {
    /// Trims and checks the bounds of the public contract.
    pub fn parse(raw: &str) -> AppResult<Self> {
        trimmed(raw, "content", 4000).map(Self)
    }

    /// The trimmed content.
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A sender's idempotency key for `sendMessage`: 1–64 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientId(String);

impl ClientId {
    /// Checks the bounds of the public contract.
    pub fn parse(raw: &str) -> AppResult<Self> {
        let len = raw.chars().count();
        if !(1..=64).contains(&len) {
            return Err(AppError::bad_input(
                "clientId",
                "clientId must be 1 to 64 characters",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The key as sent.
    pub fn into_inner(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(err: AppError) -> &'static str {
        match err {
            AppError::BadInput { field, .. } => field,
            other => panic!("expected BadInput, got {other:?}"),
        }
    }

    #[test]
    fn username_bounds() {
        assert_eq!(Username::parse("abc").unwrap().as_str(), "abc");
        assert_eq!(Username::parse(&"a".repeat(32)).unwrap().as_str().len(), 32);
        assert_eq!(field_of(Username::parse("ab").unwrap_err()), "username");
        assert_eq!(
            field_of(Username::parse(&"a".repeat(33)).unwrap_err()),
            "username"
        );
        assert!(Username::parse("a.b_c-D9").is_ok());
        assert!(Username::parse("al ice").is_err());
        assert!(Username::parse("алиса").is_err());
        assert_eq!(Username::parse("Alice").unwrap().key(), "alice");
    }

    #[test]
    fn password_bounds_and_debug() {
        assert!(Password::parse(&"x".repeat(8)).is_ok());
        assert!(Password::parse(&"x".repeat(7)).is_err());
        assert!(Password::parse(&"x".repeat(128)).is_ok());
        assert!(Password::parse(&"x".repeat(129)).is_err());
        // Characters, not bytes: eight two-byte characters are enough.
        assert!(Password::parse(&"é".repeat(8)).is_ok());
        let p = Password::parse("hunter2hunter2").unwrap();
        assert!(!format!("{p:?}").contains("hunter2"));
    }

    #[test]
    fn room_name_is_trimmed() {
        assert_eq!(RoomName::parse("  general ").unwrap().as_str(), "general");
        assert_eq!(field_of(RoomName::parse("   ").unwrap_err()), "name");
        assert!(RoomName::parse(&"r".repeat(80)).is_ok());
        assert!(RoomName::parse(&format!(" {} ", "r".repeat(80))).is_ok());
        assert!(RoomName::parse(&"r".repeat(81)).is_err());
    }

    #[test]
    fn message_body_bounds() {
        assert_eq!(MessageBody::parse(" hi\n").unwrap().into_inner(), "hi");
        assert_eq!(
            field_of(MessageBody::parse("\n\t ").unwrap_err()),
            "content"
        );
        assert!(MessageBody::parse(&"m".repeat(4000)).is_ok());
        assert!(MessageBody::parse(&"m".repeat(4001)).is_err());
    }

    #[test]
    fn client_id_bounds() {
        assert!(ClientId::parse(&"c".repeat(64)).is_ok());
        assert_eq!(
            field_of(ClientId::parse(&"c".repeat(65)).unwrap_err()),
            "clientId"
        );
        assert!(ClientId::parse("").is_err());
    }
}
