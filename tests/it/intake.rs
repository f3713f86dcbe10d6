//! The intake pipeline on both databases: requests, mails queued in the
//! same transaction, dedup, threading, auto-mail, bounces, authentication.

use crate::{harness::TestDb, intake_support::*, on_both_databases};
use bareme_mel::{
    intake::{Incoming, Origin},
    store::{
        Db,
        entities::{inbound_message, outbox, token},
        inbox::Disposition,
        requests::{self, CheckOutcome},
    },
};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

async fn messages(db: &Db) -> u64 {
    inbound_message::Entity::find()
        .count(db.conn())
        .await
        .unwrap()
}

on_both_databases!(
    a_form_mail_creates_a_request_with_acknowledgement_and_alert,
    |db: Db| async move {
        seed_subscriber(&db).await;
        let outcome = ingest(&db, &fixture("outlook-pdf-form.eml")).await;
        assert_eq!(outcome.disposition, Disposition::RequestCreated);
        let reference = outcome.reference.expect("reference");
        let detail = requests::show(db.conn(), &reference).await.unwrap();
        assert_eq!(detail.summary.state, "pending_review");
        assert_eq!(detail.summary.new_email.as_deref(), Some(SENDER));
        assert_eq!(detail.situation.as_deref(), Some("nouveau_sur_le_poste"));
        let outcome_of = |code: &str| {
            detail
                .checks
                .iter()
                .find(|c| c.code == code)
                .map(|c| c.outcome)
        };
        for code in [
            "subscriber_exists",
            "organisation_matches",
            "old_address_matches",
            "sender_domain_matches",
            "new_address_free",
        ] {
            assert_eq!(outcome_of(code), Some(CheckOutcome::Match), "{code}");
        }
        assert_eq!(
            outcome_of("sender_authenticated"),
            Some(CheckOutcome::Unknown)
        );
        let request = requests::find(db.conn(), &reference).await.unwrap();
        let mut sent: Vec<(String, String)> = outbox_rows(&db, request.id)
            .await
            .into_iter()
            .map(|o| (o.template, o.recipient))
            .collect();
        sent.sort();
        assert_eq!(
            sent,
            [
                ("acknowledgement".to_string(), SENDER.to_string()),
                (
                    "registered_address_alert".to_string(),
                    REGISTERED.to_string()
                )
            ]
        );
        let tokens = token::Entity::find()
            .filter(token::Column::RequestId.eq(request.id))
            .all(db.conn())
            .await
            .unwrap();
        assert_eq!(tokens.len(), 1);
        assert_eq!(tokens[0].kind, "objection");
        let alert = outbox_rows(&db, request.id)
            .await
            .into_iter()
            .find(|o| o.template == "registered_address_alert")
            .unwrap();
        assert!(
            alert.body_text.contains("/opposition/"),
            "the alert carries the objection link"
        );
        let ack = outbox_rows(&db, request.id)
            .await
            .into_iter()
            .find(|o| o.template == "acknowledgement")
            .unwrap();
        assert!(
            ack.headers
                .contains("PR3P195MB0811A1B2C3D4@PR3P195MB0811.EURP195.PROD.OUTLOOK.COM"),
            "In-Reply-To the incoming mail"
        );
        let stored = inbound_message::Entity::find_by_id(outcome.inbound_id.unwrap())
            .one(db.conn())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            stored.raw.as_deref(),
            Some(&fixture("outlook-pdf-form.eml")[..]),
            "raw bytes kept"
        );
        assert_eq!(stored.request_id, Some(request.id));
    }
);

