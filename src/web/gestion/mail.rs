//! Incoming mail beyond its plain text: the sanitised HTML version on a page
//! of its own, and attachments, always as downloads.

use super::{Chrome, Staff, fail};
use crate::{
    backoffice::{fmt_date, mailhtml, mailview},
    store::{StoreError, inbox, requests},
    web::{AppState, pages::render},
};
use askama::Template;
use axum::{
    extract::{Path, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

#[derive(Template)]
#[template(path = "gestion/mail_html.html")]
struct MailHtmlPage {
    chrome: Chrome,
    id: i64,
    received_at: String,
    from: String,
    subject: String,
    /// Sanitised by `mailhtml::sanitize`: the only markup from a mail ever rendered.
    html: String,
    back: String,
}

/// `GET /gestion/courriels/{id}/html`: the HTML part, sanitised.
pub async fn mail_html_get(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Response {
    let m = match inbox::find_message(state.db.conn(), id).await {
        Ok(Some(m)) => m,
        Ok(None) => {
            return fail(
                StoreError::NotFound("courriel introuvable".into()),
                "/gestion",
            );
        }
        Err(e) => return fail(e, "/gestion"),
    };
    let back = match m.request_id {
        Some(rid) => match requests::find_by_id(state.db.conn(), rid).await {
            Ok(Some(r)) => super::request_url(&r.reference),
            _ => "/gestion".into(),
        },
        None => format!("/gestion/quarantaine/{}", m.id),
    };
    let Some(html) = m.raw.as_deref().and_then(mailhtml::html_part) else {
        return fail(
            StoreError::NotFound(
                "ce courriel n'a pas de version HTML (ou elle a été purgée)".into(),
            ),
            &back,
        );
    };
    // Parsing and sanitising a large part is CPU work: off the async threads.
    let html = tokio::task::spawn_blocking(move || mailhtml::sanitize(&html))
        .await
        .unwrap_or_default();
    render(
        StatusCode::OK,
        &MailHtmlPage {
            chrome: staff.chrome(),
            id: m.id,
            received_at: fmt_date(m.received_at),
            from: m.from_address.unwrap_or_default(),
            subject: m.subject.unwrap_or_default(),
            html,
            back,
        },
    )
}

/// `GET /gestion/pieces-jointes/{id}`: always a download, never rendered.
pub async fn attachment_get(
    State(state): State<AppState>,
    _staff: Staff,
    Path(id): Path<i64>,
) -> Response {
    match mailview::attachment_bytes(state.db.conn(), id).await {
        Ok((name, bytes)) => {
            let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
                .unwrap_or(HeaderValue::from_static("attachment"));
            (
                [
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/octet-stream"),
                    ),
                    (header::CONTENT_DISPOSITION, disposition),
                    (
                        header::X_CONTENT_TYPE_OPTIONS,
                        HeaderValue::from_static("nosniff"),
                    ),
                    (
                        header::CACHE_CONTROL,
                        HeaderValue::from_static("private, no-store"),
                    ),
                ],
                bytes,
            )
                .into_response()
        }
        Err(e) => fail(e, "/gestion"),
    }
}
