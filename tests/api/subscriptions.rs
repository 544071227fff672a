use std::{collections::HashSet, time::Duration};

use serde_json::{Value, json};

use crate::{
    helpers::{TestApp, TestUser, fresh_database, spawn_app, spawn_with},
    ws_client::{Incoming, WsClient},
};

pub const ROOM_EVENTS: &str = "subscription($r: ID!, $a: ID) { roomEvents(roomId: $r, after: $a) { __typename
  ... on MessageAdded { roomId message { id roomId author { id username createdAt } content createdAt clientId } }
  ... on MemberJoined { roomId user { id username createdAt } memberCount }
  ... on MemberLeft { roomId user { id username createdAt } memberCount }
  ... on Typing { roomId user { id username createdAt } } } }";

const MY_EVENTS: &str = "subscription { myEvents { __typename
  ... on MessageAdded { roomId message { id content author { username } } }
  ... on MemberJoined { roomId user { username } memberCount }
  ... on MemberLeft { roomId user { username } memberCount }
  ... on Typing { roomId user { username } } } }";

async fn user_json(app: &TestApp, u: &TestUser) -> Value {
    app.data(
        Some(&u.token),
        "{ me { id username createdAt } }",
        json!({}),
    )
    .await["me"]
        .clone()
}

/// Sends `content` and returns the message as `sendMessage` reports it.
async fn send_full(
    app: &TestApp,
    u: &TestUser,
    room: &str,
    content: &str,
    cid: Option<&str>,
) -> Value {
    app.data(
        Some(&u.token),
        "mutation($r: ID!, $c: String!, $k: String) { sendMessage(roomId: $r, content: $c, clientId: $k) { id roomId author { id username createdAt } content createdAt clientId } }",
        json!({"r": room, "c": content, "k": cid}),
    )
    .await["sendMessage"]
        .clone()
}

/// The next `MessageAdded` of subscription `id`, skipping membership and typing events.
async fn next_message(c: &mut WsClient, id: &str) -> Value {
    loop {
        let data = c.next_data(id).await;
        let event = data.as_object().unwrap().values().next().unwrap();
        if event["__typename"] == "MessageAdded" {
            return data;
        }
    }
}

fn message_id(event: &Value) -> i64 {
    event["roomEvents"]["message"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// Subscribes to a room from its beginning (so nothing races the subscription) and skips
/// what is already there, up to and including `last_id`.
async fn subscribe_live(c: &mut WsClient, id: &str, room: &str) {
    c.subscribe(id, ROOM_EVENTS, json!({"r": room, "a": "0"}))
        .await;
}

#[tokio::test]
async fn subscriber_receives_the_exact_payload() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let room = app.create_room(&alice, "general").await;
    let mut c = WsClient::open(&app.ws_url(), &alice.token).await;
    subscribe_live(&mut c, "1", &room).await;
    let sent = send_full(&app, &alice, &room, "hi", Some("c-1")).await;
    let got = next_message(&mut c, "1").await;
    assert_eq!(
        got,
        json!({"roomEvents": {"__typename": "MessageAdded", "roomId": room, "message": sent}})
    );
    // The same JSON the outbox stores and Centrifugo receives.
    assert_eq!(
        got["roomEvents"]["message"]["author"],
        user_json(&app, &alice).await
    );
}

#[tokio::test]
async fn membership_and_typing_events_reach_members() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let room = app.create_room(&alice, "general").await;
    let mut c = WsClient::open(&app.ws_url(), &alice.token).await;
    subscribe_live(&mut c, "1", &room).await;
    let first = send_full(&app, &alice, &room, "ready?", None).await;
    assert_eq!(
        next_message(&mut c, "1").await["roomEvents"]["message"]["id"],
        first["id"]
    );

    app.join(&bob, &room).await;
    // Alice's own join (creating the room) may still be on its way: replay covers messages,
    // and earlier membership events arrive live.
    let joined = loop {
        let d = c.next_data("1").await;
        if d["roomEvents"]["user"]["username"] != "alice" {
            break d;
        }
    };
    assert_eq!(
        joined,
        json!({"roomEvents": {"__typename": "MemberJoined", "roomId": room, "user": user_json(&app, &bob).await, "memberCount": 2}})
    );
    let typing = app
        .data(
            Some(&bob.token),
            "mutation($r: ID!) { sendTyping(roomId: $r) }",
            json!({"r": room}),
        )
        .await;
    assert_eq!(typing["sendTyping"], true);
    // A second typing within a second is suppressed.
    let again = app
        .data(
            Some(&bob.token),
            "mutation($r: ID!) { sendTyping(roomId: $r) }",
            json!({"r": room}),
        )
        .await;
    assert_eq!(again["sendTyping"], false);
    let t = c.next_data("1").await;
    assert_eq!(t["roomEvents"]["__typename"], "Typing");
    assert_eq!(t["roomEvents"]["user"]["username"], "bob");

    app.data(
        Some(&bob.token),
        "mutation($r: ID!) { leaveRoom(roomId: $r) { id } }",
        json!({"r": room}),
    )
    .await;
    let left = c.next_data("1").await;
    assert_eq!(left["roomEvents"]["__typename"], "MemberLeft");
    assert_eq!(left["roomEvents"]["memberCount"], 1);
}

