//! GraphQL over WebSocket (`graphql-transport-ws` and legacy `graphql-ws`) with auth.
//!
//! The access token comes in the `connection_init` payload as `authorization`. A missing or
//! bad token closes the socket with 4401 before any subscription starts; no
//! `connection_init` within 10 s closes it with 4408; the socket closes with 4401 when the
//! token expires, so clients reconnect with a fresh one.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use async_graphql::http::{WebSocketProtocols, WsMessage};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::{FutureExt, SinkExt, StreamExt, future};

use crate::{
    app::{AppState, caller_from},
    graphql::{self, Caller, ChatSchema},
};

/// Most messages written before one flush.
const COALESCE: usize = 64;

/// How long a client has to send `connection_init`.
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves one WebSocket until either side closes it.
pub async fn serve(
    socket: WebSocket,
    protocol: WebSocketProtocols,
    schema: ChatSchema,
    state: Arc<AppState>,
) {
    let _open = crate::metrics::GaugeGuard::new(crate::metrics::WS_CONNECTIONS);
    let (mut sink, source) = socket.split();
    let input = source
        .take_while(|m| future::ready(m.is_ok()))
        .filter_map(|m| {
            future::ready(match m {
                Ok(Message::Text(t)) => Some(t.as_str().as_bytes().to_vec()),
                Ok(Message::Binary(b)) => Some(b.to_vec()),
                _ => None,
            })
        });
    // Set by the init callback: when the accepted token expires (unix seconds).
    let expiry: Arc<Mutex<Option<i64>>> = Arc::default();
    let init_state = state.clone();
    let init_expiry = expiry.clone();
    let mut stream = async_graphql::http::WebSocket::new(schema, input, protocol)
        .on_connection_init(move |payload| async move {
            let auth = payload
                .get("authorization")
                .or_else(|| payload.get("Authorization"))
                .and_then(|v| v.as_str());
            match caller_from(&init_state, auth) {
                Caller::User(viewer) => {
                    *init_expiry.lock().unwrap_or_else(|e| e.into_inner()) =
                        Some(viewer.expires_at);
                    Ok(graphql::request_data(&init_state, Caller::User(viewer)))
                }
                _ => Err(async_graphql::Error::new(
                    "Unauthorized: a valid access token is required",
                )),
            }
        });

    let init_deadline = tokio::time::sleep(INIT_TIMEOUT);
    tokio::pin!(init_deadline);
    // Armed once a token is accepted; one timer for the connection's life.
    let token_expiry = tokio::time::sleep(INIT_TIMEOUT);
    tokio::pin!(token_expiry);
    let mut expiry_armed = false;
    let mut acked = false;
    loop {
        if !expiry_armed && let Some(exp) = *expiry.lock().unwrap_or_else(|e| e.into_inner()) {
            let left = Duration::from_secs((exp - chrono::Utc::now().timestamp()).max(0) as u64);
            token_expiry
                .as_mut()
                .reset(tokio::time::Instant::now() + left);
            expiry_armed = true;
        }
        tokio::select! {
            msg = stream.next() => {
                let Some(mut msg) = msg else { break };
                // Write every message already waiting, then flush once: a burst (one event
                // for many subscriptions on this socket) goes out in a few writes instead of
                // one per frame.
                let mut stop = false;
                for queued in 1.. {
                    let out = match msg {
                        WsMessage::Text(text) => {
                            // Legacy `graphql-ws` refuses an init with a text message.
                            let refused = !acked && text.contains("\"connection_error\"");
                            acked = acked || text.contains("\"connection_ack\"");
                            if refused {
                                let _ = sink.feed(Message::Text(text.into())).await;
                                stop = true;
                                close(4401, "Unauthorized")
                            } else {
                                Message::Text(text.into())
                            }
                        }
                        // A refused connection_init (1002), or a subscribe before the
                        // handshake completed (1011): both are 4401 in the protocol.
                        WsMessage::Close(1002 | 1011, reason) if !acked => close(4401, &reason),
                        WsMessage::Close(code, reason) => close(code, &reason),
                    };
                    stop |= matches!(out, Message::Close(_));
                    if sink.feed(out).await.is_err() {
                        stop = true;
                        break;
                    }
                    if stop || queued == COALESCE {
                        break;
                    }
                    match stream.next().now_or_never() {
                        Some(Some(next)) => msg = next,
                        Some(None) => {
                            stop = true;
                            break;
                        }
                        None => break,
                    }
                }
                if sink.flush().await.is_err() || stop {
                    break;
                }
            }
            _ = &mut init_deadline, if !acked => {
                let _ = sink.send(close(4408, "Connection initialisation timeout")).await;
                break;
            }
            _ = &mut token_expiry, if expiry_armed => {
                let _ = sink.send(close(4401, "Access token expired")).await;
                break;
            }
        }
    }
    let _ = sink.close().await;
}

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.to_owned().into(),
    }))
}