on_both_databases!(
    the_same_mail_twice_yields_one_request,
    |db: Db| async move {
        seed_subscriber(&db).await;
        let raw = fixture("thunderbird-body-flowed.eml");
        let first = ingest(&db, &raw).await;
        let second = ingest(&db, &raw).await;
        assert_eq!(first.disposition, Disposition::RequestCreated);
        assert_eq!(second.disposition, Disposition::Duplicate);
        assert_eq!(second.reference, first.reference);
        // Same source position: answered from the earlier record, nothing new written.
        let pipeline = intake(&db);
        let at = |raw: &[u8]| {
            Incoming::whole(
                raw.to_vec(),
                Origin::new("imap", Some("imap:test:1:7".into())),
            )
        };
        let a = pipeline
            .ingest(at(&mail(SENDER, "Autre", "", "Bonjour")))
            .await
            .unwrap();
        let before = messages(&db).await;
        let b = pipeline
            .ingest(at(&mail(SENDER, "Autre", "", "Bonjour")))
            .await
            .unwrap();
        assert!(a.recorded && !b.recorded);
        assert_eq!(a.disposition, Disposition::NotARequest);
        assert_eq!(b.disposition, Disposition::Duplicate);
        assert_eq!(messages(&db).await, before);
        assert_eq!(
            requests::list(db.conn(), &Default::default())
                .await
                .unwrap()
                .len(),
            1
        );
    }
);

// Within one batch (one transaction), the second copy of a mail finds the
// first's record and links the request it created: on PostgreSQL the
// record's link to its request is still a write held back when the next
// message's dedup runs (`store::Memo`).
on_both_databases!(
    the_same_mail_twice_in_one_batch_yields_one_request,
    |db: Db| async move {
        seed_subscriber(&db).await;
        let raw = fixture("thunderbird-body-flowed.eml");
        let batch = vec![
            Incoming::whole(raw.clone(), Origin::new("file", None)),
            Incoming::whole(raw.clone(), Origin::new("file", None)),
        ];
        let results = intake(&db).ingest_batch(batch).await;
        let outcomes: Vec<_> = results.into_iter().map(Result::unwrap).collect();
        assert_eq!(outcomes[0].disposition, Disposition::RequestCreated);
        assert_eq!(outcomes[1].disposition, Disposition::Duplicate);
        assert_eq!(outcomes[1].reference, outcomes[0].reference);
        let request = requests::find(db.conn(), outcomes[0].reference.as_deref().unwrap())
            .await
            .unwrap();
        for outcome in &outcomes {
            let stored = record_of(&db, outcome).await;
            assert_eq!(
                stored.request_id,
                Some(request.id),
                "{:?}",
                outcome.disposition
            );
        }
        assert_eq!(
            requests::list(db.conn(), &Default::default())
                .await
                .unwrap()
                .len(),
            1
        );
    }
);

