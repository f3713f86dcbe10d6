//! What arrives: every template with its headers and both parts; what never
//! leaves: rolled-back and refused mails; bounces.

use super::{drain, new_mail, queue, rows, sink::Sink, smtp_settings, worker};
use crate::{harness::TestDb, on_both_databases};
use bareme_mel::{
    config::{Settings, Transport},
    domain::MailAddress,
    mail::{LOOP_HEADER, MailKind, enqueue, mark_bounced},
    store::Db,
};
use mail_parser::MessageParser;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_template_arrives_with_its_headers_and_both_parts() {
    let Some(sink) = Sink::start(None) else {
        return;
    };
    let t = TestDb::sqlite().await;
    let settings = smtp_settings(sink.port);
    let txn = t.db.begin().await.unwrap();
    let mut sent = vec![];
    for kind in MailKind::ALL {
        let mut mail = new_mail(kind, "Gestionnaire@Lycee.FR");
        if kind.auto_submitted() == "auto-replied" {
            mail.in_reply_to = Some("<requete.1@lycee.fr>".into());
            mail.references = vec!["origine.0@lycee.fr".into(), "requete.1@lycee.fr".into()];
        }
        sent.push((kind, enqueue(&txn, &settings, mail).await.unwrap()));
    }
    txn.commit().await.unwrap();
    drain(&worker(&t.db, settings), Duration::from_secs(20)).await;

    let received = sink.messages();
    assert_eq!(received.len(), MailKind::ALL.len());
    for (kind, id) in sent {
        let raw = received
            .iter()
            .find(|r| super::sink::message_id(r).as_deref() == Some(id.as_str()))
            .unwrap_or_else(|| panic!("{kind:?} not received"));
        let m = MessageParser::default().parse(raw).unwrap();
        let header = |n: &str| m.header_raw(n).map(|v| v.trim().to_string());
        assert_eq!(
            header("X-Sink-Rcpt").as_deref(),
            Some("Gestionnaire@lycee.fr"),
            "one envelope recipient"
        );
        assert_eq!(m.to().unwrap().iter().count(), 1);
        let from = m.from().unwrap().first().unwrap();
        assert_eq!(from.address(), Some("bareme@ac-montpellier.fr"));
        assert_eq!(from.name(), Some("Barème de Montpellier — Rectorat"));
        // Path II mails and the answers to other mail concern no request.
        let about_a_request = !matches!(
            kind,
            MailKind::SelfServiceResetLink
                | MailKind::PasswordChanged
                | MailKind::NotARequestReply
                | MailKind::ForwardedMail
        );
        assert_eq!(
            m.subject().unwrap().starts_with("[BM-2026-00042] "),
            about_a_request,
            "{kind:?}: {:?}",
            m.subject()
        );
        assert_eq!(m.message_id(), Some(id.as_str()));
        assert!(id.ends_with("@ac-montpellier.fr"));
        assert_eq!(
            header("Auto-Submitted").as_deref(),
            Some(kind.auto_submitted())
        );
        assert_eq!(header(LOOP_HEADER).as_deref(), Some("1"));
        assert_eq!(header("X-Auto-Response-Suppress").as_deref(), Some("All"));
        if kind.auto_submitted() == "auto-replied" {
            assert_eq!(m.in_reply_to().as_text(), Some("requete.1@lycee.fr"));
            assert_eq!(m.references().as_text_list().map(|l| l.len()), Some(2));
        } else {
            assert!(m.header("In-Reply-To").is_none());
        }
        assert!(
            header("Content-Type")
                .unwrap()
                .contains("multipart/alternative")
        );
        assert_eq!(
            (m.text_body_count(), m.html_body_count()),
            (1, 1),
            "{kind:?}"
        );
        let text = m.body_text(0).unwrap();
        let html = m.body_html(0).unwrap();
        for part in [&text, &html] {
            assert!(
                part.contains("https://bareme.example.fr/donnees-personnelles"),
                "{kind:?}"
            );
        }
        assert!(
            !html.contains("<img") && !html.contains("src="),
            "no remote content"
        );
        match kind {
            MailKind::RegisteredAddressAlert => {
                assert!(text.contains("Si vous n'êtes pas à l'origine de cette demande"));
                assert!(
                    html.contains("href=\"https://bareme.example.fr/reinitialisation/abcDEF123\"")
                );
            }
            MailKind::InformationRequest | MailKind::Rejection => {
                assert!(
                    text.contains("<b>Pas de balise</b> & co"),
                    "text part keeps staff text"
                );
                assert!(
                    !html.contains("<b>Pas de balise"),
                    "HTML part escapes staff text"
                );
            }
            MailKind::ApprovalResetLink => assert!(text.contains("24 heures")),
            MailKind::SelfServiceResetLink => assert!(text.contains("1 heure")),
            _ => {}
        }
    }
}

