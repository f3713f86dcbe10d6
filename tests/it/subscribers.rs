//! `subscribers import|export` against SQLite and PostgreSQL.

use crate::harness::{TestDb, cmd, run};
use bareme_mel::{
    domain::SubscriberNumber,
    store::{Db, subscribers},
};

const GOOD_AND_BAD: &str = "numero_abonne,organisme,gestionnaire,adresse_mel
10001,Lycée Joffre,Marie Durand,m.durand@lycee-joffre.fr
10002,Collège Camus,,secretariat@college-camus.fr
12a45,Lycée Mermoz,Paul Petit,p.petit@lycee-mermoz.fr
10003,École Jules Ferry,Anne Roux,pas-une-adresse
10004,,Jean Blanc,j.blanc@ecole.fr
10001,Lycée Joffre bis,Marie Durand,m.durand@lycee-joffre.fr
10005,\"=HYPERLINK(\"\"http://x\"\")\",Léa Noir,l.noir@ecole-noire.fr
10006,Lycée « Jean-Moulin »,Françoise Hélène,
";

fn cli(dir: &std::path::Path, url: &str, args: &[&str]) -> crate::harness::Ran {
    let mut c = cmd(dir);
    c.env("BAREME_MEL__DATABASE__URL", url)
        .arg("subscribers")
        .args(args);
    run(c)
}

async fn import_scenario(url: &str, db: &Db) {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("abonnes.csv");
    std::fs::write(&csv, GOOD_AND_BAD).unwrap();
    let r = cli(dir.path(), url, &["import", csv.to_str().unwrap()]);
    assert_eq!(
        r.status, 65,
        "rejected lines give a non-zero status: {}",
        r.stderr
    );
    assert!(r.stdout.contains("4 créée(s)"), "{}", r.stdout);
    assert!(r.stdout.contains("4 rejetée(s)"), "{}", r.stdout);
    assert!(
        r.stderr.contains("ligne 4 rejetée : numero_abonne"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("ligne 5 rejetée : adresse_mel"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("ligne 6 rejetée : organisme"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("ligne 7 rejetée : numero_abonne 10001 déjà présent"),
        "{}",
        r.stderr
    );

    // Idempotent: the same file again changes nothing.
    let r = cli(dir.path(), url, &["import", csv.to_str().unwrap()]);
    assert!(
        r.stdout
            .contains("0 créée(s), 0 modifiée(s), 4 inchangée(s)"),
        "{}",
        r.stdout
    );

    // A changed address updates the record and opens a new history row.
    std::fs::write(
        &csv,
        "numero_abonne;organisme;gestionnaire;adresse_mel\n10002;Collège Camus;Luc Martin;l.martin@college-camus.fr\n",
    )
    .unwrap();
    let r = cli(dir.path(), url, &["import", csv.to_str().unwrap()]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(r.stdout.contains("1 modifiée(s)"), "{}", r.stdout);
    let s = subscribers::find_by_number(db.conn(), &SubscriberNumber::parse("10002").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.email.as_deref(), Some("l.martin@college-camus.fr"));
    let history = subscribers::address_history(db.conn(), s.id).await.unwrap();
    assert_eq!(history.len(), 2);
    assert!(history[0].valid_to.is_some() && history[1].valid_to.is_none());
    assert_eq!(
        history[0].email.as_deref(),
        Some("secretariat@college-camus.fr")
    );

    let r = cli(dir.path(), url, &["export"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let mut lines = r.stdout.lines();
    assert_eq!(
        lines.next(),
        Some("numero_abonne,organisme,gestionnaire,adresse_mel")
    );
    assert!(
        r.stdout
            .contains("10006,Lycée « Jean-Moulin »,Françoise Hélène,"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("'=HYPERLINK"),
        "formulas are neutralised: {}",
        r.stdout
    );
    assert_eq!(r.stdout.lines().count(), 5);
}

#[tokio::test]
async fn import_reports_rejected_lines_is_idempotent_and_exports_on_sqlite() {
    let t = TestDb::sqlite().await;
    import_scenario(&t.url, &t.db).await;
}

#[tokio::test]
async fn import_reports_rejected_lines_is_idempotent_and_exports_on_postgres() {
    let Some(t) = TestDb::postgres().await else {
        return;
    };
    import_scenario(&t.url, &t.db).await;
}

#[test]
fn a_file_without_the_expected_columns_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("x.csv");
    std::fs::write(&csv, "numero,nom\n1,a\n").unwrap();
    let r = run({
        let mut c = cmd(dir.path());
        c.args(["subscribers", "import", csv.to_str().unwrap()]);
        c
    });
    assert_eq!(r.status, 65);
    assert!(r.stderr.contains("numero_abonne"), "{}", r.stderr);
}

crate::on_both_databases!(
    the_upgrade_fills_in_the_address_key_intake_matches_on,
    |db: Db| async move {
        use bareme_mel::{domain::MailAddress, store::entities::subscriber};
        use migration::MigratorTrait;
        use sea_orm::{ConnectionTrait, EntityTrait};
        // Subscribers stored before the key existed: take the migration back
        // (migration 13), with the ones after it.
        let all = migration::Migrator::migrations();
        let key = all
            .iter()
            .position(|m| m.name() == "m20261201_000013_add_subscriber_email_key")
            .unwrap();
        let back = u32::try_from(all.len() - key).unwrap();
        migration::Migrator::down(db.conn(), Some(back))
            .await
            .unwrap();
        for (number, email) in [
            ("20001", "Marie.Durand@Lycee-Joffre.FR"),
            ("20002", "Secretariat@Lycée-Élysée.fr"),
        ] {
            db.conn()
                .execute_unprepared(&format!(
                    "INSERT INTO subscribers (number, organisation, email, disabled, created_at, updated_at) \
                     VALUES ('{number}', 'Lycée', '{email}', false, '2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00')"
                ))
                .await
                .unwrap();
        }
        db.migrate().await.unwrap();
        let keys: Vec<Option<String>> = subscriber::Entity::find()
            .all(db.conn())
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.email_key)
            .collect();
        assert_eq!(
            keys,
            [
                Some("marie.durand@lycee-joffre.fr".to_string()),
                Some("secretariat@xn--lyce-lyse-d4acd.fr".to_string())
            ]
        );
        let taken = MailAddress::parse("SECRETARIAT@xn--lyce-lyse-d4acd.fr").unwrap();
        let (_, used) = subscribers::for_claim(db.conn(), None, Some(&taken))
            .await
            .unwrap();
        assert_eq!(used, Some(true));
    }
);
