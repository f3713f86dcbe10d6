//! `bareme-mel subscribers import FILE.csv` and `subscribers export`.
//!
//! The import is idempotent (an identical line changes nothing), shows a
//! progress bar, imports every valid line and reports each rejected one
//! with its line number and reason; any rejection gives a non-zero status.

use super::{CliError, CliResult, cli_actor};
use crate::{
    access_export::{self, Subject},
    domain::{MailAddress, SubscriberNumber, has_control_chars},
    store::{
        Db,
        subscribers::{self, SubscriberRow, UpsertStats},
    },
};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use std::{collections::HashSet, io::Write, path::PathBuf};

/// The columns, in the order of the export.
pub const COLUMNS: [&str; 4] = ["numero_abonne", "organisme", "gestionnaire", "adresse_mel"];
const BATCH: usize = 1000;

#[derive(Debug, Subcommand)]
pub enum SubscribersCommand {
    /// Insert or update subscribers from a CSV file (columns numero_abonne,organisme,gestionnaire,adresse_mel; `,` or `;`).
    Import { file: PathBuf },
    /// Write every subscriber as CSV (stdout, or -o FILE).
    Export {
        #[arg(short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Everything held about one subscriber number or one address (access request), as a ZIP.
    AccessExport {
        #[arg(
            long,
            value_name = "N",
            conflicts_with = "adresse",
            required_unless_present = "adresse"
        )]
        abonne: Option<String>,
        #[arg(long, value_name = "ADDRESS")]
        adresse: Option<String>,
        #[arg(short = 'o', value_name = "FILE.zip")]
        output: PathBuf,
    },
}

pub async fn run(command: SubscribersCommand, db: &Db) -> CliResult {
    match command {
        SubscribersCommand::Import { file } => import(db, &file).await,
        SubscribersCommand::Export { output } => export(db, output).await,
        SubscribersCommand::AccessExport {
            abonne,
            adresse,
            output,
        } => {
            let subject = match (abonne, adresse) {
                (Some(n), _) => Subject::Number(
                    SubscriberNumber::parse(&n).map_err(|e| CliError::with_status(e.0, 64))?,
                ),
                (None, Some(a)) => Subject::Address(
                    MailAddress::parse(&a).map_err(|e| CliError::with_status(e.0, 64))?,
                ),
                (None, None) => {
                    return Err(CliError::with_status(
                        "indiquez --abonne N ou --adresse ADRESSE",
                        64,
                    ));
                }
            };
            let (zip, summary) = access_export::build(db, &subject, &cli_actor()).await?;
            std::fs::write(&output, zip).map_err(|e| CliError::file(output.display(), e))?;
            println!(
                "{} : {} abonné(s), {} demande(s), {} courriel(s) reçu(s), {} pièce(s) jointe(s), {} courriel(s) envoyé(s)",
                output.display(),
                summary.subscribers,
                summary.requests,
                summary.messages,
                summary.attachments,
                summary.sent_mails
            );
            Ok(())
        }
    }
}

/// A line that could not be imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub line: u64,
    pub reason: String,
}

/// Turns one CSV record into a row, or says why not.
pub fn parse_record(record: &csv::StringRecord, idx: &[usize; 4]) -> Result<SubscriberRow, String> {
    let get = |i: usize| record.get(idx[i]).unwrap_or("").trim().to_string();
    for value in record.iter() {
        if has_control_chars(value) {
            return Err("caractère de contrôle ou retour à la ligne dans un champ".into());
        }
    }
    let number =
        SubscriberNumber::parse(&get(0)).map_err(|e| format!("numero_abonne : {}", e.0))?;
    let organisation = get(1);
    if organisation.is_empty() {
        return Err("organisme : vide".into());
    }
    if organisation.chars().count() > 200 {
        return Err("organisme : plus de 200 caractères".into());
    }
    let manager = Some(get(2)).filter(|s| !s.is_empty());
    let email_raw = get(3);
    let email = if email_raw.is_empty() {
        None
    } else {
        Some(MailAddress::parse(&email_raw).map_err(|e| format!("adresse_mel : {}", e.0))?)
    };
    Ok(SubscriberRow {
        numero_abonne: number,
        organisme: organisation,
        gestionnaire: manager,
        adresse_mel: email,
    })
}

