//! Hostile mail through the real `bareme-mel ingest` (issue 12): a PDF
//! object-stream bomb stays within the memory budget.

use crate::{harness::cmd, pdf_bomb};
use std::process::Stdio;

/// Runs the program and arguments after it and writes the child's peak
/// resident memory (KiB) to the file named first. It runs in a small
/// process of its own because a child's `ru_maxrss` also counts the
/// resident memory of the process that spawned it (Linux keeps the larger
/// of the two across `exec`): measured straight from this test binary, the
/// figure was the test binary's own size whenever other tests had made it
/// grow (362 MiB in the full suite, 118 MiB when run alone).
const PEAK_RSS_PY: &str = r#"
import os, subprocess, sys
p = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(p.pid, 0)
open(sys.argv[1], "w").write(str(usage.ru_maxrss))
sys.exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
"#;

/// `bareme-mel <args>` in `dir` under [`PEAK_RSS_PY`] (the tools venv's
/// Python, `BAREME_MEL_TEST_PYTHON`), or `None` (skipped) without it.
pub fn measured(dir: &std::path::Path) -> Option<std::process::Command> {
    let python = match std::env::var("BAREME_MEL_TEST_PYTHON") {
        Ok(p) => p,
        Err(e) => return crate::harness::skip_or_fail("BAREME_MEL_TEST_PYTHON", e),
    };
    let c = cmd(dir);
    let mut wrapped = std::process::Command::new(python);
    wrapped
        .current_dir(dir)
        .arg("-c")
        .arg(PEAK_RSS_PY)
        .arg(dir.join("peak-rss.txt"))
        .arg(c.get_program());
    for (k, v) in c.get_envs() {
        match v {
            Some(v) => wrapped.env(k, v),
            None => wrapped.env_remove(k),
        };
    }
    Some(wrapped)
}

/// The exit status and peak RSS (KiB) of a command from [`measured`].
pub fn run_measured(mut c: std::process::Command, dir: &std::path::Path) -> (i32, i64) {
    let status = c.status().expect("run under the peak-RSS wrapper");
    let peak = std::fs::read_to_string(dir.join("peak-rss.txt"))
        .expect("peak-rss.txt")
        .trim()
        .parse()
        .expect("a number of KiB");
    (status.code().unwrap_or(-1), peak)
}

/// `bareme-mel ingest` of `mail` on stdin into a SQLite database in `dir`,
/// output in `dir/stdout.txt` and `dir/stderr.txt`.
pub fn ingest_file(dir: &std::path::Path, mail: &std::path::Path) -> Option<std::process::Command> {
    let mut c = measured(dir)?;
    c.env(
        "BAREME_MEL__DATABASE__URL",
        format!("sqlite://{}/db.sqlite?mode=rwc", dir.display()),
    )
    .arg("ingest")
    .stdin(Stdio::from(std::fs::File::open(mail).unwrap()))
    .stdout(Stdio::from(
        std::fs::File::create(dir.join("stdout.txt")).unwrap(),
    ))
    .stderr(Stdio::from(
        std::fs::File::create(dir.join("stderr.txt")).unwrap(),
    ));
    Some(c)
}

#[test]
fn an_object_stream_bomb_is_ingested_within_300_mb() {
    let dir = tempfile::tempdir().unwrap();
    let pdf = pdf_bomb::object_stream_bomb(250, 7 * 1024 * 1024);
    assert!(pdf.len() < 2_500_000, "bomb of {} bytes", pdf.len());
    let path = dir.path().join("bomb.eml");
    let mail = pdf_bomb::mail_with_pdf(crate::intake_support::SENDER, "bomb@test", &pdf);
    std::fs::write(&path, mail).unwrap();
    let Some(c) = ingest_file(dir.path(), &path) else {
        return;
    };
    let (code, peak_kib) = run_measured(c, dir.path());
    let stdout = std::fs::read_to_string(dir.path().join("stdout.txt")).unwrap();
    let stderr = std::fs::read_to_string(dir.path().join("stderr.txt")).unwrap();
    eprintln!("object-stream bomb: peak RSS {} MiB", peak_kib / 1024);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        // The mail says nothing but carries the refused PDF: recorded, and filed
        // as a request, in quarantine or (since the triage) among « Autres courriels ».
        stdout.starts_with("request_created ")
            || stdout.starts_with("quarantined ")
            || stdout.starts_with("not_a_request "),
        "{stdout}"
    );
    assert!(peak_kib <= 300 * 1024, "peak RSS {} MiB", peak_kib / 1024);
}

