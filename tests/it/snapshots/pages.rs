//! The main region of every public and back-office page in its usual
//! states (empty, filled, error, success), as a manager or staff reads it.

use super::main_region;
use crate::gestion::{Client, VERIFY, input_value, office};
use crate::gestion_totp::{totp_form, turn_on};
use crate::harness::TestDb;
use crate::proofreading::{request_from_mail, request_with};
use crate::public::{add_subscriber, client, mails_to, page, post};
use bareme_mel::{config::Settings, store::requests::NewRequest};
use std::collections::BTreeMap;

/// Every page snapshot taken, by name: titles must differ.
struct Shots(BTreeMap<String, (String, String)>);

impl Shots {
    fn take(&mut self, name: &str, path: &str, html: &str) {
        let text = main_region(html);
        insta::assert_snapshot!(name.to_string(), text);
        let title = text.lines().next().unwrap_or_default().to_string();
        self.0.insert(name.into(), (path.into(), title));
    }

    /// Pages that are different places have different titles.
    fn titles_are_unique(&self) {
        let mut seen: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
        for (name, (path, title)) in &self.0 {
            if let Some((other, other_path)) = seen.insert(title, (name, path))
                && other_path != path
            {
                panic!("« {title} » is the title of {other} and {name}");
            }
        }
    }
}

#[tokio::test]
async fn public_pages_in_their_usual_states() {
    let t = TestDb::sqlite().await;
    add_subscriber(
        &t.db,
        "34012",
        "intendance@lycee-jean-moulin.fr",
        Some("un mot de passe long"),
        false,
    )
    .await;
    let app = crate::harness::spawn_app(Settings::default(), t.db.clone()).await;
    let mut shots = Shots(BTreeMap::new());
    let c = client();
    let (_, html, csrf) = page(&c, &app, "/").await;
    shots.take("public_connexion", "/", &html);
    let (_, html) = post(
        &c,
        &app,
        "/connexion",
        &[
            ("csrf", &csrf),
            ("numero", "34012"),
            ("mot_de_passe", "pas le bon"),
        ],
    )
    .await;
    shots.take("public_connexion_erreur", "/", &html);
    for (name, path) in [
        ("public_mot_de_passe_oublie", "/mot-de-passe-oublie"),
        ("public_reactivation", "/reactivation"),
        ("public_aide", "/aide"),
        ("public_informations", "/informations"),
        ("public_donnees_personnelles", "/donnees-personnelles"),
    ] {
        let (_, html, _) = page(&c, &app, path).await;
        shots.take(name, path, &html);
    }
    let (_, html) = crate::public::forgot(&c, &app, "34012").await;
    shots.take(
        "public_mot_de_passe_oublie_envoye",
        "/mot-de-passe-oublie",
        &html,
    );
    let secret =
        crate::public::link_token(&mails_to(&t.db, "intendance@lycee-jean-moulin.fr").await[0]);
    let path = format!("/reinitialisation/{secret}");
    let (_, html, csrf) = page(&c, &app, &path).await;
    shots.take("public_reinitialisation", &path, &html);
    let (_, html) = post(
        &c,
        &app,
        &path,
        &[
            ("csrf", &csrf),
            ("mot_de_passe", "court"),
            ("repetition", "autre"),
        ],
    )
    .await;
    shots.take("public_reinitialisation_erreur", &path, &html);
    let (_, html) = post(
        &c,
        &app,
        &path,
        &[
            ("csrf", &csrf),
            ("mot_de_passe", "une phrase de passe solide"),
            ("repetition", "une phrase de passe solide"),
        ],
    )
    .await;
    shots.take("public_reinitialisation_reussie", &path, &html);
    let (_, html, _) = page(&c, &app, &path).await;
    shots.take("public_reinitialisation_lien_use", &path, &html);
    let (_, _, csrf) = page(&c, &app, "/").await;
    post(
        &c,
        &app,
        "/connexion",
        &[
            ("csrf", &csrf),
            ("numero", "34012"),
            ("mot_de_passe", "une phrase de passe solide"),
        ],
    )
    .await;
    let (_, html, _) = page(&c, &app, "/compte").await;
    shots.take("public_compte", "/compte", &html);
    shots.titles_are_unique();
}

