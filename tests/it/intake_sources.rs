//! The MTA pipe, files and Maildir of `bareme-mel ingest`, and
//! `POST /api/courriels`.

use crate::{
    harness::{TestDb, cmd, run},
    intake_support::*,
};
use std::{io::Write, process::Stdio};

fn ingest_cmd(dir: &std::path::Path) -> std::process::Command {
    let mut c = cmd(dir);
    c.env(
        "BAREME_MEL__DATABASE__URL",
        format!("sqlite://{}/db.sqlite?mode=rwc", dir.display()),
    );
    c.arg("ingest");
    c
}

#[test]
fn ingest_reads_stdin_and_prints_one_line_per_message() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = ingest_cmd(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&fixture("thunderbird-body-flowed.eml"))
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let line = String::from_utf8(out.stdout).unwrap();
    assert!(line.starts_with("request_created BM-"), "{line}");
    assert_eq!(line.lines().count(), 1);
}

#[test]
fn ingest_of_files_and_a_maildir_moves_each_message_to_cur_after_commit() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("inbox");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    std::fs::write(
        maildir.join("new/1764580500.M1P1.host"),
        fixture("autoreply-en.eml"),
    )
    .unwrap();
    std::fs::write(
        maildir.join("new/1764580501.M2P1.host"),
        fixture("malformed-garbage.eml"),
    )
    .unwrap();
    let file = dir.path().join("one.eml");
    std::fs::write(&file, fixture("gmail-iso-8859-1-body.eml")).unwrap();
    let mut c = ingest_cmd(dir.path());
    c.arg("--maildir").arg(&maildir).arg(&file);
    let r = run(c);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[..2], ["auto_ignored -", "quarantined -"]);
    assert!(lines[2].starts_with("request_created BM-"));
    assert_eq!(std::fs::read_dir(maildir.join("new")).unwrap().count(), 0);
    assert!(maildir.join("cur/1764580500.M1P1.host:2,S").exists());
    // Seen again (a copy put back in new/ after a crash): answered as a duplicate, nothing new.
    std::fs::write(
        maildir.join("new/1764580500.M1P1.host"),
        fixture("autoreply-en.eml"),
    )
    .unwrap();
    let mut c = ingest_cmd(dir.path());
    c.arg("--maildir").arg(&maildir);
    assert_eq!(run(c).stdout, "duplicate -\n");
}

#[test]
fn ingest_exits_75_when_the_database_is_down_and_64_on_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cmd(dir.path());
    c.env(
        "BAREME_MEL__DATABASE__URL",
        "postgres://postgres@127.0.0.1:1/nothing",
    );
    c.arg("ingest").arg(dir.path().join("x.eml"));
    std::fs::write(dir.path().join("x.eml"), fixture("autoreply-en.eml")).unwrap();
    let r = run(c);
    assert_eq!(r.status, 75, "{}", r.stderr);
    assert!(r.stdout.is_empty());
    let mut c = ingest_cmd(dir.path());
    c.arg("/nonexistent/file.eml");
    assert_eq!(run(c).status, 64);
    let mut c = ingest_cmd(dir.path());
    c.arg("--no-such-option");
    assert_ne!(run(c).status, 0);
}

async fn spawn_app(db: bareme_mel::store::Db, token: &str, max: u64) -> String {
    let mut settings = settings();
    settings.intake.api_token = bareme_mel::config::Secret(token.into());
    settings.intake.max_message_bytes = max;
    let app = crate::harness::spawn_app(settings, db).await;
    format!("{}/api/courriels", app.base)
}

#[tokio::test]
async fn the_http_endpoint_needs_its_bearer_token_and_refuses_oversize_mail() {
    let t = TestDb::sqlite().await;
    seed_subscriber(&t.db).await;
    let client = reqwest::Client::new();
    let off = spawn_app(t.db.clone(), "", 1_000_000).await;
    let r = client
        .post(&off)
        .bearer_auth("x")
        .body(fixture("autoreply-en.eml"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "disabled without intake.api_token");
    let url = spawn_app(t.db.clone(), "s3cret-token", 10_000).await;
    let post = |body: Vec<u8>| {
        client
            .post(&url)
            .header("content-type", "message/rfc822")
            .body(body)
    };
    assert_eq!(
        post(fixture("autoreply-en.eml"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        post(fixture("autoreply-en.eml"))
            .bearer_auth("wrong")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let big = post(fixture("outlook-pdf-form.eml"))
        .bearer_auth("s3cret-token")
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), 413);
    let ok = post(fixture("thunderbird-body-flowed.eml"))
        .bearer_auth("s3cret-token")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let json: serde_json::Value = ok.json().await.unwrap();
    assert_eq!(json["disposition"], "request_created");
    assert!(json["reference"].as_str().unwrap().starts_with("BM-"));
}
