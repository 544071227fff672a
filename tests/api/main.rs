//! Integration tests: every test talks to a real server on port 0 over a fresh database.

mod auth;
mod centrifugo;
#[path = "../../crates/centrifugo/tests/it/server.rs"]
mod centrifugo_server;
mod health;
mod helpers;
mod limits;
mod messages;
mod rooms;
mod schema;
mod subscriptions;
mod ws_client;
