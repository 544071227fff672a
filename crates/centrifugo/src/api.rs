//! A small client for Centrifugo's server HTTP API (`POST {base}/api/<method>` with `X-API-Key`).

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Why an API call failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request did not complete within the configured timeout.
    #[error("centrifugo request timed out")]
    Timeout,
    /// The request could not be sent or its answer not read (connection refused, reset, …).
    #[error("centrifugo transport error: {0}")]
    Transport(#[source] reqwest::Error),
    /// Centrifugo answered with a non-success HTTP status (401: wrong API key).
    #[error("centrifugo answered HTTP {status}: {body}")]
    Status {
        /// The HTTP status code.
        status: u16,
        /// The start of the response body, for logs.
        body: String,
    },
    /// Centrifugo refused the command with an error reply.
    #[error("centrifugo error {code}: {message}")]
    Api {
        /// Centrifugo's error code (100 internal, 102 unknown channel, 103 permission denied, …).
        code: u32,
        /// Centrifugo's error message.
        message: String,
    },
    /// The answer was not the JSON this client expects.
    #[error("unexpected centrifugo answer: {0}")]
    Decode(String),
}

impl ApiError {
    /// Centrifugo's "internal server error" code.
    pub const INTERNAL: u32 = 100;
    /// Centrifugo's "unknown channel" code (no such namespace).
    pub const UNKNOWN_CHANNEL: u32 = 102;
    /// Centrifugo's "permission denied" code.
    pub const PERMISSION_DENIED: u32 = 103;
    /// Centrifugo's "bad request" code.
    pub const BAD_REQUEST: u32 = 107;
    /// Centrifugo's "too many requests" code.
    pub const TOO_MANY_REQUESTS: u32 = 111;

    /// Whether retrying the same call later may succeed: network errors, timeouts, HTTP 5xx and
    /// 429, and Centrifugo codes 100 (internal) and 111 (too many requests). A wrong API key
    /// (401), 102, 103 and 107 are permanent.
    pub fn is_temporary(&self) -> bool {
        match self {
            ApiError::Timeout | ApiError::Transport(_) => true,
            ApiError::Status { status, .. } => *status >= 500 || *status == 429,
            ApiError::Api { code, .. } => {
                matches!(*code, Self::INTERNAL | Self::TOO_MANY_REQUESTS)
            }
            ApiError::Decode(_) => false,
        }
    }

    fn from_reqwest(err: reqwest::Error) -> Self {
        if err.is_timeout() {
            ApiError::Timeout
        } else {
            ApiError::Transport(err)
        }
    }
}

/// Centrifugo's error object `{code, message}`.
#[derive(Debug, Clone, Deserialize)]
struct ErrorBody {
    code: u32,
    #[serde(default)]
    message: String,
}

impl From<ErrorBody> for ApiError {
    fn from(e: ErrorBody) -> Self {
        ApiError::Api {
            code: e.code,
            message: e.message,
        }
    }
}

/// An answer that is either `{"result": …}` or `{"error": {code, message}}`.
#[derive(Deserialize)]
struct Envelope<T> {
    #[serde(default)]
    error: Option<ErrorBody>,
    #[serde(default = "Option::default")]
    result: Option<T>,
}

impl<T: Default> Envelope<T> {
    fn into_result(self) -> Result<T, ApiError> {
        match self.error {
            Some(e) => Err(e.into()),
            None => Ok(self.result.unwrap_or_default()),
        }
    }
}

/// Where a publication landed in a channel's history stream. Both fields are empty (`0`, `""`)
/// when the channel keeps no history or the publication skipped it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishResult {
    /// The publication's offset in the channel stream.
    #[serde(default)]
    pub offset: u64,
    /// The stream's epoch; it changes when the stream is lost (e.g. a memory engine restart).
    #[serde(default)]
    pub epoch: String,
}

/// A position in a channel's history stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamPosition {
    /// Offset of the last publication seen.
    pub offset: u64,
    /// Epoch of the stream.
    pub epoch: String,
}

