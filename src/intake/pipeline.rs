//! The pipeline: one message in, one recorded disposition out, all of its
//! writes in one transaction. A database that cannot be reached gives
//! [`IntakeError::Unavailable`] (the source keeps the message and retries);
//! any other failure still records the message, quarantined with the reason,
//! so that one bad message never blocks the next.

use super::{
    Incoming, IntakeError, Outcome, dedup, extract, parse, poison,
    record::{self, NewInbound},
    validate,
};
use crate::{
    config::Settings,
    store::{
        Conn, Db, StoreError, Txn,
        attempts::{self, Attempt},
        inbox::Disposition,
        requests,
    },
};
use chrono::Utc;
use std::sync::Arc;

/// The intake pipeline, cheap to clone, shared by every source.
#[derive(Clone)]
pub struct Intake {
    pub(super) db: Db,
    pub(super) settings: Arc<Settings>,
}

/// What the steps decided before anything is written.
pub(super) struct Draft<'a> {
    pub(super) incoming: &'a Incoming,
    pub(super) mail: Option<&'a parse::ParsedMail>,
    /// The form's values, read before the transaction (see [`read_untrusted`]).
    pub(super) extraction: Option<&'a extract::Extraction>,
    /// `extraction`'s values validated, also before the transaction.
    pub(super) claim: Option<validate::Claim>,
    pub(super) disposition: Disposition,
    pub(super) reason: Option<String>,
    pub(super) request_id: Option<i64>,
    pub(super) auth: serde_json::Value,
    pub(super) flags: Vec<String>,
    /// The attachments, their contents already stored (see [`record::contents`]).
    pub(super) attachments: Vec<record::NewAttachment>,
}

