//! Issue 15: on SQLite, an intake transaction (`Db::begin_inline`) runs its
//! statements, and its `BEGIN` and `COMMIT` when no other writer holds the
//! lock, on the caller's thread, the connection's handle taken from
//! sqlx's worker thread for the transaction's length (src/store/inline.rs,
//! a patched `sqlx-sqlite`). What the rest of the store relies on must hold
//! as with `Db::begin`: its writes are seen by its reads and by nobody else
//! before the commit; a rollback, an error or a transaction dropped half
//! way leaves nothing behind and gives a usable connection back to the
//! pool; a constraint violation is the same error; and waiting for
//! another writer does not block the thread that writer needs.

use crate::harness::TestDb;
use crate::store_deferred::{mail, queued};
use bareme_mel::config::{Database, Secret};
use bareme_mel::store::{Db, Txn, outbox};
use sea_orm::{ConnectionTrait, SqlErr, Statement};

/// A migrated SQLite file whose pool has one connection: every transaction
/// gets the connection the one before gave back.
async fn one_connection() -> (TestDb, Db) {
    let t = TestDb::sqlite().await;
    let db = Db::connect(&Database {
        url: Secret(t.url.clone()),
        max_connections: 1,
    })
    .await
    .unwrap();
    (t, db)
}

#[tokio::test]
async fn an_inline_transaction_sees_its_writes_and_only_a_commit_keeps_them() {
    let (_t, db) = one_connection().await;

    let txn = db.begin_inline().await.unwrap();
    outbox::insert(&txn, mail(1)).await.unwrap();
    outbox::insert(&txn, mail(2)).await.unwrap();
    assert_eq!(queued(&txn).await, 2, "its own deferred writes");
    txn.commit().await.unwrap();
    assert_eq!(queued(db.conn()).await, 2, "committed");

    let txn = db.begin_inline().await.unwrap();
    outbox::insert(&txn, mail(3)).await.unwrap();
    assert_eq!(queued(&txn).await, 3);
    txn.rollback().await.unwrap();
    assert_eq!(queued(db.conn()).await, 2, "rolled back");

    // Dropped half way (an error returned with `?`, a cancelled task): the
    // worker rolls back, and the one connection works for what follows
    // (left inside a transaction, the next BEGIN would fail).
    let txn = db.begin_inline().await.unwrap();
    outbox::insert(&txn, mail(4)).await.unwrap();
    assert_eq!(queued(&txn).await, 3);
    drop(txn);
    assert_eq!(queued(db.conn()).await, 2, "dropped: nothing kept");
    let txn = db.begin_inline().await.unwrap();
    outbox::insert(&txn, mail(5)).await.unwrap();
    txn.commit().await.unwrap();
    assert_eq!(queued(db.conn()).await, 3);
    db.close().await.unwrap();
}

#[tokio::test]
async fn an_error_inline_is_the_same_error_and_the_transaction_can_go_on() {
    let (_t, db) = one_connection().await;
    let txn = db.begin_inline().await.unwrap();
    outbox::insert(&txn, mail(1)).await.unwrap();
    let twice = txn
        .execute_raw(Statement::from_string(
            txn.get_database_backend(),
            "INSERT INTO outbox (message_id, template, recipient, subject, body_text, body_html, \
             headers, state, attempts, created_at, next_attempt_at) \
             SELECT message_id, template, recipient, subject, body_text, body_html, headers, \
             state, attempts, created_at, next_attempt_at FROM outbox",
        ))
        .await
        .expect_err("the same Message-ID twice");
    assert!(
        matches!(twice.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))),
        "what callers match on to tell a duplicate: {twice:?}"
    );
    let bad = txn
        .query_all_raw(Statement::from_string(
            txn.get_database_backend(),
            "SELECT id FROM no_such_table",
        ))
        .await
        .expect_err("no such table");
    assert!(bad.to_string().contains("no such table"), "{bad}");
    // SQLite undid the failed statement only: the transaction goes on.
    outbox::insert(&txn, mail(2)).await.unwrap();
    txn.commit().await.unwrap();
    assert_eq!(queued(db.conn()).await, 2);
    db.close().await.unwrap();
}