/// One connection subscribed to a channel, as reported by `presence`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ClientInfo {
    /// The connection's client id.
    #[serde(default)]
    pub client: String,
    /// The connection's user id (`sub` of its connection token).
    #[serde(default)]
    pub user: String,
}

/// A publication read back from history.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Publication {
    /// The published JSON.
    #[serde(default)]
    pub data: Value,
    /// Its offset in the channel stream.
    #[serde(default)]
    pub offset: u64,
}

/// The answer of `history`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct HistoryResult {
    /// Publications, oldest first unless `reverse` was asked.
    #[serde(default)]
    pub publications: Vec<Publication>,
    /// The stream's current top offset.
    #[serde(default)]
    pub offset: u64,
    /// The stream's current epoch.
    #[serde(default)]
    pub epoch: String,
}

/// One Centrifugo node, as reported by `info`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct NodeInfo {
    /// The node's unique id.
    #[serde(default)]
    pub uid: String,
    /// The node's name.
    #[serde(default)]
    pub name: String,
    /// The server version.
    #[serde(default)]
    pub version: String,
    /// Connections on the node.
    #[serde(default)]
    pub num_clients: u64,
    /// Distinct users on the node.
    #[serde(default)]
    pub num_users: u64,
    /// Channels with subscribers on the node.
    #[serde(default)]
    pub num_channels: u64,
    /// Subscriptions on the node.
    #[serde(default)]
    pub num_subs: u64,
    /// Seconds since the node started.
    #[serde(default)]
    pub uptime: u64,
}

/// The answer of `info`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct InfoResult {
    /// Every running node of the cluster.
    #[serde(default)]
    pub nodes: Vec<NodeInfo>,
}

/// One publish of a [`ApiClient::batch`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublishCommand {
    /// Target channel.
    pub channel: String,
    /// The JSON to publish.
    pub data: Value,
    /// Centrifugo drops a later publish to the same channel with the same key (5 minutes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// Do not store this publication in history (e.g. typing notices).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub skip_history: bool,
}

#[derive(Default, Deserialize)]
struct BroadcastResult {
    #[serde(default)]
    responses: Vec<Envelope<PublishResult>>,
}

#[derive(Default, Deserialize)]
struct BatchReply {
    #[serde(default)]
    error: Option<ErrorBody>,
    #[serde(default)]
    publish: Option<PublishResult>,
}

#[derive(Default, Deserialize)]
struct BatchResult {
    #[serde(default)]
    replies: Vec<BatchReply>,
}

#[derive(Default, Deserialize)]
struct PresenceResult {
    #[serde(default)]
    presence: std::collections::HashMap<String, ClientInfo>,
}

/// A client for Centrifugo's server HTTP API. Cheap to clone; clones share one connection pool.
#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The API key stays out of logs.
        f.debug_struct("ApiClient")
            .field("base", &self.base)
            .finish()
    }
}

impl ApiClient {
    /// A client for the Centrifugo at `base_url` (e.g. `http://127.0.0.1:8000`), sending
    /// `api_key` as `X-API-Key`. Every request, connecting included, is bounded by
    /// `request_timeout`.
    pub fn new(
        base_url: impl Into<String>,
        api_key: impl Into<String>,
        request_timeout: Duration,
    ) -> Result<Self, ApiError> {
        let http = reqwest::Client::builder()
            .timeout(request_timeout)
            .connect_timeout(request_timeout)
            .build()
            .map_err(ApiError::Transport)?;
        Ok(Self {
            http,
            base: base_url.into().trim_end_matches('/').to_owned(),
            key: api_key.into(),
        })
    }

    /// The base URL this client talks to, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Calls any API method and decodes its `result`; a missing `result` decodes as
    /// `T::default()`. The typed methods below are built on it.
    pub async fn call<T: DeserializeOwned + Default>(
        &self,
        method: &str,
        params: &Value,
    ) -> Result<T, ApiError> {
        let mut answer = self.call_raw(method, params).await?;
        match answer.get_mut("result").map(Value::take) {
            None | Some(Value::Null) => Ok(T::default()),
            Some(result) => serde_json::from_value(result)
                .map_err(|e| ApiError::Decode(format!("{method}: {e}"))),
        }
    }

