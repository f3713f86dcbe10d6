//! « Autres courriels »: mail that is not a change request — list, view
//! safely (plain text, escaped), turn into a request, forward, file.

use super::{Chrome, Staff, check_csrf, fail, request_url, see_other};
use crate::{
    backoffice::{
        fmt_date,
        mailview::{self, MessageView},
        other_mail,
    },
    web::{AppState, pages::render},
};
use askama::Template;
use axum::{
    Form,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::Response,
};
use serde::Deserialize;

pub struct OtherRow {
    pub id: i64,
    pub received_at: String,
    pub from: String,
    pub subject: String,
}

#[derive(Template)]
#[template(path = "gestion/other_mail_list.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<OtherRow>,
}

/// `GET /gestion/autres-courriels`.
pub async fn other_list_get(State(state): State<AppState>, staff: Staff) -> Response {
    match other_mail::list_open(state.db.conn()).await {
        Ok(rows) => render(
            StatusCode::OK,
            &ListPage {
                chrome: staff.chrome(),
                rows: rows
                    .into_iter()
                    .map(|m| OtherRow {
                        id: m.id,
                        received_at: fmt_date(m.received_at),
                        from: m.from_address.unwrap_or_default(),
                        subject: m.subject.unwrap_or_default(),
                    })
                    .collect(),
            },
        ),
        Err(e) => fail(e, "/gestion"),
    }
}

#[derive(Template)]
#[template(path = "gestion/other_mail_detail.html")]
struct DetailPage {
    chrome: Chrome,
    message: MessageView,
    open: bool,
    /// Where « Transférer » sends it; empty when forwarding is off.
    forward_to: String,
}

/// `GET /gestion/autres-courriels/{id}`.
pub async fn other_detail_get(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Response {
    let db = state.db.conn();
    let load = async {
        let m = other_mail::find(db, id).await?;
        if !matches!(
            crate::store::inbox::Disposition::parse(&m.disposition),
            Some(
                crate::store::inbox::Disposition::NotARequest
                    | crate::store::inbox::Disposition::RequestCreated
            )
        ) {
            return Err(crate::store::StoreError::NotFound(
                "courriel introuvable parmi les autres courriels".into(),
            ));
        }
        let open = other_mail::is_open(&m);
        Ok::<_, crate::store::StoreError>((mailview::view(db, m).await?, open))
    };
    match load.await {
        Ok((message, open)) => render(
            StatusCode::OK,
            &DetailPage {
                chrome: staff.chrome(),
                message,
                open,
                forward_to: state.settings.intake.forward_other_to.trim().to_string(),
            },
        ),
        Err(e) => fail(e, "/gestion/autres-courriels"),
    }
}

#[derive(Deserialize)]
pub struct OtherForm {
    csrf: String,
}

/// `POST /gestion/autres-courriels/{id}/{demande|transferer|classer}`.
pub async fn other_action_post(
    State(state): State<AppState>,
    staff: Staff,
    Path((id, action)): Path<(i64, String)>,
    headers: HeaderMap,
    Form(form): Form<OtherForm>,
) -> Response {
    if let Some(r) = check_csrf(&state, &headers, &form.csrf) {
        return r;
    }
    let back = format!("/gestion/autres-courriels/{id}");
    let actor = staff.actor();
    let result = match action.as_str() {
        "demande" => other_mail::to_request(&state.db, &state.settings, id, &actor)
            .await
            .map(|r| request_url(&r)),
        "transferer" => other_mail::forward(&state.db, &state.settings, id, &actor)
            .await
            .map(|_| "/gestion/autres-courriels?transfere=1".to_string()),
        "classer" => other_mail::file(&state.db, id, &actor)
            .await
            .map(|()| "/gestion/autres-courriels".to_string()),
        _ => Err(crate::store::StoreError::NotFound("action inconnue".into())),
    };
    match result {
        Ok(to) => see_other(&to),
        Err(e) => fail(e, &back),
    }
}
