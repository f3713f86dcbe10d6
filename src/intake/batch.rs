//! Group commit: a batch's attempts counted together, its messages read
//! off the database on blocking threads (one fewer than cores), then
//! written in one transaction whose commit is on disk before any of them is
//! acknowledged (issue 15); taken apart, each message alone, when one of
//! them fails.

use super::{
    Incoming, IntakeError, Outcome,
    pipeline::{BatchReading, Decided, Intake, Untrusted, log_handled, not_tried, reference_of},
    poison, record,
};
use crate::store::{
    StoreError, Syncing,
    attempts::{self, Attempt},
    inbox::Disposition,
};

impl Intake {
    /// Group commit: counts an attempt on every message of `batch` (see
    /// [`attempts::begin_batch`]), reads them off the database (on
    /// blocking threads, one fewer than there are cores), then writes
    /// them all in one transaction whose commit is on disk before this
    /// returns, so the source acknowledges them together. If any message
    /// fails inside the batch, or one of them has an attempt that did not
    /// finish (a batch that killed the process), the batch is taken apart:
    /// each message goes through [`Intake::ingest`] alone, counted alone, and
    /// one bad message never fails the others. Results are in the order of
    /// `batch`.
    pub async fn ingest_batch(&self, batch: Vec<Incoming>) -> Vec<Result<Outcome, IntakeError>> {
        let mut results = Vec::with_capacity(batch.len());
        self.ingest_batch_each(batch, |result| results.push(result))
            .await;
        results
    }

    /// [`Intake::ingest_batch`], handing each message's result to `each` in
    /// the order of `batch` as soon as it is on disk: after the batch's
    /// commit, or after each message's own commit when the batch is taken
    /// apart (so a source acknowledges what is recorded before a later
    /// message of the batch can kill the process).
    pub async fn ingest_batch_each(
        &self,
        batch: Vec<Incoming>,
        mut each: impl FnMut(Result<Outcome, IntakeError>),
    ) {
        let counted = self.count_batch(batch).await;
        let read = self.read_batch(counted).await;
        self.write_batch(read, &mut each).await;
    }

    /// The first step of a batch: one more attempt counted on each of its
    /// messages, in one commit, before any of them is read. A batch of one
    /// is counted as [`Intake::ingest`] counts it; one holding a message
    /// whose earlier attempt did not finish is left to go through
    /// [`Intake::ingest`] message by message.
    pub(crate) async fn count_batch(&self, mut batch: Vec<Incoming>) -> CountedBatch {
        if batch.len() == 1
            && let Some(incoming) = batch.pop()
        {
            let key = poison::key(&incoming);
            return match attempts::begin(&self.db, &key, self.settings.intake.max_attempts).await {
                Ok(attempt) => CountedBatch::Single {
                    incoming,
                    key,
                    attempt,
                },
                Err(e) => CountedBatch::Unavailable(e, 1),
            };
        }
        if batch.is_empty() {
            return CountedBatch::OneByOne(batch);
        }
        let keys: Vec<String> = batch.iter().map(poison::key).collect();
        match attempts::begin_batch(&self.db, &keys).await {
            Ok(true) => CountedBatch::Counted { batch, keys },
            Ok(false) => CountedBatch::OneByOne(batch),
            Err(e) => CountedBatch::Unavailable(e, batch.len()),
        }
    }

    /// The second step: reads the counted messages off the database, on a
    /// blocking thread per core, nothing being written beside (a source
    /// that writes the batch before meanwhile uses [`Intake::start_read`]).
    pub(crate) async fn read_batch(&self, counted: CountedBatch) -> ReadBatch {
        let mut reading = self.start_read(counted);
        reading.help();
        reading.finish().await
    }

    /// [`Intake::read_batch`] started: the blocking threads read on by
    /// themselves while the caller writes the batch before, then
    /// [`Reading::help`]s them.
    pub(crate) fn start_read(&self, counted: CountedBatch) -> Reading {
        match counted {
            CountedBatch::Counted { mut batch, keys } => Reading::Batch {
                reading: BatchReading::start(&mut batch, self.scan_settings()),
                incomings: batch,
                keys,
            },
            CountedBatch::Single {
                incoming,
                key,
                attempt: Attempt::Exhausted(n),
            } => Reading::Ready(ReadBatch::GiveUp { incoming, key, n }),
            CountedBatch::Single {
                mut incoming,
                key,
                attempt: Attempt::Go(_),
            } => Reading::Single {
                reading: BatchReading::start(
                    std::slice::from_mut(&mut incoming),
                    self.scan_settings(),
                ),
                incoming,
                key,
            },
            CountedBatch::OneByOne(batch) => Reading::Ready(ReadBatch::OneByOne(batch)),
            CountedBatch::Unavailable(e, n) => Reading::Ready(ReadBatch::Unavailable(e, n)),
        }
    }

