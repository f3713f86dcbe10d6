//! `bareme-mel backup` / `restore` (SPEC §12): an online copy taken while mail
//! keeps arriving restores into a database whose audit chain verifies and
//! whose counts are those of the copy.

use crate::{
    harness::{cmd, run},
    intake_support::{form_body, intake, mail, seed_subscriber},
};
use bareme_mel::{
    config::{Database, Secret},
    intake::{Incoming, Origin},
    store::{
        Db,
        entities::{audit_event, change_request, inbound_message},
    },
};
use sea_orm::{EntityTrait, PaginatorTrait};
use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

fn command(dir: &Path, args: &[&str]) -> crate::harness::Ran {
    // The key goes with the database: the events appended here are keyed with it.
    crate::harness::share_key(&dir.join("data"));
    let mut c = cmd(dir);
    c.args(args);
    run(c)
}

/// The counts a backup or restore prints after its « — ».
fn counts_of(stdout: &str) -> String {
    stdout
        .split_once(" — ")
        .map(|(_, c)| c.split(" ; ").next().unwrap_or_default().trim().to_string())
        .unwrap_or_else(|| panic!("no counts in {stdout:?}"))
}

async fn counts(db: &Db) -> String {
    let r = change_request::Entity::find()
        .count(db.conn())
        .await
        .unwrap();
    let m = inbound_message::Entity::find()
        .count(db.conn())
        .await
        .unwrap();
    let e = audit_event::Entity::find().count(db.conn()).await.unwrap();
    format!("{r} demande(s), {m} courriel(s) reçu(s), {e} événement(s) d'audit")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_taken_while_mail_arrives_restores_with_a_sound_audit_chain() {
    let live = tempfile::tempdir().unwrap();
    assert_eq!(command(live.path(), &["migrate"]).status, 0);
    let db = Db::connect(&Database {
        url: Secret(format!(
            "sqlite://{}/data/bareme-mel.db?mode=rw",
            live.path().display()
        )),
        max_connections: 4,
    })
    .await
    .unwrap();
    seed_subscriber(&db).await;

    // Write load: request mails ingested one after the other until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let ingested = Arc::new(AtomicUsize::new(0));
    let load = {
        let (db, stop, ingested) = (db.clone(), stop.clone(), ingested.clone());
        tokio::spawn(async move {
            let intake = intake(&db);
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let raw = mail(
                    &format!("gestion{i}@lycee-jean-moulin.fr"),
                    "Changement d'adresse",
                    "",
                    &form_body(&format!("nouvelle{i}@lycee-jean-moulin.fr")),
                );
                intake
                    .ingest(Incoming::whole(raw, Origin::new("file", None)))
                    .await
                    .expect("ingest under load");
                ingested.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while ingested.load(Ordering::Relaxed) < 10 {
        assert!(Instant::now() < deadline, "the load did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let dir = live.path().to_path_buf();
    let during =
        tokio::task::spawn_blocking(move || command(&dir, &["backup", "-o", "pendant.db"]))
            .await
            .unwrap();
    let after_backup = ingested.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();
    assert_eq!(during.status, 0, "{}", during.stderr);
    assert!(
        ingested.load(Ordering::Relaxed) > after_backup,
        "mail kept arriving after the backup"
    );

    // Restored onto an empty data directory: same counts as the copy, chain intact.
    let restored = tempfile::tempdir().unwrap();
    let backup_file = live.path().join("pendant.db");
    let r = command(restored.path(), &["restore", backup_file.to_str().unwrap()]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(counts_of(&r.stdout), counts_of(&during.stdout));
    assert!(counts_of(&r.stdout).contains("courriel(s) reçu(s)"));
    let v = command(restored.path(), &["audit", "verify"]);
    assert_eq!(v.status, 0, "{}{}", v.stdout, v.stderr);
    assert!(v.stdout.contains("journal d'audit intact"), "{}", v.stdout);

    // Once the load has stopped, a backup holds exactly what the live database holds.
    let quiet = command(live.path(), &["backup", "-o", "apres.db"]);
    assert_eq!(quiet.status, 0, "{}", quiet.stderr);
    assert_eq!(counts_of(&quiet.stdout), counts(&db).await);
    assert!(
        counts(&db)
            .await
            .contains(&format!("{} courriel(s)", ingested.load(Ordering::Relaxed)))
    );

    // Never over an existing database, never over an existing backup.
    let again = command(restored.path(), &["restore", backup_file.to_str().unwrap()]);
    assert_eq!(again.status, 73, "{}", again.stderr);
    assert!(again.stderr.contains("existe déjà"), "{}", again.stderr);
    let twice = command(live.path(), &["backup", "-o", "apres.db"]);
    assert_eq!(twice.status, 73, "{}", twice.stderr);
}

#[test]
fn a_file_that_is_not_a_backup_is_refused_and_leaves_no_database() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("faux.db"), b"pas une base").unwrap();
    let r = command(dir.path(), &["restore", "faux.db"]);
    assert_eq!(r.status, 65, "{}", r.stderr);
    assert!(r.stderr.contains("pas une sauvegarde"), "{}", r.stderr);
    assert!(!dir.path().join("data/bareme-mel.db").exists());
}

#[test]
fn on_postgresql_backup_and_restore_point_to_pg_dump() {
    let dir = tempfile::tempdir().unwrap();
    for (args, tool) in [
        (&["backup", "-o", "x.dump"][..], "pg_dump"),
        (&["restore", "x.dump"][..], "pg_restore"),
    ] {
        let mut c = cmd(dir.path());
        c.args(args).env(
            "BAREME_MEL__DATABASE__URL",
            "postgres://bareme@127.0.0.1:1/bareme",
        );
        let r = run(c);
        assert_eq!(r.status, 64, "{}", r.stderr);
        assert!(r.stderr.contains(tool), "{}", r.stderr);
        assert!(r.stderr.contains("docs/exploitation.md"), "{}", r.stderr);
    }
}
