//! The SQLite checkpointer: copies the WAL into the database file beside
//! the writers, on a connection and thread of its own, and keeps the WAL
//! small under a steady flow of writes (README, « Performance »).

use super::StoreError;
use libsqlite3_sys as ffi;
use sea_orm::DatabaseConnection;
use std::{
    ffi::{c_char, c_int, c_void},
    time::Duration,
};

/// How often the SQLite checkpointer copies the WAL into the database file
/// when no commit wakes it.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// A commit that leaves at least this many frames (4 KiB each) in the WAL
/// wakes the checkpointer at once (SQLite's own automatic checkpoint
/// threshold).
const WAKE_AFTER_FRAMES: c_int = 1000;

/// A commit that leaves at least this many frames (64 MiB) in the WAL
/// finishes the copy itself, so that its connection's next transaction
/// starts the WAL over ([`wal_grown`]). That commit waits for the copy's
/// end and the database file's sync: at 4,096 frames (16 MiB) this cost
/// batch 1 8 % and batch 64 12 % of their throughput, at 16,384 3–4 %
/// (three rounds alternated on 2,000 mails).
const RESTART_AFTER_FRAMES: c_int = 16384;

/// Woken by [`wal_grown`]; every checkpointer of the process waits on it (a
/// checkpointer woken for another database's WAL finds little or nothing
/// to copy in its own).
static WAL_GROWN: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// The WAL's size, in [`WAKE_AFTER_FRAMES`], when [`wal_grown`] last woke
/// the checkpointer (shared by the process's databases, like [`WAL_GROWN`]).
static WOKEN_AT: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// Installs [`wal_grown`] on `conn` (`sqlite3_wal_hook`, which the pool's
/// connections do not use for SQLite's automatic checkpoint: they turn it
/// off).
pub(super) async fn wake_on_commits(
    conn: &mut sea_orm::sqlx::SqliteConnection,
) -> Result<(), sea_orm::sqlx::Error> {
    let mut handle = conn.lock_handle().await?;
    let db = handle.as_raw_handle().as_ptr();
    // SAFETY: `db` is the open connection, locked by `handle` for this
    // call; the hook is a plain function and its argument is null.
    unsafe {
        ffi::sqlite3_wal_hook(db, Some(wal_grown), std::ptr::null_mut());
    }
    Ok(())
}

/// Called by SQLite after each commit with the WAL's size in frames.
///
/// Each time the WAL grows by [`WAKE_AFTER_FRAMES`] it wakes the
/// checkpointer, which copies the frames beside the writer. That alone does
/// not keep the WAL small: SQLite
/// starts the WAL over only when a writer begins while every frame is
/// copied, and a writer that begins its next transaction as soon as it
/// commits (intake) always begins while the checkpointer is still copying;
/// a `RESTART` checkpoint, which would make it wait, waits for a moment
/// with no writer and never gets one. The WAL then grew by all that was
/// written (100 to 300 MB for 2,000 mails at batch 64), every frame on a
/// new page of the file, which the kernel zeroes before the write (`perf`:
/// up to 18 % of such a run in `memset`).
///
/// So past [`RESTART_AFTER_FRAMES`] the committing connection copies what
/// is left itself, at once (`PASSIVE`, what SQLite's automatic checkpoint
/// does, in the same place): its next transaction then begins with every
/// frame copied and starts the WAL over. The checkpointer has copied most
/// of the frames by then, so the commit pays for the last ones only.
/// Errors are left to the next commit (`SQLITE_BUSY`: the checkpointer is
/// copying). Test
/// `store_deferred::sqlite_the_wal_stays_small_under_commits_as_fast_as_intakes`.
unsafe extern "C" fn wal_grown(
    _: *mut c_void,
    db: *mut ffi::sqlite3,
    name: *const c_char,
    frames: c_int,
) -> c_int {
    if frames >= RESTART_AFTER_FRAMES {
        let (mut log, mut copied) = (0, 0);
        // SAFETY: SQLite calls the hook with its open connection and the
        // name of the database committed, as its own automatic checkpoint
        // uses them.
        unsafe {
            ffi::sqlite3_wal_checkpoint_v2(
                db,
                name,
                ffi::SQLITE_CHECKPOINT_PASSIVE,
                &mut log,
                &mut copied,
            );
        }
    } else if frames >= WAKE_AFTER_FRAMES {
        // Once per WAKE_AFTER_FRAMES written, not at every commit past it:
        // at batch 1, a checkpoint after every commit cost a quarter more CPU.
        let step = frames / WAKE_AFTER_FRAMES;
        if WOKEN_AT.swap(step, std::sync::atomic::Ordering::Relaxed) != step {
            WAL_GROWN.notify_waiters();
        }
    }
    ffi::SQLITE_OK
}

/// Starts the SQLite checkpointer: a connection of its own (its own worker
/// thread) that copies committed WAL frames into the database file every
/// [`CHECKPOINT_EVERY`], and as soon as a commit leaves
/// [`WAKE_AFTER_FRAMES`] in the WAL ([`wal_grown`]), in place of SQLite's
/// automatic checkpoint, which the pool's connections turn off: the copy no
/// longer runs inside the commit of the writer that crossed the threshold
/// (`PRAGMA wal_checkpoint(PASSIVE)`: it waits for no reader or writer).
/// The connection ends with the pool ([`super::Db::close`]).
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
                _ = WAL_GROWN.notified() => {}
                _ = stopped.changed() => break,
            }
            if pool.is_closed() {
                break;
            }
            if let Err(e) = own.execute("PRAGMA wal_checkpoint(PASSIVE)").await {
                tracing::warn!(error = %e, "SQLite checkpoint failed; retried later");
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
