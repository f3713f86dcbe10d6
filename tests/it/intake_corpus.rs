//! The fixture corpus: mail shaped like what Outlook, Thunderbird, Apple
//! Mail, Gmail, iOS, Zimbra and Roundcube send, auto-replies, delivery
//! reports, list mail, malformed and hostile mail. `expected.toml` gives
//! each fixture's disposition, extracted fields and request flags.

use crate::{harness::TestDb, intake_support::*};
use bareme_mel::store::{entities::attachment, requests};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fixture_gets_its_expected_disposition_fields_and_flags() {
    let t = TestDb::sqlite().await;
    seed_subscriber(&t.db).await;
    let table: toml::Table = toml::from_str(
        &std::fs::read_to_string(fixture_dir().join("expected.toml")).expect("expected.toml"),
    )
    .expect("expected.toml parses");
    let fixtures = table["fixture"].as_array().expect("[[fixture]] entries");
    // Every fixture writes for the same subscriber from the same sender: as
    // many mails as a day's flood caps allow (tested in intake_hostile).
    let mut s = settings();
    s.intake.max_acknowledgements_per_sender = u32::MAX;
    s.intake.max_alerts_per_address = u32::MAX;
    let intake = bareme_mel::intake::Intake::new(t.db.clone(), std::sync::Arc::new(s));
    let mut failures = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for f in fixtures {
        let name = f["file"].as_str().unwrap();
        seen.insert(name.to_string());
        let acks_before = acknowledgements(&t.db).await;
        let outcome = intake
            .ingest(bareme_mel::intake::Incoming::whole(
                fixture(name),
                bareme_mel::intake::Origin::new("file", None),
            ))
            .await
            .expect("ingest");
        let mut problems = Vec::new();
        if outcome.reference.is_none() && acknowledgements(&t.db).await != acks_before {
            problems.push("a change-request acknowledgement for mail that made no request".into());
        }
        let want = f["disposition"].as_str().unwrap();
        if outcome.disposition.as_str() != want {
            problems.push(format!(
                "disposition {} instead of {want}",
                outcome.disposition.as_str()
            ));
        }
        if let Some(reference) = &outcome.reference {
            let detail = requests::show(t.db.conn(), reference).await.unwrap();
            if let Some(fields) = f.get("fields").and_then(|v| v.as_table()) {
                for (k, v) in fields {
                    let got = detail.fields.get(k).map(String::as_str);
                    if got != v.as_str() {
                        problems.push(format!("field {k} = {got:?}, expected {v}"));
                    }
                }
            }
            if let Some(flags) = f.get("flags").and_then(|v| v.as_array()) {
                let mut want: Vec<&str> = flags.iter().filter_map(|v| v.as_str()).collect();
                let mut got: Vec<&str> = detail.summary.flags.iter().map(String::as_str).collect();
                want.sort();
                got.sort();
                if want != got {
                    problems.push(format!("flags {got:?}, expected {want:?}"));
                }
            }
            for field in detail.fields.values() {
                if field.chars().any(char::is_control) {
                    problems.push(format!("control character stored in {field:?}"));
                }
            }
        } else if f.get("fields").is_some() {
            problems.push("no request, but fields expected".into());
        }
        if !problems.is_empty() {
            failures.push(format!("{name}: {}", problems.join("; ")));
        }
    }
    for entry in std::fs::read_dir(fixture_dir()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".eml") {
            assert!(seen.contains(&name), "{name} has no entry in expected.toml");
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

async fn acknowledgements(db: &bareme_mel::store::Db) -> usize {
    use bareme_mel::store::entities::outbox;
    outbox::Entity::find()
        .filter(outbox::Column::Template.eq("acknowledgement"))
        .all(db.conn())
        .await
        .unwrap()
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_files_inside_winmail_dat_are_stored_beside_it_for_staff() {
    let t = TestDb::sqlite().await;
    seed_subscriber(&t.db).await;
    let outcome = ingest(&t.db, &fixture("outlook-winmail-dat.eml")).await;
    let stored: Vec<(Option<String>, String)> = attachment::Entity::find()
        .filter(attachment::Column::InboundMessageId.eq(outcome.inbound_id.unwrap()))
        .order_by_asc(attachment::Column::Position)
        .all(t.db.conn())
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.filename, a.content_type))
        .collect();
    assert_eq!(
        stored,
        [
            (Some("winmail.dat".into()), "application/ms-tnef".into()),
            (
                Some("Formulaire signé.pdf".into()),
                "application/pdf".into()
            ),
        ]
    );
    let form = std::fs::read(fixture_dir().join("form-filled.pdf")).unwrap();
    let pdf = attachment::Entity::find()
        .filter(attachment::Column::Filename.eq("Formulaire signé.pdf"))
        .one(t.db.conn())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pdf.sha256, bareme_mel::security::sha256_hex(&form));
}
