//! The server under test (in-process, a child process, or a URL), its databases, and a
//! small GraphQL-over-HTTP client with setup helpers.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, Instant},
};

use anyhow::{Context as _, anyhow, bail};
use chatgql::{
    app,
    config::{CentrifugoConfig, Config},
};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// The JWT secret of every server the bench starts.
pub const JWT_SECRET: &str = "bench-secret-bench-secret-bench-secret";
/// The password of every bench user.
pub const PASSWORD: &str = "bench-password-1";

/// Which database engine the bench provisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// A fresh SQLite file per server.
    Sqlite,
    /// A fresh PostgreSQL database per server (needs `--pg-admin-url`).
    Postgres,
}

/// Creates fresh databases and drops them at the end.
pub struct Databases {
    engine: Engine,
    pg_admin: Option<String>,
    dir: tempfile::TempDir,
    created: std::sync::Mutex<Vec<String>>,
    counter: AtomicU32,
}

impl Databases {
    /// Databases of `engine`; PostgreSQL ones are created through `pg_admin`.
    pub fn new(engine: Engine, pg_admin: Option<String>) -> anyhow::Result<Self> {
        if engine == Engine::Postgres && pg_admin.is_none() {
            bail!("--database postgres needs --pg-admin-url (scripts/postgres.sh prints one)");
        }
        Ok(Self {
            engine,
            pg_admin,
            dir: tempfile::tempdir().context("temp dir")?,
            created: Default::default(),
            counter: AtomicU32::new(0),
        })
    }

    /// The engine.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// A URL of a new, empty database.
    pub async fn fresh(&self) -> anyhow::Result<String> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        match self.engine {
            Engine::Sqlite => Ok(format!(
                "sqlite://{}/bench-{n}.db?mode=rwc",
                self.dir.path().display()
            )),
            Engine::Postgres => {
                let admin = self.pg_admin.as_deref().expect("checked in new");
                let name = format!("chatgql_bench_{}_{}_{n}", std::process::id(), unix_ms());
                let conn = Database::connect(admin)
                    .await
                    .context("connect --pg-admin-url")?;
                conn.execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .context("CREATE DATABASE")?;
                conn.close().await.ok();
                self.created.lock().expect("lock").push(name.clone());
                let base = admin
                    .rsplit_once('/')
                    .ok_or_else(|| anyhow!("--pg-admin-url has no database path"))?
                    .0;
                Ok(format!("{base}/{name}"))
            }
        }
    }

    /// Durability settings as the database reports them.
    pub async fn durability(&self, url: &str) -> String {
        match self.engine {
            Engine::Sqlite => "SQLite WAL, synchronous=NORMAL (a commit survives a process crash; the last transactions may be lost on power loss)".into(),
            Engine::Postgres => {
                let show = |name: &'static str| async move {
                    let conn = Database::connect(url).await.ok()?;
                    let row = conn
                        .query_one_raw(sea_orm::Statement::from_string(
                            sea_orm::DbBackend::Postgres,
                            format!("SHOW {name}"),
                        ))
                        .await
                        .ok()??;
                    row.try_get_by_index::<String>(0).ok()
                };
                let fsync = show("fsync").await.unwrap_or_else(|| "?".into());
                let sync = show("synchronous_commit").await.unwrap_or_else(|| "?".into());
                let version = show("server_version").await.unwrap_or_else(|| "?".into());
                format!("PostgreSQL {version}, fsync={fsync}, synchronous_commit={sync} (server defaults)")
            }
        }
    }

    /// Drops every PostgreSQL database this run created.
    pub async fn cleanup(&self) {
        let names: Vec<String> = std::mem::take(&mut *self.created.lock().expect("lock"));
        let Some(admin) = &self.pg_admin else { return };
        if names.is_empty() {
            return;
        }
        if let Ok(conn) = Database::connect(admin.as_str()).await {
            for name in names {
                let _ = conn
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
            }
            conn.close().await.ok();
        }
    }
}

fn unix_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

/// A running server.
pub struct Server {
    /// `http://host:port`.
    pub base: String,
    /// The database it runs on, when the bench started it.
    pub database_url: Option<String>,
    stop: Option<oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<()>>,
    child: Option<Child>,
}

impl Server {
    /// Starts the server in this process on a free loopback port.
    pub async fn in_process(
        database_url: String,
        centrifugo: Option<CentrifugoConfig>,
    ) -> anyhow::Result<Self> {
        let mut config = Config::for_tests(database_url.clone());
        config.jwt_secret = JWT_SECRET.to_owned().into();
        config.centrifugo = centrifugo;
        let app = app::build(config).await?;
        let addr = app.local_addr();
        let (stop, rx) = oneshot::channel::<()>();
        let done = tokio::spawn(async move {
            if let Err(e) = app
                .serve(async {
                    let _ = rx.await;
                })
                .await
            {
                eprintln!("server error: {e:#}");
            }
        });
        Ok(Self {
            base: format!("http://{addr}"),
            database_url: Some(database_url),
            stop: Some(stop),
            done: Some(done),
            child: None,
        })
    }

