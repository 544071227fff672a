//! The Centrifugo bridge against a real Centrifugo server.

use std::time::Duration;

use chatgql::config::{CentrifugoConfig, Config};
use serde_json::{Value, json};

use crate::{
    centrifugo_server::{API_KEY, Centrifugo, SECRET},
    helpers::{TestApp, fresh_database, spawn_with},
    subscriptions::ROOM_EVENTS,
    ws_client::WsClient,
};

fn config(url: &str, cf: &Centrifugo) -> Config {
    let mut c = Config::for_tests(url.to_owned());
    c.centrifugo = Some(CentrifugoConfig {
        url: cf.url(),
        api_key: API_KEY.to_owned().into(),
        token_secret: SECRET.to_owned().into(),
        ws_url: cf.ws_url(),
    });
    c
}

const SEND: &str = "mutation($r: ID!, $c: String!, $k: String) { sendMessage(roomId: $r, content: $c, clientId: $k) { id roomId author { id username createdAt } content createdAt clientId } }";

/// Waits (bounded) until `channel`'s history holds `n` publications; returns their data.
async fn history(cf: &Centrifugo, channel: &str, n: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let h = cf.api.history(channel, 1000, None, false).await.unwrap();
        if h.publications.len() >= n {
            return h.publications.into_iter().map(|p| p.data).collect();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{channel} has {} of {n}",
            h.publications.len()
        );
        tokio::task::yield_now().await;
    }
}

async fn app_with_centrifugo() -> Option<(TestApp, Centrifugo)> {
    let cf = Centrifugo::start().await?;
    let (url, dir) = fresh_database().await;
    Some((spawn_with(config(&url, &cf), dir).await, cf))
}

#[tokio::test]
async fn events_reach_room_and_personal_channels_with_the_contract_payload() {
    let Some((app, cf)) = app_with_centrifugo().await else {
        return;
    };
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let room = app.create_room(&alice, "general").await;
    app.join(&bob, &room).await;
    let sent = app
        .data(
            Some(&alice.token),
            SEND,
            json!({"r": room, "c": "hi", "k": "c-1"}),
        )
        .await["sendMessage"]
        .clone();
    let expected = json!({"__typename": "MessageAdded", "roomId": room, "message": sent});
    let in_room = history(&cf, &format!("room:{room}"), 3).await;
    assert_eq!(in_room[2], expected);
    assert_eq!(in_room[0]["__typename"], "MemberJoined");
    assert_eq!(in_room[1]["user"]["username"], "bob");
    let bobs = history(&cf, &format!("personal:#{}", bob.id), 2).await;
    assert_eq!(bobs.last().unwrap(), &expected);

    let info = app
        .data(
            Some(&alice.token),
            "{ realtime { mode centrifugoUrl connectionToken personalChannel } }",
            json!({}),
        )
        .await;
    assert_eq!(info["realtime"]["mode"], "CENTRIFUGO");
    assert_eq!(info["realtime"]["centrifugoUrl"], cf.ws_url().as_str());
    assert_eq!(
        info["realtime"]["personalChannel"],
        format!("personal:#{}", alice.id).as_str()
    );
    assert!(
        info["realtime"]["connectionToken"]
            .as_str()
            .unwrap()
            .split('.')
            .count()
            == 3
    );

    let tok = app
        .data(
            Some(&bob.token),
            "query($r: ID!) { roomChannelToken(roomId: $r) { channel token } }",
            json!({"r": room}),
        )
        .await;
    assert_eq!(
        tok["roomChannelToken"]["channel"],
        format!("room:{room}").as_str()
    );
    let mallory = app.register("mallory").await;
    let refused = app
        .gql(
            Some(&mallory.token),
            "query($r: ID!) { roomChannelToken(roomId: $r) { token } }",
            json!({"r": room}),
        )
        .await;
    assert_eq!(crate::helpers::code(&refused), "FORBIDDEN");

    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["centrifugo"], "ok");
}