#[tokio::test]
async fn two_subscribers_both_receive() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let room = app.create_room(&alice, "general").await;
    app.join(&bob, &room).await;
    let mut a = WsClient::open(&app.ws_url(), &alice.token).await;
    let mut b = WsClient::open(&app.ws_url(), &bob.token).await;
    subscribe_live(&mut a, "a", &room).await;
    subscribe_live(&mut b, "b", &room).await;
    let sent = send_full(&app, &bob, &room, "to both", None).await;
    for (c, id) in [(&mut a, "a"), (&mut b, "b")] {
        let got = next_message(c, id).await;
        assert_eq!(got["roomEvents"]["message"], sent);
    }
}

#[tokio::test]
async fn a_thousand_rapid_messages_arrive_in_order() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let room = app.create_room(&alice, "firehose").await;
    let mut c = WsClient::open(&app.ws_url(), &alice.token).await;
    subscribe_live(&mut c, "1", &room).await;
    let sender = {
        let (app_url, token, room) = (app.url("/graphql"), alice.token.clone(), room.clone());
        let http = app.http.clone();
        tokio::spawn(async move {
            for i in 0..1000 {
                let r = http
                    .post(&app_url)
                    .bearer_auth(&token)
                    .json(&json!({"query": "mutation($r: ID!, $c: String!) { sendMessage(roomId: $r, content: $c) { id } }", "variables": {"r": room, "c": format!("{i}")}}))
                    .send()
                    .await
                    .unwrap();
                assert!(r.status().is_success());
            }
        })
    };
    let mut last = 0;
    for i in 0..1000 {
        let got = next_message(&mut c, "1").await;
        assert_eq!(got["roomEvents"]["message"]["content"], i.to_string());
        let id = message_id(&got);
        assert!(id > last, "out of order: {id} after {last}");
        last = id;
    }
    sender.await.unwrap();
    // Delivered rows leave the outbox: it empties once the relay has caught up.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (rows, _) = chatgql::realtime::relay::backlog(&app.state.db)
            .await
            .unwrap();
        if rows == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{rows} delivered events still in the outbox"
        );
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn non_members_are_refused() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let mallory = app.register("mallory").await;
    let room = app.create_room(&alice, "general").await;
    let mut c = WsClient::open(&app.ws_url(), &mallory.token).await;
    c.subscribe("1", ROOM_EVENTS, json!({"r": room})).await;
    let msg = c.next_for("1").await;
    assert_eq!(
        msg["payload"]["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{msg}"
    );
    assert_eq!(msg["payload"]["data"], Value::Null);
    assert_eq!(c.next_for("1").await["type"], "complete");
}

