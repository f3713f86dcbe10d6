//! Back-office pages through HTTP: sign-in, first admin, hostile mail shown
//! inert, attachments as downloads, quarantine, staff management, exports.

use crate::gestion::{Client, PASSWORD, input_value, office};
use bareme_mel::{
    backoffice::accounts,
    config::Settings,
    security,
    store::entities::{attachment, blob, inbound_message},
};
use chrono::Utc;
use sea_orm::{ActiveValue::Set, EntityTrait};

async fn sqlite_office() -> (crate::harness::TestDb, crate::gestion::Office) {
    let t = crate::harness::TestDb::sqlite().await;
    let o = office(t.db.clone(), Settings::default()).await;
    (t, o)
}

const HOSTILE: &[u8] = b"From: =?utf-8?q?<script>alert(1)</script>?= <pirate@exemple.org>\r\n\
Subject: <script>alert('objet')</script> BM\r\n\
Message-ID: <hostile-1@exemple.org>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
<p>Bonjour</p><script>alert('corps')</script><img src=\"http://tracker.exemple.org/x.png\" onerror=\"alert(2)\">\r\n\
--b\r\nContent-Type: text/html; name=\"<script>alert(3)</script>.html\"\r\n\
Content-Disposition: attachment; filename=\"<script>alert(3)</script>.html\"\r\n\r\n\
<script>alert('piece')</script>\r\n--b--\r\n";

