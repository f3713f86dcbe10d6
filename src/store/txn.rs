//! [`Txn`], the write transaction the store's callers chain calls in: the
//! writes it holds back and joins to the next statement, and what it
//! remembers of the rows it holds locked ([`Memo`]).

use super::{Conn, audit, inline};
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, ExecResult, QueryResult, Statement,
};

/// What a [`Txn`] learnt of rows it holds locked until its end, so that it
/// does not read them again: a batch of intake writes many requests and
/// audit events in one transaction, and each read is a round trip. Nobody
/// else can change those rows before the commit (PostgreSQL: the row lock
/// taken by the first read, an `UPDATE … RETURNING` or an upsert; SQLite:
/// the writer lock of `BEGIN IMMEDIATE`); a rollback drops the memo with
/// the transaction.
#[derive(Debug, Default)]
pub struct Memo {
    /// The audit chain's head after this transaction's last append.
    pub(crate) audit_head: std::sync::Mutex<Option<audit::HeadMemo>>,
    /// The last reference taken: its year and number.
    pub(crate) reference: std::sync::Mutex<Option<(i32, i64)>>,
    /// Records linked to a request in this transaction (record id, request
    /// id): the link is a deferred write, which a later read that carries it
    /// (PostgreSQL, one snapshot for the statement) does not see yet.
    pub(crate) links: std::sync::Mutex<Vec<(i64, i64)>>,
    /// Ids taken ahead from the sequences (PostgreSQL, a batch of intake):
    /// a row inserted with one is a deferred write, not an `INSERT …
    /// RETURNING` round trip of its own.
    pub(crate) ahead: std::sync::Mutex<IdsAhead>,
    /// Records inserted in this transaction with an id taken ahead: a read
    /// that carries their deferred insert does not see them, so dedup
    /// looks here too.
    pub(crate) records: std::sync::Mutex<Vec<RecordHere>>,
}

/// Ids taken ahead for a transaction's inserts ([`Memo::ahead`]), used in order.
#[derive(Debug, Default)]
pub(crate) struct IdsAhead {
    pub(crate) records: std::collections::VecDeque<i64>,
    pub(crate) requests: std::collections::VecDeque<i64>,
}

/// What dedup reads of a record inserted in this transaction
/// ([`Memo::records`]), as its row holds it.
#[derive(Debug, Clone)]
pub(crate) struct RecordHere {
    pub(crate) id: i64,
    pub(crate) position: Option<String>,
    pub(crate) message_id: Option<String>,
    pub(crate) content_hash: String,
    pub(crate) disposition: String,
    pub(crate) request_id: Option<i64>,
}

impl Memo {
    /// The memo's slot, even after a panic elsewhere.
    pub(crate) fn slot<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A write transaction from [`Db::begin`], for the callers that chain several
/// store calls atomically without naming the storage library.
///
/// Every statement is a round trip (to sqlx's worker thread on SQLite, two
/// thread wake-ups; to the server on PostgreSQL), which is what intake's
/// writes cost most (README, « Performance »); on SQLite an intake
/// transaction ([`super::Db::begin_inline`]) runs them on its own thread. The writes handed to
/// [`Conn::defer`] are therefore held and sent together before the next
/// statement or the commit, so a later read sees them:
/// - on SQLite, in the same round trip as that statement, as one
///   multi-statement string the worker runs in order (an `execute` sends
///   them first on their own, so that its row count is its own);
/// - on PostgreSQL, as one statement of data-modifying `WITH` clauses
///   (their parameters renumbered), sent just before.
pub struct Txn {
    inner: Inner,
    /// The deferred writes, in order.
    pending: std::sync::Mutex<Vec<Statement>>,
    memo: Memo,
}

impl std::fmt::Debug for Txn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Txn").finish_non_exhaustive()
    }
}

impl Txn {
    pub(super) fn new(inner: Inner) -> Self {
        Self {
            inner,
            pending: std::sync::Mutex::new(Vec::new()),
            memo: Memo::default(),
        }
    }

    /// Commits, after sending the writes still deferred.
    pub async fn commit(self) -> Result<(), DbErr> {
        self.flush().await?;
        self.inner.commit().await
    }

    /// [`Txn::commit`] for intake on SQLite: the commit does not wait for
    /// the disk; [`super::Db::sync_commits`] then puts it there, and what it
    /// recorded is acknowledged only after that (see `wal_sync`). Elsewhere
    /// (PostgreSQL, a transaction begun through [`super::Db::begin`]) the
    /// same as [`Txn::commit`].
    pub async fn commit_unsynced(self) -> Result<(), DbErr> {
        self.flush().await?;
        match self.inner {
            Inner::Inline(t) => t.commit_unsynced().await,
            inner => inner.commit().await,
        }
    }

