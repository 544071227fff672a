//! The raw baseline: the rows one `sendMessage` writes (message + outbox, one transaction,
//! the per-room advisory lock on PostgreSQL) inserted straight into a database with sqlx,
//! with the server's pool sizes and durability settings, and no HTTP or GraphQL.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context as _;
use sea_orm::sqlx::{
    self, Connection as _, PgPool, Row as _, SqlitePool, postgres::PgPoolOptions,
    sqlite::SqlitePoolOptions,
};
use tokio::sync::Mutex;

/// A pool configured like the server's.
#[derive(Clone)]
pub enum RawDb {
    /// SQLite: 8 connections, WAL, synchronous=NORMAL, one writer at a time.
    Sqlite(SqlitePool, Arc<Mutex<()>>),
    /// PostgreSQL: 32 connections.
    Postgres(PgPool),
}

/// Throughput and per-transaction latencies of one raw run.
pub struct RawRun {
    /// Committed transactions.
    pub count: usize,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Latency of each transaction.
    pub latencies: Vec<Duration>,
}

impl RawDb {
    /// Connects to `url` (already migrated) with the server's settings.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("sqlite:") {
            let options = chatgql::db::sqlite_connect_options(url)?;
            let pool = SqlitePoolOptions::new()
                .max_connections(chatgql::db::SQLITE_POOL)
                .min_connections(1)
                .connect_with(options)
                .await
                .context("raw: open SQLite")?;
            Ok(Self::Sqlite(pool, Arc::default()))
        } else {
            let pool = PgPoolOptions::new()
                .max_connections(chatgql::db::POSTGRES_POOL)
                .min_connections(1)
                .connect(url)
                .await
                .context("raw: connect PostgreSQL")?;
            Ok(Self::Postgres(pool))
        }
    }

    /// Inserts `n` users and returns their ids (authors must exist: foreign keys).
    pub async fn users(&self, n: usize) -> anyhow::Result<Vec<i64>> {
        let mut ids = Vec::with_capacity(n);
        for i in 0..n {
            let name = format!("raw{i}");
            let sql = "INSERT INTO users (username, username_key, password_hash, created_at) VALUES ($1, $1, 'x', CURRENT_TIMESTAMP) RETURNING id";
            ids.push(self.insert_returning(sql, &name, None).await?);
        }
        Ok(ids)
    }

    /// Inserts a room created by `owner` and returns its id.
    pub async fn room(&self, name: &str, owner: i64) -> anyhow::Result<i64> {
        let sql = "INSERT INTO rooms (name, name_key, created_by, created_at) VALUES ($1, $1, $2, CURRENT_TIMESTAMP) RETURNING id";
        self.insert_returning(sql, name, Some(owner)).await
    }

    async fn insert_returning(
        &self,
        sql: &'static str,
        text: &str,
        int: Option<i64>,
    ) -> anyhow::Result<i64> {
        match self {
            Self::Sqlite(pool, _) => {
                let mut q = sqlx::query(sql).bind(text.to_owned());
                if let Some(v) = int {
                    q = q.bind(v);
                }
                Ok(q.fetch_one(pool).await?.try_get(0)?)
            }
            Self::Postgres(pool) => {
                let mut q = sqlx::query(sql).bind(text.to_owned());
                if let Some(v) = int {
                    q = q.bind(v);
                }
                Ok(q.fetch_one(pool).await?.try_get(0)?)
            }
        }
    }

    /// One message transaction: [advisory lock,] message insert, outbox insert, commit.
    async fn send_one(&self, room: i64, author: i64, content: &str) -> anyhow::Result<i64> {
        let now = chrono::Utc::now();
        let stamp = now.format("%Y-%m-%d %H:%M:%S%.3f +00:00").to_string();
        let payload = |id: i64| {
            format!(
                r#"{{"__typename":"MessageAdded","roomId":"{room}","message":{{"id":"{id}","roomId":"{room}","author":{{"id":"{author}","username":"raw{author}","createdAt":"{stamp}"}},"content":"{content}","createdAt":"{stamp}","clientId":null}}}}"#
            )
        };
        match self {
            Self::Sqlite(pool, writer) => {
                let _slot = writer.lock().await;
                let mut conn = pool.acquire().await?;
                sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
                let result: anyhow::Result<i64> = async {
                    let id: i64 = sqlx::query("INSERT INTO messages (room_id, author_id, content, client_id, created_at) VALUES (?, ?, ?, NULL, ?) RETURNING id")
                        .bind(room).bind(author).bind(content).bind(&stamp)
                        .fetch_one(&mut *conn).await?.try_get(0)?;
                    sqlx::query("INSERT INTO outbox (room_id, payload, created_at) VALUES (?, ?, ?)")
                        .bind(room).bind(payload(id)).bind(&stamp)
                        .execute(&mut *conn).await?;
                    sqlx::query("COMMIT").execute(&mut *conn).await?;
                    Ok(id)
                }
                .await;
                if result.is_err() {
                    let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
                }
                result
            }
            Self::Postgres(pool) => {
                let mut conn = pool.acquire().await?;
                let mut tx = conn.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(room)
                    .execute(&mut *tx)
                    .await?;
                let id: i64 = sqlx::query("INSERT INTO messages (room_id, author_id, content, client_id, created_at) VALUES ($1, $2, $3, NULL, now()) RETURNING id")
                    .bind(room).bind(author).bind(content)
                    .fetch_one(&mut *tx).await?.try_get(0)?;
                sqlx::query(
                    "INSERT INTO outbox (room_id, payload, created_at) VALUES ($1, $2, now())",
                )
                .bind(room)
                .bind(payload(id))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(id)
            }
        }
    }

    /// Runs `clients` concurrent writers for `duration` (and at most `max_each`
    /// transactions each); client `i` writes as `authors[i]` into `rooms[i]`.
    pub async fn run(
        &self,
        rooms: &[i64],
        authors: &[i64],
        duration: Duration,
        max_each: usize,
    ) -> anyhow::Result<RawRun> {
        let start = Instant::now();
        let deadline = start + duration;
        let mut tasks = Vec::new();
        for (i, (&room, &author)) in rooms.iter().zip(authors).enumerate() {
            let db = self.clone();
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut n = 0usize;
                while Instant::now() < deadline && n < max_each {
                    let t = Instant::now();
                    db.send_one(room, author, &format!("r{i}-{n}")).await?;
                    lat.push(t.elapsed());
                    n += 1;
                }
                anyhow::Ok(lat)
            }));
        }
        let mut latencies = Vec::new();
        for t in tasks {
            latencies.extend(t.await??);
        }
        Ok(RawRun {
            count: latencies.len(),
            elapsed: start.elapsed(),
            latencies,
        })
    }

    /// Closes the pool.
    pub async fn close(self) {
        match self {
            Self::Sqlite(p, _) => p.close().await,
            Self::Postgres(p) => p.close().await,
        }
    }
}
