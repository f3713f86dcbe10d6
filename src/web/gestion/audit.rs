//! The audit log: the newest events on a page, the whole log as CSV.

use super::{Chrome, Staff, fail};
use crate::{
    backoffice::{csv, fmt_date},
    store::audit,
    web::{AppState, pages::render},
};
use askama::Template;
use axum::{
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};

pub struct EventRow {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub about: String,
    pub change: String,
    pub reason: String,
}

#[derive(Template)]
#[template(path = "gestion/audit.html")]
struct AuditPage {
    chrome: Chrome,
    rows: Vec<EventRow>,
    chain_ok: Option<bool>,
    problem: String,
}

fn about(e: &audit::Event) -> String {
    match (&e.request_id, &e.subject) {
        (Some(id), _) => format!("demande n°{id}"),
        (None, Some(s)) => s.clone(),
        _ => String::new(),
    }
}

/// `GET /gestion/journal`: the 200 newest events and the state of the chain.
pub async fn audit_log_get(State(state): State<AppState>, staff: Staff) -> Response {
    let db = state.db.conn();
    let (events, check) = match tokio::try_join!(audit::recent(db, 200), audit::verify(db)) {
        Ok(v) => v,
        Err(e) => return fail(e, "/gestion"),
    };
    render(
        StatusCode::OK,
        &AuditPage {
            chrome: staff.chrome(),
            chain_ok: Some(check.problem.is_none()),
            problem: check.problem.unwrap_or_default(),
            rows: events
                .iter()
                .map(|e| EventRow {
                    seq: e.seq,
                    at: fmt_date(e.at),
                    actor: e.actor.clone(),
                    action: e.action.clone(),
                    about: about(e),
                    change: match (&e.from_state, &e.to_state) {
                        (Some(f), Some(t)) => format!("{f} → {t}"),
                        (None, Some(t)) => t.clone(),
                        _ => String::new(),
                    },
                    reason: e.reason.clone().unwrap_or_default(),
                })
                .collect(),
        },
    )
}

/// `GET /gestion/journal.csv`: the newest 100 000 events, formula prefixes escaped.
pub async fn audit_csv_get(State(state): State<AppState>, _staff: Staff) -> Response {
    let events = match audit::recent(state.db.conn(), 100_000).await {
        Ok(v) => v,
        Err(e) => return fail(e, "/gestion/journal"),
    };
    let body = csv::write(
        &[
            "seq", "date", "acteur", "action", "objet", "de", "vers", "motif",
        ],
        events.iter().map(|e| {
            vec![
                e.seq.to_string(),
                e.at.to_rfc3339(),
                e.actor.clone(),
                e.action.clone(),
                about(e),
                e.from_state.clone().unwrap_or_default(),
                e.to_state.clone().unwrap_or_default(),
                e.reason.clone().unwrap_or_default(),
            ]
        }),
    );
    match body {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"journal.csv\"",
                ),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => fail(
            crate::store::StoreError::Invalid(e.to_string()),
            "/gestion/journal",
        ),
    }
}
