//! Subscribers: search, one record with its address history and requests.
//! Staff never see or set a password here.

use super::{Chrome, Staff, fail};
use crate::{
    backoffice::{directory, fmt_date},
    domain::RequestState,
    web::{AppState, pages::render},
};
use askama::Template;
use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::Response,
};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
}

#[derive(Template)]
#[template(path = "gestion/subscribers.html")]
struct SubscribersPage {
    chrome: Chrome,
    q: String,
    rows: Vec<(String, String, String)>,
}

/// `GET /gestion/abonnes?q=`.
pub async fn subscribers_get(
    State(state): State<AppState>,
    staff: Staff,
    Query(query): Query<SearchQuery>,
) -> Response {
    match directory::search(state.db.conn(), &query.q).await {
        Ok(rows) => render(
            StatusCode::OK,
            &SubscribersPage {
                chrome: staff.chrome(),
                q: query.q,
                rows: rows
                    .into_iter()
                    .map(|s| (s.number, s.organisation, s.email.unwrap_or_default()))
                    .collect(),
            },
        ),
        Err(e) => fail(e, "/gestion/abonnes"),
    }
}

#[derive(Template)]
#[template(path = "gestion/subscriber.html")]
struct SubscriberPage {
    chrome: Chrome,
    number: String,
    organisation: String,
    manager: String,
    email: String,
    history: Vec<(String, String, String, String)>,
    requests: Vec<(String, &'static str, String)>,
}

/// `GET /gestion/abonnes/{number}`.
pub async fn subscriber_detail_get(
    State(state): State<AppState>,
    staff: Staff,
    Path(number): Path<String>,
) -> Response {
    let (sub, history, requests) = match directory::record(state.db.conn(), &number).await {
        Ok(v) => v,
        Err(e) => return fail(e, "/gestion/abonnes"),
    };
    render(
        StatusCode::OK,
        &SubscriberPage {
            chrome: staff.chrome(),
            number: sub.number,
            organisation: sub.organisation,
            manager: sub.manager_name.unwrap_or_default(),
            email: sub.email.unwrap_or_default(),
            history: history
                .into_iter()
                .map(|h| {
                    (
                        h.email.unwrap_or_else(|| "(aucune)".into()),
                        fmt_date(h.valid_from),
                        h.valid_to
                            .map(fmt_date)
                            .unwrap_or_else(|| "en vigueur".into()),
                        h.source,
                    )
                })
                .collect(),
            requests: requests
                .into_iter()
                .map(|r| {
                    let label = RequestState::parse(&r.state)
                        .map(RequestState::label)
                        .unwrap_or("?");
                    (r.reference, label, fmt_date(r.created_at))
                })
                .collect(),
        },
    )
}
