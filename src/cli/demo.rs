//! The demonstration data set of `serve --demo`: a few subscribers, two
//! staff accounts (an agent and an approbateur, fresh passwords printed at
//! each start), requests in every state and one quarantined mail, so that a
//! newcomer meets a living back-office. Loading twice adds no duplicates.

use crate::{
    backoffice::{approval, decisions},
    config::Settings,
    domain::{Action, MailAddress, Role, SubscriberNumber},
    security,
    store::{
        Db, StoreError,
        entities::change_request,
        inbox::{self, Quarantined},
        request_views,
        requests::{self, Actor, Check, CheckOutcome, NewRequest, TransitionInput},
        staff, subscribers,
    },
};

/// The demo accounts: (username, password).
pub struct DemoAccounts {
    pub agent: (String, String),
    pub approver: (String, String),
}

const SUBSCRIBERS: [(&str, &str, &str, &str); 8] = [
    (
        "10001",
        "Lycée Joffre",
        "Mme Durand",
        "gestion@lycee-joffre.fr",
    ),
    (
        "10002",
        "Collège Clemenceau",
        "M. Martin",
        "intendance@college-clemenceau.fr",
    ),
    ("10003", "Mairie de Sète", "Mme Petit", "rh@mairie-sete.fr"),
    (
        "10004",
        "Lycée Mermoz",
        "M. Bernard",
        "secretariat@lycee-mermoz.fr",
    ),
    (
        "10005",
        "Communauté d'agglomération de Nîmes",
        "Mme Robert",
        "paie@nimes-agglo.fr",
    ),
    (
        "10006",
        "Collège Las Cases",
        "M. Richard",
        "gestion@college-lascases.fr",
    ),
    (
        "10007",
        "Lycée Jean Moulin",
        "Mme Simon",
        "intendance@lycee-jeanmoulin.fr",
    ),
    (
        "10008",
        "Lycée Champollion",
        "M. Laurent",
        "gestion@lycee-champollion.fr",
    ),
];

fn password() -> Result<String, StoreError> {
    security::new_token()
        .map(|t| format!("demo-{}", &t.secret[..12]))
        .map_err(|e| StoreError::Invalid(e.to_string()))
}

async fn account(
    db: &Db,
    username: &str,
    name: &str,
    role: Role,
) -> Result<(i64, String), StoreError> {
    let pw = password()?;
    let hash = security::hash_password(pw.clone())
        .await
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    if let Some(m) = staff::find(db, username).await? {
        staff::set_password(db, username, hash, "demo").await?;
        return Ok((m.id, pw));
    }
    Ok((
        staff::add(db, username, name, role, hash, "demo").await?.id,
        pw,
    ))
}

fn checks(matching: bool) -> Vec<Check> {
    let c = |code: &str, label: &str, ok: bool| Check {
        code: code.into(),
        label: label.into(),
        outcome: if ok {
            CheckOutcome::Match
        } else {
            CheckOutcome::Mismatch
        },
        detail: None,
    };
    vec![
        c("subscriber_exists", "Le numéro d'abonné existe", true),
        c(
            "organisation_matches",
            "Le nom de l'organisme correspond",
            true,
        ),
        c(
            "old_address_matches",
            "L'ancienne adresse déclarée est celle enregistrée",
            matching,
        ),
        c(
            "sender_domain_matches",
            "Le domaine de l'expéditeur est celui de l'organisme",
            matching,
        ),
        Check {
            code: "sender_authenticated".into(),
            label: "L'expéditeur est authentifié (SPF, DKIM, DMARC)".into(),
            outcome: CheckOutcome::Unknown,
            detail: Some("aucun verdict".into()),
        },
        c(
            "new_address_unused",
            "La nouvelle adresse n'est pas déjà utilisée par un autre abonné",
            true,
        ),
    ]
}

async fn request(
    db: &Db,
    number: &str,
    new_email: &str,
    matching: bool,
) -> Result<change_request::Model, StoreError> {
    let sub = subscribers::find_by_number(
        db.conn(),
        &SubscriberNumber::parse(number).map_err(|e| StoreError::Invalid(e.0))?,
    )
    .await?;
    let fields = [
        ("numero_abonne", number.to_string()),
        (
            "organisme",
            sub.as_ref()
                .map(|s| s.organisation.clone())
                .unwrap_or_default(),
        ),
        ("nom", "Nouvelle".into()),
        ("prenom", "Gestionnaire".into()),
        ("fonction", "Adjointe gestionnaire".into()),
        ("nouvelle_adresse_mel", new_email.into()),
        ("nouvelle_adresse_mel_confirmation", new_email.into()),
    ];
    requests::create(
        db,
        NewRequest {
            claimed_number: Some(number.into()),
            subscriber_id: sub.map(|s| s.id),
            requester_email: Some(new_email.into()),
            new_email: Some(new_email.into()),
            situation: Some("nouveau".into()),
            fields: fields
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            checks: checks(matching),
            flags: if matching {
                vec![]
            } else {
                vec!["expediteur_different".into()]
            },
            ..Default::default()
        },
        &Actor::System,
    )
    .await
}