on_both_databases!(
    enqueue_in_a_rolled_back_transaction_sends_nothing,
    |db: Db| async move {
        let settings = Settings::default();
        let txn = db.begin().await.unwrap();
        enqueue(
            &txn,
            &settings,
            new_mail(MailKind::Acknowledgement, "a@lycee.fr"),
        )
        .await
        .unwrap();
        txn.rollback().await.unwrap();
        assert!(rows(&db).await.is_empty());
        let pass = worker(&db, smtp_settings(crate::harness::free_port()))
            .run_once()
            .await
            .unwrap();
        assert_eq!(pass.claimed, 0);
    }
);

#[tokio::test]
async fn header_injection_is_refused_at_enqueue() {
    let t = TestDb::sqlite().await;
    let settings = Settings::default();
    for bad in [
        "a@lycee.fr\r\nBcc: x@y.fr",
        "a@lycee.fr\nBcc: x@y.fr",
        "Nom <a@lycee.fr>, b@c.fr",
    ] {
        assert!(MailAddress::parse(bad).is_err(), "{bad:?}");
    }
    let mut cases = vec![];
    let hostile = |change: fn(&mut super::Sample)| {
        let mut s = super::full_context();
        change(&mut s);
        s
    };
    cases.push(super::new_mail_with(
        MailKind::Acknowledgement,
        "a@lycee.fr",
        &hostile(|s| s.reference = "BM-2026-00042]\r\nBcc: victime@exemple.fr".into()),
    ));
    cases.push(super::new_mail_with(
        MailKind::ChangeNotice,
        "a@lycee.fr",
        &hostile(|s| s.organisation = "Lycée\nX-Evil: 1".into()),
    ));
    let mut m = new_mail(MailKind::Rejection, "a@lycee.fr");
    m.in_reply_to = Some("x@y\r\nBcc: victime@exemple.fr".into());
    cases.push(m);
    let mut m = new_mail(MailKind::Rejection, "a@lycee.fr");
    m.references = vec!["a@b> <c@d".into()];
    cases.push(m);
    cases.push(super::new_mail_with(
        MailKind::RegisteredAddressAlert,
        "a@lycee.fr",
        &hostile(|s| s.link = "javascript:alert(1)".into()),
    ));
    for mail in cases {
        let txn = t.db.begin().await.unwrap();
        let err = enqueue(&txn, &settings, mail).await.unwrap_err();
        assert!(
            matches!(err, bareme_mel::store::StoreError::Invalid(_)),
            "{err}"
        );
        txn.commit().await.unwrap();
    }
    assert!(rows(&t.db).await.is_empty(), "nothing queued");
}

#[tokio::test]
async fn the_file_transport_writes_one_eml_per_mail() {
    let t = TestDb::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::default();
    settings.mail.transport = Transport::File;
    settings.mail.outbox_dir = dir.path().join("data/outbox");
    let ids = queue(&t.db, &settings, 2).await;
    drain(&worker(&t.db, settings.clone()), Duration::from_secs(10)).await;
    let files: Vec<_> = std::fs::read_dir(&settings.mail.outbox_dir)
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(files.len(), 2);
    for f in files {
        assert!(f.path().extension().is_some_and(|e| e == "eml"));
        let id = super::sink::message_id(&std::fs::read(f.path()).unwrap()).unwrap();
        assert!(ids.contains(&id));
    }
    assert!(rows(&t.db).await.iter().all(|r| r.state == "sent"));
}

on_both_databases!(
    a_delivery_report_marks_our_mail_bounced,
    |db: Db| async move {
        let settings = Settings::default();
        let ids = super::queue(&db, &settings, 1).await;
        let diagnostic = "smtp; 550 5.1.1 <a@lycee.fr>: Recipient address rejected\r\n";
        assert!(
            mark_bounced(db.conn(), &format!("<{}>", ids[0]), diagnostic)
                .await
                .unwrap()
        );
        assert!(
            !mark_bounced(db.conn(), "inconnu@ailleurs.fr", diagnostic)
                .await
                .unwrap()
        );
        let row = &super::rows(&db).await[0];
        assert_eq!(row.state, "bounced");
        assert!(row.bounced_at.is_some());
        assert_eq!(
            row.bounce_diagnostic.as_deref(),
            Some("smtp; 550 5.1.1 <a@lycee.fr>: Recipient address rejected")
        );
    }
);
