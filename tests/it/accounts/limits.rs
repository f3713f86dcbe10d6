//! Rate limits keyed on the parsed account and the real client, that never
//! lock the owner out; forwarding headers believed only from a trusted
//! proxy; exact origins; `/metrics` only for allowed clients.

use super::{sign_in, subscriber};
use crate::harness::{TestDb, spawn_app};
use crate::public::{browser, mails_to, page};
use bareme_mel::config::Settings;
use std::time::{Duration, Instant};

/// A browser behind our reverse proxy: every request says it comes from `ip`.
fn client_from(ip: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-forwarded-for", ip.parse().unwrap());
    browser().default_headers(headers).build().unwrap()
}

/// Settings of a server behind a reverse proxy on the loopback.
fn behind_proxy() -> Settings {
    let mut s = Settings::default();
    s.server.trusted_proxies = vec!["127.0.0.1".into()];
    s
}

#[tokio::test]
async fn spacing_variants_are_refused_once_the_number_is_limited() {
    let t = TestDb::sqlite().await;
    subscriber(&t.db, "10002").await;
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
    subscriber(&t.db, "10003").await;
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
    subscriber(&t.db, "10004").await;
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
    subscriber(&t.db, "10005").await;
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