    /// Publishes `data` to `channel`. With an `idempotency_key`, a repeat of the same key on the
    /// same channel within 5 minutes is dropped by Centrifugo (and still answers success).
    /// `skip_history` keeps the publication out of history, so it is never recovered.
    pub async fn publish(
        &self,
        channel: &str,
        data: &Value,
        idempotency_key: Option<&str>,
        skip_history: bool,
    ) -> Result<PublishResult, ApiError> {
        let mut params = json!({ "channel": channel, "data": data });
        if let Some(key) = idempotency_key {
            params["idempotency_key"] = json!(key);
        }
        if skip_history {
            params["skip_history"] = json!(true);
        }
        self.call("publish", &params).await
    }

    /// Publishes the same `data` to every channel in `channels`; one result per channel, in
    /// the same order. The outer error means the whole call failed.
    pub async fn broadcast(
        &self,
        channels: &[String],
        data: &Value,
        idempotency_key: Option<&str>,
        skip_history: bool,
    ) -> Result<Vec<Result<PublishResult, ApiError>>, ApiError> {
        let mut params = json!({ "channels": channels, "data": data });
        if let Some(key) = idempotency_key {
            params["idempotency_key"] = json!(key);
        }
        if skip_history {
            params["skip_history"] = json!(true);
        }
        let result: BroadcastResult = self.call("broadcast", &params).await?;
        if result.responses.len() != channels.len() {
            return Err(ApiError::Decode(format!(
                "broadcast: {} responses for {} channels",
                result.responses.len(),
                channels.len()
            )));
        }
        Ok(result
            .responses
            .into_iter()
            .map(Envelope::into_result)
            .collect())
    }

    /// Sends several publishes in one request; one result per command, in order. With
    /// `parallel: false` Centrifugo runs them one after another, which keeps per-channel order.
    pub async fn batch(
        &self,
        commands: &[PublishCommand],
        parallel: bool,
    ) -> Result<Vec<Result<PublishResult, ApiError>>, ApiError> {
        let commands: Vec<Value> = commands.iter().map(|c| json!({ "publish": c })).collect();
        let expected = commands.len();
        // The batch answer is `{"replies": […]}` at the top level, not inside `result`.
        let response = self
            .call_raw(
                "batch",
                &json!({ "commands": commands, "parallel": parallel }),
            )
            .await?;
        let result: BatchResult = serde_json::from_value(response)
            .map_err(|e| ApiError::Decode(format!("batch: {e}")))?;
        if result.replies.len() != expected {
            return Err(ApiError::Decode(format!(
                "batch: {} replies for {expected} commands",
                result.replies.len()
            )));
        }
        Ok(result
            .replies
            .into_iter()
            .map(|r| match r.error {
                Some(e) => Err(e.into()),
                None => Ok(r.publish.unwrap_or_default()),
            })
            .collect())
    }

    /// The connections currently subscribed to `channel` (needs `presence` in its namespace),
    /// sorted by client id.
    pub async fn presence(&self, channel: &str) -> Result<Vec<ClientInfo>, ApiError> {
        let result: PresenceResult = self
            .call("presence", &json!({ "channel": channel }))
            .await?;
        let mut clients: Vec<ClientInfo> = result.presence.into_values().collect();
        clients.sort_by(|a, b| a.client.cmp(&b.client));
        Ok(clients)
    }

    /// Reads up to `limit` publications of `channel`'s history (0 returns only the stream
    /// position), after `since` when given, newest first when `reverse`.
    pub async fn history(
        &self,
        channel: &str,
        limit: u32,
        since: Option<&StreamPosition>,
        reverse: bool,
    ) -> Result<HistoryResult, ApiError> {
        let mut params = json!({ "channel": channel, "limit": limit });
        if let Some(since) = since {
            params["since"] = json!(since);
        }
        if reverse {
            params["reverse"] = json!(true);
        }
        self.call("history", &params).await
    }

