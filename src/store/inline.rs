//! SQLite transactions that run on the caller's thread.
//!
//! sqlx runs each SQLite connection on a worker thread of its own and sends
//! it every statement over a channel: two thread wake-ups per statement,
//! which on this kind of machine (a VM, two cores) cost more than the
//! statement itself (README, « Performance »). An intake transaction sends
//! dozens of them. [`Inline`] takes the connection's handle from its
//! worker for the whole transaction (`lock_handle`, one wake-up) and runs
//! each statement where it is called, with sqlx's own statement cache and
//! row type (the `run` method of our patched `sqlx-sqlite`, see
//! `vendor/README.md`): what sea-orm then decodes is the same `SqliteRow`.
//!
//! `BEGIN IMMEDIATE` and `COMMIT` run there too (each was one more round
//! trip to the worker, a message alone paid three). Neither may hold an
//! async thread for long: `BEGIN` is tried with no busy wait, and when
//! another writer holds the lock the transaction begins through the worker,
//! which waits for it up to the busy timeout off this thread; `COMMIT` holds
//! the write lock already (no lock to wait for; checkpoints run on their own
//! connection) and, the transaction having begun with `synchronous=NORMAL`,
//! does not wait for the disk either: the WAL is synced after it, on a
//! blocking thread (`wal_sync`). Between them the
//! transaction holds SQLite's write lock, so no statement waits for a lock;
//! each costs what SQLite itself costs.
//!
//! On a SQLite file, intake's transactions run on [`Writer`], whose
//! connection and handle are taken once and kept: a transaction there takes
//! no handle from a worker, and when another connection holds the lock it
//! waits for it on a blocking thread. A pool's connection (`Inline::begin`)
//! serves SQLite in memory.

use super::wal_sync::WalSync;
use sea_orm::sqlx::sqlite::{LockedSqliteHandle, SqliteConnection, SqlitePool};
use sea_orm::sqlx::{self, Either, IntoArguments, Sqlite};
use sea_orm::{DbErr, ExecResult, QueryResult, RuntimeErr, Statement};
use sea_query_sqlx::SqlxValues;
use std::sync::{
    Arc, Mutex, PoisonError,
    atomic::{AtomicU64, Ordering},
};

/// A write transaction on a SQLite connection held away from its worker
/// thread until [`Inline::commit`] or [`Inline::rollback`] (or drop, which
/// rolls back).
pub(super) struct Inline {
    // Field order is drop order: the handle, which borrows `*holder`, goes
    // first and gives the connection back to its worker.
    handle: Mutex<Option<Slot>>,
    holder: Option<Holder>,
    /// [`super::Db::statements`]: one per call, as sea-orm counts them.
    statements: Arc<AtomicU64>,
    /// Where a commit that did not wait for the disk is counted (SQLite in
    /// a file; in memory there is no disk to wait for).
    wal: Option<Arc<WalSync>>,
    /// Whether the transaction began with `synchronous=NORMAL` (here, on a
    /// file): its commit does not wait for the disk, and the connection's
    /// `FULL` is given back at its end.
    relaxed: bool,
}

/// What keeps the connection out of the pool while its handle is held.
enum Holder {
    /// A transaction the worker began (another writer held the lock): the
    /// worker commits it or rolls it back.
    Txn(Box<sqlx::Transaction<'static, Sqlite>>),
    /// A connection whose transaction began here and ends here.
    Conn(Box<sqlx::pool::PoolConnection<Sqlite>>),
    /// Intake's writer ([`Writer`]), whose transaction begins and ends
    /// here; held by the [`Slot`].
    Writer,
}

/// Where an [`Inline`]'s handle is.
enum Slot {
    /// Taken from a pool's connection's worker for this transaction.
    Own(LockedSqliteHandle<'static>),
    /// Intake's writer's, held for this transaction ([`Writer`]).
    Writer(tokio::sync::OwnedMutexGuard<Option<Held>>),
}

impl Slot {
    fn handle(&mut self) -> Option<&mut LockedSqliteHandle<'static>> {
        match self {
            Self::Own(handle) => Some(handle),
            Self::Writer(held) => held.as_mut().map(|held| &mut held.handle),
        }
    }

