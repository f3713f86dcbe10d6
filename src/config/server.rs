//! `[server]` and `[database]`: where the service listens, lives and stores.

use super::Secret;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

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
