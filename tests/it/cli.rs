//! The real binary, run as an operator would run it.

use crate::harness::{TestDb, cmd, free_port, run};
use bareme_mel::{
    config::{Database, Secret},
    store::{
        Db, audit,
        entities::inbound_message,
        requests::{self, Actor, NewRequest},
    },
};
use sea_orm::{ActiveValue::Set, EntityTrait};
use std::{
    io::Write,
    process::Stdio,
    time::{Duration, Instant},
};

async fn wait_for(url: &str) -> reqwest::Response {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(res) = reqwest::get(url).await {
            return res;
        }
        assert!(Instant::now() < deadline, "{url} never answered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn serve_in_an_empty_directory_answers_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = cmd(dir.path())
        .arg("serve")
        .env("BAREME_MEL__SERVER__BIND", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    assert_eq!(wait_for(&format!("{base}/healthz")).await.status(), 200);
    assert_eq!(
        reqwest::get(format!("{base}/readyz"))
            .await
            .unwrap()
            .status(),
        200
    );
    assert!(
        dir.path().join("data/bareme-mel.db").exists(),
        "the SQLite file is created under ./data"
    );
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "serve exited with {status:?}");
}

#[test]
fn lists_and_audit_verify_work_on_an_empty_database() {
    let dir = tempfile::tempdir().unwrap();
    for args in [["requests", "list", "--json"], ["inbox", "list", "--json"]] {
        let r = run({
            let mut c = cmd(dir.path());
            c.args(args);
            c
        });
        assert_eq!(r.status, 0, "{args:?}: {}", r.stderr);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&r.stdout).unwrap(),
            serde_json::json!([])
        );
    }
    let r = run({
        let mut c = cmd(dir.path());
        c.args(["audit", "verify"]);
        c
    });
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(r.stdout.contains("intact"), "{}", r.stdout);
}

async fn populate(db: &Db) -> String {
    let r = requests::create(
        db,
        NewRequest {
            claimed_number: Some("31337".into()),
            requester_email: Some("gestion@college-camus.fr".into()),
            new_email: Some("gestion@college-camus.fr".into()),
            flags: vec!["saisie_manuelle".into()],
            ..Default::default()
        },
        &Actor::System,
    )
    .await
    .unwrap();
    inbound_message::Entity::insert(inbound_message::ActiveModel {
        received_at: Set(chrono::Utc::now()),
        source: Set("maildir".into()),
        source_position: Set(Some("maildir:test:1".into())),
        message_id: Set(Some("abc@college-camus.fr".into())),
        content_hash: Set("00".into()),
        size: Set(10),
        raw: Set(Some(b"raw".to_vec())),
        from_address: Set(Some("gestion@college-camus.fr".into())),
        subject: Set(Some("Changement d'adresse".into())),
        disposition: Set("request_created".into()),
        reason: Set(None),
        request_id: Set(Some(r.id)),
        auth_results: Set("{}".into()),
        flags: Set("[]".into()),
        purged_at: Set(None),
        ..Default::default()
    })
    .exec_without_returning(db.conn())
    .await
    .unwrap();
    r.reference
}

fn cli_on(dir: &std::path::Path, url: &str, args: &[&str]) -> crate::harness::Ran {
    crate::harness::share_key(&dir.join("data"));
    let mut c = cmd(dir);
    c.env("BAREME_MEL__DATABASE__URL", url).args(args);
    run(c)
}

