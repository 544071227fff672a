//! Helpers to run a real-time client against a test server and read its events.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use centrifugo::client::{Client, ClientConfig, ClientEvent};
use centrifugo::tokens;
use serde_json::Value;
use tokio::sync::mpsc::Receiver;

use crate::server::{Centrifugo, SECRET};

/// Upper bound for any single wait in these tests.
pub const LIMIT: Duration = Duration::from_secs(10);

/// How tokens are minted for a test client.
#[derive(Clone)]
pub struct Tokens {
    pub user: String,
    pub secret: String,
    pub ttl: Duration,
    /// Channels that get a subscription token; others subscribe without one.
    pub token_for: fn(&str) -> bool,
    pub connection_calls: Arc<AtomicUsize>,
    pub subscription_calls: Arc<AtomicUsize>,
}

impl Tokens {
    /// Valid tokens for `user`, with subscription tokens for `room:` channels.
    pub fn for_user(user: &str) -> Self {
        Self {
            user: user.to_owned(),
            secret: SECRET.to_owned(),
            ttl: Duration::from_secs(300),
            token_for: |channel| channel.starts_with("room:"),
            connection_calls: Arc::default(),
            subscription_calls: Arc::default(),
        }
    }
}

/// A client config for `cf` with short reconnect delays.
pub fn config(cf: &Centrifugo, tokens: &Tokens) -> ClientConfig {
    let conn = tokens.clone();
    let sub = tokens.clone();
    let mut config = ClientConfig::new(
        cf.ws_url(),
        Arc::new(move || {
            conn.connection_calls.fetch_add(1, Ordering::SeqCst);
            tokens::connection_token(&conn.secret, &conn.user, conn.ttl)
        }),
        Arc::new(move |channel: &str| {
            sub.subscription_calls.fetch_add(1, Ordering::SeqCst);
            if (sub.token_for)(channel) {
                tokens::subscription_token(&sub.secret, &sub.user, channel, sub.ttl)
            } else {
                String::new()
            }
        }),
    );
    config.min_reconnect_delay = Duration::from_millis(50);
    config.max_reconnect_delay = Duration::from_millis(500);
    config.connect_timeout = Duration::from_secs(5);
    config
}

/// Starts a client for `user` and waits for `Connected`.
pub async fn connect(cf: &Centrifugo, user: &str) -> (Client, Receiver<ClientEvent>) {
    let (client, mut events) = Client::start(config(cf, &Tokens::for_user(user)));
    assert_eq!(next(&mut events).await, ClientEvent::Connected);
    (client, events)
}

/// The next event, failing the test after [`LIMIT`].
pub async fn next(events: &mut Receiver<ClientEvent>) -> ClientEvent {
    tokio::time::timeout(LIMIT, events.recv())
        .await
        .expect("no client event in time")
        .expect("client event stream ended")
}

/// Subscribes and checks the `Subscribed` event of a fresh subscription.
pub async fn subscribe(client: &Client, events: &mut Receiver<ClientEvent>, channel: &str) {
    tokio::time::timeout(LIMIT, client.subscribe(channel))
        .await
        .expect("subscribe timed out")
        .expect("subscribe refused");
    assert_eq!(
        next(events).await,
        ClientEvent::Subscribed {
            channel: channel.to_owned(),
            recovered: false,
            was_recovering: false
        }
    );
}

/// The next event, which must be a publication on `channel`: `(offset, data)`.
pub async fn publication(events: &mut Receiver<ClientEvent>, channel: &str) -> (u64, Value) {
    match next(events).await {
        ClientEvent::Publication {
            channel: got,
            data,
            offset,
        } if got == channel => (offset, data),
        other => panic!("expected a publication on {channel}, got {other:?}"),
    }
}
