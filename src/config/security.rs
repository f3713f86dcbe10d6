//! `[security]` and `[tokens]`: the application key and the lifetimes of links.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Secrets kept outside the database.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Security {
    /// The application key file (32 bytes, mode 0600, created on first run);
    /// empty: `bareme-mel.key` in `server.data_dir`.
    pub key_file: PathBuf,
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
