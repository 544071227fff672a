use std::process::Command;

use crate::helpers::spawn_app;

#[tokio::test]
async fn healthz_and_readyz() {
    let app = spawn_app().await;
    let health = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["database"], "ok");

    // With the database gone, readiness fails with a reason, and liveness still answers.
    app.state.db.conn.close_by_ref().await.unwrap();
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["database"], "unreachable");
    let health = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
}

fn run(envs: &[(&str, &str)]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chatgql"));
    // Only the settings given: nothing of the caller's configuration leaks in.
    for (key, _) in std::env::vars_os() {
        let key_text = key.to_string_lossy();
        if ["CENTRIFUGO_", "CHATGQL_"]
            .iter()
            .any(|p| key_text.starts_with(p))
            || key_text == "DATABASE_URL"
            || key_text == "JWT_SECRET"
        {
            cmd.env_remove(&key);
        }
    }
    cmd.arg("serve")
        .current_dir(dir.path())
        .env("CHATGQL_ADDR", "127.0.0.1:0");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn last_line(stderr: &str) -> &str {
    stderr.trim_end().lines().last().unwrap_or_default()
}

#[test]
fn bad_configuration_ends_the_process_with_one_clear_line() {
    let (ok, err) = run(&[("DATABASE_URL", "mysql://localhost/x")]);
    assert!(!ok);
    assert!(
        last_line(&err).starts_with("chatgql: DATABASE_URL must start with"),
        "{err}"
    );

    let (ok, err) = run(&[("DATABASE_URL", "postgres://nobody:pw@127.0.0.1:1/none")]);
    assert!(!ok);
    let line = last_line(&err);
    assert!(
        line.starts_with(
            "chatgql: cannot connect to PostgreSQL at postgres://nobody:***@127.0.0.1:1/none"
        ),
        "{err}"
    );
    assert!(!err.contains(":pw@"), "password leaked: {err}");

    let (ok, err) = run(&[
        ("CHATGQL_ENV", "production"),
        ("DATABASE_URL", "sqlite::memory:"),
    ]);
    assert!(!ok);
    assert_eq!(
        last_line(&err),
        "chatgql: JWT_SECRET is required when CHATGQL_ENV=production"
    );

    let (ok, err) = run(&[("CENTRIFUGO_URL", "http://127.0.0.1:8000")]);
    assert!(!ok);
    assert_eq!(
        last_line(&err),
        "chatgql: CENTRIFUGO_API_KEY is required with CENTRIFUGO_URL"
    );
}

#[test]
fn migrate_subcommand_creates_the_default_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_chatgql"))
        .arg("migrate")
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("chatgql.db").exists());
}

#[tokio::test]
async fn a_graceful_restart_keeps_data_and_drains_the_outbox() {
    use sea_orm::{EntityTrait, PaginatorTrait};
    let app = crate::helpers::spawn_app().await;
    let alice = app.register("alice").await;
    assert_eq!(alice.username, "alice");
    let room = app.create_room(&alice, "persist").await;
    app.send(&alice, &room, "survives").await;
    let url = app.database_url.clone();
    let dir = app.stop().await;
    // Counted before anything starts again: a new relay would drain it too.
    let db = chatgql::db::Db::connect(&url).await.unwrap();
    let pending = chatgql::entities::outbox::Entity::find()
        .count(&db.conn)
        .await
        .unwrap();
    assert_eq!(pending, 0, "the relay drains the outbox before stopping");
    drop(db);

    let app = crate::helpers::spawn_app_on(url, dir).await;
    let login = app
        .data(
            None,
            "mutation { login(username: \"alice\", password: \"correct horse battery\") { accessToken } }",
            serde_json::json!({}),
        )
        .await;
    let token = login["login"]["accessToken"].as_str().unwrap();
    let page = app
        .data(
            Some(token),
            "query($r: ID!) { messages(roomId: $r) { edges { node { content } } } }",
            serde_json::json!({"r": room}),
        )
        .await;
    assert_eq!(page["messages"]["edges"][0]["node"]["content"], "survives");
}

#[tokio::test]
async fn metrics_count_operations_by_name_and_outcome() {
    let app = crate::helpers::spawn_app().await;
    let alice = app.register("alice").await;
    for _ in 0..3 {
        app.data(
            Some(&alice.token),
            "query MetricsProbeOk { me { id } }",
            serde_json::json!({}),
        )
        .await;
    }
    app.gql(
        None,
        "query MetricsProbeDenied { me { id } }",
        serde_json::json!({}),
    )
    .await;
    let text = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = |prefix: &str| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
            .rsplit(' ')
            .next()
            .unwrap()
            .parse::<f64>()
            .unwrap()
    };
    assert_eq!(
        line("chatgql_graphql_operations_total{operation=\"MetricsProbeOk\",outcome=\"ok\"}"),
        3.0
    );
    assert_eq!(
        line(
            "chatgql_graphql_operations_total{operation=\"MetricsProbeDenied\",outcome=\"UNAUTHENTICATED\"}"
        ),
        1.0
    );
    assert!(
        line("chatgql_graphql_operation_duration_seconds_count{operation=\"MetricsProbeOk\"}")
            >= 3.0
    );
    assert!(text.contains("chatgql_outbox_backlog "), "{text}");
    assert!(
        text.contains("chatgql_outbox_oldest_age_seconds "),
        "{text}"
    );
}
