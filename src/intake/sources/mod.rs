//! The sources feeding the pipeline: a Maildir (`ingest --maildir` and the
//! watcher of `serve`) and an IMAP mailbox. The MTA pipe (`ingest`) lives in
//! `cli/ingest.rs`, the HTTP endpoint in `web/api.rs`.

pub mod imap;
pub mod imap_conn;
pub mod maildir;

use crate::{config::Settings, intake::Intake, store::Db};
use std::{sync::Arc, time::Duration};
use tokio::{sync::watch, task::JoinHandle};

/// Starts the Maildir watcher (when `intake.maildir` is set) and the IMAP
/// poller (when `intake.imap.host` is set); each stops when `stop` turns true.
pub fn spawn(settings: Arc<Settings>, db: Db, stop: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    let intake = Intake::new(db, settings.clone());
    let mut tasks = Vec::new();
    if !settings.intake.maildir.as_os_str().is_empty() {
        let interval = Duration::from_secs(settings.intake.maildir_poll_secs.max(1));
        tasks.push(tokio::spawn(maildir::watch(
            intake.clone(),
            settings.intake.maildir.clone(),
            interval,
            stop.clone(),
        )));
    }
    if !settings.intake.imap.host.is_empty() {
        tasks.push(tokio::spawn(imap::run(intake, stop)));
    }
    tasks
}