#[tokio::test]
async fn bad_or_missing_tokens_close_4401() {
    let app = spawn_app().await;
    for payload in [json!({"authorization": "Bearer nope"}), json!({})] {
        let mut c = WsClient::connect(&app.ws_url(), "graphql-transport-ws").await;
        c.init(payload).await;
        match c.recv().await {
            Incoming::Closed(code, _) => assert_eq!(code, 4401),
            other => panic!("expected close 4401, got {other:?}"),
        }
    }
    // A subscribe before any init is refused too.
    let mut c = WsClient::connect(&app.ws_url(), "graphql-transport-ws").await;
    c.subscribe("1", ROOM_EVENTS, json!({"r": "1"})).await;
    match c.recv().await {
        Incoming::Closed(code, _) => assert_eq!(code, 4401),
        other => panic!("expected close 4401, got {other:?}"),
    }
}

#[tokio::test]
async fn no_connection_init_closes_4408() {
    let app = spawn_app().await;
    let mut c = WsClient::connect(&app.ws_url(), "graphql-transport-ws").await;
    match c.recv().await {
        Incoming::Closed(code, _) => assert_eq!(code, 4408),
        other => panic!("expected close 4408, got {other:?}"),
    }
}

#[tokio::test]
async fn ping_is_answered_and_legacy_protocol_works() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let room = app.create_room(&alice, "general").await;
    let mut c = WsClient::open(&app.ws_url(), &alice.token).await;
    c.send(json!({"type": "ping"})).await;
    match c.recv().await {
        Incoming::Json(v) => assert_eq!(v["type"], "pong"),
        other => panic!("expected pong, got {other:?}"),
    }

    let mut legacy = WsClient::connect(&app.ws_url(), "graphql-ws").await;
    legacy
        .init(json!({"authorization": format!("Bearer {}", alice.token)}))
        .await;
    match legacy.recv().await {
        Incoming::Json(v) => assert_eq!(v["type"], "connection_ack"),
        other => panic!("expected ack, got {other:?}"),
    }
    legacy
        .subscribe("1", ROOM_EVENTS, json!({"r": room, "a": "0"}))
        .await;
    let sent = send_full(&app, &alice, &room, "old school", None).await;
    assert_eq!(
        next_message(&mut legacy, "1").await["roomEvents"]["message"],
        sent
    );
}

#[tokio::test]
async fn the_socket_closes_when_the_access_token_expires() {
    let (url, dir) = fresh_database().await;
    let mut config = chatgql::config::Config::for_tests(url);
    config.access_ttl = Duration::from_secs(1);
    let app = spawn_with(config, dir).await;
    let alice = app.register("alice").await;
    let mut c = WsClient::open(&app.ws_url(), &alice.token).await;
    match c.recv().await {
        Incoming::Closed(code, reason) => {
            assert_eq!(code, 4401);
            assert!(reason.contains("expired"), "{reason}");
        }
        other => panic!("expected close 4401, got {other:?}"),
    }
}

