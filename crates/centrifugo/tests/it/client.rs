//! The real-time client against a real Centrifugo.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use centrifugo::api::PublishCommand;
use centrifugo::client::{Client, ClientEvent};
use serde_json::{Value, json};

use crate::events::{LIMIT, Tokens, config, connect, next, publication, subscribe};
use crate::server::Centrifugo;

async fn publish(cf: &Centrifugo, channel: &str, data: Value) -> u64 {
    tokio::time::timeout(LIMIT, cf.api.publish(channel, &data, None, false))
        .await
        .expect("publish timed out")
        .expect("publish")
        .offset
}

#[tokio::test]
async fn receives_200_publications_in_order_with_exact_data() {
    let Some(cf) = Centrifugo::start().await else {
        return;
    };
    let (client, mut events) = connect(&cf, "bridge").await;
    subscribe(&client, &mut events, "room:1").await;

    let data = |i: u64| json!({"__typename": "MessageAdded", "roomId": "1", "n": i, "text": format!("message {i} ✓")});
    let publisher = {
        let api = cf.api.clone();
        tokio::spawn(async move {
            for i in 1..=200 {
                api.publish("room:1", &data(i), Some(&format!("m-{i}")), false)
                    .await
                    .expect("publish");
            }
        })
    };
    for i in 1..=200 {
        assert_eq!(publication(&mut events, "room:1").await, (i, data(i)));
    }
    tokio::time::timeout(LIMIT, publisher)
        .await
        .expect("publisher")
        .expect("publisher task");
    client.shutdown();
    let end = tokio::time::timeout(LIMIT, events.recv())
        .await
        .expect("stream end");
    assert_eq!(end, None, "shutdown ends the event stream");
}