// One batch holding what dedup must catch inside it: a copy of a request,
// the same Message-ID with other content, and the same source position
// twice. On PostgreSQL a batch inserts its records as deferred writes (ids
// taken ahead), which the next message's lookups, carrying them, do not
// see: the transaction remembers them. The audit chain stays whole.
on_both_databases!(
    copies_inside_one_batch_are_recognised_and_the_audit_chain_stays_whole,
    |db: Db| async move {
        seed_subscriber(&db).await;
        let request = |subject: &str| {
            format!(
                "From: {SENDER}\r\nTo: bareme@ac-montpellier.fr\r\nSubject: {subject}\r\nMessage-ID: <batch-same@test>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}",
                form_body("nouvelle@lycee-jean-moulin.fr")
            )
            .into_bytes()
        };
        let first = request("Changement d'adresse");
        let other = request("Changement d'adresse (bis)");
        let at_seven = mail(SENDER, "Autre", "", "Bonjour");
        let file = |raw: &[u8]| Incoming::whole(raw.to_vec(), Origin::new("file", None));
        let imap = |raw: &[u8]| {
            Incoming::whole(
                raw.to_vec(),
                Origin::new("imap", Some("imap:test:1:7".into())),
            )
        };
        // Recorded with no read after them in the transaction: their
        // inserts are still held back when the next message is looked up.
        let no_sender = b"To: bareme@ac-montpellier.fr\r\nSubject: x\r\nMessage-ID: <batch-no-sender@test>\r\n\r\nBonjour\r\n";
        let auto_reply = mail(
            SENDER,
            "Absence",
            "Auto-Submitted: auto-replied\r\n",
            "Absent",
        );
        let at_eight = |raw: &[u8]| {
            Incoming::whole(
                raw.to_vec(),
                Origin::new("imap", Some("imap:test:1:8".into())),
            )
        };
        // Copies by content first; the same positions, which a unique
        // index also guards, in a batch of their own.
        let by_content = vec![
            file(&first),
            file(&first),
            file(&other),
            file(no_sender),
            file(no_sender),
        ];
        let by_position = vec![
            imap(&at_seven),
            imap(&at_seven),
            at_eight(&auto_reply),
            at_eight(&auto_reply),
        ];
        let mut outcomes = Vec::new();
        for batch in [by_content, by_position] {
            let results = intake(&db).ingest_batch(batch).await;
            outcomes.extend(results.into_iter().map(Result::unwrap));
        }
        let dispositions: Vec<_> = outcomes.iter().map(|o| o.disposition).collect();
        assert_eq!(
            dispositions,
            [
                Disposition::RequestCreated,
                Disposition::Duplicate,
                Disposition::RequestCreated,
                Disposition::Quarantined,
                Disposition::Duplicate,
                Disposition::NotARequest,
                Disposition::Duplicate,
                Disposition::AutoIgnored,
                Disposition::Duplicate,
            ]
        );
        assert_eq!(outcomes[1].reference, outcomes[0].reference);
        assert_ne!(outcomes[2].reference, outcomes[0].reference);
        // The same position: the earlier record answers, nothing new written.
        assert!(
            outcomes[4].recorded,
            "a copy by content is recorded as such"
        );
        assert!(!outcomes[6].recorded);
        assert_eq!(outcomes[6].inbound_id, outcomes[5].inbound_id);
        assert!(!outcomes[8].recorded);
        assert_eq!(outcomes[8].inbound_id, outcomes[7].inbound_id);
        assert_eq!(messages(&db).await, 7);
        let copy = record_of(&db, &outcomes[1]).await;
        let created = requests::find(db.conn(), outcomes[0].reference.as_deref().unwrap())
            .await
            .unwrap();
        assert_eq!(copy.request_id, Some(created.id));
        assert_eq!(created.origin_message_id, outcomes[0].inbound_id);
        let reused = requests::show(db.conn(), outcomes[2].reference.as_deref().unwrap())
            .await
            .unwrap();
        assert!(
            reused
                .summary
                .flags
                .contains(&"message_id_reutilise".to_string()),
            "{:?}",
            reused.summary.flags
        );
        let chain = bareme_mel::store::audit::verify(db.conn()).await.unwrap();
        assert_eq!(chain.problem, None);
    }
);

on_both_databases!(
    a_reused_message_id_with_other_content_is_processed_and_flagged,
    |db: Db| async move {
        seed_subscriber(&db).await;
        let one = b"From: a@lycee-jean-moulin.fr\r\nSubject: x\r\nMessage-ID: <same@x>\r\n\r\nN\xc2\xb0 abonn\xc3\xa9 : 12345\r\nNouvelle adresse m\xc3\xa9l : a@lycee-jean-moulin.fr\r\n";
        let two = b"From: a@lycee-jean-moulin.fr\r\nSubject: y\r\nMessage-ID: <same@x>\r\n\r\nN\xc2\xb0 abonn\xc3\xa9 : 12345 \r\nNouvelle adresse m\xc3\xa9l : a@lycee-jean-moulin.fr\r\n";
        assert_eq!(
            ingest(&db, one).await.disposition,
            Disposition::RequestCreated
        );
        let second = ingest(&db, two).await;
        assert_eq!(second.disposition, Disposition::RequestCreated);
        let detail = requests::show(db.conn(), &second.reference.unwrap())
            .await
            .unwrap();
        assert!(
            detail
                .summary
                .flags
                .contains(&"message_id_reutilise".to_string())
        );
    }
);

