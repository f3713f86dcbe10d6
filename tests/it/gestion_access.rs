//! « Droit d'accès » in the back-office: administrators download the ZIP of
//! everything held about a subscriber or an address; nobody else can.

use crate::gestion::{OLD_ADDRESS, input_value, office};
use bareme_mel::{config::Settings, store::audit};
use std::io::Read;

#[tokio::test]
async fn an_admin_downloads_the_access_export_and_an_agent_is_refused() {
    let t = crate::harness::TestDb::sqlite().await;
    let o = office(t.db.clone(), Settings::default()).await;
    let reference = o.request().await;

    let admin = o.client("admin").await;
    let (status, page) = admin.page("/gestion/droit-acces").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("href=\"/gestion/droit-acces\">Droit d'accès</a>"),
        "in the admin menu"
    );
    let csrf = input_value(&page, "csrf").unwrap();

    for who in ["12345", OLD_ADDRESS] {
        let res = admin
            .post(
                "/gestion/droit-acces",
                &[("csrf", &csrf), ("personne", who)],
            )
            .await;
        assert_eq!(res.status(), 200, "{who}");
        assert_eq!(res.headers()["content-type"], "application/zip");
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
        let disposition = res.headers()["content-disposition"].to_str().unwrap();
        assert!(disposition.starts_with("attachment; filename=\"droit-acces-"));
        let bytes = res.bytes().await.unwrap();
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
        let mut json = String::new();
        zip.by_name("donnees.json")
            .unwrap()
            .read_to_string(&mut json)
            .unwrap();
        assert!(json.contains(OLD_ADDRESS), "{json}");
        if who == "12345" {
            assert!(
                json.contains(&reference),
                "the subscriber's request is in it"
            );
        }
    }
    let events = audit::recent(o.db.conn(), 100).await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.actor == "staff:admin" && e.action == "access_export"),
        "the export is audited"
    );

    let res = admin
        .post(
            "/gestion/droit-acces",
            &[("csrf", &csrf), ("personne", "pas un numéro\n")],
        )
        .await;
    assert_eq!(res.status(), 400);
    let res = admin
        .post(
            "/gestion/droit-acces",
            &[("csrf", "0000"), ("personne", "12345")],
        )
        .await;
    assert_eq!(res.status(), 403, "CSRF token required");

    let agent = o.client("agent").await;
    assert_eq!(agent.page("/gestion/droit-acces").await.0, 403);
    let (_, queue) = agent.page("/gestion").await;
    assert!(
        !queue.contains("/gestion/droit-acces"),
        "not in an agent's menu"
    );
    let csrf = input_value(&queue, "csrf").unwrap();
    let res = agent
        .post(
            "/gestion/droit-acces",
            &[("csrf", &csrf), ("personne", "12345")],
        )
        .await;
    assert_eq!(res.status(), 403);
    let appro = o.client("appro").await;
    assert_eq!(appro.page("/gestion/droit-acces").await.0, 403);
}
