//! Mail that is not a change request (SPEC §4, `not_a_request`): recorded
//! with its raw bytes, no request, no change-request acknowledgement, at
//! most one short answer per authenticated sender per period; `inbox list`,
//! `/metrics` and the purge know the disposition; replies still thread.

use crate::{
    harness::{TestDb, cmd, run},
    intake_support::*,
    on_both_databases,
};
use bareme_mel::{
    config::{Retention, Settings},
    intake::{Incoming, Intake, Origin},
    store::{
        Db,
        entities::{change_request, inbound_message, outbox},
        inbox::Disposition,
        purge,
    },
};
use chrono::{Duration, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use std::sync::Arc;

const AR_PASS: &str = "Authentication-Results: mx.ac-montpellier.fr; spf=pass smtp.mailfrom=lycee-jean-moulin.fr; dkim=pass header.d=lycee-jean-moulin.fr; dmarc=pass header.from=lycee-jean-moulin.fr\r\n";

async fn ingest_with(db: &Db, settings: Settings, raw: &[u8]) -> bareme_mel::intake::Outcome {
    Intake::new(db.clone(), Arc::new(settings))
        .ingest(Incoming::whole(raw.to_vec(), Origin::new("file", None)))
        .await
        .expect("ingest")
}

async fn mails_to(db: &Db, to: &str) -> Vec<outbox::Model> {
    outbox::Entity::find()
        .filter(outbox::Column::Recipient.eq(to))
        .all(db.conn())
        .await
        .unwrap()
}

on_both_databases!(
    an_invoice_question_is_kept_creates_no_request_and_gets_one_short_answer,
    |db: Db| async move {
        seed_subscriber(&db).await;
        let outcome = ingest(&db, &fixture("question-invoice.eml")).await;
        assert_eq!(outcome.disposition, Disposition::NotARequest);
        assert_eq!(outcome.reference, None);
        let row = record_of(&db, &outcome).await;
        assert_eq!(
            row.raw.as_deref(),
            Some(&fixture("question-invoice.eml")[..])
        );
        assert_eq!(row.disposition, "not_a_request");
        assert!(row.reason.unwrap().contains("ni formulaire"));
        assert!(
            change_request::Entity::find()
                .all(db.conn())
                .await
                .unwrap()
                .is_empty()
        );

        let sent = mails_to(&db, "marc.lefevre@lycee-jean-moulin.fr").await;
        assert_eq!(sent.len(), 1, "one answer, no acknowledgement");
        let answer = &sent[0];
        assert_eq!(answer.template, "not_a_request_reply");
        assert_eq!(
            answer.subject,
            "Votre message au Barème de Montpellier a bien été reçu"
        );
        assert!(
            !answer.subject.contains("changement"),
            "never an acknowledgement of a request"
        );
        for part in [&answer.body_text, &answer.body_html] {
            assert!(
                part.contains("/formulaire/changement-adresse-mel.pdf"),
                "{part}"
            );
            assert!(part.contains("/aide"), "{part}");
            assert!(
                part.contains("Réinitialisation ou mot de passe oublié ?"),
                "{part}"
            );
        }
        assert!(
            answer.headers.contains("PR3P195MB0811F0F1F2F3"),
            "answers the mail: {}",
            answer.headers
        );

        // A second question from the same sender the same day: recorded, not answered again.
        let again = mail(
            "Marc Lefevre <marc.lefevre@lycee-jean-moulin.fr>",
            "Et la facture 2025 ?",
            AR_PASS,
            "Bonjour, et celle de 2025 aussi s'il vous plaît.",
        );
        assert_eq!(
            ingest(&db, &again).await.disposition,
            Disposition::NotARequest
        );
        assert_eq!(
            mails_to(&db, "marc.lefevre@lycee-jean-moulin.fr")
                .await
                .len(),
            1
        );
    }
);

#[tokio::test]
async fn no_answer_to_an_unauthenticated_sender_nor_when_answers_are_off() {
    let t = TestDb::sqlite().await;
    let forged = mail(
        "Marc Lefevre <marc.lefevre@lycee-jean-moulin.fr>",
        "Facture",
        "",
        "Bonjour, la facture de l'abonnement 2026 s'il vous plaît.",
    );
    assert_eq!(
        ingest(&t.db, &forged).await.disposition,
        Disposition::NotARequest
    );
    let failed = mail(
        "Marc Lefevre <marc.lefevre@lycee-jean-moulin.fr>",
        "Facture",
        "Authentication-Results: mx.ac-montpellier.fr; spf=fail smtp.mailfrom=lycee-jean-moulin.fr; dmarc=fail header.from=lycee-jean-moulin.fr\r\n",
        "Bonjour, la facture de l'abonnement 2026 s'il vous plaît.",
    );
    assert_eq!(
        ingest(&t.db, &failed).await.disposition,
        Disposition::NotARequest
    );
    let mut off = settings();
    off.intake.not_a_request_reply = false;
    let authenticated = mail(
        "Claire <claire@lycee-jean-moulin.fr>",
        "Commande",
        AR_PASS,
        "Bonjour, nous voudrions commander deux barèmes.",
    );
    let outcome = ingest_with(&t.db, off, &authenticated).await;
    assert_eq!(outcome.disposition, Disposition::NotARequest);
    assert!(
        outbox::Entity::find()
            .all(t.db.conn())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_plain_reply_to_a_request_still_threads_and_free_text_still_makes_a_request() {
    let t = TestDb::sqlite().await;
    seed_subscriber(&t.db).await;
    let created = ingest(&t.db, &fixture("free-text-new-manager.eml")).await;
    assert_eq!(created.disposition, Disposition::RequestCreated);
    let reference = created.reference.unwrap();
    let reply = mail(
        "Claire Bonnet <claire.bonnet@lycee-jean-moulin.fr>",
        &format!("Re: [{reference}] Accusé de réception"),
        AR_PASS,
        "Merci, bien reçu.",
    );
    let threaded = ingest(&t.db, &reply).await;
    assert_eq!(threaded.disposition, Disposition::Threaded);
    assert_eq!(threaded.reference.as_deref(), Some(reference.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_list_filters_on_not_a_request_and_metrics_count_it() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/db.sqlite?mode=rwc", dir.path().display());
    let files: Vec<_> = [
        "question-invoice.eml",
        "free-text-new-manager.eml",
        "phishing-quota.eml",
    ]
    .iter()
    .map(|name| {
        let path = dir.path().join(name);
        std::fs::write(&path, fixture(name)).unwrap();
        path
    })
    .collect();
    let mut c = cmd(dir.path());
    c.env("BAREME_MEL__DATABASE__URL", &url)
        .arg("ingest")
        .args(&files);
    let r = run(c);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[0], "not_a_request -");
    assert!(lines[1].starts_with("request_created BM-"), "{}", r.stdout);
    assert_eq!(lines[2], "not_a_request -");

    let mut c = cmd(dir.path());
    c.env("BAREME_MEL__DATABASE__URL", &url).args([
        "inbox",
        "list",
        "--disposition",
        "not_a_request",
        "--json",
    ]);
    let r = run(c);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let listed: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let subjects: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["disposition"], "not_a_request");
            e["subject"].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        subjects,
        [
            "Votre boîte mail a atteint son quota",
            "Facture abonnement 2026"
        ]
    );
    let mut c = cmd(dir.path());
    c.env("BAREME_MEL__DATABASE__URL", &url)
        .args(["inbox", "list", "--disposition", "autre"]);
    let r = run(c);
    assert_eq!(r.status, 64);
    assert!(r.stderr.contains("not_a_request"), "{}", r.stderr);

    let db = bareme_mel::store::Db::connect(&bareme_mel::config::Database {
        url: bareme_mel::config::Secret(url),
        max_connections: 2,
    })
    .await
    .unwrap();
    let base = crate::harness::spawn_app(Settings::default(), db)
        .await
        .base;
    let body = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        body.contains("bareme_mel_inbound_messages{disposition=\"not_a_request\"} 2"),
        "{body}"
    );
}

on_both_databases!(
    the_purge_removes_not_a_request_mail_after_the_ignored_mail_period,
    |db: Db| async move {
        let old = ingest(&db, &fixture("question-subscription.eml")).await;
        let recent = ingest(&db, &fixture("english-question.eml")).await;
        assert_eq!(old.disposition, Disposition::NotARequest);
        inbound_message::Entity::update(inbound_message::ActiveModel {
            id: Set(old.inbound_id.unwrap()),
            received_at: Set(Utc::now() - Duration::days(31)),
            ..Default::default()
        })
        .exec(db.conn())
        .await
        .unwrap();
        let report = purge::run(&db, &Retention::default(), Utc::now(), false, "test")
            .await
            .unwrap();
        assert_eq!(report.ignored_mail, 1, "{report:?}");
        let raw = |id: i64| {
            let db = db.clone();
            async move {
                inbound_message::Entity::find_by_id(id)
                    .one(db.conn())
                    .await
                    .unwrap()
                    .and_then(|m| m.raw)
            }
        };
        assert_eq!(raw(old.inbound_id.unwrap()).await, None);
        assert!(raw(recent.inbound_id.unwrap()).await.is_some());
    }
);
