//! What people read, proofread: the ten defects of issue 14, each shown by a
//! test written before its fix (mails read in the outbox, pages fetched as a
//! manager or a staff member would).

use crate::gestion::{NEW_ADDRESS, VERIFY, office};
use crate::harness::{TestDb, spawn_app};
use crate::public::{add_subscriber, client, mails_to, page, post};
use bareme_mel::{
    config::Settings,
    security,
    store::{
        entities::inbound_message,
        requests::{self, Actor, NewRequest},
    },
    vocabulary,
};
use chrono::{Duration, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};

/// The Paris rendering of `now + ttl`, allowing for a minute turning during the test.
fn expiry_candidates(ttl: Duration) -> Vec<String> {
    let now = Utc::now() + ttl;
    (-2..=1)
        .map(|m| vocabulary::date_time(now + Duration::minutes(m)))
        .collect()
}

#[tokio::test]
async fn the_self_service_reset_mail_says_until_when_in_paris_time() {
    let t = TestDb::sqlite().await;
    add_subscriber(&t.db, "20101", "gestion@lycee-joffre.fr", None, false).await;
    let app = spawn_app(Settings::default(), t.db.clone()).await;
    crate::public::forgot(&client(), &app, "20101").await;
    let mail = &mails_to(&t.db, "gestion@lycee-joffre.fr").await[0];
    assert!(
        !mail.body_text.contains("jusqu'au 60 minutes"),
        "{}",
        mail.body_text
    );
    let expected = expiry_candidates(Duration::minutes(60));
    assert!(
        expected.iter().any(|e| mail
            .body_text
            .contains(&format!("valable 1 heure, jusqu'au {e}"))),
        "expected one of {expected:?} in:\n{}",
        mail.body_text
    );
}

#[tokio::test]
async fn the_approval_mail_gives_the_expiry_in_paris_time_without_brackets_in_brackets() {
    let t = TestDb::sqlite().await;
    let o = office(t.db.clone(), Settings::default()).await;
    let r = o.request().await;
    let agent = o.client("agent").await;
    assert_eq!(agent.act(&r, "verifier", &VERIFY).await.0, 303);
    let appro = o.client("appro").await;
    assert_eq!(appro.act(&r, "approuver", &[]).await.0, 303);
    let mail = o
        .mails(&r)
        .await
        .into_iter()
        .find(|m| m.recipient == NEW_ADDRESS)
        .expect("reset link to the new address");
    for part in [&mail.body_text, &mail.body_html] {
        assert!(!part.contains("UTC"), "{part}");
        assert!(!part.contains("))"), "brackets inside brackets: {part}");
    }
    let expected = expiry_candidates(Duration::hours(24));
    assert!(
        expected.iter().any(|e| mail
            .body_text
            .contains(&format!("valable 24 heures, jusqu'au {e}"))),
        "expected one of {expected:?} in:\n{}",
        mail.body_text
    );
}

pub(crate) async fn request_with(o: &crate::gestion::Office, new: NewRequest) -> String {
    requests::create(
        &o.db,
        NewRequest {
            claimed_number: Some("12345".into()),
            subscriber_id: Some(o.subscriber_id),
            requester_email: Some(NEW_ADDRESS.into()),
            new_email: Some(NEW_ADDRESS.into()),
            ..new
        },
        &Actor::System,
    )
    .await
    .unwrap()
    .reference
}

#[tokio::test]
async fn the_request_page_names_the_situation_intake_stores_in_the_forms_words() {
    let t = TestDb::sqlite().await;
    let o = office(t.db.clone(), Settings::default()).await;
    let agent = o.client("agent").await;
    for (code, words) in [
        ("nouveau_sur_le_poste", "Nouveau sur le poste"),
        (
            "mot_de_passe_oublie",
            "Toujours en poste, mot de passe oublié",
        ),
    ] {
        let r = request_with(
            &o,
            NewRequest {
                situation: Some(code.into()),
                ..Default::default()
            },
        )
        .await;
        let (_, html) = agent.page(&format!("/gestion/demandes/{r}")).await;
        assert!(
            html.contains(&format!("Situation déclarée : {words}.")),
            "{code}"
        );
        assert!(!html.contains(code), "the code {code} is shown");
    }
}

