//! Outgoing mail against real SMTP listeners (aiosmtpd from
//! `tests/support/smtp_sink.py`, one per test, on a free port).

mod delivery;
mod failures;
mod processes;
mod sink;

use bareme_mel::{
    config::{Settings, TlsMode, Transport},
    domain::MailAddress,
    mail::{MailContext, MailKind, NewMail, Worker, enqueue},
    store::{Db, entities::outbox},
};
use sea_orm::{EntityTrait, QueryOrder};
use std::{sync::Arc, time::Duration};

/// Settings sending through SMTP to 127.0.0.1:`port`, retrying after about a second.
pub fn smtp_settings(port: u16) -> Settings {
    let mut s = Settings::default();
    s.server.public_url = "https://bareme.example.fr".into();
    s.mail.transport = Transport::Smtp;
    s.mail.smtp.host = "127.0.0.1".into();
    s.mail.smtp.port = port;
    s.mail.smtp.tls = TlsMode::None;
    s.mail.smtp.timeout_secs = 5;
    s.mail.retry_base_secs = 1;
    s.mail.retry_max_secs = 1;
    s.mail.poll_interval_ms = 100;
    s.mail.lease_secs = 5;
    s
}

/// A context with every field filled, as intake and the back-office will.
pub fn full_context() -> MailContext {
    MailContext {
        reference: Some("BM-2026-00042".into()),
        subscriber_number: Some("12345".into()),
        organisation: Some("Lycée Jean Moulin".into()),
        link: Some("https://bareme.example.fr/reinitialisation/abcDEF123".into()),
        message: Some("Merci de joindre le formulaire signé.\n<b>Pas de balise</b> & co".into()),
        new_address: Some("nouvelle.gestionnaire@lycee-jean-moulin.fr".into()),
        expires: Some(
            chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 11, 26, 13, 0, 0).unwrap(),
        ),
    }
}

pub fn new_mail(kind: MailKind, to: &str) -> NewMail {
    NewMail {
        kind,
        to: MailAddress::parse(to).expect("test address"),
        request_id: None,
        in_reply_to: None,
        references: vec![],
        context: full_context(),
    }
}

/// Queues `n` acknowledgements in one committed transaction; returns their Message-IDs.
pub async fn queue(db: &Db, settings: &Settings, n: usize) -> Vec<String> {
    let txn = db.begin().await.unwrap();
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let mail = new_mail(MailKind::Acknowledgement, &format!("demandeur{i}@lycee.fr"));
        ids.push(enqueue(&txn, settings, mail).await.unwrap());
    }
    txn.commit().await.unwrap();
    ids
}

pub async fn rows(db: &Db) -> Vec<outbox::Model> {
    outbox::Entity::find()
        .order_by_asc(outbox::Column::Id)
        .all(db.conn())
        .await
        .unwrap()
}

pub fn worker(db: &Db, settings: Settings) -> Worker {
    Worker::new(db.clone(), Arc::new(settings)).unwrap()
}

/// Runs passes until nothing is due any more or `within` has passed.
pub async fn drain(w: &Worker, within: Duration) {
    let deadline = std::time::Instant::now() + within;
    while std::time::Instant::now() < deadline {
        let pass = w.run_once().await.unwrap();
        if pass.claimed == 0 {
            return;
        }
    }
}
