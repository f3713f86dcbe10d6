//! Errors tied to their fields on the back-office forms (issue 14, RGAA
//! 11.10–11.11): the message has an id, the field it is about points to it
//! with `aria-describedby` and says `aria-invalid="true"`, and no other
//! field does. The public `/compte` is in `accounts`.

use crate::gestion::{Client, PASSWORD, input_value, office};
use crate::gestion_totp::{code, send_code, totp_form, turn_on};
use crate::harness::{TestDb, spawn_app};
use bareme_mel::config::Settings;

/// The ids of the `<input>`s that point to `error_id`, each with whether it
/// says `aria-invalid="true"`; panics unless the page has an element with
/// that id holding `words`.
fn tied_fields(html: &str, error_id: &str, words: &str) -> Vec<(String, bool)> {
    let id_attr = format!("id=\"{error_id}\"");
    let at = html
        .find(&id_attr)
        .unwrap_or_else(|| panic!("no element with id « {error_id} »:\n{html}"));
    let end = html[at..].find("</div>").map_or(html.len(), |e| at + e);
    assert!(
        html[at..end].contains(words),
        "« {words} » is not in #{error_id}:\n{html}"
    );
    let input = regex::Regex::new(r"<input[^>]*>").unwrap();
    let id = regex::Regex::new(r#"\bid="([^"]*)""#).unwrap();
    input
        .find_iter(html)
        .map(|m| m.as_str())
        .filter(|tag| tag.contains(&format!("aria-describedby=\"{error_id}\"")))
        .map(|tag| {
            (
                id.captures(tag)
                    .map(|c| c[1].to_string())
                    .unwrap_or_default(),
                tag.contains("aria-invalid=\"true\""),
            )
        })
        .collect()
}

fn tied(field: &str) -> Vec<(String, bool)> {
    vec![(field.to_string(), true)]
}

#[tokio::test]
async fn a_wrong_code_at_staff_sign_in_is_tied_to_the_code_field() {
    let t = TestDb::sqlite().await;
    let o = office(t.db.clone(), Settings::default()).await;
    let agent = o.client("agent").await;
    let (secret, csrf) = totp_form(&agent).await;
    let on = turn_on(&agent, &csrf, &secret, &code(&secret, 0)).await;
    assert_eq!(on.status(), 303);

    let c = Client::new(&o.app.base);
    assert_eq!(c.sign_in("agent", PASSWORD).await.status(), 303);
    let res = send_code(&c, &code(&secret, -600)).await;
    assert_eq!(res.status(), 401);
    let html = res.text().await.unwrap();
    assert_eq!(
        tied_fields(&html, "code-erreur", "Code incorrect"),
        tied("code")
    );
}

#[tokio::test]
async fn a_wrong_code_at_mon_compte_is_tied_to_the_code_field_of_its_form() {
    let t = TestDb::sqlite().await;
    let o = office(t.db.clone(), Settings::default()).await;
    let appro = o.client("appro").await;
    let (secret, csrf) = totp_form(&appro).await;
    let wrong_on = turn_on(&appro, &csrf, &secret, &code(&secret, -600)).await;
    assert_eq!(wrong_on.status(), 400);
    let html = wrong_on.text().await.unwrap();
    assert_eq!(
        tied_fields(&html, "compte-erreur", "Code"),
        tied("code-on"),
        "turning on"
    );
    let on = turn_on(&appro, &csrf, &secret, &code(&secret, 0)).await;
    assert_eq!(on.status(), 303);
    let wrong_off = appro
        .post(
            "/gestion/compte/totp/desactiver",
            &[("csrf", &csrf), ("code", &code(&secret, -600))],
        )
        .await;
    assert_eq!(wrong_off.status(), 400);
    let html = wrong_off.text().await.unwrap();
    assert_eq!(
        tied_fields(
            &html,
            "compte-erreur",
            "la double authentification reste activée"
        ),
        tied("code-off"),
        "turning off"
    );
}

#[tokio::test]
async fn each_error_of_the_first_administrator_page_is_tied_to_its_field() {
    let t = TestDb::sqlite().await;
    let app = spawn_app(Settings::default(), t.db.clone()).await;
    let link = bareme_mel::backoffice::accounts::first_admin_link(&t.db, &app.state.settings)
        .await
        .unwrap()
        .unwrap();
    let path = link[link.find("/gestion/").unwrap()..].to_string();
    let c = Client::new(&app.base);
    for (username, name, password, repeat, field, words) in [
        (
            "Chef Admin",
            "Sébastien Fabre",
            "cheval agrafe pile",
            "cheval agrafe pile",
            "identifiant",
            "Identifiant « chef admin » invalide",
        ),
        (
            "sfabre",
            " ",
            "cheval agrafe pile",
            "cheval agrafe pile",
            "nom",
            "Indiquez votre nom.",
        ),
        (
            "sfabre",
            "Sébastien Fabre",
            "court",
            "court",
            "mot_de_passe",
            "8 caractères",
        ),
        (
            "sfabre",
            "Sébastien Fabre",
            "cheval agrafe pile",
            "cheval agrafe pilé",
            "confirmation",
            "Les deux mots de passe diffèrent.",
        ),
    ] {
        let (status, page) = c.page(&path).await;
        assert_eq!(status, 200, "the link is still valid");
        let csrf = input_value(&page, "csrf").unwrap();
        let res = c
            .post(
                &path,
                &[
                    ("csrf", &csrf),
                    ("identifiant", username),
                    ("nom", name),
                    ("mot_de_passe", password),
                    ("confirmation", repeat),
                ],
            )
            .await;
        assert_eq!(res.status(), 400, "{field}");
        let html = res.text().await.unwrap();
        assert_eq!(
            tied_fields(&html, "premier-compte-erreur", words),
            tied(field),
            "{field}"
        );
        assert!(
            html.contains(&format!("value=\"{}\"", name.trim()))
                && html.contains(&format!("value=\"{username}\"")),
            "what was typed stays, but the passwords: {html}"
        );
        assert!(!html.contains(&format!("value=\"{password}\"")));
    }
}

#[tokio::test]
async fn a_wrong_subject_at_droit_d_acces_is_tied_to_its_field() {
    let t = TestDb::sqlite().await;
    let o = office(t.db.clone(), Settings::default()).await;
    let admin = o.client("admin").await;
    let (_, page) = admin.page("/gestion/droit-acces").await;
    let csrf = input_value(&page, "csrf").unwrap();
    let res = admin
        .post(
            "/gestion/droit-acces",
            &[("csrf", &csrf), ("personne", "gestion@@lycee")],
        )
        .await;
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("value=\"gestion@@lycee\""),
        "what was typed stays"
    );
    let message = html
        .split("id=\"personne-erreur\"><p>")
        .nth(1)
        .and_then(|rest| rest.split("</p>").next())
        .unwrap_or("adresse");
    assert_eq!(
        tied_fields(&html, "personne-erreur", message),
        tied("personne")
    );
}