/// A request whose mail carries our MTA's verdicts.
pub(crate) async fn request_from_mail(
    o: &crate::gestion::Office,
    from: &str,
    auth_json: &str,
) -> String {
    let raw = format!("From: {from}\r\nSubject: Changement\r\n\r\nBonjour\r\n");
    let msg = inbound_message::Entity::insert(inbound_message::ActiveModel {
        received_at: Set(Utc::now()),
        source: Set("test".into()),
        content_hash: Set(security::sha256_hex(raw.as_bytes())),
        size: Set(raw.len() as i64),
        raw: Set(Some(raw.into_bytes())),
        from_address: Set(Some(from.into())),
        subject: Set(Some("Changement".into())),
        disposition: Set("request_created".into()),
        auth_results: Set(auth_json.into()),
        flags: Set("[]".into()),
        ..Default::default()
    })
    .exec_with_returning(o.db.conn())
    .await
    .unwrap();
    let reference = request_with(
        o,
        NewRequest {
            origin_message_id: Some(msg.id),
            ..Default::default()
        },
    )
    .await;
    let request_id = o.model(&reference).await.id;
    inbound_message::Entity::update_many()
        .col_expr(inbound_message::Column::RequestId, Expr::value(request_id))
        .filter(inbound_message::Column::Id.eq(msg.id))
        .exec(o.db.conn())
        .await
        .unwrap();
    reference
}

#[tokio::test]
async fn the_sender_authentication_panel_says_in_words_what_was_found() {
    let t = TestDb::sqlite().await;
    let o = office(t.db.clone(), Settings::default()).await;
    let agent = o.client("agent").await;
    let r = request_from_mail(
        &o,
        "intendance@lycee-jean-moulin.fr",
        r#"{"authserv_id":"mx.ac-montpellier.fr","spf":"pass","dkim":"pass","dmarc":"pass"}"#,
    )
    .await;
    let (_, html) = agent.page(&format!("/gestion/demandes/{r}")).await;
    assert!(
        !html.contains("AUTHSERV_ID"),
        "the authserv-id is shown as a verdict"
    );
    assert!(
        html.contains("Authentifié : DMARC pass, aligné sur lycee-jean-moulin.fr"),
        "{}",
        region(&html, "Authentification de l")
    );
    assert!(!html.contains("fr-badge--error"), "no red badge on a pass");
    let r = request_from_mail(
        &o,
        "pirate@exemple.org",
        r#"{"authserv_id":"mx.ac-montpellier.fr","spf":"fail","dmarc":"fail"}"#,
    )
    .await;
    let (_, html) = agent.page(&format!("/gestion/demandes/{r}")).await;
    assert!(
        html.contains("Non authentifié"),
        "{}",
        region(&html, "Authentification de l")
    );
}

/// 600 characters of `html` from `marker` (empty when absent).
fn region(html: &str, marker: &str) -> String {
    region_of(html, marker, 600)
}

