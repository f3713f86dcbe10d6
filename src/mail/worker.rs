//! The outbox worker run by `serve`: claims due mails under a lease, sends
//! them, records the server's answer. Temporary failures are retried with
//! exponential backoff and jitter until `mail.retry_budget_hours` after the
//! mail was queued; permanent failures (5xx) are `failed` at once.
//!
//! A mail may go out twice only when a worker dies between the server's
//! acceptance and the database update; it then goes out again with the same
//! Message-ID and Date, so receivers see one message.

use super::{
    message,
    transport::{Mailer, SendError},
};
use crate::{
    config::Settings,
    store::{Db, StoreError, entities::outbox, outbox as queue},
};
use chrono::{DateTime, Utc};
use lettre::message::Mailbox;
use std::{sync::Arc, time::Duration};
use tokio::{sync::watch, task::JoinSet};

/// One worker; several may run against one PostgreSQL database.
#[derive(Clone, Debug)]
pub struct Worker {
    db: Db,
    settings: Arc<Settings>,
    mailer: Arc<Mailer>,
    from: Mailbox,
    id: String,
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    pub claimed: usize,
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
}

impl Worker {
    /// Builds the transport from the settings; fails on a bad `mail.*` configuration.
    pub fn new(db: Db, settings: Arc<Settings>) -> Result<Self, String> {
        let mailer = Mailer::from_settings(&settings.mail, settings.mail.concurrency)?;
        let from = message::from_mailbox(&settings)?;
        let id = format!(
            "{}:{}:{}",
            hostname(),
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        Ok(Self {
            db,
            settings,
            mailer: Arc::new(mailer),
            from,
            id,
        })
    }

    /// The name written in `locked_by` for the rows this worker claims.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Claims one batch of due mails and sends it.
    pub async fn run_once(&self) -> Result<Pass, StoreError> {
        let mail = &self.settings.mail;
        let lease = Duration::from_secs(mail.lease_secs.max(1));
        let rows = queue::claim(&self.db, &self.id, mail.batch_size.max(1), lease).await?;
        let mut pass = Pass {
            claimed: rows.len(),
            ..Pass::default()
        };
        let permits = Arc::new(tokio::sync::Semaphore::new(mail.concurrency.max(1) as usize));
        let mut tasks = JoinSet::new();
        for row in rows {
            let worker = self.clone();
            let permits = permits.clone();
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await;
                worker.deliver(row).await
            });
        }
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok(Ok(Outcome::Sent)) => pass.sent += 1,
                Ok(Ok(Outcome::Retried)) => pass.retried += 1,
                Ok(Ok(Outcome::Failed)) => pass.failed += 1,
                Ok(Err(e)) => tracing::warn!(error = %e, "outbox: recording an attempt failed"),
                Err(e) => tracing::error!(error = %e, "outbox: a delivery task panicked"),
            }
        }
        Ok(pass)
    }

    /// Masks the tokens of the stored copy of a mail that left (or never
    /// will), and on SQLite pushes the old page images out of the WAL so that
    /// the token is in no file of the database either.
    async fn forget_links(&self, row: &outbox::Model) {
        match queue::forget_links(self.db.conn(), row).await {
            Ok(true) => {
                if let Err(e) = self.db.flush_erased().await {
                    tracing::warn!(error = %e, "outbox: WAL checkpoint after masking failed");
                }
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "outbox: masking the links of a sent mail failed"),
        }
    }

    async fn deliver(&self, row: outbox::Model) -> Result<Outcome, StoreError> {
        let conn = self.db.conn();
        let headers: super::outbox::StoredHeaders =
            serde_json::from_str(&row.headers).unwrap_or_default();
        let original = match headers.original {
            Some(id) => crate::store::inbox::raw(conn, id).await?,
            None => None,
        };
        let result = match message::build(&row, &self.from, original.as_deref()) {
            Ok(msg) => self.mailer.send(msg).await,
            Err(e) => Err(SendError::Permanent(e)),
        };
        match result {
            Ok(reply) => {
                queue::mark_sent(conn, row.id, &self.id, &reply).await?;
                self.forget_links(&row).await;
                tracing::info!(message_id = %row.message_id, template = %row.template, "outbox: sent");
                Ok(Outcome::Sent)
            }
            Err(SendError::Permanent(text)) => {
                queue::mark_failed(conn, row.id, &self.id, &text).await?;
                self.forget_links(&row).await;
                tracing::warn!(message_id = %row.message_id, error = %text, "outbox: failed");
                Ok(Outcome::Failed)
            }
            Err(SendError::Temporary(text)) => {
                let now = Utc::now();
                match next_attempt(&self.settings, row.created_at, row.attempts, now) {
                    Some(at) => {
                        queue::reschedule(conn, row.id, &self.id, &text, at).await?;
                        tracing::info!(message_id = %row.message_id, error = %text, next = %at, "outbox: will retry");
                        Ok(Outcome::Retried)
                    }
                    None => {
                        let hours = self.settings.mail.retry_budget_hours;
                        let text =
                            format!("abandon après {hours} h de nouvelles tentatives : {text}");
                        queue::mark_failed(conn, row.id, &self.id, &text).await?;
                        self.forget_links(&row).await;
                        tracing::warn!(message_id = %row.message_id, error = %text, "outbox: retry budget spent");
                        Ok(Outcome::Failed)
                    }
                }
            }
        }
    }

    /// Runs until `shutdown` turns true, then gives back what it still holds.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let idle = Duration::from_millis(self.settings.mail.poll_interval_ms.max(50));
        tracing::info!(worker = %self.id, "outbox worker started");
        while !*shutdown.borrow() {
            let wait = match self.run_once().await {
                Ok(pass) if pass.claimed > 0 => continue,
                Ok(_) => idle,
                Err(e) => {
                    tracing::warn!(error = %e, "outbox: claiming failed; retrying");
                    idle.max(Duration::from_secs(2))
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => {}
            }
        }
        self.release().await;
        tracing::info!(worker = %self.id, "outbox worker stopped");
    }

    /// Makes the rows this worker still claims due again at once.
    pub async fn release(&self) {
        if let Err(e) = queue::release(self.db.conn(), &self.id).await {
            tracing::warn!(error = %e, "outbox: releasing claims failed; they expire with their lease");
        }
    }
}