    /// Starts the `chatgql` binary as a child process on a free loopback port.
    pub async fn child(bin: &Path, database_url: String) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let child = Command::new(bin)
            .arg("serve")
            .env_remove("CENTRIFUGO_URL")
            .env("CHATGQL_ADDR", addr.to_string())
            .env("DATABASE_URL", &database_url)
            .env("JWT_SECRET", JWT_SECRET)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("spawn {}", bin.display()))?;
        let server = Self {
            base: format!("http://{addr}"),
            database_url: Some(database_url),
            stop: None,
            done: None,
            child: Some(child),
        };
        server.wait_healthy(Duration::from_secs(30)).await?;
        Ok(server)
    }

    /// A server already running at `url` (`http://host:port`).
    pub fn remote(url: &str) -> Self {
        Self {
            base: url.trim_end_matches('/').to_owned(),
            database_url: None,
            stop: None,
            done: None,
            child: None,
        }
    }

    /// The process id of a child server.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The WebSocket URL of `/graphql`.
    pub fn ws_url(&self) -> String {
        format!("{}/graphql", self.base.replacen("http", "ws", 1))
    }

    /// Waits until `/healthz` answers.
    pub async fn wait_healthy(&self, limit: Duration) -> anyhow::Result<()> {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(r) = http.get(format!("{}/healthz", self.base)).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("{} did not become healthy within {limit:?}", self.base);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the server reports at least `n` live subscriptions on `/metrics`.
    pub async fn wait_subscriptions(&self, n: usize, limit: Duration) -> anyhow::Result<()> {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + limit;
        let gauge = format!("{} ", chatgql::metrics::SUBSCRIPTIONS);
        let mut live = 0.0;
        loop {
            if let Ok(r) = http.get(format!("{}/metrics", self.base)).send().await
                && let Ok(text) = r.text().await
            {
                live = text
                    .lines()
                    .find_map(|l| l.strip_prefix(&gauge))
                    .and_then(|v| v.trim().parse::<f64>().ok())
                    .unwrap_or(0.0);
                if live >= n as f64 {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                bail!("{live} of {n} subscriptions live after {limit:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(done) = self.done.take() {
            let _ = tokio::time::timeout(Duration::from_secs(15), done).await;
        }
        if let Some(mut child) = self.child.take() {
            // SIGTERM first for a graceful stop, then kill.
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            for _ in 0..100 {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct User {
    /// Access token.
    pub token: String,
}

/// GraphQL over HTTP against one server.
#[derive(Clone)]
pub struct Api {
    /// The HTTP client (keep-alive pool).
    pub http: reqwest::Client,
    /// `http://host:port/graphql`.
    pub url: String,
}

static RUN: AtomicU32 = AtomicU32::new(0);

impl Api {
    /// A client for `server`.
    pub fn new(server: &Server) -> Self {
        Self {
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(1024)
                .timeout(Duration::from_secs(30))
                .build()
                .expect("http client"),
            url: format!("{}/graphql", server.base),
        }
    }

    /// Runs one operation; errors when the response has `errors`.
    pub async fn data(
        &self,
        token: Option<&str>,
        query: &str,
        vars: Value,
    ) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .post(&self.url)
            .json(&json!({"query": query, "variables": vars}));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let body: Value = req.send().await?.json().await?;
        if let Some(errors) = body.get("errors") {
            bail!("GraphQL errors: {errors}");
        }
        Ok(body["data"].clone())
    }

    /// Registers `n` new users, at most `parallel` at a time (password hashing is slow).
    pub async fn users(&self, n: usize, parallel: usize) -> anyhow::Result<Vec<User>> {
        let run = RUN.fetch_add(1, Ordering::Relaxed);
        let tag = format!("{:x}", unix_ms() % 0xffff_ffff);
        let mut out = Vec::with_capacity(n);
        for chunk in (0..n).collect::<Vec<_>>().chunks(parallel.max(1)) {
            let futs = chunk.iter().map(|i| {
                let name = format!("b{tag}r{run}u{i}");
                async move {
                    let d = self
                        .data(
                            None,
                            "mutation($u: String!, $p: String!) { register(username: $u, password: $p) { accessToken } }",
                            json!({"u": name, "p": PASSWORD}),
                        )
                        .await?;
                    anyhow::Ok(User {
                        token: d["register"]["accessToken"]
                            .as_str()
                            .ok_or_else(|| anyhow!("no accessToken"))?
                            .to_owned(),
                    })
                }
            });
            for u in futures_util::future::join_all(futs).await {
                out.push(u?);
            }
        }
        Ok(out)
    }

    /// Creates a room owned by `owner` and makes every user in `members` join it.
    pub async fn room(&self, owner: &User, name: &str, members: &[User]) -> anyhow::Result<String> {
        let d = self
            .data(
                Some(&owner.token),
                "mutation($n: String!) { createRoom(name: $n) { id } }",
                json!({"n": name}),
            )
            .await?;
        let room = d["createRoom"]["id"]
            .as_str()
            .ok_or_else(|| anyhow!("no room id"))?
            .to_owned();
        for chunk in members.chunks(32) {
            let futs = chunk.iter().map(|u| {
                self.data(
                    Some(&u.token),
                    "mutation($r: ID!) { joinRoom(roomId: $r) { id } }",
                    json!({"r": room}),
                )
            });
            for r in futures_util::future::join_all(futs).await {
                r?;
            }
        }
        Ok(room)
    }

    /// Sends a message; returns its id.
    pub async fn send(&self, token: &str, room: &str, content: &str) -> anyhow::Result<i64> {
        let d = self
            .data(
                Some(token),
                "mutation($r: ID!, $c: String!) { sendMessage(roomId: $r, content: $c) { id } }",
                json!({"r": room, "c": content}),
            )
            .await?;
        d["sendMessage"]["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| anyhow!("no message id in {d}"))
    }
}

/// The `chatgql` binary next to this one (`target/release/chatgql`), if built.
pub fn sibling_server_bin() -> Option<PathBuf> {
    let me = std::env::current_exe().ok()?;
    let bin = me.parent()?.join("chatgql");
    bin.is_file().then_some(bin)
}
