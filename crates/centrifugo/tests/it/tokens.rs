//! Tokens from `centrifugo::tokens` as the real server judges them.

use std::sync::Arc;
use std::time::Duration;

use centrifugo::client::{Client, ClientConfig, ClientEvent, Error};
use centrifugo::tokens;

use crate::events::{LIMIT, Tokens, config, connect, next, subscribe};
use crate::server::{Centrifugo, SECRET};

async fn try_subscribe(client: &Client, channel: &str) -> Result<(), Error> {
    tokio::time::timeout(LIMIT, client.subscribe(channel))
        .await
        .expect("subscribe timed out")
}

#[tokio::test]
async fn connection_and_subscription_tokens_are_accepted() {
    let Some(cf) = Centrifugo::start().await else {
        return;
    };
    let (client, mut events) = connect(&cf, "1").await;
    subscribe(&client, &mut events, "room:1").await;
    let presence = cf.api.presence("room:1").await.expect("presence");
    assert_eq!(presence.len(), 1);
    assert_eq!(presence[0].user, "1");
    client.shutdown();
}

#[tokio::test]
async fn room_without_subscription_token_is_refused_with_103() {
    let Some(cf) = Centrifugo::start().await else {
        return;
    };
    let mut tokens = Tokens::for_user("1");
    tokens.token_for = |_| false;
    let (client, mut events) = Client::start(config(&cf, &tokens));
    assert_eq!(next(&mut events).await, ClientEvent::Connected);
    let err = try_subscribe(&client, "room:1").await.unwrap_err();
    assert!(matches!(err, Error::Refused { code: 103, .. }), "{err:?}");
    // The connection stays usable.
    subscribe(&client, &mut events, "personal:#1").await;
}

#[tokio::test]
async fn personal_channel_is_for_its_user_only() {
    let Some(cf) = Centrifugo::start().await else {
        return;
    };
    let (owner, mut owner_events) = connect(&cf, "42").await;
    subscribe(&owner, &mut owner_events, "personal:#42").await;

    let (other, _other_events) = connect(&cf, "7").await;
    let err = try_subscribe(&other, "personal:#42").await.unwrap_err();
    assert!(matches!(err, Error::Refused { code: 103, .. }), "{err:?}");
}

#[tokio::test]
async fn subscription_token_signed_with_another_secret_is_refused_with_103() {
    let Some(cf) = Centrifugo::start().await else {
        return;
    };
    let mut config = config(&cf, &Tokens::for_user("8"));
    config.subscription_token = Arc::new(|channel: &str| {
        tokens::subscription_token("not-the-secret", "8", channel, Duration::from_secs(60))
    });
    let (client, mut events) = Client::start(config);
    assert_eq!(next(&mut events).await, ClientEvent::Connected);
    let err = try_subscribe(&client, "room:1").await.unwrap_err();
    assert!(matches!(err, Error::Refused { code: 103, .. }), "{err:?}");
}

#[tokio::test]
async fn subscription_token_of_another_user_ends_the_connection() {
    // Centrifugo answers a token whose `sub` (or `channel`) does not match with disconnect
    // 3500 "invalid token", which forbids reconnecting.
    let Some(cf) = Centrifugo::start().await else {
        return;
    };
    let mut config = config(&cf, &Tokens::for_user("8"));
    config.subscription_token = Arc::new(|channel: &str| {
        tokens::subscription_token(SECRET, "7", channel, Duration::from_secs(60))
    });
    let (client, mut events) = Client::start(config);
    assert_eq!(next(&mut events).await, ClientEvent::Connected);
    assert_eq!(try_subscribe(&client, "room:1").await, Err(Error::Closed));
    match next(&mut events).await {
        ClientEvent::Disconnected {
            code, reconnect, ..
        } => assert_eq!((code, reconnect), (3500, false)),
        other => panic!("expected a permanent disconnect, got {other:?}"),
    }
}

#[tokio::test]
async fn a_subscription_token_opens_a_personal_channel_to_a_trusted_client() {
    let Some(cf) = Centrifugo::start().await else {
        return;
    };
    let mut tokens = Tokens::for_user("chatgql-bridge");
    tokens.token_for = |_| true;
    let (client, mut events) = Client::start(config(&cf, &tokens));
    assert_eq!(next(&mut events).await, ClientEvent::Connected);
    subscribe(&client, &mut events, "personal:#42").await;
}

#[tokio::test]
async fn a_token_signed_with_another_secret_stops_the_client() {
    let Some(cf) = Centrifugo::start().await else {
        return;
    };
    let mut tokens = Tokens::for_user("1");
    tokens.secret = "not-the-secret".to_owned();
    let config: ClientConfig = config(&cf, &tokens);
    let (client, mut events) = Client::start(config);
    match next(&mut events).await {
        ClientEvent::Disconnected {
            code, reconnect, ..
        } => {
            assert_eq!(code, 3500);
            assert!(!reconnect);
        }
        other => panic!("expected a permanent disconnect, got {other:?}"),
    }
    let end = tokio::time::timeout(LIMIT, events.recv())
        .await
        .expect("stream end");
    assert_eq!(end, None, "the event stream ends");
    assert_eq!(try_subscribe(&client, "room:1").await, Err(Error::Closed));
}
