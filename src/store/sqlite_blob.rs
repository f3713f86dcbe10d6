//! Large values (a raw mail, an attachment) written into SQLite without
//! copying them: the row gets a `zeroblob(n)` of the value's size, then the
//! bytes are written into it with SQLite's incremental BLOB I/O
//! (`sqlite3_blob_write`), inside the caller's transaction.
//!
//! Why: a bound parameter is copied by sea-orm (the statement's values, then
//! sqlx's arguments) and by SQLite (the bound value, then the serialised
//! record), so a 25 MB mail was alive five times at once during its insert
//! (issues 12 and 15). sea-orm does not hand out the connection a
//! transaction runs on, so the write goes through a SQL function,
//! `bareme_write_lent(table, column, rowid, loan)`, that every SQLite
//! connection of the pool registers when it opens ([`register`]): it reads
//! the bytes lent by [`write`] in place. A loan lives only while [`write`]
//! awaits, and is read only under the lock that ends it, so the function
//! never reads freed memory, even when the caller's future is dropped.

use super::StoreError;
use libsqlite3_sys as ffi;
use sea_orm::{
    DbBackend, Statement, Value,
    sqlx::{self, SqliteConnection},
};
use std::{
    collections::BTreeMap,
    ffi::{CStr, c_int},
    marker::PhantomData,
    ptr,
    sync::{
        Mutex, MutexGuard, PoisonError,
        atomic::{AtomicI64, Ordering},
    },
};

const FUNCTION: &CStr = c"bareme_write_lent";

/// Bytes lent to the SQL function: address and length of a live slice.
struct Loan {
    address: usize,
    len: usize,
}

static LOANS: Mutex<BTreeMap<i64, Loan>> = Mutex::new(BTreeMap::new());
static NEXT_LOAN: AtomicI64 = AtomicI64::new(1);

fn loans() -> MutexGuard<'static, BTreeMap<i64, Loan>> {
    LOANS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A slice lent to the SQL function until this is dropped.
struct Lent<'a> {
    number: i64,
    _bytes: PhantomData<&'a [u8]>,
}

impl<'a> Lent<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        let number = NEXT_LOAN.fetch_add(1, Ordering::Relaxed);
        let loan = Loan {
            address: bytes.as_ptr() as usize,
            len: bytes.len(),
        };
        loans().insert(number, loan);
        Self {
            number,
            _bytes: PhantomData,
        }
    }
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        // Waits for a write in progress on this loan (it holds the lock).
        loans().remove(&self.number);
    }
}

/// Stores `bytes` in `table.column` of the row whose `key` column holds
/// `value` (the row must exist), in the caller's transaction. SQLite only;
/// `table`, `column` and `key` are ours, never user input.
pub(super) async fn write<C: crate::store::Conn>(
    conn: &C,
    table: &'static str,
    column: &'static str,
    (key, value): (&'static str, Value),
    bytes: &[u8],
) -> Result<(), StoreError> {
    // One round trip: the value becomes a zeroblob of the right size, then
    // the function writes the lent bytes into it.
    let len = length(table, column, bytes)?;
    let lent = Lent::new(bytes);
    let written = conn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            format!(
                "UPDATE {table} SET {column} = zeroblob(?) WHERE {key} = ?;\n\
                 SELECT {}(?, ?, rowid, ?) FROM {table} WHERE {key} = ?",
                function()
            ),
            [
                len.into(),
                value.clone(),
                table.into(),
                column.into(),
                lent.number.into(),
                value,
            ],
        ))
        .await?;
    drop(lent);
    written.ok_or_else(|| StoreError::NotFound(format!("{table} : ligne introuvable")))?;
    Ok(())
}

/// Runs `insert` (an `INSERT` into `table`, without `column`, ending in
/// `RETURNING` one row) and stores `bytes` in `column` of the row it
/// inserted, in one round trip; returns the row `insert` returned.
pub(super) async fn insert_with<C: crate::store::Conn>(
    conn: &C,
    insert: Statement,
    table: &'static str,
    column: &'static str,
    bytes: &[u8],
) -> Result<sea_orm::QueryResult, StoreError> {
    let len = length(table, column, bytes)?;
    let lent = Lent::new(bytes);
    let mut values = insert.values.map(|v| v.0).unwrap_or_default();
    values.extend([len.into(), table.into(), column.into(), lent.number.into()]);
    let mut rows = conn
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            format!(
                "{};\n\
                 UPDATE {table} SET {column} = zeroblob(?) WHERE rowid = last_insert_rowid();\n\
                 SELECT {}(?, ?, last_insert_rowid(), ?)",
                insert.sql,
                function()
            ),
            values,
        ))
        .await?;
    drop(lent);
    if rows.len() != 2 {
        return Err(StoreError::Invalid(format!(
            "{table}.{column} : écriture en place incomplète"
        )));
    }
    rows.truncate(1);
    Ok(rows.remove(0))
}

/// Runs `insert` (an `INSERT` into `table` whose `column` value is
/// `zeroblob(?)` of `bytes`' length, which may insert nothing: `ON CONFLICT
/// DO NOTHING`) and, when it inserted its row, stores `bytes` in it, in one
/// round trip. True when the row was inserted.
pub(super) async fn insert_or_nothing<C: crate::store::Conn>(
    conn: &C,
    insert: Statement,
    table: &'static str,
    column: &'static str,
    bytes: &[u8],
) -> Result<bool, StoreError> {
    let lent = Lent::new(bytes);
    let mut values = insert.values.map(|v| v.0).unwrap_or_default();
    values.extend([table.into(), column.into(), lent.number.into()]);
    // `changes()`: the rows the `INSERT` just before inserted (0 on conflict).
    let written = conn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            format!(
                "{};\n\
                 SELECT {}(?, ?, last_insert_rowid(), ?) WHERE changes() = 1",
                insert.sql,
                function()
            ),
            values,
        ))
        .await?;
    drop(lent);
    Ok(written.is_some())
}

