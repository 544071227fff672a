use serde_json::json;

use crate::helpers::{code, field, spawn_app};

const REGISTER: &str = "mutation($u: String!, $p: String!) { register(username: $u, password: $p) { accessToken refreshToken expiresIn user { id username createdAt } } }";
const LOGIN: &str = "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken refreshToken expiresIn user { username } } }";
const REFRESH: &str = "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken user { username } } }";

#[tokio::test]
async fn register_then_me() {
    let app = spawn_app().await;
    let body = app
        .data(None, REGISTER, json!({"u": "alice", "p": "correct horse"}))
        .await;
    let reg = &body["register"];
    assert_eq!(reg["user"]["username"], "alice");
    assert_eq!(reg["expiresIn"], 900);
    let token = reg["accessToken"].as_str().unwrap();
    let me = app
        .data(Some(token), "{ me { id username createdAt } }", json!({}))
        .await;
    assert_eq!(me["me"]["username"], "alice");
    assert_eq!(me["me"]["id"], reg["user"]["id"]);
    assert_eq!(me["me"]["createdAt"], reg["user"]["createdAt"]);
}

#[tokio::test]
async fn usernames_are_unique_case_insensitively() {
    let app = spawn_app().await;
    app.register("alice").await;
    let body = app
        .gql(None, REGISTER, json!({"u": "ALICE", "p": "correct horse"}))
        .await;
    assert_eq!(code(&body), "CONFLICT");
    assert_eq!(field(&body), "username");
}

#[tokio::test]
async fn register_input_bounds() {
    let app = spawn_app().await;
    let cases = [
        ("ab", "password1", Some("username")),
        ("abc", "password1", None),
        (&*"u".repeat(32), "password1", None),
        (&*"v".repeat(33), "password1", Some("username")),
        ("bad name", "password1", Some("username")),
        ("pw7", "1234567", Some("password")),
        ("pw8", "12345678", None),
        ("pw128", &*"p".repeat(128), None),
        ("pw129", &*"p".repeat(129), Some("password")),
    ];
    for (u, p, bad) in cases {
        let body = app.gql(None, REGISTER, json!({"u": u, "p": p})).await;
        match bad {
            Some(f) => {
                assert_eq!(code(&body), "BAD_USER_INPUT", "{u}/{p}: {body}");
                assert_eq!(field(&body), f);
            }
            None => assert_eq!(body["data"]["register"]["user"]["username"], u, "{body}"),
        }
    }
}

#[tokio::test]
async fn login_same_error_for_unknown_user_and_wrong_password() {
    let app = spawn_app().await;
    app.register("alice").await;
    let ok = app
        .data(
            None,
            LOGIN,
            json!({"u": "Alice", "p": "correct horse battery"}),
        )
        .await;
    assert_eq!(ok["login"]["user"]["username"], "alice");
    let wrong = app
        .gql(None, LOGIN, json!({"u": "alice", "p": "wrong password"}))
        .await;
    let unknown = app
        .gql(None, LOGIN, json!({"u": "nobody", "p": "wrong password"}))
        .await;
    assert_eq!(code(&wrong), "UNAUTHENTICATED");
    assert_eq!(code(&unknown), "UNAUTHENTICATED");
    assert_eq!(
        wrong["errors"][0]["message"],
        unknown["errors"][0]["message"]
    );
}

#[tokio::test]
async fn repeated_login_failures_are_throttled() {
    let app = spawn_app().await;
    app.register("alice").await;
    for _ in 0..5 {
        let body = app
            .gql(None, LOGIN, json!({"u": "alice", "p": "wrong password"}))
            .await;
        assert_eq!(code(&body), "UNAUTHENTICATED");
    }
    // Even the right password is refused while throttled.
    let body = app
        .gql(
            None,
            LOGIN,
            json!({"u": "alice", "p": "correct horse battery"}),
        )
        .await;
    assert_eq!(code(&body), "TOO_MANY_REQUESTS");
    assert!(
        body["errors"][0]["extensions"]["retryAfter"]
            .as_u64()
            .unwrap()
            > 0
    );
    // Another username is unaffected.
    app.register("bob").await;
    let bob = app
        .data(
            None,
            LOGIN,
            json!({"u": "bob", "p": "correct horse battery"}),
        )
        .await;
    assert_eq!(bob["login"]["user"]["username"], "bob");
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let first = app.data(None, REFRESH, json!({"t": alice.refresh})).await;
    let r1 = first["refreshToken"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(r1, alice.refresh, "refresh token must rotate");
    let access = first["refreshToken"]["accessToken"].as_str().unwrap();
    let me = app
        .data(Some(access), "{ me { username } }", json!({}))
        .await;
    assert_eq!(me["me"]["username"], "alice");

    let second = app.data(None, REFRESH, json!({"t": r1})).await;
    let r2 = second["refreshToken"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();

    // Reusing the original token is detected...
    let reuse = app.gql(None, REFRESH, json!({"t": alice.refresh})).await;
    assert_eq!(code(&reuse), "UNAUTHENTICATED");
    // ...and revokes the whole family, including the newest token.
    let after = app.gql(None, REFRESH, json!({"t": r2})).await;
    assert_eq!(code(&after), "UNAUTHENTICATED");

    // A fresh sign-in starts a new family that works.
    let login = app
        .data(
            None,
            LOGIN,
            json!({"u": "alice", "p": "correct horse battery"}),
        )
        .await;
    let fresh = login["login"]["refreshToken"].as_str().unwrap();
    let ok = app.data(None, REFRESH, json!({"t": fresh})).await;
    assert_eq!(ok["refreshToken"]["user"]["username"], "alice");
}

#[tokio::test]
async fn concurrent_refreshes_with_one_token_yield_one_winner() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let results = futures_util::future::join_all(
        (0..5).map(|_| app.gql(None, REFRESH, json!({"t": alice.refresh}))),
    )
    .await;
    let winners = results.iter().filter(|b| b.get("errors").is_none()).count();
    assert_eq!(winners, 1, "{results:?}");
}

#[tokio::test]
async fn bad_and_missing_tokens_are_unauthenticated() {
    let app = spawn_app().await;
    let none = app.gql(None, "{ me { id } }", json!({})).await;
    assert_eq!(code(&none), "UNAUTHENTICATED");
    let bad = app
        .gql(Some("not-a-token"), "{ me { id } }", json!({}))
        .await;
    assert_eq!(code(&bad), "UNAUTHENTICATED");
    assert_eq!(
        bad["errors"][0]["message"],
        "invalid or expired access token"
    );
    let bad_refresh = app.gql(None, REFRESH, json!({"t": "nope"})).await;
    assert_eq!(code(&bad_refresh), "UNAUTHENTICATED");
}