    /// The last step: writes the batch in one transaction whose commit is on
    /// disk before `each` hears of any of its messages. If any message fails
    /// inside the batch, the batch is taken apart: each message goes through
    /// [`Intake::ingest`] alone, counted alone, and one bad message never
    /// fails the others.
    pub(crate) async fn write_batch(
        &self,
        read: ReadBatch,
        each: &mut impl FnMut(Result<Outcome, IntakeError>),
    ) {
        let unsynced = self.write_unsynced(read, each).await;
        self.acknowledge(self.db.sync_commits(), unsynced, each)
            .await;
    }

    /// [`Intake::write_batch`] without waiting for the disk: the results
    /// of messages recorded by a commit that is not on disk yet come back,
    /// in order, for the caller to hand out after a sync
    /// ([`Intake::acknowledge`]); those of messages recorded one by one
    /// (each synced before the next is tried) go to `each` at once.
    pub(crate) async fn write_unsynced(
        &self,
        read: ReadBatch,
        each: &mut impl FnMut(Result<Outcome, IntakeError>),
    ) -> Vec<Result<Outcome, IntakeError>> {
        let (incomings, reads, keys) = match read {
            ReadBatch::Read {
                incomings,
                reads,
                keys,
            } => (incomings, reads, keys),
            ReadBatch::Single {
                incoming,
                key,
                read,
            } => return vec![self.record_read(incoming, *read, &key).await],
            ReadBatch::GiveUp { incoming, key, n } => {
                each(self.give_up(&incoming, &key, n).await);
                return Vec::new();
            }
            ReadBatch::OneByOne(batch) => {
                self.one_by_one(batch, each).await;
                return Vec::new();
            }
            ReadBatch::Unavailable(e, n) => {
                each(Err(IntakeError::Unavailable(e)));
                for _ in 1..n {
                    each(Err(not_tried()));
                }
                return Vec::new();
            }
        };
        if reads.iter().any(Result::is_err) {
            // Best effort: a count left behind only takes the next batch apart.
            let _ = attempts::clear_batch(self.db.conn(), &keys).await;
            self.one_by_one(incomings, each).await;
            return Vec::new();
        }
        let attempt = async {
            let txn = self.db.begin_inline().await?;
            // PostgreSQL: the batch's records and requests are then
            // inserted as deferred writes, not one round trip each.
            record::take_ids_ahead(&txn, incomings.len()).await?;
            let mut outcomes = Vec::with_capacity(incomings.len());
            for (incoming, read) in incomings.iter().zip(reads) {
                let read = read.map_err(|e| StoreError::Invalid(e.to_string()))?;
                let outcome = match self.decide(&txn, incoming, read).await? {
                    Decided::Done(outcome) => outcome,
                    Decided::SamePosition { id, request_id } => Outcome {
                        disposition: Disposition::Duplicate,
                        reference: match request_id {
                            Some(rid) => reference_of(&txn, rid).await?,
                            None => None,
                        },
                        inbound_id: Some(id),
                        recorded: false,
                    },
                };
                outcomes.push(outcome);
            }
            // Recorded: the counts go with the commit that records them.
            attempts::clear_batch(&txn, &keys).await?;
            txn.commit_unsynced().await?;
            Ok::<_, StoreError>(outcomes)
        };
        match attempt.await {
            Ok(outcomes) => incomings
                .iter()
                .zip(outcomes)
                .map(|(incoming, outcome)| {
                    log_handled(incoming, &outcome);
                    Ok(outcome)
                })
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, size = incomings.len(), "batch rolled back, its messages are handled one by one");
                // Not the messages' fault: each is counted again alone.
                let _ = attempts::clear_batch(self.db.conn(), &keys).await;
                self.one_by_one(incomings, each).await;
                Vec::new()
            }
        }
    }

    /// Hands `unsynced` ([`Intake::write_unsynced`]) to `each` once `sync`,
    /// started after their commit, is done: their messages are then on
    /// disk. If the disk refused, none of them is acknowledged (the source
    /// delivers them again and dedup recognises them).
    pub(crate) async fn acknowledge(
        &self,
        sync: Syncing,
        unsynced: Vec<Result<Outcome, IntakeError>>,
        each: &mut impl FnMut(Result<Outcome, IntakeError>),
    ) {
        if unsynced.is_empty() {
            // Recorded one by one, each synced already.
            return;
        }
        match sync.wait().await {
            Ok(()) => unsynced.into_iter().for_each(each),
            Err(e) => {
                tracing::error!(error = %e, size = unsynced.len(), "the WAL could not be synced: messages not acknowledged");
                let message = e.to_string();
                for _ in unsynced {
                    each(Err(IntakeError::Unavailable(StoreError::Invalid(
                        message.clone(),
                    ))));
                }
            }
        }
    }

    /// Each message alone; after the database is found unavailable, the
    /// rest are not tried (the source keeps them for later).
    async fn one_by_one(
        &self,
        batch: Vec<Incoming>,
        each: &mut impl FnMut(Result<Outcome, IntakeError>),
    ) {
        let mut unavailable = false;
        for incoming in batch {
            if unavailable {
                each(Err(not_tried()));
                continue;
            }
            let result = self.ingest(incoming).await;
            unavailable = matches!(result, Err(IntakeError::Unavailable(_)));
            each(result);
        }
    }
}

