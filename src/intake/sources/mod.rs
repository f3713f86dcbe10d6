//! The sources feeding the pipeline: a Maildir (`ingest --maildir` and the
//! watcher of `serve`) and an IMAP mailbox. The MTA pipe (`ingest`) lives in
//! `cli/ingest.rs`, the HTTP endpoint in `web/api.rs`.

pub mod imap;
pub mod imap_conn;
pub mod maildir;

use crate::{
    config::Settings,
    intake::{Incoming, Intake, IntakeError, Outcome},
    store::Db,
};
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

/// A batch of messages that fills up to `intake.batch_size` messages or
/// [`Batch::MAX_BYTES`], each with what its source needs to acknowledge it.
pub struct Batch<T> {
    size: usize,
    bytes: usize,
    items: Vec<(Incoming, T)>,
}

impl<T> Batch<T> {
    /// Past this many bytes in memory a batch is full, whatever its count.
    pub const MAX_BYTES: usize = 32 * 1024 * 1024;

    pub fn new(intake: &Intake) -> Self {
        Self {
            size: intake.settings().intake.batch_size.max(1),
            bytes: 0,
            items: Vec::new(),
        }
    }

    /// Adds a message; true when the batch is now full.
    pub fn push(&mut self, incoming: Incoming, ack: T) -> bool {
        self.bytes += incoming.bytes.len();
        self.items.push((incoming, ack));
        self.items.len() >= self.size || self.bytes >= Self::MAX_BYTES
    }

    /// Runs the batch through the pipeline (one transaction) and empties it;
    /// `each` gets each message's result with its acknowledgement data, in
    /// order, as soon as that message is on disk.
    pub async fn run(
        &mut self,
        intake: &Intake,
        mut each: impl FnMut(T, Result<Outcome, IntakeError>),
    ) {
        self.bytes = 0;
        let (incomings, acks): (Vec<Incoming>, Vec<T>) =
            std::mem::take(&mut self.items).into_iter().unzip();
        let mut acks = acks.into_iter();
        intake
            .ingest_batch_each(incomings, |result| {
                if let Some(ack) = acks.next() {
                    each(ack, result);
                }
            })
            .await;
    }
}
