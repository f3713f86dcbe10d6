//! A large request mail (issues 12 and 15): 25 MB on the wire, the form in
//! its body and an 18 MB PDF attached, goes through the real `bareme-mel
//! ingest` within 150 MB of peak memory, and what is stored — the raw mail,
//! the attachments — is byte for byte what was sent, on SQLite (written in
//! place) as on PostgreSQL.

use crate::{
    harness::TestDb,
    intake_hostile::{ingest_file, run_measured},
    intake_support::{self, SENDER, form_body},
    pdf_bomb::base64_lines,
};
use bareme_mel::{
    config::{Database, Secret},
    store::{Db, attachments, entities::inbound_message},
};
use sea_orm::EntityTrait;

/// A PDF of about `len` bytes: one stream of bytes that do not compress.
fn large_pdf(len: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let pad: Vec<u8> = (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    [
        &b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n\
           2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"[..],
        format!("3 0 obj\n<< /Length {len} >>\nstream\n").as_bytes(),
        &pad,
        b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n",
    ]
    .concat()
}

/// A request mail: the form in the body, then each (name, PDF) attached.
fn request_mail(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = format!(
        "From: {SENDER}\r\nTo: bareme@ac-montpellier.fr\r\nSubject: Changement d'adresse\r\n\
         Message-ID: <{}@test>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n",
        uuid::Uuid::new_v4().simple(),
        form_body("agent@ac-montpellier.fr")
    );
    for (name, pdf) in files {
        out.push_str(&format!(
            "--b1\r\nContent-Type: application/pdf; name=\"{name}\"\r\n\
             Content-Disposition: attachment; filename=\"{name}\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{}",
            base64_lines(pdf)
        ));
    }
    out.push_str("--b1--\r\n");
    out.into_bytes()
}

/// The one recorded message of `db`, and the contents of its attachments.
async fn stored(db: &Db) -> (inbound_message::Model, Vec<Option<Vec<u8>>>) {
    let rows = inbound_message::Entity::find()
        .all(db.conn())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "one disposition");
    let mut contents = Vec::new();
    for a in attachments::for_message(db.conn(), rows[0].id)
        .await
        .unwrap()
    {
        contents.push(attachments::content(db.conn(), &a).await.unwrap());
    }
    (rows.into_iter().next().unwrap(), contents)
}

#[tokio::test]
async fn a_25_mb_request_mail_is_ingested_within_150_mb_and_stored_as_sent() {
    let pdf = large_pdf(18_000_000);
    let mail = request_mail(&[("annexe.pdf", &pdf)]);
    assert!(mail.len() > 24_000_000, "{} bytes", mail.len());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("large.eml");
    std::fs::write(&path, &mail).unwrap();
    let Some(c) = ingest_file(dir.path(), &path) else {
        return;
    };
    let (code, peak_kib) = run_measured(c, dir.path());
    let stdout = std::fs::read_to_string(dir.path().join("stdout.txt")).unwrap();
    let stderr = std::fs::read_to_string(dir.path().join("stderr.txt")).unwrap();
    eprintln!(
        "25 MB request mail: peak RSS {} MiB, {stdout:?}",
        peak_kib / 1024
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.ends_with('\n') && stdout.lines().count() == 1,
        "{stdout}"
    );
    // 150 MB (the target of issue 15); it was 209 MiB.
    assert!(
        peak_kib * 1024 <= 150_000_000,
        "peak RSS {} MiB over 150 MB",
        peak_kib / 1024
    );
    let db = Db::connect(&Database {
        url: Secret(format!(
            "sqlite://{}/db.sqlite?mode=rw",
            dir.path().display()
        )),
        max_connections: 1,
    })
    .await
    .unwrap();
    let (row, contents) = stored(&db).await;
    assert!(row.raw.as_deref() == Some(&mail[..]), "raw mail as sent");
    assert_eq!(row.size, mail.len() as i64);
    assert_eq!(contents.len(), 1);
    assert!(
        contents[0].as_deref() == Some(&pdf[..]),
        "attachment as sent"
    );
}

/// The raw mail and every attachment, a repeated one stored once, read
/// back as sent; `db` is a fresh database.
async fn stored_as_sent(db: &Db) {
    let small = large_pdf(70_000);
    let other = large_pdf(1_500_000);
    let mail = request_mail(&[
        ("formulaire.pdf", &small),
        ("annexe.pdf", &other),
        ("copie.pdf", &small),
    ]);
    intake_support::ingest(db, &mail).await;
    let (row, contents) = stored(db).await;
    assert!(row.raw.as_deref() == Some(&mail[..]), "raw mail as sent");
    assert_eq!(contents.len(), 3);
    assert!(contents[0].as_deref() == Some(&small[..]));
    assert!(contents[1].as_deref() == Some(&other[..]));
    assert!(contents[2].as_deref() == Some(&small[..]));
}

#[tokio::test]
async fn a_mail_and_its_attachments_are_stored_as_sent_on_sqlite() {
    let t = TestDb::sqlite().await;
    stored_as_sent(&t.db).await;
}

#[tokio::test]
async fn a_mail_and_its_attachments_are_stored_as_sent_on_postgres() {
    let Some(t) = TestDb::postgres().await else {
        return;
    };
    stored_as_sent(&t.db).await;
}
