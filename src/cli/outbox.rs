//! `bareme-mel outbox list|retry`: the outgoing mail queue.

use super::{CliError, CliResult, inbox::clip, print_json};
use crate::store::{
    Db,
    outbox::{self, OutboxState, RetryTarget},
};
use clap::Subcommand;
use serde::Serialize;

#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// Outgoing mails, newest first.
    List {
        /// Only this state (pending, sending, sent, failed, bounced).
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        json: bool,
        /// At most this many mails (0 = all).
        #[arg(long, default_value_t = 0)]
        limit: u64,
    },
    /// Send a failed mail again now (by id or Message-ID), or every failed mail.
    Retry {
        #[arg(required_unless_present = "all_failed", conflicts_with = "all_failed")]
        id: Option<String>,
        #[arg(long)]
        all_failed: bool,
    },
}

/// One mail as listed (no body: bodies hold reset links).
#[derive(Debug, Serialize)]
struct Entry {
    id: i64,
    message_id: String,
    state: String,
    template: String,
    recipient: String,
    subject: String,
    request_id: Option<i64>,
    attempts: i32,
    created_at: chrono::DateTime<chrono::Utc>,
    next_attempt_at: chrono::DateTime<chrono::Utc>,
    sent_at: Option<chrono::DateTime<chrono::Utc>>,
    server_reply: Option<String>,
    last_error: Option<String>,
    bounced_at: Option<chrono::DateTime<chrono::Utc>>,
    bounce_diagnostic: Option<String>,
}

pub async fn run(command: OutboxCommand, db: &Db) -> CliResult {
    match command {
        OutboxCommand::List { state, json, limit } => list(db, state, json, limit).await,
        OutboxCommand::Retry { id, all_failed } => {
            let target = match (id, all_failed) {
                (_, true) => RetryTarget::AllFailed,
                (Some(id), false) => RetryTarget::One(id),
                (None, false) => {
                    return Err(CliError::with_status(
                        "indiquez un identifiant ou --all-failed",
                        64,
                    ));
                }
            };
            let n = outbox::retry(db.conn(), &target).await?;
            if let (0, RetryTarget::One(id)) = (n, &target) {
                return Err(CliError::data(format!(
                    "aucun message en échec ou en attente ne correspond à « {} »",
                    clip(id, 80)
                )));
            }
            println!("{n} message(s) remis en file d'envoi");
            Ok(())
        }
    }
}

async fn list(db: &Db, state: Option<String>, json: bool, limit: u64) -> CliResult {
    let state = match state {
        None => None,
        Some(s) => Some(OutboxState::parse(&s).ok_or_else(|| {
            CliError::with_status(
                format!(
                    "état « {} » inconnu : pending, sending, sent, failed ou bounced",
                    clip(&s, 40)
                ),
                64,
            )
        })?),
    };
    let rows = outbox::list(db.conn(), state, limit).await?;
    let entries: Vec<Entry> = rows
        .into_iter()
        .map(|m| Entry {
            id: m.id,
            message_id: m.message_id,
            state: m.state,
            template: m.template,
            recipient: m.recipient,
            subject: m.subject,
            request_id: m.request_id,
            attempts: m.attempts,
            created_at: m.created_at,
            next_attempt_at: m.next_attempt_at,
            sent_at: m.sent_at,
            server_reply: m.server_reply,
            last_error: m.last_error,
            bounced_at: m.bounced_at,
            bounce_diagnostic: m.bounce_diagnostic,
        })
        .collect();
    if json {
        return print_json(&entries);
    }
    if entries.is_empty() {
        println!("aucun message");
        return Ok(());
    }
    println!(
        "{:>6} {:<8} {:<22} {:>6} {:<26} {:<32} {:<72} RÉPONSE / ERREUR",
        "ID", "ÉTAT", "CRÉÉ LE", "ESSAIS", "MODÈLE", "DESTINATAIRE", "MESSAGE-ID"
    );
    for e in entries {
        let detail = e
            .bounce_diagnostic
            .or(e.last_error)
            .or(e.server_reply)
            .unwrap_or_else(|| "-".into());
        println!(
            "{:>6} {:<8} {:<22} {:>6} {:<26} {:<32} {:<72} {}",
            e.id,
            e.state,
            crate::vocabulary::date_time(e.created_at),
            e.attempts,
            e.template,
            clip(&e.recipient, 32),
            e.message_id,
            clip(&detail, 120),
        );
    }
    Ok(())
}