/// The flood of issue 12: five request mails in a row for one subscriber.
/// Before the caps, five alerts went to its registered address and five
/// acknowledgements to a From anyone can forge; now three of each, and the
/// two over the cap are requests flagged for staff.
#[tokio::test]
async fn a_flood_for_one_subscriber_sends_three_alerts_and_three_acknowledgements() {
    use crate::intake_support::*;
    use bareme_mel::{
        mail::MailKind,
        store::entities::{change_request, outbox},
    };
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    let t = crate::harness::TestDb::sqlite().await;
    seed_subscriber(&t.db).await;
    for i in 0..5 {
        let raw = mail(
            SENDER,
            &format!("Changement d'adresse {i}"),
            "",
            &form_body(&format!("nouvelle{i}@lycee-jean-moulin.fr")),
        );
        let outcome = ingest(&t.db, &raw).await;
        assert_eq!(outcome.line().split(' ').next(), Some("request_created"));
    }
    let sent = |to: &'static str, kind: MailKind| {
        let db = t.db.clone();
        async move {
            outbox::Entity::find()
                .filter(outbox::Column::Recipient.eq(to))
                .filter(outbox::Column::Template.eq(kind.template()))
                .all(db.conn())
                .await
                .unwrap()
                .len()
        }
    };
    assert_eq!(sent(SENDER, MailKind::Acknowledgement).await, 3);
    assert_eq!(sent(REGISTERED, MailKind::RegisteredAddressAlert).await, 3);
    let requests = change_request::Entity::find()
        .order_by_asc(change_request::Column::Id)
        .all(t.db.conn())
        .await
        .unwrap();
    assert_eq!(requests.len(), 5, "every mail is recorded");
    for (i, r) in requests.iter().enumerate() {
        let flags: Vec<String> = serde_json::from_str(&r.flags).unwrap();
        let capped = i >= 3;
        assert_eq!(
            flags.iter().any(|f| f == "accuse_non_envoye_plafond"),
            capped,
            "request {i}: {flags:?}"
        );
        assert_eq!(
            flags.iter().any(|f| f == "alerte_non_envoyee_plafond"),
            capped,
            "request {i}: {flags:?}"
        );
    }
}

/// The caps are settings: with 5, the same five mails all go out.
#[tokio::test]
async fn the_flood_caps_are_configurable() {
    use crate::intake_support::*;
    use bareme_mel::{
        intake::{Incoming, Intake, Origin},
        mail::MailKind,
        store::entities::outbox,
    };
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let t = crate::harness::TestDb::sqlite().await;
    seed_subscriber(&t.db).await;
    let mut s = settings();
    s.intake.max_alerts_per_address = 5;
    s.intake.max_acknowledgements_per_sender = 1;
    let intake = Intake::new(t.db.clone(), std::sync::Arc::new(s));
    for i in 0..5 {
        let raw = mail(
            SENDER,
            "Changement",
            "",
            &form_body(&format!("n{i}@lycee-jean-moulin.fr")),
        );
        intake
            .ingest(Incoming::whole(raw, Origin::new("file", None)))
            .await
            .unwrap();
    }
    let count = |to: &str, kind: MailKind| {
        let q = outbox::Entity::find()
            .filter(outbox::Column::Recipient.eq(to))
            .filter(outbox::Column::Template.eq(kind.template()));
        let db = t.db.clone();
        async move { q.all(db.conn()).await.unwrap().len() }
    };
    assert_eq!(count(SENDER, MailKind::Acknowledgement).await, 1);
    assert_eq!(count(REGISTERED, MailKind::RegisteredAddressAlert).await, 5);
}

