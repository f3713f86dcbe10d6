//! One error edge for the web (`web::AppError`): a page answers with the
//! DSFR message page, `/api` with JSON — each with a French message and the
//! status of the error, store errors mapped in one place.

use crate::gestion::{input_value, office};
use crate::harness::TestDb;
use crate::intake_support::{fixture, settings};
use bareme_mel::config::{Secret, Settings};

#[tokio::test]
async fn an_api_error_answers_json_with_a_french_message() {
    let t = TestDb::sqlite().await;
    let mut s = settings();
    s.intake.api_token = Secret("s3cret-token".into());
    s.intake.max_message_bytes = 10_000;
    let app = crate::harness::spawn_app(s, t.db.clone()).await;
    let url = format!("{}/api/courriels", app.base);
    let client = reqwest::Client::new();
    let json_of = |res: reqwest::Response| async move {
        let status = res.status().as_u16();
        let ctype = res.headers()["content-type"].to_str().unwrap().to_string();
        let auth = res
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_string());
        let body: serde_json::Value =
            serde_json::from_str(&res.text().await.unwrap()).expect("an /api error is JSON");
        (status, ctype, auth, body)
    };
    let empty = client
        .post(&url)
        .bearer_auth("s3cret-token")
        .header("content-type", "message/rfc822")
        .body(Vec::new())
        .send()
        .await
        .unwrap();
    let (status, ctype, _, body) = json_of(empty).await;
    assert_eq!(status, 400);
    assert!(ctype.starts_with("application/json"), "{ctype}");
    assert_eq!(body["erreur"], "Message vide.");

    let anonymous = client
        .post(&url)
        .header("content-type", "message/rfc822")
        .body(fixture("autoreply-en.eml"))
        .send()
        .await
        .unwrap();
    let (status, _, auth, body) = json_of(anonymous).await;
    assert_eq!(status, 401);
    assert_eq!(auth.as_deref(), Some("Bearer"), "the challenge stays");
    assert!(
        body["erreur"].as_str().unwrap().contains("Jeton d'accès"),
        "{body}"
    );

    let big = client
        .post(&url)
        .bearer_auth("s3cret-token")
        .header("content-type", "message/rfc822")
        .body(fixture("outlook-pdf-form.eml"))
        .send()
        .await
        .unwrap();
    let (status, _, _, body) = json_of(big).await;
    assert_eq!(status, 413);
    assert_eq!(body["erreur"], "Message trop volumineux.");
}

#[tokio::test]
async fn a_page_error_renders_the_dsfr_message_page() {
    let t = TestDb::sqlite().await;
    let o = office(t.db.clone(), Settings::default()).await;
    let agent = o.client("agent").await;
    let res = agent.get("/gestion/demandes/BM-1999-99999").await;
    assert_eq!(res.status(), 404);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
    );
    let html = res.text().await.unwrap();
    assert!(html.contains("<html lang=\"fr\""), "{html}");
    assert!(html.contains("fr-alert fr-alert--error"), "{html}");
    assert!(
        html.contains("aucune demande ne porte la référence BM-1999-99999"),
        "{html}"
    );
    assert!(html.contains("href=\"/gestion\""), "a way back: {html}");

    // A stale page is refused with the store's conflict, as a page too.
    let reference = o.request().await;
    let (_, page) = agent.page(&format!("/gestion/demandes/{reference}")).await;
    let csrf = input_value(&page, "csrf").unwrap();
    let res = agent
        .post(
            &format!("/gestion/demandes/{reference}/prendre-en-charge"),
            &[("csrf", csrf.as_str()), ("version", "999")],
        )
        .await;
    assert_eq!(res.status(), 409);
    let html = res.text().await.unwrap();
    assert!(html.contains("Action impossible"), "{html}");
    assert!(html.contains("modifiée par quelqu"), "{html}");
}
