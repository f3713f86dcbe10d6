//! The IMAP lease (SPEC §10, issue 12): `serve` killed with SIGKILL and
//! restarted on the same host takes the mailbox over at once — the dead
//! process's lease does not make new mail wait for its term (3 × poll
//! interval + 60 s) — while two live `serve` on one PostgreSQL database still
//! poll the mailbox with one of them only. Real Dovecot, a folder of each
//! test's own in the `bareme` account.

use crate::{
    harness::{TestDb, cmd, free_port},
    intake_imap_support::*,
    intake_support::*,
};
use bareme_mel::store::entities::{inbound_message, lease};
use sea_orm::{EntityTrait, PaginatorTrait};
use std::{
    process::{Child, Stdio},
    time::{Duration, Instant},
};

fn serve(dir: &std::path::Path, db_url: &str, mailbox: &str) -> Child {
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

async fn recorded(t: &TestDb) -> u64 {
    inbound_message::Entity::find()
        .count(t.db.conn())
        .await
        .unwrap()
}

/// Waits until `n` mails are recorded; the time it took, or `None` after `limit`.
async fn until_recorded(t: &TestDb, n: u64, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if recorded(t).await >= n {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

fn log(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default()
}

fn stop(mut child: Child) {
    child.kill().unwrap(); // SIGKILL on Unix
    let _ = child.wait();
}

async fn holder(t: &TestDb) -> Option<String> {
    lease::Entity::find()
        .all(t.db.conn())
        .await
        .unwrap()
        .into_iter()
        .find(|l| l.name.starts_with("imap:"))
        .map(|l| l.holder)
}

fn holder_pid(holder: &str) -> Option<u32> {
    holder.split('|').nth(4)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_killed_and_restarted_takes_the_mailbox_over_within_seconds() {
    let Some(mut s) = session("bareme", "bareme-pass").await else {
        return;
    };
    let t = TestDb::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let folder = format!("L{}", uuid::Uuid::new_v4().simple());
    s.create(&folder).await.unwrap();

    append(&mut s, &folder, &mail(SENDER, "Avant", "", "Bonjour.")).await;
    let first = serve(dir.path(), &t.url, &folder);
    let took = until_recorded(&t, 1, Duration::from_secs(60)).await;
    assert!(
        took.is_some(),
        "first mail not recorded: {}",
        log(dir.path())
    );
    stop(first);

    append(&mut s, &folder, &mail(SENDER, "Après", "", "Bonjour.")).await;
    let second = serve(dir.path(), &t.url, &folder);
    let took = until_recorded(&t, 2, Duration::from_secs(40)).await;
    stop(second);
    let took = took.unwrap_or_else(|| {
        panic!(
            "the mail after the restart still waits for the dead lease: {}",
            log(dir.path())
        )
    });
    eprintln!("imap lease: mail recorded {took:?} after the restart");
    assert!(took < Duration::from_secs(20), "{took:?}");
    s.select("INBOX").await.unwrap();
    s.delete(&folder).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_live_serve_on_postgres_poll_with_one_and_the_other_takes_over_when_it_dies() {
    let Some(mut s) = session("bareme", "bareme-pass").await else {
        return;
    };
    let Some(t) = TestDb::postgres().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let folder = format!("L{}", uuid::Uuid::new_v4().simple());
    s.create(&folder).await.unwrap();

    let mut a = Some(serve(dir.path(), &t.url, &folder));
    let mut b = Some(serve(dir.path(), &t.url, &folder));
    for i in 0..10 {
        append(
            &mut s,
            &folder,
            &mail(SENDER, &format!("Message {i}"), "", "Bonjour."),
        )
        .await;
    }
    let took = until_recorded(&t, 10, Duration::from_secs(60)).await;
    assert!(took.is_some(), "not recorded: {}", log(dir.path()));
    // One poller the whole time: the lease never changed hands between the
    // two live processes.
    let first = holder(&t).await.expect("IMAP lease held");
    let pids = [a.as_ref().unwrap().id(), b.as_ref().unwrap().id()];
    let pid = holder_pid(&first).expect("holder names its process");
    assert!(pids.contains(&pid), "{first} not one of {pids:?}");
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(holder(&t).await.as_deref(), Some(first.as_str()));
    }
    assert_eq!(recorded(&t).await, 10, "each mail once");

    // The holder dies: the other live process on this host takes over at once.
    let (dead, survivor) = if pid == pids[0] {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };
    stop(dead.take().unwrap());
    append(&mut s, &folder, &mail(SENDER, "Après", "", "Bonjour.")).await;
    let took = until_recorded(&t, 11, Duration::from_secs(40)).await;
    let now = holder(&t).await;
    stop(survivor.take().unwrap());
    let took =
        took.unwrap_or_else(|| panic!("the survivor did not take over: {}", log(dir.path())));
    assert!(took < Duration::from_secs(20), "{took:?}");
    assert_ne!(now.as_deref(), Some(first.as_str()));
    assert_eq!(recorded(&t).await, 11);
    s.select("INBOX").await.unwrap();
    s.delete(&folder).await.unwrap();
}
