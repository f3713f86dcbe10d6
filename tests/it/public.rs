//! The Espace Abonné (SPEC §6 public pages) and the SPEC §9 protections on
//! them; the link and sign-in tests are in `public_tokens`, sharing these helpers.

use crate::harness::{TestApp, TestDb, spawn_app};
use bareme_mel::{
    config::Settings,
    domain::{MailAddress, SubscriberNumber},
    security,
    store::{
        Db,
        entities::outbox,
        subscribers::{self, SubscriberRow},
    },
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, sea_query::Expr};
use std::time::Instant;

pub(crate) const SENT: &str = "Si vos identifiants sont corrects, un mail vient de vous être envoyé pour obtenir votre nouveau mot de passe. Vous pouvez quitter cette page.";
pub(crate) const DONE: &str =
    "Votre mot de passe a bien été réinitialisé. Veuillez vous rendre sur la";

pub(crate) async fn add_subscriber(
    db: &Db,
    number: &str,
    email: &str,
    password: Option<&str>,
    disabled: bool,
) -> i64 {
    let mut existing = subscribers::load_existing(db.conn()).await.unwrap();
    let row = SubscriberRow {
        numero_abonne: SubscriberNumber::parse(number).unwrap(),
        organisme: "Lycée Joffre".into(),
        gestionnaire: Some("Marie Durand".into()),
        adresse_mel: Some(MailAddress::parse(email).unwrap()),
    };
    subscribers::upsert_batch(db, &mut existing, &[row], "test")
        .await
        .unwrap();
    let s = subscribers::find_by_number(db.conn(), &SubscriberNumber::parse(number).unwrap())
        .await
        .unwrap()
        .unwrap();
    let mut update = bareme_mel::store::entities::subscriber::Entity::update_many().col_expr(
        bareme_mel::store::entities::subscriber::Column::Disabled,
        Expr::value(disabled),
    );
    if let Some(p) = password {
        update = update.col_expr(
            bareme_mel::store::entities::subscriber::Column::PasswordHash,
            Expr::value(Some(security::hash_password_blocking(p).unwrap())),
        );
    }
    update
        .filter(bareme_mel::store::entities::subscriber::Column::Id.eq(s.id))
        .exec(db.conn())
        .await
        .unwrap();
    s.id
}

/// What the tests' HTTP clients have in common with a browser: cookies kept,
/// and redirects not followed (the tests read where they lead).
pub(crate) fn browser() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
}

pub(crate) fn client() -> reqwest::Client {
    browser().build().unwrap()
}

/// Fetches `path` and returns the page and the CSRF token of its form.
pub(crate) async fn page(c: &reqwest::Client, app: &TestApp, path: &str) -> (u16, String, String) {
    let res = c.get(format!("{}{path}", app.base)).send().await.unwrap();
    let status = res.status().as_u16();
    let body = res.text().await.unwrap();
    let csrf = body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_string();
    (status, body, csrf)
}

