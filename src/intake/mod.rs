//! Mail intake (SPEC §4): every incoming mail — from IMAP, an MTA pipe, a
//! Maildir or HTTP — goes through one pipeline and ends with exactly one
//! recorded disposition, its raw bytes kept.
//!
//! Steps, one file each: [`limit`] (size before full buffering) → [`parse`]
//! (with [`tnef`] for Outlook's `winmail.dat`) → [`dedup`] → [`classify`] →
//! [`thread`] → [`extract`] → [`validate`] → [`auth`] → [`matching`] →
//! [`record`] and [`notify`] (request, thread, acknowledgement, alert,
//! bounce), driven by [`pipeline`]. All of one message's writes happen in
//! one transaction.

pub mod answer;
pub mod auth;
pub mod classify;
pub mod create;
/// Dedup is one query on the recorded messages: it lives in the store.
pub use crate::store::dedup;
pub(crate) mod batch;
pub mod extract;
pub mod limit;
pub mod matching;
pub mod notify;
pub mod parse;
pub mod pipeline;
pub mod poison;
pub mod record;
mod route;
pub mod sources;
pub mod thread;
pub mod tnef;
pub mod triage;
pub mod validate;

pub use pipeline::Intake;

use crate::store::{StoreError, inbox::Disposition};

/// Where a message came from, and its position there when the source has one
/// (IMAP UID, Maildir file): seeing the same position again is a duplicate.
#[derive(Debug, Clone)]
pub struct Origin {
    /// `imap`, `maildir`, `stdin`, `file` or `http`.
    pub source: &'static str,
    pub position: Option<String>,
}

impl Origin {
    pub fn new(source: &'static str, position: Option<String>) -> Self {
        Self { source, position }
    }
}

/// A message as read from its source, within the size limit or not.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// The whole message, or only its beginning when it is oversize.
    pub bytes: Vec<u8>,
    /// The full size in bytes, as read or announced.
    pub size: u64,
    /// SHA-256 (hex) of the full message.
    pub content_hash: String,
    pub oversize: bool,
    pub origin: Origin,
}

impl Incoming {
    /// A message held whole in memory.
    pub fn whole(bytes: Vec<u8>, origin: Origin) -> Self {
        Self {
            size: bytes.len() as u64,
            content_hash: crate::security::sha256_hex(&bytes),
            bytes,
            oversize: false,
            origin,
        }
    }
}

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub disposition: Disposition,
    /// Reference of the request created or threaded, if any.
    pub reference: Option<String>,
    /// The `inbound_messages` row (the earlier one for a same-position duplicate).
    pub inbound_id: Option<i64>,
    /// False when nothing new was recorded (same source position seen before).
    pub recorded: bool,
}

impl Outcome {
    /// `<disposition> <reference or ->`, the line `bareme-mel ingest` prints.
    pub fn line(&self) -> String {
        format!(
            "{} {}",
            self.disposition.as_str(),
            self.reference.as_deref().unwrap_or("-")
        )
    }
}

/// Why a message could not be handled now; the source keeps it and retries.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// The database is unreachable or refused the write: try again later.
    #[error("base de données indisponible : {0}")]
    Unavailable(StoreError),
    /// Reading the source failed.
    #[error("lecture impossible : {0}")]
    Io(#[from] std::io::Error),
}
