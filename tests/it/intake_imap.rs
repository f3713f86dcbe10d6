//! The IMAP poller against a real Dovecot: flags only after the commit,
//! survives a UIDVALIDITY change, flags nothing while the database is down.

use crate::{harness::TestDb, intake_imap_support::*, intake_support::*};
use bareme_mel::{
    intake::{Intake, sources::imap},
    store::{Db, entities::inbound_message, inbox::Disposition},
};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use std::sync::Arc;

fn pipeline(db: &Db, mailbox: &str, processed: &str) -> Intake {
    let mut s = settings();
    s.intake.imap = imap_settings("bareme", "bareme-pass", mailbox);
    s.intake.imap.processed_folder = processed.into();
    Intake::new(db.clone(), Arc::new(s))
}

async fn poll(intake: &Intake, mailbox: &str) -> Result<usize, imap::PollError> {
    let (_tx, rx) = tokio::sync::watch::channel(false);
    imap::poll(intake, &format!("bareme@test/{mailbox}"), &rx).await
}

async fn count_by(db: &Db, d: Disposition) -> u64 {
    inbound_message::Entity::find()
        .filter(inbound_message::Column::Disposition.eq(d.as_str()))
        .count(db.conn())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_poller_flags_after_commit_and_survives_a_uidvalidity_change() {
    let Some(mut s) = session("bareme", "bareme-pass").await else {
        return;
    };
    let t = TestDb::sqlite().await;
    seed_subscriber(&t.db).await;
    let folder = format!("T{}", uuid::Uuid::new_v4().simple());
    s.create(&folder).await.unwrap();
    let mails: Vec<Vec<u8>> = (0..3)
        .map(|i| mail(SENDER, &format!("Demande {i}"), "", &form_body(SENDER)))
        .collect();
    for m in &mails {
        append(&mut s, &folder, m).await;
    }
    let intake = pipeline(&t.db, &folder, "");
    assert_eq!(poll(&intake, &folder).await.unwrap(), 3);
    assert_eq!(
        unseen(&mut s, &folder).await,
        0,
        "flagged \\Seen after the commit"
    );
    assert_eq!(poll(&intake, &folder).await.unwrap(), 0, "nothing left");
    // The mailbox is recreated: new UIDVALIDITY, the same mails seen again (unread) plus one.
    s.select("INBOX").await.unwrap();
    s.delete(&folder).await.unwrap();
    s.create(&folder).await.unwrap();
    for m in &mails {
        append(&mut s, &folder, m).await;
    }
    append(
        &mut s,
        &folder,
        &mail(
            SENDER,
            "Nouvelle",
            "",
            &form_body("autre@lycee-jean-moulin.fr"),
        ),
    )
    .await;
    assert_eq!(poll(&intake, &folder).await.unwrap(), 4);
    assert_eq!(count_by(&t.db, Disposition::RequestCreated).await, 4);
    assert_eq!(
        count_by(&t.db, Disposition::Duplicate).await,
        3,
        "seen again, no second request"
    );
    s.select("INBOX").await.unwrap();
    s.delete(&folder).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_poller_moves_processed_mail_and_flags_nothing_while_the_database_is_down() {
    let Some(mut s) = session("bareme", "bareme-pass").await else {
        return;
    };
    let t = TestDb::sqlite().await;
    let folder = format!("T{}", uuid::Uuid::new_v4().simple());
    let done = format!("{folder}-done");
    s.create(&folder).await.unwrap();
    s.create(&done).await.unwrap();
    append(&mut s, &folder, &fixture("autoreply-en.eml")).await;
    append(&mut s, &folder, &fixture("thunderbird-body-flowed.eml")).await;
    // Database down: the poll fails and both messages stay where they were, unread.
    let down = pipeline(&t.db, &folder, &done);
    t.db.conn().clone().close().await.unwrap();
    assert!(poll(&down, &folder).await.is_err());
    assert_eq!(unseen(&mut s, &folder).await, 2);
    assert_eq!(count(&mut s, &done).await, 0);
    // Back up: both handled and moved.
    let up = TestDb::sqlite().await;
    let intake = pipeline(&up.db, &folder, &done);
    assert_eq!(poll(&intake, &folder).await.unwrap(), 2);
    assert_eq!(count(&mut s, &folder).await, 0);
    assert_eq!(count(&mut s, &done).await, 2);
    s.select("INBOX").await.unwrap();
    s.delete(&folder).await.unwrap();
    s.delete(&done).await.unwrap();
}

/// Group commit (issue 15): the waiting messages of one poll are written in
/// batches of `intake.batch_size`, each flagged after its batch's commit. A
/// batch counts and clears its messages' attempts together, so the same
/// mails cost fewer statements than one transaction each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_poller_writes_waiting_mail_in_batches_and_flags_each_batch_after_its_commit() {
    let Some(mut s) = session("bareme", "bareme-pass").await else {
        return;
    };
    let mut statements = Vec::new();
    for batch_size in [1, 4] {
        let t = TestDb::sqlite().await;
        seed_subscriber(&t.db).await;
        let folder = format!("T{}", uuid::Uuid::new_v4().simple());
        s.create(&folder).await.unwrap();
        for i in 0..7 {
            let to = format!("demande{i}@lycee-jean-moulin.fr");
            append(
                &mut s,
                &folder,
                &mail(SENDER, &format!("Demande {i}"), "", &form_body(&to)),
            )
            .await;
        }
        let mut settings = settings();
        settings.intake.imap = imap_settings("bareme", "bareme-pass", &folder);
        settings.intake.batch_size = batch_size;
        let intake = Intake::new(t.db.clone(), Arc::new(settings));
        let before = t.db.statements();
        assert_eq!(
            poll(&intake, &folder).await.unwrap(),
            7,
            "batch size {batch_size}"
        );
        statements.push(t.db.statements() - before);
        assert_eq!(count_by(&t.db, Disposition::RequestCreated).await, 7);
        assert_eq!(
            unseen(&mut s, &folder).await,
            0,
            "every batch flagged \\Seen"
        );
        assert_eq!(poll(&intake, &folder).await.unwrap(), 0, "nothing left");
        s.select("INBOX").await.unwrap();
        s.delete(&folder).await.unwrap();
    }
    assert!(
        statements[1] < statements[0],
        "batches of 4 took {} statements, one transaction each {}",
        statements[1],
        statements[0]
    );
}
