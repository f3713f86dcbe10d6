//! Unprocessed mail: list, view safely (plain text, escaped), turn into a
//! request, attach to one, discard with a reason.

use super::{Chrome, Staff, check_csrf, fail, request_url, see_other};
use crate::{
    backoffice::{
        fmt_date,
        mailview::{self, MessageView},
        quarantine,
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

pub struct QuarantineRow {
    pub id: i64,
    pub received_at: String,
    pub from: String,
    pub subject: String,
    pub reason: String,
}

#[derive(Template)]
#[template(path = "gestion/quarantine_list.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<QuarantineRow>,
}

/// `GET /gestion/quarantaine`.
pub async fn quarantine_list_get(State(state): State<AppState>, staff: Staff) -> Response {
    match quarantine::list(state.db.conn()).await {
        Ok(rows) => render(
            StatusCode::OK,
            &ListPage {
                chrome: staff.chrome(),
                rows: rows
                    .into_iter()
                    .map(|m| QuarantineRow {
                        id: m.id,
                        received_at: fmt_date(m.received_at),
                        from: m.from_address.unwrap_or_default(),
                        subject: m.subject.unwrap_or_default(),
                        reason: m.reason.unwrap_or_default(),
                    })
                    .collect(),
            },
        ),
        Err(e) => fail(e, "/gestion"),
    }
}

#[derive(Template)]
#[template(path = "gestion/quarantine_detail.html")]
struct DetailPage {
    chrome: Chrome,
    message: MessageView,
    open: bool,
}

/// `GET /gestion/quarantaine/{id}`.
pub async fn quarantine_detail_get(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Response {
    let db = state.db.conn();
    let load = async {
        let m = quarantine::find(db, id).await?;
        let open = quarantine::is_open(&m);
        Ok::<_, crate::store::StoreError>((mailview::view(db, m).await?, open))
    };
    match load.await {
        Ok((message, open)) => render(
            StatusCode::OK,
            &DetailPage {
                chrome: staff.chrome(),
                message,
                open,
            },
        ),
        Err(e) => fail(e, "/gestion/quarantaine"),
    }
}

#[derive(Deserialize)]
pub struct QuarantineForm {
    csrf: String,
    #[serde(default)]
    reference: String,
    #[serde(default)]
    motif: String,
}

/// `POST /gestion/quarantaine/{id}/{creer|rattacher|ecarter}`.
pub async fn quarantine_action_post(
    State(state): State<AppState>,
    staff: Staff,
    Path((id, action)): Path<(i64, String)>,
    headers: HeaderMap,
    Form(form): Form<QuarantineForm>,
) -> Response {
    if let Some(r) = check_csrf(&state, &headers, &form.csrf) {
        return r;
    }
    let back = format!("/gestion/quarantaine/{id}");
    let actor = staff.actor();
    let result = match action.as_str() {
        "creer" => quarantine::to_request(&state.db, id, &actor)
            .await
            .map(|r| request_url(&r)),
        "rattacher" => quarantine::attach(&state.db, id, &form.reference, &actor)
            .await
            .map(|r| request_url(&r)),
        "ecarter" => quarantine::discard(&state.db, id, &form.motif, &actor)
            .await
            .map(|()| "/gestion/quarantaine".to_string()),
        _ => Err(crate::store::StoreError::NotFound("action inconnue".into())),
    };
    match result {
        Ok(to) => see_other(&to),
        Err(e) => fail(e, &back),
    }
}
