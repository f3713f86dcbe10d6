//! How the store's connections are opened: the pool's options and the
//! setting up of each new connection (SQLite's plans compiled once, its
//! in-place writer of large values; PostgreSQL's relaxed commits), and the
//! connections of their own that [`Db`](super::Db) opens on first use:
//! the relaxed one ([`Db::relaxed`](super::Db::relaxed)) and intake's
//! writer on SQLite ([`Db::begin_inline`](super::Db::begin_inline)).

use super::{DbErr, inline, sqlite_blob};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};
use std::time::Duration;

/// Intake's writer ([`inline::Writer`]) on its pool of one, opened on
/// first use.
#[derive(Debug)]
pub(super) struct LazyWriter {
    pub(super) pool: Arc<Lazy>,
    pub(super) writer: tokio::sync::OnceCell<inline::Writer>,
}

impl LazyWriter {
    pub(super) async fn get(&self, statements: &Arc<AtomicU64>) -> Result<&inline::Writer, DbErr> {
        self.writer
            .get_or_try_init(|| async {
                let pool = self.pool.get(statements).await?;
                Ok(inline::Writer::new(
                    pool.get_sqlite_connection_pool().clone(),
                ))
            })
            .await
    }

    pub(super) async fn close(&self) -> Result<(), DbErr> {
        if let Some(writer) = self.writer.get() {
            writer.close().await;
        }
        self.pool.close().await
    }
}

/// A connection of its own ([`Db::relaxed`](super::Db::relaxed), the pool of intake's
/// writer), opened on first use.
#[derive(Debug)]
pub(super) struct Lazy {
    url: String,
    durability: Durability,
    conn: tokio::sync::OnceCell<DatabaseConnection>,
    /// Set by [`Db::close`]: not opened after that, like the pool.
    closed: std::sync::atomic::AtomicBool,
}

impl Lazy {
    pub(super) fn new(url: &str, durability: Durability) -> Arc<Self> {
        Arc::new(Self {
            url: url.to_string(),
            durability,
            conn: tokio::sync::OnceCell::new(),
            closed: Default::default(),
        })
    }

    /// The connection, opened now if it is not yet, its statements counted
    /// in `statements`.
    pub(super) async fn get(
        &self,
        statements: &Arc<AtomicU64>,
    ) -> Result<&DatabaseConnection, DbErr> {
        if self.closed.load(Ordering::Acquire) {
            return Err(DbErr::ConnectionAcquire(
                sea_orm::error::ConnAcquireErr::ConnectionClosed,
            ));
        }
        self.conn
            .get_or_try_init(|| async {
                let mut opts = connect_options(self.url.clone(), 1, self.durability);
                // One connection: a caller waits for the one before it as
                // long as SQLite would wait for another writer's lock.
                opts.acquire_timeout(BUSY_TIMEOUT);
                let mut conn = Database::connect(opts).await?;
                count_statements(&mut conn, statements);
                Ok(conn)
            })
            .await
    }

    pub(super) async fn close(&self) -> Result<(), DbErr> {
        self.closed.store(true, Ordering::Release);
        match self.conn.get() {
            Some(conn) => conn.clone().close().await,
            None => Ok(()),
        }
    }
}

/// Whether a connection's commits wait for the disk (see [`Db::relaxed`](super::Db::relaxed)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Durability {
    OnDisk,
    Relaxed,
}

/// Counts every statement sent through `conn` in `counter`.
pub(super) fn count_statements(conn: &mut DatabaseConnection, counter: &Arc<AtomicU64>) {
    let counter = Arc::clone(counter);
    conn.set_metric_callback(move |_| {
        counter.fetch_add(1, Ordering::Relaxed);
    });
}

/// How long a SQLite connection waits for another writer's lock.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(15);

