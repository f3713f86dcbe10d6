//! `[intake]`, `[intake.imap]`, `[intake.ocr]`: where mail comes in and how it is read.

use super::{Secret, TlsMode};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Intake {
    /// The functional mailbox requesters write to; printed on the form.
    pub address: String,
    /// Maildir watched by `serve`; empty string turns watching off.
    pub maildir: PathBuf,
    pub imap: Imap,
    /// Bearer token of `POST /api/courriels`; empty disables the endpoint.
    pub api_token: Secret,
    /// authserv-id of our own MTA; only its Authentication-Results are read.
    pub trusted_authserv_id: String,
    pub max_message_bytes: u64,
    /// How often `serve` looks into `intake.maildir/new`, in seconds.
    pub maildir_poll_secs: u64,
    /// Group commit: at most this many messages of a batch source (Maildir,
    /// `ingest FILE...`) are written in one transaction and acknowledged
    /// together (default 64; 1 commits each message alone). Their attempts
    /// are counted together before they are read (poison messages).
    pub batch_size: usize,
    /// Answer a mail that is not a change request with the way to change the
    /// manager's address (authenticated senders only, never auto-mail).
    pub not_a_request_reply: bool,
    /// At most one such answer per sender in this many hours.
    pub not_a_request_reply_hours: u64,
    /// Where « Transférer » sends a mail that is not a change request; empty = off.
    pub forward_other_to: String,
    /// Reading of scanned forms.
    pub ocr: Ocr,
    /// Attempts at one message (counted before each, by source position or
    /// content hash) after which it is recorded quarantined without being
    /// read again: a message that kills the process does not block the next.
    pub max_attempts: u32,
    /// At most this many alerts to one registered address per 24 h; mail
    /// over the cap is recorded and flagged, the alert is not sent.
    pub max_alerts_per_address: u32,
    /// At most this many acknowledgements to one sender per 24 h; mail over
    /// the cap is recorded and flagged, the acknowledgement is not sent.
    pub max_acknowledgements_per_sender: u32,
}

impl Default for Intake {
    fn default() -> Self {
        Self {
            address: "bareme@ac-montpellier.fr".into(),
            maildir: "data/inbox".into(),
            imap: Imap::default(),
            api_token: Secret::default(),
            trusted_authserv_id: String::new(),
            max_message_bytes: 25 * 1024 * 1024,
            maildir_poll_secs: 5,
            batch_size: 64,
            not_a_request_reply: true,
            not_a_request_reply_hours: 24,
            forward_other_to: String::new(),
            ocr: Ocr::default(),
            max_attempts: 3,
            max_alerts_per_address: 3,
            max_acknowledgements_per_sender: 3,
        }
    }
}

/// Reading of scanned forms (SPEC §4): Tesseract and poppler's `pdftoppm`
/// as child processes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ocr {
    /// A value read with a lower confidence (0 to 1) is stored as read but
    /// flagged « lecture incertaine », and never becomes the new address
    /// without a staff confirmation.
    pub min_confidence: f32,
    /// The `tesseract` binary (a bare name is looked up in `PATH`).
    pub tesseract: PathBuf,
    /// The `pdftoppm` binary (poppler-utils).
    pub pdftoppm: PathBuf,
    /// Tesseract language.
    pub language: String,
}

impl Default for Ocr {
    fn default() -> Self {
        Self {
            min_confidence: 0.80,
            tesseract: "tesseract".into(),
            pdftoppm: "pdftoppm".into(),
            language: "fra".into(),
        }
    }
}

impl Ocr {
    /// The scan reader's view of these settings.
    pub fn scan_config(&self) -> bareme_forms::ScanConfig {
        bareme_forms::ScanConfig {
            tesseract: self.tesseract.clone(),
            pdftoppm: self.pdftoppm.clone(),
            language: self.language.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Imap {
    /// Empty host = no IMAP polling.
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: String,
    pub password: Secret,
    pub mailbox: String,
    /// Folder processed mail is moved to; empty = only flag it `\Seen`.
    pub processed_folder: String,
    pub poll_interval_secs: u64,
    /// Extra CA certificates (PEM) trusted for the IMAP server, besides the
    /// Mozilla roots; for a server with a private or self-signed certificate.
    pub ca_file: PathBuf,
}

impl Default for Imap {
    fn default() -> Self {
        Self {
            host: String::new(),
            port: 993,
            tls: TlsMode::Tls,
            username: String::new(),
            password: Secret::default(),
            mailbox: "INBOX".into(),
            processed_folder: String::new(),
            poll_interval_secs: 60,
            ca_file: PathBuf::new(),
        }
    }
}
