//! Issue 15, group commit for `POST /api/courriels`: requests that arrive
//! together are written together (one transaction for the messages waiting),
//! each answered with its own outcome once their commit is on disk; a lone
//! request goes through at once, alone; one bad message never fails the
//! others; a client that goes away does not lose its mail.

use crate::{harness::spawn_app, intake_support::*, on_both_databases};
use bareme_mel::store::{Db, entities::inbound_message};
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait};
use std::{collections::HashSet, time::Duration};

const TOKEN: &str = "jeton-de-test";

/// The endpoint of a fresh app on `db`, its token set, batches of up to 64.
async fn endpoint(db: &Db) -> String {
    let mut s = settings();
    s.intake.api_token = bareme_mel::config::Secret(TOKEN.into());
    s.intake.batch_size = 64;
    let app = spawn_app(s, db.clone()).await;
    format!("{}/api/courriels", app.base)
}

/// A request mail of the seeded subscriber for a new address of its own.
fn request(i: usize) -> Vec<u8> {
    mail(
        SENDER,
        &format!("Demande {i}"),
        "",
        &form_body(&format!("api{i}@lycee-jean-moulin.fr")),
    )
}

/// Posts `body`; the HTTP status and the JSON answer.
async fn post(client: &reqwest::Client, url: &str, body: Vec<u8>) -> (u16, serde_json::Value) {
    let r = client
        .post(url)
        .bearer_auth(TOKEN)
        .header("content-type", "message/rfc822")
        .body(body)
        .timeout(Duration::from_secs(120))
        .send()
        .await
        .expect("answered");
    let status = r.status().as_u16();
    (status, r.json().await.expect("JSON answer"))
}