#[tokio::test]
async fn back_office_pages_in_their_usual_states() {
    let t = TestDb::sqlite().await;
    let o = office(t.db.clone(), Settings::default()).await;
    let mut shots = Shots(BTreeMap::new());
    let anonymous = Client::new(&o.app.base);
    let (_, html) = anonymous.page("/gestion/connexion").await;
    shots.take("gestion_connexion", "/gestion/connexion", &html);
    let res = anonymous.sign_in("agent", "pas le bon mot de passe").await;
    shots.take(
        "gestion_connexion_erreur",
        "/gestion/connexion",
        &res.text().await.unwrap(),
    );
    let agent = o.client("agent").await;
    let admin = o.client("admin").await;
    let (_, html) = agent.page("/gestion").await;
    shots.take("gestion_file_vide", "/gestion", &html);
    let (_, html) = agent.page("/gestion/quarantaine").await;
    shots.take("gestion_quarantaine_vide", "/gestion/quarantaine", &html);
    let (_, html) = agent.page("/gestion/autres-courriels").await;
    shots.take(
        "gestion_autres_courriels_vide",
        "/gestion/autres-courriels",
        &html,
    );

    let fields: BTreeMap<String, String> = [
        ("numero_abonne", "12345"),
        (
            "organisme",
            "Lycée polyvalent régional Jean-Moulin — Section d'enseignement professionnel",
        ),
        ("situation_nouveau", "Oui"),
        ("nom", "Fabre"),
        ("prenom", "Hélène"),
        ("fonction", "Secrétaire d'intendance"),
        ("telephone", "04 67 00 00 00"),
        (
            "nouvelle_adresse_mel",
            "nouvelle.gestionnaire@lycee-joffre.fr",
        ),
        ("signataire_nom", "Jean-Étienne Roussel"),
        ("signataire_qualite", "Proviseur"),
        ("fait_a", "Béziers"),
        ("date", "24/11/2026"),
        ("_source", "acroform"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let r = request_from_mail(
        &o,
        "intendance@lycee-joffre.fr",
        r#"{"authserv_id":"mx.ac-montpellier.fr","spf":"pass","dkim":"pass","dmarc":"pass"}"#,
    )
    .await;
    let filled = request_with(
        &o,
        NewRequest {
            fields: fields.clone(),
            situation: Some("nouveau_sur_le_poste".into()),
            flags: vec!["saisie_manuelle".into(), "expediteur_different".into()],
            ..Default::default()
        },
    )
    .await;
    let (_, html) = agent.page("/gestion").await;
    shots.take("gestion_file", "/gestion", &html);
    let (_, html) = agent.page(&format!("/gestion/demandes/{filled}")).await;
    shots.take("gestion_demande_champs_lus", "/gestion/demandes/…", &html);
    let url = format!("/gestion/demandes/{r}");
    let (_, html) = agent.page(&url).await;
    shots.take("gestion_demande_a_instruire", &url, &html);
    let (_, html) = agent.act(&r, "approuver", &[]).await;
    shots.take("gestion_demande_refus", &url, &html);
    agent.act(&r, "prendre-en-charge", &[]).await;
    agent.act(&r, "verifier", &VERIFY).await;
    let (_, html) = agent.page(&url).await;
    shots.take("gestion_demande_verifiee", &url, &html);
    let appro = o.client("appro").await;
    appro.act(&r, "approuver", &[]).await;
    let (_, html) = appro.page(&url).await;
    shots.take("gestion_demande_approuvee", &url, &html);

    let (id, _) = crate::gestion_pages::store_hostile_mail(&o.db, None).await;
    let (_, html) = agent.page("/gestion/quarantaine").await;
    shots.take("gestion_quarantaine", "/gestion/quarantaine", &html);
    let path = format!("/gestion/quarantaine/{id}");
    let (_, html) = agent.page(&path).await;
    shots.take("gestion_quarantaine_courriel", &path, &html);
    let other = crate::gestion_other_mail::other_mail(
        &o,
        "Intendance du collège Frédéric-Bazille <intendance@college-bazille.fr>",
        "Facture de l'abonnement 2026",
        "Bonjour,\r\nPourriez-vous nous envoyer la facture de notre abonnement 2026 ?\r\nCordialement,\r\nL'intendance",
    )
    .await;
    let (_, html) = agent.page("/gestion/autres-courriels").await;
    shots.take(
        "gestion_autres_courriels",
        "/gestion/autres-courriels",
        &html,
    );
    let path = format!("/gestion/autres-courriels/{other}");
    let (_, html) = agent.page(&path).await;
    shots.take("gestion_autres_courriels_courriel", &path, &html);
    for (name, path) in [
        ("gestion_abonnes", "/gestion/abonnes?q=joffre"),
        ("gestion_abonne", "/gestion/abonnes/12345"),
        ("gestion_compte", "/gestion/compte"),
    ] {
        let (_, html) = agent.page(path).await;
        shots.take(name, path, &html);
    }
    for (name, path) in [
        ("gestion_agents", "/gestion/agents"),
        ("gestion_journal", "/gestion/journal"),
        ("gestion_droit_acces", "/gestion/droit-acces"),
    ] {
        let (_, html) = admin.page(path).await;
        shots.take(name, path, &html);
    }
    shots.titles_are_unique();
}

#[tokio::test]
async fn staff_forms_and_their_errors() {
    let t = TestDb::sqlite().await;
    let app = crate::harness::spawn_app(Settings::default(), t.db.clone()).await;
    let mut shots = Shots(BTreeMap::new());
    // The first administrator's page, before any staff account exists.
    let link = bareme_mel::backoffice::accounts::first_admin_link(&t.db, &app.state.settings)
        .await
        .unwrap()
        .unwrap();
    let path = link[link.find("/gestion/").unwrap()..].to_string();
    let anonymous = Client::new(&app.base);
    let (_, html) = anonymous.page(&path).await;
    shots.take("gestion_premier_compte", &path, &html);
    let csrf = input_value(&html, "csrf").unwrap();
    let res = anonymous
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("identifiant", "sfabre"),
                ("nom", "Sébastien Fabre"),
                ("mot_de_passe", "cheval agrafe pile"),
                ("confirmation", "cheval agrafe pilé"),
            ],
        )
        .await;
    shots.take(
        "gestion_premier_compte_erreur",
        &path,
        &res.text().await.unwrap(),
    );

    let o = office(t.db.clone(), Settings::default()).await;
    let agent = o.client("agent").await;
    let (secret, csrf) = totp_form(&agent).await;
    let wrong = crate::gestion_totp::code(&secret, -600);
    let res = turn_on(&agent, &csrf, &secret, &wrong).await;
    shots.take(
        "gestion_compte_erreur",
        "/gestion/compte",
        &res.text().await.unwrap(),
    );
    let right = crate::gestion_totp::code(&secret, 0);
    turn_on(&agent, &csrf, &secret, &right).await;
    let two_steps = Client::new(&o.app.base);
    two_steps.sign_in("agent", crate::gestion::PASSWORD).await;
    let (_, html) = two_steps.page("/gestion/connexion/code").await;
    shots.take("gestion_code_connexion", "/gestion/connexion/code", &html);
    let res = crate::gestion_totp::send_code(&two_steps, &wrong).await;
    shots.take(
        "gestion_code_connexion_erreur",
        "/gestion/connexion/code",
        &res.text().await.unwrap(),
    );

    let admin = o.client("admin").await;
    let (_, html) = admin.page("/gestion/droit-acces").await;
    let csrf = input_value(&html, "csrf").unwrap();
    let res = admin
        .post(
            "/gestion/droit-acces",
            &[("csrf", &csrf), ("personne", "gestion@@lycee-joffre.fr")],
        )
        .await;
    shots.take(
        "gestion_droit_acces_erreur",
        "/gestion/droit-acces",
        &res.text().await.unwrap(),
    );
    let (_, html) = admin.page("/gestion/agents").await;
    let csrf = input_value(&html, "csrf").unwrap();
    let res = admin
        .post(
            "/gestion/agents",
            &[
                ("csrf", &csrf),
                ("identifiant", "agent"),
                ("nom", "Agnès Roux-Delmas"),
                ("role", "approbateur"),
                ("mot_de_passe", "une phrase de passe longue"),
            ],
        )
        .await;
    shots.take(
        "gestion_agents_erreur",
        "/gestion/agents",
        &res.text().await.unwrap(),
    );
    shots.titles_are_unique();
}

#[tokio::test]
async fn a_verified_request_waiting_for_its_objection_window() {
    let t = TestDb::sqlite().await;
    let mut settings = Settings::default();
    settings.approval.objection_window_hours = 48;
    let o = office(t.db.clone(), settings).await;
    let mut shots = Shots(BTreeMap::new());
    // Keyed in without a subscriber; setting it alerts the registered address.
    let r = bareme_mel::store::requests::create(
        &o.db,
        NewRequest {
            requester_email: Some("nouvelle.gestionnaire@lycee-joffre.fr".into()),
            new_email: Some("nouvelle.gestionnaire@lycee-joffre.fr".into()),
            ..Default::default()
        },
        &bareme_mel::store::requests::Actor::System,
    )
    .await
    .unwrap()
    .reference;
    let agent = o.client("agent").await;
    agent
        .act(
            &r,
            "champ",
            &[("champ", "numero_abonne"), ("valeur", "12345")],
        )
        .await;
    agent.act(&r, "verifier", &VERIFY).await;
    let appro = o.client("appro").await;
    let url = format!("/gestion/demandes/{r}");
    let (_, html) = appro.page(&url).await;
    shots.take("gestion_demande_delai_opposition", &url, &html);
}