/// The request page shows the body made at intake: with the raw bytes
/// replaced by something else afterwards, it still shows what was received
/// (so no view parses the raw mail again), and a purge removes it too.
#[tokio::test]
async fn the_request_page_reads_the_view_stored_at_intake() {
    use crate::intake_support::*;
    use bareme_mel::{backoffice::mailview, store::entities::inbound_message};
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};
    let t = crate::harness::TestDb::sqlite().await;
    seed_subscriber(&t.db).await;
    let raw = mail(
        SENDER,
        "Changement",
        "",
        &form_body("nouvelle@lycee-jean-moulin.fr"),
    );
    let outcome = ingest(&t.db, &raw).await;
    let row = record_of(&t.db, &outcome).await;
    let request_id = row.request_id.unwrap();
    assert_eq!(row.has_html, Some(false));
    assert!(
        row.body_view
            .as_deref()
            .unwrap()
            .contains("Lycée Jean Moulin")
    );
    let mut changed: inbound_message::ActiveModel = row.into();
    changed.raw = Set(Some(b"Subject: autre\r\n\r\nAutre chose".to_vec()));
    let row = changed.update(t.db.conn()).await.unwrap();
    let views = mailview::for_request(t.db.conn(), request_id)
        .await
        .unwrap();
    assert!(
        views[0].body.contains("nouvelle@lycee-jean-moulin.fr"),
        "{}",
        views[0].body
    );
    assert!(!views[0].body.contains("Autre chose"));
    // A record made before intake stored the view is parsed off the async threads.
    let mut legacy: inbound_message::ActiveModel = row.into();
    legacy.body_view = Set(None);
    legacy.has_html = Set(None);
    legacy.update(t.db.conn()).await.unwrap();
    let views = mailview::for_request(t.db.conn(), request_id)
        .await
        .unwrap();
    assert_eq!(views[0].body, "Autre chose");
}

/// The document that held the PDF reader 166 s (fuzzer case 855,823,
/// distilled: an xref listing one object whose string never closes 20,000
/// times) through `bareme-mel ingest`: the reader gives up at its time
/// budget, the mail is recorded and the request is for manual entry, with
/// « le temps de lecture » as the reason.
#[tokio::test]
async fn a_pdf_over_its_time_budget_is_ingested_with_the_reason_named() {
    let dir = tempfile::tempdir().unwrap();
    let pdf = pdf_bomb::xref_entries_on_an_unclosed_string(20_000, 20_000);
    let path = dir.path().join("slow.eml");
    let mail = pdf_bomb::mail_with_pdf(crate::intake_support::SENDER, "slow@test", &pdf);
    std::fs::write(&path, mail).unwrap();
    let Some(c) = ingest_file(dir.path(), &path) else {
        return;
    };
    let started = std::time::Instant::now();
    let (code, peak_kib) = run_measured(c, dir.path());
    let took = started.elapsed();
    let stdout = std::fs::read_to_string(dir.path().join("stdout.txt")).unwrap();
    let stderr = std::fs::read_to_string(dir.path().join("stderr.txt")).unwrap();
    eprintln!(
        "slow PDF: ingested in {took:?}, peak RSS {} MiB, {stdout:?}",
        peak_kib / 1024
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.starts_with("request_created ")
            || stdout.starts_with("quarantined ")
            || stdout.starts_with("not_a_request "),
        "{stdout}"
    );
    // The budget is 10 s; generous for a noisy machine (it took minutes).
    assert!(
        took < std::time::Duration::from_secs(30),
        "ingested in {took:?}"
    );
    let db = bareme_mel::store::Db::connect(&bareme_mel::config::Database {
        url: bareme_mel::config::Secret(format!(
            "sqlite://{}/db.sqlite?mode=rw",
            dir.path().display()
        )),
        max_connections: 1,
    })
    .await
    .unwrap();
    use sea_orm::EntityTrait;
    let rows = bareme_mel::store::entities::inbound_message::Entity::find()
        .all(db.conn())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "one disposition");
    let reason = rows[0].reason.clone().unwrap_or_default();
    assert!(reason.contains("le temps de lecture"), "{reason}");
}
