//! The command line of SPEC §7. One file per command; each returns a
//! [`CliError`] that prints as one clear French line with its exit status.

mod audit;
mod backup;
mod demo;
mod form;
mod inbox;
mod ingest;
mod key;
mod mail;
mod outbox;
mod purge;
mod requests;
mod serve;
mod staff;
mod subscribers;

use crate::{
    config::Settings,
    store::{Db, StoreError},
};
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
    /// The application key (`security.key_file`).
    #[command(subcommand)]
    Key(key::KeyCommand),
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

/// sysexits.h: the command was used incorrectly (unknown command or option,
/// a value that is not one of the allowed ones, a file it cannot use).
pub const EX_USAGE: u8 = 64;
/// sysexits.h: the input data are wrong (a malformed line, an unknown
/// reference, a decision the request's state refuses).
pub const EX_DATAERR: u8 = 65;
/// sysexits.h: an internal fault (a bug or a database answering nonsense).
pub const EX_SOFTWARE: u8 = 70;
/// sysexits.h: the output file cannot be created.
pub const EX_CANTCREAT: u8 = 73;
/// sysexits.h: reading or writing a file failed.
pub const EX_IOERR: u8 = 74;
/// sysexits.h: a temporary failure — the database is unreachable; the MTA
/// (or the operator) tries again later.
pub const EX_TEMPFAIL: u8 = 75;
/// sysexits.h: the configuration is wrong.
pub const EX_CONFIG: u8 = 78;

/// A failed command: what to print and which exit status to give. Every
/// error reaches it through one of the explicit mappings below, each with
/// its sysexits status (README, « Commands »).
#[derive(Debug)]
pub struct CliError {
    pub message: String,
    pub status: u8,
}

impl CliError {
    pub fn with_status(message: impl Into<String>, status: u8) -> Self {
        Self {
            message: message.into(),
            status,
        }
    }

    /// 64: the command was used incorrectly.
    pub fn usage(message: impl Into<String>) -> Self {
        Self::with_status(message, EX_USAGE)
    }

    /// 65: the data given are wrong.
    pub fn data(message: impl Into<String>) -> Self {
        Self::with_status(message, EX_DATAERR)
    }

    /// 70: an internal fault.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::with_status(message, EX_SOFTWARE)
    }

    /// A file operation that failed, with what was being done; the status
    /// is the one of the [`std::io::Error`] mapping.
    pub fn file(what: impl std::fmt::Display, e: std::io::Error) -> Self {
        let status = Self::from(e.kind()).status;
        Self::with_status(format!("{what} : {e}"), status)
    }

    /// 75: try again later.
    pub fn temporary(message: impl Into<String>) -> Self {
        Self::with_status(message, EX_TEMPFAIL)
    }

    /// 78: the configuration is wrong.
    pub fn config(message: impl Into<String>) -> Self {
        Self::with_status(message, EX_CONFIG)
    }
}

/// Store errors: the database unreachable is temporary (75); a refusal of
/// the data (unknown, invalid, a transition the state refuses, a conflict)
/// is 65; anything else is an internal fault (70).
impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        if e.is_unavailable() {
            return Self::temporary(format!("{e} — réessayez plus tard"));
        }
        match e {
            StoreError::NotFound(_)
            | StoreError::Invalid(_)
            | StoreError::Transition(_)
            | StoreError::Conflict => Self::data(e.to_string()),
            StoreError::Db(_) => Self::internal(e.to_string()),
        }
    }
}

impl From<crate::store::DbErr> for CliError {
    fn from(e: crate::store::DbErr) -> Self {
        StoreError::from(e).into()
    }
}

/// Service errors: their store part as above, the rest internal (70).
impl From<crate::backoffice::ServiceError> for CliError {
    fn from(e: crate::backoffice::ServiceError) -> Self {
        match e {
            crate::backoffice::ServiceError::Store(e) => e.into(),
            crate::backoffice::ServiceError::Internal(e) => Self::internal(format!("{e:#}")),
        }
    }
}

/// Files: one that is missing or forbidden was named wrongly (64); malformed
/// content is bad data (65); any other failure to read or write is 74.
impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        Self::with_status(e.to_string(), Self::from(e.kind()).status)
    }
}

