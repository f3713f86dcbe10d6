//! What a pooled connection costs when it goes back to the pool: nothing on
//! the wire when it has nothing left to send (sqlx 0.9.0 pinged it, one more
//! round trip per statement; vendor/sqlx-core skips that ping), and a
//! transaction dropped before its end is still rolled back right away.

use crate::harness::{pg_admin_url, skip_or_fail};
use bareme_mel::{
    config::{Database, Secret},
    store::Db,
};
use sea_orm::{ConnectionTrait, Statement, TransactionTrait};
use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// A TCP relay to PostgreSQL that counts what the client sends (each read
/// of the client side: one message or a few written together).
async fn counting_relay() -> Option<(String, Arc<AtomicU64>)> {
    let admin = pg_admin_url();
    let authority = admin.split("://").nth(1)?;
    let host_port = authority.rsplit('@').next()?.split('/').next()?.to_string();
    if TcpStream::connect(&host_port).await.is_err() {
        return skip_or_fail("PostgreSQL", format!("{host_port} unreachable"));
    }
    let listener = TcpListener::bind("127.0.0.1:0").await.ok()?;
    let relay = listener.local_addr().ok()?;
    let sent = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&sent);
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = TcpStream::connect(&host_port).await else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (mut client_rx, mut client_tx) = client.into_split();
            let (mut server_rx, mut server_tx) = server.into_split();
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n) = client_rx.read(&mut buf).await {
                    if n == 0 || server_tx.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                    counter.fetch_add(1, Ordering::SeqCst);
                }
            });
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut server_rx, &mut client_tx).await;
            });
        }
    });
    let user = authority
        .split('@')
        .next()
        .filter(|_| authority.contains('@'));
    let url = match user {
        Some(user) => format!("postgres://{user}@{relay}/postgres?sslmode=disable"),
        None => format!("postgres://{relay}/postgres?sslmode=disable"),
    };
    Some((url, sent))
}

async fn one(db: &Db, i: i32) -> i32 {
    db.conn()
        .query_one_raw(Statement::from_sql_and_values(
            db.backend(),
            "SELECT $1::int4 + 1 AS n",
            [i.into()],
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i32>("", "n")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_costs_one_round_trip_the_pool_does_not_ping_it_back() {
    let Some((url, sent)) = counting_relay().await else {
        return;
    };
    let db = Db::connect(&Database {
        url: Secret(url),
        max_connections: 1,
    })
    .await
    .unwrap();
    // The connection is open and its statement prepared.
    assert_eq!(one(&db, 0).await, 1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = sent.load(Ordering::SeqCst);
    for i in 1..=20 {
        assert_eq!(one(&db, i).await, i + 1);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let messages = sent.load(Ordering::SeqCst) - before;
    assert!(
        messages <= 20,
        "20 statements sent {messages} times (a ping after each doubles it)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_dropped_before_its_end_is_rolled_back_at_once() {
    let Some(t) = crate::harness::TestDb::postgres().await else {
        return;
    };
    let db = t.db.clone();
    let lock = |db: Db| async move {
        let txn = db.conn().begin().await.unwrap();
        txn.execute_unprepared("LOCK TABLE change_requests IN ACCESS EXCLUSIVE MODE")
            .await
            .unwrap();
        // Dropped without commit or rollback, as a cancelled handler would.
        drop(txn);
    };
    lock(db.clone()).await;
    // Another connection gets the table: the ROLLBACK went out with the
    // connection's return to the pool, not at its next use.
    let other = Db::connect(&Database {
        url: Secret(t.url.clone()),
        max_connections: 1,
    })
    .await
    .unwrap();
    let txn = other.conn().begin().await.unwrap();
    txn.execute_unprepared("SET LOCAL lock_timeout = '2s'")
        .await
        .unwrap();
    txn.execute_unprepared("LOCK TABLE change_requests IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("the dropped transaction's lock is released");
    txn.rollback().await.unwrap();
    assert_eq!(one(&db, 1).await, 2, "its connection still works");
}

/// sea-orm binds a query's `LIMIT` (`.one()` sends `LIMIT ?` with 1), and
/// SQLite, which may plan with the value bound there, then compiles the
/// statement again each time it is bound anew, cache or not — unless its
/// query planner stability guarantee is on (`SQLITE_DBCONFIG_ENABLE_QPSG`),
/// which every connection of the pool turns on. The same lookup 20 times on
/// a pool of one connection: SQLite's count of recompilations
/// (`SQLITE_STMTSTATUS_REPREPARE`) of the connection's cached statements
/// with a `LIMIT` stays at 0 (19 without the guarantee).
#[tokio::test]
async fn sqlite_a_statement_with_a_bound_limit_is_compiled_once() {
    use bareme_mel::store::entities::subscriber;
    use libsqlite3_sys as ffi;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let t = crate::harness::TestDb::sqlite_pool_of(1).await;
    let db = &t.db;
    for i in 0..20 {
        let found = subscriber::Entity::find()
            .filter(subscriber::Column::Number.eq(format!("{:05}", 10_000 + i)))
            .one(db.conn())
            .await
            .unwrap();
        assert!(found.is_none());
    }
    let mut conn = db
        .conn()
        .get_sqlite_connection_pool()
        .acquire()
        .await
        .unwrap();
    let mut handle = conn.lock_handle().await.unwrap();
    let raw = handle.as_raw_handle().as_ptr();
    let (mut with_limit, mut recompiled) = (0, 0);
    // SAFETY: `raw` is the open connection, locked by `handle`; the
    // statements are only looked at, on this thread, while it is locked.
    unsafe {
        let mut stmt = ffi::sqlite3_next_stmt(raw, std::ptr::null_mut());
        while !stmt.is_null() {
            let sql = std::ffi::CStr::from_ptr(ffi::sqlite3_sql(stmt)).to_string_lossy();
            if sql.contains("LIMIT") && sql.contains("\"subscribers\"") {
                with_limit += 1;
                recompiled += ffi::sqlite3_stmt_status(stmt, ffi::SQLITE_STMTSTATUS_REPREPARE, 0);
            }
            stmt = ffi::sqlite3_next_stmt(raw, stmt);
        }
    }
    drop(handle);
    assert_eq!(with_limit, 1, "the lookup is one cached statement");
    assert_eq!(
        recompiled, 0,
        "recompiled {recompiled} times for 20 lookups"
    );
}