impl Intake {
    pub fn new(db: Db, settings: Arc<Settings>) -> Self {
        Self { db, settings }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Runs one message through the pipeline, counting the attempt first
    /// (see [`super::poison`]): a message that made the process die
    /// `intake.max_attempts` times is recorded quarantined unread.
    pub async fn ingest(&self, incoming: Incoming) -> Result<Outcome, IntakeError> {
        let key = poison::key(&incoming);
        let max = self.settings.intake.max_attempts;
        match attempts::begin(&self.db, &key, max)
            .await
            .map_err(IntakeError::Unavailable)?
        {
            Attempt::Exhausted(n) => return self.give_up(&incoming, &key, n).await,
            Attempt::Go(_) => {}
        }
        let mut incoming = incoming;
        let read = read_untrusted(&mut incoming, self.scan_settings()).await;
        let result = self.record_read(incoming, read, &key).await;
        // On disk before the caller acknowledges it (see `store::Syncing`).
        match (result, self.db.sync_commits().wait().await) {
            (Ok(_), Err(e)) => Err(IntakeError::Unavailable(e)),
            (result, _) => result,
        }
    }

    pub(super) fn scan_settings(&self) -> extract::ScanSettings {
        extract::ScanSettings::from_settings(&self.settings)
    }

    /// Records a message read after its attempt was counted on `key`, then
    /// settles the count.
    pub(super) async fn record_read(
        &self,
        incoming: Incoming,
        read: Result<Untrusted, IntakeError>,
        key: &str,
    ) -> Result<Outcome, IntakeError> {
        let result = match read {
            Ok(read) => self.ingest_once(incoming, read, key).await,
            Err(e) => Err(e),
        };
        // Best effort: a count left behind only brings the give-up closer.
        let _ = match &result {
            // Cleared in the commit that recorded the message.
            Ok((_, true)) => Ok(()),
            Ok((_, false)) => attempts::clear(self.db.conn(), key).await,
            Err(IntakeError::Unavailable(_)) => attempts::release(self.db.conn(), key).await,
            Err(IntakeError::Io(_)) => Ok(()),
        };
        result.map(|(outcome, _)| outcome)
    }

    /// One attempt, the message read; with the outcome, whether the
    /// attempt's count was cleared in the same commit as the record.
    pub(super) async fn ingest_once(
        &self,
        incoming: Incoming,
        read: Untrusted,
        key: &str,
    ) -> Result<(Outcome, bool), IntakeError> {
        match self.run(&incoming, read, key).await {
            Ok(done) => {
                log_handled(&incoming, &done.0);
                Ok(done)
            }
            Err(e) if e.is_unavailable() => Err(IntakeError::Unavailable(e)),
            Err(e) => {
                // A concurrent process may have recorded the same position first.
                let position = incoming.origin.position.as_deref();
                if let Ok(dedup::Seen::SamePosition { id, request_id, .. }) =
                    dedup::check(self.db.conn(), position, None, "").await
                {
                    return self
                        .same_position(id, request_id)
                        .await
                        .map(|outcome| (outcome, false))
                        .map_err(IntakeError::Unavailable);
                }
                tracing::warn!(error = %e, source = incoming.origin.source, "incoming mail failed, quarantined");
                self.quarantine_after_error(&incoming, &e)
                    .await
                    .map(|outcome| (outcome, false))
            }
        }
    }

    async fn run(
        &self,
        incoming: &Incoming,
        read: Untrusted,
        key: &str,
    ) -> Result<(Outcome, bool), StoreError> {
        let txn = self.db.begin_inline().await?;
        match self.decide(&txn, incoming, read).await? {
            Decided::Done(outcome) => {
                // Recorded: its attempt's count goes with the same commit,
                // put on disk by the caller (`ingest`, `acknowledge`).
                attempts::clear(&txn, key).await?;
                txn.commit_unsynced().await?;
                Ok((outcome, true))
            }
            Decided::SamePosition { id, request_id } => {
                txn.rollback().await?;
                Ok((self.same_position(id, request_id).await?, false))
            }
        }
    }

    /// Runs one message's steps inside `txn` (dedup, then route or record).
    pub(super) async fn decide(
        &self,
        txn: &Txn,
        incoming: &Incoming,
        read: Untrusted,
    ) -> Result<Decided, StoreError> {
        let Untrusted {
            mut mail,
            extraction,
            hashes,
            claim,
        } = read;
        let seen = dedup::check(
            txn,
            incoming.origin.position.as_deref(),
            mail.as_ref().and_then(|m| m.message_id.as_deref()),
            &incoming.content_hash,
        )
        .await?;
        if let dedup::Seen::SamePosition { id, request_id, .. } = seen {
            return Ok(Decided::SamePosition { id, request_id });
        }
        // It is recorded: the attachments' contents are stored first and
        // freed, before the raw mail is written.
        let attachments = match mail.as_mut() {
            Some(m) => record::contents(txn, &mut m.attachments, hashes).await?,
            None => Vec::new(),
        };
        let mut draft = Draft {
            incoming,
            mail: mail.as_ref(),
            extraction: extraction.as_ref(),
            claim,
            disposition: Disposition::Quarantined,
            reason: None,
            request_id: None,
            auth: serde_json::json!({}),
            flags: Vec::new(),
            attachments,
        };
        let outcome = match (&mail, seen) {
            _ if incoming.oversize => {
                draft.reason = Some(format!(
                    "message trop volumineux ({} octets, limite {}) : seul le début est conservé",
                    incoming.size, self.settings.intake.max_message_bytes
                ));
                self.write(txn, draft).await?
            }
            (None, _) => {
                draft.reason = Some("message illisible : aucun en-tête de courriel reconnu".into());
                self.write(txn, draft).await?
            }
            (Some(_), dedup::Seen::SameContent { request_id }) => {
                draft.disposition = Disposition::Duplicate;
                draft.request_id = request_id;
                draft.reason = Some("déjà reçu (même Message-ID, même contenu)".into());
                self.write(txn, draft).await?
            }
            (Some(mail), seen) => {
                if seen == dedup::Seen::ReusedMessageId {
                    draft.flags.push(dedup::REUSED_MESSAGE_ID.into());
                }
                self.route(txn, mail, draft).await?
            }
        };
        Ok(Decided::Done(outcome))
    }

    pub(super) async fn insert(&self, txn: &Txn, d: &Draft<'_>) -> Result<i64, StoreError> {
        self.insert_with(txn, d, true).await
    }

    /// [`Intake::insert`], the raw mail left for [`record::raw`] when not
    /// `with_raw`: for a record updated again in the transaction, since
    /// SQLite rewrites a row whole, raw mail included, on every `UPDATE`.
    pub(super) async fn insert_with(
        &self,
        txn: &Txn,
        d: &Draft<'_>,
        with_raw: bool,
    ) -> Result<i64, StoreError> {
        let id = record::insert(
            txn,
            NewInbound {
                received_at: Utc::now(),
                source: d.incoming.origin.source,
                position: d.incoming.origin.position.as_deref(),
                message_id: d.mail.and_then(|m| m.message_id.as_deref()),
                content_hash: &d.incoming.content_hash,
                size: d.incoming.size,
                raw: with_raw.then_some(&d.incoming.bytes[..]),
                from: d.mail.and_then(|m| m.from.as_deref()),
                subject: d.mail.and_then(|m| m.subject.as_deref()),
                disposition: d.disposition,
                reason: d.reason.clone(),
                request_id: d.request_id,
                auth_results: d.auth.clone(),
                flags: &d.flags,
                body_view: d.mail.map(|m| m.view_text.as_str()),
                has_html: d.mail.map(|m| m.has_html),
            },
        )
        .await?;
        record::attachments(txn, id, &d.attachments).await?;
        Ok(id)
    }

    /// Records a message whose disposition is final as drafted.
    pub(super) async fn write(&self, txn: &Txn, d: Draft<'_>) -> Result<Outcome, StoreError> {
        let id = self.insert(txn, &d).await?;
        let reference = match d.request_id {
            Some(rid) => reference_of(txn, rid).await?,
            None => None,
        };
        Ok(Outcome {
            disposition: d.disposition,
            reference,
            inbound_id: Some(id),
            recorded: true,
        })
    }

    pub(super) async fn same_position(
        &self,
        id: i64,
        request_id: Option<i64>,
    ) -> Result<Outcome, StoreError> {
        let reference = match request_id {
            Some(rid) => reference_of(self.db.conn(), rid).await?,
            None => None,
        };
        Ok(Outcome {
            disposition: Disposition::Duplicate,
            reference,
            inbound_id: Some(id),
            recorded: false,
        })
    }

    pub(super) async fn quarantine_after_error(
        &self,
        incoming: &Incoming,
        error: &StoreError,
    ) -> Result<Outcome, IntakeError> {
        let attempt = async {
            let txn = self.db.begin_inline().await?;
            let draft = Draft {
                incoming,
                mail: None,
                extraction: None,
                claim: None,
                disposition: Disposition::Quarantined,
                reason: Some(format!(
                    "erreur de traitement : {}",
                    error.to_string().chars().take(300).collect::<String>()
                )),
                request_id: None,
                auth: serde_json::json!({}),
                flags: vec!["erreur_traitement".into()],
                attachments: Vec::new(),
            };
            let outcome = self.write(&txn, draft).await?;
            txn.commit().await?;
            Ok::<_, StoreError>(outcome)
        };
        attempt.await.map_err(IntakeError::Unavailable)
    }
}

/// The result of a message not tried because the database went away.
pub(super) fn not_tried() -> IntakeError {
    IntakeError::Unavailable(StoreError::Invalid(
        "message non traité : la base de données est indisponible".into(),
    ))
}

pub(super) async fn reference_of<C: Conn>(
    db: &C,
    request_id: i64,
) -> Result<Option<String>, StoreError> {
    requests::reference_of(db, request_id).await
}

/// The log line of a message handled, whichever path handled it.
pub(super) fn log_handled(incoming: &Incoming, outcome: &Outcome) {
    tracing::info!(
        source = incoming.origin.source,
        disposition = outcome.disposition.as_str(),
        reference = outcome.reference.as_deref().unwrap_or("-"),
        "incoming mail handled"
    );
}

/// What one message's steps decided inside a transaction.
pub(super) enum Decided {
    Done(Outcome),
    /// Seen before at the same source position: nothing is written.
    SamePosition {
        id: i64,
        request_id: Option<i64>,
    },
}

/// What was read from the untrusted bytes, before any database work. The
/// attachments' hashes and the claim are pure work on what was read, done
/// here so that the write, intake's critical path at batch 64, does not.
pub(crate) struct Untrusted {
    mail: Option<parse::ParsedMail>,
    extraction: Option<extract::Extraction>,
    /// [`record::hashes`] of `mail`'s attachments.
    hashes: Vec<String>,
    /// `extraction`'s values validated ([`validate::validate`]).
    claim: Option<validate::Claim>,
}

impl Untrusted {
    /// Nothing read: an oversize message (kept by its beginning only), or
    /// one whose reading panicked.
    pub(super) fn nothing() -> Self {
        Self {
            mail: None,
            extraction: None,
            hashes: Vec::new(),
            claim: None,
        }
    }
}

/// Parses the message and reads the form out of it on a blocking thread,
/// outside any transaction: the untrusted PDFs and images are read there,
/// each under its document budget (`bareme_forms::Limits`; scans under
/// `bareme_forms::ScanLimits`, OCR in a bounded child process), so a slow or
/// hostile attachment neither stalls the async threads nor holds a
/// database transaction open. The bytes are moved there and back, not
/// copied; if the thread is lost they are too, and the source keeps the
/// message for a later attempt.
pub(super) async fn read_untrusted(
    incoming: &mut Incoming,
    scan: extract::ScanSettings,
) -> Result<Untrusted, IntakeError> {
    BatchReading::start(std::slice::from_mut(incoming), scan)
        .finish_one(incoming)
        .await
}

/// What [`read_untrusted`] does on its blocking thread.
fn read_blocking(bytes: &[u8], scan: &extract::ScanSettings) -> Untrusted {
    poison::test_abort_hook(bytes);
    // A panic while reading must not take the raw bytes with it.
    let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mail = parse::parse(bytes);
        let extraction = mail.as_ref().map(|m| extract::extract(m, scan));
        Untrusted {
            hashes: mail
                .as_ref()
                .map(|m| record::hashes(&m.attachments))
                .unwrap_or_default(),
            claim: extraction.as_ref().map(|e| validate::validate(&e.values)),
            mail,
            extraction,
        }
    }));
    read.unwrap_or_else(|_| {
        tracing::error!("reading an incoming mail panicked; recorded unreadable");
        Untrusted::nothing()
    })
}