on_both_databases!(
    a_reply_threads_and_moves_an_awaiting_request_back_to_review,
    |db: Db| async move {
        // Staff ask for more, then the requester answers the acknowledgement.
        let request = awaiting_requester(&db).await;
        let reference = request.reference.clone();
        let ack = outbox_rows(&db, request.id)
            .await
            .into_iter()
            .find(|o| o.template == "acknowledgement")
            .unwrap();
        let reply = mail(
            SENDER,
            "Re: Barème",
            &format!("In-Reply-To: <{}>\r\n", ack.message_id),
            "Voici le formulaire.",
        );
        let outcome = ingest(&db, &reply).await;
        assert_eq!(outcome.disposition, Disposition::Threaded);
        assert_eq!(outcome.reference.as_deref(), Some(reference.as_str()));
        assert_eq!(
            requests::find(db.conn(), &reference).await.unwrap().state,
            "pending_review"
        );
    }
);

on_both_databases!(
    a_reply_by_subject_from_someone_else_is_flagged_and_acknowledged_once_a_day,
    |db: Db| async move {
        seed_subscriber(&db).await;
        let reference = ingest(&db, &mail(SENDER, "Demande", "", &form_body(SENDER)))
            .await
            .reference
            .unwrap();
        let subject = format!("Re: [{reference}] Barème de Montpellier");
        let first = ingest(
            &db,
            &mail(
                "proviseur@lycee-jean-moulin.fr",
                &subject,
                "",
                "Je confirme.",
            ),
        )
        .await;
        let second = ingest(
            &db,
            &mail(
                "proviseur@lycee-jean-moulin.fr",
                &subject,
                "",
                "Je confirme encore.",
            ),
        )
        .await;
        assert_eq!(first.disposition, Disposition::Threaded);
        assert_eq!(second.disposition, Disposition::Threaded);
        let detail = requests::show(db.conn(), &reference).await.unwrap();
        assert!(
            detail
                .summary
                .flags
                .contains(&"expediteur_different".to_string())
        );
        let acks = outbox::Entity::find()
            .filter(outbox::Column::Recipient.eq("proviseur@lycee-jean-moulin.fr"))
            .count(db.conn())
            .await
            .unwrap();
        assert_eq!(
            acks, 1,
            "at most one acknowledgement per sender per 24 h for mail that creates no request"
        );
    }
);

on_both_databases!(
    an_out_of_office_quoting_a_reference_is_ignored_not_threaded,
    |db: Db| async move {
        seed_subscriber(&db).await;
        let reference = ingest(&db, &mail(SENDER, "Demande", "", &form_body(SENDER)))
            .await
            .reference
            .unwrap();
        let oof = mail(
            SENDER,
            &format!("Réponse automatique : [{reference}]"),
            "Auto-Submitted: auto-replied\r\n",
            "Absent.",
        );
        let outcome = ingest(&db, &oof).await;
        assert_eq!(outcome.disposition, Disposition::AutoIgnored);
        assert_eq!(outcome.reference, None);
        assert_eq!(
            outbox::Entity::find().count(db.conn()).await.unwrap(),
            2,
            "no acknowledgement of an auto-reply"
        );
    }
);

on_both_databases!(
    a_delivery_report_marks_our_mail_bounced,
    |db: Db| async move {
        seed_subscriber(&db).await;
        let reference = ingest(&db, &mail(SENDER, "Demande", "", &form_body(SENDER)))
            .await
            .reference
            .unwrap();
        let request = requests::find(db.conn(), &reference).await.unwrap();
        let ack = outbox_rows(&db, request.id)
            .await
            .into_iter()
            .find(|o| o.template == "acknowledgement")
            .unwrap();
        let dsn = String::from_utf8(fixture("dsn-our-message.eml"))
            .unwrap()
            .replace(
                "acknowledgement.0123456789abcdef@ac-montpellier.fr",
                &ack.message_id,
            );
        let outcome = ingest(&db, dsn.as_bytes()).await;
        assert_eq!(outcome.disposition, Disposition::AutoIgnored);
        let row = outbox::Entity::find_by_id(ack.id)
            .one(db.conn())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.state, "bounced");
        assert!(row.bounce_diagnostic.unwrap().contains("5.1.1"));
        assert!(row.bounced_at.is_some());
    }
);