async fn import(db: &Db, file: &PathBuf) -> CliResult {
    let bytes = std::fs::read(file)
        .map_err(|e| CliError::file(format_args!("lecture de {} impossible", file.display()), e))?;
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let first_line = body.split(|b| *b == b'\n').next().unwrap_or_default();
    let delimiter = if first_line.contains(&b';') && !first_line.contains(&b',') {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(body);
    let headers = reader
        .headers()
        .map_err(|e| CliError::data(format!("en-tête illisible : {e}")))?
        .clone();
    let mut idx = [0usize; 4];
    for (i, col) in COLUMNS.iter().enumerate() {
        idx[i] = headers
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(col))
            .ok_or_else(|| {
                CliError::with_status(
                    format!(
                        "colonne « {col} » absente de l'en-tête (attendu : {})",
                        COLUMNS.join(",")
                    ),
                    65,
                )
            })?;
    }

    let progress = ProgressBar::new(body.len() as u64);
    progress.set_style(
        ProgressStyle::with_template("{bar:40} {percent:>3}% {msg} ({elapsed}, reste {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut existing = subscribers::load_existing(db.conn()).await?;
    let actor = cli_actor();
    let mut rejected: Vec<Rejected> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut batch: Vec<SubscriberRow> = Vec::with_capacity(BATCH);
    let mut stats = UpsertStats::default();
    let mut lines = 0u64;
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line() + 1;
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                lines += 1;
                match parse_record(&record, &idx) {
                    Ok(row) if !seen.insert(row.numero_abonne.to_string()) => {
                        rejected.push(Rejected {
                            line: record.position().map_or(line, |p| p.line()),
                            reason: format!(
                                "numero_abonne {} déjà présent plus haut dans le fichier",
                                row.numero_abonne
                            ),
                        })
                    }
                    Ok(row) => batch.push(row),
                    Err(reason) => rejected.push(Rejected {
                        line: record.position().map_or(line, |p| p.line()),
                        reason,
                    }),
                }
            }
            Err(e) => {
                lines += 1;
                let line = e.position().map_or(line, |p| p.line());
                let reason = match e.kind() {
                    csv::ErrorKind::Utf8 { .. } => {
                        "texte non UTF-8 : enregistrez le fichier en UTF-8".to_string()
                    }
                    _ => format!("ligne illisible : {e}"),
                };
                rejected.push(Rejected { line, reason });
            }
        }
        if batch.len() >= BATCH {
            stats.add(&subscribers::upsert_batch(db, &mut existing, &batch, &actor).await?);
            batch.clear();
            progress.set_position(reader.position().byte());
            progress.set_message(format!("{lines} lignes"));
        }
    }
    if !batch.is_empty() {
        stats.add(&subscribers::upsert_batch(db, &mut existing, &batch, &actor).await?);
    }
    progress.finish_and_clear();

    let mut err = std::io::stderr().lock();
    for r in &rejected {
        let _ = writeln!(err, "ligne {} rejetée : {}", r.line, r.reason);
    }
    println!(
        "{lines} ligne(s) lue(s) : {} créée(s), {} modifiée(s), {} inchangée(s), {} rejetée(s)",
        stats.created,
        stats.updated,
        stats.unchanged,
        rejected.len()
    );
    if rejected.is_empty() {
        Ok(())
    } else {
        Err(CliError::with_status(
            format!(
                "{} ligne(s) rejetée(s) : corrigez-les (voir ci-dessus) et relancez l'import, les autres sont déjà importées",
                rejected.len()
            ),
            65,
        ))
    }
}

/// Neutralises spreadsheet formulas: a value starting with = + - @ or a tab gets a leading quote.
pub fn csv_safe(value: &str) -> String {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    }
}

async fn export(db: &Db, output: Option<PathBuf>) -> CliResult {
    let sink: Box<dyn Write> = match &output {
        Some(path) => {
            Box::new(std::fs::File::create(path).map_err(|e| CliError::file(path.display(), e))?)
        }
        None => Box::new(std::io::stdout().lock()),
    };
    let mut writer = csv::Writer::from_writer(sink);
    writer.write_record(COLUMNS)?;
    let mut after = 0i64;
    let mut count = 0u64;
    loop {
        let page = subscribers::page(db.conn(), after, 5000).await?;
        let Some((last, _)) = page.last() else { break };
        after = *last;
        for (_, row) in page {
            writer.write_record([
                csv_safe(row.numero_abonne.as_str()),
                csv_safe(&row.organisme),
                csv_safe(row.gestionnaire.as_deref().unwrap_or("")),
                csv_safe(row.adresse_mel.as_ref().map(|a| a.as_str()).unwrap_or("")),
            ])?;
            count += 1;
        }
    }
    writer.flush()?;
    if output.is_some() {
        eprintln!("{count} abonné(s) exporté(s)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_in_exports() {
        assert_eq!(csv_safe("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(csv_safe("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_safe("Lycée Joffre"), "Lycée Joffre");
    }

    #[test]
    fn records_are_validated_field_by_field() {
        let idx = [0, 1, 2, 3];
        let ok = csv::StringRecord::from(vec![
            "12345",
            "Lycée Joffre",
            "Marie Durand",
            "m.durand@ac-montpellier.fr",
        ]);
        assert!(parse_record(&ok, &idx).is_ok());
        let bad_number = csv::StringRecord::from(vec!["12a45", "Lycée", "", ""]);
        assert!(
            parse_record(&bad_number, &idx)
                .unwrap_err()
                .starts_with("numero_abonne")
        );
        let bad_mail = csv::StringRecord::from(vec!["12345", "Lycée", "", "pas une adresse"]);
        assert!(
            parse_record(&bad_mail, &idx)
                .unwrap_err()
                .starts_with("adresse_mel")
        );
        let no_org = csv::StringRecord::from(vec!["12345", " ", "", ""]);
        assert!(parse_record(&no_org, &idx).is_err());
    }
}
