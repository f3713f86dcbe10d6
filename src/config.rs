//! Settings: defaults → optional TOML file → `BAREME_MEL__SECTION__KEY`
//! environment variables. Every key is documented once, in README.md.
//! Unknown keys are refused so that a typo never goes unnoticed.

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};
use std::{fmt, path::PathBuf};

/// A value that must never appear in logs or `Debug` output.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"***\"" })
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub server: Server,
    pub database: Database,
    pub mail: Mail,
    pub intake: Intake,
    pub approval: Approval,
    pub tokens: Tokens,
    pub retention: Retention,
    pub privacy: Privacy,
    pub log: Log,
    pub ops: Ops,
    pub security: Security,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Server {
    pub bind: String,
    /// Base of every link the service writes (mails, pages); never the Host header.
    pub public_url: String,
    /// Where `./data` lives: SQLite file, outbox files, inbox Maildir.
    pub data_dir: PathBuf,
    /// Reverse proxies (IP addresses or CIDR blocks) whose `X-Forwarded-For`
    /// / `Forwarded` header names the client; empty: the socket address is the client.
    pub trusted_proxies: Vec<String>,
}

impl Default for Server {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            public_url: "http://127.0.0.1:8080".into(),
            data_dir: "data".into(),
            trusted_proxies: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Database {
    /// `sqlite://data/bareme-mel.db` (default) or `postgres://user@host/db`.
    pub url: Secret,
    pub max_connections: u32,
}

impl Default for Database {
    fn default() -> Self {
        Self {
            url: Secret("sqlite://data/bareme-mel.db?mode=rwc".into()),
            max_connections: 10,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    File,
    Smtp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    None,
    Starttls,
    Tls,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Mail {
    pub from: String,
    pub from_name: String,
    pub transport: Transport,
    pub outbox_dir: PathBuf,
    /// Right-hand side of our Message-IDs; empty = the domain of `mail.from`.
    pub message_id_domain: String,
    pub retry_budget_hours: u64,
    /// First delay after a temporary failure; doubles on each attempt (with jitter).
    pub retry_base_secs: u64,
    /// Longest delay between two attempts.
    pub retry_max_secs: u64,
    /// How often an idle outbox worker looks for due mails.
    pub poll_interval_ms: u64,
    /// Mails claimed at once by a worker.
    pub batch_size: u64,
    /// Mails a worker sends in parallel (and size of the SMTP connection pool).
    pub concurrency: u32,
    /// How long a claim holds; after it a crashed worker's mails are taken over.
    pub lease_secs: u64,
    pub smtp: Smtp,
}

impl Default for Mail {
    fn default() -> Self {
        Self {
            from: "bareme@ac-montpellier.fr".into(),
            from_name: "Barème de Montpellier — Rectorat".into(),
            transport: Transport::File,
            outbox_dir: "data/outbox".into(),
            message_id_domain: String::new(),
            retry_budget_hours: 48,
            retry_base_secs: 60,
            retry_max_secs: 3600,
            poll_interval_ms: 2000,
            batch_size: 20,
            concurrency: 4,
            lease_secs: 300,
            smtp: Smtp::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: String,
    pub password: Secret,
    pub timeout_secs: u64,
}

impl Default for Smtp {
    fn default() -> Self {
        Self {
            host: "localhost".into(),
            port: 25,
            tls: TlsMode::Starttls,
            username: String::new(),
            password: Secret::default(),
            timeout_secs: 30,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Intake {
    /// The functional mailbox requesters write to; printed on the form.
    pub address: String,
    /// Maildir watched by `serve`; empty string turns watching off.
    pub maildir: PathBuf,
    pub imap: Imap,
    /// Bearer token of `POST /api/courriels`; empty disables the endpoint.
    pub api_token: Secret,
    /// authserv-id of our own MTA; only its Authentication-Results are read.
    pub trusted_authserv_id: String,
    pub max_message_bytes: u64,
    /// How often `serve` looks into `intake.maildir/new`, in seconds.
    pub maildir_poll_secs: u64,
    /// Group commit: at most this many messages of a batch source (Maildir,
    /// `ingest FILE...`) are written in one transaction and acknowledged
    /// together; 1 (the default) commits each message alone. Above 1 the
    /// attempts of a batch are not counted per message (poison messages).
    pub batch_size: usize,
    /// Answer a mail that is not a change request with the way to change the
    /// manager's address (authenticated senders only, never auto-mail).
    pub not_a_request_reply: bool,
    /// At most one such answer per sender in this many hours.
    pub not_a_request_reply_hours: u64,
    /// Where « Transférer » sends a mail that is not a change request; empty = off.
    pub forward_other_to: String,
    /// Reading of scanned forms.
    pub ocr: Ocr,
    /// Attempts at one message (counted before each, by source position or
    /// content hash) after which it is recorded quarantined without being
    /// read again: a message that kills the process does not block the next.
    pub max_attempts: u32,
    /// At most this many alerts to one registered address per 24 h; mail
    /// over the cap is recorded and flagged, the alert is not sent.
    pub max_alerts_per_address: u32,
    /// At most this many acknowledgements to one sender per 24 h; mail over
    /// the cap is recorded and flagged, the acknowledgement is not sent.
    pub max_acknowledgements_per_sender: u32,
}

impl Default for Intake {
    fn default() -> Self {
        Self {
            address: "bareme@ac-montpellier.fr".into(),
            maildir: "data/inbox".into(),
            imap: Imap::default(),
            api_token: Secret::default(),
            trusted_authserv_id: String::new(),
            max_message_bytes: 25 * 1024 * 1024,
            maildir_poll_secs: 5,
            batch_size: 1,
            not_a_request_reply: true,
            not_a_request_reply_hours: 24,
            forward_other_to: String::new(),
            ocr: Ocr::default(),
            max_attempts: 3,
            max_alerts_per_address: 3,
            max_acknowledgements_per_sender: 3,
        }
    }
}

/// Reading of scanned forms (SPEC §4): Tesseract and poppler's `pdftoppm`
/// as child processes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ocr {
    /// A value read with a lower confidence (0 to 1) is stored as read but
    /// flagged « lecture incertaine », and never becomes the new address
    /// without a staff confirmation.
    pub min_confidence: f32,
    /// The `tesseract` binary (a bare name is looked up in `PATH`).
    pub tesseract: PathBuf,
    /// The `pdftoppm` binary (poppler-utils).
    pub pdftoppm: PathBuf,
    /// Tesseract language.
    pub language: String,
}

impl Default for Ocr {
    fn default() -> Self {
        Self {
            min_confidence: 0.80,
            tesseract: "tesseract".into(),
            pdftoppm: "pdftoppm".into(),
            language: "fra".into(),
        }
    }
}

impl Ocr {
    /// The scan reader's view of these settings.
    pub fn scan_config(&self) -> bareme_forms::ScanConfig {
        bareme_forms::ScanConfig {
            tesseract: self.tesseract.clone(),
            pdftoppm: self.pdftoppm.clone(),
            language: self.language.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Imap {
    /// Empty host = no IMAP polling.
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: String,
    pub password: Secret,
    pub mailbox: String,
    /// Folder processed mail is moved to; empty = only flag it `\Seen`.
    pub processed_folder: String,
    pub poll_interval_secs: u64,
    /// Extra CA certificates (PEM) trusted for the IMAP server, besides the
    /// Mozilla roots; for a server with a private or self-signed certificate.
    pub ca_file: PathBuf,
}

impl Default for Imap {
    fn default() -> Self {
        Self {
            host: String::new(),
            port: 993,
            tls: TlsMode::Tls,
            username: String::new(),
            password: Secret::default(),
            mailbox: "INBOX".into(),
            processed_folder: String::new(),
            poll_interval_secs: 60,
            ca_file: PathBuf::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Approval {
    /// The approver must differ from the staff member who verified.
    pub four_eyes: bool,
    /// Approval waits this many hours after the alert to the registered
    /// address, so that it can object (0: no wait).
    pub objection_window_hours: u64,
}

impl Default for Approval {
    fn default() -> Self {
        Self {
            four_eyes: true,
            objection_window_hours: 0,
        }
    }
}

impl Approval {
    /// The rules of [`crate::domain::decide`] these settings give.
    pub fn rules(&self) -> crate::domain::Rules {
        crate::domain::Rules {
            four_eyes: self.four_eyes,
            objection_window: chrono::Duration::hours(
                i64::try_from(self.objection_window_hours.min(24 * 365)).unwrap_or(0),
            ),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tokens {
    pub self_service_ttl_minutes: u64,
    pub approval_ttl_hours: u64,
    pub objection_ttl_days: u64,
}

impl Default for Tokens {
    fn default() -> Self {
        Self {
            self_service_ttl_minutes: 60,
            approval_ttl_hours: 24,
            objection_ttl_days: 30,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Retention {
    pub closed_request_days: u64,
    pub ignored_mail_days: u64,
    pub decision_record_years: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            closed_request_days: 183,
            ignored_mail_days: 30,
            decision_record_years: 5,
        }
    }
}

/// What the « Données personnelles » page says about the controller (RGPD).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Privacy {
    pub controller: String,
    pub controller_address: String,
    pub dpo_contact: String,
    pub contact: String,
}

impl Default for Privacy {
    fn default() -> Self {
        Self {
            controller:
                "Rectorat de l'académie de Montpellier — Division des affaires générales (DAG)"
                    .into(),
            controller_address: "31 rue de l'Université, 34064 Montpellier Cedex 2".into(),
            dpo_contact: "dpd@ac-montpellier.fr".into(),
            contact: "bareme@ac-montpellier.fr".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `bareme_mel=debug,info`.
    pub level: String,
}

impl Default for Log {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

/// Secrets kept outside the database.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Security {
    /// The application key file (32 bytes, mode 0600, created on first run);
    /// empty: `bareme-mel.key` in `server.data_dir`.
    pub key_file: PathBuf,
}

/// Operations endpoints.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ops {
    /// Clients (IP addresses or CIDR blocks) allowed to read `/metrics`.
    pub metrics_allow: Vec<String>,
}

impl Default for Ops {
    fn default() -> Self {
        Self {
            metrics_allow: vec!["127.0.0.0/8".into(), "::1/128".into()],
        }
    }
}

/// Parses a list of IP addresses or CIDR blocks (`10.0.0.0/8`, `::1`).
pub fn parse_networks(list: &[String]) -> Result<Vec<ipnet::IpNet>, String> {
    list.iter()
        .map(|item| {
            let item = item.trim();
            item.parse::<ipnet::IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| item.to_string())
        })
        .collect()
}

/// Prefix of the environment variables that override the file.
pub const ENV_PREFIX: &str = "BAREME_MEL__";
/// Environment variable naming the configuration file.
pub const CONFIG_ENV: &str = "BAREME_MEL_CONFIG";
/// The file read when present and nothing else is named.
pub const DEFAULT_CONFIG_FILE: &str = "bareme-mel.toml";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("fichier de configuration introuvable : {0} (vérifiez --config ou BAREME_MEL_CONFIG)")]
    Missing(PathBuf),
    #[error("configuration invalide : {0}")]
    Invalid(String),
}

impl Settings {
    /// Loads defaults, then `file` (or `BAREME_MEL_CONFIG`, or `./bareme-mel.toml`
    /// when it exists), then the environment.
    pub fn load(file: Option<PathBuf>) -> Result<Self, ConfigError> {
        let named = file.or_else(|| std::env::var_os(CONFIG_ENV).map(PathBuf::from));
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        match named {
            Some(path) if !path.exists() => return Err(ConfigError::Missing(path)),
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None if std::path::Path::new(DEFAULT_CONFIG_FILE).exists() => {
                figment = figment.merge(Toml::file_exact(DEFAULT_CONFIG_FILE))
            }
            None => {}
        }
        figment = figment.merge(Env::prefixed(ENV_PREFIX).split("__"));
        let settings: Settings = figment
            .extract()
            .map_err(|e| ConfigError::Invalid(describe(e)))?;
        settings.check()?;
        Ok(settings)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let url = self.database.url.expose();
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(ConfigError::Invalid(
                "database.url doit commencer par sqlite: ou postgres:// (exemple : postgres://bareme@localhost/bareme)"
                    .into(),
            ));
        }
        if self.server.bind.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigError::Invalid(format!(
                "server.bind « {} » n'est pas une adresse IP:port (exemple : 127.0.0.1:8080)",
                self.server.bind
            )));
        }
        if !(self.server.public_url.starts_with("http://")
            || self.server.public_url.starts_with("https://"))
        {
            return Err(ConfigError::Invalid(
                "server.public_url doit commencer par http:// ou https://".into(),
            ));
        }
        for (key, list) in [
            ("server.trusted_proxies", &self.server.trusted_proxies),
            ("ops.metrics_allow", &self.ops.metrics_allow),
        ] {
            if let Err(bad) = parse_networks(list) {
                return Err(ConfigError::Invalid(format!(
                    "{key} : « {bad} » n'est ni une adresse IP ni un bloc CIDR (exemple : [\"127.0.0.1\", \"10.0.0.0/8\"])"
                )));
            }
        }
        if url::Url::parse(&self.server.public_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .is_none()
        {
            return Err(ConfigError::Invalid(format!(
                "server.public_url « {} » n'est pas une URL (exemple : https://bareme.ac-montpellier.fr)",
                self.server.public_url
            )));
        }
        let threshold = self.intake.ocr.min_confidence;
        if !(0.0..=1.0).contains(&threshold) {
            return Err(ConfigError::Invalid(format!(
                "intake.ocr.min_confidence « {threshold} » doit être entre 0 et 1 (exemple : 0.8)"
            )));
        }
        let forward = self.intake.forward_other_to.trim();
        if !forward.is_empty() && crate::domain::MailAddress::parse(forward).is_err() {
            return Err(ConfigError::Invalid(format!(
                "intake.forward_other_to « {forward} » n'est pas une adresse mél (exemple : dag-secretariat@ac-montpellier.fr), ou laissez-la vide"
            )));
        }
        Ok(())
    }

    /// `server.public_url` without a trailing slash.
    pub fn public_url(&self) -> &str {
        self.server.public_url.trim_end_matches('/')
    }

    /// Where the application key lives.
    pub fn key_file(&self) -> PathBuf {
        if self.security.key_file.as_os_str().is_empty() {
            self.server.data_dir.join("bareme-mel.key")
        } else {
            self.security.key_file.clone()
        }
    }

    /// The proxies whose forwarding headers are believed (checked at load).
    pub fn trusted_proxies(&self) -> Vec<ipnet::IpNet> {
        parse_networks(&self.server.trusted_proxies).unwrap_or_default()
    }

    /// The clients that may read `/metrics` (checked at load).
    pub fn metrics_allow(&self) -> Vec<ipnet::IpNet> {
        parse_networks(&self.ops.metrics_allow).unwrap_or_default()
    }

    /// True for a plain-HTTP local run (cookies cannot be `Secure`).
    pub fn is_plain_http(&self) -> bool {
        self.server.public_url.starts_with("http://")
    }
}

fn describe(err: figment::Error) -> String {
    err.into_iter()
        .map(|e| {
            let path = e.path.join(".");
            match &e.kind {
                figment::error::Kind::UnknownField(field, _) => {
                    let key = if path.is_empty() {
                        field.clone()
                    } else {
                        format!("{path}.{field}")
                    };
                    format!("clé inconnue « {key} » (voir le tableau de configuration du README)")
                }
                _ if path.is_empty() => e.kind.to_string(),
                _ => format!("{path} : {}", e.kind),
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_need_nothing_installed() {
        let s = Settings::default();
        assert_eq!(s.server.bind, "127.0.0.1:8080");
        assert!(s.database.url.expose().starts_with("sqlite://data/"));
        assert_eq!(s.mail.transport, Transport::File);
        assert!(s.approval.four_eyes);
        assert!(s.check().is_ok());
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let mut s = Settings::default();
        s.mail.smtp.password = Secret("hunter2-very-secret".into());
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
