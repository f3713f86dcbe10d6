//! The SQLite checkpointer: copies the WAL into the database file beside
//! the writers, on a connection and thread of its own, and starts the WAL
//! over under a steady flow of writes (README, « Performance »).

use super::StoreError;
use sea_orm::DatabaseConnection;
use std::time::Duration;

/// How often the SQLite checkpointer copies the WAL into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// Past this many frames (4 KiB each) the checkpointer starts the WAL over.
const RESTART_AFTER_FRAMES: i64 = 4096;

/// Starts the SQLite checkpointer: a connection of its own (its own worker
/// thread) that copies committed WAL frames into the database file every
/// [`CHECKPOINT_EVERY`] (`PRAGMA wal_checkpoint(PASSIVE)`: it waits for
/// no reader or writer), in place of SQLite's automatic checkpoint, which
/// the pool's connections turn off. A checkpoint then no longer runs inside
/// the commit of the writer that crossed the threshold, and the WAL is
/// restarted from its beginning by the next writer once it is all copied;
/// past [`RESTART_AFTER_FRAMES`], `wal_checkpoint(RESTART)` makes sure it is
/// (writers wait meanwhile). The connection ends with the pool
/// ([`super::Db::close`]).
pub(super) async fn start(conn: &DatabaseConnection) -> Result<Checkpointer, StoreError> {
    use sea_orm::sqlx::{ConnectOptions as _, Connection as _, Executor as _};
    let pool = conn.get_sqlite_connection_pool().clone();
    let options = pool.connect_options();
    let mut own =
        options.as_ref().clone().connect().await.map_err(|e| {
            StoreError::Invalid(format!("connexion de point de contrôle SQLite : {e}"))
        })?;
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stopped.changed() => break,
            }
            if pool.is_closed() {
                break;
            }
            // (busy, frames in the WAL, frames copied)
            let passive =
                sea_orm::sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
                    .fetch_one(&mut own)
                    .await;
            match passive {
                Err(e) => tracing::warn!(error = %e, "SQLite checkpoint failed; retried later"),
                // Under a steady flow of writes the WAL is never all copied
                // when a writer begins, so it is never started over and only
                // grows (every frame written then takes a new page of the
                // file). Past RESTART_AFTER_FRAMES writers wait while the
                // frames written since are copied, and the next one starts
                // the WAL over.
                Ok((_, frames, _)) if frames > RESTART_AFTER_FRAMES => {
                    if let Err(e) = own.execute("PRAGMA wal_checkpoint(RESTART)").await {
                        tracing::warn!(error = %e, "SQLite checkpoint failed; retried later");
                    }
                }
                Ok(_) => {}
            }
        }
        let _ = own.close().await;
    });
    Ok(Checkpointer {
        stop,
        task: std::sync::Mutex::new(Some(task)),
    })
}

/// The handle on [`start`]'s task.
#[derive(Debug)]
pub(super) struct Checkpointer {
    stop: tokio::sync::watch::Sender<bool>,
    task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Checkpointer {
    /// Stops the task and waits for its connection to be closed.
    pub(super) async fn stop(&self) {
        let _ = self.stop.send(true);
        let task = self
            .task
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}
