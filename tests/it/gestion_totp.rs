//! Optional TOTP for staff: turned on from « Mon compte » with a valid code,
//! then asked after the password; the session exists only after the code.

use crate::gestion::{Client, PASSWORD, input_value, office};
use bareme_mel::{
    backoffice::second_factor,
    config::Settings,
    security,
    store::{entities::staff as staff_table, staff},
};
use sea_orm::EntityTrait;

/// The code of `secret` at `offset` seconds from now.
pub(crate) fn code(secret: &str, offset: i64) -> String {
    let t = second_factor::totp(secret, "agent").unwrap();
    let at = (chrono::Utc::now().timestamp() + offset) as u64;
    t.generate(at).to_string()
}

async fn secret_of(db: &bareme_mel::store::Db, username: &str) -> Option<String> {
    let id = staff::find(db, username).await.unwrap().unwrap().id;
    staff_table::Entity::find_by_id(id)
        .one(db.conn())
        .await
        .unwrap()
        .unwrap()
        .totp_secret
}

/// The key and the CSRF token « Mon compte » shows `c` to turn TOTP on.
pub(crate) async fn totp_form(c: &Client) -> (String, String) {
    let (status, page) = c.page("/gestion/compte").await;
    assert_eq!(status, 200, "{page}");
    (
        input_value(&page, "cle").unwrap(),
        input_value(&page, "csrf").unwrap(),
    )
}

/// Submits « Mon compte »'s form that turns TOTP on for the key `secret`.
pub(crate) async fn turn_on(c: &Client, csrf: &str, secret: &str, code: &str) -> reqwest::Response {
    c.post(
        "/gestion/compte/totp",
        &[("csrf", csrf), ("cle", secret), ("code", code)],
    )
    .await
}

pub(crate) async fn send_code(c: &Client, code: &str) -> reqwest::Response {
    let (status, html) = c.page("/gestion/connexion/code").await;
    assert_eq!(status, 200, "the code page after the password");
    let csrf = input_value(&html, "csrf").unwrap();
    c.post(
        "/gestion/connexion/code",
        &[("csrf", &csrf), ("code", code)],
    )
    .await
}

fn location(res: &reqwest::Response) -> &str {
    res.headers()["location"].to_str().unwrap()
}

#[tokio::test]
async fn totp_is_enabled_with_a_valid_code_and_then_required_at_sign_in() {
    let t = crate::harness::TestDb::sqlite().await;
    let o = office(t.db.clone(), Settings::default()).await;

    // Enabling: the key is on the page; a wrong code leaves TOTP off.
    let agent = o.client("agent").await;
    let (status, page) = agent.page("/gestion/compte").await;
    assert_eq!(status, 200);
    let secret = input_value(&page, "cle").unwrap();
    assert!(page.contains("otpauth://totp/"), "{page}");
    let csrf = input_value(&page, "csrf").unwrap();
    let wrong = turn_on(&agent, &csrf, &secret, &code(&secret, -600)).await;
    assert_eq!(wrong.status(), 400);
    assert!(secret_of(&o.db, "agent").await.is_none());
    let enabling = code(&secret, 0);
    let right = turn_on(&agent, &csrf, &secret, &enabling).await;
    assert_eq!(right.status(), 303);
    // Stored sealed with the application key, never in clear.
    let stored = secret_of(&o.db, "agent").await.unwrap();
    assert!(
        stored.starts_with("v1:") && !stored.contains(&secret),
        "{stored}"
    );
    assert!(
        agent
            .page("/gestion/compte")
            .await
            .1
            .contains("est activée")
    );

    // The password alone opens no session.
    let c = Client::new(&o.app.base);
    let res = c.sign_in("agent", PASSWORD).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/gestion/connexion/code");
    let res = c.get("/gestion").await;
    assert_eq!(res.status(), 303, "no session before the code");
    assert_eq!(location(&res), "/gestion/connexion");
    // A wrong code, and the code already used to enable, are refused.
    assert_eq!(send_code(&c, &code(&secret, -600)).await.status(), 401);
    assert_eq!(send_code(&c, "").await.status(), 401);
    assert_eq!(send_code(&c, &enabling).await.status(), 401, "replay");
    assert_eq!(c.get("/gestion").await.status(), 303);
    // The next code works, once.
    let next = code(&secret, 30);
    let res = send_code(&c, &next).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/gestion");
    assert_eq!(c.get("/gestion").await.status(), 200);

    let other = Client::new(&o.app.base);
    other.sign_in("agent", PASSWORD).await;
    assert_eq!(
        send_code(&other, &next).await.status(),
        401,
        "a code works once"
    );
    assert_eq!(other.get("/gestion").await.status(), 303);

    // A new password leaves TOTP on; `staff disable-totp` turns it off.
    let hash = security::hash_password(PASSWORD.to_string()).await.unwrap();
    staff::set_password(&o.db, "agent", hash, "test")
        .await
        .unwrap();
    assert!(secret_of(&o.db, "agent").await.is_some());
    assert!(
        second_factor::disable(&o.db, "agent", "cli:root")
            .await
            .unwrap()
    );
    let plain = Client::new(&o.app.base);
    let res = plain.sign_in("agent", PASSWORD).await;
    assert_eq!(location(&res), "/gestion");
}

#[tokio::test]
async fn a_staff_member_turns_totp_off_with_a_current_code_only() {
    let t = crate::harness::TestDb::sqlite().await;
    let o = office(t.db.clone(), Settings::default()).await;
    let appro = o.client("appro").await;
    let (secret, csrf) = totp_form(&appro).await;
    let res = turn_on(&appro, &csrf, &secret, &code(&secret, -30)).await;
    assert_eq!(res.status(), 303);
    let off = |c: String| {
        let csrf = csrf.clone();
        let appro = &appro;
        async move {
            appro
                .post(
                    "/gestion/compte/totp/desactiver",
                    &[("csrf", csrf.as_str()), ("code", c.as_str())],
                )
                .await
                .status()
        }
    };
    assert_eq!(off(code(&secret, -600)).await, 400);
    assert!(secret_of(&o.db, "appro").await.is_some());
    assert_eq!(off(code(&secret, 30)).await, 303);
    assert!(secret_of(&o.db, "appro").await.is_none());
}
