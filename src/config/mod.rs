//! Settings: defaults → optional TOML file → `BAREME_MEL__SECTION__KEY`
//! environment variables. Every key is documented once, in README.md.
//! Unknown keys are refused so that a typo never goes unnoticed.

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};
use std::{fmt, path::PathBuf};

mod intake;
mod mail;
mod ops;
mod policy;
mod security;
mod server;

pub use intake::{Imap, Intake, Ocr};
pub use mail::{Mail, Smtp, TlsMode, Transport};
pub use ops::{Log, LogFormat, Ops};
pub use policy::{Approval, Privacy, Retention};
pub use security::{Security, Tokens};
pub use server::{Database, Server};

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
