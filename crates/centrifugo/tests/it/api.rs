//! The server HTTP API client against a real Centrifugo.

use std::time::{Duration, Instant};

use centrifugo::ApiError;
use centrifugo::api::{ApiClient, PublishCommand, StreamPosition};
use serde_json::json;

use crate::server::{Centrifugo, free_port};

const LIMIT: Duration = Duration::from_secs(10);

async fn within<F: std::future::Future>(future: F) -> F::Output {
    tokio::time::timeout(LIMIT, future)
        .await
        .expect("timed out")
}

#[tokio::test]
async fn publish_and_history_round_trip() {
    let Some(cf) = Centrifugo::start().await else {
        return;
    };
    let items = [
        json!({"__typename": "MessageAdded", "roomId": "1", "message": {"id": "1", "content": "héllo ✓"}}),
        json!({"n": 2, "nested": {"list": [1, 2.5, null, true], "s": "quote \" and \\ backslash"}}),
        json!({"n": 3}),
    ];
    let mut epoch = String::new();
    for (i, data) in items.iter().enumerate() {
        let result = within(cf.api.publish("room:1", data, None, false))
            .await
            .expect("publish");
        assert_eq!(result.offset, i as u64 + 1);
        assert!(!result.epoch.is_empty());
        if i > 0 {
            assert_eq!(result.epoch, epoch, "one stream, one epoch");
        }
        epoch = result.epoch;
    }

    let history = within(cf.api.history("room:1", 10, None, false))
        .await
        .expect("history");
    assert_eq!(
        (history.offset, history.epoch.as_str()),
        (3, epoch.as_str())
    );
    let got: Vec<_> = history
        .publications
        .iter()
        .map(|p| (p.offset, p.data.clone()))
        .collect();
    let want: Vec<_> = items
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, d)| (i as u64 + 1, d))
        .collect();
    assert_eq!(got, want);

    let since = StreamPosition {
        offset: 1,
        epoch: epoch.clone(),
    };
    let later = within(cf.api.history("room:1", 10, Some(&since), false))
        .await
        .expect("since");
    let offsets: Vec<u64> = later.publications.iter().map(|p| p.offset).collect();
    assert_eq!(offsets, [2, 3]);

    let newest = within(cf.api.history("room:1", 2, None, true))
        .await
        .expect("reverse");
    let offsets: Vec<u64> = newest.publications.iter().map(|p| p.offset).collect();
    assert_eq!(offsets, [3, 2]);

    let position = within(cf.api.history("room:1", 0, None, false))
        .await
        .expect("position");
    assert!(position.publications.is_empty());
    assert_eq!(position.offset, 3);

    let stale = StreamPosition {
        offset: 1,
        epoch: "not-the-epoch".into(),
    };
    let err = within(cf.api.history("room:1", 10, Some(&stale), false))
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::Api { code: 112, .. }), "{err:?}");
}

#[tokio::test]
async fn idempotency_key_drops_a_duplicate_publish() {
    let Some(cf) = Centrifugo::start().await else {
        return;
    };
    let data = json!({"event": "message-7"});
    let first = within(cf.api.publish("room:2", &data, Some("event-7"), false))
        .await
        .expect("first");
    let again = within(cf.api.publish("room:2", &data, Some("event-7"), false))
        .await
        .expect("again");
    assert_eq!(
        first, again,
        "the duplicate answers with the first publication's position"
    );
    let other = within(
        cf.api
            .publish("room:2", &json!({"event": 8}), Some("event-8"), false),
    )
    .await
    .expect("other key");
    assert_eq!(other.offset, first.offset + 1);

    let history = within(cf.api.history("room:2", 10, None, false))
        .await
        .expect("history");
    let got: Vec<_> = history
        .publications
        .iter()
        .map(|p| p.data.clone())
        .collect();
    assert_eq!(got, [data, json!({"event": 8})]);
}

#[tokio::test]
async fn skip_history_is_delivered_but_not_stored() {
    let Some(cf) = Centrifugo::start().await else {
        return;
    };
    let stored = within(
        cf.api
            .publish("room:3", &json!({"kept": true}), None, false),
    )
    .await
    .expect("publish");
    let skipped = within(
        cf.api
            .publish("room:3", &json!({"typing": true}), None, true),
    )
    .await
    .expect("publish");
    assert_eq!(stored.offset, 1);
    assert_eq!((skipped.offset, skipped.epoch.as_str()), (0, ""));
    let history = within(cf.api.history("room:3", 10, None, false))
        .await
        .expect("history");
    assert_eq!(history.publications.len(), 1);
    assert_eq!(history.publications[0].data, json!({"kept": true}));
}

