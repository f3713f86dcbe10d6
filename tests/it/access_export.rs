//! Access requests: the export holds the subscriber's data and attachments, nobody else's.

use crate::on_both_databases;
use bareme_mel::{
    access_export::{self, Subject},
    domain::{MailAddress, SubscriberNumber},
    store::{
        Db, audit,
        entities::{attachment, blob, inbound_message},
        requests::{self, Actor, NewRequest},
    },
};
use sea_orm::{ActiveValue::Set, EntityTrait};
use std::io::Read;

async fn request_with_scan(db: &Db, number: &str, email: &str, scan: &[u8], filename: &str) {
    let r = requests::create(
        db,
        NewRequest {
            claimed_number: Some(number.into()),
            requester_email: Some(email.into()),
            new_email: Some(email.into()),
            ..Default::default()
        },
        &Actor::System,
    )
    .await
    .unwrap();
    let m = inbound_message::Entity::insert(inbound_message::ActiveModel {
        received_at: Set(chrono::Utc::now()),
        source: Set("maildir".into()),
        source_position: Set(Some(format!("pos-{number}"))),
        message_id: Set(Some(format!("{number}@ecole.fr"))),
        content_hash: Set("h".into()),
        size: Set(10),
        raw: Set(Some(
            format!("From: {email}\r\n\r\nformulaire {number}").into_bytes(),
        )),
        from_address: Set(Some(email.into())),
        subject: Set(Some("Changement".into())),
        disposition: Set("request_created".into()),
        request_id: Set(Some(r.id)),
        auth_results: Set("{}".into()),
        flags: Set("[]".into()),
        ..Default::default()
    })
    .exec_with_returning(db.conn())
    .await
    .unwrap();
    let sha = bareme_mel::security::sha256_hex(scan);
    blob::Entity::insert(blob::ActiveModel {
        sha256: Set(sha.clone()),
        size: Set(scan.len() as i64),
        data: Set(Some(scan.to_vec())),
        created_at: Set(chrono::Utc::now()),
    })
    .exec_without_returning(db.conn())
    .await
    .unwrap();
    attachment::Entity::insert(attachment::ActiveModel {
        inbound_message_id: Set(m.id),
        position: Set(0),
        filename: Set(Some(filename.into())),
        content_type: Set("application/pdf".into()),
        sha256: Set(sha),
        size: Set(scan.len() as i64),
        ..Default::default()
    })
    .exec_without_returning(db.conn())
    .await
    .unwrap();
}

on_both_databases!(
    the_access_export_holds_the_subjects_attachments_and_nobody_elses,
    |db: Db| async move {
        request_with_scan(
            &db,
            "30001",
            "alice@lycee-a.fr",
            b"%PDF scan of alice",
            "../../formulaire alice.pdf",
        )
        .await;
        request_with_scan(
            &db,
            "30002",
            "bruno@lycee-b.fr",
            b"%PDF scan of bruno",
            "formulaire-bruno.pdf",
        )
        .await;
        for subject in [
            Subject::Number(SubscriberNumber::parse("30001").unwrap()),
            Subject::Address(MailAddress::parse("Alice@lycee-a.fr").unwrap()),
        ] {
            let (bytes, summary) = access_export::build(&db, &subject, "staff:admin")
                .await
                .unwrap();
            assert_eq!(
                (summary.requests, summary.messages, summary.attachments),
                (1, 1, 1),
                "{subject:?}"
            );
            let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
            let names: Vec<String> = zip.file_names().map(|n| n.unwrap().to_string()).collect();
            assert!(
                names.iter().any(|n| n.starts_with("pieces-jointes/")
                    && n.ends_with("formulaire_alice.pdf")
                    && !n.contains("..")),
                "{names:?}"
            );
            let mut all = Vec::new();
            for i in 0..zip.len() {
                zip.by_index(i).unwrap().read_to_end(&mut all).unwrap();
            }
            let all = String::from_utf8_lossy(&all);
            assert!(all.contains("scan of alice") && all.contains("formulaire 30001"));
            assert!(
                !all.contains("bruno") && !all.contains("30002"),
                "another subscriber's data leaked"
            );
            let mut data = String::new();
            zip.by_name("donnees.json")
                .unwrap()
                .read_to_string(&mut data)
                .unwrap();
            let v: serde_json::Value = serde_json::from_str(&data).unwrap();
            assert_eq!(v["demandes"][0]["numero_declare"], "30001");
        }
        let last = audit::recent(db.conn(), 1).await.unwrap();
        assert_eq!(last[0].action, "access_export", "the export is audited");
        assert_eq!(audit::verify(db.conn()).await.unwrap().problem, None);
    }
);
