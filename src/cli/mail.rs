//! `bareme-mel mail test --to ADDRESS`: sends a test mail now, outside the
//! queue, and explains the usual configuration mistakes in French.

use super::{CliError, CliResult};
use crate::{
    config::{Settings, Transport},
    domain::MailAddress,
    mail::{hint::hint, message, outbox::message_id_domain, transport::Mailer},
};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// Send a test mail now with the configured transport.
    Test {
        #[arg(long, value_name = "ADDRESS")]
        to: String,
    },
}

pub async fn run(command: MailCommand, settings: &Settings) -> CliResult {
    let MailCommand::Test { to } = command;
    let to = MailAddress::parse(&to).map_err(|e| CliError::with_status(e.to_string(), 64))?;
    let to = to
        .as_str()
        .parse()
        .map_err(|e| CliError::with_status(format!("adresse refusée : {e}"), 64))?;
    let from = message::from_mailbox(settings).map_err(|e| CliError::with_status(e, 78))?;
    let mailer =
        Mailer::from_settings(&settings.mail, 1).map_err(|e| CliError::with_status(e, 78))?;
    let message_id = format!(
        "test.{}@{}",
        uuid::Uuid::new_v4().simple(),
        message_id_domain(settings)
    );
    let msg = message::test_message(&from, to, &message_id).map_err(CliError::config)?;
    let via = match settings.mail.transport {
        Transport::File => format!("fichier sous {}", settings.mail.outbox_dir.display()),
        Transport::Smtp => format!(
            "SMTP {}:{}",
            settings.mail.smtp.host, settings.mail.smtp.port
        ),
    };
    match mailer.send(msg).await {
        Ok(reply) => {
            println!("message d'essai envoyé ({via}), Message-ID <{message_id}>");
            println!("réponse : {reply}");
            Ok(())
        }
        Err(e) => {
            let text = e.to_string();
            let mut out = format!("envoi du message d'essai impossible ({via}) : {text}");
            if let Some(h) = hint(&text, &settings.mail.smtp) {
                out.push_str(&format!("\nconseil : {h}"));
            }
            Err(CliError::temporary(out))
        }
    }
}
