//! Accounts, sessions and secrets (issue 13, SPEC §9): rate limits keyed on
//! the parsed account and the real client, that never lock the owner out;
//! exact origins; `/metrics` only for allowed clients.

use crate::harness::{TestApp, TestDb, spawn_app};
use crate::public::{add_subscriber, mails_to, page, post};
use bareme_mel::config::Settings;
use std::time::{Duration, Instant};

/// A browser behind our reverse proxy: every request says it comes from `ip`.
fn client_from(ip: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-forwarded-for", ip.parse().unwrap());
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .unwrap()
}

/// Settings of a server behind a reverse proxy on the loopback.
fn behind_proxy() -> Settings {
    let mut s = Settings::default();
    s.server.trusted_proxies = vec!["127.0.0.1".into()];
    s
}

pub(crate) async fn sign_in(
    c: &reqwest::Client,
    app: &TestApp,
    numero: &str,
    password: &str,
) -> u16 {
    let (_, _, csrf) = page(c, app, "/").await;
    post(
        c,
        app,
        "/connexion",
        &[
            ("csrf", &csrf),
            ("numero", numero),
            ("mot_de_passe", password),
        ],
    )
    .await
    .0
}

#[tokio::test]
async fn spacing_variants_are_refused_once_the_number_is_limited() {
    let t = TestDb::sqlite().await;
    add_subscriber(
        &t.db,
        "10002",
        "gestion@college.fr",
        Some("le bon mot de passe"),
        false,
    )
    .await;
    let app = spawn_app(Settings::default(), t.db.clone()).await;
    let c = crate::public::client();
    for _ in 0..10 {
        assert_eq!(
            sign_in(&c, &app, "10002", "mauvais mot de passe").await,
            401
        );
    }
    for variant in ["10002", "1 0002", "10 002", "1\u{a0}0002", " 10002 "] {
        assert_eq!(
            sign_in(&c, &app, variant, "mauvais mot de passe").await,
            429,
            "« {variant} » is the same account"
        );
    }
}

#[tokio::test]
async fn the_owner_signs_in_from_a_second_client_while_an_attacker_is_throttled() {
    let t = TestDb::sqlite().await;
    add_subscriber(
        &t.db,
        "10003",
        "gestion@college.fr",
        Some("le bon mot de passe"),
        false,
    )
    .await;
    let app = spawn_app(behind_proxy(), t.db.clone()).await;
    let attacker = client_from("203.0.113.9");
    let mut statuses = Vec::new();
    for _ in 0..11 {
        statuses.push(sign_in(&attacker, &app, "10003", "mauvais mot de passe").await);
    }
    assert_eq!(statuses[..10], [401; 10]);
    assert_eq!(statuses[10], 429, "the attacker's pair is stopped");
    assert_eq!(
        sign_in(&attacker, &app, "10003", "le bon mot de passe").await,
        429,
        "even with the right password, from the throttled client"
    );
    let owner = client_from("198.51.100.7");
    let start = Instant::now();
    assert_eq!(
        sign_in(&owner, &app, "10003", "le bon mot de passe").await,
        303,
        "the owner, from another client, is not locked out"
    );
    let waited = start.elapsed();
    eprintln!("owner's sign-in under attack took {waited:?}");
    assert!(
        waited < bareme_mel::web::ratelimit::MAX_DELAY + Duration::from_secs(2),
        "only a bounded delay: {waited:?}"
    );
}

#[tokio::test]
async fn forgotten_password_still_works_for_a_throttled_number() {
    let t = TestDb::sqlite().await;
    add_subscriber(
        &t.db,
        "10004",
        "gestion@college.fr",
        Some("le bon mot de passe"),
        false,
    )
    .await;
    let app = spawn_app(behind_proxy(), t.db.clone()).await;
    let attacker = client_from("203.0.113.9");
    for _ in 0..11 {
        sign_in(&attacker, &app, "10004", "mauvais mot de passe").await;
    }
    for numero in [
        "10004", "10004", "10004", "10004", "10004", "1 0004", "10 004",
    ] {
        crate::public::forgot(&attacker, &app, numero).await;
    }
    let sent = mails_to(&t.db, "gestion@college.fr").await.len();
    assert_eq!(
        sent, 5,
        "five links per number and client, spacing variants included"
    );
    let owner = client_from("198.51.100.7");
    let (status, body) = crate::public::forgot(&owner, &app, "10004").await;
    assert_eq!(status, 200);
    assert!(body.contains(crate::public::SENT));
    assert_eq!(
        mails_to(&t.db, "gestion@college.fr").await.len(),
        6,
        "the owner still gets a link"
    );
}

