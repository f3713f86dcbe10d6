//! `bareme-mel staff add|list|disable|reset-password|disable-totp`.

use super::{CliError, CliResult, cli_actor, print_json};
use crate::{
    backoffice::second_factor,
    domain::{Role, check_password},
    security,
    store::{Db, staff},
};
use clap::Subcommand;
use std::io::{BufRead, IsTerminal};

#[derive(Debug, Subcommand)]
pub enum StaffCommand {
    /// Create a staff account (the password is asked without echo, or read from stdin).
    Add {
        username: String,
        /// agent, approbateur or admin
        #[arg(long)]
        role: String,
        /// Full name shown in the back-office and the audit log.
        #[arg(long)]
        name: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List the accounts.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Disable an account (it can no longer sign in).
    Disable { username: String },
    /// Set a new password for an account (its second factor stays as it is).
    ResetPassword {
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Turn off the account's second factor (TOTP), e.g. after a lost phone.
    DisableTotp { username: String },
}

pub async fn run(command: StaffCommand, db: &Db) -> CliResult {
    match command {
        StaffCommand::Add {
            username,
            role,
            name,
            password_stdin,
        } => {
            let role = Role::parse(&role).ok_or_else(|| {
                CliError::with_status(
                    format!("rôle « {role} » inconnu : agent, approbateur ou admin"),
                    64,
                )
            })?;
            staff::check_username(&username)?;
            if staff::find(db, &username).await?.is_some() {
                return Err(CliError::data(format!(
                    "le compte « {username} » existe déjà"
                )));
            }
            let password = read_password(password_stdin, &username)?;
            let hash = security::hash_password(password).await?;
            let display = name.unwrap_or_else(|| username.clone());
            let member = staff::add(db, &username, &display, role, hash, &cli_actor()).await?;
            println!("compte « {} » créé (rôle {})", member.username, member.role);
            Ok(())
        }
        StaffCommand::List { json } => {
            let list = staff::list(db).await?;
            if json {
                return print_json(&list);
            }
            if list.is_empty() {
                println!("aucun compte (créez-en un avec `bareme-mel staff add NOM --role admin`)");
            }
            for m in list {
                println!(
                    "{:<24} {:<12} {:<30} {}{}",
                    m.username,
                    m.role,
                    m.display_name,
                    if m.disabled { "désactivé" } else { "actif" },
                    if m.totp { ", TOTP" } else { "" }
                );
            }
            Ok(())
        }
        StaffCommand::Disable { username } => {
            staff::disable(db, &username, &cli_actor()).await?;
            println!("compte « {username} » désactivé");
            Ok(())
        }
        StaffCommand::ResetPassword {
            username,
            password_stdin,
        } => {
            if staff::find(db, &username).await?.is_none() {
                return Err(CliError::data(format!(
                    "aucun compte « {username} » (voir `bareme-mel staff list`)"
                )));
            }
            let password = read_password(password_stdin, &username)?;
            let hash = security::hash_password(password).await?;
            staff::set_password(db, &username, hash, &cli_actor()).await?;
            println!("mot de passe du compte « {username} » remplacé");
            Ok(())
        }
        StaffCommand::DisableTotp { username } => {
            if staff::find(db, &username).await?.is_none() {
                return Err(CliError::data(format!(
                    "aucun compte « {username} » (voir `bareme-mel staff list`)"
                )));
            }
            if second_factor::disable(db, &username, &cli_actor()).await? {
                println!("double authentification du compte « {username} » désactivée");
            } else {
                println!("le compte « {username} » n'avait pas de double authentification");
            }
            Ok(())
        }
    }
}

/// Reads a password from stdin (`--password-stdin`) or asks twice on the terminal.
fn read_password(from_stdin: bool, username: &str) -> Result<String, CliError> {
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_string()
    } else {
        if !std::io::stdin().is_terminal() {
            return Err(CliError::with_status(
                "pas de terminal pour saisir le mot de passe : utilisez --password-stdin",
                64,
            ));
        }
        let first = rpassword::prompt_password("Mot de passe : ")?;
        let second = rpassword::prompt_password("Répétez le mot de passe : ")?;
        if first != second {
            return Err(CliError::data("les deux mots de passe sont différents"));
        }
        first
    };
    check_password(&password, &[username]).map_err(|e| CliError::data(e.0))?;
    Ok(password)
}
