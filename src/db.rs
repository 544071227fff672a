//! Database connection: SQLite (embedded default) or PostgreSQL, and write transactions.

use std::{str::FromStr, sync::Arc, time::Duration};

use anyhow::Context;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    SqliteTransactionMode, SqlxSqliteConnector, Statement, TransactionOptions, TransactionTrait,
    sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::{Mutex, Notify, OwnedMutexGuard};

use crate::config::redact_url;

/// Connections in the pool for an SQLite file.
pub const SQLITE_POOL: u32 = 8;
/// Connections in the pool for PostgreSQL.
pub const POSTGRES_POOL: u32 = 32;

/// How the server opens an SQLite database: created if missing, WAL, synchronous=NORMAL
/// (a committed transaction survives a process crash; the last few may be lost on power
/// loss, as docs/benchmarks.md states), a 10 s busy timeout and foreign keys on.
pub fn sqlite_connect_options(url: &str) -> Result<SqliteConnectOptions, sea_orm::sqlx::Error> {
    Ok(SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true))
}

/// The database and what it takes to write to it safely.
#[derive(Clone, Debug)]
pub struct Db {
    /// The pooled connection, for reads and single statements.
    pub conn: DatabaseConnection,
    /// SQLite has one writer: its write transactions queue here instead of failing busy.
    sqlite_writer: Option<Arc<Mutex<()>>>,
    /// Signalled after a commit that wrote to the outbox, to wake this node's relay.
    outbox_signal: Arc<Notify>,
}

/// A write transaction; on SQLite it also holds the writer slot until commit or drop.
pub struct WriteTx {
    txn: DatabaseTransaction,
    _writer: Option<OwnedMutexGuard<()>>,
    outbox_signal: Arc<Notify>,
    outbox_written: AtomicBool,
}

impl std::ops::Deref for WriteTx {
    type Target = DatabaseTransaction;
    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

impl WriteTx {
    /// Commits the transaction and frees the writer slot.
    pub async fn commit(self) -> Result<(), sea_orm::DbErr> {
        self.txn.commit().await?;
        if self.outbox_written.load(Ordering::Relaxed) {
            self.outbox_signal.notify_one();
        }
        Ok(())
    }

    /// Records that this transaction wrote an outbox row, so commit wakes the relay.
    pub fn mark_outbox_written(&self) {
        self.outbox_written.store(true, Ordering::Relaxed);
    }
}

impl Db {
    /// Connects to `url` (`sqlite:…` or `postgres://…`), checking the database answers.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let shown = redact_url(url);
        if url.starts_with("sqlite:") {
            let memory = url.contains(":memory:") || url.contains("mode=memory");
            let options = sqlite_connect_options(url)
                .with_context(|| format!("DATABASE_URL {shown} is not a valid SQLite URL"))?;
            let pool = SqlitePoolOptions::new()
                // An in-memory database exists per connection, so it gets exactly one.
                .max_connections(if memory { 1 } else { SQLITE_POOL })
                .min_connections(1)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await
                .with_context(|| format!("cannot open SQLite database {shown}"))?;
            let conn = SqlxSqliteConnector::from_sqlx_sqlite_pool(pool);
            Ok(Self {
                conn,
                sqlite_writer: Some(Arc::new(Mutex::new(()))),
                outbox_signal: Arc::default(),
            })
        } else {
            let mut options = ConnectOptions::new(url.to_owned());
            options
                .max_connections(POSTGRES_POOL)
                .min_connections(1)
                .connect_timeout(Duration::from_secs(5))
                .acquire_timeout(Duration::from_secs(10))
                .sqlx_logging(false);
            let conn = Database::connect(options)
                .await
                .with_context(|| format!("cannot connect to PostgreSQL at {shown}"))?;
            conn.ping()
                .await
                .with_context(|| format!("PostgreSQL at {shown} does not answer"))?;
            Ok(Self {
                conn,
                sqlite_writer: None,
                outbox_signal: Arc::default(),
            })
        }
    }

    /// Which SQL dialect is spoken.
    pub fn backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }

    /// Begins a transaction that will write.
    pub async fn begin_write(&self) -> Result<WriteTx, sea_orm::DbErr> {
        let writer = match &self.sqlite_writer {
            Some(lock) => Some(lock.clone().lock_owned().await),
            None => None,
        };
        // IMMEDIATE takes SQLite's write lock up front, so a transaction that reads before
        // it writes cannot fail with a stale snapshot when another writer committed first.
        let txn = self
            .conn
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..Default::default()
            })
            .await?;
        Ok(WriteTx {
            txn,
            _writer: writer,
            outbox_signal: self.outbox_signal.clone(),
            outbox_written: AtomicBool::new(false),
        })
    }

    /// Notified after each commit that wrote to the outbox.
    pub fn outbox_signal(&self) -> Arc<Notify> {
        self.outbox_signal.clone()
    }

    /// Serializes writers of one room until the transaction ends, so per room the order of
    /// ids equals the order of commits. SQLite already has a single writer.
    pub async fn lock_room(&self, txn: &WriteTx, room_id: i64) -> Result<(), sea_orm::DbErr> {
        if self.backend() == DbBackend::Postgres {
            txn.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_advisory_xact_lock($1)",
                [room_id.into()],
            ))
            .await?;
        }
        Ok(())
    }

    /// Checks the database answers, within `timeout`.
    pub async fn ping(&self, timeout: Duration) -> anyhow::Result<()> {
        tokio::time::timeout(timeout, self.conn.ping())
            .await
            .context("database ping timed out")?
            .context("database ping failed")
    }
}
