//! Poison messages (SPEC §4): a message that crashes or exhausts the
//! process is not read forever. Every attempt is counted before the message
//! is read ([`crate::store::attempts`]), keyed by its source position (IMAP
//! UIDVALIDITY/UID, Maildir file name) or, for the MTA pipe and HTTP, by
//! its content hash; once `intake.max_attempts` attempts ended without a
//! recorded disposition, the next one records the message `quarantined`
//! with « traitement impossible (N tentatives) », raw bytes kept, without
//! reading it again, and the source goes on with the next message.

use super::parse::UNREAD_VIEW;
use super::{Incoming, IntakeError, Outcome, dedup, pipeline::Draft, pipeline::Intake};
use crate::store::{
    StoreError, attempts,
    inbox::{self, Disposition},
};

/// The attempt counter's key of a message.
pub fn key(incoming: &Incoming) -> String {
    match &incoming.origin.position {
        Some(position) => position.clone(),
        None => format!("sha256:{}", incoming.content_hash),
    }
}

/// The reason recorded for a message given up after `attempts` attempts.
pub fn reason(attempts: i32) -> String {
    format!("traitement impossible ({attempts} tentatives)")
}

impl Intake {
    /// Records `incoming` quarantined, unread, after `attempts` attempts
    /// (or answers with the earlier record of its source position).
    pub(super) async fn give_up(
        &self,
        incoming: &Incoming,
        key: &str,
        attempts: i32,
    ) -> Result<Outcome, IntakeError> {
        let write = async {
            let txn = self.db().begin().await?;
            let position = incoming.origin.position.as_deref();
            if let dedup::Seen::SamePosition { id, request_id, .. } =
                dedup::check(&txn, position, None, "").await?
            {
                txn.rollback().await?;
                attempts::clear(self.db().conn(), key).await?;
                return self.same_position(id, request_id).await;
            }
            tracing::error!(
                source = incoming.origin.source,
                attempts,
                "incoming mail given up after repeated failed attempts, quarantined unread"
            );
            let draft = Draft {
                incoming,
                mail: None,
                extraction: None,
                claim: None,
                disposition: Disposition::Quarantined,
                reason: Some(reason(attempts)),
                request_id: None,
                auth: serde_json::json!({}),
                flags: Vec::new(),
                attachments: Vec::new(),
            };
            let outcome = self.write(&txn, draft).await?;
            if let Some(id) = outcome.inbound_id {
                // Never parsed, not even by the page that shows it.
                inbox::set_view(&txn, id, UNREAD_VIEW, false).await?;
            }
            attempts::clear(&txn, key).await?;
            txn.commit().await?;
            Ok::<_, StoreError>(outcome)
        };
        write.await.map_err(IntakeError::Unavailable)
    }
}

/// Debug and test builds only: aborts the whole process, as a process
/// killed by its memory limit dies, on a message that contains the bytes of
/// the environment variable `BAREME_MEL_TEST_ABORT_ON`. Release builds
/// have no such hook.
#[cfg(debug_assertions)]
pub(super) fn test_abort_hook(bytes: &[u8]) {
    if let Ok(marker) = std::env::var("BAREME_MEL_TEST_ABORT_ON")
        && !marker.is_empty()
        && bytes.windows(marker.len()).any(|w| w == marker.as_bytes())
    {
        eprintln!("BAREME_MEL_TEST_ABORT_ON: aborting on this message");
        std::process::abort();
    }
}

#[cfg(not(debug_assertions))]
pub(super) fn test_abort_hook(_bytes: &[u8]) {}
