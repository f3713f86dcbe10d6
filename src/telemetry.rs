//! Logging with `tracing`: human text or JSON lines on stderr, filtered by
//! `log.level` (or `RUST_LOG` when set). Never passwords, tokens or bodies.

use crate::config::{LogFormat, Settings};
use tracing_subscriber::{EnvFilter, fmt};

pub fn init(settings: &Settings) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        // The migrator announces every run at info level: keep that out of CLI output.
        .or_else(|| {
            EnvFilter::try_new(format!(
                "{},{}",
                settings.log.level,
                crate::store::QUIET_LOGS
            ))
            .ok()
        })
        .unwrap_or_else(|| EnvFilter::new("info"));
    let builder = fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match settings.log.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
