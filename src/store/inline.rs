//! SQLite transactions whose statements run on the caller's thread.
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
//! `BEGIN IMMEDIATE` and `COMMIT` still go through the worker: the first
//! may wait up to the busy timeout for another writer, the second for the
//! disk (`synchronous=FULL`), and neither wait may block an async thread.
//! Between them the transaction holds SQLite's write lock, so no statement
//! waits for a lock; each costs what SQLite itself costs.

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
    // Field order is drop order: the handle, which borrows `*txn`, goes
    // first and gives the connection back to its worker.
    handle: Mutex<LockedSqliteHandle<'static>>,
    txn: Box<sqlx::Transaction<'static, Sqlite>>,
    /// [`super::Db::statements`]: one per call, as sea-orm counts them.
    statements: Arc<AtomicU64>,
}

impl Inline {
    /// `BEGIN IMMEDIATE` on a connection of `pool`, then its handle.
    pub(super) async fn begin(
        pool: &SqlitePool,
        statements: Arc<AtomicU64>,
    ) -> Result<Self, DbErr> {
        let mut txn = Box::new(
            pool.begin_with("BEGIN IMMEDIATE")
                .await
                .map_err(|e| DbErr::Conn(RuntimeErr::SqlxError(Arc::new(e))))?,
        );
        let conn: *mut SqliteConnection = &mut **txn;
        // SAFETY: the handle borrows the connection inside the boxed
        // transaction, whose address does not change when `Inline` moves.
        // Nothing else touches `txn` while the handle lives: it is dropped
        // first (field order), and `commit`/`rollback` drop it before using
        // `txn`. The borrow is therefore never used past the box's life.
        let handle = unsafe { &mut *conn }
            .lock_handle()
            .await
            .map_err(|e| DbErr::Conn(RuntimeErr::SqlxError(Arc::new(e))))?;
        let handle: LockedSqliteHandle<'static> = unsafe { std::mem::transmute(handle) };
        Ok(Self {
            handle: Mutex::new(handle),
            txn,
            statements,
        })
    }

    /// Gives the handle back to the worker, which commits.
    pub(super) async fn commit(self) -> Result<(), DbErr> {
        self.end(true).await
    }

    /// Gives the handle back to the worker, which rolls back.
    pub(super) async fn rollback(self) -> Result<(), DbErr> {
        self.end(false).await
    }

    async fn end(self, commit: bool) -> Result<(), DbErr> {
        let Self { handle, txn, .. } = self;
        drop(handle);
        match commit {
            true => txn.commit().await,
            false => txn.rollback().await,
        }
        .map_err(|e| DbErr::Exec(RuntimeErr::SqlxError(Arc::new(e))))
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
        self.handle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .run(
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
