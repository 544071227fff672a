//! `spawn_app()`: a real server on port 0 over a fresh database, and request helpers.

use std::sync::Arc;

use chatgql::{app, config::Config};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// A running server and a client for it.
pub struct TestApp {
    pub addr: std::net::SocketAddr,
    pub http: reqwest::Client,
    pub database_url: String,
    pub state: Arc<app::AppState>,
    stop: Option<oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<()>>,
    _dir: Option<tempfile::TempDir>,
}

/// A signed-in test user.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: String,
    pub username: String,
    pub token: String,
    pub refresh: String,
}

/// Where tests put their databases: a fresh PostgreSQL database per test when
/// `TEST_DATABASE_URL` names a server (its admin URL), else a fresh SQLite file.
pub async fn fresh_database() -> (String, Option<tempfile::TempDir>) {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(admin) if !admin.is_empty() => {
            use sea_orm::{ConnectionTrait, Database};
            let name = format!("chatgql_test_{}", uuid_like());
            let conn = Database::connect(&admin)
                .await
                .expect("connect TEST_DATABASE_URL");
            conn.execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create test database");
            conn.close().await.ok();
            let base = admin
                .rsplit_once('/')
                .expect("TEST_DATABASE_URL has a path")
                .0;
            (format!("{base}/{name}"), None)
        }
        _ => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}/chat.db?mode=rwc", dir.path().display());
            (url, Some(dir))
        }
    }
}

fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{:x}{:04x}", nanos, rand_u16())
}

fn rand_u16() -> u16 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::thread::current().id()) as u16
}

/// Starts a server on a fresh database.
pub async fn spawn_app() -> TestApp {
    let (url, dir) = fresh_database().await;
    spawn_app_on(url, dir).await
}

/// Starts a server on the given database (used to restart on the same data).
pub async fn spawn_app_on(database_url: String, dir: Option<tempfile::TempDir>) -> TestApp {
    spawn_with(Config::for_tests(database_url), dir).await
}

/// Starts a server with a custom configuration.
pub async fn spawn_with(config: Config, dir: Option<tempfile::TempDir>) -> TestApp {
    let database_url = config.database_url.clone();
    let app = app::build(config).await.expect("app builds");
    let addr = app.local_addr();
    let state = app.state();
    let (stop, stopped) = oneshot::channel::<()>();
    let done = tokio::spawn(async move {
        app.serve(async {
            let _ = stopped.await;
        })
        .await
        .expect("server runs");
    });
    let http = reqwest::Client::new();
    // Ready when /healthz answers (bounded wait, no fixed sleep).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Ok(r) = http.get(format!("http://{addr}/healthz")).send().await
            && r.status().is_success()
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "server never became healthy"
        );
        tokio::task::yield_now().await;
    }
    TestApp {
        addr,
        http,
        database_url,
        state,
        stop: Some(stop),
        done: Some(done),
        _dir: dir,
    }
}

impl TestApp {
    /// Stops the server gracefully and waits for it, returning the data folder.
    pub async fn stop(mut self) -> Option<tempfile::TempDir> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(done) = self.done.take() {
            done.await.expect("server task");
        }
        self._dir.take()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/graphql", self.addr)
    }

    /// POSTs a GraphQL request; returns the whole response body.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut req = self
            .http
            .post(self.url("/graphql"))
            .json(&json!({"query": query, "variables": variables}));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("request sent");
        resp.json().await.expect("JSON response")
    }

    /// Like `gql`, but panics on errors and returns `data`.
    pub async fn data(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let body = self.gql(token, query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }

    pub async fn register(&self, username: &str) -> TestUser {
        let d = self
            .data(
                None,
                "mutation($u: String!, $p: String!) { register(username: $u, password: $p) { accessToken refreshToken user { id username } } }",
                json!({"u": username, "p": "correct horse battery"}),
            )
            .await;
        TestUser {
            id: d["register"]["user"]["id"].as_str().unwrap().to_owned(),
            username: d["register"]["user"]["username"]
                .as_str()
                .unwrap()
                .to_owned(),
            token: d["register"]["accessToken"].as_str().unwrap().to_owned(),
            refresh: d["register"]["refreshToken"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn create_room(&self, user: &TestUser, name: &str) -> String {
        let d = self
            .data(
                Some(&user.token),
                "mutation($n: String!) { createRoom(name: $n) { id } }",
                json!({"n": name}),
            )
            .await;
        d["createRoom"]["id"].as_str().unwrap().to_owned()
    }

    pub async fn join(&self, user: &TestUser, room: &str) {
        self.data(
            Some(&user.token),
            "mutation($r: ID!) { joinRoom(roomId: $r) { id } }",
            json!({"r": room}),
        )
        .await;
    }

    /// Sends a message and returns its id.
    pub async fn send(&self, user: &TestUser, room: &str, content: &str) -> String {
        let d = self
            .data(
                Some(&user.token),
                "mutation($r: ID!, $c: String!) { sendMessage(roomId: $r, content: $c) { id } }",
                json!({"r": room, "c": content}),
            )
            .await;
        d["sendMessage"]["id"].as_str().unwrap().to_owned()
    }
}

/// The `extensions.code` of the first error.
pub fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {body}"))
}

/// The `extensions.field` of the first error.
pub fn field(body: &Value) -> &str {
    body["errors"][0]["extensions"]["field"]
        .as_str()
        .unwrap_or_else(|| panic!("no error field in {body}"))
}