    /// The writer's connection kept a setting it must not keep: closed, and
    /// opened again by the next transaction.
    fn discard(&mut self) {
        if let Self::Writer(held) = self
            && let Some(held) = held.take()
        {
            held.discard();
        }
    }
}

/// SQLite in a file: intake's writer. One connection, taken from its pool
/// of one and its handle from its worker when first used, both kept until
/// [`Writer::close`]: a transaction then begins and ends without a thread
/// wake-up. Taking the handle from the worker for each transaction and
/// giving the connection back to the pool after it (a spawned task, which
/// the next transaction waited for) cost 0.5 ms of a message alone's 1.5.
/// One connection also keeps its page cache: SQLite throws a connection's
/// whole cache away when another connection wrote since its last
/// transaction.
pub(super) struct Writer {
    pool: SqlitePool,
    held: Arc<tokio::sync::Mutex<Option<Held>>>,
}

/// The writer's connection and its handle.
pub(super) struct Held {
    // Field order is drop order: the handle, which borrows `*conn`, first.
    handle: LockedSqliteHandle<'static>,
    conn: Box<sqlx::pool::PoolConnection<Sqlite>>,
}

impl Held {
    async fn open(pool: &SqlitePool) -> Result<Self, sqlx::Error> {
        let mut conn = Box::new(pool.acquire().await?);
        // SAFETY: see `lock`; `conn` is kept beside the handle, which
        // drops first.
        let handle = unsafe { lock(&mut conn) }.await?;
        Ok(Self { handle, conn })
    }

    /// Closes the connection rather than give it back to the pool.
    fn discard(self) {
        let Self { handle, mut conn } = self;
        drop(handle);
        conn.close_on_drop();
    }
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").finish_non_exhaustive()
    }
}

impl Writer {
    /// `pool`: a pool of one connection, which the writer keeps.
    pub(super) fn new(pool: SqlitePool) -> Self {
        Self {
            pool,
            held: Arc::default(),
        }
    }

    /// Gives the handle back to the worker and the connection to its pool,
    /// then closes the pool.
    pub(super) async fn close(&self) {
        if let Some(held) = self.held.lock().await.take() {
            let Held { handle, conn } = held;
            drop(handle);
            let _ = conn.close().await;
        }
        self.pool.close().await;
    }
}

/// The handle of the connection inside `boxed` (a pool's connection or a
/// transaction on one), taken from its worker.
///
/// # Safety
/// The handle borrows the connection inside the box, whose address does not
/// change when the box moves. The caller keeps the box alive, untouched,
/// until the handle is dropped: [`Inline`] holds both, drops the handle
/// first (field order, `end`, `Drop`) and uses the box only after that.
async unsafe fn lock<C>(boxed: &mut Box<C>) -> Result<LockedSqliteHandle<'static>, sqlx::Error>
where
    C: std::ops::DerefMut<Target = SqliteConnection>,
{
    let conn: *mut SqliteConnection = &mut ***boxed;
    let handle = unsafe { &mut *conn }.lock_handle().await?;
    Ok(unsafe {
        std::mem::transmute::<LockedSqliteHandle<'_>, LockedSqliteHandle<'static>>(handle)
    })
}

/// How long SQLite waits for another writer's lock on intake's
/// connections ([`super::connect::BUSY_TIMEOUT`]), in milliseconds, restored after
/// [`begin_here`] tried without waiting.
const BUSY_TIMEOUT_MS: u128 = super::connect::BUSY_TIMEOUT.as_millis();

/// How [`Inline::end`] ends the transaction.
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Commit,
    CommitUnsynced,
    Rollback,
}

