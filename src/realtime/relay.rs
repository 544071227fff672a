//! The outbox relay: publishes committed events in order, then deletes them.
//!
//! It wakes on every local commit that wrote to the outbox, and also every second, which
//! picks up leftovers from a crash and rows committed by other processes.

use std::time::Duration;

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Statement, TransactionTrait,
};
use tokio::sync::watch;

use super::{Sink, event::RoomEvent};
use crate::{db::Db, entities::outbox};

/// Rows read per round.
const BATCH: u64 = 500;
/// Longest wait between rounds when nothing signals.
const POLL: Duration = Duration::from_secs(1);

/// An outbox row ready to publish.
#[derive(Debug, Clone)]
pub struct Pending {
    /// Outbox id: the event's identity, unique and increasing in commit order per room.
    pub id: i64,
    /// The event.
    pub event: RoomEvent,
    /// The event's JSON exactly as stored.
    pub payload: String,
}

/// Runs until `shutdown` turns true, then drains once more.
pub async fn run(db: Db, sink: Sink, mut shutdown: watch::Receiver<bool>) {
    let signal = db.outbox_signal();
    let mut failures = 0u32;
    loop {
        match drain(&db, &sink).await {
            Ok(n) if n as u64 == BATCH => continue,
            Ok(_) => failures = 0,
            Err(err) => {
                failures += 1;
                metrics::counter!(crate::metrics::RELAY_RETRIES).increment(1);
                if matches!(sink, Sink::Centrifugo(_)) {
                    metrics::counter!(crate::metrics::CENTRIFUGO_PUBLISH_ERRORS).increment(1);
                }
                tracing::warn!(error = ?err, failures, "outbox relay round failed; retrying");
                let backoff = Duration::from_millis(100 * 2u64.pow(failures.min(6)));
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => continue,
                    _ = shutdown.changed() => {}
                }
            }
        }
        if *shutdown.borrow() {
            break;
        }
        tokio::select! {
            _ = signal.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            let _ = drain(&db, &sink).await;
            break;
        }
    }
}

/// Advisory lock key (class, object) held by the one relay that may publish at a time.
const RELAY_LOCK: (i32, i32) = (0x6367, 1);

/// Publishes one batch in id order; returns how many rows it read. Rows are deleted only
/// once published; a failure stops the batch so later events never overtake earlier ones.
///
/// On PostgreSQL several processes may share the database: each round runs in a
/// transaction holding an advisory lock, so exactly one relay publishes at a time and
/// every room's events go out once, in order.
pub async fn drain(db: &Db, sink: &Sink) -> anyhow::Result<usize> {
    if db.backend() != DbBackend::Postgres {
        return drain_with(&db.conn, sink).await;
    }
    let tx = db.conn.begin().await?;
    let locked = tx
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_try_advisory_xact_lock($1, $2) AS locked",
            [RELAY_LOCK.0.into(), RELAY_LOCK.1.into()],
        ))
        .await?
        .map(|row| row.try_get::<bool>("", "locked"))
        .transpose()?
        .unwrap_or(false);
    if !locked {
        return Ok(0);
    }
    let result = drain_with(&tx, sink).await;
    tx.commit().await?;
    result
}

/// One round over `conn`. On SQLite the delete is a single autocommit statement that waits
/// in SQLite's busy handler; routing it through the writer queue instead was measured to
/// make relay rounds slower under load (docs/benchmarks.md).
async fn drain_with(conn: &impl ConnectionTrait, sink: &Sink) -> anyhow::Result<usize> {
    let rows = outbox::Entity::find()
        .order_by_asc(outbox::Column::Id)
        .limit(BATCH)
        .all(conn)
        .await?;
    let n = rows.len();
    if n == 0 {
        return Ok(0);
    }
    let mut pending = Vec::with_capacity(n);
    let mut broken = Vec::new();
    for row in rows {
        match serde_json::from_str::<RoomEvent>(&row.payload) {
            Ok(event) => pending.push(Pending {
                id: row.id,
                event,
                payload: row.payload,
            }),
            Err(err) => {
                // Unreadable rows cannot be fixed by retrying: log and drop them.
                tracing::error!(outbox_id = row.id, error = %err, "dropping unreadable outbox row");
                broken.push(row.id);
            }
        }
    }
    let published = sink.publish(&pending).await;
    metrics::counter!(crate::metrics::EVENTS_PUBLISHED, "sink" => sink.name())
        .increment(published.count as u64);
    let mut done: Vec<i64> = pending[..published.count].iter().map(|p| p.id).collect();
    done.extend(broken);
    if !done.is_empty() {
        outbox::Entity::delete_many()
            .filter(outbox::Column::Id.is_in(done))
            .exec(conn)
            .await?;
    }
    match published.error {
        Some(err) => Err(err),
        None => Ok(n),
    }
}

/// Rows waiting in the outbox and the age of the oldest.
pub async fn backlog(db: &Db) -> anyhow::Result<(u64, Duration)> {
    use sea_orm::PaginatorTrait;
    let rows = outbox::Entity::find().count(&db.conn).await?;
    let oldest = outbox::Entity::find()
        .order_by_asc(outbox::Column::Id)
        .one(&db.conn)
        .await?
        .map(|row| {
            (chrono::Utc::now() - row.created_at)
                .to_std()
                .unwrap_or_default()
        })
        .unwrap_or_default();
    Ok((rows, oldest))
}
