//! Back-office decisions through HTTP: every action, every permission, the
//! four-eyes rule, CSRF and stale pages.

use crate::gestion::{Client, NEW_ADDRESS, OLD_ADDRESS, VERIFY, office};
use crate::on_both_databases;
use bareme_mel::{
    config::Settings,
    store::{Db, audit, entities::token, subscribers},
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

on_both_databases!(
    an_agent_verifies_and_a_second_staff_member_approves_in_one_transaction,
    |db: Db| async move {
        let o = office(db, Settings::default()).await;
        let reference = o.request().await;
        let agent = o.client("agent").await;
        assert_eq!(agent.act(&reference, "prendre-en-charge", &[]).await.0, 303);
        assert_eq!(agent.act(&reference, "verifier", &VERIFY).await.0, 303);
        assert_eq!(o.state_of(&reference).await, "verified");
        // An agent may not approve.
        let (status, _) = agent.act(&reference, "approuver", &[]).await;
        assert_eq!(status, 403);
        let appro = o.client("appro").await;
        let (status, body) = appro.act(&reference, "approuver", &[]).await;
        assert_eq!(status, 303, "{body}");
        assert_eq!(o.state_of(&reference).await, "approved");
        let sub = subscribers::find_by_id(o.db.conn(), o.subscriber_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(sub.email.as_deref(), Some(NEW_ADDRESS));
        let history = subscribers::address_history(o.db.conn(), o.subscriber_id)
            .await
            .unwrap();
        assert_eq!(history.len(), 2);
        assert_eq!(history[1].source, "approval");
        let mails = o.mails(&reference).await;
        let notice = mails
            .iter()
            .find(|m| m.template == "change_notice")
            .expect("notice");
        assert_eq!(notice.recipient, OLD_ADDRESS);
        let link = mails
            .iter()
            .find(|m| m.template == "approval_reset_link")
            .expect("link");
        assert_eq!(link.recipient, NEW_ADDRESS);
        assert!(
            link.body_text
                .contains(&format!("{}/reinitialisation/", o.app.base)),
            "{}",
            link.body_text
        );
        let live = token::Entity::find()
            .filter(token::Column::SubscriberId.eq(o.subscriber_id))
            .filter(token::Column::VoidedAt.is_null())
            .all(o.db.conn())
            .await
            .unwrap();
        assert_eq!(live.len(), 1, "exactly one live token: the new reset link");
        assert_eq!(live[0].kind, "approval_reset");
        let events = audit::for_request(o.db.conn(), o.model(&reference).await.id)
            .await
            .unwrap();
        let actions: Vec<_> = events.iter().map(|e| e.action.as_str()).collect();
        assert!(
            actions.ends_with(&["claimed", "verify", "approve", "address_replaced"]),
            "{actions:?}"
        );
        assert!(audit::verify(o.db.conn()).await.unwrap().problem.is_none());
    }
);

#[tokio::test]
async fn the_verifier_cannot_approve_when_four_eyes_is_on() {
    let t = crate::harness::TestDb::sqlite().await;
    let o = office(t.db.clone(), Settings::default()).await;
    let reference = o.request().await;
    let appro = o.client("appro").await;
    assert_eq!(appro.act(&reference, "verifier", &VERIFY).await.0, 303);
    let (status, body) = appro.act(&reference, "approuver", &[]).await;
    assert_eq!(status, 409);
    assert!(body.contains("Double contrôle"), "{body}");
    assert_eq!(o.state_of(&reference).await, "verified");
    assert!(o.mails(&reference).await.is_empty());
}

#[tokio::test]
async fn without_four_eyes_the_verifier_may_approve() {
    let t = crate::harness::TestDb::sqlite().await;
    let mut settings = Settings::default();
    settings.approval.four_eyes = false;
    let o = office(t.db.clone(), settings).await;
    let reference = o.request().await;
    let appro = o.client("appro").await;
    assert_eq!(appro.act(&reference, "verifier", &VERIFY).await.0, 303);
    assert_eq!(appro.act(&reference, "approuver", &[]).await.0, 303);
    assert_eq!(o.state_of(&reference).await, "approved");
}

#[tokio::test]
async fn a_form_without_the_right_csrf_token_is_refused() {
    let t = crate::harness::TestDb::sqlite().await;
    let o = office(t.db.clone(), Settings::default()).await;
    let reference = o.request().await;
    let agent = o.client("agent").await;
    let res = agent
        .post(
            &format!("/gestion/demandes/{reference}/prendre-en-charge"),
            &[
                ("csrf", "0123456789abcdef0123456789abcdef"),
                ("version", "0"),
            ],
        )
        .await;
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("Rechargez la page"));
    assert!(o.model(&reference).await.assignee_id.is_none());
}

#[tokio::test]
async fn a_stale_page_gets_a_conflict_in_french() {
    let t = crate::harness::TestDb::sqlite().await;
    let o = office(t.db.clone(), Settings::default()).await;
    let reference = o.request().await;
    let agent = o.client("agent").await;
    let (_, html) = agent.page(&format!("/gestion/demandes/{reference}")).await;
    let csrf = crate::gestion::input_value(&html, "csrf").unwrap();
    assert_eq!(agent.act(&reference, "prendre-en-charge", &[]).await.0, 303);
    let res = agent
        .post(
            &format!("/gestion/demandes/{reference}/verifier"),
            &[("csrf", &csrf), ("version", "0"), VERIFY[0], VERIFY[1]],
        )
        .await;
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("modifiée par quelqu"));
    assert_eq!(o.state_of(&reference).await, "pending_review");
}

