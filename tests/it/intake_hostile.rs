//! Hostile mail through the real `bareme-mel ingest` (issue 12): a PDF
//! object-stream bomb stays within the memory budget.

use crate::{harness::cmd, pdf_bomb};
use std::process::Stdio;

/// Runs the program and arguments after it and writes the child's peak
/// resident memory (KiB) to the file named first. It runs in a small
/// process of its own because a child's `ru_maxrss` also counts the
/// resident memory of the process that spawned it (Linux keeps the larger
/// of the two across `exec`): measured straight from this test binary, the
/// figure was the test binary's own size whenever other tests had made it
/// grow (362 MiB in the full suite, 118 MiB when run alone).
const PEAK_RSS_PY: &str = r#"
import os, subprocess, sys
p = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(p.pid, 0)
open(sys.argv[1], "w").write(str(usage.ru_maxrss))
sys.exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
"#;

/// `bareme-mel <args>` in `dir` under [`PEAK_RSS_PY`] (the tools venv's
/// Python, `BAREME_MEL_TEST_PYTHON`), or `None` (skipped) without it.
pub fn measured(dir: &std::path::Path) -> Option<std::process::Command> {
    let python = match std::env::var("BAREME_MEL_TEST_PYTHON") {
        Ok(p) => p,
        Err(e) => return crate::harness::skip_or_fail("BAREME_MEL_TEST_PYTHON", e),
    };
    let c = cmd(dir);
    let mut wrapped = std::process::Command::new(python);
    wrapped
        .current_dir(dir)
        .arg("-c")
        .arg(PEAK_RSS_PY)
        .arg(dir.join("peak-rss.txt"))
        .arg(c.get_program());
    for (k, v) in c.get_envs() {
        match v {
            Some(v) => wrapped.env(k, v),
            None => wrapped.env_remove(k),
        };
    }
    Some(wrapped)
}

/// The exit status and peak RSS (KiB) of a command from [`measured`].
pub fn run_measured(mut c: std::process::Command, dir: &std::path::Path) -> (i32, i64) {
    let status = c.status().expect("run under the peak-RSS wrapper");
    let peak = std::fs::read_to_string(dir.join("peak-rss.txt"))
        .expect("peak-rss.txt")
        .trim()
        .parse()
        .expect("a number of KiB");
    (status.code().unwrap_or(-1), peak)
}

/// `bareme-mel ingest` of `mail` on stdin into a SQLite database in `dir`,
/// output in `dir/stdout.txt` and `dir/stderr.txt`.
pub fn ingest_file(dir: &std::path::Path, mail: &std::path::Path) -> Option<std::process::Command> {
    let mut c = measured(dir)?;
    c.env(
        "BAREME_MEL__DATABASE__URL",
        format!("sqlite://{}/db.sqlite?mode=rwc", dir.display()),
    )
    .arg("ingest")
    .stdin(Stdio::from(std::fs::File::open(mail).unwrap()))
    .stdout(Stdio::from(
        std::fs::File::create(dir.join("stdout.txt")).unwrap(),
    ))
    .stderr(Stdio::from(
        std::fs::File::create(dir.join("stderr.txt")).unwrap(),
    ));
    Some(c)
}

#[test]
fn an_object_stream_bomb_is_ingested_within_300_mb() {
    let dir = tempfile::tempdir().unwrap();
    let pdf = pdf_bomb::object_stream_bomb(250, 7 * 1024 * 1024);
    assert!(pdf.len() < 2_500_000, "bomb of {} bytes", pdf.len());
    let path = dir.path().join("bomb.eml");
    let mail = pdf_bomb::mail_with_pdf(crate::intake_support::SENDER, "bomb@test", &pdf);
    std::fs::write(&path, mail).unwrap();
    let Some(c) = ingest_file(dir.path(), &path) else {
        return;
    };
    let (code, peak_kib) = run_measured(c, dir.path());
    let stdout = std::fs::read_to_string(dir.path().join("stdout.txt")).unwrap();
    let stderr = std::fs::read_to_string(dir.path().join("stderr.txt")).unwrap();
    eprintln!("object-stream bomb: peak RSS {} MiB", peak_kib / 1024);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        // The mail says nothing but carries the refused PDF: recorded, and filed
        // as a request, in quarantine or (since the triage) among « Autres courriels ».
        stdout.starts_with("request_created ")
            || stdout.starts_with("quarantined ")
            || stdout.starts_with("not_a_request "),
        "{stdout}"
    );
    assert!(peak_kib <= 300 * 1024, "peak RSS {} MiB", peak_kib / 1024);
}
