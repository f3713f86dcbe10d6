//! Passwords and sessions at « Mon compte »: a change ends every other
//! session, the current password is throttled like a sign-in, common
//! passwords are refused in any Unicode form, each error is tied to its field.

use super::{sign_in, subscriber};
use crate::harness::{TestApp, TestDb, spawn_app};
use crate::public::{page, post};
use bareme_mel::config::Settings;

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
    subscriber(&t.db, "10006").await;
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
    subscriber(&t.db, "10007").await;
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
    subscriber(&t.db, "10008").await;
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
    subscriber(&t.db, "10009").await;
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
