//! Storage on SQLite (embedded default) or PostgreSQL through sea-orm.
//!
//! One module per aggregate; each returns domain-shaped values. Writes that
//! must be atomic take a [`DatabaseTransaction`] from [`Db::begin`], which on
//! SQLite starts `BEGIN IMMEDIATE` so that concurrent writers queue on the
//! busy timeout instead of failing on a lock upgrade.

pub mod access_export;
pub mod attachments;
pub mod attempts;
pub mod audit;
pub mod awaiting_mail;
pub mod backup;
pub mod dedup;
pub mod directory;
pub mod entities;
pub mod inbound;
pub mod inbox;
pub mod leases;
pub mod notes;
pub mod outbox;
pub mod purge;
pub mod request_facts;
pub mod request_queue;
pub mod request_transitions;
pub mod request_views;
pub mod request_write;
pub mod requests;
pub mod scan_readings;
pub mod sessions;
mod sqlite_blob;
pub mod staff;
pub mod stats;
pub mod subscribers;
pub mod tokens;

use crate::config;
use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};
use std::time::Duration;

/// Errors of the storage layer; the web and CLI edges turn them into French messages.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("base de données : {0}")]
    Db(#[from] DbErr),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Transition(#[from] crate::domain::TransitionError),
    #[error(
        "La demande a été modifiée par quelqu'un d'autre entre-temps : rechargez-la et recommencez."
    )]
    Conflict,
    #[error("{0}")]
    Invalid(String),
}

impl StoreError {
    /// True when the database itself could not be reached or answered with an
    /// I/O-like error: the caller should retry later (sysexits 75, HTTP 503).
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Db(DbErr::Conn(_) | DbErr::ConnectionAcquire(_))
        ) || matches!(self, StoreError::Db(e) if e.to_string().contains("os error") || e.to_string().contains("database is locked"))
    }
}

/// Anything the store's queries run on: the pool ([`Db::conn`]) or a
/// transaction ([`Txn`]). Callers that take either name this trait.
pub use sea_orm::ConnectionTrait as Conn;

/// The storage library's own error, as [`Db::begin`] and `commit` return it;
/// [`StoreError`] wraps it.
pub use sea_orm::DbErr;

/// Log directives that keep the storage libraries quiet below `warn` (the
/// migrator announces every run at info level).
pub const QUIET_LOGS: &str = "sea_orm_migration=warn,sqlx=warn";

/// A write transaction from [`Db::begin`], for the callers that chain several
/// store calls atomically without naming the storage library.
pub type Txn = DatabaseTransaction;

/// A handle on the database, cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    conn: DatabaseConnection,
    /// Statements sent to the database through this handle and its clones
    /// (each one round trip; `BEGIN`, `COMMIT` and `ROLLBACK` not counted).
    statements: Arc<AtomicU64>,
}

impl Db {
    /// Connects; for SQLite creates the file and its directory, turns WAL on.
    pub async fn connect(settings: &config::Database) -> Result<Self, StoreError> {
        let url = settings.url.expose().to_string();
        let sqlite = url.starts_with("sqlite:");
        if sqlite
            && let Some(dir) = sqlite_path(&url).and_then(|p| p.parent().map(|d| d.to_path_buf()))
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(&dir).map_err(|e| {
                StoreError::Invalid(format!(
                    "impossible de créer le dossier {} : {e}",
                    dir.display()
                ))
            })?;
        }
        let mut opts = ConnectOptions::new(url);
        opts.max_connections(settings.max_connections.max(1))
            .min_connections(0)
            .connect_timeout(Duration::from_secs(5))
            .acquire_timeout(Duration::from_secs(10))
            // A ping on every checkout is one more round trip per query (through
            // the SQLite worker thread, or to PostgreSQL): only stale ones.
            .test_before_acquire_if_idle_for(Duration::from_secs(30))
            // Every statement at trace level under `sqlx::query`: silent unless
            // asked for (RUST_LOG=sqlx::query=trace).
            .sqlx_logging(true)
            .sqlx_logging_level(log::LevelFilter::Trace)
            .map_sqlx_sqlite_opts(|o| {
                o.create_if_missing(true)
                    .journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    // FULL: a commit is on disk (the WAL fsynced) when it
                    // returns, so a source acknowledged after the commit (IMAP
                    // flag, Maildir move, MTA exit 0) never loses a request to a
                    // power cut (SPEC §10).
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Full)
                    .busy_timeout(Duration::from_secs(15))
                    .foreign_keys(true)
                    // Erased content (masked links, purged mail) is zeroed, not left in free space.
                    .pragma("secure_delete", "on")
            })
            // Large values are written in place, not bound (see `sqlite_blob`).
            .map_sqlx_sqlite_pool_opts(|o| o.after_connect(sqlite_after_connect));
        let mut conn = Database::connect(opts).await?;
        let statements = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&statements);
        conn.set_metric_callback(move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
        });
        Ok(Self { conn, statements })
    }

    /// How many statements this handle (and its clones) sent so far: what
    /// `ingest` reports per message (`RUST_LOG=bareme_mel::cli::ingest=debug`).
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    pub fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    pub fn backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }

    pub fn is_postgres(&self) -> bool {
        self.backend() == DbBackend::Postgres
    }

    /// Starts a write transaction (`BEGIN IMMEDIATE` on SQLite).
    pub async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        let mut options = TransactionOptions::default();
        if self.backend() == DbBackend::Sqlite {
            options.sqlite_transaction_mode = Some(SqliteTransactionMode::Immediate);
        }
        self.conn.begin_with_options(options).await
    }

    pub async fn migrate(&self) -> Result<(), StoreError> {
        Migrator::up(&self.conn, None).await?;
        Ok(())
    }

    /// How many migrations are not applied yet.
    pub async fn pending_migrations(&self) -> Result<usize, StoreError> {
        Ok(Migrator::get_pending_migrations(&self.conn).await?.len())
    }

    /// Closes the pool (a file copied by `backup` is then complete on disk).
    pub async fn close(self) -> Result<(), StoreError> {
        self.conn.close().await?;
        Ok(())
    }

    /// On SQLite, copies the WAL into the database file and empties it, so
    /// that page images of erased content do not stay in the `-wal` file
    /// (with `secure_delete` the database file keeps none). No-op on PostgreSQL.
    pub async fn flush_erased(&self) -> Result<(), StoreError> {
        if !self.is_postgres() {
            self.conn
                .execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
                .await?;
        }
        Ok(())
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        self.conn.execute_unprepared("SELECT 1").await?;
        Ok(())
    }
}

/// Prepares each new SQLite connection of the pool.
fn sqlite_after_connect(
    conn: &mut sea_orm::sqlx::SqliteConnection,
    _: sea_orm::sqlx::pool::PoolConnectionMetadata,
) -> futures_util::future::BoxFuture<'_, Result<(), sea_orm::sqlx::Error>> {
    Box::pin(sqlite_blob::register(conn))
}

/// The file path of a `sqlite:` URL, or `None` for an in-memory database.
pub fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    Some(path.into())
}

/// Serialises a value stored as JSON text.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

#[cfg(test)]
mod tests {
    #[test]
    fn sqlite_urls_give_their_file() {
        assert_eq!(
            super::sqlite_path("sqlite://data/x.db?mode=rwc").unwrap(),
            std::path::Path::new("data/x.db")
        );
        assert_eq!(
            super::sqlite_path("sqlite:/tmp/y.db").unwrap(),
            std::path::Path::new("/tmp/y.db")
        );
        assert!(super::sqlite_path("sqlite::memory:").is_none());
    }
}