/// Begins an intake transaction on `db` while `first` holds SQLite's write
/// lock, commits `first` 300 ms later, and gives how long the intake
/// transaction waited to begin, once it has committed too. On a
/// single-threaded runtime: had the wait blocked the async thread, `first`
/// could not commit, and the intake transaction would fail after the busy
/// timeout (15 s) instead.
async fn intake_waits_for(db: &Db, first: Txn) -> std::time::Duration {
    let second = tokio::spawn({
        let db = db.clone();
        async move {
            let started = std::time::Instant::now();
            let txn = db.begin_inline().await.unwrap();
            let waited = started.elapsed();
            outbox::insert(&txn, mail(2)).await.unwrap();
            txn.commit().await.unwrap();
            waited
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    first.commit().await.unwrap();
    let waited = tokio::time::timeout(std::time::Duration::from_secs(10), second)
        .await
        .expect("the intake transaction got the lock once the first committed")
        .unwrap();
    assert!(
        waited >= std::time::Duration::from_millis(250),
        "it did wait for the first: {waited:?}"
    );
    waited
}

/// One async thread (the test's runtime), two intake transactions: the
/// second waits for the writer the first holds (an async mutex) without
/// blocking the thread the first needs to commit.
#[tokio::test(flavor = "current_thread")]
async fn waiting_for_another_writer_does_not_block_the_async_thread() {
    let t = TestDb::sqlite().await;
    let db = t.db.clone();
    let first = db.begin_inline().await.unwrap();
    outbox::insert(&first, mail(1)).await.unwrap();
    assert_eq!(queued(&first).await, 1);
    intake_waits_for(&db, first).await;
    assert_eq!(queued(db.conn()).await, 2);
}

/// The rows changed so far by the connection that runs `conn`'s statements
/// (SQLite's `total_changes()`, counted per connection since it opened).
async fn changes_of(conn: &impl ConnectionTrait) -> i64 {
    conn.query_one_raw(Statement::from_string(
        conn.get_database_backend(),
        "SELECT total_changes() AS n",
    ))
    .await
    .unwrap()
    .unwrap()
    .try_get("", "n")
    .unwrap()
}

/// Every intake write on SQLite — its transactions and the attempt counted
/// before each message is read — runs on one connection, whatever else the
/// pool holds: SQLite throws a connection's whole page cache away when
/// another connection wrote since its last transaction, and a message alone
/// then read about 80 pages back from the WAL (issue 15, README
/// « Performance »). Seen through `total_changes()`, which counts each
/// connection's own writes: each transaction finds every write made before
/// it, attempts included, counted on its own connection.
#[tokio::test]
async fn intake_writes_on_sqlite_stay_on_one_connection() {
    use bareme_mel::store::attempts;
    let t = TestDb::sqlite_pool_of(5).await;
    let db = t.db.clone();
    // The pool opens several connections and hands them out in turn.
    let reads = (0..4).map(|_| queued(db.conn()));
    futures_util::future::join_all(reads).await;

    let mut before = None;
    for i in 1..=6 {
        let key = format!("file:{i}");
        let attempt = attempts::begin(&db, &key, 3).await.unwrap();
        assert_eq!(attempt, attempts::Attempt::Go(1));
        queued(db.conn()).await;
        let txn = db.begin_inline().await.unwrap();
        let changes = changes_of(&txn).await;
        if let Some(before) = before {
            // The transaction before it (a mail queued, its attempt
            // cleared) and this message's attempt.
            assert_eq!(
                changes,
                before + 3,
                "message {i}: the attempt and the previous transaction were written on this connection"
            );
        }
        outbox::insert(&txn, mail(i)).await.unwrap();
        attempts::clear(&txn, &key).await.unwrap();
        txn.commit().await.unwrap();
        before = Some(changes);
    }
    assert_eq!(queued(db.conn()).await, 6);
}

/// The same wait when the lock is held by a transaction on another
/// connection (the back-office's, another process's): intake's writer,
/// its `BEGIN IMMEDIATE` refused at once, waits for it on a blocking thread,
/// not on the async one, which the other transaction needs to commit.
#[tokio::test(flavor = "current_thread")]
async fn waiting_for_a_writer_on_another_connection_does_not_block_the_async_thread() {
    let t = TestDb::sqlite().await;
    let db = t.db.clone();
    // The writer opened, its handle taken, before the lock is held.
    db.begin_inline().await.unwrap().commit().await.unwrap();
    let first = db.begin().await.unwrap();
    outbox::insert(&first, mail(1)).await.unwrap();
    assert_eq!(queued(&first).await, 1);
    intake_waits_for(&db, first).await;
    assert_eq!(queued(db.conn()).await, 2);
    // The writer is usable after its wait.
    let txn = db.begin_inline().await.unwrap();
    outbox::insert(&txn, mail(3)).await.unwrap();
    txn.commit().await.unwrap();
    assert_eq!(queued(db.conn()).await, 3);
}