enum Outcome {
    Sent,
    Retried,
    Failed,
}

/// When to try again after a temporary failure of attempt number `attempts`
/// (1 for the first), or `None` once the retry budget is spent. The delay
/// doubles from `mail.retry_base_secs` up to `mail.retry_max_secs`, then a
/// random half of it is taken off so that workers do not retry in step.
pub fn next_attempt(
    settings: &Settings,
    created_at: DateTime<Utc>,
    attempts: i32,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let mail = &settings.mail;
    let budget =
        chrono::Duration::hours(i64::try_from(mail.retry_budget_hours).unwrap_or(i64::MAX / 7200));
    let deadline = created_at + budget;
    if now >= deadline {
        return None;
    }
    let exp = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let full = mail
        .retry_base_secs
        .max(1)
        .saturating_mul(1u64 << exp)
        .min(mail.retry_max_secs.max(1));
    let millis = full.saturating_mul(1000);
    let jitter = getrandom::u64().unwrap_or(0) % (millis / 2 + 1);
    let delay =
        chrono::Duration::milliseconds(i64::try_from(millis - jitter).unwrap_or(i64::MAX / 2));
    Some((now + delay).min(deadline))
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .unwrap_or_else(|| "localhost".into())
}

/// A worker started by `serve`, stopped with [`WorkerHandle::stop`].
pub struct WorkerHandle {
    task: tokio::task::JoinHandle<()>,
    worker: Worker,
    shutdown: watch::Sender<bool>,
}

/// Starts one worker in the background.
pub fn spawn(db: Db, settings: Arc<Settings>) -> Result<WorkerHandle, String> {
    let worker = Worker::new(db, settings)?;
    let (tx, rx) = watch::channel(false);
    let task = tokio::spawn(worker.clone().run(rx));
    Ok(WorkerHandle {
        task,
        worker,
        shutdown: tx,
    })
}

impl WorkerHandle {
    /// Lets in-flight mails finish (at most `grace`), then gives back the rest.
    pub async fn stop(self, grace: Duration) {
        let _ = self.shutdown.send(true);
        let abort = self.task.abort_handle();
        if tokio::time::timeout(grace, self.task).await.is_err() {
            abort.abort();
            self.worker.release().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_with_jitter_and_stop_at_the_budget() {
        let mut s = Settings::default();
        s.mail.retry_base_secs = 60;
        s.mail.retry_max_secs = 3600;
        let created = Utc::now();
        for (attempt, full) in [(1, 60), (2, 120), (3, 240), (10, 3600)] {
            let at = next_attempt(&s, created, attempt, created).unwrap();
            let secs = (at - created).num_milliseconds() as f64 / 1000.0;
            assert!(
                secs >= full as f64 / 2.0 - 0.01 && secs <= full as f64,
                "{attempt}: {secs}"
            );
        }
        let late = created + chrono::Duration::hours(48);
        assert!(next_attempt(&s, created, 3, late).is_none());
        let near = late - chrono::Duration::seconds(10);
        assert_eq!(next_attempt(&s, created, 10, near), Some(late));
    }
}
