use sea_orm::ConnectionTrait;
use serde_json::json;

use crate::helpers::{code, spawn_app};

#[tokio::test]
async fn deep_queries_are_refused() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let mut q = String::from("{ rooms { edges { node { lastMessage { author { id } } } } } }");
    let ok = app.gql(Some(&alice.token), &q, json!({})).await;
    assert!(ok.get("errors").is_none(), "{ok}");
    q = format!(
        "{{ __schema {{ types {{ fields {{ type {{ {} name {} }} }} }} }} }}",
        "ofType { ".repeat(10),
        "}".repeat(10)
    );
    let deep = app.gql(Some(&alice.token), &q, json!({})).await;
    assert!(
        deep["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("too deep"),
        "{deep}"
    );
}

#[tokio::test]
async fn too_many_aliases_are_refused() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let fields: String = (0..31).map(|i| format!("a{i}: me {{ id }} ")).collect();
    let body = app
        .gql(Some(&alice.token), &format!("{{ {fields} }}"), json!({}))
        .await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("too many aliases"),
        "{body}"
    );
    let fields: String = (0..30).map(|i| format!("a{i}: me {{ id }} ")).collect();
    let body = app
        .gql(Some(&alice.token), &format!("{{ {fields} }}"), json!({}))
        .await;
    assert_eq!(body["data"]["a29"]["id"], alice.id.as_str());
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let app = spawn_app().await;
    let big = "x".repeat(300 * 1024);
    let resp = app
        .http
        .post(app.url("/graphql"))
        .json(&json!({"query": "{ me { id } }", "variables": {"pad": big}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
}

#[tokio::test]
async fn internal_errors_carry_no_detail() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let room = app.create_room(&alice, "general").await;
    // Break the schema under the running server.
    app.state
        .db
        .conn
        .execute_unprepared("DROP TABLE outbox")
        .await
        .unwrap();
    let body = app
        .gql(
            Some(&alice.token),
            "mutation($r: ID!) { sendMessage(roomId: $r, content: \"hi\") { id } }",
            json!({"r": room}),
        )
        .await;
    assert_eq!(code(&body), "INTERNAL_SERVER_ERROR");
    assert_eq!(body["errors"][0]["message"], "internal server error");
    assert!(
        !body.to_string().to_lowercase().contains("outbox"),
        "{body}"
    );
    // Nothing half-written: the message insert was rolled back with the outbox insert.
    app.state
        .db
        .conn
        .execute_unprepared("CREATE TABLE outbox (id INTEGER PRIMARY KEY, room_id BIGINT NOT NULL, payload TEXT NOT NULL, created_at TEXT NOT NULL)")
        .await
        .unwrap();
    let page = app
        .data(
            Some(&alice.token),
            "query($r: ID!) { messages(roomId: $r) { edges { node { id } } } }",
            json!({"r": room}),
        )
        .await;
    assert_eq!(page["messages"]["edges"].as_array().unwrap().len(), 0);
}