/// A batch being read: its messages taken one after the other, in order, by
/// blocking threads, one fewer than there are cores (at least one). The
/// write that runs beside them needs the core left: the writing thread on
/// SQLite, and with PostgreSQL the server's process that thread waits on,
/// statement after statement. With a reader per core the three took turns
/// on two cores and each of the write's round trips waited for a reader's
/// time slice (batch 64: PostgreSQL ×1.11, SQLite ×1.09; README
/// « Performance »). Once that write is done, [`BatchReading::help`] adds a
/// thread on the core it leaves, which takes the messages no thread has
/// taken yet. The threads go on by themselves while the caller writes the
/// batch before (on SQLite without yielding: `Db::begin_inline`).
pub(crate) struct BatchReading {
    shared: Arc<Shared>,
    lanes: Vec<tokio::task::JoinHandle<()>>,
    scan: extract::ScanSettings,
}

/// The messages of a batch being read, shared by its threads.
struct Shared {
    /// The next message no thread has taken.
    next: std::sync::atomic::AtomicUsize,
    slots: Vec<std::sync::Mutex<Slot>>,
}

/// One message of a batch being read.
enum Slot {
    /// Not to be read (an oversize message).
    Skipped,
    Waiting(Vec<u8>),
    /// Taken by a thread, with its bytes.
    Taken,
    Read(Vec<u8>, Box<Untrusted>),
}

