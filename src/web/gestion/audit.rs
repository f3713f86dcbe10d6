//! The audit log: the newest events on a page, the whole log as CSV.

use super::{Chrome, Staff, fail};
use crate::{
    backoffice::{csv, fmt_date, queue::staff_names_by_username},
    store::audit,
    vocabulary,
    web::{AppState, pages::render},
};
use askama::Template;
use axum::{
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use std::collections::HashMap;

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

fn about(e: &audit::Event, names: &HashMap<String, String>) -> String {
    match (&e.request_id, &e.subject) {
        (Some(id), _) => format!("demande n°{id}"),
        (None, Some(s)) => vocabulary::actor_label(s, names),
        _ => String::new(),
    }
}

fn change(e: &audit::Event) -> String {
    match (&e.from_state, &e.to_state) {
        (Some(f), Some(t)) => format!(
            "{} → {}",
            vocabulary::state_label(f),
            vocabulary::state_label(t)
        ),
        (None, Some(t)) => vocabulary::state_label(t),
        _ => String::new(),
    }
}

/// `GET /gestion/journal`: the 200 newest events and the state of the chain.
pub async fn audit_log_get(State(state): State<AppState>, staff: Staff) -> Response {
    let db = state.db.conn();
    let (events, check, names) = match tokio::try_join!(
        audit::recent(db, 200),
        audit::verify(db),
        staff_names_by_username(db)
    ) {
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
                    actor: vocabulary::actor_label(&e.actor, &names),
                    action: vocabulary::action_label(&e.action),
                    about: about(e, &names),
                    change: change(e),
                    reason: e.reason.clone().unwrap_or_default(),
                })
                .collect(),
        },
    )
}

/// `GET /gestion/journal.csv`: the newest 100 000 events, formula prefixes escaped.
pub async fn audit_csv_get(State(state): State<AppState>, _staff: Staff) -> Response {
    let db = state.db.conn();
    let (events, names) =
        match tokio::try_join!(audit::recent(db, 100_000), staff_names_by_username(db)) {
            Ok(v) => v,
            Err(e) => return fail(e, "/gestion/journal"),
        };
    let body = csv::write(
        &[
            "N°",
            "Date (heure de Paris)",
            "Qui",
            "Action",
            "Objet",
            "De",
            "Vers",
            "Motif",
        ],
        events.iter().map(|e| {
            vec![
                e.seq.to_string(),
                vocabulary::spreadsheet(e.at),
                vocabulary::actor_label(&e.actor, &names),
                vocabulary::action_label(&e.action),
                about(e, &names),
                e.from_state
                    .as_deref()
                    .map(vocabulary::state_label)
                    .unwrap_or_default(),
                e.to_state
                    .as_deref()
                    .map(vocabulary::state_label)
                    .unwrap_or_default(),
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
