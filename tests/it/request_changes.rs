//! Issue 11: every change to a request is decided by the domain. The three
//! attacks found on `serve --demo`, replayed through HTTP as the staff member
//! did them: an approved request re-targeted to another subscriber, a
//! verified request corrected and approved by one person, and a subscriber
//! set after intake without the alert to its registered address.

use crate::gestion::{Client, NEW_ADDRESS, OLD_ADDRESS, Office, VERIFY, input_value, office};
use crate::on_both_databases;
use bareme_mel::{
    config::Settings,
    domain::{MailAddress, SubscriberNumber},
    security,
    store::{
        Db,
        entities::{change_request, inbound_message, token},
        subscribers::{self, SubscriberRow},
    },
};
use chrono::Utc;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};

const OTHER_NUMBER: &str = "10001";
/// The other subscriber's address, with an internationalised domain.
const OTHER_ADDRESS: &str = "Secretariat@Lycée-Élysée.fr";
const ATTACKER: &str = "attacker@evil.test";

/// Adds subscriber 10001 (registered at [`OTHER_ADDRESS`]); returns its id.
async fn other_subscriber(db: &Db) -> i64 {
    let mut existing = subscribers::load_existing(db.conn()).await.unwrap();
    let row = SubscriberRow {
        numero_abonne: SubscriberNumber::parse(OTHER_NUMBER).unwrap(),
        organisme: "Lycée Élysée".into(),
        gestionnaire: Some("M. Martin".into()),
        adresse_mel: Some(MailAddress::parse(OTHER_ADDRESS).unwrap()),
    };
    subscribers::upsert_batch(db, &mut existing, &[row], "test")
        .await
        .unwrap();
    subscribers::find_by_number(db.conn(), &SubscriberNumber::parse(OTHER_NUMBER).unwrap())
        .await
        .unwrap()
        .unwrap()
        .id
}

/// A request of subscriber 12345 verified by `agent` and approved by `appro`.
async fn approved_request(o: &Office) -> (String, Client) {
    let reference = o.request().await;
    let agent = o.client("agent").await;
    assert_eq!(agent.act(&reference, "verifier", &VERIFY).await.0, 303);
    let appro = o.client("appro").await;
    let (status, body) = appro.act(&reference, "approuver", &[]).await;
    assert_eq!(status, 303, "{body}");
    (reference, appro)
}

/// Posts the hidden correction form even when the page no longer shows it.
async fn post_correction(
    client: &Client,
    reference: &str,
    version: &str,
    field: &str,
    value: &str,
) -> (u16, String) {
    let (_, html) = client.page(&format!("/gestion/demandes/{reference}")).await;
    let csrf = input_value(&html, "csrf").unwrap();
    let res = client
        .post(
            &format!("/gestion/demandes/{reference}/champ"),
            &[
                ("csrf", &csrf),
                ("version", version),
                ("champ", field),
                ("valeur", value),
            ],
        )
        .await;
    let status = res.status().as_u16();
    (status, res.text().await.unwrap())
}

on_both_databases!(
    an_approved_request_cannot_be_retargeted_and_the_link_goes_only_to_the_approved_address,
    |db: Db| async move {
        let o = office(db, Settings::default()).await;
        let other = other_subscriber(&o.db).await;
        let (reference, appro) = approved_request(&o).await;
        let version = o.model(&reference).await.version.to_string();
        for (field, value) in [
            ("numero_abonne", OTHER_NUMBER),
            ("nouvelle_adresse_mel", ATTACKER),
        ] {
            let (status, body) = post_correction(&appro, &reference, &version, field, value).await;
            assert_eq!(status, 409, "{field}: {body}");
            assert!(body.contains("Approuvée"), "{body}");
            assert!(body.contains("ne peut plus"), "{body}");
        }
        let m = o.model(&reference).await;
        assert_eq!(m.subscriber_id, Some(o.subscriber_id));
        assert_eq!(m.new_email.as_deref(), Some(NEW_ADDRESS));
        assert_eq!(m.claimed_number.as_deref(), Some("12345"));

        // Even if the row were re-targeted behind the service's back, the
        // link follows what was approved.
        change_request::Entity::update_many()
            .col_expr(
                change_request::Column::SubscriberId,
                Expr::value(Some(other)),
            )
            .col_expr(
                change_request::Column::NewEmail,
                Expr::value(Some(ATTACKER)),
            )
            .filter(change_request::Column::Id.eq(m.id))
            .exec(o.db.conn())
            .await
            .unwrap();
        let (status, body) = appro.act(&reference, "renvoyer-lien", &[]).await;
        assert_eq!(status, 303, "{body}");
        let links: Vec<_> = o
            .mails(&reference)
            .await
            .into_iter()
            .filter(|m| m.template == "approval_reset_link")
            .collect();
        assert_eq!(links.len(), 2);
        assert!(
            links.iter().all(|l| l.recipient == NEW_ADDRESS),
            "{links:?}"
        );
        assert!(links.iter().all(|l| l.body_text.contains("12345")));
        let theirs = token::Entity::find()
            .filter(token::Column::SubscriberId.eq(other))
            .filter(token::Column::Kind.eq("approval_reset"))
            .all(o.db.conn())
            .await
            .unwrap();
        assert!(theirs.is_empty(), "no reset token for subscriber 10001");
    }
);