/// Posts every mail at once; the answers in the order of `mails`.
async fn post_all(url: &str, mails: Vec<Vec<u8>>) -> Vec<(u16, serde_json::Value)> {
    let client = reqwest::Client::new();
    let tasks: Vec<_> = mails
        .into_iter()
        .map(|m| {
            let (client, url) = (client.clone(), url.to_string());
            tokio::spawn(async move { post(&client, &url, m).await })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    answers
}

async fn recorded(db: &Db) -> u64 {
    inbound_message::Entity::find()
        .count(db.conn())
        .await
        .unwrap()
}

const N: usize = 24;

on_both_databases!(
    concurrent_posts_are_written_together_and_each_gets_its_own_reference,
    |db: Db| async move {
        seed_subscriber(&db).await;
        let url = endpoint(&db).await;
        let before = db.transactions();
        let answers = post_all(&url, (0..N).map(request).collect()).await;
        let transactions = db.transactions() - before;
        let mut references = HashSet::new();
        for (status, json) in &answers {
            assert_eq!(*status, 200, "{json}");
            assert_eq!(json["disposition"], "request_created", "{json}");
            let reference = json["reference"].as_str().expect("a reference");
            assert!(reference.starts_with("BM-"), "{json}");
            references.insert(reference.to_string());
        }
        assert_eq!(references.len(), N, "each answer is its own request");
        assert_eq!(recorded(&db).await, N as u64);
        // Alone, each message takes two transactions (its attempt counted,
        // then its record): 48 for 24 messages.
        eprintln!("{N} concurrent POSTs: {transactions} write transactions");
        assert!(
            transactions < N as u64,
            "{transactions} write transactions for {N} messages posted at once: not written together"
        );
    }
);

/// A trigger refuses the record of any message whose subject is « Poison »:
/// inside a batch, that message fails the batch's transaction.
async fn refuse_poison(db: &Db) {
    let statements: &[&str] = if db.is_postgres() {
        &[
            "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$",
            "CREATE TRIGGER poison BEFORE INSERT ON inbound_messages FOR EACH ROW \
             WHEN (NEW.subject = 'Poison') EXECUTE FUNCTION refuse_poison()",
        ]
    } else {
        &["CREATE TRIGGER poison BEFORE INSERT ON inbound_messages \
             WHEN NEW.subject = 'Poison' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"]
    };
    for s in statements {
        db.conn().execute_unprepared(s).await.unwrap();
    }
}

on_both_databases!(
    one_bad_message_among_concurrent_posts_fails_none_of_the_others,
    |db: Db| async move {
        seed_subscriber(&db).await;
        refuse_poison(&db).await;
        let url = endpoint(&db).await;
        let mut mails: Vec<Vec<u8>> = (0..12).map(request).collect();
        mails.insert(
            6,
            mail(SENDER, "Poison", "", &form_body("p@lycee-jean-moulin.fr")),
        );
        let answers = post_all(&url, mails).await;
        for (i, (status, json)) in answers.iter().enumerate() {
            assert_eq!(*status, 200, "{json}");
            if i == 6 {
                assert_eq!(json["disposition"], "quarantined", "{json}");
                assert!(json["reference"].is_null(), "{json}");
            } else {
                assert_eq!(json["disposition"], "request_created", "{json}");
                assert!(json["reference"].as_str().unwrap().starts_with("BM-"));
            }
        }
        assert_eq!(recorded(&db).await, 13);
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lone_post_is_answered_at_once_through_the_one_message_path() {
    let t = crate::harness::TestDb::sqlite().await;
    seed_subscriber(&t.db).await;
    let url = endpoint(&t.db).await;
    let client = reqwest::Client::new();
    for i in 0..2 {
        let before = t.db.transactions();
        // Nothing else is posted until this one is answered: a collector
        // that waited for company (a batch to fill) would never answer.
        let (status, json) = post(&client, &url, request(i)).await;
        assert_eq!(status, 200, "{json}");
        assert_eq!(json["disposition"], "request_created", "{json}");
        // As `Intake::ingest` alone: its attempt counted, then its record.
        assert_eq!(t.db.transactions() - before, 2);
        assert_eq!(recorded(&t.db).await, i as u64 + 1);
    }
}

/// A client that hangs up while its mail is being handled: the mail is
/// recorded all the same (a sender that retries gets a duplicate). The
/// client asks `Expect: 100-continue` and sends the mail only once the
/// server answers « 100 Continue », which it does when the handler starts
/// reading the mail: the hang-up comes while the handler runs. (A client
/// that hangs up before, right after its last byte, may find its request
/// dropped by hyper before any handler sees it.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_mail_whose_client_hung_up_before_the_answer_is_recorded() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let t = crate::harness::TestDb::sqlite().await;
    seed_subscriber(&t.db).await;
    let url = endpoint(&t.db).await;
    let authority = url
        .trim_start_matches("http://")
        .trim_end_matches("/api/courriels")
        .to_string();
    let bodies: Vec<Vec<u8>> = (0..6).map(request).collect();
    for body in &bodies {
        let stream = tokio::net::TcpStream::connect(&authority).await.unwrap();
        let mut stream = BufReader::new(stream);
        let head = format!(
            "POST /api/courriels HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {TOKEN}\r\n\
             Content-Type: message/rfc822\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.flush().await.unwrap();
        let mut line = String::new();
        stream.read_line(&mut line).await.unwrap();
        assert!(line.starts_with("HTTP/1.1 100"), "{line}");
        stream.write_all(body).await.unwrap();
        stream.flush().await.unwrap();
        drop(stream);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while recorded(&t.db).await < bodies.len() as u64 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of {} mails recorded",
            recorded(&t.db).await,
            bodies.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The database gone: every post, alone or among others, is answered 503
/// with the same French message as before (the caller retries).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn posts_are_answered_503_when_the_database_is_unavailable() {
    let t = crate::harness::TestDb::sqlite().await;
    let url = endpoint(&t.db).await;
    t.db.clone().close().await.unwrap();
    let mut answers = post_all(&url, vec![request(0)]).await;
    answers.extend(post_all(&url, (1..9).map(request).collect()).await);
    for (status, json) in answers {
        assert_eq!(status, 503, "{json}");
        assert_eq!(
            json["erreur"],
            "Service momentanément indisponible, réessayez dans quelques minutes."
        );
    }
}
