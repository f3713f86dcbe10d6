//! `bareme-mel ingest [--maildir DIR] [FILE...]`: the MTA pipe (one message
//! on stdin), files, or a Maildir, through the intake pipeline. One line per
//! message on stdout: `<disposition> <reference or ->`. Exit status 0 when
//! every message is handled, 75 on a temporary failure (the MTA retries),
//! 64 on a usage error.

use super::{CliError, CliResult, EX_TEMPFAIL, EX_USAGE, open_migrated};
use crate::{
    config::Settings,
    intake::{
        Intake, IntakeError, Origin, Outcome,
        limit::{self, FileError, read_limited},
        sources::{Batch, maildir},
    },
};
use std::{
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

fn failed(e: IntakeError) -> CliError {
    match e {
        IntakeError::Unavailable(_) => {
            CliError::with_status(format!("{e} — réessayez plus tard"), EX_TEMPFAIL)
        }
        IntakeError::Io(_) => CliError::with_status(e.to_string(), EX_TEMPFAIL),
    }
}

fn print(outcome: &Outcome) {
    println!("{}", outcome.line());
    HANDLED.fetch_add(1, Ordering::Relaxed);
}

/// Messages whose line was printed, for the closing statistics.
static HANDLED: AtomicU64 = AtomicU64::new(0);

pub async fn run(settings: Settings, maildir: Option<PathBuf>, files: Vec<PathBuf>) -> CliResult {
    for f in &files {
        if !f.is_file() {
            return Err(CliError::with_status(
                format!("fichier introuvable : {}", f.display()),
                EX_USAGE,
            ));
        }
    }
    if let Some(dir) = &maildir
        && !dir.is_dir()
    {
        return Err(CliError::with_status(
            format!("dossier Maildir introuvable : {}", dir.display()),
            EX_USAGE,
        ));
    }
    let max = settings.intake.max_message_bytes;
    let db = open_migrated(&settings).await?;
    // Counted from here: opening and migration checks are not per message.
    let statements_before = db.statements();
    let intake = Intake::new(db, Arc::new(settings));
    if let Some(dir) = &maildir {
        maildir::drain(&intake, dir, print).await.map_err(failed)?;
    }
    // Files are handled in batches of `intake.batch_size` (group commit),
    // each read while the one before is written; a line is printed for each
    // once its batch is committed.
    let mut batch = Batch::new(&intake);
    let count = files.len();
    let mut files = limit::read_ahead(
        files,
        max,
        intake.settings().intake.batch_size.max(1),
        |_| Origin::new("file", None),
    );
    for i in 0..count {
        let Some((f, read, _allowance)) = files.recv().await else {
            return Err(CliError::internal(
                "lecture des fichiers interrompue — relancez la commande (les messages déjà enregistrés sont reconnus)",
            ));
        };
        let incoming = match read {
            Ok(incoming) => incoming,
            Err(FileError::Open(e)) => {
                return Err(CliError::with_status(
                    format!("lecture de {} impossible : {e}", f.display()),
                    EX_USAGE,
                ));
            }
            Err(FileError::Read(e)) => return Err(failed(e.into())),
        };
        let last = i + 1 == count;
        if batch.push(incoming, ()) || last {
            let mut error = None;
            let each = |(), result| match result {
                Ok(outcome) if error.is_none() => print(&outcome),
                Ok(_) => {}
                Err(e) => {
                    error.get_or_insert(e);
                }
            };
            if last {
                batch.finish(&intake, each).await;
            } else {
                batch.run(&intake, each).await;
            }
            if let Some(e) = error {
                return Err(failed(e));
            }
        }
    }
    if maildir.is_none() && count == 0 {
        let incoming = read_limited(tokio::io::stdin(), max, Origin::new("stdin", None))
            .await
            .map_err(|e| failed(e.into()))?;
        print(&intake.ingest(incoming).await.map_err(failed)?);
    }
    // What the intake benchmark reads (scripts/bench/intake-compare.sh).
    tracing::debug!(
        messages = HANDLED.load(Ordering::Relaxed),
        statements = intake.db().statements() - statements_before,
        "ingest finished"
    );
    Ok(())
}
