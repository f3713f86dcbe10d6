//! `[log]` and `[ops]`: logging and operations endpoints.

use serde::{Deserialize, Serialize};

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