pub(crate) async fn post(
    c: &reqwest::Client,
    app: &TestApp,
    path: &str,
    form: &[(&str, &str)],
) -> (u16, String) {
    let res = c
        .post(format!("{}{path}", app.base))
        .form(form)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

pub(crate) async fn mails_to(db: &Db, to: &str) -> Vec<outbox::Model> {
    outbox::Entity::find()
        .filter(outbox::Column::Recipient.eq(to))
        .order_by_asc(outbox::Column::Id)
        .all(db.conn())
        .await
        .unwrap()
}

pub(crate) fn link_token(mail: &outbox::Model) -> String {
    let text = &mail.body_text;
    let start = text
        .find("/reinitialisation/")
        .expect("reset link in the mail")
        + "/reinitialisation/".len();
    text[start..start + 32].to_string()
}

pub(crate) async fn forgot(c: &reqwest::Client, app: &TestApp, number: &str) -> (u16, String) {
    let (_, _, csrf) = page(c, app, "/mot-de-passe-oublie").await;
    post(
        c,
        app,
        "/mot-de-passe-oublie",
        &[("csrf", &csrf), ("numero", number)],
    )
    .await
}

#[tokio::test]
async fn the_sign_in_page_shows_the_procedure_texts() {
    let t = TestDb::sqlite().await;
    let app = spawn_app(Settings::default(), t.db.clone()).await;
    let (status, body, csrf) = page(&client(), &app, "/").await;
    assert_eq!(status, 200);
    for text in [
        "Espace Abonné Barème",
        "N° abonné",
        "Mot de passe",
        "Connexion",
        "Réinitialisation ou mot de passe oublié ?",
        "Réactiver mon compte",
        "Informations sur cette application",
        "Données personnelles",
    ] {
        assert!(body.contains(text), "missing « {text} »");
    }
    assert_eq!(csrf.len(), 32);
    assert!(!body.contains("<script"), "no script on public pages");
}

#[tokio::test]
async fn forgot_password_answers_the_same_for_known_unknown_and_disabled_numbers_and_mails_only_the_known()
 {
    let t = TestDb::sqlite().await;
    add_subscriber(&t.db, "20001", "gestion@lycee-joffre.fr", None, false).await;
    add_subscriber(&t.db, "20002", "ancien@lycee-joffre.fr", None, true).await;
    let app = spawn_app(Settings::default(), t.db.clone()).await;
    let c = client();
    let mut bodies = Vec::new();
    let mut known_times = Vec::new();
    let mut unknown_times = Vec::new();
    for round in 0..3 {
        for (number, times) in [("20001", &mut known_times), ("99999", &mut unknown_times)] {
            let start = Instant::now();
            let (status, body) = forgot(&c, &app, number).await;
            times.push(start.elapsed().as_secs_f64());
            assert_eq!(status, 200);
            assert!(body.contains(SENT), "round {round} {number}");
            bodies.push(body.replace(number, "N"));
        }
    }
    let (_, disabled) = forgot(&c, &app, "20002").await;
    assert!(disabled.contains(SENT));
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "answers differ between known and unknown numbers"
    );
    known_times.sort_by(f64::total_cmp);
    unknown_times.sort_by(f64::total_cmp);
    let ratio = known_times[1] / unknown_times[1];
    assert!(
        (0.8..1.25).contains(&ratio),
        "timing differs: known {known_times:?} unknown {unknown_times:?}"
    );
    let sent = mails_to(&t.db, "gestion@lycee-joffre.fr").await;
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[0].template, "self_service_reset_link");
    assert!(
        mails_to(&t.db, "ancien@lycee-joffre.fr").await.is_empty(),
        "a disabled account gets no reset link"
    );
}

#[tokio::test]
async fn links_are_built_from_the_public_url_never_from_the_host_header() {
    let t = TestDb::sqlite().await;
    add_subscriber(&t.db, "20003", "gestion@college-camus.fr", None, false).await;
    let mut settings = Settings::default();
    settings.server.public_url = "https://bareme.ac-montpellier.fr".into();
    let app = spawn_app(settings, t.db.clone()).await;
    let c = client();
    // Over plain HTTP the secure cookie would not come back: take the token from the page and send it by hand.
    let res = c
        .get(format!("{}/mot-de-passe-oublie", app.base))
        .send()
        .await
        .unwrap();
    let cookie = res.headers().get_all("set-cookie").iter().find_map(|v| {
        let v = v.to_str().ok()?;
        v.starts_with("__Host-bm_csrf=")
            .then(|| v.split(';').next().unwrap().to_string())
    });
    let cookie = cookie.expect("a __Host- CSRF cookie over https");
    let token = cookie.split('=').nth(1).unwrap().to_string();
    let res = c
        .post(format!("{}/mot-de-passe-oublie", app.base))
        .header("host", "evil.example")
        .header("cookie", &cookie)
        .form(&[("csrf", token.as_str()), ("numero", "20003")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mail = &mails_to(&t.db, "gestion@college-camus.fr").await[0];
    assert!(
        mail.body_text
            .contains("https://bareme.ac-montpellier.fr/reinitialisation/"),
        "{}",
        mail.body_text
    );
    assert!(!mail.body_text.contains("evil.example"));
}

#[tokio::test]
async fn cookies_carry_the_security_flags() {
    let t = TestDb::sqlite().await;
    let mut settings = Settings::default();
    settings.server.public_url = "https://bareme.ac-montpellier.fr".into();
    let app = spawn_app(settings, t.db.clone()).await;
    let res = client().get(format!("{}/", app.base)).send().await.unwrap();
    let set = res
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(set.starts_with("__Host-bm_csrf="), "{set}");
    for flag in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(flag), "{flag} missing: {set}");
    }
    assert!(!set.contains("Domain="), "{set}");
    let local = spawn_app(Settings::default(), t.db.clone()).await;
    let res = client()
        .get(format!("{}/", local.base))
        .send()
        .await
        .unwrap();
    let set = res
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        set.starts_with("bm_csrf=") && !set.contains("Secure"),
        "plain-HTTP local run: {set}"
    );
}