on_both_databases!(
    correcting_a_verified_request_sends_it_back_to_review_and_four_eyes_holds,
    |db: Db| async move {
        let o = office(db, Settings::default()).await;
        let reference = o.request().await;
        let agent = o.client("agent").await;
        assert_eq!(agent.act(&reference, "verifier", &VERIFY).await.0, 303);
        let appro = o.client("appro").await;
        let (status, body) = appro
            .act(
                &reference,
                "champ",
                &[
                    ("champ", "nouvelle_adresse_mel"),
                    ("valeur", "autre.gestionnaire@lycee-joffre.fr"),
                ],
            )
            .await;
        assert_eq!(status, 303, "{body}");
        let m = o.model(&reference).await;
        assert_eq!(m.state, "pending_review");
        assert_eq!(m.verified_by, None);
        assert_eq!(m.verification_method, None);
        let (_, html) = appro.page(&format!("/gestion/demandes/{reference}")).await;
        assert!(html.contains("À instruire"), "{html}");
        assert!(!html.contains("Vérification d'identité"));
        // Not verified any more: approval is refused.
        let (status, body) = appro.act(&reference, "approuver", &[]).await;
        assert_eq!(status, 409, "{body}");
        // The approbateur verifies it himself: four eyes forbids him to approve.
        assert_eq!(appro.act(&reference, "verifier", &VERIFY).await.0, 303);
        let (status, body) = appro.act(&reference, "approuver", &[]).await;
        assert_eq!(status, 409);
        assert!(body.contains("Double contrôle"), "{body}");
        assert_eq!(o.state_of(&reference).await, "verified");
    }
);