#[tokio::test]
async fn presence_shows_the_connected_client() {
    let Some(cf) = Centrifugo::start().await else {
        return;
    };
    let (client, mut events) = connect(&cf, "bridge").await;
    subscribe(&client, &mut events, "room:9").await;
    let presence = cf.api.presence("room:9").await.expect("presence");
    assert_eq!(presence.len(), 1);
    assert_eq!(presence[0].user, "bridge");
    assert!(!presence[0].client.is_empty());

    client.unsubscribe("room:9").await.expect("unsubscribe");
    // Unsubscribe resolves once the command is sent; poll presence until the server caught up.
    let deadline = tokio::time::Instant::now() + LIMIT;
    while !cf
        .api
        .presence("room:9")
        .await
        .expect("presence")
        .is_empty()
    {
        assert!(tokio::time::Instant::now() < deadline, "still present");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn subscribing_twice_is_a_no_op() {
    let Some(cf) = Centrifugo::start().await else {
        return;
    };
    let (client, mut events) = connect(&cf, "bridge").await;
    subscribe(&client, &mut events, "room:1").await;
    client.subscribe("room:1").await.expect("second subscribe");
    publish(&cf, "room:1", json!({"n": 1})).await;
    assert_eq!(
        publication(&mut events, "room:1").await,
        (1, json!({"n": 1}))
    );
}

/// Reads events until every channel in `want` has its `Subscribed` and publications; checks
/// that each channel's events come in the expected order with nothing extra.
async fn expect_recovery(
    events: &mut tokio::sync::mpsc::Receiver<ClientEvent>,
    want: &HashMap<&str, Vec<(u64, Value)>>,
    recovered: bool,
) {
    let mut got: HashMap<String, Vec<(u64, Value)>> = HashMap::new();
    let mut subscribed = 0;
    let total: usize = want.values().map(Vec::len).sum::<usize>() + want.len();
    for _ in 0..total {
        match next(events).await {
            ClientEvent::Subscribed {
                channel,
                recovered: r,
                was_recovering,
            } => {
                assert!(was_recovering, "{channel}: resubscribe must try to recover");
                assert_eq!(r, recovered, "{channel}");
                assert!(!got.contains_key(&channel), "{channel} subscribed twice");
                got.insert(channel, Vec::new());
                subscribed += 1;
            }
            ClientEvent::Publication {
                channel,
                data,
                offset,
            } => {
                let list = got
                    .get_mut(&channel)
                    .unwrap_or_else(|| panic!("{channel}: publication before Subscribed"));
                list.push((offset, data));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(subscribed, want.len());
    for (channel, list) in want {
        assert_eq!(&got[*channel], list, "{channel}");
    }
}

#[tokio::test]
async fn recovers_missed_publications_after_a_forced_disconnect() {
    let Some(cf) = Centrifugo::start().await else {
        return;
    };
    let tokens = Tokens::for_user("bridge");
    let mut config = config(&cf, &tokens);
    // Long enough to publish while the client is away.
    config.min_reconnect_delay = Duration::from_secs(1);
    config.max_reconnect_delay = Duration::from_secs(2);
    let (client, mut events) = Client::start(config);
    assert_eq!(next(&mut events).await, ClientEvent::Connected);
    subscribe(&client, &mut events, "room:1").await;
    subscribe(&client, &mut events, "personal:#bridge").await;

    for n in 1..=3 {
        publish(&cf, "room:1", json!({"n": n})).await;
        assert_eq!(
            publication(&mut events, "room:1").await,
            (n, json!({"n": n}))
        );
    }
    publish(&cf, "personal:#bridge", json!({"p": 1})).await;
    assert_eq!(
        publication(&mut events, "personal:#bridge").await,
        (1, json!({"p": 1}))
    );

    cf.api
        .disconnect("bridge", 3001, "test reconnect")
        .await
        .expect("disconnect");
    assert_eq!(
        next(&mut events).await,
        ClientEvent::Disconnected {
            code: 3001,
            reason: "test reconnect".into(),
            reconnect: true
        }
    );
    for n in 4..=8 {
        publish(&cf, "room:1", json!({"n": n})).await;
    }
    for p in 2..=3 {
        publish(&cf, "personal:#bridge", json!({"p": p})).await;
    }

    assert_eq!(next(&mut events).await, ClientEvent::Connected);
    let want = HashMap::from([
        ("room:1", (4..=8).map(|n| (n, json!({"n": n}))).collect()),
        (
            "personal:#bridge",
            (2..=3).map(|p| (p, json!({"p": p}))).collect(),
        ),
    ]);
    expect_recovery(&mut events, &want, true).await;

    // Live again, and nothing was emitted twice.
    publish(&cf, "room:1", json!({"n": 9})).await;
    assert_eq!(
        publication(&mut events, "room:1").await,
        (9, json!({"n": 9}))
    );
    assert!(
        tokens.connection_calls.load(Ordering::SeqCst) >= 2,
        "a fresh token per connect"
    );
}

#[tokio::test]
async fn reports_failed_recovery_when_history_is_too_short() {
    let Some(cf) = Centrifugo::start().await else {
        return;
    };
    let mut config = config(&cf, &Tokens::for_user("bridge"));
    config.min_reconnect_delay = Duration::from_secs(1);
    config.max_reconnect_delay = Duration::from_secs(2);
    let (client, mut events) = Client::start(config);
    assert_eq!(next(&mut events).await, ClientEvent::Connected);
    subscribe(&client, &mut events, "room:1").await;
    publish(&cf, "room:1", json!({"n": 1})).await;
    assert_eq!(
        publication(&mut events, "room:1").await,
        (1, json!({"n": 1}))
    );

    cf.api
        .disconnect("bridge", 3001, "test reconnect")
        .await
        .expect("disconnect");
    assert!(matches!(
        next(&mut events).await,
        ClientEvent::Disconnected {
            reconnect: true,
            ..
        }
    ));
    // History keeps 100: 150 more publications leave a gap that cannot be recovered.
    let commands: Vec<PublishCommand> = (2..=151)
        .map(|n| PublishCommand {
            channel: "room:1".into(),
            data: json!({"n": n}),
            idempotency_key: None,
            skip_history: false,
        })
        .collect();
    let results = cf.api.batch(&commands, false).await.expect("batch");
    assert!(results.iter().all(Result::is_ok));

    assert_eq!(next(&mut events).await, ClientEvent::Connected);
    expect_recovery(&mut events, &HashMap::from([("room:1", Vec::new())]), false).await;
    publish(&cf, "room:1", json!({"n": 152})).await;
    assert_eq!(
        publication(&mut events, "room:1").await,
        (152, json!({"n": 152}))
    );
}

#[tokio::test]
async fn stops_after_a_disconnect_that_forbids_reconnecting() {
    let Some(cf) = Centrifugo::start().await else {
        return;
    };
    let (client, mut events) = connect(&cf, "bridge").await;
    subscribe(&client, &mut events, "room:1").await;
    cf.api
        .disconnect("bridge", 4501, "kicked")
        .await
        .expect("disconnect");
    assert_eq!(
        next(&mut events).await,
        ClientEvent::Disconnected {
            code: 4501,
            reason: "kicked".into(),
            reconnect: false
        }
    );
    let end = tokio::time::timeout(LIMIT, events.recv())
        .await
        .expect("stream end");
    assert_eq!(end, None);
    assert_eq!(
        client.subscribe("room:2").await,
        Err(centrifugo::Error::Closed)
    );
}

#[tokio::test]
async fn publications_outside_history_are_delivered_between_stored_ones() {
    let Some(cf) = Centrifugo::start().await else {
        return;
    };
    let (client, mut events) = connect(&cf, "bridge").await;
    subscribe(&client, &mut events, "room:1").await;
    publish(&cf, "room:1", json!({"n": 1})).await;
    cf.api
        .publish("room:1", &json!({"typing": "alice"}), None, true)
        .await
        .expect("typing");
    publish(&cf, "room:1", json!({"n": 2})).await;
    assert_eq!(
        publication(&mut events, "room:1").await,
        (1, json!({"n": 1}))
    );
    assert_eq!(
        publication(&mut events, "room:1").await,
        (0, json!({"typing": "alice"}))
    );
    assert_eq!(
        publication(&mut events, "room:1").await,
        (2, json!({"n": 2}))
    );
}

#[tokio::test]
async fn unsubscribe_stops_publications_of_that_channel() {
    let Some(cf) = Centrifugo::start().await else {
        return;
    };
    let (client, mut events) = connect(&cf, "bridge").await;
    subscribe(&client, &mut events, "room:1").await;
    subscribe(&client, &mut events, "room:2").await;
    client.unsubscribe("room:1").await.expect("unsubscribe");
    publish(&cf, "room:1", json!({"gone": true})).await;
    publish(&cf, "room:2", json!({"n": 1})).await;
    // Both publications travel one connection in order: the first event must be room:2's.
    assert_eq!(
        publication(&mut events, "room:2").await,
        (1, json!({"n": 1}))
    );
}

#[tokio::test]
async fn a_server_side_unsubscribe_is_reported() {
    let Some(cf) = Centrifugo::start().await else {
        return;
    };
    let (client, mut events) = connect(&cf, "bridge").await;
    subscribe(&client, &mut events, "room:1").await;
    subscribe(&client, &mut events, "room:2").await;
    cf.api
        .unsubscribe("bridge", "room:1")
        .await
        .expect("unsubscribe");
    match next(&mut events).await {
        ClientEvent::Unsubscribed { channel, code, .. } => {
            assert_eq!(channel, "room:1");
            assert!((2000..2500).contains(&code), "{code}");
        }
        other => panic!("expected Unsubscribed, got {other:?}"),
    }
    publish(&cf, "room:1", json!({"gone": true})).await;
    publish(&cf, "room:2", json!({"n": 1})).await;
    assert_eq!(
        publication(&mut events, "room:2").await,
        (1, json!({"n": 1}))
    );
}

#[tokio::test]
async fn answers_server_pings() {
    let Some(cf) = Centrifugo::start_with(&[
        ("CENTRIFUGO_CLIENT_PING_INTERVAL", "1s"),
        ("CENTRIFUGO_CLIENT_PONG_TIMEOUT", "500ms"),
    ])
    .await
    else {
        return;
    };
    let (client, mut events) = connect(&cf, "bridge").await;
    subscribe(&client, &mut events, "room:1").await;
    // Several ping rounds: a client that did not answer would be disconnected (3012).
    let quiet = tokio::time::timeout(Duration::from_millis(3500), events.recv()).await;
    assert!(quiet.is_err(), "unexpected event {quiet:?}");
    publish(&cf, "room:1", json!({"n": 1})).await;
    assert_eq!(
        publication(&mut events, "room:1").await,
        (1, json!({"n": 1}))
    );
}

#[tokio::test]
async fn refreshes_expiring_tokens_without_reconnecting() {
    let Some(cf) = Centrifugo::start_with(&[
        ("CENTRIFUGO_CLIENT_EXPIRED_CLOSE_DELAY", "200ms"),
        ("CENTRIFUGO_CLIENT_EXPIRED_SUB_CLOSE_DELAY", "200ms"),
        // Subscription expiry is checked on this period (27 s by default).
        ("CENTRIFUGO_CLIENT_PRESENCE_UPDATE_INTERVAL", "500ms"),
    ])
    .await
    else {
        return;
    };
    let mut tokens = Tokens::for_user("bridge");
    tokens.ttl = Duration::from_secs(2);
    let (client, mut events) = Client::start(config(&cf, &tokens));
    assert_eq!(next(&mut events).await, ClientEvent::Connected);
    subscribe(&client, &mut events, "room:1").await;
    // Past two token lifetimes: without refreshes the server would close the connection.
    let quiet = tokio::time::timeout(Duration::from_millis(5000), events.recv()).await;
    assert!(quiet.is_err(), "unexpected event {quiet:?}");
    publish(&cf, "room:1", json!({"n": 1})).await;
    assert_eq!(
        publication(&mut events, "room:1").await,
        (1, json!({"n": 1}))
    );
    assert!(
        tokens.connection_calls.load(Ordering::SeqCst) >= 3,
        "connection token refreshed"
    );
    assert!(
        tokens.subscription_calls.load(Ordering::SeqCst) >= 3,
        "subscription token refreshed"
    );
}