#[tokio::test]
async fn a_refused_sign_in_marks_both_fields_of_the_pair_invalid() {
    let t = TestDb::sqlite().await;
    crate::public::add_subscriber(
        &t.db,
        "10011",
        "gestion@college.fr",
        Some("le bon mot de passe"),
        false,
    )
    .await;
    let o = office(t.db.clone(), Settings::default()).await;
    // Staff: which of the two was wrong is not said, so both are invalid.
    let res = Client::new(&o.app.base)
        .sign_in("agent", "pas le bon mot de passe")
        .await;
    assert_eq!(res.status(), 401);
    let html = res.text().await.unwrap();
    assert_eq!(
        tied_fields(
            &html,
            "connexion-erreur",
            "Identifiant ou mot de passe incorrect"
        ),
        [
            ("identifiant".to_string(), true),
            ("mot_de_passe".to_string(), true)
        ]
    );
    // The Espace Abonné's sign-in.
    let c = crate::public::client();
    let (_, _, csrf) = crate::public::page(&c, &o.app, "/").await;
    let (status, html) = crate::public::post(
        &c,
        &o.app,
        "/connexion",
        &[
            ("csrf", &csrf),
            ("numero", "10011"),
            ("mot_de_passe", "pas le bon mot de passe"),
        ],
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(
        tied_fields(
            &html,
            "connexion-erreur",
            "N° abonné ou mot de passe incorrect."
        ),
        [
            ("numero".to_string(), true),
            ("mot_de_passe".to_string(), true)
        ]
    );
}

#[tokio::test]
async fn each_error_of_the_reset_page_is_tied_to_its_field_and_marks_it_invalid() {
    let t = TestDb::sqlite().await;
    crate::public::add_subscriber(&t.db, "10012", "gestion@college.fr", None, false).await;
    let app = spawn_app(Settings::default(), t.db.clone()).await;
    let c = crate::public::client();
    crate::public::forgot(&c, &app, "10012").await;
    let mail = &crate::public::mails_to(&t.db, "gestion@college.fr").await[0];
    let path = format!("/reinitialisation/{}", crate::public::link_token(mail));
    for (password, repeat, field) in [
        ("court", "court", "mot_de_passe"),
        ("trois chats gris", "trois chats bleus", "repetition"),
    ] {
        let (_, _, csrf) = crate::public::page(&c, &app, &path).await;
        let (status, html) = crate::public::post(
            &c,
            &app,
            &path,
            &[
                ("csrf", &csrf),
                ("mot_de_passe", password),
                ("repetition", repeat),
            ],
        )
        .await;
        assert_eq!(status, 400, "{field}: {html}");
        let error_id = format!("{field}-erreur");
        let message = html
            .split(&format!("id=\"{error_id}\">"))
            .nth(1)
            .and_then(|rest| rest.split('<').next())
            .unwrap_or_else(|| panic!("no #{error_id}:\n{html}"))
            .to_string();
        assert!(!message.is_empty());
        let tied_to = tied_fields(&html, &error_id, &message);
        assert_eq!(tied_to, tied(field), "{field}");
    }
}

/// « Ajouter un compte » on « Comptes agents »: each refusal comes back on
/// the same page (not on a separate error page), tied to its field, with
/// the identifier, the name and the role kept (never the password).
#[tokio::test]
async fn each_error_of_the_add_account_form_is_tied_to_its_field() {
    let t = TestDb::sqlite().await;
    let o = office(t.db.clone(), Settings::default()).await;
    let admin = o.client("admin").await;
    let (_, page) = admin.page("/gestion/agents").await;
    let csrf = input_value(&page, "csrf").unwrap();
    let cases = [
        (
            "Jean Dupont",
            "Jean Dupont",
            "une phrase de passe longue",
            "identifiant",
            "Identifiant « jean dupont » invalide",
        ),
        (
            "agent",
            "Agent Bis",
            "une phrase de passe longue",
            "identifiant",
            "Le compte « agent » existe déjà",
        ),
        (
            "jean.dupont",
            "   ",
            "une phrase de passe longue",
            "nom",
            "Indiquez le nom de la personne.",
        ),
        (
            "jean.dupont",
            "Jean Dupont",
            "court",
            "mot_de_passe",
            "au moins 8 caractères",
        ),
    ];
    for (username, name, password, field, words) in cases {
        let res = admin
            .post(
                "/gestion/agents",
                &[
                    ("csrf", csrf.as_str()),
                    ("identifiant", username),
                    ("nom", name),
                    ("role", "approbateur"),
                    ("mot_de_passe", password),
                ],
            )
            .await;
        assert_eq!(res.status(), 400, "{username}/{name}/{password}");
        let html = res.text().await.unwrap();
        assert!(html.contains("<h1>Comptes agents</h1>"), "{html}");
        assert_eq!(
            tied_fields(&html, "ajout-agent-erreur", words),
            tied(field),
            "{words}"
        );
        assert_eq!(
            input_value(&html, "identifiant").as_deref(),
            Some(username.trim())
        );
        if field != "nom" {
            assert_eq!(input_value(&html, "nom").as_deref(), Some(name.trim()));
        }
        assert!(
            html.contains(r#"<option value="approbateur" selected>"#),
            "the role chosen is kept:\n{html}"
        );
        assert!(
            !html.contains(&format!("value=\"{password}\"")),
            "the password is never shown again"
        );
    }
    // Nothing was created by the refusals.
    assert!(
        bareme_mel::store::staff::find(&o.db, "jean.dupont")
            .await
            .unwrap()
            .is_none()
    );
}

/// The form controls (`input`, `textarea`, `select`) that point to
/// `error_id`, each with whether it says `aria-invalid="true"`.
fn tied_controls(html: &str, error_id: &str) -> Vec<(String, bool)> {
    let control = regex::Regex::new(r"<(?:input|textarea|select)[^>]*>").unwrap();
    let id = regex::Regex::new(r#"\bid="([^"]*)""#).unwrap();
    control
        .find_iter(html)
        .map(|m| m.as_str())
        .filter(|tag| tag.contains(&format!("aria-describedby=\"{error_id}\"")))
        .map(|tag| {
            let id = id.captures(tag).map(|c| c[1].to_string());
            (
                id.unwrap_or_default(),
                tag.contains("aria-invalid=\"true\""),
            )
        })
        .collect()
}

/// A decision refused on the request page for what was typed comes back on
/// the request page itself (not on a separate error page): the message is
/// in the decision's form, tied to its field, and what was typed is kept.
#[tokio::test]
async fn a_decision_refused_for_what_was_typed_comes_back_at_its_form_tied_to_its_field() {
    let t = TestDb::sqlite().await;
    let o = office(t.db.clone(), Settings::default()).await;
    let reference = o.request().await;
    let agent = o.client("agent").await;
    // (action, fields typed, field in error, words of the message, what is kept)
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str, &'a str, &'a str);
    let cases: [Case; 5] = [
        (
            "rejeter",
            &[("motif", ""), ("message", "Le formulaire est incomplet.")],
            "motif",
            "Choisissez un motif de rejet.",
            ">Le formulaire est incomplet.</textarea>",
        ),
        (
            "rejeter",
            &[("motif", "signature_absente"), ("message", "  ")],
            "message-rejet",
            "Le message",
            r#"<option value="signature_absente" selected>"#,
        ),
        (
            "verifier",
            &[("methode", ""), ("commentaire", "Vu avec le secrétariat.")],
            "methode",
            "La méthode de vérification est obligatoire.",
            ">Vu avec le secrétariat.</textarea>",
        ),
        (
            "champ",
            &[
                ("champ", "nouvelle_adresse_mel"),
                ("valeur", "pas une adresse"),
            ],
            "valeur",
            "",
            r#"name="valeur" value="pas une adresse""#,
        ),
        ("note", &[("commentaire", " ")], "note", "obligatoire", ""),
    ];
    for (action, fields, field, words, kept) in cases {
        let (status, html) = agent.act(&reference, action, fields).await;
        assert_eq!(status, 400, "{action} {fields:?}");
        assert!(
            html.contains(&format!("<h1>Demande {reference}")),
            "the request page itself:\n{html}"
        );
        assert_eq!(
            tied_controls(&html, "erreur-decision"),
            tied(field),
            "{action} {fields:?}"
        );
        assert_eq!(html.matches("id=\"erreur-decision\"").count(), 1);
        let alert = &html[html.find("id=\"erreur-decision\"").unwrap()..];
        let alert = &alert[..alert.find("</div>").unwrap()];
        assert!(alert.contains(words), "« {words} » in {alert}");
        assert!(html.contains(kept), "{kept} kept:\n{html}");
        // The alert sits in the refused decision's own form.
        let form = &html[..html.find("id=\"erreur-decision\"").unwrap()];
        let form = &form[form.rfind("<form").unwrap()..];
        assert!(form.contains(&format!("/{action}\"")), "{action}: {form}");
    }
    assert_eq!(o.state_of(&reference).await, "pending_review");
}