async fn lists_show_and_verify_a_populated_database(dir: &std::path::Path, url: &str, db: &Db) {
    let reference = populate(db).await;
    let r = cli_on(dir, url, &["requests", "list", "--json"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let list: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(list[0]["reference"], reference.as_str());
    assert_eq!(list[0]["state"], "pending_review");
    assert_eq!(list[0]["flags"][0], "saisie_manuelle");

    let r = cli_on(dir, url, &["requests", "show", &reference, "--json"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let show: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(show["claimed_number"], "31337");
    assert_eq!(show["thread"][0]["direction"], "in");
    assert_eq!(show["timeline"][0]["action"], "request_created");

    let r = cli_on(dir, url, &["requests", "show", &reference]);
    assert!(
        r.stdout.contains(&reference) && r.stdout.contains("À instruire"),
        "{}",
        r.stdout
    );

    let r = cli_on(dir, url, &["inbox", "list", "--json"]);
    let inbox: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(inbox[0]["disposition"], "request_created");
    assert_eq!(inbox[0]["reference"], reference.as_str());
    assert_eq!(inbox[0]["message_id"], "abc@college-camus.fr");
    assert_eq!(inbox[0]["sender"], "gestion@college-camus.fr");

    let r = cli_on(dir, url, &["requests", "list", "--state", "nimporte"]);
    assert_eq!(r.status, 64);
    assert!(r.stderr.contains("pending_review"), "{}", r.stderr);
    let r = cli_on(dir, url, &["requests", "show", "BM-1999-00001"]);
    assert_ne!(r.status, 0);
    assert_eq!(r.stderr.lines().count(), 1, "one clear line: {}", r.stderr);

    let r = cli_on(dir, url, &["audit", "verify"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    audit::tamper_for_tests(db.conn(), 1, "falsifié")
        .await
        .unwrap();
    let r = cli_on(dir, url, &["audit", "verify"]);
    assert_eq!(r.status, 2);
    assert!(r.stderr.contains("altéré"), "{}", r.stderr);
    // Whoever can write to the database but has not the key file cannot
    // make the edit pass by recomputing the chain.
    audit::rehash_without_key_for_tests(db.conn())
        .await
        .unwrap();
    let r = cli_on(dir, url, &["audit", "verify"]);
    assert_eq!(r.status, 2, "rehashed without the key: {}", r.stdout);
    assert!(r.stderr.contains("altéré"), "{}", r.stderr);
}

#[tokio::test]
async fn lists_show_and_audit_verify_work_on_a_populated_sqlite_database() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/bm.db?mode=rwc", dir.path().display());
    let db = Db::connect(&Database {
        url: Secret(url.clone()),
        max_connections: 2,
    })
    .await
    .unwrap();
    db.migrate().await.unwrap();
    lists_show_and_verify_a_populated_database(dir.path(), &url, &db).await;
}

#[tokio::test]
async fn lists_show_and_audit_verify_work_on_a_populated_postgres_database() {
    let Some(t) = TestDb::postgres().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    lists_show_and_verify_a_populated_database(dir.path(), &t.url, &t.db).await;
}

/// README « Commands »: 64 usage, 65 bad data, 75 database unreachable,
/// 78 configuration — each one line of French on stderr.
#[test]
fn each_kind_of_failure_exits_with_its_sysexits_status() {
    let dir = tempfile::tempdir().unwrap();
    let at = |args: &[&str], env: &[(&str, &str)]| {
        let mut c = cmd(dir.path());
        for (k, v) in env {
            c.env(k, v);
        }
        c.args(args);
        run(c)
    };
    // 64: the command line itself is wrong, or names a file that is not there.
    let r = at(&["frobnicate"], &[]);
    assert_eq!(r.status, 64, "{}", r.stderr);
    let r = at(&["requests", "list", "--stat", "verified"], &[]);
    assert_eq!(r.status, 64, "{}", r.stderr);
    let r = at(&["subscribers", "import", "/nonexistent/abonnes.csv"], &[]);
    assert_eq!(r.status, 64, "{}", r.stderr);
    assert!(
        r.stderr.contains("/nonexistent/abonnes.csv"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    // --help is not a failure.
    assert_eq!(at(&["--help"], &[]).status, 0);
    // 65: the data do not hold (an unknown reference, an unknown account).
    let r = at(&["requests", "show", "BM-1999-00001"], &[]);
    assert_eq!(r.status, 65, "{}", r.stderr);
    assert!(r.stderr.contains("BM-1999-00001"), "{}", r.stderr);
    let r = at(&["staff", "disable", "personne"], &[]);
    assert_eq!(r.status, 65, "{}", r.stderr);
    // 75: the database cannot be reached; try again later.
    let down = [(
        "BAREME_MEL__DATABASE__URL",
        "postgres://postgres@127.0.0.1:1/nothing",
    )];
    for args in [
        &["requests", "list"][..],
        &["audit", "verify"],
        &["migrate"],
    ] {
        let r = at(args, &down);
        assert_eq!(r.status, 75, "{args:?}: {}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    }
    // 78: the configuration is wrong.
    let r = at(
        &["requests", "list"],
        &[("BAREME_MEL__DATABASE__MAX_CONNECTIONS", "beaucoup")],
    );
    assert_eq!(r.status, 78, "{}", r.stderr);
}

#[test]
fn an_unknown_configuration_key_is_refused_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bareme-mel.toml"),
        "[server]\nbindd = \"127.0.0.1:1\"\n",
    )
    .unwrap();
    let r = run({
        let mut c = cmd(dir.path());
        c.args(["requests", "list"]);
        c
    });
    assert_eq!(r.status, 78);
    assert!(r.stderr.contains("server.bindd"), "{}", r.stderr);

    let r = run({
        let mut c = cmd(dir.path());
        c.env("BAREME_MEL__APPROVAL__FOUR_EYE", "false").args([
            "--config",
            "/nonexistent.toml",
            "migrate",
        ]);
        c
    });
    assert_eq!(r.status, 78);
    assert!(r.stderr.contains("/nonexistent.toml"), "{}", r.stderr);
    std::fs::remove_file(dir.path().join("bareme-mel.toml")).unwrap();
    let r = run({
        let mut c = cmd(dir.path());
        c.env("BAREME_MEL__APPROVAL__FOUR_EYE", "false")
            .args(["migrate"]);
        c
    });
    assert_eq!(r.status, 78);
    assert!(r.stderr.contains("approval.four_eye"), "{}", r.stderr);
}

#[test]
fn staff_accounts_are_managed_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let staff = |args: &[&str], stdin: &str| {
        let mut c = cmd(dir.path());
        c.arg("staff")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (status, _, err) = staff(
        &[
            "add",
            "marie.curie",
            "--role",
            "approbateur",
            "--name",
            "Marie Curie",
            "--password-stdin",
        ],
        "court\n",
    );
    assert_eq!(status, 65);
    assert!(err.contains("au moins 8 caractères"), "{err}");
    let (status, _, err) = staff(
        &["add", "marie.curie", "--role", "chef", "--password-stdin"],
        "un long mot de passe\n",
    );
    assert_eq!(status, 64, "{err}");
    let (status, out, err) = staff(
        &[
            "add",
            "marie.curie",
            "--role",
            "approbateur",
            "--name",
            "Marie Curie",
            "--password-stdin",
        ],
        "un long mot de passe\n",
    );
    assert_eq!(status, 0, "{err}");
    assert!(out.contains("marie.curie"));
    let (status, _, err) = staff(
        &["add", "marie.curie", "--role", "agent", "--password-stdin"],
        "un long mot de passe\n",
    );
    assert_eq!(status, 65);
    assert!(err.contains("existe déjà"), "{err}");
    let (_, out, _) = staff(&["list", "--json"], "");
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list[0]["username"], "marie.curie");
    assert_eq!(list[0]["role"], "approbateur");
    assert_eq!(list[0]["disabled"], false);
    assert!(!out.contains("argon2"), "no hash in the listing");
    let (status, _, err) = staff(
        &["reset-password", "marie.curie", "--password-stdin"],
        "une autre phrase secrète\n",
    );
    assert_eq!(status, 0, "{err}");
    let (status, _, _) = staff(&["disable", "marie.curie"], "");
    assert_eq!(status, 0);
    let (_, out, _) = staff(&["list", "--json"], "");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out).unwrap()[0]["disabled"],
        true
    );
    let (status, _, err) = staff(&["disable", "personne"], "");
    assert_eq!(status, 65);
    assert!(err.contains("personne"), "{err}");
    let (status, out, _) = staff(&["disable-totp", "marie.curie"], "");
    assert_eq!(status, 0);
    assert!(
        out.contains("n'avait pas de double authentification"),
        "{out}"
    );
    let (status, _, err) = staff(&["disable-totp", "personne"], "");
    assert_eq!(status, 65);
    assert!(err.contains("personne"), "{err}");
    // Every change is in the audit log, and the chain holds.
    let r = run({
        let mut c = cmd(dir.path());
        c.args(["audit", "verify", "--json"]);
        c
    });
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["events"], 3, "add, reset-password, disable");
}

#[test]
fn the_form_command_writes_a_prefilled_pdf_and_refuses_a_bad_number() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("formulaire.pdf");
    let r = run({
        let mut c = cmd(dir.path());
        c.args(["form", "--abonne", "4242", "-o", out.to_str().unwrap()]);
        c
    });
    assert_eq!(r.status, 0, "{}", r.stderr);
    let pdf = std::fs::read(&out).unwrap();
    match bareme_forms::read_pdf(&pdf) {
        bareme_forms::ReadOutcome::AcroForm(v) => assert_eq!(v.get("numero_abonne"), Some("4242")),
        other => panic!("{other:?}"),
    }
    let r = run({
        let mut c = cmd(dir.path());
        c.args(["form", "--abonne", "42a", "-o", out.to_str().unwrap()]);
        c
    });
    assert_eq!(r.status, 64);
    assert!(r.stderr.contains("chiffres"), "{}", r.stderr);
}

#[tokio::test]
async fn a_chain_written_before_the_key_is_sealed_at_the_first_start_and_never_again() {
    use sea_orm::ConnectionTrait;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/bm.db?mode=rwc", dir.path().display());
    let db = Db::connect(&Database {
        url: Secret(url.clone()),
        max_connections: 2,
    })
    .await
    .unwrap();
    db.migrate().await.unwrap();
    populate(&db).await;
    let unkey = "UPDATE audit_head SET keyed_from = NULL";
    // What an older version wrote: plain SHA-256, no marker, no key file.
    audit::rehash_without_key_for_tests(db.conn())
        .await
        .unwrap();
    db.conn().execute_unprepared(unkey).await.unwrap();
    assert!(audit::verify(db.conn()).await.unwrap().problem.is_some());
    let key_file = dir.path().join("data/bareme-mel.key");
    assert!(!key_file.exists());
    // The first start with a key (the upgrade) creates it and seals the chain.
    let verify = || {
        let mut c = cmd(dir.path());
        c.env("BAREME_MEL__DATABASE__URL", &url)
            .args(["audit", "verify"]);
        run(c)
    };
    let r = verify();
    assert_eq!(r.status, 0, "{}{}", r.stdout, r.stderr);
    assert!(key_file.exists());
    assert!(!audit::is_unkeyed(db.conn()).await.unwrap());
    // Once keyed, the same plain re-hash is an edit.
    audit::rehash_without_key_for_tests(db.conn())
        .await
        .unwrap();
    let r = verify();
    assert_eq!(r.status, 2, "{}", r.stdout);
    // Clearing the marker too does not get the edit sealed at the next start:
    // the key file exists, so an unkeyed chain is an alteration.
    db.conn().execute_unprepared(unkey).await.unwrap();
    let r = verify();
    assert_eq!(r.status, 2, "a downgraded chain was sealed: {}", r.stdout);
    assert!(audit::is_unkeyed(db.conn()).await.unwrap());
    assert!(r.stderr.contains("non scellé"), "{}", r.stderr);
}