/// `BEGIN IMMEDIATE` on `handle` without waiting for another writer's lock,
/// with `synchronous=NORMAL` first when `relax` (a commit that does not wait
/// for the disk: see [`WalSync`]; SQLite refuses to change it inside a
/// transaction). `Ok(relaxed)` once begun; `Err(clean)` when it did not
/// begin (the caller begins through the worker), `clean` false when the
/// connection kept a setting of this attempt and must not be reused.
fn begin_here(handle: &mut LockedSqliteHandle<'static>, relax: bool) -> Result<bool, bool> {
    let mut run = |sql: String| handle.run(sqlx::AssertSqlSafe(sql), None, false, false);
    if run("PRAGMA busy_timeout = 0".into()).is_err() {
        return Err(true);
    }
    let relaxed = relax && run("PRAGMA synchronous = NORMAL".into()).is_ok();
    let begun = run("BEGIN IMMEDIATE".into()).is_ok();
    let restored = run(format!("PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")).is_ok();
    if begun && restored {
        return Ok(relaxed);
    }
    if begun {
        let _ = run("ROLLBACK".into());
    }
    Err(restored && (!relaxed || run("PRAGMA synchronous = FULL".into()).is_ok()))
}

/// [`begin_here`] waiting for another writer's lock up to the busy
/// timeout: for a blocking thread. `Ok(relaxed)` once begun; otherwise the
/// connection has its usual setting back, or the error says it has not.
fn begin_waiting(handle: &mut LockedSqliteHandle<'static>) -> Result<bool, sqlx::Error> {
    let mut run = |sql: &str| {
        handle
            .run(sqlx::AssertSqlSafe(sql.to_owned()), None, false, false)
            .map(|_| ())
    };
    let relaxed = run("PRAGMA synchronous = NORMAL").is_ok();
    match run("BEGIN IMMEDIATE") {
        Ok(()) => Ok(relaxed),
        Err(e) => {
            run("PRAGMA synchronous = FULL")?;
            Err(e)
        }
    }
}

/// Gives a connection whose transaction began here its usual setting back
/// (every commit outside intake's waits for the disk); false when it could
/// not, and the connection must then be closed rather than reused.
fn restore_synchronous(handle: &mut LockedSqliteHandle<'static>) -> bool {
    handle
        .run(
            sqlx::AssertSqlSafe("PRAGMA synchronous = FULL".to_owned()),
            None,
            false,
            false,
        )
        .is_ok()
}

/// A transaction dropped before its end is rolled back here (one begun
/// through the worker is rolled back by sqlx when its `Transaction` drops).
impl Drop for Inline {
    fn drop(&mut self) {
        let handle = self
            .handle
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let here = matches!(self.holder, Some(Holder::Conn(_) | Holder::Writer));
        if let (Some(mut slot), true) = (handle, here) {
            let restored = match slot.handle() {
                Some(handle) => {
                    let _ = handle.run(
                        sqlx::AssertSqlSafe("ROLLBACK".to_owned()),
                        None,
                        false,
                        false,
                    );
                    !self.relaxed || restore_synchronous(handle)
                }
                None => true,
            };
            if !restored {
                slot.discard();
            }
            drop(slot);
            if let (false, Some(Holder::Conn(conn))) = (restored, &mut self.holder) {
                conn.close_on_drop();
            }
        }
    }
}

impl Inline {
    /// `BEGIN IMMEDIATE` on a connection of `pool`, here when no other
    /// writer holds the lock, else through the worker; then its handle.
    pub(super) async fn begin(
        pool: &SqlitePool,
        statements: Arc<AtomicU64>,
        wal: Option<Arc<WalSync>>,
    ) -> Result<Self, DbErr> {
        let conn_err = |e| DbErr::Conn(RuntimeErr::SqlxError(Arc::new(e)));
        let mut conn = Box::new(pool.acquire().await.map_err(conn_err)?);
        // SAFETY: see `lock`; `conn` is kept in `holder`.
        let mut handle = unsafe { lock(&mut conn) }.await.map_err(conn_err)?;
        match begin_here(&mut handle, wal.is_some()) {
            Ok(relaxed) => {
                return Ok(Self {
                    handle: Mutex::new(Some(Slot::Own(handle))),
                    holder: Some(Holder::Conn(conn)),
                    statements,
                    wal,
                    relaxed,
                });
            }
            Err(clean) => {
                drop(handle);
                if !clean {
                    conn.close_on_drop();
                }
            }
        }
        // Another writer holds the lock: the worker waits for it.
        drop(conn);
        let mut txn = Box::new(pool.begin_with("BEGIN IMMEDIATE").await.map_err(conn_err)?);
        // SAFETY: see `lock`; `txn` is kept in `holder`.
        let handle = unsafe { lock(&mut txn) }.await.map_err(conn_err)?;
        Ok(Self {
            handle: Mutex::new(Some(Slot::Own(handle))),
            holder: Some(Holder::Txn(txn)),
            statements,
            wal,
            relaxed: false,
        })
    }