    /// Rolls back; deferred writes are dropped unsent.
    pub async fn rollback(self) -> Result<(), DbErr> {
        self.take_pending();
        self.inner.rollback().await
    }

    /// `stmt`, a read that does not depend on the writes deferred so far
    /// ([`Conn::query_all_beside`]), ready to send: on PostgreSQL a `SELECT`
    /// or an `INSERT … RETURNING` carries them as `WITH` clauses (one round
    /// trip instead of two); otherwise as [`Txn::before_read`].
    async fn carrying(&self, stmt: Statement) -> Result<Statement, DbErr> {
        let sql = stmt.sql.as_str();
        let carries = stmt.db_backend == DbBackend::Postgres
            && (sql.starts_with("SELECT ") || sql.starts_with("INSERT "))
            && !sql.contains(['?', ';', '\'']);
        if !carries {
            return self.before_read(stmt).await;
        }
        let writes = self.take_writes();
        Ok(match writes.is_empty() {
            true => stmt,
            false => with_clauses_then(writes, stmt),
        })
    }

    /// The deferred writes, in order, taken out.
    fn take_writes(&self) -> Vec<Statement> {
        std::mem::take(
            &mut *self
                .pending
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// The deferred writes as one statement, if any.
    fn take_pending(&self) -> Option<Statement> {
        let pending = self.take_writes();
        match self.inner.get_database_backend() {
            DbBackend::Postgres => with_clauses(pending),
            _ => pending.into_iter().reduce(join),
        }
    }

    /// A read, ready to send: on SQLite joined after the deferred writes
    /// (one round trip), otherwise sent after them.
    async fn before_read(&self, stmt: Statement) -> Result<Statement, DbErr> {
        if stmt.db_backend == DbBackend::Sqlite && joinable(&stmt) {
            return Ok(match self.take_pending() {
                Some(pending) => join(pending, stmt),
                None => stmt,
            });
        }
        self.flush().await?;
        Ok(stmt)
    }

    /// PostgreSQL: whether `stmt`, an `UPDATE` or a `DELETE`, changes a
    /// table that a deferred write changes too. Joined to it as `WITH`
    /// clauses, it would not see that write's rows (one snapshot for the
    /// statement): a record linked to the request it created, inserted
    /// just before; the audit chain's head moved twice.
    fn changes_pending_rows(&self, stmt: &Statement) -> bool {
        let sql = stmt.sql.as_str();
        if stmt.db_backend != DbBackend::Postgres
            || !(sql.starts_with("UPDATE ") || sql.starts_with("DELETE "))
        {
            return false;
        }
        let Some(table) = written_table(sql) else {
            return true;
        };
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .any(|w| written_table(&w.sql).is_none_or(|t| t == table))
    }

    /// Sends the deferred writes, if any, in one round trip of their own.
    async fn flush(&self) -> Result<(), DbErr> {
        if let Some(pending) = self.take_pending() {
            self.inner.execute_raw(pending).await?;
        }
        Ok(())
    }
}

/// Whether a statement can be held and joined to others. On SQLite its
/// parameters must all be the positional `?` of sea-query's SQLite builder
/// (sqlx binds each statement of a multi-statement string from where the
/// previous one stopped); on PostgreSQL they must be `$n` (renumbered in
/// [`with_clauses`]) and it must be an `INSERT`, `UPDATE` or `DELETE`
/// without a string literal.
fn joinable(stmt: &Statement) -> bool {
    let sql = stmt.sql.as_str();
    if sql.contains('\'') {
        return false;
    }
    match stmt.db_backend {
        // Several statements of ours (`sqlite_blob::write`) join as one.
        DbBackend::Sqlite => {
            !sql.contains('$')
                && !sql
                    .as_bytes()
                    .windows(2)
                    .any(|w| w[0] == b'?' && w[1].is_ascii_digit())
        }
        DbBackend::Postgres => {
            !sql.contains('?')
                && !sql.contains(';')
                && ["INSERT ", "UPDATE ", "DELETE "]
                    .iter()
                    .any(|verb| sql.starts_with(verb))
        }
        _ => false,
    }
}

/// The table a PostgreSQL write changes, as sea-query writes it
/// (`INSERT INTO "t"`, `UPDATE "t"`, `DELETE FROM "t"`).
fn written_table(sql: &str) -> Option<&str> {
    let rest = ["INSERT INTO \"", "UPDATE \"", "DELETE FROM \""]
        .iter()
        .find_map(|verb| sql.strip_prefix(verb))?;
    rest.split('"').next()
}

/// `first; second`, their values in that order (SQLite).
fn join(first: Statement, second: Statement) -> Statement {
    let mut sql = first.sql;
    sql.push_str(";\n");
    sql.push_str(&second.sql);
    let values = match (first.values, second.values) {
        (Some(mut a), Some(b)) => {
            a.0.extend(b.0);
            Some(a)
        }
        (a, b) => a.or(b),
    };
    Statement {
        sql,
        values,
        db_backend: first.db_backend,
    }
}

/// PostgreSQL: several writes as one statement, `WITH w0 AS (…), w1 AS (…)
/// SELECT 1`, each one's `$n` shifted past the parameters of those before
/// it. They see the same snapshot (none of them reads another's rows) and
/// their constraints are checked at the end of the statement.
fn with_clauses(mut writes: Vec<Statement>) -> Option<Statement> {
    if writes.len() <= 1 {
        return writes.pop();
    }
    let db_backend = writes[0].db_backend;
    Some(with_clauses_then(
        writes,
        Statement::from_string(db_backend, "SELECT 1"),
    ))
}

/// PostgreSQL: `WITH w0 AS (…), … <main>`, the writes' and then `main`'s
/// parameters renumbered in that order. `main` does not see the writes'
/// rows (one snapshot for the whole statement): only for a `main` that
/// reads none of their tables ([`Conn::query_all_beside`]).
fn with_clauses_then(writes: Vec<Statement>, main: Statement) -> Statement {
    let db_backend = main.db_backend;
    let mut sql = String::from("WITH ");
    let mut values: Vec<sea_orm::Value> = Vec::new();
    for (i, write) in writes.into_iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!("w{i} AS ("));
        let offset = values.len();
        shift_parameters(&write.sql, offset, &mut sql);
        sql.push(')');
        if let Some(v) = write.values {
            values.extend(v.0);
        }
    }
    sql.push(' ');
    shift_parameters(&main.sql, values.len(), &mut sql);
    if let Some(v) = main.values {
        values.extend(v.0);
    }
    Statement {
        sql,
        values: Some(sea_orm::Values(values)),
        db_backend,
    }
}

