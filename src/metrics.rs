//! Prometheus text exposition: process counters plus gauges read from the
//! database at scrape time (requests per state, outbox and inbox backlogs,
//! the age of the oldest open request per state, the time of the last mail
//! received) — what the rules of `packaging/prometheus/` alert on.

use crate::store::{Db, StoreError, requests, stats};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Metrics {
    http: [AtomicU64; 5],
    /// Whether scanned forms can be read (Tesseract with its language),
    /// found once: at start-up by `serve`, else at the first scrape.
    ocr_available: std::sync::OnceLock<bool>,
}

impl Metrics {
    /// Records whether OCR is available (the first answer stays).
    pub fn set_ocr_available(&self, available: bool) {
        let _ = self.ocr_available.set(available);
    }

    /// Whether OCR is available, when known.
    pub fn ocr_available(&self) -> Option<bool> {
        self.ocr_available.get().copied()
    }

    pub fn record_http(&self, status: u16) {
        let class = usize::from((status / 100).clamp(1, 5)) - 1;
        self.http[class].fetch_add(1, Ordering::Relaxed);
    }

    pub async fn render(&self, db: &Db) -> Result<String, StoreError> {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP bareme_mel_http_responses_total HTTP responses by status class."
        );
        let _ = writeln!(out, "# TYPE bareme_mel_http_responses_total counter");
        for (i, c) in self.http.iter().enumerate() {
            let _ = writeln!(
                out,
                "bareme_mel_http_responses_total{{class=\"{}xx\"}} {}",
                i + 1,
                c.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(out, "# HELP bareme_mel_requests Change requests by state.");
        let _ = writeln!(out, "# TYPE bareme_mel_requests gauge");
        for (state, n) in requests::counts(db.conn()).await? {
            let _ = writeln!(
                out,
                "bareme_mel_requests{{state=\"{}\"}} {n}",
                state.as_str()
            );
        }
        for (column, metric, help, rows) in [
            (
                "state",
                "bareme_mel_outbox_mails",
                "Outgoing mails by state.",
                stats::outbox_by_state(db).await?,
            ),
            (
                "disposition",
                "bareme_mel_inbound_messages",
                "Incoming mails by disposition.",
                stats::inbox_by_disposition(db).await?,
            ),
        ] {
            let _ = writeln!(out, "# HELP {metric} {help}");
            let _ = writeln!(out, "# TYPE {metric} gauge");
            for (key, n) in rows {
                let _ = writeln!(out, "{metric}{{{column}=\"{key}\"}} {n}");
            }
        }
        if let Some(available) = self.ocr_available() {
            let _ = writeln!(
                out,
                "# HELP bareme_mel_ocr_available Whether scanned forms can be read (1: Tesseract, its language and pdftoppm found)."
            );
            let _ = writeln!(out, "# TYPE bareme_mel_ocr_available gauge");
            let _ = writeln!(out, "bareme_mel_ocr_available {}", u8::from(available));
        }
        render_ages(db, &mut out).await?;
        Ok(out)
    }
}

/// The oldest open request of each state and the last mail received.
async fn render_ages(db: &Db, out: &mut String) -> Result<(), StoreError> {
    use crate::domain::RequestState;
    let now = chrono::Utc::now();
    let _ = writeln!(
        out,
        "# HELP bareme_mel_oldest_open_request_age_seconds Age of the oldest request in each open state."
    );
    let _ = writeln!(
        out,
        "# TYPE bareme_mel_oldest_open_request_age_seconds gauge"
    );
    for state in RequestState::ALL.into_iter().filter(|s| !s.is_final()) {
        let oldest = stats::oldest_request_in(db, state).await?;
        if let Some(created_at) = oldest {
            let age = (now - created_at).num_seconds().max(0);
            let _ = writeln!(
                out,
                "bareme_mel_oldest_open_request_age_seconds{{state=\"{}\"}} {age}",
                state.as_str()
            );
        }
    }
    let last = stats::last_inbound_at(db).await?;
    if let Some(received_at) = last {
        let _ = writeln!(
            out,
            "# HELP bareme_mel_last_inbound_message_timestamp_seconds When the last incoming mail was recorded (Unix time)."
        );
        let _ = writeln!(
            out,
            "# TYPE bareme_mel_last_inbound_message_timestamp_seconds gauge"
        );
        let _ = writeln!(
            out,
            "bareme_mel_last_inbound_message_timestamp_seconds {}",
            received_at.timestamp()
        );
    }
    Ok(())
}
