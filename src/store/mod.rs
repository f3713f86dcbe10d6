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
mod checkpoint;
mod connect;
pub mod dedup;
pub mod directory;
pub mod entities;
pub mod inbound;
pub mod inbox;
mod inline;
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
mod txn;
mod wal_sync;
pub mod wal_vfs;

use crate::config;
use connect::{Durability, Lazy, LazyWriter, connect_options, count_statements};
use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend, QueryResult,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};
use std::future::Future;
use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

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
pub trait Conn: ConnectionTrait {
    /// Sends a write whose result the caller does not read (an `INSERT`
    /// without `RETURNING`, an `UPDATE` whose count does not matter). In a
    /// SQLite [`Txn`] it goes with the transaction's next statement, in one
    /// round trip to the SQLite worker thread (see [`Txn`]); elsewhere it
    /// is sent at once. An error it meets comes back from that next
    /// statement or from the commit, and fails the transaction all the same.
    fn defer(&self, stmt: Statement) -> impl Future<Output = Result<(), DbErr>> + Send {
        async move { self.execute_raw(stmt).await.map(|_| ()) }
    }

    /// [`Conn::defer`] for a sea-orm query, built for this connection's database.
    fn defer_query<Q: sea_orm::QueryTrait>(
        &self,
        query: &Q,
    ) -> impl Future<Output = Result<(), DbErr>> + Send {
        self.defer(query.build(self.get_database_backend()))
    }

    /// What this transaction knows of rows it holds locked (a [`Txn`]'s;
    /// `None` outside a transaction).
    fn memo(&self) -> Option<&Memo> {
        None
    }

    /// A read that the caller knows does not depend on the writes deferred
    /// so far (it reads none of their tables): in a PostgreSQL [`Txn`] it
    /// carries them, in one round trip instead of two (SQLite joins every
    /// read to them anyway). Elsewhere a plain read.
    fn query_all_beside(
        &self,
        stmt: Statement,
    ) -> impl Future<Output = Result<Vec<QueryResult>, DbErr>> + Send {
        self.query_all_raw(stmt)
    }
}

impl Conn for DatabaseConnection {}
impl Conn for DatabaseTransaction {}

/// The storage library's own error, as [`Db::begin`] and `commit` return it;
/// [`StoreError`] wraps it.
pub use sea_orm::DbErr;
use txn::Inner;
pub use txn::{Memo, Txn};
pub use wal_sync::Syncing;

/// Log directives that keep the storage libraries quiet below `warn` (the
/// migrator announces every run at info level).
pub const QUIET_LOGS: &str = "sea_orm_migration=warn,sqlx=warn";

