//! `bareme-mel requests list|show`.

use super::{CliError, CliResult, inbox::clip, print_json};
use crate::domain::RequestState;
use crate::store::{
    Db,
    requests::{self, CheckOutcome, ListFilter},
};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum RequestsCommand {
    /// Requests, oldest first.
    List {
        /// pending_review, awaiting_requester, verified, approved, completed, rejected, cancelled
        #[arg(long)]
        state: Option<String>,
        /// Reference, subscriber number or address.
        #[arg(long)]
        search: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// One request: state, flags, checks, extracted fields, thread, timeline.
    Show {
        reference: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(command: RequestsCommand, db: &Db) -> CliResult {
    match command {
        RequestsCommand::List {
            state,
            search,
            json,
        } => {
            let state = match state {
                None => None,
                Some(s) => Some(RequestState::parse(&s).ok_or_else(|| {
                    let all: Vec<_> = RequestState::ALL.iter().map(|s| s.as_str()).collect();
                    CliError::with_status(
                        format!(
                            "état « {s} » inconnu ; états possibles : {}",
                            all.join(", ")
                        ),
                        64,
                    )
                })?),
            };
            let list = requests::list(
                db.conn(),
                &ListFilter {
                    state,
                    search,
                    limit: 0,
                    offset: 0,
                },
            )
            .await?;
            if json {
                return print_json(&list);
            }
            if list.is_empty() {
                println!("aucune demande");
                return Ok(());
            }
            println!(
                "{:<14} {:<24} {:<12} {:<34} {:<17} SIGNALEMENTS",
                "RÉFÉRENCE", "ÉTAT", "ABONNÉ", "NOUVELLE ADRESSE", "CRÉÉE LE"
            );
            for r in list {
                println!(
                    "{:<14} {:<24} {:<12} {:<34} {:<17} {}",
                    r.reference,
                    r.state_label,
                    r.claimed_number.as_deref().unwrap_or("-"),
                    clip(r.new_email.as_deref().unwrap_or("-"), 34),
                    r.created_at.format("%Y-%m-%d %H:%M"),
                    r.flags.join(", "),
                );
            }
            Ok(())
        }
        RequestsCommand::Show { reference, json } => {
            let d = requests::show(db.conn(), &reference).await?;
            if json {
                return print_json(&d);
            }
            println!(
                "Demande {} — {}",
                d.summary.reference, d.summary.state_label
            );
            println!(
                "  créée le      {}",
                d.summary.created_at.format("%Y-%m-%d %H:%M")
            );
            println!(
                "  demandeur     {}",
                d.summary.requester_email.as_deref().unwrap_or("-")
            );
            println!(
                "  n° abonné     {}",
                d.summary.claimed_number.as_deref().unwrap_or("-")
            );
            println!(
                "  nouvelle adr. {}",
                d.summary.new_email.as_deref().unwrap_or("-")
            );
            if d.summary.contested {
                println!(
                    "  OPPOSITION en cours : approbation impossible tant qu'elle n'est pas levée"
                );
            }
            if !d.summary.flags.is_empty() {
                println!("  signalements  {}", d.summary.flags.join(", "));
            }
            if let Some(s) = &d.subscriber {
                println!(
                    "Abonné enregistré : {} — {} — {}",
                    s.number,
                    clip(&s.organisation, 60),
                    s.email.as_deref().unwrap_or("(aucune adresse)")
                );
            }
            if !d.fields.is_empty() {
                println!("Champs lus :");
                for (k, v) in &d.fields {
                    println!("  {k:<36} {}", clip(v, 80));
                }
            }
            if !d.checks.is_empty() {
                println!("Contrôles :");
                for c in &d.checks {
                    let mark = match c.outcome {
                        CheckOutcome::Match => "OK ",
                        CheckOutcome::Mismatch => "NON",
                        CheckOutcome::Unknown => " ? ",
                    };
                    println!(
                        "  [{mark}] {}{}",
                        c.label,
                        c.detail
                            .as_deref()
                            .map(|d| format!(" ({})", clip(d, 60)))
                            .unwrap_or_default()
                    );
                }
            }
            if !d.thread.is_empty() {
                println!("Échanges :");
                for t in &d.thread {
                    let arrow = if t.direction == "in" { "←" } else { "→" };
                    println!(
                        "  {} {arrow} {:<32} {:<40} {}",
                        t.at.format("%Y-%m-%d %H:%M"),
                        clip(t.party.as_deref().unwrap_or("-"), 32),
                        clip(t.subject.as_deref().unwrap_or("-"), 40),
                        t.status
                    );
                }
            }
            println!("Historique :");
            for e in &d.timeline {
                println!(
                    "  {} {:<20} {:<20} {} → {}{}",
                    e.at.format("%Y-%m-%d %H:%M"),
                    clip(&e.actor, 20),
                    e.action,
                    e.from_state.as_deref().unwrap_or("-"),
                    e.to_state.as_deref().unwrap_or("-"),
                    e.reason
                        .as_deref()
                        .map(|r| format!(" — {}", clip(r, 60)))
                        .unwrap_or_default()
                );
            }
            Ok(())
        }
    }
}
