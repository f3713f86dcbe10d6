//! « Autres courriels » over HTTP as staff use it: the list beside
//! « Courriels non traités », « Transformer en demande » (checks, alert and
//! acknowledgement follow as for any request), « Transférer » through the
//! outbox with the original attached, « Classer »; CSRF and audit.

use crate::{
    gestion::{OLD_ADDRESS, Office, input_value, office},
    intake_support::mail,
    on_both_databases,
};
use bareme_mel::{
    config::Settings,
    intake::{Incoming, Intake, Origin},
    store::{
        Db, audit,
        entities::{inbound_message, outbox},
        inbox::Disposition,
        requests,
    },
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::sync::Arc;

pub const FORWARD_TO: &str = "secretariat-dag@ac-montpellier.fr";

pub fn settings() -> Settings {
    let mut s = Settings::default();
    s.intake.forward_other_to = FORWARD_TO.into();
    s
}

/// Ingests a mail that is not a request from `from`; returns its record id.
pub async fn other_mail(o: &Office, from: &str, subject: &str, body: &str) -> i64 {
    let outcome = Intake::new(o.db.clone(), Arc::new(settings()))
        .ingest(Incoming::whole(
            mail(from, subject, "", body),
            Origin::new("file", None),
        ))
        .await
        .unwrap();
    assert_eq!(outcome.disposition, Disposition::NotARequest);
    outcome.inbound_id.unwrap()
}

async fn actions(o: &Office) -> Vec<String> {
    audit::recent(o.db.conn(), 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect()
}

on_both_databases!(
    staff_turn_another_mail_into_a_request_and_the_alert_follows,
    |db: Db| async move {
        let o = office(db, settings()).await;
        let id = other_mail(
            &o,
            "Marie <marie@lycee-joffre.fr>",
            "Facture",
            "N° abonné : 12345\nBonjour, pourriez-vous m'envoyer la facture ?",
        )
        .await;
        let agent = o.client("agent").await;
        let (status, html) = agent.page("/gestion/autres-courriels").await;
        assert_eq!(status, 200);
        assert!(
            html.contains(&format!("/gestion/autres-courriels/{id}")),
            "{html}"
        );
        assert!(html.contains("Facture"));
        let (_, queue) = agent.page("/gestion").await;
        assert!(
            queue.contains("href=\"/gestion/autres-courriels\""),
            "linked from every page"
        );
        let (status, html) = agent.page(&format!("/gestion/autres-courriels/{id}")).await;
        assert_eq!(status, 200);
        assert!(html.contains("Transformer en demande") && html.contains("Classer"));
        let csrf = input_value(&html, "csrf").unwrap();

        let forged = agent
            .post(
                &format!("/gestion/autres-courriels/{id}/demande"),
                &[("csrf", "0123456789abcdef")],
            )
            .await;
        assert_eq!(forged.status(), 403);

        let res = agent
            .post(
                &format!("/gestion/autres-courriels/{id}/demande"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(res.status(), 303);
        let location = res.headers()["location"].to_str().unwrap().to_string();
        let reference = location
            .trim_start_matches("/gestion/demandes/")
            .to_string();
        assert!(reference.starts_with("BM-"), "{location}");
        let request = requests::find(o.db.conn(), &reference).await.unwrap();
        assert_eq!(
            request.subscriber_id,
            Some(o.subscriber_id),
            "matched from the mail"
        );
        assert_eq!(request.origin_message_id, Some(id));
        let mails = o.mails(&reference).await;
        assert!(
            mails
                .iter()
                .any(|m| m.template == "registered_address_alert" && m.recipient == OLD_ADDRESS),
            "the registered address is alerted"
        );
        assert!(
            mails
                .iter()
                .any(|m| m.template == "acknowledgement" && m.recipient == "marie@lycee-joffre.fr")
        );
        let row = inbound_message::Entity::find_by_id(id)
            .one(o.db.conn())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.disposition, "request_created");
        assert_eq!(row.request_id, Some(request.id));
        assert!(
            actions(&o)
                .await
                .contains(&"other_mail_to_request".to_string())
        );
        // Twice is refused, and the list no longer shows it.
        let again = agent
            .post(
                &format!("/gestion/autres-courriels/{id}/demande"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(again.status(), 409);
        let (_, html) = agent.page("/gestion/autres-courriels").await;
        assert!(!html.contains(&format!("/gestion/autres-courriels/{id}\"")));
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_forward_another_mail_with_the_original_attached_or_file_it() {
    let t = crate::harness::TestDb::sqlite().await;
    let o = office(t.db.clone(), settings()).await;
    let order = other_mail(
        &o,
        "intendance@college.fr",
        "Commande 2027",
        "Deux barèmes, merci.",
    )
    .await;
    let newsletter = other_mail(&o, "news@example.org", "Lettre n° 42", "Nouveautés.").await;
    let agent = o.client("agent").await;
    let (_, html) = agent
        .page(&format!("/gestion/autres-courriels/{order}"))
        .await;
    assert!(html.contains(FORWARD_TO), "the page says where it goes");
    let csrf = input_value(&html, "csrf").unwrap();
    let res = agent
        .post(
            &format!("/gestion/autres-courriels/{order}/transferer"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(res.status(), 303);
    let forwarded = outbox::Entity::find()
        .filter(outbox::Column::Recipient.eq(FORWARD_TO))
        .all(o.db.conn())
        .await
        .unwrap();
    assert_eq!(forwarded.len(), 1);
    assert_eq!(forwarded[0].template, "forwarded_mail");
    assert!(
        forwarded[0].body_text.contains("Objet : Commande 2027"),
        "{}",
        forwarded[0].body_text
    );
    assert!(
        forwarded[0]
            .headers
            .contains(&format!("\"original\":{order}")),
        "{}",
        forwarded[0].headers
    );

    let res = agent
        .post(
            &format!("/gestion/autres-courriels/{newsletter}/classer"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(res.status(), 303);
    let (_, html) = agent.page("/gestion/autres-courriels").await;
    assert!(html.contains("Aucun courriel à traiter."), "{html}");
    let done = actions(&o).await;
    assert!(done.contains(&"other_mail_forwarded".to_string()));
    assert!(done.contains(&"other_mail_filed".to_string()));

    // Forwarding is off by default: no button, and a forged POST gets a French answer.
    let t2 = crate::harness::TestDb::sqlite().await;
    let plain = office(t2.db.clone(), Settings::default()).await;
    let id = other_mail(&plain, "x@ecole.fr", "Question", "Bonjour.").await;
    let agent = plain.client("agent").await;
    let (_, html) = agent.page(&format!("/gestion/autres-courriels/{id}")).await;
    assert!(!html.contains(">Transférer<"));
    let csrf = input_value(&html, "csrf").unwrap();
    let res = agent
        .post(
            &format!("/gestion/autres-courriels/{id}/transferer"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("intake.forward_other_to")
    );
}

on_both_databases!(
    the_queue_counts_the_mail_staff_still_have_to_handle,
    |db: Db| async move {
        let o = office(db, settings()).await;
        let first = other_mail(&o, "intendance@college.fr", "Commande", "Deux barèmes.").await;
        other_mail(&o, "news@example.org", "Lettre n° 42", "Nouveautés.").await;
        let agent = o.client("agent").await;
        let (_, queue) = agent.page("/gestion").await;
        assert!(
            queue.contains(">Autres courriels : 2</a>")
                && queue.contains("href=\"/gestion/autres-courriels\""),
            "{queue}"
        );
        assert!(queue.contains(">Courriels non traités : 0</a>"), "{queue}");

        let (_, html) = agent
            .page(&format!("/gestion/autres-courriels/{first}"))
            .await;
        let csrf = input_value(&html, "csrf").unwrap();
        let res = agent
            .post(
                &format!("/gestion/autres-courriels/{first}/classer"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(res.status(), 303);
        let (_, queue) = agent.page("/gestion").await;
        assert!(
            queue.contains(">Autres courriels : 1</a>"),
            "a filed mail no longer counts: {queue}"
        );
    }
);
