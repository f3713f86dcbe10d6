//! The application key and what it protects: no reset token left in the
//! database once its mail is written, self-service mails purged, access
//! exports without usable links, second-factor secrets sealed, the key file
//! created once and its loss a clear error.

use super::subscriber;
use crate::harness::{TestDb, spawn_app};
use crate::public::{mails_to, page};
use bareme_mel::config::Settings;

/// Every file of the SQLite database behind `url`, as bytes.
fn database_files(url: &str) -> Vec<(String, Vec<u8>)> {
    let path = bareme_mel::store::sqlite_path(url).unwrap();
    ["", "-wal", "-shm", "-journal"]
        .iter()
        .filter_map(|suffix| {
            let p = format!("{}{suffix}", path.display());
            std::fs::read(&p).ok().map(|bytes| (p, bytes))
        })
        .collect()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn no_reset_token_is_left_in_the_database_once_its_mail_is_written() {
    let t = TestDb::sqlite().await;
    subscriber(&t.db, "10009").await;
    let app = spawn_app(Settings::default(), t.db.clone()).await;
    let c = crate::public::client();
    crate::public::forgot(&c, &app, "10009").await;
    let secret = crate::public::link_token(&mails_to(&t.db, "gestion@college.fr").await[0]);
    let out = tempfile::tempdir().unwrap();
    let mut settings = Settings::default();
    settings.mail.outbox_dir = out.path().to_path_buf();
    let worker = bareme_mel::mail::worker::Worker::new(t.db.clone(), settings.into()).unwrap();
    assert_eq!(worker.run_once().await.unwrap().sent, 1);
    let written: Vec<u8> = std::fs::read_dir(out.path())
        .unwrap()
        .flatten()
        .flat_map(|f| std::fs::read(f.path()).unwrap())
        .collect();
    assert!(
        contains(&written, &secret),
        "the mail itself carries the link"
    );
    for (file, bytes) in database_files(&t.url) {
        assert!(!contains(&bytes, &secret), "the token is in {file}");
    }
    let stored = &mails_to(&t.db, "gestion@college.fr").await[0];
    assert!(stored.body_text.contains("/reinitialisation/[lien-retire]"));
    // The link still works: only the stored copy lost it.
    let (status, _, _) = page(&c, &app, &format!("/reinitialisation/{secret}")).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn self_service_mails_are_purged_like_the_others() {
    let t = TestDb::sqlite().await;
    subscriber(&t.db, "10010").await;
    let app = spawn_app(Settings::default(), t.db.clone()).await;
    crate::public::forgot(&crate::public::client(), &app, "10010").await;
    let out = tempfile::tempdir().unwrap();
    let mut settings = Settings::default();
    settings.mail.outbox_dir = out.path().to_path_buf();
    let worker =
        bareme_mel::mail::worker::Worker::new(t.db.clone(), settings.clone().into()).unwrap();
    worker.run_once().await.unwrap();
    let later = chrono::Utc::now()
        + chrono::Duration::days(settings.retention.closed_request_days as i64 + 1);
    bareme_mel::store::purge::run(&t.db, &settings.retention, later, false, "test")
        .await
        .unwrap();
    let stored = &mails_to(&t.db, "gestion@college.fr").await[0];
    assert_eq!(
        (stored.body_text.as_str(), stored.body_html.as_str()),
        ("", "")
    );
}

#[tokio::test]
async fn an_access_export_holds_no_usable_link() {
    use std::io::Read;
    let t = TestDb::sqlite().await;
    subscriber(&t.db, "10011").await;
    let app = spawn_app(Settings::default(), t.db.clone()).await;
    crate::public::forgot(&crate::public::client(), &app, "10011").await;
    // Not sent yet: the stored copy still holds the live link.
    let secret = crate::public::link_token(&mails_to(&t.db, "gestion@college.fr").await[0]);
    let subject = bareme_mel::access_export::Subject::Address(
        bareme_mel::domain::MailAddress::parse("gestion@college.fr").unwrap(),
    );
    let (bytes, _) = bareme_mel::access_export::build(&t.db, &subject, "staff:admin")
        .await
        .unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut data = String::new();
    zip.by_name("donnees.json")
        .unwrap()
        .read_to_string(&mut data)
        .unwrap();
    assert!(
        data.contains("/reinitialisation/"),
        "the mail is in the export"
    );
    assert!(!data.contains(&secret), "but not its token");
}

/// The agent of `db` with the second factor on, its Base32 secret returned.
async fn agent_with_totp(db: &bareme_mel::store::Db) -> String {
    use bareme_mel::{backoffice::second_factor, domain::Role, store::staff};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let hash = bareme_mel::security::hash_password("cheval-agrafe-pile-correcte".into())
        .await
        .unwrap();
    staff::add(db, "agent", "Agent", Role::Agent, hash, "test")
        .await
        .unwrap();
    let member = bareme_mel::store::entities::staff::Entity::find()
        .filter(bareme_mel::store::entities::staff::Column::Username.eq("agent"))
        .one(db.conn())
        .await
        .unwrap()
        .unwrap();
    let secret = second_factor::new_secret().unwrap();
    let code = second_factor::totp(&secret, "agent")
        .unwrap()
        .generate(chrono::Utc::now().timestamp() as u64)
        .to_string();
    second_factor::enable(db, &member, &secret, &code)
        .await
        .unwrap();
    secret
}

async fn stored_totp(db: &bareme_mel::store::Db) -> String {
    use sea_orm::EntityTrait;
    bareme_mel::store::entities::staff::Entity::find()
        .all(db.conn())
        .await
        .unwrap()
        .into_iter()
        .find_map(|m| m.totp_secret)
        .unwrap()
}

#[tokio::test]
async fn a_totp_secret_is_not_readable_in_the_database() {
    let t = TestDb::sqlite().await;
    let secret = agent_with_totp(&t.db).await;
    let stored = stored_totp(&t.db).await;
    assert!(!stored.contains(&secret), "stored in clear: {stored}");
    for (file, bytes) in database_files(&t.url) {
        assert!(!contains(&bytes, &secret), "the secret is in {file}");
    }
    // The service still reads it: a code of the app signs in.
    use sea_orm::EntityTrait;
    let member = bareme_mel::store::entities::staff::Entity::find()
        .all(t.db.conn())
        .await
        .unwrap()
        .remove(0);
    let next = bareme_mel::backoffice::second_factor::totp(&secret, "agent")
        .unwrap()
        .generate(chrono::Utc::now().timestamp() as u64 + 30)
        .to_string();
    assert!(
        bareme_mel::backoffice::second_factor::verify(&t.db, &member, &next)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn the_application_key_is_created_once_and_its_loss_is_a_clear_error() {
    use crate::harness::{cmd, run};
    let dir = tempfile::tempdir().unwrap();
    let mut c = cmd(dir.path());
    c.arg("migrate");
    let r = run(c);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let key_file = dir.path().join("data/bareme-mel.key");
    assert_eq!(std::fs::read(&key_file).unwrap().len(), 32);
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // The audit events appended below in this process are keyed with its own
    // key: the binary uses it too (no event is keyed yet, so none is lost).
    std::fs::remove_file(&key_file).unwrap();
    crate::harness::share_key(&dir.path().join("data"));
    // A secret an older version kept in clear is sealed at the next start.
    let db = bareme_mel::store::Db::connect(&bareme_mel::config::Database {
        url: bareme_mel::config::Secret(format!(
            "sqlite://{}/data/bareme-mel.db?mode=rw",
            dir.path().display()
        )),
        max_connections: 2,
    })
    .await
    .unwrap();
    let secret = agent_with_totp(&db).await;
    {
        use sea_orm::ConnectionTrait;
        db.conn()
            .execute_unprepared(&format!("UPDATE staff SET totp_secret = '{secret}'"))
            .await
            .unwrap();
    }
    let mut c = cmd(dir.path());
    c.args(["staff", "list"]);
    let r = run(c);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let stored = stored_totp(&db).await;
    assert!(
        stored.starts_with("v1:") && !stored.contains(&secret),
        "{stored}"
    );
    // Rotation: a new key file, the secret sealed again with it, still the same secret.
    let before = std::fs::read(&key_file).unwrap();
    let mut c = cmd(dir.path());
    c.args(["key", "rotate"]);
    let r = run(c);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("1 secret(s) TOTP rechiffré(s)"),
        "{}",
        r.stdout
    );
    assert_ne!(std::fs::read(&key_file).unwrap(), before);
    let resealed = stored_totp(&db).await;
    assert_ne!(resealed, stored);
    let new_key = bareme_mel::appkey::AppKey::read(&key_file).unwrap();
    assert_eq!(
        new_key.open("staff.totp_secret", &resealed).as_deref(),
        Some(secret.as_str())
    );
    // The audit chain is keyed with the new key too.
    let mut c = cmd(dir.path());
    c.args(["audit", "verify"]);
    let r = run(c);
    assert_eq!(r.status, 0, "{}{}", r.stdout, r.stderr);
    // Without its key, the database's sealed data stops the start, with the fix.
    std::fs::remove_file(&key_file).unwrap();
    let mut c = cmd(dir.path());
    c.args(["staff", "list"]);
    let r = run(c);
    assert_ne!(r.status, 0);
    assert!(
        r.stderr.contains("clé de l'application introuvable")
            && r.stderr.contains("bareme-mel.key"),
        "{}",
        r.stderr
    );
    assert!(!key_file.exists(), "no new key over sealed data");
}
