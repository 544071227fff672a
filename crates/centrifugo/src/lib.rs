//! Centrifugo v6 support for chatgql.
//!
//! - [`api`]: a small client for Centrifugo's server HTTP API (publish, broadcast, history, …).
//! - [`tokens`]: HS256 connection and subscription JWTs that Centrifugo accepts.
//! - [`client`]: a server-side real-time client over Centrifugo's JSON WebSocket protocol, with
//!   reconnects, token refresh and history recovery.
//!
//! ```no_run
//! use std::{sync::Arc, time::Duration};
//! use centrifugo::{ApiClient, Client, ClientConfig, ClientEvent, tokens};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let api = ApiClient::new("http://127.0.0.1:8000", "api-key", Duration::from_secs(5))?;
//! let data = serde_json::json!({"__typename": "Typing", "roomId": "7"});
//! api.publish("room:7", &data, Some("typing-7-42-1"), true).await?;
//!
//! let secret = "hmac-secret";
//! let config = ClientConfig::new(
//!     "ws://127.0.0.1:8000/connection/websocket",
//!     Arc::new(move || tokens::connection_token(secret, "bridge", Duration::from_secs(3600))),
//!     Arc::new(move |channel: &str| {
//!         tokens::subscription_token(secret, "bridge", channel, Duration::from_secs(3600))
//!     }),
//! );
//! let (client, mut events) = Client::start(config);
//! client.subscribe("room:7").await?;
//! while let Some(event) = events.recv().await {
//!     match event {
//!         ClientEvent::Publication { channel, data, offset } => println!("{channel} {offset} {data}"),
//!         ClientEvent::Subscribed { recovered: false, was_recovering: true, .. } => {
//!             // Missed publications are gone: reload the room from the database.
//!         }
//!         _ => {}
//!     }
//! }
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

pub mod api;
pub mod client;
pub mod tokens;

pub use api::{ApiClient, ApiError, PublishResult};
pub use client::{Client, ClientConfig, ClientEvent, Error};
