//! SPEC §10 against a real Dovecot: 500 mails in a mailbox, the ingesting
//! `bareme-mel serve` killed with SIGKILL at random points and restarted —
//! in the end exactly 500 dispositions, no duplicate request, nothing left
//! unflagged. The mailbox is a folder of this run's own, so that two test
//! runs against the shared Dovecot never poll each other's mail.

use crate::{
    harness::{TestDb, cmd, free_port},
    intake_imap_support::*,
    intake_support::*,
};
use bareme_mel::store::entities::{change_request, inbound_message};
use sea_orm::{EntityTrait, PaginatorTrait};
use std::{
    collections::HashSet,
    process::{Child, Stdio},
    time::{Duration, Instant},
};

const MESSAGES: usize = 500;

fn serve(dir: &std::path::Path, db_url: &str, mailbox: &str) -> Child {
    let (host, port) = imap_addr()
        .rsplit_once(':')
        .map(|(h, p)| (h.to_string(), p.to_string()))
        .unwrap();
    // The subscribers seeded here are audited with this process's key.
    crate::harness::share_key(&dir.join("data"));
    let mut c = cmd(dir);
    c.arg("serve")
        .env("BAREME_MEL__DATABASE__URL", db_url)
        .env(
            "BAREME_MEL__SERVER__BIND",
            format!("127.0.0.1:{}", free_port()),
        )
        .env("BAREME_MEL__INTAKE__MAILDIR", "")
        .env("BAREME_MEL__INTAKE__IMAP__HOST", host)
        .env("BAREME_MEL__INTAKE__IMAP__PORT", port)
        .env("BAREME_MEL__INTAKE__IMAP__TLS", "none")
        .env("BAREME_MEL__INTAKE__IMAP__USERNAME", "alice")
        .env("BAREME_MEL__INTAKE__IMAP__PASSWORD", "alicepass")
        .env("BAREME_MEL__INTAKE__IMAP__MAILBOX", mailbox)
        .env("BAREME_MEL__INTAKE__IMAP__POLL_INTERVAL_SECS", "1")
        .env("BAREME_MEL__LOG__LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c.spawn().expect("spawn serve")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_polling_loses_nothing_and_does_nothing_twice() {
    let Some(mut s) = session("alice", "alicepass").await else {
        return;
    };
    let folder = format!("R{}", uuid::Uuid::new_v4().simple());
    s.create(&folder).await.unwrap();
    let t = TestDb::sqlite().await;
    seed_subscriber(&t.db).await;
    let dir = tempfile::tempdir().unwrap();
    let mails: Vec<Vec<u8>> = (0..MESSAGES)
        .map(|i| match i % 10 {
            0 => mail(SENDER, &format!("Automatic reply: {i}"), "", "Away."),
            _ => mail(
                SENDER,
                &format!("Demande {i}"),
                "",
                &form_body(&format!("m{i}@lycee-jean-moulin.fr")),
            ),
        })
        .collect();
    for m in &mails {
        append(&mut s, &folder, m).await;
    }
    assert_eq!(unseen(&mut s, &folder).await, MESSAGES);

    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let started = Instant::now();
    for _ in 0..6 {
        let mut child = serve(dir.path(), &t.url, &folder);
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        tokio::time::sleep(Duration::from_millis(300 + seed % 1500)).await;
        child.kill().expect("SIGKILL"); // Child::kill sends SIGKILL on Unix
        let _ = child.wait();
    }
    let mut child = serve(dir.path(), &t.url, &folder);
    let deadline = Instant::now() + Duration::from_secs(150);
    loop {
        let left = unseen(&mut s, &folder).await;
        if left == 0 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    child.kill().unwrap();
    let _ = child.wait();
    eprintln!(
        "reliability: {MESSAGES} mails, 6 kills, done in {:?}",
        started.elapsed()
    );

    assert_eq!(unseen(&mut s, &folder).await, 0, "nothing left unflagged");
    let rows = inbound_message::Entity::find()
        .all(t.db.conn())
        .await
        .unwrap();
    assert_eq!(rows.len(), MESSAGES, "exactly one disposition per mail");
    let positions: HashSet<_> = rows
        .iter()
        .filter_map(|r| r.source_position.clone())
        .collect();
    assert_eq!(positions.len(), MESSAGES);
    let ignored = rows
        .iter()
        .filter(|r| r.disposition == "auto_ignored")
        .count();
    assert_eq!(ignored, MESSAGES / 10);
    let requests = change_request::Entity::find()
        .count(t.db.conn())
        .await
        .unwrap();
    assert_eq!(
        requests as usize,
        MESSAGES - MESSAGES / 10,
        "no duplicate request"
    );
    let origins: HashSet<_> = change_request::Entity::find()
        .all(t.db.conn())
        .await
        .unwrap()
        .into_iter()
        .filter_map(|r| r.new_email)
        .collect();
    assert_eq!(
        origins.len(),
        MESSAGES - MESSAGES / 10,
        "one request per mail"
    );
    s.select("INBOX").await.unwrap();
    s.delete(&folder).await.unwrap();
}