#[tokio::test]
async fn after_replays_then_goes_live_without_gap_or_duplicate() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let room = app.create_room(&alice, "replay").await;
    let mut ids = Vec::new();
    for i in 0..30 {
        ids.push(app.send(&alice, &room, &format!("m{i}")).await);
    }
    // Resume after the 10th message while a sender keeps posting.
    let sender = {
        let (url, token, room) = (app.url("/graphql"), alice.token.clone(), room.clone());
        let http = app.http.clone();
        tokio::spawn(async move {
            for i in 30..230 {
                http.post(&url)
                    .bearer_auth(&token)
                    .json(&json!({"query": "mutation($r: ID!, $c: String!) { sendMessage(roomId: $r, content: $c) { id } }", "variables": {"r": room, "c": format!("m{i}")}}))
                    .send()
                    .await
                    .unwrap();
            }
        })
    };
    let mut c = WsClient::open(&app.ws_url(), &alice.token).await;
    c.subscribe("1", ROOM_EVENTS, json!({"r": room, "a": ids[9]}))
        .await;
    let mut seen = Vec::new();
    for _ in 10..230 {
        let got = next_message(&mut c, "1").await;
        seen.push(
            got["roomEvents"]["message"]["content"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    sender.await.unwrap();
    let expected: Vec<String> = (10..230).map(|i| format!("m{i}")).collect();
    assert_eq!(seen, expected);
    // Nothing more: no duplicate trails behind.
    app.send(&alice, &room, "end").await;
    assert_eq!(
        next_message(&mut c, "1").await["roomEvents"]["message"]["content"],
        "end"
    );
}

#[tokio::test]
async fn a_stalled_subscriber_lags_while_a_healthy_one_gets_everything() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let room = app.create_room(&alice, "flood").await;
    let mut healthy = WsClient::open(&app.ws_url(), &alice.token).await;
    let mut stalled = WsClient::open(&app.ws_url(), &alice.token).await;
    subscribe_live(&mut healthy, "h", &room).await;
    subscribe_live(&mut stalled, "s", &room).await;
    // Prove both are live before flooding.
    let probe = app.send(&alice, &room, "probe").await;
    for (c, id) in [(&mut healthy, "h"), (&mut stalled, "s")] {
        assert_eq!(
            next_message(c, id).await["roomEvents"]["message"]["id"],
            probe.as_str()
        );
    }
    // 10,000 events straight into the hub, as the relay would publish them; each is large
    // enough that the stalled reader's socket buffers fill long before the end.
    let pad = "x".repeat(2000);
    let hub = app.state.realtime.hub.clone();
    let author = user_json(&app, &alice).await;
    let publisher = tokio::spawn({
        let room = room.clone();
        let pad = pad.clone();
        async move {
            for i in 0..10_000 {
                let event: chatgql::realtime::event::RoomEvent = serde_json::from_value(json!({
                    "__typename": "MessageAdded", "roomId": room,
                    "message": {"id": format!("{}", 1_000_000 + i), "roomId": room, "author": author,
                                "content": format!("f{i}{pad}"), "createdAt": "2026-12-04T19:00:00Z", "clientId": null}
                }))
                .unwrap();
                hub.publish(event);
                if i % 64 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        }
    });
    for i in 0..10_000 {
        let got = healthy.next_data("h").await;
        assert_eq!(
            got["roomEvents"]["message"]["content"],
            format!("f{i}{pad}")
        );
    }
    publisher.await.unwrap();
    // The stalled one now reads: some events, then the lag error, then completion.
    let mut got = 0;
    loop {
        let msg = stalled.next_for("s").await;
        if msg["type"] == "next" && msg["payload"].get("errors").is_some() {
            assert_eq!(
                msg["payload"]["errors"][0]["extensions"]["code"],
                "SUBSCRIBER_LAGGED"
            );
            break;
        }
        assert_eq!(msg["type"], "next", "{msg}");
        got += 1;
        assert!(got < 10_000, "the stalled subscriber never fell behind");
    }
    assert!(
        got < 10_000,
        "a stalled subscriber cannot have received everything"
    );
    assert_eq!(stalled.next_for("s").await["type"], "complete");
    assert!(app.state.realtime.hub.lag_count() >= 1);
}

#[tokio::test]
async fn an_event_committed_without_publish_is_delivered_by_another_relay() {
    let (url, dir) = fresh_database().await;
    // Node B runs a relay; node A commits but never publishes (as if it crashed right after
    // commit).
    let b = spawn_with(chatgql::config::Config::for_tests(url.clone()), dir).await;
    let mut config = chatgql::config::Config::for_tests(url);
    config.run_relay = false;
    let a = spawn_with(config, None).await;
    let alice = a.register("alice").await;
    let room = a.create_room(&alice, "handover").await;
    let mut c = WsClient::open(&b.ws_url(), &alice.token).await;
    // Live only (no replay), so the event can only come through B's relay.
    c.subscribe("1", ROOM_EVENTS, json!({"r": room})).await;
    let mut received = HashSet::new();
    let mut sent = Vec::new();
    // Keep sending until the first one arrives (proves the subscription is live), then one
    // more that must arrive through the relay.
    for i in 0..50 {
        sent.push(send_full(&a, &alice, &room, &format!("x{i}"), None).await["id"].clone());
        if let Some(Incoming::Json(v)) = c.recv_within(Duration::from_millis(1500)).await {
            received.insert(v["payload"]["data"]["roomEvents"]["message"]["id"].clone());
            break;
        }
    }
    assert!(!received.is_empty(), "nothing was ever relayed");
    let last = send_full(&a, &alice, &room, "after", None).await;
    loop {
        let got = next_message(&mut c, "1").await;
        if got["roomEvents"]["message"]["id"] == last["id"] {
            break;
        }
    }
}

#[tokio::test]
async fn my_events_follows_joins_and_leaves() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let first = app.create_room(&bob, "first").await;
    app.join(&alice, &first).await;
    let mut c = WsClient::open(&app.ws_url(), &alice.token).await;
    c.subscribe("me", MY_EVENTS, json!({})).await;
    // Wait until the subscription is live: probe until one arrives, then read up to the last
    // probe sent (one room: they arrive in order), so none is left to be read later.
    let mut last_probe = String::new();
    let mut seen = None;
    for i in 0..20 {
        last_probe = format!("probe-{i}");
        app.send(&bob, &first, &last_probe).await;
        // Alice's own join may still arrive first (committed before the subscription).
        if let Some(Incoming::Json(v)) = c.recv_within(Duration::from_millis(500)).await
            && let Some(content) = v["payload"]["data"]["myEvents"]["message"]["content"].as_str()
        {
            assert!(content.starts_with("probe-"), "{v}");
            seen = Some(content.to_owned());
            break;
        }
    }
    let mut seen = seen.expect("the subscription never became live");
    while seen != last_probe {
        let next = c.next_data("me").await;
        seen = next["myEvents"]["message"]["content"]
            .as_str()
            .unwrap_or_else(|| panic!("a probe expected: {next}"))
            .to_owned();
    }

    let second = app.create_room(&bob, "second").await;
    app.join(&alice, &second).await;
    let joined = c.next_data("me").await;
    assert_eq!(joined["myEvents"]["__typename"], "MemberJoined");
    assert_eq!(joined["myEvents"]["roomId"], second.as_str());
    app.send(&bob, &second, "in second").await;
    assert_eq!(
        c.next_data("me").await["myEvents"]["message"]["content"],
        "in second"
    );

    app.data(
        Some(&alice.token),
        "mutation($r: ID!) { leaveRoom(roomId: $r) { id } }",
        json!({"r": first}),
    )
    .await;
    let left = c.next_data("me").await;
    assert_eq!(left["myEvents"]["__typename"], "MemberLeft");
    assert_eq!(left["myEvents"]["roomId"], first.as_str());
    // Events of the room she left no longer reach her; the other room's still do.
    app.send(&bob, &first, "gone").await;
    app.send(&bob, &second, "still here").await;
    assert_eq!(
        c.next_data("me").await["myEvents"]["message"]["content"],
        "still here"
    );
}

#[tokio::test]
async fn online_lists_live_subscribers() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let room = app.create_room(&alice, "general").await;
    app.join(&bob, &room).await;
    let online = "query($r: ID!) { room(id: $r) { online { username } } }";
    let d = app
        .data(Some(&alice.token), online, json!({"r": room}))
        .await;
    assert_eq!(d["room"]["online"], json!([]));
    let mut c = WsClient::open(&app.ws_url(), &bob.token).await;
    subscribe_live(&mut c, "1", &room).await;
    let id = app.send(&alice, &room, "are you there").await;
    assert_eq!(
        next_message(&mut c, "1").await["roomEvents"]["message"]["id"],
        id.as_str()
    );
    let d = app
        .data(Some(&alice.token), online, json!({"r": room}))
        .await;
    assert_eq!(d["room"]["online"], json!([{"username": "bob"}]));
    c.send(json!({"id": "1", "type": "complete"})).await;
    // Presence ends with the subscription; poll the query until it does (bounded).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let d = app
            .data(Some(&alice.token), online, json!({"r": room}))
            .await;
        if d["room"]["online"] == json!([]) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "presence never cleared"
        );
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn subscribers_are_told_when_the_transport_lost_events() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let room = app.create_room(&alice, "lossy").await;
    let mut c = WsClient::open(&app.ws_url(), &alice.token).await;
    subscribe_live(&mut c, "room", &room).await;
    c.subscribe("mine", MY_EVENTS, json!({})).await;
    // Both live: a message reaches both subscriptions.
    for attempt in 0.. {
        assert!(attempt < 20, "the subscriptions never became live");
        let probe = app.send(&alice, &room, "probe").await;
        let mut got = HashSet::new();
        while let Some(Incoming::Json(v)) = c.recv_within(Duration::from_millis(500)).await {
            let data = &v["payload"]["data"];
            let ev = data
                .get("roomEvents")
                .or_else(|| data.get("myEvents"))
                .unwrap();
            if ev["message"]["id"] == probe.as_str() {
                got.insert(v["id"].as_str().unwrap().to_owned());
            }
            if got.len() == 2 {
                break;
            }
        }
        if got.len() == 2 {
            break;
        }
    }
    // What the Centrifugo bridge does when recovery fails.
    app.state.realtime.hub.fail_room(room.parse().unwrap());
    let mut codes = HashSet::new();
    while codes.len() < 2 {
        let Incoming::Json(v) = c.recv().await else {
            panic!("socket closed")
        };
        if let Some(code) = v["payload"]["errors"][0]["extensions"]["code"].as_str() {
            assert_eq!(code, "SUBSCRIBER_LAGGED");
            codes.insert(v["id"].as_str().unwrap().to_owned());
        }
    }
}