#[tokio::test]
async fn broadcast_answers_per_channel() {
    let Some(cf) = Centrifugo::start().await else {
        return;
    };
    let data = json!({"__typename": "MemberJoined", "roomId": "4"});
    let channels = [
        "room:4".to_owned(),
        "personal:#42".to_owned(),
        "nowhere:1".to_owned(),
    ];
    let results = within(cf.api.broadcast(&channels, &data, Some("join-4-42"), false))
        .await
        .expect("broadcast");
    assert_eq!(results.len(), 3);
    assert_eq!(results[0].as_ref().expect("room").offset, 1);
    assert_eq!(results[1].as_ref().expect("personal").offset, 1);
    let err = results[2].as_ref().unwrap_err();
    assert!(matches!(err, ApiError::Api { code: 102, .. }), "{err:?}");
    assert!(!err.is_temporary());

    for channel in &channels[..2] {
        let history = within(cf.api.history(channel, 10, None, false))
            .await
            .expect("history");
        let got: Vec<_> = history
            .publications
            .iter()
            .map(|p| p.data.clone())
            .collect();
        assert_eq!(got, std::slice::from_ref(&data), "{channel}");
    }
}

#[tokio::test]
async fn batch_publishes_in_order_with_per_command_results() {
    let Some(cf) = Centrifugo::start().await else {
        return;
    };
    let command = |channel: &str, n: u32, key: Option<&str>| PublishCommand {
        channel: channel.to_owned(),
        data: json!({"n": n}),
        idempotency_key: key.map(str::to_owned),
        skip_history: false,
    };
    let commands = [
        command("room:5", 1, Some("k1")),
        command("room:5", 2, Some("k2")),
        command("bad:5", 3, None),
        command("room:5", 2, Some("k2")),
        command("room:5", 4, None),
    ];
    let results = within(cf.api.batch(&commands, false)).await.expect("batch");
    let offsets: Vec<Option<u64>> = results
        .iter()
        .map(|r| r.as_ref().ok().map(|p| p.offset))
        .collect();
    assert_eq!(offsets, [Some(1), Some(2), None, Some(2), Some(3)]);
    let history = within(cf.api.history("room:5", 10, None, false))
        .await
        .expect("history");
    let got: Vec<_> = history
        .publications
        .iter()
        .map(|p| p.data["n"].as_u64())
        .collect();
    assert_eq!(got, [Some(1), Some(2), Some(4)]);
}

#[tokio::test]
async fn health_and_info() {
    let Some(cf) = Centrifugo::start().await else {
        return;
    };
    within(cf.api.health()).await.expect("healthy");
    let info = within(cf.api.info()).await.expect("info");
    assert_eq!(info.nodes.len(), 1);
    assert_eq!(info.nodes[0].num_clients, 0);
    assert!(!info.nodes[0].uid.is_empty());
}

#[tokio::test]
async fn wrong_api_key_is_a_permanent_error() {
    let Some(cf) = Centrifugo::start().await else {
        return;
    };
    let api =
        ApiClient::new(cf.api.base_url(), "not-the-key", Duration::from_secs(2)).expect("client");
    let err = within(api.publish("room:1", &json!({}), None, false))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ApiError::Status { status: 401, .. }),
        "{err:?}"
    );
    assert!(!err.is_temporary());
    // Health needs no key.
    within(api.health()).await.expect("healthy");
}

#[tokio::test]
async fn unknown_namespace_is_a_permanent_error() {
    let Some(cf) = Centrifugo::start().await else {
        return;
    };
    let err = within(cf.api.publish("nope:1", &json!({}), None, false))
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::Api { code: 102, .. }), "{err:?}");
    assert!(!err.is_temporary());
}

#[tokio::test]
async fn centrifugo_not_running_is_a_quick_temporary_error() {
    let api = ApiClient::new(
        format!("http://127.0.0.1:{}", free_port()),
        "key",
        Duration::from_millis(500),
    )
    .expect("client");
    let started = Instant::now();
    let err = within(api.publish("room:1", &json!({}), None, false))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ApiError::Transport(_) | ApiError::Timeout),
        "{err:?}"
    );
    assert!(err.is_temporary());
    assert!(within(api.health()).await.unwrap_err().is_temporary());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    // Accepts connections and never answers: the request timeout must end the call.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let hold = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let api = ApiClient::new(
        format!("http://127.0.0.1:{port}"),
        "key",
        Duration::from_millis(300),
    )
    .expect("client");
    let started = Instant::now();
    let err = within(api.publish("room:1", &json!({}), None, false))
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::Timeout), "{err:?}");
    assert!(err.is_temporary());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    hold.abort();
}