/// Stores the hostile mail (quarantined) with its attachment; returns (message id, attachment id).
pub async fn store_hostile_mail(db: &bareme_mel::store::Db, request_id: Option<i64>) -> (i64, i64) {
    let now = Utc::now();
    let msg = inbound_message::Entity::insert(inbound_message::ActiveModel {
        received_at: Set(now),
        source: Set("test".into()),
        source_position: Set(None),
        message_id: Set(Some("hostile-1@exemple.org".into())),
        content_hash: Set(security::sha256_hex(HOSTILE)),
        size: Set(HOSTILE.len() as i64),
        raw: Set(Some(HOSTILE.to_vec())),
        from_address: Set(Some("pirate@exemple.org".into())),
        subject: Set(Some("<script>alert('objet')</script> BM".into())),
        disposition: Set(if request_id.is_some() {
            "threaded"
        } else {
            "quarantined"
        }
        .into()),
        reason: Set(Some("aucun numéro d'abonné".into())),
        request_id: Set(request_id),
        auth_results: Set(r#"{"spf":"fail","dkim":"none"}"#.into()),
        flags: Set("[]".into()),
        purged_at: Set(None),
        ..Default::default()
    })
    .exec_with_returning(db.conn())
    .await
    .unwrap();
    let content = b"<script>alert('piece')</script>";
    let sha = security::sha256_hex(content);
    let known = blob::Entity::find_by_id(sha.clone())
        .one(db.conn())
        .await
        .unwrap();
    if known.is_none() {
        blob::Entity::insert(blob::ActiveModel {
            sha256: Set(sha.clone()),
            size: Set(content.len() as i64),
            data: Set(Some(content.to_vec())),
            created_at: Set(now),
        })
        .exec_without_returning(db.conn())
        .await
        .unwrap();
    }
    let att = attachment::Entity::insert(attachment::ActiveModel {
        inbound_message_id: Set(msg.id),
        position: Set(0),
        filename: Set(Some("<script>alert(3)</script>.html".into())),
        content_type: Set("text/html".into()),
        sha256: Set(sha),
        size: Set(content.len() as i64),
        ..Default::default()
    })
    .exec_with_returning(db.conn())
    .await
    .unwrap();
    (msg.id, att.id)
}

#[tokio::test]
async fn a_wrong_password_gets_one_generic_answer() {
    let (_t, o) = sqlite_office().await;
    let c = Client::new(&o.app.base);
    let wrong = c.sign_in("agent", "pas le bon mot de passe").await;
    assert_eq!(wrong.status(), 401);
    let wrong_body = wrong.text().await.unwrap();
    let unknown = c.sign_in("personne", PASSWORD).await;
    assert_eq!(unknown.status(), 401);
    let unknown_body = unknown.text().await.unwrap();
    assert!(wrong_body.contains("Identifiant ou mot de passe incorrect"));
    assert!(unknown_body.contains("Identifiant ou mot de passe incorrect"));
    assert_eq!(c.get("/gestion").await.status(), 303);
}

#[tokio::test]
async fn sign_out_ends_the_session_and_a_disabled_account_is_signed_out() {
    let (_t, o) = sqlite_office().await;
    let agent = o.client("agent").await;
    assert_eq!(agent.get("/gestion").await.status(), 200);
    let admin = o.client("admin").await;
    assert_eq!(agent.get("/gestion/agents").await.status(), 403);
    let (status, html) = admin.page("/gestion/agents").await;
    assert_eq!(status, 200);
    let csrf = input_value(&html, "csrf").unwrap();
    let res = admin
        .post(
            "/gestion/agents",
            &[
                ("csrf", &csrf),
                ("identifiant", "nouvel.agent"),
                ("nom", "Nouvel Agent"),
                ("role", "agent"),
                ("mot_de_passe", "une phrase de passe longue"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        Client::new(&o.app.base)
            .sign_in("nouvel.agent", "une phrase de passe longue")
            .await
            .status(),
        303
    );
    let agent_id = bareme_mel::store::staff::find(&o.db, "agent")
        .await
        .unwrap()
        .unwrap()
        .id;
    let res = admin
        .post(
            &format!("/gestion/agents/{agent_id}/desactiver"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        agent.get("/gestion").await.status(),
        303,
        "disabled: signed out"
    );
    assert_eq!(
        Client::new(&o.app.base)
            .sign_in("agent", PASSWORD)
            .await
            .status(),
        401
    );
    let (_, html) = admin.page("/gestion").await;
    let csrf = input_value(&html, "csrf").unwrap();
    assert_eq!(
        admin
            .post("/gestion/deconnexion", &[("csrf", &csrf)])
            .await
            .status(),
        200
    );
    assert_eq!(admin.get("/gestion").await.status(), 303);
}

#[tokio::test]
async fn the_first_admin_link_works_once() {
    let t = crate::harness::TestDb::sqlite().await;
    let app = crate::harness::spawn_app(Settings::default(), t.db.clone()).await;
    let settings = app.state.settings.clone();
    let link = accounts::first_admin_link(&t.db, &settings)
        .await
        .unwrap()
        .unwrap();
    let path = link.strip_prefix(&app.base).unwrap().to_string();
    let c = Client::new(&app.base);
    let (status, html) = c.page(&path).await;
    assert_eq!(status, 200);
    let csrf = input_value(&html, "csrf").unwrap();
    let form = [
        ("csrf", csrf.as_str()),
        ("identifiant", "chef"),
        ("nom", "Cheffe DAG"),
        ("mot_de_passe", "une phrase de passe longue"),
        ("confirmation", "une phrase de passe longue"),
    ];
    assert_eq!(c.post(&path, &form).await.status(), 200);
    assert_eq!(
        c.sign_in("chef", "une phrase de passe longue")
            .await
            .status(),
        303
    );
    assert_eq!(c.page(&path).await.0, 404);
    assert_eq!(c.post(&path, &form).await.status(), 400);
    assert!(
        accounts::first_admin_link(&t.db, &settings)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_hostile_mail_renders_inert_and_its_attachment_is_a_download() {
    let (_t, o) = sqlite_office().await;
    let reference = o.request().await;
    let request_id = o.model(&reference).await.id;
    let (_, att) = store_hostile_mail(&o.db, Some(request_id)).await;
    let agent = o.client("agent").await;
    let (status, html) = agent.page(&format!("/gestion/demandes/{reference}")).await;
    assert_eq!(status, 200);
    assert!(!html.contains("<script"), "no script element from the mail");
    assert!(!html.contains("<img src=\"http"), "no remote content");
    assert!(
        html.contains("&#60;script&#62;alert(&#39;objet&#39;)"),
        "subject escaped"
    );
    assert!(
        html.contains("&#60;script&#62;alert(3)&#60;/script&#62;.html"),
        "file name escaped"
    );
    let res = agent.get(&format!("/gestion/pieces-jointes/{att}")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/octet-stream");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(
        res.headers()["content-disposition"],
        format!("attachment; filename=\"piece-jointe-{att}.bin\"")
    );
}

#[tokio::test]
async fn quarantined_mail_becomes_a_request_or_is_discarded_with_a_reason() {
    let (_t, o) = sqlite_office().await;
    let (first, _) = store_hostile_mail(&o.db, None).await;
    let agent = o.client("agent").await;
    let (status, html) = agent.page("/gestion/quarantaine").await;
    assert_eq!(status, 200);
    assert!(html.contains(&format!("/gestion/quarantaine/{first}")));
    assert!(!html.contains("<script"));
    let (status, html) = agent.page(&format!("/gestion/quarantaine/{first}")).await;
    assert_eq!(status, 200);
    assert!(!html.contains("<script"));
    let csrf = input_value(&html, "csrf").unwrap();
    assert_eq!(
        agent
            .post(
                &format!("/gestion/quarantaine/{first}/ecarter"),
                &[("csrf", &csrf), ("motif", "")]
            )
            .await
            .status(),
        400
    );
    let res = agent
        .post(
            &format!("/gestion/quarantaine/{first}/creer"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with("/gestion/demandes/BM-"), "{location}");
    let m = inbound_message::Entity::find_by_id(first)
        .one(o.db.conn())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.disposition, "request_created");
    // Twice is refused: it is no longer in quarantine.
    assert_eq!(
        agent
            .post(
                &format!("/gestion/quarantaine/{first}/creer"),
                &[("csrf", &csrf)]
            )
            .await
            .status(),
        409
    );
    let second = inbound_message::Entity::insert(inbound_message::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        content_hash: Set("x".into()),
        message_id: Set(None),
        ..inbound_message::ActiveModel::from(m.clone())
    })
    .exec_with_returning(o.db.conn())
    .await
    .unwrap()
    .id;
    use sea_orm::{ColumnTrait, QueryFilter, sea_query::Expr};
    inbound_message::Entity::update_many()
        .col_expr(
            inbound_message::Column::Disposition,
            Expr::value("quarantined"),
        )
        .col_expr(
            inbound_message::Column::RequestId,
            Expr::value(Option::<i64>::None),
        )
        .filter(inbound_message::Column::Id.eq(second))
        .exec(o.db.conn())
        .await
        .unwrap();
    let res = agent
        .post(
            &format!("/gestion/quarantaine/{second}/ecarter"),
            &[("csrf", &csrf), ("motif", "publicité")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let (_, html) = agent.page("/gestion/quarantaine").await;
    assert!(!html.contains(&format!("/gestion/quarantaine/{second}\"")));
    let reference = o.request().await;
    let third = inbound_message::Entity::insert(inbound_message::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        content_hash: Set("y".into()),
        message_id: Set(None),
        disposition: Set("quarantined".into()),
        request_id: Set(None),
        flags: Set("[]".into()),
        ..inbound_message::ActiveModel::from(m)
    })
    .exec_with_returning(o.db.conn())
    .await
    .unwrap()
    .id;
    let res = agent
        .post(
            &format!("/gestion/quarantaine/{third}/rattacher"),
            &[("csrf", &csrf), ("reference", &reference)],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"].to_str().unwrap(),
        format!("/gestion/demandes/{reference}")
    );
}

#[tokio::test]
async fn the_queue_filters_searches_and_exports_with_formulas_escaped() {
    let (_t, o) = sqlite_office().await;
    let first = o.request().await;
    let second = o.request().await;
    use bareme_mel::store::requests::{self, Actor, NewRequest};
    requests::create(
        &o.db,
        NewRequest {
            claimed_number: Some("999".into()),
            requester_email: Some("=cmd|' /C calc'!A0@exemple.org".into()),
            ..Default::default()
        },
        &Actor::System,
    )
    .await
    .unwrap();
    let agent = o.client("agent").await;
    assert_eq!(agent.act(&second, "prendre-en-charge", &[]).await.0, 303);
    let (status, html) = agent.page("/gestion").await;
    assert_eq!(status, 200);
    assert!(
        html.find(&first).unwrap() < html.find(&second).unwrap(),
        "oldest first"
    );
    assert!(html.contains("À instruire : 3"));
    let (_, mine) = agent.page("/gestion?responsable=moi").await;
    assert!(mine.contains(&second) && !mine.contains(&format!(">{first}<")));
    let (_, found) = agent.page("/gestion?q=999").await;
    assert!(found.contains("999") && !found.contains(&format!(">{first}<")));
    let (_, verified) = agent.page("/gestion?etat=verified").await;
    assert!(verified.contains("Aucune demande ne correspond."));
    let res = agent.get("/gestion/export.csv").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let csv = res.text().await.unwrap();
    assert!(csv.contains("'=cmd|"), "{csv}");
    assert!(!csv.contains(",=cmd"), "{csv}");
    let (status, _) = agent.page("/gestion/journal").await;
    assert_eq!(status, 200);
    assert!(
        agent
            .get("/gestion/journal.csv")
            .await
            .text()
            .await
            .unwrap()
            .starts_with("N°,Date (heure de Paris),Qui,Action")
    );
    let (status, html) = agent.page("/gestion/abonnes?q=joffre").await;
    assert_eq!(status, 200);
    assert!(html.contains("/gestion/abonnes/12345"));
    let (status, html) = agent.page("/gestion/abonnes/12345").await;
    assert_eq!(status, 200);
    assert!(html.contains(&first));
}
