//! IMAP IDLE (SPEC §12): between polls the poller waits with IDLE, so a new
//! mail is handled within seconds although the poll interval is ten minutes;
//! after Dovecot restarts, it reconnects and waits again. The restart test
//! runs a private Dovecot (scripts/services/dovecot.sh on other ports) so
//! that the shared one keeps serving the other tests.

use crate::{
    harness::{TestDb, skip_or_fail},
    intake_imap_support::*,
    intake_imaps::{dovecot_ca, imaps_port},
    intake_support::*,
};
use bareme_mel::{
    config::{Imap, TlsMode},
    intake::{Intake, sources::imap},
    store::{Db, entities::inbound_message},
};
use sea_orm::{EntityTrait, PaginatorTrait};
use std::{
    path::PathBuf,
    process::{Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::{net::TcpStream, sync::watch, task::JoinHandle};

/// Ten minutes: only IDLE can explain a mail handled within seconds.
const LONG_POLL: u64 = 600;

async fn recorded(db: &Db) -> u64 {
    inbound_message::Entity::find()
        .count(db.conn())
        .await
        .unwrap()
}

/// Waits until `n` messages are recorded; how long it took, or `None` after `limit`.
async fn until_recorded(db: &Db, n: u64, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if recorded(db).await >= n {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

fn request_mail(n: u32) -> Vec<u8> {
    mail(
        SENDER,
        &format!("Changement d'adresse {n}"),
        "",
        &form_body(&format!("nouvelle{n}@lycee-jean-moulin.fr")),
    )
}

struct Poller {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Poller {
    async fn start(db: &Db, imap: Imap) -> Poller {
        let mut settings = settings();
        settings.intake.imap = imap;
        settings.intake.imap.poll_interval_secs = LONG_POLL;
        let (stop, rx) = watch::channel(false);
        let task = tokio::spawn(imap::run(Intake::new(db.clone(), Arc::new(settings)), rx));
        // Past its first poll (an empty mailbox), it waits in IDLE.
        tokio::time::sleep(Duration::from_secs(2)).await;
        Poller { stop, task }
    }

    /// Stops it; the wait in IDLE must end at once, not at the next poll.
    async fn stop(self) {
        self.stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(15), self.task)
            .await
            .expect("the poller did not stop while waiting in IDLE")
            .unwrap();
    }
}

#[tokio::test]
async fn a_new_mail_is_handled_within_seconds_through_idle_over_imaps() {
    let Some(ca) = dovecot_ca() else { return };
    let Some(mut s) = session("bareme", "bareme-pass").await else {
        return;
    };
    let folder = format!("I{}", uuid::Uuid::new_v4().simple());
    s.create(&folder).await.unwrap();
    let t = TestDb::sqlite().await;
    seed_subscriber(&t.db).await;
    let mut settings = imap_settings("bareme", "bareme-pass", &folder);
    settings.host = "localhost".into();
    settings.port = imaps_port();
    settings.tls = TlsMode::Tls;
    settings.ca_file = ca;
    let poller = Poller::start(&t.db, settings).await;
    assert_eq!(recorded(&t.db).await, 0);

    append(&mut s, &folder, &request_mail(1)).await;
    let took = until_recorded(&t.db, 1, Duration::from_secs(20)).await;
    poller.stop().await;
    let _ = s.delete(&folder).await;
    let took = took.expect("the new mail was not handled: IDLE is not used");
    eprintln!(
        "IMAPS IDLE: new mail recorded {took:?} after delivery (poll interval {LONG_POLL} s)"
    );
}

/// A Dovecot of this test's own, on free ports, in a directory of its own.
struct PrivateDovecot {
    dir: PathBuf,
    ports: [u16; 3],
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl PrivateDovecot {
    /// Runs dovecot.sh. Dovecot's daemon inherits the standard streams: they
    /// go to a file, not a pipe, or waiting for the script would never end.
    fn script(&self, action: &str) -> Result<(), String> {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/services/dovecot.sh");
        let log = std::env::temp_dir().join(format!(
            "{}.{action}.log",
            self.dir.file_name().unwrap().to_string_lossy()
        ));
        let file = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let status = Command::new("bash")
            .arg(script)
            .arg(action)
            .arg(&self.dir)
            .env("BAREME_MEL_DOVECOT_IMAP_PORT", self.ports[0].to_string())
            .env("BAREME_MEL_DOVECOT_IMAPS_PORT", self.ports[1].to_string())
            .env("BAREME_MEL_DOVECOT_LMTP_PORT", self.ports[2].to_string())
            .stdin(Stdio::null())
            .stdout(file.try_clone().map_err(|e| e.to_string())?)
            .stderr(file)
            .status()
            .map_err(|e| e.to_string())?;
        let output = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        if status.success() {
            Ok(())
        } else {
            Err(output)
        }
    }

    fn start() -> Option<PrivateDovecot> {
        let d = PrivateDovecot {
            dir: PathBuf::from(format!(
                "/tmp/bm-idle-{}",
                &uuid::Uuid::new_v4().simple().to_string()[..8]
            )),
            ports: [free_port(), free_port(), free_port()],
        };
        match d.script("start") {
            Ok(()) => Some(d),
            Err(e) => skip_or_fail("a private Dovecot (scripts/services/dovecot.sh)", e),
        }
    }

    async fn session(&self) -> Session {
        let tcp = TcpStream::connect(("127.0.0.1", self.ports[0]))
            .await
            .unwrap();
        let mut client = async_imap::Client::new(tcp);
        client.read_response().await.unwrap();
        client
            .login("bareme", "bareme-pass")
            .await
            .map_err(|(e, _)| e)
            .unwrap()
    }
}

impl Drop for PrivateDovecot {
    fn drop(&mut self) {
        let _ = self.script("stop");
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test]
async fn after_dovecot_restarts_the_poller_reconnects_and_idles_again() {
    let Some(dovecot) = PrivateDovecot::start() else {
        return;
    };
    let mut s = dovecot.session().await;
    let t = TestDb::sqlite().await;
    seed_subscriber(&t.db).await;
    let mut settings = imap_settings("bareme", "bareme-pass", "INBOX");
    settings.host = "127.0.0.1".into();
    settings.port = dovecot.ports[0];
    let poller = Poller::start(&t.db, settings).await;

    append(&mut s, "INBOX", &request_mail(1)).await;
    let first = until_recorded(&t.db, 1, Duration::from_secs(20)).await;
    assert!(
        first.is_some(),
        "the first mail was not handled through IDLE"
    );
    drop(s);

    // The connection in IDLE drops; the poller retries with backoff until Dovecot is back.
    dovecot.script("stop").expect("stop the private Dovecot");
    tokio::time::sleep(Duration::from_secs(2)).await;
    dovecot
        .script("start")
        .expect("restart the private Dovecot");
    let mut s = dovecot.session().await;
    append(&mut s, "INBOX", &request_mail(2)).await;
    let second = until_recorded(&t.db, 2, Duration::from_secs(45)).await;
    poller.stop().await;
    let second = second.expect("after the restart, the new mail was not handled");
    eprintln!(
        "IMAP IDLE: first mail after {:?}; after a restart, the next one after {second:?}",
        first.unwrap()
    );
}
