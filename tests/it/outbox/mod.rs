//! Outgoing mail against real SMTP listeners (aiosmtpd from
//! `tests/support/smtp_sink.py`, one per test, on a free port).

mod delivery;
mod failures;
mod processes;
pub(crate) mod sink;

use bareme_mel::{
    config::{Settings, TlsMode, Transport},
    domain::MailAddress,
    mail::{
        Account, Acknowledgement, ApprovalResetLink, ChangeNotice, ForwardedMail, Mail, MailKind,
        NewMail, PasswordChanged, RegisteredAddressAlert, SelfServiceResetLink, StaffMessage,
        Worker, enqueue,
    },
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

/// Every value a mail may show, filled as intake and the back-office will.
#[derive(Debug, Clone)]
pub struct Sample {
    pub reference: String,
    pub number: String,
    pub organisation: String,
    pub link: String,
    pub message: String,
    pub new_address: String,
    pub expires: chrono::DateTime<chrono::Utc>,
}

pub fn full_context() -> Sample {
    Sample {
        reference: "BM-2026-00042".into(),
        number: "12345".into(),
        organisation: "Lycée Jean Moulin".into(),
        link: "https://bareme.example.fr/reinitialisation/abcDEF123".into(),
        message: "Merci de joindre le formulaire signé.\n<b>Pas de balise</b> & co".into(),
        new_address: "nouvelle.gestionnaire@lycee-jean-moulin.fr".into(),
        expires: chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 11, 26, 13, 0, 0).unwrap(),
    }
}

/// The mail of `kind` made from `s`: only the values that kind carries.
pub fn mail_of(kind: MailKind, s: &Sample) -> Mail {
    let account = || Account {
        number: s.number.clone(),
        organisation: s.organisation.clone(),
    };
    let staff = || StaffMessage {
        reference: s.reference.clone(),
        message: Some(s.message.clone()),
    };
    match kind {
        MailKind::Acknowledgement => Mail::Acknowledgement(Acknowledgement {
            reference: s.reference.clone(),
            claimed_number: Some(s.number.clone()),
        }),
        MailKind::RegisteredAddressAlert => Mail::RegisteredAddressAlert(RegisteredAddressAlert {
            reference: s.reference.clone(),
            account: account(),
            objection_link: s.link.clone(),
            new_address: Some(s.new_address.clone()),
            expires: s.expires,
        }),
        MailKind::InformationRequest => Mail::InformationRequest(staff()),
        MailKind::Rejection => Mail::Rejection(staff()),
        MailKind::ChangeNotice => Mail::ChangeNotice(ChangeNotice {
            reference: s.reference.clone(),
            account: account(),
            new_address: s.new_address.clone(),
        }),
        MailKind::ApprovalResetLink => Mail::ApprovalResetLink(ApprovalResetLink {
            reference: s.reference.clone(),
            account: account(),
            reset_link: s.link.clone(),
            expires: s.expires,
        }),
        MailKind::SelfServiceResetLink => Mail::SelfServiceResetLink(SelfServiceResetLink {
            account: account(),
            reset_link: s.link.clone(),
            expires: s.expires,
        }),
        MailKind::PasswordChanged => Mail::PasswordChanged(PasswordChanged { account: account() }),
        MailKind::NotARequestReply => Mail::NotARequestReply,
        MailKind::ForwardedMail => Mail::ForwardedMail(ForwardedMail {
            summary: s.message.clone(),
        }),
    }
}

pub fn new_mail(kind: MailKind, to: &str) -> NewMail {
    new_mail_with(kind, to, &full_context())
}

pub fn new_mail_with(kind: MailKind, to: &str, s: &Sample) -> NewMail {
    NewMail {
        to: MailAddress::parse(to).expect("test address"),
        request_id: None,
        in_reply_to: None,
        references: vec![],
        content: mail_of(kind, s),
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
