//! Intake's commits on SQLite, made on disk by an explicit sync of the WAL
//! instead of inside the commit (issue 15, SPEC §10).
//!
//! A `synchronous=FULL` commit returns once the WAL is synced: the thread
//! that commits waits for the disk, and with it the next message. Intake's
//! transactions ([`super::Db::begin_inline`]) commit with `synchronous=NORMAL`
//! instead ([`super::Txn::commit_unsynced`]), which writes the WAL without
//! waiting, and are counted here; [`WalSync::start`] then syncs the WAL file
//! on a blocking thread while the caller goes on with the next message. A
//! source is acknowledged only once [`Syncing::wait`] returned: by then
//! every commit counted before the sync began is on disk, exactly as after
//! a `FULL` commit (the sync of the file's descriptor writes out every page
//! of it, whichever descriptor wrote them).
//!
//! The WAL file is opened for each sync: SQLite deletes it when its last
//! connection closes, after copying it into the database file and syncing
//! that; a WAL found missing therefore holds nothing left to sync.

use super::StoreError;
use std::path::PathBuf;
use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

/// The commits of one SQLite database that wait for a sync of its WAL.
#[derive(Debug)]
pub(crate) struct WalSync {
    wal: PathBuf,
    /// Commits made without waiting for the disk, so far.
    committed: AtomicU64,
    /// How many of them a completed sync has put on disk.
    synced: AtomicU64,
}

impl WalSync {
    /// For the database file at `db` (its WAL is `db` followed by `-wal`).
    pub(crate) fn new(db: PathBuf) -> Self {
        let mut wal = db.into_os_string();
        wal.push("-wal");
        Self {
            wal: wal.into(),
            committed: AtomicU64::new(0),
            synced: AtomicU64::new(0),
        }
    }

    /// Counts a commit that returned without waiting for the disk.
    pub(crate) fn committed(&self) {
        self.committed.fetch_add(1, Ordering::SeqCst);
    }

    /// How many of the commits counted so far are known to be on disk.
    pub(crate) fn synced(&self) -> u64 {
        self.synced.load(Ordering::SeqCst)
    }

    /// Starts a sync of the WAL that puts every commit counted so far on
    /// disk, on a blocking thread; nothing to do when they all are already.
    pub(crate) fn start(self: &Arc<Self>) -> Syncing {
        let target = self.committed.load(Ordering::SeqCst);
        if self.synced() >= target {
            return Syncing(None);
        }
        let this = Arc::clone(self);
        Syncing(Some(tokio::task::spawn_blocking(move || {
            match std::fs::File::open(&this.wal) {
                Ok(file) => file.sync_data()?,
                // Copied into the database file, synced, then deleted.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            this.synced.fetch_max(target, Ordering::SeqCst);
            Ok(())
        })))
    }
}

/// A sync of the WAL under way ([`WalSync::start`]), or nothing to wait for.
#[must_use = "a source is acknowledged only after the sync is waited for"]
#[derive(Debug)]
pub struct Syncing(Option<tokio::task::JoinHandle<std::io::Result<()>>>);

impl Syncing {
    /// Nothing to wait for (PostgreSQL, whose commit waits for the disk, or
    /// no commit waiting).
    pub fn done() -> Self {
        Self(None)
    }

    /// Waits for the sync: the commits it covers are then on disk. An error
    /// means they may not be: the caller does not acknowledge them (the
    /// source delivers them again; dedup recognises them).
    pub async fn wait(self) -> Result<(), StoreError> {
        let Some(task) = self.0 else {
            return Ok(());
        };
        let failed = |e: String| {
            StoreError::Invalid(format!(
                "la base de données n'a pas pu être écrite sur le disque : {e}"
            ))
        };
        match task.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(failed(e.to_string())),
            Err(e) => Err(failed(e.to_string())),
        }
    }
}