on_both_databases!(
    approval_refuses_an_address_another_subscriber_uses_and_checks_follow_corrections,
    |db: Db| async move {
        let o = office(db, Settings::default()).await;
        other_subscriber(&o.db).await;
        let reference = o.request().await;
        let agent = o.client("agent").await;
        // The same mailbox as subscriber 10001's, case changed and domain in punycode.
        let same = "SECRETARIAT@xn--lyce-lyse-d4acd.fr";
        let (status, body) = agent
            .act(
                &reference,
                "champ",
                &[("champ", "nouvelle_adresse_mel"), ("valeur", same)],
            )
            .await;
        assert_eq!(status, 303, "{body}");
        let checks: serde_json::Value =
            serde_json::from_str(&o.model(&reference).await.checks).unwrap();
        let free = checks
            .as_array()
            .and_then(|a| a.iter().find(|c| c["code"] == "new_address_free"))
            .unwrap_or_else(|| panic!("checks recomputed after the correction: {checks}"));
        assert_eq!(free["outcome"], "mismatch", "{checks}");
        assert_eq!(agent.act(&reference, "verifier", &VERIFY).await.0, 303);
        let appro = o.client("appro").await;
        let (status, body) = appro.act(&reference, "approuver", &[]).await;
        assert_eq!(status, 409, "{body}");
        assert!(body.contains("autre abonné"), "{body}");
        assert_eq!(o.state_of(&reference).await, "verified");
        let sub = subscribers::find_by_id(o.db.conn(), o.subscriber_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(sub.email.as_deref(), Some(OLD_ADDRESS));
    }
);

/// A quarantined mail, as intake leaves it; returns its id.
async fn quarantined(db: &Db) -> i64 {
    let raw = b"From: nouvelle.gestionnaire@lycee-joffre.fr\r\nSubject: Changement\r\n\r\nBonjour, voici ma demande.\r\n";
    inbound_message::Entity::insert(inbound_message::ActiveModel {
        received_at: Set(Utc::now()),
        source: Set("test".into()),
        source_position: Set(None),
        message_id: Set(Some("quarantaine-11@exemple.org".into())),
        content_hash: Set(security::sha256_hex(raw)),
        size: Set(raw.len() as i64),
        raw: Set(Some(raw.to_vec())),
        from_address: Set(Some(NEW_ADDRESS.into())),
        subject: Set(Some("Changement".into())),
        disposition: Set("quarantined".into()),
        reason: Set(Some("aucun numéro d'abonné".into())),
        request_id: Set(None),
        auth_results: Set("{}".into()),
        flags: Set("[]".into()),
        purged_at: Set(None),
        ..Default::default()
    })
    .exec_with_returning(db.conn())
    .await
    .unwrap()
    .id
}

on_both_databases!(
    a_subscriber_set_by_correction_gets_the_alert_with_its_objection_link,
    |db: Db| async move {
        let o = office(db, Settings::default()).await;
        let other = other_subscriber(&o.db).await;
        let id = quarantined(&o.db).await;
        let agent = o.client("agent").await;
        let (_, html) = agent.page(&format!("/gestion/quarantaine/{id}")).await;
        let csrf = input_value(&html, "csrf").unwrap();
        let res = agent
            .post(
                &format!("/gestion/quarantaine/{id}/creer"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(res.status(), 303);
        let location = res.headers()["location"].to_str().unwrap().to_string();
        let reference = location.rsplit('/').next().unwrap().to_string();
        for (field, value) in [
            ("numero_abonne", "12345"),
            ("nouvelle_adresse_mel", NEW_ADDRESS),
        ] {
            let (status, body) = agent
                .act(&reference, "champ", &[("champ", field), ("valeur", value)])
                .await;
            assert_eq!(status, 303, "{body}");
        }
        assert_eq!(
            o.model(&reference).await.subscriber_id,
            Some(o.subscriber_id)
        );
        let alerts: Vec<_> = o
            .mails(&reference)
            .await
            .into_iter()
            .filter(|m| m.template == "registered_address_alert")
            .collect();
        assert_eq!(alerts.len(), 1, "one alert, when the subscriber was set");
        assert_eq!(alerts[0].recipient, OLD_ADDRESS);
        assert!(
            alerts[0]
                .body_text
                .contains(&format!("{}/opposition/", o.app.base)),
            "{}",
            alerts[0].body_text
        );
        // Changing the subscriber alerts the new one's registered address.
        let (status, body) = agent
            .act(
                &reference,
                "champ",
                &[("champ", "numero_abonne"), ("valeur", OTHER_NUMBER)],
            )
            .await;
        assert_eq!(status, 303, "{body}");
        assert_eq!(o.model(&reference).await.subscriber_id, Some(other));
        let to_other = o
            .mails(&reference)
            .await
            .into_iter()
            .filter(|m| m.template == "registered_address_alert")
            .filter(|m| m.recipient == MailAddress::parse(OTHER_ADDRESS).unwrap().as_str())
            .count();
        assert_eq!(to_other, 1);
    }
);

/// A request of 12345 whose subscriber was set by a correction (so its
/// registered address got the alert), then verified by `agent`.
async fn alerted_and_verified(o: &Office) -> String {
    let reference = bareme_mel::store::requests::create(
        &o.db,
        bareme_mel::store::requests::NewRequest {
            requester_email: Some(NEW_ADDRESS.into()),
            new_email: Some(NEW_ADDRESS.into()),
            ..Default::default()
        },
        &bareme_mel::store::requests::Actor::System,
    )
    .await
    .unwrap()
    .reference;
    let agent = o.client("agent").await;
    let (status, body) = agent
        .act(
            &reference,
            "champ",
            &[("champ", "numero_abonne"), ("valeur", "12345")],
        )
        .await;
    assert_eq!(status, 303, "{body}");
    let (status, body) = agent.act(&reference, "verifier", &VERIFY).await;
    assert_eq!(status, 303, "{body}");
    reference
}

on_both_databases!(
    the_request_page_says_when_approval_becomes_possible_in_paris_time,
    |db: Db| async move {
        let mut settings = Settings::default();
        settings.approval.objection_window_hours = 48;
        let o = office(db, settings).await;
        let reference = alerted_and_verified(&o).await;
        let alert = o
            .mails(&reference)
            .await
            .into_iter()
            .find(|m| m.template == "registered_address_alert")
            .expect("the registered address was alerted");
        let appro = o.client("appro").await;
        let (status, html) = appro.page(&format!("/gestion/demandes/{reference}")).await;
        assert_eq!(status, 200);
        let approvable =
            bareme_mel::vocabulary::date_time(alert.created_at + chrono::Duration::hours(48));
        let html = html.replace("&#39;", "'");
        assert!(html.contains("Délai d'opposition en cours"), "{html}");
        assert!(
            html.contains(&format!(
                "L'approbation sera possible le {approvable} (heure de Paris), dans 48 h."
            )),
            "{approvable}: {html}"
        );
        // The page and the refusal say the same wait.
        let (status, body) = appro.act(&reference, "approuver", &[]).await;
        assert_eq!(status, 409, "{body}");
        assert!(body.contains("Approbation possible dans 48 h"), "{body}");
    }
);
