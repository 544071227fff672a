//! Scalars whose wire format the contract fixes.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::{SecondsFormat, Utc};

/// An RFC 3339 timestamp in UTC, e.g. `2026-12-04T19:00:00.123Z` (the same text as in
/// published event JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime(pub chrono::DateTime<Utc>);

#[Scalar(name = "DateTime")]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| Self(t.to_utc()))
                .map_err(|e| InputValueError::custom(e.to_string())),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_text_as_serde() {
        for s in [
            "2026-12-04T19:00:00Z",
            "2026-12-04T19:00:00.120Z",
            "2026-12-04T19:00:00.001Z",
        ] {
            let t = chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc();
            let serde = serde_json::to_value(t).unwrap();
            assert_eq!(
                DateTime(t).to_value(),
                Value::String(serde.as_str().unwrap().into())
            );
        }
    }
}