#[tokio::test]
async fn verification_needs_a_method_and_a_comment() {
    let t = crate::harness::TestDb::sqlite().await;
    let o = office(t.db.clone(), Settings::default()).await;
    let reference = o.request().await;
    let agent = o.client("agent").await;
    let (status, _) = agent
        .act(
            &reference,
            "verifier",
            &[("methode", "appel"), ("commentaire", " ")],
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(o.state_of(&reference).await, "pending_review");
}

#[tokio::test]
async fn a_rejection_queues_its_mail_and_needs_a_reason_code() {
    let t = crate::harness::TestDb::sqlite().await;
    let o = office(t.db.clone(), Settings::default()).await;
    let reference = o.request().await;
    let agent = o.client("agent").await;
    let (status, _) = agent
        .act(&reference, "rejeter", &[("motif", ""), ("message", "non")])
        .await;
    assert_eq!(status, 400);
    let (status, _) = agent
        .act(
            &reference,
            "rejeter",
            &[
                ("motif", "signature_absente"),
                ("message", "Le formulaire n'est pas signé."),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let m = o.model(&reference).await;
    assert_eq!(m.state, "rejected");
    assert_eq!(m.rejection_code.as_deref(), Some("signature_absente"));
    let mails = o.mails(&reference).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].template, "rejection");
    assert_eq!(mails[0].recipient, NEW_ADDRESS);
}

#[tokio::test]
async fn asking_for_more_information_mails_the_requester_and_waits() {
    let t = crate::harness::TestDb::sqlite().await;
    let o = office(t.db.clone(), Settings::default()).await;
    let reference = o.request().await;
    let agent = o.client("agent").await;
    let (status, _) = agent
        .act(
            &reference,
            "complement",
            &[("message", "Merci de joindre le formulaire signé.")],
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(o.state_of(&reference).await, "awaiting_requester");
    assert_eq!(o.mails(&reference).await[0].template, "information_request");
    let (status, _) = agent
        .act(
            &reference,
            "remettre",
            &[("commentaire", "réponse reçue par téléphone")],
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(o.state_of(&reference).await, "pending_review");
    let (status, _) = agent
        .act(&reference, "classer", &[("commentaire", "doublon")])
        .await;
    assert_eq!(status, 303);
    assert_eq!(o.state_of(&reference).await, "cancelled");
}

#[tokio::test]
async fn resending_the_link_voids_the_previous_one() {
    let t = crate::harness::TestDb::sqlite().await;
    let o = office(t.db.clone(), Settings::default()).await;
    let reference = o.request().await;
    assert_eq!(
        o.client("agent")
            .await
            .act(&reference, "verifier", &VERIFY)
            .await
            .0,
        303
    );
    let appro = o.client("appro").await;
    assert_eq!(appro.act(&reference, "approuver", &[]).await.0, 303);
    let agent = o.client("agent").await;
    assert_eq!(agent.act(&reference, "renvoyer-lien", &[]).await.0, 403);
    assert_eq!(appro.act(&reference, "renvoyer-lien", &[]).await.0, 303);
    let tokens = token::Entity::find()
        .filter(token::Column::SubscriberId.eq(o.subscriber_id))
        .filter(token::Column::Kind.eq("approval_reset"))
        .all(o.db.conn())
        .await
        .unwrap();
    assert_eq!(tokens.len(), 2);
    assert!(tokens[0].voided_at.is_some());
    assert!(tokens[1].voided_at.is_none());
    let links = o
        .mails(&reference)
        .await
        .into_iter()
        .filter(|m| m.template == "approval_reset_link")
        .count();
    assert_eq!(links, 2);
}

#[tokio::test]
async fn an_objection_blocks_approval_until_lifted_with_a_comment() {
    let t = crate::harness::TestDb::sqlite().await;
    let o = office(t.db.clone(), Settings::default()).await;
    let reference = o.request().await;
    assert_eq!(
        o.client("agent")
            .await
            .act(&reference, "verifier", &VERIFY)
            .await
            .0,
        303
    );
    use bareme_mel::store::entities::change_request;
    use sea_orm::sea_query::Expr;
    change_request::Entity::update_many()
        .col_expr(change_request::Column::Contested, Expr::value(true))
        .filter(change_request::Column::Reference.eq(reference.clone()))
        .exec(o.db.conn())
        .await
        .unwrap();
    let appro = o.client("appro").await;
    let (status, body) = appro.act(&reference, "approuver", &[]).await;
    assert_eq!(status, 409);
    assert!(body.contains("opposition"), "{body}");
    assert_eq!(
        appro
            .act(&reference, "lever-opposition", &[("commentaire", "")])
            .await
            .0,
        400
    );
    let (status, _) = appro
        .act(
            &reference,
            "lever-opposition",
            &[(
                "commentaire",
                "l'ancienne gestionnaire a confirmé par téléphone",
            )],
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(appro.act(&reference, "approuver", &[]).await.0, 303);
    let events = audit::for_request(o.db.conn(), o.model(&reference).await.id)
        .await
        .unwrap();
    assert!(events.iter().any(|e| e.action == "contest_lifted"
        && e.reason.as_deref().is_some_and(|r| r.contains("téléphone"))));
}

#[tokio::test]
async fn field_edits_and_notes_are_audited() {
    let t = crate::harness::TestDb::sqlite().await;
    let o = office(t.db.clone(), Settings::default()).await;
    let reference = o.request().await;
    let agent = o.client("agent").await;
    let (status, _) = agent
        .act(
            &reference,
            "champ",
            &[
                ("champ", "nouvelle_adresse_mel"),
                ("valeur", "pas une adresse"),
            ],
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = agent
        .act(
            &reference,
            "champ",
            &[
                ("champ", "nouvelle_adresse_mel"),
                ("valeur", "corrigee@lycee-joffre.fr"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(
        o.model(&reference).await.new_email.as_deref(),
        Some("corrigee@lycee-joffre.fr")
    );
    assert_eq!(
        agent
            .act(
                &reference,
                "note",
                &[("commentaire", "Rappeler le proviseur lundi.")]
            )
            .await
            .0,
        303
    );
    let (_, html) = agent.page(&format!("/gestion/demandes/{reference}")).await;
    assert!(html.contains("Rappeler le proviseur lundi."));
    assert!(html.contains("corrigee@lycee-joffre.fr"));
    let events = audit::for_request(o.db.conn(), o.model(&reference).await.id)
        .await
        .unwrap();
    let edit = events.iter().find(|e| e.action == "field_edited").unwrap();
    assert_eq!(edit.details["new"], "corrigee@lycee-joffre.fr");
    assert!(events.iter().any(|e| e.action == "note_added"));
}

#[tokio::test]
async fn every_page_needs_a_signed_in_staff_member() {
    let t = crate::harness::TestDb::sqlite().await;
    let o = office(t.db.clone(), Settings::default()).await;
    let reference = o.request().await;
    let anonymous = Client::new(&o.app.base);
    for path in [
        "/gestion",
        "/gestion/quarantaine",
        "/gestion/abonnes",
        "/gestion/journal",
        "/gestion/agents",
        "/gestion/export.csv",
        &format!("/gestion/demandes/{reference}"),
    ] {
        let res = anonymous.get(path).await;
        assert_eq!(res.status(), 303, "{path}");
        assert_eq!(res.headers()["location"], "/gestion/connexion", "{path}");
    }
}