    /// `BEGIN IMMEDIATE` on intake's writer (opened if it is not), with
    /// `synchronous=NORMAL` (its commit is synced by `wal`). When another
    /// writer (another process) holds the lock, the wait for it is made
    /// on a blocking thread, up to SQLite's busy timeout.
    pub(super) async fn begin_on(
        writer: &Writer,
        statements: Arc<AtomicU64>,
        wal: Arc<WalSync>,
    ) -> Result<Self, DbErr> {
        let conn_err = |e| DbErr::Conn(RuntimeErr::SqlxError(Arc::new(e)));
        let mut slot = Arc::clone(&writer.held).lock_owned().await;
        let mut held = match slot.take() {
            Some(held) => held,
            None => Held::open(&writer.pool).await.map_err(conn_err)?,
        };
        let relaxed = match begin_here(&mut held.handle, true) {
            Ok(relaxed) => relaxed,
            Err(false) => {
                held.discard();
                return Err(conn_err(sqlx::Error::WorkerCrashed));
            }
            Err(true) => {
                let (sender, receiver) = tokio::sync::oneshot::channel();
                tokio::task::spawn_blocking(move || {
                    let begun = begin_waiting(&mut held.handle);
                    // Nobody waits any more (the caller was cancelled): the
                    // transaction must not stay open on the connection.
                    if let Err((mut held, Ok(_))) = sender.send((held, begun)) {
                        let _ = held.handle.run(
                            sqlx::AssertSqlSafe("ROLLBACK".to_owned()),
                            None,
                            false,
                            false,
                        );
                        held.discard();
                    }
                });
                let (back, begun) = receiver.await.map_err(|_| {
                    DbErr::Conn(RuntimeErr::Internal(
                        "connexion d'écriture perdue en attendant le verrou".into(),
                    ))
                })?;
                held = back;
                match begun {
                    Ok(relaxed) => relaxed,
                    Err(e) => {
                        // Its setting may not be the usual one: opened anew
                        // by the next transaction.
                        held.discard();
                        return Err(conn_err(e));
                    }
                }
            }
        };
        *slot = Some(held);
        Ok(Self {
            handle: Mutex::new(Some(Slot::Writer(slot))),
            holder: Some(Holder::Writer),
            statements,
            wal: Some(wal),
            relaxed,
        })
    }

    /// Commits (here, or through the worker for a transaction it began),
    /// then gives the handle back to the worker; the commit is on disk when
    /// this returns (the WAL synced here when the transaction began with
    /// `synchronous=NORMAL`).
    pub(super) async fn commit(self) -> Result<(), DbErr> {
        self.end(End::Commit).await
    }

    /// [`Inline::commit`] without waiting for the disk (the transaction
    /// began with `synchronous=NORMAL`): counted in [`WalSync`] for a later
    /// sync of the WAL ([`super::Db::sync_commits`]). A transaction the
    /// worker began (another writer held the lock) commits as
    /// [`Inline::commit`] does.
    pub(super) async fn commit_unsynced(self) -> Result<(), DbErr> {
        self.end(End::CommitUnsynced).await
    }

    /// Rolls back, as [`Inline::commit`] commits.
    pub(super) async fn rollback(self) -> Result<(), DbErr> {
        self.end(End::Rollback).await
    }

