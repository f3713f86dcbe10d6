//! Real `bareme-mel serve` processes: two on one PostgreSQL database, and a
//! sender killed with SIGKILL in the middle of a batch, then restarted.

use super::{queue, rows, sink::Sink, smtp_settings};
use crate::harness::{TestDb, cmd, free_port};
use std::{
    collections::HashSet,
    process::{Child, Stdio},
    time::{Duration, Instant},
};

/// A running `bareme-mel serve` sending to the sink on `smtp_port`.
struct Serve {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Serve {
    async fn start(db_url: &str, smtp_port: u16, lease_secs: u64) -> Serve {
        let dir = tempfile::tempdir().unwrap();
        // The mails were queued in this process, with audit events keyed by
        // its application key: serve needs the same key file.
        crate::harness::share_key(&dir.path().join("data"));
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
        let child = cmd(dir.path())
            .arg("serve")
            .env("BAREME_MEL__SERVER__BIND", format!("127.0.0.1:{port}"))
            .env("BAREME_MEL__DATABASE__URL", db_url)
            .env("BAREME_MEL__MAIL__TRANSPORT", "smtp")
            .env("BAREME_MEL__MAIL__SMTP__HOST", "127.0.0.1")
            .env("BAREME_MEL__MAIL__SMTP__PORT", smtp_port.to_string())
            .env("BAREME_MEL__MAIL__SMTP__TLS", "none")
            .env("BAREME_MEL__MAIL__POLL_INTERVAL_MS", "100")
            .env("BAREME_MEL__MAIL__RETRY_BASE_SECS", "1")
            .env("BAREME_MEL__MAIL__LEASE_SECS", lease_secs.to_string())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}/healthz");
        let deadline = Instant::now() + Duration::from_secs(30);
        while reqwest::get(&url).await.is_err() {
            assert!(Instant::now() < deadline, "serve did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Serve { child, _dir: dir }
    }

    fn kill_9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn stop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.kill_9();
    }
}

async fn wait_all_sent(db: &bareme_mel::store::Db, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let pending = rows(db).await.iter().filter(|r| r.state != "sent").count();
        if pending == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "{pending} mails still unsent");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_serve_processes_on_postgres_send_each_of_1000_mails_exactly_once() {
    let Some(t) = TestDb::postgres().await else {
        return;
    };
    let Some(sink) = Sink::start(None) else {
        return;
    };
    let mut a = Serve::start(&t.url, sink.port, 60).await;
    let mut b = Serve::start(&t.url, sink.port, 60).await;
    let ids = queue(&t.db, &smtp_settings(sink.port), 1000).await;
    wait_all_sent(&t.db, Duration::from_secs(90)).await;
    a.stop();
    b.stop();
    let received = sink.message_ids();
    assert_eq!(received.len(), 1000);
    for id in &ids {
        assert_eq!(received.get(id), Some(&1), "{id} not received exactly once");
    }
    let workers: HashSet<String> = rows(&t.db)
        .await
        .into_iter()
        .filter_map(|r| r.locked_by)
        .collect();
    assert_eq!(workers.len(), 2, "both processes sent mail: {workers:?}");
}

async fn a_killed_sender_loses_nothing(t: TestDb) {
    let Some(mut sink) = Sink::start(None) else {
        return;
    };
    sink.restart(None, 20).unwrap();
    let ids = queue(&t.db, &smtp_settings(sink.port), 150).await;
    let mut first = Serve::start(&t.url, sink.port, 2).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while sink.messages().len() < 30 {
        assert!(Instant::now() < deadline, "the first sender sent nothing");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill_9();
    let unsent = rows(&t.db)
        .await
        .iter()
        .filter(|r| r.state != "sent")
        .count();
    assert!(unsent > 0, "killed before the end of the queue");
    let mut second = Serve::start(&t.url, sink.port, 2).await;
    wait_all_sent(&t.db, Duration::from_secs(60)).await;
    second.stop();
    let received = sink.message_ids();
    let ours: HashSet<&String> = ids.iter().collect();
    for id in received.keys() {
        assert!(ours.contains(id), "unexpected Message-ID {id}");
    }
    for id in &ids {
        assert!(received.get(id).is_some_and(|n| *n >= 1), "{id} lost");
    }
    let duplicates: usize = received.values().map(|n| n - 1).sum();
    eprintln!("kill -9: {unsent} unsent at the kill, {duplicates} resent with the same Message-ID");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sender_killed_mid_batch_and_restarted_loses_no_mail_on_sqlite() {
    a_killed_sender_loses_nothing(TestDb::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sender_killed_mid_batch_and_restarted_loses_no_mail_on_postgres() {
    let Some(t) = TestDb::postgres().await else {
        return;
    };
    a_killed_sender_loses_nothing(t).await;
}
