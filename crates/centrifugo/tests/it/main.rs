//! Integration tests against a real Centrifugo v6 server (`CENTRIFUGO_BIN`).

mod api;
mod client;
mod events;
mod server;
mod tokens;
