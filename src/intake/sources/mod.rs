//! The sources feeding the pipeline: a Maildir (`ingest --maildir` and the
//! watcher of `serve`) and an IMAP mailbox. The MTA pipe (`ingest`) lives in
//! `cli/ingest.rs`, the HTTP endpoint in `web/api.rs` (its posts are
//! batched by [`collector`]).

pub mod collector;
pub mod imap;
pub mod imap_conn;
pub mod maildir;

use crate::{
    config::Settings,
    intake::{Incoming, Intake, IntakeError, Outcome, batch::ReadBatch},
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
/// Batches overlap: while one is written (one transaction, group commit),
/// the next one, its attempts already counted, is read off the database.
pub struct Batch<T> {
    size: usize,
    bytes: usize,
    items: Vec<(Incoming, T)>,
    /// The batch read last, waiting to be written.
    ahead: Option<(ReadBatch, Vec<T>)>,
}

impl<T> Batch<T> {
    /// Past this many bytes in memory a batch is full, whatever its count.
    pub const MAX_BYTES: usize = 32 * 1024 * 1024;

    pub fn new(intake: &Intake) -> Self {
        Self {
            size: intake.settings().intake.batch_size.max(1),
            bytes: 0,
            items: Vec::new(),
            ahead: None,
        }
    }

    /// Adds a message; true when the batch is now full.
    pub fn push(&mut self, incoming: Incoming, ack: T) -> bool {
        self.bytes += incoming.bytes.len();
        self.items.push((incoming, ack));
        self.items.len() >= self.size || self.bytes >= Self::MAX_BYTES
    }

    /// Counts an attempt on each message of the batch, then reads them while
    /// the batch read before (if any) is written; `each` gets each message
    /// of that earlier batch with its acknowledgement data, in order, as soon
    /// as that message is on disk. The batch just read waits for the next
    /// call, or for [`Batch::finish`], which a source calls at the end.
    pub async fn run(
        &mut self,
        intake: &Intake,
        mut each: impl FnMut(T, Result<Outcome, IntakeError>),
    ) {
        self.bytes = 0;
        let (incomings, acks): (Vec<Incoming>, Vec<T>) =
            std::mem::take(&mut self.items).into_iter().unzip();
        // Counted before the earlier batch is written: if reading this one
        // kills the process, both batches are taken apart next time.
        let counted = intake.count_batch(incomings).await;
        if counted.is_suspect() {
            // Alone: what is ahead is written first, then this one is read
            // and written before anything else is counted.
            if let Some((earlier, earlier_acks)) = self.ahead.take() {
                write(intake, earlier, earlier_acks, &mut each).await;
            }
            let read = intake.read_batch(counted).await;
            write(intake, read, acks, &mut each).await;
            return;
        }
        let read = match self.ahead.take() {
            Some((earlier, earlier_acks)) => {
                let write = write(intake, earlier, earlier_acks, &mut each);
                let ((), read) = tokio::join!(write, intake.read_batch(counted));
                read
            }
            None => intake.read_batch(counted).await,
        };
        self.ahead = Some((read, acks));
    }

    /// Runs what is left and writes the last batch read: every message
    /// pushed has had its result handed to `each` when this returns.
    pub async fn finish(
        &mut self,
        intake: &Intake,
        mut each: impl FnMut(T, Result<Outcome, IntakeError>),
    ) {
        if !self.items.is_empty() {
            self.run(intake, &mut each).await;
        }
        if let Some((read, acks)) = self.ahead.take() {
            write(intake, read, acks, &mut each).await;
        }
    }
}

/// Writes a batch read ahead, handing each result to `each` with its ack.
async fn write<T>(
    intake: &Intake,
    read: ReadBatch,
    acks: Vec<T>,
    each: &mut impl FnMut(T, Result<Outcome, IntakeError>),
) {
    let mut acks = acks.into_iter();
    intake
        .write_batch(read, &mut |result| {
            if let Some(ack) = acks.next() {
                each(ack, result);
            }
        })
        .await;
}