/// A handle on the database, cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    conn: DatabaseConnection,
    /// Statements sent to the database through this handle and its clones
    /// (each one round trip; `BEGIN`, `COMMIT` and `ROLLBACK` not counted).
    statements: Arc<AtomicU64>,
    /// SQLite's checkpointer ([`checkpoint::start`]), stopped by [`Db::close`].
    checkpointer: Option<Arc<checkpoint::Checkpointer>>,
    /// Write transactions begun through [`Db::begin`] by this handle and its
    /// clones (each ends in one commit or one rollback).
    transactions: Arc<AtomicU64>,
    /// The connection of [`Db::relaxed`], `None` for in-memory SQLite.
    relaxed: Option<Arc<Lazy>>,
    /// SQLite in a file: the one connection of intake's writes
    /// ([`Db::begin_inline`]), apart from the pool.
    writer: Option<Arc<LazyWriter>>,
    /// Intake's commits waiting for a sync of the WAL ([`wal_sync`]):
    /// SQLite in a file only.
    wal: Option<Arc<wal_sync::WalSync>>,
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
        let opts = connect_options(
            url.clone(),
            settings.max_connections.max(1),
            Durability::OnDisk,
        );
        let mut conn = Database::connect(opts).await?;
        let checkpointer = match sqlite {
            true => Some(Arc::new(checkpoint::start(&conn).await?)),
            false => None,
        };
        let statements = Arc::new(AtomicU64::new(0));
        count_statements(&mut conn, &statements);
        let wal = match sqlite {
            true => sqlite_path(&url).map(|p| Arc::new(wal_sync::WalSync::new(p))),
            false => None,
        };
        // An in-memory SQLite database is one per connection: no second one.
        let in_memory = sqlite && sqlite_path(&url).is_none();
        let relaxed = (!in_memory).then(|| Lazy::new(&url, Durability::Relaxed));
        // SQLite throws a connection's whole page cache away when another
        // connection wrote since its last transaction, and the pool hands
        // its connections out in turn: intake's writes, one after the
        // other, keep to one connection, whose cache stays warm (a message
        // alone read about 80 pages back from the WAL otherwise).
        let writer = (wal.is_some()).then(|| {
            Arc::new(LazyWriter {
                pool: Lazy::new(&url, Durability::OnDisk),
                writer: tokio::sync::OnceCell::new(),
            })
        });
        Ok(Self {
            conn,
            statements,
            checkpointer,
            transactions: Arc::default(),
            relaxed,
            writer,
            wal,
        })
    }

    /// The connection for writes that must survive the process dying but
    /// not a power cut, whose commit does not wait for the disk: on SQLite a
    /// connection of its own with `synchronous=NORMAL` (the commit is
    /// written to the WAL, which the next `FULL` commit of any connection
    /// syncs), on PostgreSQL one with `synchronous_commit=off`. Opened on
    /// first use; what [`attempts`] counts before an untrusted message is
    /// read, so that the count costs no wait for the disk (SPEC §4: a
    /// message that kills the process; if the machine loses its power
    /// instead, the message is only read once more).
    ///
    /// Each call is counted as one write transaction ([`Db::transactions`]):
    /// the caller makes one commit on it.
    pub async fn relaxed(&self) -> Result<&DatabaseConnection, DbErr> {
        self.transactions.fetch_add(1, Ordering::Relaxed);
        match &self.relaxed {
            Some(relaxed) => relaxed.get(&self.statements).await,
            None => Ok(&self.conn),
        }
    }

    /// How many statements this handle (and its clones) sent so far: what
    /// `ingest` reports per message (`RUST_LOG=bareme_mel::cli::ingest=debug`).
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// How many write transactions this handle (and its clones) began so
    /// far: at most as many commits, what group commit saves.
    pub fn transactions(&self) -> u64 {
        self.transactions.load(Ordering::Relaxed)
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
    pub async fn begin(&self) -> Result<Txn, DbErr> {
        self.transactions.fetch_add(1, Ordering::Relaxed);
        let options = writer_options(self.backend());
        Ok(Txn::new(Inner::Orm(
            self.conn.begin_with_options(options).await?,
        )))
    }

    /// [`Db::begin`] for a transaction of many short statements (intake's):
    /// on SQLite they run on the caller's thread, without the two thread
    /// wake-ups that each costs through sqlx's worker ([`inline`]), so a
    /// statement that takes long (a purge, a scan of a large table) blocks
    /// an async thread meanwhile. `BEGIN IMMEDIATE` and the commit still
    /// wait off it. On PostgreSQL the same as [`Db::begin`].
    pub async fn begin_inline(&self) -> Result<Txn, DbErr> {
        if self.backend() != DbBackend::Sqlite {
            return self.begin().await;
        }
        self.transactions.fetch_add(1, Ordering::Relaxed);
        let statements = Arc::clone(&self.statements);
        let inline = match (&self.writer, &self.wal) {
            (Some(writer), Some(wal)) => {
                let writer = writer.get(&self.statements).await?;
                inline::Inline::begin_on(writer, statements, Arc::clone(wal)).await?
            }
            _ => {
                let pool = self.conn.get_sqlite_connection_pool();
                inline::Inline::begin(pool, statements, self.wal.clone()).await?
            }
        };
        Ok(Txn::new(Inner::Inline(inline)))
    }

    /// Whether [`Db::begin_inline`] runs on the caller's thread with a
    /// commit that does not wait for the disk (SQLite in a file).
    pub fn writes_inline(&self) -> bool {
        self.wal.is_some()
    }

    /// Starts putting on disk every commit made so far with
    /// [`Txn::commit_unsynced`]: a sync of the WAL on a blocking thread, or
    /// nothing when none waits (PostgreSQL, in-memory SQLite, all synced).
    /// A source acknowledges those commits' messages once it is waited for.
    pub fn sync_commits(&self) -> Syncing {
        match &self.wal {
            Some(wal) => wal.start(),
            None => Syncing::done(),
        }
    }

    /// How many commits made with [`Txn::commit_unsynced`] a completed sync
    /// has put on disk (0 where there are none: PostgreSQL, in memory).
    pub fn durable_commits(&self) -> u64 {
        self.wal.as_ref().map_or(0, |w| w.synced())
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
        if let Some(c) = &self.checkpointer {
            c.stop().await;
        }
        if let Some(writer) = &self.writer {
            writer.close().await?;
        }
        if let Some(relaxed) = &self.relaxed {
            relaxed.close().await?;
        }
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

/// How a write transaction begins: on SQLite `BEGIN IMMEDIATE`, so that it
/// waits for another writer up front instead of failing at once when it
/// reads and then writes after that writer committed.
pub(crate) fn writer_options(backend: DbBackend) -> TransactionOptions {
    let mut options = TransactionOptions::default();
    if backend == DbBackend::Sqlite {
        options.sqlite_transaction_mode = Some(SqliteTransactionMode::Immediate);
    }
    options
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