fn function() -> std::borrow::Cow<'static, str> {
    FUNCTION.to_string_lossy()
}

/// The length of a value SQLite can hold, or a clear error.
pub(super) fn length(table: &str, column: &str, bytes: &[u8]) -> Result<i64, StoreError> {
    i64::try_from(bytes.len())
        .ok()
        .filter(|&n| n <= i64::from(c_int::MAX))
        .ok_or_else(|| StoreError::Invalid(format!("valeur trop grande pour {table}.{column}")))
}

/// Registers the SQL function on a new connection (the pool's `after_connect`).
pub(super) async fn register(conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
    let mut handle = conn.lock_handle().await?;
    let db = handle.as_raw_handle().as_ptr();
    // SAFETY: `db` is the open connection, locked by `handle` for this call;
    // the function has no user data and no destructor.
    let rc = unsafe {
        ffi::sqlite3_create_function_v2(
            db,
            FUNCTION.as_ptr(),
            4,
            ffi::SQLITE_UTF8 | ffi::SQLITE_DIRECTONLY,
            ptr::null_mut(),
            Some(write_lent),
            None,
            None,
            None,
        )
    };
    if rc != ffi::SQLITE_OK {
        return Err(sqlx::Error::Configuration(
            format!("SQLite : fonction {FUNCTION:?} non enregistrée ({rc})").into(),
        ));
    }
    Ok(())
}

/// The SQL function: writes loan `args[3]` into `args[0].args[1]` of row
/// `args[2]`, whose value must have the loan's length. Returns that length.
unsafe extern "C" fn write_lent(
    ctx: *mut ffi::sqlite3_context,
    argc: c_int,
    argv: *mut *mut ffi::sqlite3_value,
) {
    if argc != 4 || argv.is_null() {
        return fail(ctx, c"bareme_write_lent : 4 arguments attendus");
    }
    // SAFETY: SQLite passes `argc` valid values.
    let args = unsafe { std::slice::from_raw_parts(argv, 4) };
    // SAFETY: the values are valid for the call; the text is NUL-terminated.
    let text = |v: *mut ffi::sqlite3_value| unsafe {
        let p = ffi::sqlite3_value_text(v);
        (!p.is_null()).then(|| CStr::from_ptr(p.cast()))
    };
    let (Some(table), Some(column)) = (text(args[0]), text(args[1])) else {
        return fail(ctx, c"bareme_write_lent : table et colonne attendues");
    };
    // SAFETY: as above.
    let (rowid, number) = unsafe {
        (
            ffi::sqlite3_value_int64(args[2]),
            ffi::sqlite3_value_int64(args[3]),
        )
    };
    // Held until the bytes are written: the loan cannot end meanwhile.
    let loans = loans();
    let Some(loan) = loans.get(&number) else {
        return fail(ctx, c"bareme_write_lent : prêt inconnu");
    };
    // SAFETY: the loan's slice is alive while it is registered (see `Lent`).
    let bytes = unsafe { std::slice::from_raw_parts(loan.address as *const u8, loan.len) };
    // SAFETY: the connection running this function, on its own thread.
    let db = unsafe { ffi::sqlite3_context_db_handle(ctx) };
    let mut blob = ptr::null_mut();
    // SAFETY: valid connection and NUL-terminated names; `blob` is written.
    let rc = unsafe {
        ffi::sqlite3_blob_open(
            db,
            c"main".as_ptr(),
            table.as_ptr(),
            column.as_ptr(),
            rowid,
            1,
            &mut blob,
        )
    };
    if rc != ffi::SQLITE_OK {
        return fail_db(ctx, db);
    }
    // SAFETY: `blob` is open; the length was checked against c_int by `write`.
    let written = unsafe {
        if usize::try_from(ffi::sqlite3_blob_bytes(blob)).ok() != Some(bytes.len()) {
            ffi::sqlite3_blob_close(blob);
            return fail(ctx, c"bareme_write_lent : taille différente");
        }
        let rc = ffi::sqlite3_blob_write(blob, bytes.as_ptr().cast(), bytes.len() as c_int, 0);
        let closed = ffi::sqlite3_blob_close(blob);
        rc == ffi::SQLITE_OK && closed == ffi::SQLITE_OK
    };
    drop(loans);
    if !written {
        return fail_db(ctx, db);
    }
    // SAFETY: valid context.
    unsafe { ffi::sqlite3_result_int64(ctx, bytes.len() as i64) };
}

fn fail(ctx: *mut ffi::sqlite3_context, message: &CStr) {
    // SAFETY: valid context; SQLite copies the message.
    unsafe { ffi::sqlite3_result_error(ctx, message.as_ptr(), -1) };
}

fn fail_db(ctx: *mut ffi::sqlite3_context, db: *mut ffi::sqlite3) {
    // SAFETY: valid context and connection; SQLite copies the message, and
    // its error code is passed on (SQLITE_FULL, SQLITE_IOERR… stay what they are).
    unsafe {
        ffi::sqlite3_result_error(ctx, ffi::sqlite3_errmsg(db), -1);
        ffi::sqlite3_result_error_code(ctx, ffi::sqlite3_extended_errcode(db));
    }
}