impl From<std::io::ErrorKind> for CliError {
    fn from(kind: std::io::ErrorKind) -> Self {
        use std::io::ErrorKind;
        let status = match kind {
            ErrorKind::NotFound | ErrorKind::PermissionDenied => EX_USAGE,
            ErrorKind::InvalidData | ErrorKind::InvalidInput => EX_DATAERR,
            _ => EX_IOERR,
        };
        Self::with_status(kind.to_string(), status)
    }
}

/// Password hashing failed: an internal fault (70).
impl From<crate::security::HashError> for CliError {
    fn from(e: crate::security::HashError) -> Self {
        Self::internal(e.to_string())
    }
}

/// CSV: a write that failed is a file error, a record that does not parse
/// is bad data (65).
impl From<csv::Error> for CliError {
    fn from(e: csv::Error) -> Self {
        if e.is_io_error() {
            return std::io::Error::from(e).into();
        }
        Self::data(e.to_string())
    }
}

pub type CliResult = Result<(), CliError>;

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version print and succeed; any other mistake on the
        // command line is a usage error (64), not clap's own status 2.
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(EX_USAGE);
        }
    };
    let settings = match Settings::load(cli.config.clone()) {
        Ok(s) => s,
        Err(e) => return fail(CliError::config(e.to_string())),
    };
    crate::telemetry::init(&settings);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(CliError::internal(format!("démarrage impossible : {e}"))),
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
            install_key(&settings, &db).await?;
            println!("base à jour ({pending} migration(s) appliquée(s))");
            Ok(())
        }
        Command::Ingest { maildir, files } => ingest::run(settings, maildir, files).await,
        Command::Inbox(c) => inbox::run(c, &open_migrated(&settings).await?).await,
        Command::Requests(c) => requests::run(c, &open_migrated(&settings).await?).await,
        Command::Staff(c) => staff::run(c, &open_migrated(&settings).await?).await,
        Command::Subscribers(c) => subscribers::run(c, &open_migrated(&settings).await?).await,
        Command::Audit(c) => audit::run(c, &open_migrated(&settings).await?).await,
        Command::Key(c) => {
            let db = open_migrated(&settings).await?;
            key::run(c, &settings, &db).await
        }
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
    install_key(settings, &db).await?;
    Ok(db)
}

/// Reads (or, on a database that needs none yet, creates) the application
/// key of `security.key_file`, makes it this process's key, and seals the
/// TOTP secrets an older version kept in clear.
pub async fn install_key(settings: &Settings, db: &Db) -> CliResult {
    use crate::backoffice::second_factor;
    use crate::store::{StoreError, audit};
    let sealed =
        second_factor::has_sealed_secrets(db).await? || audit::has_keyed_events(db.conn()).await?;
    let (key, created) = crate::appkey::load_or_create(&settings.key_file(), sealed)
        .map_err(|e| CliError::config(e.to_string()))?;
    crate::appkey::install(key);
    let n = second_factor::seal_clear_secrets(db).await?;
    if n > 0 {
        tracing::info!(count = n, "TOTP secrets sealed with the application key");
    }
    // Only the first start with a key (an upgrade from a version that had
    // none) seals an unkeyed chain. Once the key file exists, an unkeyed
    // chain means someone cleared the marker and re-hashed without the key:
    // sealing it would bless the edit, so it is left for `audit verify` to refuse.
    if !audit::is_unkeyed(db.conn()).await? {
        return Ok(());
    }
    if !created {
        tracing::error!(
            "journal d'audit non scellé alors que la clé de l'application existe déjà : il a pu être modifié ; lancez « bareme-mel audit verify »"
        );
    } else {
        let key = crate::appkey::current();
        let txn = db.begin().await?;
        match audit::rechain(&txn, &key, &key).await {
            Ok(events) => {
                txn.commit().await.map_err(StoreError::from)?;
                tracing::info!(events, "audit chain sealed with the application key");
            }
            // Left as it is: `audit verify` shows where it was edited.
            Err(StoreError::Invalid(problem)) => tracing::warn!(%problem, "audit chain not sealed"),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
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
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::internal(format!("JSON : {e}")))?;
    println!("{text}");
    Ok(())
}
