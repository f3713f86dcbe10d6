//! `bareme-mel key rotate`: a new application key; every secret sealed with
//! the old one is sealed again with the new one, and the audit chain keyed
//! again, in one transaction.

use super::{CliError, CliResult, EX_CANTCREAT, cli_actor};
use crate::{
    appkey::{self, AppKey},
    backoffice::second_factor,
    config::Settings,
    store::{Db, StoreError, audit},
};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Replace the application key: TOTP secrets are re-sealed with the new one.
    Rotate,
}

pub async fn run(command: KeyCommand, settings: &Settings, db: &Db) -> CliResult {
    match command {
        KeyCommand::Rotate => rotate(settings, db).await,
    }
}

async fn rotate(settings: &Settings, db: &Db) -> CliResult {
    let path = settings.key_file();
    let pending = path.with_extension("key.new");
    if pending.exists() {
        return Err(CliError::with_status(
            format!(
                "une rotation précédente s'est interrompue : {} existe. Si `audit verify` et la connexion à deux facteurs échouent avec la clé actuelle, renommez ce fichier en {} ; sinon supprimez-le, puis recommencez",
                pending.display(),
                path.display()
            ),
            EX_CANTCREAT,
        ));
    }
    let old = appkey::current();
    let new = AppKey::generate().map_err(|e| CliError::temporary(e.to_string()))?;
    let resealed = second_factor::reseal(db, &old, &new).await?;
    new.write_new(&pending)
        .map_err(|e| CliError::with_status(e.to_string(), EX_CANTCREAT))?;
    let txn = db.begin().await?;
    for (id, value) in &resealed {
        crate::store::staff::replace_totp_secret(&txn, *id, value).await?;
    }
    audit::append(
        &txn,
        audit::NewEvent {
            actor: cli_actor(),
            action: "app_key_rotated".into(),
            details: serde_json::json!({ "totp_secrets": resealed.len() }),
            ..Default::default()
        },
    )
    .await?;
    // The audit chain, this event included, is keyed with the new key.
    audit::rechain(&txn, &old, &new).await?;
    txn.commit().await.map_err(StoreError::from)?;
    std::fs::rename(&pending, &path).map_err(|e| {
        CliError::with_status(
            format!(
                "la base utilise la nouvelle clé mais {} n'a pas pu remplacer {} : {e} — renommez-le à la main",
                pending.display(),
                path.display()
            ),
            EX_CANTCREAT,
        )
    })?;
    println!(
        "clé de l'application renouvelée ({}) : {} secret(s) TOTP rechiffré(s)",
        path.display(),
        resealed.len()
    );
    Ok(())
}
