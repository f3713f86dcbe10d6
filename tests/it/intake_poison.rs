//! Poison messages (issue 12, SPEC §4): a message that kills the process is
//! counted before each attempt and, after `intake.max_attempts` (3), is
//! recorded quarantined unread while the next message goes through — for a
//! Maildir, the MTA pipe, HTTP and IMAP (real Dovecot). The process death is
//! the debug-build hook `BAREME_MEL_TEST_ABORT_ON` (abort, as an OOM kill).

use crate::{
    harness::{TestDb, cmd, free_port},
    intake_imap_support::*,
    intake_support::*,
};
use bareme_mel::{
    intake::{Incoming, Origin},
    store::{attempts, entities::inbound_message, inbox::Disposition},
};
use sea_orm::{EntityTrait, QueryOrder};
use std::{
    process::Stdio,
    time::{Duration, Instant},
};

/// The bytes that make the test build abort.
const MARKER: &str = "POISON-3b1f9c";

fn poison() -> Vec<u8> {
    mail(
        SENDER,
        "Ce message tue le processus",
        "",
        &format!("Bonjour,\r\n{MARKER}\r\n"),
    )
}

fn good() -> Vec<u8> {
    mail(
        SENDER,
        "Changement d'adresse",
        "",
        &form_body("nouvelle@lycee-jean-moulin.fr"),
    )
}

async fn records(t: &TestDb) -> Vec<inbound_message::Model> {
    inbound_message::Entity::find()
        .order_by_asc(inbound_message::Column::Id)
        .all(t.db.conn())
        .await
        .unwrap()
}

