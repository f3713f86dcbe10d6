//! Issue 15: every SQLite connection of the service writes its WAL through
//! `store::wal_vfs`, which holds consecutive writes and writes them as one.
//! What it holds must be in the file before anyone can read it: a commit is
//! read at once by a connection that does not use that VFS (another
//! process, the `sqlite3` tool), and frames that a large transaction wrote
//! and then rolled back never land later over the frames another
//! connection committed meanwhile.

use bareme_mel::store::wal_vfs;
use sea_orm::sqlx::{
    self, Connection, Row, SqliteConnection,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous},
};

fn options(path: &std::path::Path, through_vfs: bool) -> SqliteConnectOptions {
    let o = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // As intake commits: no sync of the WAL at the commit (a sync
        // writes what is held too).
        .synchronous(SqliteSynchronous::Normal)
        // Nothing copies the WAL into the database: every read below finds
        // its page in the WAL, where this VFS wrote it.
        .pragma("wal_autocheckpoint", "0");
    if through_vfs {
        o.vfs(wal_vfs::register().unwrap())
    } else {
        o
    }
}

/// A value of `len` bytes that differs with `seed` everywhere.
fn value(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

async fn stored(conn: &mut SqliteConnection, id: i64) -> Option<Vec<u8>> {
    sqlx::query("SELECT v FROM t WHERE id = ?")
        .bind(id)
        .fetch_optional(conn)
        .await
        .unwrap()
        .map(|r| r.get::<Vec<u8>, _>(0))
}

async fn intact(conn: &mut SqliteConnection) {
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(conn)
        .await
        .unwrap();
    assert_eq!(check, "ok");
}

#[tokio::test]
async fn a_commit_is_read_at_once_by_a_connection_without_the_vfs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    let mut writer = SqliteConnection::connect_with(&options(&path, true))
        .await
        .unwrap();
    sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB NOT NULL)")
        .execute(&mut writer)
        .await
        .unwrap();
    let mut reader = SqliteConnection::connect_with(&options(&path, false))
        .await
        .unwrap();
    // Commits of one frame to some fifty: each read as soon as it returns.
    for id in 1..=120_i64 {
        let v = value(id as u64, (id as usize * 1_877) % 200_000 + 10);
        sqlx::query("INSERT INTO t (id, v) VALUES (?, ?)")
            .bind(id)
            .bind(&v)
            .execute(&mut writer)
            .await
            .unwrap();
        assert_eq!(stored(&mut reader, id).await.as_ref(), Some(&v), "row {id}");
    }
    intact(&mut reader).await;
    writer.close().await.unwrap();
    reader.close().await.unwrap();
}

#[tokio::test]
async fn frames_rolled_back_never_land_over_frames_committed_after_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    let mut a = SqliteConnection::connect_with(&options(&path, true).pragma("cache_size", "10"))
        .await
        .unwrap();
    sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB NOT NULL)")
        .execute(&mut a)
        .await
        .unwrap();
    let mut b = SqliteConnection::connect_with(&options(&path, true))
        .await
        .unwrap();

    for round in 0..4_i64 {
        // A's transaction outgrows its cache of ten pages: SQLite spills
        // pages into the WAL (frames this VFS holds), then A rolls back.
        let mut tx = a.begin().await.unwrap();
        sqlx::query("INSERT INTO t (id, v) VALUES (?, ?)")
            .bind(1_000 + round)
            .bind(value(7 + round as u64, 90_000))
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.rollback().await.unwrap();

        // B commits frames where A's rolled-back ones were.
        let kept = value(100 + round as u64, 150_000);
        sqlx::query("INSERT INTO t (id, v) VALUES (?, ?)")
            .bind(round)
            .bind(&kept)
            .execute(&mut b)
            .await
            .unwrap();

        // A writes again, after B's frames.
        sqlx::query("INSERT INTO t (id, v) VALUES (?, ?)")
            .bind(100 + round)
            .bind(value(200 + round as u64, 5_000))
            .execute(&mut a)
            .await
            .unwrap();

        for conn in [&mut a, &mut b] {
            assert_eq!(
                stored(conn, round).await,
                Some(kept.clone()),
                "round {round}"
            );
            assert_eq!(stored(conn, 1_000 + round).await, None);
        }
    }
    a.close().await.unwrap();
    b.close().await.unwrap();

    let mut fresh = SqliteConnection::connect_with(&options(&path, false))
        .await
        .unwrap();
    intact(&mut fresh).await;
    for round in 0..4_i64 {
        assert_eq!(
            stored(&mut fresh, round).await,
            Some(value(100 + round as u64, 150_000))
        );
        assert_eq!(
            stored(&mut fresh, 100 + round).await,
            Some(value(200 + round as u64, 5_000))
        );
    }
    fresh.close().await.unwrap();
}
