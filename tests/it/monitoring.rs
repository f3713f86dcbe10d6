//! Monitoring (SPEC §12): the gauges the Prometheus rules need, the
//! exposition accepted by `promtool check metrics`, and the rules file
//! checked and unit-tested by `promtool`.

use crate::{
    harness::{TestDb, skip_or_fail},
    intake_support::{ingest, mail},
};
use bareme_mel::{
    config::Settings,
    store::requests::{self, Actor, NewRequest},
};
use sea_orm::ConnectionTrait;
use std::{path::PathBuf, process::Command};

/// `promtool`: `$BAREME_MEL_TEST_PROMTOOL`, else `.tools/bin/promtool` (scripts/services/install.sh).
fn promtool() -> Option<PathBuf> {
    let candidate = std::env::var_os("BAREME_MEL_TEST_PROMTOOL")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".tools/bin/promtool"));
    match Command::new(&candidate).arg("--version").output() {
        Ok(o) if o.status.success() => Some(candidate),
        Ok(o) => skip_or_fail("promtool", String::from_utf8_lossy(&o.stderr)),
        Err(e) => skip_or_fail("promtool", format!("{}: {e}", candidate.display())),
    }
}

fn value_of(body: &str, series: &str) -> f64 {
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {series} in {body}"))
}

#[tokio::test]
async fn metrics_give_the_age_of_the_oldest_open_request_and_the_last_mail_received() {
    let t = TestDb::sqlite().await;
    requests::create(&t.db, NewRequest::default(), &Actor::System)
        .await
        .unwrap();
    let three_days_ago = chrono::Utc::now() - chrono::Duration::days(3);
    t.db.conn()
        .execute_unprepared(&format!(
            "UPDATE change_requests SET created_at = '{}'",
            three_days_ago.format("%Y-%m-%d %H:%M:%S%.f+00:00")
        ))
        .await
        .unwrap();
    ingest(&t.db, &mail("x@example.org", "Bonjour", "", "Bonjour")).await;
    let base = crate::harness::spawn_app(Settings::default(), t.db.clone())
        .await
        .base;
    let body = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let age = value_of(
        &body,
        "bareme_mel_oldest_open_request_age_seconds{state=\"pending_review\"}",
    );
    assert!((259_000.0..260_000.0).contains(&age), "{age}");
    let last = value_of(&body, "bareme_mel_last_inbound_message_timestamp_seconds");
    let now = chrono::Utc::now().timestamp() as f64;
    assert!((now - 120.0..=now + 1.0).contains(&last), "{last} vs {now}");

    let Some(promtool) = promtool() else { return };
    let (ok, out) = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .output_with_stdin(body.as_bytes());
    assert!(ok, "promtool check metrics: {out}");
}

#[test]
fn the_prometheus_rules_pass_promtool_check_and_their_unit_tests() {
    let Some(promtool) = promtool() else { return };
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("packaging/prometheus");
    for args in [
        ["check", "rules", "bareme-mel.rules.yml"],
        ["test", "rules", "bareme-mel.rules.test.yml"],
    ] {
        let out = Command::new(&promtool)
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Runs a command with `input` on stdin: (success, stdout + stderr).
trait WithStdin {
    fn output_with_stdin(&mut self, input: &[u8]) -> (bool, String);
}

impl WithStdin for Command {
    fn output_with_stdin(&mut self, input: &[u8]) -> (bool, String) {
        use std::io::Write;
        let mut child = self
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }
}
