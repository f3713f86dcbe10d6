//! Issue 15, round trips: in a transaction, the writes whose result nobody
//! reads (`Conn::defer`: audit events, outbox rows, tokens, links) go to
//! SQLite's worker with the next statement instead of one round trip each.
//! What the code around them relies on must hold all the same: a later
//! read sees them, an `UPDATE`'s row count is its own, an error in one of
//! them fails the transaction, and a rollback drops them. And SQLite's
//! checkpoints, moved off the writer's commits, still empty the WAL.

use crate::on_both_databases;
use bareme_mel::store::{
    Conn, Db,
    outbox::{self, QueuedMail},
};
use chrono::{Duration, Utc};
use sea_orm::{ConnectionTrait, Statement};

pub(crate) fn mail(n: usize) -> QueuedMail {
    QueuedMail {
        message_id: format!("<deferred-{n}@bareme.test>"),
        template: "accuse_reception",
        recipient: "gestion@lycee.test".into(),
        subject: "Accusé de réception".into(),
        body_text: "Bonjour".into(),
        body_html: "<p>Bonjour</p>".into(),
        headers: "{}".into(),
        request_id: None,
    }
}

pub(crate) async fn queued(conn: &impl Conn) -> u64 {
    let since = Utc::now() - Duration::hours(1);
    outbox::counts_since(conn, &[("gestion@lycee.test", "accuse_reception")], since)
        .await
        .unwrap()[0]
}

on_both_databases!(
    deferred_writes_are_seen_by_the_next_read_and_committed,
    |db: Db| async move {
        let txn = db.begin().await.unwrap();
        outbox::insert(&txn, mail(1)).await.unwrap();
        outbox::insert(&txn, mail(2)).await.unwrap();
        assert_eq!(queued(&txn).await, 2, "a read after two deferred inserts");
        outbox::insert(&txn, mail(3)).await.unwrap();
        txn.commit().await.unwrap();
        assert_eq!(queued(db.conn()).await, 3, "the insert left for the commit");
    }
);

// On PostgreSQL deferred writes go as the `WITH` clauses of one statement,
// which all see the snapshot from before it: an `UPDATE` joined there would
// not find a row inserted beside it, nor one moved by another `UPDATE`
// (a record linked to the request it created, the audit chain's head moved
// twice). Such a write sends the ones before it first.
on_both_databases!(
    a_deferred_update_sees_the_rows_deferred_before_it,
    |db: Db| async move {
        let txn = db.begin().await.unwrap();
        outbox::insert(&txn, mail(1)).await.unwrap();
        let backend = txn.get_database_backend();
        let bump = || {
            Statement::from_string(
                backend,
                r#"UPDATE "outbox" SET "attempts" = "attempts" + 1"#,
            )
        };
        txn.defer(bump()).await.unwrap();
        txn.defer(bump()).await.unwrap();
        txn.commit().await.unwrap();
        let row = db
            .conn()
            .query_one_raw(Statement::from_string(
                backend,
                "SELECT attempts FROM outbox",
            ))
            .await
            .unwrap()
            .unwrap();
        let attempts: i32 = row.try_get("", "attempts").unwrap();
        assert_eq!(
            attempts, 2,
            "both updates saw the inserted row and each other"
        );
    }
);

on_both_databases!(
    an_update_after_deferred_writes_counts_only_its_own_rows,
    |db: Db| async move {
        let txn = db.begin().await.unwrap();
        outbox::insert(&txn, mail(1)).await.unwrap();
        let backend = txn.get_database_backend();
        let none = txn
            .execute_raw(Statement::from_string(
                backend,
                "UPDATE outbox SET attempts = attempts + 1 WHERE id = -1",
            ))
            .await
            .unwrap();
        // An optimistic lock (« version = ? ») reads this count to see a conflict.
        assert_eq!(none.rows_affected(), 0);
        let one = txn
            .execute_raw(Statement::from_string(
                backend,
                "UPDATE outbox SET attempts = attempts + 1",
            ))
            .await
            .unwrap();
        assert_eq!(one.rows_affected(), 1);
        txn.commit().await.unwrap();
    }
);

on_both_databases!(
    a_failing_deferred_write_fails_the_transaction_and_a_rollback_drops_them,
    |db: Db| async move {
        let txn = db.begin().await.unwrap();
        outbox::insert(&txn, mail(1)).await.unwrap();
        // The same Message-ID twice: the outbox keeps each one once.
        let second = outbox::insert(&txn, mail(1)).await;
        let failed = match second {
            Err(_) => true,
            Ok(()) => txn.commit().await.is_err(),
        };
        assert!(
            failed,
            "a duplicate deferred insert must fail its transaction"
        );
        assert_eq!(queued(db.conn()).await, 0, "nothing of it is kept");

        let txn = db.begin().await.unwrap();
        outbox::insert(&txn, mail(2)).await.unwrap();
        txn.rollback().await.unwrap();
        assert_eq!(
            queued(db.conn()).await,
            0,
            "a rollback drops deferred writes"
        );
    }
);