/// How the pool's connections are opened.
pub(super) fn connect_options(
    url: String,
    max_connections: u32,
    durability: Durability,
) -> ConnectOptions {
    let mut opts = ConnectOptions::new(url);
    opts.max_connections(max_connections)
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
        .map_sqlx_sqlite_opts(move |o| {
            use sea_orm::sqlx::sqlite::SqliteSynchronous;
            // The WAL written in large pieces (see `wal_vfs`); without it,
            // SQLite's own VFS, slower but the same files.
            let o = match super::wal_vfs::register() {
                Ok(name) => o.vfs(name),
                Err(e) => {
                    tracing::warn!(
                        "SQLite: VFS {} not registered ({e}); the default one is used",
                        super::wal_vfs::NAME
                    );
                    o
                }
            };
            o.create_if_missing(true)
                .journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                // FULL: a commit is on disk (the WAL fsynced) when it
                // returns, so a source acknowledged after the commit (IMAP
                // flag, Maildir move, MTA exit 0) never loses a request to a
                // power cut (SPEC §10).
                .synchronous(match durability {
                    Durability::OnDisk => SqliteSynchronous::Full,
                    Durability::Relaxed => SqliteSynchronous::Normal,
                })
                .busy_timeout(BUSY_TIMEOUT)
                .foreign_keys(true)
                // Erased content (masked links, purged mail) is zeroed, not left in free space.
                .pragma("secure_delete", "on")
                // 8 MiB (default 2): room for a whole intake batch (64
                // mails of ~75 KB of pages); a smaller cache spills
                // pages to the WAL in the middle of the transaction and
                // reads them back. Pages are taken as needed (an idle
                // connection holds none); 32 MiB put the 25 MB mail's
                // pages in it, over the 150 MB peak of `ingest`.
                .pragma("cache_size", "-8192")
                // Checkpoints are made by `checkpoint` on its own
                // connection, not by the commit that crosses 1,000
                // pages of WAL (on the writer's thread, in its latency).
                .pragma("wal_autocheckpoint", "0")
        });
    match durability {
        // Plans compiled once; large values written in place, not bound
        // (see `sqlite_blob`).
        Durability::OnDisk => {
            opts.map_sqlx_sqlite_pool_opts(|o| o.after_connect(sqlite_after_connect));
        }
        // A `SET` once connected rather than a startup option, which a
        // connection pooler in front of PostgreSQL may refuse; on SQLite,
        // plans compiled once.
        Durability::Relaxed => {
            opts.map_sqlx_postgres_pool_opts(|o| o.after_connect(postgres_relaxed));
            opts.map_sqlx_sqlite_pool_opts(|o| o.after_connect(sqlite_relaxed));
        }
    }
    opts
}

/// Prepares the PostgreSQL connection of [`Db::relaxed`](super::Db::relaxed).
fn postgres_relaxed(
    conn: &mut sea_orm::sqlx::PgConnection,
    _: sea_orm::sqlx::pool::PoolConnectionMetadata,
) -> futures_util::future::BoxFuture<'_, Result<(), sea_orm::sqlx::Error>> {
    use sea_orm::sqlx::Executor as _;
    Box::pin(async move {
        conn.execute("SET synchronous_commit = off").await?;
        Ok(())
    })
}

/// Prepares each new SQLite connection of the pool: plans that do not
/// depend on bound values ([`plan_once`]), the checkpointer woken by its
/// commits ([`super::checkpoint::wake_on_commits`]), and the SQL function
/// that writes large values in place ([`sqlite_blob`]).
fn sqlite_after_connect(
    conn: &mut sea_orm::sqlx::SqliteConnection,
    _: sea_orm::sqlx::pool::PoolConnectionMetadata,
) -> futures_util::future::BoxFuture<'_, Result<(), sea_orm::sqlx::Error>> {
    Box::pin(async move {
        plan_once(conn).await?;
        super::checkpoint::wake_on_commits(conn).await?;
        sqlite_blob::register(conn).await
    })
}

/// The relaxed connection ([`Db::relaxed`](super::Db::relaxed)) on SQLite: plans that do not
/// depend on bound values, and the checkpointer woken by its commits.
fn sqlite_relaxed(
    conn: &mut sea_orm::sqlx::SqliteConnection,
    _: sea_orm::sqlx::pool::PoolConnectionMetadata,
) -> futures_util::future::BoxFuture<'_, Result<(), sea_orm::sqlx::Error>> {
    Box::pin(async move {
        plan_once(conn).await?;
        super::checkpoint::wake_on_commits(conn).await
    })
}

/// Turns on SQLite's query planner stability guarantee
/// (`SQLITE_DBCONFIG_ENABLE_QPSG`). sea-orm binds a query's `LIMIT` (`.one()`
/// is `LIMIT ?` with 1), and SQLite, which may plan with the value bound
/// there, otherwise compiles such a statement again every time it is bound
/// anew, whatever sqlx's statement cache keeps: every `.one()` and every
/// page of a list was parsed and planned at each run. With the guarantee a
/// plan never depends on bound values (nor on `ANALYZE` statistics, which
/// this database never gathers). Test
/// `store_pool::sqlite_a_statement_with_a_bound_limit_is_compiled_once`.
async fn plan_once(conn: &mut sea_orm::sqlx::SqliteConnection) -> Result<(), sea_orm::sqlx::Error> {
    let mut handle = conn.lock_handle().await?;
    let db = handle.as_raw_handle().as_ptr();
    let mut set: std::ffi::c_int = 0;
    // SAFETY: `db` is the open connection, locked by `handle` for this
    // call; ENABLE_QPSG takes an int and a pointer to an int it writes.
    let rc = unsafe {
        libsqlite3_sys::sqlite3_db_config(
            db,
            libsqlite3_sys::SQLITE_DBCONFIG_ENABLE_QPSG,
            1 as std::ffi::c_int,
            &mut set as *mut std::ffi::c_int,
        )
    };
    if rc != libsqlite3_sys::SQLITE_OK || set != 1 {
        return Err(sea_orm::sqlx::Error::Configuration(
            format!("SQLite : stabilité des plans de requête non activée ({rc})").into(),
        ));
    }
    Ok(())
}
