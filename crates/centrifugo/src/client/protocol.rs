//! Wire types of Centrifugo's JSON client protocol (only the fields this client reads).

use serde::Deserialize;
use serde_json::Value;

/// One JSON object received from the server: a reply to a command (`id` > 0), a push
/// (`id` = 0, `push` set) or a ping (`{}`).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Reply {
    #[serde(default)]
    pub id: u32,
    pub error: Option<ProtoError>,
    pub push: Option<Push>,
    pub connect: Option<ConnectResult>,
    pub subscribe: Option<SubscribeResult>,
    pub refresh: Option<RefreshResult>,
    pub sub_refresh: Option<RefreshResult>,
}

impl Reply {
    /// A server ping is an empty object.
    pub fn is_ping(&self) -> bool {
        self.id == 0 && self.push.is_none() && self.error.is_none()
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct ProtoError {
    pub code: u32,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub temporary: bool,
}

impl ProtoError {
    /// Whether the same command may succeed later: the server says so, or the code is
    /// internal (100), token expired (109, a fresh token is fetched) or too many requests (111).
    pub fn is_retryable(&self) -> bool {
        self.temporary || matches!(self.code, 100 | 109 | 111)
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct Push {
    #[serde(default)]
    pub channel: String,
    #[serde(rename = "pub")]
    pub publication: Option<Pub>,
    pub unsubscribe: Option<CodeReason>,
    pub disconnect: Option<CodeReason>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Pub {
    #[serde(default)]
    pub data: Value,
    #[serde(default)]
    pub offset: u64,
}

#[derive(Debug, Deserialize)]
pub(crate) struct CodeReason {
    #[serde(default)]
    pub code: u32,
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ConnectResult {
    #[serde(default)]
    pub client: String,
    #[serde(default)]
    pub expires: bool,
    #[serde(default)]
    pub ttl: u32,
    #[serde(default)]
    pub ping: u32,
    #[serde(default)]
    pub pong: bool,
}

#[derive(Debug, Deserialize)]
pub(crate) struct SubscribeResult {
    #[serde(default)]
    pub expires: bool,
    #[serde(default)]
    pub ttl: u32,
    #[serde(default)]
    pub recoverable: bool,
    #[serde(default)]
    pub epoch: String,
    #[serde(default)]
    pub offset: u64,
    #[serde(default)]
    pub publications: Vec<Pub>,
    #[serde(default)]
    pub recovered: bool,
    #[serde(default)]
    pub was_recovering: bool,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RefreshResult {
    #[serde(default)]
    pub expires: bool,
    #[serde(default)]
    pub ttl: u32,
}

/// Splits a text frame into its newline-separated JSON objects; undecodable lines are logged
/// and skipped.
pub(crate) fn parse_frame(text: &str) -> Vec<Reply> {
    text.split('\n')
        .filter(|line| !line.trim().is_empty())
        .filter_map(|line| match serde_json::from_str(line) {
            Ok(reply) => Some(reply),
            Err(e) => {
                tracing::warn!(error = %e, "undecodable centrifugo frame line");
                None
            }
        })
        .collect()
}

/// Whether a disconnect code tells the client to reconnect: 3000–3499 and 4000–4499 do,
/// 3500–3999 and 4500–4999 do not; anything else (WebSocket codes) is treated as a network
/// failure and does.
pub(crate) fn should_reconnect(code: u32) -> bool {
    !((3500..4000).contains(&code) || (4500..5000).contains(&code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_with_several_objects() {
        let frame = "{}\n{\"push\":{\"channel\":\"room:7\",\"pub\":{\"data\":{\"a\":1},\"offset\":15}}}\n\
                     {\"id\":3,\"error\":{\"code\":103,\"message\":\"permission denied\"}}\n";
        let replies = parse_frame(frame);
        assert_eq!(replies.len(), 3);
        assert!(replies[0].is_ping());
        let push = replies[1].push.as_ref().expect("push");
        assert_eq!(push.channel, "room:7");
        let publication = push.publication.as_ref().expect("pub");
        assert_eq!(publication.offset, 15);
        assert_eq!(publication.data, serde_json::json!({"a": 1}));
        assert!(!replies[1].is_ping());
        let error = replies[2].error.as_ref().expect("error");
        assert_eq!((replies[2].id, error.code), (3, 103));
        assert!(!error.is_retryable());
    }

    #[test]
    fn reconnect_codes() {
        assert!(should_reconnect(3000));
        assert!(should_reconnect(3499));
        assert!(!should_reconnect(3500));
        assert!(!should_reconnect(3999));
        assert!(should_reconnect(4000));
        assert!(!should_reconnect(4500));
        assert!(should_reconnect(1006));
    }
}
