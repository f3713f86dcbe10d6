//! Reset links, sign-in and objections of the Espace Abonné: the SPEC §9
//! token and password protections, each with a test that fails without it.

use crate::harness::{TestDb, spawn_app};
use crate::public::{DONE, add_subscriber, client, forgot, link_token, mails_to, page, post};
use bareme_mel::{
    config::Settings,
    store::{
        entities::change_request,
        requests::{self, Actor, NewRequest},
        tokens::{self, TokenKind, TokenOwner},
    },
    web::session,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};

#[tokio::test]
async fn the_reset_link_page_does_not_use_the_token_and_the_post_enforces_the_policy() {
    let t = TestDb::sqlite().await;
    add_subscriber(
        &t.db,
        "20005",
        "gestion@lycee-joffre.fr",
        Some("ancien mot de passe"),
        false,
    )
    .await;
    let app = spawn_app(Settings::default(), t.db.clone()).await;
    let c = client();
    forgot(&c, &app, "20005").await;
    let secret = link_token(&mails_to(&t.db, "gestion@lycee-joffre.fr").await[0]);
    let path = format!("/reinitialisation/{secret}");
    // A link scanner opening the page twice does not spend the link.
    let (s1, body, csrf) = page(&c, &app, &path).await;
    let (s2, _, _) = page(&c, &app, &path).await;
    assert_eq!((s1, s2), (200, 200));
    for text in [
        "Application Barème",
        "Réinitialisation du mot de passe",
        "Votre nouveau mot de passe",
        "Répétez votre mot de passe",
        "Le mot de passe doit faire au moins 8 caractères.",
        "Retour",
        "Envoyer",
    ] {
        assert!(body.contains(text), "missing « {text} »");
    }
    let attempt = |p: String, r: String| {
        let c = c.clone();
        let path = path.clone();
        let csrf = csrf.clone();
        let base = app.base.clone();
        async move {
            let res = c
                .post(format!("{base}{path}"))
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("mot_de_passe", p.as_str()),
                    ("repetition", r.as_str()),
                ])
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    let (status, body) = attempt("1234567".into(), "1234567".into()).await;
    assert_eq!(status, 400);
    assert!(body.contains("au moins 8 caractères"));
    let (status, _) = attempt("x".repeat(129), "x".repeat(129)).await;
    assert_eq!(status, 400, "129 characters are too many");
    let (status, body) = attempt("motdepasse".into(), "motdepasse".into()).await;
    assert_eq!(status, 400);
    assert!(body.contains("plus courants"), "blocklist");
    let (status, body) = attempt("20005-20005".into(), "20005-20005".into()).await;
    assert_eq!(status, 400);
    assert!(
        body.contains("reprendre votre numéro d"),
        "own number refused"
    );
    let (status, body) = attempt("trois chats gris".into(), "trois chats gros".into()).await;
    assert_eq!(status, 400);
    assert!(body.contains("différents"));
    // None of the refusals used the link: a valid password of exactly 8 characters goes through.
    let (status, body) = attempt("zq8-vent".into(), "zq8-vent".into()).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(DONE));
    assert!(body.contains("href=\"/\""), "link to the sign-in page");
    let (status, body) = attempt("zq8-vent".into(), "zq8-vent".into()).await;
    assert_eq!(status, 410, "single use");
    assert!(body.contains("déjà été utilisé"));
    let confirmations: Vec<_> = mails_to(&t.db, "gestion@lycee-joffre.fr")
        .await
        .into_iter()
        .map(|m| m.template)
        .collect();
    assert_eq!(
        confirmations,
        vec!["self_service_reset_link", "password_changed"]
    );
    // The new password signs in; the old one does not, with one generic error.
    let (_, _, csrf) = page(&c, &app, "/").await;
    let (status, body) = post(
        &c,
        &app,
        "/connexion",
        &[
            ("csrf", &csrf),
            ("numero", "20005"),
            ("mot_de_passe", "ancien mot de passe"),
        ],
    )
    .await;
    assert_eq!(status, 401);
    assert!(body.contains("N° abonné ou mot de passe incorrect."));
    let res = c
        .post(format!("{}/connexion", app.base))
        .form(&[
            ("csrf", csrf.as_str()),
            ("numero", "20005"),
            ("mot_de_passe", "zq8-vent"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let (status, body, _) = page(&c, &app, "/compte").await;
    assert_eq!(status, 200);
    assert!(body.contains("Lycée Joffre") && body.contains("gestion@lycee-joffre.fr"));
}

#[tokio::test]
async fn a_128_character_password_is_accepted() {
    let t = TestDb::sqlite().await;
    let id = add_subscriber(&t.db, "20006", "gestion@college.fr", None, false).await;
    let app = spawn_app(Settings::default(), t.db.clone()).await;
    let issued = tokens::issue(
        t.db.conn(),
        TokenKind::SelfServiceReset,
        TokenOwner {
            subscriber_id: Some(id),
            ..Default::default()
        },
        chrono::Duration::hours(1),
    )
    .await
    .unwrap();
    let c = client();
    let (_, _, csrf) = page(&c, &app, &format!("/reinitialisation/{}", issued.secret)).await;
    let long = "é".repeat(128);
    let (status, body) = post(
        &c,
        &app,
        &format!("/reinitialisation/{}", issued.secret),
        &[
            ("csrf", &csrf),
            ("mot_de_passe", &long),
            ("repetition", &long),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn expired_voided_and_unknown_links_say_what_to_do_next() {
    let t = TestDb::sqlite().await;
    let id = add_subscriber(&t.db, "20007", "gestion@college.fr", None, false).await;
    let app = spawn_app(Settings::default(), t.db.clone()).await;
    let owner = TokenOwner {
        subscriber_id: Some(id),
        ..Default::default()
    };
    let expired = tokens::issue(
        t.db.conn(),
        TokenKind::SelfServiceReset,
        owner,
        chrono::Duration::seconds(-5),
    )
    .await
    .unwrap();
    let older = tokens::issue(
        t.db.conn(),
        TokenKind::SelfServiceReset,
        owner,
        chrono::Duration::hours(1),
    )
    .await
    .unwrap();
    let newer = tokens::issue(
        t.db.conn(),
        TokenKind::SelfServiceReset,
        owner,
        chrono::Duration::hours(1),
    )
    .await
    .unwrap();
    let c = client();
    for (secret, why) in [
        (expired.secret.as_str(), "expiré"),
        (older.secret.as_str(), "remplacé"),
        ("0123456789abcdef0123456789abcdef", "pas valide"),
    ] {
        let (status, body, _) = page(&c, &app, &format!("/reinitialisation/{secret}")).await;
        assert_eq!(status, 410, "{why}");
        assert!(body.contains(why), "{why}: {body}");
        assert!(body.contains("/aide"), "points to path I");
    }
    // A password change voids the other live links.
    let (_, _, csrf) = page(&c, &app, &format!("/reinitialisation/{}", newer.secret)).await;
    let third = tokens::issue(
        t.db.conn(),
        TokenKind::ApprovalReset,
        owner,
        chrono::Duration::hours(1),
    )
    .await
    .unwrap();
    let (status, _) = post(
        &c,
        &app,
        &format!("/reinitialisation/{}", newer.secret),
        &[
            ("csrf", &csrf),
            ("mot_de_passe", "une phrase longue"),
            ("repetition", "une phrase longue"),
        ],
    )
    .await;
    assert_eq!(
        status, 410,
        "the approval link issued later voided this one"
    );
    let (status, _) = post(
        &c,
        &app,
        &format!("/reinitialisation/{}", third.secret),
        &[
            ("csrf", &csrf),
            ("mot_de_passe", "une phrase longue"),
            ("repetition", "une phrase longue"),
        ],
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_password_reset_ends_every_session_of_the_subscriber() {
    let t = TestDb::sqlite().await;
    let id = add_subscriber(
        &t.db,
        "20008",
        "gestion@college.fr",
        Some("ancien mot de passe"),
        false,
    )
    .await;
    let app = spawn_app(Settings::default(), t.db.clone()).await;
    let signed_in = client();
    let (_, _, csrf) = page(&signed_in, &app, "/").await;
    signed_in
        .post(format!("{}/connexion", app.base))
        .form(&[
            ("csrf", csrf.as_str()),
            ("numero", "20008"),
            ("mot_de_passe", "ancien mot de passe"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(page(&signed_in, &app, "/compte").await.0, 200);
    let issued = tokens::issue(
        t.db.conn(),
        TokenKind::SelfServiceReset,
        TokenOwner {
            subscriber_id: Some(id),
            ..Default::default()
        },
        chrono::Duration::hours(1),
    )
    .await
    .unwrap();
    let other = client();
    let (_, _, csrf) = page(
        &other,
        &app,
        &format!("/reinitialisation/{}", issued.secret),
    )
    .await;
    post(
        &other,
        &app,
        &format!("/reinitialisation/{}", issued.secret),
        &[
            ("csrf", &csrf),
            ("mot_de_passe", "une phrase longue"),
            ("repetition", "une phrase longue"),
        ],
    )
    .await;
    assert_eq!(
        page(&signed_in, &app, "/compte").await.0,
        303,
        "the old session is gone"
    );
    let _ = session::destroy_all(t.db.conn(), session::Principal::Subscriber(id)).await;
}

#[tokio::test]
async fn sign_in_failures_are_rate_limited_per_account_and_client() {
    let t = TestDb::sqlite().await;
    add_subscriber(
        &t.db,
        "20009",
        "gestion@college.fr",
        Some("le bon mot de passe"),
        false,
    )
    .await;
    let app = spawn_app(Settings::default(), t.db.clone()).await;
    let c = client();
    let (_, _, csrf) = page(&c, &app, "/").await;
    let mut statuses = Vec::new();
    for _ in 0..11 {
        statuses.push(
            post(
                &c,
                &app,
                "/connexion",
                &[
                    ("csrf", &csrf),
                    ("numero", "20009"),
                    ("mot_de_passe", "mauvais mot de passe"),
                ],
            )
            .await
            .0,
        );
    }
    assert_eq!(statuses[..10], [401; 10]);
    assert_eq!(statuses[10], 429);
    let (status, body) = post(
        &c,
        &app,
        "/connexion",
        &[
            ("csrf", &csrf),
            ("numero", "20009"),
            ("mot_de_passe", "le bon mot de passe"),
        ],
    )
    .await;
    assert_eq!(
        status, 429,
        "even the right password waits, from this client"
    );
    assert!(body.contains("patientez"));
    // The limit is the pair (account, client): the owner on another client
    // is not locked out (`accounts::limits::the_owner_signs_in_from_a_second_client…`),
    // but a client cannot become another one by writing a forwarding header.
    let other = client();
    let (_, _, csrf) = page(&other, &app, "/").await;
    let res = other
        .post(format!("{}/connexion", app.base))
        .header("x-forwarded-for", "198.51.100.7")
        .form(&[
            ("csrf", csrf.as_str()),
            ("numero", "20009"),
            ("mot_de_passe", "le bon mot de passe"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        429,
        "without a trusted proxy, a forwarding header does not make another client"
    );
}

#[tokio::test]
async fn reset_after_approval_completes_the_request() {
    let t = TestDb::sqlite().await;
    let id = add_subscriber(&t.db, "20010", "nouvelle@college.fr", None, false).await;
    let r = requests::create(
        &t.db,
        NewRequest {
            claimed_number: Some("20010".into()),
            subscriber_id: Some(id),
            ..Default::default()
        },
        &Actor::System,
    )
    .await
    .unwrap();
    change_request::Entity::update_many()
        .col_expr(change_request::Column::State, Expr::value("approved"))
        .filter(change_request::Column::Id.eq(r.id))
        .exec(t.db.conn())
        .await
        .unwrap();
    let issued = tokens::issue(
        t.db.conn(),
        TokenKind::ApprovalReset,
        TokenOwner {
            subscriber_id: Some(id),
            request_id: Some(r.id),
            ..Default::default()
        },
        chrono::Duration::hours(24),
    )
    .await
    .unwrap();
    let app = spawn_app(Settings::default(), t.db.clone()).await;
    let c = client();
    let (_, _, csrf) = page(&c, &app, &format!("/reinitialisation/{}", issued.secret)).await;
    let (status, _) = post(
        &c,
        &app,
        &format!("/reinitialisation/{}", issued.secret),
        &[
            ("csrf", &csrf),
            ("mot_de_passe", "une phrase longue"),
            ("repetition", "une phrase longue"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        requests::find(t.db.conn(), &r.reference)
            .await
            .unwrap()
            .state,
        "completed"
    );
}

#[tokio::test]
async fn an_objection_marks_the_request_contested_once() {
    let t = TestDb::sqlite().await;
    let id = add_subscriber(&t.db, "20011", "ancienne@college.fr", None, false).await;
    let r = requests::create(
        &t.db,
        NewRequest {
            claimed_number: Some("20011".into()),
            subscriber_id: Some(id),
            ..Default::default()
        },
        &Actor::System,
    )
    .await
    .unwrap();
    let issued = tokens::issue(
        t.db.conn(),
        TokenKind::Objection,
        TokenOwner {
            subscriber_id: Some(id),
            request_id: Some(r.id),
            ..Default::default()
        },
        chrono::Duration::days(30),
    )
    .await
    .unwrap();
    let app = spawn_app(Settings::default(), t.db.clone()).await;
    let c = client();
    let (status, body, csrf) = page(&c, &app, &format!("/opposition/{}", issued.secret)).await;
    assert_eq!(status, 200);
    assert!(body.contains(&r.reference));
    assert!(
        !requests::find(t.db.conn(), &r.reference)
            .await
            .unwrap()
            .contested,
        "opening the page changes nothing"
    );
    let (status, body) = post(
        &c,
        &app,
        &format!("/opposition/{}", issued.secret),
        &[
            ("csrf", &csrf),
            ("commentaire", "Je suis toujours en poste."),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.contains("Opposition enregistrée"));
    assert!(
        requests::find(t.db.conn(), &r.reference)
            .await
            .unwrap()
            .contested
    );
    let (status, _) = post(
        &c,
        &app,
        &format!("/opposition/{}", issued.secret),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 410);
}