/// The WAL's size in frames, as a full checkpoint reports it (no copy made:
/// `wal_checkpoint(PASSIVE)` on a fresh connection returns log and copied frames).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_checkpoints_run_beside_the_writer_and_close_leaves_a_complete_file() {
    let t = crate::harness::TestDb::sqlite().await;
    let path = bareme_mel::store::sqlite_path(&t.url).unwrap();
    let wal = path.with_extension("db-wal");
    for n in 0..200 {
        let txn = t.db.begin().await.unwrap();
        outbox::insert(&txn, mail(n)).await.unwrap();
        txn.commit().await.unwrap();
    }
    // The writers never checkpoint (wal_autocheckpoint=0); the checkpointer
    // copies the WAL into the file within a second, and the next writer
    // starts the WAL over from its beginning.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let copy = tempfile::tempdir().unwrap();
    let only_file = copy.path().join("copy.db");
    std::fs::copy(&path, &only_file).unwrap();
    let url = format!("sqlite://{}?mode=ro", only_file.display());
    let pool = sea_orm::Database::connect(url).await.unwrap();
    let row = pool
        .query_one_raw(Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            "SELECT COUNT(*) AS n FROM outbox",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        row.try_get::<i64>("", "n").unwrap(),
        200,
        "the database file alone (WAL left behind) holds every committed row"
    );
    pool.close().await.unwrap();
    assert!(wal.exists(), "WAL mode");
    t.db.clone().close().await.unwrap();
    assert!(
        !wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0,
        "closing the last connection (the checkpointer's included) leaves no WAL behind"
    );
}

/// A migrated SQLite database with a `filler` table of blobs, and the path
/// of its WAL.
async fn filler_db() -> (crate::harness::TestDb, std::path::PathBuf) {
    let t = crate::harness::TestDb::sqlite().await;
    let path = bareme_mel::store::sqlite_path(&t.url).unwrap();
    t.db.conn()
        .execute_unprepared("CREATE TABLE filler (x BLOB)")
        .await
        .unwrap();
    (t, path.with_extension("db-wal"))
}

/// Under a steady flow of small commits the WAL is still started over:
/// 192 MiB committed, 64 KiB at a time with 2 ms between commits (at most
/// 32 MiB/s), leave a WAL file of less than half of that. Copying alone
/// (`PASSIVE`) left a WAL as large as all that was written (465 MB for 2,000
/// mails at batch 1; here, in the sixth session, 146 MiB after 128 MiB),
/// each frame on a new page. Between two commits the checkpointer may copy
/// everything and the next commit start the WAL over; on a loaded machine
/// it does not, and the commit past 64 MiB does it (`checkpoint::wal_grown`;
/// the next test): a bound of half of 128 MiB was then too tight by one
/// commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_the_wal_is_started_over_under_a_steady_flow_of_writes() {
    let (t, wal) = filler_db().await;
    let conn = t.db.conn();
    let total: u64 = 192 << 20;
    let started = std::time::Instant::now();
    let mut written = 0;
    while written < total && started.elapsed() < std::time::Duration::from_secs(60) {
        conn.execute_unprepared("INSERT INTO filler VALUES (randomblob(65536))")
            .await
            .unwrap();
        written += 65536;
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    assert!(written >= total, "only {written} bytes written in a minute");
    let size = std::fs::metadata(&wal).unwrap().len();
    assert!(
        size < total / 2,
        "a WAL of {} MiB after {} MiB written",
        size >> 20,
        total >> 20
    );
    t.db.clone().close().await.unwrap();
}

/// Commits as large and as close together as intake's at batch 64 (4 MiB
/// each, back to back, each on disk before the next): the WAL is started
/// over once it holds 64 MiB (the commit that crosses it copies what the
/// checkpointer has not, `checkpoint::wal_grown`), so 320 MiB committed
/// leave a WAL of less than 128 MiB. With only the checkpointer copying
/// beside the writer, the WAL was never started over (117 MiB after the
/// first 160 MiB): its next transaction always began before the copy was
/// done, and a `RESTART` checkpoint never found a moment without a writer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_the_wal_stays_small_under_commits_as_fast_as_intakes() {
    let (t, wal) = filler_db().await;
    let mut largest = 0;
    for _ in 0..80 {
        let txn = t.db.begin().await.unwrap();
        txn.execute_unprepared(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 64) \
             INSERT INTO filler SELECT randomblob(65536) FROM n",
        )
        .await
        .unwrap();
        txn.commit().await.unwrap();
        largest = largest.max(std::fs::metadata(&wal).unwrap().len());
    }
    assert!(
        largest < 128 << 20,
        "a WAL of {} MiB after 320 MiB committed in 4 MiB commits",
        largest >> 20
    );
    t.db.clone().close().await.unwrap();
}

// A read that does not depend on the deferred writes (`Conn::query_all_beside`)
// takes them along in its own round trip on PostgreSQL (`WITH` clauses): one
// statement instead of two; the writes are committed all the same, and a
// failing one fails the read.
on_both_databases!(
    a_read_beside_deferred_writes_takes_them_along,
    |db: Db| async move {
        let txn = db.begin().await.unwrap();
        outbox::insert(&txn, mail(1)).await.unwrap();
        outbox::insert(&txn, mail(2)).await.unwrap();
        let before = db.statements();
        let backend = txn.get_database_backend();
        let rows = txn
            .query_all_beside(Statement::from_string(backend, "SELECT 7 AS n"))
            .await
            .unwrap();
        assert_eq!(
            db.statements() - before,
            1,
            "one round trip for the read and the writes"
        );
        assert_eq!(rows[0].try_get::<i32>("", "n").unwrap(), 7);
        txn.commit().await.unwrap();
        assert_eq!(queued(db.conn()).await, 2, "the writes are committed");

        let txn = db.begin().await.unwrap();
        outbox::insert(&txn, mail(1)).await.unwrap();
        let read = txn
            .query_all_beside(Statement::from_string(backend, "SELECT 7 AS n"))
            .await;
        let failed = match read {
            Err(_) => true,
            Ok(_) => txn.commit().await.is_err(),
        };
        assert!(
            failed,
            "a duplicate carried along fails the read or the commit"
        );
        assert_eq!(queued(db.conn()).await, 2);
    }
);
