//! Logs carry no passwords, tokens or reset links (SPEC §11), even at debug level.

use crate::harness::{cmd, free_port, run};
use bareme_mel::{
    config::{Database, Secret},
    store::{Db, entities::outbox},
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::{
    process::Stdio,
    time::{Duration, Instant},
};

fn csrf_of(body: &str) -> String {
    body.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn a_full_reset_journey_leaves_no_token_or_password_in_the_debug_logs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("abonnes.csv"), "numero_abonne,organisme,gestionnaire,adresse_mel\n50001,Lycée Joffre,Marie Durand,gestion@lycee-joffre.fr\n").unwrap();
    let r = run({
        let mut c = cmd(dir.path());
        c.args(["subscribers", "import", "abonnes.csv"]);
        c
    });
    assert_eq!(r.status, 0, "{}", r.stderr);
    let port = free_port();
    let log_path = dir.path().join("serve.log");
    let mut child = cmd(dir.path())
        .arg("serve")
        .env("BAREME_MEL__SERVER__BIND", format!("127.0.0.1:{port}"))
        .env(
            "BAREME_MEL__SERVER__PUBLIC_URL",
            format!("http://127.0.0.1:{port}"),
        )
        .env("BAREME_MEL__LOG__LEVEL", "debug")
        .env("BAREME_MEL__LOG__FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let c = crate::public::client();
    let deadline = Instant::now() + Duration::from_secs(60);
    while c.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "serve did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let body = c
        .get(format!("{base}/mot-de-passe-oublie"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = csrf_of(&body);
    c.post(format!("{base}/mot-de-passe-oublie"))
        .form(&[("csrf", csrf.as_str()), ("numero", "50001")])
        .send()
        .await
        .unwrap();

    let url = format!(
        "sqlite://{}/data/bareme-mel.db?mode=rwc",
        dir.path().display()
    );
    let db = Db::connect(&Database {
        url: Secret(url),
        max_connections: 1,
    })
    .await
    .unwrap();
    let mail = outbox::Entity::find()
        .filter(outbox::Column::Template.eq("self_service_reset_link"))
        .one(db.conn())
        .await
        .unwrap()
        .unwrap();
    let start = mail.body_text.find("/reinitialisation/").unwrap() + "/reinitialisation/".len();
    let token = mail.body_text[start..start + 32].to_string();
    let password = "Cheval-Agrafe-Correct-42";
    let page = c
        .get(format!("{base}/reinitialisation/{token}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let res = c
        .post(format!("{base}/reinitialisation/{token}"))
        .form(&[
            ("csrf", csrf_of(&page).as_str()),
            ("mot_de_passe", password),
            ("repetition", password),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = c
        .post(format!("{base}/connexion"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("numero", "50001"),
            ("mot_de_passe", password),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "signed in with the new password");
    // Let the worker send the mails (file transport) so its logs are in too.
    tokio::time::sleep(Duration::from_secs(3)).await;
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let _ = child.wait();

    let logs = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        logs.contains("/reinitialisation/[masqué]"),
        "the reset requests are logged, masked:\n{logs}"
    );
    assert!(
        logs.contains("outbox: sent"),
        "the worker's sending is logged"
    );
    assert!(
        !logs.contains(&token),
        "the reset token leaked into the logs"
    );
    assert!(
        !logs.contains(password) && !logs.contains("Cheval"),
        "the password leaked into the logs"
    );
    assert!(
        !logs.contains("argon2"),
        "a password hash leaked into the logs"
    );
}