/// Copies `sql` into `out` with every `$n` written `$(n + offset)`.
fn shift_parameters(sql: &str, offset: usize, out: &mut String) {
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        match rest[..digits].parse::<usize>() {
            Ok(n) => out.push_str(&(n + offset).to_string()),
            Err(_) => out.push_str(&rest[..digits]),
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
}

/// What a [`Txn`] runs its statements on.
pub(super) enum Inner {
    /// sea-orm's transaction (PostgreSQL; SQLite through sqlx's worker thread).
    Orm(DatabaseTransaction),
    /// SQLite, each statement on the caller's thread ([`inline`]).
    Inline(inline::Inline),
}

impl Inner {
    fn get_database_backend(&self) -> DbBackend {
        match self {
            Inner::Orm(t) => t.get_database_backend(),
            Inner::Inline(_) => DbBackend::Sqlite,
        }
    }

    fn support_returning(&self) -> bool {
        match self {
            Inner::Orm(t) => t.support_returning(),
            Inner::Inline(_) => DbBackend::Sqlite.support_returning(),
        }
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match self {
            Inner::Orm(t) => t.execute_raw(stmt).await,
            Inner::Inline(t) => t.execute(stmt),
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match self {
            Inner::Orm(t) => t.execute_unprepared(sql).await,
            Inner::Inline(t) => t.execute_unprepared(sql),
        }
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match self {
            Inner::Orm(t) => t.query_one_raw(stmt).await,
            Inner::Inline(t) => t.query_one(stmt),
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self {
            Inner::Orm(t) => t.query_all_raw(stmt).await,
            Inner::Inline(t) => t.query_all(stmt),
        }
    }

    async fn commit(self) -> Result<(), DbErr> {
        match self {
            Inner::Orm(t) => t.commit().await,
            Inner::Inline(t) => t.commit().await,
        }
    }

    async fn rollback(self) -> Result<(), DbErr> {
        match self {
            Inner::Orm(t) => t.rollback().await,
            Inner::Inline(t) => t.rollback().await,
        }
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Txn {
    fn get_database_backend(&self) -> DbBackend {
        self.inner.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.flush().await?;
        self.inner.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.flush().await?;
        self.inner.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        let stmt = self.before_read(stmt).await?;
        self.inner.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let stmt = self.before_read(stmt).await?;
        self.inner.query_all_raw(stmt).await
    }

    fn support_returning(&self) -> bool {
        self.inner.support_returning()
    }
}

impl Conn for Txn {
    async fn defer(&self, stmt: Statement) -> Result<(), DbErr> {
        if !joinable(&stmt) {
            self.flush().await?;
            return self.inner.execute_raw(stmt).await.map(|_| ());
        }
        if self.changes_pending_rows(&stmt) {
            // It must see those rows: they go first, on their own.
            self.flush().await?;
        }
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(stmt);
        Ok(())
    }

    fn memo(&self) -> Option<&Memo> {
        Some(&self.memo)
    }

    async fn query_all_beside(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let stmt = self.carrying(stmt).await?;
        self.inner.query_all_raw(stmt).await
    }
}