#[tokio::test]
async fn x_forwarded_for_is_believed_only_from_a_trusted_proxy() {
    let t = TestDb::sqlite().await;
    // Not behind a trusted proxy: the header is the client's own word, ignored.
    let app = spawn_app(Settings::default(), t.db.clone()).await;
    let res = client_from("203.0.113.9")
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the socket address (loopback) counts");
    // Behind a trusted proxy: the forwarded address is the client.
    let app = spawn_app(behind_proxy(), t.db.clone()).await;
    let res = client_from("203.0.113.9")
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "the forwarded client is not allowed");
    let res = client_from("127.0.0.1")
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn metrics_are_refused_to_a_client_outside_metrics_allow() {
    let t = TestDb::sqlite().await;
    let mut settings = Settings::default();
    settings.ops.metrics_allow = vec!["10.0.0.0/8".into()];
    let app = spawn_app(settings, t.db.clone()).await;
    let res = reqwest::get(format!("{}/metrics", app.base)).await.unwrap();
    assert_eq!(res.status(), 403);
    let body = res.text().await.unwrap();
    assert!(!body.contains("bareme_"), "nothing of the metrics: {body}");
}

#[tokio::test]
async fn a_prefix_of_our_origin_is_refused() {
    let t = TestDb::sqlite().await;
    add_subscriber(
        &t.db,
        "10005",
        "gestion@college.fr",
        Some("le bon mot de passe"),
        false,
    )
    .await;
    let app = spawn_app(Settings::default(), t.db.clone()).await;
    let c = crate::public::client();
    let (_, _, csrf) = page(&c, &app, "/").await;
    let prefix = &app.base[..app.base.len() - 1];
    let res = c
        .post(format!("{}/connexion", app.base))
        .header("origin", prefix)
        .form(&[
            ("csrf", csrf.as_str()),
            ("numero", "10005"),
            ("mot_de_passe", "le bon mot de passe"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "{prefix} is not {}", app.base);
    let res = c
        .post(format!("{}/connexion", app.base))
        .header("origin", app.base.as_str())
        .form(&[
            ("csrf", csrf.as_str()),
            ("numero", "10005"),
            ("mot_de_passe", "le bon mot de passe"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "our own origin");
}

#[tokio::test]
async fn the_first_admin_link_is_limited_per_client() {
    let t = TestDb::sqlite().await;
    let settings = behind_proxy();
    let app = spawn_app(settings.clone(), t.db.clone()).await;
    let link = bareme_mel::backoffice::accounts::first_admin_link(&t.db, &app.state.settings)
        .await
        .unwrap()
        .unwrap();
    let path = &link[link.find("/gestion/").unwrap()..];
    let anonymous = client_from("203.0.113.9");
    for _ in 0..61 {
        anonymous
            .get(format!(
                "{}/gestion/premier-compte/00000000000000000000000000000000",
                app.base
            ))
            .send()
            .await
            .unwrap();
    }
    let res = client_from("198.51.100.7")
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the real link still opens for its owner");
}

#[tokio::test]
async fn an_agent_signs_in_from_another_client_while_an_attacker_is_throttled() {
    let t = TestDb::sqlite().await;
    let office = crate::gestion::office(t.db.clone(), behind_proxy()).await;
    let attacker = crate::gestion::Client {
        http: client_from("203.0.113.9"),
        base: office.app.base.clone(),
    };
    let mut statuses = Vec::new();
    for _ in 0..11 {
        statuses.push(
            attacker
                .sign_in("agent", "pas le bon")
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses[..10], [401; 10]);
    assert_eq!(statuses[10], 429);
    let agent = crate::gestion::Client {
        http: client_from("198.51.100.7"),
        base: office.app.base.clone(),
    };
    let res = agent.sign_in("agent", crate::gestion::PASSWORD).await;
    assert_eq!(res.status(), 303, "the agent is not locked out");
}

async fn change_at_compte(c: &reqwest::Client, app: &TestApp, current: &str, new: &str) -> u16 {
    let (_, _, csrf) = page(c, app, "/compte").await;
    post(
        c,
        app,
        "/compte/mot-de-passe",
        &[
            ("csrf", &csrf),
            ("actuel", current),
            ("mot_de_passe", new),
            ("repetition", new),
        ],
    )
    .await
    .0
}

#[tokio::test]
async fn a_password_change_at_compte_ends_every_other_session() {
    let t = TestDb::sqlite().await;
    add_subscriber(
        &t.db,
        "10006",
        "gestion@college.fr",
        Some("le bon mot de passe"),
        false,
    )
    .await;
    let app = spawn_app(Settings::default(), t.db.clone()).await;
    let here = crate::public::client();
    let elsewhere = crate::public::client();
    assert_eq!(
        sign_in(&here, &app, "10006", "le bon mot de passe").await,
        303
    );
    assert_eq!(
        sign_in(&elsewhere, &app, "10006", "le bon mot de passe").await,
        303
    );
    assert_eq!(
        change_at_compte(&here, &app, "le bon mot de passe", "trois chats gris").await,
        200
    );
    assert_eq!(
        page(&here, &app, "/compte").await.0,
        200,
        "this session goes on"
    );
    assert_eq!(
        page(&elsewhere, &app, "/compte").await.0,
        303,
        "the other session is over"
    );
}

#[tokio::test]
async fn the_current_password_at_compte_is_throttled_like_a_sign_in() {
    let t = TestDb::sqlite().await;
    add_subscriber(
        &t.db,
        "10007",
        "gestion@college.fr",
        Some("le bon mot de passe"),
        false,
    )
    .await;
    let app = spawn_app(Settings::default(), t.db.clone()).await;
    let c = crate::public::client();
    assert_eq!(sign_in(&c, &app, "10007", "le bon mot de passe").await, 303);
    let mut statuses = Vec::new();
    for i in 0..11 {
        statuses.push(
            change_at_compte(&c, &app, &format!("essai numéro {i}"), "trois chats gris").await,
        );
    }
    assert_eq!(statuses[..10], [400; 10]);
    assert_eq!(statuses[10], 429, "the eleventh guess is refused");
}

#[tokio::test]
async fn common_passwords_are_refused_in_any_unicode_form() {
    let t = TestDb::sqlite().await;
    add_subscriber(
        &t.db,
        "10008",
        "gestion@college.fr",
        Some("le bon mot de passe"),
        false,
    )
    .await;
    let app = spawn_app(Settings::default(), t.db.clone()).await;
    let c = crate::public::client();
    assert_eq!(sign_in(&c, &app, "10008", "le bon mot de passe").await, 303);
    for weak in [
        "ｐａｓｓｗｏｒｄ",
        "Password1!",
        "iloveyou1",
        "Marie Durand",
    ] {
        assert_eq!(
            change_at_compte(&c, &app, "le bon mot de passe", weak).await,
            400,
            "« {weak} » refused"
        );
    }
    // A password is checked and hashed in its NFKC form: the full-width
    // spelling of a good password signs in as the password itself.
    assert_eq!(
        change_at_compte(
            &c,
            &app,
            "le bon mot de passe",
            "ｔｒｏｉｓ ｃｈａｔｓ ｇｒｉｓ"
        )
        .await,
        200
    );
    let other = crate::public::client();
    assert_eq!(
        sign_in(&other, &app, "10008", "trois chats gris").await,
        303
    );
}

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
    add_subscriber(
        &t.db,
        "10009",
        "gestion@college.fr",
        Some("le bon mot de passe"),
        false,
    )
    .await;
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
    add_subscriber(
        &t.db,
        "10010",
        "gestion@college.fr",
        Some("le bon mot de passe"),
        false,
    )
    .await;
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
    add_subscriber(
        &t.db,
        "10011",
        "gestion@college.fr",
        Some("le bon mot de passe"),
        false,
    )
    .await;
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

/// The input an error is tied to (`aria-describedby` naming the message), if any.
fn described_input(html: &str) -> Option<String> {
    let at = html.find("aria-describedby=\"compte-erreur\"")?;
    let start = html[..at].rfind("<input")?;
    let id = html[start..at].split("id=\"").nth(1)?;
    Some(id[..id.find('"')?].to_string())
}

#[tokio::test]
async fn each_error_at_compte_is_tied_to_its_field() {
    let t = TestDb::sqlite().await;
    add_subscriber(
        &t.db,
        "10009",
        "gestion@college.fr",
        Some("le bon mot de passe"),
        false,
    )
    .await;
    let app = spawn_app(Settings::default(), t.db.clone()).await;
    let c = crate::public::client();
    assert_eq!(sign_in(&c, &app, "10009", "le bon mot de passe").await, 303);
    for (current, new, repeat, field, words) in [
        (
            "pas le bon",
            "trois chats gris",
            "trois chats gris",
            "actuel",
            "Le mot de passe actuel est incorrect.",
        ),
        (
            "le bon mot de passe",
            "trois chats gris",
            "trois chats bleus",
            "repetition",
            "Les deux mots de passe sont différents.",
        ),
        (
            "le bon mot de passe",
            "court",
            "court",
            "mot_de_passe",
            "8 caractères",
        ),
    ] {
        let (_, _, csrf) = page(&c, &app, "/compte").await;
        let (status, html) = post(
            &c,
            &app,
            "/compte/mot-de-passe",
            &[
                ("csrf", &csrf),
                ("actuel", current),
                ("mot_de_passe", new),
                ("repetition", repeat),
            ],
        )
        .await;
        assert_eq!(status, 400);
        assert!(
            html.contains("id=\"compte-erreur\"") && html.contains(words),
            "{html}"
        );
        assert_eq!(described_input(&html).as_deref(), Some(field), "{html}");
        assert_eq!(
            html.matches("aria-describedby=\"compte-erreur\"").count(),
            1
        );
    }
}
