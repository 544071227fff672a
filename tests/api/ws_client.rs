//! A small GraphQL-over-WebSocket client for tests, speaking the wire protocol directly.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{Message, client::IntoClientRequest, protocol::frame::coding::CloseCode},
};

/// How long any single wait may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(15);

pub struct WsClient {
    ws: WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>,
    legacy: bool,
}

/// What the server sent.
#[derive(Debug)]
pub enum Incoming {
    Json(Value),
    Closed(u16, String),
}

impl WsClient {
    /// Opens a socket with `graphql-transport-ws` (or legacy `graphql-ws`).
    pub async fn connect(url: &str, protocol: &str) -> Self {
        let mut req = url.into_client_request().unwrap();
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", protocol.parse().unwrap());
        let (ws, resp) = connect_async(req).await.expect("websocket connects");
        assert_eq!(
            resp.headers().get("sec-websocket-protocol").unwrap(),
            protocol
        );
        Self {
            ws,
            legacy: protocol == "graphql-ws",
        }
    }

    /// Connects and completes `connection_init` with the token; panics unless acked.
    pub async fn open(url: &str, token: &str) -> Self {
        let mut c = Self::connect(url, "graphql-transport-ws").await;
        c.init(json!({"authorization": format!("Bearer {token}")}))
            .await;
        match c.recv().await {
            Incoming::Json(v) if v["type"] == "connection_ack" => c,
            other => panic!("expected connection_ack, got {other:?}"),
        }
    }

    pub async fn init(&mut self, payload: Value) {
        self.send(json!({"type": "connection_init", "payload": payload}))
            .await;
    }

    pub async fn send(&mut self, v: Value) {
        self.ws
            .send(Message::Text(v.to_string().into()))
            .await
            .unwrap();
    }

    /// Starts a subscription.
    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        let kind = if self.legacy { "start" } else { "subscribe" };
        self.send(
            json!({"id": id, "type": kind, "payload": {"query": query, "variables": variables}}),
        )
        .await;
    }

    /// The next protocol message or close, within [`WAIT`].
    pub async fn recv(&mut self) -> Incoming {
        self.recv_within(WAIT)
            .await
            .expect("nothing received in time")
    }

    /// The next protocol message or close, or `None` after `wait`.
    pub async fn recv_within(&mut self, wait: Duration) -> Option<Incoming> {
        loop {
            let msg = match tokio::time::timeout(wait, self.ws.next()).await {
                Err(_) => return None,
                Ok(None) => return Some(Incoming::Closed(1006, "stream ended".into())),
                Ok(Some(Err(e))) => return Some(Incoming::Closed(1006, e.to_string())),
                Ok(Some(Ok(m))) => m,
            };
            match msg {
                Message::Text(t) => return Some(Incoming::Json(serde_json::from_str(&t).unwrap())),
                Message::Close(frame) => {
                    let (code, reason) = frame
                        .map(|f| (u16::from(f.code), f.reason.to_string()))
                        .unwrap_or((u16::from(CloseCode::Status), String::new()));
                    return Some(Incoming::Closed(code, reason));
                }
                _ => continue,
            }
        }
    }

    /// The `data` of the next `next` message of subscription `id`; panics on anything else
    /// but keep-alives.
    pub async fn next_data(&mut self, id: &str) -> Value {
        loop {
            match self.recv().await {
                Incoming::Json(v) if v["type"] == "ka" || v["type"] == "pong" => continue,
                Incoming::Json(v)
                    if (v["type"] == "next" || v["type"] == "data") && v["id"] == id =>
                {
                    assert!(
                        v["payload"].get("errors").is_none(),
                        "subscription error: {v}"
                    );
                    return v["payload"]["data"].clone();
                }
                other => panic!("expected data for {id}, got {other:?}"),
            }
        }
    }

    /// The next message of any kind for subscription `id` (data, error or complete).
    pub async fn next_for(&mut self, id: &str) -> Value {
        loop {
            match self.recv().await {
                Incoming::Json(v) if v["id"] == id => return v,
                Incoming::Json(_) => continue,
                other => panic!("socket closed while waiting for {id}: {other:?}"),
            }
        }
    }
}