/// Loads the data set (idempotent) and returns the accounts to print.
pub async fn load(db: &Db, settings: &Settings) -> Result<DemoAccounts, StoreError> {
    let rows: Vec<_> = SUBSCRIBERS
        .iter()
        .filter_map(|(n, o, g, e)| {
            Some(subscribers::SubscriberRow {
                numero_abonne: SubscriberNumber::parse(n).ok()?,
                organisme: (*o).into(),
                gestionnaire: Some((*g).into()),
                adresse_mel: MailAddress::parse(e).ok(),
            })
        })
        .collect();
    let mut existing = subscribers::load_existing(db.conn()).await?;
    subscribers::upsert_batch(db, &mut existing, &rows, "demo").await?;
    let (agent_id, agent_pw) = account(db, "agent.demo", "Agnès Agent (démo)", Role::Agent).await?;
    let (approver_id, approver_pw) = account(
        db,
        "approbateur.demo",
        "Paul Approbateur (démo)",
        Role::Approbateur,
    )
    .await?;
    if request_views::total(db.conn()).await? == 0 {
        let agent = Actor::Staff {
            id: agent_id,
            username: "agent.demo".into(),
            role: Role::Agent,
        };
        let approver = Actor::Staff {
            id: approver_id,
            username: "approbateur.demo".into(),
            role: Role::Approbateur,
        };
        requests_in_every_state(db, settings, &agent, &approver).await?;
        quarantined_mail(db).await?;
    }
    Ok(DemoAccounts {
        agent: ("agent.demo".into(), agent_pw),
        approver: ("approbateur.demo".into(), approver_pw),
    })
}

async fn verify(
    db: &Db,
    settings: &Settings,
    r: &change_request::Model,
    agent: &Actor,
) -> Result<(), StoreError> {
    decisions::verify(
        db,
        settings,
        &r.reference,
        r.version,
        "appel au standard de l'établissement",
        "confirmé par le secrétariat de direction",
        agent,
    )
    .await
}

async fn requests_in_every_state(
    db: &Db,
    settings: &Settings,
    agent: &Actor,
    approver: &Actor,
) -> Result<(), StoreError> {
    request(db, "10001", "n.gestionnaire@lycee-joffre.fr", true).await?;
    request(db, "10002", "nouvelle.intendante@gmail.com", false).await?;
    let r = request(db, "10003", "rh-nouveau@mairie-sete.fr", true).await?;
    decisions::request_information(
        db,
        settings,
        &r.reference,
        r.version,
        "Le formulaire n'est pas signé : merci de le renvoyer signé et tamponné.",
        agent,
    )
    .await?;
    let r = request(db, "10004", "nouveau.secretariat@lycee-mermoz.fr", true).await?;
    verify(db, settings, &r, agent).await?;
    for number in ["10005", "10006"] {
        let r = request(db, number, &format!("nouveau-{number}@exemple.fr"), true).await?;
        verify(db, settings, &r, agent).await?;
        approval::approve(db, settings, &r.reference, r.version + 1, approver).await?;
        if number == "10006" {
            requests::transition(
                db,
                &r.reference,
                None,
                &TransitionInput::new(Action::Complete),
                &Actor::System,
                true,
            )
            .await?;
        }
    }
    let r = request(db, "10007", "inconnu@exemple.com", false).await?;
    decisions::reject(
        db,
        settings,
        &r.reference,
        r.version,
        "identite_non_verifiee",
        "Nous n'avons pas pu vérifier votre identité auprès de l'établissement.",
        agent,
    )
    .await?;
    let r = request(db, "10008", "doublon@lycee-champollion.fr", true).await?;
    decisions::simple_transition(
        db,
        settings,
        &r.reference,
        r.version,
        Action::Cancel,
        "Doublon d'une demande déjà traitée.",
        agent,
    )
    .await?;
    Ok(())
}

async fn quarantined_mail(db: &Db) -> Result<(), StoreError> {
    let raw = b"From: inconnu@exemple.org\r\nTo: bareme@ac-montpellier.fr\r\nSubject: Bonjour\r\nMessage-ID: <demo-quarantaine@exemple.org>\r\n\r\nBonjour, je voudrais changer l'adresse de mon compte.\r\n".to_vec();
    inbox::insert_quarantined(
        db.conn(),
        Quarantined {
            source: "demo".into(),
            message_id: Some("demo-quarantaine@exemple.org".into()),
            from: Some("inconnu@exemple.org".into()),
            subject: Some("Bonjour".into()),
            reason: "aucun numéro d'abonné ni formulaire".into(),
            raw,
        },
    )
    .await?;
    Ok(())
}