/// A batch whose attempts were counted ([`Intake::count_batch`]).
pub(crate) enum CountedBatch {
    Counted {
        batch: Vec<Incoming>,
        keys: Vec<String>,
    },
    /// A batch of one, counted as [`Intake::ingest`] counts it.
    Single {
        incoming: Incoming,
        key: String,
        attempt: Attempt,
    },
    /// Goes message by message through [`Intake::ingest`].
    OneByOne(Vec<Incoming>),
    /// The database could not count them: none is tried (how many).
    Unavailable(StoreError, usize),
}

impl CountedBatch {
    /// Whether an earlier process may have died reading it: a batch taken
    /// apart, or a message already tried. It is then read and written
    /// alone, nothing else counted or read meanwhile, so that if it kills
    /// the process again it is the only one counted.
    pub(crate) fn is_suspect(&self) -> bool {
        match self {
            Self::OneByOne(_) => true,
            Self::Single {
                attempt: Attempt::Go(n),
                ..
            } => *n > 1,
            _ => false,
        }
    }
}

/// A batch being read off the database ([`Intake::start_read`]).
pub(crate) enum Reading {
    Batch {
        incomings: Vec<Incoming>,
        keys: Vec<String>,
        reading: BatchReading,
    },
    Single {
        incoming: Incoming,
        key: String,
        reading: BatchReading,
    },
    /// Nothing to read.
    Ready(ReadBatch),
}

impl Reading {
    /// The caller's thread is free again: see [`BatchReading::help`].
    pub(crate) fn help(&mut self) {
        if let Self::Batch { reading, .. } = self {
            reading.help();
        }
    }

    /// Waits for the reading to end.
    pub(crate) async fn finish(self) -> ReadBatch {
        match self {
            Self::Batch {
                mut incomings,
                keys,
                reading,
            } => ReadBatch::Read {
                reads: reading.finish(&mut incomings).await,
                incomings,
                keys,
            },
            Self::Single {
                mut incoming,
                key,
                reading,
            } => ReadBatch::Single {
                read: Box::new(reading.finish_one(&mut incoming).await),
                incoming,
                key,
            },
            Self::Ready(read) => read,
        }
    }
}

/// A batch read off the database ([`Intake::read_batch`]), to be written.
pub(crate) enum ReadBatch {
    Read {
        incomings: Vec<Incoming>,
        reads: Vec<Result<Untrusted, IntakeError>>,
        keys: Vec<String>,
    },
    /// A batch of one, read after its attempt was counted.
    Single {
        incoming: Incoming,
        key: String,
        read: Box<Result<Untrusted, IntakeError>>,
    },
    /// A batch of one given up after `n` attempts, to be recorded unread.
    GiveUp {
        incoming: Incoming,
        key: String,
        n: i32,
    },
    OneByOne(Vec<Incoming>),
    Unavailable(StoreError, usize),
}
