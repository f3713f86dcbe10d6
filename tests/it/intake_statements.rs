//! Issue 15, round trips: every statement is one round trip to the database
//! (a channel hop to SQLite's worker thread, a network exchange with
//! PostgreSQL), so intake keeps their number per message small. The count
//! is the store's own (`Db::statements`, what `ingest` reports and
//! `scripts/bench/intake-compare.sh` prints); these tests fail when a change
//! adds round trips to the path of a request mail.

use crate::{intake_support::*, on_both_databases};
use bareme_mel::{
    intake::{Incoming, Origin},
    store::{Db, inbox::Disposition},
};

/// The Outlook request mail with its filled PDF form, under a Message-ID of its own.
fn request_mail(i: usize) -> Vec<u8> {
    let raw = String::from_utf8(fixture("outlook-pdf-form.eml")).unwrap();
    let start = raw.find("Message-ID:").expect("fixture has a Message-ID");
    let end = start + raw[start..].find("\r\n").unwrap();
    format!(
        "{}Message-ID: <statements-{i}@lycee-jean-moulin.fr>{}",
        &raw[..start],
        &raw[end..]
    )
    .into_bytes()
}

/// Statements per request mail: alone (one transaction each) and in a batch of 8.
async fn per_message(db: &Db) -> (f64, f64) {
    seed_subscriber(db).await;
    let intake = intake(db);
    let before = db.statements();
    let outcome = intake
        .ingest(Incoming::whole(request_mail(0), Origin::new("file", None)))
        .await
        .unwrap();
    assert_eq!(outcome.disposition, Disposition::RequestCreated);
    let alone = (db.statements() - before) as f64;

    let batch: Vec<Incoming> = (1..=8)
        .map(|i| Incoming::whole(request_mail(i), Origin::new("file", None)))
        .collect();
    let before = db.statements();
    for result in intake.ingest_batch(batch).await {
        // The same subscriber asks again: later ones are still recorded.
        assert!(result.unwrap().recorded);
    }
    let batched = (db.statements() - before) as f64 / 8.0;
    (alone, batched)
}

on_both_databases!(
    a_request_mail_costs_a_bounded_number_of_statements,
    |db: Db| async move {
        let (alone, batched) = per_message(&db).await;
        let backend = if db.is_postgres() {
            "PostgreSQL"
        } else {
            "SQLite"
        };
        eprintln!(
            "{backend}: statements per request mail: alone {alone}, in a batch of 8 {batched:.1}"
        );
        assert!(alone > 0.0, "the counter counts nothing");
        let (max_alone, max_batched) = match db.is_postgres() {
            true => POSTGRES,
            false => SQLITE,
        };
        assert!(
            alone <= max_alone,
            "{alone} statements for one request mail (at most {max_alone})"
        );
        assert!(
            batched <= max_batched,
            "{batched:.1} statements per request mail in a batch (at most {max_batched})"
        );
    }
);

/// The budgets (alone, in a batch), a little above what the path takes
/// today (SQLite 11 and 7.6, PostgreSQL 9 and 4.0). The writes nobody
/// reads (audit event and chain head, link, token, outbox rows, attempt
/// cleared) go together with the next statement (`Conn::defer`): without
/// that, SQLite took 23 and 20, PostgreSQL 20 and 17. A message alone is
/// counted in one statement (an upsert that returns the count; two before),
/// on SQLite a value written in place is one round trip (two before), and a
/// batch reads the reference counter and the audit chain's head once
/// (`store::Memo`; once per message before: SQLite 9.4, PostgreSQL 11.4);
/// on PostgreSQL the subscriber match and the new request carry the writes
/// deferred before them (`Conn::query_all_beside`; 10.5 without), and so
/// does the record's insert (an attachment's content, deferred), which on
/// PostgreSQL carries the raw mail too (12 and 8.6 when the content and
/// the raw mail were each one statement more), and so does the next
/// message's dedup (6.6 when the writes held back went on their own). A
/// batch on PostgreSQL takes its records' and requests' ids ahead, in one
/// statement, and inserts both as deferred writes (5.8 when each was an
/// `INSERT … RETURNING` of its own).
const SQLITE: (f64, f64) = (13.0, 8.5);
const POSTGRES: (f64, f64) = (10.0, 4.5);

// A batch takes the reference counter and the audit chain's head once and
// remembers them (`store::Memo`): its requests still get consecutive
// references, its events still chain, and whatever comes after (a message
// alone, in its own transaction) continues both.
on_both_databases!(
    a_batch_takes_consecutive_references_and_its_events_chain,
    |db: Db| async move {
        seed_subscriber(&db).await;
        let intake = intake(&db);
        let batch: Vec<Incoming> = (0..6)
            .map(|i| Incoming::whole(request_mail(100 + i), Origin::new("file", None)))
            .collect();
        let mut references = Vec::new();
        for result in intake.ingest_batch(batch).await {
            references.push(result.unwrap().reference.expect("a request"));
        }
        let alone = intake
            .ingest(Incoming::whole(
                request_mail(200),
                Origin::new("file", None),
            ))
            .await
            .unwrap();
        references.push(alone.reference.expect("a request"));
        let numbers: Vec<u32> = references
            .iter()
            .map(|r| r.rsplit('-').next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(numbers, (1..=7).collect::<Vec<u32>>(), "{references:?}");
        let verification = bareme_mel::store::audit::verify(db.conn()).await.unwrap();
        assert_eq!(verification.problem, None);
        assert!(verification.events >= 7, "{verification:?}");
    }
);
