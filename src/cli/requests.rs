//! `bareme-mel requests list|show`.

use super::{CliError, CliResult, inbox::clip, print_json};
use crate::domain::RequestState;
use crate::store::{
    Db,
    requests::{self, CheckOutcome, ListFilter},
};
use crate::{backoffice::queue::staff_names_by_username, vocabulary};
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
                "{:<14} {:<24} {:<12} {:<34} {:<22} SIGNALEMENTS",
                "RÉFÉRENCE", "ÉTAT", "ABONNÉ", "NOUVELLE ADRESSE", "CRÉÉE LE"
            );
            for r in list {
                println!(
                    "{:<14} {:<24} {:<12} {:<34} {:<22} {}",
                    r.reference,
                    r.state_label,
                    r.claimed_number.as_deref().unwrap_or("-"),
                    clip(r.new_email.as_deref().unwrap_or("-"), 34),
                    vocabulary::date_time(r.created_at),
                    r.flags
                        .iter()
                        .map(|f| vocabulary::flag_label(f))
                        .collect::<Vec<_>>()
                        .join(", "),
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
                vocabulary::date_time(d.summary.created_at)
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
                let flags: Vec<String> = d
                    .summary
                    .flags
                    .iter()
                    .map(|f| vocabulary::flag_label(f))
                    .collect();
                println!("  signalements  {}", flags.join(", "));
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
                for f in bareme_forms::definition().fields() {
                    if let (Some(v), Some(label)) =
                        (d.fields.get(&f.name), vocabulary::field_label(&f.name))
                    {
                        println!("  {label:<40} {}", clip(v, 80));
                    }
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
                        vocabulary::date_time(t.at),
                        clip(t.party.as_deref().unwrap_or("-"), 32),
                        clip(t.subject.as_deref().unwrap_or("-"), 40),
                        if t.direction == "in" {
                            vocabulary::labels::disposition_label(&t.status)
                        } else {
                            vocabulary::labels::outbox_state_label(&t.status)
                        }
                    );
                }
            }
            println!("Historique :");
            let names = staff_names_by_username(db.conn()).await?;
            let state = |s: &Option<String>| {
                s.as_deref()
                    .map(vocabulary::state_label)
                    .unwrap_or_else(|| "-".into())
            };
            for e in &d.timeline {
                println!(
                    "  {} {:<24} {:<28} {} → {}{}",
                    vocabulary::date_time(e.at),
                    clip(&vocabulary::actor_label(&e.actor, &names), 24),
                    vocabulary::action_label(&e.action),
                    state(&e.from_state),
                    state(&e.to_state),
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