fn assert_quarantined_unread(m: &inbound_message::Model) {
    assert_eq!(m.disposition, Disposition::Quarantined.as_str());
    assert_eq!(
        m.reason.as_deref(),
        Some("traitement impossible (3 tentatives)")
    );
    assert!(
        m.raw
            .as_deref()
            .is_some_and(|r| r.windows(MARKER.len()).any(|w| w == MARKER.as_bytes())),
        "raw bytes kept"
    );
    assert_eq!(m.subject, None, "recorded without being parsed again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_maildir_message_that_kills_the_process_is_quarantined_after_three_attempts() {
    let t = TestDb::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("inbox");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    // The poison sorts first: before the fix it blocked the good mail forever.
    std::fs::write(maildir.join("new/1764580500.M1P1.host"), poison()).unwrap();
    std::fs::write(maildir.join("new/1764580501.M2P1.host"), good()).unwrap();
    let run = || {
        let out = cmd(dir.path())
            .env("BAREME_MEL__DATABASE__URL", &t.url)
            .env("BAREME_MEL_TEST_ABORT_ON", MARKER)
            .arg("ingest")
            .arg("--maildir")
            .arg(&maildir)
            .stderr(Stdio::null())
            .output()
            .unwrap();
        (
            out.status,
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    for attempt in 1..=3 {
        let (status, stdout) = run();
        assert!(!status.success(), "attempt {attempt} survived: {stdout}");
        assert_eq!(stdout, "", "attempt {attempt}");
        assert_eq!(
            attempts::count(t.db.conn(), "maildir:1764580500.M1P1.host")
                .await
                .unwrap(),
            attempt,
            "counted before processing, durably"
        );
        assert!(records(&t).await.is_empty());
    }
    let (status, stdout) = run();
    assert!(status.success(), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert_eq!(lines[0], "quarantined -");
    assert!(lines[1].starts_with("request_created BM-"), "{stdout}");
    let recs = records(&t).await;
    assert_quarantined_unread(&recs[0]);
    assert_eq!(recs[1].disposition, Disposition::RequestCreated.as_str());
    assert_eq!(std::fs::read_dir(maildir.join("new")).unwrap().count(), 0);
    assert!(maildir.join("cur/1764580500.M1P1.host:2,S").exists());
    assert_eq!(
        attempts::count(t.db.conn(), "maildir:1764580500.M1P1.host")
            .await
            .unwrap(),
        0,
        "forgotten once recorded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mta_pipe_counts_attempts_by_content_hash_and_gives_up_after_three() {
    let t = TestDb::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("poison.eml");
    std::fs::write(&path, poison()).unwrap();
    let run = || {
        let out = cmd(dir.path())
            .env("BAREME_MEL__DATABASE__URL", &t.url)
            .env("BAREME_MEL_TEST_ABORT_ON", MARKER)
            .arg("ingest")
            .stdin(Stdio::from(std::fs::File::open(&path).unwrap()))
            .stderr(Stdio::null())
            .output()
            .unwrap();
        (
            out.status,
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    for attempt in 1..=3 {
        let (status, stdout) = run();
        assert!(!status.success(), "attempt {attempt}: {stdout}");
    }
    let (status, stdout) = run();
    assert_eq!(status.code(), Some(0), "{stdout}");
    assert_eq!(stdout, "quarantined -\n");
    let recs = records(&t).await;
    assert_eq!(recs.len(), 1);
    assert_quarantined_unread(&recs[0]);
}

#[tokio::test]
async fn an_http_message_with_three_failed_attempts_is_quarantined_unread() {
    let t = TestDb::sqlite().await;
    let raw = poison();
    let incoming = Incoming::whole(raw, Origin::new("http", None));
    let key = format!("sha256:{}", incoming.content_hash);
    for n in 1..=3 {
        // Each attempt counted, then the process died before recording it.
        assert_eq!(
            attempts::begin(&t.db, &key, 3).await.unwrap(),
            attempts::Attempt::Go(n)
        );
    }
    let outcome = intake(&t.db).ingest(incoming.clone()).await.unwrap();
    assert_eq!(outcome.disposition, Disposition::Quarantined);
    assert_quarantined_unread(&records(&t).await[0]);
    // The same bytes sent again later are read normally.
    let again = intake(&t.db).ingest(incoming).await.unwrap();
    assert_ne!(again.disposition, Disposition::Quarantined);
}

#[tokio::test]
async fn a_message_that_is_recorded_leaves_no_count_behind() {
    let t = TestDb::sqlite().await;
    let incoming = Incoming::whole(good(), Origin::new("maildir", Some("maildir:x".into())));
    intake(&t.db).ingest(incoming).await.unwrap();
    assert_eq!(attempts::count(t.db.conn(), "maildir:x").await.unwrap(), 0);
}

fn serve_imap(dir: &std::path::Path, db_url: &str, mailbox: &str) -> std::process::Child {
    let (host, port) = imap_addr()
        .rsplit_once(':')
        .map(|(h, p)| (h.to_string(), p.to_string()))
        .unwrap();
    cmd(dir)
        .arg("serve")
        .env("BAREME_MEL__DATABASE__URL", db_url)
        .env(
            "BAREME_MEL__SERVER__BIND",
            format!("127.0.0.1:{}", free_port()),
        )
        .env("BAREME_MEL__INTAKE__MAILDIR", "")
        .env("BAREME_MEL__INTAKE__IMAP__HOST", host)
        .env("BAREME_MEL__INTAKE__IMAP__PORT", port)
        .env("BAREME_MEL__INTAKE__IMAP__TLS", "none")
        .env("BAREME_MEL__INTAKE__IMAP__USERNAME", "bareme")
        .env("BAREME_MEL__INTAKE__IMAP__PASSWORD", "bareme-pass")
        .env("BAREME_MEL__INTAKE__IMAP__MAILBOX", mailbox)
        .env("BAREME_MEL__INTAKE__IMAP__POLL_INTERVAL_SECS", "1")
        .env("BAREME_MEL__LOG__LEVEL", "warn")
        .env("BAREME_MEL_TEST_ABORT_ON", MARKER)
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join("serve.log"))
                .unwrap(),
        ))
        .spawn()
        .expect("spawn serve")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imap_message_that_kills_serve_is_quarantined_after_three_attempts() {
    let Some(mut s) = session("bareme", "bareme-pass").await else {
        return;
    };
    let t = TestDb::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let folder = format!("P{}", uuid::Uuid::new_v4().simple());
    s.create(&folder).await.unwrap();
    append(&mut s, &folder, &poison()).await;
    append(&mut s, &folder, &good()).await;
    let started = Instant::now();
    let mut deaths = 0;
    // Restarted like a supervisor would, until both mails are recorded.
    let mut alive = None;
    while alive.is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "not done after {deaths} deaths"
        );
        let mut child = serve_imap(dir.path(), &t.url, &folder);
        loop {
            if child.try_wait().unwrap().is_some() {
                deaths += 1;
                // The restarted poller takes the dead one's IMAP lease at once.
                break;
            }
            if records(&t).await.len() >= 2 {
                alive = Some(child);
                break;
            }
            if started.elapsed() > Duration::from_secs(90) {
                child.kill().unwrap();
                let _ = child.wait();
                let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default();
                panic!("not done after {deaths} deaths: {log}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // Both leave the mailbox's unread set once recorded.
    let deadline = Instant::now() + Duration::from_secs(10);
    while unseen(&mut s, &folder).await > 0 {
        assert!(Instant::now() < deadline, "still unseen");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut child = alive.unwrap();
    child.kill().unwrap();
    let _ = child.wait();
    assert_eq!(deaths, 3, "three attempts, then given up");
    let recs = records(&t).await;
    assert_quarantined_unread(&recs[0]);
    assert_eq!(recs[1].disposition, Disposition::RequestCreated.as_str());
    assert!(
        recs[0]
            .source_position
            .as_deref()
            .is_some_and(|p| p.starts_with("imap:bareme@") && p.ends_with(":1")),
        "{:?}",
        recs[0].source_position
    );
    s.select("INBOX").await.unwrap();
    s.delete(&folder).await.unwrap();
}

/// The Maildir names of [`good_poison_other`], in order.
const THREE: [&str; 3] = [
    "1764580500.M1P1.host",
    "1764580501.M2P1.host",
    "1764580502.M3P1.host",
];

/// A Maildir under `dir` holding a request, the poison and another request
/// ([`THREE`]).
fn good_poison_other(dir: &std::path::Path) -> std::path::PathBuf {
    let maildir = dir.join("inbox");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    let other = mail(
        SENDER,
        "Changement d'adresse (bis)",
        "",
        &form_body("autre@lycee-jean-moulin.fr"),
    );
    std::fs::write(maildir.join("new").join(THREE[0]), good()).unwrap();
    std::fs::write(maildir.join("new").join(THREE[1]), poison()).unwrap();
    std::fs::write(maildir.join("new").join(THREE[2]), other).unwrap();
    maildir
}

/// `ingest --maildir` with `intake.batch_size` `batch`, the poison hook on:
/// its exit status and what it printed.
fn ingest_maildir(
    dir: &std::path::Path,
    url: &str,
    maildir: &std::path::Path,
    batch: usize,
) -> (std::process::ExitStatus, String) {
    let out = cmd(dir)
        .env("BAREME_MEL__DATABASE__URL", url)
        .env("BAREME_MEL__INTAKE__BATCH_SIZE", batch.to_string())
        .env("BAREME_MEL_TEST_ABORT_ON", MARKER)
        .arg("ingest")
        .arg("--maildir")
        .arg(maildir)
        .stderr(Stdio::null())
        .output()
        .unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_killed_by_its_poison_quarantines_it_after_three_attempts_and_records_the_rest() {
    let t = TestDb::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    // One batch of three (intake.batch_size 64): the poison in the middle.
    let maildir = good_poison_other(dir.path());
    let names = THREE;
    let poison_key = format!("maildir:{}", names[1]);
    let run = || ingest_maildir(dir.path(), &t.url, &maildir, 64);
    let mut printed = String::new();
    for attempt in 1..=3 {
        let (status, stdout) = run();
        assert!(!status.success(), "attempt {attempt} survived: {stdout}");
        printed.push_str(&stdout);
        assert_eq!(
            attempts::count(t.db.conn(), &poison_key).await.unwrap(),
            attempt,
            "counted before the batch was read, durably"
        );
    }
    // The message before the poison went through once the batch was taken
    // apart; nothing of the poison is recorded yet.
    let recs = records(&t).await;
    assert_eq!(recs.len(), 1, "{printed}");
    assert_eq!(recs[0].disposition, Disposition::RequestCreated.as_str());
    let (status, stdout) = run();
    assert!(status.success(), "{stdout}");
    printed.push_str(&stdout);
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), 3, "{printed}");
    assert!(lines[0].starts_with("request_created BM-"), "{printed}");
    assert_eq!(lines[1], "quarantined -");
    let recs = records(&t).await;
    assert_eq!(recs.len(), 3);
    assert_quarantined_unread(&recs[1]);
    assert_ne!(recs[2].disposition, Disposition::Quarantined.as_str());
    assert_eq!(std::fs::read_dir(maildir.join("new")).unwrap().count(), 0);
    for name in names {
        assert_eq!(
            attempts::count(t.db.conn(), &format!("maildir:{name}"))
                .await
                .unwrap(),
            0,
            "{name}: forgotten once recorded"
        );
    }
}

/// Batches of one overlap: a message is read while the one before it is
/// written. When the read kills the process, the message being written may
/// die with it, counted; on the next run it is written alone, before the
/// poison is read again, so it is recorded and never given up in its place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_written_while_the_poison_was_read_is_recorded_not_given_up() {
    let t = TestDb::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let maildir = good_poison_other(dir.path());
    let names = THREE;
    let key = |name: &str| format!("maildir:{name}");
    let run = || ingest_maildir(dir.path(), &t.url, &maildir, 1);
    let mut printed = String::new();
    for attempt in 1..=3 {
        let (status, stdout) = run();
        assert!(!status.success(), "attempt {attempt} survived: {stdout}");
        printed.push_str(&stdout);
        assert_eq!(
            attempts::count(t.db.conn(), &key(names[1])).await.unwrap(),
            attempt,
            "the poison counted before each read"
        );
        assert_eq!(
            attempts::count(t.db.conn(), &key(names[2])).await.unwrap(),
            0,
            "the message after the poison is not counted before it is read"
        );
        if attempt > 1 {
            let recs = records(&t).await;
            assert_eq!(recs.len(), 1, "{printed}");
            assert_eq!(recs[0].disposition, Disposition::RequestCreated.as_str());
            assert_eq!(
                attempts::count(t.db.conn(), &key(names[0])).await.unwrap(),
                0
            );
        }
    }
    let (status, stdout) = run();
    assert!(status.success(), "{stdout}");
    printed.push_str(&stdout);
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), 3, "{printed}");
    // Its commit may have beaten the poison in the first run: it is then
    // recorded already, unacknowledged, and found so (one request either way).
    assert!(
        (lines[0].starts_with("request_created BM-") || lines[0].starts_with("duplicate BM-"))
            && lines[0].ends_with("-00001"),
        "{printed}"
    );
    assert_eq!(lines[1], "quarantined -");
    assert!(lines[2].starts_with("request_created BM-"), "{printed}");
    let recs = records(&t).await;
    assert_eq!(recs.len(), 3);
    assert_eq!(recs[0].disposition, Disposition::RequestCreated.as_str());
    assert_quarantined_unread(&recs[1]);
    assert_eq!(recs[2].disposition, Disposition::RequestCreated.as_str());
    for name in names {
        assert_eq!(
            attempts::count(t.db.conn(), &key(name)).await.unwrap(),
            0,
            "{name}: forgotten once recorded"
        );
    }
}

#[tokio::test]
async fn a_batch_that_is_recorded_leaves_no_count_behind() {
    let t = TestDb::sqlite().await;
    let mut s = settings();
    s.intake.batch_size = 64;
    let intake = bareme_mel::intake::Intake::new(t.db.clone(), std::sync::Arc::new(s));
    let batch = (0..3)
        .map(|n| {
            Incoming::whole(
                mail(SENDER, &format!("Message {n}"), "", "Bonjour"),
                Origin::new("maildir", Some(format!("maildir:b{n}"))),
            )
        })
        .collect();
    for result in intake.ingest_batch(batch).await {
        result.unwrap();
    }
    for n in 0..3 {
        assert_eq!(
            attempts::count(t.db.conn(), &format!("maildir:b{n}"))
                .await
                .unwrap(),
            0
        );
    }
}

/// A batch's count waits for another writer and then counts: it reads the
/// unfinished attempts and writes the new ones in one transaction, which
/// begins by taking the write lock. Begun as a reader (SQLite's default),
/// it read before the other writer committed and then failed at once with
/// « database is locked » (its snapshot out of date: no busy wait), and
/// `ingest` exited 75 with the batch unread — what a checkpoint that starts
/// the WAL over also did, now and then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_counted_while_another_writer_commits() {
    use sea_orm::sqlx::{Connection as _, Executor as _};
    let t = TestDb::sqlite().await;
    let mut other = sea_orm::sqlx::SqliteConnection::connect(&t.url)
        .await
        .unwrap();
    other.execute("BEGIN IMMEDIATE").await.unwrap();
    other
        .execute("INSERT INTO intake_attempts (key, attempts, first_at, last_at) VALUES ('other', 1, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')")
        .await
        .unwrap();
    let db = t.db.clone();
    let keys = vec!["maildir:a".to_string(), "maildir:b".to_string()];
    let counting = tokio::spawn(async move { attempts::begin_batch(&db, &keys).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    other.execute("COMMIT").await.unwrap();
    assert!(
        counting.await.unwrap().unwrap(),
        "the batch is counted once the other writer committed"
    );
    assert_eq!(attempts::count(t.db.conn(), "maildir:a").await.unwrap(), 1);
}
