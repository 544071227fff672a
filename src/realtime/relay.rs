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
    // SQLite: publish from a cursor and delete behind it (see `Cursor`).
    let mut cursor = (db.backend() == DbBackend::Sqlite).then(|| Cursor::start(db.clone()));
    let mut failures = 0u32;
    loop {
        let round = match &mut cursor {
            Some(cursor) => cursor.round(&db, &sink).await,
            None => drain(&db, &sink).await,
        };
        match round {
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
            break;
        }
    }
    // Last round: whatever committed before shutdown goes out, and nothing published is
    // left behind to be published again on the next start.
    match cursor {
        Some(mut cursor) => {
            while let Ok(n) = cursor.round(&db, &sink).await {
                if (n as u64) < BATCH {
                    break;
                }
            }
            cursor.finish().await;
        }
        None => {
            let _ = drain(&db, &sink).await;
        }
    }
}

/// SQLite's relay position. Rows are read from after the last one published, and deleted
/// by a separate task: the delete needs SQLite's single write lock, and waiting for it
/// between rounds (behind the senders' transactions) held every later event back.
///
/// Safe because on SQLite ids are assigned in commit order (one writer at a time, and
/// `AUTOINCREMENT` never reuses an id), so no row can later appear below the cursor. After
/// a crash the cursor starts from the table again: rows published but not yet deleted go
/// out once more, with the same idempotency key.
struct Cursor {
    /// Every row with an id up to this has been published (or dropped as unreadable).
    through: watch::Sender<i64>,
    deleter: tokio::task::JoinHandle<()>,
}

/// Pause between two deletes, so one delete covers several rounds under load.
const DELETE_EVERY: Duration = Duration::from_millis(50);

impl Cursor {
    fn start(db: Db) -> Self {
        let (through, rx) = watch::channel(0);
        let deleter = tokio::spawn(delete_published(db, rx));
        Self { through, deleter }
    }

    /// Publishes one batch after the cursor; returns how many rows it read.
    async fn round(&mut self, db: &Db, sink: &Sink) -> anyhow::Result<usize> {
        let after = *self.through.borrow();
        let rows = outbox::Entity::find()
            .filter(outbox::Column::Id.gt(after))
            .order_by_asc(outbox::Column::Id)
            .limit(BATCH)
            .all(&db.conn)
            .await?;
        let n = rows.len();
        let round = publish_rows(rows, sink).await;
        if let Some(&last) = round.done.last() {
            // `done` is a prefix of the rows read: everything up to `last` is handled.
            self.through.send_replace(last);
        }
        round.error.map_or(Ok(n), Err)
    }

    /// Stops the deleter once it has deleted everything published.
    async fn finish(self) {
        drop(self.through);
        if let Err(err) = self.deleter.await {
            tracing::error!(error = ?err, "outbox deleter failed");
        }
    }
}

/// Deletes rows up to the published position whenever it moves; ends when the relay stops,
/// after one last delete.
async fn delete_published(db: Db, mut through: watch::Receiver<i64>) {
    let mut deleted = 0;
    let mut failures = 0u32;
    loop {
        let target = *through.borrow_and_update();
        if target > deleted {
            match outbox::Entity::delete_many()
                .filter(outbox::Column::Id.lte(target))
                .exec(&db.conn)
                .await
            {
                Ok(_) => {
                    deleted = target;
                    failures = 0;
                    tokio::time::sleep(DELETE_EVERY).await;
                }
                Err(err) => {
                    failures += 1;
                    tracing::warn!(error = ?err, failures, "deleting published outbox rows failed; retrying");
                    if through.has_changed().is_err() && failures >= 3 {
                        // Stopping: the rows stay and are published again on the next start.
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(100 * 2u64.pow(failures.min(6))))
                        .await;
                }
            }
            continue;
        }
        if through.changed().await.is_err() {
            // The relay stopped: one last delete if it moved since.
            let target = *through.borrow();
            if target > deleted {
                continue;
            }
            return;
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

/// One round over `conn`, deleting what it published in the same connection.
async fn drain_with(conn: &impl ConnectionTrait, sink: &Sink) -> anyhow::Result<usize> {
    let rows = outbox::Entity::find()
        .order_by_asc(outbox::Column::Id)
        .limit(BATCH)
        .all(conn)
        .await?;
    let n = rows.len();
    let round = publish_rows(rows, sink).await;
    if !round.done.is_empty() {
        outbox::Entity::delete_many()
            .filter(outbox::Column::Id.is_in(round.done))
            .exec(conn)
            .await?;
    }
    round.error.map_or(Ok(n), Err)
}

/// What one round handled.
struct Round {
    /// Ids handled (published, or dropped as unreadable), in order: a prefix of the rows read.
    done: Vec<i64>,
    /// Why the round stopped early.
    error: Option<anyhow::Error>,
}

/// Publishes `rows` (in id order) until the first failure.
async fn publish_rows(rows: Vec<outbox::Model>, sink: &Sink) -> Round {
    let mut pending = Vec::with_capacity(rows.len());
    let mut ids = Vec::with_capacity(rows.len());
    for row in rows {
        ids.push(row.id);
        match serde_json::from_str::<RoomEvent>(&row.payload) {
            Ok(event) => pending.push(Pending {
                id: row.id,
                event,
                payload: row.payload,
            }),
            Err(err) => {
                // Unreadable rows cannot be fixed by retrying: log and drop them.
                tracing::error!(outbox_id = row.id, error = %err, "dropping unreadable outbox row");
            }
        }
    }
    if pending.is_empty() {
        return Round {
            done: ids,
            error: None,
        };
    }
    let published = sink.publish(&pending).await;
    metrics::counter!(crate::metrics::EVENTS_PUBLISHED, "sink" => sink.name())
        .increment(published.count as u64);
    // Handled: every row before the first unpublished event.
    if let Some(first_unpublished) = pending.get(published.count) {
        ids.retain(|id| *id < first_unpublished.id);
    }
    Round {
        done: ids,
        error: published.error,
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