#[tokio::test]
async fn only_the_trusted_authentication_results_count() {
    let t = TestDb::sqlite().await;
    seed_subscriber(&t.db).await;
    let headers = "Authentication-Results: mx.ac-montpellier.fr; spf=pass smtp.mailfrom=lycee-jean-moulin.fr; dkim=pass header.d=lycee-jean-moulin.fr; dmarc=pass header.from=lycee-jean-moulin.fr\r\nAuthentication-Results: evil.example; dmarc=fail\r\n";
    let outcome = ingest(&t.db, &mail(SENDER, "Demande", headers, &form_body(SENDER))).await;
    let detail = requests::show(t.db.conn(), &outcome.reference.unwrap())
        .await
        .unwrap();
    let auth = detail
        .checks
        .iter()
        .find(|c| c.code == "sender_authenticated")
        .unwrap();
    assert_eq!(auth.outcome, CheckOutcome::Match);
    let forged = "Authentication-Results: mx.ac-montpellier.fr.evil.example; dmarc=pass\r\n";
    let outcome = ingest(
        &t.db,
        &mail(
            SENDER,
            "Demande",
            forged,
            &form_body("autre@lycee-jean-moulin.fr"),
        ),
    )
    .await;
    let detail = requests::show(t.db.conn(), &outcome.reference.unwrap())
        .await
        .unwrap();
    let auth = detail
        .checks
        .iter()
        .find(|c| c.code == "sender_authenticated")
        .unwrap();
    assert_eq!(auth.outcome, CheckOutcome::Unknown);
}

#[tokio::test]
async fn an_oversize_or_unparseable_message_is_quarantined_with_its_reason_and_the_next_one_still_passes()
 {
    let t = TestDb::sqlite().await;
    seed_subscriber(&t.db).await;
    let mut settings = settings();
    settings.intake.max_message_bytes = 1000;
    let pipeline = bareme_mel::intake::Intake::new(t.db.clone(), std::sync::Arc::new(settings));
    let big = mail(SENDER, "Gros", "", &"x".repeat(5000));
    let incoming =
        bareme_mel::intake::limit::read_limited(&big[..], 1000, Origin::new("stdin", None))
            .await
            .unwrap();
    let outcome = pipeline.ingest(incoming).await.unwrap();
    assert_eq!(outcome.disposition, Disposition::Quarantined);
    let row = record_of(&t.db, &outcome).await;
    assert!(row.reason.unwrap().contains("trop volumineux"));
    assert_eq!(row.size, big.len() as i64);
    let garbage = pipeline
        .ingest(Incoming::whole(vec![0xff; 100], Origin::new("stdin", None)))
        .await
        .unwrap();
    assert_eq!(garbage.disposition, Disposition::Quarantined);
    let next = pipeline
        .ingest(Incoming::whole(
            mail(SENDER, "Demande", "", &form_body(SENDER)),
            Origin::new("stdin", None),
        ))
        .await
        .unwrap();
    assert_eq!(next.disposition, Disposition::RequestCreated);
}

on_both_databases!(
    a_new_address_registered_to_another_subscriber_in_other_case_is_not_free,
    |db: Db| async move {
        seed_subscriber(&db).await;
        seed(
            &db,
            "67890",
            "Collège Voltaire",
            Some("Nouvelle@Lycee-Jean-Moulin.fr"),
        )
        .await;
        let raw = mail(
            SENDER,
            "Changement d'adresse",
            "",
            &form_body("nouvelle@LYCEE-jean-moulin.fr"),
        );
        let outcome = ingest(&db, &raw).await;
        assert_eq!(outcome.disposition, Disposition::RequestCreated);
        let detail = requests::show(db.conn(), &outcome.reference.unwrap())
            .await
            .unwrap();
        let outcome_of = |code: &str| {
            detail
                .checks
                .iter()
                .find(|c| c.code == code)
                .map(|c| c.outcome)
        };
        assert_eq!(outcome_of("subscriber_exists"), Some(CheckOutcome::Match));
        assert_eq!(outcome_of("new_address_free"), Some(CheckOutcome::Mismatch));
    }
);
