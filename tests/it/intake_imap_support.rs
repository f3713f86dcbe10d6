//! Dovecot for the IMAP tests: its address and an IMAP client for setting up
//! mailboxes. The shared instance is used by concurrent test runs: a test
//! works in a folder of its own (`T<uuid>`), never in a user's INBOX.

use crate::harness::skip_or_fail;
use bareme_mel::config::{Imap, Secret, TlsMode};
use tokio::net::TcpStream;

pub fn imap_addr() -> String {
    std::env::var("BAREME_MEL_TEST_IMAP").unwrap_or_else(|_| "127.0.0.1:10143".into())
}

/// Settings of the poller for `user`'s `mailbox` on the plain port.
pub fn imap_settings(user: &str, password: &str, mailbox: &str) -> Imap {
    let (host, port) = imap_addr()
        .rsplit_once(':')
        .map(|(h, p)| (h.to_string(), p.parse().unwrap()))
        .unwrap();
    Imap {
        host,
        port,
        tls: TlsMode::None,
        username: user.into(),
        password: Secret(password.into()),
        mailbox: mailbox.into(),
        processed_folder: String::new(),
        poll_interval_secs: 1,
        ca_file: Default::default(),
    }
}

pub type Session = async_imap::Session<TcpStream>;

/// A logged-in session, or `None` (skipped) when Dovecot is not running.
pub async fn session(user: &str, password: &str) -> Option<Session> {
    let tcp = match TcpStream::connect(imap_addr()).await {
        Ok(t) => t,
        Err(e) => return skip_or_fail("Dovecot IMAP (scripts/services/dovecot.sh start)", e),
    };
    let mut client = async_imap::Client::new(tcp);
    client.read_response().await.unwrap();
    Some(
        client
            .login(user, password)
            .await
            .map_err(|(e, _)| e)
            .expect("IMAP login"),
    )
}

pub async fn append(s: &mut Session, mailbox: &str, raw: &[u8]) {
    s.append(mailbox, None, None, raw).await.expect("APPEND");
}

/// UIDs of messages not yet `\Seen` in `mailbox`.
pub async fn unseen(s: &mut Session, mailbox: &str) -> usize {
    s.select(mailbox).await.expect("SELECT");
    s.uid_search("UNSEEN").await.expect("SEARCH").len()
}

pub async fn count(s: &mut Session, mailbox: &str) -> u32 {
    s.select(mailbox).await.expect("SELECT").exists
}