    async fn end(mut self, end: End) -> Result<(), DbErr> {
        let exec_err = |e| DbErr::Exec(RuntimeErr::SqlxError(Arc::new(e)));
        let handle = self
            .handle
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match self.holder.take() {
            Some(holder @ (Holder::Conn(_) | Holder::Writer)) => {
                let Some(mut slot) = handle else {
                    return Err(exec_err(sqlx::Error::WorkerCrashed));
                };
                let Some(handle) = slot.handle() else {
                    return Err(exec_err(sqlx::Error::WorkerCrashed));
                };
                let mut run = |sql: &str| {
                    handle
                        .run(sqlx::AssertSqlSafe(sql.to_owned()), None, false, false)
                        .map(|_| ())
                };
                let commit = end != End::Rollback;
                let done = run(if commit { "COMMIT" } else { "ROLLBACK" });
                // A failed COMMIT may leave the transaction open: never hand
                // the connection back with it.
                if done.is_err() && commit {
                    let _ = run("ROLLBACK");
                }
                let restored = !self.relaxed || restore_synchronous(handle);
                if !restored {
                    slot.discard();
                }
                drop(slot);
                if let (false, Holder::Conn(mut conn)) = (restored, holder) {
                    conn.close_on_drop();
                }
                done.map_err(exec_err)?;
                match (&self.wal, self.relaxed, end) {
                    (Some(wal), true, End::Commit) => {
                        // On disk before this returns, as a `FULL` commit.
                        wal.committed();
                        wal.start()
                            .wait()
                            .await
                            .map_err(|e| DbErr::Exec(RuntimeErr::Internal(e.to_string())))
                    }
                    (Some(wal), true, End::CommitUnsynced) => {
                        wal.committed();
                        Ok(())
                    }
                    _ => Ok(()),
                }
            }
            Some(Holder::Txn(txn)) => {
                drop(handle);
                match end != End::Rollback {
                    true => txn.commit().await,
                    false => txn.rollback().await,
                }
                .map_err(exec_err)
            }
            None => Ok(()),
        }
    }

    /// Runs `sql` here; `first_row_only` stops at the first row.
    fn run(
        &self,
        sql: &str,
        values: Option<sea_orm::Values>,
        persistent: bool,
        first_row_only: bool,
    ) -> Result<Vec<Either<sqlx::sqlite::SqliteQueryResult, sqlx::sqlite::SqliteRow>>, sqlx::Error>
    {
        self.statements.fetch_add(1, Ordering::Relaxed);
        let arguments =
            values.map(|v| <SqlxValues as IntoArguments<Sqlite>>::into_arguments(SqlxValues(v)));
        let mut slot = self.handle.lock().unwrap_or_else(PoisonError::into_inner);
        // Only `end` and drop take it, and both consume the transaction.
        let Some(handle) = slot.as_mut().and_then(Slot::handle) else {
            return Err(sqlx::Error::WorkerCrashed);
        };
        handle.run(
            sqlx::AssertSqlSafe(sql.to_owned()),
            arguments,
            persistent,
            first_row_only,
        )
    }

    pub(super) fn execute(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.exec(&stmt.sql, stmt.values, true)
    }

    pub(super) fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.exec(sql, None, false)
    }

    /// Every statement's count added up, the last insert's id (as sqlx's
    /// `execute` reports a multi-statement string).
    fn exec(
        &self,
        sql: &str,
        values: Option<sea_orm::Values>,
        persistent: bool,
    ) -> Result<ExecResult, DbErr> {
        let results = self
            .run(sql, values, persistent, false)
            .map_err(|e| DbErr::Exec(RuntimeErr::SqlxError(Arc::new(e))))?;
        let mut done = sqlx::sqlite::SqliteQueryResult::default();
        done.extend(results.into_iter().filter_map(Either::left));
        Ok(done.into())
    }

    pub(super) fn query_one(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        Ok(self.query(stmt, true)?.pop())
    }

    pub(super) fn query_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.query(stmt, false)
    }

    fn query(&self, stmt: Statement, first_row_only: bool) -> Result<Vec<QueryResult>, DbErr> {
        let results = self
            .run(&stmt.sql, stmt.values, true, first_row_only)
            .map_err(|e| DbErr::Query(RuntimeErr::SqlxError(Arc::new(e))))?;
        Ok(results
            .into_iter()
            .filter_map(Either::right)
            .map(QueryResult::from)
            .collect())
    }
}