#[tokio::test]
async fn a_form_posted_without_its_csrf_token_or_from_another_site_is_refused() {
    let t = TestDb::sqlite().await;
    add_subscriber(&t.db, "20004", "gestion@ecole.fr", None, false).await;
    let app = spawn_app(Settings::default(), t.db.clone()).await;
    let c = client();
    let (_, _, csrf) = page(&c, &app, "/mot-de-passe-oublie").await;
    let (status, _) = post(&c, &app, "/mot-de-passe-oublie", &[("numero", "20004")]).await;
    assert_eq!(status, 403);
    let (status, _) = post(
        &c,
        &app,
        "/mot-de-passe-oublie",
        &[
            ("csrf", "0123456789abcdef0123456789abcdef"),
            ("numero", "20004"),
        ],
    )
    .await;
    assert_eq!(status, 403);
    let res = c
        .post(format!("{}/mot-de-passe-oublie", app.base))
        .header("origin", "https://attaquant.example")
        .form(&[("csrf", csrf.as_str()), ("numero", "20004")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(mails_to(&t.db, "gestion@ecole.fr").await.is_empty());
}

#[tokio::test]
async fn the_form_is_served_as_a_pdf_prefilled_only_with_a_valid_number() {
    let t = TestDb::sqlite().await;
    let app = spawn_app(Settings::default(), t.db.clone()).await;
    let res = reqwest::get(format!(
        "{}/formulaire/changement-adresse-mel.pdf?abonne=12345",
        app.base
    ))
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("changement-adresse-mel.pdf")
    );
    let pdf = res.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF"));
    match bareme_forms::read_pdf(&pdf) {
        bareme_forms::ReadOutcome::AcroForm(v) => assert_eq!(v.get("numero_abonne"), Some("12345")),
        other => panic!("{other:?}"),
    }
    let res = reqwest::get(format!(
        "{}/formulaire/changement-adresse-mel.pdf?abonne=%3Cscript%3E",
        app.base
    ))
    .await
    .unwrap();
    assert_eq!(res.status(), 400);
    let body = res.text().await.unwrap();
    assert!(body.contains("abonné invalide") && !body.contains("<script>"));
    let (status, body, _) = page(&client(), &app, "/aide").await;
    assert_eq!(status, 200);
    assert!(body.contains("Avez-vous accès à l'adresse mél enregistrée ?"));
    assert!(body.contains("bareme@ac-montpellier.fr") && body.contains("/mot-de-passe-oublie"));
}

#[tokio::test]
async fn the_personal_data_page_gives_controller_retention_and_rights_from_configuration() {
    let t = TestDb::sqlite().await;
    let mut settings = Settings::default();
    settings.retention.closed_request_days = 120;
    settings.privacy.contact = "rgpd@ac-montpellier.fr".into();
    let app = spawn_app(settings, t.db.clone()).await;
    let (status, body, _) = page(&client(), &app, "/donnees-personnelles").await;
    assert_eq!(status, 200);
    for text in [
        "Responsable du traitement",
        "Finalité",
        "Base légale",
        "Durées de conservation",
        "120 jours",
        "rgpd@ac-montpellier.fr",
    ] {
        assert!(body.contains(text), "missing « {text} »");
    }
}
