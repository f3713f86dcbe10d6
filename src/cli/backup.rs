//! `bareme-mel backup -o FILE` and `bareme-mel restore FILE` (SPEC §12).
//!
//! SQLite: `VACUUM INTO` writes a consistent copy of the whole database (mail,
//! attachments and audit chain included) from one read transaction, while
//! `serve` and `ingest` keep writing; restore puts such a copy in place of a
//! database that does not exist yet, never over one. PostgreSQL is backed up
//! with `pg_dump`: both commands refuse and say how.

use super::{CliError, CliResult, EX_CANTCREAT, EX_DATAERR, EX_TEMPFAIL, EX_USAGE, open};
use crate::{
    config::{Database, Secret, Settings},
    store::{self, Db, sqlite_path},
};
use std::path::{Path, PathBuf};

/// The SQLite file of the configuration, or the French refusal for PostgreSQL.
fn sqlite_file(settings: &Settings, command: &str) -> Result<PathBuf, CliError> {
    let url = settings.database.url.expose();
    if url.starts_with("postgres") {
        let hint = if command == "backup" {
            "pg_dump --format=custom --file=FICHIER.dump \"$URL\""
        } else {
            "pg_restore --no-owner --dbname=\"$URL\" FICHIER.dump (sur une base vide)"
        };
        return Err(CliError::with_status(
            format!(
                "la base configurée est PostgreSQL : utilisez {hint} — voir docs/exploitation.md, « Sauvegarde »"
            ),
            EX_USAGE,
        ));
    }
    sqlite_path(url).ok_or_else(|| {
        CliError::with_status(
            "database.url ne désigne pas un fichier SQLite : rien à sauvegarder",
            EX_USAGE,
        )
    })
}

/// Request, message and audit-event counts, printed by both commands so they can be compared.
async fn counts(db: &Db) -> Result<String, CliError> {
    let store::backup::Counts {
        requests,
        messages,
        events,
    } = store::backup::counts(db).await?;
    Ok(format!(
        "{requests} demande(s), {messages} courriel(s) reçu(s), {events} événement(s) d'audit"
    ))
}

fn sqlite_url(path: &Path) -> Secret {
    Secret(format!("sqlite://{}?mode=rw", path.display()))
}

async fn connect(path: &Path) -> Result<Db, CliError> {
    Db::connect(&Database {
        url: sqlite_url(path),
        max_connections: 1,
    })
    .await
    .map_err(|e| CliError::with_status(format!("{}: {e}", path.display()), EX_TEMPFAIL))
}

pub async fn backup(settings: &Settings, output: &Path) -> CliResult {
    let source = sqlite_file(settings, "backup")?;
    if !source.is_file() {
        return Err(CliError::with_status(
            format!(
                "aucune base à sauvegarder : {} n'existe pas — vérifiez database.url et le dossier de travail",
                source.display()
            ),
            EX_USAGE,
        ));
    }
    if output.exists() {
        return Err(CliError::with_status(
            format!(
                "{} existe déjà : choisissez un autre nom (une sauvegarde n'en écrase jamais une autre)",
                output.display()
            ),
            EX_CANTCREAT,
        ));
    }
    let db = open(settings).await?;
    // VACUUM INTO writes the file itself; a name beside it, renamed once
    // complete, so that a crash never leaves a half backup under the final name.
    let partial = with_suffix(output, ".partiel");
    let _ = std::fs::remove_file(&partial);
    store::backup::vacuum_into(&db, &partial)
        .await
        .map_err(|e| {
            let _ = std::fs::remove_file(&partial);
            CliError::with_status(
                format!("sauvegarde impossible vers {} : {e}", output.display()),
                EX_TEMPFAIL,
            )
        })?;
    let copy = connect(&partial).await?;
    let summary = counts(&copy).await;
    copy.close().await?;
    let summary = summary?;
    std::fs::rename(&partial, output)?;
    println!("sauvegarde écrite : {} — {summary}", output.display());
    Ok(())
}

pub async fn restore(settings: &Settings, input: &Path) -> CliResult {
    let target = sqlite_file(settings, "restore")?;
    if !input.is_file() {
        return Err(CliError::with_status(
            format!("sauvegarde introuvable : {}", input.display()),
            EX_USAGE,
        ));
    }
    for existing in [
        target.clone(),
        with_suffix(&target, "-wal"),
        with_suffix(&target, "-journal"),
    ] {
        if existing.exists() {
            return Err(CliError::with_status(
                format!(
                    "{} existe déjà : la restauration se fait sur un dossier de données vide — arrêtez le service et déplacez l'ancienne base d'abord",
                    existing.display()
                ),
                EX_CANTCREAT,
            ));
        }
    }
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let partial = with_suffix(&target, ".restauration");
    let _ = std::fs::remove_file(&partial);
    std::fs::copy(input, &partial)?;
    let checked = check(&partial).await;
    let summary = match checked {
        Ok(s) => s,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    std::fs::rename(&partial, &target)?;
    println!(
        "base restaurée : {} — {summary} ; vérifiez-la avec « bareme-mel audit verify »",
        target.display()
    );
    Ok(())
}

/// Opens a copied backup and checks it is a sound bareme-mel database.
async fn check(path: &Path) -> Result<String, CliError> {
    let not_a_backup = |why: String| {
        CliError::with_status(
            format!("ce fichier n'est pas une sauvegarde de bareme-mel utilisable : {why}"),
            EX_DATAERR,
        )
    };
    let db = connect(path).await.map_err(|e| not_a_backup(e.message))?;
    let result = async {
        let verdict = store::backup::integrity_check(&db)
            .await
            .map_err(|e| not_a_backup(e.to_string()))?;
        if verdict != "ok" {
            return Err(not_a_backup(format!("contrôle d'intégrité : {verdict}")));
        }
        counts(&db).await.map_err(|e| not_a_backup(e.message))
    }
    .await;
    db.close().await?;
    result
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}
