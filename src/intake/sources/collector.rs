//! Group commit for messages handed over one at a time by concurrent
//! callers (`POST /api/courriels`): one task takes the messages waiting, up
//! to `intake.batch_size`, and writes them through [`Batch`] (one
//! transaction, batches overlapping as for a Maildir); each caller hears its
//! own message's result once that message's commit is on disk. It never
//! waits for more messages than are already queued: a lone message goes
//! through [`Intake::ingest`] at once, as if there were no collector.

use super::Batch;
use crate::intake::{Incoming, Intake, IntakeError, Outcome};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// A message and where its result goes.
type Job = (Incoming, oneshot::Sender<Result<Outcome, IntakeError>>);

/// The handle on the collecting task, cheap to clone; the task starts with
/// the first message and ends when the last handle is dropped.
#[derive(Clone)]
pub struct Collector {
    intake: Intake,
    queue: Arc<Mutex<Option<mpsc::Sender<Job>>>>,
}

impl Collector {
    pub fn new(intake: Intake) -> Self {
        Self {
            intake,
            queue: Arc::default(),
        }
    }

    /// Runs `incoming` through the pipeline together with the messages
    /// submitted at the same time; its result once it is on disk. Once
    /// queued, the message is recorded even if this future is dropped; a
    /// caller that must not lose it while waiting for room in the queue runs
    /// this in a task of its own (as `POST /api/courriels` does).
    pub async fn submit(&self, incoming: Incoming) -> Result<Outcome, IntakeError> {
        let (reply, result) = oneshot::channel();
        self.queue()
            .send((incoming, reply))
            .await
            .map_err(|_| lost())?;
        result.await.unwrap_or_else(|_| Err(lost()))
    }

    /// The queue to the collecting task, started (again, if it died) here.
    fn queue(&self) -> mpsc::Sender<Job> {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        match queue.as_ref() {
            Some(sender) if !sender.is_closed() => sender.clone(),
            _ => {
                let size = self.intake.settings().intake.batch_size.max(1);
                // Room for the batch being written, the one being read and
                // the next one; past that, callers wait.
                let (sender, receiver) = mpsc::channel(size * 3);
                tokio::spawn(collect(self.intake.clone(), receiver));
                queue.insert(sender).clone()
            }
        }
    }
}

/// The collecting task: takes what is waiting, up to a batch, runs it while
/// the batch before is written, and writes the last one as soon as nothing
/// else is waiting.
async fn collect(intake: Intake, mut queue: mpsc::Receiver<Job>) {
    let mut batch = Batch::new(&intake);
    let answer = |reply: oneshot::Sender<_>, result| {
        // A caller that went away no longer listens; its mail is recorded.
        let _ = reply.send(result);
    };
    while let Some(first) = queue.recv().await {
        let mut next = Some(first);
        while let Some((incoming, reply)) = next.take() {
            if !batch.push(incoming, reply) {
                next = queue.try_recv().ok();
            }
            if next.is_none() {
                batch.run(&intake, answer).await;
                next = queue.try_recv().ok();
            }
        }
        batch.finish(&intake, answer).await;
    }
}

/// The result of a message whose collecting task stopped before answering.
fn lost() -> IntakeError {
    IntakeError::Io(std::io::Error::other(
        "la file des messages reçus s'est arrêtée avant de répondre",
    ))
}