impl Shared {
    fn slot(&self, i: usize) -> std::sync::MutexGuard<'_, Slot> {
        // Held only to move a value in or out: nothing can poison it
        // half way, and what a poisoned lock holds is still whole.
        self.slots[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    fn has_waiting(&self) -> bool {
        self.next.load(std::sync::atomic::Ordering::Relaxed) < self.slots.len()
    }

    /// One thread's work: takes the next message until none is left.
    fn read_all(&self, scan: &extract::ScanSettings) {
        loop {
            let i = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if i >= self.slots.len() {
                return;
            }
            // Taken out first: the lock is not held in the match below.
            let taken = std::mem::replace(&mut *self.slot(i), Slot::Taken);
            let bytes = match taken {
                Slot::Waiting(bytes) => bytes,
                other => {
                    *self.slot(i) = other;
                    continue;
                }
            };
            let read = read_blocking(&bytes, scan);
            *self.slot(i) = Slot::Read(bytes, Box::new(read));
        }
    }
}

impl BatchReading {
    /// Moves the messages' bytes to the reading threads and starts them.
    pub(super) fn start(incomings: &mut [Incoming], scan: extract::ScanSettings) -> Self {
        // Asked once: the answer reads the cgroup's files each time.
        static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
        let cores =
            *CORES.get_or_init(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
        let slots = incomings
            .iter_mut()
            .map(|incoming| {
                std::sync::Mutex::new(if incoming.oversize {
                    Slot::Skipped
                } else {
                    Slot::Waiting(std::mem::take(&mut incoming.bytes))
                })
            })
            .collect::<Vec<_>>();
        let lanes = cores.saturating_sub(1).min(slots.len()).max(1);
        let mut reading = Self {
            shared: Arc::new(Shared {
                next: std::sync::atomic::AtomicUsize::new(0),
                slots,
            }),
            lanes: Vec::new(),
            scan,
        };
        for _ in 0..lanes {
            reading.add_lane();
        }
        reading
    }

    fn add_lane(&mut self) {
        let shared = Arc::clone(&self.shared);
        let scan = self.scan.clone();
        self.lanes
            .push(tokio::task::spawn_blocking(move || shared.read_all(&scan)));
    }

    /// The caller's thread is free (the write beside is done): one more
    /// thread takes the messages not yet taken, if any.
    pub(super) fn help(&mut self) {
        if self.shared.has_waiting() {
            self.add_lane();
        }
    }

    /// [`BatchReading::finish`] for a reading started on one message.
    pub(super) async fn finish_one(
        self,
        incoming: &mut Incoming,
    ) -> Result<Untrusted, IntakeError> {
        self.finish(std::slice::from_mut(incoming))
            .await
            .into_iter()
            .next()
            .unwrap_or_else(|| Ok(Untrusted::nothing()))
    }

    /// Waits for the threads; gives the bytes back to `incomings` (the
    /// slice `start` took them from) and the results in their order. A
    /// thread lost while reading a message loses its bytes too (see
    /// [`read_untrusted`]): that message's result is the error.
    pub(super) async fn finish(
        self,
        incomings: &mut [Incoming],
    ) -> Vec<Result<Untrusted, IntakeError>> {
        let mut why = String::from("a reading thread was lost");
        for lane in self.lanes {
            if let Err(e) = lane.await {
                why = e.to_string();
            }
        }
        let lost = || IntakeError::Io(std::io::Error::other(why.clone()));
        incomings
            .iter_mut()
            .enumerate()
            .map(|(i, incoming)| {
                match std::mem::replace(&mut *self.shared.slot(i), Slot::Skipped) {
                    Slot::Skipped => Ok(Untrusted::nothing()),
                    Slot::Read(bytes, read) => {
                        incoming.bytes = bytes;
                        Ok(*read)
                    }
                    // Every thread was lost before it came to this one.
                    Slot::Waiting(bytes) => {
                        incoming.bytes = bytes;
                        Err(lost())
                    }
                    Slot::Taken => Err(lost()),
                }
            })
            .collect()
    }
}