fn region_of(html: &str, marker: &str, chars: usize) -> String {
    html.find(marker)
        .map(|at| html[at..].chars().take(chars).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_verification_shows_its_method_and_comment_once_each() {
    let t = TestDb::sqlite().await;
    let o = office(t.db.clone(), Settings::default()).await;
    let r = o.request().await;
    let agent = o.client("agent").await;
    let comment = "Identité vérifiée par téléphone auprès du secrétariat du proviseur (numéro de l'annuaire académique), la gestionnaire a confirmé.";
    let (status, _) = agent
        .act(
            &r,
            "verifier",
            &[
                ("methode", "Appel au secrétariat"),
                ("commentaire", comment),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let (_, html) = agent.page(&format!("/gestion/demandes/{r}")).await;
    let shown = region(&html, "Vérification d'identité");
    assert_eq!(
        shown.matches("Identité vérifiée par téléphone").count(),
        1,
        "{shown}"
    );
    assert!(shown.contains("Méthode : Appel au secrétariat"), "{shown}");
    assert!(shown.contains("Vérifiée par agent (test)"), "{shown}");
}

#[tokio::test]
async fn the_claimed_data_table_shows_the_forms_labels_and_no_internal_key() {
    let t = TestDb::sqlite().await;
    let o = office(t.db.clone(), Settings::default()).await;
    let agent = o.client("agent").await;
    let r = request_with(
        &o,
        NewRequest {
            fields: [
                ("_source", "acroform"),
                ("organisme", "Lycée polyvalent régional Jean-Moulin"),
                ("date", "26/11/2026"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            ..Default::default()
        },
    )
    .await;
    let (_, html) = agent.page(&format!("/gestion/demandes/{r}")).await;
    let table = region(&html, "Déclaré dans la demande");
    assert!(
        !table.contains("_source") && !table.contains("acroform"),
        "{table}"
    );
    assert!(table.contains(">Organisme abonné<"), "{table}");
    assert!(table.contains(">Date de signature<"), "{table}");
    // The correction form offers the same labels.
    assert!(html.contains(r#"<option value="organisme">Organisme abonné</option>"#));
}

#[tokio::test]
async fn the_reset_page_gives_the_length_hint_once() {
    let t = TestDb::sqlite().await;
    add_subscriber(&t.db, "20102", "gestion@lycee-joffre.fr", None, false).await;
    let app = spawn_app(Settings::default(), t.db.clone()).await;
    let c = client();
    crate::public::forgot(&c, &app, "20102").await;
    let secret = crate::public::link_token(&mails_to(&t.db, "gestion@lycee-joffre.fr").await[0]);
    let (_, html, _) = page(&c, &app, &format!("/reinitialisation/{secret}")).await;
    assert_eq!(
        html.matches("Le mot de passe doit faire au moins 8 caractères.")
            .count(),
        1
    );
}

#[tokio::test]
async fn step_one_of_the_procedure_sends_the_link_from_the_sign_in_page() {
    let t = TestDb::sqlite().await;
    add_subscriber(&t.db, "20103", "gestion@lycee-joffre.fr", None, false).await;
    let app = spawn_app(Settings::default(), t.db.clone()).await;
    let c = client();
    let (_, html, csrf) = page(&c, &app, "/").await;
    // « Renseigner le numéro d'abonné », « Cliquer sur réinitialisation ou mot
    // de passe oublié »: a second submit button of the sign-in form, without
    // JavaScript, and the password left empty.
    let at = html
        .find("formaction=\"/mot-de-passe-oublie\"")
        .expect("a second submit button");
    let button: String = html[html[..at].rfind('<').unwrap_or(at)..]
        .chars()
        .take(300)
        .collect();
    assert!(button.contains("formnovalidate"), "{button}");
    assert!(
        button.contains("Réinitialisation ou mot de passe oublié ?"),
        "{button}"
    );
    let (status, answer) = post(
        &c,
        &app,
        "/mot-de-passe-oublie",
        &[("csrf", &csrf), ("numero", "20103"), ("mot_de_passe", "")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        answer.contains("Si vos identifiants sont corrects, un mail vient de vous être envoyé")
    );
    assert_eq!(mails_to(&t.db, "gestion@lycee-joffre.fr").await.len(), 1);
}

#[tokio::test]
async fn the_signatory_has_the_forms_wording_in_mails_and_on_the_help_page() {
    let t = TestDb::sqlite().await;
    let app = spawn_app(Settings::default(), t.db.clone()).await;
    let (_, help, _) = page(&client(), &app, "/aide").await;
    let mut texts = vec![help];
    for kind in bareme_mel::mail::MailKind::ALL {
        let r = bareme_mel::mail::render::render(
            &crate::outbox::mail_of(kind, &crate::outbox::full_context()),
            &Settings::default(),
        )
        .unwrap();
        texts.push(r.text);
        texts.push(r.html);
    }
    for text in &texts {
        for other in ["de la structure", "chef de votre organisme"] {
            assert!(!text.contains(other), "« {other} » in:\n{text}");
        }
    }
    let signed = texts
        .iter()
        .filter(|t| t.contains(vocabulary::SIGNATORY))
        .count();
    assert!(
        signed >= 3,
        "help page, acknowledgement and change notice name the signatory"
    );
}

#[tokio::test]
async fn staff_read_french_words_and_names_not_codes() {
    let t = TestDb::sqlite().await;
    let o = office(t.db.clone(), Settings::default()).await;
    let r = o.request().await;
    let appro = o.client("appro").await;
    let (_, refused) = appro.act(&r, "approuver", &[]).await;
    assert!(
        !refused.contains("« approve »"),
        "{}",
        region(&refused, "Action impossible")
    );
    assert!(
        refused.contains("« Approuver »"),
        "{}",
        region(&refused, "fr-alert")
    );
    assert_eq!(appro.act(&r, "prendre-en-charge", &[]).await.0, 303);
    assert_eq!(appro.act(&r, "verifier", &VERIFY).await.0, 303);
    let (_, html) = appro.page(&format!("/gestion/demandes/{r}")).await;
    let timeline = region_of(&html, "Historique de la demande", 4000);
    for code in ["request_created", "claimed", "verify", "staff:", "system"] {
        assert!(
            !timeline.contains(code),
            "« {code} » in the timeline: {timeline}"
        );
    }
    for words in [
        "Demande enregistrée",
        "Prise en charge",
        "Identité vérifiée",
        "appro (test)",
    ] {
        assert!(timeline.contains(words), "« {words} » missing: {timeline}");
    }
}

#[tokio::test]
async fn a_sign_in_error_is_tied_to_its_fields_and_named_in_the_title() {
    let t = TestDb::sqlite().await;
    let app = spawn_app(Settings::default(), t.db.clone()).await;
    let c = client();
    let (_, _, csrf) = page(&c, &app, "/").await;
    let (_, html) = post(
        &c,
        &app,
        "/connexion",
        &[
            ("csrf", &csrf),
            ("numero", "34012"),
            ("mot_de_passe", "faux"),
        ],
    )
    .await;
    assert!(
        html.contains("<title>Erreur — Connexion"),
        "{}",
        region(&html, "<title>")
    );
    assert!(html.contains(r#"id="connexion-erreur""#));
    assert_eq!(
        html.matches(r#"aria-describedby="connexion-erreur""#)
            .count(),
        2
    );
}
