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
/// today (SQLite 12 and 9.4, PostgreSQL 13 and 11.4). The writes nobody
/// reads (audit event and chain head, link, token, outbox rows, attempt
/// cleared) go together with the next statement (`Conn::defer`): without
/// that, SQLite took 23 and 20, PostgreSQL 20 and 17. A message alone is
/// counted in one statement (an upsert that returns the count; two before),
/// and on SQLite a value written in place is one round trip (two before).
const SQLITE: (f64, f64) = (13.0, 10.0);
const POSTGRES: (f64, f64) = (14.0, 12.0);
