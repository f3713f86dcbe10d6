//! The command line of SPEC §7. One file per command; each returns a
//! [`CliError`] that prints as one clear French line with its exit status.

mod audit;
mod backup;
mod form;
mod inbox;
mod ingest;
mod mail;
mod outbox;
mod purge;
mod requests;
mod serve;
mod staff;
mod subscribers;

use crate::{config::Settings, store::Db};
use clap::{Parser, Subcommand};
use std::{path::PathBuf, process::ExitCode};

#[derive(Debug, Parser)]
#[command(
    name = "bareme-mel",
    version,
    about = "Changement de l'adresse mél du gestionnaire — Barème de Montpellier"
)]
pub struct Cli {
    /// Configuration file (default: ./bareme-mel.toml when present, or $BAREME_MEL_CONFIG).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Migrate the database, serve HTTP and run the workers until SIGTERM/Ctrl-C.
    Serve {
        /// Load a demonstration data set first.
        #[arg(long)]
        demo: bool,
    },
    /// Apply the pending database migrations.
    Migrate,
    /// Read incoming messages (stdin, files or a Maildir) into the intake pipeline.
    Ingest {
        #[arg(long, value_name = "DIR")]
        maildir: Option<PathBuf>,
        files: Vec<PathBuf>,
    },
    /// Recorded incoming messages.
    #[command(subcommand)]
    Inbox(inbox::InboxCommand),
    /// Change requests.
    #[command(subcommand)]
    Requests(requests::RequestsCommand),
    /// Back-office staff accounts.
    #[command(subcommand)]
    Staff(staff::StaffCommand),
    /// Subscribers (import and export as CSV).
    #[command(subcommand)]
    Subscribers(subscribers::SubscribersCommand),
    /// Write the change-of-address form as a fillable PDF.
    Form {
        #[arg(long, value_name = "N")]
        abonne: Option<String>,
        #[arg(short = 'o', value_name = "FILE")]
        output: PathBuf,
    },
    /// Outgoing mail queue.
    #[command(subcommand)]
    Outbox(outbox::OutboxCommand),
    /// The audit log.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Outgoing mail configuration.
    #[command(subcommand)]
    Mail(mail::MailCommand),
    /// Write an online copy of the SQLite database (PostgreSQL: use pg_dump).
    Backup {
        #[arg(short = 'o', value_name = "FILE")]
        output: PathBuf,
    },
    /// Put a backup in place of a database that does not exist yet.
    Restore {
        #[arg(value_name = "FILE")]
        input: PathBuf,
    },
    /// Apply the retention periods (personal data).
    Purge {
        /// Only count what would be removed.
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
}

/// A failed command: what to print and which exit status to give.
#[derive(Debug)]
pub struct CliError {
    pub message: String,
    pub status: u8,
}

impl CliError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            status: 1,
        }
    }

    pub fn with_status(message: impl Into<String>, status: u8) -> Self {
        Self {
            message: message.into(),
            status,
        }
    }
}

impl<E: std::fmt::Display> From<E> for CliError {
    fn from(e: E) -> Self {
        Self::new(e.to_string())
    }
}

pub type CliResult = Result<(), CliError>;

/// Exit status of sysexits.h for a temporary failure (the MTA retries).
pub const EX_TEMPFAIL: u8 = 75;

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.clone()) {
        Ok(s) => s,
        Err(e) => return fail(CliError::with_status(e.to_string(), 78)),
    };
    crate::telemetry::init(&settings);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(CliError::new(format!("démarrage impossible : {e}"))),
    };
    match runtime.block_on(run(cli.command, settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

fn fail(e: CliError) -> ExitCode {
    eprintln!("erreur : {}", e.message);
    ExitCode::from(e.status)
}

async fn run(command: Command, settings: Settings) -> CliResult {
    match command {
        Command::Serve { demo } => serve::run(settings, demo).await,
        Command::Migrate => {
            let db = open(&settings).await?;
            let pending = db.pending_migrations().await?;
            db.migrate().await?;
            println!("base à jour ({pending} migration(s) appliquée(s))");
            Ok(())
        }
        Command::Ingest { maildir, files } => ingest::run(settings, maildir, files).await,
        Command::Inbox(c) => inbox::run(c, &open_migrated(&settings).await?).await,
        Command::Requests(c) => requests::run(c, &open_migrated(&settings).await?).await,
        Command::Staff(c) => staff::run(c, &open_migrated(&settings).await?).await,
        Command::Subscribers(c) => subscribers::run(c, &open_migrated(&settings).await?).await,
        Command::Audit(c) => audit::run(c, &open_migrated(&settings).await?).await,
        Command::Form { abonne, output } => form::run(&settings, abonne.as_deref(), &output),
        Command::Purge { dry_run, json } => {
            purge::run(
                &open_migrated(&settings).await?,
                &settings.retention,
                dry_run,
                json,
            )
            .await
        }
        Command::Outbox(c) => outbox::run(c, &open_migrated(&settings).await?).await,
        Command::Mail(c) => mail::run(c, &settings).await,
        Command::Backup { output } => backup::backup(&settings, &output).await,
        Command::Restore { input } => backup::restore(&settings, &input).await,
    }
}

/// Connects to the configured database.
pub async fn open(settings: &Settings) -> Result<Db, CliError> {
    Db::connect(&settings.database).await.map_err(|e| {
        CliError::with_status(
            format!("{e} — vérifiez database.url et que la base est démarrée"),
            EX_TEMPFAIL,
        )
    })
}

/// Connects and applies pending migrations, so that every command works on a fresh directory.
pub async fn open_migrated(settings: &Settings) -> Result<Db, CliError> {
    let db = open(settings).await?;
    db.migrate()
        .await
        .map_err(|e| CliError::with_status(format!("migration impossible : {e}"), EX_TEMPFAIL))?;
    Ok(db)
}

/// The audit name of the operator at the command line.
pub fn cli_actor() -> String {
    let user = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "operator".into());
    format!("cli:{user}")
}

/// Prints `value` as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> CliResult {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