    /// Information about the running nodes.
    pub async fn info(&self) -> Result<InfoResult, ApiError> {
        self.call("info", &json!({})).await
    }

    /// Disconnects every connection of `user`. Codes 3000–3499 (and 4000–4499) tell clients to
    /// reconnect; 3500+ tell them not to.
    pub async fn disconnect(&self, user: &str, code: u32, reason: &str) -> Result<(), ApiError> {
        let params = json!({ "user": user, "disconnect": { "code": code, "reason": reason } });
        self.call::<Value>("disconnect", &params).await.map(drop)
    }

    /// Unsubscribes every connection of `user` from `channel` (e.g. after leaving a room).
    pub async fn unsubscribe(&self, user: &str, channel: &str) -> Result<(), ApiError> {
        let params = json!({ "user": user, "channel": channel });
        self.call::<Value>("unsubscribe", &params).await.map(drop)
    }

    /// `GET {base}/health`: `Ok` when Centrifugo answers 200 (needs `health.enabled`).
    pub async fn health(&self) -> Result<(), ApiError> {
        let response = self
            .http
            .get(format!("{}/health", self.base))
            .send()
            .await
            .map_err(ApiError::from_reqwest)?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(ApiError::Status {
                status: status.as_u16(),
                body: String::new(),
            })
        }
    }

    async fn call_raw(&self, method: &str, params: &Value) -> Result<Value, ApiError> {
        let response = self
            .http
            .post(format!("{}/api/{method}", self.base))
            .header("X-API-Key", &self.key)
            .json(params)
            .send()
            .await
            .map_err(ApiError::from_reqwest)?;
        let status = response.status();
        let body = response.bytes().await.map_err(ApiError::from_reqwest)?;
        if !status.is_success() {
            return Err(ApiError::Status {
                status: status.as_u16(),
                body: String::from_utf8_lossy(&body).chars().take(200).collect(),
            });
        }
        let value: Value = serde_json::from_slice(&body)
            .map_err(|e| ApiError::Decode(format!("{method}: {e}")))?;
        if let Some(error) = value.get("error").filter(|e| !e.is_null()) {
            let error: ErrorBody = serde_json::from_value(error.clone())
                .map_err(|e| ApiError::Decode(format!("{method}: {e}")))?;
            return Err(error.into());
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u32) -> ApiError {
        ApiError::Api {
            code,
            message: String::new(),
        }
    }

    fn status(status: u16) -> ApiError {
        ApiError::Status {
            status,
            body: String::new(),
        }
    }

    #[test]
    fn temporary_errors() {
        assert!(ApiError::Timeout.is_temporary());
        assert!(api(ApiError::INTERNAL).is_temporary());
        assert!(api(ApiError::TOO_MANY_REQUESTS).is_temporary());
        assert!(status(500).is_temporary());
        assert!(status(503).is_temporary());
    }

    #[test]
    fn permanent_errors() {
        for code in [
            ApiError::UNKNOWN_CHANNEL,
            ApiError::PERMISSION_DENIED,
            ApiError::BAD_REQUEST,
        ] {
            assert!(!api(code).is_temporary(), "{code}");
        }
        assert!(!status(401).is_temporary());
        assert!(!status(400).is_temporary());
        assert!(!ApiError::Decode(String::new()).is_temporary());
    }

    #[test]
    fn base_url_loses_its_trailing_slash() {
        let client = ApiClient::new(
            "http://127.0.0.1:8000/",
            "secret-key",
            Duration::from_secs(1),
        )
        .expect("client");
        assert_eq!(client.base_url(), "http://127.0.0.1:8000");
        assert!(
            !format!("{client:?}").contains("secret-key"),
            "the key stays out of logs"
        );
    }
}