#[tokio::test]
async fn an_outage_delays_but_loses_nothing() {
    let Some((app, cf)) = app_with_centrifugo().await else {
        return;
    };
    let alice = app.register("alice").await;
    let room = app.create_room(&alice, "outage").await;
    history(&cf, &format!("room:{room}"), 1).await;
    let port = cf.port;
    drop(cf);
    // Centrifugo is down: mutations still succeed, readiness says why.
    let mut ids = Vec::new();
    for i in 0..200 {
        ids.push(app.send(&alice, &room, &format!("m{i}")).await);
    }
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["centrifugo"], "unreachable");
    let typing = app
        .data(
            Some(&alice.token),
            "mutation($r: ID!) { sendTyping(roomId: $r) }",
            json!({"r": room}),
        )
        .await;
    assert_eq!(
        typing["sendTyping"], false,
        "typing is best effort during an outage"
    );

    // Back up (an empty memory engine): every event arrives, once, in order.
    let cf = Centrifugo::start_on(port).await;
    let got = history(&cf, &format!("room:{room}"), 100).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut all = got;
    while all.len() < 100 || all.last().unwrap()["message"]["content"] != "m199" {
        assert!(
            std::time::Instant::now() < deadline,
            "relay never caught up"
        );
        tokio::task::yield_now().await;
        all = cf
            .api
            .history(&format!("room:{room}"), 1000, None, false)
            .await
            .unwrap()
            .publications
            .into_iter()
            .map(|p| p.data)
            .collect();
    }
    // The room channel keeps the newest 100: m100..m199 in order, no duplicate.
    let contents: Vec<String> = all
        .iter()
        .map(|d| d["message"]["content"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        contents,
        (100..200).map(|i| format!("m{i}")).collect::<Vec<_>>()
    );
    // A GraphQL subscriber resuming with `after` sees all 200 once, in order.
    let mut c = WsClient::open(&app.ws_url(), &alice.token).await;
    c.subscribe("1", ROOM_EVENTS, json!({"r": room, "a": "0"}))
        .await;
    for i in 0..200 {
        let d = c.next_data("1").await;
        assert_eq!(d["roomEvents"]["message"]["content"], format!("m{i}"));
    }
}

#[tokio::test]
async fn a_subscriber_on_node_b_gets_what_node_a_commits() {
    let Some(cf) = Centrifugo::start().await else {
        return;
    };
    let (url, dir) = fresh_database().await;
    let a = spawn_with(config(&url, &cf), dir).await;
    let b = spawn_with(config(&url, &cf), None).await;
    let alice = a.register("alice").await;
    let room = a.create_room(&alice, "two nodes").await;
    let mut c = WsClient::open(&b.ws_url(), &alice.token).await;
    c.subscribe("1", ROOM_EVENTS, json!({"r": room})).await;
    // Live through Centrifugo: probe until the bridge has joined the room channel, then read
    // up to the last probe sent (they arrive in order), so none is left to be read later.
    let mut seen = None;
    let mut last_probe = String::new();
    for i in 0..40 {
        last_probe = format!("probe{i}");
        a.send(&alice, &room, &last_probe).await;
        if let Some(crate::ws_client::Incoming::Json(v)) =
            c.recv_within(Duration::from_millis(500)).await
        {
            assert!(v["payload"]["data"]["roomEvents"].is_object(), "{v}");
            seen = Some(v["payload"]["data"]["roomEvents"]["message"]["content"].clone());
            break;
        }
    }
    let mut seen = seen.expect("node B never received anything through Centrifugo");
    while seen != last_probe.as_str() {
        seen = c.next_data("1").await["roomEvents"]["message"]["content"].clone();
    }
    for i in 0..100 {
        a.send(&alice, &room, &format!("n{i}")).await;
    }
    for i in 0..100 {
        let d = c.next_data("1").await;
        assert_eq!(d["roomEvents"]["message"]["content"], format!("n{i}"));
    }
    assert!(
        c.recv_within(Duration::from_millis(500)).await.is_none(),
        "a duplicate arrived"
    );
}

#[tokio::test]
async fn a_client_on_centrifugo_node_2_receives_what_node_1_was_given() {
    let redis = match std::env::var("TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => url,
        _ if std::env::var_os("CI").is_some() => panic!("TEST_REDIS_URL is not set in CI"),
        _ => {
            eprintln!("notice: TEST_REDIS_URL is not set; skipping the Redis engine test");
            return;
        }
    };
    let engine = [
        ("CENTRIFUGO_ENGINE_TYPE", "redis"),
        ("CENTRIFUGO_ENGINE_REDIS_ADDRESS", redis.as_str()),
    ];
    let Some(node1) = Centrifugo::start_with(&engine).await else {
        return;
    };
    let node2 = Centrifugo::start_with(&engine).await.expect("second node");
    let (url, dir) = fresh_database().await;
    let app = spawn_with(config(&url, &node1), dir).await;
    let alice = app.register("alice").await;
    let room = app.create_room(&alice, "spread").await;

    let user = alice.id.clone();
    let channel = format!("personal:#{user}");
    let (client, mut events) = centrifugo::Client::start(centrifugo::ClientConfig::new(
        node2.ws_url(),
        std::sync::Arc::new(move || {
            centrifugo::tokens::connection_token(SECRET, &user, Duration::from_secs(600))
        }),
        std::sync::Arc::new(|_: &str| String::new()),
    ));
    tokio::time::timeout(Duration::from_secs(15), client.subscribe(&channel))
        .await
        .expect("subscribe in time")
        .expect("personal channel joined on node 2");
    let sent = app
        .data(
            Some(&alice.token),
            SEND,
            json!({"r": room, "c": "via redis", "k": null}),
        )
        .await["sendMessage"]
        .clone();
    let expected = json!({"__typename": "MessageAdded", "roomId": room, "message": sent});
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(15), events.recv())
            .await
            .expect("publication in time")
            .expect("client running");
        if let centrifugo::ClientEvent::Publication { data, .. } = ev
            && data["__typename"] == "MessageAdded"
        {
            assert_eq!(data, expected);
            break;
        }
    }
    client.shutdown();
}

