//! Dovecot for the IMAP tests: addresses, an IMAP client for setting up
//! mailboxes, and a tiny LMTP client to deliver mail like an MTA does.

use crate::harness::skip_or_fail;
use bareme_mel::config::{Imap, Secret, TlsMode};
use futures_util::TryStreamExt;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
};

pub fn imap_addr() -> String {
    std::env::var("BAREME_MEL_TEST_IMAP").unwrap_or_else(|_| "127.0.0.1:10143".into())
}

pub fn lmtp_addr() -> String {
    std::env::var("BAREME_MEL_TEST_LMTP").unwrap_or_else(|_| "127.0.0.1:10024".into())
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

/// Deletes every message of `mailbox`.
pub async fn empty(s: &mut Session, mailbox: &str) {
    s.select(mailbox).await.expect("SELECT");
    let _: Vec<_> = s
        .store("1:*", "+FLAGS.SILENT (\\Deleted)")
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap_or_default();
    let _: Vec<_> = s
        .expunge()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap_or_default();
}

async fn expect(reader: &mut BufReader<TcpStream>, code: char) {
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).await.expect("LMTP read");
        assert!(line.starts_with(code), "LMTP answered {line:?}");
        if line.as_bytes().get(3) != Some(&b'-') {
            return;
        }
    }
}

/// Delivers `messages` to local user `to` by LMTP (one connection).
pub async fn lmtp_deliver(to: &str, messages: &[Vec<u8>]) {
    let tcp = TcpStream::connect(lmtp_addr()).await.expect("LMTP connect");
    let mut r = BufReader::new(tcp);
    expect(&mut r, '2').await;
    r.get_mut().write_all(b"LHLO test\r\n").await.unwrap();
    expect(&mut r, '2').await;
    for m in messages {
        r.get_mut()
            .write_all(b"MAIL FROM:<sender@lycee-jean-moulin.fr>\r\n")
            .await
            .unwrap();
        expect(&mut r, '2').await;
        r.get_mut()
            .write_all(format!("RCPT TO:<{to}>\r\n").as_bytes())
            .await
            .unwrap();
        expect(&mut r, '2').await;
        r.get_mut().write_all(b"DATA\r\n").await.unwrap();
        expect(&mut r, '3').await;
        let mut data = Vec::with_capacity(m.len() + 16);
        for line in m.split_inclusive(|b| *b == b'\n') {
            if line.starts_with(b".") {
                data.push(b'.');
            }
            data.extend_from_slice(line);
        }
        if !data.ends_with(b"\r\n") {
            data.extend_from_slice(b"\r\n");
        }
        data.extend_from_slice(b".\r\n");
        r.get_mut().write_all(&data).await.unwrap();
        expect(&mut r, '2').await;
    }
    r.get_mut().write_all(b"QUIT\r\n").await.unwrap();
}
