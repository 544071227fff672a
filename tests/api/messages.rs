use std::collections::HashSet;

use serde_json::{Value, json};

use crate::helpers::{code, field, spawn_app};

const SEND: &str = "mutation($r: ID!, $c: String!, $k: String) { sendMessage(roomId: $r, content: $c, clientId: $k) { id roomId content clientId createdAt author { id username } } }";
const PAGE: &str = "query($r: ID!, $last: Int, $before: String) { messages(roomId: $r, last: $last, before: $before) { edges { cursor node { id content } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";

fn contents(d: &Value) -> Vec<String> {
    d["messages"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["content"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn send_and_read_back() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let room = app.create_room(&alice, "general").await;
    let d = app
        .data(
            Some(&alice.token),
            SEND,
            json!({"r": room, "c": "  hi there \n", "k": "c-1"}),
        )
        .await;
    let m = &d["sendMessage"];
    assert_eq!(m["content"], "hi there");
    assert_eq!(m["roomId"], room.as_str());
    assert_eq!(m["clientId"], "c-1");
    assert_eq!(m["author"]["username"], "alice");
    assert_eq!(m["author"]["id"], alice.id.as_str());
    assert!(m["createdAt"].as_str().unwrap().ends_with('Z'));
    let page = app.data(Some(&alice.token), PAGE, json!({"r": room})).await;
    assert_eq!(contents(&page), ["hi there"]);
}

#[tokio::test]
async fn content_and_client_id_bounds() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let room = app.create_room(&alice, "general").await;
    let cases: [(String, Option<String>, Option<&str>); 7] = [
        ("".into(), None, Some("content")),
        (" \n\t ".into(), None, Some("content")),
        ("x".into(), None, None),
        ("m".repeat(4000), None, None),
        ("m".repeat(4001), None, Some("content")),
        ("ok".into(), Some("k".repeat(64)), None),
        ("ok".into(), Some("k".repeat(65)), Some("clientId")),
    ];
    for (content, cid, bad) in cases {
        let body = app
            .gql(
                Some(&alice.token),
                SEND,
                json!({"r": room, "c": content, "k": cid}),
            )
            .await;
        match bad {
            Some(f) => {
                assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
                assert_eq!(field(&body), f);
            }
            None => assert_eq!(body["data"]["sendMessage"]["content"], content.trim()),
        }
    }
}

#[tokio::test]
async fn non_members_cannot_read_or_post() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let mallory = app.register("mallory").await;
    let room = app.create_room(&alice, "private-ish").await;
    app.send(&alice, &room, "secret").await;
    let read = app
        .gql(Some(&mallory.token), PAGE, json!({"r": room}))
        .await;
    assert_eq!(code(&read), "FORBIDDEN");
    assert_eq!(read["data"], Value::Null);
    let post = app
        .gql(Some(&mallory.token), SEND, json!({"r": room, "c": "hi"}))
        .await;
    assert_eq!(code(&post), "FORBIDDEN");
    let missing = app
        .gql(Some(&alice.token), PAGE, json!({"r": "424242"}))
        .await;
    assert_eq!(code(&missing), "NOT_FOUND");
}

#[tokio::test]
async fn same_client_id_sent_concurrently_makes_one_message() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let room = app.create_room(&alice, "general").await;
    let results = futures_util::future::join_all((0..10).map(|_| {
        app.data(
            Some(&alice.token),
            SEND,
            json!({"r": room, "c": "once", "k": "retry-1"}),
        )
    }))
    .await;
    let ids: HashSet<String> = results
        .iter()
        .map(|d| d["sendMessage"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 1, "retries made several messages: {ids:?}");
    let page = app.data(Some(&alice.token), PAGE, json!({"r": room})).await;
    assert_eq!(contents(&page), ["once"]);
    // The same key in another room is a client bug, reported as such.
    let other = app.create_room(&alice, "other").await;
    let body = app
        .gql(
            Some(&alice.token),
            SEND,
            json!({"r": other, "c": "once", "k": "retry-1"}),
        )
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT");
    assert_eq!(field(&body), "clientId");
    // Another author may use the same key.
    let bob = app.register("bob").await;
    app.join(&bob, &room).await;
    let d = app
        .data(
            Some(&bob.token),
            SEND,
            json!({"r": room, "c": "mine", "k": "retry-1"}),
        )
        .await;
    assert_eq!(d["sendMessage"]["author"]["username"], "bob");
}

#[tokio::test]
async fn pages_have_no_gap_or_duplicate_while_messages_arrive() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let room = app.create_room(&alice, "busy").await;
    for i in 0..25 {
        app.send(&alice, &room, &format!("m{i:02}")).await;
    }
    let first = app
        .data(Some(&alice.token), PAGE, json!({"r": room, "last": 10}))
        .await;
    assert_eq!(
        contents(&first),
        (15..25).map(|i| format!("m{i:02}")).collect::<Vec<_>>()
    );
    assert_eq!(first["messages"]["pageInfo"]["hasPreviousPage"], true);
    assert_eq!(first["messages"]["pageInfo"]["hasNextPage"], false);
    let mut seen = contents(&first);
    let mut before = first["messages"]["pageInfo"]["startCursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut n = 25;
    loop {
        // New messages keep arriving between pages.
        app.send(&alice, &room, &format!("new{n}")).await;
        n += 1;
        let page = app
            .data(
                Some(&alice.token),
                PAGE,
                json!({"r": room, "last": 10, "before": before}),
            )
            .await;
        let mut older = contents(&page);
        older.extend(seen);
        seen = older;
        let info = &page["messages"]["pageInfo"];
        assert_eq!(info["hasNextPage"], true);
        if info["hasPreviousPage"] == false {
            break;
        }
        before = info["startCursor"].as_str().unwrap().to_owned();
    }
    assert_eq!(
        seen,
        (0..25).map(|i| format!("m{i:02}")).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn page_sizes_are_capped_at_100() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let room = app.create_room(&alice, "big").await;
    for i in 0..105 {
        app.send(&alice, &room, &format!("{i}")).await;
    }
    let d = app
        .data(Some(&alice.token), PAGE, json!({"r": room, "last": 500}))
        .await;
    assert_eq!(contents(&d).len(), 100);
    assert_eq!(contents(&d)[0], "5");
    let bad = app
        .gql(Some(&alice.token), PAGE, json!({"r": room, "last": -1}))
        .await;
    assert_eq!(field(&bad), "last");
    let bad = app
        .gql(
            Some(&alice.token),
            PAGE,
            json!({"r": room, "before": "zzz"}),
        )
        .await;
    assert_eq!(field(&bad), "before");
}