#[tokio::test]
async fn concurrent_relays_publish_each_event_once_in_order() {
    use chatgql::{
        db::Db,
        realtime::{Sink, hub::Hub, relay},
    };
    let (url, dir) = fresh_database().await;
    let mut config = chatgql::config::Config::for_tests(url.clone());
    config.run_relay = false;
    let app = spawn_with(config, dir).await;
    let alice = app.register("alice").await;
    let room = app.create_room(&alice, "contended").await;
    for i in 0..300 {
        app.send(&alice, &room, &format!("r{i}")).await;
    }
    let room_id: i64 = room.parse().unwrap();
    // Two "nodes": their own connections and hubs, draining the same outbox at once.
    let mut relays = Vec::new();
    let mut receivers = Vec::new();
    for _ in 0..2 {
        let db = Db::connect(&url).await.unwrap();
        let hub = std::sync::Arc::new(Hub::new(4096));
        receivers.push(hub.subscribe_room(room_id));
        relays.push(tokio::spawn(async move {
            let sink = Sink::InProcess(hub);
            while relay::backlog(&db).await.unwrap().0 > 0 {
                relay::drain(&db, &sink).await.unwrap();
                tokio::task::yield_now().await;
            }
        }));
    }
    for r in relays {
        r.await.unwrap();
    }
    let mut total = 0;
    let mut seen = HashSet::new();
    for mut rx in receivers {
        let mut last = 0;
        while let Ok(item) = rx.try_recv() {
            if let Some(id) = item.event.message_id() {
                assert!(id > last, "a relay published out of order");
                last = id;
                seen.insert(id);
                total += 1;
            }
        }
    }
    assert_eq!(seen.len(), 300, "every event published");
    if url.starts_with("postgres") {
        // The advisory lock lets one relay publish at a time: nothing twice.
        assert_eq!(total, 300, "an event was published twice");
    }
}
