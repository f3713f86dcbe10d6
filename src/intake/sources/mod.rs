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
    store::{self, Db},
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
/// the next one, its attempts already counted, is read off the database;
/// and the sync that puts a written batch on disk runs while the next one
/// is counted and written, its messages acknowledged once it is done.
pub struct Batch<T> {
    size: usize,
    bytes: usize,
    items: Vec<(Incoming, T)>,
    /// The batch read last, waiting to be written.
    ahead: Option<(ReadBatch, Vec<T>)>,
    /// The batch written last, waiting for its sync to be acknowledged.
    syncing: Option<Written<T>>,
}

/// Messages recorded by a commit whose sync of the WAL is under way, with
/// their acknowledgement data.
struct Written<T> {
    sync: store::Syncing,
    results: Vec<Result<Outcome, IntakeError>>,
    acks: Vec<T>,
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
            syncing: None,
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
    /// of the batch written before that one with its acknowledgement data,
    /// in order, as soon as that message is on disk. The batch just read
    /// waits for the next call, or for [`Batch::finish`], which a source
    /// calls at the end.
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
            // Alone: what is ahead is written and acknowledged first, then
            // this one is read, written and acknowledged before anything
            // else is counted.
            if let Some((earlier, earlier_acks)) = self.ahead.take() {
                self.write(intake, earlier, earlier_acks, &mut each).await;
            }
            self.acknowledge(intake, &mut each).await;
            let read = intake.read_batch(counted).await;
            self.write(intake, read, acks, &mut each).await;
            self.acknowledge(intake, &mut each).await;
            return;
        }
        let read = match self.ahead.take() {
            Some((earlier, earlier_acks)) => {
                // Reading first: the blocking threads have the messages
                // before the write on SQLite runs to its end without
                // yielding (`Db::begin_inline`); then this thread is free
                // and one more reads what is left.
                let mut reading = intake.start_read(counted);
                self.write(intake, earlier, earlier_acks, &mut each).await;
                reading.help();
                reading.finish().await
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
            self.write(intake, read, acks, &mut each).await;
        }
        self.acknowledge(intake, &mut each).await;
    }

    /// Writes a batch read ahead and starts its sync; then acknowledges the
    /// batch written before it, whose sync ran meanwhile. The results of
    /// messages recorded one by one (synced each) go to `each` at once.
    async fn write(
        &mut self,
        intake: &Intake,
        read: ReadBatch,
        acks: Vec<T>,
        each: &mut impl FnMut(T, Result<Outcome, IntakeError>),
    ) {
        let mut acks = acks.into_iter();
        let results = intake
            .write_unsynced(read, &mut paired(&mut acks, each))
            .await;
        let written = Written {
            sync: intake.db().sync_commits(),
            results,
            acks: acks.collect(),
        };
        self.acknowledge(intake, each).await;
        self.syncing = Some(written);
    }

    /// Waits for the sync of the batch written last, then hands its
    /// messages to `each`.
    async fn acknowledge(
        &mut self,
        intake: &Intake,
        each: &mut impl FnMut(T, Result<Outcome, IntakeError>),
    ) {
        let Some(Written {
            sync,
            results,
            acks,
        }) = self.syncing.take()
        else {
            return;
        };
        let mut acks = acks.into_iter();
        intake
            .acknowledge(sync, results, &mut paired(&mut acks, each))
            .await;
    }
}

/// Hands each result to `each` with the next acknowledgement data of `acks`
/// (results come in the order of their messages).
fn paired<'a, T>(
    acks: &'a mut std::vec::IntoIter<T>,
    each: &'a mut impl FnMut(T, Result<Outcome, IntakeError>),
) -> impl FnMut(Result<Outcome, IntakeError>) + 'a {
    move |result| {
        if let Some(ack) = acks.next() {
            each(ack, result);
        }
    }
}
