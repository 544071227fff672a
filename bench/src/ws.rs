//! A minimal `graphql-transport-ws` client: connect, authenticate, subscribe to rooms and
//! hand every delivery to a callback without building a JSON tree.

use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use futures_util::{SinkExt, StreamExt, stream::SplitSink};
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async_with_config,
    tungstenite::{Message, client::IntoClientRequest, protocol::WebSocketConfig},
};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The sending half of an open, acknowledged connection.
pub struct WsSender(SplitSink<Socket, Message>);

/// The receiving half of an open, acknowledged connection.
pub struct WsReceiver(futures_util::stream::SplitStream<Socket>);

/// Read buffer of each client socket.
const CLIENT_READ_BUFFER: usize = 8 * 1024;

/// The subscription every scenario uses: message ids and contents of one room.
pub const ROOM_EVENTS: &str = "subscription($r: ID!, $a: ID) { roomEvents(roomId: $r, after: $a) { ... on MessageAdded { message { id content } } } }";

/// Opens a socket and completes `connection_init` with `token`, within `limit`.
pub async fn open(
    url: &str,
    token: &str,
    limit: Duration,
) -> anyhow::Result<(WsSender, WsReceiver)> {
    tokio::time::timeout(limit, async {
        let mut req = url.into_client_request()?;
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse()?);
        // tungstenite's default 128 KiB read buffer is zero-filled before every socket read;
        // a small one keeps the load generator's own cost down (it grows for large frames).
        let config = WebSocketConfig::default().read_buffer_size(CLIENT_READ_BUFFER);
        let (ws, _) = connect_async_with_config(req, Some(config), true)
            .await
            .context("websocket connect")?;
        let (mut tx, mut rx) = ws.split();
        let init = json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {token}")}});
        tx.send(Message::Text(init.to_string().into())).await?;
        while let Some(msg) = rx.next().await {
            if let Message::Text(t) = msg? {
                if t.contains("\"connection_ack\"") {
                    return Ok((WsSender(tx), WsReceiver(rx)));
                }
                bail!("expected connection_ack, got {}", t.as_str());
            }
        }
        Err(anyhow!("socket closed before connection_ack"))
    })
    .await
    .map_err(|_| anyhow!("no connection_ack within {limit:?}"))?
}

impl WsSender {
    /// Subscribes to `roomEvents(roomId: room, after)` under subscription id `id`.
    pub async fn subscribe_room(
        &mut self,
        id: &str,
        room: &str,
        after: Option<&str>,
    ) -> anyhow::Result<()> {
        let msg = json!({"id": id, "type": "subscribe", "payload": {"query": ROOM_EVENTS, "variables": {"r": room, "a": after}}});
        self.0.send(Message::Text(msg.to_string().into())).await?;
        Ok(())
    }

    /// Closes the socket.
    pub async fn close(mut self) {
        let _ = self.0.close().await;
    }
}

/// What arrived on a connection.
#[derive(Debug)]
pub enum Delivery<'a> {
    /// A `MessageAdded` for subscription `sub`.
    Message {
        /// Subscription id.
        sub: &'a str,
        /// Message id.
        id: i64,
        /// Message content.
        content: &'a str,
        /// When it was read off the socket.
        at: Instant,
    },
    /// Any error or unexpected frame.
    Problem(String),
}

#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    id: Option<&'a str>,
    #[serde(borrow)]
    payload: Option<Payload<'a>>,
}

#[derive(Deserialize)]
struct Payload<'a> {
    #[serde(borrow)]
    data: Option<Data<'a>>,
    errors: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Data<'a> {
    #[serde(rename = "roomEvents", borrow)]
    room_events: Option<Event<'a>>,
}

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(borrow)]
    message: Option<Msg<'a>>,
}

#[derive(Deserialize)]
struct Msg<'a> {
    id: &'a str,
    content: &'a str,
}

impl WsReceiver {
    /// Reads frames until `deadline`, the socket closes, or `on` returns false; every
    /// `next` carrying a message and every problem goes to `on`.
    pub async fn run(mut self, deadline: Instant, mut on: impl FnMut(Delivery<'_>) -> bool) {
        loop {
            let next = tokio::time::timeout_at(deadline.into(), self.0.next()).await;
            let msg = match next {
                Err(_) => return,
                Ok(None) => {
                    on(Delivery::Problem("socket closed".into()));
                    return;
                }
                Ok(Some(Err(e))) => {
                    on(Delivery::Problem(format!("socket error: {e}")));
                    return;
                }
                Ok(Some(Ok(m))) => m,
            };
            let at = Instant::now();
            let text = match &msg {
                Message::Text(t) => t.as_str(),
                Message::Close(f) => {
                    on(Delivery::Problem(format!("closed by server: {f:?}")));
                    return;
                }
                _ => continue,
            };
            let keep = match serde_json::from_str::<Frame<'_>>(text) {
                Ok(f) if f.kind == "next" => match f.payload {
                    Some(Payload {
                        errors: Some(e), ..
                    }) => on(Delivery::Problem(format!("subscription error: {e}"))),
                    Some(Payload {
                        data:
                            Some(Data {
                                room_events: Some(Event { message: Some(m) }),
                            }),
                        ..
                    }) => match m.id.parse() {
                        Ok(id) => on(Delivery::Message {
                            sub: f.id.unwrap_or(""),
                            id,
                            content: m.content,
                            at,
                        }),
                        Err(_) => on(Delivery::Problem(format!("bad message id {}", m.id))),
                    },
                    // Another kind of room event (a join, typing): not a message.
                    _ => true,
                },
                Ok(f) if f.kind == "ping" || f.kind == "pong" || f.kind == "ka" => true,
                Ok(_) | Err(_) => on(Delivery::Problem(format!("unexpected frame: {text}"))),
            };
            if !keep {
                return;
            }
        }
    }
}
