//! `bareme-mel inbox list`.

use super::{CliError, CliResult, print_json};
use crate::store::{
    Db,
    inbox::{self, Disposition},
};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum InboxCommand {
    /// Every recorded incoming message, newest first.
    List {
        #[arg(long)]
        json: bool,
        /// Only this disposition (request_created, threaded, duplicate, auto_ignored, not_a_request, quarantined).
        #[arg(long)]
        disposition: Option<String>,
        /// At most this many messages (0 = all).
        #[arg(long, default_value_t = 0)]
        limit: u64,
    },
}

pub async fn run(command: InboxCommand, db: &Db) -> CliResult {
    let InboxCommand::List {
        json,
        disposition,
        limit,
    } = command;
    let disposition = match disposition {
        None => None,
        Some(d) => Some(Disposition::parse(&d).ok_or_else(|| {
            let known: Vec<&str> = Disposition::ALL.iter().map(|d| d.as_str()).collect();
            CliError::with_status(
                format!("disposition « {d} » inconnue : {}", known.join(", ")),
                64,
            )
        })?),
    };
    let entries = inbox::list(db.conn(), disposition, limit).await?;
    if json {
        return print_json(&entries);
    }
    if entries.is_empty() {
        println!("aucun message reçu");
        return Ok(());
    }
    println!(
        "{:<22} {:<16} {:<14} {:<32} {:<40} MESSAGE-ID / MOTIF",
        "REÇU LE", "DISPOSITION", "RÉFÉRENCE", "EXPÉDITEUR", "OBJET"
    );
    for e in entries {
        println!(
            "{:<22} {:<16} {:<14} {:<32} {:<40} {}{}",
            crate::vocabulary::date_time(e.received_at),
            e.disposition,
            e.reference.as_deref().unwrap_or("-"),
            clip(e.sender.as_deref().unwrap_or("-"), 32),
            clip(e.subject.as_deref().unwrap_or("-"), 40),
            e.message_id.as_deref().unwrap_or("-"),
            e.reason.map(|r| format!(" — {r}")).unwrap_or_default(),
        );
    }
    Ok(())
}

/// Shortens `s` to `n` characters and removes anything that could move the cursor.
pub fn clip(s: &str, n: usize) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if clean.chars().count() <= n {
        clean
    } else {
        let mut out: String = clean.chars().take(n.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}
