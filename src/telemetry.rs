//! Logging with `tracing`: human text or JSON lines on stderr, filtered by
//! `log.level` (or `RUST_LOG` when set). Never passwords, tokens or bodies.
//!
//! Where the lines go decides how they look (SPEC §12): colours only when
//! stderr is a terminal (and `NO_COLOR` is unset), so Postfix's log and files
//! get plain text; under systemd, when stderr is the journal
//! (`JOURNAL_STREAM` names it), no timestamp of our own since the journal
//! stamps each line already.

use crate::config::{LogFormat, Settings};
use std::io::IsTerminal;
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
    let colours = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colours)
        .with_target(false);
    let _ = match (settings.log.format, stderr_is_journal()) {
        (LogFormat::Json, _) => builder.json().flatten_event(true).try_init(),
        (LogFormat::Text, true) => builder.without_time().try_init(),
        (LogFormat::Text, false) => builder.try_init(),
    };
}

/// True when systemd connected stderr to the journal: `JOURNAL_STREAM` holds
/// the `device:inode` of that stream, and it is still our stderr (a child
/// whose stderr was redirected inherits the variable but not the stream).
fn stderr_is_journal() -> bool {
    use std::os::{fd::AsFd, unix::fs::MetadataExt};
    let Some(stream) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = stream.to_str().and_then(|s| s.split_once(':')) else {
        return false;
    };
    let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() else {
        return false;
    };
    let Ok(meta) = std::fs::File::from(fd).metadata() else {
        return false;
    };
    dev.parse() == Ok(meta.dev()) && ino.parse() == Ok(meta.ino())
}
