//! The mail thread of the request page: plain text by default, the HTML part
//! only sanitised on a page of its own, under the CSP.

use crate::gestion::office;
use bareme_mel::{config::Settings, security, store::entities::inbound_message};
use sea_orm::{ActiveValue::Set, EntityTrait};

const HOSTILE_HTML: &[u8] = b"From: pirate@exemple.org\r\n\
Subject: Changement d'adresse\r\n\
Message-ID: <hostile-html@exemple.org>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n\
--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
Bonjour, version texte.\r\n\
--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
<html><head><style>p { background: url(http://tracker.exemple.org/css.png) }</style></head>\
<body onload=\"alert('load')\"><p style=\"background:url(http://tracker.exemple.org/inline.png)\">Bonjour <b>en HTML</b></p>\
<script>alert('corps')</script>\
<img src=\"http://tracker.exemple.org/pixel.png\" onerror=\"alert('img')\" alt=\"logo du lyc\xc3\xa9e\">\
<a href=\"javascript:alert('lien')\">cliquez ici</a> \
<a href=\"https://www.lycee-joffre.fr/\">site du lyc\xc3\xa9e</a></body></html>\r\n\
--alt--\r\n";

async fn store(db: &bareme_mel::store::Db, raw: &[u8], request_id: i64) -> i64 {
    inbound_message::Entity::insert(inbound_message::ActiveModel {
        received_at: Set(chrono::Utc::now()),
        source: Set("test".into()),
        content_hash: Set(security::sha256_hex(raw)),
        size: Set(raw.len() as i64),
        raw: Set(Some(raw.to_vec())),
        from_address: Set(Some("pirate@exemple.org".into())),
        subject: Set(Some("Changement d'adresse".into())),
        disposition: Set("threaded".into()),
        request_id: Set(Some(request_id)),
        auth_results: Set("{}".into()),
        flags: Set("[]".into()),
        ..Default::default()
    })
    .exec_with_returning(db.conn())
    .await
    .unwrap()
    .id
}

#[tokio::test]
async fn a_hostile_html_part_is_shown_sanitised_only_on_request() {
    let t = crate::harness::TestDb::sqlite().await;
    let o = office(t.db.clone(), Settings::default()).await;
    let reference = o.request().await;
    let id = store(&o.db, HOSTILE_HTML, o.model(&reference).await.id).await;
    let agent = o.client("agent").await;

    let (status, page) = agent.page(&format!("/gestion/demandes/{reference}")).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("Bonjour, version texte."),
        "plain text by default"
    );
    assert!(
        !page.contains("<b>en HTML</b>"),
        "no HTML on the request page"
    );
    let link = format!("href=\"/gestion/courriels/{id}/html\">Voir la version HTML</a>");
    assert!(page.contains(&link), "{page}");

    let res = agent.get(&format!("/gestion/courriels/{id}/html")).await;
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("script-src 'self'") && csp.contains("img-src 'self' data:"));
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    let html = res.text().await.unwrap();
    assert!(html.contains("Bonjour <b>en HTML</b>"), "{html}");
    assert!(html.contains("alt=\"logo du lycée\""));
    assert!(html.contains(
        "<a href=\"https://www.lycee-joffre.fr/\" rel=\"noopener noreferrer nofollow\">site du lycée</a>"
    ));
    assert!(html.contains(&format!("href=\"/gestion/demandes/{reference}\"")));
    for bad in [
        "alert(",
        "onload",
        "onerror",
        "tracker.exemple.org",
        "url(",
        "javascript:",
        "style=",
    ] {
        assert!(!html.contains(bad), "{bad:?} survived sanitising");
    }
    assert!(
        !html.contains("<script"),
        "the back-office pages have no script at all"
    );
}

#[tokio::test]
async fn a_text_only_mail_has_no_html_version() {
    let t = crate::harness::TestDb::sqlite().await;
    let o = office(t.db.clone(), Settings::default()).await;
    let reference = o.request().await;
    let raw = b"From: a@exemple.org\r\nSubject: x\r\n\r\nTexte seul\r\n";
    let id = store(&o.db, raw, o.model(&reference).await.id).await;
    let agent = o.client("agent").await;
    let (_, page) = agent.page(&format!("/gestion/demandes/{reference}")).await;
    assert!(page.contains("Texte seul") && !page.contains("Voir la version HTML"));
    let (status, _) = agent.page(&format!("/gestion/courriels/{id}/html")).await;
    assert_eq!(status, 404);
    let anonymous = crate::gestion::Client::new(&o.app.base);
    assert_eq!(
        anonymous
            .get(&format!("/gestion/courriels/{id}/html"))
            .await
            .status(),
        303,
        "signed-in staff only"
    );
}
