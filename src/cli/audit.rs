//! `bareme-mel audit verify`.

use super::{CliError, CliResult, print_json};
use crate::store::{Db, audit};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check every link of the hash chain; non-zero status when broken.
    Verify {
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(command: AuditCommand, db: &Db) -> CliResult {
    match command {
        AuditCommand::Verify { json } => {
            let report = audit::verify(db.conn()).await?;
            if json {
                print_json(&report)?;
            }
            match report.problem {
                None => {
                    if !json {
                        println!(
                            "journal d'audit intact : {} événement(s), empreinte {}",
                            report.events, report.head_hash
                        );
                    }
                    Ok(())
                }
                Some(problem) => Err(CliError::with_status(
                    format!("journal d'audit altéré : {problem}"),
                    2,
                )),
            }
        }
    }
}
