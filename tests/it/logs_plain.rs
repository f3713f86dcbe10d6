//! Log lines where operators read them (SPEC §12): Postfix's log when `ingest` runs
//! as a pipe, the journal under systemd. Colour escapes only on a terminal.

use crate::harness::{cmd, run};
use std::os::unix::fs::MetadataExt;

const MAIL: &str = "tests/fixtures/mail/thunderbird-body-flowed.eml";

fn fixture() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(MAIL)
}

#[test]
fn ingest_writing_its_log_into_a_pipe_prints_no_colour_escapes() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cmd(dir.path());
    c.arg("ingest")
        .arg(fixture())
        .env("BAREME_MEL__LOG__LEVEL", "info")
        .env_remove("JOURNAL_STREAM")
        .env_remove("NO_COLOR");
    let r = run(c);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("incoming mail handled"),
        "no log line: {}",
        r.stderr
    );
    assert!(
        !r.stderr.contains('\u{1b}'),
        "escape sequences: {:?}",
        r.stderr
    );
    // Plain text still carries a timestamp of its own (Postfix's log is a file).
    assert!(r.stderr.starts_with("20"), "{:?}", r.stderr);
}

#[test]
fn under_journald_the_log_lines_carry_no_timestamp_of_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stderr.log");
    let file = std::fs::File::create(&log).unwrap();
    let meta = file.metadata().unwrap();
    let mut c = cmd(dir.path());
    c.arg("ingest")
        .arg(fixture())
        .env("BAREME_MEL__LOG__LEVEL", "info")
        // What systemd sets when stderr is connected to the journal.
        .env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()))
        .stderr(file);
    let out = c.output().unwrap();
    assert!(out.status.success());
    let text = std::fs::read_to_string(&log).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("incoming mail handled"))
        .unwrap_or_else(|| panic!("no log line: {text}"));
    assert!(!line.contains('\u{1b}'), "{line:?}");
    assert!(
        line.starts_with(" INFO") || line.starts_with("INFO"),
        "{line:?}"
    );
}
