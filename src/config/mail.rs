//! `[mail]` and `[mail.smtp]`: outgoing mail and its outbox worker.

use super::Secret;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    File,
    Smtp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    None,
    Starttls,
    Tls,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Mail {
    pub from: String,
    pub from_name: String,
    pub transport: Transport,
    pub outbox_dir: PathBuf,
    /// Right-hand side of our Message-IDs; empty = the domain of `mail.from`.
    pub message_id_domain: String,
    pub retry_budget_hours: u64,
    /// First delay after a temporary failure; doubles on each attempt (with jitter).
    pub retry_base_secs: u64,
    /// Longest delay between two attempts.
    pub retry_max_secs: u64,
    /// How often an idle outbox worker looks for due mails.
    pub poll_interval_ms: u64,
    /// Mails claimed at once by a worker.
    pub batch_size: u64,
    /// Mails a worker sends in parallel (and size of the SMTP connection pool).
    pub concurrency: u32,
    /// How long a claim holds; after it a crashed worker's mails are taken over.
    pub lease_secs: u64,
    pub smtp: Smtp,
}

impl Default for Mail {
    fn default() -> Self {
        Self {
            from: "bareme@ac-montpellier.fr".into(),
            from_name: "Barème de Montpellier — Rectorat".into(),
            transport: Transport::File,
            outbox_dir: "data/outbox".into(),
            message_id_domain: String::new(),
            retry_budget_hours: 48,
            retry_base_secs: 60,
            retry_max_secs: 3600,
            poll_interval_ms: 2000,
            batch_size: 20,
            concurrency: 4,
            lease_secs: 300,
            smtp: Smtp::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: String,
    pub password: Secret,
    pub timeout_secs: u64,
}

impl Default for Smtp {
    fn default() -> Self {
        Self {
            host: "localhost".into(),
            port: 25,
            tls: TlsMode::Starttls,
            username: String::new(),
            password: Secret::default(),
            timeout_secs: 30,
        }
    }
}
