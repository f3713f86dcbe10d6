//! Maildir source: each file of `new/` goes through the pipeline and is
//! moved to `cur/` (flag `S`) only after its transaction committed. A file
//! left in `new/` by a crash is seen again and answered by the dedup on its
//! position (`maildir:<unique name>`), so nothing is done twice.

use super::Batch;
use crate::intake::{
    Intake, IntakeError, Origin, Outcome,
    limit::{FileError, read_ahead},
};
use std::{
    path::{Path, PathBuf},
    time::Duration,
};
use tokio::sync::watch;

/// Creates `new/`, `cur/` and `tmp/` under `dir` when missing.
pub fn ensure(dir: &Path) -> std::io::Result<()> {
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    Ok(())
}

/// Files waiting in `new/`, oldest name first.
fn waiting(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("new"))?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| !n.starts_with('.'))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Handles every message waiting in `dir/new`; calls `each` with each
/// outcome. Messages go through the pipeline in batches of
/// `intake.batch_size` (one transaction each, group commit); a file is moved
/// to `cur/` only after its batch committed. Stops at the first database
/// failure (that file and the ones after it stay in `new/`).
pub async fn drain(
    intake: &Intake,
    dir: &Path,
    mut each: impl FnMut(&Outcome),
) -> Result<usize, IntakeError> {
    ensure(dir)?;
    let max = intake.settings().intake.max_message_bytes;
    let mut handled = 0;
    let mut batch = Batch::new(intake);
    // Read ahead on a blocking thread while the batches before are handled.
    let mut files = read_ahead(
        waiting(dir)?,
        max,
        intake.settings().intake.batch_size.max(1),
        |path| Origin::new("maildir", Some(format!("maildir:{}", unique(path)))),
    );
    while let Some((path, read, _allowance)) = files.recv().await {
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        let incoming = match read {
            Ok(incoming) => incoming,
            // Taken by another process in the meantime.
            Err(FileError::Open(e)) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(FileError::Open(e) | FileError::Read(e)) => return Err(e.into()),
        };
        if batch.push(incoming, (path, name)) {
            handled += flush(intake, dir, &mut batch, &mut each, false).await?;
        }
    }
    handled += flush(intake, dir, &mut batch, &mut each, true).await?;
    Ok(handled)
}

/// A Maildir file's unique name: its name without the `:2,…` flags.
fn unique(path: &Path) -> String {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    name.split(':').next().unwrap_or(name).to_string()
}

/// Runs the batch (see [`Batch::run`]: the batch read before it is written
/// meanwhile), or at the `end` finishes it, and moves each file written to
/// `cur/` in order.
async fn flush(
    intake: &Intake,
    dir: &Path,
    batch: &mut Batch<(PathBuf, String)>,
    each: &mut impl FnMut(&Outcome),
    end: bool,
) -> Result<usize, IntakeError> {
    let mut handled = 0;
    let mut failed = None;
    let moved = |(path, name): (PathBuf, String), result: Result<Outcome, IntakeError>| {
        if failed.is_some() {
            return;
        }
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(e) => {
                failed = Some(e);
                return;
            }
        };
        let done = if name.contains(":2,") {
            name.clone()
        } else {
            format!("{name}:2,S")
        };
        if let Err(e) = std::fs::rename(&path, dir.join("cur").join(done))
            && e.kind() != std::io::ErrorKind::NotFound
        {
            failed = Some(e.into());
            return;
        }
        each(&outcome);
        handled += 1;
    };
    if end {
        batch.finish(intake, moved).await;
    } else {
        batch.run(intake, moved).await;
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(handled),
    }
}

/// Watches `dir` every `interval` until `stop` turns true.
pub async fn watch(
    intake: Intake,
    dir: PathBuf,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    tracing::info!(dir = %dir.display(), "maildir watcher started");
    loop {
        if *stop.borrow() {
            break;
        }
        if let Err(e) = drain(&intake, &dir, |_| {}).await {
            tracing::warn!(error = %e, dir = %dir.display(), "maildir intake paused");
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.changed() => {}
        }
    }
    tracing::info!("maildir watcher stopped");
}
