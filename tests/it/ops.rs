//! Operations endpoints and the security headers, on the real router.

use crate::harness::{TestDb, pg_admin_url};
use bareme_mel::{
    config::{Database, Secret, Settings},
    store::{
        Db,
        requests::{self, Actor, NewRequest},
    },
};
use sea_orm::ConnectionTrait;

async fn spawn_app(db: Db) -> String {
    crate::harness::spawn_app(Settings::default(), db)
        .await
        .base
}

/// The status `path` answers with.
async fn status(base: &str, path: &str) -> reqwest::StatusCode {
    reqwest::get(format!("{base}{path}"))
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn readyz_answers_200_on_a_migrated_database() {
    let t = TestDb::sqlite().await;
    let base = spawn_app(t.db.clone()).await;
    let res = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(status(&base, "/healthz").await, 200);
}

#[tokio::test]
async fn readyz_answers_503_while_migrations_are_pending() {
    let t = TestDb::sqlite_unmigrated().await;
    let base = spawn_app(t.db.clone()).await;
    let res = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(res.status(), 503);
    assert!(res.text().await.unwrap().contains("migration"));
    // Liveness does not depend on the database.
    assert_eq!(status(&base, "/healthz").await, 200);
}

#[tokio::test]
async fn readyz_answers_503_when_the_database_goes_away() {
    let Some(t) = TestDb::postgres().await else {
        return;
    };
    let base = spawn_app(t.db.clone()).await;
    assert_eq!(status(&base, "/readyz").await, 200);
    let name = t.url.rsplit('/').next().unwrap().to_string();
    let admin = Db::connect(&Database {
        url: Secret(format!("{}/postgres", pg_admin_url())),
        max_connections: 1,
    })
    .await
    .unwrap();
    admin
        .conn()
        .execute_unprepared(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .await
        .unwrap();
    let res = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(status(&base, "/healthz").await, 200);
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let t = TestDb::sqlite().await;
    let base = spawn_app(t.db.clone()).await;
    for path in ["/healthz", "/readyz", "/metrics", "/page-inexistante"] {
        let res = reqwest::get(format!("{base}{path}")).await.unwrap();
        let h = res.headers();
        let csp = h
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{path}: {csp}"
        );
        assert_eq!(
            h.get("x-content-type-options").unwrap(),
            "nosniff",
            "{path}"
        );
        assert_eq!(h.get("referrer-policy").unwrap(), "no-referrer", "{path}");
        assert!(h.get("x-request-id").is_some(), "{path}: no request id");
    }
}

#[tokio::test]
async fn metrics_count_requests_by_state_in_prometheus_text() {
    let t = TestDb::sqlite().await;
    requests::create(&t.db, NewRequest::default(), &Actor::System)
        .await
        .unwrap();
    requests::create(&t.db, NewRequest::default(), &Actor::System)
        .await
        .unwrap();
    let base = spawn_app(t.db.clone()).await;
    let res = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let body = res.text().await.unwrap();
    assert!(
        body.contains("bareme_mel_requests{state=\"pending_review\"} 2"),
        "{body}"
    );
    assert!(
        body.contains("# TYPE bareme_mel_http_responses_total counter"),
        "{body}"
    );
}
