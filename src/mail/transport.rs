//! The two ways out, chosen from `mail.transport`: an SMTP relay (no TLS,
//! STARTTLS or implicit TLS, optional authentication, timeouts, pooled
//! connections) or `.eml` files under `mail.outbox_dir`.
//!
//! Every failure is classified once: the server's 5xx answers are
//! [`SendError::Permanent`]; 4xx answers, network, TLS, authentication and
//! file system errors are [`SendError::Temporary`].

use crate::config::{self, TlsMode};
use lettre::{
    AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    transport::smtp::{PoolConfig, authentication::Credentials},
};
use std::{path::PathBuf, time::Duration};

/// Why a mail was not delivered; the text is the server's answer or the
/// error, for the outbox row and the staff.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("échec temporaire : {0}")]
    Temporary(String),
    #[error("échec définitif : {0}")]
    Permanent(String),
}

/// A configured transport, cheap to share behind an `Arc`.
pub enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    File {
        transport: AsyncFileTransport<Tokio1Executor>,
        dir: PathBuf,
    },
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mailer::Smtp(_) => f.write_str("Mailer::Smtp"),
            Mailer::File { dir, .. } => write!(f, "Mailer::File({})", dir.display()),
        }
    }
}

impl Mailer {
    /// Builds the transport of `mail.transport`; `connections` bounds the
    /// SMTP pool. The file transport creates its directory.
    pub fn from_settings(mail: &config::Mail, connections: u32) -> Result<Self, String> {
        match mail.transport {
            config::Transport::File => {
                let dir = mail.outbox_dir.clone();
                std::fs::create_dir_all(&dir).map_err(|e| {
                    format!(
                        "impossible de créer le dossier mail.outbox_dir {} : {e}",
                        dir.display()
                    )
                })?;
                Ok(Mailer::File {
                    transport: AsyncFileTransport::new(&dir),
                    dir,
                })
            }
            config::Transport::Smtp => Ok(Mailer::Smtp(smtp(&mail.smtp, connections)?)),
        }
    }

    /// Sends `message` to its one recipient; returns the server's reply
    /// (or where the file was written).
    pub async fn send(&self, message: Message) -> Result<String, SendError> {
        match self {
            Mailer::Smtp(t) => match t.send(message).await {
                Ok(response) => {
                    let text: Vec<&str> = response.message().collect();
                    Ok(format!("{} {}", response.code(), text.join(" ")))
                }
                Err(e) => Err(classify(&e)),
            },
            Mailer::File { transport, dir } => match transport.send(message).await {
                Ok(id) => Ok(format!(
                    "écrit dans {}",
                    dir.join(format!("{id}.eml")).display()
                )),
                Err(e) => Err(SendError::Temporary(format!(
                    "écriture dans {} impossible : {e}",
                    dir.display()
                ))),
            },
        }
    }
}

fn smtp(s: &config::Smtp, connections: u32) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let host = s.host.trim();
    if host.is_empty() {
        return Err("mail.smtp.host est vide".into());
    }
    let builder = match s.tls {
        TlsMode::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
        TlsMode::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
            .map_err(|e| format!("mail.smtp : {e}"))?,
        TlsMode::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)
            .map_err(|e| format!("mail.smtp : {e}"))?,
    };
    let mut builder = builder
        .port(s.port)
        .timeout(Some(Duration::from_secs(s.timeout_secs.max(1))))
        .pool_config(
            PoolConfig::new()
                .max_size(connections.max(1))
                .idle_timeout(Duration::from_secs(30)),
        );
    if !s.username.is_empty() {
        builder = builder.credentials(Credentials::new(
            s.username.clone(),
            s.password.expose().to_string(),
        ));
    }
    Ok(builder.build())
}

/// 5xx answers about the mail are final. Authentication refusals (53x),
/// like TLS or STARTTLS mismatches, are configuration problems shared by
/// every mail: they stay temporary so that the queue flows again once the
/// configuration is fixed (within the retry budget).
fn classify(e: &lettre::transport::smtp::Error) -> SendError {
    let text = error_text(e);
    let auth = e.status().is_some_and(|c| c.to_string().starts_with("53"));
    if e.is_permanent() && !auth {
        SendError::Permanent(text)
    } else {
        SendError::Temporary(text)
    }
}

/// The error with its whole cause chain on one line.
pub fn error_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(" : ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}
