use serde_json::{Value, json};

use crate::helpers::{code, field, spawn_app};

const ROOM: &str = "query($id: ID!) { room(id: $id) { id name memberCount isMember lastMessage { content author { username } } } }";
const ROOMS: &str = "query($first: Int, $after: String, $search: String, $mine: Boolean) { rooms(first: $first, after: $after, search: $search, memberOnly: $mine) { edges { cursor node { id name } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";

fn names(d: &Value) -> Vec<String> {
    d["rooms"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn create_join_leave_and_counts() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let created = app
        .data(
            Some(&alice.token),
            "mutation { createRoom(name: \"  General  \") { id name memberCount isMember lastMessage { id } } }",
            json!({}),
        )
        .await;
    let room = &created["createRoom"];
    assert_eq!(room["name"], "General");
    assert_eq!(room["memberCount"], 1);
    assert_eq!(room["isMember"], true);
    assert_eq!(room["lastMessage"], Value::Null);
    let id = room["id"].as_str().unwrap();

    let seen = app.data(Some(&bob.token), ROOM, json!({"id": id})).await;
    assert_eq!(seen["room"]["isMember"], false);
    assert_eq!(seen["room"]["memberCount"], 1);

    let join = "mutation($r: ID!) { joinRoom(roomId: $r) { memberCount isMember } }";
    for _ in 0..2 {
        // Joining twice is a no-op, not an error.
        let j = app.data(Some(&bob.token), join, json!({"r": id})).await;
        assert_eq!(j["joinRoom"]["memberCount"], 2);
        assert_eq!(j["joinRoom"]["isMember"], true);
    }
    app.send(&bob, id, "hello").await;
    let seen = app.data(Some(&alice.token), ROOM, json!({"id": id})).await;
    assert_eq!(seen["room"]["lastMessage"]["content"], "hello");
    assert_eq!(seen["room"]["lastMessage"]["author"]["username"], "bob");

    let leave = "mutation($r: ID!) { leaveRoom(roomId: $r) { memberCount isMember } }";
    let l = app.data(Some(&bob.token), leave, json!({"r": id})).await;
    assert_eq!(l["leaveRoom"]["memberCount"], 1);
    assert_eq!(l["leaveRoom"]["isMember"], false);
}

#[tokio::test]
async fn room_name_bounds() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let q = "mutation($n: String!) { createRoom(name: $n) { name } }";
    for (name, ok) in [
        ("", false),
        ("   ", false),
        ("x", true),
        (&*"r".repeat(80), true),
        (&*format!("  {}  ", "s".repeat(80)), true),
        (&*"t".repeat(81), false),
    ] {
        let body = app.gql(Some(&alice.token), q, json!({"n": name})).await;
        if ok {
            assert_eq!(body["data"]["createRoom"]["name"], name.trim(), "{body}");
        } else {
            assert_eq!(code(&body), "BAD_USER_INPUT", "{name:?}: {body}");
            assert_eq!(field(&body), "name");
        }
    }
}

#[tokio::test]
async fn missing_rooms() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let none = app
        .data(Some(&alice.token), ROOM, json!({"id": "999"}))
        .await;
    assert_eq!(none["room"], Value::Null);
    let join = app
        .gql(
            Some(&alice.token),
            "mutation { joinRoom(roomId: \"999\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&join), "NOT_FOUND");
    let bad = app
        .gql(
            Some(&alice.token),
            "mutation { joinRoom(roomId: \"abc\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&bad), "BAD_USER_INPUT");
    assert_eq!(field(&bad), "roomId");
}

#[tokio::test]
async fn rooms_are_listed_most_recently_active_first() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let a = app.create_room(&alice, "alpha").await;
    let _b = app.create_room(&alice, "beta").await;
    let _c = app.create_room(&alice, "gamma").await;
    let d = app.data(Some(&alice.token), ROOMS, json!({})).await;
    assert_eq!(names(&d), ["gamma", "beta", "alpha"]);
    // A message makes alpha the most recently active.
    app.send(&alice, &a, "bump").await;
    let d = app.data(Some(&alice.token), ROOMS, json!({})).await;
    assert_eq!(names(&d), ["alpha", "gamma", "beta"]);
}

#[tokio::test]
async fn rooms_search_and_member_only() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    app.create_room(&alice, "Rust Lovers").await;
    app.create_room(&alice, "rusty_nails").await;
    app.create_room(&bob, "Go gophers").await;
    app.create_room(&bob, "100% sure").await;
    let d = app
        .data(Some(&alice.token), ROOMS, json!({"search": "RUST"}))
        .await;
    assert_eq!(names(&d), ["rusty_nails", "Rust Lovers"]);
    // LIKE wildcards are matched literally.
    let d = app
        .data(Some(&alice.token), ROOMS, json!({"search": "%"}))
        .await;
    assert_eq!(names(&d), ["100% sure"]);
    let d = app
        .data(Some(&alice.token), ROOMS, json!({"search": "_"}))
        .await;
    assert_eq!(names(&d), ["rusty_nails"]);
    let d = app
        .data(Some(&bob.token), ROOMS, json!({"mine": true}))
        .await;
    assert_eq!(names(&d), ["100% sure", "Go gophers"]);
    let d = app.data(Some(&bob.token), ROOMS, json!({})).await;
    assert_eq!(names(&d).len(), 4);
}

#[tokio::test]
async fn rooms_paginate_without_gap_or_duplicate() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    for i in 0..7 {
        app.create_room(&alice, &format!("room-{i}")).await;
    }
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let d = app
            .data(
                Some(&alice.token),
                ROOMS,
                json!({"first": 3, "after": after}),
            )
            .await;
        seen.extend(names(&d));
        pages += 1;
        let info = &d["rooms"]["pageInfo"];
        assert_eq!(info["hasPreviousPage"], after.is_some());
        if info["hasNextPage"] == false {
            break;
        }
        after = Some(info["endCursor"].as_str().unwrap().to_owned());
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..7).rev().map(|i| format!("room-{i}")).collect();
    assert_eq!(seen, expected);

    let bad = app
        .gql(Some(&alice.token), ROOMS, json!({"after": "bogus"}))
        .await;
    assert_eq!(code(&bad), "BAD_USER_INPUT");
    assert_eq!(field(&bad), "after");
    let zero = app
        .gql(Some(&alice.token), ROOMS, json!({"first": 0}))
        .await;
    assert_eq!(field(&zero), "first");
}

#[tokio::test]
async fn anyone_signed_in_may_list_rooms_but_not_anonymously() {
    let app = spawn_app().await;
    let body = app.gql(None, ROOMS, json!({})).await;
    assert_eq!(code(&body), "UNAUTHENTICATED");
}