/// The chatgql binary as a child process, so it can be killed with SIGKILL.
struct Process {
    child: std::process::Child,
    base: String,
}

impl Process {
    async fn start(port: u16, database_url: &str, cf: &Centrifugo) -> Self {
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_chatgql"))
            .arg("serve")
            .env("CHATGQL_ADDR", format!("127.0.0.1:{port}"))
            .env("DATABASE_URL", database_url)
            .env("JWT_SECRET", "kill-test-secret-kill-test-secret-kill")
            .env("CENTRIFUGO_URL", cf.url())
            .env("CENTRIFUGO_API_KEY", API_KEY)
            .env("CENTRIFUGO_TOKEN_SECRET", SECRET)
            .env("RUST_LOG", "warn")
            .stdin(std::process::Stdio::null())
            .spawn()
            .expect("chatgql starts");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !http
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            assert!(
                std::time::Instant::now() < deadline,
                "chatgql never became healthy"
            );
            tokio::task::yield_now().await;
        }
        Self { child, base }
    }

    fn kill(mut self) {
        // SIGKILL: no graceful drain, the relay dies wherever it is.
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

async fn post(
    base: &str,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> reqwest::Result<Value> {
    let mut req = reqwest::Client::new()
        .post(format!("{base}/graphql"))
        .json(&json!({"query": query, "variables": variables}));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await?.json().await
}

#[tokio::test]
async fn a_backend_killed_mid_stream_loses_and_duplicates_nothing() {
    let Some(cf) = Centrifugo::start().await else {
        return;
    };
    let (url, _dir) = fresh_database().await;
    let port = crate::centrifugo_server::free_port();
    let mut node = Process::start(port, &url, &cf).await;
    let reg = post(
        &node.base,
        None,
        "mutation { register(username: \"alice\", password: \"correct horse\") { accessToken } }",
        json!({}),
    )
    .await
    .unwrap();
    let token = reg["data"]["register"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let room = post(
        &node.base,
        Some(&token),
        "mutation { createRoom(name: \"crash\") { id } }",
        json!({}),
    )
    .await
    .unwrap()["data"]["createRoom"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let send = "mutation($r: ID!, $c: String!, $k: String) { sendMessage(roomId: $r, content: $c, clientId: $k) { id } }";
    let mut i = 0;
    while i < 200 {
        if i == 120 {
            node.kill();
            node = Process::start(port, &url, &cf).await;
        }
        // A client retries a failed send with the same clientId: never a second message.
        match post(
            &node.base,
            Some(&token),
            send,
            json!({"r": room, "c": format!("m{i}"), "k": format!("k{i}")}),
        )
        .await
        {
            Ok(body) if body["data"]["sendMessage"]["id"].is_string() => i += 1,
            _ => continue,
        }
    }
    // Centrifugo's room history (the newest 100) ends with m100..m199, in order, once each.
    let channel = format!("room:{room}");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let contents = loop {
        let h = cf.api.history(&channel, 1000, None, false).await.unwrap();
        let contents: Vec<String> = h
            .publications
            .iter()
            .filter_map(|p| p.data["message"]["content"].as_str().map(str::to_owned))
            .collect();
        if contents.last().map(String::as_str) == Some("m199") {
            break contents;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "relay never caught up: {contents:?}"
        );
        tokio::task::yield_now().await;
    };
    let tail: Vec<String> = contents[contents.len() - 100..].to_vec();
    assert_eq!(
        tail,
        (100..200).map(|i| format!("m{i}")).collect::<Vec<_>>()
    );
    // A GraphQL subscriber resuming with `after` sees all 200 once, in order.
    let ws = node.base.replace("http://", "ws://") + "/graphql";
    let mut c = WsClient::open(&ws, &token).await;
    c.subscribe("1", ROOM_EVENTS, json!({"r": room, "a": "0"}))
        .await;
    for i in 0..200 {
        let d = c.next_data("1").await;
        assert_eq!(d["roomEvents"]["message"]["content"], format!("m{i}"));
    }
    node.kill();
}
